//! `tollgate dev` on the repository's policies: PostgreSQL, OpenBao, the broker, the proxy and
//! the demo origin come up on free loopback ports; an orchestrator starts an invocation with
//! `tollgate invoke`, the tool fetches its credential with `tollgate credential` and is refused
//! a host outside its allowlist by the proxy; Ctrl-C stops everything and leaves no process or
//! port behind. `tollgate demo` passes every step against such a stack.

mod support;

use std::process::Command;

use support::dev::{Dev, addr};
use support::{Place, basic, parse_answer, raw, repo, tollgate};

#[test]
fn dev_runs_the_whole_stack_and_ctrl_c_stops_it_all() {
    let mut dev = Dev::start();
    let ports = dev.ports;
    let state = dev.state.path().to_owned();
    // It prints what to export, and the file it names holds the CA trust and broker addresses.
    for expected in ["source ", "--format env", "tollgate demo", "postgres:", "origin:"] {
        assert!(
            dev.printed.contains(expected),
            "{expected} missing:\n{}",
            dev.printed
        );
    }

    // A second one says so and exits at once.
    let second = Dev::command(&state.as_path().join("second"), dev.policies.path(), &ports)
        .output()
        .expect("second dev");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already in use"));

    let broker = dev.broker_dir();
    let started = dev.invoke("acme-research", "github-reader", "c1");
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
        .arg(state.as_path().join("proxy-provenance.jsonl"))
        .arg("--openbao")
        .arg(state.as_path().join("openbao-audit.log"))
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

    // Ctrl-C: everything stops, every port is free again, and no process is left.
    let status = dev.stop().expect("dev did not stop");
    assert!(status.success());
    for port in ports {
        assert!(
            std::net::TcpListener::bind(addr(port)).is_ok(),
            "port {port} still taken"
        );
    }
    let left = Command::new("pgrep")
        .args(["-f", &state.as_path().display().to_string()])
        .output()
        .expect("pgrep");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    let cluster = std::env::temp_dir().join(format!("tollgate-dev-postgres-{}", ports[4]));
    assert!(!cluster.exists(), "the PostgreSQL cluster was left behind");
}

/// `tollgate demo` against the stack: every step does what it should (each is checked by
/// the demo itself against what the servers report), and the trace page is written.
#[test]
fn the_demo_passes_every_step_and_writes_the_trace_page() {
    let dev = Dev::start();
    let page = dev.state.path().join("trace.html");
    let out = tollgate()
        .arg("demo")
        .arg("--state")
        .arg(dev.state.path())
        .arg("--trace")
        .arg(&page)
        .env("PATH", support::dev::venv_path())
        .output()
        .expect("demo");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        dev.logs()
    );
    assert!(printed.contains("9 of 9 steps did what they should"), "{printed}");
    assert_eq!(printed.matches('✓').count(), 9, "{printed}");
    for reason in [
        "host_not_allowed",
        "ssrf_blocked",
        "secret_detected",
        "issued_credential_misuse",
        "budget_exceeded",
        "cut the hidden instruction out",
    ] {
        assert!(printed.contains(reason), "{reason} missing:\n{printed}");
    }
    let html = std::fs::read_to_string(&page).expect("trace page");
    for expected in [
        "egress.allow",
        "egress.deny",
        "credential.revoke",
        "issued_credential_misuse",
        "output.injection",
    ] {
        assert!(html.contains(expected), "{expected} missing from the page");
    }
    // Nothing secret on the terminal: the seeded API key is not printed.
    let key = std::process::Command::new(repo().join(".venv/bin/bao"))
        .args(["kv", "get", "-mount=secret", "-field=key", "tollgate-demo/api"])
        .env("BAO_ADDR", format!("http://{}", addr(dev.ports[3])))
        .env(
            "BAO_TOKEN",
            std::fs::read_to_string(dev.broker_dir().join("vault.token"))
                .expect("token")
                .trim(),
        )
        .output()
        .expect("bao");
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
    assert!(key.len() > 20);
    assert!(!printed.contains(&key) && !html.contains(&key));
}
