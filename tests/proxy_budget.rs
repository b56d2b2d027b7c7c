//! End-to-end tests of egress budgets in `tollgate proxy`: every budget the proxy enforces,
//! seen from a real client (curl) against a real origin, on the in-process store and on a real
//! `redis-server` shared by two proxy processes, including a Redis outage and its recovery.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::redis::RedisServer;
use support::{Origin, OriginCerts, Place, Proxy, ProxySpec};

const HOST: Place<'static> = Place::Host;

fn policy(port: u16, budgets: &str) -> String {
    format!(
        r#"version = 1
[tenant]
id = "t"
owner = "owner@t.example"

[[tools]]
name = "fetch"

[[tools.egress]]
id = "api"
hosts = ["api.test"]
ports = [{port}]
paths = ["/ok"]
allow_private = ["127.0.0.0/8"]

[[tools.egress]]
id = "raw"
hosts = ["other.test"]
ports = [{port}]
traffic = "tunnel"
allow_private = ["127.0.0.0/8"]

{budgets}
"#
    )
}

/// One TLS origin on 127.0.0.2 and a proxy in front of it with the given budgets.
struct Bench {
    proxy: Proxy,
    origin: Origin,
    certs: OriginCerts,
    policy: String,
    config: String,
    _certs_dir: tempfile::TempDir,
}

const HOSTS: &[(&str, &str)] = &[("api.test", "127.0.0.2"), ("other.test", "127.0.0.2")];

impl Bench {
    fn new(budgets: &str, config: &str) -> Self {
        let certs_dir = tempfile::tempdir().expect("tempdir");
        let certs = OriginCerts::new(certs_dir.path(), &["api.test", "other.test"]);
        let origin = Origin::tls(HOST, "127.0.0.2", 0, &certs);
        let policy = policy(origin.port, budgets);
        let proxy = start_proxy(&policy, &certs.ca, config);
        Self {
            proxy,
            origin,
            certs,
            policy,
            config: config.to_owned(),
            _certs_dir: certs_dir,
        }
    }

    /// Another proxy process with the same policy and configuration (a replica).
    fn replica(&self) -> Proxy {
        start_proxy(&self.policy, &self.certs.ca, &self.config)
    }

    fn url(&self, path: &str) -> String {
        format!("https://api.test:{}/ok{path}", self.origin.port)
    }

    /// What the origin itself has received, asked directly (not through the proxy).
    fn seen(&self) -> (u64, u64) {
        let port = self.origin.port;
        let output = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", "--noproxy", "*", "--cacert"])
            .arg(&self.certs.ca)
            .args(["--resolve", &format!("api.test:{port}:127.0.0.2")])
            .arg(format!("https://api.test:{port}/seen"))
            .output()
            .expect("curl");
        let seen: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("origin /seen answers JSON");
        (
            seen["requests"].as_u64().expect("requests"),
            seen["body_bytes"].as_u64().expect("body_bytes"),
        )
    }

    fn get(&self, path: &str) -> Answer {
        fetch(&self.proxy, &[&self.url(path)])
    }
}

fn start_proxy(policy: &str, origin_ca: &Path, config: &str) -> Proxy {
    Proxy::start(
        HOST,
        &ProxySpec {
            tenant_policy: policy,
            origin_ca,
            hosts: HOSTS,
            nameservers: &[],
            extra: config,
        },
    )
}

/// One curl exchange through the proxy.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// The last response head (after any CONNECT answer).
    headers: String,
    body: Vec<u8>,
    exit: Option<i32>,
    stderr: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// A 429 `budget_exceeded` for `budget` at `scope`, through the one JSON shape.
    fn assert_over(&self, budget: &str, scope: &str) -> serde_json::Value {
        assert_eq!(self.status, 429, "{self:?}");
        assert_eq!(
            self.header("x-tollgate-reason").as_deref(),
            Some("budget_exceeded")
        );
        let body = self.json();
        assert_eq!(body["reason"], "budget_exceeded", "{body}");
        assert_eq!(body["budget"], budget, "{body}");
        assert_eq!(body["scope"], scope, "{body}");
        assert_eq!(body["tenant"], "t", "{body}");
        assert_eq!(body["invocation"], support::USER, "{body}");
        body
    }
}

