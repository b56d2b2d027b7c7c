#!/usr/bin/env python3
"""Generator for the t17 held-out egress secret-detection corpus.

Standard library only. Deterministic: a single seeded random.Random instance,
gzip with mtime=0, zip/tar members with fixed timestamps, no wall-clock input.

    python3 generate.py          # writes positives.jsonl, negatives.jsonl, README.md
    python3 generate.py --check  # validates the written files, non-zero exit on problems
"""
import base64
import binascii
import codecs
import gzip
import hashlib
import html
import io
import json
import os
import quopri
import re
import random
import string
import sys
import tarfile
import unicodedata
import urllib.parse
import zipfile
import zlib

SEED = 48271936
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
N_POS = 430
N_NEG = 410

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
AN = UP + LO + DG
ANL = LO + DG
ANU = UP + DG
HEX = '0123456789abcdef'
HEXU = HEX.upper()
B64A = AN + '+/'
B64U = AN + '-_'
B32 = UP + '234567'
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
DASH5 = '-' * 5
PK = 'PRIV' + 'ATE' + ' ' + 'KEY'


def rs(a, n):
    return ''.join(R.choice(a) for _ in range(n))


def ri(a, b):
    return R.randint(a, b)


def pick(s):
    return R.choice(s)


def chance(p):
    return R.random() < p


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def digits(n, first_nonzero=True):
    s = rs(DG, n)
    if first_nonzero and s[0] == '0':
        s = pick('123456789') + s[1:]
    return s


def _b(x):
    return x if isinstance(x, bytes) else x.encode('utf-8')


def b64(x):
    return base64.b64encode(_b(x)).decode()


def b64u(x):
    return base64.urlsafe_b64encode(_b(x)).decode().rstrip('=')


def uuid4():
    h = rs(HEX, 32)
    h = h[:12] + '4' + h[13:16] + pick('89ab') + h[17:]
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0, filename='') as f:
        f.write(_b(data))
    return buf.getvalue()


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, _b(data))
    return buf.getvalue()


def tar_header(name, size):
    def octf(n, width):
        return ('%0*o' % (width - 1, n)).encode() + b'\0'
    h = name.encode()[:100].ljust(100, b'\0') + octf(0o644, 8) + octf(1000, 8) + octf(1000, 8) + octf(size, 12) + \
        octf(1700000000, 12) + b' ' * 8 + b'0' + b'\0' * 100 + b'ustar\x0000' + b'dev'.ljust(32, b'\0') + \
        b'dev'.ljust(32, b'\0') + octf(0, 8) + octf(0, 8) + b'\0' * 155
    h = h.ljust(512, b'\0')
    chk = ('%06o' % sum(h)).encode() + b'\0 '
    return h[:148] + chk + h[156:]


def targz(files):
    """Hand-built USTAR archive (independent of the tarfile module version), gzip with mtime=0."""
    out = b''
    for name, data in files:
        d = _b(data)
        out += tar_header(name, len(d)) + d + b'\0' * (-len(d) % 512)
    out += b'\0' * 1024
    out += b'\0' * (-len(out) % 10240)
    return gz(out)


def q(s, safe=''):
    return urllib.parse.quote(s, safe=safe)


def asciify(s):
    return unicodedata.normalize('NFKD', s).encode('ascii', 'ignore').decode()


def armor(kind):
    return DASH5 + 'BEGIN ' + kind + DASH5, DASH5 + 'END ' + kind + DASH5


def wrap64(s, n=64):
    return '\n'.join(s[i:i + n] for i in range(0, len(s), n))


def pem(kind, der, headers=None):
    a, b = armor(kind)
    mid = ''
    if headers:
        mid = '\n'.join(headers) + '\n\n'
    return a + '\n' + mid + wrap64(b64(der)) + '\n' + b


# ---------------------------------------------------------------- vocab
FIRST = ['Anna', 'Lukas', 'Sofia', 'Mateo', 'Chloé', 'Jonas', 'Aiko', 'Wei', 'Olga', 'Kemal', 'Priya', 'Lars',
         'Marta', 'Diego', 'Hannah', 'Noah', 'Yuki', 'Fatima', 'Pierre', 'Giulia', 'Sven', 'Inês', 'Tomasz', 'Mei',
         'Oliver', 'Emma', 'Rahul', 'Sara', 'Jan', 'Léa', 'Aroha', 'Kwame', 'Nadia', 'Mikko', 'Ji-woo']
LAST = ['Müller', 'Rossi', 'García', 'Dubois', 'Nowak', 'Tanaka', 'Chen', 'Ivanova', 'Yılmaz', 'Sharma',
        'Johansson', 'Silva', 'Kowalski', 'Smith', 'Jensen', 'Moreau', 'Fernández', 'Novak', 'Kim', 'Nielsen',
        'Bauer', 'Costa', 'Virtanen', 'de Vries', 'Popescu', 'Okafor', 'Haddad', 'Lindqvist', 'Papadopoulos']
WORDS = ['orbit', 'maple', 'falcon', 'harbor', 'quartz', 'ember', 'summit', 'cobalt', 'willow', 'lantern', 'pixel',
         'nebula', 'granite', 'saffron', 'tundra', 'velvet', 'juniper', 'atlas', 'breeze', 'cinder', 'meadow',
         'copper', 'raven', 'thistle', 'glacier', 'mango', 'otter', 'prairie', 'sparrow', 'zephyr']
SERVICES = ['billing', 'checkout', 'ingest', 'search', 'notifier', 'auth', 'reports', 'gateway', 'scheduler',
            'exporter', 'ledger', 'inventory', 'payments', 'mailer', 'analytics', 'webhooks']
COMPANIES = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'vandelay', 'starkind', 'waynetech', 'tyrell',
             'soylent', 'cyberdyne', 'wonka', 'northwind', 'contoso', 'fabrikam', 'tailspin']
TLDS = ['com', 'io', 'net', 'dev', 'co', 'app', 'cloud', 'tech', 'de', 'fr', 'eu']
EXFIL = ['oast.live', 'dnslog-cn.net', 'interact-sh.org', 'requestrepo.net', 'exfil-test.xyz', 'telemetry-sync.io',
         'cdn-edge-metrics.net', 'x9-collab.net', 'ns-lookup.info', 'pingback.site']


def company():
    return pick(COMPANIES)


def host():
    return '%s.%s.%s' % (pick(['api', 'internal', 'svc', 'app', 'prod', 'staging', 'eu', 'us-east', 'ops']),
                         company() + pick(['', '-corp', '-labs', 'hq']), pick(TLDS))


def person():
    return pick(FIRST), pick(LAST)


def email_of(f, l, dom=None):
    a = asciify(f).lower().replace(' ', '').replace('-', '')
    b = asciify(l).lower().replace(' ', '')
    return '%s.%s@%s' % (a, b, dom or (company() + '.' + pick(['com', 'de', 'io', 'fr'])))


def username():
    return pick(['admin', 'deploy', 'svc_' + pick(SERVICES), 'root', 'ci-bot', 'app', pick(WORDS) + str(ri(1, 99)),
                 'postgres', 'etl_user', 'reporting'])


def password():
    t = ri(0, 3)
    if t == 0:
        return pick(WORDS).capitalize() + str(ri(10, 9999)) + pick('!@#$%&*?') + pick(WORDS)
    if t == 1:
        return rs(AN + '!@#$%^&*-_=+', ri(14, 24))
    if t == 2:
        return '-'.join(pick(WORDS) for _ in range(4)) + str(ri(0, 99))
    return rs(AN, ri(16, 32))


def iso_date(y0=2023, y1=2025):
    return '%04d-%02d-%02dT%02d:%02d:%02dZ' % (ri(y0, y1), ri(1, 12), ri(1, 28), ri(0, 23), ri(0, 59), ri(0, 59))


def epoch():
    return ri(1690000000, 1760000000)


# ---------------------------------------------------------------- check digits
def luhn_ok(s):
    t = 0
    for i, c in enumerate(reversed(s)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        t += d
    return t % 10 == 0


def luhn_complete(p):
    for d in DG:
        if luhn_ok(p + d):
            return p + d
    raise ValueError


def card(prefix, length):
    return luhn_complete(prefix + rs(DG, length - len(prefix) - 1))


def fmt_card(n):
    st = ri(0, 2)
    if st == 0:
        return n
    sep = ' ' if st == 1 else '-'
    if len(n) == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    if len(n) == 14:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i:i + 4] for i in range(0, len(n), 4))


IBAN_SPECS = {'DE': 'n18', 'FR': 'n10c11n2', 'GB': 'a4n14', 'ES': 'n20', 'IT': 'a1n10c12', 'NL': 'a4n10',
              'CH': 'n5c12', 'BE': 'n12', 'AT': 'n16', 'PL': 'n24', 'SE': 'n20', 'NO': 'n11', 'DK': 'n14',
              'FI': 'n14', 'IE': 'a4n14', 'PT': 'n21', 'LU': 'n3c13', 'CZ': 'n20', 'HU': 'n24', 'RO': 'a4c16',
              'GR': 'n7c16', 'TR': 'n5n1c16', 'SA': 'n2c18', 'AE': 'n19', 'HR': 'n17'}


def iban_mod(s):
    r = s[4:] + s[:4]
    num = ''.join(str(int(c, 36)) for c in r)
    return int(num) % 97


def iban(cc=None):
    cc = cc or pick(sorted(IBAN_SPECS))
    spec = IBAN_SPECS[cc]
    bban = ''
    for kind, n in re.findall(r'([anc])(\d+)', spec):
        n = int(n)
        bban += rs({'a': UP, 'n': DG, 'c': ANU}[kind], n)
    chk = 98 - iban_mod(cc + '00' + bban)
    return cc + '%02d' % chk + bban


def fmt_iban(s):
    return ' '.join(s[i:i + 4] for i in range(0, len(s), 4)) if chance(0.6) else s


VH_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
VH_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 2, 4, 1],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
VH_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_check(s):
    c = 0
    for i, ch in enumerate(reversed(s)):
        c = VH_D[c][VH_P[(i + 1) % 8][int(ch)]]
    return str(VH_INV[c])


def wsum(ds, ws):
    return sum(int(d) * w for d, w in zip(ds, ws))


def dob():
    return ri(1950, 2004), ri(1, 12), ri(1, 28)


def pii_us_ssn():
    while True:
        a = ri(1, 899)
        if a != 666:
            break
    s = '%03d-%02d-%04d' % (a, ri(1, 99), ri(1, 9999))
    return s if chance(0.75) else s.replace('-', '')


def pii_us_itin():
    return '9%02d-%02d-%04d' % (ri(0, 99), pick(list(range(70, 89)) + [90, 91, 92] + list(range(94, 100))), ri(1, 9999))


def pii_us_ein():
    return '%02d-%07d' % (pick([1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 24, 25, 26, 27, 30, 31, 32,
                                33, 34, 35, 36, 37, 38, 41, 42, 43, 45, 46, 47, 51, 52, 53, 54, 56, 57, 58, 59, 61, 62,
                                63, 64, 65, 71, 72, 73, 74, 75, 76, 77, 81, 82, 83, 84, 85, 86, 87, 88, 91, 92, 93, 94,
                                95, 98, 99]), ri(0, 9999999))


def pii_aba():
    while True:
        p = '%02d' % pick(list(range(1, 13)) + list(range(21, 33))) + rs(DG, 6)
        for d in DG:
            s = p + d
            if (3 * (int(s[0]) + int(s[3]) + int(s[6])) + 7 * (int(s[1]) + int(s[4]) + int(s[7])) +
                    int(s[2]) + int(s[5]) + int(s[8])) % 10 == 0:
                return s


def pii_us_bank():
    return 'routing %s account %s' % (pii_aba(), digits(ri(9, 12)))


def pii_us_passport():
    return digits(9) if chance(0.6) else pick(UP) + digits(8)


def pii_us_mbi():
    al = 'ACDEFGHJKMNPQRTUVWXY'
    s = pick('123456789') + pick(al) + pick(al + DG) + pick(DG) + pick(al) + pick(al + DG) + pick(DG) + pick(al) + \
        pick(al) + pick(DG) + pick(DG)
    return s[:4] + '-' + s[4:7] + '-' + s[7:] if chance(0.5) else s


def pii_uk_nino():
    bad1 = 'DFIQUV'
    bad2 = 'DFIOQUV'
    while True:
        a, b = pick(UP), pick(UP)
        if a in bad1 or b in bad2 or a + b in ('BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'):
            continue
        d = digits(6, False)
        s = a + b + d + pick('ABCD')
        if chance(0.5):
            s = '%s %s %s %s %s' % (s[:2], s[2:4], s[4:6], s[6:8], s[8])
        return s


def pii_uk_nhs():
    while True:
        d = digits(9)
        c = 11 - wsum(d, range(10, 1, -1)) % 11
        if c == 11:
            c = 0
        if c == 10:
            continue
        s = d + str(c)
        return s[:3] + ' ' + s[3:6] + ' ' + s[6:] if chance(0.6) else s


def pii_uk_bank():
    return 'sort code %02d-%02d-%02d, account %s' % (ri(1, 99), ri(0, 99), ri(0, 99), digits(8, False))


def pii_ca_sin():
    s = luhn_complete(pick('1234567') + rs(DG, 7))
    return '%s-%s-%s' % (s[:3], s[3:6], s[6:]) if chance(0.6) else s


def pii_fr_nir():
    y, m, _ = dob()
    base = '%d%02d%02d%02d%03d%03d' % (ri(1, 2), y % 100, m, ri(1, 95), ri(1, 990), ri(1, 999))
    key = 97 - int(base) % 97
    return '%s %s %s %s %s %s %02d' % (base[0], base[1:3], base[3:5], base[5:7], base[7:10], base[10:13], key)


def pii_de_steuer_id():
    while True:
        ds = R.sample(DG, 9)
        if ds[0] == '0':
            continue
        dup = pick(ds)
        pos = ri(1, 9)
        ds.insert(pos, dup)
        s = ''.join(ds)
        prod = 10
        for c in s:
            sm = (int(c) + prod) % 10
            if sm == 0:
                sm = 10
            prod = (sm * 2) % 11
        chk = 11 - prod
        if chk == 10:
            chk = 0
        s += str(chk)
        return '%s %s %s %s' % (s[:2], s[2:5], s[5:8], s[8:]) if chance(0.4) else s


