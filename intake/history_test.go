package intake

import (
	"fmt"
	"strings"
	"testing"

	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/notify/langtest"
)

// TestHistoryIsNordic works a case through a day — a note, a #wait the
// requester ends, an escalation, a forward to the supplier and their
// answer and reference, a #cc, a refused command, a resolution the
// requester reopens, a mail with only the case tag, a hand-over and a
// consultation — and asks for its #history: every event line is in the
// agent's language (Norwegian, the case's), people by their names, and no
// English word is left.
func TestHistoryIsNordic(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	e.answer(t, notice, anna, "#note\nRinger Ola i morgen.", "")
	e.answer(t, notice, anna, "#wait 2d\nVi venter på svar fra deg, Ola.", "")
	e.answer(t, e.sent(t, n, "reply", ola)[0], "Ola Nordmann <"+ola+">", "Her er svaret mitt.", "")
	e.answer(t, notice, anna, "#priority high", "")
	e.answer(t, notice, anna, "#escalate Trenger sentral støtte\nPer, kan du se på dette?", "")
	perNotice := e.sent(t, n, "assignment", per)
	if len(perNotice) != 1 {
		t.Fatalf("notices to per: %d (%v)", len(perNotice), e.kinds(t, n))
	}
	e.answer(t, perNotice[0], per, "#supplier\nKan dere se på dette?", "")
	fw := e.sent(t, n, "forward", vendor)
	if len(fw) != 1 {
		t.Fatalf("forwards: %d (%v)", len(fw), e.kinds(t, n))
	}
	e.answer(t, fw[0], "Qm Support <"+vendor+">", "Patch 4.2 fikser dette.", "")
	e.answer(t, perNotice[0], per, "#supplier-ref INC0012345", "")
	e.answer(t, perNotice[0], per, "#cc lise@bryne.example.no", "")
	e.answer(t, perNotice[0], per, "#frobnicate", "")
	e.answer(t, perNotice[0], per, "#resolve Løst i versjon 4.2.", "")
	res := e.sent(t, n, "resolved", ola)
	if len(res) != 1 {
		t.Fatalf("resolved mails: %d", len(res))
	}
	e.answer(t, res[0], "Ola Nordmann <"+ola+">", "Det virker fortsatt ikke.", "")
	if c := e.caseOf(t, n); c.Status != "open" {
		t.Fatalf("the requester's answer did not reopen the case: %s", c.Status)
	}
	if r := e.mailFrom(t, "Ola Nordmann <"+ola+">", "helpdesk@example.org", fmt.Sprintf("[#%d] Fortsatt feil", n), "",
		"Hei igjen."); r.CaseNumber != n {
		t.Fatalf("tagged mail: %+v", r)
	}
	e.answer(t, perNotice[0], per, "#assign eva\nEva, ta over.", "")
	evaNotice := e.sent(t, n, "assignment", eva)
	if len(evaNotice) != 1 {
		t.Fatalf("assignment notices to eva: %d (%v)", len(evaNotice), e.kinds(t, n))
	}
	e.answer(t, evaNotice[0], eva, "#consult anna\nAnna, husker du denne?", "")
	e.answer(t, evaNotice[0], eva, "#history", "")
	hist := e.sent(t, n, "history", eva)
	if len(hist) != 1 {
		t.Fatalf("history mails to eva: %d (%v)", len(hist), e.kinds(t, n))
	}
	text := hist[0].Text
	if w := langtest.English(text); len(w) > 0 {
		t.Errorf("English %q in the #history mail:\n%s", w, text)
	}
	for _, want := range []string{
		"eskalert: superbruker, nivå 1, Anna Berg → sentral brukerstøtte, nivå 2, Per Dahl; begrunnelse: Trenger sentral støtte",
		"overlevert: sentral brukerstøtte, nivå 2, Per Dahl → systemansvarlig, nivå 3, Eva Holm",
		"sendt til Qm vendor",
		"Qm vendor svarte etter 1 min",
		"leverandørens referanse: INC0012345",
		"la til lise@bryne.example.no i saken (#cc)",
		"kommandoer avvist: #frobnicate: ukjent kommando",
		"status løst → under arbeid: innmelderen svarte på en løst sak",
		"status under arbeid → venter: venter til 2026-11-25 11:03",
		"status venter → under arbeid: innmelderen skrev mens saken ventet",
		"ikke verifisert e-post: den ble koblet til saken bare via saksmerket i emnet",
		"prioritet normal → høy",
		"ba Anna Berg om hjelp (#consult)",
		"kommando #wait 2d",
		"tildelt Anna Berg, superbruker (eneste kandidat)",
		"rutet til superbruker, nivå 1: tjeneste qm-handbook, enhet bryne",
		"saken ble opprettet av en ny e-post",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the #history mail lacks %q:\n%s", want, text)
		}
	}
}

