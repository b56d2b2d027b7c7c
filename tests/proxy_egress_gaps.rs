//! Parts of a request that once left without being judged, each attacked through the real
//! proxy with a planted AWS key id (an origin records every byte it receives), and each with
//! a benign control of the same shape that must pass: header names and the method, a body
//! whose `Content-Encoding` is split over two fields, compressed bodies sent with no
//! `Content-Encoding` at all, `Expect: 100-continue`, raw control bytes in a tunnelled
//! request-target, odd CONNECT ports, plain-HTTP connections against the per-identity
//! connection limit, and the parts a keep-alive tunnel remembered as clean (changed by the
//! key, or under a reloaded policy). Payloads are built here or by Python's standard library
//! (and brotli, zstandard), never by the code under test.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::recording::Recorder;
use support::{
    OriginCerts, Place, Proxy, ProxySpec, SECRET, USER, basic, connect_head, parse_answer, raw, repo,
};

const HOST: Place<'static> = Place::Host;
/// Shaped like an AWS access key id; random, so no list of documented examples hides it.
const AWS_KEY: &str = "AKIAQ3XK7M2PZR5TLW4N";
/// The control: as long as the key, shaped like nothing a detector looks for.
const BENIGN: &str = "QUARTERLYREPORTVTWO0";

struct Bench {
    proxy: Proxy,
    tls: Recorder,
    plain: Recorder,
    dir: tempfile::TempDir,
}

fn bench(extra: &str) -> Bench {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let tls = Recorder::tls(&certs, dir.path(), "tls.bin");
    let plain = Recorder::plain(dir.path(), "plain.bin");
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n[[tools.egress]]\nid = \"plain\"\nhosts = [\"plain.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n",
        tls.port, plain.port
    );
    let spec = ProxySpec {
        tenant_policy: &policy,
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2"), ("plain.test", "127.0.0.2")],
        nameservers: &[],
        extra,
    };
    let proxy = Proxy::start(HOST, &spec);
    Bench {
        proxy,
        tls,
        plain,
        dir,
    }
}

