"""CONNECT through the proxy, then TLS with a chosen SNI (certificate not verified: the
point is what the proxy does with a mismatched SNI), then one GET with a chosen Host.

usage: sni_client.py PROXY_PORT USER:SECRET TARGET_HOST TARGET_PORT SNI HOST_HEADER
"""
import base64
import socket
import ssl
import sys

proxy_port, creds, host, port, sni, host_header = sys.argv[1:7]
sock = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=10)
auth = base64.b64encode(creds.encode()).decode()
sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
reply = b""
while b"\r\n\r\n" not in reply:
    reply += sock.recv(4096)
assert reply.startswith(b"HTTP/1.1 200"), reply
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
tls = ctx.wrap_socket(sock, server_hostname=sni)
tls.sendall(f"GET /ok HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode())
out = b""
while True:
    chunk = tls.recv(65536)
    if not chunk:
        break
    out += chunk
print(out.decode("latin1"))
