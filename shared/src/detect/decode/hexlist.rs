//! Hex bytes written one at a time with a delimiter: `de-ad-be-ef`, `de:ad:be:ef`,
//! `de ad be ef`, `de,ad,be,ef`, `de, ad`, `\xde\xad\xbe\xef`, `0xde,0xad`, `0xde 0xad`. A
//! list is one prefix (none, `\x` or `0x`) and one delimiter throughout, each byte exactly two
//! hex digits, not glued to more hex on either side (so UUIDs and hashes are not lists).

use super::percent::hex_value;

/// One list of delimited hex bytes found in the scanned data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HexList {
    pub start: usize,
    pub end: usize,
    pub bytes: Vec<u8>,
    pub delimiter: &'static [u8],
    /// Each byte written behind `\x` or `0x`.
    pub prefixed: bool,
}

/// `+` is a space in a form-encoded query (`?d=69+2c+43…`); `.` and `/` join bytes as a
/// version or a path would (`31.32.2e`, `/00/51/13/…`).
const DELIMITERS: &[&[u8]] = &[b", ", b",", b" ", b":", b"-", b"+", b".", b"/", b""];

/// Calls `f` for each list of at least `min` bytes.
pub(crate) fn hex_lists(data: &[u8], min: usize, mut f: impl FnMut(HexList)) {
    let mut i = 0;
    while i + 2 <= data.len() {
        match list_at(data, i).filter(|l| l.bytes.len() >= min) {
            Some(list) => {
                i = list.end;
                f(list);
            }
            None => i += 1,
        }
    }
}

fn prefix_at(data: &[u8], i: usize) -> Option<&'static [u8]> {
    let rest = &data[i..];
    if rest.starts_with(b"\\x") || rest.starts_with(b"\\X") {
        Some(b"\\x")
    } else if rest.starts_with(b"0x") || rest.starts_with(b"0X") {
        Some(b"0x")
    } else {
        None
    }
}

/// The byte written at `i` (after the prefix, if any), when two hex digits follow.
fn byte_at(data: &[u8], i: usize) -> Option<u8> {
    let (h, l) = (*data.get(i)?, *data.get(i + 1)?);
    Some(hex_value(h)? << 4 | hex_value(l)?)
}

