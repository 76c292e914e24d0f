package notify

import (
	"bytes"
	"strings"
	"testing"
)

var testLoopID = func() string {
	k, err := NewKeys([]byte("sender-test-key-0123456789abcdef0123"))
	if err != nil {
		panic(err)
	}
	return k.LoopID()
}()

func TestDerive(t *testing.T) {
	a := []byte("key-a-0123456789abcdef0123456789abcdef")
	b := []byte("key-b-0123456789abcdef0123456789abcdef")
	k1, _ := NewKeys(a)
	k2, _ := NewKeys(a)
	rotated, _ := NewKeys(b, a)

	d1, d2 := k1.Derive(PurposeOAuth2), k2.Derive(PurposeOAuth2)
	if len(d1) != 1 || len(d1[0]) != 32 || !bytes.Equal(d1[0], d2[0]) {
		t.Fatal("the same secret must derive the same key on every instance")
	}
	dr := rotated.Derive(PurposeOAuth2)
	if len(dr) != 2 || !bytes.Equal(dr[1], d1[0]) || bytes.Equal(dr[0], d1[0]) {
		t.Fatal("rotation: the new key first, the old one still derivable after it")
	}
	if bytes.Equal(k1.Derive(purposeLoop)[0], d1[0]) || bytes.Equal(d1[0], a[:32]) {
		t.Fatal("a derived key equals another purpose's or the secret")
	}
}

// The loop identity is the deployment's: the same on every instance that
// shares secret_file, another deployment's differs, it reveals nothing of
// the secret, and mail sent before a key rotation still counts as ours.
func TestLoopID(t *testing.T) {
	a := []byte("key-a-0123456789abcdef0123456789abcdef")
	b := []byte("key-b-0123456789abcdef0123456789abcdef")
	ours, _ := NewKeys(a)
	sameDeployment, _ := NewKeys(a)
	other, _ := NewKeys(b)
	rotated, _ := NewKeys(b, a)

	id := ours.LoopID()
	if len(id) != loopIDChars || id != sameDeployment.LoopID() {
		t.Fatalf("LoopID %q not stable across instances", id)
	}
	if strings.Contains(string(a), id) || strings.Contains(id, string(a[:8])) {
		t.Fatal("LoopID shows the secret")
	}
	if !ours.IsOwnLoopID(id) || !ours.IsOwnLoopID(" "+strings.ToUpper(id)+" ") {
		t.Fatal("our own identity not recognised")
	}
	if ours.IsOwnLoopID(other.LoopID()) || other.IsOwnLoopID(id) {
		t.Fatal("another deployment's identity taken for ours")
	}
	for _, v := range []string{"", "helpdesk@example.org", id[:loopIDChars-1]} {
		if ours.IsOwnLoopID(v) {
			t.Fatalf("%q taken for ours", v)
		}
	}
	if rotated.LoopID() != other.LoopID() || !rotated.IsOwnLoopID(id) {
		t.Fatal("after rotation: the new key names us, mail under the old one is still ours")
	}
}
