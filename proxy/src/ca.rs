//! The interception CA: created once with `tollgate ca init`, loaded by the proxy, and used
//! to mint short-lived leaf certificates per host.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use thiserror::Error;

pub const CERT_FILE: &str = "ca.pem";
pub const KEY_FILE: &str = "ca.key";
/// What clients trust: the current CA, and during a rotation the other one too.
pub const TRUST_FILE: &str = "trust.pem";
/// A staged CA, trusted by clients but not yet signing.
pub const NEXT_DIR: &str = "next";
/// Certificates of CAs that signed before (their keys are deleted when a rotation finishes).
pub const RETIRED_DIR: &str = "retired";

#[derive(Debug, Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} already holds a CA; remove it first to make a new one")]
    Exists(PathBuf),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(rustls::Error),
    #[error("{path}: not a PEM {what}")]
    BadPem { path: PathBuf, what: &'static str },
    #[error("{0} has a rotation staged already: promote it (`--promote`) or remove {0}/next")]
    Staged(PathBuf),
    #[error("{0} has no staged rotation: run `tollgate ca rotate {0}` first")]
    NotStaged(PathBuf),
    #[error("{0} holds no CA: run `tollgate ca init {0}` first")]
    Missing(PathBuf),
}

/// The CA that signs leaf certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("cert_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// A minted leaf: its chain (leaf, CA) and key.
#[derive(Debug)]
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates an ECDSA P-256 CA in `dir` (`ca.pem`, and `ca.key` with mode 0600).
pub fn init(dir: &Path, common_name: &str) -> Result<PathBuf, CaError> {
    let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if cert_path.exists() || key_path.exists() {
        return Err(CaError::Exists(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Tollgate");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time_from_now(Duration::from_secs(3600), true);
    params.not_after = time_from_now(Duration::from_secs(5 * 365 * 24 * 3600), false);
    let cert = params.self_signed(&key)?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem()).map_err(io(&cert_path))?;
    write_trust(dir, &[&cert_path])?;
    Ok(cert_path)
}

/// One step of a CA rotation; each leaves the directory in a state the proxy and clients
/// can run on for as long as needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Make the next CA in `next/` and trust both: publish `trust.pem` to every client.
    Stage,
    /// The next CA becomes the current one (restart the proxies to sign with it); the old one
    /// is retired but still trusted, for connections and clients that have not switched.
    Promote,
    /// Trust only the current CA, and delete the retired keys.
    Finish,
}

/// Carries out one rotation step in `dir` and returns the certificates `trust.pem` now holds.
pub fn rotate(dir: &Path, step: Rotation, common_name: &str) -> Result<Vec<PathBuf>, CaError> {
    let current = dir.join(CERT_FILE);
    if !current.exists() {
        return Err(CaError::Missing(dir.to_owned()));
    }
    let next = dir.join(NEXT_DIR);
    let trusted = match step {
        Rotation::Stage => {
            if next.exists() {
                return Err(CaError::Staged(dir.to_owned()));
            }
            vec![current, init(&next, common_name)?]
        }
        Rotation::Promote => {
            if !next.join(CERT_FILE).exists() {
                return Err(CaError::NotStaged(dir.to_owned()));
            }
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let retired = dir.join(RETIRED_DIR).join(stamp.to_string());
            std::fs::create_dir_all(&retired).map_err(io(&retired))?;
            for file in [CERT_FILE, KEY_FILE] {
                let (from, to) = (dir.join(file), retired.join(file));
                std::fs::rename(&from, &to).map_err(io(&from))?;
            }
            for file in [CERT_FILE, KEY_FILE] {
                let (from, to) = (next.join(file), dir.join(file));
                std::fs::rename(&from, &to).map_err(io(&from))?;
            }
            std::fs::remove_dir_all(&next).map_err(io(&next))?;
            vec![current, retired.join(CERT_FILE)]
        }
        Rotation::Finish => {
            let retired = dir.join(RETIRED_DIR);
            if let Ok(entries) = std::fs::read_dir(&retired) {
                for entry in entries.flatten() {
                    let key = entry.path().join(KEY_FILE);
                    if key.exists() {
                        std::fs::remove_file(&key).map_err(io(&key))?;
                    }
                }
            }
            vec![current]
        }
    };
    let paths: Vec<&Path> = trusted.iter().map(PathBuf::as_path).collect();
    write_trust(dir, &paths)?;
    Ok(trusted)
}

/// Writes `trust.pem` from `certs`, replacing it at once (a client never reads half a file).
fn write_trust(dir: &Path, certs: &[&Path]) -> Result<(), CaError> {
    let mut bundle = String::new();
    for cert in certs {
        bundle.push_str(&std::fs::read_to_string(cert).map_err(io(cert))?);
    }
    let (temporary, target) = (dir.join(".trust.pem.new"), dir.join(TRUST_FILE));
    std::fs::write(&temporary, bundle).map_err(io(&temporary))?;
    std::fs::rename(&temporary, &target).map_err(io(&target))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))
}

