//! The SSRF guard, tested inside a network namespace the test owns: the "private",
//! "metadata" and loopback addresses live on that namespace's loopback device, each with a
//! real origin listening, so a guard that failed would reach the test's own fixture and the
//! test would see it; no packet can leave for the real network.

mod support;

use support::{Netns, Origin, OriginCerts, Place, Proxy, ProxySpec, connect_head, parse_answer, raw};

const ADDRESSES: [&str; 4] = ["10.0.0.1", "169.254.169.254", "100.64.0.1", "fd00::1"];

const POLICY: &str = r#"version = 1
[tenant]
id = "t"
owner = "owner@t.example"

[[tools]]
name = "fetch"

[[tools.egress]]
id = "names"
hosts = ["loop.test", "meta.test", "ten.test", "cgnat.test", "ula.test", "mixed.test"]
ports = [8443]

[[tools.egress]]
id = "ips"
hosts = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:169.254.169.254"]
ports = [8443]

[[tools.egress]]
id = "allowed-ten"
hosts = ["ok-ten.test"]
ports = [8443]
allow_private = ["10.0.0.0/8"]
"#;

struct World {
    // Declared first so it is dropped first: processes end before their namespace goes.
    proxy: Proxy,
    _origins: Vec<Origin>,
    _certs_dir: tempfile::TempDir,
    ns: Netns,
}

fn world() -> World {
    let ns = Netns::new(&ADDRESSES);
    let place = Place::Netns(&ns);
    let certs_dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(
        certs_dir.path(),
        &["ok-ten.test", "ten.test", "meta.test", "loop.test"],
    );
    let origins = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1"]
        .iter()
        .map(|ip| Origin::tls(place, ip, 8443, &certs))
        .collect();
    let hosts = [
        ("loop.test", "127.0.0.1"),
        ("meta.test", "169.254.169.254"),
        ("ten.test", "10.0.0.1"),
        ("cgnat.test", "100.64.0.1"),
        ("ula.test", "fd00::1"),
        ("ok-ten.test", "10.0.0.1"),
    ];
    let spec = ProxySpec {
        tenant_policy: POLICY,
        origin_ca: &certs.ca,
        hosts: &hosts,
        nameservers: &[],
        extra: "",
    };
    let proxy = Proxy::start(place, &spec);
    World {
        proxy,
        _origins: origins,
        _certs_dir: certs_dir,
        ns,
    }
}

fn connect(world: &World, target: &str) -> (u16, Option<String>) {
    let answer = raw(
        Place::Netns(&world.ns),
        world.proxy.port,
        &connect_head(target),
        5.0,
    );
    let (status, body) = parse_answer(&answer);
    (status, body.and_then(|b| b["reason"].as_str().map(str::to_owned)))
}

#[test]
fn the_fixture_is_reachable_when_a_rule_names_the_range() {
    let w = world();
    let output = w.proxy.curl(
        Place::Netns(&w.ns),
        &["-w", "\n%{http_code}", "https://ok-ten.test:8443/through"],
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.ends_with("\n200"),
        "the control must pass, or the refusals below prove nothing: {out} {}",
        w.proxy.log_text()
    );
}

#[test]
fn names_that_resolve_to_private_metadata_or_loopback_addresses_are_refused() {
    let w = world();
    for name in ["loop.test", "meta.test", "ten.test", "cgnat.test", "ula.test"] {
        assert_eq!(
            connect(&w, &format!("{name}:8443")),
            (403, Some("ssrf_blocked".to_owned())),
            "{name}"
        );
    }
}

#[test]
fn ip_literals_in_every_notation_are_normalised_then_refused() {
    let w = world();
    let cases = [
        "127.0.0.1",
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "0x7f000001",
        "[::1]",
        "10.0.0.1",
        "012.0.0.1",
        "167772161",
        "169.254.169.254",
        "0xa9.0xfe.0xa9.0xfe",
        "2852039166",
        "0251.0376.0251.0376",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
    ];
    for literal in cases {
        assert_eq!(
            connect(&w, &format!("{literal}:8443")),
            (403, Some("ssrf_blocked".to_owned())),
            "{literal}"
        );
    }
}

#[test]
fn private_literals_not_in_the_allowlist_are_denied_by_policy_first() {
    let w = world();
    for literal in ["100.64.0.1", "[fd00::1]", "0x64.0x40.0.1"] {
        assert_eq!(
            connect(&w, &format!("{literal}:8443")),
            (403, Some("host_not_allowed".to_owned())),
            "{literal}"
        );
    }
}
