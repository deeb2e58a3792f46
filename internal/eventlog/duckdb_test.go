package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// duckDir holds the npm project of @duckdb/node-api (npm ci there; CI does).
const duckDir = "testdata/duckdb"

// duckdb runs the statements in a real DuckDB (node + @duckdb/node-api)
// with dir as working directory, in UTC, and returns each statement's rows.
// It skips when node or the package is missing, unless
// PROVBUS_REQUIRE_DUCKDB is set (CI), where that fails.
func duckdb(t *testing.T, dir string, statements ...string) [][]map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	missing := ""
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(duckDir, "node_modules", "@duckdb", "node-api")); err != nil {
		missing = "@duckdb/node-api is not installed (npm ci in internal/eventlog/" + duckDir + ")"
	}
	if missing != "" {
		if os.Getenv("PROVBUS_REQUIRE_DUCKDB") != "" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	script, err := filepath.Abs(filepath.Join(duckDir, "query.js"))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(append([]string{"SET TimeZone = 'UTC'"}, statements...))
	cmd := exec.Command(node, script)
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var res [][]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res[1:]
}

// docQueries returns the SQL blocks of docs/analysts.md's DuckDB section,
// in order: the test runs what the page shows.
func docQueries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/analysts.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## DuckDB")
	if !ok {
		t.Fatal("docs/analysts.md has no DuckDB section")
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	var out []string
	for _, part := range strings.Split(section, "```sql\n")[1:] {
		q, _, _ := strings.Cut(part, "```")
		out = append(out, q)
	}
	return out
}

// analystsLog produces a small, known history on real topic names: two
// customer suspensions (one 3 days ago, one 10 days ago), the account
// suspensions inherited from them, direct account events, and the
// deliveries to two handlers. It returns the topics and the anchor times.
func analystsLog(t *testing.T, c *cluster) (topics []string, recent, old time.Time) {
	const (
		cust, acct, inh = "portabilling.customer", "portabilling.account", "portabilling.account.inherited"
		hss, iptv       = "handler.aricenthss", "handler.iptv"
	)
	topics = []string{cust, acct, inh, hss, iptv}
	c.create(2, topics...)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	recent, old = today.AddDate(0, 0, -3).Add(10*time.Hour), today.AddDate(0, 0, -10).Add(9*time.Hour)
	ms := time.Millisecond

	customerEv := func(id string, customer int64, at time.Time) *schemas.Event {
		return &schemas.Event{EventID: id, Source: "portabilling", EventType: "Customer/Status/Suspend", Origin: schemas.OriginDirect,
			OccurredAt: at, ReceivedAt: at.Add(5 * ms), ICustomer: i64(customer),
			Attributes: map[string]string{"i_customer": itoa(customer), "bill_status": "S"}, Payload: `{"event_type":"Customer/Status/Suspend"}`}
	}
	inherited := func(parent *schemas.Event, account int64, idx, n int32) *schemas.Event {
		ev := accountEvent(parent.EventID+"/"+itoa(account), "Account/Status/Suspend", account, *parent.ICustomer, parent.OccurredAt)
		ev.Origin, ev.ParentEventID, ev.InheritedFrom = schemas.OriginInherited, str(parent.EventID), str(schemas.InheritedFromCustomer)
		ev.FanOutIndex, ev.FanOutCount, ev.ReceivedAt = i32(idx), i32(n), parent.ReceivedAt
		return ev
	}
	c1, c2 := customerEv("c-1", 7, recent), customerEv("c-2", 8, old)
	i4711, i4712, i4811 := inherited(c1, 4711, 0, 2), inherited(c1, 4712, 1, 2), inherited(c2, 4811, 0, 1)
	a1 := accountEvent("a-1", "Account/BalanceChanged", 4711, 7, recent.Add(time.Hour))
	a2 := accountEvent("a-2", "Account/BalanceChanged", 4712, 7, recent.AddDate(0, 0, 1))
	a3 := accountEvent("a-3", "Account/Status/Closed", 4811, 8, recent.AddDate(0, 0, 1).Add(time.Hour))

	key := func(ev *schemas.Event) string {
		if ev.IAccount != nil {
			return itoa(*ev.IAccount)
		}
		return itoa(*ev.ICustomer)
	}
	var rs []*kgo.Record
	add := func(topic string, ev *schemas.Event, at time.Time) { rs = append(rs, c.rec(topic, key(ev), at, ev)) }
	add(cust, c1, c1.ReceivedAt.Add(ms))
	add(cust, c2, c2.ReceivedAt.Add(ms))
	add(inh, i4711, c1.ReceivedAt.Add(20*ms))
	add(inh, i4712, c1.ReceivedAt.Add(21*ms))
	add(inh, i4811, c2.ReceivedAt.Add(20*ms))
	add(acct, a1, a1.ReceivedAt.Add(ms))
	add(acct, a2, a2.ReceivedAt.Add(ms))
	add(acct, a3, a3.ReceivedAt.Add(ms))
	// Deliveries: c-1's last lands 295 ms after c-1 was received, c-2's
	// only one 75 ms after.
	add(hss, i4711, c1.ReceivedAt.Add(100*ms))
	add(hss, i4712, c1.ReceivedAt.Add(250*ms))
	add(hss, i4811, c2.ReceivedAt.Add(75*ms))
	add(iptv, i4711, c1.ReceivedAt.Add(295*ms))
	add(iptv, a1, a1.ReceivedAt.Add(40*ms))
	c.produce(rs...)
	return topics, recent, old
}

