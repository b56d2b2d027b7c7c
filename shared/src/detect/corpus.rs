//! The labelled corpora and their evaluation: how many positives the engine catches (recall),
//! how many benign samples it flags (false-positive rate), and the precision that follows.
//!
//! Two splits, reported separately. **dev** (`shared/corpus/*.jsonl`, written by
//! `shared/corpus/generate.py` beside the rules, plus key material generated at load time) is
//! what rules are tuned on. **test** (`shared/corpus/test/*.jsonl`) was written by someone who
//! had not seen the rules, from public format descriptions, and is never edited to make a rule
//! pass: it measures how detection generalises. A change that only helps dev is overfitting.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use super::{DetectorSet, Engine, Outcome, Scope, lookup};

/// Where a sample goes through the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    Body {
        content_encoding: Option<String>,
        content_type: Option<String>,
    },
    Url,
    Header(String),
    Host,
}

/// One labelled input.
#[derive(Debug, Clone)]
pub struct Sample {
    pub id: String,
    pub positive: bool,
    /// The detector a positive was made for.
    pub expect: Option<String>,
    pub site: Site,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot generate the key-material samples with {script}: {message}")]
    Generate { script: String, message: String },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    label: String,
    expect: Option<String>,
    #[serde(rename = "where")]
    site: String,
    header: Option<String>,
    content_encoding: Option<String>,
    content_type: Option<String>,
    text: Option<String>,
    base64: Option<String>,
}

/// Which corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Tuned on: `dir/*.jsonl`, former test splits in `dir/spent/*.jsonl`, and generated key
    /// material.
    Dev,
    /// Held out: `dir/test/*.jsonl`, never edited to make a rule pass.
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Test => "test",
        }
    }
}

/// The dev split: `dir/positives.jsonl` and `dir/negatives.jsonl`, and the key-material
/// positives (private keys, wallet keys, seed phrases), which are never committed but generated
/// now by `dir/generate.py --keys` (needs `python3`).
pub fn load(dir: &Path) -> Result<Vec<Sample>, CorpusError> {
    load_split(dir, Split::Dev)
}

/// One split of the corpus under `dir` (`shared/corpus`).
pub fn load_split(dir: &Path, split: Split) -> Result<Vec<Sample>, CorpusError> {
    let files = match split {
        Split::Dev => dir.to_path_buf(),
        Split::Test => dir.join("test"),
    };
    let mut samples = Vec::new();
    for name in ["positives.jsonl", "negatives.jsonl"] {
        samples.extend(read(&files.join(name))?);
    }
    if split == Split::Dev {
        samples.extend(spent(dir)?);
        samples.extend(generated_keys(dir)?);
    }
    Ok(samples)
}

/// Former held-out splits, tuned on since and so dev: every `dir/spent/*.jsonl`, in name
/// order (none when the folder is absent).
fn spent(dir: &Path) -> Result<Vec<Sample>, CorpusError> {
    let folder = dir.join("spent");
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CorpusError::Read {
                path: folder.display().to_string(),
                source,
            });
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut samples = Vec::new();
    for file in files {
        samples.extend(read(&file)?);
    }
    Ok(samples)
}

