//! `tollgate dev` on the repository's policies: OpenBao, the broker and the proxy come up on
//! free loopback ports; an orchestrator starts an invocation with `tollgate invoke`, the tool
//! fetches its credential with `tollgate credential` and is refused a host outside its
//! allowlist by the proxy; Ctrl-C stops everything and frees every port.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Place, basic, free_port, parse_answer, raw, repo, tollgate};

#[test]
fn dev_runs_openbao_broker_and_proxy_and_ctrl_c_stops_them_all() {
    let state = tempfile::tempdir().expect("tempdir");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let mut dev = tollgate()
        .arg("dev")
        .arg("--policies")
        .arg(repo().join("policies"))
        .arg("--state")
        .arg(state.path())
        .args(["--listen", &addr(ports[0]), "--metrics-listen", &addr(ports[1])])
        .args([
            "--control-listen",
            &addr(ports[2]),
            "--vault-listen",
            &addr(ports[3]),
        ])
        .env(
            "PATH",
            format!(
                "{}:{}",
                repo().join(".venv/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tollgate dev");
    let mut lines = BufReader::new(dev.stdout.take().expect("stdout")).lines();
    let started = Instant::now();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("tollgate dev: ready"));
    assert!(ready, "dev did not come up");
    assert!(started.elapsed() < Duration::from_secs(90));

    // A second one says so and exits at once.
    let second = tollgate()
        .args(["dev", "--state"])
        .arg(state.path().join("second"))
        .arg("--policies")
        .arg(repo().join("policies"))
        .args(["--listen", &addr(ports[0])])
        .output()
        .expect("second dev");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already in use"));

    let broker = state.path().join("broker");
    let started = tollgate()
        .args([
            "invoke",
            "start",
            "--tenant",
            "acme-research",
            "--tool",
            "github-reader",
        ])
        .args(["--session", "s1", "--tool-call-id", "c1", "--model", "m"])
        .env("TOLLGATE_CONTROL_URL", format!("http://{}", addr(ports[2])))
        .env("TOLLGATE_CONTROL_TOKEN_FILE", broker.join("control.token"))
        .output()
        .expect("invoke start");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let started: serde_json::Value = serde_json::from_slice(&started.stdout).expect("json");
    let (id, secret) = (
        started["invocation_id"].as_str().expect("id"),
        started["secret"].as_str().expect("secret"),
    );
    assert!(
        started["proxy_url"]
            .as_str()
            .expect("url")
            .ends_with(&addr(ports[0]))
    );

    let credential = tollgate()
        .args(["credential", "get", "github-token"])
        .env("TOLLGATE_BROKER_SOCKET", broker.join("broker.sock"))
        .env("TOLLGATE_INVOCATION_ID", id)
        .env("TOLLGATE_INVOCATION_SECRET", secret)
        .output()
        .expect("credential get");
    assert!(
        credential.status.success(),
        "{}",
        String::from_utf8_lossy(&credential.stderr)
    );
    assert!(
        String::from_utf8_lossy(&credential.stdout).contains("tgph"),
        "an inject grant gives a placeholder"
    );

    let head = format!(
        "CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\nproxy-authorization: {}\r\n\r\n",
        basic(id, secret)
    );
    let (status, body) = parse_answer(&raw(Place::Host, ports[0], head.as_bytes(), 5.0));
    assert_eq!(
        (status, body.unwrap_or_default()["reason"].as_str()),
        (403, Some("host_not_allowed"))
    );

    // The invocation's story from the broker's and the proxy's chains and OpenBao's log.
    let trace = tollgate()
        .args(["audit", "trace", id])
        .arg(broker.join("provenance.jsonl"))
        .arg(state.path().join("proxy-provenance.jsonl"))
        .arg("--openbao")
        .arg(state.path().join("openbao-audit.log"))
        .output()
        .expect("trace");
    let trace = String::from_utf8_lossy(&trace.stdout).into_owned();
    for expected in [
        "invocation.start",
        "credential.deliver",
        "egress.deny",
        "host_not_allowed",
        "openbao.path=auth/token/create",
    ] {
        assert!(trace.contains(expected), "{expected} missing:\n{trace}");
    }

    // Ctrl-C: everything stops and every port is free again.
    Command::new("kill")
        .args(["-INT", &dev.id().to_string()])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = dev.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "dev did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    for port in ports {
        assert!(
            std::net::TcpListener::bind(addr(port)).is_ok(),
            "port {port} still taken"
        );
    }
}
