//! One scan: the walk over a piece of a request and everything decoded from it. Each layer
//! runs the rule prefilter, known-secret matching and the shape detectors, then hands each
//! encoded span to its decoder and walks the result one level deeper, within the limits.

use std::borrow::Cow;
use std::collections::HashSet;

use tracing::debug;

use super::decode::base64::{
    decode_base32_run, decode_delimited_hex, decode_hex_run, decode_run, is_meaningful, rot13,
};
use super::decode::compress::{Codec, InflateError, inflate};
use super::decode::escape::{char_refs, has_char_refs, quoted_printable, unescape};
use super::decode::hexlist::{HexList, dump_row, hex_lists, hexdump};
use super::decode::multipart::{Transfer, boundary, numbered_fields, parts};
use super::decode::numbers::{bare_lists, number_lists};
use super::decode::{Sniffed, is_texty, tar, zip};
use super::decode::{percent, sniff_compression, unicode};
use super::disguise::{self, Disguise};
use super::engine::{Engine, Scope, detector_id};
use super::finance;
use super::finding::{
    Confidence, Encoding, EncodingChain, Finding, Location, Outcome, SECRET_DETECTED, Unjudged,
};
use super::identity;
use super::keys;
use super::prefilter::Hit;
use super::rules::checks::{is_placeholder, is_well_known};
use super::runs::{
    MIN_RUN, for_each_card_stretch, for_each_dotted_hex_stretch, for_each_hex_list_stretch,
    for_each_iban_stretch, for_each_phrase_stretch, for_each_run, token_around,
};
use super::secret::Fingerprint;
use super::shapes::{
    Cues, array_name, assignment_operators, base64_elements, cards, command_line_passwords,
    cookie_jar_values, csv_columns, encoded_json, encrypted_on_purpose, follows_operator, generic_assignment,
    keyed_attributes, keys_in_calls, named_in_prose, named_values, names_a_table, names_key_material, pieces,
    public_at, punctuated_assignments, quoted_in_errors, setup_file_passwords, spoken_keys, spoken_passwords,
    sql_inserts, twilio_key, wif_key,
};

/// The largest decoded text also walked rotated back by ROT13.
const ROT13_MAX: usize = 4096;

/// Where findings of a layer are placed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// Offsets in this layer are offsets in the body, from `base`.
    Exact(u64),
    /// Everything in this layer came from the span starting at this body offset.
    Span(u64),
}

impl Origin {
    fn at(self, pos: usize) -> u64 {
        match self {
            Self::Exact(base) => base + pos as u64,
            Self::Span(offset) => offset,
        }
    }

    fn child(self, pos: usize) -> Self {
        Self::Span(self.at(pos))
    }
}

/// Which part of the request is being scanned.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Fixed(Location),
    Body,
}

/// The scope's detectors this walk checks by hand, looked up once.
#[derive(Debug, Clone, Copy)]
struct Enabled {
    known: bool,
    generic: bool,
    twilio: bool,
    crypto: bool,
    card: bool,
    seed: bool,
    delimited_hex: bool,
    iban: bool,
    ssn: bool,
    national: bool,
    bitcoin: bool,
    ethereum: bool,
    vendor: bool,
    aws: bool,
    private_key: bool,
    accounts: bool,
}

