#!/usr/bin/env python3
"""Held-out test corpus, split 5, for an egress secret-detection engine.

Deterministic: one random.Random(SEED); all randomness comes from it.  Gzip is
written with mtime=0.  Running this twice gives byte-identical files.

    python3 generate.py          # write positives.jsonl + negatives.jsonl, then check
    python3 generate.py --check  # regenerate in memory, compare to files, check
    python3 generate.py --stats  # print markdown count tables (after a check)

Python 3 standard library only.  Never tune a detector on this split.
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
import struct
import sys
import urllib.parse as up
import uuid
import zlib

SEED = 27182818
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
POS_FILE = os.path.join(HERE, "positives.jsonl")
NEG_FILE = os.path.join(HERE, "negatives.jsonl")

DIG = string.digits
LOW = string.ascii_lowercase
UPP = string.ascii_uppercase
ALNUM = UPP + LOW + DIG
B62 = DIG + UPP + LOW
HEXL = "0123456789abcdef"
HEXU = HEXL.upper()
B64A = UPP + LOW + DIG + "+/"
B64U = UPP + LOW + DIG + "-_"
B32A = UPP + "234567"
B32L = LOW + "234567"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
PH = "@@VAL@@"  # placeholder substituted after json.dumps


# --------------------------------------------------------------------------
# random helpers (all from R)
# --------------------------------------------------------------------------
def rs(alpha, n):
    return "".join(R.choice(alpha) for _ in range(n))


def rbytes(n):
    return bytes(R.randrange(256) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


class Cycler:
    """Round-robin over a shuffled list, reshuffled after each pass."""

    def __init__(self, items):
        self.items = list(items)
        R.shuffle(self.items)
        self.i = 0

    def next(self):
        x = self.items[self.i]
        self.i += 1
        if self.i == len(self.items):
            self.i = 0
            R.shuffle(self.items)
        return x


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def b64u(b, pad=False):
    if isinstance(b, str):
        b = b.encode()
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def b32(b, lower=False, pad=False):
    if isinstance(b, str):
        b = b.encode()
    s = base64.b32encode(b).decode()
    if not pad:
        s = s.rstrip("=")
    return s.lower() if lower else s


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def jdump(obj, indent=None):
    if indent is None:
        return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    return json.dumps(obj, ensure_ascii=False, indent=indent)


def jc(obj):
    return json.dumps(obj, separators=(",", ":"))


def camel(s):
    parts = re.split(r"[_\-]", s.lower())
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def pct_all(s):
    return "".join("%%%02X" % b for b in s.encode())


def q(s):
    return up.quote(s, safe="")


def shannon(s):
    if not s:
        return 0.0
    c = {}
    for ch in s:
        c[ch] = c.get(ch, 0) + 1
    n = len(s)
    return -sum(v / n * math.log2(v / n) for v in c.values())


# --------------------------------------------------------------------------
# checksums: Luhn, IBAN, base58check, bech32/bech32m, keccak/EIP-55, base62
# --------------------------------------------------------------------------
def luhn_ok(d):
    if not d.isdigit():
        return False
    s = 0
    for i, ch in enumerate(reversed(d)):
        x = ord(ch) - 48
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


IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
    "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def _iban_num(s):
    return int("".join(str(int(ch, 36)) for ch in s))


def iban_ok(s):
    s = s.replace(" ", "").upper()
    if len(s) < 15 or not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s):
        return False
    if IBAN_LEN.get(s[:2]) != len(s):
        return False
    return _iban_num(s[4:] + s[:4]) % 97 == 1


def iban_make(cc, bban):
    chk = 98 - _iban_num(bban + cc + "00") % 97
    return "%s%02d%s" % (cc, chk, bban)


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


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
    for ch in s:
        i = B58.find(ch)
        if i < 0:
            return None
        n = n * 58 + i
    full = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\0" * pad + full


def b58check(ver, payload):
    d = bytes([ver]) + payload
    return b58enc(d + sha256d(d)[:4])


def btc_b58_ok(s):
    d = b58dec(s)
    if d is None or len(d) != 25:
        return False
    if sha256d(d[:21])[:4] != d[21:]:
        return False
    return d[0] in (0x00, 0x05)


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


def _hrp_expand(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def bech32_encode(hrp, data, m=False):
    const = 0x2BC830A3 if m else 1
    pm = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH[d] for d in data + chk)


def bech32_decode(s):
    """Return (hrp, data, variant) or None.  variant 'bech32' / 'bech32m'."""
    if s.lower() != s and s.upper() != s:
        return None
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s) or len(s) > 90:
        return None
    hrp, rest = s[:pos], s[pos + 1:]
    data = []
    for ch in rest:
        i = BECH.find(ch)
        if i < 0:
            return None
        data.append(i)
    pm = _polymod(_hrp_expand(hrp) + data)
    if pm == 1:
        return hrp, data[:-6], "bech32"
    if pm == 0x2BC830A3:
        return hrp, data[:-6], "bech32m"
    return None


def convertbits(data, frombits, tobits, pad=True):
    acc = 0
    bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    for v in data:
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad and bits:
        ret.append((acc << (tobits - bits)) & maxv)
    elif not pad and (bits >= frombits or ((acc << (tobits - bits)) & maxv)):
        return None
    return ret


def segwit_addr(hrp, ver, prog):
    return bech32_encode(hrp, [ver] + convertbits(prog, 8, 5), m=(ver != 0))


def btc_bech_ok(s):
    d = bech32_decode(s)
    if not d:
        return False
    hrp, data, var = d
    if hrp not in ("bc", "tb") or not data:
        return False
    ver = data[0]
    prog = convertbits(data[1:], 5, 8, pad=False)
    if prog is None or ver > 16 or not (2 <= len(prog) <= 40):
        return False
    if ver == 0 and len(prog) not in (20, 32):
        return False
    return var == ("bech32" if ver == 0 else "bech32m")


def btc_ok(s):
    if s[:3].lower() in ("bc1", "tb1"):
        return btc_bech_ok(s)
    return btc_b58_ok(s)


# keccak-256 (pre-NIST padding, as used by Ethereum)
def _keccak_consts():
    rc = []
    for ir in range(24):
        v = 0
        for j in range(7):
            t = j + 7 * ir
            r = 1
            for _ in range(t % 255):
                r <<= 1
                if r & 0x100:
                    r ^= 0x171
            if r & 1:
                v |= 1 << ((1 << j) - 1)
        rc.append(v)
    rot = [[0] * 5 for _ in range(5)]
    x, y = 1, 0
    for t in range(24):
        rot[x][y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return rc, rot


_KRC, _KROT = _keccak_consts()
_M64 = (1 << 64) - 1


def _rol(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(A):
    for rnd in range(24):
        C = [A[x][0] ^ A[x][1] ^ A[x][2] ^ A[x][3] ^ A[x][4] for x in range(5)]
        D = [C[(x - 1) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [[A[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        B = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                B[y][(2 * x + 3 * y) % 5] = _rol(A[x][y], _KROT[x][y])
        A = [[B[x][y] ^ ((~B[(x + 1) % 5][y]) & B[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        A[0][0] ^= _KRC[rnd]
    return A


def keccak256(data):
    rate = 136
    p = bytearray(data) + b"\x01"
    while len(p) % rate:
        p += b"\x00"
    p[-1] |= 0x80
    A = [[0] * 5 for _ in range(5)]
    for off in range(0, len(p), rate):
        blk = p[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            A[x][y] ^= int.from_bytes(blk[8 * i:8 * i + 8], "little")
        A = _keccak_f(A)
    out = b""
    for i in range(4):
        out += A[i % 5][i // 5].to_bytes(8, "little")
    return out


def eip55(addr_hex40):
    a = addr_hex40.lower()
    h = keccak256(a.encode()).hex()
    return "0x" + "".join(c.upper() if c in "abcdef" and int(h[i], 16) >= 8 else c for i, c in enumerate(a))


def eth_ok(s):
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", s):
        return False
    body = s[2:]
    if body == body.lower() or body == body.upper():
        return True
    return eip55(body) == s


def base62(n, width):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
for _v in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
           "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"):
    assert eip55(_v[2:]) == _v, _v
assert btc_ok("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
assert btc_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
assert btc_ok("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
assert iban_ok("DE89370400440532013000") and iban_ok("GB82WEST12345698765432")


# --------------------------------------------------------------------------
# decoding layers ("views").  A positive records the layers that lead from the
# line's content to a view containing its secret; the checker replays them.
# --------------------------------------------------------------------------
SEG_B64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
SEG_HEX = re.compile(r"[0-9a-fA-F]{16,}")


def _try_b64(s):
    t = s.rstrip("=")
    if len(t) % 4 == 1 or len(t) < 8:
        return None
    t = t.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(t + "=" * (-len(t) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_candidates(v):
    for m in SEG_B64.finditer(v):
        tok = m.group(0)
        yield tok
        for p in re.split(r"[/.]", tok):
            if len(p) >= 12 and p != tok:
                yield p


def op_b64seg(v):
    out = []
    for c in _b64_candidates(v):
        d = _try_b64(c)
        if d:
            out.append(d.decode("latin-1"))
    return v + "\n" + "\n".join(out)


def _inflate(d):
    try:
        if d[:2] == b"\x1f\x8b":
            return gzip.decompress(d)
        if d[:1] == b"\x78":
            return zlib.decompress(d)
    except (OSError, zlib.error, EOFError):
        return None
    return None


def op_gzb64seg(v):
    out = []
    for c in _b64_candidates(v):
        d = _try_b64(c)
        if d:
            x = _inflate(d)
            if x is not None:
                out.append(_text(x))
    return v + "\n" + "\n".join(out)


def op_hexseg(v):
    out = []
    for m in SEG_HEX.finditer(v):
        h = m.group(0)
        if len(h) % 2:
            h = h[:-1]
        out.append(bytes.fromhex(h).decode("latin-1"))
    return v + "\n" + "\n".join(out)


def op_jsonesc(v):
    v = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), v)
    return v.replace("\\/", "/")


def op_qp(v):
    return quopri.decodestring(v.encode("utf-8")).decode("utf-8", "replace")


def op_strcat(v):
    v = re.sub(r"([\"'])\s*(?:\+|\.|&|\.\.)\s*\1", "", v)
    v = re.sub(r"\"\s*\n?\s*\"", "", v)
    return v


def _dec(enc, s):
    if enc == "hex":
        return bytes.fromhex(s)
    if enc == "b32":
        s = s.upper()
        return base64.b32decode(s + "=" * (-len(s) % 8))
    if enc == "b64u":
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    raise ValueError(enc)


def op_dns(v, n, encs, strip=None):
    """Decode the first n labels of a hostname (or of a URL's host)."""
    host = v
    if "://" in v:
        host = up.urlsplit(v).hostname or ""
    labels = host.split(".")[:n]
    if strip:
        labels = [re.sub(strip, "", x) for x in labels]
    if isinstance(encs, str):
        data = _dec(encs, "".join(labels))
    else:
        data = b"".join(_dec(e, x) for e, x in zip(encs, labels))
    return v + "\n" + data.decode("latin-1")


OPS = {
    "pct": up.unquote,
    "form": up.unquote_plus,
    "html": html.unescape,
    "jsonesc": op_jsonesc,
    "qp": op_qp,
    "b64seg": op_b64seg,
    "gzb64seg": op_gzb64seg,
    "hexseg": op_hexseg,
    "strcat": op_strcat,
    "upper": str.upper,
    "lower": str.lower,
}


def apply_layers(v, layers):
    for lay in layers:
        if isinstance(lay, (list, tuple)):
            if lay[0] == "dns":
                v = op_dns(v, *lay[1:])
            else:
                raise ValueError(lay)
        else:
            v = OPS[lay](v)
    return v


def _text(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def content_of(rec):
    """The decoded content of a line (decompressed body, as text)."""
    if "text" in rec:
        return rec["text"]
    raw = base64.b64decode(rec["base64"], validate=True)
    ce = rec.get("content_encoding")
    if ce == "gzip":
        raw = gzip.decompress(raw)
    elif ce == "deflate":
        raw = zlib.decompress(raw)
    return _text(raw)


# --------------------------------------------------------------------------
# validators for checksummed / shaped positives
# --------------------------------------------------------------------------
def v_card(s):
    d = re.sub(r"[ \-]", "", s)
    return 13 <= len(d) <= 19 and luhn_ok(d) and d[0] in "2345639"


def v_iban(s):
    return iban_ok(s)


def v_btc(s):
    return btc_ok(s)


def v_eth(s):
    return eth_ok(s)


def v_jwt(s):
    parts = s.split(".")
    if len(parts) != 3:
        return False
    try:
        h = json.loads(_try_b64(parts[0]))
        json.loads(_try_b64(parts[1]))
    except (TypeError, ValueError):
        return False
    return "alg" in h and len(parts[2]) >= 16


def v_age(s):
    d = bech32_decode(s)
    return bool(d) and d[0] == "age-secret-key-" and d[2] == "bech32" and \
        len(convertbits(d[1], 5, 8, pad=False) or []) == 32


def _decode_any(s):
    if re.fullmatch(r"[0-9a-fA-F]+", s) and len(s) % 2 == 0:
        return bytes.fromhex(s)
    if re.fullmatch(r"[A-Z2-7]+=*|[a-z2-7]+=*", s):
        try:
            t = s.upper().rstrip("=")
            return base64.b32decode(t + "=" * (-len(t) % 8))
        except (binascii.Error, ValueError):
            pass
    return _try_b64(s)


def v_highentropy(s):
    d = _decode_any(s)
    return d is not None and 20 <= len(d) <= 60 and len(set(d)) >= min(len(d) * 0.6, 24)


def v_delimhex(s):
    t = s
    if "\\x" in t:
        hx = re.findall(r"\\x([0-9a-fA-F]{2})", t)
    elif "0x" in t:
        hx = re.findall(r"0x([0-9a-fA-F]{2})", t)
    else:
        hx = re.split(r", |[:\- ,]", t)
        if not all(re.fullmatch(r"[0-9a-fA-F]{2}", h) for h in hx):
            return False
    return 16 <= len(hx) <= 48


def v_basic(s):
    return ":" in s and len(s.split(":", 1)[1]) >= 6


VALIDATORS = {"card": v_card, "iban": v_iban, "btc": v_btc, "eth": v_eth, "jwt": v_jwt,
              "age": v_age, "highentropy": v_highentropy, "delimhex": v_delimhex,
              "basic": v_basic}

# --------------------------------------------------------------------------
# well-formedness
# --------------------------------------------------------------------------
LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
URL_RE = re.compile(r"^https?://[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+$")
HDR_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x21-\x7e][\x20-\x7e]*$")


def host_ok(h):
    if not h or len(h) > 253 or h.endswith("."):
        return False
    labels = h.split(".")
    if len(labels) < 2 or not all(LABEL_RE.match(x) for x in labels):
        return False
    return not labels[-1].isdigit()


def url_ok(u):
    if not URL_RE.match(u) or re.search(r"%(?![0-9A-Fa-f]{2})", u):
        return False
    try:
        p = up.urlsplit(u)
        p.port
    except ValueError:
        return False
    return p.scheme in ("http", "https") and host_ok(p.hostname or "")


def header_ok(h):
    return bool(HDR_RE.match(h)) and h.isascii()


# --------------------------------------------------------------------------
# accidental-secret scanner for negatives (run on every decoding view)
# --------------------------------------------------------------------------
_VENDOR = [
    r"gh[pousr]_[A-Za-z0-9]{30,}", r"github_pat_[A-Za-z0-9_]{40,}",
    r"gl(?:pat|dt|rt|ptt|agent|soat|ft|cbt|imt|oas|ffct)-[A-Za-z0-9_\-]{20,}", r"GR1348941[A-Za-z0-9_\-]{20}",
    r"xox[abposre]-[A-Za-z0-9\-]{10,}", r"xoxe\.xox[bp]-", r"xapp-\d-[A-Za-z0-9\-]{10,}",
    r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", r"whsec_[A-Za-z0-9+/=]{20,}",
    r"sk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}", r"T3BlbkFJ",
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}", r"AIza[A-Za-z0-9_\-]{30,}", r"GOCSPX-[A-Za-z0-9_\-]{20,}",
    r"ya29\.[A-Za-z0-9_\-]{20,}", r"1//0[A-Za-z0-9_\-]{20,}", r"IQoJb3JpZ2lu", r"FwoGZXIvYXdz",
    r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}", r"npm_[A-Za-z0-9]{30,}", r"pypi-AgE[A-Za-z0-9_\-]{20,}",
    r"hf_[A-Za-z]{30,}", r"dckr_(?:pat|oat)_[A-Za-z0-9_\-]{20,}", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    r"do[por]_v1_[a-f0-9]{40,}", r"SK[0-9a-f]{32}", r"key-[0-9a-z]{32}", r"hv[sbr]\.[A-Za-z0-9_\-]{20,}",
    r"AccountKey=[A-Za-z0-9+/]{40,}", r"SharedAccessKey=[A-Za-z0-9+/]{20,}", r"sig=[A-Za-z0-9%+/=]{20,}",
    r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,}",
    r"discord(?:app)?\.com/api/webhooks/\d+/", r"hooks\.slack\.com/(?:services|workflows|triggers)/",
    r"\d{6,10}:A[A-Za-z0-9_\-]{30,}", r"bot\d{6,10}:[A-Za-z0-9_\-]{30,}", r"EAAA[A-Za-z0-9_\-]{40,}", r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{20,}",
    r"PMAK-[a-fA-F0-9]{20,}", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    r"ATATT3[A-Za-z0-9_=\-]{40,}", r"lin_(?:api|oauth)_[A-Za-z0-9]{30,}", r"sntry[su]_[A-Za-z0-9+/=_]{30,}",
    r"glc_[A-Za-z0-9+/=]{30,}", r"glsa_[A-Za-z0-9]{20,}", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9.]{20,}",
    r"nf[pcou]_[A-Za-z0-9]{30,}", r"NR(?:AK|II|JS|AA)-[A-Za-z0-9]{15,}", r"[a-fA-F0-9]{36}NRAL",
    r"dapi[a-f0-9]{32}", r"pul-[a-f0-9]{40}", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-]{40,}",
    r"tskey-[a-z]+-[A-Za-z0-9\-]{20,}", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-]{30,}", r"fo1_[A-Za-z0-9_\-]{30,}",
    r"fm[12]_[A-Za-z0-9+/=]{40,}", r"r8_[A-Za-z0-9]{30,}", r"gsk_[A-Za-z0-9]{40,}", r"pplx-[A-Za-z0-9]{40,}",
    r"lsv2_(?:pt|sk)_[a-f0-9]{20,}", r"sk\.eyJ[A-Za-z0-9_\-]{20,}", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{40,}",
    r"SSWS\s+[A-Za-z0-9_\-]{20,}", r"00[A-Za-z0-9_\-]{40}(?![A-Za-z0-9_\-])", r"HRKU-[A-Za-z0-9_\-]{30,}",
    r"AGE-SECRET-KEY-1[0-9A-Z]{40,}", r"sb_secret_[A-Za-z0-9_\-]{20,}", r"cio[A-Za-z0-9]{32}",
    r"v1\.0-[a-f0-9]{24}-[a-f0-9]{60,}", r"PRIVATE KEY", r"BEGIN OPENSSH", r"AAAA[A-Za-z0-9_\-]{7}:APA91b",
]
VENDOR_RES = [re.compile(r"(?<![A-Za-z0-9])" + p) for p in _VENDOR]

DIGRUN = re.compile(r"(?<![0-9])(?<![0-9][ \-])\d(?:[ \-]?\d){12,18}(?![ \-]?\d)")
IBAN_CAND = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})")
B58_CAND = re.compile(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])")
BECH_CAND = re.compile(r"(?<![A-Za-z0-9])(?:bc1|tb1|BC1|TB1)[A-Za-z0-9]{8,87}(?![A-Za-z0-9])")
ETH_CAND = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
BASIC_CAND = re.compile(r"(?i)\bbasic\s+([A-Za-z0-9+/]{6,}={0,2})")
URLPW_CAND = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]{1,20}://([^\s/@:\"'<>]+):([^\s/@\"'<>]+)@")
AUTH_CAND = re.compile(r"(?i)\b(?:authorization|bearer|token|ssws|bot)\s*[:=]?\s*[\"']?(?:bearer|token|bot|ssws)?\s+([A-Za-z0-9._~+/=\-]{12,})")
FIELD_CAND = re.compile(
    r"(?i)(?<![A-Za-z0-9_.\-])(?=[\"']?([A-Za-z][A-Za-z0-9_.\-]{0,48})[\"']?[ \t]*(?:=>|:=|=|:)[ \t]*[\"']?"
    r"([^\s\"'<>&,;)(\]\[{}|`\\]{1,400}))")
XMLF_CAND = re.compile(r"(?i)<([A-Za-z_:\-]*(?:password|passwd|secret|token|apikey|api_key|credential)[A-Za-z_\-]*)>([^<]{6,200})</\1>")
CURLU_CAND = re.compile(r"(?i)\bcurl\b[^\n]*?\s(?:-u|--user)\s+[\"']?([^\s\"':]+):([^\s\"']+)")
SECRET_SUFFIX = ("password", "passwd", "passwort", "pwd", "secret", "apikey", "accesskey", "secretkey", "applicationkey",
                 "appkey", "subscriptionkey", "licensekey", "ingestkey", "writekey", "servicekey", "masterkey",
                 "privatekey", "accesstoken", "authtoken", "apitoken", "bearertoken", "refreshtoken",
                 "sessiontoken", "clientsecret", "credentials", "credential", "authkey", "signingkey",
                 "encryptionkey", "masterkey", "secrettoken", "privatetoken", "deploytoken")
SECRET_EXACT = ("token", "pass", "auth", "pw", "secret", "password")
DELIM_RES = [re.compile(r"(?i)(?<![0-9a-f])(?:[0-9a-f]{2}%s){15,}[0-9a-f]{2}(?![0-9a-f])" % re.escape(s))
             for s in (":", "-", " ", ",", ", ")] + [
    re.compile(r"(?i)(?:\\x[0-9a-f]{2}){16,}"), re.compile(r"(?i)(?:0x[0-9a-f]{2}[, ]*){16,}")]


def looks_real(v):
    v = up.unquote(v).strip("\"'")
    if len(v) < 8:
        return False
    if re.search(r"\*{3}|[\u2022\u2026]|\.\.\.|xxxx|XXXX|<[^>]*>|\$\{|\$\(|\$[A-Z_]{3,}|\{\{|%[A-Z_]{3,}%|^\[?redacted\]?$", v, re.I):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", v):
        return False
    if not re.search(r"\d", v) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(?:[./:\-][A-Za-z_][A-Za-z0-9_]*)*", v):
        return False
    classes = sum(bool(re.search(p, v)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    if classes < 2:
        return False
    return shannon(v) >= 2.8


def host_label_flags(h):
    out = []
    for lab in h.lower().split("."):
        if len(lab) >= 16 and re.fullmatch(r"[a-z2-7]+", lab) and re.search(r"[2-7]", lab):
            out.append("base32-like label " + lab)
        if len(lab) >= 16 and re.fullmatch(r"[0-9a-f]+", lab):
            out.append("hex label " + lab)
        if re.fullmatch(r"\d{1,3}-(?:[a-z2-7]{12,}|[0-9a-f]{12,})", lab):
            out.append("sequence-numbered chunk " + lab)
    for lab in h.split("."):
        if len(lab) >= 20 and re.search(r"[a-z]", lab) and re.search(r"[A-Z]", lab) and re.search(r"\d", lab) and "-" not in lab[1:-1]:
            out.append("mixed-case random label " + lab)
    return out


def scan_views(base):
    vs = []

    def add(x):
        if x not in vs:
            vs.append(x)
    add(base)
    for f in (up.unquote, lambda x: up.unquote(up.unquote(x)), up.unquote_plus, html.unescape, op_jsonesc, op_qp):
        add(f(base))
    for x in list(vs):
        for g in (op_b64seg, op_hexseg, op_gzb64seg):
            add(g(x))
    for x in list(vs[1:]):
        add(up.unquote(x))
    return vs


def scan_text(v):
    flags = []
    for rx in VENDOR_RES:
        m = rx.search(v)
        if m:
            flags.append("vendor:" + m.group(0)[:40])
    for m in DIGRUN.finditer(v):
        d = re.sub(r"[ \-]", "", m.group(0))
        if luhn_ok(d):
            flags.append("luhn:" + d)
    for src in (v, v.upper()):
        for m in IBAN_CAND.finditer(src):
            s = m.group(1).replace(" ", "")
            L = IBAN_LEN.get(s[:2])
            if L and len(s) >= L and iban_ok(s[:L]):
                flags.append("iban:" + s[:L])
    for m in B58_CAND.finditer(v):
        if btc_b58_ok(m.group(0)):
            flags.append("btc:" + m.group(0))
    for m in BECH_CAND.finditer(v):
        if btc_bech_ok(m.group(0)):
            flags.append("bech32:" + m.group(0))
    for m in ETH_CAND.finditer(v):
        flags.append("eth:" + m.group(0))
    for m in BASIC_CAND.finditer(v):
        d = _try_b64(m.group(1))
        if d and b":" in d and len(d.split(b":", 1)[1]) > 0:
            flags.append("basic:" + m.group(1))
    for m in URLPW_CAND.finditer(v):
        if looks_real(m.group(2)) or len(m.group(2)) >= 6 and not re.search(r"[*<>{}$\u2022]", m.group(2)):
            flags.append("urlpw:" + m.group(0)[:60])
    for m in AUTH_CAND.finditer(v):
        if looks_real(m.group(1)):
            flags.append("auth:" + m.group(1)[:40])
    for m in FIELD_CAND.finditer(v):
        k = re.sub(r"[^a-z0-9]", "", m.group(1).lower())
        if (k in SECRET_EXACT or k.endswith(SECRET_SUFFIX)) and looks_real(m.group(2)):
            flags.append("field:%s=%s" % (m.group(1), m.group(2)[:30]))
    for m in XMLF_CAND.finditer(v):
        if looks_real(html.unescape(m.group(2))):
            flags.append("xmlfield:%s" % m.group(1))
    for m in CURLU_CAND.finditer(v):
        if len(m.group(2)) >= 6:
            flags.append("curl-u:%s" % m.group(1))
    for rx in DELIM_RES:
        m = rx.search(v)
        if m:
            flags.append("delimhex:" + m.group(0)[:40])
    return flags


def scan_case(rec):
    base = content_of(rec)
    flags = []
    if rec["where"] == "hostname":
        flags += host_label_flags(base)
    elif rec["where"] == "url":
        flags += host_label_flags(up.urlsplit(base).hostname or "")
    for v in scan_views(base):
        flags += scan_text(v)
    return sorted(set(flags))


# --------------------------------------------------------------------------
# pools
# --------------------------------------------------------------------------
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
         "oscar", "peggy", "trent", "victor", "walter", "yuki", "lars", "amelie", "chen", "priya", "mateo",
         "sofia", "noah", "ingrid", "tomasz", "aiko", "rahul", "fatima", "jonas"]
ORGS = ["acme", "globex", "initech", "umbrella-labs", "hooli", "vandelay", "starkind", "wayne-ent",
        "cyberdyne", "soylent", "tyrell", "wonka-io", "piedpiper", "blueth", "oceanic"]
PROJ = ["atlas", "orion", "nimbus", "harbor", "quartz", "falcon", "juniper", "maple", "cobalt", "lumen",
        "vertex", "sierra", "tundra", "pioneer", "beacon", "ember", "aurora", "zephyr", "kestrel", "basalt"]
TLDS = ["io", "com", "dev", "net", "co", "app", "cloud", "tech"]


def org():
    return pick(ORGS)


def proj():
    return pick(PROJ)


def user():
    return pick(USERS)


def corp_host():
    return "%s.%s.%s" % (pick(["api", "app", "internal", "portal", "svc", "gw"]), org().replace("-", ""), pick(TLDS))


def ts():
    return R.randint(1693000000, 1735000000)


def iso(t=None):
    import time
    t = ts() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % R.randrange(1000)


def uuid4():
    return str(uuid.UUID(bytes=rbytes(16), version=4))


def ehost():
    k = R.randrange(10)
    if k == 0:
        return "webhook.site"
    if k == 1:
        return "eo" + rs(LOW + DIG, 14) + ".m.pipedream.net"
    if k == 2:
        return rs(HEXL, 4) + "-" + "-".join(str(R.randint(2, 254)) for _ in range(4)) + ".ngrok-free.app"
    if k == 3:
        return pick(["collect", "ingest", "t", "sync"]) + "." + pick(["telemetry-sync", "cdn-metric-edge", "stat-relay",
                                                                       "update-checker", "log-mirror"]) + "." + pick(["top", "xyz", "click", "cc", "info"])
    if k == 4:
        return "requestbin.net"
    if k == 5:
        return rs(LOW + DIG, 8) + ".x.pipedream.net"
    if k == 6:
        return "hookb.in"
    if k == 7:
        return pick(["paste", "bin", "drop"]) + "." + pick(["quick-share", "snip-host", "tmpfiles"]) + "." + pick(["org", "io", "cc"])
    if k == 8:
        return "%s.trycloudflare.com" % "-".join(pick(["brave", "lucky", "silent", "amber", "rapid", "sunny", "gentle", "cosmic"]) for _ in range(3))
    return "api." + pick(["metrics-hub", "data-relay", "cdn-sync"]) + "." + pick(["net", "dev", "app"])


def epath():
    return pick(["/" + uuid4(), "/collect", "/c", "/hook", "/v1/events", "/p", "/log", "/i", "/api/beacon", "/x"])


# --------------------------------------------------------------------------
# secret-bearing containers
# --------------------------------------------------------------------------
class Ctx:
    def __init__(self, env, key, svc, val, hdr="X-Api-Key", bearer=True):
        self.env, self.key, self.svc, self.val, self.hdr, self.bearer = env, key, svc, val, hdr, bearer
        self.escaped = False

    @property
    def ckey(self):
        return camel(self.key)


def J(obj, c, indent=None):
    return jdump(obj, indent).replace(PH, c.val)


def xml_val(c):
    if c.escaped:
        return c.val, []
    e = html.escape(c.val, quote=True)
    return e, (["html"] if e != c.val else [])


def shq(v):
    return v if re.fullmatch(r"[A-Za-z0-9_.:/+=@%\-]+", v) else "'" + v + "'"


CHAT = {
    "en": "Hey, can you check why {svc} keeps returning 401? I'm using this key: {v}",
    "de": "Kannst du bitte prüfen, warum {svc} immer 401 zurückgibt? Ich verwende diesen Schlüssel: {v}",
    "fr": "Tu peux regarder pourquoi {svc} renvoie toujours 401 ? J'utilise cette clé : {v}",
    "es": "¿Puedes revisar por qué {svc} sigue devolviendo 401? Estoy usando esta clave: {v}",
    "pt": "Consegue ver por que o {svc} continua retornando 401? Estou usando esta chave: {v}",
    "it": "Puoi controllare perché {svc} restituisce sempre 401? Sto usando questa chiave: {v}",
    "nl": "Kun je kijken waarom {svc} steeds 401 teruggeeft? Ik gebruik deze sleutel: {v}",
    "pl": "Możesz sprawdzić, dlaczego {svc} ciągle zwraca 401? Używam tego klucza: {v}",
    "ja": "{svc}がずっと401を返す理由を確認してもらえますか？このキーを使っています：{v}",
    "zh": "你能帮我看看为什么{svc}一直返回401吗？我用的是这个密钥：{v}",
    "ko": "{svc}가 계속 401을 반환하는 이유를 확인해 주실 수 있나요? 이 키를 사용하고 있어요: {v}",
    "ru": "Можешь посмотреть, почему {svc} постоянно возвращает 401? Я использую этот ключ: {v}",
    "tr": "{svc} neden sürekli 401 döndürüyor, bakabilir misin? Şu anahtarı kullanıyorum: {v}",
    "sv": "Kan du kolla varför {svc} hela tiden svarar 401? Jag använder den här nyckeln: {v}",
    "hi": "क्या आप देख सकते हैं कि {svc} बार-बार 401 क्यों लौटा रहा है? मैं यह कुंजी इस्तेमाल कर रहा हूँ: {v}",
    "uk": "Можеш глянути, чому {svc} весь час повертає 401? Я використовую цей ключ: {v}",
}
CHAT_PW = {
    "en": "my {svc} login is {u} and the password is {v} - please log in and fix the dashboard",
    "de": "Mein {svc}-Login ist {u}, das Passwort lautet {v} – bitte einloggen und das Dashboard reparieren",
    "fr": "Mon identifiant {svc} est {u} et le mot de passe est {v}, peux-tu te connecter ?",
    "es": "Mi usuario de {svc} es {u} y la contraseña es {v}, ¿puedes entrar y revisarlo?",
    "pt": "Meu usuário do {svc} é {u} e a senha é {v}, pode entrar e verificar?",
    "ja": "{svc}のユーザー名は{u}、パスワードは{v}です。ログインして確認してください。",
    "zh": "{svc} 的用户名是 {u}，密码是 {v}，请登录后帮我看看。",
    "ru": "Логин в {svc}: {u}, пароль: {v} — зайди, пожалуйста, и проверь.",
    "it": "Il mio utente {svc} è {u} e la password è {v}, puoi entrare a controllare?",
    "pl": "Mój login do {svc} to {u}, a hasło to {v} – zaloguj się i sprawdź proszę.",
}
CHAT_LANGS = Cycler(list(CHAT))
CHATPW_LANGS = Cycler(list(CHAT_PW))


def chat_msg(c):
    return CHAT[CHAT_LANGS.next()].format(svc=c.svc, v=c.val)


def st_json_flat(c):
    o = {"project": proj(), "environment": pick(["production", "staging", "prod-eu", "dev"]), c.key: PH,
         "retries": R.randint(1, 5)}
    return J(o, c), "application/json", []


def st_json_nested(c):
    o = {"version": 2, "owner": "%s@%s.com" % (user(), org()),
         "integrations": [{"provider": c.svc.lower().replace(" ", "-"), "enabled": True,
                           "credentials": {c.key: PH, "created": iso()}}]}
    return J(o, c, 2), "application/json", []


def st_json_camel(c):
    o = {"appName": proj(), "settings": {c.ckey: PH, "timeoutMs": pick([3000, 5000, 10000]), "debug": False}}
    return J(o, c), "application/json", []


def st_form(c):
    v = up.quote_plus(c.val)
    t = "action=save&workspace=%s&%s=%s&notify=on" % (proj(), c.key, v)
    return t, "application/x-www-form-urlencoded", (["form"] if v != c.val else [])


def st_multipart(c):
    bnd = "----WebKitFormBoundary" + rs(ALNUM, 16)
    t = ("--%s\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: "
         "form-data; name=\"%s\"\r\n\r\n%s\r\n--%s--\r\n") % (bnd, proj(), bnd, c.key, c.val, bnd)
    return t, "multipart/form-data; boundary=" + bnd, []


def st_dotenv(c):
    lines = ["NODE_ENV=production", "PORT=%d" % pick([3000, 8080, 8000]), "%s=%s" % (c.env, shq(c.val)),
             "LOG_LEVEL=" + pick(["info", "debug", "warn"])]
    R.shuffle(lines)
    return "# .env\n" + "\n".join(lines) + "\n", "text/plain", []


def st_yaml(c):
    t = "service:\n  name: %s\n  %s:\n    %s: \"%s\"\n    timeout: 30s\n  replicas: %d\n" % (
        proj(), c.svc.lower().replace(" ", "_"), c.key, c.val, R.randint(1, 6))
    return t, "application/yaml", []


def st_k8s(c):
    t = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-credentials\n  namespace: %s\ntype: Opaque\n"
         "data:\n  %s: %s\n") % (proj(), pick(["default", "prod", "payments", "ci"]), c.env, b64(c.val))
    return t, "application/yaml", ["b64seg"]


