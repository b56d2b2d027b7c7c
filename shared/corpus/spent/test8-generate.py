#!/usr/bin/env python3
"""Held-out egress secret-detection corpus, split 8.

Deterministic generator + checker (Python 3 standard library only).
    python3 generate.py          # write positives.jsonl, negatives.jsonl, README.md, then check
    python3 generate.py --check  # only verify the files on disk
"""
import base64
import binascii
import gzip
import hashlib
import hmac
import html
import json
import math
import os
import quopri
import random
import re
import string
import sys
import urllib.parse
import zlib

SEED = 58031729
HERE = os.path.dirname(os.path.abspath(__file__))
POS_PATH = os.path.join(HERE, "positives.jsonl")
NEG_PATH = os.path.join(HERE, "negatives.jsonl")
README_PATH = os.path.join(HERE, "README.md")

R = random.Random(SEED)

DIG = string.digits
LOW = string.ascii_lowercase
UP = string.ascii_uppercase
B62 = DIG + UP + LOW
HEXL = "0123456789abcdef"
B64 = B62 + "+/"
B64U = B62 + "-_"
B32L = "abcdefghijklmnopqrstuvwxyz234567"
UPNUM = UP + DIG
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def rint(a, b):
    return R.randint(a, b)


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


# ---------------------------------------------------------------- crypto / checksums

