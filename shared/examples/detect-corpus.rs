//! Prints precision, recall and false-positive rate of the detectors on the labelled corpus,
//! for the dev split (tuned on) and the held-out test split separately:
//! `cargo run -p tollgate-shared --release --example detect-corpus [-- --verbose]`.
//! `--verbose` adds recall per class for both splits and the ids of dev misses and dev false
//! positives; test cases are reported only in aggregate, so nobody tunes a rule on one.

use std::path::Path;
use std::process::ExitCode;

use tollgate_shared::detect::corpus::{self, Split};
use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey};

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "--verbose");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    // The key only shapes fingerprints, which this report does not show.
    let key = FingerprintKey::new(b"detect-corpus-evaluation-key".to_vec());
    let engine = match key
        .map_err(|e| e.to_string())
        .and_then(|k| Engine::new(k).map_err(|e| e.to_string()))
    {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for split in [Split::Dev, Split::Test] {
        if split == Split::Test && !dir.join("test").is_dir() {
            println!("== test split: {} not present", dir.join("test").display());
            continue;
        }
        let samples = match corpus::load_split(&dir, split) {
            Ok(samples) => samples,
            Err(e) => {
                eprintln!("{} split: {e}", split.name());
                return ExitCode::FAILURE;
            }
        };
        for (name, detectors) in [
            ("all detectors", DetectorSet::all()),
            ("default detectors", DetectorSet::defaults()),
        ] {
            let report = corpus::evaluate(&engine, detectors, &samples);
            println!("== {} split, {name}\n{report}", split.name());
            if verbose {
                print!("recall by class:\n{}", report.classes());
                if split == Split::Dev {
                    println!("missed: {:?}\nflagged: {:?}", report.missed, report.flagged);
                } else {
                    let mut why: Vec<&str> = report
                        .flagged
                        .iter()
                        .flat_map(|(_, d)| d.iter().copied())
                        .collect();
                    why.sort_unstable();
                    why.dedup();
                    println!("false positives by detector: {why:?}");
                }
            }
        }
    }
    ExitCode::SUCCESS
}
