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
	pieces := []string{"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "\x7f",
		"é", "€", "\U0001F600", "\u2028", "\u2029", "\xff", "\xe2\x80", "\xc3"}
	str := func() string {
		var s strings.Builder
		for range rnd.IntN(10) {
			s.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return s.String()
	}
	opt := func() *string {
		if rnd.IntN(2) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	num := func() *int64 {
		if rnd.IntN(2) == 0 {
			return nil
		}
		n := rnd.Int64N(1<<62) - 1<<61
		return &n
	}
	when := func() time.Time {
		zone := time.FixedZone("x", (rnd.IntN(48)-24)*1800)
		return time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)*int64(rnd.IntN(2))).In(zone)
	}
	payloads := []string{`{"i_account":1}`, ` { "a" : [1, 2.5e3, null, true, "x\u00e9\n"] } `, `[]`, `"s"`, `12`, `not json`, `{"a":`, ``, "{\"\xff\":1}"}
	for i := range 3000 {
		ev := &schemas.Event{EventID: str(), Source: str(), EventType: str(), Origin: str(), OccurredAt: when(), ReceivedAt: when(),
			ParentEventID: opt(), InheritedFrom: opt(), Instance: opt(),
			IEnv: num(), ICustomer: num(), IAccount: num(), IProduct: num(), IDID: num(), DIDNumber: opt(), IInvoice: num(),
			IPaymentTransaction: num(), IVendor: num(), IConnection: num(), MSISDN: opt(), SIMSerial: opt(), IMSI: opt(),
			TransactionID: opt(), ObjectID: opt(), Payload: payloads[i%len(payloads)]}
		if n := rnd.IntN(40); n > 0 {
			ev.Attributes = map[string]string{}
			for j := range n {
				ev.Attributes[str()+strconv.Itoa(j)] = str()
			}
		}
		var state json.RawMessage
		if rnd.IntN(2) == 0 {
			state = json.RawMessage(`{"customer": {"i_customer": 7}, "closed": false}`)
		}
		key, attempt := str(), rnd.IntN(200)-1
		prefix := []byte(str()) // a reused buffer's old contents
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
