// Package browsertest drives the system's headless Chromium (Debian's
// chromium package; .ci/run installs it) from Go tests through chromedp, so
// the console is tested in a real browser without downloading one. A test
// skips, saying why, when no Chromium is installed.
//
// Screenshots go to <module root>/.screenshots/<test>/ (gitignored), so a
// reviewer can look at every page after a run.
package browsertest

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Width and Height are the window: a common laptop screen.
const Width, Height = 1366, 900

// stepTimeout bounds one browser step (a navigation, a query), so a hung
// page fails the test with the step's name instead of the test's timeout.
const stepTimeout = 20 * time.Second

// chromium finds the browser: $PROVBUS_CHROMIUM, else the names Debian and
// others install it under.
func chromium() (string, bool) {
	if p := os.Getenv("PROVBUS_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// Browser is one headless Chromium for a test, with a fresh profile.
type Browser struct {
	t   testing.TB
	ctx context.Context
	dir string // screenshot directory
}

// Start launches Chromium with the flags that keep it off the network
// (no QUIC, background networking, component updates or sync) and a fresh
// --user-data-dir; it stops when the test ends. It skips the test when no
// Chromium is installed.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, ok := chromium()
	if !ok {
		t.Skip("chromium is not installed (apt-get install chromium; .ci/run does): skipping the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(Width, Height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	b := &Browser{t: t, ctx: ctx, dir: screenshotDir(t)}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// screenshotDir is .screenshots/<test name> under the module root.
func screenshotDir(t testing.TB) string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	out := filepath.Join(dir, ".screenshots", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *Browser) step(what string, fn func(ctx context.Context) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Header sends h with every request of the page (an Authorization header
// stands in for the Basic prompt a person would answer).
func (b *Browser) Header(h map[string]string) {
	b.t.Helper()
	hs := network.Headers{}
	for k, v := range h {
		hs[k] = v
	}
	b.step("set headers", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hs})
		return err
	})
}

// BasicAuth is the Authorization header of user and password.
func BasicAuth(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// NoScript turns JavaScript off (true) or on for the pages that follow.
func (b *Browser) NoScript(off bool) {
	b.t.Helper()
	b.step("script execution", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off})
		return err
	})
}

// Open navigates to url and waits for sel to be visible.
func (b *Browser) Open(url, sel string) {
	b.t.Helper()
	b.step("open "+url, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(sel))
	})
}

// Click clicks sel and waits for then to be visible on the page it leads
// to.
func (b *Browser) Click(sel, then string) {
	b.t.Helper()
	b.step("click "+sel, func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.Click(sel), chromedp.WaitVisible(then))
	})
}

// Keys types keys (chromedp's kb names for special keys) into the page.
func (b *Browser) Keys(keys string) {
	b.t.Helper()
	b.step("keys", func(ctx context.Context) error { return chromedp.Do(ctx, chromedp.KeyEvent(keys)) })
}

// Eval evaluates a JavaScript expression and returns its JSON value as T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	var v T
	b.step("eval "+expr, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		return err
	})
	return v
}

// Location is the page's URL.
func (b *Browser) Location() string {
	b.t.Helper()
	var u string
	b.step("location", func(ctx context.Context) error {
		var err error
		u, err = chromedp.Run(ctx, chromedp.Location())
		return err
	})
	return u
}

// Shot saves a full-page PNG of the current page as name.png and returns
// its path.
func (b *Browser) Shot(name string) string {
	b.t.Helper()
	var png []byte
	b.step("screenshot "+name, func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		return err
	})
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
	return p
}

// Text is the visible text of the first element matching the CSS selector
// sel (its text content for SVG, which has no innerText), "" when there is
// none.
func (b *Browser) Text(sel string) string {
	return Eval[string](b, fmt.Sprintf(`(e => e ? (e.innerText ?? e.textContent) : "")(document.querySelector(%q))`, sel))
}
