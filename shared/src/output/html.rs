//! A forgiving HTML/XML scanner for judging content: not a DOM, but enough to know, for every
//! run of text, whether a reader sees it. Comments, and text inside an element hidden by an
//! attribute or inline style (`hidden`, `aria-hidden`, `display:none`, `visibility:hidden`,
//! zero size or opacity, far off-screen, the same colour as its background), are hidden;
//! `alt`, `title`, `aria-label` and hidden inputs' values are hidden text too. Script and
//! style bodies are skipped; `code` and `pre` are code. Entities are decoded.

use super::{Link, Place, Segment, Source};

/// Elements with no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr",
];

pub(super) fn scan(text: &str, segments: &mut Vec<Segment>, links: &mut Vec<Link>) {
    let bytes = text.as_bytes();
    // Open elements: name, hidden, code.
    let mut stack: Vec<(String, bool, bool)> = Vec::new();
    let mut at = 0;
    let mut run_start = 0;
    let flush = |segments: &mut Vec<Segment>, stack: &[(String, bool, bool)], from: usize, to: usize| {
        if to <= from {
            return;
        }
        let raw = &text[from..to];
        if raw.trim().is_empty() {
            return;
        }
        let place = if stack.iter().any(|e| e.1) {
            Place::Hidden("hidden element")
        } else if stack.iter().any(|e| e.2) {
            Place::Code
        } else {
            Place::Visible
        };
        push(segments, place, decode_entities(raw), from..to);
    };
    while at < bytes.len() {
        if bytes[at] != b'<' {
            at += 1;
            continue;
        }
        let rest = &text[at..];
        if let Some(body) = rest.strip_prefix("<!--") {
            flush(segments, &stack, run_start, at);
            let end = body.find("-->").map_or(text.len(), |e| at + 4 + e);
            let whole = at..(end + 3).min(text.len());
            push(
                segments,
                Place::Hidden("comment"),
                decode_entities(&text[at + 4..end]),
                whole.clone(),
            );
            at = whole.end;
            run_start = at;
            continue;
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            flush(segments, &stack, run_start, at);
            let end = body.find("]]>").map_or(text.len(), |e| at + 9 + e);
            let place = if stack.iter().any(|e| e.1) {
                Place::Hidden("hidden element")
            } else {
                Place::Visible
            };
            let whole = at..(end + 3).min(text.len());
            push(segments, place, text[at + 9..end].to_owned(), whole.clone());
            at = whole.end;
            run_start = at;
            continue;
        }
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[1..close];
        let is_tag = tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !is_tag {
            at += 1;
            continue;
        }
        flush(segments, &stack, run_start, at);
        let whole_tag = at..at + close + 1;
        at += close + 1;
        run_start = at;
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            if let Some(pos) = stack.iter().rposition(|e| e.0 == name) {
                stack.truncate(pos);
            }
            continue;
        }
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let (name, attrs) = parse_tag(tag);
        let hidden = is_hidden(&name, &attrs);
        for (key, value) in &attrs {
            if matches!(
                key.as_str(),
                "alt" | "title" | "aria-label" | "aria-description" | "data-prompt" | "content"
            ) || (key == "value" && hidden)
            {
                push(
                    segments,
                    Place::Hidden("attribute"),
                    decode_entities(value),
                    whole_tag.clone(),
                );
            }
        }
        let ancestors_hidden = stack.iter().any(|e| e.1);
        match name.as_str() {
            "img" | "iframe" | "frame" | "embed" | "object" | "script" | "audio" | "video" | "source" => {
                if let Some((_, url)) = attrs.iter().find(|(k, _)| k == "src" || k == "data") {
                    links.push(Link {
                        url: decode_entities(url),
                        loads_itself: true,
                        hidden: hidden || ancestors_hidden,
                        source: Source::Text(whole_tag.clone()),
                    });
                }
            }
            "a" | "link" => {
                if let Some((_, url)) = attrs.iter().find(|(k, _)| k == "href") {
                    links.push(Link {
                        url: decode_entities(url),
                        loads_itself: name == "link",
                        hidden: hidden || ancestors_hidden,
                        source: Source::Text(whole_tag.clone()),
                    });
                }
            }
            _ => {}
        }
        if matches!(name.as_str(), "script" | "style") {
            // Their bodies are not text a reader sees, nor text the model is given.
            let end_tag = format!("</{name}");
            let end = text[at..]
                .to_ascii_lowercase()
                .find(&end_tag)
                .map_or(text.len(), |e| at + e);
            at = text[end..].find('>').map_or(text.len(), |e| end + e + 1);
            run_start = at;
            continue;
        }
        let self_closing = tag.trim_end().ends_with('/');
        if !VOID.contains(&name.as_str()) && !self_closing {
            let code = matches!(name.as_str(), "code" | "pre" | "kbd" | "samp");
            stack.push((name, hidden, code));
        }
    }
    flush(segments, &stack, run_start, text.len());
}

