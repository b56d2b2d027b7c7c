//! Budget enforcement against both stores: every budget kind at every scope, window refill,
//! mid-stream cut-offs, settlement and the event hook. Each test runs twice, once on the
//! in-process store and once on a private `redis-server`.

mod budget_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use budget_common::RedisServer;
use tollgate_shared::budget::{
    Budget, BudgetError, BudgetEvent, BudgetHook, BudgetStore, Exceeded, InProcessStore, ManualClock, Meter,
    Plan, RedisConfig, RedisStore, Reservation, Scope, SettledHow, Subject,
};
use tollgate_shared::policy::model::{Budgets, Limits};

const T0: u64 = 1_750_000_000_000;

/// A meter on one store, a clock the test moves, and the hook's record of events.
struct Fixture {
    meter: Meter,
    clock: Arc<ManualClock>,
    events: Arc<Recorder>,
    _server: Option<RedisServer>,
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl BudgetHook for Recorder {
    fn on_event(&self, event: &BudgetEvent<'_>) {
        let line = match event {
            BudgetEvent::Admitted { lease, .. } => format!("admitted {lease}"),
            BudgetEvent::Denied { exceeded, .. } => format!("denied {}", exceeded.budget),
            BudgetEvent::Charged {
                direction,
                requested,
                granted,
                ..
            } => format!("charged {direction:?} {granted}/{requested}"),
            BudgetEvent::Settled { lease, how, .. } => format!("settled {lease} {how:?}"),
            BudgetEvent::ToolCallAdmitted { tool_calls, .. } => format!("tool call {tool_calls}"),
            BudgetEvent::StoreFailed { operation, .. } => format!("store failed {operation}"),
        };
        self.0.lock().expect("recorder lock").push(line);
    }
}

impl Fixture {
    fn with_store(store: Arc<dyn BudgetStore>, server: Option<RedisServer>) -> Fixture {
        let clock = Arc::new(ManualClock::new(T0));
        let events = Arc::new(Recorder::default());
        let meter = Meter::with_parts(store, clock.clone(), Some(events.clone()));
        Fixture {
            meter,
            clock,
            events,
            _server: server,
        }
    }

    fn memory() -> Fixture {
        Fixture::with_store(Arc::new(InProcessStore::default()), None)
    }

    fn redis() -> Fixture {
        let server = RedisServer::start();
        let store = RedisStore::connect(&RedisConfig::new(server.url())).expect("store");
        Fixture::with_store(Arc::new(store), Some(server))
    }

    async fn admit(&self, plan: &Arc<Plan>) -> Reservation {
        self.meter.admit(plan).await.expect("admitted")
    }

    async fn refused(&self, plan: &Arc<Plan>) -> Exceeded {
        match self.meter.admit(plan).await {
            Err(BudgetError::Exceeded(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    async fn usage(&self, plan: &Plan, scope: Scope) -> tollgate_shared::budget::ScopeUsage {
        *self.meter.usage(plan).await.expect("usage").scope(scope)
    }
}

/// Runs each test body on both stores.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() { super::$name(super::Fixture::memory()).await })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() { super::$name(super::Fixture::redis()).await })*
        }
    };
}

on_both_stores!(
    requests_at_every_scope,
    concurrency_at_every_scope,
    rate_at_every_scope_refills_with_exact_retry_after,
    rate_counts_in_whole_seconds_and_forgets_after_an_idle_gap,
    wall_clock_at_every_scope,
    wall_clock_from_the_brokers_start,
    bytes_out_at_every_scope,
    declared_body_refused_whole_and_unsent_bytes_refunded,
    bytes_in_at_every_scope_cuts_at_the_right_byte,
    max_response_at_every_scope_is_per_response,
    tool_calls_per_session,
    admission_is_all_or_nothing_across_scopes,
    remaining_budget_for_the_header,
    every_event_reaches_the_hook,
);

fn limits_at(scope: Scope, limits: Limits) -> Budgets {
    let mut budgets = Budgets::default();
    match scope {
        Scope::Invocation => budgets.invocation = limits,
        Scope::Session => budgets.session = limits,
        Scope::Tenant => budgets.tenant = limits,
    }
    budgets
}

/// Two plans that share `scope`'s key but differ in every narrower scope, and one that shares
/// nothing at `scope` — so a test shows the budget is counted across exactly that key.
fn plans(scope: Scope, budgets: &Budgets, test: &str) -> (Arc<Plan>, Arc<Plan>, Arc<Plan>) {
    let tenant = format!("tenant-{test}-{}", scope.as_str());
    let plan = |t: &str, s: &str, i: &str| Arc::new(Plan::new(Subject::new(t, s, i), budgets));
    let a = plan(&tenant, "s1", "i1");
    let b = match scope {
        Scope::Invocation => plan(&tenant, "s1", "i1"),
        Scope::Session => plan(&tenant, "s1", "i2"),
        Scope::Tenant => plan(&tenant, "s2", "i3"),
    };
    let other = match scope {
        Scope::Invocation => plan(&tenant, "s1", "i9"),
        Scope::Session => plan(&tenant, "s9", "i9"),
        Scope::Tenant => plan(&format!("{tenant}-other"), "s1", "i1"),
    };
    (a, b, other)
}

async fn requests_at_every_scope(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            requests: Some(3),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "requests");
        for plan in [&a, &b, &a] {
            f.admit(plan).await.settle().await.expect("settled");
        }
        let refused = f.refused(&b).await;
        assert_eq!(
            (refused.budget, refused.scope, refused.limit, refused.used),
            (Budget::Requests, scope, 3, 3)
        );
        assert_eq!(refused.retry_after, None, "a total never refills");
        assert_eq!(f.usage(&a, scope).await.requests, 3, "refusal counted nothing");
        f.admit(&other)
            .await
            .settle()
            .await
            .expect("other key unaffected");
    }
}

