package retry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class is what an attempt's answer means for the event.
type Class int

// Classes of an attempt's answer (issue 13, Outcomes).
const (
	// Delivered: a 2xx.
	Delivered Class = iota
	// Retriable: 408, 425, 429, 5xx, a timeout or a connection error;
	// also a 3xx, since provbus follows no redirect and a moved target is
	// a configuration fault an operator fixes.
	Retriable
	// Permanent: any other 4xx; the target will not accept it as it is.
	Permanent
)

// Classify sorts an HTTP status (0 when there was no response).
func Classify(status int) Class {
	switch {
	case status >= 200 && status < 300:
		return Delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return Retriable
	case status >= 400 && status < 500:
		return Permanent
	}
	return Retriable
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
// It returns 0 when the header is absent, unreadable or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 1<<31 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
