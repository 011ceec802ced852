//! The portal's state directory: its keys and its TLS certificates.
//!
//! | file | what | mode |
//! |------|------|------|
//! | `master.key` | the fleet master key (32 bytes): every device secret derives from it | 0600 |
//! | `decoy.key` | the SCRAM decoy key (32 bytes): challenges for unknown devices | 0600 |
//! | `ca.pem`, `ca.key` | the portal's own CA (what clients trust) | 0644, 0600 |
//! | `server.pem`, `server.key` | the server certificate (`localhost`, `127.0.0.1`, `::1`) signed by it | 0644, 0600 |
//!
//! Every file is written to a temporary name, synced, then renamed, so that a crash never
//! leaves half a key. A key file of the wrong size is refused, never replaced.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use printfleet_auth::{DecoyKey, FleetMasterKey};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::PortalError;

/// The master key's file name.
pub const MASTER_KEY_FILE: &str = "master.key";
/// The decoy key's file name.
pub const DECOY_KEY_FILE: &str = "decoy.key";
/// The CA certificate's file name (what clients pin).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA key's file name.
pub const CA_KEY_FILE: &str = "ca.key";
/// The server certificate's file name.
pub const SERVER_CERT_FILE: &str = "server.pem";
/// The server key's file name.
pub const SERVER_KEY_FILE: &str = "server.key";
/// The names the generated server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Largest PEM file read (a certificate chain and its key are a few KiB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a 32-byte key file, or creates it with fresh random bytes (mode 0600). Two processes
/// starting on a fresh state directory at once (a portal and `printfleet device add`) end up
/// with the same key: the file is created only where none exists ([`create_new_atomic`]), and
/// the one that loses the race reads the winner's.
fn key_file(dir: &Path, name: &str) -> Result<[u8; 32], PortalError> {
    let path = dir.join(name);
    match read_key(&path) {
        Err(PortalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|_| PortalError::Random)?;
            if create_new_atomic(&path, &key)? { Ok(key) } else { read_key(&path) }
        }
        read => read,
    }
}

/// The 32 bytes of a key file; any other size is [`PortalError::BadKeyFile`].
fn read_key(path: &Path) -> Result<[u8; 32], PortalError> {
    let io = |source| PortalError::Io { path: path.to_path_buf(), source };
    let mut bytes = Vec::with_capacity(33);
    File::open(path).and_then(|f| f.take(33).read_to_end(&mut bytes)).map_err(io)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| PortalError::BadKeyFile { path: path.to_path_buf() })
}

/// Creates `path` holding `bytes` (mode 0600), complete or not at all, unless it exists:
/// written and synced under a name of its own, then hard-linked to `path` (which fails, rather
/// than replace, when another process created it first). Returns whether it was created.
fn create_new_atomic(path: &Path, bytes: &[u8]) -> Result<bool, PortalError> {
    let io = |source| PortalError::Io { path: path.to_path_buf(), source };
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|_| PortalError::Random)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.new", u64::from_le_bytes(nonce)));
    let tmp = PathBuf::from(tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(parent) = path.parent()
                && let Ok(d) = File::open(parent)
            {
                let _ = d.sync_all();
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(io(source)),
    }
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), PortalError> {
    let io = |source| PortalError::Io { path: path.to_path_buf(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        // The rename is durable once the directory is synced (best effort off Unix).
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates the state directory if needed (mode 0700 on Unix).
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), PortalError> {
    let io = |source| PortalError::Io { path: dir.to_path_buf(), source };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io)
}

/// The fleet master key (created on first use).
pub(crate) fn master_key(dir: &Path) -> Result<FleetMasterKey, PortalError> {
    ensure_dir(dir)?;
    Ok(FleetMasterKey::from_bytes(key_file(dir, MASTER_KEY_FILE)?))
}

/// The SCRAM decoy key (created on first use).
pub(crate) fn decoy_key(dir: &Path) -> Result<DecoyKey, PortalError> {
    ensure_dir(dir)?;
    Ok(DecoyKey::from_bytes(key_file(dir, DECOY_KEY_FILE)?))
}

/// Reads a PEM file, capped.
pub(crate) fn read_pem(path: &Path) -> Result<String, PortalError> {
    let io = |source| PortalError::Io { path: path.to_path_buf(), source };
    let f = File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(MAX_PEM_BYTES.saturating_add(1)).read_to_string(&mut text).map_err(io)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_PEM_BYTES {
        return Err(PortalError::BadPem { path: path.to_path_buf() });
    }
    Ok(text)
}

/// The certificate and key files the TLS listeners use, and the CA clients trust.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// What clients trust: the generated CA, or the configured certificate itself.
    pub(crate) ca_pem: String,
}

/// The generated CA and server certificate: read them, or generate all four files if any is
/// missing (a new CA: clients must pin the new `ca.pem`).
pub(crate) fn generated_tls(dir: &Path) -> Result<TlsFiles, PortalError> {
    ensure_dir(dir)?;
    let files = [CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE].map(|f| dir.join(f));
    if files.iter().any(|f| !f.exists()) {
        generate(dir)?;
    }
    let [ca, _, cert, key] = files;
    Ok(TlsFiles { ca_pem: read_pem(&ca)?, cert, key })
}

fn generate(dir: &Path) -> Result<(), PortalError> {
    let ca_key = KeyPair::generate().map_err(PortalError::Certificate)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(PortalError::Certificate)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "printfleet portal CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).map_err(PortalError::Certificate)?;
    let server_key = KeyPair::generate().map_err(PortalError::Certificate)?;
    let mut server =
        CertificateParams::new(SERVER_NAMES.map(String::from).to_vec()).map_err(PortalError::Certificate)?;
    server.distinguished_name.push(DnType::CommonName, "printfleet portal");
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);
    let server_cert = server.signed_by(&server_key, &issuer).map_err(PortalError::Certificate)?;
    // Keys first: a certificate on disk without its key would be kept at the next start.
    write_atomic(&dir.join(CA_KEY_FILE), ca_key_pem.as_bytes(), true)?;
    write_atomic(&dir.join(SERVER_KEY_FILE), server_key.serialize_pem().as_bytes(), true)?;
    write_atomic(&dir.join(SERVER_CERT_FILE), server_cert.pem().as_bytes(), false)?;
    write_atomic(&dir.join(CA_CERT_FILE), ca_cert.pem().as_bytes(), false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_then_read_back_and_a_bad_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = key_file(dir.path(), MASTER_KEY_FILE).unwrap();
        let b = key_file(dir.path(), MASTER_KEY_FILE).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(MASTER_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::write(dir.path().join(DECOY_KEY_FILE), [0u8; 31]).unwrap();
        assert!(matches!(key_file(dir.path(), DECOY_KEY_FILE), Err(PortalError::BadKeyFile { .. })));
    }

    /// Processes starting together on a fresh state directory agree on the key (before, each
    /// could write its own and keep using it while the file held another's).
    #[test]
    fn a_key_created_by_racing_callers_is_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Barrier::new(8);
            let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            key_file(dir.path(), MASTER_KEY_FILE).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let on_disk = key_file(dir.path(), MASTER_KEY_FILE).unwrap();
            assert!(keys.iter().all(|k| *k == on_disk), "callers disagree on the key");
            let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, [MASTER_KEY_FILE], "no temporary file left behind");
        }
    }

    #[test]
    fn certificates_are_generated_on_first_use_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = generated_tls(dir.path()).unwrap();
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let second = generated_tls(dir.path()).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
    }
}
