//! Provenance fails closed: when the proxy cannot write its records (the file's filesystem is
//! full), new egress gets `503 provenance_unavailable`; once writing works again, egress does
//! too, and the chain on disk still verifies (no half-written line).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Origin, OriginCerts, Place, Proxy, ProxySpec, SmallDisk, free_port, status_of, tollgate};

/// A tmpfs of its own, unmounted when dropped (the tests run as root, as CI does).
#[test]
fn a_full_provenance_disk_refuses_egress_until_writing_works_again() {
    let disk = SmallDisk::new("48k");
    let certs_dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(certs_dir.path(), &["api.test"]);
    let origin = Origin::plain(Place::Host, "127.0.0.1", free_port());
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n",
        origin.port
    );
    let records = disk.dir.path().join("provenance.jsonl");
    // A reserve smaller than the disk: requests fill it until only the reserve is left.
    let extra = format!(
        "provenance = {{ path = \"{}\", reserve_bytes = 16384 }}",
        records.display()
    );
    let proxy = Proxy::start(
        Place::Host,
        &ProxySpec {
            tenant_policy: &policy,
            origin_ca: &certs.ca,
            hosts: &[("api.test", "127.0.0.1")],
            nameservers: &[],
            extra: &extra,
        },
    );
    let url = format!("http://api.test:{}/x", origin.port);
    let get = || status_of(&proxy.curl(Place::Host, &["-o", "/dev/null", "-w", "%{http_code}", &url]));
    // Fill the disk with records; a bounded number of requests does it (each record is a few
    // hundred bytes).
    let (mut refused, mut allowed) = (false, 0);
    for _ in 0..400 {
        match get() {
            503 => {
                refused = true;
                break;
            }
            200 => allowed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        refused,
        "egress went on although its records could not be written"
    );
    // Refused before the disk is full: the reserve it keeps free is not there, and every
    // request that went out has its record.
    assert!(
        proxy
            .log_text()
            .contains("the provenance disk has not the reserve free")
    );
    assert!(
        !proxy.log_text().contains("cannot write provenance records"),
        "a record was lost"
    );
    let written = std::fs::read_to_string(&records).expect("records");
    // (Counted before the fail-open part below, whose requests go out unrecorded on purpose.)
    assert_eq!(
        written.matches("\"type\":\"egress.allow\"").count(),
        allowed,
        "every request that left is recorded"
    );
    assert!(
        allowed > 10,
        "the disk filled after {allowed} requests: the test did not fill it"
    );
    assert_eq!(get(), 503, "refused while the disk stays full");

    // A tenant that chose fail-open goes on unrecorded; back to fail-closed, it is refused.
    let open = policy.replace(
        "owner = \"o@t.example\"",
        "owner = \"o@t.example\"\nprovenance = \"fail-open\"",
    );
    std::fs::write(proxy.policy_path(), &open).expect("policy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get() != 200 {
        assert!(Instant::now() < deadline, "fail-open was not applied");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(proxy.policy_path(), &policy).expect("policy");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get() != 503 {
        assert!(Instant::now() < deadline, "fail-closed was not applied again");
        std::thread::sleep(Duration::from_millis(200));
    }

    disk.resize("4m");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get() != 200 {
        assert!(
            Instant::now() < deadline,
            "egress did not recover once writing worked again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let verify = tollgate()
        .args(["audit", "verify"])
        .arg(&records)
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn every_record_is_exported_over_otlp_and_decodes_with_the_official_definitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let received = dir.path().join("received.jsonl");
    let port = free_port();
    let _receiver = support::Process::new(
        Command::new(support::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/otlp_receiver.py"
            ))
            .arg(port.to_string())
            .arg(&received)
            .spawn()
            .expect("receiver"),
    );
    let certs_dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(certs_dir.path(), &["api.test"]);
    let origin = Origin::plain(Place::Host, "127.0.0.1", free_port());
    let policy = format!(
        "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n",
        origin.port
    );
    let records = dir.path().join("provenance.jsonl");
    let extra = format!(
        "provenance = {{ path = \"{}\", otlp = {{ endpoint = \"http://127.0.0.1:{port}/v1/logs\" }} }}",
        records.display()
    );
    let proxy = Proxy::start(
        Place::Host,
        &ProxySpec {
            tenant_policy: &policy,
            origin_ca: &certs.ca,
            hosts: &[("api.test", "127.0.0.1")],
            nameservers: &[],
            extra: &extra,
        },
    );
    let fetch = |path: &str, extra: &[&str]| {
        let url = format!("http://api.test:{}{path}", origin.port);
        let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
        args.extend_from_slice(extra);
        args.push(&url);
        status_of(&proxy.curl(Place::Host, &args))
    };
    let traced = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert_eq!(fetch("/ok", &["-H", &format!("traceparent: {traced}")]), 200);
    assert_eq!(fetch("/ok?q=1", &[]), 200);
    assert_eq!(
        fetch(
            "/leak",
            &["-H", "x-debug: ghp_1234567890abcdefghijABCDEFGHIJ123456"]
        ),
        403
    );
    let lines = |path: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines(&received).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the collector got {:?}\n{}",
            lines(&received),
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let exported = lines(&received);
    let written = lines(&records);
    assert_eq!(exported.len(), written.len(), "every record written is exported");
    let attribute = |log: &serde_json::Value, key: &str| -> Option<serde_json::Value> {
        log["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    for (log, record) in exported.iter().zip(&written) {
        assert_eq!(log["event_name"], record["type"]);
        assert_eq!(log["service"], "tollgate-proxy");
        assert_eq!(log["scope"], "tollgate.provenance");
        assert_eq!(
            attribute(log, "tollgate.hash"),
            Some(serde_json::json!({"string_value": record["hash"]}))
        );
        assert_eq!(
            attribute(log, "server.address"),
            Some(serde_json::json!({"string_value": "api.test"}))
        );
        assert_eq!(
            log["span_id_hex"], record["span_id"],
            "the span id in its own field"
        );
    }
    assert_eq!(
        exported[0]["trace_id_hex"], "0af7651916cd43dd8448eb211c80319c",
        "the tool's traceparent"
    );
    assert_eq!(exported[2]["event_name"], "egress.deny");
    assert_eq!(exported[2]["severity_text"], "WARN");
    assert_eq!(
        attribute(&exported[2], "tollgate.reason"),
        Some(serde_json::json!({"string_value": "secret_detected"}))
    );
    assert_eq!(
        attribute(&exported[0], "http.response.status_code"),
        Some(serde_json::json!({"int_value": "200"}))
    );
}
