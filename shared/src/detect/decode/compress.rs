//! Content-encodings: gzip, deflate (zlib or raw), brotli and zstd, each read through a limit
//! so a decompression bomb stops at the bound instead of filling memory.

use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Codec {
    /// A `Content-Encoding` token; `identity` and unknown names give `None`.
    pub(crate) fn from_header(token: &str) -> Option<Self> {
        match token.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Self::Gzip),
            "deflate" => Some(Self::Deflate),
            "br" => Some(Self::Brotli),
            "zstd" => Some(Self::Zstd),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The output passed the limit.
    TooLarge,
    /// Not a valid stream.
    Corrupt,
}

/// The decompressed bytes, at most `limit` of them.
pub(crate) fn inflate(codec: Codec, data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    match codec {
        Codec::Gzip => read_limited(flate2::read::MultiGzDecoder::new(data), limit),
        Codec::Deflate => match read_limited(flate2::read::ZlibDecoder::new(data), limit) {
            Err(InflateError::Corrupt) => read_limited(flate2::read::DeflateDecoder::new(data), limit),
            other => other,
        },
        Codec::Brotli => read_limited(brotli_decompressor::Decompressor::new(data, 4096), limit),
        Codec::Zstd => match ruzstd::decoding::StreamingDecoder::new(data) {
            Ok(decoder) => read_limited(decoder, limit),
            Err(_) => Err(InflateError::Corrupt),
        },
    }
}

fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| InflateError::Corrupt)?;
    if read > limit {
        return Err(InflateError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_round_trip_and_bomb_bound() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&vec![b'a'; 1 << 20]).expect("in memory");
        let gz = enc.finish().expect("in memory");
        assert_eq!(inflate(Codec::Gzip, &gz, 2 << 20).map(|v| v.len()), Ok(1 << 20));
        assert_eq!(inflate(Codec::Gzip, &gz, 1000), Err(InflateError::TooLarge));
        assert_eq!(
            inflate(Codec::Gzip, b"not gzip", 1000),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn raw_and_zlib_deflate() {
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"hello raw deflate").expect("in memory");
        let raw = raw.finish().expect("in memory");
        assert_eq!(
            inflate(Codec::Deflate, &raw, 100).as_deref(),
            Ok(&b"hello raw deflate"[..])
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"hello zlib").expect("in memory");
        let z = z.finish().expect("in memory");
        assert_eq!(
            inflate(Codec::Deflate, &z, 100).as_deref(),
            Ok(&b"hello zlib"[..])
        );
    }
}
