package test

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
)

// faultLine is one row of the fault table `make test-faults` ends with:
// what a test injected, what its checker counted, and the verdict.
type faultLine struct {
	test, injected, counted, result string
}

var (
	faultMu    sync.Mutex
	faultLines []faultLine
)

// report prints the test's one line and records it for the table printed
// after m.Run. result is derived from t at cleanup time, so a line written
// before a later t.Fatal still ends up saying FAIL.
func report(t *testing.T, injected, counted string) {
	t.Helper()
	t.Logf("FAULT %s | injected: %s | counted: %s", t.Name(), injected, counted)
	t.Cleanup(func() {
		result := "PASS"
		switch {
		case t.Failed():
			result = "FAIL"
		case t.Skipped():
			result = "SKIP"
		}
		faultMu.Lock()
		faultLines = append(faultLines, faultLine{t.Name(), injected, counted, result})
		faultMu.Unlock()
	})
}

// printFaultTable writes the collected lines as a table (nothing when no
// fault test ran, so `go test -run X` stays quiet). TestMain calls it.
func printFaultTable(w io.Writer) {
	faultMu.Lock()
	defer faultMu.Unlock()
	if len(faultLines) == 0 {
		return
	}
	lines := append([]faultLine(nil), faultLines...)
	sort.Slice(lines, func(i, j int) bool { return lines[i].test < lines[j].test })
	fmt.Fprintln(w, "\nFAULT SUITE")
	fmt.Fprintln(w, "| test | injected | counted | result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, l := range lines {
		esc := func(s string) string { return strings.ReplaceAll(s, "|", "/") }
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", l.test, esc(l.injected), esc(l.counted), l.result)
	}
}
