//! High-entropy data with no known shape, in URL path segments and query values (the
//! `high-entropy` detector; subdomain labels are `dns-exfiltration`'s). The rule, so that it
//! can be argued about rather than tuned:
//!
//! A token is unexplained data when
//! 1. it is long enough to carry a credential: 32 characters or more (about 190 bits in base62);
//! 2. it looks random in the alphabet it uses: upper case, lower case and digits mixed, and a
//!    Shannon entropy near what a random string of its length has; or, in one case (base32,
//!    base36), digits mixed in, few vowels, and the same entropy test;
//! 3. nothing explains it:
//!    - it is not in the grammar of a common identifier. Hex-only tokens (UUIDs, hashes,
//!      object ids) never qualify; a digest labelled as one (`sha256-…`) is a digest; an id
//!      behind a short lowercase type prefix (`cus_`, `pi_`) is an object id; Google document
//!      ids, YouTube playlists and SigV4 credential scopes have published grammars;
//!    - it is not words joined by separators;
//!    - it does not decode to text, JSON, an image or compressed data. Those are judged by what
//!      they decode to, by every other detector. Nor to a public key (OpenPGP, SSH), which is
//!      published to be copied;
//!    - it is not the value of a query parameter whose name says it carries a protocol nonce,
//!      signature, digest or pagination cursor (`state`, `nonce`, `code_challenge`,
//!      `signature`, `page_token`, `cursor`, ...).
//!
//! Hex-encoded data is therefore not caught here (a hash cannot be told from it); what it
//! decodes to is.

use super::decode::base64::{decode_run, decode_whole};
use super::decode::{is_texty, percent, sniff_compression};
use super::rules::checks::entropy;
use super::runs::is_run_byte;

/// Shortest token judged.
const MIN_LEN: usize = 32;
/// Longest token judged; longer ones are blobs, which the decoders judge.
const MAX_LEN: usize = 1024;

/// Calls `f(token)` for each unexplained token in a URL path (origin form, no query).
pub(crate) fn in_path(path: &[u8], mut f: impl FnMut(&[u8])) {
    // Hex digits of the short segments just before: a digest sharded into directories
    // (`/packages/e5/e0/<60 hex>`, git's `objects/ab/<38 hex>`) is a digest.
    let mut shards = 0;
    let mut chunks = Chunks::default();
    for segment in path.split(|&b| b == b'/') {
        let hex = !segment.is_empty() && segment.iter().all(u8::is_ascii_hexdigit);
        if hex && shards > 0 && matches!(shards + segment.len(), 32 | 40 | 56 | 64 | 96 | 128) {
            shards = 0;
            chunks.flush(&mut f);
            continue;
        }
        shards = if hex && segment.len() <= 4 {
            shards + segment.len()
        } else {
            0
        };
        chunks.push(segment, &mut f);
        if static_asset(segment) {
            // A build's content hash names the file (`app.<hash>.js`, `<hash>.webp`, a font
            // file named by its subset's hash): a name that holds at most a SHA-256 digest's
            // 256 bits in base64url (43 characters), or is a SHA-512 digest's 86, is the file's
            // name, not data, whatever length the naming scheme cuts its hash to. A longer
            // name holds more than one digest and is judged; a shorter one sent to carry data
            // is still charged by the information budget, and whatever it decodes to is
            // judged by the other detectors.
            let mut g = |token: &[u8]| {
                let len = trim_padding(token).len();
                if len > 43 && len != 86 {
                    f(token)
                }
            };
            judge_value(segment, &mut g);
        } else {
            judge_value(segment, &mut f);
        }
    }
    chunks.flush(&mut f);
}

/// Pieces of one encoding in consecutive path segments or query values (`/<20 hex>/<20 hex>/<20 hex>`,
/// `/<16 base64url>/<16 base64url>`): data chunked across directories is judged joined, as one
/// token. Hex needs three pieces, since two digests side by side are common (a commit and a
/// file hash) and three are not. Base64url needs two, each of 12 characters or more with both
/// cases and a digit (a title in camel case is shorter) and no word between its `-` and `_`
/// (`Q3-Planning`, a slug). A segment with a published grammar (an Airtable, Stripe or MongoDB
/// object id) is no piece; one judged data on its own is reported on its own.
#[derive(Default)]
struct Chunks<'a> {
    pieces: Vec<&'a [u8]>,
    hex: bool,
}

