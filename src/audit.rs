//! `tollgate audit verify|trace`: check provenance chains, and merge services' files into one
//! invocation's timeline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use tollgate_shared::provenance::{read_openbao_audit, read_records, trace, verify_lines};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check each file's hash chain; exit 1 on an edited, deleted, inserted or reordered line.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
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
}

pub(crate) fn run(command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { files } => verify(&files),
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
            }
            Ok(if records.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn verify(files: &[PathBuf]) -> Result<ExitCode> {
    let mut ok = true;
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        match verify_lines(&text) {
            Ok(v) => println!(
                "{}: ok, {} record(s), last seq {} (a cut-off tail cannot be seen without an anchor kept elsewhere)",
                file.display(),
                v.records,
                v.last_seq
            ),
            Err(errors) => {
                ok = false;
                for error in errors {
                    println!("{}: {error}", file.display());
                }
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