_KRC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_KROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
         [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(a):
    for rnd in range(24):
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [a[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(a[x + 5 * y], _KROT[x][y])
        a = [b[i] ^ ((~b[(i % 5 + 1) % 5 + 5 * (i // 5)]) & b[(i % 5 + 2) % 5 + 5 * (i // 5)])
             for i in range(25)]
        a[0] ^= _KRC[rnd]
    return a


def _sponge(data, pad_byte, rate=136, outlen=32):
    msg = bytearray(data)
    msg.append(pad_byte)
    while len(msg) % rate:
        msg.append(0)
    msg[-1] |= 0x80
    st = [0] * 25
    for off in range(0, len(msg), rate):
        blk = msg[off:off + rate]
        for i in range(rate // 8):
            st[i] ^= int.from_bytes(blk[8 * i:8 * i + 8], "little")
        st = _keccak_f(st)
    out = b"".join(st[i].to_bytes(8, "little") for i in range(rate // 8))
    return out[:outlen]


def keccak256(data):
    return _sponge(data, 0x01)


def _keccak_selftest():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    rr = random.Random(7)
    for n in (0, 1, 135, 136, 137, 300):
        m = bytes(rr.getrandbits(8) for _ in range(n))
        assert _sponge(m, 0x06) == hashlib.sha3_256(m).digest()


def eip55(addr_hex):
    a = addr_hex.lower()
    h = keccak256(a.encode()).hex()
    return "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(a))


def eip55_ok(addr):
    body = addr[2:]
    if body.lower() == body or body.upper() == body:
        return re.fullmatch(r"[0-9a-fA-F]{40}", body) is not None
    return eip55(body) == body


def luhn_digit(partial):
    s = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return str((10 - s % 10) % 10)


def luhn_ok(num):
    s = 0
    for i, ch in enumerate(reversed(num)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return s % 10 == 0


def b58enc(b):
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + out


def b58dec(s):
    n = 0
    for c in s:
        if c not in B58:
            return None
        n = n * 58 + B58.index(c)
    pad = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check(payload):
    ck = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58enc(payload + ck)


def b58check_ok(s):
    d = b58dec(s)
    if d is None or len(d) != 25:
        return False
    return hashlib.sha256(hashlib.sha256(d[:-4]).digest()).digest()[:4] == d[-4:]


BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_exp(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data, frm, to, pad=True):
    acc = bits = 0
    out = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to - bits)) & maxv)
    return out


def segwit_addr(hrp, ver, prog):
    const = 1 if ver == 0 else 0x2BC830A3
    data = [ver] + _convertbits(prog, 8, 5)
    pm = _polymod(_hrp_exp(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + chk)


def bech32_kind(addr):
    a = addr.lower()
    if addr != a and addr != addr.upper():
        return None
    pos = a.rfind("1")
    if pos < 1 or pos + 7 > len(a):
        return None
    hrp, dp = a[:pos], a[pos + 1:]
    if any(c not in BECH for c in dp):
        return None
    data = [BECH.index(c) for c in dp]
    pm = _polymod(_hrp_exp(hrp) + data)
    if pm == 1:
        return "bech32"
    if pm == 0x2BC830A3:
        return "bech32m"
    return None


IBAN_FMT = {
    "DE": "n8n10", "GB": "a4n6n8", "FR": "n5n5c11n2", "ES": "n20", "IT": "a1n5n5c12",
    "NL": "a4n10", "BE": "n12", "CH": "n5c12", "AT": "n16", "PL": "n24", "SE": "n20",
    "IE": "a4n6n8", "PT": "n21", "DK": "n14", "NO": "n11", "FI": "n14", "SA": "n2c18",
    "AE": "n3n16", "BR": "n8n5n10a1c1", "LU": "n3c13", "CZ": "n20", "HU": "n24",
}
IBAN_LEN = {cc: 4 + sum(int(x) for x in re.findall(r"\d+", f)) for cc, f in IBAN_FMT.items()}
IBAN_LEN.update({"GR": 27, "RO": 24, "HR": 21, "SI": 19, "SK": 24, "LT": 20, "LV": 21, "EE": 20,
                 "BG": 22, "CY": 28, "MT": 31, "IS": 26, "TR": 26, "IL": 23, "QA": 29, "KW": 30,
                 "JO": 30, "MC": 27, "SM": 27, "LI": 21, "GI": 23, "AD": 24, "PK": 24, "UA": 29})


def _iban_num(s):
    return int("".join(str(int(c, 36)) for c in s))


def iban_make(cc):
    bban = ""
    for kind, n in re.findall(r"([anc])(\d+)", IBAN_FMT[cc]):
        alpha = {"n": DIG, "a": UP, "c": UPNUM}[kind]
        bban += rs(alpha, int(n))
    chk = 98 - _iban_num(bban + cc + "00") % 97
    return "%s%02d%s" % (cc, chk, bban)


def iban_ok(s):
    s = s.replace(" ", "").upper()
    if len(s) < 5 or IBAN_LEN.get(s[:2]) != len(s) or not s[2:4].isdigit():
        return False
    if not re.fullmatch(r"[A-Z0-9]+", s):
        return False
    return _iban_num(s[4:] + s[:4]) % 97 == 1


def entropy(s):
    if not s:
        return 0.0
    c = {}
    for ch in s:
        c[ch] = c.get(ch, 0) + 1
    n = len(s)
    return -sum(v / n * math.log2(v / n) for v in c.values())


def b62num(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")[-width:]


def b64s(b):
    return base64.b64encode(b).decode()


def b64u(b, pad=False):
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def q(s, safe=""):
    return urllib.parse.quote(s, safe=safe)


def qp(s):
    return urllib.parse.quote_plus(s)


def jwt_make(payload, key=None):
    hdr = {"alg": "HS256", "typ": "JWT"}
    if R.random() < 0.3:
        hdr = {"alg": "RS256", "kid": rs(HEXL, 16), "typ": "JWT"}
    h = b64u(json.dumps(hdr, separators=(",", ":")).encode())
    p = b64u(json.dumps(payload, separators=(",", ":")).encode())
    key = key or rbytes(32)
    sig = hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest()
    if hdr["alg"] == "RS256":
        sig = rbytes(256)
    return h + "." + p + "." + b64u(sig)


def png_bytes(w, h):
    raw = b""
    for _ in range(h):
        raw += b"\0" + rbytes(3 * w)

    def chunk(t, d):
        return len(d).to_bytes(4, "big") + t + d + (zlib.crc32(t + d) & 0xFFFFFFFF).to_bytes(4, "big")
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def uuid4():
    b = bytearray(rbytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def upper_snake(v):
    v = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", v)
    return re.sub(r"[^A-Za-z0-9]+", "_", v).strip("_").upper()


def camel(v):
    parts = upper_snake(v).lower().split("_")
    return parts[0] + "".join(p.title() for p in parts[1:])


def uesc_all(s):
    return "".join("\\u%04x" % ord(c) if ord(c) < 0x10000 else c for c in s)


def html_refs(s):
    out = []
    for c in s:
        if c.isalnum() or c in "_-+/=.:~":
            out.append("&#%d;" % ord(c) if R.random() < 0.5 else "&#x%x;" % ord(c))
        else:
            out.append(html.escape(c))
    return "".join(out)


def words(n):
    w = ("alpha beta gamma delta report weekly sales north region draft notes summary build deploy "
         "review customer invoice backlog sprint design metrics budget cache latency onboarding").split()
    return " ".join(pick(w) for _ in range(n))


FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jia", "Kofi",
         "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Yuki"]
LAST = ["Okafor", "Schmidt", "Nakamura", "Silva", "Novak", "Haddad", "Larsen", "Moreau", "Rossi",
        "Kowalski", "Garcia", "Ivanova", "Singh", "Brennan", "Takahashi", "Dubois"]


def person():
    return pick(FIRST) + " " + pick(LAST)


def email():
    return "%s.%s@%s" % (pick(FIRST).lower(), pick(LAST).lower(),
                         pick(["example.com", "acme.io", "corp.example.org", "mail.example.net"]))


def iso_ts():
    return "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (rint(1, 12), rint(1, 28), rint(0, 23), rint(0, 59),
                                                  rint(0, 59), rint(0, 999))


# ---------------------------------------------------------------- documents (inner text)

OTHER_ENV = ["NODE_ENV=production", "PORT=8080", "LOG_LEVEL=info", "APP_NAME=ledger-sync", "AWS_REGION=eu-west-1",
             "FEATURE_FLAGS=search,beta-ui", "DB_POOL_SIZE=10", "TZ=UTC", "SENTRY_ENVIRONMENT=staging",
             "WORKERS=4", "CACHE_TTL=300", "PUBLIC_URL=https://app.example.com"]


def _others(k):
    return R.sample(OTHER_ENV, k)


def d_env(var, val):
    lines = _others(rint(2, 5))
    v = upper_snake(var)
    line = pick(["%s=%s", '%s="%s"', "export %s=%s", "%s='%s'"]) % (v, val)
    lines.insert(rint(0, len(lines)), line)
    if R.random() < 0.5:
        lines.insert(0, "# " + pick(["production", "local overrides", "do not commit", "copied from vault"]))
    return "\n".join(lines) + "\n"


def d_yaml(var, val):
    svc = pick(["billing", "ingest", "notifier", "search", "worker"])
    return pick([
        "service:\n  name: %s\n  replicas: %d\n  %s: \"%s\"\n  timeout_seconds: 30\n" % (svc, rint(1, 6), var, val),
        "%s:\n  endpoint: https://%s.internal.example.com\n  %s: %s\n  retries: 3\n" % (svc, svc, var, val),
        "env:\n  - name: %s\n    value: \"%s\"\n  - name: LOG_FORMAT\n    value: json\n" % (upper_snake(var), val),
    ])


def d_toml(var, val):
    return pick([
        "[credentials]\n%s = \"%s\"\nregion = \"us-east-2\"\n" % (var, val),
        "title = \"%s\"\n\n[api]\nbase_url = \"https://api.example.com\"\n%s = '%s'\ntimeout = 15\n" % (words(2), var, val),
    ])


def d_ini(var, val):
    return "[%s]\nhost = %s\n%s = %s\nverify_ssl = true\n" % (
        pick(["default", "production", "server", "auth"]), pick(["10.2.0.14", "db.internal", "api.example.org"]), var, val)


def d_xml(var, val):
    return pick([
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <appSettings>\n    <add key=\"%s\" value=\"%s\" />\n"
        "    <add key=\"Environment\" value=\"Production\" />\n  </appSettings>\n</configuration>\n" % (var, val),
        "<settings>\n  <server>%s</server>\n  <%s>%s</%s>\n</settings>\n" % (pick(["repo.example.com", "smtp.example.net"]),
                                                                       camel(var), val, camel(var)),
    ])


def d_json(var, val):
    obj = {"environment": pick(["prod", "staging", "dev"]), var: val, "retries": rint(1, 5)}
    if R.random() < 0.5:
        obj = {"service": pick(["crm", "etl", "mailer"]), "config": obj}
    return json.dumps(obj, indent=pick([None, 2, 4]))


def d_properties(var, val):
    return "server.port=8443\napp.%s=%s\nlogging.level.root=WARN\n" % (var.replace("_", "."), val)


def d_shell(var, val):
    v = upper_snake(var)
    return pick([
        "#!/usr/bin/env bash\nset -euo pipefail\nexport %s=\"%s\"\n./scripts/deploy.sh --env prod\n" % (v, val),
        "%s=%s python3 manage.py migrate && python3 manage.py runserver\n" % (v, val),
        "echo \"%s=%s\" >> $GITHUB_ENV\n" % (v, val),
        "docker run -d -e %s=%s -p 8080:8080 ghcr.io/acme/api:1.4.2\n" % (v, val),
        "kubectl create secret generic app-secrets --from-literal=%s=%s -n prod\n" % (var.lower(), val),
    ])


def d_python(var, val):
    v = upper_snake(var)
    return pick([
        "import os\nimport requests\n\n%s = \"%s\"\n\ndef fetch(path):\n    return requests.get(BASE + path, timeout=10)\n" % (v, val),
        "client = Client(\n    endpoint=\"https://api.example.com\",\n    %s=\"%s\",\n)\n" % (var.lower(), val),
        "settings = {\n    'DEBUG': False,\n    '%s': '%s',\n}\n" % (v, val),
    ])


def d_node(var, val):
    return pick([
        "const %s = '%s';\nmodule.exports = { %s };\n" % (camel(var), val, camel(var)),
        "export default {\n  region: 'eu-central-1',\n  %s: \"%s\",\n};\n" % (camel(var), val),
    ])


def d_compose(var, val):
    return ("version: \"3.9\"\nservices:\n  api:\n    image: acme/api:%d.%d\n    environment:\n      - %s=%s\n"
            "      - LOG_LEVEL=debug\n    ports:\n      - \"8080:8080\"\n" % (rint(1, 4), rint(0, 20), upper_snake(var), val))


def d_k8s(var, val):
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\nstringData:\n  %s: \"%s\"\n"
            % (pick(["app-secrets", "api-credentials", "worker-env"]), pick(["prod", "default", "payments"]),
               upper_snake(var), val))


def d_k8s_data(var, val):
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\ndata:\n  %s: %s\n"
            % (pick(["app-secrets", "integration-keys"]), upper_snake(var), b64s(val.encode())))


def d_terraform(var, val):
    return pick([
        "provider \"%s\" {\n  %s = \"%s\"\n}\n" % (pick(["acme", "vendor", "datadog", "aws"]), var.lower(), val),
        "variable \"%s\" {\n  type    = string\n  default = \"%s\"\n}\n" % (var.lower(), val),
        "resource \"kubernetes_secret\" \"app\" {\n  metadata {\n    name = \"app\"\n  }\n  data = {\n    %s = \"%s\"\n  }\n}\n"
        % (var.lower(), val),
    ])


def d_gha(var, val):
    return ("name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n"
            "      %s: %s\n    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n" % (upper_snake(var), val))


def d_diff(var, val):
    f = pick(["config/settings.py", "src/config.ts", ".env.production", "deploy/values.yaml", "app/secrets.rb"])
    line = pick(["%s = \"%s\"", "%s: %s", "%s=%s"]) % (upper_snake(var), val)
    return ("diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -%d,6 +%d,7 @@\n DEBUG = False\n"
            "+%s\n TIMEOUT = 30\n" % (f, f, rs(HEXL, 7), rs(HEXL, 7), f, f, rint(3, 80), rint(3, 80), line))


def d_trace(var, val):
    return pick([
        "Traceback (most recent call last):\n  File \"/app/worker.py\", line %d, in run\n    client.connect()\n"
        "  File \"/app/client.py\", line %d, in connect\n    raise AuthError(f\"rejected {self.%s!r}\")\n"
        "AuthError: rejected '%s'\n" % (rint(10, 300), rint(10, 300), var.lower(), val),
        "Exception in thread \"main\" java.lang.IllegalStateException: login failed (%s=%s)\n"
        "\tat com.acme.sync.Client.auth(Client.java:%d)\n\tat com.acme.sync.Main.main(Main.java:%d)\n"
        % (camel(var), val, rint(20, 200), rint(5, 60)),
    ])


def d_log(var, val):
    return "".join("%s %s %s\n" % (iso_ts(), pick(["INFO", "DEBUG", "WARN"]), m) for m in R.sample([
        "starting worker pid=%d" % rint(100, 9999),
        "loaded config %s=%s" % (var, val),
        "connected to upstream in %dms" % rint(3, 900),
    ], 3)) if R.random() < 0.5 else "%s DEBUG request headers={'%s': '%s', 'Accept': 'application/json'}\n" % (iso_ts(), var, val)


def d_chat(var, val):
    return pick([
        "hey, can you check why this fails? I set %s to %s and the API still returns 401" % (var, val),
        "Here's the %s for the staging account: %s - please update the pipeline" % (var.replace("_", " "), val),
        "quick q: is `%s=%s` the right format or do I need quotes?" % (upper_snake(var), val),
        "Use this %s: %s (rotate it after the demo)" % (var.replace("_", " "), val),
    ])


def d_markdown(var, val):
    return ("## Local setup\n\n1. Install dependencies with `npm ci`\n2. Set `%s` to `%s`\n3. Run `npm run dev`\n"
            % (upper_snake(var), val))


def d_sql(var, val):
    return pick([
        "INSERT INTO integrations (name, %s, created_at) VALUES ('%s', '%s', NOW());" % (var.lower(), pick(["crm", "billing", "sso"]), val),
        "UPDATE service_accounts SET %s = '%s' WHERE id = %d;" % (var.lower(), val, rint(1, 999)),
    ])


def d_csv(var, val):
    return "name,%s,owner,created\n%s,%s,%s,2024-%02d-%02d\n" % (var.lower(), pick(["svc-sync", "ci-bot", "reporting"]),
                                                              val, email(), rint(1, 12), rint(1, 28))


def d_html(var, val):
    return ("<form method=\"post\" action=\"/settings\">\n  <input type=\"hidden\" name=\"%s\" value=\"%s\">\n"
            "  <button type=\"submit\">Save</button>\n</form>\n" % (var, val))


def d_prose(var, val):
    return pick([
        "Found it in the old wiki: %s" % val,
        "this is the one prod uses -> %s" % val,
        "%s\n(that's the key from the shared drive)" % val,
        "pasting the value from the dashboard: %s  -- does it look valid?" % val,
        "new one after rotation: %s, old one is revoked" % val,
        "for the sandbox use %s and don't share it outside the team" % val,
        "Can you add %s to the CI variables? Thanks!" % val,
        "> %s\nwhy does the CLI say this is expired?" % val,
        "Ticket #%d: customer reported their credential %s stopped working" % (rint(1000, 99999), val),
    ])


DOCS = {
    "env": d_env, "yaml": d_yaml, "toml": d_toml, "ini": d_ini, "xml": d_xml, "json": d_json,
    "properties": d_properties, "shell": d_shell, "python": d_python, "node": d_node, "compose": d_compose,
    "k8s": d_k8s, "k8s-data": d_k8s_data, "terraform": d_terraform, "gha": d_gha, "diff": d_diff,
    "trace": d_trace, "log": d_log, "chat": d_chat, "markdown": d_markdown, "sql": d_sql, "csv": d_csv,
    "html": d_html, "prose": d_prose,
}
DOC_LAYERS = {"k8s-data": ["b64"]}


# header-line documents: embed a full "Name: value" header
def h_curl(h):
    return "curl -sS %s https://%s/v1/%s -H '%s' -H 'Content-Type: application/json'" % (
        pick(["-X GET", "-X POST -d '{}'", ""]), pick(["api.example.com", "internal-api.acme.io", "svc.example.net"]),
        pick(["users/me", "reports", "jobs?limit=20"]), h)


def h_python(h):
    n, v = h.split(": ", 1)
    return "import requests\nr = requests.get(\"https://api.example.com/v2/items\", headers={\"%s\": \"%s\"})\nprint(r.json())\n" % (n, v)


def h_fetch(h):
    n, v = h.split(": ", 1)
    return "await fetch('https://api.example.com/graphql', {\n  method: 'POST',\n  headers: { '%s': '%s' },\n  body: JSON.stringify(q),\n});\n" % (n, v)


def h_raw(h):
    return "POST /v1/events HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: agent/0.9\r\n%s\r\nContent-Length: 2\r\n\r\n{}" % h


def h_har(h):
    n, v = h.split(": ", 1)
    return json.dumps({"log": {"entries": [{"request": {"method": "GET", "url": "https://api.example.com/v1/me",
                                                          "headers": [{"name": "Accept", "value": "*/*"},
                                                                      {"name": n, "value": v}]}}]}}, indent=1)


def h_log(h):
    return "%s DEBUG http.client send: b'GET /v1/status HTTP/1.1\\r\\nHost: api.example.com\\r\\n%s\\r\\n'\n" % (iso_ts(), h)


HDOCS = [h_curl, h_python, h_fetch, h_raw, h_har, h_log]


# ---------------------------------------------------------------- carriers (outer request body)

def _prompt(doc):
    return pick([
        "Can you find the bug in this file?\n\n```\n%s\n```",
        "Convert the following to a Helm values file:\n\n%s",
        "Summarise this output for the incident channel:\n%s",
        "%s\n\nWhy am I getting 401 Unauthorized with this?",
        "Please review my config before I deploy:\n```\n%s\n```",
    ]) % doc


def _j(o):
    return json.dumps(o, indent=pick([None, None, 2]), ensure_ascii=False)


def c_openai(doc):
    return {"content_type": "application/json", "text": _j({
        "model": pick(["gpt-4o", "gpt-4.1-mini", "o3-mini"]), "temperature": 0.2,
        "messages": [{"role": "system", "content": "You are a careful senior engineer."},
                     {"role": "user", "content": _prompt(doc)}]}), "layers": []}


def c_anthropic(doc):
    return {"content_type": "application/json", "text": _j({
        "model": pick(["claude-sonnet-4-5", "claude-3-5-haiku-latest", "claude-opus-4-1"]), "max_tokens": 2048,
        "messages": [{"role": "user", "content": [{"type": "text", "text": _prompt(doc)}]}]}), "layers": []}


def c_gemini(doc):
    return {"content_type": "application/json", "text": _j({
        "contents": [{"role": "user", "parts": [{"text": _prompt(doc)}]}],
        "generationConfig": {"temperature": 0.4}}), "layers": []}


def c_mcp_write(doc):
    return {"content_type": "application/json", "text": _j({
        "jsonrpc": "2.0", "id": rint(1, 999), "method": "tools/call",
        "params": {"name": pick(["write_file", "create_file", "fs.write", "edit_file"]),
                   "arguments": {"path": pick(["/workspace/.env", "config/app.yaml", "notes/setup.md", "deploy/main.tf",
                                               "/tmp/out.txt", "src/settings.py"]), "content": doc}}}), "layers": []}


def c_mcp_exec(doc):
    return {"content_type": "application/json", "text": _j({
        "jsonrpc": "2.0", "id": rint(1, 999), "method": "tools/call",
        "params": {"name": pick(["run_command", "shell", "bash", "terminal.exec"]),
                   "arguments": {"command": doc, "cwd": "/workspace"}}}), "layers": []}


def c_mcp_result(doc):
    return {"content_type": "application/json", "text": _j({
        "jsonrpc": "2.0", "id": rint(1, 999),
        "result": {"content": [{"type": "text", "text": doc}], "isError": False}}), "layers": []}


def c_graphql(doc):
    return {"content_type": "application/json", "text": _j({
        "operationName": "CreateNote",
        "query": "mutation CreateNote($input: NoteInput!) { createNote(input: $input) { id url } }",
        "variables": {"input": {"title": words(3), "body": doc, "visibility": "TEAM"}}}), "layers": []}


def c_slack(doc):
    return {"content_type": "application/json; charset=utf-8", "text": _j({
        "channel": "C0" + rs(UPNUM, 9), "text": doc, "unfurl_links": False}), "layers": []}


def c_gist(doc):
    return {"content_type": "application/json", "text": _j({
        "description": words(3), "public": R.random() < 0.5,
        "files": {pick(["config.yml", "notes.txt", "run.sh", "app.env", "main.tf"]): {"content": doc}}}), "layers": []}


def c_issue(doc):
    return {"content_type": "application/json", "text": _j({
        "body": "Repro steps below, fails every time on staging.\n\n```\n%s\n```\n" % doc}), "layers": []}


def c_plain(doc):
    return {"content_type": pick(["text/plain", "text/plain; charset=utf-8", "application/octet-stream"]),
            "text": doc, "layers": []}


def c_multipart(doc):
    b = "----WebKitFormBoundary" + rs(B62, 16)
    body = ("--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n--%s\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: text/plain\r\n\r\n%s\r\n--%s--\r\n"
            % (b, words(2), b, pick(["debug.log", "config.txt", "env.txt", "dump.sql"]), doc, b))
    return {"content_type": "multipart/form-data; boundary=" + b, "text": body, "layers": []}


def c_form(doc):
    return {"content_type": "application/x-www-form-urlencoded",
            "text": "title=%s&content=%s&syntax=text&expire=1d" % (qp(words(2)), qp(doc)), "layers": ["form-decode"]}


def c_email_qp(doc):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s" % (email(), email(), words(3),
                                                                       quopri.encodestring(doc.encode()).decode()))
    if R.random() < 0.5:
        return {"content_type": "message/rfc822", "text": msg, "layers": ["qp"]}
    return {"content_type": "application/json", "text": _j({"raw": b64u(msg.encode())}), "layers": ["b64", "qp"]}


def c_gzip_json(doc):
    inner = c_openai(doc) if R.random() < 0.5 else c_mcp_write(doc)
    return {"content_type": "application/json", "content_encoding": "gzip",
            "raw": gz(inner["text"].encode()), "layers": []}


def c_deflate(doc):
    inner = c_plain(doc) if R.random() < 0.5 else c_anthropic(doc)
    return {"content_type": inner["content_type"], "content_encoding": "deflate",
            "raw": zlib.compress(inner["text"].encode(), 9), "layers": []}


def c_b64_field(doc):
    return {"content_type": "application/json", "text": _j({
        "message": "add " + pick(["config", "env", "setup notes"]), "branch": "main",
        "content": b64s(doc.encode())}), "layers": ["b64"]}


def c_b64url_field(doc):
    return {"content_type": "application/json", "text": _j({
        "name": pick(["snapshot", "ctx", "payload"]), "data": b64u(doc.encode(), pad=R.random() < 0.5)}), "layers": ["b64"]}


def c_b64gz_field(doc):
    return {"content_type": "application/json", "text": _j({
        "artifact": pick(["workspace.tgz", "logs", "bundle"]), "encoding": "gzip+base64",
        "data": b64s(gz(doc.encode()))}), "layers": ["b64"]}


def c_hex_field(doc):
    return {"content_type": "application/json", "text": _j({
        "kind": "blob", "blob_hex": doc.encode().hex()}), "layers": ["hex"]}


def c_json_u(doc):
    return {"content_type": "application/json",
            "text": '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' % uesc_all(doc),
            "layers": ["json-u"]}


def c_html(doc):
    return {"content_type": "text/html; charset=utf-8",
            "text": "<!doctype html><html><body><form method=\"post\"><textarea name=\"notes\">%s</textarea>"
                    "<input type=\"submit\"></form></body></html>" % html_refs(doc), "layers": ["html"]}


def c_ndjson(doc):
    lines = [json.dumps({"ts": iso_ts(), "level": "info", "msg": ln}) for ln in doc.splitlines() if ln.strip()]
    lines.insert(0, json.dumps({"ts": iso_ts(), "level": "info", "msg": "shipper started"}))
    return {"content_type": "application/x-ndjson", "text": "\n".join(lines) + "\n", "layers": []}


CARRIERS = [(c_openai, 6), (c_anthropic, 5), (c_gemini, 2), (c_mcp_write, 6), (c_mcp_exec, 3), (c_mcp_result, 3),
            (c_graphql, 2), (c_slack, 3), (c_gist, 3), (c_issue, 2), (c_plain, 4), (c_multipart, 2), (c_form, 3),
            (c_email_qp, 2), (c_gzip_json, 2), (c_deflate, 2), (c_b64_field, 2), (c_b64url_field, 2),
            (c_b64gz_field, 2), (c_hex_field, 1), (c_json_u, 2), (c_html, 1), (c_ndjson, 2)]


def wpick(pairs):
    tot = sum(w for _, w in pairs)
    x = R.random() * tot
    for item, w in pairs:
        x -= w
        if x < 0:
            return item
    return pairs[-1][0]


# ---------------------------------------------------------------- secret value generators

SYM = "!@#%^*-_+=?.~&"


def gen_password():
    x = R.random()
    if x < 0.45:
        n = rint(12, 20)
        chars = [pick(UP), pick(LOW), pick(DIG), pick(SYM)] + [pick(B62 + SYM) for _ in range(n - 4)]
        R.shuffle(chars)
        return "".join(chars)
    if x < 0.75:
        w = ["Harbor", "Lantern", "Copper", "Violet", "Falcon", "Orchid", "Granite", "Meadow", "Cobalt", "Saffron",
             "Tundra", "Juniper", "Quartz", "Ember", "Willow", "Nimbus"]
        return pick(w) + pick("-_.!#") + pick(w).lower() + str(rint(10, 9999)) + pick("!#%*?")
    return rs(B62 + "!#%*-_+=", rint(16, 26))


def gen_generic_key():
    x = R.random()
    if x < 0.4:
        return rs(B62, pick([32, 40, 48]))
    if x < 0.65:
        return rs(HEXL, pick([32, 40, 64]))
    if x < 0.85:
        return b64s(rbytes(pick([24, 30, 33])))
    return rs(B64U, pick([36, 43, 50]))


def gen_card():
    test = ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117",
            "3530111333300000", "4000056655665556", "5105105105105100", "30569309025904"]
    if R.random() < 0.25:
        num = pick(test)
    else:
        brand = pick(["visa", "visa", "mc", "mc2", "amex", "disc", "jcb", "diners", "up"])
        pre, ln = {"visa": ("4", 16), "mc": ("5" + pick("12345"), 16), "mc2": (str(rint(2221, 2720)), 16),
                   "amex": (pick(["34", "37"]), 15), "disc": ("6011", 16), "jcb": (str(rint(3528, 3589)), 16),
                   "diners": ("36", 14), "up": ("62", pick([16, 17, 19]))}[brand]
        body = pre + rs(DIG, ln - len(pre) - 1)
        num = body + luhn_digit(body)
    style = R.random()
    if style < 0.45:
        return num
    sep = " " if style < 0.8 else "-"
    if len(num) == 15:
        parts = [num[:4], num[4:10], num[10:]]
    else:
        parts = [num[i:i + 4] for i in range(0, len(num), 4)]
    return sep.join(parts)


def gen_iban():
    ex = ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300"]
    s = pick(ex) if R.random() < 0.2 else iban_make(pick(list(IBAN_FMT)))
    if R.random() < 0.35:
        s = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return s


def gen_btc():
    k = pick(["p2pkh", "p2sh", "wpkh", "wsh", "tr", "tr"])
    if k == "p2pkh":
        return b58check(b"\x00" + rbytes(20))
    if k == "p2sh":
        return b58check(b"\x05" + rbytes(20))
    if k == "wpkh":
        return segwit_addr("bc", 0, rbytes(20))
    if k == "wsh":
        return segwit_addr("bc", 0, rbytes(32))
    return segwit_addr("bc", 1, rbytes(32))


def gen_eth():
    h = rbytes(20).hex()
    return "0x" + (eip55(h) if R.random() < 0.8 else h)


def gen_github_pat():
    body = rs(B62, 30)
    return "ghp_" + body + b62num(zlib.crc32(body.encode()), 6)


def gen_aws_akid():
    if R.random() < 0.12:
        return "AKIAIOSFODNN7EXAMPLE"
    return pick(["AKIA", "AKIA", "ASIA"]) + rs("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)


def gen_aws_secret():
    if R.random() < 0.1:
        return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    return rs(B64, 40)


def gen_aws_session():
    return pick(["IQoJb3JpZ2luX2VjE", "FwoGZXIvYXdzE"]) + rs(B64, rint(280, 520)) + pick(["", "=", "=="])


def gen_azure_conn():
    acct = pick(["acme", "prod", "media", "logs"]) + rs(LOW + DIG, rint(4, 10))
    key = b64s(rbytes(64))
    val = "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, key)
    return {"val": val, "secret": key}


def gen_azure_sas():
    sig = b64s(rbytes(32))
    val = ("sv=2022-11-02&ss=%s&srt=sco&sp=%s&se=2025-%02d-%02dT%02d:00:00Z&st=2024-%02d-%02dT00:00:00Z&spr=https&sig=%s"
           % (pick(["b", "bfqt", "bq"]), pick(["r", "rwdlac", "rwdlacupiytfx"]), rint(1, 12), rint(1, 28), rint(0, 23),
              rint(1, 12), rint(1, 28), q(sig)))
    return {"val": val, "secret": sig, "extra": ["url-decode"]}


def gen_slack_webhook():
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(UPNUM, rint(8, 10)), rs(UPNUM, rint(8, 10)), rs(B62, 24))


def gen_discord():
    uid = str(rint(10 ** 17, 10 ** 19 - 1))
    return b64u(uid.encode()) + "." + rs(B64U, 6) + "." + rs(B64U, pick([27, 38]))


def gen_openai():
    x = R.random()
    if x < 0.55:
        return "sk-proj-" + rs(B64U, 74) + "T3BlbkFJ" + rs(B64U, 74)
    if x < 0.8:
        return "sk-" + rs(B62, 20) + "T3BlbkFJ" + rs(B62, 20)
    return "sk-svcacct-" + rs(B64U, 74) + "T3BlbkFJ" + rs(B64U, 74)


def gen_anthropic():
    return pick(["sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"]) + rs(B64U, 93) + "AA"


def gen_1password():
    blob = json.dumps({"signInAddress": "my.1password.com", "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256",
                       "iterations": 650000, "salt": b64u(rbytes(16))},
                       "email": rs(LOW + DIG, 13) + "@1passwordserviceaccounts.com", "srpX": rbytes(32).hex(),
                       "muk": {"alg": "A256GCM", "ext": True, "k": b64u(rbytes(32)), "key_ops": ["encrypt", "decrypt"],
                               "kty": "oct", "kid": "mp"},
                       "secretKey": "A3-" + rs(UPNUM, 6) + "-" + rs(UPNUM, 6) + "-" + rs(UPNUM, 5),
                       "throttleSecret": {"seed": rbytes(32).hex(), "uuid": rs(UPNUM, 26)}, "deviceUuid": rs(LOW + DIG, 26)},
                      separators=(",", ":"))
    return "ops_" + b64u(blob.encode())


def gen_mapbox():
    user = pick(FIRST).lower() + rs(DIG, 2)
    return "sk." + b64u(json.dumps({"u": user, "a": rs(LOW + DIG, 25)}, separators=(",", ":")).encode()) + "." + rs(B64U, 22)


def gen_jwt():
    now = rint(1700000000, 1760000000)
    pl = pick([
        {"sub": uuid4(), "iat": now, "exp": now + 3600, "scope": "read:org write:repo"},
        {"iss": "https://auth.example.com/", "sub": "auth0|" + rs(HEXL, 24), "aud": "api://default", "iat": now,
         "exp": now + 86400, "email": email()},
        {"role": "service_role", "iss": "supabase", "iat": now, "exp": now + 315360000},
        {"uid": rint(1000, 999999), "tenant": pick(["acme", "globex", "initech"]), "adm": True, "iat": now},
    ])
    return jwt_make(pl)


def gen_db_url():
    user = pick(["app", "postgres", "admin", "svc_ledger", "root", "analytics_ro"])
    pw = gen_password() if R.random() < 0.7 else rs(B62, rint(16, 28))
    host = pick(["db.prod.internal", "10.0.3.17", "pg-main.c9x2kqh1.eu-west-1.rds.amazonaws.com",
                 "cluster0.%s.mongodb.net" % rs(LOW + DIG, 5), "redis-12345.c1.us-east-1-2.ec2.cloud.redislabs.com",
                 "ep-%s-%s.us-east-2.aws.neon.tech" % (pick(["cool", "quiet", "misty"]), rs(LOW + DIG, 8))])
    kind = pick(["postgresql", "postgres", "mysql", "mongodb+srv", "redis", "amqp", "jdbc"])
    qpw = q(pw)
    if kind == "jdbc":
        val = "jdbc:postgresql://%s:5432/ledger?user=%s&password=%s&sslmode=require" % (host, user, qpw)
    elif kind == "redis":
        val = "redis://default:%s@%s:6379/0" % (qpw, host)
    elif kind == "mongodb+srv":
        val = "mongodb+srv://%s:%s@%s/prod?retryWrites=true&w=majority" % (user, qpw, host)
    elif kind == "amqp":
        val = "amqps://%s:%s@%s:5671/vhost" % (user, qpw, host)
    else:
        val = "%s://%s:%s@%s:%d/%s" % (kind, user, qpw, host, 5432 if kind.startswith("postgres") else 3306,
                                       pick(["app", "ledger", "analytics"]))
    return {"val": val, "secret": pw, "extra": ["url-decode"] if qpw != pw else []}


def tmpl(prefix, alpha, n):
    return lambda: prefix + rs(alpha, n)


# ---------------------------------------------------------------- class specifications

def S(name, n, gen, vars, hdrs=(), qs=(), **kw):
    d = {"name": name, "n": n, "gen": gen, "vars": list(vars), "hdrs": list(hdrs), "qs": list(qs)}
    d.update(kw)
    return d


BEARER = ["Authorization: Bearer {}"]
FIN_DOCS = ["f-csv", "f-json", "f-chat", "f-sql", "f-log", "f-xml", "f-form", "f-yaml"]

CLASSES = [
    # --- context-dependent
    S("generic-api-key", 16, gen_generic_key,
      ["api_key", "apiKey", "API_KEY", "client_secret", "app_secret", "secret_key", "API_TOKEN", "access_token",
       "auth_token", "MISTRAL_API_KEY", "COHERE_API_KEY", "ALGOLIA_ADMIN_KEY", "CLOUDFLARE_API_TOKEN", "OKTA_API_TOKEN",
       "x_api_key", "service_secret"],
      ["X-API-Key: {}", "Api-Key: {}", "X-Auth-Token: {}", "X-Api-Secret: {}"], ["api_key", "apikey", "access_token"],
      bare=False),
    S("generic-password", 16, gen_password,
      ["password", "db_password", "DB_PASSWORD", "admin_password", "MYSQL_ROOT_PASSWORD", "PGPASSWORD", "smtp_password",
       "passwd", "redis_password", "keystore_password", "ldap_bind_password", "POSTGRES_PASSWORD", "adminPassword"],
      [], ["password", "passwd", "pwd"], bare=False),
    S("bearer-token", 12, lambda: pick([rs(B62, rint(32, 64)), rs(B64U, rint(40, 80)),
                                        rs(B62, 24) + "." + rs(B64U, 43), rs(HEXL, 64)]),
      ["token"], BEARER, [], bare=False, hdoc_only=True, modes={"body": 7, "header": 5, "url": 0}),
    S("twilio-auth-token", 10, lambda: rs(HEXL, 32),
      ["TWILIO_AUTH_TOKEN", "twilio_auth_token", "authToken", "TWILIO_TOKEN"], [], [], bare=False, twilio=True),
    S("datadog-api-key", 10, lambda: rs(HEXL, 32),
      ["DD_API_KEY", "datadog_api_key", "DATADOG_API_KEY", "dd_api_key"], ["DD-API-KEY: {}"], ["api_key", "dd-api-key"],
      bare=False),
    S("aws-secret-access-key", 10, gen_aws_secret,
      ["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "SecretAccessKey", "secret_access_key"], [], [], bare=False,
      xdocs=["aws-creds", "aws-sts"]),
    S("high-entropy-exfiltration", 14, None, [], special="hiex"),
    S("dns-exfiltration", 14, None, [], special="dns"),
    S("delimited-hex-secret", 12, None, [], special="dhex"),
    # --- structured / checksummed
    S("payment-card-number", 16, gen_card, ["card_number", "cc_number", "pan", "cardNumber"], [], ["card", "cc"],
      docs=FIN_DOCS, check="luhn", modes={"body": 9, "header": 0, "url": 1}),
    S("iban", 12, gen_iban, ["iban", "IBAN", "beneficiary_iban", "payout_iban"], [], ["iban"],
      docs=FIN_DOCS + ["f-sepa"], check="iban", modes={"body": 9, "header": 0, "url": 1}),
    S("bitcoin-address", 12, gen_btc, ["btc_address", "payout_address", "wallet", "withdraw_to"], [], ["address", "to"],
      docs=FIN_DOCS + ["f-bip21"], check="btc", modes={"body": 9, "header": 0, "url": 2}),
    S("ethereum-address", 10, gen_eth, ["eth_address", "wallet_address", "recipient", "to_address"], [], ["address", "to"],
      docs=FIN_DOCS, check="eth", modes={"body": 9, "header": 0, "url": 2}),
    S("jwt", 10, gen_jwt, ["id_token", "access_token", "jwt", "SUPABASE_SERVICE_ROLE_KEY", "session_token"],
      ["Authorization: Bearer {}", "Cookie: session={}; theme=dark", "X-Id-Token: {}"], ["id_token", "token", "jwt"]),
    S("http-basic-auth", 8, None, [], special="basic"),
    S("database-url-password", 10, gen_db_url,
      ["DATABASE_URL", "MONGO_URI", "REDIS_URL", "SQLALCHEMY_DATABASE_URI", "db_url", "CELERY_BROKER_URL"], [], ["dsn"],
      bare=False, modes={"body": 9, "header": 0, "url": 1}),
    S("url-userinfo-password", 6, None, [], special="userinfo"),
    # --- vendors
    S("aws-access-key-id", 8, gen_aws_akid, ["aws_access_key_id", "AWS_ACCESS_KEY_ID", "AccessKeyId"], [], [],
      xdocs=["aws-creds"]),
    S("aws-session-token", 5, gen_aws_session, ["aws_session_token", "AWS_SESSION_TOKEN", "SessionToken"],
      ["X-Amz-Security-Token: {}"], []),
    S("azure-storage-connection-string", 5, gen_azure_conn,
      ["AZURE_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage", "storage_connection_string"], [], [],
      modes={"body": 1, "header": 0, "url": 0}),
    S("azure-sas-token", 5, gen_azure_sas, ["AZURE_SAS_TOKEN", "sas_token", "sasQueryString"], [], [], special="sas"),
    S("azure-ad-client-secret", 4, lambda: rs(B62, 3) + "8Q~" + rs(B62 + "_~.-", 34),
      ["AZURE_CLIENT_SECRET", "client_secret", "ClientSecret"], [], []),
    S("google-api-key", 6, tmpl("AIza", B64U, 35), ["GOOGLE_API_KEY", "GEMINI_API_KEY", "maps_api_key", "firebaseApiKey"],
      ["X-Goog-Api-Key: {}"], ["key"]),
    S("gcp-oauth-client-secret", 4, tmpl("GOCSPX-", B64U, 28), ["client_secret", "GOOGLE_CLIENT_SECRET"], [], []),
    S("google-oauth-access-token", 4, lambda: "ya29." + rs(B64U, rint(150, 200)), ["access_token", "GOOGLE_ACCESS_TOKEN"],
      BEARER, ["access_token"]),
    S("github-pat", 8, gen_github_pat, ["GITHUB_TOKEN", "GH_TOKEN", "github_token", "GITHUB_PAT"],
      ["Authorization: token {}", "Authorization: Bearer {}"], [], xdocs=["git-remote"]),
    S("github-fine-grained-pat", 5, lambda: "github_pat_11" + rs(UPNUM, 20) + "_" + rs(B62, 59),
      ["GITHUB_TOKEN", "GH_PAT", "github_pat"], ["Authorization: Bearer {}"], [], xdocs=["git-remote"]),
    S("github-oauth-token", 4, tmpl("gho_", B62, 36), ["GITHUB_OAUTH_TOKEN", "oauth_token", "gh_token"],
      ["Authorization: token {}"], []),
    S("github-app-token", 4, lambda: pick(["ghs_", "ghu_"]) + rs(B62, 36), ["GITHUB_APP_TOKEN", "installation_token"],
      ["Authorization: Bearer {}"], [], xdocs=["git-remote"]),
    S("gitlab-pat", 5, tmpl("glpat-", B64U, 20), ["GITLAB_TOKEN", "CI_JOB_TOKEN_OVERRIDE", "gitlab_token"],
      ["PRIVATE-TOKEN: {}"], ["private_token"]),
    S("gitlab-runner-token", 3, tmpl("glrt-", B64U, 20), ["RUNNER_TOKEN", "runner_token"], [], []),
    S("slack-bot-token", 5, lambda: "xoxb-%s-%s-%s" % (rs(DIG, rint(10, 12)), rs(DIG, 13), rs(B62, 24)),
      ["SLACK_BOT_TOKEN", "slack_token", "botToken"], BEARER, ["token"]),
    S("slack-user-token", 4, lambda: "xoxp-%s-%s-%s-%s" % (rs(DIG, 11), rs(DIG, 11), rs(DIG, 13), rs(HEXL, 32)),
      ["SLACK_USER_TOKEN", "slack_token"], BEARER, ["token"]),
    S("slack-app-token", 3, lambda: "xapp-1-A%s-%s-%s" % (rs(UPNUM, 10), rs(DIG, 13), rs(HEXL, 64)),
      ["SLACK_APP_TOKEN", "appToken"], BEARER, []),
    S("slack-webhook-url", 4, gen_slack_webhook, ["SLACK_WEBHOOK_URL", "webhook_url", "slackWebhook"], [], [],
      modes={"body": 1, "header": 0, "url": 0}, xdocs=["webhook-curl"]),
    S("discord-bot-token", 4, gen_discord, ["DISCORD_TOKEN", "discord_bot_token"], ["Authorization: Bot {}"], []),
    S("telegram-bot-token", 4, lambda: "%d:AA%s" % (rint(10 ** 8, 10 ** 10), rs(B64U, 33)),
      ["TELEGRAM_BOT_TOKEN", "bot_token"], [], [], xurls=["https://api.telegram.org/bot{}/sendMessage?chat_id=%d&text=ok"]),
    S("stripe-secret-key", 6, lambda: pick(["sk_live_", "sk_live_", "sk_test_"]) + pick([rs(B62, 24), "51" + rs(B62, 97)]),
      ["STRIPE_SECRET_KEY", "stripe_api_key", "stripeKey"], BEARER, []),
    S("stripe-restricted-key", 3, lambda: "rk_live_" + pick([rs(B62, 24), "51" + rs(B62, 97)]),
      ["STRIPE_RESTRICTED_KEY", "stripe_key"], BEARER, []),
    S("stripe-webhook-secret", 3, tmpl("whsec_", B62, 32), ["STRIPE_WEBHOOK_SECRET", "endpoint_secret"], [], []),
    S("openai-api-key", 7, gen_openai, ["OPENAI_API_KEY", "openai_key", "apiKey"], BEARER, []),
    S("anthropic-api-key", 6, gen_anthropic, ["ANTHROPIC_API_KEY", "anthropic_key", "CLAUDE_API_KEY"],
      ["x-api-key: {}"], []),
    S("huggingface-token", 4, tmpl("hf_", UP + LOW, 34), ["HF_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "hf_token"], BEARER, []),
    S("groq-api-key", 3, tmpl("gsk_", B62, 52), ["GROQ_API_KEY", "groq_key"], BEARER, []),
    S("openrouter-api-key", 3, tmpl("sk-or-v1-", HEXL, 64), ["OPENROUTER_API_KEY", "openrouter_key"], BEARER, []),
    S("npm-token", 4, tmpl("npm_", B62, 36), ["NPM_TOKEN", "NODE_AUTH_TOKEN"], BEARER, [], xdocs=["npmrc"]),
    S("pypi-token", 4, lambda: "pypi-AgEIcHlwaS5vcmc" + rs(B64U, rint(120, 160)), ["PYPI_TOKEN", "TWINE_PASSWORD"], [], [],
      xdocs=["pypirc"]),
    S("rubygems-api-key", 3, tmpl("rubygems_", HEXL, 48), ["GEM_HOST_API_KEY", "rubygems_api_key"], ["Authorization: {}"], []),
    S("nuget-api-key", 3, tmpl("oy2", LOW + DIG, 43), ["NUGET_API_KEY", "nuget_key"], ["X-NuGet-ApiKey: {}"], []),
    S("dockerhub-pat", 3, tmpl("dckr_pat_", B64U, 27), ["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"], [], [],
      xdocs=["docker-login"]),
    S("new-relic-api-key", 3, tmpl("NRAK-", UPNUM, 27), ["NEW_RELIC_API_KEY", "newrelic_user_key"], ["Api-Key: {}"], []),
    S("sentry-auth-token", 3, lambda: "sntryu_" + rs(HEXL, 64), ["SENTRY_AUTH_TOKEN", "sentry_token"], BEARER, []),
    S("grafana-service-account-token", 3, lambda: "glsa_" + rs(B62, 32) + "_" + rs(HEXL, 8),
      ["GRAFANA_TOKEN", "grafana_api_key"], BEARER, []),
    S("planetscale-password", 3, tmpl("pscale_pw_", B64U, 43), ["PLANETSCALE_DB_PASSWORD", "DATABASE_PASSWORD"], [], []),
    S("databricks-token", 3, lambda: "dapi" + rs(HEXL, 32) + pick(["", "-2", "-3"]), ["DATABRICKS_TOKEN", "databricks_pat"],
      BEARER, []),
    S("supabase-access-token", 3, tmpl("sbp_", HEXL, 40), ["SUPABASE_ACCESS_TOKEN", "supabase_pat"], BEARER, []),
    S("terraform-cloud-token", 3, lambda: rs(B62, 14) + ".atlasv1." + rs(B62, 67), ["TFE_TOKEN", "TF_TOKEN_app_terraform_io"],
      BEARER, []),
    S("vault-token", 4, lambda: pick(["hvs.", "hvs.CAESI", "hvb."]) + rs(B64U, rint(90, 110)), ["VAULT_TOKEN", "vault_token"],
      ["X-Vault-Token: {}"], []),
    S("doppler-token", 3, lambda: pick(["dp.pt.", "dp.st.prd.", "dp.sa."]) + rs(B62, 43), ["DOPPLER_TOKEN"], BEARER, []),
    S("onepassword-service-account-token", 3, gen_1password, ["OP_SERVICE_ACCOUNT_TOKEN"], BEARER, []),
    S("sendgrid-api-key", 4, lambda: "SG." + rs(B64U, 22) + "." + rs(B64U, 43), ["SENDGRID_API_KEY", "sendgrid_key"],
      BEARER, []),
    S("mailgun-api-key", 3, tmpl("key-", HEXL, 32), ["MAILGUN_API_KEY", "mailgun_key"], [], []),
    S("mailchimp-api-key", 3, lambda: rs(HEXL, 32) + "-us" + str(rint(1, 21)), ["MAILCHIMP_API_KEY", "mc_api_key"], [], []),
    S("shopify-access-token", 3, lambda: pick(["shpat_", "shpss_", "shpca_"]) + rs(HEXL, 32),
      ["SHOPIFY_ACCESS_TOKEN", "shopify_token"], ["X-Shopify-Access-Token: {}"], []),
    S("digitalocean-token", 3, tmpl("dop_v1_", HEXL, 64), ["DIGITALOCEAN_TOKEN", "do_token"], BEARER, []),
    S("postman-api-key", 3, lambda: "PMAK-" + rs(HEXL, 24) + "-" + rs(HEXL, 34), ["POSTMAN_API_KEY"], ["X-Api-Key: {}"], []),
    S("square-access-token", 3, lambda: pick(["EAAA" + rs(B64U, 60), "sq0atp-" + rs(B64U, 22)]),
      ["SQUARE_ACCESS_TOKEN", "square_token"], BEARER, []),
    S("mapbox-secret-token", 3, gen_mapbox, ["MAPBOX_SECRET_TOKEN", "MAPBOX_DOWNLOADS_TOKEN"], [], ["access_token"]),
    S("atlassian-api-token", 3, lambda: "ATATT3xFfGF0" + rs(B64U, 170) + "=" + rs(HEXL.upper(), 8),
      ["JIRA_API_TOKEN", "CONFLUENCE_TOKEN", "atlassian_token"], [], []),
    S("linear-api-key", 3, tmpl("lin_api_", B62, 40), ["LINEAR_API_KEY"], ["Authorization: {}"], []),
]


# ---------------------------------------------------------------- financial documents

def f_csv(var, val):
    return "order_id,customer,%s,exp,amount\n%d,%s,%s,%02d/%02d,%d.%02d\n%d,%s,,,%d.00\n" % (
        var.lower(), rint(10000, 99999), person(), val, rint(1, 12), rint(25, 31), rint(5, 900), rint(0, 99),
        rint(10000, 99999), person(), rint(5, 90))


def f_json(var, val):
    return _j({"customer": {"name": person(), "email": email()}, "amount": rint(500, 99999),
               "currency": pick(["usd", "eur", "gbp"]), "payment": {var: val, "note": words(2)}})


def f_chat(var, val):
    return pick([
        "Please pay the invoice to %s, it's for the %s" % (val, words(2)),
        "my details: %s (%s). can you fill the checkout form for me?" % (val, var.replace("_", " ")),
        "send it to %s asap pls" % val,
        "Book the hotel with %s, name on account %s" % (val, person()),
    ])


def f_sql(var, val):
    return "INSERT INTO payouts (user_id, %s, amount) VALUES (%d, '%s', %d.%02d);" % (
        var.lower(), rint(1, 99999), val, rint(1, 5000), rint(0, 99))


def f_log(var, val):
    return "%s WARN payment-svc charge failed %s=%s reason=%s\n" % (iso_ts(), var, val,
                                                                  pick(["do_not_honor", "insufficient_funds", "timeout"]))


def f_xml(var, val):
    return "<payment>\n  <holder>%s</holder>\n  <%s>%s</%s>\n</payment>\n" % (person(), camel(var), val, camel(var))


def f_form(var, val):
    return "name=%s&%s=%s&amount=%d" % (qp(person()), var, qp(val), rint(1, 999))


def f_yaml(var, val):
    return "beneficiary:\n  name: %s\n  %s: \"%s\"\n  reference: INV-%d\n" % (person(), var, val, rint(1000, 99999))


def f_sepa(var, val):
    return ("<CdtTrfTxInf>\n  <Amt><InstdAmt Ccy=\"EUR\">%d.00</InstdAmt></Amt>\n  <Cdtr><Nm>%s</Nm></Cdtr>\n"
            "  <CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>\n</CdtTrfTxInf>\n" % (rint(10, 9000), person(), val.replace(" ", "")))


def f_bip21(var, val):
    return "Pay here: bitcoin:%s?amount=0.%04d&label=%s" % (val, rint(1, 9999), qp(words(1)))


FDOCS = {"f-csv": f_csv, "f-json": f_json, "f-chat": f_chat, "f-sql": f_sql, "f-log": f_log, "f-xml": f_xml,
         "f-form": f_form, "f-yaml": f_yaml, "f-sepa": f_sepa, "f-bip21": f_bip21}
FDOC_LAYERS = {"f-form": ["form-decode"]}


# class-specific extra documents: (val) -> doc
def x_aws_creds(val, name):
    akid = gen_aws_akid() if name != "aws-access-key-id" else val
    sec = gen_aws_secret() if name != "aws-secret-access-key" else val
    if name == "aws-secret-access-key" and R.random() < 0.5:
        return "[%s]\naws_secret_access_key = %s\nregion = us-east-1\n" % (pick(["default", "prod"]), sec)
    if name == "aws-access-key-id" and R.random() < 0.5:
        return "[%s]\naws_access_key_id = %s\noutput = json\n" % (pick(["default", "ci"]), akid)
    return "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (akid, sec)


def x_aws_sts(val, name):
    return _j({"Credentials": {"AccessKeyId": "ASIA" + rs("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), "SecretAccessKey": val,
                               "Expiration": iso_ts()}})


def x_git_remote(val, name):
    return pick(["git remote set-url origin https://%s@github.com/acme/%s.git" % (val, pick(["api", "infra", "web"])),
                 "git clone https://x-access-token:%s@github.com/acme/deploy.git" % val])


def x_npmrc(val, name):
    return "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nalways-auth=true\n" % val


def x_pypirc(val, name):
    return "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % val


def x_docker_login(val, name):
    return "echo %s | docker login -u acmebuild --password-stdin" % val


def x_webhook_curl(val, name):
    return "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy done\"}' %s" % val


XDOCS = {"aws-creds": x_aws_creds, "aws-sts": x_aws_sts, "git-remote": x_git_remote, "npmrc": x_npmrc,
         "pypirc": x_pypirc, "docker-login": x_docker_login, "webhook-curl": x_webhook_curl}

URL_HOSTS = ["paste.example.net", "webhook.site", "hooks.zapier.com", "api.notion.com", "requestbin.example.org",
             "api.example.com", "sheets.googleapis.com", "forms.example.io", "n8n.acme-tools.dev"]
EXFIL_DOMAINS = ["cdn-metrics.io", "stat-relay.net", "pixel-edge.com", "mtrack-cdn.org", "logpipe.dev", "x7k.link",
                 "sync-beacon.net", "ns.updates-check.com", "tele-kit.org", "edge-sync.cloud"]
DEFAULT_DOCS = [k for k in DOCS if k != "prose"]


def carrier_wrap(doc):
    c = wpick(CARRIERS)(doc)
    return c


def finish(case, layers):
    case["layers"] = layers
    return case


def body_case(doc, inner_layers):
    c = carrier_wrap(doc)
    case = {"where": "body", "content_type": c["content_type"]}
    if "raw" in c:
        case["raw"] = c["raw"]
        case["content_encoding"] = c["content_encoding"]
    else:
        case["text"] = c["text"]
    return finish(case, c["layers"] + inner_layers)


def compact(var, val):
    return pick(["%s=%s" % (var, val), json.dumps({var: val}, separators=(",", ":")), "%s: %s" % (var, val)])


def url_doc_case(doc, inner_layers):
    host = pick(URL_HOSTS)
    path = pick(["/api/v1/notes", "/share", "/hooks/catch/%d/%s" % (rint(1000, 99999), rs(LOW + DIG, 6)), "/log", "/q"])
    x = R.random()
    if x < 0.45:
        return finish({"where": "url", "text": "https://%s%s?text=%s&src=agent" % (host, path, q(doc))},
                      ["url-decode"] + inner_layers)
    if x < 0.7:
        return finish({"where": "url", "text": "https://%s%s?data=%s" % (host, path, q(q(doc)))},
                      ["url-decode", "url-decode"] + inner_layers)
    if x < 0.85:
        return finish({"where": "url", "text": "https://%s%s?q=%s" % (host, path, qp(doc))}, ["form-decode"] + inner_layers)
    return finish({"where": "url", "text": "https://%s%s?ctx=%s" % (host, path, b64u(doc.encode()))}, ["b64"] + inner_layers)


def place_generic(spec):
    g = spec["gen"]()
    if isinstance(g, dict):
        val, secret, extra = g["val"], g["secret"], g.get("extra", [])
    else:
        val, secret, extra = g, g, []
    hdrs, qs = spec["hdrs"], spec["qs"]
    modes = spec.get("modes") or {"body": 8, "header": 2.5 if hdrs else 0, "url": 1.5}
    mode = wpick([(m, w) for m, w in modes.items() if w > 0])
    var = pick(spec["vars"])
    if mode == "header":
        if R.random() < 0.12:
            return finish({"where": "header", "text": "%s: %s" % (pick(["X-Debug-Context", "X-Client-Meta", "X-Forwarded-Ctx"]),
                                                                  b64s(("%s=%s" % (var, val)).encode()))},
                          ["b64"] + extra), secret
        return finish({"where": "header", "text": pick(hdrs).format(val)}, extra), secret
    if mode == "url":
        if spec.get("xurls") and R.random() < 0.6:
            u = pick(spec["xurls"])
            u = u.replace("%d", str(rint(10 ** 6, 10 ** 9)))
            return finish({"where": "url", "text": u.format(val)}, extra), secret
        if qs and R.random() < 0.55:
            host = pick(URL_HOSTS)
            pre = pick(["", "format=json&", "v=2&", "page=1&"])
            layers = (["url-decode"] if q(val) != val else []) + extra
            return finish({"where": "url", "text": "https://%s/%s?%s%s=%s" % (
                host, pick(["v1/query", "api/send", "export", "track"]), pre, pick(qs), q(val))}, layers), secret
        return url_doc_case(compact(var, val), extra), secret
    # body
    x = R.random()
    inner = []
    if hdrs and (spec.get("hdoc_only") or x < 0.2):
        doc = pick(HDOCS)(pick(hdrs).format(val))
    elif spec.get("xdocs") and x < 0.45:
        doc = XDOCS[pick(spec["xdocs"])](val, spec["name"])
    elif spec.get("bare", True) and x < 0.34 and not spec.get("docs"):
        doc = d_prose(var, val)
    else:
        dt = pick(spec.get("docs") or DEFAULT_DOCS)
        if dt in FDOCS:
            doc = FDOCS[dt](var, val)
            inner = list(FDOC_LAYERS.get(dt, []))
            if secret not in doc and not inner and secret.replace(" ", "") in doc:
                secret = secret.replace(" ", "")
        else:
            doc = DOCS[dt](var, val)
            inner = list(DOC_LAYERS.get(dt, []))
    return body_case(doc, inner + extra), secret


# ---------------------------------------------------------------- special positive layouts

def sp_basic(spec):
    user = pick(["admin", "deploy", "ci-bot", "svc_reporting", "jenkins", email()])
    cred = "%s:%s" % (user, gen_password())
    hv = "Basic " + b64s(cred.encode())
    if R.random() < 0.5:
        return finish({"where": "header", "text": "%s: %s" % (pick(["Authorization", "Authorization", "Proxy-Authorization"]), hv)},
                      ["basic"]), cred
    return body_case(pick(HDOCS)("Authorization: " + hv), ["basic"]), cred


def sp_twilio(spec):
    tok = rs(HEXL, 32)
    sid = "AC" + rs(HEXL, 32)
    x = R.random()
    if x < 0.3:
        return finish({"where": "header", "text": "Authorization: Basic " + b64s(("%s:%s" % (sid, tok)).encode())},
                      ["basic"]), tok
    if x < 0.5:
        doc = ("curl -X POST https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json \\\n  --data-urlencode \"To=+1415555%04d\" \\\n"
               "  --data-urlencode \"Body=hello\" \\\n  -u %s:%s" % (sid, rint(0, 9999), sid, tok))
        return body_case(doc, []), tok
    if x < 0.6:
        doc = "from twilio.rest import Client\nclient = Client(\"%s\", \"%s\")\n" % (sid, tok)
        return body_case(doc, []), tok
    return place_generic(dict(spec, twilio=False))


def sp_userinfo(spec):
    user = pick(["deploy", "alice", "build-bot", "ops", "readonly"])
    pw = gen_password()
    qpw = q(pw)
    layers = ["url-decode"] if qpw != pw else []
    host = pick(["git.internal.example.com", "nexus.acme.io", "artifacts.example.org", "proxy.corp.example.net",
                 "files.example.com"])
    url = "https://%s:%s@%s/%s" % (user, qpw, host, pick(["team/repo.git", "repository/pypi/simple/", "share/report.pdf",
                                                         "api/v1/status"]))
    if R.random() < 0.55:
        return finish({"where": "url", "text": url}, layers), pw
    doc = pick(["[global]\nindex-url = %s\n", "git remote add upstream %s\n", "export HTTPS_PROXY=%s\n",
                "repositories:\n  - url: %s\n"]) % url
    return body_case(doc, layers), pw


def sp_sas(spec):
    g = gen_azure_sas()
    acct = pick(["acme", "media", "backups"]) + rs(LOW + DIG, 6)
    url = "https://%s.blob.core.windows.net/%s/%s?%s" % (acct, pick(["exports", "uploads", "logs"]),
                                                         pick(["report.csv", "db.bak", "2024/05/dump.json"]), g["val"])
    if R.random() < 0.5:
        return finish({"where": "url", "text": url}, ["url-decode"]), g["secret"]
    var = pick(spec["vars"])
    doc = pick([url, "%s=?%s" % (upper_snake(var), g["val"]), d_env(var, "?" + g["val"])])
    return body_case(doc, ["url-decode"]), g["secret"]


def _dns_labels(enc, maxlab):
    out = []
    i = 0
    while i < len(enc):
        n = rint(max(16, maxlab - 20), maxlab)
        out.append(enc[i:i + n])
        i += n
    return out


def sp_dns(spec):
    while True:
        if R.random() < 0.5:
            payload = rbytes(rint(16, 60))
        else:
            payload = pick(["%s:%s" % (pick(["root", "admin", "ubuntu"]), gen_password()),
                            "AWS_SECRET_ACCESS_KEY=" + gen_aws_secret(),
                            "token=" + rs(B62, 32), "id_ed25519 " + b64s(rbytes(24))]).encode()
        kind = pick(["hex", "b32", "b32", "b64u", "b62"])
        if kind == "hex":
            enc = payload.hex()
        elif kind == "b32":
            enc = base64.b32encode(payload).decode().rstrip("=")
            enc = enc.lower() if R.random() < 0.7 else enc
        elif kind == "b64u":
            enc = b64u(payload)
        else:
            n = int.from_bytes(payload, "big")
            enc = b62num(n, (len(payload) * 8 + 5) // 6 + 1)
        labels = _dns_labels(enc, pick([30, 40, 52, 63]))
        if any(not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", l) for l in labels):
            continue
        tail = [pick(["s%d" % rint(1, 999), "c%s" % rs(LOW + DIG, 4), "t"])] if R.random() < 0.6 else []
        host = ".".join(labels + tail + [pick(EXFIL_DOMAINS)])
        if len(host) <= 253 and len(labels) <= 5:
            break
    x = R.random()
    if x < 0.78:
        return finish({"where": "hostname", "text": host}, ["strip-dots"]), enc
    if x < 0.85:
        return finish({"where": "url", "text": "https://%s/%s" % (host, pick(["", "favicon.ico", "p.gif"]))},
                      ["strip-dots"]), enc
    return finish({"where": "url", "text": "https://%s?name=%s&type=%s" % (
        pick(["dns.google/resolve", "cloudflare-dns.com/dns-query"]), host, pick(["TXT", "A", "AAAA"]))}, ["strip-dots"]), enc


def sp_hiex(spec):
    data = rbytes(rint(30, 96))
    x = R.random()
    if x < 0.25:
        blob = pick([base64.b32encode(data[:36]).decode().rstrip("=").lower()[:63], data[:28].hex()])
        host = blob + "." + pick(EXFIL_DOMAINS)
        return finish({"where": "hostname", "text": host}, []), blob
    kind = pick(["b64u", "b64", "b62", "hex"])
    blob = {"b64u": b64u(data), "b64": b64s(data), "b62": b62num(int.from_bytes(data, "big"), len(data) * 4 // 3),
            "hex": data.hex()}[kind]
    enc = q(blob)
    layers = ["url-decode"] if enc != blob else []
    dom = pick(EXFIL_DOMAINS)
    if x < 0.4:
        return finish({"where": "url", "text": "https://%s/%s/%s%s" % (pick(["img.", "px.", "", "cdn."]) + dom,
                                                                     pick(["i", "p", "collect", "v1/e"]), enc,
                                                                     pick(["", ".gif", ".png", "/"]))}, layers), blob
    if x < 0.6:
        return finish({"where": "url", "text": "https://%s/%s?%s=%s&t=%d" % (
            pick(["", "t.", "api."]) + dom, pick(["b", "track", "sync"]), pick(["d", "v", "s", "u", "x"]), enc,
            rint(1700000000, 1760000000))}, layers), blob
    if x < 0.8:
        return finish({"where": "header", "text": "%s: %s" % (pick(["X-Session-Context", "X-Client-State", "X-Sync",
                                                                     "Cookie", "X-Req-Blob"]),
                                                               ("_s=" + blob) if R.random() < 0.3 else blob)}, []), blob
    y = R.random()
    if y < 0.33:
        return finish({"where": "body", "content_type": "application/x-www-form-urlencoded",
                       "text": "d=%s&v=1" % enc}, layers), blob
    if y < 0.66:
        return finish({"where": "body", "content_type": "text/plain", "text": blob}, []), blob
    return finish({"where": "body", "content_type": "application/json",
                   "text": json.dumps({"e": blob, "v": 1, "ts": rint(1700000000, 1760000000)})}, []), blob


def sp_dhex(spec):
    key = rbytes(pick([16, 24, 32, 32, 48, 64]))
    hx = key.hex()
    up = R.random() < 0.3
    pairs = [hx[i:i + 2].upper() if up else hx[i:i + 2] for i in range(0, len(hx), 2)]
    style = pick(["colon", "dash", "space", "comma", "bslash", "0x", "0x"])
    name = pick(["master_key", "aes_key", "hmac_secret", "signing_key", "encryption_key", "session_key", "SECRET_KEY",
                 "wallet_seed_key", "private_key_bytes"])
    if style == "colon":
        s = ":".join(pairs)
    elif style == "dash":
        s = "-".join(pairs)
    elif style == "space":
        s = " ".join(pairs)
    elif style == "comma":
        s = ",".join(pairs)
    elif style == "bslash":
        s = "".join("\\x" + p for p in pairs)
    else:
        s = ", ".join("0x" + p for p in pairs)
    n = len(key)
    if style == "0x":
        doc = pick(["static const uint8_t %s[%d] = { %s };" % (name, n, s),
                    "var %s = []byte{%s}" % (camel(name), s),
                    "const %s: [u8; %d] = [%s];" % (name.upper(), n, s),
                    "%s = bytes([%s])" % (name.upper(), s)])
    elif style == "bslash":
        doc = pick(["%s = b\"%s\"" % (name.upper(), s), "printf '%s' > /etc/app/%s.bin" % (s, name)])
    else:
        doc = pick(["%s derived %s: %s" % (iso_ts(), name.replace("_", " "), s),
                    json.dumps({name: s, "alg": pick(["AES-256-GCM", "HMAC-SHA256", "ChaCha20"])}),
                    "%s: \"%s\"" % (name, s),
                    "-- %s\n%s = %s\n" % (words(2), name, s)])
    x = R.random()
    if x < 0.12 and style not in ("bslash",):
        return finish({"where": "header", "text": "X-Debug-%s: %s" % (pick(["Key", "Secret", "Kdf"]), s)}, ["dehex"]), hx
    if x < 0.22:
        return finish({"where": "url", "text": "https://%s/debug?%s=%s" % (pick(URL_HOSTS), name, q(s))},
                      ["url-decode", "dehex"]), hx
    return body_case(doc, ["dehex"]), hx


SPECIALS = {"basic": sp_basic, "userinfo": sp_userinfo, "sas": sp_sas, "dns": sp_dns, "hiex": sp_hiex, "dhex": sp_dhex}


def make_positive(spec):
    if spec.get("special"):
        case, secret = SPECIALS[spec["special"]](spec)
    elif spec.get("twilio"):
        case, secret = sp_twilio(spec)
    else:
        case, secret = place_generic(spec)
    case["expect"] = spec["name"]
    case["secret"] = secret
    case["check"] = spec.get("check")
    return case


# ---------------------------------------------------------------- negatives

def H(t):
    return {"where": "header", "text": t}


def U(t):
    return {"where": "url", "text": t}


def N(t):
    return {"where": "hostname", "text": t}


def B(t, ct="application/json"):
    return {"where": "body", "content_type": ct, "text": t}


def BZ(raw, ct, enc):
    return {"where": "body", "content_type": ct, "content_encoding": enc, "raw": raw}


ORGS = ["acme", "globex", "initech", "umbrella-labs", "hooli", "stark-ind", "wayne-ent", "octo-org"]
REPOS = ["api", "web", "infra", "billing-service", "docs", "mobile-app", "data-pipeline", "cli"]


def sha40():
    return rbytes(20).hex()


def n_uuid():
    u = uuid4()
    return pick([
        lambda: U("https://api.example.com/v1/orders/%s" % u),
        lambda: U("https://app.%s.io/projects/%s/settings?tab=%s" % (pick(ORGS), u, pick(["members", "billing", "general"]))),
        lambda: H("%s: %s" % (pick(["X-Request-Id", "Idempotency-Key", "X-Correlation-ID"]), u)),
        lambda: B(_j({"id": u, "parent_id": uuid4(), "status": pick(["active", "archived"]), "created_at": iso_ts()})),
        lambda: B(_j({"jsonrpc": "2.0", "id": u, "method": "tools/call",
                      "params": {"name": "get_ticket", "arguments": {"ticket_id": uuid4()}}})),
    ])()


def n_git_sha():
    s = sha40()
    o, r = pick(ORGS), pick(REPOS)
    return pick([
        lambda: U("https://github.com/%s/%s/commit/%s" % (o, r, s)),
        lambda: U("https://api.github.com/repos/%s/%s/compare/%s...%s" % (o, r, s[:7], sha40()[:12])),
        lambda: U("https://raw.githubusercontent.com/%s/%s/%s/README.md" % (o, r, s)),
        lambda: B(_j({"ref": "refs/heads/main", "before": s, "after": sha40(), "repository": {"full_name": o + "/" + r}})),
        lambda: B(_j({"sha": s, "state": pick(["success", "pending"]), "context": "ci/build",
                      "target_url": "https://ci.example.com/builds/%d" % rint(1000, 99999)})),
        lambda: H("X-Git-Commit: %s" % s),
    ])()


def n_digest():
    h = rbytes(32).hex()
    return pick([
        lambda: B("%s  dist/%s-%d.%d.%d.tar.gz\n%s  dist/%s-%d.%d.%d-py3-none-any.whl\n" % (
            h, pick(REPOS), rint(0, 3), rint(0, 20), rint(0, 9), rbytes(32).hex(), pick(REPOS), rint(0, 3), rint(0, 20),
            rint(0, 9)), "text/plain"),
        lambda: U("https://registry-1.docker.io/v2/library/%s/blobs/sha256:%s" % (pick(["nginx", "redis", "python"]), h)),
        lambda: H("Docker-Content-Digest: sha256:%s" % h),
        lambda: H("Repr-Digest: sha-256=:%s:" % b64s(rbytes(32))),
        lambda: B(_j({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                                     "digest": "sha256:" + h, "size": rint(1000, 9000)}})),
        lambda: B(_j({"name": "release.zip", "sha512": rbytes(64).hex(), "md5": rbytes(16).hex()})),
    ])()


def n_asset():
    return pick([
        lambda: U("https://cdn.%s.com/assets/index-%s.js" % (pick(ORGS), rs(B62 + "_-", 8))),
        lambda: U("https://www.example.com/_next/static/chunks/pages/_app-%s.js" % rs(HEXL, 16)),
        lambda: U("https://static.example.net/css/main.%s.chunk.css" % rs(HEXL, 8)),
        lambda: U("https://assets.example.org/build/%s.woff2" % rs(HEXL, 20)),
        lambda: B("<!doctype html><html><head><link rel=\"stylesheet\" href=\"/static/app.%s.css\">"
                  "<script defer src=\"/static/vendor.%s.js\"></script></head><body></body></html>" % (rs(HEXL, 20), rs(HEXL, 20)),
                  "text/html"),
    ])()


def n_docid():
    gid = "1" + rs(B64U, 43)
    return pick([
        lambda: U("https://docs.google.com/document/d/%s/edit" % gid),
        lambda: U("https://docs.google.com/spreadsheets/d/%s/edit#gid=%d" % (gid, rint(0, 99999))),
        lambda: U("https://drive.google.com/file/d/%s/view?usp=sharing" % ("1" + rs(B64U, 32))),
        lambda: U("https://www.figma.com/file/%s/%s" % (rs(B62, 22), pick(["Design-System", "Onboarding", "Mobile"]))),
        lambda: U("https://www.notion.so/%s/%s-%s" % (pick(ORGS), pick(["Roadmap", "Q3-Planning", "Runbook"]), rs(HEXL, 32))),
        lambda: B(_j({"fileId": "1" + rs(B64U, 32), "mimeType": "application/vnd.google-apps.document",
                      "fields": "id,name,modifiedTime"})),
    ])()


def n_image():
    img = b64s(png_bytes(rint(4, 14), rint(4, 14)))
    return pick([
        lambda: B(_j({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this screenshot?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + img}}]}]})),
        lambda: B(_j({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": img}},
            {"type": "text", "text": "Describe the chart."}]}]})),
        lambda: B("<p>Logo:</p><img alt=\"logo\" src=\"data:image/png;base64,%s\">" % img, "text/html"),
        lambda: B(_j({"user_id": rint(1, 99999), "avatar": "data:image/png;base64," + img})),
        lambda: B(_j({"contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": img}},
                                              {"text": "Extract the table."}]}]})),
    ])()


