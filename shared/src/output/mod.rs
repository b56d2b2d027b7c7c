//! Tool output protection (issue 14), the judging half: what a tool fetched (a page, an API
//! answer, a remote MCP server's result) is decoded and cut into *segments* by where the text
//! sits (visible text, hidden content, a data field, a tool description, code), and each
//! segment is judged by context, not by keywords alone:
//!
//! - hidden content (comments, CSS-hidden elements, `aria-hidden`, alt and title text,
//!   zero-width, bidi-control and Unicode-tag characters) that reads as an instruction;
//! - an instruction *addressed to the model* (an override, a role or authority claim, a request
//!   for the system prompt or tool definitions, an instruction to call a tool or run a
//!   command) in a data field or in visible text, unless the page is about such attacks and
//!   the phrase is quoted or in code;
//! - an encoded command (base64 that decodes to a shell pipeline or an instruction);
//! - an exfiltration link (a markdown image, a hidden image or frame) whose URL carries data
//!   to a host other than the one the answer came from;
//! - a poisoned tool description in an MCP `tools/list` answer.
//!
//! The proxy's response path calls [`Judge::verdict`] on what it held back, and
//! [`Verdict::stripped`] for the `strip` action: every segment and link keeps its
//! [`Source`] in the decoded text, so that a finding can be cut out where it stood.

mod html;
mod rules;
mod strip;

use std::borrow::Cow;
use std::ops::Range;

use thiserror::Error;

use crate::detect::decode::compress::{Codec, inflate};

pub use rules::Judge;
pub use strip::mark;

/// A bound on what is decoded (a compressed answer may not grow past it).
pub const MAX_DECODED: usize = 8 << 20;

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("content-encoding {0:?} is not one the proxy decodes")]
    UnknownEncoding(String),
    #[error("the answer does not decode as {encoding}: {detail}")]
    Undecodable { encoding: String, detail: String },
}

/// What an injection finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    HiddenInstruction,
    AddressedOverride,
    PromptExtraction,
    ToolOrCommand,
    EncodedCommand,
    ExfilLink,
    ToolPoisoning,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::HiddenInstruction => "hidden-instruction",
            Class::AddressedOverride => "addressed-override",
            Class::PromptExtraction => "prompt-extraction",
            Class::ToolOrCommand => "tool-or-command",
            Class::EncodedCommand => "encoded-command",
            Class::ExfilLink => "exfil-link",
            Class::ToolPoisoning => "tool-poisoning",
        }
    }
}

/// Where a piece of text sits in the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Visible,
    /// Hidden from a human reader; why.
    Hidden(&'static str),
    /// A string value of a structured answer, under this key.
    Field(String),
    /// A tool's description (or a parameter's) in an MCP `tools/list` answer.
    ToolDescription,
    /// Code or preformatted text: shown, but as an example, not as prose.
    Code,
}

/// Where a segment or link stands in the decoded text, so that it can be cut out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A byte range of the decoded text (a text run, a comment, a whole tag, a URL).
    Text(Range<usize>),
    /// The n-th string value of a JSON answer, counted in document order from 0.
    JsonString(usize),
}

/// A run of text with its place; the text is borrowed from the decoded answer unless
/// cutting it changed it (entities decoded, invisible characters removed).
#[derive(Debug, Clone)]
pub struct Segment<'a> {
    pub place: Place,
    pub text: Cow<'a, str>,
    pub source: Source,
}

/// A URL the answer makes the reader's client load or offer (markdown image or link, `img`,
/// `iframe`), and whether it is hidden or loads by itself.
#[derive(Debug, Clone)]
pub struct Link {
    pub url: String,
    pub loads_itself: bool,
    pub hidden: bool,
    pub source: Source,
}

/// One finding: its class, the rule, the span of the segment's text it covers, and where
/// that segment (or link) stands in the decoded text.
#[derive(Debug, Clone)]
pub struct Finding {
    pub class: Class,
    pub rule: &'static str,
    pub place: Place,
    pub span: Range<usize>,
    pub source: Source,
}

