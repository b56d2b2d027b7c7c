//! The hash chain: sealing a record onto the chain, and verifying a file's lines.
//!
//! What verification proves: every line present was written by the chain in this order, none
//! in between was removed, changed or added, and every checkpoint in it was signed by its
//! writer's key over exactly the records before it. What it cannot prove alone: that nothing
//! was cut off after the last line. Records after the last checkpoint are held only by the
//! chain, and a file cut back to any earlier record still verifies. A checkpoint kept apart
//! from the file (the `<file>.checkpoint` anchor, or one copied elsewhere) shows a cut back
//! below its size; records written after that checkpoint remain unprovable until the next.

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::checkpoint::{Checkpoint, Tree, VerifierKey};
use super::{Event, Record, SCHEMA};

/// The event type of a checkpoint record, and its attributes.
pub const CHECKPOINT: &str = "provenance.checkpoint";
pub const CHECKPOINT_NOTE: &str = "tollgate.checkpoint.note";
pub const CHECKPOINT_KEY: &str = "tollgate.checkpoint.key";
/// The event type that opens a file after rotation, naming the file before.
pub const ROTATE: &str = "provenance.rotate";

/// `prev_hash` of a chain's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("line {line}: not a provenance record: {message}")]
    Unreadable { line: usize, message: String },
    #[error("line {line}: the record was changed after it was written (its hash does not match)")]
    Edited { line: usize },
    #[error(
        "line {line}: seq {found} where {expected} was due: a record was removed, inserted or moved before it"
    )]
    OutOfSequence { line: usize, expected: u64, found: u64 },
    #[error(
        "line {line}: prev_hash does not name the record before it: a record was removed, inserted or moved"
    )]
    BrokenLink { line: usize },
    #[error("line {line}: checkpoint does not hold: {problem}")]
    BadCheckpoint { line: usize, problem: String },
    #[error(
        "the file has {records} record(s) but its checkpoint anchor covers {size}: records were cut off the end"
    )]
    Truncated { records: u64, size: u64 },
    #[error("the checkpoint anchor does not hold: {problem}")]
    BadAnchor { problem: String },
}

/// What a file is checked against besides itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust<'a> {
    /// Keys trusted to sign checkpoints; when empty, each checkpoint is checked against the
    /// key it names (which proves it consistent, not who wrote it).
    pub keys: &'a [VerifierKey],
    /// A checkpoint kept apart from the file: the file must hold at least its records.
    pub anchor: Option<&'a Checkpoint>,
}

fn digest(record: &Record) -> String {
    let mut unsealed = record.clone();
    unsealed.hash = String::new();
    // Field order is fixed by the struct and attribute maps are sorted, so the same record
    // always serialises to the same bytes.
    let bytes = serde_json::to_vec(&unsealed).unwrap_or_default();
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The record for `event` following `(seq, hash)` of the chain's last record.
pub fn seal(event: Event, last_seq: u64, last_hash: &str) -> Record {
    let mut record = Record {
        schema: SCHEMA.to_owned(),
        seq: last_seq + 1,
        prev_hash: last_hash.to_owned(),
        hash: String::new(),
        event,
    };
    seal_into(&mut record, &mut Vec::new());
    record
}

/// Seals `record` (its `hash` empty) and appends its line to `line`: one serialisation,
/// hashed, with the hash then written into its place. The same bytes [`digest`] hashes,
/// since `hash` is the fourth field and nothing before it can hold `"hash":""`.
pub fn seal_into(record: &mut Record, line: &mut Vec<u8>) {
    const EMPTY: &[u8] = b",\"hash\":\"\"";
    record.hash.clear();
    let start = line.len();
    if serde_json::to_writer(&mut *line, record).is_err() {
        line.truncate(start);
        record.hash = digest(record);
        return;
    }
    record.hash = hex(&Sha256::digest(&line[start..]));
    if let Some(at) = memchr::memmem::find(&line[start..], EMPTY) {
        let at = start + at + EMPTY.len() - 1;
        line.splice(at..at, record.hash.bytes());
    }
}

/// What a verified file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: usize,
    pub last_seq: u64,
    pub last_hash: String,
    /// The Merkle tree of every record, for the next checkpoint.
    pub tree: Tree,
    /// Checkpoint records found, and the size of the last one.
    pub checkpoints: usize,
    pub last_checkpoint: u64,
    /// The key names that signed them.
    pub signers: Vec<String>,
}

