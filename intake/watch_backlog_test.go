package intake

import (
	"testing"
)

// The watcher's Backlog counts the mails of the current pass not yet
// committed, down to 0 when the pass is through: what the
// casemail_imap_backlog metric reports.
func TestWatcherBacklog(t *testing.T) {
	s := wtNewServer(t, wtServerOptions{})
	for i := 1; i <= 5; i++ {
		s.append(t, "INBOX", wtMail(i))
	}
	h := wtNewHandler()
	release := make(chan struct{})
	h.fail = func(d Delivery) error {
		if d.UID == 3 {
			<-release // the third mail's commit is slow
		}
		return nil
	}
	cfg := wtConfig(s)
	cfg.BatchSize = 1
	w, _ := wtStart(t, cfg, h)
	wtEventually(t, "two mails committed", func() bool { return w.State().Delivered == 2 })
	if b := w.State().Backlog; b != 3 {
		t.Errorf("backlog %d while the third of five mails commits, want 3", b)
	}
	close(release)
	wtEventually(t, "all committed", func() bool { st := w.State(); return st.Delivered == 5 && st.Backlog == 0 })
}
