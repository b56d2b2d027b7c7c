"""Sends raw bytes inside a TLS tunnel through the proxy (CONNECT, TLS trusting the proxy's
CA, HTTP/1.1) and prints what comes back until the connection closes or goes quiet.

usage: tls_raw.py PROXY_PORT USER:SECRET HOST PORT CA_FILE HEX_BYTES
"""
import base64
import socket
import ssl
import sys

proxy_port, creds, host, port, ca, payload = sys.argv[1:7]
sock = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=3)
auth = base64.b64encode(creds.encode()).decode()
sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
reply = b""
while b"\r\n\r\n" not in reply:
    reply += sock.recv(4096)
assert reply.startswith(b"HTTP/1.1 200"), reply
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
tls = ctx.wrap_socket(sock, server_hostname=host)
tls.sendall(bytes.fromhex(payload))
out = b""
try:
    while True:
        data = tls.recv(65536)
        if not data:
            break
        out += data
        if b"\r\n\r\n" in out:
            head, _, body = out.partition(b"\r\n\r\n")
            length = [l for l in head.lower().split(b"\r\n") if l.startswith(b"content-length:")]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
except (socket.timeout, ssl.SSLError, OSError):
    pass
sys.stdout.write(out.decode("latin1"))
