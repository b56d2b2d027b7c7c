//! The policy set in force, swapped whole on reload. A reload validates the new set first; a
//! broken edit is rejected with its diagnostics logged and the old set stays in force.

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tollgate_shared::detect::PolicyDetectors;
use tollgate_shared::policy::{Diagnostic, PolicySet, load_dir, newest_change};

#[derive(Debug)]
pub struct PolicyStore {
    dir: PathBuf,
    current: RwLock<Arc<Snapshot>>,
}

/// One loaded policy set, with what the proxy derives from it once per load rather than per
/// request: each tool's detector settings in the engine's form.
#[derive(Debug)]
pub struct Snapshot {
    set: PolicySet,
    /// tenant → tool → detectors.
    detectors: HashMap<String, HashMap<String, PolicyDetectors>>,
    /// Distinct for every snapshot this process loads, so that what was judged under one set
    /// is known not to carry over to the next.
    generation: u64,
}

/// The generation of the next snapshot.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

impl Snapshot {
    fn new(set: PolicySet) -> Self {
        let tools = |t: &tollgate_shared::policy::model::Tenant| {
            t.tools
                .iter()
                .map(|tool| (tool.name.clone(), PolicyDetectors::new(&tool.detectors)))
                .collect()
        };
        let detectors = set.tenants.values().map(|t| (t.id.clone(), tools(t))).collect();
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        Self {
            set,
            detectors,
            generation,
        }
    }

    /// This snapshot's generation (see [`crate::clean`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The detector settings of one tenant's tool.
    pub fn detectors(&self, tenant: &str, tool: &str) -> Option<&PolicyDetectors> {
        self.detectors.get(tenant)?.get(tool)
    }
}

impl Deref for Snapshot {
    type Target = PolicySet;

    fn deref(&self) -> &PolicySet {
        &self.set
    }
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
            current: RwLock::new(Arc::new(Snapshot::new(set))),
        })
    }

    pub fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a writer panicked between two whole sets; the value
        // inside is still one of them.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Loads the directory again and swaps the set in if it is valid.
    pub fn reload(&self) -> Result<usize, ReloadError> {
        let set = load(&self.dir)?;
        let tenants = set.tenants.len();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Snapshot::new(set));
        Ok(tenants)
    }

    /// The newest modification time of any file in the directory tree, to notice edits.
    pub fn fingerprint(&self) -> Option<SystemTime> {
        newest_change(&self.dir)
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
