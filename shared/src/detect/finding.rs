//! What a scan reports: findings (detector, location, encoding chain, fingerprint) and, when a
//! body could not be judged within the bounds, why not.

use std::fmt;

use serde::{Serialize, Serializer};

use super::secret::Fingerprint;

/// The reason code every finding carries.
pub const SECRET_DETECTED: &str = crate::outcome::Reason::SecretDetected.as_str();

/// Where in the request a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    UrlUserinfo,
    UrlHost,
    UrlPath,
    UrlQuery,
    UrlFragment,
    /// A header, by its lowercased name.
    Header(String),
    /// Offset of the start of the outermost span that held the secret: in the body as sent,
    /// or, under a content-encoding, in the decoded body.
    Body {
        offset: u64,
    },
    /// The request method (a token a client may fill with anything).
    Method,
    /// The header names, judged together (a name can be a token, or an access key id whose
    /// value is its secret).
    HeaderNames,
    /// Offset in the stream of client-to-server WebSocket message payloads (unmasked,
    /// reassembled and inflated) where the judged message starts.
    WebSocket {
        offset: u64,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UrlUserinfo => f.write_str("url.userinfo"),
            Self::UrlHost => f.write_str("url.host"),
            Self::UrlPath => f.write_str("url.path"),
            Self::UrlQuery => f.write_str("url.query"),
            Self::UrlFragment => f.write_str("url.fragment"),
            Self::Header(name) => write!(f, "header.{name}"),
            Self::Body { offset } => write!(f, "body@{offset}"),
            Self::Method => f.write_str("method"),
            Self::HeaderNames => f.write_str("header-names"),
            Self::WebSocket { offset } => write!(f, "websocket@{offset}"),
        }
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One decoding step between the request as sent and the text a detector matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
    Percent,
    Base64,
    Hex,
    Base32,
    /// Ascii85, RFC 1924 or Z85.
    Base85,
    Escape,
    /// HTML and XML character references (`&#107;`, `&#x6B;`).
    CharRef,
    QuotedPrintable,
    Unicode,
    Multipart,
    /// An entry of a zip archive.
    Zip,
    /// A file of a tar archive.
    Tar,
    /// Pieces of equal length in consecutive fields, joined (`"a": "ghp_…", "b": "…"`).
    Joined,
    /// Letters rotated by thirteen places.
    Rot13,
    /// Text written backwards.
    Reversed,
    /// Bytes or characters written as a list of numbers (`[186, 59, …]`, `fromCharCode(…)`).
    Numbers,
    /// Bytes XORed with a key the text states beside them.
    Xor,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
            Self::Percent => "percent",
            Self::Base64 => "base64",
            Self::Hex => "hex",
            Self::Base32 => "base32",
            Self::Escape => "escape",
            Self::CharRef => "char-ref",
            Self::QuotedPrintable => "quoted-printable",
            Self::Unicode => "unicode",
            Self::Multipart => "multipart",
            Self::Zip => "zip",
            Self::Tar => "tar",
            Self::Joined => "joined",
            Self::Rot13 => "rot13",
            Self::Reversed => "reversed",
            Self::Numbers => "numbers",
            Self::Xor => "xor",
            Self::Base85 => "base85",
        }
    }
}

/// Outermost first: `gzip>base64` is base64 inside a gzip body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EncodingChain(Vec<Encoding>);

impl EncodingChain {
    pub fn then(&self, next: Encoding) -> Self {
        let mut steps = self.0.clone();
        steps.push(next);
        Self(steps)
    }

    pub fn steps(&self) -> &[Encoding] {
        &self.0
    }

    pub fn depth(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for EncodingChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("plain");
        }
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(">")?;
            }
            f.write_str(step.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for EncodingChain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A secret found. It holds the fingerprint only, so printing it is safe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Always [`SECRET_DETECTED`].
    pub reason: &'static str,
    pub detector: &'static str,
    pub location: Location,
    pub encoding: EncodingChain,
    pub fingerprint: Fingerprint,
    /// How sure the detector is. Every finding blocks; confidence only informs the reader.
    pub confidence: Confidence,
}

/// How much more than its shape a finding has going for it. Checks raise confidence; they are
/// never the reason a value with an unmistakable shape is let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The shape alone: a checksum that fails, a value that looks fake, a length off from
    /// the vendor's format, or a value vendors publish as an example.
    Low,
    /// The shape and its context or randomness.
    High,
    /// A format checksum holds (GitHub CRC32, base58check, Luhn, mod-97, EIP-55 ...).
    Verified,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::High => "high",
            Self::Verified => "verified",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body (or URL, or header) could not be judged within the bounds. In enforce mode the
/// request is blocked with [`Unjudged::reason_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Unjudged {
    /// More bytes than the engine may hold or decode.
    TooLarge { limit: usize },
    /// Still encoded after the deepest decoding allowed.
    TooDeep { depth: usize },
    /// A compressed body expanded past the allowed size or ratio.
    DecompressionBomb { limit: usize },
    /// A declared content-encoding that does not decode.
    Undecodable,
}

impl Unjudged {
    pub fn reason(self) -> crate::outcome::Reason {
        use crate::outcome::Reason;
        match self {
            Self::TooLarge { .. } => Reason::BodyTooLargeToInspect,
            Self::TooDeep { .. } => Reason::EncodingTooDeepToInspect,
            Self::DecompressionBomb { .. } => Reason::DecompressionBomb,
            Self::Undecodable => Reason::UndecodableBody,
        }
    }
}

/// The result of scanning one part of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub unjudged: Option<Unjudged>,
}

impl Outcome {
    /// Nothing found and everything judged.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.unjudged.is_none()
    }

    pub fn merge(&mut self, other: Outcome) {
        for f in other.findings {
            if !self.findings.contains(&f) {
                self.findings.push(f);
            }
        }
        self.unjudged = self.unjudged.or(other.unjudged);
    }
}
