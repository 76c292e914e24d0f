package main

import (
	"log/slog"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/intake"
	"github.com/casemail/casemail/notify"
)

// watcherConfig is a mailbox's IMAP watcher settings, as serve and doctor
// use them; the credentials (password or OAuth2) are added by the caller.
func watcherConfig(mb config.Mailbox, log *slog.Logger) intake.WatcherConfig {
	return intake.WatcherConfig{
		Name: mb.Name, Host: mb.IMAP.Host, Port: mb.IMAP.Port, Security: mb.IMAP.Security,
		Username: mb.IMAP.Username, Folder: mb.IMAP.Folder,
		ProcessedFolder: mb.IMAP.ProcessedFolder, IDLE: mb.IMAP.IDLE,
		PollInterval: time.Duration(mb.IMAP.PollInterval), MaxMessageSize: int64(mb.MaxMessageSize),
		Logger: log.With("part", "imap"),
	}
}

// smtpConfig is the outbox's SMTP settings without credentials.
func smtpConfig(cfg *config.Daemon) notify.SMTPConfig {
	return notify.SMTPConfig{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Security: cfg.SMTP.Security,
		Username: cfg.SMTP.Username}
}
