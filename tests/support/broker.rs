//! `tollgate broker` under test: its own directory with policies, tokens and configuration,
//! and real clients (curl) for both interfaces.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Process, free_port, tollgate};

pub const CONTROL_TOKEN: &str = "control-token-for-tests-7f3a9c";
pub const PROXY_TOKEN: &str = "proxy-token-for-tests-2b8e1d";

/// The tenant policy most broker tests use: tool `fetch` with an injected KV key, a direct
/// database user and a direct child token; tool `other` with a credential of its own.
pub const POLICY_T: &str = r#"version = 1
[tenant]
id = "t"
owner = "sec@t.example"
mode = "enforce"

[[tools]]
name = "fetch"
[[tools.egress]]
id = "origin"
hosts = ["api.origin.test", "echo.origin.test", "evil.origin.test"]
ports = [443]

[[tools.credentials]]
name = "api-key"
source = "vault-kv"
path = "secret/data/t/api"
field = "key"
ttl = "5m"
delivery = "inject"
inject = { header = "X-Api-Key", hosts = ["api.origin.test", "echo.origin.test"] }

[[tools.credentials]]
name = "db"
source = "vault-database"
role = "readonly"
ttl = "5m"
delivery = "direct"

[[tools.credentials]]
name = "child-token"
source = "vault-token"
policies = ["tollgate-test-extra"]
ttl = "2m"
delivery = "direct"

[[tools]]
name = "other"
[[tools.egress]]
id = "api"
hosts = ["api.origin.test"]
[[tools.credentials]]
name = "other-secret"
source = "vault-kv"
path = "secret/data/t/other"
field = "key"
ttl = "5m"
delivery = "direct"

[budgets.session]
tool_calls = 5
"#;

pub const POLICY_U: &str = r#"version = 1
[tenant]
id = "u"
owner = "sec@u.example"

[[tools]]
name = "fetch"
[[tools.egress]]
id = "origin"
hosts = ["api.origin.test"]
[[tools.credentials]]
name = "u-secret"
source = "vault-kv"
path = "secret/data/u/key"
field = "key"
ttl = "5m"
delivery = "direct"
"#;

/// The KV values [`POLICY_T`] and [`POLICY_U`] read.
pub const KV: &[(&str, &str, &str)] = &[
    (
        "secret/t/api",
        "key",
        "live-api-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    ("secret/t/other", "key", "other-tool-secret-31415926535897932384"),
    ("secret/u/key", "key", "tenant-u-secret-27182818284590452353"),
];

pub struct BrokerSpec<'a> {
    pub vault_address: String,
    /// `[vault.auth]` table body; a root token file when `None`.
    pub auth: Option<String>,
    /// `[store]` table body; a directory of the broker's own when `None`.
    pub store: Option<String>,
    pub proxy_address: Option<String>,
    pub policies: &'a [(&'a str, &'a str)],
}

pub struct Broker {
    pub dir: tempfile::TempDir,
    pub control_port: u16,
    pub socket: PathBuf,
    pub log: PathBuf,
    process: Option<Process>,
}

impl Broker {
    pub fn start(spec: &BrokerSpec<'_>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("policies/tenants")).expect("mkdir");
        for (tenant, text) in spec.policies {
            std::fs::write(root.join(format!("policies/tenants/{tenant}.toml")), text).expect("policy");
        }
        std::fs::write(root.join("control.token"), CONTROL_TOKEN).expect("token");
        std::fs::write(root.join("proxy.token"), PROXY_TOKEN).expect("token");
        std::fs::write(root.join("vault.token"), super::secrets::ROOT_TOKEN).expect("token");
        let control_port = free_port();
        let auth = spec
            .auth
            .clone()
            .unwrap_or_else(|| "method = \"token\"\ntoken_file = \"vault.token\"".to_owned());
        let store = spec
            .store
            .clone()
            .unwrap_or_else(|| "kind = \"file\"\ndir = \"state\"".to_owned());
        let proxy = spec
            .proxy_address
            .as_ref()
            .map(|a| format!("proxy_address = \"{a}\"\n"))
            .unwrap_or_default();
        let config = format!(
            "control_listen = \"127.0.0.1:{control_port}\"\nsocket = \"broker.sock\"\nsweep_interval = \"200ms\"\n{proxy}[vault]\naddress = \"{}\"\ntimeout = \"1s\"\n[vault.auth]\n{auth}\n[store]\n{store}\n",
            spec.vault_address
        );
        std::fs::write(root.join("broker.toml"), config).expect("config");
        let mut broker = Self {
            socket: root.join("broker.sock"),
            log: root.join("broker.log"),
            dir,
            control_port,
            process: None,
        };
        broker.launch();
        broker
    }

