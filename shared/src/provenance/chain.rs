//! The hash chain: sealing a record onto the chain, and verifying a file's lines.
//!
//! What verification proves: every line present was written by the chain in this order, none
//! in between was removed, changed or added. What it cannot prove: that nothing was cut off
//! after the last line (a truncated tail verifies); an anchor kept elsewhere (the last hash
//! seen by a reader, or a signed checkpoint) is what shows a tail is missing.

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::{Event, Record, SCHEMA};

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
    record.hash = digest(&record);
    record
}

/// What a verified file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: usize,
    pub last_seq: u64,
    pub last_hash: String,
}

/// Checks every line of one chain, from its first record (seq 1) on. Returns every problem
/// found, not just the first.
pub fn verify_lines(text: &str) -> Result<Verified, Vec<ChainError>> {
    let mut errors = Vec::new();
    let (mut last_seq, mut last_hash) = (0u64, GENESIS.to_owned());
    let mut records = 0;
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
        last_seq = record.seq;
        last_hash = record.hash;
    }
    if errors.is_empty() {
        Ok(Verified {
            records,
            last_seq,
            last_hash,
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
    fn an_untouched_chain_verifies() {
        let verified = verify_lines(&chain(5).join("\n")).expect("valid");
        assert_eq!((verified.records, verified.last_seq), (5, 5));
    }

    #[test]
    fn each_kind_of_tampering_is_caught_where_it_happened() {
        let lines = chain(5);
        let edited: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 2 { l.replace("h2", "h9") } else { l.clone() })
            .collect();
        assert_eq!(
            verify_lines(&edited.join("\n")),
            Err(vec![ChainError::Edited { line: 3 }])
        );

        let mut deleted = lines.clone();
        deleted.remove(1);
        assert!(matches!(
            verify_lines(&deleted.join("\n")).expect_err("tampered")[..],
            [ChainError::OutOfSequence {
                line: 2,
                expected: 2,
                found: 3
            }]
        ));

        let mut reordered = lines.clone();
        reordered.swap(1, 2);
        assert!(
            verify_lines(&reordered.join("\n"))
                .expect_err("tampered")
                .iter()
                .any(|e| matches!(e, ChainError::OutOfSequence { line: 2, .. }))
        );

        // An inserted line that renumbers what follows still breaks the links.
        let forged = seal(Event::new("egress.allow", "proxy", 0, 0), 1, GENESIS);
        let mut inserted = lines.clone();
        inserted.insert(1, serde_json::to_string(&forged).expect("json"));
        assert!(
            verify_lines(&inserted.join("\n"))
                .expect_err("tampered")
                .iter()
                .any(|e| matches!(e, ChainError::BrokenLink { line: 2 }))
        );

        // A truncated tail verifies: the README says so, and what would show it.
        assert!(verify_lines(&lines[..3].join("\n")).is_ok());
    }
}
