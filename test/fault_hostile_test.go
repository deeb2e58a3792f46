package test

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/transatel"
	"github.com/provbus/provbus/schemas"
)

// hostileYAML is an operator's hardened ingest: ESPF behind a trusted
// proxy (127.0.0.0/8 plays it) and allowed only from 10.0.0.0/8, rate
// limited per source and per credential, with a second installation
// "flood" used for the flood; Transatel with two secrets (the rotation
// window); JeraSoft not configured at all.
const hostileYAML = `ingest:
  trusted_proxies: [127.0.0.0/8]
  auth:
    portabilling:
      username: espf
      password: espf-password
      instances:
        - {name: flood, username: flood, password: flood-password-0123}
    transatel:
      secrets: [new-secret-0123456789abcdef, old-secret-0123456789abcdef]
  sources:
    portabilling:
      allow_cidrs: [10.0.0.0/8]
      rate_limit: {per_second: 40, burst: 40}
      credential_rate_limit: {per_second: 5, burst: 5}
`

// hostileSecrets are every credential the test configures or presents:
// none may appear in a log line.
var hostileSecrets = []string{
	"espf-password", "flood-password-0123", "new-secret-0123456789abcdef", "old-secret-0123456789abcdef",
	"not-the-secret-0123456789", "jerasoft-token-presented",
	base64.StdEncoding.EncodeToString([]byte("espf:espf-password")), base64.StdEncoding.EncodeToString([]byte("flood:flood-password-0123")),
	"ZXNwZjp3cm9uZw==",
}

