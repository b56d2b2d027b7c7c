//! Every location and encoding of issue 4, end to end: a real client sends a request carrying
//! a secret through the proxy, which must answer 403 `secret_detected` naming the location and
//! the encoding, while an origin that records every byte it receives gets nothing of it. Each
//! case runs again with a benign value of the same shape in place of the secret, which must
//! pass. Payloads are built here (or by Python's standard library, brotli and zstandard),
//! never by the code under test.

mod support;

use std::io::Write as _;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;
use support::recording::Recorder;
use support::{OriginCerts, Place, Proxy, ProxySpec, SECRET, USER, basic, connect_head, parse_answer, raw};

const HOST: Place<'static> = Place::Host;
/// Shaped like an AWS access key id; random, so no allowlist of documented examples hides it.
const AWS_KEY: &str = "AKIAQ3XK7M2PZR5TLW4N";
/// The control: as long as the key, but shaped like nothing a detector looks for.
const BENIGN: &str = "quarterly-report-v20";
/// In the operator's known-secrets list. It has no shape any rule knows, so only known-secret
/// matching can catch it.
const KNOWN: &str = "corp-vault-unseal-Horse-Staple-4417";
/// One character away from the listed value, and not listed.
const KNOWN_CONTROL: &str = "corp-vault-unseal-Horse-Staple-4418";

struct Bench {
    proxy: Proxy,
    tls: Recorder,
    plain: Recorder,
    /// The nameserver the proxy asks: a name that reaches it got past inspection.
    dns: UdpSocket,
    dir: tempfile::TempDir,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let tls = Recorder::tls(&certs, dir.path(), "tls.bin");
    let plain = Recorder::plain(dir.path(), "plain.bin");
    let dns = UdpSocket::bind("127.0.0.1:0").expect("udp");
    dns.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let known = dir.path().join("known-secrets.txt");
    std::fs::write(&known, format!("# operator-listed values\n\n{KNOWN}\n")).expect("known");
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n[[tools.egress]]\nid = \"plain\"\nhosts = [\"plain.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n[[tools.egress]]\nid = \"wild\"\nhosts = [\"*.wild.test\"]\n",
        tls.port, plain.port
    );
    let nameservers = [dns.local_addr().expect("addr").to_string()];
    let extra = format!("known_secrets = \"{}\"", known.display());
    let spec = ProxySpec {
        tenant_policy: &policy,
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2"), ("plain.test", "127.0.0.2")],
        nameservers: &nameservers,
        extra: &extra,
    };
    let proxy = Proxy::start(HOST, &spec);
    Bench {
        proxy,
        tls,
        plain,
        dns,
        dir,
    }
}

/// One request, as a client sends it.
enum Request {
    /// `GET https://api.test/...` through CONNECT, with extra headers.
    Get { target: String, headers: Vec<String> },
    /// `POST https://api.test/upload` with this body and headers.
    Post { headers: Vec<String>, body: Vec<u8> },
    /// Raw bytes of an absolute-form plain-HTTP request (`{port}` is the plain origin's).
    Plain(String),
    /// `CONNECT host:443`.
    Connect(String),
}

/// Builds the request carrying `value` (the secret, or the control in its place).
type Build = Box<dyn Fn(&str) -> Request>;

struct Case {
    name: &'static str,
    build: Build,
    secret: &'static str,
    control: &'static str,
    /// `url.query`, `header.x-debug`...; `body@` matches any body offset.
    location: &'static str,
    /// A step the encoding chain must name (`plain` for none).
    encoding: &'static str,
    detector: Option<&'static str>,
    /// The control request, when it is not `build` given the control value.
    control_build: Option<Build>,
}

impl Case {
    fn control_with(self, build: impl Fn(&str) -> Request + 'static) -> Self {
        Self {
            control_build: Some(Box::new(build)),
            ..self
        }
    }
}

fn case(
    name: &'static str,
    location: &'static str,
    encoding: &'static str,
    build: impl Fn(&str) -> Request + 'static,
) -> Case {
    Case {
        name,
        build: Box::new(build),
        secret: AWS_KEY,
        control: BENIGN,
        location,
        encoding,
        detector: None,
        control_build: None,
    }
}

fn known_case(
    name: &'static str,
    location: &'static str,
    encoding: &'static str,
    build: impl Fn(&str) -> Request + 'static,
) -> Case {
    Case {
        secret: KNOWN,
        control: KNOWN_CONTROL,
        detector: Some("known-secret"),
        ..case(name, location, encoding, build)
    }
}

