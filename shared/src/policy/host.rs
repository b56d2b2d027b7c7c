//! Host patterns as policies write them, and request hosts as the proxy sees them.
//!
//! A pattern is an exact name, a `*.` prefix wildcard (one or more labels below the suffix),
//! or an IP literal. Request hosts are normalised once (case, trailing dot, IDNA, every IPv4
//! notation) so that matching is a plain comparison.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

/// Why a host pattern in a policy is not acceptable, with the fix where one is obvious.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostPatternError {
    #[error("host pattern is empty")]
    Empty,
    #[error("host pattern must be lowercase")]
    Uppercase { fix: String },
    #[error("host pattern must not end with a dot")]
    TrailingDot { fix: String },
    #[error("internationalised names must be written in punycode")]
    NotPunycode { fix: String },
    #[error("a host pattern is a host name only, without scheme, port or path")]
    NotAHost { fix: String },
    #[error("only a `*.` prefix wildcard is supported")]
    BadWildcard { fix: Option<String> },
    #[error("`{label}` is not a valid DNS label (letters, digits, `-` and `_`; 1 to 63 bytes)")]
    BadLabel { label: String },
    #[error("host name is longer than 253 bytes")]
    TooLong,
    #[error("IP literal is not in canonical form")]
    NonCanonicalIp { fix: String },
}

impl HostPatternError {
    /// The suggested replacement, if there is one.
    pub fn fix(&self) -> Option<&str> {
        match self {
            Self::Uppercase { fix }
            | Self::TrailingDot { fix }
            | Self::NotPunycode { fix }
            | Self::NotAHost { fix }
            | Self::NonCanonicalIp { fix } => Some(fix),
            Self::BadWildcard { fix } => fix.as_deref(),
            Self::Empty | Self::BadLabel { .. } | Self::TooLong => None,
        }
    }
}

