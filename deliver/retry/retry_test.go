package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestDefaultIsAboutADayOfShortRetriesThenAMonth(t *testing.T) {
	s := Default()
	s.Jitter = 0
	var short time.Duration
	for n := 1; n < s.Attempts; n++ {
		short += s.Wait(n)
	}
	if short < 20*time.Hour || short > 28*time.Hour {
		t.Errorf("short schedule spans %s, want about 24h", short)
	}
	if got := s.Wait(s.Attempts); got != time.Hour {
		t.Errorf("first long wait = %s", got)
	}
	if got := s.Wait(s.Attempts + 40); got != 24*time.Hour {
		t.Errorf("late long wait = %s", got)
	}
	first := time.Unix(0, 0)
	now, n := first, 1
	for ; ; n++ {
		at, ok := s.Next(n, first, now, 0)
		if !ok {
			break
		}
		now = at
	}
	if age := now.Sub(first); age < 29*24*time.Hour || age > s.MaxAge {
		t.Errorf("gave up after %s (%d attempts), want just under 30 days", age, n)
	}
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	s := Default()
	s.Jitter = 0
	now := time.Unix(1000, 0)
	if at, _ := s.Next(1, now, now, 30*time.Second); at.Sub(now) != 30*time.Second {
		t.Errorf("Retry-After 30s: next in %s", at.Sub(now))
	}
	if at, _ := s.Next(1, now, now, 48*time.Hour); at.Sub(now) != time.Hour {
		t.Errorf("Retry-After 48h: next in %s, want the 1h cap", at.Sub(now))
	}
	if got := ParseRetryAfter("120", now); got != 2*time.Minute {
		t.Errorf("ParseRetryAfter(120) = %s", got)
	}
	date := now.Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := ParseRetryAfter(date, now); got != 90*time.Second {
		t.Errorf("ParseRetryAfter(%s) = %s", date, got)
	}
	for _, v := range []string{"", "-1", "soon"} {
		if got := ParseRetryAfter(v, now); got != 0 {
			t.Errorf("ParseRetryAfter(%q) = %s", v, got)
		}
	}
}

func TestClassify(t *testing.T) {
	for status, want := range map[int]Class{
		200: Delivered, 202: Delivered, 204: Delivered,
		0: Retriable, 301: Retriable, 408: Retriable, 425: Retriable, 429: Retriable, 500: Retriable, 503: Retriable,
		400: Permanent, 401: Permanent, 404: Permanent, 409: Permanent, 422: Permanent,
	} {
		if got := Classify(status); got != want {
			t.Errorf("Classify(%d) = %d, want %d", status, got, want)
		}
	}
}
