package registry

import (
	"net/http/httptest"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/provbus/provbus/internal/registry/registrytest"
)

// TestConfluentConformance walks the conformance table (Confluent's answers,
// endpoint by endpoint) against the registry, then restarts it from its
// journal and checks that the state the table left survived.
func TestConfluentConformance(t *testing.T) {
	dir := t.TempDir()
	reg, err := New(dir, WithLogger(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	registrytest.Walk(t, srv.URL, 0, registrytest.ConfluentAPI)
	srv.Close()
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}

	reg2, err := New(dir, WithLogger(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer reg2.Close()
	srv2 := httptest.NewServer(reg2.Handler())
	defer srv2.Close()
	registrytest.Walk(t, srv2.URL, 1000, []registrytest.Step{
		{Method: "GET", Path: "/subjects?deleted=true", Status: 200, Want: `["a-value"]`},
		{Method: "GET", Path: "/subjects/a-value/versions?deleted=true", Status: 200, Want: `[1,3]`},
		{Method: "DELETE", Path: "/subjects/a-value/versions/1", Status: 404, Code: 40406},
		{Method: "GET", Path: "/config/a-value", Status: 404, Code: 40408},
	})
}
