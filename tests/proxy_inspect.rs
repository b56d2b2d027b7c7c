//! Secret detection through the proxy, end to end: secrets in the URL, headers, hostnames
//! and bodies (plain, encoded, compressed, split across chunks) are blocked, and an origin
//! that records every byte it receives proves that no byte of a detected secret left.

mod support;

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use support::recording::Recorder;
use support::{OriginCerts, Place, Proxy, ProxySpec, SECRET, USER, connect_head, parse_answer, raw};

const HOST: Place<'static> = Place::Host;
/// Shaped like an AWS access key id; random, so no allowlist of documented examples hides it.
const AWS_KEY: &str = "AKIAQ3XK7M2PZR5TLW4N";
const STRIPE_KEY: &str = "sk_live_51Hx9QmZt7Lk2VbN8cR4sWp6yD3fGa";

struct Bench {
    proxy: Proxy,
    recorder: Recorder,
    _certs_dir: tempfile::TempDir,
}

fn bench(tool_extra: &str, nameservers: &[String]) -> Bench {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let recorder = Recorder::tls(&certs, dir.path(), "received.bin");
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n{tool_extra}\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n[[tools.egress]]\nid = \"wild\"\nhosts = [\"*.wild.test\"]\n",
        recorder.port
    );
    let spec = ProxySpec {
        tenant_policy: &policy,
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers,
        extra: "",
    };
    let proxy = Proxy::start(HOST, &spec);
    Bench {
        proxy,
        recorder,
        _certs_dir: dir,
    }
}

fn curl_json(b: &Bench, args: &[&str]) -> (u16, serde_json::Value) {
    let mut all = vec!["-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let output = b.proxy.curl(HOST, &all);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (
        code.parse().expect("code"),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn assert_no_secret_logged(b: &Bench) {
    let log = b.proxy.log_text();
    for secret in [AWS_KEY, STRIPE_KEY] {
        assert!(!log.contains(secret), "a secret value reached the proxy log");
    }
}

#[test]
fn secrets_in_the_url_and_headers_are_blocked_before_anything_leaves() {
    let b = bench("", &[]);
    let base = format!("https://api.test:{}", b.recorder.port);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{{\"aws\":\"{AWS_KEY}\"}}"));
    let cases = [
        (format!("{base}/upload?key={AWS_KEY}"), vec![], "url.query", ""),
        (format!("{base}/files/{AWS_KEY}/x"), vec![], "url.path", ""),
        (
            format!("{base}/c?d={}", encoded.replace('=', "%3D")),
            vec![],
            "url.query",
            "base64",
        ),
        (
            format!("{base}/ok"),
            vec!["-H".to_owned(), format!("X-Debug: {STRIPE_KEY}")],
            "header.x-debug",
            "",
        ),
    ];
    for (url, extra, location, encoding) in cases {
        let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
        args.push(&url);
        let (status, json) = curl_json(&b, &args);
        assert_eq!(status, 403, "{url}");
        assert_eq!(json["reason"], "secret_detected", "{json}");
        assert_eq!(json["location"], location, "{json}");
        assert!(
            json["encoding"].as_str().is_some_and(|e| e.contains(encoding)),
            "{json}"
        );
        assert!(
            json["fingerprint"].as_str().is_some_and(|f| f.len() >= 16),
            "{json}"
        );
        assert!(
            !json.to_string().contains(AWS_KEY) && !json.to_string().contains(STRIPE_KEY),
            "the answer repeats the secret"
        );
    }
    assert!(b.recorder.received().is_empty(), "nothing may reach the origin");
    let (status, _) = curl_json(&b, &[&format!("{base}/ok?q=weather")]);
    assert_eq!(status, 200, "control: a clean request passes");
    assert_no_secret_logged(&b);
}

fn stream(b: &Bench, chunks: &[Vec<u8>]) -> String {
    let hex: Vec<String> = chunks
        .iter()
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect())
        .collect();
    let output = Command::new("python3")
        .arg(support::repo().join("tests/support/stream_client.py"))
        .args([
            &b.proxy.port.to_string(),
            &format!("{USER}:{SECRET}"),
            "api.test",
            &b.recorder.port.to_string(),
        ])
        .arg(b.proxy.ca())
        .arg("/upload")
        .args(&hex)
        .output()
        .expect("stream client");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn no_byte_of_a_secret_split_across_chunks_reaches_the_upstream() {
    let b = bench("", &[]);
    let filler = "lorem ipsum dolor sit amet ".repeat(400);
    let (head, tail) = AWS_KEY.split_at(9);
    let chunks = vec![
        format!("{filler}credentials: {head}").into_bytes(),
        format!("{tail} and more text\n").into_bytes(),
        b"trailer\n".to_vec(),
    ];
    let answer = stream(&b, &chunks);
    assert!(
        answer.starts_with("HTTP/1.1 403") || answer.starts_with("closed"),
        "{answer}"
    );
    let received = b.recorder.received();
    let secret_offset = filler.len() + "credentials: ".len();
    let body_start = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    let body: Vec<u8> = dechunk(&received[body_start.min(received.len())..]);
    assert!(
        body.len() <= secret_offset,
        "the upstream received {} body bytes; the secret starts at {secret_offset}",
        body.len()
    );
    assert!(
        !String::from_utf8_lossy(&received).contains(&AWS_KEY[..4]),
        "no byte of the secret leaves"
    );
    assert_no_secret_logged(&b);

    // Control: the same stream without the secret arrives whole.
    let clean = vec![
        format!("{filler}credentials: none").into_bytes(),
        b" and more text\n".to_vec(),
    ];
    std::fs::write(&b.recorder.record, b"").expect("reset");
    assert_eq!(stream(&b, &clean), "HTTP/1.1 200 OK");
    let received = b.recorder.received();
    let body_start = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    let body = dechunk(&received[body_start..]);
    let expected = clean.concat();
    let tail = String::from_utf8_lossy(&received[received.len().saturating_sub(120)..]).into_owned();
    assert!(
        body == expected,
        "the clean body must arrive whole: {} bytes arrived, {} sent; head {:?} tail {tail:?}",
        body.len(),
        expected.len(),
        String::from_utf8_lossy(&received[..body_start.min(received.len())])
    );
}

/// The payload of a chunked body (as far as it goes).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16) else {
            break;
        };
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        if size == 0 || end + 2 > data.len() {
            break;
        }
        data = &data[end + 2..];
    }
    out
}

