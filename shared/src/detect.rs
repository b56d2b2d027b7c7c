//! The catalogue of secret detectors a policy can switch on, off or exempt. Policies are
//! checked against it, so a misspelt detector id is an error rather than a silent no-op.

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
    on("jwt", "JSON Web Tokens"),
    on("private-key", "PEM and OpenSSH private keys"),
    on("database-url", "database URLs with a password"),
    on("url-credentials", "Basic credentials in URLs"),
    on("generic-secret", "high-entropy key=, token=, secret= assignments"),
    on(
        "known-secret",
        "values an operator listed and values Tollgate issued",
    ),
    optional("crypto-private-key", "cryptocurrency private keys"),
    optional("seed-phrase", "BIP-39 seed phrases"),
    optional("payment-card", "payment card numbers (Luhn-checked)"),
];

pub fn lookup(id: &str) -> Option<&'static DetectorInfo> {
    CATALOG.iter().find(|d| d.id == id)
}

/// The detectors that run when nothing switches them.
pub fn default_enabled() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().filter(|d| d.default_on).map(|d| d.id)
}
