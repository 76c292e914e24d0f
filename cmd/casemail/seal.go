package main

import (
	"context"
	"log/slog"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/notify"
	"github.com/casemail/casemail/store"
)

// useSealer gives st the keys, derived from secret_file, that encrypt the
// OAuth2 tokens it keeps, and seals any grant still in plain text (written
// before tokens were encrypted) or under a rotated-out key. log may be nil
// for commands that only read.
func useSealer(ctx context.Context, st *store.Store, keys *notify.Keys, log *slog.Logger) error {
	sl, err := store.NewSealer(keys.Derive(notify.PurposeOAuth2))
	if err != nil {
		return err
	}
	st.SetSealer(sl)
	n, err := st.SealOAuth2Tokens(ctx)
	if log != nil && n > 0 {
		log.Info("oauth2 tokens sealed with the current key", "rows", n)
	}
	if err != nil && log != nil {
		// A grant that does not open is reported by its Manager (and needs
		// a new login); the others work.
		log.Warn("oauth2 tokens not sealed", "err", err)
	}
	return nil
}

// loadSealer is useSealer for commands that load secret_file only for it.
func loadSealer(ctx context.Context, cfg *config.Daemon, st *store.Store) error {
	keys, err := notify.LoadKeys(cfg.SecretFile)
	if err != nil {
		return err
	}
	return useSealer(ctx, st, keys, nil)
}
