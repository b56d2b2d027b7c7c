//! Tool output protection measured: recall per class and false positives per category on the
//! injection corpus (`shared/corpus/injection/{dev,test}`), and the false-positive rate on a
//! large real benign set: every HTML page under the given directories.
//!
//!   cargo run -p tollgate-shared --release --example output-corpus -- dev
//!   cargo run -p tollgate-shared --release --example output-corpus -- test
//!   cargo run -p tollgate-shared --release --example output-corpus -- pages DIR...
//!
//! `test` is held out: run it to measure, never to tune (shared/corpus/injection/README.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use tollgate_shared::output::{Answer, Judge};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let judge = Judge::new();
    match args.first().map(String::as_str) {
        Some(split @ ("dev" | "test")) => corpus(&judge, split),
        Some("pages") => pages(&judge, &args[1..]),
        _ => eprintln!("usage: output-corpus dev|test|pages DIR..."),
    }
}

fn corpus(judge: &Judge, split: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/injection")
        .join(split);
    // class or category -> (cases, flagged)
    let mut positives: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut negatives: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    // content type (without parameters) and label -> (cases, flagged)
    let mut by_type: BTreeMap<(String, &'static str), (usize, usize)> = BTreeMap::new();
    let mut missed = Vec::new();
    let mut flagged = Vec::new();
    for file in ["positives.jsonl", "negatives.jsonl"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("corpus file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).expect("json line");
            let body = match (case["text"].as_str(), case["base64"].as_str()) {
                (Some(t), _) => t.as_bytes().to_vec(),
                (_, Some(b)) => base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("base64"),
                _ => panic!("no body: {line}"),
            };
            let mut content_type = case["content_type"].as_str().unwrap_or("text/plain").to_owned();
            if let Some(charset) = case["charset"].as_str() {
                if !content_type.contains("charset=") {
                    content_type = format!("{content_type}; charset={charset}");
                }
            }
            let answer = Answer {
                body: &body,
                content_type: &content_type,
                content_encoding: case["content_encoding"].as_str(),
                host: case["host"].as_str().unwrap_or("example.com"),
            };
            let (found, why) = match judge.judge(&answer) {
                Ok(findings) => (
                    !findings.is_empty(),
                    findings
                        .first()
                        .map(|f| format!("{}: {:?}", f.rule, f.place))
                        .unwrap_or_default(),
                ),
                // An answer that cannot be decoded is refused, as the proxy does.
                Err(e) => (true, e.to_string()),
            };
            let class = case["class"].as_str().unwrap_or("?").to_owned();
            let bare_type = content_type.split(';').next().unwrap_or("").trim().to_owned();
            let label = if case["label"] == "positive" {
                "positive"
            } else {
                "negative"
            };
            let entry = by_type.entry((bare_type, label)).or_default();
            entry.0 += 1;
            entry.1 += usize::from(found);
            let id = case["id"].as_str().unwrap_or("?").to_owned();
            if case["label"] == "positive" {
                let entry = positives.entry(class.clone()).or_default();
                entry.0 += 1;
                entry.1 += usize::from(found);
                if !found {
                    missed.push(format!("{id} ({class})"));
                }
            } else {
                let entry = negatives.entry(class.clone()).or_default();
                entry.0 += 1;
                entry.1 += usize::from(found);
                if found {
                    flagged.push(format!("{id} ({class}) {why}"));
                }
            }
        }
    }
    let total = |m: &BTreeMap<String, (usize, usize)>| m.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    let (p, tp) = total(&positives);
    let (n, fp) = total(&negatives);
    println!(
        "{split}: recall {tp}/{p} = {:.3}; false positives {fp}/{n} = {:.4}",
        tp as f64 / p as f64,
        fp as f64 / n as f64
    );
    for (class, (cases, hit)) in &positives {
        println!("  positive {class:22} {hit:3}/{cases:3}");
    }
    for (category, (cases, hit)) in &negatives {
        println!("  negative {category:22} {hit:3}/{cases:3} flagged");
    }
    for ((content_type, label), (cases, hit)) in &by_type {
        println!("  {label} {content_type:24} {hit:3}/{cases:3} flagged");
    }
    if split == "dev" {
        // The dev split is for tuning: name its misses. The test split's stay unnamed.
        println!("missed: {missed:?}");
        for f in &flagged {
            println!("flagged {f}");
        }
    }
}

fn pages(judge: &Judge, dirs: &[String]) {
    let mut files = Vec::new();
    for dir in dirs {
        walk(Path::new(dir), &mut files);
    }
    let (mut flagged, mut bytes) = (Vec::new(), 0usize);
    let started = Instant::now();
    for file in &files {
        let Ok(body) = std::fs::read(file) else { continue };
        bytes += body.len();
        let answer = Answer {
            body: &body,
            content_type: "text/html; charset=utf-8",
            content_encoding: None,
            host: "docs.example.org",
        };
        if let Ok(verdict) = judge.verdict(&answer) {
            if let Some(first) = verdict.findings.first() {
                // What was judged, so that a false positive can be read.
                let excerpt = match &first.source {
                    tollgate_shared::output::Source::Text(r) => verdict
                        .text
                        .get(r.clone())
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect::<String>(),
                    other => format!("{other:?}"),
                };
                flagged.push(format!(
                    "{}: {} ({:?}) {excerpt:?}",
                    file.display(),
                    first.class.as_str(),
                    first.rule
                ));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "pages: {} flagged of {} = {:.4}%; {:.1} MiB judged in {seconds:.2} s = {:.0} MiB/s",
        flagged.len(),
        files.len(),
        100.0 * flagged.len() as f64 / files.len().max(1) as f64,
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / (1 << 20) as f64 / seconds
    );
    for f in flagged.iter().take(200) {
        println!("  {f}");
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "html" || e == "htm") {
            out.push(path);
        }
    }
}
