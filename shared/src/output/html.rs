//! A forgiving HTML/XML scanner for judging content: not a DOM, but enough to know, for every
//! run of text, whether a reader sees it. Comments, and text inside an element hidden by an
//! attribute or inline style (`hidden`, `aria-hidden`, `display:none`, `visibility:hidden`,
//! zero size or opacity, far off-screen, the same colour as its background), are hidden;
//! `alt`, `title`, `aria-label` and hidden inputs' values are hidden text too. Script and
//! style bodies are skipped; `code` and `pre` are code. Entities are decoded.

use std::borrow::Cow;

use super::{Link, Place, Segment, Source};

/// Elements with no end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr",
];

/// Cuts `text` into segments that borrow from it (a copy only where entities were decoded).
pub(super) fn scan<'a>(text: &'a str, segments: &mut Vec<Segment<'a>>, links: &mut Vec<Link>) {
    let bytes = text.as_bytes();
    // Classes and ids that a `<style>` block hides.
    let mut hidden_selectors: Vec<String> = Vec::new();
    // Open elements: name (lowercase), hidden, code.
    let mut stack: Vec<(Cow<'a, str>, bool, bool)> = Vec::new();
    // One tag's attributes, the buffer kept from tag to tag.
    let mut attrs: Vec<(Cow<'a, str>, &'a str)> = Vec::new();
    let mut at = 0;
    let mut run_start = 0;
    let flush =
        |segments: &mut Vec<Segment<'a>>, stack: &[(Cow<'a, str>, bool, bool)], from: usize, to: usize| {
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
        let Some(next) = memchr::memchr(b'<', &bytes[at..]) else {
            break;
        };
        at += next;
        let rest = &text[at..];
        if let Some(body) = rest.strip_prefix("<!--") {
            flush(segments, &stack, run_start, at);
            let end = memchr::memmem::find(body.as_bytes(), b"-->").map_or(text.len(), |e| at + 4 + e);
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
            push(segments, place, Cow::Borrowed(&text[at + 9..end]), whole.clone());
            at = whole.end;
            run_start = at;
            continue;
        }
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[1..close];
        // A tag's name is letters, digits, `-`, `_`, `:` and `.`; `<the_user's_message>` is
        // text (a placeholder), not a tag.
        let name_ok = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_ascii_whitespace() || c == '/')
            .next()
            .is_some_and(|n| {
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
            });
        let is_tag = tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?')
            && (tag.starts_with(['!', '?']) || name_ok);
        if !is_tag {
            at += 1;
            continue;
        }
        flush(segments, &stack, run_start, at);
        let whole_tag = at..at + close + 1;
        at += close + 1;
        run_start = at;
        if let Some(name) = tag.strip_prefix('/') {
            // The stack's names are lowercase: comparing without case is comparing lowercased.
            let name = name.trim();
            if let Some(pos) = stack.iter().rposition(|e| e.0.eq_ignore_ascii_case(name)) {
                stack.truncate(pos);
            }
            continue;
        }
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        let name = parse_tag(tag, &mut attrs);
        let hidden = is_hidden(&name, &attrs) || hidden_by_selector(&attrs, &hidden_selectors);
        for (key, value) in &attrs {
            if matches!(
                key.as_ref(),
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
        let mut link = |url: &str, loads_itself: bool| {
            let url = decode_entities(url.trim());
            if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("//") {
                let url = if url.starts_with("//") {
                    format!("https:{url}")
                } else {
                    url.into_owned()
                };
                links.push(Link {
                    url,
                    loads_itself,
                    hidden: hidden || ancestors_hidden,
                    source: Source::Text(whole_tag.clone()),
                });
            }
        };
        // Resources a client loads by itself: srcset candidates, posters, CSS backgrounds,
        // a refresh target, SVG images.
        for (key, value) in &attrs {
            match key.as_ref() {
                "srcset" => value
                    .split(',')
                    .filter_map(|c| c.split_whitespace().next())
                    .for_each(|u| link(u, true)),
                "poster" | "background" => link(value, true),
                "style" => {
                    let mut rest = *value;
                    while let Some(open) = rest.find("url(") {
                        rest = &rest[open + 4..];
                        let close = rest.find(')').unwrap_or(rest.len());
                        link(rest[..close].trim_matches(['\'', '"', ' ']), true);
                        rest = &rest[close..];
                    }
                }
                "href" | "xlink:href" if name == "image" || name == "use" => link(value, true),
                "content"
                    if name == "meta"
                        && attrs
                            .iter()
                            .any(|(k, v)| k == "http-equiv" && v.eq_ignore_ascii_case("refresh")) =>
                {
                    if let Some(at) = value.to_ascii_lowercase().find("url=") {
                        link(value[at + 4..].trim_matches(['\'', '"', ' ']), true);
                    }
                }
                _ => {}
            }
        }
        match name.as_ref() {
            "img" | "iframe" | "frame" | "embed" | "object" | "script" | "audio" | "video" | "source" => {
                if let Some((_, url)) = attrs.iter().find(|(k, _)| k == "src" || k == "data") {
                    link(url, true);
                }
            }
            "a" | "link" => {
                if let Some((_, url)) = attrs.iter().find(|(k, _)| k == "href") {
                    link(url, name == "link");
                }
            }
            _ => {}
        }
        if matches!(name.as_ref(), "script" | "style") && !self_closing(tag) {
            // Their bodies are not text a reader sees, nor text the model is given; a style
            // block's rules may hide classes and ids.
            let end = find_end_tag(bytes, at, name.as_bytes()).unwrap_or(text.len());
            if name == "style" {
                hiding_selectors(&text[at..end], &mut hidden_selectors);
            }
            at = memchr::memchr(b'>', &bytes[end..]).map_or(text.len(), |e| end + e + 1);
            run_start = at;
            continue;
        }
        if !VOID.contains(&name.as_ref()) && !self_closing(tag) {
            let code = matches!(name.as_ref(), "code" | "pre" | "kbd" | "samp");
            stack.push((name, hidden, code));
        }
    }
    flush(segments, &stack, run_start, text.len());
}

