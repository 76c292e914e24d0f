package intake

import (
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// MailboxCheck is what Check found out about a mailbox's server, step by
// step; the first step that failed has its error set and the later ones
// were not tried.
type MailboxCheck struct {
	Connect error // TCP, and TLS or STARTTLS as configured
	Login   error // LOGIN or SASL (OAuth2)
	Folder  error // EXAMINE of the watched folder
	// Messages is the number of mails in the folder.
	Messages uint32
	// IDLE and MOVE report the server's capabilities.
	IDLE, MOVE bool
	// ProcessedMissing is set when processed_folder is configured and does
	// not exist yet (serve creates it).
	ProcessedMissing bool
	ProcessedErr     error // listing processed_folder failed
}

// Check connects and logs in as Run would, opens the folder read-only
// (EXAMINE) and looks for the processed folder, then logs out. It changes
// nothing on the server: no flag, no folder created.
func (w *Watcher) Check(ctx context.Context) MailboxCheck {
	var r MailboxCheck
	c, conn, err := w.dial(ctx, &imapclient.Options{})
	if err != nil {
		r.Connect = err
		return r
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	s := &watchSession{w: w, c: c, conn: conn}
	if err := s.login(ctx); err != nil {
		r.Login = conn.explain(err)
		return r
	}
	caps := c.Caps()
	r.IDLE, r.MOVE = caps.Has(imap.CapIdle), caps.Has(imap.CapMove)
	data, err := c.Select(w.cfg.Folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		r.Folder = fmt.Errorf("opening %s: %w", w.cfg.Folder, conn.explain(err))
		return r
	}
	r.Messages = data.NumMessages
	if w.cfg.ProcessedFolder != "" {
		list, err := c.List("", w.cfg.ProcessedFolder, nil).Collect()
		switch {
		case err != nil:
			r.ProcessedErr = fmt.Errorf("looking for folder %s: %w", w.cfg.ProcessedFolder, conn.explain(err))
		case len(list) == 0:
			r.ProcessedMissing = true
		}
	}
	c.Logout().Wait() //nolint:errcheck // the check is done; a failed goodbye changes nothing
	return r
}
