#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Generator and checker for the held-out Tollgate corpus, split 4 (test4).

Python 3 standard library only.  Everything comes from one random.Random(SEED),
so re-running rewrites positives.jsonl / negatives.jsonl byte for byte.

    nice python3 generate.py           # regenerate both files, then check them
    nice python3 generate.py --check   # only check the existing files

Written from public knowledge only (vendor token formats, documented example
values, published checksum schemes).  No detector rules or earlier corpora
were consulted.
"""
import base64
import gzip
import hashlib
import json
import os
import quopri
import random
import re
import string
import struct
import sys
import uuid
import zlib
from collections import Counter, defaultdict
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlencode, urlsplit
from xml.sax.saxutils import escape as xml_escape

SEED = 61803398
HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(SEED)

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
DIG = string.digits
UP = string.ascii_uppercase
LO = string.ascii_lowercase
ALNUM = DIG + UP + LO            # base62, in the order GitHub's checksum uses
B64U = UP + LO + DIG + '-_'
B64S = UP + LO + DIG + '+/'
HEX = '0123456789abcdef'
HEXU = '0123456789ABCDEF'
B32 = UP + '234567'
LOWDIG = LO + DIG
URLTOK = ALNUM + '-_'


def rs(n, a=ALNUM):
    return ''.join(R.choice(a) for _ in range(n))


def rdig(n):
    return R.choice('123456789') + rs(n - 1, DIG)


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def _b(x):
    return x if isinstance(x, bytes) else x.encode('utf-8')


def b64e(x):
    return base64.b64encode(_b(x)).decode()


def b64u(x, pad=False):
    s = base64.urlsafe_b64encode(_b(x)).decode()
    return s if pad else s.rstrip('=')


def b32e(x, lower=True, pad=False):
    s = base64.b32encode(_b(x)).decode()
    if not pad:
        s = s.rstrip('=')
    return s.lower() if lower else s


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def jdump(obj, indent=None):
    if indent is None:
        indent = pick([None, None, 2])
    return json.dumps(obj, ensure_ascii=False, indent=indent)


class Cycler:
    """Round-robin over a shuffled list so that every container gets used."""

    def __init__(self, items):
        self.items = list(items)
        R.shuffle(self.items)
        self.i = 0

    def next(self):
        it = self.items[self.i % len(self.items)]
        self.i += 1
        if self.i % len(self.items) == 0:
            R.shuffle(self.items)
        return it


FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory',
         'nina', 'oscar', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yuki', 'lena', 'mateo',
         'priya', 'chen', 'olga', 'amara', 'tomasz', 'ingrid', 'kenji', 'fatima']
LAST = ['smith', 'mueller', 'dubois', 'garcia', 'rossi', 'jansen', 'kowalski', 'tanaka', 'ivanova', 'okafor',
        'nguyen', 'silva', 'larsen', 'novak', 'kim', 'patel', 'haddad', 'schmidt', 'moreau', 'berg']
SVC = ['billing', 'checkout', 'ingest', 'auth', 'search', 'notifier', 'reports', 'payments', 'gateway',
       'scheduler', 'inventory', 'analytics', 'mailer', 'webhooks', 'exporter', 'ledger', 'catalog', 'media']
ORG = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'piedpiper', 'vandelay', 'starkind', 'waynetech',
       'tyrell', 'cyberdyne', 'wonka', 'soylent', 'aperture', 'massive', 'northwind', 'contoso', 'fabrikam']
TLD = ['com', 'io', 'net', 'dev', 'co', 'app', 'de', 'fr', 'eu']
REGIONS = ['us-east-1', 'us-east-2', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2',
           'ap-northeast-1', 'sa-east-1', 'ca-central-1', 'eu-north-1', 'ap-south-1', 'eu-west-3']
WORDS = ['correct', 'horse', 'battery', 'staple', 'sunset', 'river', 'falcon', 'maple', 'orbit', 'velvet',
         'harbor', 'cobalt', 'ember', 'willow', 'quartz', 'tango', 'mosaic', 'lunar', 'pepper', 'glacier']
PW_SYMS = '!@^*-_.?~'


def person():
    return pick(FIRST), pick(LAST)


def uname():
    f, l = person()
    return pick([f, f + '.' + l, f[0] + l, f + str(R.randint(1, 99)), f + '_' + l])


def email():
    f, l = person()
    return f'{f}.{l}@{pick(ORG)}.{pick(TLD)}'


def corp_host():
    return '%s.%s%s.%s' % (pick(['api', 'app', 'internal', 'ci', 'deploy', 'hooks', 'dashboard', 'sync', 'ops']),
                           pick(ORG), pick(['', '-corp', '-labs', 'hq', '-cloud']), pick(TLD))


def ver():
    return '%d.%d.%d' % (R.randint(0, 9), R.randint(0, 30), R.randint(0, 40))


def iso_ts():
    return '2024-%02d-%02dT%02d:%02d:%02d.%03dZ' % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23),
                                                     R.randint(0, 59), R.randint(0, 59), R.randint(0, 999))


def password():
    t = R.randrange(3)
    if t == 0:
        return pick(WORDS).capitalize() + pick(PW_SYMS) + pick(WORDS) + rdig(R.randint(2, 4))
    if t == 1:
        return rs(1, UP) + rs(R.randint(13, 20), ALNUM + PW_SYMS) + rs(1, DIG)
    return pick(WORDS) + rs(R.randint(6, 10), ALNUM) + pick(PW_SYMS) + rs(2, DIG)


def snake(k):
    return k.lower()


def camel(k):
    p = k.lower().split('_')
    return p[0] + ''.join(x.capitalize() for x in p[1:])


def dotted(k):
    return k.lower().replace('_', '.')


def kebab(k):
    return k.lower().replace('_', '-')


# ---------------------------------------------------------------------------
# checksums and crypto (pure Python)
# ---------------------------------------------------------------------------
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(x, n):
    n %= 64
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


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


def _sponge(data, dsbyte, rate=136, outlen=32):
    A = [[0] * 5 for _ in range(5)]
    msg = bytearray(data) + bytes([dsbyte])
    while len(msg) % rate:
        msg.append(0)
    msg[-1] |= 0x80
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            A[i % 5][i // 5] ^= int.from_bytes(block[8 * i:8 * i + 8], 'little')
        A = _keccak_f(A)
    out = b''.join(A[i % 5][i // 5].to_bytes(8, 'little') for i in range(rate // 8))
    return out[:outlen]


def keccak256(b):
    return _sponge(b, 0x01)


def eip55(addr20):
    h = addr20.hex()
    k = keccak256(h.encode()).hex()
    return '0x' + ''.join(c.upper() if c in 'abcdef' and int(k[i], 16) >= 8 else c for i, c in enumerate(h))


def eip55_ok(s):
    body = s[2:]
    if body == body.lower():
        return True          # all-lowercase carries no checksum but is a valid address
    return eip55(bytes.fromhex(body))[2:] == body


B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def b58enc(b):
    n = int.from_bytes(b, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + s


def b58dec(s):
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, 'big') if n else b''
    return b'\0' * (len(s) - len(s.lstrip('1'))) + body


def b58check(payload):
    return b58enc(payload + sha256d(payload)[:4])


def b58check_ok(s):
    try:
        b = b58dec(s)
    except ValueError:
        return False
    return len(b) == 25 and b[0] in (0, 5) and sha256d(b[:-4])[:4] == b[-4:]


BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'


def _polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if (b >> i) & 1 else 0
    return chk


def _hrpx(h):
    return [ord(c) >> 5 for c in h] + [0] + [ord(c) & 31 for c in h]


def _convertbits(data, frombits, tobits, pad=True):
    acc = bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    for v in data:
        acc = (acc << frombits) | v
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret


def segwit_addr(hrp, ver_, prog):
    data = [ver_] + _convertbits(prog, 8, 5)
    const = 1 if ver_ == 0 else 0x2bc830a3
    pm = _polymod(_hrpx(hrp) + data + [0] * 6) ^ const
    return hrp + '1' + ''.join(BECH[d] for d in data + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


def segwit_ok(s):
    if s != s.lower() and s != s.upper():
        return False
    s = s.lower()
    pos = s.rfind('1')
    hrp, dp = s[:pos], s[pos + 1:]
    if hrp not in ('bc', 'tb') or len(dp) < 7 or any(c not in BECH for c in dp):
        return False
    data = [BECH.index(c) for c in dp]
    pm = _polymod(_hrpx(hrp) + data)
    v = data[0]
    if v > 16 or (v == 0 and pm != 1) or (v > 0 and pm != 0x2bc830a3):
        return False
    prog = _convertbits(data[1:-6], 5, 8, False)
    if prog is None or not 2 <= len(prog) <= 40 or (v == 0 and len(prog) not in (20, 32)):
        return False
    return True


def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        n = int(c)
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        s += n
    return s % 10 == 0


def luhn_complete(partial):
    for c in DIG:
        if luhn_ok(partial + c):
            return partial + c
    raise AssertionError


def iban_num(s):
    return int(''.join(str(int(c, 36)) for c in s))


def iban_ok(s):
    s = s.replace(' ', '')
    if not re.fullmatch(r'[A-Z]{2}\d{2}[A-Z0-9]{11,30}', s):
        return False
    return iban_num(s[4:] + s[:4]) % 97 == 1


def make_iban(cc, bban):
    return '%s%02d%s' % (cc, 98 - iban_num(bban + cc + '00') % 97, bban)


def b62enc(n, width):
    s = ''
    while n:
        n, r = divmod(n, 62)
        s = ALNUM[r] + s
    return s.rjust(width, '0')


def selftest():
    assert keccak256(b'').hex() == 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    for m in (b'', b'abc', b'x' * 135, b'y' * 136, b'z' * 300):
        assert _sponge(m, 0x06) == hashlib.sha3_256(m).digest()
    for a in ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
              '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB', '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb']:
        assert eip55(bytes.fromhex(a[2:].lower())) == a, a
    assert segwit_ok('BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4')
    assert segwit_ok('bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0')
    assert b58check_ok('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa')
    assert iban_ok('DE89370400440532013000') and iban_ok('GB82WEST12345698765432')
    assert luhn_ok('4111111111111111') and not luhn_ok('4111111111111112')
    assert all(luhn_ok(c) for c in TEST_CARDS)
    assert all(iban_ok(i) for i in IBAN_DOC)
    assert all(b58check_ok(a) or segwit_ok(a) for a in BTC_DOC)


# ---------------------------------------------------------------------------
# value generators for vendor credentials
# ---------------------------------------------------------------------------
def mode():
    """How a vendor value is shaped.  Per the egress labelling rule, all of these stay positive."""
    return R.choices(['ok', 'filler', 'short', 'long', 'badchk'], [72, 8, 8, 5, 7])[0]


def filler(n, alpha):
    cands = [p for p in ['x', 'X', '0', 'EXAMPLE', 'AAAA', '1234567890', 'abcdef', 'deadbeef', 'a']
             if all(c in alpha for c in p)]
    p = pick(cands)
    return (p * (n // len(p) + 1))[:n]


def shape(prefix, n, alpha, m=None):
    m = m or mode()
    if m == 'filler':
        return prefix + filler(n, alpha)
    body = rs(n, alpha)
    if m == 'short':
        body = body[:n - R.randint(2, 4)]
    elif m == 'long':
        body += rs(R.randint(1, 3), alpha)
    return prefix + body


_DOC_USED = Counter()


def doc_or(p, docs, k=1):
    """A documented example value: the first k calls per list always use one, later calls with probability p."""
    key = tuple(docs)
    n = _DOC_USED[key]
    if n < k:
        _DOC_USED[key] += 1
        return docs[n % len(docs)]
    return pick(docs) if chance(p) else None


def gh_style(prefix, length=36):
    m = mode()
    if m == 'filler':
        return prefix + filler(length, ALNUM)
    body = rs(length - 6)
    chk = b62enc(zlib.crc32(body.encode()) & 0xffffffff, 6)
    if m == 'badchk':
        chk = rs(6)
    t = body + chk
    if m == 'short':
        t = t[:length - R.randint(2, 4)]
    elif m == 'long':
        t += rs(R.randint(1, 3))
    return prefix + t


def v_ghp():
    return doc_or(0.1, ['ghp_16C7e42F292c6912E7710c838347Ae178B4a']) or gh_style('ghp_')


def v_gho():
    return gh_style('gho_')


def v_ghapp():
    p = pick(['ghu_', 'ghs_', 'ghs_', 'ghr_'])
    return gh_style(p, 76 if p == 'ghr_' and chance(0.6) else 36)


def v_github_fg():
    m = mode()
    a = '11' + rs(20, UP + DIG)
    b = rs(59)
    if m == 'filler':
        a, b = '11' + filler(20, UP + DIG), filler(59, ALNUM)
    elif m == 'short':
        b = b[:R.randint(54, 57)]
    elif m == 'long':
        b += rs(2)
    return 'github_pat_' + a + '_' + b


def v_gitlab(hostsafe=False):
    if hostsafe:
        return 'glpat-' + rs(20)
    p = pick(['glpat-'] * 5 + ['gldt-', 'glrt-', 'glptt-', 'glft-', 'glsoat-', 'glcbt-', 'gloas-', 'GR1348941',
                               'glimt-', 'glagent-'])
    if p == 'glptt-':
        return shape(p, 40, HEX)
    if p == 'gloas-':
        return shape(p, 64, HEX)
    if p == 'glagent-':
        return shape(p, 50, URLTOK)
    if p == 'glcbt-':
        return p + rs(2, DIG) + '_' + rs(20, URLTOK)
    if p == 'glpat-' and chance(0.25):
        return p + rs(27, URLTOK) + '.01.' + rs(9, LOWDIG)
    return shape(p, 20, URLTOK)


def v_slack():
    doc = doc_or(0.08, ['xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy'])
    if doc:
        return doc
    t = pick(['xoxb', 'xoxb', 'xoxp', 'xoxa', 'xapp'])
    if t == 'xoxb':
        return 'xoxb-%s-%s-%s' % (rdig(R.randint(10, 13)), rdig(R.randint(11, 13)), shape('', 24, ALNUM))
    if t == 'xoxp':
        return 'xoxp-%s-%s-%s-%s' % (rdig(11), rdig(11), rdig(13), shape('', 32, HEX))
    if t == 'xoxa':
        return 'xoxa-2-%s-%s-%s-%s' % (rdig(11), rdig(12), rdig(12), shape('', 64, HEX))
    return 'xapp-1-A%s-%s-%s' % (rs(10, UP + DIG), rdig(13), shape('', 64, HEX))


def v_slack_webhook():
    d = doc_or(0.1, ['https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'])
    if d:
        return d
    return 'https://hooks.slack.com/services/T%s/B%s/%s' % (rs(R.randint(8, 10), UP + DIG),
                                                             rs(R.randint(8, 10), UP + DIG), shape('', 24, ALNUM))


def v_stripe():
    doc = doc_or(0.1, ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'sk_test_BQokikJOvBiI2HlWgH4olfQ2'], 2)
    if doc:
        return doc
    p = pick(['sk_live_', 'sk_live_', 'rk_live_', 'sk_test_', 'rk_test_'])
    if chance(0.5):
        return shape(p, 24, ALNUM)
    return p + '51' + shape('', 97, ALNUM)


def v_openai():
    t = R.randrange(4)
    if t == 0:
        return shape('sk-', 48, ALNUM)
    if t == 1:
        return 'sk-' + rs(20) + 'T3BlbkFJ' + rs(20)
    p = 'sk-proj-' if t == 2 else pick(['sk-svcacct-', 'sk-admin-'])
    return p + shape('', 74, URLTOK) + 'T3BlbkFJ' + rs(74, URLTOK)


def v_anthropic():
    if chance(0.2):
        return 'sk-ant-admin01-' + shape('', 93, URLTOK) + 'AA'
    return 'sk-ant-api03-' + shape('', 93, URLTOK) + 'AA'


AWS_DOC = [('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
           ('AKIAI44QH8DHBEXAMPLE', 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY')]


def v_akid(prefix=None):
    return (prefix or pick(['AKIA', 'AKIA', 'AKIA', 'ASIA'])) + shape('', 16, UP + '234567',
                                                                      m=pick(['ok'] * 9 + ['filler']))


def v_aws_pairs():
    d = doc_or(0.1, AWS_DOC, 2)
    if d:
        a, s = d
        return [('AWS_ACCESS_KEY_ID', a), ('AWS_SECRET_ACCESS_KEY', s)]
    a = v_akid()
    P = [('AWS_ACCESS_KEY_ID', a), ('AWS_SECRET_ACCESS_KEY', rs(40, ALNUM + '/+'))]
    if a.startswith('ASIA'):
        P.append(('AWS_SESSION_TOKEN', 'IQoJb3JpZ2luX2Vj' + rs(R.randint(280, 420), ALNUM + '/+') + '=='))
    return P


def v_google():
    return doc_or(0.08, ['AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe']) or shape('AIza', 35, URLTOK)


def v_sendgrid():
    return 'SG.' + shape('', 22, URLTOK) + '.' + rs(43, URLTOK)


def v_npm():
    return gh_style('npm_')


def v_pypi():
    p = 'pypi-AgEIcHlwaS5vcmc' if chance(0.85) else 'pypi-AgENdGVzdC5weXBpLm9yZw'
    return p + 'CJ' + rs(R.randint(130, 190), URLTOK)


def v_hf():
    return pick(['hf_'] * 6 + ['api_org_']) + shape('', 34, UP + LO)


def v_docker():
    return pick(['dckr_pat_'] * 5 + ['dckr_oat_']) + shape('', 27, URLTOK)


def v_shopify():
    return shape(pick(['shpat_', 'shpat_', 'shpss_', 'shpca_', 'shppa_']), 32, HEX)


def v_do():
    return shape(pick(['dop_v1_', 'dop_v1_', 'doo_v1_', 'dor_v1_']), 64, HEX)


def v_twilio_pairs():
    if chance(0.6):
        return [('TWILIO_ACCOUNT_SID', 'AC' + rs(32, HEX)), ('TWILIO_AUTH_TOKEN', shape('', 32, HEX))]
    return [('TWILIO_API_KEY', 'SK' + rs(32, HEX)), ('TWILIO_API_SECRET', rs(32))]


def v_mailgun():
    if chance(0.6):
        return shape('key-', 32, HEX)
    return rs(32, HEX) + '-' + rs(8, HEX) + '-' + rs(8, HEX)


def v_vault():
    t = R.randrange(5)
    if t <= 2:
        return 'hvs.CAESI' + shape('', R.randint(86, 100), URLTOK)
    if t == 3:
        return 'hvb.AAAAAQ' + rs(R.randint(120, 150), URLTOK)
    return 's.' + rs(24)


AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='


def v_azure_conn():
    if doc_or(0.1, ['azurite']):
        return ('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;'
                'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;' % AZURITE_KEY), AZURITE_KEY
    acct = pick(ORG) + rs(R.randint(3, 8), LOWDIG)
    key = b64e(rbytes(64))
    return ('DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;EndpointSuffix=core.windows.net'
            % (acct, key)), key


def v_sas():
    sig = b64e(rbytes(32))
    st = '2024-%02d-%02dT%02d:00:00Z' % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23))
    se = '2025-%02d-%02dT%02d:00:00Z' % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23))
    if chance(0.5):
        q = [('sv', '2022-11-02'), ('ss', 'bfqt'), ('srt', 'sco'), ('sp', pick(['rwdlacupiytfx', 'rl', 'rwl'])),
             ('se', se), ('st', st), ('spr', 'https'), ('sig', sig)]
    else:
        q = [('sp', pick(['r', 'racwd', 'rw'])), ('st', st), ('se', se), ('spr', 'https'), ('sv', '2023-01-03'),
             ('sr', pick(['b', 'c'])), ('sig', sig)]
    return urlencode(q), sig


def v_discord_bot():
    sf = str(R.randint(10 ** 17, 13 * 10 ** 17))
    return b64e(sf).rstrip('=') + '.' + rs(6, URLTOK) + '.' + shape('', pick([27, 38]), URLTOK)


def v_discord_webhook():
    return 'https://%s/api/webhooks/%d/%s' % (pick(['discord.com', 'discord.com', 'discordapp.com', 'canary.discord.com']),
                                             R.randint(10 ** 17, 13 * 10 ** 17), shape('', 68, URLTOK))


def v_telegram():
    return doc_or(0.12, ['123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11']) or \
        '%d:AA%s' % (R.randint(10 ** 8, 8 * 10 ** 9 - 1), shape('', 33, URLTOK))


def v_square():
    t = R.randrange(4)
    if t <= 1:
        return shape('EAAA', 60, URLTOK)
    if t == 2:
        return shape('sq0atp-', 22, URLTOK)
    return shape('sq0csp-', 43, URLTOK)


def v_gocspx():
    return shape('GOCSPX-', 28, URLTOK)


def v_postman():
    return 'PMAK-' + rs(24, HEX) + '-' + shape('', 34, HEX)


JWT_IO = ('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0'
          'IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c')


def v_jwt():
    if doc_or(0.08, [JWT_IO]):
        return JWT_IO
    alg = pick(['HS256', 'RS256', 'ES256', 'HS512', 'RS256'])
    hdr = {'alg': alg, 'typ': 'JWT'}
    if alg[0] != 'H' and chance(0.6):
        hdr['kid'] = rs(16, URLTOK)
    now = R.randint(1700000000, 1760000000)
    pl = {'sub': pick([str(R.randint(1000, 99999999)), 'user_' + rs(12, LOWDIG), str(uuid.UUID(int=R.getrandbits(128)))])}
    if chance(0.7):
        pl['iss'] = 'https://' + pick(['auth.', 'login.', 'id.']) + pick(ORG) + '.' + pick(TLD) + '/'
    if chance(0.5):
        pl['aud'] = pick(['api', 'web', 'mobile', 'https://api.%s.com' % pick(ORG)])
    if chance(0.4):
        pl['email'] = email()
    if chance(0.4):
        pl['scope'] = pick(['openid profile email', 'read:orders write:orders', 'admin'])
    pl['iat'] = now
    pl['exp'] = now + pick([900, 3600, 86400])
    sig = rbytes({'HS256': 32, 'RS256': 256, 'ES256': 64, 'HS512': 64}[alg])
    return (b64u(json.dumps(hdr, separators=(',', ':'))) + '.' + b64u(json.dumps(pl, separators=(',', ':'))) +
            '.' + b64u(sig))


def v_bearer():
    t = R.randrange(4)
    if t == 0:
        return 'ya29.' + rs(R.randint(140, 180), URLTOK)
    if t == 1:
        return rs(R.randint(32, 64), ALNUM)
    if t == 2:
        return rs(R.randint(40, 60), ALNUM + '-._~')
    return b64u(rbytes(R.randint(24, 48)))


GENERIC_KEY_NAMES = ['API_KEY', 'APIKEY', 'X_API_KEY', 'CLIENT_SECRET', 'SECRET_KEY', 'ACCESS_TOKEN', 'AUTH_TOKEN',
                     'API_SECRET', 'APP_SECRET', 'SERVICE_TOKEN', 'WEBHOOK_SECRET', 'INTEGRATION_KEY']
PASSWORD_NAMES = ['PASSWORD', 'DB_PASSWORD', 'SMTP_PASSWORD', 'ADMIN_PASSWORD', 'MYSQL_ROOT_PASSWORD',
                  'POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'LDAP_BIND_PASSWORD', 'PASSWD', 'KEYSTORE_PASSWORD']


def v_generic_key():
    t = R.randrange(5)
    if t == 0:
        return rs(32)
    if t == 1:
        return rs(R.randint(36, 48))
    if t == 2:
        return rs(40, HEX)
    if t == 3:
        return b64u(rbytes(32))
    return rs(8, HEX) + rs(24, ALNUM)


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------
def ctx_pairs():
    opts = [('APP_ENV', pick(['production', 'staging', 'dev'])), ('LOG_LEVEL', pick(['info', 'debug', 'warn'])),
            ('REGION', pick(REGIONS)), ('PORT', str(pick([3000, 8080, 8443, 5000]))),
            ('SERVICE_NAME', pick(SVC)), ('TIMEOUT_MS', str(pick([2500, 5000, 30000]))),
            ('FEATURE_FLAGS', 'beta,new-ui'), ('MAX_RETRIES', str(R.randint(2, 6)))]
    return R.sample(opts, R.randint(1, 3))


def merge(P):
    out = ctx_pairs()
    for kv in P:
        out.insert(R.randint(0, len(out)), kv)
    return out


def _csvq(v):
    return '"%s"' % v.replace('"', '""') if (',' in v or '"' in v) else v


# --- inner (plain-text) containers -------------------------------------------------
def in_dotenv(P):
    out = ['# %s - %s settings' % (pick(SVC), pick(['local', 'prod', 'staging']))]
    for k, v in P:
        out.append(pick(['%s=%s', '%s="%s"', "%s='%s'"]) % (k, v))
    return '\n'.join(out) + '\n', 'text/plain'


def in_yaml(P):
    s = '%s:\n  enabled: true\n  replicas: %d\n  env:\n' % (pick(SVC), R.randint(1, 6))
    s += ''.join('    %s: "%s"\n' % (snake(k), v) for k, v in P)
    return s, 'application/yaml'


def in_k8s(P):
    name = '%s-%s' % (pick(SVC), pick(['secrets', 'credentials', 'env']))
    if chance(0.6):
        body = 'data:\n' + ''.join('  %s: %s\n' % (k, b64e(v)) for k, v in P)
    else:
        body = 'stringData:\n' + ''.join('  %s: "%s"\n' % (k, v) for k, v in P)
    s = ('apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\n'
         % (name, pick(['default', 'prod', 'payments', 'platform'])))
    return s + body, 'application/yaml'


def in_compose(P):
    svc = pick(SVC)
    s = ('services:\n  %s:\n    image: ghcr.io/%s/%s:%s\n    restart: unless-stopped\n    environment:\n'
         % (svc, pick(ORG), svc, ver()))
    if chance(0.5):
        s += ''.join('      - %s=%s\n' % (k, v) for k, v in P)
    else:
        s += ''.join('      %s: "%s"\n' % (k, v) for k, v in P)
    return s + '    ports:\n      - "8080:8080"\n', 'application/yaml'


def in_toml(P):
    s = 'title = "%s config"\n\n[%s]\n' % (pick(SVC), pick(['service', 'integration', 'auth', 'upstream']))
    return s + ''.join('%s = "%s"\n' % (snake(k), v) for k, v in P), 'application/toml'


def in_ini(P):
    s = '[%s]\n' % pick(['default', 'production', 'server', 'credentials', 'main'])
    return s + ''.join('%s = %s\n' % (snake(k), v) for k, v in P), 'text/plain'


def in_props(P):
    pre = pick(['app', 'service', 'integration', 'spring.cloud.config'])
    s = '# application.properties\nserver.port=8080\n'
    return s + ''.join('%s.%s=%s\n' % (pre, dotted(k), v) for k, v in P), 'text/x-java-properties'


def in_xml(P):
    if chance(0.5):
        items = ''.join('    <add key="%s" value="%s" />\n' % (camel(k)[0].upper() + camel(k)[1:], xml_escape(v, {'"': '&quot;'}))
                        for k, v in P)
        s = '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n%s  </appSettings>\n</configuration>\n' % items
    else:
        items = ''.join('    <%s>%s</%s>\n' % (camel(k), xml_escape(v), camel(k)) for k, v in P)
        s = '<?xml version="1.0"?>\n<settings>\n  <integration name="%s">\n%s  </integration>\n</settings>\n' % (pick(SVC), items)
    return s, 'application/xml'


def in_csv(P):
    head = ','.join(['name'] + [snake(k) for k, _ in P])
    row = ','.join([pick(SVC)] + [_csvq(v) for _, v in P])
    return head + '\n' + row + '\n', 'text/csv'


def in_log(P):
    svc = pick(SVC)
    kv = ' '.join('%s=%s' % (snake(k), v) for k, v in P)
    lines = ['%s INFO  [%s] starting worker pid=%d' % (iso_ts(), svc, R.randint(100, 99999)),
             '%s DEBUG [%s] loaded configuration %s' % (iso_ts(), svc, kv),
             '%s WARN  [%s] upstream latency %dms above threshold' % (iso_ts(), svc, R.randint(300, 2000))]
    if chance(0.5):
        lines[1] = '%s DEBUG [%s] env=%s' % (iso_ts(), svc, json.dumps(dict((k, v) for k, v in P)))
    return '\n'.join(lines) + '\n', 'text/plain'


def in_shell(P):
    n = R.randint(200, 1800)
    cmds = ['cd ~/src/%s' % pick(SVC), 'git pull --rebase']
    for k, v in P:
        cmds.append(pick(["export %s=%s", "export %s='%s'", 'export %s="%s"']) % (k, v))
    cmds += ['./scripts/deploy.sh --env %s' % pick(['prod', 'staging']), 'kubectl get pods -n %s' % pick(SVC)]
    return ''.join(' %5d  %s\n' % (n + i, c) for i, c in enumerate(cmds)), 'text/plain'


def in_docker(P):
    svc = pick(SVC)
    env = ' '.join(pick(['-e %s=%s', '-e "%s=%s"', '--env %s=%s']) % (k, v) for k, v in P)
    return 'docker run -d --rm --name %s -p 8080:8080 %s ghcr.io/%s/%s:%s\n' % (svc, env, pick(ORG), svc, ver()), 'text/x-shellscript'


def _go_ident(k):
    c = camel(k)
    return c


def code_py(P):
    if chance(0.5):
        body = ''.join('%s = "%s"\n' % (k, v) for k, v in P)
        return 'import os\nimport requests\n\n%s\nsession = requests.Session()\nsession.headers.update({"User-Agent": "%s/1.0"})\n' % (body, pick(SVC))
    body = ''.join('    "%s": "%s",\n' % (snake(k), v) for k, v in P)
    return 'CONFIG = {\n%s}\n\nclient = Client(**CONFIG)\n' % body


def code_js(P):
    if chance(0.5):
        body = ''.join('  %s: "%s",\n' % (camel(k), v) for k, v in P)
        return 'const config = {\n%s};\n\nmodule.exports = config;\n' % body
    return ''.join('process.env.%s = "%s";\n' % (k, v) for k, v in P) + 'require("./server").start();\n'


def code_go(P):
    body = ''.join('\t%s = "%s"\n' % (_go_ident(k), v) for k, v in P)
    return 'package config\n\nconst (\n%s)\n' % body


def code_java(P):
    body = ''.join('    private static final String %s = "%s";\n' % (k, v) for k, v in P)
    return 'public final class Settings {\n%s}\n' % body


def code_ruby(P):
    return ''.join("ENV['%s'] ||= '%s'\n" % (k, v) for k, v in P) + 'require_relative "app"\n'


def code_php(P):
    if chance(0.5):
        return '<?php\n' + ''.join("define('%s', '%s');\n" % (k, v) for k, v in P)
    return "<?php\nreturn [\n" + ''.join("    '%s' => '%s',\n" % (snake(k), v) for k, v in P) + "];\n"


def code_cs(P):
    return 'internal static class Secrets\n{\n' + ''.join('    public const string %s = "%s";\n' % (camel(k)[0].upper() + camel(k)[1:], v) for k, v in P) + '}\n'


def code_rust(P):
    return ''.join('const %s: &str = "%s";\n' % (k, v) for k, v in P) + '\nfn main() {\n    run();\n}\n'


def code_tf(P):
    body = ''.join('  %s = "%s"\n' % (snake(k), v) for k, v in P)
    return 'module "%s" {\n  source = "./modules/%s"\n%s}\n' % (pick(SVC), pick(SVC), body)


def code_ps(P):
    return ''.join('$env:%s = "%s"\n' % (k, v) for k, v in P) + '.\\deploy.ps1 -Environment Production\n'


def code_kt(P):
    return 'object Keys {\n' + ''.join('    const val %s = "%s"\n' % (k, v) for k, v in P) + '}\n'


CODE_LANGS = Cycler([(code_py, 'text/x-python'), (code_js, 'application/javascript'), (code_go, 'text/x-go'),
                     (code_java, 'text/x-java'), (code_ruby, 'text/x-ruby'), (code_php, 'application/x-php'),
                     (code_cs, 'text/plain'), (code_rust, 'text/x-rust'), (code_tf, 'text/plain'),
                     (code_ps, 'text/plain'), (code_kt, 'text/plain')])


def in_code(P):
    fn, ct = CODE_LANGS.next()
    return fn(P), ct


# --- structured containers -----------------------------------------------------------
def st_json_flat(P):
    return jdump(dict((snake(k), v) for k, v in P)), 'application/json'


def st_json_nested(P):
    d = {'service': pick(SVC), 'environment': pick(['prod', 'staging', 'qa']),
         'settings': {'integrations': {pick(['primary', 'default', 'upstream', 'vendor']): dict((snake(k), v) for k, v in P)}},
         'updated_at': iso_ts()}
    return jdump(d), 'application/json'


def st_json_camel(P):
    d = dict((camel(k), v) for k, v in P)
    if chance(0.5):
        d = {'data': {'type': 'integration', 'attributes': d}}
    return jdump(d), 'application/json'


def st_form(P):
    return urlencode([(snake(k), v) for k, v in P]), 'application/x-www-form-urlencoded'


def st_multipart(P):
    bnd = '----WebKitFormBoundary' + rs(16)
    parts = ''.join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (bnd, snake(k), v) for k, v in P)
    return parts + '--%s--\r\n' % bnd, 'multipart/form-data; boundary=' + bnd


def st_graphql(P):
    d = {'operationName': 'UpdateIntegration',
         'query': 'mutation UpdateIntegration($input: IntegrationInput!) { updateIntegration(input: $input) { id status } }',
         'variables': {'input': dict([('id', 'int_' + rs(10, LOWDIG))] + [(camel(k), v) for k, v in P])}}
    return jdump(d), 'application/json'


def st_html_form(P):
    inputs = ''.join('    <label>%s</label> <input type="%s" name="%s" value="%s">\n'
                     % (k.replace('_', ' ').title(), pick(['hidden', 'text', 'password']), snake(k), xml_escape(v, {'"': '&quot;'}))
                     for k, v in P)
    s = ('<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Settings</title></head>\n<body>\n'
         '  <form method="post" action="/settings/integrations">\n%s    <button type="submit">Save</button>\n'
         '  </form>\n</body>\n</html>\n' % inputs)
    return s, 'text/html'


def _uesc(v):
    return ''.join('\\u%04x' % ord(c) for c in v)


def st_json_uescape(P):
    marks = {}
    d = {}
    for i, (k, v) in enumerate(P):
        m = '@@M%d@@' % i
        marks[m] = v
        d[snake(k)] = m
    s = json.dumps(d, indent=pick([None, 2]))
    for m, v in marks.items():
        s = s.replace('"%s"' % m, '"%s"' % (_uesc(v) if chance(0.7) else _uesc(v[:len(v) // 2]) + v[len(v) // 2:]))
    return s, 'application/json'


def st_ndjson(P):
    lines = []
    for _ in range(R.randint(1, 3)):
        lines.append(json.dumps({'ts': iso_ts(), 'level': 'info', 'msg': 'request completed', 'status': 200,
                                 'duration_ms': R.randint(3, 900)}))
    lines.insert(R.randint(0, len(lines)), json.dumps({'ts': iso_ts(), 'level': 'debug', 'msg': 'config snapshot',
                                                       'fields': dict((snake(k), v) for k, v in P)}))
    return '\n'.join(lines) + '\n', 'application/x-ndjson'


def st_har(P):
    req = {'method': 'POST', 'url': 'https://%s/api/v1/%s' % (corp_host(), pick(SVC)), 'httpVersion': 'HTTP/2',
           'headers': [{'name': 'content-type', 'value': 'application/json'},
                       {'name': 'user-agent', 'value': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36'}],
           'postData': {'mimeType': 'application/json', 'text': json.dumps(dict((snake(k), v) for k, v in P))}}
    d = {'log': {'version': '1.2', 'creator': {'name': 'WebInspector', 'version': '537.36'},
                 'entries': [{'startedDateTime': iso_ts(), 'time': R.randint(20, 900), 'request': req,
                              'response': {'status': 200, 'statusText': 'OK'}}]}}
    return jdump(d), 'application/json'


LANG_MSG = [
    "hey, here are the creds for {svc}: {vals} - please don't paste them anywhere public",
    "Hier sind die Zugangsdaten für {svc}: {vals} – bitte nicht weitergeben.",
    "Voici les identifiants pour {svc} : {vals}. Merci de ne pas les partager.",
    "Te paso las credenciales de {svc}: {vals} (no las compartas, porfa)",
    "Segue a credencial do {svc}: {vals} — não compartilhe, por favor.",
    "Ecco le credenziali per {svc}: {vals}. Non condividerle.",
    "Hier zijn de inloggegevens voor {svc}: {vals}",
    "Dane dostępowe do {svc}: {vals} — nie udostępniaj dalej.",
    "{svc} の認証情報です: {vals} 外部には共有しないでください。",
    "{svc} 的密钥如下：{vals} ，请勿外传。",
    "Вот доступы к {svc}: {vals} — никому не пересылай.",
    "{svc} 접속 정보입니다: {vals} 외부에 공유하지 마세요.",
    "{svc} için erişim bilgileri: {vals} — lütfen paylaşma.",
    "Här är nycklarna till {svc}: {vals}",
]
LANG_MSG_C = Cycler(LANG_MSG)


def chat_wrap(msg):
    t = R.randrange(6)
    if t == 0:
        return jdump({'channel': 'C0' + rs(9, UP + DIG), 'text': msg}), 'application/json'
    if t == 1:
        return jdump({'content': msg, 'username': uname()}), 'application/json'
    if t == 2:
        return jdump({'type': 'message', 'text': msg, 'from': {'name': ' '.join(person()).title()}}), 'application/json'
    if t == 3:
        return jdump({'msgtype': 'm.text', 'body': msg}), 'application/json'
    if t == 4:
        return urlencode([('chat_id', str(-R.randint(10 ** 12, 10 ** 13 - 1))), ('text', msg)]), 'application/x-www-form-urlencoded'
    return msg + '\n', 'text/plain; charset=utf-8'


def st_chat(P):
    vals = ' '.join('%s=%s' % (k, v) for k, v in P) if len(P) > 1 else P[0][1]
    return chat_wrap(LANG_MSG_C.next().format(svc=pick(SVC), vals=vals))


# --- outer containers (wrap a plain-text inner container) -----------------------------
LLM_Q = ['Why does this config not work?', 'Can you convert this to a Helm values file?', 'Find the bug here:',
         'Explain this error, config below.', 'Dieser Code wirft einen Fehler, warum?',
         'Peux-tu optimiser ce fichier ?', '¿Qué está mal en esta configuración?', 'この設定の問題点を教えてください。',
         'Por que o deploy falha com esta configuração?', 'Почему этот конфиг не работает?']


def out_llm(t):
    q = pick(LLM_Q)
    content = '%s\n\n```\n%s```' % (q, t)
    s = R.randrange(4)
    if s == 0:
        d = {'model': pick(['gpt-4o', 'gpt-4o-mini', 'gpt-4.1']), 'temperature': 0.2,
             'messages': [{'role': 'system', 'content': 'You are a helpful DevOps assistant.'},
                          {'role': 'user', 'content': content}]}
    elif s == 1:
        d = {'model': pick(['claude-3-5-sonnet-20241022', 'claude-3-5-haiku-20241022']), 'max_tokens': 1024,
             'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': content}]}]}
    elif s == 2:
        d = {'contents': [{'role': 'user', 'parts': [{'text': content}]}],
             'generationConfig': {'temperature': 0.4, 'maxOutputTokens': 2048}}
    else:
        d = {'model': pick(['llama3.1:8b', 'qwen2.5-coder:7b']), 'prompt': content, 'stream': False}
    return jdump(d), 'application/json'


def out_issue(t):
    body = ('### Describe the bug\nThe %s job fails after upgrading to %s.\n\n### Config\n```\n%s```\n\n'
            '### Expected behaviour\nIt should start normally.' % (pick(SVC), ver(), t))
    s = R.randrange(3)
    if s == 0:
        d = {'title': '%s crashes on startup' % pick(SVC), 'body': body, 'labels': ['bug']}
    elif s == 1:
        d = {'body': 'Same problem here, this is my setup:\n```\n%s```' % t}
    else:
        d = {'note': body}
    return jdump(d), 'application/json'


def out_chat(t):
    return chat_wrap(pick(['can someone check this?', 'kannst du mal drüberschauen?', 'ça marche chez toi ?',
                           'funciona pra você?', 'これで合ってる？']) + '\n```\n' + t + '```')


def out_multipart_file(t):
    bnd = '----formdata-' + rs(24, DIG)
    fn = pick(['.env', 'config.yaml', 'settings.ini', 'app.properties', 'deploy.sh', 'values.yaml', 'notes.txt'])
    s = ('--%s\r\nContent-Disposition: form-data; name="description"\r\n\r\nattached config for review\r\n'
         '--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: text/plain\r\n\r\n%s\r\n--%s--\r\n'
         % (bnd, bnd, fn, t, bnd))
    return s, 'multipart/form-data; boundary=' + bnd


def out_mail_qp(t):
    f, l = person()
    qp = quopri.encodestring(t.encode('utf-8')).decode('ascii')
    s = ('From: %s %s <%s.%s@%s.com>\r\nTo: ops@%s.com\r\nSubject: %s config\r\nMIME-Version: 1.0\r\n'
         'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
         'Hi team,=0A=0Ahere is the config we discussed:=0A=0A\r\n%s\r\n' %
         (f.title(), l.title(), f, l, pick(ORG), pick(ORG), pick(SVC), qp.replace('\n', '\r\n')))
    return s, 'message/rfc822'


def out_b64(t):
    if chance(0.5):
        return jdump({'filename': pick(['.env', 'config.yml', 'secrets.txt']), 'encoding': 'base64', 'content': b64e(t)}), 'application/json'
    return jdump({'name': pick(SVC), 'blob': b64u(t, pad=chance(0.5))}), 'application/json'


def out_hex(t):
    return jdump({'kind': 'config-dump', 'hex': t.encode().hex()}), 'application/json'


def out_b64gzip(t):
    return jdump({'snapshot': b64e(gzip.compress(t.encode(), 9, mtime=0)), 'compression': 'gzip',
                  'host': 'ip-10-%d-%d-%d' % (R.randint(0, 255), R.randint(0, 255), R.randint(0, 255))}), 'application/json'


def out_gist(t):
    if chance(0.5):
        return jdump({'description': 'temp', 'public': False, 'files': {'config.txt': {'content': t}}}), 'application/json'
    return urlencode([('content', t), ('syntax', 'text'), ('expiry_days', '1')]), 'application/x-www-form-urlencoded'


STRUCT = Cycler([st_json_flat, st_json_nested, st_json_camel, st_form, st_multipart, st_graphql, st_html_form,
                 st_json_uescape, st_ndjson, st_har, st_chat, st_chat])
INNER = Cycler([in_dotenv, in_yaml, in_k8s, in_compose, in_toml, in_ini, in_props, in_xml, in_csv, in_log, in_shell,
                in_docker, in_code, in_code, in_code])
OUTER = Cycler([out_llm, out_issue, out_chat, out_multipart_file, out_mail_qp, out_b64, out_hex, out_b64gzip, out_gist,
                out_llm])


def body_payload(text, ct, pcomp=0.12):
    if isinstance(text, bytes):
        return {'content_type': ct, 'base64': b64e(text)}
    if chance(pcomp):
        raw = text.encode('utf-8')
        if chance(0.5):
            return {'content_type': ct, 'content_encoding': 'gzip', 'base64': b64e(gzip.compress(raw, 9, mtime=0))}
        return {'content_type': ct, 'content_encoding': 'deflate', 'base64': b64e(zlib.compress(raw, 9))}
    return {'content_type': ct, 'text': text}


def generic_body(P, special=()):
    if special and chance(0.4):
        text, ct = pick(special)(P)
    else:
        MP = merge(P)
        r = R.random()
        if r < 0.38:
            text, ct = STRUCT.next()(MP)
        elif r < 0.68:
            text, ct = INNER.next()(MP)
        else:
            inner, _ = INNER.next()(MP)
            text, ct = OUTER.next()(inner)
    return body_payload(text, ct)


# --- URL / header helpers -------------------------------------------------------------
def ctx_query():
    opts = [('page', str(R.randint(1, 9))), ('lang', pick(['en', 'de', 'fr', 'ja'])), ('v', ver()),
            ('format', 'json'), ('ref', pick(['nav', 'email', 'cli'])), ('t', str(R.randint(1700000000, 1760000000)))]
    return R.sample(opts, R.randint(0, 3))


def gu_query(v, name):
    q = ctx_query()
    q.insert(R.randint(0, len(q)), (name, v))
    return 'https://%s%s?%s' % (corp_host(), pick(['/api/v1/sync', '/v2/events', '/hook', '/collect', '/upload',
                                                   '/api/export', '/oauth/callback']), urlencode(q))


def gu_fragment(v, name):
    return 'https://%s/%s#%s=%s&token_type=bearer&expires_in=3600' % (corp_host(), pick(['callback', 'auth/done', '']),
                                                                      name, quote(v, safe=''))


def gu_double(v, name):
    if chance(0.5):      # the value is percent-encoded twice on its own
        return 'https://%s/r?%s=%s' % (corp_host(), name, quote(quote(v, safe=''), safe=''))
    inner = 'https://%s/cb?%s=%s' % (corp_host(), name, quote(v, safe=''))
    return 'https://%s/sso/continue?return_to=%s' % (corp_host(), quote(inner, safe=''))


def gu_b64(v, name):
    blob = json.dumps({name: v, 'ts': R.randint(1700000000, 1760000000)})
    enc = b64u(blob) if chance(0.5) else quote(b64e(blob), safe='')
    return 'https://%s/t/%s?d=%s' % (corp_host(), pick(['p', 'e', 'px']), enc)


def gu_path(v, name):
    return 'https://%s/api/%s/%s/verify' % (corp_host(), pick(['keys', 'tokens', 'creds', 'auth']), quote(v, safe=''))


def gu_json(v, name):
    return 'https://%s/log?event=config&payload=%s' % (corp_host(), quote(json.dumps({name: v}), safe=''))


GEN_URLS = Cycler([gu_query, gu_query, gu_fragment, gu_double, gu_b64, gu_path, gu_json])


def hdr_bearer(v, P):
    return 'Authorization: Bearer ' + v


def hdr_token(v, P):
    return 'Authorization: token ' + v


def hdr_basic_user(user):
    return lambda v, P: 'Authorization: Basic ' + b64e('%s:%s' % (user, v))


def hdr_named(name):
    return lambda v, P: '%s: %s' % (name, v)


def hdr_cookie(cname):
    return lambda v, P: 'Cookie: _ga=GA1.2.%d.%d; %s=%s; theme=dark' % (R.randint(10 ** 8, 10 ** 9), R.randint(1700000000, 1760000000), cname, v)


# ---------------------------------------------------------------------------
# case construction
# ---------------------------------------------------------------------------
def mk(label, expect, where, payload, finds=()):
    d = {'label': label, 'expect': expect, 'where': where}
    d.update(payload)
    d['_find'] = [f for f in finds if f]
    return d


def token_case(cls, where, P, key=0, hdr=(), url=(), special=(), host=(), qnames=None, extra_find=()):
    v = P[key][1]
    finds = [v] + list(extra_find)
    if where == 'body':
        return mk('positive', cls, where, generic_body(P, special), [x for _, x in P] + list(extra_find))
    if where == 'header':
        fns = list(hdr) or [hdr_named('X-API-Key')]
        return mk('positive', cls, where, {'text': pick(fns)(v, P)}, finds)
    if where == 'url':
        if url and (chance(0.6)):
            u = pick(url)(v, P)
        else:
            u = GEN_URLS.next()(v, pick(qnames or [snake(P[key][0])]))
        return mk('positive', cls, where, {'text': u}, finds)
    if where == 'hostname':
        return mk('positive', cls, where, {'text': pick(host)(v, P)}, finds)
    raise ValueError(where)


EVIL = ['exfil-relay.xyz', 'cdn-sync-update.top', 'telemetry-cache.ru', 'dnslog.cn', 'oast.fun', 'oastify.com',
        'interact.sh', 'burpcollaborator.net', 'ns-tunnel.club', 'c2-beacon.info', 'a9x.pw', 'zz-metrics.cc',
        'updates-msft-cdn.com', 'icloud-sync-auth.net', 'kz-stat.su', 'd3bug.tk', 'resolver-check.online',
        'lookup-svc.icu', 'qwe-dns.xyz', 'bkp-store.top']


def evil():
    return pick(['', '', 'ns1.', 'q.', 'x.', rs(3, LO) + '.']) + pick(EVIL)


# --- vendor-token classes ---------------------------------------------------------------
def gh_special(P):
    v = P[0][1]
    t = R.randrange(3)
    if t == 0:
        return 'https://%s:%s@github.com\n' % (uname(), v), 'text/plain'
    if t == 1:
        return 'github.com:\n    oauth_token: %s\n    user: %s\n    git_protocol: https\n' % (v, uname()), 'application/yaml'
    return ('[url "https://%s@github.com/"]\n\tinsteadOf = https://github.com/\n' % v), 'text/plain'


GH_HDR = [hdr_token, hdr_bearer, hdr_basic_user('x-access-token')]
GH_URL = [lambda v, P: 'https://x-access-token:%s@github.com/%s/%s.git' % (v, pick(ORG), pick(SVC)),
          lambda v, P: 'https://%s@github.com/%s/%s.git' % (v, pick(ORG), pick(SVC)),
          lambda v, P: 'https://api.github.com/user/repos?access_token=%s&per_page=100' % v]


def c_github_pat(w):
    return token_case('github-pat', w, [(pick(['GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_PAT']), v_ghp())],
                      hdr=GH_HDR, url=GH_URL, special=[gh_special], qnames=['access_token', 'token', 'gh_token'])


def c_github_oauth(w):
    return token_case('github-oauth-token', w, [(pick(['GITHUB_OAUTH_TOKEN', 'GH_TOKEN', 'OAUTH_TOKEN']), v_gho())],
                      hdr=GH_HDR, url=GH_URL, special=[gh_special], qnames=['access_token'])


def c_github_app(w):
    return token_case('github-app-token', w, [(pick(['GITHUB_TOKEN', 'GH_APP_TOKEN', 'INSTALLATION_TOKEN', 'GITHUB_REFRESH_TOKEN']), v_ghapp())],
                      hdr=GH_HDR, url=GH_URL, special=[gh_special], qnames=['token', 'refresh_token'])


def c_github_fg(w):
    return token_case('github-fine-grained-pat', w, [(pick(['GITHUB_TOKEN', 'GH_PAT', 'GITHUB_FG_TOKEN']), v_github_fg())],
                      hdr=GH_HDR, url=GH_URL, special=[gh_special])


def c_gitlab(w):
    if w == 'hostname':
        v = v_gitlab(hostsafe=True)
        return mk('positive', 'gitlab-token', w, {'text': '%s.%s.%s' % (v, rs(4, LOWDIG), evil())}, [v])
    return token_case('gitlab-token', w, [(pick(['GITLAB_TOKEN', 'CI_JOB_TOKEN_OVERRIDE', 'GL_TOKEN', 'GITLAB_PRIVATE_TOKEN']), v_gitlab())],
                      hdr=[hdr_named('PRIVATE-TOKEN'), hdr_bearer, hdr_named('Job-Token')],
                      url=[lambda v, P: 'https://oauth2:%s@gitlab.com/%s/%s.git' % (v, pick(ORG), pick(SVC)),
                           lambda v, P: 'https://gitlab.com/api/v4/projects/%d/issues?private_token=%s&state=opened' % (R.randint(100, 9999999), v)],
                      qnames=['private_token'])


def c_slack(w):
    return token_case('slack-token', w, [(pick(['SLACK_BOT_TOKEN', 'SLACK_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_USER_TOKEN']), v_slack())],
                      hdr=[hdr_bearer],
                      url=[lambda v, P: 'https://slack.com/api/chat.postMessage?token=%s&channel=C%s&text=%s' % (v, rs(8, UP + DIG), quote('deploy finished'))],
                      qnames=['token'])


def slackwh_special(P):
    v = P[0][1]
    t = R.randrange(3)
    if t == 0:
        return ('global:\n  resolve_timeout: 5m\nreceivers:\n  - name: slack-%s\n    slack_configs:\n      - api_url: %s\n        channel: "#alerts"\n'
                % (pick(SVC), v)), 'application/yaml'
    if t == 1:
        return jdump({'notifications': {'slack': {'webhook_url': v, 'on_failure': True}}}), 'application/json'
    return "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"build ok\"}' %s\n" % v, 'text/plain'


def c_slack_webhook(w):
    v = v_slack_webhook()
    if w == 'url':
        u = v if chance(0.5) else 'https://%s/integrations/test?target=%s' % (corp_host(), quote(v, safe=''))
        return mk('positive', 'slack-webhook', w, {'text': u}, [v])
    return token_case('slack-webhook', w, [(pick(['SLACK_WEBHOOK_URL', 'SLACK_WEBHOOK', 'ALERT_WEBHOOK']), v)],
                      special=[slackwh_special])


def c_stripe(w):
    return token_case('stripe-secret-key', w, [(pick(['STRIPE_SECRET_KEY', 'STRIPE_API_KEY', 'STRIPE_KEY', 'STRIPE_RESTRICTED_KEY']), v_stripe())],
                      hdr=[hdr_bearer, lambda v, P: 'Authorization: Basic ' + b64e(v + ':')],
                      url=[lambda v, P: 'https://%s:@api.stripe.com/v1/charges?limit=3' % v],
                      qnames=['stripe_key', 'key'])


def c_openai(w):
    return token_case('openai-api-key', w, [(pick(['OPENAI_API_KEY', 'OPENAI_KEY', 'LLM_API_KEY']), v_openai())],
                      hdr=[hdr_bearer, hdr_bearer, hdr_named('X-OpenAI-Key')], qnames=['api_key', 'openai_key'])


def c_anthropic(w):
    return token_case('anthropic-api-key', w, [(pick(['ANTHROPIC_API_KEY', 'CLAUDE_API_KEY']), v_anthropic())],
                      hdr=[hdr_named('x-api-key'), hdr_bearer], qnames=['api_key'])


def aws_presigned(v, P):
    d = '2024%02d%02d' % (R.randint(1, 12), R.randint(1, 28))
    reg = pick(REGIONS)
    q = [('X-Amz-Algorithm', 'AWS4-HMAC-SHA256'), ('X-Amz-Credential', '%s/%s/%s/s3/aws4_request' % (v, d, reg)),
         ('X-Amz-Date', d + 'T120000Z'), ('X-Amz-Expires', '3600'), ('X-Amz-SignedHeaders', 'host'),
         ('X-Amz-Signature', rs(64, HEX))]
    return 'https://%s-%s.s3.%s.amazonaws.com/exports/%s.csv?%s' % (pick(ORG), pick(SVC), reg, pick(SVC), urlencode(q))


def aws_legacy_url(v, P):
    return 'https://%s.s3.amazonaws.com/%s/report.pdf?AWSAccessKeyId=%s&Expires=%d&Signature=%s' % (
        pick(ORG), pick(SVC), v, R.randint(1700000000, 1760000000), quote(b64e(rbytes(20)), safe=''))


def aws_hdr(v, P):
    d = '2024%02d%02d' % (R.randint(1, 12), R.randint(1, 28))
    return ('Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/execute-api/aws4_request, '
            'SignedHeaders=host;x-amz-date, Signature=%s' % (v, d, pick(REGIONS), rs(64, HEX)))


def c_aws_id(w):
    v = doc_or(0.1, ['AKIAIOSFODNN7EXAMPLE', 'AKIAI44QH8DHBEXAMPLE'], 2) or v_akid()
    if w == 'hostname':
        lab = v if chance(0.6) else v.lower()
        return mk('positive', 'aws-access-key-id', w, {'text': '%s.%s.%s' % (lab, rs(5, LOWDIG), evil())}, [lab])
    return token_case('aws-access-key-id', w, [(pick(['AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY', 'ACCESS_KEY_ID']), v)],
                      hdr=[aws_hdr], url=[aws_presigned, aws_legacy_url])


def aws_special(P):
    d = dict(P)
    t = R.randrange(4)
    if t == 0:
        s = '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (d['AWS_ACCESS_KEY_ID'], d['AWS_SECRET_ACCESS_KEY'])
        if 'AWS_SESSION_TOKEN' in d:
            s += 'aws_session_token = %s\n' % d['AWS_SESSION_TOKEN']
        return s + '\n[profile %s]\nregion = %s\n' % (pick(SVC), pick(REGIONS)), 'text/plain'
    if t == 1:
        s = 'import boto3\n\ns3 = boto3.client(\n    "s3",\n    aws_access_key_id="%s",\n    aws_secret_access_key="%s",\n' % (
            d['AWS_ACCESS_KEY_ID'], d['AWS_SECRET_ACCESS_KEY'])
        if 'AWS_SESSION_TOKEN' in d:
            s += '    aws_session_token="%s",\n' % d['AWS_SESSION_TOKEN']
        return s + '    region_name="%s",\n)\n' % pick(REGIONS), 'text/x-python'
    if t == 2:
        return ('provider "aws" {\n  region     = "%s"\n  access_key = "%s"\n  secret_key = "%s"\n}\n'
                % (pick(REGIONS), d['AWS_ACCESS_KEY_ID'], d['AWS_SECRET_ACCESS_KEY'])), 'text/plain'
    cred = {'AccessKeyId': d['AWS_ACCESS_KEY_ID'], 'SecretAccessKey': d['AWS_SECRET_ACCESS_KEY']}
    if 'AWS_SESSION_TOKEN' in d:
        cred['SessionToken'] = d['AWS_SESSION_TOKEN']
    cred['Expiration'] = iso_ts()
    return jdump({'Credentials': cred, 'AssumedRoleUser': {'Arn': 'arn:aws:sts::%s:assumed-role/%s/%s' % (rdig(12), pick(SVC), uname())}}), 'application/json'


def c_aws_creds(w):
    P = v_aws_pairs()
    return token_case('aws-credentials', w, P, key=1, special=[aws_special, aws_special])


def google_special(P):
    v = P[0][1]
    proj = pick(ORG) + '-' + pick(SVC)
    return ('const firebaseConfig = {\n  apiKey: "%s",\n  authDomain: "%s.firebaseapp.com",\n  projectId: "%s",\n'
            '  storageBucket: "%s.appspot.com",\n  appId: "1:%s:web:%s"\n};\n' % (v, proj, proj, proj, rdig(12), rs(22, HEX))), 'application/javascript'


def c_google(w):
    return token_case('google-api-key', w, [(pick(['GOOGLE_API_KEY', 'MAPS_API_KEY', 'GEMINI_API_KEY', 'FIREBASE_API_KEY']), v_google())],
                      hdr=[hdr_named('X-Goog-Api-Key')],
                      url=[lambda v, P: 'https://maps.googleapis.com/maps/api/geocode/json?address=%s&key=%s' % (quote_plus(pick(['1600 Amphitheatre Pkwy', 'Unter den Linden 77, Berlin', '10 Downing St'])), v),
                           lambda v, P: 'https://www.googleapis.com/youtube/v3/search?part=snippet&q=%s&maxResults=25&key=%s' % (pick(['lofi', 'rust+tutorial', 'news']), v),
                           lambda v, P: 'https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=%s' % v],
                      special=[google_special], qnames=['key'])


def c_sendgrid(w):
    return token_case('sendgrid-api-key', w, [(pick(['SENDGRID_API_KEY', 'SMTP_API_KEY', 'MAIL_API_KEY']), v_sendgrid())],
                      hdr=[hdr_bearer],
                      special=[lambda P: ('smtp:\n  host: smtp.sendgrid.net\n  port: 587\n  user: apikey\n  password: "%s"\n' % P[0][1], 'application/yaml')])


def npm_special(P):
    v = P[0][1]
    if chance(0.6):
        return '//registry.npmjs.org/:_authToken=%s\nregistry=https://registry.npmjs.org/\nalways-auth=true\n' % v, 'text/plain'
    return 'npmAuthToken: "%s"\nnpmRegistryServer: "https://registry.npmjs.org"\n' % v, 'application/yaml'


def c_npm(w):
    return token_case('npm-token', w, [(pick(['NPM_TOKEN', 'NODE_AUTH_TOKEN', 'NPM_AUTH_TOKEN']), v_npm())],
                      hdr=[hdr_bearer], special=[npm_special, npm_special], qnames=['token'])


def c_pypi(w):
    return token_case('pypi-token', w, [(pick(['PYPI_TOKEN', 'TWINE_PASSWORD', 'PYPI_API_TOKEN']), v_pypi())],
                      hdr=[hdr_basic_user('__token__')],
                      special=[lambda P: ('[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = %s\n' % P[0][1], 'text/plain')])


def c_hf(w):
    return token_case('huggingface-token', w, [(pick(['HF_TOKEN', 'HUGGINGFACE_HUB_TOKEN', 'HUGGING_FACE_HUB_TOKEN']), v_hf())],
                      hdr=[hdr_bearer],
                      url=[lambda v, P: 'https://%s:%s@huggingface.co/%s/%s' % (uname(), v, pick(ORG), pick(['llama-ft', 'bert-small', 'sd-lora']))],
                      special=[lambda P: ('from huggingface_hub import login\n\nlogin(token="%s")\n' % P[0][1], 'text/x-python')])


def docker_special(P):
    v = P[0][1]
    u = uname()
    if chance(0.5):
        return jdump({'auths': {'https://index.docker.io/v1/': {'auth': b64e('%s:%s' % (u, v))}}}), 'application/json'
    return 'echo "%s" | docker login -u %s --password-stdin\n' % (v, u), 'text/plain'


def c_docker(w):
    return token_case('dockerhub-pat', w, [(pick(['DOCKERHUB_TOKEN', 'DOCKER_PASSWORD', 'REGISTRY_TOKEN']), v_docker())],
                      hdr=[hdr_bearer, hdr_basic_user(uname())], special=[docker_special, docker_special])


def c_shopify(w):
    shop = pick(ORG) + '-' + pick(['store', 'shop', 'outlet'])
    return token_case('shopify-token', w, [(pick(['SHOPIFY_ACCESS_TOKEN', 'SHOPIFY_API_SECRET', 'SHOPIFY_ADMIN_TOKEN']), v_shopify())],
                      hdr=[hdr_named('X-Shopify-Access-Token')],
                      url=[lambda v, P: 'https://%s.myshopify.com/admin/api/2024-04/orders.json?access_token=%s&status=any' % (shop, v)],
                      qnames=['access_token'])


def c_do(w):
    return token_case('digitalocean-token', w, [(pick(['DIGITALOCEAN_TOKEN', 'DO_API_TOKEN', 'DIGITALOCEAN_ACCESS_TOKEN']), v_do())],
                      hdr=[hdr_bearer],
                      special=[lambda P: ('access-token: %s\ncontext: default\noutput: text\n' % P[0][1], 'application/yaml')])


def c_twilio(w):
    P = v_twilio_pairs()
    sid = P[0][1]
    acct = sid if sid.startswith('AC') else 'AC' + rs(32, HEX)
    return token_case('twilio-credentials', w, P, key=1,
                      hdr=[lambda v, P: 'Authorization: Basic ' + b64e('%s:%s' % (sid, v))],
                      url=[lambda v, P: 'https://%s:%s@api.twilio.com/2010-04-01/Accounts/%s/Messages.json' % (sid, v, acct)],
                      special=[lambda P: ("curl -X POST https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json \\\n  --data-urlencode 'To=+15558675310' \\\n  -u %s:%s\n" % (acct, sid, P[1][1]), 'text/plain')])


def c_mailgun(w):
    dom = 'mg.%s.%s' % (pick(ORG), pick(TLD))
    return token_case('mailgun-api-key', w, [(pick(['MAILGUN_API_KEY', 'MG_API_KEY']), v_mailgun())],
                      hdr=[hdr_basic_user('api')],
                      url=[lambda v, P: 'https://api:%s@api.mailgun.net/v3/%s/messages' % (v, dom)],
                      special=[lambda P: ("curl -s --user 'api:%s' https://api.mailgun.net/v3/%s/messages -F to=%s -F subject=hi\n" % (P[0][1], dom, email()), 'text/plain')])


def c_vault(w):
    return token_case('vault-token', w, [(pick(['VAULT_TOKEN', 'VAULT_ROOT_TOKEN']), v_vault())],
                      hdr=[hdr_named('X-Vault-Token'), hdr_bearer],
                      url=[lambda v, P: 'https://vault.%s.internal:8200/ui/vault/auth?with=token&token=%s' % (pick(ORG), v)])


def c_azure_conn(w):
    conn, key = v_azure_conn()
    sp = [lambda P: (jdump({'ConnectionStrings': {'Storage': P[0][1]}, 'Logging': {'LogLevel': {'Default': 'Information'}}}), 'application/json'),
          lambda P: (jdump({'IsEncrypted': False, 'Values': {'AzureWebJobsStorage': P[0][1], 'FUNCTIONS_WORKER_RUNTIME': 'python'}}), 'application/json')]
    return token_case('azure-storage-connection-string', w, [(pick(['AZURE_STORAGE_CONNECTION_STRING', 'STORAGE_CONN', 'AzureWebJobsStorage'.upper()]), conn)],
                      special=sp, qnames=['conn', 'connection_string'], extra_find=[key])


def c_sas(w):
    q, sig = v_sas()
    acct = pick(ORG) + rs(4, LOWDIG)
    url = 'https://%s.blob.core.windows.net/%s/%s?%s' % (acct, pick(['exports', 'backups', 'uploads']),
                                                        pick(['db.bak', 'report.xlsx', 'dump.tar.gz']), q)
    if w == 'url':
        return mk('positive', 'azure-sas-token', w, {'text': url}, [sig])
    if chance(0.5):
        txt, ct = jdump({'uploadUrl': url, 'expires': iso_ts()}), 'application/json'
    else:
        txt, ct = 'BlobEndpoint=https://%s.blob.core.windows.net/;SharedAccessSignature=%s\n' % (acct, q), 'text/plain'
    return mk('positive', 'azure-sas-token', w, body_payload(txt, ct), [sig])


def c_discord_bot(w):
    return token_case('discord-bot-token', w, [(pick(['DISCORD_TOKEN', 'DISCORD_BOT_TOKEN', 'BOT_TOKEN']), v_discord_bot())],
                      hdr=[lambda v, P: 'Authorization: Bot ' + v],
                      special=[lambda P: ('import discord\n\nclient = discord.Client(intents=discord.Intents.default())\nclient.run("%s")\n' % P[0][1], 'text/x-python')])


def c_discord_webhook(w):
    v = v_discord_webhook()
    if w == 'url':
        u = v + pick(['', '?wait=true', '/slack'])
        return mk('positive', 'discord-webhook', w, {'text': u}, [v])
    return token_case('discord-webhook', w, [(pick(['DISCORD_WEBHOOK_URL', 'DISCORD_WEBHOOK']), v)])


def c_telegram(w):
    v = v_telegram()
    if w == 'url':
        m = pick(['sendMessage?chat_id=%d&text=%s' % (-R.randint(10 ** 12, 10 ** 13 - 1), quote('build passed')),
                  'getUpdates?offset=%d' % R.randint(1, 999999), 'sendDocument', 'getMe'])
        return mk('positive', 'telegram-bot-token', w, {'text': 'https://api.telegram.org/bot%s/%s' % (v, m)}, [v])
    return token_case('telegram-bot-token', w, [(pick(['TELEGRAM_BOT_TOKEN', 'TG_TOKEN', 'BOT_TOKEN']), v)],
                      special=[lambda P: ('from telegram.ext import Application\n\napp = Application.builder().token("%s").build()\n' % P[0][1], 'text/x-python')])


def c_square(w):
    return token_case('square-token', w, [(pick(['SQUARE_ACCESS_TOKEN', 'SQUARE_APPLICATION_SECRET', 'SQUARE_TOKEN']), v_square())],
                      hdr=[hdr_bearer], qnames=['access_token'])


def c_gocspx(w):
    cid = '%s-%s.apps.googleusercontent.com' % (rdig(12), rs(32, LOWDIG))
    sp = [lambda P: (jdump({'installed': {'client_id': cid, 'project_id': pick(ORG) + '-' + pick(SVC),
                                          'auth_uri': 'https://accounts.google.com/o/oauth2/auth',
                                          'token_uri': 'https://oauth2.googleapis.com/token',
                                          'client_secret': P[0][1], 'redirect_uris': ['http://localhost']}}), 'application/json'),
          lambda P: (urlencode([('code', '4/0A' + rs(60, URLTOK)), ('client_id', cid), ('client_secret', P[0][1]),
                                ('redirect_uri', 'http://localhost:8080/'), ('grant_type', 'authorization_code')]), 'application/x-www-form-urlencoded')]
    return token_case('google-oauth-client-secret', w, [(pick(['GOOGLE_CLIENT_SECRET', 'OAUTH_CLIENT_SECRET']), v_gocspx())],
                      special=sp, qnames=['client_secret'])


def c_postman(w):
    return token_case('postman-api-key', w, [(pick(['POSTMAN_API_KEY', 'POSTMAN_KEY']), v_postman())],
                      hdr=[hdr_named('X-Api-Key')],
                      url=[lambda v, P: 'https://api.getpostman.com/collections?apikey=%s' % v], qnames=['apikey'])


def c_jwt(w):
    v = v_jwt()
    return token_case('jwt', w, [(pick(['ACCESS_TOKEN', 'ID_TOKEN', 'JWT', 'SESSION_TOKEN']), v)],
                      hdr=[hdr_bearer, hdr_bearer, hdr_cookie('session'), hdr_named('X-Auth-Token'), hdr_cookie('access_token')],
                      url=[lambda v, P: 'https://%s/callback#id_token=%s&state=%s' % (corp_host(), v, rs(16, URLTOK)),
                           lambda v, P: 'https://%s/ws?token=%s' % (corp_host(), v)],
                      special=[lambda P: (jdump({'access_token': P[0][1], 'token_type': 'Bearer', 'expires_in': 3600}), 'application/json')],
                      qnames=['token', 'jwt', 'access_token'])


def c_basic(w):
    u, p = uname(), password()
    cred = b64e('%s:%s' % (u, p))
    if w == 'header':
        h = pick(['Authorization', 'Authorization', 'Proxy-Authorization'])
        return mk('positive', 'http-basic-auth', w, {'text': '%s: Basic %s' % (h, cred)}, [p])
    t = R.randrange(4)
    if t == 0:
        txt, ct = jdump({'auths': {'registry.%s.%s' % (pick(ORG), pick(TLD)): {'auth': cred}}}), 'application/json'
    elif t == 1:
        txt, ct = jdump({'log': {'version': '1.2', 'entries': [{'request': {'method': 'GET', 'url': 'https://%s/admin/' % corp_host(),
                                                                             'headers': [{'name': 'Authorization', 'value': 'Basic ' + cred}]}}]}}), 'application/json'
    elif t == 2:
        txt, ct = 'curl -sS -H "Authorization: Basic %s" https://%s/api/status\n' % (cred, corp_host()), 'text/plain'
    else:
        txt, ct = jdump({'webhook': {'url': 'https://%s/hook' % corp_host(), 'headers': {'Authorization': 'Basic ' + cred}}}), 'application/json'
    return mk('positive', 'http-basic-auth', w, body_payload(txt, ct), [p])


def c_bearer(w):
    v = v_bearer()
    if w == 'header':
        return mk('positive', 'bearer-token', w, {'text': pick(['Authorization: Bearer %s', 'authorization: Bearer %s', 'Authorization: bearer %s']) % v}, [v])
    txt = pick(['curl -H "Authorization: Bearer %s" https://%s/v1/me\n',
                '{"headers": {"Authorization": "Bearer %s"}, "url": "https://%s/v1/me"}'])
    return mk('positive', 'bearer-token', w, body_payload(txt % (v, corp_host()), 'text/plain'), [v])


def v_dburl():
    u, p = pick(['app', 'admin', 'postgres', 'root', 'svc_' + pick(SVC), uname()]), password()
    pe = quote(p, safe='')
    h = pick(['db.%s.internal' % pick(ORG), '%s-prod.%s.%s.rds.amazonaws.com' % (pick(SVC), rs(12, LOWDIG), pick(REGIONS)),
              '10.%d.%d.%d' % (R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)), '%s-%s.internal' % (pick(SVC), pick(['pg', 'mq', 'cache']))])
    s = R.randrange(7)
    return s, _dburl(s, u, pe, h), p


def _dburl(s, u, pe, h):
    if s == 0:
        return 'postgres://%s:%s@%s:5432/%s' % (u, pe, h, pick(SVC))
    if s == 1:
        return 'postgresql://%s:%s@%s/%s?sslmode=require' % (u, pe, h, pick(SVC))
    if s == 2:
        return 'mysql://%s:%s@%s:3306/%s' % (u, pe, h, pick(SVC))
    if s == 3:
        return 'mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority' % (u, pe, rs(5, LOWDIG), pick(SVC))
    if s == 4:
        return 'redis://:%s@%s:6379/0' % (pe, h)
    if s == 5:
        return 'amqp://%s:%s@%s:5672/%s' % (u, pe, h, pick(SVC))
    return 'jdbc:postgresql://%s:5432/%s?user=%s&password=%s' % (h, pick(SVC), u, pe)


DB_NAMES = {0: ['DATABASE_URL', 'DB_URL', 'POSTGRES_URL'], 1: ['DATABASE_URL', 'SQLALCHEMY_DATABASE_URI'], 2: ['MYSQL_URL', 'DATABASE_URL'],
            3: ['MONGO_URI', 'MONGODB_URL'], 4: ['REDIS_URL', 'CACHE_URL'], 5: ['AMQP_URL', 'RABBITMQ_URL', 'BROKER_URL'],
            6: ['SPRING_DATASOURCE_URL', 'JDBC_URL']}


def c_dburl(w):
    s, url, p = v_dburl()
    if w == 'url':
        u = 'https://%s/admin/datasources/test?dsn=%s' % (corp_host(), quote(url, safe=''))
        return mk('positive', 'database-url', w, {'text': u}, [url, p])
    sp = [lambda P: ('production:\n  adapter: postgresql\n  url: %s\n  pool: 10\n' % P[0][1], 'application/yaml'),
          lambda P: ('datasource db {\n  provider = "postgresql"\n  url      = "%s"\n}\n' % P[0][1], 'text/plain')]
    return token_case('database-url', w, [(pick(DB_NAMES[s]), url)],
                      special=sp, extra_find=[p])


def c_urlpw(w):
    u, p = uname(), password()
    host = pick(['git.%s.%s' % (pick(ORG), pick(TLD)), 'nexus.%s.internal' % pick(ORG), 'pypi.%s.%s' % (pick(ORG), pick(TLD)),
                 'jenkins.%s.%s' % (pick(ORG), pick(TLD)), 'ftp.%s.%s' % (pick(ORG), pick(TLD))])
    url = 'https://%s:%s@%s/%s' % (u, quote(p, safe=''), host, pick(['', 'simple/', 'repository/maven-releases/', 'job/deploy/build', 'org/repo.git']))
    if w == 'url':
        return mk('positive', 'url-password', w, {'text': url}, [p])
    t = R.randrange(3)
    if t == 0:
        txt = url + '\n'
    elif t == 1:
        txt = '[global]\nindex-url = %s\ntrusted-host = %s\n' % (url, host)
    else:
        txt = 'git remote add origin %s\ngit push -u origin main\n' % url
    return mk('positive', 'url-password', w, body_payload(txt, 'text/plain'), [p])


def c_generic_key(w):
    return token_case('generic-api-key', w, [(pick(GENERIC_KEY_NAMES), v_generic_key())],
                      hdr=[hdr_named('X-API-Key'), hdr_named('api-key'), hdr_named('X-Auth-Token'), hdr_cookie('api_key')],
                      qnames=['api_key', 'apikey', 'access_token', 'client_secret'])


def c_generic_pw(w):
    p = password()
    if w == 'header':
        return mk('positive', 'generic-password', w, {'text': pick(['X-Admin-Password: %s', 'X-Password: %s', 'X-DB-Password: %s']) % p}, [p])
    if w == 'url':
        u = pick(['https://%s/login?username=%s&password=%s' % (corp_host(), uname(), quote_plus(p)),
                  'https://%s/api/v1/users/create?user=%s&pass=%s&role=admin' % (corp_host(), uname(), quote(p, safe='')),
                  'https://%s/wifi/setup?ssid=%s&passphrase=%s' % (corp_host(), pick(ORG).upper() + '-GUEST', quote(p, safe=''))])
        return mk('positive', 'generic-password', w, {'text': u}, [p])
    sp = [lambda P: ('machine %s\nlogin %s\npassword %s\n' % (corp_host(), uname(), P[0][1]), 'text/plain'),
          lambda P: (urlencode([('username', uname()), ('password', P[0][1]), ('remember', 'on')]), 'application/x-www-form-urlencoded'),
          lambda P: (jdump({'email': email(), 'password': P[0][1]}), 'application/json')]
    return token_case('generic-password', w, [(pick(PASSWORD_NAMES), p)], special=sp)


# --- financial identifiers ----------------------------------------------------------------
TEST_CARDS = ['4111111111111111', '4242424242424242', '5555555555554444', '5105105105105100', '378282246310005',
              '371449635398431', '6011111111111117', '3530111333300000', '4012888888881881', '2223003122003222',
              '6200000000000005']


def v_card():
    n = doc_or(0.15, TEST_CARDS, 5)
    if n is None:
        net = pick(['visa', 'visa', 'mc', 'mc2', 'amex', 'disc', 'jcb', 'diners', 'up', 'visa19'])
        pre, ln = {'visa': ('4', 16), 'visa19': ('4', 19), 'mc': (str(R.randint(51, 55)), 16),
                   'mc2': (str(R.randint(2221, 2720)), 16), 'amex': (pick(['34', '37']), 15),
                   'disc': (pick(['6011', '65', '644']), 16), 'jcb': (str(R.randint(3528, 3589)), 16),
                   'diners': ('36', 14), 'up': ('62', pick([16, 17, 19]))}[net]
        n = luhn_complete(pre + rs(ln - len(pre) - 1, DIG))
    assert luhn_ok(n)
    return n


def fmt_card(n):
    s = R.randrange(4)
    if s == 0 or len(n) not in (14, 15, 16):
        return n
    sep = ' ' if s in (1, 2) else '-'
    if len(n) == 15:
        g = [n[:4], n[4:10], n[10:]]
    elif len(n) == 14:
        g = [n[:4], n[4:10], n[10:]]
    else:
        g = [n[i:i + 4] for i in range(0, 16, 4)]
    return sep.join(g)


def c_card(w):
    n = v_card()
    f = fmt_card(n)
    exp = '%02d/%02d' % (R.randint(1, 12), R.randint(25, 31))
    cvv = rs(4 if len(n) == 15 else 3, DIG)
    name = ' '.join(person()).title()
    if w == 'hostname':
        return mk('positive', 'payment-card', w, {'text': '%s.%s.%s' % (n, exp.replace('/', ''), evil())}, [n])
    if w == 'url':
        u = pick(['https://%s/checkout/confirm?cc=%s&exp=%s&cvv=%s' % (corp_host(), quote_plus(f), quote(exp, safe=''), cvv),
                  'https://%s/api/cards/%s/verify' % (corp_host(), n),
                  'https://%s/pay?amount=%d.00&currency=EUR&pan=%s&holder=%s' % (corp_host(), R.randint(5, 900), quote(f), quote(name)),
                  'https://%s/t.gif?d=%s' % (corp_host(), b64u('%s|%s|%s' % (n, exp, cvv)))])
        return mk('positive', 'payment-card', w, {'text': u}, [n] if 't.gif' in u else [f if '/api/cards/' not in u else n])
    t = R.randrange(9)
    if t == 0:
        txt, ct = jdump({'amount': R.randint(500, 90000), 'currency': pick(['usd', 'eur', 'gbp']),
                         'payment_method': {'type': 'card', 'card': {'number': f, 'exp_month': int(exp[:2]),
                                                                      'exp_year': 2000 + int(exp[3:]), 'cvc': cvv}}}), 'application/json'
    elif t == 1:
        txt, ct = urlencode([('name', name), ('card_number', f), ('exp', exp), ('cvv', cvv), ('zip', rs(5, DIG))]), 'application/x-www-form-urlencoded'
    elif t == 2:
        rows = ['customer_id,name,email,card_number,expiry']
        k = R.randint(0, 3)
        for i in range(4):
            if i == k:
                rows.append('%d,%s,%s,%s,%s' % (R.randint(1000, 9999), name, email(), f, exp))
            else:
                rows.append('%d,%s,%s,,' % (R.randint(1000, 9999), ' '.join(person()).title(), email()))
        txt, ct = '\n'.join(rows) + '\n', 'text/csv'
    elif t == 3:
        msg = pick(['Can you charge my card {f}, exp {e}, CVC {c}? Thanks!',
                    'Bitte buchen Sie von meiner Karte ab: {f}, gültig bis {e}, Prüfnummer {c}.',
                    'Mon numéro de carte : {f} (exp. {e}), cryptogramme {c}.',
                    'Mi tarjeta es {f}, vence {e}, código {c}.',
                    'カード番号は {f}、有効期限 {e} です。'])
        txt, ct = chat_wrap(msg.format(f=f, e=exp, c=cvv))
    elif t == 4:
        txt, ct = '%s ERROR [payments] charge declined pan=%s exp=%s amount=%d.00 reason=insufficient_funds\n' % (iso_ts(), f, exp, R.randint(5, 900)), 'text/plain'
    elif t == 5:
        txt, ct = ('<?xml version="1.0"?>\n<Order id="%d">\n  <Payment>\n    <CardNumber>%s</CardNumber>\n    <Expiry>%s</Expiry>\n'
                   '    <Holder>%s</Holder>\n  </Payment>\n</Order>\n' % (R.randint(10000, 99999), f, exp, name)), 'application/xml'
    elif t == 6:
        txt, ct = out_llm('Customer %s\nCard: %s  Exp: %s\n' % (name, f, exp))
    elif t == 7:
        txt, ct = jdump({'variables': {'input': {'cardNumber': f, 'expiry': exp, 'holderName': name}},
                         'query': 'mutation AddCard($input: CardInput!) { addCard(input: $input) { id last4 } }'}), 'application/json'
    else:
        txt, ct = json.dumps({'card': {'number': _uesc(n), 'exp': exp}}).replace('\\\\u', '\\u'), 'application/json'
    return mk('positive', 'payment-card', w, body_payload(txt, ct, 0.1), [n if t == 8 else f])


IBAN_SPECS = {'DE': '18n', 'GB': '4a14n', 'FR': '10n11c2n', 'ES': '20n', 'IT': '1a10n12c', 'NL': '4a10n', 'BE': '12n',
              'CH': '5n12c', 'AT': '16n', 'PL': '24n', 'SE': '20n', 'NO': '11n', 'DK': '14n', 'FI': '14n', 'IE': '4a14n',
              'PT': '21n', 'LU': '3n13c', 'CZ': '20n'}
IBAN_DOC = ['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606', 'NL91ABNA0417164300',
            'CH9300762011623852957']


def gen_bban(spec):
    out = ''
    for n, t in re.findall(r'(\d+)([nac])', spec):
        a = {'n': DIG, 'a': UP, 'c': DIG * 3 + UP}[t]
        out += rs(int(n), a)
    return out


def v_iban():
    s = doc_or(0.1, IBAN_DOC, 3)
    if s is None:
        cc = pick(sorted(IBAN_SPECS))
        s = make_iban(cc, gen_bban(IBAN_SPECS[cc]))
    assert iban_ok(s), s
    return s


def fmt_iban(s):
    return ' '.join(s[i:i + 4] for i in range(0, len(s), 4)) if chance(0.5) else s


def c_iban(w):
    s = v_iban()
    f = fmt_iban(s)
    name = ' '.join(person()).title()
    if w == 'url':
        u = pick(['https://%s/payouts/new?beneficiary=%s&iban=%s&amount=%d' % (corp_host(), quote_plus(name), quote_plus(f), R.randint(10, 9000)),
                  'https://%s/api/v2/accounts/%s/validate' % (corp_host(), s),
                  'https://%s/sepa?creditor=%s&iban=%s' % (corp_host(), quote(name), quote(f))])
        return mk('positive', 'iban', w, {'text': u}, [f if '/validate' not in u else s])
    t = R.randrange(7)
    if t == 0:
        txt, ct = jdump({'beneficiary': {'name': name, 'iban': f, 'bic': pick(['COBADEFFXXX', 'BNPAFRPPXXX', 'INGBNL2A'])},
                         'amount': {'value': '%d.%02d' % (R.randint(10, 9999), R.randint(0, 99)), 'currency': 'EUR'}}), 'application/json'
    elif t == 1:
        txt, ct = ('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">\n'
                   '<CstmrCdtTrfInitn><PmtInf><CdtTrfTxInf>\n<Cdtr><Nm>%s</Nm></Cdtr>\n<CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>\n'
                   '</CdtTrfTxInf></PmtInf></CstmrCdtTrfInitn>\n</Document>\n' % (name, s)), 'application/xml'
    elif t == 2:
        txt, ct = urlencode([('account_holder', name), ('iban', f), ('mandate', 'on')]), 'application/x-www-form-urlencoded'
    elif t == 3:
        txt, ct = 'employee_id;name;iban;salary\n%d;%s;%s;%d\n' % (R.randint(100, 999), name, f, R.randint(2500, 9000)), 'text/csv'
    elif t == 4:
        msg = pick(['Bitte überweise den Betrag an IBAN {i}, Kontoinhaber {n}.',
                    'Merci de virer sur l\'IBAN {i} au nom de {n}.',
                    'Puoi fare il bonifico su IBAN {i} intestato a {n}?',
                    'Kun je het overmaken naar {i} t.n.v. {n}?',
                    'Please wire the refund to {i} ({n}).'])
        txt, ct = chat_wrap(msg.format(i=f, n=name))
    elif t == 5:
        txt, ct = out_llm('Fix the format of this payout row:\n%s, %s\n' % (name, f))
    else:
        txt, ct = 'Subject: Bankverbindung\r\n\r\nHallo,\r\nmeine neue Bankverbindung lautet:\r\nIBAN: %s\r\nBIC: %s\r\n' % (f, pick(['DEUTDEFFXXX', 'GENODEF1S04'])), 'message/rfc822'
    return mk('positive', 'iban', w, body_payload(txt, ct, 0.1), [f if t != 1 else s])


BTC_DOC = ['1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
           'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4']


def v_btc():
    a = doc_or(0.08, BTC_DOC, 2)
    t = 'doc' if a else pick(['p2pkh', 'p2pkh', 'p2sh', 'p2wpkh', 'p2wpkh', 'p2wsh', 'p2tr'])
    if t == 'doc':
        pass
    elif t == 'p2pkh':
        a = b58check(b'\x00' + rbytes(20))
    elif t == 'p2sh':
        a = b58check(b'\x05' + rbytes(20))
    elif t == 'p2wpkh':
        a = segwit_addr('bc', 0, rbytes(20))
    elif t == 'p2wsh':
        a = segwit_addr('bc', 0, rbytes(32))
    else:
        a = segwit_addr('bc', 1, rbytes(32))
    assert b58check_ok(a) or segwit_ok(a), a
    return a


def c_btc(w):
    a = v_btc()
    if w == 'url':
        u = pick(['https://%s/withdraw?asset=BTC&address=%s&amount=0.%s' % (corp_host(), a, rs(4, DIG)),
                  'https://%s/api/v1/wallets/%s/balance' % (corp_host(), a),
                  'https://%s/donate#btc=%s' % (corp_host(), a)])
        return mk('positive', 'bitcoin-address', w, {'text': u}, [a])
    t = R.randrange(5)
    if t == 0:
        txt, ct = jdump({'asset': 'BTC', 'network': 'bitcoin', 'withdraw_address': a, 'amount': '0.%s' % rs(5, DIG)}), 'application/json'
    elif t == 1:
        txt, ct = chat_wrap(pick(['send the BTC to {a} pls', 'Bitte an {a} schicken.', 'Envoie les bitcoins à {a}',
                                  'manda para {a}', '送金先は {a} です']).format(a=a))
    elif t == 2:
        txt, ct = urlencode([('currency', 'btc'), ('payout_address', a), ('label', uname())]), 'application/x-www-form-urlencoded'
    elif t == 3:
        txt, ct = 'wallet,label,address\nhot,%s,%s\n' % (pick(SVC), a), 'text/csv'
    else:
        txt, ct = out_issue('payout address: %s\n' % a)
    return mk('positive', 'bitcoin-address', w, body_payload(txt, ct, 0.1), [a])


def v_eth():
    d = doc_or(0.08, ['0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
                      '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB'], 2)
    if d:
        return d
    a = rbytes(20)
    return '0x' + a.hex() if chance(0.22) else eip55(a)


def c_eth(w):
    a = v_eth()
    if w == 'url':
        u = pick(['https://%s/withdraw?asset=ETH&to=%s&amount=%d.5' % (corp_host(), a, R.randint(0, 40)),
                  'https://%s/api/v2/address/%s/tokens' % (corp_host(), a),
                  'https://%s/claim?wallet=%s&ref=%s' % (corp_host(), a, rs(6, LOWDIG))])
        return mk('positive', 'ethereum-address', w, {'text': u}, [a])
    t = R.randrange(5)
    if t == 0:
        txt, ct = jdump({'jsonrpc': '2.0', 'id': R.randint(1, 99), 'method': 'eth_getBalance', 'params': [a, 'latest']}), 'application/json'
    elif t == 1:
        txt, ct = jdump({'chain': pick(['ethereum', 'arbitrum', 'base']), 'payout_wallet': a, 'user': uname()}), 'application/json'
    elif t == 2:
        txt, ct = chat_wrap(pick(['my wallet is {a}', 'meine Wallet: {a}', 'mon portefeuille : {a}', 'mi billetera {a}']).format(a=a))
    elif t == 3:
        txt, ct = urlencode([('wallet', a), ('network', 'erc20'), ('agree', '1')]), 'application/x-www-form-urlencoded'
    else:
        txt, ct = 'address,label\n%s,%s\n' % (a, pick(['treasury', 'ops', 'payroll'])), 'text/csv'
    return mk('positive', 'ethereum-address', w, body_payload(txt, ct, 0.1), [a])


# --- DNS exfiltration, high entropy, delimited hex -------------------------------------------
def exfil_secret():
    t = R.randrange(8)
    if t == 0:
        return (v_akid() + ':' + rs(40, ALNUM + '/+')).encode()
    if t == 1:
        return v_ghp().encode()
    if t == 2:
        return ('root:x:0:0:root:/root:/bin/bash\n' + uname() + ':x:1000:1000::/home/u:/bin/sh').encode()
    if t == 3:
        return ('DB_PASSWORD=' + password()).encode()
    if t == 4:
        return v_openai()[:60].encode()
    return rbytes(R.randint(20, 60))


def chunk(s, lo, hi, even=False):
    out = []
    while s:
        n = R.randint(lo, hi)
        if even:
            n -= n % 2
        out.append(s[:n])
        s = s[n:]
    return out


def c_dns(w):
    dom = evil()
    sid = rs(R.randint(3, 6), LOWDIG)
    t = R.randrange(5)
    data = exfil_secret()
    if t == 0:                          # hex, split across labels
        labs = chunk(data.hex(), 24, 60, even=True)
    elif t == 1:                        # base32, split across labels
        labs = chunk(b32e(data), 20, 57)
    elif t == 2:                        # encoding changes from label to label
        parts = chunk(data, 8, 24)
        labs = [(p.hex() if i % 2 == 0 else b32e(p)) for i, p in enumerate(parts)]
        if chance(0.5):
            labs = [(b32e(p) if i % 2 == 0 else p.hex()) for i, p in enumerate(parts)]
    elif t == 3:                        # one long base32 label
        data = data[:R.randint(10, 39)]
        labs = [b32e(data, lower=chance(0.8))]
    else:                               # sequenced hex chunks with a per-chunk index
        labs = ['%d-%s' % (i, c) for i, c in enumerate(chunk(data.hex(), 20, 48, even=True))]
    labs = [l for l in labs if l]
    while len('.'.join(labs)) + len(sid) + len(dom) + 2 > 250:
        labs.pop()
    host = '.'.join(labs + [sid, dom]) if t != 3 or chance(0.5) else '.'.join(labs + [dom])
    return mk('positive', 'dns-exfiltration', w, {'text': host}, labs)


NEUTRALISH = ['cdn-edge-cache.net', 'img-static-assets.com', 'metrics-collector.io', 'api-gw-edge.net',
              'pixel-track.org', 'sync.content-delivery.cc', 'beacon.stat-counter.xyz', 'cloud-sync-api.top']


def he_bytes(hexenc):
    while True:
        n = R.randint(20, 60)
        if not hexenc or n not in (16, 20, 32, 64):
            return rbytes(n)


def he_encode(b):
    t = R.randrange(6)
    if t == 0:
        return b64u(b)
    if t == 1:
        return b64e(b)
    if t == 2:
        return b32e(b, lower=False, pad=chance(0.5))
    if t == 3:
        return b32e(b)
    if t == 4:
        return b.hex()
    return b64u(b, pad=True)


def c_he(w):
    if w == 'hostname':
        if chance(0.5):
            b = he_bytes(False)[:R.randint(20, 39)]
            lab = b32e(b)
        else:
            b = rbytes(R.randint(21, 31))
            lab = b.hex()
        return mk('positive', 'high-entropy', w, {'text': '%s.%s' % (lab, pick(NEUTRALISH + EVIL))}, [lab])
    b = he_bytes(True)
    e = he_encode(b)
    h = pick(NEUTRALISH) if chance(0.6) else corp_host()
    t = R.randrange(4)
    if t == 0:
        u = 'https://%s/i/%s' % (h, quote(e, safe=''))
    elif t == 1:
        u = 'https://%s/api/v2/upload/%s/done' % (h, quote(e, safe=''))
    elif t == 2:
        u = 'https://%s/%s?%s=%s' % (h, pick(['c', 'p.gif', 'collect', 'e']), pick(['d', 'data', 'payload', 'x', 'blob', 's']), quote(e, safe=''))
    else:
        b = he_bytes(False)[:R.randint(20, 39)]
        e = b32e(b)
        u = 'https://%s.%s/%s' % (e, pick(NEUTRALISH + EVIL), pick(['', 'ping', 'a.js']))
    return mk('positive', 'high-entropy', w, {'text': u}, [e])


def dhex_render(b, styles=None):
    st = pick(styles or ['dash', 'colon', 'space', 'comma', 'comma-space', 'bsx', '0x-comma', '0x-space'])
    hx = [('%02X' if chance(0.3) else '%02x') % c for c in b]
    hx = [h.lower() for h in hx] if chance(0.6) else [h.upper() for h in hx]
    return {'dash': lambda: '-'.join(hx), 'colon': lambda: ':'.join(hx), 'space': lambda: ' '.join(hx),
            'comma': lambda: ','.join(hx), 'comma-space': lambda: ', '.join(hx),
            'bsx': lambda: ''.join('\\x' + h for h in hx), '0x-comma': lambda: ', '.join('0x' + h for h in hx),
            '0x-space': lambda: ' '.join('0x' + h for h in hx)}[st](), st


def c_dhex(w):
    if w == 'hostname':
        b = rbytes(R.randint(16, 21))
        s = '-'.join('%02x' % c for c in b)
        extra = ''
        if chance(0.4):
            b2 = rbytes(R.randint(8, 16))
            extra = '-'.join('%02x' % c for c in b2) + '.'
        return mk('positive', 'delimited-hex', w, {'text': '%s.%s%s' % (s, extra, pick(EVIL))}, [s])
    b = rbytes(R.randint(16, 48))
    s, st = dhex_render(b)
    if st == 'colon' and len(b) < 20:
        b = rbytes(R.randint(20, 48))
        s, st = dhex_render(b, ['colon'])
    if w == 'url':
        t = R.randrange(3)
        if t == 0 and st in ('dash', 'colon'):
            u = 'https://%s/r/%s/ok' % (pick(NEUTRALISH) if chance(0.5) else corp_host(), s)
        elif t == 1:
            u = 'https://%s/c?%s=%s' % (pick(NEUTRALISH), pick(['d', 'buf', 'k', 'raw']), quote_plus(s))
        else:
            u = 'https://%s/c?%s=%s&n=%d' % (corp_host(), pick(['d', 'buf', 'k', 'raw']), quote(s, safe=''), len(b))
        return mk('positive', 'delimited-hex', w, {'text': u}, [s])
    t = R.randrange(5)
    if t == 0:
        txt, ct = jdump({'device': 'sensor-%d' % R.randint(1, 99), 'buf': s}), 'application/json'
    elif t == 1:
        txt, ct = ('unsigned char key[%d] = {%s};\n' % (len(b), ', '.join('0x%02x' % c for c in b))), 'text/x-c'
        s = ', '.join('0x%02x' % c for c in b)
    elif t == 2:
        txt, ct = '%s DEBUG dump: %s\n' % (iso_ts(), s), 'text/plain'
    elif t == 3:
        txt, ct = urlencode([('data', s), ('len', str(len(b)))]), 'application/x-www-form-urlencoded'
    else:
        txt, ct = "payload = b'%s'\n" % ''.join('\\x%02x' % c for c in b), 'text/x-python'
        s = ''.join('\\x%02x' % c for c in b)
    return mk('positive', 'delimited-hex', w, body_payload(txt, ct, 0.1), [s])


# plan: class -> (generator, body, url, header, hostname)
POS_PLAN = [
    ('github-pat', c_github_pat, 4, 2, 3, 0), ('github-oauth-token', c_github_oauth, 4, 1, 2, 0),
    ('github-app-token', c_github_app, 5, 2, 2, 0), ('github-fine-grained-pat', c_github_fg, 5, 1, 2, 0),
    ('gitlab-token', c_gitlab, 5, 2, 2, 1), ('slack-token', c_slack, 5, 2, 3, 0),
    ('slack-webhook', c_slack_webhook, 4, 3, 0, 0), ('stripe-secret-key', c_stripe, 4, 3, 3, 0),
    ('openai-api-key', c_openai, 5, 2, 3, 0), ('anthropic-api-key', c_anthropic, 5, 1, 2, 0),
    ('aws-access-key-id', c_aws_id, 4, 3, 1, 2), ('aws-credentials', c_aws_creds, 9, 0, 0, 0),
    ('google-api-key', c_google, 4, 4, 1, 0), ('sendgrid-api-key', c_sendgrid, 5, 1, 1, 0),
    ('npm-token', c_npm, 5, 2, 1, 0), ('pypi-token', c_pypi, 5, 1, 1, 0),
    ('huggingface-token', c_hf, 4, 2, 1, 0), ('dockerhub-pat', c_docker, 5, 1, 1, 0),
    ('shopify-token', c_shopify, 4, 2, 1, 0), ('digitalocean-token', c_do, 5, 1, 1, 0),
    ('twilio-credentials', c_twilio, 5, 1, 1, 0), ('mailgun-api-key', c_mailgun, 4, 1, 1, 0),
    ('vault-token', c_vault, 4, 1, 2, 0), ('azure-storage-connection-string', c_azure_conn, 6, 1, 0, 0),
    ('azure-sas-token', c_sas, 2, 5, 0, 0), ('discord-bot-token', c_discord_bot, 4, 1, 1, 0),
    ('discord-webhook', c_discord_webhook, 3, 3, 0, 0), ('telegram-bot-token', c_telegram, 3, 4, 0, 0),
    ('square-token', c_square, 4, 1, 1, 0), ('google-oauth-client-secret', c_gocspx, 5, 1, 0, 0),
    ('postman-api-key', c_postman, 4, 1, 1, 0), ('jwt', c_jwt, 3, 2, 5, 0),
    ('http-basic-auth', c_basic, 4, 0, 5, 0), ('bearer-token', c_bearer, 2, 0, 6, 0),
    ('database-url', c_dburl, 8, 2, 0, 0), ('url-password', c_urlpw, 2, 6, 0, 0),
    ('generic-api-key', c_generic_key, 5, 2, 3, 0), ('generic-password', c_generic_pw, 6, 3, 1, 0),
    ('payment-card', c_card, 9, 4, 0, 1), ('iban', c_iban, 8, 4, 0, 0),
    ('bitcoin-address', c_btc, 7, 3, 0, 0), ('ethereum-address', c_eth, 6, 3, 0, 0),
    ('dns-exfiltration', c_dns, 0, 0, 0, 26), ('high-entropy', c_he, 0, 11, 0, 7),
    ('delimited-hex', c_dhex, 6, 5, 0, 3),
]


# ---------------------------------------------------------------------------
# negatives: benign traffic that looks risky
# ---------------------------------------------------------------------------
def uuid_any(v=None):
    v = v or pick([1, 3, 4, 4, 4, 5, 6, 7, 7, 8])
    if v == 3:
        return str(uuid.uuid3(uuid.NAMESPACE_DNS, '%s%d.%s.com' % (pick(SVC), R.randint(1, 10 ** 6), pick(ORG))))
    if v == 5:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, 'https://%s/%s/%d' % (corp_host(), pick(SVC), R.randint(1, 10 ** 6))))
    n = R.getrandbits(128)
    if v == 7:
        n = (R.randint(1700000000000, 1760000000000) << 80) | (n & ((1 << 80) - 1))
    n &= ~(0xf << 76)
    n |= v << 76
    n &= ~(0x3 << 62)
    n |= 0x2 << 62
    return str(uuid.UUID(int=n))


def sha_hex(n=40):
    return hashlib.sha512(rbytes(32)).hexdigest()[:n] if n > 64 else hashlib.sha256(rbytes(32)).hexdigest()[:n]


def nb(txt, ct):
    return {'content_type': ct, 'text': txt}


def nt(txt):
    return {'text': txt}


def api_host():
    return 'api.%s.%s' % (pick(ORG), pick(TLD))


def n_uuid(w):
    u = uuid_any()
    if w == 'hostname':
        return nt('%s.cfargotunnel.com' % uuid_any(4))
    if w == 'header':
        return nt('%s: %s' % (pick(['X-Request-Id', 'Idempotency-Key', 'X-Correlation-ID', 'X-Trace-Id']), u))
    if w == 'url':
        return nt(pick(['https://%s/v1/orders/%s/items?include=product' % (api_host(), u),
                        'https://app.%s.io/projects/%s/settings/general' % (pick(ORG), u),
                        'https://%s/v2/users/%s/avatar?size=128' % (api_host(), u),
                        'https://%s/api/v3/tickets/%s/comments?page=%d' % (api_host(), u, R.randint(1, 5))]))
    t = R.randrange(5)
    if t == 0:
        return nb(jdump({'request_id': u, 'user_id': uuid_any(), 'items': [{'sku_id': uuid_any(), 'qty': R.randint(1, 4)}]}), 'application/json')
    if t == 1:
        rows = ['id,created_at,status'] + ['%s,%s,%s' % (uuid_any(), iso_ts(), pick(['open', 'closed', 'pending'])) for _ in range(R.randint(3, 6))]
        return nb('\n'.join(rows) + '\n', 'text/csv')
    if t == 2:
        return nb(jdump({'query': 'query Node($id: ID!) { node(id: $id) { id __typename } }', 'variables': {'id': u}}), 'application/json')
    if t == 3:
        return nb(urlencode([('order_id', u), ('action', 'cancel'), ('reason', 'duplicate')]), 'application/x-www-form-urlencoded')
    return nb('<Request Id="%s" Parent="%s" Nil="00000000-0000-0000-0000-000000000000"/>\n' % (u, uuid_any()), 'application/xml')


def n_git_sha(w):
    s = sha_hex(40)
    o, r = pick(ORG), pick(SVC)
    if w == 'header':
        return nt(pick(['X-Git-Commit: %s', 'X-Build-Revision: %s', 'X-Source-Version: %s']) % pick([s, s[:7], s[:12]]))
    if w == 'url':
        return nt(pick(['https://github.com/%s/%s/commit/%s' % (o, r, s),
                        'https://raw.githubusercontent.com/%s/%s/%s/README.md' % (o, r, s),
                        'https://gitlab.com/%s/%s/-/compare/%s...%s' % (o, r, s[:8], sha_hex(8)),
                        'https://api.github.com/repos/%s/%s/git/trees/%s?recursive=1' % (o, r, s),
                        'https://api.github.com/repos/%s/%s/statuses/%s' % (o, r, s),
                        'https://bitbucket.org/%s/%s/src/%s/docs/' % (o, r, s[:12])]))
    t = R.randrange(3)
    if t == 0:
        commits = [{'id': sha_hex(40), 'message': pick(['fix: handle empty cart', 'chore(deps): bump lodash', 'docs: typo']),
                    'timestamp': iso_ts(), 'author': {'name': ' '.join(person()).title()}} for _ in range(R.randint(1, 3))]
        return nb(jdump({'ref': 'refs/heads/main', 'before': sha_hex(40), 'after': commits[-1]['id'], 'commits': commits}), 'application/json')
    if t == 1:
        return nb(''.join('%s %s\n' % (sha_hex(7), pick(['Merge pull request #%d' % R.randint(1, 999), 'Fix flaky test', 'Update README', 'Bump version to ' + ver()]))
                          for _ in range(R.randint(3, 7))), 'text/plain')
    return nb(jdump({'state': 'success', 'sha': s, 'context': 'ci/build', 'target_url': 'https://ci.%s.dev/builds/%d' % (o, R.randint(1000, 99999))}), 'application/json')


def n_hash(w):
    if w == 'header':
        t = R.randrange(5)
        return nt(['X-Amz-Content-Sha256: %s' % sha_hex(64), 'Digest: sha-256=%s' % b64e(rbytes(32)),
                   'Content-MD5: %s' % b64e(rbytes(16)), 'X-Checksum-Sha1: %s' % sha_hex(40),
                   'Repr-Digest: sha-512=:%s:' % b64e(rbytes(64))][t])
    if w == 'url':
        return nt(pick(['https://registry-1.docker.io/v2/library/%s/blobs/sha256:%s' % (pick(['nginx', 'redis', 'python', 'node']), sha_hex(64)),
                        'https://downloads.%s.org/release/%s/pkg.tar.xz?sha256=%s' % (pick(ORG), ver(), sha_hex(64)),
                        'https://cache.nixos.org/%s.narinfo' % rs(32, '0123456789abcdfghijklmnpqrsvwxyz')]))
    t = R.randrange(4)
    if t == 0:
        return nb(''.join('%s  %s\n' % (sha_hex(64), f) for f in ['app-%s-linux-amd64.tar.gz' % ver(), 'app-%s-darwin-arm64.tar.gz' % ver(), 'app-%s-windows.zip' % ver()]), 'text/plain')
    if t == 1:
        return nb(jdump({'files': [{'path': 'dist/%s.whl' % pick(SVC), 'sha256': sha_hex(64), 'size': R.randint(1000, 9999999)},
                                   {'path': 'dist/%s.tar.gz' % pick(SVC), 'sha512': sha_hex(128), 'size': R.randint(1000, 9999999)}]}), 'application/json')
    if t == 2:
        return nb(jdump({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                         'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': 'sha256:' + sha_hex(64), 'size': R.randint(500, 9000)},
                         'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': 'sha256:' + sha_hex(64), 'size': R.randint(10 ** 5, 10 ** 8)} for _ in range(R.randint(2, 4))]}), 'application/json')
    return nb('$ sha1sum backup.tar\n%s  backup.tar\n$ md5sum backup.tar\n%s  backup.tar\n' % (sha_hex(40), sha_hex(32)), 'text/plain')


def asset_path():
    t = R.randrange(7)
    if t == 0:
        return '/static/js/main.%s.js' % rs(8, HEX)
    if t == 1:
        return '/static/css/main.%s.chunk.css' % rs(8, HEX)
    if t == 2:
        return '/assets/index-%s.js' % rs(8, URLTOK)
    if t == 3:
        return '/_next/static/chunks/pages/%s-%s.js' % (pick(['_app', 'index', 'checkout', '%5Bslug%5D']), rs(16, HEX))
    if t == 4:
        return '/_next/static/%s/_buildManifest.js' % rs(21, URLTOK)
    if t == 5:
        return '/assets/application-%s.css' % rs(64, HEX)
    return '/dist/vendors~main.%s.bundle.js' % rs(20, HEX)


def asset_host():
    return pick(['static.%s.com' % pick(ORG), 'cdn.%s-assets.net' % pick(ORG), 'd%s.cloudfront.net' % rs(13, LOWDIG),
                 'www.%s.%s' % (pick(ORG), pick(TLD)), 'assets.%s.io' % pick(ORG)])


def n_asset(w):
    if w == 'url':
        return nt('https://%s%s' % (asset_host(), asset_path()))
    if chance(0.6):
        h = asset_host()
        s = ('<!doctype html>\n<html><head>\n  <link rel="stylesheet" href="https://%s%s">\n  <script type="module" src="https://%s%s"></script>\n'
             '</head><body><div id="root"></div>\n  <script src="%s" defer></script>\n</body></html>\n' % (h, asset_path(), h, asset_path(), asset_path()))
        return nb(s, 'text/html')
    m = dict(('%s.js' % n, asset_path()) for n in ['main', 'runtime', 'vendor'])
    return nb(jdump({'files': m, 'entrypoints': list(m.values())}), 'application/json')


def n_cloud_doc(w):
    t = R.randrange(7)
    if t == 0:
        u = 'https://docs.google.com/document/d/1%s/edit?usp=sharing' % rs(43, URLTOK)
    elif t == 1:
        u = 'https://drive.google.com/file/d/1%s/view?usp=drive_link' % rs(32, URLTOK)
    elif t == 2:
        u = 'https://docs.google.com/spreadsheets/d/1%s/edit#gid=%d' % (rs(43, URLTOK), R.randint(0, 2 ** 31))
    elif t == 3:
        u = 'https://www.notion.so/%s/%s-%s' % (pick(ORG), '-'.join(pick(['Q3', 'Roadmap', 'Onboarding', 'Meeting', 'Notes', 'Design', 'Spec']) for _ in range(R.randint(2, 4))), rs(32, HEX))
    elif t == 4:
        u = 'https://www.dropbox.com/s/%s/%s?dl=0' % (rs(15, LOWDIG), pick(['report.pdf', 'slides.key', 'photos.zip']))
    elif t == 5:
        u = 'https://www.dropbox.com/scl/fi/%s/%s?rlkey=%s&dl=0' % (rs(25, LOWDIG), pick(['deck.pptx', 'budget.xlsx']), rs(25, LOWDIG))
    else:
        reg = pick(REGIONS)
        u = 'https://%s-%s.s3.%s.amazonaws.com/uploads/2024/%02d/%s/%s' % (pick(ORG), pick(['media', 'uploads', 'public']), reg, R.randint(1, 12), uuid_any(4), pick(['photo.jpg', 'invoice.pdf', 'logo.png']))
    if w == 'url':
        return nt(u)
    if chance(0.5):
        return nb(jdump({'title': pick(['Q3 planning', 'Onboarding checklist', 'Design review']), 'url': u, 'shared_with': [email()]}), 'application/json')
    return nb('Hi all, the notes from today are here: %s\nPlease add comments before Friday.\n' % u, 'text/plain')


def png_bytes(w_, h_):
    def chunk_(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    base = [R.randint(0, 255) for _ in range(3)]
    raw = b''
    for y in range(h_):
        row = bytearray([0])
        for x in range(w_):
            for c in range(3):
                row.append((base[c] + x * R.randint(0, 9) + y * 3 + R.randint(0, 40)) & 0xff)
        raw += bytes(row)
    return (b'\x89PNG\r\n\x1a\n' + chunk_(b'IHDR', struct.pack('>IIBBBBB', w_, h_, 8, 2, 0, 0, 0)) +
            chunk_(b'IDAT', zlib.compress(raw, 9)) + chunk_(b'IEND', b''))


def n_image(w):
    img = png_bytes(R.randint(6, 20), R.randint(6, 20))
    b = b64e(img)
    t = R.randrange(5)
    if t == 0:
        return nb(jdump({'display_name': uname(), 'avatar': 'data:image/png;base64,' + b}), 'application/json')
    if t == 1:
        return nb(jdump({'model': 'claude-3-5-sonnet-20241022', 'max_tokens': 512, 'messages': [{'role': 'user', 'content': [
            {'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': b}},
            {'type': 'text', 'text': pick(['What is in this picture?', 'Describe this chart.', 'Was zeigt dieses Bild?'])}]}]}), 'application/json')
    if t == 2:
        return nb(jdump({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': [
            {'type': 'text', 'text': 'Extract the text from this screenshot.'},
            {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,' + b}}]}]}), 'application/json')
    if t == 3:
        bnd = '----WebKitFormBoundary' + rs(16)
        body = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="thumb.png"\r\nContent-Type: image/png\r\n\r\n' % bnd).encode() + img + ('\r\n--%s--\r\n' % bnd).encode()
        return {'content_type': 'multipart/form-data; boundary=' + bnd, 'base64': b64e(body)}
    return nb(jdump({'product_id': R.randint(1000, 99999), 'image': {'mime': 'image/png', 'data': b, 'width': 16}}), 'application/json')


def cursor_val():
    t = R.randrange(6)
    if t == 0:
        return b64e(json.dumps({'last_id': R.randint(1000, 10 ** 7), 'ts': R.randint(1700000000, 1760000000)}))
    if t == 1:
        return b64u(json.dumps({'offset': R.randint(20, 5000), 'sort': pick(['created_at', 'name'])}))
    if t == 2:
        return b64e('arrayconnection:%d' % R.randint(1, 999))
    if t == 3:
        return b64e('user:U0%s' % rs(8, UP + DIG))
    if t == 4:
        return b64e('cursor:v2:%s' % iso_ts())
    return rs(R.randint(40, 48), LOWDIG)


def n_cursor(w):
    c = cursor_val()
    if w == 'header':
        return nt('Link: <https://%s/v1/items?cursor=%s&limit=50>; rel="next"' % (api_host(), quote(c, safe='')))
    if w == 'url':
        return nt(pick(['https://%s/v1/items?limit=50&cursor=%s' % (api_host(), quote(c, safe='')),
                        'https://slack.com/api/conversations.list?limit=200&cursor=%s' % quote(b64e('team:C0%s' % rs(8, UP + DIG)), safe=''),
                        'https://%s/graphql?query=%s&variables=%s' % (api_host(), quote('query($after:String){items(first:20,after:$after){edges{node{id}}}}', safe=''), quote(json.dumps({'after': c}), safe='')),
                        'https://%s/v2/search?q=%s&next=%s' % (api_host(), pick(['shoes', 'rust', 'tea']), quote(c, safe=''))]))
    return nb(jdump({'data': [{'id': R.randint(1, 10 ** 6)} for _ in range(3)], 'has_more': True,
                     pick(['next_cursor', 'after', 'nextPageToken', 'continuation']): c}), 'application/json')


def pub_id():
    t = R.randrange(12)
    return [lambda: 'ch_3' + rs(23), lambda: 'cus_' + rs(14), lambda: 'pi_3' + rs(23), lambda: 'pm_1' + rs(23),
            lambda: 'chatcmpl-' + rs(29), lambda: 'msg_01' + rs(22), lambda: 'SM' + rs(32, HEX), lambda: 'MM' + rs(32, HEX),
            lambda: 'asst_' + rs(24), lambda: 'evt_1' + rs(23), lambda: 'in_1' + rs(23), lambda: 'file-' + rs(22)][t]()


def n_pubid(w):
    i = pub_id()
    if w == 'header':
        return nt(pick(['Request-Id: req_%s' % rs(14), 'X-Request-Id: req_%s' % rs(24), 'Openai-Request-Id: req_%s' % rs(32, HEX)]))
    if w == 'url':
        return nt(pick(['https://dashboard.stripe.com/payments/%s' % ('pi_3' + rs(23)),
                        'https://api.stripe.com/v1/charges?limit=10&starting_after=%s&created%%5Bgte%%5D=%d' % ('ch_3' + rs(23), R.randint(1700000000, 1760000000)),
                        'https://api.twilio.com/2010-04-01/Messages/%s.json' % ('SM' + rs(32, HEX)),
                        'https://www.youtube.com/watch?v=%s&t=%ds' % (rs(11, URLTOK), R.randint(1, 900)),
                        'https://%s/orders/%s/receipt' % (api_host(), i)]))
    t = R.randrange(4)
    if t == 0:
        return nb(jdump({'id': 'chatcmpl-' + rs(29), 'object': 'chat.completion.chunk', 'model': 'gpt-4o-mini',
                         'choices': [{'index': 0, 'delta': {'content': 'Hello'}}]}), 'application/json')
    if t == 1:
        return nb(jdump({'customer': 'cus_' + rs(14), 'payment_intent': 'pi_3' + rs(23), 'charge': 'ch_3' + rs(23), 'amount': R.randint(100, 50000)}), 'application/json')
    if t == 2:
        return nb(urlencode([('MessageSid', 'SM' + rs(32, HEX)), ('MessageStatus', 'delivered'), ('ErrorCode', '')]), 'application/x-www-form-urlencoded')
    return nb(jdump({'node_id': b64e('04:User%d' % R.randint(1000, 9999999)), 'id': R.randint(1000, 9999999), 'login': uname()}), 'application/json')


def n_sri(w):
    t = R.randrange(4)
    if t == 0:
        lib = pick([('bootstrap', '5.3.3', 'dist/js/bootstrap.bundle.min.js'), ('alpinejs', '3.14.1', 'dist/cdn.min.js'), ('htmx.org', '2.0.2', 'dist/htmx.min.js')])
        return nb('<script src="https://cdn.jsdelivr.net/npm/%s@%s/%s" integrity="sha384-%s" crossorigin="anonymous"></script>\n'
                  '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/%s@%s/dist/css/app.min.css" integrity="sha256-%s">\n'
                  % (lib[0], lib[1], lib[2], b64e(rbytes(48)), lib[0], lib[1], b64e(rbytes(32))), 'text/html')
    if t == 1:
        pk = {}
        for n in R.sample(['lodash', 'react', 'react-dom', 'express', 'chalk', 'zod', 'axios', 'debug'], 3):
            v = ver()
            pk['node_modules/' + n] = {'version': v, 'resolved': 'https://registry.npmjs.org/%s/-/%s-%s.tgz' % (n, n, v), 'integrity': 'sha512-' + b64e(rbytes(64))}
        return nb(jdump({'name': pick(SVC), 'lockfileVersion': 3, 'requires': True, 'packages': pk}, 2), 'application/json')
    if t == 2:
        return nb(''.join('%s %s h1:%s\n%s %s/go.mod h1:%s\n' % (m, 'v' + ver(), b64e(rbytes(32)), m, 'v' + ver(), b64e(rbytes(32)))
                          for m in R.sample(['github.com/pkg/errors', 'golang.org/x/net', 'github.com/google/uuid', 'gopkg.in/yaml.v3'], 2)), 'text/plain')
    return nb(''.join('[[package]]\nname = "%s"\nversion = "%s"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"\n\n' % (n, ver(), sha_hex(64))
                      for n in R.sample(['serde', 'tokio', 'anyhow', 'regex', 'rand'], 2)), 'text/plain')


def _sshstr(b):
    return struct.pack('>I', len(b)) + b


def ssh_pub():
    t = R.randrange(3)
    if t == 0:
        wire = _sshstr(b'ssh-ed25519') + _sshstr(rbytes(32))
        return 'ssh-ed25519', wire
    if t == 1:
        n = bytes([0x80 | R.randint(0, 127)]) + rbytes(255)
        wire = _sshstr(b'ssh-rsa') + _sshstr(b'\x01\x00\x01') + _sshstr(b'\x00' + n)
        return 'ssh-rsa', wire
    wire = _sshstr(b'ecdsa-sha2-nistp256') + _sshstr(b'nistp256') + _sshstr(b'\x04' + rbytes(64))
    return 'ecdsa-sha2-nistp256', wire


def n_sshpk(w):
    kt, wire = ssh_pub()
    line = '%s %s %s@%s' % (kt, b64e(wire), uname(), pick(['laptop', 'build-01', 'ws-%d' % R.randint(1, 99)]))
    t = R.randrange(4)
    if t == 0:
        return nb(jdump({'title': '%s laptop' % uname(), 'key': line}), 'application/json')
    if t == 1:
        kt2, w2 = ssh_pub()
        return nb('%s\n%s %s deploy@ci\n' % (line, kt2, b64e(w2)), 'text/plain')
    if t == 2:
        return nb('#cloud-config\nusers:\n  - name: %s\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys:\n      - %s\n' % (uname(), line), 'text/cloud-config')
    return nb('resource "aws_key_pair" "deployer" {\n  key_name   = "deployer-key"\n  public_key = "%s"\n}\n' % line, 'text/plain')


def n_sshfp(w):
    kt, wire = ssh_pub()
    fp = 'SHA256:' + b64e(hashlib.sha256(wire).digest()).rstrip('=')
    md5 = 'MD5:' + ':'.join('%02x' % c for c in hashlib.md5(wire).digest())
    t = R.randrange(3)
    if t == 0:
        return nb('%d %s %s@%s (%s)\n' % (pick([256, 3072, 4096]), fp, uname(), pick(['laptop', 'bastion']), pick(['ED25519', 'RSA', 'ECDSA'])), 'text/plain')
    if t == 1:
        return nb(jdump({'id': R.randint(1, 10 ** 6), 'title': 'deploy key', 'fingerprint': fp, 'fingerprint_md5': md5, 'read_only': True}), 'application/json')
    return nb("The authenticity of host 'git.%s.com (203.0.113.%d)' can't be established.\n%s key fingerprint is %s.\n%s key fingerprint is %s.\n"
              % (pick(ORG), R.randint(1, 254), 'ED25519', fp, 'ED25519', md5), 'text/plain')


MASKED = ['sk_live_' + '\u2022' * 20 + 'Xq4f', 'ghp_' + '*' * 36, 'AKIA' + '*' * 12 + 'MPLE', 'xoxb-****-****-****',
          'glpat-' + '*' * 20, '********', '[REDACTED]', '<redacted>', '***REMOVED***', 'sk-...h7Qk', 'sk-ant-api03-\u2026',
          '**** **** **** 4242', 'DE89 **** **** **** **30 00', 'npm_\u2026', 'hf_' + '\u2022' * 12, 'SG.\u2026\u2026', 'eyJ\u2026 (truncated)',
          'postgres://app:****@db.internal:5432/app', 'AIza' + '\u2022' * 10, '\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588']


def n_masked(w):
    m = pick(MASKED)
    if w == 'header':
        return nt(pick(['Authorization: Bearer ********', 'X-Api-Key: ' + '*' * 32, 'Authorization: token ghp_' + '*' * 8,
                        'Cookie: session=[REDACTED]; theme=light', 'X-Vault-Token: hvs.****', 'Authorization: Basic ****']))
    if w == 'url':
        return nt(pick(['https://%s/logs?q=%s' % (api_host(), quote('token=ghp_' + '*' * 36)),
                        'https://%s/settings/keys?display=%s' % (api_host(), quote('sk_live_' + '\u2022' * 8 + '4f2a')),
                        'https://%s/audit?actor=%s&key=%s' % (api_host(), uname(), quote('AKIA' + '*' * 16))]))
    t = R.randrange(4)
    if t == 0:
        return nb(jdump({'name': pick(SVC), 'api_key': m, 'created': iso_ts(), 'last_used': iso_ts()}), 'application/json')
    if t == 1:
        return nb('%s INFO auth ok user=%s token=%s\n' % (iso_ts(), uname(), m), 'text/plain')
    if t == 2:
        return nb('Thanks for the report. I removed the key you pasted (%s) and rotated it on our side.' % m, 'text/plain')
    return nb(jdump({'integrations': [{'type': pick(['stripe', 'slack', 'github']), 'secret': pick(MASKED), 'status': 'active'} for _ in range(2)]}), 'application/json')


PLACEHOLDERS = ['${GITHUB_TOKEN}', '{{ secrets.NPM_TOKEN }}', '<YOUR_API_KEY>', '$(vault kv get -field=token secret/app)',
                '%API_KEY%', '{{ .Values.stripe.secretKey }}', '<insert token here>', 'sk_live_<your_key>', 'ghp_${TOKEN}',
                'xoxb-{{SLACK_BOT_TOKEN}}', 'AKIA<ACCESS_KEY_ID>', '${{ secrets.AWS_SECRET_ACCESS_KEY }}', '<password>',
                '${env:DB_PASSWORD}', '#{OPENAI_API_KEY}', 'sk-<paste-here>', '$TWILIO_AUTH_TOKEN', '{{api_key}}']


def n_placeholder(w):
    p = pick(PLACEHOLDERS)
    if w == 'header':
        return nt(pick(['Authorization: Bearer {{access_token}}', 'X-API-Key: ${API_KEY}', 'Authorization: token <GITHUB_TOKEN>',
                        'x-api-key: <ANTHROPIC_API_KEY>', 'Authorization: Bearer $OPENAI_API_KEY']))
    if w == 'url':
        return nt(pick(['https://%s/v1/data?api_key=%s&units=metric' % (api_host(), quote('<YOUR_API_KEY>')),
                        'https://%s/hook?token=%s' % (api_host(), quote('{{token}}'))]))
    t = R.randrange(5)
    if t == 0:
        return nb('name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n'
                  '      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n', 'application/yaml')
    if t == 1:
        return nb('# copy to .env and fill in\nAPI_KEY=%s\nDATABASE_URL=postgres://user:<password>@localhost:5432/app\nSTRIPE_SECRET_KEY=sk_live_<your_key>\n' % p, 'text/plain')
    if t == 2:
        return nb('services:\n  api:\n    image: %s/api:latest\n    environment:\n      - OPENAI_API_KEY=${OPENAI_API_KEY}\n      - DB_PASSWORD=${DB_PASSWORD:?required}\n' % pick(ORG), 'application/yaml')
    if t == 3:
        return nb(jdump({'config': {'token': p, 'endpoint': 'https://%s/v1' % api_host()}}), 'application/json')
    return nb('curl https://api.%s.com/v1/me \\\n  -H "Authorization: Bearer $API_TOKEN" \\\n  -H "X-Api-Key: %s"\n' % (pick(ORG), p), 'text/plain')


PROSE = [
    'To rotate your API token, open Settings → Developer settings → Personal access tokens and click "Regenerate". The old token stops working immediately.',
    'Never share your password with anyone, including our support staff. We will never ask for it by email or phone.',
    'Tokens expire after 90 days. You will receive an email reminder a week before the expiry date.',
    'Wir empfehlen, Passwörter mit einem Passwort-Manager zu verwalten und API-Schlüssel regelmäßig zu erneuern.',
    'Pour des raisons de sécurité, le jeton d\'accès doit être stocké dans un coffre-fort de secrets, jamais dans le dépôt Git.',
    'Las claves de API deben guardarse en variables de entorno y nunca escribirse directamente en el código.',
    'アクセストークンは定期的に更新し、ソースコードに直接書き込まないでください。',
    'Если вы случайно опубликовали ключ, немедленно отзовите его и создайте новый.',
    'Use short-lived credentials: the CI job requests an OIDC token and exchanges it for a 15-minute cloud role session.',
    'Our password policy requires at least 12 characters. Passphrases made of four random words are encouraged.',
    'The secret scanning alert was a false positive: the string in the test fixture was a UUID, not a key.',
    'Segredos nunca devem ser enviados em canais de chat; use o cofre corporativo para compartilhar credenciais.',
    'Hint: if the bearer token is rejected with 401, check the clock skew on your machine before regenerating it.',
    'La password dell\'account amministratore va cambiata al primo accesso e conservata nel password manager del team.',
    'In the incident review we agreed to move every API key into the secrets manager and enable automatic rotation.',
    '密码和令牌不要写在代码里，统一放到密钥管理服务中。',
]


def n_prose(w):
    s = ' '.join(R.sample(PROSE, R.randint(1, 3)))
    t = R.randrange(4)
    if t == 0:
        return nb(jdump({'title': pick(['Security FAQ', 'How to rotate credentials', 'Onboarding']), 'body': s}), 'application/json')
    if t == 1:
        return nb(s + '\n', 'text/plain; charset=utf-8')
    if t == 2:
        return nb(urlencode([('comment', s), ('article', str(R.randint(100, 999)))]), 'application/x-www-form-urlencoded')
    return nb(jdump({'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': 'Summarise this policy: ' + s}]}), 'application/json')


CODE_REFS = [
    'import os\n\ntoken = os.environ["GITHUB_TOKEN"]\nheaders = {"Authorization": f"Bearer {token}"}\n',
    'const stripe = require("stripe")(process.env.STRIPE_SECRET_KEY);\n',
    'apiKey := os.Getenv("OPENAI_API_KEY")\nif apiKey == "" {\n\tlog.Fatal("OPENAI_API_KEY not set")\n}\n',
    'let key = std::env::var("ANTHROPIC_API_KEY").expect("missing key");\n',
    'String password = System.getenv("DB_PASSWORD");\nDataSource ds = builder.password(password).build();\n',
    'read -rs -p "Password: " PASSWORD\nexport PGPASSWORD="$PASSWORD"\n',
    'import getpass\npwd = getpass.getpass("Vault password: ")\n',
    'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n',
    'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n',
    'spring.datasource.password=${DB_PASSWORD}\nspring.datasource.username=${DB_USER}\n',
    'client = boto3.client("s3")  # credentials come from the instance role\n',
    'SECRET_KEY = env("DJANGO_SECRET_KEY")\nDEBUG = env.bool("DEBUG", default=False)\n',
    'if (!process.env.SLACK_BOT_TOKEN) throw new Error("SLACK_BOT_TOKEN is required");\n',
    'api_key = keyring.get_password("myapp", "api_key")\n',
    '$token = getenv(\'HF_TOKEN\');\n',
    'AWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\nAWS_REGION=eu-west-1\n',
]


def n_code(w):
    s = ''.join(R.sample(CODE_REFS, R.randint(1, 3)))
    t = R.randrange(3)
    if t == 0:
        return nb(s, 'text/plain')
    if t == 1:
        return nb(jdump({'body': 'Config loading looks like this:\n```\n%s```\nIs this the recommended way?' % s}), 'application/json')
    return nb(jdump({'files': {'snippet.txt': {'content': s}}, 'public': True}), 'application/json')


def luhn_bad(n):
    while True:
        d = R.choice('123456789') + rs(n - 1, DIG)
        if not luhn_ok(d):
            return d


def n_luhn_bad(w):
    n = luhn_bad(R.randint(13, 19))
    if w == 'url':
        return nt(pick(['https://%s/track?shipment=%s&carrier=dhl' % (api_host(), n), 'https://%s/meters/%s/readings?month=2024-%02d' % (api_host(), n, R.randint(1, 12))]))
    t = R.randrange(4)
    if t == 0:
        return nb(jdump({'shipment_id': n, 'carrier': pick(['dhl', 'ups', 'gls']), 'weight_kg': R.randint(1, 30)}), 'application/json')
    if t == 1:
        return nb(urlencode([('loyalty_number', n), ('store', str(R.randint(1, 400)))]), 'application/x-www-form-urlencoded')
    if t == 2:
        g = ' '.join(n[i:i + 4] for i in range(0, len(n), 4))
        return nb('Voucher code: %s (not a card number, printed on the gift voucher)\n' % g, 'text/plain')
    return nb('meter_id,reading,ts\n%s,%d,%s\n' % (n, R.randint(1000, 99999), iso_ts()), 'text/csv')


def phone():
    return pick(['+1 (%d) 555-%04d' % (R.randint(201, 989), R.randint(100, 199)), '+1%d555%04d' % (R.randint(201, 989), R.randint(100, 199)),
                 '+44 20 7946 %04d' % R.randint(0, 999), '+49 30 %d' % R.randint(100000, 9999999), '+33 1 %02d %02d %02d %02d' % tuple(R.randint(10, 99) for _ in range(4)),
                 '+81 3-%04d-%04d' % (R.randint(1000, 9999), R.randint(1000, 9999)), '(0%d) %d' % (R.randint(20, 99), R.randint(100000, 999999))])


def n_phone(w):
    p = phone()
    if w == 'url':
        return nt('https://%s/v1/lookup?phone=%s&country=%s' % (api_host(), quote(p, safe=''), pick(['US', 'GB', 'DE', 'FR', 'JP'])))
    t = R.randrange(3)
    if t == 0:
        return nb(jdump({'name': ' '.join(person()).title(), 'phone': p, 'email': email()}), 'application/json')
    if t == 1:
        return nb(urlencode([('phone', p), ('consent_sms', 'yes')]), 'application/x-www-form-urlencoded')
    return nb('Call us at %s or %s, Monday to Friday 9:00-17:00.\n' % (p, phone()), 'text/plain')


def isbn13():
    d = pick(['978', '979']) + rs(9, DIG)
    c = (10 - sum(int(x) * (1 if i % 2 == 0 else 3) for i, x in enumerate(d)) % 10) % 10
    return d + str(c)


def isbn10():
    d = rs(9, DIG)
    c = sum((10 - i) * int(x) for i, x in enumerate(d)) % 11
    c = (11 - c) % 11
    return d + ('X' if c == 10 else str(c))


def n_isbn(w):
    i = isbn13()
    if w == 'url':
        return nt(pick(['https://openlibrary.org/isbn/%s.json' % i, 'https://www.googleapis.com/books/v1/volumes?q=isbn:%s&maxResults=1' % i,
                        'https://%s/books/%s-%s-%s-%s-%s' % (api_host(), i[:3], i[3], i[4:7], i[7:12], i[12])]))
    t = R.randrange(3)
    if t == 0:
        return nb(jdump({'order': [{'isbn': i, 'qty': 2}, {'isbn': isbn13(), 'qty': 1}]}), 'application/json')
    if t == 1:
        return nb('@book{key%d,\n  title = {%s},\n  isbn = {%s},\n  year = {%d}\n}\n' % (R.randint(1, 99), pick(['Designing Data Systems', 'Die Verwandlung', 'Les Misérables']), i, R.randint(1950, 2024)), 'text/plain')
    x = isbn10()
    return nb('ISBN-10: %s-%s-%s-%s\nISBN-13: %s\n' % (x[0], x[1:4], x[4:9], x[9], i), 'text/plain')


def order_no():
    return pick(['ORD-2024-%06d' % R.randint(1, 999999), '%03d-%07d-%07d' % (R.randint(100, 999), R.randint(0, 9999999), R.randint(0, 9999999)),
                 'PO-%05d' % R.randint(1, 99999), 'INV-2024-%04d' % R.randint(1, 9999), '#%d' % R.randint(1001, 99999),
                 '%02d-%05d-%05d' % (R.randint(10, 99), R.randint(0, 99999), R.randint(0, 99999))])


def n_order(w):
    o = order_no()
    if w == 'header':
        return nt('X-Order-Id: %s' % o)
    if w == 'url':
        return nt('https://%s/orders/%s/status?lang=%s' % (api_host(), quote(o, safe=''), pick(['en', 'de', 'fr'])))
    t = R.randrange(3)
    if t == 0:
        return nb(jdump({'order_number': o, 'total': '%d.%02d' % (R.randint(5, 999), R.randint(0, 99)), 'currency': 'EUR'}), 'application/json')
    if t == 1:
        return nb('Hello, I have not received order %s yet. Could you check the shipping status?\n' % o, 'text/plain')
    return nb(urlencode([('order', o), ('reason', 'damaged'), ('refund', 'yes')]), 'application/x-www-form-urlencoded')


def rfc1123():
    return '%s, %02d %s 2024 %02d:%02d:%02d GMT' % (pick(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']), R.randint(1, 28),
                                                    pick(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun']), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


def n_ts(w):
    s = R.randint(1700000000, 1760000000)
    ms = s * 1000 + R.randint(0, 999)
    if w == 'header':
        return nt(pick(['Date: %s', 'If-Modified-Since: %s', 'Last-Modified: %s']) % rfc1123())
    if w == 'url':
        return nt(pick(['https://%s/v1/events?since=%d&until=%d' % (api_host(), s, s + 3600), 'https://%s/metrics?ts=%d&step=60' % (api_host(), ms),
                        'https://%s/logs?from=%s&to=%s' % (api_host(), quote(iso_ts()), quote(iso_ts()))]))
    t = R.randrange(3)
    if t == 0:
        return nb(jdump({'created': s, 'updated_ms': ms, 'expires_at': iso_ts()}), 'application/json')
    if t == 1:
        return nb(''.join('%d %s\n' % (s + i * 60, pick(['ok', 'slow', 'ok'])) for i in range(R.randint(3, 6))), 'text/plain')
    return nb('<event timestamp="%s" epoch="%d"/>\n' % (iso_ts(), s), 'application/xml')


def n_semver(w):
    if w == 'header':
        return nt('User-Agent: %s/%s (%s; build %d)' % (pick(['MyApp', 'Acme-CLI', 'terraform-provider-x']), ver(), pick(['linux; amd64', 'darwin; arm64']), R.randint(100, 9999)))
    if w == 'url':
        n = pick(['react', 'lodash', 'express', 'requests', 'django'])
        v = ver()
        return nt(pick(['https://registry.npmjs.org/%s/%s' % (n, v), 'https://pypi.org/pypi/%s/%s/json' % (n, v),
                        'https://github.com/%s/%s/releases/download/v%s/%s-v%s-x86_64-unknown-linux-gnu.tar.gz' % (pick(ORG), n, v, n, v)]))
    t = R.randrange(3)
    if t == 0:
        deps = dict((n, '^' + ver()) for n in R.sample(['react', 'react-dom', 'next', 'zod', 'axios', 'dayjs'], 4))
        return nb(jdump({'name': pick(SVC), 'version': ver(), 'dependencies': deps}, 2), 'application/json')
    if t == 1:
        return nb(''.join('%s==%s\n' % (n, ver()) for n in R.sample(['requests', 'flask', 'numpy', 'pydantic', 'httpx', 'rich'], 4)), 'text/plain')
    return nb('[dependencies]\n' + ''.join('%s = "%s"\n' % (n, ver()) for n in R.sample(['serde', 'tokio', 'clap', 'tracing'], 3)), 'application/toml')


def mac():
    b = [R.randint(0, 255) for _ in range(6)]
    b[0] &= 0xfe
    s = R.randrange(3)
    if s == 0:
        return ':'.join('%02X' % x for x in b)
    if s == 1:
        return '-'.join('%02x' % x for x in b)
    return '%02x%02x.%02x%02x.%02x%02x' % tuple(b)


def n_mac(w):
    m = mac()
    if w == 'url':
        return nt('https://%s/api/devices?mac=%s&site=%s' % (api_host(), quote(m, safe=''), pick(['hq', 'berlin', 'lab'])))
    t = R.randrange(3)
    if t == 0:
        return nb(jdump({'device': 'printer-%d' % R.randint(1, 40), 'mac': m, 'ip': '192.168.%d.%d' % (R.randint(0, 9), R.randint(2, 254))}), 'application/json')
    if t == 1:
        return nb('%s dhcpd: DHCPACK on 10.0.%d.%d to %s via eth0\n' % (iso_ts(), R.randint(0, 9), R.randint(2, 254), m), 'text/plain')
    return nb('Interface  MAC Address        State\neth0       %s  up\nwlan0      %s  down\n' % (mac(), mac()), 'text/plain')


def ipv4():
    return '%d.%d.%d.%d' % (pick([10, 172, 192, 203, 198, 8, 34, 52]), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))


def ipv6():
    return '2001:db8:%x:%x::%x' % (R.randint(0, 0xffff), R.randint(0, 0xffff), R.randint(1, 0xffff))


def n_ip(w):
    if w == 'hostname':
        a = [R.randint(1, 223), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254)]
        return nt(pick(['%d-%d-%d-%d.sslip.io' % tuple(a), 'ip-10-%d-%d-%d.%s.compute.internal' % (a[1], a[2], a[3], pick(REGIONS))]))
    if w == 'header':
        return nt(pick(['X-Forwarded-For: %s, %s' % (ipv4(), ipv4()), 'X-Real-IP: %s' % ipv4(), 'Forwarded: for="[%s]";proto=https' % ipv6()]))
    if w == 'url':
        return nt(pick(['https://ipinfo.io/%s/json' % ipv4(), 'https://%s/v1/geo?ip=%s' % (api_host(), quote(ipv6(), safe=''))]))
    t = R.randrange(2)
    if t == 0:
        return nb(jdump({'allowlist': [ipv4() + '/32', ipv4() + '/24', ipv6() + '/64']}), 'application/json')
    return nb('%s - - [01/May/2024:12:%02d:%02d +0000] "GET /health HTTP/1.1" 200 2 "-" "kube-probe/1.29"\n' % (ipv4(), R.randint(0, 59), R.randint(0, 59)), 'text/plain')


def long_host():
    reg = pick(REGIONS)
    n = pick(SVC)
    o = pick(ORG)
    t = R.randrange(22)
    return [
        lambda: '%s-%s-%s.%s.elb.amazonaws.com' % (n, pick(['prod', 'stg']), rdig(10), reg),
        lambda: 'internal-%s-alb-%s.%s.elb.amazonaws.com' % (n, rdig(9), reg),
        lambda: '%s-nlb-%s.elb.%s.amazonaws.com' % (n, rs(16, HEX), reg),
        lambda: 'd%s.cloudfront.net' % rs(13, LOWDIG),
        lambda: '%s.execute-api.%s.amazonaws.com' % (rs(10, LOWDIG), reg),
        lambda: '%s-%s-%s.a.run.app' % (n, rs(10, LOWDIG), pick(['uc', 'ew', 'an', 'ue'])),
        lambda: '%s%s.blob.core.windows.net' % (o, rs(4, LOWDIG)),
        lambda: '%s-%s-%s.%s-01.azurewebsites.net' % (o, n, rs(16, LOWDIG), pick(['westeurope', 'eastus', 'canadacentral'])),
        lambda: 'e%d.a.akamaiedge.net' % R.randint(1000, 99999),
        lambda: '%s.%s.com.edgekey.net' % (pick(['www', 'shop', 'static']), o),
        lambda: 'r%d---sn-%s.googlevideo.com' % (R.randint(1, 9), rs(8, LOWDIG)),
        lambda: '%s-db.%s.%s.rds.amazonaws.com' % (n, rs(12, LOWDIG), reg),
        lambda: '%s.%s.ng.0001.%s.cache.amazonaws.com' % (n, rs(6, LOWDIG), pick(['use1', 'euw1', 'apse2'])),
        lambda: '%s-%s.s3.dualstack.%s.amazonaws.com' % (o, n, reg),
        lambda: 'bedrock-runtime.%s.amazonaws.com' % reg,
        lambda: '%s-aiplatform.googleapis.com' % pick(['europe-west4', 'us-central1', 'asia-northeast1']),
        lambda: '%s.api.cognitive.microsoft.com' % pick(['westeurope', 'eastus2', 'japaneast']),
        lambda: '%s-%s.herokuapp.com' % (n, rs(12, HEX)),
        lambda: '%s-%s-%s.vercel.app' % (n, rs(9, LOWDIG), o),
        lambda: '%s-%s-%s-%s-8080.app.github.dev' % (uname().replace('.', '-').replace('_', '-'), pick(['fuzzy', 'silent', 'brave']), pick(['space', 'robot', 'garden']), rs(13, LOWDIG)),
        lambda: pick(['xn--mnchen-3ya.de', 'xn--bcher-kva.example', 'www.xn--fiqs8s.xn--55qx5d', 'xn--80ak6aa92e.com']),
        lambda: '%s.%s.global.ssl.fastly.net' % (n, o),
    ][t]()


def n_longhost(w):
    h = long_host()
    if w == 'url':
        return nt('https://%s/%s' % (h, pick(['health', 'v1/status', 'index.html', 'api/ping?probe=1'])))
    return nt(h)


def n_deploy(w):
    s = pick(SVC) + '-' + pick(ORG)
    t = R.randrange(4)
    h = ['%s--%s.netlify.app' % (rs(24, HEX), s), '%s.%s.pages.dev' % (rs(8, HEX), s),
         '%s-pr-%d.onrender.com' % (s, R.randint(1, 999)), '%s--pr%d-%s-%s.web.app' % (s, R.randint(1, 999), pick(['main', 'fix-login']), rs(8, LOWDIG))][t]
    if w == 'url':
        return nt('https://%s/' % h)
    return nt(h)


def n_tracking(w):
    gid = 'G-' + rs(10, UP + DIG)
    if w == 'header':
        return nt(pick(['Cookie: _ga=GA1.1.%d.%d; _ga_%s=GS1.1.%d.3.1.%d.0.0.0' % (R.randint(10 ** 8, 10 ** 10), R.randint(1700000000, 1760000000), rs(10, UP + DIG), R.randint(1700000000, 1760000000), R.randint(1700000000, 1760000000)),
                        'Cookie: _gcl_au=1.1.%d.%d; _fbp=fb.1.%d.%d' % (R.randint(10 ** 8, 10 ** 10), R.randint(1700000000, 1760000000), R.randint(10 ** 12, 10 ** 13), R.randint(10 ** 8, 10 ** 10)),
                        'X-Amplitude-Device-Id: %s' % uuid_any(4), 'Cookie: ajs_anonymous_id=%s; _hjSessionUser_%d=%s' % (uuid_any(4), R.randint(10 ** 6, 10 ** 7), b64e(json.dumps({'id': rs(16, HEX), 'created': R.randint(10 ** 12, 2 * 10 ** 12)})))]))
    if w == 'url':
        return nt(pick(['https://www.google-analytics.com/g/collect?v=2&tid=%s&gtm=45je%s&_p=%d&cid=%d.%d&ul=en-us&sr=1920x1080&en=page_view' % (gid, rs(6, LOWDIG), R.randint(10 ** 8, 10 ** 9), R.randint(10 ** 8, 10 ** 10), R.randint(1700000000, 1760000000)),
                        'https://shop.%s.com/products/%s?fbclid=IwAR%s' % (pick(ORG), pick(['tee', 'mug', 'cap']), rs(58, URLTOK)),
                        'https://www.%s.com/landing?gclid=Cj0KCQjw%s_BwE&utm_source=google&utm_medium=cpc' % (pick(ORG), rs(70, URLTOK)),
                        'https://www.facebook.com/tr/?id=%d&ev=PageView&dl=%s&rl=&if=false&ts=%d' % (R.randint(10 ** 14, 10 ** 15), quote('https://%s.com/' % pick(ORG), safe=''), R.randint(10 ** 12, 2 * 10 ** 12)),
                        'https://%s.com/?utm_source=newsletter&utm_medium=email&utm_campaign=%s&mc_cid=%s&mc_eid=%s' % (pick(ORG), pick(['spring_sale', 'launch']), rs(10, HEX), rs(10, HEX)),
                        'https://bat.bing.com/action/0?ti=%d&Ver=2&mid=%s&evt=pageLoad' % (R.randint(10 ** 6, 10 ** 7), uuid_any(4))]))
    t = R.randrange(2)
    if t == 0:
        return nb(jdump({'anonymousId': uuid_any(4), 'event': pick(['Product Viewed', 'Checkout Started']), 'properties': {'sku': 'SKU-%d' % R.randint(100, 999)}, 'timestamp': iso_ts()}), 'application/json')
    return nb(jdump({'client_id': '%d.%d' % (R.randint(10 ** 8, 10 ** 10), R.randint(1700000000, 1760000000)), 'events': [{'name': 'page_view', 'params': {'page_location': 'https://%s.com/' % pick(ORG)}}]}), 'application/json')


def n_apiurl(w):
    t = R.randrange(8)
    return nt([
        lambda: 'https://www.googleapis.com/books/v1/volumes?q=%s&maxResults=20&startIndex=%d&orderBy=relevance&printType=books&langRestrict=%s' % (quote_plus(pick(['distributed systems', 'kafka', 'le petit prince'])), R.randint(0, 200), pick(['en', 'fr'])),
        lambda: 'https://api.github.com/repos/%s/%s/issues?state=open&labels=bug,help%%20wanted&sort=updated&direction=desc&per_page=100&page=%d' % (pick(ORG), pick(SVC), R.randint(1, 9)),
        lambda: 'https://nominatim.openstreetmap.org/search?q=%s&format=jsonv2&addressdetails=1&limit=5&accept-language=%s' % (quote_plus(pick(['Marienplatz München', 'Rue de Rivoli Paris', 'Shibuya Tokyo'])), pick(['de', 'fr', 'ja'])),
        lambda: 'https://shop.%s.com/search?q=running+shoes&size=%d&color=%s&sort=price_asc&page=%d&utm_source=newsletter&utm_medium=email' % (pick(ORG), R.randint(36, 46), pick(['blue', 'black']), R.randint(1, 5)),
        lambda: 'https://api.open-meteo.com/v1/forecast?latitude=%.4f&longitude=%.4f&hourly=temperature_2m,precipitation&timezone=Europe%%2FBerlin&forecast_days=7' % (R.uniform(35, 60), R.uniform(-10, 30)),
        lambda: 'https://%s/v2/products?filter%%5Bcategory%%5D=%s&filter%%5Bprice%%5D%%5Bgte%%5D=%d&include=variants,images&fields%%5Bproducts%%5D=name,price&page%%5Bsize%%5D=50&page%%5Bnumber%%5D=%d' % (api_host(), pick(['shoes', 'books']), R.randint(0, 50), R.randint(1, 9)),
        lambda: 'https://%s/api/v1/query_range?query=%s&start=%d&end=%d&step=30s' % ('prometheus.%s.internal' % pick(ORG), quote('sum(rate(http_requests_total{job="%s"}[5m]))' % pick(SVC), safe=''), R.randint(1700000000, 1750000000), R.randint(1750000000, 1760000000)),
        lambda: 'https://%s/search?q=%s&hl=%s&num=20&start=%d&safe=active' % ('www.%s.%s' % (pick(ORG), pick(TLD)), quote_plus(pick(['wetter morgen', 'recette crêpes', 'python asyncio timeout'])), pick(['de', 'fr', 'en']), R.randint(0, 40)),
    ][t]())


def n_header(w):
    t = R.randrange(20)
    return nt([
        lambda: 'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36' % R.randint(118, 131),
        lambda: 'User-Agent: %s' % pick(['curl/8.5.0', 'python-requests/2.32.3', 'okhttp/4.12.0', 'Go-http-client/2.0', 'aws-sdk-js/3.600.0']),
        lambda: 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
        lambda: 'Accept-Language: %s' % pick(['de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7', 'fr-FR,fr;q=0.9', 'ja,en-US;q=0.9,en;q=0.8']),
        lambda: 'ETag: "%s"' % sha_hex(40),
        lambda: 'If-None-Match: W/"%x-%s"' % (R.randint(100, 99999), rs(27, URLTOK)),
        lambda: 'X-Request-Id: %s' % uuid_any(4),
        lambda: 'X-Amzn-Trace-Id: Root=1-%08x-%s' % (R.randint(1700000000, 1760000000), rs(24, HEX)),
        lambda: 'traceparent: 00-%s-%s-01' % (rs(32, HEX), rs(16, HEX)),
        lambda: 'sec-ch-ua: "Chromium";v="%d", "Not_A Brand";v="24", "Google Chrome";v="%d"' % ((R.randint(120, 131),) * 2),
        lambda: 'Referer: https://www.%s.com/%s?ref=nav' % (pick(ORG), pick(['pricing', 'docs/getting-started', 'blog'])),
        lambda: 'X-GitHub-Request-Id: %s:%s:%s:%s:%s' % (rs(4, HEXU), rs(4, HEXU), rs(6, HEXU), rs(6, HEXU), rs(8, HEXU)),
        lambda: 'CF-Ray: %s-%s' % (rs(16, HEX), pick(['FRA', 'AMS', 'CDG', 'NRT', 'IAD'])),
        lambda: 'Cache-Control: no-cache, no-store, max-age=0, must-revalidate',
        lambda: 'Content-Type: multipart/form-data; boundary=----WebKitFormBoundary%s' % rs(16),
        lambda: 'X-Datadog-Trace-Id: %d' % R.randint(10 ** 17, 9 * 10 ** 18),
        lambda: 'Accept-Encoding: gzip, deflate, br, zstd',
        lambda: 'Origin: https://app.%s.%s' % (pick(ORG), pick(TLD)),
        lambda: 'X-Cloud-Trace-Context: %s/%d;o=1' % (rs(32, HEX), R.randint(10 ** 15, 10 ** 19)),
        lambda: 'Range: bytes=%d-%d' % (R.randint(0, 10 ** 6), R.randint(10 ** 6, 10 ** 7)),
    ][t]())


BENIGN_TEXTS = [
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.',
    'Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.',
    'Der Zug nach Hamburg fährt heute ausnahmsweise von Gleis 7 ab. Wir bitten um Ihr Verständnis.',
    'La réunion de jeudi est déplacée à 14 h ; merci de confirmer votre présence avant mercredi soir.',
    'El pedido llegará entre el lunes y el miércoles. Te enviaremos un aviso cuando salga del almacén.',
    '本日の会議は15時から第3会議室で行います。資料は事前に共有します。',
    'Завтра ожидается дождь, не забудьте взять зонт.',
    'Great product, the battery easily lasts two days. Shipping took a bit longer than expected though.',
    'Preheat the oven to 200°C, mix flour, sugar and butter, then bake for 25 minutes until golden.',
    'Il concerto inizia alle 21:00; le porte aprono un\'ora prima.',
    'De vergadering is verplaatst naar dinsdag om 10 uur.',
    'Release notes: improved startup time, fixed a crash when the cache directory is missing, updated translations.',
    '今天天气很好，我们下午去公园散步吧。',
    'O relatório trimestral mostra um crescimento de 12% nas vendas online.',
]


def n_text(w):
    s = ' '.join(R.sample(BENIGN_TEXTS, R.randint(1, 4)))
    t = R.randrange(4)
    if t == 0:
        return nb(s + '\n', 'text/plain; charset=utf-8')
    if t == 1:
        return nb(jdump({'comment': s, 'rating': R.randint(1, 5), 'author': uname()}), 'application/json')
    if t == 2:
        return nb(urlencode([('message', s), ('name', ' '.join(person()).title())]), 'application/x-www-form-urlencoded')
    return nb('<p>%s</p>\n' % xml_escape(s), 'text/html')


def n_compressed(w):
    t = R.randrange(4)
    if t == 0:
        txt, ct = jdump({'events': [{'name': pick(['click', 'scroll', 'view']), 'ts': iso_ts(), 'session': uuid_any(4)} for _ in range(R.randint(5, 15))]}), 'application/json'
    elif t == 1:
        txt, ct = ''.join('%s INFO [%s] request completed status=200 duration_ms=%d path=/api/v1/%s\n' % (iso_ts(), pick(SVC), R.randint(2, 900), pick(SVC)) for _ in range(R.randint(8, 20))), 'text/plain'
    elif t == 2:
        txt, ct = 'sku,name,price\n' + ''.join('SKU-%d,%s %s,%d.%02d\n' % (R.randint(1000, 9999), pick(['Blue', 'Red', 'Large']), pick(['Mug', 'Shirt', 'Lamp']), R.randint(1, 99), R.randint(0, 99)) for _ in range(R.randint(10, 30))), 'text/csv'
    else:
        txt, ct = '<html><body>' + ''.join('<p>%s</p>' % x for x in R.sample(BENIGN_TEXTS, 5)) + '</body></html>', 'text/html'
    raw = txt.encode('utf-8')
    if chance(0.5):
        return {'content_type': ct, 'content_encoding': 'gzip', 'base64': b64e(gzip.compress(raw, 9, mtime=0))}
    return {'content_type': ct, 'content_encoding': 'deflate', 'base64': b64e(zlib.compress(raw, 9))}


def iban_lookalike():
    t = R.randrange(4)
    if t == 0:                                   # far too short for any IBAN country
        return 'DE%02d %s %s' % (R.randint(10, 99), rs(4, DIG), rs(4, DIG))
    if t == 1:                                   # not an IBAN country, check digits 00
        return '%s00 %s %s %s %s' % (pick(['US', 'CN', 'XX', 'ZZ']), rs(4, DIG), rs(4, DIG), rs(4, DIG), rs(4, DIG))
    if t == 2:                                   # BIC / SWIFT code, not an account number
        return pick(['DEUTDEFFXXX', 'COBADEFFXXX', 'BNPAFRPPXXX', 'INGBNL2A', 'UBSWCHZH80A'])
    return 'Kontonummer %s, BLZ %s %s %s' % (rs(7, DIG), rs(3, DIG), rs(3, DIG), rs(2, DIG))


def n_iban_look(w):
    s = iban_lookalike()
    if w == 'url':
        return nt('https://%s/banks/lookup?code=%s' % (api_host(), quote_plus(s)))
    if chance(0.5):
        return nb(jdump({'reference': s, 'note': 'see attached statement'}), 'application/json')
    return nb('Bank details: %s (please ask accounting for the full IBAN)\n' % s, 'text/plain')


def btc_lookalike():
    t = R.randrange(3)
    if t == 0:
        return '1' + rs(16, B58) + pick(['0O', 'Il', 'O0', 'lI']) + rs(15, B58)
    if t == 1:
        return 'bc1q' + rs(20, BECH) + 'bio' + rs(15, BECH)
    return '1' + rs(R.randint(8, 14), B58)


def n_btc_look(w):
    s = btc_lookalike()
    if w == 'url':
        return nt('https://%s/validate?address=%s&result=invalid' % (api_host(), s))
    return nb(jdump({'input': s, 'valid': False, 'error': 'invalid character or length'}), 'application/json')


def n_txhash(w):
    h = '0x' + sha_hex(64)
    if w == 'url':
        return nt(pick(['https://etherscan.io/tx/%s' % h, 'https://basescan.org/tx/%s' % h, 'https://blockstream.info/tx/%s' % sha_hex(64),
                        'https://etherscan.io/block/%d' % R.randint(10 ** 7, 3 * 10 ** 7)]))
    return nb(jdump({'jsonrpc': '2.0', 'id': 1, 'method': 'eth_getTransactionReceipt', 'params': [h]}), 'application/json')


def n_b64doc(w):
    t = R.randrange(3)
    if t == 0:
        pdf = ('%%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n'
               '3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]>> endobj\n'
               '%% Invoice %d, %s, total EUR %d.%02d\ntrailer <</Root 1 0 R>>\n%%%%EOF\n'
               % (R.randint(1000, 9999), ' '.join(person()).title(), R.randint(10, 999), R.randint(0, 99)))
        return nb(jdump({'filename': 'invoice-%d.pdf' % R.randint(1000, 9999), 'mime': 'application/pdf', 'content': b64e(pdf)}), 'application/json')
    if t == 1:
        return nb(jdump({'attachments': [{'name': 'notes.txt', 'data': b64e(' '.join(R.sample(BENIGN_TEXTS, 3)))}]}), 'application/json')
    bnd = '=_Part_%d' % R.randint(10 ** 5, 10 ** 6)
    data = b64e('\n'.join(R.sample(BENIGN_TEXTS, 4)).encode())
    data = '\r\n'.join(data[i:i + 76] for i in range(0, len(data), 76))
    return nb('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n'
              'Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n' % (bnd, bnd, data, bnd), 'message/rfc822')


NEG_PLAN = [
    ('uuid', n_uuid, 6, 5, 4, 1), ('git-sha', n_git_sha, 6, 6, 2, 0), ('hash-digest', n_hash, 7, 3, 4, 0),
    ('content-hashed-asset', n_asset, 5, 9, 0, 0), ('cloud-document-id', n_cloud_doc, 5, 9, 0, 0),
    ('base64-image', n_image, 10, 0, 0, 0), ('pagination-cursor', n_cursor, 4, 7, 1, 0),
    ('public-object-id', n_pubid, 8, 5, 1, 0), ('sri-integrity', n_sri, 9, 0, 0, 0),
    ('ssh-public-key', n_sshpk, 8, 0, 0, 0), ('ssh-fingerprint', n_sshfp, 6, 0, 0, 0),
    ('masked-secret', n_masked, 9, 2, 6, 0), ('placeholder', n_placeholder, 10, 2, 5, 0),
    ('prose-about-secrets', n_prose, 11, 0, 0, 0), ('code-secret-reference', n_code, 12, 0, 0, 0),
    ('luhn-invalid-number', n_luhn_bad, 8, 2, 0, 0), ('phone-number', n_phone, 7, 3, 0, 0),
    ('isbn', n_isbn, 4, 4, 0, 0), ('order-number', n_order, 6, 3, 1, 0), ('timestamp', n_ts, 4, 3, 3, 0),
    ('semver', n_semver, 5, 2, 1, 0), ('mac-address', n_mac, 6, 2, 0, 0), ('ip-address', n_ip, 4, 2, 2, 2),
    ('long-hostname', n_longhost, 0, 2, 0, 32), ('deploy-preview-hostname', n_deploy, 0, 1, 0, 5),
    ('tracking-id', n_tracking, 3, 6, 4, 0), ('ordinary-api-url', n_apiurl, 0, 16, 0, 0),
    ('ordinary-header', n_header, 0, 0, 26, 0), ('compressed-benign', n_compressed, 10, 0, 0, 0),
    ('ordinary-text', n_text, 12, 0, 0, 0), ('iban-lookalike', n_iban_look, 6, 2, 0, 0),
    ('bitcoin-lookalike', n_btc_look, 4, 2, 0, 0), ('tx-hash', n_txhash, 2, 4, 0, 0),
    ('base64-document', n_b64doc, 6, 0, 0, 0),
]


# ---------------------------------------------------------------------------
# decoding views (used to verify positives and to scan negatives)
# ---------------------------------------------------------------------------
B64_CAND = re.compile(r'[A-Za-z0-9+/_-]{16,}={0,2}')
HEX_CAND = re.compile(r'(?:[0-9a-fA-F]{2}){8,}')
JSTR = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def _printable(s):
    if not s:
        return False
    good = sum(1 for c in s if c.isprintable() or c in '\r\n\t')
    return good / len(s) > 0.9


def _bytes_to_text(b):
    for fn in (gzip.decompress, zlib.decompress):
        try:
            b = fn(b)
            break
        except Exception:
            pass
    try:
        return b.decode('utf-8')
    except UnicodeDecodeError:
        return None


def _b64_variants(m):
    s = m.rstrip('=')
    out = []
    for alt in {s, s.replace('-', '+').replace('_', '/')}:
        if '-' in alt or '_' in alt:
            continue
        try:
            out.append(base64.b64decode(alt + '=' * (-len(alt) % 4), validate=True))
        except Exception:
            pass
    return out


def _json_unescape(text):
    js = []
    for m in JSTR.findall(text):
        if '\\' in m:
            try:
                js.append(json.loads('"%s"' % m))
            except Exception:
                pass
    return '\n'.join(js)


def _qp(text):
    try:
        return quopri.decodestring(text.replace('\r\n', '\n').encode('utf-8')).decode('utf-8', 'replace')
    except Exception:
        return text


SURFACE_FNS = (unquote, unquote_plus, _qp, _json_unescape)


def _surface(text):
    res = [text]
    frontier = [text]
    for _round in range(3):
        nxt = []
        for v in frontier:
            for f in SURFACE_FNS:
                o = f(v)
                if o and o not in res and len(res) < 40:
                    res.append(o)
                    nxt.append(o)
        frontier = nxt
    return res


def views(text, depth=2):
    res = _surface(text)
    if depth > 0:
        extra = []
        done = set()
        for v in list(res):
            for m in B64_CAND.findall(v):
                if m in done:
                    continue
                done.add(m)
                for b in _b64_variants(m):
                    t = _bytes_to_text(b)
                    if t and _printable(t):
                        extra.extend(views(t, depth - 1))
            for m in HEX_CAND.findall(v):
                if ('hex', m) in done:
                    continue
                done.add(('hex', m))
                t = _bytes_to_text(bytes.fromhex(m))
                if t and _printable(t):
                    extra.extend(views(t, depth - 1))
        res += extra
    return res


def case_content(c):
    if 'text' in c:
        return c['text']
    raw = base64.b64decode(c['base64'], validate=True)
    ce = c.get('content_encoding')
    if ce == 'gzip':
        assert raw[:2] == b'\x1f\x8b', 'gzip magic'
        raw = gzip.decompress(raw)
    elif ce == 'deflate':
        raw = zlib.decompress(raw)          # zlib-wrapped (RFC 1950); raises otherwise
    return raw.decode('utf-8', 'replace')


# ---------------------------------------------------------------------------
# scanners
# ---------------------------------------------------------------------------
CARD_RUN = re.compile(r'(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)')
IBAN_RUN = re.compile(r'(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}')
B58_RUN = re.compile(r'(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])')
BECH_RUN = re.compile(r'(?i)(?<![A-Za-z0-9])(?:bc|tb)1[02-9ac-hj-np-z]{6,87}(?![A-Za-z0-9])')
ETH_RUN = re.compile(r'(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])')
VENDOR_RES = [re.compile(p) for p in [
    r'(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,}', r'github_pat_[A-Za-z0-9_]{20,}',
    r'(?<![A-Za-z0-9])gl(?:pat|dt|rt|ptt|ft|soat|cbt|oas|imt|agent)-[A-Za-z0-9_-]{15,}', r'GR1348941[A-Za-z0-9_-]{10,}',
    r'(?<![A-Za-z0-9])xox[abposer]-[A-Za-z0-9-]{10,}', r'(?<![A-Za-z0-9])xapp-\d-[A-Za-z0-9-]{10,}',
    r'hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+',
    r'(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{10,}',
    r'(?<![A-Za-z0-9])sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}',
    r'(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])', r'AIza[A-Za-z0-9_-]{30,}',
    r'(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}', r'(?<![A-Za-z0-9])npm_[A-Za-z0-9]{30,}',
    r'pypi-AgE[A-Za-z0-9_-]{20,}', r'(?<![A-Za-z0-9])(?:hf|api_org)_[A-Za-z]{30,}', r'dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}',
    r'(?<![A-Za-z0-9])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{20,}', r'(?<![A-Za-z0-9])do[opr]_v1_[a-f0-9]{20,}',
    r'(?<![A-Za-z0-9])(?:AC|SK)[0-9a-f]{32}(?![0-9a-f])', r'(?<![A-Za-z0-9])key-[0-9a-f]{32}',
    r'(?<![A-Za-z0-9])hv[sbr]\.[A-Za-z0-9_-]{20,}', r'AccountKey=[A-Za-z0-9+/]{20,}', r'SharedAccessKey=[A-Za-z0-9+/]{20,}',
    r'[?&;]sig=[A-Za-z0-9%+/]{20,}', r'discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}',
    r'(?<!\d)\d{6,10}:AA[A-Za-z0-9_-]{30,}', r'(?<![A-Za-z0-9])EAAA[A-Za-z0-9_-]{40,}', r'sq0(?:atp|csp)-[A-Za-z0-9_-]{15,}',
    r'GOCSPX-[A-Za-z0-9_-]{10,}', r'PMAK-[0-9a-f]{10,}', r'eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.',
    r'(?<![A-Za-z0-9])ya29\.[A-Za-z0-9_-]{20,}', r'(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}', r'T3BlbkFJ',
    r'(?<![A-Za-z0-9])[MNO][A-Za-z0-9]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}',
]]
BASIC_RE = re.compile(r'(?i)\bbasic\s+([A-Za-z0-9+/]{8,}={0,2})')
URLPW_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://([^/\s:@"\'<>]+):([^/\s@"\'<>]+)@')
FIELD_RE = re.compile(r'(?i)(?<![A-Za-z0-9_-])(password|passwd|pwd|secret|client_secret|api_key|apikey|api-key|access_token|auth_token|token)'
                      r'["\']?\s*[:=]\s*["\']?([A-Za-z0-9+/_\-!@^*.?~]{12,})')


def card_candidates(s):
    for m in CARD_RUN.finditer(s):
        d = re.sub(r'\D', '', m.group())
        if 13 <= len(d) <= 19:
            yield d


def iban_candidates(s):
    for m in IBAN_RUN.finditer(s):
        comp = m.group().replace(' ', '')
        for L in range(15, min(34, len(comp)) + 1):
            if iban_ok(comp[:L]):
                yield comp[:L]


def btc_candidates(s):
    for m in B58_RUN.finditer(s):
        if b58check_ok(m.group()):
            yield m.group()
    for m in BECH_RUN.finditer(s):
        if segwit_ok(m.group()):
            yield m.group()


def host_label_issues(h):
    out = []
    for lab in h.split('.'):
        l = lab.lower()
        if len(l) >= 16 and re.fullmatch(r'[a-z2-7]+', l) and re.search(r'[2-7]', l):
            out.append('base32-label:' + lab)
        if len(l) >= 24 and re.fullmatch(r'[0-9a-f]+', l):
            out.append('hex-label:' + lab)
    return out


def scan_text(s):
    issues = []
    for d in card_candidates(s):
        if luhn_ok(d):
            issues.append('luhn-valid:' + d)
    for i in iban_candidates(s):
        issues.append('iban:' + i)
    for a in btc_candidates(s):
        issues.append('btc:' + a)
    for m in ETH_RUN.finditer(s):
        issues.append('eth:' + m.group())
    for r in VENDOR_RES:
        m = r.search(s)
        if m:
            issues.append('vendor:' + m.group()[:40])
    for m in BASIC_RE.finditer(s):
        for b in _b64_variants(m.group(1)):
            t = _bytes_to_text(b)
            if t and _printable(t) and ':' in t:
                issues.append('basic:' + m.group()[:40])
    for m in URLPW_RE.finditer(s):
        pw = m.group(2)
        if re.search(r'[A-Za-z0-9]', pw) and not re.search(r'[${<*]|%7B|%3C|%2A', pw):
            issues.append('url-password:' + m.group()[:50])
    for m in FIELD_RE.finditer(s):
        v = m.group(2)
        if re.search(r'\d', v) and re.search(r'[A-Za-z]', v):
            issues.append('named-field:' + m.group()[:50])
    return issues


def scan_negative(c):
    content = case_content(c)
    issues = []
    seen = set()
    for v in views(content):
        if v in seen:
            continue
        seen.add(v)
        issues += scan_text(v)
    if c['where'] == 'hostname':
        issues += host_label_issues(content)
    elif c['where'] == 'url':
        issues += host_label_issues(urlsplit(content).hostname or '')
    return sorted(set(issues))


# ---------------------------------------------------------------------------
# structural checks
# ---------------------------------------------------------------------------
ALLOWED = {'id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64'}
WHERES = ['body', 'url', 'header', 'hostname']
LABEL_RE = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
HEADER_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: \S(?:[^\r\n]*\S)?$")
URL_CHARS = set(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:/?#@%")
KEBAB = re.compile(r'^[a-z0-9]+(?:-[a-z0-9]+)*$')


def host_ok(h):
    if not h or len(h) > 253 or h.endswith('.'):
        return False
    labs = h.split('.')
    return len(labs) >= 2 and all(LABEL_RE.match(l) for l in labs) and not labs[-1].isdigit()


def url_ok(u):
    if not u.isascii() or any(ch not in URL_CHARS for ch in u):
        return False
    if re.search(r'%(?![0-9A-Fa-f]{2})', u):
        return False
    p = urlsplit(u)
    try:
        p.port
    except ValueError:
        return False
    return p.scheme in ('http', 'https') and host_ok(p.hostname or '')


def struct_issues(c):
    out = []
    extra = set(c) - ALLOWED - {'_find'}
    if extra:
        out.append('keys:%s' % extra)
    if ('text' in c) == ('base64' in c):
        out.append('text/base64')
    if c.get('label') not in ('positive', 'negative'):
        out.append('label')
    if not KEBAB.match(c.get('expect', '')):
        out.append('expect')
    w = c.get('where')
    if w not in WHERES:
        out.append('where')
    if 'content_encoding' in c and ('base64' not in c or c['content_encoding'] not in ('gzip', 'deflate')):
        out.append('content_encoding')
    try:
        content = case_content(c)
    except Exception as e:           # noqa
        return out + ['decode:%s' % e]
    if not content.strip():
        out.append('empty')
    if w == 'url' and ('text' not in c or not url_ok(content)):
        out.append('bad-url')
    if w == 'hostname' and ('text' not in c or not host_ok(content)):
        out.append('bad-hostname')
    if w == 'header' and ('text' not in c or not content.isascii() or not HEADER_RE.match(content)):
        out.append('bad-header')
    if w != 'body' and 'content_type' in c:
        out.append('content_type-on-non-body')
    return out


def checksum_issues(c):
    """For the classes whose validity is claimed, re-derive it from the line itself."""
    e = c['expect']
    if e not in ('payment-card', 'iban', 'bitcoin-address', 'ethereum-address'):
        return []
    V = views(case_content(c))
    if e == 'payment-card':
        ok = any(luhn_ok(d) for v in V for d in card_candidates(v))
    elif e == 'iban':
        ok = any(True for v in V for _ in iban_candidates(v))
    elif e == 'bitcoin-address':
        ok = any(True for v in V for _ in btc_candidates(v))
    else:
        addrs = [m.group() for v in V for m in ETH_RUN.finditer(v)]
        ok = bool(addrs) and all(eip55_ok(a) for a in addrs)
    return [] if ok else ['checksum:' + e]


def verify_finds(c):
    V = views(case_content(c))
    miss = [f for f in c['_find'] if not any(f in v for v in V)]
    if miss or not c['_find']:
        raise AssertionError('positive %s/%s lost its secret %r in %r' % (c['expect'], c['where'], miss, c.get('text', c.get('base64'))[:300]))


def case_key(c):
    return (c['where'], c.get('text') or c.get('base64'))


# ---------------------------------------------------------------------------
# build, write, check
# ---------------------------------------------------------------------------
def build():
    selftest()
    seen = set()
    pos = []
    for cls, fn, *counts in POS_PLAN:
        for where, n in zip(WHERES, counts):
            for _ in range(n):
                for _try in range(50):
                    c = fn(where)
                    if case_key(c) not in seen:
                        break
                seen.add(case_key(c))
                assert c['expect'] == cls and c['where'] == where, (cls, where, c['expect'])
                si = struct_issues(c) + checksum_issues(c)
                if si:
                    raise AssertionError('%s/%s: %s %r' % (cls, where, si, c.get('text', '')[:200]))
                verify_finds(c)
                pos.append(c)
    neg = []
    rejected = Counter()
    for cat, fn, *counts in NEG_PLAN:
        for where, n in zip(WHERES, counts):
            for _ in range(n):
                for _try in range(300):
                    c = mk('negative', cat, where, fn(where))
                    if case_key(c) in seen:
                        continue
                    si = struct_issues(c)
                    if si:
                        raise AssertionError('%s/%s: %s %r' % (cat, where, si, c.get('text', '')[:200]))
                    iss = scan_negative(c)
                    if iss:
                        rejected[(cat, iss[0].split(':')[0])] += 1
                        continue
                    break
                else:
                    raise RuntimeError('could not make a clean negative for %s/%s' % (cat, where))
                seen.add(case_key(c))
                neg.append(c)
    R.shuffle(pos)
    R.shuffle(neg)
    return pos, neg, rejected


def out_obj(c, i, prefix):
    o = {'id': '%s-%04d' % (prefix, i), 'label': c['label'], 'expect': c['expect'], 'where': c['where']}
    for k in ('content_type', 'content_encoding', 'text', 'base64'):
        if k in c:
            o[k] = c[k]
    return o


def write(pos, neg):
    for name, rows, prefix in (('positives.jsonl', pos, 't4-pos'), ('negatives.jsonl', neg, 't4-neg')):
        with open(os.path.join(HERE, name), 'w', encoding='utf-8', newline='\n') as f:
            for i, c in enumerate(rows, 1):
                f.write(json.dumps(out_obj(c, i, prefix), ensure_ascii=False) + '\n')


def check_files():
    selftest()
    errors = []
    stats = {}
    keys = set()
    for name, label, prefix in (('positives.jsonl', 'positive', 't4-pos'), ('negatives.jsonl', 'negative', 't4-neg')):
        path = os.path.join(HERE, name)
        data = open(path, encoding='utf-8').read()
        if not data.endswith('\n'):
            errors.append('%s: no trailing newline' % name)
        lines = data.split('\n')[:-1]
        by_where, by_class = Counter(), Counter()
        for n, line in enumerate(lines, 1):
            try:
                o = json.loads(line)
            except ValueError as e:
                errors.append('%s:%d: json %s' % (name, n, e))
                continue
            if not isinstance(o, dict):
                errors.append('%s:%d: not an object' % (name, n))
                continue
            if o.get('id') != '%s-%04d' % (prefix, n):
                errors.append('%s:%d: id %r' % (name, n, o.get('id')))
            if o.get('label') != label:
                errors.append('%s:%d: label' % (name, n))
            for k in ('text', 'base64', 'content_type', 'content_encoding', 'expect', 'where'):
                if k in o and not isinstance(o[k], str):
                    errors.append('%s:%d: %s not a string' % (name, n, k))
            si = struct_issues(o)
            if si:
                errors.append('%s:%d: %s' % (name, n, si))
                continue
            if case_key(o) in keys:
                errors.append('%s:%d: duplicate case' % (name, n))
            keys.add(case_key(o))
            if label == 'positive':
                ci = checksum_issues(o)
                if ci:
                    errors.append('%s:%d: %s' % (name, n, ci))
            else:
                iss = scan_negative(o)
                if iss:
                    errors.append('%s:%d: negative looks secret-bearing: %s' % (name, n, iss[:3]))
            by_where[o['where']] += 1
            by_class[o['expect']] += 1
        stats[label] = {'lines': len(lines), 'where': by_where, 'classes': by_class,
                        'sha256': hashlib.sha256(data.encode('utf-8')).hexdigest()}
    return errors, stats


def report(stats):
    for label in ('positive', 'negative'):
        s = stats[label]
        print('%s: %d lines  sha256 %s' % (label, s['lines'], s['sha256']))
        print('  where: ' + ', '.join('%s=%d' % (w, s['where'][w]) for w in WHERES))
        print('  %d classes: ' % len(s['classes']) + ', '.join('%s=%d' % kv for kv in sorted(s['classes'].items())))


def main():
    if '--check' not in sys.argv:
        pos, neg, rejected = build()
        write(pos, neg)
        if '-v' in sys.argv:
            print('negatives regenerated after scan hits:', dict(rejected))
    errors, stats = check_files()
    report(stats)
    if errors:
        print('\n'.join(errors[:60]))
        print('CHECK FAILED: %d problems' % len(errors))
        sys.exit(1)
    print('CHECK OK')


if __name__ == '__main__':
    main()
