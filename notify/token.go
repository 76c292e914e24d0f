package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/casemail/casemail/config"
)

// Token errors. Verify wraps none of them; compare with errors.Is.
var (
	// ErrBadToken: the token is malformed or its MAC does not match the sender.
	ErrBadToken = errors.New("invalid reply token")
	// ErrExpired: the token is authentic for the sender but past its expiry.
	ErrExpired = errors.New("reply token expired")
	// ErrUnknownKey: no key in the secret file has the token's key version
	// (the key was rotated out).
	ErrUnknownKey = errors.New("reply token signed with an unknown key")
)

const (
	// minKeyLen is the shortest HMAC key accepted from secret_file.
	minKeyLen = 32
	// macLen is the truncated HMAC length. 88 bits cannot be guessed by
	// mailing guesses, and keeps the largest token at 25 bytes = 40 base32
	// characters, so "helpdesk+TOKEN" stays well within the 64-character
	// local part.
	macLen = 11
	// token layout: key id (1) | expiry in Unix minutes (4, big endian) |
	// case number (uvarint, 1..9) | MAC (macLen).
	tokenHeadLen = 1 + 4
	minTokenLen  = tokenHeadLen + 1 + macLen
	maxTokenLen  = tokenHeadLen + binary.MaxVarintLen64 - 1 + macLen // int64 needs at most 9 uvarint bytes
	// macDomain separates token MACs from any other use of the key.
	macDomain = "casemail reply token v1\x00"
)

// tokenEncoding is lower-case base32 without padding: mail systems may
// lower-case local parts, and the alphabet has no '.', '+', '@' or '-'.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// MaxTokenChars is the length of the longest token Sign can produce.
var MaxTokenChars = tokenEncoding.EncodedLen(maxTokenLen)

var minTokenChars = tokenEncoding.EncodedLen(minTokenLen)

// Keys holds the HMAC keys from secret_file: the first signs, all verify.
// A Keys is immutable and safe for concurrent use.
type Keys struct {
	keys []signingKey
}

type signingKey struct {
	id     byte
	secret []byte
}

// Token is what a verified reply token says.
type Token struct {
	// Case is the case number (the human number, not the row id).
	Case int64
	// Expires is when the token stops proving its sender, to the minute.
	Expires time.Time
	// KeyID is the version of the key that signed it: the first byte of
	// SHA-256 of the key.
	KeyID byte
}

// LoadKeys reads secret_file: one key per line, the first signs, all verify
// (rotation: put the new key first and keep the old one below until the
// tokens it signed have expired). Lines are trimmed, blank lines and lines
// starting with '#' are ignored, and each key is used as its bytes and must
// be at least 32 bytes long.
func LoadKeys(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading secret_file: %s does not exist (casemail dev creates one; in production write 32 random bytes, e.g. `head -c 32 /dev/urandom | base64 > %s`)", path, path)
		}
		return nil, fmt.Errorf("reading secret_file: %w", err)
	}
	var secrets [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < minKeyLen {
			return nil, fmt.Errorf("secret_file %s:%d: key is %d bytes, need at least %d", path, i+1, len(line), minKeyLen)
		}
		secrets = append(secrets, []byte(line))
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("secret_file %s: no key in it (blank lines and # comments do not count)", path)
	}
	return NewKeys(secrets...)
}

// NewKeys makes Keys from raw secrets, the first signing. Each must be at
// least 32 bytes.
func NewKeys(secrets ...[]byte) (*Keys, error) {
	if len(secrets) == 0 {
		return nil, errors.New("no token key given")
	}
	k := &Keys{}
	for i, s := range secrets {
		if len(s) < minKeyLen {
			return nil, fmt.Errorf("token key %d is %d bytes, need at least %d", i+1, len(s), minKeyLen)
		}
		sum := sha256.Sum256(s)
		k.keys = append(k.keys, signingKey{id: sum[0], secret: bytes.Clone(s)})
	}
	return k, nil
}

// GenerateSecretFile writes a new secret_file with one key of 32 random
// bytes in base64, mode 0600. It never overwrites: an existing file is an
// error satisfying errors.Is(err, fs.ErrExist).
func GenerateSecretFile(path string) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generating token key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating secret_file: %w", err)
	}
	content := "# casemail reply-token keys: the first line signs, every line verifies.\n" +
		"# To rotate, add a new key as the first line and keep the old one until token_ttl has passed.\n" +
		base64.StdEncoding.EncodeToString(raw) + "\n"
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("writing secret_file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing secret_file %s: %w", path, err)
	}
	return nil
}

// SigningKeyID is the key version new tokens carry.
func (k *Keys) SigningKeyID() byte { return k.keys[0].id }

// Sign returns a token binding the case number, the recipient's address and
// the expiry, signed with the first key. The recipient is not in the token:
// it is part of the MAC, so only a reply from that address verifies.
// Expiry is kept to the minute (truncated). A negative case number signs as 0.
func (k *Keys) Sign(caseNumber int64, recipient string, expires time.Time) string {
	if caseNumber < 0 {
		caseNumber = 0
	}
	key := k.keys[0]
	buf := make([]byte, 0, maxTokenLen)
	buf = append(buf, key.id)
	buf = binary.BigEndian.AppendUint32(buf, expiryMinutes(expires))
	buf = binary.AppendUvarint(buf, uint64(caseNumber))
	buf = append(buf, tokenMAC(key.secret, buf, recipient)...)
	return tokenEncoding.EncodeToString(buf)
}

