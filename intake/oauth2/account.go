package oauth2

import "github.com/casemail/casemail/store"

// Account names one stored grant: a mailbox's IMAP login, or the SMTP
// login of the smtp section.
type Account struct {
	Purpose string // store.OAuth2IMAP or store.OAuth2SMTP
	Name    string // the mailbox name, or "smtp"
}

// IMAP is the account of a mailbox's IMAP login.
func IMAP(mailbox string) Account { return Account{Purpose: store.OAuth2IMAP, Name: mailbox} }

// SMTP is the account of the smtp section's login.
func SMTP() Account { return Account{Purpose: store.OAuth2SMTP, Name: "smtp"} }

// String is how messages name the account: "mailbox helpdesk" or "smtp".
func (a Account) String() string {
	if a.Purpose == store.OAuth2SMTP {
		return "smtp"
	}
	return "mailbox " + a.Name
}

// LoginCommand is the command an admin runs to (re)obtain the grant.
func (a Account) LoginCommand() string {
	if a.Purpose == store.OAuth2SMTP {
		return "casemail oauth2 login -smtp"
	}
	return "casemail oauth2 login " + a.Name
}
