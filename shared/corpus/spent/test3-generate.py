#!/usr/bin/env python3
"""Generator for the Tollgate held-out detector split `test3`.

Python 3 standard library only.  Every random choice (token bodies, card
numbers, IBAN BBANs, address payloads, containers, field names, encodings)
comes from one `random.Random(SEED)`, so a re-run with the same SEED and the
same Python minor version reproduces the files byte for byte.

    nice python3 generate.py            # writes positives.jsonl, negatives.jsonl, README.md

The author wrote this without reading the detector rules, the detector
tests, any earlier corpus, or any earlier split generator.  No PEM / armoured
key material of any kind is produced.
"""
import base64
import binascii
import collections
import gzip
import hashlib
import hmac
import html
import json
import os
import quopri
import random
import re
import string
import struct
import sys
import zlib
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

SEED = 0x7E573_2027  # = 33914298407
R = random.Random(SEED)
OUT = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- alphabets
DIG = string.digits
LOW = string.ascii_lowercase
UP = string.ascii_uppercase
ALNUM = DIG + UP + LOW
B62 = DIG + UP + LOW
B64 = UP + LOW + DIG + "+/"
B64URL = UP + LOW + DIG + "-_"
HEXL = "0123456789abcdef"
HEXU = HEXL.upper()
B32 = UP + "234567"
B36 = DIG + LOW
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def rs_mixed(alpha, n):
    """Random string that has at least one digit, upper and lower (if the alphabet has them)."""
    while True:
        s = rs(alpha, n)
        ok = True
        for cls in (DIG, UP, LOW):
            if any(c in alpha for c in cls) and n >= 12 and not any(c in cls for c in s):
                ok = False
        if ok:
            return s


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


