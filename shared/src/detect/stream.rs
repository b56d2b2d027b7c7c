//! Request bodies of any size, scanned as they stream. The proxy pushes each chunk and is told
//! how far it may forward: everything up to the start of the token that reaches into the last
//! [`Limits::hold_back`](super::Limits) bytes. A secret is caught while it is still held, even
//! when it straddles chunks, so no byte of it is released.
//!
//! Why that is enough: every detection depends only on the token(s) holding the secret (tokens
//! end at delimiters no encoded secret contains raw) plus at most `context` bytes before them,
//! and a match that crosses delimiters is shorter than `hold_back`. A secret starting before
//! the cut therefore lies wholly in the bytes scanned when the cut is made.
//!
//! Compressed and multipart bodies are held whole (up to `max_held`) and judged at the end:
//! their decoded bytes do not map back to a releasable prefix of what was sent.

use std::sync::Arc;

use super::catalog::DetectorSet;
use super::decode::multipart::boundary;
use super::decode::{SNIFF_LEN, Sniffed, sniff_body};
use super::engine::{Engine, ExemptValue, Scope};
use super::finding::{EncodingChain, Finding, Outcome, Unjudged};
use super::known::KnownSecrets;
use super::runs::{is_delimiter, is_run_byte};
use super::scan::{Origin, Place, Walk, is_wrap_width};

/// What a push or finish allows and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Bytes from the start of the body that may be forwarded now (a running total; it never
    /// goes down, and stops growing once anything is found).
    pub release_to: u64,
    /// Findings not reported by an earlier step.
    pub findings: Vec<Finding>,
    /// Set once the body cannot be judged within the limits.
    pub unjudged: Option<Unjudged>,
}

#[derive(Debug)]
enum Mode {
    /// No coding declared: judged as it streams, unless its first bytes turn out compressed.
    Windowed {
        content_type: Option<String>,
        sniffed: bool,
    },
    Whole {
        content_encoding: Option<String>,
        content_type: Option<String>,
    },
    /// No coding declared, but the first bytes are a compressed stream or an archive: held
    /// whole and decoded, like a declared coding.
    Sniffed(Sniffed),
}

/// Scans one request body chunk by chunk. Holds its own copy of the bytes it has not released
/// yet (plus a little context); the caller forwards bytes only up to `release_to`. Its Debug
/// output shows offsets and counts, never the held bytes.
pub struct BodyScanner<'a> {
    engine: &'a Engine,
    scope: Scope<'a>,
    /// Known-secret sets the scanner owns (an invocation's issued values), matched with the
    /// scope's own.
    owned: Vec<Arc<KnownSecrets>>,
    /// Values exempted by fingerprint that the scanner owns.
    owned_exempt: Vec<ExemptValue>,
    mode: Mode,
    buf: Vec<u8>,
    buf_start: u64,
    /// Everything before this has been judged (scanned with its full context).
    judged: u64,
    released: u64,
    reported: Vec<Finding>,
    unjudged: Option<Unjudged>,
}

impl std::fmt::Debug for BodyScanner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyScanner")
            .field("mode", &self.mode)
            .field("held", &self.buf.len())
            .field("judged", &self.judged)
            .field("released", &self.released)
            .field("findings", &self.reported.len())
            .field("unjudged", &self.unjudged)
            .finish()
    }
}

impl Engine {
    /// A scanner for one request body with these `Content-Encoding` and `Content-Type`
    /// headers.
    pub fn body_scanner<'a>(
        &'a self,
        scope: Scope<'a>,
        content_encoding: Option<&str>,
        content_type: Option<&str>,
    ) -> BodyScanner<'a> {
        let encoded = content_encoding.is_some_and(|e| {
            e.split(',')
                .any(|t| !t.trim().is_empty() && !t.trim().eq_ignore_ascii_case("identity"))
        });
        let multipart = content_type.and_then(boundary).is_some();
        let mode = if encoded || multipart {
            Mode::Whole {
                content_encoding: content_encoding.map(str::to_owned),
                content_type: content_type.map(str::to_owned),
            }
        } else {
            Mode::Windowed {
                content_type: content_type.map(str::to_owned),
                sniffed: false,
            }
        };
        BodyScanner {
            engine: self,
            scope,
            owned: Vec::new(),
            owned_exempt: Vec::new(),
            mode,
            buf: Vec::new(),
            buf_start: 0,
            judged: 0,
            released: 0,
            reported: Vec::new(),
            unjudged: None,
        }
    }
}

