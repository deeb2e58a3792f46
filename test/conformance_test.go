package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
// group, read_committed, values decoded through the registry, commits; then
// provbus dev restarts, and each client's group resumes where it stopped.
func TestConformanceClients(t *testing.T) {
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "3") // fewer partitions: faster group joins
	d := newDevCluster(t)
	args := []string{"dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry, "--http", d.http}
	p := startProvbus(t, args...)
	base := "http://" + d.http
	p.waitHTTP(base+"/readyz", 60*time.Second)

	const records = 5
	send := func(prefix string, accounts ...int) {
		t.Helper()
		for _, a := range accounts {
			body := espf("Account/Blocked", fmt.Sprintf("%s-%d", prefix, a), fmt.Sprintf(`"i_account":%d`, a))
			if code, _, resp, err := post(base, "portabilling", body); err != nil || code != http.StatusOK {
				t.Fatalf("POST event for account %d: %d %s %v", a, code, resp, err)
			}
		}
	}
	send("conformance", 1001, 1002, 1003, 1004, 1005)
	// What the clients must decode: the ingest writes the domain topic
	// and the router the handler topic with the documented default
	// codec, snappy (attribute 2).
	for _, topic := range []string{"portabilling.account", conformanceTopic} {
		for _, r := range waitCommitted(t, d.kafka, topic, records, 60*time.Second) {
			if c := r.Attrs.CompressionType(); c != 2 {
				t.Fatalf("%s/%d@%d: compression %d, want 2 (snappy, the kafka.compression default)", r.Topic, r.Partition, r.Offset, c)
			}
		}
	}
	registryURL := "http://" + d.registry
	stamp := time.Now().UnixNano()

	// Each script client runs twice: "first" (new group's offsets, two
	// records committed) and, after the restart, "resume" (the rest).
	type script struct{ name, script, group string }
	scripts := []script{
		{"kafkajs", "kafkajs_check.js", fmt.Sprintf("conformance-kafkajs-%d", stamp)},
		{"confluent-kafka-python", "confluent_kafka_check.py", fmt.Sprintf("conformance-python-%d", stamp)},
	}
	interpreter := func(t *testing.T, name string) string {
		if name == "kafkajs" {
			node := requireTool(t, "node", "nodejs")
			if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", "kafkajs")); err != nil {
				t.Skipf("KafkaJS not installed: run `npm ci --prefix test/%s` (.ci/run does)", clientsDir)
			}
			return node
		}
		return pythonWith(t, "confluent_kafka", "avro", "requests")
	}
	firstIDs := map[string][]string{}
	for _, s := range scripts {
		t.Run("first/"+s.name, func(t *testing.T) {
			out := runClient(t, interpreter(t, s.name), s.script, d.kafka, registryURL, conformanceTopic, strconv.Itoa(records), "first", s.group)
			firstIDs[s.name] = out.IDs
		})
	}
	kcatGroup := fmt.Sprintf("conformance-kcat-%d", stamp)
	kcatFirstDone := t.Run("first/kcat", func(t *testing.T) {
		kcatFirst(t, requireTool(t, "kcat", "kcat"), d.kafka, kcatGroup, records)
	})

	// Committed offsets must survive provbus dev's restart.
	if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("SIGTERM: exit %v", err)
	}
	p = startProvbus(t, args...)
	p.waitHTTP(base+"/readyz", 60*time.Second)

	for _, s := range scripts {
		t.Run("resume/"+s.name, func(t *testing.T) {
			ids, ok := firstIDs[s.name]
			if !ok {
				t.Skip("the first run did not complete")
			}
			runClient(t, interpreter(t, s.name), s.script, d.kafka, registryURL, conformanceTopic, strconv.Itoa(records), "resume", s.group, strings.Join(ids, ","))
		})
	}
	t.Run("resume/kcat", func(t *testing.T) {
		kcat := requireTool(t, "kcat", "kcat")
		if !kcatFirstDone {
			t.Skip("the first run did not complete")
		}
		// kcat's balanced consumer stores the offsets of every record it
		// fetched, also those `-c N` did not print, so its first run read
		// to the end and the resumed run must read exactly the events sent
		// since.
		added := []int{2001, 2002}
		send("conformance-more", added...)
		waitCommitted(t, d.kafka, conformanceTopic, records+len(added), 60*time.Second)
		kcatResume(t, kcat, d.kafka, registryURL, kcatGroup, added)
	})
}

