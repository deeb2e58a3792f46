package stream

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// ReasonMalformedChangelog is the DLQ reason of a changelog record a
// Table's Apply refused.
const ReasonMalformedChangelog = "malformed_changelog"

// malformedSendTimeout bounds the DLQ copy of a malformed changelog record:
// a restore or a tail must not hang on it.
const malformedSendTimeout = 10 * time.Second

// malformed is the one rule for a changelog record a Table's Apply refuses,
// the same while restoring and while tailing: the record is skipped (the
// table keeps what it had; failing the restore instead would stop the
// processor for good, since a compacted changelog keeps the record), it
// is logged and counted in provbus_dlq_records_total{reason=
// "malformed_changelog"}, and a copy goes to provbus.dlq with the reason
// and the changelog's topic, partition and offset in the headers. Restores
// after a rebalance or an abort read the record again: it is copied and
// counted once per process (up to maxMalformedSeen records remembered).
// The copy is produced outside any transaction, since restores and tails
// run outside them; a crash right after it may copy it again at the next
// start.
//
// rec carries its physical topic name.
func (r *Runner) malformed(rec *kgo.Record, cause error) {
	k := malformedKey{partKey{rec.Topic, rec.Partition}, rec.Offset}
	r.malformedMu.Lock()
	seen := r.malformedSeen[k]
	if !seen {
		if len(r.malformedSeen) >= maxMalformedSeen {
			clear(r.malformedSeen) // bounded: at worst a record is copied again
		}
		r.malformedSeen[k] = true
	}
	r.malformedMu.Unlock()
	if seen {
		return // restored again after a rebalance or an abort: already copied
	}
	r.log.Error("malformed changelog record skipped and copied to the DLQ", zap.String("topic", rec.Topic),
		zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset), zap.Error(cause))
	r.metrics.DLQ(ReasonMalformedChangelog, rec.Topic).Inc()
	if r.admCl == nil {
		return
	}
	dlq := records.DLQ(rec, r.spec.Group, ReasonMalformedChangelog, cause, time.Now().UTC().Format(time.RFC3339))
	dlq.Topic = r.ns.Topic(schemas.DLQTopic)
	ctx, cancel := context.WithTimeout(context.Background(), malformedSendTimeout)
	defer cancel()
	if err := r.admCl.ProduceSync(ctx, dlq).FirstErr(); err != nil {
		r.log.Error("copy of a malformed changelog record to the DLQ failed", zap.String("topic", rec.Topic),
			zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset), zap.Error(err))
	}
}

// maxMalformedSeen bounds the memory of copied malformed records.
const maxMalformedSeen = 10_000

type malformedKey struct {
	partKey
	offset int64
}
