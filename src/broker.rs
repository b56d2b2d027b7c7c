//! `tollgate broker`, `tollgate invoke start|end` and `tollgate credential get`: the broker
//! service and thin clients of its two interfaces.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tollgate_broker::client::{self, Control};
use tollgate_broker::config::{BrokerConfig, read_token};
use tollgate_shared::invocation::StartRequest;

#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// The configuration file (TOML); relative paths in it are taken from its folder.
    #[arg(long, env = "TOLLGATE_BROKER_CONFIG")]
    config: PathBuf,
}

pub(crate) fn run(args: BrokerArgs) -> Result<ExitCode> {
    let config = BrokerConfig::load(&args.config)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    runtime
        .block_on(tollgate_broker::run(config))
        .context("cannot run the broker")?;
    Ok(ExitCode::SUCCESS)
}

/// Where the control API is and how to authenticate to it.
#[derive(Debug, Args)]
pub(crate) struct ControlArgs {
    /// Base URL of the broker's control API.
    #[arg(long, env = "TOLLGATE_CONTROL_URL", default_value = "http://127.0.0.1:8200")]
    control: String,
    /// File holding the orchestrator's bearer token.
    #[arg(long, env = "TOLLGATE_CONTROL_TOKEN_FILE")]
    token_file: PathBuf,
}

impl ControlArgs {
    fn client(&self) -> Result<Control> {
        let token = read_token(&self.token_file)?;
        Ok(Control::new(&self.control, &token)?)
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum StartFormat {
    Json,
    Env,
}

#[derive(Debug, Subcommand)]
pub(crate) enum InvokeCommand {
    /// Start an invocation; prints its id, secret, deadline and proxy URL as JSON.
    Start {
        #[command(flatten)]
        control: ControlArgs,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        session: String,
        #[arg(long)]
        tool: String,
        #[arg(long)]
        tool_call_id: String,
        #[arg(long)]
        model: String,
        #[arg(long)]
        traceparent: Option<String>,
        /// Seconds the invocation may run.
        #[arg(long)]
        ttl: Option<u64>,
        /// `json` (the broker's answer), or `env`: `export` lines for a tool's shell
        /// (`eval "$(tollgate invoke start ... --format env)"`).
        #[arg(long, value_enum, default_value_t = StartFormat::Json)]
        format: StartFormat,
    },
    /// End an invocation: its credentials are revoked on the server.
    End {
        #[command(flatten)]
        control: ControlArgs,
        invocation_id: String,
    },
}

pub(crate) fn invoke(command: InvokeCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let answer = match command {
        InvokeCommand::Start {
            control,
            tenant,
            session,
            tool,
            tool_call_id,
            model,
            traceparent,
            ttl,
            format,
        } => {
            let request = StartRequest {
                tenant,
                session,
                tool,
                tool_call_id,
                model,
                traceparent,
                ttl_secs: ttl,
            };
            let started = runtime.block_on(control.client()?.start(&request))?;
            if let StartFormat::Env = format {
                print!("{}", start_exports(&started));
                return Ok(ExitCode::SUCCESS);
            }
            serde_json::to_value(started)?
        }
        InvokeCommand::End {
            control,
            invocation_id,
        } => runtime.block_on(control.client()?.end(&invocation_id))?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialCommand {
    /// Fetch a credential granted to this invocation's tool; prints its value (or, with
    /// --json, the whole answer).
    Get {
        name: String,
        /// The broker's tool socket.
        #[arg(long, env = "TOLLGATE_BROKER_SOCKET")]
        socket: PathBuf,
        #[arg(long, env = "TOLLGATE_INVOCATION_ID")]
        invocation: String,
        #[arg(long, env = "TOLLGATE_INVOCATION_SECRET", hide_env_values = true)]
        secret: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn credential(command: CredentialCommand) -> Result<ExitCode> {
    let CredentialCommand::Get {
        name,
        socket,
        invocation,
        secret,
        json,
    } = command;
    let credential = client::credential(&socket, &invocation, &secret, &name)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&credential)?);
    } else {
        println!("{}", credential.value.expose());
    }
    Ok(ExitCode::SUCCESS)
}

/// `export` lines that put a tool's shell inside the invocation: its proxy (when the broker
/// knows the proxy's address) and the two values `tollgate credential get` needs.
pub(crate) fn start_exports(started: &tollgate_shared::invocation::Started) -> String {
    let mut out = String::new();
    if let Some(proxy) = &started.proxy_url {
        for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
            out.push_str(&format!("export {name}='{}'\n", proxy.expose()));
        }
    }
    out.push_str(&format!(
        "export TOLLGATE_INVOCATION_ID='{}'\nexport TOLLGATE_INVOCATION_SECRET='{}'\n",
        started.invocation_id,
        started.secret.expose()
    ));
    out
}
