package simulate

import (
	"math/rand/v2"
	"strconv"
)

// accountState is where a PortaBilling account is in its lifecycle.
type accountState uint8

const (
	accNone accountState = iota // not created yet: only Account/New is valid
	accActive
	accBlocked
	accSuspended
	accClosed // terminal
)

// customer is a PortaBilling customer and the accounts it will own.
type customer struct {
	id        int64
	created   bool
	suspended bool
	accounts  []int64 // account ids, created in order
	nextAcc   int     // accounts[:nextAcc] exist
}

// account is a PortaBilling account.
type account struct {
	id       int64
	customer int64
	product  int64
	state    accountState
}

// sim is a Transatel SIM card and its subscriber state.
type sim struct {
	iccid, msisdn, imsi string
	state               simState
	holiday             bool
	flow                *flow // portability flow in progress, nil when none
}

// simState follows Transatel's subscriber lifecycle: PREACTIVATED →
// ACTIVATED → SUSPENDED → REACTIVATED → TERMINATED.
type simState uint8

const (
	simNone simState = iota
	simPreactivated
	simActive
	simSuspended
	simTerminated
)

// flow is a portability request in progress: the event types still to
// send, in order.
type flow struct {
	steps []string
	ref   string // the porting reference the operator quotes
}

// client is a JeraSoft client with its accounts and subscriptions.
type client struct {
	id            int64
	created       bool
	archived      bool
	accounts      int   // accounts created so far
	wantAccounts  int   // how many it will have
	subscriptions []sub // created subscriptions
}

type sub struct {
	id     int64
	active bool
	closed bool
}

// population is every entity the generator draws from. It is built once
// from the seed, so the same seed gives the same population.
type population struct {
	customers []customer
	// createdCustomers counts the customers that exist: they are created
	// in order, so customers[:createdCustomers].
	createdCustomers int
	accounts         map[int64]*account
	created          []int64 // accounts that exist, in creation order
	products         []int64
	dids             []did
	sims             []sim
	clients          []client
	nextSubID        int64
}

type did struct {
	id     int64
	number string
	state  uint8 // 0 none, 1 new, 2 assigned, 3 deleted
	acct   int64
}

// accountsPerCustomer draws a skewed size: most customers are residential
// (1–5 accounts), some are small businesses, very few are enterprises or
// resellers with thousands of accounts — the shape that makes customer
// events expensive to fan out.
func accountsPerCustomer(r *rand.Rand) int {
	switch x := r.Float64(); {
	case x < 0.70:
		return 1 + r.IntN(2)
	case x < 0.92:
		return 3 + r.IntN(3)
	case x < 0.985:
		return 6 + r.IntN(45)
	case x < 0.999:
		return 51 + r.IntN(450)
	default:
		return 1000 + r.IntN(4001)
	}
}

// newPopulation builds customers, accounts, products, DIDs, SIMs and
// JeraSoft clients sized from customers.
func newPopulation(r *rand.Rand, customers int) *population {
	p := &population{accounts: map[int64]*account{}, nextSubID: 70_000_001}
	for i := 1; i <= 20; i++ {
		p.products = append(p.products, int64(100+i))
	}
	acc := int64(5_000_001)
	p.customers = make([]customer, customers)
	for i := range p.customers {
		c := &p.customers[i]
		c.id = int64(1_000_001 + i)
		n := accountsPerCustomer(r)
		c.accounts = make([]int64, n)
		// A customer's accounts mostly share a product (one offer sold to
		// one business); residential ones pick their own.
		product := p.products[r.IntN(len(p.products))]
		for j := range c.accounts {
			c.accounts[j] = acc
			pr := product
			if r.IntN(4) == 0 {
				pr = p.products[r.IntN(len(p.products))]
			}
			p.accounts[acc] = &account{id: acc, customer: c.id, product: pr}
			acc++
		}
	}
	p.dids = make([]did, customers/2+1)
	for i := range p.dids {
		p.dids[i] = did{id: int64(30_001 + i), number: "3319" + pad(int64(1_000_000+i), 7)}
	}
	p.sims = make([]sim, 2*customers+1)
	for i := range p.sims {
		n := int64(i)
		p.sims[i] = sim{
			iccid:  "893301" + pad(100_000_000_000+n, 13),
			msisdn: "336" + pad(10_000_000+n*7, 8),
			imsi:   "20801" + pad(1_000_000_000+n, 10),
		}
	}
	p.clients = make([]client, customers/4+1)
	for i := range p.clients {
		p.clients[i] = client{id: int64(9_001 + i), wantAccounts: 1 + r.IntN(3)}
	}
	return p
}

// pad renders n in decimal, left-padded with zeros to width (or wider).
func pad(n int64, width int) string {
	s := strconv.FormatInt(n, 10)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
