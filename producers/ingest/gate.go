package ingest

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/provbus/provbus/internal/config"
)

// gate is what a request must get through before its body is read: the
// source must be served (credentials or insecure), the client address
// allowed, the source's rate not exceeded, the client certificate (when
// required) signed by the source's CA. Per-credential rates are checked
// once Authenticate names the credential.
type gate struct {
	// open serves the source without credentials.
	open bool
	// public lets an open source be served on a non-loopback address.
	public bool
	allow  []netip.Prefix
	// limit is the source's bucket (nil: no limit); perCred the bucket of
	// each instance, "" being the default one (nil map: no limit).
	limit    *rate.Limiter
	perCred  map[string]*rate.Limiter
	clientCA *x509.CertPool
}

// newGate builds a source's gate; hasAuth says whether it has credentials,
// instances lists its named instances.
func newGate(p config.SourcePolicy, hasAuth bool, instances []string) (*gate, error) {
	g := &gate{open: p.Insecure && !hasAuth, public: p.InsecurePublic}
	if !hasAuth && !p.Insecure {
		return nil, nil // not served
	}
	for _, c := range p.AllowCIDRs {
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("allow_cidrs: %w", err)
		}
		g.allow = append(g.allow, pr.Masked())
	}
	g.limit = limiter(p.RateLimit)
	if l := p.CredentialRateLimit; l.PerSecond > 0 {
		g.perCred = map[string]*rate.Limiter{"": limiter(l)}
		for _, in := range instances {
			g.perCred[in] = limiter(l)
		}
	}
	if p.ClientCAFile != "" {
		pem, err := os.ReadFile(p.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client_ca_file: %w", err)
		}
		g.clientCA = x509.NewCertPool()
		if !g.clientCA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client_ca_file %s: no PEM certificate", p.ClientCAFile)
		}
	}
	return g, nil
}

func limiter(l config.RateLimit) *rate.Limiter {
	if l.PerSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(l.PerSecond), max(l.Burst, 1))
}

// allowed reports whether ip may reach the source.
func (g *gate) allowed(ip netip.Addr) bool {
	if len(g.allow) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// reserve takes a token from l, or says how long until one is there
// (whole seconds, at least 1, as Retry-After wants); giveBack returns the
// token (a no-op when nothing was taken). A nil l never limits.
func reserve(l *rate.Limiter, now time.Time) (secs int, ok bool, giveBack func()) {
	if l == nil {
		return 0, true, func() {}
	}
	r := l.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return max(1, int(math.Ceil(1/float64(l.Limit())))), false, func() {}
	}
	return 0, true, func() { r.CancelAt(now) }
}

// errClientCert is why a required client certificate was refused.
var errClientCert = errors.New("client certificate required")

// verifyClient checks the request's client certificate against the
// source's CA (nothing to check when the source has none). The TLS
// listener only requests certificates, so that each source can have its
// own CA: verification is here, per source.
func (g *gate) verifyClient(r *http.Request) error {
	if g.clientCA == nil {
		return nil
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errClientCert
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: g.clientCA, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errClientCert, err)
	}
	return nil
}

// proxies says whose X-Forwarded-For is believed.
type proxies []netip.Prefix

func parseProxies(cidrs []string) (proxies, error) {
	var ps proxies
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q: %v", ErrConfig, c, err)
		}
		ps = append(ps, p.Masked())
	}
	return ps, nil
}

func (ps proxies) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the address of the client: the peer, or, when the peer is
// a trusted proxy, the right-most X-Forwarded-For address that is not a
// trusted proxy itself (the left part of the header is whatever the
// client wrote and proves nothing). An unparsable header from a trusted
// proxy leaves the proxy as the client, so an allow-list refuses it.
func (ps proxies) clientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	ip := peer.Addr().Unmap()
	if len(ps) == 0 || !ps.trusted(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip
			}
			a = a.Unmap()
			if !ps.trusted(a) {
				return a
			}
			ip = a
		}
	}
	return ip
}

// writeTooMany answers 429 with Retry-After.
func writeTooMany(w http.ResponseWriter, secs int) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate limit exceeded", "retry_after": secs})
}

// isLoopback reports whether a listen address only accepts local
// connections ("" and 0.0.0.0 are every interface; a name other than
// localhost may resolve anywhere).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// instanceNames lists the named instances configured for a source.
func instanceNames(a config.Auth, source string) []string {
	var out []string
	switch source {
	case "portabilling":
		for _, in := range a.PortaBilling.Instances {
			out = append(out, in.Name)
		}
	case "transatel":
		for _, in := range a.Transatel.Instances {
			out = append(out, in.Name)
		}
	case "jerasoft":
		for _, in := range a.JeraSoft.Instances {
			out = append(out, in.Name)
		}
	}
	return out
}
