//! An origin that records every byte it receives (tests/support/recorder.py), over TLS or
//! plain HTTP: what did, and did not, reach the upstream.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/recorder.py"))
            .args(["127.0.0.2", "0"])
            .args(tls)
            .arg(&record)
            .stdout(Stdio::piped())
            .spawn()
            .expect("recorder");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("recorder said {line:?}"));
        Self {
            _process: Process::new(child),
            port,
            record,
        }
    }

    pub fn received(&self) -> Vec<u8> {
        std::fs::read(&self.record).expect("record")
    }
}
