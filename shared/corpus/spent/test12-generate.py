#!/usr/bin/env python3
"""Generator + checker for the HELD-OUT egress secret-detection corpus, split 12.

Python 3 standard library only, fully deterministic: one random.Random(SEED)
drives every choice and gzip members are written with mtime=0.

    nice python3 generate.py          # regenerate files, then run the checker
    nice python3 generate.py --check  # only run the checker on existing files
"""
import base64
import gzip
import hashlib
import json
import os
import random
import re
import string
import struct
import sys
import zlib
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

SEED = 1207311
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
POS_FILE = os.path.join(HERE, 'positives.jsonl')
NEG_FILE = os.path.join(HERE, 'negatives.jsonl')
README = os.path.join(HERE, 'README.md')

# ----------------------------------------------------------------------------
# section 1: primitives
# ----------------------------------------------------------------------------
UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
ALNUM = UP + LO + DG
LOWNUM = LO + DG
B62 = DG + UP + LO
HEX = DG + 'abcdef'
B64C = UP + LO + DG + '+/'
B64U = UP + LO + DG + '-_'
B32C = UP + '234567'
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
CRYPT64 = './' + DG + UP + LO


def rs(n, alphabet=ALNUM):
    return ''.join(R.choice(alphabet) for _ in range(n))


def rhex(n):
    return rs(n, HEX)


def rb(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


def _b(x):
    return x if isinstance(x, bytes) else x.encode('utf-8')


def b64e(x):
    return base64.b64encode(_b(x)).decode('ascii')


def b64u(x, pad=False):
    s = base64.urlsafe_b64encode(_b(x)).decode('ascii')
    return s if pad else s.rstrip('=')


def b32(x, lower=True):
    s = base64.b32encode(_b(x)).decode('ascii').rstrip('=')
    return s.lower() if lower else s


def gz(x):
    return gzip.compress(_b(x), compresslevel=9, mtime=0)


def zl(x):
    return zlib.compress(_b(x), 9)


def wrap(s, n=64, sep='\n'):
    return sep.join(s[i:i + n] for i in range(0, len(s), n))


def base62(num, width):
    out = ''
    while num:
        num, r = divmod(num, 62)
        out = B62[r] + out
    return out.rjust(width, '0')


def b58encode(b):
    n = int.from_bytes(b, 'big')
    out = ''
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + out


def b58check(payload):
    chk = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return b58encode(payload + chk)


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


def _convertbits(data, frm, to):
    acc = bits = 0
    ret = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (to - bits)) & maxv)
    return ret


def bech32_encode(hrp, raw, witver=None):
    data = ([witver] if witver is not None else []) + _convertbits(raw, 8, 5)
    exp = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    pm = _polymod(exp + data + [0] * 6) ^ 1
    chk = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + '1' + ''.join(BECH[d] for d in data + chk)


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
    return len(num) > 1 and luhn_digit(num[:-1]) == num[-1]


def card_number(kind=None):
    kind = kind or pick(['visa', 'visa', 'visa', 'mc', 'mc2', 'amex', 'discover'])
    if kind == 'visa':
        prefix, length = '4' + rs(5, DG), 16
    elif kind == 'mc':
        prefix, length = str(R.randint(51, 55)) + rs(4, DG), 16
    elif kind == 'mc2':
        prefix, length = str(R.randint(2221, 2720)) + rs(2, DG), 16
    elif kind == 'amex':
        prefix, length = pick(['34', '37']) + rs(4, DG), 15
    else:
        prefix, length = '6011' + rs(2, DG), 16
    body = prefix + rs(length - 1 - len(prefix), DG)
    num = body + luhn_digit(body)
    assert luhn_ok(num)
    return num, kind


def non_luhn_digits(n, first=None):
    """A digit string of length n that fails the Luhn check."""
    body = (first or str(R.randint(1, 9))) + rs(n - 2, DG)
    good = luhn_digit(body)
    bad = str((int(good) + R.randint(1, 9)) % 10)
    return body + bad


def iban_check(cc, bban):
    num = int(''.join(str(int(c, 36)) for c in bban + cc + '00'))
    return '%02d' % (98 - num % 97)


def iban_ok(s):
    s = s.replace(' ', '')
    return int(''.join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def make_iban(cc=None):
    cc = cc or pick(['DE', 'GB', 'NL', 'FR', 'ES', 'IT', 'CH', 'AT', 'BE', 'PL'])
    if cc == 'DE':
        bban = rs(18, DG)
    elif cc == 'GB':
        bban = pick(['NWBK', 'BARC', 'LOYD', 'HBUK', 'MIDL']) + rs(14, DG)
    elif cc == 'NL':
        bban = pick(['ABNA', 'INGB', 'RABO', 'TRIO']) + rs(10, DG)
    elif cc == 'FR':
        bban = rs(10, DG) + rs(11, UP + DG) + rs(2, DG)
    elif cc == 'ES':
        bban = rs(20, DG)
    elif cc == 'IT':
        bban = pick(UP) + rs(22, DG)
    elif cc == 'CH':
        bban = rs(17, DG)
    elif cc == 'AT':
        bban = rs(16, DG)
    elif cc == 'BE':
        first = rs(10, DG)
        bban = first + '%02d' % ((int(first) % 97) or 97)
    else:
        bban = rs(24, DG)
    s = cc + iban_check(cc, bban) + bban
    assert iban_ok(s)
    return s


def group4(s, sep=' '):
    return sep.join(s[i:i + 4] for i in range(0, len(s), 4))


def uuid4():
    b = bytearray(rb(16))
    b[6] = (b[6] & 0x0f) | 0x40
    b[8] = (b[8] & 0x3f) | 0x80
    h = b.hex()
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def iso_ts(year=None):
    return '%d-%02d-%02dT%02d:%02d:%02d.%03dZ' % (
        year or pick([2024, 2025]), R.randint(1, 12), R.randint(1, 28), R.randint(0, 23),
        R.randint(0, 59), R.randint(0, 59), R.randint(0, 999))


def log_ts():
    return iso_ts().replace('T', ' ').rstrip('Z')


def epoch():
    return R.randint(1704067200, 1767225599)


def http_date():
    return '%s, %02d %s %d %02d:%02d:%02d GMT' % (
        pick(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']), R.randint(1, 28),
        pick(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']),
        pick([2024, 2025]), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59))


# DER / SSH building blocks (key material is represented without any armour).
def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(b):
    if b[0] & 0x80:
        b = b'\0' + b
    return der(0x02, b)


def _big(n):
    b = bytearray(rb(n))
    b[0] |= 0x80
    b[-1] |= 1
    return bytes(b)


RSA_OID = der(0x06, bytes.fromhex('2a864886f70d010101'))


def rsa_parts(bits=2048):
    n = bits // 8
    h = n // 2
    return {'n': _big(n), 'e': b'\x01\x00\x01', 'd': _big(n), 'p': _big(h), 'q': _big(h),
            'dp': _big(h), 'dq': _big(h), 'qi': _big(h)}


def rsa_pkcs8(parts=None):
    p = parts or rsa_parts(pick([2048, 2048, 3072]))
    body = der_int(b'\0') + b''.join(der_int(p[k]) for k in ('n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'))
    alg = der(0x30, RSA_OID + b'\x05\x00')
    return der(0x30, der_int(b'\0') + alg + der(0x04, der(0x30, body)))


def rsa_spki(parts=None):
    p = parts or rsa_parts(2048)
    pub = der(0x30, der_int(p['n']) + der_int(p['e']))
    return der(0x30, der(0x30, RSA_OID + b'\x05\x00') + der(0x03, b'\0' + pub))


def ec_pkcs8():
    return (bytes.fromhex('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420')
            + rb(32) + bytes.fromhex('a14403420004') + rb(64))


def ec_spki():
    return bytes.fromhex('3059301306072a8648ce3d020106082a8648ce3d030107034200') + b'\x04' + rb(64)


def ed25519_pkcs8():
    return bytes.fromhex('302e020100300506032b657004220420') + rb(32)


def ed25519_spki():
    return bytes.fromhex('302a300506032b6570032100') + rb(32)


def sshstr(b):
    b = _b(b)
    return struct.pack('>I', len(b)) + b


def ssh_ed25519_pub_blob():
    return sshstr('ssh-ed25519') + sshstr(rb(32))


def ssh_rsa_pub_blob():
    return sshstr('ssh-rsa') + sshstr(b'\x01\x00\x01') + sshstr(b'\0' + _big(256))


def openssh_ed25519(comment):
    seed, pub = rb(32), rb(32)
    pubblob = sshstr('ssh-ed25519') + sshstr(pub)
    chk = rb(4)
    priv = chk + chk + sshstr('ssh-ed25519') + sshstr(pub) + sshstr(seed + pub) + sshstr(comment)
    priv += bytes(range(1, 1 + (-len(priv)) % 8))
    blob = (b'openssh-key-v1\0' + sshstr('none') + sshstr('none') + sshstr(b'')
            + struct.pack('>I', 1) + sshstr(pubblob) + sshstr(priv))
    return b64e(blob), pubblob, seed


def png_bytes(w=None, h=None):
    w = w or R.randint(4, 16)
    h = h or R.randint(4, 16)
    base = rb(3)
    rows = b''
    for y in range(h):
        rows += b'\0' + b''.join(bytes(((base[i] + x * 7 + y * 5) & 255) for i in range(3)) for x in range(w))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))


def gif_bytes():
    return (b'GIF89a\x01\x00\x01\x00\x80\x00\x00' + bytes(rb(3)) + b'\xff\xff\xff'
            + b'!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;')


# ----------------------------------------------------------------------------
# pools of benign vocabulary
# ----------------------------------------------------------------------------
FIRST = ['Alice', 'Bogdan', 'Chen', 'Dana', 'Elif', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi',
         'Lukas', 'Maya', 'Nikhil', 'Olga', 'Pedro', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Umar', 'Vera',
         'Wei', 'Yusuf', 'Zoe', 'Amara', 'Bruno', 'Carmen', 'Dmitri', 'Esther']
LAST = ['Novak', 'Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Haddad', 'Kowalski', 'Silva', 'Nguyen',
        'Fischer', 'Rossi', 'Ivanova', 'Mensah', 'Larsen', 'Costa', 'Schmidt', 'Patel', 'Murphy',
        'Yilmaz', 'Horvat', 'Dubois', 'Kim', 'Alvarez', 'Berg']
ORGS = ['acme', 'northwind', 'globex', 'initech', 'umbrella-labs', 'contoso', 'fabrikam', 'hooli',
        'vandelay', 'wayneent', 'starkind', 'tyrell', 'piedpiper', 'soylent', 'cyberdyne', 'massive-dyn']
APPS = ['orders-api', 'billing-worker', 'web-frontend', 'auth-service', 'etl-runner', 'search-indexer',
        'notifier', 'inventory-sync', 'reporting', 'gateway', 'media-pipeline', 'checkout']
ENVS = ['production', 'staging', 'dev', 'qa']
REGIONS = ['us-east-1', 'eu-west-1', 'eu-central-1', 'ap-southeast-2', 'us-west-2', 'ca-central-1']
WORDS = ['harbor', 'copper', 'meadow', 'falcon', 'lantern', 'orbit', 'pepper', 'quartz', 'river',
         'saddle', 'timber', 'velvet', 'walnut', 'yonder', 'zephyr', 'amber', 'basalt', 'cobalt',
         'dune', 'ember', 'fjord', 'glacier', 'hollow', 'indigo', 'juniper', 'kettle', 'lagoon',
         'marble', 'nectar', 'onyx', 'prairie', 'raven', 'sierra', 'tundra', 'umber', 'willow']
LOREM = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut '
         'labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco '
         'laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor in reprehenderit in '
         'voluptate velit esse cillum dolore eu fugiat nulla pariatur excepteur sint occaecat cupidatat '
         'non proident sunt in culpa qui officia deserunt mollit anim id est laborum').split()
# hosts that receive exfiltrated data in positives (attacker-controlled or generic collectors)
COLLECT = ['webhook.site', 'eo2k7q1x9a4f.m.pipedream.net', 'hooks.zapier.com', 'requestbin.net',
           'paste.rs', 'ingest.metrics-relay.net', 'cdn-assets-sync.com', 'telemetry.devtools-cloud.net',
           'upload.filebin-mirror.xyz', 'api.snippet-share.io', 'collector.log-drain.app',
           'a9f3-203-0-113-7.ngrok-free.app', 'status-ping.workers.dev', 'sync.backup-nodes.net']
COLLECT_PATHS = ['', 'c', 'collect', 'v1/ingest', 'hook', 'api/upload', 'e', 'beacon', 'p', 'log', 'r/in']
APIHOSTS = ['api.internal-tools.net', 'api.partner-gateway.com', 'reports.vendor-cloud.io',
            'graph.example-saas.com', 'svc.mesh.local.dev', 'hub.integration-layer.net']


def person():
    return pick(FIRST), pick(LAST)


def email_of(f, l, dom=None):
    return '%s.%s@%s' % (f.lower(), l.lower(), dom or (pick(ORGS) + pick(['.com', '.io', '.net', '.co'])))


def user_name():
    f, l = person()
    return pick(['%s.%s' % (f.lower(), l.lower()), '%s%s' % (f[0].lower(), l.lower()),
                 'svc_' + pick(APPS).replace('-', '_'), pick(['deploy', 'admin', 'app', 'ci', 'backup'])])


def lorem(n):
    return ' '.join(pick(LOREM) for _ in range(n))


def jd(obj, pretty=None):
    if pretty is None:
        pretty = chance(0.35)
    return json.dumps(obj, indent=2 if pretty else None, ensure_ascii=False)


# ----------------------------------------------------------------------------
# section 2: carriers (case constructors, documents, transports)
# ----------------------------------------------------------------------------
def C_body(text, ct=None):
    d = {'where': 'body'}
    if ct:
        d['content_type'] = ct
    d['text'] = text
    return d


def C_bytes(raw, ct=None, enc=None):
    d = {'where': 'body'}
    if ct:
        d['content_type'] = ct
    if enc:
        d['content_encoding'] = enc
    d['base64'] = b64e(raw)
    return d


def C_header(line):
    return {'where': 'header', 'text': line}


def C_url(u):
    return {'where': 'url', 'text': u}


def C_host(h):
    return {'where': 'hostname', 'text': h}


def C_json(obj, pretty=None, ct='application/json'):
    return C_body(jd(obj, pretty), ct)


def form(pairs):
    return '&'.join('%s=%s' % (quote_plus(k), quote_plus(v)) for k, v in pairs)


def key_style(key, fmt):
    if fmt in ('env', 'shell', 'dockerfile', 'compose', 'k8s'):
        return key.upper().replace('.', '_').replace('-', '_')
    if fmt == 'properties':
        return key.replace('_', '.')
    if fmt == 'xml':
        parts = key.replace('.', '_').split('_')
        return parts[0] + ''.join(p.capitalize() for p in parts[1:])
    return key


FILLER = [('app_env', lambda: pick(ENVS)), ('log_level', lambda: pick(['info', 'debug', 'warn'])),
          ('port', lambda: str(pick([3000, 8000, 8080, 9090]))), ('region', lambda: pick(REGIONS)),
          ('timeout_seconds', lambda: str(R.randint(5, 120))), ('max_connections', lambda: str(pick([10, 20, 50, 100]))),
          ('service_name', lambda: pick(APPS)), ('cache_ttl', lambda: str(pick([60, 300, 3600]))),
          ('feature_new_checkout', lambda: pick(['true', 'false'])), ('metrics_enabled', lambda: 'true'),
          ('worker_concurrency', lambda: str(R.randint(2, 16))), ('public_base_url', lambda: 'https://%s.%s.com' % (pick(['app', 'www', 'portal']), pick(ORGS)))]


def fillers(k):
    idx = R.sample(range(len(FILLER)), k)
    return [(FILLER[i][0], FILLER[i][1]()) for i in idx]


def q_env(v):
    if re.search(r'[\s#$"\'`\\&;|<>()!*?]', v) or chance(0.25):
        return '"%s"' % v.replace('\\', '\\\\').replace('"', '\\"').replace('$', '\\$')
    return v


def q_sh(v):
    return "'%s'" % v.replace("'", "'\\''")


def q_xml(v):
    return v.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;')


def q_yaml(v):
    if re.fullmatch(r'[A-Za-z0-9_./:@-]+', v) and not re.fullmatch(r'[0-9.]+|true|false|yes|no|null', v) and chance(0.5):
        return v
    return json.dumps(v)


FMTS = ['env', 'shell', 'dockerfile', 'yaml', 'compose', 'toml', 'ini', 'properties', 'xml', 'json', 'k8s', 'tfvars']
FNAME = {'env': ['.env', '.env.production', 'app.env'], 'shell': ['setenv.sh', 'deploy.sh', 'env.sh'],
         'dockerfile': ['Dockerfile'], 'yaml': ['config.yaml', 'settings.yml', 'values.yaml'],
         'compose': ['docker-compose.yml', 'compose.yaml'], 'toml': ['config.toml', 'settings.toml'],
         'ini': ['settings.ini', 'app.cfg', 'config.ini'], 'properties': ['application.properties', 'app.properties'],
         'xml': ['App.config', 'web.config'], 'json': ['config.json', 'appsettings.json', 'secrets.json'],
         'k8s': ['secret.yaml', 'k8s/secret.yml'], 'tfvars': ['terraform.tfvars', 'prod.auto.tfvars']}
FCT = {'yaml': 'application/yaml', 'compose': 'application/yaml', 'k8s': 'application/yaml', 'xml': 'application/xml',
       'json': 'application/json', 'toml': 'application/toml'}