impl<'a> Chunks<'a> {
    fn push(&mut self, segment: &'a [u8], f: &mut impl FnMut(&[u8])) {
        let has = |f: fn(&u8) -> bool| segment.iter().any(f);
        // Hex at a digest's length is a digest (a form with a file's MD5, SHA-1 and SHA-256).
        let hex = segment.iter().all(u8::is_ascii_hexdigit)
            && has(u8::is_ascii_digit)
            && has(u8::is_ascii_alphabetic)
            && !matches!(segment.len(), 32 | 40 | 56 | 64);
        let mixed = segment.len() >= 12 && mixed_classes(segment) && !has_word_part(segment);
        let piece = (8..=64).contains(&segment.len())
            && segment
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            && (hex || mixed)
            && !known_id(segment)
            && !type_prefixed(segment)
            && !object_id(segment);
        if !piece || (!self.pieces.is_empty() && hex != self.hex) {
            self.flush(f);
        }
        if piece {
            self.hex = hex;
            self.pieces.push(segment);
        }
    }

    fn flush(&mut self, f: &mut impl FnMut(&[u8])) {
        let enough = if self.hex { 3 } else { 2 };
        if self.pieces.len() >= enough && !self.pieces.iter().any(|p| unexplained(p)) {
            let joined = self.pieces.concat();
            if unexplained(&joined) {
                f(&joined);
            }
        }
        self.pieces.clear();
    }
}

/// A MongoDB ObjectId: 24 hex digits whose first eight are a Unix time, here 2004 to 2029
/// (`4…` to `6…`); ids of several collections side by side are no chunked data.
fn object_id(segment: &[u8]) -> bool {
    segment.len() == 24 && matches!(segment[0], b'4'..=b'6') && segment.iter().all(u8::is_ascii_hexdigit)
}

/// A part between `-` and `_` that is a word of four letters or more, small or capitalised.
fn has_word_part(segment: &[u8]) -> bool {
    segment.split(|b| matches!(b, b'-' | b'_')).any(|part| {
        part.len() >= 4 && part[0].is_ascii_alphabetic() && part[1..].iter().all(u8::is_ascii_lowercase)
    })
}

/// A path segment naming a web page's static asset by its extension: scripts, styles, source
/// maps, fonts, images and WebAssembly, the files bundlers name by content hash.
fn static_asset(segment: &[u8]) -> bool {
    let Some(dot) = segment.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let ext = segment[dot + 1..].to_ascii_lowercase();
    [
        &b"js"[..],
        b"mjs",
        b"cjs",
        b"css",
        b"map",
        b"woff",
        b"woff2",
        b"ttf",
        b"otf",
        b"eot",
        b"svg",
        b"png",
        b"jpg",
        b"jpeg",
        b"gif",
        b"webp",
        b"avif",
        b"ico",
        b"wasm",
    ]
    .contains(&ext.as_slice())
}

/// Calls `f(token)` for each unexplained token in the values of a query string.
pub(crate) fn in_query(query: &[u8], mut f: impl FnMut(&[u8])) {
    // Data chunked across consecutive parameters is judged joined, as in a path.
    let mut chunks = Chunks::default();
    for pair in query.split(|&b| b == b'&') {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (&b""[..], pair),
        };
        let public = public_key_name(name) && value.len() <= PUBLIC_KEY_MAX;
        if carries_nonce(name) || public {
            chunks.flush(&mut f);
        } else {
            chunks.push(value, &mut f);
        }
        // A cache buster or version is a short digest at most; a longer value under such a
        // name is more than one.
        let by_design = carries_nonce(name) && !(short_nonce(name) && value.len() > SHORT_NONCE_MAX);
        if !by_design && !public {
            judge_value(value, &mut f);
        }
        // Data can ride in a parameter's name as well as its value (`?<data>=1`).
        judge_value(name, &mut f);
    }
    chunks.flush(&mut f);
}

fn judge_value(raw: &[u8], f: &mut impl FnMut(&[u8])) {
    // Percent-encoding applied twice or three times (`%252B`) is undone as often.
    let mut decoded: Option<Vec<u8>> = None;
    for _ in 0..3 {
        let current = decoded.as_deref().unwrap_or(raw);
        if !current.contains(&b'%') {
            break;
        }
        match percent::decode(current) {
            Some(next) => decoded = Some(next),
            None => break,
        }
    }
    let value = decoded.as_deref().unwrap_or(raw);
    // A data URL names its own content; images and the like are not secrets.
    if value.starts_with(b"data:") {
        return;
    }
    for token in value.split(|&b| !is_run_byte(b)) {
        if unexplained(token) || carries_a_file(token) {
            f(token);
        }
    }
}

