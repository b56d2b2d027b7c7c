"""Sends raw bytes to a TCP server and prints what comes back (until close or timeout).

usage: raw.py HOST PORT HEX_BYTES [TIMEOUT_SECONDS]
"""
import socket
import sys

host, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
sock = socket.create_connection((host, port), timeout=timeout)
sock.sendall(payload)
out = b""
try:
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out += chunk
        if b"\r\n\r\n" in out and out.startswith(b"HTTP/1.1 200 Connection"):
            break
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin1"))
