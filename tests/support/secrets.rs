//! Real secret back ends for the broker tests: an OpenBao dev server (the `bao` binary from
//! the venv) and a private PostgreSQL cluster from Debian's binaries, each on a free loopback
//! port in its own temporary directory, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Process, free_port, repo};

pub const ROOT_TOKEN: &str = "tollgate-test-root";

/// `bao server -dev`, in memory.
pub struct OpenBao {
    pub port: u16,
    pub dir: tempfile::TempDir,
    process: Option<Process>,
}

pub fn bao_binary() -> PathBuf {
    let venv = repo().join(".venv/bin/bao");
    assert!(
        venv.exists(),
        "{} is missing: run deploy/setup.sh",
        venv.display()
    );
    venv
}

impl OpenBao {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bao = Self {
            port: free_port(),
            dir,
            process: None,
        };
        bao.launch();
        bao
    }

    /// OpenBao's own audit log (a file audit device declared in the server's configuration).
    pub fn audit_log(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("bao.log")).expect("log");
        let config = self.dir.path().join("audit.hcl");
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"file\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
                self.audit_log().display()
            ),
        )
        .expect("audit config");
        let child = Command::new(bao_binary())
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-config={}", config.display()))
            .arg(format!("-dev-root-token-id={ROOT_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{}", self.port))
            .env("HOME", self.dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bao");
        self.process = Some(Process::new(child));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.bao(&["status"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("OpenBao did not start: {}", self.log());
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default()
    }

    /// Runs the `bao` CLI against this server as root.
    pub fn bao(&self, args: &[&str]) -> Output {
        self.bao_as(ROOT_TOKEN, args)
    }

    pub fn bao_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(bao_binary())
            .args(args)
            .env("BAO_ADDR", self.address())
            .env("VAULT_ADDR", self.address())
            .env("BAO_TOKEN", token)
            .env("VAULT_TOKEN", token)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run bao")
    }

    /// Like [`OpenBao::bao`], but the command must succeed.
    pub fn must(&self, args: &[&str]) -> String {
        let out = self.bao(args);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server (an outage); [`OpenBao::restart`] brings a fresh one up on the same
    /// port (a dev server keeps nothing, so callers seed it again).
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Freezes the server (SIGSTOP): calls to it hang until they time out, and it keeps
    /// every token and lease for [`OpenBao::resume`].
    pub fn pause(&self) {
        self.process.as_ref().expect("running").signal("STOP");
    }

    pub fn resume(&self) {
        self.process.as_ref().expect("running").signal("CONT");
    }

    /// Whether a token is still accepted by the server: it reads the secret the seeded
    /// `tollgate-test-extra` policy grants.
    pub fn token_works(&self, token: &str) -> bool {
        self.bao_as(token, &["read", "secret/data/extra"])
            .status
            .success()
    }
}

/// A private PostgreSQL cluster with a superuser the database engine logs in as.
pub struct Postgres {
    pub port: u16,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
    process: Option<Process>,
}

pub const PG_ADMIN: &str = "tgadmin";
pub const PG_ADMIN_PASSWORD: &str = "pg-admin-test-password";

fn pg_bin(name: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("PostgreSQL is not installed: run deploy/setup.sh")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version")
        .join("bin")
        .join(name)
}

/// PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Postgres {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("pg");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let pwfile = tmp.path().join("pw");
        std::fs::write(&pwfile, PG_ADMIN_PASSWORD).expect("pwfile");
        chown_postgres(tmp.path());
        let out = as_postgres(&pg_bin("initdb"))
            .arg("-D")
            .arg(&dir)
            .args(["-U", PG_ADMIN, "--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = std::fs::File::create(tmp.path().join("pg.log")).expect("log");
        let child = as_postgres(&pg_bin("postgres"))
            .arg("-D")
            .arg(&dir)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ])
            .arg("-k")
            .arg(tmp.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let pg = Self {
            port,
            dir,
            _tmp: tmp,
            process: Some(Process::new(child)),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if pg.login(PG_ADMIN, PG_ADMIN_PASSWORD) {
                return pg;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not start");
    }

    /// Whether `user` can log in with `password` and run a query.
    pub fn login(&self, user: &str, password: &str) -> bool {
        Command::new(pg_bin("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
                "-tAc",
                "select 1",
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.process = None;
    }
}

fn chown_postgres(path: &Path) {
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status();
}

/// Seeds a server for the broker tests: KV secrets, the database engine against `pg` with
/// one role, and a policy a token grant passes on.
pub fn seed(bao: &OpenBao, pg: Option<&Postgres>, kv: &[(&str, &str, &str)]) {
    // The broker's invocation header, in the clear, in OpenBao's audit log.
    bao.must(&[
        "write",
        "sys/config/auditing/request-headers/x-tollgate-invocation",
        "hmac=false",
    ]);
    for (path, field, value) in kv {
        bao.must(&["kv", "put", path, &format!("{field}={value}")]);
    }
    bao.must(&["kv", "put", "secret/extra", "k=v"]);
    let extra = bao.dir.path().join("extra.hcl");
    std::fs::write(
        &extra,
        "path \"secret/data/extra\" { capabilities = [\"read\"] }\n",
    )
    .expect("policy file");
    bao.must(&[
        "policy",
        "write",
        "tollgate-test-extra",
        &extra.display().to_string(),
    ]);
    if let Some(pg) = pg {
        bao.must(&["secrets", "enable", "database"]);
        let url = format!(
            "connection_url=postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            pg.port
        );
        bao.must(&[
            "write",
            "database/config/pg",
            "plugin_name=postgresql-database-plugin",
            "allowed_roles=*",
            &url,
            &format!("username={PG_ADMIN}"),
            &format!("password={PG_ADMIN_PASSWORD}"),
        ]);
        bao.must(&[
            "write",
            "database/roles/readonly",
            "db_name=pg",
            "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            "default_ttl=10m",
            "max_ttl=1h",
        ]);
    }
}

/// A relay in front of a server (tests/support/relay.py): [`Relay::cut`] makes the server
/// unreachable at once, [`Relay::restore`] brings the path back; the server keeps its state.
pub struct Relay {
    pub port: u16,
    target: u16,
    process: Option<Process>,
}

impl Relay {
    pub fn new(target: u16) -> Self {
        let mut relay = Self {
            port: free_port(),
            target,
            process: None,
        };
        relay.restore();
        relay
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn cut(&mut self) {
        self.process = None;
    }

    pub fn restore(&mut self) {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/relay.py"))
            .args([self.port.to_string(), self.target.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("relay");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("ready");
        assert!(line.starts_with("ready"), "relay said {line:?}");
        self.process = Some(Process::new(child));
    }
}
