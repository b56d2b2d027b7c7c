//! Private keys without PEM armour, recognised by their structure: DER key encodings (PKCS#8,
//! encrypted PKCS#8, PKCS#1 RSA, SEC1 EC) and OpenSSH's binary format, wherever a decoder
//! finds them; PuTTY key files, JSON Web Keys with their private members, and .NET's
//! `<RSAKeyValue>` with its private elements, in text. Public keys share the first shapes and
//! never the private parts: a JWK without `d`, an `<RSAKeyValue>` of modulus and exponent, a
//! `SubjectPublicKeyInfo` (no version integer) are not matched.

/// Whether `bytes` open with a private key's binary encoding.
pub(crate) fn binary_private_key(bytes: &[u8]) -> bool {
    bytes.starts_with(b"openssh-key-v1\0") || der_private_key(bytes)
}

/// A DER `SEQUENCE` whose content opens the way a private key's does: version 0 and an
/// algorithm (PKCS#8), an encryption algorithm (encrypted PKCS#8), version 0 and a modulus
/// (PKCS#1), version 1 and an octet string (SEC1).
fn der_private_key(bytes: &[u8]) -> bool {
    let Some(content) = sequence_content(bytes) else {
        return false;
    };
    let pkcs8 = content.starts_with(&[0x02, 0x01, 0x00, 0x30]);
    let pkcs1 = content.starts_with(&[0x02, 0x01, 0x00, 0x02, 0x82])
        || content.starts_with(&[0x02, 0x01, 0x00, 0x02, 0x81]);
    let sec1 = content.starts_with(&[0x02, 0x01, 0x01, 0x04]);
    // EncryptedPrivateKeyInfo: an AlgorithmIdentifier for PBES2 (1.2.840.113549.1.5.13) or a
    // PKCS#12 PBE scheme (1.2.840.113549.1.12.1.x).
    let encrypted = sequence_content(content).is_some_and(|algorithm| {
        algorithm.starts_with(&[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d])
            || algorithm.starts_with(&[0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01])
    });
    pkcs8 || pkcs1 || sec1 || encrypted
}

/// The content of a DER `SEQUENCE` at the start of `bytes`, of at least 32 bytes (a key is
/// longer), cut to what `bytes` holds (a prefix of the key is enough to know it).
fn sequence_content(bytes: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (n as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 => (
            (*rest.first()? as usize) << 8 | *rest.get(1)? as usize,
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (len >= 32).then(|| &rest[..len.min(rest.len())])
}

/// Calls `f(start, end)` for the private parts of keys written as text.
pub(crate) fn text_private_keys(data: &[u8], mut f: impl FnMut(usize, usize)) {
    let find = |from: usize, what: &[u8]| memchr::memmem::find(&data[from..], what).map(|at| from + at);
    // PuTTY: `PuTTY-User-Key-File-N: …` and, further on, `Private-Lines: N` and the lines.
    if let Some(head) = find(0, b"PuTTY-User-Key-File-") {
        if let Some(private) = find(head, b"Private-Lines:") {
            f(private, data.len().min(private + 256));
        }
    }
    // JSON Web Keys: a `kty` and a private member (`d`; RSA's `p`, `q` and the rest follow it).
    if find(0, b"\"kty\"").is_some() {
        let mut from = 0;
        while let Some(at) = find(from, b"\"d\"") {
            from = at + 3;
            if let Some((start, end)) = json_string_after(data, from) {
                if end - start >= 32 {
                    f(start, end);
                }
            }
        }
    }
    // .NET's XML key format: the private exponent and the primes.
    if find(0, b"<RSAKeyValue>").is_some() {
        for element in [&b"<D>"[..], b"<P>", b"<InverseQ>"] {
            if let Some(at) = find(0, element) {
                let start = at + element.len();
                let end = data[start..]
                    .iter()
                    .position(|&b| b == b'<')
                    .map_or(data.len(), |e| start + e);
                if end - start >= 32 {
                    f(start, end);
                }
            }
        }
    }
}

/// The span of the JSON string that follows `from` after a `:`, without its quotes.
fn json_string_after(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let rest = &data[from..];
    let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[colon] != b':' {
        return None;
    }
    let quote = colon + 1 + rest[colon + 1..].iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[quote] != b'"' {
        return None;
    }
    let start = quote + 1;
    let end = start + rest[start..].iter().position(|&b| b == b'"')?;
    Some((from + start, from + end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(data: &str) -> Vec<String> {
        let mut out = Vec::new();
        text_private_keys(data.as_bytes(), |s, e| out.push(data[s..e].to_owned()));
        out
    }

    #[test]
    fn private_parts_of_text_keys_are_found_and_public_keys_are_not() {
        let d = "hj6pAwsL6vf7NAvqhhN7u_l87MjJHtbIBnoPuijXBm0";
        let jwk = format!(
            r#"{{"kty": "EC", "crv": "P-256", "x": "TC-bjTHkMAZvvVxaZiUAsMtMbcna6a_WGHunkKqshsY", "d": "{d}"}}"#
        );
        assert_eq!(text(&jwk), [d]);
        assert!(text(r#"{"kty": "EC", "crv": "P-256", "x": "TC-bjTHkMAZvvVxaZiUAsMtMbcna6a_WGHunkKqshsY", "y": "3iFf-gM6-R-9y-_mQSbgEbHCiFLA25PHQjC41-LZu1U"}"#).is_empty());
        let modulus = "r/CA7wg2XBMnArtBD2HXHJTqtrRyvY2HR+e5GMeN8NFa1PCt96BNOKI3dI7DWN7M";
        assert!(
            text(&format!(
                "<RSAKeyValue><Modulus>{modulus}</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>"
            ))
            .is_empty()
        );
        assert_eq!(
            text(&format!(
                "<RSAKeyValue><Modulus>{modulus}</Modulus><D>{modulus}</D></RSAKeyValue>"
            )),
            [modulus]
        );
        assert_eq!(
            text("PuTTY-User-Key-File-3: ssh-ed25519\nPublic-Lines: 2\nAAAA\nPrivate-Lines: 1\nAAAAIG").len(),
            1
        );
        assert!(text("PuTTY-User-Key-File-3: ssh-ed25519\nPublic-Lines: 2\nAAAA\n").is_empty());
    }

    #[test]
    fn der_private_keys_are_told_from_public_ones() {
        // The openings of a PKCS#8 RSA key, a PKCS#1 RSA key, a SEC1 P-256 key, an encrypted
        // PKCS#8 key; then a SubjectPublicKeyInfo and a certificate.
        let pad = |mut v: Vec<u8>| {
            v.resize(64, 0x11);
            v
        };
        for key in [
            pad(vec![
                0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09,
            ]),
            pad(vec![
                0x30, 0x82, 0x04, 0xa4, 0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00,
            ]),
            pad(vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]),
            pad(vec![
                0x30, 0x82, 0x05, 0x0c, 0x30, 0x4e, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
                0x05, 0x0d,
            ]),
        ] {
            assert!(binary_private_key(&key), "{key:02x?}");
        }
        assert!(binary_private_key(b"openssh-key-v1\0\0\0\0\x04none"));
        for public in [
            pad(vec![
                0x30, 0x82, 0x01, 0x22, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48,
            ]),
            pad(vec![
                0x30, 0x82, 0x03, 0x1d, 0x30, 0x82, 0x02, 0x05, 0xa0, 0x03, 0x02, 0x01, 0x02,
            ]),
        ] {
            assert!(!binary_private_key(&public), "{public:02x?}");
        }
    }
}
