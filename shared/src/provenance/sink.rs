//! The writer: events go over a channel to one thread that seals them onto the chain and
//! appends them, flushing each batch and syncing to disk at most every `sync_every`, so no
//! request waits for the disk. A chain already in the file is continued after a restart.
//! Dropping the sink writes and syncs everything queued.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::chain::{GENESIS, seal, verify_lines};
use super::{Event, Record};

#[derive(Debug, Error)]
pub enum SinkError {
    #[error("cannot open the provenance file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("the provenance file {path} does not verify; refusing to continue its chain: {problem}")]
    Broken { path: PathBuf, problem: String },
}

/// A handle that writes events; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: std::sync::Mutex<Option<Sender<Event>>>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
    healthy: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

impl Sink {
    /// Opens (or continues) the chain in `path`.
    pub fn open(path: &Path, sync_every: Duration) -> Result<Self, SinkError> {
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SinkError::Open {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let (last_seq, last_hash) = match verify_lines(&existing) {
            Ok(v) if v.records > 0 => (v.last_seq, v.last_hash),
            Ok(_) => (0, GENESIS.to_owned()),
            Err(errors) => {
                return Err(SinkError::Broken {
                    path: path.to_owned(),
                    problem: errors.first().map(ToString::to_string).unwrap_or_default(),
                });
            }
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError::Open {
                path: path.to_owned(),
                source,
            })?;
        let (sender, receiver) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let state = Writer {
            file,
            last_seq,
            last_hash,
            sync_every,
            healthy: Arc::clone(&healthy),
        };
        let writer = std::thread::Builder::new()
            .name("provenance".to_owned())
            .spawn(move || state.run(&receiver))
            .map_err(|source| SinkError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                sender: std::sync::Mutex::new(Some(sender)),
                writer: std::sync::Mutex::new(Some(writer)),
                healthy,
            }),
        })
    }

    /// Queues one event; never blocks on the disk.
    pub fn emit(&self, event: Event) {
        if let Some(sender) = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = sender.send(event);
        }
    }

    /// Whether the last write succeeded.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }
}

struct Writer {
    file: std::fs::File,
    last_seq: u64,
    last_hash: String,
    sync_every: Duration,
    healthy: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self, receiver: &Receiver<Event>) {
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        loop {
            let first = match receiver.recv_timeout(self.sync_every) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let batch: Vec<Event> = first.into_iter().chain(receiver.try_iter()).collect();
            if !batch.is_empty() {
                self.append(batch);
                unsynced = true;
            }
            if unsynced && last_sync.elapsed() >= self.sync_every {
                self.sync();
                last_sync = Instant::now();
                unsynced = false;
            }
        }
        let rest: Vec<Event> = receiver.try_iter().collect();
        self.append(rest);
        self.sync();
    }

    fn append(&mut self, batch: Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let mut text = Vec::new();
        let mut records: Vec<Record> = Vec::with_capacity(batch.len());
        let (mut seq, mut hash) = (self.last_seq, self.last_hash.clone());
        for event in batch {
            let record = seal(event, seq, &hash);
            seq = record.seq;
            hash.clone_from(&record.hash);
            records.push(record);
        }
        for record in &records {
            if serde_json::to_writer(&mut text, record).is_ok() {
                text.push(b'\n');
            }
        }
        let before = self.file.metadata().map(|m| m.len());
        let written = self.file.write_all(&text).and_then(|()| self.file.flush());
        self.healthy.store(written.is_ok(), Ordering::Relaxed);
        match written {
            Ok(()) => {
                self.last_seq = seq;
                self.last_hash = hash;
            }
            Err(e) => {
                // A batch written in part would leave half a line: cut the file back to where
                // the chain last ended, so it still verifies and can be continued.
                if let Ok(len) = before {
                    let _ = self.file.set_len(len);
                }
                tracing::error!(
                    records = records.len(),
                    "cannot write provenance records; egress is refused until a write succeeds: {e}"
                );
            }
        }
    }

    fn sync(&mut self) {
        if let Err(e) = self.file.sync_data() {
            self.healthy.store(false, Ordering::Relaxed);
            tracing::error!("cannot sync the provenance file: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_chained_across_restarts_and_nothing_queued_is_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        for round in 0..2u64 {
            let sink = Sink::open(&path, Duration::from_millis(50)).expect("open");
            for i in 0..100 {
                sink.emit(Event::new("egress.allow", "proxy", round * 100 + i, 0));
            }
            drop(sink);
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let verified = verify_lines(&text).expect("the chain verifies");
        assert_eq!((verified.records, verified.last_seq), (200, 200));
    }

    #[test]
    fn a_broken_chain_is_not_continued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, "{\"not\": \"a record\"}\n").expect("write");
        assert!(matches!(
            Sink::open(&path, Duration::from_millis(50)),
            Err(SinkError::Broken { .. })
        ));
    }
}
