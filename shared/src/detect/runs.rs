//! Byte-level shapes the decoders and shape detectors start from: runs of base64/hex
//! characters long enough to hold a secret, and tokens (stretches between delimiters that no
//! encoded secret contains raw). Both are found without a regex: stretches of a byte class
//! come from bit masks of 64 bytes at a time, so short words cost no per-byte work.

/// Base64 (standard and URL-safe) and hex characters; `=` padding is handled separately.
pub(crate) const fn is_run_byte(b: u8) -> bool {
    let lower = b | 0x20;
    lower.wrapping_sub(b'a') < 26
        || b.wrapping_sub(b'0') < 10
        || b == b'+'
        || b == b'/'
        || b == b'-'
        || b == b'_'
}

/// Calls `f(start, end)` for each maximal run of [`is_run_byte`] bytes at least `MIN_RUN`
/// long, `end` extended over trailing `=` padding.
pub(crate) fn for_each_run(data: &[u8], mut f: impl FnMut(usize, usize)) {
    for_each_stretch(data, is_run_byte, MIN_RUN, |start, end| {
        f(start, with_padding(data, end))
    });
}

const fn is_phrase_byte(b: u8) -> bool {
    // `+` is a space in a form body (`release+rural+pencil+...`).
    b.is_ascii_lowercase() || matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\\' | b'+')
}

/// Stretches of lowercase words and whitespace (escaped or not) long enough for a 12-word
/// seed phrase.
pub(crate) fn for_each_phrase_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, is_phrase_byte, 12 * 4 - 1, f);
}

const fn is_card_byte(b: u8) -> bool {
    // `+` is a space in a form body (`4111+1111+...`); `.` groups some printed numbers.
    b.is_ascii_digit() || b == b' ' || b == b'-' || b == b'+' || b == b'.'
}

/// Stretches of digits, spaces and dashes long enough for a card number of 13 or more digits
/// (13-digit Visa and Maestro numbers are still in circulation and in test suites).
pub(crate) fn for_each_card_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, is_card_byte, 13, f);
}

const fn is_iban_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'+'
}

/// Stretches of capitals, digits and spaces long enough for the shortest IBAN (15, Norway).
pub(crate) fn for_each_iban_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, is_iban_byte, 15, f);
}

const fn is_hex_list_byte(b: u8) -> bool {
    b.is_ascii_hexdigit()
        || matches!(
            b,
            b'-' | b':' | b' ' | b',' | b'+' | b'\n' | b'\r' | b'\\' | b'x' | b'X'
        )
}

/// Stretches of hex digits, delimiters and `\x`/`0x` prefixes long enough for eight
/// delimited bytes (`de:ad:be:ef:...`, `\xde\xad...`, `0xde, 0xad, ...`).
pub(crate) fn for_each_hex_list_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, is_hex_list_byte, 8 * 3 - 1, f);
}

/// Stretches of hex digits joined by `.` or `/` (`31.32.2e.30…`, `/00/51/13/…`), a pass of
/// their own: in the class above, numbers and paths would join the other stretches and cost
/// every one of them a parse.
pub(crate) fn for_each_dotted_hex_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(
        data,
        |b| b.is_ascii_hexdigit() || b == b'.' || b == b'/',
        8 * 3 - 1,
        f,
    );
}

/// Maximal stretches of `class` bytes at least `min` (1..=64) long. The class of 64 bytes at a
/// time becomes a bit mask (a loop the compiler vectorises, and a multiply that gathers eight
/// flags into a byte); ANDing the mask with shifted copies of itself, across the junction with
/// the next block, leaves a bit wherever `min` class bytes start. Blocks without one (ordinary
/// prose: words are short) cost the mask and nothing else; bytes are looked at one at a time
/// only inside the stretches found.
fn for_each_stretch(
    data: &[u8],
    class: impl Fn(u8) -> bool + Copy,
    min: usize,
    mut f: impl FnMut(usize, usize),
) {
    debug_assert!((1..=64).contains(&min));
    let blocks = data.len().div_ceil(64);
    let mut next_free = 0;
    let mut current = class_mask(data, 0, class);
    for block in 0..blocks {
        let base = block * 64;
        let next = class_mask(data, base + 64, class);
        let mut starts = window_starts(current, next, min) & not_below(next_free, base);
        while starts != 0 {
            let at = base + starts.trailing_zeros() as usize;
            let mut start = at;
            while start > next_free && class(data[start - 1]) {
                start -= 1;
            }
            let mut end = at + min;
            while end < data.len() && class(data[end]) {
                end += 1;
            }
            f(start, end);
            next_free = end;
            starts &= not_below(end, base);
        }
        current = next;
    }
}