// TestCommandsOnlyMailIsNoAnswer: an agent's mail that holds only
// commands (under its signature and the quoted notice) sends nothing to
// the requester side and is kept as an internal note — also while its own
// commands run, so that the #history it asks for, and the case so far in
// the notice of the hand-over it makes, show no public answer. A real
// public answer shows as one.
func TestCommandsOnlyMailIsNoAnswer(t *testing.T) {
	e := newConvProc(t)
	n := e.open(t)
	notice := e.notice(t, n, anna)
	// How a public answer is labelled, in whichever language the agent reads.
	publicAnswers := func(text string) int {
		n := 0
		for _, lang := range []string{"sv", "nb", "en"} {
			n += strings.Count(text, notify.Word{Kind: "history", Key: "reply"}.In(lang))
		}
		return n
	}
	tail := "\n\n-- \nAnna Berg\nIT-avdelingen\n\nOn Mon, 23 Nov 2026, Helpdesk <helpdesk@example.org> wrote:\n> Hvor finner jeg rutinen?\n"
	for _, body := range []string{"#history", "#mine", "#help", "#assign eva"} {
		e.answer(t, notice, anna, body+tail, "")
		if k := e.messageKind(t, n); k != "note" {
			t.Errorf("%s: stored as %s, want note", body, k)
		}
	}
	for _, to := range []string{ola, kari} {
		if got := e.sent(t, n, "reply", to); len(got) != 0 {
			t.Errorf("commands-only mails reached %s: %v", to, e.kinds(t, n))
		}
	}
	if c := e.caseOf(t, n); c.FirstResponse != nil {
		t.Errorf("commands-only mails made a first response at %v", c.FirstResponse)
	}
	hist := e.sent(t, n, "history", anna)
	if len(hist) != 1 {
		t.Fatalf("history mails to anna: %d (%v)", len(hist), e.kinds(t, n))
	}
	if publicAnswers(hist[0].Text) != 0 {
		t.Errorf("the #history mail shows the mail asking for it as a public answer:\n%s", hist[0].Text)
	}
	evaNotice := e.sent(t, n, "assignment", eva)
	if len(evaNotice) != 1 {
		t.Fatalf("assignment notices to eva: %d (%v)", len(evaNotice), e.kinds(t, n))
	}
	if publicAnswers(evaNotice[0].Text) != 0 {
		t.Errorf("eva's notice shows a public answer in the case so far:\n%s", evaNotice[0].Text)
	}
	e.answer(t, evaNotice[0], eva, "Vi ser på det i dag."+tail, "")
	e.answer(t, evaNotice[0], eva, "#history"+tail, "")
	hist = e.sent(t, n, "history", eva)
	if len(hist) != 1 {
		t.Fatalf("history mails to eva: %d (%v)", len(hist), e.kinds(t, n))
	}
	if got := publicAnswers(hist[0].Text); got != 1 {
		t.Errorf("public answers in eva's #history: %d, want 1 (hers):\n%s", got, hist[0].Text)
	}
}
