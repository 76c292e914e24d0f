import email, json, glob, os, sys
from email import policy
out = {}
for f in sorted(glob.glob('msg_*.txt')):
    raw = open(f, 'rb').read()
    try:
        m = email.message_from_bytes(raw, policy=policy.default)
    except Exception as e:
        continue
    e = {}
    try:
        s = m['subject']
        if s is not None and not m.defects:
            e['subject'] = str(s)
    except Exception:
        pass
    try:
        fr = m['from']
        if fr is not None and len(fr.addresses) == 1 and not fr.defects:
            a = fr.addresses[0]
            if a.addr_spec and '@' in a.addr_spec:
                e['from_addr'] = a.addr_spec.lower()
                e['from_name'] = a.display_name
    except Exception:
        pass
    try:
        if not m.is_multipart() and m.get_content_type() == 'text/plain' and not m.defects:
            e['text'] = m.get_content()
    except Exception:
        pass
    if e:
        out[f] = e
json.dump(out, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
