//! Financial identifiers, each an optional detector a policy switches on: IBANs (ISO 13616
//! length per country and the mod-97 check), Bitcoin addresses (base58check with a mainnet or
//! testnet version byte; bech32 for witness version 0 and bech32m for later versions, BIP-173
//! and BIP-350) and Ethereum addresses (`0x` and 40 hex digits; EIP-55's checksum when the
//! case is mixed). These have no vendor prefix, so their checks decide.

use tiny_keccak::{Hasher, Keccak};

use super::rules::checks::base58_decode;

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == country)
        .map(|(_, n)| *n)
}

/// ISO 7064 mod 97-10 over the IBAN with its first four characters moved to the end.
fn iban_mod97(iban: &[u8]) -> bool {
    let rotated = iban[4..].iter().chain(&iban[..4]);
    let mut rem = 0u32;
    for &c in rotated {
        let value = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return false,
        };
        rem = if value >= 10 {
            (rem * 100 + value) % 97
        } else {
            (rem * 10 + value) % 97
        };
    }
    rem == 1
}

/// IBANs in `data`, written whole or in groups of four split by single spaces (or `+`). Calls
/// `f(start, compact)` for each, with the IBAN's characters without spaces.
pub(crate) fn ibans(data: &[u8], mut f: impl FnMut(usize, &[u8])) {
    let mut i = 0;
    while i + 15 <= data.len() {
        let starts = data[i].is_ascii_uppercase()
            && data[i + 1].is_ascii_uppercase()
            && data[i + 2].is_ascii_digit()
            && data[i + 3].is_ascii_digit()
            && (i == 0 || !data[i - 1].is_ascii_alphanumeric());
        let length = if starts {
            iban_length(&data[i..i + 2])
        } else {
            None
        };
        let Some(length) = length else {
            i += 1;
            continue;
        };
        let (compact, end) = collect_iban(&data[i..], length);
        let after = data.get(i + end).copied();
        let boundary = after.is_none_or(|b| !b.is_ascii_alphanumeric());
        if compact.len() == length && boundary && iban_mod97(&compact) {
            f(i, &compact);
            i += end;
        } else {
            i += 1;
        }
    }
}

/// Up to `length` IBAN characters from the start of `text`, skipping single spaces between
/// groups; and how far into `text` they reached.
fn collect_iban(text: &[u8], length: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(length);
    let mut j = 0;
    while j < text.len() && out.len() < length {
        match text[j] {
            b'A'..=b'Z' | b'0'..=b'9' => out.push(text[j]),
            // `+` is a space in a form body.
            b' ' | b'+' if out.len() % 4 == 0 && text.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) => {}
            _ => break,
        }
        j += 1;
    }
    (out, j)
}

/// A legacy (P2PKH, P2SH) Bitcoin address: base58check, 25 bytes, mainnet or testnet version.
pub(crate) fn bitcoin_base58(piece: &[u8]) -> bool {
    if !(26..=35).contains(&piece.len()) || !matches!(piece[0], b'1' | b'3' | b'm' | b'n' | b'2') {
        return false;
    }
    let Some(bytes) = base58_decode(piece) else {
        return false;
    };
    bytes.len() == 25
        && matches!(bytes[0], 0x00 | 0x05 | 0x6f | 0xc4)
        && super::rules::checks::base58check(piece)
}

const BECH32_CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST: u32 = 1;
const BECH32M_CONST: u32 = 0x2bc8_30a3;

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A segwit address (`bc1…`, `tb1…`, `bcrt1…`), one case throughout: bech32 for witness
/// version 0, bech32m for versions 1 to 16, and a program length the version allows.
pub(crate) fn bitcoin_segwit(piece: &[u8]) -> bool {
    if !(14..=90).contains(&piece.len()) {
        return false;
    }
    let lower = piece.to_ascii_lowercase();
    if lower != piece && piece.to_ascii_uppercase() != piece {
        return false;
    }
    let Some(sep) = lower.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if !matches!(hrp, b"bc" | b"tb" | b"bcrt") || data.len() < 7 {
        return false;
    }
    let values: Option<Vec<u8>> = data
        .iter()
        .map(|c| BECH32_CHARSET.iter().position(|x| x == c).map(|p| p as u8))
        .collect();
    let Some(values) = values else {
        return false;
    };
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.iter().map(|c| c & 31))
        .chain(values.iter().copied());
    let version = values[0];
    let constant = if version == 0 { BECH32_CONST } else { BECH32M_CONST };
    let program_bytes = (values.len() - 7) * 5 / 8;
    let length_ok = match version {
        0 => matches!(program_bytes, 20 | 32),
        1..=16 => (2..=40).contains(&program_bytes),
        _ => false,
    };
    length_ok && bech32_polymod(expanded) == constant
}

