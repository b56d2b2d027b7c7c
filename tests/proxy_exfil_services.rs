//! The shipped list of known exfiltration services (policies/defaults.toml) through the real
//! proxy: a report-mode tenant whose wildcards cover request catchers, tunnels and
//! out-of-band interaction domains still cannot reach them, and the names are never looked
//! up (a DNS query alone would carry data to an interaction server). An ordinary name under
//! the same wildcard is looked up as usual.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use support::recording::looked_up;
use support::{
    OriginCerts, Place, Proxy, ProxySpec, SECRET, USER, basic, connect_head, parse_answer, raw, repo,
};

const HOST: Place<'static> = Place::Host;

#[test]
fn report_mode_and_wildcards_cannot_reach_known_exfiltration_services() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["unused.test"]);
    let dns = UdpSocket::bind("127.0.0.1:0").expect("udp");
    dns.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let policy = "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\nmode = \"report\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"broad\"\nhosts = [\"*.ngrok-free.app\", \"*.oastify.com\", \"*.trycloudflare.com\", \"webhook.site\", \"*.wild.test\"]\nports = [443, 80]\n";
    let nameservers = [dns.local_addr().expect("addr").to_string()];
    let spec = ProxySpec {
        tenant_policy: policy,
        origin_ca: &certs.ca,
        hosts: &[],
        nameservers: &nameservers,
        extra: "",
    };
    let proxy = Proxy::start(HOST, &spec);
    std::fs::copy(
        repo().join("policies/defaults.toml"),
        proxy.dir.path().join("policies/defaults.toml"),
    )
    .expect("defaults");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.log_text().contains("policies reloaded") {
        assert!(Instant::now() < deadline, "no reload: {}", proxy.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut failures = Vec::new();
    for host in [
        "c0ffee-tunnel.ngrok-free.app",
        "d3adbeef.oastify.com",
        "a-b-c.trycloudflare.com",
        "webhook.site",
    ] {
        let (status, json) = parse_answer(&raw(HOST, proxy.port, &connect_head(&format!("{host}:443")), 2.0));
        let reason = json
            .as_ref()
            .and_then(|j| j["reason"].as_str())
            .map(str::to_owned);
        if (status, reason.as_deref()) != (403, Some("host_denied")) {
            failures.push(format!("CONNECT {host}: {status} {reason:?}"));
        }
        let plain = format!(
            "GET http://{host}/collect HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {}\r\n\r\n",
            basic(USER, SECRET)
        );
        let (status, json) = parse_answer(&raw(HOST, proxy.port, plain.as_bytes(), 2.0));
        let reason = json
            .as_ref()
            .and_then(|j| j["reason"].as_str())
            .map(str::to_owned);
        if (status, reason.as_deref()) != (403, Some("host_denied")) {
            failures.push(format!("GET http://{host}/: {status} {reason:?}"));
        }
        if looked_up(&dns, host) {
            failures.push(format!("{host} was looked up"));
        }
    }
    // The control: an ordinary name under an allowed wildcard gets as far as its lookup.
    let _ = raw(HOST, proxy.port, &connect_head("docs.wild.test:443"), 0.5);
    if !looked_up(&dns, "docs.wild.test") {
        failures.push("the control docs.wild.test was never looked up".to_owned());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Taking a service off the deny list widens every tenant; `policy diff` says so.
#[test]
fn policy_diff_shows_changes_to_the_deny_list() {
    let shipped = std::fs::read_to_string(repo().join("policies/defaults.toml")).expect("defaults");
    let tenant = "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.example.com\"]\n";
    let trimmed = shipped.replace(
        "  \"transfer.sh\",\n  \"*.transfer.sh\",\n",
        "  \"*.transfer.sh\",\n",
    );
    assert_ne!(trimmed, shipped, "the shipped list names transfer.sh");
    let dirs: Vec<tempfile::TempDir> = [&shipped, &trimmed]
        .iter()
        .map(|defaults| {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("tenants")).expect("mkdir");
            std::fs::write(dir.path().join("defaults.toml"), defaults).expect("defaults");
            std::fs::write(dir.path().join("tenants/t.toml"), tenant).expect("tenant");
            dir
        })
        .collect();
    let output = support::tollgate()
        .args(["policy", "diff"])
        .arg(dirs[0].path())
        .arg(dirs[1].path())
        .output()
        .expect("policy diff");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("+ widens   tenant: global deny list no longer refuses transfer.sh"),
        "{text}"
    );
}
