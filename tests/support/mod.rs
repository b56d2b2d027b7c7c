//! Shared fixtures for the end-to-end proxy tests: certificates, a real origin server
//! (Python), the `tollgate proxy` process, network namespaces, and real clients.
#![allow(dead_code, unreachable_pub)] // shared by several test binaries, each using a part

pub mod broker;
pub mod dev;
pub mod recording;
pub mod redis;
pub mod secrets;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "inv-test";
pub const SECRET: &str = "s3cret-0f-high-entropy-9c1d2e";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

/// The project's Python (with requests), installed by deploy/setup.sh.
pub fn python() -> PathBuf {
    let venv = repo().join(".venv/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: run deploy/setup.sh",
        venv.display()
    );
    venv
}

/// A child process that is killed when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace owned by one test, with addresses on its loopback device, so that
/// traffic to "private" or "metadata" addresses can only ever reach the test's own fixtures.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(addresses: &[&str]) -> Self {
        let name = format!("tg{}-{}", std::process::id(), rand_suffix());
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Self { name };
        run(ns.command("ip").args(["link", "set", "lo", "up"]));
        for address in addresses {
            let prefix = if address.contains(':') { "128" } else { "32" };
            run(ns
                .command("ip")
                .args(["addr", "add", &format!("{address}/{prefix}"), "dev", "lo"]));
        }
        ns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos:x}")
}

fn run(command: &mut Command) {
    let output = command.output().expect("spawn");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where a process runs: this machine's network, or a test namespace.
#[derive(Clone, Copy)]
pub enum Place<'a> {
    Host,
    Netns(&'a Netns),
}

impl Place<'_> {
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self {
            Place::Host => Command::new(program),
            Place::Netns(ns) => ns.command(program),
        }
    }
}

/// Certificates for test origins, signed by their own CA (not the interception CA).
pub struct OriginCerts {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl OriginCerts {
    pub fn new(dir: &Path, names: &[&str]) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tollgate test origin CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
        let cert = params.signed_by(&key, &issuer).expect("leaf");
        let certs = Self {
            ca: dir.join("origin-ca.pem"),
            cert: dir.join("origin.pem"),
            key: dir.join("origin.key"),
        };
        std::fs::write(&certs.ca, ca_cert.pem()).expect("write");
        std::fs::write(&certs.cert, cert.pem()).expect("write");
        std::fs::write(&certs.key, key.serialize_pem()).expect("write");
        certs
    }
}

/// A real origin server (tests/support/upstream.py).
pub struct Origin {
    _process: Process,
    pub port: u16,
}

impl Origin {
    pub fn tls(place: Place<'_>, host: &str, port: u16, certs: &OriginCerts) -> Self {
        Self::start(
            place,
            host,
            port,
            &[
                "tls",
                certs.cert.to_str().expect("utf-8"),
                certs.key.to_str().expect("utf-8"),
            ],
        )
    }

    pub fn plain(place: Place<'_>, host: &str, port: u16) -> Self {
        Self::start(place, host, port, &["plain"])
    }

    pub fn silent(place: Place<'_>, host: &str, port: u16) -> Self {
        Self::start(place, host, port, &["silent"])
    }

    fn start(place: Place<'_>, host: &str, port: u16, mode: &[&str]) -> Self {
        let mut command = place.command("python3");
        command
            .arg(repo().join("tests/support/upstream.py"))
            .arg(host)
            .arg(port.to_string())
            .args(mode);
        command.stderr(Stdio::inherit());
        let (process, port) = spawn_ready(&mut command, "origin");
        Self {
            _process: process,
            port,
        }
    }
}

/// Starts a test server that prints `ready PORT` once it listens, and returns it with the
/// port (`what` names it when it says anything else).
pub fn spawn_ready(command: &mut Command, what: &str) -> (Process, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what} ready line: {e}"));
    let port = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{what} said {line:?}"));
    (Process::new(child), port)
}

/// Runs a client to its end with no standard input and returns its standard output; if it
/// fails, panics with what it printed and `context` (a log, the case).
pub fn run_to_end(command: &mut Command, context: impl std::fmt::Display) -> String {
    let out = command.stdin(Stdio::null()).output().expect("run client");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{context}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A loopback port for a server a test starts, held for this test process's lifetime so that no
/// other test on the machine is given it, and the one above it free too (OpenBao's dev server
/// listens on the next port as well).
///
/// Asking the kernel for port 0 and releasing it raced: another test process, or an outgoing
/// connection's source port, could take the port before the server bound it. So ports come from
/// below the kernel's ephemeral range (which starts at 32768 by default), in pairs, each pair
/// claimed by an exclusive lock on a file under the temporary directory that is released when
/// the test process ends.
pub fn free_port() -> u16 {
    const FIRST: u16 = 20_000;
    const PAIRS: u16 = 6_000;
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("tollgate-test-ports");
    std::fs::create_dir_all(&dir).expect("port lock directory");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let start = (std::process::id() ^ nanos) % u32::from(PAIRS);
    for step in 0..u32::from(PAIRS) {
        let port = FIRST + 2 * ((start + step) % u32::from(PAIRS)) as u16;
        // A lock file another user made (and this one cannot open) is a port taken.
        let Ok(lock) = std::fs::File::create(dir.join(port.to_string())) else {
            continue;
        };
        let exclusive = rustix::fs::FlockOperation::NonBlockingLockExclusive;
        if rustix::fs::flock(&lock, exclusive).is_err() {
            continue;
        }
        let bindable = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if bindable(port) && bindable(port + 1) {
            HELD.lock().expect("port locks").push(lock);
            return port;
        }
    }
    panic!("no free loopback port pair in {FIRST}..{}", FIRST + 2 * PAIRS)
}

/// Settings of one proxy under test.
pub struct ProxySpec<'a> {
    pub tenant_policy: &'a str,
    /// The CA that signed the test origins, trusted for upstreams.
    pub origin_ca: &'a Path,
    pub hosts: &'a [(&'a str, &'a str)],
    pub nameservers: &'a [String],
    pub extra: &'a str,
}

