//! Reading a policy directory as it was at a git revision, for `policy diff`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use tollgate_shared::policy::{Loaded, SourceFile, load_sources};

/// Loads the policy files under `dir` as they were at `rev` in the repository holding `dir`.
pub(crate) fn load(rev: &str, dir: &Path) -> Result<Loaded> {
    let prefix = git(dir, &["rev-parse", "--show-prefix"])?.trim().to_owned();
    let commit = git(
        dir,
        &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
    )
    .with_context(|| format!("{rev:?} is neither a directory nor a git revision"))?;
    let commit = commit.trim();
    let listing = git(
        dir,
        &["ls-tree", "-r", "--name-only", "--full-name", commit, "--", "."],
    )?;
    let mut defaults = None;
    let mut tenants = Vec::new();
    for path in listing.lines() {
        let relative = path.strip_prefix(&prefix).unwrap_or(path);
        let is_defaults = relative == "defaults.toml";
        let is_tenant =
            relative.starts_with("tenants/") && relative.ends_with(".toml") && !relative[8..].contains('/');
        if !is_defaults && !is_tenant {
            continue;
        }
        let text = git(dir, &["show", &format!("{commit}:{path}")])?;
        let file = SourceFile {
            name: format!("{rev}:{path}").into(),
            text,
        };
        if is_defaults {
            defaults = Some(file);
        } else {
            tenants.push(file);
        }
    }
    if defaults.is_none() && tenants.is_empty() {
        bail!("revision {rev} has no policy files under {}", dir.display());
    }
    Ok(load_sources(defaults, tenants))
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("git printed something that is not UTF-8")
}
