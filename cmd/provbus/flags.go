package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// cli is the globals of the command line being run: run sets it, and
// parseFlagsArgs binds the global flags typed after the command to it.
var cli *globals

// describe, when set, receives a command's FlagSet instead of it being
// parsed; the command then returns flag.ErrHelp before doing anything, as
// for --help. completion and the flag tests read the FlagSets this way, so
// the flags are declared once, in the command.
var describe func(fs *flag.FlagSet)

// stderr is where usage, help and errors go, stdout where completion
// scripts go (variables for the tests).
var (
	stderr io.Writer = os.Stderr
	stdout io.Writer = os.Stdout
)

// printHelp writes a command's --help: its usage text, its own flags, the
// global flags and its example.
func printHelp(w io.Writer, fs *flag.FlagSet, usage string) {
	name := fs.Name()
	cmd := commands[strings.Fields(name + " ")[0]]
	if usage == "" {
		usage = fmt.Sprintf("usage: provbus %s [flags]\n\n%s.\n\nflags:\n", name, cmd.summary)
	}
	fmt.Fprint(w, usage)
	printFlags(w, fs, func(n string) bool { return !isGlobalFlag(n) })
	fmt.Fprint(w, "\nglobal flags (before or after the command):\n")
	printFlags(w, fs, isGlobalFlag)
	if cmd.example != "" {
		fmt.Fprintf(w, "\nexample:\n%s\n", indent(cmd.example))
	}
}

// printFlags prints the flags of fs that keep selects, as PrintDefaults
// does.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(name string) bool) {
	sub := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	sub.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f.Name) {
			sub.Var(f.Value, f.Name, f.Usage)
			sub.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	sub.PrintDefaults()
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// explainFlagError rewrites the flag package's "flag provided but not
// defined: -x" to name the nearest flag of fs, if one is near.
func explainFlagError(fs *flag.FlagSet, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	if !strings.HasPrefix(msg, undefined) {
		return err
	}
	typed := strings.TrimPrefix(msg, undefined)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	hint := fmt.Sprintf("see 'provbus %s --help'", fs.Name())
	if near := nearest(strings.TrimLeft(typed, "-"), names); near != "" {
		hint = fmt.Sprintf("did you mean --%s?", near)
	}
	return errors.New("unknown flag -" + typed + ": " + hint)
}

// nearest returns the name closest to typed by edit distance, or "" when
// none is close enough to be what was meant: at most a third of the
// longer word's letters wrong, and never more than 3.
func nearest(typed string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		d := editDistance(typed, n)
		limit := max(len(typed), len(n)) / 3
		if d <= max(limit, 1) && d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
