"""Reads a `/paced` answer of tests/support/upstream.py through the proxy (CONNECT, TLS
trusting the proxy's CA, HTTP/1.1), acknowledging the head and then each event as soon as
it holds it, and prints what it got as JSON: the status, the `x-tollgate-output` header,
how many pieces it acknowledged, the body, and `stalled` when a piece did not come within
5 s (the origin sends nothing more until the client has the piece before).

usage: paced_client.py PROXY_PORT USER:SECRET HOST PORT CA_FILE ID TYPE EVENTS LAST
"""
import base64
import http.client
import json
import socket
import ssl
import sys
import urllib.parse

proxy_port, creds, host, port, ca, paced_id, content_type, events, last = sys.argv[1:10]
events = int(events)
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
auth = {"Proxy-Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}


def tunnel():
    conn = http.client.HTTPSConnection("127.0.0.1", int(proxy_port), context=ctx, timeout=5)
    conn.set_tunnel(host, int(port), headers=auth)
    return conn


acks = tunnel()


def ack(n):
    acks.request("GET", f"/paced-ack?id={paced_id}&n={n}")
    acks.getresponse().read()


query = urllib.parse.urlencode({"id": paced_id, "type": content_type, "events": events, "last": last})
conn = tunnel()
conn.request("GET", f"/paced?{query}")
out = {"acked": -1, "body": ""}
body = b""
try:
    response = conn.getresponse()
    out["status"] = response.status
    out["header"] = response.getheader("x-tollgate-output")
    ack(0)
    out["acked"] = 0
    while True:
        piece = response.read1()
        if not piece:
            break
        body += piece
        held = body.count(b"\n\n")
        while out["acked"] < min(held, events):
            ack(out["acked"] + 1)
            out["acked"] += 1
except (socket.timeout, TimeoutError):
    out["stalled"] = True
out["body"] = body.decode("utf-8", "replace")
print(json.dumps(out))
