package intake

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// watchConn wraps the TCP connection under the IMAP client (and under TLS)
// to implement the watchdog: while the watcher waits on the server (busy),
// a connection that delivers no byte for the command timeout is closed,
// which fails every pending command and sends the watcher to reconnect.
// imapclient's own read deadlines do not cover a server that accepts a
// command and then never answers, and a large literal that keeps arriving
// slowly is progress, not silence: hence activity rather than a deadline per
// command.
type watchConn struct {
	net.Conn
	timeout time.Duration

	last  atomic.Int64 // unix nanoseconds of the last byte read or busy start
	busy  atomic.Bool
	fired atomic.Bool

	stopOnce sync.Once
	stop     chan struct{}
}

func newWatchConn(c net.Conn, timeout time.Duration) *watchConn {
	wc := &watchConn{Conn: c, timeout: timeout, stop: make(chan struct{})}
	wc.setBusy(true)
	go wc.watch()
	return wc
}

func (c *watchConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// setBusy starts (true) or pauses (false) the watchdog. Starting counts as
// activity, so the timeout runs from the start of the wait.
func (c *watchConn) setBusy(busy bool) {
	if busy {
		c.last.Store(time.Now().UnixNano())
	}
	c.busy.Store(busy)
}

func (c *watchConn) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	return c.Conn.Close()
}

func (c *watchConn) watch() {
	tick := min(max(c.timeout/4, 10*time.Millisecond), 15*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			if c.busy.Load() && now.Sub(time.Unix(0, c.last.Load())) > c.timeout {
				c.fired.Store(true)
				c.Close()
				return
			}
		}
	}
}

// explain turns the errors caused by a watchdog close into one that says so.
func (c *watchConn) explain(err error) error {
	if err != nil && c.fired.Load() {
		return fmt.Errorf("watchdog: no answer from the server for %v, connection closed: %w", c.timeout, err)
	}
	return err
}

// dial connects and performs TLS or STARTTLS as configured. The watchdog is
// running (busy) from the TCP connect on, so a server that never greets or
// stalls the handshake is dropped after the command timeout.
func (w *Watcher) dial(ctx context.Context, opts *imapclient.Options) (*imapclient.Client, *watchConn, error) {
	addr := net.JoinHostPort(w.cfg.Host, strconv.Itoa(w.cfg.Port))
	d := net.Dialer{
		Timeout: dialTimeout,
		// Keepalive notices a peer that vanished while we idle.
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 15 * time.Second, Count: 4},
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	wc := newWatchConn(raw, w.cfg.CommandTimeout)

	tlsConfig := &tls.Config{}
	if w.cfg.TLSConfig != nil {
		tlsConfig = w.cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = w.cfg.Host
	}

	switch w.cfg.Security {
	case "tls":
		if tlsConfig.NextProtos == nil {
			tlsConfig.NextProtos = []string{"imap"}
		}
		tc := tls.Client(wc, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			wc.Close()
			return nil, nil, fmt.Errorf("TLS handshake with %s: %w", addr, wc.explain(err))
		}
		return imapclient.New(tc, opts), wc, nil
	case "starttls":
		o := *opts
		o.TLSConfig = tlsConfig
		c, err := imapclient.NewStartTLS(wc, &o)
		if err != nil {
			wc.Close()
			return nil, nil, fmt.Errorf("STARTTLS with %s: %w", addr, wc.explain(err))
		}
		return c, wc, nil
	case "none":
		return imapclient.New(wc, opts), wc, nil
	}
	wc.Close()
	return nil, nil, errors.New("unknown security " + strconv.Quote(w.cfg.Security))
}
