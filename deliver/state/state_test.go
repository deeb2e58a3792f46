package state

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
)

// ReadToEnd ends on reaching the end offsets taken at its start, with
// empty partitions, and a record written meanwhile is not waited for.
func TestReadToEndStopsAtTheEndOffsets(t *testing.T) {
	c := embeddedtest.Start(t, 3)
	c.Create(t, 3, "st")
	ctx := context.Background()
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "st", Partition: int32(i % 2), Key: []byte{byte('a' + i)}, Value: []byte("v")})
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	kopts := []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}
	n := 0
	ends, err := ReadToEnd(ctx, kopts, "st", nil, func(*kgo.Record) { n++ })
	if err != nil || n != 10 || ends[0] != 5 || ends[1] != 5 || ends[2] != 0 {
		t.Fatalf("ReadToEnd: %d records, ends %v, %v", n, ends, err)
	}
	n = 0
	if _, err := ReadToEnd(ctx, kopts, "st", []int32{1}, func(r *kgo.Record) {
		if r.Partition != 1 {
			t.Errorf("read partition %d", r.Partition)
		}
		n++
	}); err != nil || n != 5 {
		t.Fatalf("partition 1: %d records, %v", n, err)
	}
	n = 0
	if _, err := ReadSince(ctx, kopts, "st", nil, time.Now().Add(time.Hour), func(*kgo.Record) { n++ }); err != nil || n != 0 {
		t.Fatalf("since the future: %d records, %v", n, err)
	}
}

func TestRowAndControlRoundTrip(t *testing.T) {
	r := &Row{Handler: "Huawei::PCRF", Partition: 3, Offset: 42, Key: "11", Value: []byte{0, 1, 2}, Attempt: 4, NextAt: time.Unix(100, 0).UTC()}
	got, err := DecodeRow(r.Encode())
	if err != nil || got.Offset != 42 || string(got.Value) != string(r.Value) || !got.NextAt.Equal(r.NextAt) {
		t.Fatalf("row round trip: %+v, %v", got, err)
	}
	if k := PendingKey("Huawei::PCRF", 3, 42); k != "huawei-pcrf/3/42" || !OfHandler(k, "Huawei::PCRF") || OfHandler(k, "Huawei::HSS") {
		t.Fatalf("PendingKey = %s", k)
	}
	if !IsOp(OpKey("IPTV", "x"), "IPTV") || IsOp(PauseKey("IPTV"), "IPTV") {
		t.Fatal("op keys")
	}
}
