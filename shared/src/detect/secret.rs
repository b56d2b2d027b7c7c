//! Secret values and their keyed fingerprints. A value never prints: Debug shows its length,
//! and memory is zeroed on drop. Findings and logs carry the fingerprint, an HMAC-SHA-256 under
//! a key only Tollgate holds, so equal secrets can be correlated without being revealed.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Serialize, Serializer};
use sha2::Sha256;
use zeroize::Zeroize;

/// Bytes that must not be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl SecretBytes {
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into())
    }

    /// The value itself, for matching; named so every use is easy to find.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// The HMAC key for fingerprints. Only the keyed hash state is kept (the key's inner and outer
/// pads, already hashed), so each fingerprint costs two hash blocks instead of four.
#[derive(Clone)]
pub struct FingerprintKey(Hmac<Sha256>);

impl FingerprintKey {
    /// At least 16 bytes, from the deployment's secret store; shorter keys are refused.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let mut key = key.into();
        if key.len() < 16 {
            let len = key.len();
            key.zeroize();
            return Err(SecretError::KeyTooShort { len });
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key);
        key.zeroize();
        // HMAC accepts keys of any length; the error arm cannot happen.
        mac.map(Self).map_err(|_| SecretError::KeyTooShort { len: 0 })
    }

    /// A fresh random key, for one process that compares fingerprints only with itself.
    pub fn ephemeral() -> Result<Self, SecretError> {
        let mut key = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| SecretError::NoRandomness)?;
        Self::new(key)
    }

    pub fn fingerprint(&self, value: &[u8]) -> Fingerprint {
        let mut mac = self.0.clone();
        mac.update(value);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        Fingerprint(out)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("fingerprint key is {len} bytes; use at least 16 random bytes")]
    KeyTooShort { len: usize },
    #[error("{text:?} is not a fingerprint; write \"fp:\" and 32 hex digits, as findings show it")]
    BadFingerprint { text: String },
    #[error("the system has no randomness for a fingerprint key")]
    NoRandomness,
}

/// First 128 bits of HMAC-SHA-256(key, value), shown as `fp:` and 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 16]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fp:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = SecretError;

    /// The form [`Display`](fmt::Display) writes: `fp:` and 32 lowercase or uppercase hex
    /// digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SecretError::BadFingerprint {
            text: text.chars().take(48).collect(),
        };
        let hex = text.strip_prefix("fp:").ok_or_else(bad)?.as_bytes();
        if hex.len() != 32 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (byte, pair) in out.iter_mut().zip(hex.chunks(2)) {
            let text = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(text, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = SecretBytes::new(b"hunter2-hunter2".to_vec());
        let key = FingerprintKey::new(b"0123456789abcdef0123".to_vec()).expect("long enough");
        assert_eq!(format!("{secret:?}"), "SecretBytes(15 bytes)");
        assert!(!format!("{key:?}").contains("0123"));
    }

    #[test]
    fn fingerprints_depend_on_key_and_value() {
        let a = FingerprintKey::new(vec![1u8; 32]).expect("long enough");
        let b = FingerprintKey::new(vec![2u8; 32]).expect("long enough");
        assert_eq!(a.fingerprint(b"x"), a.fingerprint(b"x"));
        assert_ne!(a.fingerprint(b"x"), a.fingerprint(b"y"));
        assert_ne!(a.fingerprint(b"x"), b.fingerprint(b"x"));
        assert_eq!(a.fingerprint(b"x").to_string().len(), 3 + 32);
    }

    #[test]
    fn fingerprints_parse_back_from_their_display() {
        let key = FingerprintKey::new(vec![3u8; 32]).expect("long enough");
        let fp = key.fingerprint(b"value");
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(
            fp.to_string().to_uppercase().replace("FP:", "fp:").parse(),
            Ok(fp)
        );
        for bad in [
            "",
            "fp:",
            "fp:0123",
            "0123456789abcdef0123456789abcdef",
            "fp:0123456789abcdef0123456789abcdeg",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            FingerprintKey::new(vec![0u8; 8]).err(),
            Some(SecretError::KeyTooShort { len: 8 })
        );
    }
}
