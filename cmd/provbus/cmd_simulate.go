package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/simulate"
)

// Registered here rather than in main.go so the simulate command is one file.
func init() {
	commands["simulate"] = command{
		summary: "send realistic PortaBilling, Transatel and JeraSoft traffic to an ingest",
		example: "provbus simulate --url http://127.0.0.1:8080 --rate 500 --duration 1m",
		run:     runSimulate,
	}
}

const simulateUsage = `usage: provbus simulate [flags]

Generates a population (customers with a skewed number of accounts,
products, DIDs, SIMs, JeraSoft clients) and sends lifecycle-respecting
events for all three sources to the ingest at --url, in each source's wire
format, signed or authenticated as ingest.auth in --config says (or as the
flags below override). Prints progress on stderr, then sent / accepted /
rejected counts and latency percentiles. The same --seed (and --start)
sends the same events.

flags:
`

func runSimulate(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the ingest's base URL")
	rate := fs.Float64("rate", 0, "events per second (0: as fast as the ingest answers)")
	duration := fs.Duration("duration", 0, "how long to send (default 10s unless --events)")
	events := fs.Int64("events", 0, "how many events to send (0: bounded by --duration)")
	batch := fs.Int("batch", 1, "ESPF events per request (a JSON array); Transatel and JeraSoft send one each")
	conns := fs.Int("connections", 16, "concurrent keep-alive connections")
	seed := fs.Uint64("seed", 1, "random seed: the same seed sends the same events")
	start := fs.String("start", "", "RFC 3339 time of the first event (default 2026-01-01T00:00:00Z)")
	customers := fs.Int("customers", 2000, "population size in customers (about 12 accounts each, skewed)")
	mix := fs.String("mix", "portabilling=70,transatel=20,jerasoft=10", "source weights")
	secret := fs.String("transatel-secret", "", "HMAC secret to sign Transatel bodies (default: the first of ingest.auth.transatel.secrets)")
	espfUser := fs.String("espf-user", "", "ESPF basic auth user (default ingest.auth.portabilling.username)")
	espfPass := fs.String("espf-password", "", "ESPF basic auth password (default ingest.auth.portabilling.password)")
	jsToken := fs.String("jerasoft-token", "", "JeraSoft token (default ingest.auth.jerasoft.token)")
	jsHeader := fs.String("jerasoft-header", "", "header carrying the JeraSoft token (default ingest.auth.jerasoft.header)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := parseFlags(fs, simulateUsage, args); err != nil {
		return err
	}
	cfg := simulate.Config{Seed: *seed, Customers: *customers}
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("%w: --start: %v", errUsage, err)
		}
		cfg.Start = t
	}
	m, err := parseMix(*mix)
	if err != nil {
		return err
	}
	cfg.Mix = m

	// Credentials default to the configuration the ingest itself reads,
	// so `provbus --config x.yaml simulate` just works.
	auth := config.Default().Ingest.Auth
	if c, err := config.Load(g.configPath); err == nil {
		auth = c.Ingest.Auth
	} else if g.configPath != "" {
		return err
	}
	cred := simulate.Credentials{
		ESPFUser: auth.PortaBilling.Username, ESPFPassword: auth.PortaBilling.Password,
		JeraSoftToken: auth.JeraSoft.Token, JeraSoftHeader: auth.JeraSoft.Header,
	}
	if len(auth.Transatel.Secrets) > 0 {
		cred.TransatelSecret = auth.Transatel.Secrets[0]
	}
	override(&cred.TransatelSecret, *secret)
	override(&cred.ESPFUser, *espfUser)
	override(&cred.ESPFPassword, *espfPass)
	override(&cred.JeraSoftToken, *jsToken)
	override(&cred.JeraSoftHeader, *jsHeader)

	opts := simulate.Options{
		URL: *url, Credentials: cred, Rate: *rate, Duration: *duration, Events: *events,
		Batch: *batch, Connections: *conns, Progress: os.Stderr,
	}
	if *quiet {
		opts.Progress = nil
	}
	rep, err := simulate.Run(ctx, simulate.New(cfg), opts)
	if err != nil {
		return err
	}
	fmt.Println(rep.String())
	if rep.Accepted == 0 && rep.Sent > 0 {
		return fmt.Errorf("no event accepted (statuses %v): is the ingest at %s, and are the credentials right?", rep.Statuses, *url)
	}
	return nil
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// parseMix reads "portabilling=70,transatel=20,jerasoft=10"; a source left
// out gets weight 0.
func parseMix(s string) (simulate.Mix, error) {
	var m simulate.Mix
	for _, part := range splitList(s) {
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("%w: --mix: %q is not source=weight", errUsage, part)
		}
		switch name {
		case simulate.PortaBilling:
			m.PortaBilling = n
		case simulate.Transatel:
			m.Transatel = n
		case simulate.JeraSoft:
			m.JeraSoft = n
		default:
			return m, fmt.Errorf("%w: --mix: unknown source %q", errUsage, name)
		}
	}
	if m == (simulate.Mix{}) {
		return m, fmt.Errorf("%w: --mix gives every source weight 0", errUsage)
	}
	return m, nil
}