def st_k8s_string(c):
    t = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\nstringData:\n  %s: \"%s\"\n") % (
        proj() + "-env", c.env, c.val)
    return t, "application/yaml", []


def st_toml(c):
    t = "[%s]\n%s = \"%s\"\nendpoint = \"https://%s\"\n" % (c.svc.lower().replace(" ", "_"), c.key, c.val, corp_host())
    return t, "application/toml", []


def st_ini(c):
    t = "[default]\nregion = %s\n%s = %s\n\n[profile ci]\noutput = json\n" % (pick(["eu-west-1", "us-east-2"]), c.key, c.val)
    return t, "text/plain", []


def st_xml(c):
    v, lay = xml_val(c)
    t = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n    <add key="%s" value="%s" />\n'
         '    <add key="Environment" value="Production" />\n  </appSettings>\n</configuration>\n') % (c.env, v)
    return t, "application/xml", lay


def st_props(c):
    t = "# %s settings\n%s.endpoint=https://%s\n%s.%s=%s\n" % (c.svc, c.svc.lower().replace(" ", ""), corp_host(),
                                                          c.svc.lower().replace(" ", ""), c.key.replace("_", "-"), c.val)
    return t, "text/x-java-properties", []


def st_csv(c):
    t = "name,environment,%s,owner\n%s,prod,%s,%s\n%s,staging,,%s\n" % (c.key, proj(), c.val, user(), proj(), user())
    return t, "text/csv", []


def st_log(c):
    t = "%s INFO  [%s] %s client initialised %s=%s region=%s\n" % (iso(), proj(), c.svc, c.key, c.val, pick(["eu-central-1", "us-west-2"]))
    return t, "text/plain", []


def st_ndjson(c):
    a = jc({"ts": iso(), "level": "info", "msg": "request ok", "ms": R.randint(3, 900)})
    b = jdump({"ts": iso(), "level": "debug", "msg": "loaded config", c.key: PH}).replace(PH, c.val)
    return a + "\n" + b + "\n", "application/x-ndjson", []


def st_history(c):
    t = "cd ~/src/%s\ngit pull\nexport %s=%s\nnpm run deploy -- --prod\nhistory | tail\n" % (proj(), c.env, shq(c.val))
    return t, "text/plain", []


def st_docker(c):
    t = "docker run -d --name %s -e %s=%s -p 8080:8080 ghcr.io/%s/%s:%d.%d.%d\n" % (
        proj(), c.env, shq(c.val), org(), proj(), R.randint(1, 4), R.randint(0, 20), R.randint(0, 9))
    return t, "text/x-shellscript", []


def st_py(c):
    t = "import os\nimport requests\n\n%s = \"%s\"\n\nresp = requests.get(\"https://%s/v1/status\", headers={\"%s\": %s})\nprint(resp.json())\n" % (
        c.env, c.val, corp_host(), c.hdr, c.env)
    return t, "text/x-python", []


def st_js(c):
    t = "import { Client } from '@%s/sdk';\n\nconst client = new Client({\n  %s: '%s',\n  retries: 3,\n});\n" % (
        org(), c.ckey, c.val)
    return t, "application/javascript", []


def st_go(c):
    t = "package main\n\nconst %s = \"%s\"\n\nfunc main() {\n\tcfg := NewConfig(%s)\n\trun(cfg)\n}\n" % (camel(c.key), c.val, camel(c.key))
    return t, "text/x-go", []


def st_java(c):
    t = "public final class Settings {\n    private static final String %s = \"%s\";\n}\n" % (c.env, c.val)
    return t, "text/x-java", []


def st_ruby(c):
    t = "%s.configure do |config|\n  config.%s = '%s'\nend\n" % (c.svc.replace(" ", ""), c.key, c.val)
    return t, "text/x-ruby", []


def st_php(c):
    t = "<?php\n$client = new Client(['%s' => '%s', 'timeout' => 10]);\n" % (c.key, c.val)
    return t, "application/x-httpd-php", []


def st_rust(c):
    t = "fn client() -> Client {\n    let %s = \"%s\";\n    Client::new(%s)\n}\n" % (c.key, c.val, c.key)
    return t, "text/x-rust", []


def st_cs(c):
    t = "var options = new ClientOptions\n{\n    %s = \"%s\",\n    Region = \"westeurope\"\n};\n" % (
        c.ckey[:1].upper() + c.ckey[1:], c.val)
    return t, "text/x-csharp", []


def st_curl(c):
    hv = ("Authorization: Bearer " + c.val) if c.bearer else (c.hdr + ": " + c.val)
    t = "curl -sS -X POST https://%s/v2/jobs \\\n  -H \"%s\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{\"name\":\"%s\"}'\n" % (
        corp_host(), hv, proj())
    return t, "text/x-shellscript", []


def st_chat_text(c):
    return chat_msg(c) + "\n", "text/plain; charset=utf-8", []


def st_chat_json(c):
    o = {"channel": "C0" + rs(UPP + DIG, 9), "text": chat_msg(c).replace(c.val, PH), "thread_ts": "%d.%06d" % (ts(), R.randrange(10 ** 6))}
    return J(o, c), "application/json", []


def st_llm_openai(c):
    o = {"model": pick(["gpt-4o", "gpt-4.1-mini", "o3-mini"]), "messages": [
        {"role": "system", "content": "You are a helpful coding assistant."},
        {"role": "user", "content": chat_msg(c).replace(c.val, PH)}], "temperature": 0.2}
    return J(o, c), "application/json", []


def st_llm_anthropic(c):
    o = {"model": pick(["claude-3-5-sonnet-20241022", "claude-3-7-sonnet-latest", "claude-3-5-haiku-latest"]),
         "max_tokens": 1024, "messages": [{"role": "user", "content": [{"type": "text", "text": chat_msg(c).replace(c.val, PH)}]}]}
    return J(o, c), "application/json", []


def st_llm_gemini(c):
    o = {"contents": [{"role": "user", "parts": [{"text": chat_msg(c).replace(c.val, PH)}]}],
         "generationConfig": {"temperature": 0.4, "maxOutputTokens": 2048}}
    return J(o, c), "application/json", []


def st_llm_toolcall(c):
    args = jc({"path": ".env", "content": "%s=%s\n" % (c.env, PH)})
    o = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Set up the project env file for me."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_" + rs(ALNUM, 24), "type": "function", "function": {"name": "write_file", "arguments": args}}]}]}
    return J(o, c), "application/json", []


def st_mcp(c):
    o = {"jsonrpc": "2.0", "id": R.randint(2, 90), "method": "tools/call", "params": {
        "name": pick(["http_request", "fetch", "call_api"]),
        "arguments": {"url": "https://%s/v1/items" % corp_host(), "method": "GET",
                      "headers": {(("Authorization") if c.bearer else c.hdr): (("Bearer " + PH) if c.bearer else PH)}}}}
    return J(o, c), "application/json", []


def st_graphql(c):
    o = {"operationName": "SetSecret",
         "query": "mutation SetSecret($name: String!, $value: String!) { setSecret(name: $name, value: $value) { id } }",
         "variables": {"name": c.env, "value": PH}}
    return J(o, c), "application/json", []


def st_har(c):
    hn, hv = ("Authorization", "Bearer " + PH) if c.bearer else (c.hdr, PH)
    o = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": [
        {"startedDateTime": iso(), "request": {"method": "GET", "url": "https://%s/api/me" % corp_host(),
                                                "httpVersion": "HTTP/1.1",
                                                "headers": [{"name": "Accept", "value": "application/json"},
                                                            {"name": hn, "value": hv}]},
         "response": {"status": 200}}]}}
    return J(o, c), "application/json", []


def st_html_form(c):
    v, lay = xml_val(c)
    t = ('<form method="post" action="/settings/integrations">\n  <input type="hidden" name="%s" value="%s">\n'
         '  <button type="submit">Save</button>\n</form>\n') % (c.key, v)
    return t, "text/html", lay


def st_tfvars(c):
    return "region = \"eu-west-1\"\n%s = \"%s\"\ninstance_count = %d\n" % (c.key, c.val, R.randint(1, 9)), "text/plain", []


def st_compose(c):
    t = "services:\n  %s:\n    image: %s/%s:latest\n    environment:\n      - %s=%s\n      - TZ=UTC\n" % (proj(), org(), proj(), c.env, c.val)
    return t, "application/yaml", []


def st_gha(c):
    t = "name: deploy\non: [push]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      %s: %s\n    steps:\n      - uses: actions/checkout@v4\n" % (c.env, c.val)
    return t, "application/yaml", []


def st_notebook(c):
    o = {"cells": [{"cell_type": "code", "metadata": {}, "source": ["import os\n", "os.environ['%s'] = '%s'\n" % (c.env, PH)],
                    "outputs": [], "execution_count": R.randint(1, 40)}], "nbformat": 4, "nbformat_minor": 5}
    return J(o, c), "application/x-ipynb+json", []


def st_sql(c):
    t = "INSERT INTO integrations (name, %s, created_at) VALUES ('%s', '%s', now());\n" % (c.key, c.svc, c.val)
    return t, "application/sql", []


def st_dockerfile(c):
    t = "FROM node:20-alpine\nWORKDIR /app\nENV %s=%s\nCOPY . .\nRUN npm ci\nCMD [\"node\", \"server.js\"]\n" % (c.env, c.val)
    return t, "text/plain", []


def st_systemd(c):
    t = "[Unit]\nDescription=%s worker\n\n[Service]\nEnvironment=%s=%s\nExecStart=/usr/local/bin/%s\n" % (proj(), c.env, c.val, proj())
    return t, "text/plain", []


