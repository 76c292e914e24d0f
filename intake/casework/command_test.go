package casework

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

func TestParseCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		cmds []Command
		rest string
	}{
		{"plain text", "Hello,\nthe printer works again.", nil, "Hello,\nthe printer works again."},
		{"commands then text", "#note\n#priority High\n\nChecked the logs.\n#not a command here",
			[]Command{{Name: "note", Line: "#note"}, {Name: "priority", Arg: "High", Line: "#priority High"}},
			"Checked the logs.\n#not a command here"},
		{"leading blank lines and spaces", "\n\n   #resolve   reinstalled the driver  \r\nThanks",
			[]Command{{Name: "resolve", Arg: "reinstalled the driver", Line: "#resolve   reinstalled the driver"}}, "Thanks"},
		{"case number is text", "#1042 is the same problem", nil, "#1042 is the same problem"},
		{"colon and tab", "#NOTE:\n#tier\t3", []Command{{Name: "note", Line: "#NOTE:"}, {Name: "tier", Arg: "3", Line: "#tier\t3"}}, ""},
		{"only commands", "#close", []Command{{Name: "close", Line: "#close"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds, rest := ParseCommands(tc.text)
			if !reflect.DeepEqual(cmds, tc.cmds) {
				t.Errorf("commands = %#v, want %#v", cmds, tc.cmds)
			}
			if rest != tc.rest {
				t.Errorf("rest = %q, want %q", rest, tc.rest)
			}
		})
	}
}

func TestCheckSyntax(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string // substrings, one per expected error; nil for none
	}{
		{"#resolve done\n#priority high\n#consult per", nil},
		{"#frobnicate", []string{"unknown command"}},
		{"#close now", []string{"takes no argument"}},
		{"#assign", []string{"needs an argument"}},
		{"#note\n#note", []string{"given twice"}},
		{"#resolve\n#close", []string{"only one of them"}},
		{"#approve\n#reject no", []string{"only one of them"}},
		{"#escalate\n#assign eva", []string{"only one of them"}},
	} {
		cmds, _ := ParseCommands(tc.text)
		errs := checkSyntax(cmds)
		if len(errs) != len(tc.want) {
			t.Errorf("%q: errors %q, want %d", tc.text, errs, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(errs[i].Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.text, errs[i].Error(), w)
			}
		}
	}
}

func TestSortCommandsAppliesInFixedOrder(t *testing.T) {
	cmds, _ := ParseCommands("#merge 7\n#note\n#priority high\n#approve")
	var got []string
	for _, c := range sortCommands(cmds) {
		got = append(got, c.Name)
	}
	if strings.Join(got, ",") != "approve,priority,merge,note" {
		t.Errorf("order = %v", got)
	}
}

func TestEveryCommandIsKnownAndOrdered(t *testing.T) {
	known := map[string]bool{}
	for _, n := range knownCommands() {
		known[n] = true
		if _, ok := commandArgs[n]; !ok {
			t.Errorf("%s is listed but has no argument rule", n)
		}
	}
	ordered := map[string]bool{}
	for _, n := range commandOrder {
		ordered[n] = true
	}
	for n := range commandArgs {
		if !known[n] || !ordered[n] {
			t.Errorf("#%s: listed %v, ordered %v", n, known[n], ordered[n])
		}
	}
}