// Verify checks a token against the address the reply came from. It
// returns ErrBadToken for a malformed or forged token (or one signed for
// someone else), ErrUnknownKey when its key is no longer in the file, and
// ErrExpired — together with the decoded Token, so the case can be named in
// the error reply — when it is authentic but past its expiry.
func (k *Keys) Verify(token, sender string, now time.Time) (Token, error) {
	raw, err := tokenEncoding.DecodeString(strings.ToLower(strings.TrimSpace(token)))
	if err != nil || len(raw) < minTokenLen || len(raw) > maxTokenLen {
		return Token{}, ErrBadToken
	}
	body, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	number, n := binary.Uvarint(body[tokenHeadLen:])
	if n <= 0 || tokenHeadLen+n != len(body) || number > math.MaxInt64 {
		return Token{}, ErrBadToken
	}
	id := body[0]
	known := false
	valid := false
	// Several keys may share a one-byte id; try each of them.
	for _, key := range k.keys {
		if key.id != id {
			continue
		}
		known = true
		if hmac.Equal(mac, tokenMAC(key.secret, body, sender)) {
			valid = true
			break
		}
	}
	if !known {
		return Token{}, ErrUnknownKey
	}
	if !valid {
		return Token{}, ErrBadToken
	}
	t := Token{
		Case:    int64(number),
		Expires: time.Unix(int64(binary.BigEndian.Uint32(body[1:5]))*60, 0).UTC(),
		KeyID:   id,
	}
	if now.After(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}

func tokenMAC(secret, body []byte, recipient string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(macDomain))
	m.Write(body)
	m.Write([]byte{0})
	m.Write([]byte(normalizeAddress(recipient)))
	return m.Sum(nil)[:macLen]
}

func expiryMinutes(t time.Time) uint32 {
	m := t.Unix() / 60
	switch {
	case m < 0:
		return 0
	case m > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(m)
}

// normalizeAddress is the form of an address tokens are bound to:
// trimmed, without angle brackets, lower-cased.
func normalizeAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimPrefix(addr, "<")
	addr = strings.TrimSuffix(addr, ">")
	return strings.ToLower(addr)
}

// ReplyAddress puts a token into a mailbox address as a sub-address:
// helpdesk@example.org → helpdesk+TOKEN@example.org.
func ReplyAddress(mailboxAddr, token string) string {
	local, domain, ok := splitAddress(mailboxAddr)
	if !ok || token == "" {
		return mailboxAddr
	}
	return local + "+" + token + "@" + domain
}

// TokenFromAddress finds the token in a reply address for the given
// mailbox address, ignoring case (mail systems may change it). It reports
// false when addr is not a tokenised form of mailboxAddr.
func TokenFromAddress(addr, mailboxAddr string) (string, bool) {
	local, domain, ok := splitAddress(normalizeAddress(addr))
	if !ok {
		return "", false
	}
	mlocal, mdomain, ok := splitAddress(normalizeAddress(mailboxAddr))
	if !ok || domain != mdomain {
		return "", false
	}
	rest, ok := strings.CutPrefix(local, mlocal+"+")
	if !ok || !looksLikeToken(rest) {
		return "", false
	}
	return rest, true
}

// TokenIn finds a reply token in addr, a plus address of one of the
// mailboxes.
func TokenIn(mailboxes []config.Mailbox, addr string) (string, bool) {
	for _, mb := range mailboxes {
		if tok, ok := TokenFromAddress(addr, mb.Address); ok {
			return tok, true
		}
	}
	return "", false
}

// OwnAddress reports whether addr is one of the mailboxes' addresses,
// plus-tagged or not, or their mine addresses: casemail itself, never a
// requester or participant.
func OwnAddress(mailboxes []config.Mailbox, addr string) bool {
	for _, mb := range mailboxes {
		if strings.EqualFold(addr, mb.Address) || (mb.MineAddress != "" && strings.EqualFold(addr, mb.MineAddress)) {
			return true
		}
	}
	_, ok := TokenIn(mailboxes, addr)
	return ok
}

// NewMessageID returns a Message-ID (without angle brackets) of the form
// TOKEN.RANDOM@domain, RANDOM being 10 random bytes. With an empty token it
// is RANDOM@domain. The token makes a References chain to this mail prove
// its recipient.
func NewMessageID(token, domain string) string {
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	unique := tokenEncoding.EncodeToString(raw)
	if token == "" {
		return unique + "@" + domain
	}
	return token + "." + unique + "@" + domain
}

// TokenFromMessageID extracts the token from a Message-ID made by
// NewMessageID (angle brackets allowed). Other Message-IDs report false,
// and some that merely look alike are left for Verify to reject.
func TokenFromMessageID(id string) (string, bool) {
	id = normalizeAddress(id)
	at := strings.LastIndexByte(id, '@')
	if at <= 0 {
		return "", false
	}
	token, _, ok := strings.Cut(id[:at], ".")
	if !ok || !looksLikeToken(token) {
		return "", false
	}
	return token, true
}

// DomainOf returns the domain part of an address ("" if there is none).
func DomainOf(addr string) string {
	_, domain, _ := splitAddress(normalizeAddress(addr))
	return domain
}

func splitAddress(addr string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", false
	}
	return addr[:at], addr[at+1:], true
}

func looksLikeToken(s string) bool {
	if len(s) < minTokenChars || len(s) > MaxTokenChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
