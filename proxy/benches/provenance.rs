//! What provenance costs the proxy per request, in CPU: building the egress record on the
//! request's task, and the writer thread's work for it (seal: SHA-256 of the serialised
//! record; the Merkle leaf; serialising and appending it), measured apart and together. The
//! issue's bound is 2 µs per request; `deploy/bench-proxy.sh` measures the same end to end,
//! with provenance on and off side by side.
//!
//! Run: `cargo bench -p tollgate-proxy --bench provenance`

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tollgate_proxy::identity::{Call, Caller, Identity};
use tollgate_proxy::inject::Issued;
use tollgate_proxy::record::{Egress, egress_event};
use tollgate_shared::detect::{Engine, FingerprintKey};
use tollgate_shared::provenance::{GENESIS, Record, SCHEMA, Sink, SinkSettings, Tree, seal_into};

fn identity(engine: &'static Engine) -> Identity {
    Identity::new(Caller {
        user: "inv-5f0c2a9e4b7d4c1e9a3b".to_owned(),
        tenant: "acme-research".to_owned(),
        session: "sess-2b9d".to_owned(),
        tool: "github-reader".to_owned(),
        call: Some(Arc::new(Call {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
            tool_call_id: "toolu_01A09q90qw90lq917835lq9".to_owned(),
            model: "claude-sonnet-4".to_owned(),
        })),
        issued: Arc::new(Issued::new(engine, Vec::new())),
    })
}

/// User + system time of this process so far (all threads), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn bench(c: &mut Criterion) {
    let key = FingerprintKey::new(vec![7u8; 32]).expect("key");
    let engine: &'static Engine = Box::leak(Box::new(Engine::new(key).expect("engine")));
    let who = identity(engine);
    let egress = |target| Egress {
        identity: Some(&who),
        denial: None,
        report: None,
        method: "GET",
        host: "api.github.com",
        port: 443,
        target,
        status: Some(200),
        bytes_out: 0,
        bytes_in: 1024,
        started_unix_ms: 1_796_000_000_000,
        ended_unix_ms: 1_796_000_000_003,
        peer: Some("140.82.112.6:443".parse().expect("addr")),
        traceparent: None,
        mcp_method: None,
    };
    let target = "/repos/acme/widgets/issues?state=open&per_page=50";
    c.bench_function("build egress record (request task)", |b| {
        b.iter(|| egress_event(&egress(target), engine))
    });
    let event = egress_event(&egress(target), engine);
    c.bench_function("seal, leaf, serialise (writer thread)", |b| {
        let mut tree = Tree::default();
        let mut line = Vec::with_capacity(2048);
        b.iter_batched(
            || event.clone(),
            |event| {
                let mut record = Record {
                    schema: SCHEMA.to_owned(),
                    seq: 42,
                    prev_hash: GENESIS.to_owned(),
                    hash: String::new(),
                    event,
                };
                line.clear();
                seal_into(&mut record, &mut line);
                tree.push(&record.hash);
                record
            },
            BatchSize::SmallInput,
        )
    });
    // Everything, with the real writer: build and emit N records, then wait until the writer
    // has appended them all (dropping the sink joins it). What is reported is the CPU time
    // the whole process spent (every thread, user and system, from /proc), not wall time, so
    // a machine shared with other work does not inflate it.
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = SinkSettings {
        reserve_bytes: 0,
        ..SinkSettings::at(dir.path().join("p.jsonl"))
    };
    let mut group = c.benchmark_group("end to end");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("build, emit and write one record", |b| {
        b.iter_custom(|iters| {
            let _ = std::fs::remove_file(&settings.path);
            let sink = Sink::open(&settings, "proxy").expect("sink");
            let start = cpu_time();
            for _ in 0..iters {
                sink.emit(egress_event(&egress(target), engine));
            }
            drop(sink);
            cpu_time().saturating_sub(start)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
