package intake

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZDump(t *testing.T) {
	for _, f := range strings.Fields(os.Getenv("DUMP")) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(raw)
		if err != nil {
			fmt.Println(f, "ERR", err)
			continue
		}
		fmt.Printf("=== %s\nFrom=%+v To=%+v Cc=%+v\nSubject=%q\nDate=%v MID=%q IRT=%q Refs=%q\nAuto=%v (%s) Bounce=%+v ListID=%q\nProblems=%q\n", f, m.From, m.To, m.Cc, m.Subject, m.Date, m.MessageID, m.InReplyTo, m.References, m.Auto, m.AutoReason, m.Bounce, m.ListID, m.Problems)
		for _, a := range m.Attachments {
			fmt.Printf("ATT %q %s %d inline=%v cid=%q\n", a.Filename, a.ContentType, a.Size, a.Inline, a.ContentID)
		}
		fmt.Printf("TEXT<<%s>>\nNEW<<%s>>\n", trunc(m.Text, 1500), trunc(m.NewText, 500))
		if os.Getenv("HTML") != "" {
			fmt.Printf("HTML<<%s>>\n", trunc(m.HTML, 1500))
		}
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
