//! How long the first request to a new host pays for its certificate: mint a leaf and build
//! its TLS configuration, N times for N distinct hosts, and print the median and p99.
//!
//! cargo run --release -p tollgate-proxy --example mint [N]

use std::time::{Duration, Instant};

use tollgate_proxy::ca::{Authority, init};
use tollgate_proxy::mint::Minter;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("tollgate-mint-bench-{}", std::process::id()));
    init(&dir, "bench CA").expect("ca");
    let minter = Minter::new(
        Authority::load(&dir).expect("load"),
        Duration::from_secs(86400),
        100_000,
    )
    .expect("minter");
    let mut samples: Vec<Duration> = (0..n)
        .map(|i| {
            let started = Instant::now();
            minter
                .config_for(&format!("host-{i}.bench.example"))
                .expect("mint");
            started.elapsed()
        })
        .collect();
    let cached = Instant::now();
    minter.config_for("host-0.bench.example").expect("cached");
    let cached = cached.elapsed();
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{{\"mints\": {n}, \"p50_us\": {}, \"p99_us\": {}, \"cached_lookup_us\": {:.2}}}",
        at(0.5).as_micros(),
        at(0.99).as_micros(),
        cached.as_secs_f64() * 1e6
    );
    std::fs::remove_dir_all(&dir).ok();
}
