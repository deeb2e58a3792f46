package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// capture runs provbus with argv and returns its exit code, stdout and
// stderr.
func capture(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	savedOut, savedErr := stdout, stderr
	stdout, stderr = &out, &errb
	defer func() { stdout, stderr = savedOut, savedErr }()
	code := run(context.Background(), argv)
	return code, out.String(), errb.String()
}

// commandLines is every command of the table with, for a command that
// has subcommands, each subcommand: a command added later is covered
// without touching this test.
func commandLines() [][]string {
	var out [][]string
	for _, n := range commandNames() {
		subs := commands[n].subcommands
		if len(subs) == 0 {
			out = append(out, []string{n})
		}
		for _, s := range subs {
			out = append(out, []string{n, s})
		}
	}
	return out
}

var globalArgs = []string{"--brokers", "b1:9092,b2:9092", "--registry", "http://reg:8081", "--config", "some.yaml", "--log-level", "debug"}

func checkGlobals(t *testing.T, g *globals) {
	t.Helper()
	if g.brokers != "b1:9092,b2:9092" || g.registry != "http://reg:8081" || g.configPath != "some.yaml" || g.logLevel != "debug" {
		t.Errorf("globals %+v, want the values typed", *g)
	}
}

// TestGlobalFlagsBeforeAndAfterEveryCommand: the global flags parse before
// the command and after it (and its subcommand), for every command of the
// table; --help stops each command before it does anything.
func TestGlobalFlagsBeforeAndAfterEveryCommand(t *testing.T) {
	for _, line := range commandLines() {
		name := strings.Join(line, " ")
		t.Run(name, func(t *testing.T) {
			before := append(append(append([]string{}, globalArgs...), line...), "--help")
			code, _, errs := capture(t, before...)
			if code != 0 {
				t.Fatalf("provbus %s: exit %d\n%s", strings.Join(before, " "), code, errs)
			}
			checkGlobals(t, cli)

			after := append(append(append([]string{}, line...), globalArgs...), "--help")
			code, _, errs = capture(t, after...)
			if code != 0 {
				t.Fatalf("provbus %s: exit %d\n%s", strings.Join(after, " "), code, errs)
			}
			checkGlobals(t, cli)
			for _, want := range []string{"global flags (before or after the command):", "-brokers", "example:\n  provbus " + line[0]} {
				if !strings.Contains(errs, want) {
					t.Errorf("--help lacks %q:\n%s", want, errs)
				}
			}

			// A bad --log-level after the command is refused as before it.
			bad := append(append([]string{}, line...), "--log-level", "loud", "--help")
			if code, _, errs := capture(t, bad...); code != 2 || !strings.Contains(errs, "--log-level") {
				t.Errorf("provbus %s: exit %d, want 2 naming --log-level\n%s", strings.Join(bad, " "), code, errs)
			}
		})
	}
}

