//! An origin that records every byte it receives (tests/support/recorder.py), over TLS or
//! plain HTTP: what did, and did not, reach the upstream.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{OriginCerts, Process, repo};

pub struct Recorder {
    _process: Process,
    pub port: u16,
    pub record: PathBuf,
}

impl Recorder {
    /// A TLS origin on 127.0.0.2 with `certs`, recording to `name` in `dir`.
    pub fn tls(certs: &OriginCerts, dir: &Path, name: &str) -> Self {
        Self::start([certs.cert.as_os_str(), certs.key.as_os_str()], dir.join(name))
    }

    /// A plain-HTTP origin on 127.0.0.2.
    pub fn plain(dir: &Path, name: &str) -> Self {
        Self::start(["-".as_ref(), "-".as_ref()], dir.join(name))
    }

    fn start(tls: [&std::ffi::OsStr; 2], record: PathBuf) -> Self {
        std::fs::write(&record, b"").expect("record file");
        let (process, port) = super::spawn_ready(
            Command::new("python3")
                .arg(repo().join("tests/support/recorder.py"))
                .args(["127.0.0.2", "0"])
                .args(tls)
                .arg(&record),
            "recorder",
        );
        Self {
            _process: process,
            port,
            record,
        }
    }

    pub fn received(&self) -> Vec<u8> {
        std::fs::read(&self.record).expect("record")
    }
}

/// A proxy in front of a recording TLS origin (`api.test` on 127.0.0.2) and a nameserver
/// that only listens (to see whether a name was looked up), with one tool `fetch`: rule
/// `api` to the origin and rule `wild` to `*.wild.test`. `sections` is TOML put after
/// `[tenant]` (`[detectors]`, `[budgets.information]`, ...).
pub struct Bench {
    pub proxy: super::Proxy,
    pub tls: Recorder,
    pub dns: std::net::UdpSocket,
    pub dir: tempfile::TempDir,
}

impl Bench {
    pub fn start(sections: &str) -> Self {
        Self::start_with(sections, "")
    }

    /// The same, with `extra` in the proxy's configuration (e.g. a `[budgets]` store).
    pub fn start_with(sections: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = OriginCerts::new(dir.path(), &["api.test"]);
        let tls = Recorder::tls(&certs, dir.path(), "tls.bin");
        let dns = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        dns.set_read_timeout(Some(std::time::Duration::from_millis(400)))
            .expect("timeout");
        let policy = format!(
            "version = 1\n[tenant]\nid = \"t\"\nowner = \"o@t.example\"\n{sections}\n[[tools]]\nname = \"fetch\"\n[[tools.egress]]\nid = \"api\"\nhosts = [\"api.test\"]\nports = [{}]\nallow_private = [\"127.0.0.0/8\"]\n[[tools.egress]]\nid = \"wild\"\nhosts = [\"*.wild.test\"]\n",
            tls.port
        );
        let nameservers = [dns.local_addr().expect("addr").to_string()];
        let spec = super::ProxySpec {
            tenant_policy: &policy,
            origin_ca: &certs.ca,
            hosts: &[("api.test", "127.0.0.2")],
            nameservers: &nameservers,
            extra,
        };
        let proxy = super::Proxy::start(super::Place::Host, &spec);
        Self { proxy, tls, dns, dir }
    }

    /// A second proxy with the same configuration (identities, policies, CA, store) on ports
    /// of its own; its port and the process.
    pub fn replica(&self) -> (u16, super::Process) {
        let port = super::free_port();
        let listen = format!("127.0.0.1:{port}");
        let metrics = format!("127.0.0.1:{}", super::free_port());
        (port, self.proxy.another(&listen, &metrics))
    }
}

/// Whether a DNS query for `host` reached the listening nameserver `dns`.
pub fn looked_up(dns: &std::net::UdpSocket, host: &str) -> bool {
    let wire: Vec<u8> = host
        .split('.')
        .flat_map(|label| std::iter::once(label.len() as u8).chain(label.bytes()))
        .collect();
    let mut buf = [0u8; 512];
    while let Ok((n, _)) = dns.recv_from(&mut buf) {
        if buf[..n]
            .windows(wire.len())
            .any(|w| w.eq_ignore_ascii_case(&wire))
        {
            return true;
        }
    }
    false
}
