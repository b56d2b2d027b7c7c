//! multipart/form-data and multipart/mixed bodies split into parts, each with the
//! content-transfer-encoding it declares, so a base64 or quoted-printable part is decoded as a
//! whole (line breaks and all) before matching.

/// One part: where its content starts in the body, the content, and its transfer encoding.
#[derive(Debug)]
pub(crate) struct Part<'a> {
    pub offset: usize,
    pub content: &'a [u8],
    pub transfer: Transfer,
    /// The form field's name (`Content-Disposition: form-data; name="password"`), when the
    /// part is a field rather than a file.
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    Identity,
    Base64,
    QuotedPrintable,
}

/// The `boundary` parameter of a multipart content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    let at = lower.find("boundary=")? + "boundary=".len();
    let raw = &content_type[at..];
    let value = match raw.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next()?,
        None => raw.split(';').next()?.trim(),
    };
    (!value.is_empty()).then(|| value.to_owned())
}

pub(crate) fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<Part<'a>> {
    let delimiter = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let starts: Vec<usize> = finder.find_iter(body).collect();
    starts
        .windows(2)
        .filter_map(|w| part(body, w[0] + delimiter.len(), w[1]))
        .collect()
}

fn part(body: &[u8], from: usize, to: usize) -> Option<Part<'_>> {
    let chunk = &body[from..to];
    let head_end = memchr::memmem::find(chunk, b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| memchr::memmem::find(chunk, b"\n\n").map(|p| (p, p + 2)))?;
    let headers = String::from_utf8_lossy(&chunk[..head_end.0]).to_ascii_lowercase();
    let transfer = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-transfer-encoding:"))
        .map(|v| match v.trim() {
            "base64" => Transfer::Base64,
            "quoted-printable" => Transfer::QuotedPrintable,
            _ => Transfer::Identity,
        })
        .unwrap_or(Transfer::Identity);
    let field = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-disposition:"))
        .filter(|d| !d.contains("filename"))
        .and_then(|d| d.split("name=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned);
    let content = &chunk[head_end.1..];
    let content = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    Some(Part {
        offset: from + head_end.1,
        content,
        transfer,
        field,
    })
}

/// The longest field value taken as one piece of a value cut into numbered fields.
const MAX_PIECE: usize = 256;

/// Values cut into numbered form fields (`k0`, `k1`, `k2`; `part_1`, `part_2`; `c[0]`,
/// `c[1]`), joined in the order of their numbers when every number from the first (0 or 1)
/// to the last is there, each once. Returns where the first piece starts and the join; a
/// form whose numbered fields are whole values (`item1=apple`) joins to what the rules judge
/// as one more string.
pub(crate) fn numbered_fields(parts: &[Part<'_>]) -> Vec<(usize, Vec<u8>)> {
    let mut groups: Vec<(&str, Vec<(usize, &Part<'_>)>)> = Vec::new();
    for part in parts {
        let Some((stem, n)) = part.field.as_deref().and_then(numbered) else {
            continue;
        };
        if part.transfer != Transfer::Identity || part.content.len() > MAX_PIECE {
            continue;
        }
        match groups.iter_mut().find(|(s, _)| *s == stem) {
            Some((_, pieces)) => pieces.push((n, part)),
            None => groups.push((stem, vec![(n, part)])),
        }
    }
    let mut joins = Vec::new();
    for (_, pieces) in groups {
        let at = pieces.iter().map(|(_, p)| p.offset).min().unwrap_or(0);
        let numbered = pieces.into_iter().map(|(n, p)| (n, p.content)).collect();
        if let Some(joined) = crate::detect::ordered::in_order(numbered, usize::MAX) {
            joins.push((at, joined));
        }
    }
    joins
}

/// A field name's stem and number: `k0` is (`k`, 0), `part_2` (`part`, 2), `c[1]` (`c`, 1).
fn numbered(name: &str) -> Option<(&str, usize)> {
    let name = name.strip_suffix(']').unwrap_or(name);
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    let (stem, number) = name.split_at(name.len() - digits);
    let stem = stem.trim_end_matches(['[', '_', '-', '.']);
    Some((stem, number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(name: &str, content: &'a [u8], offset: usize) -> Part<'a> {
        Part {
            offset,
            content,
            transfer: Transfer::Identity,
            field: Some(name.to_owned()),
        }
    }

    #[test]
    fn numbered_fields_are_joined_only_when_every_number_is_there() {
        let parts = [
            field("k1", b"bbb", 30),
            field("k0", b"aaa", 10),
            field("k2", b" ccc", 50),
            field("title", b"notes", 70),
        ];
        assert_eq!(numbered_fields(&parts), vec![(10, b"aaabbb ccc".to_vec())]);
        let bracketed = [field("c[1]", b"x", 0), field("c[2]", b"y", 9)];
        assert_eq!(numbered_fields(&bracketed), vec![(0, b"xy".to_vec())]);
        // A gap, a lone field, a number repeated.
        assert!(numbered_fields(&[field("p1", b"a", 0), field("p3", b"c", 5)]).is_empty());
        assert!(numbered_fields(&[field("p1", b"a", 0)]).is_empty());
        assert!(numbered_fields(&[field("p1", b"a", 0), field("p1", b"b", 5)]).is_empty());
    }

    #[test]
    fn splits_parts_with_their_transfer_encoding() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--XyZ\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n--XyZ--\r\n";
        let b = boundary("multipart/form-data; boundary=XyZ").expect("has boundary");
        let parts = parts(body, &b);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content, b"hello");
        assert_eq!(parts[1].transfer, Transfer::Base64);
        assert_eq!(parts[0].field.as_deref(), Some("a"));
        assert_eq!(parts[1].field, None);
        assert_eq!(parts[1].content, b"aGVs\r\nbG8=");
        assert_eq!(&body[parts[0].offset..parts[0].offset + 5], b"hello");
        assert_eq!(boundary("text/plain"), None);
        assert_eq!(
            boundary("multipart/mixed; boundary=\"q q\""),
            Some("q q".to_owned())
        );
    }
}
