//! The corpus targets: recall of at least 99% on the positives and a false-positive rate of at
//! most 0.5% on the negatives, with every detector (optional ones too) switched on.

use std::path::Path;

use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey, corpus};

#[test]
fn corpus_meets_recall_and_false_positive_targets() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let samples = corpus::load(&dir).expect("corpus loads");
    assert!(
        samples.iter().filter(|s| s.positive).count() >= 1000,
        "corpus too small"
    );
    assert!(
        samples.iter().filter(|s| !s.positive).count() >= 1000,
        "corpus too small"
    );
    let engine = Engine::new(FingerprintKey::new(vec![3u8; 32]).expect("key")).expect("engine");
    let report = corpus::evaluate(&engine, DetectorSet::all(), &samples);
    println!("{report}");
    assert!(
        report.recall() >= 0.99,
        "recall {:.4}; missed {:?}",
        report.recall(),
        report.missed
    );
    assert!(
        report.false_positive_rate() <= 0.005,
        "false-positive rate {:.4}; flagged {:?}",
        report.false_positive_rate(),
        report.flagged
    );
}
