//! The operator's list of known secrets: a file with one value per line, loaded once at start
//! and matched exactly (and in its base64, hex and percent-encoded forms) in every request.
//! Values are held as `SecretBytes`; errors name the file and line, never the value.

use std::path::{Path, PathBuf};

use thiserror::Error;
use tollgate_shared::detect::{KnownSecretError, KnownSecrets, MIN_KNOWN_LEN, SecretBytes};
use zeroize::Zeroize;

#[derive(Debug, Error)]
pub enum KnownListError {
    #[error("cannot read the known-secrets file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}:{line}: the value is {len} bytes; list values of at least {MIN_KNOWN_LEN} bytes (shorter ones would match by chance)"
    )]
    TooShort { path: PathBuf, line: usize, len: usize },
    #[error("{path}: {source}")]
    Build { path: PathBuf, source: KnownSecretError },
}

/// Reads and compiles the list at `path`.
pub fn load(path: &Path) -> Result<KnownSecrets, KnownListError> {
    let mut text = std::fs::read(path).map_err(|source| KnownListError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed = parse(&text);
    // The raw file holds every value: wipe it as soon as the values are copied out.
    text.zeroize();
    let values = parsed.map_err(|(line, len)| KnownListError::TooShort {
        path: path.to_owned(),
        line,
        len,
    })?;
    KnownSecrets::new(values).map_err(|source| KnownListError::Build {
        path: path.to_owned(),
        source,
    })
}

/// One value per line, surrounding whitespace trimmed; blank lines and lines starting with
/// `#` are skipped (a `#` inside a value is part of it). A too-short value is reported by
/// its 1-based line number and length.
fn parse(text: &[u8]) -> Result<Vec<SecretBytes>, (usize, usize)> {
    let mut values = Vec::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let value = line.trim_ascii();
        if value.is_empty() || value.starts_with(b"#") {
            continue;
        }
        if value.len() < MIN_KNOWN_LEN {
            return Err((index + 1, value.len()));
        }
        values.push(SecretBytes::new(value.to_vec()));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped_and_values_trimmed() {
        let values =
            parse(b"# operator list\n\n  first-value-123 \r\nsecond#value-456\n   # indented comment\n")
                .expect("valid");
        let exposed: Vec<&[u8]> = values.iter().map(SecretBytes::expose).collect();
        assert_eq!(exposed, vec![&b"first-value-123"[..], &b"second#value-456"[..]]);
    }

    #[test]
    fn a_short_value_is_refused_by_line_without_its_value() {
        let dir = tempfile_dir();
        let path = dir.join("known.txt");
        std::fs::write(&path, "# list\nlong-enough-value\nshort7\n").expect("write");
        let error = load(&path).expect_err("too short");
        let message = error.to_string();
        assert!(message.contains("known.txt:3"), "{message}");
        assert!(!message.contains("short7"), "the value must not be in the error");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_loaded_list_debugs_as_counts_only() {
        let dir = tempfile_dir();
        let path = dir.join("known.txt");
        std::fs::write(&path, "operator-listed-value-1\noperator-listed-value-2\n").expect("write");
        let set = load(&path).expect("valid");
        assert_eq!(set.len(), 2);
        assert!(!format!("{set:?}").contains("operator-listed"));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-known-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }
}
