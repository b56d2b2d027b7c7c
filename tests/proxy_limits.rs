//! Connection-level behaviour of `tollgate proxy`: per-identity connection limits, HTTP/2 to
//! an HTTP/2 origin (nginx), graceful shutdown within its configured bound, and a start on an
//! address already taken.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Origin, OriginCerts, Place, Proxy, ProxySpec, connect_head, parse_answer, raw};

const HOST: Place<'static> = Place::Host;

fn policy(port: u16) -> String {
    format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{port}]\nallow_private = [\"127.0.0.0/8\"]\n"
    )
}

/// Opens a tunnel and keeps it open (returns the socket after the 200).
fn open_tunnel(proxy_port: u16, target: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", proxy_port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(&connect_head(target)).expect("write");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        answer.push(byte[0]);
    }
    let mut rest = Vec::new();
    if !answer.starts_with(b"HTTP/1.1 200") {
        let _ = stream.read_to_end(&mut rest);
    }
    answer.extend(rest);
    (stream, String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn one_identity_cannot_hold_more_than_its_connection_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let origin = Origin::tls(HOST, "127.0.0.2", 0, &certs);
    let spec = ProxySpec {
        tenant_policy: &policy(origin.port),
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers: &[],
        extra: "[limits]\nmax_connections_per_identity = 2\n",
    };
    let proxy = Proxy::start(HOST, &spec);
    let target = format!("api.test:{}", origin.port);
    let (first, a) = open_tunnel(proxy.port, &target);
    let (second, b) = open_tunnel(proxy.port, &target);
    assert!(
        a.starts_with("HTTP/1.1 200") && b.starts_with("HTTP/1.1 200"),
        "{a}{b}"
    );
    let (status, body) = parse_answer(&raw(HOST, proxy.port, &connect_head(&target), 5.0));
    assert_eq!(
        (status, body.expect("json")["reason"].as_str()),
        (429, Some("too_many_connections"))
    );
    drop(first);
    // The slot is freed when the tunnel ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = raw(HOST, proxy.port, &connect_head(&target), 5.0);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(second);
}

#[test]
fn requests_reach_an_http2_origin_over_http2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let port = support::free_port();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("ok"), "from nginx\n").expect("file");
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{}}\nhttp {{\n  log_format proto '$server_protocol $request_uri';\n  access_log {d}/access.log proto;\n  server {{\n    listen 127.0.0.2:{port} ssl http2;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n    root {www};\n  }}\n}}\n",
        d = dir.path().display(),
        cert = certs.cert.display(),
        key = certs.key.display(),
        www = www.display()
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
    // nginx workers drop privileges; let them read the temp dir.
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .expect("chmod");
    let mut nginx = Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx (installed by deploy/setup.sh)");
    let spec = ProxySpec {
        tenant_policy: &policy(port),
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers: &[],
        extra: "",
    };
    let proxy = Proxy::start(HOST, &spec);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.2", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = proxy.curl(
        HOST,
        &[
            "--http2",
            "-w",
            "\n%{http_code} %{http_version}",
            &format!("https://api.test:{port}/ok"),
        ],
    );
    // SIGTERM, not SIGKILL: the master must take its worker down with it.
    let _ = Command::new("kill")
        .args(["-TERM", &nginx.id().to_string()])
        .status();
    let _ = nginx.wait();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(out.ends_with("\n200 2"), "{out}");
    assert!(out.starts_with("from nginx"), "{out}");
    let log = std::fs::read_to_string(dir.path().join("access.log")).expect("access log");
    assert_eq!(log.trim(), "HTTP/2.0 /ok", "the proxy spoke h2 to the origin");
}

/// A second proxy on the first one's address, or on its metrics address, exits at once,
/// non-zero, naming the address (before, it ran on without listening and said nothing).
#[test]
fn a_proxy_whose_address_is_taken_exits_at_once_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let spec = ProxySpec {
        tenant_policy: &policy(443),
        origin_ca: &certs.ca,
        hosts: &[],
        nameservers: &[],
        extra: "",
    };
    let first = Proxy::start(HOST, &spec);
    let free = support::free_port();
    for (listen, taken) in [(first.port, first.port), (free, first.metrics_port)] {
        let mut second = support::tollgate()
            .args(["proxy", "--config", "proxy.toml"])
            .args(["--listen", &format!("127.0.0.1:{listen}")])
            .current_dir(first.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("second proxy");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = second.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                // Not left behind when this fails.
                let _ = second.kill();
                let _ = second.wait();
                panic!("the second proxy kept running");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        second
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read");
        assert!(!status.success());
        assert!(
            stderr.contains(&format!("cannot listen on 127.0.0.1:{taken}")),
            "{stderr}"
        );
    }
    // The first one still serves.
    let (status, body) = parse_answer(&raw(HOST, first.port, &connect_head("other.test:443"), 5.0));
    assert_eq!(
        (status, body.unwrap_or_default()["reason"].as_str()),
        (403, Some("host_not_allowed"))
    );
}

#[test]
fn graceful_shutdown_ends_within_its_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let silent = Origin::silent(HOST, "127.0.0.2", 0);
    let spec = ProxySpec {
        tenant_policy: &policy(silent.port),
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers: &[],
        extra: "[limits]\ngraceful_shutdown = \"2s\"\nupstream_timeout = \"60s\"\n",
    };
    let proxy = Proxy::start(HOST, &spec);
    // A request that would hang for a minute keeps a connection busy.
    let mut hanging = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "60",
            "-x",
            &proxy.url(support::USER, support::SECRET),
            &format!("https://api.test:{}/slow", silent.port),
        ])
        .env("CURL_CA_BUNDLE", proxy.ca())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let exited = proxy.terminate_and_wait(Duration::from_secs(20));
    let _ = hanging.kill();
    let _ = hanging.wait();
    assert!(exited, "the proxy did not exit after SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?} for a 2s bound",
        started.elapsed()
    );
}

#[test]
fn an_upstream_with_an_untrusted_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let subdir = |name: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    };
    let trusted = OriginCerts::new(&subdir("trusted"), &["api.test"]);
    let rogue = OriginCerts::new(&subdir("rogue"), &["api.test"]);
    let origin = Origin::tls(HOST, "127.0.0.2", 0, &rogue);
    let spec = ProxySpec {
        tenant_policy: &policy(origin.port),
        origin_ca: &trusted.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers: &[],
        extra: "",
    };
    let proxy = Proxy::start(HOST, &spec);
    let output = proxy.curl(
        HOST,
        &[
            "-w",
            "\n%{http_code}",
            &format!("https://api.test:{}/", origin.port),
        ],
    );
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        out.ends_with("\n502"),
        "an origin whose certificate chains to no trusted root must not be talked to: {out}"
    );
    assert!(out.contains("\"source\":\"upstream\""), "{out}");
}
