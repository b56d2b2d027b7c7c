//! The labelled corpus (`shared/corpus/*.jsonl`, written by `shared/corpus/generate.py`) and
//! its evaluation: how many positives the engine catches (recall), how many benign samples it
//! flags (false-positive rate), and the precision that follows.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use super::{DetectorSet, Engine, Outcome, Scope};

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

/// Every sample: `dir/positives.jsonl` and `dir/negatives.jsonl`, and the key-material
/// positives (private keys, wallet keys, seed phrases), which are never committed but generated
/// now by `dir/generate.py --keys` (needs `python3`).
pub fn load(dir: &Path) -> Result<Vec<Sample>, CorpusError> {
    let mut samples = Vec::new();
    for name in ["positives.jsonl", "negatives.jsonl"] {
        samples.extend(read(&dir.join(name))?);
    }
    samples.extend(generated_keys(dir)?);
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
    let data = match (text, base64) {
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
        "host" => Site::Host,
        "header" => Site::Header(header.ok_or_else(|| format!("{id}: header sample without a name"))?),
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
        Site::Url => engine.scan_url(scope, &text),
        Site::Header(name) => engine.scan_header(scope, name, &sample.data),
        Site::Host => engine.scan_hostname(scope, &text),
    }
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

/// Evaluates every sample with the given detectors enabled; positives made for a detector
/// that is not enabled are left out.
pub fn evaluate(engine: &Engine, detectors: DetectorSet, samples: &[Sample]) -> Report {
    let scope = Scope::new(detectors);
    let mut report = Report::default();
    for sample in samples {
        let outcome = scan(engine, scope, sample);
        if sample.positive {
            // Positives for switched-off detectors say nothing about this configuration.
            if sample.expect.as_deref().is_some_and(|id| !detectors.contains(id)) {
                continue;
            }
            report.positives += 1;
            if outcome.findings.is_empty() {
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
                why.extend(outcome.unjudged.map(|u| u.reason_code()));
                report.flagged.push((sample.id.clone(), why));
            }
        }
    }
    report
}
