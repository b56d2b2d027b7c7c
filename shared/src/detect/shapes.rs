//! Detectors that work on the shape of a token rather than a literal prefix: generic
//! `key=`/`token=`/`secret=` assignments of random-looking values, Twilio API keys, WIF
//! private keys, payment card numbers and BIP-39 seed phrases.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::rules::checks::{
    base58check, bip39_checksum, bip39_words, card_network, is_placeholder, is_well_known, looks_random,
    looks_random_body, luhn,
};

/// Words in a key name that make its value a credential.
const KEY_WORDS: &[&str] = &[
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pwd",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authkey",
    "signingkey",
    "masterkey",
    // A WPA pre-shared key (`psk=` in NetworkManager and wpa_supplicant files).
    "psk",
    // SSSD's `ldap_default_authtok`.
    "authtok",
    "clientkey",
    // Keys named for what they encrypt, sign or authenticate with: key material, not a lookup
    // key (`sort_key`, `cache_key` stay out).
    "encryptionkey",
    "decryptionkey",
    "cryptokey",
    "cipherkey",
    "aeskey",
    "hmackey",
    "sessionkey",
    "sharedkey",
    "wrappingkey",
    "symmetrickey",
    "jwtkey",
    "licensekey",
    "servicekey",
    "accountkey",
    // API gateways and platforms that name the key for what it subscribes or belongs to
    // (`Ocp-Apim-Subscription-Key`, `X-App-Key`, `x-functions-key`, `consumer_key`).
    "subscriptionkey",
    "appkey",
    "applicationkey",
    "consumerkey",
    "functionskey",
    "functionkey",
    "developerkey",
    "devkey",
    "adminkey",
    "writekey",
];

/// Key names that contain one of those words but hold something else.
const NOT_KEYS: &[&str] = &[
    "pagetoken",
    "nexttoken",
    "continuationtoken",
    "cursortoken",
    "csrf",
    "xsrf",
    // Rails' and ASP.NET's anti-forgery fields, sent back to the site that set them.
    "authenticitytoken",
    "requestverificationtoken",
    "antiforgery",
    "nonce",
    "tokentype",
    "tokenizer",
    "publickey",
    "pubkey",
    "idempotency",
    "maxtokens",
    "tokens",
    "tokenurl",
    "tokenendpoint",
    "secreturl",
    "passwordpolicy",
    "passwordreset",
    // SigV4 `X-Amz-Credential`: key ID, date, region and service; public by design.
    "amzcredential",
    // Keys published in pages and apps by design: reCAPTCHA/hCaptcha/Turnstile site keys,
    // Stripe's and Supabase's publishable keys.
    "sitekey",
    "publishablekey",
    // Public tokens by name (Mapbox's `pk.` tokens, `mapboxPublicToken`).
    "publictoken",
    "publicapikey",
    // Sentry's DSN key (`sentry_key=` in every browser SDK's envelope): public by design.
    "sentrykey",
    // OData and Azure pagination (`$skiptoken`).
    "skiptoken",
];

/// Whether a key name (any case, with `_`, `-` or `.` separators) names a credential.
pub(crate) fn is_secret_key_name(name: &[u8]) -> bool {
    let Some(normal) = NormalName::of(name) else {
        return false;
    };
    let (has, normal) = (|w: &str| normal.has(w), normal.bytes());
    // A bare `key` is too often an object, cache or sort key to judge by name alone. `pass`
    // only as the last word (`DB_PASS`, `smtp.pass`), not `passport` or `bypass_cache`.
    let pass = ends_in_pass(normal);
    // A personal access token by its short name as the last word (`AZURE_DEVOPS_EXT_PAT`,
    // `gitlab_pat`), not `compat`.
    let pat = normal.ends_with(b"pat") && normal.len() > 3 && !normal.ends_with(b"compat");
    // `auth` names a credential only as the whole name (`X-Auth`, `"auth": …`): as a part it
    // is `author`, `oauth_state`, `auth_url` or `authority`.
    let auth = matches!(normal, b"auth" | b"xauth" | b"authorization" | b"xauthorization");
    (KEY_WORDS.iter().any(|w| has(w)) || pass || pat || auth || session_cookie_name(normal))
        && !NOT_KEYS.iter().any(|w| has(w))
}

/// Whether a cookie's name is one of [`session_cookie_name`]'s (any case and separators).
pub(crate) fn is_session_cookie(name: &[u8]) -> bool {
    NormalName::of(name).is_some_and(|n| session_cookie_name(n.bytes()))
}

/// The session cookies web frameworks set, by name (without separators, in lower case): each
/// value is a logged-in session, a bearer credential wherever it is written (a HAR file, a
/// tool's headers, a chat message). A bare `session_id` or `sessionId` is left out: telemetry
/// names its own ids so.
fn session_cookie_name(normal: &[u8]) -> bool {
    matches!(
        normal,
        b"phpsessid"
            | b"jsessionid"
            | b"aspnetsessionid"
            | b"laravelsession"
            | b"cisession"
            | b"connectsid"
            | b"aspnetcorecookies"
            | b"aspnetcoresession"
            | b"aspnetapplicationcookie"
            | b"aspxauth"
    ) || normal.starts_with(b"aspsessionid")
}

/// The values of a Netscape cookie jar (`cookies.txt`, as curl and browser exporters write it):
/// lines of seven tab-separated fields, domain, `TRUE`/`FALSE`, path, `TRUE`/`FALSE`, expiry,
/// name, value. A jar is a store of logged-in sessions; each value that looks random is one.
/// Calls `f(start, end)` for each.
pub(crate) fn cookie_jar_values(data: &[u8], mut f: impl FnMut(usize, usize)) {
    let jar = |flag: &[u8]| memchr::memmem::find(data, flag).is_some();
    if memchr::memchr(b'\t', data).is_none() || !(jar(b"\tTRUE\t") || jar(b"\tFALSE\t")) {
        return;
    }
    let mut at = 0;
    for line in data.split(|&b| b == b'\n') {
        let line_at = at;
        at += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        let flag = |f: &[u8]| f == b"TRUE" || f == b"FALSE";
        if fields.len() != 7
            || !flag(fields[1])
            || !flag(fields[3])
            || fields[4].is_empty()
            || !fields[4].iter().all(u8::is_ascii_digit)
        {
            continue;
        }
        let value = fields[6];
        if looks_random(value) && !is_placeholder(value) {
            let start = line_at + line.len() - value.len();
            f(start, start + value.len());
        }
    }
}

/// A key name of 3 to 64 bytes in lower case without its `_`, `-` and `.` separators, on the
/// stack (names are judged for every assignment).
struct NormalName {
    buf: [u8; 64],
    len: usize,
}

impl NormalName {
    fn of(name: &[u8]) -> Option<Self> {
        if name.len() < 3 || name.len() > 64 {
            return None;
        }
        let mut normal = Self { buf: [0; 64], len: 0 };
        for &b in name.iter().filter(|b| !matches!(b, b'_' | b'-' | b'.')) {
            normal.buf[normal.len] = b.to_ascii_lowercase();
            normal.len += 1;
        }
        Some(normal)
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn has(&self, word: &str) -> bool {
        self.bytes().windows(word.len()).any(|x| x == word.as_bytes())
    }
}

/// Two or more each of upper case, lower case and digits: what a generated credential mixes.
fn mixes_cases_and_digits(value: &[u8]) -> bool {
    let count = |f: fn(&u8) -> bool| value.iter().filter(|b| f(b)).count();
    count(u8::is_ascii_uppercase) >= 2 && count(u8::is_ascii_lowercase) >= 2 && count(u8::is_ascii_digit) >= 2
}

/// Key names ending in `key` that name a lookup, an index or a public half, not key material.
const LOOKUP_KEYS: &[&str] = &[
    "sortkey",
    "cachekey",
    "partitionkey",
    "primarykey",
    "foreignkey",
    "objectkey",
    "routingkey",
    "rowkey",
    // RFC 6455's handshake nonce.
    "websocketkey",
    "hashkey",
    "rangekey",
    "lookupkey",
    "mapkey",
    "dedupkey",
    "dedupekey",
    "groupkey",
    "shardkey",
    "bucketkey",
    "s3key",
    "i18nkey",
    "translationkey",
    "messagekey",
    "eventkey",
    "querykey",
    "statekey",
    "itemkey",
    "uniquekey",
    "idkey",
    "hotkey",
    "monkey",
    "turkey",
    "jockey",
    "hockey",
    "whiskey",
    "donkey",
];

/// A name whose last word is `key` (`integration_key`, `webhookKey`; not a bare `key`, which
/// carries document ids and API keys alike, the latter found by their vendors' rules) that
/// [`is_secret_key_name`] does not accept: too often a lookup key to judge by name alone, so its
/// value must look like key material beyond doubt ([`strong_key`]).
/// A header named for a key (`Fastly-Key`, `X-Algolia-API-Key` is already a credential name)
/// whose value is key material beyond doubt.
pub(crate) fn key_header(name: &[u8], value: &[u8]) -> bool {
    names_a_key(name) && (strong_key(value) || (names_a_private_key(name) && hex_key(value)))
}

/// 32 hex digits or more, random by [`looks_random`]: an API key as many vendors issue them
/// (Kaggle, Datadog, Mailgun), under a name ending in `key` that is no lookup key.
fn hex_secret(value: &[u8]) -> bool {
    value.len() >= 32 && value.iter().all(u8::is_ascii_hexdigit) && looks_random(value)
}

/// A name for the private half of a key pair or a wallet's key (`X-Wallet-Key`,
/// `signing_key`, `PRIVATE_KEY`), whose 32 bytes are most often written in hex.
fn names_a_private_key(name: &[u8]) -> bool {
    NormalName::of(name).is_some_and(|n| {
        ["private", "wallet", "signing", "secret", "master"]
            .iter()
            .any(|w| n.has(w))
    })
}

/// 32 bytes or more in hex, `0x` or not, random by [`looks_random`]: a private key's size.
fn hex_key(value: &[u8]) -> bool {
    let digits = value.strip_prefix(b"0x").unwrap_or(value);
    digits.len() >= 64 && hex_secret(digits)
}

fn names_a_key(name: &[u8]) -> bool {
    let Some(normal) = NormalName::of(name) else {
        return false;
    };
    let (has, normal) = (|w: &str| normal.has(w), normal.bytes());
    normal.len() > 3
        && normal.ends_with(b"key")
        && !LOOKUP_KEYS.iter().any(|w| normal.ends_with(w.as_bytes()))
        && !NOT_KEYS.iter().any(|w| has(w))
}

/// A name that says its value is key material: a credential's name, or one ending in `key`
/// that is no lookup key.
pub(crate) fn names_key_material(name: &[u8]) -> bool {
    is_secret_key_name(name) || names_a_key(name)
}

/// A name for a table an algorithm is built on (`SBOX`, `crc32_table`, `RCON`, `PALETTE`,
/// `gamma_lut`): its bytes are published constants, random-looking by design.
pub(crate) fn names_a_table(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "sbox",
        "s_box",
        "table",
        "lut",
        "crc",
        "rcon",
        "palette",
        "magic",
        "permutation",
    ]
    .iter()
    .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
}

