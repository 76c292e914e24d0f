#!/usr/bin/env python3
"""Writes this folder's mails, INDEX.tsv and expected.json from Dovecot's tests.

    python3 transcribe.py path/to/imaptest path/to/dovecot-core

The mails are cut, byte for byte, from the upstream test sources: imaptest's
src/tests/*.mbox (split at their "From " lines and turned into CRLF, as
imaptest does before it APPENDs them) and the C string literals of Dovecot
core's lib-mail and lib-imap unit tests. The expectations are what those
tests assert, mapped onto casemail's fields as README.md describes: read
from the tests' tables where the tests keep them in tables (addresses,
encoded words, RFC 2231 parameters, snippets, HTML to text, BODYSTRUCTURE,
ENVELOPE), and transcribed by hand below, with the test's name, where a
test states them in code. Nothing here comes from casemail's output.
"""
import base64
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
IMAPTEST_REPO, IMAPTEST_COMMIT = "dovecot/imaptest", "9d78895090071e24c27c912145ab72a480ba0e01"
CORE_REPO, CORE_COMMIT = "dovecot/core", "f28b5a92ec52eef0a111a095d00435756343dc94"

mails = {}  # file → bytes
expected = {}  # file → expectation
index = []  # (file, repo, path, commit, test, fields)


def add(name, raw, exp, repo, path, test):
    assert name not in mails, name
    mails[name] = raw
    exp = {k: v for k, v in exp.items() if v is not None}
    if exp:
        expected[name] = exp
    index.append((name, repo + ":" + path, test, ",".join(sorted(exp))))


def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


# --- C source: string literals and initialiser lists -------------------------

ESC = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "\\": b"\\", "'": b"'", "?": b"?", "a": b"\a", "0": b"\0"}


def c_string(src, i):
    """The bytes of the string literal starting at src[i] ('"'), and its end."""
    assert src[i] == '"'
    out = bytearray()
    i += 1
    while src[i] != '"':
        c = src[i]
        if c == "\\":
            n = src[i + 1]
            if n == "x":
                m = re.match(r"[0-9a-fA-F]+", src[i + 2:])
                out.append(int(m.group(0), 16) & 0xFF)
                i += 2 + m.end()
                continue
            m = re.match(r"[0-7]{1,3}", src[i + 1:])
            if m:
                out.append(int(m.group(0), 8))
                i += 1 + m.end()
                continue
            out += ESC[n]
            i += 2
            continue
        out += c.encode("latin-1")  # the source was read as Latin-1: its bytes
        i += 1
    return bytes(out), i + 1


TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<str>")|(?P<id>[A-Za-z_][A-Za-z_0-9]*)|(?P<num>-?\d+)|(?P<p>[{}(),.=;\[\]|&+*-])', re.S)


def macros(src):
    """#define NAME "..." (string bodies, possibly naming other macros)."""
    out = {"UNICODE_REPLACEMENT_CHAR_UTF8": "\ufffd".encode()}
    for m in re.finditer(r"^#define\s+(\w+)\s+((?:[^\n]*\\\n)*[^\n]*)", src, re.M):
        body = m.group(2).replace("\\\n", "\n")
        if body.strip().startswith(('"', "UT8", "TEST_CASE", "PARTIAL", "SIGNED", "UTF8", "MULTIPART", "BINARY")):
            try:
                out[m.group(1)] = strings_seq(body, 0, out)[0]
            except (AssertionError, KeyError, IndexError):
                pass
    return out


def strings_seq(src, i, mac):
    """Adjacent string literals (and string macros) from i: bytes, end."""
    out, found = b"", False
    while True:
        m = TOKEN.match(src, i)
        if not m:
            break
        if m.group("str"):
            s, i = c_string(src, m.start())
            out += s
            found = True
        elif m.group("id") and m.group("id") in mac:
            out += mac[m.group("id")]
            i = m.end()
            found = True
        elif m.lastgroup is None:
            i = m.end()
        else:
            break
    assert found, src[i:i + 40]
    return out, i