fn list_at(data: &[u8], start: usize) -> Option<HexList> {
    if start > 0 && (data[start - 1].is_ascii_hexdigit() || data[start - 1] == b'\\') {
        return None;
    }
    let prefix = prefix_at(data, start);
    let prefix_len = prefix.map_or(0, |p| p.len());
    let first = byte_at(data, start + prefix_len)?;
    let after_first = start + prefix_len + 2;
    let delimiter = DELIMITERS.iter().copied().find(|d| {
        // Without a prefix, bytes must be delimited; `\x41\x42` needs none.
        (prefix.is_some() || !d.is_empty()) && continues(data, after_first, d, prefix)
    })?;
    let mut bytes = vec![first];
    let mut end = after_first;
    while let Some(taken) = step(data, end, delimiter, prefix) {
        let at = end + taken + prefix_len;
        bytes.push(byte_at(data, at)?);
        end = at + 2;
    }
    // The last byte must end the list: `de-ad-beef` is not a list of bytes.
    if data.get(end).is_some_and(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(HexList {
        start,
        end,
        bytes,
        delimiter,
        prefixed: prefix.is_some(),
    })
}

/// Whether `delimiter`, the prefix and a two-digit byte follow at `at`, and that byte is not
/// glued to a third hex digit.
fn continues(data: &[u8], at: usize, delimiter: &[u8], prefix: Option<&[u8]>) -> bool {
    step(data, at, delimiter, prefix).is_some()
}

/// How many bytes the delimiter at `at` takes when another byte of the list follows it: a
/// space-delimited dump may break its rows (`… 70 68\n6f 6e …`), as `xxd -p` and `od` do.
fn step(data: &[u8], at: usize, delimiter: &[u8], prefix: Option<&[u8]>) -> Option<usize> {
    let rest = data.get(at..)?;
    let taken = if rest.starts_with(delimiter) {
        delimiter.len()
    } else if delimiter == b" " && rest.starts_with(b"\r\n") {
        2
    } else if delimiter == b" " && rest.starts_with(b"\n") {
        1
    } else {
        return None;
    };
    let mut i = at + taken;
    if let Some(p) = prefix {
        if !data[i..].to_ascii_lowercase().starts_with(p) {
            return None;
        }
        i += p.len();
    }
    (byte_at(data, i).is_some() && !data.get(i + 2).is_some_and(u8::is_ascii_hexdigit)).then_some(taken)
}

/// The bytes of a hex dump (`hexdump -C`, `xxd`, `od -A x -t x1`): lines that start with an
/// offset of four to eight hex digits (and `:` for xxd), then up to 16 bytes written as pairs
/// or xxd's groups of four digits, then the dump's text column. Two lines or more; `None`
/// otherwise. Returns where the dump starts and ends, and its bytes.
pub(crate) fn hexdump(data: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let mut start = None;
    let mut end = 0;
    let mut bytes = Vec::new();
    let mut lines = 0;
    let mut line_at = 0;
    for line in data.split(|&b| b == b'\n') {
        let at = line_at;
        line_at += line.len() + 1;
        // The first row may open a string (`"text": "00000000: …`), as a dump pasted into a
        // field does.
        let quoted = || {
            let quote = memchr::memrchr(b'"', line).filter(|_| lines == 0)?;
            Some((quote + 1, dump_line(&line[quote + 1..])?))
        };
        match dump_line(line).map(|row| (0, row)).or_else(quoted) {
            Some((skip, row)) => {
                start.get_or_insert(at + skip);
                end = (at + line.len()).min(data.len());
                bytes.extend(row);
                lines += 1;
            }
            // A dump ends at its first other line; only the first dump is read.
            None if lines >= 2 => break,
            None => {
                start = None;
                bytes.clear();
                lines = 0;
            }
        }
    }
    (lines >= 2).then(|| (start.unwrap_or(0), end, bytes))
}

/// Whether the line holding `start` opens with a dump's offset column (four to eight hex
/// digits, `:` for xxd, then a space) and holds nothing but hex and spaces from there to
/// `start`: the bytes at `start` are a row of a hex dump (or its second half, as `hexdump -C`
/// prints it). A line may begin after a newline or after a `\n` escaped in a string, as a dump
/// pasted into a JSON field arrives.
pub(crate) fn dump_row(data: &[u8], start: usize) -> bool {
    let before = &data[start.saturating_sub(80)..start];
    let line = match memchr::memrchr(b'\n', before) {
        Some(at) => &before[at + 1..],
        None if start <= 80 => before,
        None => return false,
    };
    let line = match memchr::memmem::rfind(line, b"\\n") {
        Some(at) => &line[at + 2..],
        None => line,
    };
    let line = line.trim_ascii_start();
    let offset = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = line[offset..].strip_prefix(b":").unwrap_or(&line[offset..]);
    (4..=8).contains(&offset)
        && rest.first() == Some(&b' ')
        && rest.iter().all(|&b| b == b' ' || b.is_ascii_hexdigit())
}

fn dump_line(line: &[u8]) -> Option<Vec<u8>> {
    let offset = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if !(4..=8).contains(&offset) {
        return None;
    }
    let mut rest = line[offset..].strip_prefix(b":").unwrap_or(&line[offset..]);
    if rest.first() != Some(&b' ') {
        return None;
    }
    let mut out = Vec::with_capacity(16);
    while out.len() < 16 {
        let spaces = rest.iter().take_while(|&&b| b == b' ').count();
        let group = rest[spaces..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let ends = rest.get(spaces + group).is_none_or(|&b| b == b' ' || b == b'\r');
        if spaces == 0 || spaces > 2 || !matches!(group, 2 | 4) || !ends || out.len() + group / 2 > 16 {
            break;
        }
        for pair in rest[spaces..spaces + group].chunks(2) {
            out.push(byte_at(pair, 0)?);
        }
        rest = &rest[spaces + group..];
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(text: &str) -> Vec<(Vec<u8>, &'static [u8])> {
        let mut out = Vec::new();
        hex_lists(text.as_bytes(), 4, |l| out.push((l.bytes, l.delimiter)));
        out
    }

    #[test]
    fn every_common_delimiter() {
        let want = b"AKIA".to_vec();
        for text in [
            "41-4b-49-41",
            "41:4B:49:41",
            "41 4b 49 41",
            "41,4b,49,41",
            "41, 4b, 49, 41",
            r"\x41\x4b\x49\x41",
            "0x41,0x4b,0x49,0x41",
            "0x41, 0x4b, 0x49, 0x41",
            "0x41 0x4b 0x49 0x41",
            "[0x41,0x4B,0x49,0x41]",
            "41+4b+49+41",
            "0x41+0x4b+0x49+0x41",
        ] {
            assert_eq!(lists(text).first().map(|l| &l.0), Some(&want), "{text}");
        }
    }

    #[test]
    fn hex_dumps_of_three_tools() {
        let hexdump_c = "00000000  41 4b 49 41 5a 37 58 51  32 4d 4c 50 34 52 54 36  |AKIAZ7XQ2MLP4RT6|\n00000010  57 51 33 4e                                       |WQ3N|\n";
        let xxd = "00000000: 414b 4941 5a37 5851 324d 4c50 3452 5436  AKIAZ7XQ2MLP4RT6\n00000010: 5751 334e                                WQ3N\n";
        let od = "0000000 41 4b 49 41 5a 37 58 51 32 4d 4c 50 34 52 54 36\n0000020 57 51 33 4e\n";
        for dump in [hexdump_c, xxd, od] {
            let (at, end, bytes) = hexdump(dump.as_bytes()).expect(dump);
            assert_eq!(
                (at, end, bytes.as_slice()),
                (0, dump.len() - 1, &b"AKIAZ7XQ2MLP4RT6WQ3N"[..]),
                "{dump}"
            );
            // Every row's bytes, in either half, are the dump's.
            let second = dump.find("\n").expect("two lines") + 1;
            let first_byte = dump[second..].find(" 5").expect("a byte") + second + 1;
            assert!(dump_row(dump.as_bytes(), first_byte), "{dump}");
        }
        let escaped = r#"{"text": "why?\n00000000  7f 45 4c 46 02 01 01 00  00 00 00 00"#;
        let at = escaped.find("00  00").expect("second half") + 4;
        assert!(dump_row(escaped.as_bytes(), at));
        assert!(!dump_row(b"key: 41 4b 49 41 5a 37 58 51 32 4d", 5));
        assert!(!dump_row(
            b"2026 41 4b 49 41 5a 37 58 51 32 4d and words 41 4b",
            40
        ));
        assert_eq!(hexdump(b"00000000  41 4b 49 41  |AKIA|\n"), None, "one line");
        assert_eq!(hexdump(b"2026 was a year\n1999 too\n"), None);
    }

    #[test]
    fn uuids_hashes_and_mixed_delimiters_are_not_lists() {
        assert!(lists("550e8400-e29b-41d4-a716-446655440000").is_empty());
        assert!(lists("3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e").is_empty());
        assert!(lists("41-4b:49-41").is_empty());
        assert!(lists("de-ad-beef").is_empty());
        assert!(lists("in 12 34 56 7 ways").is_empty());
    }
}
