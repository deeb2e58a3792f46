package console

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPagesUnderStalledFetch: while the broker holds every fetch, a page
// that reads records answers an error page within its timeout instead of
// hanging, and the flow (offsets and lag only) still answers; once fetches
// flow again the same page renders (the twin: the error came from the
// stall, not from the page).
func TestPagesUnderStalledFetch(t *testing.T) {
	f := newFixture(t, WithPageTimeout(time.Second))
	kf := f.ec.Kafka()
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the cluster closes: no fetch stays asleep
	stalled := true
	var mu sync.Mutex
	kf.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		mu.Lock()
		s := stalled
		mu.Unlock()
		if s {
			kf.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	code, body := f.get("/ui/handlers/aricenthss", false)
	if code != 502 || !strings.Contains(body, "deadline") {
		t.Fatalf("handler page under a stalled fetch: %d, want 502 naming the deadline:\n%s", code, body)
	}
	if code, _ := f.get("/ui/", false); code != 200 {
		t.Fatalf("flow under a stalled fetch: %d, want 200 (it reads no records)", code)
	}

	mu.Lock()
	stalled = false
	mu.Unlock()
	free()
	if code, body := f.get("/ui/handlers/aricenthss", false); code != 200 || !strings.Contains(body, "Account/Status/Suspend") {
		t.Fatalf("handler page once fetches flow: %d", code)
	}
}
