package mailparse

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"
	htmlcharset "golang.org/x/net/html/charset"
)

// Charset detection for 8-bit text that declares no charset or a wrong one
// (issue 14). The order, as the best parsers do it:
//
//  1. text that validates as UTF-8 is UTF-8, whatever a single-byte or
//     7-bit label says: it is never re-decoded;
//  2. a declared 8-bit charset that decodes the bytes cleanly is used;
//  3. the charsets declared on the enclosing parts;
//  4. the detector (gogs/chardet, ICU's detector: CJK encodings,
//     windows-125x, ISO-8859-x, KOI8-R) over a bounded prefix of all the
//     mail's undeclared 8-bit bytes, so that a short subject or file name
//     is judged together with the body the same client wrote;
//  5. windows-1252, which maps every byte.

// maxDetect bounds the bytes the detector reads: detection is linear in
// them, and a prefix decides as well as the whole.
const maxDetect = 32 << 10

// minConfidence is the detector's confidence (1–100) below which its
// answer is not taken.
const minConfidence = 25

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// sevenBitCharset reports charsets whose text never holds 8-bit bytes: such
// bytes mean the label is wrong.
func sevenBitCharset(name string) bool {
	return strings.HasPrefix(name, "iso-2022-") || name == "utf-7" || name == "hz-gb-2312" ||
		name == "us-ascii" || name == "ascii"
}

// sevenBitFamily lists, for a 7-bit CJK label, the 8-bit encodings of the
// same language that clients write under it by mistake.
var sevenBitFamily = map[string][]string{
	"iso-2022-jp":   {"shift_jis", "euc-jp"},
	"iso-2022-jp-2": {"shift_jis", "euc-jp"},
	"iso-2022-kr":   {"euc-kr"},
	"iso-2022-cn":   {"gb18030"},
	"hz-gb-2312":    {"gb18030"},
}

// multiByteCharset reports the CJK encodings whose decoders signal bytes
// that do not fit (as U+FFFD), so a wrong label shows.
func multiByteCharset(name string) bool {
	switch name {
	case "shift_jis", "sjis", "x-sjis", "shift-jis", "ms_kanji", "windows-31j", "cp932", "euc-jp", "x-euc-jp",
		"gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn", "big5", "big5-hkscs", "x-big5", "cp950",
		"euc-kr", "ks_c_5601-1987", "cp949", "x-euc-kr":
		return true
	}
	return false
}

// decodeText decodes a text part's bytes: as declared when the label
// fits, else by the rules above. It returns the charset it used when that
// differs from the label ("" otherwise), for the problems list.
func (p *parser) decodeText(e *entity, b []byte) (s, used string, err error) {
	declared := normCharset(e.ctype.params["charset"])
	if !has8bit(b) || declared == "utf-16" || strings.HasPrefix(declared, "utf-16") || strings.HasPrefix(declared, "utf-32") {
		s, err = decodeCharset(declared, b)
		return s, "", err
	}
	if utf8.Valid(b) {
		if declared == "utf-8" || declared == "utf8" {
			return string(b), "", nil
		}
		if isPassThroughCharset(declared) || sevenBitCharset(declared) || !multiByteCharset(declared) {
			return string(b), "utf-8", nil
		}
	}
	if declared != "" && !isPassThroughCharset(declared) && !sevenBitCharset(declared) && knownCharset(declared) {
		s, err = decodeCharset(declared, b)
		if !multiByteCharset(declared) || err == nil && !strings.ContainsRune(s, utf8.RuneError) {
			return s, "", err
		}
	}
	for _, cs := range sevenBitFamily[declared] {
		// A 7-bit label over 8-bit bytes: the same language's 8-bit
		// encoding (Shift_JIS under ISO-2022-JP is common).
		if s, err := decodeCharset(cs, b); err == nil && !strings.ContainsRune(s, utf8.RuneError) {
			return s, cs, nil
		}
	}
	if declared == "utf-8" || declared == "utf8" {
		// Broken UTF-8 is still UTF-8 far more often than anything else.
		return strings.ToValidUTF8(string(b), "\uFFFD"), "", nil
	}
	if e.ctype.value == "text/html" && (declared == "" || isPassThroughCharset(declared)) {
		// HTML may say its charset in a <meta> near its top, as browsers
		// read it (a bounded prescan).
		// DetermineEncoding answers windows-1252 when the HTML says
		// nothing; the detector does better then.
		if _, name, _ := htmlcharset.DetermineEncoding(b[:min(len(b), 1024)], "text/html"); name != "" && name != "windows-1252" {
			if cs := normCharset(name); knownCharset(cs) && !isPassThroughCharset(cs) {
				s, err = decodeCharset(cs, b)
				return s, cs, err
			}
		}
	}
	for a := e.parent; a != nil; a = a.parent {
		cs := normCharset(a.ctype.params["charset"])
		if s, ok := declaredFits(cs, b); ok {
			return s, cs, nil
		}
	}
	cs := p.guess8bit(b)
	s, _ = decodeCharset(cs, b)
	return s, cs, nil
}

// declaredFits decodes b in the declared charset cs when cs is an 8-bit
// charset casemail knows and b reads cleanly in it (in a multi-byte
// charset, without bytes that do not fit).
func declaredFits(cs string, b []byte) (string, bool) {
	if cs == "" || isPassThroughCharset(cs) || sevenBitCharset(cs) || !knownCharset(cs) {
		return "", false
	}
	s, err := decodeCharset(cs, b)
	if err != nil || multiByteCharset(cs) && strings.ContainsRune(s, utf8.RuneError) {
		return "", false
	}
	return s, true
}

// guess8bit returns the charset of the mail's undeclared 8-bit bytes:
// the detector's verdict over them (sample first, then b), windows-1252
// when it is unsure.
func (p *parser) guess8bit(b []byte) string {
	if p.guessed != "" {
		return p.guessed
	}
	sample := append(append([]byte(nil), p.sample8bit...), ' ')
	sample = append(sample, b[:min(len(b), maxDetect)]...)
	p.guessed = detectCharset(sample)
	return p.guessed
}

// detectCharset runs the detector on at most maxDetect bytes.
func detectCharset(b []byte) string {
	b = b[:min(len(b), maxDetect)]
	results, err := chardet.NewTextDetector().DetectAll(b)
	if err != nil {
		return "windows-1252"
	}
	// DetectAll gathers its recognizers' answers from goroutines and sorts
	// them unstably: ties come in any order. Order them so that the same
	// mail always reads the same.
	slices.SortFunc(results, func(x, y chardet.Result) int {
		return cmp.Or(cmp.Compare(y.Confidence, x.Confidence), cmp.Compare(x.Charset, y.Charset))
	})
	for _, r := range results {
		if r.Confidence < minConfidence {
			break
		}
		cs := strings.ToLower(r.Charset)
		switch {
		case cs == "utf-8", strings.HasPrefix(cs, "utf-16"), strings.HasPrefix(cs, "utf-32"),
			strings.HasPrefix(cs, "ibm42"), strings.HasPrefix(cs, "iso-2022-"):
			// Not for 8-bit bytes that failed UTF-8; EBCDIC and 7-bit
			// encodings are never what a mail client wrote unlabelled.
			continue
		case cs == "iso-8859-1":
			cs = "windows-1252"
		case cs == "gb18030":
			// A superset of GB2312 and GBK.
		}
		if knownCharset(cs) {
			return cs
		}
	}
	return "windows-1252"
}