async fn concurrency_at_every_scope(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            concurrent_connections: Some(2),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "concurrency");
        let first = f.admit(&a).await;
        let second = f.admit(&b).await;
        let refused = f.refused(&a).await;
        assert_eq!(
            (refused.budget, refused.scope, refused.limit, refused.used),
            (Budget::ConcurrentConnections, scope, 2, 2)
        );
        let _elsewhere = f.admit(&other).await;
        first.settle().await.expect("settled");
        let third = f.admit(&b).await;
        // The client goes away mid-stream: the guard is dropped, never settled.
        drop(second);
        wait_for_in_flight(&f, &a, scope, 1).await;
        let _fourth = f.admit(&a).await;
        drop(third);
    }
}

/// A dropped guard releases in the background on Redis: wait for it, bounded.
async fn wait_for_in_flight(f: &Fixture, plan: &Plan, scope: Scope, expected: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let in_flight = f.usage(plan, scope).await.in_flight;
        if in_flight == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "in flight stayed {in_flight}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn rate_at_every_scope_refills_with_exact_retry_after(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            requests_per_minute: Some(3),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "rate");
        let start = f.clock.now_ms_for_test();
        for plan in [&a, &b, &a] {
            f.admit(plan).await.settle().await.expect("settled");
            f.clock.advance(Duration::from_secs(10));
        }
        // Now start+30s; the first admission (at start) leaves the window at start+60s.
        let refused = f.refused(&b).await;
        assert_eq!(
            (refused.budget, refused.scope, refused.limit, refused.used),
            (Budget::RequestsPerMinute, scope, 3, 3)
        );
        assert_eq!(refused.retry_after, Some(Duration::from_secs(30)));
        f.admit(&other)
            .await
            .settle()
            .await
            .expect("other key unaffected");

        f.clock.advance(Duration::from_millis(29_999));
        let refused = f.refused(&a).await;
        assert_eq!(refused.retry_after, Some(Duration::from_millis(1)));
        assert_eq!(
            tollgate_shared::budget::retry_after_secs(Duration::from_millis(1)),
            1
        );

        f.clock.advance(Duration::from_millis(1));
        f.admit(&a).await.settle().await.expect("the window refilled");
        // Full again; the next to leave is the one admitted at start+10s.
        let refused = f.refused(&a).await;
        assert_eq!(refused.retry_after, Some(Duration::from_secs(10)));
        assert_eq!(f.clock.now_ms_for_test() - start, 60_000);
        f.clock.advance(Duration::from_secs(120));
    }
}

