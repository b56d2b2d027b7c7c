//! Judging a saved request or body outside the proxy (`tollgate detect scan`), with the same
//! engine and the same detector settings as the proxy, so that an operator can try a detector
//! before enabling it. The input is a raw HTTP/1 request (request line, headers, body) when it
//! starts with a request line, and a bare body otherwise. Like the proxy's, the findings carry
//! fingerprints, never values.

use super::catalog::{DetectorSet, default_enabled};
use super::engine::{Engine, PolicyDetectors, Scope};
use super::finding::Outcome;
use crate::policy::host::Host;
use crate::policy::model::DetectorSettings;

/// A request as the proxy would see it, or a bare body.
#[derive(Debug)]
pub struct Subject<'a> {
    pub request: Option<RequestLine<'a>>,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

#[derive(Debug)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub target: &'a str,
}

impl<'a> Subject<'a> {
    /// A request when the first line is one (`METHOD target HTTP/1.x`), a body otherwise.
    pub fn parse(input: &'a [u8]) -> Self {
        Self::request(input).unwrap_or(Self {
            request: None,
            headers: Vec::new(),
            body: input,
        })
    }

    fn request(input: &'a [u8]) -> Option<Self> {
        let (line, mut rest) = split_line(input)?;
        let line = std::str::from_utf8(line).ok()?;
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        let token = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token || !version.starts_with("HTTP/1.") || parts.next().is_some() {
            return None;
        }
        let mut headers = Vec::new();
        loop {
            let (field, after) = split_line(rest).unwrap_or((rest, &[]));
            rest = after;
            if field.is_empty() {
                break;
            }
            let colon = field.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&field[..colon]).ok()?;
            headers.push((name, field[colon + 1..].trim_ascii()));
        }
        Some(Self {
            request: Some(RequestLine { method, target }),
            headers,
            body: rest,
        })
    }

    /// The host the request names (absolute target, else `Host`).
    pub fn host(&self) -> Option<Host> {
        let target = self.request.as_ref()?.target;
        let authority = match target.split_once("://") {
            Some((_, rest)) => rest.split(['/', '?', '#']).next()?.rsplit('@').next()?,
            None => std::str::from_utf8(self.header("host")?).ok()?,
        };
        let name = match authority.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => authority,
        };
        Host::parse(name.trim_start_matches('[').trim_end_matches(']')).ok()
    }

    fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Every field of `name` as one list, as the proxy reads repeated fields.
    fn field_list(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

fn split_line(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = input.iter().position(|&b| b == b'\n')?;
    let line = &input[..end];
    Some((line.strip_suffix(b"\r").unwrap_or(line), &input[end + 1..]))
}

/// Judges `subject` with a tool's detector `settings` (the defaults when `None`), for `host`
/// (the request's own when `None`), as the proxy would: hostname, target, method, header
/// names and values, then the body with its `Content-Encoding` and `Content-Type`.
pub fn judge(
    engine: &Engine,
    settings: Option<&DetectorSettings>,
    host: Option<&Host>,
    subject: &Subject<'_>,
) -> Outcome {
    let host = host.cloned().or_else(|| subject.host());
    let policy = settings.map(PolicyDetectors::new);
    let detectors = match (&policy, &host) {
        (Some(policy), Some(host)) => policy.for_host(host),
        (Some(policy), None) => policy.for_host(&Host::Name(String::new())),
        (None, _) => DetectorSet::from_ids(default_enabled()),
    };
    let exempt = match (&policy, &host) {
        (Some(policy), Some(host)) => policy.exempt_values(host),
        _ => Vec::new(),
    };
    let scope = Scope::new(detectors).with_exempt(&exempt);
    let mut outcome = Outcome::default();
    if let Some(line) = &subject.request {
        if let Some(Host::Name(name)) = &host {
            outcome.merge(engine.scan_hostname(scope, name));
        }
        outcome.merge(engine.scan_url(scope, line.target));
        outcome.merge(engine.scan_method(scope, line.method));
        outcome.merge(engine.scan_header_names(scope, subject.headers.iter().map(|(n, _)| *n)));
        for (name, value) in &subject.headers {
            if !name.eq_ignore_ascii_case("proxy-authorization") {
                outcome.merge(engine.scan_header(scope, name, value));
            }
        }
    }
    let encoding = subject.field_list("content-encoding");
    let content_type = subject.field_list("content-type");
    if !subject.body.is_empty() {
        outcome.merge(engine.scan_body(scope, encoding.as_deref(), content_type.as_deref(), subject.body));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FingerprintKey;

    fn engine() -> Engine {
        Engine::new(FingerprintKey::new(vec![7u8; 32]).expect("key")).expect("engine")
    }

    #[test]
    fn a_saved_request_is_judged_part_by_part() {
        let input = b"POST https://api.example.com/upload HTTP/1.1\r\nHost: api.example.com\r\nAKIAQ3XK7M2PZR5TLW4N: yes\r\n\r\nhello";
        let subject = Subject::parse(input);
        assert_eq!(subject.request.as_ref().map(|r| r.method), Some("POST"));
        assert_eq!(subject.body, b"hello");
        let outcome = judge(&engine(), None, None, &subject);
        let found: Vec<String> = outcome.findings.iter().map(|f| f.location.to_string()).collect();
        assert_eq!(found, ["header-names"]);
    }

    #[test]
    fn a_bare_body_is_a_body_and_a_clean_one_passes() {
        let outcome = judge(
            &engine(),
            None,
            None,
            &Subject::parse(b"{\"key\": \"AKIAQ3XK7M2PZR5TLW4N\"}"),
        );
        assert_eq!(outcome.findings.len(), 1);
        assert!(outcome.findings[0].location.to_string().starts_with("body@"));
        assert!(judge(&engine(), None, None, &Subject::parse(b"nothing to see")).is_clean());
    }
}