def pii_es_dni():
    n = ri(10000000, 99999999)
    return '%08d%s' % (n, 'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23])


def pii_es_nie():
    p = ri(0, 2)
    n = ri(0, 9999999)
    return '%s%07d%s' % ('XYZ'[p], n, 'TRWAGMYFPDXBNJZSQVHLCKE'[int('%d%07d' % (p, n)) % 23])


CF_ODD = {'0': 1, '1': 0, '2': 5, '3': 7, '4': 9, '5': 13, '6': 15, '7': 17, '8': 19, '9': 21, 'A': 1, 'B': 0,
          'C': 5, 'D': 7, 'E': 9, 'F': 13, 'G': 15, 'H': 17, 'I': 19, 'J': 21, 'K': 2, 'L': 4, 'M': 18, 'N': 20,
          'O': 11, 'P': 3, 'Q': 6, 'R': 8, 'S': 12, 'T': 14, 'U': 16, 'V': 10, 'W': 22, 'X': 25, 'Y': 24, 'Z': 23}


def pii_it_cf():
    cons = 'BCDFGHJKLMNPQRSTVWXZ'
    y, m, d = dob()
    if chance(0.5):
        d += 40
    s = rs(cons, 3) + rs(cons, 3) + '%02d' % (y % 100) + 'ABCDEHLMPRST'[m - 1] + '%02d' % d + \
        pick(['H501', 'F205', 'L219', 'F839', 'G273', 'A944', 'D612', 'L736'])
    t = 0
    for i, c in enumerate(s):
        if i % 2 == 0:
            t += CF_ODD[c]
        else:
            t += int(c) if c.isdigit() else ord(c) - 65
    return s + chr(65 + t % 26)


def pii_nl_bsn():
    while True:
        d = digits(8)
        r = wsum(d, range(9, 1, -1)) % 11
        if r < 10:
            return d + str(r)


def pii_be_nn():
    y, m, d = dob()
    base = '%02d%02d%02d%03d' % (y % 100, m, d, ri(1, 997))
    n = int(('2' if y >= 2000 else '') + base)
    s = base + '%02d' % (97 - n % 97)
    return '%s.%s.%s-%s.%s' % (s[:2], s[2:4], s[4:6], s[6:9], s[9:]) if chance(0.5) else s


def pii_pl_pesel():
    y, m, d = dob()
    mm = m + (20 if y >= 2000 else 0)
    s = '%02d%02d%02d%04d' % (y % 100, mm, d, ri(0, 9999))
    c = (10 - wsum(s, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10
    return s + str(c)


def pii_se_pnr():
    y, m, d = dob()
    s = '%02d%02d%02d%03d' % (y % 100, m, d, ri(0, 999))
    s = luhn_complete(s)
    return s[:6] + '-' + s[6:]


def pii_no_fnr():
    while True:
        y, m, d = dob()
        ind = ri(0, 499) if y < 2000 else ri(500, 999)
        s = '%02d%02d%02d%03d' % (d, m, y % 100, ind)
        k1 = 11 - wsum(s, [3, 7, 6, 1, 8, 9, 4, 5, 2]) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        s += str(k1)
        k2 = 11 - wsum(s, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        return s + str(k2)


def pii_dk_cpr():
    while True:
        y, m, d = dob()
        s = '%02d%02d%02d%04d' % (d, m, y % 100, ri(0, 9999))
        if wsum(s, [4, 3, 2, 7, 6, 5, 4, 3, 2, 1]) % 11 == 0:
            return s[:6] + '-' + s[6:]


def pii_fi_hetu():
    y, m, d = dob()
    n = ri(2, 899)
    base = '%02d%02d%02d' % (d, m, y % 100)
    return '%s%s%03d%s' % (base, '-' if y < 2000 else 'A', n, '0123456789ABCDEFHJKLMNPRSTUVWXY'[int(base + '%03d' % n) % 31])


def pii_pt_nif():
    d = pick('123') + rs(DG, 7)
    c = 11 - wsum(d, range(9, 1, -1)) % 11
    return d + str(0 if c >= 10 else c)


def pii_ro_cnp():
    y, m, d = dob()
    s = '%d%02d%02d%02d%02d%03d' % (1 if y < 2000 else 5, y % 100, m, d, ri(1, 46), ri(1, 999))
    r = wsum(s, [2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11
    return s + ('1' if r == 10 else str(r))


def pii_cz_rc():
    while True:
        y, m, d = dob()
        if y < 1954:
            continue
        mm = m + (50 if chance(0.5) else 0)
        s = '%02d%02d%02d%03d' % (y % 100, mm, d, ri(0, 999))
        c = int(s) % 11
        if c == 10:
            continue
        s += str(c)
        return s[:6] + '/' + s[6:]


def pii_tr_tckn():
    d = digits(9)
    d10 = ((int(d[0]) + int(d[2]) + int(d[4]) + int(d[6]) + int(d[8])) * 7 -
           (int(d[1]) + int(d[3]) + int(d[5]) + int(d[7]))) % 10
    s = d + str(d10)
    return s + str(sum(int(c) for c in s) % 10)


def pii_ch_ahv():
    s = '756' + rs(DG, 9)
    t = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(s))
    s += str((10 - t % 10) % 10)
    return '%s.%s.%s.%s' % (s[:3], s[3:7], s[7:11], s[11:])


def pii_ie_ppsn():
    d = rs(DG, 7)
    t = wsum(d, range(8, 1, -1))
    sec = ''
    if chance(0.3):
        sec = 'A'
        t += 9
    return d + 'WABCDEFGHIJKLMNOPQRSTUV'[t % 23] + sec


def pii_br_cpf():
    d = rs(DG, 9)
    r1 = wsum(d, range(10, 1, -1)) * 10 % 11 % 10
    d += str(r1)
    r2 = wsum(d, range(11, 1, -1)) * 10 % 11 % 10
    d += str(r2)
    return '%s.%s.%s-%s' % (d[:3], d[3:6], d[6:9], d[9:]) if chance(0.7) else d


def pii_br_cnpj():
    d = rs(DG, 8) + '0001'
    for ws in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        r = wsum(d, ws) % 11
        d += str(0 if r < 2 else 11 - r)
    return '%s.%s.%s/%s-%s' % (d[:2], d[2:5], d[5:8], d[8:12], d[12:])


def pii_mx_curp():
    dic = '0123456789ABCDEFGHIJKLMN\u00d1OPQRSTUVWXYZ'
    y, m, d = dob()
    s = pick('BCDFGHJLMNPRSTV') + pick('AEIOU') + rs(UP.replace('Ñ', ''), 2) + '%02d%02d%02d' % (y % 100, m, d) + \
        pick('HM') + pick(['AS', 'BC', 'CH', 'DF', 'JC', 'MC', 'NL', 'PL', 'QT', 'VZ', 'YN']) + \
        rs('BCDFGHJKLMNPQRSTVWXYZ', 3) + (pick(DG) if y < 2000 else pick(UP))
    t = sum(dic.index(c) * (18 - i) for i, c in enumerate(s))
    return s + str((10 - t % 10) % 10)


def pii_cl_rut():
    n = ri(5000000, 25000000)
    ds = str(n)[::-1]
    t = sum(int(c) * (2 + i % 6) for i, c in enumerate(ds))
    r = 11 - t % 11
    dv = '0' if r == 11 else ('K' if r == 10 else str(r))
    s = '{:,}'.format(n).replace(',', '.')
    return s + '-' + dv


def pii_ar_cuit():
    while True:
        d = pick(['20', '23', '27', '30']) + rs(DG, 8)
        r = 11 - wsum(d, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]) % 11
        if r == 10:
            continue
        r = 0 if r == 11 else r
        return '%s-%s-%d' % (d[:2], d[2:], r)


def pii_in_aadhaar():
    s = pick('23456789') + rs(DG, 10)
    s += verhoeff_check(s)
    return '%s %s %s' % (s[:4], s[4:8], s[8:]) if chance(0.7) else s


def pii_in_pan():
    return rs(UP, 3) + pick('PCHFATBLJG') + pick(UP) + rs(DG, 4) + pick(UP)


def pii_cn_ric():
    y, m, d = dob()
    s = pick(['110101', '310104', '440305', '510107', '330106', '420102', '320102', '500103']) + \
        '%04d%02d%02d' % (y, m, d) + rs(DG, 3)
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return s + '10X98765432'[wsum(s, w) % 11]


def pii_jp_mynumber():
    s = rs(DG, 11)
    t = 0
    for n in range(1, 12):
        p = int(s[11 - n])
        qn = n + 1 if n <= 6 else n - 5
        t += p * qn
    r = t % 11
    c = 0 if r <= 1 else 11 - r
    s += str(c)
    return '%s %s %s' % (s[:4], s[4:8], s[8:]) if chance(0.5) else s


def pii_kr_rrn():
    y, m, d = dob()
    s = '%02d%02d%02d%d%05d' % (y % 100, m, d, pick([1, 2]) if y < 2000 else pick([3, 4]), ri(0, 99999))
    c = (11 - wsum(s, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10
    return s[:6] + '-' + s[6:] + str(c)


def pii_sg_nric():
    p = pick('ST')
    d = rs(DG, 7)
    t = wsum(d, [2, 7, 6, 5, 4, 3, 2]) + (4 if p == 'T' else 0)
    return p + d + 'JZIHGFEDCBA'[t % 11]


def pii_hk_id():
    L = pick(UP)
    d = rs(DG, 6)
    t = 36 * 9 + (ord(L) - 55) * 8 + wsum(d, [7, 6, 5, 4, 3, 2])
    r = 11 - t % 11
    c = '0' if r == 11 else ('A' if r == 10 else str(r))
    return '%s%s(%s)' % (L, d, c)


def pii_au_tfn():
    while True:
        d = digits(8)
        s = wsum(d, [1, 4, 3, 7, 5, 8, 6, 9])
        d9 = (-s * 10) % 11
        if d9 < 10:
            x = d + str(d9)
            return '%s %s %s' % (x[:3], x[3:6], x[6:]) if chance(0.6) else x


def pii_au_medicare():
    d = pick('23456') + rs(DG, 7)
    c = wsum(d, [1, 3, 7, 9, 1, 3, 7, 9]) % 10
    s = d + str(c) + pick('123456789')
    return '%s %s %s' % (s[:4], s[4:9], s[9:]) if chance(0.6) else s


def pii_za_id():
    y, m, d = dob()
    s = '%02d%02d%02d%04d%d8' % (y % 100, m, d, ri(0, 9999), ri(0, 1))
    return luhn_complete(s)


def pii_il_id():
    return luhn_complete(rs(DG, 8))


def mrz_check(s):
    def val(c):
        if c.isdigit():
            return int(c)
        if c == '<':
            return 0
        return ord(c) - 55
    return str(sum(val(c) * [7, 3, 1][i % 3] for i, c in enumerate(s)) % 10)


def pii_mrz():
    f, l = person()
    cc = pick(['D<<', 'FRA', 'GBR', 'ITA', 'ESP', 'NLD', 'USA', 'CAN', 'POL', 'SWE'])
    nat = cc
    name = (asciify(l).upper().replace(' ', '<') + '<<' + asciify(f).upper().replace('-', '<'))
    l1 = ('P<' + cc + name + '<' * 44)[:44]
    pno = rs(ANU, 9) if chance(0.5) else digits(9)
    y, m, d = dob()
    bd = '%02d%02d%02d' % (y % 100, m, d)
    ex = '%02d%02d%02d' % (ri(26, 34), ri(1, 12), ri(1, 28))
    pers = '<' * 14
    sex = pick('MF')
    l2 = pno + mrz_check(pno) + nat + bd + mrz_check(bd) + sex + ex + mrz_check(ex) + pers + mrz_check(pers)
    comp = pno + mrz_check(pno) + bd + mrz_check(bd) + ex + mrz_check(ex) + pers + mrz_check(pers)
    l2 += mrz_check(comp)
    return l1 + '\n' + l2


def pii_health():
    f, l = person()
    y, m, d = dob()
    return ('Patient: %s %s | DOB %04d-%02d-%02d | MRN %s | Dx %s (%s) | Rx %s' %
            (f, l, y, m, d, digits(8), *pick([('E11.9', 'type 2 diabetes'), ('F32.1', 'major depressive disorder'), ('I10', 'hypertension'),
                    ('J45.40', 'asthma'), ('C50.911', 'breast cancer'), ('B20', 'HIV disease'),
                    ('F41.1', 'generalized anxiety')]),
             pick(['metformin 500mg', 'sertraline 50mg', 'lisinopril 10mg', 'albuterol', 'tamoxifen 20mg',
                   'bictegravir', 'escitalopram 10mg'])))


def pii_combo():
    lines = []
    for _ in range(ri(3, 7)):
        f, l = person()
        lines.append('%s:%s' % (email_of(f, l, pick(['gmail.com', 'yahoo.com', 'outlook.com', 'web.de', 'mail.ru',
                                                       'orange.fr', 'proton.me'])), password()))
    return '\n'.join(lines)


def track2():
    pan = card('4' + rs(DG, 5), 16)
    return ';%s=%02d%02d101%s?' % (pan, ri(26, 31), ri(1, 12), digits(13, False))


# ---------------------------------------------------------------- key material
def sshstr(b):
    b = _b(b)
    return len(b).to_bytes(4, 'big') + b


def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def der_int(b):
    if b[0] & 0x80:
        b = b'\x00' + b
    return b'\x02' + der_len(len(b)) + b


def der_seq(*items):
    body = b''.join(items)
    return b'\x30' + der_len(len(body)) + body


def rsa_pkcs1_der(bits=2048):
    n = bytes([0xc0 | R.getrandbits(6)]) + rbytes(bits // 8 - 1)
    h = bits // 16
    parts = [der_int(b'\x00'), der_int(n), der_int(b'\x01\x00\x01'), der_int(rbytes(bits // 8)),
             der_int(bytes([0x80 | R.getrandbits(7)]) + rbytes(h - 1)),
             der_int(bytes([0x80 | R.getrandbits(7)]) + rbytes(h - 1)), der_int(rbytes(h)), der_int(rbytes(h)),
             der_int(rbytes(h))]
    return der_seq(*parts)


def key_rsa():
    return pem('RSA ' + PK, rsa_pkcs1_der(pick([1024, 2048, 2048, 3072])))


def key_pkcs8():
    if chance(0.5):
        inner = rsa_pkcs1_der(2048)
        der = der_seq(der_int(b'\x00'), bytes.fromhex('300d06092a864886f70d0101010500'),
                      b'\x04' + der_len(len(inner)) + inner)
    else:
        der = bytes.fromhex('302e020100300506032b657004220420') + rbytes(32)
    return pem(PK, der)


def key_ec():
    der = bytes.fromhex('30770201010420') + rbytes(32) + bytes.fromhex('a00a06082a8648ce3d030107a144034200') + \
        b'\x04' + rbytes(64)
    return pem('EC ' + PK, der)


def key_dsa():
    parts = [der_int(b'\x00'), der_int(b'\xc1' + rbytes(127)), der_int(b'\xd3' + rbytes(19)),
             der_int(rbytes(128)), der_int(rbytes(128)), der_int(rbytes(20))]
    return pem('DSA ' + PK, der_seq(*parts))


def key_encrypted():
    if chance(0.5):
        der = bytes.fromhex('308204f5305706092a864886f70d01050d304a302906092a864886f70d01050c301c0408') + rbytes(8) + \
            bytes.fromhex('020208003008') + rbytes(10) + rbytes(1180)
        return pem('ENCRYPTED ' + PK, der)
    return pem('RSA ' + PK, rbytes(1190), ['Proc-Type: 4,ENCRYPTED',
                                           'DEK-Info: AES-256-CBC,' + rs(HEXU, 32)])


def key_openssh():
    user = '%s@%s' % (username(), pick(['laptop', 'build-01', 'bastion', 'mbp.local', 'devbox']))
    pub = rbytes(32)
    pubblob = sshstr('ssh-ed25519') + sshstr(pub)
    ck = rbytes(4)
    priv = ck + ck + sshstr('ssh-ed25519') + sshstr(pub) + sshstr(rbytes(32) + pub) + sshstr(user)
    i = 1
    while len(priv) % 8:
        priv += bytes([i])
        i += 1
    blob = b'openssh-key-v1\x00' + sshstr('none') + sshstr('none') + sshstr(b'') + (1).to_bytes(4, 'big') + \
        sshstr(pubblob) + sshstr(priv)
    a, b = armor('OPENSSH ' + PK)
    return a + '\n' + wrap64(b64(blob), 70) + '\n' + b


def crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def key_pgp():
    body = b'\x95\x03\xc6\x04' + rbytes(4) + b'\x01\x0c\x00' + rbytes(ri(900, 1400))
    a, b = armor('PGP ' + PK + ' BLOCK')
    c = crc24(body).to_bytes(3, 'big')
    return a + '\nComment: ' + pick(['GnuPG v2', 'Exported by Kleopatra', 'https://gnupg.org']) + '\n\n' + \
        wrap64(b64(body)) + '\n=' + b64(c) + '\n' + b


def key_putty():
    user = '%s@%s' % (username(), pick(['WIN-DEV', 'jumpbox', 'ci']))
    pub = b64(sshstr('ssh-ed25519') + sshstr(rbytes(32)))
    priv = b64(sshstr(rbytes(32)))
    return ('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: %s\nPublic-Lines: 2\n%s\n'
            'Private-Lines: 1\n%s\nPrivate-MAC: %s' % (user, wrap64(pub), priv, rs(HEX, 64)))


def key_openvpn():
    return ('#\n# 2048 bit OpenVPN static key\n#\n' + DASH5 + 'BEGIN OpenVPN Static key V1' + DASH5 + '\n' +
            '\n'.join(rs(HEX, 32) for _ in range(16)) + '\n' + DASH5 + 'END OpenVPN Static key V1' + DASH5)


def key_jwk():
    if chance(0.5):
        d = {'kty': 'EC', 'crv': 'P-256', 'x': b64u(rbytes(32)), 'y': b64u(rbytes(32)), 'd': b64u(rbytes(32)),
             'kid': rs(AN, 16)}
    else:
        d = {'kty': 'RSA', 'n': b64u(rbytes(256)), 'e': 'AQAB', 'd': b64u(rbytes(256)), 'p': b64u(rbytes(128)),
             'q': b64u(rbytes(128)), 'dp': b64u(rbytes(128)), 'dq': b64u(rbytes(128)), 'qi': b64u(rbytes(128)),
             'kid': uuid4(), 'alg': 'RS256'}
    return json.dumps(d, separators=(',', ':'))


BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'


def bech32_polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def bech32(hrp, data8):
    acc = bits = 0
    data = []
    for b in data8:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hv = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    pm = bech32_polymod(hv + data + [0] * 6) ^ 1
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + '1' + ''.join(BECH[d] for d in data + chk)


def key_age():
    return bech32('age-secret-key-', rbytes(32)).upper()


def key_nsec():
    return bech32('nsec', rbytes(32))


def b58enc(b):
    n = int.from_bytes(b, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + s


def b58check(b):
    return b58enc(b + hashlib.sha256(hashlib.sha256(b).digest()).digest()[:4])


def key_wif():
    return b58check(b'\x80' + rbytes(32) + (b'\x01' if chance(0.7) else b''))


def key_xprv():
    return b58check(bytes.fromhex('0488ade4') + bytes([ri(0, 3)]) + rbytes(4) + rbytes(4) + rbytes(32) + b'\x00' +
                    rbytes(32))


def key_eth():
    return ('0x' if chance(0.6) else '') + rs(HEX, 64)


def key_solana():
    if chance(0.5):
        return json.dumps(list(rbytes(64)), separators=(',', ':'))
    return b58enc(rbytes(64))


BIP39 = ('abandon ability able about above absent absorb abstract absurd abuse access accident account accuse achieve '
         'acid acoustic acquire across act action actor actress actual adapt add addict address adjust admit adult '
         'advance advice aerobic affair afford afraid again age agent agree ahead aim air airport aisle alarm album '
         'alcohol alert alien all alley allow almost alone alpha already also alter always amateur amazing among '
         'amount amused analyst anchor ancient anger angle angry animal ankle announce annual another answer antenna '
         'antique anxiety any apart apology appear apple approve april arch arctic area arena argue arm armed armor '
         'army around arrange arrest arrive arrow art artefact artist artwork ask aspect assault asset assist assume '
         'asthma athlete atom attack attend attitude attract auction audit august aunt author auto autumn average '
         'avocado avoid awake aware away awesome awful awkward axis baby bachelor bacon badge bag balance balcony '
         'ball bamboo banana banner bar barely bargain barrel base basic basket battle beach bean beauty because '
         'become beef before begin behave behind believe below belt bench benefit best betray better between beyond '
         'bicycle bid bike bind biology bird birth bitter black blade blame blanket blast bleak bless blind blood '
         'blossom blouse blue blur blush board boat body boil bomb bone bonus book boost border boring borrow boss '
         'zebra zero zone zoo wrong write worth world wolf wisdom winter wine window wild wide wheel whale wealth').split()


def key_mnemonic():
    return ' '.join(pick(BIP39) for _ in range(pick([12, 12, 24])))


def key_wireguard():
    return b64(rbytes(32))


def pkcs12_bytes():
    return bytes.fromhex('30820a') + rbytes(1) + bytes.fromhex('0201033082') + rbytes(2) + \
        bytes.fromhex('06092a864886f70d010701a0') + rbytes(2600)


def jwt(payload, alg='HS256', signed=True):
    h = b64u(json.dumps({'alg': alg, 'typ': 'JWT'}, separators=(',', ':')))
    p = b64u(json.dumps(payload, separators=(',', ':')))
    s = b64u(rbytes(32 if alg.startswith('HS') else 256)) if signed else ''
    return h + '.' + p + '.' + s


# ---------------------------------------------------------------- positive classes
CLASSES = []


def reg(name, kind, gen, env=None, hdr=None, comp=None, weight=1.0, label=None, field=None, lang='en'):
    CLASSES.append(dict(name=name, kind=kind, gen=gen, env=env, hdr=hdr, comp=comp, weight=weight, label=label,
                        field=field, lang=lang))


def basic(user_fn):
    return lambda v: 'Authorization: Basic ' + b64('%s:%s' % (user_fn(), v))


def basic_tok_user(v):
    return 'Authorization: Basic ' + b64(v + ':')


def T(name, env, gen, hdr=None, comp=None, weight=1.0):
    reg(name, 'token', gen, env=env, hdr=hdr, comp=comp, weight=weight)


def stripe_body():
    return '51' + rs(AN, ri(90, 97)) if chance(0.6) else rs(AN, 24)


# cloud providers
T('aws-access-key-id', 'AWS_ACCESS_KEY_ID', lambda: 'AKIA' + rs(B32, 16), weight=1.5)
T('aws-secret-access-key', 'AWS_SECRET_ACCESS_KEY', lambda: rs(B64A, 40),
  comp=lambda: [('AWS_ACCESS_KEY_ID', 'AKIA' + rs(B32, 16))], weight=2.5)
T('aws-session-token', 'AWS_SESSION_TOKEN', lambda: pick(['IQoJb3JpZ2luX2Vj', 'FwoGZXIvYXdzE']) + rs(B64A, ri(300, 420)),
  hdr='X-Amz-Security-Token: {v}', comp=lambda: [('AWS_ACCESS_KEY_ID', 'ASIA' + rs(B32, 16))])
T('aws-temporary-access-key-id', 'AWS_ACCESS_KEY_ID', lambda: 'ASIA' + rs(B32, 16))
T('gcp-api-key', 'GOOGLE_API_KEY', lambda: 'AIza' + rs(B64U, 35), hdr='X-Goog-Api-Key: {v}', weight=1.5)
T('gcp-oauth-access-token', 'GOOGLE_OAUTH_ACCESS_TOKEN', lambda: 'ya29.' + rs(B64U, ri(150, 220)))
T('gcp-oauth-refresh-token', 'GOOGLE_REFRESH_TOKEN', lambda: '1//0' + rs(B64U, ri(95, 100)))
T('google-oauth-client-secret', 'GOOGLE_CLIENT_SECRET', lambda: 'GOCSPX-' + rs(B64U, 28),
  comp=lambda: [('GOOGLE_CLIENT_ID', digits(12) + '-' + rs(ANL, 32) + '.apps.googleusercontent.com')])
T('azure-storage-account-key', 'AZURE_STORAGE_KEY', lambda: rs(B64A, 86) + '==',
  comp=lambda: [('AZURE_STORAGE_ACCOUNT', company() + 'prod' + rs(ANL, 4))])
T('azure-client-secret', 'AZURE_CLIENT_SECRET', lambda: rs(AN, 3) + pick('78') + 'Q~' + rs(AN + '_~.-', 34),
  comp=lambda: [('AZURE_TENANT_ID', uuid4()), ('AZURE_CLIENT_ID', uuid4())], weight=1.5)
T('azure-devops-pat', 'AZURE_DEVOPS_EXT_PAT', lambda: rs('abcdefghijklmnopqrstuvwxyz234567', 52),
  hdr=lambda v: 'Authorization: Basic ' + b64(':' + v))
T('azure-cosmosdb-key', 'COSMOS_KEY', lambda: rs(B64A, 86) + '==',
  comp=lambda: [('COSMOS_ENDPOINT', 'https://%s-cosmos.documents.azure.com:443/' % company())])
T('azure-openai-api-key', 'AZURE_OPENAI_API_KEY', lambda: rs(HEX, 32), hdr='api-key: {v}')
T('azure-function-key', 'AZURE_FUNCTION_KEY', lambda: rs(B64U, 54) + '==', hdr='x-functions-key: {v}')
T('alibaba-access-key-id', 'ALIBABA_CLOUD_ACCESS_KEY_ID', lambda: 'LTAI' + rs(AN, 20))
T('alibaba-access-key-secret', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', lambda: rs(AN, 30),
  comp=lambda: [('ALIBABA_CLOUD_ACCESS_KEY_ID', 'LTAI' + rs(AN, 20))])
T('tencent-cloud-secret-id', 'TENCENTCLOUD_SECRET_ID', lambda: 'AKID' + rs(AN, 32))
T('tencent-cloud-secret-key', 'TENCENTCLOUD_SECRET_KEY', lambda: rs(AN, 32),
  comp=lambda: [('TENCENTCLOUD_SECRET_ID', 'AKID' + rs(AN, 32))])
T('ibm-cloud-api-key', 'IBMCLOUD_API_KEY', lambda: rs(B64U, 44))
T('digitalocean-pat', 'DIGITALOCEAN_TOKEN', lambda: 'dop_v1_' + rs(HEX, 64))
T('digitalocean-oauth-token', 'DO_OAUTH_TOKEN', lambda: 'doo_v1_' + rs(HEX, 64))
T('digitalocean-spaces-secret', 'SPACES_SECRET_ACCESS_KEY', lambda: rs(B64A, 43),
  comp=lambda: [('SPACES_ACCESS_KEY_ID', 'DO00' + rs(ANU, 16))])
T('linode-api-token', 'LINODE_TOKEN', lambda: rs(HEX, 64))
T('heroku-api-key', 'HEROKU_API_KEY', lambda: pick(['HRKU-AA' + rs(B64U, 58), uuid4()]))
T('cloudflare-api-token', 'CLOUDFLARE_API_TOKEN', lambda: rs(B64U, 40))
T('cloudflare-global-api-key', 'CLOUDFLARE_API_KEY', lambda: rs(HEX, 37), hdr='X-Auth-Key: {v}',
  comp=lambda: [('CLOUDFLARE_EMAIL', email_of(*person()))])
T('cloudflare-origin-ca-key', 'CF_ORIGIN_CA_KEY', lambda: 'v1.0-' + rs(HEX, 24) + '-' + rs(HEX, 146),
  hdr='X-Auth-User-Service-Key: {v}')
T('fastly-api-token', 'FASTLY_API_TOKEN', lambda: rs(B64U, 32), hdr='Fastly-Key: {v}')
T('vercel-token', 'VERCEL_TOKEN', lambda: rs(AN, 24))
T('netlify-pat', 'NETLIFY_AUTH_TOKEN', lambda: 'nfp_' + rs(AN, 36))
T('fly-io-token', 'FLY_API_TOKEN', lambda: 'FlyV1 fm2_' + rs(B64A, ri(280, 360)), hdr='Authorization: {v}')
T('scaleway-secret-key', 'SCW_SECRET_KEY', uuid4, hdr='X-Auth-Token: {v}',
  comp=lambda: [('SCW_ACCESS_KEY', 'SCW' + rs(ANU, 17))])
T('hetzner-cloud-token', 'HCLOUD_TOKEN', lambda: rs(AN, 64))
T('vultr-api-key', 'VULTR_API_KEY', lambda: rs(ANU, 36))
T('backblaze-b2-application-key', 'B2_APPLICATION_KEY', lambda: 'K00' + pick('12345') + rs(AN + '+/', 27),
  comp=lambda: [('B2_APPLICATION_KEY_ID', '00' + pick('45') + rs(HEX, 21))])
T('oracle-cloud-auth-token', 'OCI_AUTH_TOKEN', lambda: rs(AN + '()<>;:{}[]+-_#', 20))
# source hosting / CI / IaC
T('github-pat-classic', 'GITHUB_TOKEN', lambda: 'ghp_' + rs(AN, 36), hdr='Authorization: token {v}', weight=3)
T('github-fine-grained-pat', 'GH_TOKEN', lambda: 'github_pat_' + rs(AN, 22) + '_' + rs(AN, 59), weight=2)
T('github-oauth-token', 'GITHUB_OAUTH_TOKEN', lambda: 'gho_' + rs(AN, 36))
T('github-app-user-token', 'GITHUB_USER_TOKEN', lambda: 'ghu_' + rs(AN, 36))
T('github-app-installation-token', 'GITHUB_APP_TOKEN', lambda: 'ghs_' + rs(AN, 36))
T('github-refresh-token', 'GITHUB_REFRESH_TOKEN', lambda: 'ghr_' + rs(AN, 76))
T('gitlab-pat', 'GITLAB_TOKEN', lambda: 'glpat-' + rs(B64U, 20), hdr='PRIVATE-TOKEN: {v}', weight=2)
T('gitlab-pipeline-trigger-token', 'CI_TRIGGER_TOKEN', lambda: 'glptt-' + rs(HEX, 40))
T('gitlab-runner-token', 'RUNNER_TOKEN', lambda: 'glrt-' + rs(B64U, 20))
T('gitlab-deploy-token', 'GITLAB_DEPLOY_TOKEN', lambda: 'gldt-' + rs(B64U, 20), hdr='Deploy-Token: {v}')
T('gitlab-feed-token', 'GITLAB_FEED_TOKEN', lambda: 'glft-' + rs(B64U, 20))
T('gitlab-oauth-app-secret', 'GITLAB_APP_SECRET', lambda: 'gloas-' + rs(HEX, 64))
T('bitbucket-app-password', 'BITBUCKET_APP_PASSWORD', lambda: 'ATBB' + rs(AN, 32), hdr=basic(username))
T('atlassian-api-token', 'JIRA_API_TOKEN', lambda: 'ATATT3xFfGF0' + rs(B64U, 170) + '=' + rs(HEXU, 8),
  hdr=basic(lambda: email_of(*person())))
T('circleci-pat', 'CIRCLECI_TOKEN', lambda: 'CCIPAT_' + rs(AN, 22) + '_' + rs(HEX, 40), hdr='Circle-Token: {v}')
T('travis-ci-token', 'TRAVIS_TOKEN', lambda: rs(B64U, 22), hdr='Authorization: token {v}')
T('jenkins-api-token', 'JENKINS_API_TOKEN', lambda: '11' + rs(HEX, 32), hdr=basic(username))
T('buildkite-agent-token', 'BUILDKITE_AGENT_TOKEN', lambda: 'bkua_' + rs(HEX, 40))
T('terraform-cloud-token', 'TFE_TOKEN', lambda: rs(AN, 14) + '.atlasv1.' + rs(AN, 67))
T('vault-service-token', 'VAULT_TOKEN', lambda: 'hvs.' + (rs(B64U, 24) if chance(0.5) else 'CAESI' + rs(B64U, 86)),
  hdr='X-Vault-Token: {v}', weight=1.5)
T('vault-batch-token', 'VAULT_TOKEN', lambda: 'hvb.AAAAAQ' + rs(B64U, ri(120, 140)), hdr='X-Vault-Token: {v}')
T('vault-unseal-key', 'VAULT_UNSEAL_KEY', lambda: b64(rbytes(33)))
T('pulumi-access-token', 'PULUMI_ACCESS_TOKEN', lambda: 'pul-' + rs(HEX, 40), hdr='Authorization: token {v}')
T('doppler-service-token', 'DOPPLER_TOKEN', lambda: 'dp.st.' + pick(['prd', 'dev', 'stg']) + '.' + rs(AN, 40))
T('doppler-personal-token', 'DOPPLER_TOKEN', lambda: 'dp.pt.' + rs(AN, 43))
T('sonarqube-token', 'SONAR_TOKEN', lambda: pick(['squ_', 'sqp_', 'sqa_']) + rs(HEX, 40), hdr=basic_tok_user)
T('snyk-api-token', 'SNYK_TOKEN', uuid4, hdr='Authorization: token {v}')
T('codecov-upload-token', 'CODECOV_TOKEN', uuid4)
T('postman-api-key', 'POSTMAN_API_KEY', lambda: 'PMAK-' + rs(HEX, 24) + '-' + rs(HEX, 34), hdr='X-Api-Key: {v}')
# monitoring / observability
T('sentry-user-auth-token', 'SENTRY_AUTH_TOKEN', lambda: 'sntryu_' + rs(HEX, 64))
T('sentry-org-auth-token', 'SENTRY_AUTH_TOKEN', lambda: 'sntrys_' + b64u(json.dumps(
    {'iat': epoch(), 'url': 'https://sentry.io', 'region_url': 'https://us.sentry.io', 'org': company()},
    separators=(',', ':'))) + '_' + rs(B64U, 43))
T('grafana-service-account-token', 'GRAFANA_TOKEN', lambda: 'glsa_' + rs(AN, 32) + '_' + rs(HEX, 8))
T('grafana-cloud-token', 'GRAFANA_CLOUD_TOKEN', lambda: 'glc_' + b64(json.dumps(
    {'o': str(ri(100000, 999999)), 'n': 'stack-%d-token' % ri(100000, 999999), 'k': rs(AN, 24),
     'm': {'r': pick(['us', 'eu', 'prod-eu-west-2'])}}, separators=(',', ':'))))
T('datadog-api-key', 'DD_API_KEY', lambda: rs(HEX, 32), hdr='DD-API-KEY: {v}', weight=1.5)
T('datadog-application-key', 'DD_APP_KEY', lambda: rs(HEX, 40), hdr='DD-APPLICATION-KEY: {v}',
  comp=lambda: [('DD_API_KEY', rs(HEX, 32))])
T('new-relic-user-api-key', 'NEW_RELIC_API_KEY', lambda: 'NRAK-' + rs(ANU, 27), hdr='Api-Key: {v}')
T('new-relic-license-key', 'NEW_RELIC_LICENSE_KEY', lambda: rs(HEX, 36) + 'NRAL', hdr='X-License-Key: {v}')
T('new-relic-insert-key', 'NEW_RELIC_INSERT_KEY', lambda: 'NRII-' + rs(B64U, 32), hdr='X-Insert-Key: {v}')
T('dynatrace-api-token', 'DT_API_TOKEN', lambda: 'dt0c01.' + rs(ANU, 24) + '.' + rs(ANU, 64),
  hdr='Authorization: Api-Token {v}')
T('splunk-hec-token', 'SPLUNK_HEC_TOKEN', lambda: uuid4().upper(), hdr='Authorization: Splunk {v}')
T('pagerduty-api-key', 'PAGERDUTY_TOKEN', lambda: rs(AN + '+-_', 20), hdr='Authorization: Token token={v}')
T('opsgenie-api-key', 'OPSGENIE_API_KEY', uuid4, hdr='Authorization: GenieKey {v}')
T('honeycomb-api-key', 'HONEYCOMB_API_KEY', lambda: rs(AN, 22), hdr='X-Honeycomb-Team: {v}')
T('elastic-api-key', 'ELASTIC_API_KEY', lambda: b64(rs(AN, 20) + ':' + rs(B64U, 22)), hdr='Authorization: ApiKey {v}')
T('rollbar-access-token', 'ROLLBAR_ACCESS_TOKEN', lambda: rs(HEX, 32), hdr='X-Rollbar-Access-Token: {v}')
T('bugsnag-api-key', 'BUGSNAG_API_KEY', lambda: rs(HEX, 32), hdr='Bugsnag-Api-Key: {v}')
T('launchdarkly-sdk-key', 'LAUNCHDARKLY_SDK_KEY', lambda: 'sdk-' + uuid4(), hdr='Authorization: {v}')
T('launchdarkly-api-token', 'LD_API_TOKEN', lambda: 'api-' + uuid4(), hdr='Authorization: {v}')
T('loggly-customer-token', 'LOGGLY_TOKEN', uuid4)
# package registries
T('npm-access-token', 'NPM_TOKEN', lambda: 'npm_' + rs(AN, 36), weight=2)
T('pypi-api-token', 'TWINE_PASSWORD', lambda: 'pypi-AgEIcHlwaS5vcmc' + rs(B64U, ri(140, 170)),
  hdr=lambda v: 'Authorization: Basic ' + b64('__token__:' + v), weight=1.5)
T('rubygems-api-key', 'GEM_HOST_API_KEY', lambda: 'rubygems_' + rs(HEX, 48), hdr='Authorization: {v}')
T('nuget-api-key', 'NUGET_API_KEY', lambda: 'oy2' + rs(ANL, 43), hdr='X-NuGet-ApiKey: {v}')
T('dockerhub-pat', 'DOCKERHUB_TOKEN', lambda: 'dckr_pat_' + rs(B64U, 27), hdr=basic(username))
T('crates-io-token', 'CARGO_REGISTRY_TOKEN', lambda: 'cio' + rs(AN, 32), hdr='Authorization: {v}')
T('jfrog-api-key', 'ARTIFACTORY_API_KEY', lambda: 'AKCp' + rs(AN, 69), hdr='X-JFrog-Art-Api: {v}')
T('jfrog-reference-token', 'JFROG_ACCESS_TOKEN', lambda: 'cmVmdGtuOjAxOjE3' + rs(AN, 48))
T('clojars-deploy-token', 'CLOJARS_PASSWORD', lambda: 'CLOJARS_' + rs(HEX, 60))
T('hex-pm-api-key', 'HEX_API_KEY', lambda: rs(HEX, 32), hdr='authorization: {v}')
# payments / commerce
T('stripe-live-secret-key', 'STRIPE_SECRET_KEY', lambda: 'sk_live_' + stripe_body(), hdr=basic_tok_user, weight=3)
T('stripe-test-secret-key', 'STRIPE_SECRET_KEY', lambda: 'sk_test_' + stripe_body())
T('stripe-restricted-key', 'STRIPE_RESTRICTED_KEY', lambda: 'rk_live_' + stripe_body())
T('stripe-webhook-secret', 'STRIPE_WEBHOOK_SECRET', lambda: 'whsec_' + rs(AN, 32))
T('braintree-access-token', 'BRAINTREE_ACCESS_TOKEN',
  lambda: 'access_token$production$' + rs(ANL, 16) + '$' + rs(HEX, 32))
T('square-access-token', 'SQUARE_ACCESS_TOKEN', lambda: pick(['EAAA' + rs(B64U, 60), 'sq0atp-' + rs(B64U, 22)]))
T('square-oauth-secret', 'SQUARE_APPLICATION_SECRET', lambda: 'sq0csp-' + rs(B64U, 43))
T('adyen-api-key', 'ADYEN_API_KEY', lambda: 'AQE' + rs(AN, 3) + 'h' + rs(B64U + '.', ri(120, 150)),
  hdr='X-API-Key: {v}')
T('razorpay-key-secret', 'RAZORPAY_KEY_SECRET', lambda: rs(AN, 24),
  comp=lambda: [('RAZORPAY_KEY_ID', 'rzp_live_' + rs(AN, 14))])
T('shopify-admin-access-token', 'SHOPIFY_ACCESS_TOKEN', lambda: 'shpat_' + rs(HEX, 32),
  hdr='X-Shopify-Access-Token: {v}', weight=1.5)
T('shopify-shared-secret', 'SHOPIFY_API_SECRET', lambda: 'shpss_' + rs(HEX, 32))
T('shopify-custom-app-token', 'SHOPIFY_APP_TOKEN', lambda: pick(['shpca_', 'shppa_']) + rs(HEX, 32),
  hdr='X-Shopify-Access-Token: {v}')
T('plaid-secret', 'PLAID_SECRET', lambda: rs(HEX, 30), hdr='PLAID-SECRET: {v}',
  comp=lambda: [('PLAID_CLIENT_ID', rs(HEX, 24))])
T('plaid-access-token', 'PLAID_ACCESS_TOKEN', lambda: 'access-production-' + uuid4())
T('flutterwave-secret-key', 'FLW_SECRET_KEY', lambda: 'FLWSECK-' + rs(HEX, 32) + '-X')
T('paystack-secret-key', 'PAYSTACK_SECRET_KEY', lambda: 'sk_live_' + rs(HEX, 40))
T('mollie-api-key', 'MOLLIE_API_KEY', lambda: 'live_' + rs(AN, 30))
T('gocardless-access-token', 'GOCARDLESS_ACCESS_TOKEN', lambda: 'live_' + rs(B64U, 40))
T('paypal-client-secret', 'PAYPAL_CLIENT_SECRET', lambda: 'E' + rs(B64U, 79),
  comp=lambda: [('PAYPAL_CLIENT_ID', 'A' + rs(B64U, 79))])
T('checkout-com-secret-key', 'CKO_SECRET_KEY', lambda: 'sk_' + uuid4(), hdr='Authorization: {v}')
T('wise-api-token', 'WISE_API_TOKEN', uuid4)
# chat / messaging / email
T('slack-bot-token', 'SLACK_BOT_TOKEN', lambda: 'xoxb-' + digits(ri(10, 13)) + '-' + digits(ri(10, 13)) + '-' +
  rs(AN, 24), weight=2.5)
T('slack-user-token', 'SLACK_USER_TOKEN', lambda: 'xoxp-' + digits(ri(10, 13)) + '-' + digits(ri(10, 13)) + '-' +
  digits(ri(10, 13)) + '-' + rs(HEX, 32))
T('slack-app-level-token', 'SLACK_APP_TOKEN', lambda: 'xapp-1-A' + rs(ANU, 10) + '-' + digits(13) + '-' +
  rs(HEX, 64))
T('slack-config-refresh-token', 'SLACK_REFRESH_TOKEN', lambda: 'xoxe-1-' + rs(B64U, 140))
T('discord-bot-token', 'DISCORD_TOKEN', lambda: b64u(str(ri(10 ** 17, 10 ** 18))) + '.' + rs(B64U, 6) + '.' +
  rs(B64U, 38), hdr='Authorization: Bot {v}')
T('telegram-bot-token', 'TELEGRAM_BOT_TOKEN', lambda: str(ri(10 ** 8, 10 ** 10)) + ':AA' + rs(B64U, 33), weight=1.5)
T('twilio-auth-token', 'TWILIO_AUTH_TOKEN', lambda: rs(HEX, 32), hdr=basic(lambda: 'AC' + rs(HEX, 32)),
  comp=lambda: [('TWILIO_ACCOUNT_SID', 'AC' + rs(HEX, 32))])
T('twilio-api-key-secret', 'TWILIO_API_SECRET', lambda: rs(AN, 32), comp=lambda: [('TWILIO_API_KEY', 'SK' + rs(HEX, 32))])
T('sendgrid-api-key', 'SENDGRID_API_KEY', lambda: 'SG.' + rs(B64U, 22) + '.' + rs(B64U, 43), weight=1.5)
T('mailgun-api-key', 'MAILGUN_API_KEY', lambda: pick(['key-' + rs(HEX, 32), rs(HEX, 32) + '-' + rs(HEX, 8) + '-' +
                                                      rs(HEX, 8)]), hdr=lambda v: 'Authorization: Basic ' + b64('api:' + v))
T('mailchimp-api-key', 'MAILCHIMP_API_KEY', lambda: rs(HEX, 32) + '-us' + str(ri(1, 21)), hdr=basic(username))
T('postmark-server-token', 'POSTMARK_SERVER_TOKEN', uuid4, hdr='X-Postmark-Server-Token: {v}')
T('brevo-api-key', 'BREVO_API_KEY', lambda: 'xkeysib-' + rs(HEX, 64) + '-' + rs(AN, 16), hdr='api-key: {v}')
T('mailjet-secret-key', 'MJ_APIKEY_PRIVATE', lambda: rs(HEX, 32), comp=lambda: [('MJ_APIKEY_PUBLIC', rs(HEX, 32))])
T('matrix-access-token', 'MATRIX_ACCESS_TOKEN', lambda: 'syt_' + b64u(pick(WORDS) + str(ri(1, 99))) + '_' +
  rs(AN, 20) + '_' + rs(AN, 6))
T('vonage-api-secret', 'VONAGE_API_SECRET', lambda: rs(AN, 16), comp=lambda: [('VONAGE_API_KEY', rs(HEX, 8))])
T('twitter-bearer-token', 'TWITTER_BEARER_TOKEN', lambda: 'A' * 21 + rs(AN, 8) + 'AAAAAA' + rs(AN, 2) + '%2B' +
  rs(AN, 20) + '%3D' + rs(AN, 50))
T('meta-graph-access-token', 'FB_PAGE_ACCESS_TOKEN', lambda: pick(['EAAG', 'EAAB', 'EAAJ']) + rs(AN, ri(150, 200)))
T('intercom-access-token', 'INTERCOM_TOKEN', lambda: 'dG9rOj' + rs(B64A, 54) + '=')
T('zendesk-api-token', 'ZENDESK_API_TOKEN', lambda: rs(AN, 40),
  hdr=lambda v: 'Authorization: Basic ' + b64(email_of(*person()) + '/token:' + v))
T('freshdesk-api-key', 'FRESHDESK_API_KEY', lambda: rs(AN, 20), hdr=lambda v: 'Authorization: Basic ' + b64(v + ':X'))
# SaaS / productivity / identity
T('hubspot-private-app-token', 'HUBSPOT_ACCESS_TOKEN', lambda: 'pat-' + pick(['na1', 'eu1']) + '-' + uuid4())
T('salesforce-access-token', 'SF_ACCESS_TOKEN', lambda: '00D' + rs(AN, 12) + '!' + rs(AN + '._', 96))
T('okta-api-token', 'OKTA_API_TOKEN', lambda: '00' + rs(B64U, 40), hdr='Authorization: SSWS {v}')
T('auth0-client-secret', 'AUTH0_CLIENT_SECRET', lambda: rs(B64U, 64), comp=lambda: [('AUTH0_CLIENT_ID', rs(AN, 32))])
T('notion-integration-token', 'NOTION_TOKEN', lambda: pick(['secret_' + rs(AN, 43), 'ntn_' + digits(11) + rs(AN, 35)]))
T('airtable-pat', 'AIRTABLE_TOKEN', lambda: 'pat' + rs(AN, 14) + '.' + rs(HEX, 64))
T('asana-pat', 'ASANA_TOKEN', lambda: '2/' + digits(16) + '/' + digits(16) + ':' + rs(HEX, 32))
T('linear-api-key', 'LINEAR_API_KEY', lambda: 'lin_api_' + rs(AN, 40), hdr='Authorization: {v}')
T('figma-pat', 'FIGMA_TOKEN', lambda: 'figd_' + rs(B64U, 40), hdr='X-Figma-Token: {v}')
T('dropbox-access-token', 'DROPBOX_TOKEN', lambda: 'sl.' + rs(B64U, ri(130, 140)))
T('mapbox-secret-token', 'MAPBOX_SECRET_TOKEN', lambda: 'sk.' + b64u(json.dumps(
    {'u': pick(WORDS) + str(ri(1, 99)), 'a': rs(ANL, 25)}, separators=(',', ':'))) + '.' + rs(B64U, 22))
T('algolia-admin-api-key', 'ALGOLIA_ADMIN_KEY', lambda: rs(HEX, 32), hdr='X-Algolia-API-Key: {v}',
  comp=lambda: [('ALGOLIA_APP_ID', rs(ANU, 10))])
T('contentful-management-token', 'CONTENTFUL_MANAGEMENT_TOKEN', lambda: 'CFPAT-' + rs(B64U, 43))
T('typeform-pat', 'TYPEFORM_TOKEN', lambda: 'tfp_' + rs(AN, 44) + '_' + rs(AN, 14))
T('readme-api-key', 'README_API_KEY', lambda: 'rdme_' + rs(HEX, 70))
T('prefect-api-key', 'PREFECT_API_KEY', lambda: 'pnu_' + rs(AN, 36))
T('mixpanel-api-secret', 'MIXPANEL_API_SECRET', lambda: rs(HEX, 32), hdr=basic_tok_user)
T('firebase-fcm-server-key', 'FCM_SERVER_KEY', lambda: 'AAAA' + rs(B64U, 7) + ':APA91b' + rs(B64U, 134),
  hdr='Authorization: key={v}')
T('ghost-admin-api-key', 'GHOST_ADMIN_API_KEY', lambda: rs(HEX, 24) + ':' + rs(HEX, 64))
# databases / data platforms
T('planetscale-password', 'PLANETSCALE_PASSWORD', lambda: 'pscale_pw_' + rs(B64U, 43))
T('planetscale-service-token', 'PLANETSCALE_SERVICE_TOKEN', lambda: 'pscale_tkn_' + rs(B64U, 43))
T('supabase-service-role-key', 'SUPABASE_SERVICE_ROLE_KEY', lambda: jwt(
    {'iss': 'supabase', 'ref': rs(ANL, 20), 'role': 'service_role', 'iat': 1700000000 + ri(0, 9999999),
     'exp': 2000000000 + ri(0, 99999999)}), hdr='apikey: {v}')
T('supabase-access-token', 'SUPABASE_ACCESS_TOKEN', lambda: 'sbp_' + rs(HEX, 40))
T('databricks-pat', 'DATABRICKS_TOKEN', lambda: 'dapi' + rs(HEX, 32),
  comp=lambda: [('DATABRICKS_HOST', 'https://dbc-%s-%s.cloud.databricks.com' % (rs(HEX, 8), rs(HEX, 4)))])
T('mongodb-atlas-private-key', 'MONGODB_ATLAS_PRIVATE_KEY', uuid4,
  comp=lambda: [('MONGODB_ATLAS_PUBLIC_KEY', rs(ANL, 8))])
T('influxdb-token', 'INFLUX_TOKEN', lambda: rs(B64U, 86) + '==', hdr='Authorization: Token {v}')
T('confluent-cloud-api-secret', 'CONFLUENT_API_SECRET', lambda: rs(B64A, 64),
  comp=lambda: [('CONFLUENT_API_KEY', rs(ANU, 16))])
T('upstash-redis-token', 'UPSTASH_REDIS_REST_TOKEN', lambda: 'AX' + rs(B64U, ri(60, 80)) + '=')
# AI APIs
T('openai-api-key', 'OPENAI_API_KEY', lambda: pick(['sk-proj-' + rs(B64U, 156), 'sk-' + rs(AN, 20) + 'T3BlbkFJ' +
                                                    rs(AN, 20), 'sk-svcacct-' + rs(B64U, 156)]), weight=3)
T('anthropic-api-key', 'ANTHROPIC_API_KEY', lambda: 'sk-ant-api03-' + rs(B64U, 93) + 'AA', hdr='x-api-key: {v}',
  weight=3)
T('anthropic-admin-key', 'ANTHROPIC_ADMIN_KEY', lambda: 'sk-ant-admin01-' + rs(B64U, 93) + 'AA', hdr='x-api-key: {v}')
T('huggingface-token', 'HF_TOKEN', lambda: 'hf_' + rs(LO + UP, 34), weight=1.5)
T('cohere-api-key', 'CO_API_KEY', lambda: rs(AN, 40))
T('replicate-api-token', 'REPLICATE_API_TOKEN', lambda: 'r8_' + rs(AN, 37), hdr='Authorization: Token {v}')
T('groq-api-key', 'GROQ_API_KEY', lambda: 'gsk_' + rs(AN, 52))
T('perplexity-api-key', 'PPLX_API_KEY', lambda: 'pplx-' + rs(AN, 48))
T('mistral-api-key', 'MISTRAL_API_KEY', lambda: rs(AN, 32))
T('xai-api-key', 'XAI_API_KEY', lambda: 'xai-' + rs(AN, 80))
T('openrouter-api-key', 'OPENROUTER_API_KEY', lambda: 'sk-or-v1-' + rs(HEX, 64))
T('langsmith-api-key', 'LANGSMITH_API_KEY', lambda: 'lsv2_' + pick(['pt', 'sk']) + '_' + rs(HEX, 32) + '_' +
  rs(HEX, 10), hdr='x-api-key: {v}')
T('pinecone-api-key', 'PINECONE_API_KEY', lambda: 'pcsk_' + rs(AN, 6) + '_' + rs(AN, 63), hdr='Api-Key: {v}')
T('wandb-api-key', 'WANDB_API_KEY', lambda: rs(HEX, 40), hdr=lambda v: 'Authorization: Basic ' + b64('api:' + v))
T('elevenlabs-api-key', 'ELEVENLABS_API_KEY', lambda: 'sk_' + rs(HEX, 48), hdr='xi-api-key: {v}')
T('deepgram-api-key', 'DEEPGRAM_API_KEY', lambda: rs(HEX, 40), hdr='Authorization: Token {v}')
T('assemblyai-api-key', 'ASSEMBLYAI_API_KEY', lambda: rs(HEX, 32), hdr='authorization: {v}')
T('together-api-key', 'TOGETHER_API_KEY', lambda: rs(HEX, 64))
T('stability-api-key', 'STABILITY_API_KEY', lambda: 'sk-' + rs(AN, 48))
# application secrets / sessions
T('jwt-bearer-token', 'ACCESS_TOKEN', lambda: jwt({'sub': uuid4(), 'email': email_of(*person()), 'scope': 'openid '
                                                   'profile admin', 'iat': epoch(), 'exp': epoch() + 3600},
                                                  pick(['HS256', 'RS256'])), weight=2)
T('kubernetes-service-account-token', 'K8S_TOKEN', lambda: jwt(
    {'iss': 'kubernetes/serviceaccount', 'kubernetes.io/serviceaccount/namespace': pick(['default', 'prod', 'ci']),
     'kubernetes.io/serviceaccount/service-account.name': pick(SERVICES) + '-sa',
     'sub': 'system:serviceaccount:prod:' + pick(SERVICES)}, 'RS256'))
T('session-cookie', 'SESSION_ID', lambda: rs(ANL, 32), hdr=lambda v: 'Cookie: csrftoken=%s; sessionid=%s' % (
    rs(AN, 32), v))
T('express-session-cookie', 'CONNECT_SID', lambda: 's%3A' + rs(B64U, 32) + '.' + rs(B64A, 43),
  hdr='Cookie: connect.sid={v}')
T('rails-secret-key-base', 'SECRET_KEY_BASE', lambda: rs(HEX, 128))
T('django-secret-key', 'DJANGO_SECRET_KEY', lambda: rs(LO + DG + '!@#$%^&*(-_=+)', 50))
T('laravel-app-key', 'APP_KEY', lambda: 'base64:' + b64(rbytes(32)))
T('symfony-app-secret', 'APP_SECRET', lambda: rs(HEX, 32))
T('nextauth-secret', 'NEXTAUTH_SECRET', lambda: b64(rbytes(32)))
T('encryption-key-hex', 'ENCRYPTION_KEY', lambda: rs(HEX, 64))
T('webhook-signing-secret', 'WEBHOOK_SIGNING_SECRET', lambda: rs(AN, 48))
T('generic-api-key', 'API_KEY', lambda: rs(AN, 32), hdr='X-Api-Key: {v}', weight=1.5)
T('basic-auth-credentials', 'BASIC_AUTH', lambda: username() + ':' + password(),
  hdr=lambda v: 'Authorization: Basic ' + b64(v), weight=2)
T('password-in-config', 'DB_PASSWORD', password, hdr='X-Db-Password: {v}', weight=3)
reg('password-in-prose', 'password', password, env='PASSWORD', weight=6)
# key material on one line
T('jwk-private-key', 'JWT_SIGNING_JWK', key_jwk)
T('age-secret-key', 'SOPS_AGE_KEY', key_age)
T('wireguard-private-key', 'WG_PRIVATE_KEY', key_wireguard)
T('ethereum-private-key', 'PRIVATE_KEY', key_eth, weight=1.5)
T('bitcoin-wif-private-key', 'BTC_WIF', key_wif)
T('bip32-extended-private-key', 'XPRV', key_xprv)
T('bip39-mnemonic', 'MNEMONIC', key_mnemonic, weight=2)
T('solana-keypair', 'SOLANA_PRIVATE_KEY', key_solana)
T('nostr-private-key', 'NOSTR_NSEC', key_nsec)
# multiline key material
for _n, _g in [('rsa-private-key', key_rsa), ('pkcs8-private-key', key_pkcs8), ('ec-private-key', key_ec),
               ('dsa-private-key', key_dsa), ('encrypted-private-key', key_encrypted),
               ('openssh-private-key', key_openssh), ('pgp-private-key-block', key_pgp),
               ('putty-private-key', key_putty), ('openvpn-static-key', key_openvpn)]:
    reg(_n, 'multiline', _g, env='PRIVATE_KEY', weight=2 if _n in ('rsa-private-key', 'openssh-private-key') else 1.2)


# connection strings / credentialed URLs
def U(name, env, gen, weight=1.0):
    reg(name, 'uri', gen, env=env, weight=weight)


def _pw():
    return q(password())


U('postgres-connection-uri', 'DATABASE_URL', lambda: 'postgresql://%s:%s@%s:5432/%s?sslmode=require' % (
    username(), _pw(), pick(['db.', 'pg.', 'rds.']) + host(), pick(SERVICES)), weight=2)
U('mysql-connection-uri', 'MYSQL_URL', lambda: 'mysql://%s:%s@%s:3306/%s' % (username(), _pw(), host(), pick(SERVICES)))
U('mongodb-connection-uri', 'MONGODB_URI', lambda: 'mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority' % (
    username(), _pw(), rs(ANL, 5), pick(SERVICES)), weight=1.5)
U('redis-connection-uri', 'REDIS_URL', lambda: '%s://%s:%s@%s:%d/0' % (pick(['redis', 'rediss']), pick(['default', '']),
                                                                        rs(AN, 32), host(), pick([6379, 6380, 25061])))
U('amqp-connection-uri', 'AMQP_URL', lambda: 'amqps://%s:%s@%s/%s' % (username(), _pw(), host(), pick(['prod', 'vhost1'])))
U('mssql-connection-string', 'SQLSERVER_CONNECTION', lambda: 'Server=tcp:%s.database.windows.net,1433;Initial Catalog=%s;'
  'Persist Security Info=False;User ID=%s;Password=%s;Encrypt=True;Connection Timeout=30;' % (
      company() + '-sql', pick(SERVICES), username(), password()))
U('jdbc-connection-string', 'JDBC_URL', lambda: 'jdbc:%s://%s:%d/%s?user=%s&password=%s' % (
    pick(['postgresql', 'mysql', 'mariadb']), host(), pick([5432, 3306]), pick(SERVICES), username(), _pw()))
U('azure-storage-connection-string', 'AZURE_STORAGE_CONNECTION_STRING', lambda: 'DefaultEndpointsProtocol=https;'
  'AccountName=%s;AccountKey=%s==;EndpointSuffix=core.windows.net' % (company() + rs(ANL, 6), rs(B64A, 86)), weight=1.5)
U('azure-service-bus-connection-string', 'SERVICEBUS_CONNECTION', lambda: 'Endpoint=sb://%s.servicebus.windows.net/;'
  'SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s=' % (company() + '-bus', rs(B64A, 43)))
U('azure-sas-url', 'AZURE_SAS_URL', lambda: 'https://%s.blob.core.windows.net/%s/%s?sv=2022-11-02&ss=b&srt=co&sp=rwdlac'
  '&se=2026-%02d-%02dT00:00:00Z&st=2025-01-01T00:00:00Z&spr=https&sig=%s' % (
      company() + rs(ANL, 4), pick(['backups', 'exports', 'uploads']), pick(['db.bak', 'report.csv', 'a.tar']),
      ri(1, 12), ri(1, 28), q(b64(rbytes(32)))))
U('aws-presigned-url', 'PRESIGNED_URL', lambda: 'https://%s.s3.amazonaws.com/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&'
  'X-Amz-Credential=%s%%2F2025%02d%02d%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=2025%02d%02dT120000Z&'
  'X-Amz-Expires=604800&X-Amz-Security-Token=%s&X-Amz-SignedHeaders=host&X-Amz-Signature=%s' % (
      company() + '-private', pick(['exports/users.csv', 'backups/db.sql.gz']), 'ASIA' + rs(B32, 16), ri(1, 12),
      ri(1, 28), ri(1, 12), ri(1, 28), q('IQoJb3JpZ2luX2Vj' + rs(B64A, 300)), rs(HEX, 64)))
U('ftp-url-credentials', 'FTP_URL', lambda: '%s://%s:%s@%s/%s' % (pick(['ftp', 'sftp', 'ftps']), username(), _pw(),
                                                                  'ftp.' + company() + '.com', pick(['upload', 'in'])))
U('smtp-url-credentials', 'SMTP_URL', lambda: 'smtp://%s:%s@smtp.%s:587' % (q(email_of(*person())), _pw(),
                                                                             pick(['sendgrid.net', 'mailgun.org',
                                                                                   company() + '.com'])))
U('elasticsearch-url-credentials', 'ELASTICSEARCH_URL', lambda: 'https://elastic:%s@%s.es.%s.aws.found.io:9243' % (
    rs(AN, 24), rs(HEX, 32), pick(['us-east-1', 'eu-west-1'])))
U('neo4j-connection-uri', 'NEO4J_URI', lambda: 'neo4j+s://neo4j:%s@%s.databases.neo4j.io' % (rs(B64U, 43), rs(HEX, 8)))
U('kafka-sasl-jaas-config', 'KAFKA_SASL_JAAS_CONFIG', lambda: 'org.apache.kafka.common.security.plain.PlainLoginModule'
  ' required username="%s" password="%s";' % (rs(ANU, 16), rs(B64A, 64)))
U('snowflake-connection-uri', 'SNOWFLAKE_URL', lambda: 'snowflake://%s:%s@%s-%s/%s/PUBLIC?warehouse=COMPUTE_WH' % (
    username(), _pw(), rs(ANU, 7), rs(ANU, 7), pick(SERVICES).upper()))
U('clickhouse-connection-uri', 'CLICKHOUSE_URL', lambda: 'clickhouse://default:%s@%s.clickhouse.cloud:9440/default?secure=true' % (
    rs(AN + '~._', 20), rs(ANL, 10)))
U('git-remote-with-token', 'GIT_REMOTE', lambda: pick([
    'https://%s:ghp_%s@github.com/%s/%s.git' % (username(), rs(AN, 36), company(), pick(SERVICES)),
    'https://oauth2:glpat-%s@gitlab.com/%s/%s.git' % (rs(B64U, 20), company(), pick(SERVICES)),
    'https://x-token-auth:%s@bitbucket.org/%s/%s.git' % (rs(B64U, 40), company(), pick(SERVICES))]))
U('slack-incoming-webhook', 'SLACK_WEBHOOK_URL', lambda: 'https://hooks.slack.com/services/T%s/B%s/%s' % (
    rs(ANU, 10), rs(ANU, 10), rs(AN, 24)), weight=2)
U('discord-webhook-url', 'DISCORD_WEBHOOK_URL', lambda: 'https://discord.com/api/webhooks/%d/%s' % (
    ri(10 ** 17, 10 ** 18), rs(B64U, 68)), weight=1.5)
U('microsoft-teams-webhook', 'TEAMS_WEBHOOK_URL', lambda: 'https://%s.webhook.office.com/webhookb2/%s@%s/IncomingWebhook/%s/%s' % (
    company(), uuid4(), uuid4(), rs(HEX, 32), uuid4()))
U('password-in-url', 'SERVICE_URL', lambda: 'https://%s:%s@%s/%s' % (username(), _pw(), host(), pick(['api', 'admin', 'metrics'])),
  weight=2)
U('totp-seed-uri', 'OTP_URI', lambda: 'otpauth://totp/%s:%s?secret=%s&issuer=%s' % (
    company().capitalize(), q(email_of(*person())), rs(B32, 32), company().capitalize()))
reg('password-in-cli-args', 'cmd', lambda: None, weight=3)
reg('credential-combo-list', 'doc1', pii_combo, env='COMBO', weight=1.2)


def gen_cmd():
    u, p, h = username(), password(), host()
    sq = "'" + p.replace("'", "'\\''") + "'"
    return pick([
        'mysql -h %s -u %s -p%s %s' % (h, u, sq, pick(SERVICES)),
        'sshpass -p %s ssh -o StrictHostKeyChecking=no %s@%s' % (sq, u, h),
        'curl -sS -u %s:%s https://%s/api/v1/export' % (u, sq, h),
        'docker login -u %s -p %s registry.%s.io' % (u, sq, company()),
        'PGPASSWORD=%s psql -h %s -U %s -d %s -c "select 1"' % (sq, h, u, pick(SERVICES)),
        'net use \\\\\\\\fs01.%s.local\\\\share /user:CORP\\\\%s %s' % (company(), u, p),
        'wget --user=%s --password=%s https://%s/dist/release.tgz' % (u, sq, h),
        'mongodump --uri "mongodb://%s:%s@%s:27017/admin" --out /tmp/dump' % (u, q(p), h),
        'redis-cli -h %s -a %s --no-auth-warning INFO' % (h, sq),
        'htpasswd -b -c /etc/nginx/.htpasswd %s %s' % (u, sq),
        'az login --service-principal -u %s -p %s --tenant %s' % (uuid4(), rs(AN, 3) + '8Q~' + rs(AN + '_~.-', 34), uuid4()),
        'openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 -passout pass:%s' % p,
        'mysqldump --user=%s --password=%s --all-databases > backup.sql' % (u, sq),
        'smbclient //%s/backup -U %s%%%s' % (h, u, p),
        'rsync -e "sshpass -p %s ssh" -av ./build/ %s@%s:/srv/www/' % (sq, u, h),
        'ldapsearch -x -H ldaps://ldap.%s.com -D "cn=admin,dc=%s,dc=com" -w %s "(uid=*)"' % (company(), company(), sq),
    ])


CLASSES[-2]['gen'] = gen_cmd


def D(name, gen, weight=1.0):
    reg(name, 'doc', gen, weight=weight)


def doc_gcp_sa():
    proj = '%s-%s-%d' % (company(), pick(SERVICES), ri(100000, 999999))
    sa = pick(SERVICES) + '-sa'
    d = {'type': 'service_account', 'project_id': proj, 'private_key_id': rs(HEX, 40), 'private_key': key_pkcs8() + '\n',
         'client_email': '%s@%s.iam.gserviceaccount.com' % (sa, proj), 'client_id': digits(21),
         'auth_uri': 'https://accounts.google.com/o/oauth2/auth', 'token_uri': 'https://oauth2.googleapis.com/token',
         'auth_provider_x509_cert_url': 'https://www.googleapis.com/oauth2/v1/certs',
         'client_x509_cert_url': 'https://www.googleapis.com/robot/v1/metadata/x509/%s%%40%s.iam.gserviceaccount.com' % (sa, proj),
         'universe_domain': 'googleapis.com'}
    return 'service-account.json', 'application/json', json.dumps(d, indent=2)


def doc_kubeconfig():
    name = pick(['prod', 'staging', 'eks-main', 'gke-ops'])
    srv = 'https://%s.%s.eks.amazonaws.com' % (rs(HEXU, 32), pick(['eu-west-1', 'us-east-1']))
    if chance(0.5):
        user = '    token: %s' % jwt({'iss': 'kubernetes/serviceaccount', 'sub': 'system:serviceaccount:kube-system:admin'}, 'RS256')
    else:
        user = '    client-certificate-data: %s\n    client-key-data: %s' % (b64(rbytes(600)), b64(key_ec()))
    return 'config', 'application/yaml', ('apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: %s\n'
                                         '    server: %s\n  name: %s\ncontexts:\n- context:\n    cluster: %s\n    user: %s-admin\n'
                                         '  name: %s\ncurrent-context: %s\nusers:\n- name: %s-admin\n  user:\n%s\n' % (
                                             b64(rbytes(300)), srv, name, name, name, name, name, name, user))


def doc_docker_config():
    reg_ = pick(['https://index.docker.io/v1/', 'ghcr.io', '%d.dkr.ecr.eu-west-1.amazonaws.com' % ri(10 ** 11, 10 ** 12 - 1),
                 'registry.gitlab.com', 'quay.io'])
    d = {'auths': {reg_: {'auth': b64(username() + ':' + password())}}, 'credsStore': '', 'HttpHeaders': {'User-Agent': 'Docker-Client/24.0.7 (linux)'}}
    return 'config.json', 'application/json', json.dumps(d, indent='\t')


def doc_npmrc():
    return '.npmrc', 'text/plain', ('registry=https://npm.%s.com/\n//npm.%s.com/:_auth=%s\n//npm.%s.com/:always-auth=true\n'
                                    'email=%s\n' % ((c := company()), c, b64(username() + ':' + password()), c, email_of(*person())))


def doc_netrc():
    lines = []
    for _ in range(ri(1, 3)):
        lines.append('machine %s\n  login %s\n  password %s' % (host(), username(), password()))
    return '.netrc', 'text/plain', '\n'.join(lines) + '\n'


def doc_pypirc():
    return '.pypirc', 'text/plain', ('[distutils]\nindex-servers =\n    pypi\n    internal\n\n[pypi]\nusername = __token__\n'
                                     'password = ${PYPI_TOKEN}\n\n[internal]\nrepository = https://pypi.%s.com/simple/\n'
                                     'username = %s\npassword = %s\n' % (company(), username(), password()))


def doc_git_credentials():
    return '.git-credentials', 'text/plain', 'https://%s:%s@github.com\nhttps://%s:%s@gitlab.%s.com\n' % (
        username(), 'ghp_' + rs(AN, 36), username(), password(), company())


def doc_htpasswd():
    lines = []
    for _ in range(ri(2, 4)):
        u = username()
        if chance(0.5):
            lines.append('%s:$apr1$%s$%s' % (u, rs(AN, 8), rs(AN + './', 22)))
        else:
            lines.append('%s:$2y$10$%s' % (u, rs(AN + './', 53)))
    return '.htpasswd', 'text/plain', '\n'.join(lines) + '\n'


def doc_shadow():
    lines = ['daemon:*:19000:0:99999:7:::', 'bin:*:19000:0:99999:7:::']
    for u in ['root', username()]:
        lines.append('%s:$6$%s$%s:%d:0:99999:7:::' % (u, rs(AN + './', 16), rs(AN + './', 86), ri(19000, 20000)))
    return 'shadow', 'text/plain', '\n'.join(lines) + '\n'


def doc_ntlm():
    lines = []
    for u, rid in [('Administrator', 500), ('Guest', 501), (username(), ri(1000, 1200))]:
        lines.append('%s:%d:aad3b435b51404eeaad3b435b51404ee:%s:::' % (u, rid, rs(HEX, 32)))
    return 'hashes.txt', 'text/plain', '\n'.join(lines) + '\n'


def doc_wpconfig():
    salts = '\n'.join("define( '%s', '%s' );" % (k, rs(AN + '!@#$%^&*()-_[]{}<>~+=,.;:/?|', 64)) for k in
                      ['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY'])
    return 'wp-config.php', 'text/x-php', ("<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', '%s' );\n"
                                         "define( 'DB_PASSWORD', '%s' );\ndefine( 'DB_HOST', 'localhost' );\n%s\n"
                                         "$table_prefix = 'wp_';\n" % (username(), password().replace("'", ''), salts))


def doc_aws_credentials():
    s = '[default]\naws_access_key_id = AKIA%s\naws_secret_access_key = %s\nregion = %s\n' % (
        rs(B32, 16), rs(B64A, 40), pick(['us-east-1', 'eu-central-1']))
    if chance(0.5):
        s += '\n[%s]\naws_access_key_id = AKIA%s\naws_secret_access_key = %s\n' % (pick(['prod', 'ci', 'admin']), rs(B32, 16), rs(B64A, 40))
    return 'credentials', 'text/plain', s


def doc_tfstate():
    d = {'version': 4, 'terraform_version': '1.6.%d' % ri(0, 6), 'serial': ri(1, 200), 'lineage': uuid4(), 'outputs': {},
         'resources': [{'mode': 'managed', 'type': 'aws_db_instance', 'name': 'main', 'provider':
                        'provider["registry.terraform.io/hashicorp/aws"]', 'instances': [{'schema_version': 2, 'attributes': {
                            'identifier': pick(SERVICES) + '-db', 'engine': 'postgres', 'username': username(),
                            'password': password(), 'port': 5432, 'instance_class': 'db.t3.medium'}, 'sensitive_attributes': []}]}]}
    return 'terraform.tfstate', 'application/json', json.dumps(d, indent=2)


def doc_ansible():
    return 'inventory.ini', 'text/plain', ('[web]\n%s ansible_host=10.%d.%d.%d ansible_user=%s ansible_ssh_pass=%s '
                                           'ansible_become_pass=%s\n' % ('web01', ri(0, 255), ri(0, 255), ri(1, 254), username(),
                                                                         password(), password()))


def doc_mycnf():
    return '.my.cnf', 'text/plain', '[client]\nuser=%s\npassword="%s"\nhost=%s\n' % (username(), password(), host())


def doc_pgpass():
    return '.pgpass', 'text/plain', '\n'.join('%s:5432:%s:%s:%s' % (host(), pick(SERVICES), username(), password().replace(':', ''))
                                             for _ in range(ri(1, 3))) + '\n'


def doc_filezilla():
    sites = ''.join('<Server><Host>%s</Host><Port>21</Port><Protocol>0</Protocol><Type>0</Type><User>%s</User>'
                    '<Pass encoding="base64">%s</Pass><Logontype>1</Logontype><Name>%s</Name></Server>' % (
                        'ftp.' + company() + '.com', username(), b64(password()), pick(WORDS)) for _ in range(ri(1, 2)))
    return 'sitemanager.xml', 'application/xml', ('<?xml version="1.0" encoding="UTF-8"?>\n<FileZilla3 version="3.66.1" '
                                                  'platform="windows"><Servers>%s</Servers></FileZilla3>\n' % sites)


def doc_wpa():
    return 'wpa_supplicant.conf', 'text/plain', ('ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev\ncountry=DE\n\n'
                                                 'network={\n    ssid="%s"\n    psk="%s"\n    key_mgmt=WPA-PSK\n}\n' % (
                                                     pick(WORDS).capitalize() + '-' + str(ri(1, 9)) + 'G', password()))


def doc_gradle():
    return 'gradle.properties', 'text/plain', ('org.gradle.jvmargs=-Xmx2048m\nandroid.useAndroidX=true\nRELEASE_STORE_FILE=release.jks\n'
                                               'RELEASE_STORE_PASSWORD=%s\nRELEASE_KEY_ALIAS=upload\nRELEASE_KEY_PASSWORD=%s\n' % (
                                                   password(), password()))


def doc_recovery():
    codes = '\n'.join('%s-%s' % (rs(HEX, 5), rs(HEX, 5)) for _ in range(16))
    return '%s-recovery-codes.txt' % pick(['github', 'gitlab', 'aws']), 'text/plain', \
        'Keep these recovery codes somewhere safe.\n\n' + codes + '\n'


def doc_cookiejar():
    dom = '.' + company() + '.com'
    lines = ['# Netscape HTTP Cookie File', '# This is a generated file! Do not edit.', '']
    lines.append('%s\tTRUE\t/\tTRUE\t%d\t_ga\tGA1.2.%d.%d' % (dom, epoch() + 10 ** 7, ri(10 ** 8, 10 ** 9), epoch()))
    lines.append('%s\tTRUE\t/\tTRUE\t%d\tsession_token\t%s' % (dom, epoch() + 10 ** 6, rs(B64U, 48)))
    lines.append('%s\tTRUE\t/\tTRUE\t%d\tremember_user_token\t%s' % (dom, epoch() + 10 ** 7, b64u(rbytes(40))))
    return 'cookies.txt', 'text/plain', '\n'.join(lines) + '\n'


def doc_pkcs12():
    return 'client.p12', 'application/x-pkcs12', pkcs12_bytes()


for _n, _g, _w in [('gcp-service-account-key', doc_gcp_sa, 2), ('kubeconfig-credentials', doc_kubeconfig, 1.5),
                   ('docker-registry-auth', doc_docker_config, 1.2), ('npmrc-auth', doc_npmrc, 1),
                   ('netrc-credentials', doc_netrc, 1), ('pypirc-password', doc_pypirc, 1),
                   ('git-credentials-file', doc_git_credentials, 1), ('htpasswd-hash', doc_htpasswd, 1),
                   ('unix-shadow-hash', doc_shadow, 1), ('ntlm-password-hash', doc_ntlm, 1),
                   ('wordpress-config-secrets', doc_wpconfig, 1), ('aws-shared-credentials-file', doc_aws_credentials, 1.5),
                   ('terraform-state-password', doc_tfstate, 1), ('ansible-inventory-password', doc_ansible, 1),
                   ('mysql-client-password', doc_mycnf, 1), ('pgpass-password', doc_pgpass, 1),
                   ('filezilla-saved-password', doc_filezilla, 1), ('wifi-psk', doc_wpa, 1),
                   ('android-keystore-password', doc_gradle, 1), ('mfa-recovery-codes', doc_recovery, 1),
                   ('browser-cookie-jar', doc_cookiejar, 1), ('pkcs12-keystore', doc_pkcs12, 1)]:
    D(_n, _g, _w)


# personal data
def P(name, gen, label, field, lang='en', weight=1.0, kind='pii'):
    reg(name, kind, gen, label=label, field=field, lang=lang, weight=weight)


P('us-ssn', pii_us_ssn, 'SSN', 'ssn', weight=3)
P('us-itin', pii_us_itin, 'ITIN', 'itin')
P('us-ein', pii_us_ein, 'EIN', 'ein')
P('us-passport-number', pii_us_passport, 'Passport No.', 'passport_number')
P('us-medicare-mbi', pii_us_mbi, 'Medicare Beneficiary Identifier', 'mbi')
P('us-bank-account', pii_us_bank, 'Bank account', 'bank_account')
P('visa-card-number', lambda: fmt_card(card('4', pick([16, 16, 16, 13, 19]))), 'Card number', 'card_number', weight=2.5)
P('mastercard-card-number', lambda: fmt_card(card(pick(['51', '52', '53', '54', '55', str(ri(2221, 2720))]), 16)),
  'Card number', 'card_number', weight=2)
P('amex-card-number', lambda: fmt_card(card(pick(['34', '37']), 15)), 'Card number', 'card_number', weight=1.5)
P('discover-card-number', lambda: fmt_card(card(pick(['6011', '65', '644']), 16)), 'Card number', 'card_number')
P('jcb-card-number', lambda: fmt_card(card(str(ri(3528, 3589)), 16)), 'Card number', 'card_number')
P('diners-card-number', lambda: fmt_card(card(pick(['36', '38', '300', '305']), 14)), 'Card number', 'card_number')
P('unionpay-card-number', lambda: fmt_card(card('62' + rs(DG, 4), pick([16, 19]))), 'Card number', 'card_number')
P('maestro-card-number', lambda: fmt_card(card(pick(['6759', '6761', '5018', '5020']), pick([16, 19]))), 'Card number',
  'card_number')
P('payment-card-track-data', track2, 'Track 2', 'track2')
P('iban', lambda: fmt_iban(iban()), 'IBAN', 'iban', weight=4)
P('uk-national-insurance-number', pii_uk_nino, 'National Insurance number', 'nino')
P('uk-nhs-number', pii_uk_nhs, 'NHS number', 'nhs_number')
P('uk-bank-account', pii_uk_bank, 'Bank details', 'bank_details')
P('canada-sin', pii_ca_sin, 'SIN', 'sin')
P('france-nir', pii_fr_nir, 'numéro de sécurité sociale', 'nir', 'fr')
P('germany-tax-id', pii_de_steuer_id, 'Steuer-IdNr.', 'steuer_id', 'de')
P('spain-dni', pii_es_dni, 'DNI', 'dni', 'es')
P('spain-nie', pii_es_nie, 'NIE', 'nie', 'es')
P('italy-codice-fiscale', pii_it_cf, 'codice fiscale', 'codice_fiscale', 'it')
P('netherlands-bsn', pii_nl_bsn, 'BSN', 'bsn', 'nl')
P('belgium-national-number', pii_be_nn, 'numéro de registre national', 'rijksregisternummer', 'fr')
P('poland-pesel', pii_pl_pesel, 'PESEL', 'pesel', 'pl')
P('sweden-personnummer', pii_se_pnr, 'personnummer', 'personnummer', 'sv')
P('norway-fodselsnummer', pii_no_fnr, 'fødselsnummer', 'fodselsnummer', 'no')
P('denmark-cpr', pii_dk_cpr, 'CPR-nummer', 'cpr', 'da')
P('finland-hetu', pii_fi_hetu, 'henkilötunnus', 'hetu', 'fi')
P('portugal-nif', pii_pt_nif, 'NIF', 'nif', 'pt')
P('romania-cnp', pii_ro_cnp, 'CNP', 'cnp', 'ro')
P('czech-birth-number', pii_cz_rc, 'rodné číslo', 'rodne_cislo', 'cs')
P('turkey-tc-kimlik', pii_tr_tckn, 'T.C. Kimlik No', 'tckn', 'tr')
P('switzerland-ahv', pii_ch_ahv, 'AHV-Nummer', 'ahv', 'de')
P('ireland-ppsn', pii_ie_ppsn, 'PPS number', 'ppsn')
P('brazil-cpf', pii_br_cpf, 'CPF', 'cpf', 'pt')
P('brazil-cnpj', pii_br_cnpj, 'CNPJ', 'cnpj', 'pt')
P('mexico-curp', pii_mx_curp, 'CURP', 'curp', 'es')
P('chile-rut', pii_cl_rut, 'RUT', 'rut', 'es')
P('argentina-cuit', pii_ar_cuit, 'CUIT', 'cuit', 'es')
P('india-aadhaar', pii_in_aadhaar, 'Aadhaar', 'aadhaar')
P('india-pan', pii_in_pan, 'PAN', 'pan')
P('china-resident-id', pii_cn_ric, '身份证号码', 'id_number', 'zh')
P('japan-my-number', pii_jp_mynumber, 'マイナンバー', 'my_number', 'ja')
P('south-korea-rrn', pii_kr_rrn, '주민등록번호', 'rrn', 'ko')
P('singapore-nric', pii_sg_nric, 'NRIC', 'nric')
P('hong-kong-id', pii_hk_id, 'HKID', 'hkid')
P('australia-tfn', pii_au_tfn, 'TFN', 'tfn')
P('australia-medicare', pii_au_medicare, 'Medicare number', 'medicare_number')
P('south-africa-id', pii_za_id, 'ID number', 'sa_id')
P('israel-teudat-zehut', pii_il_id, 'מספר זהות', 'teudat_zehut', 'he')
P('passport-mrz', pii_mrz, 'MRZ', 'mrz', kind='pii_ml', weight=1.2)
P('patient-health-record', pii_health, 'record', 'record', kind='pii_ml', weight=1.2)


# ---------------------------------------------------------------- encoders
def caesar(s, k):
    out = []
    for ch in s:
        if 'a' <= ch <= 'z':
            out.append(chr((ord(ch) - 97 + k) % 26 + 97))
        elif 'A' <= ch <= 'Z':
            out.append(chr((ord(ch) - 65 + k) % 26 + 65))
        else:
            out.append(ch)
    return ''.join(out)


def enc_xor(s):
    key = pick(['k3y', 'agent', 'x', 'salt42', 'Z', 'proxy'])
    kb = key.encode()
    return bytes(c ^ kb[i % len(kb)] for i, c in enumerate(s.encode())).hex(), "xor with key '%s', hex" % key


def enc_caesar(s):
    k = ri(1, 25)
    return caesar(s, k), 'caesar shift %d' % k


def pct_all(s):
    return ''.join('%%%02X' % c for c in s.encode())


ENCODERS = [
    ('base64', lambda s: (b64(s), 'base64'), True, 4),
    ('base64url', lambda s: (b64u(s), 'base64url'), True, 2),
    ('base32', lambda s: (base64.b32encode(s.encode()).decode(), 'base32'), True, 2),
    ('hex', lambda s: (s.encode().hex(), 'hex'), True, 3),
    ('hex-colon', lambda s: (pick([':', ' ', '-']).join('%02X' % c for c in s.encode()), 'hex bytes'), True, 1),
    ('hex-escape', lambda s: (''.join('\\x%02x' % c for c in s.encode()), 'escaped bytes'), True, 1),
    ('octal-escape', lambda s: (''.join('\\%03o' % c for c in s.encode()), 'octal'), True, 1),
    ('charcodes', lambda s: (','.join(str(c) for c in s.encode()), 'char codes'), True, 1.5),
    ('unicode-escape', lambda s: (''.join('\\u%04x' % ord(c) for c in s), 'unicode escapes'), True, 1),
    ('html-dec', lambda s: (''.join('&#%d;' % ord(c) for c in s), 'html entities'), True, 1),
    ('html-hex', lambda s: (''.join('&#x%x;' % ord(c) for c in s), 'html entities'), True, 0.7),
    ('percent', lambda s: (pct_all(s), 'urlencoded'), True, 1),
    ('double-percent', lambda s: (q(pct_all(s)), 'double urlencoded'), True, 1),
    ('rot13', lambda s: (codecs.encode(s, 'rot13'), 'rot13'), True, 1.5),
    ('caesar', enc_caesar, True, 1),
    ('reverse', lambda s: (s[::-1], 'reversed'), True, 1.5),
    ('xor', enc_xor, True, 1),
    ('gzip-base64', lambda s: (b64(gz(s)), 'gzip+base64'), True, 1.5),
    ('zlib-base64', lambda s: (b64(zlib.compress(s.encode(), 9)), 'zlib+base64'), True, 1),
    ('double-base64', lambda s: (b64(b64(s)), 'base64(base64)'), True, 1),
    ('hex-of-base64', lambda s: (b64(s).encode().hex(), 'hex(base64)'), True, 0.7),
    ('base64-reversed', lambda s: (b64(s)[::-1], 'reversed base64'), True, 0.7),
    ('base85', lambda s: (base64.b85encode(s.encode()).decode(), 'base85'), True, 0.7),
    ('ascii85', lambda s: (base64.a85encode(s.encode()).decode(), 'ascii85'), True, 0.5),
    ('binary', lambda s: (' '.join(format(c, '08b') for c in s.encode()), 'binary'), True, 0.7),
    ('spaced', lambda s: (' '.join(s), 'spaced out'), True, 0.7),
    ('zero-width', lambda s: ('\u200b'.join(s), None), False, 0.7),
    ('fullwidth', lambda s: (''.join(chr(ord(c) + 0xFEE0) if '!' <= c <= '~' else c for c in s), None), False, 0.7),
    ('punycode', lambda s: (codecs.encode('schlüssel→' + s, 'punycode').decode(), 'punycode'), True, 0.5),
    ('js-fromcharcode', lambda s: ('String.fromCharCode(%s)' % ','.join(str(ord(c)) for c in s), 'js'), True, 0.7),
    ('b64-urlencoded', lambda s: (q(b64(s)), 'urlencoded base64'), True, 0.7),
]


def pick_w(items, wi):
    tot = sum(x[wi] for x in items)
    r = R.random() * tot
    for x in items:
        r -= x[wi]
        if r <= 0:
            return x
    return items[-1]


def encode_any(s, ascii_only=False, names=None):
    pool = [e for e in ENCODERS if (e[2] or not ascii_only) and (names is None or e[0] in names)]
    if len(s) > 45 * 3:
        pool = [e for e in pool if e[0] not in ('binary', 'spaced')] or pool
    e = pick_w(pool, 3)
    enc, desc = e[1](s)
    return enc, desc, e[0]


# ---------------------------------------------------------------- generic contexts
DECOY_ENV = [('NODE_ENV', 'production'), ('LOG_LEVEL', 'info'), ('PORT', '8080'), ('AWS_REGION', 'eu-west-1'),
             ('FEATURE_NEW_CHECKOUT', 'true'), ('TZ', 'UTC'), ('APP_NAME', None), ('WORKERS', '4'),
             ('CACHE_TTL', '300'), ('SENTRY_ENVIRONMENT', 'prod'), ('HTTP_TIMEOUT_MS', '15000'),
             ('PUBLIC_URL', None), ('RETRY_LIMIT', '5'), ('OTEL_SERVICE_NAME', None)]


def decoys(n):
    out = []
    for k, v in R.sample(DECOY_ENV, n):
        if v is None:
            v = 'https://%s' % host() if 'URL' in k else pick(SERVICES) + '-' + pick(['api', 'svc', 'worker'])
        out.append((k, v))
    return out


def kv_lines(m, v, n=None):
    d = decoys(ri(2, 5) if n is None else n)
    ins = list(m.get('comp_pairs') or []) + [(m['key'], v)]
    p = ri(0, len(d))
    return d[:p] + ins + d[p:]


def shq(v):
    if re.fullmatch(r'[A-Za-z0-9_./:@%+=,-]*', v):
        return v
    return "'" + v.replace("'", "'\\''") + "'"


def jq(v):
    return json.dumps(v, ensure_ascii=False)


def note_comment(m, prefix='#'):
    return ('%s %s\n' % (prefix, m['note'])) if m.get('note') else ''


# body templates for single-value secrets ---------------------------------------
def tb_dotenv(m, v):
    return pick(['text/plain', 'application/octet-stream', None]), note_comment(m) + '\n'.join(
        '%s=%s' % (k, ('"%s"' % x) if (' ' in x or '#' in x) else x) for k, x in kv_lines(m, v)) + '\n'


def tb_json_config(m, v):
    d = {'service': pick(SERVICES), 'environment': pick(['production', 'staging']), 'version': '%d.%d.%d' % (
        ri(1, 5), ri(0, 20), ri(0, 9)), 'settings': {k.lower(): x for k, x in kv_lines(m, v)}}
    if m.get('note'):
        d['settings']['_encoding'] = m['note']
    return 'application/json', json.dumps(d, indent=pick([None, 2]), ensure_ascii=False)


def tb_yaml(m, v):
    lines = ['# %s config' % pick(SERVICES)] + (['# %s' % m['note']] if m.get('note') else []) + \
        ['app:', '  name: %s' % pick(SERVICES), '  env:']
    lines += ['    %s: %s' % (k, jq(x)) for k, x in kv_lines(m, v)]
    return pick(['application/yaml', 'text/yaml', 'application/x-yaml']), '\n'.join(lines) + '\n'


def tb_k8s_secret(m, v):
    name = pick(SERVICES) + '-secrets'
    if chance(0.6):
        body = 'type: Opaque\ndata:\n' + ''.join('  %s: %s\n' % (k, b64(x)) for k, x in kv_lines(m, v, 1))
    else:
        body = 'type: Opaque\nstringData:\n' + ''.join('  %s: %s\n' % (k, jq(x)) for k, x in kv_lines(m, v, 1))
    txt = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n%s' % (name, pick(['prod', 'default', 'apps']), body)
    if chance(0.4):
        return 'application/json', json.dumps({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name},
                                               'data': {m['key']: b64(v)}})
    return 'application/yaml', txt


def tb_k8s_deploy(m, v):
    env = ''.join('        - name: %s\n          value: %s\n' % (k, jq(x)) for k, x in kv_lines(m, v))
    svc = pick(SERVICES)
    return 'application/yaml', ('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n'
                                '  template:\n    spec:\n      containers:\n      - name: %s\n        image: ghcr.io/%s/%s:%d.%d\n'
                                '        env:\n%s' % (svc, ri(1, 5), svc, company(), svc, ri(1, 9), ri(0, 30), env))


def tb_tfvars(m, v):
    if chance(0.5):
        return 'text/plain', note_comment(m) + '\n'.join('%s = %s' % (k.lower(), jq(x)) for k, x in kv_lines(m, v)) + '\n'
    return 'text/plain', ('terraform {\n  required_version = ">= 1.5"\n}\n\nresource "%s_secret" "%s" {\n  name  = "%s"\n'
                          '  value = %s\n}\n' % (pick(['vault_kv', 'github_actions', 'doppler']), m['key'].lower(), m['key'], jq(v)))


def tb_dockerfile(m, v):
    base = pick(['node:20-alpine', 'python:3.12-slim', 'golang:1.22', 'eclipse-temurin:21-jre', 'ruby:3.3'])
    envs = '\n'.join('ENV %s=%s' % (k, shq(x)) for k, x in kv_lines(m, v, ri(0, 2)))
    return 'text/plain', 'FROM %s\nWORKDIR /app\nCOPY . .\n%s\nRUN %s\nCMD ["%s"]\n' % (
        base, envs, pick(['npm ci --omit=dev', 'pip install -r requirements.txt', 'go build -o /bin/app ./cmd/app',
                          'bundle install']), pick(['node', 'python', '/bin/app', 'java']))


def tb_compose(m, v):
    svc = pick(SERVICES)
    env = ''.join('      - %s=%s\n' % (k, x) for k, x in kv_lines(m, v))
    return 'application/yaml', ('services:\n  %s:\n    image: %s/%s:latest\n    restart: unless-stopped\n    environment:\n%s'
                                '    ports:\n      - "%d:8080"\n' % (svc, company(), svc, env, ri(3000, 9000)))


def tb_gha(m, v):
    return 'application/yaml', ('name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n'
                                '    env:\n%s    steps:\n      - uses: actions/checkout@v4\n      - run: ./scripts/deploy.sh\n' % (
                                    ''.join('      %s: %s\n' % (k, jq(x)) for k, x in kv_lines(m, v, ri(0, 2)))))


def code_snippet(m, v):
    k = m['key']
    lang = pick(['python', 'js', 'go', 'ruby', 'php', 'java', 'csharp', 'rust', 'bash'])
    lit = jq(v)
    if lang == 'python':
        s = 'import os\nimport requests\n\n%s = %s\nresp = requests.get("https://%s/v1/items", headers={"Authorization": f"Bearer {%s}"})\n' % (
            k, lit, host(), k)
    elif lang == 'js':
        s = "const %s = %s;\nconst res = await fetch('https://%s/api', { headers: { Authorization: `Bearer ${%s}` } });\n" % (
            k.lower(), lit, host(), k.lower())
    elif lang == 'go':
        s = 'package main\n\nconst %s = %s\n\nfunc main() {\n\treq, _ := http.NewRequest("GET", "https://%s", nil)\n\treq.Header.Set("Authorization", "Bearer "+%s)\n}\n' % (
            k.title().replace('_', ''), lit, host(), k.title().replace('_', ''))
    elif lang == 'ruby':
        s = "%s = %s\nclient = Faraday.new(url: 'https://%s') { |f| f.request :authorization, 'Bearer', %s }\n" % (
            k.lower(), lit, host(), k.lower())
    elif lang == 'php':
        s = "<?php\n$%s = %s;\n$ch = curl_init('https://%s/');\ncurl_setopt($ch, CURLOPT_HTTPHEADER, ['Authorization: Bearer ' . $%s]);\n" % (
            k.lower(), lit, host(), k.lower())
    elif lang == 'java':
        s = 'public class Config {\n    private static final String %s = %s;\n}\n' % (k, lit)
    elif lang == 'csharp':
        s = 'var client = new HttpClient();\nclient.DefaultRequestHeaders.Add("Authorization", "Bearer " + %s);\n' % lit
    elif lang == 'rust':
        s = 'const %s: &str = %s;\nlet res = reqwest::Client::new().get("https://%s").bearer_auth(%s).send().await?;\n' % (
            k, lit, host(), k)
    else:
        s = 'export %s=%s\ncurl -s -H "Authorization: Bearer $%s" https://%s/v2/status\n' % (k, shq(v), k, host())
    if m.get('note'):
        s = '// value is %s\n' % m['note'] + s
    return lang, s


def tb_llm_chat(m, v):
    lang, code = code_snippet(m, v)
    q_ = pick(['Why does this return 401?', 'Can you refactor this to use async?', 'Convert this to TypeScript please.',
               'Warum bekomme ich hier einen Timeout?', 'Pourquoi ce code échoue en production ?',
               '¿Por qué falla esta llamada?', 'このコードのバグを見つけてください。', '帮我看看这段代码哪里有问题'])
    content = '%s\n\n```%s\n%s```' % (q_, lang, code)
    if chance(0.5):
        body = {'model': pick(['gpt-4o', 'gpt-4.1-mini', 'o3-mini']), 'messages': [
            {'role': 'system', 'content': 'You are a helpful coding assistant.'}, {'role': 'user', 'content': content}],
            'temperature': round(R.random(), 2)}
    else:
        body = {'model': pick(['claude-3-5-sonnet-latest', 'claude-sonnet-4']), 'max_tokens': 1024,
                'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': content}]}]}
    return 'application/json', json.dumps(body, ensure_ascii=False)


def tb_gist(m, v):
    lang, code = code_snippet(m, v)
    ext = {'python': 'py', 'js': 'js', 'go': 'go', 'ruby': 'rb', 'php': 'php', 'java': 'java', 'csharp': 'cs', 'rust': 'rs',
           'bash': 'sh'}[lang]
    return 'application/json', json.dumps({'description': pick(['snippet', 'temp', 'repro for issue #%d' % ri(10, 999)]),
                                           'public': chance(0.5), 'files': {'main.' + ext: {'content': code}}})


def tb_shell_history(m, v):
    k = m['key']
    lines = ['cd ~/src/%s' % pick(SERVICES), 'git pull --rebase', 'export %s=%s' % (k, shq(v)),
             'make test', "curl -H \"Authorization: Bearer $%s\" https://%s/v1/me" % (k, host()), 'history | tail']
    return 'text/plain', '\n'.join(lines) + '\n'


def tb_ndjson_logs(m, v):
    out = []
    for i in range(ri(2, 5)):
        out.append(json.dumps({'ts': iso_date(), 'level': pick(['info', 'debug']), 'svc': pick(SERVICES),
                               'msg': pick(['cache warm', 'request done', 'retry scheduled']), 'trace_id': rs(HEX, 32)}))
    out.insert(ri(0, len(out)), json.dumps({'ts': iso_date(), 'level': 'debug', 'msg': 'outgoing request', 'http': {
        'method': 'POST', 'url': 'https://%s/v1/events' % host(),
        'headers': {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + v}}}))
    return 'application/x-ndjson', '\n'.join(out) + '\n'


def tb_plain_log(m, v):
    lines = []
    for i in range(ri(3, 7)):
        lines.append('%s INFO  [%s] %s' % (iso_date(), pick(SERVICES), pick(['GET /healthz 200 2ms', 'worker started',
                                                                            'flushed 120 spans', 'connected to broker'])))
    lines.insert(ri(0, len(lines)), '%s DEBUG [%s] loaded config %s=%s%s' % (
        iso_date(), pick(SERVICES), m['key'], v, (' (%s)' % m['note']) if m.get('note') else ''))
    return 'text/plain', '\n'.join(lines) + '\n'


def tb_traceback(m, v):
    tb = ('Traceback (most recent call last):\n  File "/app/%s/client.py", line %d, in request\n    resp = self.session.post(url, '
          'headers=headers)\n  File "/usr/lib/python3.11/site-packages/requests/sessions.py", line 637, in post\n'
          'requests.exceptions.HTTPError: 403 Client Error: Forbidden\n\nLocals:\n  url = \'https://%s/v2/sync\'\n'
          '  headers = {\'Authorization\': \'Bearer %s\', \'User-Agent\': \'%s/1.4\'}\n' % (
              pick(SERVICES), ri(20, 400), host(), v, pick(SERVICES)))
    if chance(0.5):
        return 'text/plain', tb
    return 'application/json', json.dumps({'event_id': rs(HEX, 32), 'platform': 'python', 'level': 'error',
                                           'exception': {'values': [{'type': 'HTTPError', 'value': '403 Forbidden',
                                                                     'stacktrace': {'frames': [{'filename': 'client.py',
                                                                                                'function': 'request',
                                                                                                'vars': {m['key'].lower(): v,
                                                                                                         'retries': ri(0, 3)}}]}}]},
                                           'extra': {'raw': tb[:120]}})


def tb_sql(m, v):
    return 'application/sql', ("INSERT INTO integrations (id, tenant_id, provider, %s, created_at) VALUES (%d, '%s', '%s', '%s', '%s');\n" % (
        m['key'].lower(), ri(1, 99999), uuid4(), m['name'].split('-')[0], v.replace("'", "''"), iso_date()))


def tb_csv(m, v):
    rows = ['id,name,provider,%s,enabled' % m['key'].lower()]
    for i in range(ri(1, 3)):
        rows.append('%d,%s,%s,,true' % (ri(1, 999), pick(WORDS), pick(SERVICES)))
    row = '%d,%s,%s,"%s",true' % (ri(1, 999), pick(WORDS), m['name'].split('-')[0], v.replace('"', '""'))
    rows.insert(ri(1, len(rows)), row)
    return 'text/csv', '\n'.join(rows) + '\n'


def tb_form(m, v):
    pairs = [('integration', m['name'].split('-')[0]), ('label', pick(WORDS)), (m['key'].lower(), v)]
    if m.get('note'):
        pairs.append(('encoding', m['note']))
    R.shuffle(pairs)
    return 'application/x-www-form-urlencoded', urllib.parse.urlencode(pairs)


def multipart(parts, boundary=None):
    b = boundary or ('----WebKitFormBoundary' + rs(AN, 16))
    out = []
    for name, fname, ct, data in parts:
        h = '--%s\r\nContent-Disposition: form-data; name="%s"' % (b, name)
        if fname:
            h += '; filename="%s"' % fname
        h += '\r\n'
        if ct:
            h += 'Content-Type: %s\r\n' % ct
        out.append(h.encode() + b'\r\n' + _b(data) + b'\r\n')
    return 'multipart/form-data; boundary=' + b, b''.join(out) + ('--%s--\r\n' % b).encode()


def tb_multipart_env(m, v):
    _, env = tb_dotenv(m, v)
    ct, body = multipart([('project', None, None, pick(SERVICES)), ('file', pick(['.env', 'prod.env', 'config.env']),
                                                                      'text/plain', env)])
    return ct, body.decode()


def tb_graphql(m, v):
    return 'application/json', json.dumps({'operationName': 'CreateIntegration', 'query': 'mutation CreateIntegration($input: '
                                           'IntegrationInput!) { createIntegration(input: $input) { id status } }',
                                           'variables': {'input': {'provider': m['name'].split('-')[0], 'credentials': {
                                               'apiKey': v}, 'workspaceId': uuid4()}}})


def tb_graphql_inline(m, v):
    return 'application/graphql', 'mutation {\n  updateSecret(name: "%s", value: %s) {\n    id\n  }\n}\n' % (m['key'], jq(v))


def tb_notebook(m, v):
    nb = {'cells': [{'cell_type': 'markdown', 'metadata': {}, 'source': ['# %s exploration' % pick(SERVICES)]},
                    {'cell_type': 'code', 'execution_count': ri(1, 30), 'metadata': {}, 'outputs': [],
                     'source': ['import os\n', 'os.environ[%s] = %s\n' % (jq(m['key']), jq(v)), 'client = Client()\n']}],
          'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3'}}, 'nbformat': 4, 'nbformat_minor': 5}
    return 'application/json', json.dumps({'type': 'notebook', 'format': 'json', 'content': nb})


def tb_slack_post(m, v):
    t = pick(['here is the %s key for the demo: %s', 'prod %s rotated -> %s (old one revoked tomorrow)',
              'can someone check why %s `%s` gets 401?'])
    return 'application/json', json.dumps({'channel': 'C' + rs(ANU, 10), 'text': t % (m['key'], v),
                                           'unfurl_links': False})


def tb_issue_comment(m, v):
    return 'application/json', json.dumps({'body': 'Still failing on my side. Config:\n\n```\n%s=%s\n```\n\nAny idea? cc @%s' % (
        m['key'], v, pick(WORDS))})


def tb_ini(m, v):
    sec = pick(['credentials', 'default', pick(SERVICES), 'auth'])
    return 'text/plain', note_comment(m, ';') + '[%s]\n' % sec + ''.join('%s = %s\n' % (k.lower(), x) for k, x in kv_lines(m, v))


def tb_toml(m, v):
    return 'application/toml', note_comment(m) + '[%s]\n' % pick(SERVICES) + ''.join('%s = %s\n' % (k.lower(), jq(x)) for k, x in kv_lines(m, v))


def tb_xml(m, v):
    items = ''.join('    <add key="%s" value="%s" />\n' % (k, html.escape(x, quote=True)) for k, x in kv_lines(m, v))
    return pick(['application/xml', 'text/xml']), '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n%s  </appSettings>\n</configuration>\n' % items


def tb_properties(m, v):
    return 'text/plain', note_comment(m) + ''.join('%s=%s\n' % (k.lower().replace('_', '.'), x.replace(':', '\\:')) for k, x in kv_lines(m, v))


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
    d = _b(s)
    return pb_varint(field << 3 | 2) + pb_varint(len(d)) + d


def tb_grpc_web(m, v):
    msg = pb_str(1, pick(SERVICES)) + pb_str(2, m['key']) + pb_str(3, v) + pb_varint(4 << 3) + pb_varint(ri(1, 1000))
    frame = b'\x00' + len(msg).to_bytes(4, 'big') + msg
    if chance(0.5):
        return 'application/grpc-web-text', b64(frame)
    return 'application/grpc-web+proto', frame


def tb_diff(m, v):
    f = pick(['config/settings.py', 'src/config.ts', '.env.production', 'deploy/values.yaml'])
    patch = ('diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -%d,3 +%d,4 @@\n context_line = 1\n'
             '-%s = ""\n+%s = %s\n+# TODO move to vault\n' % (f, f, rs(HEX, 7), rs(HEX, 7), f, f, ri(1, 90), ri(1, 90),
                                                               m['key'], m['key'], jq(v)))
    if chance(0.5):
        return 'text/x-diff', patch
    return 'application/json', json.dumps({'title': 'fix config', 'head': 'fix/' + pick(WORDS), 'base': 'main', 'body': patch})


def tb_helm(m, v):
    return 'application/yaml', ('replicaCount: %d\nimage:\n  repository: ghcr.io/%s/%s\n  tag: "%d.%d"\nsecrets:\n  %s: %s\n'
                                'ingress:\n  enabled: true\n' % (ri(1, 4), company(), pick(SERVICES), ri(1, 5), ri(0, 9),
                                                                m['key'][0].lower() + m['key'].title().replace('_', '')[1:], jq(v)))


def tb_mcp(m, v):
    args = pick([{'url': 'https://%s/v1/query' % host(), 'method': 'POST', 'headers': {'Authorization': 'Bearer ' + v}},
                 {'command': 'deploy', 'env': {m['key']: v}}, {'path': '.env', 'content': '%s=%s\n' % (m['key'], v)}])
    return 'application/json', json.dumps({'jsonrpc': '2.0', 'id': ri(1, 999), 'method': 'tools/call',
                                           'params': {'name': pick(['http_request', 'run_command', 'write_file']),
                                                      'arguments': args}})


def tb_soap(m, v):
    return 'text/xml; charset=utf-8', ('<?xml version="1.0"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                                       'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">\n'
                                       '<soapenv:Header><wsse:Security><wsse:UsernameToken><wsse:Username>%s</wsse:Username>'
                                       '<wsse:Password>%s</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header>\n'
                                       '<soapenv:Body><GetStatus/></soapenv:Body></soapenv:Envelope>\n' % (
                                           username(), html.escape(v)))


def tb_php(m, v):
    return 'text/x-php', "<?php\nreturn [\n    'driver' => '%s',\n    '%s' => '%s',\n    'timeout' => %d,\n];\n" % (
        pick(SERVICES), m['key'].lower(), v.replace("'", "\\'"), ri(5, 60))


def tb_email(m, v):
    f, l = person()
    txt = ('Hi %s,\n\nas discussed, the %s for the %s integration is below. Please store it in the vault and delete '
           'this mail.\n\n%s: %s\n\nThanks,\n%s\n' % (pick(FIRST), m['key'], pick(SERVICES), m['key'], v, f))
    qp = chance(0.5)
    bodytxt = quopri.encodestring(txt.encode('utf-8')).decode('ascii') if qp else txt
    mime = ('From: %s <%s>\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n'
            'Content-Transfer-Encoding: %s\r\n\r\n%s' % (f + ' ' + l, email_of(f, l), email_of(*person()),
                                                       pick(['credentials', 'access for the vendor', 'Zugangsdaten']),
                                                       'quoted-printable' if qp else '8bit', bodytxt.replace('\n', '\r\n')))
    if chance(0.5):
        return 'message/rfc822', mime
    return 'application/json', json.dumps({'raw': b64u(mime)}) if chance(0.5) else json.dumps(
        {'personalizations': [{'to': [{'email': email_of(*person())}]}], 'from': {'email': email_of(f, l)},
         'subject': 'creds', 'content': [{'type': 'text/plain', 'value': txt}]})


def tb_har(m, v):
    hdr = m['hdr_line'].split(': ', 1)
    return 'application/json', json.dumps({'log': {'version': '1.2', 'creator': {'name': 'WebInspector', 'version': '537.36'},
                                                   'entries': [{'startedDateTime': iso_date(), 'request': {
                                                       'method': 'GET', 'url': 'https://%s/api/v1/me' % host(),
                                                       'headers': [{'name': 'Accept', 'value': 'application/json'},
                                                                   {'name': hdr[0], 'value': hdr[1]}]},
                                                       'response': {'status': 200}}]}})


def tb_ansible(m, v):
    return 'application/yaml', '---\n%s_user: %s\n%s: %s\n%s_port: %d\n' % (
        pick(SERVICES), username(), m['key'].lower(), jq(v), pick(SERVICES), ri(1000, 9999))


def tb_markdown(m, v):
    return 'text/markdown', ('# %s setup\n\n1. Install deps\n2. Set the key:\n\n```bash\nexport %s=%s\n```\n\n3. Run `make dev`\n' % (
        pick(SERVICES).capitalize(), m['key'], shq(v)))


TOKEN_BODY = [tb_dotenv, tb_json_config, tb_yaml, tb_k8s_secret, tb_k8s_deploy, tb_tfvars, tb_dockerfile, tb_compose,
              tb_gha, tb_llm_chat, tb_gist, tb_shell_history, tb_ndjson_logs, tb_plain_log, tb_traceback, tb_sql, tb_csv,
              tb_form, tb_multipart_env, tb_graphql, tb_graphql_inline, tb_notebook, tb_slack_post, tb_issue_comment,
              tb_ini, tb_toml, tb_xml, tb_properties, tb_grpc_web, tb_diff, tb_helm, tb_mcp, tb_php, tb_email, tb_har,
              tb_ansible, tb_markdown]
ENC_OK_BODY = [tb_dotenv, tb_json_config, tb_yaml, tb_plain_log, tb_form, tb_ini, tb_toml, tb_properties, tb_slack_post,
               tb_grpc_web, tb_mcp, tb_csv, tb_sql]


def tb_encoded_present(m, enc, desc):
    k = m['key']
    t = ri(0, 7)
    hint = desc if (desc and chance(0.75)) else None
    if t == 0:
        d = {'type': 'blob', 'name': k.lower(), 'data': enc}
        if hint:
            d['encoding'] = hint
        return 'application/json', json.dumps(d, ensure_ascii=False)
    if t == 1:
        msg = 'store this as %s%s: %s' % (k, (' (it is %s)' % hint) if hint else '', enc)
        return 'application/json', json.dumps({'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': msg}]},
                                              ensure_ascii=False)
    if t == 2:
        return 'text/plain', '%s = decode(%s)%s\n' % (k.lower(), jq(enc), ('  # ' + hint) if hint else '')
    if t == 3:
        return 'text/plain', '%s WARN  [%s] blob %s=%s\n' % (iso_date(), pick(SERVICES), k.lower() + ('[%s]' % hint if hint else ''), enc)
    if t == 4:
        pairs = [('k', k.lower()), ('v', enc)] + ([('e', hint)] if hint else [])
        return 'application/x-www-form-urlencoded', urllib.parse.urlencode(pairs)
    if t == 5:
        return 'application/yaml', '%s:\n  encoding: %s\n  value: %s\n' % (k, jq(hint or 'none'), jq(enc))
    if t == 6:
        return 'application/xml', '<secret name="%s"%s>%s</secret>\n' % (k, (' encoding="%s"' % html.escape(hint)) if hint else '',
                                                                        html.escape(enc))
    return 'application/json', json.dumps({'events': [{'type': 'diag', 'attrs': {'k': k, 'v': enc, 'e': hint}}]},
                                          ensure_ascii=False)


def split_parts(v, n=None):
    n = n or ri(2, min(5, max(2, len(v) // 4)))
    cuts = sorted(R.sample(range(1, len(v)), n - 1))
    out = []
    prev = 0
    for c in cuts + [len(v)]:
        out.append(v[prev:c])
        prev = c
    return out


def tb_split(m, v):
    parts = split_parts(v)
    t = ri(0, 4)
    if t == 0:
        d = {'id': uuid4()}
        for i, p in enumerate(parts):
            d['%s_%d' % (pick(['part', 'seg', 'p', 'chunk']), i + 1)] = p
        d['join'] = ''
        return 'application/json', json.dumps(d)
    if t == 1:
        return 'application/json', json.dumps({'name': m['key'], 'chunks': parts, 'order': list(range(len(parts)))})
    if t == 2:
        ct, body = multipart([('k%d' % i, None, None, p) for i, p in enumerate(parts)])
        return ct, body.decode()
    if t == 3:
        lines = ['%s DEBUG frag %d/%d %s' % (iso_date(), i + 1, len(parts), p) for i, p in enumerate(parts)]
        return 'text/plain', '\n'.join(lines) + '\n'
    rev = list(enumerate(parts))
    R.shuffle(rev)
    return 'application/json', json.dumps({'items': [{'i': i, 's': p} for i, p in rev]})


def wrap_body(ct, payload, fname='payload.txt'):
    """Optionally compress / archive a finished body. Returns (ct, bytes_or_str, content_encoding)."""
    t = ri(0, 5)
    data = _b(payload)
    if t == 0:
        return ct, gz(data), 'gzip'
    if t == 1:
        return ct, zlib.compress(data, 9), 'deflate'
    if t == 2:
        return 'application/zip', zipped([(fname, data), ('README.txt', 'exported by %s\n' % pick(SERVICES))]), None
    if t == 3:
        return 'application/gzip', targz([('export/' + fname, data)]), None
    if t == 4:
        mct, body = multipart([('note', None, None, 'backup'), ('file', fname + '.gz', 'application/gzip', gz(data))])
        return mct, body, None
    return 'application/octet-stream', gz(data), None


CT_EXT = {'application/json': 'json', 'application/yaml': 'yaml', 'text/plain': 'txt', 'text/csv': 'csv'}


def body_token(c, v):
    m = dict(key=c['env'] or 'SECRET', name=c['name'], comp_pairs=c['comp']() if c['comp'] else [], note=None)
    m['hdr_line'] = header_for(c, v)
    r = R.random()
    if r < 0.58:
        ct, payload = pick(TOKEN_BODY)(m, v)
    elif r < 0.84:
        enc, desc, _ = encode_any(v)
        if chance(0.5):
            m['note'] = desc if chance(0.7) else None
            ct, payload = pick(ENC_OK_BODY)(m, enc)
        else:
            ct, payload = tb_encoded_present(m, enc, desc)
    else:
        ct, payload = tb_split(m, v)
    if isinstance(payload, str) and chance(0.16):
        return wrap_body(ct, payload, pick(['.env', 'config.' + CT_EXT.get(ct, 'txt'), 'dump.log']))
    return ct, payload, None


# ---------------------------------------------------------------- passwords in prose
PROSE = {
    'en': ['Hey, the new admin password for the staging box is {pw} - please do not share it.',
           'Reminder: VPN login is {u} / {pw} until IT fixes SSO.',
           'I reset your account, temporary password: {pw} (you will be asked to change it).'],
    'de': ['Hallo, das neue Passwort für den Staging-Server lautet {pw}. Bitte nicht weitergeben.',
           'Zugangsdaten fürs Kundenportal: Benutzer {u}, Kennwort {pw}'],
    'fr': ['Salut, le mot de passe du compte admin est désormais {pw}, merci de le garder pour toi.',
           'Identifiant : {u} — mot de passe : {pw}'],
    'es': ['Hola, la contraseña del servidor de producción es {pw}, no la compartas.',
           'Usuario: {u} Contraseña: {pw} (cámbiala al entrar)'],
    'it': ["Ciao, la password dell'account root è {pw}, cambiala dopo il primo accesso."],
    'pt': ['Oi, a senha do banco de dados de produção agora é {pw}.', 'Login: {u} | senha: {pw}'],
    'nl': ['Hoi, het wachtwoord voor de VPN is {pw}, niet doorsturen aub.'],
    'pl': ['Cześć, hasło do panelu administracyjnego to {pw}.'],
    'ru': ['Привет, пароль от сервера: {pw}, никому не говори.', 'Логин {u}, пароль {pw}'],
    'ja': ['お疲れ様です。本番DBのパスワードは {pw} です。取り扱いにご注意ください。'],
    'zh': ['你好，生产环境数据库的密码是 {pw}，请勿外传。', '账号：{u} 密码：{pw}'],
    'ko': ['안녕하세요, 관리자 계정 비밀번호는 {pw} 입니다.'],
    'tr': ['Merhaba, sunucunun şifresi {pw}, kimseyle paylaşma.'],
    'sv': ['Hej, lösenordet till routerns adminsida är {pw}.'],
    'ar': ['مرحبا، كلمة المرور الجديدة للخادم هي {pw} من فضلك لا تشاركها.'],
    'hi': ['नमस्ते, सर्वर का पासवर्ड {pw} है, कृपया किसी को न बताएं।'],
}


def prose_pw(pw):
    lang = pick(sorted(PROSE))
    return pick(PROSE[lang]).format(pw=pw, u=username())


def body_password(c, v):
    r = R.random()
    if r < 0.55:
        txt = prose_pw(v)
        t = ri(0, 5)
        if t == 0:
            return 'application/json', json.dumps({'channel': 'C' + rs(ANU, 10), 'text': txt}, ensure_ascii=False), None
        if t == 1:
            return 'application/json', json.dumps({'messages': [{'role': 'user', 'content': 'Translate to English: ' + txt}],
                                                   'model': 'gpt-4o'}, ensure_ascii=False), None
        if t == 2:
            return 'application/json', json.dumps({'ticket': {'subject': pick(['Zugang', 'access', 'acceso', 'accès']),
                                                              'comment': {'body': txt}, 'priority': 'normal'}},
                                                  ensure_ascii=False), None
        if t == 3:
            return 'text/plain; charset=utf-8', txt + '\n', None
        if t == 4:
            return 'application/x-www-form-urlencoded', urllib.parse.urlencode([('message', txt), ('to', email_of(*person()))]), None
        mime = 'Subject: =?utf-8?b?%s?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s' % (
            b64('info'), quopri.encodestring(txt.encode()).decode())
        return 'message/rfc822', mime, None
    c2 = dict(c)
    c2['env'] = pick(['DB_PASSWORD', 'ADMIN_PASSWORD', 'SMTP_PASSWORD', 'LDAP_BIND_PASSWORD', 'REDIS_PASSWORD'])
    return body_token(c2, v)


# ---------------------------------------------------------------- PII bodies
def pii_record(c, v):
    f, l = person()
    y, mth, d = dob()
    rec = {'first_name': f, 'last_name': l, 'email': email_of(f, l), 'date_of_birth': '%04d-%02d-%02d' % (y, mth, d),
           c['field']: v}
    if 'card' in c['name']:
        rec['exp'] = '%02d/%02d' % (ri(1, 12), ri(26, 31))
        if chance(0.5):
            rec['cvv'] = digits(3 if 'amex' not in c['name'] else 4, False)
    return rec


PII_PROSE = {
    'en': 'Customer {n} called about the refund, their {lab} is {v}. Please verify and process.',
    'de': 'Kunde {n} hat angerufen, {lab}: {v}. Bitte Rückerstattung prüfen.',
    'fr': 'Le client {n} a appelé ; {lab} : {v}. Merci de vérifier le dossier.',
    'es': 'El cliente {n} llamó, su {lab} es {v}. Por favor verifique.',
    'it': 'Il cliente {n} ha chiamato, {lab}: {v}. Verificare per favore.',
    'pt': 'O cliente {n} ligou, {lab}: {v}. Favor verificar o cadastro.',
    'nl': 'Klant {n} belde, {lab}: {v}. Graag controleren.',
    'pl': 'Klient {n} dzwonił, {lab}: {v}. Proszę zweryfikować.',
    'sv': 'Kunden {n} ringde, {lab}: {v}. Vänligen kontrollera.',
    'no': 'Kunden {n} ringte, {lab}: {v}. Vennligst sjekk.',
    'da': 'Kunden {n} ringede, {lab}: {v}. Tjek venligst.',
    'fi': 'Asiakas {n} soitti, {lab}: {v}. Tarkistakaa.',
    'ro': 'Clientul {n} a sunat, {lab}: {v}. Vă rog verificați.',
    'cs': 'Zákazník {n} volal, {lab}: {v}. Prosím ověřte.',
    'tr': 'Müşteri {n} aradı, {lab}: {v}. Lütfen kontrol edin.',
    'zh': '客户{n}来电，{lab}：{v}，请核实。',
    'ja': '{n}様よりお問い合わせ。{lab}：{v}。ご確認ください。',
    'ko': '고객 {n}님 문의, {lab}: {v}. 확인 부탁드립니다.',
    'he': 'הלקוח {n} התקשר, {lab}: {v}. נא לבדוק.',
}


def body_pii(c, v):
    lang = c['lang'] if c['lang'] in PII_PROSE else 'en'
    f, l = person()
    r = ri(0, 10)
    rec = pii_record(c, v)
    if r == 0:
        return 'application/json', json.dumps({'customer': rec, 'source': 'crm-export'}, ensure_ascii=False)
    if r == 1:
        hdr = list(rec.keys())
        rows = [','.join(hdr)]
        for _ in range(ri(0, 2)):
            g, h = person()
            rows.append(','.join([g, h, email_of(g, h), '%04d-%02d-%02d' % dob(), ''] + [''] * (len(hdr) - 5)))
        rows.append(','.join('"%s"' % str(x) for x in rec.values()))
        return 'text/csv', '\n'.join(rows) + '\n'
    if r == 2:
        txt = PII_PROSE[pick([lang, lang, 'en'])].format(n=f + ' ' + l, lab=c['label'], v=v)
        return 'application/json', json.dumps({'messages': [{'role': 'user', 'content': txt}], 'model': 'gpt-4o'},
                                              ensure_ascii=False)
    if r == 3:
        return 'application/x-www-form-urlencoded', urllib.parse.urlencode(list((k, str(x)) for k, x in rec.items()))
    if r == 4:
        return 'application/xml', '<?xml version="1.0"?>\n<person>%s</person>\n' % ''.join(
            '<%s>%s</%s>' % (k, html.escape(str(x)), k) for k, x in rec.items())
    if r == 5:
        return 'application/sql', "INSERT INTO customers (%s) VALUES (%s);\n" % (
            ', '.join(rec), ', '.join("'%s'" % str(x).replace("'", "''") for x in rec.values()))
    if r == 6:
        txt = PII_PROSE[lang].format(n=f + ' ' + l, lab=c['label'], v=v)
        return 'application/json', json.dumps({'ticket': {'comment': {'body': txt}}}, ensure_ascii=False)
    if r == 7:
        enc, desc, _ = encode_any(json.dumps(rec, ensure_ascii=False), names=['base64', 'base64url', 'gzip-base64', 'hex',
                                                                               'rot13', 'reverse', 'double-base64'])
        return 'application/json', json.dumps({'blob': enc, 'enc': desc if chance(0.6) else None})
    if r == 8:
        enc, desc, _ = encode_any(v)
        return 'application/json', json.dumps({'user_id': uuid4(), c['field'] + '_enc': enc, 'hint': desc if chance(0.6) else None},
                                              ensure_ascii=False)
    if r == 9:
        parts = split_parts(v.replace(' ', ''), 2 if len(v) < 10 else 3)
        return 'application/json', json.dumps({'f%d' % i: p for i, p in enumerate(parts)})
    ct, payload = 'application/json', json.dumps({'records': [rec]}, ensure_ascii=False)
    return wrap_body(ct, payload, 'customers.json')


def body_pii_ml(c, v):
    r = ri(0, 4)
    if r == 0:
        return 'application/json', json.dumps({'messages': [{'role': 'user', 'content': 'Extract the fields from this:\n' + v}]},
                                              ensure_ascii=False), None
    if r == 1:
        return 'text/plain', v + '\n', None
    if r == 2:
        ct, b = multipart([('doc', 'scan.txt', 'text/plain', v)])
        return ct, b.decode(), None
    if r == 3:
        return 'application/json', json.dumps({'ocr': {'text': v, 'confidence': round(R.random(), 3)}}, ensure_ascii=False), None
    return wrap_body('text/plain', v, 'ocr.txt')


# ---------------------------------------------------------------- multiline / docs
def body_blob(name, text, ct='text/plain', binary=False):
    r = ri(0, 9)
    if binary:
        r = pick([2, 5, 6, 8])
    if r == 0:
        return ct, text, None
    if r == 1:
        return 'application/json', json.dumps({'description': name, 'public': False, 'files': {name: {'content': text}}}), None
    if r == 2:
        mct, b = multipart([('file', name, ct if not binary else 'application/octet-stream', text)])
        return mct, (b if binary else b.decode()), None
    if r == 3:
        return 'application/json', json.dumps({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content':
                                               pick(['this file does not work, why?', 'parse this',
                                                     'Kannst du das prüfen?', '¿qué formato es esto?']) +
                                               '\n```\n' + text + '\n```'}]}, ensure_ascii=False), None
    if r == 4:
        return 'application/yaml', '%s: |\n%s\n' % (re.sub(r'\W', '_', name).strip('_') or 'file',
                                                     '\n'.join('  ' + ln for ln in text.split('\n'))), None
    if r == 5:
        return 'application/json', json.dumps({'path': name, 'content': b64(text), 'encoding': 'base64'}), None
    if r == 6:
        return wrap_body(ct, text, name)
    if r == 7:
        enc, desc, _ = encode_any(text, names=['hex', 'base32', 'gzip-base64', 'rot13', 'reverse', 'double-base64',
                                               'base64url', 'zlib-base64'])
        return 'application/json', json.dumps({'name': name, 'data': enc, 'enc': desc if chance(0.6) else None}), None
    if r == 8:
        return 'application/zip', zipped([(name, text)]), None
    return 'application/json', json.dumps({'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
                                           'metadata': {'name': pick(SERVICES) + '-files'},
                                           'data': {re.sub(r'[^A-Za-z0-9._-]', '', name) or 'file': b64(text)}}), None


KEY_FILES = {'rsa-private-key': 'id_rsa', 'pkcs8-private-key': 'server.key', 'ec-private-key': 'ec.key',
             'dsa-private-key': 'id_dsa', 'encrypted-private-key': 'key.pem', 'openssh-private-key': 'id_ed25519',
             'pgp-private-key-block': 'secret.asc', 'putty-private-key': 'deploy.ppk', 'openvpn-static-key': 'ta.key'}


def body_multiline(c, v):
    name = KEY_FILES.get(c['name'], 'key.pem')
    if chance(0.15):
        return 'application/json', json.dumps({'resource': {'tls_private_key': {'main': {}}}, 'locals': {'key': v}}), None
    return body_blob(name, v, pick(['text/plain', 'application/x-pem-file', 'application/octet-stream']))


def body_doc(c):
    name, ct, text = c['gen']()
    return body_blob(name, text, ct, binary=isinstance(text, bytes))


def body_cmd(c, v):
    r = ri(0, 6)
    if r == 0:
        return 'text/plain', '\n'.join(['ls -la', 'cd /srv/%s' % pick(SERVICES), v, 'exit']) + '\n', None
    if r == 1:
        return 'application/json', json.dumps({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call',
                                               'params': {'name': 'run_command', 'arguments': {'command': v, 'timeout': 60}}}), None
    if r == 2:
        return 'application/json', json.dumps({'messages': [{'role': 'user', 'content': 'Explain the flags of this command:\n' + v}]}), None
    if r == 3:
        return 'text/plain', '+ %s\n%s\nError: connection reset by peer\n##[error]Process completed with exit code 1.\n' % (
            v, iso_date()), None
    if r == 4:
        return 'application/yaml', 'steps:\n  - name: sync\n    run: |\n      %s\n' % v, None
    if r == 5:
        enc, desc, _ = encode_any(v, names=['base64', 'hex', 'rot13', 'reverse', 'gzip-base64', 'charcodes'])
        return 'application/json', json.dumps({'cmd': enc, 'enc': desc}), None
    return wrap_body('text/plain', 'history\n' + v + '\n', 'bash_history')


# ---------------------------------------------------------------- header / url / hostname carriers
def header_for(c, v):
    h = c.get('hdr')
    if callable(h):
        return h(v)
    if h:
        return h.format(v=v)
    return 'Authorization: Bearer ' + v


HDR_ENC = ['base64', 'base64url', 'hex', 'rot13', 'reverse', 'percent', 'base32', 'double-base64', 'gzip-base64',
           'charcodes', 'caesar', 'xor']


def header_generic(key, v):
    r = ri(0, 7)
    if r == 0:
        return 'X-Api-Key: ' + v
    if r == 1:
        return 'Cookie: _ga=GA1.2.%d.%d; %s=%s; theme=dark' % (ri(10 ** 8, 10 ** 9), epoch(), pick(['token', 'auth', 'sid', key.lower()]), q(v, safe='/=+:'))
    if r == 2:
        return 'Authorization: Basic ' + b64('%s:%s' % (username(), v))
    if r == 3:
        return 'X-Debug-Context: ' + b64(json.dumps({'env': {key: v}, 'pid': ri(100, 99999)}))
    if r == 4:
        return 'Referer: https://%s/settings/integrations?%s=%s' % (host(), pick(['token', 'key', 'k']), q(v))
    if r == 5:
        enc, desc, _ = encode_any(v, ascii_only=True, names=HDR_ENC)
        return '%s: %s' % (pick(['X-Trace-Data', 'X-Request-Meta', 'X-Client-State', 'X-Amz-Meta-Note', 'X-Correlation-Blob']), enc)
    if r == 6:
        return pick(['X-Forwarded-Authorization: Bearer ', 'Proxy-Authorization: Bearer ', 'X-Upstream-Token: ']) + v
    return 'X-%s: %s' % ('-'.join(p.capitalize() for p in key.lower().split('_')), v)


def header_case(c, v):
    k = c['kind']
    key = c.get('env') or 'SECRET'
    if k == 'token':
        return header_for(c, v) if chance(0.5) else header_generic(key, v)
    if k == 'password':
        return pick([lambda: 'Authorization: Basic ' + b64(username() + ':' + v), lambda: 'X-Password: ' + v,
                     lambda: header_generic('PASSWORD', v)])()
    if k == 'uri':
        if v.startswith('http') and chance(0.4):
            return pick(['Referer: ', 'X-Callback-Url: ', 'X-Webhook-Target: ']) + v
        return pick([lambda: 'X-%s: %s' % ('-'.join(p.capitalize() for p in key.lower().split('_')), v),
                     lambda: 'X-Debug-Context: ' + b64(json.dumps({key: v})),
                     lambda: header_generic(key, v)])()
    if k == 'cmd':
        return pick(['X-Shell-Command: ' + v, 'X-Run: ' + b64(v), 'X-Job-Spec: ' + b64u(json.dumps({'cmd': v}))])
    if k == 'pii':
        fld = '-'.join(p.capitalize() for p in c['field'].split('_'))
        return pick([lambda: 'X-Customer-%s: %s' % (fld, asciify(v)),
                     lambda: 'X-User-Context: ' + b64(json.dumps(pii_record(c, v), ensure_ascii=False)),
                     lambda: 'Cookie: kyc=' + q(json.dumps({c['field']: v}, ensure_ascii=False)),
                     lambda: 'X-%s: %s' % (fld, asciify(v))])()
    if k in ('multiline', 'pii_ml', 'doc1'):
        return pick([lambda: 'X-Client-Key: ' + b64(v), lambda: 'X-Blob: ' + b64u(gz(v)),
                     lambda: 'X-Attachment: ' + b64(zlib.compress(v.encode()))])()
    raise ValueError(k)


URL_PARAMS = ['api_key', 'token', 'access_token', 'key', 'apikey', 'auth', 'secret', 'sig', 'private_token', 'code']


def url_case(c, v):
    k = c['kind']
    h = host()
    if k == 'uri' and v.startswith('https://') and chance(0.6):
        return v
    if k in ('multiline', 'pii_ml', 'doc1'):
        return pick([lambda: 'https://%s/api/paste?content=%s' % (h, q(b64(v))),
                     lambda: 'https://%s/collect?d=%s' % (h, b64u(gz(v))),
                     lambda: 'https://%s/upload?name=%s&data=%s' % (h, pick(['key', 'notes', 'f']), q(v))])()
    if k == 'pii':
        rec = pii_record(c, v)
        return pick([lambda: 'https://%s/api/v1/customers/lookup?%s=%s' % (h, c['field'], q(v)),
                     lambda: 'https://%s/v2/verify/%s/%s' % (h, c['field'], q(v)),
                     lambda: 'https://%s/t.gif?u=%s' % (h, b64u(json.dumps(rec, ensure_ascii=False))),
                     lambda: 'https://www.google.com/search?q=%s' % q('%s %s %s' % (rec['first_name'], rec['last_name'], v))])()
    if k == 'cmd':
        return 'https://%s/exec?cmd=%s' % (h, q(v))
    r = ri(0, 8)
    if r <= 2:
        return 'https://%s/%s?%s=%s' % (h, pick(['v1/items', 'api/export', 'hook', 'graphql', 'search']), pick(URL_PARAMS), q(v))
    if r == 3:
        return 'https://%s/hooks/%s/ingest' % (h, q(v))
    if r == 4:
        return 'https://%s:%s@%s/' % (username(), q(v), h)
    if r == 5:
        enc, desc, name = encode_any(v, ascii_only=True, names=['base64url', 'hex', 'base32', 'rot13', 'reverse',
                                                                'double-percent', 'gzip-base64', 'xor', 'caesar'])
        return 'https://%s/p?%s=%s%s' % (h, pick(['d', 'x', 'q', 'state']), q(enc), ('&e=' + q(desc)) if chance(0.4) else '')
    if r == 6:
        parts = split_parts(v, ri(2, 4))
        return 'https://%s/c?' % h + '&'.join('%s=%s' % (pick(['a', 'p', 's']) + str(i), q(p)) for i, p in enumerate(parts))
    if r == 7:
        inner = 'https://%s/callback?%s=%s' % (host(), pick(URL_PARAMS), q(v))
        return 'https://%s/redirect?next=%s' % (h, q(inner))
    return 'https://www.google.com/search?q=%s' % q(pick(['is this key valid ', 'revoke ', 'what service uses ']) + v)


def ldh_raw(s):
    t = re.sub(r'[^a-z0-9]+', '-', s.lower()).strip('-')
    return t


def hostname_case(c, v, dry=False):
    dom = rs(ANL, ri(4, 8)) + '.' + pick(EXFIL)
    opts = []
    raw = ldh_raw(v)
    if c['kind'] == 'pii' or (v == v.lower() and re.fullmatch(r'[a-z0-9.-]+', v)):
        if raw:
            opts.append(('raw', raw))
    opts.append(('hex', v.encode().hex()))
    opts.append(('b32', base64.b32encode(v.encode()).decode().rstrip('=').lower()))
    R.shuffle(opts)
    for name, s in opts:
        size = ri(20, 63)
        labels = [s[i:i + size].strip('-') for i in range(0, len(s), size)]
        labels = [x for x in labels if x]
        pre = []
        if chance(0.4):
            pre = [pick(['x', 'd', 's', 'q']) + str(ri(0, 99))]
        hn = '.'.join(pre + labels + [dom])
        if len(hn) <= 253 and all(1 <= len(x) <= 63 for x in hn.split('.')):
            return hn
    return None


def can_host(c):
    if c['kind'] not in ('token', 'uri', 'password', 'pii'):
        return False
    for _ in range(3):
        v = c['gen']()
        if len(v.encode()) > 95:
            return False
    return True


def wheres_for(c):
    k = c['kind']
    w = ['body']
    if k != 'doc':
        w += ['url', 'header']
    if c.get('host_ok'):
        w.append('hostname')
    return w


# ---------------------------------------------------------------- negatives
NEG = []


def neg(name, wheres):
    def deco(fn):
        NEG.append(dict(name=name, fn=fn, wheres=[{'b': 'body', 'u': 'url', 'h': 'header', 'n': 'hostname'}[x] for x in wheres]))
        return fn
    return deco


def sha1():
    return rs(HEX, 40)


def sha256():
    return rs(HEX, 64)


@neg('uuid-identifiers', 'buhn')
def n_uuid(w):
    if w == 'body':
        return 'application/json', json.dumps({'request_id': uuid4(), 'items': [{'id': uuid4(), 'qty': ri(1, 9)} for _ in range(ri(1, 4))],
                                               'tenant': uuid4()})
    if w == 'url':
        return 'https://%s/v1/orders/%s/items/%s' % (host(), uuid4(), uuid4())
    if w == 'header':
        return pick(['X-Request-Id', 'X-Correlation-Id', 'Idempotency-Key', 'X-Amzn-RequestId']) + ': ' + uuid4()
    return '%s.%s.svc.cluster.local' % (uuid4(), pick(SERVICES))


@neg('git-commit-shas', 'buhn')
def n_git(w):
    if w == 'body':
        return 'application/json', json.dumps({'ref': 'refs/heads/main', 'before': sha1(), 'after': sha1(),
                                               'commits': [{'id': sha1(), 'message': pick(['fix typo', 'bump deps', 'refactor cache']),
                                                            'tree_id': sha1()} for _ in range(ri(1, 3))]})
    if w == 'url':
        return 'https://github.com/%s/%s/commit/%s' % (company(), pick(SERVICES), sha1())
    if w == 'header':
        return pick(['X-Git-Commit', 'X-Build-Sha', 'X-Source-Version']) + ': ' + sha1()
    return '%s-%s.preview.%s.dev' % (pick(SERVICES), rs(HEX, 7), company())


@neg('content-hashes', 'buh')
def n_hash(w):
    if w == 'body':
        return 'text/plain', ''.join('%s  %s\n' % (sha256(), pick(['dist/app-%d.tar.gz', 'bin/tool-%d', 'pkg-%d.whl']) % ri(1, 99)) for _ in range(ri(2, 6)))
    if w == 'url':
        return 'https://%s/v2/%s/blobs/sha256:%s' % (pick(['registry-1.docker.io', 'ghcr.io', 'quay.io']), pick(SERVICES), sha256())
    return pick(['X-Content-Sha256: ' + sha256(), 'Digest: sha-256=' + b64(rbytes(32)), 'X-Amz-Content-Sha256: ' + sha256()])


@neg('sri-integrity-attributes', 'b')
def n_sri(w):
    tags = ''.join('<script src="https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js" integrity="sha384-%s" crossorigin="anonymous"></script>\n' % (
        p, ri(1, 5), ri(0, 20), ri(0, 9), p, b64(rbytes(48))) for p in R.sample(['bootstrap', 'alpinejs', 'htmx.org', 'chart.js', 'lodash'], 2))
    return 'text/html', '<!doctype html>\n<html><head>\n%s</head><body></body></html>\n' % tags


@neg('etag-md5-checksums', 'buh')
def n_md5(w):
    if w == 'header':
        return pick(['If-None-Match: "%s"' % rs(HEX, 32), 'Content-MD5: ' + b64(rbytes(16)), 'If-Match: W/"%s-%s"' % (rs(HEX, 2), rs(HEX, 27))])
    if w == 'url':
        return 'https://%s/files/%s?md5=%s' % (host(), pick(['report.pdf', 'a.zip']), rs(HEX, 32))
    items = ''.join('<Contents><Key>%s/%s.jpg</Key><ETag>&quot;%s&quot;</ETag><Size>%d</Size></Contents>' % (
        pick(['img', 'thumbs']), rs(ANL, 10), rs(HEX, 32), ri(1000, 900000)) for _ in range(ri(2, 4)))
    return 'application/xml', '<?xml version="1.0"?><ListBucketResult><Name>%s-public</Name>%s</ListBucketResult>' % (company(), items)


@neg('cdn-asset-paths', 'buhn')
def n_cdn(w):
    p = '/static/%s/%s.%s.%s' % (pick(['js', 'css', 'media']), pick(['main', 'vendor', 'runtime', 'chunk-%d' % ri(100, 999)]), rs(HEX, pick([8, 16, 20])), pick(['js', 'css', 'woff2']))
    if w == 'url':
        return 'https://%s%s' % (pick(['cdn.%s.com' % company(), 'd%s.cloudfront.net' % rs(ANL, 13), 'assets.%s.io' % company()]), p)
    if w == 'header':
        return 'Referer: https://www.%s.com%s' % (company(), p)
    if w == 'hostname':
        return 'd%s.cloudfront.net' % rs(ANL, 13)
    return 'application/json', json.dumps({'files': {'main.js': p, 'main.css': p.replace('.js', '.css')}, 'entrypoints': [p]})


@neg('aws-resource-ids', 'buhn')
def n_aws(w):
    acct = digits(12)
    if w == 'body':
        return 'application/json', json.dumps({'Reservations': [{'Instances': [{'InstanceId': 'i-0' + rs(HEX, 16), 'ImageId': 'ami-0' + rs(HEX, 16),
                                                                                 'SubnetId': 'subnet-0' + rs(HEX, 16), 'VpcId': 'vpc-0' + rs(HEX, 16),
                                                                                 'SecurityGroups': [{'GroupId': 'sg-0' + rs(HEX, 16)}]}],
                                                                  'OwnerId': acct}],
                                               'Arn': 'arn:aws:iam::%s:role/%s-deploy' % (acct, pick(SERVICES))})
    if w == 'url':
        return 'https://%s.console.aws.amazon.com/ec2/home?region=%s#InstanceDetails:instanceId=i-0%s' % (
            pick(['eu-west-1', 'us-east-1']), pick(['eu-west-1', 'us-east-1']), rs(HEX, 16))
    if w == 'header':
        return 'X-Amzn-Trace-Id: Root=1-%s-%s;Parent=%s;Sampled=1' % (rs(HEX, 8), rs(HEX, 24), rs(HEX, 16))
    return pick(['ip-10-%d-%d-%d.%s.compute.internal' % (ri(0, 255), ri(0, 255), ri(1, 254), pick(['eu-west-1', 'us-east-2'])),
                 'ec2-%d-%d-%d-%d.compute-1.amazonaws.com' % (ri(3, 54), ri(0, 255), ri(0, 255), ri(1, 254))])


@neg('gcp-resource-names', 'bu')
def n_gcp(w):
    proj = '%s-%s-%d' % (company(), pick(SERVICES), ri(1000, 9999))
    if w == 'url':
        return 'https://console.cloud.google.com/run/detail/europe-west1/%s/revisions?project=%s' % (pick(SERVICES), proj)
    return 'application/json', json.dumps({'name': 'projects/%s/locations/europe-west1/services/%s' % (proj, pick(SERVICES)),
                                           'uid': uuid4(), 'etag': '"' + b64(rbytes(12)) + '"',
                                           'latestReadyRevision': '%s-%05d-%s' % (pick(SERVICES), ri(1, 999), rs(ANL, 3))})


@neg('azure-resource-ids', 'bu')
def n_azure(w):
    rid = '/subscriptions/%s/resourceGroups/rg-%s-prod/providers/Microsoft.Web/sites/%s-%s' % (uuid4(), pick(SERVICES), company(), pick(SERVICES))
    if w == 'url':
        return 'https://management.azure.com%s?api-version=2023-01-01' % rid
    return 'application/json', json.dumps({'id': rid, 'location': 'westeurope', 'tenantId': uuid4(), 'principalId': uuid4()})


@neg('ssh-public-keys', 'b')
def n_sshpub(w):
    if chance(0.5):
        k = 'ssh-ed25519 ' + b64(sshstr('ssh-ed25519') + sshstr(rbytes(32)))
    else:
        k = 'ssh-rsa ' + b64(sshstr('ssh-rsa') + sshstr(b'\x01\x00\x01') + sshstr(b'\x00' + rbytes(256)))
    k += ' %s@%s' % (username(), pick(['laptop', 'ci', 'mbp']))
    if chance(0.5):
        return 'application/json', json.dumps({'title': 'work laptop', 'key': k})
    return 'text/plain', k + '\n'


def cert_pem():
    a, b = armor('CERTIFICATE')
    return a + '\n' + wrap64(b64(bytes.fromhex('308203') + rbytes(1) + bytes.fromhex('308202') + rbytes(ri(700, 900)))) + '\n' + b


@neg('x509-certificates', 'bh')
def n_cert(w):
    if w == 'header':
        return 'X-Client-Cert: ' + q(cert_pem())
    return pick(['application/x-pem-file', 'text/plain']), cert_pem() + '\n' + (cert_pem() + '\n' if chance(0.4) else '')


@neg('pgp-public-keys', 'b')
def n_pgppub(w):
    a, b = armor('PGP PUBLIC KEY BLOCK')
    body = b'\x99\x01\x0d\x04' + rbytes(ri(500, 800))
    return 'application/pgp-keys', a + '\n\n' + wrap64(b64(body)) + '\n=' + b64(crc24(body).to_bytes(3, 'big')) + '\n' + b + '\n'


def jwt_none():
    p = {'sub': str(ri(1000, 99999)), 'name': ' '.join(person()), 'iat': epoch(), 'public': True}
    return b64u(json.dumps({'alg': 'none', 'typ': 'JWT'}, separators=(',', ':'))) + '.' + b64u(json.dumps(p, separators=(',', ':'))) + '.'


@neg('unsigned-jwt-like-data', 'buh')
def n_jwtnone(w):
    if w == 'url':
        return 'https://%s/share?state=%s' % (host(), jwt_none())
    if w == 'header':
        return 'X-Debug-Claims: ' + jwt_none()
    return 'application/json', json.dumps({'example_token': jwt_none(), 'note': 'alg none, no signature, used in docs'})


@neg('public-jwks', 'b')
def n_jwks(w):
    keys = [{'kty': 'RSA', 'use': 'sig', 'kid': rs(HEX, 40), 'alg': 'RS256', 'n': b64u(rbytes(256)), 'e': 'AQAB'} for _ in range(ri(1, 3))]
    return 'application/json', json.dumps({'keys': keys})


PLACEHOLDERS = ['<your-token>', 'YOUR_API_KEY_HERE', 'xxxxxxxxxxxxxxxxxxxx', '${API_KEY}', '{{ secrets.DEPLOY_TOKEN }}', 'changeme',
                '<insert key>', '****', 'REPLACE_ME', '$(cat ~/.token)', '%API_TOKEN%', 'TODO', 'dummy', 'example-key', '<redacted>',
                '{{ .Values.apiKey }}', '${{ secrets.NPM_TOKEN }}', '<paste-here>', 'your-password', 'XXXX-XXXX-XXXX-XXXX',
                '0000000000000000', 'abc123', '<API_TOKEN>', 'op://vault/item/credential', 'vault:secret/data/app#token']


@neg('placeholder-credentials', 'buh')
def n_placeholder(w):
    p = pick(PLACEHOLDERS)
    if w == 'url':
        return 'https://%s/v1/search?api_key=%s&q=%s' % (host(), q(p), pick(WORDS))
    if w == 'header':
        return pick(['Authorization: Bearer ', 'X-Api-Key: ', 'Authorization: token ']) + p
    t = ri(0, 2)
    if t == 0:
        return 'text/markdown', '## Configuration\n\nSet `API_KEY` to your key, e.g.\n\n```\nAPI_KEY=%s\nDB_PASSWORD=%s\n```\n\nNever commit real values.\n' % (p, pick(PLACEHOLDERS))
    if t == 1:
        return 'application/yaml', 'auth:\n  token: "%s"\n  password: "%s"\n' % (p, pick(PLACEHOLDERS))
    return 'application/json', json.dumps({'apiKey': p, 'secret': pick(PLACEHOLDERS), 'docs': 'https://docs.%s.com/auth' % company()})


@neg('env-templates-empty', 'b')
def n_envtpl(w):
    keys = R.sample(['DATABASE_URL', 'STRIPE_SECRET_KEY', 'GITHUB_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'OPENAI_API_KEY',
                     'SENTRY_DSN', 'SMTP_PASSWORD', 'REDIS_URL', 'JWT_SECRET'], ri(3, 7))
    return 'text/plain', '# copy to .env and fill in\n' + ''.join('%s=\n' % k for k in keys) + 'PORT=3000\nNODE_ENV=development\n'


def png_bytes():
    return b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + rbytes(ri(200, 600))


@neg('base64-images', 'b')
def n_img(w):
    d = 'data:image/%s;base64,%s' % (pick(['png', 'jpeg', 'gif', 'webp']), b64(png_bytes()))
    if chance(0.5):
        return 'application/json', json.dumps({'avatar': d, 'user': pick(WORDS)})
    return 'text/html', '<img alt="logo" src="%s">' % d


@neg('minified-javascript', 'b')
def n_minjs(w):
    parts = []
    for _ in range(ri(5, 12)):
        a, b = rs(LO, 1), rs(LO, 2)
        parts.append(pick(['function %s(%s){return %s.map(function(e){return e*%d})}' % (a, b, b, ri(2, 9)),
                           'var %s=%s||{};%s.v="%d.%d.%d";' % (a, a, a, ri(1, 9), ri(0, 9), ri(0, 9)),
                           '!function(%s){%s.exports=%s}(window);' % (a, a, b),
                           'const %s="%s";' % (b, rs(AN, ri(8, 20))), '%s[%d]=%s[%d]^%d;' % (b, ri(0, 9), b, ri(0, 9), ri(1, 255))]))
    return 'application/javascript', ''.join(parts) + '\n//# sourceMappingURL=app.%s.js.map\n' % rs(HEX, 8)


def cursor():
    return b64u(json.dumps({'offset': ri(0, 10000), 'ts': epoch(), 'id': uuid4()}, separators=(',', ':')))


@neg('pagination-cursors', 'buh')
def n_cursor(w):
    if w == 'url':
        return 'https://%s/v1/events?limit=100&cursor=%s' % (host(), cursor())
    if w == 'header':
        return pick(['X-Next-Cursor: ', 'X-Page-Token: ']) + cursor()
    return 'application/json', json.dumps({'query': 'query($after:String){ repos(first:50, after:$after){ nodes { id } } }',
                                           'variables': {'after': cursor()}})


@neg('analytics-tracking-ids', 'buh')
def n_analytics(w):
    if w == 'url':
        return 'https://www.google-analytics.com/g/collect?v=2&tid=G-%s&cid=%d.%d&en=page_view&dl=%s' % (
            rs(ANU, 10), ri(10 ** 8, 10 ** 9), epoch(), q('https://www.%s.com/pricing' % company()))
    if w == 'header':
        return 'Cookie: _ga=GA1.1.%d.%d; _gid=GA1.2.%d.%d; _fbp=fb.1.%d.%d; ajs_anonymous_id=%s' % (
            ri(10 ** 8, 10 ** 9), epoch(), ri(10 ** 8, 10 ** 9), epoch(), epoch() * 1000, ri(10 ** 8, 10 ** 9), uuid4())
    return 'application/json', json.dumps({'batch': [{'type': 'track', 'event': 'Signed Up', 'anonymousId': uuid4(),
                                                      'context': {'campaign': {'source': 'newsletter'}, 'gtm': 'GTM-' + rs(ANU, 7)}}]})


def luhn_bad(n):
    while True:
        s = pick('3456') + rs(DG, n - 1)
        if not luhn_ok(s):
            return s


@neg('luhn-invalid-numbers', 'buh')
def n_luhnbad(w):
    if w == 'url':
        return 'https://%s/orders/%s/invoice' % (host(), luhn_bad(16))
    if w == 'header':
        return 'X-Order-Ref: ' + luhn_bad(pick([14, 15, 16, 18]))
    return 'application/json', json.dumps({'shipment_ids': [luhn_bad(16) for _ in range(ri(2, 5))], 'batch': luhn_bad(19)})


def phone():
    return pick(['+1 (%d) 555-%04d' % (ri(200, 989), ri(0, 9999)), '+44 20 7946 %04d' % ri(0, 9999), '+49 30 %d' % ri(1000000, 99999999),
                 '+33 1 %02d %02d %02d %02d' % (ri(10, 99), ri(10, 99), ri(10, 99), ri(10, 99)), '+81 3-%04d-%04d' % (ri(1000, 9999), ri(0, 9999))])


@neg('phone-numbers', 'buh')
def n_phone(w):
    if w == 'url':
        return 'https://%s/contact?phone=%s' % (host(), q(phone()))
    if w == 'header':
        return 'X-Caller-Id: ' + phone()
    return 'application/json', json.dumps({'contacts': [{'name': ' '.join(person()), 'phone': phone()} for _ in range(ri(1, 4))]},
                                          ensure_ascii=False)


def order_id():
    return pick(['ORD-%d-%06d' % (ri(2021, 2025), ri(0, 999999)), '#%d' % ri(100000, 9999999), 'PO%08d' % ri(0, 10 ** 8 - 1),
                 'INV-%s-%04d' % (rs(ANU, 4), ri(0, 9999))])


@neg('order-ids', 'buh')
def n_order(w):
    if w == 'url':
        return 'https://shop.%s.com/account/orders/%s' % (company(), q(order_id()))
    if w == 'header':
        return 'X-Order-Id: ' + order_id()
    return 'application/json', json.dumps({'order_id': order_id(), 'total': round(R.random() * 500, 2), 'currency': pick(['EUR', 'USD', 'GBP'])})


@neg('password-policy-discussion', 'bu')
def n_pwdisc(w):
    msgs = ['Passwords must be at least 12 characters and include a number. We never email your password.',
            'Reset your password from the settings page; the link expires after 30 minutes.',
            'Das Passwort muss mindestens 12 Zeichen lang sein und darf nicht dem Benutzernamen entsprechen.',
            'Le mot de passe doit contenir au moins une majuscule et un chiffre.',
            'La contraseña debe tener al menos 10 caracteres.',
            'How should we store password hashes? I suggest argon2id with per-user salts.',
            'パスワードは12文字以上にしてください。', 'Please rotate the API token every 90 days and never paste it into chat.',
            'Q: What is the password? A: Ask the on-call person, it is in the vault, not in this ticket.']
    if w == 'url':
        return 'https://www.google.com/search?q=%s' % q(pick(['how to reset password', 'password manager comparison', 'rotate api token best practice']))
    return 'application/json', json.dumps({'text': ' '.join(R.sample(msgs, 2)), 'channel': 'C' + rs(ANU, 10)}, ensure_ascii=False)


@neg('benign-hostnames', 'nu')
def n_hosts(w):
    h = pick(['api.%s.%s' % (company(), pick(TLDS)), 'eu-west-1.%s-prod.internal' % company(), 'www.%s.com' % pick(WORDS),
              '%s.%s.svc.cluster.local' % (pick(SERVICES), pick(['default', 'prod', 'monitoring'])), 'mail.%s.de' % company(),
              'status.%s.io' % company(), '%s-%d.%s.net' % (pick(['edge', 'pop', 'lb']), ri(1, 99), company()),
              'fonts.gstatic.com', 'registry.npmjs.org', 'pypi.org', 'storage.googleapis.com', 'login.microsoftonline.com'])
    if w == 'url':
        return 'https://%s/' % h
    return h


LOREM = {'la': 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.',
         'de': 'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.',
         'fr': 'Portez ce vieux whisky au juge blond qui fume.',
         'es': 'El veloz murciélago hindú comía feliz cardillo y kiwi.',
         'pl': 'Pchnąć w tę łódź jeża lub ośm skrzyń fig.',
         'ru': 'Съешь же ещё этих мягких французских булок, да выпей чаю.',
         'ja': 'いろはにほへと ちりぬるを わかよたれそ つねならむ',
         'zh': '天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。',
         'el': 'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.',
         'tr': 'Pijamalı hasta yağız şoföre çabucak güvendi.',
         'ko': '키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.',
         'ar': 'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق.',
         'hi': 'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।',
         'sv': 'Flygande bäckasiner söka hwila på mjuka tuvor.'}


@neg('lorem-ipsum-multilingual', 'b')
def n_lorem(w):
    langs = R.sample(sorted(LOREM), ri(2, 4))
    txt = '\n\n'.join(LOREM[l] for l in langs)
    if chance(0.5):
        return 'application/json', json.dumps({'title': pick(WORDS), 'body': txt, 'locale': langs[0]}, ensure_ascii=False)
    return 'text/plain; charset=utf-8', txt


@neg('otel-telemetry', 'bh')
def n_otel(w):
    if w == 'header':
        return pick(['traceparent: 00-%s-%s-01' % (rs(HEX, 32), rs(HEX, 16)), 'tracestate: dd=s:1;o:rum,rojo=%s' % rs(HEX, 16),
                     'X-B3-TraceId: %s' % rs(HEX, 32), 'uber-trace-id: %s:%s:0:1' % (rs(HEX, 16), rs(HEX, 16))])
    spans = [{'traceId': rs(HEX, 32), 'spanId': rs(HEX, 16), 'parentSpanId': rs(HEX, 16), 'name': pick(['GET /api', 'db.query', 'cache.get']),
              'startTimeUnixNano': str(epoch() * 10 ** 9 + ri(0, 10 ** 9)), 'attributes': [{'key': 'http.status_code', 'value': {'intValue': '200'}}]}
             for _ in range(ri(1, 4))]
    return 'application/json', json.dumps({'resourceSpans': [{'resource': {'attributes': [{'key': 'service.name', 'value': {'stringValue': pick(SERVICES)}}]},
                                                              'scopeSpans': [{'spans': spans}]}]})


@neg('docker-image-digests', 'bu')
def n_digest(w):
    img = '%s/%s/%s@sha256:%s' % (pick(['ghcr.io', 'docker.io', 'quay.io']), company(), pick(SERVICES), sha256())
    if w == 'url':
        return 'https://ghcr.io/v2/%s/%s/manifests/sha256:%s' % (company(), pick(SERVICES), sha256())
    return 'application/yaml', 'spec:\n  containers:\n  - name: app\n    image: %s\n    imagePullPolicy: IfNotPresent\n' % img


@neg('lockfile-integrity', 'b')
def n_lock(w):
    deps = {}
    for p in R.sample(['react', 'lodash', 'express', 'axios', 'zod', 'vite', 'chalk', 'semver', 'debug'], ri(2, 5)):
        deps['node_modules/' + p] = {'version': '%d.%d.%d' % (ri(1, 18), ri(0, 20), ri(0, 9)),
                                     'resolved': 'https://registry.npmjs.org/%s/-/%s-1.0.0.tgz' % (p, p),
                                     'integrity': 'sha512-' + b64(rbytes(64))}
    return 'application/json', json.dumps({'name': pick(SERVICES), 'lockfileVersion': 3, 'packages': deps}, indent=2)


@neg('go-sum-lines', 'b')
def n_gosum(w):
    mods = ['github.com/%s/%s' % (pick(WORDS), pick(WORDS)) for _ in range(ri(2, 5))]
    return 'text/plain', ''.join('%s v%d.%d.%d h1:%s\n%s v%d.%d.%d/go.mod h1:%s\n' % (
        m, ri(0, 2), ri(0, 20), ri(0, 9), b64(rbytes(32)), m, ri(0, 2), ri(0, 20), ri(0, 9), b64(rbytes(32))) for m in mods)


@neg('css-colors-and-styles', 'b')
def n_css(w):
    return 'text/css', ''.join('.%s-%s{color:#%s;background:#%s;border:1px solid rgba(%d,%d,%d,.%d)}\n' % (
        pick(WORDS), rs(ANL, 5), rs(HEX, 6), rs(HEX, 3), ri(0, 255), ri(0, 255), ri(0, 255), ri(1, 9)) for _ in range(ri(3, 8)))


@neg('metrics-and-timestamps', 'bu')
def n_metrics(w):
    if w == 'url':
        return 'https://%s/api/v1/query_range?query=%s&start=%d&end=%d&step=15' % (host(), q('rate(http_requests_total[5m])'), epoch(), epoch())
    lines = []
    for _ in range(ri(3, 8)):
        lines.append('%s{service="%s",code="%d"} %d %d' % (pick(['http_requests_total', 'queue_depth', 'gc_pause_ms']), pick(SERVICES),
                                                          pick([200, 404, 500]), ri(0, 10 ** 6), epoch() * 1000 + ri(0, 999)))
    return 'text/plain; version=0.0.4', '\n'.join(lines) + '\n'


@neg('geo-coordinates', 'bu')
def n_geo(w):
    lat, lon = round(R.uniform(-60, 70), 6), round(R.uniform(-170, 170), 6)
    if w == 'url':
        return 'https://www.openstreetmap.org/?mlat=%s&mlon=%s#map=15/%s/%s' % (lat, lon, lat, lon)
    return 'application/geo+json', json.dumps({'type': 'FeatureCollection', 'features': [{'type': 'Feature', 'geometry': {
        'type': 'Point', 'coordinates': [round(R.uniform(-170, 170), 6), round(R.uniform(-60, 70), 6)]}, 'properties': {'name': pick(WORDS)}}
        for _ in range(ri(1, 4))]})


def ean13():
    s = rs(DG, 12)
    t = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(s))
    return s + str((10 - t % 10) % 10)


@neg('product-barcodes', 'bu')
def n_ean(w):
    if w == 'url':
        return 'https://world.openfoodfacts.org/api/v2/product/%s.json' % ean13()
    return 'application/json', json.dumps({'items': [{'gtin': ean13(), 'isbn': '978-%d-%02d-%06d-%d' % (ri(0, 9), ri(0, 99), ri(0, 999999), ri(0, 9)),
                                                      'qty': ri(1, 20)} for _ in range(ri(1, 4))]})


def mac():
    return ':'.join('%02x' % R.getrandbits(8) for _ in range(6))


def ipv6():
    return '2001:db8:%x:%x::%x' % (R.getrandbits(16), R.getrandbits(16), R.getrandbits(16))


@neg('network-identifiers', 'bhn')
def n_net(w):
    if w == 'header':
        return 'X-Forwarded-For: %d.%d.%d.%d, %s' % (ri(1, 223), ri(0, 255), ri(0, 255), ri(1, 254), ipv6())
    if w == 'hostname':
        return '%d-%d-%d-%d.static.%s-broadband.net' % (ri(1, 223), ri(0, 255), ri(0, 255), ri(1, 254), pick(WORDS))
    return 'application/json', json.dumps({'devices': [{'mac': mac(), 'ipv6': ipv6(), 'ipv4': '10.%d.%d.%d' % (ri(0, 255), ri(0, 255), ri(1, 254))}
                                                       for _ in range(ri(1, 4))]})


@neg('public-media-ids', 'bu')
def n_media(w):
    if w == 'url':
        return pick(['https://www.youtube.com/watch?v=%s&t=%ds' % (rs(B64U, 11), ri(0, 900)), 'https://vimeo.com/%d' % ri(10 ** 7, 10 ** 9),
                     'https://www.reddit.com/r/%s/comments/%s/' % (pick(WORDS), rs(ANL, 7)), 'https://imgur.com/a/%s' % rs(AN, 7),
                     'https://open.spotify.com/track/%s' % rs(AN, 22)])
    return 'application/json', json.dumps({'playlist': [rs(B64U, 11) for _ in range(ri(3, 8))]})


@neg('oauth-public-parameters', 'bu')
def n_oauthpub(w):
    cid = '%s-%s.apps.googleusercontent.com' % (digits(12), rs(ANL, 32))
    if w == 'url':
        return 'https://accounts.google.com/o/oauth2/v2/auth?client_id=%s&redirect_uri=%s&response_type=code&scope=openid%%20email&state=%s&code_challenge=%s&code_challenge_method=S256' % (
            cid, q('https://app.%s.com/callback' % company()), rs(AN, 24), b64u(rbytes(32)))
    return 'application/json', json.dumps({'client_id': cid, 'redirect_uris': ['https://app.%s.com/callback' % company()],
                                           'response_types': ['code'], 'token_endpoint_auth_method': 'none'})


@neg('github-webhook-events', 'b')
def n_ghevent(w):
    return 'application/json', json.dumps({'action': pick(['opened', 'closed', 'synchronize']), 'number': ri(1, 5000),
                                           'pull_request': {'head': {'sha': sha1(), 'ref': 'feature/' + pick(WORDS)},
                                                            'base': {'sha': sha1(), 'ref': 'main'}, 'node_id': 'PR_kwDO' + rs(B64U, 12)},
                                           'repository': {'full_name': '%s/%s' % (company(), pick(SERVICES)), 'id': ri(10 ** 7, 10 ** 9)},
                                           'installation': {'id': ri(10 ** 6, 10 ** 8)}})


@neg('kubernetes-configmaps', 'b')
def n_cm(w):
    return 'application/yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-config\ndata:\n  LOG_LEVEL: info\n  FEATURE_FLAGS: "%s"\n  UPSTREAM: http://%s.%s.svc:8080\n  CACHE_TTL: "%d"\n' % (
        pick(SERVICES), ','.join(R.sample(WORDS, 3)), pick(SERVICES), pick(['default', 'prod']), ri(10, 3600))


@neg('terraform-plans', 'b')
def n_tfplan(w):
    return 'text/plain', ('Terraform will perform the following actions:\n\n  # aws_instance.%s will be created\n  + resource "aws_instance" "%s" {\n'
                          '      + ami           = "ami-0%s"\n      + instance_type = "t3.micro"\n      + id            = (known after apply)\n'
                          '      + tags          = { "Name" = "%s" }\n    }\n\nPlan: 1 to add, 0 to change, 0 to destroy.\n' % (
                              pick(SERVICES), pick(SERVICES), rs(HEX, 16), pick(WORDS)))


@neg('csv-business-data', 'b')
def n_csvdata(w):
    rows = ['date,region,product,units,revenue']
    for _ in range(ri(3, 10)):
        rows.append('%04d-%02d-%02d,%s,%s,%d,%.2f' % (ri(2022, 2025), ri(1, 12), ri(1, 28), pick(['EMEA', 'APAC', 'NA']), pick(WORDS), ri(1, 500), R.uniform(10, 90000)))
    return 'text/csv', '\n'.join(rows) + '\n'


@neg('sql-queries', 'b')
def n_sql(w):
    return 'application/json', json.dumps({'db': pick(SERVICES), 'timeout_ms': ri(100, 30000), 'sql': pick(['SELECT id, status FROM orders WHERE created_at > now() - interval \'%d day\' LIMIT %d;' % (ri(1, 30), ri(10, 500)),
                                                         'UPDATE users SET last_login = NOW() WHERE id = %d;' % ri(1, 99999),
                                                         "SELECT count(*) FROM sessions WHERE expires_at < now() AND tenant_id = %d;" % ri(1, 9999),
                                                         'CREATE INDEX CONCURRENTLY idx_%s ON events (tenant_id, ts);' % pick(WORDS)])})


@neg('application-logs', 'b')
def n_logs(w):
    lines = ['%s %s [%s] %s' % (iso_date(), pick(['INFO', 'WARN', 'DEBUG']), pick(SERVICES), pick([
        'GET /api/v1/items 200 %dms req_id=%s' % (ri(1, 900), uuid4()), 'connected to postgres pool size=%d' % ri(2, 50),
        'job %s finished in %.2fs' % (rs(HEX, 12), R.uniform(0, 30)), 'cache miss key=user:%d' % ri(1, 10 ** 6),
        'token refresh scheduled in %ds' % ri(60, 3600), 'password reset email queued for user_id=%d' % ri(1, 10 ** 6)])) for _ in range(ri(4, 10))]
    return 'text/plain', '\n'.join(lines) + '\n'


@neg('stack-traces', 'b')
def n_trace(w):
    return 'text/plain', ('Exception in thread "main" java.lang.NullPointerException: Cannot invoke "String.length()" because "token" is null\n'
                          '\tat com.%s.%s.AuthFilter.doFilter(AuthFilter.java:%d)\n\tat org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)\n'
                          '\tat java.base/java.lang.Thread.run(Thread.java:1583)\n' % (company(), pick(SERVICES), ri(10, 400)))


@neg('html-with-csp-nonce', 'b')
def n_nonce(w):
    n = b64(rbytes(16))
    return 'text/html', '<!doctype html><html><head><meta name="csrf-param" content="authenticity_token"><script nonce="%s">window.__BUILD__="%s"</script></head><body><div id="root"></div></body></html>' % (n, rs(HEX, 12))


@neg('blockchain-public-data', 'bu')
def n_chain(w):
    if w == 'url':
        return pick(['https://etherscan.io/tx/0x%s' % rs(HEX, 64), 'https://etherscan.io/address/0x%s' % rs(HEX, 40),
                     'https://mempool.space/tx/%s' % rs(HEX, 64), 'https://solscan.io/tx/%s' % b58enc(rbytes(64))])
    return 'application/json', json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'eth_getTransactionReceipt', 'params': ['0x' + rs(HEX, 64)],
                                           'to': '0x' + rs(HEX, 40), 'btc_address': b58check(b'\x00' + rbytes(20)),
                                           'block_hash': '0x' + rs(HEX, 64)})


