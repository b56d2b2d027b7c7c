//! Decoders the engine applies before matching. Each takes bytes and returns the decoded
//! bytes, or `None` when the input is not in that encoding (so nothing is scanned twice).
//! Bounds on depth and total size are the engine's; the decompressors take their own limit.

pub(crate) mod base64;
pub(crate) mod base85;
pub(crate) mod compress;
pub(crate) mod escape;
pub(crate) mod hexlist;
pub(crate) mod multipart;
pub(crate) mod numbers;
pub(crate) mod percent;
pub(crate) mod tar;
pub(crate) mod unicode;
pub(crate) mod zip;

/// Text worth scanning: at least `percent` of the bytes are printable ASCII, whitespace, or
/// part of valid UTF-8 non-control characters. Random bytes score about 40%.
pub(crate) fn is_texty(data: &[u8], percent: usize) -> bool {
    if data.len() < 8 {
        return false;
    }
    if data.is_ascii() {
        let good = data
            .iter()
            .filter(|&&b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
            .count();
        return good * 100 >= data.len() * percent;
    }
    // Control bytes are never printable, in any encoding: counting them (one vectorised pass)
    // turns most random data away before any UTF-8 is decoded.
    let control = data
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f)
        .count();
    if (data.len() - control) * 100 < data.len() * percent {
        return false;
    }
    // Invalid UTF-8 is skipped but counted; random bytes exhaust the allowance within a few
    // bytes, so only text pays for a full pass. A misaligned prefix costs a few bad bytes.
    let allowed = data.len() * (100 - percent.min(100)) / 100;
    let printable = |text: &str| -> usize {
        text.chars()
            .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            .map(char::len_utf8)
            .sum()
    };
    let (mut good, mut bad, mut rest) = (0, 0, data);
    loop {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                good += printable(text);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                good += printable(std::str::from_utf8(valid).unwrap_or_default());
                let skip = e.error_len().unwrap_or(after.len());
                bad += skip;
                if bad > allowed {
                    return false;
                }
                rest = &after[skip..];
            }
        }
    }
    good * 100 >= data.len() * percent
}

/// The compression a decoded blob starts with, if its magic bytes say so.
pub(crate) fn sniff_compression(data: &[u8]) -> Option<compress::Codec> {
    match data {
        [0x1f, 0x8b, 0x08, ..] => Some(compress::Codec::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(compress::Codec::Zstd),
        // zlib with the levels encoders actually write; any 0x78 prefix would catch "x ".
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Some(compress::Codec::Deflate),
        _ => None,
    }
}

/// How a whole body sent without a `Content-Encoding` is compressed, by its magic bytes (or, for
/// brotli, which has none, by a `Content-Type` that says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Stream(compress::Codec),
    Zip,
}

/// Bytes a body must have before [`sniff_body`] can tell.
pub(crate) const SNIFF_LEN: usize = 4;

pub(crate) fn sniff_body(start: &[u8], content_type: Option<&str>) -> Option<Sniffed> {
    if zip::is_zip(start) {
        return Some(Sniffed::Zip);
    }
    if let Some(codec) = sniff_compression(start) {
        return Some(Sniffed::Stream(codec));
    }
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    matches!(essence.as_str(), "application/x-brotli" | "application/brotli")
        .then_some(Sniffed::Stream(compress::Codec::Brotli))
}
