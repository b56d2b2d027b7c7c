//! `tollgate dev`: everything on one machine with embedded defaults. Checks and tests the
//! policies, creates the interception CA and one proxy identity per tenant tool under
//! `.tollgate/` (the secrets go to `.tollgate/dev-env`, mode 0600, never to the terminal or
//! logs), then runs the proxy. The broker joins it when it lands.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use tollgate_proxy::config::ProxyConfig;
use tollgate_proxy::identity::hash_secret;
use tollgate_shared::policy::{PolicySet, inline_test, load_dir};

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The policy directory.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// Where the CA, identities and the dev environment file are kept.
    #[arg(long, default_value = ".tollgate")]
    state: PathBuf,
    #[arg(long, default_value = "127.0.0.1:3128")]
    listen: String,
    #[arg(long, default_value = "127.0.0.1:9128")]
    metrics_listen: String,
    /// Check and test the policies, prepare the state directory, and exit.
    #[arg(long)]
    check_only: bool,
}

pub(crate) fn run(args: DevArgs) -> Result<ExitCode> {
    let loaded = load_dir(&args.policies)?;
    for diagnostic in &loaded.diagnostics {
        eprintln!("{diagnostic}");
    }
    let Some(policies) = loaded.policies else {
        eprintln!("tollgate dev: the policies have errors; nothing started");
        return Ok(ExitCode::FAILURE);
    };
    let report = inline_test::run(&policies);
    println!(
        "policies: {} ({} tenant(s)); inline tests: {} passed, {} failed",
        args.policies.display(),
        policies.tenants.len(),
        report.passed,
        report.failures.len()
    );
    if !report.failures.is_empty() {
        eprintln!(
            "tollgate dev: inline tests fail; run `tollgate policy test {}`",
            args.policies.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let ca_dir = args.state.join("ca");
    if !ca_dir.join(tollgate_proxy::ca::CERT_FILE).exists() {
        tollgate_proxy::ca::init(&ca_dir, "Tollgate dev interception CA")?;
    }
    let identities = args.state.join("identities.toml");
    let env_file = args.state.join("dev-env");
    write_identities(&policies, &identities, &env_file, &args.listen, &ca_dir)?;
    println!(
        "proxy: http://{} (metrics http://{}/metrics)",
        args.listen, args.metrics_listen
    );
    println!(
        "client settings (proxy URL per tenant tool, CA trust): {}",
        env_file.display()
    );
    if args.check_only {
        return Ok(ExitCode::SUCCESS);
    }
    let config = ProxyConfig {
        listen: args.listen,
        metrics_listen: Some(args.metrics_listen),
        policies: args.policies,
        identities,
        ca_dir,
        ..ProxyConfig::default()
    };
    let server = tollgate_proxy::server::build(&config).context("cannot start the proxy")?;
    server.run_forever()
}

/// One identity per tenant tool, with fresh secrets; the hashes go to the identities file,
/// the proxy URLs (which carry the secrets) to a file only the owner can read.
fn write_identities(
    policies: &PolicySet,
    identities: &Path,
    env_file: &Path,
    listen: &str,
    ca_dir: &Path,
) -> Result<()> {
    let mut file = String::new();
    let mut env = String::from("# Source this in a tool's shell; one HTTPS_PROXY line per tenant tool.\n");
    let ca = std::path::absolute(ca_dir.join(tollgate_proxy::ca::CERT_FILE))?;
    for var in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
    ] {
        writeln!(env, "export {var}={}", ca.display())?;
    }
    for tenant in policies.tenants.values() {
        for tool in &tenant.tools {
            let user = format!("dev-{}-{}", tenant.id, tool.name);
            let secret = random_secret()?;
            writeln!(
                file,
                "[[identity]]\nuser = \"{user}\"\nsecret_sha256 = \"{}\"\ntenant = \"{}\"\nsession = \"dev\"\ntool = \"{}\"\n",
                hash_secret(&secret),
                tenant.id,
                tool.name
            )?;
            writeln!(
                env,
                "# export HTTPS_PROXY=http://{user}:{secret}@{listen} HTTP_PROXY=http://{user}:{secret}@{listen}"
            )?;
        }
    }
    std::fs::write(identities, file).with_context(|| format!("writing {}", identities.display()))?;
    write_private(env_file, env.as_bytes())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
