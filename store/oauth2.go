package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// OAuth2 purposes: which login a stored grant is for.
const (
	OAuth2IMAP = "imap" // a mailbox's IMAP login; Name is the mailbox name
	OAuth2SMTP = "smtp" // the smtp section's login; Name is "smtp"
)

// OAuth2Token is a stored OAuth2 grant: the current access token and the
// refresh token that renews it. Its String, GoString and LogValue leave the
// two tokens out, so that printing or logging one by mistake leaks nothing.
type OAuth2Token struct {
	Purpose string // OAuth2IMAP or OAuth2SMTP
	Name    string // mailbox name, or "smtp"

	Provider string // microsoft | google | custom
	ClientID string // the app the grant was issued to
	Username string // the login it was obtained for (informational)

	AccessToken  string
	RefreshToken string
	TokenType    string // "Bearer" when the provider said nothing
	Expiry       time.Time
	Scopes       []string

	// Version grows by one with every login and refresh.
	Version     int64
	ObtainedAt  time.Time // last interactive login
	RefreshedAt time.Time // last login or successful refresh
	// LastError is the last failed refresh since RefreshedAt ("" when none).
	LastError   string
	LastErrorAt time.Time // zero when none
	UpdatedAt   time.Time
}

// String describes the grant without its tokens.
func (t OAuth2Token) String() string {
	return fmt.Sprintf("oauth2 %s/%s (%s, version %d, expires %s)",
		t.Purpose, t.Name, t.Provider, t.Version, t.Expiry.UTC().Format(time.RFC3339))
}

// GoString is String, so that %#v does not print the tokens either.
func (t OAuth2Token) GoString() string { return t.String() }

// LogValue logs the grant without its tokens.
func (t OAuth2Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("purpose", t.Purpose), slog.String("name", t.Name),
		slog.String("provider", t.Provider), slog.Int64("version", t.Version), slog.Time("expires", t.Expiry))
}

const oauth2Columns = `purpose, name, provider, client_id, username, access_token, refresh_token, token_type,
	expires_at, scopes, version, obtained_at, refreshed_at, last_error, last_error_at, updated_at`