def n_cursor():
    cur = b64s(json.dumps({"id": rint(1, 10 ** 7), "ts": rint(1700000000, 1760000000)}).encode())
    return pick([
        lambda: U("https://api.example.com/v1/events?limit=100&cursor=%s" % q(cur)),
        lambda: U("https://api.stripe.com/v1/customers?limit=50&starting_after=cus_%s" % rs(B62, 14)),
        lambda: B(_j({"query": "query($after:String){ repository(owner:\"%s\", name:\"%s\"){ issues(first:50, after:$after)"
                               "{ nodes { title } pageInfo { endCursor hasNextPage } } } }" % (pick(ORGS), pick(REPOS)),
                      "variables": {"after": b64s(("cursor:v2:" + rs(B62, 20)).encode())}})),
        lambda: B(_j({"channel": "C0" + rs(UPNUM, 9), "limit": 200, "cursor": b64s(("user:U0" + rs(UPNUM, 9)).encode())})),
        lambda: B(_j({"filter": {"property": "Status", "status": {"equals": "Done"}}, "page_size": 50,
                      "start_cursor": uuid4()})),
    ])()


def n_sri():
    return pick([
        lambda: B("<script src=\"https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js\" integrity=\"sha384-%s\" "
                  "crossorigin=\"anonymous\"></script>" % (pick(["bootstrap", "alpinejs", "htmx.org"]), rint(1, 5), rint(0, 9),
                                                          rint(0, 9), pick(["index", "bundle"]), b64s(rbytes(48))), "text/html"),
        lambda: B(_j({"name": pick(REPOS), "lockfileVersion": 3, "packages": {"node_modules/%s" % pick(["lodash", "react", "zod"]): {
            "version": "%d.%d.%d" % (rint(1, 18), rint(0, 20), rint(0, 9)),
            "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz", "integrity": "sha512-" + b64s(rbytes(64))}}})),
        lambda: B("\"%s@^%d.0.0\":\n  version \"%d.2.1\"\n  integrity sha512-%s\n" % (
            pick(["chalk", "debug", "ms"]), rint(1, 5), rint(1, 5), b64s(rbytes(64))), "text/plain"),
    ])()


