package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealPrefix marks a sealed value in a text column. OAuth2 tokens never
// start with it, so a value without it is a plain one from before
// encryption (or from an older instance during a rolling upgrade).
const sealPrefix = "cmseal1:"

// ErrUnsealable: a sealed value was sealed with a key no longer in
// secret_file (or was altered).
var ErrUnsealable = errors.New("sealed with a key that is not in secret_file, or altered")

// Sealer encrypts secrets kept in the database (AES-256-GCM) under keys
// derived from secret_file: the first key seals, every key opens, so a
// rotated secret_file still reads what the old key sealed. Each value is
// bound to where it is stored (its associated data), so a sealed value
// copied to another row or column does not open.
type Sealer struct {
	keys []sealKey
}

type sealKey struct {
	id   byte // first byte of SHA-256 of the key: names it without revealing it
	aead cipher.AEAD
}

// NewSealer makes a Sealer from 32-byte keys, the first sealing (see
// notify.Keys.Derive with notify.PurposeOAuth2).
func NewSealer(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key to seal with")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("sealing key %d is %d bytes, want 32", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(k)
		s.keys = append(s.keys, sealKey{id: sum[0], aead: aead})
	}
	return s, nil
}

// Seal encrypts plain with the first key, bound to where (e.g.
// "oauth2_tokens.access_token imap/helpdesk"). Its result is text:
// prefix, key id, then base64 of nonce and ciphertext.
func (s *Sealer) Seal(plain, where string) string {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported systems
	}
	out := k.aead.Seal(nonce, nonce, []byte(plain), []byte(where))
	return fmt.Sprintf("%s%02x:%s", sealPrefix, k.id, base64.RawStdEncoding.EncodeToString(out))
}

// Open decrypts a value Seal made for where. A value without the prefix is
// a plain value from before encryption: it is returned as it is. stale
// reports that the value should be sealed again with the first key: it was
// plain, or sealed by an older key.
func (s *Sealer) Open(value, where string) (plain string, stale bool, err error) {
	rest, ok := strings.CutPrefix(value, sealPrefix)
	if !ok {
		return value, true, nil
	}
	idHex, b64, ok := strings.Cut(rest, ":")
	var id byte
	if _, err := fmt.Sscanf(idHex, "%02x", &id); !ok || err != nil || len(idHex) != 2 {
		return "", false, ErrUnsealable
	}
	data, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", false, ErrUnsealable
	}
	// Several keys may share a one-byte id; GCM's tag tells the right one.
	for i, k := range s.keys {
		if k.id != id || len(data) < k.aead.NonceSize() {
			continue
		}
		n := k.aead.NonceSize()
		p, err := k.aead.Open(nil, data[:n], data[n:], []byte(where))
		if err == nil {
			return string(p), i != 0, nil
		}
	}
	return "", false, ErrUnsealable
}