/// Status and JSON body of a curl run through the proxy.
fn curl(b: &Bench, args: &[&str]) -> (u16, Value) {
    let mut all = vec!["-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let output = b.proxy.curl(HOST, &all);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn url(b: &Bench, path: &str) -> String {
    format!("https://api.test:{}{path}", b.tls.port)
}

/// Whether the origin got the key (in any letter case: h2 lowercases header names) since
/// `before` bytes of its record.
fn leaked(b: &Bench, before: usize) -> bool {
    std::thread::sleep(Duration::from_millis(100));
    let text = String::from_utf8_lossy(&b.tls.received()[before..]).to_ascii_uppercase();
    text.contains(AWS_KEY)
}

/// One attack and its control: the attack must be a 403 naming `location` (a prefix) with
/// nothing of the key at the origin, the control a 200.
fn expect_blocked(
    b: &Bench,
    name: &str,
    location: &str,
    send: &dyn Fn(&str) -> (u16, Value),
    failures: &mut Vec<String>,
) {
    let before = b.tls.received().len();
    let (status, json) = send(AWS_KEY);
    let found = json["location"].as_str().unwrap_or("");
    if status != 403 || json["reason"] != "secret_detected" || !found.starts_with(location) {
        failures.push(format!(
            "{name}: answered {status} {json}, expected 403 at {location}"
        ));
    }
    if leaked(b, before) {
        failures.push(format!("{name}: the key reached the origin"));
    }
    let (status, json) = send(BENIGN);
    if status != 200 {
        failures.push(format!("{name}: control answered {status} {json}"));
    }
}

fn assert_none(failures: Vec<String>) {
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn header_names_and_the_method_are_inspected() {
    let b = bench("");
    let mut failures = Vec::new();
    for http in ["--http1.1", "--http2"] {
        expect_blocked(
            &b,
            &format!("{http} header name"),
            "header-names",
            &|v| curl(&b, &[http, "-H", &format!("{v}: yes"), &url(&b, "/ok")]),
            &mut failures,
        );
        expect_blocked(
            &b,
            &format!("{http} method"),
            "method",
            &|v| curl(&b, &[http, "-X", v, &url(&b, "/ok")]),
            &mut failures,
        );
    }
    assert_none(failures);
}

/// Compresses with Python (tests/support/compress.py).
fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    // The project's Python: brotli and zstandard come with it (deploy/setup.sh).
    let mut child = Command::new(support::python())
        .arg(repo().join("tests/support/compress.py"))
        .arg(kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("compress.py");
    child.stdin.take().expect("stdin").write_all(data).expect("write");
    let output = child.wait_with_output().expect("compress.py");
    assert!(output.status.success(), "compress.py {kind} failed");
    output.stdout
}

fn document(value: &str) -> Vec<u8> {
    format!("{{\"note\": \"deploy\", \"ref\": \"{value}\"}}").into_bytes()
}

/// POSTs `body` with these extra headers.
fn post(b: &Bench, http: &str, headers: &[String], body: &[u8]) -> (u16, Value) {
    let file = b.dir.path().join(format!("body-{}.bin", std::process::id()));
    std::fs::write(&file, body).expect("body");
    let data = format!("@{}", file.display());
    let mut args: Vec<&str> = vec![http];
    for h in headers {
        args.extend(["-H", h.as_str()]);
    }
    let target = url(b, "/upload");
    args.extend(["--data-binary", &data, &target]);
    curl(b, &args)
}

#[test]
fn repeated_content_encoding_fields_are_one_list() {
    let b = bench("");
    let mut failures = Vec::new();
    let headers = [
        "Content-Type: application/json".to_owned(),
        "Content-Encoding: identity".to_owned(),
        "Content-Encoding: gzip".to_owned(),
    ];
    for http in ["--http1.1", "--http2"] {
        expect_blocked(
            &b,
            &format!("{http} identity then gzip"),
            "body@",
            &|v| post(&b, http, &headers, &compress("gzip", &document(v))),
            &mut failures,
        );
    }
    assert_none(failures);
}

#[test]
fn compressed_bodies_are_sniffed_without_content_encoding() {
    let b = bench("");
    let mut failures = Vec::new();
    for (kind, content_type) in [
        ("gzip", "application/gzip"),
        ("gzip", "application/octet-stream"),
        ("deflate", "application/octet-stream"),
        ("zstd", "application/octet-stream"),
        ("zip", "application/zip"),
        ("br", "application/x-brotli"),
    ] {
        let headers = [format!("Content-Type: {content_type}")];
        expect_blocked(
            &b,
            &format!("{kind} as {content_type}"),
            "body@",
            &|v| post(&b, "--http1.1", &headers, &compress(kind, &document(v))),
            &mut failures,
        );
    }
    // A body that only starts like gzip is judged as it is, and passes when clean.
    let lookalike = [&[0x1f, 0x8b, 0x08][..], b" not really gzip"].concat();
    let (status, json) = post(
        &b,
        "--http1.1",
        &["Content-Type: application/octet-stream".to_owned()],
        &lookalike,
    );
    if status != 200 {
        failures.push(format!("gzip look-alike answered {status} {json}"));
    }
    assert_none(failures);
}

#[test]
fn a_secret_after_100_continue_is_answered_403() {
    let b = bench("");
    let mut failures = Vec::new();
    let headers = [
        "Content-Type: application/json".to_owned(),
        "Expect: 100-continue".to_owned(),
    ];
    for http in ["--http1.1", "--http2"] {
        expect_blocked(
            &b,
            &format!("{http} Expect: 100-continue"),
            "body@",
            &|v| post(&b, http, &headers, &document(v)),
            &mut failures,
        );
    }
    assert_none(failures);
}

/// Sends `bytes` inside a TLS tunnel to the TLS origin; returns the answer's status.
fn tunnelled(b: &Bench, bytes: &[u8]) -> (u16, Option<Value>) {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let output = Command::new("python3")
        .arg(repo().join("tests/support/tls_raw.py"))
        .arg(b.proxy.port.to_string())
        .arg(format!("{USER}:{SECRET}"))
        .args(["api.test", &b.tls.port.to_string()])
        .arg(b.proxy.ca())
        .arg(hex)
        .output()
        .expect("tls_raw.py");
    parse_answer(&String::from_utf8_lossy(&output.stdout))
}

#[test]
fn control_bytes_in_a_tunnelled_request_target_are_refused() {
    let b = bench("");
    let mut failures = Vec::new();
    for byte in [0x00u8, 0x01, 0x1f, 0x7f] {
        let line = |middle: &[u8]| {
            [
                &b"GET /a"[..],
                middle,
                format!("b HTTP/1.1\r\nHost: api.test:{}\r\n\r\n", b.tls.port).as_bytes(),
            ]
            .concat()
        };
        let before = b.tls.received().len();
        let (status, json) = tunnelled(&b, &line(&[byte]));
        std::thread::sleep(Duration::from_millis(100));
        let reached = b.tls.received().len() > before;
        if status != 400 || reached {
            failures.push(format!(
                "byte {byte:#04x}: answered {status} {json:?}, origin reached: {reached}"
            ));
        }
        // The same byte percent-encoded by the client is an ordinary request-target.
        let (status, json) = tunnelled(&b, &line(format!("%{byte:02X}").as_bytes()));
        if status != 200 {
            failures.push(format!("%{byte:02X}: control answered {status} {json:?}"));
        }
    }
    assert_none(failures);
}

#[test]
fn connect_ports_are_parsed_strictly() {
    let b = bench("");
    let port = b.tls.port;
    for odd in [format!("+{port}"), format!("0{port}"), format!("{port} ")] {
        let (status, json) = parse_answer(&raw(
            HOST,
            b.proxy.port,
            &connect_head(&format!("api.test:{odd}")),
            5.0,
        ));
        assert_eq!(
            (status, json.as_ref().and_then(|j| j["reason"].as_str())),
            (400, Some("bad_request")),
            "CONNECT api.test:{odd}"
        );
    }
    let answer = raw(
        HOST,
        b.proxy.port,
        &connect_head(&format!("api.test:{port}")),
        5.0,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A plain-HTTP connection kept open after one request (with its answer read).
fn plain_connection(b: &Bench) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", b.proxy.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!(
        "GET http://plain.test:{}/ok HTTP/1.1\r\nHost: plain.test:{}\r\nProxy-Authorization: {}\r\n\r\n",
        b.plain.port,
        b.plain.port,
        basic(USER, SECRET)
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    (stream, String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn plain_connections_count_towards_the_identity_limit() {
    let b = bench("[limits]\nmax_connections_per_identity = 2\n");
    let (first, a) = plain_connection(&b);
    let (second, c) = plain_connection(&b);
    assert!(
        a.starts_with("HTTP/1.1 200") && c.starts_with("HTTP/1.1 200"),
        "{a}\n{c}"
    );
    let (_third, answer) = plain_connection(&b);
    let (status, json) = parse_answer(&answer);
    assert_eq!(
        (status, json.as_ref().and_then(|j| j["reason"].as_str())),
        (429, Some("too_many_connections")),
        "{answer}"
    );
    // A tunnel is held against the same limit.
    let tunnel = raw(
        HOST,
        b.proxy.port,
        &connect_head(&format!("api.test:{}", b.tls.port)),
        5.0,
    );
    assert!(tunnel.contains("too_many_connections"), "{tunnel}");
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_again, answer) = plain_connection(&b);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(second);
}

/// A raw HTTP/1.1 connection to the proxy that sends `requests` one after another (keep-alive)
/// and returns everything answered; each answer is read whole (by its length, or to its last
/// chunk) before the next request goes.
fn keep_alive(b: &Bench, requests: &[Vec<u8>]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", b.proxy.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let mut answers = Vec::new();
    for request in requests {
        if stream.write_all(request).is_err() {
            break;
        }
        let start = answers.len();
        let mut chunk = [0u8; 4096];
        while !answer_complete(&answers[start..]) {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&answers).into_owned(),
                Ok(n) => answers.extend_from_slice(&chunk[..n]),
            }
        }
    }
    String::from_utf8_lossy(&answers).into_owned()
}

/// Whether `bytes` hold one whole HTTP/1.1 answer: its head, and all of a body of declared
/// length or a chunked body to its last chunk.
fn answer_complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let head = head.to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with("0\r\n\r\n");
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

#[test]
fn control_bytes_in_a_later_plain_request_target_are_refused() {
    let b = bench("");
    let request = |middle: &[u8]| {
        [
            format!("GET http://plain.test:{}/a", b.plain.port).as_bytes(),
            middle,
            format!(
                "b HTTP/1.1\r\nHost: plain.test:{}\r\nProxy-Authorization: {}\r\n\r\n",
                b.plain.port,
                basic(USER, SECRET)
            )
            .as_bytes(),
        ]
        .concat()
    };
    let before = b.plain.received().len();
    let answers = keep_alive(&b, &[request(b""), request(b"\x00")]);
    std::thread::sleep(Duration::from_millis(100));
    let reached = String::from_utf8_lossy(&b.plain.received()[before..])
        .matches("GET /a")
        .count();
    assert!(
        answers.starts_with("HTTP/1.1 200") && answers.contains("HTTP/1.1 400") && reached == 1,
        "answers {answers:?}; requests at the origin: {reached}"
    );
    // Percent-encoded by the client, it is an ordinary target.
    let answers = keep_alive(&b, &[request(b""), request(b"%00")]);
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 2, "{answers}");
}

/// One tunnel with keep-alive (tests/support/keepalive_client.py): each request goes over the
/// same TLS connection, and a closed connection is reported, never reopened.
struct Tunnel {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Tunnel {
    fn open(b: &Bench) -> Self {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/keepalive_client.py"))
            .arg(b.proxy.port.to_string())
            .arg(format!("{USER}:{SECRET}"))
            .args(["api.test", &b.tls.port.to_string()])
            .arg(b.proxy.ca())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("keepalive_client.py");
        let input = child.stdin.take().expect("stdin");
        let output = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Self { child, input, output }
    }

    /// Status and JSON answer of a GET of `path` with `headers`; 0 once the connection is gone.
    fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        use std::io::BufRead;
        let request = serde_json::json!({ "path": path, "headers": headers });
        if writeln!(self.input, "{request}").is_err() {
            return (0, Value::Null);
        }
        let mut line = String::new();
        self.output.read_line(&mut line).expect("answer");
        let answer: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let status = answer["status"].as_u64().unwrap_or(0) as u16;
        let body = answer["body"].as_str().unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many times the origin has received `needle` so far.
fn received_times(b: &Bench, needle: &str) -> usize {
    std::thread::sleep(Duration::from_millis(100));
    String::from_utf8_lossy(&b.tls.received()).matches(needle).count()
}

/// A GET: its path and headers.
type Get = (String, Vec<(String, String)>);

fn get(path: &str, headers: &[(&str, &str)]) -> Get {
    let headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    (path.to_owned(), headers)
}

impl Tunnel {
    fn send(&mut self, (path, headers): &Get) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        self.get(path, &headers)
    }
}

#[test]
fn a_keep_alive_tunnel_judges_every_changed_part_again() {
    // A tunnel remembers which parts of its requests were judged clean (proxy/src/clean.rs).
    // Each attack first gets a part remembered (sent twice, so the second is answered from
    // the memory), then sends on the same connection what differs from it by the key.
    let b = bench("");
    let key = AWS_KEY;
    // Clean under a name that says nothing, a secret under one that names a password.
    const PASSWORD: &str = "Vq7#rT2!mZ9wLx4K";
    let lower = key.to_ascii_lowercase();
    let attacks = [
        (
            "header value",
            get("/ok", &[("X-Trace", BENIGN)]),
            get("/ok", &[("X-Trace", key)]),
        ),
        (
            "a value that extends the remembered one",
            get("/ok", &[("X-Trace", BENIGN)]),
            get("/ok", &[("X-Trace", &format!("{BENIGN},{key}"))]),
        ),
        (
            "a value that differs only in letter case",
            get("/ok", &[("X-Trace", &lower)]),
            get("/ok", &[("X-Trace", key)]),
        ),
        (
            "the remembered value under another name",
            get("/ok", &[("X-Note", PASSWORD)]),
            get("/ok", &[("X-Password", PASSWORD)]),
        ),
        (
            "path",
            get(&format!("/ok?q={BENIGN}"), &[]),
            get(&format!("/ok?q={key}"), &[]),
        ),
        (
            "header name",
            get("/ok", &[(&format!("X-{BENIGN}"), "1")]),
            get("/ok", &[(&format!("X-{key}"), "1")]),
        ),
    ];
    let mut failures = Vec::new();
    for (name, first, then) in &attacks {
        let mut tunnel = Tunnel::open(&b);
        for round in 0..2 {
            let (status, json) = tunnel.send(first);
            if status != 200 {
                failures.push(format!("{name}: benign request {round} answered {status} {json}"));
            }
        }
        let before = b.tls.received().len();
        let (status, json) = tunnel.send(then);
        if status != 403 || json["reason"] != "secret_detected" {
            failures.push(format!("{name}: the attack answered {status} {json}"));
        }
        let (path, headers) = then;
        let sent = match headers.first() {
            Some((n, v)) => format!("{n}: {v}"),
            None => format!("GET {path} "),
        };
        std::thread::sleep(Duration::from_millis(100));
        if String::from_utf8_lossy(&b.tls.received()[before..]).contains(&sent) {
            failures.push(format!("{name}: the attack reached the origin"));
        }
    }
    assert_none(failures);
}

#[test]
fn a_policy_reload_makes_a_keep_alive_tunnel_judge_its_parts_again() {
    // An IBAN in a header passes while the optional `iban` detector is off, and the tunnel
    // remembers that header as clean. Once a reload switches the detector on, the same
    // header on the same connection is refused.
    let b = bench("");
    let iban = "GB33BUKB20201555555555";
    let header = [("X-Payout", iban)];
    let mut tunnel = Tunnel::open(&b);
    for round in 0..2 {
        let (status, json) = tunnel.get("/ok", &header);
        assert_eq!(status, 200, "round {round}: {json}");
    }
    assert_eq!(received_times(&b, iban), 2);
    let policy = std::fs::read_to_string(b.proxy.policy_path()).expect("policy");
    let strict = policy.replace("[[tools]]\n", "[detectors]\nenable = [\"iban\"]\n[[tools]]\n");
    assert_ne!(strict, policy);
    std::fs::write(b.proxy.policy_path(), strict).expect("policy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.proxy.log_text().matches("policies reloaded").count() < 1 {
        assert!(Instant::now() < deadline, "no reload: {}", b.proxy.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, json) = tunnel.get("/ok", &header);
    assert_eq!(
        (status, json["reason"].as_str()),
        (403, Some("secret_detected")),
        "{json}"
    );
    assert_eq!(received_times(&b, iban), 2, "the IBAN left after the reload");
    // The detector is what refuses it: on a new tunnel it is refused too.
    let (status, _) = Tunnel::open(&b).get("/ok", &header);
    assert_eq!(status, 403);
}
