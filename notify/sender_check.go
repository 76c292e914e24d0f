package notify

import (
	"context"
	"fmt"
)

// Check connects to the SMTP server as the outbox would — TCP, TLS or
// STARTTLS, authentication — and quits without sending anything.
func (s *Sender) Check(ctx context.Context) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("closing the SMTP session: %w", err)
	}
	return nil
}
