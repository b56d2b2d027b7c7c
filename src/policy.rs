//! `tollgate policy check|test|diff|explain|schema`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use tollgate_shared::decision::{self, Request};
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::schema::{self, FileKind};
use tollgate_shared::policy::{Loaded, PolicySet, diff, inline_test, load_dir};

use crate::revision;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parse and validate every policy file; report all errors and lints with file:line:column.
    Check {
        #[arg(default_value = "policies")]
        dir: PathBuf,
        /// Treat lints as errors (for CI).
        #[arg(long)]
        strict: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run every tenant's inline tests.
    Test {
        #[arg(default_value = "policies")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Summarise how access changes between BASE (a directory or a git revision) and DIR.
    Diff {
        base: String,
        #[arg(default_value = "policies")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Show which rule decides a request, and why.
    Explain {
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        tool: String,
        method: String,
        url: String,
    },
    /// Print the JSON Schema of tenant or defaults files.
    Schema {
        #[arg(value_enum, default_value_t = SchemaKind::Tenant)]
        kind: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SchemaKind {
    Tenant,
    Defaults,
}

pub(crate) fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check { dir, strict, format } => check(&dir, strict, format),
        PolicyCommand::Test { dir, format } => test(&dir, format),
        PolicyCommand::Diff { base, dir, format } => diff_cmd(&base, &dir, format),
        PolicyCommand::Explain {
            dir,
            tenant,
            tool,
            method,
            url,
        } => explain(&dir, &tenant, &tool, &method, &url),
        PolicyCommand::Schema { kind } => {
            let kind = match kind {
                SchemaKind::Tenant => FileKind::Tenant,
                SchemaKind::Defaults => FileKind::Defaults,
            };
            println!("{}", serde_json::to_string_pretty(&schema::schema(kind))?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(dir: &Path, strict: bool, format: Format) -> Result<ExitCode> {
    let mut loaded = load_dir(dir)?;
    if strict {
        loaded = loaded.strict();
    }
    let errors = loaded.errors().count();
    let warnings = loaded.diagnostics.len() - errors;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&loaded.diagnostics)?),
        Format::Text => {
            for diagnostic in &loaded.diagnostics {
                println!("{diagnostic}");
            }
            let tenants = loaded.policies.as_ref().map_or(0, |p| p.tenants.len());
            match errors {
                0 => println!("ok: {tenants} tenant(s), {warnings} warning(s)"),
                _ => println!("failed: {errors} error(s), {warnings} warning(s)"),
            }
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Loads a directory and prints its diagnostics if it has errors.
fn load_clean(dir: &Path) -> Result<PolicySet> {
    valid(load_dir(dir)?, &dir.display().to_string())
}

fn valid(loaded: Loaded, what: &str) -> Result<PolicySet> {
    match loaded.policies {
        Some(policies) => Ok(policies),
        None => {
            for diagnostic in loaded.errors() {
                eprintln!("{diagnostic}");
            }
            bail!("the policies in {what} have errors; run `tollgate policy check` on them")
        }
    }
}

fn test(dir: &Path, format: Format) -> Result<ExitCode> {
    let policies = load_clean(dir)?;
    let report = inline_test::run(&policies);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => {
            for f in &report.failures {
                println!("FAIL {} › {} ({})", f.tenant, f.test, f.origin);
                println!("     request:  {}", f.request);
                println!("     expected: {}", f.expected);
                println!(
                    "     actual:   {}{}",
                    f.actual,
                    f.rule.as_ref().map_or(String::new(), |r| format!(" by rule {r}"))
                );
            }
            println!("{} passed, {} failed", report.passed, report.failures.len());
        }
    }
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn diff_cmd(base: &str, dir: &Path, format: DiffFormat) -> Result<ExitCode> {
    let head = load_clean(dir)?;
    let base_path = Path::new(base);
    let before = if base_path.is_dir() {
        load_clean(base_path)?
    } else {
        valid(revision::load(base, dir)?, &format!("revision {base}"))?
    };
    let changes = diff::diff(&before, &head);
    match format {
        DiffFormat::Text => print!("{}", changes.to_text()),
        DiffFormat::Markdown => print!("{}", changes.to_markdown()),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&changes)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(dir: &Path, tenant_id: &str, tool: &str, method: &str, target: &str) -> Result<ExitCode> {
    let policies = load_clean(dir)?;
    let tenant = policies
        .tenant(tenant_id)
        .with_context(|| format!("no tenant {tenant_id:?} in {}", dir.display()))?;
    let url = url::Url::parse(target).with_context(|| format!("{target:?} is not an absolute URL"))?;
    let host = Host::parse(url.host_str().unwrap_or_default())?;
    let port = url
        .port_or_known_default()
        .context("the URL has no port and no known default")?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let request = Request {
        method: Some(method),
        host: &host,
        port,
        path: Some(&path),
    };
    let decision = decision::decide(tenant, tool, &request);
    println!("{method} {url}");
    println!(
        "tenant {} (owner: {}), tool {tool}",
        tenant.id,
        tenant.owner.as_deref().unwrap_or("(none)")
    );
    if let Some(tool_policy) = tenant.tool(tool) {
        let normalized = tollgate_shared::policy::path::normalize(&path);
        for rule in &tool_policy.rules {
            let m = decision::evaluate(rule, &request, normalized.as_deref());
            let mark = |ok: bool| if ok { "yes" } else { "no" };
            println!(
                "  rule {:<20} {}  host {:<3} port {:<3} method {:<3} path {}",
                rule.id,
                rule.origin,
                mark(m.host),
                mark(m.port),
                mark(m.method),
                mark(m.path)
            );
        }
    }
    let verdict = if decision.blocks() {
        "DENY"
    } else if decision.verdict == decision::Verdict::Deny {
        "DENY (report mode: logged, not enforced)"
    } else {
        "ALLOW"
    };
    println!(
        "decision: {verdict}, reason {}, rule {}",
        decision.reason,
        decision.rule_id().unwrap_or("-")
    );
    if decision.verdict == decision::Verdict::Deny {
        println!("  {}", decision.message);
    }
    Ok(ExitCode::SUCCESS)
}
