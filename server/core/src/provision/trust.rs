//! Which setup commands the user trusted, per repository: `trusted-setup.json` in the state
//! dir, mapping a repository's top-level path to the hashes of the exact commands trusted there.
//!
//! A command's hash is its git blob id (SHA-1 with collision detection, what
//! `printf %s "$SETUP" | git hash-object --stdin` prints), so a changed command asks again.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write as _,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

pub const TRUST_FILE_NAME: &str = "trusted-setup.json";
const TRUST_LOCK_NAME: &str = "trusted-setup.lock";

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("could not read the trusted setup commands in {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the trusted setup commands in {} are not valid JSON", path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not write the trusted setup commands to {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The hash that identifies this exact setup command.
pub fn setup_hash(setup: &str) -> String {
    gix::objs::compute_hash(
        gix::hash::Kind::Sha1,
        gix::objs::Kind::Blob,
        setup.as_bytes(),
    )
    .map(|id| id.to_string())
    .expect("hashing bytes in memory with SHA-1 cannot fail short of a detected collision")
}

type TrustFile = BTreeMap<String, BTreeSet<String>>;

/// Whether the user trusted the command with this hash for this repository.
pub fn is_trusted(state_dir: &Path, repo: &Path, hash: &str) -> Result<bool, TrustError> {
    let trusted = read_trust_file(&state_dir.join(TRUST_FILE_NAME))?;
    Ok(trusted
        .get(repo.to_string_lossy().as_ref())
        .is_some_and(|hashes| hashes.contains(hash)))
}

/// Records that the user trusts the command with this hash for this repository.
pub fn trust(state_dir: &Path, repo: &Path, hash: &str) -> Result<(), TrustError> {
    let path = state_dir.join(TRUST_FILE_NAME);
    let write_error = |source| TrustError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(write_error)?;
    // Two clients trusting at once: read-modify-write under an exclusive lock.
    let lock_path = state_dir.join(TRUST_LOCK_NAME);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(write_error)?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| write_error(std::io::Error::from(errno)))
        .and_then(|_held| {
            let mut trusted = read_trust_file(&path)?;
            let added = trusted
                .entry(repo.to_string_lossy().into_owned())
                .or_default()
                .insert(hash.to_owned());
            if !added {
                return Ok(());
            }
            let text = serde_json::to_vec_pretty(&trusted).expect("maps of strings serialize");
            let temporary = state_dir.join(format!("{TRUST_FILE_NAME}.tmp"));
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&temporary)
                .map_err(write_error)?;
            file.write_all(&text).map_err(write_error)?;
            file.sync_all().map_err(write_error)?;
            std::fs::rename(&temporary, &path).map_err(write_error)
        })
}

fn read_trust_file(path: &Path) -> Result<TrustFile, TrustError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(TrustFile::new()),
        Err(source) => {
            return Err(TrustError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| TrustError::Corrupt {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_is_per_repository_and_exact_command() {
        // `printf %s 'npm ci' | git hash-object --stdin`
        assert_eq!(
            setup_hash("npm ci"),
            "140b3bc6b0fef741ad9cf3a4c43b870b2cef1885"
        );
        let state = tempfile::tempdir().expect("a temporary folder");
        let repo = Path::new("/r/one");
        let hash = setup_hash("npm ci");
        assert!(!is_trusted(state.path(), repo, &hash).expect("read"));
        trust(state.path(), repo, &hash).expect("trust");
        trust(state.path(), repo, &hash).expect("trusting twice is fine");
        assert!(is_trusted(state.path(), repo, &hash).expect("read"));
        assert!(!is_trusted(state.path(), Path::new("/r/two"), &hash).expect("read"));
        assert!(!is_trusted(state.path(), repo, &setup_hash("npm ci && rm -rf ~")).expect("read"));
        std::fs::write(state.path().join(TRUST_FILE_NAME), "{").expect("write");
        let error = is_trusted(state.path(), repo, &hash).expect_err("corrupt file");
        assert!(error.to_string().contains(TRUST_FILE_NAME), "{error}");
    }
}
