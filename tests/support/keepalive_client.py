"""Sends requests one after another over one tunnel through the proxy (CONNECT, TLS trusting
the proxy's CA, HTTP/1.1 keep-alive), as the test asks for them: each line read on stdin is a
JSON request `{"path": ..., "headers": [[name, value], ...]}`, and for each one line is
printed: `{"status": N, "body": ...}`, or `{"closed": true}` when the connection is gone (it
is never reopened, so every answer came over the first connection) and the client exits.

usage: keepalive_client.py PROXY_PORT USER:SECRET HOST PORT CA_FILE
"""
import base64
import http.client
import json
import ssl
import sys

proxy_port, creds, host, port, ca = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["http/1.1"])
conn = http.client.HTTPSConnection("127.0.0.1", int(proxy_port), context=ctx, timeout=10)
conn.set_tunnel(host, int(port), headers={"Proxy-Authorization": "Basic " + base64.b64encode(creds.encode()).decode()})
conn.connect()
conn.auto_open = 0

for line in sys.stdin:
    request = json.loads(line)
    try:
        conn.putrequest("GET", request["path"], skip_accept_encoding=True)
        for name, value in request["headers"]:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        print(json.dumps({"status": response.status, "body": body}), flush=True)
        if response.will_close:
            print(json.dumps({"closed": True}), flush=True)
            break
    except (http.client.HTTPException, OSError):
        print(json.dumps({"closed": True}), flush=True)
        break
