package intake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// watchSession is one IMAP connection of a Watcher.
type watchSession struct {
	w           *Watcher
	c           *imapclient.Client
	conn        *watchConn
	caps        imap.CapSet
	uidValidity uint32
	// newMail gets a value when the server announces new messages (EXISTS).
	// Buffered and written without blocking: the unilateral data handler
	// runs on the client's reader goroutine and must never stall it.
	newMail chan struct{}
}

// watchHandlerError is a Cursor or Deliver failure: the connection is fine,
// the pass stops and is retried after a delay on the same connection.
type watchHandlerError struct{ err error }

func (e *watchHandlerError) Error() string { return e.err.Error() }
func (e *watchHandlerError) Unwrap() error { return e.err }

// runSession connects, logs in, selects the folder and polls until an error
// or ctx ends. synced reports that at least one pass completed, which
// resets the reconnect backoff.
func (w *Watcher) runSession(ctx context.Context) (synced bool, err error) {
	s := &watchSession{w: w, newMail: make(chan struct{}, 1)}
	opts := &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				// Only EXISTS brings new mail. EXPUNGE is ignored on
				// purpose: our own MOVEs cause them and would make every
				// pass trigger another.
				if data.NumMessages != nil {
					s.signal()
				}
			},
		},
	}
	c, conn, err := w.dial(ctx, opts)
	if err != nil {
		return false, err
	}
	s.c, s.conn = c, conn
	defer c.Close()
	// Cancelling ctx closes the connection, which unblocks any command.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	defer func() { err = conn.explain(err) }()
	if err := s.login(ctx); err != nil {
		return false, err
	}
	if err := s.prepare(); err != nil {
		return false, err
	}
	w.update(func(st *WatcherState) {
		st.Connected = true
		st.Connects++
		st.UIDValidity = s.uidValidity
	})
	w.log.Info("imap connected", "uidvalidity", s.uidValidity,
		"idle", w.cfg.IDLE && s.caps.Has(imap.CapIdle), "move", s.caps.Has(imap.CapMove))

	failures := 0
	for {
		// Signals that arrive during the pass trigger the next one.
		s.drain()
		err := s.pass(ctx)
		if ctx.Err() != nil {
			return synced, ctx.Err()
		}
		var he *watchHandlerError
		if errors.As(err, &he) {
			failures++
			delay := w.backoff(failures)
			w.recordError(err)
			w.log.Warn("mail not committed, will retry", "err", err, "retry_in", delay.Round(time.Millisecond))
			// New mail does not cut this wait short (the handler is
			// what is failing); Poke does.
			if _, err := s.sleep(ctx, delay, false); err != nil {
				return synced, err
			}
			continue
		}
		if err != nil {
			return synced, err
		}
		failures = 0
		synced = true
		w.update(func(st *WatcherState) { st.LastSync, st.LastError, st.Err = time.Now(), "", nil })
		if err := s.wait(ctx); err != nil {
			return synced, err
		}
	}
}

func (s *watchSession) signal() {
	select {
	case s.newMail <- struct{}{}:
	default:
	}
}

func (s *watchSession) drain() {
	for {
		select {
		case <-s.newMail:
		case <-s.w.poke:
		default:
			return
		}
	}
}

func (s *watchSession) login(ctx context.Context) error {
	cfg := &s.w.cfg
	if err := s.c.WaitGreeting(); err != nil {
		return fmt.Errorf("waiting for the IMAP greeting: %w", err)
	}
	if cfg.Auth != nil {
		sc, err := cfg.Auth(ctx)
		if err != nil {
			return fmt.Errorf("preparing SASL authentication: %w", err)
		}
		if err := s.c.Authenticate(sc); err != nil {
			return fmt.Errorf("authenticating as %s: %w", cfg.Username, err)
		}
		return nil
	}
	if err := s.c.Login(cfg.Username, cfg.Password).Wait(); err != nil {
		return fmt.Errorf("logging in as %s: %w", cfg.Username, err)
	}
	return nil
}