def ssh_pub():
    k = pick(["ed25519", "ed25519", "ecdsa", "rsa"])
    if k == "ed25519":
        blob = b"\0\0\0\x0bssh-ed25519\0\0\0\x20" + rbytes(32)
        t = "ssh-ed25519"
    elif k == "ecdsa":
        blob = b"\0\0\0\x13ecdsa-sha2-nistp256\0\0\0\x08nistp256\0\0\0\x41\x04" + rbytes(64)
        t = "ecdsa-sha2-nistp256"
    else:
        blob = b"\0\0\0\x07ssh-rsa\0\0\0\x03\x01\x00\x01\0\0\x01\x01\x00" + bytes([0x80 | R.getrandbits(7)]) + rbytes(255)
        t = "ssh-rsa"
    return "%s %s %s@%s" % (t, b64s(blob), pick(FIRST).lower(), pick(["laptop", "build-01", "macbook", "wsl"]))


def n_ssh():
    k = ssh_pub()
    return pick([
        lambda: B(_j({"title": pick(["work laptop", "ci runner", "yubikey"]), "key": k})),
        lambda: B(_j({"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/call", "params": {"name": "append_file",
                      "arguments": {"path": "~/.ssh/authorized_keys", "content": k + "\n"}}})),
        lambda: B("#cloud-config\nusers:\n  - name: deploy\n    ssh_authorized_keys:\n      - %s\n" % k, "text/yaml"),
        lambda: B(_j({"name": "bastion", "public_key": k, "region": "fra1"})),
    ])()


