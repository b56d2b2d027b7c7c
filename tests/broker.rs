//! The broker end to end against a real OpenBao dev server and a real PostgreSQL: grants and
//! refusals, revocation proven on the server, deadlines, an OpenBao outage, a broker killed
//! with revocations owed, and two replicas on one Redis.

mod support;

use std::time::{Duration, Instant};

use support::broker::{Broker, BrokerSpec, CONTROL_TOKEN, KV, POLICY_T, POLICY_U, PROXY_TOKEN};
use support::redis::RedisServer;
use support::secrets::{OpenBao, Postgres, Relay, seed};

fn spec(bao: &OpenBao) -> BrokerSpec<'static> {
    BrokerSpec {
        vault_address: bao.address(),
        auth: None,
        store: None,
        proxy_address: Some("127.0.0.1:3128".to_owned()),
        policies: &[("t", POLICY_T), ("u", POLICY_U)],
    }
}

fn reason(body: &serde_json::Value) -> &str {
    body["reason"].as_str().unwrap_or("-")
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

#[test]
fn each_tool_gets_exactly_its_grants_and_end_revokes_them_on_the_server() {
    let bao = OpenBao::start();
    let pg = Postgres::start();
    seed(&bao, Some(&pg), KV);
    let broker = Broker::start(&spec(&bao));
    let (id, secret) = broker.invocation("t", "fetch", "sess-1");

    // inject: a placeholder with the mark, never the value; the same one on every call.
    let (status, api) = broker.credential(&id, &secret, "api-key");
    assert_eq!(status, 200, "{api}");
    let placeholder = api["value"].as_str().expect("value").to_owned();
    assert!(placeholder.contains("tgph"), "{placeholder}");
    assert_ne!(placeholder, KV[0].2);
    assert_eq!(api["delivery"], "inject");
    assert_eq!(
        broker.credential(&id, &secret, "api-key").1["value"],
        placeholder.as_str()
    );

    // database: a real Postgres user that logs in.
    let (status, db) = broker.credential(&id, &secret, "db");
    assert_eq!(status, 200, "{db}");
    let (user, password) = (
        db["username"].as_str().expect("user"),
        db["value"].as_str().expect("password"),
    );
    assert!(pg.login(user, password), "the minted database user must log in");

    // token: a child token the server accepts.
    let (status, child) = broker.credential(&id, &secret, "child-token");
    assert_eq!(status, 200, "{child}");
    let child = child["value"].as_str().expect("token").to_owned();
    assert!(bao.token_works(&child));

    // Refusals, each with its own reason.
    let (status, body) = broker.credential(&id, &secret, "other-secret");
    assert_eq!((status, reason(&body)), (403, "credential_not_granted"));
    let (status, body) = broker.credential(&id, &secret, "u-secret");
    assert_eq!((status, reason(&body)), (403, "unknown_credential"));
    let (status, body) = broker.credential(&id, "wrong-secret", "api-key");
    assert_eq!((status, reason(&body)), (401, "invalid_credentials"));
    let (other_id, other_secret) = broker.invocation("t", "other", "sess-1");
    let (status, body) = broker.credential(&other_id, &other_secret, "db");
    assert_eq!((status, reason(&body)), (403, "credential_not_granted"));
    let (u_id, u_secret) = broker.invocation("u", "fetch", "sess-u");
    let (status, body) = broker.credential(&u_id, &u_secret, "api-key");
    assert_eq!((status, reason(&body)), (403, "unknown_credential"));
    assert_eq!(broker.credential(&u_id, &u_secret, "u-secret").0, 200);
    let (status, body) = broker.start_raw("t", "no-such-tool", "sess-1", None);
    assert_eq!((status, reason(&body)), (403, "unknown_tool"));
    let (status, body) = broker.start_raw("nobody", "fetch", "sess-1", None);
    assert_eq!((status, reason(&body)), (403, "unknown_tenant"));

    // End: the database user and the child token stop working on the server.
    let (status, body) = broker.end(&id);
    assert_eq!((status, body["ended"].as_bool()), (200, Some(true)), "{body}");
    assert!(
        wait_until(Duration::from_secs(5), || !pg.login(user, password)),
        "a revoked database user must not log in"
    );
    assert!(!bao.token_works(&child), "a revoked child token must be rejected");
    let (status, body) = broker.credential(&id, &secret, "api-key");
    assert_eq!((status, reason(&body)), (401, "invocation_ended"));
    assert_eq!(broker.end(&id).1["ended"].as_bool(), Some(false));

    // The values never reach the broker's log.
    let log = broker.log_text();
    for value in [password, child.as_str(), KV[0].2, secret.as_str()] {
        assert!(!log.contains(value), "a secret value is in the broker log");
    }
}

#[test]
fn control_api_roles_and_bad_input_get_clear_refusals() {
    let bao = OpenBao::start();
    seed(&bao, None, KV);
    let broker = Broker::start(&spec(&bao));
    let start = r#"{"tenant":"t","session":"s","tool":"fetch","tool_call_id":"c","model":"m"}"#;
    let (status, body) = broker.control("wrong", "/v1/invocations", start);
    assert_eq!((status, reason(&body)), (401, "unauthorized"));
    let (status, body) = broker.control(PROXY_TOKEN, "/v1/invocations", start);
    assert_eq!(
        (status, reason(&body)),
        (401, "unauthorized"),
        "the proxy role may not start"
    );
    let (status, body) = broker.control(
        CONTROL_TOKEN,
        "/v1/lookup",
        r#"{"invocation_id":"x","secret":"y"}"#,
    );
    assert_eq!(
        (status, reason(&body)),
        (401, "unauthorized"),
        "the orchestrator may not look up"
    );
    for bad in [
        "{not json",
        r#"{"tenant":"t"}"#,
        r#"{"tenant":"t","session":"s","tool":"fetch","tool_call_id":"c","model":"m","extra":1}"#,
        r#"{"tenant":"t\"x","session":"s","tool":"fetch","tool_call_id":"c","model":"m"}"#,
        r#"{"tenant":"t","session":"s","tool":"fetch","tool_call_id":"c","model":"m","traceparent":"junk"}"#,
    ] {
        let (status, body) = broker.control(CONTROL_TOKEN, "/v1/invocations", bad);
        assert_eq!((status, reason(&body)), (400, "bad_request"), "{bad}");
    }
    let huge = format!(
        r#"{{"tenant":"{}","session":"s","tool":"fetch","tool_call_id":"c","model":"m"}}"#,
        "a".repeat(100_000)
    );
    assert_eq!(broker.control(CONTROL_TOKEN, "/v1/invocations", &huge).0 / 100, 4);

    // The session's tool-call budget (5) is charged by every start.
    let (id, secret) = broker.invocation("t", "fetch", "budgeted");
    for _ in 1..5 {
        broker.invocation("t", "fetch", "budgeted");
    }
    let (status, body) = broker.start_raw("t", "fetch", "budgeted", None);
    assert_eq!((status, reason(&body)), (429, "budget_exceeded"));
    let records = broker.dir.path().join("provenance.jsonl");
    assert!(
        wait_until(Duration::from_secs(3), || std::fs::read_to_string(&records)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("\"type\":\"budget.exceeded\"")
                && l.contains("\"gen_ai.conversation.id\":\"budgeted\""))),
        "the refused call is recorded as budget.exceeded"
    );
    // An unknown path gets the refusal shape too, and every refusal is counted by reason.
    let (status, body) = broker.control(CONTROL_TOKEN, "/v1/nope", "{}");
    assert_eq!((status, reason(&body)), (404, "not_found"), "{body}");
    let health = std::process::Command::new("curl")
        .args(["-sS", &format!("{}/v1/health", broker.control_url())])
        .output()
        .expect("health");
    let health: serde_json::Value = serde_json::from_slice(&health.stdout).expect("health json");
    assert_eq!(health["refusals"]["budget_exceeded"], 1, "{health}");
    assert_eq!(health["refusals"]["not_found"], 1, "{health}");
    assert!(health["refusals"]["unauthorized"].as_u64() >= Some(2), "{health}");

    // Lookup is the proxy's, and says who the invocation is.
    let lookup = serde_json::json!({"invocation_id": id, "secret": secret}).to_string();
    let (status, body) = broker.control(PROXY_TOKEN, "/v1/lookup", &lookup);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invocation"]["tool"], "fetch");
    assert_eq!(body["invocation"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let wrong = serde_json::json!({"invocation_id": id, "secret": "nope"}).to_string();
    assert_eq!(broker.control(PROXY_TOKEN, "/v1/lookup", &wrong).0, 401);

    // A slow client on the socket does not hold up others.
    let mut slow = std::os::unix::net::UnixStream::connect(&broker.socket).expect("connect");
    std::io::Write::write_all(&mut slow, b"GET /v1/credentials/api-key HTTP/1.1\r\nhost: x\r\n")
        .expect("write");
    assert_eq!(broker.credential(&id, &secret, "api-key").0, 200);
}

#[test]
fn the_deadline_ends_an_invocation_and_revokes_its_database_user() {
    let bao = OpenBao::start();
    let pg = Postgres::start();
    seed(&bao, Some(&pg), KV);
    let broker = Broker::start(&spec(&bao));
    let (status, body) = broker.start_raw("t", "fetch", "s", Some(2));
    assert_eq!(status, 201, "{body}");
    let (id, secret) = (
        body["invocation_id"].as_str().expect("id"),
        body["secret"].as_str().expect("s"),
    );
    let db = broker.credential(id, secret, "db").1;
    let (user, password) = (
        db["username"].as_str().expect("user"),
        db["value"].as_str().expect("pw"),
    );
    assert!(pg.login(user, password));
    assert!(db["expires_unix_ms"].as_u64() <= body["deadline_unix_ms"].as_u64());
    assert!(
        wait_until(Duration::from_secs(10), || !pg.login(user, password)),
        "the user outlived the deadline"
    );
    let (status, body) = broker.credential(id, secret, "db");
    assert_eq!(status, 401, "{body}");
}

#[test]
fn an_openbao_outage_is_a_clear_503_and_the_broker_recovers_by_itself() {
    let bao = OpenBao::start();
    seed(&bao, None, KV);
    let broker = Broker::start(&spec(&bao));
    let (id, secret) = broker.invocation("t", "fetch", "s");
    bao.pause();
    let started = Instant::now();
    let (status, body) = broker.start_raw("t", "fetch", "s", None);
    assert_eq!((status, reason(&body)), (503, "vault_unavailable"), "{body}");
    let (status, body) = broker.credential(&id, &secret, "api-key");
    assert_eq!((status, reason(&body)), (503, "vault_unavailable"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    bao.resume();
    assert!(wait_until(Duration::from_secs(10), || broker
        .credential(&id, &secret, "api-key")
        .0
        == 200));
    assert_eq!(broker.start_raw("t", "fetch", "s", None).0, 201);
}

#[test]
fn a_broker_killed_with_revocations_owed_carries_them_out_when_it_starts_again() {
    let bao = OpenBao::start();
    let pg = Postgres::start();
    seed(&bao, Some(&pg), KV);
    // The broker reaches OpenBao through a relay, so the path can be cut while the server
    // keeps every token and lease.
    let mut relay = Relay::new(bao.port);
    let mut broker = Broker::start(&BrokerSpec {
        vault_address: relay.address(),
        ..spec(&bao)
    });
    let (id, secret) = broker.invocation("t", "fetch", "s");
    let db = broker.credential(&id, &secret, "db").1;
    let (user, password) = (
        db["username"].as_str().expect("user"),
        db["value"].as_str().expect("pw"),
    );
    relay.cut();
    let (status, body) = broker.end(&id);
    assert_eq!((status, body["ended"].as_bool()), (200, Some(true)), "{body}");
    let owed = std::fs::read_dir(broker.dir.path().join("state/outbox"))
        .expect("outbox")
        .count();
    assert_eq!(owed, 1, "the revocation must be recorded as owed");
    broker.kill();
    assert!(
        pg.login(user, password),
        "nothing could be revoked: the path to the server was cut"
    );
    relay.restore();
    broker.launch();
    assert!(
        wait_until(Duration::from_secs(10), || !pg.login(user, password)),
        "the owed revocation was not carried out"
    );
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_dir(
        broker.dir.path().join("state/outbox")
    )
    .expect("outbox")
    .count()
        == 0));
}

#[test]
fn two_replicas_on_one_redis_share_every_invocation_and_lose_nothing_when_one_dies() {
    let bao = OpenBao::start();
    let pg = Postgres::start();
    seed(&bao, Some(&pg), KV);
    // Replica b logs in with AppRole, as a production broker does.
    let broker_policy = bao.dir.path().join("broker.hcl");
    std::fs::write(
        &broker_policy,
        "path \"auth/token/create\" { capabilities = [\"create\", \"update\", \"sudo\"] }\n\
         path \"auth/token/revoke-accessor\" { capabilities = [\"update\"] }\n\
         path \"auth/token/lookup-self\" { capabilities = [\"read\"] }\n\
         path \"auth/token/renew-self\" { capabilities = [\"update\"] }\n\
         path \"sys/policies/acl/tollgate-*\" { capabilities = [\"create\", \"update\", \"read\"] }\n",
    )
    .expect("policy");
    bao.must(&[
        "policy",
        "write",
        "tollgate-broker",
        &broker_policy.display().to_string(),
    ]);
    bao.must(&["auth", "enable", "approle"]);
    bao.must(&[
        "write",
        "auth/approle/role/broker",
        "token_policies=tollgate-broker",
        "token_ttl=1h",
    ]);
    let role_id = bao.must(&["read", "-field=role_id", "auth/approle/role/broker/role-id"]);
    let secret_id = bao.must(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/broker/secret-id",
    ]);
    let redis = RedisServer::start();
    let store = Some(format!(
        "kind = \"redis\"\nurl = \"{}\"\nprefix = \"tg-test\"",
        redis.url()
    ));
    let mut a = Broker::start(&BrokerSpec {
        store: store.clone(),
        ..spec(&bao)
    });
    let secret_file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(secret_file.path(), secret_id.trim()).expect("secret id");
    let b = Broker::start(&BrokerSpec {
        store,
        auth: Some(format!(
            "method = \"approle\"\nrole_id = \"{}\"\nsecret_id_file = \"{}\"",
            role_id.trim(),
            secret_file.path().display()
        )),
        ..spec(&bao)
    });
    assert!(b.log_text().contains("AppRole"), "{}", b.log_text());

    let (id, secret) = a.invocation("t", "fetch", "s");
    let db = b.credential(&id, &secret, "db").1;
    let (user, password) = (
        db["username"].as_str().expect("user"),
        db["value"].as_str().expect("pw"),
    );
    assert!(pg.login(user, password));
    assert_eq!(
        a.credential(&id, &secret, "db").1["username"],
        user,
        "one credential, whichever replica answers"
    );
    let (id2, secret2) = b.invocation("t", "fetch", "s");
    // The session's tool-call budget (5) is one count across the replicas.
    for i in 0..5 {
        let replica = if i % 2 == 0 { &a } else { &b };
        replica.invocation("t", "fetch", "shared-budget");
    }
    for replica in [&a, &b] {
        let (status, body) = replica.start_raw("t", "fetch", "shared-budget", None);
        assert_eq!((status, reason(&body)), (429, "budget_exceeded"));
    }
    a.kill();
    assert_eq!(
        b.credential(&id2, &secret2, "api-key").0,
        200,
        "b serves what b started"
    );
    assert_eq!(
        b.end(&id).1["ended"].as_bool(),
        Some(true),
        "b ends what a started"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !pg.login(user, password)),
        "revoked through the other replica"
    );
    let (status, body) = b.credential(&id, &secret, "db");
    assert_eq!((status, reason(&body)), (401, "invocation_ended"));
}