#[test]
fn compressed_and_encoded_bodies_are_seen_through() {
    let b = bench("", &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = format!("{{\"note\": \"deploy\", \"stripe\": \"{STRIPE_KEY}\"}}");
    let gz = dir.path().join("body.gz");
    let mut gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    gzip.stdin
        .take()
        .expect("stdin")
        .write_all(payload.as_bytes())
        .expect("write");
    std::fs::write(&gz, gzip.wait_with_output().expect("gzip").stdout).expect("gz");
    let url = format!("https://api.test:{}/upload", b.recorder.port);
    let (status, json) = curl_json(
        &b,
        &[
            "-H",
            "Content-Encoding: gzip",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", gz.display()),
            &url,
        ],
    );
    assert_eq!(
        (status, json["reason"].as_str()),
        (403, Some("secret_detected")),
        "{json}"
    );
    assert!(
        json["encoding"].as_str().is_some_and(|e| e.contains("gzip")),
        "{json}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
    let (status, json) = curl_json(&b, &["--data-binary", &format!("data={b64}"), &url]);
    assert_eq!(
        (status, json["reason"].as_str()),
        (403, Some("secret_detected")),
        "{json}"
    );
    assert!(
        !String::from_utf8_lossy(&b.recorder.received()).contains("sk_live"),
        "nothing of the secret reached the origin"
    );
    assert_no_secret_logged(&b);
}

#[test]
fn data_smuggled_in_hostname_labels_is_refused_before_any_lookup() {
    let dns = UdpSocket::bind("127.0.0.1:0").expect("udp");
    dns.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let nameservers = [dns.local_addr().expect("addr").to_string()];
    let b = bench("", &nameservers);
    let label: String = AWS_KEY.bytes().map(|x| format!("{x:02x}")).collect();
    let (status, body) = parse_answer(&raw(
        HOST,
        b.proxy.port,
        &connect_head(&format!("{label}.wild.test:443")),
        5.0,
    ));
    let body = body.expect("json");
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("secret_detected")),
        "{body}"
    );
    assert_eq!(body["location"], "url.host");
    let mut buf = [0u8; 512];
    assert!(
        dns.recv_from(&mut buf).is_err(),
        "the exfiltrating name must never reach a nameserver"
    );
}

#[test]
fn report_mode_logs_fingerprints_and_lets_the_request_through() {
    let b = bench("mode = \"report\"", &[]);
    let (status, _) = curl_json(
        &b,
        &[&format!(
            "https://api.test:{}/upload?key={AWS_KEY}",
            b.recorder.port
        )],
    );
    assert_eq!(status, 200);
    let log = b.proxy.log_text();
    assert!(
        log.contains("secret detected in egress") && log.contains("aws-access-key"),
        "{log}"
    );
    assert_no_secret_logged(&b);
}

#[test]
fn a_host_exemption_lets_a_tool_send_its_own_key_to_its_own_api() {
    let exemption = "[tools.detectors]\nexemptions = [{ hosts = [\"api.test\"], detectors = [\"stripe-key\", \"generic-secret\"], reason = \"its own key to its own API\" }]";
    let b = bench(exemption, &[]);
    let url = format!("https://api.test:{}/charge", b.recorder.port);
    let (status, _) = curl_json(&b, &["-H", &format!("Authorization: Bearer {STRIPE_KEY}"), &url]);
    assert_eq!(status, 200, "exempted on its own API");
    let (status, json) = curl_json(&b, &[&format!("{url}?aws={AWS_KEY}")]);
    assert_eq!(
        (status, json["detector"].as_str()),
        (403, Some("aws-access-key")),
        "other detectors still run"
    );
}

