//! One-shot scans of the parts of a request that arrive whole: the URL (userinfo, path, query,
//! fragment), a header value, and the hostname (whose labels can carry data out through DNS).

use super::decode::base64::{decode_base32, decode_base32_run, decode_hex_run, decode_run, is_meaningful};
use super::decode::is_texty;
use super::decode::percent::{self, hex_value};
use super::engine::{Engine, Scope};
use super::entropy;
use super::finding::{Confidence, Encoding, EncodingChain, Location, Outcome};
use super::rules::checks::{entropy, is_placeholder, is_well_known, looks_random};
use super::scan::{Origin, Place, Walk};
use super::shapes::{credential_value, is_secret_key_name, key_header};

impl Engine {
    /// A request URL in absolute form (`https://user:pass@host/path?query#fragment`) or origin
    /// form (`/path?query`). The host is not scanned here; see [`Engine::scan_hostname`].
    pub fn scan_url(&self, scope: Scope<'_>, url: &str) -> Outcome {
        let parts = split_url(url);
        let mut outcome = Outcome::default();
        if let Some(userinfo) = parts.userinfo {
            outcome.merge(self.scan_userinfo(scope, userinfo));
        }
        // The host goes with the path: some secrets are a whole URL (a webhook's
        // `hooks.slack.com/services/…`), and their rule is anchored on the host.
        let host_and_path = format!("{}{}", parts.host, parts.path);
        for (location, text) in [
            (Location::UrlPath, host_and_path.as_str()),
            (Location::UrlQuery, parts.query),
            (Location::UrlFragment, parts.fragment),
        ] {
            if !text.is_empty() {
                outcome.merge(self.scan_fixed(scope, location, text.as_bytes()));
            }
        }
        if scope.detectors.contains("high-entropy") {
            let mut tokens = Vec::new();
            entropy::in_path(parts.path.as_bytes(), |t| {
                tokens.push((Location::UrlPath, t.to_vec()))
            });
            entropy::in_query(parts.query.as_bytes(), |t| {
                tokens.push((Location::UrlQuery, t.to_vec()))
            });
            // Fragments never reach the server, but a page's script reads them and a tool's
            // request may carry one: judged like a query.
            entropy::in_query(parts.fragment.as_bytes(), |t| {
                tokens.push((Location::UrlFragment, t.to_vec()))
            });
            // Letters and digits percent-encoded, once or more (`%252534%252562…`): hidden text.
            for (location, text) in [(Location::UrlPath, parts.path), (Location::UrlQuery, parts.query)] {
                if let Some(run) = encoded_unreserved_data(text.as_bytes()) {
                    tokens.push((location, run));
                }
            }
            for (location, token) in tokens {
                let mut walk = Walk::new(self, scope, Place::Fixed(location));
                walk.report_as(
                    "high-entropy",
                    &token,
                    0,
                    &EncodingChain::default(),
                    Confidence::Low,
                );
                outcome.merge(walk.finish());
            }
        }
        // DNS over HTTPS (RFC 8484): a GET carries the query as base64url in `dns=`, and the
        // name asked for is judged as any name looked up is.
        for pair in parts.query.split('&') {
            if let Some(name) = pair.strip_prefix("dns=").and_then(doh_question) {
                outcome.merge(self.scan_hostname(scope, &name));
            }
        }
        outcome
    }

    fn scan_userinfo(&self, scope: Scope<'_>, userinfo: &str) -> Outcome {
        let mut walk = Walk::new(self, scope, Place::Fixed(Location::UrlUserinfo));
        walk.layer(userinfo.as_bytes(), Origin::Span(0), &EncodingChain::default());
        if let Some((_, password)) = userinfo.split_once(':') {
            let weak = super::prefilter::is_weak_password(password.as_bytes());
            if scope.detectors.contains("url-credentials")
                && password.len() >= 3
                && !weak
                && !is_placeholder(password.as_bytes())
            {
                walk.report(
                    "url-credentials",
                    password.as_bytes(),
                    0,
                    &EncodingChain::default(),
                );
            }
        }
        walk.finish()
    }

