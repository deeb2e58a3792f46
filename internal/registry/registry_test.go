package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap/zaptest"
)

// serve starts a registry on dir behind a real listener and returns it with
// a client, the way provbus and its users talk to it.
func serve(t *testing.T, dir string, opts ...Opt) (*Registry, *sr.Client) {
	t.Helper()
	opts = append([]Opt{WithLogger(zaptest.NewLogger(t))}, opts...)
	reg, err := New(dir, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := reg.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatalf("sr.NewClient: %v", err)
	}
	return reg, cl
}

func mustRegister(t *testing.T, cl *sr.Client, subject, schema string) int {
	t.Helper()
	id, err := cl.RegisterSchema(context.Background(), subject, sr.Schema{Schema: schema}, -1, -1)
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return id
}

// register returns the registry's refusal as *sr.ResponseError.
func register(cl *sr.Client, subject, schema string) (int, *sr.ResponseError) {
	id, err := cl.RegisterSchema(context.Background(), subject, sr.Schema{Schema: schema}, -1, -1)
	if err == nil {
		return id, nil
	}
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		re = &sr.ResponseError{Message: err.Error()}
	}
	return 0, re
}

func TestRestartKeepsIDsVersionsAndConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	reg, cl := serve(t, dir)
	id1 := mustRegister(t, cl, "sub-value", subV1)
	id2 := mustRegister(t, cl, "sub-value", subOptionalIMSI)
	// Same schema under another subject shares its id (Confluent semantics),
	// the case srfake's SeedSchema cannot replay on its own.
	if got := mustRegister(t, cl, "other-value", subV1); got != id1 {
		t.Fatalf("same schema under a second subject: id %d, want %d", got, id1)
	}
	if got := mustRegister(t, cl, "sub-value", subV1); got != id1 {
		t.Fatalf("re-registering v1: id %d, want %d", got, id1)
	}
	gone := mustRegister(t, cl, "gone-value", subNoMSISDN)
	if _, err := cl.DeleteSubject(ctx, "gone-value", sr.SoftDelete); err != nil {
		t.Fatalf("soft delete: %v", err)
	}
	for _, res := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}) {
		if res.Err != nil {
			t.Fatalf("set global compat: %v", res.Err)
		}
	}
	for _, res := range cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "sub-value") {
		if res.Err != nil {
			t.Fatalf("set subject compat: %v", res.Err)
		}
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	reg2, cl2 := serve(t, dir)
	for id, want := range map[int]string{id1: subV1, id2: subOptionalIMSI, gone: subNoMSISDN} {
		// The literal endpoint serializers hit with the id from a record.
		resp, err := http.Get(reg2.URL() + "/schemas/ids/" + strconv.Itoa(id))
		if err != nil {
			t.Fatalf("GET /schemas/ids/%d: %v", id, err)
		}
		var got sr.Schema
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got.Schema != want {
			t.Fatalf("GET /schemas/ids/%d after restart: status %d err %v schema %q", id, resp.StatusCode, err, got.Schema)
		}
	}
	subjects, err := cl2.Subjects(ctx)
	if err != nil {
		t.Fatalf("Subjects: %v", err)
	}
	slices.Sort(subjects)
	if want := []string{"other-value", "sub-value"}; !slices.Equal(subjects, want) {
		t.Fatalf("subjects after restart %v, want %v (gone-value was soft-deleted)", subjects, want)
	}
	if vs, err := cl2.SubjectVersions(ctx, "sub-value"); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("sub-value versions %v, %v", vs, err)
	}
	ss, err := cl2.SchemaByVersion(ctx, "sub-value", 2)
	if err != nil || ss.ID != id2 {
		t.Fatalf("sub-value v2: %+v, %v", ss, err)
	}
	if c := cl2.Compatibility(ctx); c[0].Err != nil || c[0].Level != sr.CompatNone {
		t.Fatalf("global compat after restart %v, %v", c[0].Level, c[0].Err)
	}
	if c := cl2.Compatibility(ctx, "sub-value"); c[0].Err != nil || c[0].Level != sr.CompatFull {
		t.Fatalf("subject compat after restart %v, %v", c[0].Level, c[0].Err)
	}
	// The persisted FULL still bites after the restart.
	if _, re := register(cl2, "sub-value", subNoMSISDN); re == nil || re.StatusCode != http.StatusConflict {
		t.Fatalf("dropping msisdn under FULL after restart: %+v", re)
	}
	// And new ids continue after the highest one ever handed out.
	if id := mustRegister(t, cl2, "new-value", subIMSIRequired); id <= gone {
		t.Fatalf("new id %d reuses the id range (highest so far %d)", id, gone)
	}
}

