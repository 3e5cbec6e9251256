//! The daemon's certificate authority: created on first start in `<data dir>/ca`, its key
//! never leaving that directory (mode 0600), and the certificates of AWS's endpoint names
//! issued from it at every start (a fresh key each time, held in memory only).
//!
//! What environments trust is `bundle.pem`: the host's trust store followed by this CA, so
//! code that talks to anything else keeps working as on the host.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The host's trust store (Debian's `ca-certificates`), which environments see at the same
/// path with the CA added.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const CA_NAME: &str = "vpclambda local CA";
/// How long a leaf certificate is valid: longer than any daemon runs between restarts is
/// not needed, but clocks inside environments are the host's, so a day of slack either way.
const LEAF_DAYS: i64 = 398;

/// The CA, ready to issue certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate (PEM), as environments trust it.
    pub cert_pem: String,
    /// `<data dir>/ca/bundle.pem`: the host's trust store plus this CA.
    pub bundle: PathBuf,
}

/// A certificate chain and its key, for a TLS server.
pub struct Issued {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Authority {
    /// Loads the CA from `<data_dir>/ca`, creating it on first start, and writes the
    /// bundle environments trust.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Authority> {
        let dir = data_dir.join("ca");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let key_path = dir.join("ca.key");
        let cert_path = dir.join("ca.pem");
        let (key, cert_pem) = if key_path.exists() && cert_path.exists() {
            let key_pem = fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            let key = KeyPair::from_pem(&key_pem)
                .with_context(|| format!("parsing {}", key_path.display()))?;
            let cert_pem = fs::read_to_string(&cert_path)
                .with_context(|| format!("reading {}", cert_path.display()))?;
            (key, cert_pem)
        } else {
            let key = KeyPair::generate().context("generating the CA key")?;
            let cert = ca_params()?
                .self_signed(&key)
                .context("signing the CA certificate")?;
            write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
            write_atomically(&cert_path, cert.pem().as_bytes(), 0o644)?;
            (key, cert.pem())
        };
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)
            .with_context(|| format!("reading the CA certificate {}", cert_path.display()))?;
        let bundle = dir.join("bundle.pem");
        let mut trusted = fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
        if !trusted.is_empty() && !trusted.ends_with('\n') {
            trusted.push('\n');
        }
        trusted.push_str(&cert_pem);
        write_atomically(&bundle, trusted.as_bytes(), 0o644)?;
        Ok(Authority {
            issuer,
            cert_pem,
            bundle,
        })
    }

    /// A server certificate for `names` (DNS names, `*.` wildcards allowed), signed by
    /// the CA, with a fresh key.
    pub fn issue(&self, names: &[String]) -> anyhow::Result<Issued> {
        let key = KeyPair::generate().context("generating an endpoint key")?;
        let mut params = CertificateParams::new(names.to_vec()).context("the endpoint names")?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(LEAF_DAYS);
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing an endpoint certificate")?;
        let ca = pem_der(&self.cert_pem)?;
        Ok(Issued {
            chain: vec![cert.der().clone(), ca],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "vpclambda");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    Ok(params)
}

fn pem_der(pem: &str) -> anyhow::Result<CertificateDer<'static>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .context("decoding the CA certificate")?;
    Ok(CertificateDer::from(der))
}

/// Writes `path` through a temporary file created with `mode`, synced and renamed: a crash
/// leaves the old file or the new one, and a key is never readable by others, even briefly.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let temp = path.with_extension("partial");
    let _ = fs::remove_file(&temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("renaming into {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = Authority::load_or_create(dir.path()).unwrap();
        let key = dir.path().join("ca/ca.key");
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Authority::load_or_create(dir.path()).unwrap();
        assert_eq!(
            first.cert_pem, again.cert_pem,
            "the same CA after a restart"
        );
        let bundle = fs::read_to_string(&first.bundle).unwrap();
        assert!(bundle.ends_with(&first.cert_pem));
        assert!(!bundle.contains("PRIVATE KEY"));
    }

    #[test]
    fn issued_certificates_chain_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::load_or_create(dir.path()).unwrap();
        let issued = ca
            .issue(&[
                "*.us-east-1.amazonaws.com".into(),
                "sts.amazonaws.com".into(),
            ])
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pem_der(&ca.cert_pem).unwrap()).unwrap();
        let provider = rustls::crypto::ring::default_provider();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.into(),
            provider.into(),
        )
        .build()
        .unwrap();
        let name =
            rustls::pki_types::ServerName::try_from("lambda.us-east-1.amazonaws.com").unwrap();
        verifier
            .verify_server_cert(
                &issued.chain[0],
                &issued.chain[1..],
                &name,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .unwrap();
        let other = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        assert!(verifier
            .verify_server_cert(
                &issued.chain[0],
                &issued.chain[1..],
                &other,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .is_err());
    }
}
