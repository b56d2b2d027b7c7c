//! The pattern rules behind the detectors. Each rule names the literals that must occur in a
//! match (the prefilter looks for those first), the regex that confirms it, the check its
//! format allows (a checksum where there is one), and examples that must and must not match;
//! `tests.rs` runs every example through the whole engine.

pub(crate) mod checks;

/// What must hold of a regex match beyond the regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// GitHub and npm tokens: the last six characters are the base62 CRC32 of the rest.
    GithubCrc,
    /// Bitcoin-style base58 with a double-SHA-256 checksum.
    Base58,
    /// Looks random (entropy and character mix); for values without a fixed format.
    Random,
    /// Mixed upper and lower case (tokens made of letters only).
    MixedCase,
    /// A password that is not a documentation stand-in such as `password`.
    Password,
    /// A URL password under a scheme that is not a database (those have their own rule).
    UrlAuthority,
    /// An AWS key ID, except as the `Credential=` of a SigV4 signature (presigned URLs and
    /// `Authorization` headers carry the ID, which is not a secret, by design).
    AwsKeyId,
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub name: &'static str,
    pub detector: &'static str,
    /// Literals of which one occurs in every match; the prefilter searches for these.
    pub anchors: &'static [&'static str],
    /// Capture group 1, when present, is the secret; otherwise the whole match.
    pub pattern: &'static str,
    /// How far before the anchor a match may start, and how far after it it may end.
    pub before: usize,
    pub after: usize,
    /// The match may not continue an alphanumeric run on either side.
    pub boundary: bool,
    pub check: Check,
    pub matches: &'static [&'static str],
    pub rejects: &'static [&'static str],
}

const fn rule(
    name: &'static str,
    detector: &'static str,
    anchors: &'static [&'static str],
    pattern: &'static str,
) -> Rule {
    Rule {
        name,
        detector,
        anchors,
        pattern,
        before: 0,
        after: 128,
        boundary: true,
        check: Check::None,
        matches: &[],
        rejects: &[],
    }
}

impl Rule {
    const fn reach(mut self, before: usize, after: usize) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    const fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    const fn unbounded(mut self) -> Self {
        self.boundary = false;
        self
    }

    const fn examples(mut self, matches: &'static [&'static str], rejects: &'static [&'static str]) -> Self {
        self.matches = matches;
        self.rejects = rejects;
        self
    }
}