/// Base64 of text of several lines (48 bytes or more, two line breaks or more): a file or a
/// command's output, which a URL's values, being values, do not carry. What it says is judged
/// by the other detectors too; this is the exfiltration of it.
fn carries_a_file(token: &[u8]) -> bool {
    token.len() >= 64
        && decode_run(token).is_some_and(|text| {
            text.len() >= 48 && is_texty(&text, 95) && text.iter().filter(|&&b| b == b'\n').count() >= 2
        })
}

/// Whether one token is random-looking data that no common identifier grammar explains.
pub(crate) fn unexplained(token: &[u8]) -> bool {
    let token = trim_padding(token);
    if !(MIN_LEN..=MAX_LEN).contains(&token.len())
        || type_prefixed(token)
        || known_id(token)
        || address_shaped(token)
        || content_id(token)
    {
        return false;
    }
    let shaped = if token.iter().any(u8::is_ascii_uppercase) && token.iter().any(u8::is_ascii_lowercase) {
        mixed_classes(token) && random_enough(token)
    } else {
        // One case: base32/base36 data, whole (no separators), not at a base32 digest's
        // length (26, 32, 52 characters: 128, 160, 256 bits; also Box and Mailman ids), and
        // not hex behind a prefix or suffix (`0x…u128`): at least four letters past `f`.
        let beyond_hex = token
            .iter()
            .filter(|b| b.is_ascii_alphabetic() && !b.is_ascii_hexdigit())
            .count();
        let base32 = token.iter().all(u8::is_ascii_alphanumeric)
            && !matches!(token.len(), 26 | 32 | 52)
            && beyond_hex >= 4
            && !one_case_id(token)
            && one_case_data(token);
        // Hex longer than a commit id (which links cut to any length up to 40) and at no
        // digest's length (SHA-2 and others: 48, 56, 64, 80, 96, 128) is bytes written out.
        let hex = token.iter().all(u8::is_ascii_hexdigit)
            && token.len() > 40
            && !matches!(token.len(), 40 | 48 | 56 | 64 | 80 | 96 | 128)
            && one_case_data(token);
        base32 || hex
    };
    shaped
        && !joined_words(token)
        && !labelled_digest(token)
        && !token.starts_with(b"eyJ")
        && !decodes_to_something(token)
}

/// An identifier in one case whose alphabet is not RFC 4648 base32 (a `0`, `1`, `8` or `9`
/// among letters: Crockford's base32 as ULIDs write it, base36, OneDrive's and SharePoint's
/// item ids, `01` and 32 characters), no longer than an id: 36 characters, under 190 bits,
/// a 128- or 160-bit id and a few characters of type and version. Data sent in one case is
/// RFC 4648 base32, the one-case encoding libraries and tunnels use, which is still judged
/// (and what it decodes to with it); data in another alphabet beyond an id's length is judged
/// too, and the information budget charges every fresh piece of it, so ids cannot be
/// strung into a channel for free.
fn one_case_id(token: &[u8]) -> bool {
    token.len() <= 36
        && token.iter().any(u8::is_ascii_alphabetic)
        && token.iter().any(|b| matches!(b, b'0' | b'1' | b'8' | b'9'))
}

/// `sha256-…`, `sha512=…`: a digest that says it is one (subresource integrity, npm).
fn labelled_digest(token: &[u8]) -> bool {
    let lower = token.to_ascii_lowercase();
    [&b"sha1"[..], b"sha256", b"sha384", b"sha512", b"md5"]
        .iter()
        .any(|p| lower.starts_with(p) && matches!(lower.get(p.len()), Some(b'-' | b'=' | b'_' | b':')))
}

/// Data in one case (hostnames, base32, base36): letters and digits in about the mix a random
/// string of that alphabet has, few vowels (names are pronounceable), and an entropy within
/// [`ENTROPY_MARGIN`] of a random string over the alphabet it uses (16 for hex, 32 otherwise).
pub(crate) fn one_case_data(token: &[u8]) -> bool {
    one_case_data_of(token, 20, 3)
}