BUL = ["••••", "****", "…", "xxxx"]


def n_masked():
    return pick([
        lambda: B(_j({"id": "key_" + rs(DIG, 6), "name": "production", "secret": "sk_live_" + "•" * rint(8, 24) + rs(DIG, 4),
                      "created": rint(1700000000, 1760000000)})),
        lambda: B(_j({"token_hint": "ghp_" + "*" * rint(20, 32), "scopes": ["repo", "workflow"]})),
        lambda: H("Authorization: Bearer %s" % ("*" * rint(8, 40))),
        lambda: B("Your new API key sk-…%s was created. Store it safely; we will not show it again." % rs(DIG, 4), "text/plain"),
        lambda: B(_j({"AccessKeyId": "AKIA" + "*" * 16, "Status": "Active", "CreateDate": iso_ts()})),
        lambda: B("DATABASE_URL=postgres://app:********@db.internal:5432/app\nREDIS_URL=redis://:••••••@cache:6379\n",
                  "text/plain"),
        lambda: B(_j({"password": "••••••••", "username": pick(FIRST).lower(), "remember": True})),
        lambda: B(_j({"webhook": "https://hooks.slack.com/services/T" + "•" * 9 + "/B" + "•" * 9 + "/" + "•" * 24})),
        lambda: H("X-Api-Key: %s" % ("*" * rint(12, 32))),
        lambda: B("token: xoxb-****-****-**** (redacted)", "text/plain"),
    ])()


