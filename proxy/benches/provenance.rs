//! What provenance costs the proxy per request, in CPU: building the egress record on the
//! request's task, and the writer thread's work for it (seal: SHA-256 of the serialised
//! record; the Merkle leaf; serialising and appending it), measured apart and together. The
//! issue's bound is 2 µs per request; `deploy/bench-proxy.sh` measures the same end to end,
//! with provenance on and off side by side.
//!
//! Run: `cargo bench -p tollgate-proxy --bench provenance`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_proxy::identity::{Call, Identity};
use tollgate_proxy::inject::Issued;
use tollgate_proxy::record::{Egress, egress_event};
use tollgate_shared::detect::{Engine, FingerprintKey};
use tollgate_shared::provenance::{GENESIS, Sink, SinkSettings, Tree, seal};

fn identity(engine: &'static Engine) -> Identity {
    Identity {
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
    }
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
        b.iter(|| {
            let record = seal(event.clone(), 41, GENESIS);
            tree.push(&record.hash);
            line.clear();
            serde_json::to_writer(&mut line, &record).expect("json");
            line.len()
        })
    });
    // Everything, with the real writer: build and emit N records, then wait until the writer
    // has appended them all (dropping the sink joins it). Wall time of a busy writer is
    // about the CPU both threads spend.
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = SinkSettings {
        reserve_bytes: 0,
        ..SinkSettings::at(dir.path().join("p.jsonl"))
    };
    let mut group = c.benchmark_group("end to end");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("build, emit and write one record", |b| {
        b.iter_custom(|iters| {
            let _ = std::fs::remove_file(&settings.path);
            let sink = Sink::open(&settings, "proxy").expect("sink");
            let start = Instant::now();
            for _ in 0..iters {
                sink.emit(egress_event(&egress(target), engine));
            }
            drop(sink);
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
