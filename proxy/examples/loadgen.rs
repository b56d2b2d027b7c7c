//! A small HTTP/1.1-over-TLS load generator for the proxy benchmark: keep-alive connections,
//! through the proxy (one CONNECT per connection) or straight to the origin, closed-loop for
//! throughput or at a fixed rate for latency. Prints one JSON line.
//!
//! loadgen --target HOST:PORT --addr IP:PORT --ca FILE [--proxy IP:PORT --auth USER:SECRET]
//!         [--path /1k] [--connections 16] [--seconds 10] [--rate REQ_PER_SEC]
//!         [--header "Name: value"]...   (more header fields on every request, as a client sends)

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Args {
    target: String,
    addr: String,
    ca: String,
    proxy: Option<String>,
    auth: Option<String>,
    path: String,
    connections: usize,
    seconds: u64,
    rate: Option<f64>,
    headers: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        target: String::new(),
        addr: String::new(),
        ca: String::new(),
        proxy: None,
        auth: None,
        path: "/1k".into(),
        connections: 16,
        seconds: 10,
        rate: None,
        headers: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--target" => args.target = value,
            "--addr" => args.addr = value,
            "--ca" => args.ca = value,
            "--proxy" => args.proxy = Some(value),
            "--auth" => args.auth = Some(value),
            "--path" => args.path = value,
            "--connections" => args.connections = value.parse().unwrap_or(16),
            "--seconds" => args.seconds = value.parse().unwrap_or(10),
            "--rate" => args.rate = value.parse().ok(),
            "--header" => args.headers.push(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn open(args: &Args, tls: &tokio_rustls::TlsConnector) -> std::io::Result<Box<dyn Io>> {
    let host = args
        .target
        .rsplit_once(':')
        .map_or(args.target.as_str(), |(h, _)| h)
        .to_owned();
    let mut tcp = match &args.proxy {
        Some(proxy) => TcpStream::connect(proxy).await?,
        None => TcpStream::connect(&args.addr).await?,
    };
    tcp.set_nodelay(true)?;
    if args.proxy.is_some() {
        let auth = base64::engine::general_purpose::STANDARD.encode(args.auth.clone().unwrap_or_default());
        let head = format!(
            "CONNECT {0} HTTP/1.1\r\nHost: {0}\r\nProxy-Authorization: Basic {auth}\r\n\r\n",
            args.target
        );
        tcp.write_all(head.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await? == 0 {
                return Err(std::io::Error::other("proxy closed"));
            }
            buf.push(byte[0]);
        }
        if !buf.starts_with(b"HTTP/1.1 200") {
            return Err(std::io::Error::other(String::from_utf8_lossy(&buf).into_owned()));
        }
    }
    let name = ServerName::try_from(host).map_err(std::io::Error::other)?;
    Ok(Box::new(tls.connect(name, tcp).await?))
}

/// One keep-alive GET; returns when the whole body has arrived (by its length, or to its
/// last chunk).
async fn get(stream: &mut Box<dyn Io>, request: &[u8], buf: &mut Vec<u8>) -> std::io::Result<()> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                return Err(std::io::Error::other(head));
            }
            if head.contains("transfer-encoding: chunked") {
                // Read to the last chunk (an answer Tollgate held back and judged is chunked).
                while !buf[end + 4..].ends_with(b"0\r\n\r\n") {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(std::io::Error::other("closed mid-body"));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                return Ok(());
            }
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::Error::other("closed mid-body"));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(());
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&args.ca).expect("ca");
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("cert")).expect("add");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let fields: String = args.headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{fields}\r\n",
        args.path, args.target
    )
    .into_bytes();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(args.connections as f64 / r));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (args, tls, request) = (args.clone(), tls.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut buf = Vec::new();
            let mut stream = match open(&args, &tls).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("connect: {e}");
                    return (latencies, 1);
                }
            };
            let mut next = Instant::now();
            while Instant::now() < deadline {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += interval;
                }
                let started = Instant::now();
                match get(&mut stream, &request, &mut buf).await {
                    Ok(()) => latencies.push(started.elapsed()),
                    Err(e) => {
                        errors += 1;
                        eprintln!("request: {e}");
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("task");
        all.extend(latencies);
        errors += e;
    }
    let seconds = started
        .elapsed()
        .as_secs_f64()
        .min(args.seconds as f64)
        .max(0.001);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    println!(
        "{{\"requests\": {}, \"errors\": {errors}, \"rps\": {:.0}, \"p50_us\": {}, \"p99_us\": {}}}",
        all.len(),
        all.len() as f64 / seconds,
        pct(0.50),
        pct(0.99)
    );
}
