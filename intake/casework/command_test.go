package casework

import (
	"reflect"
	"strings"
	"testing"
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
			if !strings.Contains(errs[i], w) {
				t.Errorf("%q: error %q lacks %q", tc.text, errs[i], w)
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
