//! Checks a candidate must pass beyond its regex: format checksums (GitHub's CRC32,
//! base58check, Luhn, BIP-39), randomness, and the placeholders people type where a secret
//! goes. Documented example values are the opposite: at egress a vendor's example key cannot
//! be told from a leak, so they are findings by default (an operator exempts one by
//! fingerprint or host).

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// GitHub (and npm) tokens: `prefix_` + 30 random base62 + 6 base62 digits of their CRC32.
pub(crate) fn github_crc(token: &[u8]) -> bool {
    let Some(underscore) = token.iter().position(|&b| b == b'_') else {
        return false;
    };
    let body = &token[underscore + 1..];
    if body.len() != 36 {
        return false;
    }
    let (random, check) = body.split_at(30);
    let mut n = crc32fast::hash(random) as u64;
    let mut expect = [b'0'; 6];
    for slot in expect.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    n == 0 && expect == check
}

/// Base58 decoding followed by the double-SHA-256 checksum of the last four bytes.
pub(crate) fn base58check(text: &[u8]) -> bool {
    let Some(bytes) = base58_decode(text) else {
        return false;
    };
    if bytes.len() < 5 {
        return false;
    }
    let (payload, sum) = bytes.split_at(bytes.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    &digest[..4] == sum
}

pub(crate) fn base58_decode(text: &[u8]) -> Option<Vec<u8>> {
    // Big-endian base-256 number built digit by digit; inputs are at most ~112 characters.
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    for &c in text {
        let mut carry = BASE58.iter().position(|&d| d == c)? as u32;
        for byte in out.iter_mut().rev() {
            carry += (*byte as u32) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.iter().take_while(|&&c| c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(out);
    Some(full)
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Looks machine-generated: long enough, several character classes (or hex), and an entropy
/// not far below what a random string of its length over the alphabet it uses would have.
pub(crate) fn looks_random(value: &[u8]) -> bool {
    if value.len() < 16 {
        return false;
    }
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
    let other = value.iter().any(|b| !b.is_ascii_alphanumeric());
    let hex = value.iter().all(u8::is_ascii_hexdigit);
    let classes = lower as u8 + upper as u8 + (digits > 0) as u8;
    if digits == value.len() || (classes < 2 && !hex) {
        return false;
    }
    let alphabet = if hex {
        16.0
    } else {
        26.0 * (lower as u8 + upper as u8) as f64
            + 10.0 * (digits > 0) as u8 as f64
            + 2.0 * other as u8 as f64
    };
    let ceiling = f64::log2(alphabet).min((value.len() as f64).log2());
    entropy(value) >= 0.72 * ceiling
}

/// [`looks_random`], or its longest alphanumeric piece of 20 or more does: a vendor's word
/// ahead of the random part (`key-`, `at_`) dilutes the whole's entropy.
pub(crate) fn looks_random_body(value: &[u8]) -> bool {
    looks_random(value)
        || value
            .split(|b| !b.is_ascii_alphanumeric())
            .max_by_key(|p| p.len())
            .is_some_and(|p| p.len() >= 20 && p.len() < value.len() && looks_random(p))
}

pub(crate) fn mixed_case(value: &[u8]) -> bool {
    value.iter().any(u8::is_ascii_lowercase) && value.iter().any(u8::is_ascii_uppercase)
}

/// Shapes people type as placeholders (`YOUR_KEY`, `${TOKEN}`, `xxxxxxxx`). Never true of a
/// [well-known](is_well_known) value: those are reported. Nor of a look-alike of one, random
/// for 24 characters or more before its `EXAMPLE` (`wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY`):
/// at egress a vendor's example cannot be told from a key that ends in the word.
pub(crate) fn is_placeholder(value: &[u8]) -> bool {
    if is_well_known(value) {
        return false;
    }
    let look_alike = |at: usize| at >= 24 && looks_random(&value[..at]);
    // A run of one character then 40 random ones is a token that opens so (Twitter's app-only
    // bearer tokens start with 21 or more `A`), not filler.
    let random_after = |end: usize| value.len() - end >= 40 && looks_random(&value[end..]);
    has_long_repeat(value).is_some_and(|end| !random_after(end))
        || placeholder_words().find_iter(value).any(|m| {
            !(PLACEHOLDER_WORDS.get(m.pattern().as_usize()) == Some(&"example") && look_alike(m.start()))
        })
}

/// Values vendors publish in their documentation and test suites. They are findings like any
/// other secret, with low confidence; the gates that drop random-looking-enough values never
/// drop these.
pub(crate) fn is_well_known(value: &[u8]) -> bool {
    WELL_KNOWN.iter().any(|d| value == d.as_bytes())
}

fn placeholder_words() -> &'static AhoCorasick {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words: Vec<&str> = PLACEHOLDER_WORDS.to_vec();
        words.extend(["<", "${", "{{"]);
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words)
            .expect("a handful of short literals always compiles") // invariant: fixed input
    })
}

/// Eight or more of the same character in a row (`xxxxxxxx`, `00000000`): where the first
/// such run ends.
fn has_long_repeat(value: &[u8]) -> Option<usize> {
    let mut run = 0;
    let mut found = None;
    for (i, &b) in value.iter().enumerate() {
        run = if i > 0 && value[i - 1] == b { run + 1 } else { 1 };
        if run >= 8 {
            found = Some(i + 1);
        } else if found.is_some() {
            break;
        }
    }
    found
}

const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "redacted",
    // Sentry's and other scrubbers' mark (`[Filtered]`).
    "[filtered]",
    "changeme",
    "your_",
    "your-",
    "yourkey",
    "insert",
    "dummy",
    "xxxxxx",
    "******",
    "....",
];

