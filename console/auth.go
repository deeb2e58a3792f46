package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"go.uber.org/zap"
)

// The console's access rules, written once here:
//
//   - Reading (GET) needs nothing when both the peer and the Host header are
//     loopback: the operator's own machine. The Host check stops a web page
//     the operator visits from reading the console through DNS rebinding.
//   - Reading from anywhere else needs the configured credentials, HTTP
//     Basic or a bearer token.
//   - Every action is a POST that needs the credentials, the same-origin
//     check of net/http's CrossOriginProtection, and a CSRF token bound to
//     the credentials: a browser sends cached Basic credentials to any
//     form that targets the console, so credentials alone prove nothing.
//   - With no credentials configured there are no actions, and the console
//     refuses to listen beyond loopback (CheckListen).

// ErrNoCredentials is CheckListen's refusal: a non-loopback address and no
// credentials configured.
var ErrNoCredentials = errors.New("console: refusing a non-loopback address without credentials (set console.username and console.password, or console.token)")

// Credentials are who may read beyond loopback and act. The zero value has
// none: read-only on loopback.
type Credentials struct {
	Username string // HTTP Basic, with Password
	Password string
	Token    string // Authorization: Bearer <token>
	// LoopbackReads lets a loopback reader read without the credentials
	// when they are configured (console.loopback_reads). Off by default:
	// a reverse proxy on the same host connects from loopback and, with
	// nginx's and Apache's defaults, names a loopback Host too, so the
	// console cannot tell a local reader from anyone the proxy serves.
	LoopbackReads bool
}

// Configured reports whether any credential is set.
func (c Credentials) Configured() bool { return c.Username != "" || c.Token != "" }

// Minimum lengths: a console that can pause delivery to an HSS must not
// fall to a guessed password.
const (
	minPassword = 12
	minToken    = 24
)

func (c Credentials) validate() error {
	if (c.Username == "") != (c.Password == "") {
		return errors.New("console: username and password go together")
	}
	if c.Password != "" && len(c.Password) < minPassword {
		return fmt.Errorf("console: the password must be at least %d characters", minPassword)
	}
	if c.Token != "" && len(c.Token) < minToken {
		return fmt.Errorf("console: the token must be at least %d characters", minToken)
	}
	return nil
}

// CheckListen refuses to serve the console on addr (host:port) when addr is
// not loopback and c holds no credentials. An empty or unspecified host
// (":8080", "0.0.0.0:8080") listens everywhere, so it is not loopback.
func CheckListen(addr string, c Credentials) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console: address %q: %w", addr, err)
	}
	if isLoopbackHost(host) || c.Configured() {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoCredentials, addr)
}

// isLoopbackHost reports whether host (no port) names only this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// who is the request's identity as the guard established it.
type who struct {
	authenticated bool
	principal     string // "basic:<user>" or "bearer"; "" when not authenticated
}

type whoKey struct{}

func whoOf(r *http.Request) who {
	w, _ := r.Context().Value(whoKey{}).(who)
	return w
}

// authenticate checks the Authorization header against c. present is
// whether the request carried credentials at all (a wrong one is refused
// even on loopback, so a typo is not mistaken for access).
func (c Credentials) authenticate(r *http.Request) (w who, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return who{}, false
	}
	if c.Username != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, c.Username) && equal(p, c.Password) {
			return who{true, "basic:" + c.Username}, true
		}
	}
	if c.Token != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok && equal(strings.TrimSpace(t), c.Token) {
			return who{true, "bearer"}, true
		}
	}
	return who{}, true
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// localReader reports whether r may read without credentials: a loopback
// peer that addressed the console by a loopback name.
func localReader(r *http.Request) bool {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || !isLoopbackHost(peer) {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopbackHost(host)
}

// guard applies the reading rule to every request and records who made it;
// actions check more in action.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, present := s.creds.authenticate(r)
		if present && !id.authenticated {
			s.challenge(w, "wrong credentials")
			return
		}
		if !id.authenticated && s.creds.Configured() && !s.creds.LoopbackReads {
			s.challenge(w, "credentials required")
			return
		}
		if !id.authenticated && !localReader(r) {
			s.challenge(w, "credentials required beyond loopback")
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, id)))
	})
}

func (s *Server) challenge(w http.ResponseWriter, msg string) {
	if s.creds.Username != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="provbus console", charset="UTF-8"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="provbus console"`)
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

// login makes a browser ask for the Basic credentials, then goes back to
// where the reader was; the layout links to it when actions need them.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.creds.Configured() {
		http.Error(w, "no console credentials are configured: actions are disabled (see docs/console.md)", http.StatusForbidden)
		return
	}
	if !whoOf(r).authenticated {
		s.challenge(w, "sign in to act")
		return
	}
	http.Redirect(w, r, localBack(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// localBack is back when it is a page of the console, else the console's
// home: a crafted link must not send a signed-in reader off-site. Browsers
// read a backslash as a slash, so /ui/..\\host would become //host once
// the redirect cleans the path; the path is cleaned here, before the check.
func localBack(back string) string {
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsRune(back, '\\') {
		return Prefix
	}
	p := path.Clean(u.Path)
	if !strings.HasPrefix(p+"/", Prefix) {
		return Prefix
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

// csrfKey signs CSRF tokens; it is random per process, so a restart
// invalidates open forms and nothing secret is configured or logged.
type csrfKey []byte

func newCSRFKey() (csrfKey, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("console: csrf key: %w", err)
	}
	return k, nil
}

// token is the CSRF token of principal: the forms carry it, and action
// accepts a POST only with the token of the credentials it came with.
func (k csrfKey) token(principal string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("provbus-console-csrf\x00" + principal))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sign authenticates an action's outcome message for the page the action
// redirects to, so a crafted link cannot make the console display text of
// someone else's choosing.
func (k csrfKey) sign(msg string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("provbus-console-done\x00" + msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// maxFlash bounds an outcome message: it travels in the redirect's URL,
// and proxies refuse request lines past 8 KiB (nginx's default).
const maxFlash = 1 << 10

// done is the URL of page with q and the signed outcome msg.
func (s *Server) done(page string, q url.Values, msg string) string {
	if q == nil {
		q = url.Values{}
	}
	if len(msg) > maxFlash {
		msg = msg[:maxFlash] + "… (clipped)"
	}
	q.Set("done", msg)
	q.Set("sig", s.csrf.sign(msg))
	return page + "?" + q.Encode()
}

// flash is the outcome message of r's URL when its signature holds.
func (s *Server) flash(r *http.Request) string {
	q := r.URL.Query()
	msg := q.Get("done")
	if msg == "" || !hmac.Equal([]byte(q.Get("sig")), []byte(s.csrf.sign(msg))) {
		return ""
	}
	return msg
}

// crossOrigin rejects cross-site browser POSTs (Sec-Fetch-Site, Origin).
var crossOrigin = http.NewCrossOriginProtection()

// action adapts an action handler: credentials, same origin and a valid
// CSRF token, or a 4xx saying which is missing. Every action is logged
// with who did it.
func (s *Server) action(fn func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.creds.Configured() {
			http.Error(w, "actions are disabled: no console credentials are configured (see docs/console.md)", http.StatusForbidden)
			return
		}
		id := whoOf(r)
		if !id.authenticated {
			s.challenge(w, "actions need credentials")
			return
		}
		if err := crossOrigin.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf.token(id.principal))) {
			http.Error(w, "missing or stale CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		s.log.Info("console action", zap.String("path", r.URL.Path), zap.String("by", id.principal))
		fn(w, r)
	}
}
