package notify

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/casemail/casemail/config"
)

// Translate returns the wording in lang of a text written in English
// below the templates — the errors a command gets (casework), the steps
// of a routing trail (routing's Step.Format), the findings of the sender
// authentication (senderauth's Finding.Format) — with the same fmt verbs
// in the same order, or the English text where there is none. Templates
// word every other mail; these are the sentences that depend on what
// happened. The English is the key: the tests read those packages'
// source for every such text and fail on one without a wording.
func Translate(lang, english string) string {
	if t := wordings[Language(lang)][english]; t != "" {
		return t
	}
	return english
}

// Translated reports whether english has a wording in lang.
func Translated(lang, english string) bool { return wordings[Language(lang)][english] != "" }

// wordings: English text → the text in sv and nb.
var wordings = map[string]map[string]string{
	"sv": {
		"the supplier's own reference, e.g. #supplier-ref INC0012345":                                                                        "leverantörens egen referens, t.ex. #supplier-ref INC0012345",
		"a reference is one word of at most %d characters":                                                                                   "en referens är ett ord på högst %d tecken",
		"the case was never forwarded to a supplier; use #supplier first":                                                                    "ärendet har aldrig skickats till en leverantör; använd #supplier först",
		"the reply address you used had been shown to others (%s), so it carries no command any more: reply to a newer notice about case %d": "svarsadressen du använde har visats för andra (%s), så den bär inga kommandon längre: svara på ett nyare mejl om ärende %d",
		"you replied to a notice from %s, older than %s (command_ttl): reply to a newer notice about case %d":                                "du svarade på ett mejl från %s, äldre än %s (command_ttl): svara på ett nyare mejl om ärende %d",
		"you no longer hold case %d (it is with %s)":                                                                                         "ärende %d är inte längre ditt (det ligger hos %s)",
		"unknown command (did you mean #%s?)":                                                                                                "okänt kommando (menade du #%s?)",
		"unknown command (known: #%s)":                                                                                                       "okänt kommando (kända: #%s)",
		"#%s given twice":                                                                                                                    "#%s två gånger",
		"#%s takes no argument":                                                                                                              "#%s tar inget argument",
		"#%s needs an argument (%s)":                                                                                                         "#%s behöver ett argument (%s)",
		"%s: only one of them at a time":                                                                                                     "%s: bara ett av dem åt gången",
		"a person's id, name or address":                                                                                                     "en persons id, namn eller adress",
		"a level of the service's chain, e.g. #tier 2":                                                                                       "en nivå i tjänstens kedja, t.ex. #tier 2",
		"a service id from the catalogue":                                                                                                    "ett tjänste-id från katalogen",
		"low, normal, high or urgent":                                                                                                        "low, normal, high eller urgent",
		"a duration such as 2d or 4h":                                                                                                        "en tid som 2d eller 4h",
		"a case number, e.g. #merge 1042":                                                                                                    "ett ärendenummer, t.ex. #merge 1042",
		"an address, e.g. #cc kari@example.no":                                                                                               "en adress, t.ex. #cc kari@example.no",
		"this mail did not come through a reply address or a reply to a mail casemail sent you, so it cannot be proven to be yours: nothing was sent to the requester and no command was carried out": "det här mejlet kom inte via en svarsadress eller som svar på ett mejl som casemail skickat dig, så det går inte att visa att det är ditt: inget skickades till anmälaren och inget kommando utfördes",
		"nothing was sent to the requester and no command was carried out: %s": "inget skickades till anmälaren och inget kommando utfördes: %s",
		"the case is already %s":                                                           "ärendet är redan %s",
		"the case was dropped; #reopen it first":                                           "ärendet är avvisat; öppna det med #reopen först",
		"the case is already closed":                                                       "ärendet är redan stängt",
		"the case waits for approval (#approve or #reject)":                                "ärendet väntar på godkännande (#approve eller #reject)",
		"the case is %s; only a resolved, closed, dropped or waiting case can be reopened": "ärendet är %s; bara ett löst, stängt, avvisat eller väntande ärende kan öppnas igen",
		"the case's service %q is no longer in rules.yaml; use #service first":             "ärendets tjänst %q finns inte längre i rules.yaml; använd #service först",
		"%s has no tier %q (its levels: %s)":                                               "%s har ingen nivå %q (dess nivåer: %s)",
		"the case is already on tier %s":                                                   "ärendet är redan på nivå %s",
		"nobody called %q in rules.yaml":                                                   "ingen som heter %q i rules.yaml",
		"the case is already %s's":                                                         "ärendet är redan hos %s",
		"no service %q in the catalogue":                                                   "ingen tjänst %q i katalogen",
		"the case is already in %s":                                                        "ärendet ligger redan i %s",
		"service %s is proposed, not yet in use":                                           "tjänsten %s är föreslagen och används inte än",
		"%s needs the approval of a %s; the requester must open a new case for it":         "%s kräver godkännande av en %s; anmälaren måste öppna ett nytt ärende för det",
		"nobody available holds a role on the chain of %s":                                 "ingen tillgänglig har en roll i kedjan för %s",
		"priority is low, normal, high or urgent":                                          "prioritet är low, normal, high eller urgent",
		"you cannot consult yourself":                                                      "du kan inte konsultera dig själv",
		"%s already has the case":                                                          "%s har redan ärendet",
		"service %s has no supplier on its chain":                                          "tjänsten %s har ingen leverantör i sin kedja",
		"supplier %q is not in rules.yaml":                                                 "leverantören %q finns inte i rules.yaml",
		"a case cannot be merged into itself":                                              "ett ärende kan inte slås ihop med sig självt",
		"there is no case #%d":                                                             "det finns inget ärende #%d",
		"case #%d was itself merged into another case; merge into that one":                "ärende #%d är självt ihopslaget med ett annat; slå ihop med det",
		"case #%d is %s":                                                                   "ärende #%d är %s",
		"you do not hold case #%d: only someone who holds both cases, or the support manager, may merge them": "du har inte ärende #%d: bara den som har båda ärendena, eller supportansvarig, får slå ihop dem",
		"not an address: %v":                                         "ingen adress: %v",
		"%s is the helpdesk itself":                                  "%s är helpdesken själv",
		"the case does not wait for approval":                        "ärendet väntar inte på godkännande",
		"the case's service no longer needs approval":                "ärendets tjänst kräver inte längre godkännande",
		"only a holder of %s for this case may approve or reject it": "bara den som är %s för det här ärendet får godkänna eller avslå det",

		// The routing trail of a new case (routing's Step.Format).
		"rule %q":                              "regel %q",
		"%s is listed in the unit's members":   "%s finns bland enhetens medlemmar",
		"sender domain %s belongs to the unit": "avsändardomänen %s hör till enheten",
		"no rule names a unit, and the mail has no sender address":                        "ingen regel anger en enhet, och brevet har ingen avsändaradress",
		"no rule, membership or domain names a unit for %s":                               "ingen regel, inget medlemskap och ingen domän anger en enhet för %s",
		"service %s is proposed, not yet in the catalogue: routed as %s":                  "tjänsten %s är föreslagen och ännu inte i katalogen: dirigerat som %s",
		"rule %q dropped the mail: stored, not routed":                                    "regel %q avvisade brevet: sparat, inte dirigerat",
		"rule %q starts the case on tier %s":                                              "regel %q lägger ärendet på nivå %s",
		"rule %q asks for tier %s but %s has no rung of that tier":                        "regel %q vill ha nivå %s, men %s har inget steg på den nivån",
		"nobody holds a rung of %s for a mail without unit; routed as the default, %s":    "ingen har ett steg i %s för ett brev utan enhet; dirigerat till standardtjänsten %s",
		"nobody holds a rung of %s for %s; routed as the default, %s":                     "ingen har ett steg i %s för %s; dirigerat till standardtjänsten %s",
		"everyone who could take it is away; the case waits unassigned on the first rung": "alla som kunde ta det är borta; ärendet väntar otilldelat på första steget",
		"the case starts at the supplier %s; owned by the %s":                             "ärendet börjar hos leverantören %s; ägs av %s",
		"%s serves on this rung":                                                          "%s finns på det här steget",
		"named by rule %q (note: away now)":                                               "utsedd av regel %q (obs: borta just nu)",
		"named by rule %q":                                                                "utsedd av regel %q",
		"contract %s (%s) of %s: users go straight to the supplier; owned by the %s":      "avtal %s (%s) med %s: användarna går direkt till leverantören; ägs av %s",
		"services %s":               "tjänster %s",
		"units %s":                  "enheter %s",
		"work areas %s":             "verksamhetsområden %s",
		"base":                      "grundavtal",
		"sent to %s":                "skickat till %s",
		"keyword %q in the subject": "nyckelordet %q i ämnet",
		"keyword %q in the body":    "nyckelordet %q i texten",
		"no rule, alias or keyword; the mailbox's default":            "ingen regel, inget alias och inget nyckelord; brevlådans standardtjänst",
		"the mailbox's default service %s is not in the catalogue":    "brevlådans standardtjänst %s finns inte i katalogen",
		"no rule, alias or keyword matched":                           "ingen regel, inget alias och inget nyckelord träffade",
		"the supplier %s takes it":                                    "leverantören %s tar det",
		"held by %s":                                                  "rollinnehavare: %s",
		"nobody holds %s for a mail without unit":                     "ingen är %s för ett brev utan enhet",
		"%s holds %s for a mail without unit but is away":             "%s är %s för ett brev utan enhet men är borta",
		"%s hold %s for a mail without unit but are away":             "%s är %s för ett brev utan enhet men är borta",
		"nobody holds %s for unit %s":                                 "ingen är %s för enheten %s",
		"%s holds %s for unit %s but is away":                         "%s är %s för enheten %s men är borta",
		"%s hold %s for unit %s but are away":                         "%s är %s för enheten %s men är borta",
		"nobody holds %s for unit %s (work area %s)":                  "ingen är %s för enheten %s (verksamhetsområde %s)",
		"%s holds %s for unit %s (work area %s) but is away":          "%s är %s för enheten %s (verksamhetsområde %s) men är borta",
		"%s hold %s for unit %s (work area %s) but are away":          "%s är %s för enheten %s (verksamhetsområde %s) men är borta",
		"the rung is the supplier %s; no internal assignee":           "steget är leverantören %s; ingen intern handläggare",
		"nobody on this rung is available; the case waits unassigned": "ingen på det här steget är tillgänglig; ärendet väntar otilldelat",
		"among %s": "bland %s",
		"stop: true; %d later rule(s) not considered": "stop: true; %d senare regler prövades inte",

		// Sender authentication (senderauth's Finding.Format) and why a mail
		// proves nothing about its sender, with how it was matched to a case.
		"the sender's authentication failed: %s":                                                            "avsändarens autentisering misslyckades: %s",
		"this helpdesk requires mail whose sender is authenticated (an aligned DKIM or DMARC pass), and %s": "den här helpdesken kräver brev vars avsändare är autentiserad (ett godkänt DKIM eller DMARC som stämmer med avsändaren), och %s",
		"its header could not be read":                                                                      "brevhuvudet kunde inte läsas",
		"the mail has no From field":                                                                        "brevet saknar avsändarfält",
		"the mail has %d From fields, not one":                                                              "brevet har %d avsändarfält, inte ett",
		"its From field could not be read":                                                                  "avsändarfältet kunde inte läsas",
		"its From field has %d addresses, not one":                                                          "avsändarfältet har %d adresser, inte en",
		"its From address has no domain":                                                                    "avsändaradressen saknar domän",
		"no Authentication-Results are trusted":                                                             "inga Authentication-Results är betrodda",
		"the receiving server's Authentication-Results could not be read":                                   "den mottagande serverns Authentication-Results kunde inte läsas",
		"the receiving server added no trusted Authentication-Results":                                      "den mottagande servern lade inte till några betrodda Authentication-Results",
		"DMARC passed for %s":                                                                               "DMARC godkänd för %s",
		"DMARC failed for %s":                                                                               "DMARC underkänd för %s",
		"%s passed for %s, not aligned with %s":                                                             "%s godkänd för %s, som inte stämmer med %s",
		"%s passed for %s (aligned with %s)":                                                                "%s godkänd för %s (stämmer med %s)",
		"%s failed for %s (%s)":                                                                             "%s underkänd för %s (%s)",
		"nothing aligned with %s passed":                                                                    "inget som stämmer med %s blev godkänt",
		"no DMARC, DKIM or SPF result for %s":                                                               "inget DMARC-, DKIM- eller SPF-resultat för %s",
		"its DKIM signatures could not be read":                                                             "brevets DKIM-signaturer kunde inte läsas",
		"a DKIM signature of %s (aligned with %s) verified":                                                 "en DKIM-signatur från %s (stämmer med %s) verifierades",
		"the DKIM key of %s could not be fetched":                                                           "DKIM-nyckeln för %s kunde inte hämtas",
		"the DKIM signature of %s did not verify":                                                           "DKIM-signaturen från %s kunde inte verifieras",
		"no DKIM signature aligned with %s":                                                                 "ingen DKIM-signatur stämmer med %s",
		"the mail has no DKIM signature":                                                                    "brevet har ingen DKIM-signatur",
		"it was matched to the case by %s only":                                                             "det kopplades till ärendet enbart via %s",
		"its reply address had been shown to others (%s)":                                                   "dess svarsadress hade visats för andra (%s)",
		"reply token":                  "svarsadressen",
		"expired reply token":          "en utgången svarsadress",
		"bounce of our mail":           "en studsning av vårt brev",
		"references":                   "referenserna",
		"subject tag":                  "ärendetaggen i ämnet",
		"supplier reference %s":        "leverantörens referens %s",
		"%s, case #%d merged into #%d": "%s, ärende #%d sammanslaget med #%d",

		// A case's events in #history (intake/casework/events.go), and the
		// reasons they were stored with (read back by Reword).
		"unverified mail: %s":               "overifierat brev: %s",
		"command %s":                        "kommando %s",
		"commands refused: %s":              "kommandon avvisade: %s",
		"the reply token has expired":       "svarsadressen har gått ut",
		"status %s → %s":                    "status %s → %s",
		"status %s → %s: %s":                "status %s → %s: %s",
		"priority %s → %s":                  "prioritet %s → %s",
		"service %s → %s":                   "tjänst %s → %s",
		"routed to %s: service %s, unit %s": "dirigerat till %s: tjänst %s, enhet %s",
		"routed to %s: service %s":          "dirigerat till %s: tjänst %s",
		"the supplier %s":                   "leverantören %s",
		"%s, level %s":                      "%s, nivå %s",
		"level %s":                          "nivå %s",
		"assigned to %s, %s (%s)":           "tilldelat %s, %s (%s)",
		"dropped by a rule: %s":             "avvisat av en regel: %s",
		"asked %s for help (#consult)":      "bad %s om hjälp (#consult)",
		"added %s to the case (#cc)":        "lade till %s i ärendet (#cc)",
		"merged into #%d":                   "sammanslaget med #%d",
		"case #%d merged into this one":     "ärende #%d sammanslaget med det här",
		"waits for the approval of a %s":    "väntar på godkännande av en %s",
		"approved":                          "godkänt",
		"approved: %s":                      "godkänt: %s",
		"rejected":                          "avslaget",
		"rejected: %s":                      "avslaget: %s",
		"no acknowledgement sent: %s":       "ingen mottagningsbekräftelse skickad: %s",
		"%s already got %d mails about this case this hour: one more was not sent": "%s har redan fått %d mejl om ärendet den här timmen: ett till skickades inte",
		"forwarded to %s under contract %s, answer due %s":                         "skickat till %s enligt avtal %s, svar senast %s",
		"forwarded to %s under contract %s":                                        "skickat till %s enligt avtal %s",
		"forwarded to %s, answer due %s":                                           "skickat till %s, svar senast %s",
		"forwarded to %s":                                                          "skickat till %s",
		"%s answered after %s":                                                     "%s svarade efter %s",
		"%s answered after %s, past the contract's response time":                  "%s svarade efter %s, efter avtalets svarstid",
		"reminder %d of %d to %s":                                                  "påminnelse %d av %d till %s",
		"the holder was warned: %s due %s":                                         "handläggaren varnades: %s senast %s",
		"SLA met: %s (due %s)":                                                     "SLA uppfyllt: %s (senast %s)",
		"SLA breached: %s (due %s)":                                                "SLA överskridet: %s (senast %s)",
		"reason: %s":                                                               "orsak: %s",
		"at the top of its chain and no support_manager is defined: nobody else to tell":              "redan på den högsta nivån och ingen support_manager är angiven: ingen annan att meddela",
		"at the top of its chain and no support_manager is defined: nobody else to tell (reason: %s)": "redan på den högsta nivån och ingen support_manager är angiven: ingen annan att meddela (orsak: %s)",
		"%s: %s":   "%s: %s",
		"new mail": "ärendet öppnades av ett nytt mejl",
		"%s wrote to case #%d, which is closed: opened a new case linked to it":              "%s skrev till ärende #%d, som är stängt: ett nytt ärende öppnades, länkat till det",
		"%s wrote to case #%d, resolved more than %s ago: opened a new case linked to it":    "%s skrev till ärende #%d, löst för mer än %s sedan: ett nytt ärende öppnades, länkat till det",
		"subject names case #%d, but %s is not on that case: opened a new case linked to it": "ämnet nämner ärende #%d, men %s hör inte till det ärendet: ett nytt ärende öppnades, länkat till det",
		"%s already got %d acknowledgements this hour":                                       "%s har redan fått %d mottagningsbekräftelser den här timmen",
		"mailbox %s already sent %d acknowledgements this hour":                              "brevlådan %s har redan skickat %d mottagningsbekräftelser den här timmen",
		"a reply address was shown to others (%s): it carries no command from now on":        "en svarsadress visades för andra (%s): den bär inga kommandon från och med nu",
		"sent to the list %s":                   "skickat till listan %s",
		"sent to %s too":                        "skickat till %s också",
		"%s on a case nobody owns: nobody told": "%s i ett ärende som ingen äger: ingen fick veta",
		"follow-up":                             "uppföljning",
		"supplier answer":                       "leverantörens svar",
		"a mail to the owner bounced: not told again by mail":           "ett mejl till ägaren studsade: hen meddelas inte igen per mejl",
		"a mail to %s bounced: the owner is told":                       "ett mejl till %s studsade: ägaren får veta",
		"the requester wrote in %s: answered in %s from now on":         "anmälaren skrev på %s: svaren går på %s från och med nu",
		"waited %s of business time: SLA due times moved on by as much": "väntade %s arbetstid: SLA-tiderna flyttades fram lika mycket",
		"the #wait ended": "#wait tog slut",
		"the requester wrote while the case was waiting":                               "anmälaren skrev medan ärendet väntade",
		"the supplier answered: the SLA resumes":                                       "leverantören svarade: SLA-klockan går igen",
		"waiting on the supplier %s: the SLA pauses":                                   "väntar på leverantören %s: SLA-klockan pausas",
		"the requester replied to a resolved case":                                     "anmälaren svarade på ett löst ärende",
		"waiting until %s":                                                             "väntar till %s",
		"the supplier's reference: %s":                                                 "leverantörens referens: %s",
		"%s has not answered after %d reminders: the owner is told":                    "%s har inte svarat efter %d påminnelser: ägaren får veta",
		"%s has not answered after %d reminders, answer was due %s: the owner is told": "%s har inte svarat efter %d påminnelser, svaret skulle ha kommit senast %s: ägaren får veta",
		"the requester's personal data was erased on request (GDPR)":                   "anmälarens personuppgifter raderades på begäran (GDPR)",
		"a participant's personal data was erased on request (GDPR)":                   "en deltagares personuppgifter raderades på begäran (GDPR)",
	},
	"nb": {
		"the supplier's own reference, e.g. #supplier-ref INC0012345":                                                                        "leverandørens egen referanse, f.eks. #supplier-ref INC0012345",
		"a reference is one word of at most %d characters":                                                                                   "en referanse er ett ord på høyst %d tegn",
		"the case was never forwarded to a supplier; use #supplier first":                                                                    "saken er aldri sendt til en leverandør; bruk #supplier først",
		"the reply address you used had been shown to others (%s), so it carries no command any more: reply to a newer notice about case %d": "svaradressen du brukte er vist til andre (%s), så den bærer ingen kommandoer lenger: svar på en nyere e-post om sak %d",
		"you replied to a notice from %s, older than %s (command_ttl): reply to a newer notice about case %d":                                "du svarte på en e-post fra %s, eldre enn %s (command_ttl): svar på en nyere e-post om sak %d",
		"you no longer hold case %d (it is with %s)":                                                                                         "sak %d er ikke lenger din (den ligger hos %s)",
		"unknown command (did you mean #%s?)":                                                                                                "ukjent kommando (mente du #%s?)",
		"unknown command (known: #%s)":                                                                                                       "ukjent kommando (kjente: #%s)",
		"#%s given twice":                                                                                                                    "#%s to ganger",
		"#%s takes no argument":                                                                                                              "#%s tar ikke noe argument",
		"#%s needs an argument (%s)":                                                                                                         "#%s trenger et argument (%s)",
		"%s: only one of them at a time":                                                                                                     "%s: bare én av dem om gangen",
		"a person's id, name or address":                                                                                                     "en persons id, navn eller adresse",
		"a level of the service's chain, e.g. #tier 2":                                                                                       "et nivå i tjenestens kjede, f.eks. #tier 2",
		"a service id from the catalogue":                                                                                                    "en tjeneste-id fra katalogen",
		"low, normal, high or urgent":                                                                                                        "low, normal, high eller urgent",
		"a duration such as 2d or 4h":                                                                                                        "en tid som 2d eller 4h",
		"a case number, e.g. #merge 1042":                                                                                                    "et saksnummer, f.eks. #merge 1042",
		"an address, e.g. #cc kari@example.no":                                                                                               "en adresse, f.eks. #cc kari@example.no",
		"this mail did not come through a reply address or a reply to a mail casemail sent you, so it cannot be proven to be yours: nothing was sent to the requester and no command was carried out": "denne e-posten kom ikke via en svaradresse eller som svar på en e-post casemail sendte deg, så det kan ikke vises at den er din: ingenting ble sendt til innmelder og ingen kommando ble utført",
		"nothing was sent to the requester and no command was carried out: %s": "ingenting ble sendt til innmelder og ingen kommando ble utført: %s",
		"the case is already %s":                                                           "saken er allerede %s",
		"the case was dropped; #reopen it first":                                           "saken er avvist; åpne den med #reopen først",
		"the case is already closed":                                                       "saken er allerede lukket",
		"the case waits for approval (#approve or #reject)":                                "saken venter på godkjenning (#approve eller #reject)",
		"the case is %s; only a resolved, closed, dropped or waiting case can be reopened": "saken er %s; bare en løst, lukket, avvist eller ventende sak kan gjenåpnes",
		"the case's service %q is no longer in rules.yaml; use #service first":             "sakens tjeneste %q finnes ikke lenger i rules.yaml; bruk #service først",
		"%s has no tier %q (its levels: %s)":                                               "%s har ikke nivå %q (nivåene: %s)",
		"the case is already on tier %s":                                                   "saken er allerede på nivå %s",
		"nobody called %q in rules.yaml":                                                   "ingen som heter %q i rules.yaml",
		"the case is already %s's":                                                         "saken ligger allerede hos %s",
		"no service %q in the catalogue":                                                   "ingen tjeneste %q i katalogen",
		"the case is already in %s":                                                        "saken ligger allerede i %s",
		"service %s is proposed, not yet in use":                                           "tjenesten %s er foreslått og ikke i bruk ennå",
		"%s needs the approval of a %s; the requester must open a new case for it":         "%s krever godkjenning fra en %s; innmelder må åpne en ny sak for det",
		"nobody available holds a role on the chain of %s":                                 "ingen tilgjengelig har en rolle i kjeden for %s",
		"priority is low, normal, high or urgent":                                          "prioritet er low, normal, high eller urgent",
		"you cannot consult yourself":                                                      "du kan ikke konsultere deg selv",
		"%s already has the case":                                                          "%s har allerede saken",
		"service %s has no supplier on its chain":                                          "tjenesten %s har ingen leverandør i kjeden",
		"supplier %q is not in rules.yaml":                                                 "leverandøren %q finnes ikke i rules.yaml",
		"a case cannot be merged into itself":                                              "en sak kan ikke slås sammen med seg selv",
		"there is no case #%d":                                                             "det finnes ingen sak #%d",
		"case #%d was itself merged into another case; merge into that one":                "sak #%d er selv slått sammen med en annen; slå sammen med den",
		"case #%d is %s":                                                                   "sak #%d er %s",
		"you do not hold case #%d: only someone who holds both cases, or the support manager, may merge them": "du har ikke sak #%d: bare den som har begge sakene, eller brukerstøtteansvarlig, kan slå dem sammen",
		"not an address: %v":                                         "ikke en adresse: %v",
		"%s is the helpdesk itself":                                  "%s er brukerstøtten selv",
		"the case does not wait for approval":                        "saken venter ikke på godkjenning",
		"the case's service no longer needs approval":                "sakens tjeneste krever ikke lenger godkjenning",
		"only a holder of %s for this case may approve or reject it": "bare den som er %s for denne saken, kan godkjenne eller avslå den",

		// The routing trail of a new case (routing's Step.Format).
		"rule %q":                              "regel %q",
		"%s is listed in the unit's members":   "%s står blant enhetens medlemmer",
		"sender domain %s belongs to the unit": "avsenderdomenet %s hører til enheten",
		"no rule names a unit, and the mail has no sender address":                        "ingen regel angir en enhet, og e-posten har ingen avsenderadresse",
		"no rule, membership or domain names a unit for %s":                               "ingen regel, medlemskap eller domene angir en enhet for %s",
		"service %s is proposed, not yet in the catalogue: routed as %s":                  "tjenesten %s er foreslått og ennå ikke i katalogen: rutet som %s",
		"rule %q dropped the mail: stored, not routed":                                    "regel %q avviste e-posten: lagret, ikke rutet",
		"rule %q starts the case on tier %s":                                              "regel %q legger saken på nivå %s",
		"rule %q asks for tier %s but %s has no rung of that tier":                        "regel %q vil ha nivå %s, men %s har ikke noe trinn på det nivået",
		"nobody holds a rung of %s for a mail without unit; routed as the default, %s":    "ingen har et trinn i %s for en e-post uten enhet; rutet til standardtjenesten %s",
		"nobody holds a rung of %s for %s; routed as the default, %s":                     "ingen har et trinn i %s for %s; rutet til standardtjenesten %s",
		"everyone who could take it is away; the case waits unassigned on the first rung": "alle som kunne ta den, er borte; saken venter utildelt på første trinn",
		"the case starts at the supplier %s; owned by the %s":                             "saken starter hos leverandøren %s; eies av %s",
		"%s serves on this rung":                                                          "%s er på dette trinnet",
		"named by rule %q (note: away now)":                                               "utpekt av regel %q (merk: borte nå)",
		"named by rule %q":                                                                "utpekt av regel %q",
		"contract %s (%s) of %s: users go straight to the supplier; owned by the %s":      "avtale %s (%s) med %s: brukerne går direkte til leverandøren; eies av %s",
		"services %s":               "tjenester %s",
		"units %s":                  "enheter %s",
		"work areas %s":             "arbeidsområder %s",
		"base":                      "grunnavtale",
		"sent to %s":                "sendt til %s",
		"keyword %q in the subject": "nøkkelordet %q i emnet",
		"keyword %q in the body":    "nøkkelordet %q i teksten",
		"no rule, alias or keyword; the mailbox's default":            "ingen regel, alias eller nøkkelord; postkassens standardtjeneste",
		"the mailbox's default service %s is not in the catalogue":    "postkassens standardtjeneste %s finnes ikke i katalogen",
		"no rule, alias or keyword matched":                           "ingen regel, alias eller nøkkelord traff",
		"the supplier %s takes it":                                    "leverandøren %s tar den",
		"held by %s":                                                  "rolleinnehaver: %s",
		"nobody holds %s for a mail without unit":                     "ingen er %s for en e-post uten enhet",
		"%s holds %s for a mail without unit but is away":             "%s er %s for en e-post uten enhet, men er borte",
		"%s hold %s for a mail without unit but are away":             "%s er %s for en e-post uten enhet, men er borte",
		"nobody holds %s for unit %s":                                 "ingen er %s for enheten %s",
		"%s holds %s for unit %s but is away":                         "%s er %s for enheten %s, men er borte",
		"%s hold %s for unit %s but are away":                         "%s er %s for enheten %s, men er borte",
		"nobody holds %s for unit %s (work area %s)":                  "ingen er %s for enheten %s (arbeidsområde %s)",
		"%s holds %s for unit %s (work area %s) but is away":          "%s er %s for enheten %s (arbeidsområde %s), men er borte",
		"%s hold %s for unit %s (work area %s) but are away":          "%s er %s for enheten %s (arbeidsområde %s), men er borte",
		"the rung is the supplier %s; no internal assignee":           "trinnet er leverandøren %s; ingen intern saksbehandler",
		"nobody on this rung is available; the case waits unassigned": "ingen på dette trinnet er tilgjengelig; saken venter utildelt",
		"among %s": "blant %s",
		"stop: true; %d later rule(s) not considered": "stop: true; %d senere regler ble ikke vurdert",

		// Sender authentication (senderauth's Finding.Format) and why a mail
		// proves nothing about its sender, with how it was matched to a case.
		"the sender's authentication failed: %s":                                                            "avsenderens autentisering mislyktes: %s",
		"this helpdesk requires mail whose sender is authenticated (an aligned DKIM or DMARC pass), and %s": "denne brukerstøtten krever e-post med autentisert avsender (en godkjent DKIM eller DMARC som stemmer med avsenderen), og %s",
		"its header could not be read":                                                                      "e-posthodet kunne ikke leses",
		"the mail has no From field":                                                                        "e-posten mangler avsenderfelt",
		"the mail has %d From fields, not one":                                                              "e-posten har %d avsenderfelt, ikke ett",
		"its From field could not be read":                                                                  "avsenderfeltet kunne ikke leses",
		"its From field has %d addresses, not one":                                                          "avsenderfeltet har %d adresser, ikke én",
		"its From address has no domain":                                                                    "avsenderadressen mangler domene",
		"no Authentication-Results are trusted":                                                             "ingen Authentication-Results er klarert",
		"the receiving server's Authentication-Results could not be read":                                   "mottakerserverens Authentication-Results kunne ikke leses",
		"the receiving server added no trusted Authentication-Results":                                      "mottakerserveren la ikke til noen klarerte Authentication-Results",
		"DMARC passed for %s":                                                                               "DMARC godkjent for %s",
		"DMARC failed for %s":                                                                               "DMARC underkjent for %s",
		"%s passed for %s, not aligned with %s":                                                             "%s godkjent for %s, som ikke stemmer med %s",
		"%s passed for %s (aligned with %s)":                                                                "%s godkjent for %s (stemmer med %s)",
		"%s failed for %s (%s)":                                                                             "%s underkjent for %s (%s)",
		"nothing aligned with %s passed":                                                                    "ingenting som stemmer med %s, ble godkjent",
		"no DMARC, DKIM or SPF result for %s":                                                               "ikke noe DMARC-, DKIM- eller SPF-resultat for %s",
		"its DKIM signatures could not be read":                                                             "DKIM-signaturene kunne ikke leses",
		"a DKIM signature of %s (aligned with %s) verified":                                                 "en DKIM-signatur fra %s (stemmer med %s) ble verifisert",
		"the DKIM key of %s could not be fetched":                                                           "DKIM-nøkkelen for %s kunne ikke hentes",
		"the DKIM signature of %s did not verify":                                                           "DKIM-signaturen fra %s kunne ikke verifiseres",
		"no DKIM signature aligned with %s":                                                                 "ingen DKIM-signatur stemmer med %s",
		"the mail has no DKIM signature":                                                                    "e-posten har ingen DKIM-signatur",
		"it was matched to the case by %s only":                                                             "den ble koblet til saken bare via %s",
		"its reply address had been shown to others (%s)":                                                   "svaradressen var vist til andre (%s)",
		"reply token":                  "svaradressen",
		"expired reply token":          "en utløpt svaradresse",
		"bounce of our mail":           "en retur av e-posten vår",
		"references":                   "referansene",
		"subject tag":                  "saksmerket i emnet",
		"supplier reference %s":        "leverandørens referanse %s",
		"%s, case #%d merged into #%d": "%s, sak #%d slått sammen med #%d",

		// A case's events in #history (intake/casework/events.go), and the
		// reasons they were stored with (read back by Reword).
		"unverified mail: %s":               "ikke verifisert e-post: %s",
		"command %s":                        "kommando %s",
		"commands refused: %s":              "kommandoer avvist: %s",
		"the reply token has expired":       "svaradressen er utløpt",
		"status %s → %s":                    "status %s → %s",
		"status %s → %s: %s":                "status %s → %s: %s",
		"priority %s → %s":                  "prioritet %s → %s",
		"service %s → %s":                   "tjeneste %s → %s",
		"routed to %s: service %s, unit %s": "rutet til %s: tjeneste %s, enhet %s",
		"routed to %s: service %s":          "rutet til %s: tjeneste %s",
		"the supplier %s":                   "leverandøren %s",
		"%s, level %s":                      "%s, nivå %s",
		"level %s":                          "nivå %s",
		"assigned to %s, %s (%s)":           "tildelt %s, %s (%s)",
		"dropped by a rule: %s":             "avvist av en regel: %s",
		"asked %s for help (#consult)":      "ba %s om hjelp (#consult)",
		"added %s to the case (#cc)":        "la til %s i saken (#cc)",
		"merged into #%d":                   "slått sammen med #%d",
		"case #%d merged into this one":     "sak #%d slått sammen med denne",
		"waits for the approval of a %s":    "venter på godkjenning fra en %s",
		"approved":                          "godkjent",
		"approved: %s":                      "godkjent: %s",
		"rejected":                          "avslått",
		"rejected: %s":                      "avslått: %s",
		"no acknowledgement sent: %s":       "ingen mottakskvittering sendt: %s",
		"%s already got %d mails about this case this hour: one more was not sent": "%s har allerede fått %d e-poster om saken denne timen: én til ble ikke sendt",
		"forwarded to %s under contract %s, answer due %s":                         "sendt til %s etter avtale %s, svar innen %s",
		"forwarded to %s under contract %s":                                        "sendt til %s etter avtale %s",
		"forwarded to %s, answer due %s":                                           "sendt til %s, svar innen %s",
		"forwarded to %s":                                                          "sendt til %s",
		"%s answered after %s":                                                     "%s svarte etter %s",
		"%s answered after %s, past the contract's response time":                  "%s svarte etter %s, etter avtalens svarfrist",
		"reminder %d of %d to %s":                                                  "påminnelse %d av %d til %s",
		"the holder was warned: %s due %s":                                         "saksbehandleren ble varslet: %s innen %s",
		"SLA met: %s (due %s)":                                                     "SLA overholdt: %s (innen %s)",
		"SLA breached: %s (due %s)":                                                "SLA brutt: %s (innen %s)",
		"reason: %s":                                                               "begrunnelse: %s",
		"at the top of its chain and no support_manager is defined: nobody else to tell":              "allerede på det høyeste nivået og ingen support_manager er angitt: ingen andre å si fra til",
		"at the top of its chain and no support_manager is defined: nobody else to tell (reason: %s)": "allerede på det høyeste nivået og ingen support_manager er angitt: ingen andre å si fra til (begrunnelse: %s)",
		"%s: %s":   "%s: %s",
		"new mail": "saken ble opprettet av en ny e-post",
		"%s wrote to case #%d, which is closed: opened a new case linked to it":              "%s skrev til sak #%d, som er lukket: en ny sak ble opprettet og koblet til den",
		"%s wrote to case #%d, resolved more than %s ago: opened a new case linked to it":    "%s skrev til sak #%d, løst for mer enn %s siden: en ny sak ble opprettet og koblet til den",
		"subject names case #%d, but %s is not on that case: opened a new case linked to it": "emnet nevner sak #%d, men %s hører ikke til den saken: en ny sak ble opprettet og koblet til den",
		"%s already got %d acknowledgements this hour":                                       "%s har allerede fått %d mottakskvitteringer denne timen",
		"mailbox %s already sent %d acknowledgements this hour":                              "postkassen %s har allerede sendt %d mottakskvitteringer denne timen",
		"a reply address was shown to others (%s): it carries no command from now on":        "en svaradresse ble vist til andre (%s): den bærer ingen kommandoer fra nå av",
		"sent to the list %s":                   "sendt til listen %s",
		"sent to %s too":                        "sendt til %s også",
		"%s on a case nobody owns: nobody told": "%s i en sak ingen eier: ingen fikk beskjed",
		"follow-up":                             "oppfølging",
		"supplier answer":                       "leverandørens svar",
		"a mail to the owner bounced: not told again by mail":           "en e-post til eieren kom i retur: eieren får ikke beskjed igjen per e-post",
		"a mail to %s bounced: the owner is told":                       "en e-post til %s kom i retur: eieren får beskjed",
		"the requester wrote in %s: answered in %s from now on":         "innmelderen skrev på %s: svarene går på %s fra nå av",
		"waited %s of business time: SLA due times moved on by as much": "ventet %s arbeidstid: SLA-fristene ble flyttet like mye",
		"the #wait ended": "#wait er over",
		"the requester wrote while the case was waiting":                               "innmelderen skrev mens saken ventet",
		"the supplier answered: the SLA resumes":                                       "leverandøren svarte: SLA-klokken går igjen",
		"waiting on the supplier %s: the SLA pauses":                                   "venter på leverandøren %s: SLA-klokken stanser",
		"the requester replied to a resolved case":                                     "innmelderen svarte på en løst sak",
		"waiting until %s":                                                             "venter til %s",
		"the supplier's reference: %s":                                                 "leverandørens referanse: %s",
		"%s has not answered after %d reminders: the owner is told":                    "%s har ikke svart etter %d påminnelser: eieren får beskjed",
		"%s has not answered after %d reminders, answer was due %s: the owner is told": "%s har ikke svart etter %d påminnelser, svaret skulle kommet innen %s: eieren får beskjed",
		"the requester's personal data was erased on request (GDPR)":                   "innmelderens personopplysninger ble slettet på forespørsel (GDPR)",
		"a participant's personal data was erased on request (GDPR)":                   "en deltakers personopplysninger ble slettet på forespørsel (GDPR)",
	},
}

