package config

import (
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Daemon is casemail.yaml: how the daemon reaches its database and mail
// servers, and its global settings. Defaults are applied and every field is
// validated by the loaders.
type Daemon struct {
	// File is the path the configuration was loaded from.
	File string `yaml:"-"`

	Database struct {
		// URL may be empty: `casemail dev` then starts a throwaway PostgreSQL.
		URL string `yaml:"url"`
	} `yaml:"database"`
	// Timezone names the IANA zone for schedules and dates; default "UTC".
	Timezone string         `yaml:"timezone"`
	Location *time.Location `yaml:"-"`
	// RulesFile is key `rules`, resolved relative to the config file's
	// directory; default "rules.yaml" there.
	RulesFile string    `yaml:"rules"`
	Mailboxes []Mailbox `yaml:"mailboxes" cm:"required"`
	SMTP      SMTP      `yaml:"smtp" cm:"required"`
	// SecretFile holds the HMAC keys, one a line (first signs, all verify);
	// resolved relative to the config file's directory.
	SecretFile string `yaml:"secret_file" cm:"required"`
	// Language is the default for mails: sv, nb or en; default "en".
	Language string `yaml:"language"`
	// Templates is an optional directory overriding embedded templates,
	// resolved relative to the config file's directory.
	Templates       string   `yaml:"templates"`
	ReopenWindow    Duration `yaml:"reopen_window"`      // default 14d
	AckLimitPerHour int      `yaml:"ack_limit_per_hour"` // default 5
	TokenTTL        Duration `yaml:"token_ttl"`          // default 90d
	// CommandTTL is how long after a notice its reply token may still
	// carry commands and public replies (threading lasts TokenTTL);
	// default 14d.
	CommandTTL Duration `yaml:"command_ttl"`
	// AckLimitPerMailbox caps the acknowledgements one mailbox sends an
	// hour, whoever the senders (a flood of forged senders); default 1000,
	// 0 for no cap.
	AckLimitPerMailbox int `yaml:"ack_limit_per_mailbox"`
	// RelayLimitPerHour caps the mails about one case to one recipient an
	// hour (public replies, follow-up and note notices): two autoresponders
	// cannot ping-pong through a case; default 20.
	RelayLimitPerHour int `yaml:"relay_limit_per_hour"`
	// ProcessingBudget is the most time one mail's parse may take; a mail
	// over it is quarantined with the reason; default 20s.
	ProcessingBudget Duration `yaml:"processing_budget"`
	Log              struct {
		Format string `yaml:"format"` // text | json; default text
		Level  string `yaml:"level"`  // debug | info | warn | error; default info
	} `yaml:"log"`
	HTTP struct {
		Listen string `yaml:"listen"` // default 127.0.0.1:8025
	} `yaml:"http"`
	// Retention says how long personal data is kept. Each period is
	// optional: absent (zero) keeps that data for ever. `casemail serve`
	// enforces it once a day.
	Retention struct {
		// ClosedCases: closed and dropped cases are deleted, with their
		// messages, events and mail, this long after they were closed.
		ClosedCases Duration `yaml:"closed_cases"`
		// RawMail: mail as received is deleted this long after it arrived;
		// the parsed text stays with its case.
		RawMail Duration `yaml:"raw_mail"`
		// Attachments: attachment contents are deleted this long after they
		// arrived; their names and sizes stay listed.
		Attachments Duration `yaml:"attachments"`
	} `yaml:"retention"`
	// SenderAuth says what proves a mail's sender beyond its reply token
	// (see SECURITY.md).
	SenderAuth SenderAuth `yaml:"sender_auth"`

	positions
}

// SenderAuth is what an agent's command and a participant's post need,
// and which sources of sender authentication casemail trusts.
type SenderAuth struct {
	// Commands and Participants are "token" (a valid reply token, unless
	// the sender's authentication failed; the default, for receiving
	// servers that add nothing) or "authenticated" (a token and an aligned
	// DKIM or DMARC pass).
	Commands     string `yaml:"commands"`
	Participants string `yaml:"participants"`
	// AuthservIDs are the authserv-ids of the organisation's own receiving
	// servers whose Authentication-Results are trusted; "" trusts a field
	// without one (Microsoft 365 writes its results so).
	AuthservIDs []string `yaml:"authserv_ids"`
	// VerifyDKIM has casemail verify DKIM signatures itself (DNS lookups
	// for the From domain's keys).
	VerifyDKIM bool `yaml:"verify_dkim"`
	positions
}

// Mailbox is one helpdesk address watched over IMAP.
type Mailbox struct {
	Name           string   `yaml:"name" cm:"required"`
	Address        string   `yaml:"address" cm:"required"`
	IMAP           IMAP     `yaml:"imap" cm:"required"`
	MaxMessageSize ByteSize `yaml:"max_message_size"` // default 25MB
	Defaults       struct {
		Service  string `yaml:"service"`
		Language string `yaml:"language"`
	} `yaml:"defaults"`
	// TrustedLists are List-Ids whose mail may open cases.
	TrustedLists []string `yaml:"trusted_lists"`
	// MineAddress, when set, is an address delivered into this mailbox
	// (an alias) that answers an agent's mail with their open cases,
	// mailed to their address in rules.yaml; it never opens a case.
	MineAddress string `yaml:"mine_address"`
	Pos         Pos
	positions
}

// IMAP is how a mailbox is read.
type IMAP struct {
	Host string `yaml:"host" cm:"required"`
	// Port defaults to 993 for tls, 143 otherwise.
	Port int `yaml:"port"`
	// Security is tls, starttls or none (none: loopback hosts only); default tls.
	Security     string  `yaml:"security"`
	Username     string  `yaml:"username" cm:"required"`
	Password     string  `yaml:"password"`
	PasswordFile string  `yaml:"password_file"`
	OAuth2       *OAuth2 `yaml:"oauth2"`
	// Folder is watched for new mail; default INBOX.
	Folder string `yaml:"folder"`
	// ProcessedFolder, when set, receives mail after commit; else \Seen is set.
	ProcessedFolder string `yaml:"processed_folder"`
	// IDLE uses IMAP IDLE when the server has it; default true.
	IDLE bool `yaml:"idle"`
	// PollInterval is the fallback and safety poll; default 30s.
	PollInterval Duration `yaml:"poll_interval"`
	Pos          Pos
	positions
}

// SMTP is how casemail sends mail.
type SMTP struct {
	Host string `yaml:"host" cm:"required"`
	// Port defaults to 587 for starttls, 465 for tls, 25 for none.
	Port int `yaml:"port"`
	// Security is tls, starttls or none (none: loopback only); default starttls.
	Security     string  `yaml:"security"`
	Username     string  `yaml:"username"`
	Password     string  `yaml:"password"`
	PasswordFile string  `yaml:"password_file"`
	OAuth2       *OAuth2 `yaml:"oauth2"`
	// From is the sender of every mail, e.g. "Helpdesk <helpdesk@example.org>".
	From string `yaml:"from" cm:"required"`
	Pos  Pos
	positions
}

// OAuth2 configures XOAUTH2 login for Microsoft 365, Google or a custom
// provider (device-code flow; tokens live in the database).
type OAuth2 struct {
	Provider         string   `yaml:"provider" cm:"required"` // microsoft | google | custom
	ClientID         string   `yaml:"client_id" cm:"required"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Tenant           string   `yaml:"tenant"`          // microsoft; default "common"
	TokenURL         string   `yaml:"token_url"`       // custom: required; others: the provider's
	DeviceAuthURL    string   `yaml:"device_auth_url"` // custom: required; others: the provider's
	Scopes           []string `yaml:"scopes"`          // default per provider and use
	Pos              Pos
	positions
}

// Secret returns the IMAP password: Password, or the contents of
// PasswordFile read now (so a rotated secret is picked up), without its
// trailing newline.
func (i IMAP) Secret() (string, error) {
	return secret(i.Password, i.PasswordFile, "imap")
}

// Secret returns the SMTP password, as IMAP.Secret does.
func (s SMTP) Secret() (string, error) {
	return secret(s.Password, s.PasswordFile, "smtp")
}

// Secret returns the OAuth2 client secret (may be empty for public clients).
func (o OAuth2) Secret() (string, error) {
	if o.ClientSecret == "" && o.ClientSecretFile == "" {
		return "", nil
	}
	return secret(o.ClientSecret, o.ClientSecretFile, "oauth2 client")
}

func secret(value, file, what string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading %s password file: %w", what, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// LoadDaemon reads and validates casemail.yaml, expanding ${VAR} from the
// process environment. The error, when not a read error, is Errors.
func LoadDaemon(path string) (*Daemon, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseDaemon(path, data, os.LookupEnv)
}

// ParseDaemon parses casemail.yaml from data; file names it in errors and
// anchors relative paths. env looks up variables for ${VAR}.
func ParseDaemon(file string, data []byte, env func(string) (string, bool)) (*Daemon, error) {
	root, err := parseDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{errs: errs{file: file}}
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	expandEnv(d, data, root, env)
	cfg := &Daemon{File: file}
	d.decode(root, reflect.ValueOf(cfg).Elem())
	if len(d.list) == 0 {
		cfg.withDefaults()
		cfg.validate(&d.errs)
	}
	if err := d.result(); err != nil {
		return nil, err
	}
	dropPositions(reflect.ValueOf(cfg))
	return cfg, nil
}

// withDefaults fills every default, in one place.
func (c *Daemon) withDefaults() {
	dir := filepath.Dir(c.File)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	if c.RulesFile == "" {
		c.RulesFile = "rules.yaml"
	}
	c.RulesFile = rel(c.RulesFile)
	c.SecretFile = rel(c.SecretFile)
	c.Templates = rel(c.Templates)
	if c.Language == "" {
		c.Language = "en"
	}
	if !c.has("reopen_window") {
		c.ReopenWindow = Duration(14 * 24 * time.Hour)
	}
	if !c.has("ack_limit_per_hour") {
		c.AckLimitPerHour = 5
	}
	if !c.has("token_ttl") {
		c.TokenTTL = Duration(90 * 24 * time.Hour)
	}
	if !c.has("command_ttl") {
		c.CommandTTL = min(Duration(14*24*time.Hour), c.TokenTTL)
	}
	if !c.has("ack_limit_per_mailbox") {
		c.AckLimitPerMailbox = 1000
	}
	if !c.has("relay_limit_per_hour") {
		c.RelayLimitPerHour = 20
	}
	if !c.has("processing_budget") {
		c.ProcessingBudget = Duration(20 * time.Second)
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8025"
	}
	if c.SenderAuth.Commands == "" {
		c.SenderAuth.Commands = "token"
	}
	if c.SenderAuth.Participants == "" {
		c.SenderAuth.Participants = "token"
	}
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		if !m.has("max_message_size") {
			m.MaxMessageSize = 25 << 20
		}
		im := &m.IMAP
		if im.Security == "" {
			im.Security = "tls"
		}
		if im.Port == 0 {
			im.Port = 143
			if im.Security == "tls" {
				im.Port = 993
			}
		}
		if im.Folder == "" {
			im.Folder = "INBOX"
		}
		if !im.has("idle") {
			im.IDLE = true
		}
		if !im.has("poll_interval") {
			im.PollInterval = Duration(30 * time.Second)
		}
		im.PasswordFile = rel(im.PasswordFile)
		oauthDefaults(im.OAuth2, "imap", rel)
	}
	s := &c.SMTP
	if s.Security == "" {
		s.Security = "starttls"
	}
	if s.Port == 0 {
		switch s.Security {
		case "tls":
			s.Port = 465
		case "none":
			s.Port = 25
		default:
			s.Port = 587
		}
	}
	s.PasswordFile = rel(s.PasswordFile)
	oauthDefaults(s.OAuth2, "smtp", rel)
}

func oauthDefaults(o *OAuth2, use string, rel func(string) string) {
	if o == nil {
		return
	}
	o.ClientSecretFile = rel(o.ClientSecretFile)
	switch o.Provider {
	case "microsoft":
		if o.Tenant == "" {
			o.Tenant = "common"
		}
		if o.TokenURL == "" {
			o.TokenURL = "https://login.microsoftonline.com/" + o.Tenant + "/oauth2/v2.0/token"
		}
		if o.DeviceAuthURL == "" {
			o.DeviceAuthURL = "https://login.microsoftonline.com/" + o.Tenant + "/oauth2/v2.0/devicecode"
		}
		if len(o.Scopes) == 0 {
			if use == "imap" {
				o.Scopes = []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}
			} else {
				o.Scopes = []string{"https://outlook.office.com/SMTP.Send", "offline_access"}
			}
		}
	case "google":
		if o.TokenURL == "" {
			o.TokenURL = "https://oauth2.googleapis.com/token"
		}
		if o.DeviceAuthURL == "" {
			o.DeviceAuthURL = "https://oauth2.googleapis.com/device/code"
		}
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"https://mail.google.com/"}
		}
	}
}

var languages = []string{"sv", "nb", "en"}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (c *Daemon) validate(e *errs) {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		e.at(c.at("timezone", Pos{1, 1}), "unknown timezone %q (want an IANA name such as Europe/Stockholm)", c.Timezone)
	}
	c.Location = loc
	if !oneOf(c.Language, languages) {
		e.at(c.at("language", Pos{1, 1}), "language %q: want one of sv, nb, en", c.Language)
	}
	if c.AckLimitPerHour < 0 {
		e.at(c.at("ack_limit_per_hour", Pos{1, 1}), "ack_limit_per_hour must not be negative")
	}
	if c.ReopenWindow < 0 {
		e.at(c.at("reopen_window", Pos{1, 1}), "reopen_window must not be negative")
	}
	if c.TokenTTL <= 0 {
		e.at(c.at("token_ttl", Pos{1, 1}), "token_ttl must be positive")
	}
	if c.CommandTTL <= 0 || c.CommandTTL > c.TokenTTL {
		e.at(c.at("command_ttl", Pos{1, 1}), "command_ttl must be positive and at most token_ttl (%s)", c.TokenTTL)
	}
	if c.AckLimitPerMailbox < 0 {
		e.at(c.at("ack_limit_per_mailbox", Pos{1, 1}), "ack_limit_per_mailbox must not be negative")
	}
	if c.RelayLimitPerHour < 0 {
		e.at(c.at("relay_limit_per_hour", Pos{1, 1}), "relay_limit_per_hour must not be negative")
	}
	if c.ProcessingBudget <= 0 {
		e.at(c.at("processing_budget", Pos{1, 1}), "processing_budget must be positive")
	}
	if !oneOf(c.Log.Format, []string{"text", "json"}) {
		e.at(c.at("log.format", c.at("log", Pos{1, 1})), "log format %q: want text or json", c.Log.Format)
	}
	if !oneOf(c.Log.Level, []string{"debug", "info", "warn", "error"}) {
		e.at(c.at("log.level", c.at("log", Pos{1, 1})), "log level %q: want debug, info, warn or error", c.Log.Level)
	}
	for _, r := range []struct {
		key string
		d   Duration
	}{{"closed_cases", c.Retention.ClosedCases}, {"raw_mail", c.Retention.RawMail}, {"attachments", c.Retention.Attachments}} {
		if c.has("retention."+r.key) && r.d <= 0 {
			e.at(c.at("retention."+r.key, c.at("retention", Pos{1, 1})),
				"retention %s must be positive (leave it out to keep that data for ever)", r.key)
		}
	}
	c.validateSenderAuth(e)
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		e.at(c.at("http.listen", c.at("http", Pos{1, 1})), "http listen %q: want host:port", c.HTTP.Listen)
	}
	if len(c.Mailboxes) == 0 {
		e.at(c.at("mailboxes", Pos{1, 1}), "at least one mailbox is needed")
	}
	names := map[string]Pos{}
	addrs := map[string]Pos{}
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		if first, dup := names[m.Name]; dup {
			e.at(m.at("name", m.Pos), "duplicate mailbox name %q (first at line %d)", m.Name, first.Line)
		} else {
			names[m.Name] = m.at("name", m.Pos)
		}
		if a, ok := bareAddress(m.Address); !ok {
			e.at(m.at("address", m.Pos), "address %q is not a mail address", m.Address)
		} else {
			m.Address = a
			if first, dup := addrs[strings.ToLower(a)]; dup {
				e.at(m.at("address", m.Pos), "address %q is already used by another mailbox (line %d)", a, first.Line)
			}
			addrs[strings.ToLower(a)] = m.at("address", m.Pos)
		}
		if l := m.Defaults.Language; l != "" && !oneOf(l, languages) {
			e.at(m.at("defaults.language", m.Pos), "language %q: want one of sv, nb, en", l)
		}
		if m.MaxMessageSize <= 0 {
			e.at(m.at("max_message_size", m.Pos), "max_message_size must be positive")
		}
		im := &m.IMAP
		checkServer(e, "imap", im.Host, im.Port, im.Security, []string{"tls", "starttls", "none"}, im.positions, im.Pos)
		checkAuth(e, im.Username, im.Password, im.PasswordFile, im.OAuth2, im.positions, im.Pos)
		if im.PollInterval <= 0 {
			e.at(im.at("poll_interval", im.Pos), "poll_interval must be positive")
		}
	}
	// A mine address is its own: no mailbox's address, no other mailbox's
	// mine address (the mail would be a request for one and the other).
	mine := map[string]Pos{}
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		if m.MineAddress == "" {
			continue
		}
		at := m.at("mine_address", m.Pos)
		a, ok := bareAddress(m.MineAddress)
		switch {
		case !ok:
			e.at(at, "mine_address %q is not a mail address", m.MineAddress)
			continue
		case addrs[strings.ToLower(a)] != Pos{}:
			e.at(at, "mine_address %q is a mailbox's address (line %d): give the answers of my cases an address of their own",
				a, addrs[strings.ToLower(a)].Line)
		case mine[strings.ToLower(a)] != Pos{}:
			e.at(at, "mine_address %q is already the mine_address of another mailbox (line %d)", a, mine[strings.ToLower(a)].Line)
		}
		m.MineAddress = a
		mine[strings.ToLower(a)] = at
	}
	s := &c.SMTP
	checkServer(e, "smtp", s.Host, s.Port, s.Security, []string{"tls", "starttls", "none"}, s.positions, s.Pos)
	if s.Username != "" {
		checkAuth(e, s.Username, s.Password, s.PasswordFile, s.OAuth2, s.positions, s.Pos)
	} else if s.Password != "" || s.PasswordFile != "" || s.OAuth2 != nil {
		e.at(s.Pos, "smtp has a password or oauth2 but no username")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		e.at(s.at("from", s.Pos), "from %q is not a mail address: %v", s.From, err)
	}
}

// bareAddress accepts "user@host" only (no display name) and returns it.
func bareAddress(s string) (string, bool) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) {
		return "", false
	}
	return a.Address, true
}

// IsLoopback reports whether host is a loopback literal (127.0.0.0/8, ::1,
// with or without brackets), localhost, or a name under .localhost (which
// RFC 6761 reserves to loopback). It never resolves names: one that merely
// resolves to loopback today may not tomorrow. Security "none" is allowed
// only to such a host; config, the IMAP watcher and the SMTP sender all
// ask here.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func checkServer(e *errs, what, host string, port int, security string, allowed []string, p positions, at Pos) {
	if !oneOf(security, allowed) {
		e.at(p.at("security", at), "%s security %q: want one of %s", what, security, strings.Join(allowed, ", "))
	}
	if security == "none" && !IsLoopback(host) {
		e.at(p.at("host", at), "security none sends passwords and mail in clear; it is allowed only to a loopback host (127.0.0.1, ::1, localhost), not %q", host)
	}
	if port < 1 || port > 65535 {
		e.at(p.at("port", at), "port %d out of range", port)
	}
}

func checkAuth(e *errs, user, pass, passFile string, o *OAuth2, p positions, at Pos) {
	n := 0
	for _, set := range []bool{pass != "" || p.has("password"), passFile != "", o != nil} {
		if set {
			n++
		}
	}
	switch {
	case user != "" && n == 0:
		e.at(p.at("username", at), "username %q needs one of password, password_file or oauth2", user)
	case n > 1:
		e.at(at, "give only one of password, password_file and oauth2")
	}
	if o != nil {
		switch o.Provider {
		case "microsoft", "google":
		case "custom":
			if o.TokenURL == "" {
				e.at(o.Pos, "oauth2 provider custom needs token_url")
			}
			if o.DeviceAuthURL == "" {
				e.at(o.Pos, "oauth2 provider custom needs device_auth_url")
			}
		default:
			e.at(o.at("provider", o.Pos), "oauth2 provider %q: want microsoft, google or custom", o.Provider)
		}
		if o.ClientSecret != "" && o.ClientSecretFile != "" {
			e.at(o.Pos, "give only one of client_secret and client_secret_file")
		}
	}
}

// CheckRules reports what casemail.yaml names that rules.yaml must define:
// each mailbox's default service. Call it after loading both files (and
// after each rules reload); the error is Errors, positioned in this file.
func (c *Daemon) CheckRules(r *Rules) error {
	e := &errs{file: c.File}
	for _, m := range c.Mailboxes {
		if id := m.Defaults.Service; id != "" && r.Service(id) == nil {
			e.at(m.Pos, "mailbox %s: default service %q is not in %s", m.Name, id, r.File)
		}
	}
	return e.result()
}

func (c *Daemon) validateSenderAuth(e *errs) {
	sa := &c.SenderAuth
	section := c.at("sender_auth", Pos{1, 1})
	for _, k := range []struct{ key, v string }{{"commands", sa.Commands}, {"participants", sa.Participants}} {
		if !oneOf(k.v, []string{"token", "authenticated"}) {
			e.at(sa.at(k.key, section), "sender_auth %s %q: want token or authenticated", k.key, k.v)
		}
	}
	seen := map[string]bool{}
	for i, id := range sa.AuthservIDs {
		at := sa.elem("authserv_ids", i, section)
		switch {
		case strings.ContainsAny(id, " \t;()\"="):
			e.at(at, "authserv_id %q: want the name the receiving server writes first in its Authentication-Results, such as mx.example.org (or \"\" for a field without one)", id)
		case seen[strings.ToLower(id)]:
			e.at(at, "authserv_id %q is listed twice", id)
		}
		seen[strings.ToLower(id)] = true
	}
	if (sa.Commands == "authenticated" || sa.Participants == "authenticated") && len(sa.AuthservIDs) == 0 && !sa.VerifyDKIM {
		e.at(section, "sender_auth: authenticated needs a source of authentication: authserv_ids (the receiving server's Authentication-Results) or verify_dkim: true; without one no mail could pass")
	}
}