def tob(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def b64s(x):
    return base64.b64encode(tob(x)).decode()


def b64u(x, pad=False):
    s = base64.urlsafe_b64encode(tob(x)).decode()
    return s if pad else s.rstrip("=")


def b32l(x):
    return base64.b32encode(tob(x)).decode().rstrip("=").lower()


def gz(x):
    return gzip.compress(tob(x), compresslevel=9, mtime=0)


def zl(x):
    return zlib.compress(tob(x), 9)


def pct_all(s):
    return "".join("%%%02X" % c for c in tob(s))


def pct(s, safe=""):
    return quote(s, safe=safe)


def hexs(x, upper=False):
    h = binascii.hexlify(tob(x)).decode()
    return h.upper() if upper else h


def b62enc(n, width=0):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


def json_u_escape(s, every=1):
    out = []
    for i, c in enumerate(s):
        if i % every == 0:
            out.append("\\u%04x" % ord(c))
        elif c in '"\\':
            out.append("\\" + c)
        else:
            out.append(c)
    return "".join(out)


def html_ent(s, hexform=True):
    return "".join(("&#x%x;" % ord(c)) if hexform else ("&#%d;" % ord(c)) for c in s)


# ---------------------------------------------------------------- uuid / time
def uuid4():
    b = bytearray(rbytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def uuid7():
    ms = R.randint(1767225600000, 1798761600000)  # 2026..2027
    b = bytearray(ms.to_bytes(6, "big") + rbytes(10))
    b[6] = (b[6] & 0x0F) | 0x70
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def uuid1():
    t = R.randint(0x1F0000000000000, 0x1FFFFFFFFFFFFFF)
    tl, tm, th = t & 0xFFFFFFFF, (t >> 32) & 0xFFFF, ((t >> 48) & 0x0FFF) | 0x1000
    cs = (R.getrandbits(14)) | 0x8000
    node = rbytes(6).hex()
    return "%08x-%04x-%04x-%04x-%s" % (tl, tm, th, cs, node)


def rdate():
    return "2026-%02d-%02d" % (R.randint(1, 12), R.randint(1, 28))


def rtime():
    return "%02d:%02d:%02d" % (R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


def iso():
    return "%sT%s.%03dZ" % (rdate(), rtime(), R.randint(0, 999))


def epoch():
    return R.randint(1767225600, 1798761600)


# ---------------------------------------------------------------- checksums
def luhn_ok(d):
    s = 0
    for i, ch in enumerate(reversed(d)):
        x = int(ch)
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        s += x
    return s % 10 == 0


def luhn_complete(prefix, length):
    body = prefix + rs(DIG, length - len(prefix) - 1)
    for c in DIG:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


def luhn_fail(prefix, length):
    while True:
        n = prefix + rs(DIG, length - len(prefix))
        if not luhn_ok(n):
            return n


CARD_BRANDS = [
    ("visa", lambda: "4", [16, 16, 16, 13, 19]),
    ("mastercard", lambda: str(R.randint(51, 55)), [16]),
    ("mastercard-2series", lambda: str(R.randint(2221, 2720)), [16]),
    ("amex", lambda: pick(["34", "37"]), [15]),
    ("discover", lambda: pick(["6011", str(R.randint(644, 649)), "65"]), [16, 16, 19]),
    ("jcb", lambda: str(R.randint(3528, 3589)), [16, 16, 19]),
    ("diners", lambda: pick(["36", str(R.randint(300, 305)), "38", "39"]), [14]),
    ("unionpay", lambda: "62" + str(R.randint(2126, 2925)), [16, 17, 18, 19]),
    ("maestro", lambda: pick(["5018", "5020", "5038", "6304", "6759", "6761", "6763"]), [12, 16, 18, 19]),
    ("mir", lambda: str(R.randint(2200, 2204)), [16]),
]


def make_card(brand=None):
    if brand is None:
        b = pick(CARD_BRANDS)
    else:
        b = [x for x in CARD_BRANDS if x[0] == brand][0]
    name, pf, lens = b
    L = pick(lens)
    return name, luhn_complete(pf(), L)


def group_card(num, sep=" "):
    L = len(num)
    if L == 15:
        parts = [num[:4], num[4:10], num[10:]]
    elif L == 14:
        parts = [num[:4], num[4:10], num[10:]]
    else:
        parts = [num[i:i + 4] for i in range(0, L, 4)]
    return sep.join(parts)


IBAN_SPECS = {
    "DE": [(18, "n")], "GB": [(4, "a"), (14, "n")], "FR": [(10, "n"), (11, "c"), (2, "n")],
    "ES": [(20, "n")], "IT": [(1, "a"), (10, "n"), (12, "c")], "NL": [(4, "a"), (10, "n")],
    "BE": [(12, "n")], "CH": [(5, "n"), (12, "c")], "AT": [(16, "n")], "PL": [(24, "n")],
    "SE": [(20, "n")], "NO": [(11, "n")], "DK": [(14, "n")], "FI": [(14, "n")],
    "IE": [(4, "a"), (14, "n")], "PT": [(21, "n")], "LU": [(3, "n"), (13, "c")],
    "CZ": [(20, "n")], "HU": [(24, "n")], "RO": [(4, "a"), (16, "c")], "SA": [(2, "n"), (18, "c")],
    "AE": [(19, "n")], "TR": [(5, "n"), (1, "0"), (16, "c")], "GR": [(7, "n"), (16, "c")],
    "MT": [(4, "a"), (5, "n"), (18, "c")], "BR": [(23, "n"), (1, "a"), (1, "c")],
    "LT": [(16, "n")], "EE": [(16, "n")], "HR": [(17, "n")], "SI": [(15, "n")], "SK": [(20, "n")],
    "BG": [(4, "a"), (6, "n"), (8, "c")], "IS": [(22, "n")], "CY": [(8, "n"), (16, "c")],
}
IBAN_LEN = {"DE": 22, "GB": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "BE": 16, "CH": 21, "AT": 20,
            "PL": 28, "SE": 24, "NO": 15, "DK": 18, "FI": 18, "IE": 22, "PT": 25, "LU": 20, "CZ": 24,
            "HU": 28, "RO": 24, "SA": 24, "AE": 23, "TR": 26, "GR": 27, "MT": 31, "BR": 29, "LT": 20,
            "EE": 20, "HR": 21, "SI": 19, "SK": 24, "BG": 22, "IS": 26, "CY": 28}


def iban_numeric(s):
    return "".join(str(int(c, 36)) for c in s)


def iban_ok(s):
    s = s.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}", s):
        return False
    if s[:2] in IBAN_LEN and len(s) != IBAN_LEN[s[:2]]:
        return False
    return int(iban_numeric(s[4:] + s[:4])) % 97 == 1


def make_iban(cc=None):
    cc = cc or pick(sorted(IBAN_SPECS))
    bban = ""
    for n, cls in IBAN_SPECS[cc]:
        if cls == "n":
            bban += rs(DIG, n)
        elif cls == "a":
            bban += rs(UP, n)
        elif cls == "0":
            bban += "0" * n
        else:
            bban += "".join(pick(DIG) if chance(0.7) else pick(UP) for _ in range(n))
    chk = 98 - int(iban_numeric(bban + cc + "00")) % 97
    iban = "%s%02d%s" % (cc, chk, bban)
    assert iban_ok(iban) and len(iban) == IBAN_LEN[cc], iban
    return iban


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def sha256(b):
    return hashlib.sha256(b).digest()


def b58enc(b):
    n = int.from_bytes(b, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + s


def b58dec(s):
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    pad = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def b58check(ver, payload):
    d = bytes([ver]) + payload
    return b58enc(d + sha256(sha256(d))[:4])


def b58check_ok(s):
    try:
        d = b58dec(s)
    except ValueError:
        return False
    if len(d) != 25 or d[0] not in (0, 5):
        return False
    return sha256(sha256(d[:-4]))[:4] == d[-4:]


BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def hrp_expand(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def convertbits(data, frm, to, pad=True):
    acc = bits = 0
    ret = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            ret.append((acc >> bits) & maxv)
    if pad and bits:
        ret.append((acc << (to - bits)) & maxv)
    return ret


def segwit_addr(witver, prog, hrp="bc"):
    const = 1 if witver == 0 else 0x2BC830A3
    data = [witver] + convertbits(prog, 8, 5)
    pm = bech32_polymod(hrp_expand(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + chk)


def bech32_ok(s, hrp="bc"):
    if s.lower() != s and s.upper() != s:
        return False
    s = s.lower()
    if not s.startswith(hrp + "1"):
        return False
    data = s[len(hrp) + 1:]
    if any(c not in BECH for c in data) or len(data) < 6:
        return False
    vals = [BECH.index(c) for c in data]
    pm = bech32_polymod(hrp_expand(hrp) + vals)
    if vals[0] == 0:
        return pm == 1
    return pm == 0x2BC830A3


# Keccak-256 (the pre-NIST padding Ethereum uses), for EIP-55 checksums.
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M if n else v


def _keccak_f(A):
    for rc in _RC:
        C = [A[x][0] ^ A[x][1] ^ A[x][2] ^ A[x][3] ^ A[x][4] for x in range(5)]
        D = [C[(x - 1) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [[A[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        B = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                B[y][(2 * x + 3 * y) % 5] = _rol(A[x][y], _ROT[x][y])
        A = [[B[x][y] ^ ((~B[(x + 1) % 5][y]) & B[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        A[0][0] ^= rc
    return A


def keccak256(data):
    rate = 136
    msg = bytearray(data) + b"\x01"
    while len(msg) % rate:
        msg += b"\x00"
    msg[-1] |= 0x80
    A = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            A[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        A = _keccak_f(A)
    out = b""
    for i in range(4):
        x, y = i % 5, i // 5
        out += A[x][y].to_bytes(8, "little")
    return out


def eip55(addr_hex):
    a = addr_hex.lower()
    h = keccak256(a.encode()).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(a))


def self_test():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    for a in ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
              "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]:
        assert eip55(a[2:]) == a, a
    assert segwit_addr(0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")) == \
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert segwit_addr(1, bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")) == \
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    assert bech32_ok("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")
    assert b58check_ok("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert b58check(0, bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")) == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    for i in ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
              "NL91ABNA0417164300", "BE68539007547034", "ES9121000418450200051332",
              "IT60X0542811101000000123456", "CH9300762011623852957"]:
        assert iban_ok(i), i
    for c in ["4242424242424242", "4111111111111111", "5555555555554444", "378282246310005",
              "6011111111111117", "3530111333300000", "5105105105105100", "30569309025904"]:
        assert luhn_ok(c), c
    assert not luhn_ok("4242424242424241")


# ---------------------------------------------------------------- case records
class Case:
    def __init__(self, label, expect, where, text=None, raw=None, ct=None, ce=None,
                 secret=None, tags=(), form="", check=None):
        self.label, self.expect, self.where = label, expect, where
        self.text, self.raw, self.ct, self.ce = text, raw, ct, ce
        self.secret = secret
        self.tags = list(tags)
        self.form = form
        self.check = check  # optional callable(case) -> bool, extra validity check
        self.id = None

    def record(self):
        d = collections.OrderedDict()
        d["id"] = self.id
        d["label"] = self.label
        d["expect"] = self.expect
        d["where"] = self.where
        if self.ct:
            d["content_type"] = self.ct
        if self.ce:
            d["content_encoding"] = self.ce
        if self.raw is not None:
            d["base64"] = base64.b64encode(self.raw).decode()
        else:
            d["text"] = self.text
        return d

    def plain(self):
        """The decoded request data as text (decompressed if needed)."""
        if self.raw is None:
            return self.text
        b = self.raw
        if self.ce == "gzip":
            b = gzip.decompress(b)
        elif self.ce == "deflate":
            b = zlib.decompress(b)
        return b.decode("utf-8")


POS, NEG = [], []


def compress_case(c, how=None):
    how = how or pick(["gzip", "gzip", "deflate"])
    data = c.text.encode("utf-8")
    c.raw = gz(data) if how == "gzip" else zl(data)
    c.ce = how
    c.text = None
    c.form += "+" + how
    return c


def add_pos(expect, where, text, secret, ct=None, tags=(), form="", comp_p=0.0, check=None):
    c = Case("positive", expect, where, text=text, ct=ct, secret=secret, tags=tags, form=form, check=check)
    if where == "body" and comp_p and chance(comp_p):
        compress_case(c)
    POS.append(c)
    return c


def add_neg(expect, where, text, ct=None, form="", comp_p=0.0, raw=None):
    c = Case("negative", expect, where, text=text, raw=raw, ct=ct, form=form)
    if where == "body" and comp_p and chance(comp_p) and raw is None:
        compress_case(c)
    NEG.append(c)
    return c


# ---------------------------------------------------------------- context vocab
PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
          "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe", "amara",
          "bao", "chen", "dmitri", "elif", "farah", "goran", "hana", "ines", "jonas", "kemal", "lena",
          "mateo", "noor", "oskar", "priya", "quentin", "rosa", "sanjay", "tomas", "umut", "vera", "wen",
          "ximena", "yara", "zainab"]
SURN = ["meyer", "okafor", "tanaka", "silva", "novak", "kowalski", "garcia", "nguyen", "haddad", "larsen",
        "rossi", "dubois", "ivanova", "kim", "schmidt", "moreau", "patel", "fischer", "costa", "yilmaz"]
COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "tyrell",
             "cyberdyne", "soylent", "wonka", "piedpiper", "aperture", "oscorp", "dunder", "massive",
             "nakatomi", "gringotts", "monarch", "northwind", "contoso", "fabrikam", "tailspin"]
SERVICES = ["billing-api", "auth-svc", "ingest-worker", "payments", "notifier", "search", "reporting",
            "etl-nightly", "checkout", "mobile-bff", "ledger", "media-resizer", "crm-sync", "audit-log"]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2", "sa-east-1", "ap-northeast-1"]
TLDS = ["com", "io", "dev", "net", "co", "app", "cloud", "tech"]


def person():
    return pick(PEOPLE)


def fullname():
    return pick(PEOPLE).capitalize() + " " + pick(SURN).capitalize()


def company():
    return pick(COMPANIES)


def corp_host(sub=None):
    sub = sub or pick(["api", "internal", "hooks", "intake", "collect", "app", "portal", "gw", "edge"])
    return "%s.%s-%s.%s" % (sub, company(), pick(["corp", "labs", "hq", "cloud", "systems", "group"]), pick(TLDS))


def email():
    return "%s.%s@%s.%s" % (person(), pick(SURN), company(), pick(TLDS))


def semver():
    return "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 30), R.randint(0, 40))


NOISE_POOL = [
    ("service", lambda: pick(SERVICES)),
    ("environment", lambda: pick(["production", "staging", "prod", "dev", "qa", "preview"])),
    ("region", lambda: pick(REGIONS)),
    ("version", semver),
    ("request_id", uuid4),
    ("timestamp", iso),
    ("owner", email),
    ("retries", lambda: R.randint(1, 5)),
    ("debug", lambda: pick([True, False])),
    ("hostname", lambda: "%s-%02d.internal" % (pick(["db", "api", "worker", "cache", "web"]), R.randint(1, 40))),
    ("timeout_ms", lambda: pick([500, 1000, 2500, 30000])),
    ("team", lambda: pick(["platform", "growth", "data", "sre", "mobile", "payments"])),
]


def noise(k=None):
    k = R.randint(1, 4) if k is None else k
    items = R.sample(NOISE_POOL, k)
    return [(n, f()) for n, f in items]


ENV_NOISE = ["NODE_ENV=production", "PORT=8080", "LOG_LEVEL=info", "DATABASE_POOL_SIZE=10",
             "REDIS_HOST=redis.internal", "TZ=UTC", "FEATURE_FLAGS=beta_checkout,new_nav",
             "SENTRY_ENVIRONMENT=staging", "APP_URL=https://app.example.com", "WORKERS=4",
             "CACHE_TTL=300", "S3_BUCKET=assets-prod-eu", "SMTP_HOST=smtp.mailprovider.net"]


def snake(n):
    return n.lower()


def camel(n):
    p = n.lower().split("_")
    return p[0] + "".join(x.capitalize() for x in p[1:])


def kebab(n):
    return n.lower().replace("_", "-")


def jdump(o, indent=None):
    return json.dumps(o, indent=indent, ensure_ascii=False)


def insert_at_random(lst, item):
    i = R.randint(0, len(lst))
    lst.insert(i, item)
    return lst


# ---------------------------------------------------------------- generic body containers
# each takes NAME (UPPER_SNAKE), value (str) and returns (text, content_type)

def c_json(name, v):
    pairs = insert_at_random(noise(), (pick([snake(name), camel(name)]), v))
    return jdump(dict(pairs), indent=pick([None, 2])), "application/json"


def c_json_nested(name, v):
    env = dict(insert_at_random([("LOG_LEVEL", "info"), ("PORT", "8080")], (name, v)))
    o = {"name": pick(SERVICES), "revision": R.randint(3, 400), "spec": {"containers": [
        {"image": "registry.%s.io/%s:%s" % (company(), pick(SERVICES), semver()), "env": env}]},
         "updated_by": email()}
    return jdump(o, indent=pick([None, 2])), "application/json"


def c_form(name, v):
    pairs = insert_at_random([(k, str(x)) for k, x in noise()], (snake(name), v))
    return "&".join("%s=%s" % (quote_plus(k), quote_plus(x)) for k, x in pairs), "application/x-www-form-urlencoded"


def c_env(name, v):
    style = pick(["{n}={v}", '{n}="{v}"', "export {n}={v}", "{n}='{v}'", "{n} = {v}"])
    lines = R.sample(ENV_NOISE, R.randint(2, 5))
    insert_at_random(lines, style.format(n=name, v=v))
    if chance(0.4):
        lines.insert(0, "# %s %s" % (pick(SERVICES), pick(["env", "settings", "local overrides", "secrets - do not commit"])))
    return "\n".join(lines) + "\n", pick(["text/plain", "application/octet-stream", "text/x-env"])


def c_yaml(name, v):
    if chance(0.5):
        t = "service: %s\nreplicas: %d\nenv:\n  LOG_LEVEL: info\n  %s: \"%s\"\n  PORT: \"8080\"\n" % (
            pick(SERVICES), R.randint(1, 6), name, v)
    else:
        t = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n"
             "      containers:\n        - name: app\n          image: %s/%s:%s\n          env:\n"
             "            - name: %s\n              value: \"%s\"\n            - name: TZ\n              value: UTC\n") % (
            pick(SERVICES), "ghcr.io/" + company(), pick(SERVICES), semver(), name, v)
    return t, pick(["application/yaml", "application/x-yaml", "text/yaml"])


def c_toml(name, v):
    return ("[server]\nport = 8080\nhost = \"0.0.0.0\"\n\n[%s]\n%s = \"%s\"\ntimeout = %d\n" % (
        pick(["integrations", "credentials", "upstream", "client"]), snake(name), v, R.randint(5, 60))), "application/toml"


def c_ini(name, v):
    return ("[%s]\n%s = %s\nregion = %s\noutput = json\n" % (
        pick(["default", "prod", "deploy", "ci"]), snake(name), v, pick(REGIONS))), "text/plain"


def c_xml(name, v):
    if chance(0.5):
        t = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
             '    <add key="Environment" value="Production" />\n    <add key="%s" value="%s" />\n'
             '  </appSettings>\n</configuration>\n') % (camel(name)[0].upper() + camel(name)[1:], html.escape(v))
    else:
        t = '<settings><service>%s</service><%s>%s</%s><region>%s</region></settings>' % (
            pick(SERVICES), camel(name), html.escape(v, quote=False), camel(name), pick(REGIONS))
    return t, pick(["application/xml", "text/xml"])


def c_properties(name, v):
    key = "%s.%s" % (pick(["app", "spring.datasource", "integration", "client"]), name.lower().replace("_", "."))
    return "server.port=8080\n%s=%s\nlogging.level.root=INFO\n" % (key, v), "text/x-java-properties"


def c_log(name, v):
    ts = iso()
    if chance(0.5):
        line = jdump({"ts": ts, "level": pick(["debug", "info", "warn"]), "logger": pick(SERVICES),
                      "msg": pick(["loaded config", "starting client", "retrying request", "env dump"]),
                      snake(name): v})
    else:
        line = "%s %s [%s] %s - %s %s=%s" % (ts, pick(["DEBUG", "INFO", "WARN"]), pick(["main", "worker-3", "pool-2-thread-1"]),
                                              pick(SERVICES), pick(["config:", "using", "env"]), name, v)
    lines = ["%s INFO [main] %s - started in %d ms" % (iso(), pick(SERVICES), R.randint(80, 3000)), line]
    if chance(0.5):
        lines.append("%s INFO [main] %s - listening on :8080" % (iso(), pick(SERVICES)))
    return "\n".join(lines) + "\n", "text/plain"


def c_shell(name, v):
    cmds = ["cd ~/src/%s" % pick(SERVICES), "git pull --rebase", "make test"]
    style = pick(["export {n}={v}", "{n}={v} ./run.sh", "docker run --rm -e {n}={v} %s/%s:latest" % (company(), pick(SERVICES)),
                  "echo 'export {n}=\"{v}\"' >> ~/.bashrc"])
    insert_at_random(cmds, style.format(n=name, v=v))
    if chance(0.5):
        return "\n".join(": %d:0;%s" % (epoch(), c) for c in cmds) + "\n", "text/plain"  # zsh history
    return "\n".join(cmds) + "\n", "text/plain"


def c_python(name, v):
    t = pick([
        'import os\n\n{n} = "{v}"  # TODO move to vault\n\ndef client():\n    return Client(token={n})\n',
        'import requests\n\nresp = requests.get("https://%s/v1/items", headers={{"X-Token": "{v}"}})\nprint(resp.json())\n' % corp_host(),
        'settings = {{\n    "{s}": "{v}",\n    "timeout": 30,\n}}\n',
        'os.environ.setdefault("{n}", "{v}")\n',
    ])
    return t.format(n=name, v=v, s=snake(name)), pick(["text/x-python", "text/plain"])


def c_js(name, v):
    t = pick([
        "const config = {{\n  {c}: '{v}',\n  retries: 3,\n}};\nexport default config;\n",
        "process.env.{n} = process.env.{n} || \"{v}\";\n",
        "fetch('https://%s/v2/sync', {{ headers: {{ 'x-auth': `{v}` }} }});\n" % corp_host(),
    ])
    return t.format(n=name, v=v, c=camel(name)), pick(["application/javascript", "text/javascript"])


CHAT_LINES = [
    "here's the {w} for staging, don't share it: {v}",
    "can you try with this one? {v}",
    "new {w} is `{v}` (old one revoked)",
    "Hier ist der Schlüssel für Staging: {v} – bitte nicht weitergeben",
    "Voici le jeton pour la prod : {v}",
    "Te paso la clave del entorno de pruebas: {v}",
    "Segue o token de acesso ({v}), qualquer coisa me avisa",
    "本番のトークンです: {v} よろしくお願いします",
    "Oto klucz API: \"{v}\".",
    "这是测试环境的密钥：{v}",
    "Hierbij de sleutel: {v}\nGroet",
    "Вот ключ для CI: {v}",
]


def chat_text(v, what="token"):
    return pick(CHAT_LINES).format(w=what, v=v)


def c_chat(name, v):
    text = chat_text(v if chance(0.5) else "%s=%s" % (name, v), what=pick(["token", "key", "secret", "creds"]))
    if chance(0.5):
        o = {"channel": "C0" + rs(UP + DIG, 9), "text": text, "as_user": True}
    else:
        o = {"content": text, "username": person(), "tts": False}
    return jdump(o), "application/json"


def c_llm(name, v):
    content = pick([
        "Why does this fail with 401?\n\n```\n{n}={v}\ncurl -s https://%s/v1/me\n```" % corp_host(),
        "Rewrite this config as YAML: {{\"{s}\": \"{v}\", \"retries\": 3}}",
        "Summarise the following log:\n{ts} ERROR auth failed for key {v}\n{ts} INFO retrying",
    ]).format(n=name, v=v, s=snake(name), ts=iso())
    if chance(0.5):
        o = {"model": pick(["gpt-4o-mini", "gpt-4.1", "o3-mini"]), "messages": [
            {"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": content}],
             "temperature": 0.2}
    else:
        o = {"model": pick(["claude-3-5-sonnet-latest", "claude-sonnet-4-5"]), "max_tokens": 1024,
             "messages": [{"role": "user", "content": content}]}
    return jdump(o), "application/json"


def c_issue(name, v):
    o = {"title": pick(["Deploy fails on staging", "401 from upstream after rotation", "Config not loaded"]),
         "body": "Steps to reproduce:\n\n```\n%s=%s\nnpm run start\n```\n\nExpected: works. Actual: 401." % (name, v),
         "labels": ["bug"]}
    return jdump(o), "application/json"


def c_multipart(name, v):
    bnd = "----WebKitFormBoundary" + rs(ALNUM, 16)
    fname = pick([".env", "config.env", "settings.ini", "secrets.txt", "deploy.env"])
    content = "\r\n".join(R.sample(ENV_NOISE, 2) + ["%s=%s" % (name, v)])
    t = ("--{b}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nconfig backup\r\n"
         "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{f}\"\r\nContent-Type: text/plain\r\n\r\n"
         "{c}\r\n--{b}--\r\n").format(b=bnd, f=fname, c=content)
    return t, "multipart/form-data; boundary=" + bnd


def c_csv(name, v):
    rows = ["key,value,owner,rotated_at"]
    others = [("LOG_LEVEL", "info"), ("REGION", pick(REGIONS)), ("MAX_CONN", str(R.randint(5, 50)))]
    allr = insert_at_random(others, (name, v))
    for k, x in allr:
        rows.append("%s,%s,%s,%s" % (k, x, person(), rdate()))
    return "\n".join(rows) + "\n", "text/csv"


def c_compose(name, v):
    t = ("services:\n  %s:\n    image: %s/%s:%s\n    environment:\n      - TZ=UTC\n      - %s=%s\n    ports:\n      - \"8080:8080\"\n") % (
        pick(SERVICES), company(), pick(SERVICES), semver(), name, v)
    return t, "application/yaml"


def c_tfvars(name, v):
    return 'region      = "%s"\n%s = "%s"\ninstance_type = "t3.medium"\n' % (pick(REGIONS), snake(name), v), "text/plain"


def c_sql(name, v):
    return ("INSERT INTO integration_settings (tenant_id, setting_key, setting_value, updated_at) VALUES (%d, '%s', '%s', '%s %s');\n" % (
        R.randint(1, 9999), snake(name), v.replace("'", "''"), rdate(), rtime())), "application/sql"


def c_jsonl(name, v):
    lines = []
    for i in range(R.randint(2, 4)):
        lines.append(jdump({"ts": iso(), "level": "info", "msg": pick(["tick", "flush", "ok", "heartbeat"]), "seq": i}))
    insert_at_random(lines, jdump({"ts": iso(), "level": "debug", "msg": "resolved env", "env": {name: v}}))
    return "\n".join(lines) + "\n", "application/x-ndjson"


def c_graphql(name, v):
    o = {"operationName": "UpdateIntegration",
         "query": "mutation UpdateIntegration($id: ID!, $input: IntegrationInput!) { updateIntegration(id: $id, input: $input) { id status } }",
         "variables": {"id": str(R.randint(1000, 99999)), "input": {"provider": pick(["github", "slack", "stripe", "custom"]),
                                                                   camel(name): v, "enabled": True}}}
    return jdump(o), "application/json"


def c_sentry(name, v):
    o = {"event_id": rbytes(16).hex(), "platform": "python", "level": "error", "timestamp": iso(),
         "exception": {"values": [{"type": "HTTPError", "value": "401 Client Error: Unauthorized"}]},
         "extra": {"os.environ": {"HOME": "/app", name: v, "PYTHONUNBUFFERED": "1"}}}
    return jdump(o), "application/json"


GENERIC_CONTAINERS = [c_json, c_json, c_json_nested, c_form, c_env, c_env, c_yaml, c_toml, c_ini, c_xml,
                      c_properties, c_log, c_shell, c_python, c_js, c_chat, c_llm, c_issue, c_multipart, c_csv,
                      c_compose, c_tfvars, c_sql, c_jsonl, c_graphql, c_sentry]

NAMED_CONTAINERS = [c_json, c_json, c_json_nested, c_form, c_env, c_env, c_yaml, c_toml, c_ini, c_xml,
                    c_properties, c_log, c_shell, c_issue, c_multipart, c_csv, c_compose, c_tfvars, c_sql,
                    c_jsonl, c_graphql, c_sentry]

ENC_FIELDS = ["payload", "data", "blob", "config", "b64", "attachment", "content", "state", "ctx", "d", "dump",
              "env_b64", "context", "snapshot", "extra"]


NAMED = [True]  # while True, every placement keeps the value next to its name (set per class)


def inner_text(name, v):
    forms = ["{n}={v}", '{{"{s}": "{v}"}}', "{s}: {v}", "{n}={v}\nLOG_LEVEL=debug\n"]
    if not NAMED[0]:
        forms.append("{v}")
    return pick(forms).format(n=name, s=snake(name), v=v)


INNER_MODES = ["b64", "b64url", "hex", "HEX", "gzb64", "zlb64", "b64_of_pct", "b64b64", "hex_of_b64", "pct_of_b64"]
ESC_MODES = ["json_u", "json_u_half", "json_slash", "html_ent", "pct_all_form", "qp_email"]
URL_MODES = ["b64q", "pct_all", "nested", "nested2", "hexq", "b64seg"]
HDR_MODES = ["basic", "cookie", "b64hdr", "cookie_b64"]


def encode_inner(name, v, mode=None):
    """Wrap value (plus a little context) in a value-level encoding. Returns (encoded, description)."""
    t = inner_text(name, v)
    mode = mode or pick(["b64", "b64", "b64url", "hex", "HEX", "gzb64", "gzb64", "zlb64", "b64_of_pct", "b64b64",
                         "hex_of_b64", "pct_of_b64"])
    if mode == "b64":
        e = b64s(t)
    elif mode == "b64url":
        e = b64u(t)
    elif mode == "hex":
        e = hexs(t)
    elif mode == "HEX":
        e = hexs(t, upper=True)
    elif mode == "gzb64":
        e = b64s(gz(t))
    elif mode == "zlb64":
        e = b64s(zl(t))
    elif mode == "b64_of_pct":
        e = b64s("%s=%s&ts=%d" % (snake(name), quote(v, safe=""), epoch()))
    elif mode == "b64b64":
        e = b64s(b64s(t))
    elif mode == "hex_of_b64":
        e = hexs(b64s(t))
    else:
        e = quote(b64s(t), safe="")
    return e, mode


def body_generic(expect, name, v, secret=None, tags=(), enc_p=0.25, comp_p=0.1, special=(), special_p=0.35, force=None):
    secret = secret if secret is not None else v
    if force:
        special = ()
    if special and chance(special_p):
        fn = pick(special)
        text, ct = fn(v)
        return add_pos(expect, "body", text, secret, ct=ct, tags=tags, form="special:" + fn.__name__, comp_p=comp_p)
    r = None if force else R.random()
    if force in INNER_MODES or (r is not None and r < enc_p):
        e, mode = encode_inner(name, v, force)
        fld = pick(ENC_FIELDS)
        cont = pick([c_json, c_json, c_form, c_jsonl, c_graphql, c_xml])
        text, ct = cont(fld.upper(), e)
        return add_pos(expect, "body", text, secret, ct=ct, tags=tags, form="%s/%s" % (cont.__name__, mode), comp_p=comp_p)
    if force in ESC_MODES or (r is not None and r < enc_p + 0.08):
        # container-level escapes
        mode = force or pick(["json_u", "json_u_half", "json_slash", "html_ent", "pct_all_form", "qp_email"])
        if mode in ("json_u", "json_u_half", "json_slash"):
            key = pick([snake(name), camel(name)])
            o = dict(insert_at_random(noise(), (key, "@@V@@")))
            t = jdump(o)
            if mode == "json_u":
                rep = json_u_escape(v)
            elif mode == "json_u_half":
                rep = json_u_escape(v, every=2)
            else:
                rep = json.dumps(v)[1:-1].replace("/", "\\/")
                mode = "json_slash"
            text = t.replace("@@V@@", rep)
            ct = "application/json"
        elif mode == "html_ent":
            text = ('<form action="/save" method="post"><input type="hidden" name="%s" value="%s">'
                    '<input type="submit"></form>') % (snake(name), html_ent(v, hexform=chance(0.5)))
            ct = "text/html"
        elif mode == "pct_all_form":
            text = "%s=%s&%s=%s" % (snake(name), pct_all(v), "env", pick(["prod", "staging"]))
            ct = "application/x-www-form-urlencoded"
        else:
            body = "Hi team,\n\nthe %s is below, please store it safely:\n\n%s=%s\n\nthanks, %s\n" % (
                pick(["new key", "rotated token", "credential"]), name, v, person())
            qp = quopri.encodestring(body.encode()).decode()
            if "=\n" not in qp and len(v) > 20 and v in qp:
                # force a soft line break inside the value, the way a 76-column mail encoder would
                i = qp.index(v) + len(v) // 2
                qp = qp[:i] + "=\n" + qp[i:]
            text = ("From: %s\nTo: %s\nSubject: credentials\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                    "Content-Transfer-Encoding: quoted-printable\n\n%s") % (email(), email(), qp)
            ct = "message/rfc822"
        return add_pos(expect, "body", text, secret, ct=ct, tags=tags, form=mode, comp_p=comp_p)
    cont = pick(NAMED_CONTAINERS if NAMED[0] else GENERIC_CONTAINERS)
    text, ct = cont(name, v)
    return add_pos(expect, "body", text, secret, ct=ct, tags=tags, form=cont.__name__, comp_p=comp_p)


# ---------------------------------------------------------------- url / header engines
TUNNEL_PARENTS = ["trycloudflare.com", "ngrok-free.app", "ngrok.io", "loca.lt", "workers.dev", "pages.dev",
                  "onrender.com", "fly.dev", "glitch.me", "repl.co", "m.pipedream.net", "requestcatcher.com",
                  "serveo.net", "lhr.life", "deno.dev", "up.railway.app", "ondigitalocean.app", "netlify.app"]


def tunnel_host():
    p = pick(TUNNEL_PARENTS)
    if p == "trycloudflare.com":
        sub = "-".join(pick(["seasonal", "deck", "organisms", "lamp", "river", "quiet", "tiger", "blue", "gentle",
                             "orbit", "maple", "harbor", "crisp", "velvet"]) for _ in range(4))
    elif p in ("ngrok-free.app", "ngrok.io"):
        sub = "%s-%d-%d-%d-%d" % (rs(HEXL, 4), R.randint(1, 223), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))
    elif p == "m.pipedream.net":
        sub = "eo" + rs(B36, 13)
    else:
        sub = pick(["sync", "relay", "cb", "hook", "probe", "x", "data", "io"]) + "-" + rs(B36, R.randint(4, 7))
    return sub + "." + p


def ip4():
    return "%d.%d.%d.%d" % (pick([45, 91, 103, 139, 146, 159, 167, 185, 193, 198]), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))


def exfil_base():
    return pick([
        lambda: "https://%s/%s" % (corp_host(), pick(["v1/events", "collect", "api/ingest", "t", "beacon", "log"])),
        lambda: "https://%s/%s" % (tunnel_host(), pick(["", "c", "x", "up", "cb", "hook"])),
        lambda: "https://webhook.site/%s" % uuid4(),
        lambda: "https://hooks.zapier.com/hooks/catch/%d/%s/" % (R.randint(100000, 9999999), rs(B36, 7)),
        lambda: "http://%s:%d/%s" % (ip4(), pick([80, 8000, 8080, 8443, 9000]), pick(["u", "p", "in", "data"])),
    ])()


def join_q(base, q):
    return base + ("&" if "?" in base else "?") + q


def url_generic_templates():
    return [
        lambda v: "https://%s/v1/hooks/ingest?token=%s" % (corp_host(), pct(v)),
        lambda v: "https://%s/collect?k=%s&t=%d" % (tunnel_host(), pct(v), epoch()),
        lambda v: "https://%s/api/%s/status" % (corp_host(), pct(v)),
        lambda v: "http://%s:%d/upload?auth=%s" % (ip4(), pick([8080, 8000, 9000]), pct(v)),
        lambda v: "https://%s/%s?ref=%s" % (tunnel_host(), pct(v), rs(B36, 5)),
    ]


def url_case(expect, name, v, templates, secret=None, tags=(), enc_p=0.25, force=None):
    secret = secret if secret is not None else v
    if force or chance(enc_p):
        mode = force or pick(["b64q", "b64q", "pct_all", "nested", "nested2", "hexq", "b64seg"])
        if mode == "b64q":
            url = join_q(exfil_base(), "%s=%s" % (pick(["d", "data", "q", "p", "state", "ctx", "payload"]),
                                                  pick([b64u, lambda x: pct(b64s(x))])(inner_text(name, v))))
        elif mode == "b64seg":
            url = "https://%s/%s/%s.gif" % (pick([corp_host(), tunnel_host()]), pick(["px", "i", "c"]), b64u(inner_text(name, v)))
        elif mode == "hexq":
            url = join_q(exfil_base(), "h=%s" % hexs(inner_text(name, v)))
        elif mode == "pct_all":
            url = join_q(exfil_base(), "%s=%s" % (snake(name), pct_all(v)))
        else:
            inner = pick(templates)(v)
            enc = pct(inner)
            if mode == "nested2":
                enc = pct(enc)
            url = "https://%s/%s?%s=%s" % (pick(["login." + company() + ".com", corp_host("sso"), corp_host("auth")]),
                                           pick(["sso/start", "oauth/redirect", "r", "out"]),
                                           pick(["next", "return_to", "redirect_uri", "url", "continue"]), enc)
        return add_pos(expect, "url", url, secret, tags=tags, form="url/" + mode)
    t = pick(templates)
    return add_pos(expect, "url", t(v), secret, tags=tags, form="url/template")


DEFAULT_HEADERS = [
    lambda v: "Authorization: Bearer %s" % v,
    lambda v: "X-Api-Key: %s" % v,
    lambda v: "X-Auth-Token: %s" % v,
]


def header_case(expect, name, v, templates, secret=None, tags=(), enc_p=0.2, force=None):
    secret = secret if secret is not None else v
    if force or chance(enc_p):
        mode = force or pick(["cookie", "b64hdr"] if NAMED[0] else ["basic", "cookie", "b64hdr", "cookie_b64"])
        if mode == "basic":
            h = "%s: Basic %s" % (pick(["Authorization", "authorization", "Proxy-Authorization"]),
                                  b64s("%s:%s" % (pick([person(), "x-access-token", "api", "token", ""]), v)))
        elif mode == "cookie":
            h = "Cookie: _ga=GA1.2.%d.%d; %s=%s; theme=dark" % (R.randint(10 ** 8, 10 ** 9), epoch(), snake(name), pct(v))
        elif mode == "cookie_b64":
            h = "Cookie: lang=en; prefs=%s" % pct(b64s(jdump({"k": v, "ts": epoch()})))
        else:
            h = "%s: %s" % (pick(["X-Context", "X-Debug-State", "X-Client-Data", "X-Forwarded-Ctx"]), b64s(inner_text(name, v)))
        return add_pos(expect, "header", h, secret, tags=tags, form="header/" + mode)
    return add_pos(expect, "header", pick(templates)(v), secret, tags=tags, form="header/template")


def run_class(expect, gen, names, b, u, h, urls=(), headers=(), special=(), special_p=0.35,
              tags=(), values=None, enc_p=0.08, named=False):
    NAMED[0] = named
    urls = list(urls) or url_generic_templates()
    urls_all = urls + ([] if named else url_generic_templates()[:2])
    headers = list(headers) or DEFAULT_HEADERS
    seq = ["body"] * b + ["url"] * u + ["header"] * h
    vals = list(values) if values is not None else None
    for i, w in enumerate(seq):
        v = vals[i % len(vals)] if vals is not None else gen()
        name = pick(names)
        if w == "body":
            body_generic(expect, name, v, tags=tags, special=special, special_p=special_p, enc_p=enc_p)
        elif w == "url":
            url_case(expect, name, v, urls if chance(0.7) else urls_all, tags=tags, enc_p=enc_p)
        else:
            header_case(expect, name, v, headers, tags=tags, enc_p=enc_p)
    NAMED[0] = True


# ---------------------------------------------------------------- vendor token generators
def gh_crc_token(prefix, body_len=30):
    body = rs_mixed(ALNUM, body_len)
    return prefix + body + b62enc(zlib.crc32(body.encode()), 6)


def tok_github_fg():
    return "github_pat_" + "11" + rs(UP + DIG, 9) + rs(ALNUM, 11) + "_" + rs_mixed(ALNUM, 59)


def tok_glpat():
    return "glpat-" + rs_mixed(ALNUM + "_-", 20)


def digits(n):
    return str(R.randint(1, 9)) + rs(DIG, n - 1)


def tok_xoxb():
    return "xoxb-%s-%s-%s" % (digits(R.choice([10, 11, 12, 13])), digits(R.choice([11, 12, 13])), rs_mixed(ALNUM, 24))


def tok_xoxp():
    return "xoxp-%s-%s-%s-%s" % (digits(R.choice([10, 11, 12])), digits(R.choice([11, 12, 13])),
                                 digits(R.choice([11, 12, 13])), rs(HEXL, 32))


def slack_webhook():
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(UP + DIG, R.choice([8, 10])), rs(UP + DIG, R.choice([8, 10, 11])),
                                                            rs_mixed(ALNUM, 24))


def tok_stripe(prefix):
    if chance(0.5):
        return prefix + rs_mixed(ALNUM, 24)
    return prefix + "51" + rs(UP + DIG, 8) + rs_mixed(ALNUM, 89)


def tok_openai_legacy():
    return "sk-" + rs_mixed(ALNUM, 20) + "T3BlbkFJ" + rs_mixed(ALNUM, 20)


def tok_openai_proj():
    r = R.random()
    if r < 0.5:
        return "sk-proj-" + rs_mixed(ALNUM + "_-", 74) + "T3BlbkFJ" + rs_mixed(ALNUM + "_-", 74)
    if r < 0.8:
        return "sk-proj-" + rs_mixed(ALNUM + "_-", R.choice([48, 64, 124, 156]))
    return "sk-svcacct-" + rs_mixed(ALNUM + "_-", 74) + "T3BlbkFJ" + rs_mixed(ALNUM + "_-", 74)


def tok_anthropic():
    kind = pick(["api03", "api03", "api03", "admin01"])
    return "sk-ant-%s-%sAA" % (kind, rs_mixed(ALNUM + "_-", 93))


def tok_hf():
    return "hf_" + rs_mixed(UP + LOW, 34)


def tok_npm():
    return gh_crc_token("npm_")


def tok_sendgrid():
    return "SG." + rs_mixed(ALNUM + "_-", 22) + "." + rs_mixed(ALNUM + "_-", 43)


def tok_akia():
    return pick(["AKIA", "AKIA", "ASIA"]) + rs(B32, 16)


def tok_aws_secret():
    while True:
        s = rs(B64, 40)
        if any(c in "+/" for c in s) or chance(0.3):
            return s


def tok_google():
    return "AIzaSy" + rs_mixed(ALNUM + "_-", 33)


def tok_twilio_sk():
    return "SK" + rs(HEXL, 32)


def tok_mailgun():
    if chance(0.6):
        return "key-" + rs(HEXL, 32)
    return "%s-%s-%s" % (rs(HEXL, 32), rs(HEXL, 8), rs(HEXL, 8))


def tok_square():
    r = R.random()
    if r < 0.5:
        return "EAAA" + rs_mixed(ALNUM + "_-", 60)
    if r < 0.8:
        return "sq0atp-" + rs_mixed(ALNUM + "_-", 22)
    return "sq0csp-" + rs_mixed(ALNUM + "_-", 43)


def tok_telegram():
    return "%d:AA%s" % (R.randint(10 ** 8, 8 * 10 ** 9), rs_mixed(ALNUM + "_-", 33))


def snowflake():
    return str(R.randint(10 ** 17, 13 * 10 ** 17))


def tok_discord():
    return "%s.%s.%s" % (b64u(snowflake()), rs(ALNUM + "_-", 6), rs_mixed(ALNUM + "_-", pick([27, 38])))


def discord_webhook():
    return "https://discord.com/api/webhooks/%s/%s" % (snowflake(), rs_mixed(ALNUM + "_-", 68))


def tok_shopify():
    return pick(["shpat_", "shpat_", "shpca_", "shppa_", "shpss_"]) + rs(HEXL, 32)


def tok_do():
    return pick(["dop_v1_", "dop_v1_", "doo_v1_", "dor_v1_"]) + rs(HEXL, 64)


def azure_sas_query():
    se = "2026-%02d-%02dT%02d:00:00Z" % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23))
    st = "2026-01-%02dT00:00:00Z" % R.randint(1, 28)
    sig = b64s(rbytes(32))
    if chance(0.5):
        q = "sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=%s&st=%s&spr=https&sig=%s" % (se, st, pct(sig))
    else:
        q = "sp=racwdl&st=%s&se=%s&spr=https&sv=2022-11-02&sr=%s&sig=%s" % (st, se, pick(["b", "c"]), pct(sig))
    return q, sig


def storage_account():
    return company() + pick(["prod", "data", "logs", "backup", "st"]) + rs(DIG + LOW, 3)


def azure_conn_string():
    acct = storage_account()
    key = b64s(rbytes(64))
    return "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, key), key


# ---------------------------------------------------------------- special body forms
def sp_git_credentials(v):
    return "https://%s:%s@github.com\nhttps://oauth2:%s@gitlab.%s.com\n" % (person(), v, rs(ALNUM, 20), company()), "text/plain"


def sp_git_config(v):
    return ('[core]\n\trepositoryformatversion = 0\n[remote "origin"]\n\turl = https://x-access-token:%s@github.com/%s/%s.git\n'
            '\tfetch = +refs/heads/*:refs/remotes/origin/*\n' % (v, company(), pick(SERVICES))), "text/plain"


def sp_gh_actions_log(v):
    return ("2026-03-02T10:11:12.0000000Z ##[group]Run actions/checkout@v4\n"
            "2026-03-02T10:11:12.1000000Z   token: %s\n2026-03-02T10:11:13.0000000Z ##[endgroup]\n" % v), "text/plain"


def sp_npmrc(v):
    host = "registry.npmjs.org" if v.startswith("npm_") else pick(["npm.pkg.github.com", "registry.npmjs.org"])
    return "@%s:registry=https://%s/\n//%s/:_authToken=%s\nalways-auth=true\n" % (company(), host, host, v), "text/plain"


def sp_slack_oauth(v):
    return jdump({"ok": True, "access_token": v, "token_type": "bot", "scope": "chat:write,channels:read",
                  "bot_user_id": "U0" + rs(UP + DIG, 9), "team": {"id": "T0" + rs(UP + DIG, 9), "name": company()}}), "application/json"


def sp_stripe_cli(v):
    return "curl https://api.stripe.com/v1/charges \\\n  -u %s: \\\n  -d amount=2000 \\\n  -d currency=eur\n" % v, "text/plain"


def sp_openai_py(v):
    return ('from openai import OpenAI\nclient = OpenAI(api_key="%s")\nr = client.chat.completions.create(model="gpt-4o", '
            'messages=[{"role": "user", "content": "hi"}])\n' % v), "text/x-python"


def sp_anthropic_curl(v):
    return ("curl https://api.anthropic.com/v1/messages -H \"x-api-key: %s\" -H \"anthropic-version: 2023-06-01\" "
            "-H \"content-type: application/json\" -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64}'\n" % v), "text/plain"


def sp_hf_cli(v):
    return "$ huggingface-cli login --token %s\nToken is valid (permission: write).\nLogin successful\n" % v, "text/plain"


def sp_docker_config(v):
    return jdump({"auths": {"https://index.docker.io/v1/": {"auth": b64s("%s:%s" % (person(), v))}}}, indent=2), "application/json"


def sp_aws_credentials_file(pair):
    kid, sec = pair
    return "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n" % (kid, sec, pick(REGIONS)), "text/plain"


def sp_sts_response(pair):
    kid, sec = pair
    tok = "IQoJb3JpZ2luX2Vj" + rs(B64, 280)
    return jdump({"Credentials": {"AccessKeyId": kid, "SecretAccessKey": sec, "SessionToken": tok,
                                  "Expiration": iso()}, "AssumedRoleUser": {"Arn": "arn:aws:sts::%s:assumed-role/ci/%s" % (
                                      rs(DIG, 12), person())}}), "application/json"


def sp_telegram_json(v):
    return jdump({"bot_token": v, "chat_id": -R.randint(10 ** 12, 10 ** 13), "text": "build %s ok" % semver()}), "application/json"


def sp_k8s_secret_data(v, name="TOKEN"):
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-secrets\ntype: Opaque\ndata:\n  %s: %s\n" % (
        pick(SERVICES), snake(name), b64s(v))), "application/yaml"


def sp_shopify_toml(v):
    return ('[shop]\nstore = "%s.myshopify.com"\naccess_token = "%s"\napi_version = "2025-01"\n' % (company(), v)), "application/toml"


def sp_doctl(v):
    return ('access-token: %s\ncontext: default\noutput: text\n' % v), "application/yaml"


def sp_connstr_appsettings(v):
    return jdump({"ConnectionStrings": {"Storage": v}, "Logging": {"LogLevel": {"Default": "Information"}}}, indent=2), "application/json"


# ================================================================ POSITIVES
def near(tok_prefix, body_alpha, lengths):
    L = pick(lengths)
    return tok_prefix + rs_mixed(body_alpha, L)


def gen_vendor():
    # GitHub
    gh_urls = [
        lambda v: "https://x-access-token:%s@github.com/%s/%s.git/info/refs?service=git-upload-pack" % (v, company(), pick(SERVICES)),
        lambda v: "https://%s@github.com/%s/%s.git" % (v, company(), pick(SERVICES)),
        lambda v: "https://api.github.com/repos/%s/%s/contents/README.md?access_token=%s" % (company(), pick(SERVICES), v),
        lambda v: "https://%s/gh/callback?token=%s" % (corp_host(), v),
    ]
    gh_hdr = [lambda v: "Authorization: token %s" % v, lambda v: "Authorization: Bearer %s" % v,
              lambda v: "authorization: bearer %s" % v, lambda v: "X-GitHub-Token: %s" % v]
    gh_sp = [sp_git_credentials, sp_git_config, sp_gh_actions_log, sp_npmrc, sp_docker_config]
    gh_names = ["GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT", "GH_ENTERPRISE_TOKEN", "TOKEN"]
    run_class("github-pat", lambda: gh_crc_token("ghp_"), gh_names, 4, 2, 2, gh_urls, gh_hdr, gh_sp)
    run_class("github-pat", None, gh_names, 1, 0, 0, gh_urls, gh_hdr, gh_sp, tags=["doc-example"],
              values=["ghp_16C7e42F292c6912E7710c838347Ae178B4a"])
    run_class("github-pat", None, gh_names, 1, 1, 0, gh_urls, gh_hdr, gh_sp, tags=["near-miss"],
              values=[near("ghp_", ALNUM, [34, 35]), near("ghp_", ALNUM, [37, 38, 40])])
    run_class("github-oauth-or-app-token", lambda: gh_crc_token(pick(["gho_", "ghu_", "ghs_", "ghr_"])), gh_names, 2, 2, 1,
              gh_urls, gh_hdr, gh_sp)
    run_class("github-fine-grained-pat", tok_github_fg, gh_names, 2, 1, 1, gh_urls, gh_hdr, gh_sp)
    run_class("github-fine-grained-pat", None, gh_names, 1, 0, 0, gh_urls, gh_hdr, gh_sp, tags=["near-miss"],
              values=["github_pat_11" + rs(UP + DIG, 9) + rs(ALNUM, 11) + "_" + rs_mixed(ALNUM, pick([55, 56, 62]))])
    # GitLab
    gl_urls = [lambda v: "https://gitlab.%s.com/api/v4/projects/%d/repository/files/ci.yml/raw?private_token=%s" % (company(), R.randint(10, 9999), v),
               lambda v: "https://oauth2:%s@gitlab.com/%s/%s.git" % (v, company(), pick(SERVICES))]
    gl_hdr = [lambda v: "PRIVATE-TOKEN: %s" % v, lambda v: "Authorization: Bearer %s" % v, lambda v: "Private-Token: %s" % v]
    run_class("gitlab-pat", tok_glpat, ["GITLAB_TOKEN", "CI_JOB_TOKEN_OVERRIDE", "GL_TOKEN", "GITLAB_API_TOKEN"], 2, 1, 2, gl_urls, gl_hdr)
    run_class("gitlab-pat", None, ["GITLAB_TOKEN"], 0, 0, 1, gl_urls, gl_hdr, tags=["near-miss"],
              values=["glpat-" + rs_mixed(ALNUM + "_-", pick([18, 22, 26]))])
    # Slack
    sl_urls = [lambda v: "https://slack.com/api/chat.postMessage?token=%s&channel=C0%s&text=deploy%%20done" % (v, rs(UP + DIG, 9)),
               lambda v: "https://slack.com/api/conversations.history?channel=C0%s&token=%s" % (rs(UP + DIG, 9), v)]
    sl_hdr = [lambda v: "Authorization: Bearer %s" % v, lambda v: "X-Slack-Token: %s" % v]
    run_class("slack-bot-token", tok_xoxb, ["SLACK_BOT_TOKEN", "SLACK_TOKEN", "BOT_TOKEN"], 2, 1, 1, sl_urls, sl_hdr, [sp_slack_oauth])
    run_class("slack-bot-token", None, ["SLACK_BOT_TOKEN"], 1, 0, 0, sl_urls, sl_hdr, [sp_slack_oauth], tags=["doc-example"],
              values=["xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"])
    run_class("slack-bot-token", None, ["SLACK_BOT_TOKEN"], 0, 0, 1, sl_urls, sl_hdr, tags=["near-miss"],
              values=["xoxb-%s-%s-%s" % (digits(11), digits(12), rs_mixed(ALNUM, pick([20, 28, 32])))])
    run_class("slack-user-token", tok_xoxp, ["SLACK_USER_TOKEN", "SLACK_TOKEN"], 2, 1, 1, sl_urls, sl_hdr)
    hook_urls = [lambda v: v, lambda v: "https://%s/integrations/test?webhook=%s" % (corp_host(), pct(v))]
    run_class("slack-webhook", slack_webhook, ["SLACK_WEBHOOK_URL", "SLACK_HOOK", "ALERT_WEBHOOK"], 3, 2, 0, hook_urls)
    # Stripe
    st_urls = [lambda v: "https://%s/billing/setup?stripe_key=%s" % (corp_host(), v),
               lambda v: "https://%s:@api.stripe.com/v1/customers?limit=3" % v]
    st_hdr = [lambda v: "Authorization: Bearer %s" % v, lambda v: "Authorization: Basic %s" % b64s(v + ":"),
              lambda v: "Stripe-Secret: %s" % v]
    run_class("stripe-secret-key", lambda: tok_stripe("sk_live_"), ["STRIPE_SECRET_KEY", "STRIPE_API_KEY", "STRIPE_KEY"], 3, 1, 1,
              st_urls, st_hdr, [sp_stripe_cli])
    run_class("stripe-secret-key", None, ["STRIPE_SECRET_KEY"], 1, 0, 0, st_urls, st_hdr, [sp_stripe_cli], tags=["doc-example"],
              values=["sk_test_4eC39HqLyjWDarjtT1zdp7dc"])
    run_class("stripe-secret-key", None, ["STRIPE_SECRET_KEY"], 1, 0, 0, st_urls, st_hdr, tags=["near-miss"],
              values=["sk_live_" + rs_mixed(ALNUM, pick([20, 22]))])
    run_class("stripe-restricted-key", lambda: tok_stripe("rk_live_"), ["STRIPE_RESTRICTED_KEY", "STRIPE_RK"], 2, 1, 1, st_urls, st_hdr)
    # OpenAI
    oa_urls = [lambda v: "https://%s/v1/proxy?openai_key=%s" % (corp_host(), v), lambda v: "https://%s/chat?key=%s&model=gpt-4o" % (tunnel_host(), v)]
    oa_hdr = [lambda v: "Authorization: Bearer %s" % v, lambda v: "api-key: %s" % v, lambda v: "X-OpenAI-Key: %s" % v]
    run_class("openai-api-key", tok_openai_legacy, ["OPENAI_API_KEY", "OPENAI_KEY", "LLM_API_KEY"], 3, 1, 1, oa_urls, oa_hdr, [sp_openai_py])
    run_class("openai-project-key", tok_openai_proj, ["OPENAI_API_KEY", "OPENAI_PROJECT_KEY"], 3, 1, 1, oa_urls, oa_hdr, [sp_openai_py])
    run_class("openai-project-key", None, ["OPENAI_API_KEY"], 0, 1, 0, oa_urls, oa_hdr, tags=["near-miss"],
              values=["sk-proj-" + rs_mixed(ALNUM + "_-", pick([30, 36, 40]))])
    # Anthropic
    an_hdr = [lambda v: "x-api-key: %s" % v, lambda v: "X-Api-Key: %s" % v, lambda v: "Authorization: Bearer %s" % v]
    an_urls = [lambda v: "https://%s/v1/messages?anthropic_key=%s" % (corp_host(), v)]
    run_class("anthropic-api-key", tok_anthropic, ["ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "ANTHROPIC_KEY"], 3, 1, 1, an_urls, an_hdr,
              [sp_anthropic_curl])
    run_class("anthropic-api-key", None, ["ANTHROPIC_API_KEY"], 1, 0, 0, an_urls, an_hdr, tags=["near-miss"],
              values=["sk-ant-api03-" + rs_mixed(ALNUM + "_-", pick([60, 80, 90]))])
    # Hugging Face
    hf_urls = [lambda v: "https://huggingface.co/api/whoami-v2?token=%s" % v,
               lambda v: "https://user:%s@huggingface.co/%s/%s-model" % (v, company(), pick(["bert", "llama", "vit"]))]
    run_class("huggingface-token", tok_hf, ["HF_TOKEN", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN"], 2, 1, 1, hf_urls,
              [lambda v: "Authorization: Bearer %s" % v], [sp_hf_cli])
    run_class("huggingface-token", None, ["HF_TOKEN"], 0, 0, 1, hf_urls, [lambda v: "Authorization: Bearer %s" % v], tags=["near-miss"],
              values=["hf_" + rs_mixed(UP + LOW, pick([30, 31, 37, 39]))])
    # npm
    np_urls = [lambda v: "https://registry.npmjs.org/-/whoami?_authToken=%s" % v]
    run_class("npm-token", tok_npm, ["NPM_TOKEN", "NODE_AUTH_TOKEN", "NPM_AUTH_TOKEN"], 2, 1, 1, np_urls,
              [lambda v: "Authorization: Bearer %s" % v], [sp_npmrc])
    run_class("npm-token", None, ["NPM_TOKEN"], 1, 0, 0, np_urls, [lambda v: "Authorization: Bearer %s" % v], [sp_npmrc], special_p=1.0,
              tags=["near-miss"], values=["npm_" + rs_mixed(ALNUM, pick([33, 34, 38]))])
    # SendGrid
    sg_urls = [lambda v: "https://%s/mail/test?sendgrid_api_key=%s" % (corp_host(), v)]
    run_class("sendgrid-api-key", tok_sendgrid, ["SENDGRID_API_KEY", "SMTP_PASSWORD", "MAIL_API_KEY"], 2, 1, 1, sg_urls,
              [lambda v: "Authorization: Bearer %s" % v])
    run_class("sendgrid-api-key", None, ["SENDGRID_API_KEY"], 1, 0, 0, sg_urls, tags=["near-miss"],
              values=["SG." + rs_mixed(ALNUM + "_-", 22) + "." + rs_mixed(ALNUM + "_-", pick([39, 41, 46]))])
    # Google API key
    gk_urls = [lambda v: "https://maps.googleapis.com/maps/api/geocode/json?address=%s&key=%s" % (pct(pick(["1600 Amphitheatre Pkwy", "10 Downing St, London", "Alexanderplatz 1, Berlin"])), v),
               lambda v: "https://www.googleapis.com/youtube/v3/search?part=snippet&q=%s&key=%s" % (pick(["rust", "jazz", "cats"]), v),
               lambda v: "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=%s" % v,
               lambda v: "https://firebaseinstallations.googleapis.com/v1/projects/%s-prod/installations?key=%s" % (company(), v)]
    run_class("google-api-key", tok_google, ["GOOGLE_API_KEY", "MAPS_API_KEY", "GEMINI_API_KEY", "FIREBASE_API_KEY"], 2, 2, 1, gk_urls,
              [lambda v: "x-goog-api-key: %s" % v, lambda v: "X-Goog-Api-Key: %s" % v])
    run_class("google-api-key", None, ["GOOGLE_API_KEY"], 0, 1, 0, gk_urls, tags=["near-miss"],
              values=["AIzaSy" + rs_mixed(ALNUM + "_-", pick([31, 32, 34]))])
    # Twilio
    tw_urls = [lambda v: "https://%s/sms/config?twilio_api_key=%s&twilio_api_secret=%s" % (corp_host(), v, rs(ALNUM, 32))]
    run_class("twilio-api-key", tok_twilio_sk, ["TWILIO_API_KEY", "TWILIO_API_KEY_SID"], 2, 1, 1, tw_urls,
              [lambda v: "Authorization: Basic %s" % b64s("%s:%s" % (v, rs(ALNUM, 32)))])
    # Mailgun
    mg_urls = [lambda v: "https://api:%s@api.mailgun.net/v3/mg.%s.com/messages" % (v, company())]
    run_class("mailgun-api-key", tok_mailgun, ["MAILGUN_API_KEY", "MAILGUN_KEY"], 2, 1, 1, mg_urls,
              [lambda v: "Authorization: Basic %s" % b64s("api:" + v)], named=True)
    # Square
    run_class("square-token", tok_square, ["SQUARE_ACCESS_TOKEN", "SQUARE_TOKEN", "SQUARE_APPLICATION_SECRET"], 2, 1, 1,
              [lambda v: "https://%s/pos/link?square_token=%s" % (corp_host(), v)],
              [lambda v: "Authorization: Bearer %s" % v])
    # Telegram
    tg_urls = [lambda v: "https://api.telegram.org/bot%s/sendMessage?chat_id=-100%d&text=%s" % (v, R.randint(10 ** 9, 10 ** 10), pct("backup done")),
               lambda v: "https://api.telegram.org/bot%s/getUpdates?offset=%d" % (v, R.randint(1, 10 ** 6)),
               lambda v: "https://api.telegram.org/file/bot%s/documents/file_%d.txt" % (v, R.randint(1, 300))]
    run_class("telegram-bot-token", tok_telegram, ["TELEGRAM_BOT_TOKEN", "TG_TOKEN", "BOT_TOKEN"], 2, 3, 0, tg_urls,
              special=[sp_telegram_json])
    # Discord
    run_class("discord-bot-token", tok_discord, ["DISCORD_TOKEN", "DISCORD_BOT_TOKEN"], 2, 0, 2,
              headers=[lambda v: "Authorization: Bot %s" % v, lambda v: "authorization: Bot %s" % v])
    run_class("discord-webhook", discord_webhook, ["DISCORD_WEBHOOK_URL", "DISCORD_HOOK"], 2, 1, 0, hook_urls)
    # Shopify
    run_class("shopify-token", tok_shopify, ["SHOPIFY_ACCESS_TOKEN", "SHOPIFY_ADMIN_TOKEN", "SHOPIFY_API_SECRET"], 2, 1, 2,
              [lambda v: "https://%s.myshopify.com/admin/api/2025-01/orders.json?access_token=%s" % (company(), v)],
              [lambda v: "X-Shopify-Access-Token: %s" % v, lambda v: "x-shopify-access-token: %s" % v], [sp_shopify_toml])
    # DigitalOcean
    run_class("digitalocean-token", tok_do, ["DIGITALOCEAN_TOKEN", "DO_API_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"], 2, 1, 1,
              [lambda v: "https://%s/infra/sync?do_token=%s" % (corp_host(), v)],
              [lambda v: "Authorization: Bearer %s" % v], [sp_doctl])


def gen_aws():
    names_id = ["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "ACCESS_KEY_ID"]
    id_urls = [lambda v: "https://%s/debug/env?aws_access_key_id=%s" % (corp_host(), v),
               lambda v: "https://%s/%s" % (tunnel_host(), v)]
    # bare access key ids (the prefix is the signal)
    run_class("aws-access-key-id", tok_akia, names_id, 3, 1, 1, id_urls, [lambda v: "X-Aws-Access-Key: %s" % v])
    # presigned URLs carry the key id in X-Amz-Credential
    for _ in range(2):
        kid = tok_akia()
        url = ("https://%s.s3.%s.amazonaws.com/%s/%s.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
               "&X-Amz-Date=%sT%sZ&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (
            company() + "-exports", pick(REGIONS), pick(["reports", "exports", "tmp"]), uuid4(), kid,
            rdate().replace("-", ""), pick(REGIONS), rdate().replace("-", ""), rtime().replace(":", ""), rs(HEXL, 64))
        add_pos("aws-access-key-id", "url", url, kid, form="url/presigned")
    # key id as a DNS label (DNS lowercases; the id alphabet survives that)
    for _ in range(2):
        kid = tok_akia()
        host = "%s.%s.%s" % (kid.lower(), pick(["s3-sync", "cfg", "k"]), pick(["oast.fun", "b7x-telemetry.top", "dnslog.cn", "upd4te.xyz"]))
        add_pos("aws-access-key-id", "hostname", host, kid.lower(), form="hostname/label")
    run_class("aws-access-key-id", None, names_id, 1, 1, 0, id_urls, tags=["doc-example"], values=["AKIAIOSFODNN7EXAMPLE"])
    run_class("aws-access-key-id", None, names_id, 1, 0, 0, id_urls, tags=["near-miss"], values=["AKIA" + rs(B32, pick([15, 17, 18]))])
    # secret access keys next to their names
    sec_names = ["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "SECRET_ACCESS_KEY"]
    sec_urls = [lambda v: "https://%s/debug/env?aws_secret_access_key=%s&region=%s" % (corp_host(), pct(v), pick(REGIONS)),
                lambda v: "https://%s/cfg?AWS_SECRET_ACCESS_KEY=%s" % (tunnel_host(), pct(v))]
    run_class("aws-secret-access-key", tok_aws_secret, sec_names, 3, 1, 0, sec_urls, named=True)
    for fn in (sp_aws_credentials_file, sp_sts_response, sp_aws_credentials_file):
        pair = (tok_akia(), tok_aws_secret())
        t, ct = fn(pair)
        add_pos("aws-secret-access-key", "body", t, pair[1], ct=ct, form="special:" + fn.__name__, comp_p=0.2)
    run_class("aws-secret-access-key", None, sec_names, 1, 0, 0, sec_urls, tags=["doc-example"], named=True,
              values=["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])


def gen_twilio_ac():
    for w in ["body", "body", "url", "header"]:
        sid, tok = "AC" + rs(HEXL, 32), rs(HEXL, 32)
        if w == "body":
            if chance(0.5):
                t, ct = "TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\nTWILIO_FROM=+1415555%04d\n" % (sid, tok, R.randint(0, 9999)), "text/plain"
            else:
                t, ct = ('from twilio.rest import Client\nclient = Client("%s", "%s")\n'
                         'client.messages.create(to="+14155550%03d", from_="+14155550100", body="hi")\n' % (sid, tok, R.randint(100, 999))), "text/x-python"
            add_pos("twilio-account-credentials", "body", t, tok, ct=ct, form="special:twilio")
        elif w == "url":
            add_pos("twilio-account-credentials", "url", "https://%s:%s@api.twilio.com/2010-04-01/Accounts/%s/Messages.json" % (sid, tok, sid),
                    tok, form="url/userinfo")
        else:
            add_pos("twilio-account-credentials", "header", "Authorization: Basic %s" % b64s(sid + ":" + tok), tok, form="header/basic")


def gen_azure():
    for w in ["url", "url", "url", "body", "body"]:
        q, sig = azure_sas_query()
        acct = storage_account()
        if w == "url":
            form = pick(["blob", "container", "nested"])
            if form == "blob":
                url = "https://%s.blob.core.windows.net/%s/%s?%s" % (acct, pick(["backups", "exports", "uploads"]),
                                                                     pick(["db-2026-03-01.bak", "users.csv", "logs.tar.gz"]), q)
            elif form == "container":
                url = "https://%s.blob.core.windows.net/%s?restype=container&comp=list&%s" % (acct, pick(["backups", "data"]), q)
            else:
                inner = "https://%s.blob.core.windows.net/drop/x.zip?%s" % (acct, q)
                url = "https://%s/import?source=%s" % (corp_host(), pct(inner))
            add_pos("azure-sas-token", "url", url, pct(sig) if form != "nested" else sig, form="url/sas-" + form)
        else:
            if chance(0.5):
                t = jdump({"backup_target": "https://%s.blob.core.windows.net/backups?%s" % (acct, q), "schedule": "0 3 * * *"})
                ct = "application/json"
            else:
                t = "AZURE_STORAGE_SAS_TOKEN=?%s\nAZURE_STORAGE_ACCOUNT=%s\n" % (q, acct)
                ct = "text/plain"
            add_pos("azure-sas-token", "body", t, pct(sig), ct=ct, form="body/sas")
    for i in range(4):
        cs, key = azure_conn_string()
        r = i % 4
        if r == 0:
            t, ct = sp_connstr_appsettings(cs)
        elif r == 1:
            t, ct = "AZURE_STORAGE_CONNECTION_STRING=\"%s\"\n" % cs, "text/plain"
        elif r == 2:
            t, ct = jdump({"IsEncrypted": False, "Values": {"AzureWebJobsStorage": cs, "FUNCTIONS_WORKER_RUNTIME": "python"}}), "application/json"
        else:
            t, ct = jdump({"settings": b64s(cs)}), "application/json"
        add_pos("azure-storage-connection-string", "body", t, key, ct=ct, form="body/connstr%d" % r, comp_p=0.15)
    az = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
          "K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")
    add_pos("azure-storage-connection-string", "body", "STORAGE_CONNECTION=%s\n" % az,
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==", ct="text/plain",
            tags=["doc-example"], form="body/azurite")


# ---------------------------------------------------------------- JWT
def jwt_claims():
    now = epoch()
    kind = pick(["auth0", "supabase", "firebase", "generic", "k8s"])
    if kind == "auth0":
        c = {"iss": "https://%s.eu.auth0.com/" % company(), "sub": "auth0|" + rs(HEXL, 24), "aud": "https://api.%s.com" % company(),
             "iat": now, "exp": now + 86400, "scope": "openid profile read:orders", "azp": rs(ALNUM, 32)}
    elif kind == "supabase":
        c = {"iss": "supabase", "ref": rs(LOW, 20), "role": pick(["service_role", "authenticated"]), "iat": now, "exp": now + 10 ** 8}
    elif kind == "firebase":
        c = {"iss": "https://securetoken.google.com/%s-prod" % company(), "aud": "%s-prod" % company(), "auth_time": now,
             "user_id": rs(ALNUM, 28), "sub": rs(ALNUM, 28), "iat": now, "exp": now + 3600, "email": email()}
    elif kind == "k8s":
        c = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": pick(["default", "prod", "ci"]),
             "kubernetes.io/serviceaccount/service-account.name": pick(SERVICES), "sub": "system:serviceaccount:prod:" + pick(SERVICES)}
    else:
        c = {"sub": str(R.randint(1000, 999999)), "name": fullname(), "role": pick(["admin", "user", "billing"]), "iat": now, "exp": now + 900}
    return c


def make_jwt():
    alg = pick(["HS256", "HS256", "RS256", "ES256", "HS512", "JWE"])
    cl = jdump(jwt_claims()).replace(" ", "") if chance(0.5) else json.dumps(jwt_claims(), separators=(",", ":"))
    if alg == "JWE":
        hdr = b64u(json.dumps({"alg": "dir", "enc": "A256GCM"}, separators=(",", ":")))
        return "%s..%s.%s.%s" % (hdr, b64u(rbytes(12)), b64u(rbytes(R.randint(180, 420))), b64u(rbytes(16)))
    h = {"alg": alg, "typ": "JWT"}
    if alg != "HS256" and chance(0.7):
        h["kid"] = rs(ALNUM + "-_", 20)
    seg = b64u(json.dumps(h, separators=(",", ":"))) + "." + b64u(cl)
    if alg.startswith("HS"):
        sig = hmac.new(rbytes(32), seg.encode(), hashlib.sha256 if alg == "HS256" else hashlib.sha512).digest()
    else:
        sig = rbytes(256 if alg == "RS256" else 64)
    return seg + "." + b64u(sig)


def gen_jwt():
    hdrs = [lambda v: "Authorization: Bearer %s" % v,
            lambda v: "Cookie: %s=%s; path_hint=/" % (pick(["access_token", "id_token", "__Secure-next-auth.session-token", "sb-access-token", "jwt"]), v),
            lambda v: "Cookie: _ga=GA1.1.%d.%d; auth=%s" % (R.randint(10 ** 8, 10 ** 9), epoch(), v),
            lambda v: "X-Id-Token: %s" % v]
    urls = [lambda v: "https://%s/auth/callback?id_token=%s&state=%s" % (corp_host(), v, rs(ALNUM, 16)),
            lambda v: "https://%s/embed/dashboard?jwt=%s" % (corp_host(), v),
            lambda v: "https://%s/socket.io/?EIO=4&transport=polling&token=%s" % (corp_host(), v)]
    run_class("jwt", make_jwt, ["ACCESS_TOKEN", "ID_TOKEN", "SUPABASE_SERVICE_ROLE_KEY", "JWT", "SESSION_TOKEN"], 3, 2, 5, urls, hdrs,
              special=[lambda v: (jdump({"access_token": v, "token_type": "Bearer", "expires_in": 3600}), "application/json"),
                       lambda v: ("curl -H 'Authorization: Bearer %s' https://%s/api/v1/me\n" % (v, corp_host()), "text/plain")])
    jio = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
           "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    add_pos("jwt", "header", "Authorization: Bearer " + jio, jio, tags=["doc-example"], form="header/jwtio")


# ---------------------------------------------------------------- context-only credentials
PW_SYMS = "!@#$%^&*-_=+.?~"


def password():
    r = R.random()
    if r < 0.6:
        while True:
            p = rs(ALNUM + PW_SYMS, R.randint(12, 22))
            if sum(c in DIG for c in p) >= 2 and any(c in PW_SYMS for c in p) and any(c in UP for c in p):
                return p
    if r < 0.8:
        return rs_mixed(ALNUM, R.randint(16, 32))
    words = ["amber", "falcon", "copper", "lantern", "meadow", "quartz", "raven", "saffron", "tundra", "velvet", "willow", "zephyr"]
    return "%s-%s-%s-%d" % (pick(words), pick(words), pick(words), R.randint(10, 99))


def username():
    return pick([person(), person() + "." + pick(SURN), "svc_" + pick(SERVICES).replace("-", "_"), "admin", "deploy", "ci-bot", "root"])


def gen_basic():
    for i in range(6):  # userinfo in https URLs
        u, p = username(), password()
        host = pick([corp_host(), "artifactory.%s.com" % company(), "jenkins.%s.io" % company(), "nexus.%s-corp.net" % company(),
                     "grafana.%s.dev" % company(), "%s.%s" % (ip4(), "nip.io")])
        path = pick(["/api/v1/search?q=build", "/artifactory/api/npm/npm-remote/", "/job/deploy/buildWithParameters?env=prod",
                     "/repository/maven-releases/", "/api/health", "/"])
        scheme = pick(["https", "https", "http"])
        add_pos("basic-auth", "url", "%s://%s:%s@%s%s" % (scheme, pct(u), pct(p), host, path), pct(p), form="url/userinfo")
    for i in range(6):
        u, p = username(), password()
        hn = pick(["Authorization", "Authorization", "authorization", "Proxy-Authorization"])
        sch = pick(["Basic", "Basic", "basic", "BASIC"])
        add_pos("basic-auth", "header", "%s: %s %s" % (hn, sch, b64s("%s:%s" % (u, p))), "%s:%s" % (u, p), form="header/basic")
    for i in range(4):
        u, p = username(), password()
        r = i % 4
        if r == 0:
            t, ct = "curl -u %s:%s https://%s/api/v2/export -o dump.json\n" % (u, p, corp_host()), "text/plain"
            sec = "%s:%s" % (u, p)
        elif r == 1:
            t, ct = "machine %s\n  login %s\n  password %s\n" % (corp_host(), u, p), "text/plain"
            sec = p
        elif r == 2:
            t, ct = ('import requests\nfrom requests.auth import HTTPBasicAuth\n\nr = requests.get("https://%s/metrics", '
                     'auth=HTTPBasicAuth("%s", "%s"))\n' % (corp_host(), u, p)), "text/x-python"
            sec = p
        else:
            t, ct = jdump({"log": {"entries": [{"request": {"method": "GET", "url": "https://%s/api/reports" % corp_host(),
                                                            "headers": [{"name": "Accept", "value": "application/json"},
                                                                        {"name": "Authorization", "value": "Basic " + b64s(u + ":" + p)}]}}]}}), "application/json"
            sec = "%s:%s" % (u, p)
        add_pos("basic-auth", "body", t, sec, ct=ct, form="body/basic%d" % r, comp_p=0.1)


def opaque_token():
    return pick([lambda: rs_mixed(ALNUM, 40), lambda: b64u(rbytes(32)), lambda: rs_mixed(ALNUM + "-._~", 64),
                 lambda: "v4.local." + b64u(rbytes(R.randint(90, 160))), lambda: rs(HEXL, 64), lambda: "at_" + rs_mixed(ALNUM, 43)])()


def gen_bearer():
    for i in range(6):
        v = opaque_token()
        h = pick(["Authorization: Bearer %s", "authorization: Bearer %s", "Authorization: bearer %s", "Authorization:Bearer %s",
                  "X-Authorization: Bearer %s"]) % v
        add_pos("bearer-token", "header", h, v, form="header/bearer")
    for i in range(2):
        v = opaque_token()
        if i == 0:
            t = jdump({"access_token": v, "token_type": "Bearer", "expires_in": 3599, "refresh_token": b64u(rbytes(48)), "scope": "read write"})
        else:
            t = jdump({"log": {"entries": [{"request": {"method": "POST", "url": "https://%s/graphql" % corp_host(),
                                                        "headers": [{"name": "authorization", "value": "Bearer " + v}]}}]}})
        add_pos("bearer-token", "body", t, v, ct="application/json", form="body/bearer%d" % i)


def db_url():
    u, p = username(), password()
    kind = pick(["pg", "pg2", "mysql", "mongo", "redis", "rediss", "amqp", "jdbc", "mssql"])
    pe = pct(p)
    if kind == "pg":
        s = "postgres://%s:%s@%s:5432/%s" % (u, pe, pick(["db.internal", "10.0.%d.%d" % (R.randint(0, 9), R.randint(2, 250)),
                                                            "%s-prod.%s.%s.rds.amazonaws.com" % (company(), rs(B36, 12), pick(REGIONS))]),
                                              pick(["app", "orders", "analytics"]))
    elif kind == "pg2":
        s = "postgresql+psycopg2://%s:%s@%s.postgres.database.azure.com:5432/%s?sslmode=require" % (u, pe, company(), pick(["app", "crm"]))
    elif kind == "mysql":
        s = "mysql://%s:%s@%s:3306/%s" % (u, pe, pick(["mysql.internal", "127.0.0.1"]), pick(["shop", "wordpress", "billing"]))
    elif kind == "mongo":
        s = "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (u, pe, rs(B36, 5), pick(["prod", "users"]))
    elif kind == "redis":
        s = "redis://:%s@%s:6379/0" % (pe, pick(["cache.internal", "redis-master"]))
    elif kind == "rediss":
        s = "rediss://default:%s@%s-%s-%d.upstash.io:6379" % (pe, pick(["eu1", "us1"]), pick(["brave", "fresh", "keen"]), R.randint(10000, 99999))
    elif kind == "amqp":
        s = "amqp://%s:%s@rabbitmq.internal:5672/%s" % (u, pe, pick(["%2F", "jobs"]))
    elif kind == "jdbc":
        s = "jdbc:postgresql://%s:5432/%s?user=%s&password=%s&ssl=true" % (corp_host("db"), pick(["app", "ledger"]), u, pe)
    else:
        s = "mssql+pyodbc://%s:%s@%s.database.windows.net:1433/%s?driver=ODBC+Driver+18+for+SQL+Server" % (u, pe, company(), pick(["sales", "hr"]))
    return s, pe


def gen_dburl():
    names = ["DATABASE_URL", "DB_URL", "MONGO_URI", "REDIS_URL", "SQLALCHEMY_DATABASE_URI", "BROKER_URL", "SPRING_DATASOURCE_URL"]
    for i in range(10):
        s, pe = db_url()
        NAMED[0] = False
        body_generic("password-in-url", pick(names), s, secret=pe, enc_p=0.3, comp_p=0.1)
    NAMED[0] = True
    for i in range(3):
        s, pe = db_url()
        url = pick([lambda: "https://%s/admin/db/test-connection?dsn=%s" % (corp_host(), pct(s)),
                    lambda: "https://%s/c?u=%s" % (tunnel_host(), b64u(s)),
                    lambda: "https://%s/api/datasources/proxy?url=%s" % (corp_host("grafana"), pct(s))])()
        add_pos("password-in-url", "url", url, pe, form="url/dsn")


def generic_value():
    return pick([lambda: rs(HEXL, 32), lambda: rs(HEXL, 40), lambda: rs(HEXL, 64), lambda: rs_mixed(ALNUM, 32),
                 lambda: rs_mixed(ALNUM, 40), lambda: b64s(rbytes(32)), lambda: b64u(rbytes(24)), lambda: rs_mixed(ALNUM + "_-", 48)])()


def gen_generic():
    names = ["API_KEY", "APIKEY", "API_TOKEN", "CLIENT_SECRET", "APP_SECRET", "SECRET_KEY", "AUTH_TOKEN", "ACCESS_TOKEN",
             "PRIVATE_TOKEN", "SERVICE_API_KEY", "WEBHOOK_SECRET", "SIGNING_SECRET", "DATADOG_API_KEY", "CLOUDFLARE_API_TOKEN",
             "SECRET", "CONSUMER_SECRET", "ENCRYPTION_KEY", "X_API_KEY"]
    urls = [lambda v: "https://%s/v2/report?api_key=%s&format=csv" % (corp_host(), pct(v)),
            lambda v: "https://%s/webhook?secret=%s" % (corp_host(), pct(v)),
            lambda v: "https://%s/oauth/token?grant_type=client_credentials&client_id=%s&client_secret=%s" % (corp_host("auth"), rs(ALNUM, 20), pct(v)),
            lambda v: "https://%s/feed.json?apikey=%s" % (pick(["api.weather-data.io", "feeds.%s.com" % company()]), pct(v))]
    hdrs = [lambda v: "X-API-Key: %s" % v, lambda v: "x-api-key: %s" % v, lambda v: "Api-Key: %s" % v, lambda v: "DD-API-KEY: %s" % v,
            lambda v: "X-Client-Secret: %s" % v, lambda v: "X-Auth-Token: %s" % v]
    run_class("generic-api-key", generic_value, names, 6, 3, 3, urls, hdrs, named=True, enc_p=0.3)
    # a UUID-shaped key is still a key when the name says so
    run_class("generic-api-key", None, ["HEROKU_API_KEY"], 1, 0, 0, urls, hdrs, named=True, values=[uuid4()])
    pnames = ["PASSWORD", "DB_PASSWORD", "POSTGRES_PASSWORD", "MYSQL_ROOT_PASSWORD", "PASSWD", "PWD", "ADMIN_PASSWORD",
              "SMTP_PASSWORD", "REDIS_PASSWORD", "KEYSTORE_PASSWORD"]
    purls = [lambda v: "https://%s/login.php?user=%s&password=%s" % (corp_host("portal"), person(), pct(v)),
             lambda v: "https://%s/cgi-bin/auth?usr=admin&pwd=%s" % (ip4(), pct(v))]
    run_class("generic-password", password, pnames, 4, 1, 0, purls, named=True, enc_p=0.3)
    for i in range(2):
        p = password()
        if i == 0:
            t = jdump({"username": email(), "password": p, "remember_me": True})
        else:
            t = jdump({"ConnectionStrings": {"Default": "Server=tcp:%s.database.windows.net,1433;Initial Catalog=%s;User ID=%s;Password=%s;Encrypt=True;" % (
                company(), pick(["sales", "hr"]), username(), p)}})
        add_pos("generic-password", "body", t, p, ct="application/json", form="body/pw%d" % i)


# ---------------------------------------------------------------- financial
CARD_PROSE = [
    "Hi, please charge my card {c}, exp {e}, CVC {v}. Thanks!",
    "Bitte belasten Sie meine Karte {c} (gültig bis {e}, Prüfnummer {v}).",
    "Voici ma carte : {c} — expiration {e}, cryptogramme {v}.",
    "Mi tarjeta es {c}, vence {e}, código {v}.",
    "O número do cartão é {c}, validade {e}.",
    "カード番号は {c} です。有効期限 {e}",
    "Numer karty: {c}, ważna do {e}, CVV {v}",
    "card on file didn't work, try this one: {c} exp {e}",
]


def card_fmt(num):
    r = R.random()
    if r < 0.45:
        return num, "plain"
    if r < 0.75:
        return group_card(num, " "), "spaces"
    if r < 0.92:
        return group_card(num, "-"), "dashes"
    return group_card(num, "."), "dots"


def expiry():
    return "%02d/%02d" % (R.randint(1, 12), R.randint(26, 32))


def gen_cards():
    docs = ["4242424242424242", "4111111111111111", "5555555555554444", "378282246310005"]
    brands = [b[0] for b in CARD_BRANDS]
    plan = brands * 2 + R.sample(brands, 4)  # 24 random cards, at least two per brand
    R.shuffle(plan)
    entries = [(n, ["doc-example"]) for n in docs] + [(make_card(b)[1], []) for b in plan]
    body_forms = ["json", "json_num", "csv", "form", "form_plus", "stripe_form", "xml", "prose", "log", "b64", "nbsp", "json_u",
                  "multipart", "track1", "html", "sql", "gzip_json", "pct_json"]
    url_forms = ["q", "q_spaces", "path", "b64q", "pct_all", "nested"]
    wheres = ["body"] * 20 + ["url"] * 5 + ["header"] * 3
    R.shuffle(wheres)
    for (num, tags), w in zip(entries, wheres):
        shown, style = card_fmt(num)
        e, cvc = expiry(), rs(DIG, 4 if len(num) == 15 else 3)
        chk = (lambda c, n=num: luhn_ok(n))
        if w == "body":
            f = pick(body_forms)
            ct = "application/json"
            if f == "json":
                t = jdump({"amount": R.randint(100, 99999), "currency": pick(["EUR", "USD", "GBP"]),
                           "card": {"number": shown, "exp_month": int(e[:2]), "exp_year": 2000 + int(e[3:]), "cvc": cvc},
                           "billing_details": {"name": fullname()}})
            elif f == "json_num":
                shown = num
                t = jdump({"customer": email(), "pan": int(num), "expiry": e})
            elif f == "csv":
                rows = ["order_id,name,card_number,expiry,amount"]
                rows.append("%d,%s,%s,%s,%.2f" % (R.randint(10000, 99999), fullname(), shown, e, R.uniform(5, 900)))
                rows.append("%d,%s,%s,%s,%.2f" % (R.randint(10000, 99999), fullname(), group_card(make_card()[1], " "), expiry(), R.uniform(5, 900)))
                t, ct = "\n".join(rows) + "\n", "text/csv"
            elif f == "form":
                t, ct = "cardnumber=%s&exp-date=%s&cvc=%s&name=%s" % (quote_plus(shown), quote_plus(e), cvc, quote_plus(fullname())), "application/x-www-form-urlencoded"
            elif f == "form_plus":
                shown = group_card(num, " ")
                t, ct = "cc_number=%s&cc_exp=%s" % (shown.replace(" ", "+"), quote_plus(e)), "application/x-www-form-urlencoded"
            elif f == "stripe_form":
                t, ct = "card[number]=%s&card[exp_month]=%s&card[exp_year]=20%s&card[cvc]=%s" % (num, e[:2], e[3:], cvc), "application/x-www-form-urlencoded"
                shown = num
            elif f == "xml":
                t, ct = ("<?xml version=\"1.0\"?><PaymentRequest><Amount currency=\"EUR\">%d.00</Amount><Card><Number>%s</Number>"
                         "<Expiry>%s</Expiry><Holder>%s</Holder></Card></PaymentRequest>" % (R.randint(1, 900), shown, e, fullname())), "application/xml"
            elif f == "prose":
                t = jdump({"message": pick(CARD_PROSE).format(c=shown, e=e, v=cvc), "ticket": R.randint(10000, 99999)})
            elif f == "log":
                t, ct = "%s WARN payment-gw - declined pan=%s exp=%s reason=do_not_honor\n" % (iso(), shown, e), "text/plain"
            elif f == "b64":
                inner = jdump({"pan": shown, "exp": e})
                t = jdump({"event": "checkout", "blob": b64s(inner)})
            elif f == "nbsp":
                shown = group_card(num, "\u00a0")
                t = jdump({"text": "my card: %s exp %s" % (shown, e)})
            elif f == "json_u":
                t = '{"card_number": "%s", "exp": "%s"}' % (json_u_escape(shown), e)
            elif f == "multipart":
                bnd = "----form" + rs(ALNUM, 12)
                t = ("--{b}\r\nContent-Disposition: form-data; name=\"card_number\"\r\n\r\n{c}\r\n--{b}\r\n"
                     "Content-Disposition: form-data; name=\"expiry\"\r\n\r\n{e}\r\n--{b}--\r\n").format(b=bnd, c=shown, e=e)
                ct = "multipart/form-data; boundary=" + bnd
            elif f == "track1":
                shown = num
                t, ct = "%%B%s^%s/%s^%s%s1010000000%s?\n" % (num, pick(SURN).upper(), pick(PEOPLE).upper(), e[3:], e[:2], rs(DIG, 6)), "text/plain"
            elif f == "html":
                t, ct = ('<form method="post" action="/pay"><input name="cc-number" autocomplete="cc-number" value="%s">'
                         '<input name="cc-exp" value="%s"></form>' % (shown, e)), "text/html"
            elif f == "sql":
                t, ct = "INSERT INTO payments (customer_id, card_number, exp) VALUES (%d, '%s', '%s');\n" % (R.randint(1, 99999), shown, e), "application/sql"
            elif f == "gzip_json":
                t = jdump({"orders": [{"id": R.randint(1, 99999), "card": shown, "exp": e}]})
            else:
                t = jdump({"redirect": "https://%s/confirm?pan=%s" % (corp_host("shop"), pct(shown))})
            c = add_pos("payment-card", "body", t, shown, ct=ct, tags=tags, form="body/card-" + f + "/" + style, check=chk)
            if f == "gzip_json" or chance(0.08):
                compress_case(c)
        elif w == "url":
            f = pick(url_forms)
            host = pick([corp_host("shop"), corp_host("pay"), tunnel_host()])
            if f == "q":
                url, sec = "https://%s/checkout/confirm?pan=%s&exp=%s" % (host, num, e.replace("/", "")), num
            elif f == "q_spaces":
                shown = group_card(num, " ")
                url, sec = "https://%s/api/card/verify?card=%s" % (host, pct(shown)), shown
            elif f == "path":
                url, sec = "https://%s/v1/cards/%s/tokenize" % (host, num), num
            elif f == "b64q":
                url, sec = "https://%s/t?d=%s" % (host, b64u(jdump({"cc": shown, "exp": e}))), shown
            elif f == "pct_all":
                url, sec = "https://%s/pay?cc=%s" % (host, pct_all(num)), num
            else:
                url, sec = "https://%s/r?next=%s" % (corp_host("sso"), pct("https://%s/pay?card=%s&exp=%s" % (host, num, e))), num
            add_pos("payment-card", "url", url, sec, tags=tags, form="url/card-" + f, check=chk)
        else:
            f = pick(["hdr", "cookie", "hdr_json"])
            if f == "hdr":
                h = "X-Card-Number: %s" % shown
            elif f == "cookie":
                shown = num
                h = "Cookie: cart=%d; saved_card=%s; lang=de" % (R.randint(100, 999), num)
            else:
                h = "X-Debug-Payload: %s" % json.dumps({"pan": shown, "exp": e})
            add_pos("payment-card", "header", h, shown, tags=tags, form="header/card-" + f, check=chk)


IBAN_PROSE = [
    "Please wire the deposit to IBAN {i} (BIC {b}).",
    "Bitte überweisen Sie den Betrag auf {i}, Verwendungszweck Rechnung {n}.",
    "Merci d'effectuer le virement sur le compte {i}.",
    "Graag overmaken naar {i} t.n.v. {name}.",
    "Realice la transferencia a la cuenta {i}, por favor.",
    "Il bonifico va fatto sull'IBAN {i}.",
]


def bic():
    return rs(UP, 4) + pick(["DE", "GB", "FR", "NL", "ES", "IT"]) + rs(UP + DIG, 2) + pick(["", "XXX"])


def gen_iban():
    docs = ["GB82WEST12345698765432"]
    vals = [(d, ["doc-example"]) for d in docs] + [(make_iban(), []) for _ in range(15)]
    wheres = ["body"] * 12 + ["url"] * 3 + ["header"]
    R.shuffle(wheres)
    for (ib, tags), w in zip(vals, wheres):
        shown = pick([ib, group4(ib), group4(ib), ib.lower() if chance(0.3) else ib])
        chk = (lambda c, x=ib: iban_ok(x))
        if w == "body":
            f = pick(["json", "sepa_xml", "csv", "form", "prose", "b64", "yaml", "gzip"])
            ct = "application/json"
            if f == "json":
                t = jdump({"beneficiary": {"name": fullname(), "iban": shown, "bic": bic()}, "amount": "%.2f" % R.uniform(10, 9000), "currency": "EUR"})
            elif f == "sepa_xml":
                shown = ib
                t = ('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>'
                     '<PmtInf><CdtTrfTxInf><Amt><InstdAmt Ccy="EUR">%.2f</InstdAmt></Amt><Cdtr><Nm>%s</Nm></Cdtr><CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>'
                     '</CdtTrfTxInf></PmtInf></CstmrCdtTrfInitn></Document>' % (R.uniform(10, 9000), fullname(), ib))
                ct = "application/xml"
            elif f == "csv":
                t = "name;iban;amount\n%s;%s;%.2f\n%s;%s;%.2f\n" % (fullname(), shown, R.uniform(900, 5000), fullname(), make_iban(), R.uniform(900, 5000))
                ct = "text/csv"
            elif f == "form":
                t, ct = "payee=%s&iban=%s&amount=%d" % (quote_plus(fullname()), quote_plus(shown), R.randint(10, 5000)), "application/x-www-form-urlencoded"
            elif f == "prose":
                t = jdump({"body": pick(IBAN_PROSE).format(i=shown, b=bic(), n=R.randint(1000, 9999), name=fullname())})
            elif f == "b64":
                t = jdump({"type": "payout", "details": b64s(jdump({"iban": shown, "holder": fullname()}))})
            elif f == "yaml":
                t, ct = "payroll:\n  - employee: %s\n    iban: \"%s\"\n    net: %d\n" % (fullname(), shown, R.randint(1800, 7000)), "application/yaml"
            else:
                t = jdump({"batch": [{"iban": shown, "amount": R.randint(10, 5000)}]})
            c = add_pos("iban", "body", t, shown, ct=ct, tags=tags, form="body/iban-" + f, check=chk)
            if f == "gzip":
                compress_case(c)
        elif w == "url":
            f = pick(["q", "path", "b64"])
            if f == "q":
                url = "https://%s/transfer/new?iban=%s&amount=250" % (corp_host("bank"), pct(shown))
            elif f == "path":
                shown = ib
                url = "https://%s/v2/accounts/%s/balance" % (corp_host("openbanking"), ib)
            else:
                url = "https://%s/x?d=%s" % (tunnel_host(), b64u("iban=" + shown))
            add_pos("iban", "url", url, shown, tags=tags, form="url/iban-" + f, check=chk)
        else:
            add_pos("iban", "header", "X-Payout-Iban: %s" % shown, shown, tags=tags, form="header/iban", check=chk)


def btc_address(kind=None):
    kind = kind or pick(["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"])
    if kind == "p2pkh":
        return b58check(0, rbytes(20)), kind
    if kind == "p2sh":
        return b58check(5, rbytes(20)), kind
    if kind == "p2wpkh":
        return segwit_addr(0, rbytes(20)), kind
    if kind == "p2wsh":
        return segwit_addr(0, rbytes(32)), kind
    return segwit_addr(1, rbytes(32)), kind


def btc_ok(a):
    return b58check_ok(a) or bech32_ok(a)


def gen_btc():
    vals = [("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", ["doc-example"]), ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", ["doc-example"])]
    kinds = ["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr"] * 2 + ["p2wpkh"]
    vals += [(btc_address(k)[0], []) for k in kinds]
    wheres = ["body"] * 7 + ["url"] * 5 + ["header"]
    R.shuffle(wheres)
    for (a, tags), w in zip(vals, wheres):
        shown = a.upper() if a.startswith("bc1") and chance(0.25) else a
        chk = (lambda c, x=a: btc_ok(x))
        if w == "body":
            f = pick(["json", "bip21", "prose", "csv", "b64", "form"])
            ct = "application/json"
            if f == "json":
                t = jdump({"asset": "BTC", "amount": "%.5f" % R.uniform(0.001, 2), "address": shown, "network": "bitcoin", "memo": ""})
            elif f == "bip21":
                t = jdump({"qr": "bitcoin:%s?amount=%.4f&label=%s" % (shown, R.uniform(0.001, 1), pct("Invoice %d" % R.randint(100, 999)))})
            elif f == "prose":
                t, ct = ("Your files are encrypted. Send %.2f BTC to %s within 72 hours and email the transaction id.\n" % (R.uniform(0.1, 3), shown)), "text/plain"
            elif f == "csv":
                t, ct = "payee,address,btc\n%s,%s,%.6f\n" % (person(), shown, R.uniform(0.001, 1)), "text/csv"
            elif f == "b64":
                t = jdump({"withdraw": b64s(jdump({"to": shown, "amt": "0.05"}))})
            else:
                t, ct = "currency=btc&destination=%s&amount=0.02" % shown, "application/x-www-form-urlencoded"
            add_pos("bitcoin-address", "body", t, shown, ct=ct, tags=tags, form="body/btc-" + f, check=chk)
        elif w == "url":
            f = pick(["mempool", "blockstream", "q", "bip21"])
            if f == "mempool":
                url = "https://mempool.space/api/address/%s/txs" % shown
            elif f == "blockstream":
                url = "https://blockstream.info/address/%s" % shown
            elif f == "q":
                url = "https://%s/api/v1/withdraw?address=%s&amount=0.25" % (corp_host("exchange"), shown)
            else:
                url = "https://%s/pay?uri=%s" % (corp_host(), pct("bitcoin:%s?amount=0.1" % shown))
            add_pos("bitcoin-address", "url", url, shown, tags=tags, form="url/btc-" + f, check=chk)
        else:
            add_pos("bitcoin-address", "header", "X-Payout-Address: %s" % shown, shown, tags=tags, form="header/btc", check=chk)


def eth_ok(a):
    return re.fullmatch(r"0x[0-9a-fA-F]{40}", a) is not None


def gen_eth():
    vals = [("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ["doc-example"])]
    for i in range(8):
        h = rbytes(20).hex()
        vals.append((eip55(h) if i % 3 else "0x" + h, []))
    wheres = ["body"] * 5 + ["url"] * 3 + ["header"]
    R.shuffle(wheres)
    for (a, tags), w in zip(vals, wheres):
        chk = (lambda c, x=a: eth_ok(x))
        if w == "body":
            f = pick(["rpc_balance", "rpc_send", "eip681", "prose", "json", "b64", "hex"])
            ct = "application/json"
            if f == "rpc_balance":
                t = jdump({"jsonrpc": "2.0", "id": R.randint(1, 99), "method": "eth_getBalance", "params": [a, "latest"]})
            elif f == "rpc_send":
                t = jdump({"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [{"from": a, "to": "0x" + rbytes(20).hex(), "value": hex(R.randint(10 ** 15, 10 ** 18))}]})
            elif f == "eip681":
                t = jdump({"payment_uri": "ethereum:%s@1?value=%de15" % (a, R.randint(1, 999))})
            elif f == "prose":
                t, ct = "Send the USDT (ERC-20) to %s and reply with the tx hash.\n" % a, "text/plain"
            elif f == "b64":
                t = jdump({"kind": "payout", "data": b64s(jdump({"to": a, "asset": "USDC"}))})
            elif f == "hex":
                t = jdump({"memo_hex": hexs("withdraw to " + a)})
            else:
                t = jdump({"wallet": {"chain": "ethereum", "address": a, "label": person()}})
            add_pos("ethereum-address", "body", t, a, ct=ct, tags=tags, form="body/eth-" + f, check=chk)
        elif w == "url":
            url = pick([lambda: "https://api.etherscan.io/api?module=account&action=balance&address=%s&tag=latest" % a,
                        lambda: "https://etherscan.io/address/%s" % a,
                        lambda: "https://%s/v1/payout?to=%s" % (corp_host(), a)])()
            add_pos("ethereum-address", "url", url, a, tags=tags, form="url/eth", check=chk)
        else:
            add_pos("ethereum-address", "header", "X-Wallet-Address: %s" % a, a, tags=tags, form="header/eth", check=chk)


# ---------------------------------------------------------------- shapeless data
def he_value():
    r = R.random()
    if r < 0.35:
        return rs_mixed(ALNUM, R.randint(32, 64))
    if r < 0.7:
        return b64u(rbytes(R.randint(24, 60)))
    return b64s(rbytes(R.randint(24, 48)))


def gen_high_entropy():
    for i in range(13):
        v = he_value()
        host = pick([tunnel_host(), tunnel_host(), corp_host(), ip4() + ":" + str(pick([8080, 8443, 4444]))])
        scheme = "http" if ":" in host and chance(0.5) else "https"
        f = pick(["seg", "seg", "q", "q", "seg_ext", "multi"])
        ve = pct(v)
        if f == "seg":
            url = "%s://%s/%s/%s" % (scheme, host, pick(["u", "raw", "c", "api/collect", "s", "v1/blob"]), ve)
        elif f == "seg_ext":
            url = "%s://%s/%s.%s" % (scheme, host, ve, pick(["png", "js", "css", "gif"]))
        elif f == "q":
            url = "%s://%s/%s?%s=%s" % (scheme, host, pick(["", "t", "p", "log"]), pick(["d", "q", "x", "v", "id", "s"]), ve)
        else:
            url = "%s://%s/%s/%s?n=%d" % (scheme, host, ve, pct(he_value()), R.randint(0, 9))
        add_pos("high-entropy", "url", url, ve, form="url/he-" + f)
    for i in range(4):
        lab = rs(B36, R.randint(28, 48))
        while not (any(c.isdigit() for c in lab) and any(c.isalpha() for c in lab)) or all(c in HEXL for c in lab):
            lab = rs(B36, R.randint(28, 48))
        parent = pick(["ngrok-free.app", "workers.dev", "loca.lt", "pages.dev", "onrender.com", "fly.dev", "lhr.life"])
        add_pos("high-entropy", "hostname", "%s.%s" % (lab, parent), lab, form="hostname/he-label")
    for i in range(3):
        v = b64s(rbytes(R.randint(36, 64)))
        add_pos("high-entropy", "header", "%s: %s" % (pick(["X-Sync-Blob", "X-Debug-Dump", "X-Client-State"]), v), v, form="header/he")


EXFIL_PARENTS = ["oast.fun", "oast.pro", "oast.live", "oast.site", "oast.online", "oast.me", "interact.sh", "dnslog.cn",
                 "burpcollaborator.net", "requestrepo.com", "b7x-telemetry.top", "cdn-sync.click", "upd4te.xyz",
                 "metrics-edge.icu", "q7r.cc", "nsupdate.monster", "kq3.ru"]


def exfil_data():
    r = R.random()
    if r < 0.25:
        return ("AWS_SECRET_ACCESS_KEY=" + tok_aws_secret()).encode()
    if r < 0.4:
        return ("%s:%s" % (username(), password())).encode()
    if r < 0.55:
        return pick([b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
                     b"uid=0(root) gid=0(root) groups=0(root)", b"Linux build-07 6.8.0-45-generic x86_64"])
    if r < 0.7:
        return ("%s|%s|%s" % (pick(["prod-db-01", "ci-runner-3", "laptop-" + person()]), username(), ip4())).encode()
    return rbytes(R.randint(18, 60))


def chunks(s, n):
    return [s[i:i + n] for i in range(0, len(s), n)]


def gen_dns_exfil():
    made = 0
    plan = ["hex"] * 6 + ["b32"] * 6 + ["b64u"] * 4 + ["b32single"] * 4 + ["mixed"] * 2 + ["seq"] * 2
    plan_where = ["hostname"] * 24 + ["url"] * 4
    R.shuffle(plan_where)
    for kind, w in zip(plan + ["hex", "b32", "b64u", "seq"], plan_where):
        for attempt in range(50):
            data = exfil_data()
            parent = pick(EXFIL_PARENTS)
            sid = rs(B36, R.randint(4, 8))
            if kind == "hex":
                enc = data.hex()
                labs = chunks(enc, pick([30, 32, 48, 56, 62]))
                check = (lambda c, labs=labs, data=data: bytes.fromhex("".join(labs)) == data)
            elif kind == "b32":
                enc = b32l(data)
                labs = chunks(enc, pick([26, 32, 40, 52, 63]))
                check = (lambda c, labs=labs, data=data: base64.b32decode("".join(labs).upper() + "=" * (-len("".join(labs)) % 8)) == data)
            elif kind == "b64u":
                enc = b64u(data)
                labs = chunks(enc, pick([20, 30, 40, 60]))
                check = (lambda c, labs=labs, data=data: base64.urlsafe_b64decode("".join(labs) + "=" * (-len("".join(labs)) % 4)) == data)
            elif kind == "b32single":
                data = data[:R.randint(30, 39)] if len(data) > 30 else data + rbytes(32 - len(data))
                enc = b32l(data)
                if len(enc) > 63:
                    continue
                labs = [enc]
                check = (lambda c, labs=labs, data=data: base64.b32decode(labs[0].upper() + "=" * (-len(labs[0]) % 8)) == data)
            elif kind == "mixed":
                a, b = data[:len(data) // 2], data[len(data) // 2:]
                labs = [a.hex(), b32l(b)]
                check = (lambda c, labs=labs, data=data: bytes.fromhex(labs[0]) + base64.b32decode(labs[1].upper() + "=" * (-len(labs[1]) % 8)) == data)
            else:
                enc = data.hex()
                parts = chunks(enc, 40)
                i = R.randrange(len(parts))
                labs = ["%d" % i, parts[i]]
                check = (lambda c, part=parts[i], data=data: part in data.hex())
            if any(len(l) > 63 for l in labs) or (kind not in ("seq",) and len(labs) < 1):
                continue
            if kind in ("hex", "b32", "b64u") and len(labs) < 2:
                # make sure the data really is split over several labels
                cut = max(1, len(labs[0]) // 2)
                labs = [labs[0][:cut], labs[0][cut:]]
                if kind == "hex" and cut % 2:
                    continue
            host = ".".join(labs + [sid, parent])
            if len(host) > 253 or any(l.startswith("-") or l.endswith("-") for l in host.split(".")):
                continue
            break
        secret = labs[-1] if kind != "seq" else labs[1]
        if w == "hostname":
            add_pos("dns-exfiltration", "hostname", host, secret, form="hostname/dns-" + kind, check=check)
        else:
            url = "%s://%s/%s" % (pick(["http", "https"]), host, pick(["", "x.png", "favicon.ico", "?q=1"]))
            add_pos("dns-exfiltration", "url", url, secret, form="url/dns-" + kind, check=check)
        made += 1


def delim_hex(b, style, upper=False):
    hx = [("%02X" if upper else "%02x") % x for x in b]
    if style == "dash":
        return "-".join(hx)
    if style == "colon":
        return ":".join(hx)
    if style == "space":
        return " ".join(hx)
    if style == "comma":
        return ",".join(hx)
    if style == "bsx":
        return "".join("\\x" + h for h in hx)
    if style == "0x":
        return " ".join("0x" + h for h in hx)
    if style == "0xcomma":
        return ", ".join("0x" + h for h in hx)
    raise ValueError(style)


def gen_delimited_hex():
    styles = ["dash", "colon", "space", "comma", "bsx", "0x", "0xcomma"]
    wheres = ["url"] * 5 + ["body"] * 8
    for i, w in enumerate(wheres):
        st = styles[i % len(styles)]
        if i in (3, 10):
            payload = ("%s:%s" % (username(), password())).encode()
        else:
            n = pick([24, 28, 36, 40] if st == "colon" else [20, 24, 28, 32, 36, 40])
            payload = rbytes(n)
        d = delim_hex(payload, st, upper=chance(0.3))
        if w == "url":
            url = "https://%s/%s?%s=%s" % (pick([tunnel_host(), corp_host()]), pick(["t", "b", "c"]), pick(["k", "d", "h", "blob"]),
                                           pct(d, safe=":,-"))
            add_pos("delimited-hex", "url", url, d, form="url/dhex-" + st)
        else:
            f = pick(["json", "c_array", "log", "form", "text"])
            if f == "json":
                t, ct = jdump({"device": rs(HEXU, 12), "k": d}), "application/json"
            elif f == "c_array" and st in ("0x", "0xcomma", "comma"):
                t, ct = "static const uint8_t k[%d] = { %s };\n" % (len(payload), d), "text/x-c"
            elif f == "log":
                t, ct = "%s DEBUG crypto - material=%s\n" % (iso(), d), "text/plain"
            elif f == "form":
                t, ct = "id=%d&blob=%s" % (R.randint(1, 999), quote_plus(d)), "application/x-www-form-urlencoded"
            else:
                t, ct = "dump:\n%s\n" % d, "text/plain"
            add_pos("delimited-hex", "body", t, d, ct=ct, form="body/dhex-%s-%s" % (st, f))
    # an xxd dump of a credentials file (space-delimited byte pairs plus the ascii column)
    sec = "AWS_SECRET_ACCESS_KEY=" + tok_aws_secret()
    data = (sec + "\n").encode()
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hx = " ".join("%02x" % x for x in chunk)
        asc = "".join(chr(x) if 32 <= x < 127 else "." for x in chunk)
        lines.append("%08x  %-47s  |%s|" % (off, hx, asc))
    add_pos("delimited-hex", "body", "\n".join(lines) + "\n", " ".join("%02x" % x for x in data[:16]), ct="text/plain",
            form="body/dhex-hexdump")


def gen_encoding_sweep():
    """Every value-level encoding, container escape, URL and header wrapping, twice, over random classes."""
    classes = [
        ("github-pat", lambda: gh_crc_token("ghp_"), ["GITHUB_TOKEN", "GH_TOKEN"], False),
        ("github-fine-grained-pat", tok_github_fg, ["GITHUB_TOKEN"], False),
        ("gitlab-pat", tok_glpat, ["GITLAB_TOKEN"], False),
        ("slack-bot-token", tok_xoxb, ["SLACK_BOT_TOKEN"], False),
        ("stripe-secret-key", lambda: tok_stripe("sk_live_"), ["STRIPE_SECRET_KEY"], False),
        ("openai-project-key", tok_openai_proj, ["OPENAI_API_KEY"], False),
        ("anthropic-api-key", tok_anthropic, ["ANTHROPIC_API_KEY"], False),
        ("huggingface-token", tok_hf, ["HF_TOKEN"], False),
        ("npm-token", tok_npm, ["NPM_TOKEN"], False),
        ("sendgrid-api-key", tok_sendgrid, ["SENDGRID_API_KEY"], False),
        ("aws-access-key-id", tok_akia, ["AWS_ACCESS_KEY_ID"], False),
        ("aws-secret-access-key", tok_aws_secret, ["AWS_SECRET_ACCESS_KEY"], True),
        ("google-api-key", tok_google, ["GOOGLE_API_KEY"], False),
        ("telegram-bot-token", tok_telegram, ["TELEGRAM_BOT_TOKEN"], False),
        ("shopify-token", tok_shopify, ["SHOPIFY_ACCESS_TOKEN"], False),
        ("digitalocean-token", tok_do, ["DIGITALOCEAN_TOKEN"], False),
        ("jwt", make_jwt, ["ACCESS_TOKEN", "ID_TOKEN"], False),
        ("generic-api-key", generic_value, ["API_KEY", "CLIENT_SECRET", "AUTH_TOKEN"], True),
        ("generic-password", password, ["DB_PASSWORD", "ADMIN_PASSWORD"], True),
    ]
    for mode in INNER_MODES + ESC_MODES:
        for _ in range(2):
            expect, gen, names, named = pick(classes)
            if mode == "json_slash":
                expect, gen, names, named = classes[11]
            v = gen()
            while mode == "json_slash" and "/" not in v:
                v = gen()
            NAMED[0] = named
            body_generic(expect, pick(names), v, force=mode, comp_p=0.0)
    for mode in URL_MODES:
        for _ in range(2):
            expect, gen, names, named = pick(classes)
            NAMED[0] = named
            tpl = [lambda v, n=pick(names): "https://%s/v1/sync?%s=%s" % (corp_host(), snake(n), pct(v)),
                   lambda v, n=pick(names): "https://%s/cb?%s=%s&ok=1" % (tunnel_host(), snake(n), pct(v))]
            url_case(expect, pick(names), gen(), tpl, force=mode)
    for mode in HDR_MODES:
        while True:
            expect, gen, names, named = pick(classes)
            if not (named and mode in ("basic", "cookie_b64")):
                break
        NAMED[0] = named
        header_case(expect, pick(names), gen(), DEFAULT_HEADERS, force=mode)
    NAMED[0] = True


def build_positives():
    gen_encoding_sweep()
    gen_vendor()
    gen_aws()
    gen_twilio_ac()
    gen_azure()
    gen_jwt()
    gen_basic()
    gen_bearer()
    gen_dburl()
    gen_generic()
    gen_cards()
    gen_iban()
    gen_btc()
    gen_eth()
    gen_high_entropy()
    gen_dns_exfil()
    gen_delimited_hex()


# ================================================================ validation
B64RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
HEXRUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")


def _maybe_decompress(b):
    for fn in (gzip.decompress, zlib.decompress):
        try:
            return fn(b)
        except Exception:
            pass
    return b


def _b64_candidates(run):
    outs = []
    pieces = [run] + [p for p in run.split("/") if len(p) >= 12]
    for p in pieces:
        core = p.rstrip("=")
        for alt in (core, core.replace("-", "+").replace("_", "/")):
            try:
                b = base64.b64decode(alt + "=" * (-len(alt) % 4), validate=True)
            except Exception:
                continue
            b = _maybe_decompress(b)
            try:
                outs.append(b.decode("utf-8"))
            except UnicodeDecodeError:
                pass
    return outs


def _json_strings(o, acc):
    if isinstance(o, str):
        acc.append(o)
    elif isinstance(o, dict):
        for k, v in o.items():
            acc.append(str(k))
            _json_strings(v, acc)
    elif isinstance(o, list):
        for v in o:
            _json_strings(v, acc)
    else:
        acc.append(json.dumps(o))


def _expand(t):
    out = [unquote(t), unquote_plus(t), html.unescape(t),
           re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), t).replace("\\/", "/"),
           t.replace("\\x", "")]
    try:
        out.append(quopri.decodestring(t.encode("utf-8")).decode("utf-8"))
    except Exception:
        pass
    for src in [t] + t.splitlines():
        try:
            o = json.loads(src)
        except Exception:
            continue
        acc = []
        _json_strings(o, acc)
        out.append("\n".join(acc))
    for m in B64RUN.finditer(t):
        out.extend(_b64_candidates(m.group(0)))
    for m in HEXRUN.finditer(t):
        try:
            b = _maybe_decompress(bytes.fromhex(m.group(0)))
            out.append(b.decode("utf-8"))
        except Exception:
            pass
    return out


def views(text, depth=4):
    seen = {text}
    frontier = [text]
    for _ in range(depth):
        nxt = []
        for t in frontier:
            for v in _expand(t):
                if v not in seen and len(v) < 300000:
                    seen.add(v)
                    nxt.append(v)
        frontier = nxt
        if not frontier:
            break
    return seen


HOST_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
HDR_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def structural_errors(c):
    errs = []
    r = c.record()
    if r["where"] not in ("body", "url", "header", "hostname"):
        errs.append("bad where")
    if ("text" in r) == ("base64" in r):
        errs.append("need exactly one of text/base64")
    if "content_encoding" in r and "base64" not in r:
        errs.append("content_encoding without base64")
    if ("base64" in r or "content_type" in r) and r["where"] != "body":
        errs.append("base64/content_type on non-body")
    if "base64" in r:
        raw = base64.b64decode(r["base64"], validate=True)
        if r.get("content_encoding") == "gzip":
            raw = gzip.decompress(raw)
        elif r.get("content_encoding") == "deflate":
            raw = zlib.decompress(raw)
        elif r.get("content_encoding"):
            errs.append("unknown encoding")
        if not (r.get("content_type") or "").startswith("image/"):
            raw.decode("utf-8")
    t = r.get("text")
    if r["where"] == "header":
        if "\n" in t or "\r" in t or ": " not in t and ":" not in t:
            errs.append("header not one line")
        name = t.split(":", 1)[0]
        if not HDR_NAME.match(name):
            errs.append("bad header name %r" % name)
        if any(ord(ch) < 32 or ord(ch) > 126 for ch in t):
            errs.append("non-ascii/control in header")
    elif r["where"] == "url":
        u = urlsplit(t)
        if u.scheme not in ("http", "https") or not u.hostname:
            errs.append("bad url")
        if re.search(r"[\s\x00-\x1f\x7f]", t) or any(ord(ch) > 126 for ch in t):
            errs.append("whitespace/control/non-ascii in url")
        if "#" in t:
            errs.append("fragment in url")
    elif r["where"] == "hostname":
        labs = t.split(".")
        if len(t) > 253 or not all(HOST_LABEL.match(l) and not l.startswith("-") and not l.endswith("-") for l in labs):
            errs.append("bad hostname")
    return errs


def check_positive(c):
    errs = structural_errors(c)
    txt = c.plain()
    if c.secret is None:
        errs.append("no secret recorded")
    elif c.secret not in txt:
        if not any(c.secret in v for v in views(txt)):
            errs.append("secret not recoverable: %r" % c.secret)
    if c.check and not c.check(c):
        errs.append("class check failed")
    return errs


# ================================================================ NEGATIVES
def leak_views(text):
    vs = {text, unquote(text), unquote_plus(text), unquote(unquote(text)), html.unescape(text),
          re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)}
    for src in [text] + text.splitlines():
        try:
            o = json.loads(src)
        except Exception:
            continue
        acc = []
        _json_strings(o, acc)
        vs.add("\n".join(acc))
    return vs


GROUPED = re.compile(r"(?<![0-9])[0-9]{1,8}(?:[ \u00a0-][0-9]{1,8}){1,7}(?![0-9])")
DOTTED4 = re.compile(r"(?<![0-9.])[0-9]{4}(?:\.[0-9]{4}){2,4}(?![0-9.])")
RUN = re.compile(r"(?<![0-9])[0-9]{13,19}(?![0-9])")
IBANISH = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){10,32}")
B58ISH = re.compile(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}")
BECHISH = re.compile(r"(?<![A-Za-z0-9])(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87}")
ETHISH = re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
A_ALNUM = "A-Za-z0-9"
VENDOR = [
    ("gh", r"gh[pousr]_([A-Za-z0-9]{8,})"), ("ghpat", r"github_pat_([A-Za-z0-9_]{8,})"), ("glpat", r"glpat-([A-Za-z0-9_-]{8,})"),
    ("slack", r"xox[abposre]-([0-9]{6,}-[A-Za-z0-9-]{4,})"), ("xapp", r"xapp-([A-Za-z0-9-]{8,})"),
    ("stripe", r"(?:sk|rk)_(?:live|test)_([A-Za-z0-9]{8,})"), ("openai", r"sk-(?:proj|svcacct|admin)-([A-Za-z0-9_-]{8,})"),
    ("openai-legacy", r"sk-([A-Za-z0-9]{8,}T3BlbkFJ[A-Za-z0-9]*)"), ("anthropic", r"sk-ant-[a-z0-9]+-([A-Za-z0-9_-]{8,})"),
    ("hf", r"(?<![A-Za-z0-9])hf_([A-Za-z]{8,})"), ("npm", r"(?<![A-Za-z0-9])npm_([A-Za-z0-9]{8,})"),
    ("sendgrid", r"SG\.([A-Za-z0-9_-]{8,})"), ("aws", r"(?<![A-Z0-9])(?:AKIA|ASIA)([A-Z0-9]{12,})"),
    ("google", r"AIza([A-Za-z0-9_-]{8,})"), ("twilio", r"(?<![A-Za-z0-9])SK([0-9a-fA-F]{32})"),
    ("mailgun", r"key-([0-9a-f]{8,})"), ("square", r"(?:EAAA|sq0atp-|sq0csp-)([A-Za-z0-9_-]{8,})"),
    ("telegram", r"[0-9]{8,10}:AA([A-Za-z0-9_-]{8,})"), ("shopify", r"shp(?:at|ca|pa|ss)_([0-9a-fA-F]{8,})"),
    ("do", r"do[opr]_v1_([0-9a-f]{8,})"), ("jwt", r"(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)"),
    ("azure", r"AccountKey=([A-Za-z0-9+/]{8,})"), ("sas", r"[?&]sig=([A-Za-z0-9%+/]{8,})"),
    ("slackhook", r"hooks\.slack\.com/services/(T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]{8,})"),
    ("discordhook", r"discord(?:app)?\.com/api/webhooks/[0-9]+/([A-Za-z0-9_-]{8,})"),
    ("userinfo", r"://[^/\s:@]+:([^/\s@]{3,})@"),
]
VENDOR_RE = [(n, re.compile(p if p.startswith("(?<!") or n in ("userinfo", "sas", "slackhook", "discordhook") else r"(?<![A-Za-z0-9+/])" + p)) for n, p in VENDOR]


def luhn_hits(v):
    hits = []
    for m in RUN.finditer(v):
        if luhn_ok(m.group(0)):
            hits.append(m.group(0))
    for rx in (GROUPED, DOTTED4):
        for m in rx.finditer(v):
            groups = re.split(r"[ \u00a0.\-]", m.group(0))
            for i in range(len(groups)):
                tot = ""
                for j in range(i, len(groups)):
                    tot += groups[j]
                    if 13 <= len(tot) <= 19 and j > i and luhn_ok(tot):
                        hits.append(tot)
    return hits


def negative_leaks(text):
    hits = []
    for v in leak_views(text):
        hits += ["luhn:" + h for h in luhn_hits(v)]
        for m in IBANISH.finditer(v):
            s = m.group(0).replace(" ", "").upper()
            cc = s[:2]
            if cc in IBAN_LEN and len(s) >= IBAN_LEN[cc] and iban_ok(s[:IBAN_LEN[cc]]):
                hits.append("iban:" + s)
        for m in B58ISH.finditer(v):
            s = m.group(0)
            for L in range(26, min(35, len(s)) + 1):
                if b58check_ok(s[:L]):
                    hits.append("b58:" + s[:L])
        for m in BECHISH.finditer(v):
            if bech32_ok(m.group(0)):
                hits.append("bech32:" + m.group(0))
        for m in ETHISH.finditer(v):
            hits.append("eth:" + m.group(0))
        for n, rx in VENDOR_RE:
            for m in rx.finditer(v):
                body = m.group(1)
                if len(set(body.lower())) <= 1 or re.fullmatch(r"\$\{[A-Za-z_]+\}|<[^>]*>|\{\{[^}]*\}\}|\*+", body):
                    continue  # one repeated filler character, or ${VAR} / <x> / {{x}}: a placeholder
                hits.append("%s:%s" % (n, m.group(0)[:40]))
    return hits


NEG_REJECTS = collections.Counter()


def N(expect, where, fn, comp_p=0.0, tries=80):
    for _ in range(tries):
        r = fn()
        raw = None
        if isinstance(r, tuple):
            if len(r) == 3:
                text, ct, raw = r
            else:
                text, ct = r
        else:
            text, ct = r, None
        if raw is not None:
            return add_neg(expect, where, None, ct=ct, raw=raw, form=getattr(fn, "__name__", ""))
        leaks = negative_leaks(text)
        if not leaks:
            c = add_neg(expect, where, text, ct=ct, form=getattr(fn, "__name__", ""), comp_p=comp_p)
            return c
        NEG_REJECTS[expect] += 1
        last = leaks
    raise RuntimeError("could not make a clean %s case: %r" % (expect, last[:3]))


def sha1hex():
    return rbytes(20).hex()


def sha256hex():
    return rbytes(32).hex()


def repo():
    return "%s/%s" % (company(), pick(SERVICES + ["infra", "website", "docs", "sdk-python", "terraform-modules"]))


def gen_neg_uuid():
    u = lambda: pick([uuid4, uuid4, uuid7, uuid1])()
    urls = [lambda: "https://%s/api/v2/orders/%s" % (corp_host(), u()),
            lambda: "https://%s/projects/%s/issues?page=2" % (corp_host("app"), u()),
            lambda: "https://%s/v1/users/%s/avatar" % (corp_host(), u().upper()),
            lambda: "https://%s/download/%s.pdf" % (corp_host("files"), u()),
            lambda: "https://%s/r/%s" % (corp_host(), u().replace("-", "")),
            lambda: "https://%s/events?trace=%s&span=%s" % (corp_host(), u(), rs(HEXL, 16)),
            lambda: "https://%s/api/jobs/%s/logs?tail=200" % (corp_host("ci"), u()),
            lambda: "https://%s/api/tenants/%s/members/%s" % (corp_host(), u(), u())]
    for f in urls:
        N("uuid", "url", f)
    bodies = [lambda: (jdump({"id": u(), "parent_id": u(), "status": "created", "created_at": iso()}), "application/json"),
              lambda: ("id,name,created\n" + "\n".join("%s,%s,%s" % (u(), fullname(), rdate()) for _ in range(3)) + "\n", "text/csv"),
              lambda: (jdump({"idempotency_key": u(), "amount": R.randint(100, 9999), "currency": "eur"}), "application/json"),
              lambda: ("[HKEY_CLASSES_ROOT\\CLSID\\{%s}]\n@=\"Shell Extension\"\n" % u().upper(), "text/plain"),
              lambda: (jdump({"events": [{"anonymousId": u(), "event": "Page Viewed", "messageId": u()}]}), "application/json"),
              lambda: ("%s INFO request_id=%s path=/api/orders status=200 dur=%dms\n" % (iso(), u(), R.randint(2, 900)), "text/plain"),
              lambda: (jdump({"correlationId": u(), "tenant": u().replace("-", ""), "ok": True}), "application/json"),
              lambda: ("<order><id>%s</id><customer>%s</customer></order>" % (u(), u()), "application/xml")]
    for f in bodies:
        N("uuid", "body", f)
    hdrs = [lambda: "X-Request-ID: %s" % u(), lambda: "Idempotency-Key: %s" % u(), lambda: "X-Correlation-ID: %s" % u(),
            lambda: "X-Amz-Request-Id: %s" % u().upper().replace("-", "")[:16], lambda: "Request-Id: req_%s" % u().replace("-", "")[:14],
            lambda: "X-Trace-Id: %s" % u()]
    for f in hdrs:
        N("uuid", "header", f)


def gen_neg_git():
    urls = [lambda: "https://github.com/%s/commit/%s" % (repo(), sha1hex()),
            lambda: "https://github.com/%s/tree/%s/src" % (repo(), sha1hex()),
            lambda: "https://raw.githubusercontent.com/%s/%s/README.md" % (repo(), sha1hex()),
            lambda: "https://api.github.com/repos/%s/commits/%s/status" % (repo(), sha1hex()),
            lambda: "https://gitlab.com/%s/-/commit/%s" % (repo(), sha1hex()),
            lambda: "https://github.com/%s/compare/%s...%s" % (repo(), sha1hex()[:12], sha1hex()[:12]),
            lambda: "https://proxy.golang.org/github.com/%s/@v/v0.0.0-2026%02d%02d%06d-%s.info" % (repo(), R.randint(1, 12), R.randint(1, 28), R.randint(0, 235959), sha1hex()[:12]),
            lambda: "https://%s/builds?ref=%s" % (corp_host("ci"), sha1hex()[:7]),
            lambda: "https://bitbucket.org/%s/commits/%s" % (repo(), sha1hex()),
            lambda: "https://codeload.github.com/%s/tar.gz/%s" % (repo(), sha1hex())]
    for f in urls:
        N("git-sha", "url", f)
    bodies = [lambda: (jdump({"ref": "refs/heads/main", "before": sha1hex(), "after": sha1hex(), "repository": {"full_name": repo()},
                              "head_commit": {"id": sha1hex(), "message": "fix: handle empty cart"}}), "application/json"),
              lambda: ("\n".join("%s %s" % (sha1hex()[:7], pick(["fix typo", "bump deps", "add retry", "refactor auth middleware", "docs"])) for _ in range(5)) + "\n", "text/plain"),
              lambda: (jdump({"state": "success", "sha": sha1hex(), "context": "ci/build", "target_url": "https://%s/b/%d" % (corp_host("ci"), R.randint(1, 9999))}), "application/json"),
              lambda: ("tree %s\nparent %s\nauthor %s <%s> %d +0100\n\nMerge branch 'release'\n" % (sha1hex(), sha1hex(), fullname(), email(), epoch()), "text/plain"),
              lambda: ("GIT_COMMIT=%s\nGIT_BRANCH=main\nBUILD_NUMBER=%d\n" % (sha1hex(), R.randint(1, 9999)), "text/plain"),
              lambda: (jdump({"packages": {"node_modules/left-pad": {"resolved": "git+ssh://git@github.com/%s.git#%s" % (repo(), sha1hex())}}}), "application/json")]
    for f in bodies:
        N("git-sha", "body", f)
    for f in [lambda: "X-Git-Commit: %s" % sha1hex(), lambda: "X-Build-Revision: %s" % sha1hex()[:12]]:
        N("git-sha", "header", f)


def gen_neg_sha256():
    urls = [lambda: "https://registry-1.docker.io/v2/library/%s/blobs/sha256:%s" % (pick(["nginx", "redis", "python", "node"]), sha256hex()),
            lambda: "https://ghcr.io/v2/homebrew/core/%s/blobs/sha256:%s" % (pick(["wget", "jq", "openssl"]), sha256hex()),
            lambda: "https://hub.docker.com/layers/library/%s/%s/images/sha256-%s" % (pick(["nginx", "postgres", "alpine"]), pick(["latest", "1.27", "16-alpine"]), sha256hex()),
            lambda: "https://www.virustotal.com/gui/file/%s/detection" % sha256hex(),
            lambda: "https://%s/artifacts/%s/download" % (corp_host("cache"), sha256hex()),
            lambda: "https://cache.nixos.org/%s.narinfo" % rs("0123456789abcdfghijklmnpqrsvwxyz", 32),
            lambda: "https://%s/v2/%s/manifests/sha256:%s" % (pick(["quay.io", "gcr.io", "public.ecr.aws"]), repo(), sha256hex()),
            lambda: "https://bazel-cache.%s.com/cas/%s" % (company(), sha256hex()),
            lambda: "https://%s/check?hash=%s" % (corp_host(), rbytes(32).hex().upper())]
    for f in urls:
        N("sha256-hash", "url", f)
    bodies = [lambda: ("%s  %s\n%s  %s\n" % (sha256hex(), "app-%s-linux-amd64.tar.gz" % semver(), sha256hex(), "app-%s-darwin-arm64.tar.gz" % semver()), "text/plain"),
              lambda: (jdump({"name": "left-pad", "version": semver(), "dist": {"integrity": "sha512-" + b64s(rbytes(64)), "shasum": sha1hex()}}), "application/json"),
              lambda: ('<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js" integrity="sha384-%s" crossorigin="anonymous"></script>' % b64s(rbytes(48)), "text/html"),
              lambda: (jdump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"digest": "sha256:" + sha256hex(), "size": R.randint(1000, 9000)},
                              "layers": [{"digest": "sha256:" + sha256hex(), "size": R.randint(10 ** 6, 10 ** 8)}]}), "application/vnd.oci.image.manifest.v1+json"),
              lambda: ("%s==%s \\\n    --hash=sha256:%s\n" % (pick(["requests", "urllib3", "idna"]), semver(), sha256hex()), "text/plain"),
              lambda: (jdump({"files": [{"path": "dist/app.js", "sha256": sha256hex()}, {"path": "dist/app.css", "sha256": sha256hex()}]}), "application/json"),
              lambda: ("[[package]]\nname = \"serde\"\nversion = \"%s\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"%s\"\n" % (semver(), sha256hex()), "text/plain"),
              lambda: (jdump({"event": "file_scanned", "md5": rbytes(16).hex(), "sha1": sha1hex(), "sha256": sha256hex(), "verdict": "clean"}), "application/json")]
    for f in bodies:
        N("sha256-hash", "body", f)
    for f in [lambda: "x-amz-content-sha256: %s" % sha256hex(), lambda: "Digest: sha-256=%s" % b64s(rbytes(32)),
              lambda: "Repr-Digest: sha-256=:%s:" % b64s(rbytes(32))]:
        N("sha256-hash", "header", f)


def gen_neg_assets():
    site = lambda: pick(["www.%s.com" % company(), "app.%s.io" % company(), "%s.vercel.app" % company(), "shop.%s.de" % company()])
    urls = [lambda: "https://%s/static/js/main.%s.js" % (site(), rs(HEXL, 8)),
            lambda: "https://%s/static/js/%d.%s.chunk.js" % (site(), R.randint(100, 999), rs(HEXL, 8)),
            lambda: "https://%s/static/css/main.%s.css" % (site(), rs(HEXL, 8)),
            lambda: "https://%s/_next/static/chunks/pages/_app-%s.js" % (site(), rs(HEXL, 16)),
            lambda: "https://%s/_next/static/chunks/%d-%s.js" % (site(), R.randint(100, 9999), rs(HEXL, 16)),
            lambda: "https://%s/_next/static/%s/_buildManifest.js" % (site(), rs_mixed(ALNUM + "_-", 21)),
            lambda: "https://%s/_next/image?url=%s&w=1080&q=75" % (site(), pct("/images/hero.%s.jpg" % rs(HEXL, 8))),
            lambda: "https://%s/assets/index-%s.js" % (site(), rs_mixed(ALNUM + "_-", 8)),
            lambda: "https://%s/main.%s.js" % (site(), rs(HEXL, 16)),
            lambda: "https://%s/js/app.%s.js" % (site(), rs(HEXL, 20)),
            lambda: "https://fonts.gstatic.com/s/%s/v%d/%s.woff2" % (pick(["roboto", "inter", "opensans"]), R.randint(10, 40), rs_mixed(ALNUM + "_-", 32)),
            lambda: "https://%s/build/_shared/chunk-%s.js" % (site(), rs(UP + DIG, 8)),
            lambda: "https://%s/_app/immutable/entry/start.%s.js" % (site(), rs_mixed(ALNUM + "_-", 8)),
            lambda: "https://%s/_nuxt/%s.js" % (site(), rs_mixed(ALNUM + "_-", 8)),
            lambda: "https://cdn.shopify.com/s/files/1/%04d/%04d/%04d/t/%d/assets/theme.css?v=%d" % (R.randint(1, 9999), R.randint(1, 9999), R.randint(1, 9999), R.randint(1, 40), R.randint(1000000000, 1799999999)),
            lambda: "https://%s/packs/js/application-%s.js" % (site(), rs(HEXL, 20))]
    for f in urls:
        N("content-hashed-asset", "url", f)
    bodies = [lambda: ('<!doctype html><html><head><link rel="stylesheet" href="/static/css/main.%s.css"><script defer src="/static/js/main.%s.js"></script></head><body><div id="root"></div></body></html>' % (rs(HEXL, 8), rs(HEXL, 8)), "text/html"),
              lambda: (jdump({"files": {"main.js": "/static/js/main.%s.js" % rs(HEXL, 8), "main.css": "/static/css/main.%s.css" % rs(HEXL, 8)},
                              "entrypoints": ["static/js/main.%s.js" % rs(HEXL, 8)]}), "application/json"),
              lambda: (jdump({"index.html": {"file": "assets/index-%s.js" % rs_mixed(ALNUM + "_-", 8), "css": ["assets/index-%s.css" % rs_mixed(ALNUM + "_-", 8)], "isEntry": True}}), "application/json"),
              lambda: (jdump({"type": "csp-violation", "body": {"blockedURL": "https://%s/_next/static/chunks/webpack-%s.js" % (site(), rs(HEXL, 16)), "disposition": "report"}}), "application/reports+json"),
              lambda: (jdump({"errors": [{"message": "ChunkLoadError", "stack": "at https://%s/static/js/%d.%s.chunk.js:1:2345" % (site(), R.randint(1, 999), rs(HEXL, 8))}]}), "application/json"),
              lambda: ("self.__BUILD_MANIFEST={__rewrites:{beforeFiles:[]},\"/\":[\"static/chunks/pages/index-%s.js\"]};\n" % rs(HEXL, 16), "application/javascript")]
    for f in bodies:
        N("content-hashed-asset", "body", f)


def gen_neg_docs():
    gid = lambda: "1" + rs_mixed(ALNUM + "_-", 43)
    urls = [lambda: "https://docs.google.com/document/d/%s/edit?usp=sharing" % gid(),
            lambda: "https://docs.google.com/spreadsheets/d/%s/edit?gid=0" % gid(),
            lambda: "https://docs.google.com/presentation/d/%s/edit" % gid(),
            lambda: "https://drive.google.com/file/d/1%s/view?usp=drive_link" % rs_mixed(ALNUM + "_-", 32),
            lambda: "https://drive.google.com/drive/folders/1%s" % rs_mixed(ALNUM + "_-", 32),
            lambda: "https://docs.google.com/forms/d/e/1FAIpQLS%s/viewform" % rs_mixed(ALNUM + "_-", 48),
            lambda: "https://www.notion.so/%s/%s-%s" % (company(), pick(["Roadmap-Q3", "Onboarding", "Incident-Review"]), rs(HEXL, 32)),
            lambda: "https://www.figma.com/design/%s/%s?node-id=%d-%d" % (rs_mixed(ALNUM, 22), pick(["Checkout", "Design-System"]), R.randint(1, 999), R.randint(1, 9999)),
            lambda: "https://airtable.com/app%s/tbl%s/viw%s" % (rs_mixed(ALNUM, 14), rs_mixed(ALNUM, 14), rs_mixed(ALNUM, 14)),
            lambda: "https://miro.com/app/board/uXjV%s=/" % rs_mixed(ALNUM + "_-", 8),
            lambda: "https://www.dropbox.com/scl/fi/%s/%s?dl=0" % (rs(B36, 21), pick(["report.pdf", "slides.key"])),
            lambda: "https://sheets.googleapis.com/v4/spreadsheets/%s/values/Sheet1!A1:D10" % gid()]
    for f in urls:
        N("cloud-document-id", "url", f)
    bodies = [lambda: (jdump({"fileId": "1" + rs_mixed(ALNUM + "_-", 32), "role": "reader", "type": "domain"}), "application/json"),
              lambda: (jdump({"spreadsheetId": gid(), "range": "Sheet1!A1", "values": [["ok", 1]]}), "application/json"),
              lambda: (jdump({"text": "notes are here: https://docs.google.com/document/d/%s/edit" % gid()}), "application/json"),
              lambda: (jdump({"parent": {"page_id": rs(HEXL, 8) + "-" + rs(HEXL, 4) + "-" + rs(HEXL, 4) + "-" + rs(HEXL, 4) + "-" + rs(HEXL, 12)}, "properties": {"title": [{"text": {"content": "Weekly sync"}}]}}), "application/json")]
    for f in bodies:
        N("cloud-document-id", "body", f)


def cursor_json():
    return pick([{"id": R.randint(1000, 10 ** 7), "ts": epoch()}, {"offset": R.randint(0, 5000), "limit": 50},
                 {"last_id": R.randint(1, 10 ** 6), "sort": "created_at", "dir": "desc"}, {"pk": "ORDER#%d" % R.randint(1, 99999), "sk": rdate()}])


def gen_neg_cursors():
    urls = [lambda: "https://%s/api/v1/items?cursor=%s" % (corp_host(), b64u(json.dumps(cursor_json(), separators=(",", ":")))),
            lambda: "https://%s/api/v1/items?after=%s&first=50" % (corp_host(), b64s("arrayconnection:%d" % R.randint(1, 9999))),
            lambda: "https://slack.com/api/conversations.list?limit=200&cursor=%s" % pct(b64s("team:C0%s" % rs(UP + DIG, 9))),
            lambda: "https://%s/v2/search?page_token=%s" % (corp_host(), pct(b64s(json.dumps(cursor_json())))),
            lambda: "https://api.stripe.com/v1/charges?limit=100&starting_after=ch_%s" % rs_mixed(ALNUM, 24),
            lambda: "https://%s/graphql?variables=%s" % (corp_host(), pct(jdump({"after": b64s("cursor:v2:%d" % R.randint(1, 10 ** 6))}))),
            lambda: "https://www.googleapis.com/drive/v3/files?pageSize=100&pageToken=%s" % pct(b64s(b"\x08\x01\x12" + ("page:%d" % R.randint(2, 90)).encode())),
            lambda: "https://%s/logs?next=%s" % (corp_host(), b64u(json.dumps({"t": epoch(), "o": R.randint(0, 500)}))),
            lambda: "https://%s/feed?since_id=%d&max_id=%d" % (corp_host(), R.randint(10 ** 9, 10 ** 10), R.randint(10 ** 9, 10 ** 10)),
            lambda: "https://%s/api/orders?page=%d&per_page=50&sort=-created_at" % (corp_host(), R.randint(2, 40))]
    for f in urls:
        N("pagination-cursor", "url", f)
    bodies = [lambda: (jdump({"query": "query($after: String) { repository(owner: \"a\", name: \"b\") { issues(first: 50, after: $after) { nodes { title } } } }",
                              "variables": {"after": b64s("cursor:v2:" + b64s(b"\x92" + rbytes(2)).rstrip("="))}}), "application/json"),
              lambda: (jdump({"TableName": "orders", "ExclusiveStartKey": {"pk": {"S": "ORDER#%d" % R.randint(1, 99999)}}, "Limit": 25}), "application/json"),
              lambda: (jdump({"cursor": b64u(json.dumps(cursor_json(), separators=(",", ":"))), "limit": 100}), "application/json"),
              lambda: (jdump({"next_page": b64s(json.dumps(cursor_json())), "count": R.randint(1, 100)}), "application/json"),
              lambda: ("page_token=%s&page_size=100" % quote_plus(b64s(json.dumps(cursor_json()))), "application/x-www-form-urlencoded"),
              lambda: (jdump({"scroll": "1m", "scroll_id": b64s(b"FGluY2x1ZGVfY29udGV4dF91dWlk" + b"\x01" + ("query:%d" % R.randint(1, 999)).encode())}), "application/json")]
    for f in bodies:
        N("pagination-cursor", "body", f)


def png_bytes(w=None, h=None):
    w = w or R.randint(4, 24)
    h = h or R.randint(4, 24)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + rbytes(w * 3) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


GIF_1X1 = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


def gen_neg_images():
    png = lambda: "data:image/png;base64," + b64s(png_bytes())
    bodies = [lambda: (jdump({"user_id": R.randint(1, 99999), "avatar": png()}), "application/json"),
              lambda: (jdump({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                                                                           {"type": "image_url", "image_url": {"url": png()}}]}]}), "application/json"),
              lambda: (jdump({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": [
                  {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64s(png_bytes())}}, {"type": "text", "text": "describe"}]}]}), "application/json"),
              lambda: (jdump({"logo": "data:image/gif;base64," + GIF_1X1, "name": company()}), "application/json"),
              lambda: (jdump({"thumbnail": png(), "title": "IMG_%04d.png" % R.randint(1, 9999)}), "application/json"),
              lambda: ('<img alt="chart" src="%s">' % png(), "text/html"),
              lambda: (jdump({"icon": "data:image/svg+xml;base64," + b64s('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="%d" fill="#%s"/></svg>' % (R.randint(3, 8), rs(HEXL, 6)))}), "application/json"),
              lambda: ("image=%s&caption=%s" % (quote_plus(png()), quote_plus("receipt scan")), "application/x-www-form-urlencoded"),
              lambda: (jdump({"screenshot": b64s(png_bytes(32, 20)), "url": "https://%s/checkout" % corp_host()}), "application/json"),
              lambda: (jdump({"profile": {"photo": {"mime": "image/png", "base64": b64s(png_bytes())}}}), "application/json")]
    for f in bodies:
        N("base64-image", "body", f)
    N("base64-image", "body", lambda: (None, "image/png", png_bytes(20, 20)))
    N("base64-image", "body", lambda: (None, "image/gif", base64.b64decode(GIF_1X1)))