/// The name an array opening at `at` (its bracket, or its first element after the bracket)
/// is assigned to, on the same line: `KEY = [`, `"key": [`, `byte[] KEY = new byte[] {`, `const K: [u8; 32] = [`,
/// `key = bytes([`, `uint8_t key[32] = {`. `None` for an array passed or returned
/// (`fromCharCode(…)`, `f([…])`).
pub(crate) fn array_name(data: &[u8], at: usize) -> Option<&[u8]> {
    let trim =
        |s: &[u8]| -> usize { s.len() - s.iter().rev().take_while(|b| matches!(b, b' ' | b'\t')).count() };
    let ident = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$');
    let line = data[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let mut s = &data[line.max(at.saturating_sub(96))..at];
    s = &s[..trim(s)];
    // An array in code opens with its bracket: `d=de-ad-…` in a query is no array.
    let rest = s
        .strip_suffix(b"[")
        .or(s.strip_suffix(b"{"))
        .or(s.strip_suffix(b"("))?;
    s = &rest[..trim(rest)];
    // A constructor or type before the bracket (`new byte[]`, `bytes(`, `Uint8Array.from(`).
    for _ in 0..3 {
        if s.ends_with(b"=") || s.ends_with(b":") {
            break;
        }
        if s.ends_with(b"]") {
            s = &s[..s.iter().rposition(|&b| b == b'[')?];
        }
        s = s.strip_suffix(b"(").unwrap_or(s);
        let word = s.iter().rev().take_while(|b| ident(b)).count();
        s = &s[..s.len() - word];
        s = &s[..trim(s)];
    }
    let s = s.strip_suffix(b"=").or_else(|| s.strip_suffix(b":"))?;
    if s.ends_with(b"=") || s.ends_with(b"!") || s.ends_with(b"<") || s.ends_with(b">") {
        return None;
    }
    let mut s = &s[..trim(s)];
    // A type after the name (`K: [u8; 32]`) or a C array's size (`key[32]`).
    if s.ends_with(b"]") {
        s = &s[..s.iter().rposition(|&b| b == b'[')?];
        s = &s[..trim(s)];
        s = s.strip_suffix(b":").map_or(s, |r| &r[..trim(r)]);
    }
    let s = s.strip_suffix(b"\"").or(s.strip_suffix(b"'")).unwrap_or(s);
    let len = s.iter().rev().take_while(|b| ident(b)).count();
    (len > 0).then(|| &s[s.len() - len..])
}

/// Key material beyond doubt: 24 characters or more of letters of both cases and digits (a
/// few `-`, `_`, `+`, `/` allowed), random by [`looks_random`], not a placeholder.
fn strong_key(value: &[u8]) -> bool {
    value.len() >= 24
        && mixes_cases_and_digits(value)
        && looks_random(value)
        && !is_placeholder(value)
        && !super::entropy::joined_words(value)
}

/// A value at `start..end` assigned to a key named like a credential (`key=`, `"token": "`,
/// `SECRET = '`...), judged random enough to be one.
pub(crate) fn generic_assignment(data: &[u8], start: usize, end: usize) -> bool {
    let value = trim_padding(&data[start..end]);
    // A name called (`credential = ClientSecretCredential(…)`) is code, not a value; a value
    // cut short or masked (`Zq8Xv2Lm…`, `****4242`) is too little of a secret to use.
    if data.get(end) == Some(&b'(')
        || public_at(data, start, end)
        || masked_beside(data, start, end)
        || value.len() > 512
        || unclosed_element(data, start, end)
    {
        return false;
    }
    match judged_name(data, start) {
        // A pair is a weaker layout than `name = value` (a JSON array of names is one too): its
        // value must be key material beyond doubt.
        // Only a call's first two arguments (`define('DB_PASSWORD', '…')`, `set("pwd", "…")`)
        // say plainly enough that a password follows its name.
        Some(name) if paired_value(data, start) => {
            is_well_known(value)
                || strong_key(value)
                || (first_argument(data, name) && password_value(name, value))
        }
        Some(name) => named_credential(name, value),
        _ => false,
    }
}

/// Whether `name` (a slice of `data`) is the quoted first argument of a call: an opening
/// parenthesis before its quote.
fn first_argument(data: &[u8], name: &[u8]) -> bool {
    let at = name.as_ptr() as usize - data.as_ptr() as usize;
    let i = skip_back(data, at, |b| matches!(b, b'"' | b'\'' | b' ' | b'\t'));
    i < at && i > 0 && data[i - 1] == b'('
}

/// A value under a name, judged as the name says: a credential's name wants a credential's
/// value, a name ending in `key` key material beyond doubt.
pub(crate) fn named_credential(name: &[u8], value: &[u8]) -> bool {
    if is_secret_key_name(name) {
        is_well_known(value) || credential_value(name, value)
    } else {
        names_a_key(name) && (is_well_known(value) || strong_key(value) || hex_secret(value))
    }
}

/// A value under a credential's name that is one: random-looking, or a UUID (Heroku's API
/// keys and many others are UUIDs) unless the name says it is an id (`token_id`).
pub(crate) fn credential_value(name: &[u8], value: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    let names_an_id = lower.ends_with(b"id") || lower.ends_with(b"ids") || lower.ends_with(b"name");
    let shaped = if is_uuid(value) {
        !names_an_id
    } else {
        looks_random_body(value)
            || password_value(name, value)
            || key_bytes(value)
            || spelled_in_hex(name, value)
    };
    shaped && !is_placeholder(value)
}

/// A Kubernetes bootstrap token (`kubeadm token create`): six and sixteen small letters and
/// digits joined by a dot, its id and its secret (`rz6ujw.ghe28jsk24menmld`), digits among them.
fn bootstrap_token(value: &[u8]) -> bool {
    let part = |p: &[u8]| p.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    value.len() == 23
        && value[6] == b'.'
        && part(&value[..6])
        && part(&value[7..])
        && value[7..].iter().filter(|b| b.is_ascii_digit()).count() >= 2
        && value[7..].iter().filter(|b| b.is_ascii_lowercase()).count() >= 2
}

/// Whether a name is of the password family (`ADMIN_PASSWORD`, `db.pwd`, `smtp_pass`).
fn names_a_password(name: &[u8]) -> bool {
    NormalName::of(name).is_some_and(|n| {
        ["password", "passwd", "pwd", "passphrase", "passcode"]
            .iter()
            .any(|w| n.has(w))
            || ends_in_pass(n.bytes())
    })
}

/// `pass` as the last word of a normalised name (`DB_PASS`, `smtp.pass`), not `bypass` or
/// `compass`.
fn ends_in_pass(normal: &[u8]) -> bool {
    normal.ends_with(b"pass") && !normal.ends_with(b"bypass") && !normal.ends_with(b"compass")
}

/// A password under a name that says it is one ([`password_like`]).
fn password_value(name: &[u8], value: &[u8]) -> bool {
    names_a_password(name) && password_like(value)
}

/// A password as people and generators choose them: a [`passphrase`], or ten or more
/// printable characters with capitals, small letters and digits, not words joined
/// (`UHA8bvxvS._y.rC`, `Kp4nWq9tRz2m`). Shorter than the 16 that randomness is judged on.
fn password_like(value: &[u8]) -> bool {
    let has = |f: fn(&u8) -> bool| value.iter().any(f);
    passphrase(value)
        || (value.len() >= 10
            && value.iter().all(u8::is_ascii_graphic)
            && has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase)
            && has(u8::is_ascii_digit)
            && !super::entropy::joined_words(value)
            && !code_expression(value))
}

/// A passphrase of words joined by `-`, `_` or `.` (`harbor-meadow-pepper-ember3`): 16
/// characters or more, three words of three letters or more with a digit, or four words; not a
/// placeholder (`your-password-here`).
fn passphrase(value: &[u8]) -> bool {
    let parts: Vec<&[u8]> = value.split(|b| matches!(b, b'-' | b'_' | b'.')).collect();
    let words = parts
        .iter()
        .filter(|p| {
            p.len() >= 3
                && p.iter().take(3).all(u8::is_ascii_alphabetic)
                && p.iter().all(u8::is_ascii_alphanumeric)
        })
        .count();
    // Generators and people end a passphrase in a number as often as in a word
    // (`lagoon-falcon-umber-26`).
    let number_last = parts.len() >= 4
        && parts
            .last()
            .is_some_and(|p| (1..=4).contains(&p.len()) && p.iter().all(u8::is_ascii_digit));
    value.len() >= 16
        && (words == parts.len() || (number_last && words == parts.len() - 1))
        && (words >= 4 || (words == 3 && value.iter().any(u8::is_ascii_digit)))
        && !is_placeholder(value)
}

/// Key bytes written as delimited hex, the whole value (`5e:34:52:…`, `0x5e, 0x34…`): 16 bytes
/// or more that are not text.
fn key_bytes(value: &[u8]) -> bool {
    let mut whole = false;
    super::decode::hexlist::hex_lists(value, 16, |list| {
        whole |=
            list.start == 0 && list.end == value.len() && !list.bytes.iter().all(|b| b.is_ascii_graphic());
    });
    whole
}

/// A value written as the hex of its characters (`3430333332…` for `403327a9…`): what it
/// spells is judged as the value.
fn spelled_in_hex(name: &[u8], value: &[u8]) -> bool {
    if value.len() < 32 || !value.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    super::decode::base64::decode_hex_run(value).is_some_and(|text| {
        text.iter().all(u8::is_ascii_graphic) && (looks_random_body(&text) || password_value(name, &text))
    })
}

/// A token public by design at `start..end`, whatever its name says: Mapbox's `pk.` tokens
/// (the value may be the part after `pk.`), Stripe's publishable keys.
pub(crate) fn public_at(data: &[u8], start: usize, end: usize) -> bool {
    let value = &data[start..end];
    value.starts_with(b"pk.eyJ")
        || value.starts_with(b"pk_live_")
        || value.starts_with(b"pk_test_")
        || (value.starts_with(b"eyJ") && data[..start].ends_with(b"pk."))
}

/// A value that is, whole, base64 of a JSON object or array: state a client keeps (an
/// analytics cookie, serialised preferences). Unsigned, it is no credential, since anyone may
/// write one; and it is explained by what it says, which the layer below walks with every
/// detector, so a token inside it is reported there. A signed value is not whole base64 (a
/// JWT's dots, Flask's `payload.time.signature`, Rails' `data--digest`) and is judged.
pub(crate) fn encoded_json(value: &[u8]) -> bool {
    // `{"` and `{ ` open base64 with `ey`, `[` with `W`.
    if value.len() < 16 || !(value.starts_with(b"ey") || value.starts_with(b"W")) {
        return false;
    }
    super::decode::base64::decode_whole(value).is_some_and(|text| {
        std::str::from_utf8(&text).is_ok_and(|text| {
            let text = text.trim();
            !text.chars().any(|c| c.is_control() && !c.is_whitespace())
                && ((text.starts_with('{') && text.ends_with('}'))
                    || (text.starts_with('[') && text.ends_with(']')))
        })
    })
}

/// Whether the value at `start..end` is ciphertext in a map named for encrypted values: the
/// `encryptedData` of a Bitnami SealedSecret (or `encrypted`, `encrypted_values`, …), in JSON
/// or YAML. Encrypted on purpose, to be committed and sent: only the cluster's controller can
/// open it. Ciphertext means base64 of at least 128 bytes (an RSA-1024 key wrap; a
/// SealedSecret's is 512) that are not text: a password or token put under the name in the
/// clear is text, or too short, and is judged; every rule still runs on the value.
pub(crate) fn encrypted_on_purpose(data: &[u8], start: usize, end: usize) -> bool {
    let value = &data[start..end];
    if value.len() < 172 {
        return false;
    }
    let ciphertext = super::decode::base64::decode_whole(value)
        .is_some_and(|bytes| bytes.len() >= 128 && !super::decode::base64::is_meaningful(&bytes));
    ciphertext
        && container_name(data, start).is_some_and(|name| {
            name.iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_lowercase)
                .collect::<Vec<u8>>()
                .starts_with(b"encrypted")
        })
}

/// The name of the map holding the value at `start`: in JSON, the key before the `{` that
/// opens the object around it; in YAML, the key of the nearest line above indented less.
/// Looked for within 4 KiB before the value.
fn container_name(data: &[u8], start: usize) -> Option<&[u8]> {
    let from = start.saturating_sub(4096);
    let before = &data[from..start];
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let line = &before[line_start..];
    let indent = line.iter().take_while(|&&b| b == b' ').count();
    // YAML: `key: value` on an indented line under `name:`.
    if !line.contains(&b'{') && indent > 0 && !line.trim_ascii_start().starts_with(b"\"") {
        let mut above = &before[..line_start.saturating_sub(1)];
        loop {
            let at = memchr::memrchr(b'\n', above).map_or(0, |i| i + 1);
            let prev = &above[at..];
            let prev_indent = prev.iter().take_while(|&&b| b == b' ').count();
            if !prev.trim_ascii().is_empty() && prev_indent < indent {
                return prev.trim_ascii().strip_suffix(b":");
            }
            if at == 0 {
                return None;
            }
            above = &above[..at - 1];
        }
    }
    // JSON: the unmatched `{` before the value (braces inside strings are rare in keys).
    let mut depth = 0usize;
    let open = before.iter().rposition(|&b| match b {
        b'}' => {
            depth += 1;
            false
        }
        b'{' if depth == 0 => true,
        b'{' => {
            depth -= 1;
            false
        }
        _ => false,
    })?;
    let key = before[..open]
        .trim_ascii_end()
        .strip_suffix(b":")?
        .trim_ascii_end();
    let key = key.strip_suffix(b"\"")?;
    let quote = memchr::memrchr(b'"', key)?;
    Some(&key[quote + 1..])
}

/// Whether the value at `start` follows a lone `>` (not `=>` or `->`), the end of an element's
/// start tag (`<password>…`), and so must end where the element does (`…</password>`): in
/// `user:<password>@host` the `@host` is not the password.
fn unclosed_element(data: &[u8], start: usize, end: usize) -> bool {
    let i = skip_back(data, start, |b| matches!(b, b'"' | b'\'' | b' ' | b'\t'));
    let lone = i > 0 && data[i - 1] == b'>' && (i < 2 || !matches!(data[i - 2], b'=' | b'-'));
    // Closed by an end tag, not by the next tag opening (`<password>@host:5432/<db>`).
    lone && !data[end..].starts_with(b"</")
}

