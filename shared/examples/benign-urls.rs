//! False-positive rate of URL and hostname detection on a large benign set already on the
//! machine: every link and asset URL (`href`, `src`) in the Rust documentation installed with
//! the toolchain and every URL under `/usr/share/doc` (HTML, text and gzipped text), plus
//! generated URLs in the common ID formats the `high-entropy` rule must not fire on (UUIDs,
//! hashes, content-hashed CDN paths, cloud document ids, base64 images, pagination cursors).
//!
//! `cargo run -p tollgate-shared --release --example benign-urls [-- --verbose] [DIR...]`
//! (without DIRs: `$(rustc --print sysroot)/share/doc/rust/html` and `/usr/share/doc`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use regex::Regex;
use tollgate_shared::detect::{DetectorSet, Engine, FingerprintKey, Outcome, Scope};

/// Files larger than this are skipped (none of the documentation's are).
const MAX_FILE: u64 = 16 << 20;

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "--verbose");
    let mut roots: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if roots.is_empty() {
        roots = default_roots();
    }
    let extract = Extract::new();
    let mut urls = BTreeSet::new();
    let mut files = 0usize;
    for root in &roots {
        walk(root, &mut |path| {
            files += 1;
            extract.file(path, &mut urls);
        });
    }
    let engine = match FingerprintKey::new(b"benign-url-evaluation-key".to_vec()).map(Engine::new) {
        Ok(Ok(engine)) => engine,
        _ => {
            eprintln!("cannot build the engine");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "roots: {}",
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("files read: {files}");
    let docs: Vec<String> = urls.into_iter().collect();
    report(&engine, "documentation URLs", &docs, verbose);
    report(&engine, "generated ID-format URLs", &id_format_urls(), verbose);
    ExitCode::SUCCESS
}

fn default_roots() -> Vec<PathBuf> {
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output();
    let mut roots = Vec::new();
    if let Ok(out) = sysroot {
        let root = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        roots.push(Path::new(&root).join("share/doc/rust/html"));
    }
    roots.push(PathBuf::from("/usr/share/doc"));
    roots
}

fn walk(dir: &Path, f: &mut impl FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, f),
            Ok(t) if t.is_file() => f(&path),
            _ => {}
        }
    }
}

struct Extract {
    attribute: Regex,
    absolute: Regex,
}

impl Extract {
    fn new() -> Self {
        Self {
            attribute: Regex::new(r#"(?:href|src)\s*=\s*["']([^"'<>\s]+)["']"#).expect("valid"),
            absolute: Regex::new(r#"https?://[^\s"'<>()\[\]{}\\^`|]+"#).expect("valid"),
        }
    }

    fn file(&self, path: &Path, urls: &mut BTreeSet<String>) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let Some(text) = read(path, name.ends_with(".gz")) else {
            return;
        };
        if name.ends_with(".html") || name.ends_with(".htm") {
            for caps in self.attribute.captures_iter(&text) {
                let url = caps[1].replace("&amp;", "&");
                if keep(&url) {
                    urls.insert(url);
                }
            }
        }
        for m in self.absolute.find_iter(&text) {
            let url = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', '\''])
                .replace("&amp;", "&");
            urls.insert(url);
        }
    }
}

