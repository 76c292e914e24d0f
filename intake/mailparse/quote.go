package mailparse

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	// Attribution lines before a quoted block, in English, Swedish,
	// Norwegian and Danish (plus German and French, which reach us too).
	attributionRE = regexp.MustCompile(`(?i)^\s*-{0,2}\s*(` +
		`on\b.+\bwrote\s*:?|` + // On Mon, 23 Nov 2026, Helpdesk <...> wrote:
		`den\b.+\bskrev\b.*|` + // Den 23 nov. 2026 kl. 09:15 skrev Helpdesk <...>:
		`.+\bskrev\s*(följande|følgende)?\s*:|` + // Helpdesk <...> skrev:
		`.+\bskrev\b.+:|` + // 23 nov. 2026 kl. 09:15 skrev Helpdesk <...>:
		`am\b.+\bschrieb\b.*:|` +
		`le\b.+\ba écrit\s*:|` +
		`.+\bwrote\s*:` +
		`)\s*$`)
	originalMessageRE = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|ursprungligt meddelande|originalmeddelande|opprinnelig melding|opprinnelig e-post|oprindelig meddelelse|ursprüngliche nachricht|original nachricht|message d'origine)\s*-{2,}\s*$`)
	forwardRE         = regexp.MustCompile(`(?i)^\s*(-{2,}\s*(forwarded message|vidarebefordrat meddelande|videresendt melding|videresendt meddelelse|weitergeleitete nachricht)\s*-{2,}|begin forwarded message:)\s*$`)
	underscoreRE      = regexp.MustCompile(`^\s*_{20,}\s*$`)
	// Outlook header block fields ("*From:*" when it came from HTML).
	outlookFromRE  = regexp.MustCompile(`(?i)^\s*\*?(from|från|fra|von|de)\s*:\*?\s*\S`)
	outlookFieldRE = regexp.MustCompile(`(?i)^\s*\*?(sent|date|to|cc|subject|skickat|datum|till|kopia|ämne|sendt|dato|til|kopi|emne|gesendet|an|betreff|envoyé|à|objet)\s*:\*?`)
)

// SplitQuoted returns the new part of a reply: text without the quoted
// history. Outlook-style history has no end marker, so the text is cut at
// the first Outlook header block ("From:/Sent:/To:/Subject:" and the
// Swedish and Norwegian forms, with the underscore line Outlook puts above
// it) or "-----Original Message-----" line (and its translations). Then
// "> " quoted lines go, each block with the attribution line above it
// ("On … wrote:", "Den … skrev …:", "… skrev:"), which keeps the answers of
// a bottom-posted or interleaved reply. A trailing signature after "-- " is
// cut too. Forwarded messages are content, not history: nothing after a
// forward marker is cut. HTML is first made text by the parser, which
// marks <blockquote> and Outlook's divider the same way.
//
// ok is false when nothing is left: the mail has no text of its own (an
// empty reply above a quote, or only a signature). newText is then "",
// never the quoted text: a caller that relays new text must relay nothing.
//
// It runs in time linear in the text: every line is matched against the
// patterns a bounded number of times, and lines longer than any marker or
// attribution (maxMarkerLine) are never matched as one.
func SplitQuoted(text string) (newText string, ok bool) {
	return splitQuoted(text, nil)
}

func splitQuoted(text string, b *budget) (newText string, ok bool) {
	b.spend(len(text))
	text = normalizeText(text)
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines) && cut == len(lines); i++ {
		l := lines[i]
		if len(l) > maxMarkerLine {
			continue
		}
		b.spend(len(l))
		switch {
		case forwardRE.MatchString(l):
			// Everything from here on was deliberately passed on.
			i = len(lines)
		case originalMessageRE.MatchString(l):
			cut = i
		case underscoreRE.MatchString(l):
			if j := nextNonBlank(lines, i+1); j >= 0 && isOutlookBlock(lines, j) {
				cut = i
			}
		case isOutlookBlock(lines, i):
			cut = i
		}
	}
	kept := make([]string, 0, cut)
	// checked is len(kept) at the last attribution check: lines already
	// looked at are not looked at again for every following quoted line.
	checked := -1
	for i := 0; i < cut; i++ {
		if isQuoted(lines[i]) {
			// Drop an attribution right above a quoted block.
			for len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "" {
				kept = kept[:len(kept)-1]
			}
			if len(kept) != checked {
				if len(kept) > 0 {
					b.spend(2 * min(maxMarkerLine, len(kept[len(kept)-1])))
				}
				kept = kept[:len(kept)-attributionLines(kept)]
				checked = len(kept)
			}
			continue
		}
		kept = append(kept, lines[i])
	}
	// Signature: cut at the last delimiter line.
	for i := len(kept) - 1; i >= 0; i-- {
		if kept[i] == "-- " || kept[i] == "--" {
			kept = kept[:i]
			break
		}
	}
	out := strings.TrimSpace(strings.Join(trimRightAll(kept), "\n"))
	return out, out != ""
}