fn time_from_now(offset: Duration, negative: bool) -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    if negative { now - offset } else { now + offset }
}

impl Authority {
    /// Loads `ca.pem` and `ca.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
        let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|_| CaError::BadPem {
            path: key_path.clone(),
            what: "private key",
        })?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|_| CaError::BadPem {
            path: cert_path.clone(),
            what: "CA certificate",
        })?;
        let cert_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| CaError::BadPem {
                path: cert_path.clone(),
                what: "certificate",
            })?;
        Ok(Self { issuer, cert_der })
    }

    /// Signs a leaf for `host` (a DNS name or an IP literal) with `key`, valid for `validity`.
    pub fn mint(&self, host: &str, key: &KeyPair, validity: Duration) -> Result<Leaf, CaError> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into()?),
        }];
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        params.distinguished_name = name;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // A little slack for clients whose clock runs behind.
        params.not_before = time_from_now(Duration::from_secs(300), true);
        params.not_after = time_from_now(validity, false);
        let cert = params.signed_by(key, &self.issuer)?;
        Ok(Leaf {
            chain: vec![cert.der().clone(), self.cert_der.clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

/// The file clients should trust: `trust.pem` (both CAs during a rotation), or `ca.pem` for a
/// directory made before rotation existed.
pub fn trust_file(dir: &Path) -> PathBuf {
    let trust = dir.join(TRUST_FILE);
    if trust.exists() {
        trust
    } else {
        dir.join(CERT_FILE)
    }
}

/// The environment variables that make common clients trust the CA in `dir`.
pub fn client_env(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let cert = trust_file(dir);
    [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
    ]
    .into_iter()
    .map(|name| (name, cert.clone()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_private_key_and_leaves_chain_to_the_ca() {
        let dir = std::env::temp_dir().join(format!("tg-ca-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        init(&dir, "Tollgate test CA").expect("init");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(init(&dir, "again"), Err(CaError::Exists(_))));
        let authority = Authority::load(&dir).expect("load");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let leaf = authority
            .mint("api.example.com", &key, Duration::from_secs(3600))
            .expect("mint");
        assert_eq!(leaf.chain.len(), 2);
        let ip_leaf = authority
            .mint("10.0.0.1", &key, Duration::from_secs(3600))
            .expect("mint ip");
        assert_ne!(ip_leaf.chain[0], leaf.chain[0]);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn certs_in(path: &Path) -> Vec<CertificateDer<'static>> {
        let pem = std::fs::read(path).expect("read");
        rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<_, _>>()
            .expect("pem")
    }

    #[test]
    fn rotation_trusts_both_until_it_finishes_and_refuses_steps_out_of_order() {
        let dir = std::env::temp_dir().join(format!("tg-ca-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(
            rotate(&dir, Rotation::Stage, "x"),
            Err(CaError::Missing(_))
        ));
        init(&dir, "old").expect("init");
        let old = certs_in(&dir.join(CERT_FILE));
        assert_eq!(certs_in(&dir.join(TRUST_FILE)), old);
        assert!(matches!(
            rotate(&dir, Rotation::Promote, "x"),
            Err(CaError::NotStaged(_))
        ));

        rotate(&dir, Rotation::Stage, "new").expect("stage");
        assert!(matches!(
            rotate(&dir, Rotation::Stage, "x"),
            Err(CaError::Staged(_))
        ));
        let new = certs_in(&dir.join(NEXT_DIR).join(CERT_FILE));
        assert_eq!(
            certs_in(&dir.join(TRUST_FILE)),
            [old.clone(), new.clone()].concat()
        );
        // Staged, the old CA still signs.
        assert_eq!(Authority::load(&dir).expect("load").cert_der, old[0]);

        rotate(&dir, Rotation::Promote, "x").expect("promote");
        assert_eq!(Authority::load(&dir).expect("load").cert_der, new[0]);
        assert_eq!(
            certs_in(&dir.join(TRUST_FILE)),
            [new.clone(), old.clone()].concat()
        );
        assert!(!dir.join(NEXT_DIR).exists());

        rotate(&dir, Rotation::Finish, "x").expect("finish");
        assert_eq!(certs_in(&dir.join(TRUST_FILE)), new);
        let retired: Vec<PathBuf> = std::fs::read_dir(dir.join(RETIRED_DIR))
            .expect("retired")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(retired.len(), 1);
        assert!(retired[0].join(CERT_FILE).exists() && !retired[0].join(KEY_FILE).exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