#[test]
fn a_grant_removed_from_the_policy_stops_without_a_restart_and_a_broken_edit_changes_nothing() {
    let bao = OpenBao::start();
    seed(&bao, None, KV);
    let broker = Broker::start(&spec(&bao));
    let (id, secret) = broker.invocation("t", "fetch", "s");
    assert_eq!(broker.credential(&id, &secret, "api-key").0, 200);
    let path = broker.dir.path().join("policies/tenants/t.toml");
    std::fs::write(&path, format!("{POLICY_T}\n[[tools.broken")).expect("broken edit");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        broker.credential(&id, &secret, "api-key").0,
        200,
        "a broken edit must leave the old policy in force"
    );
    assert!(broker.log_text().contains("policy reload rejected"));
    let narrowed = POLICY_T.replacen("name = \"api-key\"", "name = \"api-key-renamed\"", 1);
    std::fs::write(&path, narrowed).expect("edit");
    assert!(
        wait_until(Duration::from_secs(5), || broker
            .credential(&id, &secret, "api-key")
            .0
            == 403),
        "a grant taken away must stop, also for a credential already issued"
    );
}

#[test]
fn a_broker_that_cannot_record_refuses_new_work_but_still_revokes_and_recovers() {
    let bao = OpenBao::start();
    seed(&bao, None, KV);
    let disk = support::SmallDisk::new("48k");
    let mut broker = Broker::start(&spec(&bao));
    let (id, secret) = broker.invocation("t", "fetch", "s");
    // The same broker, its records now on a disk too small to keep the reserve free.
    broker.kill();
    let config = broker.dir.path().join("broker.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let records = disk.dir.path().join("provenance.jsonl");
    std::fs::write(&config, format!("provenance = \"{}\"\n{text}", records.display())).expect("config");
    broker.launch();
    let (status, body) = broker.start_raw("t", "fetch", "s2", None);
    assert_eq!((status, reason(&body)), (503, "provenance_unavailable"), "{body}");
    let (status, body) = broker.credential(&id, &secret, "api-key");
    assert_eq!((status, reason(&body)), (503, "provenance_unavailable"), "{body}");
    // Ending and revoking is never held back.
    let (status, body) = broker.end(&id);
    assert_eq!(status, 200, "{body}");
    disk.resize("4m");
    assert!(
        wait_until(Duration::from_secs(5), || broker
            .start_raw("t", "fetch", "s3", None)
            .0
            == 201),
        "the broker did not recover once its records could be written:\n{}",
        broker.log_text()
    );
    let verify = support::tollgate()
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
