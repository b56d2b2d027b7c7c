"""A TLS origin that records every byte it receives (decrypted) to a file, and answers each
complete request with 200 (after an interim 100 Continue when the client asks with Expect).
Proves what did, and did not, reach the upstream.

usage: recorder.py HOST PORT CERT KEY RECORD_FILE   (PORT 0 picks one; prints "ready PORT")
CERT and KEY "-" serve plain HTTP instead of TLS.
"""
import socket
import ssl
import sys
import threading

host, port, cert, key, record = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
lock = threading.Lock()


def complete(buf):
    """Length of the first complete request in buf, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin1").lower()
    body = end + 4
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length":
            need = body + int(value.strip())
            return need if len(buf) >= need else None
        if name.strip() == "transfer-encoding" and "chunked" in value:
            last = buf.find(b"\r\n0\r\n\r\n", body - 2)
            return last + 7 if last >= 0 else None
    return body


def serve(conn):
    buf = b""
    continued = False
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            with lock, open(record, "ab") as f:
                f.write(data)
            buf += data
            head_end = buf.find(b"\r\n\r\n")
            # As real servers do: an interim 100 for a client that waits for one.
            if head_end >= 0 and not continued and b"expect: 100-continue" in buf[:head_end].lower():
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                continued = True
            n = complete(buf)
            while n is not None:
                buf = buf[n:]
                continued = False
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
                n = complete(buf)
    except (ssl.SSLError, OSError):
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