def gen_neg_hostnames():
    H = [lambda: "www.google.com", lambda: "api.github.com", lambda: "objects.githubusercontent.com",
         lambda: "d%s.cloudfront.net" % rs(B36, 13),
         lambda: "%s-%s.s3.%s.amazonaws.com" % (company(), pick(["assets", "logs", "backups"]), pick(REGIONS)),
         lambda: "ec2-%d-%d-%d-%d.%s.compute.amazonaws.com" % (R.randint(3, 54), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254), pick(REGIONS)),
         lambda: "%s.execute-api.%s.amazonaws.com" % (rs(B36, 10), pick(REGIONS)),
         lambda: "%s-alb-%d.%s.elb.amazonaws.com" % (company(), R.randint(10 ** 8, 10 ** 9), pick(REGIONS)),
         lambda: "%s-prod.%s.%s.rds.amazonaws.com" % (company(), rs(B36, 12), pick(REGIONS)),
         lambda: "%s.gr7.%s.eks.amazonaws.com" % (rs(HEXU, 32), pick(REGIONS)),
         lambda: "%s.blob.core.windows.net" % storage_account(),
         lambda: "%s-prod.azurewebsites.net" % company(),
         lambda: "%s-fd-%s.z01.azurefd.net" % (company(), rs(B36, 16)),
         lambda: "storage.googleapis.com", lambda: "lh3.googleusercontent.com",
         lambda: "rr%d---sn-%s.googlevideo.com" % (R.randint(1, 9), rs(B36, 8)),
         lambda: "e%d.a.akamaiedge.net" % R.randint(1000, 99999),
         lambda: "%s.%s.gcp.cloud.es.io" % (rs(HEXL, 32), pick(["us-central1", "europe-west1"])),
         lambda: "%s-api-%s.herokuapp.com" % (company(), rs(HEXL, 12)),
         lambda: "us-central1-%s-prod.cloudfunctions.net" % company(),
         lambda: "%s-prod-default-rtdb.europe-west1.firebasedatabase.app" % company(),
         lambda: "%s.supabase.co" % rs(LOW, 20),
         lambda: "xn--mnchen-3ya.de", lambda: "xn--80ak6aa92e.com",
         lambda: "_acme-challenge.%s.com" % company(),
         lambda: "selector1._domainkey.%s.com" % company(),
         lambda: ".".join(rs(HEXL, 32)) + ".ip6.arpa",
         lambda: "%d.%d.%d.%d.in-addr.arpa" % (R.randint(1, 254), R.randint(0, 255), R.randint(0, 255), R.randint(1, 223)),
         lambda: "%s.atlassian.net" % company(), lambda: "login.microsoftonline.com",
         lambda: "%s.my.salesforce.com" % company(), lambda: "registry.npmjs.org"]
    for f in H:
        N("ordinary-hostname", "hostname", f)