def render_config(fmt, pairs, section=None):
    section = section or pick(['app', 'default', 'service', 'settings', pick(APPS).split('-')[0]])
    ks = [(key_style(k, fmt), v) for k, v in pairs]
    app = pick(APPS)
    if fmt == 'env':
        head = ['# %s %s' % (app, pick(ENVS))] if chance(0.5) else []
        return '\n'.join(head + ['%s=%s' % (k, q_env(v)) for k, v in ks]) + '\n'
    if fmt == 'shell':
        return '#!/bin/sh\nset -e\n' + '\n'.join('export %s=%s' % (k, q_sh(v)) for k, v in ks) + '\nexec ./bin/%s "$@"\n' % app
    if fmt == 'dockerfile':
        return ('FROM %s\nWORKDIR /srv/%s\nCOPY . .\n' % (pick(['python:3.12-slim', 'node:20-alpine', 'golang:1.22', 'eclipse-temurin:21-jre']), app)
                + '\n'.join('ENV %s=%s' % (k, q_env(v)) for k, v in ks)
                + '\nRUN make build\nEXPOSE 8080\nCMD ["./start.sh"]\n')
    if fmt == 'yaml':
        return '%s:\n' % section + '\n'.join('  %s: %s' % (k, q_yaml(v)) for k, v in ks) + '\n'
    if fmt == 'compose':
        return ('services:\n  %s:\n    image: %s/%s:%s\n    restart: unless-stopped\n    environment:\n' % (app, pick(ORGS), app, pick(['latest', '1.4.2', '2024.05']))
                + '\n'.join('      - %s=%s' % (k, v) for k, v in ks) + '\n    ports:\n      - "8080:8080"\n')
    if fmt == 'toml':
        return '[%s]\n' % section + '\n'.join('%s = %s' % (k, json.dumps(v)) for k, v in ks) + '\n'
    if fmt == 'ini':
        return '[%s]\n' % section + '\n'.join('%s = %s' % (k, v) for k, v in ks) + '\n'
    if fmt == 'properties':
        return '# generated %s\n' % log_ts()[:10] + '\n'.join('%s.%s=%s' % (section, k, v) for k, v in ks) + '\n'
    if fmt == 'xml':
        return ('<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <appSettings>\n'
                + '\n'.join('    <add key="%s" value="%s" />' % (k, q_xml(v)) for k, v in ks)
                + '\n  </appSettings>\n</configuration>\n')
    if fmt == 'json':
        return json.dumps({section: dict(ks)}, indent=2) + '\n'
    if fmt == 'k8s':
        return ('apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-secrets\n  namespace: %s\ntype: Opaque\ndata:\n' % (app, pick(ENVS))
                + '\n'.join('  %s: %s' % (k, b64e(v)) for k, v in ks) + '\n')
    if fmt == 'tfvars':
        return '\n'.join('%s = %s' % (k, json.dumps(v)) for k, v in ks) + '\n'
    raise ValueError(fmt)


def config_doc(pairs_secret, fmt=None, nfill=None):
    fmt = fmt or pick(FMTS)
    pairs = fillers(R.randint(2, 5) if nfill is None else nfill)
    pos = R.randint(0, len(pairs))
    pairs[pos:pos] = list(pairs_secret)
    return render_config(fmt, pairs), pick(FNAME[fmt]), FCT.get(fmt, 'text/plain')


def pyrepr(d):
    return '{' + ', '.join('%r: %r' % (k, v) for k, v in d.items()) + '}'


def doc_log(key, val, hline=None):
    app = pick(APPS)
    lines = ['%s INFO  [%s] worker started pid=%d version=%s' % (log_ts(), app, R.randint(100, 40000), pick(['1.8.2', '2.0.0', '0.14.1']))]
    host = pick(APIHOSTS)
    if hline and chance(0.7):
        hn, hv = hline.split(': ', 1)
        hd = {'User-Agent': pick(['python-requests/2.31.0', 'axios/1.6.8', 'Go-http-client/1.1']), hn: hv, 'Accept': '*/*'}
        lines.append('%s DEBUG [%s] send: GET https://%s/v1/%s headers=%s' % (log_ts(), app, host, pick(['me', 'items', 'status']), pyrepr(hd)))
        lines.append('%s WARN  [%s] upstream returned 401, retrying in %ds' % (log_ts(), app, R.randint(1, 9)))
    else:
        lines.append('%s DEBUG [%s] loaded settings: %s=%s region=%s' % (log_ts(), app, key, val, pick(REGIONS)))
        lines.append('%s INFO  [%s] connected to %s in %dms' % (log_ts(), app, host, R.randint(3, 900)))
    return '\n'.join(lines) + '\n', pick(['app.log', 'worker.log', 'debug.log']), 'text/plain'


def doc_trace(key, val, hline=None):
    t = R.randint(0, 2)
    if t == 0:
        doc = ('Traceback (most recent call last):\n  File "/srv/app/main.py", line %d, in <module>\n    client = connect(settings)\n'
               '  File "/srv/app/clients.py", line %d, in connect\n    return Client(%s=settings[%r])\n'
               '  File "/usr/local/lib/python3.11/site-packages/sdk/client.py", line %d, in __init__\n    raise AuthError("rejected credential %%r" %% (%s,))\n'
               'sdk.errors.AuthError: rejected credential %r\n') % (R.randint(10, 200), R.randint(10, 90), key, key, R.randint(30, 400), key, val)
    elif t == 1:
        doc = ('org.springframework.beans.factory.BeanCreationException: Error creating bean with name \'apiClient\': '
               'Invocation of init method failed; nested exception is java.lang.IllegalStateException: invalid %s=%s\n'
               '\tat org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.initializeBean(AbstractAutowireCapableBeanFactory.java:1804)\n'
               '\tat org.springframework.beans.factory.support.AbstractBeanFactory.doGetBean(AbstractBeanFactory.java:335)\n'
               '\tat com.%s.%s.ApiClientConfig.apiClient(ApiClientConfig.java:%d)\n') % (key, val, pick(ORGS).replace('-', ''), pick(APPS).split('-')[0], R.randint(20, 99))
    else:
        hv = hline.split(': ', 1) if hline else ('Authorization', val)
        doc = ('AxiosError: Request failed with status code 403\n    at settle (/app/node_modules/axios/lib/core/settle.js:19:12)\n'
               '    at IncomingMessage.handleStreamEnd (/app/node_modules/axios/lib/adapters/http.js:589:11)\n'
               '  config: {\n    url: \'https://%s/v2/sync\',\n    method: \'post\',\n    headers: { \'Content-Type\': \'application/json\', \'%s\': \'%s\' }\n  }\n') % (pick(APIHOSTS), hv[0], hv[1])
    return doc, pick(['traceback.txt', 'error.log', 'crash.txt']), 'text/plain'


def doc_code(key, val, hline=None):
    t = R.randint(0, 3)
    K = key.upper().replace('.', '_').replace('-', '_')
    host = pick(APIHOSTS)
    if t == 0:
        doc = 'import os\nimport requests\n\n%s = %s\n\nresp = requests.get("https://%s/v1/status", headers={"Authorization": "Bearer " + %s}, timeout=10)\nprint(resp.status_code, resp.json())\n' % (K, json.dumps(val), host, K)
        fn = 'client.py'
    elif t == 1:
        doc = "import { Client } from '@%s/sdk';\n\nconst client = new Client({\n  %s: %s,\n  timeout: 30000,\n});\n\nexport default client;\n" % (pick(ORGS), re.sub(r'_(\w)', lambda m: m.group(1).upper(), key.lower()), json.dumps(val))
        fn = 'client.ts'
    elif t == 2:
        h = hline or 'Authorization: Bearer %s' % val
        doc = 'curl -sS -X POST https://%s/v1/jobs \\\n  -H "%s" \\\n  -H "Content-Type: application/json" \\\n  -d \'{"name":"nightly"}\'\n' % (host, h.replace('"', '\\"'))
        fn = 'run.sh'
    else:
        doc = 'package main\n\nvar cfg = Config{\n\tEndpoint: "https://%s",\n\t%s: %s,\n\tRetries:  3,\n}\n' % (host, ''.join(p.capitalize() for p in re.split(r'[_.-]', key.lower())), json.dumps(val))
        fn = 'config.go'
    return doc, fn, 'text/plain'


def doc_markdown(key, val, hline=None):
    K = key.upper().replace('.', '_').replace('-', '_')
    doc = ('## Deploy notes (%s)\n\n1. Pull the latest image.\n2. Export the credential:\n\n```sh\nexport %s=%s\n```\n\n3. Run `make deploy ENV=%s`.\n'
           % (pick(APPS), K, q_sh(val) if chance(0.4) else val, pick(ENVS)))
    return doc, 'NOTES.md', 'text/markdown'


def doc_csv(key, val, hline=None):
    rows = ['environment,service,name,value,owner', '%s,%s,%s,%s,%s' % (pick(ENVS), pick(APPS), key, val, user_name())]
    if chance(0.5):
        rows.insert(1, '%s,%s,%s,%s,%s' % ('dev', pick(APPS), 'region', pick(REGIONS), user_name()))
    return '\n'.join(rows) + '\n', 'credentials-inventory.csv', 'text/csv'


def doc_cfg(key, val, hline=None):
    return config_doc([(key, val)])


GEN_DOCS = [doc_cfg, doc_cfg, doc_cfg, doc_cfg, doc_log, doc_trace, doc_code, doc_markdown, doc_csv]
URLISH_DOCS = [doc_cfg, doc_cfg, doc_cfg, doc_log, doc_code, doc_markdown]


def boundary():
    return pick(['----WebKitFormBoundary' + rs(16), '------------------------' + rs(16, DG), '----formdata-undici-0' + rs(11, DG)])


def multipart(parts):
    """parts: list of (name, filename or None, content_type or None, bytes/str)."""
    bd = boundary()
    out = b''
    for name, fn, ct, data in parts:
        out += b'--' + bd.encode() + b'\r\n'
        disp = 'Content-Disposition: form-data; name="%s"' % name + ('; filename="%s"' % fn if fn else '')
        out += disp.encode() + b'\r\n'
        if ct:
            out += ('Content-Type: %s\r\n' % ct).encode()
        out += b'\r\n' + _b(data) + b'\r\n'
    out += b'--' + bd.encode() + b'--\r\n'
    return out, 'multipart/form-data; boundary=' + bd


def mp_case(parts):
    raw, ct = multipart(parts)
    try:
        return C_body(raw.decode('utf-8'), ct)
    except UnicodeDecodeError:
        return C_bytes(raw, ct)


def chat_body(prompt):
    if chance(0.5):
        return {'model': pick(['gpt-4o', 'gpt-4.1-mini', 'o3-mini']), 'messages': [
            {'role': 'system', 'content': 'You are a helpful coding assistant.'}, {'role': 'user', 'content': prompt}],
            'temperature': pick([0, 0.2, 0.7])}
    return {'model': pick(['claude-3-5-sonnet-latest', 'claude-sonnet-4-20250514', 'claude-3-haiku-20240307']),
            'max_tokens': pick([1024, 2048, 4096]), 'messages': [{'role': 'user', 'content': prompt}]}


ASKS = ['Why does this fail with a 401? Here is my {f}:', 'Can you convert this {f} to YAML?',
        'Please review this {f} before I deploy it.', 'My service will not start, this is the {f}:',
        'Explain what each line of this {f} does.', 'Kannst du mir helfen? Diese {f} funktioniert nicht:',
        "Voici mon fichier {f}, pourquoi l'authentification échoue ?"]


def email_text(subject, body, frm=None, to=None):
    f, l = person()
    frm = frm or email_of(f, l)
    to = to or email_of(*person())
    return ('From: %s %s <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n'
            'Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n') % (f, l, frm, to, subject, http_date().replace('GMT', '+0000'),
                                                                    rs(24, LOWNUM), frm.split('@')[1], body.replace('\n', '\r\n'))


def transport(doc, fname, ct, kinds=None):
    kinds = kinds or ['raw', 'raw', 'gist', 'paste', 'chat', 'chat', 'multipart', 'contents', 'gzip', 'deflate',
                      'issue', 'slack', 'email', 'nested', 'errreport', 'gzipjson']
    k = pick(kinds)
    if k == 'raw':
        return C_body(doc, ct if chance(0.85) else None)
    if k == 'gist':
        return C_json({'description': pick(['backup', 'config', 'notes', fname]), 'public': chance(0.3),
                       'files': {fname.split('/')[-1]: {'content': doc}}})
    if k == 'paste':
        return C_body(form([('content', doc), ('syntax', pick(['text', 'bash', 'yaml', 'ini'])), ('expiry_days', str(pick([1, 7, 30])))]),
                      'application/x-www-form-urlencoded')
    if k == 'chat':
        return C_json(chat_body(pick(ASKS).format(f=fname) + '\n\n```\n' + doc + '```\n'))
    if k == 'multipart':
        return mp_case([('file', fname.split('/')[-1], ct or 'application/octet-stream', doc), ('title', None, None, pick(['upload', fname]))])
    if k == 'contents':
        return C_json({'message': 'add %s' % fname, 'branch': pick(['main', 'master', 'wip']), 'content': b64e(doc)})
    if k == 'gzip':
        return C_bytes(gz(doc), ct or 'text/plain', 'gzip')
    if k == 'deflate':
        return C_bytes(zl(doc), ct or 'text/plain', 'deflate')
    if k == 'gzipjson':
        return C_bytes(gz(jd({'path': fname, 'content': doc, 'ts': epoch()}, False)), 'application/json', 'gzip')
    if k == 'issue':
        return C_json({'title': pick(['Build broken on %s' % pick(ENVS), 'Cannot connect after upgrade', 'Help with config']),
                       'body': 'Steps to reproduce below.\n\n```\n' + doc + '```\n', 'labels': ['bug']})
    if k == 'slack':
        return C_json({'channel': pick(['#deploys', '#ops', '#dev-help', 'C0%s' % rs(9, UP + DG)]), 'text': 'here is the %s:\n```%s```' % (fname, doc)})
    if k == 'email':
        return C_body(email_text(pick(['config for the migration', 'as requested', 'FW: settings', fname]), 'Hi,\n\nsee below.\n\n' + doc + '\nThanks'), 'message/rfc822')
    if k == 'nested':
        return C_json({'name': fname, 'encoding': 'gzip+base64', 'data': b64e(gz(doc))})
    if k == 'errreport':
        return C_json({'level': 'error', 'logger': pick(APPS), 'timestamp': iso_ts(), 'message': doc.splitlines()[0][:120],
                       'extra': {'attachment': fname, 'text': doc}})
    raise ValueError(k)


ALL_SECRETS = []


def hfill(t, val):
    return t(val) if callable(t) else t.replace('{}', val)


def ufill(t, val):
    if callable(t):
        return t(val)
    return t.replace('{q}', quote(val, safe='')).replace('{r}', val)


def place(secret, names, hdr=(), urls=(), docs=(), is_url=False, value=None, modes=None):
    """Embed one secret in a randomly chosen realistic carrier; returns a case dict."""
    ALL_SECRETS.append(secret)
    val = value if value is not None else secret
    key = pick(names)
    if modes is None:
        modes = ['doc'] * 6 + ['json', 'json', 'form', 'esc', 'esc']
        if hdr:
            modes += ['hdr'] * 3
        if urls:
            modes += ['url'] * 2
        elif not is_url:
            modes += ['url']
        if is_url:
            modes += ['direct'] * 2
    mode = pick(modes)
    hline = hfill(pick(hdr), val) if hdr else None
    if mode == 'hdr':
        return C_header(hline)
    if mode == 'direct':
        return C_url(val)
    if mode == 'url':
        if urls and chance(0.8):
            return C_url(ufill(pick(urls), val))
        host = pick(COLLECT)
        path = pick(COLLECT_PATHS)
        if chance(0.3):
            return C_url('https://%s/%s?d=%s&src=%s' % (host, path, b64u('%s=%s' % (key, val)), pick(APPS)))
        return C_url('https://%s/%s?%s=%s&host=%s' % (host, path, quote(key, safe=''), quote(val, safe=''), pick(['build-07', 'ip-10-0-3-14', 'macbook-pro', 'runner-2'])))
    if mode == 'json':
        t = R.randint(0, 3)
        K = key.upper().replace('.', '_').replace('-', '_')
        if t == 0:
            return C_json({'key': K, 'value': val, 'protected': chance(0.5), 'masked': False, 'environment_scope': '*'})
        if t == 1:
            env = dict(fillers(2))
            env[K] = val
            return C_json({'env': env, 'restart': True})
        if t == 2:
            return C_json({'tool': 'bash', 'command': 'env | grep -i %s' % key.split('_')[0], 'exit_code': 0,
                           'output': '%s=%s\n' % (K, val)})
        return C_json({'event': 'config_loaded', 'ts': epoch(), 'data': {key: val, 'app': pick(APPS)}})
    if mode == 'form':
        pairs = [(key, val), ('env', pick(ENVS))]
        if chance(0.5):
            pairs.insert(0, ('app', pick(APPS)))
        return C_body(form(pairs), 'application/x-www-form-urlencoded')
    if mode == 'esc':
        t = R.randint(0, 4)
        if t == 0:
            return C_json({'type': 'log', 'payload': json.dumps({key: val, 'ts': epoch()})})
        if t == 1:
            s = jd({'settings': {key: val}}, False)
            esc = ''.join('\\u%04x' % ord(c) if c in '_-.:/+=' and chance(0.7) else c for c in val)
            return C_body(s.replace(json.dumps(val), '"%s"' % esc.replace('"', '\\"')), 'application/json')
        if t == 2:
            return C_json({'callback': 'https://%s/cb?%s=%s' % (pick(COLLECT), key, quote(val, safe='')), 'state': 'ok'})
        if t == 3:
            return C_json({'blob': b64e('%s=%s\n' % (key, val)), 'kind': 'env'})
        return C_json({'h': ('%s=%s' % (key, val)).encode().hex(), 'v': 2})
    # doc mode
    if docs and chance(0.55):
        d = pick(docs)(key, val)
    else:
        d = pick(URLISH_DOCS if is_url else GEN_DOCS)(key, val, hline)
    return transport(*d)


# ----------------------------------------------------------------------------
# section 3: positive classes
# ----------------------------------------------------------------------------
def tok_gh(prefix):
    body = rs(30, B62)
    return prefix + body + base62(zlib.crc32(body.encode()) & 0xffffffff, 6)


def basic(user, pw):
    return 'Basic ' + b64e('%s:%s' % (user, pw))


BEARER = ['Authorization: Bearer {}']
T = ALNUM + '-_'


def discord_tok():
    return b64u(str(R.randint(10 ** 17, 13 * 10 ** 17))) + '.' + rs(6, T) + '.' + rs(38, T)


def grafana_tok():
    if chance(0.5):
        return 'glsa_' + rs(32) + '_' + rhex(8)
    return 'glc_' + b64e(json.dumps({'o': str(R.randint(100000, 999999)), 'n': 'stack-%d-%s' % (R.randint(100, 999), pick(WORDS)),
                                     'k': rs(24), 'm': {'r': pick(['us', 'eu', 'prod-us-east-0'])}}, separators=(',', ':'))).rstrip('=')