func scanOAuth2Token(row pgx.Row) (*OAuth2Token, error) {
	var t OAuth2Token
	var errAt *time.Time
	err := row.Scan(&t.Purpose, &t.Name, &t.Provider, &t.ClientID, &t.Username, &t.AccessToken, &t.RefreshToken,
		&t.TokenType, &t.Expiry, &t.Scopes, &t.Version, &t.ObtainedAt, &t.RefreshedAt, &t.LastError, &errAt, &t.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if errAt != nil {
		t.LastErrorAt = *errAt
	}
	return &t, nil
}

// The access and refresh tokens are stored sealed (Sealer), each bound to
// its row and column. A row written before encryption, or by an older
// instance during a rolling upgrade, holds them in plain text: the first
// read seals them (as it re-seals a row sealed by a rotated-out key), and
// SealOAuth2Tokens does so for every row at start.

var errNoSealer = errors.New("no key to encrypt oauth2 tokens with (Store.SetSealer was not called)")

func oauth2Where(column, purpose, name string) string {
	return "oauth2_tokens." + column + " " + purpose + "/" + name
}

// sealedPair is a row's two token columns as stored.
type sealedPair struct{ access, refresh string }

// openOAuth2Token decrypts t's tokens in place. It returns the columns as
// they were stored and whether they need sealing with the current key.
func (s *Store) openOAuth2Token(t *OAuth2Token) (stored sealedPair, stale bool, err error) {
	if s.seal == nil {
		return stored, false, errNoSealer
	}
	stored = sealedPair{t.AccessToken, t.RefreshToken}
	a, staleA, err := s.seal.Open(t.AccessToken, oauth2Where("access_token", t.Purpose, t.Name))
	if err != nil {
		return stored, false, fmt.Errorf("oauth2 token %s/%s: access token %w; sign in again with casemail oauth2 login", t.Purpose, t.Name, err)
	}
	r, staleR, err := s.seal.Open(t.RefreshToken, oauth2Where("refresh_token", t.Purpose, t.Name))
	if err != nil {
		return stored, false, fmt.Errorf("oauth2 token %s/%s: refresh token %w; sign in again with casemail oauth2 login", t.Purpose, t.Name, err)
	}
	t.AccessToken, t.RefreshToken = a, r
	return stored, staleA || staleR, nil
}

// sealOAuth2 returns t's tokens sealed for its row.
func (s *Store) sealOAuth2(purpose, name, access, refresh string) (string, string) {
	return s.seal.Seal(access, oauth2Where("access_token", purpose, name)),
		s.seal.Seal(refresh, oauth2Where("refresh_token", purpose, name))
}

// reseal writes t's tokens sealed with the current key, unless the row
// changed since it was read as stored.
func (s *Store) reseal(ctx context.Context, q Querier, t *OAuth2Token, stored sealedPair) error {
	a, r := s.sealOAuth2(t.Purpose, t.Name, t.AccessToken, t.RefreshToken)
	_, err := q.Exec(ctx, `UPDATE oauth2_tokens SET access_token = $3, refresh_token = $4
		WHERE purpose = $1 AND name = $2 AND access_token = $5 AND refresh_token = $6`,
		t.Purpose, t.Name, a, r, stored.access, stored.refresh)
	if err != nil {
		return fmt.Errorf("sealing oauth2 token %s/%s: %w", t.Purpose, t.Name, err)
	}
	return nil
}

// OAuth2Token returns the stored grant for a purpose and name, or
// ErrNotFound. A row found in plain text or sealed by an older key is
// sealed again with the current key.
func (s *Store) OAuth2Token(ctx context.Context, purpose, name string) (*OAuth2Token, error) {
	t, err := scanOAuth2Token(s.pool.QueryRow(ctx, `SELECT `+oauth2Columns+`
		FROM oauth2_tokens WHERE purpose = $1 AND name = $2`, purpose, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading oauth2 token %s/%s: %w", purpose, name, err)
	}
	stored, stale, err := s.openOAuth2Token(t)
	if err != nil {
		return nil, err
	}
	if stale {
		if err := s.reseal(ctx, s.pool, t, stored); err != nil {
			// The token is good; the next read tries again.
			s.log.Warn("oauth2 token left unsealed", "purpose", purpose, "name", name, "err", err)
		}
	}
	return t, nil
}

// SealOAuth2Tokens seals every stored grant still in plain text (written
// before encryption, or by an older instance) or sealed by a key no longer
// first in secret_file. serve calls it at start. It returns how many rows
// it sealed.
func (s *Store) SealOAuth2Tokens(ctx context.Context) (int, error) {
	if s.seal == nil {
		return 0, errNoSealer
	}
	rows, err := s.pool.Query(ctx, `SELECT `+oauth2Columns+` FROM oauth2_tokens ORDER BY purpose, name`)
	if err != nil {
		return 0, fmt.Errorf("reading oauth2 tokens: %w", err)
	}
	var all []*OAuth2Token
	for rows.Next() {
		t, err := scanOAuth2Token(rows)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading oauth2 tokens: %w", err)
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading oauth2 tokens: %w", err)
	}
	n := 0
	var errs []error
	for _, t := range all {
		stored, stale, err := s.openOAuth2Token(t)
		if err != nil {
			errs = append(errs, err) // the others are still sealed
			continue
		}
		if !stale {
			continue
		}
		if err := s.reseal(ctx, s.pool, t, stored); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// SaveOAuth2Token records a grant obtained by an interactive login,
// replacing any earlier one for the same purpose and name (its error
// included). Version, UpdatedAt and the error fields of t are ignored; the
// stored version grows by one. It returns the row as stored.
func (s *Store) SaveOAuth2Token(ctx context.Context, t OAuth2Token) (*OAuth2Token, error) {
	if err := checkOAuth2Token(&t); err != nil {
		return nil, fmt.Errorf("saving oauth2 token %s/%s: %w", t.Purpose, t.Name, err)
	}
	if s.seal == nil {
		return nil, fmt.Errorf("saving oauth2 token %s/%s: %w", t.Purpose, t.Name, errNoSealer)
	}
	access, refresh := s.sealOAuth2(t.Purpose, t.Name, t.AccessToken, t.RefreshToken)
	row, err := scanOAuth2Token(s.pool.QueryRow(ctx, `INSERT INTO oauth2_tokens (purpose, name, provider, client_id,
		username, access_token, refresh_token, token_type, expires_at, scopes, obtained_at, refreshed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (purpose, name) DO UPDATE SET provider = EXCLUDED.provider, client_id = EXCLUDED.client_id,
			username = EXCLUDED.username, access_token = EXCLUDED.access_token,
			refresh_token = EXCLUDED.refresh_token, token_type = EXCLUDED.token_type,
			expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes, obtained_at = EXCLUDED.obtained_at,
			refreshed_at = EXCLUDED.refreshed_at, version = oauth2_tokens.version + 1,
			last_error = '', last_error_at = NULL, updated_at = now()
		RETURNING `+oauth2Columns,
		t.Purpose, t.Name, t.Provider, t.ClientID, t.Username, access, refresh, t.TokenType,
		t.Expiry, nonNil(t.Scopes), t.ObtainedAt, t.RefreshedAt))
	if err != nil {
		return nil, fmt.Errorf("saving oauth2 token %s/%s: %w", t.Purpose, t.Name, err)
	}
	if _, _, err := s.openOAuth2Token(row); err != nil {
		return nil, err
	}
	return row, nil
}

func checkOAuth2Token(t *OAuth2Token) error {
	switch {
	case t.Purpose != OAuth2IMAP && t.Purpose != OAuth2SMTP:
		return fmt.Errorf("purpose %q: want %s or %s", t.Purpose, OAuth2IMAP, OAuth2SMTP)
	case t.Name == "":
		return errors.New("no name")
	case t.AccessToken == "":
		return errors.New("no access token")
	case t.Expiry.IsZero():
		return errors.New("no expiry")
	}
	if t.TokenType == "" {
		t.TokenType = "Bearer"
	}
	return nil
}

// UpdateOAuth2Token runs fn on the stored grant while holding its row lock
// (SELECT … FOR UPDATE), so that of several instances wanting to refresh
// at once, one refreshes and the others, waiting, see its result. When fn
// returns a token, its access token, refresh token, type, expiry, scopes and
// RefreshedAt replace the stored ones, the version grows by one and the
// error is cleared; when it returns nil, nothing changes. An error from fn
// leaves the row as it was and is returned as is. The result is the row as
// it stands afterwards. ErrNotFound when there is no grant.
//
// fn may take a while (a request to the provider): the row, not the table,
// is locked meanwhile.
func (s *Store) UpdateOAuth2Token(ctx context.Context, purpose, name string,
	fn func(cur *OAuth2Token) (*OAuth2Token, error)) (*OAuth2Token, error) {
	var out *OAuth2Token
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanOAuth2Token(tx.QueryRow(ctx, `SELECT `+oauth2Columns+`
			FROM oauth2_tokens WHERE purpose = $1 AND name = $2 FOR UPDATE`, purpose, name))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("locking oauth2 token %s/%s: %w", purpose, name, err)
		}
		stored, stale, err := s.openOAuth2Token(cur)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			out = cur
			if stale {
				return s.reseal(ctx, tx, cur, stored)
			}
			return nil
		}
		n := *next
		n.Purpose, n.Name = purpose, name
		if err := checkOAuth2Token(&n); err != nil {
			return fmt.Errorf("updating oauth2 token %s/%s: %w", purpose, name, err)
		}
		if n.RefreshToken == "" {
			return fmt.Errorf("updating oauth2 token %s/%s: no refresh token", purpose, name)
		}
		access, refresh := s.sealOAuth2(purpose, name, n.AccessToken, n.RefreshToken)
		out, err = scanOAuth2Token(tx.QueryRow(ctx, `UPDATE oauth2_tokens SET access_token = $3,
			refresh_token = $4, token_type = $5, expires_at = $6, scopes = $7, refreshed_at = $8,
			version = version + 1, last_error = '', last_error_at = NULL, updated_at = now()
			WHERE purpose = $1 AND name = $2 RETURNING `+oauth2Columns,
			purpose, name, access, refresh, n.TokenType, n.Expiry, nonNil(n.Scopes), n.RefreshedAt))
		if err != nil {
			return fmt.Errorf("updating oauth2 token %s/%s: %w", purpose, name, err)
		}
		_, _, err = s.openOAuth2Token(out)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordOAuth2Error notes a failed refresh on the grant, for every
// instance and `casemail oauth2 status` to see. It changes nothing when the
// stored version is no longer version (another instance refreshed, or an
// admin logged in again, meanwhile) and reports whether it recorded.
func (s *Store) RecordOAuth2Error(ctx context.Context, purpose, name string, version int64, msg string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE oauth2_tokens SET last_error = $4, last_error_at = $5, updated_at = now()
		WHERE purpose = $1 AND name = $2 AND version = $3`, purpose, name, version, cleanText(msg), at)
	if err != nil {
		return false, fmt.Errorf("recording oauth2 error for %s/%s: %w", purpose, name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteOAuth2Token removes a grant; it reports whether there was one.
func (s *Store) DeleteOAuth2Token(ctx context.Context, purpose, name string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM oauth2_tokens WHERE purpose = $1 AND name = $2`, purpose, name)
	if err != nil {
		return false, fmt.Errorf("deleting oauth2 token %s/%s: %w", purpose, name, err)
	}
	return tag.RowsAffected() == 1, nil
}
