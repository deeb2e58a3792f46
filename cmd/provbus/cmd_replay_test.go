package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
	"github.com/parquet-go/parquet-go"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// TestReplayBinaryFormats runs `provbus replay --format parquet|avro --out`
// through the command table and reads the files back.
func TestReplayBinaryFormats(t *testing.T) {
	ctx := context.Background()
	ec := embeddedtest.Start(t, 0)
	const src = "portabilling.account"
	ec.Create(t, 2, src)
	ec.Use(t, src)
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	var want []string
	for i := int64(0); i < 5; i++ {
		id := "e" + string(rune('0'+i))
		a := 100 + i
		r, err := records.Event(ec.Codec, src, strconv.FormatInt(a, 10), &schemas.Event{EventID: id, Source: "portabilling", EventType: "Account/New",
			Origin: schemas.OriginDirect, IAccount: &a, OccurredAt: at, ReceivedAt: at, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ec.Client.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	dir := t.TempDir()
	base := []string{"replay", "--topic", src, "--from", "-1d", "--quiet", "--brokers", ec.Brokers()[0], "--registry", ec.RegistryURL()}

	pq := filepath.Join(dir, "w.parquet")
	if code, _, errs := capture(t, append(base, "--format", "parquet", "--out", pq)...); code != 0 {
		t.Fatalf("replay parquet: exit %d\n%s", code, errs)
	}
	f, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	rows := parquet.NewGenericReader[struct {
		EventID string `parquet:"event_id"`
	}](pf)
	buf := make([]struct {
		EventID string `parquet:"event_id"`
	}, 10)
	n, _ := rows.Read(buf)
	for _, r := range buf[:n] {
		got = append(got, r.EventID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("parquet event ids %v, want %v", got, want)
	}

	av := filepath.Join(dir, "w.avro")
	if code, _, errs := capture(t, append(base, "--format", "avro", "--out", av)...); code != 0 {
		t.Fatalf("replay avro: exit %d\n%s", code, errs)
	}
	af, err := os.Open(av)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	dec, err := ocf.NewDecoder(af)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for dec.HasNext() {
		var ev schemas.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.EventID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("avro event ids %v, want %v", got, want)
	}
}