fn get(target: String) -> Request {
    Request::Get {
        target,
        headers: Vec::new(),
    }
}

fn header(name: &str, value: String) -> Request {
    Request::Get {
        target: "/ok".to_owned(),
        headers: vec![format!("{name}: {value}")],
    }
}

fn post(content_type: &str, content_encoding: Option<&str>, body: Vec<u8>) -> Request {
    let mut headers = vec![format!("Content-Type: {content_type}")];
    headers.extend(content_encoding.map(|e| format!("Content-Encoding: {e}")));
    Request::Post { headers, body }
}

fn text(value: String) -> Request {
    post("text/plain", None, value.into_bytes())
}

/// What the proxy answered: status and JSON body.
fn send(b: &Bench, request: &Request) -> (u16, Value) {
    match request {
        Request::Get { target, headers } => {
            let url = format!("https://api.test:{}{target}", b.tls.port);
            let mut args: Vec<&str> = Vec::new();
            for h in headers {
                args.extend(["-H", h.as_str()]);
            }
            args.push(&url);
            curl_json(b, &args)
        }
        Request::Post { headers, body } => {
            let file = b.dir.path().join("body.bin");
            std::fs::write(&file, body).expect("body");
            let url = format!("https://api.test:{}/upload", b.tls.port);
            let data = format!("@{}", file.display());
            let mut args: Vec<&str> = Vec::new();
            for h in headers {
                args.extend(["-H", h.as_str()]);
            }
            args.extend(["--data-binary", &data, &url]);
            curl_json(b, &args)
        }
        Request::Plain(head) => {
            let head = head
                .replace("{port}", &b.plain.port.to_string())
                .replace("{auth}", &format!("Proxy-Authorization: {}", basic(USER, SECRET)));
            let (status, json) = parse_answer(&raw(HOST, b.proxy.port, head.as_bytes(), 5.0));
            (status, json.unwrap_or(Value::Null))
        }
        Request::Connect(host) => {
            let (status, json) = parse_answer(&raw(
                HOST,
                b.proxy.port,
                &connect_head(&format!("{host}:443")),
                5.0,
            ));
            (status, json.unwrap_or(Value::Null))
        }
    }
}

