//! Scale measurements of the proxy (deploy/bench-scale.sh): many idle tunnels, many distinct
//! identities or hosts, one h2 connection with many concurrent streams. Prints one JSON line
//! per phase; the script around it reads the proxy's memory and CPU.
//!
//! scale idle  --proxy IP:PORT --ca FILE --target HOST:PORT --auth USER:SECRET --count N --hold SECS
//!   opens N intercepted tunnels (CONNECT, TLS, one GET each), prints `{"open": N, ...}` and
//!   keeps them idle for SECS seconds.
//! scale churn --proxy IP:PORT --ca FILE --target HOST:PORT (--auth U:S | --auth-file FILE)
//!             [--host-template h{}.example [--offset K]] --count N [--requests 4] [--concurrency 16]
//!   N connections one after another (C at a time), connection i as identity i of the file
//!   (one `user:secret` per line) and to host K+i of the template; R GETs on each.
//! scale h2    --proxy IP:PORT --ca FILE --target HOST:PORT --auth U:S [--streams 100] [--seconds 10]
//!   one tunnel speaking h2, with that many streams in flight at all times.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Debug, Clone)]
struct Args {
    mode: String,
    flags: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Args, Error> {
        let mut it = std::env::args().skip(1);
        let mode = it.next().ok_or("scale idle|churn|h2 ...")?;
        let mut flags = HashMap::new();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("not a flag: {flag}"))?;
            flags.insert(
                name.to_owned(),
                it.next().ok_or_else(|| format!("{flag} needs a value"))?,
            );
        }
        Ok(Args { mode, flags })
    }

    fn get(&self, name: &str) -> Result<&str, Error> {
        Ok(self
            .flags
            .get(name)
            .ok_or_else(|| format!("--{name} is needed"))?)
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, Error> {
        self.flags.get(name).map_or(Ok(default), |v| Ok(v.parse()?))
    }
}

/// What every connection needs: where the proxy is, which CA to trust, what to ask for.
struct Client {
    proxy: String,
    target_port: u16,
    default_host: String,
    tls_h1: tokio_rustls::TlsConnector,
    tls_h2: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl Client {
    fn new(args: &Args) -> Result<Client, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(args.get("ca")?)?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert?)?;
        }
        let config = |alpn: &[u8]| -> Result<_, Error> {
            let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
        };
        let target = args.get("target")?;
        let (host, port) = target.rsplit_once(':').ok_or("--target HOST:PORT")?;
        Ok(Client {
            proxy: args.get("proxy")?.to_owned(),
            target_port: port.parse()?,
            default_host: host.to_owned(),
            tls_h1: config(b"http/1.1")?,
            tls_h2: config(b"h2")?,
        })
    }

    /// CONNECT to `host` as `auth`, then TLS with the proxy's leaf.
    async fn open(&self, host: &str, auth: &str, h2: bool) -> Result<Box<dyn Io>, Error> {
        let mut tcp = TcpStream::connect(&self.proxy).await?;
        tcp.set_nodelay(true)?;
        let auth = base64::engine::general_purpose::STANDARD.encode(auth);
        let target = format!("{host}:{}", self.target_port);
        let head = format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await?;
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await? == 0 {
                return Err("proxy closed during CONNECT".into());
            }
            answer.push(byte[0]);
        }
        if !answer.starts_with(b"HTTP/1.1 200") {
            return Err(String::from_utf8_lossy(&answer).into_owned().into());
        }
        let tls = if h2 { &self.tls_h2 } else { &self.tls_h1 };
        Ok(Box::new(
            tls.connect(ServerName::try_from(host.to_owned())?, tcp).await?,
        ))
    }
}

/// One keep-alive GET of `/1k`; returns when the whole body has arrived.
async fn get(stream: &mut Box<dyn Io>, host: &str, port: u16, buf: &mut Vec<u8>) -> Result<(), Error> {
    let request = format!("GET /1k HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            return Err(head.into());
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok(());
    }
}

fn identities(args: &Args) -> Result<Vec<String>, Error> {
    if let Some(file) = args.flags.get("auth-file") {
        let text = std::fs::read_to_string(file)?;
        let all: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        return if all.is_empty() {
            Err("empty --auth-file".into())
        } else {
            Ok(all)
        };
    }
    Ok(vec![args.get("auth")?.to_owned()])
}

