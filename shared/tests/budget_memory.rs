//! What a store holds does not grow with the number of requests: after a full minute of
//! traffic it holds as much as after five, on the in-process store (its footprint) and on
//! Redis (its keys, their entries and their memory), while the rate window still counts
//! every admission of the last minute.

mod budget_common;

use std::sync::Arc;
use std::time::Duration;

use budget_common::RedisServer;
use tollgate_shared::budget::{
    InProcessStore, ManualClock, Meter, Plan, RATE_BUCKET_MS, RATE_WINDOW_MS, RedisConfig, RedisStore, Scope,
    Subject,
};
use tollgate_shared::policy::model::{Budgets, Limits};

const T0: u64 = 1_750_000_000_000;
/// Sub-buckets a window can hold at once.
const SLOTS: u64 = RATE_WINDOW_MS / RATE_BUCKET_MS + 1;

/// Every admission check on at every scope, with limits far above the traffic.
fn budgets() -> Budgets {
    let limits = Limits {
        requests: Some(u64::MAX / 2),
        requests_per_minute: Some(10_000_000),
        concurrent_connections: Some(1_000),
        ..Limits::default()
    };
    Budgets {
        invocation: limits,
        session: limits,
        tenant: limits,
        show_remaining: false,
    }
}

/// `n` requests, `every` apart, each admitted and settled, with a few held in flight at a time.
async fn traffic(meter: &Meter, clock: &ManualClock, plan: &Arc<Plan>, n: usize, every: Duration) {
    let mut held = Vec::new();
    for i in 0..n {
        clock.advance(every);
        held.push(meter.admit(plan).await.expect("admitted"));
        if i % 8 == 7 {
            for r in held.drain(..) {
                r.settle().await.expect("settled");
            }
        }
    }
    for r in held {
        r.settle().await.expect("settled");
    }
}

async fn in_window(meter: &Meter, plan: &Plan) -> u64 {
    meter
        .usage(plan)
        .await
        .expect("usage")
        .scope(Scope::Tenant)
        .in_window
}

#[tokio::test]
async fn in_process_store_holds_the_same_after_5k_and_100k_requests() {
    let store = Arc::new(InProcessStore::default());
    let clock = Arc::new(ManualClock::new(T0));
    let meter = Meter::with_parts(store.clone(), clock.clone(), None);
    let plan = Arc::new(Plan::new(Subject::new("t-mem", "s", "i"), &budgets()));
    let every = Duration::from_millis(1);

    traffic(&meter, &clock, &plan, 5_000, every).await;
    let early = store.footprint();
    traffic(&meter, &clock, &plan, 95_000, every).await;
    let late = store.footprint();

    // One a millisecond: the window now counts the last 60 to 61 seconds.
    let counted = in_window(&meter, &plan).await;
    assert!((60_000..=61_000).contains(&counted), "in window: {counted}");
    assert_eq!((early.scopes, late.scopes), (3, 3));
    assert_eq!((early.leases, late.leases), (0, 0), "every lease released");
    assert!(late.rate_buckets as u64 <= 3 * SLOTS, "{late:?}");
    assert_eq!(
        late.heap_bytes, early.heap_bytes,
        "no byte more after 95,000 more requests: {early:?} then {late:?}"
    );
}

/// Per key of the store: its name, how many entries it holds and its memory in bytes.
fn redis_contents(server: &RedisServer) -> Vec<(String, u64, u64)> {
    let mut conn = server.connection();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("tollgate:budget:*")
        .query(&mut conn)
        .expect("keys");
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).expect("type");
            let entries: u64 = match kind.as_str() {
                "hash" => redis::cmd("HLEN").arg(&key).query(&mut conn),
                "zset" => redis::cmd("ZCARD").arg(&key).query(&mut conn),
                _ => Ok(1),
            }
            .expect("entries");
            let bytes: u64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .query(&mut conn)
                .expect("memory usage");
            (key, entries, bytes)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_holds_the_same_after_14k_and_34k_requests() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let store = RedisStore::connect(&RedisConfig::new(server.url())).expect("store");
    let meter = Meter::with_parts(Arc::new(store), clock.clone(), None);
    let plan = Arc::new(Plan::new(Subject::new("t-mem", "s", "i"), &budgets()));
    let every = Duration::from_millis(5);

    // 14,000 requests 5 ms apart: 70 s, the window is full; then 100 s more.
    traffic(&meter, &clock, &plan, 14_000, every).await;
    let early = redis_contents(&server);
    traffic(&meter, &clock, &plan, 20_000, every).await;
    let late = redis_contents(&server);

    let counted = in_window(&meter, &plan).await;
    assert!((12_000..=12_200).contains(&counted), "in window: {counted}");
    let names = |c: &[(String, u64, u64)]| c.iter().map(|k| k.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&early), names(&late), "the same keys");
    // Totals and rate window of three scopes and the lease sequence; a set of live leases
    // is gone once empty.
    assert_eq!(late.len(), 7, "{late:?}");
    for (key, entries, _) in &late {
        assert!(
            *entries <= SLOTS + 2,
            "{key} holds {entries} entries after 34,000 requests"
        );
    }
    let bytes = |c: &[(String, u64, u64)]| c.iter().map(|k| k.2).sum::<u64>();
    assert!(
        bytes(&late) <= bytes(&early) + 256,
        "memory grew from {} to {} bytes: {early:?} then {late:?}",
        bytes(&early),
        bytes(&late)
    );
}