pub(crate) struct Walk<'a> {
    engine: &'a Engine,
    scope: Scope<'a>,
    on: Enabled,
    place: Place,
    budget: usize,
    outcome: Outcome,
    /// Findings already reported, by what makes them the same: value, detector and place.
    seen: HashSet<(Fingerprint, &'static str, Location)>,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(engine: &'a Engine, scope: Scope<'a>, place: Place) -> Self {
        let has = |id| scope.detectors.contains(id);
        let on = Enabled {
            known: has("known-secret") && !scope.known.is_empty(),
            generic: has("generic-secret"),
            twilio: has("twilio-key"),
            crypto: has("crypto-private-key"),
            card: has("payment-card"),
            seed: has("seed-phrase"),
            delimited_hex: has("delimited-hex"),
            iban: has("iban"),
            ssn: has("us-ssn"),
            national: has("national-id"),
            bitcoin: has("bitcoin-address"),
            ethereum: has("ethereum-address"),
            vendor: has("vendor-token"),
            aws: has("aws-access-key"),
            private_key: has("private-key"),
            accounts: has("account-file"),
        };
        Self {
            engine,
            scope,
            on,
            place,
            budget: engine.limits.max_decoded,
            outcome: Outcome::default(),
            seen: HashSet::new(),
        }
    }

    pub(crate) fn finish(self) -> Outcome {
        self.outcome
    }

    pub(crate) fn report(
        &mut self,
        detector: &'static str,
        value: &[u8],
        offset: u64,
        chain: &EncodingChain,
    ) {
        self.report_as(
            detector,
            value,
            offset,
            chain,
            confidence_of(value, Confidence::High),
        );
    }

    /// A finding with the confidence its detector judged; well-known example values always
    /// have low confidence. Values an operator exempted by fingerprint are not reported.
    pub(crate) fn report_as(
        &mut self,
        detector: &'static str,
        value: &[u8],
        offset: u64,
        chain: &EncodingChain,
        confidence: Confidence,
    ) {
        let fingerprint = self.engine.fingerprint(value);
        if self.scope.exempts(fingerprint, detector) {
            return;
        }
        let location = match &self.place {
            Place::Fixed(location) => location.clone(),
            Place::Body => Location::Body { offset },
        };
        let finding = Finding {
            reason: SECRET_DETECTED,
            detector,
            location,
            encoding: chain.clone(),
            fingerprint,
            confidence: confidence_of(value, confidence),
        };
        // A set, not a scan of the list: secret-dense bodies produce hundreds of findings.
        let key = (finding.fingerprint, finding.detector, finding.location.clone());
        if self.seen.insert(key) {
            debug!(detector, location = %finding.location, encoding = %finding.encoding, fingerprint = %finding.fingerprint, "secret detected");
            self.outcome.findings.push(finding);
        }
    }

    pub(crate) fn unjudged(&mut self, why: Unjudged) {
        if self.outcome.unjudged.is_none() {
            debug!(reason = why.reason().as_str(), "cannot judge within bounds");
            self.outcome.unjudged = Some(why);
        }
    }

    /// Everything this walk checks, on `data` and what decodes from it.
    pub(crate) fn layer(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        self.rules(data, origin, chain);
        if self.on.private_key {
            // A key file as it is (a multipart part), or a key written as text.
            if keys::binary_private_key(data) {
                self.report("private-key", data, origin.at(0), chain);
            }
            let mut found = Vec::new();
            keys::text_private_keys(data, |start, end| found.push((start, end)));
            for (start, end) in found {
                self.report("private-key", &data[start..end], origin.at(start), chain);
            }
        }
        self.known(data, origin, chain);
        if self.on.accounts {
            let mut found = Vec::new();
            super::accounts::account_files(data, |start, end| found.push((start, end)));
            for (start, end) in found {
                self.report("account-file", &data[start..end], origin.at(start), chain);
            }
        }
        let mut operators = Vec::new();
        let password_word = self.on.generic && assignment_operators(data, &mut operators);
        let mut runs = Vec::new();
        for_each_run(data, |start, end| runs.push((start, end)));
        // Runs with letters beyond hex, for the disguises' cues.
        let mut worded = Vec::new();
        for &(start, end) in &runs {
            let assigned = !operators.is_empty() && follows_operator(data, &operators, start);
            if !self.run(data, start, end, assigned, origin, chain) {
                worded.push((start, end));
            }
        }
        self.wrapped(data, &runs, origin, chain);
        self.joined(data, &runs, origin, chain);
        self.split_tokens(data, origin, chain);
        self.disguised(data, &runs, &worded, origin, chain);
        self.tokens(data, origin, chain);
        self.hex_lists(data, origin, chain);
        self.number_lists(data, origin, chain);
        let mut texts = Vec::new();
        super::decode::base85::base85_texts(data, |at, bytes| texts.push((at, bytes)));
        for (at, bytes) in texts {
            self.blob(bytes, Encoding::Base85, origin.child(at), chain);
        }
        if has_soft_break(data) {
            if let Some(decoded) = quoted_printable(data) {
                self.descend(decoded, Encoding::QuotedPrintable, origin.child(0), chain);
            }
        }
        self.optional_shapes(data, origin, chain);
        let cues = Cues::of(data);
        if self.on.generic {
            let mut found = Vec::new();
            if cues.values {
                keyed_attributes(data, |start, end| found.push((start, end)));
            }
            csv_columns(data, |start, end| found.push((start, end)));
            cookie_jar_values(data, |start, end| found.push((start, end)));
            if cues.values {
                named_values(data, |start, end| found.push((start, end)));
            }
            if cues.sql {
                sql_inserts(data, |start, end| found.push((start, end)));
            }
            if cues.clients {
                command_line_passwords(data, |start, end| found.push((start, end)));
            }
            named_in_prose(data, |start, end| found.push((start, end)));
            spoken_keys(data, |start, end| found.push((start, end)));
            keys_in_calls(data, |start, end| found.push((start, end)));
            base64_elements(data, |start, end| found.push((start, end)));
            setup_file_passwords(data, |start, end| found.push((start, end)));
            if cues.errors {
                quoted_in_errors(data, |start, end| found.push((start, end)));
            }
            if password_word || !data.is_ascii() {
                spoken_passwords(data, |start, end| found.push((start, end)));
            }
            self.generic_found(data, found, origin, chain);
        }
        if cues.lookups && self.scope.detectors.contains("dns-exfiltration") {
            let mut hosts = Vec::new();
            super::surface::looked_up_hosts(data, |start, end| hosts.push((start, end)));
            for (start, end) in hosts {
                let host = String::from_utf8_lossy(&data[start..end]);
                let judged = self.engine.scan_hostname(self.scope, &host);
                if judged.findings.iter().any(|f| f.detector == "dns-exfiltration") {
                    self.report("dns-exfiltration", &data[start..end], origin.at(start), chain);
                }
            }
        }
        if !operators.is_empty() {
            let mut found = Vec::new();
            punctuated_assignments(data, &operators, |start, end| found.push((start, end)));
            self.generic_found(data, found, origin, chain);
        }
    }

    /// `generic-secret` findings at their spans, but for tokens public by design.
    fn generic_found(
        &mut self,
        data: &[u8],
        found: Vec<(usize, usize)>,
        origin: Origin,
        chain: &EncodingChain,
    ) {
        let explained = |s: usize, e: usize| {
            public_at(data, s, e) || encoded_json(&data[s..e]) || encrypted_on_purpose(data, s, e)
        };
        for (start, end) in found.into_iter().filter(|&(s, e)| !explained(s, e)) {
            self.report("generic-secret", &data[start..end], origin.at(start), chain);
        }
    }

    /// Whether this walk judges a header named for a digest (`X-Client-Cert-Fingerprint`,
    /// `Content-Digest`, `X-Checksum-Sha256`): its name labels the bytes, as text before them
    /// would.
    fn digest_header(&self) -> bool {
        let Place::Fixed(Location::Header(name)) = &self.place else {
            return false;
        };
        ["fingerprint", "thumbprint", "digest", "checksum", "hash", "sha"]
            .iter()
            .any(|w| name.contains(w))
    }

    fn rules(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        let mut hits: Vec<Hit> = Vec::new();
        self.engine.rules.scan(data, self.scope.detectors, &mut hits);
        for hit in hits {
            self.report_as(
                detector_id(hit.detector),
                &data[hit.start..hit.end],
                origin.at(hit.start),
                chain,
                hit.confidence,
            );
        }
    }

    fn known(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        if !self.on.known {
            return;
        }
        let sets = self.scope.known;
        let mut hits = Vec::new();
        for set in sets {
            hits.clear();
            set.scan(data, &mut hits);
            for hit in &hits {
                let chain = hit.encoding.map_or_else(|| chain.clone(), |e| chain.then(e));
                let value = set.value(hit.value).expose();
                self.report("known-secret", value, origin.at(hit.start), &chain);
            }
        }
    }

    /// One run; `assigned` when it follows an operator after a name that may be a credential's.
    /// Returns whether the run is hex digits and dashes only (`0x` aside).
    fn run(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        assigned: bool,
        origin: Origin,
        chain: &EncodingChain,
    ) -> bool {
        let run = &data[start..end];
        if self.on.generic
            && assigned
            && generic_assignment(data, start, end)
            && !encoded_json(run)
            && !encrypted_on_purpose(data, start, end)
        {
            let value = run
                .strip_suffix(b"==")
                .or_else(|| run.strip_suffix(b"="))
                .unwrap_or(run);
            self.report("generic-secret", value, origin.at(start), chain);
        }
        if self.on.vendor {
            let mut found = Vec::new();
            super::shapes::mailgun_keys(run, |s, e| found.push((s, e)));
            for (s, e) in found {
                self.report("vendor-token", &run[s..e], origin.at(start + s), chain);
            }
        }
        if self.on.vendor {
            if let Some(token_end) = super::shapes::discord_token(data, start, end) {
                self.report("vendor-token", &data[start..token_end], origin.at(start), chain);
            }
        }
        if self.on.twilio {
            if let Some((s, e)) = super::shapes::twilio_pair(data, start, end) {
                self.report("twilio-key", &data[s..e], origin.at(s), chain);
            }
        }
        if self.on.aws && super::shapes::aws_secret_shape(data, start, end) {
            self.report_as("aws-access-key", run, origin.at(start), chain, Confidence::Low);
        }
        // Twilio keys start `SK`; WIF keys are 51 characters or more. Other runs skip the split.
        let twilio = self.on.twilio
            && run.len() >= 34
            && memchr::memchr_iter(b'S', run).any(|at| run.get(at + 1) == Some(&b'K'));
        let wif = self.on.crypto && run.len() >= 51;
        let address = self.on.bitcoin || self.on.ethereum;
        for (at, piece) in pieces(run).filter(|_| twilio || wif || address) {
            if self.on.twilio && twilio_key(piece) {
                self.report("twilio-key", piece, origin.at(start + at), chain);
            }
            if self.on.crypto && wif_key(piece) {
                self.report("crypto-private-key", piece, origin.at(start + at), chain);
            }
            if address {
                self.address(piece, origin.at(start + at), chain);
            }
        }
        // One look at the alphabet decides which decoders can apply: UUIDs and hashes (hex
        // digits and dashes only) are the commonest runs and decode to nothing.
        let digits = run.strip_prefix(b"0x").unwrap_or(run);
        let hex_or_dash = digits.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-');
        let has_dash = hex_or_dash && run.contains(&b'-');
        let decoded = if !hex_or_dash {
            decode_run(run)
                .map(|d| (d, Encoding::Base64))
                .or_else(|| decode_base32_run(run).map(|d| (d, Encoding::Base32)))
        } else if !has_dash {
            decode_hex_run(run).map(|d| (d, Encoding::Hex))
        } else {
            decode_delimited_hex(run).map(|d| (d, Encoding::Hex))
        };
        let whole = decoded.is_some();
        if let Some((bytes, encoding)) = decoded {
            self.blob(bytes, encoding, origin.child(start), chain);
        }
        // Runs take in `/` (base64 has it): a path's segments of hex or base64
        // (`/t/<hex>.gif`, `/fonts/<base64>/logo.png`) are decoded one by one as well, when the
        // run as a whole did not decode.
        if !hex_or_dash && !whole && memchr::memchr(b'/', run).is_some() {
            let mut at = 0;
            for piece in run.split(|&b| b == b'/') {
                let piece_at = at;
                at += piece.len() + 1;
                let segment = if piece.len() >= 32 && piece.iter().all(u8::is_ascii_hexdigit) {
                    decode_hex_run(piece).map(|d| (d, Encoding::Hex))
                } else if piece.len() >= MIN_RUN && piece.len() < run.len() {
                    decode_run(piece).map(|d| (d, Encoding::Base64))
                } else {
                    None
                };
                if let Some((bytes, encoding)) = segment {
                    self.blob(bytes, encoding, origin.child(start + piece_at), chain);
                }
            }
        }
        hex_or_dash
    }

    /// A Bitcoin or Ethereum address, when those detectors are on.
    fn address(&mut self, piece: &[u8], offset: u64, chain: &EncodingChain) {
        if self.on.bitcoin && (finance::bitcoin_base58(piece) || finance::bitcoin_segwit(piece)) {
            self.report_as("bitcoin-address", piece, offset, chain, Confidence::Verified);
        }
        if self.on.ethereum {
            if let Some(checked) = finance::ethereum(piece) {
                let confidence = if checked {
                    Confidence::Verified
                } else {
                    Confidence::High
                };
                self.report_as("ethereum-address", piece, offset, chain, confidence);
            }
        }
    }

    /// Base64 wrapped over lines of equal length (`base64` and MIME wrap at 76), joined and
    /// decoded as one: a secret may straddle a line break.
    fn wrapped(&mut self, data: &[u8], runs: &[(usize, usize)], origin: Origin, chain: &EncodingChain) {
        let mut i = 0;
        while i < runs.len() {
            let width = runs[i].1 - runs[i].0;
            let mut j = i;
            while j + 1 < runs.len()
                && runs[j].1 - runs[j].0 == width
                && is_line_break(&data[runs[j].1..runs[j + 1].0])
            {
                j += 1;
            }
            if j > i && is_wrap_width(width) {
                let joined: Vec<u8> = runs[i..=j]
                    .iter()
                    .flat_map(|&(s, e)| data[s..e].iter().copied())
                    .collect();
                if let Some(bytes) = decode_run(&joined) {
                    self.blob(bytes, Encoding::Base64, origin.child(runs[i].0), chain);
                }
            }
            i = j + 1;
        }
    }

    /// Data cut into pieces of one length and spread over consecutive fields (JSON values,
    /// query parameters, cookies, XML elements: runs with at most 16 bytes of separator between
    /// them and every piece but the last as long as the first): joined, and walked as one
    /// layer, so a token or an encoding split over fields is whole again. Values that merely
    /// sit side by side seldom share a length; those that do (UUIDs, digests) join into
    /// nothing a detector takes.
    fn joined(&mut self, data: &[u8], runs: &[(usize, usize)], origin: Origin, chain: &EncodingChain) {
        // Pieces of a join are not joined again.
        if chain.steps().contains(&Encoding::Joined) {
            return;
        }
        let mut i = 0;
        while i < runs.len() {
            let width = runs[i].1 - runs[i].0;
            let mut j = i;
            while j + 1 < runs.len()
                && runs[j].1 - runs[j].0 == width
                && runs[j + 1].0 - runs[j].1 <= 16
                && runs[j + 1].1 - runs[j + 1].0 <= width
            {
                j += 1;
            }
            // A placeholder or words are a value of their own (`xoxb-your-token-here`).
            let pieces = || runs[i..=j].iter().map(|&(s, e)| &data[s..e]);
            let plain = || pieces().all(|p| !is_placeholder(p) && !super::entropy::joined_words(p));
            if j > i && width <= 128 && plain() {
                let joined: Vec<u8> = pieces().flatten().copied().collect();
                self.descend(joined, Encoding::Joined, origin.child(runs[i].0), chain);
            }
            i = j + 1;
        }
    }

    /// A value that begins with a vendor prefix but is too short to be its token, joined with
    /// the sibling values after it (or before it, pieces in reverse order) in pieces of any
    /// length: the rules judge each join of one more piece, and the longest they find a token
    /// in is reported, at the prefix.
    fn split_tokens(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        if chain.steps().contains(&Encoding::Joined) {
            return;
        }
        let (rules, detectors) = (&self.engine.rules, self.scope.detectors);
        let mut found = Vec::new();
        super::split::split_tokens(data, |split| {
            let mut hits = Vec::new();
            let mut longest = None;
            for &end in &split.ends {
                hits.clear();
                rules.scan(&split.joined[..end], detectors, &mut hits);
                if !hits.is_empty() {
                    longest = Some(std::mem::take(&mut hits));
                }
            }
            let Some(hits) = longest else {
                return false;
            };
            for hit in hits {
                found.push((
                    split.start,
                    hit.detector,
                    split.joined[hit.start..hit.end].to_vec(),
                    hit.confidence,
                ));
            }
            true
        });
        // Arrays of short strings, joined whole: a token in chunks, its prefix cut too.
        super::split::string_arrays(data, |start, joined| {
            let mut hits = Vec::new();
            rules.scan(joined, detectors, &mut hits);
            for hit in hits {
                found.push((
                    start,
                    hit.detector,
                    joined[hit.start..hit.end].to_vec(),
                    hit.confidence,
                ));
            }
        });
        let chain = chain.then(Encoding::Joined);
        for (start, detector, value, confidence) in found {
            self.report_as(
                detector_id(detector),
                &value,
                origin.at(start),
                &chain,
                confidence,
            );
        }
    }

    /// The layer rotated back or read backwards when a cue so disguised stands beside one of
    /// its runs (once in a chain), and runs XORed with a key it states undone; values cut
    /// into labelled parts, and string literals concatenated, joined.
    fn disguised(
        &mut self,
        data: &[u8],
        runs: &[(usize, usize)],
        worded: &[(usize, usize)],
        origin: Origin,
        chain: &EncodingChain,
    ) {
        let steps = chain.steps();
        if !steps
            .iter()
            .any(|e| matches!(e, Encoding::Rot13 | Encoding::Reversed))
        {
            for disguise in disguise::cued(data, worded) {
                let encoding = match disguise {
                    Disguise::Rot13 => Encoding::Rot13,
                    Disguise::Reversed => Encoding::Reversed,
                };
                self.descend(disguise.apply(data), encoding, origin.child(0), chain);
            }
        }
        if !steps.contains(&Encoding::Xor) {
            for (at, plain) in disguise::stated_xor(data, runs) {
                self.descend(plain, Encoding::Xor, origin.child(at), chain);
            }
        }
        if !steps.contains(&Encoding::Joined) {
            for (at, joined) in super::ordered::ordered_pieces(data) {
                let origin = origin.child(at);
                self.disguised_tokens(&joined, origin, &chain.then(Encoding::Joined));
                self.descend(joined, Encoding::Joined, origin, chain);
            }
            if let Some((at, joined)) = disguise::labelled_parts(data) {
                self.descend(joined, Encoding::Joined, origin.child(at), chain);
            }
            for (at, joined) in disguise::concatenations(data) {
                self.descend(joined, Encoding::Joined, origin.child(at), chain);
            }
            if let Some((at, bound)) = super::graphql::bindings(data) {
                self.descend(bound, Encoding::Joined, origin.child(at), chain);
            }
        }
    }

    /// Decoded bytes from base64 or hex: compressed data is inflated, text is walked, and
    /// anything else (images, random ids) is dropped.
    fn blob(&mut self, bytes: Vec<u8>, encoding: Encoding, origin: Origin, chain: &EncodingChain) {
        if self.on.private_key && keys::binary_private_key(&bytes) {
            self.report("private-key", &bytes, origin.at(0), &chain.then(encoding));
            return;
        }
        if zip::is_zip(&bytes) {
            self.sniffed(&bytes, Sniffed::Zip, origin.at(0), &chain.then(encoding));
            return;
        }
        if let Some(codec) = sniff_compression(&bytes) {
            let limit = self.engine.limits.max_inflated.min(self.budget);
            match inflate(codec, &bytes, limit) {
                Ok(inflated) => {
                    let chain = chain.then(encoding);
                    self.descend(inflated, codec_encoding(codec), origin, &chain);
                }
                Err(InflateError::TooLarge) => self.unjudged(Unjudged::DecompressionBomb { limit }),
                // Looked compressed but is not: judge it as what it is.
                Err(InflateError::Corrupt) if is_meaningful(&bytes) => {
                    self.descend(bytes, encoding, origin, chain)
                }
                Err(InflateError::Corrupt) => {}
            }
            return;
        }
        if let Some(text) = unicode::utf16(&bytes) {
            self.descend(text, Encoding::Unicode, origin, &chain.then(encoding));
            return;
        }
        if is_meaningful(&bytes) {
            // Text under an encoding may be rotated as well (ROT13 is the oldest way to hide
            // words from a reader): small decoded texts are walked rotated back, once.
            let letters = || bytes.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 16;
            if bytes.len() <= ROT13_MAX && !chain.steps().contains(&Encoding::Rot13) && letters() {
                let rotated = rot13(&bytes);
                self.descend(rotated, Encoding::Rot13, origin, &chain.then(encoding));
            }
            self.descend(bytes, encoding, origin, chain);
        }
    }

    pub(crate) fn descend(
        &mut self,
        bytes: Vec<u8>,
        encoding: Encoding,
        origin: Origin,
        chain: &EncodingChain,
    ) {
        let depth = chain.depth() + 1;
        if depth > self.engine.limits.max_depth {
            self.unjudged(Unjudged::TooDeep {
                depth: self.engine.limits.max_depth,
            });
            return;
        }
        if bytes.len() > self.budget {
            self.unjudged(Unjudged::TooLarge {
                limit: self.engine.limits.max_decoded,
            });
            return;
        }
        self.budget -= bytes.len();
        let chain = chain.then(encoding);
        if tar::is_tar(&bytes) {
            // A text file in the archive is judged below, with the layer; a binary one only
            // as itself (a DER key, a keytab, an archive inside).
            let binary: Vec<(usize, Vec<u8>)> = tar::members(&bytes)
                .into_iter()
                .filter(|(_, member)| !is_texty(member, 85))
                .map(|(at, member)| (at, member.to_vec()))
                .collect();
            for (at, member) in binary {
                self.blob(member, Encoding::Tar, origin.child(at), &chain);
            }
        }
        self.layer(&bytes, origin, &chain);
    }

    /// Tokens holding `%XX`, backslash escapes or non-ASCII characters are decoded whole.
    fn tokens(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        let mut next = 0;
        // The first of the `\u`/`\x` escapes, and how many there are.
        let mut spelled = (None, 0);
        for at in memchr::memchr2_iter(b'%', b'\\', data) {
            if data[at] == b'\\' && matches!(data.get(at + 1), Some(b'u' | b'x')) {
                spelled.0.get_or_insert(at);
                spelled.1 += 1;
            }
            if at < next || (data[at] == b'%' && !percent::is_escape_at(data, at)) {
                continue;
            }
            let (start, end) = token_around(data, at);
            next = end;
            let token = &data[start..end];
            if let Some(decoded) = percent::decode(token) {
                self.descend(decoded, Encoding::Percent, origin.child(start), chain);
            }
            // A form field: `+` is a space (a PEM armour line arrives with `+` between its words).
            if let Some(decoded) = percent::decode_form(token) {
                self.descend(decoded, Encoding::Percent, origin.child(start), chain);
            }
            if let Some(decoded) = unescape(token) {
                self.descend(decoded, Encoding::Escape, origin.child(start), chain);
            }
        }
        // Escapes that spell characters one by one (`\u0056B\u0036F…`, `&#107;&#101;…`) may
        // cover part of a value, or its name and not the value: the whole layer is decoded too,
        // so that name and value meet again.
        // So with text escaped into a string (a config file, a CSV or markup inside a JSON
        // string: `\n`, `\"`): the layout it had, names beside values, is read unescaped.
        let escaped_text = || {
            let mut escapes =
                memchr::memchr_iter(b'\\', data).filter(|&at| matches!(data.get(at + 1), Some(b'n' | b'"')));
            let first = escapes.next()?;
            escapes.next().map(|_| first)
        };
        let whole = match spelled {
            (Some(first), 4..) => Some(first),
            _ => escaped_text(),
        };
        if let Some(first) = whole {
            if let Some(decoded) = unescape(data) {
                self.descend(decoded, Encoding::Escape, origin.child(first), chain);
            }
        }
        // So with percent escapes of letters and digits, which no encoder writes
        // (`Bearer %77%79%6B…`), or of escapes (`value="%2534%2537…"`).
        let hidden = percent::encoded_unreserved(data, 8)
            .map(|(first, _)| first)
            .or_else(|| {
                let mut again = memchr::memmem::find_iter(data, b"%25");
                let first = again.next()?;
                (again.take(7).count() == 7).then_some(first)
            });
        if let Some(first) = hidden {
            if let Some(decoded) = percent::decode(data) {
                let origin = origin.child(first);
                self.disguised_tokens(&decoded, origin, &chain.then(Encoding::Percent));
                self.descend(decoded, Encoding::Percent, origin, chain);
            }
        }
        // So with markup escaped into markup (`&lt;RSAKeyValue&gt;&lt;Modulus&gt;…` in an XML
        // config): two escaped tags or more.
        let escaped_markup = || {
            let mut tags = memchr::memmem::find_iter(data, b"&lt;");
            let first = tags.next()?;
            tags.next().map(|_| first)
        };
        let refs = memchr::memmem::find(data, b"&#").filter(|_| has_char_refs(data, 4));
        if let Some(first) = refs.or_else(escaped_markup) {
            if let Some(decoded) = char_refs(data) {
                self.descend(decoded, Encoding::CharRef, origin.child(first), chain);
            }
        }
        // Folding applies to the whole layer: a disguised secret may span tokens
        // (a zero-width space inside the dashes that open a PEM block).
        // `is_ascii` works a word at a time; the position search runs only when it fails.
        let first = (!data.is_ascii())
            .then(|| data.iter().position(|&b| b >= 0x80))
            .flatten();
        if let Some(first) = first {
            if let Some(folded) = unicode::fold(data) {
                self.descend(folded, Encoding::Unicode, origin.child(first), chain);
            }
        }
    }

    /// Hex bytes written one at a time with a delimiter (`de:ad:be:ef`, `\xde\xad`,
    /// `0xde, 0xad`), looked for only inside stretches of hex digits and delimiters: what they
    /// decode to is walked, and 16 bytes or more that are not text (nor a fingerprint's colon
    /// form) are `delimited-hex` data in their own right.
    fn hex_lists(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        let mut lists = Vec::new();
        let mut stretch = |from: usize, to: usize| {
            // Eight delimited bytes need seven delimiters: UUIDs (four) and hashes (none) are
            // not lists, and are not parsed as one.
            let delimiters = data[from..to].iter().filter(|b| !b.is_ascii_hexdigit()).count();
            if delimiters < 7 {
                return;
            }
            // One byte before, so the boundary check sees the neighbour.
            let from = from.saturating_sub(1);
            hex_lists(&data[from..to], 8, |mut list| {
                list.start += from;
                lists.push(list);
            });
        };
        for_each_hex_list_stretch(data, &mut stretch);
        for_each_dotted_hex_stretch(data, &mut stretch);
        // A hex dump (`xxd`, `hexdump -C`, `od`) is a layout people print bytes in to look at
        // them: an offset column, fixed groups, most often the text beside. Its shape says
        // nothing about what the bytes are, so a dump is judged by its bytes, not by being hex:
        // decoded and walked whatever they are (text, compressed data, a key file, strings
        // inside a binary), so a secret file dumped out is caught by what it holds. What a dump
        // can carry past this is opaque bytes (ciphertext, an image's pixels), which base64 in
        // a body carries as well; and it costs four times the bytes to send.
        if memchr::memmem::find(data, b"0000000").is_some() {
            if let Some((at, _, bytes)) = hexdump(data) {
                self.dumped(bytes, origin.child(at), chain);
            }
        }
        for list in lists {
            // A row of a dump (its line opens with an offset) is judged as the dump's bytes: the
            // dump above when its lines are whole here, the layer below when it arrived escaped
            // in a string (`\n` between its rows), where the rows are joined again.
            let row = dump_row(data, list.start);
            let data_like = self.on.delimited_hex
                && !row
                && list.bytes.len() >= 16
                && hex_data(&list.bytes)
                && (!is_fingerprint(&list) || named_as_key(data, list.start))
                && !labelled_digest(data, list.start)
                && !self.digest_header()
                && !array_name(data, list.start).is_some_and(names_a_table)
                && (varied(&list.bytes) || is_meaningful(&list.bytes));
            if data_like {
                self.report_as(
                    "delimited-hex",
                    &list.bytes,
                    origin.at(list.start),
                    chain,
                    Confidence::Low,
                );
            }
            self.blob(list.bytes, Encoding::Hex, origin.child(list.start), chain);
        }
    }

    /// Lists of numbers in code: characters are walked as text, bytes as decoded bytes are
    /// (a DER key among them is a private key). Two shapes are key material by themselves: a
    /// bracketed list of exactly 64 bytes, the keypair file Solana's tools write (secret and
    /// public key), and 16 varied bytes or more under a key's name (`byte[] KEY = {…}`).
    fn number_lists(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        let mut lists = Vec::new();
        // Lists of `0x` pairs on one line are the hex-list reader's; over several lines its
        // lists end at each line, so they are read here too.
        number_lists(data, 8, |list| {
            if !list.hex_pairs || memchr::memchr(b'\n', &data[list.open..list.end]).is_some() {
                lists.push(list);
            }
        });
        bare_lists(data, |list| lists.push(list));
        for list in lists {
            let at = origin.child(list.open);
            let bytes = list.bytes();
            if let Some(bytes) = &bytes {
                let keypair =
                    self.on.crypto && bytes.len() == 64 && data[list.open] == b'[' && half_distinct(bytes);
                if keypair {
                    self.report("crypto-private-key", bytes, origin.at(list.open), chain);
                }
                let named = array_name(data, list.open + 1).is_some_and(names_key_material);
                if self.on.generic && named && bytes.len() >= 16 && varied(bytes) && !keypair {
                    self.report("generic-secret", bytes, origin.at(list.open), chain);
                }
            }
            match (list.text(), bytes) {
                (Some(text), _) if super::decode::is_texty(&text, 85) => {
                    self.descend(text, Encoding::Numbers, at, chain)
                }
                (_, Some(bytes)) => self.blob(bytes, Encoding::Numbers, at, chain),
                _ => {}
            }
        }
    }

    /// The bytes of a hex dump, walked whatever they are: text, compressed data and key files
    /// as [`Self::blob`] takes them, and binary bytes too (a binary's strings can hold a key).
    fn dumped(&mut self, bytes: Vec<u8>, origin: Origin, chain: &EncodingChain) {
        let by_blob = is_meaningful(&bytes)
            || sniff_compression(&bytes).is_some()
            || (self.on.private_key && keys::binary_private_key(&bytes));
        if by_blob {
            self.blob(bytes, Encoding::Hex, origin, chain);
        } else {
            self.descend(bytes, Encoding::Hex, origin, chain);
        }
    }

    fn wanted_ids(&self) -> identity::Wanted {
        identity::Wanted {
            ssn: self.on.ssn,
            national: self.on.national,
        }
    }

    /// A header whose name names an identity number (`X-Customer-SSN`, `X-Passport-No`): its
    /// value is judged with the name before it, as a field's value is.
    pub(crate) fn named_header(&mut self, name: &str, value: &[u8]) {
        if !(self.on.ssn || self.on.national) || !identity::names_one(name.as_bytes(), self.wanted_ids()) {
            return;
        }
        let mut text = Vec::with_capacity(name.len() + 2 + value.len());
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value);
        let mut found = Vec::new();
        identity::named_ids(&text, self.wanted_ids(), |detector, start, end| {
            found.push((detector, start, end))
        });
        for (detector, start, end) in found {
            self.report(detector, &text[start..end], 0, &EncodingChain::default());
        }
    }

    fn optional_shapes(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        if self.on.card {
            let mut found = Vec::new();
            for_each_card_stretch(data, |from, to| {
                // Bytes either side, so the boundary checks see the neighbours (two before:
                // track 1 opens `%B`).
                let from = from.saturating_sub(2);
                let to = (to + 1).min(data.len());
                cards(&data[from..to], |start, _, digits| {
                    found.push((from + start, digits.to_vec()))
                });
            });
            for (start, digits) in found {
                self.report("payment-card", &digits, origin.at(start), chain);
            }
        }
        if self.on.ssn {
            let mut found = Vec::new();
            finance::us_ssns(data, |start, end| found.push((start, end)));
            for (start, end) in found {
                self.report("us-ssn", &data[start..end], origin.at(start), chain);
            }
        }
        if self.on.national {
            let mut found = Vec::new();
            identity::passport_mrz_lines(data, |start, end| found.push((start, end)));
            for (start, end) in found {
                self.report("national-id", &data[start..end], origin.at(start), chain);
            }
        }
        if self.on.ssn || self.on.national {
            let mut found = Vec::new();
            identity::named_ids(data, self.wanted_ids(), |detector, start, end| {
                found.push((detector, start, end))
            });
            for (detector, start, end) in found {
                self.report(detector, &data[start..end], origin.at(start), chain);
            }
        }
        if self.on.iban {
            let mut found = Vec::new();
            for_each_iban_stretch(data, |from, to| {
                let from = from.saturating_sub(1);
                let to = (to + 1).min(data.len());
                finance::ibans(&data[from..to], |start, iban| {
                    found.push((from + start, iban.to_vec()))
                });
            });
            for (start, iban) in found {
                self.report_as("iban", &iban, origin.at(start), chain, Confidence::Verified);
            }
        }
        if self.on.seed {
            let mut found = Vec::new();
            for_each_phrase_stretch(data, |from, to| {
                let stretch = &data[from..to];
                self.engine.seeds.phrases(stretch, |start, end, checked| {
                    found.push((from + start, from + end, checked))
                });
            });
            for (start, end, checked) in found {
                let confidence = if checked {
                    Confidence::Verified
                } else {
                    Confidence::High
                };
                self.report_as(
                    "seed-phrase",
                    &data[start..end],
                    origin.at(start),
                    chain,
                    confidence,
                );
            }
        }
    }

    /// A whole request body: content-encodings undone, then walked; multipart parts with a
    /// transfer encoding are decoded as a whole.
    pub(crate) fn body(&mut self, body: &[u8], content_encoding: Option<&str>, content_type: Option<&str>) {
        let mut data = Cow::Borrowed(body);
        let mut chain = EncodingChain::default();
        let codings: Vec<&str> = content_encoding
            .map(|h| {
                h.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("identity"))
                    .collect()
            })
            .unwrap_or_default();
        if codings.is_empty() {
            if let Some(sniffed) = super::decode::sniff_body(body, content_type) {
                return self.sniffed_body(body, sniffed);
            }
        }
        for token in codings.iter().rev() {
            let Some(codec) = Codec::from_header(token) else {
                self.unjudged(Unjudged::Undecodable);
                return;
            };
            let limit = self.engine.limits.max_inflated;
            match inflate(codec, &data, limit) {
                Ok(inflated) => data = Cow::Owned(inflated),
                Err(InflateError::TooLarge) => return self.unjudged(Unjudged::DecompressionBomb { limit }),
                Err(InflateError::Corrupt) => return self.unjudged(Unjudged::Undecodable),
            }
            chain = chain.then(codec_encoding(codec));
        }
        // Parts first, so that a secret inside one is reported with `multipart` in its chain;
        // the whole body is still walked for what lies outside the parts (their headers).
        if let Some(boundary) = content_type.and_then(boundary) {
            self.multipart(&data, &boundary, &chain);
        }
        // A form body is a query string: random data in its values is judged as a URL's is.
        let form = content_type
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if form && self.scope.detectors.contains("high-entropy") {
            let mut tokens = Vec::new();
            super::entropy::in_query(&data, |t| tokens.push(t.to_vec()));
            for token in tokens {
                self.report_as("high-entropy", &token, 0, &chain, Confidence::Low);
            }
        }
        self.layer(&data, Origin::Exact(0), &chain);
    }

    /// A whole body sent without a `Content-Encoding` whose first bytes say it is compressed
    /// (or an archive): decoded within the same bounds as a declared coding. Bytes that only
    /// look compressed are judged as they are.
    pub(crate) fn sniffed_body(&mut self, body: &[u8], sniffed: Sniffed) {
        self.sniffed(body, sniffed, 0, &EncodingChain::default());
    }

    /// Compressed bytes or an archive at body offset `offset` (a whole body, or a file in a
    /// multipart part), under `chain`.
    fn sniffed(&mut self, body: &[u8], sniffed: Sniffed, offset: u64, chain: &EncodingChain) {
        let limit = self.engine.limits.max_inflated.min(self.budget);
        match sniffed {
            Sniffed::Stream(codec) => match inflate(codec, body, limit) {
                Ok(inflated) => self.descend(inflated, codec_encoding(codec), Origin::Span(offset), chain),
                Err(InflateError::TooLarge) => self.unjudged(Unjudged::DecompressionBomb { limit }),
                Err(InflateError::Corrupt) => self.layer(body, Origin::Exact(offset), chain),
            },
            Sniffed::Zip => {
                let read = zip::entries(body, limit);
                for (at, content) in read.decoded {
                    self.descend(content, Encoding::Zip, Origin::Span(offset + at as u64), chain);
                }
                match read.unreadable {
                    Some(InflateError::TooLarge) => self.unjudged(Unjudged::DecompressionBomb { limit }),
                    Some(InflateError::Corrupt) => self.unjudged(Unjudged::Undecodable),
                    None => {}
                }
                // File names and comments travel in the clear.
                self.layer(body, Origin::Exact(offset), chain);
            }
        }
    }

    /// Random data a disguise was put on (percent escapes of letters and digits, which no
    /// encoder writes; a value cut into numbered fields): the disguise says it is meant to
    /// pass unseen, so each unexplained token in it is `high-entropy`, as one in a URL's
    /// query is, where a bare token in a body would not be judged for randomness alone.
    fn disguised_tokens(&mut self, data: &[u8], origin: Origin, chain: &EncodingChain) {
        if !self.scope.detectors.contains("high-entropy") {
            return;
        }
        let mut tokens = Vec::new();
        for_each_run(data, |start, end| {
            if (24..=1024).contains(&(end - start)) && super::entropy::unexplained(&data[start..end]) {
                tokens.push((start, end));
            }
        });
        for (start, end) in tokens {
            self.report_as(
                "high-entropy",
                &data[start..end],
                origin.at(start),
                chain,
                Confidence::Low,
            );
        }
    }

    fn multipart(&mut self, data: &[u8], boundary: &str, chain: &EncodingChain) {
        let chain = chain.then(Encoding::Multipart);
        let parts = parts(data, boundary);
        // A value cut into numbered fields is judged joined, and, the cutting being a
        // disguise, random data in the join is judged even with no name or shape.
        for (at, joined) in numbered_fields(&parts) {
            let origin = Origin::Span(at as u64);
            self.disguised_tokens(&joined, origin, &chain.then(Encoding::Joined));
            self.descend(joined, Encoding::Joined, origin, &chain);
        }
        for part in parts {
            let origin = Origin::Span(part.offset as u64);
            // A form field named for a credential holds it whole (`name="password"`, then the
            // value on its own).
            let value = part.content.trim_ascii();
            if let Some(name) = part.field.as_deref().filter(|_| self.on.generic) {
                if part.transfer == Transfer::Identity
                    && value.len() <= 256
                    && !value.contains(&b'\n')
                    && super::shapes::named_credential(name.as_bytes(), value)
                {
                    let at = Origin::Exact(part.offset as u64);
                    self.report("generic-secret", value, at.at(0), &chain);
                }
            }
            match part.transfer {
                // A file uploaded compressed or as an archive (`creds.gz`, `dump.zip`) is
                // opened as a body sent so would be.
                Transfer::Identity => match super::decode::sniff_body(part.content, None) {
                    Some(sniffed) => self.sniffed(part.content, sniffed, part.offset as u64, &chain),
                    None => self.layer(part.content, Origin::Exact(part.offset as u64), &chain),
                },
                Transfer::Base64 => {
                    let compact: Vec<u8> = part
                        .content
                        .iter()
                        .copied()
                        .filter(|b| !b.is_ascii_whitespace())
                        .collect();
                    if let Some(bytes) = decode_run(&compact) {
                        self.blob(bytes, Encoding::Base64, origin, &chain);
                    }
                }
                Transfer::QuotedPrintable => {
                    if let Some(bytes) = quoted_printable(part.content) {
                        self.descend(bytes, Encoding::QuotedPrintable, origin, &chain);
                    }
                }
            }
        }
    }
}

