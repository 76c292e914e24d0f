package config

import (
	"net/textproto"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cond is a rule's `when`: every key given must hold (an implicit AND).
// An empty Cond matches every mail.
type Cond struct {
	From       *Matcher `yaml:"from"`        // sender address
	FromDomain *Matcher `yaml:"from_domain"` // sender domain; equals/in also match subdomains
	To         *Matcher `yaml:"to"`          // any To address
	Cc         *Matcher `yaml:"cc"`          // any Cc address
	Recipient  *Matcher `yaml:"recipient"`   // any To, Cc or Delivered-To address
	Subject    *Matcher `yaml:"subject"`
	Body       *Matcher `yaml:"body"`
	Header     Headers  `yaml:"header"` // {Name: matcher}; any value of the header
	// HasAttachment, when set, requires the mail to have (or lack) attachments.
	HasAttachment *bool `yaml:"has_attachment"`
	// BusinessHours names a calendar; the mail must arrive while it is open.
	BusinessHours string  `yaml:"business_hours"`
	All           []*Cond `yaml:"all"`
	Any           []*Cond `yaml:"any"`
	Not           *Cond   `yaml:"not"`
	Pos           Pos
	positions
}

// Headers are header conditions, in file order.
type Headers []HeaderCond

// HeaderCond matches the values of one header (name canonicalised).
type HeaderCond struct {
	Name  string
	Match *Matcher
	Pos   Pos
}

func (*Headers) describe() (string, string) {
	return "a mapping of header names to matchers", "header conditions"
}

func (h *Headers) decodeNode(d *decoder, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "expected a mapping of header names to matchers, got %s", got(n))
		return
	}
	d.eachPair(n, func(k, v *yaml.Node) {
		name := strings.TrimSpace(k.Value)
		if name == "" || strings.ContainsAny(name, ": \t") {
			d.errorf(k, "bad header name %q", k.Value)
			return
		}
		m := &Matcher{}
		m.decodeNode(d, deref(v))
		*h = append(*h, HeaderCond{Name: textproto.CanonicalMIMEHeaderKey(name), Match: m, Pos: posOf(k)})
	})
}

// Matcher operators.
const (
	OpEquals   = "equals"   // the value equals one of Values (case-insensitive)
	OpIn       = "in"       // the same as equals, written as a list
	OpContains = "contains" // the value contains one of Values (case-insensitive)
	OpMatches  = "matches"  // the regular expression Re matches the value
)

// Matcher tests a string field. Written as a plain string (equals,
// case-insensitive), a list (in), or a mapping with exactly one of
// equals, contains, matches (a Go regular expression, case-sensitive
// unless it starts with (?i)) or in.
type Matcher struct {
	Op string
	// Values are lower-cased (equals, in, contains).
	Values []string
	// Re is the compiled expression for matches; Source is its text.
	Re     *regexp.Regexp
	Source string
	Pos    Pos
}

func (*Matcher) describe() (string, string) {
	return "a string, a list, or a mapping with one of equals, contains, matches, in", "matchers"
}

// String renders the matcher the way it was written, for trails.
func (m *Matcher) String() string {
	switch m.Op {
	case OpMatches:
		return "matches " + m.Source
	case OpEquals:
		if len(m.Values) == 1 {
			return "equals " + m.Values[0]
		}
	}
	return m.Op + " [" + strings.Join(m.Values, ", ") + "]"
}

func (m *Matcher) decodeNode(d *decoder, n *yaml.Node) {
	m.Pos = posOf(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) {
			d.errorf(n, "expected a matcher (a string, a list, or a mapping with one of equals, contains, matches, in), got nothing")
			return
		}
		m.Op, m.Values = OpEquals, []string{strings.ToLower(n.Value)}
	case yaml.SequenceNode:
		m.Op = OpIn
		m.Values = d.lowerList(n)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			d.errorf(n, "a matcher takes exactly one of equals, contains, matches, in")
		}
		d.eachPair(n, func(k, v *yaml.Node) {
			if m.Op != "" {
				return // reported above
			}
			v = deref(v)
			switch k.Value {
			case OpEquals:
				m.Op = OpEquals
				if s, ok := d.scalar(v, "a string"); ok {
					m.Values = []string{strings.ToLower(s)}
				}
			case OpContains:
				m.Op = OpContains
				if v.Kind == yaml.SequenceNode {
					m.Values = d.lowerList(v)
				} else if s, ok := d.scalar(v, "a string or a list of strings"); ok {
					m.Values = []string{strings.ToLower(s)}
				}
				for _, s := range m.Values {
					if s == "" {
						d.errorf(v, "contains needs a non-empty string")
					}
				}
			case OpIn:
				m.Op = OpIn
				if v.Kind != yaml.SequenceNode {
					d.errorf(v, "expected a list of strings, got %s", got(v))
					return
				}
				m.Values = d.lowerList(v)
			case OpMatches:
				m.Op = OpMatches
				s, ok := d.scalar(v, "a regular expression")
				if !ok {
					return
				}
				re, err := regexp.Compile(s)
				if err != nil {
					d.errorf(v, "bad regular expression: %v", err)
					return
				}
				m.Re, m.Source = re, s
			default:
				d.errorf(k, "unknown matcher %q%s; allowed: equals, contains, matches, in", k.Value, suggest(k.Value, []string{"equals", "contains", "matches", "in"}))
			}
		})
	default:
		d.errorf(n, "expected a matcher, got %s", got(n))
	}
}

func (d *decoder) lowerList(n *yaml.Node) []string {
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s, ok := d.scalar(c, "a string"); ok {
			out = append(out, strings.ToLower(s))
		}
	}
	if len(out) == 0 && len(n.Content) == 0 {
		d.errorf(n, "empty list matches nothing")
	}
	return out
}