@neg('ssh-known-hosts', 'b')
def n_known(w):
    lines = ['|1|%s|%s ssh-ed25519 %s' % (b64(rbytes(20)), b64(rbytes(20)), b64(sshstr('ssh-ed25519') + sshstr(rbytes(32)))) for _ in range(ri(1, 3))]
    lines.append('github.com ssh-ed25519 ' + b64(sshstr('ssh-ed25519') + sshstr(rbytes(32))))
    lines.append('# fingerprint SHA256:' + b64(rbytes(32)).rstrip('='))
    return 'text/plain', '\n'.join(lines) + '\n'


@neg('pgp-fingerprints', 'bu')
def n_fpr(w):
    f = rs(HEXU, 40)
    if w == 'url':
        return 'https://keys.openpgp.org/vks/v1/by-fingerprint/%s' % f
    return 'text/plain', 'pub   ed25519 2024-01-0%d [SC]\n      %s\nuid           [ultimate] %s <%s>\n' % (ri(1, 9), ' '.join(f[i:i + 4] for i in range(0, 40, 4)), ' '.join(person()), email_of(*person()))


@neg('math-digit-strings', 'b')
def n_math(w):
    consts = [('pi', '3.14159265358979323846264338327950288419716939937510582097494459'),
              ('e', '2.71828182845904523536028747135266249775724709369995957496696762'),
              ('sqrt2', '1.41421356237309504880168872420969807856967187537694807317667973'),
              ('phi', '1.61803398874989484820458683436563811772030917980576286213544862'),
              ('ln2', '0.69314718055994530941723212145817656807550013436025525412068000')]
    d = {}
    for name, val in R.sample(consts, ri(2, 4)):
        d[name] = val[:ri(12, len(val))]
    d['fib'] = ','.join(str(x) for x in [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144][:ri(6, 12)])
    d['primes_below'] = ri(50, 500)
    return 'application/json', json.dumps(d)


