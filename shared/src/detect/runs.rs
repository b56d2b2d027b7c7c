//! Byte-level shapes the decoders and shape detectors start from: runs of base64/hex
//! characters long enough to hold a secret, and tokens (stretches between delimiters that no
//! encoded secret contains raw). Both are found without a regex: the run search tests one
//! aligned 8-byte word at a time, because any run of 16 or more covers a whole aligned word.

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

const fn run_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_run_byte(b as u8);
        b += 1;
    }
    table
}

static RUN: [bool; 256] = run_table();

/// Calls `f(start, end)` for each maximal run of [`is_run_byte`] bytes at least `MIN_RUN`
/// long, `end` extended over trailing `=` padding.
pub(crate) fn for_each_run(data: &[u8], mut f: impl FnMut(usize, usize)) {
    for_each_stretch(data, &RUN, MIN_RUN, |start, end| {
        f(start, with_padding(data, end))
    });
}

const fn phrase_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase() || matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\\');
        b += 1;
    }
    table
}

static PHRASE: [bool; 256] = phrase_table();

/// Stretches of lowercase words and whitespace (escaped or not) long enough for a 12-word
/// seed phrase.
pub(crate) fn for_each_phrase_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, &PHRASE, 12 * 4 - 1, f);
}

const fn card_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_digit() || c == b' ' || c == b'-';
        b += 1;
    }
    table
}

static CARD: [bool; 256] = card_table();

/// Stretches of digits, spaces and dashes long enough for a card number of 15 or more digits
/// (13- and 14-digit numbers, no longer issued, are not looked for).
pub(crate) fn for_each_card_stretch(data: &[u8], f: impl FnMut(usize, usize)) {
    for_each_stretch(data, &CARD, 15, f);
}

/// Maximal stretches of `table` bytes at least `min` (>= 15) long. Any such stretch covers a
/// whole aligned 8-byte word, so only those words are tested on the common path.
fn for_each_stretch(data: &[u8], table: &[bool; 256], min: usize, mut f: impl FnMut(usize, usize)) {
    let mut word = 0;
    let mut next_free = 0;
    while word + 8 <= data.len() {
        let w = &data[word..word + 8];
        // Branch-free on the common path: one test per eight bytes.
        let all = table[w[0] as usize]
            & table[w[1] as usize]
            & table[w[2] as usize]
            & table[w[3] as usize]
            & table[w[4] as usize]
            & table[w[5] as usize]
            & table[w[6] as usize]
            & table[w[7] as usize];
        if all && word >= next_free {
            let mut start = word;
            while start > next_free && table[data[start - 1] as usize] {
                start -= 1;
            }
            let mut end = word + 8;
            while end < data.len() && table[data[end] as usize] {
                end += 1;
            }
            next_free = end;
            if end - start >= min {
                f(start, end);
            }
        }
        word += 8;
    }
}

pub(crate) const MIN_RUN: usize = 16;

fn with_padding(data: &[u8], end: usize) -> usize {
    let mut padded = end;
    while padded < data.len() && padded - end < 2 && data[padded] == b'=' {
        padded += 1;
    }
    // `key=value` is not padding: padding is followed by a non-run byte.
    if padded > end && padded < data.len() && RUN[data[padded] as usize] {
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
    fn tokens_stop_at_delimiters() {
        let data = br#"{"k":"ab%41cd","x":1}"#;
        let at = data.iter().position(|&b| b == b'%').expect("has %");
        let (s, e) = token_around(data, at);
        assert_eq!(&data[s..e], b"ab%41cd");
    }
}