// Reword reads an English text made from one of the wordings' formats
// back into a Phrase — a stored event's reason, an error recorded as
// text — so that a mail can word it in its reader's language: the most
// specific format whose fixed parts it has, with its verbs' values as
// data (a value that is itself such a sentence is reworded too, a case
// status is a Word, a length of time as Go or rules.yaml writes it a
// Span). A text made from no known format is a Phrase of
// itself, shown as it is.
func Reword(english string) Phrase {
	if p, ok := reword(english, rewordDepth); ok {
		return p
	}
	return Phrase{Format: english}
}

// rewordDepth bounds how deep sentences nest inside one another's
// values. Every format is tried at every level, so without a bound a
// long text (an agent's reason is part of it) could cost the formats
// times its length at each of as many levels as it has fixed words.
// casemail's own sentences nest two deep.
const rewordDepth = 3

func reword(s string, depth int) (Phrase, bool) {
	if Translated("sv", s) || Translated("nb", s) {
		return Phrase{Format: s}, true
	}
	if depth == 0 {
		return Phrase{}, false
	}
	for _, f := range rewordFormats() {
		if len(f.verbs) == 0 {
			continue
		}
		m := f.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		args := make([]any, len(f.verbs))
		for i, v := range f.verbs {
			val := m[i+1]
			switch v {
			case 'd':
				n, _ := strconv.ParseInt(val, 10, 64)
				args[i] = n
			case 'q':
				q, err := strconv.Unquote(val)
				if err != nil {
					q = val
				}
				args[i] = q
			default:
				if _, ok := words[DefaultLanguage]["status."+val]; ok {
					args[i] = Word{Kind: "status", Key: val}
				} else if b, err := config.ParseBusinessDuration(val); err == nil && val != "0" {
					args[i] = Span(b) // "14d", or Go's "2h0m0s"
				} else if p, ok := reword(val, depth-1); ok {
					args[i] = p
				} else {
					args[i] = val
				}
			}
		}
		return Phrase{Format: f.format, Args: args}, true
	}
	return Phrase{}, false
}

