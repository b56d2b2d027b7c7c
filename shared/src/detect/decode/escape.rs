//! String escapes: JSON and JavaScript (`\uXXXX` with surrogate pairs, `\u{...}`, `\xNN`,
//! the single-letter escapes), HTML and XML character references (`&#107;`, `&#x6B;`, the five
//! XML entities) and quoted-printable (`=XX`, soft line breaks).

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

/// Whether `data` holds at least `min` numeric character references (`&#` then a digit or `x`).
pub(crate) fn has_char_refs(data: &[u8], min: usize) -> bool {
    memchr::memmem::find_iter(data, b"&#")
        .filter(|&at| {
            data.get(at + 2)
                .is_some_and(|&b| b.is_ascii_digit() || b == b'x' || b == b'X')
        })
        .nth(min.saturating_sub(1))
        .is_some()
}

/// Decodes HTML and XML character references: decimal and hex numeric ones, with or without
/// the closing `;` (browsers accept both), and the five XML entities; `None` when there is none.
pub(crate) fn char_refs(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut changed = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'&' {
            if let Some((consumed, c)) = char_ref(&data[i + 1..]) {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += 1 + consumed;
                changed = true;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// The reference after an `&`: bytes consumed and the character.
fn char_ref(rest: &[u8]) -> Option<(usize, char)> {
    for (name, c) in [
        ("amp;", '&'),
        ("lt;", '<'),
        ("gt;", '>'),
        ("quot;", '"'),
        ("apos;", '\''),
    ] {
        if rest.starts_with(name.as_bytes()) {
            return Some((name.len(), c));
        }
    }
    let body = rest.strip_prefix(b"#")?;
    let (radix, digits_at) = match body.first()? {
        b'x' | b'X' => (16, 2),
        _ => (10, 1),
    };
    let digits = rest[digits_at..]
        .iter()
        .take(8)
        .take_while(|&&b| (b as char).is_digit(radix))
        .count();
    if digits == 0 {
        return None;
    }
    let text = std::str::from_utf8(&rest[digits_at..digits_at + digits]).ok()?;
    let c = char::from_u32(u32::from_str_radix(text, radix).ok()?)?;
    let end = digits_at + digits;
    let consumed = if rest.get(end) == Some(&b';') {
        end + 1
    } else {
        end
    };
    Some((consumed, c))
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
    fn character_references() {
        assert_eq!(char_refs(b"&#107;&#x65;&#X79&amp;-"), Some(b"key&-".to_vec()));
        assert_eq!(char_refs(b"&#128512;"), Some("😀".as_bytes().to_vec()));
        assert_eq!(char_refs(b"a & b &#; &#xZZ; &nbsp"), None);
        assert!(has_char_refs(b"&#65;&#66;&#x43;&#68", 4));
        assert!(!has_char_refs(b"&#65;&#66;&#x43; &amp; &#", 4));
    }

    #[test]
    fn quoted_printable_soft_breaks_and_bytes() {
        assert_eq!(quoted_printable(b"ab=\r\ncd=3D"), Some(b"abcd=".to_vec()));
        assert_eq!(quoted_printable(b"x=y"), None);
    }
}
