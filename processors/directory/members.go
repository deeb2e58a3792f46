package directory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Member is one account of a customer or product.
type Member struct {
	Account int64
	Closed  bool
}

// Members is a membership table (customer → accounts, or product →
// accounts) partitioned like its changelog, plus the directory's
// watermarks found in each partition. The dispatchers follow it: Apply runs
// on the runner's tail goroutine while Accounts and Wait run on the poll
// loop, hence the lock.
type Members struct {
	mu      sync.Mutex
	parts   map[int32]*memberPart
	changed chan struct{} // closed and replaced whenever a watermark moves
}

type memberPart struct {
	owners map[int64]*group
	wm     map[int32]int64 // account partition → watermark (unix ms)
}

// group keeps one owner's accounts in a slice (16 bytes each) and adds an
// index only for large owners, so a million one-account customers cost no
// million maps while a 100 000-account customer updates in O(1).
type group struct {
	list []Member
	idx  map[int64]int32
}

const indexAbove = 32

// NewMembers returns an empty table.
func NewMembers() *Members {
	return &Members{parts: map[int32]*memberPart{}, changed: make(chan struct{})}
}

func (m *Members) part(p int32) *memberPart {
	mp := m.parts[p]
	if mp == nil {
		mp = &memberPart{owners: map[int64]*group{}, wm: map[int32]int64{}}
		m.parts[p] = mp
	}
	return mp
}

// Apply applies one changelog record of partition p: a membership row
// "<owner>/<account>" (tombstone = left), a packed watermark record
// "wm/set/<n>" = "<partition>=<ms>,…", or a watermark "wm/<partition>" as
// versions before the packed records wrote them.
func (m *Members) Apply(p int32, r *kgo.Record) error {
	key := string(r.Key)
	if strings.HasPrefix(key, watermarkSet) {
		return m.applySet(p, r.Value)
	}
	if strings.HasPrefix(key, watermarkPrefix) {
		ap, err := strconv.ParseInt(key[len(watermarkPrefix):], 10, 32)
		if err != nil {
			return fmt.Errorf("watermark key %q: %w", key, err)
		}
		ms, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			return fmt.Errorf("watermark %q: %w", r.Value, err)
		}
		m.mu.Lock()
		mp := m.part(p)
		if ms > mp.wm[int32(ap)] {
			mp.wm[int32(ap)] = ms
			close(m.changed)
			m.changed = make(chan struct{})
		}
		m.mu.Unlock()
		return nil
	}
	owner, account, err := parseMemberKey(key)
	if err != nil {
		return err
	}
	closed := len(r.Value) > 0 && strings.Contains(string(r.Value), `"closed":true`)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.part(p).set(owner, account, r.Value == nil, closed)
	return nil
}

// applySet applies a packed watermark record to partition p.
func (m *Members) applySet(p int32, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := m.part(p)
	moved := false
	for rest := string(value); rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, ",")
		ps, ms, ok := strings.Cut(pair, "=")
		ap, err := strconv.ParseInt(ps, 10, 32)
		if err == nil {
			var v int64
			v, err = strconv.ParseInt(ms, 10, 64)
			if ok && err == nil && v > mp.wm[int32(ap)] {
				mp.wm[int32(ap)] = v
				moved = true
			}
		}
		if !ok || err != nil {
			return fmt.Errorf("watermark set %q: want <partition>=<ms>,…", value)
		}
	}
	if moved {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

func (mp *memberPart) set(owner, account int64, leave, closed bool) {
	g := mp.owners[owner]
	if g == nil {
		if leave {
			return
		}
		g = &group{}
		mp.owners[owner] = g
	}
	i := g.find(account)
	switch {
	case leave && i >= 0:
		last := len(g.list) - 1
		if i != last {
			g.list[i] = g.list[last]
			if g.idx != nil {
				g.idx[g.list[i].Account] = int32(i)
			}
		}
		g.list = g.list[:last]
		if g.idx != nil {
			delete(g.idx, account)
		}
		if len(g.list) == 0 {
			delete(mp.owners, owner)
		}
	case leave:
	case i >= 0:
		g.list[i].Closed = closed
	default:
		g.list = append(g.list, Member{Account: account, Closed: closed})
		if g.idx != nil {
			g.idx[account] = int32(len(g.list) - 1)
		} else if len(g.list) > indexAbove {
			g.idx = make(map[int64]int32, len(g.list))
			for j, mm := range g.list {
				g.idx[mm.Account] = int32(j)
			}
		}
	}
}

func (g *group) find(account int64) int {
	if g.idx != nil {
		if i, ok := g.idx[account]; ok {
			return int(i)
		}
		return -1
	}
	for i, mm := range g.list {
		if mm.Account == account {
			return i
		}
	}
	return -1
}

// Drop forgets partition p.
func (m *Members) Drop(p int32) {
	m.mu.Lock()
	delete(m.parts, p)
	m.mu.Unlock()
}

// Accounts appends owner's open accounts in partition p to dst, sorted by
// account id so fan-out indexes are the same on every replay; closed
// accounts are skipped.
func (m *Members) Accounts(p int32, owner int64, dst []Member) []Member {
	m.mu.Lock()
	if mp := m.parts[p]; mp != nil {
		if g := mp.owners[owner]; g != nil {
			for _, mm := range g.list {
				if !mm.Closed {
					dst = append(dst, mm)
				}
			}
		}
	}
	m.mu.Unlock()
	slices.SortFunc(dst, func(a, b Member) int { return cmpInt(a.Account, b.Account) })
	return dst
}

// Len returns the number of membership rows (closed included) held.
func (m *Members) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, mp := range m.parts {
		for _, g := range mp.owners {
			n += len(g.list)
		}
	}
	return n
}

// Wait blocks until partition p's watermarks from every one of the
// accountPartitions are at or past ts — the directory has applied every
// account fact with an earlier timestamp — or maxWait passes. It reports
// whether the watermark was reached.
func (m *Members) Wait(ctx context.Context, p int32, accountPartitions int32, ts time.Time, maxWait time.Duration) bool {
	want := ts.UnixMilli()
	var timer *time.Timer
	for {
		m.mu.Lock()
		ok := m.reached(p, accountPartitions, want)
		ch := m.changed
		m.mu.Unlock()
		if ok {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(maxWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Reached reports whether partition p's watermarks from every one of the
// accountPartitions are at or past ts (Wait without waiting).
func (m *Members) Reached(p int32, accountPartitions int32, ts time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reached(p, accountPartitions, ts.UnixMilli())
}

func (m *Members) reached(p, n int32, want int64) bool {
	mp := m.parts[p]
	if mp == nil {
		return false
	}
	for a := int32(0); a < n; a++ {
		if mp.wm[a] < want {
			return false
		}
	}
	return true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
