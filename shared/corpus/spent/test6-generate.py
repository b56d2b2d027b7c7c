#!/usr/bin/env python3
"""Held-out split 6 generator for an egress secret-detection engine.
Deterministic: single random.Random(SEED); gzip mtime=0. Stdlib only.
Usage: generate.py          -> write positives.jsonl, negatives.jsonl, README.md, then check
       generate.py --check  -> only check the files on disk
"""
import base64, binascii, gzip, hashlib, html, io, json, quopri, random, re, sys, zlib, os
import urllib.parse as up
from collections import Counter, OrderedDict

SEED = 90471133
HERE = os.path.dirname(os.path.abspath(__file__))
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64U = B62 + "-_"
HEX = "0123456789abcdef"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B32L = "abcdefghijklmnopqrstuvwxyz234567"

# ---------------------------------------------------------------- crypto helpers
def rs(r, alpha, n):
    return "".join(r.choice(alpha) for _ in range(n))

def rbytes(r, n):
    return bytes(r.getrandbits(8) for _ in range(n))

def luhn_ok(d):
    s = 0
    for i, ch in enumerate(reversed(d)):
        v = int(ch)
        if i % 2 == 1:
            v *= 2
            if v > 9: v -= 9
        s += v
    return s % 10 == 0

def luhn_complete(prefix, length, r):
    body = prefix + "".join(str(r.randrange(10)) for _ in range(length - len(prefix) - 1))
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c

def iban_ok(s):
    s = s.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s): return False
    t = s[4:] + s[:4]
    n = "".join(str(int(c, 36)) for c in t)
    return int(n) % 97 == 1

def iban_make(cc, bban):
    t = bban + cc + "00"
    n = int("".join(str(int(c, 36)) for c in t))
    return "%s%02d%s" % (cc, 98 - n % 97, bban)

def b58enc(b):
    n = int.from_bytes(b, "big"); out = ""
    while n: n, m = divmod(n, 58); out = B58[m] + out
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + out

def b58dec(s):
    n = 0
    for c in s: n = n * 58 + B58.index(c)
    pad = len(s) - len(s.lstrip("1"))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + raw

def dsha(b): return hashlib.sha256(hashlib.sha256(b).digest()).digest()

def b58check(ver, payload):
    d = bytes([ver]) + payload
    return b58enc(d + dsha(d)[:4])

def b58check_ok(s):
    try: b = b58dec(s)
    except ValueError: return False
    return len(b) == 25 and dsha(b[:-4])[:4] == b[-4:] and b[0] in (0, 5, 0x6f, 0xc4)

BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def _polymod(vals):
    g = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]; chk = 1
    for v in vals:
        b = chk >> 25; chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5): chk ^= g[i] if (b >> i) & 1 else 0
    return chk
def _hrpx(h): return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]
def _bits(data, f, t):
    acc = 0; bits = 0; out = []
    for v in data:
        acc = (acc << f) | v; bits += f
        while bits >= t: bits -= t; out.append((acc >> bits) & ((1 << t) - 1))
    if bits: out.append((acc << (t - bits)) & ((1 << t) - 1))
    return out
def segwit_addr(hrp, ver, prog):
    data = [ver] + _bits(prog, 8, 5)
    const = 1 if ver == 0 else 0x2bc830a3
    pm = _polymod(_hrpx(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + chk)
def bech32_ok(s):
    if s.lower() != s and s.upper() != s: return False
    s = s.lower(); pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s): return False
    hrp, d = s[:pos], s[pos + 1:]
    if any(c not in BECH for c in d): return False
    data = [BECH.index(c) for c in d]
    pm = _polymod(_hrpx(hrp) + data)
    if not data: return False
    return (data[0] == 0 and pm == 1) or (data[0] != 0 and pm == 0x2bc830a3)