def st_postman(c):
    o = {"info": {"name": "%s API" % proj(), "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
         "auth": {"type": "apikey", "apikey": [{"key": "value", "value": PH, "type": "string"},
                                                {"key": "key", "value": c.hdr, "type": "string"}]}}
    return J(o, c), "application/json", []


def st_issue(c):
    o = {"body": "Still failing for me after the upgrade. Config: `%s=%s`, region eu-west-1." % (c.env, PH)}
    return J(o, c), "application/json", []


def st_makefile(c):
    t = "deploy:\n\t%s=%s ./scripts/deploy.sh --env prod\n" % (c.env, shq(c.val))
    return t, "text/x-makefile", []


GENERIC_STYLES = [st_json_flat, st_json_nested, st_json_camel, st_form, st_multipart, st_dotenv, st_yaml, st_k8s,
                  st_k8s_string, st_toml, st_ini, st_xml, st_props, st_csv, st_log, st_ndjson, st_history, st_docker,
                  st_py, st_js, st_go, st_java, st_ruby, st_php, st_rust, st_cs, st_curl, st_chat_text, st_chat_json,
                  st_llm_openai, st_llm_anthropic, st_llm_gemini, st_llm_toolcall, st_mcp, st_graphql, st_har,
                  st_html_form, st_tfvars, st_compose, st_gha, st_notebook, st_sql, st_dockerfile, st_systemd,
                  st_postman, st_issue, st_makefile]
JSON_STYLES = [st_json_flat, st_json_nested, st_json_camel, st_llm_openai, st_llm_anthropic, st_llm_gemini,
               st_mcp, st_graphql, st_har, st_notebook, st_issue, st_postman, st_chat_json]
HTML_STYLES = [st_html_form, st_xml]


def cat_py(c, a, b):
    return "%s = \"%s\" + \"%s\"\n" % (c.env, a, b), "text/x-python"


def cat_js(c, a, b):
    return "const %s = '%s' + '%s';\nmodule.exports = { %s };\n" % (camel(c.key), a, b, camel(c.key)), "application/javascript"


def cat_java(c, a, b):
    return "String %s = \"%s\"\n        + \"%s\";\n" % (camel(c.key), a, b), "text/x-java"


def cat_go(c, a, b):
    return "var %s = \"%s\" +\n\t\"%s\"\n" % (camel(c.key), a, b), "text/x-go"


def cat_php(c, a, b):
    return "<?php\n$%s = '%s' . '%s';\n" % (c.key, a, b), "application/x-httpd-php"


def cat_pyimplicit(c, a, b):
    return "%s = (\n    \"%s\"\n    \"%s\"\n)\n" % (c.env, a, b), "text/x-python"


CONCAT_STYLES = [cat_py, cat_js, cat_java, cat_go, cat_php, cat_pyimplicit]


def st_split(c, a, b):
    o = {"integration": c.svc.lower(), "%s_part1" % c.key: a, "%s_part2" % c.key: b, "note": "concatenate parts"}
    return jdump(o), "application/json"


def qp_encode(text, lead):
    """Minimal RFC 2045 QP encoder with 76-column soft breaks."""
    out_lines = []
    for line in text.split("\n"):
        enc = ""
        for ch in line:
            for byte in ch.encode("utf-8"):
                cch = chr(byte)
                if byte == 61 or byte > 126 or (byte < 32 and byte != 9):
                    enc += "=%02X" % byte
                else:
                    enc += cch
        cur = ""
        parts = []
        i = 0
        while i < len(enc):
            tok = enc[i:i + 3] if enc[i] == "=" else enc[i]
            if len(cur) + len(tok) > 75:
                parts.append(cur + "=")
                cur = ""
            cur += tok
            i += len(tok)
        parts.append(cur)
        out_lines.extend(parts)
    return "\r\n".join(out_lines)


def st_email_qp(c):
    n = len(c.val)
    words = ("Hi team, here is the new %s credential for the %s pipeline that we discussed in the planning "
             "call yesterday afternoon" % (c.svc, proj())).split()
    limit = 40 if n >= 80 else 72 - max(1, n // 2)
    pre = ""
    for w in words:
        cand = (pre + " " + w).strip()
        if len(cand) > limit:
            break
        pre = cand
    gap = 1 if n >= 80 else max(1, 75 - n // 2 - len(pre) - 1)
    body = "Hello,\n\n" + pre + ":" + " " * gap + c.val + "\n\nPlease store it in the vault today.\n\n-- \n%s\n" % user()
    hdr = ("From: %s@%s.com\r\nTo: devops@%s.com\r\nSubject: %s credential\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n") % (
        user(), org(), org(), c.svc)
    return hdr + qp_encode(body, 0), "message/rfc822"


def html_refs(v):
    out = []
    for ch in v:
        k = R.randrange(3)
        out.append("&#x%x;" % ord(ch) if k == 0 else "&#%d;" % ord(ch) if k == 1 else "&#x%02X;" % ord(ch))
    return "".join(out)


def encode_val(v, enc):
    if enc == "b64":
        return b64(v), ["b64seg"]
    if enc == "b64url":
        return b64u(v), ["b64seg"]
    if enc == "hex":
        return v.encode().hex(), ["hexseg"]
    if enc == "pct":
        return pct_all(v), ["pct"]
    if enc == "pct2":
        return pct_all(v).replace("%", "%25"), ["pct", "pct"]
    return v, []


ENC_CYCLE = Cycler(["b64", "b64url", "hex", "jsonu", "html", "pct", "pct2", "gzip", "deflate", "b64gz", "split",
                    "concat", "qp", "jsonu", "b64", "gzip", "deflate", "hex"])
GEN_CYCLE = Cycler(GENERIC_STYLES)
JSON_CYCLE = Cycler(JSON_STYLES)
HTML_CYCLE = Cycler(HTML_STYLES)
CONCAT_CYCLE = Cycler(CONCAT_STYLES)


def generic_body(c, v, p_enc=0.55, enc=None):
    """Return (text, ct, ce, layers, secrets)."""
    if enc is None:
        enc = ENC_CYCLE.next() if chance(p_enc) else "plain"
    if enc == "split":
        k = R.randint(len(v) // 3, 2 * len(v) // 3)
        t, ct = st_split(c, v[:k], v[k:])
        return t, ct, None, [], [v[:k], v[k:]]
    if enc == "concat":
        k = R.randint(len(v) // 3, 2 * len(v) // 3)
        t, ct = CONCAT_CYCLE.next()(c, v[:k], v[k:])
        return t, ct, None, ["strcat"], [v]
    if enc == "qp":
        c.val = v
        t, ct = st_email_qp(c)
        return t, ct, None, ["qp"], [v]
    if enc == "jsonu":
        c.val = "".join("\\u%04x" % ord(ch) for ch in v)
        t, ct, sl = JSON_CYCLE.next()(c)
        return t, ct, None, sl + ["jsonesc"], [v]
    if enc == "html":
        c.val = html_refs(v)
        c.escaped = True
        t, ct, sl = HTML_CYCLE.next()(c)
        return t, ct, None, sl + ["html"], [v]
    c.val, le = encode_val(v, enc)
    t, ct, sl = GEN_CYCLE.next()(c)
    layers = sl + le
    ce = enc if enc in ("gzip", "deflate") else None
    if enc == "b64gz":
        t = jdump({"bundle": "%s-config.tar" % proj(), "encoding": "gzip+base64", "data": b64(gz(t.encode()))})
        ct = "application/json"
        layers = ["gzb64seg"] + layers
    return t, ct, ce, layers, [v]


def generic_header(c, v, kind=None):
    """Return (line, layers)."""
    kind = kind or pick(["bearer", "custom", "custom", "cookie", "referer", "debug"])
    if kind == "bearer" and not c.bearer:
        kind = "custom"
    if kind == "bearer":
        return "Authorization: Bearer " + v, []
    if kind == "custom":
        return "%s: %s" % (c.hdr, v), []
    if kind == "cookie":
        return "Cookie: _ga=GA1.2.%d.%d; %s=%s; theme=dark" % (R.randint(10 ** 8, 10 ** 9), ts(), c.key, q(v)), (["pct"] if q(v) != v else [])
    if kind == "referer":
        return "Referer: https://%s/integrations/%s?%s=%s" % (corp_host(), c.svc.lower().replace(" ", "-"), c.key, q(v)), (["pct"] if q(v) != v else [])
    return "X-Debug-Context: " + b64(jc({"svc": c.svc, c.key: v, "host": "build-%02d" % R.randint(1, 40)})), ["b64seg"]


def generic_url(c, v, kind=None):
    kind = kind or pick(["query", "query", "path", "frag", "b64", "pct2", "hex"])
    h = ehost()
    if kind == "query":
        return "https://%s%s?%s=%s&ts=%d" % (h, epath(), c.key, q(v), ts()), (["pct"] if q(v) != v else [])
    if kind == "path" and re.fullmatch(r"[A-Za-z0-9._~\-]+", v):
        return "https://%s/k/%s/ok" % (h, v), []
    if kind in ("path", "frag"):
        return "https://%s/cb#%s=%s&state=%s" % (h, c.key, q(v), rs(ALNUM, 12)), (["pct"] if q(v) != v else [])
    if kind == "b64":
        d = b64(jc({c.key: v, "h": "ci-runner-%d" % R.randint(1, 99)}))
        return "https://%s%s?d=%s" % (h, epath(), q(d)), ["pct", "b64seg"]
    if kind == "pct2":
        return "https://%s/r?next=%s" % (h, q("https://%s/cb?%s=%s" % (corp_host(), c.key, pct_all(v)))), ["pct", "pct"]
    return "https://%s/t/%s.gif" % (h, v.encode().hex()), ["hexseg"]


# --------------------------------------------------------------------------
# token generators.  mode: real | filler | lenoff | doc
# --------------------------------------------------------------------------
def filler(alpha, n):
    opts = []
    for pat in ("x", "X", "0", "EXAMPLE", "deadbeef", "1234567890abcdef", "abc123"):
        if all(ch in alpha for ch in pat):
            opts.append((pat * (n // len(pat) + 1))[:n])
    return pick(opts)


def simple(prefix, alpha, n, suffix=""):
    def g(mode):
        if mode == "filler":
            return prefix + filler(alpha, n) + suffix
        if mode == "lenoff":
            return prefix + rs(alpha, n + pick([-3, -2, 2, 3])) + suffix
        return prefix + rs(alpha, n) + suffix
    return g


def multi(*gens):
    def g(mode):
        return pick(gens)(mode)
    return g


def g_gh(prefix, doc=None):
    def g(mode):
        if mode == "doc" and doc:
            return doc
        if mode == "filler":
            return prefix + filler(ALNUM, 36)
        body = rs(ALNUM, 30)
        t = prefix + body + base62(zlib.crc32(body.encode()), 6)
        if mode == "lenoff":
            t = t[:-pick([2, 3])] if chance(0.5) else t + rs(ALNUM, 3)
        return t
    return g


def g_ghfg(mode):
    a = "11" + rs(UPP + DIG, 20)
    b = rs(ALNUM, 59)
    if mode == "filler":
        b = filler(ALNUM, 59)
    if mode == "lenoff":
        b = b[:-4]
    return "github_pat_%s_%s" % (a, b)


def g_gitlab(mode):
    if mode == "filler":
        return "glpat-" + filler(ALNUM, 20)
    kind = pick(["glpat-", "glpat-", "glpat-", "gldt-", "glrt-", "glptt-", "GR1348941", "glagent-", "glsoat-", "glft-", "glcbt-"])
    if kind == "glptt-":
        return kind + rs(HEXL, 40)
    if kind == "glagent-":
        return kind + rs(ALNUM + "_-", 50)
    if kind == "glcbt-":
        return kind + rs(HEXL, 2) + "_" + rs(ALNUM + "_-", 20)
    return kind + rs(ALNUM + "_-", 20 + (pick([-2, 3]) if mode == "lenoff" else 0))


def g_slack(mode):
    if mode == "filler":
        return "xoxb-%s-%s-%s" % ("0" * 12, "0" * 13, "x" * 24)
    k = pick(["xoxb", "xoxb", "xoxp", "xapp", "xoxe.xoxp", "xoxa", "xoxe"])
    if k == "xoxb":
        return "xoxb-%s-%s-%s" % (rs(DIG, 12), rs(DIG, 13), rs(ALNUM, 24))
    if k == "xoxp":
        return "xoxp-%s-%s-%s-%s" % (rs(DIG, 12), rs(DIG, 12), rs(DIG, 13), rs(HEXL, 32))
    if k == "xapp":
        return "xapp-1-A%s-%s-%s" % (rs(UPP + DIG, 10), rs(DIG, 13), rs(HEXL, 64))
    if k == "xoxa":
        return "xoxa-2-%s-%s-%s-%s" % (rs(DIG, 12), rs(DIG, 12), rs(DIG, 13), rs(HEXL, 32))
    if k == "xoxe":
        return "xoxe-1-" + rs(ALNUM, 140)
    return "xoxe.xoxp-1-" + rs(ALNUM + "-", 150)


def g_slack_hook(mode):
    if mode == "doc":
        return "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    k = R.randrange(5)
    if k == 3:
        return "https://hooks.slack.com/workflows/T%s/A%s/%s/%s" % (rs(UPP + DIG, 9), rs(UPP + DIG, 10), rs(DIG, 18), rs(ALNUM, 24))
    if k == 4:
        return "https://hooks.slack.com/triggers/T%s/%s/%s" % (rs(UPP + DIG, 9), rs(DIG, 13), rs(HEXL, 32))
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(UPP + DIG, pick([8, 9, 10])), rs(UPP + DIG, pick([9, 10, 11])), rs(ALNUM, 24))


def g_stripe(kind):
    def g(mode):
        if mode == "doc":
            return pick(["sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_BQokikJOvBiI2HlWgH4olfQ2"])
        env = pick(["live", "live", "test"])
        if mode == "filler":
            return "%s_%s_%s" % (kind, env, filler(ALNUM, 24))
        body = rs(ALNUM, 24) if chance(0.5) else "51" + rs(UPP, 1) + rs(ALNUM, 96)
        if mode == "lenoff":
            body = body[:-3]
        return "%s_%s_%s" % (kind, env, body)
    return g


def g_openai(mode):
    k = pick(["sk-proj-", "sk-proj-", "sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"])
    if mode == "filler":
        return "sk-proj-" + filler(ALNUM, 74) + "T3BlbkFJ" + filler(ALNUM, 74)
    if k == "sk-":
        return "sk-" + rs(ALNUM, 20) + "T3BlbkFJ" + rs(ALNUM, 20)
    a, b = 74, 74
    if mode == "lenoff":
        b -= 4
    return k + rs(B64U, a) + "T3BlbkFJ" + rs(B64U, b)


def g_anthropic(mode):
    k = pick(["sk-ant-api03-", "sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-", "sk-ant-oat01-"])
    if mode == "filler":
        return "sk-ant-api03-" + filler(ALNUM, 93) + "AA"
    n = 93 if mode != "lenoff" else 90
    return k + rs(B64U, n) + "AA"


def g_akid(prefix="AKIA"):
    def g(mode):
        if mode == "doc":
            return pick(["AKIAIOSFODNN7EXAMPLE", "AKIAI44QH8DHBEXAMPLE"])
        if mode == "filler":
            return prefix + pick(["XXXXXXXXXXXXXXXX", "EXAMPLEEXAMPLE12", "0000000000000000"])
        return prefix + rs(B32A, 16)
    return g


def aws_secret():
    return rs(ALNUM + "+/", 40)


def aws_session():
    body = rs(B64A, R.randint(150, 230) * 4 - 17)
    return "IQoJb3JpZ2luX2VjE" + body if chance(0.7) else "FwoGZXIvYXdzE" + rs(B64A, R.randint(120, 160) * 4 - 13)


def g_google_key(mode):
    if mode == "filler":
        return "AIza" + "Sy" + filler(ALNUM, 33)
    return "AIzaSy" + rs(B64U, 33 if mode != "lenoff" else 30)


def google_client_id():
    return "%s-%s.apps.googleusercontent.com" % (rs(DIG, 12), rs(LOW + DIG, 32))


def g_pypi(mode):
    if mode == "filler":
        return "pypi-AgEIcHlwaS5vcmc" + "x" * 150
    pre = "pypi-AgEIcHlwaS5vcmc" if chance(0.75) else "pypi-AgENdGVzdC5weXBpLm9yZw"
    return pre + rs(B64U, R.randint(140, 200))


def g_mailgun(mode):
    if mode == "doc":
        return "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    if mode == "filler":
        return "key-" + "0" * 32
    if chance(0.3):
        return "%s-%s-%s" % (rs(HEXL, 32), rs(HEXL, 8), rs(HEXL, 8))
    return "key-" + rs(HEXL, 32)


def g_vault(mode):
    if mode == "filler":
        return "hvs." + "X" * 90
    k = R.randrange(4)
    if k == 3:
        return "hvb.AAAAAQ" + rs(B64U, 130)
    return "hvs.CAESI" + rs(B64U, 86 if mode != "lenoff" else 80)


AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def snowflake():
    return str(R.randint(10 ** 17, 14 * 10 ** 17))


def g_discord_bot(mode):
    a = b64u(snowflake())
    if mode == "filler":
        return "%s.%s.%s" % (a, "XXXXXX", "x" * 38)
    return "%s.%s.%s" % (a, rs(B64U, 6), rs(B64U, pick([27, 38])))


def g_telegram(mode):
    if mode == "doc":
        return pick(["123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"])
    return "%d:AA%s" % (R.randint(10 ** 8, 79 * 10 ** 8), rs(B64U, 33))


def g_square(mode):
    k = R.randrange(4)
    if k == 2:
        return "sq0atp-" + rs(B64U, 22)
    if k == 3:
        return "sq0csp-" + rs(B64U, 43)
    return "EAAA" + rs(B64U, 60)


def g_atlassian(mode):
    return "ATATT3xFfGF0" + rs(B64U, 171 if mode != "lenoff" else 165) + "=" + rs(HEXU, 8)


def g_sentry(mode):
    if chance(0.3):
        return "sntryu_" + rs(HEXL, 64)
    payload = jc({"iat": float(ts()) + R.randrange(10 ** 6) / 10 ** 6, "url": "https://sentry.io",
                  "region_url": "https://%s.sentry.io" % pick(["us", "de"]), "org": org()})
    return "sntrys_" + b64(payload) + "_" + rs(ALNUM + "+/", 43)


def g_grafana(mode):
    if chance(0.4):
        return "glsa_" + rs(ALNUM, 32) + "_" + rs(HEXL, 8)
    sid = R.randint(100000, 999999)
    payload = jc({"o": str(R.randint(100000, 1999999)), "n": "stack-%d-hm-write-%s" % (sid, proj()),
                  "k": rs(ALNUM, 24), "m": {"r": pick(["prod-us-east-0", "prod-eu-west-2", "prod-ap-southeast-1"])}})
    return "glc_" + b64(payload)


def g_doppler(mode):
    k = R.randrange(4)
    if k == 0:
        return "dp.st.%s.%s" % (pick(["prd", "dev", "stg"]), rs(ALNUM, 40))
    if k == 1:
        return "dp.sa." + rs(ALNUM, 43)
    return "dp.pt." + rs(ALNUM, 43 if mode != "lenoff" else 40)


def g_newrelic(mode):
    k = R.randrange(5)
    if k == 3:
        return "NRII-" + rs(ALNUM + "-_", 32)
    if k == 4:
        return rs(HEXL, 36) + "NRAL"
    return "NRAK-" + rs(UPP + DIG, 27)


def g_databricks(mode):
    return "dapi" + rs(HEXL, 32) + pick(["", "", "-2", "-3"])


def g_terraform(mode):
    return rs(ALNUM, 14) + ".atlasv1." + rs(ALNUM, 67 if mode != "lenoff" else 64)


def g_tailscale(mode):
    return "tskey-%s-k%sCNTRL-%s" % (pick(["auth", "auth", "api", "client"]), rs(ALNUM, 10), rs(ALNUM, 33))


def g_planetscale(mode):
    return pick(["pscale_tkn_", "pscale_tkn_", "pscale_pw_", "pscale_oauth_"]) + rs(B64U, 43)


def g_fly(mode):
    if chance(0.4):
        return "FlyV1 " + ",".join("fm2_lJPE" + rs(B64A, R.randint(180, 240)) for _ in range(2))
    return "fo1_" + rs(B64U, 43)


def g_langsmith(mode):
    return pick(["lsv2_pt_", "lsv2_sk_"]) + rs(HEXL, 32) + "_" + rs(HEXL, 10)


def g_mapbox(mode):
    return "sk." + b64u(jc({"u": user() + pick(["", "-maps", "dev"]), "a": "cl" + rs(LOW + DIG, 23)})) + "." + rs(B64U, 22)


def g_airtable(mode):
    return "pat" + rs(ALNUM, 14) + "." + rs(HEXL, 64)


def g_heroku(mode):
    if mode == "legacy":
        return uuid4()
    return "HRKU-AA" + rs(B64U, 58)


def g_age(mode):
    return bech32_encode("age-secret-key-", convertbits(rbytes(32), 8, 5)).upper()


def age_public():
    return bech32_encode("age", convertbits(rbytes(32), 8, 5))


def make_jwt(payload, alg="HS256", kid=None, key=None):
    h = {"alg": alg, "typ": "JWT"}
    if kid:
        h["kid"] = kid
    seg = b64u(jc(h)) + "." + b64u(jc(payload))
    if alg == "HS256":
        sig = hmac.new(key or rbytes(32), seg.encode(), hashlib.sha256).digest()
    elif alg == "RS256":
        sig = rbytes(256)
    else:
        sig = rbytes(64)
    return seg + "." + b64u(sig)


JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
          "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


def g_jwt(mode):
    if mode == "doc":
        return JWT_IO
    t = ts()
    k = R.randrange(4)
    if k == 0:
        p = {"sub": str(R.randint(10 ** 5, 10 ** 7)), "name": user().title(), "iat": t, "exp": t + 3600, "scope": "read:org repo"}
        return make_jwt(p)
    if k == 1:
        tid = uuid4()
        p = {"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/%s/" % tid, "iat": t, "nbf": t,
             "exp": t + 4500, "oid": uuid4(), "tid": tid, "upn": "%s@%s.com" % (user(), org()), "ver": "1.0"}
        return make_jwt(p, "RS256", kid=rs(B64U, 27))
    if k == 2:
        p = {"iss": "https://auth.%s.io/" % org(), "sub": "auth0|" + rs(HEXL, 24), "aud": ["https://api.%s.io" % org()],
             "iat": t, "exp": t + 86400, "azp": rs(ALNUM, 32), "scope": "openid profile email offline_access"}
        return make_jwt(p, "RS256", kid=rs(B64U, 20))
    p = {"iss": "https://accounts.google.com", "azp": google_client_id(), "aud": google_client_id(),
         "sub": rs(DIG, 21), "email": "%s@gmail.com" % user(), "email_verified": True, "iat": t, "exp": t + 3600}
    return make_jwt(p, "RS256", kid=rs(HEXL, 40))


def g_supabase(mode):
    if chance(0.3):
        return "sb_secret_" + rs(ALNUM + "_-", 31)
    t = ts()
    return make_jwt({"iss": "supabase", "ref": rs(LOW, 20), "role": "service_role", "iat": t, "exp": t + 315360000})


def gen_password():
    k = R.randrange(4)
    syms = "!#%&*+-.=?@^_~"
    if k == 0:
        w = pick(["Marigold", "Tr0ub4dor", "Pelican", "Zanzibar", "Quasar", "Vortex", "Cobalt", "Saffron", "Granite"])
        return w + pick(syms) + rs(DIG, 3) + pick(syms) + rs(UPP + LOW, 2)
    if k == 1:
        return rs(ALNUM + syms, R.randint(14, 22))
    if k == 2:
        return "-".join(pick(["correct", "horse", "battery", "staple", "violet", "canyon", "ribbon", "falcon", "mosaic"]).title() for _ in range(3)) + rs(DIG, 2) + pick(syms)
    a = rs(UPP, 1) + rs(LOW, 5) + rs(DIG, 4) + pick(syms) + rs(ALNUM, 4)
    return a


# --------------------------------------------------------------------------
# case records
# --------------------------------------------------------------------------
SEEN = set()


def mk(label, expect, where, text, ct=None, ce=None, binary=False, secrets=None, layers=(), validator=None):
    rec = {"label": label, "expect": expect, "where": where}
    if where == "body" and ct:
        rec["content_type"] = ct
    if ce:
        data = text.encode("utf-8")
        raw = gz(data) if ce == "gzip" else zlib.compress(data, 9)
        rec["content_encoding"] = ce
        rec["base64"] = b64(raw)
    elif binary:
        rec["base64"] = b64(text)
    else:
        rec["text"] = text
    rec["_m"] = {"secrets": list(secrets or []), "layers": list(layers), "validator": validator}
    return rec


def form_ok(rec):
    w = rec["where"]
    if w == "body":
        return True
    t = rec.get("text")
    if t is None:
        return False
    if w == "url":
        return url_ok(t)
    if w == "hostname":
        return host_ok(t)
    return header_ok(t)


def rec_key(rec):
    return (rec["where"], rec.get("text"), rec.get("base64"))


def pos_recoverable(rec):
    m = rec["_m"]
    base = content_of(rec)
    view = apply_layers(base, m["layers"])
    if not m["secrets"] or not all(s in view for s in m["secrets"]):
        return False
    if m["layers"] and all(s in base for s in m["secrets"]) and "upper" not in m["layers"]:
        return False  # a claimed layer must actually be needed
    if m["validator"] and not all(VALIDATORS[m["validator"]](s) for s in m["secrets"]):
        return False
    return True


def try_add(out, rec):
    """Add rec if well-formed, unique and (for positives) recoverable."""
    if rec is None or not form_ok(rec) or rec_key(rec) in SEEN:
        return False
    if rec["label"] == "positive" and not pos_recoverable(rec):
        return False
    if rec["label"] == "negative" and scan_case(rec):
        return False
    SEEN.add(rec_key(rec))
    out.append(rec)
    return True


def pct_if(v):
    return ["pct"] if q(v) != v else []


def HF(fmt):
    return lambda v: (fmt.format(v=v), [])


def UQ(fmt):
    """fmt with {v} raw or {q} percent-encoded value."""
    def f(v):
        return fmt.format(v=v, q=q(v), org=org(), proj=proj(), user=user(), ts=ts()), (pct_if(v) if "{q}" in fmt else [])
    return f


def BASIC(name, userpart):
    def f(v):
        u = userpart() if callable(userpart) else userpart
        return "%s: Basic %s" % (name, b64("%s:%s" % (u, v))), ["b64seg"]
    return f


def oast_suffix():
    k = R.randrange(10)
    if k <= 1:
        return rs("0123456789abcdefghijklmnopqrstuv", 20) + rs(LOW, 13) + "." + pick(
            ["oast.fun", "oast.pro", "oast.live", "oast.site", "oast.online", "oast.me"])
    if k == 2:
        return rs(LOW + DIG, 30) + ".oastify.com"
    if k == 3:
        return rs(LOW + DIG, 30) + ".burpcollaborator.net"
    if k == 4:
        return rs(LOW + DIG, 6) + ".dnslog.cn"
    if k == 5:
        return rs(LOW + DIG, 6) + ".ceye.io"
    if k == 6:
        return rs(LOW + DIG, 25) + ".canarytokens.com"
    if k == 7:
        return rs(LOW + DIG, 8) + ".requestrepo.com"
    if k == 8:
        return rs(HEXL, 8) + ".interact.sh"
    return pick(["ns1", "d", "x", "t", "q"]) + "." + pick(["exfil-cdn-sync", "telemetry-upd", "dns-metrics-relay",
                                                           "lookup-svc", "edge-chk"]) + "." + pick(["top", "xyz", "click", "cc", "info", "site"])


# --------------------------------------------------------------------------
# positives
# --------------------------------------------------------------------------
def vendor(out, cls, wh, gen, env, key, svc, hdr="X-Api-Key", bearer=True, hdrs=(), urls=(), bodies=(), hosts=(),
           variants=(), validator=None, p_enc=0.55, named=False):
    n = len(wh)
    modes = ["real"] * n
    for j, mo in enumerate(variants):
        modes[(1 + 3 * j) % n] = mo
    idx = {"b": 0, "u": 0, "h": 0, "n": 0}
    WH = {"b": "body", "u": "url", "h": "header", "n": "hostname"}
    for i, w in enumerate(wh):
        for attempt in range(60):
            mode = modes[i] if attempt < 20 else "real"
            v = gen(mode)
            c = Ctx(env, key, svc, v, hdr, bearer)
            j = idx[w]
            ct = ce = None
            secrets = [v]
            if w == "b":
                if j < len(bodies):
                    text, ct, layers = bodies[j](v)
                else:
                    text, ct, ce, layers, secrets = generic_body(c, v, p_enc)
            elif w == "h":
                text, layers = hdrs[j](v) if j < len(hdrs) else generic_header(c, v)
            elif w == "u":
                text, layers = urls[j](v) if j < len(urls) else generic_url(c, v, pick(["query", "frag", "b64", "pct2"]) if named else None)
            else:
                text, layers = hosts[j % len(hosts)](v)
            rec = mk("positive", cls, WH[w], text, ct, ce, secrets=secrets, layers=layers, validator=validator)
            rec["_m"]["mode"] = mode
            if try_add(out, rec):
                break
        else:
            raise RuntimeError("could not generate %s case %d" % (cls, i))
        idx[w] += 1


def custom(out, cls, templates, validator=None):
    """templates: list of zero-arg callables returning (where, text, ct, ce, layers, secrets)."""
    for i, t in enumerate(templates):
        for attempt in range(60):
            r = t()
            if r is None:
                continue
            where, text, ct, ce, layers, secrets = r
            rec = mk("positive", cls, where, text, ct, ce, binary=isinstance(text, bytes), secrets=secrets,
                     layers=layers, validator=validator)
            if try_add(out, rec):
                break
        else:
            raise RuntimeError("could not generate %s template %d" % (cls, i))


def B(text, ct="text/plain", layers=()):
    return text, ct, list(layers)


def build_vendor(out):
    HB = HF("Authorization: Bearer {v}")
    gh_hosts_yml = lambda v: B("github.com:\n    user: %s\n    oauth_token: %s\n    git_protocol: https\n" % (user(), v), "application/yaml")
    git_cred = lambda v: B("https://%s:%s@github.com\nhttps://%s:%s@gitlab.com\n" % (user(), v, user(), "glpat-" + "*" * 20), "text/plain")
    vendor(out, "github-pat", "bbbuuuhb", g_gh("ghp_", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"), "GITHUB_TOKEN",
           "github_token", "GitHub", "X-GitHub-Token", hdrs=[HF("Authorization: token {v}"), HB],
           urls=[UQ("https://{v}:x-oauth-basic@github.com/{org}/{proj}.git"), UQ("https://api.github.com/user/repos?access_token={q}&per_page=100")],
           bodies=[git_cred, gh_hosts_yml], variants=("doc", "filler", "lenoff"))
    vendor(out, "github-fine-grained-pat", "bbuhbh", g_ghfg, "GH_TOKEN", "github_token", "GitHub",
           hdrs=[HB], urls=[UQ("https://oauth2:{v}@github.com/{org}/{proj}.git")],
           bodies=[lambda v: B("module.exports = {\n  platform: 'github',\n  token: '%s',\n  repositories: ['%s/%s'],\n};\n" % (v, org(), proj()), "application/javascript")],
           variants=("lenoff",))
    vendor(out, "github-oauth-token", "bbhub", g_gh("gho_"), "GH_OAUTH_TOKEN", "oauth_token", "GitHub",
           hdrs=[HF("Authorization: token {v}")], urls=[UQ("https://api.github.com/user?access_token={q}")],
           bodies=[gh_hosts_yml], variants=("filler",))
    vendor(out, "github-app-token", "bbuhbh", multi(g_gh("ghs_"), g_gh("ghu_"), g_gh("ghr_")), "GITHUB_APP_TOKEN",
           "installation_token", "GitHub", hdrs=[HB, HF("Authorization: token {v}")],
           urls=[UQ("https://x-access-token:{v}@github.com/{org}/{proj}.git")],
           bodies=[lambda v: B(jdump({"token": v, "expires_at": iso(), "permissions": {"contents": "write", "metadata": "read"},
                                      "repository_selection": "selected"}), "application/json"),
                   lambda v: B("access_token=%s&expires_in=28800&refresh_token=%s&refresh_token_expires_in=15811200&scope=&token_type=bearer"
                               % (v, g_gh("ghr_")("real")), "application/x-www-form-urlencoded")])
    vendor(out, "gitlab-token", "bubnhu", g_gitlab, "GITLAB_TOKEN", "private_token", "GitLab", "PRIVATE-TOKEN", hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])], 
           hdrs=[HF("PRIVATE-TOKEN: {v}"), HB],
           urls=[UQ("https://gitlab.com/api/v4/projects?private_token={q}&membership=true"), UQ("https://oauth2:{v}@gitlab.com/{org}/{proj}.git")],
           bodies=[lambda v: B("concurrent = 4\n\n[[runners]]\n  name = \"%s-runner\"\n  url = \"https://gitlab.com/\"\n  token = \"%s\"\n  executor = \"docker\"\n" % (proj(), v), "application/toml")],
           variants=("filler",))
    vendor(out, "slack-token", "bbhubu", g_slack, "SLACK_BOT_TOKEN", "token", "Slack", hdrs=[HB],
           urls=[UQ("https://slack.com/api/conversations.list?token={q}&limit=200")],
           bodies=[lambda v: B("token=%s&channel=C0%s&text=deploy+finished" % (up.quote_plus(v), rs(UPP + DIG, 9)),
                               "application/x-www-form-urlencoded", pct_if(v))], variants=("filler",))
    vendor(out, "slack-webhook", "uubbu", g_slack_hook, "SLACK_WEBHOOK_URL", "webhook_url", "Slack",
           urls=[lambda v: (v, []), lambda v: (v, []), lambda v: ("https://%s%s?u=%s" % (ehost(), epath(), q(v)), ["pct"])],
           bodies=[lambda v: B(jdump({"notifications": {"on_failure": True, "slack_webhook_url": v}}), "application/json")],
           variants=("doc",))
    vendor(out, "stripe-secret-key", "bbhubu", g_stripe("sk"), "STRIPE_SECRET_KEY", "stripe_secret_key", "Stripe",
           hdrs=[HB, lambda v: ("Authorization: Basic " + b64(v + ":"), ["b64seg"])], variants=("doc", "filler", "doc"))
    vendor(out, "stripe-restricted-key", "bbhbu", g_stripe("rk"), "STRIPE_RESTRICTED_KEY", "stripe_key", "Stripe",
           hdrs=[HB], variants=("lenoff",))
    vendor(out, "stripe-webhook-secret", "bbbhb", simple("whsec_", ALNUM, 32), "STRIPE_WEBHOOK_SECRET",
           "webhook_secret", "Stripe", "X-Webhook-Secret", bearer=False, variants=("filler",))
    vendor(out, "openai-api-key", "bbbuhub", g_openai, "OPENAI_API_KEY", "api_key", "OpenAI", hdrs=[HB, HB],
           variants=("filler", "lenoff"))
    vendor(out, "anthropic-api-key", "bbhubu", g_anthropic, "ANTHROPIC_API_KEY", "api_key", "Anthropic", "x-api-key",
           bearer=False, hdrs=[HF("x-api-key: {v}"), HF("X-Api-Key: {v}")],
           bodies=[lambda v: B(jdump({"mcpServers": {"research": {"command": "npx", "args": ["-y", "@%s/mcp-research" % org()],
                                                                  "env": {"ANTHROPIC_API_KEY": v}}}}, 2), "application/json")],
           variants=("filler",))

    def presign(v):
        return ("https://%s-assets.s3.amazonaws.com/exports/%s.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s"
                "%%2F20240514%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20240514T101500Z&X-Amz-Expires=3600"
                "&X-Amz-SignedHeaders=host&X-Amz-Signature=%s" % (org(), uuid4(), v, rs(HEXL, 64))), []
    vendor(out, "aws-access-key-id", "bhunnnb", multi(g_akid("AKIA"), g_akid("AKIA"), g_akid("ASIA")), "AWS_ACCESS_KEY_ID",
           "aws_access_key_id", "AWS", "X-Amz-Access-Key", bearer=False,
           hdrs=[lambda v: ("Authorization: AWS4-HMAC-SHA256 Credential=%s/20240514/eu-west-1/s3/aws4_request, "
                            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s" % (v, rs(HEXL, 64)), [])],
           urls=[presign],
           bodies=[lambda v: B(jdump({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "accessKeyId": v,
                                                                                 "userName": user()}, "eventName": "ListBuckets",
                                      "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.%d" % R.randint(2, 250)}), "application/json")],
           hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), []), lambda v: ("%s.%s" % (v.lower(), oast_suffix()), ["upper"])],
           variants=("doc",))
    vendor(out, "google-api-key", "uubhbu", g_google_key, "GOOGLE_API_KEY", "key", "Google Maps", "X-Goog-Api-Key", bearer=False,
           hdrs=[HF("X-Goog-Api-Key: {v}")],
           urls=[UQ("https://maps.googleapis.com/maps/api/geocode/json?address=1600+Amphitheatre+Pkwy&key={q}"),
                 UQ("https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={q}"),
                 UQ("https://www.googleapis.com/youtube/v3/search?part=snippet&q=lofi&maxResults=25&key={q}")],
           bodies=[lambda v: B("const firebaseConfig = {\n  apiKey: \"%s\",\n  authDomain: \"%s.firebaseapp.com\",\n  projectId: \"%s\",\n  storageBucket: \"%s.appspot.com\",\n};\n" % (v, proj(), proj(), proj()), "application/javascript")],
           variants=("filler",))
    vendor(out, "google-oauth-client-secret", "bbunb", simple("GOCSPX-", B64U, 28), "GOOGLE_CLIENT_SECRET", "client_secret",
           "Google OAuth", hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])],
           urls=[UQ("https://oauth2.googleapis.com/token?client_id=" + q(google_client_id()) + "&client_secret={q}&grant_type=authorization_code&redirect_uri=http%3A%2F%2Flocalhost%3A8080")],
           bodies=[lambda v: B(jdump({"installed": {"client_id": google_client_id(), "project_id": proj() + "-%d" % R.randint(100, 999),
                                                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                                                    "token_uri": "https://oauth2.googleapis.com/token",
                                                    "client_secret": v, "redirect_uris": ["http://localhost"]}}), "application/json"),
                   lambda v: B("client_id=%s&client_secret=%s&grant_type=refresh_token&refresh_token=%s" % (
                       q(google_client_id()), q(v), q("1//0g" + rs(B64U, 98))), "application/x-www-form-urlencoded", pct_if(v))])
    vendor(out, "sendgrid-api-key", "bbuhu", lambda m: "SG." + rs(B64U, 22) + "." + rs(B64U, 43 if m != "lenoff" else 40),
           "SENDGRID_API_KEY", "api_key", "SendGrid", hdrs=[HB], variants=("lenoff",))
    vendor(out, "npm-token", "bbhub", simple("npm_", ALNUM, 36), "NPM_TOKEN", "npm_token", "npm", hdrs=[HB],
           bodies=[lambda v: B("//registry.npmjs.org/:_authToken=%s\n@%s:registry=https://npm.pkg.github.com/\nalways-auth=true\n" % (v, org())),
                   lambda v: B("nodeLinker: node-modules\nnpmRegistryServer: \"https://registry.npmjs.org\"\nnpmAuthToken: \"%s\"\n" % v, "application/yaml")],
           variants=("filler",))
    vendor(out, "pypi-token", "bbbhb", g_pypi, "PYPI_API_TOKEN", "password", "PyPI",
           hdrs=[BASIC("Authorization", "__token__")],
           bodies=[lambda v: B("[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % v),
                   lambda v: B("TWINE_USERNAME=__token__ TWINE_PASSWORD=%s twine upload dist/*\n" % v, "text/x-shellscript")])
    vendor(out, "huggingface-token", "bbhub", simple("hf_", UPP + LOW, 34), "HF_TOKEN", "hf_token", "Hugging Face", hdrs=[HB],
           urls=[UQ("https://{user}:{v}@huggingface.co/spaces/{org}/{proj}")],
           bodies=[lambda v: B("pip install -U huggingface_hub\nhuggingface-cli login --token %s --add-to-git-credential\n" % v, "text/x-shellscript")],
           variants=("lenoff",))
    vendor(out, "dockerhub-pat", "bbbhb", simple("dckr_pat_", B64U, 27), "DOCKERHUB_TOKEN", "docker_password", "Docker Hub",
           hdrs=[BASIC("Authorization", user)],
           bodies=[lambda v: B(jdump({"auths": {"https://index.docker.io/v1/": {"auth": b64("%s:%s" % (user(), v))}},
                                      "credsStore": ""}, 2), "application/json", ["b64seg"]),
                   lambda v: B("echo %s | docker login -u %s --password-stdin\n" % (v, user()), "text/x-shellscript")])
    vendor(out, "shopify-token", "bhbub", lambda m: pick(["shpat_", "shpat_", "shpca_", "shppa_", "shpss_"]) + rs(HEXL, 32),
           "SHOPIFY_ACCESS_TOKEN", "access_token", "Shopify", "X-Shopify-Access-Token", bearer=False,
           hdrs=[HF("X-Shopify-Access-Token: {v}")],
           urls=[lambda v: ("https://%s:%s@%s-store.myshopify.com/admin/api/2024-04/orders.json?status=any" % (rs(HEXL, 32), v, proj()), [])])
    vendor(out, "digitalocean-token", "bbuhu", lambda m: pick(["dop_v1_", "dop_v1_", "doo_v1_", "dor_v1_"]) + rs(HEXL, 64),
           "DIGITALOCEAN_TOKEN", "access-token", "DigitalOcean", hdrs=[HB],
           bodies=[lambda v: B("access-token: %s\ncontext: default\noutput: text\n" % v, "application/yaml")])
    vendor(out, "mailgun-api-key", "bhnnu", g_mailgun, "MAILGUN_API_KEY", "api_key", "Mailgun",
           hdrs=[BASIC("Authorization", "api")], hosts=[lambda v: (("%s.%s" % (v, oast_suffix())) if v.startswith("key-") else "", [])], variants=("doc",))
    vendor(out, "vault-token", "bhbub", lambda m: ("s." + rs(ALNUM, 24)) if m == "legacy" else g_vault(m), "VAULT_TOKEN",
           "vault_token", "Vault", "X-Vault-Token", bearer=False, hdrs=[HF("X-Vault-Token: {v}"), HF("X-Vault-Token: {v}")],
           bodies=[lambda v: B("export VAULT_ADDR=https://vault.%s.io:8200\nexport VAULT_TOKEN=%s\nvault kv get secret/%s\n" % (org(), v, proj()), "text/x-shellscript")],
           variants=("legacy",))
    vendor(out, "discord-bot-token", "bbhub", g_discord_bot, "DISCORD_BOT_TOKEN", "bot_token", "Discord", "Authorization",
           bearer=False, hdrs=[HF("Authorization: Bot {v}")],
           bodies=[lambda v: B("import discord\n\nclient = discord.Client(intents=discord.Intents.default())\nclient.run('%s')\n" % v, "text/x-python")],
           variants=("filler",))

    def g_dhook(mode):
        return "https://%s/api/webhooks/%s/%s" % (pick(["discord.com", "discord.com", "discordapp.com", "ptb.discord.com"]), snowflake(), rs(B64U, 68))
    vendor(out, "discord-webhook", "uubub", g_dhook, "DISCORD_WEBHOOK_URL", "webhook_url", "Discord",
           urls=[lambda v: (v, []), lambda v: (v + "?wait=true", []), lambda v: ("https://%s%s?to=%s" % (ehost(), epath(), q(v)), ["pct"])])
    vendor(out, "telegram-bot-token", "uubbu", g_telegram, "TELEGRAM_BOT_TOKEN", "bot_token", "Telegram",
           urls=[lambda v: ("https://api.telegram.org/bot%s/sendMessage?chat_id=-100%s&text=%s" % (v, rs(DIG, 10), q("build ok")), []),
                 lambda v: ("https://api.telegram.org/bot%s/getUpdates?offset=%d&timeout=30" % (v, R.randint(10 ** 8, 10 ** 9)), []),
                 lambda v: ("https://api.telegram.org/file/bot%s/documents/file_%d.txt" % (v, R.randint(1, 90)), [])],
           bodies=[lambda v: B("from telegram.ext import Application\n\napp = Application.builder().token(\"%s\").build()\napp.run_polling()\n" % v, "text/x-python")],
           variants=("doc",))
    vendor(out, "square-token", "bbuhu", g_square, "SQUARE_ACCESS_TOKEN", "access_token", "Square", hdrs=[HB])
    vendor(out, "postman-api-key", "bhubb", lambda m: "PMAK-%s-%s" % (rs(HEXL, 24), rs(HEXL, 34)), "POSTMAN_API_KEY",
           "postman_api_key", "Postman", "X-Api-Key", bearer=False, hdrs=[HF("X-Api-Key: {v}")],
           urls=[UQ("https://api.getpostman.com/collections?apikey={q}")])
    jwt_resp = lambda v: B(jdump({"access_token": v, "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile"}), "application/json")
    vendor(out, "jwt", "hubhubu", g_jwt, "ACCESS_TOKEN", "access_token", "Auth0",
           hdrs=[HB, lambda v: ("Cookie: sid=%s; access_token=%s" % (rs(HEXL, 24), v), []), HF("X-Auth-Token: {v}")],
           urls=[lambda v: ("https://app.%s.io/callback#access_token=%s&token_type=Bearer&expires_in=3600" % (org(), v), []),
                 lambda v: ("https://rt.%s.io/socket?token=%s" % (org(), v), [])],
           bodies=[jwt_resp, lambda v: B(jdump({"localStorage": {"theme": "dark", "auth.session": jc({"token": v, "user": user()})}}), "application/json")],
           validator="jwt", variants=("doc",))
    vendor(out, "atlassian-api-token", "bhbbu", g_atlassian, "JIRA_API_TOKEN", "api_token", "Jira",
           hdrs=[BASIC("Authorization", lambda: "%s@%s.com" % (user(), org()))],
           bodies=[lambda v: B("machine %s.atlassian.net\n  login %s@%s.com\n  password %s\n" % (org(), user(), org(), v))],
           variants=("lenoff",))
    vendor(out, "linear-api-key", "bhbbu", simple("lin_api_", ALNUM, 40), "LINEAR_API_KEY", "api_key", "Linear", "Authorization",
           bearer=False, hdrs=[HF("Authorization: {v}")], variants=("filler",))
    vendor(out, "sentry-token", "bbhbu", g_sentry, "SENTRY_AUTH_TOKEN", "auth_token", "Sentry", hdrs=[HB],
           bodies=[lambda v: B("[auth]\ntoken=%s\n\n[defaults]\norg=%s\nproject=web\n" % (v, org()))])
    vendor(out, "grafana-token", "bbuhu", g_grafana, "GRAFANA_SERVICE_ACCOUNT_TOKEN", "token", "Grafana", hdrs=[HB])
    vendor(out, "doppler-token", "bbuhu", g_doppler, "DOPPLER_TOKEN", "token", "Doppler", hdrs=[HB])
    vendor(out, "netlify-token", "bbuhu", simple("nfp_", ALNUM, 36), "NETLIFY_AUTH_TOKEN", "auth_token", "Netlify", hdrs=[HB],
           variants=("lenoff",))
    vendor(out, "newrelic-key", "bhnnb", g_newrelic, "NEW_RELIC_API_KEY", "api_key", "New Relic", "Api-Key", bearer=False,
           hdrs=[HF("Api-Key: {v}")], hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])])
    vendor(out, "databricks-token", "bnhnb", g_databricks, "DATABRICKS_TOKEN", "token", "Databricks", hdrs=[HB],
           bodies=[lambda v: B("[DEFAULT]\nhost = https://adb-%s.%d.azuredatabricks.net\ntoken = %s\n" % (rs(DIG, 16), R.randint(1, 19), v))],
           hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])])
    vendor(out, "pulumi-token", "bnhnb", simple("pul-", HEXL, 40), "PULUMI_ACCESS_TOKEN", "access_token", "Pulumi",
           hdrs=[HF("Authorization: token {v}")],
           bodies=[lambda v: B(jdump({"current": "https://api.pulumi.com", "accessTokens": {"https://api.pulumi.com": v},
                                      "accounts": {"https://api.pulumi.com": {"accessToken": v, "username": user()}}}, 4), "application/json")],
           hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])])
    vendor(out, "terraform-cloud-token", "bbhbu", g_terraform, "TF_TOKEN_app_terraform_io", "token", "Terraform Cloud", hdrs=[HB],
           bodies=[lambda v: B(jdump({"credentials": {"app.terraform.io": {"token": v}}}, 2), "application/json"),
                   lambda v: B("credentials \"app.terraform.io\" {\n  token = \"%s\"\n}\n" % v)], variants=("lenoff",))
    vendor(out, "tailscale-key", "bnhbu", g_tailscale, "TS_AUTHKEY", "authkey", "Tailscale", hosts=[lambda v: ("%s.%s" % (v, oast_suffix()), [])], hdrs=[HB],
           bodies=[lambda v: B("curl -fsSL https://tailscale.com/install.sh | sh\nsudo tailscale up --authkey=%s --hostname=ci-runner-%d\n" % (v, R.randint(1, 50)), "text/x-shellscript")])
    vendor(out, "planetscale-token", "bbubh", g_planetscale, "PLANETSCALE_SERVICE_TOKEN", "service_token", "PlanetScale",
           "Authorization", bearer=False, hdrs=[lambda v: ("Authorization: %s:%s" % (rs(LOW + DIG, 12), v), [])],
           bodies=[lambda v: B("DATABASE_URL=mysql://%s:%s@aws.connect.psdb.cloud/%s?sslaccept=strict\n" % (rs(LOW + DIG, 12), v, proj()))])
    vendor(out, "flyio-token", "bbhbu", g_fly, "FLY_API_TOKEN", "api_token", "Fly.io", "Authorization", bearer=False,
           hdrs=[lambda v: ("Authorization: " + (v if v.startswith("FlyV1") else "Bearer " + v), [])])
    vendor(out, "replicate-token", "bbuhu", simple("r8_", ALNUM, 37), "REPLICATE_API_TOKEN", "api_token", "Replicate",
           hdrs=[HF("Authorization: Token {v}")], variants=("filler",))
    vendor(out, "groq-api-key", "bbhbu", simple("gsk_", ALNUM, 52), "GROQ_API_KEY", "api_key", "Groq", hdrs=[HB],
           bodies=[lambda v: B("from openai import OpenAI\n\nclient = OpenAI(base_url=\"https://api.groq.com/openai/v1\", api_key=\"%s\")\n" % v, "text/x-python")])
    vendor(out, "perplexity-api-key", "bbuhu", simple("pplx-", ALNUM, 48), "PERPLEXITY_API_KEY", "api_key", "Perplexity",
           hdrs=[HB], variants=("lenoff",))
    vendor(out, "langsmith-api-key", "bbuhu", g_langsmith, "LANGSMITH_API_KEY", "api_key", "LangSmith", "x-api-key",
           bearer=False, hdrs=[HF("x-api-key: {v}")])
    vendor(out, "mapbox-secret-token", "bubub", g_mapbox, "MAPBOX_SECRET_TOKEN", "access_token", "Mapbox",
           urls=[UQ("https://api.mapbox.com/uploads/v1/{user}?access_token={q}"), UQ("https://api.mapbox.com/tokens/v2/{user}?access_token={q}")],
           bodies=[lambda v: B("machine api.mapbox.com\n  login mapbox\n  password %s\n" % v)])
    vendor(out, "airtable-pat", "bbhbu", g_airtable, "AIRTABLE_API_KEY", "api_key", "Airtable", hdrs=[HB])
    vendor(out, "okta-api-token", "bhubb", simple("00", B64U, 40), "OKTA_API_TOKEN", "api_token", "Okta", "Authorization", named=True, 
           bearer=False, hdrs=[HF("Authorization: SSWS {v}"), HF("Authorization: SSWS {v}")],
           bodies=[lambda v: B("provider \"okta\" {\n  org_name  = \"%s\"\n  base_url  = \"okta.com\"\n  api_token = \"%s\"\n}\n" % (org(), v))])
    vendor(out, "heroku-api-key", "bbhub", g_heroku, "HEROKU_API_KEY", "api_key", "Heroku", hdrs=[HB], named=True,
           bodies=[lambda v: B("machine api.heroku.com\n  login %s@%s.com\n  password %s\nmachine git.heroku.com\n  login %s@%s.com\n  password %s\n" % (
               user(), org(), v, user(), org(), v))], variants=("legacy",))

    def g_cf(mode):
        k = R.randrange(5)
        if k == 3:
            return rs(HEXL, 37)
        if k == 4:
            return "v1.0-%s-%s" % (rs(HEXL, 24), rs(HEXL, 146))
        return rs(B64U, 40)
    vendor(out, "cloudflare-api-token", "bbhub", g_cf, "CLOUDFLARE_API_TOKEN", "api_token", "Cloudflare", "X-Auth-Key", named=True,
           hdrs=[lambda v: (("X-Auth-Key: " if re.fullmatch(r"[0-9a-f]{37}", v) else "Authorization: Bearer ") + v, [])],
           bodies=[lambda v: B("name = \"%s-worker\"\nmain = \"src/index.ts\"\naccount_id = \"%s\"\napi_token = \"%s\"\n" % (proj(), rs(HEXL, 32), v), "application/toml")])
    vendor(out, "datadog-api-key", "bhhub", lambda m: rs(HEXL, pick([32, 32, 40])), "DD_API_KEY", "api_key", "Datadog", "DD-API-KEY",
           bearer=False, named=True, hdrs=[HF("DD-API-KEY: {v}"), HF("DD-APPLICATION-KEY: {v}")],
           urls=[UQ("https://http-intake.logs.datadoghq.com/api/v2/logs?dd-api-key={q}&ddsource=nodejs&service={proj}")],
           bodies=[lambda v: B("api_key: %s\nsite: datadoghq.eu\nlogs_enabled: true\n" % v, "application/yaml")])
    vendor(out, "age-secret-key", "bbbub", g_age, "SOPS_AGE_KEY", "age_key", "SOPS",
           bodies=[lambda v: B("# created: %s\n# public key: %s\n%s\n" % (iso()[:19] + "Z", age_public(), v)),
                   lambda v: B("export SOPS_AGE_KEY=%s\nsops -d secrets.enc.yaml > secrets.yaml\n" % v, "text/x-shellscript")],
           validator="age")
    vendor(out, "supabase-service-key", "bbhub", g_supabase, "SUPABASE_SERVICE_ROLE_KEY", "service_role_key", "Supabase", "apikey",
           bearer=True, hdrs=[HF("apikey: {v}")],
           urls=[lambda v: ("https://%s.supabase.co/rest/v1/profiles?select=*&apikey=%s" % (rs(LOW, 20), q(v)), pct_if(v))],
           bodies=[lambda v: B("import { createClient } from '@supabase/supabase-js'\n\nconst supabase = createClient('https://%s.supabase.co', '%s')\n" % (rs(LOW, 20), v), "application/javascript")])