/// A response cut at a budget of `cap` bytes. Pingora writes a response head together with
/// the body chunks that arrived with it, so a cut either aborts a response whose head (and
/// a prefix of no more than `cap` bytes of the body) went out — the client sees a transfer
/// that ends short — or, when nothing had been written yet, replaces it with the 429.
fn assert_cut(answer: &Answer, budget: &str, cap: usize) {
    match answer.status {
        200 => {
            assert_ne!(answer.exit, Some(0), "aborted, not complete: {answer:?}");
            assert!(
                answer.body.len() <= cap,
                "{} bytes reached the client",
                answer.body.len()
            );
            assert!(answer.body.iter().all(|&c| c == b'x'), "a prefix of the body");
        }
        _ => {
            answer.assert_over(budget, "invocation");
        }
    }
}

fn fetch(proxy: &Proxy, args: &[&str]) -> Answer {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("body");
    let heads = dir.path().join("heads");
    let mut all: Vec<&str> = vec![
        "-o",
        path_str(&body),
        "-D",
        path_str(&heads),
        "-w",
        "%{http_code}",
    ];
    all.extend_from_slice(args);
    let output = proxy.curl(HOST, &all);
    let heads = std::fs::read_to_string(&heads).unwrap_or_default();
    let last_head = heads
        .split("\r\n\r\n")
        .filter(|block| !block.trim().is_empty())
        .last()
        .unwrap_or_default()
        .to_owned();
    Answer {
        status: String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or(0),
        headers: last_head,
        body: std::fs::read(&body).unwrap_or_default(),
        exit: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// The value of one metric line, e.g. `tollgate_budget_denials_total{budget="requests",scope="invocation"}`.
fn metric(proxy: &Proxy, series: &str) -> Option<f64> {
    proxy.metrics(HOST).lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

#[test]
fn requests_are_counted_then_refused_with_the_budget_in_the_body() {
    let b = Bench::new("[budgets.invocation]\nrequests = 3\n", "");
    for _ in 0..3 {
        let answer = b.get("/");
        assert_eq!(answer.status, 200, "{answer:?}\n{}", b.proxy.log_text());
    }
    let refused = b.get("/");
    let body = refused.assert_over("requests", "invocation");
    assert_eq!(
        (body["limit"].as_u64(), body["used"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        body["retry_after_secs"],
        serde_json::Value::Null,
        "a total never refills"
    );
    assert_eq!(refused.header("retry-after"), None);
    assert_eq!(b.seen().0, 3, "the refused request never reached the origin");
    assert_eq!(
        metric(
            &b.proxy,
            "tollgate_budget_denials_total{budget=\"requests\",scope=\"invocation\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn the_rate_refuses_with_retry_after_until_the_window_refills() {
    let b = Bench::new("[budgets.session]\nrequests_per_minute = 2\n", "");
    assert_eq!(b.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);
    let refused = b.get("/");
    let body = refused.assert_over("requests_per_minute", "session");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After header: {refused:?}"));
    // An admission counts until 60 s after the end of its second: at most 61 s, rounded up.
    assert!((1..=61).contains(&wait), "Retry-After {wait}");
    assert_eq!(body["retry_after_secs"].as_u64(), Some(wait));
    assert_eq!(body["limit"].as_u64(), Some(2));
}

#[test]
fn a_second_concurrent_request_is_refused_while_the_first_holds_the_slot() {
    let b = Bench::new("[budgets.invocation]\nconcurrent_connections = 1\n", "");
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| b.get("/slow/2500"));
        let deadline = Instant::now() + Duration::from_secs(8);
        while b.seen().0 == 0 {
            assert!(
                Instant::now() < deadline,
                "the slow request never reached the origin"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let refused = b.get("/");
        let body = refused.assert_over("concurrent_connections", "invocation");
        assert_eq!(body["used"].as_u64(), Some(1));
        let slow = slow.join().expect("slow request");
        assert_eq!(slow.status, 200, "{slow:?}");
    });
    // The slot is free again once the first exchange ended.
    assert_eq!(b.get("/").status, 200);
}

#[test]
fn a_body_over_bytes_out_is_refused_before_any_of_it_leaves() {
    let b = Bench::new("[budgets.invocation]\nbytes_out = 2000\n", "");
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; 5000]).expect("write");
    let data = format!("@{}", path_str(&big));
    let url = b.url("/upload");
    let refused = fetch(&b.proxy, &["--http1.1", "--data-binary", &data, &url]);
    let body = refused.assert_over("bytes_out", "invocation");
    assert_eq!(body["limit"].as_u64(), Some(2000));
    assert!(body["requested"].as_u64().is_some_and(|r| r > 5000), "{body}");
    assert_eq!(b.seen(), (0, 0), "the origin saw nothing of the refused request");

    // Nothing was counted for the refused body: a small one still fits.
    let small = fetch(&b.proxy, &["--data-binary", "hello", &url]);
    assert_eq!(small.status, 200, "{small:?}");
    assert_eq!(b.seen(), (1, 5));
}

#[test]
fn a_response_over_bytes_in_is_cut_and_the_next_request_refused() {
    let b = Bench::new("[budgets.invocation]\nbytes_in = 20000\n", "");
    let cut = b.get("/big/100000");
    assert_cut(&cut, "bytes_in", 20000);
    let refused = b.get("/");
    let body = refused.assert_over("bytes_in", "invocation");
    assert_eq!(body["limit"].as_u64(), Some(20000));
    assert_eq!(body["used"].as_u64(), Some(20000), "the cut response was counted");
    assert_eq!(
        metric(
            &b.proxy,
            "tollgate_budget_cuts_total{budget=\"bytes_in\",scope=\"invocation\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn a_response_over_max_response_is_cut_but_the_next_one_flows() {
    let b = Bench::new("[budgets.invocation]\nmax_response = 10000\n", "");
    for version in ["--http1.1", "--http2"] {
        let cut = fetch(&b.proxy, &[version, &b.url("/big/50000")]);
        assert_cut(&cut, "max_response", 10000);
    }
    let small = b.get("/");
    assert_eq!(small.status, 200, "the cap is per response: {small:?}");
    assert_eq!(small.json()["path"], "/ok/");
}

#[test]
fn the_wall_clock_runs_from_the_first_request() {
    let b = Bench::new("[budgets.invocation]\nwall_clock = \"2s\"\n", "");
    assert_eq!(b.get("/").status, 200);
    std::thread::sleep(Duration::from_millis(2200));
    let refused = b.get("/");
    let body = refused.assert_over("wall_clock", "invocation");
    assert_eq!(body["limit"].as_u64(), Some(2000));
    assert!(body["used"].as_u64().is_some_and(|u| u >= 2000), "{body}");
}

#[test]
fn a_tunnel_only_connection_is_admitted_and_its_bytes_charged() {
    let b = Bench::new("[budgets.invocation]\nbytes_in = 20000\n", "");
    let port = b.origin.port;
    // The tunnel is opaque: curl talks TLS to the origin itself, trusting the origin CA.
    let big = format!("https://other.test:{port}/ok/big/100000");
    let cacert = path_str(&b.certs.ca);
    let cut = fetch(&b.proxy, &["--cacert", cacert, &big]);
    assert_ne!(cut.exit, Some(0), "the tunnel was cut: {cut:?}");
    assert!(cut.body.len() < 20000, "{} bytes", cut.body.len());
    // bytes_in is spent: the next CONNECT is refused before the upstream is dialled.
    let seen_before = b.seen().0;
    let refused = fetch(&b.proxy, &["--cacert", cacert, &big]);
    assert_ne!(refused.exit, Some(0));
    assert!(
        refused.stderr.contains("429"),
        "CONNECT refused with 429: {refused:?}"
    );
    assert_eq!(b.seen().0, seen_before);
}

fn redis_config(redis: &RedisServer) -> String {
    format!(
        "[budgets]\nredis = \"{}\"\nstore_timeout = \"300ms\"\n",
        redis.url()
    )
}

#[test]
fn two_replicas_sharing_redis_admit_exactly_n_of_many_concurrent_requests() {
    const LIMIT: usize = 4;
    const ATTEMPTS_PER_PROXY: usize = 6;
    let redis = RedisServer::start();
    let b = Bench::new(
        &format!("[budgets.tenant]\nrequests = {LIMIT}\n"),
        &redis_config(&redis),
    );
    let replica = b.replica();
    let url = b.url("/");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..ATTEMPTS_PER_PROXY)
            .flat_map(|_| [&b.proxy, &replica])
            .map(|proxy| scope.spawn(|| fetch(proxy, &[&url]).status))
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).collect()
    });
    let admitted = statuses.iter().filter(|&&s| s == 200).count();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert_eq!(
        (admitted, refused),
        (LIMIT, 2 * ATTEMPTS_PER_PROXY - LIMIT),
        "{statuses:?}\n{}\n{}",
        b.proxy.log_text(),
        replica.log_text()
    );
    assert_eq!(
        b.seen().0,
        LIMIT as u64,
        "the origin saw exactly the admitted ones"
    );
}

#[test]
fn a_redis_outage_fails_closed_and_recovers_without_a_restart() {
    let mut redis = RedisServer::start();
    let b = Bench::new("[budgets.invocation]\nrequests = 100\n", &redis_config(&redis));
    let ok = b.get("/");
    assert_eq!(ok.status, 200, "{ok:?}\n{}", b.proxy.log_text());

    redis.kill();
    let down = b.get("/");
    assert_eq!(down.status, 503, "{down:?}");
    assert_eq!(
        down.header("x-tollgate-reason").as_deref(),
        Some("budget_store_unavailable")
    );
    let body = down.json();
    assert_eq!(body["reason"], "budget_store_unavailable");
    assert_eq!(body["source"], "service", "not mistaken for an upstream failure");
    assert_eq!(b.seen().0, 1, "nothing went out while the store was down");
    assert!(
        metric(
            &b.proxy,
            "tollgate_budget_store_unavailable_total{reason=\"budget_store_unavailable\"}"
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert_eq!(metric(&b.proxy, "tollgate_budget_store_up"), Some(0.0));

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let again = b.get("/");
        if again.status == 200 {
            break;
        }
        assert_eq!(again.status, 503, "{again:?}");
        assert!(Instant::now() < deadline, "never recovered: {again:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(metric(&b.proxy, "tollgate_budget_store_up"), Some(1.0));
}

#[test]
fn a_client_that_dies_mid_exchange_frees_its_concurrency_slot() {
    let b = Bench::new("[budgets.invocation]\nconcurrent_connections = 1\n", "");
    // The client gives up after 1 s; the origin would answer only after 8 s.
    let gone = fetch(&b.proxy, &["--max-time", "1", &b.url("/slow/8000")]);
    assert_ne!(gone.exit, Some(0), "{gone:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let next = b.get("/");
        if next.status == 200 {
            break;
        }
        next.assert_over("concurrent_connections", "invocation");
        assert!(
            Instant::now() < deadline,
            "the slot stayed held after the client left: {next:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_remaining_budget_header_is_shown_only_when_the_policy_opts_in() {
    let b = Bench::new(
        "[budgets]\nshow_remaining = true\n[budgets.invocation]\nrequests = 5\n[budgets.session]\nrequests = 3\n",
        "",
    );
    let first = b.get("/");
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("x-tollgate-budget-remaining").as_deref(),
        Some("requests=2"),
        "the tightest scope (session: 3 - 1) is shown"
    );
    let second = b.get("/");
    assert_eq!(
        second.header("x-tollgate-budget-remaining").as_deref(),
        Some("requests=1")
    );
    let quiet = Bench::new("[budgets.invocation]\nrequests = 5\n", "");
    assert_eq!(
        quiet.get("/").header("x-tollgate-budget-remaining"),
        None,
        "off unless the policy opts in"
    );
}