def _rol(a, n): n %= 64; return ((a >> (64 - n)) | (a << n)) & ((1 << 64) - 1)
def _kf(l):
    R = 1
    for _ in range(24):
        C = [l[x][0] ^ l[x][1] ^ l[x][2] ^ l[x][3] ^ l[x][4] for x in range(5)]
        D = [C[(x + 4) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        l = [[l[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        x, y = 1, 0; cur = l[x][y]
        for t in range(24):
            x, y = y, (2 * x + 3 * y) % 5
            cur, l[x][y] = l[x][y], _rol(cur, (t + 1) * (t + 2) // 2)
        for y in range(5):
            T = [l[x][y] for x in range(5)]
            for x in range(5): l[x][y] = T[x] ^ ((~T[(x + 1) % 5]) & T[(x + 2) % 5])
        for j in range(7):
            R = ((R << 1) ^ ((R >> 7) * 0x71)) % 256
            if R & 2: l[0][0] ^= 1 << ((1 << j) - 1)
    return l
def keccak256(msg):
    rate = 136; p = bytearray(msg) + b"\x01"
    while len(p) % rate: p += b"\0"
    p[-1] |= 0x80
    st = [[0] * 5 for _ in range(5)]
    for off in range(0, len(p), rate):
        blk = p[off:off + rate]
        for i in range(rate // 8):
            st[i % 5][i // 5] ^= int.from_bytes(blk[8 * i:8 * i + 8], "little")
        st = _kf(st)
    out = b"".join(st[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out
def eip55(addr_hex):
    a = addr_hex.lower(); h = keccak256(a.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(a))
def eth_ok(s):
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", s): return False
    b = s[2:]
    if b.lower() == b or b.upper() == b: return True
    return eip55(b) == s

def gh_checksum_token(r, prefix):
    body = rs(r, B62, 30); c = zlib.crc32(body.encode()); enc = ""
    while c: c, m = divmod(c, 62); enc = B62[m] + enc
    return prefix + body + enc.rjust(6, "0")

# ---------------------------------------------------------------- decoding ops (layers)
TOK64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
TOKHEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}){8,}(?![0-9a-fA-F])")

def _b64try(tok):
    out = []
    pieces = [tok] + [p for p in re.split(r"[/.]", tok) if len(p) >= 8]
    for p in pieces:
        q = p.rstrip("=")
        if len(q) % 4 == 1: continue
        q2 = q + "=" * (-len(q) % 4)
        for alt in (q2.replace("-", "+").replace("_", "/"),):
            try: out.append(base64.b64decode(alt, validate=True))
            except (binascii.Error, ValueError): pass
    return out

def _utf8(b):
    try: s = b.decode("utf-8")
    except UnicodeDecodeError: return None
    if sum(1 for c in s if c.isprintable() or c in "\r\n\t") < 0.9 * max(1, len(s)): return None
    return s

def _decomp(b):
    try:
        if b[:2] == b"\x1f\x8b": return gzip.decompress(b)
        if b[:1] == b"\x78": return zlib.decompress(b)
    except Exception: return None
    return None

def _json_strings(o, acc):
    if isinstance(o, dict):
        for k, v in o.items(): acc.append(k); _json_strings(v, acc)
    elif isinstance(o, list):
        for v in o: _json_strings(v, acc)
    elif isinstance(o, str): acc.append(o)
    elif o is not None: acc.append(json.dumps(o))

def op_json(t):
    acc = []
    try: _json_strings(json.loads(t), acc)
    except ValueError:
        for line in t.splitlines():
            try: _json_strings(json.loads(line), acc)
            except ValueError: pass
    return t + "\n" + "\n".join(acc)

def op_b64(t):
    acc = []
    for m in TOK64.finditer(t):
        for b in _b64try(m.group(0)):
            s = _utf8(b)
            if s: acc.append(s)
    return t + "\n" + "\n".join(acc)

def op_gunzip(t):
    acc = []
    for m in TOK64.finditer(t):
        for b in _b64try(m.group(0)):
            d = _decomp(b)
            if d is not None:
                s = _utf8(d)
                if s: acc.append(s)
    return t + "\n" + "\n".join(acc)

def op_hex(t):
    acc = []
    for m in TOKHEX.finditer(t):
        s = _utf8(bytes.fromhex(m.group(0)))
        if s: acc.append(s)
    return t + "\n" + "\n".join(acc)

def op_qp(t):
    try: return t + "\n" + quopri.decodestring(t.encode("utf-8")).decode("utf-8", "replace")
    except Exception: return t

OPS = OrderedDict([
    ("pct", lambda t: t + "\n" + up.unquote(t)),
    ("plus", lambda t: t + "\n" + up.unquote_plus(t)),
    ("html", lambda t: t + "\n" + html.unescape(t)),
    ("json", op_json), ("b64", op_b64), ("gunzip", op_gunzip), ("hex", op_hex), ("qp", op_qp),
])

def raw_text(rec):
    """Decode the line's own transport: base64 + content_encoding -> text."""
    if "text" in rec: return rec["text"]
    b = base64.b64decode(rec["base64"], validate=True)
    enc = rec.get("content_encoding")
    if enc == "gzip": b = gzip.decompress(b)
    elif enc == "deflate": b = zlib.decompress(b)
    return b.decode("utf-8", "replace")

def apply_layers(t, layers):
    for l in layers: t = OPS[l](t)
    return t

def all_views(t, depth=2):
    seen = {t}; frontier = [t]
    for _ in range(depth):
        nxt = []
        for v in frontier:
            for f in OPS.values():
                w = f(v)
                if w not in seen and len(w) < 400000:
                    seen.add(w); nxt.append(w)
        frontier = nxt
    return seen

# ---------------------------------------------------------------- containers
def camel(s):
    p = s.split("_"); return p[0] + "".join(x.title() for x in p[1:])
def uesc(s): return "".join("\\u%04x" % ord(c) for c in s)
def hrefs(s, r):
    return "".join(("&#x%x;" % ord(c)) if r.random() < 0.5 else ("&#%d;" % ord(c)) for c in s)
def q(s): return up.quote(s, safe="")
def b64s(b, r, urlsafe=None, pad=None):
    if urlsafe is None: urlsafe = r.random() < 0.5
    if pad is None: pad = r.random() < 0.5
    e = (base64.urlsafe_b64encode(b) if urlsafe else base64.b64encode(b)).decode()
    return e if pad else e.rstrip("=")
def gz(b): return gzip.compress(b, mtime=0)

USERS = ["alice", "bwong", "deploy", "ci-bot", "svc_app", "mkowalski", "jdoe", "ops", "ana.silva", "tkato"]
HOSTS = ["api.internal-tools.dev", "hooks.acme-corp.io", "collector.example-svc.net", "upload.paste-box.org",
         "ingest.telemetry-hub.io", "relay.webhook-cat.dev", "files.share-drop.net", "gw.partner-api.com"]
PATHS = ["/v1/ingest", "/api/events", "/upload", "/hook", "/v2/config", "/submit", "/collect", "/api/v1/sync"]

def text_container(r, info):
    """Return (content_type, text, layers) embedding info['value']."""
    V, F, E = info["value"], info["field"], info["env"]
    u = r.choice(USERS)
    kinds = info.get("bodies") or BODY_KINDS
    k = r.choice(kinds)
    if k == "json":
        d = {"user": u, F: V, "ts": 1764000000 + r.randrange(9 ** 6)}
        return "application/json", json.dumps(d), []
    if k == "json-nested":
        d = {"config": {"service": r.choice(["billing", "search", "ml"]), "auth": {camel(F): V}}, "retry": 3}
        return "application/json", json.dumps(d, indent=r.choice([None, 2])), []
    if k == "json-uescape":
        return "application/json", '{"name": "%s", "%s": "%s"}' % (u, F, uesc(V)), ["json"]
    if k == "form":
        return "application/x-www-form-urlencoded", up.urlencode({"user": u, F: V, "save": "1"}), ["plus"]
    if k == "form-double":
        return "application/x-www-form-urlencoded", "user=%s&%s=%s" % (u, F, q(q(V))), ["pct", "pct"]
    if k == "multipart":
        b = "----form" + rs(r, B62, 16)
        t = ("--%s\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: form-data; "
             "name=\"%s\"\r\n\r\n%s\r\n--%s--\r\n") % (b, u, b, F, V, b)
        return "multipart/form-data; boundary=" + b, t, []
    if k == "dotenv":
        return "text/plain", "APP_ENV=production\nLOG_LEVEL=info\n%s=%s\nPORT=8080\n" % (E, V), []
    if k == "yaml":
        return "application/yaml", "service:\n  name: %s\n  credentials:\n    %s: \"%s\"\n  replicas: 2\n" % (
            r.choice(["worker", "api", "cron"]), F, V), []
    if k == "k8s":
        return "application/yaml", ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets\n  namespace: %s\ntype: Opaque\n"
                                    "data:\n  %s: %s\n") % (r.choice(["prod", "default", "payments"]), F, base64.b64encode(V.encode()).decode()), ["b64"]
    if k == "toml":
        return "application/toml", "[server]\nport = 8443\n\n[auth]\n%s = \"%s\"\n" % (F, V), []
    if k == "ini":
        return "text/plain", "[default]\nregion = eu-west-1\n%s = %s\n" % (F, V), []
    if k == "xml":
        return "application/xml", "<?xml version=\"1.0\"?>\n<config><user>%s</user><%s>%s</%s></config>\n" % (
            u, F, html.escape(V), F), ["html"]
    if k == "properties":
        return "text/plain", "app.name=%s\napp.%s=%s\n" % (r.choice(["orders", "gateway"]), F.replace("_", "."), V), []
    if k == "csv":
        return "text/csv", "id,owner,%s,created\n%d,%s,%s,2025-0%d-1%d\n" % (F, r.randrange(1, 999), u, V, r.randrange(1, 9), r.randrange(10)), []
    if k == "log":
        return "text/plain", "2025-11-%02dT%02d:14:07Z INFO request completed user=%s %s=%s latency_ms=%d\n" % (
            r.randrange(1, 29), r.randrange(24), u, F, V, r.randrange(5, 900)), []
    if k == "ndjson":
        return "application/x-ndjson", "%s\n%s\n" % (json.dumps({"event": "start", "user": u}), json.dumps({"event": "auth", F: V})), ["json"]
    if k == "shell":
        return "text/plain", "cd ~/src/app\nexport %s=%s\nmake deploy\n" % (E, V), []
    if k == "docker":
        return "text/plain", "docker run -d --name app -e %s=%s -p 8080:8080 registry.example.com/app:1.4\n" % (E, V), []
    if k == "python":
        return "text/x-python", "import requests\n\n%s = \"%s\"\nresp = requests.get(URL, headers={\"X-Key\": %s})\n" % (F.upper(), V, F.upper()), []
    if k == "js":
        return "application/javascript", "const client = new Client({\n  %s: '%s',\n  timeout: 5000,\n});\n" % (camel(F), V), []
    if k == "go":
        return "text/x-go", "package main\n\nconst %s = \"%s\"\n\nfunc main() { run(%s) }\n" % (camel(F), V, camel(F)), []
    if k == "ruby":
        return "text/x-ruby", "Client.configure do |c|\n  c.%s = \"%s\"\nend\n" % (F, V), []
    if k == "chat":
        tpl = r.choice(["Hey, can you check why this fails? my %s is %s", "Hallo, hier ist der Schlüssel (%s): %s – bitte nicht teilen",
                        "Hola, te paso el %s: %s para que pruebes", "Salut, voici le %s : %s, merci de vérifier",
                        "こんにちは、%s はこちらです: %s よろしくお願いします", "Olá! Segue o %s: %s"])
        return "application/json", json.dumps({"channel": "support", "text": tpl % (F, V)}, ensure_ascii=r.random() < 0.5), ["json"]
    if k == "llm":
        d = {"model": r.choice(["gpt-4o-mini", "gpt-4.1"]), "messages": [{"role": "system", "content": "You are a helpful coding assistant."},
             {"role": "user", "content": "Why does my script fail? It sets %s=%s and then calls the API." % (E, V)}], "temperature": 0.2}
        return "application/json", json.dumps(d), ["json"]
    if k == "anthropic":
        d = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": [{"type": "text",
             "text": "Here is my config file:\n%s: %s\nPlease fix the YAML." % (F, V)}]}]}
        return "application/json", json.dumps(d), ["json"]
    if k == "mcp":
        d = {"jsonrpc": "2.0", "id": r.randrange(1, 99), "method": "tools/call", "params": {"name": r.choice(["http_request", "write_file", "run_command"]),
             "arguments": {"url": "https://%s%s" % (r.choice(HOSTS), r.choice(PATHS)), "headers": {"X-Auth": V}}}}
        return "application/json", json.dumps(d), ["json"]
    if k == "graphql":
        d = {"query": "mutation Save($input: CredInput!) { saveCredential(input: $input) { id } }", "variables": {"input": {"name": u, camel(F): V}}}
        return "application/json", json.dumps(d), ["json"]
    if k == "har":
        d = {"log": {"version": "1.2", "entries": [{"request": {"method": "GET", "url": "https://%s/me" % r.choice(HOSTS),
             "headers": [{"name": "Accept", "value": "*/*"}, {"name": "X-Api-Key", "value": V}]}}]}}
        return "application/json", json.dumps(d), ["json"]
    if k == "html-form":
        return "text/html", "<form method=\"post\" action=\"/save\"><input type=\"hidden\" name=\"%s\" value=\"%s\"><button>Go</button></form>" % (F, hrefs(V, r)), ["html"]
    if k == "qp":
        body = "Subject: config\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + quopri.encodestring(
            ("Bonjour l'équipe, voici la configuration complète pour le déploiement de demain matin: %s=%s — à bientôt" % (F, V)).encode()).decode()
        return "message/rfc822", body, ["qp"]
    if k == "b64-json":
        inner = json.dumps({F: V, "user": u}).encode()
        return "application/json", json.dumps({"type": "blob", "data": b64s(inner, r)}), ["b64"]
    if k == "hex-json":
        inner = ("%s=%s" % (E, V)).encode()
        return "application/json", json.dumps({"kind": "env", "payload": inner.hex()}), ["hex"]
    if k == "b64gz-json":
        inner = json.dumps({"env": {E: V}}).encode()
        return "application/json", json.dumps({"encoding": "gzip+base64", "data": base64.b64encode(gz(inner)).decode()}), ["gunzip"]
    if k == "pypirc":
        return "text/plain", "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % V, []
    if k == "npmrc":
        return "text/plain", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\n" % V, []
    if k == "dockercfg":
        a = base64.b64encode(("%s:%s" % (u, V)).encode()).decode()
        return "application/json", json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": a}}}, indent=2), ["b64"]
    raise ValueError(k)

BODY_KINDS = ["json", "json-nested", "json-uescape", "form", "form-double", "multipart", "dotenv", "yaml", "k8s", "toml", "ini",
              "xml", "properties", "csv", "log", "ndjson", "shell", "docker", "python", "js", "go", "ruby", "chat", "llm",
              "anthropic", "mcp", "graphql", "har", "html-form", "qp", "b64-json", "hex-json", "b64gz-json"]

def body_case(r, info):
    ct, t, layers = text_container(r, info)
    rec = {"where": "body", "content_type": ct}
    x = r.random()
    if x < 0.08:
        rec["content_encoding"] = "gzip"; rec["base64"] = base64.b64encode(gz(t.encode())).decode()
    elif x < 0.13:
        rec["content_encoding"] = "deflate"; rec["base64"] = base64.b64encode(zlib.compress(t.encode())).decode()
    elif x < 0.17:
        rec["base64"] = base64.b64encode(t.encode()).decode()
    else:
        rec["text"] = t
    return rec, layers

def url_case(r, info):
    V, F = info["value"], info["field"]
    h = r.choice(HOSTS); p = r.choice(PATHS)
    k = r.choice(info.get("urls") or ["query", "query", "path", "fragment", "double", "b64q"])
    if k == "query": return "https://%s%s?%s=%s&v=2" % (h, p, F, q(V)), ["pct"]
    if k == "path": return "https://%s%s/%s/verify" % (h, p, q(V)), ["pct"]
    if k == "fragment": return "https://%s/callback#%s=%s&state=ok" % (h, F, q(V)), ["pct"]
    if k == "double": return "http://%s%s?data=%s" % (h, p, q(q(V))), ["pct", "pct"]
    if k == "b64q":
        return "https://%s%s?d=%s" % (h, p, q(b64s(("%s=%s" % (F, V)).encode(), r, urlsafe=True))), ["pct", "b64"]
    raise ValueError(k)

def header_case(r, info):
    V = info["value"]
    hs = info.get("headers") or ["Authorization: Bearer {v}", "X-Api-Key: {v}", "Cookie: theme=dark; {f}={v}"]
    tpl = r.choice(hs)
    if "{b}" in tpl:
        return tpl.format(b=base64.b64encode(("api:" + V).encode()).decode()), ["b64"]
    return tpl.format(v=V, f=info["field"]), []

def finish(r, info, where):
    if where == "body":
        rec, layers = body_case(r, info)
    elif where == "url":
        u, layers = url_case(r, info); rec = {"where": "url", "text": u}
    elif where == "header":
        h, layers = header_case(r, info); rec = {"where": "header", "text": h}
    else:
        raise ValueError(where)
    return rec, layers

# ---------------------------------------------------------------- positive classes
def W(r, wheres):
    return r.choice(wheres)

def simple(valf, field, env, wheres=("body", "body", "url", "header"), headers=None, bodies=None, urls=None, fixed=()):
    def mk(r, i):
        v = fixed[i] if i < len(fixed) else valf(r)
        info = {"value": v, "field": field, "env": env, "headers": headers, "bodies": bodies, "urls": urls}
        rec, layers = finish(r, info, W(r, wheres))
        return rec, v, layers
    return mk

def v_ghp(r):
    return gh_checksum_token(r, "ghp_") if r.random() < 0.8 else "ghp_" + rs(r, B62, 36)
def v_ghfg(r): return "github_pat_" + "11" + rs(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0234567", 20) + "_" + rs(r, B62, 59)
def v_gho(r): return gh_checksum_token(r, "gho_")
def v_glpat(r): return "glpat-" + rs(r, B64U, 20)
def v_xoxb(r): return "xoxb-%d-%d-%s" % (r.randrange(10**10, 10**12), r.randrange(10**11, 10**13), rs(r, B62, 24))
def v_sk_stripe(r): return r.choice(["sk_live_", "sk_test_", "rk_live_"]) + rs(r, B62, r.choice([24, 34, 99]))
def v_openai(r):
    if r.random() < 0.5: return "sk-" + rs(r, B62, 20) + "T3BlbkFJ" + rs(r, B62, 20)
    return "sk-proj-" + rs(r, B64U, 74) + "T3BlbkFJ" + rs(r, B64U, 74)
def v_anthropic(r): return "sk-ant-api03-" + rs(r, B64U, 93) + "AA"
AKC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
def v_akid(r): return r.choice(["AKIA", "AKIA", "ASIA"]) + rs(r, AKC, 16)
def v_aws_secret(r): return rs(r, B62 + "+/", 40)
def v_aiza(r): return "AIza" + rs(r, B64U, 35)
def v_gocspx(r): return "GOCSPX-" + rs(r, B64U, 28)
def v_sg(r): return "SG." + rs(r, B64U, 22) + "." + rs(r, B64U, 43)
def v_npm(r): return "npm_" + rs(r, B62, 36)
def v_pypi(r): return "pypi-AgEIcHlwaS5vcmc" + rs(r, B64U, r.choice([60, 90, 130]))
def v_hf(r): return "hf_" + rs(r, B62[10:], 34)
def v_dckr(r): return "dckr_pat_" + rs(r, B64U, 27)
def v_shpat(r): return r.choice(["shpat_", "shpat_", "shpss_", "shpca_"]) + rs(r, HEX, 32)
def v_dop(r): return r.choice(["dop_v1_", "dop_v1_", "doo_v1_"]) + rs(r, HEX, 64)
def v_mailgun(r): return "key-" + rs(r, HEX, 32)
def v_vault(r): return "hvs." + (rs(r, B62, 24) if r.random() < 0.6 else "CAESI" + rs(r, B64U, 86))
def v_discord(r):
    uid = str(r.randrange(10**17, 10**18 * 2))
    return base64.b64encode(uid.encode()).decode().rstrip("=") + "." + rs(r, B64U, 6) + "." + rs(r, B64U, 38)
def v_telegram(r): return "%d:AA%s" % (r.randrange(10**8, 10**10), rs(r, B64U, 33))
def v_square(r): return r.choice(["EAAA", "EAAA", "sq0atp-"]) + rs(r, B64U, 60 if r.random() < 0.7 else 22)
def v_postman(r): return "PMAK-" + rs(r, HEX, 24) + "-" + rs(r, HEX, 34)
def v_linear(r): return "lin_api_" + rs(r, B62, 40)
def v_doppler(r): return r.choice(["dp.st.prd.", "dp.pt.", "dp.sa."]) + rs(r, B62, 43)
def v_pulumi(r): return "pul-" + rs(r, HEX, 40)
def v_glsa(r): return "glsa_" + rs(r, B62, 32) + "_" + rs(r, HEX, 8)
def v_nrak(r): return "NRAK-" + rs(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 27)
def v_dapi(r): return "dapi" + rs(r, HEX, 32) + r.choice(["", "-2", "-3"])
def v_atl(r): return "ATATT3xFfGF0" + rs(r, B64U, 140) + "=" + rs(r, "0123456789ABCDEF", 8)
def v_sentry(r): return "sntryu_" + rs(r, HEX, 64)
def v_pscale(r): return r.choice(["pscale_tkn_", "pscale_pw_"]) + rs(r, B62 + "_", 43)
def v_sbp(r): return "sbp_" + rs(r, HEX, 40)
def v_tskey(r): return "tskey-" + r.choice(["api", "auth"]) + "-k" + rs(r, B62, 10) + "CNTRL-" + rs(r, B62, 33)
def v_bearer(r): return rs(r, B64U, r.choice([32, 40, 48, 64]))
def v_jwt(r):
    h = {"alg": r.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    p = {"sub": str(r.randrange(10**6, 10**9)), "iss": "https://auth.%s" % r.choice(["acme-corp.io", "example-svc.net"]),
         "iat": 1764000000 + r.randrange(10**6), "scope": r.choice(["read write", "admin", "openid profile"])}
    p["exp"] = p["iat"] + 3600
    e = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).decode().rstrip("=")
    return e(h) + "." + e(p) + "." + base64.urlsafe_b64encode(rbytes(r, 32 if h["alg"] == "HS256" else 64)).decode().rstrip("=")
JWTIO = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
def v_password(r):
    return rs(r, B62, r.randrange(4, 7)) + r.choice("!#%*@$&") + rs(r, B62, r.randrange(5, 9)) + r.choice("!#%*@$&-") + rs(r, "0123456789", 3)
def v_generic(r): return rs(r, r.choice([B62, HEX, B64U]), r.choice([32, 40, 48]))

AWS_EX_ID, AWS_EX_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

def mk_aws_pair(r, i):
    kid, sec = (AWS_EX_ID, AWS_EX_SECRET) if i == 0 else ("AKIA" + rs(r, AKC, 16), v_aws_secret(r))
    k = r.choice(["creds", "env", "json", "docker", "boto", "form"])
    if k == "creds":
        t = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = us-east-1\n" % (kid, sec); layers = []
    elif k == "env":
        t = "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_DEFAULT_REGION=eu-central-1\n" % (kid, sec); layers = []
    elif k == "json":
        t = json.dumps({"AccessKeyId": kid, "SecretAccessKey": sec, "Expiration": None}); layers = []
    elif k == "docker":
        t = "docker run --rm -e AWS_ACCESS_KEY_ID=%s -e AWS_SECRET_ACCESS_KEY=%s amazon/aws-cli s3 ls\n" % (kid, sec); layers = []
    elif k == "boto":
        t = "import boto3\ns3 = boto3.client('s3', aws_access_key_id='%s',\n    aws_secret_access_key='%s')\n" % (kid, sec); layers = []
    else:
        t = up.urlencode({"access_key": kid, "secret_key": sec}); layers = ["plus"]
    rec = {"where": "body", "content_type": {"form": "application/x-www-form-urlencoded", "json": "application/json", "boto": "text/x-python"}.get(k, "text/plain"), "text": t}
    if r.random() < 0.25:
        rec.pop("text"); rec["content_encoding"] = "gzip"; rec["base64"] = base64.b64encode(gz(t.encode())).decode()
    return rec, sec, layers

def mk_aws_session(r, i):
    kid = "ASIA" + rs(r, AKC, 16); sec = v_aws_secret(r)
    tok = "FwoGZXIvYXdzE" + rs(r, B62, 20) + "/" + rs(r, B62 + "+/", 280) + "="
    k = r.choice(["creds", "json", "header", "env"])
    if k == "header":
        return {"where": "header", "text": "X-Amz-Security-Token: " + tok}, tok, []
    if k == "creds":
        t = "[prod]\naws_access_key_id=%s\naws_secret_access_key=%s\naws_session_token=%s\n" % (kid, sec, tok)
    elif k == "env":
        t = "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n" % (kid, sec, tok)
    else:
        t = json.dumps({"Credentials": {"AccessKeyId": kid, "SecretAccessKey": sec, "SessionToken": tok, "Expiration": "2025-11-30T12:00:00Z"}})
    return {"where": "body", "content_type": "application/json" if k == "json" else "text/plain", "text": t}, tok, []

def mk_slack_webhook(r, i):
    u = "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(r, AKC[:26] + "0123456789", 10), rs(r, AKC[:26] + "0123456789", 10), rs(r, B62, 24))
    k = r.choice(["json", "url", "env", "q"])
    if k == "url": return {"where": "url", "text": u}, u, []
    if k == "q": return {"where": "url", "text": "https://%s/notify?target=%s" % (r.choice(HOSTS), q(u))}, u, ["pct"]
    info = {"value": u, "field": "webhook_url", "env": "SLACK_WEBHOOK_URL", "bodies": ["json", "dotenv", "yaml", "shell", "chat"]}
    rec, layers = finish(r, info, "body"); return rec, u, layers

def mk_twilio(r, i):
    sid = "AC" + rs(r, HEX, 32); tok = rs(r, HEX, 32)
    k = r.choice(["env", "json", "basic", "py"])
    if k == "basic":
        return {"where": "header", "text": "Authorization: Basic " + base64.b64encode(("%s:%s" % (sid, tok)).encode()).decode()}, tok, ["b64"]
    if k == "env": t = "TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\n" % (sid, tok)
    elif k == "json": t = json.dumps({"twilio": {"accountSid": sid, "authToken": tok}})
    else: t = "from twilio.rest import Client\nclient = Client(\"%s\", \"%s\")\n" % (sid, tok)
    return {"where": "body", "content_type": "application/json" if k == "json" else "text/plain", "text": t}, tok, []

def mk_azure_conn(r, i):
    acct = r.choice(["prodstore", "mediaassets", "logsarchive", "backupsweu"]) + str(r.randrange(10, 99))
    key = base64.b64encode(rbytes(r, 64)).decode()
    cs = "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, key)
    info = {"value": cs, "field": "connection_string", "env": "AZURE_STORAGE_CONNECTION_STRING",
            "bodies": ["json", "dotenv", "yaml", "k8s", "xml", "properties", "llm", "b64gz-json", "ini"]}
    rec, layers = finish(r, info, r.choice(["body", "body", "body", "header"]))
    if rec["where"] == "header": rec["text"] = "X-Storage-Connection: " + cs
    return rec, key, layers

def mk_azure_sas(r, i):
    acct = r.choice(["contosodata", "fabrikamlogs", "tailwindbak"]) + str(r.randrange(10, 99))
    sig = base64.b64encode(rbytes(r, 32)).decode()
    qs = "sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupx&se=2026-03-01T00:00:00Z&st=2025-11-01T00:00:00Z&spr=https&sig=" + q(sig)
    u = "https://%s.blob.core.windows.net/%s/%s?%s" % (acct, r.choice(["exports", "backups", "uploads"]), r.choice(["dump.sql.gz", "report.xlsx", "data.parquet"]), qs)
    if r.random() < 0.6: return {"where": "url", "text": u}, sig, ["pct"]
    return {"where": "body", "content_type": "application/json", "text": json.dumps({"upload_url": u})}, sig, ["pct"]

def mk_basic(r, i):
    user = r.choice(USERS); pw = v_password(r)
    cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    k = r.choice(["auth", "auth", "proxy", "har", "curl"])
    if k == "auth": return {"where": "header", "text": "Authorization: Basic " + cred}, pw, ["b64"]
    if k == "proxy": return {"where": "header", "text": "Proxy-Authorization: Basic " + cred}, pw, ["b64"]
    if k == "har":
        t = json.dumps({"log": {"entries": [{"request": {"url": "https://%s/admin" % r.choice(HOSTS), "headers": [{"name": "authorization", "value": "Basic " + cred}]}}]}})
        return {"where": "body", "content_type": "application/json", "text": t}, pw, ["json", "b64"]
    t = "$ curl -H 'Authorization: Basic %s' https://%s/api/status\n" % (cred, r.choice(HOSTS))
    return {"where": "body", "content_type": "text/plain", "text": t}, pw, ["b64"]

def mk_dburl(r, i):
    scheme, port = r.choice([("postgres", 5432), ("postgresql", 5432), ("mysql", 3306), ("mongodb+srv", None), ("redis", 6379), ("amqp", 5672)])
    pw = v_password(r); user = r.choice(["app", "admin", "readonly", "svc_orders"])
    host = r.choice(["db.prod.internal", "orders-db.cluster-c9x2k1.eu-west-1.rds.amazonaws.com", "cache01.corp.lan", "cluster0.ab1cd.mongodb.net"])
    u = "%s://%s:%s@%s%s/%s" % (scheme, user, q(pw), host, (":%d" % port) if port else "", r.choice(["prod", "orders", "0", "app"]))
    info = {"value": u, "field": "database_url", "env": "DATABASE_URL", "bodies": ["json", "dotenv", "yaml", "docker", "shell", "python", "chat", "mcp", "k8s", "toml"]}
    rec, layers = finish(r, info, r.choice(["body", "body", "body", "url"]))
    return rec, pw, layers + ["pct"]

def mk_userinfo(r, i):
    user = r.choice(USERS); pw = v_password(r)
    k = r.choice(["url", "url", "git", "netrc"])
    if k == "url":
        return {"where": "url", "text": "https://%s:%s@%s%s" % (user, q(pw), r.choice(["git.internal-tools.dev", "registry.acme-corp.io", "nexus.example-svc.net"]), r.choice(["/repo.git", "/artifactory/api/pypi/simple", "/"]))}, pw, ["pct"]
    if k == "git":
        return {"where": "body", "content_type": "text/plain", "text": "https://%s:%s@github.com\nhttps://%s:%s@gitlab.example.com\n" % (user, q(pw), user, q(v_password(r)))}, pw, ["pct"]
    return {"where": "body", "content_type": "text/plain", "text": "machine ftp.example-svc.net\n  login %s\n  password %s\n" % (user, pw)}, pw, []

def mk_card(r, i):
    fixed = ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117"]
    if i < 3: n = fixed[i]
    else:
        pre, ln = r.choice([("4", 16), ("51", 16), ("53", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("35", 16), ("4", 19)])
        n = luhn_complete(pre, ln, r)
    sep = r.choice(["", " ", "-"])
    if len(n) == 15: s = sep.join([n[:4], n[4:10], n[10:]])
    else: s = sep.join(n[j:j + 4] for j in range(0, len(n), 4))
    k = r.choice(["json", "csv", "form", "text", "url"])
    if k == "json":
        return {"where": "body", "content_type": "application/json", "text": json.dumps({"payment": {"card_number": s, "exp_month": r.randrange(1, 13), "exp_year": 2028, "cvc": str(r.randrange(100, 999))}})}, s, []
    if k == "csv":
        return {"where": "body", "content_type": "text/csv", "text": "name,card,expiry\n%s,%s,0%d/29\n" % (r.choice(["J. Doe", "A. Silva", "K. Tanaka"]), s, r.randrange(1, 9))}, s, []
    if k == "form":
        return {"where": "body", "content_type": "application/x-www-form-urlencoded", "text": "card%5Bnumber%5D=" + up.quote_plus(s) + "&card%5Bcvc%5D=" + str(r.randrange(100, 999))}, s, ["plus"]
    if k == "url":
        return {"where": "url", "text": "https://%s/checkout?cc=%s&exp=1229" % (r.choice(HOSTS), q(s))}, s, ["pct"]
    return {"where": "body", "content_type": "text/plain", "text": r.choice(["Please charge my card %s, expiry 11/27.", "Kartennummer: %s, gültig bis 08/28", "Mi tarjeta es %s (vence 03/29)"]) % s}, s, []

def mk_iban(r, i):
    fixed = ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", "NL91ABNA0417164300"]
    if i < 2: ib = fixed[i]
    else:
        cc, fmt = r.choice([("DE", "n18"), ("GB", "a4n14"), ("NL", "a4n10"), ("ES", "n20"), ("BE", "n12"), ("AT", "n16"), ("CH", "n17"), ("FR", "n23")])
        if fmt.startswith("a4"): bban = rs(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) + rs(r, "0123456789", int(fmt[3:]))
        else: bban = rs(r, "0123456789", int(fmt[1:]))
        ib = iban_make(cc, bban)
    s = " ".join(ib[j:j + 4] for j in range(0, len(ib), 4)) if r.random() < 0.5 else ib
    k = r.choice(["json", "text", "form", "xml"])
    if k == "json": return {"where": "body", "content_type": "application/json", "text": json.dumps({"beneficiary": "ACME GmbH", "iban": s, "amount": "1250.00"})}, s, []
    if k == "form": return {"where": "body", "content_type": "application/x-www-form-urlencoded", "text": "name=Jan+Jansen&iban=" + up.quote_plus(s)}, s, ["plus"]
    if k == "xml": return {"where": "body", "content_type": "application/xml", "text": "<CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>" % s}, s, []
    return {"where": "body", "content_type": "text/plain", "text": r.choice(["Bitte überweisen Sie an %s.", "Wire it to IBAN %s please", "Mon IBAN : %s"]) % s}, s, []

def mk_btc(r, i):
    if i == 0: a = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    else:
        t = r.choice(["p2pkh", "p2sh", "wpkh", "tr"])
        if t == "p2pkh": a = b58check(0, rbytes(r, 20))
        elif t == "p2sh": a = b58check(5, rbytes(r, 20))
        elif t == "wpkh": a = segwit_addr("bc", 0, rbytes(r, 20))
        else: a = segwit_addr("bc", 1, rbytes(r, 32))
    k = r.choice(["json", "text", "url"])
    if k == "url": return {"where": "url", "text": "https://%s/pay?address=%s&amount=0.05" % (r.choice(HOSTS), a)}, a, []
    if k == "json": return {"where": "body", "content_type": "application/json", "text": json.dumps({"withdraw": {"asset": "BTC", "address": a}})}, a, []
    return {"where": "body", "content_type": "text/plain", "text": "send the BTC to %s asap" % a}, a, []

def mk_eth(r, i):
    vec = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"]
    if i < 2: a = vec[i]
    else:
        h = rbytes(r, 20).hex(); a = eip55(h) if r.random() < 0.6 else "0x" + h
    k = r.choice(["json", "text", "url", "rpc"])
    if k == "url": return {"where": "url", "text": "https://%s/wallet/%s/balance" % (r.choice(HOSTS), a)}, a, []
    if k == "rpc": return {"where": "body", "content_type": "application/json", "text": json.dumps({"jsonrpc": "2.0", "method": "eth_getBalance", "params": [a, "latest"], "id": 1, "note": "treasury wallet"})}, a, []
    if k == "json": return {"where": "body", "content_type": "application/json", "text": json.dumps({"payout_wallet": a, "chain": "ethereum"})}, a, []
    return {"where": "body", "content_type": "text/plain", "text": "Meine ETH-Adresse: %s" % a}, a, []

EXFIL_DATA = [b"root:x:0:0:root:/root:/bin/bash", b"uid=1000(ubuntu) gid=1000(ubuntu) groups=1000(ubuntu),27(sudo)",
              b"ip-10-0-3-17|runner|/home/runner/work", b"DB_HOST=10.2.0.5 DB_USER=orders", b"id_rsa.pub ssh-ed25519 host=build-7",
              b"hostname=prod-web-03;user=www-data;kernel=6.8.0", b"/home/dev/.config/gh/hosts.yml oauth", b"cat ~/.bash_history | head"]
EXFIL_DOM = ["oast.fun", "oast.pro", "oastify.com", "interact.sh", "exfil-sink.net", "c2-relay.xyz", "dnslog-cn.top", "burp-collab.net"]

def mk_dns(r, i):
    data = r.choice(EXFIL_DATA) + b" #" + str(r.randrange(1000)).encode()
    dom = rs(r, "abcdefghijklmnopqrstuvwxyz0123456789", r.choice([6, 10, 20])) + "." + r.choice(EXFIL_DOM)
    mode = r.choice(["hex", "b32", "b64u", "seq", "mix"])
    def hexl(b): return b.hex()
    def b32l(b): return base64.b32encode(b).decode().rstrip("=").lower()
    def b64l(b): return base64.urlsafe_b64encode(b).decode().rstrip("=").replace("_", "-")
    if mode == "seq":
        chunks = [data[j:j + 20] for j in range(0, len(data), 20)][:3]
        labels = ["%d-%s" % (n, hexl(c)) for n, c in enumerate(chunks)]; sec = hexl(chunks[0])
    elif mode == "mix":
        a, b = data[:18], data[18:36]
        labels = [hexl(a), b32l(b)] if b else [hexl(a)]; sec = hexl(a)
    else:
        f = {"hex": hexl, "b32": b32l, "b64u": b64l}[mode]; step = {"hex": 30, "b32": 35, "b64u": 40}[mode]
        labels = [f(data[j:j + step]) for j in range(0, len(data), step)][:3]
        if any(l.startswith("-") or l.endswith("-") for l in labels):
            labels = [hexl(data[j:j + 30]) for j in range(0, len(data), 30)][:3]; mode = "hex"
        sec = labels[0]
    host = ".".join(labels) + "." + dom
    if mode != "b64u": host, sec = host.lower(), sec.lower()
    return {"where": "hostname", "text": host}, sec, []

DIGEST_LENS = {16, 20, 28, 32, 48, 64}
def mk_entropy(r, i):
    n = r.choice([n for n in range(20, 61) if n not in DIGEST_LENS])
    b = rbytes(r, n); k = r.choice(["path", "query", "sub", "hexq", "b32q"])
    if k == "sub":
        s = base64.b32encode(b[:35]).decode().rstrip("=").lower()[:56]
        return {"where": "hostname", "text": "%s.%s" % (s, r.choice(["files-cdn.xyz", "r.attacker-box.net", "sync.cloud-drop.io"]))}, s, []
    if k == "path":
        s = base64.urlsafe_b64encode(b).decode().rstrip("=")
        return {"where": "url", "text": "https://%s/u/%s" % (r.choice(HOSTS), s)}, s, []
    if k == "hexq":
        s = b.hex(); return {"where": "url", "text": "https://%s%s?blob=%s" % (r.choice(HOSTS), r.choice(PATHS), s)}, s, []
    if k == "b32q":
        s = base64.b32encode(b).decode().rstrip("="); return {"where": "url", "text": "https://%s%s?x=%s" % (r.choice(HOSTS), r.choice(PATHS), s)}, s, []
    s = base64.b64encode(b).decode()
    return {"where": "url", "text": "https://%s%s?q=%s" % (r.choice(HOSTS), r.choice(PATHS), q(s))}, s, ["pct"]

def mk_delim(r, i):
    b = rbytes(r, r.randrange(16, 49)); d = r.choice(["-", ":", " ", ",", "\\x", "0x"])
    if d == "\\x": s = "".join("\\x%02x" % c for c in b)
    elif d == "0x": s = ", ".join("0x%02x" % c for c in b)
    else: s = d.join("%02x" % c for c in b)
    if r.random() < 0.3 and d not in ("\\x",): s = s.upper().replace("0X", "0x")
    k = r.choice(["body", "body", "url", "header"])
    if k == "url": return {"where": "url", "text": "https://%s%s?k=%s" % (r.choice(HOSTS), r.choice(PATHS), q(s))}, s, ["pct"]
    if k == "header":
        if d == "\\x": s = s.replace("\\x", ":")
        return {"where": "header", "text": "X-Session-Blob: " + s}, s, []
    return {"where": "body", "content_type": "text/plain", "text": r.choice(["key bytes: %s\n", "unsigned char k[] = { %s };\n", "dump=%s\n"]) % s}, s, []

BH = "Authorization: Bearer {v}"
POS = [
    ("github-pat", 8, simple(v_ghp, "github_token", "GITHUB_TOKEN", headers=["Authorization: token {v}", BH, "X-GitHub-Token: {v}"])),
    ("github-fine-grained-pat", 6, simple(v_ghfg, "gh_token", "GH_TOKEN", headers=[BH])),
    ("github-oauth-token", 6, simple(v_gho, "oauth_token", "GITHUB_OAUTH_TOKEN", headers=[BH, "Authorization: token {v}"])),
    ("gitlab-pat", 7, simple(v_glpat, "private_token", "GITLAB_TOKEN", headers=["PRIVATE-TOKEN: {v}", BH])),
    ("slack-bot-token", 7, simple(v_xoxb, "slack_token", "SLACK_BOT_TOKEN", headers=[BH])),
    ("slack-webhook-url", 6, mk_slack_webhook),
    ("stripe-secret-key", 8, simple(v_sk_stripe, "stripe_secret_key", "STRIPE_SECRET_KEY", headers=[BH, "Stripe-Key: {v}"], fixed=["sk_test_4eC39HqLyjWDarjtT1zdp7dc"])),
    ("openai-api-key", 8, simple(v_openai, "openai_api_key", "OPENAI_API_KEY", headers=[BH])),
    ("anthropic-api-key", 7, simple(v_anthropic, "anthropic_api_key", "ANTHROPIC_API_KEY", headers=["x-api-key: {v}", "X-Api-Key: {v}"])),
    ("aws-access-key-id", 7, simple(v_akid, "aws_access_key_id", "AWS_ACCESS_KEY_ID", headers=["X-Aws-Key: {v}"], fixed=[AWS_EX_ID])),
    ("aws-secret-access-key", 8, mk_aws_pair),
    ("aws-session-token", 6, mk_aws_session),
    ("google-api-key", 7, simple(v_aiza, "key", "GOOGLE_API_KEY", headers=["X-Goog-Api-Key: {v}"], urls=["query"])),
    ("google-oauth-client-secret", 6, simple(v_gocspx, "client_secret", "GOOGLE_CLIENT_SECRET", wheres=("body", "body", "url"))),
    ("sendgrid-api-key", 6, simple(v_sg, "sendgrid_api_key", "SENDGRID_API_KEY", headers=[BH])),
    ("npm-token", 7, simple(v_npm, "npm_token", "NPM_TOKEN", headers=[BH],
                             bodies=["npmrc", "npmrc", "dotenv", "yaml", "json", "shell", "docker", "chat", "b64-json"])),
    ("pypi-token", 6, simple(v_pypi, "password", "TWINE_PASSWORD", wheres=("body",), bodies=["pypirc", "pypirc", "dotenv", "shell", "json", "gzjson" if False else "json-nested", "llm"])),
    ("huggingface-token", 7, simple(v_hf, "hf_token", "HF_TOKEN", headers=[BH])),
    ("dockerhub-pat", 6, simple(v_dckr, "docker_password", "DOCKERHUB_TOKEN", wheres=("body", "body", "header"), headers=[BH], bodies=["dockercfg", "dockercfg", "dotenv", "docker", "yaml", "mcp"])),
    ("shopify-access-token", 6, simple(v_shpat, "access_token", "SHOPIFY_ACCESS_TOKEN", headers=["X-Shopify-Access-Token: {v}"])),
    ("digitalocean-token", 6, simple(v_dop, "do_token", "DIGITALOCEAN_TOKEN", headers=[BH])),
    ("twilio-auth-token", 6, mk_twilio),
    ("mailgun-api-key", 6, simple(v_mailgun, "mailgun_api_key", "MAILGUN_API_KEY", wheres=("body", "header"),
                                  headers=["Authorization: Basic {b}"])),
    ("vault-token", 6, simple(v_vault, "vault_token", "VAULT_TOKEN", headers=["X-Vault-Token: {v}"])),
    ("azure-storage-connection-string", 6, mk_azure_conn),
    ("azure-sas-token", 6, mk_azure_sas),
    ("discord-bot-token", 6, simple(v_discord, "discord_token", "DISCORD_TOKEN", headers=["Authorization: Bot {v}"])),
    ("telegram-bot-token", 6, simple(v_telegram, "bot_token", "TELEGRAM_BOT_TOKEN", wheres=("body", "body", "url"), urls=["query", "double"])),
    ("square-access-token", 6, simple(v_square, "square_access_token", "SQUARE_ACCESS_TOKEN", headers=[BH])),
    ("postman-api-key", 6, simple(v_postman, "postman_api_key", "POSTMAN_API_KEY", headers=["X-Api-Key: {v}"])),
    ("jwt", 8, simple(v_jwt, "id_token", "AUTH_JWT", headers=[BH, "Cookie: session={v}"], fixed=[JWTIO])),
    ("http-basic-auth", 7, mk_basic),
    ("bearer-token", 7, simple(v_bearer, "access_token", "API_BEARER", wheres=("header", "header", "body"), headers=[BH],
                               bodies=["har", "mcp", "shell", "json"])),
    ("database-url-password", 8, mk_dburl),
    ("url-userinfo-password", 7, mk_userinfo),
    ("generic-api-key", 8, simple(v_generic, "api_key", "SERVICE_API_KEY", headers=["X-Api-Key: {v}", "Api-Key: {v}"])),
    ("password", 8, simple(v_password, "password", "DB_PASSWORD", wheres=("body", "body", "body", "url"),
                           bodies=["json", "form", "yaml", "dotenv", "xml", "ini", "properties", "json-uescape", "html-form", "qp", "k8s", "graphql", "llm"],
                           urls=["query"])),
    ("linear-api-key", 6, simple(v_linear, "linear_api_key", "LINEAR_API_KEY", headers=["Authorization: {v}"])),
    ("doppler-token", 6, simple(v_doppler, "doppler_token", "DOPPLER_TOKEN", headers=[BH])),
    ("pulumi-access-token", 6, simple(v_pulumi, "pulumi_access_token", "PULUMI_ACCESS_TOKEN", headers=["Authorization: token {v}"])),
    ("grafana-service-account-token", 6, simple(v_glsa, "grafana_token", "GRAFANA_SA_TOKEN", headers=[BH])),
    ("newrelic-api-key", 6, simple(v_nrak, "newrelic_api_key", "NEW_RELIC_API_KEY", headers=["Api-Key: {v}"])),
    ("databricks-token", 6, simple(v_dapi, "databricks_token", "DATABRICKS_TOKEN", headers=[BH])),
    ("atlassian-api-token", 6, simple(v_atl, "jira_api_token", "JIRA_API_TOKEN", wheres=("body", "body", "header"), headers=[BH])),
    ("sentry-auth-token", 6, simple(v_sentry, "sentry_auth_token", "SENTRY_AUTH_TOKEN", headers=[BH])),
    ("planetscale-token", 6, simple(v_pscale, "planetscale_token", "PLANETSCALE_TOKEN", headers=["Authorization: svc:{v}"])),
    ("supabase-access-token", 6, simple(v_sbp, "supabase_access_token", "SUPABASE_ACCESS_TOKEN", headers=[BH])),
    ("tailscale-api-key", 6, simple(v_tskey, "tailscale_key", "TS_AUTHKEY", headers=[BH])),
    ("credit-card-number", 12, mk_card),
    ("iban", 10, mk_iban),
    ("bitcoin-address", 9, mk_btc),
    ("ethereum-address", 8, mk_eth),
    ("dns-exfiltration", 14, mk_dns),
    ("high-entropy", 12, mk_entropy),
    ("delimited-hex", 10, mk_delim),
]

# ---------------------------------------------------------------- negative categories
def uuid4(r):
    b = bytearray(rbytes(r, 16)); b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80
    h = b.hex(); return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
def B(ct, t): return {"where": "body", "content_type": ct, "text": t}
def U(t): return {"where": "url", "text": t}
def H(t): return {"where": "header", "text": t}
def N(t): return {"where": "hostname", "text": t}
APIS = ["api.github.com", "api.example.com", "www.googleapis.com", "registry.npmjs.org", "pypi.org", "api.weather.gov", "en.wikipedia.org", "api.stripe.com"]

def n_uuid(r):
    u = uuid4(r); k = r.choice(["json", "url", "hdr", "hdr2"])
    if k == "json": return B("application/json", json.dumps({"id": u, "type": "order", "items": r.randrange(1, 9)}))
    if k == "url": return U("https://%s/v1/projects/%s/tasks" % (r.choice(APIS), u))
    if k == "hdr": return H("X-Request-Id: " + u)
    return H("traceparent: 00-%s-%s-01" % (rs(r, HEX, 32), rs(r, HEX, 16)))
def n_gitsha(r):
    sha = rs(r, HEX, 40); k = r.choice(["commit", "short", "json", "compare"])
    if k == "commit": return U("https://github.com/%s/commit/%s" % (r.choice(["torvalds/linux", "python/cpython", "rust-lang/rust"]), sha))
    if k == "short": return B("text/plain", "%s Fix off-by-one in pager\n%s Bump deps\n" % (sha[:7], rs(r, HEX, 7)))
    if k == "compare": return U("https://github.com/nodejs/node/compare/%s...%s" % (sha[:12], rs(r, HEX, 12)))
    return B("application/json", json.dumps({"ref": "refs/heads/main", "after": sha, "before": rs(r, HEX, 40)}))
def n_digest(r):
    k = r.choice(["sums", "oci", "hdr", "etag", "json"])
    if k == "sums": return B("text/plain", "%s  app-1.%d.0-linux-amd64.tar.gz\n%s  app-1.%d.0-darwin-arm64.tar.gz\n" % (rs(r, HEX, 64), r.randrange(9), rs(r, HEX, 64), r.randrange(9)))
    if k == "oci": return U("https://registry-1.docker.io/v2/library/%s/manifests/sha256:%s" % (r.choice(["nginx", "redis", "python"]), rs(r, HEX, 64)))
    if k == "hdr": return H("Docker-Content-Digest: sha256:" + rs(r, HEX, 64))
    if k == "etag": return H('If-None-Match: "%s"' % rs(r, HEX, 32))
    return B("application/json", json.dumps({"file": "model.safetensors", "sha256": rs(r, HEX, 64), "size": r.randrange(10**6, 10**9)}))
def n_asset(r):
    k = r.choice(["js", "css", "next", "img"])
    if k == "js": return U("https://cdn.example.com/static/js/main.%s.js" % rs(r, HEX, 8))
    if k == "css": return U("https://assets.shop-site.com/build/app.%s.css" % rs(r, HEX, 20))
    if k == "next": return U("https://www.example.org/_next/static/chunks/pages/index-%s.js" % rs(r, HEX, 16))
    return U("https://images.example.net/p/%s/hero.webp?w=1200" % rs(r, HEX, 12))
def n_docid(r):
    k = r.choice(["doc", "sheet", "drive", "notion"])
    if k == "doc": return U("https://docs.google.com/document/d/1%s/edit" % rs(r, B64U, 43))
    if k == "sheet": return U("https://docs.google.com/spreadsheets/d/1%s/edit#gid=0" % rs(r, B64U, 43))
    if k == "drive": return U("https://drive.google.com/file/d/1%s/view?usp=sharing" % rs(r, B64U, 32))
    return U("https://www.notion.so/Team-Roadmap-%s" % rs(r, HEX, 32))
def tiny_png(r):
    w = h = r.randrange(1, 4); raw = b"".join(b"\0" + rbytes(r, 3 * w) for _ in range(h))
    def ch(t, d): return len(d).to_bytes(4, "big") + t + d + zlib.crc32(t + d).to_bytes(4, "big")
    return b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big") + b"\x08\x02\0\0\0") + ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b"")
def n_b64img(r):
    k = r.choice(["png", "json", "pdf", "html"])
    png = base64.b64encode(tiny_png(r)).decode()
    if k == "png": return B("application/json", json.dumps({"avatar": "data:image/png;base64," + png}))
    if k == "html": return B("text/html", '<img alt="logo" src="data:image/png;base64,%s">' % png)
    if k == "pdf":
        pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + rbytes(r, 40) + b"\n%%EOF\n"
        return B("application/json", json.dumps({"filename": "invoice.pdf", "mime": "application/pdf", "content": base64.b64encode(pdf).decode()}))
    return B("application/json", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}}]}]}))