def openai_tok():
    t = R.randint(0, 2)
    if t == 0:
        return 'sk-proj-' + rs(74, T) + 'T3BlbkFJ' + rs(74, T)
    if t == 1:
        return 'sk-svcacct-' + rs(74, T) + 'T3BlbkFJ' + rs(74, T)
    return 'sk-' + rs(20) + 'T3BlbkFJ' + rs(20)


def npmrc_doc(key, val):
    return ('registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nalways-auth=true\n' % val, '.npmrc', 'text/plain')


def pypirc_doc(key, val):
    return ('[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = %s\n' % val, '.pypirc', 'text/plain')


def tfrc_doc(key, val):
    return (json.dumps({'credentials': {'app.terraform.io': {'token': val}}}, indent=2), 'credentials.tfrc.json', 'application/json')


def docker_cfg_doc(key, val):
    u = user_name()
    return (json.dumps({'auths': {'https://index.docker.io/v1/': {'auth': b64e('%s:%s' % (u, val))}}}, indent=2), 'config.json', 'application/json')


def age_doc(key, val):
    pub = bech32_encode('age', rb(32))
    return ('# created: %s\n# public key: %s\n%s\n' % (iso_ts()[:19] + 'Z', pub, val), 'keys.txt', 'text/plain')


def gitlab_runner_doc(key, val):
    return ('concurrent = 4\n\n[[runners]]\n  name = "%s"\n  url = "https://gitlab.com/"\n  token = "%s"\n  executor = "docker"\n  [runners.docker]\n    image = "alpine:3.19"\n'
            % (pick(['build-01', 'docker-runner', 'k8s-runner']), val), 'config.toml', 'application/toml')


SPECS = {
    'github-classic-token': dict(n=7, gen=lambda: tok_gh('ghp_'), names=['github_token', 'gh_token', 'github_pat'],
                                 hdr=['Authorization: token {}', 'Authorization: Bearer {}'],
                                 urls=['https://x-access-token:{q}@github.com/%s/%s.git/info/refs?service=git-upload-pack' % (pick(ORGS), pick(APPS))]),
    'github-oauth-token': dict(n=4, gen=lambda: tok_gh('gho_'), names=['github_oauth_token', 'gh_token'], hdr=['Authorization: Bearer {}']),
    'github-app-token': dict(n=5, gen=lambda: tok_gh(pick(['ghs_', 'ghu_'])), names=['github_token', 'installation_token'],
                             hdr=['Authorization: token {}', 'Authorization: Bearer {}']),
    'github-refresh-token': dict(n=3, gen=lambda: 'ghr_' + rs(76, B62), names=['github_refresh_token', 'refresh_token']),
    'github-fine-grained-token': dict(n=6, gen=lambda: 'github_pat_' + rs(22, B62) + '_' + rs(59, B62), names=['github_token', 'gh_pat', 'github_pat'],
                                      hdr=['Authorization: Bearer {}', 'Authorization: token {}']),
    'gitlab-token': dict(n=6, gen=lambda: 'glpat-' + rs(20, T), names=['gitlab_token', 'ci_job_token_override', 'gitlab_pat'],
                         hdr=['PRIVATE-TOKEN: {}', 'Authorization: Bearer {}'],
                         urls=['https://gitlab.com/api/v4/projects?private_token={q}&membership=true',
                               'https://oauth2:{q}@gitlab.com/%s/%s.git/info/refs?service=git-upload-pack' % (pick(ORGS), pick(APPS))]),
    'gitlab-runner-token': dict(n=3, gen=lambda: 'glrt-' + rs(20, T), names=['runner_token', 'ci_runner_token'], docs=[gitlab_runner_doc]),
    'slack-bot-token': dict(n=5, gen=lambda: 'xoxb-%s-%s-%s' % (rs(R.randint(10, 12), DG), rs(R.randint(11, 13), DG), rs(24)),
                            names=['slack_bot_token', 'slack_token'], hdr=BEARER,
                            urls=['https://slack.com/api/chat.postMessage?token={q}&channel=C0%s&text=deploy%%20done' % rs(8, UP + DG)]),
    'slack-user-token': dict(n=4, gen=lambda: 'xoxp-%s-%s-%s-%s' % (rs(11, DG), rs(12, DG), rs(13, DG), rhex(32)),
                             names=['slack_user_token', 'slack_token'], hdr=BEARER),
    'slack-webhook-url': dict(n=5, gen=lambda: 'https://hooks.slack.com/services/T%s/B%s/%s' % (rs(R.randint(8, 10), UP + DG), rs(R.randint(8, 10), UP + DG), rs(24)),
                              names=['slack_webhook_url', 'alert_webhook'], is_url=True),
    'stripe-secret-key': dict(n=6, gen=lambda: 'sk_live_' + pick(['', '51']) + rs(pick([24, 97])), names=['stripe_secret_key', 'stripe_api_key', 'stripe_key'],
                              hdr=['Authorization: Bearer {}', lambda v: 'Authorization: ' + basic(v, '')]),
    'stripe-restricted-key': dict(n=3, gen=lambda: 'rk_live_' + rs(pick([24, 99])), names=['stripe_restricted_key', 'stripe_key'], hdr=BEARER),
    'stripe-webhook-secret': dict(n=4, gen=lambda: 'whsec_' + rs(32), names=['stripe_webhook_secret', 'webhook_signing_secret']),
    'aws-access-key-id': dict(n=6, gen=lambda: pick(['AKIA', 'AKIA', 'ASIA']) + rs(16, B32C), names=['aws_access_key_id', 'access_key_id']),
    'gcp-api-key': dict(n=5, gen=lambda: 'AIza' + rs(35, T), names=['google_api_key', 'gemini_api_key', 'maps_api_key'],
                        hdr=['X-Goog-Api-Key: {}'],
                        urls=['https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={q}',
                              'https://maps.googleapis.com/maps/api/geocode/json?address=10+Downing+St&key={q}']),
    'google-oauth-client-secret': dict(n=4, gen=lambda: 'GOCSPX-' + rs(28, T), names=['google_client_secret', 'client_secret', 'oauth_client_secret']),
    'google-oauth-token': dict(n=4, gen=lambda: pick(['ya29.' + rs(R.randint(150, 200), T), '1//0' + rs(R.randint(80, 100), T)]),
                               names=['google_access_token', 'gcloud_token', 'refresh_token'], hdr=BEARER),
    'azure-storage-account-key': dict(n=5, gen=lambda: b64e(rb(64)), names=['azure_storage_connection_string', 'storage_connection'],
                                      wrap=lambda k: 'DefaultEndpointsProtocol=https;AccountName=%s%s;AccountKey=%s;EndpointSuffix=core.windows.net' % (pick(ORGS).replace('-', ''), pick(['prod', 'data', 'logs']), k)),
    'azure-sas-token': dict(n=5, gen=lambda: quote(b64e(rb(32)), safe=''), names=['azure_blob_sas_url', 'backup_upload_url'], is_url=True,
                            wrap=lambda sig: 'https://%s%s.blob.core.windows.net/%s/%s?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=%s&st=%s&spr=https&sig=%s' % (
                                pick(ORGS).replace('-', ''), pick(['store', 'backup', 'media']), pick(['uploads', 'backups', 'exports']),
                                pick(['db.bak', 'export.csv', 'snapshot.tar']), iso_ts(2026)[:19] + 'Z', iso_ts(2025)[:19] + 'Z', sig)),
    'azure-ad-client-secret': dict(n=5, gen=lambda: rs(3) + pick(DG) + 'Q~' + rs(34, ALNUM + '_.~-'), names=['azure_client_secret', 'client_secret', 'aad_app_secret']),
    'openai-api-key': dict(n=6, gen=openai_tok, names=['openai_api_key'], hdr=BEARER),
    'anthropic-api-key': dict(n=6, gen=lambda: pick(['sk-ant-api03-', 'sk-ant-api03-', 'sk-ant-admin01-']) + rs(93, T) + 'AA', names=['anthropic_api_key'],
                              hdr=['x-api-key: {}', 'X-Api-Key: {}']),
    'huggingface-token': dict(n=5, gen=lambda: 'hf_' + rs(34, UP + LO), names=['hf_token', 'huggingface_hub_token'], hdr=BEARER),
    'npm-token': dict(n=5, gen=lambda: 'npm_' + rs(36), names=['npm_token', 'node_auth_token'], hdr=BEARER, docs=[npmrc_doc]),
    'pypi-token': dict(n=5, gen=lambda: 'pypi-AgEIcHlwaS5vcmc' + rs(R.randint(130, 170), T), names=['pypi_token', 'twine_password'],
                       hdr=[lambda v: 'Authorization: ' + basic('__token__', v)], docs=[pypirc_doc]),
    'sendgrid-api-key': dict(n=5, gen=lambda: 'SG.' + rs(22, T) + '.' + rs(43, T), names=['sendgrid_api_key', 'smtp_password'], hdr=BEARER),
    'twilio-api-key': dict(n=4, gen=lambda: 'SK' + rhex(32), names=['twilio_api_key', 'twilio_api_key_sid'],
                           hdr=[lambda v: 'Authorization: ' + basic(v, rs(32))]),
    'shopify-access-token': dict(n=5, gen=lambda: pick(['shpat_', 'shpca_', 'shppa_', 'shpss_']) + rhex(32), names=['shopify_access_token', 'shopify_api_secret'],
                                 hdr=['X-Shopify-Access-Token: {}']),
    'discord-bot-token': dict(n=4, gen=discord_tok, names=['discord_token', 'discord_bot_token'], hdr=['Authorization: Bot {}']),
    'discord-webhook-url': dict(n=4, gen=lambda: 'https://discord.com/api/webhooks/%d/%s' % (R.randint(10 ** 17, 13 * 10 ** 17), rs(68, T)),
                                names=['discord_webhook', 'notify_webhook_url'], is_url=True),
    'telegram-bot-token': dict(n=5, gen=lambda: '%d:AA%s' % (R.randint(10 ** 8, 8 * 10 ** 9), rs(33, T)), names=['telegram_bot_token', 'tg_token'],
                               urls=['https://api.telegram.org/bot{r}/sendMessage?chat_id=%d&text=build%%20finished' % R.randint(10 ** 8, 10 ** 10),
                                     'https://api.telegram.org/bot{r}/getUpdates?offset=0']),
    'mailgun-api-key': dict(n=3, gen=lambda: 'key-' + rhex(32), names=['mailgun_api_key'], hdr=[lambda v: 'Authorization: ' + basic('api', v)]),
    'mailchimp-api-key': dict(n=3, gen=lambda: rhex(32) + '-us' + str(R.randint(1, 21)), names=['mailchimp_api_key'],
                              hdr=[lambda v: 'Authorization: ' + basic('anystring', v)]),
    'datadog-api-key': dict(n=5, gen=lambda: rhex(32), names=['dd_api_key', 'datadog_api_key'], hdr=['DD-API-KEY: {}'],
                            urls=['https://http-intake.logs.datadoghq.com/api/v2/logs?dd-api-key={q}&ddsource=python']),
    'newrelic-api-key': dict(n=3, gen=lambda: 'NRAK-' + rs(27, UP + DG), names=['new_relic_api_key', 'newrelic_user_key'], hdr=['Api-Key: {}']),
    'digitalocean-token': dict(n=4, gen=lambda: pick(['dop_v1_', 'doo_v1_']) + rhex(64), names=['digitalocean_token', 'do_token'], hdr=BEARER),
    'hashicorp-vault-token': dict(n=4, gen=lambda: 'hvs.CAESI' + rs(R.randint(80, 90), T), names=['vault_token'], hdr=['X-Vault-Token: {}']),
    'terraform-cloud-token': dict(n=3, gen=lambda: rs(14) + '.atlasv1.' + rs(67), names=['tfe_token', 'tf_token_app_terraform_io'], hdr=BEARER, docs=[tfrc_doc]),
    'databricks-token': dict(n=4, gen=lambda: 'dapi' + rhex(32) + pick(['', '', '-2', '-3']), names=['databricks_token'], hdr=BEARER),
    'linear-api-key': dict(n=3, gen=lambda: 'lin_api_' + rs(40), names=['linear_api_key'], hdr=['Authorization: {}']),
    'notion-token': dict(n=3, gen=lambda: pick(['secret_' + rs(43), 'ntn_' + rs(11, DG) + rs(35)]), names=['notion_token', 'notion_api_key'], hdr=BEARER),
    'atlassian-api-token': dict(n=3, gen=lambda: 'ATATT3xFfGF0' + rs(171, T) + '=' + rs(8, DG + 'ABCDEF'), names=['jira_api_token', 'confluence_token'],
                                hdr=[lambda v: 'Authorization: ' + basic(email_of(*person()), v)]),
    'postman-api-key': dict(n=3, gen=lambda: 'PMAK-' + rhex(24) + '-' + rhex(34), names=['postman_api_key'], hdr=['X-Api-Key: {}']),
    'grafana-token': dict(n=3, gen=grafana_tok, names=['grafana_token', 'grafana_service_account_token'], hdr=BEARER),
    'dockerhub-token': dict(n=3, gen=lambda: 'dckr_pat_' + rs(27, T), names=['docker_password', 'dockerhub_token'], docs=[docker_cfg_doc]),
    'age-secret-key': dict(n=3, gen=lambda: bech32_encode('age-secret-key-', rb(32)).upper(), names=['sops_age_key', 'age_key'], docs=[age_doc]),
    'square-access-token': dict(n=3, gen=lambda: 'EAAA' + rs(60, T), names=['square_access_token'], hdr=BEARER),
    'okta-api-token': dict(n=3, gen=lambda: '00' + rs(40, T), names=['okta_api_token'], hdr=['Authorization: SSWS {}']),
}


def spec_gen(cls):
    s = SPECS[cls]

    def g():
        secret = s['gen']()
        value = s['wrap'](secret) if 'wrap' in s else None
        return place(secret, s['names'], hdr=s.get('hdr', ()), urls=s.get('urls', ()), docs=s.get('docs', ()),
                     is_url=s.get('is_url', False), value=value)
    return g


# --- classes with bespoke carriers -------------------------------------------
def aws_key_id():
    return 'AKIA' + rs(16, B32C)


def aws_secret():
    return rs(40, B64C)


def aws_session():
    return pick(['IQoJb3JpZ2luX2Vj', 'FwoGZXIvYXdzE']) + rs(R.randint(300, 480), B64C)


def g_aws_secret():
    kid, sec = aws_key_id(), aws_secret()
    t = R.randint(0, 5)
    if t <= 1:
        ALL_SECRETS.append(sec)
        doc = '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n' % (kid, sec, pick(REGIONS))
        if chance(0.4):
            doc += '\n[profile %s]\nrole_arn = arn:aws:iam::%s:role/%s\nsource_profile = default\n' % (pick(ENVS), rs(12, DG), pick(['Admin', 'Deployer', 'ReadOnly']))
        return transport(doc, 'credentials', 'text/plain')
    if t == 2:
        ALL_SECRETS.append(sec)
        return C_json({'AccessKey': {'UserName': user_name(), 'AccessKeyId': kid, 'Status': 'Active', 'SecretAccessKey': sec, 'CreateDate': iso_ts()[:19] + 'Z'}})
    if t == 3:
        ALL_SECRETS.append(sec)
        return C_body('%s INFO boto3 session configured aws_access_key_id=%s aws_secret_access_key=%s region=%s\n' % (log_ts(), kid, sec, pick(REGIONS)), 'text/plain')
    return place(sec, ['aws_secret_access_key', 'aws_secret_key', 'secret_access_key'], modes=['doc', 'doc', 'doc', 'json', 'form', 'esc', 'url'])


def g_aws_session():
    kid, sec, tok = 'ASIA' + rs(16, B32C), aws_secret(), aws_session()
    ALL_SECRETS.append(tok)
    t = R.randint(0, 3)
    if t == 0:
        imds = {'Code': 'Success', 'LastUpdated': iso_ts()[:19] + 'Z', 'Type': 'AWS-HMAC', 'AccessKeyId': kid,
                'SecretAccessKey': sec, 'Token': tok, 'Expiration': iso_ts()[:19] + 'Z'}
        return pick([lambda: C_json(imds, True), lambda: C_json({'host': 'ip-10-0-%d-%d' % (R.randint(0, 255), R.randint(0, 255)), 'creds': b64e(json.dumps(imds))}),
                     lambda: C_bytes(gz(json.dumps(imds, indent=2)), 'application/json', 'gzip')])()
    if t == 1:
        return C_header('X-Amz-Security-Token: ' + tok)
    if t == 2:
        doc = 'export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n' % (kid, sec, tok)
        return transport(doc, 'creds.sh', 'text/plain')
    return C_url('https://%s/%s?sid=%s&tok=%s' % (pick(COLLECT), pick(COLLECT_PATHS), kid, quote(tok, safe='')))


def g_gcp_sa():
    proj = '%s-%s-%d' % (pick(ORGS), pick(['prod', 'data', 'ml', 'infra']), R.randint(100000, 999999))
    acct = pick(['deployer', 'ci-runner', 'bq-export', 'terraform', 'airflow'])
    keyb64 = b64e(rsa_pkcs8(rsa_parts(2048)))
    ALL_SECRETS.append(keyb64[40:120])
    sa = {'type': 'service_account', 'project_id': proj, 'private_key_id': rhex(40),
          'private_key': wrap(keyb64) + '\n', 'client_email': '%s@%s.iam.gserviceaccount.com' % (acct, proj),
          'client_id': '1' + rs(20, DG), 'auth_uri': 'https://accounts.google.com/o/oauth2/auth',
          'token_uri': 'https://oauth2.googleapis.com/token',
          'auth_provider_x509_cert_url': 'https://www.googleapis.com/oauth2/v1/certs',
          'client_x509_cert_url': 'https://www.googleapis.com/robot/v1/metadata/x509/%s%%40%s.iam.gserviceaccount.com' % (acct, proj),
          'universe_domain': 'googleapis.com'}
    doc = json.dumps(sa, indent=2)
    t = R.randint(0, 3)
    if t == 0:
        return C_json({'key': 'GOOGLE_CREDENTIALS_B64', 'value': b64e(doc), 'protected': True})
    if t == 1:
        return C_body(render_config('k8s', [('key.json', doc)]).replace('KEY_JSON', 'key.json'), 'application/yaml')
    return transport(doc, pick(['service-account.json', 'gcp-key.json', '%s.json' % proj]), 'application/json')