fn generated_keys(dir: &Path) -> Result<Vec<Sample>, CorpusError> {
    let script = dir.join("generate.py");
    let failed = |message: String| CorpusError::Generate {
        script: script.display().to_string(),
        message,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let out = std::env::temp_dir().join(format!("tollgate-corpus-keys-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&out).map_err(|e| failed(e.to_string()))?;
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg("--keys")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status();
    let samples = match status {
        Ok(s) if s.success() => read(&out.join("keys.jsonl")),
        Ok(s) => Err(failed(format!("exited with {s}"))),
        Err(e) => Err(failed(e.to_string())),
    };
    let _ = std::fs::remove_dir_all(&out);
    samples
}

/// The samples of one JSON Lines file.
fn read(path: &Path) -> Result<Vec<Sample>, CorpusError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut samples = Vec::new();
    for (n, raw) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parse = |message: String| CorpusError::Parse {
            path: shown.clone(),
            line: n + 1,
            message,
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| parse(e.to_string()))?;
        samples.push(sample(line).map_err(parse)?);
    }
    Ok(samples)
}

fn sample(line: Line) -> Result<Sample, String> {
    let Line {
        id,
        label,
        expect,
        site,
        header,
        content_encoding,
        content_type,
        text,
        base64,
    } = line;
    let mut data = match (text, base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("{id}: bad base64: {e}"))?,
        _ => return Err(format!("{id}: give exactly one of text and base64")),
    };
    let site = match site.as_str() {
        "body" => Site::Body {
            content_encoding,
            content_type,
        },
        "url" => Site::Url,
        // `hostname` is how the second held-out split spells it.
        "host" | "hostname" => Site::Host,
        "header" => match header {
            Some(name) => Site::Header(name),
            // Or the whole field line as the text (`Name: value`), as that split writes it.
            None => {
                let line =
                    String::from_utf8(data).map_err(|_| format!("{id}: a header line is not UTF-8"))?;
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| format!("{id}: header sample without a name"))?;
                data = value.trim_start().as_bytes().to_vec();
                Site::Header(name.trim().to_owned())
            }
        },
        other => return Err(format!("{id}: unknown where {other:?}")),
    };
    let positive = match label.as_str() {
        "positive" => true,
        "negative" => false,
        other => return Err(format!("{id}: unknown label {other:?}")),
    };
    Ok(Sample {
        id,
        positive,
        expect,
        site,
        data,
    })
}

/// Runs one sample through the engine the way the proxy would.
pub fn scan(engine: &Engine, scope: Scope<'_>, sample: &Sample) -> Outcome {
    let text = String::from_utf8_lossy(&sample.data);
    match &sample.site {
        Site::Body {
            content_encoding,
            content_type,
        } => engine.scan_body(
            scope,
            content_encoding.as_deref(),
            content_type.as_deref(),
            &sample.data,
        ),
        // The proxy judges every hostname it is asked for, besides the request target.
        Site::Url => {
            let mut outcome = engine.scan_url(scope, &text);
            if let Some(host) = url_host(&text) {
                outcome.merge(engine.scan_hostname(scope, host));
            }
            outcome
        }
        // The proxy judges the request's header names too, all together.
        Site::Header(name) => {
            let mut outcome = engine.scan_header(scope, name, &sample.data);
            outcome.merge(engine.scan_header_names(scope, [name.as_str()]));
            outcome
        }
        Site::Host => engine.scan_hostname(scope, &text),
    }
}

/// The host of an absolute URL (no userinfo, port or brackets); `None` in origin form.
fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    (!host.is_empty() && !host.starts_with('[')).then_some(host)
}

/// Counts over a corpus. A positive counts as caught when it produces a finding; a negative is
/// a false positive when it would be blocked (a finding, or too large or deep to judge).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub positives: usize,
    pub negatives: usize,
    pub caught: usize,
    /// Caught by the detector the sample was made for.
    pub caught_by_expected: usize,
    pub false_positives: usize,
    /// Ids of missed positives.
    pub missed: Vec<String>,
    /// Ids of flagged negatives, with the detectors (or the unjudged reason) that flagged them.
    pub flagged: Vec<(String, Vec<&'static str>)>,
    /// Positives and misses by the detector each positive was made for.
    pub by_class: BTreeMap<String, (usize, usize)>,
}

impl Report {
    pub fn recall(&self) -> f64 {
        ratio(self.caught, self.positives)
    }

    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.negatives)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.caught, self.caught + self.false_positives)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "positives            {}", self.positives)?;
        writeln!(f, "negatives            {}", self.negatives)?;
        writeln!(
            f,
            "recall               {:.4} ({} caught)",
            self.recall(),
            self.caught
        )?;
        writeln!(f, "  by expected rule   {}", self.caught_by_expected)?;
        writeln!(
            f,
            "false-positive rate  {:.4} ({} flagged)",
            self.false_positive_rate(),
            self.false_positives
        )?;
        write!(f, "precision            {:.4}", self.precision())
    }
}