    /// One header value. Besides every detector, a header whose name says it carries a
    /// credential (`x-api-key`, `authorization`, `private-token`) is reported by
    /// `generic-secret` when its value looks random.
    pub fn scan_header(&self, scope: Scope<'_>, name: &str, value: &[u8]) -> Outcome {
        let lower = name.to_ascii_lowercase();
        let mut walk = Walk::new(self, scope, Place::Fixed(Location::Header(lower.clone())));
        walk.layer(value, Origin::Span(0), &EncodingChain::default());
        walk.named_header(name, value);
        if scope.detectors.contains("generic-secret") && credential_header(&lower) {
            let token = credential_of(value);
            if is_well_known(token) || (credential_value(lower.as_bytes(), token) && !masked(token)) {
                walk.report("generic-secret", token, 0, &EncodingChain::default());
            }
        } else if scope.detectors.contains("generic-secret") {
            let token = value.trim_ascii();
            if key_header(lower.as_bytes(), token) && !masked(token) {
                walk.report("generic-secret", token, 0, &EncodingChain::default());
            }
        }
        if scope.detectors.contains("high-entropy") && custom_data_header(&lower) {
            let certificates = certificate_blocks(value);
            for token in value.split(|&b| !super::runs::is_run_byte(b)) {
                let at = token.as_ptr() as usize - value.as_ptr() as usize;
                let public = certificates
                    .iter()
                    .any(|&(start, end)| (start..end).contains(&at));
                if !public && entropy::unexplained(token) {
                    walk.report_as(
                        "high-entropy",
                        token,
                        0,
                        &EncodingChain::default(),
                        Confidence::Low,
                    );
                }
            }
        }
        if scope.detectors.contains("generic-secret") && lower == "cookie" {
            for token in session_cookies(value) {
                walk.report("generic-secret", token, 0, &EncodingChain::default());
            }
        }
        walk.finish()
    }

    /// The request method: a client may send any token there.
    pub fn scan_method(&self, scope: Scope<'_>, method: &str) -> Outcome {
        self.scan_fixed(scope, Location::Method, method.as_bytes())
    }

