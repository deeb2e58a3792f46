package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// offline is a console whose cluster cannot be reached: enough for the
// rules in auth.go, which run before any page talks to Kafka (the catalog
// page needs no cluster).
func offline(t *testing.T, c Credentials, d Delivery) *Server {
	t.Helper()
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	dial := func(...kgo.Opt) (*kgo.Client, error) { return nil, errors.New("no cluster in this test") }
	s, err := New(cat, dial, schemas.NewCodec(nil), WithCredentials(c), WithDelivery(d))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	testUser  = "operator"
	testPass  = "correct horse battery"
	testToken = "0123456789abcdef0123456789abcdef"
)

var testCreds = Credentials{Username: testUser, Password: testPass, Token: testToken}

func request(method, target, remote, host string, hdr map[string]string, form url.Values) *http.Request {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.RemoteAddr, r.Host = remote, host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func basic(u, p string) map[string]string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return map[string]string{"Authorization": r.Header.Get("Authorization")}
}

// TestReadingRules: with no credentials configured, loopback reads freely;
// beyond it, or under another Host name (DNS rebinding), credentials are
// required. With credentials configured they are required on loopback too
// (a proxy on the same host is loopback), unless loopback_reads says
// otherwise. A wrong credential is refused even on loopback.
func TestReadingRules(t *testing.T) {
	open := offline(t, Credentials{}, nil).Handler()
	locked := offline(t, testCreds, nil).Handler()
	withLoopback := testCreds
	withLoopback.LoopbackReads = true
	localOpen := offline(t, withLoopback, nil).Handler()
	for _, c := range []struct {
		name   string
		h      http.Handler
		remote string
		host   string
		hdr    map[string]string
		want   int
	}{
		{"loopback peer and host", open, "127.0.0.1:5000", "127.0.0.1:8080", nil, 200},
		{"localhost name", open, "[::1]:5000", "localhost:8080", nil, 200},
		{"remote peer", open, "10.1.2.3:5000", "console.example.net", nil, 401},
		{"dns rebinding: loopback peer, foreign host", open, "127.0.0.1:5000", "evil.example.com:8080", nil, 401},
		{"remote with basic", locked, "10.1.2.3:5000", "console.example.net", basic(testUser, testPass), 200},
		{"remote with bearer", locked, "10.1.2.3:5000", "console.example.net", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"remote with wrong password", locked, "10.1.2.3:5000", "console.example.net", basic(testUser, "wrong password!"), 401},
		{"remote with wrong token", locked, "10.1.2.3:5000", "console.example.net", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"loopback with wrong password", locked, "127.0.0.1:5000", "127.0.0.1:8080", basic(testUser, "wrong password!"), 401},
		{"remote without credentials", locked, "10.1.2.3:5000", "console.example.net", nil, 401},
		// A reverse proxy on the same host: loopback peer, and with nginx's
		// default proxy_set_header Host $proxy_host a loopback Host too.
		{"credentials configured: loopback without them", locked, "127.0.0.1:5000", "127.0.0.1:8080", nil, 401},
		{"loopback_reads: loopback without credentials", localOpen, "127.0.0.1:5000", "127.0.0.1:8080", nil, 200},
		{"loopback_reads: remote without credentials", localOpen, "10.1.2.3:5000", "console.example.net", nil, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, request("GET", "/ui/catalog", c.remote, c.host, c.hdr, nil))
			if w.Code != c.want {
				t.Fatalf("GET /ui/catalog = %d, want %d: %s", w.Code, c.want, w.Body.String())
			}
			if c.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate: a browser would not ask for credentials")
			}
		})
	}
}

