package directory

import (
	"slices"
	"strings"
	"sync"

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
	wm     map[inputPart]int64 // directory input partition → watermark (offset)
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
		mp = &memberPart{owners: map[int64]*group{}, wm: map[inputPart]int64{}}
		m.parts[p] = mp
	}
	return mp
}

// Apply applies one changelog record of partition p: a membership row
// "<owner>/<account>" (tombstone = left) or a watermark record (see
// watermark.go).
func (m *Members) Apply(p int32, r *kgo.Record) error {
	if ok, err := m.applyWatermark(p, r); ok {
		return err
	}
	owner, account, err := parseMemberKey(string(r.Key))
	if err != nil {
		return err
	}
	closed := len(r.Value) > 0 && strings.Contains(string(r.Value), `"closed":true`)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.part(p).set(owner, account, r.Value == nil, closed)
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

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