@neg('dna-sequences', 'b')
def n_dna(w):
    seqs = ''.join('>seq_%d %s\n%s\n' % (i, pick(['Homo sapiens', 'E. coli', 'S. cerevisiae']), wrap64(rs('ACGT', ri(100, 300)), 60)) for i in range(ri(1, 3)))
    return 'text/x-fasta', seqs


@neg('i18n-ui-strings', 'b')
def n_i18n(w):
    d = pick([
        {'login.password': 'Passwort', 'login.forgot': 'Passwort vergessen?', 'api.token.label': 'API-Token', 'secret.hint': 'Geheimnis eingeben'},
        {'login.password': 'Mot de passe', 'token.expired': 'Votre jeton a expiré', 'key.rotate': 'Faire tourner la clé'},
        {'password': 'パスワード', 'token': 'トークン', 'secret_key': '秘密鍵を入力してください'},
        {'password': 'Contraseña', 'api_key': 'Clave de API', 'show_secret': 'Mostrar secreto'},
        {'password': 'Пароль', 'token': 'Токен доступа', 'secret': 'Секретный ключ'},
        {'password': 'Wachtwoord', 'api_key': 'API-sleutel', 'token_expired': 'Je token is verlopen'}])
    d = dict(d)
    for _ in range(ri(1, 4)):
        d['%s.%s' % (pick(['nav', 'page', 'button', 'toast']), pick(WORDS))] = pick(WORDS).capitalize()
    return 'application/json', json.dumps(d, ensure_ascii=False, indent=pick([None, 2]))


