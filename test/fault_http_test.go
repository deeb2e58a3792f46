package test

import (
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

// hostileYAML gives the ingest credentials for every source, two
// Transatel secrets (the rotation window) and a small body limit.
const hostileYAML = `ingest:
  max_body_bytes: 4096
  auth:
    portabilling: {username: espf, password: espf-password}
    transatel:
      secrets: [new-secret-0123456789abcdef, old-secret-0123456789abcdef]
    jerasoft: {token: jerasoft-token}
`

// Issue 8 #8: forged, unsigned and over-limit requests are refused with
// 401/413 and produce nothing; a rotated secret is accepted; 500
// connections sending headers at 1 byte/s are cut by the header timeout
// while a normal request still answers within 1 s. Loopback only.
func TestFaultHostileHTTP(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, hostileYAML)
	_, base := p.startIngest()
	topics := []string{schemas.QuarantineTopic}
	for _, d := range p.cat.Domains() {
		topics = append(topics, d.Topic)
	}
	tsl := func(id string) string {
		return fmt.Sprintf(`{"header":{"eventId":%q,"eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"33600000%s"}}`, id, id)
	}
	sign := func(secret, body string) string { return transatel.Sign([]byte(secret), []byte(body)) }
	body := tsl("1")
	flipped := []byte(body)
	flipped[len(flipped)/2] ^= 0x01
	big := `{"header":{"eventId":"big","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1","pad":"` + strings.Repeat("x", 5000) + `"}}`
	refusals := []struct {
		name, source, body string
		hdr                []string
		want               int
	}{
		{"flipped bit", "transatel", string(flipped), []string{transatel.SignatureHeader, sign("new-secret-0123456789abcdef", body)}, 401},
		{"missing signature", "transatel", body, nil, 401},
		{"wrong signature", "transatel", body, []string{transatel.SignatureHeader, sign("not-the-secret-0123456789", body)}, 401},
		{"missing credential", "portabilling", espf("Account/New", "h1", `"i_account":1`), nil, 401},
		{"wrong password", "portabilling", espf("Account/New", "h1", `"i_account":1`), []string{"Authorization", "Basic ZXNwZjp3cm9uZw=="}, 401},
		{"wrong token", "jerasoft", `{"event":"client.created","data":{"id":1}}`, []string{"X-Auth-Token", "nope"}, 401},
		{"over limit", "transatel", big, []string{transatel.SignatureHeader, sign("new-secret-0123456789abcdef", big)}, 413},
	}
	before := p.endSum(topics...)
	refused := 0
	for _, r := range refusals {
		code, _, b, err := post(base, r.source, r.body, r.hdr...)
		if err != nil || code != r.want {
			t.Errorf("%s: %d %v %s, want %d", r.name, code, err, b, r.want)
			continue
		}
		refused++
	}
	producedByRefused := p.endSum(topics...) - before
	if producedByRefused != 0 {
		t.Errorf("refused requests produced %d records", producedByRefused)
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

	cut, normal := slowHeaders(t, strings.TrimPrefix(base, "http://"), 500, func() (int, error) {
		b := tsl("20")
		code, _, _, err := post(base, "transatel", b, transatel.SignatureHeader, sign("new-secret-0123456789abcdef", b))
		return code, err
	})
	report(t, fmt.Sprintf("%d forged/unauthenticated/oversized requests, 2 rotated-secret requests, 500 slow-header connections at 1 B/s", len(refusals)),
		fmt.Sprintf("%d refused as expected, %d records produced by them, %d/2 rotated accepted, %d/500 slow connections cut by the header timeout, normal request answered in %v",
			refused, producedByRefused, rotated, cut, normal.Round(time.Millisecond)))
	if cut != 500 {
		t.Errorf("%d of 500 slow-header connections were cut", cut)
	}
	if normal > time.Second {
		t.Errorf("a normal request during the slow-header attack took %v", normal)
	}
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