def initialiser(src, i, mac):
    """A C initialiser from i: nested lists, {field: value} for designated
    fields, bytes for strings, ints, identifiers as str."""
    def tok():
        nonlocal i
        while True:
            m = TOKEN.match(src, i)
            if m.lastgroup is None:
                i = m.end()
                continue
            return m

    def value():
        nonlocal i
        m = tok()
        if m.group("p") == "{":
            i = m.end()
            items, fields = [], {}
            while True:
                m = tok()
                if m.group("p") == "}":
                    i = m.end()
                    return fields if fields else items
                if m.group("p") == ".":
                    i = m.end()
                    name = tok().group("id")
                    i = tok().end()  # the name
                    assert tok().group("p") == "="
                    i = tok().end()
                    fields[name] = value()
                else:
                    items.append(value())
                m = tok()
                if m.group("p") == ",":
                    i = m.end()
        if m.group("str") or (m.group("id") and m.group("id") in mac):
            s, i = strings_seq(src, m.start(), mac)
            return s
        if m.group("num"):
            i = m.end()
            return int(m.group("num"))
        if m.group("id"):
            i = m.end()
            name = m.group("id")
            m = tok()
            if m.group("p") == "(":  # a macro call: its arguments
                i = m.end()
                args = []
                while tok().group("p") != ")":
                    args.append(value())
                    if tok().group("p") == ",":
                        i = tok().end()
                i = tok().end()
                return (name, args)
            while tok().group("p") == "|":  # FLAG_A | FLAG_B
                i = tok().end()
                name += "|" + tok().group("id")
                i = tok().end()
            return name
        raise ValueError(src[i:i + 60])

    return value()


def c_table(src, decl, mac=None):
    """The initialiser following decl ("tests[] =") in src."""
    mac = macros(src) if mac is None else mac
    i = src.index(decl) + len(decl)
    return initialiser(src, i, mac)


def c_literal(src, decl, mac=None):
    """The string literal(s) following decl in src."""
    mac = macros(src) if mac is None else mac
    return strings_seq(src, src.index(decl) + len(decl), mac)[0]


def c_func(src, name):
    """The source of the C function name."""
    i = re.search(r"^static void " + re.escape(name) + r"\(void\)\n\{", src, re.M).start()
    j = src.index("\n}\n", i)
    return src[i:j + 3]


def u(b):
    return b.decode("utf-8")


# --- IMAP responses ----------------------------------------------------------

def imap_sexp(s):
    """An IMAP parenthesised list as Python lists, strings, ints and None."""
    pos = 0

    def val():
        nonlocal pos
        while s[pos] == " ":
            pos += 1
        c = s[pos]
        if c == "(":
            pos += 1
            out = []
            while True:
                while s[pos] == " ":
                    pos += 1
                if s[pos] == ")":
                    pos += 1
                    return out
                out.append(val())
        if c == '"':
            pos += 1
            out = []
            while s[pos] != '"':
                if s[pos] == "\\":
                    pos += 1
                out.append(s[pos])
                pos += 1
            pos += 1
            return "".join(out)
        m = re.match(r"[^ ()]+", s[pos:])
        pos += m.end()
        t = m.group(0)
        return None if t.upper() == "NIL" else int(t) if t.isdigit() else t

    items = []
    while pos < len(s):
        if s[pos] == " ":
            pos += 1
            continue
        items.append(val())
    return items


def bodystructure_attachments(bs):
    """The attachments a BODY or BODYSTRUCTURE describes, as casemail (RFC
    8621) defines them: every leaf but the text/plain and text/html parts
    that are not marked attachment, and every message/rfc822 part whole.
    The name is the disposition's filename or the type's name parameter
    ("*", any name, where there is none); the size is the part's octet
    count where its encoding is an identity (7bit, 8bit, binary), the
    decoded size; else it is not checked."""
    out = []

    def walk(p):
        if isinstance(p[0], list):  # multipart: children, then the subtype
            for c in p:
                if not isinstance(c, list):
                    return
                walk(c)
        typ, sub = p[0].lower(), p[1].lower()
        params = dict(zip(*[iter((p[2] or []))] * 2))
        disp = None
        if len(p) > 9 and typ == "text":
            disp = p[9]
        elif len(p) > 8 and typ != "text" and not (typ == "message" and sub == "rfc822"):
            disp = p[8]
        elif len(p) > 11 and typ == "message" and sub == "rfc822":
            disp = p[11]
        dparams = dict(zip(*[iter((disp[1] or []))] * 2)) if disp else {}
        attach = disp is not None and disp[0].lower() == "attachment"
        if typ == "text" and sub in ("plain", "html") and not attach:
            return
        name = dparams.get("filename") or params.get("name") or "*"
        a = {"name": name}
        if p[5].lower() in ("7bit", "8bit", "binary"):
            a["size"] = p[6]
        out.append(a)

    walk(bs)
    return out