// prepare reads the capabilities, makes sure the processed folder exists and
// selects the watched folder read-write (marking needs it).
func (s *watchSession) prepare() error {
	cfg := &s.w.cfg
	s.caps = s.c.Caps()
	if s.caps == nil {
		return errors.New("reading capabilities: no answer")
	}
	if cfg.ProcessedFolder != "" {
		if err := s.ensureFolder(cfg.ProcessedFolder); err != nil {
			return err
		}
	}
	data, err := s.c.Select(cfg.Folder, nil).Wait()
	if err != nil {
		return fmt.Errorf("selecting %s: %w", cfg.Folder, err)
	}
	if data.UIDValidity == 0 {
		// Without UIDVALIDITY a UID cursor cannot be trusted.
		return fmt.Errorf("selecting %s: server sent no UIDVALIDITY", cfg.Folder)
	}
	s.uidValidity = data.UIDValidity
	return nil
}

func (s *watchSession) ensureFolder(name string) error {
	list, err := s.c.List("", name, nil).Collect()
	if err != nil {
		return fmt.Errorf("looking for folder %s: %w", name, err)
	}
	if len(list) > 0 {
		return nil
	}
	if err := s.c.Create(name, nil).Wait(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			return nil // created meanwhile, e.g. by a second instance
		}
		return fmt.Errorf("creating folder %s: %w", name, err)
	}
	s.w.log.Info("created processed folder", "processed_folder", name)
	return nil
}

// watchMsgRef is a mail found by the listing: UID and announced size.
type watchMsgRef struct {
	uid  imap.UID
	size int64
}

// pass fetches everything after the handler's cursor, delivers it in UID
// order and marks what was committed.
func (s *watchSession) pass(ctx context.Context) error {
	cfg := &s.w.cfg
	s.conn.setBusy(false) // a slow database is not a silent server
	cursorValidity, last, ok, err := s.w.h.Cursor(ctx, cfg.Name)
	s.conn.setBusy(true)
	if err != nil {
		return &watchHandlerError{fmt.Errorf("reading cursor: %w", err)}
	}
	if ok && cursorValidity != s.uidValidity {
		// The UIDs we know are void: fetch the whole folder again. The
		// handler recognises mails it already has by Message-ID plus
		// content hash, so this re-feed neither loses nor doubles mail.
		s.w.log.Warn("UIDVALIDITY changed, fetching the whole folder again",
			"old_uidvalidity", cursorValidity, "uidvalidity", s.uidValidity)
	}
	if !ok || cursorValidity != s.uidValidity {
		last = 0
	}
	if last == ^uint32(0) {
		return nil
	}

	if err := s.markLeftovers(ctx); err != nil {
		return err
	}
	if cfg.ProcessedFolder != "" && last > 0 {
		if err := s.repair(imap.UID(last)); err != nil {
			return err
		}
	}

	refs, err := s.list(imap.UID(last) + 1)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		s.w.log.Debug("new mail", "count", len(refs), "after_uid", last)
	}
	s.w.update(func(st *WatcherState) { st.Backlog = len(refs) })

	var batch []imap.UID
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.fetch(ctx, batch, false)
		batch = batch[:0]
		return err
	}
	for _, ref := range refs {
		if ref.size > cfg.MaxMessageSize {
			// Known to be too large: fetch it on its own, cut, with its
			// structure, keeping UID order.
			if err := flush(); err != nil {
				return err
			}
			if err := s.fetch(ctx, []imap.UID{ref.uid}, true); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, ref.uid)
		if len(batch) >= cfg.BatchSize*fetchBatches {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// list returns the UIDs >= from with their sizes, in ascending order. It is
// never restricted to UNSEEN: mail a person has read in another client is
// still ours to ingest.
func (s *watchSession) list(from imap.UID) ([]watchMsgRef, error) {
	set := imap.UIDSet{imap.UIDRange{Start: from, Stop: 0}} // from:*
	cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true})
	defer cmd.Close()
	var refs []watchMsgRef
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var ref watchMsgRef
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				ref.uid = item.UID
			case imapclient.FetchItemDataRFC822Size:
				ref.size = item.Size
			}
		}
		// "n:*" always matches the newest mail even when its UID is below
		// n: drop anything not after the cursor.
		if ref.uid >= from {
			refs = append(refs, ref)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("listing UIDs from %d: %w", from, err)
	}
	slices.SortFunc(refs, func(a, b watchMsgRef) int { return cmp.Compare(a.uid, b.uid) })
	refs = slices.CompactFunc(refs, func(a, b watchMsgRef) bool { return a.uid == b.uid })
	return refs, nil
}