def g_twilio_auth():
    sid, tok = 'AC' + rhex(32), rhex(32)
    ALL_SECRETS.append(tok)
    t = R.randint(0, 3)
    if t == 0:
        return C_header('Authorization: ' + basic(sid, tok))
    if t == 1:
        return C_url('https://%s:%s@api.twilio.com/2010-04-01/Accounts/%s/Messages.json' % (sid, tok, sid))
    if t == 2:
        return transport(render_config(pick(['env', 'yaml', 'json']), [('twilio_account_sid', sid), ('twilio_auth_token', tok)] + fillers(2)), '.env', 'text/plain')
    return C_body(form([('AccountSid', sid), ('AuthToken', tok), ('From', '+1555%s' % rs(7, DG))]), 'application/x-www-form-urlencoded')


def g_private_key():
    t = R.randint(0, 11)
    if t in (0, 1):
        der_ = rsa_pkcs8()
        s = b64e(der_)
        ALL_SECRETS.append(s[60:140])
        if t == 0:
            return C_json({'kid': rhex(16), 'alg': 'RS256', 'private_key_der_b64': s})
        return C_json({'name': '%s-signing' % pick(APPS), 'key': wrap(s) + '\n', 'format': 'pkcs8'}, True)
    if t == 2:
        s = b64e(pick([ed25519_pkcs8, ec_pkcs8])())
        ALL_SECRETS.append(s)
        return transport(*config_doc([(pick(['jwt_private_key', 'signing_private_key', 'private_key']), s)], fmt=pick(['env', 'yaml', 'toml', 'properties'])))
    if t == 3:
        kty = pick(['EC', 'RSA', 'OKP'])
        if kty == 'EC':
            jwk = {'kty': 'EC', 'crv': 'P-256', 'x': b64u(rb(32)), 'y': b64u(rb(32)), 'd': b64u(rb(32)), 'kid': rs(10)}
        elif kty == 'OKP':
            jwk = {'kty': 'OKP', 'crv': 'Ed25519', 'x': b64u(rb(32)), 'd': b64u(rb(32))}
        else:
            p = rsa_parts(2048)
            jwk = {'kty': 'RSA', 'n': b64u(p['n']), 'e': 'AQAB', 'd': b64u(p['d']), 'p': b64u(p['p']), 'q': b64u(p['q']),
                   'dp': b64u(p['dp']), 'dq': b64u(p['dq']), 'qi': b64u(p['qi']), 'kid': uuid4()}
        ALL_SECRETS.append(jwk['d'])
        return C_json({'keys': [jwk]} if chance(0.5) else jwk, True)
    if t == 4:
        s = b64e(ec_pkcs8())
        ALL_SECRETS.append(s)
        return C_body('signing:\n  algorithm: ES256\n  private_key: |\n' + '\n'.join('    ' + ln for ln in wrap(s).split('\n')) + '\n', 'application/yaml')
    if t == 5:
        h = ed25519_pkcs8().hex()
        ALL_SECRETS.append(h)
        return C_json({'device': 'edge-%d' % R.randint(1, 99), 'private_key_hex': h, 'curve': 'ed25519'})
    if t == 6:
        s = b64e(rsa_pkcs8())
        ALL_SECRETS.append(s[60:140])
        return C_bytes(gz(json.dumps({'tls': {'cert_id': uuid4(), 'key_pkcs8': s}})), 'application/json', 'gzip')
    if t == 7:
        raw = pick([ec_pkcs8, ed25519_pkcs8])()
        ALL_SECRETS.append(b64e(raw))
        return C_body(render_config('k8s', [('signing_key.der', raw.decode('latin-1'))]).replace(b64e(raw.decode('latin-1')), b64e(raw)).replace('SIGNING_KEY_DER', 'signing-key.der'), 'application/yaml')
    if t == 8:
        raw = rsa_pkcs8()
        ALL_SECRETS.append(b64e(raw)[60:140])
        raw_mp, ct = multipart([('file', 'server.key.der', 'application/pkcs8', raw), ('purpose', None, None, 'tls')])
        return C_bytes(raw_mp, ct)
    if t == 9:
        s = b64e(ed25519_pkcs8())
        ALL_SECRETS.append(s)
        return C_json(chat_body('This key loads in Go but Python says "invalid key". It is PKCS#8 DER, base64: %s . What is wrong?' % s))
    p = rsa_parts(2048)
    ALL_SECRETS.append(b64e(p['d'])[:80])
    xml = '<RSAKeyValue><Modulus>%s</Modulus><Exponent>AQAB</Exponent><P>%s</P><Q>%s</Q><DP>%s</DP><DQ>%s</DQ><InverseQ>%s</InverseQ><D>%s</D></RSAKeyValue>' % tuple(
        b64e(p[k]) for k in ('n', 'p', 'q', 'dp', 'dq', 'qi', 'd'))
    return pick([lambda: C_body(xml, 'application/xml'), lambda: C_json({'keyName': 'signing', 'xmlKey': xml})])()


def g_ssh_key():
    user = user_name()
    comment = '%s@%s' % (user, pick(['laptop', 'build-01', 'bastion', 'ci']))
    body, pubblob, seed = openssh_ed25519(comment)
    ALL_SECRETS.append(body[80:160])
    t = R.randint(0, 5)
    if t == 0:
        return C_json({'key': 'SSH_PRIVATE_KEY_B64', 'value': body, 'variable_type': 'env_var', 'protected': True})
    if t == 1:
        return C_json({'name': 'deploy', 'ssh_private_key': wrap(body, 70) + '\n', 'user': user}, True)
    if t == 2:
        return transport('ansible_user: %s\nansible_ssh_private_key_b64: "%s"\n' % (user, body), 'group_vars/all.yml', 'application/yaml')
    if t == 3:
        pub = b64e(pubblob)
        ppk = ('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: %s\nPublic-Lines: %d\n%s\nPrivate-Lines: 1\n%s\nPrivate-MAC: %s\n'
               % (comment, len(wrap(pub).split('\n')), wrap(pub), b64e(sshstr(seed)), rhex(64)))
        ALL_SECRETS.append(b64e(sshstr(seed)))
        return transport(ppk, 'id_ed25519.ppk', 'text/plain', ['raw', 'gist', 'multipart', 'chat', 'gzip'])
    if t == 4:
        return C_bytes(zl('SSH_KEY=%s\nSSH_KNOWN_HOST=github.com\n' % body), 'text/plain', 'deflate')
    return C_url('https://%s/%s?f=id_ed25519&d=%s' % (pick(COLLECT), pick(COLLECT_PATHS), quote(body, safe='')))


def gen_password():
    t = R.random()
    if t < 0.4:
        return pick(WORDS).capitalize() + pick('!#@$%&*?') + rs(R.randint(2, 4), DG) + pick(WORDS)
    if t < 0.75:
        while True:
            p = rs(R.randint(14, 22), ALNUM + '!#%&*+-=?@^_')
            if re.search(r'[0-9]', p) and re.search(r'[^A-Za-z0-9]', p):
                return p
    return '-'.join(pick(WORDS) for _ in range(4)) + rs(1, DG)


def db_url():
    user, pw = user_name().replace('.', '_'), gen_password()
    host = pick(['db-%s.internal' % pick(ENVS), '%s.cluster-c%s.%s.rds.amazonaws.com' % (pick(APPS), rs(12, LOWNUM), pick(REGIONS)),
                 '10.0.%d.%d' % (R.randint(0, 255), R.randint(1, 254)), 'pg.%s.net' % pick(ORGS)])
    qpw = quote(pw, safe='')
    t = R.randint(0, 6)
    if t == 0:
        return pw, 'postgresql://%s:%s@%s:5432/%s?sslmode=require' % (user, qpw, host, pick(['orders', 'app', 'analytics']))
    if t == 1:
        return pw, 'mysql://%s:%s@%s:3306/%s' % (user, qpw, host, pick(['shop', 'wordpress', 'app']))
    if t == 2:
        return pw, 'mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority' % (user, qpw, rs(5, LOWNUM), pick(['prod', 'events']))
    if t == 3:
        return pw, 'redis://:%s@%s:6379/0' % (qpw, host)
    if t == 4:
        return pw, 'amqp://%s:%s@%s:5672/%s' % (user, qpw, host, pick(['%2F', 'jobs']))
    if t == 5:
        return pw, 'jdbc:postgresql://%s:5432/%s?user=%s&password=%s&ssl=true' % (host, pick(['core', 'ledger']), user, qpw)
    return pw, 'Server=tcp:%s.database.windows.net,1433;Initial Catalog=%s;User ID=%s;Password=%s;Encrypt=True;' % (pick(ORGS).replace('-', ''), pick(['crm', 'erp']), user, pw)


def g_db():
    pw, u = db_url()
    ALL_SECRETS.append(pw)
    names = {'postgresql': ['database_url', 'db_url', 'sqlalchemy_database_uri'], 'mysql': ['database_url', 'mysql_url'],
             'mongodb+srv': ['mongo_uri', 'mongodb_url'], 'redis': ['redis_url', 'cache_url'], 'amqp': ['amqp_url', 'broker_url'],
             'jdbc': ['spring_datasource_url', 'jdbc_url']}.get(u.split(':', 1)[0], ['connection_string', 'sql_connection_string'])
    return place(pw, names, value=u,
                 modes=['doc'] * 6 + ['json', 'esc', 'form'])


def g_userinfo():
    user, pw = user_name(), gen_password()
    ALL_SECRETS.append(pw)
    host = pick(['nexus.%s.com' % pick(ORGS), 'git.%s.io' % pick(ORGS), 'ftp.%s.net' % pick(ORGS), 'artifactory.%s.internal' % pick(ORGS), 'proxy.corp-%s.com' % pick(ORGS)])
    u = 'https://%s:%s@%s/%s' % (quote(user, safe=''), quote(pw, safe=''), host, pick(['repository/maven-releases/', 'org/app.git/info/refs?service=git-upload-pack', 'pub/exports/', 'api/v1/status']))
    t = R.randint(0, 9)
    if t < 6:
        return C_url(u)
    if t == 6:
        return C_body('[remote "origin"]\n\turl = %s\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n' % u, 'text/plain')
    if t == 7:
        return transport('[global]\nindex-url = https://%s:%s@%s/simple/\ntimeout = 60\n' % (quote(user, safe=''), quote(pw, safe=''), host), 'pip.conf', 'text/plain')
    if t == 8:
        return C_json({'tool': 'bash', 'command': 'cat ~/.git-credentials', 'output': 'https://%s:%s@%s\n' % (quote(user, safe=''), quote(pw, safe=''), host)})
    return C_json({'proxy': u.rsplit('/', 1)[0], 'no_proxy': 'localhost,127.0.0.1'})


def g_basic():
    user, pw = user_name(), gen_password()
    ALL_SECRETS.append(b64e('%s:%s' % (user, pw)))
    v = basic(user, pw)
    t = R.randint(0, 9)
    if t < 6:
        return C_header('Authorization: ' + v)
    if t == 6:
        return C_header('Proxy-Authorization: ' + v)
    if t == 7:
        return C_body('%s DEBUG http: > GET /api/v2/export HTTP/1.1\n%s DEBUG http: > Host: %s\n%s DEBUG http: > Authorization: %s\n' % (log_ts(), log_ts(), pick(APIHOSTS), log_ts(), v), 'text/plain')
    if t == 8:
        return C_json({'request': {'method': 'GET', 'url': 'https://%s/v1/report' % pick(APIHOSTS), 'headers': {'Authorization': v, 'Accept': 'application/json'}}})
    return C_json(chat_body('This curl works but my Python port gets 401:\n\ncurl -H "Authorization: %s" https://%s/v1/items\n' % (v, pick(APIHOSTS))))


def opaque():
    return pick([rs(R.randint(32, 64), T), rhex(40), rs(48, ALNUM) + '.' + rs(27, T), b64e(rb(R.randint(24, 48)))])


def g_bearer():
    tok = opaque()
    ALL_SECRETS.append(tok)
    t = R.randint(0, 9)
    if t < 6:
        return C_header('Authorization: Bearer ' + tok)
    if t < 8:
        return C_json({'access_token': tok, 'token_type': 'Bearer', 'expires_in': 3600, 'scope': 'read write', 'refresh_token': opaque()})
    return C_body('%s DEBUG outbound request POST https://%s/v3/sync Authorization="Bearer %s"\n' % (log_ts(), pick(APIHOSTS), tok), 'text/plain')


def jwt_token():
    alg = pick(['HS256', 'RS256', 'ES256'])
    hdr = {'alg': alg, 'typ': 'JWT'}
    if alg != 'HS256':
        hdr['kid'] = rs(16)
    now = epoch()
    payload = {'sub': pick([uuid4(), 'user_%d' % R.randint(1000, 99999), email_of(*person())]), 'iss': 'https://auth.%s.com' % pick(ORGS),
               'aud': pick(APPS), 'iat': now, 'exp': now + pick([900, 3600, 86400])}
    if chance(0.5):
        payload['scope'] = pick(['read:orders write:orders', 'admin', 'openid profile email'])
    sig = {'HS256': 32, 'RS256': 256, 'ES256': 64}[alg]
    return '%s.%s.%s' % (b64u(json.dumps(hdr, separators=(',', ':'))), b64u(json.dumps(payload, separators=(',', ':'))), b64u(rb(sig)))


def g_jwt():
    tok = jwt_token()
    return place(tok, ['access_token', 'id_token', 'auth_token', 'session_token'], hdr=['Authorization: Bearer {}', 'Cookie: session={}; theme=dark'],
                 urls=['https://%s/%s?id_token={q}' % (pick(COLLECT), pick(COLLECT_PATHS))])


GENERIC_KEYS = ['client_secret', 'api_secret', 'secret_key', 'app_secret', 'signing_secret', 'jwt_secret', 'encryption_key',
                'session_secret', 'webhook_secret', 'hmac_key', 'master_key', 'auth_token', 'private_token', 'django_secret_key',
                'secret_key_base', 'nextauth_secret', 'cookie_secret', 'api_key', 'internal_api_token', 'license_key']


def generic_value(key):
    if key == 'django_secret_key':
        return 'django-insecure-' + rs(50, LO + DG + '!@#%^&*(-_=+)') if chance(0.3) else rs(50, LO + DG + '!@#%^&*(-_=+)')
    if key == 'secret_key_base':
        return rhex(128)
    return pick([rhex(32), rhex(64), b64e(rb(32)), rs(40), rs(32, T), b64u(rb(48))])


def g_generic():
    key = pick(GENERIC_KEYS)
    val = generic_value(key)
    hdr = ['X-Api-Key: {}', 'X-Auth-Token: {}'] if key in ('api_key', 'auth_token', 'internal_api_token') else ()
    return place(val, [key], hdr=hdr, modes=['doc'] * 9 + ['json', 'json', 'form', 'esc', 'url'] + (['hdr', 'hdr'] if hdr else []))


def pw_docs(pw):
    user = user_name()
    host = pick(['db.%s.internal' % pick(ORGS), 'mail.%s.com' % pick(ORGS), 'ldap.corp.%s.net' % pick(ORGS)])
    return [
        lambda: config_doc([(pick(['db_password', 'password', 'smtp_password', 'redis_password', 'admin_password', 'ldap_bind_password']), pw)]),
        lambda: ('%s:5432:%s:%s:%s\n' % (host, pick(['app', 'postgres']), user, pw), '.pgpass', 'text/plain'),
        lambda: ('machine %s\n  login %s\n  password %s\n' % (host, user, pw), '.netrc', 'text/plain'),
        lambda: ('<settings>\n  <servers>\n    <server>\n      <id>releases</id>\n      <username>%s</username>\n      <password>%s</password>\n    </server>\n  </servers>\n</settings>\n' % (user, q_xml(pw)), 'settings.xml', 'application/xml'),
        lambda: ("<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', '%s' );\ndefine( 'DB_PASSWORD', '%s' );\ndefine( 'DB_HOST', 'localhost' );\n" % (user, pw.replace("'", "\\'")), 'wp-config.php', 'text/plain'),
        lambda: ('spring.datasource.url=jdbc:postgresql://%s:5432/app\nspring.datasource.username=%s\nspring.datasource.password=%s\n' % (host, user, pw), 'application.properties', 'text/plain'),
        lambda: ('[web]\n10.0.1.%d ansible_user=%s ansible_become_pass=%s\n' % (R.randint(2, 250), user, q_sh(pw)), 'inventory.ini', 'text/plain'),
        lambda: ('$secure = ConvertTo-SecureString "%s" -AsPlainText -Force\n$cred = New-Object System.Management.Automation.PSCredential ("%s", $secure)\n' % (pw.replace('"', '`"').replace('$', '`$'), user), 'connect.ps1', 'text/plain'),
        lambda: ('  501  cd /srv/app\n  502  mysql -u %s -p%s -h %s app < dump.sql\n  503  ls -la\n' % (user, q_sh(pw), host), '.bash_history', 'text/plain'),
    ]


def g_password():
    pw = gen_password()
    ALL_SECRETS.append(pw)
    user = user_name()
    t = R.randint(0, 9)
    if t == 0:
        return C_json({'username': user, 'password': pw, 'remember_me': True})
    if t == 1:
        return C_body(form([('username', user), ('password', pw), ('grant_type', 'password'), ('client_id', pick(APPS))]), 'application/x-www-form-urlencoded')
    if t == 2:
        return C_json(chat_body('I keep getting "access denied" for user %s with password %s on our MySQL box, what should I check?' % (user, pw)))
    if t == 3:
        return mp_case([('email', None, None, email_of(*person())), ('password', None, None, pw), ('submit', None, None, 'Sign in')])
    return transport(*pick(pw_docs(pw))())


