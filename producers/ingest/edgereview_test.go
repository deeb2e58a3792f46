package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/provbus/provbus/internal/config"
)

// max_events (and every other scan limit) holds whatever precedes the
// body: "\f" is not JSON white space, for Limits.Check nor for Elements.
// Found in review.
func TestFormFeedDoesNotSkipLimits(t *testing.T) {
	h := newHarness(t)
	var b strings.Builder
	b.WriteString("\f[")
	for i := 0; i < 3000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"event_type":"Account/New","variables":{"i_event":"w%d","i_account":1}}`, i)
	}
	b.WriteString("]")
	resp, body := h.post("portabilling", b.String(), false)
	if resp.StatusCode != 400 {
		t.Errorf("3000 events behind a form feed: %d (%d records produced), want 400 too many events; %.120s", resp.StatusCode, h.total(), body)
	}
}

// "set credential_rate_limit so one installation cannot starve another"
// (operations.md): a request its own installation's bucket refuses gives
// its token of the source's bucket back.
func TestCredentialLimitGivesSourceTokenBack(t *testing.T) {
	auth := testAuth
	auth.JeraSoft.Instances = []config.TokenInstance{{Name: "lab", Token: "lab-token"}}
	h := newHarness(t, WithAuth(auth), WithSources(config.Sources{
		JeraSoft: config.SourcePolicy{RateLimit: config.RateLimit{PerSecond: 0.01, Burst: 5},
			CredentialRateLimit: config.RateLimit{PerSecond: 0.01, Burst: 1}},
	}))
	for i := 0; i < 5; i++ { // the default installation floods: 1 accepted, 4 refused by its own bucket
		h.post("jerasoft", jerasoftEvent, false)
	}
	if resp, b := h.post("jerasoft", jerasoftEvent, true, "X-Auth-Token", "lab-token"); resp.StatusCode != 200 {
		t.Errorf("lab, which sent nothing yet: %d %s", resp.StatusCode, b)
	}
}

// "de-duplication keeps two installations apart" (ingest.md): the default
// installation may not send the very id a named instance's event gets.
// Found in review.
func TestDefaultInstanceCannotTakeInstanceIDs(t *testing.T) {
	auth := testAuth
	auth.PortaBilling.Instances = []config.BasicInstance{{Name: "pb-eu", Username: "espf-eu", Password: "eu-password"}}
	h := newHarness(t, WithAuth(auth))
	r1, b1 := h.post("portabilling", `{"event_type":"Account/New","variables":{"i_event":"pb-eu:5001","i_account":7}}`, false)
	if r1.StatusCode != 400 || !strings.Contains(string(b1), `"event_id"`) {
		t.Errorf("default installation sending pb-eu's prefix: %d %s, want 400 naming event_id", r1.StatusCode, b1)
	}
	_, b2 := h.post("portabilling", `{"event_type":"Account/New","variables":{"i_event":"5001","i_account":7}}`, true,
		"Authorization", "Basic ZXNwZi1ldTpldS1wYXNzd29yZA==") // espf-eu:eu-password
	if string(b1) == string(b2) {
		t.Errorf("default installation and pb-eu produced the same event id: %s", b1)
	}
}

// A --strict import that stops at a bad line produces the good lines
// before it, and counts only what it produced. Found in review.
func TestStrictImportCountsWhatItProduced(t *testing.T) {
	h := newHarness(t)
	in := `{"event_type":"Account/New","variables":{"i_event":"s1","i_account":1}}` + "\n" + `{"event_type":1}` + "\n"
	st, err := h.srv.ImportEvents(context.Background(), "portabilling", strings.NewReader(in), ImportOptions{Strict: true})
	if n := h.total(); int64(st.Events) != n || n != 1 {
		t.Errorf("stats say %d events imported, Kafka holds %d, want 1 and 1 (err %v)", st.Events, n, err)
	}
}
