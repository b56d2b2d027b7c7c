//! End-to-end tests of `tollgate proxy` with real clients (curl, Python requests, Node) and
//! real origins on 127.0.0.x, each behind its own test CA.

mod support;

use std::net::UdpSocket;
use std::process::Output;
use std::time::{Duration, Instant};

use support::{Origin, Place, Proxy, ProxySpec, SECRET, USER, connect_head, parse_answer, raw};

const HOST: Place<'static> = Place::Host;

fn policy(tls_port: u16, plain_port: u16, extra_rules: &str) -> String {
    format!(
        r#"version = 1
[tenant]
id = "t"
owner = "owner@t.example"

[[tools]]
name = "fetch"

[[tools.egress]]
id = "api"
hosts = ["api.test"]
ports = [{tls_port}, {plain_port}]
methods = ["GET", "POST"]
paths = ["/ok"]
allow_private = ["127.0.0.0/8"]

[[tools.egress]]
id = "wild"
hosts = ["*.wild.test"]
ports = [{tls_port}]
allow_private = ["127.0.0.0/8"]

[[tools.egress]]
id = "dns"
hosts = ["*.dns.test"]
{extra_rules}
"#
    )
}

/// Origins on 127.0.0.2 (TLS and plain, each behind the test origin CA) and a proxy in
/// front of them.
struct Bench {
    proxy: Proxy,
    tls: Origin,
    plain: Origin,
    certs: support::OriginCerts,
    _certs_dir: tempfile::TempDir,
}

#[derive(Default)]
struct Options<'a> {
    /// More egress rules; `PORT` stands for the TLS origin's port.
    rules: &'a str,
    config: &'a str,
    nameservers: &'a [String],
    hosts: &'a [(&'a str, &'a str)],
}

impl Bench {
    fn new(options: Options<'_>) -> Self {
        let certs_dir = tempfile::tempdir().expect("tempdir");
        let certs = support::OriginCerts::new(
            certs_dir.path(),
            &[
                "api.test",
                "other.test",
                "a.wild.test",
                "b.c.wild.test",
                "closed.test",
                "silent.test",
            ],
        );
        let tls = Origin::tls(HOST, "127.0.0.2", 0, &certs);
        let plain = Origin::plain(HOST, "127.0.0.2", 0);
        let policy = policy(
            tls.port,
            plain.port,
            &options.rules.replace("PORT", &tls.port.to_string()),
        );
        let mut hosts = vec![
            ("api.test", "127.0.0.2"),
            ("other.test", "127.0.0.2"),
            ("a.wild.test", "127.0.0.2"),
            ("b.c.wild.test", "127.0.0.2"),
        ];
        hosts.extend_from_slice(options.hosts);
        let spec = ProxySpec {
            tenant_policy: &policy,
            origin_ca: &certs.ca,
            hosts: &hosts,
            nameservers: options.nameservers,
            extra: options.config,
        };
        let proxy = Proxy::start(HOST, &spec);
        Self {
            proxy,
            tls,
            plain,
            certs,
            _certs_dir: certs_dir,
        }
    }
}