// TestFlagsAfterCommandTakeEffect: a global flag typed after the command
// reaches the configuration, and wins over the environment.
func TestFlagsAfterCommandTakeEffect(t *testing.T) {
	t.Setenv("PROVBUS_BROKERS", "from-env:9092")
	out := filepath.Join(t.TempDir(), "asyncapi.json")
	if code, _, errs := capture(t, "topology", "asyncapi", "--out", out, "--brokers", "after:9092"); code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers map[string]struct {
			Host string `json:"host"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if h := doc.Servers["kafka"].Host; h != "after:9092" {
		t.Errorf("server host %q, want after:9092 (the flag after the command)", h)
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	for _, n := range commandNames() {
		if ex := commands[n].example; !strings.HasPrefix(ex, "provbus ") && !strings.Contains(ex, "provbus "+n) {
			t.Errorf("command %s: example %q does not show provbus %s", n, ex, n)
		}
	}
}

func TestUnknownFlagSuggestsNearest(t *testing.T) {
	for _, line := range commandLines() {
		argv := append(append([]string{}, line...), "--brokrs", "x:1")
		code, _, errs := capture(t, argv...)
		if code != 2 || !strings.Contains(errs, "unknown flag -brokrs: did you mean --brokers?") {
			t.Errorf("provbus %s: exit %d, stderr %q", strings.Join(argv, " "), code, errs)
		}
	}
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"replay", "--topic", "t", "--fromm", "-1h"}, "unknown flag -fromm: did you mean --from?"},
		{[]string{"dlq", "list", "-reson", "x"}, "unknown flag -reson: did you mean --reason?"},
		{[]string{"--registy", "http://r", "catalog"}, "unknown flag -registy: did you mean --registry?"},
		{[]string{"replay", "--zzzzzzzz"}, "unknown flag -zzzzzzzz: see 'provbus replay --help'"},
		{[]string{"replya"}, `unknown command "replya": did you mean replay?`},
	} {
		code, _, errs := capture(t, c.argv...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("provbus %s: exit %d, want 2 and %q; stderr:\n%s", strings.Join(c.argv, " "), code, c.want, errs)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"from", "to", "format", "topic", "brokers", "log-level"}
	for typed, want := range map[string]string{"fro": "from", "formt": "format", "loglevel": "log-level", "brokres": "brokers", "xyz": "", "t": "to", "q": ""} {
		if got := nearest(typed, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", typed, got, want)
		}
	}
}

// completionScript returns provbus completion SHELL's output, written to
// a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errs := capture(t, "completion", shell)
	if code != 0 {
		t.Fatalf("completion %s: exit %d\n%s", shell, code, errs)
	}
	path := filepath.Join(t.TempDir(), "provbus."+shell)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// completionCase is a command line being typed (the last word is the one
// completed) and candidates that must, or must not, be offered.
type completionCase struct {
	line        []string
	want, avoid []string
}

func completionCases(t *testing.T) []completionCase {
	cases := []completionCase{
		{[]string{"rep"}, []string{"replay"}, []string{"tail"}},
		{[]string{"--brokers", "x:1", "ta"}, []string{"tail"}, nil},
		{[]string{"--log-level", "debug", "dlq", ""}, []string{"list", "redrive"}, []string{"--topic"}},
		{[]string{"dlq", "list", "--rea"}, []string{"--reason"}, nil},
		{[]string{"replay", "--format", "parquet", "--fr"}, []string{"--from"}, nil},
		{[]string{"catalog", "--form"}, []string{"--format"}, nil},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
		{[]string{"--"}, []string{"--brokers", "--registry", "--config", "--log-level"}, nil},
	}
	// Every flag of every command line, from the FlagSets themselves.
	spec, err := describeCommands(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spec {
		c := completionCase{line: []string{s.name}}
		if s.sub != "" {
			c.line = append(c.line, s.sub)
		}
		c.line = append(c.line, "--")
		for _, f := range s.flags {
			c.want = append(c.want, "--"+f.name)
		}
		cases = append(cases, c)
	}
	return cases
}

func checkCandidates(t *testing.T, shell string, c completionCase, got []string) {
	t.Helper()
	have := map[string]bool{}
	for _, w := range got {
		have[w] = true
	}
	for _, w := range c.want {
		if !have[w] {
			t.Errorf("%s: provbus %s: %q not offered (got %v)", shell, strings.Join(c.line, " "), w, got)
		}
	}
	for _, w := range c.avoid {
		if have[w] {
			t.Errorf("%s: provbus %s: %q offered", shell, strings.Join(c.line, " "), w)
		}
	}
}

// TestCompletionBash loads the script in bash and completes lines as bash
// would call it.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := completionScript(t, "bash")
	for _, c := range completionCases(t) {
		words := append([]string{"provbus"}, c.line...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_provbus\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "--norc", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		checkCandidates(t, "bash", c, strings.Fields(string(out)))
	}
}

// TestCompletionFish asks fish itself (complete -C) for the candidates.
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("no fish shell installed")
	}
	script := completionScript(t, "fish")
	for _, c := range completionCases(t) {
		line := "provbus " + strings.Join(c.line, " ")
		out, err := exec.Command("fish", "--no-config", "-c", "source "+script+"; complete -C "+fishQuote(line)).CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(string(out), "\n") {
			if w, _, _ := strings.Cut(l, "\t"); w != "" {
				got = append(got, w)
			}
		}
		checkCandidates(t, "fish", c, got)
	}
}

// TestCompletionZsh loads the script in zsh (compdef stubbed: no
// interactive completion system in a test) and runs its word logic.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("no zsh installed")
	}
	script := completionScript(t, "zsh")
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	for _, c := range completionCases(t) {
		words := append([]string{"provbus"}, c.line...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "compdef() { :; }\nsource " + script + "\nlocal cmd sub\n_provbus_context " + strings.Join(quoted, " ") +
			"\n_provbus_words '" + words[len(words)-1] + "'\n"
		out, err := exec.Command("zsh", "-f", "-c", "f() {\n"+prog+"}\nf").CombinedOutput()
		if err != nil {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
		var got []string
		for _, w := range strings.Fields(string(out)) {
			if strings.HasPrefix(w, words[len(words)-1]) {
				got = append(got, w)
			}
		}
		checkCandidates(t, "zsh", c, got)
	}
}

func TestHelpCommand(t *testing.T) {
	if code, _, errs := capture(t, "help"); code != 0 || !strings.Contains(errs, "replay") || !strings.Contains(errs, "-brokers host:port") {
		t.Errorf("provbus help: exit %d\n%s", code, errs)
	}
	firstLine := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
	if code, _, errs := capture(t, "help", "replay"); code != 0 || !strings.Contains(errs, firstLine(commands["replay"].example)) {
		t.Errorf("provbus help replay: exit %d\n%s", code, errs)
	}
	if code, _, errs := capture(t, "help", "dlq"); code != 0 || !strings.Contains(errs, "list|redrive") || !strings.Contains(errs, firstLine(commands["dlq"].example)) {
		t.Errorf("provbus help dlq: exit %d\n%s", code, errs)
	}
	if code, _, _ := capture(t, "completion"); code != 2 {
		t.Errorf("provbus completion without a shell: exit %d, want 2", code)
	}
}