def P(where, text, ct=None, ce=None, layers=(), secrets=()):
    return where, text, ct, ce, list(layers), list(secrets)


def build_custom(out):
    # ---- AWS secret access key (with or without key id) ----
    def pair(doc=False):
        if doc:
            return pick([("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                         ("AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")])
        return g_akid()("real"), aws_secret()

    def a1():
        a, s = pair(True)
        return P("body", "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = us-east-1\n" % (a, s), "text/plain", secrets=[a, s])

    def a2():
        a, s = pair()
        return P("body", "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_DEFAULT_REGION=eu-central-1\naws s3 ls\n" % (a, s), "text/x-shellscript", secrets=[a, s])

    def a3():
        a, s = pair()
        return P("body", jdump({"AccessKey": {"UserName": "ci-" + proj(), "AccessKeyId": a, "Status": "Active",
                                              "SecretAccessKey": s, "CreateDate": iso()[:19] + "+00:00"}}, 4), "application/json", secrets=[a, s])

    def a4():
        a, s = pair()
        return P("body", "import boto3\n\ns3 = boto3.client(\n    's3',\n    aws_access_key_id='%s',\n    aws_secret_access_key='%s',\n)\n" % (a, s), "text/x-python", secrets=[a, s])

    def a5():
        a, s = pair()
        t = "[%s-s3]\ntype = s3\nprovider = AWS\nenv_auth = false\naccess_key_id = %s\nsecret_access_key = %s\nregion = us-west-2\n" % (proj(), a, s)
        return P("body", t, "text/plain", "gzip", secrets=[s])

    def a6():
        a, s = pair()
        return P("url", "https://%s%s?k=%s&s=%s&r=us-east-1" % (ehost(), epath(), a, q(s)), layers=pct_if(s), secrets=[a, s])

    def a7():
        a, s = pair()
        return P("header", "X-Aws-Credentials: " + b64(jc({"accessKeyId": a, "secretAccessKey": s, "region": "us-east-2"})), layers=["b64seg"], secrets=[s])
    custom(out, "aws-secret-access-key", [a1, a3, a4, a5, a6, a7])

    # ---- AWS session token ----
    def sess():
        return "ASIA" + rs(B32A, 16), aws_secret(), aws_session()

    def s1():
        a, s, t = sess()
        return P("body", jdump({"Code": "Success", "LastUpdated": iso()[:19] + "Z", "Type": "AWS-HMAC", "AccessKeyId": a,
                                "SecretAccessKey": s, "Token": t, "Expiration": iso()[:19] + "Z"}, 2), "application/json", secrets=[s, t])

    def s2():
        a, s, t = sess()
        return P("header", "X-Amz-Security-Token: " + t, secrets=[t])

    def s3():
        a, s, t = sess()
        u = ("https://%s-uploads.s3.us-west-2.amazonaws.com/%s.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F20240601%%2Fus-west-2%%2Fs3%%2Faws4_request"
             "&X-Amz-Date=20240601T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=%s&X-Amz-SignedHeaders=host&X-Amz-Signature=%s") % (
            org(), proj(), a, q(t), rs(HEXL, 64))
        return P("url", u, layers=["pct"], secrets=[t])

    def s4():
        a, s, t = sess()
        return P("body", "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_SESSION_TOKEN=%s\n" % (a, s, t), "text/plain", secrets=[s, t])

    def s5():
        a, s, t = sess()
        c = Ctx("AWS_SESSION_TOKEN", "aws_session_token", "AWS", t)
        txt, ct, ce, lay, sec = generic_body(c, t, enc="b64gz")
        return P("body", txt, ct, ce, lay, sec)
    custom(out, "aws-session-token", [s1, s2, s3, s4, s5])

    # ---- Twilio ----
    def tw_ac():
        return "AC" + rs(HEXL, 32)

    def t1():
        tok = rs(HEXL, 32)
        return P("body", "TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\nTWILIO_FROM=+1415555%04d\n" % (tw_ac(), tok, R.randrange(10000)), "text/plain", secrets=[tok])

    def t2():
        sid, sec = "SK" + rs(HEXL, 32), rs(ALNUM, 32)
        return P("body", "from twilio.rest import Client\n\nclient = Client(\"%s\", \"%s\", \"%s\")\n" % (sid, sec, tw_ac()), "text/x-python", secrets=[sid, sec])

    def t3():
        sid, sec = "SK" + rs(HEXL, 32), rs(ALNUM, 32)
        return P("header", "Authorization: Basic " + b64(sid + ":" + sec), layers=["b64seg"], secrets=[sid, sec])

    def t4():
        sid, sec = "SK" + rs(HEXL, 32), rs(ALNUM, 32)
        return P("body", jdump({"twilio": {"accountSid": tw_ac(), "apiKey": sid, "apiSecret": sec}}), "application/json", secrets=[sec])

    def t5():
        ac, tok = tw_ac(), rs(HEXL, 32)
        return P("url", "https://%s:%s@api.twilio.com/2010-04-01/Accounts/%s/Messages.json?PageSize=20" % (ac, tok, ac), secrets=[tok])
    custom(out, "twilio-api-key", [t1, t2, t3, t4, t5])

    # ---- Azure storage connection string ----
    def conn(doc=False):
        if doc:
            return ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;" % AZURITE_KEY), AZURITE_KEY
        k = b64(rbytes(64))
        return "DefaultEndpointsProtocol=https;AccountName=%s%s%02d;AccountKey=%s;EndpointSuffix=core.windows.net" % (
            org().replace("-", ""), pick(["prod", "store", "data", "logs"]), R.randrange(100), k), k

    def z1():
        s, k = conn(True)
        return P("body", jdump({"IsEncrypted": False, "Values": {"AzureWebJobsStorage": s, "FUNCTIONS_WORKER_RUNTIME": "dotnet-isolated"}}, 2), "application/json", secrets=[k])

    def z2():
        s, k = conn()
        return P("body", jdump({"ConnectionStrings": {"Storage": s}, "Logging": {"LogLevel": {"Default": "Information"}}}, 2), "application/json", secrets=[k])

    def z3():
        s, k = conn()
        return P("body", "AZURE_STORAGE_CONNECTION_STRING=\"%s\"\n" % s, "text/plain", secrets=[k])

    def z4():
        s, k = conn()
        return P("body", "from azure.storage.blob import BlobServiceClient\n\nsvc = BlobServiceClient.from_connection_string(\"%s\")\n" % s, "text/x-python", "deflate", secrets=[k])

    def z5():
        s, k = conn()
        return P("url", "https://%s%s?conn=%s" % (ehost(), epath(), q(s)), layers=["pct"], secrets=[k])
    custom(out, "azure-storage-connection-string", [z1, z2, z3, z4, z5])

    # ---- Azure SAS ----
    def sas(account=False):
        sig = b64(rbytes(32))
        if account:
            return ("sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2025-12-31T23:59:59Z&st=2024-01-01T00:00:00Z&spr=https&sig=" + q(sig)), sig
        return ("sv=2023-11-03&st=2024-05-01T10%%3A00%%3A00Z&se=2024-06-01T10%%3A00%%3A00Z&sr=b&sp=r&sig=%s" % q(sig)), sig

    def acct():
        return org().replace("-", "") + pick(["prod", "media", "backup"]) + rs(DIG, 2)

    def y1():
        t, sig = sas()
        return P("url", "https://%s.blob.core.windows.net/%s/%s.pdf?%s" % (acct(), pick(["invoices", "exports", "media"]), uuid4(), t), layers=["pct"], secrets=[sig])

    def y2():
        t, sig = sas(True)
        return P("url", "https://%s.blob.core.windows.net/backups?restype=container&comp=list&%s" % (acct(), t), layers=["pct"], secrets=[sig])

    def y3():
        t, sig = sas(True)
        return P("body", "AZURE_STORAGE_ACCOUNT=%s\nAZURE_STORAGE_SAS_TOKEN=\"?%s\"\n" % (acct(), t), "text/plain", layers=["pct"], secrets=[sig])

    def y4():
        t, sig = sas()
        return P("header", "x-ms-copy-source: https://%s.blob.core.windows.net/src/%s.bak?%s" % (acct(), proj(), t), layers=["pct"], secrets=[sig])

    def y5():
        t, sig = sas()
        u = "https://%s.blob.core.windows.net/share/%s.zip?%s" % (acct(), proj(), t)
        return P("url", "https://%s%s?u=%s" % (ehost(), epath(), q(u)), layers=["pct", "pct"], secrets=[sig])
    custom(out, "azure-sas-token", [y1, y2, y3, y4, y5])

    # ---- HTTP Basic ----
    def cred():
        return pick([user(), "%s@%s.com" % (user(), org()), "admin", "deploy", "svc-" + proj(), "jenkins"]), gen_password()

    def hb(name, lower=False):
        def f():
            u, p = cred()
            return P("header", "%s: %s %s" % (name, "basic" if lower else "Basic", b64(u + ":" + p)), layers=["b64seg"], secrets=[u + ":" + p])
        return f

    def hb_har():
        u, p = cred()
        o = {"log": {"version": "1.2", "entries": [{"request": {"method": "GET", "url": "https://jenkins.%s.io/api/json" % org(),
                                                               "headers": [{"name": "Authorization", "value": "Basic " + b64(u + ":" + p)}]}}]}}
        return P("body", jdump(o), "application/json", layers=["b64seg"], secrets=[u + ":" + p])

    def hb_curl():
        u, p = cred()
        return P("body", "curl -u '%s:%s' https://nexus.%s.io/service/rest/v1/repositories\n" % (u, p, org()), "text/x-shellscript", secrets=[u + ":" + p])

    def hb_mcp():
        u, p = cred()
        o = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "fetch", "arguments": {
            "url": "https://grafana.%s.io/api/dashboards/home" % org(), "headers": {"Authorization": "Basic " + b64(u + ":" + p)}}}}
        return P("body", jdump(o), "application/json", layers=["b64seg"], secrets=[u + ":" + p])
    custom(out, "http-basic-auth", [hb("Authorization"), hb("Proxy-Authorization"), hb("Authorization", True), hb_har,
                                     hb_curl, hb_mcp], validator="basic")

    # ---- opaque bearer tokens ----
    def opaque():
        k = R.randrange(4)
        if k == 0:
            return "ya29.a0A" + rs(B64U, R.randint(140, 180))
        if k == 1:
            return rs(ALNUM, 48)
        return rs(B64U, R.randint(40, 64))

    def bh(fmt):
        def f():
            v = opaque()
            return P("header", fmt % v, secrets=[v])
        return f

    def bb1():
        v = opaque()
        return P("body", "curl -H 'Authorization: Bearer %s' https://%s/v1/reports?limit=50\n" % (v, corp_host()), "text/x-shellscript", secrets=[v])

    def bb2():
        v = opaque()
        return P("body", jdump({"source": {"type": "http", "url": "https://%s/export" % corp_host(), "auth": {"type": "bearer", "token": v}}}), "application/json", secrets=[v])
    custom(out, "bearer-token", [bh("Authorization: Bearer %s"), bh("authorization: Bearer %s"), bb1, bh("Authorization: Bearer %s"), bb2,
                                 bh("Authorization: Bearer %s")])

    # ---- database URLs with passwords ----
    def dbpw():
        return rs(ALNUM, R.randint(16, 28)) if chance(0.5) else gen_password()

    def dburl():
        scheme, port = pick([("postgres", 5432), ("postgresql", 5432), ("mysql", 3306), ("mongodb+srv", None), ("redis", 6379),
                             ("amqps", 5671), ("rediss", 6380), ("mssql", 1433)])
        u = pick(["app", "admin", "svc_" + proj(), "root", "readonly"]) if scheme not in ("redis", "rediss") or chance(0.5) else ""
        pw = dbpw()
        host = pick(["db.%s.internal" % org(), "%s-prod.cluster-%s.eu-west-1.rds.amazonaws.com" % (proj(), rs(LOW + DIG, 12)),
                     "cluster0.%s.mongodb.net" % rs(LOW + DIG, 5), "10.0.%d.%d" % (R.randint(0, 9), R.randint(2, 250)), "%s-cache.%s.io" % (proj(), org())])
        tail = "/" + proj() if scheme not in ("redis", "rediss") else "/%d" % R.randint(0, 5)
        url = "%s://%s:%s@%s%s%s" % (scheme, u, q(pw), host, (":%d" % port) if port else "", tail)
        return url, pw

    def dbt(wrap, ct="text/plain", where="body"):
        def f():
            url, pw = dburl()
            return P(where, wrap(url), ct, layers=pct_if(pw), secrets=[pw])
        return f

    def db_url():
        url, pw = dburl()
        return P("url", "https://%s/admin/connect?dsn=%s" % (ehost(), q(url)), layers=["pct"] + pct_if(pw), secrets=[pw])

    def db_jdbc():
        pw = dbpw()
        return P("body", "spring.datasource.url=jdbc:postgresql://db.%s.internal:5432/%s?user=app&password=%s&ssl=true\n" % (org(), proj(), q(pw)),
                 "text/x-java-properties", layers=pct_if(pw), secrets=[pw])
    custom(out, "database-url-password", [
        dbt(lambda u: "DATABASE_URL=%s\nREDIS_URL=redis://localhost:6379/0\n" % u),
        dbt(lambda u: "services:\n  api:\n    image: %s/api:latest\n    environment:\n      DATABASE_URL: \"%s\"\n" % (org(), u), "application/yaml"),
        dbt(lambda u: "from sqlalchemy import create_engine\n\nengine = create_engine(\"%s\", pool_size=5)\n" % u, "text/x-python"),
        dbt(lambda u: jdump({"database": {"url": u, "pool": 10}}), "application/json"),
        db_url, db_jdbc])

    # ---- URL userinfo passwords ----
    def ui(fmt, where="url"):
        def f():
            u, p = pick([user(), "deploy", "ci", "admin", "build"]), gen_password()
            return P(where, fmt % (u, q(p)), "text/plain" if where == "body" else None, layers=pct_if(p), secrets=[p])
        return f
    custom(out, "url-userinfo-password", [
        ui("https://%%s:%%s@git.%s.io/%s/%s.git/info/refs?service=git-upload-pack" % (org(), org(), proj())),
        ui("https://%%s:%%s@nexus.%s.io/repository/maven-releases/com/%s/app/1.2.0/app-1.2.0.jar" % (org(), org().replace("-", ""))),
        ui("http://%%s:%%s@jenkins.%s.net:8080/job/%s/build?delay=0sec" % (org(), proj())),
        ui("git remote add origin https://%%s:%%s@git.%s.io/%s/%s.git\ngit push -u origin main\n" % (org(), org(), proj()), "body"),
        ui("https://%%s:%%s@registry.%s.io/v2/_catalog?n=100" % org())])

    # ---- generic API keys in named fields ----
    def gk():
        return pick([rs(ALNUM, 32), rs(HEXL, 32), rs(ALNUM + "-_", 40), rs(ALNUM, 40)])

    def g_(where, fmt, ct=None, quote=False):
        def f():
            v = gk()
            return P(where, fmt % (q(v) if quote else v), ct, layers=(pct_if(v) if quote else []), secrets=[v])
        return f
    custom(out, "generic-api-key", [
        g_("body", "WEATHER_API_KEY=%s\nWEATHER_UNITS=metric\n", "text/plain"),
        g_("url", "https://api.%s.io/v2/forecast?city=Berlin&days=5&api_key=%%s" % org(), quote=True),
        g_("body", "{\"service\": \"geocoder\", \"apiKey\": \"%s\", \"timeout\": 5}", "application/json"),
        g_("url", "https://data.%s.com/v1/export?format=csv&apikey=%%s" % org(), quote=True),
        g_("header", "Ocp-Apim-Subscription-Key: %s"),
        g_("body", "integrations:\n  translator:\n    api_secret: %s\n    region: westeurope\n", "application/yaml")])

    # ---- passwords in named fields ----
    def pw_t(fn):
        def f():
            return fn(gen_password())
        return f

    def pw_form(p):
        e = up.quote_plus(p)
        return P("body", "username=%s&password=%s&remember=on" % (user(), e), "application/x-www-form-urlencoded", layers=(["form"] if e != p else []), secrets=[p])

    def pw_json(p):
        return P("body", jdump({"username": "%s@%s.com" % (user(), org()), "password": p, "mfa": None}), "application/json", secrets=[p])

    def pw_yaml(p):
        return P("body", "spring:\n  datasource:\n    url: jdbc:mysql://db.%s.internal:3306/%s\n    username: app\n    password: \"%s\"\n" % (org(), proj(), p), "application/yaml", secrets=[p])

    def pw_xml(p):
        e = html.escape(p)
        return P("body", "<settings>\n  <servers>\n    <server>\n      <id>%s-releases</id>\n      <username>deploy</username>\n      <password>%s</password>\n    </server>\n  </servers>\n</settings>\n" % (org(), e),
                 "application/xml", layers=(["html"] if e != p else []), secrets=[p])

    def pw_url(p):
        return P("url", "https://intranet.%s.com/login.cgi?user=%s&password=%s" % (org(), user(), q(p)), layers=pct_if(p), secrets=[p])

    def pw_shell(p):
        return P("body", "PGPASSWORD='%s' psql -h db.%s.internal -U app -d %s -c 'select 1'\n" % (p, org(), proj()), "text/x-shellscript", secrets=[p])

    def pw_chat(p):
        msg = CHAT_PW[CHATPW_LANGS.next()].format(svc=pick(["Grafana", "Jenkins", "WordPress", "Kibana", "pfSense"]), u=user(), v=p)
        o = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": msg}]}
        return P("body", jdump(o), "application/json", secrets=[p])

    def pw_ini(p):
        return P("body", "[smtp]\nhost = smtp.%s.com\nport = 587\nuser = noreply@%s.com\npassword = %s\n" % (org(), org(), p), "text/plain", "gzip", secrets=[p])
    custom(out, "password-field", [pw_t(x) for x in (pw_form, pw_json, pw_yaml, pw_xml, pw_url, pw_shell, pw_chat, pw_ini)])


TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117",
              "3566002020360505", "30569309025904", "5105105105105100", "4000056655665556", "2223003122003222"]


