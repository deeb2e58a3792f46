package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/registry/registrytest"
)

// The conformance suite (issue 17): `provbus dev`, the built binary on free
// ports, answers tools nobody here wrote as Confluent Schema Registry and
// Apache Kafka do. The clients are installed by .ci/run (Debian: kcat,
// python3-confluent-kafka, python3-avro, python3-requests; npm:
// test/conformance/clients); a client that is not installed skips its check
// with a message saying how to install it.

// clientsDir holds the Node and Python client scripts.
const clientsDir = "conformance/clients"

// conformanceTopic is the handler topic the client checks read, fed with
// Account/Blocked events (AricentHSS subscribes to them).
const conformanceTopic = "handler.aricenthss"

// TestConformanceRegistry walks the registry conformance table (Confluent's
// answers, endpoint by endpoint) against `provbus dev --components registry`.
func TestConformanceRegistry(t *testing.T) {
	d := newDevCluster(t)
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--registry-addr", d.registry, "--http", d.http, "--components", "registry")
	p.waitHTTP("http://"+d.http+"/readyz", 60*time.Second)
	registrytest.Walk(t, "http://"+d.registry, 0, registrytest.ConfluentAPI)
}

// TestConformanceClients runs the whole pipeline, sends events that reach a
// handler topic, and has each third-party client read it: offsets of a new
// group, read_committed, values decoded through the registry, commit, and a
// restarted consumer resuming where the first stopped.
func TestConformanceClients(t *testing.T) {
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "3") // fewer partitions: faster group joins
	d := newDevCluster(t)
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry, "--http", d.http)
	base := "http://" + d.http
	p.waitHTTP(base+"/readyz", 60*time.Second)

	const records = 5
	for i := range records {
		body := espf("Account/Blocked", fmt.Sprintf("conformance-%d", i), fmt.Sprintf(`"i_account":%d`, 1001+i))
		if code, _, resp, err := post(base, "portabilling", body); err != nil || code != http.StatusOK {
			t.Fatalf("POST event %d: %d %s %v", i, code, resp, err)
		}
	}
	waitCommitted(t, d.kafka, conformanceTopic, records, 60*time.Second)
	registryURL := "http://" + d.registry

	t.Run("kafkajs", func(t *testing.T) {
		node := requireTool(t, "node", "nodejs")
		if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", "kafkajs")); err != nil {
			t.Skipf("KafkaJS not installed: run `npm ci --prefix test/%s` (.ci/run does)", clientsDir)
		}
		runClient(t, node, "kafkajs_check.js", d.kafka, registryURL, conformanceTopic, strconv.Itoa(records))
	})
	t.Run("confluent-kafka-python", func(t *testing.T) {
		python := pythonWith(t, "confluent_kafka", "avro", "requests")
		runClient(t, python, "confluent_kafka_check.py", d.kafka, registryURL, conformanceTopic, strconv.Itoa(records))
	})
	t.Run("kcat", func(t *testing.T) {
		kcat := requireTool(t, "kcat", "kcat")
		// Events sent after kcat's first run, so the resumed run has
		// something new to read (kcat's balanced consumer stores the
		// offsets of a whole fetched batch, so "-c 2, then the rest" is
		// not something kcat can do).
		more := func() []string {
			var keys []string
			for i := range 2 {
				account := 2001 + i
				body := espf("Account/Blocked", fmt.Sprintf("conformance-more-%d", i), fmt.Sprintf(`"i_account":%d`, account))
				if code, _, resp, err := post(base, "portabilling", body); err != nil || code != http.StatusOK {
					t.Fatalf("POST event: %d %s %v", code, resp, err)
				}
				keys = append(keys, strconv.Itoa(account))
			}
			waitCommitted(t, d.kafka, conformanceTopic, records+len(keys), 60*time.Second)
			return keys
		}
		kcatCheck(t, kcat, d.kafka, registryURL, records, more)
	})
}