fn curl_json(b: &Bench, args: &[&str]) -> (u16, Value) {
    let mut all = vec!["-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let output = b.proxy.curl(HOST, &all);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (
        code.parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// Bytes both origins have recorded so far.
fn recorded(b: &Bench) -> (usize, usize) {
    (b.tls.received().len(), b.plain.received().len())
}

/// What reached an origin since `before`: nothing of a blocked head, and no body byte.
fn leaked(b: &Bench, before: (usize, usize), secret: &str) -> Option<String> {
    std::thread::sleep(Duration::from_millis(100));
    let tls = b.tls.received();
    let plain = b.plain.received();
    for new in [&tls[before.0..], &plain[before.1..]] {
        let text = String::from_utf8_lossy(new);
        if text.contains(secret) {
            return Some("the secret itself reached the origin".to_owned());
        }
        let body = new
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&new[..0], |p| &new[p + 4..]);
        if !body.is_empty() {
            return Some(format!("{} body bytes reached the origin", body.len()));
        }
    }
    None
}

/// A CONNECT whose answer (a lookup that times out) is not awaited.
fn send_quickly(b: &Bench, host: &str) -> (u16, Value) {
    let answer = raw(HOST, b.proxy.port, &connect_head(&format!("{host}:443")), 0.5);
    let (status, json) = parse_answer(&answer);
    (status, json.unwrap_or(Value::Null))
}

/// Whether a DNS query for `host` reached the test's nameserver.
fn looked_up(b: &Bench, host: &str) -> bool {
    let wire: Vec<u8> = host
        .split('.')
        .flat_map(|label| std::iter::once(label.len() as u8).chain(label.bytes()))
        .collect();
    let mut buf = [0u8; 512];
    while let Ok((n, _)) = b.dns.recv_from(&mut buf) {
        if buf[..n]
            .windows(wire.len())
            .any(|w| w.eq_ignore_ascii_case(&wire))
        {
            return true;
        }
    }
    false
}

/// Runs the case and its control; returns what went wrong, if anything.
fn check(b: &Bench, case: &Case) -> Result<(), String> {
    let request = (case.build)(case.secret);
    let before = recorded(b);
    let (status, json) = send(b, &request);
    let mut wrong = Vec::new();
    if status != 403 || json["reason"] != "secret_detected" {
        wrong.push(format!("answered {status} {json}"));
    } else {
        let location = json["location"].as_str().unwrap_or("");
        let location_ok = match case.location.strip_suffix('@') {
            Some(prefix) => location.starts_with(&format!("{prefix}@")),
            None => location == case.location,
        };
        if !location_ok {
            wrong.push(format!("location {location:?}, expected {:?}", case.location));
        }
        let encoding = json["encoding"].as_str().unwrap_or("");
        if !encoding.split('>').any(|step| step == case.encoding) {
            wrong.push(format!("encoding {encoding:?} does not name {:?}", case.encoding));
        }
        if let Some(detector) = case.detector {
            if json["detector"] != detector {
                wrong.push(format!("detector {}, expected {detector}", json["detector"]));
            }
        }
    }
    if json.to_string().contains(case.secret) {
        wrong.push("the answer repeats the secret".to_owned());
    }
    if let Some(leak) = leaked(b, before, case.secret) {
        wrong.push(leak);
    }
    let control = match &case.control_build {
        Some(build) => build(case.control),
        None => (case.build)(case.control),
    };
    match &control {
        // An allowed name with no secret in it passes inspection and is looked up: the
        // nameserver (which never answers) sees the query.
        Request::Connect(host) => {
            let (status, json) = send_quickly(b, host);
            if !looked_up(b, host) {
                wrong.push(format!(
                    "control {host} was not looked up; answered {status} {json}"
                ));
            }
        }
        _ => {
            let (status, json) = send(b, &control);
            if status != 200 {
                wrong.push(format!("control answered {status} {json}, expected 200"));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", case.name, wrong.join("; ")))
    }
}

fn run(b: &Bench, cases: &[Case]) {
    let mut failures: Vec<String> = cases.iter().filter_map(|c| check(b, c).err()).collect();
    let log = b.proxy.log_text();
    for secret in [AWS_KEY, KNOWN] {
        if log.contains(secret) || log.contains(&STANDARD_NO_PAD.encode(secret)) || log.contains(&hex(secret))
        {
            failures.push(format!(
                "a secret value reached the proxy log ({} bytes)",
                secret.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// --- encoders, written here so that no payload is built by the code under test ---

fn percent_all(value: &str) -> String {
    value.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn hex(value: &str) -> String {
    value.bytes().map(|b| format!("{b:02x}")).collect()
}

fn hex_with(value: &str, separator: &str) -> String {
    let pairs: Vec<String> = value.bytes().map(|b| format!("{b:02x}")).collect();
    pairs.join(separator)
}

fn json_escaped(value: &str) -> String {
    value.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

fn js_escaped(value: &str) -> String {
    value.bytes().map(|b| format!("\\x{b:02x}")).collect()
}

/// Quoted-printable as a mail client writes it: some characters as `=XX`, and a soft line
/// break in the middle.
fn quoted_printable(value: &str) -> String {
    let (head, tail) = value.split_at(value.len() / 2);
    let escaped: String = head.bytes().take(4).map(|b| format!("={b:02X}")).collect();
    format!("{escaped}{}=\r\n{tail}", &head[4..])
}

fn fullwidth(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn zero_width(value: &str) -> String {
    let chars: Vec<String> = value.chars().map(String::from).collect();
    chars.join("\u{200B}")
}

/// Cyrillic look-alikes for the Latin capitals of the key's fixed prefix (`AKIA` → `АКІА`).
fn homoglyphs(value: &str) -> String {
    let (prefix, rest) = value.split_at(4.min(value.len()));
    let folded: String = prefix
        .chars()
        .map(|c| match c {
            'A' => 'А',
            'K' => 'К',
            'I' => 'І',
            other => other,
        })
        .collect();
    format!("{folded}{rest}")
}

/// A JSON document carrying `value`, whose base64 has `+`, `/` (URL-safe: `-`, `_`) and padding.
fn b64_document(value: &str) -> String {
    format!("{{\"aws\":\"{value}\",\"note\":\"??>>\"}}")
}

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(support::python())
        .arg(support::repo().join("tests/support/compress.py"))
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

fn compressed(kind: &'static str) -> impl Fn(&str) -> Request {
    move |value| {
        let json = format!("{{\"note\": \"deploy\", \"ref\": \"{value}\"}}");
        post("application/json", Some(kind), compress(kind, json.as_bytes()))
    }
}

#[test]
fn fixtures_have_the_properties_the_cases_rely_on() {
    let document = b64_document(AWS_KEY);
    let standard = STANDARD.encode(&document);
    let url_safe = URL_SAFE.encode(&document);
    assert!(standard.contains('+') && standard.contains('/') && standard.ends_with('='));
    assert!(url_safe.contains('-') && url_safe.contains('_') && url_safe.ends_with('='));
    assert!(!STANDARD_NO_PAD.encode(&document).ends_with('='));
    assert!(!homoglyphs(AWS_KEY).starts_with("AKIA") && homoglyphs(AWS_KEY).ends_with(&AWS_KEY[4..]));
    assert_eq!(fullwidth("A1"), "\u{FF21}\u{FF11}");
    assert_eq!(quoted_printable("AKIAQ3XK7M"), "=41=4B=49=41Q=\r\n3XK7M");
    assert_eq!(BENIGN.len(), AWS_KEY.len());
}

#[test]
fn secrets_in_every_url_part_and_header_are_blocked() {
    let b = bench();
    let cases = vec![
        case("path", "url.path", "plain", |v| get(format!("/files/{v}/x"))),
        case("query", "url.query", "plain", |v| get(format!("/q?key={v}"))),
        case("query, plain http", "url.query", "plain", |v| {
            Request::Plain(format!(
                "GET http://plain.test:{{port}}/q?id={v} HTTP/1.1\r\nHost: plain.test:{{port}}\r\n{{auth}}\r\nConnection: close\r\n\r\n"
            ))
        }),
        case("x-debug header", "header.x-debug", "plain", |v| {
            header("X-Debug", v.to_owned())
        }),
        case("user-agent header", "header.user-agent", "plain", |v| {
            header("User-Agent", format!("tool/1.0 ({v})"))
        }),
        case("referer header", "header.referer", "plain", |v| {
            header("Referer", format!("https://ref.example/?k={v}"))
        }),
        case("cookie header", "header.cookie", "plain", |v| {
            header("Cookie", format!("session=abc; aws={v}"))
        }),
        // A random-looking bearer token is a credential by design (generic-secret): the control
        // is a word.
        case("authorization header", "header.authorization", "plain", |v| {
            header("Authorization", format!("Bearer {v}"))
        })
        .control_with(|_| header("Authorization", "Bearer anonymous".to_owned())),
        case("second of a repeated header", "header.x-multi", "plain", |v| {
            Request::Get {
                target: "/ok".to_owned(),
                headers: vec!["X-Multi: first".to_owned(), format!("X-Multi: {v}")],
            }
        }),
    ];
    run(&b, &cases);
}

#[test]
fn secrets_in_hostname_labels_are_blocked_before_any_lookup() {
    let b = bench();
    // Any data encoded in a label is exfiltration, a benign value too: the control is an
    // ordinary name under the same wildcard.
    let ordinary = |_: &str| Request::Connect("docs.eu-west-1.wild.test".to_owned());
    let cases = vec![
        case("hex label", "url.host", "hex", |v| {
            Request::Connect(format!("{}.wild.test", hex(v)))
        })
        .control_with(ordinary),
        case("base32 label", "url.host", "base32", |v| {
            Request::Connect(format!("{}.wild.test", base32(v.as_bytes())))
        })
        .control_with(ordinary),
        case("hex split over labels", "url.host", "hex", |v| {
            let h = hex(v);
            let (a, c) = h.split_at(h.len() / 2);
            Request::Connect(format!("{a}.{c}.wild.test"))
        })
        .control_with(ordinary),
    ];
    run(&b, &cases);
    for host in [
        format!("{}.wild.test", hex(AWS_KEY)),
        format!("{}.wild.test", base32(AWS_KEY.as_bytes())),
    ] {
        send_quickly(&b, &host);
        assert!(
            !looked_up(&b, &host),
            "an exfiltrating name reached the nameserver"
        );
    }
}

/// RFC 4648 base32, lowercase, unpadded (as a DNS label carries it).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((bits >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

#[test]
fn secrets_are_seen_through_url_and_text_encodings() {
    let b = bench();
    let cases = vec![
        case("percent-encoded query", "url.query", "percent", |v| {
            get(format!("/q?id={}", percent_all(v)))
        }),
        case("percent-encoded path", "url.path", "percent", |v| {
            get(format!("/f/{}", percent_all(v)))
        }),
        case("double percent-encoded query", "url.query", "percent", |v| {
            get(format!("/q?id={}", percent_all(v).replace('%', "%25")))
        }),
        case("base64 standard, padded", "header.x-payload", "base64", |v| {
            header("X-Payload", STANDARD.encode(b64_document(v)))
        }),
        case("base64 standard, unpadded", "header.x-payload", "base64", |v| {
            header("X-Payload", STANDARD_NO_PAD.encode(b64_document(v)))
        }),
        case("base64 url-safe, padded", "header.x-payload", "base64", |v| {
            header("X-Payload", URL_SAFE.encode(b64_document(v)))
        }),
        case("base64 url-safe, unpadded", "url.query", "base64", |v| {
            get(format!("/q?d={}", URL_SAFE_NO_PAD.encode(b64_document(v))))
        }),
        case("hex", "header.x-payload", "hex", |v| header("X-Payload", hex(v))),
        case("hex, colon-delimited", "header.x-payload", "hex", |v| {
            header("X-Payload", hex_with(v, ":"))
        }),
        case("JSON string escapes", "body@", "escape", |v| {
            post(
                "application/json",
                None,
                format!("{{\"k\": \"{}\"}}", json_escaped(v)).into_bytes(),
            )
        }),
        case("JavaScript string escapes", "body@", "escape", |v| {
            post(
                "application/javascript",
                None,
                format!("var k = \"{}\";\n", js_escaped(v)).into_bytes(),
            )
        }),
        case("quoted-printable", "body@", "quoted-printable", |v| {
            text(format!("note: {}\r\n", quoted_printable(v)))
        }),
        case("fullwidth forms (NFKC)", "body@", "unicode", |v| {
            text(format!("key {}\n", fullwidth(v)))
        }),
        case("zero-width characters inserted", "body@", "unicode", |v| {
            text(format!("key {}\n", zero_width(v)))
        }),
        case("homoglyphs in the prefix", "body@", "unicode", |v| {
            text(format!("key {}\n", homoglyphs(v)))
        }),
    ];
    run(&b, &cases);
}

#[test]
fn compressed_multipart_and_form_bodies_are_seen_through() {
    let b = bench();
    let cases = vec![
        case("gzip body", "body@", "gzip", compressed("gzip")),
        case("deflate body", "body@", "deflate", compressed("deflate")),
        case("br body", "body@", "br", compressed("br")),
        case("zstd body", "body@", "zstd", compressed("zstd")),
        case("form body, percent-encoded value", "body@", "percent", |v| {
            post(
                "application/x-www-form-urlencoded",
                None,
                format!("comment=hello+world&backup={}", percent_all(v)).into_bytes(),
            )
        }),
    ];
    run(&b, &cases);
}

#[test]
fn an_operator_listed_secret_is_caught_plain_and_encoded() {
    let b = bench();
    let cases = vec![
        known_case("known, plain in the query", "url.query", "plain", |v| {
            get(format!("/q?note={v}"))
        }),
        known_case("known, base64 in a header", "header.x-payload", "base64", |v| {
            header("X-Payload", STANDARD.encode(format!("vault:{v}")))
        })
        // A control one character away at the end also matches: see `known_gaps`.
        .control_with(|_| {
            header(
                "X-Payload",
                STANDARD.encode("vault:corp-vault-unseal-Mouse-Staple-4417"),
            )
        }),
        known_case("known, url-safe base64 in the path", "url.path", "base64", |v| {
            get(format!("/b/{}", URL_SAFE_NO_PAD.encode(format!("xy{v}"))))
        }),
        known_case("known, hex in the body", "body@", "hex", |v| {
            text(format!("blob {}\n", hex(v)))
        }),
        known_case("known, URL-encoded in the query", "url.query", "percent", |v| {
            get(format!("/q?note={}", percent_all(v)))
        }),
    ];
    run(&b, &cases);
}

#[test]
fn benign_look_alikes_pass() {
    let b = bench();
    for target in [
        "/items/3f1c9a2e-7b4d-4e8a-9c21-5d6f0e8b7a13",
        "/blobs/sha256/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "/q?build=20240611-1532-7f3a9c1e4b2d",
    ] {
        let (status, json) = send(&b, &get(target.to_owned()));
        assert_eq!(status, 200, "{target}: {json}");
    }
    // A vendor's documented example key is not benign at egress: the proxy cannot tell it
    // from a leak, so it is blocked unless an operator exempts it by fingerprint.
    for request in [
        get("/docs?example=AKIAIOSFODNN7EXAMPLE".to_owned()),
        header("Authorization", "Bearer AKIAIOSFODNN7EXAMPLE".to_owned()),
    ] {
        let (status, json) = send(&b, &request);
        assert_eq!(
            (status, json["reason"].as_str()),
            (403, Some("secret_detected")),
            "{json}"
        );
    }
}

#[test]
fn bodies_that_cannot_be_judged_are_blocked_with_their_own_reason() {
    let b = bench();
    let nested = |layers: usize, value: &str| {
        (0..layers).fold(format!("ref {value}"), |text, _| STANDARD.encode(text))
    };
    for (name, request, reason) in [
        (
            "twelve layers of base64",
            text(nested(12, AWS_KEY)),
            "encoding_too_deep_to_inspect",
        ),
        (
            "a gzip body inflating past the bound",
            post("application/octet-stream", Some("gzip"), compress("bomb", b"")),
            "decompression_bomb",
        ),
    ] {
        let before = recorded(&b);
        let (status, json) = send(&b, &request);
        assert_eq!(
            (status, json["reason"].as_str()),
            (403, Some(reason)),
            "{name}: {json}"
        );
        assert_eq!(leaked(&b, before, AWS_KEY), None, "{name}");
    }
    let (status, json) = send(&b, &text(nested(3, BENIGN)));
    assert_eq!(
        status, 200,
        "control: three layers of a benign value pass: {json}"
    );
}

/// Cases that were gaps end to end until the proxy and engine closed them: the fragment and
/// userinfo of an absolute-form target (judged by the front door, since pingora drops or
/// refuses them before the pipeline), multipart parts named in the chain, space-joined hex.
#[test]
fn url_parts_multipart_and_spaced_hex_are_judged() {
    let b = bench();
    let cases = vec![
        case(
            "fragment, absolute-form plain http",
            "url.fragment",
            "plain",
            |v| {
                Request::Plain(format!(
                    "GET http://plain.test:{{port}}/page#{v} HTTP/1.1\r\nHost: plain.test:{{port}}\r\n{{auth}}\r\nConnection: close\r\n\r\n"
                ))
            },
        ),
        // A target may not carry userinfo at all (see the test below); the control sends
        // the same request without it.
        case(
            "userinfo, absolute-form plain http",
            "url.userinfo",
            "plain",
            |v| {
                Request::Plain(format!(
                    "GET http://deploy:{v}@plain.test:{{port}}/ HTTP/1.1\r\nHost: plain.test:{{port}}\r\n{{auth}}\r\nConnection: close\r\n\r\n"
                ))
            },
        )
        .control_with(|_| {
            Request::Plain(
                "GET http://plain.test:{port}/ HTTP/1.1\r\nHost: plain.test:{port}\r\n{auth}\r\nConnection: close\r\n\r\n".to_owned(),
            )
        }),
        case("multipart file part", "body@", "multipart", |v| {
            let body = format!(
                "--tgboundary\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhello\r\n--tgboundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nref {v}\n\r\n--tgboundary--\r\n"
            );
            post(
                "multipart/form-data; boundary=tgboundary",
                None,
                body.into_bytes(),
            )
        }),
        case("hex, space-delimited", "body@", "hex", |v| {
            text(format!("dump: {}\n", hex_with(v, " ")))
        }),
    ];
    run(&b, &cases);
}

/// A known value's base64 form is matched with the bits it shares with its neighbours, so a
/// value one character away (…4417 listed, …4418 sent) passes as the control.
#[test]
fn a_known_secret_in_base64_is_matched_exactly() {
    let b = bench();
    let cases = vec![known_case(
        "known, base64, control one character away",
        "header.x-payload",
        "base64",
        |v| header("X-Payload", STANDARD.encode(format!("vault:{v}"))),
    )];
    run(&b, &cases);
}

/// No request target may carry userinfo (RFC 9110 4.2.4): a bare user name, no secret in it,
/// is still refused, as a client error.
#[test]
fn benign_userinfo_in_a_target_is_refused_as_a_client_error() {
    let b = bench();
    let request = Request::Plain(
        "GET http://deploy@plain.test:{port}/ HTTP/1.1\r\nHost: plain.test:{port}\r\n{auth}\r\nConnection: close\r\n\r\n".to_owned(),
    );
    let (status, body) = send(&b, &request);
    assert_eq!(
        (status, body["reason"].as_str(), body["source"].as_str()),
        (400, Some("bad_request"), Some("client")),
        "{body}"
    );
}
