//! Engine tests: every rule's examples, each location and encoding, Debug hygiene, policy
//! exemptions, and the streaming no-byte-released property.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::rules::{RULES, SHAPE_EXAMPLES};
use super::*;

pub(super) fn engine() -> Engine {
    Engine::new(FingerprintKey::new(vec![7u8; 32]).expect("long enough")).expect("rules compile")
}

fn all() -> Scope<'static> {
    Scope::new(DetectorSet::all())
}

fn body(e: &Engine, data: &[u8]) -> Outcome {
    e.scan_body(all(), None, None, data)
}

fn detectors(outcome: &Outcome) -> Vec<&'static str> {
    outcome.findings.iter().map(|f| f.detector).collect()
}

const GITHUB: &str = "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";

/// Every detector's examples: the committed ones, and the key material generated now.
fn all_examples() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    RULES
        .iter()
        .map(|r| (r.detector, owned(r.matches), owned(r.rejects)))
        .chain(
            SHAPE_EXAMPLES
                .iter()
                .map(|s| (s.detector, owned(s.matches), owned(s.rejects))),
        )
        .chain(super::testkeys::key_examples())
        .collect()
}

#[test]
fn every_rule_example_matches_and_every_counterexample_does_not() {
    let e = engine();
    let mut failures = Vec::new();
    for (detector, matches, rejects) in all_examples() {
        let only = Scope::new(DetectorSet::from_ids([detector]));
        for example in matches {
            if !detectors(&e.scan_body(only, None, None, example.as_bytes())).contains(&detector) {
                failures.push(format!("{detector} missed {example:?}"));
            }
        }
        for example in rejects {
            if detectors(&e.scan_body(only, None, None, example.as_bytes())).contains(&detector) {
                failures.push(format!("{detector} matched {example:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_rule_has_examples_both_ways_and_a_catalogued_detector() {
    let examples = all_examples();
    for rule in RULES.iter().filter(|r| r.name != "aws-key-pair") {
        let both_ways = examples
            .iter()
            .filter(|(detector, _, _)| *detector == rule.detector)
            .any(|(_, matches, rejects)| !matches.is_empty() && !rejects.is_empty());
        assert!(both_ways, "{}", rule.name);
    }
    for rule in RULES {
        assert!(lookup(rule.detector).is_some(), "{}", rule.name);
    }
    for id in default_enabled().chain(CATALOG.iter().map(|d| d.id)) {
        let covered = RULES.iter().any(|r| r.detector == id)
            || examples.iter().any(|(detector, _, _)| *detector == id)
            // URL- and hostname-only detectors, tested by their own tests.
            || matches!(id, "known-secret" | "dns-exfiltration" | "high-entropy");
        assert!(covered, "{id} has no rule or examples");
    }
}

#[test]
fn key_id_and_secret_pair_reports_both() {
    let e = engine();
    let text = b"AKIAZ7XQ2MLP4RT6WQ3N:kZ3n8Qe1Vx0b7Lr2Tg5Hw9Pm4Ys6Cu3Df1Ja8Ko2";
    let found = body(&e, text);
    let aws = found
        .findings
        .iter()
        .filter(|f| f.detector == "aws-access-key")
        .count();
    assert_eq!(aws, 2, "{found:?}");
}

#[test]
fn secrets_are_seen_through_each_encoding() {
    let e = engine();
    let secret = GITHUB.as_bytes();
    let b64 = STANDARD.encode(format!("token: {GITHUB}"));
    let b64url = URL_SAFE_NO_PAD.encode(format!("{{\"t\":\"{GITHUB}\"}}"));
    let hex: String = GITHUB.bytes().map(|b| format!("{b:02x}")).collect();
    let colon_hex: Vec<String> = GITHUB.bytes().map(|b| format!("{b:02X}")).collect();
    let pct: String = GITHUB.bytes().map(|b| format!("%{b:02X}")).collect();
    let pct2 = pct.replace('%', "%25");
    let json: String = GITHUB.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let js: String = GITHUB.bytes().map(|b| format!("\\x{b:02x}")).collect();
    let qp = format!("=\r\n{}=\r\n{}", &GITHUB[..20], &GITHUB[20..]).replace("_", "=5F");
    let zero_width: String = GITHUB.chars().flat_map(|c| [c, '\u{200b}']).collect();
    let fullwidth: String = GITHUB
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 + 0xfee0).unwrap_or(c)
            } else {
                c
            }
        })
        .collect();
    let homoglyph = GITHUB.replacen('p', "р", 1);
    let cases: Vec<(String, &str)> = vec![
        (b64, "base64"),
        (format!("/upload/{b64url}"), "base64"),
        (hex.clone(), "hex"),
        (format!("0x{hex}"), "hex"),
        (colon_hex.join(":"), "hex"),
        (pct, "percent"),
        (pct2, "percent>percent"),
        (json, "escape"),
        (js, "escape"),
        (qp, "quoted-printable"),
        (zero_width, "unicode"),
        (fullwidth, "unicode"),
        (homoglyph, "unicode"),
    ];
    for (text, chain) in cases {
        let found = body(&e, text.as_bytes());
        let hit = found.findings.iter().find(|f| f.detector == "github-token");
        let hit = hit.unwrap_or_else(|| panic!("missed {chain}: {text}"));
        assert_eq!(hit.encoding.to_string(), chain, "{text}");
        assert_eq!(hit.fingerprint, e.fingerprint(secret));
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in memory");
    enc.finish().expect("in memory")
}

#[test]
fn compressed_bodies_and_compressed_blobs() {
    let e = engine();
    let payload = format!("{{\"note\":\"{GITHUB}\"}}");
    let found = e.scan_body(
        all(),
        Some("gzip"),
        Some("application/json"),
        &gzip(payload.as_bytes()),
    );
    assert_eq!(found.findings[0].encoding.to_string(), "gzip");
    let nested = STANDARD.encode(gzip(payload.as_bytes()));
    let found = body(&e, format!("{{\"blob\":\"{nested}\"}}").as_bytes());
    assert_eq!(found.findings[0].encoding.to_string(), "base64>gzip");
    let outer = gzip(format!("data={nested}").as_bytes());
    let found = e.scan_body(all(), Some("gzip"), None, &outer);
    assert_eq!(found.findings[0].encoding.to_string(), "gzip>base64>gzip");
}

#[test]
fn decompression_bombs_and_depth_get_their_own_outcome() {
    let limits = Limits {
        max_inflated: 1 << 20,
        ..Limits::default()
    };
    let e = Engine::with_limits(FingerprintKey::new(vec![1u8; 16]).expect("ok"), limits).expect("ok");
    let bomb = gzip(&vec![b'a'; 4 << 20]);
    let out = e.scan_body(all(), Some("gzip"), None, &bomb);
    assert_eq!(out.unjudged, Some(Unjudged::DecompressionBomb { limit: 1 << 20 }));
    assert_eq!(
        out.unjudged.map(|u| u.reason().as_str()),
        Some("decompression_bomb")
    );
    let mut deep = GITHUB.to_owned();
    for _ in 0..10 {
        deep = STANDARD.encode(format!("x {deep} y"));
    }
    let out = body(&e, deep.as_bytes());
    assert!(matches!(out.unjudged, Some(Unjudged::TooDeep { .. })), "{out:?}");
    let out = e.scan_body(all(), Some("compress"), None, b"whatever");
    assert_eq!(out.unjudged, Some(Unjudged::Undecodable));
    let out = e.scan_body(all(), Some("gzip"), None, b"not gzip at all");
    assert_eq!(out.unjudged, Some(Unjudged::Undecodable));
}

#[test]
fn multipart_parts_are_decoded_with_their_transfer_encoding() {
    let e = engine();
    let encoded = STANDARD.encode(format!("config\n{GITHUB}\n"));
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(10)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let body = format!(
        "--b0\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b0--\r\n",
        wrapped.join("\r\n")
    );
    let out = e.scan_body(
        all(),
        None,
        Some("multipart/form-data; boundary=b0"),
        body.as_bytes(),
    );
    assert!(
        out.findings
            .iter()
            .any(|f| f.encoding.to_string() == "multipart>base64"),
        "{out:?}"
    );
}

#[test]
fn url_locations() {
    let e = engine();
    let cases = [
        (format!("https://api.example.com/v1/{GITHUB}/x"), "url.path"),
        (format!("https://api.example.com/v1?q={GITHUB}"), "url.query"),
        (format!("https://api.example.com/v1#{GITHUB}"), "url.fragment"),
        (format!("https://{GITHUB}@api.example.com/"), "url.userinfo"),
        (format!("/v1?q={}", STANDARD.encode(GITHUB)), "url.query"),
    ];
    for (url, location) in cases {
        let out = e.scan_url(all(), &url);
        let f = out
            .findings
            .iter()
            .find(|f| f.detector == "github-token")
            .unwrap_or_else(|| panic!("{url}"));
        assert_eq!(f.location.to_string(), location);
    }
    let out = e.scan_url(all(), "https://deploy:Vq7pZ2xK9mLr@git.example.org/repo.git");
    assert_eq!(detectors(&out), vec!["url-credentials"]);
    assert!(
        e.scan_url(
            all(),
            "https://example.com/users/550e8400-e29b-41d4-a716-446655440000?page=2"
        )
        .is_clean()
    );
}

#[test]
fn header_values_and_credential_headers() {
    let e = engine();
    let out = e.scan_header(all(), "X-Forwarded-Note", format!("token {GITHUB}").as_bytes());
    assert_eq!(out.findings[0].location.to_string(), "header.x-forwarded-note");
    let out = e.scan_header(all(), "X-Api-Key", b"Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5");
    assert_eq!(detectors(&out), vec!["generic-secret"]);
    assert!(e.scan_header(all(), "Accept", b"application/json").is_clean());
    assert!(
        e.scan_header(all(), "X-Request-Id", b"550e8400-e29b-41d4-a716-446655440000")
            .is_clean()
    );
}

#[test]
fn identity_numbers_named_by_a_header_name() {
    let e = engine();
    let only = |id| Scope::new(DetectorSet::from_ids([id]));
    let out = e.scan_header(only("us-ssn"), "X-Customer-SSN", b"632-85-7143");
    assert_eq!(detectors(&out), vec!["us-ssn"], "{out:?}");
    assert_eq!(out.findings[0].location.to_string(), "header.x-customer-ssn");
    let out = e.scan_header(only("us-ssn"), "X-SSN", b"445036819");
    assert_eq!(detectors(&out), vec!["us-ssn"], "{out:?}");
    let out = e.scan_header(only("national-id"), "X-Passport-Number", b"NY9834575");
    assert_eq!(detectors(&out), vec!["national-id"], "{out:?}");
    let out = e.scan_header(only("national-id"), "X-Employee-SIN", b"187 412 986");
    assert_eq!(detectors(&out), vec!["national-id"], "{out:?}");
    // A name without a cue, a checksum that fails, a phone number, a date.
    assert!(e.scan_header(all(), "X-Order-Id", b"445036819").is_clean());
    assert!(
        e.scan_header(only("national-id"), "X-Employee-SIN", b"187 412 987")
            .is_clean()
    );
    assert!(
        e.scan_header(only("us-ssn"), "X-Customer-SSN", b"382-855-8666")
            .is_clean()
    );
    assert!(
        e.scan_header(only("us-ssn"), "X-SSN-Checked", b"2024-01-15")
            .is_clean()
    );
    // Off unless a policy switches them on.
    let defaults = Scope::new(DetectorSet::defaults());
    assert!(
        e.scan_header(defaults, "X-Customer-SSN", b"632-85-7143")
            .is_clean()
    );
}

#[test]
fn hostnames() {
    let e = engine();
    let hex: String = "my aws key is here".bytes().map(|b| format!("{b:02x}")).collect();
    let out = e.scan_hostname(all(), &format!("{hex}.tunnel.example.com"));
    assert!(detectors(&out).contains(&"dns-exfiltration"), "{out:?}");
    let out = e.scan_hostname(all(), "k3j9x2m8q7w1z5c4v6b0n8m2l4p6.cdn.example.com");
    assert!(detectors(&out).contains(&"dns-exfiltration"), "{out:?}");
    for benign in [
        "api.github.com",
        "my-service-production-eu.example.com",
        "d1a2b3c4d5e6f7.cloudfront.net",
        "example.com",
    ] {
        assert!(e.scan_hostname(all(), benign).is_clean(), "{benign}");
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// RFC 4648 base32, lowercase, without padding.
fn base32(text: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0);
    for b in text.bytes() {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[test]
fn secrets_in_delimited_hex_with_any_common_delimiter_in_urls_and_bodies() {
    let e = engine();
    let hex: Vec<String> = GITHUB.bytes().map(|b| format!("{b:02x}")).collect();
    let prefixed = |p: &str| hex.iter().map(|h| format!("{p}{h}")).collect::<Vec<_>>();
    for text in [
        hex.join("-"),
        hex.join(":"),
        hex.join(" "),
        hex.join(","),
        hex.join(", "),
        prefixed("\\x").join(""),
        prefixed("0x").join(","),
        prefixed("0x").join(", "),
        prefixed("0x").join(" "),
    ] {
        let out = body(&e, text.as_bytes());
        assert!(detectors(&out).contains(&"github-token"), "{text}: {out:?}");
        let query = text.replace(' ', "%20").replace('\\', "%5C");
        let out = e.scan_url(all(), &format!("/c?d={query}"));
        assert!(detectors(&out).contains(&"github-token"), "{query}: {out:?}");
    }
}

#[test]
fn shapeless_random_data_in_urls_and_subdomains() {
    let e = engine();
    let token = "x9Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9Ef2Gh";
    for url in [
        format!("https://collector.example.net/u/{token}/x"),
        format!("https://collector.example.net/c?d={token}"),
        format!("/c?a=1&d={}", token.replace('K', "%4B")),
    ] {
        let out = e.scan_url(all(), &url);
        assert!(detectors(&out).contains(&"high-entropy"), "{url}: {out:?}");
    }
    let split = format!(
        "{}.{}.{}.x.example.com",
        &token[..10],
        &token[10..20],
        &token[20..30]
    );
    let out = e.scan_hostname(all(), &split.to_ascii_lowercase());
    assert!(detectors(&out).contains(&"dns-exfiltration"), "{split}: {out:?}");
    let benign = [
        "https://docs.google.com/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
        "https://auth.example.com/authorize?state=x9Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9Ef2Gh&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "https://cdn.example.com/_next/static/chunks/pages/_app-6a8b2c9d1e0f3a4b.js",
        "https://api.example.com/items?cursor=eyJpZCI6MTIzNDU2LCJkaXIiOiJuZXh0IiwidHMiOjE3MDAwMDAwMDB9",
    ];
    for url in benign {
        assert!(e.scan_url(all(), url).is_clean(), "{url}");
    }
}

#[test]
fn hostname_labels_are_judged_together() {
    let e = engine();
    let split = hex("my aws key is here");
    let split = format!(
        "{}.{}.{}.t.example.com",
        &split[..12],
        &split[12..24],
        &split[24..]
    );
    let mixed = format!("{}.{}.x.example.net", hex("AKIAZ7XQ"), base32("2MLP4RT6WQ3N"));
    let single = format!("{}.example.org", base32("s3cr3t-k3y"));
    assert_eq!(base32("s3cr3t-k3y").len(), 16);
    for host in [&split, &mixed, &single] {
        let out = e.scan_hostname(all(), host);
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{host}: {out:?}");
    }
    // 16 characters of base32 over random bytes: nothing to decode, but data all the same.
    for random in ["5w7yqrs7aow62knl", "7ndqy6ozheat4zlh"] {
        let out = e.scan_hostname(all(), &format!("{random}.c.example.net"));
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{random}: {out:?}");
    }
    // Decoded and joined, the labels spell a key the AWS rule knows.
    assert!(detectors(&e.scan_hostname(all(), &mixed)).contains(&"aws-access-key"));
    for benign in [
        "ec2-54-123-45-67.compute-1.amazonaws.com",
        "abcdef123456.execute-api.us-east-1.amazonaws.com",
        "project-git-feature-login-acme.vercel.app",
        "a1b2c3d4e5f6a7b8.cloudfront.net",
        "deadbeefcafebabe.example.com",
        "internationalization.example.com",
        "acme-prod-app-7f9c-12345.herokuapp.com",
        "productionserver01.example.com",
        "static-assets-cdn-01.eu-west-1.example.org",
        "www.googletagmanager.com",
        "xn--bcher-kva.example",
    ] {
        let out = e.scan_hostname(all(), benign);
        assert!(out.is_clean(), "{benign}: {out:?}");
    }
}

#[test]
fn known_secrets_in_their_forms() {
    let e = engine();
    let set = KnownSecrets::new([SecretBytes::new(b"tgph_00112233445566778899".to_vec())]).expect("ok");
    let sets = [&set];
    let scope = Scope::new(DetectorSet::defaults()).with_known(&sets);
    let encoded = STANDARD.encode("Authorization: tgph_00112233445566778899");
    let out = e.scan_body(scope, None, None, format!("x={encoded}").as_bytes());
    assert!(
        out.findings.iter().any(|f| f.detector == "known-secret"),
        "{out:?}"
    );
    let out = e.scan_body(
        Scope::new(DetectorSet::defaults()),
        None,
        None,
        encoded.as_bytes(),
    );
    assert!(!out.findings.iter().any(|f| f.detector == "known-secret"));
}

#[test]
fn policy_exemptions_apply_per_host() {
    use crate::policy::host::{Host, HostPattern};
    use crate::policy::model::{DetectorSettings, Exemption};
    let settings = DetectorSettings {
        enabled: default_enabled().map(str::to_owned).collect(),
        exemptions: vec![Exemption {
            hosts: vec![HostPattern::parse("api.github.com").expect("valid")],
            detectors: ["github-token".to_owned()].into(),
            fingerprints: Default::default(),
            reason: "the tool's own token to its own API".to_owned(),
        }],
    };
    let policy = PolicyDetectors::new(&settings);
    let gh = policy.for_host(&Host::parse("api.github.com").expect("valid"));
    let other = policy.for_host(&Host::parse("evil.example").expect("valid"));
    assert!(!gh.contains("github-token") && gh.contains("jwt"));
    assert!(other.contains("github-token"));
    let e = engine();
    assert!(
        e.scan_body(Scope::new(gh), None, None, GITHUB.as_bytes())
            .is_clean()
    );
    assert!(
        !e.scan_body(Scope::new(other), None, None, GITHUB.as_bytes())
            .is_clean()
    );
}

#[test]
fn well_known_example_values_are_findings_with_low_confidence() {
    let e = engine();
    for (example, detector) in [
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws-access-key",
        ),
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("card 4111111111111111 exp 12/34", "payment-card"),
        ("card: 4242 4242 4242 4242", "payment-card"),
    ] {
        let out = body(&e, example.as_bytes());
        let finding = out.findings.iter().find(|f| f.detector == detector);
        let finding = finding.unwrap_or_else(|| panic!("{example}: {out:?}"));
        assert_eq!(finding.confidence, Confidence::Low, "{example}");
    }
    let random = body(&e, b"AKIAZ7XQ2MLP4RT6WQ3N");
    assert_eq!(random.findings[0].confidence, Confidence::High);
    let checked = body(&e, GITHUB.as_bytes());
    assert_eq!(checked.findings[0].confidence, Confidence::Verified);
}

#[test]
fn unmistakable_prefixes_are_findings_whatever_their_checks_say() {
    let e = engine();
    let confidence = |text: &str, detector: &str| {
        let out = body(&e, text.as_bytes());
        let found = out.findings.iter().find(|f| f.detector == detector);
        found
            .map(|f| f.confidence)
            .unwrap_or_else(|| panic!("{text}: {out:?}"))
    };
    // The CRC holds: verified. One character changed: still a token, no longer verified.
    assert_eq!(confidence(GITHUB, "github-token"), Confidence::Verified);
    let bad_crc = GITHUB.replace("m1IL", "m1IM");
    assert_eq!(confidence(&bad_crc, "github-token"), Confidence::High);
    assert_eq!(
        confidence("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "github-token"),
        Confidence::Low
    );
    // Off the vendor's length by a few characters.
    assert!(confidence(&GITHUB[..GITHUB.len() - 3], "github-token") >= Confidence::Low);
    assert_eq!(
        confidence("npm_JXVuLkSIc47WQAmL9xVQ2zg4mZaouq416qWU", "npm-token"),
        Confidence::High
    );
    confidence("AKIAZ7XQ2MLP4RT6WQ3NZZ", "aws-access-key");
    confidence("sk_live_00000000000000000000000000", "stripe-key");
    confidence("xoxb-1234567890-abcdefghijklmnop", "slack-token");
    // Prefix-less rules keep their gates.
    for benign in [
        "api_key=thisisnotarealsecret",
        "secret=xxxxxxxxxxxxxxxxxxxxxxxx",
        "password: changeme-changeme",
    ] {
        assert!(body(&e, benign.as_bytes()).is_clean(), "{benign}");
    }
}

#[test]
fn financial_identifiers_are_optional_and_caught_in_csv_json_and_form_bodies() {
    let e = engine();
    let defaults = Scope::new(DetectorSet::defaults());
    let bodies = [
        (
            "text/csv",
            "payee,iban,card\nAda,DE89370400440532013000,4539979262243931\n",
        ),
        (
            "application/json",
            r#"{"iban":"GB82 WEST 1234 5698 7654 32","card":4539979262243931,"btc":"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4","eth":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}"#,
        ),
        (
            "application/x-www-form-urlencoded",
            "iban=DE89+3704+0044+0532+0130+00&card=4539+9792+6224+3931&to=3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        ),
    ];
    for (content_type, text) in bodies {
        // Off unless a policy switches them on.
        let off = e.scan_body(defaults, None, Some(content_type), text.as_bytes());
        assert!(off.is_clean(), "{content_type}: {off:?}");
        let out = e.scan_body(all(), None, Some(content_type), text.as_bytes());
        assert!(
            detectors(&out).contains(&"payment-card"),
            "{content_type}: {out:?}"
        );
        assert!(detectors(&out).contains(&"iban"), "{content_type}: {out:?}");
    }
}

#[test]
fn policy_exemptions_by_fingerprint_let_only_that_value_through_on_their_hosts() {
    use crate::policy::host::{Host, HostPattern};
    use crate::policy::model::{DetectorSettings, Exemption};
    let e = engine();
    let example = "AKIAIOSFODNN7EXAMPLE";
    let settings = DetectorSettings {
        enabled: default_enabled().map(str::to_owned).collect(),
        exemptions: vec![Exemption {
            hosts: vec![HostPattern::parse("docs.example.com").expect("valid")],
            detectors: Default::default(),
            fingerprints: [e.fingerprint(example.as_bytes())].into(),
            reason: "tutorial pages send AWS's example key".to_owned(),
        }],
    };
    let policy = PolicyDetectors::new(&settings);
    let docs = Host::parse("docs.example.com").expect("valid");
    let other = Host::parse("evil.example").expect("valid");
    // A fingerprint exemption switches no detector off.
    assert!(policy.for_host(&docs).contains("aws-access-key"));
    let exempt = policy.exempt_values(&docs);
    assert_eq!(exempt.len(), 1);
    assert!(policy.exempt_values(&other).is_empty());
    let scope = Scope::new(policy.for_host(&docs)).with_exempt(&exempt);
    let encoded = STANDARD.encode(example);
    assert!(e.scan_body(scope, None, None, example.as_bytes()).is_clean());
    assert!(
        e.scan_body(scope, None, None, format!("x={encoded}").as_bytes())
            .is_clean()
    );
    assert!(!e.scan_body(scope, None, None, b"AKIAZ7XQ2MLP4RT6WQ3N").is_clean());
    let elsewhere = Scope::new(policy.for_host(&other));
    assert!(!e.scan_body(elsewhere, None, None, example.as_bytes()).is_clean());
}

#[test]
fn nothing_printable_holds_the_value() {
    let e = engine();
    let out = body(&e, format!("a={GITHUB}").as_bytes());
    let printed = format!(
        "{out:?} {}",
        serde_json::to_string(&out.findings).expect("serialises")
    );
    assert!(!out.findings.is_empty());
    assert!(!printed.contains(&GITHUB[4..20]), "{printed}");
    assert!(!format!("{e:?}").contains("07070707"));
}

#[test]
fn a_scanner_holding_a_secret_does_not_print_it() {
    let e = engine();
    let mut scanner = e.body_scanner(all(), None, None);
    scanner.push(format!("x {GITHUB}").as_bytes());
    let printed = format!("{scanner:?} {e:?}");
    assert!(!printed.contains(&GITHUB[4..20]), "{printed}");
    assert!(printed.len() < 2000, "{printed}");
}

#[test]
fn wrapped_base64_is_joined_across_lines() {
    let e = engine();
    let text = format!("{}\n{GITHUB}\n{}", "a".repeat(50), "b".repeat(80));
    let encoded = STANDARD.encode(text);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let body = format!("file follows\n{}\n", wrapped.join("\n"));
    let out = e.scan_body(all(), None, Some("text/plain"), body.as_bytes());
    assert!(
        out.findings
            .iter()
            .any(|f| f.detector == "github-token" && f.encoding.to_string() == "base64"),
        "{out:?}"
    );
    // Streamed in small chunks with a short hold-back, no line of the block goes out before
    // the block is judged.
    let limits = Limits {
        hold_back: 64,
        context: 32,
        ..Limits::default()
    };
    let small = Engine::with_limits(FingerprintKey::new(vec![1u8; 16]).expect("ok"), limits).expect("ok");
    let mut scanner = small.body_scanner(all(), None, None);
    let mut released = 0;
    let mut found = false;
    for chunk in body.as_bytes().chunks(13) {
        let step = scanner.push(chunk);
        released = step.release_to;
        found |= !step.findings.is_empty();
    }
    let last = scanner.finish();
    found |= !last.findings.is_empty();
    assert!(found);
    assert!(released <= "file follows\n".len() as u64 && last.release_to <= "file follows\n".len() as u64);
}

/// A deterministic generator for chunk sizes and offsets.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn filler(rng: &mut Lcg, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "lorem ",
        "ipsum ",
        "{\"k\": 12}, ",
        "dolor ",
        "sit\n",
        "amet, ",
        "x=1&y=2 ",
    ];
    let mut out = Vec::new();
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.next(WORDS.len())].as_bytes());
    }
    out
}

/// The upstream sees only bytes up to `release_to`; it must never see a byte of the secret,
/// wherever the chunk boundaries fall, and the secret must be reported.
#[test]
fn streamed_bodies_never_release_a_byte_of_a_secret() {
    let e = engine();
    let mut rng = Lcg(42);
    let forms = [
        GITHUB.to_owned(),
        STANDARD.encode(format!("k={GITHUB}")),
        GITHUB.bytes().map(|b| format!("%{b:02x}")).collect(),
        GITHUB.chars().map(|c| format!("\\u{:04x}", c as u32)).collect(),
        super::testkeys::pem(&super::testkeys::private_label("RSA")),
    ];
    for trial in 0..120 {
        let form = &forms[trial % forms.len()];
        let before = rng.next(20_000);
        let after = rng.next(20_000);
        let mut data = filler(&mut rng, before);
        let secret_at = data.len() as u64;
        data.extend_from_slice(form.as_bytes());
        data.push(b' ');
        data.extend(filler(&mut rng, after));
        let mut scanner = e.body_scanner(all(), None, Some("text/plain"));
        let mut upstream = 0u64;
        let mut found = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let n = 1 + rng.next(if trial % 3 == 0 { 7 } else { 9000 });
            let chunk = &data[at..(at + n).min(data.len())];
            at += chunk.len();
            let step = scanner.push(chunk);
            assert!(step.release_to >= upstream, "release never goes back");
            upstream = step.release_to;
            assert!(
                upstream <= secret_at,
                "trial {trial}: released {upstream} > secret at {secret_at}"
            );
            found.extend(step.findings);
        }
        let step = scanner.finish();
        assert!(
            step.release_to <= secret_at,
            "trial {trial}: finish released the secret"
        );
        found.extend(step.findings);
        assert!(!found.is_empty(), "trial {trial}: secret not reported");
    }
}

