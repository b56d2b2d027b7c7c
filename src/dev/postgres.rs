//! A private PostgreSQL for `tollgate dev`, from Debian's binaries: a fresh cluster in a
//! temporary directory on every start, listening on loopback only, with a small `ledger`
//! table for the database roles the policies grant. OpenBao's database engine manages its
//! logins; the admin password is random and kept in a 0600 file under the state directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The admin role OpenBao's database engine logs in as.
pub(crate) const ADMIN: &str = "tollgate";

pub(crate) struct Postgres {
    pub(crate) port: u16,
    password: String,
    /// The admin password, for OpenBao's `password=@file` (never on a command line).
    pub(crate) password_file: PathBuf,
    data: PathBuf,
}

/// The newest installed PostgreSQL's `name` binary (Debian: /usr/lib/postgresql/N/bin).
pub(crate) fn binary(name: &str) -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .context("PostgreSQL is not installed (/usr/lib/postgresql): run deploy/setup.sh")?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("bin").join(name).exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|dir| dir.join("bin").join(name))
        .with_context(|| format!("no PostgreSQL installation has {name}"))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// PostgreSQL refuses to run as root; as root it runs as the `postgres` user.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Creates a fresh cluster (removing the one an earlier run left) and starts the server as
    /// a child the caller supervises.
    pub(crate) fn start(
        port: u16,
        password: String,
        password_file: PathBuf,
        log: std::fs::File,
    ) -> Result<(Self, Child)> {
        let data = std::env::temp_dir().join(format!("tollgate-dev-postgres-{port}"));
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("removing the last run's cluster {}", data.display()))?;
        }
        std::fs::create_dir_all(&data)?;
        super::write_private(&password_file, password.as_bytes())?;
        let initdb_password = data.join("admin-password");
        super::write_private(&initdb_password, password.as_bytes())?;
        let cluster = data.join("cluster");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status()?;
            if !status.success() {
                bail!("cannot give {} to the postgres user", data.display());
            }
        }
        let out = as_postgres(&binary("initdb")?)
            .arg("-D")
            .arg(&cluster)
            .args(["-U", ADMIN, "--auth=scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", initdb_password.display()))
            .stdin(Stdio::null())
            .output()
            .context("cannot run initdb")?;
        let _ = std::fs::remove_file(&initdb_password);
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let child = as_postgres(&binary("postgres")?)
            .arg("-D")
            .arg(&cluster)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .arg("-k")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start PostgreSQL")?;
        Ok((
            Self {
                port,
                password,
                password_file,
                data,
            },
            child,
        ))
    }

    /// Runs `sql` as `user` (a failed login is a failed status, not an error).
    pub(crate) fn query(&self, user: &str, password: &str, sql: &str) -> Result<std::process::Output> {
        Command::new(binary("psql")?)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", user])
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "3")
            .stdin(Stdio::null())
            .output()
            .context("cannot run psql")
    }

    /// Waits until the admin can log in, then creates the demo table.
    pub(crate) fn prepare(&self, exited: &mut dyn FnMut() -> bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.query(ADMIN, &self.password, "select 1")?.status.success() {
            if exited() {
                bail!("PostgreSQL stopped during start-up; see postgres.log under the state directory");
            }
            if Instant::now() > deadline {
                bail!("PostgreSQL did not accept logins within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = self.query(
            ADMIN,
            &self.password,
            "CREATE TABLE ledger (id serial PRIMARY KEY, account text NOT NULL, amount numeric NOT NULL); \
             INSERT INTO ledger (account, amount) VALUES ('operating', 1200.00), ('payroll', -800.00), ('reserve', 5000.00);",
        )?;
        if !out.status.success() {
            bail!(
                "cannot create the ledger table: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// The OpenBao database-engine connection for this server.
    pub(crate) fn connection_url(&self) -> String {
        format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Called after the server stopped (the stack stops its children first).
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