    /// Every header name of a request, one per line, judged together: a name can carry a
    /// token, and a pair written as `AKIA…: <secret>` spreads over a name and a value.
    pub fn scan_header_names<'n>(
        &self,
        scope: Scope<'_>,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Outcome {
        let mut text = Vec::new();
        let mut segments = Vec::new();
        for name in names {
            text.extend_from_slice(name.as_bytes());
            text.push(b'\n');
            // A name's words one by one as well: data hidden in one (`X-<hex>`,
            // `X-Cache-<base32>`) is a run of its own, decoded and judged as such.
            if name.len() > 24 {
                segments.extend(name.split(['-', '_']).filter(|w| w.len() >= 16));
            }
        }
        for segment in &segments {
            text.extend_from_slice(segment.as_bytes());
            text.push(b'\n');
        }
        let mut outcome = self.scan_fixed(scope, Location::HeaderNames, &text);
        // Software names its headers in words; a random word there is data leaving, like a
        // query value no grammar explains, and so is a word that decodes to text (a digest's
        // hex never does).
        if scope.detectors.contains("high-entropy") {
            let mut walk = Walk::new(self, scope, Place::Fixed(Location::HeaderNames));
            let data = |s: &&&str| {
                let s = s.as_bytes();
                let text = decode_hex_run(s)
                    .or_else(|| decode_base32_run(s))
                    .or_else(|| decode_run(s));
                entropy::unexplained(s) || text.is_some_and(|t| is_meaningful(&t))
            };
            for segment in segments.iter().filter(data) {
                walk.report_as(
                    "high-entropy",
                    segment.as_bytes(),
                    0,
                    &EncodingChain::default(),
                    Confidence::Low,
                );
            }
            outcome.merge(walk.finish());
        }
        outcome
    }

    /// A whole body already in memory. `content_encoding` and `content_type` are the request's
    /// headers of those names.
    pub fn scan_body(
        &self,
        scope: Scope<'_>,
        content_encoding: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Outcome {
        let mut walk = Walk::new(self, scope, Place::Body);
        walk.body(body, content_encoding, content_type);
        walk.finish()
    }

    /// A hostname under an allowed wildcard. Labels left of the registrable domain that are
    /// long and random, or that decode (hex, base32, base64) to text, are DNS-style
    /// exfiltration (`dns-exfiltration`); secrets spelt in them are reported by their own
    /// detectors.
    pub fn scan_hostname(&self, scope: Scope<'_>, host: &str) -> Outcome {
        let host = host.trim_end_matches('.');
        let registrable = owned_domain(host);
        let sub = host.strip_suffix(registrable).unwrap_or("").trim_end_matches('.');
        let mut walk = Walk::new(self, scope, Place::Fixed(Location::UrlHost));
        if sub.is_empty() {
            return walk.finish();
        }
        let chain = EncodingChain::default();
        walk.layer(sub.as_bytes(), Origin::Span(0), &chain);
        // Names are case-insensitive, and resolvers may lower-case them: what is written in
        // capitals (AWS key ids, IBANs, New Relic keys; 15 characters and more, as the shortest
        // IBAN) is looked for in capitals too, in names with a label that long.
        if sub.split('.').any(|label| label.len() >= 15) && sub.bytes().any(|b| b.is_ascii_lowercase()) {
            walk.layer(sub.to_ascii_uppercase().as_bytes(), Origin::Span(0), &chain);
        }
        // A label that is an SSN as written (`436-90-6869.x.example.net`): no name has one.
        if scope.detectors.contains("us-ssn") {
            for label in sub.split('.').map(str::as_bytes) {
                let shaped = label.len() == 11
                    && label.iter().enumerate().all(|(i, b)| {
                        if i == 3 || i == 6 {
                            *b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    });
                if shaped && super::finance::ssn_issuable(&label[..3], &label[4..6], &label[7..]) {
                    walk.report("us-ssn", label, 0, &chain);
                }
            }
        }
        let mut labels: Vec<&[u8]> = sub.split('.').map(str::as_bytes).collect();
        // A resource id the platform generated, in the place and grammar it gives one: its
        // zone's nameservers, not a sender's, see the name (secrets in it are still looked for
        // above).
        if platform_id(host, &labels) {
            labels.remove(0);
        }
        if let Some((bytes, encoding)) = label_data(&labels) {
            walk.descend(bytes, encoding, Origin::Span(0), &chain);
            if scope.detectors.contains("dns-exfiltration") {
                walk.report("dns-exfiltration", sub.as_bytes(), 0, &chain.then(encoding));
            }
        } else if scope.detectors.contains("dns-exfiltration")
            && (labels
                .iter()
                .any(|l| std::str::from_utf8(l).is_ok_and(random_label))
                || random_across_labels(&labels))
        {
            walk.report("dns-exfiltration", sub.as_bytes(), 0, &chain);
        }
        walk.finish()
    }

    fn scan_fixed(&self, scope: Scope<'_>, location: Location, text: &[u8]) -> Outcome {
        let mut walk = Walk::new(self, scope, Place::Fixed(location));
        walk.layer(text, Origin::Span(0), &EncodingChain::default());
        // Token by token, escapes are decoded within delimiters; data spread over several
        // tokens (`41,%2042,%2043`) needs the URL part decoded as a whole too.
        let decoders = [
            super::decode::percent::decode,
            super::decode::percent::decode_form,
        ];
        for decoded in decoders.iter().filter_map(|decode| decode(text)) {
            walk.descend(
                decoded,
                Encoding::Percent,
                Origin::Span(0),
                &EncodingChain::default(),
            );
        }
        walk.finish()
    }
}

/// Hostnames a command in the text looks up (`dig +short TXT <name>`, `nslookup`, `host`,
/// `drill`, `ping`): a body carrying such a command (a script, a tool call that runs it) sends
/// the name to a resolver when it runs. Calls `f(start, end)` for each name.
pub(crate) fn looked_up_hosts(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static LOOKUPS: std::sync::OnceLock<regex::bytes::Regex> = std::sync::OnceLock::new();
    let lookups = LOOKUPS.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"\b(?:dig|kdig|drill|nslookup|host|ping)\b[^\n;|&]{0,64}?[ \t]((?:[A-Za-z0-9_\-]{1,63}\.){2,}[A-Za-z]{2,63})\.?(?:[\s;|&\\"'`]|$)"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in lookups.captures_iter(data) {
        if let Some(host) = caps.get(1) {
            f(host.start(), host.end());
        }
    }
}