// fetch streams BODY.PEEK[] (never BODY[], which would set \Seen before the
// commit) for uids, hands the mails to the handler in batches as they
// arrive, and marks the committed ones when the FETCH is done. Memory is
// bounded by two batches (BatchSize mails or commitBatchBytes each): the
// client does not read the next literal before this one is consumed.
// oversize asks for the first MaxMessageSize bytes and the BODYSTRUCTURE
// only.
func (s *watchSession) fetch(ctx context.Context, uids []imap.UID, oversize bool) error {
	cfg := &s.w.cfg
	section := &imap.FetchItemBodySection{Peek: true}
	opts := &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{section},
	}
	if oversize {
		section.Partial = &imap.SectionPartial{Offset: 0, Size: cfg.MaxMessageSize}
		opts.BodyStructure = &imap.FetchItemBodyStructure{Extended: true}
	}

	cmd := s.c.Fetch(imap.UIDSetNum(uids...), opts)
	var (
		delivered    []imap.UID
		handlerErr   error
		readErr      error
		lastUID      imap.UID
		pending      []Delivery
		pendingBytes int
	)
	// commit hands the pending mails to the handler, in one transaction
	// where it can, while the next ones are read from the server: the
	// handler's commit and the server's sending overlap. One batch is in
	// the handler at a time, so order is kept and at most two batches are
	// held in memory.
	var (
		flying []Delivery // the batch in the handler
		flown  chan struct{}
		flyN   int
		flyErr error
	)
	// land waits for the batch in the handler and notes which mails of it
	// were committed.
	land := func() error {
		if flown == nil {
			return nil
		}
		// The handler may be slow (a database commit); that is not server
		// silence, so the watchdog pauses meanwhile.
		s.conn.setBusy(false)
		<-flown
		s.conn.setBusy(true)
		flown = nil
		n, err := flyN, flyErr
		for _, d := range flying[:n] {
			delivered = append(delivered, imap.UID(d.UID))
			s.w.log.Debug("mail committed", "uid", d.UID, "size", d.Size, "truncated", d.Truncated)
		}
		s.w.update(func(st *WatcherState) { st.Delivered += uint64(n); st.Backlog = max(st.Backlog-n, 0) })
		if err != nil {
			var failed uint32
			if n < len(flying) {
				failed = flying[n].UID
			}
			return &watchHandlerError{fmt.Errorf("delivering UID %d: %w", failed, err)}
		}
		return nil
	}
	commit := func() error {
		if err := land(); err != nil || len(pending) == 0 {
			return err
		}
		flying, flown = pending, make(chan struct{})
		pending, pendingBytes = nil, 0
		go func(ds []Delivery, done chan struct{}) {
			defer close(done)
			flyN, flyErr = s.deliver(ctx, ds)
		}(flying, flown)
		return nil
	}
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		d, err := s.readMessage(msg, oversize)
		if err != nil {
			readErr = err
			break
		}
		if d.UID == 0 {
			s.w.log.Warn("FETCH response without UID ignored", "seq", msg.SeqNum)
			continue
		}
		if imap.UID(d.UID) < lastUID {
			// Servers answer in sequence (= UID) order; should one not,
			// deliver anyway rather than skip the mail.
			s.w.log.Warn("server returned mail out of UID order", "uid", d.UID, "after", lastUID)
		}
		lastUID = max(lastUID, imap.UID(d.UID))
		pending = append(pending, d)
		pendingBytes += len(d.Raw)
		if len(pending) >= s.w.cfg.BatchSize || pendingBytes >= commitBatchBytes {
			if handlerErr = commit(); handlerErr != nil {
				// Keep order: nothing after a failed mail is delivered in
				// this pass; Close below discards the rest of the stream.
				break
			}
		}
	}
	if handlerErr == nil {
		handlerErr = commit()
	}
	if err := land(); handlerErr == nil {
		handlerErr = err
	}
	closeErr := cmd.Close()
	if readErr == nil && closeErr != nil {
		readErr = fmt.Errorf("fetching UIDs %v: %w", imap.UIDSetNum(uids...), closeErr)
	}
	if readErr != nil {
		// The connection is probably gone; marking is retried by the
		// repair step of a later pass (processed folder) or skipped.
		return readErr
	}
	if err := s.markCommitted(ctx, delivered); err != nil {
		return err
	}
	return handlerErr
}

// deliver commits ds through the handler: in one batch where it can, else
// one by one. It returns how many were committed, from the start.
func (s *watchSession) deliver(ctx context.Context, ds []Delivery) (int, error) {
	if bh, ok := s.w.h.(BatchHandler); ok && len(ds) > 1 {
		return bh.DeliverBatch(ctx, ds)
	}
	for i, d := range ds {
		if err := s.w.h.Deliver(ctx, d); err != nil {
			return i, err
		}
	}
	return len(ds), nil
}

