package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

func init() {
	// go-message's charset table knows everything golang.org/x/text knows,
	// which does not include UTF-7.
	for _, name := range []string{"utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-utf-7"} {
		charset.RegisterEncoding(name, UTF7)
	}
}

// errUnknownCharset reports a charset label nobody can decode; the text was
// then read as UTF-8 or windows-1252.
var errUnknownCharset = errors.New("unknown charset")

// normCharset returns a charset label in the form the tables use: lower
// case, and the names mailers use that no table lists (Windows code page
// numbers, misspelt ISO and Windows names) mapped to the charset they mean.
func normCharset(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.Trim(name, `"' `)
	// "utf-8*lang" from RFC 2231 style labels; "iso-8859-2 (latin2)",
	// a comment after the value.
	if i := strings.IndexAny(name, "*( \t"); i >= 0 {
		name = strings.TrimRight(name[:i], `"' `)
	}
	if a, ok := charsetAliases[name]; ok {
		return a
	}
	if (strings.Contains(name, "8859") || strings.Contains(name, "125")) &&
		!strings.HasPrefix(name, "iso-8859-") && !strings.HasPrefix(name, "windows-") {
		if m := isoWinRE.FindStringSubmatch(name); m != nil {
			if m[1] != "" {
				return "iso-8859-" + m[1]
			}
			return "windows-" + m[2]
		}
	}
	return name
}

// charsetAliases are labels seen in mail that neither IANA's nor WHATWG's
// table knows.
var charsetAliases = map[string]string{
	"cp932": "shift_jis", "x-ms-cp932": "shift_jis", "ms_kanji": "shift_jis",
	"cp949": "euc-kr", "x-windows-949": "euc-kr", "uhc": "euc-kr",
	"cp950": "big5", "x-windows-950": "big5", "ms950": "big5",
	"euc-cn": "gb2312", "x-euc-cn": "gb2312",
	"cp65001": "utf-8", "utf-8-sig": "utf-8",
	"latin-1": "iso-8859-1", "ansi": "windows-1252",
	"mac-cyrillic": "x-mac-cyrillic", "cp858": "ibm00858",
}

// isoWinRE matches misspelt ISO 8859 and Windows code page names
// ("iso8859_1", "8859-15", "win-1252", "cp-1251").
var isoWinRE = regexp.MustCompile(`^(?:iso[-_ ]?)?8859[-_ ]?(\d{1,2})$|^(?:cp|win|windows)[-_ ]?(125[0-8])$`)

// isPassThroughCharset reports labels that mean "ASCII or UTF-8" in practice.
func isPassThroughCharset(name string) bool {
	switch name {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "x-unknown", "unknown", "unknown-8bit",
		"x-user-defined", "default", "ansi_x3.4-1968", "iso646-us", "us", "7bit", "8bit", "none":
		return true
	}
	return false
}

// decodeCharset converts b from the named charset to valid UTF-8. It never
// loses the text: with an unknown label (errUnknownCharset) or a decoder
// error the best reading is returned together with the error.
func decodeCharset(name string, b []byte) (string, error) {
	name = normCharset(name)
	if isPassThroughCharset(name) {
		if utf8.Valid(b) {
			return string(b), nil
		}
		if name == "utf-8" || name == "utf8" {
			// Declared UTF-8 with a few broken bytes: keep the rest.
			return strings.ToValidUTF8(string(b), "\uFFFD"), nil
		}
		// 8-bit bytes under an ASCII (or no) label: the sender's
		// platform charset, which is windows-1252 far more often than not.
		return decodeWindows1252(b), nil
	}
	switch name {
	case "iso-8859-1", "latin1", "l1", "iso8859-1", "iso_8859-1", "cp1252", "windows-1252", "x-cp1252":
		// As browsers do: windows-1252 is a superset in practice and Outlook
		// labels its curly quotes and dashes iso-8859-1.
		return decodeWindows1252(b), nil
	}
	r, err := charset.Reader(name, bytes.NewReader(b))
	if err != nil {
		return fallbackDecode(b), fmt.Errorf("%w %q", errUnknownCharset, name)
	}
	out, err := io.ReadAll(r)
	s := strings.ToValidUTF8(string(out), "\uFFFD")
	if err != nil {
		return s, fmt.Errorf("decoding %s: %w", name, err)
	}
	return s, nil
}

// knownCharset reports whether decodeCharset can decode the label.
func knownCharset(name string) bool {
	name = normCharset(name)
	if isPassThroughCharset(name) {
		return true
	}
	_, err := charset.Reader(name, bytes.NewReader(nil))
	return err == nil
}

// fallbackDecode reads bytes of unknown charset: UTF-8 when valid, else
// windows-1252 (which maps every byte).
func fallbackDecode(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return decodeWindows1252(b)
}

func decodeWindows1252(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		if c < utf8.RuneSelf {
			sb.WriteByte(c)
			continue
		}
		r := charmap.Windows1252.DecodeByte(c)
		sb.WriteRune(r)
	}
	return sb.String()
}