def n_cursor(r):
    c = base64.urlsafe_b64encode(json.dumps({"id": r.randrange(10**5, 10**8), "sort": "created_at"}).encode()).decode().rstrip("=")
    k = r.choice(["url", "json", "after"])
    if k == "url": return U("https://%s/v1/items?limit=50&cursor=%s" % (r.choice(APIS), c))
    if k == "after": return U("https://api.example.com/graphql?after=%s&first=20" % base64.b64encode(("cursor:v2:%d" % r.randrange(10**6)).encode()).decode().rstrip("="))
    return B("application/json", json.dumps({"data": [], "has_more": True, "next_cursor": c}))
def n_pubid(r):
    k = r.choice(["ch", "cus", "chatcmpl", "sm", "node", "yt", "pi"])
    if k == "ch": return B("application/json", json.dumps({"charge": "ch_3" + rs(r, B62, 23), "status": "succeeded", "amount": 2000}))
    if k == "cus": return U("https://dashboard.stripe.com/customers/cus_" + rs(r, B62, 14))
    if k == "pi": return B("application/json", json.dumps({"payment_intent": "pi_3" + rs(r, B62, 23), "currency": "eur"}))
    if k == "chatcmpl": return B("application/json", json.dumps({"id": "chatcmpl-" + rs(r, B62, 29), "object": "chat.completion", "model": "gpt-4o-mini"}))
    if k == "sm": return B("application/json", json.dumps({"sid": "SM" + rs(r, HEX, 32), "status": "queued", "to": "+15005550006"}))
    if k == "node": return B("application/json", json.dumps({"query": "query($id: ID!) { node(id: $id) { ... on Issue { title } } }", "variables": {"id": "I_kwDO" + rs(r, B64U, 14)}}))
    return U("https://www.youtube.com/watch?v=%s&t=%ds" % (rs(r, B64U, 11), r.randrange(10, 900)))