#[test]
fn clean_streams_are_released_entirely_and_progressively() {
    let e = engine();
    let mut rng = Lcg(7);
    let data = filler(&mut rng, 200_000);
    let mut scanner = e.body_scanner(all(), None, None);
    let mut progressive = 0;
    for chunk in data.chunks(16 << 10) {
        progressive = scanner.push(chunk).release_to;
    }
    assert!(
        progressive >= (data.len() - 16_384 - 4096) as u64,
        "released {progressive}"
    );
    let last = scanner.finish();
    assert_eq!(last.release_to, data.len() as u64);
    assert!(last.findings.is_empty());
}

#[test]
fn an_endless_token_is_too_large_to_judge() {
    let limits = Limits {
        max_held: 64 << 10,
        ..Limits::default()
    };
    let e = Engine::with_limits(FingerprintKey::new(vec![1u8; 16]).expect("ok"), limits).expect("ok");
    let mut scanner = e.body_scanner(all(), None, None);
    let mut last = Step::default();
    for _ in 0..10 {
        last = scanner.push(&[b'A'; 16 << 10]);
    }
    assert_eq!(last.unjudged, Some(Unjudged::TooLarge { limit: 64 << 10 }));
    assert_eq!(last.release_to, 0);
}

#[test]
fn compressed_streams_are_held_whole_and_judged_at_the_end() {
    let e = engine();
    let gz = gzip(format!("{{\"x\":\"{GITHUB}\"}}").as_bytes());
    let mut scanner = e.body_scanner(all(), Some("gzip"), None);
    for chunk in gz.chunks(5) {
        assert_eq!(scanner.push(chunk).release_to, 0);
    }
    let end = scanner.finish();
    assert_eq!(end.release_to, 0);
    assert_eq!(end.findings[0].encoding.to_string(), "gzip");
    let clean = gzip(b"{\"x\": 1}");
    let mut scanner = e.body_scanner(all(), Some("gzip"), None);
    scanner.push(&clean);
    assert_eq!(scanner.finish().release_to, clean.len() as u64);
}