/// The text of the first stretch of 16 or more percent-encoded unreserved characters
/// ([`percent::encoded_unreserved`]), looked for through up to three layers of encoding.
fn encoded_unreserved_data(text: &[u8]) -> Option<Vec<u8>> {
    let mut layer = std::borrow::Cow::Borrowed(text);
    for _ in 0..3 {
        if let Some((start, end)) = percent::encoded_unreserved(&layer, 16) {
            // Words spelled so (a benign value encoded whole) are judged as the words they are.
            return percent::decode(&layer[start..end])
                .filter(|text| text.iter().any(u8::is_ascii_digit) && !entropy::joined_words(text));
        }
        layer = std::borrow::Cow::Owned(percent::decode(&layer)?);
    }
    None
}

/// The part of a hostname its owner registered: the registrable domain, except under a
/// multi-tenant suffix (the public suffix list's private section: tunnels and hosting
/// platforms such as `ngrok-free.app`, `trycloudflare.com`, `vercel.app`, `workers.dev`), where
/// the tenant's label is anyone's to choose for the asking and so is judged like a subdomain.
fn owned_domain(host: &str) -> &str {
    let Some(domain) = psl::domain(host.as_bytes()) else {
        return host;
    };
    let suffix = domain.suffix();
    let owned = if suffix.typ() == Some(psl::Type::Private) {
        suffix.as_bytes()
    } else {
        domain.as_bytes()
    };
    // Both are tails of `host`.
    &host[host.len() - owned.len().min(host.len())..]
}