def card_number(net=None):
    net = net or pick(["visa", "visa", "mc", "mc", "amex", "discover", "jcb", "diners", "unionpay", "maestro"])
    if net == "visa":
        return luhn_complete("4", pick([16, 16, 16, 19]))
    if net == "mc":
        return luhn_complete(pick(["51", "52", "53", "54", "55", str(R.randint(2221, 2720))]), 16)
    if net == "amex":
        return luhn_complete(pick(["34", "37"]), 15)
    if net == "discover":
        return luhn_complete(pick(["6011", "65", str(R.randint(644, 649))]), 16)
    if net == "jcb":
        return luhn_complete(str(R.randint(3528, 3589)), 16)
    if net == "diners":
        return luhn_complete(pick(["36", "38", str(R.randint(300, 305))]), 14)
    if net == "unionpay":
        return luhn_complete("62", pick([16, 17, 18, 19]))
    return luhn_complete(pick(["6759", "5018", "5020", "6304"]), pick([16, 18, 19]))


def fmt_card(d, style):
    if style == "plain":
        return d
    sep = " " if style == "space" else "-"
    if len(d) == 15:
        g = [d[:4], d[4:10], d[10:]]
    elif len(d) == 14:
        g = [d[:4], d[4:10], d[10:]]
    else:
        g = [d[i:i + 4] for i in range(0, len(d), 4)]
    return sep.join(g)


CARD_CHAT = {
    "en": "Please charge my card {c}, exp {e}, CVC {v}. Thanks!",
    "de": "Bitte belasten Sie meine Karte {c}, gültig bis {e}, Prüfnummer {v}.",
    "fr": "Merci de débiter ma carte {c}, expiration {e}, cryptogramme {v}.",
    "es": "Por favor cobren a mi tarjeta {c}, vence {e}, CVV {v}.",
    "ja": "カード番号は {c}、有効期限 {e}、セキュリティコード {v} です。",
    "pt": "Pode cobrar no meu cartão {c}, validade {e}, CVV {v}.",
}

IBAN_BBAN = {
    "DE": lambda: rs(DIG, 18), "GB": lambda: rs(UPP, 4) + rs(DIG, 14), "FR": lambda: rs(DIG, 10) + rs(UPP + DIG, 11) + rs(DIG, 2),
    "ES": lambda: rs(DIG, 20), "IT": lambda: rs(UPP, 1) + rs(DIG, 10) + rs(UPP + DIG, 12), "NL": lambda: rs(UPP, 4) + rs(DIG, 10),
    "BE": lambda: rs(DIG, 12), "CH": lambda: rs(DIG, 5) + rs(UPP + DIG, 12), "AT": lambda: rs(DIG, 16), "PL": lambda: rs(DIG, 24),
    "SE": lambda: rs(DIG, 20), "NO": lambda: rs(DIG, 11), "DK": lambda: rs(DIG, 14), "IE": lambda: rs(UPP, 4) + rs(DIG, 14),
    "PT": lambda: rs(DIG, 21), "FI": lambda: rs(DIG, 14), "LU": lambda: rs(DIG, 3) + rs(UPP + DIG, 13),
}
IBAN_DOCS = ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", "NL91ABNA0417164300",
             "CH9300762011623852957", "BE68539007547034"]


def make_iban(doc=False):
    if doc:
        return pick(IBAN_DOCS)
    cc = pick(list(IBAN_BBAN))
    s = iban_make(cc, IBAN_BBAN[cc]())
    assert iban_ok(s), s
    return s


def group4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


BTC_DOCS = ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"]


def btc_addr(kind=None):
    kind = kind or pick(["p2pkh", "p2sh", "wpkh", "wsh", "tr"])
    if kind == "p2pkh":
        return b58check(0, rbytes(20))
    if kind == "p2sh":
        return b58check(5, rbytes(20))
    if kind == "wpkh":
        return segwit_addr("bc", 0, rbytes(20))
    if kind == "wsh":
        return segwit_addr("bc", 0, rbytes(32))
    return segwit_addr("bc", 1, rbytes(32))


ETH_DOCS = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]


def eth_addr(mixed=True):
    h = rbytes(20).hex()
    return eip55(h) if mixed else "0x" + h


def build_financial(out):
    # ---- payment cards ----
    def exp():
        return "%02d/%02d" % (R.randint(1, 12), R.randint(25, 31))

    def cvc(d):
        return rs(DIG, 4 if len(d) == 15 else 3)

    def c_json(doc=False):
        def f():
            d = pick(TEST_CARDS) if doc else card_number()
            c = fmt_card(d, pick(["plain", "space"]))
            o = {"amount": R.randint(500, 90000), "currency": pick(["usd", "eur", "gbp"]),
                 "payment_method": {"card": {"number": c, "exp_month": R.randint(1, 12), "exp_year": R.randint(2025, 2031), "cvc": cvc(d)}}}
            return P("body", jdump(o), "application/json", secrets=[c])
        return f

    def c_csv():
        rows, secs = ["name,card_number,expiry,zip"], []
        for _ in range(3):
            d = card_number()
            c = fmt_card(d, pick(["plain", "dash"]))
            rows.append("%s %s,%s,%s,%05d" % (user().title(), pick(["Smith", "Müller", "Garcia", "Kowalski", "Tanaka"]), c, exp(), R.randrange(100000)))
            secs.append(c)
        return P("body", "\n".join(rows) + "\n", "text/csv", secrets=secs)

    def c_form(doc=False):
        def f():
            d = pick(TEST_CARDS) if doc else card_number()
            c = fmt_card(d, "space")
            return P("body", "cardnumber=%s&exp-date=%s&cvc=%s&name=%s" % (up.quote_plus(c), q(exp()), cvc(d), up.quote_plus(user().title() + " Doe")),
                     "application/x-www-form-urlencoded", layers=["form"], secrets=[c])
        return f

    def c_chat():
        d = card_number()
        c = fmt_card(d, pick(["space", "dash", "plain"]))
        lang = pick(list(CARD_CHAT))
        return P("body", CARD_CHAT[lang].format(c=c, e=exp(), v=cvc(d)) + "\n", "text/plain; charset=utf-8", secrets=[c])

    def c_url():
        d = card_number()
        return P("url", "https://pay.%s-shop.com/checkout/confirm?pan=%s&exp=%s&order=%d" % (org(), d, exp().replace("/", ""), R.randint(10 ** 5, 10 ** 6)), secrets=[d])

    def c_url2():
        d = card_number()
        c = fmt_card(d, "dash")
        return P("url", "https://%s%s?cc=%s&h=%s" % (ehost(), epath(), c, rs(LOW, 6)), secrets=[c])

    def c_host(style):
        def f():
            d = card_number(pick(["visa", "mc", "amex", "discover"]))
            c = fmt_card(d, style)
            return P("hostname", "%s.%s" % (c, oast_suffix()), secrets=[c])
        return f

    def c_hdr():
        d = pick(TEST_CARDS)
        return P("header", "X-Card-Number: " + d, secrets=[d])

    def c_llm():
        d = card_number()
        c = fmt_card(d, "space")
        o = {"model": "claude-3-5-haiku-latest", "max_tokens": 512, "messages": [{"role": "user", "content":
             "Fill in the checkout form for me. Name: %s Doe, card %s, expiry %s, security code %s." % (user().title(), c, exp(), cvc(d))}]}
        return P("body", jdump(o), "application/json", secrets=[c])
    custom(out, "payment-card", [c_json(True), c_csv, c_form(), c_chat, c_url, c_url2, c_host("plain"), c_host("dash"), c_host("plain"), c_hdr, c_llm], validator="card")

    # ---- IBAN ----
    def i_json(doc=False):
        def f():
            s = make_iban(doc)
            v = pick([s, group4(s)])
            o = {"beneficiary": {"name": "%s GmbH" % org().title(), "iban": v, "bic": rs(UPP, 6) + rs(UPP + DIG, 2)},
                 "amount": {"value": "%d.%02d" % (R.randint(10, 9000), R.randrange(100)), "currency": "EUR"}, "reference": "INV-%d" % R.randint(1000, 9999)}
            return P("body", jdump(o), "application/json", secrets=[v])
        return f

    def i_xml():
        s = make_iban()
        t = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">\n"
             "  <CstmrCdtTrfInitn>\n    <PmtInf>\n      <CdtTrfTxInf>\n        <Amt><InstdAmt Ccy=\"EUR\">%d.00</InstdAmt></Amt>\n"
             "        <CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>\n      </CdtTrfTxInf>\n    </PmtInf>\n  </CstmrCdtTrfInitn>\n</Document>\n") % (R.randint(50, 5000), s)
        return P("body", t, "application/xml", secrets=[s])

    IB_CHAT = ["Bitte überweisen Sie den Betrag auf mein Konto: IBAN {i}, Kontoinhaber {n}.",
               "Merci d'effectuer le virement sur l'IBAN {i} au nom de {n}.",
               "Puede transferir el importe a la cuenta IBAN {i} (titular: {n}).",
               "Graag het bedrag overmaken naar IBAN {i} t.n.v. {n}.",
               "Please wire the deposit to IBAN {i}, account holder {n}."]

    def i_chat():
        s = make_iban()
        v = group4(s)
        return P("body", pick(IB_CHAT).format(i=v, n=user().title() + " " + pick(["Weber", "Martin", "López", "de Vries", "Brown"])) + "\n", "text/plain; charset=utf-8", secrets=[v])

    def i_form():
        s = make_iban(True)
        v = group4(s)
        return P("body", "holder=%s&iban=%s&save=1" % (up.quote_plus(user().title()), up.quote_plus(v)), "application/x-www-form-urlencoded", layers=["form"], secrets=[v])

    def i_url():
        s = make_iban()
        return P("url", "https://banking.%s.eu/api/v1/payees/validate?iban=%s&country=%s" % (org(), s, s[:2]), secrets=[s])

    def i_host():
        s = make_iban()
        return P("hostname", "%s.%s" % (s.lower(), oast_suffix()), layers=["upper"], secrets=[s])

    def i_csv():
        s = make_iban()
        return P("body", "employee_id,name,iban,salary\n%d,%s,%s,%d\n" % (R.randint(1000, 9999), user().title(), s, R.randint(30000, 120000)), "text/csv", "gzip", secrets=[s])
    custom(out, "iban", [i_json(True), i_xml, i_chat, i_form, i_url, i_host, i_host, i_csv], validator="iban")

    # ---- Bitcoin ----
    def b_json(doc=False):
        def f():
            a = pick(BTC_DOCS) if doc else btc_addr()
            return P("body", jdump({"asset": "BTC", "network": "bitcoin", "address": a, "amount": "0.%05d" % R.randrange(100000), "memo": None}), "application/json", secrets=[a])
        return f

    def b_chat():
        a = btc_addr()
        return P("body", pick(["Send 0.05 BTC to {a} and I'll release the files.", "Envoie 0,01 BTC à l'adresse {a} stp.",
                               "Schick bitte 0.02 BTC an {a}, danke!", "请把 0.03 BTC 转到 {a}"]).format(a=a) + "\n", "text/plain; charset=utf-8", secrets=[a])

    def b_uri():
        a = btc_addr(pick(["wpkh", "p2pkh"]))
        return P("body", "<a href=\"bitcoin:%s?amount=0.0025&amp;label=donation\">Donate</a>\n" % a, "text/html", secrets=[a])

    def b_url():
        a = btc_addr()
        return P("url", "https://mempool.space/api/address/%s/txs" % a, secrets=[a])

    def b_url2():
        a = btc_addr()
        return P("url", "https://%s%s?wallet=%s" % (ehost(), epath(), a), secrets=[a])

    def b_host(kind):
        def f():
            a = btc_addr(kind)
            return P("hostname", "%s.%s" % (a.lower(), oast_suffix()), secrets=[a])
        return f
    custom(out, "bitcoin-address", [b_json(True), b_chat, b_uri, b_url, b_host("wpkh"), b_host("tr"), b_json(), b_url2], validator="btc")

    # ---- Ethereum ----
    def e_rpc(doc=False):
        def f():
            a = pick(ETH_DOCS) if doc else eth_addr(chance(0.6))
            return P("body", jc({"jsonrpc": "2.0", "method": "eth_getBalance", "params": [a, "latest"], "id": R.randint(1, 99)}), "application/json", secrets=[a])
        return f

    def e_tx():
        a = eth_addr()
        return P("body", jdump({"to": a, "value": hex(R.randint(10 ** 15, 10 ** 18)), "chainId": 1, "note": "payout"}), "application/json", secrets=[a])

    def e_url():
        a = eth_addr(chance(0.5))
        return P("url", "https://etherscan.io/address/%s#tokentxns" % a, secrets=[a])

    def e_host():
        a = eth_addr(False)
        return P("hostname", "%s.%s" % (a, oast_suffix()), secrets=[a])

    def e_chat():
        a = eth_addr()
        return P("body", "Mi dirección de ETH es %s, envía los 0.2 ETH ahí.\n" % a, "text/plain; charset=utf-8", secrets=[a])
    custom(out, "ethereum-address", [e_rpc(True), e_tx, e_url, e_host, e_host, e_chat, e_rpc()], validator="eth")


def chunks(s, n):
    return [s[i:i + n] for i in range(0, len(s), n)]


def exfil_payload():
    k = R.randrange(7)
    if k == 0:
        return ("AKIA" + rs(B32A, 16) + ":" + aws_secret()).encode()
    if k == 1:
        return g_gh("ghp_")("real").encode()
    if k == 2:
        return pick([b"root:x:0:0:root:/root:/bin/bash", b"uid=0(root) gid=0(root) groups=0(root)"])
    if k == 3:
        return ("%s:%s" % (user(), gen_password())).encode()
    if k == 4:
        return rbytes(R.randint(12, 40))
    if k == 5:
        return ("DB_PASSWORD=" + gen_password()).encode()
    return ("uid=1001(%s) host=%s-build-%02d" % (user(), proj(), R.randint(1, 40))).encode()


ENCN = {"hex": lambda b: b.hex(), "b32": lambda b: b32(b, lower=True), "b64u": lambda b: b64u(b)}


def dns_host(enc):
    payload = exfil_payload()
    if enc == "single32":
        payload = payload[:39] if len(payload) >= 10 else payload + rbytes(12)
        labels, layer = [b32(payload, lower=True)], ("dns", 1, "b32")
    elif enc == "mixed":
        pieces = chunks(payload, max(6, (len(payload) + 2) // 3))
        encs = [pick(["hex", "b32", "b64u"]) for _ in pieces]
        if len(set(encs)) == 1:
            encs[0] = "hex" if encs[0] != "hex" else "b32"
        labels = [ENCN[e](p) for e, p in zip(encs, pieces)]
        layer = ("dns", len(labels), encs)
    elif enc == "seq":
        base = pick(["hex", "b32"])
        cs = chunks(ENCN[base](payload), pick([24, 30, 40]))
        labels = ["%d-%s" % (i, ch) for i, ch in enumerate(cs)]
        layer = ("dns", len(labels), base, r"^\d+-")
    else:
        s = ENCN[enc](payload)
        labels = chunks(s, pick([30, 32, 48, 60, 63]))
        layer = ("dns", len(labels), enc)
    if any(not LABEL_RE.match(x) or "_" in x for x in labels):
        return None
    extra = [] if chance(0.6) else [pick(["s%d" % R.randint(1, 9), rs(LOW + DIG, 5)])]
    host = ".".join(labels + extra + [oast_suffix()])
    return host, layer, payload.decode("latin-1")


def build_patterns(out):
    # ---- DNS exfiltration ----
    encs = Cycler(["hex", "b32", "b64u", "mixed", "seq", "single32"])

    def d_host():
        e = encs.next()
        r = dns_host(e)
        if r is None:
            return None
        host, layer, sec = r
        return P("hostname", host, layers=[layer], secrets=[sec])

    def d_url():
        r = dns_host(pick(["hex", "b32"]))
        if r is None:
            return None
        host, layer, sec = r
        return P("url", "http://%s/%s" % (host, pick(["", "favicon.ico", "x.png"])), layers=[layer], secrets=[sec])
    custom(out, "dns-exfiltration", [d_host] * 12 + [d_url] * 2)

    # ---- high-entropy blobs with no known shape ----
    HEX_BAD = {16, 20, 28, 32, 48, 64}

    def he_val(kind, lo=20, hi=60):
        while True:
            n = R.randint(lo, hi)
            if not (kind == "hex" and n in HEX_BAD):
                break
        b = rbytes(n)
        return {"b64": b64(b), "b64u": b64u(b), "b32": b32(b, pad=chance(0.5)), "b32l": b32(b, lower=True), "hex": b.hex()}[kind]

    def h_path(kind):
        def f():
            v = he_val(kind)
            return P("url", "https://%s/%s/%s" % (ehost(), pick(["u", "a", "s", "d", "b", "up"]), v), secrets=[v])
        return f

    def h_query(kind):
        def f():
            v = he_val(kind)
            return P("url", "https://%s%s?%s=%s" % (ehost(), epath(), pick(["d", "q", "data", "v", "p"]), q(v)), layers=pct_if(v), secrets=[v])
        return f

    def h_frag():
        v = he_val("b64u")
        return P("url", "https://%s/#%s" % (ehost(), v), secrets=[v])

    def h_host(kind):
        def f():
            v = he_val(kind, 20, 39 if kind == "b32l" else 31)
            return P("hostname", "%s.%s" % (v, pick([oast_suffix(), ehost()])), secrets=[v])
        return f

    def h_hdr():
        v = he_val("b64")
        return P("header", "X-Sync: " + v, secrets=[v])
    custom(out, "high-entropy", [h_path("b64u"), h_path("hex"), h_path("b32"), h_query("b64"), h_query("hex"), h_frag, h_query("b32"),
                                 h_host("b32l"), h_host("hex"), h_host("b32l"), h_host("hex"), h_host("b32l"), h_hdr], validator="highentropy")

    # ---- delimited hex ----
    def dh(sep, n=None, upper=False):
        n = n or R.randint(16, 48)
        hx = [("%02X" if upper else "%02x") % x for x in rbytes(n)]
        if sep == "\\x":
            return "".join("\\x" + h for h in hx)
        if sep == "0x":
            return pick([", ", ",", " "]).join("0x" + h for h in hx)
        return sep.join(hx)

    def dh_host():
        v = dh("-", R.randint(16, 21))
        return P("hostname", "%s.%s" % (v, oast_suffix()), secrets=[v])

    def dh_url_path():
        v = dh(":", upper=chance(0.5))
        return P("url", "https://%s/k/%s" % (ehost(), v), secrets=[v])

    def dh_url_q(sep):
        def f():
            v = dh(sep)
            return P("url", "https://%s%s?k=%s" % (ehost(), epath(), q(v)), layers=pct_if(v), secrets=[v])
        return f

    def dh_c():
        v = dh("0x")
        return P("body", "/* session key */\nstatic const uint8_t k[] = { %s };\n" % v, "text/x-c", secrets=[v])

    def dh_py():
        v = dh("\\x")
        return P("body", "KEY = b\"%s\"\ncipher = AES.new(KEY, AES.MODE_GCM)\n" % v, "text/x-python", secrets=[v])

    def dh_log():
        v = dh(pick([" ", ",", ":"]))
        return P("body", "%s DEBUG tls: client_random=%s\n" % (iso(), v), "text/plain", secrets=[v])
    custom(out, "delimited-hex", [dh_host, dh_host, dh_host, dh_host, dh_url_path, dh_url_q(" "), dh_url_q(", "), dh_c, dh_py,
                                  dh_url_q("\\x")], validator="delimhex")


def _pb_field(num, data):
    if isinstance(data, str):
        data = data.encode()
    n = len(data)
    ln = b""
    while True:
        b = n & 0x7F
        n >>= 7
        ln += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([(num << 3) | 2]) + ln + data


def _mp_str(s):
    b = s.encode()
    return (bytes([0xA0 | len(b)]) if len(b) < 32 else bytes([0xD9, len(b)])) + b


def tar_bytes(files):
    import io
    import tarfile
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1714000000
            ti.mode = 0o644
            ti.uname = ti.gname = ""
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def build_binary(out):
    """Binary bodies (base64 without content_encoding) whose raw bytes carry a secret."""
    def b1():
        v = simple("npm_", ALNUM, 36)("real")
        data = tar_bytes([("project/package.json", jdump({"name": proj(), "version": "1.0.0"}).encode()),
                          ("project/.npmrc", ("//registry.npmjs.org/:_authToken=%s\n" % v).encode())])
        return P("body", data, "application/x-tar", secrets=[v])

    def b2():
        a, s_ = g_akid()("real"), aws_secret()
        data = zip_bytes_stored([("config/aws.json", jdump({"accessKeyId": a, "secretAccessKey": s_}).encode()),
                                 ("README.md", b"deploy bundle\n")])
        return P("body", data, "application/zip", secrets=[a, s_])

    def b3():
        v = g_slack("real")
        msg = _pb_field(1, "projects/%s/notifications" % proj()) + _pb_field(2, _pb_field(1, "authorization") + _pb_field(2, "Bearer " + v))
        data = b"\x00" + struct.pack(">I", len(msg)) + msg
        return P("body", data, "application/grpc", secrets=[v])

    def b4():
        p = gen_password()
        data = b"\x83" + _mp_str("username") + _mp_str(user()) + _mp_str("password") + _mp_str(p) + _mp_str("remember") + b"\xc3"
        return P("body", data, "application/msgpack", secrets=[p])
    for cls, t in (("npm-token", b1), ("aws-secret-access-key", b2), ("slack-token", b3), ("password-field", b4)):
        custom(out, cls, [t])


def build_positives():
    out = []
    build_vendor(out)
    build_custom(out)
    build_financial(out)
    build_patterns(out)
    build_binary(out)
    return out


# --------------------------------------------------------------------------
# negatives: helpers and binary payloads
# --------------------------------------------------------------------------
def N(where, text, ct=None, ce=None):
    return where, text, ct, ce


def neg(out, cat, templates):
    for i, t in enumerate(templates):
        last = None
        for attempt in range(80):
            r = t()
            if r is None:
                continue
            where, text, ct, ce = r
            rec = mk("negative", cat, where, text, ct, ce, binary=isinstance(text, bytes))
            last = rec
            if try_add(out, rec):
                break
        else:
            raise RuntimeError("negative %s #%d failed: %s" % (cat, i, scan_case(last) if last else None))


def png_bytes(w=None, h=None):
    w = w or R.randint(6, 20)
    h = h or R.randint(6, 20)
    base = rbytes(3)
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw += bytes(((base[0] + x * 9) % 256, (base[1] + y * 7) % 256, (base[2] + x * y) % 256))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def gif_bytes():
    c = rbytes(3)
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + c + b"\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def pdf_bytes(lines):
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = "BT /F1 12 Tf 72 720 Td " + " ".join("(%s) Tj 0 -16 Td" % esc(x) for x in lines) + " ET"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n%" + rs(LOW, R.randint(4, 40)).encode() + b"\n"
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i, o)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)).encode()
    return out


def zip_bytes(files):
    import io
    import zipfile
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return bio.getvalue()


def zip_bytes_stored(files):
    import io
    import zipfile
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return bio.getvalue()


def uuid_v(ver):
    if ver == 4:
        return uuid4()
    if ver in (3, 5):
        name = "%s.%s.%s" % (proj(), org(), pick(TLDS))
        return str(uuid.uuid3(uuid.NAMESPACE_DNS, name) if ver == 3 else uuid.uuid5(uuid.NAMESPACE_URL, "https://" + name))
    if ver == 1:
        t = (ts() * 10 ** 7) + 0x01B21DD213814000 + R.randrange(10 ** 7)
        return str(uuid.UUID(fields=(t & 0xFFFFFFFF, (t >> 32) & 0xFFFF, ((t >> 48) & 0x0FFF) | 0x1000,
                                     0x80 | R.randrange(64), R.randrange(256), R.getrandbits(48))))
    if ver == 7:
        ms = ts() * 1000 + R.randrange(1000)
        b = ms.to_bytes(6, "big") + rbytes(10)
        b = bytearray(b)
        b[6] = 0x70 | (b[6] & 0x0F)
        b[8] = 0x80 | (b[8] & 0x3F)
        return str(uuid.UUID(bytes=bytes(b)))
    if ver == 6:
        t = (ts() * 10 ** 7) + 0x01B21DD213814000
        hi = (t >> 12) & 0xFFFFFFFFFFFF
        b = bytearray(hi.to_bytes(6, "big") + (0x6000 | (t & 0x0FFF)).to_bytes(2, "big") + rbytes(8))
        b[8] = 0x80 | (b[8] & 0x3F)
        return str(uuid.UUID(bytes=bytes(b)))
    return "00000000-0000-0000-0000-000000000000"


def sha_hex(n=40):
    return rs(HEXL, n)


def ssh_ed25519():
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + rbytes(32)
    return "ssh-ed25519 " + b64(blob)


