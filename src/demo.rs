//! `tollgate demo`: a scripted tour of a running `tollgate dev` stack. Each step runs a real
//! client (curl, psql) as the demo tenant's `fetch` tool would, prints the command and what
//! Tollgate did, and checks that it did what it should. At the end it writes the first
//! invocation's `audit trace` page. Exit 0 when every step did what it should.
//!
//! No secret value is printed: the origin reports the SHA-256 of the `Authorization` header it
//! received, and the demo compares it with the fingerprint of the value OpenBao holds.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use tollgate_broker::client::{self, Control};
use tollgate_broker::config::read_token;
use tollgate_proxy::identity::hash_secret;
use tollgate_shared::invocation::{StartRequest, Started};

use crate::dev::{LAYOUT_FILE, Layout};

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The state directory of the running `tollgate dev`.
    #[arg(long, default_value = ".tollgate")]
    state: PathBuf,
    /// Where to write the first invocation's trace page (default: `<state>/demo-trace.html`).
    #[arg(long)]
    trace: Option<PathBuf>,
}

const TENANT: &str = "tollgate-demo";
const TOOL: &str = "fetch";

pub(crate) fn run(args: DemoArgs) -> Result<ExitCode> {
    let layout_path = args.state.join(LAYOUT_FILE);
    let layout: Layout = serde_json::from_slice(&std::fs::read(&layout_path).with_context(|| {
        format!(
            "no dev stack described at {}: start `tollgate dev` first (same --state)",
            layout_path.display()
        )
    })?)
    .with_context(|| format!("{}: not a dev stack description", layout_path.display()))?;
    if std::net::TcpStream::connect(&layout.proxy).is_err() {
        bail!(
            "the proxy at {} does not answer: is `tollgate dev` running?",
            layout.proxy
        );
    }
    let demo = Demo::new(layout)?;
    let mut tally = Tally::default();
    let first = demo.start("demo-1")?;
    let origin =
        |host: &str, path: &str| format!("https://{host}.tollgate.test:{}{path}", demo.layout.origin_port);

    step(&mut tally, "An allowed fetch", || {
        let url = origin("docs", "/");
        let got = demo.curl(&first, &url, &[])?;
        Ok(Check {
            command: format!("curl {url}"),
            seen: got.describe(),
            ok: got.status == 200 && got.body.contains("Hello from docs.tollgate.test"),
            why: "the rule `demo-origin` allows this host; inspection found nothing; the budget counted it"
                .into(),
        })
    });
    step(
        &mut tally,
        "An instruction for the model hidden in a page",
        || {
            let url = origin("docs", "/injected");
            let got = demo.curl(&first, &url, &[])?;
            let cut = got.body.contains("[tollgate removed: hidden-instruction]");
            let leaked = got.body.contains("id_rsa");
            Ok(Check {
            command: format!("curl {url}"),
            seen: format!(
                "{}; the recipe arrived, the zero-size text telling the model to send ~/.ssh/id_rsa {}",
                got.describe(),
                if leaked { "arrived too" } else { "did not" }
            ),
            ok: got.status == 200 && cut && !leaked && got.body.contains("Season with lemon"),
            why: "tool output protection (`strip`, the default) cut the hidden instruction out and left a mark the agent can see".into(),
        })
        },
    );
    step(&mut tally, "A host outside the allowlist", || {
        let url = "https://example.com/".to_owned();
        let got = demo.curl(&first, &url, &[])?;
        Ok(Check {
            command: format!("curl {url}"),
            seen: got.describe(),
            ok: got.refused(403, "host_not_allowed"),
            why: "refused at CONNECT: no rule names the host, so it was never even looked up".into(),
        })
    });
    step(&mut tally, "A private address", || {
        let url = origin("intranet", "/");
        let got = demo.curl(&first, &url, &[])?;
        Ok(Check {
            command: format!("curl {url}"),
            seen: got.describe(),
            ok: got.refused(403, "ssrf_blocked"),
            why: "the host is allowed, but it resolves to an internal address its rule does not allow".into(),
        })
    });
    step(&mut tally, "A secret in a URL", || {
        let key = random_access_key_id()?;
        let url = origin("docs", &format!("/search?q={key}"));
        let got = demo.curl(&first, &url, &[])?;
        Ok(Check {
            command: format!("curl '{}'", origin("docs", "/search?q=AKIA…")),
            seen: got.describe(),
            ok: got.refused(403, "secret_detected"),
            why: "an AWS access key id (random, made for this run) in the query; the request never left"
                .into(),
        })
    });
    let placeholder = demo.credential(&first, "api-key");
    step(&mut tally, "A placeholder, swapped on its bound host", || {
        let placeholder = placeholder.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let real = demo.kv("tollgate-demo/api", "key")?;
        let url = origin("api", "/whoami");
        let header = format!("Authorization: Bearer {placeholder}");
        let got = demo.curl(&first, &url, &[&header])?;
        let received: serde_json::Value = serde_json::from_str(&got.body).unwrap_or_default();
        let received = received["authorization_sha256"].as_str().unwrap_or("").to_owned();
        let expected = hash_secret(&format!("Bearer {real}"));
        Ok(Check {
            command: format!("curl -H 'Authorization: Bearer {}…' {url}", prefix(placeholder)),
            seen: format!(
                "{}; the origin received an Authorization whose SHA-256 is {}…",
                got.describe(),
                prefix(&received)
            ),
            ok: got.status == 200 && received == expected,
            why: "the tool only ever held the placeholder; on api.tollgate.test the proxy put the real key (from OpenBao) in its place, and that is the fingerprint of the real key".into(),
        })
    });
    step(&mut tally, "The same placeholder sent elsewhere", || {
        let placeholder = placeholder.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let url = origin("mirror", "/whoami");
        let header = format!("Authorization: Bearer {placeholder}");
        let tokens = demo.tokens_of(&first)?;
        let got = demo.curl(&first, &url, &[&header])?;
        let dead = wait(Duration::from_secs(5), || {
            demo.credential(&first, "api-key").is_err()
        });
        let revoked = demo.revoked(&tokens)?;
        Ok(Check {
            command: format!("curl -H 'Authorization: Bearer {}…' {url}", prefix(placeholder)),
            seen: format!(
                "{}; then the invocation's OpenBao token {} and `credential get` {}",
                got.describe(),
                if revoked { "was revoked on the server" } else { "is still alive" },
                if dead { "is refused" } else { "still answers" }
            ),
            ok: got.refused(403, "issued_credential_misuse") && dead && revoked,
            why: "mirror.tollgate.test is allowed, but the credential is bound to api.tollgate.test: the proxy blocked it and the broker revoked the invocation".into(),
        })
    });
    let second = demo.start("demo-2")?;
    step(&mut tally, "A budget running out", || {
        let url = origin("docs", "/");
        let mut answered = 0;
        let last = loop {
            let got = demo.curl(&second, &url, &[])?;
            if got.status != 200 || answered >= 100 {
                break got;
            }
            answered += 1;
        };
        Ok(Check {
            command: format!("curl {url}   # again and again, in a new invocation"),
            seen: format!("{answered} answered 200, then {}", last.describe()),
            ok: answered == 12 && last.refused(429, "budget_exceeded"),
            why: "the demo tenant allows 12 requests per invocation ([budgets.invocation] requests = 12)"
                .into(),
        })
    });
    let _ = demo.end(&second);
    step(
        &mut tally,
        "A database login that lives as long as the invocation",
        || demo.database_login(),
    );

    let page = args.trace.unwrap_or_else(|| args.state.join("demo-trace.html"));
    demo.write_trace(&first.invocation_id, &page)?;
    println!();
    println!(
        "The first invocation's trace: {}\n  (text: tollgate audit trace {} {})",
        std::path::absolute(&page)?.display(),
        first.invocation_id,
        demo.trace_files().join(" ")
    );
    println!(
        "tollgate demo: {} of {} steps did what they should",
        tally.passed, tally.total
    );
    Ok(if tally.passed == tally.total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Default)]