def n_sri(r):
    k = r.choice(["html", "lock", "yarn"])
    if k == "html": return B("text/html", '<script src="https://cdn.jsdelivr.net/npm/lib@3.%d.0/dist/lib.min.js" integrity="sha384-%s" crossorigin="anonymous"></script>' % (r.randrange(9), base64.b64encode(rbytes(r, 48)).decode()))
    if k == "lock": return B("application/json", json.dumps({"node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": "sha512-" + base64.b64encode(rbytes(r, 64)).decode()}}, indent=2))
    return B("text/plain", '"lodash@^4.17.21":\n  version "4.17.21"\n  integrity sha512-%s\n' % base64.b64encode(rbytes(r, 64)).decode())
def n_sshpub(r):
    blob = b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + rbytes(r, 32)
    pk = "ssh-ed25519 " + base64.b64encode(blob).decode() + " " + r.choice(["alice@laptop", "deploy@ci", "bob@workstation"])
    k = r.choice(["body", "json", "fp", "known"])
    if k == "body": return B("text/plain", pk + "\n")
    if k == "json": return B("application/json", json.dumps({"title": "work laptop", "key": pk}))
    if k == "fp": return B("text/plain", "256 SHA256:%s %s (ED25519)\n" % (base64.b64encode(rbytes(r, 32)).decode().rstrip("="), r.choice(["alice@laptop", "ci"])))
    return B("text/plain", "github.com %s\n" % pk.rsplit(" ", 1)[0])
