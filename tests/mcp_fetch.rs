//! A real, unmodified MCP tool server behind Tollgate: `mcp-server-fetch` (PyPI), started and
//! driven over stdio by the MCP Python SDK's client (tests/support/mcp_agent.py), as the demo
//! tenant's `fetch` tool of a `tollgate dev` stack. The allowed page comes back as markdown;
//! a host outside the allowlist, a private address and a URL with a secret in it each come
//! back as a tool error, with the refusal's reason where the server shows it; a page with an
//! instruction for the model in zero-size text comes back without it; and `tollgate audit trace`
//! tells the invocation's story.

mod support;

use support::dev::Dev;
use support::{python, repo, tollgate};

#[test]
fn the_mcp_fetch_server_works_through_tollgate_and_its_refusals_reach_the_agent() {
    let dev = Dev::start();
    let broker = dev.broker_dir();
    let started = dev.invoke("tollgate-demo", "fetch", "call-7");
    let id = started["invocation_id"].as_str().expect("id");
    let proxy = started["proxy_url"].as_str().expect("proxy url");

    // The key is made for this run: AKIA and 16 characters of the id alphabet.
    let key: String = std::iter::once("AKIA".to_owned())
        .chain(
            id.bytes()
                .filter(u8::is_ascii_hexdigit)
                .take(16)
                .map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[usize::from(b) % 32]).to_string()),
        )
        .collect();
    let urls = [
        dev.origin("docs", "/guide"),
        "https://example.com/".to_owned(),
        dev.origin("intranet", "/"),
        dev.origin("docs", &format!("/search?q={key}")),
        dev.origin("docs", "/injected"),
    ];
    let stdout = support::run_to_end(
        std::process::Command::new(python())
            .arg(repo().join("tests/support/mcp_agent.py"))
            .args(&urls)
            .env("HTTPS_PROXY", proxy)
            .env("SSL_CERT_FILE", dev.state.path().join("ca/ca.pem")),
        dev.logs(),
    );
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("result line"))
        .collect();
    assert_eq!(results.len(), 5, "{stdout}");
    let text = |i: usize| results[i]["text"].as_str().unwrap_or_default().to_owned();
    let failed = |i: usize| results[i]["is_error"].as_bool().expect("is_error");

    assert!(!failed(0), "{}", text(0));
    assert!(text(0).contains("Hello from docs.tollgate.test"), "{}", text(0));
    // A refused CONNECT: the server shows the proxy's status line, which names the reason.
    assert!(failed(1) && text(1).contains("host_not_allowed"), "{}", text(1));
    assert!(failed(2) && text(2).contains("ssrf_blocked"), "{}", text(2));
    // Refused inside the tunnel: this server reports only the status code of an error answer
    // (the reason is in the answer's status line, header and body, and in the trace below).
    assert!(failed(3) && text(3).contains("403"), "{}", text(3));
    assert!(!text(3).is_empty());
    // A page with an instruction in zero-size text: the server's markdown keeps such text
    // (Readability drops only `display:none` and the like); the proxy cut it out (`strip`,
    // the default) and left its mark.
    assert!(!failed(4), "{}", text(4));
    assert!(text(4).contains("Season with lemon"), "{}", text(4));
    assert!(
        !text(4).contains("id_rsa"),
        "the hidden instruction reached the agent: {}",
        text(4)
    );
    assert!(
        text(4).contains("tollgate removed: hidden-instruction"),
        "{}",
        text(4)
    );

    // Each service flushes its records every second.
    let expected = [
        "invocation.start",
        "egress.allow",
        "host_not_allowed",
        "ssrf_blocked",
        "secret_detected",
        "output.injection",
        "call-7",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let trace = loop {
        let out = tollgate()
            .args(["audit", "trace", id])
            .arg(broker.join("provenance.jsonl"))
            .arg(dev.state.path().join("proxy-provenance.jsonl"))
            .output()
            .expect("trace");
        let trace = String::from_utf8_lossy(&out.stdout).into_owned();
        if expected.iter().all(|e| trace.contains(e)) || std::time::Instant::now() > deadline {
            break trace;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    for expected in expected {
        assert!(trace.contains(expected), "{expected} missing:\n{trace}");
    }
    assert!(!trace.contains(&key), "the secret itself is in the trace");
}
