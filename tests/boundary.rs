//! The network boundary (deploy/sandbox.sh), as root, as CI runs: from inside a tool sandbox
//! the request through the proxy works, while a direct TCP connection, a DNS query and a UDP
//! datagram to listeners on the same host address reach nothing; they still reach nothing
//! after a tool that is root in its namespace drops the namespace's own rules and adds a
//! default route. Then, as the control, the host's rules are removed too and the same probes
//! do reach those listeners: the rules, not some accident of routing, are what stopped them.
//!
//! Every address involved is on this machine: the host end of the sandbox's veth
//! (10.250.N.1), which the test creates, and loopback.

mod support;

use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{SECRET, USER, free_port, repo};

struct Sandbox {
    name: String,
    host_ip: String,
}

impl Sandbox {
    fn create(proxy_port: u16) -> Self {
        let pid = std::process::id();
        let name = format!("b{}", pid % 1_000_000);
        let index = 100 + pid % 150;
        let out = script(&[
            "create",
            &name,
            "--index",
            &index.to_string(),
            "--proxy-port",
            &proxy_port.to_string(),
        ]);
        assert!(
            out.status.success(),
            "create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            name,
            host_ip: format!("10.250.{index}.1"),
        }
    }

    /// A shell command inside the sandbox.
    fn sh(&self, command: &str) -> Output {
        Command::new(repo().join("deploy/sandbox.sh"))
            .args(["exec", &self.name, "--", "timeout", "10", "bash", "-c", command])
            .stdin(Stdio::null())
            .output()
            .expect("sandbox exec")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = script(&["delete", &self.name]);
    }
}

fn script(args: &[&str]) -> Output {
    Command::new(repo().join("deploy/sandbox.sh"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("deploy/sandbox.sh")
}

/// Counts what reaches a TCP listener and two UDP sockets (DNS, and any other port).
struct Listeners {
    tcp_port: u16,
    udp_port: u16,
    tcp: Arc<AtomicUsize>,
    dns: Arc<AtomicUsize>,
    udp: Arc<AtomicUsize>,
}

impl Listeners {
    fn on(ip: &str) -> Self {
        let tcp_listener = TcpListener::bind((ip, 0)).expect("tcp listener");
        let tcp_port = tcp_listener.local_addr().expect("addr").port();
        let tcp = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&tcp);
        std::thread::spawn(move || {
            for stream in tcp_listener.incoming() {
                if stream.is_ok() {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let udp_counter = |socket: UdpSocket| {
            let seen = Arc::new(AtomicUsize::new(0));
            let count = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while let Ok((_, from)) = socket.recv_from(&mut buf) {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = socket.send_to(b"answer", from);
                }
            });
            seen
        };
        let dns = udp_counter(UdpSocket::bind((ip, 53)).expect("udp 53"));
        let other = UdpSocket::bind((ip, 0)).expect("udp");
        let udp_port = other.local_addr().expect("addr").port();
        let udp = udp_counter(other);
        Self {
            tcp_port,
            udp_port,
            tcp,
            dns,
            udp,
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        (
            self.tcp.load(Ordering::SeqCst),
            self.dns.load(Ordering::SeqCst),
            self.udp.load(Ordering::SeqCst),
        )
    }
}

/// A DNS query for example.com (a real one, RFC 1035) to `ip:53`, waiting 2 s for an answer.
fn dns_probe(ip: &str) -> String {
    format!(
        "python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); \
         s.sendto(bytes.fromhex('abcd01000001000000000000076578616d706c6503636f6d0000010001'), ('{ip}', 53)); print(s.recv(512))\""
    )
}

fn udp_probe(ip: &str, port: u16) -> String {
    format!(
        "python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); \
         s.sendto(b'hello', ('{ip}', {port})); print(s.recv(512))\""
    )
}

#[test]
fn a_sandboxed_tool_reaches_the_proxy_and_nothing_else() {
    let (proxy, origin, _dir) = support::proxy_to_one_origin();
    let proxy_port = free_port();
    let sandbox = Sandbox::create(proxy_port);
    // The same proxy configuration, listening where the sandbox can reach it.
    let sandbox_proxy = proxy.another(
        &format!("{}:{proxy_port}", sandbox.host_ip),
        &format!("127.0.0.1:{}", free_port()),
    );
    let listeners = Listeners::on(&sandbox.host_ip);
    let ca = proxy.ca();
    let through_proxy = format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 --cacert {} -x http://{USER}:{SECRET}@{}:{proxy_port} https://api.test:{}/",
        ca.display(),
        sandbox.host_ip,
        origin.port
    );
    let mut answered = String::new();
    for _ in 0..50 {
        answered = String::from_utf8_lossy(&sandbox.sh(&through_proxy).stdout).into_owned();
        if answered == "200" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(answered, "200", "through the proxy");

    let direct_tcp = format!("exec 3<>/dev/tcp/{}/{}", sandbox.host_ip, listeners.tcp_port);
    let probes = [
        ("direct TCP", direct_tcp.clone()),
        ("DNS", dns_probe(&sandbox.host_ip)),
        ("UDP", udp_probe(&sandbox.host_ip, listeners.udp_port)),
    ];
    for (what, probe) in &probes {
        let out = sandbox.sh(probe);
        assert!(!out.status.success(), "{what} from the sandbox succeeded");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(listeners.counts(), (0, 0, 0), "something reached a listener");
    // A tool that is root in its namespace drops that namespace's rules and routes its way
    // out through the host: the host's rules, out of its reach, still stop everything.
    let escape = sandbox.sh(&format!(
        "nft delete table inet tollgate_sandbox && ip route add default via {}",
        sandbox.host_ip
    ));
    assert!(
        escape.status.success(),
        "{}",
        String::from_utf8_lossy(&escape.stderr)
    );
    for (what, probe) in &probes {
        let out = sandbox.sh(probe);
        assert!(
            !out.status.success(),
            "{what} after the namespace's own rules were dropped"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(listeners.counts(), (0, 0, 0), "something reached a listener");
    assert_eq!(String::from_utf8_lossy(&sandbox.sh(&through_proxy).stdout), "200");

    // The control: without the host's rules too, the same probes reach the listeners.
    let table = format!("tg_sandbox_{}", sandbox.name);
    let removed = Command::new("nft")
        .args(["delete", "table", "inet", &table])
        .status()
        .expect("nft");
    assert!(removed.success());
    for (what, probe) in &probes {
        let out = sandbox.sh(probe);
        assert!(
            out.status.success(),
            "{what} without the rules: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(listeners.counts(), (1, 1, 1), "the control probes");
    drop(sandbox_proxy);
}