// markCommitted marks committed mails on the server and, where the handler
// tracks it, records that they are marked.
func (s *watchSession) markCommitted(ctx context.Context, uids []imap.UID) error {
	if err := s.mark(uids); err != nil {
		return err
	}
	mt, ok := s.w.h.(MarkTracker)
	if !ok || len(uids) == 0 {
		return nil
	}
	nums := make([]uint32, len(uids))
	for i, u := range uids {
		nums[i] = uint32(u)
	}
	s.conn.setBusy(false)
	defer s.conn.setBusy(true)
	if err := mt.Marked(ctx, s.w.cfg.Name, s.uidValidity, nums); err != nil {
		return &watchHandlerError{fmt.Errorf("recording marked UIDs: %w", err)}
	}
	return nil
}

// markLeftovers marks mails that were committed but not marked before the
// last connection died (only with a MarkTracker handler).
func (s *watchSession) markLeftovers(ctx context.Context) error {
	mt, ok := s.w.h.(MarkTracker)
	if !ok {
		return nil
	}
	s.conn.setBusy(false)
	nums, err := mt.Unmarked(ctx, s.w.cfg.Name, s.uidValidity)
	s.conn.setBusy(true)
	if err != nil {
		return &watchHandlerError{fmt.Errorf("listing unmarked UIDs: %w", err)}
	}
	if len(nums) == 0 {
		return nil
	}
	uids := make([]imap.UID, len(nums))
	for i, n := range nums {
		uids[i] = imap.UID(n)
	}
	s.w.log.Info("marking committed mail left unmarked", "count", len(uids))
	return s.markCommitted(ctx, uids)
}

// readMessage consumes one FETCH response into a Delivery.
func (s *watchSession) readMessage(msg *imapclient.FetchMessageData, oversize bool) (Delivery, error) {
	cfg := &s.w.cfg
	d := Delivery{Mailbox: cfg.Name, UIDValidity: s.uidValidity}
	var rfcSize int64
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch item := item.(type) {
		case imapclient.FetchItemDataUID:
			d.UID = uint32(item.UID)
		case imapclient.FetchItemDataFlags:
			d.Flags = item.Flags
		case imapclient.FetchItemDataInternalDate:
			d.InternalDate = item.Time
		case imapclient.FetchItemDataRFC822Size:
			rfcSize = item.Size
		case imapclient.FetchItemDataBodyStructure:
			d.BodyStructure = item.BodyStructure
		case imapclient.FetchItemDataBodySection:
			if item.Literal == nil {
				continue // NIL: the handler gets an empty Raw
			}
			raw, size, err := watchReadLimited(item.Literal, cfg.MaxMessageSize)
			if err != nil {
				return d, fmt.Errorf("reading mail (seq %d): %w", msg.SeqNum, err)
			}
			d.Raw, d.Size = raw, size
			d.Truncated = size > int64(len(raw))
		}
	}
	if oversize {
		// We asked for a prefix: the literal's size is the prefix's.
		d.Size = max(rfcSize, int64(len(d.Raw)))
		d.Truncated = d.Size > int64(len(d.Raw))
	} else if d.Raw == nil {
		d.Size = rfcSize
	}
	return d, nil
}

// watchReadLimited reads at most limit bytes of lit into memory and discards
// the rest from the stream. size is the literal's full size.
func watchReadLimited(lit imap.LiteralReader, limit int64) (raw []byte, size int64, err error) {
	size = lit.Size()
	n := min(size, limit)
	raw = make([]byte, n)
	if _, err := io.ReadFull(lit, raw); err != nil {
		return nil, size, err
	}
	if size > n {
		if _, err := io.Copy(io.Discard, lit); err != nil {
			return nil, size, err
		}
	}
	return raw, size, nil
}

