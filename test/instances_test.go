package test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// twoInstallations has the default ESPF installation and a named one,
// "eu", each with its own credentials.
const twoInstallations = `ingest:
  auth:
    portabilling:
      username: espf
      password: espf-password
      instances:
        - {name: eu, username: espf-eu, password: eu-password}
`

// Issue 12 #5: ESPF's i_event is unique only inside one installation.
// Two installations sending the same i_event both reach their handlers;
// one installation sending it twice reaches them once. The twin is the
// traffic of before instances: a second installation sharing the default
// credentials collides with the first in de-duplication and is lost,
// which the same checker must see.
func TestInstancesRouteApart(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, twoInstallations)
	_, base := p.startIngest()
	p.startProcess()
	basic := func(user, pass string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	}
	dflt, eu := basic("espf", "espf-password"), basic("espf-eu", "eu-password")
	send := func(id string, account int, cred []string) {
		t.Helper()
		code, _, b, err := post(base, "portabilling", espf("Account/Blocked", id, fmt.Sprintf(`"i_account":%d`, account)), cred...)
		if err != nil || code != 200 {
			t.Fatalf("post %s: %d %v %s", id, code, err, b)
		}
	}
	send("1001", 31, dflt) // installation A
	send("1001", 77, eu)   // installation eu: same i_event, another account
	send("1001", 77, eu)   // eu's webhook retry
	send("2002", 31, dflt) // the twin: installation B still on the
	send("2002", 88, dflt) // default credentials collides with A
	send("9999", 31, dflt) // sentinel: after it, everything before is routed

	ev := schemas.Event{EventID: "x", EventType: "Account/Blocked", Origin: schemas.OriginDirect}
	hs, err := p.router.Targets(&ev)
	if err != nil || len(hs) == 0 {
		t.Fatalf("Account/Blocked routes nowhere: %v", err)
	}
	topic := hs[0].Topic
	got := readUntil(t, p.brokers, p.codec, topic, "9999", 90*time.Second)

	// Per id, the accounts it reached.
	reached := map[string][]int64{}
	for _, e := range got {
		reached[e.EventID] = append(reached[e.EventID], *e.IAccount)
	}
	report(t, "same i_event from two ESPF installations (default + eu), eu retried once; twin: a second installation on the default credentials",
		fmt.Sprintf("%s: 1001 → %v, eu:1001 → %v, 2002 → %v", topic, reached["1001"], reached["eu:1001"], reached["2002"]))
	if len(reached["1001"]) != 1 || len(reached["eu:1001"]) != 1 || reached["eu:1001"][0] != 77 {
		t.Errorf("want 1001 and eu:1001 each once (eu's retry de-duplicated), got %v", reached)
	}
	// The twin: without an instance the second installation's event is
	// taken for a retry of the first and never reaches the handler.
	if len(reached["2002"]) != 1 || reached["2002"][0] != 31 {
		t.Errorf("twin: want the colliding 2002 to reach once (account 31 only), got %v — the checker cannot see a collision", reached["2002"])
	}
}

// readUntil reads topic from the start under read_committed until the
// event sentinel arrives, and returns every event before it. The
// pipeline's single partition makes "before" mean "routed before".
func readUntil(t *testing.T, brokers string, codec *schemas.Codec, topic, sentinel string, within time.Duration) []schemas.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []schemas.Event
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("sentinel %s not on %s within %v (%d events read)", sentinel, topic, within, len(out))
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			var ev schemas.Event
			if _, err := codec.Decode(ctx, r.Value, &ev); err != nil {
				t.Fatalf("decode %s@%d: %v", r.Topic, r.Offset, err)
			}
			if ev.EventID == sentinel {
				done = true
			}
			if !done {
				out = append(out, ev)
			}
		})
		if done {
			return out
		}
	}
}