/// A TLS origin for `api.test` on 127.0.0.1 and a proxy whose one rule lets the `fetch` tool
/// reach it; the directory holding the origin's certificates comes along.
pub fn proxy_to_one_origin() -> (Proxy, Origin, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = OriginCerts::new(dir.path(), &["api.test"]);
    let origin = Origin::tls(Place::Host, "127.0.0.1", 0, &certs);
    let policy = one_rule_policy("", "api.test", origin.port, "127.0.0.1/32", "");
    (
        proxy_for(&policy, &certs.ca, "api.test", "127.0.0.1"),
        origin,
        dir,
    )
}

/// Tenant `t` with the tool `fetch` and one rule for `host:port` that may reach `private`;
/// `head` stands before `[tenant]` (e.g. an `[output]` table), `rule` ends the rule.
pub fn one_rule_policy(head: &str, host: &str, port: u16, private: &str, rule: &str) -> String {
    format!(
        "version = 1\n{head}\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"one\"\nhosts = [\"{host}\"]\nports = [{port}]\nallow_private = [\"{private}\"]\n{rule}"
    )
}

/// A proxy with `policy`, resolving `host` to `ip` and trusting `origin_ca` upstream.
pub fn proxy_for(policy: &str, origin_ca: &Path, host: &str, ip: &str) -> Proxy {
    let spec = ProxySpec {
        tenant_policy: policy,
        origin_ca,
        hosts: &[(host, ip)],
        nameservers: &[],
        extra: "",
    };
    Proxy::start(Place::Host, &spec)
}

/// `tollgate proxy` with its own CA, policies, identities and configuration.
pub struct Proxy {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub metrics_port: u16,
    pub log: PathBuf,
    process: Option<Process>,
}

impl Proxy {
    pub fn start(place: Place<'_>, spec: &ProxySpec<'_>) -> Self {
        Self::start_logging(place, spec, "info")
    }

