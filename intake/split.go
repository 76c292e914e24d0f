package intake

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/casemail/casemail/intake/mailparse"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// splitParts is how many parallel transactions a batch may be split into,
// and splitMin the fewest mails a part is worth. Four parts keep two cores
// busy: each part alternates between work here and work in PostgreSQL.
const (
	splitParts = 4
	splitMin   = 16
)

// split divides a batch into parts that commit in parallel transactions
// (indexes into ds, each part in UID order), or returns the whole batch as
// one part when it is too small or too entangled to divide.
//
// The mails fall into groups, the connected components of "may touch the
// same thing": two mails are in one group when they
//
//   - take the same sender's acknowledgement lock (see acknowledged);
//   - share a Message-ID, or one names the other's in In-Reply-To,
//     References or a bounce report (a reply and its parent; a duplicate);
//   - may thread to the same case in the database: through a Message-ID
//     of ours or of a stored mail, a reply token or a [#N] tag, and every
//     case that case was merged into (store.CasesNamed, one round trip);
//   - come from one supplier (their reference may name any of their cases);
//   - carry #merge (which touches a second case, the target);
//   - store the same raw mail or the same attachment body (the rows are
//     keyed by content: a second insert waits for the first to commit).
//
// Whole groups are spread over the parts, largest first onto the lightest
// part. A part's mails then touch no row, key or lock that another part's
// touch, so parts never wait on each other and no cycle of waits (a
// deadlock) can form between them; locks shared with other instances are
// taken in one global order (tryPart, ClaimAndFindMany). A mail that threads
// to another of the batch is in its group, so in its part, which runs its
// mails in UID order in one transaction: the reply sees its parent's case
// exactly as it would one by one. What the lookup cannot know beforehand
// (a case merged while the batch runs) can at worst make a part wait for
// another, and a wait that closes a cycle is retried (commitPart).
func (p *Processor) split(ctx context.Context, ds []Delivery, ps []parsedMail) [][]int {
	k := min(splitParts, len(ds)/splitMin)
	if k < 2 {
		return [][]int{seq(len(ds))}
	}
	keys, names, numbers := p.groupKeys(ps)
	named, err := store.CasesNamed(ctx, p.Store.DB(), names, numbers)
	if err != nil {
		p.log().Warn("batch not split: the cases it names were not found", "mails", len(ds), "error", err)
		return [][]int{seq(len(ds))}
	}
	g := newGroups(len(ds))
	first := map[string]int{} // the first mail of each key
	join := func(i int, key string) {
		if j, ok := first[key]; ok {
			g.union(i, j)
		} else {
			first[key] = i
		}
	}
	for i, ks := range keys {
		for _, key := range ks {
			join(i, key)
			for _, c := range named[key] {
				join(i, "case:"+strconv.FormatInt(c, 10))
			}
		}
	}
	// The groups, largest first (by weight; ties in UID order), each onto
	// the part with the least weight so far.
	members := map[int][]int{}
	var roots []int
	weight := map[int]int{}
	for i := range ds {
		r := g.find(i)
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		members[r] = append(members[r], i)
		weight[r] += mailWeight(ds[i])
	}
	if len(roots) < 2 {
		return [][]int{seq(len(ds))}
	}
	slices.SortStableFunc(roots, func(a, b int) int { return weight[b] - weight[a] })
	parts := make([][]int, k)
	load := make([]int, k)
	for _, r := range roots {
		least := 0
		for j := range parts {
			if load[j] < load[least] {
				least = j
			}
		}
		parts[least] = append(parts[least], members[r]...)
		load[least] += weight[r]
	}
	out := parts[:0]
	for _, part := range parts {
		if len(part) > 0 {
			slices.Sort(part)
			out = append(out, part)
		}
	}
	return out
}

// mailWeight is a mail's share of a part's work: one, and one more per
// 100 KB (a large mail is parsed, hashed and stored for longer).
func mailWeight(d Delivery) int {
	return 1 + len(d.Raw)/(100<<10)
}