def gen_neg_orders():
    def amazon():
        return "%03d-%07d-%07d" % (R.randint(100, 999), R.randint(0, 9999999), R.randint(0, 9999999))
    bodies = [lambda: (jdump({"invoice": "INV-2026-%06d" % R.randint(1, 999999), "total": "%.2f" % R.uniform(10, 999), "due": rdate()}), "application/json"),
              lambda: (jdump({"order_id": amazon(), "items": R.randint(1, 5), "status": "shipped"}), "application/json"),
              lambda: ("Your order #%d has shipped. Tracking: 1Z%s%s\n" % (R.randint(1000, 99999), rs(UP + DIG, 6), rs(DIG, 10)), "text/plain"),
              lambda: (jdump({"po_number": "PO-%d" % R.randint(10000, 99999), "vendor": company(), "lines": [{"sku": "SKU-%s" % rs(UP + DIG, 6), "qty": R.randint(1, 50)}]}), "application/json"),
              lambda: (jdump({"shipment": {"carrier": "fedex", "tracking_number": str(R.randint(10 ** 11, 10 ** 12 - 1))}}), "application/json"),
              lambda: ("order,date,total\n%d,%s,%.2f\n%d,%s,%.2f\n" % (R.randint(10 ** 5, 10 ** 6), rdate(), R.uniform(5, 400), R.randint(10 ** 5, 10 ** 6), rdate(), R.uniform(5, 400)), "text/csv"),
              lambda: (jdump({"ticket": "SUP-%d" % R.randint(1000, 99999), "rma": "RMA%08d" % R.randint(0, 10 ** 8)}), "application/json"),
              lambda: ("<Invoice><ID>%s-%06d</ID><IssueDate>%s</IssueDate></Invoice>" % (pick(["RE", "FA", "INV"]), R.randint(1, 999999), rdate()), "application/xml")]
    for f in bodies:
        N("order-number", "body", f)
    for f in [lambda: "https://www.amazon.com/gp/your-account/order-details?orderID=%s" % amazon(),
              lambda: "https://%s/orders/%d/invoice.pdf" % (corp_host("shop"), R.randint(10 ** 5, 10 ** 8)),
              lambda: "https://www.ups.com/track?tracknum=1Z%s%s" % (rs(UP + DIG, 6), rs(DIG, 10)),
              lambda: "https://%s/account/orders?number=ORD-%s" % (corp_host("shop"), rs(UP + DIG, 8))]:
        N("order-number", "url", f)


