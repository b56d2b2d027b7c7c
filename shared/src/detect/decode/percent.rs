//! Percent-encoding (RFC 3986), one level per call; repeated encodings peel off one layer at
//! a time through the engine's recursion, so each shows in the encoding chain.

/// Decodes every `%XX`; `None` when there is none.
pub(crate) fn decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut changed = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'%' && i + 2 < data.len() {
            if let (Some(h), Some(l)) = (hex_value(data[i + 1]), hex_value(data[i + 2])) {
                out.push(h << 4 | l);
                changed = true;
                i += 3;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    changed.then_some(out)
}

/// [`decode`] as a form body or query string is written (`application/x-www-form-urlencoded`):
/// `+` is a space there, and a literal `+` is `%2B`. `None` when there is no `+` to read so,
/// since then [`decode`] says the same.
pub(crate) fn decode_form(data: &[u8]) -> Option<Vec<u8>> {
    if !data.contains(&b'+') {
        return None;
    }
    let spaced: Vec<u8> = data.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    decode(&spaced)
}

/// The first stretch of `min` or more escapes in a row that each spell an unreserved
/// character (a letter, a digit, `-`, `.`, `_`, `~`), as `(start, end)` of the escapes. RFC 3986
/// (2.3) says those are never to be encoded, and no encoder does: a stretch of them is text
/// hidden from inspection, the more so when it is encoded again (`%2534%2562…`).
pub(crate) fn encoded_unreserved(data: &[u8], min: usize) -> Option<(usize, usize)> {
    let unreserved_at = |i: usize| {
        let (Some(b'%'), Some(&h), Some(&l)) = (data.get(i), data.get(i + 1), data.get(i + 2)) else {
            return false;
        };
        match (hex_value(h), hex_value(l)) {
            (Some(h), Some(l)) => {
                let byte = h << 4 | l;
                byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
            }
            _ => false,
        }
    };
    let mut i = 0;
    while i < data.len() {
        match memchr::memchr(b'%', &data[i..]) {
            Some(at) => i += at,
            None => return None,
        }
        let start = i;
        while unreserved_at(i) {
            i += 3;
        }
        if (i - start) / 3 >= min {
            return Some((start, i));
        }
        i = i.max(start + 1);
    }
    None
}

/// `%` followed by two hex digits at `at`.
pub(crate) fn is_escape_at(data: &[u8], at: usize) -> bool {
    at + 2 < data.len() && hex_value(data[at + 1]).is_some() && hex_value(data[at + 2]).is_some()
}

pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_one_level() {
        assert_eq!(decode(b"a%41%2fb"), Some(b"aA/b".to_vec()));
        assert_eq!(decode(b"%2541"), Some(b"%41".to_vec()));
        assert_eq!(decode(b"plain"), None);
        assert_eq!(decode(b"100%"), None);
        assert_eq!(decode(b"%4"), None);
        assert_eq!(decode(b"%zz"), None);
        assert_eq!(
            decode_form(b"plus+means+space%2B"),
            Some(b"plus means space+".to_vec())
        );
        assert_eq!(decode_form(b"a%41"), None);
    }
}
