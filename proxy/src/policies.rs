//! The policy set in force, swapped whole on reload. A reload validates the new set first; a
//! broken edit is rejected with its diagnostics logged and the old set stays in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tollgate_shared::policy::{Diagnostic, PolicySet, load_dir};

#[derive(Debug)]
pub struct PolicyStore {
    dir: PathBuf,
    current: RwLock<Arc<PolicySet>>,
}

/// Why a reload did not take effect.
#[derive(Debug)]
pub enum ReloadError {
    Unreadable(String),
    Invalid(Vec<Diagnostic>),
}

impl PolicyStore {
    /// Loads the directory; refuses to start on a broken set.
    pub fn open(dir: &Path) -> Result<Self, ReloadError> {
        let set = load(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(set)),
        })
    }

    pub fn current(&self) -> Arc<PolicySet> {
        // A poisoned lock only means a writer panicked between two whole sets; the value
        // inside is still one of them.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Loads the directory again and swaps the set in if it is valid.
    pub fn reload(&self) -> Result<usize, ReloadError> {
        let set = load(&self.dir)?;
        let tenants = set.tenants.len();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(tenants)
    }

    /// The newest modification time of any file in the directory tree, to notice edits.
    pub fn fingerprint(&self) -> Option<SystemTime> {
        newest(&self.dir)
    }
}

fn load(dir: &Path) -> Result<PolicySet, ReloadError> {
    let loaded = load_dir(dir).map_err(|e| ReloadError::Unreadable(e.to_string()))?;
    match loaded.policies {
        Some(set) => Ok(set),
        None => Err(ReloadError::Invalid(
            loaded
                .diagnostics
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect(),
        )),
    }
}

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    let children = std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| newest(&e.path()));
    children.chain(own).max()
}
