//! The added cost of the Redis budget store over the in-process one, per request
//! (admit + settle, and one byte charge), on loopback against a private `redis-server`.
//!
//! Run: `cargo bench -p tollgate-shared --bench budget_store`
//! (`BUDGET_BENCH_ITERATIONS` sets the measured iterations, default 20000.)

#[path = "../tests/budget_common/mod.rs"]
mod budget_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use budget_common::RedisServer;
use tollgate_shared::budget::{
    BudgetStore, InProcessStore, ManualClock, Meter, Plan, RedisConfig, RedisStore, Subject,
};
use tollgate_shared::policy::model::{Budgets, Limits};

const WARMUP: usize = 2_000;
/// Invocations are replaced every so often, as they are in real traffic.
const REQUESTS_PER_INVOCATION: usize = 500;

/// Close to the example defaults, with every kind of admission check switched on.
fn budgets() -> Budgets {
    Budgets {
        invocation: Limits {
            requests: Some(REQUESTS_PER_INVOCATION as u64),
            bytes_out: Some(10 << 20),
            bytes_in: Some(100 << 20),
            max_response: Some(20 << 20),
            wall_clock: Some(Duration::from_secs(15 * 60)),
            concurrent_connections: Some(16),
            requests_per_minute: Some(300),
            tool_calls: None,
        },
        session: Limits {
            requests: Some(10_000_000),
            bytes_out: Some(1 << 40),
            ..Limits::default()
        },
        tenant: Limits {
            requests_per_minute: Some(6_000),
            concurrent_connections: Some(512),
            ..Limits::default()
        },
        show_remaining: false,
    }
}

#[derive(Debug, Default)]
struct Samples {
    admit_settle: Vec<Duration>,
    charge: Vec<Duration>,
}

async fn measure(store: Arc<dyn BudgetStore>, iterations: usize) -> Samples {
    let clock = Arc::new(ManualClock::new(1_750_000_000_000));
    let meter = Meter::with_parts(store, clock.clone(), None);
    let budgets = budgets();
    let mut samples = Samples::default();
    let mut plan = None;
    for i in 0..WARMUP + iterations {
        if i % REQUESTS_PER_INVOCATION == 0 {
            let subject = Subject::new("bench", "session", &format!("inv-{i}"));
            plan = Some(Arc::new(Plan::new(subject, &budgets)));
        }
        let plan = plan.as_ref().expect("set at i = 0");
        // 4 requests a second: under both rate limits, with a full window of history.
        clock.advance(Duration::from_millis(250));

        let started = Instant::now();
        let mut reservation = meter.admit(plan).await.expect("admitted");
        let admitted = started.elapsed();
        let charge_started = Instant::now();
        reservation.charge_in(16 * 1024).await.expect("charged");
        let charged = charge_started.elapsed();
        let settle_started = Instant::now();
        reservation.settle().await.expect("settled");
        let settled = settle_started.elapsed();
        if i >= WARMUP {
            samples.admit_settle.push(admitted + settled);
            samples.charge.push(charged);
        }
    }
    samples
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (percentile(&v, 0.50), percentile(&v, 0.99))
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn main() {
    let iterations = std::env::var("BUDGET_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = RedisServer::start();
    let (memory, redis) = runtime.block_on(async {
        let memory = measure(Arc::new(InProcessStore::default()), iterations).await;
        let store = RedisStore::connect(&RedisConfig::new(server.url())).expect("store");
        let redis = measure(Arc::new(store), iterations).await;
        (memory, redis)
    });
    println!("budget store cost, {iterations} requests each, microseconds");
    println!("{:<30} {:>10} {:>10}", "", "p50", "p99");
    let rows = [
        ("admit+settle in-process", stats(memory.admit_settle)),
        ("admit+settle redis", stats(redis.admit_settle)),
        ("charge in-process", stats(memory.charge)),
        ("charge redis", stats(redis.charge)),
    ];
    for (name, (p50, p99)) in &rows {
        println!("{name:<30} {:>10} {:>10}", us(*p50), us(*p99));
    }
    let added = |a: usize, b: usize| {
        let ((p50a, p99a), (p50b, p99b)) = (rows[a].1, rows[b].1);
        (us(p50b.saturating_sub(p50a)), us(p99b.saturating_sub(p99a)))
    };
    let (p50, p99) = added(0, 1);
    println!("{:<30} {p50:>10} {p99:>10}", "added by redis (admit+settle)");
    let (p50, p99) = added(2, 3);
    println!("{:<30} {p50:>10} {p99:>10}", "added by redis (charge)");
}