// kcatArgs are the options every kcat run of the suite takes.
func kcatArgs(broker string, more ...string) []string {
	return slices.Concat([]string{"-b", broker, "-C", "-q", "-X", "isolation.level=read_committed", "-X", "auto.offset.reset=earliest"}, more)
}

// kcatFirst reads the handler topic with kcat: stored offsets of a new
// group (-o stored, partition by partition), then a balanced consumer of
// group reads to the end and exits, committing.
func kcatFirst(t *testing.T, kcat, broker, group string, records int) {
	stored := fmt.Sprintf("%s-stored", group)
	n := 0
	for part := range partitions(t, broker, conformanceTopic) {
		out := kcatRun(t, kcat, kcatArgs(broker, "-t", conformanceTopic, "-p", strconv.Itoa(part), "-o", "stored", "-X", "group.id="+stored, "-e", "-f", `%k\n`)...)
		n += len(lines(out))
	}
	if n != records {
		t.Fatalf("kcat -o stored with a new group read %d records, want %d", n, records)
	}
	if got := kcatKeys(t, kcatRun(t, kcat, kcatArgs(broker, "-G", group, "-e", "-f", `%k %h\n`, conformanceTopic)...)); len(got) != records {
		t.Fatalf("kcat balanced consumer read %q, want %d records", got, records)
	}
	t.Logf("kcat: -o stored of a new group and a balanced consumer each read %d records", records)
}

// kcatResume has the balanced consumer of group read again after the
// restart: only the added accounts' events. It also checks a value's
// Confluent wire format and that the registry resolves its schema id.
func kcatResume(t *testing.T, kcat, broker, registryURL, group string, added []int) {
	var want []string
	for _, a := range added {
		want = append(want, strconv.Itoa(a))
	}
	slices.Sort(want)
	if got := kcatKeys(t, kcatRun(t, kcat, kcatArgs(broker, "-G", group, "-e", "-f", `%k %h\n`, conformanceTopic)...)); !slices.Equal(got, want) {
		t.Fatalf("kcat resumed run read %q, want only the new %q", got, want)
	}

	raw := kcatRun(t, kcat, kcatArgs(broker, "-t", conformanceTopic, "-o", "beginning", "-c", "1", "-e", "-f", "%s")...)
	if len(raw) < 5 || raw[0] != 0 {
		t.Fatalf("kcat value does not start with magic byte 0: % x", raw[:min(len(raw), 8)])
	}
	id := binary.BigEndian.Uint32(raw[1:5])
	var schema struct{ Schema string }
	getJSON(t, fmt.Sprintf("%s/schemas/ids/%d", registryURL, id), &schema)
	if !strings.Contains(schema.Schema, "event_id") {
		t.Fatalf("schema %d: %q", id, schema.Schema)
	}
	t.Logf("kcat: the resumed group read only the %d new records; values carry schema id %d", len(added), id)
}

// kcatKeys parses "key headers" lines: each key must be a UTF-8 account
// id and each record carry its event_type header. It returns the keys
// sorted.
func kcatKeys(t *testing.T, out []byte) []string {
	t.Helper()
	var keys []string
	for _, l := range lines(out) {
		key, headers, _ := strings.Cut(l, " ")
		if _, err := strconv.Atoi(key); err != nil {
			t.Fatalf("kcat: key %q is not a UTF-8 account id", key)
		}
		if !strings.Contains(headers, "event_type=Account/Blocked") {
			t.Fatalf("kcat: headers %q lack event_type", headers)
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
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

// clientResult is the JSON line a client script prints on success.
type clientResult struct {
	Read int      `json:"read"`
	IDs  []string `json:"ids"`
}

// runClient runs one client script from clientsDir, fails the test with its
// output when it fails, and returns its result line.
func runClient(t *testing.T, interpreter, script string, args ...string) clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, interpreter, append([]string{script}, args...)...)
	cmd.Dir = clientsDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(interpreter), script, err, tail(stdout.String(), 2000), tail(stderr.String(), 4000))
	}
	out := bytes.TrimSpace(stdout.Bytes())
	var res clientResult
	if err := json.Unmarshal(out[bytes.LastIndexByte(out, '\n')+1:], &res); err != nil {
		t.Fatalf("%s: result line: %v\n%s", script, err, out)
	}
	t.Logf("%s", out)
	return res
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
// fails at the deadline, and returns what it read.
func waitCommitted(t *testing.T, broker, topic string, want int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: %d of %d records within %s", topic, len(recs), want, within)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reading %s: %v", topic, err)
			}
		})
		recs = append(recs, fs.Records()...)
	}
	return recs
}
