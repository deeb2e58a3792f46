package simulate

import (
	"strconv"
	"time"
)

const (
	tslPrefix = "CONNECTIVITY-MANAGEMENT/"
	tslSub    = tslPrefix + "SUBSCRIBER/"
	tslPort   = tslPrefix + "PORTABILITY/"
)

// Portability flows, step by step as Transatel reports them. A flow is
// chosen when it starts; its outcome (done, cancelled, refused) is part of
// the choice so every flow ends in a terminal event.
var (
	frPortIn = [][]string{
		{"FR/PORT_IN/ELIGIBILITY_OK", "FR/PORT_IN/GOP", "FR/PORT_IN/DONE"},
		{"FR/PORT_IN/ELIGIBILITY_OK", "FR/PORT_IN/CANCELED"},
		{"FR/PORT_IN/ELIGIBILITY_KO"},
	}
	frPortOut = [][]string{
		{"FR/PORT_OUT/ELIGIBILITY_OK", "FR/PORT_OUT/GOP", "FR/PORT_OUT/DONE"},
		{"FR/PORT_OUT/ELIGIBILITY_OK", "FR/PORT_OUT/CANCELED"},
		{"FR/PORT_OUT/ELIGIBILITY_KO"},
	}
	ukPortIn = [][]string{
		{"UK/PORT_IN/VALIDATED", "UK/PORT_IN/ATTACH/REQUESTED", "UK/PORT_IN/ATTACH/RECEIVED", "UK/PORT_IN/DONE"},
		{"UK/PORT_IN/VALIDATED", "UK/PORT_IN/ATTACH/REQUESTED", "UK/PORT_IN/ATTACH/FAILED", "UK/PORT_IN/CANCELED"},
		{"UK/PORT_IN/INVALIDATED"},
	}
	ukPortOut   = [][]string{{"UK/PORT_OUT/VALIDATED", "UK/PORT_OUT/DONE"}}
	ukSwitchIn  = [][]string{{"UK/SWITCH_IN/VALIDATED", "UK/SWITCH_IN/ATTACH/REQUESTED", "UK/SWITCH_IN/ATTACH/RECEIVED", "UK/SWITCH_IN/DONE"}, {"UK/SWITCH_IN/INVALIDATED"}}
	ukSwitchOut = [][]string{{"UK/SWITCH_OUT/VALIDATED", "UK/SWITCH_OUT/DONE"}}
)

// outcome picks a flow variant: mostly the successful one.
func (g *Generator) outcome(variants [][]string) []string {
	if len(variants) == 1 || g.r.IntN(100) < 80 {
		return variants[0]
	}
	return variants[1+g.r.IntN(len(variants)-1)]
}

func (g *Generator) transatel() Event {
	p := g.pop
	for range 8 {
		s := &p.sims[g.r.IntN(len(p.sims))]
		if s.flow != nil {
			return g.portStep(s)
		}
		if t, ok := g.simStep(s); ok {
			return g.tsl(s, tslSub+t, subscriberStatus(s.state))
		}
	}
	// Every SIM drawn was terminated: recycle one, as operators do.
	s := &p.sims[g.r.IntN(len(p.sims))]
	s.state, s.holiday = simPreactivated, false
	return g.tsl(s, tslSub+"PREACTIVATED", "PREACTIVATED")
}

// simStep advances a SIM's lifecycle by one event, or starts a
// portability flow (a ported-in number arrives on an active SIM; a
// ported-out one ends in termination).
func (g *Generator) simStep(s *sim) (string, bool) {
	switch s.state {
	case simNone:
		s.state = simPreactivated
		return "PREACTIVATED", true
	case simPreactivated:
		if g.r.IntN(10) == 0 {
			s.flow = g.startFlow(true)
			return "", false
		}
		s.state = simActive
		return "ACTIVATED", true
	case simActive:
		t := pick(g.r, []weighted[string]{
			{10, "MODIFIED"}, {4, "SUSPENDED"}, {2, "SIMCARD/SWAPPED"}, {1, "MSISDN/SWAPPED"},
			{2, "HOLIDAY"}, {2, "PORT"}, {1, "TERMINATED"},
		})
		switch t {
		case "SUSPENDED":
			s.state = simSuspended
		case "TERMINATED":
			s.state = simTerminated
		case "HOLIDAY":
			s.holiday = !s.holiday
			if s.holiday {
				return "HOLIDAY/ENTERED", true
			}
			return "HOLIDAY/EXITED", true
		case "PORT":
			s.flow = g.startFlow(false)
			return "", false
		}
		return t, true
	case simSuspended:
		if g.r.IntN(5) == 0 {
			s.state = simTerminated
			return "TERMINATED", true
		}
		s.state = simActive
		return "REACTIVATED", true
	}
	return "", false
}

// startFlow picks a portability flow: a port-in for a new SIM, a port-out
// or a UK switch for an active one; France and the UK about evenly.
func (g *Generator) startFlow(in bool) *flow {
	uk := g.r.IntN(2) == 0
	var v [][]string
	switch {
	case in && uk && g.r.IntN(4) == 0:
		v = ukSwitchIn
	case in && uk:
		v = ukPortIn
	case in:
		v = frPortIn
	case uk && g.r.IntN(4) == 0:
		v = ukSwitchOut
	case uk:
		v = ukPortOut
	default:
		v = frPortOut
	}
	ref := strconv.FormatInt(int64(g.r.Uint32()), 36)
	return &flow{steps: g.outcome(v), ref: ref}
}

// portStep sends a flow's next event and applies its end to the SIM: a
// completed port-in activates it, a completed port-out terminates it.
func (g *Generator) portStep(s *sim) Event {
	t := s.flow.steps[0]
	s.flow.steps = s.flow.steps[1:]
	ref := s.flow.ref
	if len(s.flow.steps) == 0 {
		s.flow = nil
		if len(t) > 5 && t[len(t)-5:] == "/DONE" {
			if containsAny(t, "PORT_IN", "SWITCH_IN") {
				s.state = simActive
			} else {
				s.state = simTerminated
			}
		}
	}
	ev := g.tslStart(s, tslPort+t)
	g.o.str("portingReference", ref)
	if t[:2] == "FR" {
		g.o.str("rio", "02P"+ref)
	} else {
		g.o.str("pac", "PAC"+ref)
	}
	return g.tslEnd(ev)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}

func subscriberStatus(s simState) string {
	switch s {
	case simPreactivated:
		return "PREACTIVATED"
	case simActive:
		return "ACTIVE"
	case simSuspended:
		return "SUSPENDED"
	case simTerminated:
		return "TERMINATED"
	}
	return "UNKNOWN"
}

// tslStart writes a Transatel message up to the open body object.
func (g *Generator) tslStart(s *sim, t string) string {
	g.o.b = g.o.b[:0]
	id := strconv.FormatUint(g.r.Uint64(), 16)
	g.o.open().sub("header").str("eventId", id).str("eventType", t).time("eventDate", g.now, time.RFC3339Nano).close().
		sub("body").str("transactionId", "tx-"+id[:8]).str("msisdn", s.msisdn).str("simSerial", s.iccid).str("imsi", s.imsi)
	return t
}

func (g *Generator) tslEnd(t string) Event {
	g.o.close().close()
	return Event{Source: Transatel, Type: t, Body: g.body()}
}

func (g *Generator) tsl(s *sim, t, status string) Event {
	g.tslStart(s, t)
	g.o.str("status", status).str("source", "api")
	return g.tslEnd(t)
}