// groupKeys lists, for each mail, the keys that group it with others (see
// split), and the Message-IDs and case numbers whose cases in the database
// are to be looked up.
func (p *Processor) groupKeys(ps []parsedMail) (keys [][]string, names []string, numbers []int64) {
	keys = make([][]string, len(ps))
	own := map[string]bool{}
	for _, pm := range ps {
		if pm.msg != nil && pm.err == nil && pm.msg.MessageID != "" {
			own[pm.msg.MessageID] = true
		}
	}
	asked := map[string]bool{}
	name := func(id string) {
		// A mail of the batch is in no case yet: its key is enough.
		if !own[id] && !asked[id] {
			asked[id] = true
			names = append(names, id)
		}
	}
	now := p.now()
	for i, pm := range ps {
		m := pm.msg
		if m == nil || pm.err != nil {
			continue // quarantined: it touches only its own rows
		}
		var ks []string
		add := func(key string) { ks = append(ks, key) }
		if s, ok := acknowledged(pm); ok {
			add("sender:" + s)
		}
		add("raw:" + hex.EncodeToString(m.SHA256[:]))
		for _, a := range m.Attachments {
			if a.Data != nil {
				add("blob:" + hex.EncodeToString(a.SHA256[:]))
			}
		}
		var refs []string
		if m.MessageID != "" {
			refs = append(refs, m.MessageID)
		}
		refs = append(refs, m.References...)
		if m.InReplyTo != "" {
			refs = append(refs, m.InReplyTo)
		}
		if m.Bounce != nil && m.Bounce.OriginalMessageID != "" {
			refs = append(refs, m.Bounce.OriginalMessageID)
		}
		for j, id := range refs {
			add("id:" + id)
			if j > 0 || m.MessageID == "" {
				name(id)
			}
		}
		var cases []int64
		if n, ok := mailparse.CaseTag(m.Subject); ok {
			cases = append(cases, n)
		}
		for _, addr := range recipients(m) {
			if tok, ok := p.tokenIn(addr); ok {
				// As findThread reads it: an expired token still names its case.
				if t, err := p.Keys.Verify(tok, m.From.Addr, now); err == nil || errors.Is(err, notify.ErrExpired) {
					cases = append(cases, t.Case)
				}
			}
		}
		for _, n := range cases {
			key := "#" + strconv.FormatInt(n, 10)
			add(key)
			if !asked[key] {
				asked[key] = true
				numbers = append(numbers, n)
			}
		}
		if p.Rules != nil {
			if s := p.Rules().SupplierBySender(m.From.Addr); s != nil {
				add("supplier:" + s.ID)
			}
		}
		if hasMerge(m.Text) {
			add("merge")
		}
		keys[i] = ks
	}
	return keys, names, numbers
}

// hasMerge reports whether text may hold a #merge command (in any case,
// as commands are read), without copying it.
func hasMerge(text string) bool {
	for i := strings.IndexByte(text, '#'); i >= 0; i = strings.IndexByte(text, '#') {
		text = text[i+1:]
		if len(text) >= 5 && strings.EqualFold(text[:5], "merge") {
			return true
		}
	}
	return false
}

// acknowledged says whether applying the mail may take its sender's
// acknowledgement lock, and whose: a new request from a person may be
// acknowledged. tryPart takes these locks up front.
func acknowledged(pm parsedMail) (string, bool) {
	m := pm.msg
	if m == nil || pm.err != nil || m.Auto != mailparse.AutoNone {
		return "", false
	}
	return senderOf(m), true
}

// groups is a union-find over a batch's mails.
type groups struct{ parent []int }

func newGroups(n int) *groups {
	g := &groups{parent: seq(n)}
	return g
}

func (g *groups) find(i int) int {
	for g.parent[i] != i {
		g.parent[i] = g.parent[g.parent[i]]
		i = g.parent[i]
	}
	return i
}

func (g *groups) union(i, j int) {
	ri, rj := g.find(i), g.find(j)
	if ri < rj {
		g.parent[rj] = ri
	} else if rj < ri {
		g.parent[ri] = rj
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
