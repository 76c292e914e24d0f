package mailparse

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// UTF7 is the UTF-7 encoding of RFC 2152. Exchange still labels some
// delivery reports "unicode-1-1-utf-7", and go-message has no decoder for it,
// so the package registers this one with go-message's charset table.
//
// Decoding is lenient: bytes that are not valid UTF-7 (8-bit bytes, unpaired
// surrogates) become U+FFFD instead of failing. Encoding puts every run of
// characters outside RFC 2152's direct set into its own shifted sequence,
// always closed with '-', which any conforming decoder reads back.
var UTF7 encoding.Encoding = utf7Encoding{}

type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}

func (utf7Encoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: &utf7Encoder{}}
}

func (utf7Encoding) String() string { return "UTF-7" }

// modified base64 alphabet of RFC 2152 (standard base64 without '=').
const utf7Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var utf7Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(utf7Alphabet); i++ {
		t[utf7Alphabet[i]] = int8(i)
	}
	return t
}()

// utf7State is the decoder's state between bytes; it is a value so that a
// byte whose output does not fit into dst can be retried unchanged.
type utf7State struct {
	shifted bool   // inside a '+' ... sequence
	first   bool   // the '+' was the last byte: "+-" means a literal '+'
	bits    uint32 // pending bits, most significant first
	nbits   uint8
	high    uint16 // pending high surrogate, 0 if none
}

type utf7Decoder struct{ st utf7State }

func (d *utf7Decoder) Reset() { d.st = utf7State{} }

// Transform implements transform.Transformer.
func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	var out [16]byte
	for nSrc < len(src) {
		st := d.st
		n := st.step(src[nSrc], out[:0])
		if nDst+len(n) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += copy(dst[nDst:], n)
		nSrc++
		d.st = st
	}
	if atEOF {
		st := d.st
		n := st.finish(out[:0])
		if nDst+len(n) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += copy(dst[nDst:], n)
		d.st = utf7State{}
	}
	return nDst, nSrc, nil
}

// step consumes one byte and appends what it produces to out.
func (st *utf7State) step(c byte, out []byte) []byte {
	if st.shifted {
		if v := utf7Value[c]; v >= 0 {
			st.first = false
			st.bits = st.bits<<6 | uint32(v)
			st.nbits += 6
			if st.nbits >= 16 {
				st.nbits -= 16
				unit := uint16(st.bits >> st.nbits)
				st.bits &= 1<<st.nbits - 1
				out = st.unit(unit, out)
			}
			return out
		}
		// Any other byte ends the shifted sequence; '-' is absorbed.
		first := st.first
		out = st.endShift(out)
		if c == '-' {
			if first {
				out = append(out, '+')
			}
			return out
		}
		if first {
			// "+" before a byte that cannot follow it: ill-formed, so
			// keep the '+' rather than lose it.
			out = append(out, '+')
		}
	}
	if c == '+' {
		st.shifted, st.first = true, true
		return out
	}
	if c >= utf8.RuneSelf {
		return utf8.AppendRune(out, utf8.RuneError)
	}
	return append(out, c)
}

// unit handles one decoded UTF-16 code unit.
func (st *utf7State) unit(u uint16, out []byte) []byte {
	switch {
	case utf16.IsSurrogate(rune(u)) && u < 0xdc00: // high surrogate
		if st.high != 0 {
			out = utf8.AppendRune(out, utf8.RuneError)
		}
		st.high = u
	case utf16.IsSurrogate(rune(u)): // low surrogate
		if st.high == 0 {
			return utf8.AppendRune(out, utf8.RuneError)
		}
		out = utf8.AppendRune(out, utf16.DecodeRune(rune(st.high), rune(u)))
		st.high = 0
	default:
		if st.high != 0 {
			out = utf8.AppendRune(out, utf8.RuneError)
			st.high = 0
		}
		out = utf8.AppendRune(out, rune(u))
	}
	return out
}

// endShift leaves base64 mode. Leftover bits are padding; a half surrogate
// pair left over is an error in the input and becomes U+FFFD.
func (st *utf7State) endShift(out []byte) []byte {
	if st.high != 0 {
		out = utf8.AppendRune(out, utf8.RuneError)
	}
	*st = utf7State{}
	return out
}

func (st *utf7State) finish(out []byte) []byte {
	if st.shifted {
		out = st.endShift(out)
	}
	return out
}

// utf7Direct reports whether r may stand for itself in UTF-7: RFC 2152's
// set D, the optional set O except '\\' and '~', and space, tab, CR, LF.
func utf7Direct(r rune) bool {
	switch {
	case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return true
	}
	switch r {
	case '\'', '(', ')', ',', '-', '.', '/', ':', '?', ' ', '\t', '\r', '\n',
		'!', '"', '#', '$', '%', '&', '*', ';', '<', '=', '>', '@', '[', ']', '^', '_', '`', '{', '|', '}':
		return true
	}
	return false
}

type utf7Encoder struct{}

func (utf7Encoder) Reset() {}

// Transform implements transform.Transformer. Each maximal run of indirect
// characters found within src becomes one "+...-" sequence; a run split
// across calls becomes two sequences, which is equally valid UTF-7.
func (utf7Encoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size < 2 && !atEOF && !utf8.FullRune(src[nSrc:]) {
			return nDst, nSrc, transform.ErrShortSrc
		}
		if utf7Direct(r) && size == 1 {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = byte(r)
			nDst++
			nSrc++
			continue
		}
		if r == '+' {
			if nDst+2 > len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst], dst[nDst+1] = '+', '-'
			nDst += 2
			nSrc++
			continue
		}
		// Collect the run of indirect characters.
		var units []uint16
		end := nSrc
		for end < len(src) {
			r, size := utf8.DecodeRune(src[end:])
			if r == utf8.RuneError && size < 2 && !atEOF && !utf8.FullRune(src[end:]) {
				break
			}
			if (utf7Direct(r) && size == 1) || r == '+' {
				break
			}
			units = utf16.AppendRune(units, r)
			end += size
		}
		if end == nSrc {
			return nDst, nSrc, transform.ErrShortSrc
		}
		enc := utf7EncodeUnits(units)
		if nDst+len(enc) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += copy(dst[nDst:], enc)
		nSrc = end
	}
	return nDst, nSrc, nil
}

func utf7EncodeUnits(units []uint16) []byte {
	out := make([]byte, 0, 2+len(units)*3)
	out = append(out, '+')
	var bits uint32
	var nbits uint
	for _, u := range units {
		bits = bits<<16 | uint32(u)
		nbits += 16
		for nbits >= 6 {
			nbits -= 6
			out = append(out, utf7Alphabet[(bits>>nbits)&0x3f])
		}
		bits &= 1<<nbits - 1
	}
	if nbits > 0 {
		out = append(out, utf7Alphabet[(bits<<(6-nbits))&0x3f])
	}
	return append(out, '-')
}
