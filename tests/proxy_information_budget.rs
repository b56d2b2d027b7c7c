//! The information budget through the real proxy. A patient tool leaks a 40-character token
//! two characters per request, each request innocent on its own (no detector fires on `R8`):
//! the budget of unexplained bits per destination stops it part way, with
//! `429 information_budget_exceeded`, and the origin never sees the rest. Ordinary queries
//! (words, repeats) under the same budget all pass. A tool naming many distinct short
//! hostnames under a wildcard is stopped at its distinct-hostname budget, and the names past
//! it are never looked up. With the budgets in Redis, two replicas charge one ledger: the
//! token spread over both stops where it stops on one.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::recording::{Bench, looked_up};
use support::{Place, connect_head, parse_answer, raw};

const HOST: Place<'static> = Place::Host;
/// Shaped like a GitHub token; 40 characters.
const TOKEN: &str = "ghp_R8v2Kq9ZtLm4Xw7Pb3Nc6Yd1Fh5Js0GaQeTu";

fn bench(information: &str) -> Bench {
    Bench::start(&format!("[budgets.information]\n{information}"))
}

fn get(b: &Bench, query: &str) -> (u16, Value) {
    get_via(b, b.proxy.port, query)
}

/// The same through the proxy listening on `port` (the bench's, or a replica's).
fn get_via(b: &Bench, port: u16, query: &str) -> (u16, Value) {
    let url = format!("https://api.test:{}/search?q={query}", b.tls.port);
    let output = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-x"])
        .arg(format!(
            "http://{}:{}@127.0.0.1:{port}",
            support::USER,
            support::SECRET
        ))
        .args(["-w", "\n%{http_code}", &url])
        .env("CURL_CA_BUNDLE", b.proxy.ca())
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn a_token_spread_over_twenty_requests_is_stopped_by_the_information_budget() {
    let b = bench("bits_per_destination = 160");
    let pieces: Vec<&str> = (0..20).map(|i| &TOKEN[2 * i..2 * i + 2]).collect();
    let mut answers = Vec::new();
    for piece in &pieces {
        answers.push(get(&b, piece));
    }
    let passed = answers.iter().take_while(|(s, _)| *s == 200).count();
    assert!(
        passed >= 3,
        "the budget should not stop the first requests: {answers:?}"
    );
    assert!(
        passed < pieces.len(),
        "all {} pieces went out: {answers:?}",
        pieces.len()
    );
    for (status, json) in &answers[passed..] {
        assert_eq!(
            (*status, json["reason"].as_str()),
            (429, Some("information_budget_exceeded")),
            "{answers:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    let received = String::from_utf8_lossy(&b.tls.received()).into_owned();
    let arrived = pieces
        .iter()
        .filter(|p| received.contains(&format!("q={p} ")))
        .count();
    assert_eq!(
        arrived, passed,
        "what reached the origin is what was answered 200"
    );
    assert!(
        !received.contains(&format!("q={} ", pieces[19])),
        "the last piece left"
    );
    assert!(!b.proxy.log_text().contains(TOKEN));
}

/// The pieces of TOKEN sent in turn through the bench's proxy and `replica`: how many were
/// answered 200 before the first refusal, and whether every one after it was refused.
fn spread_over(b: &Bench, ports: &[u16]) -> (usize, bool) {
    let answers: Vec<(u16, Value)> = (0..20)
        .map(|i| get_via(b, ports[i % ports.len()], &TOKEN[2 * i..2 * i + 2]))
        .collect();
    let passed = answers.iter().take_while(|(s, _)| *s == 200).count();
    let refused = answers[passed..]
        .iter()
        .all(|(s, j)| (*s, j["reason"].as_str()) == (429, Some("information_budget_exceeded")));
    (passed, refused)
}

#[test]
fn replicas_sharing_redis_charge_one_information_budget() {
    let budget = "bits_per_destination = 160";
    // One proxy: where the budget stops the token.
    let alone = bench(budget);
    let (stop, refused) = spread_over(&alone, &[alone.proxy.port]);
    assert!(refused && (3..20).contains(&stop), "one proxy: {stop}");

    // Two replicas on one Redis, taking turns: the same ledger, the same stop.
    let redis = support::redis::RedisServer::start();
    let store = format!("[budgets]\nredis = \"{}\"\n", redis.url());
    let shared = Bench::start_with(&format!("[budgets.information]\n{budget}"), &store);
    let (replica, _process) = shared.replica();
    let (passed, refused) = spread_over(&shared, &[shared.proxy.port, replica]);
    assert!(refused, "after the stop, everything is refused");
    assert_eq!(passed, stop, "two replicas on Redis stop where one proxy stops");

    // The control: replicas with budgets in their own memory each keep a ledger, and the
    // token gets further.
    let apart = bench(budget);
    let (replica, _process) = apart.replica();
    let (further, _) = spread_over(&apart, &[apart.proxy.port, replica]);
    assert!(
        further > stop,
        "in-process replicas: {further}, one proxy: {stop}"
    );
}

#[test]
fn ordinary_queries_pass_under_the_same_budget() {
    let b = bench("bits_per_destination = 160");
    let words = [
        "rust",
        "tokio",
        "serde",
        "hyper",
        "axum",
        "async",
        "clap",
        "regex",
        "rayon",
        "tracing",
        "anyhow",
        "thiserror",
        "reqwest",
        "bytes",
        "futures",
        "pingora",
        "tower",
        "chrono",
        "itertools",
        "diesel",
    ];
    for query in words.iter().chain(&["rust", "tokio", "serde"]) {
        let (status, json) = get(&b, query);
        assert_eq!(status, 200, "q={query}: {json}");
    }
}

#[test]
fn distinct_hostnames_are_budgeted_and_the_ones_past_it_never_looked_up() {
    let b = bench("distinct_hosts = 8");
    let mut failures = Vec::new();
    for i in 0..20 {
        // Four characters a label: under every per-label threshold.
        let start = 4 + 2 * (i % 14);
        let host = format!("n{i}{}.wild.test", TOKEN[start..start + 4].to_ascii_lowercase());
        let answer = raw(HOST, b.proxy.port, &connect_head(&format!("{host}:443")), 0.4);
        let (status, json) = parse_answer(&answer);
        let reason = json
            .as_ref()
            .and_then(|j| j["reason"].as_str())
            .map(str::to_owned);
        let seen = looked_up(&b.dns, &host);
        match i {
            0..8 if !seen => failures.push(format!("{host}: within the budget but not looked up ({status})")),
            8.. if (status, reason.as_deref()) != (429, Some("distinct_hosts_exceeded")) => {
                failures.push(format!("{host}: {status} {reason:?}"))
            }
            8.. if seen => failures.push(format!("{host}: looked up past the budget")),
            _ => {}
        }
    }
    // A name already counted is not a new one.
    let again = format!("n0{}.wild.test", &TOKEN[4..8].to_ascii_lowercase());
    let _ = raw(HOST, b.proxy.port, &connect_head(&format!("{again}:443")), 0.4);
    if !looked_up(&b.dns, &again) {
        failures.push(format!("{again}: a name already counted was refused"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn policy_dir(information: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("tenants")).expect("mkdir");
    std::fs::write(
        dir.path().join("tenants/t.toml"),
        format!(
            "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[budgets.information]\n{information}\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.example.com\"]\n"
        ),
    )
    .expect("tenant");
    dir
}

#[test]
fn the_budget_is_strict_policy_and_shows_in_policy_diff() {
    let tight = policy_dir("bits_per_destination = 160\ndistinct_hosts = 8");
    let loose = policy_dir("bits_per_destination = 4096");
    let output = support::tollgate()
        .args(["policy", "diff"])
        .arg(tight.path())
        .arg(loose.path())
        .output()
        .expect("policy diff");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("+ widens   tenant: information budget, bits per destination: raised from 160 to 4096")
            && text.contains("+ widens   tenant: information budget, distinct hostnames: limit of 8 removed"),
        "{text}"
    );
    let back = support::tollgate()
        .args(["policy", "diff"])
        .arg(loose.path())
        .arg(tight.path())
        .output()
        .expect("policy diff");
    let text = String::from_utf8_lossy(&back.stdout);
    assert!(
        text.contains("- narrows  tenant: information budget, distinct hostnames: limited to 8"),
        "{text}"
    );
    let stray = policy_dir("bits_per_destination = 160\nbits_per_host = 10");
    let check = support::tollgate()
        .args(["policy", "check"])
        .arg(stray.path())
        .output()
        .expect("policy check");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        !check.status.success() && text.contains("bits_per_host"),
        "{text}"
    );
}