@neg('env-var-references-in-code', 'b')
def n_envref(w):
    svc = pick(SERVICES)
    return 'text/plain', '# %s/%s\n' % (svc, pick(['config.py', 'settings.ts', 'main.go', 'app.rb'])) + pick(['import os\nstripe.api_key = os.environ["STRIPE_SECRET_KEY"]\ngh = Github(os.getenv("GITHUB_TOKEN"))\n',
                               'const token = process.env.SLACK_BOT_TOKEN;\nif (!token) throw new Error("SLACK_BOT_TOKEN missing");\n',
                               'password := os.Getenv("DB_PASSWORD")\ndsn := fmt.Sprintf("postgres://app:%s@db/app", password)\n',
                               'aws_secret_access_key = ENV.fetch("AWS_SECRET_ACCESS_KEY")\n'])


@neg('redacted-secrets', 'bh')
def n_redacted(w):
    if w == 'header':
        return pick(['Authorization: Bearer [REDACTED]', 'X-Api-Key: ' + '*' * ri(6, 32), 'Authorization: Basic <redacted>',
                     'Cookie: session=[FILTERED]; theme=%s' % pick(['dark', 'light']), 'X-Auth-Token: ***%s***' % pick(['masked', 'hidden']),
                     'Authorization: Bearer %s' % ('x' * ri(8, 40)), 'X-Redacted-Headers: ' + ','.join(R.sample(['authorization', 'cookie', 'x-api-key', 'proxy-authorization', 'set-cookie'], ri(2, 5)))])
    return 'text/plain', '%s INFO outgoing request headers={"Authorization": "[REDACTED]", "X-Api-Key": "****%s"} password=******** token=<hidden>\n' % (iso_date(), rs(DG, 2))


