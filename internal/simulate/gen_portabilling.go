package simulate

import "strconv"

// espfTime is ESPF's event_time layout (UTC).
const espfTime = "2006-01-02 15:04:05"

// pbAction is a kind of PortaBilling event the generator can emit.
type pbAction uint8

const (
	pbNewCustomer pbAction = iota
	pbNewAccount
	pbAccount
	pbCustomer
	pbDID
	pbBilling
	pbProduct
)

// pbActions is the PortaBilling mix: most traffic is about accounts
// (balance changes from rating, status changes from dunning), customers
// change less often, products rarely.
var pbActions = []weighted[pbAction]{
	{4, pbNewCustomer}, {10, pbNewAccount}, {60, pbAccount}, {12, pbCustomer},
	{5, pbDID}, {8, pbBilling}, {1, pbProduct},
}

// directActions is actions without those whose events accounts inherit
// (customer and product changes).
func directActions(actions []weighted[pbAction]) []weighted[pbAction] {
	var out []weighted[pbAction]
	for _, w := range actions {
		if w.v != pbCustomer && w.v != pbProduct {
			out = append(out, w)
		}
	}
	return out
}

func (g *Generator) portabilling() Event {
	for range 4 {
		if ev, ok := g.pbTry(pick(g.r, g.pbActions)); ok {
			return ev
		}
	}
	// Nothing drawn was possible (a fresh population, or a closed
	// account drawn four times): grow the population, else send what is
	// always possible (once a customer exists, billing events are).
	last := []pbAction{pbNewAccount, pbNewCustomer, pbCustomer, pbProduct}
	if g.directOnly {
		last = []pbAction{pbNewAccount, pbNewCustomer, pbBilling}
	}
	var ev Event
	for _, a := range last {
		var ok bool
		if ev, ok = g.pbTry(a); ok {
			break
		}
	}
	return ev
}

// espf starts an ESPF element of type t with the variables every event
// carries; the caller adds its own and calls end.
func (g *Generator) espf(t string) {
	g.o.b = g.o.b[:0]
	g.o.open().str("event_type", t).sub("variables").
		num("i_event", g.event).time("event_time", g.now, espfTime).num("i_env", 1)
	g.event++
}

func (g *Generator) espfEnd(t string) Event {
	g.o.close().close()
	return Event{Source: PortaBilling, Type: t, Body: g.body()}
}

func (g *Generator) pbTry(a pbAction) (Event, bool) {
	p := g.pop
	switch a {
	case pbNewCustomer:
		// Customers are created in order: customers[:createdCustomers]
		// exist.
		if p.createdCustomers == len(p.customers) {
			return Event{}, false
		}
		c := &p.customers[p.createdCustomers]
		p.createdCustomers++
		c.created = true
		g.espf("Customer/New")
		g.o.num("i_customer", c.id).str("name", "Customer "+strconv.FormatInt(c.id, 10)).str("iso_4217", "EUR")
		return g.espfEnd("Customer/New"), true
	case pbNewAccount:
		return g.pbNewAccount()
	case pbAccount:
		return g.pbAccountEvent()
	case pbCustomer:
		return g.pbCustomerEvent()
	case pbDID:
		return g.pbDIDEvent()
	case pbBilling:
		c := g.createdCustomer()
		if c == nil {
			return Event{}, false
		}
		if g.r.IntN(2) == 0 {
			g.espf("Invoice/New")
			g.o.num("i_customer", c.id).num("i_invoice", g.event).dec("amount_net", int64(g.r.IntN(20000)))
			return g.espfEnd("Invoice/New"), true
		}
		g.espf("PaymentTransaction/New")
		g.o.num("i_customer", c.id).num("i_payment_transaction", g.event).dec("amount", int64(g.r.IntN(10000)))
		return g.espfEnd("PaymentTransaction/New"), true
	case pbProduct:
		g.espf("Product/ServiceAttribute/Changed")
		g.o.num("i_product", p.products[g.r.IntN(len(p.products))]).str("service_attribute", "session_timeout")
		return g.espfEnd("Product/ServiceAttribute/Changed"), true
	}
	return Event{}, false
}

// createdCustomer returns a random customer that exists, or nil.
func (g *Generator) createdCustomer() *customer {
	p := g.pop
	if p.createdCustomers == 0 {
		return nil
	}
	return &p.customers[g.r.IntN(p.createdCustomers)]
}

// pbNewAccount creates the next account of an existing customer: an
// account never appears before its customer.
func (g *Generator) pbNewAccount() (Event, bool) {
	p := g.pop
	for range 8 {
		c := g.createdCustomer()
		if c == nil || c.nextAcc == len(c.accounts) {
			continue
		}
		a := p.accounts[c.accounts[c.nextAcc]]
		c.nextAcc++
		a.state = accActive
		p.created = append(p.created, a.id)
		g.espf("Account/New")
		g.o.num("i_account", a.id).num("i_customer", a.customer).num("i_product", a.product).
			str("id", "44"+strconv.FormatInt(a.id, 10)).str("billing_model", "1").dec("balance", 0)
		return g.espfEnd("Account/New"), true
	}
	return Event{}, false
}