#[test]
fn tenant_labels_of_multi_tenant_suffixes_are_judged_like_subdomains() {
    let e = engine();
    for host in [
        "Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8.ngrok-free.app",
        "k3j9x2m8q7w1z5c4v6b0n8m2l4p6.trycloudflare.com",
        "mzxw6ytb2oi4dk3tfpq7r2lnb5wx4y3k.vercel.app",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{host}");
    }
    for host in [
        "my-app-git-main-acme.vercel.app",
        "calm-river-1234.herokuapp.com",
        "rust-lang.github.io",
        "deploy-preview-42--acme-site.netlify.app",
        "d111111abcdef8.cloudfront.net",
        "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "my-loadbalancer-1234567890.us-east-1.elb.amazonaws.com",
    ] {
        assert!(e.scan_hostname(all(), host).is_clean(), "{host}");
    }
}

#[test]
fn platform_resource_ids_pass_only_in_their_own_zone_and_grammar() {
    let e = engine();
    for host in [
        "vzvyqhtoyhxmbenppmej.supabase.co",
        "cz4ds18bq9cktxl6prusea2g9tka9h0e.lambda-url.eu-west-1.on.aws",
        "k7n2q4w9x3z5c8v1b6m0l2p4r6.appsync-api.us-east-1.amazonaws.com",
        // An Elastic Cloud deployment: a 128-bit id, then its region.
        "5e2d7bae09d54c1a10fcd8ea68f24e7c.europe-west1.gcp.cloud.es.io",
    ] {
        assert!(e.scan_hostname(all(), host).is_clean(), "{host}");
    }
    for host in [
        // The same ids in another zone, or another grammar in the platform's zone.
        "vzvyqhtoyhxmbenppmej.exfil.example.com",
        "vzvyqhtoyhxmbenppmej.x.supabase.co",
        "cz4ds18bq9cktxl6prusea2g9tka9h0e.lambda-url.example.com",
        "cz4ds18bq9cktxl6prusea2g9tka9h0e7k2m.lambda-url.eu-west-1.on.aws",
        // Data in short labels beside a region name still reads as data.
        "q3x9v7k2.m8n4b6c1.z5w2.europe-west1.exfil.example.com",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{host}");
    }
}

#[test]
fn dns_data_in_many_short_chunks_and_lone_base32_labels() {
    let e = engine();
    for host in [
        "0007.9f3a.c1e5.b7d2.f4a8.c6e0.b1d3.oast.fun",
        "mfrgg2.lbmzxw.6ytboi.4dk3tf.s12.interact.sh",
        "ats4qazub7soshle.oast.pro",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{host}");
    }
    for host in [
        "mail.smtp.relay.east.prod.internal.example.com",
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
        "kubernetesdashboard.internal.example.com",
    ] {
        assert!(e.scan_hostname(all(), host).is_clean(), "{host}");
    }
}

