// Package edgetest holds the checks every source parser's tests share: the
// contract of edge.Source.Parse, asserted once.
package edgetest

import (
	"errors"
	"testing"

	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// CheckParse fails t unless (evs, err) keeps Parse's contract: an error is
// a non-empty *edge.Error (so the request gets a 400 naming what is wrong),
// and every event has an id, a type, its payload and its attributes.
func CheckParse(t testing.TB, evs []schemas.Event, err error) {
	t.Helper()
	if err != nil {
		var bad *edge.Error
		if !errors.As(err, &bad) || len(bad.Problems) == 0 {
			t.Fatalf("error is not a non-empty *edge.Error: %v", err)
		}
		return
	}
	for _, ev := range evs {
		if ev.EventID == "" || ev.EventType == "" || ev.Payload == "" || ev.Attributes == nil {
			t.Fatalf("incomplete event %+v", ev)
		}
	}
}
