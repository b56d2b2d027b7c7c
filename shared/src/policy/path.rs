//! Path prefixes in egress rules, and the normalisation of request paths before matching.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathPrefixError {
    #[error("a path prefix must start with `/`")]
    NotAbsolute { fix: String },
    #[error("a path prefix must not contain a query or fragment")]
    HasQuery { fix: String },
    #[error(
        "a path prefix must be in normal form (no `.`/`..` segments or percent-escapes of plain characters)"
    )]
    NotNormal { fix: String },
}

impl PathPrefixError {
    pub fn fix(&self) -> &str {
        match self {
            Self::NotAbsolute { fix } | Self::HasQuery { fix } | Self::NotNormal { fix } => fix,
        }
    }
}

/// A path prefix, matched segment-wise: `/repos` matches `/repos` and `/repos/x` but not
/// `/repository`; `/repos/` matches only what lies below `/repos/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathPrefix(String);

impl PathPrefix {
    pub fn parse(text: &str) -> Result<Self, PathPrefixError> {
        if !text.starts_with('/') {
            return Err(PathPrefixError::NotAbsolute {
                fix: format!("/{text}"),
            });
        }
        if let Some(end) = text.find(['?', '#']) {
            return Err(PathPrefixError::HasQuery {
                fix: text[..end].to_owned(),
            });
        }
        match normalize(text) {
            Some(normal) if normal == text => Ok(Self(normal)),
            Some(normal) => Err(PathPrefixError::NotNormal { fix: normal }),
            None => Err(PathPrefixError::NotNormal { fix: "/".to_owned() }),
        }
    }

    /// Whether a normalised request path falls under this prefix.
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.0.as_str();
        match path.strip_prefix(prefix) {
            Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// Whether every path under `other` is also under `self`.
    pub fn covers(&self, other: &PathPrefix) -> bool {
        self.matches(&other.0)
            && (self.0.ends_with('/') || !other.0.ends_with('/') || other.0.len() > self.0.len())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PathPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The path a server will act on: query and fragment dropped, dot segments (also when
/// percent-encoded, `%2e%2e`) resolved, as the WHATWG URL standard does. `None` if the
/// target is not an origin-form path.
pub fn normalize(target: &str) -> Option<String> {
    if !target.starts_with('/') {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if already_normal(path) {
        // The common case, which the URL parser would hand back unchanged.
        return Some(path.to_owned());
    }
    let url = url::Url::parse(&format!("http://host.invalid{target}")).ok()?;
    Some(url.path().to_owned())
}

/// Whether the URL parser would leave this path as it is: only characters it neither
/// escapes nor reinterprets (no `%`, no `\`, nothing outside printable ASCII) and no dot
/// segment.
fn already_normal(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b))
        && !path.split('/').any(|segment| segment == "." || segment == "..")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What [`normalize`] gives without its shortcut.
    fn parsed(target: &str) -> Option<String> {
        let url = url::Url::parse(&format!("http://host.invalid{target}")).ok()?;
        Some(url.path().to_owned())
    }

    proptest! {
        #[test]
        fn the_shortcut_agrees_with_the_url_parser(
            target in "/[a-zA-Z0-9./%?#\\\\ ~:@!$&'()*+,;=`{}^|<>\"\t\n-]{0,24}"
        ) {
            prop_assert_eq!(normalize(&target), parsed(&target));
        }
    }

    #[test]
    fn the_shortcut_takes_only_paths_already_normal() {
        for normal in [
            "/",
            "/1k",
            "/repos/a-b_c.d~e/x:y@z",
            "//double",
            "/a/.../b",
            "/x?q=/../y",
        ] {
            assert_eq!(normalize(normal), parsed(normal), "{normal}");
            assert!(
                already_normal(normal.split('?').next().unwrap_or(normal)),
                "{normal}"
            );
        }
        for other in [
            "/a/./b",
            "/a/..",
            "/%2e%2e/x",
            "/a\\b",
            "/a b",
            "/caf\u{e9}",
            "/a^b",
        ] {
            assert!(!already_normal(other), "{other}");
            assert_eq!(normalize(other), parsed(other), "{other}");
        }
    }

    #[test]
    fn dot_segments_are_resolved_before_matching() {
        assert_eq!(normalize("/repos/../admin").as_deref(), Some("/admin"));
        assert_eq!(normalize("/repos/%2e%2E/admin?x=1").as_deref(), Some("/admin"));
        assert_eq!(normalize("/a/./b#frag").as_deref(), Some("/a/b"));
        assert_eq!(normalize("relative"), None);
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let repos = PathPrefix::parse("/repos").expect("valid");
        assert!(repos.matches("/repos"));
        assert!(repos.matches("/repos/x/y"));
        assert!(!repos.matches("/repository"));
        let below = PathPrefix::parse("/repos/").expect("valid");
        assert!(below.matches("/repos/x"));
        assert!(!below.matches("/repos"));
    }

    #[test]
    fn covering_is_consistent_with_matching() {
        let p = |s| PathPrefix::parse(s).expect("valid");
        assert!(p("/repos").covers(&p("/repos/")));
        assert!(p("/repos").covers(&p("/repos/x")));
        assert!(!p("/repos/").covers(&p("/repos")));
        assert!(!p("/repos").covers(&p("/repository")));
        assert!(p("/").covers(&p("/anything")));
    }

    #[test]
    fn prefixes_must_be_normal() {
        assert_eq!(
            PathPrefix::parse("repos").map_err(|e| e.fix().to_owned()),
            Err("/repos".to_owned())
        );
        assert_eq!(
            PathPrefix::parse("/a/../b").map_err(|e| e.fix().to_owned()),
            Err("/b".to_owned())
        );
        assert_eq!(
            PathPrefix::parse("/a?x=1").map_err(|e| e.fix().to_owned()),
            Err("/a".to_owned())
        );
    }
}