async fn idle(args: &Args, client: Arc<Client>) -> Result<(), Error> {
    let (count, hold) = (args.number("count", 2000)?, args.number("hold", 20)?);
    let auth = Arc::new(args.get("auth")?.to_owned());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (client, auth, next) = (Arc::clone(&client), Arc::clone(&auth), Arc::clone(&next));
        workers.push(tokio::spawn(async move {
            let (mut open, mut errors, mut buf) = (Vec::new(), 0usize, Vec::new());
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let host = client.default_host.clone();
                let opened = async {
                    let mut stream = client.open(&host, &auth, false).await?;
                    get(&mut stream, &host, client.target_port, &mut buf).await?;
                    Ok::<_, Error>(stream)
                };
                match opened.await {
                    Ok(stream) => open.push(stream),
                    Err(e) => {
                        errors += 1;
                        eprintln!("idle: {e}");
                    }
                }
            }
            (open, errors)
        }));
    }
    let (mut streams, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (open, e) = worker.await?;
        streams.extend(open);
        errors += e;
    }
    println!("{{\"open\": {}, \"errors\": {errors}}}", streams.len());
    tokio::time::sleep(Duration::from_secs(hold as u64)).await;
    drop(streams);
    Ok(())
}

async fn churn(args: &Args, client: Arc<Client>) -> Result<(), Error> {
    let count = args.number("count", 1000)?;
    let requests = args.number("requests", 4)?;
    let concurrency = args.number("concurrency", 16)?;
    let offset = args.number("offset", 0)?;
    let auths = Arc::new(identities(args)?);
    let template = Arc::new(args.flags.get("host-template").cloned());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, auths, template, next) = (
            Arc::clone(&client),
            Arc::clone(&auths),
            Arc::clone(&template),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            let (mut done, mut errors, mut buf) = (0usize, 0usize, Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let host = template.as_deref().map_or_else(
                    || client.default_host.clone(),
                    |t| t.replace("{}", &(i + offset).to_string()),
                );
                let run = async {
                    let mut stream = client.open(&host, &auths[i % auths.len()], false).await?;
                    for _ in 0..requests {
                        get(&mut stream, &host, client.target_port, &mut buf).await?;
                        done += 1;
                    }
                    Ok::<_, Error>(())
                };
                if let Err(e) = run.await {
                    errors += 1;
                    if errors <= 3 {
                        eprintln!("churn: {e}");
                    }
                }
            }
            (done, errors)
        }));
    }
    let (mut done, mut errors) = (0, 0);
    for worker in workers {
        let (d, e) = worker.await?;
        done += d;
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"connections\": {count}, \"identities\": {}, \"requests\": {done}, \"errors\": {errors}, \"seconds\": {seconds:.2}, \"rps\": {:.0}, \"connections_per_s\": {:.0}}}",
        auths.len(),
        done as f64 / seconds,
        count as f64 / seconds
    );
    Ok(())
}

async fn h2(args: &Args, client: Arc<Client>) -> Result<(), Error> {
    let streams = args.number("streams", 100)?;
    let seconds = args.number("seconds", 10)?;
    let host = client.default_host.clone();
    let tls = client.open(&host, args.get("auth")?, true).await?;
    let (sender, connection) = h2::client::handshake(tls).await?;
    tokio::spawn(connection);
    let uri: http::Uri = format!("https://{host}:{}/1k", client.target_port).parse()?;
    let deadline = Instant::now() + Duration::from_secs(seconds as u64);
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (mut sender, uri) = (sender.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let started = Instant::now();
                let one = async {
                    sender = sender.clone().ready().await?;
                    let request = http::Request::get(uri.clone()).body(())?;
                    let (response, _) = sender.send_request(request, true)?;
                    let response = response.await?;
                    if response.status() != 200 {
                        return Err(format!("status {}", response.status()).into());
                    }
                    let mut body = response.into_body();
                    while let Some(chunk) = body.data().await {
                        let chunk = chunk?;
                        body.flow_control().release_capacity(chunk.len())?;
                    }
                    Ok::<_, Error>(())
                };
                match one.await {
                    Ok(()) => latencies.push(started.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("h2: {e}");
                        }
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await?;
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0, |d| d.as_micros())
    };
    println!(
        "{{\"streams\": {streams}, \"requests\": {}, \"errors\": {errors}, \"rps\": {:.0}, \"p50_us\": {}, \"p99_us\": {}}}",
        all.len(),
        all.len() as f64 / seconds as f64,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args = Args::parse()?;
    let client = Arc::new(Client::new(&args)?);
    match args.mode.as_str() {
        "idle" => idle(&args, client).await,
        "churn" => churn(&args, client).await,
        "h2" => h2(&args, client).await,
        other => Err(format!("unknown mode {other}: idle, churn or h2").into()),
    }
}