// pbAccountEvent emits an event valid for a random existing account's
// state: an active account may be blocked, suspended or closed, a blocked
// one only unblocked, a closed one nothing.
func (g *Generator) pbAccountEvent() (Event, bool) {
	p := g.pop
	if len(p.created) == 0 {
		return Event{}, false
	}
	a := p.accounts[p.created[g.r.IntN(len(p.created))]]
	var t string
	switch a.state {
	case accActive:
		t = pick(g.r, []weighted[string]{
			{50, "Account/BalanceChanged"}, {8, "Account/ServiceAttribute/Changed"}, {4, "Account/Blocked"},
			{3, "Account/Status/Suspend"}, {2, "Account/Product/Changed"}, {2, "Account/ZeroAvailableFunds"},
			{2, "Account/Password/Changed"}, {1, "Account/Status/Closed"},
		})
	case accBlocked:
		t = pick(g.r, []weighted[string]{{3, "Account/Unblocked"}, {1, "Account/BalanceChanged"}})
	case accSuspended:
		t = pick(g.r, []weighted[string]{{3, "Account/Status/Unsuspend"}, {1, "Account/BalanceChanged"}})
	default:
		return Event{}, false
	}
	switch t {
	case "Account/Blocked":
		a.state = accBlocked
	case "Account/Unblocked", "Account/Status/Unsuspend":
		a.state = accActive
	case "Account/Status/Suspend":
		a.state = accSuspended
	case "Account/Status/Closed":
		a.state = accClosed
	case "Account/Product/Changed":
		a.product = p.products[g.r.IntN(len(p.products))]
	}
	g.espf(t)
	g.o.num("i_account", a.id)
	// ESPF sends i_customer with some account events and not others: the
	// directory has to know the owner.
	if t == "Account/Product/Changed" || g.r.IntN(2) == 0 {
		g.o.num("i_customer", a.customer)
	}
	switch t {
	case "Account/BalanceChanged", "Account/ZeroAvailableFunds":
		g.o.dec("balance", int64(g.r.IntN(50000))-5000).dec("prev_balance", int64(g.r.IntN(50000))).str("currency", "EUR")
	case "Account/Product/Changed":
		g.o.num("i_product", a.product)
	case "Account/ServiceAttribute/Changed":
		g.o.str("service_attribute", "max_sessions").str("value", strconv.Itoa(1+g.r.IntN(4)))
	}
	return g.espfEnd(t), true
}

// pbCustomerEvent emits a customer event; status changes alternate so a
// suspended customer is unsuspended before it is suspended again.
func (g *Generator) pbCustomerEvent() (Event, bool) {
	c := g.createdCustomer()
	if c == nil {
		return Event{}, false
	}
	var t string
	if c.suspended {
		t = "Customer/Status/Unsuspend"
		c.suspended = false
	} else {
		t = pick(g.r, []weighted[string]{
			{10, "Customer/BalanceChanged"}, {3, "Customer/Status/Suspend"}, {2, "Customer/ZeroAvailableFunds"},
			{2, "Customer/AvailableFundsAppear"}, {2, "Customer/ServiceAttribute/Changed"}, {1, "Customer/Name/Changed"},
		})
		c.suspended = t == "Customer/Status/Suspend"
	}
	g.espf(t)
	g.o.num("i_customer", c.id)
	if t == "Customer/BalanceChanged" {
		g.o.dec("balance", int64(g.r.IntN(500000))).str("currency", "EUR")
	}
	return g.espfEnd(t), true
}

// pbDIDEvent walks a DID number through New → Assigned → Unassigned →
// Deleted.
func (g *Generator) pbDIDEvent() (Event, bool) {
	p := g.pop
	d := &p.dids[g.r.IntN(len(p.dids))]
	var t string
	switch d.state {
	case 0:
		t, d.state = "DID/New", 1
	case 1:
		if len(p.created) == 0 {
			return Event{}, false
		}
		t, d.state, d.acct = "DID/Status/Assigned", 2, p.created[g.r.IntN(len(p.created))]
	case 2:
		t, d.state = "DID/Status/Unassigned", 3
	default:
		t, d.state, d.acct = "DID/Deleted", 0, 0
	}
	g.espf(t)
	g.o.num("i_did", d.id).str("number", d.number)
	if d.acct != 0 {
		g.o.num("i_account", d.acct)
	}
	return g.espfEnd(t), true
}
