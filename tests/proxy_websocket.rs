//! WebSocket through the proxy: after a `101` the client's frames are egress like a body.
//! A real client (tests/support/ws_client.py) upgrades through the proxy, inside a CONNECT
//! tunnel and over plain HTTP, and sends a planted AWS key id in a masked frame, an unmasked
//! one, fragments with a ping between them, permessage-deflate messages and a gzip'd binary
//! message; an origin that
//! records every message it receives (tests/support/ws_origin.py) must get none of them, and
//! the same messages with a benign value must all arrive. A rule that does not say
//! `websocket = true` refuses the upgrade.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{OriginCerts, Place, Process, Proxy, ProxySpec, SECRET, USER, repo};

const HOST: Place<'static> = Place::Host;
/// Shaped like an AWS access key id; random, so no list of documented examples hides it.
const AWS_KEY: &str = "AKIAQ3XK7M2PZR5TLW4N";
/// The control: as long as the key, shaped like nothing a detector looks for.
const BENIGN: &str = "quarterly-report-v20";

/// The recording WebSocket origin.
struct WsOrigin {
    _process: Process,
    port: u16,
    record: PathBuf,
}

impl WsOrigin {
    fn start(tls: Option<&OriginCerts>, record: PathBuf) -> Self {
        std::fs::write(&record, b"").expect("record file");
        let (cert, key) = tls.map_or(("-".into(), "-".into()), |c| (c.cert.clone(), c.key.clone()));
        let (process, port) = support::spawn_ready(
            Command::new("python3")
                .arg(repo().join("tests/support/ws_origin.py"))
                .args(["127.0.0.2", "0"])
                .arg(cert)
                .arg(key)
                .arg(&record),
            "ws origin",
        );
        Self {
            _process: process,
            port,
            record,
        }
    }

    /// Every message received so far, as text.
    fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|hex| {
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    }
}

struct Bench {
    proxy: Proxy,
    tls: WsOrigin,
    plain: WsOrigin,
    _dir: tempfile::TempDir,
}

