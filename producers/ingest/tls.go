package ingest

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// WithTLS serves Run and Serve over HTTPS with the PEM certificate chain
// and key in certFile and keyFile (default "": plain HTTP, for a TLS
// proxy in front). The files are re-read when they change, so a renewed
// certificate is served without a restart.
func WithTLS(certFile, keyFile string) Option {
	return func(s *settings) { s.certFile, s.keyFile = certFile, keyFile }
}

// reloadEvery is how often, at most, a handshake looks at the files.
const reloadEvery = time.Second

// certReloader serves the certificate of its files, loading them again
// when their modification time or size changes. A renewal that fails to
// load (a half-written file) keeps the previous certificate and is
// retried on the next look.
type certReloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // mtimes and sizes of the loaded files
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *zap.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) fileStamp() (string, error) {
	var stamp string
	for _, f := range []string{c.certFile, c.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return stamp, nil
}

// load reads the files when they changed since the last load; c.mu held
// or c not yet shared.
func (c *certReloader) load(now time.Time) error {
	c.checked = now
	stamp, err := c.fileStamp()
	if err != nil {
		return fmt.Errorf("ingest tls: %w", err)
	}
	if stamp == c.stamp {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("ingest tls: %w", err)
	}
	c.cert, c.stamp = &cert, stamp
	if c.log != nil {
		c.log.Info("tls certificate loaded", zap.String("cert_file", c.certFile))
	}
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= reloadEvery {
		if err := c.load(now); err != nil {
			c.log.Warn("tls certificate reload failed; serving the previous one", zap.Error(err))
		}
	}
	return c.cert, nil
}

// tlsConfig is the listener's TLS: TLS 1.2 at least, the reloaded
// certificate, and client certificates requested (not required) when a
// source verifies them: each source checks its own CA in the handler.
func (s *Server) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.getCertificate}
	for _, g := range s.gates {
		if g.clientCA != nil {
			cfg.ClientAuth = tls.RequestClientCert
		}
	}
	return cfg
}
