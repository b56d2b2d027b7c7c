//! Tar archives (POSIX ustar and GNU): the files a decompressed layer carries. A text file in
//! a tar is judged where it stands, as the layer's own text; a binary one (a DER key, a
//! keytab, a nested archive) is invisible to the text rules, so each member is handed out
//! on its own to be judged by what its bytes are.

/// One header or data block.
const BLOCK: usize = 512;
/// Members read from one archive at most: a body of empty members is not a way around the
/// decoded-bytes bound.
const MAX_MEMBERS: usize = 1024;

/// Whether `data` starts like a tar archive: `ustar` at its place in the first header, and
/// a header checksum that adds up (POSIX 1003.1, 10.1.1).
pub(crate) fn is_tar(data: &[u8]) -> bool {
    data.len() >= BLOCK && data[257..262] == *b"ustar" && checksum_holds(&data[..BLOCK])
}

fn checksum_holds(header: &[u8]) -> bool {
    let Some(stated) = octal(&header[148..156]) else {
        return false;
    };
    // The sum of the header's bytes with the checksum field read as eight spaces.
    let sum: usize = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                usize::from(b' ')
            } else {
                usize::from(b)
            }
        })
        .sum();
    sum == stated
}

fn octal(field: &[u8]) -> Option<usize> {
    let digits = field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b));
    let mut value = 0usize;
    let mut any = false;
    for &digit in digits {
        value = value.checked_mul(8)?.checked_add(usize::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

/// The regular files of the archive `data`, each with where its content starts: headers
/// walked one after the other until the end-of-archive block, a header that does not add
/// up, or the end of the data (a member cut short gives what is there).
pub(crate) fn members(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while out.len() < MAX_MEMBERS && at + BLOCK <= data.len() {
        let header = &data[at..at + BLOCK];
        if header.iter().all(|&b| b == 0) || !checksum_holds(header) {
            break;
        }
        let Some(size) = octal(&header[124..136]) else {
            break;
        };
        let start = at + BLOCK;
        let end = start.saturating_add(size).min(data.len());
        // Regular files (`0`, or NUL in old archives); links, directories and the GNU and
        // pax extension headers carry no file content of their own.
        if matches!(header[156], b'0' | 0 | b'7') {
            out.push((start, &data[start..end]));
        }
        at = start.saturating_add(size.div_ceil(BLOCK).saturating_mul(BLOCK));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header for a regular file `name` of `size` bytes, its checksum filled in.
    fn header(name: &str, size: usize) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: usize = h.iter().map(|&b| usize::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, content) in files {
            out.extend(header(name, content.len()));
            out.extend_from_slice(content);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend([0u8; 2 * BLOCK]);
        out
    }

    #[test]
    fn members_are_read_in_order_with_their_offsets() {
        let key = [0x30u8, 0x82, 0x04, 0xa6, 0x02, 0x01, 0x00];
        let tar = archive(&[("notes.txt", b"hello\n"), ("id_rsa.der", &key)]);
        assert!(is_tar(&tar));
        let found = members(&tar);
        assert_eq!(found, [(BLOCK, &b"hello\n"[..]), (3 * BLOCK, &key[..])]);
    }

    #[test]
    fn a_header_that_does_not_add_up_is_not_a_tar() {
        let mut tar = archive(&[("a", b"x")]);
        tar[0] = b'b';
        assert!(!is_tar(&tar));
        assert!(members(&tar).is_empty());
        // Text that happens to say `ustar` at that place is not one either.
        let mut text = vec![b' '; BLOCK];
        text[257..262].copy_from_slice(b"ustar");
        assert!(!is_tar(&text));
    }

    #[test]
    fn a_member_cut_short_gives_what_is_there() {
        let mut tar = archive(&[("big", &[7u8; 2000])]);
        tar.truncate(BLOCK + 100);
        assert_eq!(members(&tar), [(BLOCK, &[7u8; 100][..])]);
    }
}