fn bench(websocket: bool) -> Bench {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["ws.test"]);
    let tls = WsOrigin::start(Some(&certs), dir.path().join("tls.rec"));
    let plain = WsOrigin::start(None, dir.path().join("plain.rec"));
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"ws\"\nhosts = [\"ws.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\nwebsocket = {websocket}\n[[tools.egress]]\nid = \"plain\"\nhosts = [\"plain.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\nwebsocket = {websocket}\n",
        tls.port, plain.port
    );
    let spec = ProxySpec {
        tenant_policy: &policy,
        origin_ca: &certs.ca,
        hosts: &[("ws.test", "127.0.0.2"), ("plain.test", "127.0.0.2")],
        nameservers: &[],
        extra: "",
    };
    let proxy = Proxy::start(HOST, &spec);
    Bench {
        proxy,
        tls,
        plain,
        _dir: dir,
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Runs the client; returns its output lines.
fn client(b: &Bench, plain: bool, messages: &[(&str, String)]) -> Vec<String> {
    let (mode, host, port) = if plain {
        ("plain", "plain.test", b.plain.port)
    } else {
        ("tls", "ws.test", b.tls.port)
    };
    let output = Command::new("python3")
        .arg(repo().join("tests/support/ws_client.py"))
        .arg(b.proxy.port.to_string())
        .arg(format!("{USER}:{SECRET}"))
        .args([mode, host, &port.to_string()])
        .arg(b.proxy.ca())
        .args(
            messages
                .iter()
                .map(|(kind, text)| format!("{kind}:{}", hex(text))),
        )
        .output()
        .expect("ws client");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn origin(b: &Bench, plain: bool) -> &WsOrigin {
    if plain { &b.plain } else { &b.tls }
}

/// The messages a case sends: a benign one first, then `value` in one of the ways.
fn case(kind: &'static str, value: &str) -> Vec<(&'static str, String)> {
    let opening = match kind {
        "deflate" => "deflate",
        _ => "text",
    };
    vec![
        (opening, format!("{{\"op\":\"hello\",\"ref\":\"{BENIGN}\"}}")),
        (
            kind,
            format!("{{\"op\":\"report\",\"note\":\"value {value} attached\"}}"),
        ),
    ]
}

fn leaked(messages: &[String]) -> bool {
    messages.iter().any(|m| m.contains(AWS_KEY))
}

#[test]
fn client_frames_are_inspected_after_the_upgrade() {
    let b = bench(true);
    let mut failures = Vec::new();
    for plain in [false, true] {
        for kind in ["text", "unmasked", "frag", "deflate", "gzip"] {
            let name = format!("{} {kind}", if plain { "plain" } else { "tunnel" });
            let before = origin(&b, plain).messages().len();
            let out = client(&b, plain, &case(kind, AWS_KEY));
            std::thread::sleep(Duration::from_millis(200));
            let got = origin(&b, plain).messages()[before..].to_vec();
            if !out.first().is_some_and(|l| l.starts_with("HTTP/1.1 101")) {
                failures.push(format!("{name}: upgrade answered {out:?}"));
            }
            if leaked(&got) {
                failures.push(format!("{name}: the secret reached the origin"));
            }
            if !got.iter().any(|m| m.contains("hello")) {
                failures.push(format!(
                    "{name}: the benign message before it did not arrive: {got:?}"
                ));
            }
            let before = origin(&b, plain).messages().len();
            let out = client(&b, plain, &case(kind, BENIGN));
            std::thread::sleep(Duration::from_millis(200));
            let got = origin(&b, plain).messages()[before..].to_vec();
            if got.len() != 2 || !got[1].contains("report") {
                failures.push(format!(
                    "{name}: control: origin got {got:?}, client said {out:?}"
                ));
            }
        }
    }
    let log = b.proxy.log_text();
    if log.contains(AWS_KEY) {
        failures.push("the secret reached the proxy log".to_owned());
    }
    if !log.contains("websocket@") {
        failures.push("no finding located in a websocket message was logged".to_owned());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_secret_split_over_two_messages_stops_at_the_second() {
    let b = bench(true);
    let (head, tail) = AWS_KEY.split_at(9);
    let out = client(
        &b,
        false,
        &[("text", format!("key {head}")), ("text", format!("{tail} end"))],
    );
    std::thread::sleep(Duration::from_millis(200));
    let got = b.tls.messages();
    assert!(out[0].starts_with("HTTP/1.1 101"), "{out:?}");
    assert_eq!(got.len(), 1, "only the first piece may leave: {got:?}");
    assert!(!got.iter().any(|m| m.contains(tail)), "{got:?}");
}

#[test]
fn an_upgrade_is_refused_unless_its_rule_allows_websocket() {
    let b = bench(false);
    for plain in [false, true] {
        let out = client(&b, plain, &case("text", BENIGN));
        assert!(
            out.first().is_some_and(|l| l.starts_with("HTTP/1.1 403"))
                && out.iter().any(|l| l.contains("upgrade_not_allowed")),
            "plain={plain}: {out:?}"
        );
        assert!(origin(&b, plain).messages().is_empty());
    }
}

/// A policy with `websocket` on a tunnel rule is an error, not a silent no-op.
#[test]
fn websocket_on_a_tunnel_rule_is_a_policy_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenants = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants).expect("mkdir");
    std::fs::write(
        tenants.join("t.toml"),
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"ws\"\nhosts = [\"ws.test\"]\ntraffic = \"tunnel\"\nwebsocket = true\n",
    )
    .expect("policy");
    let output = support::tollgate()
        .args(["policy", "check"])
        .arg(dir.path())
        .output()
        .expect("policy check");
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("tunnel-with-http-rules") && text.contains("WebSocket"),
        "{text}"
    );
}

#[test]
fn allowing_websocket_shows_in_policy_diff_as_widening() {
    let policy = |websocket: bool| {
        format!(
            "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"ws\"\nhosts = [\"ws.test\"]\nwebsocket = {websocket}\n"
        )
    };
    let dirs: Vec<tempfile::TempDir> = [false, true]
        .iter()
        .map(|on| {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("tenants")).expect("mkdir");
            std::fs::write(dir.path().join("tenants/t.toml"), policy(*on)).expect("policy");
            dir
        })
        .collect();
    let diff = |from: &tempfile::TempDir, to: &tempfile::TempDir| {
        let output = support::tollgate()
            .args(["policy", "diff"])
            .arg(from.path())
            .arg(to.path())
            .output()
            .expect("policy diff");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let widened = diff(&dirs[0], &dirs[1]);
    assert!(
        widened.contains("+ widens") && widened.contains("host ws.test: WebSocket upgrades now allowed"),
        "{widened}"
    );
    let narrowed = diff(&dirs[1], &dirs[0]);
    assert!(
        narrowed.contains("- narrows") && narrowed.contains("WebSocket upgrades no longer allowed"),
        "{narrowed}"
    );
}

/// WebSocket over HTTP/2 (RFC 8441): the proxy never offers extended CONNECT
/// (SETTINGS_ENABLE_CONNECT_PROTOCOL), so a compliant client cannot open one; a raw client
/// that sends `:protocol websocket` anyway, with a planted key in a DATA frame after it, has
/// its stream reset, and the origin (a rule with `websocket = true`) receives nothing.
#[test]
fn websocket_over_http2_cannot_be_opened_and_carries_nothing_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["ws.test"]);
    let origin = support::recording::Recorder::tls(&certs, dir.path(), "origin.bin");
    let policy = support::one_rule_policy("", "ws.test", origin.port, "127.0.0.2/32", "websocket = true\n");
    let proxy = support::proxy_for(&policy, &certs.ca, "ws.test", "127.0.0.2");
    let stdout = support::run_to_end(
        Command::new("python3")
            .arg(repo().join("tests/support/h2_extended_connect.py"))
            .arg(proxy.port.to_string())
            .args([USER, SECRET, "ws.test"])
            .arg(origin.port.to_string())
            .arg(proxy.ca())
            .arg(format!("key={AWS_KEY}")),
        "",
    );
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    println!("{answer}");
    assert_eq!(answer["alpn"], "h2", "{answer}");
    assert_eq!(answer["enable_connect_protocol"], false, "{answer}");
    let frames = answer["frames"].as_array().expect("frames");
    assert!(
        frames
            .iter()
            .any(|f| f[0] == "rst_stream" || f[0] == "goaway" || f[0] == "closed"),
        "the extended CONNECT was not refused: {answer}"
    );
    assert!(
        !frames.iter().any(|f| f[0] == "headers" || f[0] == "data"),
        "the stream was answered: {answer}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let received = origin.received();
    assert!(
        !String::from_utf8_lossy(&received).contains(AWS_KEY),
        "the key reached the origin"
    );
    assert!(
        received.is_empty(),
        "the origin was reached at all: {} bytes",
        received.len()
    );
}