// replayTo replays topics into a file of the given format, as
// `provbus replay --format F --out FILE` does, and returns the Stats.
func replayTo(t *testing.T, c *cluster, format, path string, topics []string) Stats {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(format, f, WriterOptions{Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Codec: c.codec, Out: w}
	if err := Replay(context.Background(), c.dial, topics, p, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p.Stats
}

// TestDuckDBAnalystQueries runs the queries of docs/analysts.md in DuckDB
// on a Parquet file written by replay, and checks their answers. It also
// reads the file's schema and one row back through DuckDB, an independent
// Parquet reader.
func TestDuckDBAnalystQueries(t *testing.T) {
	queries := docQueries(t)
	if len(queries) != 4 {
		t.Fatalf("docs/analysts.md shows %d DuckDB queries, the test knows 4", len(queries))
	}
	c := startCluster(t)
	topics, recent, old := analystsLog(t, c)
	dir := t.TempDir()
	if st := replayTo(t, c, FormatParquet, filepath.Join(dir, "events.parquet"), topics); st.Written != 13 {
		t.Fatalf("replay wrote %d records, want 13", st.Written)
	}
	res := duckdb(t, dir, append([]string{
		"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM 'events.parquet')",
		"SELECT * FROM 'events.parquet' WHERE topic = 'portabilling.account.inherited' AND i_account = 4712",
	}, queries...)...)

	types := map[string]string{}
	for _, r := range res[0] {
		types[r["column_name"].(string)] = r["column_type"].(string)
	}
	for col, want := range map[string]string{
		"topic": "VARCHAR", "partition": "INTEGER", "offset": "BIGINT", "timestamp": "TIMESTAMP WITH TIME ZONE",
		"key": "VARCHAR", "occurred_at": "TIMESTAMP WITH TIME ZONE", "received_at": "TIMESTAMP WITH TIME ZONE",
		"occurred_at_estimated": "BOOLEAN", "fan_out_index": "INTEGER", "i_account": "BIGINT", "i_env": "BIGINT",
		"msisdn": "VARCHAR", "object_id": "VARCHAR", "attributes": "MAP(VARCHAR, VARCHAR)", "payload": "VARCHAR",
		"cause": "VARCHAR[]",
	} {
		if types[col] != want {
			t.Errorf("column %s: DuckDB type %q, want %q", col, types[col], want)
		}
	}

	// DuckDB prints fractions without trailing zeros, as .999 does.
	ts := func(tm time.Time) string { return tm.UTC().Format("2006-01-02 15:04:05.999") + "+00" }
	ms := time.Millisecond
	wantRow := map[string]any{
		"topic": "portabilling.account.inherited", "key": "4712", "event_id": "c-1/4712", "source": "portabilling",
		"event_type": "Account/Status/Suspend", "occurred_at": ts(recent), "received_at": ts(recent.Add(5 * ms)),
		"timestamp": ts(recent.Add(26 * ms)), "occurred_at_estimated": false, "origin": "INHERITED",
		"parent_event_id": "c-1", "inherited_from": "CUSTOMER", "fan_out_index": 1.0, "fan_out_count": 2.0,
		"i_account": "4712", "i_customer": "7", "i_env": nil, "msisdn": nil, "object_id": nil,
		"attributes": []any{map[string]any{"key": "i_account", "value": "4712"}, map[string]any{"key": "status", "value": "active"}},
		"payload":    `{"i_event":"c-1/4712"}`, "cause": []any{},
	}
	if len(res[1]) != 1 {
		t.Fatalf("%d rows for account 4712's inherited event, want 1", len(res[1]))
	}
	for col, want := range wantRow {
		if got := res[1][0][col]; !reflect.DeepEqual(got, want) {
			t.Errorf("row: %s = %#v, want %#v", col, got, want)
		}
	}

	day := func(tm time.Time) string {
		return tm.UTC().Truncate(24*time.Hour).Format("2006-01-02 15:04:05") + "+00"
	}
	check := func(name string, got []map[string]any, cols []string, want [][]any) {
		t.Helper()
		var rows [][]any
		for _, r := range got {
			var row []any
			for _, c := range cols {
				row = append(row, r[c])
			}
			rows = append(rows, row)
		}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, rows, want)
		}
	}
	check("events per type per day", res[2], []string{"day", "event_type", "events"}, [][]any{
		{day(old), "Account/Status/Suspend", "1"},
		{day(old), "Customer/Status/Suspend", "1"},
		{day(recent), "Account/BalanceChanged", "1"},
		{day(recent), "Account/Status/Suspend", "2"},
		{day(recent), "Customer/Status/Suspend", "1"},
		{day(recent.AddDate(0, 0, 1)), "Account/BalanceChanged", "1"},
		{day(recent.AddDate(0, 0, 1)), "Account/Status/Closed", "1"},
	})
	check("accounts suspended by a customer suspension", res[3], []string{"i_customer", "i_account", "customer_event"}, [][]any{
		{"7", "4711", "c-1"}, {"7", "4712", "c-1"},
	})
	check("handlers of account 4711", res[4], []string{"handler", "deliveries", "last_delivery"}, [][]any{
		{"aricenthss", "1", ts(recent.Add(105 * ms))},
		{"iptv", "2", ts(recent.Add(time.Hour + 40*ms))},
	})
	check("customer event to last delivery", res[5], []string{"event_id", "deliveries", "to_last_delivery_ms"}, [][]any{
		{"c-2", "1", "75"}, {"c-1", "3", "295"},
	})
	if fmt.Sprint(res[5][1]["to_last_delivery"]) != fmt.Sprint(map[string]any{"days": 0.0, "months": 0.0, "micros": "295000"}) {
		t.Errorf("to_last_delivery of c-1: %v, want 295 ms", res[5][1]["to_last_delivery"])
	}
}
