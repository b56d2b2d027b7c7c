//! Base64 (standard and URL-safe, padded or not, at any alignment inside a run), hex (plain
//! or with `:`/`-`/space delimiters), and base32 (for DNS labels).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::is_texty;
use super::percent::hex_value;

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// How many characters the probe decodes before committing to a full decode.
const PROBE: usize = 48;

/// Decodes a run as base64 if some alignment of it yields text, compressed data or a private
/// key's binary encoding: a run may
/// carry a prefix that is not part of the encoding (`/upload/aGVsbG8...`).
pub(crate) fn decode_run(run: &[u8]) -> Option<Vec<u8>> {
    let body = trim_padding(run);
    // 20 characters carry 15 bytes; anything shorter holds no secret worth decoding. Runs of
    // hex digits and dashes (UUIDs, hashes) are hex, not base64.
    if body.len() < 20 || body.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-') {
        return None;
    }
    // Each alignment is probed on the stack; only one that decodes to something allocates.
    let skip = (0..4).find(|&skip| probe_decodes(&body[skip..]))?;
    let normal: Vec<u8> = body[skip..].iter().map(|&b| standard(b)).collect();
    let usable = normal.len() - normal.len() % 4
        + if normal.len() % 4 >= 2 {
            normal.len() % 4
        } else {
            0
        };
    LENIENT.decode(&normal[..usable]).ok()
}

/// Whether the first [`PROBE`] characters decode to text, compressed data or the opening of a
/// private key.
fn probe_decodes(aligned: &[u8]) -> bool {
    let n = aligned.len().min(PROBE) / 4 * 4;
    let mut chars = [0u8; PROBE];
    for (c, &b) in chars.iter_mut().zip(&aligned[..n]) {
        *c = standard(b);
    }
    let mut head = [0u8; PROBE / 4 * 3];
    match LENIENT.decode_slice(&chars[..n], &mut head) {
        Ok(len) => {
            is_texty(&head[..len], 75)
                || super::unicode::utf16_order(&head[..len]).is_some()
                || super::zip::is_zip(&head[..len])
                || super::sniff_compression(&head[..len]).is_some()
                || super::super::keys::binary_private_key(&head[..len])
        }
        Err(_) => false,
    }
}

/// The URL-safe alphabet's two characters in the standard alphabet's places.
fn standard(b: u8) -> u8 {
    match b {
        b'-' => b'+',
        b'_' => b'/',
        other => other,
    }
}

fn trim_padding(run: &[u8]) -> &[u8] {
    let end = run.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    &run[..end]
}

/// A whole run decoded as base64 (either alphabet, padded or not) from its first character,
/// whatever it decodes to: for callers that recognise the bytes themselves.
pub(crate) fn decode_whole(run: &[u8]) -> Option<Vec<u8>> {
    let normal: Vec<u8> = trim_padding(run).iter().map(|&b| standard(b)).collect();
    LENIENT.decode(&normal).ok()
}

/// Plain hex of at least 12 bytes, optionally behind `0x`.
pub(crate) fn decode_hex_run(run: &[u8]) -> Option<Vec<u8>> {
    let digits = run.strip_prefix(b"0x").unwrap_or(run);
    if digits.len() < 24 || digits.len() % 2 != 0 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    pairs(digits.chunks(2))
}

/// Hex pairs joined by one delimiter (`de:ad:be:ef`, `de-ad-be-ef`, `de ad be ef`).
pub(crate) fn decode_delimited_hex(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 47 || (data.len() + 1) % 3 != 0 {
        return None;
    }
    let delimiter = data[2];
    if !matches!(delimiter, b':' | b'-' | b' ') {
        return None;
    }
    if data.iter().skip(2).step_by(3).any(|&b| b != delimiter) {
        return None;
    }
    pairs(data.chunks(3).map(|c| &c[..2]))
}

fn pairs<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    chunks
        .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
        .collect()
}

/// RFC 4648 base32 without padding, either case (DNS labels are case-insensitive).
pub(crate) fn decode_base32(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = match c.to_ascii_lowercase() {
            b'a'..=b'z' => c.to_ascii_lowercase() - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        } as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A run of RFC 4648 base32 in one case (`IFLVGX2B…`, `d6fqqaaa…`), 24 characters or more
/// with its padding: base64's alphabet holds it, so it is tried when base64 gives nothing.
pub(crate) fn decode_base32_run(run: &[u8]) -> Option<Vec<u8>> {
    let body = trim_padding(run);
    let upper = body
        .iter()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(b));
    let lower = body
        .iter()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(b));
    if body.len() < 24 || !(upper || lower) {
        return None;
    }
    decode_base32(body)
}

/// Letters rotated by thirteen places (ROT13), everything else as it is.
pub(crate) fn rot13(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            other => other,
        })
        .collect()
}

/// Text from a run decoded as hex or base64, whichever applies.
pub(crate) fn is_meaningful(decoded: &[u8]) -> bool {
    is_texty(decoded, 85) || super::sniff_compression(decoded).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_both_alphabets_and_any_alignment() {
        let text = b"the quick brown fox jumps over the lazy dog";
        let std = base64::engine::general_purpose::STANDARD.encode(text);
        assert_eq!(decode_run(std.as_bytes()).as_deref(), Some(&text[..]));
        let url =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"\xfb\xff~~ text text text text text");
        assert!(decode_run(url.as_bytes()).is_some());
        let prefixed = format!("/upload/{std}");
        let decoded = decode_run(prefixed.as_bytes()).expect("some alignment works");
        assert!(decoded.ends_with(b"lazy dog"));
    }

    #[test]
    fn random_runs_do_not_decode_to_text() {
        assert_eq!(decode_run(b"550e8400-e29b-41d4-a716-446655440000"), None);
        assert_eq!(decode_run(b"Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2"), None);
    }

    #[test]
    fn hex_forms() {
        assert_eq!(
            decode_hex_run(b"68656c6c6f20776f726c642068656c6c6f").as_deref(),
            Some(&b"hello world hello"[..])
        );
        assert_eq!(decode_hex_run(b"abc"), None);
        let delimited = b"68:65:6c:6c:6f:20:77:6f:72:6c:64:20:68:65:6c:6c";
        assert_eq!(
            decode_delimited_hex(delimited).as_deref(),
            Some(&b"hello world hell"[..])
        );
        assert_eq!(
            decode_delimited_hex(b"68:65-6c:6c:6f:20:77:6f:72:6c:64:20:68:65:6c:6c"),
            None
        );
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(
            decode_base32(b"nbswy3dpeb3w64tmmq").as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(decode_base32(b"not base32!"), None);
        let upper = b"NBSWY3DPEB3W64TMMQQGQZLMNRXSA53POJWGI===";
        assert_eq!(
            decode_base32_run(upper).as_deref(),
            Some(&b"hello world hello world"[..])
        );
        // Mixed case is not base32 written by an encoder; short runs carry too little.
        assert_eq!(decode_base32_run(b"NBSWY3DPeb3w64tmmqqgqzlmnrxsa53p"), None);
        assert_eq!(decode_base32_run(b"NBSWY3DPEB3W64TM"), None);
    }

    #[test]
    fn rot13_turns_letters_only() {
        assert_eq!(rot13(b"FGEVCR_XRL=fx_yvir_51"), b"STRIPE_KEY=sk_live_51".to_vec());
    }
}
