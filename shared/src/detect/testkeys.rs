//! Key material for tests, generated when the tests run so that no private key, wallet key or
//! seed phrase is ever committed. Built from random bytes with the formats' own encodings
//! (PEM framing, Base58Check with a double SHA-256, BIP-39 with its SHA-256 checksum), never
//! with the detection code under test.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Fresh random bytes (std's per-process random hash keys, stretched with a counter).
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let state = RandomState::new();
    (0..len.div_ceil(8))
        .flat_map(|i| {
            let mut h = state.build_hasher();
            h.write_usize(i);
            h.finish().to_le_bytes()
        })
        .take(len)
        .collect()
}

/// `-----BEGIN {label}-----` framing around random base64, as private keys are written.
pub(crate) fn pem(label: &str) -> String {
    let body = STANDARD.encode(random_bytes(48 * 6));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let dashes = "-----";
    format!(
        "{dashes}BEGIN {label}{dashes}\n{}\n{dashes}END {label}{dashes}\n",
        lines.join("\n")
    )
}

/// The label of a private key block of `kind` (`RSA`, `EC`, `OPENSSH`, or none).
pub(crate) fn private_label(kind: &str) -> String {
    let key = ["PRIVATE", "KEY"].join(" ");
    if kind.is_empty() {
        key
    } else {
        format!("{kind} {key}")
    }
}

fn base58(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in data {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n(b'1', zeros)
        .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize]))
        .map(char::from)
        .collect()
}

fn base58check(payload: &[u8]) -> String {
    let check = Sha256::digest(Sha256::digest(payload));
    let mut data = payload.to_vec();
    data.extend_from_slice(&check[..4]);
    base58(&data)
}

/// A compressed-key WIF (mainnet): `K…` or `L…`, 52 characters.
pub(crate) fn wif() -> String {
    let mut payload = vec![0x80];
    payload.extend(random_bytes(32));
    payload.push(0x01);
    base58check(&payload)
}

/// A BIP-32 extended private key (`xprv…`) at depth 0.
pub(crate) fn xprv() -> String {
    let mut payload = vec![0x04, 0x88, 0xAD, 0xE4];
    payload.extend([0u8; 9]);
    payload.extend(random_bytes(32));
    payload.push(0);
    payload.extend(random_bytes(32));
    base58check(&payload)
}

/// The same text with its last character changed, which breaks a checksum.
pub(crate) fn corrupt_last(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = if *last == 'z' { 'y' } else { 'z' };
    }
    chars.into_iter().collect()
}

/// A valid BIP-39 phrase of `words` words (12 or 24), and one whose last word breaks its
/// checksum.
pub(crate) fn seed_phrases(words: usize) -> (String, String) {
    let list: Vec<&str> = include_str!("rules/bip39-english.txt")
        .lines()
        .map(str::trim)
        .collect();
    let entropy_bits = words * 11 * 32 / 33;
    let entropy = random_bytes(entropy_bits / 8);
    let check = Sha256::digest(&entropy)[0];
    let mut bits: Vec<bool> = entropy
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
        .collect();
    bits.extend((0..words * 11 - entropy_bits).map(|i| check >> (7 - i) & 1 == 1));
    let index = |chunk: &[bool]| chunk.iter().fold(0usize, |acc, &bit| acc << 1 | usize::from(bit));
    let mut indices: Vec<usize> = bits.chunks(11).map(index).collect();
    let valid = indices.iter().map(|&i| list[i]).collect::<Vec<_>>().join(" ");
    // Flipping the lowest bit of the last word flips a checksum bit.
    if let Some(last) = indices.last_mut() {
        *last ^= 1;
    }
    let broken = indices.iter().map(|&i| list[i]).collect::<Vec<_>>().join(" ");
    (valid, broken)
}

/// Examples for the detectors whose test material is key material: (detector, must match,
/// must not match), generated now.
pub(crate) fn key_examples() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let (phrase, broken_phrase) = seed_phrases(12);
    let (long_phrase, _) = seed_phrases(24);
    let wif = wif();
    let xprv = xprv();
    let rsa = pem(&private_label("RSA"));
    let openssh = pem(&private_label("OPENSSH"));
    let public = pem("PUBLIC KEY");
    let dashes = "-----";
    let elided = format!(
        "{dashes}BEGIN {label}{dashes}\n...\n{dashes}END {label}{dashes}",
        label = private_label("RSA")
    );
    vec![
        (
            "private-key",
            vec![rsa, serde_json::json!({ "key": openssh }).to_string()],
            vec![public, elided],
        ),
        (
            "crypto-private-key",
            // `xprv` is an unmistakable prefix: a broken checksum only lowers confidence. WIF
            // keys have no prefix, so theirs still decides.
            vec![
                xprv.clone(),
                wif.clone(),
                format!("wif: {wif}"),
                corrupt_last(&xprv),
            ],
            vec![corrupt_last(&wif), format!("{}", &xprv[..60])],
        ),
        (
            "seed-phrase",
            vec![
                phrase.clone(),
                long_phrase,
                serde_json::json!({ "m": format!("words:\n{phrase}\n") }).to_string(),
                // A broken checksum lowers the confidence only.
                broken_phrase,
            ],
            // Eleven words; twelve with one that is not on the list.
            vec![
                phrase.split(' ').take(11).collect::<Vec<_>>().join(" "),
                phrase
                    .split(' ')
                    .enumerate()
                    .map(|(i, w)| if i == 5 { "tollgate" } else { w })
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
        ),
    ]
}