// mark moves committed mails to the processed folder or flags them \Seen.
func (s *watchSession) mark(uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	cfg := &s.w.cfg
	set := imap.UIDSetNum(uids...)
	if cfg.ProcessedFolder == "" {
		err := s.c.Store(set, &imap.StoreFlags{
			Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen},
		}, nil).Close()
		if err != nil {
			return fmt.Errorf("setting \\Seen on UIDs %v: %w", set, err)
		}
		return nil
	}
	if s.caps.Has(imap.CapMove) {
		if _, err := s.c.Move(set, cfg.ProcessedFolder).Wait(); err != nil {
			return fmt.Errorf("moving UIDs %v to %s: %w", set, cfg.ProcessedFolder, err)
		}
		return nil
	}
	// No MOVE: COPY, flag \Deleted, expunge. UID EXPUNGE (UIDPLUS) removes
	// only our mails; a plain EXPUNGE also removes other mails already
	// flagged \Deleted, which is what that flag asks for anyway.
	if _, err := s.c.Copy(set, cfg.ProcessedFolder).Wait(); err != nil {
		return fmt.Errorf("copying UIDs %v to %s: %w", set, cfg.ProcessedFolder, err)
	}
	err := s.c.Store(set, &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted},
	}, nil).Close()
	if err != nil {
		return fmt.Errorf("flagging UIDs %v \\Deleted: %w", set, err)
	}
	if s.caps.Has(imap.CapUIDPlus) {
		err = s.c.UIDExpunge(set).Close()
	} else {
		err = s.c.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("expunging UIDs %v: %w", set, err)
	}
	return nil
}

// repair moves mails up to the cursor that are still in the folder to the
// processed folder: they were committed (the cursor only passes committed
// mail, in UID order) but the connection died before the move. Mails
// flagged \Deleted are skipped (copied already, expunge pending).
func (s *watchSession) repair(last imap.UID) error {
	data, err := s.c.UIDSearch(&imap.SearchCriteria{
		UID:     []imap.UIDSet{{imap.UIDRange{Start: 1, Stop: last}}},
		NotFlag: []imap.Flag{imap.FlagDeleted},
	}, nil).Wait()
	if err != nil {
		return fmt.Errorf("searching committed mail left in %s: %w", s.w.cfg.Folder, err)
	}
	var uids []imap.UID
	for _, uid := range data.AllUIDs() {
		if uid <= last {
			uids = append(uids, uid)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	s.w.log.Info("moving committed mail left behind", "count", len(uids))
	return s.mark(uids)
}

// wait waits for the next poll: with IDLE until the server announces mail,
// Poke, or the poll interval (at most maxIdleDuration); without IDLE for the
// poll interval, with a NOOP every noopInterval to keep the connection
// alive and checked.
func (s *watchSession) wait(ctx context.Context) error {
	cfg := &s.w.cfg
	if cfg.IDLE && s.caps.Has(imap.CapIdle) {
		return s.idle(ctx, min(cfg.PollInterval, maxIdleDuration))
	}
	deadline := time.Now().Add(cfg.PollInterval)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		woken, err := s.sleep(ctx, min(left, noopInterval), true)
		if err != nil || woken {
			return err
		}
		if time.Until(deadline) > 0 {
			if err := s.c.Noop().Wait(); err != nil {
				return fmt.Errorf("NOOP: %w", err)
			}
		}
	}
}

// sleep waits for d, or until Poke, new mail (if wakeOnMail), ctx or a
// closed connection. woken reports that Poke or new mail ended the wait.
func (s *watchSession) sleep(ctx context.Context, d time.Duration, wakeOnMail bool) (woken bool, err error) {
	s.conn.setBusy(false)
	defer s.conn.setBusy(true)
	t := time.NewTimer(d)
	defer t.Stop()
	var newMail <-chan struct{} // nil: never ready
	if wakeOnMail {
		newMail = s.newMail
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-s.c.Closed():
		return false, errors.New("connection closed by the server")
	case <-s.w.poke:
		return true, nil
	case <-newMail:
		return true, nil
	case <-t.C:
		return false, nil
	}
}

func (s *watchSession) idle(ctx context.Context, d time.Duration) error {
	cmd, err := s.c.Idle()
	if err != nil {
		return fmt.Errorf("starting IDLE: %w", err)
	}
	s.w.update(func(st *WatcherState) { st.Idling = true })
	defer s.w.update(func(st *WatcherState) { st.Idling = false })

	s.conn.setBusy(false)
	t := time.NewTimer(d)
	var waitErr error
	select {
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-s.c.Closed():
		waitErr = errors.New("connection closed by the server while idling")
	case <-s.w.poke:
	case <-s.newMail:
	case <-t.C:
	}
	t.Stop()
	s.conn.setBusy(true)
	if waitErr != nil {
		return waitErr
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("stopping IDLE: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	return nil
}
