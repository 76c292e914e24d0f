package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	xoauth2 "golang.org/x/oauth2"

	"github.com/casemail/casemail/config"
)

// defaultLifetime is assumed for an access token whose response names no
// expiry: short enough that it is refreshed rather than trusted forever.
const defaultLifetime = time.Hour

// requestTimeout bounds one request to the provider when the HTTP client
// has no timeout of its own.
const requestTimeout = 30 * time.Second

// defaultHTTPClient is used when the caller gives none.
var defaultHTTPClient = &http.Client{Timeout: requestTimeout}

// checkConfig reports a configuration that cannot work, without secrets.
func checkConfig(cfg config.OAuth2) error {
	switch cfg.Provider {
	case "microsoft", "google", "custom":
	default:
		return fmt.Errorf("oauth2 provider %q: want microsoft, google or custom", cfg.Provider)
	}
	if cfg.ClientID == "" {
		return errors.New("oauth2: client_id is empty")
	}
	if cfg.TokenURL == "" {
		return fmt.Errorf("oauth2 provider %s: token_url is empty", cfg.Provider)
	}
	if _, err := url.ParseRequestURI(cfg.TokenURL); err != nil {
		return fmt.Errorf("oauth2: token_url %q is not a URL", cfg.TokenURL)
	}
	return nil
}

// xconfig is the golang.org/x/oauth2 view of cfg, client secret read now
// (so a rotated secret file is picked up).
func xconfig(cfg config.OAuth2, scopes []string) (*xoauth2.Config, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	secret, err := cfg.Secret()
	if err != nil {
		return nil, err
	}
	return &xoauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: secret,
		Scopes:       scopes,
		Endpoint: xoauth2.Endpoint{
			TokenURL:      cfg.TokenURL,
			DeviceAuthURL: cfg.DeviceAuthURL,
			// Both Microsoft and Google take the client in the form; public
			// clients (no secret) can use nothing else.
			AuthStyle: xoauth2.AuthStyleInParams,
		},
	}, nil
}

// grant is a token endpoint's successful answer.
type grant struct {
	AccessToken  string
	RefreshToken string // "" when the provider kept the old one
	TokenType    string
	Expiry       time.Time
	Scopes       []string // nil when the response named none
}

// ProviderError is an error answer of the provider's token or device
// endpoint (RFC 6749 section 5.2). It holds the error code and description
// only, never the request.
type ProviderError struct {
	Status      int    // HTTP status
	Code        string // e.g. invalid_grant
	Description string // the provider's explanation, shortened
}

func (e *ProviderError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the provider answered HTTP %d", e.Status)
	}
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Permanent reports an error that repeating the same request will not
// cure: the grant is gone or the app is misconfigured, so an admin must
// log in again or fix casemail.yaml.
func (e *ProviderError) Permanent() bool {
	switch e.Code {
	case "invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "access_denied":
		return true
	}
	return false
}

// providerError builds a ProviderError from an error response body.
func providerError(status int, contentType string, body []byte) *ProviderError {
	e := &ProviderError{Status: status}
	var fields struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		if v, err := url.ParseQuery(string(body)); err == nil {
			fields.Error, fields.Description = v.Get("error"), v.Get("error_description")
		}
	} else {
		_ = json.Unmarshal(body, &fields) // not JSON: the status says enough
	}
	e.Code = shorten(fields.Error, 64)
	e.Description = shorten(fields.Description, 300)
	return e
}

// fromRetrieveError turns golang.org/x/oauth2's error, whose text may
// carry the whole response body, into a ProviderError.
func fromRetrieveError(err error) error {
	var re *xoauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	return &ProviderError{Status: status, Code: shorten(re.ErrorCode, 64), Description: shorten(re.ErrorDescription, 300)}
}

// shorten makes a provider's text one line of at most n bytes.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// refreshGrant spends refreshToken at the token endpoint. It is done by
// hand rather than through x/oauth2's TokenSource because Microsoft wants
// the scope on a refresh, which TokenSource does not send.
func refreshGrant(ctx context.Context, client *http.Client, cfg config.OAuth2, refreshToken string, now time.Time) (*grant, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	secret, err := cfg.Secret()
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {cfg.ClientID},
	}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	// Microsoft requires the scope; for the others an absent scope means
	// "as granted" (RFC 6749 section 6), which is safest.
	if cfg.Provider == "microsoft" && len(cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(cfg.Scopes, " "))
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building refresh request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error names the token URL, which holds no secret.
		return nil, fmt.Errorf("reaching the token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the token endpoint's answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, providerError(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return parseGrant(body, now)
}

// parseGrant reads a successful token response (JSON, RFC 6749 5.1).
func parseGrant(body []byte, now time.Time) (*grant, error) {
	var r struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		TokenType    string          `json:"token_type"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Scope        string          `json:"scope"`
		Error        string          `json:"error"`
		Description  string          `json:"error_description"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, errors.New("the token endpoint's answer is not JSON")
	}
	if r.Error != "" {
		return nil, &ProviderError{Status: http.StatusOK, Code: shorten(r.Error, 64), Description: shorten(r.Description, 300)}
	}
	if r.AccessToken == "" {
		return nil, errors.New("the token endpoint's answer holds no access token")
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") {
		return nil, fmt.Errorf("the token endpoint issued a %q token; XOAUTH2 needs a bearer token", shorten(r.TokenType, 32))
	}
	g := &grant{AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, TokenType: "Bearer",
		Expiry: now.Add(expiresIn(r.ExpiresIn)), Scopes: scopeList(r.Scope)}
	return g, nil
}

// expiresIn reads expires_in, a number or (some providers) a string of
// seconds.
func expiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return defaultLifetime
	}
	return time.Duration(n) * time.Second
}

func scopeList(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