// TestHandOverSplit: under a hand-over the text is the receiver's
// comment; only what stands under #public goes to the requester. Without
// a hand-over a #public line changes nothing; with #note all stays
// internal.
func TestHandOverSplit(t *testing.T) {
	for _, tc := range []struct {
		name, reply, comment, public string
		internal                     bool
	}{
		{"escalate, no marker", "#escalate Trenger koordinator\nPer, kan du se på dette?", "Per, kan du se på dette?", "", true},
		{"assign, marker", "#assign eva\nEva, ta over.\n  #PUBLIC  \nHei Ola, saken er sendt videre.", "Eva, ta over.", "Hei Ola, saken er sendt videre.", false},
		{"marker among the commands", "#tier 2\n#public\nHei Ola!", "", "Hei Ola!", false},
		{"consult", "#consult per\nVet du?", "Vet du?", "", true},
		{"supplier, marker", "#supplier\nSe feilen.\n#public\nVi har kontaktet leverandøren.", "Se feilen.", "Vi har kontaktet leverandøren.", false},
		{"no hand-over", "Hei Ola,\n#public\nprøv igjen.", "", "Hei Ola,\n\nprøv igjen.", false},
		{"note wins", "#note\n#escalate\nintern\n#public\nogså intern", "intern\n\nogså intern", "", true},
	} {
		cmds, body := ParseCommands(tc.reply)
		if errs := checkSyntax(cmds); len(errs) > 0 && tc.name != "note wins" {
			t.Errorf("%s: %v", tc.name, errs)
		}
		cv := &conversation{body: body, internal: hasCommand(cmds, "note")}
		cv.splitHandOver(cmds)
		if cv.comment != tc.comment || cv.body != tc.public || cv.internal != tc.internal {
			t.Errorf("%s: comment %q, public %q, internal %v; want %q, %q, %v", tc.name, cv.comment, cv.body, cv.internal,
				tc.comment, tc.public, tc.internal)
		}
	}
	if errs := checkSyntax([]Command{{Name: "note", Line: "#note"}, {Name: "public", Line: "#public"}}); len(errs) != 1 {
		t.Errorf("#note with #public: %v, want one conflict", errs)
	}
	if errs := checkSyntax([]Command{{Name: "escalte", Line: "#escalte"}}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "did you mean #escalate?") {
		t.Errorf("#escalte: %v", errs)
	}
}

// TestCommandErrorsWorded: every error a command can get has a Swedish and
// a Norwegian wording with the same fmt verbs, found by reading this
// package's source for cmdErr calls and commandError literals (so a new
// error without a wording fails here), and an error reads in the agent's
// language with its arguments translated.
func TestCommandErrorsWorded(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string]bool{}
	for _, f := range pkgs["casework"].Files {
		ast.Inspect(f, func(n ast.Node) bool {
			var lit *ast.BasicLit
			switch n := n.(type) {
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "cmdErr" && len(n.Args) > 1 {
					lit, _ = n.Args[1].(*ast.BasicLit)
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "commandError" && len(n.Elts) > 1 {
					lit, _ = n.Elts[1].(*ast.BasicLit)
				}
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok && fmt.Sprint(kv.Key) == "format" {
						if b, ok := kv.Value.(*ast.BinaryExpr); ok { // a long text written in parts
							formats[joinLiteral(t, b)] = true
						} else if l, ok := kv.Value.(*ast.BasicLit); ok {
							lit = l
						}
					}
				}
			}
			if lit != nil && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				formats[s] = true
			}
			return true
		})
	}
	for _, h := range argHelp {
		formats[h] = true
	}
	if len(formats) < 40 {
		t.Fatalf("found only %d error texts: the source scan is broken", len(formats))
	}
	for f := range formats {
		if f == "%v" || f == "%s" {
			continue // an error from below, passed through
		}
		for _, lang := range []string{"sv", "nb"} {
			if !notify.Translated(lang, f) {
				t.Errorf("no %s wording for %q", lang, f)
			} else if notify.Verbs(notify.Translate(lang, f)) != notify.Verbs(f) {
				t.Errorf("%s wording of %q has other verbs: %q", lang, f, notify.Translate(lang, f))
			}
		}
	}
	e := commandError{"#resolve", "the case is already %s", []any{store.StatusResolved}}
	if got := e.in("sv"); got != "#resolve: ärendet är redan löst" {
		t.Errorf("sv: %q", got)
	}
	if got := e.in("en"); got != "#resolve: the case is already resolved" {
		t.Errorf("en: %q", got)
	}
	e = commandError{"#assign", "#%s needs an argument (%s)", []any{"assign", phrase(argHelp["assign"])}}
	if got := e.in("nb"); got != "#assign: #assign trenger et argument (en persons id, navn eller adresse)" {
		t.Errorf("nb: %q", got)
	}
}

