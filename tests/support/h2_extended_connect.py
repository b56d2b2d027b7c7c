"""A raw HTTP/2 client that tries WebSocket over HTTP/2 (RFC 8441, extended CONNECT) through
the proxy: CONNECT to the proxy, TLS with ALPN h2 to the intercepted host, then a HEADERS
frame with `:method CONNECT` and `:protocol websocket` whether or not the server allowed it
(SETTINGS_ENABLE_CONNECT_PROTOCOL), then a DATA frame carrying PAYLOAD. Written by hand,
frame by frame (HPACK literals without indexing or Huffman), so that no client library
refuses on the server's behalf.

Usage: h2_extended_connect.py PROXY_PORT USER SECRET HOST PORT CA_FILE PAYLOAD
Prints one JSON object: {"alpn", "enable_connect_protocol", "frames": [[type, stream, code]]}.
"""

import base64
import json
import socket
import ssl
import struct
import sys
import time

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    """An HPACK literal header field without indexing, new name, no Huffman."""
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def read_frame(sock):
    head = b""
    while len(head) < 9:
        more = sock.recv(9 - len(head))
        if not more:
            return None
        head += more
    length = int.from_bytes(head[:3], "big")
    kind, flags = head[3], head[4]
    stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
    payload = b""
    while len(payload) < length:
        more = sock.recv(length - len(payload))
        if not more:
            return None
        payload += more
    return kind, flags, stream, payload


def main(proxy_port, user, secret, host, port, ca, payload):
    raw = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=5)
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    raw.sendall(
        f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(4096)
    if not answer.startswith(b"HTTP/1.1 200"):
        print(json.dumps({"connect": answer.split(b"\r\n")[0].decode()}))
        return
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(raw, server_hostname=host)
    alpn = sock.selected_alpn_protocol()
    out = {"alpn": alpn, "enable_connect_protocol": False, "frames": []}
    if alpn != "h2":
        print(json.dumps(out))
        return
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
    # The server's SETTINGS: does it allow extended CONNECT (0x8 = 1)?
    while True:
        got = read_frame(sock)
        if got is None:
            break
        kind, flags, stream, body = got
        if kind == SETTINGS and not flags & 1:
            for i in range(0, len(body), 6):
                ident, value = struct.unpack(">HI", body[i:i + 6])
                if ident == 0x8 and value == 1:
                    out["enable_connect_protocol"] = True
            sock.sendall(frame(SETTINGS, 1, 0))
            break
    block = b"".join([
        literal(":method", "CONNECT"),
        literal(":protocol", "websocket"),
        literal(":scheme", "https"),
        literal(":path", "/ws"),
        literal(":authority", f"{host}:{port}"),
        literal("sec-websocket-version", "13"),
    ])
    sock.sendall(frame(HEADERS, 0x4, 1, block))  # END_HEADERS, the stream stays open
    # A masked WebSocket text frame with the payload, as DATA on the stream.
    data = payload.encode()
    mask = b"\x01\x02\x03\x04"
    ws = bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    try:
        sock.sendall(frame(DATA, 0, 1, ws))
    except OSError:
        pass
    deadline = time.time() + 3
    sock.settimeout(0.5)
    while time.time() < deadline:
        try:
            got = read_frame(sock)
        except (socket.timeout, ssl.SSLError, OSError):
            continue
        if got is None:
            out["frames"].append(["closed", 0, 0])
            break
        kind, flags, stream, body = got
        if kind == RST_STREAM:
            out["frames"].append(["rst_stream", stream, int.from_bytes(body[:4], "big")])
        elif kind == GOAWAY:
            out["frames"].append(["goaway", stream, int.from_bytes(body[4:8], "big")])
            break
        elif kind == HEADERS:
            out["frames"].append(["headers", stream, 0])
        elif kind == DATA:
            out["frames"].append(["data", stream, len(body)])
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
