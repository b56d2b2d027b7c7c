//! Exactness under concurrency (the in-process store, and the Redis store shared by two
//! "replicas": two stores with their own connections to one `redis-server`), a Redis outage
//! and its recovery, key expiry, and slots of a replica that died.

mod budget_common;

use std::sync::Arc;
use std::time::Duration;

use budget_common::RedisServer;
use tokio::sync::Barrier;
use tollgate_shared::budget::{
    BudgetError, InProcessStore, ManualClock, Meter, Plan, RedisConfig, RedisStore, Scope, StoreError,
    Subject,
};
use tollgate_shared::policy::model::{Budgets, Limits};

const T0: u64 = 1_750_000_000_000;

fn redis_meter(server: &RedisServer, clock: &Arc<ManualClock>) -> Meter {
    let store = RedisStore::connect(&RedisConfig::new(server.url())).expect("store");
    Meter::with_parts(Arc::new(store), clock.clone(), None)
}

fn memory_meters(clock: &Arc<ManualClock>) -> Vec<Meter> {
    let store = Arc::new(InProcessStore::default());
    vec![Meter::with_parts(store, clock.clone(), None)]
}

/// `attempts` admissions at once, spread over `meters` and over distinct invocations of one
/// session; every admitted reservation is held until all attempts are decided. Returns how
/// many were admitted, after checking that the others were refused for `budget`.
async fn race(
    meters: &[Meter],
    budgets: &Budgets,
    tenant: &str,
    attempts: usize,
    budget: tollgate_shared::budget::Budget,
) -> usize {
    let barrier = Arc::new(Barrier::new(attempts));
    let decided = Arc::new(Barrier::new(attempts));
    let mut tasks = Vec::new();
    for i in 0..attempts {
        let meter = meters[i % meters.len()].clone();
        let plan = Arc::new(Plan::new(
            Subject::new(tenant, "session", &format!("inv-{}", i % 7)),
            budgets,
        ));
        let (barrier, decided) = (barrier.clone(), decided.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let outcome = meter.admit(&plan).await;
            decided.wait().await;
            match outcome {
                Ok(reservation) => {
                    reservation.settle().await.expect("settled");
                    true
                }
                Err(BudgetError::Exceeded(e)) => {
                    assert_eq!(e.budget, budget, "refused for the budget under test");
                    false
                }
                Err(other) => panic!("store error during the race: {other}"),
            }
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.expect("task"));
    }
    admitted
}

fn session(limits: Limits) -> Budgets {
    Budgets {
        session: limits,
        ..Budgets::default()
    }
}

fn tenant(limits: Limits) -> Budgets {
    Budgets {
        tenant: limits,
        ..Budgets::default()
    }
}

