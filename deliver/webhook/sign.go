// Package webhook builds the HTTP request provbus delivers to a connector:
// the JSON body (the event envelope, its ids, the source's original JSON)
// and the Standard Webhooks headers (webhook-id, webhook-timestamp,
// webhook-signature), so a connector in any language can verify it with a
// Standard Webhooks library or twenty lines of its own.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header names of the Standard Webhooks specification and provbus's own.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	HeaderAttempt   = "X-Provbus-Attempt"
)

// secretPrefix starts a Standard Webhooks secret: "whsec_" + base64 key.
const secretPrefix = "whsec_"

// ErrSecret is returned for a signing secret that is not "whsec_" followed
// by base64 of at least 24 bytes (the spec asks for 24 to 64).
var ErrSecret = errors.New(`signing secret must be "whsec_" + base64 of 24 to 64 bytes`)

// ParseSecret returns the HMAC key of a "whsec_…" secret.
func ParseSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one request:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook-signature header (a space-separated list of
// "v1,<sig>" entries, so a sender can sign with two keys while rotating)
// against the request. It does not check the timestamp's age: that is the
// receiver's replay window.
func Verify(key []byte, id string, timestamp int64, body []byte, header string) error {
	want := Sign(key, id, timestamp, body)
	for _, s := range strings.Fields(header) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("webhook: no matching v1 signature")
}