# --- payment / personal data ---------------------------------------------------
def g_card():
    num, kind = card_number()
    ALL_SECRETS.append(num)
    f, l = person()
    exp = '%02d/%02d' % (R.randint(1, 12), R.randint(26, 31))
    cvc = rs(4 if kind == 'amex' else 3, DG)
    shown = pick([num, group4(num), group4(num, '-')]) if kind != 'amex' else pick([num, '%s %s %s' % (num[:4], num[4:10], num[10:])])
    t = R.randint(0, 7)
    if t == 0:
        return C_json({'order_id': uuid4(), 'payment': {'card_number': shown, 'exp': exp, 'cvc': cvc, 'name': '%s %s' % (f, l)}})
    if t == 1:
        return C_body(form([('cc_number', shown), ('cc_exp', exp), ('cc_cvv', cvc), ('cardholder', '%s %s' % (f, l))]), 'application/x-www-form-urlencoded')
    if t == 2:
        rows = ['customer,email,card,expiry'] + ['%s %s,%s,%s,%s' % (f, l, email_of(f, l), num, exp)]
        return transport('\n'.join(rows) + '\n', 'customers.csv', 'text/csv', ['raw', 'multipart', 'gzip', 'contents'])
    if t == 3:
        return C_json(chat_body('Can you check if this card is valid? %s exp %s cvv %s' % (shown, exp, cvc)))
    if t == 4:
        return C_url('https://%s/%s?cc=%s&e=%s' % (pick(COLLECT), pick(COLLECT_PATHS), num, quote(exp, safe='')))
    if t == 5:
        return C_body('%s ERROR payment declined for %s %s card=%s exp=%s\n' % (log_ts(), f, l, shown, exp), 'text/plain')
    if t == 6:
        return C_json({'event': 'form_capture', 'fields': b64e(json.dumps({'number': num, 'exp': exp, 'cvc': cvc}))})
    return C_body(email_text('card details', 'Here is the company card for the booking: %s, expires %s, CVC %s.' % (shown, exp, cvc)), 'message/rfc822')


def g_iban():
    ib = make_iban()
    ALL_SECRETS.append(ib)
    f, l = person()
    shown = pick([ib, group4(ib)])
    t = R.randint(0, 4)
    if t == 0:
        return C_json({'payee': '%s %s' % (f, l), 'iban': shown, 'amount': '%d.%02d' % (R.randint(10, 9000), R.randint(0, 99)), 'currency': 'EUR'})
    if t == 1:
        return C_body('name;iban;bic\n%s %s;%s;%s\n' % (f, l, ib, rs(4, UP) + ib[:2] + rs(2, UP + DG)), 'text/csv')
    if t == 2:
        return C_body(form([('account_holder', '%s %s' % (f, l)), ('iban', shown)]), 'application/x-www-form-urlencoded')
    if t == 3:
        return C_body(email_text('new bank details', 'Please update my salary account to IBAN %s (%s %s).' % (shown, f, l)), 'message/rfc822')
    return C_url('https://%s/%s?acct=%s&n=%s' % (pick(COLLECT), pick(COLLECT_PATHS), ib, quote('%s %s' % (f, l))))


def g_wallet():
    t = R.randint(0, 3)
    if t == 0:
        a = b58check(b'\x00' + rb(20))
    elif t == 1:
        a = b58check(b'\x05' + rb(20))
    elif t == 2:
        a = bech32_encode('bc', rb(20), witver=0)
    else:
        a = '0x' + rhex(40)
    ALL_SECRETS.append(a)
    u = R.randint(0, 2)
    if u == 0:
        return C_json({'user': user_name(), 'payout_address': a, 'network': 'ethereum' if a.startswith('0x') else 'bitcoin'})
    if u == 1:
        return C_body(form([('wallet', a), ('amount', str(R.randint(1, 500) / 100))]), 'application/x-www-form-urlencoded')
    return C_url('https://%s/%s?w=%s&id=%s' % (pick(COLLECT), pick(COLLECT_PATHS), a, rs(8, LOWNUM)))


def g_crypto_priv():
    t = R.randint(0, 3)
    if t == 0:
        k = b58check(b'\x80' + rb(32) + b'\x01')
        ALL_SECRETS.append(k)
        return C_json({'wallet': 'hot-1', 'wif': k})
    if t == 1:
        k = '0x' + rhex(64)
        ALL_SECRETS.append(k)
        return transport(*config_doc([('deployer_private_key', k), ('rpc_url', 'https://rpc.ankr.com/eth')], fmt=pick(['env', 'shell', 'toml'])))
    if t == 2:
        arr = list(rb(64))
        ALL_SECRETS.append(json.dumps(arr)[:40])
        return transport(json.dumps(arr), 'id.json', 'application/json', ['raw', 'gist', 'contents', 'multipart'])
    k = rhex(64)
    ALL_SECRETS.append(k)
    return C_json(chat_body('I imported my wallet private key %s into MetaMask but the balance shows 0, why?' % k))


def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            return '%03d-%02d-%04d' % (a, R.randint(1, 99), R.randint(1, 9999))


def g_ssn():
    s = ssn()
    ALL_SECRETS.append(s)
    f, l = person()
    dob = '%d-%02d-%02d' % (R.randint(1950, 2002), R.randint(1, 12), R.randint(1, 28))
    t = R.randint(0, 3)
    if t == 0:
        return C_body('employee_id,first,last,dob,ssn\n%d,%s,%s,%s,%s\n' % (R.randint(1000, 9999), f, l, dob, s), 'text/csv')
    if t == 1:
        return C_json({'applicant': {'first_name': f, 'last_name': l, 'dob': dob, 'ssn': s}})
    if t == 2:
        return C_body(form([('name', '%s %s' % (f, l)), ('ssn', s), ('dob', dob)]), 'application/x-www-form-urlencoded')
    return C_json(chat_body('Fill in this W-4 for %s %s, SSN %s, born %s.' % (f, l, s, dob)))


# --- exfiltration of data with no known shape ---------------------------------
EXFIL_DOMAINS = ['oast-relay.net', 'cdn-metrics.io', 'telemetry-sync.com', 'dnslog-svc.cn', 'updates-check.org',
                 'b9k2.xyz', 'resolver-cache.net', 'blob-analytics.com', 'tunnel-ns.net', 'q7z.top']


def home_dump():
    parts = []
    if chance(0.7):
        parts.append('# ~/.aws/credentials\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (aws_key_id(), aws_secret()))
    if chance(0.6):
        parts.append('# ~/.config/gh/hosts.yml\ngithub.com:\n    oauth_token: %s\n    user: %s\n' % (tok_gh('gho_'), user_name()))
    if chance(0.5) or not parts:
        parts.append('# env\nDATABASE_URL=%s\nSECRET_KEY=%s\n' % (db_url()[1], rhex(48)))
    return '\n'.join(parts)


def exfil_payload():
    t = R.randint(0, 5)
    if t <= 1:
        return rb(R.randint(28, 96))
    if t == 2:
        return ('root:x:0:0:root:/root:/bin/bash\n%s:x:1000:1000:%s %s:/home/%s:/bin/zsh\n' % ((user_name().replace('.', ''),) + person() + ('dev',))).encode()
    if t == 3:
        return ('AWS_SECRET_ACCESS_KEY=%s' % aws_secret()).encode()
    if t == 4:
        return gz(home_dump())[:R.randint(60, 110)]
    return ('%s:%s@%s' % (user_name(), gen_password(), pick(APIHOSTS))).encode()


def ldh_b64(nbytes):
    out = ''
    while len(out) * 3 // 4 < nbytes:
        e = b64e(rb(3))
        if '+' not in e and '/' not in e:
            out += e
    return out


def g_dns():
    enc = pick(['hex', 'hex', 'b32', 'b32', 'b64'])
    if enc == 'b64':
        s = ldh_b64(R.randint(30, 80))
    else:
        data = exfil_payload()
        s = data.hex() if enc == 'hex' else b32(data)
    size = pick([16, 30, 40, 48, 56, 60, 63])
    labels = [s[i:i + size] for i in range(0, len(s), size)]
    prefix = pick(['', '%d.' % R.randint(0, 999), 's%s-%d.' % (rhex(4), R.randint(0, 40)), '%s.' % rhex(6)])
    domain = pick(['x.', 'd.', 't.', 'ns1.', '']) + pick(EXFIL_DOMAINS)
    while len(prefix + '.'.join(labels) + '.' + domain) > 253:
        labels.pop()
    host = prefix + '.'.join(labels) + '.' + domain
    ALL_SECRETS.append(labels[0])
    if chance(0.2):
        return C_url(pick(['http://%s/', 'https://%s/favicon.ico', 'https://%s/p.gif?v=1']) % host)
    return C_host(host)


def enc_any(data, url_safe=True):
    t = R.randint(0, 3)
    if t == 0:
        return b64u(data)
    if t == 1:
        return data.hex()
    if t == 2:
        return b32(data, lower=chance(0.5))
    return quote(b64e(data), safe='') if url_safe else b64e(data)


def g_path():
    s = enc_any(exfil_payload())
    if not re.search(r'%', s) and chance(0.5) and len(s) > 80:
        s = '/'.join(s[i:i + 48] for i in range(0, len(s), 48))
    ALL_SECRETS.append(s[:24])
    host = pick(COLLECT + ['img.tracker-cdn.net', 'static.font-mirror.org'])
    return C_url('https://%s/%s/%s%s' % (host, pick(['i', 'p', 'c', 'img', 'assets', 'v1/collect', 'u']), s, pick(['', '', '.png', '.gif', '/pixel', '.js'])))


def g_query():
    s = enc_any(exfil_payload())
    ALL_SECRETS.append(s[:24])
    params = [('v', '1'), (pick(['d', 'q', 'data', 'c', 'payload', 's', 'e']), s), ('t', str(epoch()))]
    if chance(0.5):
        params.append(('id', rs(8, LOWNUM)))
    R.shuffle(params)
    host = pick(COLLECT + ['px.ads-measure.net', 'events.metric-beacon.io'])
    return C_url('https://%s/%s?%s' % (host, pick(['', 'p.gif', 'collect', 'i', 'api/v1/e']), '&'.join('%s=%s' % kv for kv in params)))


def g_delim():
    data = exfil_payload()
    while len(data) < 24:
        data = exfil_payload()
    data = data[:R.randint(24, 80)]
    sep = pick([':', '-', ' ', ',', '.', '\\x', '0x'])
    up = chance(0.3)
    hx = ['%02X' % b if up else '%02x' % b for b in data]
    if sep == '\\x':
        s = ''.join('\\x' + h for h in hx)
    elif sep == '0x':
        s = ', '.join('0x' + h for h in hx)
    else:
        s = sep.join(hx)
    ALL_SECRETS.append(s[:30])
    t = R.randint(0, 4)
    if t == 0:
        return C_json({pick(['diag', 'm', 'trace', 'blob', 'fp']): s, 'ts': epoch()})
    if t == 1:
        return C_body(s + '\n', 'text/plain')
    if t == 2 and sep in (':', '-', '.'):
        return C_url('https://%s/%s/%s' % (pick(COLLECT), pick(['b', 'r', 'x']), s))
    if t == 3:
        return C_body(form([('d', s), ('n', str(R.randint(0, 40)))]), 'application/x-www-form-urlencoded')
    return C_url('https://%s/%s?x=%s' % (pick(COLLECT), pick(COLLECT_PATHS), quote(s, safe='')))


def g_split():
    t = R.randint(0, 5)
    if t == 2:
        sec = pick([aws_secret(), tok_gh('ghp_'), 'sk_live_' + rs(24), jwt_token()])
        k = 3 if len(sec) > 60 else 2
        step = -(-len(sec) // k)
        parts = [sec[i:i + step] for i in range(0, len(sec), step)]
    else:
        blob = pick([b64u, lambda d: d.hex()])(exfil_payload() + rb(R.randint(0, 30)))
        k = R.randint(3, 6)
        step = -(-len(blob) // k)
        parts = [blob[i:i + step] for i in range(0, len(blob), step)]
    ALL_SECRETS.append(parts[0])
    if t in (0, 1):
        return C_url('https://%s/%s?%s' % (pick(COLLECT), pick(COLLECT_PATHS), '&'.join('p%d=%s' % (i, p) for i, p in enumerate(parts))))
    if t == 2:
        names = pick([['a', 'b', 'c'], ['k1', 'k2', 'k3'], ['x', 'y', 'z']])
        return C_json(dict(zip(names, parts), sid=rs(6, LOWNUM)))
    if t == 3:
        return C_json({'id': rhex(8), 'n': len(parts), 'parts': parts})
    if t == 4:
        return C_header('Cookie: ' + '; '.join('_c%d=%s' % (i, p) for i, p in enumerate(parts)))
    return C_body(form([('f%d' % i, p) for i, p in enumerate(parts)]), 'application/x-www-form-urlencoded')


def g_blob():
    t = R.randint(0, 6)
    if t == 0:
        d = home_dump()
        ALL_SECRETS.append(b64e(gz(d))[:30])
        return C_json({'d': b64e(gz(d)), 'h': pick(['build-07', 'dev-laptop', 'runner-2'])})
    if t == 1:
        p = b64e(rb(R.randint(256, 900)))
        ALL_SECRETS.append(p[:30])
        return C_json({'alg': 'A256GCM', 'iv': b64e(rb(12)), 'payload': p, 'tag': b64e(rb(16))})
    if t == 2:
        p = b32(gz(home_dump()), lower=False)
        ALL_SECRETS.append(p[:30])
        return C_body(form([('data', p), ('seq', '0')]), 'application/x-www-form-urlencoded')
    if t == 3:
        raw = gz(home_dump())
        ALL_SECRETS.append(b64e(raw)[:30])
        mp, ct = multipart([('file', 'dump.bin', 'application/octet-stream', raw), ('host', None, None, 'ip-10-0-%d-%d' % (R.randint(0, 255), R.randint(1, 254)))])
        return C_bytes(mp, ct)
    if t == 4:
        h = gz(home_dump()).hex()
        ALL_SECRETS.append(h[:30])
        return C_body(h, 'text/plain')
    if t == 5:
        files = {'~/.aws/credentials': b64e('[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' % (aws_key_id(), aws_secret())),
                 '~/.bash_history': b64e('ls\ncd src\nexport DB_PASSWORD=%s\nmake\n' % gen_password())}
        ALL_SECRETS.append(files['~/.aws/credentials'][:30])
        return C_json({'files': files})
    c = b64e(zl(home_dump()))
    ALL_SECRETS.append(c[:30])
    return C_json({'c': c, 'z': 1})


def g_shadow():
    def h():
        return pick(['$6$' + rs(R.randint(8, 16), CRYPT64[2:]) + '$' + rs(86, CRYPT64), '$y$j9T$' + rs(22, CRYPT64) + '$' + rs(43, CRYPT64)])
    rows = ['root:%s:19%03d:0:99999:7:::' % (h(), R.randint(100, 999)), 'daemon:*:19000:0:99999:7:::', 'bin:*:19000:0:99999:7:::']
    for _ in range(R.randint(1, 2)):
        rows.append('%s:%s:19%03d:0:99999:7:::' % (user_name().replace('.', ''), h(), R.randint(100, 999)))
    doc = '\n'.join(rows) + '\n'
    ALL_SECRETS.append(rows[0][5:40])
    t = R.randint(0, 2)
    if t == 0:
        return C_body(doc, 'text/plain')
    if t == 1:
        return C_json({'path': '/etc/shadow', 'content': doc})
    return C_bytes(gz(doc), 'text/plain', 'gzip')


COUNT_OVERRIDE = {'gitlab-token': 5, 'stripe-secret-key': 5, 'openai-api-key': 5, 'anthropic-api-key': 5, 'github-fine-grained-token': 5,
                  'aws-access-key-id': 5, 'huggingface-token': 4, 'sendgrid-api-key': 4, 'shopify-access-token': 4,
                  'telegram-bot-token': 4, 'azure-storage-account-key': 4, 'azure-sas-token': 4, 'azure-ad-client-secret': 4,
                  'npm-token': 4, 'pypi-token': 4}

POS_CLASSES = [(c, COUNT_OVERRIDE.get(c, s['n']), spec_gen(c)) for c, s in SPECS.items()] + [
    ('aws-secret-access-key', 10, g_aws_secret), ('aws-session-token', 5, g_aws_session),
    ('gcp-service-account-key', 6, g_gcp_sa), ('twilio-auth-token', 4, g_twilio_auth),
    ('private-key', 10, g_private_key), ('ssh-private-key', 6, g_ssh_key),
    ('database-connection-string', 10, g_db), ('url-userinfo-password', 10, g_userinfo),
    ('basic-auth', 10, g_basic), ('bearer-token', 10, g_bearer), ('jwt', 8, g_jwt),
    ('generic-secret', 16, g_generic), ('password', 14, g_password),
    ('credit-card-number', 10, g_card), ('iban', 6, g_iban), ('crypto-wallet-address', 5, g_wallet),
    ('crypto-private-key', 5, g_crypto_priv), ('us-social-security-number', 5, g_ssn),
    ('dns-exfiltration', 14, g_dns), ('high-entropy-url-path', 10, g_path), ('high-entropy-query-value', 10, g_query),
    ('delimited-hex-exfiltration', 10, g_delim), ('split-field-exfiltration', 10, g_split),
    ('encoded-blob-exfiltration', 10, g_blob), ('unix-shadow-hashes', 4, g_shadow),
]
CONTEXT_CLASSES = ['generic-secret', 'password', 'dns-exfiltration', 'high-entropy-url-path', 'high-entropy-query-value',
                   'delimited-hex-exfiltration', 'split-field-exfiltration', 'encoded-blob-exfiltration', 'aws-secret-access-key',
                   'bearer-token', 'basic-auth', 'database-connection-string', 'url-userinfo-password', 'private-key', 'credit-card-number']


# ----------------------------------------------------------------------------
# section 4: negatives (benign traffic that a careless detector would flag)
# ----------------------------------------------------------------------------
PKGS = [('react', '18.3.1'), ('lodash', '4.17.21'), ('vue', '3.4.27'), ('axios', '1.7.2'), ('chart.js', '4.4.3'),
        ('bootstrap', '5.3.3'), ('d3', '7.9.0'), ('htmx.org', '1.9.12'), ('alpinejs', '3.14.0'), ('dayjs', '1.11.11')]


def sha256hex():
    return hashlib.sha256(rb(24)).hexdigest()


def sha1hex():
    return hashlib.sha1(rb(24)).hexdigest()


def org_host(sub=None):
    return '%s.%s%s' % (sub or pick(['api', 'www', 'app', 'portal', 'shop']), pick(ORGS), pick(['.com', '.io', '.net', '.dev']))


def n_uuid():
    t = R.randint(0, 3)
    if t == 0:
        return C_json({'request_id': uuid4(), 'order_id': uuid4(), 'items': [
            {'sku': 'SKU-%05d' % R.randint(1, 99999), 'line_id': uuid4(), 'qty': R.randint(1, 5)} for _ in range(R.randint(1, 3))]})
    if t == 1:
        return C_header('%s: %s' % (pick(['X-Request-ID', 'X-Correlation-ID', 'Idempotency-Key']), uuid4()))
    if t == 2:
        return C_url('https://%s/v2/orders/%s/items?include=%s' % (org_host('api'), uuid4(), pick(['shipping', 'tax', 'discounts'])))
    return C_body('%s INFO job %s finished run_id=%s duration_ms=%d\n' % (log_ts(), uuid4(), uuid4(), R.randint(10, 9000)), 'text/plain')


def n_hash():
    t = R.randint(0, 4)
    if t == 0:
        return C_json({'file': pick(['report.pdf', 'backup-2024-05-01.tar', 'model.onnx']), 'sha256': sha256hex(), 'size': R.randint(1000, 10 ** 9)})
    if t == 1:
        return C_url('https://ghcr.io/v2/%s/%s/blobs/sha256:%s' % (pick(ORGS), pick(APPS), sha256hex()))
    if t == 2:
        return C_header('Digest: sha-256=' + b64e(hashlib.sha256(rb(20)).digest()))
    if t == 3:
        return C_header('x-amz-content-sha256: ' + sha256hex())
    return C_json({'artifacts': [{'name': '%s-%s.tar.gz' % (pick(APPS), a), 'sha512': hashlib.sha512(rb(20)).hexdigest()} for a in ('linux-amd64', 'darwin-arm64')]})


def n_git():
    sha = sha1hex()
    org, app = pick(ORGS), pick(APPS)
    t = R.randint(0, 5)
    if t == 0:
        return C_url('https://github.com/%s/%s/commit/%s' % (org, app, sha))
    if t == 1:
        return C_url('https://api.github.com/repos/%s/%s/compare/%s...%s' % (org, app, sha[:7], sha1hex()[:7]))
    if t == 2:
        return C_json({'ref': 'refs/heads/main', 'before': sha, 'after': sha1hex(), 'commits': [
            {'id': sha1hex(), 'message': pick(['fix: handle empty cart', 'chore: bump deps', 'docs: update README'])}]})
    if t == 3:
        f, l = person()
        return C_body('commit %s\nAuthor: %s %s <%s>\nDate:   %s\n\n    %s\n' % (sha, f, l, email_of(f, l), http_date(), pick(['Bump version', 'Refactor loader', 'Add retries'])), 'text/plain')
    if t == 4:
        return C_url('https://gitlab.com/%s/%s/-/commit/%s' % (org, app, sha))
    return C_url('https://codeload.github.com/%s/%s/tar.gz/%s' % (org, app, sha))


def n_asset():
    h = org_host('www')
    t = R.randint(0, 4)
    if t == 0:
        return C_url('https://%s/static/js/main.%s.js' % (h, rhex(8)))
    if t == 1:
        return C_url('https://%s/_next/static/chunks/pages/_app-%s.js' % (h, rhex(16)))
    if t == 2:
        return C_url('https://%s/assets/index-%s.css' % (h, rs(8, ALNUM + '_-')))
    if t == 3:
        return C_url('https://%s/build/vendor.%s.bundle.js' % (h, rhex(20)))
    return C_json({'main.js': '/static/js/main.%s.js' % rhex(8), 'main.css': '/static/css/main.%s.css' % rhex(8),
                   'runtime.js': '/static/js/runtime.%s.js' % rhex(8)}, True)


def n_cdn():
    p, v = pick(PKGS)
    t = R.randint(0, 4)
    if t == 0:
        return C_url('https://cdn.jsdelivr.net/npm/%s@%s/dist/%s.min.js' % (p, v, p.split('.')[0]))
    if t == 1:
        return C_url('https://unpkg.com/%s@%s/dist/%s.js' % (p, v, p.split('.')[0]))
    if t == 2:
        return C_url('https://cdnjs.cloudflare.com/ajax/libs/%s/%s/%s.min.js' % (p, v, p.split('.')[0]))
    if t == 3:
        return C_url('https://d%s.cloudfront.net/images/%d/%s.webp' % (rs(13, LOWNUM), pick([320, 640, 1280]), pick(WORDS)))
    return C_url('https://images.%s-cdn.com/%s/%dx%d.jpg?auto=format&q=80' % (pick(ORGS), uuid4(), pick([200, 400]), pick([200, 300])))


def n_cursor():
    t = R.randint(0, 4)
    if t == 0:
        c = b64e(json.dumps({'id': R.randint(1000, 999999), 'ts': epoch()}))
        return C_url('https://%s/v1/events?limit=100&cursor=%s' % (org_host('api'), quote(c, safe='')))
    if t == 1:
        return C_url('https://slack.com/api/conversations.list?limit=200&cursor=%s' % quote(b64e('team:C0' + rs(9, UP + DG)), safe=''))
    if t == 2:
        return C_json({'data': [{'id': R.randint(1, 10 ** 6)} for _ in range(3)], 'has_more': True,
                       'next_cursor': b64u(json.dumps({'offset': R.randint(1, 50) * 100, 'sort': 'created_at'}))})
    if t == 3:
        return C_json({'query': 'query($after: String) { repository(owner: "%s", name: "%s") { issues(first: 50, after: $after) { nodes { title } } } }' % (pick(ORGS), pick(APPS)),
                       'variables': {'after': b64e('cursor:v2:%d' % R.randint(1, 5000))}})
    return C_url('https://www.googleapis.com/drive/v3/files?pageSize=100&pageToken=%s' % quote(b64u('page:%d:%s' % (R.randint(2, 40), pick(['name', 'modifiedTime']))), safe=''))


def n_docid():
    t = R.randint(0, 5)
    if t == 0:
        return C_url('https://docs.google.com/document/d/1%s/edit?usp=sharing' % rs(43, T))
    if t == 1:
        return C_url('https://drive.google.com/file/d/1%s/view' % rs(32, T))
    if t == 2:
        return C_url('https://www.notion.so/%s/%s-%s' % (pick(ORGS), '-'.join(w.capitalize() for w in R.sample(WORDS, 3)), rhex(32)))
    if t == 3:
        return C_url('https://www.figma.com/design/%s/%s?node-id=%d-%d' % (rs(22), pick(WORDS).capitalize(), R.randint(1, 99), R.randint(1, 999)))
    if t == 4:
        return C_url('https://airtable.com/app%s/tbl%s/viw%s' % (rs(14), rs(14), rs(14)))
    return C_json({'fileId': '1' + rs(32, T), 'fields': 'id,name,mimeType,modifiedTime', 'supportsAllDrives': True})


def n_image():
    img = png_bytes() if chance(0.8) else gif_bytes()
    mime = 'image/png' if img[:4] == b'\x89PNG' else 'image/gif'
    uri = 'data:%s;base64,%s' % (mime, b64e(img))
    t = R.randint(0, 3)
    if t == 0:
        return C_json({'name': '%s.png' % pick(WORDS), 'image': uri})
    if t == 1:
        return C_json({'user_id': R.randint(1, 10 ** 6), 'avatar': {'mime': mime, 'data': b64e(img)}})
    if t == 2:
        return C_json({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'What colour is this icon?'},
                                                                                      {'type': 'image_url', 'image_url': {'url': uri}}]}]})
    raw, ct = multipart([('file', 'icon.png' if mime == 'image/png' else 'pixel.gif', mime, img), ('alt', None, None, pick(WORDS))])
    return C_bytes(raw, ct)


