package notify

import (
	"crypto/hkdf"
	"crypto/sha256"
	"strings"
)

// Purposes of keys derived from secret_file (Keys.Derive). Each is its own
// HKDF "info", so no derived key equals another or the HMAC key itself.
const (
	// PurposeOAuth2 encrypts OAuth2 tokens at rest (store.Sealer).
	PurposeOAuth2 = "casemail oauth2 token encryption v1"
	// purposeLoop names this deployment in LoopHeader.
	purposeLoop = "casemail loop identity v1"
)

// Derive returns one 32-byte key per secret_file key for purpose, in the
// file's order: the first is the current one, the others are for reading
// what older keys wrote. It is HKDF-SHA256 of each key with purpose as its
// info; the keys themselves never leave Keys.
func (k *Keys) Derive(purpose string) [][]byte {
	out := make([][]byte, len(k.keys))
	for i, key := range k.keys {
		d, err := hkdf.Key(sha256.New, key.secret, nil, purpose, 32)
		if err != nil {
			panic("hkdf: " + err.Error()) // only for lengths out of range
		}
		out[i] = d
	}
	return out
}

// loopIDChars is how many base32 characters of the derived key name a
// deployment: 120 bits, which no other deployment shares by chance.
const loopIDChars = 24

// LoopID is this deployment's identity for LoopHeader: derived from the
// signing key, the same on every instance that shares secret_file, and
// revealing nothing of the key. Mail casemail sends carries it; intake
// calls mail that carries one of IsOwnLoopID's values its own.
func (k *Keys) LoopID() string { return k.loopIDs()[0] }

// IsOwnLoopID reports whether v, a LoopHeader value, names this
// deployment under any key of secret_file (mail sent before a rotation
// comes back as ours too). Another deployment's value is not ours.
func (k *Keys) IsOwnLoopID(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	for _, id := range k.loopIDs() {
		if v == id {
			return true
		}
	}
	return false
}

func (k *Keys) loopIDs() []string {
	ds := k.Derive(purposeLoop)
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = tokenEncoding.EncodeToString(d)[:loopIDChars]
	}
	return ids
}
