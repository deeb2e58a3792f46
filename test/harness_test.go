// Package test holds provbus's end-to-end and fault tests: they build the
// provbus binary once and run it as real processes, so signals, crashes and
// restarts are the real thing.
package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "provbus-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	printFaultTable(os.Stdout) // the table `make test-faults` ends with
	os.RemoveAll(dir)
	os.Exit(code)
}

// provbusBinary builds cmd/provbus once per test run and returns its path.
func provbusBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "provbus")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/provbus").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is an output buffer safe to read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a provbus process under test.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// startProvbus runs the provbus binary with args; the process is killed at
// the end of the test if it is still running.
func startProvbus(t testing.TB, args ...string) *proc {
	t.Helper()
	return startProvbusEnv(t, nil, args...)
}

// startProvbusEnv is startProvbus with extra environment variables
// ("PROVBUS_PROCESS_INSTANCE_ID=zombie").
func startProvbusEnv(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(provbusBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(append(os.Environ(), "PROVBUS_LOG_FORMAT=console"), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of provbus %s:\n%s", strings.Join(args, " "), tail(p.out.String(), 4000))
		}
	})
	return p
}

// stop sends sig and waits for the process to exit; it returns the exit error.
func (p *proc) stop(sig syscall.Signal, within time.Duration) error {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("provbus did not exit within %s of %s", within, sig)
		return nil
	}
}

// waitHTTP polls url until it answers 200 or the deadline passes.
func (p *proc) waitHTTP(url string, within time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.t.Fatalf("provbus exited before %s answered: %v", url, err)
		case <-ctx.Done():
			p.t.Fatalf("%s did not answer 200 within %s", url, within)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
