//! Per-request budget cost (admit + settle) does not depend on how much traffic came before:
//! measured with 1,000 and with 100,000 admissions still counting in the rate windows, on the
//! in-process store and on a private `redis-server` over loopback. Every scope has a rate
//! limit (far above the traffic), so every window is in play.
//!
//! Run: `cargo bench -p tollgate-shared --bench budget_history`

#[path = "../tests/budget_common/mod.rs"]
mod budget_common;

use std::sync::Arc;
use std::time::Duration;

use budget_common::RedisServer;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tollgate_shared::budget::{
    BudgetStore, InProcessStore, ManualClock, Meter, Plan, RATE_WINDOW_MS, RedisConfig, RedisStore, Subject,
};
use tollgate_shared::policy::model::{Budgets, Limits};

const HISTORIES: [u64; 2] = [1_000, 100_000];

fn budgets() -> Budgets {
    let limits = Limits {
        requests_per_minute: Some(1 << 40),
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

/// A meter whose windows hold `history` admissions, and a clock that keeps them there: each
/// request moves it on by a window's `1 / history`, so as many leave as arrive.
struct Loaded {
    meter: Meter,
    clock: Arc<ManualClock>,
    plan: Arc<Plan>,
    step_us: u64,
    elapsed_us: u64,
}

impl Loaded {
    async fn new(store: Arc<dyn BudgetStore>, history: u64) -> Loaded {
        let clock = Arc::new(ManualClock::new(1_750_000_000_000));
        let mut loaded = Loaded {
            meter: Meter::with_parts(store, clock.clone(), None),
            clock,
            plan: Arc::new(Plan::new(Subject::new("bench", "s", "i"), &budgets())),
            step_us: RATE_WINDOW_MS * 1_000 / history,
            elapsed_us: 0,
        };
        for _ in 0..history {
            loaded.request().await;
        }
        loaded
    }

    async fn request(&mut self) {
        let before_ms = self.elapsed_us / 1_000;
        self.elapsed_us += self.step_us;
        self.clock
            .advance(Duration::from_millis(self.elapsed_us / 1_000 - before_ms));
        let reservation = self.meter.admit(&self.plan).await.expect("admitted");
        reservation.settle().await.expect("settled");
    }
}

fn bench_store(c: &mut Criterion, name: &str, runtime: &Runtime, open: &dyn Fn() -> Arc<dyn BudgetStore>) {
    let mut group = c.benchmark_group(format!("admit_settle/{name}"));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for history in HISTORIES {
        let mut loaded = runtime.block_on(Loaded::new(open(), history));
        group.bench_with_input(BenchmarkId::new("after", history), &history, |b, _| {
            b.iter(|| runtime.block_on(loaded.request()));
        });
    }
    group.finish();
}

fn budget_history(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    bench_store(c, "in-process", &runtime, &|| Arc::new(InProcessStore::default()));
    let server = RedisServer::start();
    let url = server.url();
    let open_redis = || -> Arc<dyn BudgetStore> {
        let _guard = runtime.enter();
        Arc::new(RedisStore::connect(&RedisConfig::new(url.clone())).expect("store"))
    };
    bench_store(c, "redis", &runtime, &open_redis);
}

criterion_group!(benches, budget_history);
criterion_main!(benches);
