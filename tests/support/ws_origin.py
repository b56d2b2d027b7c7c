"""A WebSocket origin (RFC 6455, with permessage-deflate when the client offers it) that
records the payload of every message it receives, unmasked, reassembled and inflated (and
gunzipped when it is gzip data), one
per line as hex, to a file. Proves which messages did, and did not, reach the upstream.

usage: ws_origin.py HOST PORT CERT KEY RECORD_FILE   (PORT 0 picks one; prints "ready PORT")
CERT and KEY "-" serve plain HTTP instead of TLS.
"""
import base64
import gzip
import hashlib
import socket
import ssl
import sys
import threading
import zlib

host, port, cert, key, record = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
lock = threading.Lock()


class Reader:
    def __init__(self, conn, buf=b""):
        self.conn, self.buf = conn, buf

    def take(self, n):
        while len(self.buf) < n:
            data = self.conn.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def handshake(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            raise EOFError
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    headers = {}
    for line in head.decode("latin1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
    deflate = "permessage-deflate" in headers.get("sec-websocket-extensions", "")
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"
    if deflate:
        answer += b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
    conn.sendall(answer + b"\r\n")
    return Reader(conn, rest)


def serve(conn):
    try:
        reader = handshake(conn)
        inflater = zlib.decompressobj(-15)
        message, compressed = b"", False
        while True:
            b0, b1 = reader.take(2)
            fin, rsv1, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x0F
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(reader.take(2), "big")
            elif length == 127:
                length = int.from_bytes(reader.take(8), "big")
            mask = reader.take(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.take(length)))
            if opcode == 8:
                break
            if opcode in (1, 2):
                message, compressed = payload, bool(rsv1)
            elif opcode == 0:
                message += payload
            else:
                continue
            if fin:
                data = inflater.decompress(message + b"\0\0\xff\xff") if compressed else message
                if data.startswith(b"\x1f\x8b"):
                    data = gzip.decompress(data)
                with lock, open(record, "a") as f:
                    f.write(data.hex() + "\n")
    except (EOFError, ssl.SSLError, OSError, KeyError, ValueError, zlib.error):
        pass
    finally:
        conn.close()


ctx = None
if cert != "-":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
sock = socket.socket(socket.AF_INET)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, port))
sock.listen(64)
print("ready", sock.getsockname()[1], flush=True)
while True:
    raw, _ = sock.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True) if ctx else raw
    except (ssl.SSLError, OSError):
        raw.close()
        continue
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