// Issues 8 #8 and 12: every hostile request is refused with its status,
// produces nothing, and costs so little that a normal request sent at the
// same moment is answered within 1 s: forged, unsigned, over-limit,
// unconfigured source, deep nesting, a huge array, oversize attributes,
// a forged proxy header, a rate-limit flood, TLS without (or with a
// foreign) client certificate, and 500 connections sending headers at
// 1 byte/s. A rotated secret is accepted. The ingest logs at
// debug level and no credential appears in them. Loopback only.
func TestFaultHostileHTTP(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, hostileYAML)
	addr := freeAddr(t)
	ing := startProvbusEnv(t, []string{"PROVBUS_LOG_LEVEL=debug"}, append(p.global(), "ingest", "--http", addr, "--metrics", "127.0.0.1:0")...)
	base := "http://" + addr
	ing.waitHTTP(base+"/readyz", 60*time.Second)
	topics := []string{schemas.QuarantineTopic}
	for _, d := range p.cat.Domains() {
		topics = append(topics, d.Topic)
	}
	tsl := func(id string) string {
		return fmt.Sprintf(`{"header":{"eventId":%q,"eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"33600000%s"}}`, id, id)
	}
	sign := func(secret, body string) string { return transatel.Sign([]byte(secret), []byte(body)) }
	var normals atomic.Int64
	normal := func() (int, error) {
		b := tsl(fmt.Sprint(1000 + normals.Add(1)))
		code, _, _, err := post(base, "transatel", b, transatel.SignatureHeader, sign("new-secret-0123456789abcdef", b))
		return code, err
	}
	body := tsl("1")
	flipped := []byte(body)
	flipped[len(flipped)/2] ^= 0x01
	signed := func(b string) []string {
		return []string{transatel.SignatureHeader, sign("new-secret-0123456789abcdef", b)}
	}
	espfAuth := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("espf:espf-password")), "X-Forwarded-For", "10.1.2.3"}
	big := `{"header":{"eventId":"big","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1","pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	deep := `{"header":{"eventId":"deep","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1","x":` +
		strings.Repeat(`{"a":`, 2500) + `1` + strings.Repeat(`}`, 2500) + `}}`
	huge := `[` + strings.Repeat(`{},`, 300000) + `{}]`
	long := `{"header":{"eventId":"long","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1","note":"` + strings.Repeat("n", 70000) + `"}}`
	refusals := []struct {
		name, source, body string
		hdr                []string
		want               int
		maxBody            int // bytes of the answer; 0 = no check
	}{
		{"flipped bit", "transatel", string(flipped), signed(body), 401, 0},
		{"missing signature", "transatel", body, nil, 401, 0},
		{"wrong signature", "transatel", body, []string{transatel.SignatureHeader, sign("not-the-secret-0123456789", body)}, 401, 0},
		{"missing credential", "portabilling", espf("Account/New", "h1", `"i_account":1`), []string{"X-Forwarded-For", "10.1.2.3"}, 401, 0},
		{"wrong password", "portabilling", espf("Account/New", "h1", `"i_account":1`), []string{"Authorization", "Basic ZXNwZjp3cm9uZw==", "X-Forwarded-For", "10.1.2.3"}, 401, 0},
		{"unconfigured source", "jerasoft", `{"event":{"events_id":"accounting.payment","object_id":1},"data":{}}`, []string{"X-Auth-Token", "jerasoft-token-presented"}, 404, 0},
		{"unknown source", "nokia", `{}`, nil, 404, 0},
		{"over limit", "transatel", big, signed(big), 413, 0},
		{"deep nesting", "transatel", deep, signed(deep), 400, 1024},
		{"huge array", "transatel", huge, signed(huge), 400, 1024},
		{"oversize attribute", "transatel", long, signed(long), 400, 1024},
		{"no proxy header", "portabilling", espf("Account/New", "h2", `"i_account":1`), espfAuth[:2], 403, 0},
		{"forged proxy hop", "portabilling", espf("Account/New", "h2", `"i_account":1`), []string{espfAuth[0], espfAuth[1], "X-Forwarded-For", "10.1.2.3, 192.0.2.7"}, 403, 0},
	}
	refused := 0
	var slowest time.Duration
	for _, r := range refusals {
		before := p.endSum(topics...)
		var code int
		var answer string
		var err error
		hostileDone := make(chan struct{})
		go func() {
			defer close(hostileDone)
			code, _, answer, err = post(base, r.source, r.body, r.hdr...)
		}()
		took, ncode, nerr := timed(normal)
		<-hostileDone
		slowest = max(slowest, took)
		if nerr != nil || ncode/100 != 2 {
			t.Errorf("%s: the normal request beside it: %d %v", r.name, ncode, nerr)
		}
		if took > time.Second {
			t.Errorf("%s: the normal request beside it took %v", r.name, took)
		}
		if produced := p.endSum(topics...) - before - 1; produced != 0 { // -1: the normal request's record
			t.Errorf("%s: produced %d records", r.name, produced)
		}
		if err != nil || code != r.want {
			t.Errorf("%s: %d %v %.300s, want %d", r.name, code, err, answer, r.want)
			continue
		}
		if r.maxBody > 0 && len(answer) > r.maxBody {
			t.Errorf("%s: %d-byte answer, want at most %d", r.name, len(answer), r.maxBody)
		}
		refused++
	}

	rotated := 0
	for i, secret := range []string{"new-secret-0123456789abcdef", "old-secret-0123456789abcdef"} {
		b := tsl(fmt.Sprint(10 + i))
		if code, _, out, err := post(base, "transatel", b, transatel.SignatureHeader, sign(secret, b)); err != nil || code/100 != 2 {
			t.Errorf("secret %d of the rotation: %d %v %s", i, code, err, out)
			continue
		}
		rotated++
	}
	if code, _, out, err := post(base, "portabilling", espf("Account/New", "via-proxy", `"i_account":1`), espfAuth...); err != nil || code != 200 {
		t.Errorf("ESPF through the trusted proxy: %d %v %s", code, err, out)
	}

	fl := flood(t, p, base, topics, normal)
	tlsResult := hostileTLS(t, p, topics)
	cut, normalDuringSlow := slowHeaders(t, strings.TrimPrefix(base, "http://"), 500, normal)
	log := ing.out.String()
	leaks := credentialsIn(log)
	// The twin of the grep: it finds a credential where there is one,
	// and the log it read is the debug log of this ingest.
	if len(credentialsIn("Authorization: Basic "+hostileSecrets[6])) != 1 || !strings.Contains(log, "sources served") || strings.Count(log, "request refused") < 400 {
		t.Errorf("the credential grep is blind, or the log is not the ingest's debug log (%d refusals logged)", strings.Count(log, "request refused"))
	}
	report(t, fmt.Sprintf("%d hostile requests each beside a normal one (forged, unsigned, over-limit, unconfigured source, deep, huge array, oversize attribute, forged proxy header), 2 rotated-secret requests, a %d-request flood on one credential, TLS without/with a foreign/with the client certificate and a certificate renewal, 500 slow-header connections at 1 B/s", len(refusals), fl.sent),
		fmt.Sprintf("%d refused as expected, normal request beside them ≤ %v, %d/2 rotated accepted; flood: %d accepted (bound %d), %d answered 429, %d records; %d/500 slow connections cut, normal request answered in %v; %s; %d credentials in the debug log",
			refused, slowest.Round(time.Millisecond), rotated, fl.accepted, fl.bound, fl.limited, fl.produced, cut, normalDuringSlow.Round(time.Millisecond), tlsResult, len(leaks)))
	if cut != 500 {
		t.Errorf("%d of 500 slow-header connections were cut", cut)
	}
	if normalDuringSlow > time.Second {
		t.Errorf("a normal request during the slow-header attack took %v", normalDuringSlow)
	}
	if len(leaks) > 0 {
		t.Errorf("credentials in the ingest's log: %v", leaks)
	}
}

// credentialsIn returns the hostileSecrets that appear in log.
func credentialsIn(log string) []string {
	var found []string
	for _, s := range hostileSecrets {
		if strings.Contains(log, s) {
			found = append(found, s)
		}
	}
	return found
}

func timed(f func() (int, error)) (time.Duration, int, error) {
	start := time.Now()
	code, err := f()
	return time.Since(start), code, err
}

// floodResult is what a rate-limit flood got.
type floodResult struct {
	sent, accepted, limited, bound int
	produced                       int64
}

// flood sends 400 ESPF requests as fast as 16 connections allow with the
// "flood" credential (5/s, burst 5) and checks the bucket held: at most
// burst + rate × duration were accepted, each produced its one record,
// every other was a 429 with Retry-After that produced nothing, and a
// normal request sent in the middle was answered within 1 s.
func flood(t *testing.T, p *pipeline, base string, topics []string, normal func() (int, error)) floodResult {
	t.Helper()
	const n, conns = 400, 16
	cred := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("flood:flood-password-0123")), "X-Forwarded-For", "10.9.9.9"}
	before := p.endSum(topics...)
	var accepted, limited, other atomic.Int32
	var next atomic.Int32
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= n; i = next.Add(1) {
				code, hdr, _, err := post(base, "portabilling", espf("Account/New", fmt.Sprintf("flood-%d", i), `"i_account":1`), cred...)
				switch {
				case err == nil && code == 200:
					accepted.Add(1)
				case err == nil && code == 429 && hdr.Get("Retry-After") != "":
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	took, code, err := timed(normal)
	wg.Wait()
	elapsed := time.Since(start)
	r := floodResult{sent: n, accepted: int(accepted.Load()), limited: int(limited.Load())}
	r.bound = 5 + int(5*elapsed.Seconds()) + 1
	r.produced = p.endSum(topics...) - before - 1 // -1: the normal request
	if err != nil || code/100 != 2 || took > time.Second {
		t.Errorf("normal request during the flood: %d %v in %v", code, err, took)
	}
	if r.accepted > r.bound || r.accepted+r.limited != n || other.Load() != 0 {
		t.Errorf("flood: %d accepted (bound %d), %d limited, %d other of %d", r.accepted, r.bound, r.limited, other.Load(), n)
	}
	if r.produced != int64(r.accepted) {
		t.Errorf("flood: %d records for %d accepted requests", r.produced, r.accepted)
	}
	return r
}

// slowHeaders opens n connections that each send a request line and
// headers one byte a second, and counts those the server closes within
// 15 s; 2 s in, it times one normal request.
func slowHeaders(t *testing.T, addr string, n int, normal func() (int, error)) (cut int, took time.Duration) {
	const payload = "POST /v1/sources/transatel/events HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	var closed atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; i < n; i++ {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			for j := 0; time.Now().Before(deadline); j++ {
				if _, err := conn.Write([]byte{payload[j%len(payload)]}); err != nil {
					closed.Add(1)
					return
				}
				// A closed connection shows as EOF on read before a
				// write fails: look for it each second.
				conn.SetReadDeadline(time.Now().Add(time.Second))
				buf := make([]byte, 512)
				if _, err := conn.Read(buf); err != nil {
					if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
						closed.Add(1)
						return
					}
				} else {
					closed.Add(1) // the server answered (408/400) and closes
					return
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	code, err := normal()
	took = time.Since(start)
	if err != nil || code/100 != 2 {
		t.Errorf("normal request during the attack: %d %v", code, err)
	}
	wg.Wait()
	return int(closed.Load()), took
}