def gen_neg_phones():
    ph = [lambda: "+1 (%d) 555-%04d" % (R.randint(201, 989), R.randint(100, 199)), lambda: "+44 20 7946 %04d" % R.randint(0, 999),
          lambda: "+49 30 %d" % R.randint(10 ** 6, 10 ** 8), lambda: "+1%d555%04d" % (R.randint(201, 989), R.randint(100, 199)),
          lambda: "03-%04d-%04d" % (R.randint(1000, 9999), R.randint(0, 9999)), lambda: "+91 %05d %05d" % (R.randint(70000, 99999), R.randint(0, 99999)),
          lambda: "+33 1 %02d %02d %02d %02d" % tuple(R.randint(0, 99) for _ in range(4)), lambda: "+61 2 %04d %04d" % (R.randint(0, 9999), R.randint(0, 9999))]
    bodies = [lambda: (jdump({"name": fullname(), "phone": pick(ph)(), "email": email()}), "application/json"),
              lambda: ("To=%s&From=%s&Body=%s" % (quote_plus("+1%d555%04d" % (R.randint(201, 989), R.randint(100, 199))), quote_plus("+14155550100"), quote_plus("Your code expires in 10 minutes")), "application/x-www-form-urlencoded"),
              lambda: ('<a href="tel:%s">Call us</a>' % pick(ph)().replace(" ", ""), "text/html"),
              lambda: ("name,phone\n%s,%s\n%s,%s\n" % (fullname(), pick(ph)(), fullname(), pick(ph)()), "text/csv"),
              lambda: (jdump({"contact": {"mobile": pick(ph)(), "fax": pick(ph)()}}), "application/json"),
              lambda: ("BEGIN:VCARD\nVERSION:3.0\nFN:%s\nTEL;TYPE=CELL:%s\nEND:VCARD\n" % (fullname(), pick(ph)()), "text/vcard"),
              lambda: (jdump({"message": "Ruf mich an unter %s" % pick(ph)()}), "application/json"),
              lambda: (jdump({"caller_id": pick(ph)(), "duration_s": R.randint(5, 900)}), "application/json")]
    for f in bodies:
        N("phone-number", "body", f)
    for f in [lambda: "https://wa.me/%d555%04d?text=%s" % (R.randint(1201, 1989), R.randint(100, 199), pct("hello")),
              lambda: "https://%s/lookup?phone=%s" % (corp_host(), pct(pick(ph)()))]:
        N("phone-number", "url", f)


