//! String escapes: JSON and JavaScript (`\uXXXX` with surrogate pairs, `\u{...}`, `\xNN`,
//! the single-letter escapes) and quoted-printable (`=XX`, soft line breaks).

use super::percent::hex_value;

/// Decodes backslash escapes; `None` when there is none.
pub(crate) fn unescape(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut changed = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] != b'\\' || i + 1 >= data.len() {
            out.push(data[i]);
            i += 1;
            continue;
        }
        let (consumed, decoded) = one_escape(&data[i + 1..]);
        match decoded {
            Some(Decoded::Byte(b)) => out.push(b),
            Some(Decoded::Char(c)) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            None => {
                out.push(b'\\');
                i += 1;
                continue;
            }
        }
        changed = true;
        i += 1 + consumed;
    }
    changed.then_some(out)
}

enum Decoded {
    Byte(u8),
    Char(char),
}

fn one_escape(rest: &[u8]) -> (usize, Option<Decoded>) {
    let simple = |b: u8| (1, Some(Decoded::Byte(b)));
    match rest[0] {
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'v' => simple(0x0b),
        b'0' => simple(0),
        b'/' | b'\\' | b'"' | b'\'' | b'`' => simple(rest[0]),
        b'x' => match hex_digits(&rest[1..], 2) {
            Some(v) => (3, Some(Decoded::Byte(v as u8))),
            None => (0, None),
        },
        b'u' if rest.get(1) == Some(&b'{') => braced(rest),
        b'u' => unicode(rest),
        _ => (0, None),
    }
}

fn braced(rest: &[u8]) -> (usize, Option<Decoded>) {
    let Some(close) = rest.iter().take(10).position(|&b| b == b'}') else {
        return (0, None);
    };
    let value = hex_digits(&rest[2..close], close - 2);
    match value.and_then(char::from_u32) {
        Some(c) => (close + 1, Some(Decoded::Char(c))),
        None => (0, None),
    }
}

fn unicode(rest: &[u8]) -> (usize, Option<Decoded>) {
    let Some(high) = hex_digits(&rest[1..], 4) else {
        return (0, None);
    };
    if (0xd800..0xdc00).contains(&high) && rest.get(5..7) == Some(b"\\u") {
        if let Some(low) = hex_digits(&rest[7..], 4).filter(|l| (0xdc00..0xe000).contains(l)) {
            let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
            return (11, char::from_u32(c).map(Decoded::Char));
        }
    }
    (5, Some(Decoded::Char(char::from_u32(high).unwrap_or('\u{fffd}'))))
}

fn hex_digits(data: &[u8], n: usize) -> Option<u32> {
    if n == 0 || data.len() < n {
        return None;
    }
    data[..n]
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | hex_value(b)? as u32))
}

/// Quoted-printable: `=XX` and soft line breaks (`=` at the end of a line).
pub(crate) fn quoted_printable(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut changed = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'=' {
            let rest = &data[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                changed = true;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                changed = true;
                continue;
            }
            if let [h, l, ..] = rest {
                if let (Some(h), Some(l)) = (hex_value(*h), hex_value(*l)) {
                    out.push(h << 4 | l);
                    i += 3;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(data[i]);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_js_escapes() {
        assert_eq!(unescape(br"a\u0041\x42\n\/"), Some(b"aAB\n/".to_vec()));
        assert_eq!(unescape(br"\ud83d\ude00"), Some("😀".as_bytes().to_vec()));
        assert_eq!(unescape(br"\u{1F600}"), Some("😀".as_bytes().to_vec()));
        assert_eq!(unescape(br"no escapes"), None);
        assert_eq!(unescape(br"bad \q and \u12"), None);
        assert_eq!(unescape(b"trailing \\"), None);
    }

    #[test]
    fn quoted_printable_soft_breaks_and_bytes() {
        assert_eq!(quoted_printable(b"ab=\r\ncd=3D"), Some(b"abcd=".to_vec()));
        assert_eq!(quoted_printable(b"x=y"), None);
    }
}