/// A presigned S3 URL carries the access key id beside a signature that anyone holding the URL
/// may use until it expires: the key id is a finding (low confidence), so the URL is refused
/// unless the operator exempts the host that is meant to receive it.
#[test]
fn a_presigned_url_is_refused_unless_its_host_is_exempted() {
    let presigned = |port: u16| {
        format!(
            "https://api.test:{port}/bucket/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential={AWS_KEY}%2F20261201%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20261201T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        )
    };
    let b = bench("", &[]);
    let before = b.recorder.received().len();
    let (status, json) = curl_json(&b, &[&presigned(b.recorder.port)]);
    assert_eq!(
        (status, json["reason"].as_str(), json["detector"].as_str()),
        (403, Some("secret_detected"), Some("aws-access-key")),
        "{json}"
    );
    assert_eq!(b.recorder.received().len(), before, "nothing reached the origin");
    assert_no_secret_logged(&b);

    let exempted = bench(
        "[tools.detectors]\nexemptions = [{ hosts = [\"api.test\"], detectors = [\"aws-access-key\"], reason = \"presigned downloads from our bucket\" }]",
        &[],
    );
    let (status, _) = curl_json(&exempted, &[&presigned(exempted.recorder.port)]);
    assert_eq!(status, 200, "the exempted host receives the presigned URL");
    let received = String::from_utf8_lossy(&exempted.recorder.received()).into_owned();
    assert!(
        received.contains("X-Amz-Signature="),
        "the URL reached the origin whole"
    );
}

/// Key material without its PEM armour, and a file hidden in a URL, are refused before the
/// origin sees a byte: a real PKCS#8 key (base64 DER in a JSON field), an OpenSSH key's binary
/// form wrapped in YAML (under names that say nothing, so that only the key's structure can
/// tell), and a hosts file as base64 in a path segment. A certificate in the
/// same JSON layout, and one line of JSON state in a query, pass.
#[test]
fn keys_without_armour_and_files_in_urls_are_refused() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let b = bench("", &[]);
    let url = format!("https://api.test:{}/upload", b.recorder.port);
    let key = rcgen::KeyPair::generate().expect("key pair");
    let mut openssh = b"openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none\0\0\0\0\0\0\0\x01".to_vec();
    openssh.extend_from_slice(&key.serialize_der());
    let wrapped: Vec<String> = b64(&openssh)
        .as_bytes()
        .chunks(70)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let before = b.recorder.received().len();
    for body in [
        format!(
            r#"{{"kid": "k1", "alg": "ES256", "material": "{}"}}"#,
            b64(&key.serialize_der())
        ),
        format!("deploy:\n  material: |\n    {}\n", wrapped.join("\n    ")),
    ] {
        let (status, json) = curl_json(&b, &[&url, "--data-binary", &body]);
        assert_eq!(
            (status, json["detector"].as_str()),
            (403, Some("private-key")),
            "{json}"
        );
    }
    let hosts = b"127.0.0.1 localhost\n10.0.8.153 vault.internal\n10.0.8.154 db-primary.internal\n";
    let (status, json) = curl_json(
        &b,
        &[&format!(
            "https://api.test:{}/p/{}/pixel.gif",
            b.recorder.port,
            b64(hosts).replace('/', "_").replace('+', "-")
        )],
    );
    assert_eq!(
        (status, json["detector"].as_str()),
        (403, Some("high-entropy")),
        "{json}"
    );
    // A body's head may go ahead of it; no byte of the key material, and none of the URL,
    // reached the origin.
    let received = String::from_utf8_lossy(&b.recorder.received()[before..]).into_owned();
    let der = b64(&key.serialize_der());
    for leaked in [&der[..24], &der[der.len() - 24..], &wrapped[0][..24], "/p/"] {
        assert!(!received.contains(leaked), "{leaked:?} reached the origin");
    }

    let cert = rcgen::CertificateParams::new(vec!["api.test".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let body = format!(r#"{{"kid": "k1", "certificate_der_b64": "{}"}}"#, b64(cert.der()));
    let (status, json) = curl_json(&b, &[&url, "--data-binary", &body]);
    assert_eq!(status, 200, "a certificate is public: {json}");
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"return_to":"/dashboard","tab":"billing"}"#);
    let (status, json) = curl_json(
        &b,
        &[&format!(
            "https://api.test:{}/login?state={state}",
            b.recorder.port
        )],
    );
    assert_eq!(status, 200, "one line of state is a value: {json}");
}