def gen_neg_timestamps():
    bodies = [lambda: (jdump({"created_at": iso(), "updated_at": iso(), "ts": epoch()}), "application/json"),
              lambda: (jdump({"event": "click", "ts_ms": epoch() * 1000 + R.randint(0, 999)}), "application/json"),
              lambda: (jdump({"span": "db.query", "start_ns": epoch() * 10 ** 9 + R.randint(0, 10 ** 9 - 1), "duration_ns": R.randint(10 ** 5, 10 ** 8)}), "application/json"),
              lambda: ("%s %s,%03d INFO  [main] Server started\n" % (rdate(), rtime(), R.randint(0, 999)), "text/plain"),
              lambda: ("<entry><published>%s</published><updated>%s</updated></entry>" % (iso(), iso()), "application/atom+xml"),
              lambda: ("%d,%s,%d\n" % (epoch(), "heartbeat", R.randint(1, 9)) * 3, "text/csv")]
    for f in bodies:
        N("timestamp", "body", f)
    for f in [lambda: "https://%s/api/metrics?from=%d&to=%d" % (corp_host(), epoch(), epoch()),
              lambda: "https://%s/logs?since=%s" % (corp_host(), pct(iso())),
              lambda: "https://%s/report?start=%d&end=%d&step=60" % (corp_host("grafana"), epoch() * 1000, epoch() * 1000)]:
        N("timestamp", "url", f)
    for f in [lambda: "If-Modified-Since: %s, %02d %s 2026 %s GMT" % (pick(["Mon", "Tue", "Wed", "Thu", "Fri"]), R.randint(1, 28), pick(["Jan", "Feb", "Mar", "Apr"]), rtime()),
              lambda: "X-Amz-Date: %sT%sZ" % (rdate().replace("-", ""), rtime().replace(":", "")),
              lambda: "X-Request-Start: t=%d" % (epoch() * 10 ** 6 + R.randint(0, 999999))]:
        N("timestamp", "header", f)