    /// The same, logging at `level` (`debug` shows what the dependencies log too).
    pub fn start_logging(place: Place<'_>, spec: &ProxySpec<'_>, level: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(spec.origin_ca, dir.path().join("origin-ca.pem")).expect("origin CA");
        let (port, metrics_port) = match place {
            Place::Host => (free_port(), free_port()),
            Place::Netns(_) => (3128, 9128),
        };
        let status = tollgate()
            .args(["ca", "init"])
            .arg(dir.path().join("ca"))
            .output()
            .expect("ca init");
        assert!(status.status.success());
        std::fs::create_dir_all(dir.path().join("policies/tenants")).expect("mkdir");
        std::fs::write(dir.path().join("policies/tenants/t.toml"), spec.tenant_policy).expect("policy");
        let hash = String::from_utf8(
            tollgate()
                .args(["proxy", "--hash-secret", SECRET])
                .output()
                .expect("hash")
                .stdout,
        )
        .expect("utf-8");
        std::fs::write(
            dir.path().join("identities.toml"),
            format!("[[identity]]\nuser = \"{USER}\"\nsecret_sha256 = \"{}\"\ntenant = \"t\"\nsession = \"sess-1\"\ntool = \"fetch\"\n", hash.trim()),
        )
        .expect("identities");
        let hosts: Vec<String> = spec
            .hosts
            .iter()
            .map(|(name, ip)| format!("\"{name}\" = [\"{ip}\"]"))
            .collect();
        let nameservers: Vec<String> = spec.nameservers.iter().map(|n| format!("\"{n}\"")).collect();
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\npolicies = \"policies\"\nidentities = \"identities.toml\"\nca_dir = \"ca\"\nupstream_ca = \"origin-ca.pem\"\n{}\n[resolver]\nhosts = {{ {} }}\nnameservers = [{}]\ntimeout = \"1s\"\n",
            spec.extra,
            hosts.join(", "),
            nameservers.join(", ")
        );
        std::fs::write(dir.path().join("proxy.toml"), config).expect("config");
        let log = dir.path().join("proxy.log");
        let mut command = place.command(env!("CARGO_BIN_EXE_tollgate"));
        command
            .args(["proxy", "--config", "proxy.toml"])
            .current_dir(dir.path())
            .env("RUST_LOG", level);
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        let child = command.spawn().expect("start proxy");
        let proxy = Self {
            dir,
            port,
            metrics_port,
            log,
            process: Some(Process { child }),
        };
        proxy.wait_ready(place);
        proxy
    }

    fn wait_ready(&self, place: Place<'_>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = match place {
                Place::Host => TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
                Place::Netns(ns) => ns
                    .command("bash")
                    .args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{}", self.port)])
                    .status()
                    .is_ok_and(|s| s.success()),
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("proxy did not start: {}", self.log_text());
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca/ca.pem")
    }

    pub fn url(&self, user: &str, secret: &str) -> String {
        format!("http://{user}:{secret}@127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policies/tenants/t.toml")
    }

    /// Runs curl through the proxy with the interception CA trusted via the environment.
    pub fn curl(&self, place: Place<'_>, args: &[&str]) -> Output {
        let mut command = place.command("curl");
        command
            .args(["-sS", "--max-time", "10", "-x", &self.url(USER, SECRET)])
            .args(args);
        command.env("CURL_CA_BUNDLE", self.ca());
        command.output().expect("curl")
    }

    /// The metrics page.
    pub fn metrics(&self, place: Place<'_>) -> String {
        let output = place
            .command("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                &format!("http://127.0.0.1:{}/metrics", self.metrics_port),
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Proxy {
    /// Another `tollgate proxy` with this one's configuration (policies, identities, CA,
    /// store), listening on `listen` with metrics on `metrics`; returned once it listens.
    pub fn another(&self, listen: &str, metrics: &str) -> Process {
        let mut process = Process::new(
            tollgate()
                .args([
                    "proxy",
                    "--config",
                    "proxy.toml",
                    "--listen",
                    listen,
                    "--metrics-listen",
                    metrics,
                ])
                .current_dir(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("another proxy"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(listen).is_err() {
            assert!(!process.exited(), "the other proxy stopped");
            assert!(
                Instant::now() < deadline,
                "the other proxy does not listen on {listen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit.
    pub fn terminate_and_wait(&self, limit: Duration) -> bool {
        let Some(process) = &self.process else {
            return true;
        };
        let pid = process.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.process.take();
    }
}

/// curl's `-w '%{http_code}'` status, printed last.
pub fn status_of(output: &Output) -> u16 {
    let text = String::from_utf8_lossy(&output.stdout);
    text.rsplit('\n')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no status in {text:?} / {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

pub fn body_of(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    text.rsplit_once('\n')
        .map_or(String::new(), |(body, _)| body.to_owned())
}

/// Sends raw bytes to the proxy from `place` and returns the whole answer.
pub fn raw(place: Place<'_>, port: u16, bytes: &[u8], timeout_secs: f64) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let output = place
        .command("python3")
        .arg(repo().join("tests/support/raw.py"))
        .args(["127.0.0.1", &port.to_string(), &hex, &timeout_secs.to_string()])
        .output()
        .expect("raw client");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn basic(user: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

/// A CONNECT request head with valid credentials.
pub fn connect_head(target: &str) -> Vec<u8> {
    format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {}\r\n\r\n",
        basic(USER, SECRET)
    )
    .into_bytes()
}

/// The status code and the JSON body of a raw HTTP/1.1 answer.
pub fn parse_answer(answer: &str) -> (u16, Option<serde_json::Value>) {
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .and_then(|b| serde_json::from_str(b).ok());
    (status, body)
}

/// The DOM of a local HTML file as Debian's headless Chromium renders it, with no network at
/// all: Chromium runs in a network namespace of its own, so a page that needed anything from
/// elsewhere would render without it.
pub fn rendered_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Command::new("unshare")
        .args(["--net", "/usr/bin/chromium"])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run chromium (deploy/setup.sh installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// A tmpfs of a given size, mounted for one test (root only): a disk that fills up.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn new(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        Self { dir }
    }

    pub fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("remount");
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// `tollgate audit verify` of `files`, trusting `keys` (verifier keys or `.pub` files).
pub fn audit_verify<P: AsRef<std::ffi::OsStr>>(files: &[P], keys: &[&str]) -> Output {
    let mut command = tollgate();
    command.args(["audit", "verify"]);
    for key in keys {
        command.args(["--key", key]);
    }
    command.args(files).output().expect("audit verify")
}

/// Panics with `audit verify`'s report unless every file verifies.
pub fn assert_verifies<P: AsRef<std::ffi::OsStr>>(files: &[P], keys: &[&str]) {
    let out = audit_verify(files, keys);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// `tollgate audit trace` of `invocation` over `files` as `format`, with OpenBao's audit
/// log joined when given; its standard output.
pub fn audit_trace<P: AsRef<std::ffi::OsStr>>(
    invocation: &str,
    files: &[P],
    openbao: Option<&Path>,
    format: &str,
) -> Vec<u8> {
    let mut command = tollgate();
    command
        .args(["audit", "trace", invocation, "--format", format])
        .args(files);
    if let Some(log) = openbao {
        command.arg("--openbao").arg(log);
    }
    command.output().expect("audit trace").stdout
}
