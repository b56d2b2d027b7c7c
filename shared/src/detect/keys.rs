//! Private keys without PEM armour, recognised by their structure: DER key encodings (PKCS#8,
//! encrypted PKCS#8, PKCS#1 RSA, SEC1 EC) and OpenSSH's binary format, wherever a decoder
//! finds them; PuTTY key files, JSON Web Keys with their private members, and .NET's
//! `<RSAKeyValue>` with its private elements, in text. Public keys share the first shapes and
//! never the private parts: a JWK without `d`, an `<RSAKeyValue>` of modulus and exponent, a
//! `SubjectPublicKeyInfo` (no version integer) are not matched.

/// Whether `bytes` open with a private key's binary encoding.
pub(crate) fn binary_private_key(bytes: &[u8]) -> bool {
    bytes.starts_with(b"openssh-key-v1\0")
        || der_private_key(bytes)
        || keytab(bytes)
        || tor_or_minisign(bytes)
        || key_store(bytes)
}

/// A key store file: PKCS#12 (`.p12`/`.pfx`: a DER `SEQUENCE` holding version 3 and then
/// `ContentInfo` of type `pkcs7-data`, 1.2.840.113549.1.7.1, RFC 7292 4) or Java's JKS
/// (`FEEDFEED`) and JCEKS (`CECECECE`), each followed by its version (1 or 2). A store holds
/// private keys with their certificates, behind a password that is often empty or weak: the
/// file itself is the secret.
fn key_store(bytes: &[u8]) -> bool {
    const PKCS7_DATA: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let java = matches!(
        bytes,
        [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 1 | 2, ..] | [0xce, 0xce, 0xce, 0xce, 0, 0, 0, 1 | 2, ..]
    );
    let pkcs12 = sequence_content(bytes).is_some_and(|content| {
        content.starts_with(&[0x02, 0x01, 0x03])
            && sequence_content(&content[3..]).is_some_and(|info| info.starts_with(&PKCS7_DATA))
    });
    java || pkcs12
}

/// A Tor onion service's `hs_ed25519_secret_key` (its tagged header, then the expanded
/// key), or a minisign secret key (`Ed`, the KDF, `B2`: signature, key-derivation and
/// checksum algorithms, then the salt and the encrypted key).
fn tor_or_minisign(bytes: &[u8]) -> bool {
    bytes.starts_with(b"== ed25519v1-secret: type0 ==")
        || (bytes.len() >= 32
            && bytes.starts_with(b"Ed")
            && &bytes[4..6] == b"B2"
            && matches!(&bytes[2..4], b"Sc" | b"\0\0"))
}

/// A Kerberos keytab (MIT format version 2): `05 02`, then entries, each a length, a
/// component count and a realm (printable, its length first). A keytab holds a principal's
/// long-term keys: whoever has it authenticates as the principal.
fn keytab(bytes: &[u8]) -> bool {
    let [0x05, 0x02, l0, l1, l2, l3, c0, c1, r0, r1, rest @ ..] = bytes else {
        return false;
    };
    let entry = i32::from_be_bytes([*l0, *l1, *l2, *l3]);
    let components = u16::from_be_bytes([*c0, *c1]);
    let realm = usize::from(u16::from_be_bytes([*r0, *r1]));
    (16..65536).contains(&entry)
        && (1..=8).contains(&components)
        && (1..=255).contains(&realm)
        && rest.len() >= realm
        && rest[..realm].iter().all(|b| b.is_ascii_graphic())
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

/// Whether `bytes` are a public key in a binary form people publish and paste: an OpenPGP
/// transferable public key (a public-key packet, then a user id) or an SSH public key blob
/// (what follows `ssh-ed25519 ` in `authorized_keys`). Either is public by its purpose, and
/// each is parsed whole, every length exactly as the format states it: what a key forged to
/// carry data can hold is opaque bytes in its key material, at most a large key's worth,
/// which ciphertext would be anyway; text and compressed data are no key's bytes and are
/// judged by what they decode to.
pub(crate) fn public_key(bytes: &[u8]) -> bool {
    openpgp_public_key(bytes) || ssh_public_key(bytes)
}

/// An OpenPGP packet at the start of `bytes` (RFC 9580 §4.2, old and new headers; no partial
/// lengths): its tag, its body and what follows it.
fn openpgp_packet(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&head, rest) = bytes.split_first()?;
    let (tag, len, rest) = match head & 0xc0 {
        0xc0 => {
            let (&first, rest) = rest.split_first()?;
            match first {
                0..=191 => (head & 0x3f, first as usize, rest),
                192..=223 => {
                    let second = *rest.first()? as usize;
                    (
                        head & 0x3f,
                        ((first as usize - 192) << 8) + second + 192,
                        &rest[1..],
                    )
                }
                255 => (head & 0x3f, be(rest.get(..4)?), &rest[4..]),
                _ => return None,
            }
        }
        0x80 => {
            let width = match head & 3 {
                0 => 1,
                1 => 2,
                2 => 4,
                _ => return None,
            };
            ((head >> 2) & 0x0f, be(rest.get(..width)?), &rest[width..])
        }
        _ => return None,
    };
    Some((tag, rest.get(..len)?, &rest[len..]))
}

