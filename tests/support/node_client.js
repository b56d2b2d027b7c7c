// A Node client through the proxy: CONNECT, then TLS (trusting NODE_EXTRA_CA_CERTS), then
// one request. Node 20 has no HTTPS_PROXY support of its own, so the tunnel is opened here.
// usage: node node_client.js PROXY_HOST PROXY_PORT USER:SECRET TARGET_HOST TARGET_PORT METHOD PATH [BODY]
const http = require("http");
const https = require("https");
const [proxyHost, proxyPort, creds, host, port, method, path, body] = process.argv.slice(2);
const req = http.request({
  host: proxyHost,
  port: Number(proxyPort),
  method: "CONNECT",
  path: `${host}:${port}`,
  headers: { "Proxy-Authorization": "Basic " + Buffer.from(creds).toString("base64") },
});
req.on("connect", (res, socket) => {
  if (res.statusCode !== 200) {
    console.log(JSON.stringify({ connect: res.statusCode }));
    process.exit(0);
  }
  const inner = https.request({ host, port: Number(port), method, path, socket, servername: host, agent: false, headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {} }, (r) => {
    let data = "";
    r.on("data", (c) => (data += c));
    r.on("end", () => {
      console.log(JSON.stringify({ status: r.statusCode, body: data }));
      process.exit(0);
    });
  });
  inner.on("error", (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
  if (body) inner.write(body);
  inner.end();
});
req.on("error", (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
req.end();
