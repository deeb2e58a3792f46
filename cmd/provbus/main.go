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
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one provbus subcommand.
type command struct {
	summary string
	// example is what --help shows last: one or more typical command
	// lines, one per line.
	example string
	// subcommands are the words the command takes first (dlq list|redrive);
	// completion offers them and asks each for its flags.
	subcommands []string
	run         func(ctx context.Context, g *globals, args []string) error
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
	cli = g
	fs := flag.NewFlagSet("provbus", flag.ContinueOnError)
	g.register(fs)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs)
			return 0
		}
		fmt.Fprintf(stderr, "provbus: %v\n", explainFlagError(fs, err))
		return 2
	}
	if fs.NArg() == 0 {
		usage(fs)
		return 2
	}
	name, args := fs.Arg(0), fs.Args()[1:]
	if name == "help" { // provbus help [command]
		if len(args) == 0 {
			usage(fs)
			return 0
		}
		name, args = args[0], []string{"--help"}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "provbus: unknown command %q", name)
		if near := nearest(name, commandNames()); near != "" {
			fmt.Fprintf(stderr, ": did you mean %s?", near)
		}
		fmt.Fprint(stderr, "\n\n")
		usage(fs)
		return 2
	}
	if err := g.resolve(); err != nil {
		fmt.Fprintf(stderr, "provbus: %v\n", err)
		return 2
	}
	// A command with subcommands builds its FlagSet only once it knows
	// which: its own --help lists them.
	if len(cmd.subcommands) > 0 && len(args) == 1 && isHelp(args[0]) {
		commandHelp(name, cmd)
		return 0
	}
	if err := cmd.run(ctx, g, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "provbus %s: %v\n", name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(fs *flag.FlagSet) {
	fmt.Fprintf(stderr, "usage: provbus [global flags] <command> [flags]\n\ncommands:\n")
	for _, n := range commandNames() {
		fmt.Fprintf(stderr, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(stderr, "\nglobal flags (before or after the command):\n")
	fs.SetOutput(stderr)
	fs.PrintDefaults()
	fmt.Fprintf(stderr, "\n'provbus help <command>' or 'provbus <command> --help' shows a command's flags and an\nexample; 'provbus completion bash|zsh|fish' prints a shell completion script.\n")
}

// commandHelp is --help of a command that has subcommands.
func commandHelp(name string, cmd command) {
	fmt.Fprintf(stderr, "usage: provbus %s %s [flags]\n\n%s.\n", name, strings.Join(cmd.subcommands, "|"), cmd.summary)
	fmt.Fprintf(stderr, "'provbus %s %s --help' shows its flags.\n", name, cmd.subcommands[0])
	if cmd.example != "" {
		fmt.Fprintf(stderr, "\nexample:\n%s\n", indent(cmd.example))
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