/// Well-known example values are reported with low confidence whatever their detector thinks.
fn confidence_of(value: &[u8], judged: Confidence) -> Confidence {
    if is_well_known(value) {
        Confidence::Low
    } else {
        judged
    }
}

/// A key or certificate fingerprint as people print it: colon- or space-separated bytes of an
/// MD5, SHA-1, SHA-256, SHA-384 or SHA-512 digest. Tools print those bare, never with a `0x`
/// or `\x` in front of each byte: that is how code and exfiltration write bytes.
/// Bytes written out as a delimited hex list that are data: binary; any text of 24 characters
/// or more; otherwise one word mixing letters of both cases and digits (`root:2omU5d2?vovPw3`,
/// a credential spelled byte by byte), not words joined (`quarterly-report-v20`). (Hex dumps
/// are judged by their bytes instead: see [`Walk::dumped`].)
fn hex_data(bytes: &[u8]) -> bool {
    // Bytes, or a text of 24 characters or more: nobody spells a file or a command's output in
    // delimited hex but to hide it.
    if !is_meaningful(bytes) || bytes.len() >= 24 {
        return true;
    }
    let has = |f: fn(&u8) -> bool| bytes.iter().any(f);
    bytes.iter().all(u8::is_ascii_graphic)
        && has(u8::is_ascii_lowercase)
        && has(u8::is_ascii_uppercase)
        && has(u8::is_ascii_digit)
        && !super::entropy::joined_words(bytes)
}