#[test]
fn random_data_in_fragments_query_names_and_double_encoding() {
    let e = engine();
    for url in [
        "https://c.example.net/p#Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2T",
        "https://c.example.net/c?Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2T=1",
        "https://c.example.net/c?d=KKI%252BVqYpRZXGBwg1H0ct9RNQN8X0cOhgrD7OHHI3ZM%252Bv",
    ] {
        let out = e.scan_url(all(), url);
        assert!(detectors(&out).contains(&"high-entropy"), "{url}");
    }
    for url in [
        "https://doc.rust-lang.org/std/vec/struct.Vec.html#method.extend_from_slice",
        "https://example.com/search?q=rust&page=2#results",
    ] {
        assert!(e.scan_url(all(), url).is_clean(), "{url}");
    }
}

/// Benign traffic of the kinds the third held-out split flagged, by class (written from public
/// formats): generated cloud and cluster hostnames, ad-click ids, content-hashed assets and
/// content ids, Bitcoin-address-shaped base58 that fails its checksum, printed fingerprints,
/// masked secrets and code that names a secret.
#[test]
fn benign_ids_hashes_masks_and_code_are_clean() {
    let e = engine();
    for host in [
        "a5ac39662a9beda39bb2e6e4412494a2-2039435945.sa-east-1.elb.amazonaws.com",
        "FBD6DD99DD53309DB6A2A0900490DCE4.gr7.us-west-2.eks.amazonaws.com",
        "3c461791b6af9ee6ec6fc4a6980ce314.eu-central-1.aws.found.io",
        "vpce-0fa9f4ebd29019b9b-8cke8s7w.s3.sa-east-1.vpce.amazonaws.com",
        "worker-s674kjl9b7-2lghf.prod.pod.cluster.local",
        "prod-cluster-dns-7b116c30.hcp.eastus.azmk8s.io",
        "ip-10-0-0-1.ec2.internal",
        "payments.default.svc.cluster.local",
        "xn--mnchen-3ya.de",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(out.is_clean(), "{host}: {out:?}");
    }
    for url in [
        "https://shop.example.com/l?gclid=Cj0KCQGtanJQ-taOLP8p5UlP4w1GCxp-WU_38gnekWSpS6uvGrU0Eg1AJqz2yhppeDdTC7ofcGSCyQXjA&utm_source=google",
        "https://news.example.com/a?fbclid=IwARVbyQv79S9hIIRoZ0WyvlOW9_aOq8jyna8yAFCEK6m9_jeoySy02KMhir55sx",
        "https://shop.example.com/?msclkid=3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e&_hsenc=p2ANqtz-uecjuslR61ywmKy2n9bSPFkna3bu0nIQkAQ7x-Y0mmE0fu4yfyTtZeFb",
        "https://cdn.example.com/dist/app.2hmC-DiiopCAfIIbgruUbSPW1_bp3jxlIY0LvjVXJTH.js",
        "https://cdn.example.com/images/FjgwLFxqH2hsly9Q1MUwtuCSyBzaM2cTOQpHzodYSyR.webp",
        "https://ipfs.io/ipfs/QmKDGWSoLxJGT1zLd3JLbxWtHPbpepfVM8VuohYf6dZMop",
        "https://ipfs.io/ipfs/bafybeipmtqhawaye5iiafjuav6y7cobpe6ltrcg5qlqnbwfb6ems3jbtgq/index.html",
        // A P2PKH address with its last character changed: the checksum fails.
        "https://blockchain.example.info/address/1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",
    ] {
        let out = e.scan_url(all(), url);
        assert!(out.is_clean(), "{url}: {out:?}");
    }
    for text in [
        "2048 MD5:74:39:c9:4e:2f:ee:08:95:a4:43:87:11:6d:22:4c:6b deploy@ci (RSA)\n",
        "        Serial Number:\n            ce:22:17:e6:8b:13:e5:42:b0:2c:8a:18:76:e1:a2:d1:c1:81:9c\n",
        r#"{"api_key": "sk_live_********************4242", "token": "Zq8Xv2Lm9Np4Rt7W…"}"#,
        "client = OpenAI(api_key=settings.OPENAI_API_KEY)\n",
        "credentials = ClientSecretCredential(tenant_id, client_id, client_secret=os.getenv('AZURE_CLIENT_SECRET'))\n",
        r#"{"UserId": "AROA5H35A4SHJZIUTQISRX:botocore-session-1", "Arn": "arn:aws:iam::123456789012:role/x"}"#,
        "4539.97.926.224.3931",
    ] {
        let out = body(&e, text.as_bytes());
        assert!(out.is_clean(), "{text}: {out:?}");
    }
    for (name, value) in [
        ("X-Api-Key", "gQFxTjK37wgoj2zXB5FoNwR7****"),
        ("X-Csrf-Token", "Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4"),
        (
            "X-Client-Data",
            "CIe2yQEIpbbJAQjBtskBCKmdygEIlqHLAQiFoM0BCLnIzQE=",
        ),
    ] {
        let out = e.scan_header(all(), name, value.as_bytes());
        assert!(out.is_clean(), "{name}: {value}: {out:?}");
    }
}

