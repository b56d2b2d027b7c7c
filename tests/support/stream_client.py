"""Streams a chunked POST through the proxy (CONNECT, TLS trusting the proxy's CA), pausing
between chunks so that each arrives at the proxy on its own, and prints the status line (or
"closed" if the proxy cut the connection).

usage: stream_client.py PROXY_PORT USER:SECRET HOST PORT CA_FILE PATH HEX_CHUNK...
"""
import base64
import socket
import ssl
import sys
import time

proxy_port, creds, host, port, ca, path = sys.argv[1:7]
chunks = [bytes.fromhex(c) for c in sys.argv[7:]]
sock = socket.create_connection(("127.0.0.1", int(proxy_port)), timeout=10)
auth = base64.b64encode(creds.encode()).decode()
sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
reply = b""
while b"\r\n\r\n" not in reply:
    reply += sock.recv(4096)
assert reply.startswith(b"HTTP/1.1 200"), reply
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
tls = ctx.wrap_socket(sock, server_hostname=host)
try:
    tls.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n".encode())
    for chunk in chunks:
        time.sleep(0.3)
        tls.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    time.sleep(0.3)
    tls.sendall(b"0\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = tls.recv(65536)
        if not data:
            break
        answer += data
    print(answer.split(b"\r\n")[0].decode("latin1") if answer else "closed")
except (ssl.SSLError, OSError) as e:
    print("closed", type(e).__name__)
