package topology

// Topics that do not come from a catalog entry. Their names are contracts
// (design §1, §2): scripts and downstream teams read them.
const (
	// TopicQuarantine receives events that are well-formed but unknown or
	// unparseable, with the raw body and the reason, so nothing is dropped.
	TopicQuarantine = "provbus.quarantine"
	// TopicDLQ receives records a processor could not handle (poison), with
	// headers saying why.
	TopicDLQ = "provbus.dlq"
	// TopicAccountInherited receives the account events the dispatch
	// processors derive from customer and product events. The catalog also
	// lists it under Derived.
	TopicAccountInherited = "portabilling.account.inherited"
)

// HandlerTopics returns the topic of every handler that has one, sorted by
// handler name.
func (c *Catalog) HandlerTopics() []string {
	var out []string
	for _, h := range c.handlers {
		if h.Topic != "" {
			out = append(out, h.Topic)
		}
	}
	return out
}