/// A judged answer: its decoded text, what kind of document it is, and the findings.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub text: String,
    pub kind: Kind,
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// The text with every finding's segment or link cut out and a visible mark in its
    /// place (`[tollgate removed: <class>]`); a JSON answer stays JSON, the mark replacing
    /// the string value.
    pub fn stripped(&self) -> String {
        strip::strip(&self.text, &self.findings)
    }
}

/// An answer as the proxy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub body: &'a [u8],
    pub content_type: &'a str,
    pub content_encoding: Option<&'a str>,
    /// The host the answer came from (links back to it carry nothing out).
    pub host: &'a str,
}

/// The body as text: `Content-Encoding` undone (within [`MAX_DECODED`]), then the charset
/// (a BOM, the content type's `charset`, or UTF-8; single-byte charsets read as Latin-1, and
/// multi-byte ones other than UTF-8 and UTF-16 keep their ASCII).
pub fn decode_text(answer: &Answer<'_>) -> Result<String, OutputError> {
    let bytes = decompress(answer.body, answer.content_encoding)?;
    Ok(into_text(bytes, charset(answer.content_type).as_deref()))
}

/// The body with every `Content-Encoding` undone, last applied first, within
/// [`MAX_DECODED`] bytes (a bomb stops there with an error).
pub fn decompress(body: &[u8], content_encoding: Option<&str>) -> Result<Vec<u8>, OutputError> {
    let mut bytes = body.to_vec();
    let Some(encodings) = content_encoding else {
        return Ok(bytes);
    };
    for token in encodings
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .rev()
    {
        if token.eq_ignore_ascii_case("identity") {
            continue;
        }
        let codec =
            Codec::from_header(token).ok_or_else(|| OutputError::UnknownEncoding(token.to_owned()))?;
        bytes = inflate(codec, &bytes, MAX_DECODED).map_err(|e| OutputError::Undecodable {
            encoding: token.to_owned(),
            detail: format!("{e:?}"),
        })?;
    }
    Ok(bytes)
}

/// The `charset` parameter of a content type, lowercased.
pub fn charset(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("charset="))
        .next()
        .map(|c| c.trim_matches('"').to_ascii_lowercase())
}