struct Tally {
    passed: usize,
    total: usize,
}

/// What one step ran, saw and expected.
struct Check {
    command: String,
    seen: String,
    ok: bool,
    why: String,
}

fn step(tally: &mut Tally, title: &str, run: impl FnOnce() -> Result<Check>) {
    tally.total += 1;
    println!();
    println!("{}. {title}", tally.total);
    match run() {
        Ok(check) => {
            println!("   $ {}", check.command);
            println!("   → {}", check.seen);
            println!("   {} {}", if check.ok { "✓" } else { "✗" }, check.why);
            if check.ok {
                tally.passed += 1;
            }
        }
        Err(e) => println!("   ✗ could not run: {e:#}"),
    }
}

/// What a fetch came back with.
struct Fetched {
    status: u16,
    reason: Option<String>,
    body: String,
}

impl Fetched {
    fn refused(&self, status: u16, reason: &str) -> bool {
        self.status == status && self.reason.as_deref() == Some(reason)
    }

    fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{} {reason}", self.status),
            None => self.status.to_string(),
        }
    }
}

struct Demo {
    layout: Layout,
    control: Control,
    runtime: tokio::runtime::Runtime,
    vault_token: String,
    /// OpenBao token accessors that existed before each invocation started, to tell its own.
    accessors_before: std::cell::RefCell<std::collections::BTreeMap<String, Vec<String>>>,
}