@neg('html-login-forms', 'b')
def n_form(w):
    h = '<h1>%s</h1>' % pick(['Sign in', 'Anmelden', 'Connexion', 'Iniciar sesión', 'ログイン'])
    f = '<form method="post" action="/%s">' % pick(['login', 'session', 'auth/signin', 'u/login'])
    f += '<label for="u">Username</label><input id="u" name="username" autocomplete="username">'
    f += ('<label for="p">Password</label><input id="p" type="password" name="password" '
          'autocomplete="current-password" minlength="%d">' % ri(8, 16))
    f += '<input type="hidden" name="next" value="/%s"><button>Sign in</button></form>' % pick(WORDS)
    return 'text/html', h + f


@neg('ipfs-content-ids', 'bun')
def n_ipfs(w):
    cid = 'bafybei' + rs('abcdefghijklmnopqrstuvwxyz234567', 52)
    if w == 'url':
        return pick(['https://ipfs.io/ipfs/%s' % cid, 'https://ipfs.io/ipfs/Qm%s' % b58enc(rbytes(32))[:44]])
    if w == 'hostname':
        return cid + '.ipfs.dweb.link'
    return 'application/json', json.dumps({'image': 'ipfs://' + cid, 'name': '%s #%d' % (pick(WORDS).capitalize(), ri(1, 9999))})


