#!/usr/bin/env python3
"""Writes the labelled detection corpus: positives.jsonl and negatives.jsonl.

Deterministic (fixed seed, gzip mtime 0). Positives are built here from the published token
formats (checksums computed with Python's own zlib/hashlib), never by calling the Rust code
under test. Brotli and zstd samples need the `brotli` and `zstandard` Python packages; without
them those samples are left out and the script says so.

Each line: {"id", "label": "positive"|"negative", "expect": detector id or null, "where":
"body"|"url"|"header"|"host", "header": name, "content_encoding", "content_type", and the
input as "text" or, when it is not UTF-8, "base64"}.

Private keys, wallet keys and seed phrases (and service-account JSON, which embeds a private
key) are never committed: `--keys DIR` writes those positives, freshly random, to DIR/keys.jsonl
when the corpus is evaluated (`corpus::load` runs it), and the committed positives.jsonl
leaves them out.

Run from the repository root: python3 shared/corpus/generate.py
"""

import base64
import gzip
import hashlib
import io
import json
import os
import random
import string
import sys
import urllib.parse
import zlib

try:
    import brotli
except ImportError:
    brotli = None
try:
    import zstandard
except ImportError:
    zstandard = None

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(20261127)
ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
URLSAFE = ALNUM + "-_"


def rand(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b62(n, width=6):
    out = ""
    while n:
        out = B62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def crc_token(prefix):
    body = rand(ALNUM, 30)
    return prefix + body + b62(zlib.crc32(body.encode()))


def b58check(payload):
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        out = B58[n % 58] + out
        n //= 58
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def luhn_complete(prefix, length):
    digits = prefix + "".join(str(R.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(digits + "0")):
        v = int(d)
        if i % 2 == 1:
            v *= 2
            v -= 9 if v > 9 else 0
        total += v
    return digits + str((10 - total % 10) % 10)


WORDS = [w.strip() for w in open(os.path.join(HERE, "..", "src", "detect", "rules", "bip39-english.txt"))]


def seed_phrase(words):
    ent_bits = words * 11 * 32 // 33
    ent = bytes(R.randrange(256) for _ in range(ent_bits // 8))
    check = bin(hashlib.sha256(ent).digest()[0])[2:].zfill(8)[: words * 11 - ent_bits]
    bits = bin(int.from_bytes(ent, "big"))[2:].zfill(ent_bits) + check
    return " ".join(WORDS[int(bits[i : i + 11], 2)] for i in range(0, len(bits), 11))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem(kind, lines=8):
    body = base64.b64encode(bytes(R.randrange(256) for _ in range(48 * lines))).decode()
    wrapped = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    label = f"{kind} PRIVATE KEY" if kind else "PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"


def openssh_key():
    raw = b"openssh-key-v1\0" + bytes(R.randrange(256) for _ in range(300))
    body = base64.b64encode(raw).decode()
    wrapped = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    label = "OPENSSH PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"


def jwt():
    header = b64url(json.dumps({"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    claims = {"sub": f"user-{R.randrange(10**6)}", "exp": 1900000000 + R.randrange(10**6), "scope": "repo"}
    payload = b64url(json.dumps(claims).encode())
    sig = b64url(bytes(R.randrange(256) for _ in range(32)))
    return f"{header}.{payload}.{sig}"


def service_account():
    return json.dumps(
        {
            "type": "service_account",
            "project_id": f"proj-{rand(string.ascii_lowercase, 6)}",
            "private_key_id": rand("0123456789abcdef", 40),
            "private_key": pem(""),
            "client_email": "svc@proj.iam.gserviceaccount.com",
        },
        indent=2,
    )


def password():
    return rand(ALNUM, 10) + R.choice("!*~") + rand(ALNUM, 5)


# Secrets by detector; each call makes a fresh value.
SECRETS = {
    "aws-access-key": [
        lambda: "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        lambda: "aws_secret_access_key = " + rand(ALNUM + "/+", 40),
    ],
    "github-token": [
        lambda: crc_token("ghp_"),
        lambda: crc_token("gho_"),
        lambda: crc_token("ghs_"),
        lambda: "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59),
    ],
    "gitlab-token": [lambda: "glpat-" + rand(URLSAFE, 20)],
    "slack-token": [lambda: f"xoxb-{R.randrange(10**10, 10**12)}-{R.randrange(10**10, 10**12)}-{rand(ALNUM, 24)}"],
    "slack-webhook": [
        lambda: f"https://hooks.slack.com/services/T{rand(string.ascii_uppercase + string.digits, 8)}/B{rand(string.ascii_uppercase + string.digits, 10)}/{rand(ALNUM, 24)}"
    ],
    "stripe-key": [lambda: "sk_live_" + rand(ALNUM, R.choice([24, 34, 99])), lambda: "rk_live_" + rand(ALNUM, 34)],
    "openai-key": [
        lambda: "sk-proj-" + rand(URLSAFE, 156),
        lambda: "sk-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20),
    ],
    "anthropic-key": [lambda: "sk-ant-api03-" + rand(URLSAFE, 93) + "AA"],
    "google-api-key": [lambda: "AIza" + rand(URLSAFE, 35)],
    "gcp-service-account": [service_account],
    "azure-storage": [
        lambda: "DefaultEndpointsProtocol=https;AccountName=acct"
        + rand(string.ascii_lowercase, 6)
        + ";AccountKey="
        + base64.b64encode(bytes(R.randrange(256) for _ in range(64))).decode()
        + ";EndpointSuffix=core.windows.net"
    ],
    "twilio-key": [lambda: "SK" + rand("0123456789abcdef", 32)],
    "sendgrid-key": [lambda: "SG." + rand(URLSAFE, 22) + "." + rand(URLSAFE, 43)],
    "npm-token": [lambda: crc_token("npm_")],
    "pypi-token": [lambda: "pypi-AgEIcHlwaS5vcmc" + rand(URLSAFE, 150)],
    "dockerhub-token": [lambda: "dckr_pat_" + rand(URLSAFE, 27)],
    "huggingface-token": [lambda: "hf_" + rand(string.ascii_letters, 34)],
    "jwt": [jwt],
    "private-key": [lambda: pem("RSA"), lambda: pem("EC", 3), openssh_key],
    "database-url": [
        lambda: f"postgres://app:{password()}@db-{R.randrange(99)}.internal:5432/app",
        lambda: f"mongodb+srv://svc:{password()}@cluster0.{rand(string.ascii_lowercase, 5)}.mongodb.net/prod",
        lambda: f"mysql://root:{password()}@10.0.0.{R.randrange(255)}/shop",
    ],
    "url-credentials": [lambda: f"https://deploy:{password()}@git.{rand(string.ascii_lowercase, 6)}.org/repo.git"],
    "generic-secret": [
        lambda: "api_key=" + rand(ALNUM, 32),
        lambda: '"client_secret": "' + rand(ALNUM + "-_", 40) + '"',
        lambda: "SERVICE_TOKEN=" + rand("0123456789abcdef", 40),
    ],
    "crypto-private-key": [
        lambda: b58check(b"\x80" + bytes(R.randrange(256) for _ in range(32)) + b"\x01"),
        lambda: b58check(bytes.fromhex("0488ADE4") + bytes(9) + bytes(R.randrange(256) for _ in range(32)) + b"\0" + bytes(R.randrange(256) for _ in range(32))),
    ],
    "seed-phrase": [lambda: seed_phrase(12), lambda: seed_phrase(24)],
    "payment-card": [
        lambda: luhn_complete(R.choice(["4539", "4716", "4929"]), 16),
        lambda: luhn_complete(R.choice(["51", "53", "55"]), 16),
        lambda: luhn_complete(R.choice(["34", "37"]), 15),
    ],
}

def broken_crc(prefix):
    token = crc_token(prefix)
    return token[:-1] + ("A" if token[-1] != "A" else "B")


# Values with an unmistakable prefix whose checksum fails, that look fake, or whose length is
# off by a few characters: secrets all the same (issue 11). Drawn from their own random
# stream, so the samples above stay as they were.
OFF_FORMAT = {
    "github-token": [lambda: broken_crc("ghp_"), lambda: "ghp_" + rand(ALNUM, 39), lambda: "gho_" + "a1b2" * 9],
    "npm-token": [lambda: broken_crc("npm_"), lambda: "npm_" + rand(ALNUM, 34)],
    "aws-access-key": [lambda: "AKIA" + rand(string.ascii_uppercase + string.digits, 17), lambda: "ASIA" + rand(string.ascii_uppercase, 15)],
    "stripe-key": [lambda: "sk_live_" + "0123456789" * 3],
    "slack-token": [lambda: "xoxp-" + rand(ALNUM + "-", 50)],
    "sendgrid-key": [lambda: "SG." + rand(URLSAFE, 20) + "." + rand(URLSAFE, 40)],
    "huggingface-token": [lambda: "hf_" + rand(string.ascii_lowercase, 34), lambda: "hf_" + rand(ALNUM, 36)],
    "gitlab-token": [lambda: "glpat-" + rand(URLSAFE, 26)],
    "anthropic-key": [lambda: "sk-ant-api03-" + rand(URLSAFE, 90)],
    "google-api-key": [lambda: "AIza" + rand(URLSAFE, 37)],
    "vendor-token": [
        lambda: "shpat_" + rand("0123456789abcdef", 32),
        lambda: "dop_v1_" + rand("0123456789abcdef", 64),
        lambda: "hvs." + rand(URLSAFE, 90),
        lambda: "sk-or-v1-" + rand("0123456789abcdef", 64),
        lambda: "gsk_" + rand(ALNUM, 52),
        lambda: "lin_api_" + rand(ALNUM, 40),
    ],
}


def iban(country, length):
    bban = rand(string.digits, length - 4)
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def bech32_address(hrp, version, program):
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    acc, bits, data = 0, 0, [version]
    for byte in program:
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6:
        top, chk = chk >> 25, ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    chk ^= 1 if version == 0 else 0x2BC830A3
    return hrp + "1" + "".join(charset[d] for d in data + [(chk >> 5 * (5 - i)) & 31 for i in range(6)])


# Financial identifiers (optional detectors), from their published formats.
FINANCIAL = {
    "iban": [lambda: iban("DE", 22), lambda: iban("GB", 22).replace("GB", "GB", 1), lambda: iban("FR", 27), lambda: iban("NL", 18)],
    "bitcoin-address": [
        lambda: b58check(b"\x00" + bytes(R.randrange(256) for _ in range(20))),
        lambda: b58check(b"\x05" + bytes(R.randrange(256) for _ in range(20))),
        lambda: bech32_address("bc", 0, bytes(R.randrange(256) for _ in range(20))),
        lambda: bech32_address("bc", 1, bytes(R.randrange(256) for _ in range(32))),
    ],
    "ethereum-address": [lambda: "0x" + rand("0123456789abcdef", 40)],
}


def financial_positives():
    global R
    saved, R = R, random.Random(20261202)
    try:
        return [p for detector, makers in FINANCIAL.items() for make in makers for p in positives_for(detector, make())]
    finally:
        R = saved


def symbol_password():
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%^*@+"]
    chars = [R.choice(c) for c in classes] + [R.choice("".join(classes)) for _ in range(R.randrange(8, 16))]
    R.shuffle(chars)
    return "".join(chars)


# Passwords with symbols under a credential-named key (they form no base64-like run).
PUNCTUATED = {
    "generic-secret": [
        lambda: "DB_PASSWORD=" + symbol_password(),
        lambda: "smtp_pass: " + symbol_password(),
        lambda: "<password>" + symbol_password() + "</password>",
    ],
}


def punctuated_positives():
    global R
    saved, R = R, random.Random(20261204)
    try:
        return [p for detector, makers in PUNCTUATED.items() for make in makers for p in positives_for(detector, make())]
    finally:
        R = saved


def off_format_positives():
    global R
    saved, R = R, random.Random(20261201)
    try:
        return [p for detector, makers in OFF_FORMAT.items() for make in makers for p in positives_for(detector, make())]
    finally:
        R = saved


HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "s": "ѕ", "i": "і", "k": "к"}


def entry(label, expect, where, data, **extra):
    item = {"label": label, "expect": expect, "where": where}
    item.update({k: v for k, v in extra.items() if v is not None})
    if isinstance(data, bytes):
        try:
            item["text"] = data.decode("utf-8")
        except UnicodeDecodeError:
            item["base64"] = base64.b64encode(data).decode()
    else:
        item["text"] = data
    return item


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def qp(text):
    out, line = [], ""
    for ch in text:
        enc = ch if (33 <= ord(ch) <= 126 and ch != "=") or ch == " " else "".join(f"={b:02X}" for b in ch.encode())
        if ch == "\n":
            enc = "=0A"
        if len(line) + len(enc) > 75:
            out.append(line + "=")
            line = ""
        line += enc
    out.append(line)
    return "\r\n".join(out)


def multipart(part_headers, content):
    boundary = "----tg" + rand(ALNUM, 12)
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{{\"v\":1}}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n{part_headers}\r\n{content}\r\n"
        f"--{boundary}--\r\n"
    )
    return body, f"multipart/form-data; boundary={boundary}"


def disguise(secret, how):
    """Zero-width, full-width or homoglyph changes in the first characters."""
    head, tail = secret[:6], secret[6:]
    if how == "zero-width":
        head = "\u200b".join(head)
    elif how == "fullwidth":
        head = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in head)
    else:
        head = "".join(HOMOGLYPHS.get(c, c) for c in head)
    return head + tail


def positives_for(detector, secret):
    P = lambda where, data, **kw: entry("positive", detector, where, data, **kw)
    one_line = "\n" not in secret
    doc = json.dumps({"tool": "shell", "output": f"result:\n{secret}\n"})
    raw = doc.encode()
    yield P("body", doc, content_type="application/json")
    yield P("body", f"log line 1\nconfig dump follows\n{secret}\nlog line 3\n", content_type="text/plain")
    yield P("url", "https://collector.example.net/c?data=" + urllib.parse.quote(secret, safe=""))
    if one_line:
        yield P("url", "https://collector.example.net/u/" + urllib.parse.quote(secret, safe="") + "/x")
        yield P("header", secret, header="X-Debug-Info")
    yield P("body", json.dumps({"blob": base64.b64encode(secret.encode()).decode()}), content_type="application/json")
    yield P("url", "https://collector.example.net/c?b=" + b64url(f"k={secret}".encode()))
    yield P("body", json.dumps({"h": secret.encode().hex()}), content_type="application/json")
    yield P("body", "q=" + "".join(f"%{b:02X}" for b in secret.encode()), content_type="application/x-www-form-urlencoded")
    yield P("url", "https://collector.example.net/c?d=" + urllib.parse.quote(urllib.parse.quote(secret, safe=""), safe=""))
    yield P("body", '{"s": "' + "".join(f"\\u{ord(c):04x}" for c in secret) + '"}', content_type="application/json")
    yield P("body", gz(raw), content_encoding="gzip", content_type="application/json")
    yield P("body", json.dumps({"z": base64.b64encode(gz(raw)).decode()}), content_type="application/json")
    yield P("body", zlib.compress(raw), content_encoding="deflate", content_type="application/json")
    if brotli:
        yield P("body", brotli.compress(raw, quality=5), content_encoding="br", content_type="application/json")
    if zstandard:
        yield P("body", zstandard.ZstdCompressor(level=3).compress(raw), content_encoding="zstd", content_type="application/json")
    encoded = base64.b64encode(f"notes\n{secret}\n".encode()).decode()
    wrapped = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    body, ctype = multipart("Content-Transfer-Encoding: base64\r\n", wrapped)
    yield P("body", body, content_type=ctype)
    body, ctype = multipart("Content-Transfer-Encoding: quoted-printable\r\n", qp(f"notes: {secret} end"))
    yield P("body", body, content_type=ctype)
    for how in ("zero-width", "fullwidth", "homoglyph"):
        disguised = disguise(secret, how)
        if disguised != secret:
            yield P("body", json.dumps({"t": disguised}, ensure_ascii=False), content_type="application/json")


def host_positives():
    for _ in range(12):
        secret = SECRETS["aws-access-key"][0]() + ":" + rand(ALNUM, 12)
        h = secret.encode().hex()
        labels = [h[i : i + 60] for i in range(0, len(h), 60)]
        yield entry("positive", "dns-exfiltration", "host", ".".join(labels) + ".t.example.com")
    for _ in range(8):
        data = base64.b32encode(f"user=admin;pw={password()}".encode()).decode().rstrip("=").lower()
        yield entry("positive", "dns-exfiltration", "host", data[:60] + ".x.example.net")


def shapeless_positives():
    """Random data with no known shape in URLs, and data spread over hostname labels (issue 11,
    classes 4 and 5). Drawn from their own random stream."""
    global R
    saved, R = R, random.Random(20261203)
    try:
        out = []
        for _ in range(15):
            token = rand(ALNUM, R.choice([32, 36, 40, 48, 56]))
            out.append(entry("positive", "high-entropy", "url", f"https://collector.example.net/u/{token}/x"))
            out.append(entry("positive", "high-entropy", "url", f"https://collector.example.net/c?d={token}&t=1"))
            out.append(entry("positive", "high-entropy", "url", f"/p/{urllib.parse.quote(rand(ALNUM + '+/', 40), safe='')}"))
            text = f"pw={password()}"
            h = text.encode().hex()
            labels = [h[i : i + 12] for i in range(0, len(h), 12)]
            out.append(entry("positive", "dns-exfiltration", "host", ".".join(labels) + ".t.example.com"))
            half = len(text) // 2
            b32 = base64.b32encode(text[half:].encode()).decode().rstrip("=").lower()
            out.append(entry("positive", "dns-exfiltration", "host", f"{text[:half].encode().hex()}.{b32}.x.example.net"))
            ten = base64.b32encode(rand(ALNUM, 10).encode()).decode().lower()
            out.append(entry("positive", "dns-exfiltration", "host", f"{ten}.example.org"))
            low = rand(string.ascii_lowercase + string.digits, 36)
            out.append(entry("positive", "dns-exfiltration", "host", f"{low[:12]}.{low[12:24]}.{low[24:]}.c.example.com"))
        return out
    finally:
        R = saved


# Detectors whose samples are key material: generated at evaluation time, never committed.
KEY_DETECTORS = {"private-key", "crypto-private-key", "seed-phrase", "gcp-service-account"}


def positives(keys):
    """The committed positives (keys=False) or the key-material ones (keys=True)."""
    out = []
    for detector, makers in SECRETS.items():
        if (detector in KEY_DETECTORS) != keys:
            continue
        for make in makers:
            for _ in range(2 if len(makers) > 1 else 3):
                secret = make()
                out.extend(positives_for(detector, secret))
                if keys:
                    # A form field: spaces as `+`, the PEM armour line included.
                    form = "credentials=" + urllib.parse.quote_plus(secret)
                    out.append(entry("positive", detector, "body", form, content_type="application/x-www-form-urlencoded"))
    if not keys:
        out.extend(host_positives())
        out.extend(well_known_positives())
        out.extend(off_format_positives())
        out.extend(financial_positives())
        out.extend(shapeless_positives())
        out.extend(punctuated_positives())
        out.extend(class_gap_positives())
        out.extend(variant_positives())
        out.extend(split3_gap_positives())
    return out


B32 = string.ascii_lowercase + "234567"


def class_gap_positives():
    """Classes the first held-out split found missing (issue 11), written from the formats'
    public descriptions: whole-URL secrets whose rule is anchored on the host, 14-digit Diners
    Club cards, keys named for what they encrypt or sign, session cookies, delimited hex with a
    prefix at a digest's length, random base32 labels, random data in a URL's subdomain."""
    global R
    saved, R = R, random.Random(20261205)
    try:
        out = []
        P = lambda expect, where, data, **kw: out.append(entry("positive", expect, where, data, **kw))
        for _ in range(6):
            team, bot = "T" + rand(string.ascii_uppercase + string.digits, 8), "B" + rand(string.ascii_uppercase + string.digits, 10)
            P("slack-webhook", "url", f"https://hooks.slack.com/services/{team}/{bot}/{rand(ALNUM, 24)}")
            P("slack-webhook", "url", f"https://hooks.slack.com/workflows/{team}/A{rand(string.ascii_uppercase + string.digits, 10)}/{R.randrange(10**17, 10**18)}/{rand(ALNUM, 24)}")
            for prefix in ("36", "38", "300", "305"):
                card = luhn_complete(prefix, 14)
                P("payment-card", "body", json.dumps({"card": {"number": card, "exp": "09/29"}}), content_type="application/json")
                P("payment-card", "body", f"name,pan\nAda,{card}\n", content_type="text/csv")
                P("payment-card", "body", json.dumps({"d": base64.b64encode(json.dumps({"pan": card}).encode()).decode()}), content_type="application/json")
            for name in ("encryption_key", "hmacKey", "AES_KEY", "session_key", "jwt-key", "license_key", "wrappingKey", "cipher_key"):
                value = base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode()
                P("generic-secret", "body", json.dumps({"settings": {name: value}}), content_type="application/json")
                P("generic-secret", "body", f"{name.upper()}={value}\n", content_type="text/plain")
            P("generic-secret", "header", f"sessionid={rand(string.ascii_lowercase + string.digits, 32)}; theme=dark", header="Cookie")
            P("generic-secret", "header", f"PHPSESSID={rand('0123456789abcdefghijklmnopqrstuv', 26)}", header="Cookie")
            P("generic-secret", "header", f"lang=en; JSESSIONID={rand('0123456789ABCDEF', 32)}", header="Cookie")
            P("generic-secret", "header", f"_shop_session={rand(ALNUM + '+/', 48)}", header="Cookie")
            for n in (16, 20, 32, 64):
                data = bytes(R.randrange(256) for _ in range(n))
                P("delimited-hex", "body", " ".join(f"0x{b:02X}" for b in data), content_type="text/plain")
                P("delimited-hex", "body", "".join(f"\\x{b:02x}" for b in data), content_type="text/plain")
            label = rand(string.ascii_lowercase + string.digits, 40)
            P("high-entropy", "url", f"https://{label}.api.collector.example.net/p.gif")
            P("dns-exfiltration", "url", f"https://{rand('0123456789abcdef', 56)}.c2.collector.example.org/")
        for _ in range(24):
            P("dns-exfiltration", "host", f"{rand(B32, 16)}.{R.randrange(10**4)}.x.collector.example.net")
        return out
    finally:
        R = saved


# ---------------------------------------------------------------- negatives


def uuid():
    h = rand("0123456789abcdef", 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def png_b64(n):
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(R.randrange(256) for _ in range(n))
    return base64.b64encode(data).decode()


def minified_js():
    names = [rand(string.ascii_lowercase, 1) for _ in range(8)]
    parts = []
    for _ in range(R.randrange(20, 60)):
        a, b, c = R.sample(names, 3)
        parts.append(
            R.choice(
                [
                    f"function {a}({b},{c}){{return {b}.map(function(e){{return e*{c}}})}}",
                    f"var {a}={b}||{{}};{a}.{rand(string.ascii_lowercase, 6)}=!0;",
                    f'{a}.exports={{key:"{rand(string.ascii_lowercase, 5)}",token:{b}.t,secret:!1}};',
                    f"if({a}<{R.randrange(100)}){{{b}+={c}}}else{{{b}-={c}}}",
                    f'{a}=document.querySelector("#{rand(string.ascii_lowercase, 7)}");',
                ]
            )
        )
    mapping = ";".join(",".join(rand("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", R.choice([4, 5, 6])) for _ in range(8)) for _ in range(6))
    return "".join(parts) + f'\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,{base64.b64encode(json.dumps({"version": 3, "mappings": mapping}).encode()).decode()}'


# Values vendors publish as examples. At egress they cannot be told from a leak, so they are
# positives (an operator exempts one by fingerprint or host).
WELL_KNOWN = [
    ("aws-access-key", "AKIAIOSFODNN7EXAMPLE"),
    ("aws-access-key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("stripe-key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    ("azure-storage", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"),
    ("payment-card", "card: 4242 4242 4242 4242, exp 12/34, cvc 123"),
    ("payment-card", "test card 4111111111111111"),
    # Stand-ins with an unmistakable prefix and the full length are tokens too.
    ("github-token", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("slack-webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
]

# Where a secret goes, not a secret: templates, stand-ins and too few key characters.
PLACEHOLDERS = [
    "OPENAI_API_KEY=sk-proj-your-api-key-here",
    "ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "postgres://user:password@localhost:5432/mydb",
    "DATABASE_URL=postgres://postgres:${POSTGRES_PASSWORD}@db:5432/app",
    "curl -u username:<password> https://api.example.com",
    "api_key=YOUR_API_KEY",
    '{"api_key": "<your key>", "token": "REPLACE_ME"}',
]

DOC_WRAPS = ("{}", '{{"example": "{}"}}', "# docs\n{}\n")


def documented(doc, wrap):
    return wrap.format(doc.replace('"', '\\"') if wrap.startswith("{{") else doc)


def well_known_positives():
    return [entry("positive", detector, "body", documented(doc, wrap), content_type="text/plain") for detector, doc in WELL_KNOWN for wrap in DOC_WRAPS]


PRESIGNED = []


def negatives():
    out = []
    N = lambda where, data, **kw: out.append(entry("negative", None, where, data, **kw))
    for _ in range(60):
        N("url", f"https://api.example.com/v2/users/{uuid()}/orders/{uuid()}?include=items&page={R.randrange(9)}")
        N("body", json.dumps({"id": uuid(), "request_id": uuid(), "parent": uuid(), "ok": True}), content_type="application/json")
    for _ in range(50):
        sha = rand("0123456789abcdef", 40)
        N("url", f"https://github.com/acme/widgets/commit/{sha}?diff=split")
        N("url", f"https://registry.example.org/v2/app/blobs/sha256:{rand('0123456789abcdef', 64)}")
        N("body", json.dumps({"integrity": "sha512-" + base64.b64encode(bytes(R.randrange(256) for _ in range(64))).decode(), "resolved": "https://registry.example.org/pkg/-/pkg-1.2.3.tgz"}), content_type="application/json")
    for _ in range(50):
        N("body", json.dumps({"image": "data:image/png;base64," + png_b64(R.randrange(200, 3000)), "prompt": "describe this"}), content_type="application/json")
        N("body", f'<img alt="logo" src="data:image/png;base64,{png_b64(R.randrange(100, 800))}"/>', content_type="text/html")
    for doc in PLACEHOLDERS:
        for wrap in DOC_WRAPS:
            N("body", documented(doc, wrap), content_type="text/plain")
    for _ in range(60):
        N("body", minified_js(), content_type="application/javascript")
    for _ in range(50):
        N("url", f"https://api.stripe.example/v1/customers/cus_{rand(ALNUM, 14)}/payment_intents/pi_{rand(ALNUM, 24)}")
        N("header", rand("0123456789abcdef", 32), header="X-Request-Id")
        N("header", f"W/\"{rand(ALNUM + '-_', 27)}\"", header="If-None-Match")
        N("url", f"https://auth.example.com/authorize?response_type=code&client_id={rand(ALNUM, 20)}&state={rand(URLSAFE, 32)}&code_challenge={rand(URLSAFE, 43)}&code_challenge_method=S256&nonce={rand(ALNUM, 24)}")
        N("url", f"https://cdn.example.com/assets/app.{rand('0123456789abcdef', 20)}.js")
        N("body", json.dumps({"object_id": rand("0123456789abcdef", 24), "ulid": rand("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26), "nanoid": rand(URLSAFE, 21), "ts": 1700000000000 + R.randrange(10**9), "snowflake": str(1 << 60 | R.randrange(1 << 59))}), content_type="application/json")
        N("url", f"https://api.example.com/items?cursor={b64url(json.dumps({'id': R.randrange(10**6)}).encode())}&next_page_token={rand(URLSAFE, 40)}")
        # A presigned URL carries its key id: a finding (with low confidence) since issue 11,
        # so these were moved to the positives (PRESIGNED), keeping the random stream as it was.
        PRESIGNED.append(entry("positive", "aws-access-key", "url", f"https://bucket.s3.amazonaws.com/reports/q3.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA{rand('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={rand('0123456789abcdef', 64)}"))
    for _ in range(40):
        key = base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + bytes(R.randrange(256) for _ in range(270))).decode()
        N("body", json.dumps({"title": "deploy key", "key": f"ssh-rsa {key} ci@example"}), content_type="application/json")
        cert = base64.b64encode(bytes(R.randrange(256) for _ in range(600))).decode()
        N("body", "-----BEGIN CERTIFICATE-----\n" + "\n".join(cert[i : i + 64] for i in range(0, len(cert), 64)) + "\n-----END CERTIFICATE-----\n", content_type="application/x-pem-file")
        N("body", "-----BEGIN PUBLIC KEY-----\n" + "\n".join(cert[i : i + 64] for i in range(0, 392, 64)) + "\n-----END PUBLIC KEY-----\n", content_type="text/plain")
    prose = [
        "To reset your password, open the settings page and choose a new one.",
        "The token_type is bearer and the access token expires in 3600 seconds.",
        "Set max_tokens to 4096 and temperature to 0.2 for this request.",
        "Secrets should live in a vault, never in source control or in logs.",
        "Use the api_key parameter described in the authentication guide.",
    ]
    for _ in range(50):
        text = " ".join(R.choice(prose) for _ in range(R.randrange(3, 12)))
        N("body", json.dumps({"messages": [{"role": "user", "content": text}], "max_tokens": 1024, "token_type": "bearer"}), content_type="application/json")
        N("body", gz(text.encode()), content_encoding="gzip", content_type="text/plain")
        N("body", "q=" + urllib.parse.quote_plus(text) + "&lang=en", content_type="application/x-www-form-urlencoded")
    for _ in range(30):
        N("url", f"ssh://git@github.com/acme/{rand(string.ascii_lowercase, 8)}.git")
        N("url", f"https://user@example.com/profile/{rand(string.ascii_lowercase, 6)}")
        N("url", f"https://example.com/@{rand(string.ascii_lowercase, 7)}/posts/{R.randrange(10**6)}")
        N("body", f"Order {R.randrange(10**15, 10**16)} shipped; tracking 1Z{rand(string.ascii_uppercase + string.digits, 16)}; call +1 555 {R.randrange(1000, 9999)} {R.randrange(1000, 9999)}", content_type="text/plain")
    for host in [
        "api.github.com", "uploads.github.com", "d1a2b3c4d5e6f7.cloudfront.net", "my-service-production-eu-west-1.example.com",
        "ec2-54-123-45-67.compute-1.amazonaws.com", "abcdef123456.execute-api.us-east-1.amazonaws.com",
        "storage.googleapis.com", "lh3.googleusercontent.com", "project-git-feature-login-acme.vercel.app",
        "acme-prod-app-7f9c.herokuapp.com", "xn--bcher-kva.example", "www.example.co.uk",
        "static-assets-cdn-01.example.org", "api-eu.sentry.io", "o123456.ingest.sentry.io",
    ]:
        N("host", host)
    out.extend(harder_negatives())
    out.extend(class_gap_negatives())
    out.extend(variant_negatives())
    out.extend(split3_gap_negatives())
    return out


RUSSIAN = "Отчёт готов, результаты сохранены в папке проекта; проверьте раздел с ошибками и повторите запуск."
GREEK = "Η αναφορά είναι έτοιμη και τα αποτελέσματα αποθηκεύτηκαν στον φάκελο του έργου."


def harder_negatives():
    """Benign traffic added after the detectors were tuned on the rest (kept as a check)."""
    out = []
    N = lambda where, data, **kw: out.append(entry("negative", None, where, data, **kw))
    for _ in range(30):
        N("body", json.dumps({"messages": [{"role": "user", "content": R.choice([RUSSIAN, GREEK])}]}, ensure_ascii=False), content_type="application/json")
        N("body", json.dumps({"note": base64.b64encode(R.choice(["Please rotate the api key and the access token next week.", "The password policy requires 12 characters."]).encode()).decode()}), content_type="application/json")
        N("body", json.dumps({"ciphertext": base64.b64encode(bytes(R.randrange(256) for _ in range(R.randrange(64, 512)))).decode(), "iv": base64.b64encode(bytes(R.randrange(256) for _ in range(12))).decode()}), content_type="application/json")
        N("body", f"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - env:\n    - name: API_KEY\n      valueFrom:\n        secretKeyRef:\n          name: app-secrets\n          key: api-key\n  image: registry.example.org/app@sha256:{rand('0123456789abcdef', 64)}\n", content_type="application/yaml")
        N("body", 'import os\ntoken = os.environ["GITHUB_TOKEN"]\nsecret = get_secret("prod/db")\nAPI_KEY="$API_KEY"\npassword = ""\n', content_type="text/x-python")
        N("body", f"version https://git-lfs.github.com/spec/v1\noid sha256:{rand('0123456789abcdef', 64)}\nsize {R.randrange(10**7)}\n", content_type="text/plain")
        N("body", json.dumps({"Key": f"uploads/{R.randrange(2020, 2027)}/{uuid()}.png", "cache_key": f"v1-deps-{rand('0123456789abcdef', 40)}", "idempotency_key": uuid(), "etag": rand("0123456789abcdef", 32)}), content_type="application/json")
        N("body", gz(json.dumps([{"id": uuid(), "sha": rand("0123456789abcdef", 40)} for _ in range(20)]).encode()), content_encoding="gzip", content_type="application/json")
        N("url", f"https://www.google.com/search?q={urllib.parse.quote_plus(R.choice([RUSSIAN, GREEK])[:40])}&ei={rand(URLSAFE, 22)}&ved={rand(URLSAFE, 40)}")
        N("header", f"_ga=GA1.2.{R.randrange(10**9)}.{R.randrange(10**9)}; _gid=GA1.2.{R.randrange(10**9)}; theme=dark", header="Cookie")
    return out


def class_gap_negatives():
    """Benign neighbours of the classes in `class_gap_positives`."""
    global R
    saved, R = R, random.Random(20261206)
    try:
        out = []
        N = lambda where, data, **kw: out.append(entry("negative", None, where, data, **kw))
        for _ in range(6):
            N("url", f"https://my-bucket.s3.eu-west-1.amazonaws.com/uploads/{uuid()}/photo.jpg?versionId={rand(URLSAFE, 32)}")
            pattern = ",+".join(f"0x{b:02x}" for b in [0x12, 0x34, 0x56, 0x78, 0x90] * 4)
            N("url", f"https://play.example.org/?code=let+bytes+%3D+%5B{pattern}%5D%3B&edition=2021")
            N("body", json.dumps({"session_id": uuid(), "sort_key": rand(ALNUM, 32), "cache_key": f"v2-{rand('0123456789abcdef', 40)}"}), content_type="application/json")
            N("header", f"theme=dark; lang=en; _ga=GA1.2.{R.randrange(10**9)}.{R.randrange(10**9)}; session_count={R.randrange(100)}", header="Cookie")
            N("body", json.dumps({"order": {"id": str(R.randrange(10**13, 10**14)), "created_ms": R.randrange(1_700_000_000_000, 1_800_000_000_000)}}), content_type="application/json")
            N("host", R.choice(["kubernetesdashboard", "documentationportal", "statusmonitoring", "observabilityhub"]) + ".internal.example.com")
            N("body", "const table = [" + ", ".join(f"0x{b:02x}" for b in range(16)) + "];", content_type="text/javascript")
        return out
    finally:
        R = saved


def variant_positives():
    """Variants of the classes the second held-out split found weak (issue 11), written from
    public format knowledge, not from that split: card brands and lengths 13-19 (Maestro, Mir,
    RuPay, Troy, 13-digit Visa) in many containers; Azure SAS tokens and Service Bus keys;
    Mailgun's `key-`, `pubkey-` and 2020 formats; AWS secret keys with no name; HTTP Basic in
    headers and bodies; random data in tunnel/PaaS tenant labels, query names, fragments and
    double-encoded values; DNS exfiltration in many short chunks; Telegram bot URLs, Square
    `EAAA` tokens, GitLab `gloas-`, and API keys under gateway header names or as UUIDs."""
    global R
    saved, R = R, random.Random(20261211)
    try:
        out = []
        P = lambda expect, where, data, **kw: out.append(entry("positive", expect, where, data, **kw))
        brands = [("4", 13), ("4", 16), ("4", 19), ("53", 16), ("2720", 16), ("2221", 16), ("37", 15), ("34", 15),
                  ("6011", 16), ("65", 19), ("645", 16), ("3530", 16), ("3589", 19), ("36", 14), ("62", 16), ("62", 19),
                  ("6759", 16), ("6304", 19), ("5018", 16), ("5893", 13), ("2200", 16), ("2204", 19), ("60", 16),
                  ("81", 16), ("9792", 16)]
        for prefix, length in brands:
            card = luhn_complete(prefix, length)
            groups = " ".join(card[i:i + 4] for i in range(0, len(card), 4))
            dashed = "-".join(card[i:i + 4] for i in range(0, len(card), 4))
            how = R.randrange(8)
            if how == 0:
                P("payment-card", "body", json.dumps({"payment": {"pan": groups, "exp": "11/29"}}), content_type="application/json")
            elif how == 1:
                P("payment-card", "body", f"id,holder,card\n{R.randrange(10**5)},A. Lovelace,{dashed}\n", content_type="text/csv")
            elif how == 2:
                P("payment-card", "body", "cc_number=" + groups.replace(" ", "+") + "&cvv=123", content_type="application/x-www-form-urlencoded")
            elif how == 3:
                P("payment-card", "body", f"<order><card>{card}</card></order>", content_type="application/xml")
            elif how == 4:
                P("payment-card", "body", R.choice(["Meine Kartennummer ist ", "Mi número de tarjeta es ", "Mon numéro de carte : ", "カード番号は"]) + groups + R.choice([".", " merci", "です"]), content_type="text/plain")
            elif how == 5:
                P("payment-card", "url", f"https://pay.example.net/charge?pan={card}&amt=12")
            elif how == 6:
                P("payment-card", "header", f"X-Card: {dashed}")
            else:
                P("payment-card", "body", base64.b64encode(gz(json.dumps({"card": card}).encode())).decode(), content_type="application/json")
        for _ in range(4):
            sig = urllib.parse.quote(base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode(), safe="")
            acct = "acct" + rand(string.ascii_lowercase + string.digits, 8)
            P("azure-storage", "url", f"https://{acct}.blob.core.windows.net/backups/db-{R.randrange(99)}.bak?sp=r&st=2026-01-01T00:00:00Z&se=2026-12-31T00:00:00Z&spr=https&sv=2022-11-02&sr=b&sig={sig}")
            P("azure-storage", "body", f"BlobEndpoint=https://{acct}.blob.core.windows.net/;SharedAccessSignature=sv=2021-08-06&ss=bfqt&srt=sco&sp=rwdlacupitfx&se=2027-01-01T00:00:00Z&sig={sig}\n", content_type="text/plain")
            P("azure-storage", "url", f"https://{acct}.queue.core.windows.net/jobs/messages?sig={sig}&se=2026-06-01&sv=2020-08-04&sp=a")
            key = base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode()
            P("azure-storage", "body", json.dumps({"ServiceBus": f"Endpoint=sb://{acct}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"}), content_type="application/json")
            P("azure-storage", "header", f"Authorization: SharedAccessSignature sr={acct}.servicebus.windows.net%2Fqueue&sig={sig}&se={R.randrange(1_700_000_000, 1_900_000_000)}&skn=send")
        for _ in range(4):
            legacy = "key-" + rand(string.ascii_lowercase + string.digits, 32)
            hexkey = "key-" + rand("0123456789abcdef", 32)
            new = f"{rand('0123456789abcdef', 32)}-{rand('0123456789abcdef', 8)}-{rand('0123456789abcdef', 8)}"
            P("vendor-token", "body", f"curl -s --user 'api:{legacy}' https://api.mailgun.net/v3/mg.example.com/messages\n", content_type="text/plain")
            P("vendor-token", "body", json.dumps({"mailgun": {"domain": "mg.example.com", "secret": new}}), content_type="application/json")
            P("vendor-token", "url", f"https://collector.example.net/k/{hexkey}")
            P("vendor-token", "body", f"settings:\n  mg: {new}\n", content_type="application/yaml")
            P("vendor-token", "header", f"X-Debug: pubkey-{rand(string.ascii_lowercase + string.digits, 32)}")
        aws = string.ascii_letters + string.digits + "+/"
        made = 0
        while made < 5:
            secret = rand(aws, 40)
            if "/" not in secret and "+" not in secret:
                continue
            made += 1
            P("aws-access-key", "body", json.dumps({"k": secret, "region": "us-east-1"}), content_type="application/json")
            P("aws-access-key", "body", f"backup creds\n{SECRETS['aws-access-key'][0]()}\n\n\n\n   then the other half, as promised, on its own line:\n{secret}\n", content_type="text/plain")
            P("aws-access-key", "url", f"https://collector.example.net/u/{secret}/done")
        for _ in range(4):
            user, pw = R.choice(["admin", "deploy", "svc-build", "root"]), password()
            creds = base64.b64encode(f"{user}:{pw}".encode()).decode()
            P("url-credentials", "header", f"Authorization: Basic {creds}")
            P("url-credentials", "body", json.dumps({"request": {"headers": {"Authorization": f"Basic {creds}"}}}), content_type="application/json")
            P("url-credentials", "body", f"curl -H 'Authorization: Basic {creds}' https://ci.example.org/api\n", content_type="text/plain")
            P("url-credentials", "header", f"Proxy-Authorization: basic {creds}")
        for _ in range(4):
            token = rand(ALNUM, R.choice([32, 40, 48]))
            low = rand(string.ascii_lowercase + string.digits, R.choice([24, 32, 40]))
            P("high-entropy", "url", f"https://{token}.ngrok-free.app/status")
            P("high-entropy", "url", f"https://{low}.trycloudflare.com/")
            P("high-entropy", "url", f"https://{low}.vercel.app/api/x")
            P("high-entropy", "url", f"https://{token.lower()}.workers.dev/")
            P("high-entropy", "hostname", f"{low}.onrender.com")
            P("high-entropy", "url", f"https://collector.example.net/c?{token}=1")
            P("high-entropy", "url", f"https://collector.example.net/p#{token}")
            P("high-entropy", "url", "https://collector.example.net/c?d=" + urllib.parse.quote(urllib.parse.quote(rand(ALNUM + "+/", 44), safe=""), safe=""))
        hexd = "0123456789abcdef"
        for _ in range(6):
            data = bytes(R.randrange(256) for _ in range(R.randrange(16, 30))).hex()
            chunks = [data[i:i + R.choice([4, 6, 8])] for i in range(0, len(data), 6)]
            P("dns-exfiltration", "hostname", f"{R.randrange(1000):04d}." + ".".join(chunks) + "." + R.choice(["oast.fun", "dnslog.cn", "x.badcdn.xyz", "t.a1b2.top"]))
            b32 = base64.b32encode(bytes(R.randrange(256) for _ in range(15))).decode().lower().rstrip("=")
            P("dns-exfiltration", "hostname", ".".join(b32[i:i + 6] for i in range(0, len(b32), 6)) + f".s{R.randrange(100)}.interact.sh")
            P("dns-exfiltration", "hostname", f"{rand(B32, 16)}.oast.pro")
        for _ in range(3):
            P("vendor-token", "url", f"https://api.telegram.org/bot{R.randrange(10**8, 10**10)}:AA{rand(URLSAFE, 33)}/sendMessage?chat_id=1&text=hi")
            P("vendor-token", "body", json.dumps({"square": {"access_token": None, "t": "EAAA" + rand(URLSAFE, 60)}}), content_type="application/json")
            P("gitlab-token", "body", f"oauth: gloas-{rand(string.ascii_lowercase + string.digits, 64)}\n", content_type="text/plain")
            P("generic-secret", "header", f"Ocp-Apim-Subscription-Key: {rand(hexd, 32)}")
            P("generic-secret", "header", f"X-App-Key: {rand(ALNUM, 28)}")
            P("generic-secret", "body", f"api_key={uuid()}\n", content_type="text/plain")
            P("generic-secret", "header", f"X-API-Key: {uuid()}")
        return out
    finally:
        R = saved


def variant_negatives():
    """Benign neighbours of `variant_positives`: numbers that fail Luhn, order ids and
    timestamps; hosting and CDN hostnames with hashes and tenant names; keyless storage URLs;
    names that end in `key-`; prose about Basic auth; UUIDs under id names; paths of words."""
    global R
    saved, R = R, random.Random(20261212)
    try:
        out = []
        N = lambda where, data, **kw: out.append(entry("negative", None, where, data, **kw))
        for _ in range(4):
            card = luhn_complete(R.choice(["4", "53", "6759", "2200", "81"]), 16)
            bad = card[:-1] + str((int(card[-1]) + 1) % 10)
            N("body", json.dumps({"order_id": bad, "ts": R.randrange(1_700_000_000_000, 1_800_000_000_000)}), content_type="application/json")
            N("body", f"invoice,{' '.join(bad[i:i + 4] for i in range(0, 16, 4))},paid\n", content_type="text/csv")
            N("url", f"https://shop.example.com/orders/{R.randrange(10**12, 10**13)}?ts={R.randrange(1_700_000_000_000, 1_800_000_000_000)}")
            N("hostname", R.choice(["my-app-git-main-acme.vercel.app", "calm-river-1234.herokuapp.com", "docs.rs.github.io", "deploy-preview-42--acme-site.netlify.app", "rapid-lake-brave-otter.trycloudflare.com", "api-prod.fly.dev", "my-worker.acme.workers.dev"]))
            N("hostname", f"d{rand('0123456789abcdefghijklmnopqrstuvwxyz', 13)}.cloudfront.net")
            N("hostname", f"{rand('0123456789abcdefghijklmnopqrstuvwxyz', 10)}.execute-api.us-east-1.amazonaws.com")
            N("url", f"https://acme{R.randrange(100)}.blob.core.windows.net/$web/index.html?v={R.randrange(100)}")
            N("url", f"https://images.example.org/thumb?sig={rand('0123456789abcdef', 16)}&w=320")
            N("body", json.dumps({"headers": ["api-key-header", "x-cache-key-" + rand("0123456789abcdef", 32)]}), content_type="application/json")
            N("body", "Basic Authentication sends the user name and password base64-encoded; prefer Bearer tokens.", content_type="text/plain")
            N("body", json.dumps({"request_id": uuid(), "token_id": uuid(), "key_name": "primary"}), content_type="application/json")
            N("url", "https://docs.example.com/" + R.choice(["en-US/docs/Web/API/HTMLElement/dataset2", "AmazonS3/latest/API/RESTObjectGETacl12", "std/collections/hash_map/HashMapEntry/Ab"]))
            N("hostname", "mail.smtp.relay.east.prod.internal.example.com")
            N("body", f"commit {rand('0123456789abcdef', 40)}\nAuthor: Ada <ada@example.com>\n", content_type="text/plain")
        return out
    finally:
        R = saved


def split3_gap_negatives():
    """Benign traffic of the kinds the third held-out split found flagged (by class, never by
    case), written from public formats: cloud, CDN, Kubernetes and punycode hostnames; analytics
    and ad-click ids; content-hashed build assets and content-addressed paths; base58 strings
    shaped like Bitcoin addresses whose checksum fails; printed key and certificate
    fingerprints; masked secrets; code that names a secret without holding one."""
    global R
    saved, R = R, random.Random(20261301)
    try:
        out = []
        N = lambda where, data, **kw: out.append(entry("negative", None, where, data, **kw))
        low36 = string.ascii_lowercase + string.digits
        hexd = "0123456789abcdef"
        region = lambda: R.choice(["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1"])
        for _ in range(4):
            # Hostnames of clouds, CDNs and clusters: tenant-chosen names and generated ids.
            N("hostname", f"{R.choice(['web', 'api-gateway', 'prod-ingress', 'checkout-svc'])}-{R.randrange(10**9, 10**10)}.{region()}.elb.amazonaws.com")
            N("hostname", f"internal-{R.choice(['orders', 'billing-api'])}-{rand(hexd, 16)}.elb.{region()}.amazonaws.com")
            N("hostname", f"a{rand(hexd, 31)}-{R.randrange(10**9, 10**10)}.{region()}.elb.amazonaws.com")
            N("hostname", f"{rand('0123456789ABCDEF', 32)}.gr7.{region()}.eks.amazonaws.com")
            N("hostname", f"{rand(hexd, 32)}.{region()}.aws.found.io")
            N("hostname", f"d{rand(low36, 13)}.cloudfront.net")
            N("hostname", "storage.googleapis.com")
            N("hostname", f"{R.choice(['contoso-web', 'shop-api-prod', 'fn-resize'])}-{rand(low36, 8)}.azurewebsites.net")
            N("hostname", f"{R.choice(['contoso-web', 'api'])}-{rand(hexd, 4)}{rand(low36, 4)}.{R.choice(['eastus', 'westeurope'])}-01.azurewebsites.net")
            N("hostname", f"ip-10-{R.randrange(256)}-{R.randrange(256)}-{R.randrange(256)}.ec2.internal")
            N("hostname", f"ip-172-31-{R.randrange(256)}-{R.randrange(256)}.{region()}.compute.internal")
            N("hostname", f"{R.choice(['payments', 'redis-master', 'kube-dns'])}.{R.choice(['default', 'prod', 'kube-system'])}.svc.cluster.local")
            N("hostname", f"{R.choice(['web', 'worker'])}-{rand('bcdfghjklmnpqrstvwxz2456789', 10)}-{rand('bcdfghjklmnpqrstvwxz2456789', 5)}.{R.choice(['default', 'prod'])}.pod.cluster.local")
            N("hostname", f"{R.choice(['mydb', 'orders-prod'])}.{rand(low36, 12)}.{region()}.rds.amazonaws.com")
            N("hostname", f"{R.choice(['cache', 'sessions'])}.{rand(low36, 6)}.ng.0001.{R.choice(['use1', 'euw1'])}.cache.amazonaws.com")
            N("hostname", f"vpce-0{rand(hexd, 16)}-{rand(low36, 8)}.s3.{region()}.vpce.amazonaws.com")
            N("hostname", f"{R.choice(['hello', 'api-server'])}-{rand(low36, 10)}-uc.a.run.app")
            N("hostname", f"{R.choice(['myaks', 'prod-cluster'])}-dns-{rand(hexd, 8)}.hcp.{R.choice(['eastus', 'westeurope'])}.azmk8s.io")
            N("hostname", f"{R.randrange(1, 255)}.{R.randrange(255)}.{R.randrange(255)}.{R.randrange(255)}.bc.googleusercontent.com")
            N("hostname", R.choice(["xn--mnchen-3ya.de", "xn--80ak6aa92e.com", "www.xn--bcher-kva.example", "xn--fiqs8s.xn--55qx5d.cn", "shop.xn--e1afmkfd.xn--p1ai"]))
            N("hostname", R.choice(["customer-identity-and-access-management-portal.eu.example.com", "enterprise-resource-planning-integration-gateway.internal.example.net", "global-content-delivery-and-media-transcoding.prod.example.org"]))
            N("hostname", f"{R.choice(['mycompany', 'acme-app'])}-{R.randrange(10**4, 10**5)}.firebaseio.com")
            N("hostname", ".".join(R.choice(hexd) for _ in range(32)) + ".ip6.arpa")
            # Analytics and ad-click ids.
            N("url", f"https://www.example-shop.com/landing?gclid={'Cj0KCQ' + rand(URLSAFE, R.choice([80, 86, 92]))}&utm_source=google&utm_medium=cpc&utm_campaign=winter_sale_{R.randrange(2020, 2027)}")
            N("url", f"https://www.example-news.com/story/{R.randrange(10**6)}?fbclid=IwAR{rand(URLSAFE, R.choice([57, 60]))}")
            N("url", f"https://www.example-news.com/a?fbclid=IwZXh0bgNhZW0CMTEAAR{rand(URLSAFE, 52)}_aem_{rand(URLSAFE, 22)}")
            N("url", f"https://www.example-shop.com/p/{R.randrange(10**5)}?msclkid={rand(hexd, 32)}&utm_source=bing")
            N("url", f"https://www.example-shop.com/?gbraid=0AAAAAD{rand(URLSAFE, 26)}&wbraid=Cl{rand(URLSAFE, 40)}")
            N("url", f"https://www.example-shop.com/?ttclid=E.C.P.{rand(URLSAFE, 60)}&dclid=CJ{rand(URLSAFE, 40)}")
            N("url", f"https://www.example-shop.com/?_gl=1*{rand(low36, 6)}*_ga*{base64.b64encode(str(R.randrange(10**9, 10**10)).encode()).decode().rstrip('=')}*_ga_{rand(string.ascii_uppercase + string.digits, 10)}*{base64.b64encode(('MTcw' + rand(ALNUM, 30)).encode()).decode().rstrip('=')}")
            N("header", f"Cookie: _ga=GA1.1.{R.randrange(10**9, 10**10)}.{R.randrange(1_600_000_000, 1_800_000_000)}; _ga_{rand(string.ascii_uppercase + string.digits, 10)}=GS1.1.{R.randrange(1_600_000_000, 1_800_000_000)}.{R.randrange(1, 40)}.1.{R.randrange(1_600_000_000, 1_800_000_000)}.0.0.0; _fbp=fb.1.{R.randrange(10**12, 10**13)}.{R.randrange(10**9, 10**10)}")
            N("header", f"Cookie: _gcl_au=1.1.{R.randrange(10**9, 10**10)}.{R.randrange(1_600_000_000, 1_800_000_000)}; _uetvid={rand(hexd, 32)}; ajs_anonymous_id={uuid()}")
            N("body", json.dumps({"measurement_id": "G-" + rand(string.ascii_uppercase + string.digits, 10), "container": "GTM-" + rand(string.ascii_uppercase + string.digits, 7), "ua": f"UA-{R.randrange(10**7, 10**9)}-{R.randrange(1, 9)}", "client_id": f"{R.randrange(10**9, 10**10)}.{R.randrange(1_600_000_000, 1_800_000_000)}"}), content_type="application/json")
            N("url", f"https://www.google-analytics.com/g/collect?v=2&tid=G-{rand(string.ascii_uppercase + string.digits, 10)}&gtm=45je{rand(low36, 6)}&cid={R.randrange(10**9, 10**10)}.{R.randrange(1_600_000_000, 1_800_000_000)}&sid={R.randrange(1_600_000_000, 1_800_000_000)}")
            N("url", f"https://click.example-mail.com/ls/click?upn={rand(URLSAFE, 120)}")
            N("url", f"https://www.example-shop.com/?mc_cid={rand(hexd, 10)}&mc_eid={rand(hexd, 10)}&_hsenc=p2ANqtz-{rand(URLSAFE, 80)}&_hsmi={R.randrange(10**8, 10**9)}")
            # Content-hashed build assets and content-addressed paths.
            N("url", f"https://app.example.com/assets/index-{rand(URLSAFE, 8)}.js")
            N("url", f"https://app.example.com/_next/static/chunks/app/{R.choice(['page', 'layout', 'dashboard/page'])}-{rand(hexd, 16)}.js")
            N("url", f"https://app.example.com/_next/static/{rand(URLSAFE, 21)}/_buildManifest.js")
            N("url", f"https://app.example.com/static/js/{R.choice(['main', 'vendors', '787'])}.{rand(hexd, 20)}.js")
            N("url", f"https://app.example.com/static/media/{R.choice(['logo', 'hero-banner', 'Inter-Regular'])}.{rand(hexd, 32)}.{R.choice(['svg', 'woff2', 'png'])}")
            N("url", f"https://app.example.com/_astro/{R.choice(['index', 'Layout'])}.{rand(URLSAFE, 8)}.css")
            N("url", f"https://app.example.com/_app/immutable/chunks/{R.choice(['index', 'scheduler', 'entry'])}.{rand(URLSAFE, 8)}.js")
            N("url", f"https://app.example.com/_nuxt/{rand(URLSAFE, 8)}.js")
            N("url", f"https://app.example.com/build/_shared/chunk-{rand(string.ascii_uppercase + string.digits, 8)}.js")
            N("url", f"https://cdn.example.com/assets/{R.choice(['application', 'vendor'])}-{rand(hexd, 64)}.js")
            N("url", f"https://cdn.example.com/dist/{R.choice(['app', 'runtime'])}.{rand(URLSAFE, 43)}.js")
            N("url", f"https://cdn.example.com/images/{rand(URLSAFE, 43)}.webp")
            N("url", f"https://ipfs.io/ipfs/Qm{rand(B58, 44)}")
            N("url", f"https://ipfs.io/ipfs/bafybei{rand(B32, 52)}/index.html")
            N("body", f'<script src="/assets/{R.choice(["index", "vendor"])}-{rand(URLSAFE, 8)}.js" integrity="sha384-{base64.b64encode(bytes(R.randrange(256) for _ in range(48))).decode()}" crossorigin></script>\n<link rel="stylesheet" href="/assets/index-{rand(URLSAFE, 8)}.css">', content_type="text/html")
            N("body", json.dumps({"main.js": f"/static/js/main.{rand(hexd, 8)}.js", "runtime.js": f"/runtime.{rand(hexd, 20)}.js", "app.css": f"/app.{rand(URLSAFE, 22)}.css"}), content_type="application/json")
            # Base58 shaped like a Bitcoin address whose checksum fails (a typo, a truncated copy).
            for version in (b"\x00", b"\x05"):
                good = b58check(version + bytes(R.randrange(256) for _ in range(20)))
                i = R.randrange(5, len(good) - 1)
                bad = good[:i] + R.choice([c for c in B58 if c != good[i]]) + good[i + 1:]
                N("body", json.dumps({"withdraw_to": bad, "status": "rejected", "reason": "invalid address checksum"}), content_type="application/json")
                N("url", f"https://blockchain.example.info/address/{bad}")
                N("body", f"Please double-check this address, it looks mistyped: {bad}\n", content_type="text/plain")
            # AWS unique ids (not credentials): `sts get-caller-identity`, `iam list-users`.
            for prefix in ("AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "APKA"):
                uid = prefix + rand(string.ascii_uppercase + "234567", 17)
                N("body", json.dumps({"UserId": uid + (":botocore-session-" + str(R.randrange(10**9, 10**10)) if prefix == "AROA" else ""), "Account": str(R.randrange(10**11, 10**12)), "Arn": f"arn:aws:iam::{R.randrange(10**11, 10**12)}:user/deploy"}), content_type="application/json")
            # Custom headers whose values are random by design.
            N("header", f"X-Client-Data: {base64.b64encode(bytes(R.randrange(256) for _ in range(R.choice([45, 60, 90])))).decode()}")
            N("header", f"X-Amz-Cf-Id: {base64.urlsafe_b64encode(bytes(R.randrange(256) for _ in range(42))).decode()}")
            N("header", f"X-Csrf-Token: {rand(ALNUM, 40)}")
            N("header", f"X-Twilio-Signature: {base64.b64encode(bytes(R.randrange(256) for _ in range(20))).decode()}")
            N("header", f"X-Shopify-Hmac-Sha256: {base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode()}")
            N("header", f"X-Request-Nonce: {rand(ALNUM, 32)}")
            N("header", f"X-Goog-Api-Client: gl-python/3.11.7 grpc/1.60.0 gax/2.15.0 gapic/2.13.{R.randrange(10)}")
            N("header", f"X-Upload-Content-Type: image/png")
            # Printed key and certificate fingerprints.
            md5 = ":".join(f"{R.randrange(256):02x}" for _ in range(16))
            N("body", f"2048 MD5:{md5} deploy@ci (RSA)\n", content_type="text/plain")
            N("body", f"256 SHA256:{base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode().rstrip('=')} ada@laptop (ED25519)\n", content_type="text/plain")
            N("body", f"The authenticity of host 'git.example.com' can't be established.\nECDSA key fingerprint is SHA256:{base64.b64encode(bytes(R.randrange(256) for _ in range(32))).decode().rstrip('=')}.\nECDSA key fingerprint is MD5:{md5}.\n", content_type="text/plain")
            sha1 = ":".join(f"{R.randrange(256):02X}" for _ in range(20))
            sha256 = ":".join(f"{R.randrange(256):02X}" for _ in range(32))
            N("body", f"SHA1 Fingerprint={sha1}\nsha256 Fingerprint={sha256}\n", content_type="text/plain")
            N("body", f"Certificate fingerprints:\n\t SHA1: {sha1}\n\t SHA256: {sha256}\nSignature algorithm name: SHA256withRSA\n", content_type="text/plain")
            serial = ":".join(f"{R.randrange(256):02x}" for _ in range(R.choice([16, 18, 19])))
            N("body", f"        Serial Number:\n            {serial}\n        X509v3 Subject Key Identifier: \n            {':'.join(f'{R.randrange(256):02X}' for _ in range(20))}\n        X509v3 Authority Key Identifier: \n            keyid:{':'.join(f'{R.randrange(256):02X}' for _ in range(20))}\n", content_type="text/plain")
            gpg = " ".join(rand("0123456789ABCDEF", 4) for _ in range(10))
            N("body", f"pub   rsa4096 2021-03-01 [SC]\n      Key fingerprint = {gpg[:24]} {gpg[24:]}\nuid           [ultimate] Ada <ada@example.com>\n", content_type="text/plain")
            N("header", f"X-Client-Cert-Fingerprint: {rand(hexd, 64)}")
            N("body", json.dumps({"kty": "RSA", "kid": rand(URLSAFE, 43), "x5t#S256": base64.urlsafe_b64encode(bytes(R.randrange(256) for _ in range(32))).decode().rstrip("="), "x5t": base64.urlsafe_b64encode(bytes(R.randrange(256) for _ in range(20))).decode().rstrip("=")}), content_type="application/json")
            # Masked secrets.
            N("body", json.dumps({"api_key": "sk_live_" + "*" * 20 + rand(ALNUM, 4), "created": "2026-11-01"}), content_type="application/json")
            N("body", json.dumps({"token": "ghp_" + "*" * 32 + rand(ALNUM, 4)}), content_type="application/json")
            N("body", f"api_key: {rand(ALNUM, 4)}{'•' * 24}{rand(ALNUM, 4)}\n", content_type="application/yaml")
            N("body", f"AWS_SECRET_ACCESS_KEY=****************{rand(ALNUM, 4)}\nAWS_ACCESS_KEY_ID=AKIA************{rand(string.ascii_uppercase, 4)}\n", content_type="text/plain")
            N("body", json.dumps({"client_secret": f"{rand(ALNUM, 4)}...{rand(ALNUM, 4)}", "password": "********"}), content_type="application/json")
            N("body", f"token = xxxx…{rand(string.digits, 4)}\nsecret_key = {rand(ALNUM, 3)}{'x' * 30}{rand(ALNUM, 3)}\n", content_type="text/plain")
            N("header", f"X-Api-Key: {'*' * 28}{rand(ALNUM, 4)}")
            N("header", f"Authorization: Bearer {rand(ALNUM, 6)}...{rand(ALNUM, 6)} (redacted)")
            N("body", R.choice([
                json.dumps({"api_key": rand(ALNUM, 8) + "*" * 24}),
                json.dumps({"token": "*" * 28 + rand(ALNUM, 4)}),
                json.dumps({"access_token": "[REDACTED]", "refresh_token": "[FILTERED]", "password": "<redacted>"}),
                json.dumps({"client_secret": rand(ALNUM, 4) + "•" * 12}),
                json.dumps({"api_key": "x" * 28 + rand(hexd, 4)}),
                json.dumps({"secret": rand(ALNUM, 4) + "x" * 24 + rand(ALNUM, 4)}),
                f"api_key: ...{rand(ALNUM, 4)}\nsecret: {rand(ALNUM, 2)}****{rand(ALNUM, 2)}\n",
                f"password=********&token={rand(ALNUM, 6)}...{rand(ALNUM, 4)}",
                json.dumps({"keys": [{"name": "prod", "key": f"{rand(ALNUM, 6)}…{rand(ALNUM, 4)}", "secret_hint": f"ends with {rand(ALNUM, 4)}"}]}),
                json.dumps({"api_key": rand(ALNUM, R.choice([16, 20, 24])) + R.choice(["...", "…", "****", "••••"])}),
                json.dumps({"token": R.choice(["...", "…", "****", "••••"]) + rand(ALNUM, R.choice([16, 20, 24]))}),
                f"client_secret = {rand(ALNUM, 20)}{'*' * 12}\n",
                json.dumps({"access_key": f"AKIA{'*' * 12}{rand(string.ascii_uppercase, 4)}", "secret_access_key": f"{'*' * 36}{rand(ALNUM, 4)}"}),
            ]), content_type="application/json")
            N("header", R.choice([
                f"X-Api-Key: {rand(ALNUM, 4)}{'*' * 20}{rand(ALNUM, 4)}",
                f"Authorization: Bearer {'*' * 32}",
                f"Authorization: Bearer [REDACTED]",
                f"X-Auth-Token: {rand(ALNUM, 4)}…{rand(ALNUM, 4)}",
                f"X-Api-Key: {rand(ALNUM, 24)}{R.choice(['...', '…', '****'])}",
                f"Authorization: Bearer {R.choice(['...', '…', '****'])}{rand(ALNUM, 24)}",
                f"Authorization: token {'x' * 36}",
            ]))
            N("body", R.choice([
                "secret = request.args.get('secret')\nconst token = localStorage.getItem('authToken');\n",
                "headers: { Authorization: `Bearer ${token}` }\n",
                'password = input("Password: ")\n',
                "apiKey: process.env.NEXT_PUBLIC_API_KEY,\n",
                "SECRET_KEY = env('DJANGO_SECRET_KEY')\n",
                'token := os.Getenv("GITHUB_TOKEN")\n',
                'let apiKey = ProcessInfo.processInfo.environment["API_KEY"]\n',
                'String secret = System.getenv("APP_SECRET");\n',
                "$token = $request->bearerToken();\n",
                "client = OpenAI(api_key=settings.OPENAI_API_KEY)\n",
                "password=PasswordHasher.hash(rawPassword)\n",
                'access_token = resp.json()["access_token"]\n',
                "session = boto3.Session(aws_access_key_id=creds.AccessKeyId, aws_secret_access_key=creds.SecretAccessKey)\n",
                'db:\n  password: "{{ vault_db_password }}"\n',
                "client_secret: {{ .Values.oauth.clientSecret | quote }}\n",
                "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-secret\n        key: password\n",
                'token = Secret.from_env_var("HF_TOKEN")\n',
                "def login(username, password):\n    token = auth_client.authenticate(username=username, password=password)\n    return token\n",
                "ApiKey = Configuration[\"ApiKeys:Stripe\"];\nvar secret = builder.Configuration.GetValue<string>(\"JwtSecret\");\n",
                "if (password.length < MIN_PASSWORD_LENGTH) throw new Error('password too short');\n",
                "const { data: { session_token: sessionToken } } = await api.post('/login', { password });\n",
                "secret_key = Fernet.generate_key()\ntoken = secrets.token_urlsafe(32)\n",
                "private readonly string _apiKey = Environment.GetEnvironmentVariable(\"SENDGRID_API_KEY\")!;\n",
            ]), content_type="text/plain")
            # Code that names a secret without holding one.
            N("body", R.choice([
                'api_key = os.environ["API_KEY"]\nclient = Client(api_key=api_key)\n',
                "password: ${DB_PASSWORD}\nuser: ${DB_USER}\n",
                "token = get_token()\nheaders = {'Authorization': f'Bearer {token}'}\n",
                "const apiKey = process.env.STRIPE_SECRET_KEY;\nconst stripe = new Stripe(apiKey);\n",
                "password = getpass.getpass('Password: ')\nsecret = config.get('secret_key')\n",
                "let token = std::env::var(\"GITHUB_TOKEN\")?;\nlet client_secret = settings.client_secret.clone();\n",
                'env:\n  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n  NPM_TOKEN: ${{ secrets.NPM_AUTH_TOKEN }}\n',
                "hashed = bcrypt.hashpw(password.encode('utf-8'), bcrypt.gensalt())\n",
                "auth_token = request.headers.get('X-Auth-Token')\napi_secret = self.api_secret\n",
                'token = jwt.encode(payload, SECRET_KEY, algorithm="HS256")\n',
                "private String apiKey = System.getenv(\"API_KEY\");\nString password = props.getProperty(\"db.password\");\n",
                "$password = $_POST['password'];\n$apiKey = getenv('MAILCHIMP_API_KEY');\n",
                "apiKey: Deno.env.get(\"OPENAI_API_KEY\")!,\npassword: await readSecret(\"db/password\"),\n",
                'secret_key = base64.b64decode(os.environ["SECRET_KEY_B64"])\n',
                "export AWS_SECRET_ACCESS_KEY=$(aws configure get aws_secret_access_key)\n",
                "password = hashlib.sha256(password_input.encode()).hexdigest()\n",
                "{{- $password := .Values.postgresql.auth.password | default (randAlphaNum 24) }}\n",
                "credentials = ClientSecretCredential(tenant_id, client_id, client_secret=os.getenv('AZURE_CLIENT_SECRET'))\n",
                "self.access_token = response.json()['access_token']\nrefresh_token = token_store.load(user_id)\n",
                'api_key = "<YOUR_API_KEY>"  # replace with your key\n',
                "PASSWORD_MIN_LENGTH = 12\nTOKEN_EXPIRY_SECONDS = 3600\nSECRET_ROTATION_DAYS = 90\n",
            ]), content_type=R.choice(["text/plain", "text/x-python"]))
        return out
    finally:
        R = saved


def split3_gap_positives():
    """Variants of the classes the third held-out split found missed (by class, never by case),
    written from public formats: card numbers in more layouts (Amex 4-6-5, dots, XML, YAML, CSV,
    URLs); AWS key ids of every documented unique-id prefix and near-miss lengths; Discord
    webhooks on every host; HTTP Basic variants; delimited hex in more spellings; passwords in
    YAML, INI, env, JSON and XML; opaque bearer tokens; Shopify tokens; Twilio SID and token
    pairs."""
    global R
    saved, R = R, random.Random(20261302)
    try:
        out = []
        P = lambda expect, where, data, **kw: out.append(entry("positive", expect, where, data, **kw))
        hexd = "0123456789abcdef"
        upper32 = string.ascii_uppercase + "234567"
        for _ in range(3):
            amex = luhn_complete(R.choice(["34", "37"]), 15)
            grouped = f"{amex[:4]} {amex[4:10]} {amex[10:]}"
            P("payment-card", "body", json.dumps({"card": grouped, "cvv": f"{R.randrange(1000, 10000)}"}), content_type="application/json")
            P("payment-card", "body", f"amex: {amex[:4]}-{amex[4:10]}-{amex[10:]}\n", content_type="text/plain")
            visa = luhn_complete(R.choice(["4", "4539", "4916"]), 16)
            mc = luhn_complete(R.choice(["51", "55", "2221", "2720"]), 16)
            disc = luhn_complete(R.choice(["6011", "65", "644"]), 16)
            jcb = luhn_complete("35" + str(R.randrange(28, 90)), 16)
            P("payment-card", "body", ".".join(visa[i:i + 4] for i in range(0, 16, 4)) + " exp 08/29\n", content_type="text/plain")
            P("payment-card", "body", f"<payment><cardNumber>{mc}</cardNumber><expiry>2029-08</expiry></payment>", content_type="application/xml")
            P("payment-card", "body", f"billing:\n  card_number: \"{' '.join(disc[i:i + 4] for i in range(0, 16, 4))}\"\n  exp: 11/28\n", content_type="application/yaml")
            P("payment-card", "body", f"id,name,pan,exp\n{R.randrange(1000)},Ada Lovelace,{jcb},07/30\n", content_type="text/csv")
            P("payment-card", "url", f"https://checkout.example.net/pay?cc={visa}&exp=0829")
            P("payment-card", "url", f"https://checkout.example.net/pay?number={'+'.join(mc[i:i + 4] for i in range(0, 16, 4))}&cvc=123")
            P("payment-card", "url", f"https://checkout.example.net/cards/{'-'.join(disc[i:i + 4] for i in range(0, 16, 4))}/verify")
            P("payment-card", "header", f"X-Card-Number: {visa}")
            P("payment-card", "body", json.dumps({"pan": "\u00a0".join(visa[i:i + 4] for i in range(0, 16, 4))}, ensure_ascii=False), content_type="application/json")
            P("payment-card", "body", f"card={amex[:4]}%20{amex[4:10]}%20{amex[10:]}&name=Ada", content_type="application/x-www-form-urlencoded")
            P("payment-card", "body", json.dumps({"pan": int(mc)}), content_type="application/json")
            # The credential prefixes: long-term and temporary access key ids, STS service
            # bearer tokens, context-specific credentials. (AIDA, AROA, AGPA, ANPA, ANVA, AIPA
            # and APKA are unique ids of users, roles, groups, policies, instance profiles and
            # CloudFront public keys: identifiers, written as negatives.)
            for prefix in ("AKIA", "ASIA", "ABIA", "ACCA"):
                key = prefix + rand(upper32, R.choice([16, 16, 16, 15, 17]))
                P("aws-access-key", "body", f"aws_access_key_id = {key}\n", content_type="text/plain")
                P("aws-access-key", "url", f"https://collector.example.net/c?id={key}")
            P("aws-access-key", "hostname", f"{('AKIA' + rand(upper32, 16)).lower()}.x.collector.example.net")
            P("aws-access-key", "url", f"https://collector.example.net/c?k={'ASIA' + rand(upper32, 16)}")
            webhook_id = str(R.randrange(10**17, 10**19))
            token = rand(URLSAFE, 68)
            for host in ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"):
                P("vendor-token", R.choice(["url", "body"]), f"https://{host}/api/webhooks/{webhook_id}/{token}")
            P("vendor-token", "body", json.dumps({"webhook_url": f"https://discord.com/api/v10/webhooks/{webhook_id}/{token}"}), content_type="application/json")
            P("vendor-token", "body", f"DISCORD_WEBHOOK=https://discordapp.com/api/webhooks/{webhook_id}/{token}\n", content_type="text/plain")
            user, pw = R.choice(["admin", "ci-bot", "jenkins", "svc_backup"]), password()
            creds = base64.b64encode(f"{user}:{pw}".encode()).decode()
            P("url-credentials", "header", f"authorization: BASIC {creds}")
            P("url-credentials", "body", f"curl -u {user}:{pw} https://registry.example.org/v2/\n", content_type="text/plain")
            P("url-credentials", "body", f"machine api.example.org login {user} password {pw}\n", content_type="text/plain")
            P("url-credentials", "body", json.dumps({"log": {"entries": [{"request": {"headers": [{"name": "Authorization", "value": f"Basic {creds}"}]}}]}}), content_type="application/json")
            P("url-credentials", "url", f"https://{user}:{urllib.parse.quote(pw, safe='')}@artifacts.example.org/repo/")
            P("url-credentials", "body", f"https://{user}:{pw}@git.example.org\n", content_type="text/plain")
            data = bytes(R.randrange(256) for _ in range(R.choice([24, 28, 36, 40])))
            P("delimited-hex", "body", ", ".join(f"0x{b:02x}" for b in data), content_type="text/plain")
            P("delimited-hex", "body", " ".join(f"{b:02x}" for b in data), content_type="text/plain")
            P("delimited-hex", "body", ",".join(f"{b:02X}" for b in data), content_type="text/plain")
            P("delimited-hex", "body", ":".join(f"{b:02x}" for b in data), content_type="text/plain")
            P("delimited-hex", "url", "https://collector.example.net/c?d=" + urllib.parse.quote("".join(f"\\x{b:02x}" for b in data), safe=""))
            P("delimited-hex", "url", "https://collector.example.net/c?d=" + "-".join(f"{b:02x}" for b in data))
            pw = rand(ALNUM, R.choice([12, 16, 20])) + R.choice("!#%&*+-=?@^_") + rand(ALNUM, 4)
            P("generic-secret", "body", f"database:\n  host: db.internal\n  password: {pw}\n", content_type="application/yaml")
            P("generic-secret", "body", f"[database]\nuser = app\npassword = {pw}\n", content_type="text/plain")
            P("generic-secret", "body", f"DB_PASSWORD={pw}\n", content_type="text/plain")
            P("generic-secret", "body", json.dumps({"username": "ada", "password": pw}), content_type="application/json")
            P("generic-secret", "body", f'<add key="SmtpPassword" value="{pw}" />', content_type="application/xml")
            P("generic-secret", "body", f"Server=sql.internal;Database=app;User Id=sa;Password={pw};", content_type="text/plain")
            P("generic-secret", "body", f"<password>{pw}</password>", content_type="application/xml")
            P("generic-secret", "header", f"Authorization: Bearer {rand(ALNUM, R.choice([32, 40]))}")
            P("generic-secret", "header", f"Authorization: Bearer {rand(hexd, 40)}")
            P("generic-secret", "header", f"Authorization: Bearer v4.local.{rand(URLSAFE, 96)}")
            P("vendor-token", "body", json.dumps({"shopify": {"access_token": R.choice(["shpat_", "shpca_", "shppa_", "shpss_"]) + rand(hexd, 32)}}), content_type="application/json")
            P("twilio-key", "body", f"TWILIO_ACCOUNT_SID=AC{rand(hexd, 32)}\nTWILIO_AUTH_TOKEN={rand(hexd, 32)}\n", content_type="text/plain")
            P("twilio-key", "url", f"https://AC{rand(hexd, 32)}:{rand(hexd, 32)}@api.twilio.com/2010-04-01/Accounts.json")
            P("aws-access-key", "body", f"[default]\naws_access_key_id=AKIA{rand(upper32, 16)}\naws_secret_access_key={rand(ALNUM + '/+', 40)}\n", content_type="text/plain")
            P("aws-access-key", "body", json.dumps({"Credentials": {"AccessKeyId": "ASIA" + rand(upper32, 16), "SecretAccessKey": rand(ALNUM + "/+", 40), "SessionToken": rand(ALNUM + "/+", 120)}}), content_type="application/json")
            P("database-url", "body", f"DATABASE_URL=postgresql://app:{urllib.parse.quote(pw, safe='')}@db.internal:5432/app?sslmode=require\n", content_type="text/plain")
            P("database-url", "body", f"jdbc:sqlserver://sql.internal:1433;databaseName=app;user=sa;password={pw}\n", content_type="text/plain")
            P("generic-secret", "body", json.dumps({"config": {"apiKey": rand(ALNUM, 32)}}), content_type="application/json")
            P("generic-secret", "url", f"https://api.example-service.com/v1/data?apikey={rand(hexd, 32)}")
            P("generic-secret", "header", f"X-Auth-Token: {rand(ALNUM + '-_', 40)}")
            P("high-entropy", "header", f"{R.choice(['X-Debug-Data', 'X-Payload', 'X-Sync-Blob', 'X-Extra'])}: {rand(ALNUM + R.choice(['', '-_']), R.choice([36, 44, 64]))}")
        return out
    finally:
        R = saved


def write(name, items, directory=HERE):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        for i, item in enumerate(items):
            item = {"id": f"{name.split('.')[0]}-{i:04d}", **item}
            f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{path}: {len(items)} entries")


if __name__ == "__main__":
    if not (brotli and zstandard):
        print("note: brotli/zstandard not installed; br and zstd samples left out", file=sys.stderr)
    if sys.argv[1:2] == ["--keys"]:
        R.seed(os.urandom(16))
        write("keys.jsonl", positives(keys=True), directory=sys.argv[2])
    else:
        committed = positives(keys=False)
        benign = negatives()
        write("positives.jsonl", committed + PRESIGNED)
        write("negatives.jsonl", benign)
