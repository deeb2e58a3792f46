package test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// evolve returns schema text with field appended to its fields.
func evolve(t *testing.T, text string, field map[string]any) string {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		t.Fatal(err)
	}
	s["fields"] = append(s["fields"].([]any), field)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// schemasCheck runs `provbus schemas check --file --subject` and returns
// whether it accepted the file, with its output.
func schemasCheck(t *testing.T, registry, subject, text string) (bool, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "v.avsc")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(provbusBinary(t), "--registry", registry, "schemas", "check", "--file", f, "--subject", subject).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return err == nil, string(out)
}

// Issue 8 #10: a v2 that adds an optional field is accepted by `provbus
// schemas check` and the registry, and a reader built for v1 decodes
// records written with v2; a change that breaks BACKWARD_TRANSITIVE (a
// new field without a default: v2 readers cannot read v1 data) is refused
// by both.
func TestFaultSchemaEvolution(t *testing.T) {
	t.Parallel()
	c := startPCluster(t, 1)
	ctx := context.Background()
	topic := dispatch.TopicCustomer
	subject := schemas.Subject(topic)
	v1, err := c.reg.SchemaByVersion(ctx, subject, -1)
	if err != nil {
		t.Fatal(err)
	}
	v2 := evolve(t, v1.Schema.Schema, map[string]any{"name": "x_fault_note", "type": []any{"null", "string"}, "default": nil})
	ok2, out2 := schemasCheck(t, c.emb.RegistryURL(), subject, v2)
	reg2, err2 := c.reg.CreateSchema(ctx, subject, sr.Schema{Schema: v2, Type: sr.TypeAvro})

	// A v2 record, in the wire format: v1's encoding of an event plus
	// the new field (union branch 1 = string, then the string), which is
	// exactly Avro's encoding of the v2 record since the field is last.
	var got schemas.Event
	var decErr error
	if err2 == nil {
		v1bytes, err := c.codec.Encode(nil, topic, customerEvent("evo-1", "Customer/Status/Suspend", 7))
		if err != nil {
			t.Fatal(err)
		}
		rec := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(rec[1:], uint32(reg2.ID))
		rec = append(append(rec, v1bytes[5:]...), 2, 2*5)
		rec = append(rec, "hello"...)
		// A fresh codec is an old reader that never saw v2.
		_, decErr = schemas.NewCodec(c.reg).Decode(ctx, rec, &got)
	}

	broken := evolve(t, v1.Schema.Schema, map[string]any{"name": "x_required", "type": "string"})
	okB, outB := schemasCheck(t, c.emb.RegistryURL(), subject, broken)
	_, errB := c.reg.CreateSchema(ctx, subject, sr.Schema{Schema: broken, Type: sr.TypeAvro})

	report(t, "v2 + optional field; v3 + required field without default",
		"v2: check ok="+bool2s(ok2)+", registered="+bool2s(err2 == nil)+", old reader decoded="+bool2s(decErr == nil && got.EventID == "evo-1")+
			"; break: check refused="+bool2s(!okB)+", registry refused="+bool2s(errB != nil))
	if !ok2 {
		t.Errorf("schemas check refused a compatible v2:\n%s", out2)
	}
	if err2 != nil {
		t.Fatalf("registry refused a compatible v2: %v", err2)
	}
	if decErr != nil || got.EventID != "evo-1" || got.ICustomer == nil || *got.ICustomer != 7 {
		t.Errorf("old reader on a v2 record: %v, %+v", decErr, got)
	}
	if okB {
		t.Errorf("schemas check accepted a BACKWARD_TRANSITIVE break:\n%s", outB)
	}
	if errB == nil || !strings.Contains(errB.Error(), "409") && !strings.Contains(strings.ToLower(errB.Error()), "incompatible") {
		t.Errorf("registry: %v, want an incompatibility (409)", errB)
	}
}

func bool2s(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