fn self_closing(tag: &str) -> bool {
    tag.trim_end().ends_with('/')
}

/// Where `</name` (any case) starts at or after `from`: one pass, no lowercase copy.
fn find_end_tag(bytes: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut at = from;
    while let Some(found) = memchr::memmem::find(&bytes[at..], b"</") {
        let start = at + found;
        let after = &bytes[start + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name) {
            return Some(start);
        }
        at = start + 2;
    }
    None
}

/// The classes (`.name`) and ids (`#name`) whose rules in a style block hide them.
fn hiding_selectors(css: &str, out: &mut Vec<String>) {
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let selectors = &rest[..open];
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let declarations = &rest[open + 1..close];
        if style_hides(declarations) {
            for selector in selectors.rsplit(['}', ';']).next().unwrap_or("").split(',') {
                // The last compound of the selector names the element hidden.
                let last = selector.split_whitespace().last().unwrap_or("");
                for (i, c) in last.char_indices() {
                    if c == '.' || c == '#' {
                        let name: String = last[i + 1..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            out.push(format!("{c}{name}"));
                        }
                    }
                }
            }
        }
        rest = &rest[(close + 1).min(rest.len())..];
    }
}

/// Whether an element's class or id is one a style block hides.
fn hidden_by_selector(attrs: &[(Cow<'_, str>, &str)], selectors: &[String]) -> bool {
    if selectors.is_empty() {
        return false;
    }
    attrs.iter().any(|(k, v)| match k.as_ref() {
        "class" => v
            .split_whitespace()
            .any(|c| selectors.iter().any(|s| s.strip_prefix('.') == Some(c))),
        "id" => selectors.iter().any(|s| s.strip_prefix('#') == Some(*v)),
        _ => false,
    })
}

fn push<'a>(
    segments: &mut Vec<Segment<'a>>,
    place: Place,
    text: Cow<'a, str>,
    source: std::ops::Range<usize>,
) {
    if !text.trim().is_empty() {
        segments.push(Segment {
            place,
            text,
            source: Source::Text(source),
        });
    }
}

/// The element's lowercase name; its attributes (lowercase names, values as written) replace
/// what `attrs` held.
fn parse_tag<'a>(tag: &'a str, attrs: &mut Vec<(Cow<'a, str>, &'a str)>) -> Cow<'a, str> {
    let tag = tag.trim_end_matches('/');
    let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = lower(&tag[..name_end]);
    attrs.clear();
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
        let key = lower(&rest[key_start..i]);
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        let mut value = "";
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
                value = &rest[start..end];
                i = end + 1;
            } else {
                let start = i;
                while i < b.len() && !(b[i] as char).is_whitespace() {
                    i += 1;
                }
                value = &rest[start..i];
            }
        }
        attrs.push((key, value));
    }
    name
}

/// The text in ASCII lowercase, borrowed when it already is.
fn lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether an element's own attributes hide it from a reader.
fn is_hidden(name: &str, attrs: &[(Cow<'_, str>, &str)]) -> bool {
    let get = |k: &str| attrs.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
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

/// `&lt;`, `&#105;`, `&#x69;` and the common named entities; borrowed when there are none.
pub(super) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
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
                    "ldquo" => Some('\u{201C}'),
                    "rdquo" => Some('\u{201D}'),
                    "lsquo" => Some('\u{2018}'),
                    "rsquo" => Some('\u{2019}'),
                    "laquo" => Some('\u{AB}'),
                    "raquo" => Some('\u{BB}'),
                    "mdash" => Some('\u{2014}'),
                    "ndash" => Some('\u{2013}'),
                    "hellip" => Some('\u{2026}'),
                    "middot" => Some('\u{B7}'),
                    "shy" => Some('\u{AD}'),
                    "zwj" => Some('\u{200D}'),
                    "zwnj" => Some('\u{200C}'),
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
    Cow::Owned(out)
}
