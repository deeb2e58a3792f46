package benchmark

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine describes where a run happened; BENCHMARKS.md needs it to be
// read at all.
type Machine struct {
	CPU    string
	Cores  int
	Memory string
	Go     string
	OS     string
}

// ThisMachine reads the CPU model and memory from /proc where it exists.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPU: "unknown", Memory: "unknown"}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d", &kb); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WriteTable prints rows as an aligned text table.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tMETRIC\tPROVBUS\tBASELINE\tRATIO\tTARGET\tNOTE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Step, r.Metric, num(r.Provbus, r.Unit), num(r.Baseline, r.Unit), ratio(r), r.Target, r.Note)
	}
	return tw.Flush()
}

// WriteMarkdown writes the table as Markdown rows (no heading).
func WriteMarkdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| step | metric | provbus | baseline | ratio | target | note |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Step, r.Metric, num(r.Provbus, r.Unit), num(r.Baseline, r.Unit), ratio(r), r.Target, r.Note)
	}
}

// WriteRun writes one run's section: machine, command, table.
func WriteRun(w io.Writer, m Machine, command, context string, took time.Duration, rows []Row) {
	fmt.Fprintf(w, "Machine: %s, %d cores, %s memory, %s, %s. Run %s, took %s.\n\n", m.CPU, m.Cores, m.Memory, m.Go, m.OS,
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), took.Round(time.Second))
	fmt.Fprintf(w, "Reproduce: `%s`\n\n", command)
	if context != "" {
		fmt.Fprintf(w, "Also running on the machine: %s\n\n", context)
	}
	WriteMarkdown(w, rows)
}

func num(v float64, unit string) string {
	switch {
	case v == 0:
		return "—"
	case unit == "s" || unit == "ms" || unit == "B":
		if v < 10 {
			return fmt.Sprintf("%.2f %s", v, unit)
		}
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM %s", v/1e6, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk %s", v/1e3, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func ratio(r Row) string {
	if x := r.Ratio(); x > 0 {
		return fmt.Sprintf("%.2f×", x)
	}
	return "—"
}