func joinLiteral(t *testing.T, e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, _ := strconv.Unquote(e.Value)
		return s
	case *ast.BinaryExpr:
		return joinLiteral(t, e.X) + joinLiteral(t, e.Y)
	}
	t.Fatalf("not a literal: %T", e)
	return ""
}

// TestStoredHandOverSplit: in a case's history a hand-over's comment shows
// as internal, its public part as the answer.
func TestStoredHandOverSplit(t *testing.T) {
	note, public, ok := splitStoredHandOver(store.PartyAgent, "#assign eva\nEva, ta over.\n#public\nHei Ola!")
	if !ok || note != "#assign eva\nEva, ta over." || public != "Hei Ola!" {
		t.Errorf("split: %q, %q, %v", note, public, ok)
	}
	if _, _, ok := splitStoredHandOver(store.PartyAgent, "Hei Ola!"); ok {
		t.Error("a plain reply was split")
	}
	if _, _, ok := splitStoredHandOver(store.PartyNote, "#escalate\nintern"); ok {
		t.Error("a note was split")
	}
}

// TestPhrasesWorded: every English text a mail words through
// notify.Translate from below casework — a routing step's reason
// (routing's Step.worded), a sender authentication finding (senderauth's
// found), a notify.Phrase this package writes, how a mail was matched to
// a case (intake's Thread.How, this package's How constants), a part of a
// contract's scope (config's ScopePart) — has a Swedish and a Norwegian
// wording with the same verbs, found by reading the source.
func TestPhrasesWorded(t *testing.T) {
	formats := map[string]string{} // text → where
	inspectSource(t, []string{"../../routing", "../../config", "../senderauth", ".", ".."}, func(fset *token.FileSet, n ast.Node) {
		add := func(e ast.Expr) {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				formats[s] = fset.Position(lit.Pos()).String()
			}
		}
		switch n := n.(type) {
		case *ast.ValueSpec: // const HowSupplierReference = "…"
			for i, id := range n.Names {
				if strings.HasPrefix(strings.ToLower(id.Name), "how") && i < len(n.Values) {
					add(n.Values[i])
				}
			}
		case *ast.CallExpr:
			if name := calleeName(n); (name == "worded" || name == "found") && len(n.Args) > 0 {
				add(n.Args[0])
			}
		case *ast.CompositeLit:
			typ := fmt.Sprint(n.Type)
			for _, e := range n.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key := fmt.Sprint(kv.Key)
				if (strings.HasSuffix(typ, "Phrase}") || typ == "ScopePart") && key == "Format" ||
					strings.HasSuffix(typ, "Thread}") && key == "How" {
					add(kv.Value)
				}
			}
		}
	})
	// Routing's, the sender authentication's, and this package's own.
	for _, want := range []string{"among %s", "DMARC failed for %s", "it was matched to the case by %s only", "subject tag",
		"units %s", "base", "supplier reference %s", "%s, case #%d merged into #%d"} {
		if formats[want] == "" {
			t.Fatalf("the source scan missed %q: it is broken", want)
		}
	}
	if len(formats) < 60 {
		t.Fatalf("found only %d texts: the source scan is broken", len(formats))
	}
	for f, where := range formats {
		for _, lang := range []string{"sv", "nb"} {
			if !notify.Translated(lang, f) {
				t.Errorf("%s: no %s wording for %q", where, lang, f)
			} else if notify.Verbs(notify.Translate(lang, f)) != notify.Verbs(f) {
				t.Errorf("%s: %s wording of %q has other verbs: %q", where, lang, f, notify.Translate(lang, f))
			}
		}
	}
}

// inspectSource calls f on every node of the Go files (tests left out) in
// dirs.
func inspectSource(t *testing.T, dirs []string, f func(fset *token.FileSet, n ast.Node)) {
	t.Helper()
	for _, dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for _, file := range pkg.Files {
				ast.Inspect(file, func(n ast.Node) bool {
					f(fset, n)
					return true
				})
			}
		}
	}
}

// calleeName is the name a call calls: f of f(…) or x.f(…).
func calleeName(call *ast.CallExpr) string {
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		return fn.Sel.Name
	case *ast.Ident:
		return fn.Name
	}
	return ""
}
