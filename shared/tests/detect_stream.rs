//! The no-byte-leaves property, from the outside: a recording "upstream" receives exactly the
//! bytes the scanner allows (`release_to`), chunk by chunk, as the proxy will forward them.
//! For secrets in many encodings, at random offsets, under random chunkings, the upstream
//! never holds a byte of the encoded secret, and the secret is reported.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey, Scope};

const SECRET: &str = "sk-ant-api03-Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4Pa9Mb1Lc6Zr3Vs0Wk5Qj8Ty2Ui7Op4As1Df9Gh6Jk3Lz0Xc5Vb8Nm2Qw7Er4TyAA";

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// The secret as an attacker might send it, and the body around it.
fn forms() -> Vec<(&'static str, String)> {
    let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    let pct: String = SECRET.bytes().map(|b| format!("%{b:02X}")).collect();
    let wrapped: Vec<String> = STANDARD
        .encode(format!("{}\n{SECRET}\n{}", "x".repeat(30), "y".repeat(90)))
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    vec![
        ("plain", SECRET.to_owned()),
        ("base64", STANDARD.encode(format!("note: {SECRET}"))),
        (
            "base64url",
            URL_SAFE_NO_PAD.encode(format!("{{\"k\":\"{SECRET}\"}}")),
        ),
        ("hex", hex),
        ("percent", pct.clone()),
        ("percent twice", pct.replace('%', "%25")),
        (
            "json escapes",
            SECRET.chars().map(|c| format!("\\u{:04x}", c as u32)).collect(),
        ),
        (
            "zero-width",
            SECRET.chars().flat_map(|c| [c, '\u{200b}']).collect(),
        ),
        ("wrapped base64", wrapped.join("\n")),
    ]
}

fn filler(rng: &mut Rng, len: usize) -> String {
    const WORDS: &[&str] = &[
        "alpha ",
        "{\"n\": 3}, ",
        "beta\n",
        "x=1&y=2 ",
        "\"gamma\" ",
        "delta, ",
    ];
    let mut out = String::new();
    while out.len() < len {
        out.push_str(WORDS[rng.below(WORDS.len())]);
    }
    out
}

fn engine() -> Engine {
    Engine::new(FingerprintKey::new(vec![4u8; 32]).expect("key")).expect("engine")
}

#[test]
fn upstream_never_receives_a_byte_of_an_encoded_secret() {
    let engine = engine();
    let scope = Scope::new(DetectorSet::defaults());
    let mut rng = Rng(2026);
    for (name, form) in forms() {
        for trial in 0..12 {
            let (before, after) = (rng.below(30_000), rng.below(30_000));
            let mut body = filler(&mut rng, before).into_bytes();
            body.push(b'\n');
            let secret_at = body.len();
            body.extend_from_slice(form.as_bytes());
            body.push(b'\n');
            body.extend(filler(&mut rng, after).into_bytes());

            let mut scanner = engine.body_scanner(scope, None, Some("text/plain"));
            let mut upstream: Vec<u8> = Vec::new();
            let mut reported = 0;
            let mut sent = 0;
            while sent < body.len() {
                let n = 1 + rng.below(if trial % 2 == 0 { 64 } else { 20_000 });
                let chunk = &body[sent..(sent + n).min(body.len())];
                sent += chunk.len();
                let step = scanner.push(chunk);
                reported += step.findings.len();
                upstream.extend_from_slice(&body[upstream.len()..step.release_to as usize]);
                assert!(
                    upstream.len() <= secret_at,
                    "{name} trial {trial}: {} bytes out, secret at {secret_at}",
                    upstream.len()
                );
            }
            let last = scanner.finish();
            reported += last.findings.len();
            upstream.extend_from_slice(&body[upstream.len()..last.release_to as usize]);
            assert!(
                upstream.len() <= secret_at,
                "{name} trial {trial}: released at the end"
            );
            assert!(reported > 0, "{name} trial {trial}: not reported");
            assert_eq!(upstream, body[..upstream.len()], "upstream got exactly a prefix");
        }
    }
}

#[test]
fn a_compressed_body_is_forwarded_only_after_it_is_judged() {
    let engine = engine();
    let scope = Scope::new(DetectorSet::defaults());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("{{\"log\": \"{SECRET}\"}}").as_bytes())
        .expect("in memory");
    let body = gz.finish().expect("in memory");
    let mut scanner = engine.body_scanner(scope, Some("gzip"), Some("application/json"));
    for chunk in body.chunks(7) {
        assert_eq!(scanner.push(chunk).release_to, 0);
    }
    let last = scanner.finish();
    assert_eq!(last.release_to, 0);
    assert_eq!(last.findings[0].detector, "anthropic-key");
    assert_eq!(last.findings[0].encoding.to_string(), "gzip");
}

#[test]
fn clean_bodies_flow_through() {
    let engine = engine();
    let scope = Scope::new(DetectorSet::defaults());
    let mut rng = Rng(7);
    let body = filler(&mut rng, 300_000).into_bytes();
    let mut scanner = engine.body_scanner(scope, None, None);
    let mut released = 0;
    for chunk in body.chunks(32 << 10) {
        released = scanner.push(chunk).release_to;
    }
    assert!(
        released as usize >= body.len() - (32 << 10) - 4096,
        "held too much: {released}"
    );
    assert_eq!(scanner.finish().release_to as usize, body.len());
}
