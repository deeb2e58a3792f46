package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/ingest"
	"github.com/provbus/provbus/producers/transatel"
)

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) signed by ca: a server
// certificate for 127.0.0.1, or a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	for path, b := range files {
		// Written aside and renamed, as cert managers do, so a reader
		// never sees half a file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
}

// hostileTLS serves the pipeline's ingest over HTTPS in this process (the
// server's own Serve, as `provbus ingest` runs it with ingest.tls): ESPF
// requires a client certificate of its CA, Transatel does not. A request
// without a client certificate, or with one of another CA, is refused and
// produces nothing while a normal request beside it is answered within
// 1 s; then the server certificate is renewed on disk and served without
// a restart.
func hostileTLS(t *testing.T, p *pipeline, topics []string) string {
	t.Helper()
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server CA"), newCA(t, "ESPF client CA"), newCA(t, "someone else")
	certFile, keyFile, clientCAFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "client-ca.pem")
	c1, k1 := serverCA.issue(t, "ingest-1", 10, false)
	writeFiles(t, map[string][]byte{certFile: c1, keyFile: k1, clientCAFile: clientCA.pem})

	reg, err := sr.NewClient(sr.URLs(p.registry))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "tls-secret-0123456789abcdef"
	srv, err := ingest.New(context.Background(), ingest.WithKafka(kgo.SeedBrokers(p.brokers)), ingest.WithRegistry(reg), ingest.WithCatalog(p.cat),
		ingest.WithAuth(config.Auth{PortaBilling: config.BasicAuth{Username: "espf", Password: "espf-password"}, Transatel: config.HMACAuth{Secrets: []string{secret}}}),
		ingest.WithSources(config.Sources{PortaBilling: config.SourcePolicy{ClientCAFile: clientCAFile}}),
		ingest.WithTLS(certFile, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	base := "https://" + ln.Addr().String()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.pem)
	client := func(ca *testCA) *http.Client {
		cfg := &tls.Config{RootCAs: roots}
		if ca != nil {
			cp, kp := ca.issue(t, "espf-node", 20, true)
			pair, err := tls.X509KeyPair(cp, kp)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	send := func(c *http.Client, source, body string, hdr ...string) (int, string, *tls.ConnectionState) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/sources/"+source+"/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS
	}
	seq := 0
	normal := func() (int, error) {
		seq++
		b := fmt.Sprintf(`{"header":{"eventId":"tls-%d","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"336%d"}}`, seq, seq)
		code, _, _ := send(client(nil), "transatel", b, transatel.SignatureHeader, transatel.Sign([]byte(secret), []byte(b)))
		return code, nil
	}
	basic := []string{"Authorization", "Basic ZXNwZjplc3BmLXBhc3N3b3Jk"} // espf:espf-password
	espfBody := espf("Account/New", "tls-1", `"i_account":1`)
	for _, tc := range []struct {
		name string
		c    *http.Client
		want int
	}{
		{"ESPF without a client certificate", client(nil), 401},
		{"ESPF with another CA's client certificate", client(otherCA), 401},
		{"ESPF with its client certificate", client(clientCA), 200},
	} {
		before := p.endSum(topics...)
		code, answer, _ := send(tc.c, "portabilling", espfBody, basic...)
		took, ncode, _ := timed(normal)
		produced := p.endSum(topics...) - before - 1
		if code != tc.want || ncode/100 != 2 || took > time.Second {
			t.Errorf("%s: %d %s (want %d); normal request %d in %v", tc.name, code, answer, tc.want, ncode, took)
		}
		if want := int64(0); tc.want == 200 {
			want = 1
			if produced != want {
				t.Errorf("%s: produced %d, want %d", tc.name, produced, want)
			}
		} else if produced != want {
			t.Errorf("%s: refused but produced %d", tc.name, produced)
		}
	}

	// Renewal: a new certificate on disk is served without a restart.
	c2, k2 := serverCA.issue(t, "ingest-2", 11, false)
	writeFiles(t, map[string][]byte{certFile: c2, keyFile: k2})
	renewed := false
	for deadline := time.Now().Add(15 * time.Second); !renewed && time.Now().Before(deadline); {
		c := client(nil) // a new connection: a new handshake
		_, _, st := send(c, "transatel", `{}`)
		renewed = st != nil && len(st.PeerCertificates) > 0 && st.PeerCertificates[0].Subject.CommonName == "ingest-2"
		if !renewed {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !renewed {
		t.Errorf("the renewed certificate was not served within 15 s")
	}
	return fmt.Sprintf("TLS: no client cert 401, other CA 401, own CA 200; renewed certificate served without restart: %v", renewed)
}