# --- imaptest ------------------------------------------------------------------

def mbox(path):
    """An imaptest mbox: its messages as imaptest appends them (the lines
    between the From lines, in CRLF)."""
    data = open(path, "rb").read()
    msgs = re.split(rb"^From [^\n]*\n", data, flags=re.M)[1:]
    return [crlf(m) for m in msgs]


def envelope_from(env):
    """subject, from address, from name of an ENVELOPE."""
    subject = env[1] or ""
    frm = env[2][0]
    addr = "%s@%s" % (frm[2], frm[3]) if frm[3] is not None else (frm[2] or "")
    return subject, addr.lower(), frm[0] or ""


def imaptest(root):
    tests = os.path.join(root, "src", "tests")

    def src(name):
        return open(os.path.join(tests, name), "rb").read().decode("latin-1")

    def lit(text, start, nth=0):
        """The {{{ … }}} literal after start as imaptest sends it: each line
        ends in CRLF, in a binary literal (~{{{) in CRLF only where the
        test file has one and in LF elsewhere; the last line break closes
        the literal and is not data."""
        i = text.index(start)
        for _ in range(nth + 1):
            i = text.index("{{{\n", i) + 4
        binary = text[i - 5] == "~"
        j = text.index("\n}}}", i - 1)
        out = []
        for line in text[i:j + 1].split("\n")[:-1]:
            if binary and not line.endswith("\r"):
                out.append(line + "\n")
            else:
                out.append(line.rstrip("\r") + "\r\n")
        b = "".join(out)
        return (b[:-2] if b.endswith("\r\n") else b[:-1]).encode("latin-1")

    # fetch-envelope: subject and From of each message's ENVELOPE.
    envs = {}
    for line in src("fetch-envelope").splitlines():
        m = re.match(r"\* (\d+) FETCH \(ENVELOPE (.*)\)$", line)
        if m:
            envs[int(m.group(1))] = imap_sexp(m.group(2))[0]
    for i, raw in enumerate(mbox(os.path.join(tests, "fetch-envelope.mbox")), 1):
        subject, addr, name = envelope_from(envs[i])
        add("imaptest/fetch-envelope-%d.eml" % i, raw, {"subject": subject, "from_addr": addr, "from_name": name},
            IMAPTEST_REPO, "src/tests/fetch-envelope.mbox", "fetch-envelope: FETCH %d ENVELOPE" % i)

    # fetch-bodystructure: FETCH BODY lists one text/x-myown part of 7
    # octets, 7bit; the boundary "foo bar" is folded in the header.
    t = src("fetch-bodystructure")
    body = imap_sexp(re.search(r"\* 1 FETCH \(BODY (.*)\)$", t, re.M).group(1))[0]
    raw = mbox(os.path.join(tests, "fetch-bodystructure.mbox"))[0]
    add("imaptest/fetch-bodystructure.eml", raw, {"attachments": bodystructure_attachments(body)},
        IMAPTEST_REPO, "src/tests/fetch-bodystructure.mbox", "fetch-bodystructure: FETCH 1 BODY")

    # fetch-body: message 1's header fields and text; message 2's text in
    # two partial fetches (<0.3> "bod", <3.3> "y22").
    t = src("fetch-body")
    raws = mbox(os.path.join(tests, "fetch-body.mbox"))
    text1 = lit(t, "ok fetch 1 (flags body.peek[text])").decode()
    hdr = lit(t, "ok fetch 1 body.peek[header.fields (from subject)]").decode()
    frm = re.search(r"From: (.*) <(.*)>", hdr)
    add("imaptest/fetch-body-1.eml", raws[0], {"subject": re.search(r"Subject: (.*)\r", hdr).group(1),
                                               "from_addr": frm.group(2), "from_name": frm.group(1), "text": text1},
        IMAPTEST_REPO, "src/tests/fetch-body.mbox", "fetch-body: BODY[TEXT] and BODY[HEADER.FIELDS (FROM SUBJECT)] of 1")
    assert '* 2 fetch (body[text]<0> "bod")' in t and '* 2 fetch (body[text]<3> "y22")' in t
    add("imaptest/fetch-body-2.eml", raws[1], {"text_contains": ["body22"]},
        IMAPTEST_REPO, "src/tests/fetch-body.mbox", "fetch-body: BODY[TEXT]<0.3> and <3.3> of 2")

    # fetch-body-mime and fetch-binary-mime (the same message): part 1 is
    # text/x-myown (an attachment), BINARY.SIZE[1] 7; part 2 a
    # message/rfc822, BINARY.SIZE[2] 298.
    t = src("fetch-binary-mime")
    sizes = {p: int(n) for p, n in re.findall(r"binary\.size\[(\d)\] (\d+)\)", t)}
    raw = mbox(os.path.join(tests, "fetch-binary-mime.mbox"))[0]
    assert raw == mbox(os.path.join(tests, "fetch-body-mime.mbox"))[0]
    part1 = lit(t, "ok fetch 1 (binary.peek[1])")
    part2 = lit(t, "ok fetch 1 (binary.peek[2])")
    assert len(part1) == sizes["1"] and len(part2) == sizes["2"]
    add("imaptest/fetch-binary-mime.eml", raw, {"attachments": [
        {"name": "*", "size": sizes["1"], "md5": hashlib.md5(part1).hexdigest()},
        {"name": "*", "size": sizes["2"], "md5": hashlib.md5(part2).hexdigest()}]},
        IMAPTEST_REPO, "src/tests/fetch-binary-mime.mbox", "fetch-binary-mime and fetch-body-mime: BINARY[1], BINARY[2], their sizes")

    # fetch-binary-mime-base64: five base64 text/x-myown parts, decoded by
    # BINARY[1..5], their sizes by BINARY.SIZE.
    t = src("fetch-binary-mime-base64")
    start = "ok fetch 1 (binary.peek[1] binary.peek[2] binary.peek[3] binary.peek[4] binary.peek[5])"
    parts = [lit(t, start, k) for k in range(5)]
    sizes = {int(p): int(n) for p, n in re.findall(r"binary\.size\[(\d)\] (\d+)", t)}
    for k, p in enumerate(parts, 1):
        assert len(p) == sizes[k], (k, p, sizes[k])
    add("imaptest/fetch-binary-mime-base64.eml", mbox(os.path.join(tests, "fetch-binary-mime-base64.mbox"))[0],
        {"attachments": [{"name": "*", "size": len(p), "md5": hashlib.md5(p).hexdigest()} for p in parts]},
        IMAPTEST_REPO, "src/tests/fetch-binary-mime-base64.mbox", "fetch-binary-mime-base64: BINARY[1..5] and BINARY.SIZE")

    # fetch-binary-mime-qp: one quoted-printable text/x-myown part,
    # BINARY[1] of 65 octets.
    t = src("fetch-binary-mime-qp")
    part = lit(t, "ok fetch 1 (binary.peek[1])\n")
    size = int(re.search(r"binary\.size\[1\] (\d+)", t).group(1))
    assert len(part) == size, (len(part), size)
    add("imaptest/fetch-binary-mime-qp.eml", mbox(os.path.join(tests, "fetch-binary-mime-qp.mbox"))[0],
        {"attachments": [{"name": "*", "size": size, "md5": hashlib.md5(part).hexdigest()}]},
        IMAPTEST_REPO, "src/tests/fetch-binary-mime-qp.mbox", "fetch-binary-mime-qp: BINARY[1] and BINARY.SIZE[1]")

    # fetch-body-message-rfc822*: the message is one message/rfc822 part;
    # BODY[1] is the forwarded message (an attachment, whole).
    for name in ("fetch-body-message-rfc822", "fetch-body-message-rfc822-x2", "fetch-body-message-rfc822-mime"):
        t = src(name)
        part = lit(t, "ok fetch 1 (body.peek[1])")
        add("imaptest/%s.eml" % name, mbox(os.path.join(tests, name + ".mbox"))[0],
            {"attachments": [{"name": "*", "size": len(part), "md5": hashlib.md5(part).hexdigest()}]},
            IMAPTEST_REPO, "src/tests/%s.mbox" % name, "%s: BODY[1]" % name)

    # search-body: SEARCH BODY (the body only, case-insensitive, substrings)
    # finds each word in these messages and in no other.
    t = src("search-body")
    found = {}
    for word, nums in re.findall(r"ok search body (\w+)\n\* search([\d ]*)", t):
        found[word] = {int(n) for n in nums.split()}
    for i, raw in enumerate(mbox(os.path.join(tests, "search-body.mbox")), 1):
        add("imaptest/search-body-%d.eml" % i, raw,
            {"text_search": {w: i in ns for w, ns in sorted(found.items())}},
            IMAPTEST_REPO, "src/tests/search-body.mbox", "search-body: SEARCH BODY, message %d" % i)

    # search-addresses: SEARCH FROM finds the full address in messages
    # 1-4, 6 and 7 (each with one From mailbox), both of message 5's; the
    # display name "RealFrom" in 2, 4 (a comment), 6 and 7 and no name
    # in the others.
    t = src("search-addresses")
    res = {q: {int(n) for n in nums.split()} for q, nums in re.findall(r"ok search (.+)\n\* search([\d ]*)", t)}
    assert res["from user-from@domain.org"] == {1, 2, 3, 4, 6, 7} and res["from realfrom"] == {2, 4, 6, 7}
    assert res["from user-from1"] == {5} and res["from user-from2"] == {5}
    for i, raw in enumerate(mbox(os.path.join(tests, "search-addresses.mbox")), 1):
        e = {"from_addr": "user-from1@domain.org" if i == 5 else "user-from@domain.org",
             "from_name": "RealFrom" if i in res["from realfrom"] else None}
        add("imaptest/search-addresses-%d.eml" % i, raw, e,
            IMAPTEST_REPO, "src/tests/search-addresses.mbox", "search-addresses: SEARCH FROM, message %d" % i)