def n_masked(r):
    k = r.choice(["gh", "sk", "card", "aws", "bullet", "json"])
    if k == "gh": return B("text/plain", "Token: ghp_" + "*" * r.choice([8, 36]) + " (last used 3 days ago)")
    if k == "sk": return B("application/json", json.dumps({"name": "prod key", "redacted_value": "sk-…" + rs(r, B62, 4), "created": "2025-10-01"}, ensure_ascii=False))
    if k == "card": return B("application/json", json.dumps({"card": "•••• •••• •••• %04d" % r.randrange(10000), "brand": "visa"}, ensure_ascii=False))
    if k == "aws": return B("text/plain", "aws_access_key_id = ****************%s\naws_secret_access_key = ****************************************\n" % rs(r, AKC, 4))
    if k == "bullet": return H("X-Api-Key: ****************")
    return B("application/json", json.dumps({"password": "********", "api_key": "[REDACTED]", "token": "<redacted>"}))
PH_NAMES = ["OPENAI_API_KEY", "GITHUB_TOKEN", "NPM_TOKEN", "STRIPE_SECRET_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN", "HF_TOKEN", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "SENDGRID_API_KEY"]
def n_placeholder(r):
    a, b = r.sample(PH_NAMES, 2); svc = r.choice(["api", "worker", "web", "cron", "billing"]); port = r.choice([3000, 8000, 8080, 9090])
    k = r.choice(["env", "gha", "yaml", "hdr", "json", "url"])
    if k == "env": return B("text/plain", "SERVICE=%s\nPORT=%d\n%s=<YOUR_%s>\n%s=${%s}\n" % (svc, port, a, a, b, b))
    if k == "gha": return B("application/yaml", "jobs:\n  %s:\n    env:\n      %s: ${{ secrets.%s }}\n      %s: ${{ secrets.%s }}\n" % (svc, a, a, b, b))
    if k == "yaml": return B("application/yaml", "%s:\n  port: %d\n  api_key: {{ .Values.%s }}\n  password: \"{{ vault_%s }}\"\n" % (svc, port, camel(a.lower()), b.lower()))
    if k == "hdr": return H(r.choice(["Authorization: Bearer <%s>" % a.lower(), "Authorization: Bearer ${%s}" % a, "X-Api-Key: <YOUR_%s>" % a, "X-Api-Key: {{%s}}" % camel(a.lower())]))
    if k == "url": return U("https://%s.example.com/v1/data?api_key=%%3CYOUR_%s%%3E&port=%d" % (svc, a, port))
    return B("application/json", json.dumps({"service": svc, a.lower(): "<your %s here>" % a.lower().replace("_", " "), b.lower(): "${%s}" % b}))