def ssh_rsa(bits=2048):
    n = bytearray(rbytes(bits // 8))
    n[0] |= 0x80
    n = b"\x00" + bytes(n)
    blob = struct.pack(">I", 7) + b"ssh-rsa" + struct.pack(">I", 3) + b"\x01\x00\x01" + struct.pack(">I", len(n)) + n
    return "ssh-rsa " + b64(blob)


def ssh_ecdsa():
    pt = b"\x04" + rbytes(64)
    blob = (struct.pack(">I", 19) + b"ecdsa-sha2-nistp256" + struct.pack(">I", 8) + b"nistp256" + struct.pack(">I", 65) + pt)
    return "ecdsa-sha2-nistp256 " + b64(blob)


def fp_sha256():
    return "SHA256:" + b64(rbytes(32)).rstrip("=")


LOREM = [
    "The quarterly report shows steady growth in the European market, driven mainly by the new subscription tier.",
    "Please review the attached design notes before Thursday's meeting; we still need to agree on the caching strategy.",
    "Our migration to the new build system cut average CI time from eighteen minutes to just under seven.",
    "The team discussed whether to deprecate the legacy export endpoint or keep it for another release cycle.",
    "Customer feedback highlighted confusing wording on the onboarding screen, so the copy will be rewritten.",
    "We observed a small regression in p95 latency after enabling compression, which disappeared after tuning buffer sizes.",
    "The library now supports streaming responses, and the documentation has been updated with several new examples.",
    "Remember that the office will be closed on Monday for the public holiday; on-call rotations are unchanged.",
    "The hiking trail follows the river for about four kilometres before climbing steeply towards the old fortress.",
    "Add the flour gradually, stirring constantly, until the dough comes away cleanly from the sides of the bowl.",
    "Version 3.2 introduces a dark theme, better keyboard navigation and a faster search index.",
    "The committee approved the budget for the new community garden, with planting scheduled for early spring.",
]


def prose(n=3):
    return " ".join(R.sample(LOREM, n))


def build_negatives_a(out):
    # ---- uuid ----
    V = Cycler([1, 3, 4, 5, 6, 7, 4, 7])
    U = lambda: uuid_v(V.next())
    neg(out, "uuid", [
        lambda: N("body", jdump({"order_id": U(), "customer_id": U(), "items": [{"sku_id": U(), "qty": R.randint(1, 4)}],
                                 "created_at": iso()}), "application/json"),
        lambda: N("body", "id,parent_id,kind\n%s,%s,folder\n%s,%s,file\n%s,,root\n" % (U(), U(), U(), U(), U()), "text/csv"),
        lambda: N("body", "\n".join("%s INFO request_id=%s route=/api/v1/%s status=200" % (iso(), U(), pick(["items", "users", "orders"])) for _ in range(3)) + "\n", "text/plain"),
        lambda: N("body", jdump({"query": "query Node($id: ID!) { node(id: $id) { id name } }", "variables": {"id": U()}}), "application/json"),
        lambda: N("body", "metadata:\n  name: %s-7d9f\n  namespace: default\n  uid: %s\n  resourceVersion: \"%d\"\n" % (proj(), U(), R.randint(10 ** 5, 10 ** 7)), "application/yaml"),
        lambda: N("body", jdump({"nil": uuid_v(0), "trace": U(), "note": "placeholder ids for fixtures"}), "application/json"),
        lambda: N("url", "https://api.%s.com/v1/orders/%s" % (org(), U())),
        lambda: N("url", "https://app.%s.io/projects/%s/members?role=viewer" % (org(), U())),
        lambda: N("url", "https://files.%s.com/download/%s/%s.pdf" % (org(), U(), pick(["report", "invoice", "slides"]))),
        lambda: N("header", "X-Request-Id: " + U()),
        lambda: N("header", "X-Correlation-ID: " + U()),
        lambda: N("header", "Idempotency-Key: " + uuid4()),
        lambda: N("hostname", "%s.mock.pstmn.io" % uuid4()),
        lambda: N("hostname", "%s-%s.apps.astra.datastax.com" % (uuid4(), pick(["us-east1", "europe-west1", "eu-west-1"]))),
    ])

    # ---- git SHAs ----
    def gitlog():
        out_ = []
        for _ in range(3):
            out_.append("commit %s\nAuthor: %s <%s@%s.com>\nDate:   Mon May %d 10:%02d:11 2024 +0200\n\n    %s\n" % (
                sha_hex(), user().title(), user(), org(), R.randint(1, 28), R.randrange(60),
                pick(["fix: handle empty pagination", "chore: bump deps", "feat: add csv export", "docs: clarify setup"])))
        return "\n".join(out_)
    neg(out, "git-sha", [
        lambda: N("url", "https://github.com/%s/%s/commit/%s" % (org(), proj(), sha_hex())),
        lambda: N("url", "https://github.com/%s/%s/blob/%s/src/%s.py#L%d" % (org(), proj(), sha_hex(), proj(), R.randint(1, 400))),
        lambda: N("url", "https://raw.githubusercontent.com/%s/%s/%s/README.md" % (org(), proj(), sha_hex())),
        lambda: N("url", "https://api.github.com/repos/%s/%s/compare/%s...%s" % (org(), proj(), sha_hex(7), sha_hex(7))),
        lambda: N("url", "https://gitlab.com/%s/%s/-/commit/%s?view=parallel" % (org(), proj(), sha_hex())),
        lambda: N("body", gitlog(), "text/plain"),
        lambda: N("body", jdump({"ref": "refs/heads/main", "before": sha_hex(), "after": sha_hex(),
                                 "commits": [{"id": sha_hex(), "message": "Merge pull request #%d" % R.randint(10, 999)}]}), "application/json"),
        lambda: N("body", jdump({"lib": {"version": "git+ssh://git@github.com/%s/lib.git#%s" % (org(), sha_hex()), "resolved": "git+ssh://git@github.com/%s/lib.git#%s" % (org(), sha_hex())}}), "application/json"),
        lambda: N("body", "require (\n\tgithub.com/%s/%s v0.0.0-202405%02d%02d%02d%02d-%s\n)\n" % (org(), proj(), R.randint(1, 28), R.randrange(24), R.randrange(60), R.randrange(60), sha_hex(12)), "text/plain"),
        lambda: N("body", "CI=true\nGIT_BRANCH=main\nGIT_COMMIT=%s\nBUILD_NUMBER=%d\n" % (sha_hex(), R.randint(100, 9999)), "text/plain"),
        lambda: N("body", jdump({"version": sha_hex(), "refs": [{"repository": "%s/%s" % (org(), proj()), "commit": sha_hex()}]}), "application/json"),
        lambda: N("header", "X-Source-Version: " + sha_hex()),
        lambda: N("header", "X-Build-Sha: " + sha_hex(7)),
        lambda: N("body", "$ git rev-parse HEAD\n%s\n$ git describe --tags\nv%d.%d.%d-%d-g%s\n" % (sha_hex(), R.randint(1, 4), R.randint(0, 20), R.randint(0, 9), R.randint(1, 40), sha_hex(7)), "text/plain"),
    ])

    # ---- checksum digests ----
    fn = lambda: "%s-%d.%d.%d-%s.tar.gz" % (proj(), R.randint(1, 3), R.randint(0, 30), R.randint(0, 9), pick(["linux-amd64", "darwin-arm64", "windows-amd64"]))
    neg(out, "checksum-digest", [
        lambda: N("body", "".join("%s  %s\n" % (sha_hex(64), fn()) for _ in range(3)), "text/plain"),
        lambda: N("body", "".join("%s  %s\n" % (sha_hex(32), fn()) for _ in range(2)), "text/plain"),
        lambda: N("body", "%s  %s\n" % (sha_hex(128), fn()), "text/plain"),
        lambda: N("body", "%s *%s\n" % (sha_hex(40), fn().replace(".tar.gz", ".zip")), "text/plain"),
        lambda: N("url", "https://releases.%s.io/download?file=%s&checksum=sha256:%s" % (org(), fn(), sha_hex(64))),
        lambda: N("url", "https://cache.%s.dev/cas/%s" % (org(), sha_hex(64))),
        lambda: N("header", "Digest: sha-256=" + b64(rbytes(32))),
        lambda: N("header", "Content-MD5: " + b64(rbytes(16))),
        lambda: N("header", "x-amz-content-sha256: " + sha_hex(64)),
        lambda: N("header", "x-amz-checksum-sha256: " + b64(rbytes(32))),
        lambda: N("body", jdump({"artifacts": [{"name": fn(), "sha256": sha_hex(64), "size": R.randint(10 ** 5, 10 ** 8)}]}), "application/json"),
        lambda: N("body", "class %s < Formula\n  url \"https://github.com/%s/%s/archive/v1.4.0.tar.gz\"\n  sha256 \"%s\"\nend\n" % (proj().title(), org(), proj(), sha_hex(64)), "text/x-ruby"),
        lambda: N("body", "ARG TOOL_SHA256=%s\nRUN echo \"${TOOL_SHA256}  tool.tgz\" | sha256sum -c -\n" % sha_hex(64), "text/plain"),
        lambda: N("body", jdump({"nodes": {"nixpkgs": {"locked": {"narHash": "sha256-" + b64(rbytes(32)), "rev": sha_hex(), "type": "github"}}}, "version": 7}, 2), "application/json"),
    ])

    # ---- OCI digests ----
    dg = lambda: "sha256:" + sha_hex(64)
    neg(out, "oci-digest", [
        lambda: N("url", "https://registry-1.docker.io/v2/library/%s/manifests/%s" % (pick(["nginx", "redis", "postgres", "alpine"]), dg())),
        lambda: N("url", "https://ghcr.io/v2/%s/%s/blobs/%s" % (org(), proj(), dg())),
        lambda: N("url", "https://quay.io/v2/%s/%s/manifests/%s" % (org(), proj(), dg())),
        lambda: N("url", "https://%s.dkr.ecr.%s.amazonaws.com/v2/%s/manifests/%s" % (rs(DIG, 12), pick(["us-east-1", "eu-west-1"]), proj(), dg())),
        lambda: N("header", "Docker-Content-Digest: " + dg()),
        lambda: N("header", "OCI-Subject: " + dg()),
        lambda: N("body", jdump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg(), "size": R.randint(500, 9000)},
                                 "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg(), "size": R.randint(10 ** 5, 10 ** 7)} for _ in range(2)]}, 2), "application/vnd.oci.image.manifest.v1+json"),
        lambda: N("body", "spec:\n  containers:\n    - name: web\n      image: nginx@%s\n      ports:\n        - containerPort: 80\n" % dg(), "application/yaml"),
        lambda: N("body", "services:\n  cache:\n    image: redis:7.2@%s\n" % dg(), "application/yaml"),
        lambda: N("body", jdump({"Name": "docker.io/library/alpine", "Digest": dg(), "RepoTags": ["3.19", "3.20", "latest"], "Layers": [dg()]}), "application/json"),
    ])

    # ---- content-hashed asset paths ----
    neg(out, "cdn-asset-hash", [
        lambda: N("url", "https://www.%s.com/_next/static/chunks/pages/_app-%s.js" % (org(), sha_hex(16))),
        lambda: N("url", "https://app.%s.io/assets/index-%s.js" % (org(), rs(ALNUM + "_-", 8))),
        lambda: N("url", "https://%s.com/static/js/main.%s.js" % (org(), sha_hex(8))),
        lambda: N("url", "https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js" % (pick(["lodash", "dayjs", "chart.js", "alpinejs"]), R.randint(1, 5), R.randint(0, 20), R.randint(0, 9), proj())),
        lambda: N("url", "https://fonts.gstatic.com/s/%s/v%d/%s.woff2" % (pick(["inter", "roboto", "lato"]), R.randint(10, 40), rs(ALNUM + "_-", 28))),
        lambda: N("url", "https://www.%s.com/assets/application-%s.css" % (org(), sha_hex(64))),
        lambda: N("url", "https://d%s.cloudfront.net/img/logo-%s.svg" % (rs(LOW + DIG, 13), sha_hex(32))),
        lambda: N("url", "https://unpkg.com/react@18.3.1/umd/react.production.min.js"),
        lambda: N("body", jdump({"main.js": "/static/js/main.%s.js" % sha_hex(8), "main.css": "/static/css/main.%s.css" % sha_hex(8),
                                 "vendors.js": "/static/js/vendors.%s.chunk.js" % sha_hex(8)}, 2), "application/json"),
        lambda: N("body", "<!doctype html>\n<html><head>\n<link rel=\"stylesheet\" href=\"/assets/index-%s.css\">\n<script type=\"module\" src=\"/assets/index-%s.js\"></script>\n</head><body><div id=\"root\"></div></body></html>\n" % (rs(ALNUM, 8), rs(ALNUM, 8)), "text/html"),
    ])

    # ---- cloud document ids ----
    gdoc = lambda: "1" + rs(ALNUM + "_-", 43)
    gdrive = lambda: "1" + rs(ALNUM + "_-", 32)
    neg(out, "cloud-document-id", [
        lambda: N("url", "https://docs.google.com/document/d/%s/edit?usp=sharing" % gdoc()),
        lambda: N("url", "https://docs.google.com/spreadsheets/d/%s/edit#gid=%d" % (gdoc(), R.randint(0, 10 ** 9))),
        lambda: N("url", "https://drive.google.com/file/d/%s/view?usp=drive_link" % gdrive()),
        lambda: N("url", "https://www.googleapis.com/drive/v3/files/%s?fields=name,mimeType,modifiedTime" % gdrive()),
        lambda: N("url", "https://sheets.googleapis.com/v4/spreadsheets/%s/values/Sheet1!A1:D20" % gdoc()),
        lambda: N("url", "https://www.notion.so/%s/%s-%s" % (org(), pick(["Roadmap-Q3", "Onboarding-Guide", "Incident-Review"]), sha_hex(32))),
        lambda: N("url", "https://api.notion.com/v1/pages/%s" % uuid4()),
        lambda: N("body", jdump({"parent": {"database_id": sha_hex(32)}, "properties": {"Name": {"title": [{"text": {"content": "Weekly sync"}}]}}}), "application/json"),
        lambda: N("body", jdump({"path": "id:" + rs(ALNUM + "_-", 22), "include_media_info": False}), "application/json"),
        lambda: N("header", "Dropbox-API-Arg: " + jc({"path": "/%s/%s.pdf" % (pick(["Reports", "Shared", "Invoices"]), proj())})),
        lambda: N("url", "https://%s-uploads.s3.us-west-2.amazonaws.com/uploads/2024/%02d/%s.pdf" % (org(), R.randint(1, 12), uuid4())),
        lambda: N("url", "https://www.figma.com/file/%s/%s?node-id=%d-%d" % (rs(ALNUM, 22), pick(["Design-System", "Mobile-App", "Landing"]), R.randint(1, 99), R.randint(1, 999))),
        lambda: N("url", "https://%s.sharepoint.com/:w:/r/sites/Eng/_layouts/15/Doc.aspx?sourcedoc=%%7B%s%%7D&file=Spec.docx&action=default" % (org().replace("-", ""), uuid4().upper())),
        lambda: N("url", "https://airtable.com/app%s/tbl%s/viw%s" % (rs(ALNUM, 14), rs(ALNUM, 14), rs(ALNUM, 14))),
    ])

    # ---- base64 images ----
    pngb = lambda: b64(png_bytes())
    neg(out, "base64-image", [
        lambda: N("body", jdump({"user_id": R.randint(1000, 99999), "avatar": "data:image/png;base64," + pngb()}), "application/json"),
        lambda: N("body", jdump({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is shown in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + pngb()}}]}]}), "application/json"),
        lambda: N("body", jdump({"model": "claude-3-5-sonnet-20241022", "max_tokens": 1024, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": pngb()}},
            {"type": "text", "text": "Describe the chart and list the axis labels."}]}]}), "application/json"),
        lambda: N("body", jdump({"contents": [{"parts": [{"text": "Transcribe the handwriting."}, {"inline_data": {"mime_type": "image/png", "data": pngb()}}]}]}), "application/json"),
        lambda: N("body", jdump({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "annotate_image", "arguments": {"image": pngb(), "format": "png"}}}), "application/json"),
        lambda: N("body", png_bytes(), "image/png"),
        lambda: N("body", gif_bytes(), "image/gif"),
        lambda: N("body", "<p>Preview:</p>\n<img alt=\"chart\" src=\"data:image/png;base64,%s\">\n" % pngb(), "text/html"),
        lambda: N("body", jdump({"query": "mutation Upload($img: String!) { uploadAvatar(data: $img) { url } }", "variables": {"img": pngb()}}), "application/json"),
        lambda: N("body", jdump({"receipt_id": R.randint(10 ** 5, 10 ** 6), "receipt_image": pngb(), "mime": "image/png"}), "application/json"),
        lambda: N("body", jdump({"screenshots": [pngb(), pngb()]}), "application/json", "gzip"),
        lambda: (lambda bnd, im: N("body", ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n" % bnd).encode() + im + ("\r\n--%s--\r\n" % bnd).encode(),
                                         "multipart/form-data; boundary=" + bnd))("----formdata-" + rs(ALNUM, 16), png_bytes()),
    ])

    # ---- base64 documents ----
    pdfl = lambda: pdf_bytes([pick(LOREM)[:70], "Invoice %d" % R.randint(1000, 9999), "Total: EUR %d.%02d" % (R.randint(10, 999), R.randrange(100))])
    neg(out, "base64-document", [
        lambda: N("body", jdump({"documents": [{"documentBase64": b64(pdfl()), "name": "contract.pdf", "fileExtension": "pdf", "documentId": "1"}], "emailSubject": "Please sign"}), "application/json"),
        lambda: N("body", jdump({"to": "%s@%s.com" % (user(), org()), "subject": "Your invoice", "attachments": [{"content": b64(pdfl()), "filename": "invoice.pdf", "type": "application/pdf"}]}), "application/json"),
        lambda: N("body", pdfl(), "application/pdf"),
        lambda: N("body", jdump({"message": "docs: update changelog", "content": b64("# Changelog\n\n## 1.%d.0\n\n- %s\n" % (R.randint(1, 30), pick(LOREM))), "sha": sha_hex()}), "application/json"),
        lambda: N("body", jdump({"filename": "export.csv", "file": b64("date,visits,signups\n2024-05-01,%d,%d\n2024-05-02,%d,%d\n" % (R.randint(100, 999), R.randint(1, 50), R.randint(100, 999), R.randint(1, 50)))}), "application/json"),
        lambda: N("body", zip_bytes([("README.txt", prose(2).encode()), ("data/summary.csv", b"k,v\na,1\nb,2\n")]), "application/zip"),
        lambda: N("body", jdump({"contents": [{"parts": [{"inline_data": {"mime_type": "application/pdf", "data": b64(pdfl())}}, {"text": "Summarise this document in three bullet points."}]}]}), "application/json"),
        lambda: N("body", jdump({"attachment": b64("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:Team offsite\nDTSTART:20240612T090000Z\nEND:VEVENT\nEND:VCALENDAR\n"), "name": "invite.ics"}), "application/json"),
    ])

    # ---- pagination cursors ----
    neg(out, "pagination-cursor", [
        lambda: N("url", "https://api.%s.com/v2/events?limit=100&cursor=%s" % (org(), q(b64(jc({"id": R.randint(10 ** 5, 10 ** 7), "ts": iso()}))))),
        lambda: N("url", "https://api.%s.io/graphql/items?first=50&after=%s" % (org(), b64u(rbytes(R.randint(12, 30))))),
        lambda: N("url", "https://www.googleapis.com/calendar/v3/calendars/primary/events?maxResults=250&pageToken=%s" % rs(ALNUM + "_-", 40)),
        lambda: N("url", "https://api.stripe.com/v1/customers?limit=100&starting_after=cus_%s" % rs(ALNUM, 14)),
        lambda: N("url", "https://www.googleapis.com/youtube/v3/playlistItems?part=snippet&playlistId=PL%s&pageToken=%s" % (rs(ALNUM + "_-", 32), "C" + rs(UPP, 2) + rs(ALNUM, 3) + "A")),
        lambda: N("header", "Link: <https://api.github.com/repositories/%d/issues?page=%d>; rel=\"next\", <https://api.github.com/repositories/%d/issues?page=%d>; rel=\"last\"" % ((lambda r, p: (r, p, r, p + 7))(R.randint(10 ** 6, 10 ** 8), R.randint(2, 9)))),
        lambda: N("body", jdump({"channel": "C0" + rs(UPP + DIG, 9), "limit": 200, "cursor": b64("user:U0" + rs(UPP + DIG, 9))}), "application/json"),
        lambda: N("body", jdump({"query": "query($after: String) { repository(owner: \"%s\", name: \"%s\") { issues(first: 100, after: $after) { nodes { title } } } }" % (org(), proj()),
                                 "variables": {"after": b64("cursor:v2:" + rs(ALNUM, 12))}}), "application/json"),
        lambda: N("body", jdump({"TableName": "orders", "Limit": 50, "ExclusiveStartKey": {"pk": {"S": "USER#%d" % R.randint(1, 99999)}, "sk": {"S": "ORDER#%s" % iso()}}}), "application/x-amz-json-1.0"),
        lambda: N("body", jdump({"MaxResults": 50, "NextToken": b64(rbytes(R.randint(60, 120)))}), "application/x-amz-json-1.1"),
        lambda: N("body", jdump({"size": 100, "sort": [{"@timestamp": "desc"}, {"_id": "asc"}], "search_after": [ts(), "doc#%d" % R.randint(1, 10 ** 6)]}), "application/json"),
        lambda: N("url", "https://api.%s.com/v1/audit-log?offset=%d&limit=100&order=desc" % (org(), R.randint(1, 50) * 100)),
        lambda: N("header", "X-Next-Page-Cursor: " + b64u(rbytes(24))),
        lambda: N("url", "https://hn.algolia.com/api/v1/search_by_date?tags=story&page=%d&hitsPerPage=50" % R.randint(1, 30)),
    ])

    # ---- public object ids ----
    neg(out, "public-object-id", [
        lambda: N("url", "https://api.stripe.com/v1/charges/ch_3%s" % rs(ALNUM, 23)),
        lambda: N("url", "https://dashboard.stripe.com/payments/pi_3%s" % rs(ALNUM, 23)),
        lambda: N("body", jdump({"id": "evt_1" + rs(ALNUM, 23), "object": "event", "type": "payment_intent.succeeded",
                                 "data": {"object": {"id": "pi_3" + rs(ALNUM, 23), "customer": "cus_" + rs(ALNUM, 14),
                                                     "latest_charge": "ch_3" + rs(ALNUM, 23), "invoice": "in_1" + rs(ALNUM, 23)}}}), "application/json"),
        lambda: N("body", jdump({"assistant_id": "asst_" + rs(ALNUM, 24), "thread": {"messages": [{"role": "user", "content": "Summarise the uploaded file.", "attachments": [{"file_id": "file-" + rs(ALNUM, 22)}]}]}}), "application/json"),
        lambda: N("url", "https://api.openai.com/v1/files/file-%s/content" % rs(ALNUM, 22)),
        lambda: N("url", "https://api.openai.com/v1/threads/thread_%s/messages?limit=20&order=desc" % rs(ALNUM, 24)),
        lambda: N("body", jdump({"model": "claude-3-5-sonnet-20241022", "max_tokens": 512, "messages": [
            {"role": "user", "content": "What's the weather in Lyon?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01" + rs(ALNUM, 22), "name": "get_weather", "input": {"city": "Lyon"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01" + rs(ALNUM, 22), "content": "18C, light rain"}]}]}), "application/json"),
        lambda: N("body", jdump({"log": {"completion_id": "chatcmpl-" + rs(ALNUM, 29), "message_id": "msg_01" + rs(ALNUM, 22), "latency_ms": R.randint(200, 4000)}}), "application/json"),
        lambda: N("body", "MessageSid=SM%s&MessageStatus=delivered&To=%%2B1415555%04d&ApiVersion=2010-04-01" % (sha_hex(32), R.randrange(10000)), "application/x-www-form-urlencoded"),
        lambda: N("body", jdump({"query": "query { node(id: \"%s\") { ... on User { login } } }" % b64("04:User%d" % R.randint(10 ** 5, 10 ** 8)), "variables": {"repo": "R_kgDO" + rs(ALNUM + "_-", 8)}}), "application/json"),
        lambda: N("url", "https://www.youtube.com/watch?v=%s&t=%ds" % (rs(ALNUM + "_-", 11), R.randint(5, 900))),
        lambda: N("url", "https://youtu.be/%s?si=%s" % (rs(ALNUM + "_-", 11), rs(ALNUM + "_-", 16))),
        lambda: N("url", "https://discord.com/channels/%s/%s/%s" % (snowflake(), snowflake(), snowflake())),
        lambda: N("header", "Stripe-Account: acct_1" + rs(ALNUM, 15)),
        lambda: N("header", "OpenAI-Organization: org-" + rs(ALNUM, 24)),
        lambda: N("body", jdump({"query": "query($id: ID!) { product(id: $id) { title } }", "variables": {"id": "gid://shopify/Product/%d" % R.randint(10 ** 9, 10 ** 13)}}), "application/json"),
    ])

    # ---- SRI / lockfile integrity ----
    neg(out, "sri-integrity", [
        lambda: N("body", "<script src=\"https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js\" integrity=\"sha384-%s\" crossorigin=\"anonymous\"></script>\n" % b64(rbytes(48)), "text/html"),
        lambda: N("body", jdump({"node_modules/%s" % pick(["lodash", "chalk", "debug", "semver"]): {"version": "4.17.21", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz", "integrity": "sha512-" + b64(rbytes(64))}}, 2), "application/json"),
        lambda: N("body", "\"%s@^2.1.0\":\n  version \"2.1.4\"\n  resolved \"https://registry.yarnpkg.com/%s/-/%s-2.1.4.tgz#%s\"\n  integrity sha512-%s\n" % ((lambda p: (p, p, p))(pick(["ms", "minimist", "yargs"])) + (sha_hex(40), b64(rbytes(64)))), "text/plain"),
        lambda: N("body", "packages:\n  /%s@1.2.3:\n    resolution: {integrity: sha512-%s}\n    dev: false\n" % (pick(["picocolors", "nanoid", "tslib"]), b64(rbytes(64))), "application/yaml"),
        lambda: N("body", "[[package]]\nname = \"%s\"\nversion = \"1.0.%d\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"%s\"\n" % (pick(["serde", "tokio", "anyhow", "regex"]), R.randint(0, 200), sha_hex(64)), "application/toml"),
        lambda: N("body", "golang.org/x/%s v0.%d.0 h1:%s\ngolang.org/x/%s v0.%d.0/go.mod h1:%s\n" % ((lambda p, v: (p, v, b64(rbytes(32)), p, v, b64(rbytes(32))))(pick(["net", "sys", "text", "crypto"]), R.randint(10, 30))), "text/plain"),
        lambda: N("body", "requests==2.32.3 \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\n" % (sha_hex(64), sha_hex(64)), "text/plain"),
        lambda: N("body", jdump({"packages": [{"name": "monolog/monolog", "version": "3.6.0", "dist": {"type": "zip", "reference": sha_hex(40), "shasum": ""}}]}, 4), "application/json"),
        lambda: N("body", "CHECKSUMS\n  rake (13.2.1) sha256=%s\n  rack (3.0.11) sha256=%s\n" % (sha_hex(64), sha_hex(64)), "text/plain"),
        lambda: N("body", "[[package]]\nname = \"certifi\"\nversion = \"2024.2.2\"\nfiles = [\n    {file = \"certifi-2024.2.2-py3-none-any.whl\", hash = \"sha256:%s\"},\n]\n" % sha_hex(64), "application/toml"),
        lambda: N("body", "<link rel=\"stylesheet\" href=\"/assets/app.css\" integrity=\"sha256-%s\" crossorigin=\"anonymous\">\n" % b64(rbytes(32)), "text/html"),
        lambda: N("body", jdump({"imports": {"react": "https://esm.sh/react@18.3.1"}, "integrity": {"https://esm.sh/react@18.3.1": "sha384-" + b64(rbytes(48))}}, 2), "application/importmap+json"),
    ])

    # ---- SSH public keys ----
    neg(out, "ssh-public-key", [
        lambda: N("body", "%s %s@laptop\n%s %s@build\n" % (ssh_ed25519(), user(), ssh_rsa(), user()), "text/plain"),
        lambda: N("body", jdump({"title": "%s-laptop" % user(), "key": "%s %s@%s" % (ssh_ed25519(), user(), proj())}), "application/json"),
        lambda: N("body", "|1|%s|%s %s\ngithub.com %s\n" % (b64(rbytes(20)), b64(rbytes(20)), ssh_ecdsa(), ssh_ed25519()), "text/plain"),
        lambda: N("body", "256 %s %s@laptop (ED25519)\n3072 %s %s@ci (RSA)\n" % (fp_sha256(), user(), fp_sha256(), user()), "text/plain"),
        lambda: N("body", "#cloud-config\nusers:\n  - name: %s\n    ssh_authorized_keys:\n      - %s %s@workstation\n" % (user(), ssh_ed25519(), user()), "text/cloud-config"),
        lambda: N("body", "resource \"aws_key_pair\" \"deployer\" {\n  key_name   = \"deployer-key\"\n  public_key = \"%s deployer@%s\"\n}\n" % (ssh_rsa(), org()), "text/plain"),
        lambda: N("body", "Host bastion\n  HostName bastion.%s.io\n  User %s\n  IdentityFile ~/.ssh/id_ed25519\n  # fingerprint %s\n" % (org(), user(), fp_sha256()), "text/plain"),
        lambda: N("body", jdump({"title": "deploy-%s" % proj(), "key": ssh_ed25519(), "can_push": False}), "application/json"),
        lambda: N("body", "%s %s@yubikey\n" % (ssh_ecdsa(), user()), "text/plain"),
        lambda: N("url", "https://bastion.%s.io/api/v1/hosts?fingerprint=%s" % (org(), q(fp_sha256()))),
        lambda: N("body", "%s sshd[%d]: Accepted publickey for deploy from 10.0.%d.%d port %d ssh2: ED25519 %s\n" % (iso(), R.randint(1000, 60000), R.randint(0, 9), R.randint(2, 250), R.randint(30000, 65000), fp_sha256()), "text/plain"),
        lambda: N("body", jdump([{"id": R.randint(10 ** 6, 10 ** 8), "key": ssh_ed25519(), "title": "ci", "read_only": True, "verified": True}]), "application/json"),
    ])


def isbn13():
    d = pick(["978", "979"]) + rs(DIG, 9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d))
    return d + str((10 - s % 10) % 10)


def isbn10():
    d = rs(DIG, 9)
    s = sum((10 - i) * int(c) for i, c in enumerate(d))
    c = (11 - s % 11) % 11
    return d + ("X" if c == 10 else str(c))


def hyph_isbn13(s):
    return "%s-%s-%s-%s-%s" % (s[:3], s[3], s[4:7], s[7:12], s[12])


def luhn_bad(n=None):
    n = n or R.randint(13, 19)
    while True:
        d = rs("123456789", 1) + rs(DIG, n - 1)
        if not luhn_ok(d):
            return d


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"]


def name_l():
    return pick(PROJ) + pick(["", "-api", "-web", "-prod", "-internal", "-svc", "-edge"])


LH_CYCLE = Cycler(range(22))
PV_CYCLE = Cycler(range(12))


def long_host():
    k = LH_CYCLE.next()
    r = pick(REGIONS)
    if k == 0:
        return "%s-%d.%s.elb.amazonaws.com" % (name_l(), R.randint(10 ** 8, 2 * 10 ** 9), r)
    if k == 1:
        return "internal-%s-%d.%s.elb.amazonaws.com" % (name_l(), R.randint(10 ** 8, 2 * 10 ** 9), r)
    if k == 2:
        return "k8s-%s-%s-%s.elb.%s.amazonaws.com" % (pick(["default", "ingress", "kubesyst"]), pick(PROJ)[:8], sha_hex(10), r)
    if k == 3:
        return "d%s.cloudfront.net" % rs(LOW + DIG, 13)
    if k == 4:
        return "%s-%s.s3.%s.amazonaws.com" % (org(), pick(["assets", "backups", "uploads", "logs"]), r)
    if k == 5:
        return "%s.execute-api.%s.amazonaws.com" % (rs(LOW + DIG, 10), r)
    if k == 6:
        return "%s.lambda-url.%s.on.aws" % (rs(LOW + DIG, 32), r)
    if k == 7:
        return "%s.cluster-%s.%s.rds.amazonaws.com" % (name_l(), rs(LOW + DIG, 12), r)
    if k == 8:
        return "%s.azurewebsites.net" % (name_l() + "-" + pick(["eastus", "westeurope", "uksouth"]))
    if k == 9:
        return "%s-%s.z01.azurefd.net" % (name_l(), rs(LOW + DIG, 16))
    if k == 10:
        return "%s-%s-%s.a.run.app" % (name_l(), rs(LOW + DIG, 10), pick(["uc", "ew", "ue", "an"]))
    if k == 11:
        return "%s.%s.r.appspot.com" % (name_l(), pick(["uc", "ew", "ue"]))
    if k == 12:
        return "e%d.%s.akamaiedge.net" % (R.randint(1000, 99999), pick(["a", "b", "dscx", "g"]))
    if k == 13:
        return "%s.global.ssl.fastly.net" % (org() + "-" + pick(["www", "static", "cdn"]))
    if k == 14:
        return pick(["xn--mnchen-3ya.de", "xn--bcher-kva.ch", "xn--e1afmkfd.xn--p1ai", "xn--fiqs8s.xn--55qx5d.cn",
                     "www.xn--kchen-gestalten-dsb.de", "xn--zrich-kva.ch", "shop.xn--wgbh1c"])
    if k == 15:
        return "%s.supabase.co" % rs(LOW, 20)
    if k == 16:
        return "%s-%s.herokuapp.com" % (name_l(), sha_hex(12))
    if k == 17:
        return "%s.%s.svc.cluster.local" % (name_l(), pick(["default", "payments", "monitoring", "kube-system"]))
    if k == 18:
        return "cluster0-shard-00-%02d.%s.mongodb.net" % (R.randint(0, 2), rs(LOW + DIG, 5))
    if k == 19:
        return "api.%s.%s.payments.internal.%s-corp.com" % (r, pick(["prod", "staging"]), org())
    if k == 20:
        return "%s-%s.snowflakecomputing.com" % (org().replace("-", ""), rs(LOW + DIG, 7))
    return "%s.documents.azure.com" % name_l()


def preview_host():
    k = PV_CYCLE.next()
    if k == 0:
        return "deploy-preview-%d--%s-docs.netlify.app" % (R.randint(10, 2500), org())
    if k == 1:
        return "%s-git-%s-%s.vercel.app" % (name_l(), pick(["feat-login", "fix-nav", "main", "renovate-deps"]), org())
    if k == 2:
        return "%s-%s-%s.vercel.app" % (name_l(), rs(LOW + DIG, 9), org())
    if k == 3:
        return "%s.%s.pages.dev" % (sha_hex(8), name_l())
    if k == 4:
        return "%s-pr-%d.onrender.com" % (name_l(), R.randint(10, 900))
    if k == 5:
        return "%s-pr-%d.herokuapp.com" % (name_l(), R.randint(10, 900))
    if k == 6:
        return "%s.d%s.amplifyapp.com" % (pick(["main", "develop", "feature-x", "pr-12"]), rs(LOW + DIG, 13))
    if k == 7:
        return "%s--pr%d-%s.web.app" % (name_l(), R.randint(1, 400), rs(LOW + DIG, 8))
    if k == 8:
        return "%s.github.io" % org()
    if k == 9:
        return "pr-%d.preview.%s.dev" % (R.randint(1, 3000), org())
    if k == 10:
        return "%s--%s.netlify.app" % (pick(["branch-next", "staging", "beta"]), name_l())
    return "%s-%s.fly.dev" % (name_l(), pick(["pr-31", "staging", "canary"]))


def build_negatives_b(out):
    # ---- masked secrets ----
    neg(out, "masked-secret", [
        lambda: N("body", jdump({"level": "info", "msg": "authenticated", "token": "ghp_" + "*" * 36, "user": user()}), "application/json"),
        lambda: N("body", "Using key sk-proj-\u2026%s (project %s)\n" % (rs(ALNUM, 4), proj()), "text/plain; charset=utf-8"),
        lambda: N("body", "      Name                    Value             Type    Location\n      ----                    -----             ----    --------\n   profile                <not set>             None    None\naccess_key     ****************%s shared-credentials-file\nsecret_key     ****************%s shared-credentials-file\n    region                %s      config-file    ~/.aws/config\n" % (rs(UPP + DIG, 4), rs(ALNUM, 4), pick(REGIONS)), "text/plain"),
        lambda: N("body", jdump({"payment_method": {"card": {"brand": "visa", "last4": "4242", "display": "\u2022\u2022\u2022\u2022 \u2022\u2022\u2022\u2022 \u2022\u2022\u2022\u2022 4242", "exp_month": 12, "exp_year": 2027}}}), "application/json"),
        lambda: N("body", "Receipt #%d\nCard: **** **** **** %s\nTotal: $%d.%02d\n" % (R.randint(1000, 9999), rs(DIG, 4), R.randint(5, 400), R.randrange(100)), "text/plain"),
        lambda: N("body", jdump({"payee": user().title(), "iban": "DE89 **** **** **** **%s %s" % (rs(DIG, 2), rs(DIG, 2))}), "application/json"),
        lambda: N("header", "Authorization: Bearer ****"),
        lambda: N("header", "X-Api-Key: " + "*" * 32),
        lambda: N("header", "Authorization: Basic ********"),
        lambda: N("header", "X-Shopify-Access-Token: shpat_********************************"),
        lambda: N("header", "Cookie: session=[redacted]; theme=light"),
        lambda: N("url", "https://api.%s.com/v1/report?api_key=%s&format=json" % (org(), q("*" * 24))),
        lambda: N("url", "https://logs.%s.io/search?q=token%%3DREDACTED&from=now-1h" % org()),
        lambda: N("url", "https://intranet.%s.com/login?user=%s&password=%s" % (org(), user(), q("\u2022" * 8))),
        lambda: N("body", "%s app[web.1]: DATABASE_URL=postgres://u%s:*****@ec2-3-%d-%d-%d.compute-1.amazonaws.com:5432/d%s\n" % (iso(), rs(LOW + DIG, 6), R.randint(1, 250), R.randint(1, 250), R.randint(1, 250), rs(LOW + DIG, 6)), "text/plain"),
        lambda: N("body", "Run npm publish\n  env:\n    NPM_TOKEN: ***\n    SLACK_BOT_TOKEN: xoxb-\u2022\u2022\u2022\u2022\u2022\u2022\u2022\u2022\n", "text/plain; charset=utf-8"),
    ])

    # ---- placeholders ----
    neg(out, "placeholder", [
        lambda: N("body", "# .env.example\nOPENAI_API_KEY=<your-openai-key>\nSTRIPE_SECRET_KEY=sk_test_...\nDATABASE_URL=postgres://USER:${DB_PASSWORD}@localhost:5432/app\n", "text/plain"),
        lambda: N("body", "- name: Publish\n  run: npm publish\n  env:\n    NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n    GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n", "application/yaml"),
        lambda: N("body", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\nstringData:\n  apiKey: {{ .Values.secrets.apiKey | quote }}\n  password: <base64-encoded-password>\n", "application/yaml"),
        lambda: N("body", "curl https://api.openai.com/v1/models \\\n  -H \"Authorization: Bearer $OPENAI_API_KEY\"\n", "text/x-shellscript"),
        lambda: N("body", "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_PASSWORD=${POSTGRES_PASSWORD:?required}\n", "application/yaml"),
        lambda: N("body", "variable \"api_token\" {\n  type      = string\n  sensitive = true\n}\n", "text/plain"),
        lambda: N("body", "To authenticate, run:\n\n    export ANTHROPIC_API_KEY='sk-ant-...'\n\nthen start the CLI.\n", "text/markdown"),
        lambda: N("body", jdump({"api_key": "<INSERT_KEY_HERE>", "endpoint": "https://api.example.com", "password": "{{ vault_db_password }}"}), "application/json"),
        lambda: N("body", "from openai import OpenAI\nclient = OpenAI(api_key=\"sk-...\")  # replace with your key\n", "text/x-python"),
        lambda: N("body", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nregistry=https://registry.npmjs.org/\n", "text/plain"),
        lambda: N("header", "Authorization: Bearer <token>"),
        lambda: N("header", "X-API-Key: ${API_KEY}"),
        lambda: N("header", "Authorization: token YOUR_GITHUB_TOKEN"),
        lambda: N("url", "https://api.%s.com/v2/data?api_key=YOUR_API_KEY&q=test" % org()),
        lambda: N("url", "https://graph.facebook.com/v19.0/me?access_token=%s" % q("{{ACCESS_TOKEN}}")),
        lambda: N("url", "https://maps.example.org/tiles/{z}/{x}/{y}.png?key=%s".replace("{z}/{x}/{y}", "%d/%d/%d" % (R.randint(1, 18), R.randint(1, 999), R.randint(1, 999))) % q("<API_KEY>")),
    ])

    # ---- prose about secrets ----
    PROSE = [
        "Rotate personal access tokens every 90 days and never paste them into chat. GitHub classic tokens start with the prefix ghp_ followed by random characters; if you see one in a log, revoke it immediately.",
        "Geheimnisse wie API-Schlüssel gehören in einen Secret-Manager, nicht in das Repository. Wenn ein Token versehentlich committet wurde, muss es sofort widerrufen und neu erstellt werden.",
        "Ne stockez jamais vos clés d'API dans le code source. Utilisez des variables d'environnement ou un coffre-fort de secrets, et faites tourner les clés régulièrement.",
        "Las claves de acceso de AWS comienzan normalmente con AKIA. Si una clave se filtra, desactívala en la consola de IAM y crea una nueva antes de investigar el incidente.",
        "APIキーやパスワードをソースコードに直接書かないでください。環境変数かシークレット管理サービスを使い、漏えいした場合はすぐに無効化してください。",
        "不要把访问令牌或密码提交到代码仓库。请使用密钥管理服务，并定期轮换密钥；一旦泄露，应立即吊销。",
        "Nunca compartilhe sua senha ou token de acesso por e-mail. Nossa equipe de suporte jamais pedirá essas informações.",
        "Никогда не храните пароли и токены в открытом виде. Используйте менеджер секретов и включите двухфакторную аутентификацию.",
        "비밀번호와 API 키는 절대 코드에 직접 넣지 마세요. 유출이 의심되면 즉시 키를 폐기하고 새로 발급받으세요.",
        "Stripe secret keys begin with sk_live_ in production and sk_test_ in test mode; publishable keys begin with pk_. Only the publishable key may be embedded in a web page.",
        "Il team di sicurezza consiglia di abilitare la scansione dei segreti su tutti i repository e di revocare subito qualsiasi credenziale esposta.",
        "Wachtwoorden moeten minimaal twaalf tekens lang zijn en mogen niet worden hergebruikt. Gebruik een wachtwoordmanager voor al je accounts.",
    ]
    neg(out, "secret-prose", [(lambda t: (lambda: N("body", t + "\n", "text/plain; charset=utf-8") if chance(0.5) else
                                          N("body", jdump({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Translate to English and summarise: " + t}]}), "application/json")))(t)
                              for t in PROSE])

    # ---- code that names a secret but holds no value ----
    neg(out, "secret-reference-code", [
        lambda: N("body", "import os\n\napi_key = os.environ[\"OPENAI_API_KEY\"]\ntoken = os.getenv(\"GITHUB_TOKEN\")\n", "text/x-python"),
        lambda: N("body", "const secret = process.env.STRIPE_SECRET_KEY;\nif (!secret) throw new Error('missing STRIPE_SECRET_KEY');\n", "application/javascript"),
        lambda: N("body", "password := os.Getenv(\"DB_PASSWORD\")\nif password == \"\" {\n\tlog.Fatal(\"DB_PASSWORD not set\")\n}\n", "text/x-go"),
        lambda: N("body", "client = boto3.client('secretsmanager')\nsecret = client.get_secret_value(SecretId='prod/%s/db')['SecretString']\n" % proj(), "text/x-python"),
        lambda: N("body", "from google.cloud import secretmanager\nname = f\"projects/{project_id}/secrets/db-password/versions/latest\"\nresponse = client.access_secret_version(name=name)\n", "text/x-python"),
        lambda: N("body", "vault kv get -field=password secret/%s/postgres\n" % proj(), "text/x-shellscript"),
        lambda: N("body", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: %s-db\n        key: password\n" % proj(), "application/yaml"),
        lambda: N("body", "resource \"aws_db_instance\" \"main\" {\n  username = \"app\"\n  password = var.db_password\n}\n", "text/plain"),
        lambda: N("body", jdump({"name": "ConnectionString", "value": "@Microsoft.KeyVault(SecretUri=https://kv-%s.vault.azure.net/secrets/db-conn/)" % org()}), "application/json"),
        lambda: N("body", "services:\n  api:\n    secrets:\n      - db_password\n    environment:\n      DB_PASSWORD_FILE: /run/secrets/db_password\nsecrets:\n  db_password:\n    external: true\n", "application/yaml"),
        lambda: N("body", "export DB_PASSWORD=\"$(op read 'op://Production/%s-db/password')\"\n" % proj(), "text/x-shellscript"),
        lambda: N("body", "MasterUserPassword: '{{resolve:secretsmanager:prod/%s/db:SecretString:password}}'\n" % proj(), "application/yaml"),
        lambda: N("body", "spring.datasource.password=${DB_PASSWORD}\nspring.datasource.username=${DB_USER:app}\n", "text/x-java-properties"),
        lambda: N("body", "let key = std::env::var(\"API_KEY\").expect(\"API_KEY must be set\");\nString pw = System.getenv(\"DB_PASSWORD\");\n", "text/plain"),
    ])

    # ---- Luhn-invalid bare numbers ----
    neg(out, "luhn-invalid-number", [
        lambda: N("body", jdump({"ref": luhn_bad(), "status": "queued"}), "application/json"),
        lambda: N("body", "batch_id,rows,state\n%s,%d,done\n%s,%d,failed\n" % (luhn_bad(), R.randint(10, 999), luhn_bad(), R.randint(10, 999)), "text/csv"),
        lambda: N("body", "%s WARN sequence gap after %s\n" % (iso(), luhn_bad()), "text/plain"),
        lambda: N("body", jdump({"ticket_number": luhn_bad(16), "priority": "P3"}), "application/json"),
        lambda: N("body", "<record><serial>%s</serial><count>%d</count></record>\n" % (luhn_bad(), R.randint(1, 90)), "application/xml"),
        lambda: N("url", "https://api.%s.com/v1/shipments/%s/events" % (org(), luhn_bad())),
        lambda: N("url", "https://tracker.%s.io/lookup?id=%s" % (org(), luhn_bad(16))),
        lambda: N("header", "X-Ref-Id: " + luhn_bad()),
    ])

    # ---- phone numbers ----
    PH_ = lambda: pick(["+1 415-555-01%02d" % R.randrange(100), "+44 20 7946 0%03d" % R.randrange(1000), "+49 30 901820%02d" % R.randrange(100),
                        "+81 3-1234-%04d" % R.randrange(10000), "+33 1 42 68 %02d %02d" % (R.randrange(100), R.randrange(100)),
                        "+91 98765 4%04d" % R.randrange(10000), "(212) 555-01%02d" % R.randrange(100), "07700 900%03d" % R.randrange(1000)])
    neg(out, "phone-number", [
        lambda: N("body", jdump({"contact": {"name": user().title(), "phone": PH_(), "mobile": PH_()}}), "application/json"),
        lambda: N("body", "BEGIN:VCARD\nVERSION:3.0\nFN:%s %s\nTEL;TYPE=work:%s\nTEL;TYPE=cell:%s\nEND:VCARD\n" % (user().title(), pick(["Meyer", "Smith", "Rossi"]), PH_(), PH_()), "text/vcard"),
        lambda: N("body", "name=%s&phone=%s&callback=1" % (user(), up.quote_plus(PH_())), "application/x-www-form-urlencoded"),
        lambda: N("body", "name,phone,city\n%s,%s,London\n%s,%s,Berlin\n" % (user().title(), PH_(), user().title(), PH_()), "text/csv"),
        lambda: N("body", "Call me back on %s after 3pm please.\n" % PH_(), "text/plain"),
        lambda: N("url", "https://api.%s.com/v1/lookup?phone=%s&country=GB" % (org(), q(PH_()))),
        lambda: N("url", "https://wa.me/1415555%04d?text=%s" % (R.randrange(10000), q("Hi, is the flat still available?"))),
        lambda: N("header", "X-Caller-Id: " + PH_()),
    ])

    # ---- ISBNs ----
    neg(out, "isbn", [
        lambda: N("url", "https://openlibrary.org/isbn/%s.json" % isbn13()),
        lambda: N("url", "https://www.googleapis.com/books/v1/volumes?q=isbn:%s" % isbn13()),
        lambda: N("url", "https://catalog.%s-library.org/search?isbn=%s" % (org(), hyph_isbn13(isbn13()))),
        lambda: N("body", jdump({"title": pick(["The Silent Harbor", "Notes on Compilers", "A Field Guide to Mosses"]), "isbn_13": hyph_isbn13(isbn13()), "isbn_10": isbn10(), "pages": R.randint(100, 900)}), "application/json"),
        lambda: N("body", "@book{%s%d,\n  title = {%s},\n  year = {%d},\n  isbn = {%s}\n}\n" % (user(), R.randint(1990, 2024), pick(["Distributed Systems", "Rust in Practice"]), R.randint(1990, 2024), hyph_isbn13(isbn13())), "application/x-bibtex"),
        lambda: N("body", "isbn,title,copies\n%s,Atlas of Clouds,%d\n%s,Garden Birds,%d\n" % (isbn13(), R.randint(1, 9), isbn10(), R.randint(1, 9)), "text/csv"),
    ])

    # ---- order / tracking numbers ----
    neg(out, "order-number", [
        lambda: N("body", "Your order %d-%07d-%07d has shipped and should arrive on Thursday.\n" % (R.randint(111, 114), R.randrange(10 ** 7), R.randrange(10 ** 7)), "text/plain"),
        lambda: N("body", jdump({"order": "#%d" % R.randint(1001, 99999), "name": "ORD-2024-%06d" % R.randrange(10 ** 6), "carrier": "UPS", "tracking": "1Z999AA10123456784"}), "application/json"),
        lambda: N("body", "Tracking (USPS): 9400 1%03d %04d %04d %04d %02d\nFedEx: %012d\n" % (R.randrange(1000), R.randrange(10 ** 4), R.randrange(10 ** 4), R.randrange(10 ** 4), R.randrange(100), R.randrange(10 ** 12)), "text/plain"),
        lambda: N("body", "order_id,sku,qty\nSO-%08d,%s-%03d,%d\n" % (R.randrange(10 ** 8), pick(["TSHIRT", "MUG", "CAP"]), R.randrange(1000), R.randint(1, 5)), "text/csv"),
        lambda: N("url", "https://shop.%s.com/account/orders/ORD-2024-%06d" % (org(), R.randrange(10 ** 6))),
        lambda: N("url", "https://www.dhl.com/de-en/home/tracking.html?tracking-id=%010d" % R.randrange(10 ** 10)),
        lambda: N("header", "X-Order-Id: ORD-%d-%06d" % (R.randint(2022, 2025), R.randrange(10 ** 6))),
        lambda: N("header", "X-Invoice-Number: INV-%06d" % R.randrange(10 ** 6)),
    ])

    # ---- timestamps ----
    neg(out, "timestamp", [
        lambda: N("body", "\n".join("%s INFO worker=%d job=%s done in %dms" % (iso(), R.randint(1, 8), pick(["resize", "sync", "email"]), R.randint(3, 900)) for _ in range(4)) + "\n", "text/plain"),
        lambda: N("body", jdump({"created": ts(), "updated_ms": ts() * 1000 + R.randrange(1000), "expires_at": iso()}), "application/json"),
        lambda: N("body", "Date: Tue, %d May 2024 %02d:%02d:%02d +0200\nSubject: Weekly report\n\n%s\n" % (R.randint(1, 28), R.randrange(24), R.randrange(60), R.randrange(60), pick(LOREM)), "message/rfc822"),
        lambda: N("body", "# m h dom mon dow command\n%d %d * * 1-5 /usr/local/bin/backup.sh\n" % (R.randrange(60), R.randrange(24)), "text/plain"),
        lambda: N("url", "https://api.%s.com/v1/metrics?since=2024-05-01T00:00:00Z&until=2024-05-31T23:59:59Z&step=1h" % org()),
        lambda: N("url", "https://api.%s.io/v1/events?ts=%d" % (org(), ts() * 1000 + R.randrange(1000))),
        lambda: N("header", "If-Modified-Since: Wed, %02d Oct 2023 07:28:00 GMT" % R.randint(1, 28)),
        lambda: N("header", "Date: Mon, %02d Jun 2024 %02d:%02d:%02d GMT" % (R.randint(1, 28), R.randrange(24), R.randrange(60), R.randrange(60))),
        lambda: N("header", "X-Timestamp: %d" % ts()),
        lambda: N("header", "X-Slack-Request-Timestamp: %d" % ts()),
    ])

    # ---- semver ----
    sv = lambda: "%d.%d.%d" % (R.randint(0, 9), R.randint(0, 40), R.randint(0, 30))
    neg(out, "semver", [
        lambda: N("body", jdump({"name": "@%s/%s" % (org(), proj()), "version": sv(), "dependencies": {"react": "^18.3.1", "zod": "~" + sv(), "next": ">=14.0.0 <15"}}, 2), "application/json"),
        lambda: N("body", "[dependencies]\nserde = { version = \"1.0\", features = [\"derive\"] }\ntokio = \"%s\"\n" % sv(), "application/toml"),
        lambda: N("body", "Django==5.0.6\nrequests>=2.31,<3\nnumpy==%s\n" % sv(), "text/plain"),
        lambda: N("url", "https://releases.%s.io/api/check?current=%s-beta.%d%%2Bbuild.%d&channel=stable" % (org(), sv(), R.randint(1, 9), R.randint(100, 9999))),
        lambda: N("url", "https://registry.npmjs.org/%s/%s" % (pick(["express", "vite", "eslint"]), sv())),
        lambda: N("header", "X-Client-Version: %s-rc.%d" % (sv(), R.randint(1, 5))),
    ])

    # ---- MAC / IP addresses ----
    mac = lambda: ":".join("%02x" % x for x in rbytes(6))
    neg(out, "mac-ip-address", [
        lambda: N("body", "? (192.168.1.%d) at %s on en0 ifscope [ethernet]\n? (192.168.1.%d) at %s on en0 ifscope [ethernet]\n" % (R.randint(2, 250), mac(), R.randint(2, 250), mac()), "text/plain"),
        lambda: N("body", jdump({"hostname": "printer-%d" % R.randint(1, 20), "mac": mac().upper(), "ipv4": "10.%d.%d.%d" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)),
                                 "ipv6": "2001:db8:%x:%x::%x" % (R.randrange(65536), R.randrange(65536), R.randrange(65536)), "subnet": "10.0.0.0/16"}), "application/json"),
        lambda: N("header", "X-Forwarded-For: 203.0.113.%d, 198.51.100.%d" % (R.randint(1, 254), R.randint(1, 254))),
        lambda: N("header", "X-Real-IP: 192.0.2.%d" % R.randint(1, 254)),
        lambda: N("hostname", "ip-10-%d-%d-%d.%s.compute.internal" % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254), pick(REGIONS))),
        lambda: N("hostname", "ec2-%d-%d-%d-%d.compute-1.amazonaws.com" % (R.randint(3, 54), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))),
        lambda: N("hostname", "10-244-%d-%d.%s.pod.cluster.local" % (R.randint(0, 9), R.randint(2, 250), pick(["default", "kube-system", "ingress"]))),
        lambda: N("hostname", "%d.%d.0.10.in-addr.arpa" % (R.randint(1, 254), R.randint(0, 255))),
    ])

    # ---- long ordinary hostnames / deploy previews ----
    neg(out, "long-hostname", [lambda: N("hostname", long_host()) for _ in range(24)])
    neg(out, "deploy-preview-hostname", [lambda: N("hostname", preview_host()) for _ in range(14)])


def build_negatives_c(out):
    # ---- analytics / tracking ids ----
    gclid = lambda: "Cj0KCQjw" + rs(ALNUM + "_-", R.randint(70, 90)) + "_BwE"
    neg(out, "analytics-id", [
        lambda: N("url", "https://www.%s.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale&gclid=%s" % (org(), gclid())),
        lambda: N("url", "https://shop.%s.com/p/%d?fbclid=IwAR%s" % (org(), R.randint(100, 9999), rs(ALNUM + "_-", 56))),
        lambda: N("url", "https://www.%s.com/signup?msclkid=%s&utm_source=bing&utm_medium=cpc" % (org(), sha_hex(32))),
        lambda: N("url", "https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&en=page_view&dl=%s" % (rs(UPP + DIG, 10), R.randint(10 ** 8, 2 * 10 ** 9), ts(), q("https://www.%s.com/" % org()))),
        lambda: N("url", "https://www.%s.com/blog/launch?utm_source=newsletter&utm_medium=email&utm_content=hero&mc_eid=%s" % (org(), sha_hex(10))),
        lambda: N("url", "https://www.facebook.com/tr?id=%d&ev=PageView&noscript=1" % R.randint(10 ** 14, 10 ** 15)),
        lambda: N("header", "Cookie: _ga=GA1.1.%d.%d; _gid=GA1.1.%d.%d; _gcl_au=1.1.%d.%d; theme=dark" % (R.randint(10 ** 8, 2 * 10 ** 9), ts(), R.randint(10 ** 8, 2 * 10 ** 9), ts(), R.randint(10 ** 8, 2 * 10 ** 9), ts())),
        lambda: N("header", "Cookie: _fbp=fb.1.%d.%d; _ga_%s=GS1.1.%d.3.1.%d.0.0.0" % (ts(), R.randint(10 ** 8, 2 * 10 ** 9), rs(UPP + DIG, 10), ts(), ts())),
        lambda: N("body", jdump({"anonymousId": uuid4(), "event": "Signed Up", "properties": {"plan": "pro", "referrer": "google"}, "context": {"page": {"path": "/signup"}}}), "application/json"),
        lambda: N("body", "v=1&_v=j101&a=%d&t=pageview&_s=1&dl=%s&ul=en-us&de=UTF-8&dt=Home&sd=24-bit&sr=1920x1080&tid=UA-%d-1&cid=%d.%d" % (
            R.randint(10 ** 8, 2 * 10 ** 9), up.quote_plus("https://www.%s.com/" % org()), R.randint(10 ** 6, 10 ** 8), R.randint(10 ** 8, 2 * 10 ** 9), ts()), "application/x-www-form-urlencoded"),
    ])

    # ---- ordinary API URLs with many parameters ----
    neg(out, "ordinary-api-url", [
        lambda: N("url", "https://api.open-meteo.com/v1/forecast?latitude=52.52&longitude=13.41&hourly=temperature_2m,precipitation&timezone=Europe%2FBerlin&forecast_days=7"),
        lambda: N("url", "https://api.github.com/search/repositories?q=%s+language%%3Arust&sort=stars&order=desc&per_page=50&page=%d" % (pick(["tokio", "parser", "http"]), R.randint(1, 5))),
        lambda: N("url", "https://en.wikipedia.org/w/api.php?action=query&format=json&prop=extracts&exintro=1&explaintext=1&titles=%s" % pick(["Alan_Turing", "Photosynthesis", "Danube"])),
        lambda: N("url", "https://nominatim.openstreetmap.org/search?q=%s&format=jsonv2&addressdetails=1&limit=5" % q(pick(["10 Downing Street, London", "Alexanderplatz 1, Berlin"]))),
        lambda: N("url", "https://%s.atlassian.net/rest/api/3/search?jql=%s&maxResults=50&fields=summary,status" % (org(), q("project = OPS AND status = \"In Progress\" ORDER BY updated DESC"))),
        lambda: N("url", "https://registry.npmjs.org/-/v1/search?text=%s&size=20&from=0&quality=0.65&popularity=0.98" % pick(["markdown", "csv parser", "date"]).replace(" ", "+")),
        lambda: N("url", "https://pypi.org/pypi/%s/json" % pick(["requests", "numpy", "httpx", "pydantic"])),
        lambda: N("url", "https://hn.algolia.com/api/v1/search?query=%s&tags=story&numericFilters=points%%3E100" % pick(["sqlite", "wasm", "postgres"])),
        lambda: N("url", "https://export.arxiv.org/api/query?search_query=all:%s&start=0&max_results=25&sortBy=submittedDate" % pick(["transformer", "diffusion", "graph"])),
        lambda: N("url", "https://api.stackexchange.com/2.3/questions?order=desc&sort=activity&tagged=%s&site=stackoverflow&pagesize=30" % pick(["python", "rust", "kubernetes"])),
        lambda: N("url", "https://crt.sh/?q=%%25.%s.com&output=json" % org()),
        lambda: N("url", "https://grafana.%s.io/d/%s/%s-overview?orgId=1&from=now-6h&to=now&var-env=prod&var-region=%s&refresh=30s" % (org(), rs(ALNUM, 9), proj(), pick(REGIONS))),
        lambda: N("url", "https://www.%s.com/search?q=%s&category=electronics&sort=price_asc&min_price=50&max_price=400&page=2" % (org(), q("usb c hub"))),
        lambda: N("url", "https://api.%s.io/v2/products?filter%%5Bstatus%%5D=active&include=variants,images&fields%%5Bproducts%%5D=title,price&sort=-created_at" % org()),
    ])

    # ---- ordinary headers ----
    neg(out, "ordinary-header", [
        lambda: N("header", "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % R.randint(118, 130)),
        lambda: N("header", "User-Agent: python-requests/2.%d.%d" % (R.randint(25, 32), R.randint(0, 3))),
        lambda: N("header", "User-Agent: curl/8.%d.%d" % (R.randint(0, 9), R.randint(0, 3))),
        lambda: N("header", "ETag: W/\"%s\"" % sha_hex(R.choice([16, 24]))),
        lambda: N("header", "If-None-Match: \"%s-%s\"" % (rs(HEXL, 3), rs(ALNUM, 27))),
        lambda: N("header", "traceparent: 00-%s-%s-01" % (sha_hex(32), sha_hex(16))),
        lambda: N("header", "tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        lambda: N("header", "CF-Ray: %s-%s" % (sha_hex(16), pick(["FRA", "SJC", "LHR", "NRT", "AMS"]))),
        lambda: N("header", "X-Amzn-Trace-Id: Root=1-%s-%s;Parent=%s;Sampled=1" % (sha_hex(8), sha_hex(24), sha_hex(16))),
        lambda: N("header", "Accept-Language: de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"),
        lambda: N("header", "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\""),
        lambda: N("header", "Sec-WebSocket-Key: " + b64(rbytes(16))),
        lambda: N("header", "X-Cloud-Trace-Context: %s/%d;o=1" % (sha_hex(32), R.randint(10 ** 15, 10 ** 18))),
        lambda: N("header", "X-B3-TraceId: " + sha_hex(16)),
        lambda: N("header", "baggage: userId=%s,serverNode=DF%%2028,isProduction=false" % user()),
        lambda: N("header", "Content-Type: multipart/form-data; boundary=----WebKitFormBoundary" + rs(ALNUM, 16)),
        lambda: N("header", "Cookie: theme=dark; locale=en-GB; consent=analytics%3Afalse%2Cads%3Afalse"),
        lambda: N("header", "Accept: application/vnd.github+json"),
    ])

    # ---- compressed benign bodies ----
    def comp(ce, text, ct):
        return lambda: N("body", text(), ct, ce)
    neg(out, "compressed-body", [
        comp("gzip", lambda: jdump({"events": [{"name": pick(["click", "view", "scroll"]), "ts": iso(), "page": "/docs/%s" % proj()} for _ in range(5)]}), "application/json"),
        comp("deflate", lambda: "\n".join("%s INFO %s ok in %dms" % (iso(), pick(["GET /", "POST /api/v1/items", "GET /health"]), R.randint(1, 300)) for _ in range(8)) + "\n", "text/plain"),
        comp("gzip", lambda: "<html><head><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>" % (proj().title(), proj().title(), prose(3)), "text/html"),
        comp("gzip", lambda: "date,region,revenue\n" + "".join("2024-05-%02d,%s,%d\n" % (d, pick(["EU", "US", "APAC"]), R.randint(1000, 90000)) for d in range(1, 11)), "text/csv"),
        comp("deflate", lambda: jdump({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prose(4)}]}), "application/json"),
        comp("gzip", lambda: "\n".join(jc({"level": "info", "svc": proj(), "msg": pick(LOREM)}) for _ in range(4)) + "\n", "application/x-ndjson"),
        comp("deflate", lambda: "<?xml version=\"1.0\"?><feed><entry><title>%s</title><updated>%s</updated></entry></feed>" % (pick(LOREM)[:40], iso()), "application/atom+xml"),
        comp("gzip", lambda: jdump({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": proj()}}]},
                                                       "scopeSpans": [{"spans": [{"traceId": sha_hex(32), "spanId": sha_hex(16), "name": "GET /api", "kind": 2}]}]}]}), "application/json"),
        comp("deflate", lambda: "# %s\n\n%s\n\n## Install\n\n    pip install %s\n" % (proj().title(), prose(2), proj()), "text/markdown"),
        comp("gzip", lambda: jdump({"query": "query { viewer { login repositories(first: 10) { nodes { name } } } }"}), "application/json"),
    ])

    # ---- ordinary text ----
    neg(out, "ordinary-text", [
        lambda: N("body", "# %s\n\n%s\n\n## Usage\n\n```bash\nnpm install %s\n```\n" % (proj().title(), prose(2), proj()), "text/markdown"),
        lambda: N("body", "Hi %s,\n\n%s\n\nBest,\n%s\n" % (user().title(), prose(3), user().title()), "text/plain"),
        lambda: N("body", "fix(api): handle empty cursor in pagination\n\n%s\n\nCloses #%d\n" % (pick(LOREM), R.randint(10, 999)), "text/plain"),
        lambda: N("body", "Meeting notes %s\n- %s\n- %s\n- Action: %s to draft the proposal\n" % (iso()[:10], pick(LOREM), pick(LOREM), user().title()), "text/plain"),
        lambda: N("body", "本日の議事録：新しいリリース計画について話し合いました。次回のミーティングは来週の水曜日です。\n", "text/plain; charset=utf-8"),
        lambda: N("body", "Bonjour à tous, la réunion de demain est reportée à 15h. Merci de mettre à jour vos tâches avant vendredi.\n", "text/plain; charset=utf-8"),
        lambda: N("body", jdump({"text": prose(2), "channel": "#general"}), "application/json"),
        lambda: N("body", "Looks good to me overall. One nit: the `retry` helper could use exponential backoff instead of a fixed delay. %s\n" % pick(LOREM), "text/plain"),
        lambda: N("body", "Ingredients: 200 g flour, 2 eggs, 300 ml milk, a pinch of salt.\n%s\n" % LOREM[9], "text/plain"),
        lambda: N("body", "<p>%s</p>\n<p>%s</p>\n" % (pick(LOREM), pick(LOREM)), "text/html"),
    ])

    # ---- IBAN look-alikes (wrong format) ----
    neg(out, "iban-lookalike", [
        lambda: N("body", jdump({"account": "US%02d %s %s %s %s %s" % (R.randint(10, 99), rs(DIG, 4), rs(DIG, 4), rs(DIG, 4), rs(DIG, 4), rs(DIG, 2)), "routing": "0210000%02d" % R.randrange(100)}), "application/json"),
        lambda: N("body", "Konto: DE%02d %s %s %s %s\n" % (R.randint(10, 99), rs(DIG, 4), rs(DIG, 4), rs(DIG, 4), rs(DIG, 4)), "text/plain; charset=utf-8"),
        lambda: N("body", "Reference XX%02d %s %s %s %s (internal ledger code)\n" % (R.randint(10, 99), rs(DIG, 4), rs(UPP, 4), rs(DIG, 4), rs(DIG, 4)), "text/plain"),
        lambda: N("body", jdump({"bic": pick(["DEUTDEFFXXX", "COBADEFFXXX", "BNPAFRPPXXX", "NWBKGB2L"]), "sort_code": "%02d-%02d-%02d" % (R.randrange(100), R.randrange(100), R.randrange(100)), "account_number": rs(DIG, 8)}), "application/json"),
        lambda: N("body", "CCC: %s %s %s %s\n" % (rs(DIG, 4), rs(DIG, 4), rs(DIG, 2), rs(DIG, 10)), "text/plain"),
        lambda: N("body", "GB%02d WEST %s %s %s\n" % (R.randint(10, 99), rs(DIG, 4), rs(DIG, 4), rs(DIG, 2)), "text/plain"),
        lambda: N("url", "https://banking.%s.eu/api/v1/payees/validate?iban=NL%02dABNA%s&country=NL" % (org(), R.randint(10, 99), rs(DIG, 6))),
        lambda: N("url", "https://api.%s.com/v1/accounts/QQ%02d%s/balance" % (org(), R.randint(10, 99), rs(DIG, 18))),
    ])

    # ---- crypto-address look-alikes (wrong alphabet/length) ----
    neg(out, "crypto-address-lookalike", [
        lambda: N("body", jdump({"cid": "Qm" + rs(B58, 44), "pin": True, "name": "%s.png" % proj()}), "application/json"),
        lambda: N("body", "ipfs://Qm%s/metadata.json\n" % rs(B58, 44), "text/plain"),
        lambda: N("body", "address: 1%s0%s (typo? contains zero)\n" % (rs(B58, 14), rs(B58, 18)), "text/plain"),
        lambda: N("body", jdump({"value": "bc1q" + rs("bio" + BECH, 30) + pick(["b", "i", "o"]) + rs(BECH, 4)}), "application/json"),
        lambda: N("url", "https://explorer.%s.io/search?q=0x%s" % (org(), sha_hex(38))),
        lambda: N("url", "https://gateway.pinata.cloud/ipfs/Qm%s" % rs(B58, 44)),
    ])

    # ---- Ethereum tx / block hashes ----
    h64 = lambda: "0x" + sha_hex(64)
    neg(out, "ethereum-tx-hash", [
        lambda: N("url", "https://etherscan.io/tx/%s" % h64()),
        lambda: N("url", "https://basescan.org/tx/%s#eventlog" % h64()),
        lambda: N("url", "https://etherscan.io/block/%d" % R.randint(17000000, 21000000)),
        lambda: N("url", "https://api.%s.io/v1/tx/%s/status" % (org(), h64())),
        lambda: N("body", jc({"jsonrpc": "2.0", "method": "eth_getTransactionReceipt", "params": [h64()], "id": R.randint(1, 99)}), "application/json"),
        lambda: N("body", jc({"jsonrpc": "2.0", "method": "eth_getBlockByHash", "params": [h64(), False], "id": R.randint(1, 99)}), "application/json"),
        lambda: N("body", jdump({"topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", "0x" + "0" * 24 + sha_hex(40), "0x" + "0" * 24 + sha_hex(40)],
                                 "transactionHash": h64(), "blockNumber": hex(R.randint(17000000, 21000000))}), "application/json"),
        lambda: N("body", jdump({"safeTxHash": h64(), "nonce": R.randint(1, 300), "confirmations": R.randint(1, 3)}), "application/json"),
    ])

    # ---- benign LLM / MCP request bodies with long natural text ----
    code_snip = "def moving_average(xs, n):\n    out = []\n    for i in range(len(xs) - n + 1):\n        out.append(sum(xs[i:i + n]) / n)\n    return out\n"
    neg(out, "llm-request-benign", [
        lambda: N("body", jdump({"model": "gpt-4o", "messages": [{"role": "system", "content": "You are a concise technical editor."},
                                                                 {"role": "user", "content": "Summarise this in two sentences: " + prose(5)}], "temperature": 0.3}), "application/json"),
        lambda: N("body", jdump({"model": "claude-3-5-sonnet-20241022", "max_tokens": 2048, "system": "You are a helpful assistant for a travel company.",
                                 "messages": [{"role": "user", "content": "Plan a three-day itinerary for Lisbon with a focus on food and architecture."},
                                              {"role": "assistant", "content": "Day 1: Alfama and the castle..."},
                                              {"role": "user", "content": "Great, can you add a day trip to Sintra?"}]}), "application/json"),
        lambda: N("body", jdump({"contents": [{"role": "user", "parts": [{"text": "Explain the difference between TCP and UDP for a beginner, with an analogy."}]}], "generationConfig": {"temperature": 0.7}}), "application/json"),
        lambda: N("body", jdump({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}), "application/json"),
        lambda: N("body", jdump({"jsonrpc": "2.0", "id": R.randint(2, 99), "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "src/%s/app.py" % proj()}}}), "application/json"),
        lambda: N("body", jdump({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {"roots": {"listChanged": True}},
                                                                                               "clientInfo": {"name": "claude-code", "version": "1.0.%d" % R.randint(1, 90)}}}), "application/json"),
        lambda: N("body", jdump({"model": "gpt-4.1", "input": "Write a haiku about autumn rain.", "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}), "application/json"),
        lambda: N("body", jdump({"model": "text-embedding-3-small", "input": [pick(LOREM), pick(LOREM), pick(LOREM)]}), "application/json"),
        lambda: N("body", jdump({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Review this function for bugs:\n\n" + code_snip}]}), "application/json"),
        lambda: N("body", jdump({"model": "claude-3-5-haiku-latest", "max_tokens": 600, "messages": [{"role": "user", "content": "Traduis en allemand : « La réunion est reportée à jeudi prochain, merci de votre compréhension. »"}]}), "application/json"),
        lambda: N("body", jdump({"model": "llama3.1", "prompt": "List five classic novels and one sentence about each.", "stream": False}), "application/json"),
        lambda: N("body", "\n".join(jc({"custom_id": "req-%d" % i, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": pick(LOREM)}]}}) for i in range(3)) + "\n", "application/jsonl"),
        lambda: N("body", jdump({"jsonrpc": "2.0", "id": R.randint(2, 99), "method": "tools/call", "params": {"name": "search_docs", "arguments": {"query": "how to configure retries", "limit": 5}}}), "application/json"),
        lambda: N("body", jdump({"model": "claude-3-7-sonnet-latest", "max_tokens": 1024, "messages": [{"role": "user", "content": [{"type": "text", "text": "Write release notes from these commits:\n- fix pagination\n- add csv export\n- bump dependencies"}]}]}), "application/json"),
        lambda: N("body", jdump({"model": "gpt-4o", "messages": [{"role": "user", "content": "Convert this recipe to metric units: 2 cups flour, 1 stick butter, 350F oven."}], "response_format": {"type": "json_object"}}), "application/json"),
        lambda: N("body", jdump({"contents": [{"parts": [{"text": "Write a short bedtime story about a lighthouse keeper and a curious seal."}]}], "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_MEDIUM_AND_ABOVE"}]}), "application/json"),
    ])

    # ---- OAuth / WebAuthn public parameters ----
    st = lambda: b64u(rbytes(R.choice([16, 24, 32])))
    chal = lambda: b64u(hashlib.sha256(rbytes(32)).digest())
    neg(out, "oauth-public-params", [
        lambda: N("url", "https://accounts.google.com/o/oauth2/v2/auth?client_id=%s&redirect_uri=%s&response_type=code&scope=openid%%20email%%20profile&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256&access_type=offline&prompt=consent" % (
            q(google_client_id()), q("https://app.%s.io/auth/callback" % org()), st(), st(), chal())),
        lambda: N("url", "https://github.com/login/oauth/authorize?client_id=Iv1.%s&redirect_uri=%s&scope=read%%3Auser%%20repo&state=%s" % (sha_hex(16), q("https://%s.dev/oauth/github" % org()), sha_hex(32))),
        lambda: N("url", "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s&response_mode=query&scope=offline_access%%20User.Read&state=%s&code_challenge=%s&code_challenge_method=S256" % (
            uuid4(), q("http://localhost:8400/"), st(), chal())),
        lambda: N("url", "https://%s.okta.com/oauth2/default/v1/authorize?client_id=0oa%s&response_type=code&scope=openid&redirect_uri=%s&state=%s&nonce=%s" % (org(), rs(ALNUM, 17), q("https://app.%s.com/callback" % org()), st(), st())),
        lambda: N("url", "https://%s.eu.auth0.com/authorize?response_type=code&client_id=%s&redirect_uri=%s&scope=openid%%20profile&audience=%s&state=%s&code_challenge=%s&code_challenge_method=S256" % (
            org(), rs(ALNUM, 32), q("https://app.%s.io/cb" % org()), q("https://api.%s.io" % org()), st(), chal())),
        lambda: N("url", "https://appleid.apple.com/auth/authorize?client_id=com.%s.web&redirect_uri=%s&response_type=code%%20id_token&scope=name%%20email&response_mode=form_post&state=%s&nonce=%s" % (org().replace("-", ""), q("https://%s.com/apple/callback" % org()), st(), st())),
        lambda: N("url", "https://auth.%s.io/.well-known/openid-configuration" % org()),
        lambda: N("url", "https://app.%s.io/auth/callback?state=%s&session_state=%s&iss=%s" % (org(), st(), uuid4(), q("https://auth.%s.io" % org()))),
        lambda: N("body", jdump({"publicKey": {"challenge": b64u(rbytes(32)), "rp": {"name": org().title(), "id": "%s.com" % org()},
                                               "user": {"id": b64u(rbytes(16)), "name": "%s@%s.com" % (user(), org()), "displayName": user().title()},
                                               "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
                                               "timeout": 60000, "attestation": "none"}}), "application/json"),
        lambda: N("body", jdump({"challenge": b64u(rbytes(32)), "rpId": "%s.com" % org(), "allowCredentials": [{"type": "public-key", "id": b64u(rbytes(32))}], "userVerification": "preferred"}), "application/json"),
        lambda: N("body", "client_id=%s&scope=%s" % (rs(ALNUM, 20), up.quote_plus("read:user offline_access")), "application/x-www-form-urlencoded"),
        lambda: N("body", jdump({"response_type": "code", "client_id": "%s-web" % proj(), "redirect_uri": "https://app.%s.io/cb" % org(), "state": st(), "nonce": st(), "code_challenge": chal(), "code_challenge_method": "S256"}), "application/json"),
    ])

    # ---- public-by-design client keys ----
    neg(out, "public-client-key", [
        lambda: N("body", "const stripe = Stripe('pk_live_%s');\nconst elements = stripe.elements();\n" % rs(ALNUM, pick([24, 99])), "application/javascript"),
        lambda: N("body", "Sentry.init({\n  dsn: \"https://%s@o%d.ingest.sentry.io/%d\",\n  tracesSampleRate: 0.2,\n});\n" % (sha_hex(32), R.randint(10 ** 5, 10 ** 7), R.randint(10 ** 5, 10 ** 7)), "application/javascript"),
        lambda: N("body", "<div class=\"h-captcha\" data-sitekey=\"%s\"></div>\n<script src=\"https://js.sentry-cdn.com/%s.min.js\" crossorigin=\"anonymous\"></script>\n" % (uuid4(), sha_hex(32)), "text/html"),
        lambda: N("body", "<div class=\"g-recaptcha\" data-sitekey=\"6L%s\"></div>\n" % rs(ALNUM + "_-", 38), "text/html"),
        lambda: N("body", "const supabase = createClient('https://%s.supabase.co', 'sb_publishable_%s')\n" % (rs(LOW, 20), rs(ALNUM + "_-", 31)), "application/javascript"),
        lambda: N("url", "https://o%d.ingest.sentry.io/api/%d/envelope/?sentry_key=%s&sentry_version=7&sentry_client=sentry.javascript.browser%%2F8.9.2" % (R.randint(10 ** 5, 10 ** 7), R.randint(10 ** 5, 10 ** 7), sha_hex(32))),
    ])


def build_negatives():
    out = []
    build_negatives_a(out)
    build_negatives_b(out)
    build_negatives_c(out)
    return out


# --------------------------------------------------------------------------
# assembly, serialisation, checker
# --------------------------------------------------------------------------
KEY_ORDER = ["id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"]
ALLOWED = set(KEY_ORDER)
WHERES = ("body", "url", "header", "hostname")


def build_all():
    pos = build_positives()
    negs = build_negatives()
    R.shuffle(pos)
    R.shuffle(negs)
    for i, r in enumerate(pos, 1):
        r["id"] = "t5-pos-%04d" % i
    for i, r in enumerate(negs, 1):
        r["id"] = "t5-neg-%04d" % i
    return pos, negs


def serialise(recs):
    lines = []
    for r in recs:
        o = {k: r[k] for k in KEY_ORDER if k in r}
        lines.append(json.dumps(o, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8")


def independent_checksum(cls, view):
    """Re-find a checksum-valid value of the class in the decoded view, without using recorded secrets."""
    if cls == "payment-card":
        return any(luhn_ok(re.sub(r"[ \-]", "", m.group(0))) for m in DIGRUN.finditer(view))
    if cls == "iban":
        for m in IBAN_CAND.finditer(view.upper()):
            s = m.group(1).replace(" ", "")
            L = IBAN_LEN.get(s[:2])
            if L and len(s) >= L and iban_ok(s[:L]):
                return True
        return False
    if cls == "bitcoin-address":
        return any(btc_b58_ok(m.group(0)) for m in B58_CAND.finditer(view)) or \
            any(btc_bech_ok(m.group(0)) for m in BECH_CAND.finditer(view))
    if cls == "ethereum-address":
        return any(eth_ok(m.group(0)) for m in ETH_CAND.finditer(view))
    return True


def check(pos_bytes, neg_bytes, mem_pos, mem_neg):
    errors = []
    seen = {}
    mem = {r["id"]: r for r in mem_pos + mem_neg}
    parsed_all = []
    for label, data, prefix in (("positive", pos_bytes, "t5-pos-"), ("negative", neg_bytes, "t5-neg-")):
        text = data.decode("utf-8")
        if not text.endswith("\n"):
            errors.append("%s: file does not end with newline" % label)
        lines = text.split("\n")[:-1]
        for n, line in enumerate(lines, 1):
            where = "%s line %d" % (label, n)
            try:
                rec = json.loads(line)
            except ValueError as e:
                errors.append("%s: bad JSON %s" % (where, e))
                continue
            if not isinstance(rec, dict) or set(rec) - ALLOWED:
                errors.append("%s: unexpected keys %s" % (where, sorted(set(rec) - ALLOWED)))
                continue
            for k in ("id", "label", "expect", "where"):
                if not isinstance(rec.get(k), str):
                    errors.append("%s: missing %s" % (where, k))
            if ("text" in rec) == ("base64" in rec):
                errors.append("%s: need exactly one of text/base64" % where)
                continue
            if rec.get("id") != "%s%04d" % (prefix, n):
                errors.append("%s: id %s out of order" % (where, rec.get("id")))
            if rec.get("label") != label:
                errors.append("%s: label %s" % (where, rec.get("label")))
            if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rec.get("expect", "")):
                errors.append("%s: expect not kebab-case" % where)
            w = rec.get("where")
            if w not in WHERES:
                errors.append("%s: where %s" % (where, w))
            if "content_type" in rec and (w != "body" or not isinstance(rec["content_type"], str)):
                errors.append("%s: content_type outside body" % where)
            ce = rec.get("content_encoding")
            if ce is not None and (ce not in ("gzip", "deflate") or "base64" not in rec or w != "body"):
                errors.append("%s: bad content_encoding" % where)
            if "base64" in rec:
                if w != "body":
                    errors.append("%s: base64 outside body" % where)
                try:
                    raw = base64.b64decode(rec["base64"], validate=True)
                    if base64.b64encode(raw).decode() != rec["base64"]:
                        errors.append("%s: non-canonical base64" % where)
                    if ce == "gzip":
                        gzip.decompress(raw)
                    elif ce == "deflate":
                        zlib.decompress(raw)
                except (binascii.Error, ValueError, OSError, zlib.error) as e:
                    errors.append("%s: base64/decompress failed %s" % (where, e))
                    continue
            else:
                t = rec["text"]
                try:
                    t.encode("utf-8")
                except UnicodeEncodeError:
                    errors.append("%s: text not UTF-8 encodable" % where)
                if w == "url" and not (t.isascii() and url_ok(t)):
                    errors.append("%s: malformed url %r" % (where, t[:80]))
                if w == "hostname" and not host_ok(t):
                    errors.append("%s: malformed hostname %r" % (where, t))
                if w == "header" and not header_ok(t):
                    errors.append("%s: malformed header %r" % (where, t[:80]))
            key = (w, rec.get("text"), rec.get("base64"), ce)
            if key in seen:
                errors.append("%s: duplicate of %s" % (where, seen[key]))
            seen[key] = rec.get("id")
            body = content_of(rec)
            ct = rec.get("content_type", "")
            if re.match(r"application/(?:[a-z.\-]+\+)?json$|application/x-amz-json|application/vnd\.oci\.[a-z.]+\+json", ct):
                try:
                    json.loads(body)
                except ValueError:
                    errors.append("%s: content_type %s but body is not JSON" % (where, ct))
            if "-----BEGIN" in body or "PRIVATE KEY" in body:
                errors.append("%s: PEM armour present" % where)
            m = mem.get(rec.get("id"))
            if m is None or any(m.get(k) != rec.get(k) for k in KEY_ORDER):
                errors.append("%s: does not match regenerated case" % where)
                continue
            if label == "positive":
                meta = m["_m"]
                view = apply_layers(body, meta["layers"])
                if not meta["secrets"] or not all(s in view for s in meta["secrets"]):
                    errors.append("%s: secret not recoverable via %s" % (where, meta["layers"]))
                if meta["validator"]:
                    for s in meta["secrets"]:
                        if not VALIDATORS[meta["validator"]](s):
                            errors.append("%s: %s validator failed on %r" % (where, meta["validator"], s[:40]))
                if not independent_checksum(rec["expect"], view):
                    errors.append("%s: no checksum-valid %s found in decoded line" % (where, rec["expect"]))
            else:
                fl = scan_case(rec)
                if fl:
                    errors.append("%s (%s): accidental secret %s" % (where, rec["expect"], fl[:3]))
            parsed_all.append(rec)
    return errors, parsed_all


def stats(recs):
    by = {}
    for r in recs:
        d = by.setdefault(r["expect"], {"body": 0, "url": 0, "header": 0, "hostname": 0})
        d[r["where"]] += 1
    rows = ["| %s | %d | %d | %d | %d | %d |" % (k, sum(v.values()), v["body"], v["url"], v["header"], v["hostname"]) for k, v in sorted(by.items())]
    tot = {w: sum(1 for r in recs if r["where"] == w) for w in WHERES}
    rows.append("| **total (%d %s)** | %d | %d | %d | %d | %d |" % (len(by), "kinds", len(recs), tot["body"], tot["url"], tot["header"], tot["hostname"]))
    return "| expect | n | body | url | header | hostname |\n|---|---|---|---|---|---|\n" + "\n".join(rows)


DOC_VALUES = set(TEST_CARDS + IBAN_DOCS + BTC_DOCS + ETH_DOCS + [JWT_IO, AZURITE_KEY, "AKIAIOSFODNN7EXAMPLE",
                  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"])


def extra_stats(pos, negs):
    out = []
    modes = {}
    for r in pos:
        mo = r["_m"].get("mode", "real")
        if mo == "real" and any(s in DOC_VALUES for s in r["_m"]["secrets"]):
            mo = "doc"
        modes[mo] = modes.get(mo, 0) + 1
    out.append("variants: " + ", ".join("%s=%d" % kv for kv in sorted(modes.items())))
    lay = {}
    for r in pos:
        k = "+".join(x if isinstance(x, str) else x[0] for x in r["_m"]["layers"]) or "(none)"
        if r.get("content_encoding"):
            k = r["content_encoding"] + ("+" + k if k != "(none)" else "")
        lay[k] = lay.get(k, 0) + 1
    out.append("positive layer chains: " + ", ".join("%s=%d" % kv for kv in sorted(lay.items(), key=lambda x: -x[1])))
    for name, recs in (("positives", pos), ("negatives", negs)):
        ce = sum(1 for r in recs if r.get("content_encoding"))
        binary = sum(1 for r in recs if "base64" in r and not r.get("content_encoding"))
        cts = {}
        for r in recs:
            if r["where"] == "body":
                c = r.get("content_type", "(none)").split(";")[0]
                cts[c] = cts.get(c, 0) + 1
        out.append("%s: compressed=%d binary=%d content types: %s" % (name, ce, binary, ", ".join("%s=%d" % kv for kv in sorted(cts.items(), key=lambda x: -x[1]))))
    return "\n".join(out)


def main(argv):
    mode = argv[1] if len(argv) > 1 else "generate"
    pos, negs = build_all()
    pb, nb = serialise(pos), serialise(negs)
    if mode == "generate":
        with open(POS_FILE, "wb") as f:
            f.write(pb)
        with open(NEG_FILE, "wb") as f:
            f.write(nb)
    with open(POS_FILE, "rb") as f:
        fpb = f.read()
    with open(NEG_FILE, "rb") as f:
        fnb = f.read()
    errors = []
    if fpb != pb:
        errors.append("positives.jsonl differs from regeneration")
    if fnb != nb:
        errors.append("negatives.jsonl differs from regeneration")
    e2, parsed = check(fpb, fnb, pos, negs)
    errors += e2
    for e in errors[:50]:
        print("ERROR:", e)
    print("positives: %d lines sha256 %s" % (fpb.count(b"\n"), hashlib.sha256(fpb).hexdigest()))
    print("negatives: %d lines sha256 %s" % (fnb.count(b"\n"), hashlib.sha256(fnb).hexdigest()))
    if mode == "--stats":
        print("\n## positives\n" + stats(pos) + "\n\n## negatives\n" + stats(negs))
        print("\n" + extra_stats(pos, negs))
    print("check: %s (%d errors)" % ("OK" if not errors else "FAILED", len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