/// Published example credentials (AWS, Stripe, jwt.io, Slack, Azurite, test card numbers).
const WELL_KNOWN: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "4111111111111111",
    "4242424242424242",
    "5555555555554444",
    "5105105105105100",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "4012888888881881",
    "4000056655665556",
    "5200828282828210",
    "2223003122003222",
    "6011000990139424",
    "4222222222222",
    "378734493671000",
    "3530111333300000",
    "3566002020360505",
    "30569309025904",
    "38520000023237",
    "6200000000000005",
];

/// Luhn checksum over the digits of `text` (separators skipped).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// Issuer prefixes of the major card networks, and their lengths.
pub(crate) fn card_network(digits: &[u8]) -> bool {
    let n = digits.len();
    let prefix = |k: usize| -> u32 {
        digits[..k.min(n)]
            .iter()
            .fold(0, |acc, d| acc * 10 + (d - b'0') as u32)
    };
    // Maestro's issuer ranges (`5018`, `5020`, `5038`, `5893`, `6304`, `6759`, `676x`),
    // 13 to 19 digits.
    let maestro =
        matches!(prefix(4), 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763) && (13..=19).contains(&n);
    if maestro {
        return true;
    }
    match digits.first() {
        Some(b'4') => matches!(n, 13 | 16 | 19),
        Some(b'5') => (51..=55).contains(&prefix(2)) && n == 16,
        // Mir (`2200`–`2204`), 16 to 19 digits.
        Some(b'2') if (2200..=2204).contains(&prefix(4)) => (16..=19).contains(&n),
        Some(b'2') => (2221..=2720).contains(&prefix(4)) && n == 16,
        Some(b'3') if matches!(prefix(2), 34 | 37) => n == 15,
        // JCB, then Diners Club.
        Some(b'3') if (3528..=3589).contains(&prefix(4)) => (16..=19).contains(&n),
        Some(b'3') => {
            (matches!(prefix(2), 36 | 38 | 39) || (300..=305).contains(&prefix(3))) && (14..=19).contains(&n)
        }
        // Discover, then UnionPay.
        Some(b'6') if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => {
            (16..=19).contains(&n)
        }
        // UnionPay, then RuPay (`60`, `6521`, `6522`).
        Some(b'6') => (prefix(2) == 62 && (16..=19).contains(&n)) || (prefix(2) == 60 && n == 16),
        // RuPay and UnionPay's newer `81`/`82` ranges; Troy (`9792`).
        Some(b'8') => matches!(prefix(2), 81 | 82) && n == 16,
        Some(b'9') => prefix(4) == 9792 && n == 16,
        _ => false,
    }
}

static BIP39: &str = include_str!("bip39-english.txt");

/// The BIP-39 English word list, in order (index = 11-bit value).
pub(crate) fn bip39_words() -> Vec<&'static str> {
    BIP39.lines().collect()
}

/// Whether a sequence of word indices (12, 15, 18, 21 or 24 words) carries a valid BIP-39
/// checksum.
pub(crate) fn bip39_checksum(indices: &[u16]) -> bool {
    let words = indices.len();
    if !matches!(words, 12 | 15 | 18 | 21 | 24) {
        return false;
    }
    let total_bits = words * 11;
    let check_bits = total_bits / 33;
    let entropy_bits = total_bits - check_bits;
    let mut bits = Vec::with_capacity(total_bits);
    for &i in indices {
        for k in (0..11).rev() {
            bits.push((i >> k) & 1 == 1);
        }
    }
    let entropy: Vec<u8> = bits[..entropy_bits]
        .chunks(8)
        .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | b as u8))
        .collect();
    let digest = Sha256::digest(&entropy);
    (0..check_bits).all(|k| ((digest[k / 8] >> (7 - k % 8)) & 1 == 1) == bits[entropy_bits + k])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_checksum_accepts_valid_and_rejects_one_changed_character() {
        assert!(github_crc(b"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"));
        assert!(!github_crc(b"ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IM"));
        assert!(!github_crc(b"ghp_Ly9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL"));
    }

    #[test]
    fn base58check_detects_corruption() {
        let wif = crate::detect::testkeys::wif();
        assert!(base58check(wif.as_bytes()));
        let mut bad = wif.into_bytes();
        bad[10] = if bad[10] == b'z' { b'y' } else { b'z' };
        assert!(!base58check(&bad));
        assert!(!base58check(b"0OIl"));
    }

    #[test]
    fn luhn_and_networks() {
        assert!(luhn(b"4539979262243931") && card_network(b"4539979262243931"));
        assert!(!luhn(b"4539979262243932"));
        assert!(!card_network(b"1234567890123452"));
    }

    #[test]
    fn randomness_separates_tokens_from_words() {
        assert!(looks_random(b"Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3"));
        assert!(looks_random(b"f3a9c1e7b5d28f4a6c0e9b1d7f3a5c8e"));
        assert!(!looks_random(b"thisisnotarealsecret"));
        assert!(!looks_random(b"12345678901234567890"));
        assert!(!looks_random(b"aaaaaaaaaaaaaaaaaaaa"));
    }

    #[test]
    fn bip39_list_and_checksum() {
        let words = bip39_words();
        assert_eq!(words.len(), 2048);
        let (phrase, _) = crate::detect::testkeys::seed_phrases(12);
        let idx: Vec<u16> = phrase
            .split(' ')
            .map(|w| words.iter().position(|x| *x == w).expect("in list") as u16)
            .collect();
        assert!(bip39_checksum(&idx));
        // The last word's low 4 bits are the checksum (for 12 words): flipping one of them
        // leaves the entropy as it was, so the checksum can only fail. (Adding 1 instead
        // carried into the entropy one time in 16, and the new checksum could then match.)
        let mut bad = idx.clone();
        bad[11] ^= 1;
        assert!(!bip39_checksum(&bad));
    }
}