impl Verified {
    /// Records after the last checkpoint: held by the chain only (see the module's note).
    pub fn unanchored(&self) -> u64 {
        self.last_seq.saturating_sub(self.last_checkpoint)
    }
}

/// Checks one checkpoint record against the tree of the records before it.
fn check_checkpoint(record: &Record, tree: &Tree, trust: &Trust<'_>) -> Result<String, String> {
    let note = record
        .event
        .text(CHECKPOINT_NOTE)
        .ok_or("it carries no signed note")?;
    let checkpoint = Checkpoint::parse(note).map_err(|e| e.to_string())?;
    if checkpoint.size != tree.size() {
        return Err(format!(
            "it covers {} record(s) but {} precede it",
            checkpoint.size,
            tree.size()
        ));
    }
    if checkpoint.root != tree.root() {
        return Err("its root hash is not the root of the records before it".to_owned());
    }
    let named: VerifierKey = record
        .event
        .text(CHECKPOINT_KEY)
        .ok_or("it names no key")?
        .parse()
        .map_err(|e: super::CheckpointError| e.to_string())?;
    let keys = if trust.keys.is_empty() {
        std::slice::from_ref(&named)
    } else {
        trust.keys
    };
    match keys.iter().find(|k| checkpoint.signed_by(k)) {
        Some(key) => Ok(key.name.clone()),
        None if trust.keys.is_empty() => {
            Err("its signature does not verify with the key it names".to_owned())
        }
        None => Err(format!(
            "its signature does not verify with any trusted key (it names {named})"
        )),
    }
}

/// Checks every line of one chain, from its first record (seq 1) on. Returns every problem
/// found, not just the first.
pub fn verify_lines(text: &str) -> Result<Verified, Vec<ChainError>> {
    verify_with(text, Trust::default())
}