fn push(segments: &mut Vec<Segment>, place: Place, text: String, source: std::ops::Range<usize>) {
    if !text.trim().is_empty() {
        segments.push(Segment {
            place,
            text,
            source: Source::Text(source),
        });
    }
}

/// The element's lowercase name and its attributes (lowercase names, values as written).
fn parse_tag(tag: &str) -> (String, Vec<(String, String)>) {
    let tag = tag.trim_end_matches('/');
    let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = tag[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let rest = &tag[name_end..];
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && !(b[i] as char).is_whitespace() && b[i] != b'=' {
            i += 1;
        }
        if key_start == i {
            i += 1;
            continue;
        }
        let key = rest[key_start..i].to_ascii_lowercase();
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && (b[i] as char).is_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let quote = b[i];
                let start = i + 1;
                let end = rest[start..]
                    .find(char::from(quote))
                    .map_or(rest.len(), |e| start + e);
                value = rest[start..end].to_owned();
                i = end + 1;
            } else {
                let start = i;
                while i < b.len() && !(b[i] as char).is_whitespace() {
                    i += 1;
                }
                value = rest[start..i].to_owned();
            }
        }
        attrs.push((key, value));
    }
    (name, attrs)
}

/// Whether an element's own attributes hide it from a reader.
fn is_hidden(name: &str, attrs: &[(String, String)]) -> bool {
    let get = |k: &str| attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if get("hidden").is_some() || get("aria-hidden").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return true;
    }
    if name == "input" && get("type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
        return true;
    }
    if matches!(name, "template" | "noscript") {
        return true;
    }
    get("style").is_some_and(style_hides)
}

/// Whether an inline style hides what it styles.
pub(super) fn style_hides(style: &str) -> bool {
    let style: String = style
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let declarations: Vec<(&str, &str)> = style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(k, v)| (k, v.trim_end_matches("!important")))
        .collect();
    let value = |k: &str| {
        declarations
            .iter()
            .rev()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
    };
    let zero = |v: &str| {
        let number: String = v
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        number.parse::<f64>().is_ok_and(|n| n.abs() < 0.01) || v == "0"
    };
    let far = |v: &str| {
        let number: String = v
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
            .collect();
        number.parse::<f64>().is_ok_and(|n| n <= -500.0)
    };
    if value("display") == Some("none")
        || value("visibility").is_some_and(|v| v == "hidden" || v == "collapse")
    {
        return true;
    }
    if value("opacity").is_some_and(zero) || value("font-size").is_some_and(zero) {
        return true;
    }
    if value("height").is_some_and(zero) && value("overflow") == Some("hidden")
        || value("width").is_some_and(zero) && value("overflow") == Some("hidden")
        || value("max-height").is_some_and(zero)
    {
        return true;
    }
    if ["left", "top", "text-indent", "margin-left"]
        .iter()
        .any(|k| value(k).is_some_and(far))
    {
        return true;
    }
    if value("clip").is_some_and(|v| v.starts_with("rect(0"))
        || value("clip-path").is_some_and(|v| v.contains("inset(50%") || v.contains("circle(0"))
    {
        return true;
    }
    if let (Some(color), Some(background)) =
        (value("color"), value("background-color").or(value("background")))
    {
        if color == background {
            return true;
        }
    }
    value("color").is_some_and(|c| c == "transparent")
}

/// `&lt;`, `&#105;`, `&#x69;` and the common named entities.
pub(super) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().and_then(char::from_u32)
            } else {
                match name {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some(' '),
                    _ => None,
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