def n_prose(r):
    t = r.choice(["GitHub personal access tokens start with ghp_ and should be stored in a secret manager, never in code.",
                  "Rotate your AWS access keys every 90 days and prefer IAM roles over long-lived credentials.",
                  "Wenn ein API-Schlüssel geleakt wurde, sofort widerrufen und einen neuen erzeugen.",
                  "Les mots de passe doivent être hachés avec Argon2id, jamais stockés en clair.",
                  "To authenticate, send your token in the Authorization header using the Bearer scheme.",
                  "Stripe secret keys begin with sk_live_ in production and sk_test_ in test mode; keep them server-side.",
                  "シークレットはリポジトリにコミットしないでください。環境変数を使いましょう。"])
    if r.random() < 0.5: return B("application/json", json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarize: " + t}]}, ensure_ascii=False))
    return B("text/plain; charset=utf-8", t + " (note %d)" % r.randrange(1000))
def n_coderef(r):
    t = r.choice(["import os\nclient = OpenAI(api_key=os.environ[\"OPENAI_API_KEY\"])\n",
                  "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);\n",
                  "token := os.Getenv(\"GITHUB_TOKEN\")\nif token == \"\" { log.Fatal(\"missing token\") }\n",
                  "password = keyring.get_password(\"app\", username)\n",
                  "secret = boto3.client('secretsmanager').get_secret_value(SecretId='prod/db')['SecretString']\n",
                  "let key = std::env::var(\"ANTHROPIC_API_KEY\").expect(\"set ANTHROPIC_API_KEY\");\n"])
    return B("text/plain", "# snippet %d\n%s" % (r.randrange(1000), t))
def luhn_bad(r, n):
    while True:
        d = str(r.randrange(1, 10)) + "".join(str(r.randrange(10)) for _ in range(n - 1))
        if not luhn_ok(d): return d
def n_luhninv(r):
    d = luhn_bad(r, r.choice([13, 14, 16, 18, 19])); k = r.choice(["json", "url", "text"])
    if k == "json": return B("application/json", json.dumps({"tracking": d, "carrier": "dhl"}))
    if k == "url": return U("https://%s/v1/shipments/%s" % (r.choice(APIS), d))
    return B("text/plain", "ref %s" % d)
def n_phone(r):
    p = r.choice(["+1 415-555-%04d" % r.randrange(10000), "+49 30 %08d" % r.randrange(10**8), "+44 20 7946 %04d" % r.randrange(10000), "(212) 555-%04d" % r.randrange(10000), "+81 3-%04d-%04d" % (r.randrange(10000), r.randrange(10000))])
    if r.random() < 0.5: return B("application/json", json.dumps({"contact": {"name": "Front desk", "phone": p}}))
    return U("https://maps.example.com/place?tel=" + q(p))
def isbn13(r):
    b = "978" + "".join(str(r.randrange(10)) for _ in range(9))
    c = (10 - sum(int(x) * (1 if i % 2 == 0 else 3) for i, x in enumerate(b)) % 10) % 10
    return b + str(c)
def n_isbn(r):
    i = isbn13(r); s = "%s-%s-%s-%s-%s" % (i[:3], i[3], i[4:8], i[8:12], i[12]) if r.random() < 0.5 else i
    if r.random() < 0.5: return U("https://openlibrary.org/isbn/%s.json" % i)
    return B("application/json", json.dumps({"title": "Some Book", "isbn": s}))
def n_order(r):
    o = r.choice(["ORD-%d-%05d" % (2025, r.randrange(10**5)), "#%d" % r.randrange(10**6, 10**7), "INV-2025-%04d" % r.randrange(10**4), "%03d-%07d-%07d" % (r.randrange(1000), r.randrange(10**7), r.randrange(10**7))])
    if r.random() < 0.5: return B("application/json", json.dumps({"order_number": o, "status": "shipped"}))
    return U("https://shop.example.com/account/orders/" + q(o))
def n_ts(r):
    t = 1700000000 + r.randrange(10**8)
    k = r.choice(["s", "ms", "iso", "hdr"])
    if k == "s": return B("application/json", json.dumps({"created": t, "updated": t + r.randrange(1000)}))
    if k == "ms": return U("https://%s/v1/events?since=%d" % (r.choice(APIS), t * 1000 + r.randrange(1000)))
    if k == "hdr": return H("If-Modified-Since: Wed, %02d Oct 2025 %02d:%02d:07 GMT" % (r.randrange(1, 29), r.randrange(24), r.randrange(60)))
    return B("application/json", json.dumps({"at": "2025-%02d-%02dT%02d:%02d:%02d.%03dZ" % (r.randrange(1, 13), r.randrange(1, 29), r.randrange(24), r.randrange(60), r.randrange(60), r.randrange(1000))}))
def n_semver(r):
    v = "%d.%d.%d" % (r.randrange(10), r.randrange(30), r.randrange(50))
    k = r.choice(["json", "url", "hdr"])
    if k == "json": return B("application/json", json.dumps({"dependencies": {"react": "^" + v, "left-pad": "~1.3.0"}}))
    if k == "url": return U("https://registry.npmjs.org/express/" + v)
    return H("User-Agent: my-cli/%s (linux; x64) node/v22.%d.0" % (v, r.randrange(20)))
def n_macip(r):
    mac = ":".join("%02x" % x for x in rbytes(r, 6))
    k = r.choice(["json", "log", "hdr"])
    if k == "json": return B("application/json", json.dumps({"device": {"mac": mac, "ipv4": "10.%d.%d.%d" % (r.randrange(256), r.randrange(256), r.randrange(1, 255)), "ipv6": "2001:db8::%x" % r.randrange(65536)}}))
    if k == "hdr": return H("X-Forwarded-For: 203.0.113.%d, 198.51.100.%d" % (r.randrange(1, 255), r.randrange(1, 255)))
    return B("text/plain", "dhcpd: DHCPACK on 192.168.1.%d to %s via eth0\n" % (r.randrange(2, 254), mac))
def n_cloudhost(r):
    return N(r.choice([
        "my-alb-%d.%s.elb.amazonaws.com" % (r.randrange(10**9, 10**10), r.choice(["us-east-1", "eu-west-1"])),
        "d%s.cloudfront.net" % rs(r, "abcdefghijklmnopqrstuvwxyz0123456789", 13),
        "orders-db.cluster-%s.eu-central-1.rds.amazonaws.com" % rs(r, "abcdefghijklmnopqrstuvwxyz0123456789", 12),
        "%s-prod.postgres.database.azure.com" % r.choice(["billing", "crm", "events"]),
        "storage%d.blob.core.windows.net" % r.randrange(100, 999),
        "ec2-203-0-113-%d.compute-1.amazonaws.com" % r.randrange(1, 255),
        "xn--mnchen-3ya.de", "xn--bcher-kva.example", "xn--80ak6aa92e.com",
        "%s.%s.cache.amazonaws.com" % (r.choice(["sessions", "rate-limit"]), rs(r, "abcdefghijklmnopqrstuvwxyz0123456789", 6)),
        "%s.us-central1.run.app" % (r.choice(["api", "worker", "frontend"]) + "-" + rs(r, "abcdefghijklmnopqrstuvwxyz", 10) + "-uc"),
        "fastly-edge-%d.global.ssl.fastly.net" % r.randrange(100)]))
def n_preview(r):
    return N(r.choice([
        "deploy-preview-%d--%s.netlify.app" % (r.randrange(1, 3000), r.choice(["docs-site", "marketing-web", "shop-ui"])),
        "%s-git-%s-%s.vercel.app" % (r.choice(["web", "dashboard", "blog"]), r.choice(["feature-login", "fix-nav", "main"]), r.choice(["acme", "team-rocket"])),
        "%s-%s.vercel.app" % (r.choice(["web", "app"]), rs(r, "abcdefghijklmnopqrstuvwxyz0123456789", 9)),
        "pr-%d.%s.preview.example.dev" % (r.randrange(1, 999), r.choice(["storefront", "admin"])),
        "%s.pages.dev" % (rs(r, HEX, 8) + "." + r.choice(["my-site", "docs"]))]))
def n_analytics(r):
    k = r.choice(["ga4", "ua", "gtm", "cookie", "collect"])
    if k == "ga4": return U("https://www.googletagmanager.com/gtag/js?id=G-%s" % rs(r, AKC[:26] + "0123456789", 10))
    if k == "ua": return B("application/json", json.dumps({"trackingId": "UA-%d-%d" % (r.randrange(10**6, 10**8), r.randrange(1, 9))}))
    if k == "gtm": return U("https://www.googletagmanager.com/gtm.js?id=GTM-%s" % rs(r, AKC[:26] + "0123456789", 7))
    if k == "cookie": return H("Cookie: _ga=GA1.2.%d.%d; _gid=GA1.2.%d.%d" % (r.randrange(10**8, 10**9), 1700000000 + r.randrange(10**7), r.randrange(10**8, 10**9), 1700000000 + r.randrange(10**7)))
    return U("https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&en=page_view" % (rs(r, AKC[:26] + "0123456789", 10), r.randrange(10**8, 10**9), 1700000000 + r.randrange(10**7)))
def n_apiurl(r):
    return U(r.choice([
        "https://api.github.com/repos/%s/issues?state=open&per_page=%d" % (r.choice(["python/cpython", "golang/go"]), r.choice([30, 50, 100])),
        "https://pypi.org/pypi/%s/json" % r.choice(["requests", "numpy", "httpx", "pydantic"]),
        "https://registry.npmjs.org/%s" % r.choice(["react", "lodash", "@types%2Fnode"]),
        "https://en.wikipedia.org/w/api.php?action=query&format=json&titles=%s" % r.choice(["Berlin", "Kyoto", "Lisbon"]),
        "https://api.weather.gov/points/%d.%04d,-%d.%04d" % (r.randrange(30, 45), r.randrange(10000), r.randrange(70, 120), r.randrange(10000)),
        "https://www.googleapis.com/books/v1/volumes?q=%s&maxResults=%d" % (r.choice(["python", "rust", "sql"]), r.randrange(5, 40)),
        "https://api.open-meteo.com/v1/forecast?latitude=52.52&longitude=13.41&hourly=temperature_2m&past_days=%d" % r.randrange(1, 8)]))
def n_header(r):
    return H(r.choice([
        "Accept: application/json, text/plain, */*", "Accept-Language: de-DE,de;q=0.9,en;q=0.%d" % r.randrange(1, 9),
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:1%d.0) Gecko/20100101 Firefox/1%d.0" % (r.randrange(20, 40), r.randrange(20, 40)),
        "Content-Type: application/json; charset=utf-8", "Cache-Control: no-cache", "Accept-Encoding: gzip, deflate, br",
        "X-GitHub-Api-Version: 2022-11-28", "anthropic-version: 2023-06-01", "Content-Length: %d" % r.randrange(10, 99999),
        "Sec-Fetch-Mode: cors", "Referer: https://www.example.com/docs/page-%d" % r.randrange(100), "Connection: keep-alive"]))
