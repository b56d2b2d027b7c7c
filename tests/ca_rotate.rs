//! `tollgate ca rotate` with a real proxy and curl: a client that trusts `trust.pem` keeps
//! working through every step (stage, promote with a proxy restart, finish), while a client
//! that trusts only one of the two CAs fails exactly when that CA is not the one signing.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{SECRET, USER, tollgate};

/// curl through the proxy at `port`, trusting only `trust`; the HTTP status, or 0 when the
/// TLS handshake with the proxy fails.
fn fetch(port: u16, trust: &Path, url: &str) -> u16 {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"])
        .args(["-x", &format!("http://{USER}:{SECRET}@127.0.0.1:{port}")])
        .arg("--cacert")
        .arg(trust)
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

fn rotate(ca: &Path, flag: Option<&str>) {
    let out = tollgate()
        .args(["ca", "rotate"])
        .arg(ca)
        .args(flag)
        .output()
        .expect("ca rotate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_client_that_trusts_trust_pem_keeps_working_through_a_rotation() {
    let (proxy, origin, dir) = support::proxy_to_one_origin();
    let url = format!("https://api.test:{}/", origin.port);
    let ca = proxy.dir.path().join("ca");
    let trust = ca.join("trust.pem");
    let old = dir.path().join("old-ca.pem");
    std::fs::copy(ca.join("ca.pem"), &old).expect("copy");
    assert_eq!(fetch(proxy.port, &trust, &url), 200);

    // 1. Staged: both trusted, the old CA still signs.
    rotate(&ca, None);
    let new = dir.path().join("new-ca.pem");
    std::fs::copy(ca.join("next/ca.pem"), &new).expect("copy");
    assert_eq!(fetch(proxy.port, &trust, &url), 200);
    assert_eq!(fetch(proxy.port, &old, &url), 200);
    assert_eq!(
        fetch(proxy.port, &new, &url),
        0,
        "the staged CA signed before its promotion"
    );

    // 2. Promoted and the proxy restarted: the new CA signs, both still trusted.
    rotate(&ca, Some("--promote"));
    assert!(proxy.terminate_and_wait(Duration::from_secs(20)));
    let restarted = proxy.another(
        &format!("127.0.0.1:{}", proxy.port),
        &format!("127.0.0.1:{}", proxy.metrics_port),
    );
    assert_eq!(fetch(proxy.port, &trust, &url), 200);
    assert_eq!(fetch(proxy.port, &new, &url), 200);
    assert_eq!(fetch(proxy.port, &old, &url), 0, "the retired CA still signs");

    // 3. Finished: only the new CA is trusted, and the old key is gone.
    rotate(&ca, Some("--finish"));
    assert_eq!(fetch(proxy.port, &trust, &url), 200);
    assert_eq!(
        std::fs::read(&trust).expect("trust"),
        std::fs::read(&new).expect("new")
    );
    let retired: Vec<PathBuf> = std::fs::read_dir(ca.join("retired"))
        .expect("retired")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(retired.iter().all(|r| !r.join("ca.key").exists()));
    drop(restarted);
}