fn bench() -> Bench {
    Bench::new(Options::default())
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// curl with `-w` printing the CONNECT code and the final code on the last line.
fn curl(proxy: &Proxy, args: &[&str]) -> (u16, u16, String) {
    let mut all = vec!["-w", "\n%{http_connect} %{http_code} %{http_version}"];
    all.extend_from_slice(args);
    let output = proxy.curl(HOST, &all);
    let stdout = text(&output);
    let (body, last) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let mut codes = last.split(' ');
    let connect = codes.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let status = codes.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let version = codes.next().unwrap_or("").to_owned();
    (connect, status, format!("{version}\n{body}"))
}

fn json_body(text: &str) -> serde_json::Value {
    let body = text.split_once('\n').map_or(text, |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn allowed_get_and_post_over_h1_and_h2() {
    let b = bench();
    let url = format!("https://api.test:{}/ok/items?x=1", b.tls.port);
    let (connect, status, out) = curl(&b.proxy, &["--http2", &url]);
    assert_eq!((connect, status), (200, 200), "{out}\n{}", b.proxy.log_text());
    assert!(out.starts_with("2\n"), "client side negotiated h2: {out}");
    let echo = json_body(&out);
    assert_eq!(echo["path"], "/ok/items?x=1");
    assert_eq!(echo["method"], "GET");
    assert!(
        echo["headers"].get("proxy-authorization").is_none(),
        "proxy credentials must not travel upstream"
    );

    let (_, status, out) = curl(
        &b.proxy,
        &[
            "--http1.1",
            "-d",
            "{\"q\":1}",
            &format!("https://api.test:{}/ok", b.tls.port),
        ],
    );
    assert_eq!(status, 200);
    assert!(out.starts_with("1.1\n"));
    let echo = json_body(&out);
    assert_eq!(
        (echo["method"].as_str(), echo["body"].as_str()),
        (Some("POST"), Some("{\"q\":1}"))
    );
}

#[test]
fn python_requests_and_node_work_unmodified() {
    let b = bench();
    let script = format!(
        "import requests, json\nr = requests.get('https://api.test:{port}/ok/py', timeout=10)\np = requests.post('https://api.test:{port}/ok', json={{'a': 1}}, timeout=10)\nprint(json.dumps([r.status_code, r.json()['path'], p.status_code, p.json()['body']]))",
        port = b.tls.port
    );
    let output = std::process::Command::new(support::python())
        .args(["-c", &script])
        .env("HTTPS_PROXY", b.proxy.url(USER, SECRET))
        .env("REQUESTS_CA_BUNDLE", b.proxy.ca())
        .output()
        .expect("python");
    assert_eq!(
        text(&output).trim(),
        "[200, \"/ok/py\", 200, \"{\\\"a\\\": 1}\"]",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = std::process::Command::new("node")
        .arg(support::repo().join("tests/support/node_client.js"))
        .args([
            "127.0.0.1",
            &b.proxy.port.to_string(),
            &format!("{USER}:{SECRET}"),
            "api.test",
            &b.tls.port.to_string(),
            "POST",
            "/ok/node",
            "{\"n\":2}",
        ])
        .env("NODE_EXTRA_CA_CERTS", b.proxy.ca())
        .output()
        .expect("node");
    let result: serde_json::Value = serde_json::from_str(text(&output).trim()).expect("node json");
    assert_eq!(result["status"], 200, "{result}");
    let echo: serde_json::Value = serde_json::from_str(result["body"].as_str().expect("body")).expect("echo");
    assert_eq!(
        (echo["path"].as_str(), echo["body"].as_str()),
        (Some("/ok/node"), Some("{\"n\":2}"))
    );
}

#[test]
fn policy_denials_are_403_json_with_reason_rule_and_caller() {
    let b = bench();
    let (_, status, out) = curl(
        &b.proxy,
        &["-i", &format!("https://api.test:{}/admin", b.tls.port)],
    );
    assert_eq!(status, 403);
    assert!(
        out.to_ascii_lowercase()
            .contains("x-tollgate-reason: path_not_allowed"),
        "{out}"
    );
    let body = out.split("\r\n\r\n").last().expect("body");
    let json: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(json["reason"], "path_not_allowed");
    assert_eq!(json["rule"], "api");
    assert_eq!(
        (
            json["tenant"].as_str(),
            json["tool"].as_str(),
            json["session"].as_str()
        ),
        (Some("t"), Some("fetch"), Some("sess-1"))
    );
    assert_eq!(json["owner"], "owner@t.example");

    let (_, status, out) = curl(
        &b.proxy,
        &["-X", "DELETE", &format!("https://api.test:{}/ok", b.tls.port)],
    );
    assert_eq!(
        (status, json_body(&out)["reason"].as_str()),
        (403, Some("method_not_allowed"))
    );

    for (target, reason) in [
        ("api.test:9999", "port_not_allowed"),
        ("evil.test:443", "host_not_allowed"),
    ] {
        let (status, body) = parse_answer(&raw(HOST, b.proxy.port, &connect_head(target), 5.0));
        assert_eq!(status, 403, "{target}");
        assert_eq!(body.expect("json")["reason"], reason, "{target}");
    }
}

#[test]
fn a_denied_host_is_never_resolved() {
    let dns = UdpSocket::bind("127.0.0.1:0").expect("udp");
    dns.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let nameserver = dns.local_addr().expect("addr").to_string();
    let nameservers = [nameserver];
    let b = Bench::new(Options {
        nameservers: &nameservers,
        ..Options::default()
    });
    let queries = || {
        let mut buf = [0u8; 512];
        let mut n = 0;
        while dns.recv_from(&mut buf).is_ok() {
            n += 1;
        }
        n
    };
    let (status, _) = parse_answer(&raw(HOST, b.proxy.port, &connect_head("x.evil.test:443"), 5.0));
    assert_eq!(status, 403);
    assert_eq!(queries(), 0, "a denied host must not be looked up");
    // The control: an allowed name that is not in the override goes to the nameserver.
    let (status, body) = parse_answer(&raw(HOST, b.proxy.port, &connect_head("probe.dns.test:443"), 8.0));
    assert_eq!(
        (status, body.expect("json")["reason"].as_str()),
        (502, Some("dns_failed"))
    );
    assert!(queries() > 0, "the allowed name was looked up at our nameserver");
}

#[test]
fn wildcards_match_subdomains_only() {
    let b = bench();
    for host in ["a.wild.test", "b.c.wild.test"] {
        let (_, status, out) = curl(&b.proxy, &[&format!("https://{host}:{}/any", b.tls.port)]);
        assert_eq!(status, 200, "{host}: {out}");
    }
    let answer = raw(
        HOST,
        b.proxy.port,
        &connect_head(&format!("A.Wild.TEST.:{}", b.tls.port)),
        5.0,
    );
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "case and a trailing dot do not matter: {answer}"
    );
    for host in ["wild.test", "evilwild.test", "a.wild.test.evil"] {
        let (status, body) = parse_answer(&raw(
            HOST,
            b.proxy.port,
            &connect_head(&format!("{host}:{}", b.tls.port)),
            5.0,
        ));
        assert_eq!(
            (status, body.expect("json")["reason"].as_str()),
            (403, Some("host_not_allowed")),
            "{host}"
        );
    }
}

#[test]
fn sni_and_host_must_name_the_connect_target() {
    let b = bench();
    let sni = |sni: &str, host: &str| {
        let output = std::process::Command::new("python3")
            .arg(support::repo().join("tests/support/sni_client.py"))
            .args([
                &b.proxy.port.to_string(),
                &format!("{USER}:{SECRET}"),
                "api.test",
                &b.tls.port.to_string(),
                sni,
                host,
            ])
            .output()
            .expect("python");
        text(&output)
    };
    let authority = format!("api.test:{}", b.tls.port);
    assert!(
        sni("api.test", &authority).starts_with("HTTP/1.1 200"),
        "control: matching SNI and Host pass"
    );
    let fronted = sni("other.test", &authority);
    assert!(
        fronted.starts_with("HTTP/1.1 421") && fronted.contains("misdirected_request"),
        "{fronted}"
    );
    let fronted = sni("api.test", &format!("other.test:{}", b.tls.port));
    assert!(fronted.starts_with("HTTP/1.1 421"), "{fronted}");
}

#[test]
fn plain_http_absolute_form_is_checked_per_request() {
    let b = bench();
    let url = format!("http://api.test:{}/ok/plain", b.plain.port);
    let (_, status, out) = curl(&b.proxy, &[&url]);
    assert_eq!(status, 200, "{out}");
    assert_eq!(json_body(&out)["path"], "/ok/plain", "origin form upstream");
    let (_, status, out) = curl(&b.proxy, &["-H", "Host: other.test", &url]);
    assert_eq!(
        (status, json_body(&out)["reason"].as_str()),
        (421, Some("misdirected_request"))
    );
    let (_, status, _) = curl(&b.proxy, &[&format!("http://api.test:{}/admin", b.plain.port)]);
    assert_eq!(status, 403);
}

#[test]
fn missing_or_wrong_credentials_get_407() {
    let b = bench();
    let no_auth = format!(
        "CONNECT api.test:{0} HTTP/1.1\r\nHost: api.test:{0}\r\n\r\n",
        b.tls.port
    );
    let answer = raw(HOST, b.proxy.port, no_auth.as_bytes(), 5.0);
    assert!(answer.starts_with("HTTP/1.1 407"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("proxy-authenticate: basic"),
        "{answer}"
    );
    let wrong = format!(
        "CONNECT api.test:{0} HTTP/1.1\r\nProxy-Authorization: {1}\r\n\r\n",
        b.tls.port,
        support::basic(USER, "not-the-secret")
    );
    let (status, body) = parse_answer(&raw(HOST, b.proxy.port, wrong.as_bytes(), 5.0));
    assert_eq!(
        (status, body.expect("json")["reason"].as_str()),
        (407, Some("proxy_auth_invalid"))
    );
    let output = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-x",
            &format!("http://127.0.0.1:{}", b.proxy.port),
            &format!("http://api.test:{}/ok", b.plain.port),
        ])
        .output()
        .expect("curl");
    assert_eq!(text(&output), "407");
}

#[test]
fn oversized_heads_and_slowloris_are_cut_off() {
    let b = Bench::new(Options {
        config: "[limits]\nhead_timeout = \"1s\"\nmax_header_bytes = 8192\n",
        ..Options::default()
    });
    let big = format!(
        "CONNECT api.test:443 HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(32 * 1024)
    );
    let (status, body) = parse_answer(&raw(HOST, b.proxy.port, big.as_bytes(), 5.0));
    assert_eq!(
        (status, body.expect("json")["reason"].as_str()),
        (431, Some("header_too_large"))
    );

    use std::io::{Read, Write};
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", b.proxy.port)).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    for byte in b"CONNECT api.test:443 HTTP/1.1\r\nX-Slow: yes".iter() {
        if slow.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a trickled head is cut off by the total head timeout: {answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off near the configured 1s bound, not by the client"
    );
}

#[test]
fn upstream_failures_are_502_and_504_not_denials() {
    let closed = support::free_port();
    let silent = Origin::silent(HOST, "127.0.0.2", 0);
    let rules = format!(
        "\n[[tools.egress]]\nid = \"broken\"\nhosts = [\"closed.test\", \"silent.test\"]\nports = [{closed}, {}]\nallow_private = [\"127.0.0.0/8\"]\n",
        silent.port
    );
    let b = Bench::new(Options {
        rules: &rules,
        config: "[limits]\nupstream_timeout = \"1s\"\nconnect_timeout = \"1s\"\n",
        hosts: &[("closed.test", "127.0.0.1"), ("silent.test", "127.0.0.2")],
        ..Options::default()
    });
    let (connect, status, out) = curl(&b.proxy, &[&format!("https://closed.test:{closed}/")]);
    assert_eq!((connect, status), (200, 502), "{out}");
    let json = json_body(&out);
    assert_eq!(
        (json["reason"].as_str(), json["source"].as_str()),
        (Some("upstream_failed"), Some("upstream"))
    );
    let (_, status, out) = curl(&b.proxy, &[&format!("https://silent.test:{}/", silent.port)]);
    assert!(status == 504 || status == 502, "{status} {out}");
    assert_eq!(json_body(&out)["source"], "upstream");
}

#[test]
fn tunnel_only_rules_pass_bytes_through_unseen() {
    let rules = "\n[[tools.egress]]\nid = \"raw\"\nhosts = [\"other.test\"]\nports = [PORT]\ntraffic = \"tunnel\"\nallow_private = [\"127.0.0.0/8\"]\n";
    let b = Bench::new(Options {
        rules,
        ..Options::default()
    });
    let url = format!("https://other.test:{}/anything", b.tls.port);
    let output = b.proxy.curl(HOST, &["-w", "\n%{http_code}", &url]);
    assert!(
        !output.status.success(),
        "the origin's own certificate is not signed by the interception CA"
    );
    let output = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&b.certs.ca)
        .args(["-x", &b.proxy.url(USER, SECRET), "-w", "\n%{http_code}", &url])
        .output()
        .expect("curl");
    let out = text(&output);
    assert!(out.ends_with("\n200"), "spliced straight to the origin: {out}");
}

#[test]
fn hot_reload_applies_valid_edits_and_keeps_the_old_set_on_broken_ones() {
    let b = bench();
    let ok = format!("https://api.test:{}/ok", b.tls.port);
    let other = format!("https://api.test:{}/other", b.tls.port);
    assert_eq!(curl(&b.proxy, &[&ok]).1, 200);
    let path = b.proxy.policy_path();
    let original = std::fs::read_to_string(&path).expect("policy");
    std::fs::write(
        &path,
        original.replace("paths = [\"/ok\"]", "paths = [\"/other\"]"),
    )
    .expect("edit");
    wait_until(|| curl(&b.proxy, &[&ok]).1 == 403, "the edit takes effect");
    assert_eq!(curl(&b.proxy, &[&other]).1, 200);
    std::fs::write(&path, "version = 1\n[tenant]\nid = \"t\"\nmode = \"lenient\"\n").expect("break");
    wait_until(
        || b.proxy.log_text().contains("policy reload rejected"),
        "the broken edit is rejected",
    );
    assert_eq!(
        curl(&b.proxy, &[&other]).1,
        200,
        "the last good set stays in force"
    );
    assert_eq!(curl(&b.proxy, &[&ok]).1, 403);
    let metrics = b.proxy.metrics(HOST);
    assert!(
        metrics.contains("tollgate_policy_reloads_total{outcome=\"rejected\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_requests_total{decision=\"deny\",reason=\"path_not_allowed\"}"),
        "{metrics}"
    );
}

fn wait_until(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting until {what}");
}