/// Labels judged together: data split over several labels, in one encoding or a different one
/// per label. Every run of adjacent labels is joined and tried under every decoder, longest
/// runs first; and runs of labels that each decode (hex here, base32 there) are joined after
/// decoding. The longer of the two is the hostname's data. Hostnames have at most a few dozen
/// labels, so the quadratic walk stays small.
fn label_data(labels: &[&[u8]]) -> Option<(Vec<u8>, Encoding)> {
    let labels = &labels[..labels.len().min(MAX_JOINED_LABELS)];
    let joined = (1..=labels.len()).rev().find_map(|len| {
        labels.windows(len).find_map(|run| {
            let joined: Vec<u8> = run.iter().flat_map(|l| l.iter().copied()).collect();
            decode_label(&joined)
        })
    });
    match (joined, mixed_labels(labels)) {
        (Some(a), Some(b)) => Some(if b.0.len() > a.0.len() { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Labels past this many are judged only as part of the whole.
const MAX_JOINED_LABELS: usize = 32;

/// Adjacent labels that each decode to printable text under some decoder, decoded and joined.
fn mixed_labels(labels: &[&[u8]]) -> Option<(Vec<u8>, Encoding)> {
    let mut joined: Vec<u8> = Vec::new();
    let mut first = None;
    let mut count = 0;
    for label in labels {
        match decode_one_label(label) {
            Some((bytes, encoding)) => {
                joined.extend(bytes);
                first.get_or_insert(encoding);
                count += 1;
            }
            None if count >= 2 && texty_enough(&joined) => break,
            None => {
                joined.clear();
                first = None;
                count = 0;
            }
        }
    }
    (count >= 2 && texty_enough(&joined)).then(|| (joined, first.unwrap_or(Encoding::Hex)))
}

/// One label of 8 or more characters whose decoding, under some decoder, is all printable.
fn decode_one_label(label: &[u8]) -> Option<(Vec<u8>, Encoding)> {
    let compact: Vec<u8> = label.iter().copied().filter(|&b| b != b'-').collect();
    if compact.len() < 8 {
        return None;
    }
    let lower = compact.to_ascii_lowercase();
    let printable = |b: &Vec<u8>| b.len() >= 4 && b.iter().all(|c| (0x20..0x7f).contains(c));
    if let Some(bytes) = hex_bytes(&lower).filter(printable) {
        return Some((bytes, Encoding::Hex));
    }
    if let Some(bytes) = decode_base32(&lower).filter(printable) {
        return Some((bytes, Encoding::Base32));
    }
    decode_run(&compact)
        .filter(printable)
        .map(|b| (b, Encoding::Base64))
}

/// Subdomain data that decodes to text: hex, base32 (a single 16-character label carries 10
/// bytes) or base64.
fn decode_label(label: &[u8]) -> Option<(Vec<u8>, Encoding)> {
    let joined: Vec<u8> = label.iter().copied().filter(|&b| b != b'-').collect();
    if joined.len() < 16 {
        return None;
    }
    let lower = joined.to_ascii_lowercase();
    if let Some(bytes) = hex_bytes(&lower).filter(|b| texty_enough(b)) {
        return Some((bytes, Encoding::Hex));
    }
    if lower.len() >= 16
        && lower
            .iter()
            .all(|&b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        if let Some(bytes) = decode_base32(&lower).filter(|b| texty_enough(b)) {
            return Some((bytes, Encoding::Base32));
        }
    }
    // Base64 of text mixes both cases (about two in five of its characters are capitals);
    // a label in one case that decodes to text under some alignment does so by chance.
    let both_cases = joined.iter().any(u8::is_ascii_uppercase) && joined.iter().any(u8::is_ascii_lowercase);
    decode_run(&joined)
        .filter(|b| both_cases && is_meaningful(b))
        .map(|b| (b, Encoding::Base64))
}

/// Hex digits of any even length, as bytes.
fn hex_bytes(digits: &[u8]) -> Option<Vec<u8>> {
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
        .collect()
}

/// Decoded label data that reads as text: 8 to 15 bytes must all be printable and mostly
/// letters or digits; longer data may have the odd stray byte.
fn texty_enough(bytes: &[u8]) -> bool {
    if bytes.len() >= 16 {
        return is_texty(bytes, 90);
    }
    let alnum = bytes.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    bytes.len() >= 8 && bytes.iter().all(|b| (0x20..0x7f).contains(b)) && alnum * 2 >= bytes.len()
}

/// A label long and random enough to be data rather than a name: 24+ characters, letters and
/// digits mixed, and a high entropy; or data in one case by [`entropy::one_case_data`] (hex of
/// 24+; base32/base36 of 20+, or of 16+ with two digits when the label is one unbroken token,
/// as a single 16-character base32 label is), except a UUID or words joined by dashes
/// (`acme-prod-app-7f9c-12345`).
fn random_label(label: &str) -> bool {
    let bytes: Vec<u8> = label.bytes().filter(|&b| b != b'-').collect();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let mixed = bytes.len() >= 24 && digits >= 4 && letters >= 4 && entropy(&bytes) >= 3.7;
    // Names are case-insensitive and written in small letters; capitals in runs among small
    // ones (`OesxOwZsgAlbLVFQiHdIqhI`, base64url with no digit) are data, not CamelCase words.
    let upper = bytes.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = bytes.iter().filter(|b| b.is_ascii_lowercase()).count();
    let capitals_in_runs = bytes
        .windows(2)
        .filter(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
        .count();
    let cased =
        bytes.len() >= 16 && upper >= 5 && lower >= 5 && capitals_in_runs >= 2 && entropy(&bytes) >= 3.8;
    let raw = label.as_bytes();
    let whole = !raw.contains(&b'-');
    let one_case = if whole {
        // Random base32 has a digit in 6 of 32 places: one 16-character label in six has fewer
        // than two; its letters and digits are then judged together.
        entropy::one_case_data_of(raw, 16, 2) || entropy::one_case_random(raw, 16)
    } else {
        entropy::one_case_data(raw)
    };
    // Words and numbers joined by dashes (`my-loadbalancer-1234567890`, an ELB name) are a name.
    !is_uuid(raw) && !generated_id(raw) && !entropy::joined_words(raw) && (mixed || cased || one_case)
}

/// Ids that clouds and orchestrators generate into hostnames, by their published grammars:
/// - a 128-bit id in hex (a UUID without its dashes: EKS API servers, Elastic Cloud
///   deployments), optionally behind one letter and ahead of a decimal number (the ELB that a
///   Kubernetes `LoadBalancer` service gets: `a` and 31 digits of the service's uid, `-` and
///   a number);
/// - an AWS resource id (`vpce-0a1b…`: a short type word and 8 or 17 hex digits), optionally
///   followed by one 8-character suffix (a VPC endpoint's DNS name);
/// - a Kubernetes pod name: name words, then the pod-template hash and the pod suffix, drawn
///   from the alphabet Kubernetes uses for them (consonants and digits that cannot spell words:
///   `bcdfghjklmnpqrstvwxz2456789`).
///
/// Each holds at most 128 bits chosen by the platform; exfiltration encodes more per label or
/// spreads it over several labels, which are judged together.
fn generated_id(label: &[u8]) -> bool {
    // A UUID and then words (`<uuid>-europe-west1`: a managed database's endpoint).
    if label.len() > 37 && is_uuid(&label[..36]) && label[36] == b'-' {
        let word = |p: &[u8]| !p.is_empty() && p.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        return label[37..].split(|&b| b == b'-').all(word);
    }
    let parts: Vec<&[u8]> = label.split(|&b| b == b'-').collect();
    let hex = |p: &[u8]| p.iter().all(u8::is_ascii_hexdigit);
    let digits = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_digit);
    let uid = |p: &[u8]| p.len() == 32 && hex(p);
    let prefixed_uid = |p: &[u8]| p.len() == 32 && p[0].is_ascii_alphabetic() && hex(&p[1..]);
    let kube_safe = |p: &[u8]| p.iter().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(b));
    let word = |p: &[u8]| !p.is_empty() && p.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    match parts.as_slice() {
        [id] => uid(id),
        [id, n] if digits(n) => uid(id) || prefixed_uid(id),
        [kind, id, rest @ ..]
            if (2..=10).contains(&kind.len())
                && kind.iter().all(u8::is_ascii_lowercase)
                && matches!(id.len(), 8 | 17)
                && hex(id)
                && rest.len() <= 1
                && rest.iter().all(|r| r.len() == 8 && word(r)) =>
        {
            true
        }
        // Names and one short hash (6 to 10 characters, a digit among them): the AWS load
        // balancer controller's `k8s-<namespace>-<name>-<10 hex>`, Firebase preview channels'
        // `<site>--<channel>-<8 base36>`; at most 52 bits.
        [names @ .., hash]
            if names
                .iter()
                .any(|n| n.len() >= 3 && n.iter().all(u8::is_ascii_lowercase))
                && names.iter().all(|n| n.is_empty() || word(n))
                && (6..=10).contains(&hash.len())
                && word(hash)
                && hash.iter().any(u8::is_ascii_digit) =>
        {
            true
        }
        [names @ .., hash, suffix]
            if !names.is_empty()
                && names.iter().all(|n| word(n))
                && (6..=10).contains(&hash.len())
                && suffix.len() == 5
                && kube_safe(hash)
                && kube_safe(suffix) =>
        {
            true
        }
        _ => false,
    }
}

/// Whether the first label of `host` is the id a platform generates for a resource, in the
/// zone and grammar the platform documents for it: a Supabase project ref (20 lower-case
/// letters under `supabase.co`), a Lambda function URL id (32 lower-case letters and digits
/// under `lambda-url.<region>.on.aws`), an AppSync API id (26 under
/// `appsync-api.<region>.amazonaws.com`), a CloudFront distribution name (`d` and 13 under
/// `cloudfront.net`). Names under those zones resolve at the platform's nameservers and reach
/// the platform's edge, which route only ids the platform issued; a name of any other shape
/// there is judged as any subdomain is.
fn platform_id(host: &str, labels: &[&[u8]]) -> bool {
    let Some(id) = labels.first() else {
        return false;
    };
    let zone = host.get(id.len() + 1..).unwrap_or("").to_ascii_lowercase();
    let parts: Vec<&str> = zone.split('.').collect();
    let lower_alnum =
        |n: usize| id.len() == n && id.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    match parts.as_slice() {
        ["supabase", "co" | "in"] => id.len() == 20 && id.iter().all(u8::is_ascii_lowercase),
        ["lambda-url", region, "on", "aws"] => aws_region(region) && lower_alnum(32),
        ["appsync-api", region, "amazonaws", "com"] => aws_region(region) && lower_alnum(26),
        ["cloudfront", "net"] => id.first() == Some(&b'd') && lower_alnum(14),
        // Subdomain IPFS gateways (`<cid>.ipfs.dweb.link`): the content's CIDv1 names it.
        ["ipfs" | "ipns", ..] => super::entropy::content_id(id),
        _ => false,
    }
}

/// The name in the question of a DNS message in base64url (an RFC 8484 GET's `dns=`).
fn doh_question(value: &str) -> Option<String> {
    use base64::Engine as _;
    let message = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()?;
    // The header's question count, then the question's labels up to the root.
    if message.len() < 17 || u16::from_be_bytes([message[4], message[5]]) == 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = *message.get(i)? as usize;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(std::str::from_utf8(message.get(i + 1..i + 1 + len)?).ok()?);
        i += 1 + len;
    }
    (!labels.is_empty()).then(|| labels.join("."))
}

/// `us-east-1`, `eu-west-3`, `ap-southeast-2`, `us-gov-west-1`: letters, a direction, a number.
fn aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() == 1
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(label: &[u8]) -> bool {
    label.len() == 36
        && label.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Runs of adjacent data-like labels (8 or more characters, letters and digits mixed) that
/// together are long and random: data split into short labels to stay under the per-label
/// threshold.
fn random_across_labels(labels: &[&[u8]]) -> bool {
    // A platform's id is judged alone (it holds what the platform chose), and a region or zone
    // name beside it (`europe-west1`, `us-east-1`) is a name, not more data.
    let data_like = |label: &&[u8]| {
        let digits = label.iter().filter(|b| b.is_ascii_digit()).count();
        let letters = label.iter().filter(|b| b.is_ascii_alphabetic()).count();
        label.len() >= 8
            && digits >= 1
            && letters >= 2
            && !is_uuid(label)
            && !generated_id(label)
            && !location_name(label)
    };
    let joined_random = |run: &[&[u8]]| {
        let joined: String = run.iter().map(|l| String::from_utf8_lossy(l)).collect();
        random_label(&joined)
    };
    // Or many short chunks (dnscat2- and DNSExfiltrator-style, sequence numbers included):
    // three or more adjacent labels of 4+ letters and digits, 24+ characters together not
    // counting the labels that read as words. A word (`eastus`, `cloudapp`) is a name, which
    // language explains, as the information budget counts it; a name beside one short random
    // label (a cloud's 12-character service name, some 60 bits) carries too little to be data
    // on its own. Chunks of data are not words, and a run of them still joins into one.
    let chunk = |label: &&[u8]| label.len() >= 4 && label.iter().all(u8::is_ascii_alphanumeric);
    let data_chars = |run: &[&[u8]]| {
        run.iter()
            .filter(|l| !super::information::is_word(l))
            .map(|l| l.len())
            .sum::<usize>()
    };
    labels
        .split(|label| !data_like(label))
        .filter(|run| run.len() >= 2)
        .any(joined_random)
        || labels
            .split(|label| !chunk(label))
            .filter(|run| run.len() >= 3 && data_chars(run) >= 24)
            .any(joined_random)
}

/// A cloud region or zone as clouds name them: words joined by dashes, the last ending in a
/// short number (`europe-west1`, `us-east-1`, `ap-southeast-2a`, `westeurope`-style names have
/// no digit and are never data-like).
fn location_name(label: &[u8]) -> bool {
    let parts: Vec<&[u8]> = label.split(|&b| b == b'-').collect();
    let last = parts.last().copied().unwrap_or_default();
    let digits = last
        .iter()
        .rev()
        .skip_while(|b| b.is_ascii_lowercase())
        .take_while(|b| b.is_ascii_digit())
        .count();
    parts.len() >= 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.len() >= 2 && p.iter().all(u8::is_ascii_lowercase))
        && (1..=2).contains(&digits)
        && last.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && last.len() <= 10
}

/// The values of session cookies that look random: a session id is a bearer credential
/// (`sessionid`, `PHPSESSID`, `JSESSIONID`, `connect.sid`, `_app_session`), whatever its name
/// does not say. Other cookies with credential names are judged as assignments.
fn session_cookies(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (pair[..eq].to_ascii_lowercase(), pair[eq + 1..].trim_ascii());
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        let session = name.windows(4).any(|w| w == b"sess")
            || name == b"sid"
            || name.ends_with(b".sid")
            || name.ends_with(b"_sid")
            || super::shapes::is_session_cookie(&name);
        (session && looks_random(value) && !is_placeholder(value) && !super::shapes::encoded_json(value))
            .then_some(value)
    })
}