@neg('financial-instrument-ids', 'b')
def n_fin(w):
    return 'application/json', json.dumps({'holdings': [{'isin': 'US%s' % digits(10, False), 'cusip': rs(ANU, 9), 'sedol': rs(ANU, 7),
                                                         'lei': digits(4) + '00' + rs(ANU, 12) + digits(2, False)} for _ in range(ri(1, 3))]})


@neg('vehicle-vins', 'bu')
def n_vin(w):
    vin = rs('ABCDEFGHJKLMNPRSTUVWXYZ0123456789', 17)
    if w == 'url':
        return 'https://vpic.nhtsa.dot.gov/api/vehicles/decodevin/%s?format=json' % vin
    return 'application/json', json.dumps({'vin': vin, 'make': pick(['Volvo', 'Toyota', 'Ford']), 'year': ri(2005, 2025)})


@neg('shipping-tracking-numbers', 'bu')
def n_track(w):
    t = pick(['1Z' + rs(ANU, 16), 'JD' + digits(18, False), rs(ANU, 2) + digits(9) + 'DE'])
    if w == 'url':
        return 'https://www.%s.com/track?tracknum=%s' % (pick(['ups', 'dhl', 'fedex']), t)
    return 'application/json', json.dumps({'carrier': pick(['UPS', 'DHL', 'FedEx']), 'tracking_number': t, 'status': 'in_transit'})


@neg('emoji-chat-messages', 'b')
def n_emoji(w):
    return 'application/json', json.dumps({'text': pick(['Deploy done 🚀🎉', 'Lunch? 🍕🍣', 'Build red again 😭 anyone?', 'Merci beaucoup ! 🙏', 'おつかれさま 🍵']),
                                           'channel': 'C' + rs(ANU, 10), 'thread_ts': '%d.%06d' % (epoch(), ri(0, 999999))}, ensure_ascii=False)


@neg('grpc-web-telemetry', 'b')
def n_grpc(w):
    msg = pb_str(1, pick(SERVICES)) + pb_str(2, uuid4()) + pb_varint(3 << 3) + pb_varint(ri(1, 10 ** 6)) + pb_str(4, 'ok')
    frame = b'\x00' + len(msg).to_bytes(4, 'big') + msg
    return 'application/grpc-web+proto', frame


@neg('compressed-benign-json', 'b')
def n_gzjson(w):
    return 'application/json', json.dumps({'events': [{'type': pick(['click', 'view', 'scroll']), 'ts': epoch(), 'page': '/' + pick(WORDS)} for _ in range(ri(3, 12))]}), pick(['gzip', 'deflate'])


@neg('zip-upload-benign', 'b')
def n_zip(w):
    return 'application/zip', zipped([('README.md', '# %s\n\nInternal tool.\n' % pick(SERVICES)), ('src/main.py', 'print("hello %s")\n' % pick(WORDS)),
                                      ('requirements.txt', 'requests==2.31.0\nflask==3.0.%d\n' % ri(0, 3))])


@neg('hexdumps', 'b')
def n_hexdump(w):
    data = png_bytes()[:ri(48, 128)]
    lines = []
    for i in range(0, len(data), 16):
        ch = data[i:i + 16]
        lines.append('%08x: %s  %s' % (i, ' '.join('%02x%02x' % (ch[j], ch[j + 1]) if j + 1 < len(ch) else '%02x' % ch[j] for j in range(0, len(ch), 2)),
                                      ''.join(chr(b) if 32 <= b < 127 else '.' for b in ch)))
    return 'text/plain', '\n'.join(lines) + '\n'


@neg('recaptcha-site-keys', 'bu')
def n_recaptcha(w):
    k = '6L' + rs(B64U, 38)
    if w == 'url':
        return 'https://www.google.com/recaptcha/api.js?render=%s' % k
    return 'text/html', '<div class="g-recaptcha" data-sitekey="%s"></div>' % k


@neg('public-object-storage', 'un')
def n_s3(w):
    b = '%s-%s-assets' % (company(), pick(['public', 'static', 'media']))
    if w == 'hostname':
        return '%s.s3.%s.amazonaws.com' % (b, pick(['eu-west-1', 'us-east-1', 'ap-southeast-2']))
    return 'https://%s.s3.amazonaws.com/%s/%s.jpg?versionId=%s' % (b, pick(['img', 'uploads']), uuid4(), rs(B64U, 32))


