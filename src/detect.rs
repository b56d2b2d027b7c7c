//! `tollgate detect scan`: judges a saved request or body with the proxy's engine and a tool's
//! detector settings, and prints the findings as the proxy reports them (never the values).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use tollgate_shared::detect::offline::{Subject, judge};
use tollgate_shared::detect::{Engine, FingerprintKey, Outcome};
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::load_dir;

#[derive(Debug, Subcommand)]
pub(crate) enum DetectCommand {
    /// Judge a raw HTTP/1 request or a bare body (FILE, or `-` for stdin); exit 1 on a finding.
    Scan {
        #[arg(default_value = "-")]
        file: String,
        /// Use this tenant's tool's detector settings (default: the default-on detectors).
        #[arg(long, requires = "tool")]
        tenant: Option<String>,
        #[arg(long, requires = "tenant")]
        tool: Option<String>,
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// The destination host, for per-host exemptions (default: the request's own).
        #[arg(long)]
        host: Option<String>,
        /// The proxy's `fingerprint_key` file, so fingerprints match the proxy's.
        #[arg(long)]
        fingerprint_key: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

pub(crate) fn run(command: DetectCommand) -> Result<ExitCode> {
    let DetectCommand::Scan {
        file,
        tenant,
        tool,
        policies,
        host,
        fingerprint_key,
        format,
    } = command;
    let input = read_input(&file)?;
    let settings = match (tenant, tool) {
        (Some(tenant), Some(tool)) => Some(tool_settings(&policies, &tenant, &tool)?),
        _ => None,
    };
    let host = host
        .map(|h| Host::parse(&h).map_err(|e| anyhow::anyhow!("--host {h:?}: {e}")))
        .transpose()?;
    let engine = Engine::new(key(fingerprint_key.as_ref())?).context("detection engine")?;
    let outcome = judge(&engine, settings.as_ref(), host.as_ref(), &Subject::parse(&input));
    print(&outcome, format)?;
    Ok(if outcome.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_input(file: &str) -> Result<Vec<u8>> {
    let mut input = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut input).context("stdin")?;
    } else {
        input = std::fs::read(file).with_context(|| file.to_owned())?;
    }
    Ok(input)
}

fn tool_settings(
    dir: &std::path::Path,
    tenant: &str,
    tool: &str,
) -> Result<tollgate_shared::policy::model::DetectorSettings> {
    let loaded = load_dir(dir).with_context(|| dir.display().to_string())?;
    let Some(set) = loaded.policies else {
        bail!("{} has policy errors; run `tollgate policy check`", dir.display());
    };
    let Some(found) = set.tenant(tenant) else {
        bail!("no tenant {tenant:?} in {}", dir.display());
    };
    let Some(found) = found.tool(tool) else {
        bail!("tenant {tenant:?} has no tool {tool:?}");
    };
    Ok(found.detectors.clone())
}

/// The proxy's key when given; otherwise a fresh one (fingerprints then differ from the
/// proxy's).
fn key(path: Option<&PathBuf>) -> Result<FingerprintKey> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            FingerprintKey::new(bytes).context("fingerprint key")
        }
        None => FingerprintKey::ephemeral().context("fingerprint key"),
    }
}

fn print(outcome: &Outcome, format: Format) -> Result<()> {
    for finding in &outcome.findings {
        match format {
            Format::Json => println!("{}", serde_json::to_string(finding)?),
            Format::Text => println!(
                "{}  detector={} location={} encoding={} confidence={} fingerprint={}",
                finding.reason,
                finding.detector,
                finding.location,
                finding.encoding,
                serde_json::to_value(finding.confidence)?.as_str().unwrap_or("?"),
                finding.fingerprint
            ),
        }
    }
    if let Some(unjudged) = outcome.unjudged {
        match format {
            Format::Json => println!("{}", serde_json::json!({ "reason": unjudged.reason().as_str() })),
            Format::Text => println!(
                "{}  the input cannot be judged within the bounds",
                unjudged.reason()
            ),
        }
    }
    if let Format::Text = format {
        if outcome.is_clean() {
            println!("clean");
        }
    }
    Ok(())
}
