//! Drives the decoders and the engine with arbitrary bytes: one-shot body scans under every
//! content-encoding, URL/header/hostname scans, and a streamed scan whose chunking comes from
//! the input. Checks that nothing panics, that streaming never releases past a reported
//! secret's body offset, and that a clean stream is released in full.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey, Limits, Location, Scope};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let limits = Limits {
            max_decoded: 1 << 20,
            max_inflated: 1 << 20,
            max_held: 1 << 20,
            ..Limits::default()
        };
        let key = FingerprintKey::new(vec![5u8; 32]).expect("key is long enough");
        Engine::with_limits(key, limits).expect("rules compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let engine = engine();
    let scope = Scope::new(DetectorSet::all());
    let encoding = ["gzip", "deflate", "br", "zstd", "identity"][selector as usize % 5];
    let content_type = (selector & 0x80 != 0).then_some("multipart/form-data; boundary=b");
    let _ = engine.scan_body(scope, Some(encoding), content_type, body);
    let one_shot = engine.scan_body(scope, None, None, body);
    let text = String::from_utf8_lossy(body);
    let _ = engine.scan_url(scope, &text);
    let _ = engine.scan_header(scope, "x-fuzz", body);
    let _ = engine.scan_hostname(scope, &text);

    let mut scanner = engine.body_scanner(scope, None, None);
    let chunk = 1 + (selector as usize % 61);
    let mut findings = Vec::new();
    let mut released = 0;
    for piece in body.chunks(chunk) {
        let step = scanner.push(piece);
        assert!(step.release_to >= released);
        released = step.release_to;
        findings.extend(step.findings);
    }
    let last = scanner.finish();
    findings.extend(last.findings);
    // Offsets of plain (undecoded) findings are exact: nothing at or after them may go out.
    for f in findings.iter().filter(|f| f.encoding.steps().is_empty()) {
        if let Location::Body { offset } = f.location {
            assert!(last.release_to <= offset, "released past a secret at {offset}");
        }
    }
    if findings.is_empty() && last.unjudged.is_none() {
        assert_eq!(last.release_to, body.len() as u64);
    }
    let _ = one_shot;
});
