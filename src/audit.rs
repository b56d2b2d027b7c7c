//! `tollgate audit verify|trace`: check provenance chains, and merge services' files into one
//! invocation's timeline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use tollgate_shared::provenance::{
    Checkpoint, ROTATE, Trust, VerifierKey, read_openbao_audit, read_records, render_html, sibling, trace,
    verify_with,
};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check each file's hash chain and signed checkpoints; exit 1 on an edited, deleted,
    /// inserted or reordered line, a checkpoint that does not hold or a signature that does
    /// not verify, or a file cut back below its `<file>.checkpoint` anchor.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A trusted verifier key (`name+hash+base64`), or a file holding one (the writer's
        /// `<key>.pub`). Repeatable. Without one, each checkpoint is checked against the key
        /// it names, which shows it consistent but not who wrote it.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    /// One invocation's records from every file, in time order.
    Trace {
        invocation_id: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// OpenBao's file audit log: its entries for the invocation join the timeline.
        #[arg(long)]
        openbao: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    /// A self-contained page with a visual timeline.
    Html,
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { files, keys } => verify(&files, &keys),
        AuditCommand::Trace {
            invocation_id,
            files,
            openbao,
            format,
        } => {
            let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
            let mut all = read_records(&paths)?;
            for log in &openbao {
                all.extend(read_openbao_audit(log, &invocation_id)?);
            }
            let (records, text) = trace(all, &invocation_id);
            match format {
                Format::Text => print!("{text}"),
                Format::Json => println!("{}", serde_json::to_string_pretty(&records)?),
                Format::Html => print!("{}", render_html(&records, &invocation_id)),
            }
            Ok(if records.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn verify(files: &[PathBuf], keys: &[String]) -> Result<ExitCode> {
    let keys = keys
        .iter()
        .map(|k| {
            let text = match std::fs::read_to_string(k) {
                Ok(text) => text,
                Err(_) => k.clone(),
            };
            text.trim()
                .parse::<VerifierKey>()
                .with_context(|| format!("--key {k}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut ok = true;
    // The last hash of each file given, for the rotation link of the file after it.
    let mut ends: Vec<(String, String)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let anchor_path = sibling(file, "checkpoint");
        let anchor = match std::fs::read_to_string(&anchor_path) {
            Ok(note) => {
                Some(Checkpoint::parse(&note).with_context(|| format!("reading {}", anchor_path.display()))?)
            }
            Err(_) => None,
        };
        let trust = Trust {
            keys: &keys,
            anchor: anchor.as_ref(),
        };
        let name = file.display();
        match verify_with(&text, trust) {
            Ok(v) => {
                let signed = match (v.checkpoints, keys.is_empty()) {
                    (0, _) => "no checkpoint".to_owned(),
                    (n, true) => format!(
                        "{n} checkpoint(s) signed by {} (checked against the key each names; pass --key to check who wrote them)",
                        v.signers.join(", ")
                    ),
                    (n, false) => format!("{n} checkpoint(s) signed by trusted key {}", v.signers.join(", ")),
                };
                println!("{name}: ok, {} record(s), {signed}", v.records);
                match &anchor {
                    Some(a) => println!(
                        "  anchor {}: the file holds all {} record(s) it covers",
                        anchor_path.display(),
                        a.size
                    ),
                    None => {
                        println!("  no anchor beside it: a cut-off tail cannot be seen from this file alone")
                    }
                }
                if v.unanchored() > 1 {
                    println!(
                        "  the last {} record(s) come after the last checkpoint: they are held by the hash chain only, and had they been cut off nothing here would show it",
                        v.unanchored()
                    );
                }
                check_rotation(&text, &ends, &name.to_string(), &mut ok);
                ends.push((
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    v.last_hash,
                ));
            }
            Err(errors) => {
                ok = false;
                for error in errors {
                    println!("{name}: {error}");
                }
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A file opened by rotation names the file before it and that file's last hash: when that
/// file was given too, the two must agree.
fn check_rotation(text: &str, ends: &[(String, String)], name: &str, ok: &mut bool) {
    let Some(first) = text.lines().next() else {
        return;
    };
    let Ok(record) = serde_json::from_str::<tollgate_shared::provenance::Record>(first) else {
        return;
    };
    if record.event.kind != ROTATE {
        return;
    }
    let previous = record.event.text("tollgate.rotate.previous").unwrap_or_default();
    let Some((_, last_hash)) = ends.iter().find(|(file, _)| file == previous) else {
        println!("  continues {previous} (not given: the link is not checked)");
        return;
    };
    if record.event.text("tollgate.rotate.previous_last_hash") == Some(last_hash.as_str()) {
        println!("  continues {previous}: the link holds");
    } else {
        *ok = false;
        println!(
            "{name}: line 1: it names a last record of {previous} that is not the one {previous} ends with: records were cut off or changed there"
        );
    }
}