fn read(path: &Path, gzipped: bool) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_FILE {
        return None;
    }
    let raw = std::fs::read(path).ok()?;
    let bytes = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_FILE)
            .read_to_end(&mut out)
            .ok()?;
        out
    } else {
        raw
    };
    // Binary files have no URLs worth counting.
    if bytes.iter().take(4096).any(|&b| b == 0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Links that send nothing: in-page anchors, mail and script links.
fn keep(url: &str) -> bool {
    !(url.starts_with('#') || url.starts_with("mailto:") || url.starts_with("javascript:"))
}

/// Scans one URL the way the proxy would: the hostname (absolute URLs) and the URL.
fn scan(engine: &Engine, scope: Scope<'_>, url: &str) -> Outcome {
    let mut outcome = engine.scan_url(scope, url);
    if let Some(host) = host_of(url) {
        outcome.merge(engine.scan_hostname(scope, host));
    }
    outcome
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

fn report(engine: &Engine, name: &str, urls: &[String], verbose: bool) {
    for (set_name, detectors) in [
        ("default detectors", DetectorSet::defaults()),
        ("all detectors", DetectorSet::all()),
    ] {
        let scope = Scope::new(detectors);
        let mut flagged = Vec::new();
        let mut by_entropy = 0;
        for url in urls {
            let outcome = scan(engine, scope, url);
            if !outcome.is_clean() {
                let mut why: Vec<&str> = outcome.findings.iter().map(|f| f.detector).collect();
                why.dedup();
                by_entropy += usize::from(why.contains(&"high-entropy"));
                flagged.push((url, why));
            }
        }
        let rate = |n: usize| {
            if urls.is_empty() {
                0.0
            } else {
                n as f64 / urls.len() as f64
            }
        };
        println!(
            "== {name}, {set_name}\nunique URLs          {}\nflagged              {} (rate {:.6})\n  by high-entropy    {} (rate {:.6})",
            urls.len(),
            flagged.len(),
            rate(flagged.len()),
            by_entropy,
            rate(by_entropy)
        );
        if verbose {
            for (url, why) in &flagged {
                println!("  {why:?} {url}");
            }
        }
    }
}

/// URLs in the ID formats the issue names, with random values: UUIDs, hashes, content-hashed
/// CDN paths, cloud document ids, base64 images in image fields, pagination cursors.
fn id_format_urls() -> Vec<String> {
    let mut rng = Lcg(0x5eed_2026_1201);
    let hex = b"0123456789abcdef";
    let b62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let b64url = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    let mut out = Vec::new();
    for _ in 0..500 {
        let uuid = format!(
            "{}-{}-4{}-a{}-{}",
            rng.text(hex, 8),
            rng.text(hex, 4),
            rng.text(hex, 3),
            rng.text(hex, 3),
            rng.text(hex, 12)
        );
        out.push(format!(
            "https://api.example.com/v1/users/{uuid}/orders?request_id={uuid}"
        ));
        out.push(format!(
            "https://github.com/acme/app/commit/{}",
            rng.text(hex, 40)
        ));
        out.push(format!(
            "https://registry.example.org/v2/app/blobs/sha256:{}",
            rng.text(hex, 64)
        ));
        out.push(format!(
            "https://cdn.example.com/static/js/main.{}.chunk.js",
            rng.text(hex, 8)
        ));
        out.push(format!(
            "https://cdn.example.com/_next/static/{}/_buildManifest.js",
            rng.text(b64url, 21)
        ));
        out.push(format!(
            "https://cdn.example.com/assets/index-{}.css",
            rng.text(b62, 8)
        ));
        out.push(format!(
            "https://docs.google.com/document/d/1{}/edit",
            rng.text(b64url, 43)
        ));
        out.push(format!(
            "https://docs.google.com/spreadsheets/d/1{}/edit#gid=0",
            rng.text(b64url, 43)
        ));
        out.push(format!(
            "https://drive.google.com/file/d/1{}/view",
            rng.text(b64url, 32)
        ));
        out.push(format!(
            "https://docs.google.com/forms/d/e/1FAIpQL{}/viewform",
            rng.text(b64url, 49)
        ));
        out.push(format!(
            "https://www.youtube.com/playlist?list=PL{}",
            rng.text(b64url, 32)
        ));
        out.push(format!(
            "https://www.notion.so/acme/Roadmap-{}",
            rng.text(hex, 32)
        ));
        out.push(format!("https://www.figma.com/file/{}/Design", rng.text(b62, 22)));
        out.push(format!(
            "https://www.dropbox.com/s/{}/report.pdf?dl=0",
            rng.text(b"abcdefghijklmnopqrstuvwxyz0123456789", 15)
        ));
        out.push(format!(
            "https://api.example.com/render?image=data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{}",
            rng.text(b62, 120)
        ));
        let cursor = base64_url(format!("{{\"id\":{},\"dir\":\"next\"}}", rng.next() % 1_000_000).as_bytes());
        out.push(format!("https://api.example.com/items?cursor={cursor}&limit=50"));
        out.push(format!("https://api.example.com/items?page={cursor}"));
        out.push(format!(
            "https://www.googleapis.com/drive/v3/files?pageToken={}",
            rng.text(b64url, 40)
        ));
        out.push(format!(
            "https://api.example.com/list?next_page_token={}",
            rng.text(b64url, 48)
        ));
        out.push(format!(
            "https://auth.example.com/authorize?client_id={}&state={}&nonce={}&code_challenge={}",
            rng.text(b62, 20),
            rng.text(b64url, 32),
            rng.text(b62, 32),
            rng.text(b64url, 43)
        ));
        out.push(format!(
            "https://bucket.s3.amazonaws.com/k.pdf?X-Amz-Signature={}&X-Amz-Date=20261201T000000Z",
            rng.text(hex, 64)
        ));
        out.push(format!(
            "https://acct.blob.core.windows.net/c/b.png?sv=2022-11-02&sig={}",
            rng.text(b62, 43)
        ));
        out.push(format!(
            "https://api.stripe.com/v1/customers/cus_{}",
            rng.text(b62, 14)
        ));
        out.push(format!(
            "https://checkout.stripe.com/c/pay/cs_live_{}",
            rng.text(b62, 58)
        ));
        out.push(format!("https://youtu.be/{}", rng.text(b64url, 11)));
    }
    out
}

fn base64_url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn text(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.next() as usize % alphabet.len()] as char)
            .collect()
    }
}
