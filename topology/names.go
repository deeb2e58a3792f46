package topology

import (
	"strings"
	"unicode"
)

// Normalize returns the key Lookup matches names on: lower-cased, with all
// white space removed. The seeds spell the same type with stray spaces and
// different case ("Customer/AvailableFunds Appear", "Account/Id/Changed"), and
// webhook senders do too, so neither may decide whether an event is known.
func Normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Slug turns a handler name into the suffix of its topic (design §2):
// lower-cased, "::" and every other run of characters that are not ASCII
// letters or digits become one "-", trimmed at both ends. Only ASCII survives
// because Kafka topic names allow nothing else. Huawei::PCRF -> huawei-pcrf.
func Slug(handlerName string) string {
	var b strings.Builder
	dash := false
	for _, r := range handlerName {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		default:
			dash = true
			continue
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	return b.String()
}

// HandlerTopicPrefix starts every handler topic's name.
const HandlerTopicPrefix = "handler."

// HandlerTopic is the topic a handler's events are routed to:
// HandlerTopicPrefix + Slug(handlerName).
func HandlerTopic(handlerName string) string {
	return HandlerTopicPrefix + Slug(handlerName)
}

// isGlob reports whether a subscription or match entry is a pattern.
func isGlob(s string) bool { return strings.Contains(s, "*") }

// GlobMatch reports whether name matches pattern, the catalog's glob rule:
// "*" matches any run of characters, "/" and "." included, so
// CONNECTIVITY-MANAGEMENT/PORTABILITY/UK/* reaches every level below UK.
// Callers normalize both sides as they need (Normalize for event types).
func GlobMatch(pattern, name string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == name
	}
	if !strings.HasPrefix(name, pattern[:star]) {
		return false
	}
	rest := pattern[star+1:]
	for i := star; i <= len(name); i++ {
		if GlobMatch(rest, name[i:]) {
			return true
		}
	}
	return false
}
