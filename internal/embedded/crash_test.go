package embedded

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashedDir leaves a data directory as a kill -9 in the middle of a
// transaction would: it copies a running cluster's directory (kfake writes
// each batch straight to its segment files, and the running marker is
// there because Close never ran). It returns the copy, the topic and the
// transactional id.
func crashedDir(t *testing.T) (dir, topic, txid string) {
	t.Helper()
	ctx := context.Background()
	live := t.TempDir()
	topic, txid = "embedded.crash."+suffix(), "embedded-crash-"+suffix()
	c := start(t, live)
	txn := client(t, c, kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	if resp, err := kadm.NewClient(txn).CreateTopic(ctx, 1, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("CreateTopic: %v / %v", err, resp.Err)
	}
	produceTxn(t, txn, "before-crash", true)
	produceTxn(t, txn, "in-flight", false)
	dir = t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(live)); err != nil {
		t.Fatalf("copy data dir: %v", err)
	}
	return dir, topic, txid
}

func produceTxn(t *testing.T, cl *kgo.Client, value string, commit bool) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", value, err)
	}
	if commit {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("commit %s: %v", value, err)
		}
	}
}

// afterCrash restarts on a crashed dir, commits one more transaction with
// the crashed producer's transactional id (what a restarted processor
// does), and returns what read_committed then sees.
func afterCrash(t *testing.T, dir, topic, txid string) []string {
	t.Helper()
	c := start(t, dir)
	txn := client(t, c, kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	produceTxn(t, txn, "after-crash", true)

	// The commit marker of "after-crash" is the last offset: once the
	// consumer is past it, it has seen all it ever will.
	end, err := kadm.NewClient(client(t, c)).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	e, _ := end.Lookup(topic, 0)
	cl := client(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for done := false; !done && ctx.Err() == nil; {
		for _, r := range cl.PollFetches(ctx).Records() {
			if r.Offset+1 >= e.Offset {
				done = true
			}
			if !r.Attrs.IsControl() {
				got = append(got, string(r.Value))
			}
		}
	}
	return got
}

func TestCrashMidTransactionIsRepaired(t *testing.T) {
	dir, topic, txid := crashedDir(t)
	got := afterCrash(t, dir, topic, txid)
	if want := []string{"before-crash", "after-crash"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed after a crash: %v, want %v", got, want)
	}
}

// The twin: without the repair (no running marker, so Start believes the
// last run closed cleanly) kfake alone loses the post-crash commit. If this
// starts failing, kfake writes the abort marker itself and repair.go can go.
func TestCrashMidTransactionWithoutRepairLosesCommits(t *testing.T) {
	dir, topic, txid := crashedDir(t)
	if err := os.Remove(filepath.Join(dir, runningMarker)); err != nil {
		t.Fatalf("remove running marker: %v", err)
	}
	got := afterCrash(t, dir, topic, txid)
	if want := []string{"before-crash"}; !slices.Equal(got, want) {
		t.Fatalf("kfake without repair: read_committed saw %v, expected the known loss %v", got, want)
	}
}