    /// Starts the process (again) on the same directory and port.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = tollgate()
            .args(["broker", "--config"])
            .arg(self.dir.path().join("broker.toml"))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start broker");
        self.process = Some(Process::new(child));
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.control_port)).is_ok() && self.socket.exists()
            {
                return;
            }
            if self.process.as_mut().is_some_and(Process::exited) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("broker did not start: {}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown work of any kind.
    pub fn kill(&mut self) {
        self.process = None;
    }

    pub fn control_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.control_port)
    }

    /// A control API call with curl as `token`'s role; (status, JSON body).
    pub fn control(&self, token: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        curl(|c| {
            c.args(["-X", "POST", "-H", &format!("authorization: Bearer {token}")])
                .args(["-H", "content-type: application/json", "--data-binary", body])
                .arg(format!("{}{path}", self.control_url()));
        })
    }

    /// Starts an invocation as the orchestrator; (id, secret) of a 201, or a panic.
    pub fn invocation(&self, tenant: &str, tool: &str, session: &str) -> (String, String) {
        let (status, body) = self.start_raw(tenant, tool, session, None);
        assert_eq!(status, 201, "start: {body}\n{}", self.log_text());
        (
            body["invocation_id"].as_str().expect("id").to_owned(),
            body["secret"].as_str().expect("secret").to_owned(),
        )
    }

    pub fn start_raw(
        &self,
        tenant: &str,
        tool: &str,
        session: &str,
        ttl: Option<u64>,
    ) -> (u16, serde_json::Value) {
        let mut body = serde_json::json!({
            "tenant": tenant, "session": session, "tool": tool,
            "tool_call_id": "call-1", "model": "test-model",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        });
        if let Some(ttl) = ttl {
            body["ttl_secs"] = ttl.into();
        }
        self.control(CONTROL_TOKEN, "/v1/invocations", &body.to_string())
    }

    pub fn end(&self, id: &str) -> (u16, serde_json::Value) {
        self.control(CONTROL_TOKEN, &format!("/v1/invocations/{id}/end"), "{}")
    }

    /// A tool's credential request with curl over the Unix socket; (status, JSON body).
    pub fn credential(&self, id: &str, secret: &str, name: &str) -> (u16, serde_json::Value) {
        curl(|c| {
            c.arg("--unix-socket")
                .arg(&self.socket)
                .args(["-u", &format!("{id}:{secret}")])
                .arg(format!("http://broker/v1/credentials/{name}"));
        })
    }
}

/// curl with the arguments `extra` adds; (status, JSON body).
fn curl(extra: impl FnOnce(&mut Command)) -> (u16, serde_json::Value) {
    let mut command = Command::new("curl");
    command.args(["-sS", "--max-time", "15", "-o", "-", "-w", "\n%{http_code}"]);
    extra(&mut command);
    split_answer(&command.output().expect("curl").stdout)
}

/// curl's `-w "\n%{http_code}"` output: the body, then the status on the last line.
fn split_answer(stdout: &[u8]) -> (u16, serde_json::Value) {
    let text = String::from_utf8_lossy(stdout);
    let (body, code) = text.trim_end().rsplit_once('\n').unwrap_or(("", text.trim()));
    let status = code.trim().parse().unwrap_or(0);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}
