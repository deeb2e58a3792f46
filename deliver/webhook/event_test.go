package webhook

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
)

// TestEventBodyLikeEncodingJSON: the body written straight from the event
// is, byte for byte, what encoding/json writes for NewBody's Body (the
// encoder it replaced), over random events: every typed id present or
// not, strings with every character JSON escapes, attributes past the sort
// buffer, payloads that are and are not JSON, times in other zones and
// with nanoseconds, with and without state. The one intended difference:
// data is compacted but not HTML-escaped, so the payloads carry no <, >
// or &; a payload that is not JSON goes as a string.
func TestEventBodyLikeEncodingJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2, 13))
	gen := newEventGen(rnd)
	for i := range 3000 {
		ev := gen.event(i)
		var state json.RawMessage
		if rnd.IntN(2) == 0 {
			state = json.RawMessage(`{"customer": {"i_customer": 7}, "closed": false}`)
		}
		key, attempt := gen.str(), rnd.IntN(200)-1
		prefix := []byte(gen.str()) // a reused buffer's old contents
		got, err := AppendEventBody(prefix[:0], "Huawei::PCRF", key, ev, attempt, state)
		if err != nil {
			t.Fatal(err)
		}
		b := NewBody("Huawei::PCRF", key, ev, attempt)
		b.State = state
		if len(b.Data) == 0 || !json.Valid(b.Data) {
			b.Data, _ = json.Marshal(string(b.Data))
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if _, err := AppendEventBody(nil, "h", "k", &schemas.Event{}, 1, json.RawMessage(`{`)); err == nil {
		t.Error("state that is not JSON was accepted")
	}
}

// eventGen makes random events: every typed id present or not, strings
// with every character JSON escapes, attributes past the sort buffer,
// payloads that are and are not JSON, times in other zones and with
// nanoseconds.
type eventGen struct{ rnd *rand.Rand }

func newEventGen(rnd *rand.Rand) eventGen { return eventGen{rnd} }

var genPieces = []string{"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "\x7f",
	"é", "€", "\U0001F600", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xc3"}

var genPayloads = []string{`{"i_account":1}`, ` { "a" : [1, 2.5e3, null, true, "x\u00e9\n"] } `, `[]`, `"s"`, `12`, `not json`, `{"a":`, ``, "{\"\xff\":1}"}

func (g eventGen) str() string {
	var s strings.Builder
	for range g.rnd.IntN(10) {
		s.WriteString(genPieces[g.rnd.IntN(len(genPieces))])
	}
	return s.String()
}

func (g eventGen) opt() *string {
	if g.rnd.IntN(2) == 0 {
		return nil
	}
	s := g.str()
	return &s
}

func (g eventGen) num() *int64 {
	if g.rnd.IntN(2) == 0 {
		return nil
	}
	n := g.rnd.Int64N(1<<62) - 1<<61
	return &n
}

func (g eventGen) when() time.Time {
	zone := time.FixedZone("x", (g.rnd.IntN(48)-24)*1800)
	return time.Unix(g.rnd.Int64N(4e9), g.rnd.Int64N(1e9)*int64(g.rnd.IntN(2))).In(zone)
}

// event is the i-th random event (i picks the payload).
func (g eventGen) event(i int) *schemas.Event {
	ev := &schemas.Event{EventID: g.str(), Source: g.str(), EventType: g.str(), Origin: g.str(), OccurredAt: g.when(), ReceivedAt: g.when(),
		ParentEventID: g.opt(), InheritedFrom: g.opt(), Instance: g.opt(),
		IEnv: g.num(), ICustomer: g.num(), IAccount: g.num(), IProduct: g.num(), IDID: g.num(), DIDNumber: g.opt(), IInvoice: g.num(),
		IPaymentTransaction: g.num(), IVendor: g.num(), IConnection: g.num(), MSISDN: g.opt(), SIMSerial: g.opt(), IMSI: g.opt(),
		TransactionID: g.opt(), ObjectID: g.opt(), Payload: genPayloads[i%len(genPayloads)]}
	if n := g.rnd.IntN(40); n > 0 {
		ev.Attributes = map[string]string{}
		for j := range n {
			ev.Attributes[g.str()+strconv.Itoa(j)] = g.str()
		}
	}
	return ev
}
