use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::policy::{SourceFile, load_sources};

const DEFAULTS: &str = r#"
version = 1
[[deny]]
hosts = ["169.254.169.254", "*.internal.example"]
reason = "metadata and internal"
"#;

const TENANT: &str = r#"
version = 1
[tenant]
id = "t"
owner = "owner@t.example"

[[tools]]
name = "gh"
[[tools.egress]]
id = "read"
hosts = ["api.github.com"]
methods = ["GET"]
paths = ["/repos/"]
[[tools.egress]]
id = "write-issues"
hosts = ["api.github.com"]
methods = ["POST"]
paths = ["/repos/acme/widgets/issues"]
[[tools.egress]]
id = "internal-tunnel"
hosts = ["db.internal.example", "*.git.example"]
ports = [22]
traffic = "tunnel"

[[tools]]
name = "reporting"
mode = "report"
[[tools.egress]]
id = "any-path"
hosts = ["*.example.com"]
ports = [443, 8443]
"#;

fn tenant() -> Tenant {
    let loaded = load_sources(
        Some(SourceFile {
            name: PathBuf::from("defaults.toml"),
            text: DEFAULTS.to_owned(),
        }),
        vec![SourceFile {
            name: PathBuf::from("tenants/t.toml"),
            text: TENANT.to_owned(),
        }],
    );
    let mut set = loaded
        .policies
        .unwrap_or_else(|| panic!("{:#?}", loaded.diagnostics));
    set.tenants.remove("t").expect("tenant t")
}

fn decide_str<'p>(
    tenant: &'p Tenant,
    tool: &str,
    method: Option<&str>,
    host: &str,
    port: u16,
    path: Option<&str>,
) -> Decision<'p> {
    let host = Host::parse(host).expect("host");
    decide(
        tenant,
        tool,
        &Request {
            method,
            host: &host,
            port,
            path,
        },
    )
}

#[test]
fn the_first_fully_matching_rule_allows() {
    let t = tenant();
    let d = decide_str(
        &t,
        "gh",
        Some("POST"),
        "api.github.com",
        443,
        Some("/repos/acme/widgets/issues?x=1"),
    );
    assert_eq!(
        (d.verdict, d.reason, d.rule_id()),
        (Verdict::Allow, Reason::Allowed, Some("write-issues"))
    );
    assert_eq!(d.owner, Some("owner@t.example"));
}

#[test]
fn each_check_fails_with_its_own_reason_and_the_closest_rule() {
    let t = tenant();
    let cases = [
        (
            Some("GET"),
            "evil.example",
            443,
            Some("/repos/x"),
            Reason::HostNotAllowed,
            None,
        ),
        (
            Some("GET"),
            "api.github.com",
            80,
            Some("/repos/x"),
            Reason::PortNotAllowed,
            Some("read"),
        ),
        (
            Some("DELETE"),
            "api.github.com",
            443,
            Some("/repos/x"),
            Reason::MethodNotAllowed,
            Some("read"),
        ),
        (
            Some("GET"),
            "api.github.com",
            443,
            Some("/user/keys"),
            Reason::PathNotAllowed,
            Some("read"),
        ),
        (
            Some("get"),
            "api.github.com",
            443,
            Some("/repos/x"),
            Reason::MethodNotAllowed,
            Some("read"),
        ),
    ];
    for (method, host, port, path, reason, rule) in cases {
        let d = decide_str(&t, "gh", method, host, port, path);
        assert_eq!(
            (d.verdict, d.reason, d.rule_id()),
            (Verdict::Deny, reason, rule),
            "{method:?} {host}:{port}{path:?}"
        );
        assert!(d.blocks());
    }
}

#[test]
fn dot_segments_cannot_climb_out_of_an_allowed_prefix() {
    let t = tenant();
    for path in [
        "/repos/../user/keys",
        "/repos/%2e%2e/user/keys",
        "/repos/.%2E/user",
    ] {
        let d = decide_str(&t, "gh", Some("GET"), "api.github.com", 443, Some(path));
        assert_eq!(d.reason, Reason::PathNotAllowed, "{path}");
    }
    let d = decide_str(
        &t,
        "gh",
        Some("GET"),
        "api.github.com",
        443,
        Some("https://evil.example/"),
    );
    assert_eq!(d.reason, Reason::InvalidPath);
}

#[test]
fn the_global_deny_list_beats_any_tenant_rule() {
    let t = tenant();
    let d = decide_str(&t, "gh", None, "db.internal.example", 22, None);
    assert_eq!((d.verdict, d.reason), (Verdict::Deny, Reason::HostDenied));
    let d = decide_str(&t, "gh", Some("GET"), "0xa9.254.169.254", 80, Some("/"));
    assert_eq!(d.reason, Reason::HostDenied, "metadata in hex notation");
}

#[test]
fn connect_time_checks_only_host_and_port() {
    let t = tenant();
    let d = decide_str(&t, "gh", None, "api.github.com", 443, None);
    assert_eq!((d.verdict, d.rule_id()), (Verdict::Allow, Some("read")));
    let d = decide_str(&t, "gh", None, "mirror.git.example", 22, None);
    assert_eq!(
        (d.verdict, d.rule_id()),
        (Verdict::Allow, Some("internal-tunnel"))
    );
    let d = decide_str(&t, "gh", None, "api.github.com", 22, None);
    assert_eq!(d.reason, Reason::PortNotAllowed);
}

#[test]
fn report_mode_denies_without_blocking() {
    let t = tenant();
    let d = decide_str(&t, "reporting", Some("GET"), "example.com", 443, Some("/"));
    assert_eq!(
        (d.verdict, d.reason, d.enforced, d.blocks()),
        (Verdict::Deny, Reason::HostNotAllowed, false, false)
    );
    let d = decide_str(&t, "reporting", Some("GET"), "a.example.com", 8443, Some("/"));
    assert_eq!(d.verdict, Verdict::Allow);
}

#[test]
fn unknown_tools_are_denied() {
    let t = tenant();
    let d = decide_str(&t, "nope", Some("GET"), "api.github.com", 443, Some("/repos/x"));
    assert_eq!((d.reason, d.enforced), (Reason::UnknownTool, true));
}

proptest! {
    /// A rule allows exactly the ports it lists, at CONNECT time and per request alike.
    #[test]
    fn ports_are_allowed_exactly_as_listed(listed in prop::collection::btree_set(1u16.., 1..5), probe in 1u16..) {
        let ports: Vec<String> = listed.iter().map(u16::to_string).collect();
        let text = format!(
            "version = 1\n[tenant]\nid = \"p\"\nowner = \"o\"\n[[tools]]\nname = \"x\"\n[[tools.egress]]\nid = \"r\"\nhosts = [\"*.example.com\"]\nports = [{}]\n",
            ports.join(", ")
        );
        let loaded = load_sources(None, vec![SourceFile { name: PathBuf::from("tenants/p.toml"), text }]);
        let set = loaded.policies.expect("valid policy");
        let tenant = set.tenant("p").expect("tenant");
        for port in listed.iter().copied().chain([probe]) {
            let expected = if listed.contains(&port) { Reason::Allowed } else { Reason::PortNotAllowed };
            prop_assert_eq!(decide_str(tenant, "x", None, "a.example.com", port, None).reason, expected);
            prop_assert_eq!(decide_str(tenant, "x", Some("GET"), "A.Example.COM.", port, Some("/")).reason, expected);
        }
    }
}