/// A validated host pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// Exactly this name.
    Exact(String),
    /// Any name with one or more labels in front of this suffix (`*.example.com` is stored
    /// as `example.com`).
    Wildcard(String),
    /// Exactly this address.
    Ip(IpAddr),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, HostPatternError> {
        if text.is_empty() {
            return Err(HostPatternError::Empty);
        }
        if let Some(host) = not_just_a_host(text) {
            return Err(HostPatternError::NotAHost { fix: host });
        }
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return canonical_ip(text, ip);
        }
        if let Some(ip) = lenient_ipv4(text) {
            return Err(HostPatternError::NonCanonicalIp { fix: ip.to_string() });
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if name.contains('*') {
            let fix = name
                .rsplit_once('*')
                .map(|(_, tail)| format!("*.{}", tail.trim_start_matches('.')));
            return Err(HostPatternError::BadWildcard {
                fix: fix.filter(|f| f != "*."),
            });
        }
        check_name(text, name)?;
        Ok(if wildcard {
            Self::Wildcard(name.to_owned())
        } else {
            Self::Exact(name.to_owned())
        })
    }

    /// Whether a request to `host` matches this pattern.
    pub fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Exact(pattern), Host::Name(name)) => pattern == name,
            (Self::Wildcard(suffix), Host::Name(name)) => is_strict_subdomain(name, suffix),
            (Self::Ip(pattern), Host::Ip(ip)) => pattern == ip,
            _ => false,
        }
    }

    /// Whether every host this `other` pattern matches is also matched by `self`.
    pub fn covers(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (Self::Wildcard(a), Self::Wildcard(b)) => a == b || is_strict_subdomain(b, a),
            (Self::Wildcard(a), Self::Exact(b)) => is_strict_subdomain(b, a),
            (a, b) => a == b,
        }
    }

    /// For a wildcard, the suffix it sits on is a public suffix (`*.com`, `*.co.uk`,
    /// `*.github.io`): anyone can register a name under it.
    pub fn is_public_suffix_wildcard(&self) -> bool {
        match self {
            Self::Wildcard(suffix) => psl::suffix_str(suffix) == Some(suffix.as_str()),
            _ => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A request's destination host, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// Why a request's host cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid host {host:?}: {reason}")]
pub struct HostError {
    pub host: String,
    pub reason: String,
}

impl Host {
    /// Normalises a host as a client sent it: case, one trailing dot, IDNA to punycode, and
    /// IPv4 written in any notation the WHATWG URL standard accepts (`0x7f.1`, `2130706433`).
    pub fn parse(raw: &str) -> Result<Self, HostError> {
        let trimmed = raw.strip_suffix('.').unwrap_or(raw);
        let error = |reason: String| HostError {
            host: raw.to_owned(),
            reason,
        };
        if trimmed.is_empty() || trimmed.ends_with('.') {
            return Err(error("empty label".to_owned()));
        }
        // IPv6 arrives bracketed from URLs and Host headers, bare from CONNECT targets.
        let bracketed;
        let input = if trimmed.contains(':') && !trimmed.starts_with('[') {
            bracketed = format!("[{trimmed}]");
            &bracketed
        } else {
            trimmed
        };
        match url::Host::parse(input).map_err(|e| error(e.to_string()))? {
            url::Host::Domain(name) => Ok(Self::Name(name)),
            url::Host::Ipv4(ip) => Ok(Self::Ip(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => Ok(Self::Ip(IpAddr::V6(ip))),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// `name` is `suffix` with at least one more label in front (`a.example.com` under
/// `example.com`; never `example.com` itself nor `evilexample.com`).
fn is_strict_subdomain(name: &str, suffix: &str) -> bool {
    name.len() > suffix.len() + 1
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

/// If the text carries a scheme, port, path or userinfo, the bare host it should have been.
fn not_just_a_host(text: &str) -> Option<String> {
    let looks_like_url = text.contains("://") || text.contains('/') || text.contains('@');
    let has_port = !text.starts_with('[') && text.matches(':').count() == 1;
    if !looks_like_url && !has_port {
        return None;
    }
    let without_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or(without_scheme);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    Some(host.to_owned())
}

fn canonical_ip(text: &str, ip: IpAddr) -> Result<HostPattern, HostPatternError> {
    if text == ip.to_string() {
        Ok(HostPattern::Ip(ip))
    } else {
        Err(HostPatternError::NonCanonicalIp { fix: ip.to_string() })
    }
}

/// IPv4 in one of the notations browsers accept but that a reviewer would not recognise.
fn lenient_ipv4(text: &str) -> Option<IpAddr> {
    match url::Host::parse(text) {
        Ok(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        _ => None,
    }
}

fn check_name(text: &str, name: &str) -> Result<(), HostPatternError> {
    if name.ends_with('.') {
        return Err(HostPatternError::TrailingDot {
            fix: text.trim_end_matches('.').to_owned(),
        });
    }
    if !name.is_ascii() {
        let ascii = idna::domain_to_ascii(name).unwrap_or_default();
        let prefix = if text.starts_with("*.") { "*." } else { "" };
        return Err(HostPatternError::NotPunycode {
            fix: format!("{prefix}{ascii}"),
        });
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(HostPatternError::Uppercase {
            fix: text.to_ascii_lowercase(),
        });
    }
    if name.len() > 253 {
        return Err(HostPatternError::TooLong);
    }
    for label in name.split('.') {
        let valid_chars = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if label.is_empty()
            || label.len() > 63
            || !valid_chars
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(HostPatternError::BadLabel {
                label: label.to_owned(),
            });
        }
    }
    // A numeric last label makes the whole name an IPv4 address to URL parsers.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|last| lenient_ipv4(last).is_some())
    {
        return Err(HostPatternError::BadLabel {
            label: name.rsplit('.').next().unwrap_or_default().to_owned(),
        });
    }
    // Punycode labels must decode; `xn--` followed by garbage is not a name.
    if name.split('.').any(|l| l.starts_with("xn--"))
        && idna::domain_to_ascii(name).ok().as_deref() != Some(name)
    {
        return Err(HostPatternError::BadLabel {
            label: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