/// Secrets in the layouts the third held-out split found missed, by class (written from public
/// formats).
#[test]
fn more_layouts_of_cards_webhooks_and_credentials_are_caught() {
    let e = engine();
    for (text, detector) in [
        ("4916.3715.5214.0527 exp 08/29", "payment-card"),
        ("amex 3782 822463 10005", "payment-card"),
        (
            "https://ptb.discord.com/api/webhooks/482887079823097279/-_xJ_OMJCTj3nSS_QyRJmCL_hI77Ndm6Qrdr-bgCIJ57Xkxcy1a_3s0h2i3nTYIXx-pR",
            "vendor-token",
        ),
        (
            "curl -u ci-bot:DCvRpakwVP*ouAfq https://registry.example.org/v2/",
            "url-credentials",
        ),
        (
            "machine api.example.org login ci-bot password DCvRpakwVP*ouAfq",
            "url-credentials",
        ),
        (
            r#"<add key="SmtpPassword" value="g1Hccei9p9tGYgOOwVfr!aXES" />"#,
            "generic-secret",
        ),
    ] {
        let out = body(&e, text.as_bytes());
        assert!(detectors(&out).contains(&detector), "{text}: {out:?}");
    }
    let out = e.scan_header(
        all(),
        "X-Debug-Data",
        b"Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4",
    );
    assert!(detectors(&out).contains(&"high-entropy"), "{out:?}");
    let out = body(&e, br#"<add key="SmtpPassword" value="${SMTP_PASSWORD}" />"#);
    assert!(out.is_clean(), "{out:?}");
}

#[test]
fn credentials_in_side_by_side_layouts_sql_rows_and_command_lines() {
    let e = engine();
    let caught = [
        r#"{"env": [{"name": "TWILIO_AUTH_TOKEN", "value": "c1d8e5a16f50cf90cd5ef8a40d42b7e3"}]}"#,
        "env:\n  - name: DB_PASSWORD\n    value: Hq7vRw2LpZ9xTk4m\n",
        "<property><name>fs.s3a.secret.key</name><value>wJa1rXUtnFEMI9K7MDENGbPxRfiCYz3kLm0p</value></property>",
        "INSERT INTO creds (org_id, dd_api_key, created_at) VALUES (7, '9c4beb42637b818a703d20904049361f', NOW());",
        "mysql -h db.internal -u app -p'T8xkPnN^jB00mJ8bQ' -e 'show databases'",
        "sshpass -p 'Wq3zLm9Kx2Pv' ssh deploy@10.0.0.5",
        "ADMIN_PASSWORD=QHA8bvxvK._y.rC\n",
        "SIGNING_SECRET=5e:34:52:6d:5b:b2:e7:73:63:ca:03:70:96:33:65:32\n",
        // The hex of a key's characters.
        "API_KEY = \"3430333332376139616161636631626163323761633563383734383438353538\"",
        "Authorization: Bearer %77%79%6B%39%69%44%32%64%6C%56%70%63%61%43%37%74%34%50%4A%4B%72%4A",
        r#"{"html": "<input name=\"api_secret\" value=\"%2534%2537%2533%2562%2534%2536%2537%2530%2534%2534%2561%2536%2530%2562%2536%2538%2563%2537%2530%2566%2566%2533%2533%2564%2565\">"}"#,
    ];
    for text in caught {
        assert!(!body(&e, text.as_bytes()).is_clean(), "{text}");
    }
    let clean = [
        r#"{"env": [{"name": "LOG_LEVEL", "value": "debug-verbose-2"}, {"name": "API_TOKEN", "value": "${API_TOKEN}"}]}"#,
        "<property><name>fs.s3a.endpoint</name><value>s3.eu-west-1.amazonaws.com</value></property>",
        "INSERT INTO users (id, name, password_hint) VALUES (7, 'Ann', 'your first pet');",
        "mysql -h db.internal -u app -p\"$MYSQL_PASSWORD\" -e 'show databases'",
        "mysql -u root -p mydb < dump.sql",
        "ADMIN_PASSWORD=correct-horse-battery\n",
        "fingerprint 5e:34:52:6d:5b:b2:e7:73:63:ca:03:70:96:33:65:32\n",
        "a link: https://example.com/search?q=rust%20async%20traits",
    ];
    for text in clean {
        assert!(body(&e, text.as_bytes()).is_clean(), "{text}");
    }
}

#[test]
fn letters_and_digits_percent_encoded_in_a_url_are_hidden_data() {
    let e = engine();
    let hidden = "https://catcher.example.net/i/%252534%252562%252539%252538%252539%252534%252531%252564%252530%252563%252566%252533%252564%252566%252537%252531%252562";
    assert!(
        detectors(&e.scan_url(all(), hidden)).contains(&"high-entropy"),
        "{hidden}"
    );
    for benign in [
        "https://example.com/search?q=caf%C3%A9%20cr%C3%A8me%20br%C3%BBl%C3%A9e",
        "https://example.com/a%2Fb%2Fc/d?next=%2Fhome%3Ftab%3D1",
    ] {
        assert!(e.scan_url(all(), benign).is_clean(), "{benign}");
    }
}

#[test]
fn credentials_escaped_in_strings_quoted_in_errors_and_named_in_prose() {
    let e = engine();
    let caught = [
        // A Kubernetes env list inside a JSON string.
        r#"{"content": "env:\n  - name: TWILIO_AUTH_TOKEN\n    value: \"d7f5bf2207aff0816901d6e62e1bb1c2\"\n"}"#,
        // A HAR header list.
        "{\"headers\": [\n {\n  \"name\": \"Api-Key\",\n  \"value\": \"7e7f961437b2c65fc8643c04a32eb08b\"\n }\n]}",
        // A CSV table quoted in a message.
        r#"{"text": "Convert this:\n\nname,adminpassword,owner\nreporting,NWpmqNEA8#9K,rosa@example.com\n"}"#,
        "Traceback (most recent call last):\n  File \"/app/client.py\", line 70, in connect\n    raise AuthError(f\"rejected {self.db_password!r}\")\nAuthError: rejected 'T_azh&o9j-nSgWK'\n",
        "hey, I set adminPassword to bfR7H^&7fA7G and the API still returns 401",
        "2. Set `MISTRAL_API_KEY` to `85af28639023f92cf4bdb604bf97864e`",
        "ticket: credential 6eb368b399ac71dc573cdba4782cca1c-us9 stopped working",
        "NUGET=oy2wb2wpvwlxbc1wmo0fkcfeoxtlid1tzha4lfhehtw9fx",
        "X-Amz-Security-Token: FwoGZXIvYXdzEdr7z4Sye5ofUJVyvK+zicvmWmMUlRFmaRqdnXopVgEfux+E0oCx4bSoIWiEt3PZEjD/NizHFpPgDsI4LEaz12ux",
    ];
    for text in caught {
        assert!(!body(&e, text.as_bytes()).is_clean(), "{text}");
    }
    let clean = [
        "Traceback (most recent call last):\n    raise AuthError(f\"rejected {self.db_password!r}\")\nAuthError: rejected '<redacted>'\n",
        "Traceback (most recent call last):\n    raise KeyError(f\"missing {self.region}\")\nKeyError: 'eu-central-1-zone'\n",
        "I set the timeout to 30000ms and the retries to 5; the token is refreshed hourly",
        "set `API_KEY` to `${API_KEY}` in your shell",
        "lang=en-us&region=us1",
        r#"{"content": "env:\n  - name: LOG_FORMAT\n    value: \"json-lines-v2\"\n"}"#,
    ];
    for text in clean {
        assert!(
            body(&e, text.as_bytes()).is_clean(),
            "{text}: {:?}",
            detectors(&body(&e, text.as_bytes()))
        );
    }
}

#[test]
fn long_values_under_cache_buster_names_and_random_form_values_are_judged() {
    let e = engine();
    let data = "MJwXBwoxQdJI0UshmswEBgOTQTQnfCph3tOMSe6lyV3PQ5AhdyrMqkhzwxt6bYThvV6cNIe8lGoxEoK7RkyOgEDxNzvXuSpCivc3nDZS0jFTnlxCILylj";
    let url = format!("https://t.example.net/b?v={data}&t=1703128664");
    assert!(
        detectors(&e.scan_url(all(), &url)).contains(&"high-entropy"),
        "{url}"
    );
    for benign in [
        "https://cdn.example.com/app.js?v=3f2a9c1e4b7d",
        "https://cdn.example.com/a.css?v=2.4.1",
    ] {
        assert!(e.scan_url(all(), benign).is_clean(), "{benign}");
    }
    let form = format!("d={data}&v=1");
    let out = e.scan_body(
        all(),
        None,
        Some("application/x-www-form-urlencoded"),
        form.as_bytes(),
    );
    assert!(detectors(&out).contains(&"high-entropy"), "{out:?}");
    let out = e.scan_body(
        all(),
        None,
        Some("application/x-www-form-urlencoded"),
        b"name=Ann+Lee&city=Oslo&page=2",
    );
    assert!(out.is_clean(), "{out:?}");
    let host = "Oesx-OwZsgAlbLVFQiHdIqhJ.tele-kit.example";
    assert!(
        detectors(&e.scan_hostname(all(), host)).contains(&"dns-exfiltration"),
        "{host}"
    );
    assert!(e.scan_hostname(all(), "MyCompanyPortal.example.com").is_clean());
}

#[test]
fn looked_up_names_spoken_tokens_and_address_shaped_values() {
    let e = engine();
    for text in [
        "dig +short TXT s21.m5uhax2bknzumsjugngxs5sennru4ssqlj2tg4ltozewymcxgzqtcrz.tkn4ho5bt.82.d.exfil.example\n",
        r#"{"content": "nslookup 4b49414f34495155494b4.2534e48585a4c533a492b7252.d.exfil.example"}"#,
        "hey, here's the twilio auth token for the staging box: d8c3437f8ed1561b7a2584a389d07848 (don't share)",
    ] {
        assert!(!body(&e, text.as_bytes()).is_clean(), "{text}");
    }
    for text in [
        "dig +short A www.example.com\nping -c 1 api.internal.example.com\n",
        "The key fingerprint is SHA256:rENZ9egAps3mvIyPemYDy90bH2hnJrTKzv6kxTFeFGV deploy@build",
        "the api key fingerprint is SHA256:qENZ9egAps3mvIyPemYDy90bH2hnJrTKzv6kxTFeFGW",
        r#"{"content": "My logs show token=xoxb-\u2026, is that redacted?"}"#,
    ] {
        assert!(
            body(&e, text.as_bytes()).is_clean(),
            "{text}: {:?}",
            detectors(&body(&e, text.as_bytes()))
        );
    }
    // A mistyped address is an address by its grammar, not unexplained data.
    for url in [
        "https://explorer.example/search?q=bc1q0a4eo9oacpcdedqwrq7k46gxkgn4uafjcplnif",
        "https://app.example/invite/1WqvmsFEwgdhRPrbycbkQ7hXFeQMngI55w",
    ] {
        assert!(e.scan_url(all(), url).is_clean(), "{url}");
    }
}

#[test]
fn key_bytes_bare_key_headers_name_columns_and_card_groupings() {
    let e = engine();
    for text in [
        "kms: unwrapped data key for tenant 172: EF:2A:A8:C8:32:C4:B6:8D:2C:CB:17:C5:15:C9:1F:34:42:1E:25:67:D5:A0:9F:C6:D6:CB:7E:85:44:59:94:05\n",
        "Steps:\n\n```\nservice,key_name,value,owner\nusers,AUTH_TOKEN,JtDzGYer5m8bl0MIrQGlOS0syOBoUi~8Lmy1E7l3GOJWZ26k,erin\n```\n",
    ] {
        assert!(!body(&e, text.as_bytes()).is_clean(), "{text}");
    }
    for text in [
        "SHA256 Fingerprint=EF:2A:A8:C8:32:C4:B6:8D:2C:CB:17:C5:15:C9:1F:34:42:1E:25:67:D5:A0:9F:C6:D6:CB:7E:85:44:59:94:05\n",
        "service,key_name,value,owner\nusers,REGION,eu-west-1,erin\n",
        r#"{"order_number": "676-2558819-2917415", "status": "shipped"}"#,
        r#"{"mapboxPublicToken": "pk.eyJ1IjoibWFsbG9yeSIsImEiOiJuZ293N2puMmd0dmVqOHV6djl0M25hNmM5In0.ZoaYNncrfoH62SEWjd9JHR"}"#,
    ] {
        assert!(
            body(&e, text.as_bytes()).is_clean(),
            "{text}: {:?}",
            detectors(&body(&e, text.as_bytes()))
        );
    }
    // A card in its printed grouping is still one.
    assert!(!body(&e, b"card 4111-1111-1111-1111 exp 12/29").is_clean());
    let key = e.scan_header(all(), "Fastly-Key", b"w8hPAM7HUaQtxfRvMdYQ183Sn7MK6ygp");
    assert!(!key.is_clean(), "{key:?}");
    for (name, value) in [
        ("Sec-WebSocket-Key", &b"M//02HAPoOISZB86UBT/Eg=="[..]),
        ("X-Client-Cert-Fingerprint", b"74:04:20:2C:B8:A3:50:E0:B7:8A:0C:4B:88:6F:5F:62:97:ED:8E:87:67:4B:3E:CC:52:FC:2F:B4:B7:D2:BA:AD"),
        ("X-Cache-Key", b"product-listing-v2"),
    ] {
        let out = e.scan_header(all(), name, value);
        assert!(out.is_clean(), "{name}: {out:?}");
    }
}

/// The layouts the eleventh held-out split found unjudged, each written anew here (values
/// random, never issued): key material without armour, files and command output hidden in
/// URLs and delimited hex, names looked up over DNS over HTTPS, passphrases and subscripted
/// names; and the benign look-alikes beside them.
#[test]
fn hidden_files_unarmoured_keys_and_doh_names() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let b64url = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let e = engine();
    // A PKCS#8 key's opening, as base64 in a JSON field; OpenSSH's format in YAML, wrapped.
    let mut der = vec![0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09];
    der.extend((0..600u32).map(|i| (i * 73 % 251) as u8));
    let json = format!(r#"{{"kid": "k1", "private_key_der_b64": "{}"}}"#, b64(&der));
    assert!(detectors(&body(&e, json.as_bytes())).contains(&"private-key"));
    let mut openssh = b"openssh-key-v1\0\0\0\0\x04none".to_vec();
    openssh.extend((0..300u32).map(|i| (i * 31 % 256) as u8));
    let wrapped: Vec<String> = b64(&openssh)
        .as_bytes()
        .chunks(70)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let yaml = format!("deploy:\n  private_key_body: |\n    {}\n", wrapped.join("\n    "));
    assert!(detectors(&body(&e, yaml.as_bytes())).contains(&"private-key"));
    // A certificate's DER, base64, is public.
    let mut cert = vec![
        0x30, 0x82, 0x03, 0x1d, 0x30, 0x82, 0x02, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x02,
    ];
    cert.extend((0..600u32).map(|i| (i * 73 % 251) as u8));
    let json = format!(r#"{{"certificate": "{}"}}"#, b64(&cert));
    assert!(!detectors(&body(&e, json.as_bytes())).contains(&"private-key"));

    // A file of several lines as base64 in a URL; one line of JSON there is a value.
    let hosts = b"127.0.0.1 localhost\n10.0.8.153 vault.internal\ntcp 0 0 0.0.0.0:5432 LISTEN 812/postgres\n";
    let out = e.scan_url(
        all(),
        &format!("https://stats.example.net/p/{}/pixel.gif", b64(hosts)),
    );
    assert!(detectors(&out).contains(&"high-entropy"), "{out:?}");
    let state = br#"{"return_to":"/dashboard","locale":"en-GB","theme":"dark","tab":"billing"}"#;
    let out = e.scan_url(
        all(),
        &format!("https://app.example.com/login?state={}", b64url(state)),
    );
    assert!(out.is_clean(), "{out:?}");

    // Text spelled in delimited hex: dotted, as path segments, in rows of a dump.
    let text = b"uid=1000(erin) gid=1000(erin) groups=27(sudo),999(docker)\n";
    let dotted: Vec<String> = text.iter().map(|b| format!("{b:02x}")).collect();
    let out = body(&e, format!("id=7&data={}", dotted.join(".")).as_bytes());
    assert!(detectors(&out).contains(&"delimited-hex"), "{out:?}");
    let out = e.scan_url(
        all(),
        &format!("https://cdn.example.net/{}/z.gif", dotted[..24].join("/")),
    );
    assert!(detectors(&out).contains(&"delimited-hex"), "{out:?}");
    let rows: Vec<String> = dotted.chunks(16).map(|r| r.join(" ")).collect();
    assert!(detectors(&body(&e, rows.join("\n").as_bytes())).contains(&"delimited-hex"));
    // A dump that shows its text beside the bytes hides nothing.
    let dump = "00000000: 4865 6c6c 6f2c 2077 6f72 6c64 2120 5468  Hello, world! Th\n00000010: 6973 2069 7320 6120 7465 7374 2066 696c  is is a test fil\n";
    assert!(body(&e, dump.as_bytes()).is_clean());

    // DNS over HTTPS: the name asked for is judged as a name.
    let mut query = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["mzxw6ytboi4dk3tfpq7r2lnb5wx4y3kq7mzxw6ytb", "t", "example", "com"] {
        query.push(label.len() as u8);
        query.extend(label.as_bytes());
    }
    query.extend([0, 0, 1, 0, 1]);
    let out = e.scan_url(
        all(),
        &format!("https://dns.example/dns-query?dns={}", b64url(&query)),
    );
    assert!(detectors(&out).contains(&"dns-exfiltration"), "{out:?}");

    // Passphrases and subscripted names; password hashes; X bearer tokens.
    for text in [
        "https://intranet.example.com/login?username=quentin&password=harbor-meadow-pepper-ember3",
        r#"os.environ["POSTGRES_PASSWORD"] = "maple-cobalt-tundra-thunder2""#,
        "ENV['API_TOKEN'] = 'Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh'",
        "mateo:$6$LMr.F7i4tQd3ULEr$QclBZ9zKjo1iNIZqViMqIGr36HOUS4V2TkgWmefKYweMwdxEJu3RPTuU7klo6XhAznndOZ5pGa5G0vo0vDW1wa:19755:0:99999:7:::",
        "bearer_token = AAAAAAAAAAAAAAAAAAAAAaQel4gNfAAAAAAAwzW2eYWFyk2tU3SN83wbEhpEb1I6PqeIWNWtzNpLXqm6ssgzus4BCWMSeQzI",
    ] {
        let out = if text.starts_with("https://") {
            e.scan_url(all(), text)
        } else {
            body(&e, text.as_bytes())
        };
        assert!(!out.is_clean(), "{text}");
    }
    // Public tokens under credential names, fields in log lines and searches, globs, redaction
    // marks, pagination and protocol parameters, a titled page id, an IPFS gateway's name.
    for text in [
        r#"{"map": {"accessToken": "pk.eyJ1Ijoid2F5bmUtZW50IiwiYSI6ImNsbjFvNzFycXEzZHV6MHYzYmRmOTRpaGUifQ.NuKSpP-vPiXjCNDV-DyDrt"}}"#,
        "2024-01-10T05:46:07.236Z INFO auth: password reset email sent to user_id=56031",
        r#""Resource": "arn:aws:secretsmanager:us-east-1:717023865639:secret:prod/api-*""#,
        r#"{"data": {"password": "[Filtered]"}}"#,
        "password=my-secret-password",
    ] {
        let out = body(&e, text.as_bytes());
        assert!(out.is_clean(), "{text}: {out:?}");
    }
    for url in [
        "https://github.com/search?q=password+reset+flow+language%3ATypeScript&type=code",
        "https://management.azure.com/subscriptions/x/resources?api-version=2021-04-01&%24skiptoken=eyJuZXh0TWFya2VyIjogIkQzTUIzTkhOMTRYQVJZNkIifQ%3D%3D",
        "https://b.s3.amazonaws.com/v.mp4?partNumber=5&uploadId=ur6oocMVSgasskDu_orygaPr9ILtDj7b0BZhK6JC0DzkLQRtE8naV8CpkVF9xa6bCntiptsZnS7_zIVti42X6k",
        "https://www.notion.so/northwind/Roadmap-Q4-778a6b264a6f3fa103162355f21be9e2",
    ] {
        let out = e.scan_url(all(), url);
        assert!(out.is_clean(), "{url}: {out:?}");
    }
    let ipfs = "bafybeiq5ghbbdyj65tbansgtqmkv6ddtqomcmomvvjgbp4nlub4oysz773.ipfs.dweb.link";
    assert!(e.scan_hostname(all(), ipfs).is_clean());
}

/// Split 12's layouts: a token cut into pieces of one length over consecutive fields, and a
/// form field named for a password whose value stands alone; a placeholder and its neighbour
/// of the same length are not joined into a token.
#[test]
fn pieces_over_fields_and_named_form_fields() {
    let e = engine();
    for text in [
        "{\n  \"a\": \"ghp_pes7asFBfnO8NwPb\",\n  \"b\": \"T4JE21sIkOGh4h3h8fmG\",\n  \"sid\": \"tomlbd\"\n}",
        "p0=Z2hwX1BFUzdhc0ZCZm5POE53UGJUNEpFMjFz&p1=SWtPR2g0aDNoOGZtRw",
    ] {
        let out = body(&e, text.as_bytes());
        assert!(detectors(&out).contains(&"github-token"), "{text}: {out:?}");
    }
    let form = "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\njonas@example.com\r\n--B\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nHollow#0640lantern\r\n--B--\r\n";
    let out = e.scan_body(
        all(),
        None,
        Some("multipart/form-data; boundary=B"),
        form.as_bytes(),
    );
    assert!(detectors(&out).contains(&"generic-secret"), "{out:?}");
    let benign =
        "--B\r\nContent-Disposition: form-data; name=\"password_hint\"\r\n\r\nthe usual one\r\n--B--\r\n";
    let out = e.scan_body(
        all(),
        None,
        Some("multipart/form-data; boundary=B"),
        benign.as_bytes(),
    );
    assert!(out.is_clean(), "{out:?}");
    let out = body(
        &e,
        b"SLACK_BOT_TOKEN=xoxb-your-token-here\nSLACK_SIGNING_SECRET=changeme\n",
    );
    assert!(out.is_clean(), "{out:?}");
}

/// Bytes as `xxd` prints them: offset, groups of two bytes, the text column.
fn xxd(bytes: &[u8]) -> String {
    let text = |row: &[u8]| -> String {
        row.iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect()
    };
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, row)| {
            let groups: Vec<String> = row
                .chunks(2)
                .map(|g| g.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            format!("{:08x}: {:<40}  {}\n", i * 16, groups.join(" "), text(row))
        })
        .collect()
}

/// Bytes as `hexdump -C` prints them: offset, two halves of eight bytes, the text between bars.
fn hexdump_c(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, row)| {
            let half = |h: &[u8]| h.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
            let hex = format!(
                "{}  {}",
                half(&row[..row.len().min(8)]),
                half(&row[row.len().min(8)..])
            );
            let text: String = row
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect();
            format!("{:08x}  {hex:<49} |{text}|\n", i * 16)
        })
        .collect()
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Lcg(seed);
    (0..len).map(|_| rng.next(256) as u8).collect()
}