def n_compressed(r):
    d = json.dumps({"events": [{"type": r.choice(["click", "view", "scroll"]), "ts": 1764000000 + r.randrange(10**5), "page": "/pricing"} for _ in range(r.randrange(2, 6))]}).encode()
    if r.random() < 0.5:
        return {"where": "body", "content_type": "application/json", "content_encoding": "gzip", "base64": base64.b64encode(gz(d)).decode()}
    return {"where": "body", "content_type": "application/json", "content_encoding": "deflate", "base64": base64.b64encode(zlib.compress(d)).decode()}
def n_multiling(r):
    t = r.choice(["Wie spät ist es in Tokio?", "¿Dónde está la estación de tren más cercana?", "Je voudrais réserver une table pour deux personnes.",
                  "明日の天気はどうですか?", "Как приготовить борщ?", "这个函数为什么返回空值?", "Qual é a capital da Austrália?", "Bugün hava nasıl olacak?", "مرحبا، كيف حالك؟"])
    return B("application/json", json.dumps({"message": t, "lang_hint": "auto", "n": r.randrange(100)}, ensure_ascii=r.random() < 0.5))
def n_ibanlike(r):
    k = r.choice(["badcc", "short", "long"])
    if k == "badcc": s = r.choice(["QZ", "XY", "JJ"]) + "%02d" % r.randrange(100) + rs(r, "0123456789", 18)
    elif k == "short": s = "DE%02d" % r.randrange(100) + rs(r, "0123456789", 9)
    else: s = "GB%02d" % r.randrange(100) + "WEST" + rs(r, "0123456789", 30)
    return B("application/json", json.dumps({"reference": s, "note": "internal ledger ref"}))
def n_btclike(r):
    k = r.choice(["chars", "len", "bc"])
    if k == "chars": s = "1" + rs(r, B58, 15) + "0OIl" + rs(r, B58, 12)
    elif k == "len": s = "3" + rs(r, B58, 50)
    else: s = "bc1q" + rs(r, "bio" + BECH, 38)
    if "bc1" in s and all(c in BECH for c in s[4:]): s = s[:10] + "b" + s[11:]
    return B("application/json", json.dumps({"build_id": s, "ok": True}))
def n_ethtx(r):
    h = "0x" + rs(r, HEX, 64)
    if r.random() < 0.5: return U("https://etherscan.io/tx/" + h)
    return B("application/json", json.dumps({"jsonrpc": "2.0", "method": "eth_getTransactionReceipt", "params": [h], "id": r.randrange(1, 99)}))
def n_llm(r):
    q_ = r.choice(["Write a haiku about autumn.", "Explain the difference between TCP and UDP.", "Refactor this function to use list comprehensions.", "Translate 'good morning' into Italian."])
    k = r.choice(["openai", "anthropic", "gemini"])
    if k == "openai": d = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": q_}], "stream": True}
    elif k == "anthropic": d = {"model": "claude-sonnet-4-5", "max_tokens": r.choice([512, 1024, 4096]), "messages": [{"role": "user", "content": q_}]}
    else: d = {"contents": [{"role": "user", "parts": [{"text": q_}]}], "generationConfig": {"temperature": r.randrange(10) / 10}}
    return B("application/json", json.dumps(d))
def n_mcp(r):
    k = r.choice(["list", "call", "init"])
    if k == "list": d = {"jsonrpc": "2.0", "id": r.randrange(1, 99), "method": "tools/list", "params": {}}
    elif k == "init": d = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "agent", "version": "1.%d.0" % r.randrange(9)}}}
    else: d = {"jsonrpc": "2.0", "id": r.randrange(1, 99), "method": "tools/call", "params": {"name": r.choice(["read_file", "search_docs", "get_weather"]),
              "arguments": {"path": r.choice(["src/main.py", "README.md", "docs/intro.md"]), "query": r.choice(["retry logic", "pagination", "rain in Oslo"])}}}
    return B("application/json", json.dumps(d))
def n_oauth_public(r):
    st = base64.urlsafe_b64encode(rbytes(r, 24)).decode().rstrip("=")
    ch = base64.urlsafe_b64encode(rbytes(r, 32)).decode().rstrip("=")
    return U("https://accounts.example.com/oauth/authorize?response_type=code&client_id=web-app&redirect_uri=%s&state=%s&code_challenge=%s&code_challenge_method=S256" % (q("https://app.example.com/cb"), st, ch))
def n_publishable(r):
    return B("text/html", '<script>const stripe = Stripe("pk_live_%s");</script>' % rs(r, B62, 99))

NEG = [("uuid", 12, n_uuid), ("git-sha", 11, n_gitsha), ("digest", 12, n_digest), ("content-hashed-asset", 10, n_asset),
       ("cloud-document-id", 10, n_docid), ("base64-media", 10, n_b64img), ("pagination-cursor", 10, n_cursor),
       ("public-object-id", 12, n_pubid), ("sri-integrity", 9, n_sri), ("ssh-public-key", 10, n_sshpub),
       ("masked-secret", 12, n_masked), ("placeholder", 12, n_placeholder), ("prose-about-secrets", 10, n_prose),
       ("code-secret-reference", 10, n_coderef), ("luhn-invalid-number", 10, n_luhninv), ("phone-number", 9, n_phone),
       ("isbn", 8, n_isbn), ("order-number", 9, n_order), ("timestamp", 10, n_ts), ("semver", 9, n_semver),
       ("mac-ip-address", 9, n_macip), ("cloud-hostname", 14, n_cloudhost), ("deploy-preview-hostname", 10, n_preview),
       ("analytics-id", 10, n_analytics), ("ordinary-api-url", 12, n_apiurl), ("ordinary-header", 12, n_header),
       ("compressed-benign-body", 8, n_compressed), ("multilingual-text", 10, n_multiling), ("iban-lookalike", 8, n_ibanlike),
       ("bitcoin-lookalike", 8, n_btclike), ("ethereum-tx-hash", 8, n_ethtx), ("benign-llm-request", 10, n_llm),
       ("benign-mcp-request", 10, n_mcp), ("oauth-public-parameter", 6, n_oauth_public), ("publishable-key", 5, n_publishable)]

# ---------------------------------------------------------------- well-formedness
HDR_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+: [\x20-\x7e]+$")
def host_ok(h):
    if not h or len(h) > 253 or h.endswith("."): return False
    return all(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", l) for l in h.split("."))
def url_ok(u):
    if not all(0x21 <= ord(c) < 0x7f for c in u): return False
    if re.search(r"%(?![0-9A-Fa-f]{2})", u): return False
    p = up.urlsplit(u)
    return p.scheme in ("http", "https") and bool(p.hostname) and host_ok(p.hostname)

ALLOWED = {"id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"}
def structural(rec):
    errs = []
    if set(rec) - ALLOWED: errs.append("keys")
    if ("text" in rec) == ("base64" in rec): errs.append("text/base64")
    w = rec.get("where")
    if w not in ("body", "url", "header", "hostname"): errs.append("where")
    if w != "body" and ("content_type" in rec or "content_encoding" in rec): errs.append("ct on non-body")
    if "content_encoding" in rec and ("base64" not in rec or rec["content_encoding"] not in ("gzip", "deflate")): errs.append("enc")
    try: t = raw_text(rec)
    except Exception as e: errs.append("decode %r" % e); return errs
    if "base64" in rec and base64.b64encode(base64.b64decode(rec["base64"], validate=True)).decode() != rec["base64"]: errs.append("b64 canon")
    if w == "header" and not HDR_RE.match(t): errs.append("header")
    if w == "url" and not url_ok(t): errs.append("url")
    if w == "hostname" and not host_ok(t): errs.append("host")
    return errs

# ---------------------------------------------------------------- validators for checksummed positives
def v_dns(sec):
    for f in (lambda s: bytes.fromhex(s), lambda s: base64.b32decode(s.upper() + "=" * (-len(s) % 8)),
              lambda s: base64.urlsafe_b64decode(s.replace("-", "_") + "=" * (-len(s) % 4))):
        try:
            if _utf8(f(sec)): return True
        except Exception: pass
    return False
VALID = {
    "credit-card-number": lambda s: 13 <= len(re.sub(r"\D", "", s)) <= 19 and luhn_ok(re.sub(r"\D", "", s)),
    "iban": iban_ok, "bitcoin-address": lambda s: b58check_ok(s) or bech32_ok(s), "ethereum-address": eth_ok,
    "dns-exfiltration": v_dns,
    "delimited-hex": lambda s: len(re.sub(r"(\\x|0x|[-:, ])", "", s)) >= 32 and re.fullmatch(r"[0-9a-fA-F]+", re.sub(r"(\\x|0x|[-:, ])", "", s)) is not None,
}
EXTRACT = {
    "credit-card-number": r"(?<!\d)\d[\d -]{11,22}\d(?!\d)", "iban": r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}",
    "bitcoin-address": r"\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{11,71})\b", "ethereum-address": r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])",
}

# ---------------------------------------------------------------- negative scanner
VENDOR = [r"gh[pousr]_[A-Za-z0-9]{20,}", r"github_pat_[A-Za-z0-9_]{20,}", r"glpat-[\w-]{16,}", r"xox[abposr]-[\w-]{10,}", r"xapp-",
          r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}", r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",
          r"AIza[\w-]{30,}", r"GOCSPX-[\w-]{20,}", r"SG\.[\w-]{16,}\.[\w-]{16,}", r"npm_[A-Za-z0-9]{30,}", r"pypi-AgE", r"hf_[A-Za-z]{30,}",
          r"dckr_pat_", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", r"do[por]_v1_[a-f0-9]{32,}", r"\bkey-[0-9a-f]{32}\b", r"hv[sbr]\.[\w-]{20,}",
          r"EAAA[\w-]{40,}", r"sq0(?:atp|csp)-", r"PMAK-[0-9a-f]{10,}", r"lin_api_", r"dp\.(?:st|pt|ct|sa|scrt)\.", r"pul-[0-9a-f]{40}", r"glsa_",
          r"NRAK-", r"dapi[0-9a-f]{32}", r"ATATT3", r"sntr[ysu]_", r"pscale_(?:tkn|pw)_", r"sbp_[0-9a-f]{40}", r"tskey-", r"\d{8,10}:AA[\w-]{30,}",
          r"[MNO][A-Za-z0-9]{23,27}\.[\w-]{6}\.[\w-]{27,}", r"AccountKey=", r"[?&]sig=", r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}",
          r"hooks\.slack\.com/services/", r"-{5}BEGIN", r"\bAC[0-9a-f]{32}\b"]