// kcatCheck reads the handler topic with kcat: stored offsets of a new
// group (-o stored), a balanced consumer that stops and resumes, and the
// Confluent wire format of a value, whose schema id the registry resolves.
func kcatCheck(t *testing.T, kcat, broker, registryURL string, records int, more func() []string) {
	common := []string{"-b", broker, "-C", "-q", "-X", "isolation.level=read_committed", "-X", "auto.offset.reset=earliest"}

	// `kcat -o stored` with a group that never committed: the first run of
	// any offset-tracking script.
	group := fmt.Sprintf("conformance-kcat-stored-%d", time.Now().UnixNano())
	n := 0
	for part := range partitions(t, broker, conformanceTopic) {
		out := kcatRun(t, kcat, append(common, "-t", conformanceTopic, "-p", strconv.Itoa(part), "-o", "stored", "-X", "group.id="+group, "-e", "-f", `%k\n`)...)
		n += len(lines(out))
	}
	if n != records {
		t.Fatalf("kcat -o stored with a new group read %d records, want %d", n, records)
	}

	// A balanced consumer reads to the end and exits, committing; after
	// more events arrive, a second run of the same group reads only those.
	group = fmt.Sprintf("conformance-kcat-%d", time.Now().UnixNano())
	balanced := slices.Concat(common, []string{"-G", group, "-e", "-f", `%k %h\n`, conformanceTopic})
	first := lines(kcatRun(t, kcat, balanced...))
	added := more()
	rest := lines(kcatRun(t, kcat, balanced...))
	keys := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			key, headers, _ := strings.Cut(l, " ")
			if _, err := strconv.Atoi(key); err != nil {
				t.Fatalf("kcat: key %q is not a UTF-8 account id", key)
			}
			if !strings.Contains(headers, "event_type=Account/Blocked") {
				t.Fatalf("kcat: headers %q lack event_type", headers)
			}
			out = append(out, key)
		}
		slices.Sort(out)
		return out
	}
	if got := keys(first); len(got) != records {
		t.Fatalf("kcat first run read %q, want %d records", got, records)
	}
	if got := keys(rest); !slices.Equal(got, added) {
		t.Fatalf("kcat resumed run read %q, want only the new %q", got, added)
	}

	// The value is Confluent's wire format and its schema id resolves.
	raw := kcatRun(t, kcat, append(common, "-t", conformanceTopic, "-o", "beginning", "-c", "1", "-e", "-f", "%s")...)
	if len(raw) < 5 || raw[0] != 0 {
		t.Fatalf("kcat value does not start with magic byte 0: % x", raw[:min(len(raw), 8)])
	}
	id := binary.BigEndian.Uint32(raw[1:5])
	var schema struct{ Schema string }
	getJSON(t, fmt.Sprintf("%s/schemas/ids/%d", registryURL, id), &schema)
	if !strings.Contains(schema.Schema, "event_id") {
		t.Fatalf("schema %d: %q", id, schema.Schema)
	}
	t.Logf("kcat: -o stored of a new group read %d records; first run %d, resumed run %d; schema id %d", n, len(first), len(rest), id)
}

func kcatRun(t *testing.T, kcat string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || strings.Contains(stderr.String(), "ERROR") {
		t.Fatalf("kcat %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, tail(stdout.String(), 1000), tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// runClient runs one client script from clientsDir and fails the test with
// its output when it fails.
func runClient(t *testing.T, interpreter, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, interpreter, append([]string{script}, args...)...)
	cmd.Dir = clientsDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(interpreter), script, err, tail(string(out), 4000))
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// requireTool returns the path of name, or skips the test saying which
// Debian package .ci/run installs for it.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: skipping this client check (.ci/run installs the Debian package %s)", name, pkg)
	}
	return path
}

// pythonWith returns a python3 that imports every module, trying the one
// on PATH and then Debian's (/usr/bin/python3, where apt installs
// python3-confluent-kafka), or skips the test.
func pythonWith(t *testing.T, modules ...string) string {
	t.Helper()
	var tried []string
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err != nil || slices.Contains(tried, path) {
			continue
		}
		tried = append(tried, path)
		if exec.Command(path, "-c", "import "+strings.Join(modules, ", ")).Run() == nil {
			return path
		}
	}
	t.Skipf("no python3 with %s: skipping this client check (.ci/run installs python3-confluent-kafka python3-avro python3-requests)", strings.Join(modules, ", "))
	return ""
}

// partitions returns topic's partition count.
func partitions(t *testing.T, broker, topic string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return len(ends[topic])
}

// waitCommitted reads topic read_committed until want records arrived, or
// fails at the deadline.
func waitCommitted(t *testing.T, broker, topic string, want int, within time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: %d of %d records within %s", topic, n, want, within)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reading %s: %v", topic, err)
			}
		})
		n += fs.NumRecords()
	}
}
