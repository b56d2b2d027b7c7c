//! Base85: Adobe's Ascii85 between `<~` and `~>`, and the two alphabets written without
//! delimiters, RFC 1924's (Python's `b85encode`, git's binary patches) and ZeroMQ's Z85. Five
//! characters carry four bytes, a denser cover than base64 for a file sent out in a string.

/// Characters of a bare base85 stretch worth decoding: 40 carry 32 bytes.
const MIN_STRETCH: usize = 40;

const RFC1924: &[u8; 85] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
const Z85: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Each byte's value in an alphabet, or 0xff.
const fn table(alphabet: &[u8; 85]) -> [u8; 256] {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 85 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static RFC1924_VALUE: [u8; 256] = table(RFC1924);
static Z85_VALUE: [u8; 256] = table(Z85);

/// One group of up to five digits to its big-endian word, a short group padded with the
/// highest digit (as every encoder pads) and only its share of bytes kept; `None` when the
/// group overflows a word.
fn push_group(digits: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let acc = (0..5).fold(0u64, |acc, i| {
        acc * 85 + u64::from(digits.get(i).copied().unwrap_or(84))
    });
    let word = u32::try_from(acc).ok()?.to_be_bytes();
    out.extend_from_slice(&word[..(digits.len() - 1).min(4)]);
    Some(())
}

/// Groups of five characters of an alphabet; `None` on a character outside it or an
/// overflowing group.
fn decode_with(text: &[u8], value: &[u8; 256]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 5 * 4 + 4);
    for group in text.chunks(5) {
        let mut digits = [0u8; 5];
        for (d, &c) in digits.iter_mut().zip(group) {
            *d = match value[c as usize] {
                0xff => return None,
                v => v,
            };
        }
        push_group(&digits[..group.len()], &mut out)?;
    }
    Some(out)
}

/// Adobe Ascii85 (`!`..`u`, `z` for four zero bytes, whitespace ignored).
fn decode_ascii85(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 5 * 4 + 4);
    let mut group = Vec::with_capacity(5);
    for &c in text {
        match c {
            b'z' if group.is_empty() => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group.push(c - b'!');
                if group.len() == 5 {
                    push_group(&group, &mut out)?;
                    group.clear();
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => return None,
        }
    }
    if !group.is_empty() {
        push_group(&group, &mut out)?;
    }
    Some(out)
}

/// Calls `f(start, bytes)` for each base85 text in `data` and what it decodes to: Ascii85
/// between its delimiters, and stretches of 40 or more characters of RFC 1924's or Z85's
/// alphabet with at least four that base64 does not use (base64 and words are not base85).
pub(crate) fn base85_texts(data: &[u8], mut f: impl FnMut(usize, Vec<u8>)) {
    // Ten of the alphabets' characters that prose, JSON and URLs seldom use: 40 random base85
    // characters miss all ten one time in 150, 60 one time in 1,800, and Ascii85's `<~` has
    // one. A layer without any costs three vector searches, not a pass of its own.
    let rare = |a, b, c| memchr::memchr3(a, b, c, data).is_some();
    if !(rare(b'^', b'`', b'|')
        || rare(b'~', b'@', b'#')
        || rare(b'$', b'*', b'<')
        || memchr::memchr(b'>', data).is_some())
    {
        return;
    }
    let mut from = 0;
    while let Some(open) = memchr::memmem::find(&data[from..], b"<~").map(|at| from + at) {
        let Some(close) = memchr::memmem::find(&data[open + 2..], b"~>").map(|at| open + 2 + at) else {
            break;
        };
        if let Some(bytes) = decode_ascii85(&data[open + 2..close]) {
            f(open, bytes);
        }
        from = close + 2;
    }
    // One pass over stretches of either alphabet's characters; a stretch is decoded in the
    // alphabets that hold all of it.
    let mut i = 0;
    while i < data.len() {
        if CLASS[data[i] as usize] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut both = IN_RFC1924 | IN_Z85;
        while i < data.len() && CLASS[data[i] as usize] != 0 {
            both &= CLASS[data[i] as usize];
            i += 1;
        }
        let text = &data[start..i];
        if text.len() < MIN_STRETCH || both == 0 {
            continue;
        }
        // About a quarter of an encoder's characters are neither letters nor digits; a URL, a
        // path or code has a few among many.
        let beyond = text
            .iter()
            .filter(|b| !b.is_ascii_alphanumeric() && !matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'.'))
            .count();
        if beyond < 4 || beyond * 10 < text.len() {
            continue;
        }
        for (flag, value) in [(IN_RFC1924, &RFC1924_VALUE), (IN_Z85, &Z85_VALUE)] {
            if both & flag != 0 {
                if let Some(bytes) = decode_with(text, value) {
                    f(start, bytes);
                }
            }
        }
    }
}

const IN_RFC1924: u8 = 1;
const IN_Z85: u8 = 2;

/// Which alphabets each byte is in.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 85 {
        t[RFC1924[i] as usize] |= IN_RFC1924;
        t[Z85[i] as usize] |= IN_Z85;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        base85_texts(data, |_, bytes| out.push(bytes));
        out
    }

    #[test]
    fn the_three_forms_decode() {
        // Python: base64.a85encode(..., adobe=True), base64.b85encode, and Z85's own vector.
        let text = b"the quick brown fox jumps over the lazy dog";
        let ascii85 = b"<~FD,5.EHPu*CER),Dg-(AAoDo:C3=B4F!,CEATAo8BOr<&@=!2AA8c)~>";
        assert!(decoded(ascii85).iter().any(|b| b == text));
        let rfc = br#"{"d": "bZBKDadl~9Yan8BZ+C7WW^Z^PYISXJb0BYaWpW^NXk{R5VS0HWWN&8"}"#;
        assert!(decoded(rfc).iter().any(|b| b == text));
        assert_eq!(
            decode_with(b"HelloWorld", &Z85_VALUE).as_deref(),
            Some(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B][..])
        );
    }

    #[test]
    fn words_code_and_base64_are_not_base85() {
        assert!(decoded(b"the quick brown fox jumps over the lazy dog, again and again").is_empty());
        assert!(decoded(b"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=").is_empty());
    }
}