def n_tracking():
    t = R.randint(0, 4)
    base = 'https://%s/%s' % (org_host('www'), pick(['pricing', 'blog/launch', 'signup', 'products/%d' % R.randint(1, 999)]))
    if t == 0:
        return C_url(base + '?utm_source=%s&utm_medium=%s&utm_campaign=%s' % (pick(['newsletter', 'google', 'linkedin']), pick(['email', 'cpc', 'social']), pick(['spring_sale', 'q3-launch', 'brand'])))
    if t == 1:
        return C_url(base + '?gclid=%s' % pick(['Cj0KCQjw' + rs(80, T), 'EAIaIQobChMI' + rs(60, T)]))
    if t == 2:
        return C_url(base + '?fbclid=IwAR%s&utm_source=facebook' % rs(60, T))
    if t == 3:
        return C_url(base + '?msclkid=%s&utm_source=bing&utm_medium=cpc' % rhex(32))
    return C_header('Cookie: _ga=GA1.1.%d.%d; _gid=GA1.1.%d.%d; _fbp=fb.1.%d.%d' % (R.randint(10 ** 8, 10 ** 10), epoch(), R.randint(10 ** 8, 10 ** 10), epoch(), epoch() * 1000, R.randint(10 ** 8, 10 ** 10)))


WELL_KNOWN = ['api.github.com', 'registry.npmjs.org', 'files.pythonhosted.org', 'objects.githubusercontent.com', 'www.googleapis.com',
              'login.microsoftonline.com', 'en.wikipedia.org', 'fonts.gstatic.com', 'pypi.org', 'storage.googleapis.com',
              'production.cloudflare.docker.com', 'deb.debian.org', 'security.ubuntu.com', 'proxy.golang.org', 'crates.io',
              'static.crates.io', 'repo.maven.apache.org', 'api.openai.com', 'api.anthropic.com', 'xn--bcher-kva.example',
              'xn--mnchen-3ya.de', 'time.cloudflare.com', 'ocsp.digicert.com', 'dl.google.com', 'update.code.visualstudio.com']


def n_hostname():
    if chance(0.55):
        return C_host(pick(WELL_KNOWN))
    return C_host('%s.%s%s' % (pick(['status', 'docs', 'mail', 'cdn', 'auth', 'grafana', 'jenkins', 'wiki', 'metrics']),
                              pick(ORGS), pick(['.com', '.io', '.net', '.org', '.co.uk'])))


def n_cloudhost():
    rg = pick(REGIONS)
    t = R.randint(0, 10)
    a, b, c, d = (R.randint(1, 254) for _ in range(4))
    hosts = ['ec2-%d-%d-%d-%d.%s.compute.amazonaws.com' % (a, b, c, d, rg), 'ip-10-%d-%d-%d.%s.compute.internal' % (b, c, d, rg),
             'internal-%s-%s.%s.elb.amazonaws.com' % (pick(APPS), rs(10, DG), rg), '%s.execute-api.%s.amazonaws.com' % (rs(10, LOWNUM), rg),
             '%s.lambda-url.%s.on.aws' % (rs(32, LOWNUM), rg), 'd%s.cloudfront.net' % rs(13, LOWNUM),
             '%s-%s-uc.a.run.app' % (pick(APPS), rs(10, LOWNUM)), '%s.supabase.co' % rs(20, LO),
             '%s-%s-%s.vercel.app' % (pick(APPS), rs(9, LOWNUM), pick(ORGS)), '%s.dkr.ecr.%s.amazonaws.com' % (rs(12, DG), rg),
             '%s%s.blob.core.windows.net' % (pick(ORGS).replace('-', ''), pick(['prod', 'logs', 'media']))]
    return C_host(hosts[t])


DOC_PARAS = [
    'GitHub personal access tokens (classic) start with the ghp_ prefix and fine-grained ones with github_pat_. Never commit them; store them as repository secrets instead.',
    'To authenticate, send your API key in the Authorization header using the Bearer scheme. Keys can be rotated from the dashboard under Settings > API keys.',
    'AWS access key IDs begin with AKIA for long-term credentials and ASIA for temporary ones. The secret access key is shown only once, when the key is created.',
    'Stripe secret keys are prefixed sk_live_ in live mode and sk_test_ in test mode; restricted keys use the rk_ prefix.',
    'Slack bot tokens start with xoxb- and user tokens with xoxp-. Treat them like passwords and rotate them if they appear in logs.',
    'Set the OPENAI_API_KEY environment variable before running the examples; the SDK reads it automatically.',
    'A JSON Web Token consists of three base64url-encoded parts separated by dots: the header, the payload and the signature.',
    'Kubernetes Secrets store values base64-encoded, which is an encoding and not encryption. Enable encryption at rest for etcd.',
    'If a token is leaked, revoke it immediately, issue a new one and audit the access logs for the affected period.',
    'Use a secrets manager such as Vault or AWS Secrets Manager instead of hard-coding credentials in source files.',
    'The webhook signing secret is used to compute an HMAC-SHA256 of the payload; compare signatures in constant time.',
    'Private keys should never leave the machine that generated them; share only the public key or its fingerprint.',
]


def n_tokdoc():
    text = '\n\n'.join(R.sample(DOC_PARAS, R.randint(2, 4)))
    t = R.randint(0, 3)
    if t == 0:
        return C_body('# Credentials\n\n' + text + '\n', 'text/markdown')
    if t == 1:
        return C_json(chat_body('Summarise these guidelines for new engineers:\n\n' + text))
    if t == 2:
        return C_json({'title': 'Docs: credential handling', 'body': text, 'labels': ['documentation']})
    return C_json({'page': 'security/tokens', 'content': text, 'updated_at': iso_ts()})


