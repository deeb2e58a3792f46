package directory

// Row is the directory's account table entry: who the account belongs to.
// Zero ids mean "not known yet" (PortaBilling ids start at 1).
type Row struct {
	Customer int64 `json:"i_customer,omitempty"`
	Product  int64 `json:"i_product,omitempty"`
	Closed   bool  `json:"closed,omitempty"`
}

// Fact is what one input says about an account: nil fields say nothing.
type Fact struct {
	Account  int64
	Customer *int64
	Product  *int64
	Closed   *bool
}

// Kind says which membership table a change belongs to.
type Kind int

// The two membership tables.
const (
	CustomerMembers Kind = iota
	ProductMembers
)

// Change is one membership row to write: Account joins (or updates its
// closed mark in) Owner's membership, or leaves it.
type Change struct {
	Kind    Kind
	Owner   int64
	Account int64
	Leave   bool
	Closed  bool
}

// Apply is the directory's pure core: the new row for an account after a
// fact, and the membership changes that follow. An account that moves
// leaves the old owner and joins the new one; closing keeps the membership
// and marks it.
func Apply(old Row, f Fact) (Row, []Change) {
	row := old
	if f.Customer != nil {
		row.Customer = *f.Customer
	}
	if f.Product != nil {
		row.Product = *f.Product
	}
	if f.Closed != nil {
		row.Closed = *f.Closed
	}
	if row == old {
		return row, nil
	}
	var out []Change
	out = membership(out, CustomerMembers, f.Account, old.Customer, row.Customer, old.Closed, row.Closed)
	out = membership(out, ProductMembers, f.Account, old.Product, row.Product, old.Closed, row.Closed)
	return row, out
}

func membership(out []Change, k Kind, account, oldOwner, newOwner int64, oldClosed, newClosed bool) []Change {
	switch {
	case oldOwner != newOwner:
		if oldOwner != 0 {
			out = append(out, Change{Kind: k, Owner: oldOwner, Account: account, Leave: true})
		}
		if newOwner != 0 {
			out = append(out, Change{Kind: k, Owner: newOwner, Account: account, Closed: newClosed})
		}
	case newOwner != 0 && oldClosed != newClosed:
		out = append(out, Change{Kind: k, Owner: newOwner, Account: account, Closed: newClosed})
	}
	return out
}