/// A credential shown with part of it hidden or cut (`sk_live_****4242`, `AbCd…WxYz`,
/// `gQFx…`): a mask run of `*`, `•` or `x`, or an ellipsis. What is left is too little to use.
fn masked(token: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(token, needle).is_some();
    has(b"***") || has(b"...") || has("…".as_bytes()) || has("•".as_bytes()) || has(b"xxxx") || has(b"XXXX")
}

/// The spans of PEM certificates in a header value, as they are or percent-escaped
/// (`-----BEGIN%20CERTIFICATE-----%0AMIID…`: how nginx's `$ssl_client_escaped_cert` and
/// Envoy's `x-forwarded-client-cert` pass a client's certificate on). A certificate is public
/// by its purpose: its base64 is no unexplained data. From the opening armour to the closing
/// one, or to the value's end when it is cut.
fn certificate_blocks(value: &[u8]) -> Vec<(usize, usize)> {
    const ARMOUR: &[u8] = b"CERTIFICATE-----";
    let mut blocks = Vec::new();
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&value[from..], ARMOUR).map(|at| from + at) {
        let head = &value[..at];
        let opening = [&b"-----BEGIN "[..], b"-----BEGIN%20", b"-----BEGIN+"]
            .iter()
            .any(|begin| head.ends_with(begin));
        from = at + ARMOUR.len();
        if !opening {
            continue;
        }
        let end = [&b"-----END "[..], b"-----END%20", b"-----END+"]
            .iter()
            .filter_map(|close| memchr::memmem::find(&value[from..], close))
            .min()
            .map_or(value.len(), |e| from + e);
        blocks.push((from, end));
        from = end;
    }
    blocks
}