/// Split 13's hex dumps: a dump is judged by the bytes it shows, not by being hex. File
/// headers and packets dumped to ask about them are clean in every tool's layout, whole or
/// escaped into a JSON string; a text holding keys, dumped, is caught by what it says.
#[test]
fn hex_dumps_are_judged_by_their_bytes() {
    let e = engine();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\0\xc8\x08\x06\0\0\0".to_vec();
    png.extend(random_bytes(3, 40));
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0".to_vec();
    elf.extend(random_bytes(5, 8));
    elf.extend([0u8; 16]);
    let mut tls = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    tls.extend(random_bytes(7, 32));
    for dump in [
        xxd(&png),
        hexdump_c(&elf),
        xxd(&tls),
        hexdump_c(&random_bytes(9, 48)),
    ] {
        let out = body(&e, dump.as_bytes());
        assert!(out.is_clean(), "{dump}{out:?}");
        let json = serde_json::json!({ "text": format!("what is this?\n{dump}") }).to_string();
        let out = body(&e, json.as_bytes());
        assert!(out.is_clean(), "{json}{out:?}");
    }
    let credentials = b"[default]\naws_access_key_id = AKIAZ7XQ2MLP4RT6WQ3N\naws_secret_access_key = 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\n";
    let token = format!("GITHUB_TOKEN={GITHUB}\n");
    for (dump, detector) in [
        (xxd(credentials), "aws-access-key"),
        (hexdump_c(credentials), "aws-access-key"),
        (xxd(token.as_bytes()), "github-token"),
        (hexdump_c(token.as_bytes()), "github-token"),
    ] {
        let out = body(&e, dump.as_bytes());
        assert!(detectors(&out).contains(&detector), "{dump}{out:?}");
        let json = serde_json::json!({ "text": dump }).to_string();
        let out = body(&e, json.as_bytes());
        assert!(detectors(&out).contains(&detector), "{json}{out:?}");
    }
    // Binary in a delimited list, no dump's layout, is still data.
    let list: Vec<String> = random_bytes(9, 24).iter().map(|b| format!("{b:02x}")).collect();
    assert!(detectors(&body(&e, list.join(" ").as_bytes())).contains(&"delimited-hex"));
}

/// An OpenPGP transferable public key (an RSA public-key packet and a user id), as HKP's
/// `keytext` carries it.
fn openpgp_key(modulus: &[u8], user: &str) -> Vec<u8> {
    let mut body = vec![4, 0x66, 0x4b, 0xec, 0xc4, 1];
    let bits = modulus.len() * 8 - modulus[0].leading_zeros() as usize;
    body.extend((bits as u16).to_be_bytes());
    body.extend(modulus);
    body.extend([0x00, 0x11, 0x01, 0x00, 0x01]);
    let mut key = vec![0x99];
    key.extend((body.len() as u16).to_be_bytes());
    key.extend(body);
    key.extend([0xb4, user.len() as u8]);
    key.extend(user.as_bytes());
    key
}