def gen_neg_luhn_invalid():
    def bad16():
        return luhn_fail(pick(["4", "5", "37", "6011"]), pick([16, 16, 15]))
    bodies = [lambda: (jdump({"reference": luhn_fail(pick(["4", "5"]), 16), "amount": R.randint(1, 900)}), "application/json"),
              lambda: (jdump({"barcode": luhn_fail("9", 16), "sku": rs(UP + DIG, 8)}), "application/json"),
              lambda: (jdump({"card_number": group_card(bad16(), " "), "note": "typo in form, rejected by validation"}), "application/json"),
              lambda: ("account_no,holder\n%s,%s\n" % (luhn_fail("5", 16), fullname()), "text/csv"),
              lambda: (jdump({"membership_id": luhn_fail("6", 16)}), "application/json"),
              lambda: ("cc_number=%s&result=invalid_number" % luhn_fail("4", 16), "application/x-www-form-urlencoded"),
              lambda: (jdump({"serial": "-".join(chunks(luhn_fail("3", 16), 4))}), "application/json"),
              lambda: (jdump({"gift_card": luhn_fail("60", 19)}), "application/json"),
              lambda: ("%s WARN checkout - card number failed checksum: %s\n" % (iso(), luhn_fail("4", 16)), "text/plain")]
    for f in bodies:
        N("luhn-invalid-number", "body", f)
    for f in [lambda: "https://%s/track?id=%s" % (corp_host(), luhn_fail("4", 16)),
              lambda: "https://%s/loyalty/%s" % (corp_host("shop"), luhn_fail("5", 16)),
              lambda: "https://%s/search?q=%s" % (corp_host(), pct(group_card(luhn_fail("4", 16), " ")))]:
        N("luhn-invalid-number", "url", f)


def gen_neg_placeholders():
    bodies = [
        lambda: ("# copy to .env and fill in\nOPENAI_API_KEY=YOUR_API_KEY\nSTRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nDATABASE_URL=\n", "text/plain"),
        lambda: (jdump({"api_key": "<YOUR_API_KEY>", "endpoint": "https://api.example.com/v1"}), "application/json"),
        lambda: ("aws_access_key_id = AKIAXXXXXXXXXXXXXXXX\naws_secret_access_key = <your-secret-key>\n", "text/plain"),
        lambda: ("env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n", "application/yaml"),
        lambda: (jdump({"token": "ghp_" + "x" * 36, "comment": "replace with a real token"}), "application/json"),
        lambda: ("DATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:5432/app\n", "text/plain"),
        lambda: (jdump({"password": "********", "username": person()}), "application/json"),
        lambda: ("api_key=REPLACE_ME&region=%s" % pick(REGIONS), "application/x-www-form-urlencoded"),
        lambda: (jdump({"headers": {"Authorization": "Bearer {{access_token}}", "x-api-key": "{{apiKey}}"}}), "application/json"),
        lambda: ("SLACK_BOT_TOKEN=xoxb-your-token-here\nSLACK_SIGNING_SECRET=changeme\n", "text/plain"),
        lambda: ("client_secret: \"<client-secret>\"\nclient_id: \"<client-id>\"\n", "application/yaml"),
        lambda: (jdump({"openai": {"apiKey": "sk-..."}, "anthropic": {"apiKey": "sk-ant-..."}}), "application/json"),
        lambda: ("STRIPE_KEY=sk_test_XXXXXXXXXXXXXXXXXXXXXXXX\nPUBLISHABLE=pk_test_XXXXXXXXXXXXXXXXXXXXXXXX\n", "text/plain"),
        lambda: ("[default]\naws_access_key_id=EXAMPLE_KEY_ID\naws_secret_access_key=EXAMPLE_SECRET\n", "text/plain"),
        lambda: (jdump({"card_number": "XXXX-XXXX-XXXX-XXXX", "cvc": "XXX"}), "application/json"),
        lambda: ("password = \"\"\napi_token = \"TODO\"\n", "text/plain"),
    ]
    for f in bodies:
        N("placeholder", "body", f)
    for f in [lambda: "https://api.example.com/v1/search?q=test&api_key=YOUR_API_KEY",
              lambda: "https://maps.googleapis.com/maps/api/js?key=YOUR_KEY_HERE&callback=initMap",
              lambda: "https://%s/hook?token=%s" % (corp_host(), pct("<token>")),
              lambda: "https://%s/v1/data?access_token=%s" % (corp_host(), pct("${ACCESS_TOKEN}")),
              lambda: "https://api.telegram.org/bot%s/getMe" % pct("<BOT_TOKEN>")]:
        N("placeholder", "url", f)
    for f in [lambda: "Authorization: Bearer <token>", lambda: "Authorization: Bearer YOUR_ACCESS_TOKEN",
              lambda: "X-Api-Key: {{apiKey}}", lambda: "Authorization: Bearer $TOKEN", lambda: "X-Auth-Token: xxxxxxxxxxxxxxxxxxxxxxxx"]:
        N("placeholder", "header", f)


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
         "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non "
         "proident, sunt in culpa qui officia deserunt mollit anim id est laborum.").split(" ")
SENTENCES = ["The quarterly report is attached; please review section three before Friday.",
             "Der Zug nach München fährt heute von Gleis sieben ab.",
             "Nous avons reçu votre demande et nous vous répondrons sous 48 heures.",
             "El equipo de soporte revisará el ticket mañana por la mañana.",
             "会議は来週の火曜日に延期されました。",
             "Спасибо за заказ! Мы отправим его в течение двух дней.",
             "Het pakket wordt morgen tussen 9 en 12 uur bezorgd.",
             "A reunião foi remarcada para quinta-feira às 15h."]


def lorem(n):
    start = R.randint(0, len(LOREM) - 1)
    return " ".join(LOREM[(start + i) % len(LOREM)] for i in range(n))


def gen_neg_lorem():
    bodies = [lambda: (jdump({"title": lorem(4), "body": lorem(60)}), "application/json"),
              lambda: ("<p>%s</p><p>%s</p>" % (lorem(30), lorem(25)), "text/html"),
              lambda: ("comment=%s&post_id=%d" % (quote_plus(lorem(20)), R.randint(1, 9999)), "application/x-www-form-urlencoded"),
              lambda: (lorem(80) + "\n", "text/plain"),
              lambda: (jdump({"messages": [{"role": "user", "content": pick(SENTENCES)}], "model": "gpt-4o-mini"}), "application/json"),
              lambda: (jdump({"text": pick(SENTENCES), "channel": "C0" + rs(UP + DIG, 9)}), "application/json"),
              lambda: ("# Release notes\n\n- %s\n- %s\n" % (lorem(8), lorem(10)), "text/markdown"),
              lambda: (jdump({"review": {"stars": R.randint(1, 5), "text": pick(SENTENCES)}}), "application/json"),
              lambda: (jdump({"subject": "Re: " + lorem(3), "html": "<div>%s</div>" % lorem(40)}), "application/json"),
              lambda: ("\n".join(R.sample(SENTENCES, 4)) + "\n", "text/plain")]
    for f in bodies:
        N("lorem-text", "body", f)


def gen_neg_code():
    snippets = [
        'import os\nfrom openai import OpenAI\n\nclient = OpenAI(api_key=os.environ["OPENAI_API_KEY"])\n',
        "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);\n",
        'key := os.Getenv("AWS_SECRET_ACCESS_KEY")\nif key == "" {\n\tlog.Fatal("missing AWS_SECRET_ACCESS_KEY")\n}\n',
        "export GITHUB_TOKEN=$(gh auth token)\ncurl -H \"Authorization: Bearer $GITHUB_TOKEN\" https://api.github.com/user\n",
        "- name: Publish\n  run: npm publish\n  env:\n    NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n",
        'resource "aws_db_instance" "main" {\n  username = "app"\n  password = var.db_password\n}\n',
        'GITHUB_PAT = re.compile(r"ghp_[A-Za-z0-9]{36}")\nAWS_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")\n',
        "ARG NPM_TOKEN\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc && npm ci && rm .npmrc\n",
        "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n",
        'String apiKey = System.getenv("API_KEY");\nif (apiKey == null) throw new IllegalStateException("API_KEY not set");\n',
        "password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())\n",
        "def get_secret(name: str) -> str:\n    return boto3.client('secretsmanager').get_secret_value(SecretId=name)['SecretString']\n",
        "if (token.startsWith('sk_live_')) {\n  throw new Error('refusing to use a live key in tests');\n}\n",
        "let secret = vault.read(\"kv/data/payments\").await?.data[\"api_key\"].clone();\n",
        "$apiKey = getenv('MAILGUN_API_KEY');\n$mg = Mailgun::create($apiKey);\n",
        "SELECT id, email FROM users WHERE password_reset_token IS NOT NULL AND reset_expires_at < now();\n",
        "for (let i = 0; i < 0xff; i++) { checksum = (checksum ^ buf[i]) >>> 0; }\n",
        "api_key = os.environ.get('API_KEY', '')\nassert api_key, 'set API_KEY'\n",
    ]
    for s in snippets:
        w = pick(["raw", "gist", "llm", "paste"])
        if w == "raw":
            f = lambda s=s: (s, "text/plain")
        elif w == "gist":
            f = lambda s=s: (jdump({"description": "snippet", "public": False, "files": {"snippet.txt": {"content": s}}}), "application/json")
        elif w == "llm":
            f = lambda s=s: (jdump({"model": "gpt-4o", "messages": [{"role": "user", "content": "Review this code:\n```\n%s```" % s}]}), "application/json")
        else:
            f = lambda s=s: ("api_paste_code=%s&api_paste_private=1" % quote_plus(s), "application/x-www-form-urlencoded")
        N("code-snippet", "body", f)


def ssh_string(b):
    return struct.pack(">I", len(b)) + b


def ssh_pub(kind):
    if kind == "ed25519":
        blob = ssh_string(b"ssh-ed25519") + ssh_string(rbytes(32))
        return "ssh-ed25519 " + b64s(blob)
    if kind == "rsa":
        n = bytearray(rbytes(256))
        n[0] |= 0x80
        n[-1] |= 1
        blob = ssh_string(b"ssh-rsa") + ssh_string(b"\x01\x00\x01") + ssh_string(b"\x00" + bytes(n))
        return "ssh-rsa " + b64s(blob)
    blob = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(b"nistp256") + ssh_string(b"\x04" + rbytes(64))
    return "ecdsa-sha2-nistp256 " + b64s(blob)


def gen_neg_pubkeys():
    bodies = [lambda: (jdump({"title": "%s@laptop" % person(), "key": ssh_pub("ed25519") + " %s@laptop" % person()}), "application/json"),
              lambda: ("\n".join(ssh_pub(pick(["ed25519", "rsa", "ecdsa"])) + " %s@%s" % (person(), pick(["mbp", "ws", "ci"])) for _ in range(2)) + "\n", "text/plain"),
              lambda: (jdump({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rs(ALNUM, 16), "n": b64u(rbytes(256)), "e": "AQAB"}]}), "application/json"),
              lambda: (jdump({"kty": "EC", "crv": "P-256", "x": b64u(rbytes(32)), "y": b64u(rbytes(32)), "use": "enc"}), "application/json"),
              lambda: ("[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.0/24\nEndpoint = vpn.%s.com:51820\n" % (b64s(rbytes(32)), company()), "text/plain"),
              lambda: ("256 SHA256:%s %s@host (ED25519)\n" % (b64s(rbytes(32)).rstrip("="), person()), "text/plain"),
              lambda: ("sha256 Fingerprint=%s\n" % ":".join("%02X" % x for x in rbytes(32)), "text/plain"),
              lambda: ("SHA1 Fingerprint=%s\n" % ":".join("%02X" % x for x in rbytes(20)), "text/plain"),
              lambda: ("pub   ed25519 2026-01-02 [SC]\n      %s\nuid           %s <%s>\n" % (" ".join(rs(HEXU, 4) for _ in range(10)), fullname(), email()), "text/plain"),
              lambda: (jdump({"public_key": ssh_pub("ed25519"), "fingerprint": "MD5:" + ":".join("%02x" % x for x in rbytes(16))}), "application/json"),
              lambda: ("|1|%s|%s %s\n" % (b64s(rbytes(20)), b64s(rbytes(20)), ssh_pub("ecdsa")), "text/plain"),
              lambda: (jdump({"pins": ["pin-sha256=\"%s\"" % b64s(rbytes(32)), "pin-sha256=\"%s\"" % b64s(rbytes(32))], "max-age": 5184000}), "application/json")]
    for f in bodies:
        N("public-key-or-fingerprint", "body", f)
    for f in [lambda: "Public-Key-Pins-Report-Only: pin-sha256=\"%s\"; max-age=600" % b64s(rbytes(32)),
              lambda: "X-Client-Cert-Fingerprint: %s" % ":".join("%02X" % x for x in rbytes(32))]:
        N("public-key-or-fingerprint", "header", f)


def gen_neg_tracking():
    ga4 = lambda: "G-" + rs(UP + DIG, 10)
    ua = lambda: "UA-%d-%d" % (R.randint(10 ** 6, 10 ** 8), R.randint(1, 9))
    urls = [lambda: "https://www.google-analytics.com/g/collect?v=2&tid=%s&cid=%d.%d&en=page_view&dl=%s" % (ga4(), R.randint(10 ** 8, 10 ** 9), epoch(), pct("https://%s/pricing" % corp_host("www"))),
            lambda: "https://www.googletagmanager.com/gtag/js?id=%s" % ga4(),
            lambda: "https://www.googletagmanager.com/gtm.js?id=GTM-%s" % rs(UP + DIG, 7),
            lambda: "https://www.google-analytics.com/collect?v=1&tid=%s&cid=%s&t=pageview" % (ua(), uuid4()),
            lambda: "https://%s/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQ%s" % (corp_host("www"), rs_mixed(ALNUM + "_-", 80)),
            lambda: "https://%s/?fbclid=IwAR%s" % (corp_host("www"), rs_mixed(ALNUM + "_-", 56)),
            lambda: "https://%s/promo?msclkid=%s&utm_source=bing" % (corp_host("www"), rs(HEXL, 32)),
            lambda: "https://googleads.g.doubleclick.net/pagead/viewthroughconversion/%d/?random=%d&cv=11" % (R.randint(10 ** 9, 10 ** 10), R.randint(10 ** 9, 10 ** 10))]
    for f in urls:
        N("tracking-id", "url", f)
    for f in [lambda: (jdump({"measurement_id": ga4(), "client_id": "%d.%d" % (R.randint(10 ** 8, 10 ** 9), epoch()), "events": [{"name": "purchase"}]}), "application/json"),
              lambda: ("<script async src=\"https://www.googletagmanager.com/gtag/js?id=%s\"></script><script>gtag('config','%s');gtag('config','AW-%d');</script>" % ((lambda g: (g, g))(ga4()) + (R.randint(10 ** 8, 10 ** 9),)), "text/html"),
              lambda: (jdump({"type": "track", "event": "Signed Up", "anonymousId": uuid4(), "context": {"campaign": {"source": "newsletter"}}}), "application/json")]:
        N("tracking-id", "body", f)
    for f in [lambda: "Cookie: _ga=GA1.2.%d.%d; _gid=GA1.2.%d.%d; _fbp=fb.1.%d.%d" % (R.randint(10 ** 8, 10 ** 9), epoch(), R.randint(10 ** 8, 10 ** 9), epoch(), epoch() * 1000, R.randint(10 ** 8, 10 ** 9)),
              lambda: "Cookie: _ga_%s=GS1.1.%d.3.1.%d.0.0.0; _gcl_au=1.1.%d.%d" % (rs(UP + DIG, 10), epoch(), epoch(), R.randint(10 ** 8, 10 ** 9), epoch()),
              lambda: "Cookie: ajs_anonymous_id=%s; mp_%s_mixpanel=%%7B%%22distinct_id%%22%%3A%%20%d%%7D" % (uuid4(), rs(HEXL, 32), R.randint(1, 99999))]:
        N("tracking-id", "header", f)


def bad_btc():
    while True:
        r = R.random()
        if r < 0.4:
            a = btc_address(pick(["p2pkh", "p2sh"]))[0]
            i = R.randrange(5, len(a))
            a = a[:i] + pick([c for c in B58 if c != a[i]]) + a[i + 1:]
        elif r < 0.7:
            a = btc_address(pick(["p2wpkh", "p2tr"]))[0]
            i = R.randrange(6, len(a))
            a = a[:i] + pick([c for c in BECH if c != a[i]]) + a[i + 1:]
        else:
            a = "1" + rs(B58, 29) + pick("0OIl") + rs(B58, 3)
        if not btc_ok(a) and not any(b58check_ok(a[:L]) for L in range(26, 36)):
            return a


def gen_neg_bad_btc():
    for f in [lambda: (jdump({"asset": "BTC", "address": bad_btc(), "status": "rejected", "reason": "invalid address checksum"}), "application/json"),
              lambda: ("Send 0.01 BTC to %s\n" % bad_btc(), "text/plain"),
              lambda: (jdump({"promo_code": bad_btc()[:12], "ref": bad_btc()}), "application/json"),
              lambda: ("address=%s&amount=0.2" % bad_btc(), "application/x-www-form-urlencoded"),
              lambda: (jdump({"tx": {"to": bad_btc(), "memo": "test vector, corrupted on purpose"}}), "application/json"),
              lambda: ("payee,address\n%s,%s\n" % (person(), bad_btc()), "text/csv")]:
        N("invalid-bitcoin-address", "body", f)
    for f in [lambda: "https://%s/api/validate?address=%s" % (corp_host("wallet"), bad_btc()),
              lambda: "https://%s/r/%s" % (corp_host(), bad_btc()),
              lambda: "https://%s/search?q=%s" % (corp_host("explorer"), bad_btc()),
              lambda: "https://%s/invite/%s" % (corp_host("app"), bad_btc())]:
        N("invalid-bitcoin-address", "url", f)


def bad_iban():
    while True:
        ib = make_iban()
        chk = int(ib[2:4])
        new = (chk + R.randint(1, 90)) % 100
        cand = "%s%02d%s" % (ib[:2], new, ib[4:])
        if not iban_ok(cand):
            return cand


def gen_neg_bad_iban():
    for f in [lambda: (jdump({"iban": bad_iban(), "error": "IBAN checksum invalid"}), "application/json"),
              lambda: ("iban=%s&name=%s" % (quote_plus(group4(bad_iban())), quote_plus(fullname())), "application/x-www-form-urlencoded"),
              lambda: ("name;iban\n%s;%s\n" % (fullname(), group4(bad_iban())), "text/csv"),
              lambda: (jdump({"body": "Die IBAN %s ist leider ungültig, bitte prüfen." % group4(bad_iban())}), "application/json"),
              lambda: ("<CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>" % bad_iban(), "application/xml"),
              lambda: (jdump({"account": {"iban": bad_iban().lower()}}), "application/json"),
              lambda: (jdump({"validation": [{"field": "iban", "value": bad_iban(), "code": "checksum"}]}), "application/json")]:
        N("invalid-iban", "body", f)
    for f in [lambda: "https://%s/validate?iban=%s" % (corp_host("bank"), bad_iban()),
              lambda: "https://%s/v1/accounts/%s" % (corp_host("bank"), bad_iban()),
              lambda: "https://%s/check?iban=%s" % (corp_host(), pct(group4(bad_iban())))]:
        N("invalid-iban", "url", f)


def gen_neg_short():
    for f in [lambda: "https://%s/app.js?v=%s" % (corp_host("www"), rs(HEXL, 4)),
              lambda: "https://%s/share/%s" % (corp_host(), rs(B36, 6)),
              lambda: "https://%s/signup?ref=%s" % (corp_host("www"), rs(UP + DIG, 6)),
              lambda: "https://%s/img/logo.png?cb=%d" % (corp_host("cdn"), epoch()),
              lambda: "https://bit.ly/%s" % rs_mixed(ALNUM, 7),
              lambda: "https://youtu.be/%s" % rs_mixed(ALNUM + "_-", 11),
              lambda: "https://%s/p/%s" % (corp_host(), rs(B36, 8)),
              lambda: "https://%s/checkout?coupon=%s" % (corp_host("shop"), pick(["SAVE20", "WELCOME10", "SPRING-7QK", "FREESHIP"]))]:
        N("short-random-word", "url", f)
    for f in [lambda: (jdump({"room": rs(B36, 6), "nick": person() + rs(DIG, 2)}), "application/json"),
              lambda: (jdump({"coupon": rs(UP + DIG, 8), "cart": R.randint(1, 999)}), "application/json")]:
        N("short-random-word", "body", f)


def gen_neg_headers():
    for f in [lambda: "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1%d.0.0.0 Safari/537.36" % R.randint(20, 40),
              lambda: "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
              lambda: "Accept-Language: de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
              lambda: "traceparent: 00-%s-%s-01" % (rs(HEXL, 32), rs(HEXL, 16)),
              lambda: "tracestate: congo=%s,rojo=00f067aa0ba902b7" % b64u(rbytes(12)),
              lambda: "X-Amzn-Trace-Id: Root=1-%s-%s" % (rs(HEXL, 8), rs(HEXL, 24)),
              lambda: "sentry-trace: %s-%s-1" % (rs(HEXL, 32), rs(HEXL, 16)),
              lambda: "baggage: sentry-environment=production,sentry-release=%s,sentry-public_key=%s" % (semver(), rs(HEXL, 32)),
              lambda: "Sec-WebSocket-Key: %s" % b64s(rbytes(16)),
              lambda: "If-None-Match: W/\"%s\"" % rs(HEXL, 32),
              lambda: "ETag: \"%s-%s\"" % (rs(HEXL, 5), rs(HEXL, 12)),
              lambda: "Sec-CH-UA: \"Chromium\";v=\"13%d\", \"Not.A/Brand\";v=\"24\"" % R.randint(0, 9),
              lambda: "X-Forwarded-For: %s, 10.0.%d.%d" % (ip4(), R.randint(0, 9), R.randint(1, 250)),
              lambda: "Referer: https://%s/static/js/main.%s.js" % (corp_host("www"), rs(HEXL, 8)),
              lambda: "Cookie: theme=dark; lang=en-GB; tz=Europe%2FBerlin; consent=1",
              lambda: "X-GitHub-Delivery: %s" % uuid4(),
              lambda: "Content-MD5: %s" % b64s(rbytes(16)),
              lambda: "X-B3-TraceId: %s" % rs(HEXL, 32)]:
        N("ordinary-header", "header", f)


def gen_neg_public_ids():
    for f in [lambda: "https://dashboard.stripe.com/payments/pi_%s" % rs_mixed(ALNUM, 24),
              lambda: "https://api.stripe.com/v1/customers/cus_%s" % rs_mixed(ALNUM, 14),
              lambda: "https://api.openai.com/v1/files/file-%s/content" % rs_mixed(ALNUM, 24),
              lambda: "https://api.twilio.com/2010-04-01/Accounts/AC%s/Messages/SM%s.json" % (rs(HEXL, 32), rs(HEXL, 32)),
              lambda: "https://app.slack.com/client/T0%s/C0%s" % (rs(UP + DIG, 9), rs(UP + DIG, 9)),
              lambda: "https://discord.com/channels/%s/%s" % (snowflake(), snowflake())]:
        N("public-object-id", "url", f)
    for f in [lambda: (jdump({"id": "evt_" + rs_mixed(ALNUM, 24), "type": "invoice.paid", "data": {"object": {"id": "in_" + rs_mixed(ALNUM, 24), "customer": "cus_" + rs_mixed(ALNUM, 14), "subscription": "sub_" + rs_mixed(ALNUM, 24)}}}), "application/json"),
              lambda: (jdump({"id": "chatcmpl-" + rs_mixed(ALNUM, 29), "object": "chat.completion", "model": "gpt-4o-mini", "choices": []}), "application/json"),
              lambda: (jdump({"id": "msg_01" + rs_mixed(ALNUM, 22), "type": "message", "role": "assistant", "stop_reason": "end_turn"}), "application/json"),
              lambda: (jdump({"node_id": b64s("04:User%d" % R.randint(10 ** 5, 10 ** 8)), "login": person()}), "application/json"),
              lambda: ("<script src=\"https://js.stripe.com/v3/\"></script><script>const stripe = Stripe('pk_live_%s');</script>" % rs_mixed(ALNUM, 99), "text/html"),
              lambda: (jdump({"client_id": "%d-%s.apps.googleusercontent.com" % (R.randint(10 ** 11, 10 ** 12), rs(B36, 32)), "redirect_uri": "https://%s/oauth/callback" % corp_host("app"), "response_type": "code"}), "application/json")]:
        N("public-object-id", "body", f)