async fn exactly_n(meters: Vec<Meter>, label: &str) {
    use tollgate_shared::budget::Budget;
    let n = 25;
    let requests = session(Limits {
        requests: Some(n),
        ..Limits::default()
    });
    let got = race(
        &meters,
        &requests,
        &format!("{label}-req"),
        10 * n as usize,
        Budget::Requests,
    )
    .await;
    assert_eq!(got, n as usize, "requests: exactly N of 10×N admitted");
    let probe = Plan::new(Subject::new(&format!("{label}-req"), "session", "x"), &requests);
    let usage = meters[0].usage(&probe).await.expect("usage");
    assert_eq!(usage.scope(Scope::Session).requests, n);
    assert_eq!(usage.scope(Scope::Tenant).requests, n);
    assert_eq!(usage.scope(Scope::Session).in_flight, 0, "every slot released");

    let n = 10;
    let concurrent = tenant(Limits {
        concurrent_connections: Some(n),
        ..Limits::default()
    });
    let got = race(
        &meters,
        &concurrent,
        &format!("{label}-conc"),
        10 * n as usize,
        Budget::ConcurrentConnections,
    )
    .await;
    assert_eq!(got, n as usize, "concurrency: exactly N held at once");

    let n = 15;
    let rate = tenant(Limits {
        requests_per_minute: Some(n),
        ..Limits::default()
    });
    let got = race(
        &meters,
        &rate,
        &format!("{label}-rate"),
        10 * n as usize,
        Budget::RequestsPerMinute,
    )
    .await;
    assert_eq!(got, n as usize, "rate: exactly N in the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_process_store_admits_exactly_n_of_10n() {
    let clock = Arc::new(ManualClock::new(T0));
    exactly_n(memory_meters(&clock), "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_admits_exactly_n_of_10n_across_two_replicas() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let replicas = vec![redis_meter(&server, &clock), redis_meter(&server, &clock)];
    exactly_n(replicas, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_and_recovers_without_a_new_store() {
    let mut server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let meter = redis_meter(&server, &clock);
    let budgets = session(Limits {
        requests: Some(1_000),
        ..Limits::default()
    });
    let plan = Arc::new(Plan::new(Subject::new("t-outage", "s", "i"), &budgets));
    let mut held = meter.admit(&plan).await.expect("admitted while up");
    assert!(meter.store_health().reachable);
    assert_eq!(meter.store_health().unavailable_total, 0);

    server.kill();
    let failures = [
        meter.admit(&plan).await.map(drop),
        held.charge_in(10).await.map(drop),
        meter.remaining(&plan).await.map(drop),
        meter.admit_tool_call(&plan).await.map(drop),
    ];
    for failure in failures {
        match failure {
            Err(e @ BudgetError::Store(StoreError::Unavailable { .. })) => {
                assert_eq!(
                    (e.reason().as_str(), e.reason().status()),
                    ("budget_store_unavailable", 503)
                );
            }
            other => panic!("expected to fail closed as unavailable, got {other:?}"),
        }
    }
    let health = meter.store_health();
    assert!(!health.reachable);
    assert!(health.unavailable_total >= 4, "each failure counted: {health:?}");
    drop(held);

    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let reservation = loop {
        match meter.admit(&plan).await {
            Ok(r) => break r,
            Err(BudgetError::Store(StoreError::Unavailable { .. }))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("did not recover: {other}"),
        }
    };
    reservation.settle().await.expect("settled after recovery");
    assert!(meter.store_health().reachable);
}

#[tokio::test]
async fn redis_keys_expire_after_the_idle_ttl() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let idle = Duration::from_secs(3_600);
    let config = RedisConfig {
        idle_ttl: idle,
        ..RedisConfig::new(server.url())
    };
    let store = RedisStore::connect(&config).expect("store");
    let meter = Meter::with_parts(Arc::new(store), clock, None);
    let budgets = Budgets {
        invocation: Limits {
            requests_per_minute: Some(10),
            ..Limits::default()
        },
        session: Limits {
            tool_calls: Some(10),
            ..Limits::default()
        },
        ..Budgets::default()
    };
    let plan = Arc::new(Plan::new(Subject::new("t-ttl", "s", "i"), &budgets));
    let mut r = meter.admit(&plan).await.expect("admitted");
    r.charge_out(10).await.expect("charged");
    r.settle().await.expect("settled");
    meter.admit_tool_call(&plan).await.expect("tool call");
    let _in_flight = meter.admit(&plan).await.expect("admitted");

    let mut conn = server.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("tollgate:budget:*")
        .query(&mut conn)
        .expect("keys");
    // Totals and live leases of 3 scopes, the invocation's rate window, the lease sequence.
    assert_eq!(keys.len(), 8, "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).expect("pttl");
        assert!(
            ttl > 0 && ttl <= idle.as_millis() as i64,
            "{key} has TTL {ttl} ms, expected within the idle TTL"
        );
    }
}

#[tokio::test]
async fn slot_of_a_replica_that_died_frees_itself_when_its_lease_expires() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let config = RedisConfig {
        lease_ttl: Duration::from_secs(30),
        ..RedisConfig::new(server.url())
    };
    let store = RedisStore::connect(&config).expect("store");
    let meter = Meter::with_parts(Arc::new(store), clock.clone(), None);
    let budgets = session(Limits {
        concurrent_connections: Some(1),
        ..Limits::default()
    });
    let plan = Arc::new(Plan::new(Subject::new("t-lease", "s", "i"), &budgets));
    // A replica that dies runs no destructor: nothing releases the slot.
    let mut streaming = meter.admit(&plan).await.expect("admitted");
    clock.advance(Duration::from_secs(20));
    streaming
        .charge_in(100)
        .await
        .expect("bytes moving renew the lease");
    std::mem::forget(streaming);
    clock.advance(Duration::from_secs(20));
    assert!(
        matches!(meter.admit(&plan).await, Err(BudgetError::Exceeded(_))),
        "the lease was renewed 20 s ago and still holds the slot"
    );
    clock.advance(Duration::from_secs(10));
    meter
        .admit(&plan)
        .await
        .expect("the dead replica's lease expired")
        .settle()
        .await
        .expect("settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_created_while_redis_is_down_works_once_it_is_up() {
    let mut server = RedisServer::not_started();
    let clock = Arc::new(ManualClock::new(T0));
    let meter = redis_meter(&server, &clock);
    let plan = Arc::new(Plan::new(Subject::new("t-late", "s", "i"), &Budgets::default()));
    match meter.admit(&plan).await {
        Err(BudgetError::Store(StoreError::Unavailable { .. })) => {}
        other => panic!("expected to fail closed before Redis is up, got {other:?}"),
    }
    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let settled = loop {
        match meter.admit(&plan).await {
            Ok(r) => break r.settle().await.expect("settled"),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(other) => panic!("did not connect once Redis was up: {other}"),
        };
    };
    assert_eq!(settled.bytes_out, 0);
}

#[test]
fn redis_store_outside_a_runtime_is_an_error_not_a_panic() {
    match RedisStore::connect(&RedisConfig::new("redis://127.0.0.1:1/")) {
        Err(StoreError::Unexpected { detail, .. }) => assert!(detail.contains("Tokio runtime")),
        other => panic!("expected an error, got {other:?}"),
    }
}
