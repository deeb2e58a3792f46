package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/provision"
	"github.com/provbus/provbus/schemas"
)

func init() {
	commands["schemas"] = command{
		summary:     "compare, register or export the Avro schemas (check|register|export)",
		example:     "provbus schemas check --registry http://127.0.0.1:8081\nprovbus schemas export --dir schemas/avro",
		subcommands: []string{"check", "register", "export"},
		run:         runSchemas,
	}
}

// errIncompatible makes `provbus schemas check` exit non-zero.
var errIncompatible = errors.New("schema changes break BACKWARD_TRANSITIVE")

func runSchemas(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: provbus schemas check|register|export", errUsage)
	}
	fs := flag.NewFlagSet("schemas "+args[0], flag.ContinueOnError)
	file := fs.String("file", "", "check: a .avsc file to check instead of the built-in schemas (needs --subject)")
	subject := fs.String("subject", "", "check: the subject --file would be registered under")
	dir := fs.String("dir", "schemas/avro", "export: directory to write the .avsc files to")
	if err := parseFlagsArgs(fs, "", args[1:]); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	switch args[0] {
	case "export":
		if err := provision.WriteAVSC(*dir, e.layout()); err != nil {
			return err
		}
		fmt.Printf("wrote the .avsc files to %s\n", *dir)
		return nil
	case "check", "register":
	default:
		return fmt.Errorf("%w: unknown schemas command %q", errUsage, args[0])
	}
	reg, err := e.registryClient()
	if err != nil {
		return err
	}
	wanted, err := wantedSchemas(e, *file, *subject)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "SUBJECT\tSTATUS")
	broken := false
	for _, w := range wanted {
		d, err := provision.Diff(ctx, reg, w.subject, w.text)
		if err != nil {
			return err
		}
		status := provision.DescribeDiff(d)
		if d.Incompatible != nil {
			broken = true
		} else if args[0] == "register" && !d.Registered {
			ss, err := reg.CreateSchema(ctx, w.subject, sr.Schema{Schema: w.text, Type: sr.TypeAvro})
			if err != nil {
				return fmt.Errorf("register %s: %w", w.subject, err)
			}
			status = fmt.Sprintf("registered now: id %d, version %d", ss.ID, ss.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\n", w.subject, status)
	}
	if broken {
		tw.Flush()
		return errIncompatible
	}
	return nil
}

type wantedSchema struct{ subject, text string }

func wantedSchemas(e *env, file, subject string) ([]wantedSchema, error) {
	if file != "" {
		if subject == "" {
			return nil, fmt.Errorf("%w: --file needs --subject", errUsage)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if _, err := schemas.Parse(string(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return []wantedSchema{{subject, string(b)}}, nil
	}
	var out []wantedSchema
	for _, s := range e.layout() {
		if !s.Avro {
			continue
		}
		text, err := schemas.ValueSchema(s.Logical)
		if err != nil {
			return nil, err
		}
		out = append(out, wantedSchema{schemas.Subject(s.Name), text})
	}
	return out, nil
}
