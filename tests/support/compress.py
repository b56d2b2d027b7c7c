"""Compresses stdin to stdout with an independent implementation (Python's standard library,
brotli, zstandard), to build request bodies without the code under test.

usage: compress.py gzip|deflate|br|zstd|zip|bomb   (bomb: 40 MiB of zeros, gzip'd; stdin unused)
"""
import gzip
import sys
import zlib

kind = sys.argv[1]
if kind == "bomb":
    out = gzip.compress(b"\0" * (40 << 20), 9)
else:
    data = sys.stdin.buffer.read()
    if kind == "gzip":
        out = gzip.compress(data)
    elif kind == "deflate":
        out = zlib.compress(data)  # HTTP "deflate" is the zlib format
    elif kind == "br":
        import brotli
        out = brotli.compress(data)
    elif kind == "zip":
        import io
        import zipfile
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("notes/report.json", data)
        out = buffer.getvalue()
    elif kind == "zstd":
        import zstandard
        out = zstandard.ZstdCompressor().compress(data)
    else:
        sys.exit(f"unknown kind {kind}")
sys.stdout.buffer.write(out)