impl Demo {
    fn new(layout: Layout) -> Result<Self> {
        let control = Control::new(&layout.control, &read_token(&layout.control_token_file)?)?;
        let vault_token = read_token(&layout.vault_token_file)?;
        Ok(Self {
            layout,
            control,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            vault_token,
            accessors_before: Default::default(),
        })
    }

    fn start_as(&self, tenant: &str, tool: &str, call: &str) -> Result<Started> {
        let before = self.accessors()?;
        let request = StartRequest {
            tenant: tenant.to_owned(),
            session: format!("demo-{}", std::process::id()),
            tool: tool.to_owned(),
            tool_call_id: call.to_owned(),
            model: "demo".to_owned(),
            traceparent: None,
            ttl_secs: None,
        };
        let started = self
            .runtime
            .block_on(self.control.start(&request))
            .with_context(|| format!("cannot start an invocation of {tenant}/{tool}"))?;
        self.accessors_before
            .borrow_mut()
            .insert(started.invocation_id.clone(), before);
        Ok(started)
    }

    fn start(&self, call: &str) -> Result<Started> {
        self.start_as(TENANT, TOOL, call)
    }

    fn end(&self, started: &Started) -> Result<()> {
        self.runtime.block_on(self.control.end(&started.invocation_id))?;
        Ok(())
    }

    fn credential(&self, started: &Started, name: &str) -> Result<String> {
        Ok(self.credential_full(started, name)?.value.expose().to_owned())
    }

    fn credential_full(
        &self,
        started: &Started,
        name: &str,
    ) -> Result<tollgate_shared::invocation::Credential> {
        Ok(client::credential(
            &self.layout.socket,
            &started.invocation_id,
            started.secret.expose(),
            name,
        )?)
    }