/// The sub-bucket rule: an admission counts until 60 s after the end of its second, however
/// long the window then sits idle.
async fn rate_counts_in_whole_seconds_and_forgets_after_an_idle_gap(f: Fixture) {
    let limits = Limits {
        requests_per_minute: Some(2),
        ..Limits::default()
    };
    let budgets = limits_at(Scope::Session, limits);
    let plan = Arc::new(Plan::new(Subject::new("t-buckets", "s", "i"), &budgets));
    // Two admissions in the second that ends at T0 + 1 s.
    f.clock.advance(Duration::from_millis(200));
    f.admit(&plan).await.settle().await.expect("settled");
    f.clock.advance(Duration::from_millis(600));
    f.admit(&plan).await.settle().await.expect("settled");
    let refused = f.refused(&plan).await;
    assert_eq!((refused.used, refused.limit), (2, 2));
    // Both count until T0 + 61 s: 60.2 s from T0 + 0.8 s.
    assert_eq!(refused.retry_after, Some(Duration::from_millis(60_200)));
    f.clock.advance(Duration::from_millis(60_199));
    assert_eq!(f.refused(&plan).await.retry_after, Some(Duration::from_millis(1)));
    f.clock.advance(Duration::from_millis(1));
    f.admit(&plan)
        .await
        .settle()
        .await
        .expect("the second ended 60 s ago");

    f.clock.advance(Duration::from_secs(2 * 3_600));
    for _ in 0..2 {
        f.admit(&plan)
            .await
            .settle()
            .await
            .expect("the idle window emptied");
    }
    let refused = f.refused(&plan).await;
    assert_eq!(refused.used, 2, "only the two admissions after the gap count");
    assert_eq!(f.usage(&plan, Scope::Session).await.in_window, 2);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(60)));
}

async fn wall_clock_at_every_scope(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            wall_clock: Some(Duration::from_secs(10)),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "wall");
        f.admit(&a).await.settle().await.expect("settled");
        f.clock.advance(Duration::from_millis(9_999));
        f.admit(&b)
            .await
            .settle()
            .await
            .expect("still inside the wall clock");
        f.clock.advance(Duration::from_millis(1));
        let refused = f.refused(&a).await;
        assert_eq!(
            (refused.budget, refused.scope, refused.limit, refused.used),
            (Budget::WallClock, scope, 10_000, 10_000)
        );
        assert_eq!(refused.retry_after, None);
        // A key seen for the first time starts its own clock now.
        f.admit(&other)
            .await
            .settle()
            .await
            .expect("other key has its own clock");
    }
}

async fn wall_clock_from_the_brokers_start(f: Fixture) {
    let budgets = limits_at(
        Scope::Invocation,
        Limits {
            wall_clock: Some(Duration::from_secs(60)),
            ..Limits::default()
        },
    );
    let started = T0 - 59_000;
    let plan = Arc::new(
        Plan::new(Subject::new("t-broker", "s", "i"), &budgets).started_at(Scope::Invocation, started),
    );
    f.admit(&plan).await.settle().await.expect("one second left");
    f.clock.advance(Duration::from_secs(1));
    let refused = f.refused(&plan).await;
    assert_eq!((refused.budget, refused.used), (Budget::WallClock, 60_000));
}

async fn bytes_out_at_every_scope(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            bytes_out: Some(100),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "out");
        let mut first = f.admit(&a).await;
        let charge = first.charge_out(70).await.expect("charged");
        assert_eq!((charge.granted, charge.exceeded), (70, None));
        first.settle().await.expect("settled");

        let mut second = f.admit(&b).await;
        let charge = second.charge_out(50).await.expect("charged");
        assert!(charge.is_cut());
        assert_eq!(charge.granted, 30);
        let e = charge.exceeded.expect("the budget that cut");
        assert_eq!(
            (e.budget, e.scope, e.limit, e.used, e.requested),
            (Budget::BytesOut, scope, 100, 70, 50)
        );
        assert_eq!(second.settle().await.expect("settled").bytes_out, 30);
        assert_eq!(f.usage(&a, scope).await.bytes_out, 100);

        let mut elsewhere = f.admit(&other).await;
        assert!(!elsewhere.charge_out(100).await.expect("charged").is_cut());
        elsewhere.settle().await.expect("settled");
    }
}

