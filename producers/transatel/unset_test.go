package transatel_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/portabilling"
	"github.com/provbus/provbus/producers/transatel"
)

// An unset secret/password (os.Getenv of a missing variable) must not
// become a credential anyone can produce.
func TestUnsetSecretOrPasswordIsNoCredential(t *testing.T) {
	body := []byte(`{}`)
	r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
	r.Header.Set(transatel.SignatureHeader, transatel.Sign(nil, body)) // HMAC under the empty key
	if _, err := transatel.New(config.HMACAuth{Secrets: []string{""}}).Authenticate(r, body); err == nil {
		t.Error("transatel: an empty secret accepts a signature anyone can compute")
	}
	r = httptest.NewRequest("POST", "/", nil)
	r.SetBasicAuth("espf", "")
	if _, err := portabilling.New(config.BasicAuth{Username: "espf"}).Authenticate(r, nil); err == nil {
		t.Error("portabilling: a username without a password accepts an empty password")
	}
}
