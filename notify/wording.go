package notify

import "strings"

// Translate returns the wording in lang of a text written in English
// below the templates — the errors a command gets (casework), the steps
// of a routing trail (routing's Step.Format) — with the same fmt verbs
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
		"contract %s of %s: users go straight to the supplier; owned by the %s":           "avtal %s med %s: användarna går direkt till leverantören; ägs av %s",
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
		"contract %s of %s: users go straight to the supplier; owned by the %s":           "avtale %s med %s: brukerne går rett til leverandøren; eies av %s",
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
	},
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
