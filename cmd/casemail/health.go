package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"github.com/casemail/casemail/store"
	"github.com/emersion/go-imap/v2"
)

// problem says what is wrong with a connection to the database or a mail
// server in words for /readyz, which anyone who reaches the port may read:
// never the error's own text, which names hosts, ports, users and
// databases (pgx's "failed to connect to `user=… database=…`: host:port").
// The full error goes to the log, at WARN.
func problem(err error) string {
	var dns *net.DNSError
	var ie *imap.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch {
	case err == nil:
		return "ok"
	case store.IsDatabase(err):
		what, _ := store.Describe(err)
		return what
	case errors.As(err, &ie):
		if ie.Code == imap.ResponseCodeAuthenticationFailed || ie.Code == imap.ResponseCodeAuthorizationFailed {
			return "the login was refused: check the user and password or OAuth2 grant"
		}
		if ie.Code != "" {
			return "the server said " + string(ie.Type) + " [" + string(ie.Code) + "]"
		}
		return "the server said " + string(ie.Type)
	case errors.As(err, &dns):
		return "the host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: the server is not running or not listening there"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "the connection was cut"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "the server's TLS certificate is not trusted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "not answering in time"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the host cannot be reached"
	}
	return "failing (the log has the details)"
}

// noteDatabase logs a change of the database's state seen by /readyz: once
// at WARN with the full error when it goes down (or its problem changes),
// once at INFO when it is back, not on every probe. pgx's errors name the
// host, user and database but never the password.
func (d *daemon) noteDatabase(err error) {
	now := ""
	if err != nil {
		now = problem(err)
	}
	if prev, _ := d.dbProblem.Swap(now).(string); prev == now {
		return
	}
	if err != nil {
		d.log.Warn("database not ready", "problem", now, "err", err)
	} else {
		d.log.Info("database ready again")
	}
}
