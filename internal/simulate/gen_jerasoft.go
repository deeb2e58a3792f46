package simulate

import "strconv"

// jsTime is the ISO 8601 form VCS writes event.dt in.
const jsTime = "2006-01-02T15:04:05-07:00"

// jerasoft emits the next event of a random client: a client is created
// first, then its accounts, then subscriptions (assigned, activated,
// renewed, deactivated, closed); money and DID events come from existing
// clients.
func (g *Generator) jerasoft() Event {
	p := g.pop
	c := &p.clients[g.r.IntN(len(p.clients))]
	switch {
	case !c.created || c.archived:
		c.created, c.archived, c.accounts, c.subscriptions = true, false, 0, c.subscriptions[:0]
		return g.vcs("clients.create", c.id, func(o *obj) {
			o.str("name", "Carrier "+strconv.FormatInt(c.id, 10)).str("currency", "USD").str("status", "active")
		})
	case c.accounts < c.wantAccounts:
		c.accounts++
		acc := c.id*10 + int64(c.accounts)
		return g.vcs("clients.accounts.create", acc, func(o *obj) {
			o.num("clients_id", c.id).str("auth_type", "ip").str("ip", "10.0."+strconv.Itoa(int(c.id%250))+"."+strconv.Itoa(c.accounts))
		})
	}
	t := pick(g.r, []weighted[string]{
		{6, "subscription"}, {4, "accounting.charges.create"}, {3, "accounting.payments.create"},
		{2, "clients.update"}, {1, "clients.balance_zero"}, {1, "clients.balance_notzero"},
		{1, "clients.custom_fields.update"}, {2, "did"}, {1, "clients.accounts.update"}, {1, "clients.archive"},
	})
	switch t {
	case "subscription":
		return g.vcsSubscription(c)
	case "did":
		return g.vcsDID(c)
	case "clients.archive":
		c.archived = true
	}
	return g.vcs(t, c.id, func(o *obj) {
		o.num("clients_id", c.id)
		if t == "accounting.charges.create" || t == "accounting.payments.create" {
			o.dec("amount", int64(g.r.IntN(100000))).str("currency", "USD")
		}
	})
}

// vcsSubscription moves one of the client's subscriptions on: a new one is
// assigned, an assigned one activated, an active one renewed or
// deactivated, a deactivated one closed.
func (g *Generator) vcsSubscription(c *client) Event {
	if len(c.subscriptions) == 0 || g.r.IntN(4) == 0 {
		s := sub{id: g.pop.nextSubID}
		g.pop.nextSubID++
		c.subscriptions = append(c.subscriptions, s)
		return g.vcs("clients.subscriptions.assign", s.id, func(o *obj) {
			o.num("clients_id", c.id).num("packages_id", int64(1+g.r.IntN(12)))
		})
	}
	i := g.r.IntN(len(c.subscriptions))
	s := &c.subscriptions[i]
	var t string
	switch {
	case s.closed:
		c.subscriptions = append(c.subscriptions[:i], c.subscriptions[i+1:]...)
		return g.vcsSubscription(c)
	case !s.active:
		if s.id%2 == 0 && g.r.IntN(3) == 0 {
			t, s.closed = "clients.subscriptions.close", true
		} else {
			t, s.active = "clients.subscriptions.activate", true
		}
	case g.r.IntN(4) == 0:
		t, s.active = "clients.subscriptions.deactivate", false
	default:
		t = "clients.subscriptions.renew"
	}
	id := s.id
	return g.vcs(t, id, func(o *obj) { o.num("clients_id", c.id) })
}

// vcsDID stocks, reserves and activates DIDs for the client.
func (g *Generator) vcsDID(c *client) Event {
	d := &g.pop.dids[g.r.IntN(len(g.pop.dids))]
	t := pick(g.r, []weighted[string]{{2, "dids.create"}, {2, "dids.reserve"}, {3, "dids.activate"}, {1, "dids.update"}, {1, "dids.hold"}})
	return g.vcs(t, d.id+500_000, func(o *obj) {
		o.str("number", "1"+d.number[2:]).num("clients_id", c.id)
	})
}

// vcs writes a VCS payload {"event": {dt, events_id, object_id}, "data":
// {…}}.
func (g *Generator) vcs(t string, objectID int64, data func(*obj)) Event {
	g.o.b = g.o.b[:0]
	g.o.open().sub("event").time("dt", g.now, jsTime).str("events_id", t).num("object_id", objectID).close().sub("data")
	data(&g.o)
	g.o.close().close()
	return Event{Source: JeraSoft, Type: t, Body: g.body()}
}