async fn declared_body_refused_whole_and_unsent_bytes_refunded(f: Fixture) {
    let budgets = limits_at(
        Scope::Session,
        Limits {
            bytes_out: Some(1_000),
            ..Limits::default()
        },
    );
    let plan = Arc::new(Plan::new(Subject::new("t-declared", "s", "i"), &budgets));
    let mut upload = f.admit(&plan).await;
    upload.reserve_out(800).await.expect("fits");
    let mut second = f.admit(&plan).await;
    match second.reserve_out(201).await {
        Err(BudgetError::Exceeded(e)) => {
            assert_eq!(
                (e.budget, e.limit, e.used, e.requested),
                (Budget::BytesOut, 1_000, 800, 201)
            )
        }
        other => panic!("expected the body refused, got {other:?}"),
    }
    assert_eq!(
        f.usage(&plan, Scope::Session).await.bytes_out,
        800,
        "nothing of it counted"
    );
    second.reserve_out(200).await.expect("exactly what is left");

    // The body streams out in chunks, taken from the reservation; the client dies after 300.
    for _ in 0..3 {
        let c = upload.charge_out(100).await.expect("charged");
        assert_eq!((c.granted, c.exceeded), (100, None));
    }
    let settled = upload.settle().await.expect("settled");
    assert_eq!((settled.bytes_out, settled.refunded_out), (300, 500));
    assert_eq!(f.usage(&plan, Scope::Session).await.bytes_out, 500);

    // Dropped unsettled with its whole reservation unsent: refunded too.
    drop(second);
    wait_for_in_flight(&f, &plan, Scope::Session, 0).await;
    assert_eq!(f.usage(&plan, Scope::Session).await.bytes_out, 300);
}

async fn bytes_in_at_every_scope_cuts_at_the_right_byte(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            bytes_in: Some(1_000),
            ..Limits::default()
        };
        let (a, b, other) = plans(scope, &limits_at(scope, limits), "in");
        let mut first = f.admit(&a).await;
        assert!(!first.charge_in(700).await.expect("charged").is_cut());
        first.settle().await.expect("settled");
        let mut second = f.admit(&b).await;
        assert!(!second.charge_in(200).await.expect("charged").is_cut());
        let charge = second.charge_in(512).await.expect("charged");
        assert_eq!(charge.granted, 100, "cut after the 1000th byte");
        let e = charge.exceeded.expect("cut");
        assert_eq!(
            (e.budget, e.scope, e.limit, e.used, e.requested),
            (Budget::BytesIn, scope, 1_000, 900, 512)
        );
        let after = second.charge_in(1).await.expect("charged");
        assert_eq!((after.granted, after.is_cut()), (0, true));
        assert_eq!(second.bytes_in(), 300);
        second.settle().await.expect("settled");
        assert_eq!(f.usage(&a, scope).await.bytes_in, 1_000);
        let mut elsewhere = f.admit(&other).await;
        assert!(!elsewhere.charge_in(1_000).await.expect("charged").is_cut());
    }
}

async fn max_response_at_every_scope_is_per_response(f: Fixture) {
    for scope in Scope::ALL {
        let limits = Limits {
            max_response: Some(100),
            ..Limits::default()
        };
        let (a, _, _) = plans(scope, &limits_at(scope, limits), "max-response");
        let mut response = f.admit(&a).await;
        assert!(!response.charge_in(60).await.expect("charged").is_cut());
        let charge = response.charge_in(60).await.expect("charged");
        assert_eq!(charge.granted, 40);
        let e = charge.exceeded.expect("cut");
        assert_eq!(
            (e.budget, e.scope, e.limit, e.used, e.requested),
            (Budget::MaxResponse, scope, 100, 60, 60)
        );
        response.settle().await.expect("settled");
        // The next response has its own cap; the bytes of both count as bytes in.
        let mut next = f.admit(&a).await;
        assert!(!next.charge_in(100).await.expect("charged").is_cut());
        next.settle().await.expect("settled");
        assert_eq!(f.usage(&a, scope).await.bytes_in, 200);
    }
    // Where several scopes set a cap, the smallest applies.
    let budgets = Budgets {
        invocation: Limits {
            max_response: Some(500),
            ..Limits::default()
        },
        tenant: Limits {
            max_response: Some(50),
            ..Limits::default()
        },
        ..Budgets::default()
    };
    let plan = Arc::new(Plan::new(Subject::new("t-caps", "s", "i"), &budgets));
    let mut response = f.admit(&plan).await;
    let charge = response.charge_in(80).await.expect("charged");
    assert_eq!(charge.granted, 50);
    assert_eq!(charge.exceeded.map(|e| e.scope), Some(Scope::Tenant));
}

