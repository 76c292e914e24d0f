package oauth2

import (
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
)

// XOAUTH2 is the SASL mechanism name Google and Microsoft use for OAuth2
// logins to IMAP and SMTP.
const XOAUTH2 = "XOAUTH2"

// NewXOAUTH2Client returns a SASL client that logs username in with an
// OAuth2 access token (the XOAUTH2 mechanism: the whole exchange is the
// initial response). go-sasl has OAUTHBEARER but not XOAUTH2, which is the
// one Microsoft 365 accepts.
func NewXOAUTH2Client(username, token string) sasl.Client {
	return &xoauth2Client{username: username, token: token}
}

type xoauth2Client struct {
	username, token string
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	if c.username == "" || c.token == "" {
		return "", nil, errors.New("xoauth2: username and token are required")
	}
	if strings.ContainsAny(c.username, "\x01\r\n") || strings.ContainsAny(c.token, "\x01\r\n ") {
		return "", nil, errors.New("xoauth2: username or token contains a control character")
	}
	return XOAUTH2, []byte("user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

// Next answers the server's only possible challenge, a JSON error
// description after a refused token, with the empty response the
// mechanism asks for; the server then fails the command with its reason.
func (c *xoauth2Client) Next([]byte) ([]byte, error) {
	return []byte{}, nil
}