impl Report {
    /// Recall per class (the detector each positive was made for), misses first.
    pub fn classes(&self) -> String {
        let mut rows: Vec<(&String, &(usize, usize))> = self.by_class.iter().collect();
        rows.sort_by_key(|(name, (_, missed))| (std::cmp::Reverse(*missed), name.as_str()));
        rows.iter()
            .map(|(name, (total, missed))| format!("  {name:<22} {}/{} caught\n", total - missed, total))
            .collect()
    }
}

/// Evaluates every sample with the given detectors enabled; positives made for a detector
/// that is not enabled are left out.
pub fn evaluate(engine: &Engine, detectors: DetectorSet, samples: &[Sample]) -> Report {
    let scope = Scope::new(detectors);
    let mut report = Report::default();
    for sample in samples {
        let outcome = scan(engine, scope, sample);
        if sample.positive {
            // Positives for switched-off detectors say nothing about this configuration. A
            // detector the catalogue does not know is not switched off: its positives count.
            let expect = sample.expect.as_deref();
            if expect.is_some_and(|id| lookup(id).is_some() && !detectors.contains(id)) {
                continue;
            }
            report.positives += 1;
            let class = report
                .by_class
                .entry(expect.unwrap_or("-").to_owned())
                .or_default();
            class.0 += 1;
            if outcome.findings.is_empty() {
                class.1 += 1;
                report.missed.push(sample.id.clone());
            } else {
                report.caught += 1;
                let expected = sample.expect.as_deref();
                if outcome.findings.iter().any(|f| Some(f.detector) == expected) {
                    report.caught_by_expected += 1;
                }
            }
        } else {
            report.negatives += 1;
            if !outcome.is_clean() {
                report.false_positives += 1;
                let mut why: Vec<&'static str> = outcome.findings.iter().map(|f| f.detector).collect();
                why.extend(outcome.unjudged.map(|u| u.reason().as_str()));
                report.flagged.push((sample.id.clone(), why));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_splits_are_read_as_dev_in_name_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(spent(dir.path()).expect("no folder is no samples").is_empty());
        std::fs::create_dir(dir.path().join("spent")).expect("spent folder");
        let line = |id: &str| format!(r#"{{"id":"{id}","label":"negative","where":"url","text":"/x"}}"#);
        std::fs::write(dir.path().join("spent/b.jsonl"), line("b") + "\n").expect("write");
        std::fs::write(dir.path().join("spent/a.jsonl"), line("a") + "\n").expect("write");
        std::fs::write(dir.path().join("spent/README.md"), "not a split").expect("write");
        let ids: Vec<String> = spent(dir.path())
            .expect("reads")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    fn positive(id: &str, expect: &str, text: &str) -> Sample {
        Sample {
            id: id.to_owned(),
            positive: true,
            expect: Some(expect.to_owned()),
            site: Site::Body {
                content_encoding: None,
                content_type: None,
            },
            data: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn positives_for_switched_off_detectors_are_left_out_but_unknown_ones_count() {
        let engine = crate::detect::tests::engine();
        let samples = [
            positive("a", "payment-card", "4539979262243931"),
            positive("b", "no-such-detector", "nothing to see"),
            positive("c", "github-token", "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"),
        ];
        let report = evaluate(&engine, DetectorSet::defaults(), &samples);
        assert_eq!((report.positives, report.caught), (2, 1));
        assert_eq!(report.missed, ["b"]);
        assert_eq!(report.by_class["no-such-detector"], (1, 1));
    }

    #[test]
    fn the_test_split_is_read_from_its_own_directory() {
        let dir = std::env::temp_dir().join(format!("tollgate-split-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("test")).expect("dir");
        let line = r#"{"id":"t1","label":"negative","expect":null,"where":"url","text":"/x"}"#;
        std::fs::write(dir.join("test/positives.jsonl"), "").expect("write");
        std::fs::write(dir.join("test/negatives.jsonl"), line).expect("write");
        let samples = load_split(&dir, Split::Test).expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].id, "t1");
    }
}