fn is_fingerprint(list: &HexList) -> bool {
    // Colons are how certificate and SSH fingerprints are printed; other delimiters count only
    // when the text before names a digest (`labelled_digest`).
    !list.prefixed && list.delimiter == b":" && matches!(list.bytes.len(), 16 | 20 | 32 | 48 | 64)
}

/// Whether the line before `start` names what follows as a key or secret (`unwrapped data key
/// for tenant 172: EF:2A:…`, `signing_secret=…`): bytes in a fingerprint's colon form are then
/// key material, unless a digest is named too (`key fingerprint is …`, see `labelled_digest`).
fn named_as_key(data: &[u8], start: usize) -> bool {
    let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |i| i + 1);
    let before = data[line_start.max(start.saturating_sub(80))..start].to_ascii_lowercase();
    ["key", "secret", "token", "password"]
        .iter()
        .any(|w| memchr::memmem::find(&before, w.as_bytes()).is_some())
        && memchr::memmem::find(&before, b"public").is_none()
}

/// Hex bytes that the text just before them (the same line or the one above, as `openssl x509
/// -text` prints them) names as a digest, fingerprint, serial or key identifier, which tools
/// print at any length and in any case: `MD5:aa:bb:…` (`ssh-keygen -l -E md5`), `SHA1
/// Fingerprint=`, `Serial Number:`, `X509v3 Subject Key Identifier:`, `keyid:`. The list may
/// start inside its label (the `D5` of `MD5:`), so the label may end a byte or two into it.
fn labelled_digest(data: &[u8], start: usize) -> bool {
    let end = (start + 3).min(data.len());
    let from = start.saturating_sub(80);
    let mut window = &data[from..end];
    // No further back than the line above.
    let breaks: Vec<usize> = memchr::memchr_iter(b'\n', &window[..window.len().min(start - from)]).collect();
    if breaks.len() >= 2 {
        window = &window[breaks[breaks.len() - 2] + 1..];
    }
    let lower = window.to_ascii_lowercase();
    DIGEST_LABELS
        .iter()
        .any(|label| memchr::memmem::find(&lower, label.as_bytes()).is_some())
}