fn be(bytes: &[u8]) -> usize {
    bytes.iter().fold(0, |n, &b| n << 8 | b as usize)
}

/// A public-key packet (tag 6) of version 4 whose key material is exactly what its algorithm
/// has (RSA, DSA, Elgamal: MPIs; ECDH, ECDSA, EdDSA: a curve and a point), then a user id
/// packet (tag 13) of UTF-8 text, as RFC 9580 §10.1 has every transferable public key, and
/// nothing after them but the packets such a key holds.
fn openpgp_public_key(bytes: &[u8]) -> bool {
    let Some((6, key, rest)) = openpgp_packet(bytes) else {
        return false;
    };
    let user_id = match openpgp_packet(rest) {
        Some((13, id, mut after)) => {
            // Then only whole packets a transferable key holds: signatures, trust, user ids
            // and attributes, subkeys.
            while let Some((2 | 12 | 13 | 14 | 17, _, next)) = openpgp_packet(after) {
                after = next;
            }
            after.is_empty()
                && !id.is_empty()
                && std::str::from_utf8(id).is_ok_and(|t| !t.chars().any(char::is_control))
        }
        _ => false,
    };
    let Some((&4, rest)) = key.split_first() else {
        return false;
    };
    let Some((&algorithm, material)) = rest.get(4..).and_then(<[u8]>::split_first) else {
        return false;
    };
    let rest = match algorithm {
        1..=3 => mpis(material, 2),
        16 => mpis(material, 3),
        17 => mpis(material, 4),
        19 | 22 => curve(material),
        // ECDH: the curve, the point, and the KDF parameters (a length, then 0x01 and the hash
        // and cipher ids).
        18 => curve(material)
            .and_then(|kdf| (kdf.len() == 4 && kdf[0] == 3 && kdf[1] == 1).then_some(&kdf[4..])),
        _ => None,
    };
    user_id && rest.is_some_and(<[u8]>::is_empty)
}

/// `n` OpenPGP multiprecision integers; returns what follows them.
fn mpis(mut bytes: &[u8], n: usize) -> Option<&[u8]> {
    for _ in 0..n {
        bytes = mpi(bytes)?;
    }
    Some(bytes)
}

/// An elliptic curve's OID (a length byte, 0 and 255 reserved) and its point.
fn curve(bytes: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = bytes.split_first()?;
    if len == 0 || len == 0xff {
        return None;
    }
    mpis(rest.get(len as usize..)?, 1)
}