/// `0x` and 40 hex digits. Mixed case must carry EIP-55's checksum; one case throughout is an
/// unchecksummed address. Returns whether it is an address, and whether a checksum held.
pub(crate) fn ethereum(piece: &[u8]) -> Option<bool> {
    let hex = piece.strip_prefix(b"0x")?;
    if hex.len() != 40 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let upper = hex.iter().any(u8::is_ascii_uppercase);
    let lower = hex.iter().any(u8::is_ascii_lowercase);
    if !(upper && lower) {
        return Some(false);
    }
    eip55(hex).then_some(true)
}

fn eip55(hex: &[u8]) -> bool {
    let lower = hex.to_ascii_lowercase();
    let mut hash = [0u8; 32];
    let mut keccak = Keccak::v256();
    keccak.update(&lower);
    keccak.finalize(&mut hash);
    hex.iter().enumerate().all(|(i, &c)| {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        !c.is_ascii_alphabetic() || c.is_ascii_uppercase() == (nibble >= 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found_ibans(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        ibans(text.as_bytes(), |_, iban| {
            out.push(String::from_utf8_lossy(iban).into_owned())
        });
        out
    }

    #[test]
    fn ibans_whole_and_grouped_with_their_check_digits() {
        assert_eq!(
            found_ibans("iban=DE89370400440532013000&x"),
            ["DE89370400440532013000"]
        );
        assert_eq!(
            found_ibans("GB82 WEST 1234 5698 7654 32"),
            ["GB82WEST12345698765432"]
        );
        assert_eq!(found_ibans("NO9386011117947."), ["NO9386011117947"]);
        // One check digit off, a length the country does not have, glued to a word.
        assert!(found_ibans("DE88370400440532013000").is_empty());
        assert!(found_ibans("DE8937040044053201300").is_empty());
        assert!(found_ibans("XDE89370400440532013000").is_empty());
    }

    #[test]
    fn bitcoin_addresses_in_each_encoding() {
        assert!(bitcoin_base58(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(bitcoin_base58(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!bitcoin_base58(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));
        assert!(bitcoin_segwit(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
        assert!(bitcoin_segwit(b"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"));
        assert!(bitcoin_segwit(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        // A v0 program under bech32m, a v1 program under bech32, one character changed.
        assert!(!bitcoin_segwit(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh"));
        assert!(!bitcoin_segwit(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"
        ));
        assert!(!bitcoin_segwit(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"));
    }

    #[test]
    fn ethereum_addresses_and_their_checksum() {
        assert_eq!(
            ethereum(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            Some(true)
        );
        assert_eq!(
            ethereum(b"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
            Some(true)
        );
        assert_eq!(
            ethereum(b"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            Some(false)
        );
        assert_eq!(ethereum(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), None);
        assert_eq!(ethereum(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"), None);
    }
}

/// Whether an SSN's area, group and serial are ones the SSA issues: the area not 000, 666 or
/// 9xx, the group not 00, the serial not 0000.
pub(crate) fn ssn_issuable(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    area != b"000" && area != b"666" && area[0] != b'9' && group != b"00" && serial != b"0000"
}

/// US Social Security numbers (`AAA-GG-SSSS`) in text that names one (`ssn`, `social
/// security`, in any case; a CSV column, a form field, a sentence): the area is not 000, 666 or
/// 9xx, the group not 00, the serial not 0000 (the SSA's published rules), and no digit or `-`
/// continues it (a phone number has 3-3-4). Calls `f(start, end)` for each.
pub(crate) fn us_ssns(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static NAMES: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["ssn", "social security", "social_security"])
            .expect("three literals always compile") // invariant: fixed input
    });
    if !names.is_match(data) {
        return;
    }
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    for at in memchr::memchr_iter(b'-', data) {
        // `at` is the first dash: three digits before it, `GG-SSSS` after.
        let (Some(start), end) = (at.checked_sub(3), at + 8) else {
            continue;
        };
        let Some(shape) = data.get(start..end) else {
            continue;
        };
        if !(digits(&shape[..3]) && digits(&shape[4..6]) && shape[6] == b'-' && digits(&shape[7..])) {
            continue;
        }
        let joined = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii_digit() || b == b'-');
        if joined(start.checked_sub(1).and_then(|i| data.get(i))) || joined(data.get(end)) {
            continue;
        }
        if !ssn_issuable(&shape[..3], &shape[4..6], &shape[7..]) {
            continue;
        }
        f(start, end);
    }
}

#[cfg(test)]
mod ssn_tests {
    use super::us_ssns;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        us_ssns(text.as_bytes(), |s, e| out.push(&text[s..e]));
        out
    }

    #[test]
    fn social_security_numbers_where_the_text_names_one() {
        assert_eq!(
            found("name=Hiro+Yilmaz&ssn=382-85-8666&dob=1972-07-13"),
            ["382-85-8666"]
        );
        assert_eq!(
            found("employee_id,first,last,dob,ssn\n6580,Vera,Alvarez,1979-04-16,470-19-5546\n"),
            ["470-19-5546"]
        );
        // Not named; a phone number; the SSA's never-issued areas, groups and serials.
        assert!(found("order 382-85-8666 shipped").is_empty());
        assert!(found("ssn field, call 382-855-8666").is_empty());
        assert!(found("SSN: 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000").is_empty());
    }
}
