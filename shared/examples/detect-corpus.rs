//! Prints precision, recall and false-positive rate of the detectors on the labelled corpus:
//! `cargo run -p tollgate-shared --release --example detect-corpus [-- --verbose]`.

use std::path::Path;
use std::process::ExitCode;

use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey, corpus};

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "--verbose");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let samples = match corpus::load(&dir) {
        Ok(samples) => samples,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
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
    for (name, detectors) in [
        ("all detectors", DetectorSet::all()),
        ("default detectors", DetectorSet::defaults()),
    ] {
        let report = corpus::evaluate(&engine, detectors, &samples);
        println!("== {name}\n{report}");
        if verbose {
            println!("missed: {:?}\nflagged: {:?}", report.missed, report.flagged);
        }
    }
    ExitCode::SUCCESS
}