VENDOR_RE = re.compile("|".join("(?:%s)" % v for v in VENDOR))
SECRET_FIELD = re.compile(r"(?i)[\w.-]*(?:secret|token|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth)[\w.-]*[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9_\-+/=~]{16,})")
def scan_negative(rec):
    t = raw_text(rec); hits = []
    hostlist = []
    if rec["where"] == "hostname": hostlist.append(t)
    for v in all_views(t):
        for m in re.finditer(r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d])", v):
            d = re.sub(r"\D", "", m.group(0))
            if 13 <= len(d) <= 19 and luhn_ok(d): hits.append("luhn:" + m.group(0))
        for m in re.finditer(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", v):
            if iban_ok(m.group(0)): hits.append("iban:" + m.group(0))
        for m in re.finditer(r"[1-9A-HJ-NP-Za-km-z]{25,35}", v):
            if b58check_ok(m.group(0)): hits.append("b58:" + m.group(0))
        for m in re.finditer(r"(?i)\b(?:bc|tb)1[02-9ac-hj-np-z]{8,87}\b", v):
            if bech32_ok(m.group(0)): hits.append("bech32:" + m.group(0))
        for m in re.finditer(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])", v): hits.append("eth:" + m.group(0))
        for m in VENDOR_RE.finditer(v): hits.append("vendor:" + m.group(0)[:30])
        for m in re.finditer(r"(?i)basic\s+([A-Za-z0-9+/=]{6,})", v):
            for b in _b64try(m.group(1)):
                s = _utf8(b)
                if s and ":" in s: hits.append("basic:" + s)
        for m in re.finditer(r"[a-z][a-z0-9+.-]*://[^/\s:@\"'<>]+:[^/\s@\"'<>]+@", v): hits.append("userinfo:" + m.group(0))
        for m in SECRET_FIELD.finditer(v):
            val = m.group(1)
            if re.search(r"\d", val) and re.search(r"[A-Za-z]", val): hits.append("field:" + m.group(0)[:40])
        for m in re.finditer(r"https?://([A-Za-z0-9.-]+)", v): hostlist.append(m.group(1))
    for h in hostlist:
        for l in h.lower().split("."):
            if re.fullmatch(r"[a-z2-7]{16,}", l) and sum(c in "234567" for c in l) >= 2: hits.append("b32label:" + l)
            if re.fullmatch(r"[0-9a-f]{16,}", l): hits.append("hexlabel:" + l)
            if len(l) >= 24 and re.fullmatch(r"[a-z0-9-]+", l) and len(set(l)) >= 18: hits.append("entropylabel:" + l)
    return hits

# ---------------------------------------------------------------- build / write / check
KEYORDER = ["id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"]
def dkey(rec): return (rec["where"], rec.get("text"), rec.get("base64"), rec.get("content_encoding"))
def ser(rec): return json.dumps({k: rec[k] for k in KEYORDER if k in rec}, ensure_ascii=False, separators=(", ", ": "))

def build():
    r = random.Random(SEED)
    pos, seen = [], set()
    for cls, n, mk in POS:
        i = 0; made = 0
        while made < n:
            rec, sec, layers = mk(r, i); i += 1
            if i > n + 60: raise RuntimeError("cannot make " + cls)
            if dkey(rec) in seen: continue
            e = structural(rec)
            if e: raise RuntimeError("%s structural %s %r" % (cls, e, rec))
            if sec not in apply_layers(raw_text(rec), layers): raise RuntimeError("%s unrecoverable %r" % (cls, rec))
            seen.add(dkey(rec)); rec = dict(rec, label="positive", expect=cls)
            pos.append((rec, sec, layers)); made += 1
    neg, regen = [], Counter()
    for cat, n, f in NEG:
        made = tries = 0
        while made < n:
            rec = f(r); tries += 1
            if tries > n * 15: raise RuntimeError("cannot make negative %s (last hits %r)" % (cat, scan_negative(rec)[:3]))
            if dkey(rec) in seen: continue
            e = structural(rec)
            if e: raise RuntimeError("%s structural %s %r" % (cat, e, rec))
            if scan_negative(rec): regen[cat] += 1; continue
            seen.add(dkey(rec)); neg.append(dict(rec, label="negative", expect=cat)); made += 1
    r.shuffle(pos); r.shuffle(neg)
    for j, (rec, _, _) in enumerate(pos): rec["id"] = "t6-pos-%04d" % (j + 1)
    for j, rec in enumerate(neg): rec["id"] = "t6-neg-%04d" % (j + 1)
    return pos, neg, regen

def check():
    errs = []
    pos, neg, _ = build()
    files = {}
    for name in ("positives.jsonl", "negatives.jsonl"):
        with open(os.path.join(HERE, name), encoding="utf-8") as fh: files[name] = fh.read().split("\n")
        if files[name][-1] != "": errs.append(name + ": missing final newline")
        files[name] = files[name][:-1]
    allkeys = set()
    for name, label, prefix, expected in (("positives.jsonl", "positive", "t6-pos-", [p[0] for p in pos]), ("negatives.jsonl", "negative", "t6-neg-", neg)):
        lines = files[name]
        if len(lines) != len(expected): errs.append("%s: %d lines, generator makes %d" % (name, len(lines), len(expected)))
        for j, line in enumerate(lines):
            try: rec = json.loads(line)
            except ValueError: errs.append("%s:%d not JSON" % (name, j + 1)); continue
            if rec.get("id") != "%s%04d" % (prefix, j + 1): errs.append("%s:%d id order" % (name, j + 1))
            if rec.get("label") != label: errs.append("%s:%d label" % (name, j + 1))
            if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rec.get("expect", "")): errs.append("%s:%d expect" % (name, j + 1))
            for e in structural(rec): errs.append("%s:%d %s" % (name, j + 1, e))
            k = dkey(rec)
            if k in allkeys: errs.append("%s:%d duplicate" % (name, j + 1))
            allkeys.add(k)
            if j < len(expected) and ser(expected[j]) != line: errs.append("%s:%d differs from generator" % (name, j + 1))
    for j, (rec, sec, layers) in enumerate(pos):
        if j >= len(files["positives.jsonl"]): break
        line = json.loads(files["positives.jsonl"][j])
        view = apply_layers(raw_text(line), layers)
        if sec not in view: errs.append("%s secret not recoverable via %s" % (line["id"], layers))
        cls = line["expect"]
        if cls in VALID:
            if not VALID[cls](sec): errs.append("%s checksum/format invalid" % line["id"])
            if cls in EXTRACT and not any(m.group(0).strip() == sec for m in re.finditer(EXTRACT[cls], view)):
                errs.append("%s not re-extracted from line" % line["id"])
    for j, line in enumerate(files["negatives.jsonl"]):
        rec = json.loads(line); h = scan_negative(rec)
        if h: errs.append("%s flagged: %s" % (rec["id"], h[:3]))
    return errs

def readme(pos, neg, regen, shas):
    pc = Counter(p[0]["expect"] for p in pos); nc = Counter(n["expect"] for n in neg)
    pw = Counter(p[0]["where"] for p in pos); nw = Counter(n["where"] for n in neg)
    L = ["# Held-out test split 6 (secret-detection engine, egress proxy)", "",
         "**Held out. Never tune rules, thresholds or allowlists on this split. Report results by class/category only, never by case.**", "",
         "## Files", "", "| file | lines | sha256 |", "|---|---|---|",
         "| positives.jsonl | %d | `%s` |" % (len(pos), shas["positives.jsonl"]), "| negatives.jsonl | %d | `%s` |" % (len(neg), shas["negatives.jsonl"]), "",
         "Regenerate with `nice python3 generate.py` (writes both files + this README, then runs the checker); `python3 generate.py --check` only checks. "
         "Generation is deterministic: a single `random.Random(%d)` supplies all randomness, gzip uses mtime=0; two runs are byte-identical." % SEED, "",
         "## Line format (JSON Lines)", "",
         "- `id`: `t6-pos-NNNN` / `t6-neg-NNNN`, assigned after shuffling within each file, from 0001.",
         "- `label`: `positive` | `negative`.",
         "- `expect`: positive -> kebab-case credential/data class; negative -> benign category.",
         "- `where`: `body` | `url` | `header` | `hostname`.",
         "- `content_type` (optional, bodies only); `content_encoding` (optional, `gzip` or `deflate` = zlib-wrapped, only together with `base64`).",
         "- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).",
         "- `header` = one ASCII `Name: value` line; `url` = absolute http(s) ASCII URL with valid percent escapes; `hostname` = bare LDH hostname.", "",
         "## Split by `where`", "", "| where | positives | negatives |", "|---|---|---|"]
    for w in ("body", "url", "header", "hostname"): L.append("| %s | %d | %d |" % (w, pw[w], nw[w]))
    L += ["", "## Positive classes (%d)" % len(pc), "", "| class | count |", "|---|---|"]
    L += ["| %s | %d |" % (c, pc[c]) for c, _, _ in POS]
    L += ["", "## Negative categories (%d)" % len(nc), "", "| category | count |", "|---|---|"]
    L += ["| %s | %d |" % (c, nc[c]) for c, _, _ in NEG]
    L += ["", "## Labelling rule (egress)", "",
          "- Anything that would leak a usable credential or sensitive financial/exfiltration payload if sent out is positive, including documented example keys and well-known test values (AWS documented example pair, Stripe docs test key, jwt.io sample, test card numbers, documented example IBANs, Bitcoin genesis address, EIP-55 vectors).",
          "- An unmistakable vendor prefix followed by enough characters of that key's alphabet is positive even with a bad checksum or low-entropy filler.",
          "- Passwords/generic keys are positive only where a field or context names them as secrets and the value looks like a real credential; ambiguous dummy words are in neither file.",
          "- Negatives: masked values and placeholders use only characters outside the key's alphabet (`*`, `•`, `…`, `<...>`, `${...}`, `{{ ... }}`) or are far too short; look-alikes are wrong in format (bad country code/length, forbidden base58 characters, wrong hex length), except the `luhn-invalid-number` category (bare digit strings, no card context).",
          "- Public-by-design values (OAuth `state` / PKCE `code_challenge`, Stripe publishable `pk_live_` keys) are negatives.", "",
          "## What the checker verifies", "",
          "- every line parses as JSON, only allowed keys, exactly one of `text`/`base64`, ids sequential after shuffle, labels correct, `expect` kebab-case;",
          "- strict base64 (canonical re-encoding) and successful gzip/deflate decompression; headers, URLs (scheme, host, percent escapes, ASCII) and hostnames (LDH labels <= 63, total <= 253) well-formed; no duplicate cases across both files;",
          "- the files equal what the generator produces (byte-for-byte per line);",
          "- every positive's secret is recovered mechanically from the line through the decoding layers recorded by the generator (percent-decoding, form decoding, HTML references, JSON string/`\\uXXXX` decoding, base64 std/url-safe, base64-of-gzip, hex, quoted-printable, body content-encoding);",
          "- checksummed positives are re-validated from the recovered view: Luhn (cards), mod-97 (IBAN), base58check / bech32 / bech32m (Bitcoin), EIP-55 Keccak-256 mixed-case checksum (Ethereum), decodable labels (DNS exfiltration), byte count (delimited hex);",
          "- every negative is scanned through all decoding views (two levels of every decoder) for accidental secrets: Luhn-valid 13-19 digit runs, mod-97-valid IBAN shapes, valid base58check/bech32, 0x+40 hex, vendor prefixes followed by key characters, decodable Basic credentials, URL userinfo passwords, long alphanumeric values under secret-named fields, base32-like / long hex / high-entropy hostname labels. Flagged negatives were regenerated during generation (regenerations this build: %d)." % sum(regen.values()), "",
          "## Independence", "",
          "Written from scratch from public knowledge of credential formats and exfiltration techniques only. No detector source, rules, tests, earlier corpora, other splits or git history were read, and no detector was run while building it. Python 3 standard library only. No PEM armour, real private keys or seed phrases are included; all random values are synthetic.", ""]
    return "\n".join(L)

def main():
    if "--check" not in sys.argv[1:]:
        pos, neg, regen = build(); shas = {}
        for name, recs in (("positives.jsonl", [p[0] for p in pos]), ("negatives.jsonl", neg)):
            data = "".join(ser(x) + "\n" for x in recs).encode("utf-8")
            with open(os.path.join(HERE, name), "wb") as fh: fh.write(data)
            shas[name] = hashlib.sha256(data).hexdigest()
        with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8") as fh: fh.write(readme(pos, neg, regen, shas))
        print("wrote %d positives, %d negatives; regenerated negatives: %s" % (len(pos), len(neg), dict(regen)))
    errs = check()
    for e in errs[:50]: print("CHECK:", e)
    print("check: %s (%d problems)" % ("OK" if not errs else "FAILED", len(errs)))
    sys.exit(1 if errs else 0)

if __name__ == "__main__":
    main()
