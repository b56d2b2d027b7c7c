//! Signed checkpoints: every so often each writer signs the state of its file with its own
//! Ed25519 key, as a C2SP `tlog-checkpoint` in the C2SP `signed-note` format, so any tool
//! that reads those (Go's `golang.org/x/mod/sumdb/note`, sigsum, litetlog...) can check it.
//!
//! The checkpoint's tree is the RFC 6962 Merkle tree whose leaves are the records' `hash`
//! values, in `seq` order: a checkpoint of size N commits to the first N records, and the
//! file can be checked against it by recomputing the root. A checkpoint is written twice:
//! as a record in the chain (`provenance.checkpoint`), and alone, replacing the last one, in
//! the file beside it (`<file>.checkpoint`) which is the anchor for the file's tail.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The signature algorithm byte of Ed25519 in signed notes.
const ED25519_ALG: u8 = 0x01;

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot read or write the provenance key {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("the provenance key {path} is not an Ed25519 PKCS#8 key")]
    KeyFormat { path: PathBuf },
    #[error("cannot make a key: the system's random source failed")]
    Random,
    #[error("the key name {0:?} may not be empty or hold spaces or '+'")]
    KeyName(String),
    #[error("not a verifier key (want name+hash+base64): {0}")]
    VerifierKey(String),
    #[error("not a signed checkpoint: {0}")]
    Malformed(String),
}

/// One writer's signing key.
#[derive(Debug)]
pub struct Signer {
    name: String,
    pair: Ed25519KeyPair,
}

/// A public key that checks signatures, in the signed-note verifier key form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    key_hash: [u8; 4],
    public: Vec<u8>,
}

fn key_hash(name: &str, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519_ALG]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

impl Signer {
    /// Loads the key in `path`, or makes one there (mode 0600) with its verifier key beside
    /// it in `<path>.pub`.
    pub fn load_or_create(path: &Path, name: &str) -> Result<Self, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::KeyName(name.to_owned()));
        }
        let file_error = |source| CheckpointError::KeyFile {
            path: path.to_owned(),
            source,
        };
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CheckpointError::Random)?;
                write_private(path, doc.as_ref()).map_err(file_error)?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(file_error(e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CheckpointError::KeyFormat {
            path: path.to_owned(),
        })?;
        let signer = Self {
            name: name.to_owned(),
            pair,
        };
        let mut public = path.as_os_str().to_owned();
        public.push(".pub");
        std::fs::write(PathBuf::from(public), format!("{}\n", signer.verifier())).map_err(file_error)?;
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> VerifierKey {
        let public = self.pair.public_key().as_ref().to_vec();
        VerifierKey {
            name: self.name.clone(),
            key_hash: key_hash(&self.name, &public),
            public,
        }
    }

    /// A signer from a raw Ed25519 seed (the form other tools' private keys take).
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Self, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::KeyName(name.to_owned()));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| CheckpointError::KeyFormat {
            path: PathBuf::from("<seed>"),
        })?;
        Ok(Self {
            name: name.to_owned(),
            pair,
        })
    }

    /// The signed checkpoint for a tree of `size` leaves with root `root`.
    pub fn sign(&self, origin: &str, size: u64, root: &[u8; 32]) -> String {
        self.sign_note(&checkpoint_body(origin, size, root))
    }

    /// `text` (ending in a newline) as a signed note.
    pub fn sign_note(&self, text: &str) -> String {
        let signature = self.pair.sign(text.as_bytes());
        let mut blob = self.verifier().key_hash.to_vec();
        blob.extend_from_slice(signature.as_ref());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn checkpoint_body(origin: &str, size: u64, root: &[u8; 32]) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut key = vec![ED25519_ALG];
        key.extend_from_slice(&self.public);
        write!(
            f,
            "{}+{}+{}",
            self.name,
            self.key_hash
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            B64.encode(key)
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CheckpointError::VerifierKey(text.chars().take(80).collect());
        // The base64 key may itself hold '+': only the first two separate fields.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let key = B64.decode(key).map_err(|_| bad())?;
        let (Some(&ED25519_ALG), public) = (key.first(), key.get(1..).unwrap_or_default()) else {
            return Err(bad());
        };
        if public.len() != 32 || !valid_name(name) {
            return Err(bad());
        }
        let expected = key_hash(name, public);
        if decode_hex(hash).as_deref() != Some(&expected[..]) {
            return Err(bad());
        }
        Ok(Self {
            name: name.to_owned(),
            key_hash: expected,
            public: public.to_vec(),
        })
    }
}

/// A signed note: a text and the signatures over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    /// (key name, key hash, signature)
    signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

impl Note {
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError::Malformed(why.to_owned());
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let mut parsed = Vec::new();
        for line in signatures.lines().filter(|l| !l.is_empty()) {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("a signature line does not start with an em dash"))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line has no signature"))?;
            let blob = B64.decode(blob).map_err(|_| bad("a signature is not base64"))?;
            if blob.len() < 5 {
                return Err(bad("a signature is too short"));
            }
            let hash = [blob[0], blob[1], blob[2], blob[3]];
            parsed.push((name.to_owned(), hash, blob[4..].to_vec()));
        }
        if parsed.is_empty() {
            return Err(bad("no signatures"));
        }
        Ok(Self {
            text: text.to_owned(),
            signatures: parsed,
        })
    }

    /// Whether `key` signed this note (a signature by that name and key hash that verifies).
    pub fn signed_by(&self, key: &VerifierKey) -> bool {
        self.signatures.iter().any(|(name, hash, signature)| {
            *name == key.name
                && *hash == key.key_hash
                && UnparsedPublicKey::new(&ED25519, &key.public)
                    .verify(self.text.as_bytes(), signature)
                    .is_ok()
        })
    }

    /// The names that signed it.
    pub fn signers(&self) -> impl Iterator<Item = &str> {
        self.signatures.iter().map(|(name, _, _)| name.as_str())
    }
}