// TestActionRules: an action needs configured credentials, the reader's
// credentials, the same origin and the CSRF token of those credentials;
// only then does it reach the Delivery.
func TestActionRules(t *testing.T) {
	d := newFakeDelivery()
	s := offline(t, testCreds, d)
	h := s.Handler()
	token := s.csrf.token("basic:" + testUser)
	const lo, host = "127.0.0.1:5000", "127.0.0.1:8080"
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	for _, c := range []struct {
		name string
		h    http.Handler
		hdr  map[string]string
		form url.Values
		want int
	}{
		{"no credentials configured", offline(t, Credentials{}, d).Handler(), nil, url.Values{"csrf": {token}}, 403},
		{"loopback without credentials", h, nil, url.Values{"csrf": {token}}, 401},
		{"no csrf token", h, basic(testUser, testPass), url.Values{}, 403},
		{"token of another principal", h, basic(testUser, testPass), url.Values{"csrf": {s.csrf.token("bearer")}}, 403},
		{"token of another process", h, basic(testUser, testPass), url.Values{"csrf": {offline(t, testCreds, d).csrf.token("basic:" + testUser)}}, 403},
		{"cross-site form", h, with(basic(testUser, testPass), "Sec-Fetch-Site", "cross-site"), url.Values{"csrf": {token}}, 403},
		{"foreign origin", h, with(basic(testUser, testPass), "Origin", "https://evil.example.com"), url.Values{"csrf": {token}}, 403},
		{"all present", h, with(basic(testUser, testPass), "Sec-Fetch-Site", "same-origin"), url.Values{"csrf": {token}}, 303},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := d.calls()
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, request("POST", "/ui/handlers/huawei-pcrf/pause", lo, host, c.hdr, c.form))
			if w.Code != c.want {
				t.Fatalf("POST pause = %d, want %d: %s", w.Code, c.want, w.Body.String())
			}
			if called := d.calls() > before; called != (c.want == 303) {
				t.Fatalf("delivery called = %v with status %d", called, w.Code)
			}
		})
	}
	if st, _ := d.Status(context.Background(), "huawei-pcrf"); !st.Paused {
		t.Fatal("the accepted pause did not pause")
	}
}

// TestCheckListen: the console refuses to listen beyond loopback without
// credentials.
func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr  string
		creds Credentials
		ok    bool
	}{
		{"127.0.0.1:8080", Credentials{}, true},
		{"localhost:8080", Credentials{}, true},
		{"[::1]:8080", Credentials{}, true},
		{"0.0.0.0:8080", Credentials{}, false},
		{":8080", Credentials{}, false},
		{"10.0.0.5:8080", Credentials{}, false},
		{"0.0.0.0:8080", Credentials{Token: testToken}, true},
		{"0.0.0.0:8080", Credentials{Username: testUser, Password: testPass}, true},
	} {
		err := CheckListen(c.addr, c.creds)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, configured=%v) = %v, want ok=%v", c.addr, c.creds.Configured(), err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNoCredentials) {
			t.Errorf("CheckListen(%q): %v is not ErrNoCredentials", c.addr, err)
		}
	}
}

// TestWeakCredentialsRefused: New refuses short secrets and half a pair.
func TestWeakCredentialsRefused(t *testing.T) {
	cat, _ := topology.Default()
	dial := func(...kgo.Opt) (*kgo.Client, error) { return nil, errors.New("unused") }
	for _, c := range []Credentials{
		{Username: "a"},
		{Username: "a", Password: "short"},
		{Token: "short"},
	} {
		if _, err := New(cat, dial, schemas.NewCodec(nil), WithCredentials(c)); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
}

// TestLogin: /ui/login makes a browser ask for the credentials, then goes
// back to the page, never off the console.
func TestLogin(t *testing.T) {
	h := offline(t, testCreds, nil).Handler()
	const lo, host = "127.0.0.1:5000", "127.0.0.1:8080"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("GET", "/ui/login?back=/ui/dlq", lo, host, nil, nil))
	if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("login without credentials: %d %q, want a Basic challenge", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	for back, want := range map[string]string{"/ui/dlq": "/ui/dlq", "/ui/dlq?topic=a": "/ui/dlq?topic=a", "//evil.example.com/ui/": "/ui/",
		"https://evil.example.com/": "/ui/", `/ui/../\evil.example`: "/ui/", `/ui/..\/evil.example`: "/ui/", "/ui/../../evil.example": "/ui/",
		"/ui/..%2F%2Fevil.example": "/ui/", "/uix": "/ui/", "/ui": "/ui"} {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, request("GET", "/ui/login?back="+url.QueryEscape(back), lo, host, basic(testUser, testPass), nil))
		if w.Code != 303 || w.Header().Get("Location") != want {
			t.Errorf("login back=%q: %d → %q, want 303 → %q", back, w.Code, w.Header().Get("Location"), want)
		}
	}
	w = httptest.NewRecorder()
	offline(t, Credentials{}, nil).Handler().ServeHTTP(w, request("GET", "/ui/login", lo, host, nil, nil))
	if w.Code != 403 {
		t.Errorf("login with no credentials configured: %d, want 403", w.Code)
	}
}

// loopbackReads is c with console.loopback_reads on: the page tests read as
// a loopback reader without credentials, and act with them.
func loopbackReads(c Credentials) Credentials {
	c.LoopbackReads = true
	return c
}