// maxMarkerLine is longer than any attribution, Outlook header field or
// separator line; longer lines are text.
const maxMarkerLine = 1000

// attributionOpenerRE matches how attributions begin: "On", "Den", "Am",
// "Le", or a date.
var attributionOpenerRE = regexp.MustCompile(`(?i)^\s*-{0,2}\s*(on|den|am|le)\b|^\s*-{0,2}\s*(\p{L}{2,4}\.?,?\s+)?\d`)

// attributionLines returns how many lines at the end of kept (0, 1 or 2)
// form an attribution; clients wrap long ones over two lines.
func attributionLines(kept []string) int {
	n := len(kept)
	if n == 0 {
		return 0
	}
	last := kept[n-1]
	if len(last) > maxMarkerLine {
		return 0
	}
	if attributionRE.MatchString(last) && attributionOpenerRE.MatchString(last) {
		return 1
	}
	if n > 1 && len(kept[n-2]) <= maxMarkerLine && strings.TrimSpace(kept[n-2]) != "" && attributionOpenerRE.MatchString(kept[n-2]) &&
		attributionRE.MatchString(kept[n-2]+" "+strings.TrimSpace(last)) {
		return 2
	}
	if attributionRE.MatchString(last) {
		return 1
	}
	return 0
}

func trimRightAll(lines []string) []string {
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return lines
}

func isQuoted(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " "), ">")
}

func nextNonBlank(lines []string, from int) int {
	for j := from; j < len(lines); j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return j
		}
	}
	return -1
}

// isOutlookBlock reports whether lines[i] starts a "From:" header block: a
// From line followed within a few lines by two other header fields.
func isOutlookBlock(lines []string, i int) bool {
	if len(lines[i]) > maxMarkerLine || !outlookFromRE.MatchString(lines[i]) {
		return false
	}
	seen := 0
	for j := i + 1; j < len(lines) && j <= i+8; j++ {
		if len(lines[j]) <= maxMarkerLine && outlookFieldRE.MatchString(lines[j]) {
			seen++
			if seen >= 2 {
				return true
			}
		}
	}
	return false
}

// caseTagRE matches the tag casemail puts in subjects.
var caseTagRE = regexp.MustCompile(`^\[#(\d{1,18})\]`)

// subjectPrefixRE matches one reply/forward prefix ("Re:", "SV:", "AW:",
// "VS:", "Fwd:", "RE[2]:", "Automatic reply:", "Automatisk svar:") or a
// bracketed list tag ("[rt-users]"); the full-width colon of CJK clients
// counts too.
var subjectPrefixRE = regexp.MustCompile(`^\s*(?:[\p{L}][\p{L} .'-]{0,30}?\s*(?:\[\d+\]|\(\d+\))?\s*[:：]|\[[^\]#][^\]]{0,40}\])\s*`)

// CaseTag returns the case number of a "[#1042]" tag that starts the
// subject after any reply or forward prefixes: "[#1042] x", "Re: [#1042] x",
// "SV: AW: [#1042] x".
func CaseTag(subject string) (int64, bool) {
	s := subject
	for range 10 {
		s = strings.TrimLeft(s, " \t")
		if m := caseTagRE.FindStringSubmatch(s); m != nil {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil || n <= 0 {
				return 0, false
			}
			return n, true
		}
		loc := subjectPrefixRE.FindStringIndex(s)
		if loc == nil || loc[1] == 0 {
			return 0, false
		}
		s = s[loc[1]:]
	}
	return 0, false
}
