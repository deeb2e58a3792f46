package main

import (
	"flag"
	"fmt"
	"os"
)

// globals holds the flags every subcommand shares (design §2): where the
// cluster and the registry are, and which configuration file to read.
type globals struct {
	brokers    string
	registry   string
	configPath string
	logLevel   string
	// defaultLogFormat is a subcommand's preferred log format, used when
	// neither the config file nor PROVBUS_LOG_FORMAT names one.
	defaultLogFormat string
}

// globalFlag is one global flag: where it is stored and what it says.
type globalFlag struct {
	name, usage string
	value       func(g *globals) *string
}

var globalFlags = []globalFlag{
	// A `word` in the usage names the value in --help (flag.UnquoteUsage).
	{"brokers", "Kafka seed brokers, a comma-separated `host:port` list (env PROVBUS_BROKERS; default 127.0.0.1:9092)", func(g *globals) *string { return &g.brokers }},
	{"registry", "Schema Registry `URL` (env PROVBUS_REGISTRY; default http://127.0.0.1:8081)", func(g *globals) *string { return &g.registry }},
	{"config", "`path` to provbus.yaml (env PROVBUS_CONFIG)", func(g *globals) *string { return &g.configPath }},
	{"log-level", "log `level`: debug, info, warn or error (default info)", func(g *globals) *string { return &g.logLevel }},
}

func (g *globals) register(fs *flag.FlagSet) { g.registerMissing(fs) }

// registerMissing adds the global flags to a command's FlagSet, so they
// work after the command's name too. A command's own flag of the same name
// keeps its meaning there (none has one today).
func (g *globals) registerMissing(fs *flag.FlagSet) {
	for _, f := range globalFlags {
		if fs.Lookup(f.name) == nil {
			// Var, not StringVar: StringVar would reset a value given
			// before the command to the default.
			fs.Var(stringRef{f.value(g)}, f.name, f.usage)
			fs.Lookup(f.name).DefValue = ""
		}
	}
}

// stringRef is a flag.Value over an existing string.
type stringRef struct{ p *string }

func (s stringRef) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

func (s stringRef) Set(v string) error { *s.p = v; return nil }

// isGlobalFlag reports whether name is one of the global flags.
func isGlobalFlag(name string) bool {
	for _, f := range globalFlags {
		if f.name == name {
			return true
		}
	}
	return false
}

// resolve fills unset flags from the environment. Flags win over the
// environment, which wins over the configuration file.
func (g *globals) resolve() error {
	if g.brokers == "" {
		g.brokers = os.Getenv("PROVBUS_BROKERS")
	}
	if g.registry == "" {
		g.registry = os.Getenv("PROVBUS_REGISTRY")
	}
	if g.configPath == "" {
		g.configPath = os.Getenv("PROVBUS_CONFIG")
	}
	// Checked here as well as in config validation, because some
	// commands (catalog, simulate, healthcheck) never load the
	// configuration and would otherwise accept any value silently.
	switch g.logLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level: %q is not debug, info, warn or error", g.logLevel)
	}
	return nil
}