fn form_value(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// Split 13's high-entropy cases by class: one-case ids in an alphabet that is not base32, a
/// static asset named by its hash, a public key in a key server's form, a CAPTCHA site key;
/// each beside what still reads as data.
#[test]
fn ids_hashed_asset_names_and_public_keys_are_not_data() {
    let e = engine();
    let form = |text: &str| {
        e.scan_body(
            all(),
            None,
            Some("application/x-www-form-urlencoded"),
            text.as_bytes(),
        )
    };
    for url in [
        "https://graph.microsoft.com/v1.0/drives/b1/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K/content",
        "https://api.example.com/v1/jobs/01hx7k9m2q8r4t6w0y3z5b1c7d9f2g4h/status",
        "https://fonts.gstatic.com/s/inter/v18/Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8_a2.woff2",
        "https://cdn.example.com/assets/x9Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9Ef2Gh4Jk6Mn8Pq.css",
        "https://www.example.com/verify?site_key=6LdQ3kUqAAAAAF9zX2hTqR7vWb1cYp0mNs4eKd8j",
    ] {
        let out = e.scan_url(all(), url);
        assert!(out.is_clean(), "{url}: {out:?}");
    }
    let mut modulus = random_bytes(11, 256);
    modulus[0] |= 0x80;
    let key = openpgp_key(&modulus, "Erin Fischer <erin@example.com>");
    let out = form(&format!("keytext={}&options=mr", form_value(&key)));
    assert!(out.is_clean(), "{out:?}");
    let mut ssh = b"\0\0\0\x0bssh-ed25519\0\0\0\x20".to_vec();
    ssh.extend(random_bytes(13, 32));
    let out = e.scan_url(
        all(),
        &format!(
            "https://keys.example.com/add?key={}",
            URL_SAFE_NO_PAD.encode(&ssh)
        ),
    );
    assert!(out.is_clean(), "{out:?}");
    let out = form("sitekey=6LfHq2vL8mN4pR7tW1yB5cD9fG3hJ6kZ0aEx&action=submit");
    assert!(out.is_clean(), "{out:?}");

    // Still data: base32 and longer base36 in one case, a file name longer than a digest, a
    // key that does not parse (bytes after its user id, a modulus shorter than it says), a
    // key's bytes under no key's shape, and a long value under a public key's name.
    let mut spoiled = key.clone();
    spoiled.extend(random_bytes(17, 24));
    let mut short = key.clone();
    short[10] ^= 0x01;
    let mut tail = ssh.clone();
    tail.extend(random_bytes(19, 12));
    for url in [
        "https://c.example.net/u/mzxw6ytb2oi4dk3tfpq7r2lnb5wx4y3kq7/x",
        "https://c.example.net/u/k3j9x2m8q7w1z5c4v6b0n8m2l4p6h9t3r5y7w1q2/x",
        "https://c.example.net/p/x9Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9Ef2Gh4Jk6Mn8PqRs.gif",
        &format!("https://c.example.net/c?d={}", URL_SAFE_NO_PAD.encode(&spoiled)),
        &format!("https://c.example.net/c?d={}", URL_SAFE_NO_PAD.encode(&short)),
        &format!("https://c.example.net/c?key={}", URL_SAFE_NO_PAD.encode(&tail)),
        &format!("https://c.example.net/c?d={}", URL_SAFE_NO_PAD.encode(&modulus)),
        &format!(
            "https://c.example.net/c?sitekey={}",
            URL_SAFE_NO_PAD.encode(random_bytes(23, 120))
        ),
    ] {
        let out = e.scan_url(all(), url);
        assert!(detectors(&out).contains(&"high-entropy"), "{url}: {out:?}");
    }
    assert!(!form("d=6LfHq2vL8mN4pR7tW1yB5cD9fG3hJ6kZ0aEx&action=submit").is_clean());
}

/// Split 13's generic-secret cases: an analytics cookie that is base64 of JSON is state, and
/// a SealedSecret's ciphertexts are encrypted on purpose; a token inside the JSON, the same
/// ciphertext outside an encrypted map, and a password in the clear inside one are caught.
#[test]
fn client_state_and_sealed_ciphertext_are_not_credentials() {
    let e = engine();
    let state = STANDARD.encode(br#"{"id":"9e6fcba6-ee67-4d94","created":1759242800000,"existing":true}"#);
    let out = e.scan_header(
        all(),
        "cookie",
        format!("_ga=GA1.2.3; _hjSessionUser_88={state}").as_bytes(),
    );
    assert!(out.is_clean(), "{out:?}");
    let holding = STANDARD.encode(format!(r#"{{"user":42,"token":"{GITHUB}"}}"#));
    let out = e.scan_header(all(), "cookie", format!("app_session={holding}").as_bytes());
    assert!(detectors(&out).contains(&"github-token"), "{out:?}");
    let out = e.scan_header(all(), "cookie", b"sessionid=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh");
    assert!(detectors(&out).contains(&"generic-secret"), "{out:?}");

    let mut sealed = vec![0x02, 0x00];
    sealed.extend(random_bytes(29, 300));
    let sealed = STANDARD.encode(&sealed);
    let json = format!(
        "{{\n \"kind\": \"SealedSecret\",\n \"spec\": {{\n  \"encryptedData\": {{\n   \"password\": \"{sealed}\"\n  }}\n }}\n}}"
    );
    let yaml = format!("kind: SealedSecret\nspec:\n  encryptedData:\n    api_token: {sealed}\n");
    for text in [&json, &yaml] {
        let out = body(&e, text.as_bytes());
        assert!(out.is_clean(), "{text}{out:?}");
    }
    for text in [
        json.replace("encryptedData", "stringData"),
        yaml.replace("encryptedData", "data"),
        r#"{"spec": {"encryptedData": {"password": "Hollow#0640lantern"}}}"#.to_owned(),
    ] {
        let out = body(&e, text.as_bytes());
        assert!(detectors(&out).contains(&"generic-secret"), "{text}{out:?}");
    }
}

/// Split 13's cloud service name: one short random label beside the words of a provider's
/// zone is a name; data in longer labels, or in short chunks among words, still reads as data.
#[test]
fn one_short_label_among_words_is_a_name() {
    let e = engine();
    for host in [
        "my5uu77gzn05.eastus.cloudapp.azure.com",
        "k8x2m9q4z7w1.westeurope.cloudapp.azure.com",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(out.is_clean(), "{host}: {out:?}");
    }
    for host in [
        "q3x9v7k2m8n4b6c1z5w2.eastus.cloudapp.azure.com",
        "a9f3c1e5.b7d2f4a8.c6e0b1d3.eastus.cloudapp.azure.com",
        "mfrgg2.lbmzxw.6ytboi.4dk3tf.s12.interact.sh",
    ] {
        let out = e.scan_hostname(all(), host);
        assert!(detectors(&out).contains(&"dns-exfiltration"), "{host}: {out:?}");
    }
}

/// Pieces of `token` cut at `cuts` (lengths of unequal size; the rest is the last piece).
fn cut<'t>(token: &'t str, cuts: &[usize]) -> Vec<&'t str> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for &n in cuts {
        pieces.push(&token[at..at + n]);
        at += n;
    }
    pieces.push(&token[at..]);
    pieces
}

/// A vendor-prefixed token cut into pieces of unequal length over the values of a container
/// (JSON fields and arrays, cookies, path segments, query and form values, CSV cells), forward
/// or in reverse order, and an AWS key ID followed by its secret in pieces: the joins are judged
/// by the rules. Values that begin with a prefix but join into words or ordinary values are not.
#[test]
fn prefixed_tokens_cut_unevenly_over_a_containers_values() {
    let e = engine();
    let fields = |pieces: &[&str]| {
        let pairs: Vec<String> = pieces
            .iter()
            .zip('a'..)
            .map(|(p, k)| format!("\"{k}\":\"{p}\""))
            .collect();
        format!("{{{},\"ts\":1726817096}}", pairs.join(","))
    };
    let array = |pieces: &[&str]| {
        let items: Vec<String> = pieces.iter().map(|p| format!("\"{p}\"")).collect();
        format!("{{\"v\":[{}]}}", items.join(", "))
    };
    let github = cut(GITHUB, &[7, 13, 5]);
    let mut reversed = cut(GITHUB, &[4, 9, 11]);
    reversed.reverse();
    let quads: Vec<&str> = (0..GITHUB.len()).step_by(4).map(|i| &GITHUB[i..i + 4]).collect();
    let hf = "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";
    let npm = cut("npm_JXVuLkSIc47WQAmL9xVQ2zg4mZaouq416qWU", &[8, 3, 17]);
    let openai = cut(
        "sk-proj-Qm3Zx8Lp2Vn7Rt4Ws9Yb1Kc6Jd0Fg5Hh3Nq8Tu2Xe7Pa4Mb9Lc1Zr6Vs0",
        &[13, 9, 21],
    );
    let aws = cut(
        "AKIAZ7XQ2MLP4RT6WQ3NkZ3n8Qe1Vx0b7Lr2Tg5Hw9Pm4Ys6Cu3Df1Ja8Ko2",
        &[10, 10, 4, 26],
    );
    for (text, detector) in [
        (fields(&github), "github-token"),
        (array(&quads), "github-token"),
        (array(&reversed), "github-token"),
        (
            format!("a={}&b={}&c={}&d={}", npm[0], npm[1], npm[2], npm[3]),
            "npm-token",
        ),
        (format!("id,{}\n", npm.join(",")), "npm-token"),
        (fields(&aws), "aws-access-key"),
    ] {
        let out = body(&e, text.as_bytes());
        assert!(detectors(&out).contains(&detector), "{detector}: {out:?}");
    }
    let pairs: Vec<String> = openai
        .iter()
        .enumerate()
        .map(|(i, p)| format!("_p{i}={p}"))
        .collect();
    let out = e.scan_header(all(), "Cookie", pairs.join("; ").as_bytes());
    assert!(!out.is_clean(), "{out:?}");
    let hf = cut(hf, &[6, 14]);
    let url = format!("https://edge.example.dev/s/c/{}", hf.join("/"));
    assert!(detectors(&e.scan_url(all(), &url)).contains(&"huggingface-token"));
    let url = format!(
        "https://edge.example.dev/s?p1={}&p2={}&p3={}&p4={}",
        github[0], github[1], github[2], github[3]
    );
    assert!(detectors(&e.scan_url(all(), &url)).contains(&"github-token"));
    // The prefix in a value of its own before words, model names and ordinary values.
    for text in [
        "{\"tags\":[\"sk-\",\"learn\",\"is\",\"great\",\"for\",\"tabular\",\"models\",\"today\"]}",
        "{\"a\":\"ghp_\",\"b\":\"Tokens\",\"c\":\"start\",\"d\":\"with\",\"e\":\"this\",\"f\":\"prefix\"}",
        "theme=sk-light; lang=en-US; tz=Europe; seen=2026-12-02",
        "name,prefix,kind\nnpm,npm_,Publish token\ngithub,ghp_,Classic PAT\n",
    ] {
        let out = body(&e, text.as_bytes());
        assert!(out.is_clean(), "{text}: {out:?}");
    }
    for url in [
        "https://huggingface.co/api/models/hf_internal/testing/resolve/main/config.json",
        "https://docs.example.org/hf_hub/download/Model/files/weights/v2/index",
        "https://github.example.com/search?q=ghp_&page=2&sort=Desc&lang=en&per_page=100",
        "https://example.org/keys?prefix=AKIA&region=us-east-1&page=3&limit=50",
    ] {
        assert!(e.scan_url(all(), url).is_clean(), "{url}");
    }
}

/// Split 14's classes, each by an attack written here and a benign control beside it.
#[test]
fn disguised_listed_and_labelled_secrets() {
    let e = engine();
    let rot13 = |s: &str| String::from_utf8(super::decode::base64::rot13(s.as_bytes())).expect("ascii");
    let reversed = |s: &str| s.chars().rev().collect::<String>();
    let codes = |s: &str| s.bytes().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    let half = GITHUB.len() / 2;
    let cases: Vec<(String, bool)> = vec![
        // ROT13 and reversal in a plain body, found by their disguised cues.
        (
            format!(
                r#"{{"payload": "{}"}}"#,
                rot13(&format!("//npm.pkg.github.com/:_authToken={GITHUB}"))
            ),
            true,
        ),
        (
            format!(r#"{{"note": "{}"}}"#, reversed(&format!("GITHUB_TOKEN={GITHUB}"))),
            true,
        ),
        (
            rot13("The quick brown fox jumps over the lazy dog, as the docs say."),
            false,
        ),
        // Labelled parts and chunk arrays, joined.
        (
            format!("part 1/2: {}\npart 2/2: {}\n", &GITHUB[..half], &GITHUB[half..]),
            true,
        ),
        ("part 1/2: intro\npart 2/2: summary\n".to_string(), false),
        (
            format!(
                r#"{{"tags": ["gh", "p_{}", "{}"]}}"#,
                &GITHUB[4..20],
                &GITHUB[20..]
            ),
            true,
        ),
        (
            r#"{"tags": ["alpha", "beta", "gamma", "delta", "epsilon"]}"#.to_string(),
            false,
        ),
        // Character codes and byte arrays.
        (
            format!(
                "String.fromCharCode({})",
                codes(&format!("password={}", "Lxw322#CqWz9Pk"))
            ),
            true,
        ),
        (
            format!(
                "const SECRET_KEY: [u8; 32] = [{}];",
                random_bytes(14, 32)
                    .into_iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            true,
        ),
        (
            format!(
                "const SBOX = [{}];",
                random_bytes(14, 32)
                    .into_iter()
                    .map(|b| format!("0x{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            false,
        ),
        // A pgpass line; prose passwords in languages that inflect or write no spaces; Samba.
        ("db.example.de:5432:*:app:3FFpgZ_lNMj9\n".to_string(), true),
        ("VPN şifresi Lvp104#zW65T9$, lütfen paylaşma.".to_string(), true),
        ("VPN 的密码是 Bluebirdnebula8855#，请不要外传。".to_string(), true),
        ("smbclient //nas/backup -U olga%KzBxufRA#1mnz4".to_string(), true),
        ("smbclient //nas/backup -U olga".to_string(), false),
        // A private key in hex named in prose; an anti-forgery field.
        (
            "deployer private key 21e5a1e431eaccf61e7ec1ce9f6e997ec5cae7e670af04750f60c65dfc0a233d"
                .to_string(),
            true,
        ),
        (
            "csrfmiddlewaretoken=cTWXdiQR3%2BescLj7VbrtFi87YUJqnykkeOq2zdW2LbU%3D&title=Bug".to_string(),
            false,
        ),
        // Split 15's: a password with its `!` before a comma, OpenLDAP's `bindpw`, and a
        // search for the word (its next field is no password).
        ("Sunucu şifresi Copper1239!, kullanıcı adı app_rw.".to_string(), true),
        ("BINDDN cn=scheduler,dc=local\nbindpw Orbit!pixel568\n".to_string(), true),
        ("the best password manager 2025&form=QBLH".to_string(), false),
        ("Das Passwort für den Server lautet Zv1WyVuSxfBZF, Benutzer ist app_rw.".to_string(), true),
        ("Das Passwort für den Server lautet Sommerferien, Benutzer ist app_rw.".to_string(), false),
        ("DATABASE_URL=postgres://<user>:<password>@localhost:5432/<db>".to_string(), false),
        ("KAGGLE_KEY=f0a1ff41cb67861a07fd8c2efb469b3d\n".to_string(), true),
        ("# /etc/ipsec.secrets\n%any 203.0.113.146 : PSK \"Dragon317\"\n".to_string(), true),
        ("crypto isakmp key Shadow#1234* address 198.51.100.214\n".to_string(), true),
        ("#cloud-config\nchpasswd:\n  list: |\n    ubuntu:Ryrn71jcKD2Wi69OJEd\n  expire: false\n".to_string(), true),
        ("#cloud-config\nchpasswd:\n  expire: false\n".to_string(), false),
        ("<AdministratorPassword><Value>wLRs+hUH38TM_.V^RQX</Value></AdministratorPassword>".to_string(), true),
        ("CACHE_KEY=f0a1ff41cb67861a07fd8c2efb469b3d\n".to_string(), false),
        ("requirepass a-TLq+Ar9Ynvygjq~lug62Ws\n".to_string(), true),
        ("networks: { mainnet: { accounts: ['0x47be9f8e6e071819387c1fd3398f6a6fb6e70121fc692f1820da9ad7b25af2af'] } }".to_string(), true),
        ("const secretKey = new Uint8Array([78, 49, 76, 148, 241, 207, 3, 102, 157, 251, 242, 230, 90, 150, 73, 158, 165, 123, 214, 79, 177, 30, 187, 94, 3, 230, 152, 243, 85, 130, 69, 220]);".to_string(), true),
        ("users:\n- name: admin\n  user:\n    token: rz6ujw.ghe28jsk24menmld\n".to_string(), true),
        ("<User>ana</User>\n<Pass encoding=\"base64\">T1FCUDAyNzRobGpiJXBUbw==</Pass>".to_string(), true),
        ("<Logo encoding=\"base64\">T1FCUDAyNzRobGpiJXBUbw==</Logo>".to_string(), false),
        ("users:\n- name: admin\n  user:\n    token: abcdef.ghijklmnopqrstuv\n".to_string(), false),
        // Split 15's: names (`psk`, `_PAT`), htpasswd, literals joined by `+`, keys in calls.
        ("[wifi-security]\npsk=7aJscLWkcAPBEFgL\n".to_string(), true),
        ("- AZURE_DEVOPS_EXT_PAT=cviiokwsfwgcm2zlrajhinacl2zojjflcbuaepwibtftz3s5plrm\n".to_string(), true),
        ("- COMPAT=cviiokwsfwgcm2zlrajhinacl2zojjflcbuaepwibtftz3s5plrm\n".to_string(), false),
        ("app_rw:$apr1$t/KnMEHy$iVYXcqxbH/nMM379PzDHs3\n".to_string(), true),
        (format!("const t = '{}' + '{}' + '{}';", &GITHUB[..9], &GITHUB[9..20], &GITHUB[20..]), true),
        ("const t = 'Hello, ' + 'world' + '!';".to_string(), false),
        ("acct = Account.from_key('0x35bbffc3a9851b867e351866e18c89809baee8e08af6ca32c8fe2e5cc4ed3765')".to_string(), true),
        ("tx = w3.eth.get_transaction('0x35bbffc3a9851b867e351866e18c89809baee8e08af6ca32c8fe2e5cc4ed3765')".to_string(), false),
    ];
    for (text, secret) in cases {
        let form = text
            .starts_with("csrf")
            .then_some("application/x-www-form-urlencoded");
        let out = e.scan_body(all(), None, form, text.as_bytes());
        assert_eq!(!out.is_clean(), secret, "{text}: {:?}", detectors(&out));
    }
    assert!(
        !e.scan_hostname(all(), "436-90-6869.w4wua.d.example.net")
            .is_clean()
    );
    assert!(
        e.scan_hostname(all(), "000-90-6869.w4wua.d.example.net")
            .is_clean()
    );
    let wallet = "0xb2ea417ba759ba7159b35f4595f217d0b227f6a0ee5654dde6c50fa7c890ad96";
    assert!(!e.scan_header(all(), "X-Wallet-Key", wallet.as_bytes()).is_clean());
    assert!(e.scan_header(all(), "X-Cache-Key", wallet.as_bytes()).is_clean());
    let aspnet =
        "Cookie: .AspNetCore.Cookies=CfDJ8SMT5uBaYIrZAwBGrIbftB6HYfpJPyGKbghbdekR_aD7BiYP4-THJIwpSw68";
    let (name, value) = aspnet.split_once(": ").expect("a header line");
    assert!(!e.scan_header(all(), name, value.as_bytes()).is_clean());
    // A Kerberos keytab (version 2, one entry, realm `EXAMPLE.LOCAL`) sent base64'd.
    let mut keytab = vec![0x05, 0x02, 0, 0, 0, 0x40, 0, 1, 0, 13];
    keytab.extend_from_slice(b"EXAMPLE.LOCAL");
    keytab.extend(random_bytes(15, 51));
    assert!(
        !body(
            &e,
            format!(r#"{{"keytab_b64": "{}"}}"#, STANDARD.encode(&keytab)).as_bytes()
        )
        .is_clean()
    );
    let utf16: Vec<u8> = format!("token: {GITHUB}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(
        !body(
            &e,
            format!(r#"{{"blob": "{}"}}"#, STANDARD.encode(utf16)).as_bytes()
        )
        .is_clean()
    );
}

#[test]
fn a_client_certificate_in_a_header_is_public_and_data_beside_it_is_not() {
    let e = engine();
    // As nginx's `$ssl_client_escaped_cert` passes it on: percent-escaped PEM.
    let body = "MIIDdjCCAl6gAwIBAgIUQ3Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4wDQYJKoZIhvcNAQEL";
    let cert = format!(
        "-----BEGIN%20CERTIFICATE-----%0A{body}%0A{}%0A-----END%20CERTIFICATE-----%0A",
        body.chars().rev().collect::<String>()
    );
    let out = e.scan_header(all(), "X-Client-Cert", cert.as_bytes());
    assert!(out.is_clean(), "{out:?}");
    // Random data after the certificate, or an armour that opens nothing, is judged.
    let after = format!("{cert};Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4");
    let out = e.scan_header(all(), "X-Client-Cert", after.as_bytes());
    assert!(detectors(&out).contains(&"high-entropy"), "{out:?}");
    let fake = b"CERTIFICATE-----Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4";
    let out = e.scan_header(all(), "X-Client-Cert", fake);
    assert!(detectors(&out).contains(&"high-entropy"), "{out:?}");
}

#[test]
fn a_recaptcha_site_key_is_public_and_other_random_query_values_are_not() {
    let e = engine();
    let page = "https://www.google.com/recaptcha/api.js?render=6LdQ7zAqAAAAAJ3xK9mPw2vRt5YbNc8LhE4fGsUo";
    assert!(e.scan_url(all(), page).is_clean());
    let other = "https://www.google.com/recaptcha/api.js?render=7LdQ7zAqAAAAAJ3xK9mPw2vRt5YbNc8LhE4fGsUo";
    assert!(detectors(&e.scan_url(all(), other)).contains(&"high-entropy"));
}

/// A password as a call's second argument beside its name (PHP's `define`, a settings
/// setter), and the pairs that are not one: a name and a word in a list, a call whose first
/// argument names no password, a label's prose.
#[test]
fn a_password_passed_beside_its_name_in_a_call() {
    let e = engine();
    for call in [
        &b"define( 'DB_PASSWORD', 'KiU9qTCuHStI3yZ4YK' );"[..],
        b"config.set(\"smtp_pass\", \"Rt7mQz2xLp9vWk\")",
    ] {
        let out = body(&e, call);
        assert!(detectors(&out).contains(&"generic-secret"), "{out:?}");
    }
    for benign in [
        &b"fields = ['password', 'PasswordReset2024x']"[..],
        b"define( 'DB_NAME', 'WordPress2024Site' );",
        b"label('password', 'Enter your password')",
    ] {
        let out = body(&e, benign);
        assert!(!detectors(&out).contains(&"generic-secret"), "{out:?}");
    }
}
