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

#[cfg(test)]
mod tests {
    use super::*;

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