async fn tool_calls_per_session(f: Fixture) {
    let budgets = limits_at(
        Scope::Session,
        Limits {
            tool_calls: Some(2),
            ..Limits::default()
        },
    );
    let plan = |s: &str, i: &str| Plan::new(Subject::new("t-tools", s, i), &budgets);
    assert_eq!(
        f.meter.admit_tool_call(&plan("s1", "i1")).await.expect("first"),
        1
    );
    assert_eq!(
        f.meter.admit_tool_call(&plan("s1", "i2")).await.expect("second"),
        2
    );
    match f.meter.admit_tool_call(&plan("s1", "i3")).await {
        Err(BudgetError::Exceeded(e)) => assert_eq!(
            (e.budget, e.scope, e.limit, e.used),
            (Budget::ToolCalls, Scope::Session, 2, 2)
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        f.meter
            .admit_tool_call(&plan("s2", "i4"))
            .await
            .expect("other session"),
        1
    );
}

async fn admission_is_all_or_nothing_across_scopes(f: Fixture) {
    let budgets = Budgets {
        invocation: Limits {
            requests: Some(100),
            requests_per_minute: Some(100),
            ..Limits::default()
        },
        session: Limits {
            concurrent_connections: Some(1),
            ..Limits::default()
        },
        tenant: Limits {
            requests: Some(100),
            ..Limits::default()
        },
        show_remaining: false,
    };
    let plan = Arc::new(Plan::new(Subject::new("t-atomic", "s", "i"), &budgets));
    let held = f.admit(&plan).await;
    for _ in 0..5 {
        let refused = f.refused(&plan).await;
        assert_eq!(
            (refused.budget, refused.scope),
            (Budget::ConcurrentConnections, Scope::Session)
        );
    }
    let usage = f.meter.usage(&plan).await.expect("usage");
    for scope in Scope::ALL {
        assert_eq!(
            usage.scope(scope).requests,
            1,
            "refusals counted nothing at {scope:?}"
        );
        assert_eq!(usage.scope(scope).in_flight, 1);
    }
    assert_eq!(usage.scope(Scope::Invocation).in_window, 1);
    held.settle().await.expect("settled");
}

async fn remaining_budget_for_the_header(f: Fixture) {
    let budgets = Budgets {
        invocation: Limits {
            requests: Some(5),
            bytes_in: Some(1_000),
            ..Limits::default()
        },
        session: Limits {
            requests: Some(3),
            ..Limits::default()
        },
        ..Budgets::default()
    };
    let plan = Arc::new(Plan::new(Subject::new("t-left", "s", "i"), &budgets));
    let mut r = f.admit(&plan).await;
    let left = r.remaining();
    let tightest = left.tightest(Budget::Requests).expect("requests limited");
    assert_eq!((tightest.scope, tightest.remaining), (Scope::Session, 2));
    assert_eq!(left.header_value(), "requests=2, bytes_in=1000");
    r.charge_in(400).await.expect("charged");
    r.settle().await.expect("settled");
    let now = f.meter.remaining(&plan).await.expect("remaining");
    assert_eq!(now.header_value(), "requests=2, bytes_in=600");
    assert_eq!(
        now.tightest(Budget::BytesOut),
        None,
        "unlimited budgets are not shown"
    );
}

async fn every_event_reaches_the_hook(f: Fixture) {
    let budgets = limits_at(
        Scope::Invocation,
        Limits {
            requests: Some(2),
            max_response: Some(10),
            ..Limits::default()
        },
    );
    let plan = Arc::new(Plan::new(Subject::new("t-hook", "s", "i"), &budgets));
    let mut first = f.admit(&plan).await;
    let lease = first.lease();
    first.charge_out(5).await.expect("charged");
    first.charge_in(15).await.expect("charged");
    first.settle().await.expect("settled");
    let second = f.admit(&plan).await;
    let lease2 = second.lease();
    f.refused(&plan).await;
    drop(second);
    f.meter.admit_tool_call(&plan).await.expect("tool call");
    let events = f.events.0.lock().expect("recorder lock").clone();
    assert_eq!(
        events,
        [
            format!("admitted {lease}"),
            "charged Out 5/5".to_owned(),
            "charged In 10/15".to_owned(),
            format!("settled {lease} {:?}", SettledHow::Explicit),
            format!("admitted {lease2}"),
            "denied requests".to_owned(),
            format!("settled {lease2} {:?}", SettledHow::Dropped),
            "tool call 1".to_owned(),
        ]
    );
}

trait NowForTest {
    fn now_ms_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_ms_for_test(&self) -> u64 {
        tollgate_shared::budget::Clock::now_ms(self)
    }
}
