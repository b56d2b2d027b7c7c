//! The `tollgate` command line. Thin: parsing arguments, calling into the crates, printing.
#![forbid(unsafe_code)]

mod allocator;
mod audit;
mod broker;
mod ca;
mod demo;
mod detect;
mod dev;
mod policy;
mod proxy;
mod revision;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Egress-inspecting proxy and secrets broker for AI-agent tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check, test, diff and explain tenant policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Try the secret detectors on a saved request or body, as the proxy would judge it.
    #[command(subcommand)]
    Detect(detect::DetectCommand),
    /// Run Tollgate on one machine with embedded defaults.
    Dev(dev::DevArgs),
    /// A scripted tour of a running `tollgate dev`: each step, and what Tollgate did.
    Demo(demo::DemoArgs),
    /// Run the intercepting egress proxy.
    Proxy(proxy::ProxyArgs),
    /// Create the interception CA and show how clients trust it.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Verify provenance chains and trace one invocation across services.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the secrets broker.
    Broker(broker::BrokerArgs),
    /// Start and end tool invocations (the orchestrator's side of the broker).
    #[command(subcommand)]
    Invoke(broker::InvokeCommand),
    /// Fetch a credential from the broker's tool socket (the tool's side).
    #[command(subcommand)]
    Credential(broker::CredentialCommand),
}

/// Logs to stderr as `RUST_LOG` says, except that pingora's records above `info` are dropped
/// whatever it says: at debug pingora prints whole request heads, which carry the credentials
/// the proxy injects.
fn logging() {
    use tracing_subscriber::filter::{self, FilterExt as _, LevelFilter};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    // One filter, so that a record neither would print is never built: nested, they left the
    // most verbose level at `trace` whatever `RUST_LOG` said (`tracing::enabled!` was true for
    // `debug` at `RUST_LOG=info`), so each `debug!` on the request path was dispatched only to
    // be dropped. `TRACE` is this filter's honest bound; joined with the `EnvFilter`'s, the
    // lower one holds.
    let no_pingora_detail = filter::filter_fn(|meta| {
        !(meta.target().starts_with("pingora") && *meta.level() > tracing::Level::INFO)
    })
    .with_max_level_hint(LevelFilter::TRACE);
    let env = EnvFilter::from_default_env();
    let most_verbose = env.max_level_hint();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(env.and(no_pingora_detail)),
        )
        .init();
    // The `log` bridge admits every level unless told otherwise, so each of pingora's and
    // rustls's debug and trace records was built and dispatched only to be filtered out
    // (about 3% of the proxy's CPU under load). Records nothing would print stop at `log`.
    log::set_max_level(most_verbose.map_or(log::LevelFilter::Trace, as_log_level));
}

fn as_log_level(level: tracing_subscriber::filter::LevelFilter) -> log::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        LevelFilter::TRACE => log::LevelFilter::Trace,
    }
}

/// Exit codes: 0 success, 1 the policies have errors or a test failed, 2 misuse.
fn main() -> ExitCode {
    let cli = Cli::parse();
    // The long-running commands; the others are over before the allocator's settings matter.
    if matches!(
        cli.command,
        Command::Proxy(_) | Command::Broker(_) | Command::Dev(_) | Command::Demo(_)
    ) {
        allocator::settle();
    }
    logging();
    let result = match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Detect(command) => detect::run(command),
        Command::Dev(args) => dev::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Ca(command) => ca::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Broker(args) => broker::run(args),
        Command::Invoke(command) => broker::invoke(command),
        Command::Credential(command) => broker::credential(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
