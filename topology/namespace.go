package topology

import "strings"

// Namespace is the topic prefix of one provbus installation (config
// topics.prefix). Inside provbus every topic has its logical name, the one
// the design and the catalog give; a Namespace turns it into the physical
// name a Kafka client or the registry sees, at the edges only.
type Namespace string

// Topic returns the physical name of a logical topic.
func (n Namespace) Topic(logical string) string { return string(n) + logical }

// Topics returns the physical names of logical topics.
func (n Namespace) Topics(logical []string) []string {
	if n == "" {
		return logical
	}
	out := make([]string, len(logical))
	for i, t := range logical {
		out[i] = string(n) + t
	}
	return out
}

// Logical returns the logical name of a physical topic, and false when the
// topic is not in this namespace.
func (n Namespace) Logical(physical string) (string, bool) {
	return strings.CutPrefix(physical, string(n))
}
