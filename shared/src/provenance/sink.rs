//! The writer: events go over a channel to one thread that seals them onto the chain and
//! appends them, flushing each batch, so no request waits for the disk. It syncs to disk at
//! most every `sync_every` (a crash loses at most that much; a clean shutdown loses nothing:
//! dropping the sink writes, checkpoints and syncs everything queued), signs a checkpoint
//! every `checkpoint_every` while records arrive, and rotates the file past `rotate_bytes`.
//! A chain already in the file is continued after a restart.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use thiserror::Error;

use super::chain::{CHECKPOINT, CHECKPOINT_KEY, CHECKPOINT_NOTE, GENESIS, ROTATE, seal_into, verify_lines};
use super::checkpoint::{CheckpointError, Signer, Tree};
use super::{Event, Record, SCHEMA};

#[derive(Debug, Error)]
pub enum SinkError {
    #[error("cannot open the provenance file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("the provenance file {path} does not verify; refusing to continue its chain: {problem}")]
    Broken { path: PathBuf, problem: String },
    #[error(transparent)]
    Key(#[from] CheckpointError),
}

/// How a service writes its provenance (strict: a person writes it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSettings {
    /// The JSON Lines file; rotated files sit beside it as `<path>.1`, `<path>.2`, ...
    pub path: PathBuf,
    /// Longest a written record waits for `fsync`: what a crash can lose.
    #[serde(default = "default_sync", deserialize_with = "duration")]
    pub sync_every: Duration,
    /// How often a signed checkpoint is written while records arrive.
    #[serde(default = "default_checkpoint", deserialize_with = "duration")]
    pub checkpoint_every: Duration,
    /// Rotate once the file is this large (bytes).
    #[serde(default = "default_rotate")]
    pub rotate_bytes: u64,
    /// The Ed25519 signing key (PKCS#8), made on first start; `<path>.key` when unset.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The checkpoints' origin and key name; `tollgate/<service>` when unset.
    #[serde(default)]
    pub origin: Option<String>,
    /// Room the file's disk must keep free (bytes), asked of the filesystem every
    /// `sync_every`: with less, the service refuses new work before records are lost, since
    /// what is in flight still fits.
    #[serde(default = "default_reserve")]
    pub reserve_bytes: u64,
    /// Also export every record over OTLP/HTTP.
    #[serde(default)]
    pub otlp: Option<super::otlp::OtlpSettings>,
}

fn default_sync() -> Duration {
    Duration::from_secs(1)
}
fn default_checkpoint() -> Duration {
    Duration::from_secs(10)
}
fn default_rotate() -> u64 {
    256 << 20
}
fn default_reserve() -> u64 {
    256 << 10
}
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

impl SinkSettings {
    /// The defaults, writing to `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sync_every: default_sync(),
            checkpoint_every: default_checkpoint(),
            rotate_bytes: default_rotate(),
            key: None,
            origin: None,
            reserve_bytes: default_reserve(),
            otlp: None,
        }
    }

    pub fn key_path(&self) -> PathBuf {
        self.key.clone().unwrap_or_else(|| sibling(&self.path, "key"))
    }

    /// Where the latest checkpoint is kept apart from the file: the anchor for its tail.
    pub fn checkpoint_path(&self) -> PathBuf {
        sibling(&self.path, "checkpoint")
    }
}

/// Provenance settings as a config file writes them: a path alone (`provenance =
/// "p.jsonl"`), a table with `path` and any of the other settings, or `false` for none (for
/// benchmarks that measure what provenance costs).
pub fn settings_or_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SinkSettings>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Option<SinkSettings>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a file path, a table with `path` and the provenance settings, or false")
        }
        fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
            if on {
                Err(E::custom("say where: provenance = \"path\" (or false for none)"))
            } else {
                Ok(None)
            }
        }
        fn visit_str<E: serde::de::Error>(self, path: &str) -> Result<Self::Value, E> {
            Ok(Some(SinkSettings::at(path)))
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
            SinkSettings::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(Visit)
}

/// `<path>.<suffix>`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// How long the writer lets records gather once one arrives: the most a record waits before
/// it is written (and seen by readers of the file).
const GATHER: Duration = Duration::from_millis(2);

/// Events queued for the writer at most (about 1 KiB each).
const QUEUE: usize = 65_536;

