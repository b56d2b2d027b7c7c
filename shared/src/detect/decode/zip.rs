//! Zip archives: the entries a body carries, found by their local file headers and decoded
//! when stored or deflated (the two methods every zip tool writes). An entry in another
//! method, or encrypted, cannot be judged.

use std::io::Read;

use super::compress::InflateError;

const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
/// Entries read from one archive at most: a body of empty entries is not a way around the
/// decoded-bytes bound.
const MAX_ENTRIES: usize = 4096;

/// What one archive holds, as far as it could be read.
#[derive(Debug, Default)]
pub(crate) struct Entries {
    /// Offset of each entry's local header, and its decoded content.
    pub(crate) decoded: Vec<(usize, Vec<u8>)>,
    /// An entry was encrypted, in a method other than stored or deflate, or past the bounds.
    pub(crate) unreadable: Option<InflateError>,
}

/// Whether `data` starts like a zip archive.
pub(crate) fn is_zip(data: &[u8]) -> bool {
    data.starts_with(LOCAL_HEADER)
}

/// Every entry whose local header appears in `data`, decoded within `limit` bytes in total.
/// Headers are looked for everywhere (not only where the previous entry ended), so that
/// entries with a data descriptor, whose sizes the local header leaves at zero, are read too.
pub(crate) fn entries(data: &[u8], limit: usize) -> Entries {
    let mut out = Entries::default();
    let mut left = limit;
    for at in memchr::memmem::find_iter(data, LOCAL_HEADER).take(MAX_ENTRIES) {
        let Some(entry) = Header::parse(&data[at..]) else {
            continue;
        };
        let body = &data[(at + entry.data_start).min(data.len())..];
        let decoded = match entry.method {
            _ if entry.flags & 1 != 0 => Err(InflateError::Corrupt),
            0 => Ok(body[..entry.compressed.min(body.len())].to_vec()),
            8 => inflate_raw(body, left),
            _ => Err(InflateError::Corrupt),
        };
        match decoded {
            Ok(bytes) => {
                left = left.saturating_sub(bytes.len());
                out.decoded.push((at, bytes));
            }
            Err(why) => {
                out.unreadable.get_or_insert(why);
            }
        }
        if left == 0 {
            out.unreadable.get_or_insert(InflateError::TooLarge);
            break;
        }
    }
    out
}

struct Header {
    flags: u16,
    method: u16,
    compressed: usize,
    data_start: usize,
}

impl Header {
    fn parse(at: &[u8]) -> Option<Self> {
        let u16_at = |i: usize| Some(u16::from_le_bytes([*at.get(i)?, *at.get(i + 1)?]));
        let u32_at = |i: usize| {
            Some(u32::from_le_bytes([
                *at.get(i)?,
                *at.get(i + 1)?,
                *at.get(i + 2)?,
                *at.get(i + 3)?,
            ]))
        };
        let name = usize::from(u16_at(26)?);
        let extra = usize::from(u16_at(28)?);
        Some(Self {
            flags: u16_at(6)?,
            method: u16_at(8)?,
            compressed: usize::try_from(u32_at(18)?).ok()?,
            data_start: 30 + name + extra,
        })
    }
}

fn inflate_raw(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let read = flate2::read::DeflateDecoder::new(data)
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

    /// A one-entry archive as zip tools write it (built by hand: no zip writer in the tree).
    fn archive(name: &str, content: &[u8], method: u16) -> Vec<u8> {
        let data = if method == 8 {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(content).expect("in memory");
            enc.finish().expect("in memory")
        } else {
            content.to_vec()
        };
        let mut out = LOCAL_HEADER.to_vec();
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // time, date, crc (not checked)
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(content.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn stored_and_deflated_entries_are_read() {
        let mut zip = archive("a.txt", b"first entry, stored", 0);
        zip.extend(archive("b.txt", b"second entry, deflated", 8));
        assert!(is_zip(&zip));
        let read = entries(&zip, 1 << 20);
        let texts: Vec<&[u8]> = read.decoded.iter().map(|(_, d)| d.as_slice()).collect();
        assert_eq!(texts, [&b"first entry, stored"[..], b"second entry, deflated"]);
        assert!(read.unreadable.is_none());
    }

    #[test]
    fn bombs_and_unknown_methods_are_unreadable() {
        let zip = archive("big", &vec![b'a'; 1 << 20], 8);
        assert_eq!(entries(&zip, 1000).unreadable, Some(InflateError::TooLarge));
        let zip = archive("x", b"lzma data", 14);
        assert_eq!(entries(&zip, 1000).unreadable, Some(InflateError::Corrupt));
    }
}