    /// curl through the proxy as the invocation (its proxy URL in the environment, never on
    /// the command line), trusting the interception CA.
    fn curl(&self, started: &Started, url: &str, headers: &[&str]) -> Result<Fetched> {
        let proxy = started
            .proxy_url
            .as_ref()
            .context("the broker does not know the proxy's address")?;
        let mut command = Command::new("curl");
        command
            .args([
                "-sS",
                "-v",
                "--max-time",
                "15",
                "-o",
                "-",
                "-w",
                "\n%{http_code} %{http_connect}",
            ])
            .arg("--cacert")
            .arg(&self.layout.ca);
        for header in headers {
            command.args(["-H", header]);
        }
        let out = command
            .arg(url)
            .env("HTTPS_PROXY", proxy.expose())
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .stdin(Stdio::null())
            .output()
            .context("cannot run curl")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (body, codes) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
        let mut codes = codes.split(' ').filter_map(|c| c.parse::<u16>().ok());
        let (http, connect) = (codes.next().unwrap_or(0), codes.next().unwrap_or(0));
        let status = if http != 0 { http } else { connect };
        // The reason of the last answer curl saw (a refused CONNECT's, or the request's).
        let reason = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .filter_map(|line| line.strip_prefix("< "))
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("x-tollgate-reason")
                    .then(|| value.trim().to_owned())
            })
            .next();
        Ok(Fetched {
            status,
            reason,
            body: body.to_owned(),
        })
    }

    fn bao(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new(crate::dev::bao_binary())
            .args(args)
            .env("BAO_ADDR", &self.layout.vault)
            .env("BAO_TOKEN", &self.vault_token)
            .stdin(Stdio::null())
            .output()
            .context("cannot run bao (deploy/setup.sh installs it in .venv)")
    }

    fn kv(&self, path: &str, field: &str) -> Result<String> {
        let out = self.bao(&["kv", "get", "-mount=secret", &format!("-field={field}"), path])?;
        if !out.status.success() {
            bail!(
                "OpenBao has no {path}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn accessors(&self) -> Result<Vec<String>> {
        let out = self.bao(&["list", "-format=json", "auth/token/accessors"])?;
        Ok(serde_json::from_slice(&out.stdout).unwrap_or_default())
    }

    /// The OpenBao tokens that appeared since the invocation started (its own).
    fn tokens_of(&self, started: &Started) -> Result<Vec<String>> {
        let before = self.accessors_before.borrow();
        let before = before
            .get(&started.invocation_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(self
            .accessors()?
            .into_iter()
            .filter(|a| !before.contains(a))
            .collect())
    }

    /// Whether `tokens` (at least one) are all gone from the server, waiting a little.
    fn revoked(&self, tokens: &[String]) -> Result<bool> {
        let mut gone = false;
        for _ in 0..50 {
            let now = self.accessors()?;
            gone = tokens.iter().all(|t| !now.contains(t));
            if gone {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(gone && !tokens.is_empty())
    }

    /// A database credential from the ledger tool: it logs in while the invocation runs and
    /// is refused by PostgreSQL itself once the invocation ends.
    fn database_login(&self) -> Result<Check> {
        let started = self.start_as("globex-payments", "ledger-sync", "demo-3")?;
        let credential = self.credential_full(&started, "ledger-db")?;
        let user = credential.username.clone().unwrap_or_default();
        let login = || self.psql(&user, credential.value.expose());
        let during = login()?;
        self.end(&started)?;
        let after = wait(Duration::from_secs(5), || {
            login().is_ok_and(|out| !out.status.success())
        });
        Ok(Check {
            command: format!(
                "tollgate credential get ledger-db; psql -U {user} -c 'select sum(amount) from ledger'"
            ),
            seen: format!(
                "during the invocation: {}; after `invoke end`: {}",
                if during.status.success() {
                    format!("logged in, sum = {}", String::from_utf8_lossy(&during.stdout).trim())
                } else {
                    "refused".to_owned()
                },
                if after { "PostgreSQL refuses the login" } else { "the login still works" }
            ),
            ok: during.status.success() && after,
            why: "OpenBao's database engine made this login for the invocation; ending it revoked the lease, and the role is gone from PostgreSQL".into(),
        })
    }

    fn psql(&self, user: &str, password: &str) -> Result<std::process::Output> {
        Command::new(crate::dev::postgres::binary("psql")?)
            .args(["-h", "127.0.0.1", "-p", &self.layout.postgres_port.to_string()])
            .args([
                "-U",
                user,
                "-d",
                "postgres",
                "-tAc",
                "select sum(amount) from ledger",
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .output()
            .context("cannot run psql")
    }

    fn trace_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .layout
            .provenance
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        files.push(format!("--openbao {}", self.layout.openbao_audit.display()));
        files
    }

    /// Waits for the records to reach the files (each service flushes every second), then
    /// writes the page.
    fn write_trace(&self, invocation_id: &str, page: &Path) -> Result<()> {
        let exe = std::env::current_exe()?;
        let trace = |format: &str| {
            Command::new(&exe)
                .args(["audit", "trace", invocation_id])
                .args(&self.layout.provenance)
                .arg("--openbao")
                .arg(&self.layout.openbao_audit)
                .args(["--format", format])
                .stdin(Stdio::null())
                .output()
        };
        // The misuse step ended the invocation; its `invocation.end` is the last record.
        wait(Duration::from_secs(5), || {
            trace("text").is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("invocation.end"))
        });
        let out = trace("html")?;
        if !out.status.success() {
            bail!(
                "audit trace found nothing for {invocation_id}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        std::fs::write(page, out.stdout).with_context(|| format!("writing {}", page.display()))
    }
}

fn wait(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first characters of a value, enough to recognise it and never enough to use it.
fn prefix(value: &str) -> &str {
    value.get(..8).unwrap_or(value)
}

/// `AKIA` and 16 random characters of the access key id alphabet: shaped like AWS's, made for
/// this run, owned by nobody.
fn random_access_key_id() -> Result<String> {
    use std::io::Read as _;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(std::iter::once("AKIA".to_owned())
        .chain(
            bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(*b) % 32]).to_string()),
        )
        .collect())
}