/// [`verify_lines`], with checkpoints checked against trusted keys and an anchor.
pub fn verify_with(text: &str, trust: Trust<'_>) -> Result<Verified, Vec<ChainError>> {
    let mut errors = Vec::new();
    let (mut last_seq, mut last_hash) = (0u64, GENESIS.to_owned());
    let mut records = 0;
    let mut tree = Tree::default();
    let (mut checkpoints, mut last_checkpoint, mut signers) = (0, 0, Vec::<String>::new());
    let mut anchor_root = None;
    for (index, raw) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line = index + 1;
        let record: Record = match serde_json::from_str(raw) {
            Ok(record) => record,
            Err(e) => {
                errors.push(ChainError::Unreadable {
                    line,
                    message: format!("{:?} error at column {}", e.classify(), e.column()),
                });
                continue;
            }
        };
        records += 1;
        if digest(&record) != record.hash {
            errors.push(ChainError::Edited { line });
        }
        if record.seq != last_seq + 1 {
            errors.push(ChainError::OutOfSequence {
                line,
                expected: last_seq + 1,
                found: record.seq,
            });
        } else if record.prev_hash != last_hash {
            errors.push(ChainError::BrokenLink { line });
        }
        if record.event.kind == CHECKPOINT {
            checkpoints += 1;
            last_checkpoint = tree.size();
            match check_checkpoint(&record, &tree, &trust) {
                Ok(name) if !signers.contains(&name) => signers.push(name),
                Ok(_) => {}
                Err(problem) => errors.push(ChainError::BadCheckpoint { line, problem }),
            }
        }
        if trust.anchor.is_some_and(|a| a.size == tree.size()) {
            anchor_root = Some(tree.root());
        }
        tree.push(&record.hash);
        last_seq = record.seq;
        last_hash = record.hash;
    }
    if let Some(anchor) = trust.anchor {
        if anchor.size == tree.size() {
            anchor_root = Some(tree.root());
        }
        let signed = if trust.keys.is_empty() {
            true
        } else {
            trust.keys.iter().any(|k| anchor.signed_by(k))
        };
        if anchor.size > tree.size() {
            errors.push(ChainError::Truncated {
                records: tree.size(),
                size: anchor.size,
            });
        } else if anchor_root != Some(anchor.root) {
            errors.push(ChainError::BadAnchor {
                problem: format!(
                    "its root is not the root of the file's first {} record(s)",
                    anchor.size
                ),
            });
        } else if !signed {
            errors.push(ChainError::BadAnchor {
                problem: "it is not signed by a trusted key".to_owned(),
            });
        }
    }
    if errors.is_empty() {
        Ok(Verified {
            records,
            last_seq,
            last_hash,
            tree,
            checkpoints,
            last_checkpoint,
            signers,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<String> {
        let mut lines = Vec::new();
        let (mut seq, mut hash) = (0, GENESIS.to_owned());
        for i in 0..n {
            let record = seal(
                Event::new("egress.allow", "proxy", i, i).with("server.address", format!("h{i}")),
                seq,
                &hash,
            );
            seq = record.seq;
            hash.clone_from(&record.hash);
            lines.push(serde_json::to_string(&record).expect("json"));
        }
        lines
    }

    #[test]
    fn sealing_in_place_writes_the_line_the_verifier_hashes() {
        let event = Event::new("egress.allow", "proxy", 1, 2)
            .with("server.address", "a\"hash\":\"\"b")
            .with("tollgate.bytes_in", 7);
        let mut record = Record {
            schema: SCHEMA.to_owned(),
            seq: 3,
            prev_hash: GENESIS.to_owned(),
            hash: String::new(),
            event,
        };
        let mut line = b"earlier\n".to_vec();
        seal_into(&mut record, &mut line);
        assert_eq!(record.hash, digest(&record));
        assert_eq!(
            &line[8..],
            serde_json::to_string(&record).expect("json").as_bytes(),
            "the line is the record, with its hash"
        );
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let verified = verify_lines(&chain(5).join("\n")).expect("valid");
        assert_eq!((verified.records, verified.last_seq), (5, 5));
    }

    #[test]
    fn an_edited_record_is_caught_at_its_line() {
        let edited: Vec<String> = chain(5)
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 2 { l.replace("h2", "h9") } else { l.clone() })
            .collect();
        assert_eq!(
            verify_lines(&edited.join("\n")),
            Err(vec![ChainError::Edited { line: 3 }])
        );
    }

    #[test]
    fn a_deleted_record_is_caught_where_the_gap_is() {
        let mut deleted = chain(5);
        deleted.remove(1);
        assert!(matches!(
            verify_lines(&deleted.join("\n")).expect_err("tampered")[..],
            [ChainError::OutOfSequence {
                line: 2,
                expected: 2,
                found: 3
            }]
        ));
    }

    #[test]
    fn reordered_records_are_caught() {
        let mut reordered = chain(5);
        reordered.swap(1, 2);
        assert!(
            verify_lines(&reordered.join("\n"))
                .expect_err("tampered")
                .iter()
                .any(|e| matches!(e, ChainError::OutOfSequence { line: 2, .. }))
        );
    }

    #[test]
    fn an_inserted_record_is_caught_even_when_sealed_and_renumbered() {
        // A forged record sealed as seq 2 after a guessed link: the next record's link breaks.
        let forged = seal(Event::new("egress.allow", "proxy", 0, 0), 1, GENESIS);
        let mut inserted = chain(5);
        inserted.insert(1, serde_json::to_string(&forged).expect("json"));
        assert!(
            verify_lines(&inserted.join("\n"))
                .expect_err("tampered")
                .iter()
                .any(|e| matches!(e, ChainError::BrokenLink { line: 2 }))
        );
    }

    #[test]
    fn a_cut_tail_verifies_by_the_chain_alone() {
        // What the README says: only a checkpoint kept apart shows it (see the sink's tests).
        assert!(verify_lines(&chain(5)[..3].join("\n")).is_ok());
    }
}