/// A checkpoint read back from its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    pub note: Note,
}

impl Checkpoint {
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError::Malformed(why.to_owned());
        let note = Note::parse(text)?;
        let mut lines = note.text.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line is not a tree size"))?;
        let root: [u8; 32] = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the third line is not a 32-byte root hash"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            note,
        })
    }

    pub fn signed_by(&self, key: &VerifierKey) -> bool {
        self.note.signed_by(key)
    }
}

/// The RFC 6962 Merkle tree of a file's record hashes, kept as its compact range (one
/// subtree hash per set bit of the size): O(log n) memory, O(1) amortised per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    size: u64,
    /// Perfect subtrees, largest first.
    stack: Vec<[u8; 32]>,
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

impl Tree {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds one leaf: a record's `hash` (its hex text decoded; other text hashed as bytes).
    pub fn push(&mut self, record_hash: &str) {
        let data = decode_hex(record_hash).unwrap_or_else(|| record_hash.as_bytes().to_vec());
        let mut h = Sha256::new();
        h.update([0x00]);
        h.update(&data);
        let mut hash: [u8; 32] = h.finalize().into();
        let mut size = self.size;
        // Merge equal-sized subtrees: one per trailing set bit of the old size.
        while size & 1 == 1 {
            let left = self.stack.pop().unwrap_or_default();
            hash = node(&left, &hash);
            size >>= 1;
        }
        self.stack.push(hash);
        self.size += 1;
    }

    /// The tree's root (SHA-256 of nothing for the empty tree).
    pub fn root(&self) -> [u8; 32] {
        let mut iter = self.stack.iter().rev();
        let Some(last) = iter.next() else {
            return Sha256::digest([]).into();
        };
        iter.fold(*last, |acc, left| node(left, &acc))
    }
}

pub(super) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's definition, computed directly, to check the compact range against.
    fn reference_root(leaves: &[&str]) -> [u8; 32] {
        fn mth(hashes: &[[u8; 32]]) -> [u8; 32] {
            match hashes.len() {
                0 => Sha256::digest([]).into(),
                1 => hashes[0],
                n => {
                    let k = n.next_power_of_two() / 2;
                    node(&mth(&hashes[..k]), &mth(&hashes[k..]))
                }
            }
        }
        let hashes: Vec<[u8; 32]> = leaves
            .iter()
            .map(|l| {
                let mut h = Sha256::new();
                h.update([0x00]);
                h.update(decode_hex(l).expect("hex"));
                h.finalize().into()
            })
            .collect();
        mth(&hashes)
    }

    #[test]
    fn the_compact_range_gives_rfc_6962_roots_at_every_size() {
        let leaves: Vec<String> = (0..70u32)
            .map(|i| format!("{:064x}", u64::from(i) * 7919 + 1))
            .collect();
        let mut tree = Tree::default();
        assert_eq!(tree.root(), reference_root(&[]));
        for n in 1..=leaves.len() {
            tree.push(&leaves[n - 1]);
            let refs: Vec<&str> = leaves[..n].iter().map(String::as_str).collect();
            assert_eq!(tree.root(), reference_root(&refs), "size {n}");
        }
        assert!(tree.stack.len() <= 7, "one subtree per set bit of 70");
    }

    #[test]
    fn a_signed_note_round_trips_and_only_its_key_verifies_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let signer = Signer::load_or_create(&dir.path().join("k"), "tollgate/proxy").expect("key");
        let again = Signer::load_or_create(&dir.path().join("k"), "tollgate/proxy").expect("same key");
        assert_eq!(signer.verifier(), again.verifier());
        let other = Signer::load_or_create(&dir.path().join("k2"), "tollgate/proxy").expect("key");
        let note = signer.sign("tollgate/proxy", 42, &[7u8; 32]);
        assert!(note.starts_with("tollgate/proxy\n42\n"), "{note}");
        assert!(note.contains("\n\n\u{2014} tollgate/proxy "), "{note}");
        let checkpoint = Checkpoint::parse(&note).expect("parse");
        assert_eq!((checkpoint.size, checkpoint.root), (42, [7u8; 32]));
        let verifier: VerifierKey = signer.verifier().to_string().parse().expect("verifier key");
        assert!(checkpoint.signed_by(&verifier));
        assert!(!checkpoint.signed_by(&other.verifier()));
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert!(!Checkpoint::parse(&forged).expect("parse").signed_by(&verifier));
        let pub_file = std::fs::read_to_string(dir.path().join("k.pub"))
            .expect("the verifier key is written beside the key");
        assert_eq!(pub_file.trim(), verifier.to_string());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("k"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// Go's `golang.org/x/mod/sumdb/note` test vector: its key signs its text into exactly
    /// its note, and its note verifies here, so the format is the one other tools read.
    #[test]
    fn the_reference_implementations_test_vector_signs_and_verifies() {
        let private = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; // from PRIVATE+KEY+PeterNeumann+c74f20a3+...
        let seed = B64.decode(private).expect("b64");
        let signer = Signer::from_seed("PeterNeumann", &seed[1..]).expect("seed");
        assert_eq!(
            signer.verifier().to_string(),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let want = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        assert_eq!(signer.sign_note(text), want);
        let note = Note::parse(&want).expect("parse");
        assert_eq!(note.text, text);
        assert!(note.signed_by(&signer.verifier()));
        let tampered = Note::parse(&want.replace("cryptography", "cryptographY")).expect("parse");
        assert!(!tampered.signed_by(&signer.verifier()));
    }
}
