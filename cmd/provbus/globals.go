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

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.brokers, "brokers", "", "comma-separated Kafka seed brokers (env PROVBUS_BROKERS; default 127.0.0.1:9092)")
	fs.StringVar(&g.registry, "registry", "", "Schema Registry URL (env PROVBUS_REGISTRY; default http://127.0.0.1:8081)")
	fs.StringVar(&g.configPath, "config", "", "path to provbus.yaml (env PROVBUS_CONFIG)")
	fs.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (default info)")
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