/// Whether the value at `start` is the second of a quoted pair (`'api_key', '…'`).
fn paired_value(data: &[u8], start: usize) -> bool {
    let i = skip_back(data, start, |b| matches!(b, b'"' | b'\'' | b' ' | b'\t'));
    i > 1
        && data[i - 1] == b','
        && data[..i - 1]
            .trim_ascii_end()
            .last()
            .is_some_and(|&b| b == b'"' || b == b'\'')
        && data[i..start].iter().any(|&b| b == b'"' || b == b'\'')
}

/// `8-4-4-4-12` hex digits.
pub(crate) fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Mailgun's API keys since 2020 (and its webhook signing keys): 32, 8 and 8 hex digits joined
/// by dashes, the 32 mixing letters and digits. Calls `f(start, end)` for each in a run.
pub(crate) fn mailgun_keys(run: &[u8], mut f: impl FnMut(usize, usize)) {
    if run.len() < 50 || !run.contains(&b'-') {
        return;
    }
    let parts: Vec<(usize, &[u8])> = pieces(run).collect();
    for w in parts.windows(3) {
        let [(at, a), (b_at, b), (c_at, c)] = [w[0], w[1], w[2]];
        let hex = |p: &[u8], n: usize| p.len() == n && p.iter().all(|x| x.is_ascii_hexdigit());
        let dashed = run[b_at - 1] == b'-' && run[c_at - 1] == b'-';
        let varied = a.iter().any(u8::is_ascii_digit) && a.iter().any(u8::is_ascii_alphabetic);
        let joined_on = |i: usize| run.get(i).is_some_and(|&x| x == b'-');
        let alone = (at == 0 || !joined_on(at - 1)) && !joined_on(c_at + 8);
        if hex(a, 32) && hex(b, 8) && hex(c, 8) && dashed && varied && alone {
            f(at, c_at + 8);
        }
    }
}

/// An AWS secret access key with no name beside it: 40 characters of base64's alphabet with a
/// `/` or `+` (seven in ten keys have one), letters of both cases and digits, the entropy of
/// random data, and not a path (at most three slashes, no words joined). The run is the whole
/// token; the last line of wrapped base64 (after a line break that follows base64) is not one.
pub(crate) fn aws_secret_shape(data: &[u8], start: usize, end: usize) -> bool {
    const LEN: usize = 40;
    let run = &data[start..end];
    if run.len() != LEN || !run.iter().any(|&b| b == b'/' || b == b'+') {
        return false;
    }
    // `\n` escaped in a string glues its `n` to the run; a real break follows the line before.
    let mut line_start = start;
    if data[..line_start].ends_with(b"\n") {
        line_start -= 1;
        if data[..line_start].ends_with(b"\r") {
            line_start -= 1;
        }
    }
    let wrapped_tail = (start > 0 && data[start - 1] == b'\\')
        || (line_start < start && line_start > 0 && super::runs::is_run_byte(data[line_start - 1]));
    if wrapped_tail {
        return false;
    }
    {
        let candidate = run;
        let count = |f: fn(&u8) -> bool| candidate.iter().filter(|b| f(b)).count();
        let slashes = candidate.iter().filter(|&&b| b == b'/').count();
        let plus = candidate.contains(&b'+');
        let alphabet = candidate
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+'));
        let shaped = alphabet
            && (slashes > 0 || plus)
            && slashes <= 3
            && count(u8::is_ascii_uppercase) >= 3
            && count(u8::is_ascii_lowercase) >= 3
            && count(u8::is_ascii_digit) >= 2
            && super::rules::checks::entropy(candidate) >= 4.3
            && !super::entropy::joined_words(candidate);
        shaped
            && !super::decode::base64::decode_run(candidate)
                .is_some_and(|d| super::decode::base64::is_meaningful(&d))
    }
}

/// Values of any characters assigned to a key named like a credential: passwords with symbols
/// do not form the base64-like runs [`generic_assignment`] is given. The value runs from after
/// the operator (and an opening quote) to the closing quote or the next delimiter. Calls
/// `f(start, end)` for each value that is not a placeholder and mixes a symbol with two of lower
/// case, upper case and digits over 10 or more characters.
/// `operators` are the candidates [`assignment_operators`] found in `data`.
pub(crate) fn punctuated_assignments(data: &[u8], operators: &[usize], mut f: impl FnMut(usize, usize)) {
    // After a value too long to judge, the operators inside it start no value of their own:
    // `=a=a=a...` then costs linear time, not 257 reads per operator.
    let mut judged_to = 0;
    for &at in operators {
        if at < judged_to {
            continue;
        }
        // `TokenTree::from`, `a == b`: a path or a comparison in code, not an assignment.
        let doubled = |i: usize| data.get(i).is_some_and(|&b| b == data[at]);
        if doubled(at + 1) || (at > 0 && doubled(at - 1)) {
            continue;
        }
        let (start, end) = match value_after(data, at + 1) {
            Ok(range) => range,
            Err(TooLong) => {
                judged_to = at + 1 + MAX_VALUE;
                continue;
            }
            Err(_) => continue,
        };
        let value = &data[start..end];
        // A run is judged where runs are (`generic_assignment`); one shorter than a run (a
        // password of 10 to 15 letters and digits) only here.
        let plain_run = value.len() >= super::runs::MIN_RUN
            && value.iter().all(|&b| super::runs::is_run_byte(b) || b == b'=');
        let name = judged_name(data, start);
        let password = name.is_some_and(|n| password_value(n, value));
        if plain_run
            || value.len() < 10
            || !(strong_password(value)
                || dotted_secret(value)
                || password
                || key_bytes(value)
                || bootstrap_token(value))
            || is_placeholder(value)
            || code_expression(value)
            || form_prose(value)
            // A glob (`secret:prod/api-*` in an IAM policy) names many values, none of them.
            || [&b"/*"[..], b"-*", b"_*", b".*", b":*"].iter().any(|g| value.ends_with(g))
            || unclosed_element(data, start, end)
            || spelled_escape(value)
        {
            continue;
        }
        if name.is_some_and(is_secret_key_name) {
            f(start, end);
        }
    }
}

/// Whether a value holds a `\u`/`\x` escape: it is judged as it reads once unescaped (the
/// layer is decoded too), not by its backslashes (`xoxb-\u2026` is a mask, `xoxb-…`).
fn spelled_escape(value: &[u8]) -> bool {
    value.windows(2).enumerate().any(|(i, w)| {
        let digits = match w {
            b"\\u" => 4,
            b"\\x" => 2,
            _ => return false,
        };
        value
            .get(i + 2..i + 2 + digits)
            .is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit))
    })
}

/// A value whose only punctuation joins its parts (`. - _`) that still reads as a credential:
/// letters of both cases and digits over 12 characters or more, no word joined to a dot the way
/// names and hosts are (`S2n6G1ALM.eQXJi4`, Vault's `s.j0tGxg32hyJrD0ELpxE5hOsp`).
fn dotted_secret(value: &[u8]) -> bool {
    // Joiners between alphanumerics only: not ARNs or paths (`:`, `/`), nor a value cut
    // short (`Zq8Xv2Lm...`).
    let joiner = |b: &u8| matches!(b, b'.' | b'-' | b'_');
    let structure = value.iter().all(|b| b.is_ascii_alphanumeric() || joiner(b))
        && value.first().is_some_and(u8::is_ascii_alphanumeric)
        && value.last().is_some_and(u8::is_ascii_alphanumeric)
        && !value.windows(2).any(|w| joiner(&w[0]) && joiner(&w[1]));
    let longest = value
        .split(|b| !b.is_ascii_alphanumeric())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    structure && value.len() >= 12 && longest >= 8 && mixes_cases_and_digits(value) && looks_random(value)
}

/// Form-encoded prose: words of letters joined by `+` (spaces), three or more of them.
fn form_prose(value: &[u8]) -> bool {
    value
        .split(|&b| b == b'+')
        .filter(|w| w.len() >= 2 && w.iter().all(u8::is_ascii_alphabetic))
        .count()
        >= 3
}

/// A mask run or an ellipsis right before or after `start..end`: `***`, `•`, `...`, `…`.
fn masked_beside(data: &[u8], start: usize, end: usize) -> bool {
    let marks: [&[u8]; 4] = [b"***", "•".as_bytes(), b"...", "…".as_bytes()];
    let (before, after) = (&data[..start], &data[end..]);
    marks.iter().any(|m| before.ends_with(m) || after.starts_with(m))
}

/// A value that is code computing or naming the secret rather than the secret: a call or an
/// index on a dotted name (`os.getenv('DB_PASSWORD')`, `settings.SECRETS["api"]`,
/// `get_token()`), or a dotted reference through a lowercase object
/// (`settings.OPENAI_API_KEY`, `process.env.API_KEY`, `self.api_secret`).
fn code_expression(value: &[u8]) -> bool {
    let name = value
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
        .count();
    if name < 2 || !value[0].is_ascii_alphabetic() {
        return false;
    }
    if matches!(value.get(name), Some(b'(' | b'[')) {
        return true;
    }
    let path = &value[..name];
    let segments: Vec<&[u8]> = path.split(|&b| b == b'.').collect();
    let identifier = |s: &[u8]| {
        !s.is_empty()
            && (s[0].is_ascii_alphabetic() || s[0] == b'_')
            && s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let object = |s: &&[u8]| s.len() >= 3 && s.iter().all(u8::is_ascii_lowercase);
    // The reference may close the call it is an argument of: `f(api_key=settings.KEY)`.
    (name == value.len() || matches!(value.get(name), Some(b')' | b',' | b';')))
        && segments.len() >= 2
        && segments.iter().all(|s| identifier(s))
        && segments[..segments.len() - 1].iter().any(object)
}

/// Settings written as a key attribute and a value attribute (.NET `appSettings`: `<add
/// key="SmtpPassword" value="…" />`; Java and Ant `<param name="…" value="…">`): the value
/// is judged as if assigned to the name, by the rules of [`generic_assignment`] and
/// [`punctuated_assignments`]. Calls `f(start, end)` for each value that is a credential.
pub(crate) fn keyed_attributes(data: &[u8], mut f: impl FnMut(usize, usize)) {
    for at in memchr::memmem::find_iter(data, b"value=") {
        // Quoted, or quoted with escapes as markup is inside a JSON or code string
        // (`value=\"…\"`).
        let escaped = data[at + 6..].starts_with(b"\\\"");
        if !escaped && data.get(at + 6) != Some(&b'"') {
            continue;
        }
        let start = at + 7 + escaped as usize;
        let Some(len) = memchr::memchr(b'"', &data[start..data.len().min(start + MAX_VALUE)]) else {
            continue;
        };
        let len = len - (escaped && len > 0 && data[start + len - 1] == b'\\') as usize;
        let value = &data[start..start + len];
        // The name attribute just before: `key="…"` or `name="…"` and spaces.
        let before = data[..at].trim_ascii_end();
        let Some(before) = before.strip_suffix(b"\"") else {
            continue;
        };
        let before = if escaped {
            before.strip_suffix(b"\\").unwrap_or(before)
        } else {
            before
        };
        let Some(open) = memchr::memrchr(b'"', &before[before.len().saturating_sub(66)..]) else {
            continue;
        };
        let open = before.len().saturating_sub(66) + open;
        let name = &before[open + 1..];
        let attribute = before[..open]
            .strip_suffix(if escaped {
                b"=\\".as_slice()
            } else {
                b"=".as_slice()
            })
            .unwrap_or(b"");
        if !(attribute.ends_with(b"key") || attribute.ends_with(b"name")) || !is_secret_key_name(name) {
            continue;
        }
        let credential = if value.iter().all(|&b| super::runs::is_run_byte(b) || b == b'=') {
            credential_value(name, trim_padding(value))
        } else {
            value.len() >= 10 && strong_password(value)
        };
        if credential && !is_placeholder(value) {
            f(start, start + len);
        }
    }
}

/// Which of the layouts judged by a pattern of their own a layer may hold, by the literals
/// each needs: one search of the layer decides, so that text holding none of them costs that
/// search alone.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cues {
    /// `value` (name/value lists): [`named_values`].
    pub values: bool,
    /// `VALUES` (SQL rows): [`sql_inserts`].
    pub sql: bool,
    /// A database or remote-shell client, curl, or a long option: [`command_line_passwords`].
    pub clients: bool,
    /// `Error`, `Exception`: [`quoted_in_errors`].
    pub errors: bool,
    /// A lookup command (`dig`, `nslookup`, `host`, `ping`, `drill`).
    pub lookups: bool,
}