/// A custom header (`x-…`) whose value nothing explains is judged like a URL's query value:
/// random data there is data leaving. Except where the name says the value is random by
/// design: ids, traces, nonces, signatures and digests, CSRF tokens, cursors, and Chrome's
/// variations header (`x-client-data`, base64 of a protobuf).
fn custom_data_header(name: &str) -> bool {
    const BY_DESIGN: &[&str] = &[
        "id",
        "trace",
        "span",
        "request",
        "correlation",
        "nonce",
        "signature",
        "sig",
        "hmac",
        "hash",
        "digest",
        "checksum",
        "sha",
        "etag",
        "fingerprint",
        "csrf",
        "xsrf",
        "cursor",
        "version",
        "client-data",
        "idempotency",
        "cache",
        "build",
        "commit",
        "timestamp",
        "date",
        "forwarded",
        "recaptcha",
        "captcha",
        "appcheck",
        "integrity",
        "challenge",
    ];
    name.starts_with("x-") && !BY_DESIGN.iter().any(|w| name.contains(w))
}

fn credential_header(name: &str) -> bool {
    matches!(name, "authorization" | "proxy-authorization" | "private-token")
        || is_secret_key_name(name.as_bytes())
}

/// The credential in a header value: after an auth scheme (`Bearer`, `token`, `Basic`...).
fn credential_of(value: &[u8]) -> &[u8] {
    let trimmed = value.trim_ascii();
    match trimmed.iter().position(|&b| b == b' ') {
        Some(space) => trimmed[space + 1..].trim_ascii(),
        None => trimmed,
    }
}

struct UrlParts<'a> {
    userinfo: Option<&'a str>,
    /// The authority without userinfo (and its port); empty in origin form.
    host: &'a str,
    path: &'a str,
    query: &'a str,
    fragment: &'a str,
}

/// Split by hand, not by a URL parser: the raw bytes are what leaves, and parsers normalise.
fn split_url(url: &str) -> UrlParts<'_> {
    let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.split_once("://") {
        Some((_, after)) => match after.find('/') {
            Some(slash) => (&after[..slash], &after[slash..]),
            None => (after, ""),
        },
        None => ("", rest),
    };
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    UrlParts {
        userinfo,
        host,
        path,
        query,
        fragment,
    }
}
