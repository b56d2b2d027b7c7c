//! `tollgate detect scan` judges a saved request as the proxy does: the same request sent
//! through the real proxy and scanned from a file, with the proxy's fingerprint key and the
//! tool's settings, gives the same finding (detector, location, encoding, fingerprint); a
//! detector the tool enables applies only with `--tenant/--tool`; a clean input exits 0; the
//! value never appears in the output.

mod support;

use std::io::Write as _;
use std::process::Stdio;

use serde_json::Value;
use support::recording::Recorder;
use support::{OriginCerts, Place, Proxy, ProxySpec};

const HOST: Place<'static> = Place::Host;
const AWS_KEY: &str = "AKIAQ3XK7M2PZR5TLW4N";
/// A valid IBAN (mod-97), found only where the `iban` detector is on.
const IBAN: &str = "GB82WEST12345698765432";

fn scan(args: &[&str], input: &[u8]) -> (i32, String) {
    let mut child = support::tollgate()
        .args(["detect", "scan"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tollgate detect scan");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn a_saved_request_is_judged_as_the_proxy_judged_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let tls = Recorder::tls(&certs, dir.path(), "tls.bin");
    let key = dir.path().join("fingerprint.key");
    std::fs::write(&key, [42u8; 32]).expect("key");
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[detectors]\nenable = [\"iban\"]\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n",
        tls.port
    );
    let extra = format!("fingerprint_key = \"{}\"", key.display());
    let spec = ProxySpec {
        tenant_policy: &policy,
        origin_ca: &certs.ca,
        hosts: &[("api.test", "127.0.0.2")],
        nameservers: &[],
        extra: &extra,
    };
    let proxy = Proxy::start(HOST, &spec);
    let body = format!("{{\"note\":\"deploy\",\"ref\":\"{AWS_KEY}\"}}");
    let url = format!("https://api.test:{}/upload", tls.port);
    let output = proxy.curl(
        HOST,
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &url,
        ],
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("json denial");
    assert_eq!(answer["reason"], "secret_detected", "{answer}");
    let saved = format!(
        "POST {url} HTTP/1.1\r\nHost: api.test:{}\r\nContent-Type: application/json\r\n\r\n{body}",
        tls.port
    );
    let policies = proxy.dir.path().join("policies");
    let policies = policies.to_str().expect("utf-8");
    let key_arg = key.to_str().expect("utf-8");
    let with_tool = ["--tenant", "t", "--tool", "fetch", "--policies", policies];
    let mut args = vec!["--format", "json", "--fingerprint-key", key_arg];
    args.extend(with_tool);
    let (code, out) = scan(&args, saved.as_bytes());
    assert_eq!(code, 1, "{out}");
    let finding: Value = serde_json::from_str(out.lines().next().unwrap_or("")).expect("finding json");
    for field in ["reason", "detector", "location", "encoding", "fingerprint"] {
        assert_eq!(
            finding[field], answer[field],
            "{field}: scan {finding} vs proxy {answer}"
        );
    }
    assert!(!out.contains(AWS_KEY));
    // A detector the tool enables applies with its settings only.
    let iban = format!("{{\"account\":\"{IBAN}\"}}");
    let (code, out) = scan(&with_tool, iban.as_bytes());
    assert!(
        code == 1 && out.contains("detector=iban") && !out.contains(IBAN),
        "{out}"
    );
    let (code, out) = scan(&[], iban.as_bytes());
    assert_eq!((code, out.trim()), (0, "clean"));
    // Misuse is exit 2, as for the other commands.
    let (code, _) = scan(&["--tenant", "nope", "--tool", "x", "--policies", policies], b"");
    assert_eq!(code, 2);
}
