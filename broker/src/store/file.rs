//! The one-machine store: a directory with one JSON file per invocation, per invocation's
//! issued credentials, per end, and per owed revocation. Each write goes to a temporary file
//! renamed into place, so a broker killed mid-write leaves the old file or the new one, never
//! half of either. Ends and owed revocations are also synced to disk before they count (they
//! must survive a power cut, not only a killed process); invocations and issued credentials
//! are not, since losing one to a power cut leaves a token that expires at its deadline, and
//! a sync per start would cost more than the rest of the start. Files are mode 0600: they hold
//! invocation tokens.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::{Ended, IssuedRecord, Owed, Record, Store, StoreError};

#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// Read-modify-write of one process is serialised; the store is for one broker.
    lock: Mutex<()>,
}

impl FileStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        for sub in ["invocations", "issued", "ended", "outbox"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| unavailable(&path, &e))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| unavailable(&path, &e))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            lock: Mutex::new(()),
        })
    }

    fn path(&self, kind: &str, key: &str) -> Result<PathBuf, StoreError> {
        // Keys are UUIDs and OpenBao accessors; anything else must not name a path.
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(StoreError::Corrupt(format!("unusable key {key:?}")));
        }
        Ok(self.dir.join(kind).join(format!("{key}.json")))
    }

    fn write<T: Serialize>(&self, path: &Path, value: &T, durable: bool) -> Result<(), StoreError> {
        let text = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| unavailable(&tmp, &e))?;
        file.write_all(&text).map_err(|e| unavailable(&tmp, &e))?;
        if durable {
            file.sync_all().map_err(|e| unavailable(&tmp, &e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| unavailable(path, &e))
    }

    fn read<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<T>, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(path, &e)),
        }
    }

    fn keys(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.dir.join(kind);
        let entries = std::fs::read_dir(&dir).map_err(|e| unavailable(&dir, &e))?;
        Ok(entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
            .collect())
    }

    fn records(&self) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        for id in self.keys("invocations")? {
            if self.read::<Ended>(&self.path("ended", &id)?)?.is_none() {
                out.extend(self.read::<Record>(&self.path("invocations", &id)?)?);
            }
        }
        Ok(out)
    }
}

fn unavailable(path: &Path, error: &std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {error}", path.display()))
}

#[async_trait]
impl Store for FileStore {
    async fn create(&self, record: &Record) -> Result<(), StoreError> {
        let _guard = self.lock.lock().await;
        self.write(&self.path("invocations", &record.invocation.id)?, record, false)
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self.path("invocations", id) {
            Ok(path) => self.read(&path),
            Err(_) => Ok(None),
        }
    }

    async fn ended(&self, id: &str) -> Result<Option<Ended>, StoreError> {
        self.read(&self.path("ended", id)?)
    }

    async fn issue(&self, id: &str, issued: &IssuedRecord) -> Result<IssuedRecord, StoreError> {
        let _guard = self.lock.lock().await;
        let path = self.path("issued", id)?;
        let mut all: Vec<IssuedRecord> = self.read(&path)?.unwrap_or_default();
        if let Some(existing) = all.iter().find(|i| i.name == issued.name) {
            return Ok(existing.clone());
        }
        all.push(issued.clone());
        self.write(&path, &all, false)?;
        Ok(issued.clone())
    }

    async fn issued(&self, id: &str) -> Result<Vec<IssuedRecord>, StoreError> {
        Ok(self.read(&self.path("issued", id)?)?.unwrap_or_default())
    }

    async fn end(&self, record: &Record, ended: &Ended) -> Result<bool, StoreError> {
        let _guard = self.lock.lock().await;
        let id = &record.invocation.id;
        let end_path = self.path("ended", id)?;
        if self.read::<Ended>(&end_path)?.is_some() {
            return Ok(false);
        }
        // Owed first: a crash between the two writes leaves a revocation that is carried out
        // and an invocation that the sweep ends again, never an end without its revocation.
        let owed = Owed {
            accessor: record.accessor.clone(),
            invocation_id: id.clone(),
            why: ended.why,
            since_unix_ms: ended.at_unix_ms,
        };
        self.write(&self.path("outbox", &record.accessor)?, &owed, true)?;
        self.write(&end_path, ended, true)?;
        Ok(true)
    }

    async fn expired(&self, now_unix_ms: u64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .records()?
            .into_iter()
            .filter(|r| r.invocation.deadline_unix_ms <= now_unix_ms)
            .map(|r| r.invocation.id)
            .collect())
    }

    async fn live(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.records()?.into_iter().map(|r| r.invocation.id).collect())
    }

    async fn owed(&self) -> Result<Vec<Owed>, StoreError> {
        let mut out = Vec::new();
        for accessor in self.keys("outbox")? {
            out.extend(self.read::<Owed>(&self.path("outbox", &accessor)?)?);
        }
        Ok(out)
    }

    async fn settle(&self, accessor: &str) -> Result<(), StoreError> {
        let path = self.path("outbox", accessor)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(&path, &e)),
        }
    }

    fn single_process(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_store_keeps_the_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        super::super::tests::contract(&store).await;
        let mode = std::fs::metadata(dir.path().join("invocations/inv-b.json"))
            .expect("record")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store.path("invocations", "../x").is_err());
    }
}