const DIGEST_LABELS: &[&str] = &[
    "fingerprint",
    "thumbprint",
    "md5",
    "sha1",
    "sha-1",
    "sha256",
    "sha-256",
    "sha384",
    "sha512",
    "serial number",
    "serial:",
    "key identifier",
    "keyid:",
    "digest",
    "checksum",
];

/// Bytes as varied as data: at least half of them distinct, and so the steps between
/// neighbours (16 random bytes have 15 or 16 distinct values and steps), so a test pattern
/// (`0x12, 0x34, 0x56, 0x78, 0x90, 0x12, …`) or a table (`0x00, 0x01, 0x02, …`) is not taken
/// for a secret.
fn varied(bytes: &[u8]) -> bool {
    let steps: Vec<u8> = bytes.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    half_distinct(bytes) && half_distinct(&steps)
}

fn half_distinct(bytes: &[u8]) -> bool {
    let mut seen = [false; 256];
    let distinct = bytes
        .iter()
        .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
        .count();
    distinct * 2 >= bytes.len().min(256)
}

fn is_line_break(gap: &[u8]) -> bool {
    gap == b"\n" || gap == b"\r\n"
}

/// Line widths base64 wrappers use: a multiple of four, at least 40.
pub(crate) fn is_wrap_width(width: usize) -> bool {
    width >= 40 && width % 4 == 0
}

/// A quoted-printable soft line break: `=` at the end of a line.
fn has_soft_break(data: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', data).any(|at| match at {
        0 => false,
        1 => data[0] == b'=',
        _ => data[at - 1] == b'=' || (data[at - 1] == b'\r' && data[at - 2] == b'='),
    })
}

fn codec_encoding(codec: Codec) -> Encoding {
    match codec {
        Codec::Gzip => Encoding::Gzip,
        Codec::Deflate => Encoding::Deflate,
        Codec::Brotli => Encoding::Brotli,
        Codec::Zstd => Encoding::Zstd,
    }
}
