//! `tollgate dev` on free loopback ports, for the dev, demo and MCP tests. The repository's
//! policies are copied with the demo tenant's origin port (8443) replaced by a free one, so
//! that several stacks can run side by side.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, repo, tollgate};

pub struct Dev {
    /// What dev printed up to "ready".
    pub printed: String,
    pub state: tempfile::TempDir,
    pub policies: tempfile::TempDir,
    /// proxy, metrics, control, OpenBao, PostgreSQL, origin.
    pub ports: [u16; 6],
    pub child: Option<Child>,
}

pub fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// PATH with the project's venv (the `bao` binary) in front.
pub fn venv_path() -> String {
    format!(
        "{}:{}",
        repo().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

impl Dev {
    pub fn start() -> Self {
        let ports = [0; 6].map(|_| free_port());
        let policies = tempfile::tempdir().expect("tempdir");
        copy_policies(&repo().join("policies"), policies.path(), ports[5]);
        let state = tempfile::tempdir().expect("tempdir");
        let mut child = Self::command(state.path(), policies.path(), &ports)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tollgate dev");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut printed = String::new();
        let mut ready = false;
        for line in lines.by_ref().map_while(Result::ok) {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("tollgate dev: ready") {
                ready = true;
                break;
            }
        }
        // Keep reading, so that nothing dev prints later meets a closed pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        let mut dev = Self {
            printed: printed.clone(),
            state,
            policies,
            ports,
            child: Some(child),
        };
        if !ready {
            let logs = dev.logs();
            dev.stop();
            panic!("dev did not come up:\n{printed}\n{logs}");
        }
        dev
    }

    pub fn command(state: &Path, policies: &Path, ports: &[u16; 6]) -> Command {
        let mut command = tollgate();
        command
            .arg("dev")
            .arg("--policies")
            .arg(policies)
            .arg("--state")
            .arg(state)
            .args(["--listen", &addr(ports[0]), "--metrics-listen", &addr(ports[1])])
            .args([
                "--control-listen",
                &addr(ports[2]),
                "--vault-listen",
                &addr(ports[3]),
            ])
            .args([
                "--postgres-listen",
                &addr(ports[4]),
                "--origin-listen",
                &addr(ports[5]),
            ])
            .env("PATH", venv_path())
            .stdin(Stdio::null());
        command
    }

    pub fn broker_dir(&self) -> PathBuf {
        self.state.path().join("broker")
    }

    /// `tollgate invoke start` as the orchestrator would: the broker's answer.
    pub fn invoke(&self, tenant: &str, tool: &str, call: &str) -> serde_json::Value {
        let started = tollgate()
            .args(["invoke", "start", "--tenant", tenant, "--tool", tool])
            .args(["--session", "s1", "--tool-call-id", call, "--model", "m"])
            .env("TOLLGATE_CONTROL_URL", format!("http://{}", addr(self.ports[2])))
            .env(
                "TOLLGATE_CONTROL_TOKEN_FILE",
                self.broker_dir().join("control.token"),
            )
            .output()
            .expect("invoke start");
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        serde_json::from_slice(&started.stdout).expect("json")
    }

    pub fn origin(&self, host: &str, path: &str) -> String {
        format!("https://{host}.tollgate.test:{}{path}", self.ports[5])
    }

    /// Every log the stack wrote, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["postgres", "openbao", "broker", "proxy"] {
            let text =
                std::fs::read_to_string(self.state.path().join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {name}.log (last lines)\n"));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Ctrl-C and wait; the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies a policy directory, with the demo tenant's origin port replaced.
fn copy_policies(from: &Path, to: &Path, origin_port: u16) {
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).expect("inside");
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let mut text = std::fs::read_to_string(&entry).expect("read policy");
        if relative.ends_with("tollgate-demo.toml") {
            text = text.replace("8443", &origin_port.to_string());
        }
        std::fs::write(target, text).expect("write policy");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
    {
        if entry.is_dir() {
            files.extend(walk(&entry));
        } else {
            files.push(entry);
        }
    }
    files
}