/// An OpenPGP multiprecision integer: a bit count, then as many bytes as it needs, the top bit
/// where the count puts it. Returns what follows.
fn mpi(bytes: &[u8]) -> Option<&[u8]> {
    let bits = be(bytes.get(..2)?);
    if bits == 0 || bits > 16384 {
        return None;
    }
    let len = bits.div_ceil(8);
    let value = bytes.get(2..2 + len)?;
    let top = 8 - value[0].leading_zeros() as usize;
    (top == (bits - 1) % 8 + 1).then(|| &bytes[2 + len..])
}

/// An SSH public key blob (RFC 4253 §6.6, RFC 5656, RFC 8709, OpenSSH's `sk-` keys): strings
/// of a 32-bit length, the first naming the key type, then exactly the parts that type has.
fn ssh_public_key(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    let mut parts = Vec::new();
    while !rest.is_empty() && parts.len() < 6 {
        let Some(len) = rest.get(..4).map(be) else {
            return false;
        };
        let Some(part) = rest.get(4..4 + len) else {
            return false;
        };
        parts.push(part);
        rest = &rest[4 + len..];
    }
    let kind = parts.first().copied().unwrap_or_default();
    let expected = match kind {
        b"ssh-rsa" => 3,
        b"ssh-dss" => 5,
        b"ssh-ed25519" | b"ssh-ed448" => 2,
        k if k.starts_with(b"ecdsa-sha2-") => 3,
        k if k.starts_with(b"sk-ecdsa-sha2-") => 4,
        k if k.starts_with(b"sk-ssh-ed25519") => 3,
        _ => return false,
    };
    rest.is_empty() && parts.len() == expected
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
    // OpenVPN's static key (`--secret`, `tls-auth`, `tls-crypt`): 2048 bits as 16 lines of
    // hex between its own armour; either end shares it, and whoever holds it joins the VPN.
    if let Some(at) = find(0, b"OpenVPN Static key V1-----") {
        let start = at + b"OpenVPN Static key V1-----".len();
        let hex = data[start..]
            .iter()
            .take(1024)
            .filter(|b| b.is_ascii_hexdigit())
            .count();
        if hex >= 256 {
            f(start, data.len().min(start + 600));
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

    #[test]
    fn key_stores_are_told_from_certificate_bundles() {
        let pad = |mut v: Vec<u8>| {
            v.resize(96, 0x5a);
            v
        };
        // RFC 7292's PFX: SEQUENCE { INTEGER 3, ContentInfo { pkcs7-data, ... } }.
        let pfx = pad(vec![
            0x30, 0x82, 0x0a, 0x71, 0x02, 0x01, 0x03, 0x30, 0x82, 0x0a, 0x37, 0x06, 0x09, 0x2a, 0x86, 0x48,
            0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0,
        ]);
        assert!(binary_private_key(&pfx));
        assert!(binary_private_key(&pad(vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2])));
        assert!(binary_private_key(&pad(vec![0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2])));
        // A PKCS#7 certificate bundle (signed-data, no version 3 first), another version.
        let p7b = pad(vec![
            0x30, 0x82, 0x0a, 0x71, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ]);
        assert!(!binary_private_key(&p7b));
        let mut other = pfx.clone();
        other[6] = 0x02;
        assert!(!binary_private_key(&other));
        assert!(!binary_private_key(&pad(vec![
            0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 7
        ])));
    }

    #[test]
    fn an_openvpn_static_key_is_found_by_its_armour_and_hex() {
        let lines: String = (1..=16_u128)
            .map(|i| {
                format!(
                    "{:032x}\n",
                    i.wrapping_mul(0x9f3c_17d2_e4a1_5b08_c6f3_2d91_7a4e_0b63)
                )
            })
            .collect();
        let key = format!(
            "#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n{lines}-----END OpenVPN Static key V1-----"
        );
        assert_eq!(text(&key).len(), 1);
        // The armour explained, with no key after it.
        assert!(
            text("a file opening `-----BEGIN OpenVPN Static key V1-----` holds 16 lines of hex").is_empty()
        );
    }
}