/// A handle that writes events; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sender: std::sync::Mutex<Option<SyncSender<Event>>>,
    /// Set while the queue is full: new work is refused until the writer has caught up.
    backlog: Arc<AtomicBool>,
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
    /// Opens (or continues) the chain in `settings.path` for `service` (`proxy`, `broker`).
    pub fn open(settings: &SinkSettings, service: &str) -> Result<Self, SinkError> {
        let path = &settings.path;
        let origin = settings
            .origin
            .clone()
            .unwrap_or_else(|| format!("tollgate/{service}"));
        let signer = Signer::load_or_create(&settings.key_path(), &origin)?;
        let open_error = |source| SinkError::Open {
            path: path.clone(),
            source,
        };
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(open_error(source)),
        };
        let chain = match verify_lines(&existing) {
            Ok(v) => Chain {
                last_seq: v.last_seq,
                last_hash: if v.records > 0 {
                    v.last_hash
                } else {
                    GENESIS.to_owned()
                },
                checkpointed: if v.checkpoints > 0 {
                    v.last_checkpoint + 1
                } else {
                    0
                },
                tree: v.tree,
            },
            Err(errors) => {
                return Err(SinkError::Broken {
                    path: path.clone(),
                    problem: errors.first().map(ToString::to_string).unwrap_or_default(),
                });
            }
        };
        let file = append_to(path).map_err(open_error)?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let healthy = Arc::new(AtomicBool::new(true));
        let backlog = Arc::new(AtomicBool::new(false));
        let exporter = settings
            .otlp
            .as_ref()
            .map(|o| super::otlp::Exporter::start(o, service))
            .transpose()
            .map_err(open_error)?;
        let mut state = Writer {
            backlog: Arc::clone(&backlog),
            exporter,
            file,
            written: existing.len() as u64,
            chain,
            settings: settings.clone(),
            service: service.to_owned(),
            origin,
            signer,
            healthy: Arc::clone(&healthy),
            appended: true,
        };
        state.probe();
        let writer = std::thread::Builder::new()
            .name("provenance".to_owned())
            .spawn(move || state.run(&receiver))
            .map_err(open_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                sender: std::sync::Mutex::new(Some(sender)),
                backlog,
                writer: std::sync::Mutex::new(Some(writer)),
                healthy,
            }),
        })
    }

    /// Queues one event; never waits for the disk while the writer keeps up. When the queue
    /// is full (a stalled writer), the sink reports itself unhealthy, so new work is refused,
    /// and this event waits for room: memory stays bounded and nothing is dropped.
    pub fn emit(&self, event: Event) {
        let sender = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(sender) = sender else {
            return;
        };
        if let Err(TrySendError::Full(event)) = sender.try_send(event) {
            self.inner.backlog.store(true, Ordering::Relaxed);
            let _ = sender.send(event);
        }
    }

    /// Whether records are being written and the writer keeps up.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed) && !self.inner.backlog.load(Ordering::Relaxed)
    }
}

