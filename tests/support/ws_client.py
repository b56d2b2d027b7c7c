"""A WebSocket client that goes through the proxy (CONNECT and TLS trusting the proxy's CA,
or an absolute-form request on plain HTTP), upgrades, and sends messages built here, with
Python's standard library only. Prints the upgrade answer's status line, then "sent N" for
each message the connection took, or "closed" once it no longer does.

usage: ws_client.py PROXY_PORT USER:SECRET tls|plain HOST PORT CA_FILE KIND:HEX...
KIND: text (one masked frame), unmasked (one frame, no mask), frag (three fragments with a
ping between them), deflate (permessage-deflate, the window kept across messages), gzip (a
binary message of gzip data, no extension).
"""
import base64
import gzip
import os
import socket
import ssl
import sys
import time
import zlib

proxy_port, creds, mode, host, port, ca = sys.argv[1:7]
messages = [m.split(":", 1) for m in sys.argv[7:]]
deflate = any(kind == "deflate" for kind, _ in messages)
auth = "Proxy-Authorization: Basic " + base64.b64encode(creds.encode()).decode() + "\r\n"
sock = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=5)
if mode == "tls":
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    sock = ctx.wrap_socket(sock, server_hostname=host)
    target, proxy_auth = "/ws", ""
else:
    target, proxy_auth = f"http://{host}:{port}/ws", auth
key = base64.b64encode(os.urandom(16)).decode()
extensions = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
sock.sendall(
    f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n{proxy_auth}Upgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n".encode()
)
answer = b""
while b"\r\n\r\n" not in answer:
    data = sock.recv(65536)
    if not data:
        break
    answer += data
print(answer.split(b"\r\n")[0].decode("latin1") if answer else "closed", flush=True)
if not answer.startswith(b"HTTP/1.1 101"):
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass
    print(answer.split(b"\r\n\r\n", 1)[-1].decode("latin1"), flush=True)
    sys.exit(0)


def frame(fin, rsv1, opcode, payload, masked=True):
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([bit | len(payload)])
    elif len(payload) < 65536:
        head += bytes([bit | 126]) + len(payload).to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + len(payload).to_bytes(8, "big")
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


compressor = zlib.compressobj(wbits=-15)
for n, (kind, data) in enumerate(messages, 1):
    data = bytes.fromhex(data)
    if kind == "text":
        wire = frame(True, False, 1, data)
    elif kind == "unmasked":
        wire = frame(True, False, 1, data, masked=False)
    elif kind == "frag":
        third = max(1, len(data) // 3)
        wire = (frame(False, False, 1, data[:third]) + frame(True, False, 9, b"ping")
                + frame(False, False, 0, data[third:2 * third]) + frame(True, False, 0, data[2 * third:]))
    elif kind == "gzip":
        wire = frame(True, False, 2, gzip.compress(data))
    elif kind == "deflate":
        packed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        wire = frame(True, True, 1, packed[:-4])
    else:
        sys.exit(f"unknown kind {kind}")
    try:
        sock.sendall(wire)
        time.sleep(0.4)
        sock.sendall(frame(True, False, 9, b"still there?"))
        time.sleep(0.2)
        print("sent", n, flush=True)
    except OSError:
        print("closed", flush=True)
        break
try:
    sock.sendall(frame(True, False, 8, b"\x03\xe8"))
except OSError:
    pass
time.sleep(0.3)