# --- Dovecot core ----------------------------------------------------------------

HEADER = b"From: sender@example.org\r\nSubject: test\r\n"


def core(root):
    def src(path):
        return open(os.path.join(root, path), "rb").read().decode("latin-1")

    def add_core(name, raw, exp, path, test):
        add("core/" + name + ".eml", raw, exp, CORE_REPO, path, test)

    # test-message-address.c, test_message_address: each input as the
    # whole From field. Its wanted struct gives the display name and the
    # mailbox and domain; the address is the addr-spec that the test's
    # wanted output writes (Dovecot quotes a local part only where it must).
    # An input Dovecot marks invalid_syntax gives the address only where
    # there is none at all ("" for both parts): how an invalid one is
    # written is not an address to compare.
    path = "src/lib-mail/test-message-address.c"
    s = src(path)
    tests = c_table(s, "} tests[] =")
    for k, t in enumerate(tests):
        inp, wanted, _, addr = t[0], t[1], t[2], t[3]
        _, _, name, route, mailbox, domain, invalid = addr
        name = "" if name == "NULL" else u(name)
        mailbox = "" if mailbox == "NULL" else u(mailbox)
        domain = "" if domain == "NULL" else u(domain)
        written = u(inp if wanted == "NULL" else wanted)
        e = {"from_name": name}
        if invalid == "FALSE":
            spec = re.search(r"<([^<>]*)>$", written).group(1)
            spec = spec.split(":", 1)[1] if spec.startswith("@") else spec
            e["from_addr"] = spec.lower()
        elif mailbox == "" and domain == "":
            e["from_addr"] = ""
        add_core("message-address-%02d" % k, b"From: " + inp + b"\r\nSubject: test\r\n\r\nbody\r\n", e, path,
                 "test_message_address: tests[%d] %r" % (k, u(inp)))
    # test_message_address_list: the first of three addresses.
    inp = c_literal(s, "const char *test_input =")
    add_core("message-address-list", b"From: " + inp + b"\r\nSubject: test\r\n\r\nbody\r\n",
             {"from_addr": "user1@example1.com", "from_name": ""}, path, "test_message_address_list: wanted_addrs[0]")
    # test_message_address_nuls(_display_name): a NUL becomes U+FFFD.
    for fn, label in (("test_message_address_nuls", "nuls"), ("test_message_address_nuls_display_name", "nuls-display-name")):
        body = c_func(s, fn)
        inp = c_literal(body, "input[] =")
        out = c_table(body, "output =")
        _, _, name, _, mailbox, domain, _ = out
        spec = u(mailbox)
        spec = '"%s"@%s' % (spec.replace("\\", "\\\\").replace('"', '\\"'), u(domain))
        add_core("message-address-" + label, b"From: " + inp + b"\r\nSubject: test\r\n\r\nbody\r\n",
                 {"from_name": u(name), "from_addr": spec.lower()}, path, fn)
    # test_message_address_non_strict_dots: valid without the strict flag,
    # the local part as written.
    body = c_func(s, "test_message_address_non_strict_dots")
    for k, inp in enumerate(c_table(body, "inputs[] =")):
        add_core("message-address-dots-%d" % k, b"From: " + inp + b"\r\nSubject: test\r\n\r\nbody\r\n",
                 {"from_addr": u(inp).lower(), "from_name": ""}, path, "test_message_address_non_strict_dots: inputs[%d]" % k)

    # test-message-header-decode.c: each input as the Subject field.
    path = "src/lib-mail/test-message-header-decode.c"
    s = src(path)
    data = c_table(s, "static const char *data[] =")
    for k in range(0, len(data), 2):
        inp, out = data[k], data[k + 1]
        # The input's "\r\n " is a folded line; the field ends at the
        # mail's own line break.
        add_core("message-header-decode-%d" % (k // 2), b"From: sender@example.org\r\nSubject: " + inp.rstrip(b"\r\n \t") +
                 b"\r\n\r\nbody\r\n", {"subject": u(out)}, path, "test_message_header_decode: data[%d]" % k)

    # test-rfc2231-parser.c: each parameter the parser returns, as the
    # filename of an attachment: the parameter's name is "filename"
    # instead of the test's key, and the other parameters are kept.
    path = "src/lib-mail/test-rfc2231-parser.c"
    s = src(path)
    for fn in ("test_rfc2231_parser_rfc_tests_1", "test_rfc2231_parser_rfc_tests_2", "test_rfc2231_spaces",
               "test_rfc2231_parser", "test_rfc2231_parser_redundant_keys",
               "test_rfc2231_parser_redundant_single_and_multisegment_keys",
               "test_rfc2231_parser_redundant_extended_and_multisegment_keys",
               "test_rfc2231_parser_encodings", "test_rfc2231_parser_utf8_encoding", "test_rfc2231_parser_multi_encodings"):
        body = c_func(s, fn)
        inp = c_literal(body, "input[] =")
        out = c_table(body, "output[] =")
        pairs = [(u(out[k]), out[k + 1]) for k in range(0, len(out) - 1, 2)]
        for key, value in pairs:
            if "*" in key:
                continue  # a leftover section, not a parameter
            params = re.sub(r"(^|; )" + re.escape(key) + r"(?=[*=])", lambda m: m.group(1) + "filename", u(inp))
            if value.strip(b" ") == b"" or b"\0" in value:
                continue  # no usable name (blank, or cut at a NUL)
            label = "%s-%s" % (fn[len("test_rfc2231_"):].replace("_", "-"), key)
            raw = (HEADER + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                   b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Disposition: attachment" + params.encode("latin-1") + b"\r\n\r\nxxxdata\r\n--b--\r\n")
            add_core("rfc2231-" + label, raw, {"attachments_include": [{"name": u(value)}]}, path,
                     "%s: parameter %s" % (fn, key))

    # test-message-decoder.c: the decoded text of whole messages. The
    # messages carry no From or Subject; casemail reads them all the same.
    path = "src/lib-mail/test-message-decoder.c"
    s = src(path)
    # test_message_decoder_multipart: "päivää" (QP), "yötä vaan." (base64,
    # then " ignored" after the padding) and nothing from "?garbage".
    body = c_func(s, "test_message_decoder_multipart")
    add_core("message-decoder-multipart", c_literal(body, "test_message_input[] ="),
             {"text_contains": ["p\u00e4iv\u00e4\u00e4", "y\u00f6t\u00e4 vaan."], "text_count": {"garbage": 0}},
             path, "test_message_decoder_multipart")
    # test_message_decoder_content_transfer_encoding: five text parts, the
    # same line each time but the first.
    body = c_func(s, "test_message_decoder_content_transfer_encoding")
    out = u(c_literal(body, "test_message_output[] ="))
    lines = [l for l in out.replace("\r", "").split("\n") if l]
    add_core("message-decoder-cte", c_literal(body, "test_message_input[] ="),
             {"text_count": {l: lines.count(l) for l in lines}}, path, "test_message_decoder_content_transfer_encoding")
    # test_message_decoder_invalid_content_transfer_encoding: no part's
    # encoding is known, so no text comes out.
    body = c_func(s, "test_message_decoder_invalid_content_transfer_encoding")
    assert '*test_message_output = "";' in body
    add_core("message-decoder-invalid-cte", c_literal(body, "test_message_input[] ="), {"text": ""},
             path, "test_message_decoder_invalid_content_transfer_encoding")
    # test_message_decoder_charset: UTF-16LE/BE and EUC-JP text, and
    # invalid UTF-8 as U+FFFD.
    body = c_func(s, "test_message_decoder_charset")
    # The output is the parts' text run together: three "Test message\n",
    # the EUC-JP part's "『世界人権宣言』", then U+FFFD for the last part.
    out = u(c_literal(body, "*test_message_output ="))
    euc, bad = out.split("\n")[-1][:-1], out[-1]
    assert out == "Test message\n" * 3 + euc + bad and bad == "\ufffd"
    add_core("message-decoder-charset", c_literal(body, "test_message_input[] ="),
             {"text_count": {"Test message": 3}, "text_contains": [euc, bad]},
             path, "test_message_decoder_charset")
    # test_message_decoder_charset_mime_part_change: a UTF-8 sequence cut
    # by a part boundary is not joined: one U+FFFD, no "ä".
    body = c_func(s, "test_message_decoder_charset_mime_part_change")
    assert u(c_literal(body, "*test_message_output =")) == "\ufffd"
    add_core("message-decoder-part-change", c_literal(body, "test_message_input[] ="), {"text": "\ufffd"},
             path, "test_message_decoder_charset_mime_part_change")

    # test-message-snippet.c: the snippet is the start of the visible text
    # (quoted lines left out, white space made one space), so the text
    # holds it. Snippets that are empty, or that join text around a
    # quote Dovecot leaves out, say nothing casemail's Text can be held to.
    path = "src/lib-mail/test-message-snippet.c"
    s = src(path)
    for k, (inp, _, out) in enumerate(c_table(s, "} tests[] =")):
        out = u(out)
        if out.strip() == "" or re.search(rb"(^|\n) *>", inp) or b"blockquote" in inp:
            continue
        e = {"text_contains": [out]}
        if b"multipart/alternative" in inp and inp.index(b"text/html") < inp.index(b"text/plain"):
            # The snippet comes from the first part, HTML; casemail's text
            # is the text/plain alternative, the HTML is its HTML.
            e = {"html_contains": [out]}
        if b"Should not be in snippet" in inp:
            e["text_count"] = {"Should not be in snippet": 0}
        add_core("message-snippet-%02d" % k, inp, e, path, "test_message_snippet: tests[%d]" % k)

    # test-mail-html2text.c: each input as a text/html body; the text of
    # the HTML is the test's output. Inputs with <blockquote> are tested
    # with MAIL_HTML2TEXT_FLAG_SKIP_QUOTED (quotes dropped), an option
    # casemail's HTML text does not have; the blockquote tests without
    # it are kept.
    path = "src/lib-mail/test-mail-html2text.c"
    s = src(path)
    cases = [(k, i, o) for k, (i, o) in enumerate(c_table(s, "} tests[] =")) if b"blockquote" not in i]
    ins = c_table(s, "test_blockquote_input[] =")
    outs = c_table(s, "test_blockquote_output[] =")
    cases += [("bq%d" % k, i, o) for k, (i, o) in enumerate(zip(ins, outs)) if i != "NULL"]
    for k, inp, out in cases:
        raw = HEADER + b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + inp
        add_core("mail-html2text-%s" % (("%02d" % k) if isinstance(k, int) else k), raw, {"html_text": u(out)}, path,
                 "test_mail_html2text: %s[%s]" % ("tests" if isinstance(k, int) else "test_blockquote_input", k))

    # test-message-part-data.c: message_part_is_attachment() and the file
    # name it finds. A part it calls an attachment is one of casemail's
    # attachments, with that name; a part it does not (the $HasAttachment
    # heuristic) is not mapped: casemail keeps every non-text part.
    path = "src/lib-mail/test-message-part-data.c"
    s = src(path)
    for m in re.finditer(r"^static void (test_message_\w+)\(void\)\n\{(.*?)\n\}\n", s, re.M | re.S):
        fn, body = m.group(1), m.group(2)
        call = re.search(r"test_message_part_attachment\(test_name, input, (TRUE|FALSE), (\"[^\"]*\"|NULL)\)", body)
        if not call or call.group(1) != "TRUE" or call.group(2) in ('""', "NULL"):
            continue
        inp = c_literal(body, "input[] =")
        add_core("message-part-data-" + fn[len("test_message_"):].replace("_", "-"), inp,
                 {"attachments": [{"name": call.group(2).strip('"')}]}, path, fn)

    # test-message-search.c: a search that finds its string in the body of
    # a text/plain part of the message itself finds it in casemail's text;
    # one that finds nothing, in no part. Finds inside a forwarded message
    # (the digest) or in a non-text part (message/partial) are not mapped:
    # casemail keeps those as attachments. A find in the Subject field
    # whose block is the whole decoded field is the subject.
    path = "src/lib-mail/test-message-search.c"
    s = src(path)
    mac = macros(s)
    body = c_func(s, "test_message_search")
    seen = {}
    for k, tc in enumerate(c_table(body, "test_cases[] =", mac)):
        inp = tc["input"][1][0]
        search = u(tc["search"])
        out = tc["output"]
        found = tc["expect_found"] == "TRUE"
        e = seen.setdefault(inp, {"tests": [], "exp": {}})
        e["tests"].append(k)
        exp = e["exp"]
        in_body = tc.get("expect_body") == "TRUE"
        hdr = u(tc["hdr_name"]) if "hdr_name" in tc else None
        if b"multipart/digest" in inp or b"Message/Partial" in inp and search == "Bar":
            continue
        if not found:
            exp.setdefault("text_count", {})[search] = 0
        elif in_body:
            exp.setdefault("text_contains", []).append(u(out[1][0]))
        elif hdr == "Subject" and b"Subject: " + out[1][0] + b"\n" in inp.replace(b"=?UTF-8?B?SGVsbG8sIFdvcmxk?=", b"Hello, World"):
            exp["subject"] = u(out[1][0])
        elif hdr == "Subject" and inp.startswith(b"Subject: =?UTF-8?B?44GT44KT44Gr44Gh44Gv?=\n"):
            exp["subject"] = u(out[1][0])
    for n, (inp, e) in enumerate(seen.items()):
        if e["exp"]:
            add_core("message-search-%d" % n, inp, e["exp"], path,
                     "test_message_search: test_cases%s" % e["tests"])

    # test-message-parser.c: the MIME structure of broken boundaries. Each
    # test finds text parts at places it asserts (positions, sizes): their
    # bodies are text; a part it does not find is not.
    path = "src/lib-mail/test-message-parser.c"
    s = src(path)
    structure = {
        # outer and inner multipart share boundary "a": one text/plain
        # part, "body", inside the inner one.
        "test_message_parser_duplicate_mime_boundary": {"text": "body"},
        # "--ab" and "--ac" are delimiters of "a" with garbage after them:
        # again one text/plain part, "body".
        "test_message_parser_garbage_suffix_mime_boundary": {"text": "body"},
        # boundaries "a--" and "a----": "--a------" closes the inner
        # multipart after its one text/plain part ("body"); the text/html
        # part after it is no part (its "body2" is epilogue).
        "test_message_parser_trailing_dashes": {"text": "body", "html_text": None, "text_count": {"body2": 0}},
        # inner boundary "ab" continues outer "a": "--ab" is the inner
        # multipart's delimiter, its text/plain part "body".
        "test_message_parser_continuing_mime_boundary": {"text": "body"},
        # outer "ab", inner "a": "--ab" after the inner text/plain part
        # ("body") ends it and starts the outer's text/html part ("body2").
        "test_message_parser_continuing_mime_boundary_reverse": {"text_contains": ["body"], "html_contains": ["body2"]},
    }
    for fn, e in structure.items():
        body = c_func(s, fn)
        add_core("message-parser-" + fn[len("test_message_parser_"):].replace("_", "-"),
                 c_literal(body, "input_msg[] ="), e, path, fn)

    # test-imap-bodystructure.c: the attachments the BODYSTRUCTURE of each
    # parse_tests message lists (see bodystructure_attachments). The
    # messages are written with CRLF: IMAP's octet counts are of that form.
    path = "src/lib-imap/test-imap-bodystructure.c"
    s = src(path)
    for k, t in enumerate(c_table(s, "struct parse_test parse_tests[] =")):
        bs = imap_sexp(u(t["bodystructure"]))  # the body's fields
        add_core("imap-bodystructure-%d" % k, crlf(t["message"]), {"attachments": bodystructure_attachments(bs)},
                 path, "test_imap_bodystructure_write: parse_tests[%d]" % k)


def main():
    imaptest(sys.argv[1])
    core(sys.argv[2])
    for name, raw in mails.items():
        p = os.path.join(HERE, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(raw)
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(dict(sorted(expected.items())), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "INDEX.tsv"), "w", encoding="utf-8") as f:
        f.write("file\tupstream file\tupstream test\texpected fields\n")
        for row in sorted(index):
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