type rewordFormat struct {
	format string
	verbs  string
	re     *regexp.Regexp
}

var (
	rewordOnce sync.Once
	rewordList []rewordFormat
)

// rewordFormats are the wordings' formats as patterns, the most specific
// (the most fixed text) first.
func rewordFormats() []rewordFormat {
	rewordOnce.Do(func() {
		seen := map[string]bool{}
		for _, lang := range []string{"sv", "nb"} {
			for f := range wordings[lang] {
				if seen[f] {
					continue
				}
				seen[f] = true
				var b strings.Builder
				b.WriteString("^")
				for i := 0; i < len(f); i++ {
					if f[i] != '%' || i == len(f)-1 {
						b.WriteString(regexp.QuoteMeta(f[i : i+1]))
						continue
					}
					i++
					switch f[i] {
					case 'd':
						b.WriteString(`([-+]?\d+)`)
					case 'q':
						b.WriteString(`("(?:[^"\\]|\\.)*")`)
					case '%':
						b.WriteString("%")
					default:
						b.WriteString(`(.+?)`)
					}
				}
				b.WriteString("$")
				rewordList = append(rewordList, rewordFormat{format: f, verbs: strings.ReplaceAll(Verbs(f), "%", ""),
					re: regexp.MustCompile(b.String())})
			}
		}
		sort.Slice(rewordList, func(i, j int) bool {
			a, b := rewordList[i], rewordList[j]
			if la, lb := len(a.format)-2*len(a.verbs), len(b.format)-2*len(b.verbs); la != lb {
				return la > lb
			}
			return a.format < b.format
		})
	})
	return rewordList
}

// Verbs lists a format's fmt verbs in order, so that a test can check a
// wording keeps them.
func Verbs(format string) string {
	var b strings.Builder
	for i := 0; i < len(format)-1; i++ {
		if format[i] == '%' {
			b.WriteByte(format[i+1])
			i++
		}
	}
	return b.String()
}

// StatusName is a case status in lang, as templates show it.
func StatusName(lang, status string) string {
	if w := words[Language(lang)]["status."+status]; w != "" {
		return w
	}
	return status
}