fn to_text(bytes: &[u8], charset: Option<&str>) -> String {
    let utf16 = |bytes: &[u8], little: bool| {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| {
                if little {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => return String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => return utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => return utf16(rest, false),
        _ => {}
    }
    match charset {
        Some("utf-16" | "utf-16le") => utf16(bytes, true),
        Some("utf-16be") => utf16(bytes, false),
        Some(c)
            if c.starts_with("iso-8859")
                || c.starts_with("windows-125")
                || c == "latin1"
                || c == "us-ascii" =>
        {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// [`to_text`] for an owned body: valid UTF-8 (the common case) is kept without a copy.
fn into_text(bytes: Vec<u8>, charset: Option<&str>) -> String {
    let utf8 = !matches!(
        bytes.as_slice(),
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] | [0xEF, 0xBB, 0xBF, ..]
    ) && charset.is_none_or(|c| {
        !(c.starts_with("utf-16")
            || c.starts_with("iso-8859")
            || c.starts_with("windows-125")
            || c == "latin1"
            || c == "us-ascii")
    });
    if utf8 {
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    } else {
        to_text(&bytes, charset)
    }
}

/// What kind of document a content type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Html,
    Xml,
    Json,
    Markdown,
    Text,
}

impl Kind {
    pub fn of(content_type: &str, text: &str) -> Kind {
        let t = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if t.contains("html") {
            Kind::Html
        } else if t.contains("json") {
            Kind::Json
        } else if t.contains("xml") || t.contains("rss") || t.contains("atom") {
            Kind::Xml
        } else if t.contains("markdown") {
            Kind::Markdown
        } else {
            let start = text.trim_start();
            if start.starts_with('{') || start.starts_with('[') {
                Kind::Json
            } else if start.starts_with("<!") || start.starts_with("<html") {
                Kind::Html
            } else if start.starts_with("<?xml") {
                Kind::Xml
            } else {
                Kind::Text
            }
        }
    }
}

/// Cuts text into segments and links by where each piece sits.
pub fn segments(kind: Kind, text: &str) -> (Vec<Segment<'_>>, Vec<Link>) {
    let mut segments = Vec::new();
    let mut links = Vec::new();
    match kind {
        Kind::Html | Kind::Xml => html::scan(text, &mut segments, &mut links),
        Kind::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => json(&value, None, false, &mut 0, &mut segments, &mut links),
            Err(_) => segments.push(Segment {
                place: Place::Visible,
                text: Cow::Borrowed(text),
                source: Source::Text(0..text.len()),
            }),
        },
        Kind::Markdown | Kind::Text => {
            // Markdown may carry HTML (comments, hidden spans) of its own; fenced blocks are
            // code, shown as examples.
            markdown(text, &mut segments, &mut links);
        }
    }
    // Markdown images and links in any text.
    for segment in segments.iter().filter(|s| s.place != Place::Code) {
        let found = links.len();
        rules::markdown_links(
            &segment.text,
            matches!(segment.place, Place::Hidden(_)),
            &segment.source,
            &mut links,
        );
        // Narrow each link's source to its URL where the URL stands as written.
        for link in &mut links[found..] {
            if let Source::Text(range) = &link.source {
                if let Some(at) = text.get(range.clone()).and_then(|t| t.find(&link.url)) {
                    let start = range.start + at;
                    link.source = Source::Text(start..start + link.url.len());
                }
            }
        }
    }
    // Characters a reader never sees: Unicode tags spell ASCII; zero-width and bidi controls
    // split words. The tag text is a hidden segment of its own; the others are removed.
    let mut hidden = Vec::new();
    for segment in &mut segments {
        if segment.text.is_ascii() {
            continue;
        }
        let (clean, tags, splits) = invisible(&segment.text);
        if !tags.is_empty() {
            hidden.push(Segment {
                place: Place::Hidden("unicode tags"),
                text: Cow::Owned(tags),
                source: segment.source.clone(),
            });
        }
        if clean.len() != segment.text.len() {
            segment.text = Cow::Owned(clean);
        }
        // Words split by invisible characters are written for a model to read and a filter
        // to miss, not for a reader: judge them as hidden.
        if splits >= 3 && matches!(segment.place, Place::Visible | Place::Field(_)) {
            segment.place = Place::Hidden("words split by invisible characters");
        }
    }
    segments.extend(hidden);
    (segments, links)
}

/// The text without zero-width and bidi-control characters, what Unicode tag characters
/// in it spell, and how many times a zero-width character (not a soft hyphen, which honest
/// pages use) stands between two ASCII letters.
fn invisible(text: &str) -> (String, String, usize) {
    let mut clean = String::with_capacity(text.len());
    let mut tags = String::new();
    let mut splits = 0;
    let mut after_letter = false;
    let mut pending = false;
    for c in text.chars() {
        match c as u32 {
            0xE0020..=0xE007E => tags.push(char::from((c as u32 - 0xE0000) as u8)),
            0xE0000..=0xE007F => {}
            0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF => pending |= after_letter,
            0x200E..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0x00AD => {}
            _ => {
                let letter = c.is_ascii_alphabetic();
                if pending && letter {
                    splits += 1;
                }
                pending = false;
                after_letter = letter;
                clean.push(c);
            }
        }
    }
    (clean, tags, splits)
}

/// Markdown (or plain text): fenced code blocks are code; the rest is scanned as HTML, and
/// reference-style link definitions (`[id]: https://…`) are links.
fn markdown<'a>(text: &'a str, segments: &mut Vec<Segment<'a>>, links: &mut Vec<Link>) {
    let mut at = 0;
    let mut prose_start = 0;
    let mut fence: Option<(&str, usize)> = None;
    let images = text.contains("![");
    while at < text.len() {
        let end = text[at..].find('\n').map_or(text.len(), |e| at + e + 1);
        let line = &text[at..end];
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => {
                scan_part(text, prose_start..at, segments, links);
                fence = Some((m, end));
            }
            (Some((m, body)), Some(close)) if close == m => {
                if body < at {
                    segments.push(Segment {
                        place: Place::Code,
                        text: Cow::Borrowed(&text[body..at]),
                        source: Source::Text(body..at),
                    });
                }
                fence = None;
                prose_start = end;
            }
            _ => {}
        }
        if fence.is_none() {
            if let Some(rest) = trimmed.strip_prefix('[') {
                if let Some((_, url)) = rest.split_once("]:") {
                    let url = url.split_whitespace().next().unwrap_or("");
                    if url.starts_with("http://") || url.starts_with("https://") {
                        let start = at + line.find(url).unwrap_or(0);
                        links.push(Link {
                            url: url.to_owned(),
                            loads_itself: images,
                            hidden: false,
                            source: Source::Text(start..start + url.len()),
                        });
                    }
                }
            }
        }
        at = end;
    }
    match fence {
        Some((_, body)) => segments.push(Segment {
            place: Place::Code,
            text: Cow::Borrowed(&text[body..]),
            source: Source::Text(body..text.len()),
        }),
        None => scan_part(text, prose_start..text.len(), segments, links),
    }
}