def n_placeholder():
    v = pick(["OPENAI_API_KEY", "STRIPE_SECRET_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN"])
    return pick([
        lambda: B("%s=${%s}\nPORT=3000\n" % (v, v), "text/plain"),
        lambda: B("env:\n  %s: ${{ secrets.%s }}\n" % (v, v), "text/yaml"),
        lambda: B(_j({"api_key": "<YOUR_API_KEY>", "base_url": "https://api.example.com"})),
        lambda: H("Authorization: Bearer <%s>" % pick(["token", "YOUR_TOKEN", "access-token"])),
        lambda: B("password: \"{{ vault_db_password }}\"\nuser: app\n", "text/yaml"),
        lambda: B("curl -H \"Authorization: Bearer $%s\" https://api.example.com/v1/me" % v, "text/plain"),
        lambda: U("https://api.example.com/v1/search?q=test&api_key=%s" % q("{{API_KEY}}")),
        lambda: B(_j({"aws_secret_access_key": "%(aws_secret)s", "region": "us-east-1"})),
        lambda: B("<add key=\"ConnectionString\" value=\"#{ConnectionString}#\" />", "application/xml"),
    ])()


PROSE = [
    "How do I rotate a GitHub personal access token without breaking CI?",
    "What's the difference between a Stripe publishable key and a secret key?",
    "Explain how AWS access keys and secret keys are used to sign requests.",
    "Wie speichere ich API-Schlüssel sicher in einer Kubernetes-Umgebung?",
    "Comment révoquer un jeton d'accès compromis dans GitLab ?",
    "¿Cuál es la mejor práctica para guardar contraseñas en una base de datos?",
    "Como faço para configurar variáveis de ambiente secretas no GitHub Actions?",
    "APIキーを安全に管理する方法を教えてください。",
    "如何在不泄露密钥的情况下调试 OAuth 流程?",
    "Пожалуйста, объясни, как работает ротация паролей в Vault.",
    "Our policy: never paste tokens into chat. Use the secrets manager and reference them by name.",
    "Can you summarise the OWASP guidance on credential storage in three bullet points?",
    "Ile znaków powinno mieć bezpieczne hasło i dlaczego?",
    "IBAN numaramı kimseyle paylaşmamam gerektiğini biliyorum, peki neden?",
    "Write a haiku about forgetting your password.",
]


