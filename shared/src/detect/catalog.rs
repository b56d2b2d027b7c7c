//! The catalogue of secret detectors a policy can switch on, off or exempt. Policies are
//! checked against it, so a misspelt detector id is an error rather than a silent no-op.
//! [`DetectorSet`] is the compact form the engine works with.

use std::fmt;

/// One detector a policy may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorInfo {
    pub id: &'static str,
    /// Whether it runs unless a policy switches it off.
    pub default_on: bool,
    pub description: &'static str,
}

const fn on(id: &'static str, description: &'static str) -> DetectorInfo {
    DetectorInfo {
        id,
        default_on: true,
        description,
    }
}

const fn optional(id: &'static str, description: &'static str) -> DetectorInfo {
    DetectorInfo {
        id,
        default_on: false,
        description,
    }
}

pub const CATALOG: &[DetectorInfo] = &[
    on("aws-access-key", "AWS access key IDs and key ID + secret pairs"),
    on(
        "github-token",
        "GitHub classic, fine-grained, app and OAuth tokens",
    ),
    on("gitlab-token", "GitLab personal, project and runner tokens"),
    on("slack-token", "Slack bot and user tokens"),
    on("slack-webhook", "Slack incoming webhook URLs"),
    on("stripe-key", "Stripe secret and restricted keys"),
    on("openai-key", "OpenAI API keys"),
    on("anthropic-key", "Anthropic API keys"),
    on("google-api-key", "Google API keys"),
    on("gcp-service-account", "Google service-account JSON keys"),
    on("azure-storage", "Azure storage connection strings"),
    on("twilio-key", "Twilio API keys"),
    on("sendgrid-key", "SendGrid API keys"),
    on("npm-token", "npm access tokens"),
    on("pypi-token", "PyPI upload tokens"),
    on("dockerhub-token", "Docker Hub personal access tokens"),
    on("huggingface-token", "Hugging Face access tokens"),
    on(
        "vendor-token",
        "other tokens with an unmistakable vendor prefix (Shopify, DigitalOcean, Vault, ...)",
    ),
    on("jwt", "JSON Web Tokens"),
    on(
        "private-key",
        "private keys: PEM, OpenSSH, PuTTY, JWK, and DER without armour",
    ),
    on("database-url", "database URLs with a password"),
    on("url-credentials", "Basic credentials in URLs"),
    on("generic-secret", "high-entropy key=, token=, secret= assignments"),
    on(
        "known-secret",
        "values an operator listed and values Tollgate issued",
    ),
    on("dns-exfiltration", "high-entropy or encoded labels in a hostname"),
    on(
        "delimited-hex",
        "binary data written as delimited hex bytes (de:ad:be:ef, \\xde\\xad, 0xde,0xad)",
    ),
    on(
        "high-entropy",
        "long random tokens with no known shape in URL path segments and query values",
    ),
    on(
        "account-file",
        "copies of /etc/passwd (three lines or more) and /etc/shadow lines with a password hash",
    ),
    optional("crypto-private-key", "cryptocurrency private keys"),
    optional("seed-phrase", "BIP-39 seed phrases"),
    optional("payment-card", "payment card numbers (Luhn-checked)"),
    optional("iban", "international bank account numbers (mod-97-checked)"),
    optional(
        "bitcoin-address",
        "Bitcoin addresses (base58check, bech32, bech32m)",
    ),
    optional(
        "ethereum-address",
        "Ethereum addresses (EIP-55-checked when mixed case)",
    ),
    optional(
        "us-ssn",
        "US Social Security numbers where the text names one (ssn, social security)",
    ),
    optional(
        "national-id",
        "national identity numbers where the text names one: Canadian SIN (Luhn), UK NINO, \
         Spanish DNI/NIE (check letter), Italian codice fiscale, French NIR, German Steuer-ID, \
         Dutch BSN, Indian Aadhaar, Brazilian CPF (each with its checksum) and passport numbers",
    ),
];

pub fn lookup(id: &str) -> Option<&'static DetectorInfo> {
    CATALOG.iter().find(|d| d.id == id)
}

/// The detectors that run when nothing switches them.
pub fn default_enabled() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().filter(|d| d.default_on).map(|d| d.id)
}

/// A set of detectors, one bit per [`CATALOG`] entry.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectorSet(u64);

// One bit per catalogue entry must fit.
const _: () = assert!(CATALOG.len() <= 64);

impl DetectorSet {
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every detector, optional ones included.
    pub fn all() -> Self {
        Self((1u64 << CATALOG.len()) - 1)
    }

    /// The detectors that run when nothing switches them.
    pub fn defaults() -> Self {
        Self::from_ids(default_enabled())
    }

    /// Ids not in the catalogue are ignored: policies are validated against it before this.
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = Self::empty();
        for id in ids {
            if let Some(index) = index_of(id) {
                set.0 |= 1 << index;
            }
        }
        set
    }

    pub fn contains(self, id: &str) -> bool {
        index_of(id).is_some_and(|i| self.has_index(i))
    }

    pub(crate) fn has_index(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    pub fn without(self, other: DetectorSet) -> Self {
        Self(self.0 & !other.0)
    }

    pub fn union(self, other: DetectorSet) -> Self {
        Self(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn ids(self) -> impl Iterator<Item = &'static str> {
        CATALOG
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.has_index(*i))
            .map(|(_, d)| d.id)
    }
}

impl fmt::Debug for DetectorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.ids()).finish()
    }
}

pub(crate) fn index_of(id: &str) -> Option<usize> {
    CATALOG.iter().position(|d| d.id == id)
}