PLACEHOLDERS = ['<YOUR_API_KEY>', 'YOUR_API_KEY_HERE', '${GITHUB_TOKEN}', '${{ secrets.NPM_TOKEN }}', '{{ .Values.apiKey }}',
                'xxxxxxxxxxxxxxxxxxxxxxxx', 'REPLACE_ME', 'your-secret-here', '<password>', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx',
                'ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'AKIAXXXXXXXXXXXXXXXX', 'AKIAIOSFODNN7EXAMPLE',
                'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '%API_KEY%', '$DB_PASSWORD', '<insert token>', 'TODO', 'none', 'dummy']


def n_placeholder():
    t = R.randint(0, 5)
    if t <= 2:
        keys = R.sample(['api_key', 'secret_key', 'db_password', 'github_token', 'aws_secret_access_key', 'client_secret', 'auth_token'], 2)
        doc, fn, ct = config_doc([(k, pick(PLACEHOLDERS)) for k in keys], fmt=pick(['env', 'yaml', 'toml', 'ini', 'json', 'properties', 'xml']))
        return transport(doc, fn, ct, ['raw', 'gist', 'chat', 'issue', 'gzip'])
    if t == 3:
        return C_header(pick(['Authorization: Bearer <token>', 'Authorization: Bearer ${API_TOKEN}', 'X-Api-Key: YOUR_API_KEY',
                              'Authorization: token $GITHUB_TOKEN', 'Authorization: Basic <base64(user:password)>']))
    if t == 4:
        return C_url('https://%s/v1/search?q=%s&api_key=%s' % (org_host('api'), pick(WORDS), quote(pick(['YOUR_API_KEY', '<API_KEY>', '${KEY}', 'xxxx']), safe='')))
    return C_body('export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n'
                  '# replace the example values above with your own\n', 'text/plain')


REDACT = ['[REDACTED]', '********', '***', '<redacted>', '[FILTERED]', 'REDACTED', '••••••••', '<hidden>']


def n_redacted():
    t = R.randint(0, 5)
    if t == 0:
        return C_json({'username': user_name(), 'password': pick(REDACT), 'api_key': pick(REDACT)})
    if t == 1:
        return C_body('%s DEBUG request headers: {"Authorization": "Bearer %s", "Accept": "application/json"}\n' % (log_ts(), pick(REDACT)), 'text/plain')
    if t == 2:
        return C_header('Authorization: Bearer ' + pick(['[REDACTED]', '***', '<redacted>', '[FILTERED]']))
    if t == 3:
        return C_json({'keys': [{'name': 'ci', 'display': 'sk_live_' + '*' * 20 + rs(4), 'created': iso_ts()},
                                {'name': 'deploy', 'display': 'ghp_' + '*' * 32 + rs(4), 'created': iso_ts()}]})
    if t == 4:
        return C_body('DATABASE_URL=postgres://%s:****@db.internal:5432/app\nSTRIPE_KEY=%s\n' % (user_name(), pick(REDACT)), 'text/plain')
    return C_url('https://%s/v1/audit?token=REDACTED&user=%s' % (org_host('api'), quote(user_name())))


def n_pubkey():
    t = R.randint(0, 5)
    who = '%s@%s' % (user_name(), pick(['laptop', 'workstation', 'mbp']))
    if t == 0:
        return C_json({'title': pick(['laptop', 'work mac', 'yubikey']), 'key': 'ssh-ed25519 %s %s' % (b64e(ssh_ed25519_pub_blob()), who)})
    if t == 1:
        return C_body('ssh-rsa %s %s\nssh-ed25519 %s %s\n' % (b64e(ssh_rsa_pub_blob()), who, b64e(ssh_ed25519_pub_blob()), who), 'text/plain')
    if t == 2:
        p = rsa_parts(2048)
        return C_json({'keys': [{'kty': 'RSA', 'use': 'sig', 'alg': 'RS256', 'kid': rs(20), 'n': b64u(p['n']), 'e': 'AQAB'},
                                {'kty': 'EC', 'crv': 'P-256', 'use': 'sig', 'kid': rs(20), 'x': b64u(rb(32)), 'y': b64u(rb(32))}]})
    if t == 3:
        return C_json({'name': 'device-%d' % R.randint(1, 999), 'public_key_spki_b64': b64e(pick([ec_spki, ed25519_spki, lambda: rsa_spki()])())})
    if t == 4:
        return C_body('[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.%d/32\nEndpoint = vpn.%s.com:51820\n' % (b64e(rb(32)), R.randint(2, 250), pick(ORGS)), 'text/plain')
    return C_json({'recipients': [bech32_encode('age', rb(32)) for _ in range(R.randint(1, 3))], 'creation_rules': 'secrets/*.yaml'})


def n_checksum():
    t = R.randint(0, 3)
    if t == 0:
        return C_body(''.join('%s  %s\n' % (sha256hex(), '%s_%s_%s.tar.gz' % (pick(APPS), '1.%d.0' % R.randint(0, 9), a)) for a in ('linux_amd64', 'linux_arm64', 'darwin_arm64')), 'text/plain')
    if t == 1:
        return C_header('Content-MD5: ' + b64e(hashlib.md5(rb(20)).digest()))
    if t == 2:
        return C_header('x-goog-hash: crc32c=%s,md5=%s' % (b64e(rb(4)), b64e(hashlib.md5(rb(20)).digest())))
    return C_json({'name': 'dataset.parquet', 'md5': hashlib.md5(rb(9)).hexdigest(), 'sha1': sha1hex(), 'crc32': '%08x' % R.getrandbits(32)})


def n_version():
    t = R.randint(0, 3)
    if t == 0:
        return C_header('User-Agent: ' + pick(['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36' % (R.randint(118, 131), R.randint(1000, 6999), R.randint(10, 200)),
                                              'python-requests/2.%d.%d' % (R.randint(25, 32), R.randint(0, 3)), 'npm/10.%d.%d node/v20.%d.0 linux x64' % (R.randint(0, 8), R.randint(0, 9), R.randint(0, 15)),
                                              'Go-http-client/2.0', 'curl/8.%d.%d' % (R.randint(0, 10), R.randint(0, 2))]))
    if t == 1:
        return C_json({'dependencies': {p: '^' + v for p, v in R.sample(PKGS, 4)}, 'engines': {'node': '>=20'}}, True)
    if t == 2:
        v = '%d.%d.%d' % (R.randint(0, 3), R.randint(0, 30), R.randint(0, 20))
        return C_url('https://github.com/%s/%s/releases/download/v%s/%s_%s_linux_amd64.tar.gz' % (pick(ORGS), pick(APPS), v, pick(APPS), v))
    return C_json({'build': '%d.%d.%d+%s.g%s' % (R.randint(1, 4), R.randint(0, 20), R.randint(0, 9), iso_ts()[:10].replace('-', ''), sha1hex()[:7]), 'channel': pick(['stable', 'beta'])})


def n_time():
    t = R.randint(0, 3)
    if t == 0:
        return C_json({'created_at': iso_ts(), 'updated_at': iso_ts(), 'expires_at_epoch': epoch(), 'ts_ms': epoch() * 1000 + R.randint(0, 999)})
    if t == 1:
        return C_body(''.join('%s INFO heartbeat ok latency=%dms\n' % (log_ts(), R.randint(1, 300)) for _ in range(3)), 'text/plain')
    if t == 2:
        return C_url('https://%s/v1/metrics?since=%s&until=%s&step=60' % (org_host('api'), quote(iso_ts()[:19] + 'Z', safe=''), quote(iso_ts()[:19] + 'Z', safe='')))
    return C_header('%s: %s' % (pick(['If-Modified-Since', 'Date', 'Last-Modified']), http_date()))


def n_lorem():
    t = R.randint(0, 2)
    if t == 0:
        return C_body(lorem(R.randint(40, 120)).capitalize() + '.\n', 'text/plain')
    if t == 1:
        return C_json({'title': lorem(5).capitalize(), 'body': lorem(R.randint(30, 90)), 'draft': True})
    return C_body('# %s\n\n%s.\n\n- %s\n- %s\n' % (lorem(3).title(), lorem(50).capitalize(), lorem(6), lorem(7)), 'text/markdown')


def benign_json_doc():
    return jd({'events': [{'type': pick(['page_view', 'click', 'scroll']), 'path': pick(['/', '/pricing', '/docs']), 'ts': epoch()} for _ in range(R.randint(3, 8))],
               'app_version': '4.%d.%d' % (R.randint(0, 20), R.randint(0, 9))}, False)


def n_compressed():
    t = R.randint(0, 3)
    if t == 0:
        return C_bytes(gz(benign_json_doc()), 'application/json', 'gzip')
    if t == 1:
        return C_bytes(zl(benign_json_doc()), 'application/json', 'deflate')
    if t == 2:
        csv = 'date,region,orders,revenue\n' + ''.join('2024-%02d-%02d,%s,%d,%d.%02d\n' % (R.randint(1, 12), R.randint(1, 28), pick(REGIONS), R.randint(1, 900), R.randint(100, 99999), R.randint(0, 99)) for _ in range(8))
        return C_bytes(gz(csv), 'text/csv', 'gzip')
    return C_bytes(gz('<html><body><h1>%s</h1><p>%s</p></body></html>' % (lorem(3), lorem(60))), 'text/html', 'gzip')


CODE_SNIPPETS = [
    'import os\nimport requests\n\ntoken = os.environ["GITHUB_TOKEN"]\nresp = requests.get("https://api.github.com/user", headers={"Authorization": f"Bearer {token}"})\nresp.raise_for_status()\n',
    "const apiKey = process.env.STRIPE_SECRET_KEY;\nif (!apiKey) throw new Error('STRIPE_SECRET_KEY is not set');\nconst stripe = require('stripe')(apiKey);\n",
    'func loadConfig() (*Config, error) {\n\tpw := os.Getenv("DB_PASSWORD")\n\tif pw == "" {\n\t\treturn nil, errors.New("DB_PASSWORD missing")\n\t}\n\treturn &Config{Password: pw}, nil\n}\n',
    '# SHA-256 round constants\nK = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5]\n',
    'def mask(secret: str) -> str:\n    """Show only the last four characters of a credential."""\n    return "*" * (len(secret) - 4) + secret[-4:]\n',
    'TOKEN_RE = re.compile(r"ghp_[A-Za-z0-9]{36}")\n\ndef looks_like_token(s):\n    return bool(TOKEN_RE.search(s))\n',
    '#!/usr/bin/env bash\nset -euo pipefail\n: "${AWS_PROFILE:?set AWS_PROFILE first}"\naws s3 sync ./dist "s3://${BUCKET}/" --delete\n',
    'SELECT id, email, created_at\nFROM users\nWHERE last_login < NOW() - INTERVAL \'90 days\'\nORDER BY created_at DESC\nLIMIT 100;\n',
    'class PasswordHasher:\n    def __init__(self, rounds: int = 12):\n        self.rounds = rounds\n\n    def hash(self, password: str) -> bytes:\n        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.rounds))\n',
    'resource "aws_secretsmanager_secret" "db" {\n  name = "prod/db/password"\n}\n\ndata "aws_secretsmanager_secret_version" "db" {\n  secret_id = aws_secretsmanager_secret.db.id\n}\n',
]


def n_code():
    code = pick(CODE_SNIPPETS)
    t = R.randint(0, 3)
    if t == 0:
        return C_json(chat_body('Can you review this code?\n\n```\n' + code + '```'))
    if t == 1:
        return C_json({'description': 'snippet', 'public': True, 'files': {pick(['main.py', 'index.js', 'config.go', 'run.sh', 'query.sql']): {'content': code}}})
    if t == 2:
        return C_body(code, 'text/plain')
    return C_json({'message': 'update', 'content': b64e(code), 'branch': 'main'})


def n_trace():
    tid, sid = rhex(32), rhex(16)
    t = R.randint(0, 5)
    if t == 0:
        return C_header('traceparent: 00-%s-%s-0%d' % (tid, sid, R.randint(0, 1)))
    if t == 1:
        return C_header('X-B3-TraceId: ' + tid)
    if t == 2:
        return C_header('X-Amzn-Trace-Id: Root=1-%s-%s;Parent=%s;Sampled=1' % ('%08x' % epoch(), rhex(24), sid))
    if t == 3:
        return C_header('X-Cloud-Trace-Context: %s/%d;o=1' % (tid, R.randint(10 ** 15, 10 ** 19)))
    if t == 4:
        return C_header('sentry-trace: %s-%s-1' % (tid, sid))
    return C_json({'resourceSpans': [{'scopeSpans': [{'spans': [{'traceId': tid, 'spanId': sid, 'parentSpanId': rhex(16), 'name': 'GET /api/items',
                                                                  'startTimeUnixNano': str(epoch() * 10 ** 9), 'kind': 2}]}]}]})


def n_etag():
    t = R.randint(0, 3)
    if t == 0:
        return C_header('If-None-Match: "%s"' % rhex(32))
    if t == 1:
        return C_header('If-None-Match: W/"%s-%s"' % (format(R.randint(100, 99999), 'x'), b64e(rb(20)).rstrip('=')[:27]))
    if t == 2:
        return C_header('If-Match: "%s-%d"' % (rhex(32), R.randint(2, 40)))
    return C_json({'Bucket': '%s-assets' % pick(ORGS), 'Key': 'img/%s.png' % pick(WORDS), 'ETag': '"%s"' % rhex(32)})


def hexcolor():
    return '#' + rhex(6)


def n_css():
    t = R.randint(0, 2)
    if t == 0:
        return C_body(':root {\n  --primary: %s;\n  --accent: %s;\n  --bg: %s;\n}\n.btn { color: %s; border: 1px solid %s; }\n' % tuple(hexcolor() for _ in range(5)), 'text/css')
    if t == 1:
        return C_body('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="%s" d="M12 2L2 7l10 5 10-5-10-5z"/><circle cx="12" cy="16" r="3" fill="%s"/></svg>' % (hexcolor(), hexcolor()), 'image/svg+xml')
    return C_json({'theme': {'primary': hexcolor(), 'secondary': hexcolor(), 'palette': [hexcolor() for _ in range(6)]}})


def mac(sep=':'):
    b = bytearray(rb(6))
    b[0] &= 0xfe
    return sep.join('%02x' % x for x in b)


def n_mac():
    t = R.randint(0, 2)
    if t == 0:
        return C_json({'devices': [{'hostname': '%s-%02d' % (pick(['printer', 'ap', 'cam', 'nas']), i), 'mac': mac(), 'ip': '192.168.1.%d' % R.randint(2, 250)} for i in range(R.randint(2, 4))]})
    if t == 1:
        return C_body(''.join('%s dhcpd: DHCPACK on 10.0.0.%d to %s via eth0\n' % (log_ts(), R.randint(2, 250), mac()) for _ in range(3)), 'text/plain')
    return C_body(''.join('? (192.168.0.%d) at %s [ether] on wlan0\n' % (R.randint(2, 250), mac()) for _ in range(3)), 'text/plain')


def ipv6():
    return pick(['2a0%s:%s:%s:%s::%s' % (rhex(1), rhex(4), rhex(4), rhex(4), rhex(4)), 'fe80::%s:%s:%s:%s' % (rhex(4), rhex(4), rhex(4), rhex(4)),
                 '2001:db8:%s::%s' % (rhex(4), rhex(2))])


def n_ipv6():
    t = R.randint(0, 2)
    if t == 0:
        return C_body(''.join('%s - - [%s] "GET /%s HTTP/2" 200 %d\n' % (ipv6(), http_date(), pick(['', 'health', 'api/items']), R.randint(100, 9999)) for _ in range(3)), 'text/plain')
    if t == 1:
        return C_json({'allow': [ipv6() + '/64' for _ in range(3)], 'deny': []})
    return C_url('http://[%s]:8080/health' % pick(['2001:db8::%s' % rhex(3), 'fd00::%s:%s' % (rhex(4), rhex(2))]))


def n_numeric():
    t = R.randint(0, 3)
    if t == 0:
        return C_json({'order_number': non_luhn_digits(16, pick('45')), 'tracking_number': '1Z' + rs(16, UP + DG), 'invoice': 'INV-2024-%06d' % R.randint(1, 999999)})
    if t == 1:
        return C_body('order,placed,total\n' + ''.join('%s,%s,%d.%02d\n' % (non_luhn_digits(pick([13, 15, 16, 19]), pick('3456')), iso_ts()[:10], R.randint(5, 900), R.randint(0, 99)) for _ in range(4)), 'text/csv')
    if t == 2:
        return C_json({'phone': '+49 15%d %s' % (R.randint(1, 9), rs(7, DG)), 'customer_no': non_luhn_digits(14), 'postcode': rs(5, DG)})
    return C_url('https://%s/track?shipment=%s' % (org_host('www'), non_luhn_digits(18, pick('45'))))


def n_digest():
    img = '%s/%s/%s@sha256:%s' % (pick(['ghcr.io', 'docker.io', 'quay.io']), pick(ORGS), pick(APPS), sha256hex())
    t = R.randint(0, 3)
    if t == 0:
        return C_body('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: app\n          image: %s\n' % (pick(APPS), img), 'application/yaml')
    if t == 1:
        return C_url('https://registry-1.docker.io/v2/library/%s/manifests/sha256:%s' % (pick(['nginx', 'redis', 'postgres', 'alpine']), sha256hex()))
    if t == 2:
        return C_header('Docker-Content-Digest: sha256:' + sha256hex())
    return C_json({'image': img, 'platform': 'linux/amd64', 'scanned': iso_ts()})


def n_integrity():
    t = R.randint(0, 3)
    if t == 0:
        p, v = pick(PKGS)
        return C_json({'packages': {'node_modules/' + p: {'version': v, 'resolved': 'https://registry.npmjs.org/%s/-/%s-%s.tgz' % (p, p, v),
                                                          'integrity': 'sha512-' + b64e(hashlib.sha512(rb(9)).digest())}}}, True)
    if t == 1:
        return C_body(''.join('%s==%s \\\n    --hash=sha256:%s\n' % (n, v, sha256hex()) for n, v in R.sample([('requests', '2.32.3'), ('urllib3', '2.2.2'), ('idna', '3.7'), ('certifi', '2024.7.4')], 2)), 'text/plain')
    if t == 2:
        return C_body('github.com/%s/%s v1.%d.0 h1:%s\ngithub.com/%s/%s v1.%d.0/go.mod h1:%s\n' % (
            pick(ORGS), pick(WORDS), R.randint(0, 9), b64e(rb(32)), pick(ORGS), pick(WORDS), R.randint(0, 9), b64e(rb(32))), 'text/plain')
    return C_body('[[package]]\nname = "%s"\nversion = "0.%d.%d"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"\n' % (pick(['serde', 'tokio', 'rand', 'regex']), R.randint(1, 9), R.randint(0, 30), sha256hex()), 'text/plain')


def n_oauth():
    state, nonce = rs(32, T), rs(24, T)
    chal = b64u(hashlib.sha256(rb(32)).digest())
    redir = quote('https://%s/callback' % org_host('app'), safe='')
    t = R.randint(0, 2)
    if t == 0:
        return C_url('https://accounts.google.com/o/oauth2/v2/auth?client_id=%s-%s.apps.googleusercontent.com&redirect_uri=%s&response_type=code&scope=openid%%20email&state=%s&code_challenge=%s&code_challenge_method=S256&nonce=%s'
                     % (rs(12, DG), rs(32, LOWNUM), redir, state, chal, nonce))
    if t == 1:
        return C_url('https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=%s&response_type=code&redirect_uri=%s&response_mode=query&scope=User.Read&state=%s&code_challenge=%s&code_challenge_method=S256'
                     % (uuid4(), redir, state, chal))
    return C_url('https://github.com/login/oauth/authorize?client_id=Iv1.%s&redirect_uri=%s&state=%s&scope=read%%3Auser' % (rhex(16), redir, state))


def n_objids():
    t = R.randint(0, 4)
    if t == 0:
        return C_json({'customer': 'cus_' + rs(14), 'charge': 'ch_3' + rs(23), 'payment_intent': 'pi_3' + rs(23), 'event': 'evt_1' + rs(23), 'status': 'succeeded'})
    if t == 1:
        acct = rs(12, DG)
        return C_json({'InstanceId': 'i-0' + rhex(16), 'VpcId': 'vpc-0' + rhex(16), 'SecurityGroups': ['sg-0' + rhex(16)], 'ImageId': 'ami-0' + rhex(16),
                       'IamInstanceProfile': {'Arn': 'arn:aws:iam::%s:instance-profile/%s' % (acct, pick(APPS))}})
    if t == 2:
        return C_json({'channel': 'C0' + rs(9, UP + DG), 'user': 'U0' + rs(9, UP + DG), 'ts': '%d.%06d' % (epoch(), R.randint(0, 999999)), 'text': lorem(8)})
    if t == 3:
        return C_url('https://www.youtube.com/watch?v=%s&t=%ds' % (rs(11, T), R.randint(1, 900)))
    return C_url('https://x.com/%s/status/%d' % (pick(WORDS), R.randint(10 ** 18, 2 * 10 ** 18)))


def n_pwpolicy():
    t = R.randint(0, 4)
    if t == 0:
        return C_json({'password_min_length': pick([12, 14, 16]), 'password_require_symbols': True, 'password_max_age_days': pick([90, 180, 365]),
                       'password_history': 5, 'lockout_threshold': 5})
    if t == 1:
        return C_body('<form method="post" action="/login">\n  <input type="email" name="email" required>\n  <input type="password" name="password" autocomplete="current-password" required>\n  <button>Sign in</button>\n</form>\n', 'text/html')
    if t == 2:
        return C_json({'email': email_of(*person()), 'action': 'password_reset_requested'})
    if t == 3:
        return C_body('Your password must be at least %d characters long and must not match any of your last 5 passwords. Passwords expire every %d days.\n' % (pick([10, 12]), pick([90, 180])), 'text/plain')
    return C_json({'user': user_name(), 'password_last_changed': iso_ts(), 'password_expired': False, 'mfa_enabled': True})


def n_html():
    p, v = pick(PKGS)
    return C_body('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta property="og:title" content="%s">\n'
                  '<link rel="stylesheet" href="/assets/app-%s.css">\n<script src="https://cdn.jsdelivr.net/npm/%s@%s" integrity="sha384-%s" crossorigin="anonymous"></script>\n'
                  '</head>\n<body><main><h1>%s</h1><p>%s</p></main></body>\n</html>\n' % (lorem(4).title(), rhex(8), p, v, b64e(hashlib.sha384(rb(9)).digest()), lorem(3).title(), lorem(40)), 'text/html')


def n_numdata():
    t = R.randint(0, 1)
    if t == 0:
        return C_body('ts,sensor,temp_c,humidity\n' + ''.join('%d,%s,%.2f,%.1f\n' % (epoch(), pick(['s1', 's2', 's3']), R.uniform(-5, 35), R.uniform(20, 90)) for _ in range(8)), 'text/csv')
    return C_json({'series': [{'metric': pick(['cpu', 'mem', 'p99_ms']), 'points': [[epoch(), round(R.uniform(0, 100), 3)] for _ in range(6)]}]})


def n_search():
    q = ' '.join(R.sample(['how to', 'rotate', 'python', 'docker', 'error', 'fix', 'kubernetes', 'ingress', 'timeout', 'best', 'pasta', 'recipe', 'weather', 'tomorrow', 'oslo'], R.randint(3, 6)))
    return C_url(pick(['https://www.google.com/search?q=%s&hl=en', 'https://duckduckgo.com/?q=%s&ia=web', 'https://stackoverflow.com/search?q=%s', 'https://www.bing.com/search?q=%s&form=QBLH']) % quote_plus(q))


def n_b64text():
    text = pick(['Meeting notes: %s.' % lorem(20), 'Agenda\n1. %s\n2. %s\n' % (lorem(5), lorem(6)), 'Thanks for your order! %s' % lorem(12)])
    t = R.randint(0, 2)
    if t == 0:
        return C_json({'attachments': [{'filename': 'notes.txt', 'content_type': 'text/plain', 'data': b64e(text)}]})
    if t == 1:
        return C_body(('From: %s\r\nTo: %s\r\nSubject: notes\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n'
                       % (email_of(*person()), email_of(*person()), wrap(b64e(text), 76, '\r\n'))), 'message/rfc822')
    return C_json({'file': 'data:text/plain;base64,' + b64e(text)})


def n_api():
    t = R.randint(0, 4)
    if t == 0:
        return C_json({'title': lorem(4).capitalize(), 'due': iso_ts()[:10], 'priority': pick(['low', 'high']), 'tags': R.sample(WORDS, 2)})
    if t == 1:
        return C_url('https://api.open-meteo.com/v1/forecast?latitude=%.2f&longitude=%.2f&hourly=temperature_2m' % (R.uniform(-60, 70), R.uniform(-170, 170)))
    if t == 2:
        return C_json(chat_body(pick(['Write a haiku about %s.', 'What is the capital of %s?', 'Explain %s in two sentences.']) % pick(['autumn', 'Norway', 'TCP slow start', 'recursion'])))
    if t == 3:
        return C_body(form([('q', pick(WORDS)), ('page', str(R.randint(1, 9))), ('sort', 'relevance')]), 'application/x-www-form-urlencoded')
    return C_json({'query': 'query { viewer { login repositories(first: 5) { nodes { name stargazerCount } } } }'})


def n_dkim():
    dom = pick(ORGS) + '.com'
    f, l = person()
    return C_body(('DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=%s; t=%d;\r\n h=from:to:subject:date:message-id;\r\n bh=%s;\r\n b=%s\r\n'
                   'ARC-Seal: i=1; a=rsa-sha256; t=%d; cv=none; d=%s; s=arc-2024;\r\n b=%s\r\n'
                   'From: %s %s <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@mail.%s>\r\nDate: %s\r\n\r\n%s\r\n') % (
        dom, pick(['google', 'selector1', 's2024']), epoch(), b64e(hashlib.sha256(rb(9)).digest()), wrap(b64e(rb(256)), 70, '\r\n  '),
        epoch(), dom, wrap(b64e(rb(256)), 70, '\r\n  '), f, l, email_of(f, l, dom), email_of(*person()), lorem(4).capitalize(), rs(20, LOWNUM), dom,
        http_date().replace('GMT', '+0000'), lorem(40)), 'message/rfc822')


NEG_CATEGORIES = [
    ('uuid-identifiers', 11, n_uuid), ('content-hash', 11, n_hash), ('git-commit-sha', 11, n_git), ('hashed-asset-path', 10, n_asset),
    ('cdn-url', 10, n_cdn), ('pagination-cursor', 11, n_cursor), ('cloud-document-id', 10, n_docid), ('base64-image', 11, n_image),
    ('tracking-params', 11, n_tracking), ('benign-hostname', 11, n_hostname), ('cloud-service-hostname', 11, n_cloudhost),
    ('token-documentation', 11, n_tokdoc), ('placeholder-credentials', 12, n_placeholder), ('redacted-values', 11, n_redacted),
    ('public-key', 11, n_pubkey), ('checksums', 10, n_checksum), ('version-strings', 10, n_version), ('timestamps', 10, n_time),
    ('lorem-text', 10, n_lorem), ('compressed-benign-body', 10, n_compressed), ('ordinary-code', 11, n_code),
    ('trace-context-ids', 10, n_trace), ('etag-headers', 10, n_etag), ('css-hex-colors', 10, n_css), ('mac-addresses', 10, n_mac),
    ('ipv6-addresses', 10, n_ipv6), ('non-luhn-numeric-ids', 10, n_numeric), ('docker-image-digest', 10, n_digest),
    ('package-integrity-hash', 10, n_integrity), ('oauth-authorize-url', 10, n_oauth), ('public-object-ids', 10, n_objids),
    ('password-policy-text', 10, n_pwpolicy), ('html-page', 10, n_html), ('numeric-telemetry', 10, n_numdata),
    ('search-query-url', 10, n_search), ('base64-benign-text', 10, n_b64text), ('ordinary-api-payload', 10, n_api),
    ('email-dkim-headers', 10, n_dkim),
]


# ----------------------------------------------------------------------------
# section 5: build, write, README, checker
# ----------------------------------------------------------------------------
ARMOUR_A = '-' * 5 + 'BEGIN'
ARMOUR_B = 'PRIVATE' + ' KEY' + '-' * 5
KEBAB = re.compile(r'^[a-z0-9]+(?:-[a-z0-9]+)*$')
HDR_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")
URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")
LABEL_RE = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
FIELDS = ['id', 'label', 'expect', 'where', 'content_type', 'content_encoding', 'text', 'base64']
WHERES = ['body', 'url', 'header', 'hostname']


def build(classes, label, seen):
    cases = []
    for name, n, gen in classes:
        made = tries = 0
        while made < n:
            tries += 1
            if tries > n * 60:
                raise SystemExit('FATAL: cannot produce %d unique cases for %s' % (n, name))
            c = gen()
            k = (c['where'], c.get('text') or c.get('base64'))
            if k in seen:
                continue
            seen.add(k)
            c['expect'] = name
            cases.append(c)
            made += 1
    R.shuffle(cases)
    out = []
    for i, c in enumerate(cases, 1):
        d = {'id': 't12-%s-%04d' % ('pos' if label == 'positive' else 'neg', i), 'label': label, 'expect': c['expect'], 'where': c['where']}
        for k in FIELDS[4:]:
            if k in c:
                d[k] = c[k]
        out.append(d)
    return out


def payload_bytes(obj):
    if 'text' in obj:
        return obj['text'].encode('utf-8')
    raw = base64.b64decode(obj['base64'], validate=True)
    enc = obj.get('content_encoding')
    if enc == 'gzip':
        raw = gzip.decompress(raw)
    elif enc == 'deflate':
        raw = zlib.decompress(raw)
    return raw


def expanded_text(obj):
    """Payload text plus decodings of embedded base64 runs (for content sanity checks)."""
    t = payload_bytes(obj).decode('utf-8', 'replace')
    parts = [t, unquote_plus(t)]
    for m in re.finditer(r'[A-Za-z0-9+/]{20,}={0,2}', t):
        s = m.group(0)
        try:
            d = base64.b64decode(s + '=' * (-len(s) % 4))
        except Exception:
            continue
        if d[:2] == b'\x1f\x8b':
            try:
                d = gzip.decompress(d)
            except Exception:
                pass
        parts.append(d.decode('utf-8', 'replace'))
    return '\n'.join(parts)


def card_candidates(text):
    for m in re.finditer(r'(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])', text):
        yield re.sub(r'[ -]', '', m.group(0))


def is_card_like(d):
    return 13 <= len(d) <= 19 and re.match(r'^(4|5[1-5]|2[2-7]|3[47]|6011)', d) and luhn_ok(d)


def host_ok(h):
    if not h or len(h) > 253:
        return False
    labels = h.split('.')
    return len(labels) >= 2 and all(LABEL_RE.match(x) for x in labels)


def check_case(obj, label, idx, errs):
    where = obj.get('where')
    tag = '%s line %d (%s)' % (label, idx, obj.get('id'))
    bad = [k for k in obj if k not in FIELDS]
    if bad:
        errs.append('%s: unknown fields %s' % (tag, bad))
    if list(obj)[:4] != FIELDS[:4]:
        errs.append('%s: first fields must be id,label,expect,where' % tag)
    want = 't12-%s-%04d' % ('pos' if label == 'positive' else 'neg', idx)
    if obj.get('id') != want:
        errs.append('%s: id should be %s' % (tag, want))
    if obj.get('label') != label:
        errs.append('%s: label mismatch' % tag)
    if not isinstance(obj.get('expect'), str) or not KEBAB.match(obj['expect']):
        errs.append('%s: expect not kebab-case' % tag)
    if where not in WHERES:
        errs.append('%s: bad where %r' % (tag, where))
        return
    if ('text' in obj) == ('base64' in obj):
        errs.append('%s: need exactly one of text/base64' % tag)
        return
    if 'content_type' in obj:
        ct = obj['content_type']
        if where != 'body' or not isinstance(ct, str) or not re.match(r'^[\x21-\x7e][\x20-\x7e]*$', ct):
            errs.append('%s: content_type only for bodies, ASCII' % tag)
    if 'content_encoding' in obj:
        if where != 'body' or obj['content_encoding'] not in ('gzip', 'deflate') or 'base64' not in obj:
            errs.append('%s: content_encoding must be gzip|deflate with base64 body' % tag)
    if 'base64' in obj:
        if where != 'body':
            errs.append('%s: base64 only for bodies' % tag)
        try:
            raw = base64.b64decode(obj['base64'], validate=True)
            if base64.b64encode(raw).decode() != obj['base64']:
                errs.append('%s: base64 not canonical standard base64' % tag)
            payload_bytes(obj)
        except Exception as e:
            errs.append('%s: base64/compression invalid: %s' % (tag, e))
            return
    else:
        if not isinstance(obj['text'], str) or not obj['text']:
            errs.append('%s: empty text' % tag)
            return
        text = obj['text']
        if where == 'header':
            if not HDR_RE.match(text):
                errs.append('%s: header not one ASCII "Name: value" line' % tag)
        elif where == 'url':
            if not URL_CHARS.match(text) or re.search(r'%(?![0-9A-Fa-f]{2})', text):
                errs.append('%s: URL has invalid characters or percent escapes' % tag)
            else:
                u = urlsplit(text)
                h = u.hostname or ''
                ipv6 = u.netloc.split('@')[-1].startswith('[')
                ipv4 = re.fullmatch(r'\d{1,3}(\.\d{1,3}){3}', h)
                if u.scheme not in ('http', 'https') or not u.netloc or not (ipv6 or ipv4 or host_ok(h)):
                    errs.append('%s: URL not absolute http(s) with valid host' % tag)
        elif where == 'hostname':
            if not host_ok(text):
                errs.append('%s: hostname not LDH' % tag)
    try:
        body = payload_bytes(obj).decode('utf-8', 'replace')
    except Exception:
        body = ''
    if ARMOUR_A in body or ARMOUR_B in body:
        errs.append('%s: contains PEM armour' % tag)


def sha256_file(p):
    with open(p, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def load(p):
    with open(p, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def check():
    errs = []
    for p in (POS_FILE, NEG_FILE, README):
        if not os.path.exists(p):
            raise SystemExit('CHECK FAILED: missing %s' % p)
    pos, neg = load(POS_FILE), load(NEG_FILE)
    seen = {}
    for label, rows in (('positive', pos), ('negative', neg)):
        for i, o in enumerate(rows, 1):
            check_case(o, label, i, errs)
            k = (o.get('where'), o.get('text') or o.get('base64'))
            if k in seen:
                errs.append('%s: duplicate content of %s' % (o.get('id'), seen[k]))
            seen[k] = o.get('id')
    if errs:
        raise SystemExit('CHECK FAILED (%d problems):\n  ' % len(errs) + '\n  '.join(errs[:60]))
    pc, nc = {}, {}
    for o in pos:
        pc[o['expect']] = pc.get(o['expect'], 0) + 1
    for o in neg:
        nc[o['expect']] = nc.get(o['expect'], 0) + 1
    if not 380 <= len(pos) <= 430:
        errs.append('positive count %d outside 380..430' % len(pos))
    if not 50 <= len(pc) <= 75:
        errs.append('positive class count %d outside 50..75' % len(pc))
    if not 370 <= len(neg) <= 410:
        errs.append('negative count %d outside 370..410' % len(neg))
    if not 30 <= len(nc) <= 40:
        errs.append('negative category count %d outside 30..40' % len(nc))
    for c in CONTEXT_CLASSES:
        if pc.get(c, 0) < 10:
            errs.append('context-dependent class %s has %d < 10 cases' % (c, pc.get(c, 0)))
    for c, n in pc.items():
        if n < 3:
            errs.append('class %s has only %d cases' % (c, n))
    if set(pc) & set(nc):
        errs.append('class/category names overlap: %s' % sorted(set(pc) & set(nc)))
    # content sanity: payment data really present in positives, absent from negatives
    for o in pos:
        if o['expect'] == 'credit-card-number' and not any(is_card_like(d) for d in card_candidates(expanded_text(o))):
            errs.append('%s: no Luhn-valid card number found' % o['id'])
        if o['expect'] == 'iban':
            txt = expanded_text(o)
            if not any(iban_ok(m.group(0)) for m in re.finditer(r'[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}', txt)):
                errs.append('%s: no valid IBAN found' % o['id'])
    for o in neg:
        txt = expanded_text(o)
        if any(is_card_like(d) for d in card_candidates(txt)):
            errs.append('%s: negative contains a Luhn-valid card-like number' % o['id'])
    with open(os.path.abspath(__file__), encoding='utf-8') as f:
        src = f.read()
    if (ARMOUR_A + ' ') in src or ARMOUR_B in src:
        errs.append('generator source contains PEM armour')
    with open(README, encoding='utf-8') as f:
        readme = f.read()
    if 'HELD OUT' not in readme:
        errs.append('README lacks HELD OUT statement')
    for p in (POS_FILE, NEG_FILE):
        if sha256_file(p) not in readme:
            errs.append('README sha256 for %s is stale' % os.path.basename(p))
        n = sum(1 for _ in open(p, encoding='utf-8'))
        if '| %s | %d |' % (os.path.basename(p), n) not in readme:
            errs.append('README line count for %s is stale' % os.path.basename(p))
    if errs:
        raise SystemExit('CHECK FAILED (%d problems):\n  ' % len(errs) + '\n  '.join(errs[:60]))
    print('check OK: %d positives / %d classes, %d negatives / %d categories' % (len(pos), len(pc), len(neg), len(nc)))


def write_jsonl(p, rows):
    with open(p, 'w', encoding='utf-8', newline='\n') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')


def write_readme(pos, neg):
    def counts(rows):
        d = {}
        for o in rows:
            d[o['expect']] = d.get(o['expect'], 0) + 1
        return d
    pc, nc = counts(pos), counts(neg)
    L = ['# Split 12: held-out egress secret-detection corpus', '',
         '**HELD OUT.** This corpus exists for a single final measurement of the egress secret-detection engine.',
         'Never tune rules, thresholds, allowlists or models on it; never copy its cases into development or',
         'regression corpora; do not look at individual cases to debug. Report results by class / category only',
         '(per-class recall on positives, per-category false-positive rate on negatives), never per case.', '',
         'It was written independently, from public descriptions of credential formats and exfiltration',
         'techniques only, without reading the engine\'s rules or any other corpus.', '',
         '## Files', '', '| file | lines | sha256 |', '|---|---|---|']
    for p in (POS_FILE, NEG_FILE, os.path.abspath(__file__)):
        L.append('| %s | %d | `%s` |' % (os.path.basename(p), sum(1 for _ in open(p, encoding='utf-8')), sha256_file(p)))
    L += ['', '## Regenerate', '', '```sh', 'cd /work/split12 && nice python3 generate.py          # regenerate + check',
          'cd /work/split12 && nice python3 generate.py --check  # check only', '```', '',
          'Seed: `%d`. Python 3 standard library only; a single `random.Random(SEED)` drives every choice and gzip' % SEED,
          'members use `mtime=0`, so regeneration is byte-identical. The built-in checker fails loudly (non-zero exit).', '',
          '## Line format', '', 'JSON Lines, one case per line:', '',
          '- `id`: `t12-pos-NNNN` / `t12-neg-NNNN`, sequential from 0001 (cases are shuffled within each file).',
          '- `label`: `positive` | `negative`.',
          '- `expect`: positives: the credential / data class; negatives: the benign category (kebab-case).',
          '- `where`: `body` | `url` | `header` | `hostname` (where the data sits in the outgoing request).',
          '- `content_type` (optional, bodies only).',
          '- `content_encoding` (optional, `gzip` or `deflate` = zlib-wrapped; only together with `base64`).',
          '- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64).',
          '- a `header` case is one ASCII `Name: value` line; a `url` case is an absolute http(s) ASCII URL with valid',
          '  percent escapes; a `hostname` case is a bare LDH hostname (labels <= 63, total <= 253).', '',
          'Key material never appears with PEM armour; it is carried as base64/hex DER, JWK, XML key values,',
          'OpenSSH/PuTTY key bodies and the like.', '',
          '## Split by `where`', '', '| where | positives | negatives |', '|---|---|---|']
    for w in WHERES:
        L.append('| %s | %d | %d |' % (w, sum(o['where'] == w for o in pos), sum(o['where'] == w for o in neg)))
    L.append('| total | %d | %d |' % (len(pos), len(neg)))
    L += ['', '## Positive classes (%d classes, %d cases)' % (len(pc), len(pos)), '', '| class | cases |', '|---|---|']
    L += ['| %s | %d |' % (c, pc[c]) for c in sorted(pc)]
    L += ['', '## Negative categories (%d categories, %d cases)' % (len(nc), len(neg)), '', '| category | cases |', '|---|---|']
    L += ['| %s | %d |' % (c, nc[c]) for c in sorted(nc)]
    with open(README, 'w', encoding='utf-8', newline='\n') as f:
        f.write('\n'.join(L) + '\n')


def generate():
    seen = set()
    pos = build(POS_CLASSES, 'positive', seen)
    neg = build(NEG_CATEGORIES, 'negative', seen)
    secrets = sorted(set(s for s in ALL_SECRETS if len(s) >= 10))
    for o in neg:
        txt = expanded_text(o)
        for s in secrets:
            if s in txt:
                raise SystemExit('FATAL: negative %s contains positive material' % o['id'])
    write_jsonl(POS_FILE, pos)
    write_jsonl(NEG_FILE, neg)
    write_readme(pos, neg)


if __name__ == '__main__':
    if '--check' not in sys.argv[1:]:
        generate()
    check()