fn append_to(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Where the chain in the current file stands.
struct Chain {
    last_seq: u64,
    last_hash: String,
    tree: Tree,
    /// The tree's size just after the last checkpoint record: nothing new while it is the
    /// size now.
    checkpointed: u64,
}

struct Writer {
    backlog: Arc<AtomicBool>,
    exporter: Option<super::otlp::Exporter>,
    file: std::fs::File,
    /// Bytes in the current file.
    written: u64,
    chain: Chain,
    settings: SinkSettings,
    service: String,
    origin: String,
    signer: Signer,
    healthy: Arc<AtomicBool>,
    /// Whether the last append succeeded (healthy also needs the reserve).
    appended: bool,
}

impl Writer {
    /// Healthy when the last append worked and the disk still has the reserve free.
    fn probe(&mut self) {
        let was = self.healthy.load(Ordering::Relaxed);
        let reserved = self.appended && self.reserve_free(was);
        self.healthy.store(reserved, Ordering::Relaxed);
        if reserved && !was {
            tracing::info!("provenance records are written again; egress resumes");
        }
    }

    /// Whether the file's filesystem has `reserve_bytes` free for unprivileged writers (as
    /// the filesystem says: nothing is written to find out). Logs a failure only when
    /// `healthy` was, not on every retry.
    fn reserve_free(&mut self, healthy: bool) -> bool {
        if self.settings.reserve_bytes == 0 {
            return true;
        }
        let dir = match self.settings.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let free = rustix::fs::statvfs(dir)
            .map(|fs| fs.f_bavail.saturating_mul(fs.f_frsize))
            .map_err(std::io::Error::from);
        let enough = matches!(free, Ok(free) if free >= self.settings.reserve_bytes);
        if !enough && healthy {
            let why = match free {
                Ok(free) => format!("{free} bytes free"),
                Err(e) => e.to_string(),
            };
            tracing::error!(
                reserve = self.settings.reserve_bytes,
                "the provenance disk has not the reserve free; egress is refused until it has: {why}"
            );
        }
        enough
    }

    fn run(mut self, receiver: &Receiver<Event>) {
        let (mut last_sync, mut last_checkpoint, mut last_probe) =
            (Instant::now(), Instant::now(), Instant::now());
        let mut unsynced = false;
        let tick = self.settings.sync_every.min(self.settings.checkpoint_every);
        loop {
            let first = match receiver.recv_timeout(tick) {
                Ok(event) => {
                    // Let a batch gather: while this thread sleeps rather than waits on the
                    // channel, sending costs the request no wake-up system call.
                    std::thread::sleep(GATHER);
                    Some(event)
                }
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let batch: Vec<Event> = first.into_iter().chain(receiver.try_iter()).collect();
            if !batch.is_empty() {
                self.append(batch);
                unsynced = true;
            }
            // The queue was drained: whoever waited for room has it.
            self.backlog.store(false, Ordering::Relaxed);
            if self.written >= self.settings.rotate_bytes {
                self.rotate();
                (last_sync, last_checkpoint, unsynced) = (Instant::now(), Instant::now(), false);
            }
            if last_checkpoint.elapsed() >= self.settings.checkpoint_every {
                if self.checkpoint() {
                    unsynced = true;
                }
                last_checkpoint = Instant::now();
            }
            if unsynced && last_sync.elapsed() >= self.settings.sync_every {
                self.sync();
                last_sync = Instant::now();
                unsynced = false;
            }
            let healthy = self.healthy.load(Ordering::Relaxed);
            let every = if healthy {
                self.settings.sync_every
            } else {
                Duration::from_millis(100)
            };
            if last_probe.elapsed() >= every {
                self.probe();
                last_probe = Instant::now();
            }
        }
        let rest: Vec<Event> = receiver.try_iter().collect();
        self.append(rest);
        self.checkpoint();
        self.sync();
    }

    fn append(&mut self, batch: Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let mut text = Vec::with_capacity(batch.len() * 1024);
        let mut records: Vec<Record> = Vec::with_capacity(batch.len());
        let (mut seq, mut hash) = (self.chain.last_seq, self.chain.last_hash.clone());
        for event in batch {
            let mut record = Record {
                schema: SCHEMA.to_owned(),
                seq: seq + 1,
                prev_hash: hash,
                hash: String::new(),
                event,
            };
            seal_into(&mut record, &mut text);
            text.push(b'\n');
            seq = record.seq;
            hash = record.hash.clone();
            records.push(record);
        }
        let written = self.file.write_all(&text).and_then(|()| self.file.flush());
        self.appended = written.is_ok();
        if !self.appended {
            self.healthy.store(false, Ordering::Relaxed);
        }
        match written {
            Ok(()) => {
                self.written += text.len() as u64;
                self.chain.last_seq = seq;
                self.chain.last_hash = hash;
                for record in &records {
                    self.chain.tree.push(&record.hash);
                }
                if let Some(exporter) = self.exporter.as_mut() {
                    exporter.send(records);
                }
            }
            Err(e) => {
                // A batch written in part would leave half a line: cut the file back to where
                // the chain last ended, so it still verifies and can be continued.
                let _ = self.file.set_len(self.written);
                tracing::error!(
                    records = records.len(),
                    "cannot write provenance records; egress is refused until a write succeeds: {e}"
                );
            }
        }
    }

    /// Signs a checkpoint of every record so far, if any came since the last; writes it as a
    /// record and as the anchor file. Whether one was written.
    fn checkpoint(&mut self) -> bool {
        let size = self.chain.tree.size();
        if size == self.chain.checkpointed {
            return false;
        }
        let note = self.signer.sign(&self.origin, size, &self.chain.tree.root());
        let event = Event::now(CHECKPOINT, &self.service)
            .with("tollgate.checkpoint.size", size)
            .with(CHECKPOINT_NOTE, note.as_str())
            .with(CHECKPOINT_KEY, self.signer.verifier().to_string());
        self.append(vec![event]);
        if self.chain.tree.size() == size {
            return false; // not written: the next interval tries again
        }
        self.chain.checkpointed = self.chain.tree.size();
        self.sync();
        let anchor = self.settings.checkpoint_path();
        let temporary = sibling(&anchor, "tmp");
        let replaced =
            std::fs::write(&temporary, note.as_bytes()).and_then(|()| std::fs::rename(&temporary, &anchor));
        if let Err(e) = replaced {
            tracing::error!("cannot write the provenance checkpoint {}: {e}", anchor.display());
        }
        true
    }

    /// Closes the file with a checkpoint, moves it aside as `<path>.N`, and opens a new file
    /// whose first record names the old one, its last hash and its tree.
    fn rotate(&mut self) {
        self.checkpoint();
        self.sync();
        let path = self.settings.path.clone();
        let number = (1..)
            .find(|n| !sibling(&path, &n.to_string()).exists())
            .unwrap_or(1);
        let moved = sibling(&path, &number.to_string());
        if let Err(e) = std::fs::rename(&path, &moved) {
            tracing::error!("cannot rotate the provenance file {}: {e}", path.display());
            return;
        }
        let file = match append_to(&path) {
            Ok(file) => file,
            Err(e) => {
                self.appended = false;
                self.healthy.store(false, Ordering::Relaxed);
                tracing::error!("cannot open a new provenance file {}: {e}", path.display());
                return;
            }
        };
        let previous = std::mem::replace(
            &mut self.chain,
            Chain {
                last_seq: 0,
                last_hash: GENESIS.to_owned(),
                tree: Tree::default(),
                checkpointed: 0,
            },
        );
        self.file = file;
        self.written = 0;
        let name = moved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.append(vec![
            Event::now(ROTATE, &self.service)
                .with("tollgate.rotate.previous", name)
                .with("tollgate.rotate.previous_last_seq", previous.last_seq)
                .with("tollgate.rotate.previous_last_hash", previous.last_hash)
                .with(
                    "tollgate.rotate.previous_root",
                    base64::engine::general_purpose::STANDARD.encode(previous.tree.root()),
                ),
        ]);
        tracing::info!(rotated = %moved.display(), "provenance file rotated");
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
    use super::super::chain::seal;
    use super::*;

    fn settings(path: &Path) -> SinkSettings {
        SinkSettings {
            sync_every: Duration::from_millis(50),
            ..SinkSettings::at(path)
        }
    }

    #[test]
    fn events_are_chained_across_restarts_and_nothing_queued_is_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        for round in 0..2u64 {
            let sink = Sink::open(&settings(&path), "proxy").expect("open");
            for i in 0..100 {
                sink.emit(Event::new("egress.allow", "proxy", round * 100 + i, 0));
            }
            drop(sink);
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let verified = verify_lines(&text).expect("the chain verifies");
        // 200 events, and the checkpoint each clean shutdown signs.
        assert_eq!((verified.records, verified.checkpoints), (202, 2));
        assert_eq!((verified.last_seq, verified.last_checkpoint), (202, 201));
        assert_eq!(
            verified.unanchored(),
            1,
            "only the last checkpoint itself comes after it"
        );
    }

    #[test]
    fn a_broken_chain_is_not_continued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, "{\"not\": \"a record\"}\n").expect("write");
        assert!(matches!(
            Sink::open(&settings(&path), "proxy"),
            Err(SinkError::Broken { .. })
        ));
    }

    fn records_of(path: &Path) -> Vec<Record> {
        std::fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(|l| serde_json::from_str(l).expect("record"))
            .collect()
    }

    #[test]
    fn files_rotate_past_their_size_and_each_names_the_one_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        let sink = Sink::open(
            &SinkSettings {
                rotate_bytes: 4096,
                ..settings(&path)
            },
            "broker",
        )
        .expect("open");
        for i in 0..200u64 {
            sink.emit(Event::new("egress.allow", "proxy", i, i).with("server.address", "x".repeat(40)));
            if i % 20 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        drop(sink);
        let mut files = vec![];
        for n in 1.. {
            let rotated = sibling(&path, &n.to_string());
            if !rotated.exists() {
                break;
            }
            files.push(rotated);
        }
        files.push(path.clone());
        assert!(files.len() >= 3, "rotated into {} files", files.len());
        let mut events = 0;
        for pair in files.windows(2) {
            let before = verify_lines(&std::fs::read_to_string(&pair[0]).expect("read")).expect("verifies");
            let after = records_of(&pair[1]);
            let opening = &after[0].event;
            assert_eq!(opening.kind, ROTATE);
            assert_eq!(
                opening.text("tollgate.rotate.previous_last_hash"),
                Some(before.last_hash.as_str())
            );
            assert!(
                before.checkpoints >= 1 && before.unanchored() == 1,
                "closed with a checkpoint"
            );
        }
        for file in &files {
            events += records_of(file)
                .iter()
                .filter(|r| r.event.kind == "egress.allow")
                .count();
        }
        assert_eq!(events, 200, "nothing lost across rotations");
    }

    #[test]
    fn a_forged_or_foreign_checkpoint_and_a_cut_tail_are_caught() {
        use super::super::ChainError;
        use super::super::chain::{Trust, verify_with};
        use super::super::checkpoint::{Checkpoint, VerifierKey};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.jsonl");
        let settings = settings(&path);
        for round in 0..2u64 {
            let sink = Sink::open(&settings, "proxy").expect("open");
            for i in 0..10 {
                sink.emit(Event::new("egress.allow", "proxy", round * 10 + i, 0));
            }
            drop(sink);
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let key: VerifierKey = std::fs::read_to_string(sibling(&settings.key_path(), "pub"))
            .expect("pub")
            .trim()
            .parse()
            .expect("key");
        let anchor = Checkpoint::parse(&std::fs::read_to_string(settings.checkpoint_path()).expect("anchor"))
            .expect("anchor parses");
        let trust = Trust {
            keys: std::slice::from_ref(&key),
            anchor: Some(&anchor),
        };
        let verified = verify_with(&text, trust).expect("verifies with its key and anchor");
        assert_eq!((verified.checkpoints, anchor.size), (2, 21));

        // A stranger's key: the same file does not verify against it.
        let stranger = Signer::load_or_create(&dir.path().join("other.key"), "tollgate/proxy").expect("key");
        let foreign = verify_with(
            &text,
            Trust {
                keys: &[stranger.verifier()],
                anchor: None,
            },
        )
        .expect_err("not signed by the trusted key");
        assert!(
            matches!(foreign[0], ChainError::BadCheckpoint { line: 11, .. }),
            "{foreign:?}"
        );

        // A checkpoint re-signed by a stranger over the same tree, its record resealed so
        // the hash chain alone would not notice: the trusted key still does.
        let lines: Vec<&str> = text.lines().collect();
        let mut record: Record = serde_json::from_str(lines[10]).expect("checkpoint record");
        let original = Checkpoint::parse(record.event.text(CHECKPOINT_NOTE).expect("note")).expect("parse");
        record.event.attributes.insert(
            CHECKPOINT_NOTE.into(),
            stranger
                .sign(&original.origin, original.size, &original.root)
                .into(),
        );
        record
            .event
            .attributes
            .insert(CHECKPOINT_KEY.into(), stranger.verifier().to_string().into());
        let resealed = seal(record.event.clone(), record.seq - 1, &record.prev_hash);
        let mut forged: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        forged[10] = serde_json::to_string(&resealed).expect("json");
        let errors = verify_with(&forged.join("\n"), trust).expect_err("forged");
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, ChainError::BadCheckpoint { line: 11, .. })),
            "{errors:?}"
        );

        // A checkpoint whose size or root was changed (and resealed): the tree says no.
        let mut record: Record = serde_json::from_str(lines[10]).expect("checkpoint record");
        let lying = Signer::load_or_create(&settings.key_path(), "tollgate/proxy")
            .expect("the writer's own key")
            .sign(&original.origin, original.size - 1, &original.root);
        record
            .event
            .attributes
            .insert(CHECKPOINT_NOTE.into(), lying.into());
        let resealed = seal(record.event.clone(), record.seq - 1, &record.prev_hash);
        let mut forged: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        forged[10] = serde_json::to_string(&resealed).expect("json");
        let errors = verify_with(&forged.join("\n"), Trust::default()).expect_err("forged");
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, ChainError::BadCheckpoint { line: 11, .. })),
            "{errors:?}"
        );

        // The tail cut off: the chain alone verifies, the anchor does not.
        let cut = lines[..15].join("\n");
        assert!(
            verify_lines(&cut).is_ok(),
            "a cut tail verifies by the chain alone"
        );
        let errors = verify_with(&cut, trust).expect_err("cut");
        assert_eq!(
            errors,
            vec![ChainError::Truncated {
                records: 15,
                size: 21
            }]
        );
    }
}