/// [`one_case_data`] with its base32/base36 floor: `min_len` characters, `min_digits` digits.
pub(crate) fn one_case_data_of(token: &[u8], min_len: usize, min_digits: usize) -> bool {
    let compact: Vec<u8> = token
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    let digits = compact.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = compact.len() - digits;
    if compact.iter().all(u8::is_ascii_hexdigit) {
        return compact.len() >= 24
            && digits >= 2
            && letters >= 2
            && entropy(&compact) >= random_entropy(compact.len(), 16) - ENTROPY_MARGIN;
    }
    let vowels = compact
        .iter()
        .filter(|b| matches!(b, b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    compact.len() >= min_len
        && digits >= min_digits
        && vowels * 10 < letters * 3
        && entropy(&compact) >= random_entropy(compact.len(), 32) - ENTROPY_MARGIN
}

/// Data in one case judged by its letters and digits together, for a whole label too short
/// for [`one_case_data_of`]'s separate floors (a 16-character base32 label has three digits on
/// average, and one in six has fewer than two). Two models of the token: random base32/base36
/// (letters uniform, a digit in about 1 of 5 characters) and a name (letters at English
/// frequencies, a digit in 1 of 30); it is data when the first explains its letters and digits
/// better, and its entropy is near a random string's. Hex is left to the hex test.
pub(crate) fn one_case_random(token: &[u8], min_len: usize) -> bool {
    let one_case = token.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        || token.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if token.len() < min_len || !one_case || token.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let lower = token.to_ascii_lowercase();
    let digits = lower.iter().filter(|b| b.is_ascii_digit()).count() as f64;
    let ratio = |p_random: f64, p_name: f64, hits: f64, of: f64| {
        hits * (p_random / p_name).ln() + (of - hits) * ((1.0 - p_random) / (1.0 - p_name)).ln()
    };
    // Each letter: uniform over 26 against English letter frequencies (floored, so that one
    // `q` or `z` in a brand name weighs no more than a few common letters).
    let letters: f64 = lower
        .iter()
        .filter(|b| b.is_ascii_lowercase())
        .map(|&b| (1.0 / 26.0 / ENGLISH[(b - b'a') as usize].max(0.003)).ln())
        .sum();
    let evidence = letters + ratio(0.2, 1.0 / 30.0, digits, lower.len() as f64);
    evidence > 0.0 && entropy(&lower) >= random_entropy(lower.len(), 32) - ENTROPY_MARGIN
}

/// Letter frequencies of English text, `a` to `z`.
const ENGLISH: [f64; 26] = [
    0.082, 0.015, 0.028, 0.043, 0.127, 0.022, 0.020, 0.061, 0.070, 0.0015, 0.0077, 0.040, 0.024, 0.067,
    0.075, 0.019, 0.00095, 0.060, 0.063, 0.091, 0.028, 0.0098, 0.024, 0.0015, 0.020, 0.00074,
];

fn trim_padding(token: &[u8]) -> &[u8] {
    let end = token.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    &token[..end]
}

/// Upper and lower case, two or more of each, and a digit.
fn mixed_classes(token: &[u8]) -> bool {
    let count = |f: fn(&u8) -> bool| token.iter().filter(|b| f(b)).count();
    count(u8::is_ascii_uppercase) >= 2 && count(u8::is_ascii_lowercase) >= 2 && count(u8::is_ascii_digit) >= 1
}

/// Words and numbers joined by `-`, `_`, `/` or `+` (`80-N2040-23_REV_K_User_Guide`,
/// `1326986170-An-Object-is-not-a-Hash`): three or more parts, two thirds of them a number, a
/// word in one case or a capitalised word. Random parts of any length are seldom that.
pub(crate) fn joined_words(token: &[u8]) -> bool {
    let parts: Vec<&[u8]> = token
        .split(|b| matches!(b, b'-' | b'_' | b'/' | b'+'))
        .filter(|p| !p.is_empty())
        .collect();
    // A lone letter is as likely a random part (`…ZM+v`) as a word.
    let word = |p: &[u8]| {
        p.iter().all(u8::is_ascii_digit)
            || (p.len() >= 2
                && (p.iter().all(u8::is_ascii_uppercase)
                    || (p[0].is_ascii_alphabetic() && p[1..].iter().all(u8::is_ascii_lowercase))))
    };
    let words = parts.iter().filter(|p| word(p)).count();
    parts.len() >= 3 && words * 3 >= parts.len() * 2
}

/// The Shannon entropy a random string of `n` characters over `k` symbols has on average (the
/// Miller-Madow estimate: log2 k less the bias of counting only `n` characters).
pub(crate) fn random_entropy(n: usize, k: usize) -> f64 {
    let k = k.min(n.max(1)) as f64;
    f64::log2(k) - (k - 1.0) / (2.0 * n as f64 * std::f64::consts::LN_2)
}

/// How far below that average a random token may fall and still count: at 32 to 100
/// characters, 99% of random base62 strings lie within it; camel-case words fall further.
const ENTROPY_MARGIN: f64 = 0.55;

/// Entropy within [`ENTROPY_MARGIN`] of a random base62 string of the same length.
fn random_enough(token: &[u8]) -> bool {
    entropy(token) >= random_entropy(token.len(), 62) - ENTROPY_MARGIN
}

/// `cus_`, `pi_`, `cs_live_`: an object id behind one or two short lowercase type words.
fn type_prefixed(token: &[u8]) -> bool {
    let word = |t: &[u8]| {
        let n = t.iter().take_while(|b| b.is_ascii_lowercase()).count();
        ((2..=6).contains(&n) && t.get(n) == Some(&b'_')).then_some(n + 1)
    };
    let Some(first) = word(token) else {
        return false;
    };
    let rest = &token[first..];
    let rest = word(rest).map_or(rest, |second| &rest[second..]);
    !rest.contains(&b'_')
}

/// Published id grammars of services whose URLs carry random-looking ids by design: Google
/// Drive, Docs and Forms (`1` and 32 or 43 base64url characters; `1FAIpQL` and 49), YouTube
/// playlists (`PL`, `UU`, `OL`, `RD` and 16 to 32), Twilio resource SIDs, Airtable ids, Notion
/// page ids behind their title, Google account pictures, and the SigV4 credential scope
/// (`AKIA…/20261127/us-east-1/s3/aws4_request`, whose key id the AWS rule judges).
fn known_id(token: &[u8]) -> bool {
    if token.ends_with(b"/aws4_request") || token.ends_with(b"/goog4_request") {
        return true;
    }
    let base64url = |t: &[u8]| {
        t.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    };
    let google = token.starts_with(b"1") && matches!(token.len(), 33 | 44)
        || token.starts_with(b"1FAIpQL") && token.len() == 56;
    let playlist = [&b"PL"[..], b"UU", b"OL", b"RD"]
        .iter()
        .any(|p| token.starts_with(p))
        && (18..=34).contains(&token.len());
    // reCAPTCHA site keys (`6L` and 38 base64url characters): public by design, written into
    // every page that shows the widget (`api.js?render=…`, `data-sitekey`).
    let recaptcha = token.len() == 40 && token.starts_with(b"6L");
    // Twilio resource SIDs: two capitals naming the type (`SM`, `MM`, `AC`, `CA`, `PN`…) and
    // 32 lowercase hex digits.
    let twilio = token.len() == 34
        && token[..2].iter().all(u8::is_ascii_uppercase)
        && token[2..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    // Airtable bases, tables, views, fields, records and shares: a three-letter type and 14
    // base62 characters.
    let airtable = token.len() == 17
        && [
            &b"app"[..],
            b"tbl",
            b"viw",
            b"fld",
            b"rec",
            b"shr",
            b"sel",
            b"usr",
            b"wsp",
        ]
        .iter()
        .any(|p| token.starts_with(p))
        && token.iter().all(u8::is_ascii_alphanumeric);
    // A page title and the page's id, as Notion writes its URLs (`Roadmap-Q4-<32 hex>`): the
    // id is hex, which never qualifies, and the title is words.
    let titled_id = token.len() > 33
        && token[token.len() - 33] == b'-'
        && token[token.len() - 32..].iter().all(u8::is_ascii_hexdigit);
    // Google account pictures (`lh3.googleusercontent.com/a/ACg8oc…`).
    let avatar = token.starts_with(b"ACg8oc");
    twilio || airtable || titled_id || avatar || base64url(token) && (google || playlist || recaptcha)
}

/// Base58 in the shape of a Bitcoin address (a `1` or `3` version character and 26 to 35
/// characters in all) is the `bitcoin-address` detector's to judge: it checks the Base58Check
/// checksum, and one that fails is a mistyped or truncated address, not a secret. Random base62
/// data seldom looks like this by chance: 34 random base62 characters avoid `0`, `O`, `I` and
/// `l` one time in nine, and start with `1` or `3` one time in thirty-one.
/// Shaped as a Bitcoin address, valid or not (a mistyped or made-up one is still an address
/// by its grammar, which holds at most a hash's worth of data): base58 behind `1` or `3`, or
/// bech32 behind `bc1`/`tb1`/`ltc1` and a witness version, in small letters and digits. Valid
/// ones are the optional `bitcoin-address` detector's.
fn address_shaped(token: &[u8]) -> bool {
    let legacy = (26..=35).contains(&token.len())
        && matches!(token[0], b'1' | b'3')
        && token.iter().all(u8::is_ascii_alphanumeric)
        && token.iter().filter(|&&b| !is_base58(b)).count() <= 2;
    let segwit = [&b"bc1"[..], b"tb1", b"ltc1"]
        .iter()
        .find(|p| token.starts_with(p))
        .is_some_and(|p| {
            let rest = &token[p.len()..];
            (39..=59).contains(&rest.len())
                && matches!(rest[0], b'q' | b'p')
                && rest.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    legacy || segwit
}

fn is_base58(b: u8) -> bool {
    b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l')
}

/// Content identifiers, which name public content by its hash (IPFS): CIDv0 is `Qm` and 44
/// base58 characters (a SHA-256 multihash); CIDv1 in its default text form is `b` (base32)
/// and, for the common codecs, `bafy`/`bafk`/`bafz`, then lowercase base32 to 59 characters.
pub(crate) fn content_id(token: &[u8]) -> bool {
    let v0 = token.len() == 46 && token.starts_with(b"Qm") && token.iter().all(|&b| is_base58(b));
    let v1 = token.len() == 59
        && [&b"bafy"[..], b"bafk", b"bafz"]
            .iter()
            .any(|p| token.starts_with(p))
        && token
            .iter()
            .all(|&b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    v0 || v1
}

/// Base64 that decodes to text, an image or compressed data is judged by what it decodes to.
fn decodes_to_something(token: &[u8]) -> bool {
    let something = decode_run(token)
        .is_some_and(|bytes| is_texty(&bytes, 75) || sniff_compression(&bytes).is_some() || is_image(&bytes));
    // An OpenPGP packet header (old or new format) or an SSH blob's length opens the base64
    // with `m`, `x` or `AAAA`: only those are decoded whole to be parsed as a key.
    something
        || ((token.starts_with(b"m") || token.starts_with(b"x") || token.starts_with(b"AAAA"))
            && decode_whole(token).is_some_and(|bytes| super::keys::public_key(&bytes)))
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(b"\xff\xd8\xff")
        || bytes.starts_with(b"GIF8")
        || (bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"))
}

/// Query parameters whose values are random by design: protocol nonces and state, signatures
/// and digests, pagination cursors and cache busters; and the click and visitor ids that ad
/// and analytics platforms append to landing-page links (`gclid`, `fbclid`, `msclkid`, …):
/// the platform, not the page, writes those values.
fn carries_nonce(name: &[u8]) -> bool {
    let decoded = percent::decode(name);
    let name = decoded.as_deref().unwrap_or(name);
    let normal: Vec<u8> = name
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    let ends = |w: &[u8]| normal.ends_with(w);
    NONCE_PARAMS.iter().any(|p| normal == p.as_bytes()) || NONCE_SUFFIXES.iter().any(|s| ends(s.as_bytes()))
}

/// Parameters whose name says the key they carry is public by design: a CAPTCHA's site key
/// (`sitekey`, `data-sitekey`, `recaptcha_site_key`), a publishable or public key
/// (`publishable_key`, `publicKey`, `pubkey`), which pages and apps publish for anyone to read.
/// Not a way to send anything under such a name: the value is still scanned by every rule (a
/// secret key under a public key's name is caught by its own), it is excused only up to
/// [`PUBLIC_KEY_MAX`], and the information budget charges it as any value.
fn public_key_name(name: &[u8]) -> bool {
    let decoded = percent::decode(name);
    let name = decoded.as_deref().unwrap_or(name);
    let normal: Vec<u8> = name
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    [&b"sitekey"[..], b"publishablekey", b"publickey", b"pubkey"]
        .iter()
        .any(|w| normal.ends_with(w))
}

/// The longest value a [`public_key_name`] parameter carries: public keys sent as values are
/// short (a reCAPTCHA site key is 40 characters, a VAPID key 87, a Stripe publishable key
/// about 110); a longer value is more than a key.
const PUBLIC_KEY_MAX: usize = 128;

/// The longest value a [`short_nonce`] parameter carries: a SHA-512 digest in base64 (88).
const SHORT_NONCE_MAX: usize = 88;

/// Parameters whose grammar is a short digest or counter (cache busters, versions, revisions,
/// commit ids, hashes, ETags), unlike cursors and OAuth state, which may be long.
fn short_nonce(name: &[u8]) -> bool {
    let normal: Vec<u8> = name
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    [
        "v", "ver", "version", "cb", "rev", "sha", "commit", "hash", "etag",
    ]
    .iter()
    .any(|p| normal == p.as_bytes())
}

const NONCE_PARAMS: &[&str] = &[
    "state",
    "nonce",
    "codechallenge",
    // OAuth client ids are public (the secret is `client_secret`); key fingerprints are
    // digests by name.
    "clientid",
    "fingerprint",
    "cursor",
    // Pagination: `?next=…`, `?marker=…` (S3, OpenStack), `?starting_after=…` (Stripe).
    "next",
    "marker",
    "startingafter",
    "endingbefore",
    "after",
    "before",
    "continuation",
    // OData and Azure pagination; SQS receipt handles and S3 multipart upload ids (opaque ids
    // of published APIs); SAML protocol messages (deflated XML) and their relay state.
    "skiptoken",
    "receipthandle",
    "uploadid",
    "samlrequest",
    "samlresponse",
    "relaystate",
    "ved",
    "ei",
    "sig",
    "hash",
    "integrity",
    "etag",
    "sha",
    "commit",
    "rev",
    "cb",
    "v",
    "ver",
    "version",
    // S3 object versions (`versionId=2_jgFR…`): an opaque id of a published grammar.
    "versionid",
    // Ad-click and analytics ids: Google (`gclid`, `gbraid`, `wbraid`, `dclid`, the `_gl`
    // linker), Meta, Microsoft, TikTok, X, Yandex, LinkedIn, Instagram, Pinterest, Snap,
    // Reddit; email platforms' click tracking (HubSpot `_hsenc`, Mailchimp `mc_eid`, Marketo
    // `mkt_tok`, SendGrid `upn`).
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "gl",
    "fbclid",
    "msclkid",
    "ttclid",
    "twclid",
    "yclid",
    "lifatid",
    "igshid",
    "epik",
    "sccid",
    "rdtcid",
    "hsenc",
    "hsmi",
    "mceid",
    "mccid",
    "mkttok",
    "upn",
];

const NONCE_SUFFIXES: &[&str] = &[
    // Anti-forgery tokens of the web frameworks (Django's `csrfmiddlewaretoken`, Rails'
    // `authenticity_token`, ASP.NET's `__RequestVerificationToken`), sent back to the site
    // that set them.
    "csrftoken",
    "xsrftoken",
    "csrfmiddlewaretoken",
    "authenticitytoken",
    "requestverificationtoken",
    "signature",
    "pagetoken",
    "cursor",
    "continuationtoken",
    "nonce",
    "digest",
    "checksum",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn path_hits(path: &str) -> usize {
        let mut n = 0;
        in_path(path.as_bytes(), |_| n += 1);
        n
    }

    fn query_hits(query: &str) -> usize {
        let mut n = 0;
        in_query(query.as_bytes(), |_| n += 1);
        n
    }

    #[test]
    fn random_tokens_with_no_shape_are_data() {
        assert_eq!(path_hits("/c/x9Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9Ef2/x"), 1);
        assert_eq!(query_hits("d=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4"), 1);
        assert_eq!(query_hits("d=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4Pa"), 1);
        // Lowercase base32 data.
        assert_eq!(path_hits("/u/mzxw6ytb2oi4dk3tfpq7r2lnb5wx4y3kq7/x"), 1);
        // At a base32 digest's length: a Box shared-link id, a Mailman thread id.
        assert_eq!(path_hits("/s/1hzcwkwf8rbju5h9iyf44wm94amnlcrv"), 0);
        assert_eq!(path_hits("/thread/CLVXXPQ2T2LQ5MP2Y53VVQFCXYWQJHKZ/"), 0);
        assert_eq!(path_hits("/p/1-cp310-cp310-manylinux_2_17_x86_64.whl"), 0);
        assert_eq!(query_hits("code=0x4317e40ab4ddcf05dd358416f52ecd34u128"), 0);
        // A digest that says it is one.
        assert_eq!(
            query_hits("i=sha256-Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4Pa"),
            0
        );
        assert_eq!(
            query_hits("q=hello&blob=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5H%2Bh8Nq2Tu"),
            1
        );
    }

    #[test]
    fn data_chunked_across_segments_or_parameters_is_judged_joined() {
        // 30 random bytes as hex in three directories or five parameters; 36 base64url
        // characters in two or three directories. No piece is data on its own.
        for path in [
            "/9395650cf9380b8edb22/4a6b248a1e924e8fd0ae/2e1a9492a3305f188cb6",
            "/u/Zq8Xv2Lm9Np4Rt7W/s1Yb6Kc3Jd0Fg5Hh",
            "/k5VlDPk4C47b/IkprJIoekk6P/0K4uGpSSozBf/x",
        ] {
            assert_eq!(path_hits(path), 1, "{path}");
        }
        assert_eq!(
            query_hits("k0=9395650cf938&k1=0b8edb224a6b&k2=248a1e924e8f&k3=d0ae2e1a9492&k4=a3305f188cb6"),
            1
        );
        // Ids side by side: two digests, Airtable's base, table and view, a Figma file and its
        // title, Stripe objects, MongoDB ObjectIds, a file's digests in a form.
        for path in [
            "/blob/9395650cf9380b8edb224a6b248a1e924e8fd0ae/a4b2c9d1e8f7a6b5c4d3e2f1a0b9c8d7",
            "/appjHtpk5NlI9twGk/tblIeI0gr9dj20hik/viwPnywL6l8HSoD1d",
            "/design/DMBI7477j9FJdt5HtXUuym/Q3-Planning",
            "/file/DMBI7477j9FJdt5HtXUuym/Q3Plan2026",
        ] {
            assert_eq!(path_hits(path), 0, "{path}");
        }
        for query in [
            "event=evt_1YZlgVfJY189mW7DRus2lYTn&invoice=in_1Zb6eek8nlzdtxawGH1utage&sub=sub_1YFY4cYgDg0dWRMeU2cyGn2V",
            "user=5f2b8c9d1e3a4b5c6d7e8f90&org=6a1c2d3e4f5a6b7c8d9e0f12&project=64b7e2c1a9f3d5e7b1c3a5d7",
            "md5=9e107d9d372bb6826bd81d3542a419d6&sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12\
             &sha256=d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
        ] {
            assert_eq!(query_hits(query), 0, "{query}");
        }
    }

    #[test]
    fn one_case_labels_judged_by_letters_and_digits_together() {
        // Random base32 with one or no digit, and random base36 with many vowels.
        for data in ["bzdlehphnpk7wiqm", "xqkvbtrmnzwplhcd", "5oukrco2br27k43j"] {
            assert!(one_case_random(data.as_bytes(), 16), "{data}");
        }
        for name in [
            "kubernetesdashboard",
            "documentationportal",
            "observability7hub",
            "statusmonitoring",
            "0123456789abcdef0123",
        ] {
            assert!(!one_case_random(name.as_bytes(), 16), "{name}");
        }
    }

    #[test]
    fn common_identifiers_are_explained() {
        for path in [
            "/v2/users/eef13265-18ae-41d2-a2c0-6fcccb8c75fc/orders",
            "/acme/widgets/commit/3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f90",
            "/v2/app/blobs/sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
            "/static/js/main.3f9a1c7e.chunk.js",
            "/_next/static/chunks/pages/_app-6a8b2c9d1e0f3a4b.js",
            "/document/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
            "/file/d/1Xq7Jd2mN9pR4tV8wB1cE6fH3kL5oS0uY/view",
            "/forms/d/e/1FAIpQLSeBkbhuIlSofXqCyhi3kGkLmtrpPOEBwr6iJA6SzHdxWKfqdA/viewform",
            "/c/pay/cs_live_a1Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4Pa9Mb1Lc6Zr3Vs0",
            "/v1/customers/cus_Kq2Lm7Np4Rs8Tv1Wx5Yz3Ab6Cd9/payment_intents",
            "/std/collections/struct.HashMap.html",
            "/files/ThisIsAVeryLongCamelCaseIdentifierName.html",
            "/bundle/publicresource/80-N2040-23_REV_K_Qualcomm_Hexagon_Application_Binary_Interface_User_Guide.pdf",
            "/article/1326986170-An-Object-is-not-a-Hash",
        ] {
            assert_eq!(path_hits(path), 0, "{path}");
        }
        for query in [
            "state=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8&nonce=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8",
            "next_page_token=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2T",
            "X-Amz-Signature=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tabc",
            "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "cursor=eyJpZCI6MTIzNDU2LCJkaXIiOiJuZXh0IiwidHMiOjE3MDAwMDAwMDB9",
            "img=data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
            "page=eyJpZCI6MTIzNDU2LCJkaXIiOiJuZXh0IiwidHMiOjE3MDAwMDAwMDB9",
            "v=x&list=PLillGF-RfqbY3c2r0htQyVbDJJoBFE6Rb",
            "logo=data:image/png;base64%2CiVBORw0KGgoAAAANSUhEUgAAAA4AAAAOCAMAAAAolt3jAAAA1VBMVEUAAABhlctjlstkl8",
        ] {
            assert_eq!(query_hits(query), 0, "{query}");
        }
    }
}