/// Scans part of a text as HTML, with sources in the whole text.
fn scan_part<'a>(text: &'a str, range: Range<usize>, segments: &mut Vec<Segment<'a>>, links: &mut Vec<Link>) {
    if range.is_empty() {
        return;
    }
    let (first_segment, first_link) = (segments.len(), links.len());
    html::scan(&text[range.clone()], segments, links);
    let shift = |source: &mut Source| {
        if let Source::Text(r) = source {
            *r = r.start + range.start..r.end + range.start;
        }
    };
    segments[first_segment..]
        .iter_mut()
        .for_each(|s| shift(&mut s.source));
    links[first_link..].iter_mut().for_each(|l| shift(&mut l.source));
}

/// Every string in a JSON value as a field segment (under its key); a `tools/list` answer's
/// descriptions as tool descriptions. `count` numbers the strings in document order (the
/// same walk [`strip`] makes). The parsed value is gone once segments are cut, so these
/// segments own their text.
fn json(
    value: &serde_json::Value,
    key: Option<&str>,
    in_tools: bool,
    count: &mut usize,
    out: &mut Vec<Segment<'_>>,
    links: &mut Vec<Link>,
) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            let source = Source::JsonString(*count);
            *count += 1;
            // A URL field (an avatar or image template) is a link the client may load.
            if text.starts_with("http://") || text.starts_with("https://") {
                links.push(Link {
                    url: text.clone(),
                    loads_itself: false,
                    hidden: false,
                    source: source.clone(),
                });
            }
            let place = match key {
                // Inside a tools list, every string but a name or a type is read by the model
                // as part of the tool's description (parameter descriptions, enum values,
                // annotation titles).
                Some("description" | "title") if in_tools => Place::ToolDescription,
                Some(k)
                    if in_tools
                        && !matches!(
                            k,
                            "name" | "type" | "format" | "$schema" | "required" | "nextCursor"
                        ) =>
                {
                    Place::ToolDescription
                }
                Some(k) => Place::Field(k.to_owned()),
                None => Place::Field(String::new()),
            };
            // A string may hold a document of its own (HTML in a JSON answer).
            if text.contains("<!--") || text.contains("style=") {
                let (mut inner, mut inner_links) = (Vec::new(), Vec::new());
                html::scan(text, &mut inner, &mut inner_links);
                links.extend(inner_links.into_iter().map(|link| Link {
                    source: source.clone(),
                    ..link
                }));
                for segment in inner {
                    out.push(Segment {
                        place: if segment.place == Place::Visible {
                            place.clone()
                        } else {
                            segment.place
                        },
                        text: Cow::Owned(segment.text.into_owned()),
                        source: source.clone(),
                    });
                }
            } else {
                out.push(Segment {
                    place,
                    text: Cow::Owned(text.clone()),
                    source,
                });
            }
        }
        Value::Array(items) => {
            for item in items {
                json(item, key, in_tools, count, out, links);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                json(v, Some(k), in_tools || k == "tools", count, out, links);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