pub(crate) static RULES: &[Rule] = &[
    rule(
        "aws-access-key-id",
        "aws-access-key",
        &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    )
    .reach(0, 20)
    .check(Check::AwsKeyId)
    .examples(
        &[
            "AKIAZ7XQ2MLP4RT6WQ3N",
            "id=ASIAY3JKL5MNB2VCX7QW&x=1",
            // AWS's documented example: at egress it cannot be told from a leak.
            "AKIAIOSFODNN7EXAMPLE",
        ],
        &[
            "AKIA1234",
            "XAKIAZ7XQ2MLP4RT6WQ3N",
            "AKIAZ7XQ2MLP4RT6WQ3NZZ",
            "X-Amz-Credential=AKIAZ7XQ2MLP4RT6WQ3N%2F20261127%2Fus-east-1%2Fs3%2Faws4_request",
        ],
    ),
    rule(
        "aws-secret-access-key",
        "aws-access-key",
        &[
            "secret_access_key",
            "SECRET_ACCESS_KEY",
            "SecretAccessKey",
            "secretAccessKey",
        ],
        r#"(?i)secret_?access_?key\\?["']?\s*(?:=|:|=>)\s*\\?["']?([A-Za-z0-9/+]{40})"#,
    )
    .reach(0, 90)
    .unbounded()
    .check(Check::Random)
    .examples(
        &[
            "aws_secret_access_key = kZ3n8Qe1Vx0b7Lr2Tg5Hw9Pm4Ys6Cu3Df1Ja8Ko2",
            r#"{"SecretAccessKey":"Xq7/Jd2mN9pR4tV8wB1cE6fH3kL5oS0uY2aZ9gQ+"}"#,
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ],
        &[
            "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
        ],
    ),
    rule(
        "aws-key-pair",
        "aws-access-key",
        &["AKIA", "ASIA"],
        r"(?:AKIA|ASIA)[A-Z2-7]{16}[^A-Za-z0-9/+]{1,48}([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
    )
    .reach(0, 120)
    .unbounded()
    .check(Check::Random),
    rule(
        "github-classic",
        "github-token",
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"gh[pousr]_[A-Za-z0-9]{36}",
    )
    .reach(0, 40)
    .check(Check::GithubCrc)
    .examples(
        &[
            "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",
            "Authorization: token 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",
            "ghs_CN6Zj4a3dDVhYRnKTbxTNJFoBinF5a42GyMy",
        ],
        &[
            "ghp_KLiMcVbpT4r5yHUig43kiJfahqSIjO000000",
            "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IM",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
    ),
    rule(
        "github-fine-grained",
        "github-token",
        &["github_pat_"],
        r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    )
    .reach(0, 93)
    .check(Check::Random)
    .examples(
        &["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"],
        &["github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
    ),
    rule(
        "gitlab",
        "gitlab-token",
        &[
            "glpat-", "glptt-", "glrt-", "gldt-", "glft-", "glsoat-", "glcbt-", "GR1348941",
        ],
        r"(?:glpat|gldt|glrt|glsoat|glcbt|glft)-[A-Za-z0-9_\-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{9})?|glptt-[0-9a-f]{40}|GR1348941[A-Za-z0-9_\-]{20}",
    )
    .reach(0, 96)
    .check(Check::Random)
    .examples(
        &["glpat-Zq8Xv2Lm9Np4Rt7Ws1Yb", "PRIVATE-TOKEN: glrt-t3_Kp9Wm2Xq7Zr4Vn8Bs1Lc"],
        &["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-short"],
    ),
    rule(
        "slack-token",
        "slack-token",
        &["xox", "xapp-"],
        r"xox[abposre](?:\.xox[abposre])?-(?:[0-9]{6,}-){1,3}[0-9A-Za-z]{20,64}|xapp-\d-[A-Z0-9]{9,}-\d{10,}-[a-f0-9]{32,}",
    )
    .reach(0, 160)
    .examples(
        &[
            "xoxb-2418653891-5529011387-Zk3Pq8Rw2Xv7Lm4Nt9Bs1Yc6",
            "xoxp-241865389-552901138-7731209554-9f3a0c1e5b7d2f4a8c6e0b1d3f5a7c9e",
            "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        ],
        &["xoxb-your-token-here"],
    ),
    rule(
        "slack-webhook",
        "slack-webhook",
        &["hooks.slack.com/"],
        r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/]{30,120})",
    )
    .reach(0, 150)
    .unbounded()
    .examples(
        &["https://hooks.slack.com/services/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"],
        &[
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/",
        ],
    ),
    rule(
        "stripe",
        "stripe-key",
        &["k_live_", "k_test_"],
        r"[sr]k_(?:live|test)_[0-9A-Za-z]{24,99}",
    )
    .reach(1, 110)
    .check(Check::Random)
    .examples(
        &[
            "sk_live_51Hq8ZxLm4Np7Rt2Ws9Yb3Vc6Kd1Fg5Jh8Qe0Tu",
            "rk_test_9aB3cD5eF7gH1jK3lM5nP7qR",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        ],
        &[
            "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
            "pk_live_51Hq8ZxLm4Np7Rt2Ws9Yb3Vc6Kd1Fg5Jh8Qe0Tu",
        ],
    ),
    rule(
        "openai",
        "openai-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"],
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
    )
    .reach(24, 220)
    .check(Check::Random)
    .examples(
        &[
            "sk-proj-Qm3Zx8Lp2Vn7Rt4Ws9Yb1Kc6Jd0Fg5Hh3Nq8Tu2Xe7Pa4Mb9Lc1Zr6Vs0",
            "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",
        ],
        &["sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-proj-short"],
    ),
    rule(
        "anthropic",
        "anthropic-key",
        &["sk-ant-"],
        r"sk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_\-]{80,120}",
    )
    .reach(0, 140)
    .check(Check::Random)
    .examples(
        &["sk-ant-api03-Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4Pa9Mb1Lc6Zr3Vs0Wk5Qj8TyOp4As1Df9Gh6Jk3Lz0Xc5Vb8Nm2Qw7Er4TyAA"],
        &["sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk-ant-api03-short"],
    ),
    rule(
        "google-api-key",
        "google-api-key",
        &["AIza"],
        r"AIza[0-9A-Za-z_\-]{35}",
    )
    .reach(0, 39)
    .check(Check::Random)
    .examples(
        &["AIzaSyC8Zq2Xv7Lm4Np9Rt1Ws6Yb3Kc0Jd5Fg8H"],
        &["AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "AIzaShort"],
    ),
    rule(
        "gcp-service-account",
        "gcp-service-account",
        &["private_key_id"],
        r#"private_key_id\\?["']?\s*:\s*\\?["']([a-f0-9]{40})"#,
    )
    .reach(0, 70)
    .unbounded()
    .examples(
        &[r#"{"type": "service_account", "private_key_id": "3f9a1c7e5b2d8f4a6c0e9b1d7f3a5c8e2b4d6f90"}"#],
        &[r#"{"private_key_id": "<your key id>"}"#],
    ),
    rule(
        "azure-storage",
        "azure-storage",
        &["AccountKey="],
        r"AccountKey=([A-Za-z0-9+/]{86}==)",
    )
    .reach(0, 100)
    .unbounded()
    .examples(
        &[
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=q7Zx2Lm9Np4Rt1Ws6Yb3Kc8Jd0Fg5Hh2Nq7Tu4Xe9Pa1Mb6Lc3Zr8Vs0Wk5Qj2Ty7Ui4Op9As1Df6Gh3Jk8Lz0==;EndpointSuffix=core.windows.net",
            "AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        ],
        &["AccountKey=<your storage key>"],
    ),
    rule(
        "sendgrid",
        "sendgrid-key",
        &["SG."],
        r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
    )
    .reach(0, 69)
    .check(Check::Random)
    .examples(
        &["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"],
        &["SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
    ),
    rule("npm", "npm-token", &["npm_"], r"npm_[A-Za-z0-9]{36}")
        .reach(0, 40)
        .check(Check::GithubCrc)
        .examples(
            &["//registry/:_authToken=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"],
            &["npm_JXVuLkSIc47WQAmL9xVQ2zg4mZaouq416qWU", "npm_install_dependencies"],
        ),
    rule(
        "pypi",
        "pypi-token",
        &["pypi-AgEIcHlwaS5vcmc"],
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,400}",
    )
    .reach(0, 420)
    .check(Check::Random)
    .examples(
        &["pypi-AgEIcHlwaS5vcmcCJGQ3ZjE4YTk2LTJkM2UtNGI1Zi04YzZkLTdlOGY5YTBiMWMyZAACKlszLCI0YjVjNmQ3ZS04ZjlhIl0AAAYg3Kq9Xv2Lm7Np4Rt1Ws8Yb5Kc0Jd3Fg6"],
        &["pypi-AgEIcHlwaS5vcmc"],
    ),
    rule(
        "dockerhub",
        "dockerhub-token",
        &["dckr_pat_", "dckr_oat_"],
        r"dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,64}",
    )
    .reach(0, 74)
    .check(Check::Random)
    .examples(
        &["dckr_pat_Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0"],
        &["dckr_pat_xxxxxxxxxxxxxxxxxxxxxxxxxxx"],
    ),
    rule(
        "huggingface",
        "huggingface-token",
        &["hf_", "api_org_"],
        r"hf_[A-Za-z]{34}|api_org_[A-Za-z]{34}",
    )
    .reach(0, 42)
    .check(Check::MixedCase)
    .examples(
        &["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"],
        &["hf_hub_download", "hf_abcdefghijklmnopqrstuvwxyzabcdefgh"],
    ),
    rule(
        "jwt",
        "jwt",
        &["eyJ"],
        r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
    )
    .reach(0, 8192)
    .examples(
        &[
            "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJ0b29sLTQyIiwiZXhwIjoxOTAwMDAwMDAwfQ.Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3Jd0Fg5Hh8Nq2Tu7Xe4",
            // jwt.io's example token.
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        ],
        &["eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
    ),
    rule(
        "private-key",
        "private-key",
        &["PRIVATE KEY-----", "PRIVATE KEY BLOCK-----"],
        r"-----BEGIN[A-Z0-9 ]{0,24} PRIVATE KEY(?: BLOCK)?-----(?:\s|\\[rn])*(?:[A-Za-z][A-Za-z0-9\-]*: [^\r\n\\]*(?:\s|\\[rn])+)*([A-Za-z0-9+/]{40})",
    )
    .reach(40, 400)
    .unbounded()
    // Examples are key material: generated when the tests run (`testkeys::key_examples`).
    .examples(&[], &[]),
    rule(
        "database-url",
        "database-url",
        &["://"],
        DATABASE_URL,
    )
    .reach(16, 320)
    .unbounded()
    .check(Check::Password)
    .examples(
        &[
            "DATABASE_URL=postgres://app:Tq8vX2mLp9Rz@db.internal:5432/app",
            "mongodb+srv://svc:Zk3%21pQ9xLm@cluster0.ab1cd.mongodb.net/prod",
            "redis://:s3cr3tRedisPw77@cache:6379/0",
        ],
        &[
            "postgres://app@db.internal:5432/app",
            "postgres://user:password@localhost/db",
            "postgres://app:${DB_PASSWORD}@db/app",
        ],
    ),
    rule(
        "url-credentials",
        "url-credentials",
        &["://"],
        r#"[A-Za-z][A-Za-z0-9+.\-]{1,20}://([^:/?#@\s"'<>]+):([^@/?#\s"'<>]{3,128})@[A-Za-z0-9.\-\[\]]+"#,
    )
    .reach(24, 300)
    .unbounded()
    .check(Check::UrlAuthority)
    .examples(
        &[
            "https://deploy:Vq7pZ2xK9mLr@git.example.org/repo.git",
            "ftp://backup:nT4wQ8zX1cVb@files.example.net/",
        ],
        &[
            "https://example.com/@user/posts",
            "https://user@example.com/",
            "https://user:pass@example.com/",
            "postgres://app:Tq8vX2mLp9Rz@db.internal:5432/app",
        ],
    ),
    rule(
        "xprv",
        "crypto-private-key",
        &["xprv", "tprv"],
        r"[xt]prv[1-9A-HJ-NP-Za-km-z]{107,108}",
    )
    .reach(0, 112)
    .check(Check::Base58)
    // Examples are key material: generated when the tests run (`testkeys::key_examples`).
    .examples(&[], &[]),
];

/// The password is group 2; group 1 is the user name.
const DATABASE_URL: &str = concat!(
    r#"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|clickhouse)"#,
    r#"://([^:/?#@\s"'<>]*):([^@/?#\s"'<>]{3,128})@[A-Za-z0-9.\-\[\]]+"#
);

/// Whether a URL scheme belongs to the database-url rule.
pub(crate) fn is_database_scheme(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "postgres"
            | "postgresql"
            | "mysql"
            | "mariadb"
            | "mongodb"
            | "mongodb+srv"
            | "redis"
            | "rediss"
            | "amqp"
            | "amqps"
            | "mssql"
            | "sqlserver"
            | "clickhouse"
    )
}

#[cfg(test)]
/// Examples for detectors that are not regex rules (they work on token shapes); checked by
/// the same test as the rules.
pub(crate) struct ShapeExamples {
    pub detector: &'static str,
    pub matches: &'static [&'static str],
    pub rejects: &'static [&'static str],
}

#[cfg(test)]
pub(crate) static SHAPE_EXAMPLES: &[ShapeExamples] = &[
    ShapeExamples {
        detector: "twilio-key",
        matches: &[
            "SK2b8f4c1e9a7d3f5b0c6e8a2d4f1b7c9e",
            "TWILIO_API_KEY=SK0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ],
        rejects: &[
            "SK2b8f4c1e9a7d3f5b0c6e8a2d4f1b7c9",
            "ASK2b8f4c1e9a7d3f5b0c6e8a2d4f1b7c9e",
        ],
    },
    ShapeExamples {
        detector: "generic-secret",
        matches: &[
            "api_key=Zq8Xv2Lm9Np4Rt7Ws1Yb6Kc3",
            r#"{"client_secret": "q7Zx2Lm9Np4Rt1Ws6Yb3Kc8Jd0Fg5"}"#,
            "export SERVICE_TOKEN='f3a9c1e7b5d28f4a6c0e9b1d7f3a5c8e'",
        ],
        rejects: &[
            "api_key=YOUR_API_KEY_HERE",
            "token_type=bearer_access_token",
            "next_page_token=CiAKGjBpNDd2Nmp4ZHMzaHQ5",
            "secret=thisisnotarealsecret",
            "request_id=550e8400-e29b-41d4-a716-446655440000",
        ],
    },
    // crypto-private-key and seed-phrase examples are key material: generated when the
    // tests run (`testkeys::key_examples`).
    ShapeExamples {
        detector: "payment-card",
        matches: &["card=4539979262243931", "5425 3283 6791 6013", "4111111111111111"],
        rejects: &["4539979262243932", "order 1234567890123456"],
    },
];
