package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates rendered inside layout.html.
var pageNames = []string{"flow", "handlers", "handler", "entities", "event", "catalog", "dlq", "quarantine", "error"}

type pages struct{ t map[string]*template.Template }

var funcs = template.FuncMap{
	"count": count,
	"rate":  rate,
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") },
	"deref": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	// abbr shortens a long id (inherited ids are hashes); the title
	// attribute next to it holds the whole.
	"abbr": func(s string) string {
		if len(s) > 14 {
			return s[:12] + "…"
		}
		return s
	},
	"ms":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"add":  func(a, b int) int { return a + b },
	"colX": func(i int) int { return margin + i*(nodeW+colGap) },
	// short fits a label in a node (the tooltip has it whole).
	"short": func(s string) string {
		if r := []rune(s); len(r) > 26 {
			return string(r[:25]) + "…"
		}
		return s
	},
}

func parsePages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, ".")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// layoutData is what layout.html sees around every page.
type layoutData struct {
	Title   string
	Path    string
	Section string // the nav entry the page belongs to: "", "handlers", …
	Page    any
	Signed  bool   // the reader is authenticated: action forms are live
	CanAct  bool   // credentials are configured at all
	CSRF    string // the reader's CSRF token, for action forms
	Flash   string // the result of the last action (?done=…)
	LoginTo string
}

// render writes v inside the layout. The page is rendered to a buffer
// first, so a template error becomes a 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, v view) {
	id := whoOf(r)
	section, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	d := layoutData{Title: v.title, Path: r.URL.Path, Section: section, Page: v.data, Signed: id.authenticated, CanAct: s.creds.Configured(),
		Flash: s.flash(r), LoginTo: Prefix + "login?back=" + r.URL.EscapedPath()}
	if id.authenticated {
		d.CSRF = s.csrf.token(id.principal)
	}
	var buf bytes.Buffer
	t := s.pages.t[v.tmpl]
	if err := t.Execute(&buf, d); err != nil {
		s.log.Error("console template", zap.String("template", v.tmpl), zap.Error(err))
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if v.status != 0 {
		w.WriteHeader(v.status)
	}
	w.Write(buf.Bytes()) //nolint:errcheck // the reader went away
}

// count renders a number compactly: 999, 12.3k, 4.5M.
func count(n int64) string {
	switch {
	case n < 10_000 && n > -10_000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
}

// rate renders a per-second rate; a negative one is not measured yet (the
// first sample has nothing to compare with).
func rate(r float64) string {
	switch {
	case r < 0:
		return "–/s"
	case r == 0:
		return "0/s"
	case r < 10:
		return fmt.Sprintf("%.1f/s", r)
	default:
		return count(int64(r+0.5)) + "/s"
	}
}

func sortGroups(gs []groupStat) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].Group < gs[j].Group })
}