/// Bit `i` set when `data[from + i]` is a `class` byte (bits past the end are clear).
#[inline]
fn class_mask(data: &[u8], from: usize, class: impl Fn(u8) -> bool) -> u64 {
    let Some(block) = data.get(from..) else {
        return 0;
    };
    let block = &block[..block.len().min(64)];
    let mut flags = [0u8; 64];
    for (flag, &b) in flags.iter_mut().zip(block) {
        *flag = class(b) as u8;
    }
    let mut mask = 0u64;
    for (k, group) in flags.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(group);
        // Each byte is 0 or 1; the multiply moves byte j's bit to bit 56 + j, without carries.
        let gathered = u64::from_le_bytes(word).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= gathered << (8 * k);
    }
    mask
}

/// Bits of the current block at which `len` set bits start, the next block's bits continuing it.
#[inline]
fn window_starts(current: u64, next: u64, len: usize) -> u64 {
    let mut bits = current as u128 | (next as u128) << 64;
    let mut have = 1;
    while have < len {
        let step = (len - have).min(have);
        bits &= bits >> step;
        have += step;
    }
    bits as u64
}

/// The bits of a block starting at `base` that stand for offsets at or past `offset`.
#[inline]
fn not_below(offset: usize, base: usize) -> u64 {
    match offset.saturating_sub(base) {
        0 => u64::MAX,
        n if n >= 64 => 0,
        n => u64::MAX << n,
    }
}

pub(crate) const MIN_RUN: usize = 16;

fn with_padding(data: &[u8], end: usize) -> usize {
    let mut padded = end;
    while padded < data.len() && padded - end < 2 && data[padded] == b'=' {
        padded += 1;
    }
    // `key=value` is not padding: padding is followed by a non-run byte.
    if padded > end && padded < data.len() && is_run_byte(data[padded]) {
        return end;
    }
    padded
}

/// Bytes that end a token. None occurs raw inside an encoded secret of any supported form.
#[inline]
pub(crate) fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b'"'
            | b'\''
            | b'<'
            | b'>'
            | b'&'
            | b','
            | b';'
            | b'{'
            | b'}'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'`'
            | b'|'
    )
}

/// The token around `at`: from just after the previous delimiter to the next one.
pub(crate) fn token_around(data: &[u8], at: usize) -> (usize, usize) {
    let start = data[..at]
        .iter()
        .rposition(|&b| is_delimiter(b))
        .map_or(0, |p| p + 1);
    let end = data[at..]
        .iter()
        .position(|&b| is_delimiter(b))
        .map_or(data.len(), |p| at + p);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(data: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for_each_run(data, |s, e| out.push((s, e)));
        out
    }

    #[test]
    fn finds_runs_of_sixteen_or_more_at_any_alignment() {
        for pad in 0..9 {
            let mut text = vec![b' '; pad];
            text.extend_from_slice(b"abcdefghijklmnop");
            text.extend_from_slice(b" tail");
            assert_eq!(runs(&text), vec![(pad, pad + 16)], "pad {pad}");
        }
    }

    #[test]
    fn ignores_short_runs_and_keeps_padding() {
        assert!(runs(b"short words only, nothing long here at all").is_empty());
        assert!(runs(b"abcdefghijklmno fifteen").is_empty());
        let data = b"x aGVsbG8gd29ybGQgaGVsbG8== y";
        assert_eq!(runs(data), vec![(2, 27)]);
        let assign = b"aGVsbG8gd29ybGQgaGVsbG8=next";
        assert_eq!(runs(assign), vec![(0, 23)]);
    }

    #[test]
    fn every_run_matches_a_naive_search() {
        let data = b"ab+/cd-_ef0123456789 ghijklmnopqrstuvwxyzABCD, q=ZZZZZZZZZZZZZZZZZZZZ;end";
        let mut naive = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let s = i;
            while i < data.len() && is_run_byte(data[i]) {
                i += 1;
            }
            if i - s >= MIN_RUN {
                naive.push((s, i));
            }
            i += 1;
        }
        assert_eq!(runs(data), naive);
    }

    #[test]
    fn block_search_agrees_with_a_naive_one_on_random_text() {
        let alphabet = b"aZ09+/-_ .%=\n";
        let mut state = 99u64;
        for trial in 0..300 {
            let len = (trial * 7) % 700;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // Long stretches of one class now and then.
                    let pick = (state >> 33) as usize;
                    if pick % 5 == 0 { b' ' } else { alphabet[pick % 4] }
                })
                .collect();
            let mut naive = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let s = i;
                while i < data.len() && is_run_byte(data[i]) {
                    i += 1;
                }
                if i - s >= MIN_RUN {
                    naive.push((s, with_padding(&data, i)));
                }
                i += 1;
            }
            assert_eq!(runs(&data), naive, "trial {trial}");
        }
    }

    #[test]
    fn tokens_stop_at_delimiters() {
        let data = br#"{"k":"ab%41cd","x":1}"#;
        let at = data.iter().position(|&b| b == b'%').expect("has %");
        let (s, e) = token_around(data, at);
        assert_eq!(&data[s..e], b"ab%41cd");
    }
}
