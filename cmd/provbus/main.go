// Command provbus runs the provbus pipeline: the embedded development cluster,
// the webhook ingest, the stream processors and the operator tooling.
//
// main.go only parses the global flags and dispatches to a subcommand; each
// subcommand lives in its own file (cmd_<name>.go) and wires packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one provbus subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, g *globals, args []string) error
}

// commands is the subcommand table. Each entry's run function lives in
// cmd_<name>.go.
var commands = map[string]command{}

// errUsage marks an error caused by bad command-line input (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, argv []string) int {
	g := &globals{}
	fs := flag.NewFlagSet("provbus", flag.ContinueOnError)
	g.register(fs)
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		usage(fs)
		return 2
	}
	name, args := fs.Arg(0), fs.Args()[1:]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "provbus: unknown command %q\n\n", name)
		usage(fs)
		return 2
	}
	if err := g.resolve(); err != nil {
		fmt.Fprintf(os.Stderr, "provbus: %v\n", err)
		return 2
	}
	if err := cmd.run(ctx, g, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "provbus %s: %v\n", name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(fs *flag.FlagSet) {
	fmt.Fprintf(os.Stderr, "usage: provbus [global flags] <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nglobal flags:\n")
	fs.PrintDefaults()
}
