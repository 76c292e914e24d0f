// Package langtest finds English words in text that should be Swedish or
// Norwegian: the check behind the tests that every piece of system text
// in a mail comes in the reader's language. It is for tests only.
package langtest

import (
	"regexp"
	"strings"
)

// Words are English words no Swedish or Norwegian mail may show. (Words
// the languages share — for, over, at, to, in, man — are left out, and so
// are rules.yaml's condition keys such as subject and body.)
var Words = regexp.MustCompile(`(?i)\b(the|and|your|you|case|cases|reply|replies|please|due|overdue|requester|` +
	`attachments?|level|with|from|has|been|hello|routine|reason|comment|internal|note|this|that|which|will|` +
	`assigned|escalated|resolved|waiting|supplier|answer|message|priority|service|unit|created|why|how|not|never|` +
	`here|there|what|when|who|only|also|open|closed|new|received|thank|thanks|regards|link|expired|error|` +
	`unknown|command|commands|of|our|we|us|is|are|was|were|it|its|on|by|as|or|if|` +
	// the routing trail's and the sender authentication's
	`rule|rung|tags|holders?|assignee|dropped|classified|skipped|matched|match|keyword|among|held|nobody|` +
	`everyone|away|none|default|proposed|member|domain|failed|passed|aligned|signature|header|field|sender's|` +
	`authentication|authenticated|trusted|nothing|could|read|address|shown|others|` +
	// how a mail was matched to its case
	`token|references?|tag|bounce|merged|into)\b`)

// notWords are #commands and #case numbers (the same in every language),
// addresses, links and header names (Authentication-Results).
var notWords = regexp.MustCompile(`#\w+|\S+@\S+|https?://\S+|\b[A-Z]\w*(-[A-Z]\w*)+\b`)

// Durations are lengths of time as Go writes them (5h0m0s, 1m0s, 2h15m)
// or rules.yaml does in more than one unit (2d3h): a mail words them for
// people (notify.Span). One unit (2d, 4h) is how #wait and its help are
// written, so it is not one of them.
var Durations = regexp.MustCompile(`\b\d+(h\d+m(\d+s)?|m\d+s|d\d+[hms](\d+[ms])*)\b`)

// English lists the English words in text (a mail's subject and text),
// and durations written as Go or rules.yaml writes them, once each,
// leaving out #commands, addresses and links.
func English(text string) []string {
	seen := map[string]bool{}
	var out []string
	text = notWords.ReplaceAllString(text, "")
	for _, w := range append(Words.FindAllString(text, -1), Durations.FindAllString(text, -1)...) {
		if l := strings.ToLower(w); !seen[l] {
			seen[l] = true
			out = append(out, w)
		}
	}
	return out
}