impl Engine {
    /// A scanner that owns its known-secret sets, so it can outlive whoever built them (a
    /// streamed body outlives the request filter that started it).
    pub fn owning_body_scanner(
        &self,
        detectors: DetectorSet,
        known: Vec<Arc<KnownSecrets>>,
        exempt: Vec<ExemptValue>,
        content_encoding: Option<&str>,
        content_type: Option<&str>,
    ) -> BodyScanner<'_> {
        let mut scanner = self.body_scanner(Scope::new(detectors), content_encoding, content_type);
        scanner.owned = known;
        scanner.owned_exempt = exempt;
        scanner
    }
}

impl BodyScanner<'_> {
    /// A walk over the body with the scope's known sets and the owned ones.
    fn walk<R>(&self, run: impl FnOnce(Walk<'_>) -> R) -> R {
        if self.owned.is_empty() && self.owned_exempt.is_empty() {
            return run(Walk::new(self.engine, self.scope, Place::Body));
        }
        let sets: Vec<&KnownSecrets> = self
            .scope
            .known
            .iter()
            .copied()
            .chain(self.owned.iter().map(AsRef::as_ref))
            .collect();
        let mut scope = self.scope.with_known(&sets);
        if !self.owned_exempt.is_empty() {
            scope = scope.with_exempt(&self.owned_exempt);
        }
        run(Walk::new(self.engine, scope, Place::Body))
    }

    pub fn push(&mut self, chunk: &[u8]) -> Step {
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= SNIFF_LEN {
            self.sniff();
        }
        let held = self.end() - self.judged;
        if held > (self.engine.limits.max_held + self.engine.limits.hold_back) as u64 {
            return self.step(
                Outcome {
                    findings: Vec::new(),
                    unjudged: Some(Unjudged::TooLarge {
                        limit: self.engine.limits.max_held,
                    }),
                },
                None,
            );
        }
        match self.mode {
            Mode::Windowed { .. } => self.advance(false),
            Mode::Whole { .. } | Mode::Sniffed(_) => self.step(Outcome::default(), None),
        }
    }

    /// Once, on the body's first bytes: a body without a declared coding that starts like a
    /// compressed stream or an archive is held whole and decoded.
    fn sniff(&mut self) {
        let Mode::Windowed {
            content_type,
            sniffed,
        } = &mut self.mode
        else {
            return;
        };
        if *sniffed || self.buf_start != 0 {
            return;
        }
        *sniffed = true;
        if let Some(found) = sniff_body(&self.buf, content_type.as_deref()) {
            self.mode = Mode::Sniffed(found);
        }
    }

    /// The end of the body: judges what is held and, if clean, releases it all.
    pub fn finish(mut self) -> Step {
        self.sniff();
        match &self.mode {
            Mode::Windowed { .. } => self.advance(true),
            Mode::Sniffed(sniffed) => {
                let sniffed = *sniffed;
                let outcome = self.walk(|mut walk| {
                    walk.sniffed_body(&self.buf, sniffed);
                    walk.finish()
                });
                let end = self.end();
                self.step(outcome, Some(end))
            }
            Mode::Whole {
                content_encoding,
                content_type,
            } => {
                let outcome = self.walk(|mut walk| {
                    walk.body(&self.buf, content_encoding.as_deref(), content_type.as_deref());
                    walk.finish()
                });
                let end = self.end();
                self.step(outcome, Some(end))
            }
        }
    }

    fn end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    fn advance(&mut self, last: bool) -> Step {
        let end = self.end();
        let cut = if last { end } else { self.cut(end) };
        // Rescanning costs the held window each time: wait until a quarter of it can go.
        let worth = (self.engine.limits.hold_back / 4).max(1) as u64;
        if cut <= self.judged || (!last && cut - self.judged < worth) {
            return self.step(Outcome::default(), None);
        }
        let from = self.window_start();
        let window = &self.buf[(from - self.buf_start) as usize..];
        let outcome = self.walk(|mut walk| {
            walk.layer(window, Origin::Exact(from), &EncodingChain::default());
            walk.finish()
        });
        self.judged = cut;
        let step = self.step(outcome, Some(cut));
        self.forget_before(self.judged.saturating_sub(self.engine.limits.context as u64));
        step
    }

    /// The start of the token holding the byte `hold_back` from the end.
    fn cut(&self, end: u64) -> u64 {
        let candidate = end.saturating_sub(self.engine.limits.hold_back as u64);
        if candidate <= self.judged {
            return self.judged;
        }
        let rel = (candidate - self.buf_start) as usize;
        let floor = (self.judged - self.buf_start) as usize;
        let mut start = self.buf[floor..rel]
            .iter()
            .rposition(|&b| is_delimiter(b))
            .map_or(floor, |p| floor + p + 1);
        // Lines of wrapped base64 are decoded together: keep the whole block.
        while let Some(previous) = self.wrapped_line_before(floor, start) {
            start = previous;
        }
        self.buf_start + start as u64
    }

    /// The start of the line before the one at `start`, when both look like wrapped base64
    /// (the earlier one a full line of run bytes of a wrap width).
    fn wrapped_line_before(&self, floor: usize, start: usize) -> Option<usize> {
        let before = &self.buf[floor..start];
        let line_end = if before.ends_with(b"\r\n") {
            start - 2
        } else if before.ends_with(b"\n") {
            start - 1
        } else {
            return None;
        };
        let line_start = self.buf[floor..line_end]
            .iter()
            .rposition(|&b| !is_run_byte(b))
            .map_or(floor, |p| floor + p + 1);
        let whole_line = line_start == floor || self.buf[line_start - 1] == b'\n';
        (whole_line && line_start < line_end && is_wrap_width(line_end - line_start)).then_some(line_start)
    }

    /// Judged bytes re-read for context, starting at a token boundary.
    fn window_start(&self) -> u64 {
        let from = self
            .judged
            .saturating_sub(self.engine.limits.context as u64)
            .max(self.buf_start);
        let lo = (from - self.buf_start) as usize;
        let hi = (self.judged - self.buf_start) as usize;
        if lo == 0 && self.buf_start == 0 {
            return 0;
        }
        match self.buf[lo..hi].iter().position(|&b| is_delimiter(b)) {
            Some(p) => self.buf_start + (lo + p + 1) as u64,
            None => self.judged,
        }
    }

    fn forget_before(&mut self, offset: u64) {
        if offset > self.buf_start {
            let n = (offset - self.buf_start) as usize;
            self.buf.drain(..n);
            self.buf_start = offset;
        }
    }

    /// Records an outcome; releases up to `cut` (just judged) only if nothing was ever found.
    fn step(&mut self, outcome: Outcome, cut: Option<u64>) -> Step {
        let fresh: Vec<Finding> = outcome
            .findings
            .into_iter()
            .filter(|f| !self.reported.contains(f))
            .collect();
        self.reported.extend(fresh.iter().cloned());
        if self.unjudged.is_none() {
            self.unjudged = outcome.unjudged;
        }
        let clean = self.reported.is_empty() && self.unjudged.is_none();
        if let (true, Some(cut)) = (clean, cut) {
            self.released = self.released.max(cut);
        }
        Step {
            release_to: self.released,
            findings: fresh,
            unjudged: self.unjudged,
        }
    }
}