@neg('random-public-ids', 'buh')
def n_ids(w):
    ulid = rs('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 26)
    nano = rs(B64U, 21)
    snow = str(ri(10 ** 17, 10 ** 18 - 1))
    if w == 'url':
        return 'https://%s/p/%s?ref=%s' % (host(), nano, ulid)
    if w == 'header':
        return 'X-Event-Id: ' + pick([ulid, nano, snow])
    return 'application/json', json.dumps({'ulid': ulid, 'nanoid': nano, 'snowflake': snow, 'ksuid': rs(AN, 27)})


@neg('user-agent-and-client-hints', 'h')
def n_ua(w):
    return pick(['User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36' % (ri(110, 131), ri(1000, 6999), ri(10, 200)),
                 'User-Agent: %s/%d.%d.%d (build %s; linux/amd64)' % (pick(SERVICES), ri(0, 9), ri(0, 30), ri(0, 9), rs(HEX, 12)),
                 'Sec-CH-UA: "Chromium";v="%d", "Not=A?Brand";v="24"' % ri(110, 131), 'Accept-Language: de-DE,de;q=0.9,en;q=0.8',
                 'Accept: application/vnd.github+json', 'X-GitHub-Api-Version: 2022-11-28'])


@neg('auth-setup-documentation', 'b')
def n_docs(w):
    v = pick(['GITHUB_TOKEN', 'GITLAB_TOKEN', 'OPENAI_API_KEY', 'STRIPE_SECRET_KEY', 'SLACK_BOT_TOKEN', 'NPM_TOKEN', 'HF_TOKEN'])
    return 'text/markdown', ('## Authentication (%s)\n\nCreate a personal access token under *Settings > %s*, then export it:\n\n' % (pick(SERVICES), pick(['Developer settings', 'API keys', 'Access tokens']))
                             + '```bash\nexport %s=<paste token here>\n```\n\nThe token is sent as `Authorization: Bearer $%s`. ' % (v, v) +
                             'Tokens are about 40 characters long; never commit them.\n')


@neg('dns-txt-records', 'b')
def n_dnstxt(w):
    return 'text/plain', ('%s. 300 IN TXT "v=spf1 include:_spf.google.com ~all"\nselector1._domainkey.%s. 300 IN TXT "v=DKIM1; k=rsa; p=%s"\n'
                          '_dmarc.%s. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@%s"\n' % (
                              (d := company() + '.com'), d, b64(rbytes(162)), d, d))


@neg('onion-addresses', 'nu')
def n_onion(w):
    o = rs('abcdefghijklmnopqrstuvwxyz234567', 56) + '.onion'
    return o if w == 'hostname' else 'http://%s/' % o


@neg('punycode-idn-domains', 'nu')
def n_idn(w):
    d = pick(['münchen', 'zürich', 'köln', 'bücher', 'café', 'españa', 'ελλάδα', 'москва', '東京'])
    h = 'www.' + d.encode('idna').decode() + '.' + pick(['de', 'ch', 'com', 'org'])
    return h if w == 'hostname' else 'https://%s/' % h


@neg('preview-deploy-hostnames', 'n')
def n_preview(w):
    return pick(['%s-git-%s-%s.vercel.app' % (pick(SERVICES), pick(WORDS), company()), 'pr-%d.d%s.amplifyapp.com' % (ri(1, 9999), rs(ANL, 13)),
                 'deploy-preview-%d--%s.netlify.app' % (ri(1, 999), pick(WORDS)), '%s-%s-uc.a.run.app' % (pick(SERVICES), rs(ANL, 10))])


@neg('kubernetes-service-dns', 'n')
def n_k8sdns(w):
    return '%s-%d.%s-headless.%s.svc.cluster.local' % (pick(SERVICES), ri(0, 5), pick(SERVICES), pick(['prod', 'data', 'default']))


@neg('feature-flag-configs', 'bh')
def n_flags(w):
    if w == 'header':
        return 'X-Feature-Flags: ' + ','.join('%s=%s' % (pick(WORDS), pick(['on', 'off'])) for _ in range(3))
    return 'application/json', json.dumps({'flags': {pick(WORDS) + '_' + pick(WORDS): {'enabled': chance(0.5), 'rollout': ri(0, 100)} for _ in range(ri(2, 6))}})


@neg('semver-build-metadata', 'bh')
def n_semver(w):
    v = '%d.%d.%d-rc.%d+build.%s' % (ri(0, 9), ri(0, 30), ri(0, 9), ri(1, 9), rs(HEX, 12))
    if w == 'header':
        return 'X-App-Version: ' + v
    return 'application/json', json.dumps({'version': v, 'commit': sha1(), 'built_at': iso_date()})


@neg('high-entropy-test-fixtures', 'b')
def n_fixture(w):
    return 'application/json', json.dumps({'fixtures': [{'name': 'random_bytes_%d' % i, 'hex': rs(HEX, 32), 'seed': ri(0, 10 ** 6)} for i in range(ri(2, 4))],
                                           'description': 'deterministic fuzz corpus, not secrets'})


@neg('oauth-error-responses', 'b')
def n_oautherr(w):
    return 'application/json', json.dumps({'error': pick(['invalid_grant', 'invalid_token', 'expired_token']),
                                           'error_description': pick(['The access token expired', 'Refresh token revoked', 'Token signature invalid']),
                                           'request_id': uuid4()})


@neg('calendar-ics', 'b')
def n_ics(w):
    return 'text/calendar', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:%s@%s.com\r\nDTSTART:20250%d%02dT090000Z\r\nSUMMARY:%s sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' % (
        uuid4(), company(), ri(1, 9), ri(1, 28), pick(SERVICES).capitalize())


@neg('base64-benign-documents', 'b')
def n_b64doc(w):
    doc = LOREM[pick(sorted(LOREM))] + ' ' + pick(['Meeting notes.', 'Release checklist.', 'Shopping list: milk, eggs.'])
    return 'application/json', json.dumps({'filename': pick(['notes.txt', 'readme.txt']), 'content': b64(doc), 'encoding': 'base64'})


@neg('hashed-identifiers-hex', 'bu')
def n_hexid(w):
    if w == 'url':
        return 'https://www.gravatar.com/avatar/%s?s=80&d=identicon' % rs(HEX, 64)
    return 'application/json', json.dumps({'user_hash': rs(HEX, 64), 'email_sha256': rs(HEX, 64), 'anon_id': rs(HEX, 32)})


# ---------------------------------------------------------------- negative guarantees
PREFIX_PLAIN = ['AKIA', 'ASIA', 'AGPA', 'AIDA', 'AROA', 'ANPA', 'AIza', 'ya29.', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_',
                'github_pat_', 'glpat-', 'glptt-', 'glrt-', 'gldt-', 'glft-', 'gloas-', 'glsoat-', 'glcbt-', 'ATBB', 'ATATT',
                'CCIPAT_', 'bkua_', 'hvs.', 'hvb.', 'pul-', 'dp.pt.', 'dp.st.', 'squ_', 'sqp_', 'sqa_', 'sntrys_',
                'sntryu_', 'glc_', 'glsa_', 'NRAK-', 'NRII-', 'dt0c01.', 'npm_', 'pypi-', 'rubygems_', 'dckr_pat_',
                'AKCp', 'cmVmdGtu', 'CLOJARS_', 'sk_live_', 'sk_test_', 'rk_live_', 'rk_test_', 'pk_live_', 'pk_test_',
                'whsec_', 'access_token$', 'sq0atp-', 'sq0csp-', 'rzp_live_', 'rzp_test_', 'shpat_', 'shpss_', 'shpca_',
                'shppa_', 'access-production-', 'FLWSECK', 'xoxb-', 'xoxp-', 'xoxa-', 'xoxe', 'xapp-', 'xkeysib-',
                'syt_', 'GOCSPX-', 'secret_', 'ntn_', 'lin_api_', 'figd_', 'pat-na1-', 'pat-eu1-', 'sbp_', 'APA91b',
                'CFPAT-', 'tfp_', 'PMAK-', 'rdme_', 'pnu_', 'pscale_', 'hf_', 'sk-ant-', 'sk-proj-', 'sk-or-', 'r8_',
                'gsk_', 'pplx-', 'xai-', 'lsv2_', 'pcsk_', 'AGE-SECRET-KEY-', 'xprv', 'dop_v1_', 'doo_v1_', 'dor_v1_',
                'nfp_', 'FlyV1', 'HRKU-', 'LTAI', 'AKID', 'v1.0-', 'EAAA', 'EAAG', 'EAAB', 'dG9rOj', 'nsec1', 'sk.eyJ',
                'IQoJb3JpZ2lu', 'FwoGZXIvYXdz', 'Unseal Key', 'b3BlbnNzaC1rZXktdjE']
PREFIX_RE = [re.compile(r'(?<![A-Za-z0-9_])' + re.escape(p) + r'[A-Za-z0-9_\-]{6,}') for p in PREFIX_PLAIN] + [re.compile(x) for x in [
    r'(?<![A-Za-z0-9])AC[0-9a-f]{32}(?![0-9a-f])', r'(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![0-9a-f])',
    r'(?<![A-Za-z0-9])cio[A-Za-z0-9]{32}', r'(?<![A-Za-z0-9])oy2[a-z0-9]{43}', r'(?<![A-Za-z0-9])dapi[0-9a-f]{32}',
    r'(?<![A-Za-z0-9])sl\.[A-Za-z0-9_-]{100,}', r'(?<![A-Za-z0-9])key-[0-9a-f]{32}', r'(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}',
    r'(?<![A-Za-z0-9])live_[A-Za-z0-9_-]{30,}', r'(?<![A-Za-z0-9])SCW[A-Z0-9]{17}(?![A-Z0-9])', r'(?<![A-Za-z0-9])K00\d[A-Za-z0-9+/]{27}',
    r'(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}', r'hooks\.slack\.com/services/', r'discord(?:app)?\.com/api/webhooks/',
    r'webhook\.office\.com/webhookb2/', r'\d{8,10}:AA[A-Za-z0-9_-]{30,}', r'\.atlasv1\.', r'A{20}[A-Za-z0-9%]{30,}',
    r'(?<![A-Za-z0-9])[0-9a-f]{32}-us\d{1,2}(?!\d)', r'(?<![A-Za-z0-9])AQE[A-Za-z0-9]{3}h', r'(?<![A-Za-z0-9])00D[A-Za-z0-9]{12}!',
    r'(?<![A-Za-z0-9])[KL5][1-9A-HJ-NP-Za-km-z]{50,51}(?![1-9A-Za-z])']]
PEM_PRIV = PK


def printable_ratio(b):
    if not b:
        return 0
    try:
        t = b.decode('utf-8')
    except UnicodeDecodeError:
        return 0
    good = sum(1 for ch in t if ch.isprintable() or ch in '\r\n\t')
    return good / len(t)


def expand_bytes(raw, depth=0):
    out = [raw]
    if depth > 3:
        return out
    if raw[:4] == b'PK\x03\x04':
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                for n in z.namelist():
                    out += expand_bytes(z.read(n), depth + 1)
        except Exception:
            pass
    for m in re.finditer(b'\x1f\x8b\x08', raw):
        try:
            d = zlib.decompressobj(31).decompress(raw[m.start():])
            out += expand_bytes(d, depth + 1)
            if len(d) > 512 and d[257:262] == b'ustar':
                with tarfile.open(fileobj=io.BytesIO(d)) as t:
                    for mem in t.getmembers():
                        f = t.extractfile(mem)
                        if f:
                            out += expand_bytes(f.read(), depth + 1)
        except Exception:
            pass
    for m in re.finditer(b'\x78[\x01\x5e\x9c\xda]', raw):
        try:
            out += expand_bytes(zlib.decompressobj().decompress(raw[m.start():]), depth + 1)
        except Exception:
            pass
    return out


def text_views(raw):
    views = []
    for b in expand_bytes(raw):
        t = b.decode('utf-8', 'replace')
        views.append(t)
    more = []
    for t in views:
        u1 = urllib.parse.unquote(t)
        more += [u1, urllib.parse.unquote(u1), html.unescape(t)]
        for m in re.finditer(r'[A-Za-z0-9+/_-]{16,}={0,2}', t):
            s = m.group(0)
            for dec in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    d = dec(s + '=' * (-len(s) % 4))
                except Exception:
                    continue
                for x in expand_bytes(d):
                    if printable_ratio(x) > 0.9:
                        more.append(x.decode('utf-8'))
        for m in re.finditer(r'(?:[0-9a-fA-F]{2}){16,}', t):
            d = bytes.fromhex(m.group(0))
            if printable_ratio(d) > 0.9:
                more.append(d.decode('utf-8'))
    return views + more


def digit_problems(t):
    for m in re.finditer(r'(?<!\d)\d{13,19}(?!\d)', t):
        if luhn_ok(m.group(0)):
            return 'luhn:' + m.group(0)
    for m in re.finditer(r'(?<![\d])\d{1,7}(?:[ \-.]\d{1,7}){1,6}(?![\d])', t):
        groups = re.split(r'[ \-.]', m.group(0))
        for i in range(len(groups)):
            tot = ''
            for j in range(i, len(groups)):
                tot += groups[j]
                if 13 <= len(tot) <= 19 and j > i and luhn_ok(tot):
                    return 'luhn-grouped:' + m.group(0)
    for m in re.finditer(r'(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}', t):
        s = m.group(0).replace(' ', '')
        for L in range(15, len(s) + 1):
            if iban_mod(s[:L]) == 1:
                return 'iban:' + s[:L]
    return None


def neg_problem(case):
    if 'text' in case:
        raw = case['text'].encode('utf-8')
    else:
        raw = base64.b64decode(case['base64'])
        ce = case.get('content_encoding')
        if ce == 'gzip':
            raw = gzip.decompress(raw)
        elif ce == 'deflate':
            raw = zlib.decompress(raw)
    for t in text_views(raw):
        if PEM_PRIV in t:
            return 'pem'
        for rx in PREFIX_RE:
            m = rx.search(t)
            if m:
                return 'prefix:' + m.group(0)[:30]
        p = digit_problems(t)
        if p:
            return p
    return None


# ---------------------------------------------------------------- validation of individual cases
WHERES = ('body', 'url', 'header', 'hostname')
KEY_ORDER = ['id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64']
HDR_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9-]*: [\x20-\x7e]+')
URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
LABEL_RE = re.compile(r'(?!-)[a-z0-9-]{1,63}(?<!-)')
KEBAB = re.compile(r'[a-z0-9]+(?:-[a-z0-9]+)*')


def valid_hostname(h):
    if not h or len(h) > 253 or not h.isascii():
        return False
    return all(LABEL_RE.fullmatch(x) for x in h.split('.'))


def case_problem(c):
    if list(c.keys()) != [k for k in KEY_ORDER if k in c]:
        return 'key order'
    if c.get('label') not in ('positive', 'negative'):
        return 'label'
    if not isinstance(c.get('expect'), str) or not KEBAB.fullmatch(c['expect']):
        return 'expect'
    w = c.get('where')
    if w not in WHERES:
        return 'where'
    if ('text' in c) == ('base64' in c):
        return 'text/base64'
    if 'content_type' in c and (w != 'body' or not isinstance(c['content_type'], str)):
        return 'content_type'
    if 'content_encoding' in c:
        if c['content_encoding'] not in ('gzip', 'deflate') or 'base64' not in c:
            return 'content_encoding'
    if 'base64' in c:
        if w != 'body':
            return 'base64 outside body'
        try:
            raw = base64.b64decode(c['base64'], validate=True)
        except Exception:
            return 'bad base64'
        if b64(raw) != c['base64']:
            return 'non-canonical base64'
        try:
            if c.get('content_encoding') == 'gzip':
                gzip.decompress(raw)
            elif c.get('content_encoding') == 'deflate':
                zlib.decompress(raw)
        except Exception:
            return 'bad compression'
        return None
    t = c['text']
    if not isinstance(t, str) or not t:
        return 'empty text'
    if '\u2028' in t or '\u2029' in t:
        return 'line separator'
    try:
        t.encode('utf-8')
    except UnicodeEncodeError:
        return 'utf-8'
    if w == 'header':
        if not t.isascii() or '\r' in t or '\n' in t or not HDR_RE.fullmatch(t):
            return 'header format'
    elif w == 'url':
        if not t.isascii() or not URL_RE.fullmatch(t):
            return 'url format'
        if re.search(r'%(?![0-9A-Fa-f]{2})', t):
            return 'url escapes'
    elif w == 'hostname':
        if not valid_hostname(t):
            return 'hostname format'
    return None


def to_case(label, expect, where, ct=None, payload=None, enc=None):
    c = {'label': label, 'expect': expect, 'where': where}
    if where == 'body':
        if ct:
            c['content_type'] = ct
        if enc:
            c['content_encoding'] = enc
            c['base64'] = b64(payload if isinstance(payload, bytes) else payload.encode('utf-8'))
        elif isinstance(payload, bytes):
            c['base64'] = b64(payload)
        else:
            c['text'] = payload
    else:
        c['text'] = payload
    return c


# ---------------------------------------------------------------- allocation
def where_targets(n):
    h = round(n / 14)
    u = round(n / 8)
    hd = round(n / 7)
    return {'body': n - h - u - hd, 'url': u, 'header': hd, 'hostname': h}


def weighted_pick(names, weights):
    tot = sum(weights)
    r = R.random() * tot
    for n, w in zip(names, weights):
        r -= w
        if r <= 0:
            return n
    return names[-1]


def allocate(items, n, supports, weight):
    remaining = where_targets(n)
    counts = {x: 0 for x in items}
    alloc = []
    order = list(items)
    R.shuffle(order)
    order.sort(key=lambda x: len(supports[x]))
    for name in order:
        ws = [w for w in supports[name] if remaining[w] > 0]
        w = weighted_pick(ws, [remaining[x] for x in ws])
        alloc.append((name, w))
        remaining[w] -= 1
        counts[name] += 1
    for w in ('hostname', 'url', 'header', 'body'):
        while remaining[w] > 0:
            cands = [x for x in items if w in supports[x]]
            name = weighted_pick(cands, [weight[x] / (1 + counts[x]) ** 1.5 for x in cands])
            alloc.append((name, w))
            remaining[w] -= 1
            counts[name] += 1
    return alloc


def make_pos(c, w):
    for _ in range(50):
        k = c['kind']
        if k == 'doc':
            ct, payload, enc = body_doc(c)
            case = to_case('positive', c['name'], 'body', ct, payload, enc)
        else:
            v = c['gen']()
            if w == 'body':
                if k == 'token' or k == 'uri':
                    ct, payload, enc = body_token(c, v)
                elif k == 'password':
                    ct, payload, enc = body_password(c, v)
                elif k == 'pii':
                    r = body_pii(c, v)
                    ct, payload, enc = r if len(r) == 3 else (r[0], r[1], None)
                elif k == 'pii_ml':
                    ct, payload, enc = body_pii_ml(c, v)
                elif k == 'multiline':
                    ct, payload, enc = body_multiline(c, v)
                elif k == 'doc1':
                    ct, payload, enc = body_blob('combo.txt', v)
                elif k == 'cmd':
                    ct, payload, enc = body_cmd(c, v)
                else:
                    raise ValueError(k)
                if ct and chance(0.06):
                    ct = None
                case = to_case('positive', c['name'], 'body', ct, payload, enc)
            elif w == 'header':
                case = to_case('positive', c['name'], 'header', payload=header_case(c, v))
            elif w == 'url':
                case = to_case('positive', c['name'], 'url', payload=url_case(c, v))
            else:
                hn = hostname_case(c, v)
                if hn is None:
                    continue
                case = to_case('positive', c['name'], 'hostname', payload=hn)
        key = case.get('text') or case.get('base64')
        if case_problem(case) is None and key not in SEEN:
            SEEN.add(key)
            return case
    raise RuntimeError('cannot build positive %s/%s' % (c['name'], w))


NEG_REJECTS = {}
SEEN = set()


def make_neg(g, w):
    for _ in range(200):
        r = g['fn'](w)
        if w == 'body':
            if len(r) == 3:
                ct, payload, enc = r
                payload = zlib.compress(payload.encode(), 9) if enc == 'deflate' else gz(payload)
            else:
                ct, payload = r
                enc = None
            case = to_case('negative', g['name'], 'body', ct, payload, enc)
        else:
            case = to_case('negative', g['name'], w, payload=r)
        p = case_problem(case) or neg_problem(case)
        key = case.get('text') or case.get('base64')
        if p is None and key in SEEN:
            p = 'duplicate'
        if p is None:
            SEEN.add(key)
            return case
        NEG_REJECTS[g['name']] = NEG_REJECTS.get(g['name'], 0) + 1
    raise RuntimeError('cannot build negative %s/%s: %s' % (g['name'], w, p))


def build():
    byname = {}
    for c in CLASSES:
        assert c['name'] not in byname, c['name']
        byname[c['name']] = c
        c['host_ok'] = can_host(c)
    sup = {c['name']: wheres_for(c) for c in CLASSES}
    wt = {c['name']: c['weight'] for c in CLASSES}
    pos = [make_pos(byname[n], w) for n, w in allocate([c['name'] for c in CLASSES], N_POS, sup, wt)]
    nb = {g['name']: g for g in NEG}
    nsup = {g['name']: g['wheres'] for g in NEG}
    nwt = {g['name']: 1.0 for g in NEG}
    negs = [make_neg(nb[n], w) for n, w in allocate([g['name'] for g in NEG], N_NEG, nsup, nwt)]
    R.shuffle(pos)
    R.shuffle(negs)
    out = []
    for prefix, cases in (('t17-pos-', pos), ('t17-neg-', negs)):
        numbered = []
        for i, c in enumerate(cases, 1):
            d = {'id': '%s%04d' % (prefix, i)}
            d.update(c)
            numbered.append({k: d[k] for k in KEY_ORDER if k in d})
        out.append(numbered)
    return out


def dump_jsonl(cases):
    return ''.join(json.dumps(c, ensure_ascii=False, separators=(', ', ': ')) + '\n' for c in cases).encode('utf-8')


def sha256_file(p):
    with open(p, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------- README
HELD_OUT = ('**This corpus is HELD OUT.** It is meant for a single, final measurement of the egress secret-detection engine. '
            'Never tune rules, thresholds or allow-lists on it, never look at individual misses in order to fix them, and '
            'report results by class/category only.')


def counts_of(cases, key):
    d = {}
    for c in cases:
        d[c[key]] = d.get(c[key], 0) + 1
    return d


def readme_text(pos, negs, sums):
    L = [HELD_OUT, '', '# t17 held-out egress corpus', '']
    L += ['## How it was written', '',
          'The corpus and its generator were written without any access to the detection engine, its rules, its tests '
          'or any other corpus. Only public knowledge was used: documented vendor token prefixes, alphabets and lengths, '
          'published check-digit schemes for personal identifiers, and well-known file and protocol formats.', '',
          'Every value is produced by `generate.py` from a single `random.Random(%d)` instance, in the documented alphabet and '
          'length for its class. Nothing in the corpus is a real credential or a real person\'s data; check digits are '
          'computed so that identifiers are structurally valid.' % SEED, '',
          'Positives are outgoing request parts (body, URL, header or bare hostname) that leak a credential or sensitive '
          'personal data, in plain form or wrapped in encodings, compression, archives, splits and many file or message '
          'formats. Negatives are benign look-alikes. Every negative was re-drawn until neither its text nor any decoded '
          'or decompressed view of it (URL-decoding, HTML entities, embedded base64 and hex runs, gzip/deflate/zip/tar '
          'content) carries a known vendor token prefix, a private-key armour line, a Luhn-valid 13-19 digit run '
          '(contiguous or in separated groups) or a mod-97-valid IBAN.', '',
          'Output is byte-identical across runs: gzip uses mtime=0, zip and tar members use fixed timestamps, and no '
          'wall-clock or hash-order input is used.', '']
    L += ['## Regenerate', '', '```', 'python3 generate.py', 'python3 generate.py --check', '```', '',
          'Seed: `%d`' % SEED, '']
    L += ['## Checksums (sha256)', '', '```']
    for n in ('positives.jsonl', 'negatives.jsonl', 'generate.py'):
        L.append('%s  %s' % (sums[n], n))
    L += ['```', '']
    L += ['## Line format', '',
          'JSON Lines, one case per line, keys in this order:', '',
          '- `id`: `t17-pos-NNNN` / `t17-neg-NNNN`, sequential from 0001',
          '- `label`: `positive` | `negative`',
          '- `expect`: positives: the credential/data class; negatives: the benign category (kebab-case)',
          '- `where`: `body` | `url` | `header` | `hostname`',
          '- `content_type` (optional, bodies only)',
          '- `content_encoding` (optional, `gzip` or `deflate` (zlib-wrapped); only together with `base64`)',
          '- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64)', '',
          'A header case is one ASCII `Name: value` line; a url case is an absolute http(s) ASCII URL; a hostname case is '
          'a bare LDH hostname.', '']
    L += ['## Counts', '', '| where | positive | negative |', '|---|---:|---:|']
    pw, nw = counts_of(pos, 'where'), counts_of(negs, 'where')
    for w in WHERES:
        L.append('| %s | %d | %d |' % (w, pw.get(w, 0), nw.get(w, 0)))
    L.append('| total | %d | %d |' % (len(pos), len(negs)))
    pc, nc = counts_of(pos, 'expect'), counts_of(negs, 'expect')
    L += ['', '### Positives by class (%d classes)' % len(pc), '', '| class | cases |', '|---|---:|']
    L += ['| %s | %d |' % (k, pc[k]) for k in sorted(pc)]
    L += ['', '### Negatives by category (%d categories)' % len(nc), '', '| category | cases |', '|---|---:|']
    L += ['| %s | %d |' % (k, nc[k]) for k in sorted(nc)]
    return '\n'.join(L) + '\n'


# ---------------------------------------------------------------- main / check
def write_all():
    pos, negs = build()
    pp, np_ = os.path.join(HERE, 'positives.jsonl'), os.path.join(HERE, 'negatives.jsonl')
    with open(pp, 'wb') as f:
        f.write(dump_jsonl(pos))
    with open(np_, 'wb') as f:
        f.write(dump_jsonl(negs))
    sums = {'positives.jsonl': sha256_file(pp), 'negatives.jsonl': sha256_file(np_),
            'generate.py': sha256_file(os.path.abspath(__file__))}
    with open(os.path.join(HERE, 'README.md'), 'wb') as f:
        f.write(readme_text(pos, negs, sums).encode('utf-8'))
    print('positives=%d negatives=%d classes=%d categories=%d' % (
        len(pos), len(negs), len(counts_of(pos, 'expect')), len(counts_of(negs, 'expect'))))


def check():
    problems = []
    seen = set()
    data = {}
    for fname, label, prefix in (('positives.jsonl', 'positive', 't17-pos-'), ('negatives.jsonl', 'negative', 't17-neg-')):
        path = os.path.join(HERE, fname)
        if not os.path.exists(path):
            problems.append('%s missing' % fname)
            continue
        with open(path, 'rb') as f:
            raw = f.read()
        try:
            lines = raw.decode('utf-8').split('\n')
        except UnicodeDecodeError:
            problems.append('%s not utf-8' % fname)
            continue
        if lines[-1] != '':
            problems.append('%s: no trailing newline' % fname)
        lines = lines[:-1]
        cases = []
        for i, ln in enumerate(lines, 1):
            try:
                c = json.loads(ln)
            except ValueError as e:
                problems.append('%s:%d invalid json %s' % (fname, i, e))
                continue
            if not isinstance(c, dict):
                problems.append('%s:%d not an object' % (fname, i))
                continue
            cid = c.get('id')
            if cid != '%s%04d' % (prefix, i):
                problems.append('%s:%d bad/non-sequential id %r' % (fname, i, cid))
            if cid in seen:
                problems.append('%s:%d duplicate id %r' % (fname, i, cid))
            seen.add(cid)
            if c.get('label') != label:
                problems.append('%s:%d label mismatch' % (fname, i))
            p = case_problem(c)
            if p:
                problems.append('%s:%d %s' % (fname, i, p))
            elif label == 'negative':
                p = neg_problem(c)
                if p:
                    problems.append('%s:%d negative carries %s' % (fname, i, p))
            cases.append(c)
        data[label] = cases
    pos, negs = data.get('positive', []), data.get('negative', [])
    if not 420 <= len(pos) <= 440:
        problems.append('positive count %d' % len(pos))
    if not 400 <= len(negs) <= 420:
        problems.append('negative count %d' % len(negs))
    if len(counts_of(pos, 'expect')) < 200:
        problems.append('too few classes')
    if len(counts_of(negs, 'expect')) < 60:
        problems.append('too few categories')
    for lab, cases in (('positive', pos), ('negative', negs)):
        if not cases:
            continue
        wc = counts_of(cases, 'where')
        n = len(cases)
        for w, frac in (('body', 2 / 3), ('url', 1 / 8), ('header', 1 / 7), ('hostname', 1 / 14)):
            if abs(wc.get(w, 0) / n - frac) > 0.04:
                problems.append('%s where=%s share %.3f' % (lab, w, wc.get(w, 0) / n))
    armour = DASH5 + 'BEGIN'
    for fname in ('generate.py', 'README.md'):
        path = os.path.join(HERE, fname)
        if os.path.exists(path):
            with open(path, encoding='utf-8') as f:
                src = f.read()
            if re.search(re.escape(armour) + r' [A-Z0-9 ]*' + re.escape(PK + DASH5), src):
                problems.append('%s contains literal private-key armour' % fname)
    rp = os.path.join(HERE, 'README.md')
    if os.path.exists(rp):
        with open(rp, encoding='utf-8') as f:
            rd = f.read()
        if not rd.startswith(HELD_OUT + '\n'):
            problems.append('README does not start with the held-out paragraph')
        for n in ('positives.jsonl', 'negatives.jsonl', 'generate.py'):
            pth = os.path.join(HERE, n)
            if os.path.exists(pth) and ('%s  %s' % (sha256_file(pth), n)) not in rd:
                problems.append('README checksum mismatch for %s' % n)
    else:
        problems.append('README.md missing')
    for p in problems[:200]:
        print('PROBLEM:', p)
    if problems:
        print('%d problem(s)' % len(problems))
        return 1
    print('ok: %d positives (%d classes), %d negatives (%d categories)' % (
        len(pos), len(counts_of(pos, 'expect')), len(negs), len(counts_of(negs, 'expect'))))
    return 0


if __name__ == '__main__':
    if '--check' in sys.argv[1:]:
        sys.exit(check())
    write_all()