func TestRegisterEnforcesCompatibility(t *testing.T) {
	ctx := context.Background()
	_, cl := serve(t, t.TempDir())

	t.Run("optional field with default passes", func(t *testing.T) {
		mustRegister(t, cl, "opt-value", subV1)
		mustRegister(t, cl, "opt-value", subOptionalIMSI)
	})
	t.Run("required field without default is refused", func(t *testing.T) {
		mustRegister(t, cl, "req-value", subV1)
		_, re := register(cl, "req-value", subRequiredICCID)
		if re == nil {
			t.Fatal("adding required iccid was accepted")
		}
		if re.StatusCode != http.StatusConflict || re.ErrorCode != 409 ||
			!strings.HasPrefix(re.Message, `Schema being registered is incompatible with an earlier schema for subject "req-value", details: [`) ||
			!strings.Contains(re.Message, `"iccid"`) {
			t.Fatalf("refusal: status %d code %d message %q", re.StatusCode, re.ErrorCode, re.Message)
		}
		if vs, _ := cl.SubjectVersions(ctx, "req-value"); len(vs) != 1 {
			t.Fatalf("refused schema was stored: versions %v", vs)
		}
	})
	t.Run("removing a field is backward compatible", func(t *testing.T) {
		mustRegister(t, cl, "drop-value", subV1)
		mustRegister(t, cl, "drop-value", subNoMSISDN)
	})
	t.Run("removing a required field breaks forward", func(t *testing.T) {
		mustRegister(t, cl, "fwd-value", subV1)
		if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatForward}, "fwd-value"); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		if _, re := register(cl, "fwd-value", subNoMSISDN); re == nil || re.StatusCode != http.StatusConflict || !strings.Contains(re.Message, `"msisdn"`) {
			t.Fatalf("dropping msisdn under FORWARD: %+v", re)
		}
	})
	t.Run("backward transitive checks every earlier version", func(t *testing.T) {
		mustRegister(t, cl, "trans-value", subV1)
		mustRegister(t, cl, "trans-value", subIMSIDefaultEmpty)
		_, re := register(cl, "trans-value", subIMSIRequired)
		if re == nil || re.StatusCode != http.StatusConflict {
			t.Fatalf("v3 (imsi required) against v1 under BACKWARD_TRANSITIVE: %+v", re)
		}
		if !strings.Contains(re.Message, `"imsi"`) || !strings.Contains(re.Message, "version 1") {
			t.Fatalf("refusal does not name imsi and version 1: %q", re.Message)
		}
	})
	t.Run("plain backward lets the same v3 through", func(t *testing.T) {
		// The twin of the test above: proves the refusal came from the
		// transitive check, not from v3 being broken against v2.
		if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, "nontrans-value"); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		mustRegister(t, cl, "nontrans-value", subV1)
		mustRegister(t, cl, "nontrans-value", subIMSIDefaultEmpty)
		mustRegister(t, cl, "nontrans-value", subIMSIRequired)
	})
	t.Run("non-avro is refused", func(t *testing.T) {
		_, err := cl.RegisterSchema(ctx, "json-value", sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON}, -1, -1)
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("JSON schema: %v", err)
		}
	})
	t.Run("invalid avro is refused", func(t *testing.T) {
		if _, re := register(cl, "bad-value", `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`); re == nil || re.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("invalid Avro: %+v", re)
		}
	})
}

func TestCompatibilityEndpoint(t *testing.T) {
	ctx := sr.WithParams(context.Background(), sr.Verbose)
	_, cl := serve(t, "")
	mustRegister(t, cl, "c-value", subV1)
	mustRegister(t, cl, "c-value", subIMSIDefaultEmpty)
	v3 := sr.Schema{Schema: subIMSIRequired}

	all, err := cl.CheckCompatibility(ctx, "c-value", -2, v3)
	if err != nil || all.Is || len(all.Messages) == 0 || !strings.Contains(all.Messages[0], `"imsi"`) {
		t.Fatalf("against all versions: %+v, %v", all, err)
	}
	latest, err := cl.CheckCompatibility(ctx, "c-value", -1, v3)
	if err != nil || !latest.Is {
		t.Fatalf("against latest (v2): %+v, %v", latest, err)
	}
	v1, err := cl.CheckCompatibility(ctx, "c-value", 1, v3)
	if err != nil || v1.Is {
		t.Fatalf("against v1: %+v, %v", v1, err)
	}
	if _, err := cl.CheckCompatibility(ctx, "c-value", 7, v3); err == nil {
		t.Fatal("against missing version 7: no error")
	}
}

func TestJournalTornTailAndCorruption(t *testing.T) {
	dir := t.TempDir()
	reg, cl := serve(t, dir)
	id := mustRegister(t, cl, "t-value", subV1)
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journalFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A write cut off by a crash: no newline.
	if _, err := f.WriteString(`{"op":"register","subj`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, cl2 := serve(t, dir)
	if got, err := cl2.SchemaByID(context.Background(), id); err != nil || got.Schema != subV1 {
		t.Fatalf("after torn tail: %+v, %v", got, err)
	}
	if id2 := mustRegister(t, cl2, "t-value", subOptionalIMSI); id2 != id+1 {
		t.Fatalf("after torn tail: next id %d, want %d", id2, id+1)
	}

	// A complete line that does not parse is corruption: refuse to start.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, journalFile), []byte("{not json}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(bad); err == nil {
		t.Fatal("corrupt journal accepted")
	}
}