def gen_neg_masked():
    for f in [lambda: (jdump({"keys": [{"name": "ci", "key": "sk-proj-****" + rs(ALNUM, 4), "created": rdate()}]}), "application/json"),
              lambda: (jdump({"card": {"brand": "visa", "last4": rs(DIG, 4), "display": "•••• •••• •••• " + rs(DIG, 4)}}), "application/json"),
              lambda: ("%s INFO auth - using token ghp_****%s (redacted)\n" % (iso(), rs(ALNUM, 4)), "text/plain"),
              lambda: (jdump({"secret": "[REDACTED]", "password": "[FILTERED]", "api_key": "***"}), "application/json"),
              lambda: ("AWS_SECRET_ACCESS_KEY=****************************************\n", "text/plain"),
              lambda: (jdump({"iban": "DE** **** **** **** **%s %s" % (rs(DIG, 2), rs(DIG, 2)), "holder": fullname()}), "application/json")]:
        N("masked-secret", "body", f)
    for f in [lambda: "Authorization: Bearer [REDACTED]", lambda: "X-Api-Key: sk_live_****%s" % rs(DIG, 4)]:
        N("masked-secret", "header", f)


def gen_neg_prose():
    for s in ["Reminder: GitHub classic tokens start with ghp_ and fine-grained ones with github_pat_. Rotate them every 90 days.",
              "Bitte niemals AWS-Schlüssel (AKIA…) in Tickets posten, sondern immer über den Vault teilen.",
              "Les clés Stripe secrètes commencent par sk_live_ : ne les mettez jamais dans le code du navigateur.",
              "Si ves un token que empieza por xoxb- en un log, avisa al equipo de seguridad.",
              "OpenAIのAPIキーは sk- から始まります。リポジトリにコミットしないでください。",
              "Ключи Slack вида xoxp- нельзя хранить в открытом виде.",
              "Our policy: card numbers must never be logged; only the last four digits may be stored.",
              "Tip: a JWT has three base64url parts separated by dots; never paste one into a public chat."]:
        N("prose-about-secrets", "body", lambda s=s: pick([lambda: (jdump({"text": s}), "application/json"), lambda: (s + "\n", "text/plain")])())


def gen_neg_compressed():
    for i in range(8):
        f = pick([lambda: (jdump({"events": [{"name": "page_view", "path": "/pricing", "ts": epoch()} for _ in range(R.randint(2, 6))]}), "application/json"),
                  lambda: (jdump({"query": pick(["wireless headphones", "winterjacke herren", "billet train paris"]), "page": R.randint(1, 5)}), "application/json"),
                  lambda: ("\n".join(jdump({"lvl": "info", "msg": pick(["ok", "flushed", "cache hit"]), "req": uuid4()}) for _ in range(4)) + "\n", "application/x-ndjson"),
                  lambda: (lorem(120), "text/plain")])
        c = N("benign-compressed", "body", f)
        if c.raw is None:
            compress_case(c, how=["gzip", "deflate"][i % 2])


def gen_neg_api_urls():
    for f in [lambda: "https://www.youtube.com/watch?v=%s&t=%ds" % (rs_mixed(ALNUM + "_-", 11), R.randint(1, 600)),
              lambda: "https://open.spotify.com/track/%s" % rs_mixed(ALNUM, 22),
              lambda: "https://stackoverflow.com/questions/%d/%s" % (R.randint(10 ** 6, 8 * 10 ** 7), pick(["how-to-parse-json-in-rust", "git-rebase-vs-merge"])),
              lambda: "https://x.com/%s/status/%d" % (person(), R.randint(10 ** 18, 19 * 10 ** 17)),
              lambda: "https://arxiv.org/abs/2%d.%05d" % (R.randint(401, 612), R.randint(1, 29999)),
              lambda: "https://news.ycombinator.com/item?id=%d" % R.randint(3 * 10 ** 7, 5 * 10 ** 7),
              lambda: "https://www.amazon.de/dp/B0%s" % rs(UP + DIG, 8),
              lambda: "https://www.reddit.com/r/rust/comments/%s/%s/" % (rs(B36, 7), pick(["async_traits_are_stable", "help_with_lifetimes"])),
              lambda: "https://www.google.com/maps/place/?q=place_id:ChIJ%s" % rs_mixed(ALNUM + "_-", 23),
              lambda: "https://api.github.com/repos/%s/pulls/%d/files" % (repo(), R.randint(1, 9000)),
              lambda: "https://en.wikipedia.org/wiki/%s" % pick(["Luhn_algorithm", "Base64", "Domain_Name_System", "Bitcoin"]),
              lambda: "https://pypi.org/pypi/%s/%s/json" % (pick(["requests", "numpy", "boto3"]), semver()),
              lambda: "https://registry.npmjs.org/%s/-/%s-%s.tgz" % ((lambda n: (n, n))(pick(["react", "lodash", "express"])) + (semver(),)),
              lambda: "https://medium.com/@%s/%s-%s" % (person(), pick(["scaling-postgres", "why-we-left-kubernetes"]), rs(HEXL, 12)),
              lambda: "https://www.linkedin.com/in/%s-%s-%s/" % (person(), pick(SURN), rs(HEXL, 8)),
              lambda: "https://imgur.com/a/%s" % rs_mixed(ALNUM, 7),
              lambda: "https://unsplash.com/photos/%s-%s" % (pick(["mountain-lake", "city-night"]), rs_mixed(ALNUM + "_-", 11)),
              lambda: "https://api.weather.gov/points/%.4f,%.4f" % (R.uniform(25, 48), R.uniform(-120, -70))]:
        N("ordinary-api-url", "url", f)


def gen_neg_misc():
    mac = lambda: ":".join("%02x" % x for x in rbytes(6))
    for f in [lambda: (jdump({"device": "printer-2f", "mac": mac(), "ip": "10.0.%d.%d" % (R.randint(0, 9), R.randint(2, 250))}), "application/json"),
              lambda: ("interface eth0\n  hwaddr %s\n" % mac().upper(), "text/plain")]:
        N("mac-address", "body", f)
    N("mac-address", "url", lambda: "https://%s/api/devices/%s/status" % (corp_host(), mac().replace(":", "-")))
    for f in [lambda: "http://[2001:db8:%x:%x::%x]:8080/health" % (R.randint(0, 65535), R.randint(0, 65535), R.randint(1, 65535)),
              lambda: "https://%s/geo?ip=%s" % (corp_host(), pct("2a02:%x:%x:%x::1" % (R.randint(0, 65535), R.randint(0, 65535), R.randint(0, 65535))))]:
        N("ip-address", "url", f)
    N("ip-address", "body", lambda: (jdump({"client_ip": "2001:db8:%x::%x" % (R.randint(0, 65535), R.randint(1, 65535)), "forwarded": ip4()}), "application/json"))
    N("semver", "body", lambda: (jdump({"dependencies": {"react": "^18.%d.%d" % (R.randint(0, 3), R.randint(0, 9)), "next": "14.%d.%d" % (R.randint(0, 2), R.randint(0, 9)), "typescript": "~5.%d.%d" % (R.randint(0, 6), R.randint(0, 5))}}), "application/json"))
    N("semver", "url", lambda: "https://github.com/%s/releases/tag/v%s-rc.%d" % (repo(), semver(), R.randint(1, 9)))
    N("semver", "header", lambda: "X-Client-Version: %s+build.%d.%s" % (semver(), R.randint(1, 9999), rs(HEXL, 7)))
    N("css-color", "body", lambda: (":root { --primary: #%s; --accent: #%s; --bg: rgba(%d, %d, %d, 0.8); }\n" % (rs(HEXL, 6), rs(HEXL, 6), R.randint(0, 255), R.randint(0, 255), R.randint(0, 255)), "text/css"))
    N("css-color", "body", lambda: (jdump({"theme": {"colors": {c: "#" + rs(HEXU, 6) for c in ("primary", "secondary", "surface", "error", "onPrimary")}}}), "application/json"))
    for s in ["Hello from the release pipeline, everything passed.", "meeting moved to 3pm, room B2", "version=3.2.1;channel=stable"]:
        N("base64-plain-text", "body", lambda s=s: (jdump({"note": b64s(s)}), "application/json"))
    N("base64-plain-text", "url", lambda: "https://%s/share?msg=%s" % (corp_host(), b64u("see you at the offsite on friday")))


def build_negatives():
    gen_neg_uuid()
    gen_neg_git()
    gen_neg_sha256()
    gen_neg_assets()
    gen_neg_docs()
    gen_neg_cursors()
    gen_neg_images()
    gen_neg_hostnames()
    gen_neg_orders()
    gen_neg_phones()
    gen_neg_timestamps()
    gen_neg_luhn_invalid()
    gen_neg_placeholders()
    gen_neg_lorem()
    gen_neg_code()
    gen_neg_pubkeys()
    gen_neg_tracking()
    gen_neg_bad_btc()
    gen_neg_bad_iban()
    gen_neg_short()
    gen_neg_headers()
    gen_neg_public_ids()
    gen_neg_masked()
    gen_neg_prose()
    gen_neg_compressed()
    gen_neg_api_urls()
    gen_neg_misc()


# ================================================================ output
def validate_all():
    errors = []
    for c in POS:
        for e in check_positive(c):
            errors.append((c.id, c.expect, c.form, e))
    for c in NEG:
        for e in structural_errors(c):
            errors.append((c.id, c.expect, c.form, e))
        if c.raw is None or not (c.ct or "").startswith("image/"):
            leaks = negative_leaks(c.plain())
            if leaks:
                errors.append((c.id, c.expect, c.form, "negative leaks %r" % leaks[:3]))
    ids = [c.id for c in POS + NEG]
    if len(ids) != len(set(ids)):
        errors.append((None, None, None, "duplicate ids"))
    texts = collections.Counter(json.dumps({k: v for k, v in c.record().items() if k != "id"}, sort_keys=True) for c in POS + NEG)
    dups = [t for t, n in texts.items() if n > 1]
    if dups:
        errors.append((None, None, None, "%d duplicated cases" % len(dups)))
    return errors


def write_jsonl(path, cases):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(json.dumps(c.record(), ensure_ascii=False) + "\n")


def reread_check(path, label, prefix, n):
    allowed = {"id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"}
    seen = set()
    cnt = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            assert set(o) <= allowed, o.keys()
            assert {"id", "label", "expect", "where"} <= set(o)
            assert all(isinstance(v, str) for v in o.values())
            assert o["label"] == label
            assert re.fullmatch(prefix + r"-\d{4}", o["id"]) and o["id"] not in seen
            assert ("text" in o) != ("base64" in o)
            assert o.get("content_encoding") in (None, "gzip", "deflate")
            seen.add(o["id"])
            cnt += 1
    assert cnt == n, (cnt, n)


def table(rows, head):
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(out)


POS_CLASS_NOTES = {
    "github-pat": "`ghp_` classic PATs (30 random + 6-char CRC32/base62 tail computed the publicly described way)",
    "github-oauth-or-app-token": "`gho_`, `ghu_`, `ghs_`, `ghr_`",
    "github-fine-grained-pat": "`github_pat_` + 22 + `_` + 59",
    "gitlab-pat": "`glpat-` + 20",
    "slack-bot-token": "`xoxb-digits-digits-24`",
    "slack-user-token": "`xoxp-d-d-d-32hex`",
    "slack-webhook": "`hooks.slack.com/services/T…/B…/…` URLs",
    "stripe-secret-key": "`sk_live_` (24 or 99 chars); docs test key",
    "stripe-restricted-key": "`rk_live_`",
    "openai-api-key": "legacy `sk-…T3BlbkFJ…`",
    "openai-project-key": "`sk-proj-`, `sk-svcacct-`",
    "anthropic-api-key": "`sk-ant-api03-…AA`, `sk-ant-admin01-…AA`",
    "huggingface-token": "`hf_` + 34 letters",
    "npm-token": "`npm_` + 36",
    "sendgrid-api-key": "`SG.22.43`",
    "aws-access-key-id": "`AKIA`/`ASIA` + 16; also inside presigned-URL `X-Amz-Credential` and as a lower-cased DNS label",
    "aws-secret-access-key": "40-char secret next to its name (env, ini, STS JSON, URL query)",
    "google-api-key": "`AIzaSy` + 33",
    "twilio-api-key": "`SK` + 32 hex",
    "twilio-account-credentials": "`AC` SID + 32-hex auth token together",
    "mailgun-api-key": "`key-` + 32 hex, and the newer `hex32-hex8-hex8` under a Mailgun name/URL",
    "square-token": "`EAAA…`, `sq0atp-`, `sq0csp-`",
    "telegram-bot-token": "`<bot id>:AA…` (mostly in `api.telegram.org/bot…` URLs)",
    "discord-bot-token": "base64(user id).6.27/38, `Authorization: Bot`",
    "discord-webhook": "`discord.com/api/webhooks/<id>/<68>`",
    "shopify-token": "`shpat_`/`shpca_`/`shppa_`/`shpss_` + 32 hex",
    "digitalocean-token": "`dop_v1_`/`doo_v1_`/`dor_v1_` + 64 hex",
    "azure-sas-token": "account and service SAS query strings (`sig=`)",
    "azure-storage-connection-string": "`AccountKey=` connection strings; the Azurite dev key",
    "jwt": "HS256/HS512/RS256/ES256 JWTs and `dir`/A256GCM JWEs; the jwt.io sample",
    "basic-auth": "http(s) URL userinfo, `Authorization`/`Proxy-Authorization: Basic`, curl -u, .netrc, HAR",
    "bearer-token": "opaque bearer tokens (random, hex, PASETO-like `v4.local.`)",
    "password-in-url": "postgres/mysql/mongodb+srv/redis/rediss/amqp/jdbc/mssql URLs with a password",
    "generic-api-key": "random value (hex, base62, base64, one UUID) under a key/secret/token name",
    "generic-password": "random password under a password name, login JSON, ADO.NET connection string",
    "payment-card": "Luhn-valid Visa 13/16/19, Mastercard 51-55 and 2-series, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir; plain/spaces/dashes/dots/NBSP; well-known test cards",
    "iban": "mod-97-valid IBANs from 30+ countries, grouped, compact, lower-case; GB82WEST… example",
    "bitcoin-address": "base58check P2PKH/P2SH, bech32 P2WPKH/P2WSH, bech32m P2TR (some upper-case); genesis and BIP-173 examples",
    "ethereum-address": "EIP-55 checksummed and lower-case `0x`+40 hex; EIP-55 sample",
    "high-entropy": "random base62/base64(url) in URL path segments, file names, query values, long random subdomain labels of PaaS/tunnel hosts, custom headers",
    "dns-exfiltration": "hex/base32/base64url data split over several labels, mixed encodings, a single long base32 label, sequence-numbered chunks, under OAST/dnslog-style or cheap-TLD domains",
    "delimited-hex": "20-40 random bytes (and user:password pairs) with `-`, `:`, space, `,`, `\\x`, `0x`, `0x, ` delimiters; an xxd-style dump of a credentials line",
}


ENC_PARTS = set(INNER_MODES + ESC_MODES + URL_MODES + ["b64hdr", "cookie_b64", "dsn"])


def is_encoded(c):
    if c.expect in ("dns-exfiltration", "delimited-hex"):
        return False
    if c.ce:
        return True
    f = c.form.split("+")[0]
    if f == "header/basic" and c.expect != "basic-auth":
        return True
    return any(p in ENC_PARTS for p in re.split(r"[/-]", f))


def readme():
    P = collections.Counter(c.expect for c in POS)
    Nn = collections.Counter(c.expect for c in NEG)
    pw = collections.Counter(c.where for c in POS)
    nw = collections.Counter(c.where for c in NEG)
    pce = collections.Counter(c.ce for c in POS if c.ce)
    nce = collections.Counter(c.ce for c in NEG if c.ce)
    nimg = sum(1 for c in NEG if c.raw is not None and (c.ct or "").startswith("image/"))
    doc = collections.Counter(c.expect for c in POS if "doc-example" in c.tags)
    nm = collections.Counter(c.expect for c in POS if "near-miss" in c.tags)
    enc_pos = sum(1 for c in POS if is_encoded(c))
    pw_rows = [(w, pw[w], nw[w]) for w in ("body", "url", "header", "hostname")]
    pos_rows = [(k, P[k], pw_by(POS, k), doc.get(k, 0), nm.get(k, 0), POS_CLASS_NOTES.get(k, "")) for k in sorted(P)]
    neg_rows = [(k, Nn[k], pw_by(NEG, k)) for k in sorted(Nn)]
    return """# Held-out detector corpus, split 3 (`test3`)

**This split is held out. Never tune on it.** Do not edit these files to make a rule pass,
do not copy cases into a training or tuning corpus, and do not change labels after looking at
detector output. **Report results by class only** (hit/miss counts per `expect` and per `where`),
never by quoting individual cases. Once a split has been used to tune rules it is spent, and the
next person should write a new one the same way.

## Files

| file | lines | label |
| --- | --- | --- |
| `positives.jsonl` | {np} | `positive`: egress the detector should flag |
| `negatives.jsonl` | {nn} | `negative`: benign traffic that looks risky |
| `generate.py` | | the seeded generator that wrote both files and this README |

Each line is one JSON object with only these keys: `id` (`t3-pos-NNNN` / `t3-neg-NNNN`),
`label`, `expect` (for a positive, the credential or data class; for a negative, the benign
category), `where` (`body`, `url`, `header`, `hostname`), an optional `content_type`, an
optional `content_encoding` (`gzip` or `deflate`, only together with `base64`), and exactly one
of `text` or `base64`. A `header` case is one `Name: value` line, a `url` case is an absolute
http(s) URL, and a `hostname` case is a bare hostname. `deflate` bodies are zlib-wrapped
(RFC 1950). Only gzip and deflate are used, because the generator is stdlib-only (no br/zstd).

Split by `where`:

{wtab}

Compressed bodies: positives {pce}; negatives {nce}, plus {nimg} raw image bodies (`base64`
with an `image/*` content type and no `content_encoding`).

## How the cases were generated

`generate.py` (Python 3 standard library only) wrote everything, with a single
`random.Random(SEED)`, **SEED = {seed}** (`0x7E5732027`). Every token body, card number, IBAN
BBAN, address payload, password, hash, ID, and every choice of container, field name and
encoding is drawn from that generator at generation time, so re-running `nice python3
generate.py` with the same seed (and Python 3.11) rewrites these files identically; a different
seed gives a fresh split of the same kind. Records are shuffled within each file before ids are
assigned. The files here are the reference.

The author wrote the generator without reading the detector rules or tests, any existing corpus
(`shared/corpus/*.jsonl`, `spent/`, `test/`), or any earlier split's generator; only the line
format was taken from the test-split README. Formats come from public knowledge: vendors'
documented token prefixes and lengths, documented example values, published checksum schemes
(Luhn, ISO 13616 mod-97, base58check, BIP-173/BIP-350 bech32/bech32m, EIP-55 with a pure-Python
Keccak-256), and public descriptions of DNS tunnelling and encoding chains. No detector was run
on the cases before they were fixed.

Surrounding contexts include JSON (flat, nested, camelCase), form bodies, `.env`, YAML (plain,
Kubernetes, compose), TOML, INI, XML/.NET appSettings, Java properties, CSV, text and JSON log
lines, NDJSON, zsh/bash history, `docker run -e`, Python/JS snippets, chat messages in about ten
languages, LLM request bodies, GitHub issue bodies, GraphQL variables, Sentry events, Terraform
vars, SQL, multipart uploads, HAR entries, `.git-credentials`, git config, `.npmrc`, Docker
`config.json`, `~/.aws/credentials`, STS responses, MIME mail with quoted-printable, HTML forms,
cookies and many header names.

About {encpos} positives (not counting the DNS and delimited-hex classes, which are encodings by
nature) carry their secret through at least one encoding. A sweep makes sure every encoding
below appears at least twice, on randomly chosen token classes: base64 (std/url-safe),
hex (lower/upper), base64 of gzip or zlib, base64 of URL-encoding, base64 of base64, hex of
base64, URL-encoding of base64, full percent-encoding, a redirect parameter holding a whole
URL-encoded URL (once or twice), JSON `\\uXXXX` escapes (every or every other character),
JSON `\\/` escapes, HTML numeric entities, quoted-printable with a soft line break inside the
value, `Authorization: Basic` wrapping, base64 JSON in cookies, or a gzip/deflate body.

Every positive was checked mechanically before writing: the recorded secret value is recovered
from the case by generic decoding (percent, JSON, HTML, quoted-printable, base64/hex runs,
gzip/zlib), and financial values pass their checksum (Luhn, mod-97, base58check/bech32(m), `0x`+40
hex); DNS cases decode back to the exfiltrated bytes. Every negative was checked to contain, in
its raw, percent-decoded, HTML-unescaped and JSON-decoded forms, no Luhn-valid 13-19 digit run
(plain or grouped), no mod-97-valid IBAN, no valid base58check or `bc1` address, no `0x`+40 hex,
and no vendor prefix followed by a plausible body (a tail of one repeated character, `${{VAR}}`,
`<x>`, `{{{{x}}}}` or `***` counts as a placeholder). Cases that failed were redrawn. Structural
checks: one-line headers with token-character names, http(s) URLs with a host and no
whitespace/fragment, hostnames with 1-63-character labels of `[A-Za-z0-9_-]` and at most 253
characters, strict base64, decompressible bodies, UTF-8 text.

## Positive classes

`doc` = documented public example values (blocked at egress anyway); `near` = tokens after an
unmistakable prefix whose body is a few characters too short or too long.

{ptab}

## Negative classes

{ntab}

Some negatives sit close to positives on purpose: base64 PNGs whose IHDR bytes encode as `EAAA…`,
32-hex EKS/Elastic Cloud host labels and `ip6.arpa` nibble names, 21-char Next.js build ids,
Google Docs/Forms ids, `gclid`/`fbclid` values, Spotify/YouTube ids, JSON cursors that start with
`eyJ`, SRI/sha512 integrity strings, SSH/JWK public keys, colon-hex certificate fingerprints
(16/20/32 bytes; the colon-delimited positives use other lengths), `AKIAXXXXXXXXXXXXXXXX` and
`ghp_xxxx…` placeholders, Twilio `SM…` message SIDs, Stripe `pk_live_` publishable keys, and
16-digit numbers that fail Luhn in card-like fields.

## Deliberately left out

* No PEM or other armoured key material of any kind (no `BEGIN … KEY` lines), no OpenSSH
  private keys, seed phrases or WIF keys.
* No real credentials: every token body is fresh random data or a public documented example.
* Pure-filler values (`ghp_xxxx…`, `AKIAXXXX…`, `sk_test_XXXX…`, `xoxb-your-token-here`) are
  placeholders, not positives. Stripe publishable keys, Sentry public keys in `baggage`, and
  Google OAuth client ids are public by design and appear only as negatives.

## Known limits

* GitHub/npm tails use CRC32 of the 30-char body, base62 (`0-9A-Za-z`) left-padded to 6, as
  publicly described; not confirmed bit-for-bit against the vendors. Labels do not depend on it.
* Formats with a weak or no prefix (AWS secret keys, Twilio auth tokens, newer Mailgun keys,
  generic keys/passwords, opaque bearer tokens) are only detectable from the surrounding name,
  header or URL; every such case keeps that context.
* IBAN BBANs follow each country's length and character class, without national check digits.
* `high-entropy`, `dns-exfiltration` and `delimited-hex` are judgement classes: the data is random
  bytes (or an encoded secret) with no vendor shape. Their negatives counterparts are the hashes,
  ids and fingerprints listed above.
""".format(np=len(POS), nn=len(NEG), seed=SEED, wtab=table(pw_rows, ["where", "positives", "negatives"]),
           pce=", ".join("%s %d" % kv for kv in sorted(pce.items())) or "none",
           nce=", ".join("%s %d" % kv for kv in sorted(nce.items())) or "none", nimg=nimg, encpos=enc_pos,
           ptab=table(pos_rows, ["expect", "n", "by where", "doc", "near", "what"]),
           ntab=table(neg_rows, ["expect", "n", "by where"]))


def pw_by(cases, k):
    w = collections.Counter(c.where for c in cases if c.expect == k)
    return ", ".join("%s %d" % (x, w[x]) for x in ("body", "url", "header", "hostname") if w[x])


def main():
    self_test()
    build_positives()
    build_negatives()
    R.shuffle(POS)
    R.shuffle(NEG)
    for i, c in enumerate(POS, 1):
        c.id = "t3-pos-%04d" % i
    for i, c in enumerate(NEG, 1):
        c.id = "t3-neg-%04d" % i
    errs = validate_all()
    if errs:
        for e in errs[:50]:
            print("ERROR", e, file=sys.stderr)
        sys.exit(1)
    write_jsonl(os.path.join(OUT, "positives.jsonl"), POS)
    write_jsonl(os.path.join(OUT, "negatives.jsonl"), NEG)
    reread_check(os.path.join(OUT, "positives.jsonl"), "positive", "t3-pos", len(POS))
    reread_check(os.path.join(OUT, "negatives.jsonl"), "negative", "t3-neg", len(NEG))
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme())
    print("positives %d, negatives %d, seed %d" % (len(POS), len(NEG), SEED))


if __name__ == "__main__":
    main()