def n_prose():
    t = pick(PROSE)
    return pick([
        lambda: B(_j({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": t}]})),
        lambda: B(_j({"model": "claude-3-5-haiku-latest", "max_tokens": 800, "messages": [{"role": "user", "content": t}]})),
        lambda: B(_j({"channel": "C0" + rs(UPNUM, 9), "text": t})),
        lambda: U("https://www.google.com/search?q=%s" % qp(t)),
    ])()


def n_code():
    return pick([
        lambda: "import os\nimport stripe\n\nstripe.api_key = os.environ[\"STRIPE_SECRET_KEY\"]\n",
        lambda: "const openai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });\n",
        lambda: "token := os.Getenv(\"GITHUB_TOKEN\")\nif token == \"\" {\n\tlog.Fatal(\"GITHUB_TOKEN not set\")\n}\n",
        lambda: "secret = boto3.client('secretsmanager').get_secret_value(SecretId='prod/%s/db')['SecretString']\n" % pick(REPOS),
        lambda: "provider \"aws\" {\n  access_key = var.aws_access_key\n  secret_key = var.aws_secret_key\n}\n",
        lambda: "password = getpass.getpass(\"DB password: \")\nconn = psycopg.connect(host=HOST, user=USER, password=password)\n",
        lambda: "headers = {\"Authorization\": f\"Bearer {token}\"}\nresp = httpx.get(url, headers=headers)\n",
        lambda: "export ANTHROPIC_API_KEY=\"$(op read op://Private/anthropic/credential)\"\n",
        lambda: "api_key = config.get('credentials', 'api_key')\nclient = Client(api_key=api_key)\n",
    ])()


def n_code_case():
    c = n_code()
    return pick([
        lambda: B(_j({"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/call",
                      "params": {"name": "write_file", "arguments": {"path": "src/%s" % pick(["client.py", "main.go", "app.ts"]),
                                                                     "content": c}}})),
        lambda: B(_j({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Refactor this:\n```\n%s```" % c}]})),
        lambda: B(c, "text/plain"),
        lambda: B(_j({"files": {"snippet.txt": {"content": c}}, "public": False})),
    ])()


def bad_luhn(n):
    while True:
        s = pick(["4", "5", "37", "6011"]) + rs(DIG, n - 1)
        s = s[:n]
        if not luhn_ok(s):
            return s


def n_luhn_invalid():
    s = bad_luhn(pick([15, 16, 16, 16]))
    g = " ".join(s[i:i + 4] for i in range(0, len(s), 4))
    return pick([
        lambda: B(_j({"reference": s, "type": "bank_transfer", "amount": rint(100, 9999)})),
        lambda: B("tracking,carrier\n%s,%s\n" % (s, pick(["DHL", "UPS", "PostNL"])), "text/csv"),
        lambda: B(_j({"card_number": g, "valid": False, "error": "card number failed checksum"})),
        lambda: U("https://api.example.com/v1/shipments/%s/status" % s),
        lambda: B(_j({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Is %s a valid card number?" % g}]})),
    ])()


def n_phone():
    p = pick(["+1 (415) 555-%04d" % rint(100, 199), "+44 20 7946 %04d" % rint(0, 999), "+49 30 %08d" % rint(0, 10 ** 8 - 1),
              "+1415555%04d" % rint(100, 199), "+81 3-%04d-%04d" % (rint(1000, 9999), rint(1000, 9999)),
              "(212) 555-%04d" % rint(100, 199)])
    return pick([
        lambda: B("To=%s&From=%s&Body=%s" % (qp(p), qp("+1202555%04d" % rint(100, 199)), qp("Your code is ready")),
                  "application/x-www-form-urlencoded"),
        lambda: B(_j({"name": person(), "phone": p, "email": email()})),
        lambda: U("https://api.example.com/v1/contacts?phone=%s" % q(p)),
        lambda: B("BEGIN:VCARD\nVERSION:3.0\nFN:%s\nTEL;TYPE=cell:%s\nEND:VCARD\n" % (person(), p), "text/vcard"),
    ])()


def isbn13():
    b = pick(["978", "979"]) + rs(DIG, 9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(b))
    return b + str((10 - s % 10) % 10)


def n_isbn():
    i = isbn13()
    h = "%s-%s-%s-%s-%s" % (i[:3], i[3], i[4:8], i[8:12], i[12])
    return pick([
        lambda: U("https://openlibrary.org/isbn/%s.json" % i),
        lambda: B(_j({"title": words(3).title(), "isbn": h, "author": person()})),
        lambda: B("title,isbn,qty\n%s,%s,%d\n" % (words(2).title(), i, rint(1, 20)), "text/csv"),
        lambda: U("https://www.googleapis.com/books/v1/volumes?q=isbn:%s" % i),
    ])()


def n_order():
    return pick([
        lambda: B(_j({"order_id": "ORD-%d-%06d" % (rint(2020, 2025), rint(1, 999999)), "status": "shipped"})),
        lambda: U("https://www.example-shop.com/orders/%03d-%07d-%07d" % (rint(100, 999), rint(0, 10 ** 7 - 1), rint(0, 10 ** 7 - 1))),
        lambda: B("Hi, my order #%d hasn't arrived yet, can you check?" % rint(1000, 99999), "text/plain"),
        lambda: B(_j({"invoice": "INV-%s-%04d" % (rs(UP, 3), rint(1, 9999)), "po_number": "PO%08d" % rint(0, 10 ** 8 - 1)})),
        lambda: H("X-Order-Ref: SO-%d-%05d" % (rint(2020, 2025), rint(0, 99999))),
    ])()


def n_timestamp():
    t = rint(1600000000, 1760000000)
    return pick([
        lambda: U("https://api.example.com/v1/metrics?from=%d&to=%d&step=60" % (t, t + 3600)),
        lambda: B(_j({"event": "page_view", "ts": t * 1000 + rint(0, 999), "received_at": iso_ts()})),
        lambda: H("X-Request-Start: t=%d%06d" % (t, rint(0, 999999))),
        lambda: H("If-Modified-Since: %s, %02d %s 2024 %02d:%02d:%02d GMT" % (
            pick(["Mon", "Tue", "Wed"]), rint(1, 28), pick(["Jan", "Feb", "Mar", "Apr"]), rint(0, 23), rint(0, 59), rint(0, 59))),
        lambda: B("%s INFO job=%s duration_ms=%d\n" % (iso_ts(), pick(REPOS), rint(1, 99999)), "text/plain"),
    ])()


def n_version():
    v = "%d.%d.%d" % (rint(0, 20), rint(0, 40), rint(0, 99))
    return pick([
        lambda: H("User-Agent: %s" % pick(["python-requests/2.%d.%d" % (rint(20, 32), rint(0, 5)),
                                           "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36"
                                           % (rint(110, 130), rint(4000, 6999), rint(10, 200)),
                                           "claude-cli/%s (external, cli)" % v, "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"])),
        lambda: B(_j({"name": pick(REPOS), "version": v, "dependencies": {"react": "^18.%d.0" % rint(0, 3)}})),
        lambda: U("https://pypi.org/pypi/%s/%s/json" % (pick(["requests", "numpy", "fastapi"]), v)),
        lambda: H("X-App-Version: %s+build.%d" % (v, rint(1, 9999))),
    ])()


def mac():
    return pick([":", "-"]).join("%02x" % b for b in rbytes(6))


def n_mac():
    m = mac()
    return pick([
        lambda: B(_j({"hostname": pick(["printer-2f", "ap-lobby", "nas01"]), "mac": m, "ip": "192.168.%d.%d" % (rint(0, 9), rint(2, 250))})),
        lambda: B("lease %s {\n  hardware ethernet %s;\n}\n" % ("10.0.%d.%d" % (rint(0, 9), rint(2, 250)), m.replace("-", ":")), "text/plain"),
        lambda: U("https://api.macvendors.com/%s" % q(m)),
        lambda: B("device,mac,last_seen\nthermostat,%s,%s\ncamera,%s,%s\n" % (m, iso_ts(), mac(), iso_ts()), "text/csv"),
    ])()


def n_ip():
    ip4 = "%d.%d.%d.%d" % (rint(1, 223), rint(0, 255), rint(0, 255), rint(1, 254))
    ip6 = "2001:db8:%x:%x::%x" % (rint(0, 65535), rint(0, 65535), rint(1, 65535))
    return pick([
        lambda: H("X-Forwarded-For: %s, 10.0.%d.%d" % (ip4, rint(0, 9), rint(1, 250))),
        lambda: B(_j({"cidr_blocks": [ip4 + "/32", "10.%d.0.0/16" % rint(0, 255)], "ipv6": ip6})),
        lambda: U("https://ipinfo.io/%s/json" % ip4),
        lambda: B("%s - - [12/May/2024:10:%02d:%02d +0000] \"GET /health HTTP/1.1\" 200 2\n" % (ip4, rint(0, 59), rint(0, 59)), "text/plain"),
    ])()


def n_cloud_host():
    return N(pick([
        lambda: "ec2-%d-%d-%d-%d.%s.compute.amazonaws.com" % (rint(3, 54), rint(0, 255), rint(0, 255), rint(1, 254),
                                                              pick(["eu-west-1", "us-west-2", "ap-south-1"])),
        lambda: "%s-%s.s3.%s.amazonaws.com" % (pick(ORGS), pick(["assets", "backups", "logs"]), pick(["eu-west-1", "us-east-2"])),
        lambda: "%s%s.blob.core.windows.net" % (pick(ORGS).replace("-", ""), rs(LOW + DIG, 4)),
        lambda: "d%s.cloudfront.net" % rs(LOW + DIG, 13),
        lambda: "%s.execute-api.%s.amazonaws.com" % (rs(LOW + DIG, 10), pick(["us-east-1", "eu-central-1"])),
        lambda: "%s-%s-uc.a.run.app" % (pick(REPOS), rs(LOW + DIG, 10)),
        lambda: "%s-prod.firebaseapp.com" % pick(ORGS),
        lambda: "%s.%s.cache.amazonaws.com" % (pick(["redis", "memc"]) + "-" + rs(LOW + DIG, 6), "use1"),
        lambda: "storage.googleapis.com",
    ])())


def n_preview_host():
    return N(pick([
        lambda: "%s-git-%s-%s.vercel.app" % (pick(REPOS), pick(["feat-login", "fix-nav", "main"]), pick(ORGS)),
        lambda: "%s-%s-%s.vercel.app" % (pick(REPOS), rs(LOW + DIG, 9), pick(ORGS)),
        lambda: "deploy-preview-%d--%s.netlify.app" % (rint(1, 999), pick(ORGS)),
        lambda: "%s.%s.pages.dev" % (rs(HEXL, 8), pick(REPOS)),
        lambda: "%s-pr-%d.onrender.com" % (pick(REPOS), rint(1, 999)),
        lambda: "%s-%s.herokuapp.com" % (pick(REPOS), rs(HEXL, 12)),
        lambda: "pr-%d.%s.fly.dev" % (rint(1, 999), pick(REPOS)),
        lambda: "%s--%s.web.app" % (pick(ORGS), "pr%d-%s" % (rint(1, 99), rs(LOW + DIG, 8))),
    ])())


def n_analytics():
    cid = "%d.%d" % (rint(10 ** 8, 2 * 10 ** 9), rint(1600000000, 1760000000))
    return pick([
        lambda: U("https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%s&en=page_view" % (rs(UPNUM, 10), cid)),
        lambda: H("Cookie: _ga=GA1.1.%s; _gid=GA1.2.%d.%d; theme=dark" % (cid, rint(10 ** 8, 10 ** 9), rint(1600000000, 1760000000))),
        lambda: B("<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-%s\"></script>" % rs(UPNUM, 10), "text/html"),
        lambda: U("https://www.googletagmanager.com/gtm.js?id=GTM-%s" % rs(UPNUM, 7)),
        lambda: B(_j({"anonymousId": uuid4(), "event": "Signed Up", "properties": {"plan": "pro"}})),
    ])()


def n_trace():
    tid, sid = rbytes(16).hex(), rbytes(8).hex()
    return pick([
        lambda: H("traceparent: 00-%s-%s-01" % (tid, sid)),
        lambda: H("X-Amzn-Trace-Id: Root=1-%08x-%s;Parent=%s;Sampled=1" % (rint(0x60000000, 0x70000000), rbytes(12).hex(), sid)),
        lambda: H("X-B3-TraceId: %s" % tid),
        lambda: H("X-Cloud-Trace-Context: %s/%d;o=1" % (tid, rint(10 ** 15, 10 ** 18))),
        lambda: H("sentry-trace: %s-%s-1" % (tid, sid)),
        lambda: B(_j({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": tid, "spanId": sid, "name": "GET /api"}]}]}]})),
    ])()


def n_ordinary():
    o, r = pick(ORGS), pick(REPOS)
    return pick([
        lambda: U("https://api.github.com/repos/%s/%s/issues?state=open&per_page=%d" % (o, r, pick([30, 50, 100]))),
        lambda: U("https://registry.npmjs.org/%s" % pick(["react", "@types/node", "left-pad", "zod"])),
        lambda: H("Accept: application/vnd.github+json"),
        lambda: H("Accept-Language: %s" % pick(["en-US,en;q=0.9", "de-DE,de;q=0.8,en;q=0.5", "ja,en-US;q=0.7"])),
        lambda: H("Content-Type: application/json; charset=utf-8"),
        lambda: U("https://en.wikipedia.org/w/api.php?action=query&format=json&titles=%s" % qp(words(2).title())),
        lambda: U("https://api.open-meteo.com/v1/forecast?latitude=%.2f&longitude=%.2f&hourly=temperature_2m" % (
            R.uniform(-60, 60), R.uniform(-150, 150))),
        lambda: H("Cache-Control: no-cache"),
    ])()


def n_compressed():
    obj = pick([
        lambda: {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Translate to French: " + words(6)}]},
        lambda: {"events": [{"name": "click", "ts": iso_ts(), "target": "#buy"} for _ in range(rint(2, 6))]},
        lambda: {"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/list"},
        lambda: {"rows": [[rint(1, 999), words(2), round(R.random() * 100, 2)] for _ in range(rint(3, 10))]},
    ])()
    raw = json.dumps(obj).encode()
    if R.random() < 0.5:
        return BZ(gz(raw), "application/json", "gzip")
    return BZ(zlib.compress(raw, 6), "application/json", "deflate")


def n_llm():
    t = pick(["Write a Python function that merges two sorted lists.", "Summarise this article in 3 bullets: " + words(20),
              "What is the capital of Australia?", "Draft a polite reminder email about the " + words(2) + " meeting.",
              "Explain the CAP theorem with an example.", "Generate 5 names for a coffee shop."])
    return pick([
        lambda: B(_j({"model": "gpt-4o", "messages": [{"role": "system", "content": "Be concise."}, {"role": "user", "content": t}],
                      "stream": True})),
        lambda: B(_j({"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "You are helpful.",
                      "messages": [{"role": "user", "content": t}]})),
        lambda: B(_j({"contents": [{"role": "user", "parts": [{"text": t}]}]})),
        lambda: B(_j({"model": "mistral-large-latest", "messages": [{"role": "user", "content": t}], "temperature": 0.7})),
    ])()


def n_mcp():
    return B(_j(pick([
        lambda: {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
                 "capabilities": {"roots": {"listChanged": True}}, "clientInfo": {"name": "agent", "version": "1.%d.0" % rint(0, 9)}}},
        lambda: {"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/list"},
        lambda: {"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/call", "params": {"name": "read_file",
                 "arguments": {"path": "src/%s" % pick(["index.ts", "main.py", "lib.rs"])}}},
        lambda: {"jsonrpc": "2.0", "id": rint(1, 99), "method": "tools/call", "params": {"name": "search_issues",
                 "arguments": {"query": words(3), "limit": 10}}},
        lambda: {"jsonrpc": "2.0", "method": "notifications/initialized"},
        lambda: {"jsonrpc": "2.0", "id": rint(1, 99), "result": {"content": [{"type": "text", "text": words(12)}], "isError": False}},
    ])()))


def n_oauth():
    verifier = rbytes(32)
    chal = b64u(hashlib.sha256(verifier).digest())
    state = b64u(rbytes(16))
    return pick([
        lambda: U("https://accounts.google.com/o/oauth2/v2/auth?client_id=%d-%s.apps.googleusercontent.com&redirect_uri=%s"
                  "&response_type=code&scope=%s&state=%s&code_challenge=%s&code_challenge_method=S256" % (
                      rint(10 ** 11, 10 ** 12), rs(LOW + DIG, 32), q("http://localhost:8765/callback"), q("openid email"),
                      state, chal)),
        lambda: U("https://github.com/login/oauth/authorize?client_id=Iv1.%s&state=%s&scope=repo" % (rs(HEXL, 16), state)),
        lambda: U("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=%s&response_type=code"
                  "&response_mode=query&scope=%s&state=%s&nonce=%s" % (uuid4(), q("offline_access User.Read"), state, rs(B62, 16))),
        lambda: B("response_type=code&client_id=%s&redirect_uri=%s&code_challenge=%s&code_challenge_method=S256&state=%s" % (
            rs(B62, 20), q("https://app.example.com/cb"), chal, state), "application/x-www-form-urlencoded"),
    ])()


def n_publishable():
    return pick([
        lambda: B("const stripe = Stripe('%s');\n" % (pick(["pk_live_", "pk_test_"]) + "51" + rs(B62, 97)), "application/javascript"),
        lambda: B(_j({"publishableKey": pick(["pk_live_", "pk_test_"]) + rs(B62, 24), "locale": "auto"})),
        lambda: B("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_test_%s\n" % rs(B62, 24), "text/plain"),
        lambda: B("<script>window.__CLERK_PUBLISHABLE_KEY='pk_live_%s'</script>" % b64s(("clerk.%s.com$" % pick(ORGS)).encode()),
                  "text/html"),
    ])()


def n_hexlen():
    return pick([
        lambda: B(_j({"jsonrpc": "2.0", "id": rint(1, 99), "method": "eth_getTransactionReceipt", "params": ["0x" + rbytes(32).hex()]})),
        lambda: U("https://etherscan.io/tx/0x%s" % rbytes(32).hex()),
        lambda: B(_j({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}) + "\n" +
                  _j({"selector": "0x" + rbytes(4).hex(), "blockHash": "0x" + rbytes(32).hex()})),
        lambda: B(_j({"color": "#%s" % rbytes(3).hex(), "flags": "0x%s" % rbytes(2).hex(), "mask": "0x" + rbytes(19).hex() + "f"})),
    ])()


def n_iban_like():
    x = R.random()
    if x < 0.4:
        s = pick(["XX", "ZZ", "US", "QQ"]) + "%02d" % rint(2, 98) + rs(UPNUM, rint(14, 26))
    elif x < 0.8:
        cc = pick(["DE", "GB", "FR", "NL", "ES", "IT", "BE"])
        bl = IBAN_LEN[cc] - 4 + pick([-3, -2, -1, 1, 2, 3])
        bban = rs(DIG, bl)
        s = "%s%02d%s" % (cc, 98 - _iban_num(bban + cc + "00") % 97, bban)
    else:
        s = "DE%02d%s" % (rint(0, 99), rs(DIG, 18))
        while iban_ok(s):
            s = "DE%02d%s" % (rint(0, 99), rs(DIG, 18))
    return pick([
        lambda: B(_j({"reference": s, "note": "not an account number", "batch": rint(1, 99)})),
        lambda: B("code,desc\n%s,%s\n" % (s, words(2)), "text/csv"),
        lambda: U("https://api.example.com/v1/lookup?ref=%s" % s),
    ])()


def n_crypto_like():
    x = R.random()
    if x < 0.5:
        s = pick("13") + rs(B58 + "0OIl", 32)
        while not any(c in s for c in "0OIl"):
            s = s[:-1] + pick("0OIl")
    elif x < 0.8:
        s = "bc1q" + rs(BECH + "bio", 38)
        while not any(c in s[4:] for c in "bio"):
            s = s[:-1] + pick("bio")
    else:
        s = "0x" + rbytes(19).hex() + rs(HEXL, 1) + pick("ghz")
    return pick([
        lambda: B(_j({"sku": s, "qty": rint(1, 9)})),
        lambda: B("ref %s failed validation" % s, "text/plain"),
        lambda: U("https://api.example.com/v1/items/%s" % s),
    ])()


def n_form():
    return pick([
        lambda: B("q=%s&page=%d&sort=relevance" % (qp(words(3)), rint(1, 9)), "application/x-www-form-urlencoded"),
        lambda: B("email=%s&list=newsletter&consent=yes" % qp(email()), "application/x-www-form-urlencoded"),
        lambda: B("name=%s&email=%s&message=%s" % (qp(person()), qp(email()), qp(words(10))), "application/x-www-form-urlencoded"),
        lambda: B("grant_type=client_credentials&scope=%s" % qp("read:metrics"), "application/x-www-form-urlencoded"),
    ])()


def n_config():
    return pick([
        lambda: B("server:\n  port: %d\n  read_timeout: 30s\nauth:\n  password_min_length: %d\n  token_ttl_seconds: %d\n"
                  "  secret_backend: vault\n" % (rint(3000, 9000), rint(8, 16), rint(300, 86400)), "text/yaml"),
        lambda: B("[tool.poetry]\nname = \"%s\"\nversion = \"0.%d.0\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n" % (
            pick(REPOS), rint(1, 30)), "application/toml"),
        lambda: B("[database]\nhost = db.internal\nport = 5432\nname = app\nsslmode = require\npool = %d\n" % rint(5, 50), "text/plain"),
        lambda: B(_j({"compilerOptions": {"target": "ES2022", "strict": True, "outDir": "dist"}, "include": ["src"]})),
        lambda: B("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n  template:\n    spec:\n"
                  "      containers:\n        - name: app\n          image: ghcr.io/%s/%s:%d.%d\n          envFrom:\n"
                  "            - secretRef:\n                name: app-secrets\n" % (pick(REPOS), rint(1, 5), pick(ORGS), pick(REPOS),
                                                                                      rint(1, 9), rint(0, 30)), "text/yaml"),
    ])()


def n_etag():
    return pick([
        lambda: H("ETag: W/\"%x-%s\"" % (rint(100, 99999), rs(B64U.replace("-", ""), 27))),
        lambda: H("If-None-Match: \"%s\"" % rbytes(16).hex()),
        lambda: H("Cache-Control: public, max-age=%d, immutable" % pick([60, 3600, 31536000])),
        lambda: H("Vary: Accept-Encoding, Origin"),
        lambda: H("If-Match: \"%d\"" % rint(1, 10 ** 6)),
    ])()


NEG = [
    ("uuid", 11, n_uuid), ("git-sha", 11, n_git_sha), ("content-digest", 11, n_digest), ("hashed-asset-path", 10, n_asset),
    ("cloud-document-id", 11, n_docid), ("base64-image", 10, n_image), ("pagination-cursor", 10, n_cursor),
    ("sri-hash", 10, n_sri), ("ssh-public-key", 10, n_ssh), ("masked-secret", 12, n_masked),
    ("placeholder-secret", 11, n_placeholder), ("prose-about-secrets", 12, n_prose), ("code-referencing-secrets", 11, n_code_case),
    ("luhn-invalid-number", 10, n_luhn_invalid), ("phone-number", 10, n_phone), ("isbn", 10, n_isbn),
    ("order-number", 10, n_order), ("timestamp", 10, n_timestamp), ("version-string", 10, n_version),
    ("mac-address", 10, n_mac), ("ip-address", 10, n_ip), ("cloud-hostname", 11, n_cloud_host),
    ("deploy-preview-hostname", 11, n_preview_host), ("analytics-id", 10, n_analytics), ("trace-id", 11, n_trace),
    ("ordinary-api-request", 11, n_ordinary), ("compressed-benign-body", 10, n_compressed), ("benign-llm-request", 11, n_llm),
    ("benign-mcp-request", 10, n_mcp), ("oauth-public-params", 10, n_oauth), ("publishable-key", 10, n_publishable),
    ("hex-wrong-length", 10, n_hexlen), ("iban-lookalike", 10, n_iban_like), ("crypto-address-lookalike", 10, n_crypto_like),
    ("benign-form-post", 10, n_form), ("benign-config-file", 10, n_config), ("cache-etag-header", 10, n_etag),
]


# ---------------------------------------------------------------- decoding layers

def b64_any(tok):
    t = tok.rstrip("=")
    if len(t) % 4 == 1:
        return None
    t += "=" * (-len(t) % 4)
    try:
        if "-" in t or "_" in t:
            return base64.urlsafe_b64decode(t.encode())
        return base64.b64decode(t.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _unpack(d):
    if d[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(d)
        except Exception:
            return d
    if d[:1] == b"\x78":
        try:
            return zlib.decompress(d)
        except Exception:
            return d
    return d


def L_b64(t):
    out = [t]
    for m in re.finditer(r"[A-Za-z0-9+/_-]{12,}={0,2}", t):
        d = b64_any(m.group(0))
        if d:
            out.append(_unpack(d).decode("utf-8", "replace"))
    return "\n".join(out)


def L_hex(t):
    out = [t]
    for m in re.finditer(r"[0-9a-fA-F]{16,}", t):
        h = m.group(0)
        if len(h) % 2 == 0:
            out.append(_unpack(bytes.fromhex(h)).decode("utf-8", "replace"))
    return "\n".join(out)


def L_basic(t):
    out = [t]
    for m in re.finditer(r"Basic\s+([A-Za-z0-9+/]{4,}={0,2})", t):
        d = b64_any(m.group(1))
        if d:
            out.append(d.decode("utf-8", "replace"))
    return "\n".join(out)


def L_json_u(t):
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), t)


def L_qp(t):
    return quopri.decodestring(t.encode("utf-8")).decode("utf-8", "replace")


def L_dehex(t):
    t = t.replace("\\x", "").replace("\\X", "").replace("0x", "").replace("0X", "")
    return re.sub(r"[\s,:\-\\]", "", t).lower()


LAYERS = {
    "url-decode": urllib.parse.unquote, "form-decode": urllib.parse.unquote_plus, "b64": L_b64, "hex": L_hex,
    "json-u": L_json_u, "html": html.unescape, "qp": L_qp, "basic": L_basic, "dehex": L_dehex,
    "strip-dots": lambda t: t.replace("."), "lower": str.lower,
}
LAYERS["strip-dots"] = lambda t: t.replace(".", "")


def line_text(line):
    if "text" in line:
        return line["text"]
    raw = base64.b64decode(line["base64"], validate=True)
    ce = line.get("content_encoding")
    if ce == "gzip":
        raw = gzip.decompress(raw)
    elif ce == "deflate":
        raw = zlib.decompress(raw)
    return raw.decode("utf-8")


def recover(text, layers):
    for l in layers:
        text = LAYERS[l](text)
    return text


def validate_secret(secret, kind):
    if kind is None:
        return True
    if kind == "luhn":
        d = re.sub(r"[ \-]", "", secret)
        return d.isdigit() and 13 <= len(d) <= 19 and luhn_ok(d)
    if kind == "iban":
        return iban_ok(secret)
    if kind == "btc":
        if secret.lower().startswith("bc1"):
            k = bech32_kind(secret)
            if k is None:
                return False
            ver = BECH.index(secret.lower()[3])
            return (ver == 0 and k == "bech32") or (ver >= 1 and k == "bech32m")
        return b58check_ok(secret) and b58dec(secret)[0] in (0, 5)
    if kind == "eth":
        return re.fullmatch(r"0x[0-9a-fA-F]{40}", secret) is not None and eip55_ok(secret)
    return False


# ---------------------------------------------------------------- negative scanner

VENDOR_RES = [re.compile(r"(?<![A-Za-z0-9])" + p) for p in [
    r"gh[pousr]_[A-Za-z0-9]{20,}", r"github_pat_[A-Za-z0-9_]{20,}", r"gl(?:pat|rt|dt|ptt)-[A-Za-z0-9_\-]{16,}",
    r"xox[abposer]-[A-Za-z0-9\-]{10,}", r"xapp-\d-[A-Za-z0-9\-]{10,}", r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
    r"whsec_[A-Za-z0-9+/=]{16,}", r"sk-[A-Za-z0-9_\-]{20,}", r"A[KS]IA[A-Z0-9]{16}", r"AIza[A-Za-z0-9_\-]{30,}",
    r"GOCSPX-[A-Za-z0-9_\-]{20,}", r"ya29\.[A-Za-z0-9_\-]{20,}", r"npm_[A-Za-z0-9]{30,}", r"pypi-AgE[A-Za-z0-9_\-]{20,}",
    r"rubygems_[a-f0-9]{40,}", r"oy2[a-z0-9]{40,}", r"dckr_pat_[A-Za-z0-9_\-]{20,}", r"NRAK-[A-Z0-9]{20,}",
    r"sntry[us]_[A-Za-z0-9_=\-]{20,}", r"glsa_[A-Za-z0-9]{20,}", r"glc_[A-Za-z0-9+/=]{20,}",
    r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_\-.]{20,}", r"dapi[a-f0-9]{32}", r"sbp_[a-f0-9]{40}",
    r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-]{20,}", r"hv[sb]\.[A-Za-z0-9_\-]{20,}", r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9.]{20,}",
    r"ops_eyJ[A-Za-z0-9+/=_\-]{20,}", r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}", r"key-[a-f0-9]{32}",
    r"[a-f0-9]{32}-us\d{1,2}", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", r"dop_v1_[a-f0-9]{64}", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
    r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{20,}", r"EAAA[A-Za-z0-9_\-]{40,}", r"sk\.eyJ[A-Za-z0-9_\-.]{20,}",
    r"ATATT[A-Za-z0-9_\-=]{20,}", r"lin_api_[A-Za-z0-9]{30,}", r"hf_[A-Za-z]{30,}", r"gsk_[A-Za-z0-9]{40,}",
    r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}", r"\d{8,10}:AA[A-Za-z0-9_\-]{30,}",
    r"[A-Za-z0-9_~.\-]{3}8Q~[A-Za-z0-9_~.\-]{31,}", r"AccountKey=[A-Za-z0-9+/]{40,}", r"sig=[A-Za-z0-9%+/=]{30,}",
    r"IQoJb3JpZ2luX2Vj", r"FwoGZXIvYXdz", r"[A-Za-z0-9_\-]{24,28}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}",
    r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{10,}",
]]
SECRET_FIELD_RE = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|credential|"
    r"client[_\-]?secret|bearer)[A-Za-z0-9_\-]*[\"']?\s*[:=\s]\s*[\"']?([A-Za-z0-9+/_\-.=]{16,})")
MASK = set("*•…xX.")


def looks_random(v):
    return (len(v) >= 16 and entropy(v) >= 3.3 and re.search(r"\d", v) is not None
            and re.search(r"[A-Za-z]", v) is not None)


def host_flag(host):
    for label in host.split("."):
        if len(label) > 40:
            return True
        for seg in label.split("-"):
            if len(seg) >= 16 and entropy(seg) >= 3.3 and re.search(r"\d", seg) and re.search(r"[a-zA-Z]", seg):
                return True
    return False


def neg_views(text):
    u1 = urllib.parse.unquote(text)
    vs = [text, u1, urllib.parse.unquote(u1), urllib.parse.unquote_plus(text), html.unescape(text), L_json_u(text),
          L_qp(text), L_b64(text), L_b64(u1), L_hex(text), L_basic(text)]
    vs.append(L_b64(vs[7]))
    out = []
    for v in vs:
        if v not in out:
            out.append(v)
    return out


def scan_negative(line):
    text = line_text(line)
    why = []
    if line["where"] == "hostname" and host_flag(text):
        why.append("hostname-entropy")
    if line["where"] == "url":
        h = urllib.parse.urlsplit(text).hostname or ""
        if host_flag(h):
            why.append("url-host-entropy")
    for v in neg_views(text):
        for m in re.finditer(r"(?<!\d)\d(?:[ \-]?\d){12,18}(?!\d)", v):
            d = re.sub(r"\D", "", m.group(0))
            if luhn_ok(d):
                why.append("luhn:" + d)
        for m in re.finditer(r"(?<![A-Z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32})", v):
            s = m.group(1).replace(" ", "")
            if any(iban_ok(s[:n]) for n in range(15, min(len(s), 34) + 1)):
                why.append("iban")
        for m in re.finditer(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])", v):
            if b58check_ok(m.group(0)):
                why.append("base58check")
        for m in re.finditer(r"(?i)(?<![A-Za-z0-9])(?:bc|tb)1[02-9ac-hj-np-z]{6,87}(?![A-Za-z0-9])", v):
            if bech32_kind(m.group(0)):
                why.append("bech32")
        if re.search(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])", v):
            why.append("eth")
        for rx in VENDOR_RES:
            if rx.search(v):
                why.append("vendor:" + rx.pattern[:30])
        for m in re.finditer(r"Basic\s+([A-Za-z0-9+/]{6,}={0,2})", v):
            d = b64_any(m.group(1))
            if d and b":" in d:
                why.append("basic")
        for m in re.finditer(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:\"'<>]+:([^\s/@\"'<>]+)@", v):
            if not set(m.group(1)) <= MASK:
                why.append("userinfo")
        for m in SECRET_FIELD_RE.finditer(v):
            if looks_random(m.group(1)):
                why.append("secret-field:" + m.group(1)[:12])
    return why


# ---------------------------------------------------------------- format checks

HDR_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
URL_OK = set(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
LDH = re.compile(r"(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def format_errors(line):
    errs = []
    w = line["where"]
    if w == "body":
        return errs
    t = line.get("text")
    if t is None:
        return ["non-body must use text"]
    if not t.isascii():
        errs.append("non-ascii")
    if w == "header":
        if not HDR_RE.fullmatch(t):
            errs.append("bad header")
    elif w == "hostname":
        if not LDH.fullmatch(t):
            errs.append("bad hostname")
    elif w == "url":
        if not re.match(r"https?://", t) or any(c not in URL_OK for c in t):
            errs.append("bad url chars")
        if re.search(r"%(?![0-9A-Fa-f]{2})", t):
            errs.append("bad percent escape")
        sp = urllib.parse.urlsplit(t)
        if not sp.hostname or not LDH.fullmatch(sp.hostname):
            errs.append("bad url host")
    return errs


# ---------------------------------------------------------------- build

def to_line(case, label):
    line = {"id": None, "label": label, "expect": case["expect"], "where": case["where"]}
    if case["where"] == "body":
        if case.get("content_type"):
            line["content_type"] = case["content_type"]
        if "raw" in case:
            line["content_encoding"] = case["content_encoding"]
            line["base64"] = b64s(case["raw"])
        else:
            line["text"] = case["text"]
    else:
        line["text"] = case["text"]
    return line


def content_key(line):
    return line.get("text") if "text" in line else "b64:" + line["base64"]


def build():
    global R
    R = random.Random(SEED)
    _keccak_selftest()
    seen = set()
    pos, pmeta = [], []
    for spec in CLASSES:
        for _ in range(spec["n"]):
            for attempt in range(60):
                case = make_positive(spec)
                line = to_line(case, "positive")
                k = content_key(line)
                if k in seen or format_errors(line):
                    continue
                if case["secret"] not in recover(line_text(line), case["layers"]):
                    raise AssertionError("unrecoverable %s %r" % (spec["name"], case["layers"]))
                if not validate_secret(case["secret"], case["check"]):
                    raise AssertionError("checksum %s" % spec["name"])
                break
            else:
                raise AssertionError("could not make " + spec["name"])
            seen.add(k)
            pos.append(line)
            pmeta.append({"secret": case["secret"], "layers": case["layers"], "check": case["check"]})
    neg = []
    regen = 0
    for name, n, fn in NEG:
        for _ in range(n):
            for attempt in range(80):
                case = fn()
                case["expect"] = name
                line = to_line(case, "negative")
                k = content_key(line)
                if k in seen or format_errors(line) or scan_negative(line):
                    regen += 1
                    continue
                break
            else:
                raise AssertionError("could not make negative " + name)
            seen.add(k)
            neg.append(line)
    order = list(range(len(pos)))
    R.shuffle(order)
    pos = [pos[i] for i in order]
    pmeta = [pmeta[i] for i in order]
    R.shuffle(neg)
    for i, l in enumerate(pos):
        l["id"] = "t8-pos-%04d" % (i + 1)
    for i, l in enumerate(neg):
        l["id"] = "t8-neg-%04d" % (i + 1)
    return pos, pmeta, neg, regen


def dump(lines):
    return "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines).encode("utf-8")


def counts(lines, key):
    c = {}
    for l in lines:
        c[l[key]] = c.get(l[key], 0) + 1
    return c


CONTEXT_CLASSES = ["generic-api-key", "generic-password", "bearer-token", "twilio-auth-token", "datadog-api-key",
                   "aws-secret-access-key", "high-entropy-exfiltration", "dns-exfiltration", "delimited-hex-secret"]


def make_readme(pos, neg, pb, nb):
    ph, nh = hashlib.sha256(pb).hexdigest(), hashlib.sha256(nb).hexdigest()
    pc, nc = counts(pos, "expect"), counts(neg, "expect")
    pw, nw = counts(pos, "where"), counts(neg, "where")
    L = []
    a = L.append
    a("# Held-out egress secret-detection corpus (split 8)\n")
    a("**This corpus is held out.** Use it once, to measure generalisation. Never tune, train, or write rules against it, "
      "never copy cases into development fixtures, and report results by class/category only (never quote individual cases).\n")
    a("## Files\n")
    a("| file | lines | sha256 |\n|---|---|---|")
    a("| positives.jsonl | %d | `%s` |" % (len(pos), ph))
    a("| negatives.jsonl | %d | `%s` |" % (len(neg), nh))
    a("\nRegenerate (deterministic, seed %d; output is byte-identical across runs):\n" % SEED)
    a("```\nnice python3 generate.py          # writes both files + README.md, then runs the checker\n"
      "nice python3 generate.py --check  # verify only\n```\n")
    a("## Line format (JSON Lines, one case per line)\n")
    a("- `id`: `t8-pos-NNNN` / `t8-neg-NNNN`, sequential from 0001 after shuffling within each file.")
    a("- `label`: `positive` | `negative`.")
    a("- `expect`: positive -> credential/data class; negative -> benign category (kebab-case).")
    a("- `where`: `body` | `url` | `header` | `hostname`.")
    a("- `content_type` (bodies only, optional); `content_encoding` (`gzip` or `deflate` = zlib-wrapped; only together with `base64`).")
    a("- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).")
    a("- `header` = one ASCII `Name: value` line; `url` = absolute http(s) ASCII URL with valid percent escapes; "
      "`hostname` = bare LDH hostname.\n")
    a("## Split by `where`\n")
    a("| where | positives | negatives |\n|---|---|---|")
    for w in ["body", "header", "url", "hostname"]:
        a("| %s | %d | %d |" % (w, pw.get(w, 0), nw.get(w, 0)))
    a("\n## Positive classes (%d classes, %d cases)\n" % (len(pc), len(pos)))
    a("| class | count |\n|---|---|")
    for k in sorted(pc):
        a("| %s | %d |" % (k, pc[k]))
    a("\n## Negative categories (%d categories, %d cases)\n" % (len(nc), len(neg)))
    a("| category | count |\n|---|---|")
    for k in sorted(nc):
        a("| %s | %d |" % (k, nc[k]))
    a("\n## Labelling rule (egress)\n")
    a("- Positive: anything that would leak a usable credential or a sensitive financial / exfiltration payload if sent out, "
      "including documented example keys and well-known test values (vendor example keys, test card numbers, example IBANs).")
    a("- An unmistakable vendor prefix followed by enough characters of that key's alphabet is positive even with a bad "
      "checksum or low-entropy filler.")
    a("- Passwords and generic keys are positive only where a field or context names them as secrets and the value looks "
      "like a real credential; ambiguous dummy words are in neither file.")
    a("- Negative: realistic benign egress that superficially resembles secrets (identifiers, digests, hashed paths, "
      "images, cursors, public keys, masked values and placeholders, prose and code about secrets, checksum-invalid or "
      "wrong-format look-alikes, ordinary API traffic, publishable keys, OAuth public parameters). Masks/placeholders use "
      "only characters outside the key alphabet or are far too short. Look-alikes are wrong in format.")
    a("- Each positive has exactly one intended class; incidental co-occurring material (e.g. an account id next to a "
      "secret) may exist. Several positives are wrapped in encodings (percent, double percent, form, base64 std/url-safe, "
      "base64 of gzip, hex, JSON \\u escapes, HTML character references, quoted-printable, gzip/deflate Content-Encoding).\n")
    a("## What the checker verifies\n")
    a("- every line parses; only allowed keys; exactly one of text/base64; ids sequential; labels match the file;")
    a("- strict base64 (round-trips) and successful gzip/deflate decompression; content_encoding only with base64;")
    a("- headers, URLs (scheme, ASCII, allowed characters, valid percent escapes, LDH host) and hostnames well formed;")
    a("- no duplicate content within or across files; both files and this README equal what the generator produces;")
    a("- every positive's secret is recovered mechanically by applying its recorded decoding layers to the line;")
    a("- checksummed positives re-validated: Luhn, IBAN mod-97 with country length, base58check (P2PKH/P2SH), "
      "bech32 (v0) / bech32m (v1+), EIP-55 via a stdlib Keccak-256 implementation (self-tested against hashlib.sha3_256 "
      "padding variant and the empty-input Keccak vector);")
    a("- every negative is scanned through decoding views (raw, percent x1/x2, form, HTML, JSON \\u, quoted-printable, "
      "base64 tokens incl. gzip, hex tokens, Basic) for Luhn-valid 13-19 digit runs, valid IBANs, valid base58check/bech32, "
      "0x+40 hex, vendor prefixes followed by key characters, decodable Basic credentials, URL userinfo passwords, long random "
      "values under secret-named fields and high-entropy hostname labels; flagged negatives are regenerated during build, "
      "and the checker fails if any remain;")
    a("- class/category count bounds and at least 10 cases for each context-dependent class.\n")
    a("## Independence statement\n")
    a("This corpus was written from public knowledge of credential formats (vendor documentation) and common exfiltration "
      "techniques only. Its author did not read the engine's source, rules, tests, fixtures, other corpora, or any git "
      "history, and ran no detector while building it. All values are synthetic (except widely published documentation "
      "example values); there are no private keys, PEM armour or seed phrases.\n")
    return "\n".join(L).encode("utf-8")


def render():
    pos, pmeta, neg, regen = build()
    pb, nb = dump(pos), dump(neg)
    return pb, nb, make_readme(pos, neg, pb, nb), pmeta, regen


# ---------------------------------------------------------------- checker

ALLOWED = {"id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"}


def check():
    errs = []
    pb, nb, rb, pmeta, regen = render()
    disk = {}
    for path, exp in ((POS_PATH, pb), (NEG_PATH, nb), (README_PATH, rb)):
        with open(path, "rb") as f:
            disk[path] = f.read()
        if disk[path] != exp:
            errs.append("%s differs from generator output" % os.path.basename(path))
    seen = {}
    parsed = {}
    for path, label, prefix in ((POS_PATH, "positive", "t8-pos-"), (NEG_PATH, "negative", "t8-neg-")):
        lines = []
        for i, raw in enumerate(disk[path].decode("utf-8").split("\n")[:-1]):
            try:
                l = json.loads(raw)
            except ValueError:
                errs.append("%s:%d does not parse" % (path, i + 1))
                continue
            lines.append(l)
            lid = l.get("id")
            if set(l) - ALLOWED:
                errs.append("%s extra keys" % lid)
            if lid != "%s%04d" % (prefix, i + 1):
                errs.append("id out of sequence at %s:%d" % (path, i + 1))
            if l.get("label") != label:
                errs.append("%s bad label" % lid)
            if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", l.get("expect", "")):
                errs.append("%s expect not kebab" % lid)
            if l.get("where") not in ("body", "url", "header", "hostname"):
                errs.append("%s bad where" % lid)
            if ("text" in l) == ("base64" in l):
                errs.append("%s must have exactly one of text/base64" % lid)
                continue
            if l["where"] != "body" and ("content_type" in l or "content_encoding" in l):
                errs.append("%s content fields outside body" % lid)
            if "content_encoding" in l and ("base64" not in l or l["content_encoding"] not in ("gzip", "deflate")):
                errs.append("%s bad content_encoding" % lid)
            if "base64" in l:
                try:
                    rawb = base64.b64decode(l["base64"], validate=True)
                    if base64.b64encode(rawb).decode() != l["base64"]:
                        errs.append("%s non-canonical base64" % lid)
                    line_text(l)
                except Exception as e:
                    errs.append("%s base64/decompress error %s" % (lid, e))
                    continue
            errs.extend("%s %s" % (lid, e) for e in format_errors(l))
            k = content_key(l)
            if k in seen:
                errs.append("%s duplicates %s" % (lid, seen[k]))
            seen[k] = lid
        parsed[label] = lines
    pos, neg = parsed["positive"], parsed["negative"]
    if len(pmeta) != len(pos):
        errs.append("meta/positive count mismatch")
    for l, m in zip(pos, pmeta):
        try:
            txt = line_text(l)
        except Exception:
            continue
        if m["secret"] not in recover(txt, m["layers"]):
            errs.append("%s secret not recoverable via %s" % (l["id"], m["layers"]))
        if not validate_secret(m["secret"], m["check"]):
            errs.append("%s checksum validation failed (%s)" % (l["id"], m["check"]))
    for l in neg:
        try:
            why = scan_negative(l)
        except Exception as e:
            why = ["scan error %s" % e]
        if why:
            errs.append("%s negative flagged: %s" % (l["id"], sorted(set(why))[:3]))
    pc, nc = counts(pos, "expect"), counts(neg, "expect")
    if not 50 <= len(pc) <= 75:
        errs.append("positive class count %d out of range" % len(pc))
    if not 30 <= len(nc) <= 40:
        errs.append("negative category count %d out of range" % len(nc))
    for c in CONTEXT_CLASSES:
        if pc.get(c, 0) < 10:
            errs.append("context class %s has %d < 10" % (c, pc.get(c, 0)))
    for e in errs[:50]:
        print("CHECK FAIL:", e)
    print("checker: %d positives (%d classes), %d negatives (%d categories), %d negative regenerations, %s"
          % (len(pos), len(pc), len(neg), len(nc), regen, "PASS" if not errs else "FAIL (%d errors)" % len(errs)))
    print("sha256 positives.jsonl %s" % hashlib.sha256(disk[POS_PATH]).hexdigest())
    print("sha256 negatives.jsonl %s" % hashlib.sha256(disk[NEG_PATH]).hexdigest())
    return not errs


def main():
    if "--check" not in sys.argv[1:]:
        pb, nb, rb, _, _ = render()
        for path, data in ((POS_PATH, pb), (NEG_PATH, nb), (README_PATH, rb)):
            with open(path, "wb") as f:
                f.write(data)
    sys.exit(0 if check() else 1)


if __name__ == "__main__":
    main()
