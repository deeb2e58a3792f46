package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// ErrCoPartitioning is returned by Run when topics that must be
// co-partitioned have different partition counts.
var ErrCoPartitioning = errors.New("topics are not co-partitioned")

// checkTopics reads the partition count of every topic the processor
// touches, refuses missing topics, and refuses to start when topics that
// must share partition numbers disagree: restoring partition p of a
// changelog for input partition p is only right when both count alike.
func checkTopics(ctx context.Context, adm *kadm.Client, spec Spec, ns topology.Namespace) (map[string]int32, int32, error) {
	all := map[string]bool{ns.Topic(schemas.DLQTopic): true}
	var co []string
	for _, in := range spec.Inputs {
		all[in.Topic] = true
		co = append(co, in.Topic)
	}
	for _, t := range spec.Tables {
		all[t.Changelog] = true
		co = append(co, t.Changelog)
	}
	for _, t := range spec.Outputs {
		all[t] = true
	}
	for _, t := range spec.CoPartitioned {
		all[t] = true
		co = append(co, t)
	}
	names := make([]string, 0, len(all))
	for t := range all {
		names = append(names, t)
	}
	sort.Strings(names)
	md, err := adm.Metadata(ctx, names...)
	if err != nil {
		return nil, 0, fmt.Errorf("stream: metadata of %s: %w", strings.Join(names, ", "), err)
	}
	parts := make(map[string]int32, len(names))
	var missing []string
	for _, t := range names {
		d, ok := md.Topics[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			missing = append(missing, t)
			continue
		}
		parts[t] = int32(len(d.Partitions))
	}
	if len(missing) > 0 {
		return nil, 0, fmt.Errorf("stream: group %s: topics missing: %s (create them with `provbus topology apply`)",
			spec.Group, strings.Join(missing, ", "))
	}
	n := parts[co[0]]
	var bad []string
	for _, t := range co {
		if parts[t] != n {
			bad = append(bad, fmt.Sprintf("%s=%d", t, parts[t]))
		}
	}
	if len(bad) > 0 {
		return nil, 0, fmt.Errorf("%w: group %s needs %s all with the same partition count, but %s=%d, %s; "+
			"fix: give them all the same count (topics.partitions) — recreate the changelog/state topics with that count "+
			"and let the processor restore, or repartition the inputs", ErrCoPartitioning, spec.Group,
			strings.Join(co, ", "), co[0], n, strings.Join(bad, ", "))
	}
	return parts, n, nil
}