impl Cues {
    pub(crate) fn of(data: &[u8]) -> Self {
        const WORDS: [&str; 17] = [
            "alue",
            "VALUES",
            "values",
            "mysql",
            "mariadb",
            "sshpass",
            "redis-cli",
            "Error",
            "Exception",
            "dig",
            "lookup",
            "host",
            "ping",
            "drill",
            "curl",
            "--",
            // smbclient, rpcclient.
            "client",
        ];
        // One vectorised search per literal, each stopping at its first hit, is cheaper than one
        // automaton over all of them: short literals such as `dig` defeat its prefilter.
        static FINDERS: OnceLock<Vec<memchr::memmem::Finder<'static>>> = OnceLock::new();
        let finders = FINDERS.get_or_init(|| {
            WORDS
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect()
        });
        let any =
            |range: std::ops::RangeInclusive<usize>| finders[range].iter().any(|f| f.find(data).is_some());
        Self {
            values: any(0..=0),
            sql: any(1..=2),
            clients: any(3..=6) || any(14..=16),
            errors: any(7..=8),
            lookups: any(9..=13),
        }
    }
}

/// Settings written as a name and a value side by side rather than `name = value`: an
/// environment list (`{"name": "DB_PASSWORD", "value": "…"}`, Kubernetes' `- name: …` /
/// `value: …`), tags (`{"Key": …, "Value": …}`), Hadoop-style XML properties
/// (`<name>fs.s3a.secret.key</name><value>…</value>`). The value is judged as if assigned to
/// the name. Calls `f(start, end)` for each credential.
pub(crate) fn named_values(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static PAIRS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let pairs = PAIRS.get_or_init(|| {
        regex::bytes::Regex::new(concat!(
            r#"(?i)["']?\b(?:name|key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z][A-Za-z0-9_.\-]{2,63})["']?[ \t]*(?:,|\r?\n)\s*"#,
            r#"["']?value["']?[ \t]*[:=][ \t]*["']?([^"'\s,}<]{8,256})"#,
            r#"|<name>[ \t]*([A-Za-z][A-Za-z0-9_.\-]{2,63})[ \t]*</name>\s*<value>[ \t]*([^<\s]{8,256})[ \t]*</value>"#,
        ))
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in pairs.captures_iter(data) {
        let (Some(name), Some(value)) = (caps.get(1).or(caps.get(3)), caps.get(2).or(caps.get(4))) else {
            continue;
        };
        if is_secret_key_name(name.as_bytes())
            && (is_well_known(value.as_bytes()) || credential_value(name.as_bytes(), value.as_bytes()))
        {
            f(value.start(), value.end());
        }
    }
}

/// Rows written by SQL: `INSERT INTO t (…, dd_api_key, …) VALUES (…, '…', …)`; each value is
/// judged under its column's name. Calls `f(start, end)` for each credential.
pub(crate) fn sql_inserts(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static INSERT: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let insert = INSERT.get_or_init(|| {
        regex::bytes::Regex::new(r#"(?i)\binsert\s+into\s+[\w."`\[\]]+\s*\(([^()]{1,1024})\)\s*values\s*\(((?:[^()']|'(?:[^']|'')*'|\([^()]*\))+)\)"#)
            .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in insert.captures_iter(data) {
        let (Some(columns), Some(values)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let names = columns.as_bytes().split(|&b| b == b',').map(|n| n.trim_ascii());
        for (name, (start, end)) in names.zip(sql_values(values.as_bytes())) {
            let quote = |b: &u8| matches!(b, b'"' | b'`' | b'[' | b']');
            let from = name.iter().position(|b| !quote(b)).unwrap_or(name.len());
            let to = name.iter().rposition(|b| !quote(b)).map_or(from, |p| p + 1);
            let name = &name[from..to.max(from)];
            let value = &values.as_bytes()[start..end];
            if is_secret_key_name(name) && (is_well_known(value) || credential_value(name, value)) {
                f(values.start() + start, values.start() + end);
            }
        }
    }
}

/// The values of a SQL `VALUES (…)` list, as ranges without their quotes (`''` is a quote
/// inside one).
fn sql_values(list: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i <= list.len() {
        while i < list.len() && list[i].is_ascii_whitespace() {
            i += 1;
        }
        let (start, end);
        if list.get(i) == Some(&b'\'') {
            start = i + 1;
            let mut j = start;
            while j < list.len() && (list[j] != b'\'' || list.get(j + 1) == Some(&b'\'')) {
                j += if list[j] == b'\'' { 2 } else { 1 };
            }
            end = j.min(list.len());
            i = memchr::memchr(b',', &list[end.min(list.len())..]).map_or(list.len() + 1, |c| end + c + 1);
        } else {
            start = i;
            let comma = memchr::memchr(b',', &list[i.min(list.len())..]).map_or(list.len(), |c| i + c);
            end = comma;
            i = comma + 1;
        }
        out.push((start, end.max(start)));
    }
    out
}

/// Passwords given to database and remote-shell clients on their command line:
/// `mysql -p'…'` (and `mysqldump`, `mariadb`), `sshpass -p …`, `redis-cli -a …`, `curl -u
/// user:…`; and long options named for a credential (`--account-key …`). Calls
/// `f(start, end)` for each value that is not a variable or a placeholder.
pub(crate) fn command_line_passwords(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static FLAGS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        regex::bytes::Regex::new(concat!(
            r#"(?:\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n|;&]*?\s-p|\bsshpass\s+-p\s*|\bredis-cli\b[^\n|;&]*?\s(?:-a|--pass)\s+"#,
            // Samba's `-U user%password` (smbclient, rpcclient, smbcacls, smbget).
            r#"|\b(?:smbclient|rpcclient|smbcacls|smbget)\b[^\n|;&]*?\s(?:-U|--user=?)\s*['"]?[^\s%'"]{1,64}%"#,
            // curl's `-u user:password`, the pair quoted whole or the password alone.
            r#"|\bcurl\b[^\n|;&]*?\s(?:-u|--user)\s*['"]?[^\s:'"]{1,64}:)"#,
            r#"(?:'([^'\s]{6,128})'|"([^"\s]{6,128})"|([^\s'"\-$][^\s'"]{5,127}))"#,
        ))
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in flags.captures_iter(data) {
        let Some(value) = caps.get(1).or(caps.get(2)).or(caps.get(3)) else {
            continue;
        };
        let bytes = value.as_bytes();
        let classes = [u8::is_ascii_lowercase, u8::is_ascii_uppercase, u8::is_ascii_digit]
            .iter()
            .filter(|class| bytes.iter().any(class))
            .count();
        if classes >= 2 && !bytes.starts_with(b"$") && !is_placeholder(bytes) && !code_expression(bytes) {
            f(value.start(), value.end());
        }
    }
    // Any tool's long option named for a credential (`az storage … --account-key …`,
    // `--client-secret=…`, `--api-token '…'`): its value is judged as if assigned to the name.
    static OPTIONS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let options = OPTIONS.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"(?:^|\s)--([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+){0,5})(?:=|[ \t]+)(?:'([^'\s]{8,256})'|"([^"\s]{8,256})"|([^\s'"\-$][^\s'"]{7,255}))"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in options.captures_iter(data) {
        let (Some(name), Some(value)) = (caps.get(1), caps.get(2).or(caps.get(3)).or(caps.get(4))) else {
            continue;
        };
        let bytes = value.as_bytes();
        if is_secret_key_name(name.as_bytes())
            && credential_value(name.as_bytes(), bytes)
            && !bytes.starts_with(b"$")
            && !code_expression(bytes)
        {
            f(value.start(), value.end());
        }
    }
}

/// A credential's name in prose, then its value: "I set adminPassword to afR7H^&7fA7G",
/// "set `MISTRAL_API_KEY` to `95af…`", "the api_key is …". Calls `f(start, end)` for each value
/// that is a credential by the name's measure.
pub(crate) fn named_in_prose(data: &[u8], mut f: impl FnMut(usize, usize)) {
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let mut judged_to = 0;
    // From each word a credential's name holds: the name around it, then a verb, then the value.
    for hit in name_words().find_iter(data) {
        if hit.start() < judged_to {
            continue;
        }
        let name_start = hit.start()
            - data[..hit.start()]
                .iter()
                .rev()
                .take(64)
                .take_while(|&&b| name_byte(b))
                .count();
        let name_end = hit.end()
            + data[hit.end()..]
                .iter()
                .take(64)
                .take_while(|&&b| name_byte(b))
                .count();
        judged_to = name_end;
        let name = &data[name_start..name_end];
        let mut at = name_end + (data.get(name_end) == Some(&b'`')) as usize;
        let gap = |at: usize| {
            data[at.min(data.len())..]
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count()
        };
        let spaces = gap(at);
        if spaces == 0 {
            continue;
        }
        at += spaces;
        let Some(verb) = [&b"to"[..], b"is", b"was", b"as", b"equals"]
            .into_iter()
            .find(|v| data[at..].starts_with(v))
        else {
            continue;
        };
        at += verb.len();
        let spaces = gap(at);
        if spaces == 0 || name.len() < 3 || !name[0].is_ascii_alphabetic() || !is_secret_key_name(name) {
            continue;
        }
        at += spaces;
        if data.get(at).is_some_and(|b| matches!(b, b'`' | b'\'' | b'"')) {
            at += 1;
        }
        let len = data[at..]
            .iter()
            .take(200)
            .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'`' | b'\'' | b'"'))
            .count();
        let raw = &data[at..at + len];
        let trail = raw
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'.' | b',' | b';' | b':' | b'!' | b'?' | b')'))
            .count();
        let value = &raw[..raw.len() - trail];
        if value.len() >= 8
            && (credential_value(name, value) || strong_password(value))
            && !code_expression(value)
            && !value.windows(3).any(|w| w == b"://")
        {
            f(at, at + value.len());
        }
    }
}

/// A key or token given in prose: the word for one ("token", "api key", "secret",
/// "credential"; not a bare "key", which names public halves, fingerprints and lookup keys as
/// often), then within the sentence a value that is key material by its randomness ("here's
/// the twilio auth token for staging: c8c3…"). Words only between the two, and a space or a
/// colon before the value: `api-key&sha256=…` and `X-Amz-Credential=AKIA…` are not prose
/// (assignments are judged as such). Calls `f(start, end)`.
pub(crate) fn spoken_keys(data: &[u8], mut f: impl FnMut(usize, usize)) {
    if name_words().find(data).is_none() {
        return;
    }
    static SPOKEN: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let spoken = SPOKEN.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"(?i)\b(?:token|api[ _-]?key|private[ _-]?key|secret|credential)s?\b([A-Za-z ',()\-]{0,48}?)(?::[ \t]*|[ \t]+)['"`]?([A-Za-z0-9+/_\-]{20,200})\b"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in spoken.captures_iter(data) {
        let (Some(between), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        // Public halves and their fingerprints are named so too ("the public key: …").
        let between = between.as_bytes().to_ascii_lowercase();
        if memchr::memmem::find(&between, b"fingerprint").is_some()
            || memchr::memmem::find(&between, b"public").is_some()
        {
            continue;
        }
        let bytes = value.as_bytes();
        // SSH public key blobs open with their type's length, `AAAA` in base64.
        if bytes.iter().any(u8::is_ascii_digit)
            && !bytes.starts_with(b"AAAA")
            && looks_random_body(bytes)
            && !is_placeholder(bytes)
            && !code_expression(bytes)
            && !is_uuid(bytes)
        {
            f(value.start(), value.end());
        }
    }
}

/// How many of small letters, capitals, digits and punctuation a value holds: a password as
/// chosen has two at least, a word written in its place (`mypassword`) one.
pub(crate) fn character_classes(value: &[u8]) -> usize {
    [
        u8::is_ascii_lowercase,
        u8::is_ascii_uppercase,
        u8::is_ascii_digit,
        u8::is_ascii_punctuation,
    ]
    .iter()
    .filter(|class| value.iter().any(class))
    .count()
}

/// Passwords in the files that install and join machines, each found by its own keyword
/// first: IPsec's `ipsec.secrets` (`… : PSK "…"`), Cisco's `crypto isakmp key … address`,
/// cloud-init's `chpasswd` (its `list` of `user:password` lines, or `echo 'user:pw' |
/// chpasswd`), and Windows unattend files (`<AdministratorPassword><Value>…</Value>`, also
/// when `<PlainText>false` has it base64'd). Calls `f(start, end)` for each.
pub(crate) fn setup_file_passwords(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static PATTERNS: OnceLock<[(&'static [u8], regex::bytes::Regex); 4]> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        let re = |p: &str| regex::bytes::Regex::new(p).expect("a fixed pattern compiles"); // invariant: fixed input
        [
            (&b"PSK"[..], re(r#":\s*PSK\s+"([^"\n]{4,128})""#)),
            (b"isakmp key", re(r"crypto isakmp key ([^\s]{4,128}) address")),
            (
                b"chpasswd",
                re(r#"(?m)(?:^[ \t]+[A-Za-z_][A-Za-z0-9_.-]{0,31}:([^\s:]{6,128})[ \t]*\r?$|echo\s+['"]?[A-Za-z_][A-Za-z0-9_.-]{0,31}:([^'"\s|]{6,128})['"]?\s*\|\s*(?:sudo\s+)?chpasswd)"#),
            ),
            (b"<Value>", re(r"<(?:AdministratorPassword|Password)>\s*<Value>([^<]{4,256})</Value>")),
        ]
    });
    for (gate, pattern) in patterns.iter() {
        if memchr::memmem::find(data, gate).is_none() {
            continue;
        }
        // A chpasswd list is the lines under its `list:`; other lines of the file are not.
        let listed = *gate == b"chpasswd" && memchr::memmem::find(data, b"chpasswd:").is_some();
        for caps in pattern.captures_iter(data) {
            let Some(value) = caps
                .get(1)
                .filter(|_| *gate != b"chpasswd" || listed)
                .or(caps.get(2))
            else {
                continue;
            };
            let bytes = value.as_bytes();
            if character_classes(bytes) >= 2 && !is_placeholder(bytes) && !bytes.starts_with(b"$") {
                f(value.start(), value.end());
            }
        }
    }
}

/// An element whose attribute says its text is base64 (FileZilla's `<Pass
/// encoding="base64">…</Pass>`, .NET's and Java's settings files), under a credential's name:
/// the decoded text is judged as the name's value. Calls `f(start, end)` with the base64.
pub(crate) fn base64_elements(data: &[u8], mut f: impl FnMut(usize, usize)) {
    if memchr::memmem::find(data, b"=\"base64\"").is_none() {
        return;
    }
    static ELEMENTS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let elements = ELEMENTS.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"<([A-Za-z][A-Za-z0-9_.:-]{0,63})\s[^>]{0,64}?encoding="base64"[^>]{0,64}>\s*([A-Za-z0-9+/]{8,684}={0,2})\s*</"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in elements.captures_iter(data) {
        let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let decoded = super::decode::base64::decode_whole(value.as_bytes());
        let credential = decoded.is_some_and(|text| {
            text.iter().all(u8::is_ascii_graphic) && credential_value(name.as_bytes(), &text)
        });
        if credential && is_secret_key_name(name.as_bytes()) {
            f(value.start(), value.end());
        }
    }
}

/// A private key written as 32 bytes of hex and handed to the call that loads one
/// (`Account.from_key('0x…')`, `new ethers.Wallet("0x…")`, `privateKeyToAccount('0x…')`,
/// `SigningKey.from_string(bytes.fromhex('…'))`): what the call takes says what the hex is.
/// Calls `f(start, end)` for each.
pub(crate) fn keys_in_calls(data: &[u8], mut f: impl FnMut(usize, usize)) {
    let opens = |s: &[u8]| memchr::memmem::find(data, s).is_some();
    if !opens(b"('") && !opens(b"(\"") && !opens(b"['0x") && !opens(b"[\"0x") {
        return;
    }
    static CALLS: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let calls = CALLS.get_or_init(|| {
        regex::bytes::Regex::new(
            r#"(?i)\b(?:(?:from_key|fromprivatekey|privatekeytoaccount|wallet|signingkey|privatekey|private_key|from_string|fromhex|fromsecretkey)\s*\(\s*(?:bytes\.fromhex\s*\(\s*)?|accounts\s*:\s*\[\s*)['"]((?:0x)?[0-9a-f]{64})['"]"#,
        )
        .expect("a fixed pattern compiles") // invariant: fixed input
    });
    for caps in calls.captures_iter(data) {
        if let Some(key) = caps
            .get(1)
            .filter(|k| looks_random(k.as_bytes().strip_prefix(b"0x").unwrap_or(k.as_bytes())))
        {
            f(key.start(), key.end());
        }
    }
}

/// A value quoted in an error message whose code, a few lines above, interpolated a
/// credential's name (`raise AuthError(f"rejected {self.db_password!r}")` …
/// `AuthError: rejected '…'`): tracebacks and logs quote what they were given. Calls
/// `f(start, end)` for each quoted value that is a credential by the name's measure.
pub(crate) fn quoted_in_errors(data: &[u8], mut f: impl FnMut(usize, usize)) {
    static ERRORS: OnceLock<(regex::bytes::Regex, regex::bytes::Regex)> = OnceLock::new();
    let (errors, interpolated) = ERRORS.get_or_init(|| {
        (
            regex::bytes::Regex::new(
                r#"(?m)^[ \t]*[A-Za-z_][A-Za-z0-9_.]*(?:Error|Exception|Failure)\b[^\n]*?['"]([^'"\n]{8,200})['"]"#,
            )
            .expect("a fixed pattern compiles"), // invariant: fixed input
            regex::bytes::Regex::new(r#"(?:\{|%\(|\$\{)(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Za-z_][A-Za-z0-9_]{2,63})(?:![rsa])?(?:\}|\)s)"#)
                .expect("a fixed pattern compiles"), // invariant: fixed input
        )
    });
    for caps in errors.captures_iter(data) {
        let Some(value) = caps.get(1) else { continue };
        let from = value.start().saturating_sub(1500);
        let above = &data[from..caps.get(0).map_or(value.start(), |m| m.start())];
        let name = interpolated
            .captures_iter(above)
            .filter_map(|c| c.get(1))
            .map(|n| n.as_bytes())
            .filter(|n| is_secret_key_name(n))
            .last();
        let bytes = value.as_bytes();
        if let Some(name) = name {
            if (credential_value(name, bytes) || strong_password(bytes)) && !code_expression(bytes) {
                f(value.start(), value.end());
            }
        }
    }
}

/// Rows under a header line that names a credential column (`service,owner,client_secret`):
/// each row's cell in that column is judged as if assigned to the name, like
/// [`keyed_attributes`]. The header is the first line: comma-, tab-, semicolon- or
/// pipe-separated names, optionally quoted. Calls `f(start, end)` for each credential.
pub(crate) fn csv_columns(data: &[u8], mut f: impl FnMut(usize, usize)) {
    csv_table(data, &mut f);
    // A table quoted in a message: after a blank line ("Convert the following:\n\nname,…"),
    // opening a string (`"text": "name,…`) or a fenced block.
    static STARTS: OnceLock<[memchr::memmem::Finder<'static>; 3]> = OnceLock::new();
    let [blank, string, fence] =
        STARTS.get_or_init(|| [b"\n\n".as_slice(), b"\": \"", b"```\n"].map(memchr::memmem::Finder::new));
    let starts = blank
        .find_iter(data)
        .map(|at| at + 2)
        .chain(string.find_iter(data).map(|at| at + 4))
        .chain(fence.find_iter(data).map(|at| at + 4))
        .take(64);
    for start in starts {
        csv_table(&data[start..], &mut |s, e| f(start + s, start + e));
    }
}

/// [`csv_columns`] for a table whose header is the first line of `data`.
fn csv_table(data: &[u8], f: &mut impl FnMut(usize, usize)) {
    let Some(header_end) = memchr::memchr(b'\n', &data[..data.len().min(1024)]) else {
        return;
    };
    let header = data[..header_end]
        .strip_suffix(b"\r")
        .unwrap_or(&data[..header_end]);
    let Some(&delimiter) = [b',', b'\t', b';', b'|']
        .iter()
        .max_by_key(|&&d| header.iter().filter(|&&b| b == d).count())
        .filter(|&&d| header.contains(&d))
    else {
        return;
    };
    let unquote = |cell: &[u8]| -> (usize, usize) {
        let trimmed_start = cell.len() - cell.trim_ascii_start().len();
        let t = cell.trim_ascii();
        let q = t.len() >= 2 && matches!(t[0], b'"' | b'\'') && t[t.len() - 1] == t[0];
        let s = trimmed_start + q as usize;
        (s, s + t.len() - 2 * q as usize)
    };
    let names: Vec<&[u8]> = header
        .split(|&b| b == delimiter)
        .map(|cell| {
            let (s, e) = unquote(cell);
            &cell[s..e]
        })
        .collect();
    if names.len() < 2
        || !names
            .iter()
            .all(|n| !n.is_empty() && n.iter().all(|&b| is_name_byte(b) || b == b' '))
    {
        return;
    }
    let columns: Vec<usize> = (0..names.len())
        .filter(|&i| is_secret_key_name(names[i]) || names_a_key(names[i]))
        .collect();
    // Or a column of names beside a column of values (`service,key_name,value,owner`): each
    // row's value is judged under the name in its row.
    let column = |words: &[&str]| {
        names.iter().position(|n| {
            let normal: Vec<u8> = n
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_lowercase)
                .collect();
            words.iter().any(|w| normal == w.as_bytes())
        })
    };
    let pair = column(&[
        "name",
        "keyname",
        "key",
        "variable",
        "var",
        "envvar",
        "setting",
        "secretname",
    ])
    .zip(column(&["value", "val", "secretvalue"]));
    if columns.is_empty() && pair.is_none() {
        return;
    }
    let credential = |name: &[u8], value: &[u8]| {
        let credential = if value.iter().all(|&b| super::runs::is_run_byte(b) || b == b'=') {
            if is_secret_key_name(name) {
                credential_value(name, trim_padding(value))
            } else {
                strong_key(trim_padding(value))
            }
        } else {
            value.len() >= 10 && (strong_password(value) || dotted_secret(value)) && !code_expression(value)
        };
        credential && !is_placeholder(value)
    };
    let mut line_start = header_end + 1;
    for line in data[header_end + 1..].split(|&b| b == b'\n').take(10_000) {
        let row_start = line_start;
        line_start += line.len() + 1;
        let mut cell_start = row_start;
        let mut cells: Vec<(usize, &[u8])> = Vec::new();
        for (i, cell) in line.split(|&b| b == delimiter).enumerate() {
            let at = cell_start;
            cell_start += cell.len() + 1;
            let (s, e) = unquote(cell.strip_suffix(b"\r").unwrap_or(cell));
            cells.push((at + s, &cell[s..e]));
            if columns.contains(&i) && credential(names[i], &cell[s..e]) {
                f(at + s, at + e);
            }
        }
        if let Some((name_at, value_at)) = pair {
            if let (Some(&(_, name)), Some(&(at, value))) = (cells.get(name_at), cells.get(value_at)) {
                if is_secret_key_name(name) && credential(name, value) {
                    f(at, at + value.len());
                }
            }
        }
    }
}

/// The word for a password in the languages agents are asked in (the ASCII ones also in
/// capitals through ASCII case folding).
const PASSWORD_WORDS: &[&str] = &[
    "password",
    // Short forms: chat and notes abbreviate the word (`root pw on the box is …`, `user ci /
    // pass …`).
    "pw",
    "pwd",
    "pass",
    "passwort",
    "passphrase",
    "passcode",
    "passwd",
    // OpenLDAP's client and server settings (`bindpw …` in ldap.conf, `rootpw …`), Redis's.
    "bindpw",
    "rootpw",
    "requirepass",
    "masterauth",
    "passord",
    "mot de passe",
    "kennwort",
    "wachtwoord",
    "contraseña",
    "contrasena",
    "senha",
    "lösenord",
    "adgangskode",
    "hasło",
    "haslo",
    "heslo",
    "jelszó",
    "parola",
    "şifre",
    "sifre",
    "salasana",
    "kata sandi",
    "mật khẩu",
    "пароль",
    "гасло",
    "κωδικός",
    "סיסמה",
    "كلمة المرور",
    "पासवर्ड",
    "パスワード",
    "密码",
    "密碼",
    "비밀번호",
    "รหัสผ่าน",
];

/// Words for "is" after which a password's word is followed by its value, in the languages of
/// [`PASSWORD_WORDS`] that write one (`is`, `lautet`, `est`, `é`, `är`, `jest`, `je`).
const COPULAS: &[&str] = &[
    "is", "was", "lautet", "ist", "est", "es", "é", "è", "är", "er", "jest", "je", "wynosi", "on", "az",
];

fn password_words() -> &'static AhoCorasick {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS.get_or_init(|| {
        // Longest first: `pass` is the start of `password`, `passwort` and `passphrase`.
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(PASSWORD_WORDS)
            .expect("a few dozen literals always compile") // invariant: fixed input
    })
}

/// Letters and digits interleaved, three changes between them or more (`Kp4nWq9tRz2m`):
/// what a generated password has and a product or version name (`iPhone15Pro`, `Windows11`)
/// has not.
fn interleaved(value: &[u8]) -> bool {
    let kinds = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::is_ascii_digit);
    let changes = kinds.clone().zip(kinds.skip(1)).filter(|(a, b)| a != b).count();
    mixes_cases_and_digits(value) && changes >= 3
}

/// A password given in prose: the word for one (in any of [`PASSWORD_WORDS`]), then within
/// the next few words one that is a credential by [`strong_password`], [`dotted_secret`],
/// [`strong_key`], a [`passphrase`], or [`password_like`] and [`interleaved`] or after a
/// label's colon ("the password is Quasar=690.Nx", "パスワードは Tr0ub4dor&3x です", "the password
/// for the admin account is Kp4nWq9tRz2m", "use root with password lagoon-falcon-umber-26",
/// "mot de passe pour NAS : Quartz184!"). After a short form (`pw`, `pwd`, `pass`) only key
/// material or a strong password of twelve or more counts. Calls `f(start, end)` for each.
pub(crate) fn spoken_passwords(data: &[u8], mut f: impl FnMut(usize, usize)) {
    for hit in password_words().find_iter(data) {
        // The word as a word of a sentence: not inside another (`passwordless`), and followed
        // by a space or a label's colon (`user:password@host` is a URL, not a sentence).
        let before = hit.start().checked_sub(1).map(|i| data[i]);
        let ascii_word = data[hit.start()].is_ascii();
        // Languages that inflect the word by a suffix (`şifresi`, `salasanan`, `jelszót`,
        // `passwordu`): up to four letters after a word that is not English's.
        let english = data[hit.start()..hit.end()]
            .iter()
            .all(|b| b"pasword".contains(&(b | 0x20)) || b.is_ascii_whitespace())
            || hit.end() - hit.start() <= 4;
        let suffix = if english {
            0
        } else {
            data[hit.end()..]
                .iter()
                .take(5)
                .take_while(|b| b.is_ascii_alphabetic())
                .count()
        };
        let hit_end = hit.end() + if suffix <= 4 { suffix } else { 0 };
        let after = data.get(hit_end).copied();
        if ascii_word && before.is_some_and(|b| b.is_ascii_alphanumeric())
            || !after.is_some_and(|b| b == b' ' || b == b':' || b >= 0x80)
        {
            continue;
        }
        // Within the sentence: up to a line break or a closing quote.
        let reach = &data[hit_end..data.len().min(hit_end + 64)];
        let window_end = hit_end
            + reach
                .iter()
                .position(|&b| matches!(b, b'\n' | b'"' | b'\\'))
                .unwrap_or(reach.len());
        // The short forms are words of other sentences too (`pass the test`): a value after
        // one must be key material or a password beyond doubt.
        let short = hit.end() - hit.start() <= 4;
        let mut at = hit_end;
        // After a label's colon (`mot de passe pour NAS : Quartz184!`) the word is the value,
        // with its closing `!` or `?`.
        let mut labelled = false;
        for word in data[hit_end..window_end]
            .split(|b| b.is_ascii_whitespace())
            .take(9)
        {
            let word_at = at;
            at += word.len() + 1;
            if word.is_empty() {
                continue;
            }
            // Trailing punctuation of the sentence, and a label's colon, are not the value's.
            let lead = word
                .iter()
                .take_while(|&&b| matches!(b, b':' | b'"' | b'\'' | b'`' | b'('))
                .count();
            let core = &word[lead..];
            // Scripts written without spaces end an ASCII word at their first character
            // (`密码是 Bluebird8855#，请…`).
            let core = match core.iter().position(|&b| b >= 0x80) {
                Some(i) if i > 0 => &core[..i],
                _ => core,
            };
            let closing = |b: &u8| matches!(b, b',' | b'.' | b';' | b')' | b'"' | b'\'' | b'`');
            let trail = core
                .iter()
                .rev()
                .take_while(|&b| closing(b) || (!labelled && matches!(b, b'!' | b'?')))
                .count();
            // A `!` or `?` before a comma or semicolon ends no sentence: it is the value's
            // (`şifresi Copper1239!, kullanıcı …`).
            let trail = match &core[core.len() - trail..] {
                [b'!' | b'?', b',' | b';', ..] => trail - 1,
                _ => trail,
            };
            let value = &core[..core.len() - trail];
            // In a query or a form, `&name=` begins the next field (`…manager 2025&form=QBLH`).
            let next_field = value.iter().enumerate().position(|(i, &b)| {
                b == b'&' && {
                    let name = value[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    name > 0 && value.get(i + 1 + name) == Some(&b'=')
                }
            });
            let value = next_field.map_or(value, |i| &value[..i]);
            let was_labelled = labelled;
            // A label's colon, or a verb that says "is" (`Das Passwort … lautet Zv1WyVu…`), makes
            // the next word the value.
            labelled =
                word.ends_with(b":") || COPULAS.iter().any(|c| word.eq_ignore_ascii_case(c.as_bytes()));
            let url = value.windows(3).any(|w| w == b"://") || value.starts_with(b"www.");
            // A log line's or a search's `user_id=56031`, `language:TypeScript`: a field.
            let field = value
                .iter()
                .position(|&b| b == b'=' || b == b':')
                .is_some_and(|i| i >= 2 && value[..i].iter().all(|&b| b.is_ascii_lowercase() || b == b'_'));
            let strong = (strong_password(value) && (!short || value.len() >= 12))
                || dotted_secret(value)
                || strong_key(value);
            let credential = value.len() >= 8
                && !field
                && (strong
                    || (!short && passphrase(value))
                    || (!short && password_like(value) && (interleaved(value) || was_labelled)))
                && !url
                && !is_placeholder(value)
                && !code_expression(value);
            if credential {
                // A value longer than the sentence's reach is reported whole, so that what
                // explains it (ciphertext under `encryptedData`) sees all of it.
                let mut end = word_at + lead + value.len();
                if end == window_end {
                    end += data[end..]
                        .iter()
                        .take(4096)
                        .take_while(|&&b| !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\\' | b'\''))
                        .count();
                }
                f(word_at + lead, end);
                break;
            }
        }
    }
}

/// Every name [`is_secret_key_name`] accepts spells one of these words in lower case,
/// capitalised or in capitals (`apiKey`, `DB_PASSWORD`, `client_secret`): found by one
/// literal search, they are where assignments worth judging can be, so ordinary text (JSON is
/// full of `:`) costs that search and nothing per operator.
const NAME_WORDS: &[&str] = &[
    "secret",
    "token",
    "pass",
    // The short form of a spoken password (`root pw on the box is …`); `pwd` begins so.
    "pw",
    "key",
    "credential",
    "auth",
    // Session cookies' names ([`session_cookie_name`]): `PHPSESSID`, `ASP.NET_SessionId`.
    "sess",
    // WPA's pre-shared key; a personal access token's short name as a last word (`_PAT`).
    "psk",
    "_pat",
];

fn name_words() -> &'static AhoCorasick {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    WORDS.get_or_init(|| {
        // Three forms of each word (no more than 32 patterns in all: past that the automaton's
        // vectorised search takes its slower, wider form).
        let mut forms: Vec<String> = NAME_WORDS
            .iter()
            .flat_map(|w| {
                let mut capital = w.to_string();
                capital[..1].make_ascii_uppercase();
                [w.to_string(), capital, w.to_ascii_uppercase()]
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        forms.retain(|f| seen.insert(f.clone()));
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(forms)
            .expect("two dozen short literals always compile") // invariant: fixed input
    })
}

/// The operators (`=`, `:`, `>`; `=>` gives both) that end a key name holding one of
/// [`NAME_WORDS`], in order: a superset of those [`key_before`] accepts with a credential
/// name, since it skips the same quotes and spaces backwards that this skips forwards.
/// Returns whether a word of the password family (`pass`, `pwd` in any case) occurs.
pub(crate) fn assignment_operators(data: &[u8], out: &mut Vec<usize>) -> bool {
    let mut password = false;
    for hit in name_words().find_iter(data) {
        password |= matches!(data[hit.start()] | 0x20, b'p');
        let name_end = hit.start() + 64;
        let mut i = hit.end();
        while i < data.len().min(name_end) && is_name_byte(data[i]) {
            i += 1;
        }
        let quoted = data.get(i).is_some_and(|&b| b == b'"' || b == b'\'');
        let gap_end = i + 80;
        // A subscript closes between a quoted name and its operator (`os.environ["KEY"] = `).
        while i < data.len().min(gap_end) && (is_quote_or_space(data[i]) || (quoted && data[i] == b']')) {
            i += 1;
        }
        let operators_end = (i + 2).min(data.len());
        let operators_at = i;
        while i < operators_end && matches!(data[i], b'=' | b':' | b'>') {
            out.push(i);
            i += 1;
        }
        if i > operators_at {
            // The value after an authorization scheme (`"Authorization": "Bearer …"`).
            let mut j = i;
            while j < data.len().min(i + 4) && is_quote_or_space(data[j]) {
                j += 1;
            }
            if data[j.min(data.len())..].starts_with(b"Bearer ") {
                out.push(j + 6);
            }
            // A YAML map named for a credential, its value in a slot below (`value:`).
            if data[i - 1] == b':' {
                out.extend(yaml_value_slot(data, i));
            }
        }
        // A value slot after the pair that names it (`"k": "API_KEY", "v": `, `k=…&v=`).
        out.extend(value_slot_after(data, i));
        // A quoted name and its quoted value side by side: SQL rows (`'api_key', '…'`), calls
        // (`set("token", "…")`), quoted CSV.
        if quoted
            && data.get(i) == Some(&b',')
            && data[i + 1..]
                .trim_ascii_start()
                .first()
                .is_some_and(|&b| b == b'"' || b == b'\'')
        {
            out.push(i);
        }
    }
    out.sort_unstable();
    out.dedup();
    password
}

/// The operator of a value slot (`v`, `val`, `value`, `data`, `hex`…; see [`is_value_key`]) that
/// follows the name whose pair ends at `at`: `, "v": ` or `&v=`.
fn value_slot_after(data: &[u8], at: usize) -> Option<usize> {
    if !matches!(data.get(at), Some(b',' | b'&' | b';')) {
        return None;
    }
    let mut i = at + 1;
    let skip = |mut i: usize| {
        while i < data.len().min(at + 24) && is_quote_or_space(data[i]) {
            i += 1;
        }
        i
    };
    i = skip(i);
    let key = data[i..]
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    if !is_value_key(&data[i..i + key]) {
        return None;
    }
    i = skip(i + key);
    matches!(data.get(i), Some(b':' | b'=')).then_some(i)
}

/// The colon of a `value:` or `data:` slot among the next four lines after a YAML key that
/// opens a map (`API_KEY:` and nothing after it on its line), `after` being past its colon.
fn yaml_value_slot(data: &[u8], after: usize) -> Option<usize> {
    let rest = &data[after..data.len().min(after + 512)];
    let mut lines = rest.split(|&b| b == b'\n');
    if !lines.next()?.trim_ascii().is_empty() {
        return None;
    }
    let mut at = after + memchr::memchr(b'\n', rest)? + 1;
    for line in lines.take(4) {
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        if indent == 0 {
            return None;
        }
        let body = &line[indent..];
        let key = body.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if body.get(key) == Some(&b':') && is_value_key(&body[..key]) {
            return Some(at + indent + key);
        }
        at += line.len() + 1;
    }
    None
}

/// Whether a value starting at `start` follows one of `operators` with only quotes and spaces
/// between: a run there may be a credential's value.
pub(crate) fn follows_operator(data: &[u8], operators: &[usize], start: usize) -> bool {
    let before = operators.partition_point(|&at| at < start);
    before > 0 && {
        let at = operators[before - 1];
        data[at + 1..start]
            .iter()
            .all(|&b| is_quote_or_space(b) || matches!(b, b'=' | b':' | b'>'))
            && (data[at] != b',' || data[at + 1..start].iter().any(|&b| b == b'"' || b == b'\''))
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_quote_or_space(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t')
}

/// Longest value judged.
const MAX_VALUE: usize = 256;

/// Why there is no value after an operator.
#[derive(Debug, PartialEq, Eq)]
enum NoValue {
    /// Nothing, or a quote that does not close.
    Empty,
    /// Longer than [`MAX_VALUE`].
    TooLong,
}
use NoValue::{Empty, TooLong};

/// The value after an operator at `from`: spaces and one quote skipped, then up to the
/// matching quote, or to whitespace or a delimiter when unquoted.
fn value_after(data: &[u8], from: usize) -> Result<(usize, usize), NoValue> {
    let mut i = from;
    while i < data.len() && matches!(data[i], b' ' | b'\t') {
        i += 1;
    }
    let quote = data.get(i).copied().filter(|b| matches!(b, b'"' | b'\''));
    let start = i + quote.is_some() as usize;
    let stop = |b: u8| match quote {
        Some(q) => b == q || b == b'\\' || b == b'\n',
        None => {
            b.is_ascii_whitespace() || matches!(b, b'&' | b',' | b';' | b'"' | b'\'' | b'<' | b'}' | b']')
        }
    };
    let rest = data.get(start..).ok_or(Empty)?;
    // In an escaped string (JSON, a shell's `$'…'`) `\n`, `\t`, `\"` end an unquoted value.
    let escape = |i: usize| {
        quote.is_none() && rest[i] == b'\\' && matches!(rest.get(i + 1), Some(b'n' | b'r' | b't' | b'"'))
    };
    let len = (0..rest.len().min(MAX_VALUE + 1))
        .position(|i| stop(rest[i]) || escape(i))
        .unwrap_or(rest.len().min(MAX_VALUE + 1));
    if len > MAX_VALUE {
        return Err(TooLong);
    }
    // Unquoted values may end the data; quoted ones must close.
    let closed = quote.is_none() || rest.get(len) == quote.as_ref();
    if len == 0 || !closed {
        return Err(Empty);
    }
    Ok((start, start + len))
}

/// A symbol and two or more of lower case, upper case and digits, and no spaces (prose). The
/// punctuation of paths, names and ids (`- _ . / :`) is structure, not a symbol: `prod/db-AbCd`
/// is a name.
fn strong_password(value: &[u8]) -> bool {
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let digit = value.iter().any(u8::is_ascii_digit);
    let symbol = value
        .iter()
        .any(|b| b.is_ascii_punctuation() && !matches!(b, b'-' | b'_' | b'.' | b'/' | b':'));
    let printable = value.iter().all(|b| b.is_ascii_graphic());
    let templated = value.starts_with(b"$") || value.contains(&b'{') || value.starts_with(b"%");
    // Values without a real symbol are runs, which `generic_assignment` judges.
    printable && !templated && symbol && (lower as u8 + upper as u8 + digit as u8) >= 2
}

fn trim_padding(value: &[u8]) -> &[u8] {
    let end = value.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    &value[..end]
}

/// The key name in front of an assignment that ends just before `at`.
fn key_before(data: &[u8], at: usize) -> Option<&[u8]> {
    let mut i = skip_back(data, at, |b| matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t'));
    // An authorization value written with its scheme (`"Authorization": "Bearer …"`): the
    // credential is the part after the scheme, its name the key before both.
    if at > i && (data[..i].ends_with(b"Bearer") || data[..i].ends_with(b"bearer")) {
        i = skip_back(data, i - 6, |b| matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t'));
    }
    let operator = if paired_value(data, at) {
        i - 1
    } else {
        skip_back(data, i, |b| matches!(b, b'=' | b':' | b'>'))
    };
    if operator == i || i - operator > 2 {
        return None;
    }
    i = skip_back(data, operator, |b| {
        matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t' | b']')
    });
    let name_start = skip_back(data, i, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
    });
    (i - name_start > 0 && i - name_start <= 64).then(|| &data[name_start..i])
}

/// The name a value at `at` is judged under: the key before it, or, when that key only says
/// "the value" (`v`, `val`, `value`, `data`), the name the layout gives it beside or above:
/// the sibling before it in a name/value pair (`{"k": "XAI_API_KEY", "v": "…"}`,
/// `{"name": "dd_api_key", "data": "…"}`, `k=fb_page_access_token&v=…`) or the YAML map it
/// sits in (`API_KEY:` / `  encoding: none` / `  value: "…"`). Tools that dump settings, tags
/// and environments write secrets so as often as `NAME = value`.
fn judged_name(data: &[u8], at: usize) -> Option<&[u8]> {
    let key = key_before(data, at)?;
    if !is_value_key(key) {
        return Some(key);
    }
    let key_start = key.as_ptr() as usize - data.as_ptr() as usize;
    Some(
        sibling_name(data, key_start)
            .or_else(|| yaml_parent(data, key_start))
            .unwrap_or(key),
    )
}

/// A key that names a value slot, not what the value is: the value itself, or how it is
/// written (`{"k": "vercel_token", "hex": "…"}`: the name is the sibling's).
fn is_value_key(key: &[u8]) -> bool {
    [
        &b"v"[..],
        b"val",
        b"value",
        b"data",
        b"hex",
        b"b64",
        b"base64",
        b"enc",
        b"encoded",
    ]
    .iter()
    .any(|k| key.eq_ignore_ascii_case(k))
}

/// The name given by the pair before the key at `key_start`: `"k": "NAME", ` or `name=NAME&`
/// (the label `k`, `key` or `name`), or a JSON Patch's `"path": "/…/NAME", `, so that the
/// value slot after it is NAME's value.
fn sibling_name(data: &[u8], key_start: usize) -> Option<&[u8]> {
    let quote_or_space = |b: u8| matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t');
    let i = skip_back(data, key_start, quote_or_space);
    if i == 0 || !matches!(data[i - 1], b',' | b'&' | b';') {
        return None;
    }
    let end = skip_back(data, i - 1, quote_or_space);
    let start = skip_back(data, end, is_name_byte);
    if start == end || end - start > 64 {
        return None;
    }
    // A JSON Patch operation (RFC 6902: `"path": "/config/api_key", "value": …`) names its
    // value by the pointer's last segment.
    let pointer = skip_back(data, start, |b| is_name_byte(b) || b == b'/');
    if pointer < start && data[pointer] == b'/' {
        return key_before(data, pointer)
            .is_some_and(|label| label.eq_ignore_ascii_case(b"path"))
            .then(|| &data[start..end]);
    }
    let label = key_before(data, start)?;
    [&b"k"[..], b"key", b"name"]
        .iter()
        .any(|k| label.eq_ignore_ascii_case(k))
        .then(|| &data[start..end])
}

/// The key of the YAML map whose indented lines hold the key at `key_start`: the nearest line
/// above indented less, when it is a bare `NAME:` opening the map, within 512 bytes.
fn yaml_parent(data: &[u8], key_start: usize) -> Option<&[u8]> {
    let line = memchr::memrchr(b'\n', &data[..key_start]).map_or(0, |p| p + 1);
    let indent = key_start - line;
    if indent == 0 || !data[line..key_start].iter().all(|&b| b == b' ') {
        return None;
    }
    let floor = line.saturating_sub(512);
    let mut end = line.checked_sub(1)?;
    while end > floor {
        let from = memchr::memrchr(b'\n', &data[floor..end]).map_or(floor, |p| floor + p + 1);
        let above = &data[from..end];
        let above = above.strip_suffix(b"\r").unwrap_or(above);
        let spaces = above.iter().take_while(|&&b| b == b' ').count();
        if !above.trim_ascii().is_empty() && spaces < indent {
            let name = above.trim_ascii().strip_suffix(b":")?;
            return (!name.is_empty() && name.iter().all(|&b| is_name_byte(b))).then_some(name);
        }
        end = from.checked_sub(1)?;
    }
    None
}

fn skip_back(data: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    let floor = i.saturating_sub(80);
    while i > floor && keep(data[i - 1]) {
        i -= 1;
    }
    i
}

/// The alphanumeric pieces of a run (runs also hold `/ + - _`), with their offsets.
pub(crate) fn pieces(run: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0;
    run.split(|b| !b.is_ascii_alphanumeric()).map(move |piece| {
        let at = offset;
        offset += piece.len() + 1;
        (at, piece)
    })
}

/// A Discord bot token whose first part is the run at `start..end`: base64 of the bot's
/// numeric id (17 to 20 digits), a dot, six characters of timestamp, a dot and an HMAC of 27
/// or more characters. Returns the token's end.
pub(crate) fn discord_token(data: &[u8], start: usize, end: usize) -> Option<usize> {
    use base64::Engine as _;
    let id = &data[start..end];
    if !(23..=28).contains(&id.len()) || data.get(end) != Some(&b'.') {
        return None;
    }
    let part = |from: usize| {
        data.get(from..).map_or(0, |rest| {
            rest.iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                .count()
        })
    };
    let stamp = part(end + 1);
    if !(6..=7).contains(&stamp) || data.get(end + 1 + stamp) != Some(&b'.') {
        return None;
    }
    let mac_at = end + 2 + stamp;
    let mac = part(mac_at);
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(id)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id))
        .ok()?;
    let snowflake = (17..=20).contains(&decoded.len()) && decoded.iter().all(u8::is_ascii_digit);
    (snowflake && (27..=40).contains(&mac)).then_some(mac_at + mac)
}

/// A Twilio account SID (`AC` and 32 hex digits) followed within a few quotes, spaces, commas
/// or a colon by 32 hex digits, its auth token (`Client("AC…", "…")`, `-u AC…:…`). Returns the
/// token's range.
pub(crate) fn twilio_pair(data: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let sid = &data[start..end];
    let hex32 =
        |t: &[u8]| t.len() == 32 && t.iter().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if sid.len() != 34 || !sid.starts_with(b"AC") || !hex32(&sid[2..]) {
        return None;
    }
    let gap = data[end..]
        .iter()
        .take(8)
        .take_while(|&&b| matches!(b, b'"' | b'\'' | b' ' | b',' | b':' | b'\t'))
        .count();
    let at = end + gap;
    let len = data[at..]
        .iter()
        .take(33)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    (gap > 0 && hex32(&data[at..at + len])).then_some((at, at + len))
}

/// `SK` followed by 32 hex digits.
pub(crate) fn twilio_key(piece: &[u8]) -> bool {
    piece.len() == 34 && piece.starts_with(b"SK") && piece[2..].iter().all(u8::is_ascii_hexdigit)
}

/// Wallet import format: 51 or 52 base58 characters starting 5, K or L, with a valid checksum.
pub(crate) fn wif_key(piece: &[u8]) -> bool {
    matches!(piece.len(), 51 | 52) && matches!(piece[0], b'5' | b'K' | b'L') && base58check(piece)
}

/// Card numbers: 13 to 19 digits, optionally grouped by single spaces or dashes, with a valid
/// Luhn digit and a major network's prefix. Calls `f(start, end)` for each.
pub(crate) fn cards(data: &[u8], mut f: impl FnMut(usize, usize, &[u8])) {
    let mut i = 0;
    while i < data.len() {
        if i + 8 <= data.len() && !has_digit(&data[i..i + 8]) {
            i += 8;
            continue;
        }
        // Magnetic-stripe track 1 (`%B4054…^NAME^…`) glues a `B` to the number.
        let track = i > 1 && data[i - 1] == b'B' && data[i - 2] == b'%';
        if !data[i].is_ascii_digit() || (i > 0 && data[i - 1].is_ascii_alphanumeric() && !track) {
            i += 1;
            continue;
        }
        let start = i;
        let mut buf = [0u8; 20];
        let mut n = 0;
        // Digits in each group, for numbers grouped by dots.
        let mut groups = [0u8; 21];
        let mut g = 0;
        let mut first_dot = None;
        while i < data.len() && n < buf.len() {
            match data[i] {
                b'0'..=b'9' => {
                    buf[n] = data[i];
                    n += 1;
                    groups[g] += 1;
                }
                b' ' | b'-' | b'+' | b'.'
                    if data.get(i + 1).is_some_and(u8::is_ascii_digit) && g + 1 < groups.len() =>
                {
                    if data[i] == b'.' && first_dot.is_none() {
                        first_dot = Some(i);
                    }
                    g += 1;
                }
                _ => break,
            }
            i += 1;
        }
        let mut digits = &buf[..n];
        // Grouped numbers are cards only in the layouts cards are printed in (4-4-4-4,
        // 4-4-4-4-3, Amex 4-6-5, Diners 4-6-4): an order number (3-7-7), a phone number or a
        // decimal that happens to pass Luhn is not one. A dot may also end the number.
        let mut grouped = g == 0 || card_groups(&groups[..=g]);
        // Otherwise the number may end at the first dot, as in a hostname's label
        // (`4539979262243931.0228.example`, `5302-7505-5304-0696.0x1.example`) or a sentence.
        let whole_card = grouped && (13..=19).contains(&digits.len()) && card_network(digits) && luhn(digits);
        if let Some(dot) = first_dot.filter(|_| !whole_card) {
            let whole: usize = groups[..g].iter().map(|&d| d as usize).sum();
            let before: usize = data[start..dot].iter().filter(|b| b.is_ascii_digit()).count();
            if before <= whole {
                digits = &buf[..before];
                i = dot;
                grouped = true;
            }
        }
        let boundary = i == data.len() || !data[i].is_ascii_alphanumeric();
        if boundary
            && grouped
            && (13..=19).contains(&digits.len())
            && card_network(digits)
            && luhn(digits)
            && !is_placeholder(digits)
        {
            f(start, i, digits);
        }
    }
}

/// The groups a card number is printed in: fours (the last one shorter for 13 to 19 digits),
/// or 4-6-5 and 4-6-4 (American Express, Diners Club).
fn card_groups(groups: &[u8]) -> bool {
    match groups {
        [4, 6, 5] | [4, 6, 4] => true,
        [.., last] => {
            groups.len() >= 4 && groups[..groups.len() - 1].iter().all(|&d| d == 4) && (1..=4).contains(last)
        }
        [] => false,
    }
}

/// Whether any of eight bytes is an ASCII digit, tested on all eight at once.
fn has_digit(eight: &[u8]) -> bool {
    let mut word = [0u8; 8];
    word.copy_from_slice(eight);
    // Digits are the bytes that become 0..=9 when XORed with 0x30.
    let t = u64::from_le_bytes(word) ^ 0x3030_3030_3030_3030;
    let below_ten = t.wrapping_sub(0x0a0a_0a0a_0a0a_0a0a) & !t & 0x8080_8080_8080_8080;
    below_ten != 0
}

/// The BIP-39 English list, indexed for lookups.
pub(crate) struct SeedWords(HashMap<&'static str, u16>);

impl std::fmt::Debug for SeedWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeedWords({} words)", self.0.len())
    }
}

impl SeedWords {
    pub(crate) fn new() -> Self {
        Self(
            bip39_words()
                .into_iter()
                .enumerate()
                .map(|(i, w)| (w, i as u16))
                .collect(),
        )
    }

    /// Runs of 12 to 24 list words, `f(start, end, checked)` with whether a checksum holds
    /// (the longest such window; else the whole run). Words are maximal runs of lowercase
    /// letters; between two words of a phrase there may be only whitespace or the escapes
    /// `\n`, `\r`, `\t` (a phrase inside a JSON string).
    pub(crate) fn phrases(&self, data: &[u8], mut f: impl FnMut(usize, usize, bool)) {
        // Streaks of short lowercase words first; the list is consulted only for streaks of
        // twelve or more, which prose seldom has.
        let mut streak: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        let mut gap_start = 0;
        while i < data.len() {
            if !data[i].is_ascii_lowercase() {
                i += 1;
                continue;
            }
            // `\nword`: the escape's letter is not part of the word.
            let escaped = i > 0 && data[i - 1] == b'\\' && matches!(data[i], b'n' | b'r' | b't');
            let start = if escaped { i + 1 } else { i };
            i += 1;
            while i < data.len() && data[i].is_ascii_lowercase() {
                i += 1;
            }
            if start >= i {
                continue;
            }
            let glued = (!escaped && start > 0 && data[start - 1].is_ascii_alphanumeric())
                || (i < data.len() && data[i].is_ascii_alphanumeric());
            let candidate = !glued && (3..=8).contains(&(i - start));
            if !candidate || !soft_gap(&data[gap_start..start]) {
                self.close(data, &mut streak, &mut f);
            }
            if candidate {
                streak.push((start, i));
            }
            gap_start = i;
        }
        self.close(data, &mut streak, &mut f);
    }

    fn close(&self, data: &[u8], streak: &mut Vec<(usize, usize)>, f: &mut impl FnMut(usize, usize, bool)) {
        if streak.len() >= 12 {
            let mut run = Vec::with_capacity(streak.len());
            for &(start, end) in streak.iter() {
                match self.index(&data[start..end]) {
                    Some(index) => run.push((index, start, end)),
                    None => {
                        check_run(&run, f);
                        run.clear();
                    }
                }
            }
            check_run(&run, f);
        }
        streak.clear();
    }

    fn index(&self, word: &[u8]) -> Option<u16> {
        if !(3..=8).contains(&word.len()) || !word.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        std::str::from_utf8(word)
            .ok()
            .and_then(|w| self.0.get(w).copied())
    }
}

/// Whitespace and `\n`-style escapes only (and not empty).
fn soft_gap(gap: &[u8]) -> bool {
    let mut i = 0;
    while i < gap.len() {
        match gap[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b'+' => i += 1,
            b'\\' if matches!(gap.get(i + 1), Some(b'n' | b'r' | b't')) => i += 2,
            _ => return false,
        }
    }
    !gap.is_empty()
}

fn check_run(run: &[(u16, usize, usize)], f: &mut impl FnMut(usize, usize, bool)) {
    if run.len() < 12 {
        return;
    }
    for len in [24, 21, 18, 15, 12] {
        if run.len() < len {
            continue;
        }
        for from in 0..=run.len().saturating_sub(len) {
            let window = &run[from..from + len];
            let indices: Vec<u16> = window.iter().map(|w| w.0).collect();
            if window.len() == len && bip39_checksum(&indices) {
                f(window[0].1, window[len - 1].2, true);
                return;
            }
        }
    }
    // Twelve list words in a row are a phrase whether or not its checksum holds: prose has no
    // such runs, and a phrase typed from memory or altered by a word still opens the wallet
    // to whoever tries the few words it could be. The checksum only raises the confidence.
    f(run[0].1, run[run.len() - 1].2, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values in a slot (`v`, `value`, `data`) are judged under the name beside or above them;
    /// a slot named for something else is not.
    #[test]
    fn value_slots_take_their_names() {
        let judged = |text: &str, value: &str| {
            let data = text.as_bytes();
            let start = text.find(value).expect("value in text");
            judged_name(data, start).map(|n| String::from_utf8_lossy(n).into_owned())
        };
        let pair = r#"{"k": "DATADOG_API_KEY", "v": "Xq7RmT2pLw9Ze4Nc"}"#;
        assert_eq!(judged(pair, "Xq7R").as_deref(), Some("DATADOG_API_KEY"));
        let named = r#"{"name": "dd_api_key", "data": "Xq7RmT2pLw9Ze4Nc"}"#;
        assert_eq!(judged(named, "Xq7R").as_deref(), Some("dd_api_key"));
        let query = "k=stripe_secret&v=Xq7RmT2pLw9Ze4Nc";
        assert_eq!(judged(query, "Xq7R").as_deref(), Some("stripe_secret"));
        let yaml = "API_KEY:\n  encoding: none\n  value: \"Xq7RmT2pLw9Ze4Nc\"\n";
        assert_eq!(judged(yaml, "Xq7R").as_deref(), Some("API_KEY"));
        let bearer = r#"{"Authorization": "Bearer 3f2b6c1e-8d4a-4f7b-9e21-5c6d7a8b9c0d"}"#;
        assert_eq!(judged(bearer, "3f2b").as_deref(), Some("Authorization"));
        // Near misses: a label that is not `k`/`name`, and a slot under a map of another name.
        let other = r#"{"unit": "API_KEY", "v": "Xq7RmT2pLw9Ze4Nc"}"#;
        assert_eq!(judged(other, "Xq7R").as_deref(), Some("v"));
        let color = "theme:\n  value: \"Xq7RmT2pLw9Ze4Nc\"\n";
        assert_eq!(judged(color, "Xq7R").as_deref(), Some("theme"));
        assert!(!is_secret_key_name(b"theme"));
    }

    #[test]
    fn value_slot_operators() {
        let pair = br#""k": "API_KEY", "v": "x""#;
        let comma = pair.iter().position(|&b| b == b',').expect("comma");
        assert_eq!(value_slot_after(pair, comma), Some(comma + 5));
        assert_eq!(value_slot_after(br#"", "unit": "x""#, 1), None);
        let yaml = b"API_KEY:\n  encoding: none\n  value: x\n";
        assert_eq!(yaml_value_slot(yaml, 8), Some(33));
        assert_eq!(yaml_value_slot(b"API_KEY: abc\n  value: x\n", 8), None);
    }

    #[test]
    fn key_names() {
        for yes in [
            "api_key",
            "API-KEY",
            "clientSecret",
            "auth.token",
            "DB_PASSWORD",
            "X-Auth",
            "auth",
        ] {
            assert!(is_secret_key_name(yes.as_bytes()), "{yes}");
        }
        for no in [
            "pageToken",
            "csrf_token",
            "public_key",
            "author",
            "oauth",
            "auth_url",
            "authority",
            "monkey",
            "max_tokens",
            "Key",
            "id",
        ] {
            assert!(!is_secret_key_name(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn operators_found_for_every_credential_name() {
        for name in [
            "api_key",
            "API-KEY",
            "clientSecret",
            "auth.token",
            "DB_PASSWORD",
            "smtp.pass",
            "PWD",
            "x_credential_id",
            "aws.SecretAccessKey",
            "masterKEY",
            "signing-key",
            "X-Auth",
        ] {
            assert!(is_secret_key_name(name.as_bytes()), "{name}");
            for form in [
                "{n}=v",
                "\"{n}\": \"v\"",
                "{n} => 'v'",
                r#"\"{n}\":\"v"#,
                "<{n}>v",
            ] {
                let text = form.replace("{n}", name);
                let data = text.as_bytes();
                let mut operators = Vec::new();
                assignment_operators(data, &mut operators);
                let value = text.rfind('v').expect("value");
                let op = text[..value].rfind(['=', ':', '>']).expect("operator");
                assert!(operators.contains(&op), "{text}: {operators:?}");
                assert!(follows_operator(data, &operators, value), "{text}");
            }
        }
        let mut operators = Vec::new();
        assignment_operators(br#"{"id":"x","role":"tool","content":"a: b"}"#, &mut operators);
        assert!(operators.is_empty(), "{operators:?}");
    }

    #[test]
    fn assignment_forms() {
        let value = "Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3";
        for form in [
            "api_key={v}",
            "\"api_key\": \"{v}\"",
            "API_KEY = '{v}'",
            "api_key=>{v}",
            r#"\"api_key\":\"{v}"#,
        ] {
            let text = form.replace("{v}", value);
            let start = text.find(value).expect("value present");
            assert!(
                generic_assignment(text.as_bytes(), start, start + value.len()),
                "{text}"
            );
        }
        let text = format!("user {value}");
        assert!(!generic_assignment(text.as_bytes(), 5, 5 + value.len()));
    }

    #[test]
    fn cards_in_csv_json_and_form_bodies() {
        for body in [
            "name,card,exp\nAda,4539979262243931,12/30\n",
            "name;card\r\nAda;\"5425 3283 6791 6013\"\r\n",
            r#"{"card": 4539979262243931, "cvc": "123"}"#,
            r#"{"payment":{"number":"3714-496353-98431"}}"#,
            "card_number=4539+9792+6224+3931&exp=12%2F30",
        ] {
            let mut found = 0;
            cards(body.as_bytes(), |_, _, _| found += 1);
            assert_eq!(found, 1, "{body}");
        }
    }

    #[test]
    fn passwords_with_symbols_in_assignments() {
        let found = |text: &str| {
            let mut out = Vec::new();
            let mut operators = Vec::new();
            assignment_operators(text.as_bytes(), &mut operators);
            punctuated_assignments(text.as_bytes(), &operators, |s, e| {
                out.push(text[s..e].to_owned())
            });
            out
        };
        for (text, value) in [
            ("password=Xk9#mP2$vL7!qR4&user=a", "Xk9#mP2$vL7!qR4"),
            (r#"{"db_password": "T7!qz@Lw9#pX"}"#, "T7!qz@Lw9#pX"),
            ("DB_PASS: 'Zq8!Xv2@Lm9#'", "Zq8!Xv2@Lm9#"),
            ("<password>Vq7#pZ2!xK9m</password>", "Vq7#pZ2!xK9m"),
            ("export API_SECRET=mN4$kL8@pQ2!z", "mN4$kL8@pQ2!z"),
            // Letters and digits only, shorter than a run: passwords under a password's name.
            ("Server=db;User Id=sa;Password=ESulEETldq8b8V;", "ESulEETldq8b8V"),
            (r#"{"password":"Kp4nWq9tRz2m"}"#, "Kp4nWq9tRz2m"),
        ] {
            assert_eq!(found(text), [value], "{text}");
        }
        // Past a stretch of operators too long to be a value, values are found again.
        let long = format!("{} password=Xk9#mP2$vL7!qR4", "=a".repeat(5000));
        assert_eq!(found(&long), ["Xk9#mP2$vL7!qR4"]);
        for text in [
            "password=hunter2",
            "password=DatabaseUser",
            "password: ${DB_PASSWORD}",
            "secret_name: MyApp-Secrets",
            "token_type: Bearer",
            "password: <your password here>",
            "note: Pass-Word!1 is not a key name",
            "password_policy: Min-12-Chars!",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            "TokenTree::from(Punct::new(':', Spacing::Joint))",
        ] {
            assert!(found(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn card_grouping() {
        let mut found = Vec::new();
        cards(b"a 5425-3283-6791-6013 b 4539979262243931x", |s, e, _| {
            found.push((s, e))
        });
        assert_eq!(found, vec![(2, 21)]);
    }
}
