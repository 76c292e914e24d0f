// Package oauth2 gives casemail XOAUTH2 logins to Microsoft 365 and Google
// (and any RFC 8628 provider) for both intake's IMAP watcher and notify's
// SMTP sender.
//
// `casemail oauth2 login` signs in once (Login): with the device-code flow
// for Microsoft 365 (the admin opens the provider's page and enters a
// code), and with the browser flow for installed apps for Google, whose
// device flow does not allow the mail scope. The grant — access token,
// refresh token, expiry, scopes — is stored in the database, where every
// instance finds it. A Manager per login keeps the access token fresh: it
// refreshes ahead of expiry under the grant's row lock, so that of several
// instances exactly one spends a refresh token that the provider may
// rotate, saves the rotated refresh token, and reports a failed or overdue
// refresh in State at once.
//
// It never logs or returns a token or client secret in an error, and it
// never opens a mail connection itself: callers pass Manager.Token or
// Manager.SASL to the IMAP and SMTP clients.
package oauth2
