//! Provenance fails closed: when the proxy cannot write its records (the file's filesystem is
//! full), new egress gets `503 provenance_unavailable`; once writing works again, egress does
//! too, and the chain on disk still verifies (no half-written line).

mod support;

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
