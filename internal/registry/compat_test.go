package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/registry/registrytest"
)

// Schemas of one subscriber record as it evolves. Each test names the
// change it makes so a failure says which evolution broke.
const (
	subV1 = registrytest.SubV1
	// subOptionalIMSI adds a field with a default: every level accepts it.
	subOptionalIMSI = registrytest.SubOptionalIMSI
	// subRequiredICCID adds a field without a default: the new reader
	// cannot fill it from old records, a BACKWARD break.
	subRequiredICCID = registrytest.SubRequiredICCID
	// subNoMSISDN drops a required field: new readers ignore it in old
	// data (BACKWARD fine), old readers miss it in new data (FORWARD break).
	subNoMSISDN = registrytest.SubNoMSISDN
	// subIMSIDefaultEmpty and subIMSIRequired are the transitive trap: the
	// second reads the first's records, but not v1's.
	subIMSIDefaultEmpty = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"},
		{"name":"msisdn","type":"string"},
		{"name":"imsi","type":"string","default":""}]}`
	subIMSIRequired = registrytest.SubIMSIRequired

	addrString = `{"type":"record","name":"Customer","fields":[
		{"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}}]}`
	addrInt = `{"type":"record","name":"Customer","fields":[
		{"name":"address","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"int"}]}}]}`
)

func TestCheckCompatibility(t *testing.T) {
	tests := []struct {
		name     string
		level    sr.CompatibilityLevel
		newer    string
		existing []string
		// wantField is the offending field; "" means compatible.
		wantField string
		wantDir   Direction
		wantVer   int
	}{
		{"optional field with default, backward", sr.CompatBackward, subOptionalIMSI, []string{subV1}, "", "", 0},
		{"optional field with default, full transitive", sr.CompatFullTransitive, subOptionalIMSI, []string{subV1}, "", "", 0},
		{"required field added breaks backward", sr.CompatBackward, subRequiredICCID, []string{subV1}, "iccid", Backward, 1},
		{"required field added is fine forward", sr.CompatForward, subRequiredICCID, []string{subV1}, "", "", 0},
		{"required field removed is fine backward", sr.CompatBackward, subNoMSISDN, []string{subV1}, "", "", 0},
		{"required field removed breaks forward", sr.CompatForward, subNoMSISDN, []string{subV1}, "msisdn", Forward, 1},
		{"required field removed breaks full", sr.CompatFull, subNoMSISDN, []string{subV1}, "msisdn", Forward, 1},
		{"non-transitive only sees latest", sr.CompatBackward, subIMSIRequired, []string{subV1, subIMSIDefaultEmpty}, "", "", 0},
		{"transitive sees v1", sr.CompatBackwardTransitive, subIMSIRequired, []string{subV1, subIMSIDefaultEmpty}, "imsi", Backward, 1},
		{"nested type change names the path", sr.CompatBackward, addrInt, []string{addrString}, "address.city", Backward, 1},
		{"none accepts anything", sr.CompatNone, addrInt, []string{subV1}, "", "", 0},
		{"no existing versions", sr.CompatFullTransitive, subV1, nil, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCompatibility(tt.level, tt.newer, tt.existing)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("want compatible, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrIncompatible) {
				t.Fatalf("want ErrIncompatible, got %v", err)
			}
			var ce *CompatibilityError
			if !errors.As(err, &ce) {
				t.Fatalf("want *CompatibilityError, got %T", err)
			}
			if ce.Field != tt.wantField || ce.Direction != tt.wantDir || ce.Version != tt.wantVer || ce.Level != tt.level {
				t.Fatalf("got field %q dir %s version %d level %s, want %q %s %d %s",
					ce.Field, ce.Direction, ce.Version, ce.Level, tt.wantField, tt.wantDir, tt.wantVer, tt.level)
			}
			if !strings.Contains(err.Error(), `"`+tt.wantField+`"`) {
				t.Fatalf("message does not name the field: %v", err)
			}
		})
	}
}

func TestCheckCompatibilityInvalid(t *testing.T) {
	if err := CheckCompatibility(sr.CompatBackward, `{"type":"record"`, nil); !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("broken new schema: want ErrInvalidSchema, got %v", err)
	}
	if err := CheckCompatibility(sr.CompatBackward, subV1, []string{`nope`}); !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("broken existing schema: want ErrInvalidSchema, got %v", err)
	}
	if err := CheckCompatibility(sr.CompatibilityLevel(99), subV1, []string{subV1}); !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("unknown level: want ErrInvalidSchema, got %v", err)
	}
}

// Two versions of the same record name must each be parsed as themselves;
// with avro's global cache the second would parse as the first and this
// break would go unnoticed.
func TestCheckCompatibilitySameNameDifferentShape(t *testing.T) {
	for range 2 {
		if err := CheckCompatibility(sr.CompatBackward, subRequiredICCID, []string{subV1}); err == nil {
			t.Fatal("required field added was accepted")
		}
	}
}
