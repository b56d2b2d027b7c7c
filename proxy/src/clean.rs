//! What one intercepted connection has already judged clean: the parts of a request head
//! (request target, method, the list of header names, one header's value) whose scan found
//! nothing, so that a keep-alive client repeating them (`User-Agent`, `Accept`, the same
//! path) is not scanned again for each request.
//!
//! Only parts whose verdict is a function of the part alone and the inspection's scope are
//! kept: each is judged on its own by the engine (the header names are judged together, so
//! their whole list is one part). A remembered verdict holds only while the scope it was
//! reached under holds: the same policy generation and the same identity (the same tool, the
//! same issued values); any other scope forgets everything. Parts are compared byte for byte,
//! never by hash alone, and the memory is bounded in entries and in bytes.

use std::sync::Mutex;

use crate::identity::Identity;

/// The most parts remembered per connection.
const MAX_ENTRIES: usize = 64;
/// The most bytes of parts remembered per connection.
const MAX_BYTES: usize = 8 * 1024;
/// A longer part is never remembered (it would crowd out the common short ones).
const MAX_PART: usize = 1024;

/// Which part of a request head a remembered verdict is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Target,
    Method,
    HeaderNames,
    Header,
}

/// The per-connection memory of clean verdicts. Shared by the streams of an h2 connection:
/// a request that finds it in use simply scans without it.
#[derive(Debug, Default)]
pub struct CleanCache {
    inner: Mutex<Remembered>,
}

/// The scope a set of clean verdicts was reached under.
#[derive(Debug)]
struct ScopeKey {
    generation: u64,
    /// Held, so that its allocation cannot be reused by another identity while remembered.
    identity: Identity,
}

#[derive(Debug, Default)]
pub struct Remembered {
    scope: Option<ScopeKey>,
    entries: Vec<Entry>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    part: Part,
    name: Box<[u8]>,
    value: Box<[u8]>,
}

impl CleanCache {
    /// The memory for requests judged under `generation` for `identity`, emptied first if it
    /// was filled under another scope; `None` while another request of the connection holds it.
    pub fn scoped(
        &self,
        generation: u64,
        identity: &Identity,
    ) -> Option<std::sync::MutexGuard<'_, Remembered>> {
        let mut remembered = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        remembered.enter(generation, identity);
        Some(remembered)
    }
}

impl Remembered {
    fn enter(&mut self, generation: u64, identity: &Identity) {
        let same = self
            .scope
            .as_ref()
            .is_some_and(|s| s.generation == generation && Identity::same(&s.identity, identity));
        if !same {
            self.forget();
            self.scope = Some(ScopeKey {
                generation,
                identity: identity.clone(),
            });
        }
    }

    fn forget(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// A cheap hash to pass over most entries at once. Not keyed: a collision costs one byte
    /// comparison, never a wrong verdict, and the entries are few.
    fn hash(&self, part: Part, name: &[u8], value: &[u8]) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ part as u64;
        for bytes in [name, value] {
            let mut words = bytes.chunks_exact(8);
            for word in &mut words {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                hash = (hash.rotate_left(5) ^ word).wrapping_mul(0x5149_7e2e_e6ae_d2c5);
            }
            for &byte in words.remainder() {
                hash = (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x5149_7e2e_e6ae_d2c5);
            }
            hash = (hash.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(0x5149_7e2e_e6ae_d2c5);
        }
        hash
    }

    /// Whether this part was judged clean under the current scope.
    pub fn is_clean(&self, part: Part, name: &[u8], value: &[u8]) -> bool {
        if value.len() + name.len() > MAX_PART {
            return false;
        }
        let hash = self.hash(part, name, value);
        self.entries
            .iter()
            .any(|e| e.hash == hash && e.part == part && *e.name == *name && *e.value == *value)
    }

    /// Remembers that this part was judged clean under the current scope. When full, the
    /// memory starts over: what a connection repeats comes back at once.
    pub fn remember(&mut self, part: Part, name: &[u8], value: &[u8]) {
        let size = value.len() + name.len();
        if size > MAX_PART || self.is_clean(part, name, value) {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES || self.bytes + size > MAX_BYTES {
            self.forget();
        }
        self.entries.push(Entry {
            hash: self.hash(part, name, value),
            part,
            name: name.into(),
            value: value.into(),
        });
        self.bytes += size;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::identity::Caller;

    fn identity(user: &str) -> Identity {
        Identity::new(Caller {
            user: user.to_owned(),
            tenant: "acme".to_owned(),
            session: "s".to_owned(),
            tool: "gh".to_owned(),
            call: None,
            issued: Arc::default(),
        })
    }

    #[test]
    fn a_remembered_part_hits_and_another_misses() {
        let cache = CleanCache::default();
        let me = identity("inv-1");
        let mut memory = cache.scoped(1, &me).expect("free");
        assert!(!memory.is_clean(Part::Header, b"user-agent", b"curl/8"));
        memory.remember(Part::Header, b"user-agent", b"curl/8");
        assert!(memory.is_clean(Part::Header, b"user-agent", b"curl/8"));
        // Another value, another name, another part: each a miss.
        assert!(!memory.is_clean(Part::Header, b"user-agent", b"curl/9"));
        assert!(!memory.is_clean(Part::Header, b"accept", b"curl/8"));
        assert!(!memory.is_clean(Part::Target, b"user-agent", b"curl/8"));
    }

    #[test]
    fn another_policy_generation_or_identity_forgets() {
        let cache = CleanCache::default();
        let me = identity("inv-1");
        cache
            .scoped(1, &me)
            .expect("free")
            .remember(Part::Target, b"", b"/1k");
        assert!(
            cache
                .scoped(1, &me)
                .expect("free")
                .is_clean(Part::Target, b"", b"/1k")
        );
        // A policy reload: the verdict may no longer hold.
        assert!(
            !cache
                .scoped(2, &me)
                .expect("free")
                .is_clean(Part::Target, b"", b"/1k")
        );
        cache
            .scoped(2, &me)
            .expect("free")
            .remember(Part::Target, b"", b"/1k");
        // The same name, another identity (other issued values): forgotten too.
        let refreshed = identity("inv-1");
        assert!(
            !cache
                .scoped(2, &refreshed)
                .expect("free")
                .is_clean(Part::Target, b"", b"/1k")
        );
    }

    #[test]
    fn the_memory_is_bounded() {
        let cache = CleanCache::default();
        let me = identity("inv-1");
        let mut memory = cache.scoped(1, &me).expect("free");
        for i in 0..10 * MAX_ENTRIES {
            memory.remember(Part::Header, b"x-n", i.to_string().as_bytes());
            assert!(memory.len() <= MAX_ENTRIES);
            assert!(memory.bytes <= MAX_BYTES);
        }
        let long = vec![b'a'; MAX_PART];
        memory.remember(Part::Header, b"x-long", &long);
        assert!(
            !memory.is_clean(Part::Header, b"x-long", &long),
            "a part over the limit is never kept"
        );
        for i in 0..100 {
            memory.remember(
                Part::Header,
                b"x-big",
                &vec![b'a' + (i % 26) as u8; MAX_PART - 10],
            );
            assert!(memory.bytes <= MAX_BYTES);
        }
    }

    #[test]
    fn a_busy_memory_is_skipped_not_waited_for() {
        let cache = CleanCache::default();
        let me = identity("inv-1");
        let held = cache.scoped(1, &me).expect("free");
        assert!(cache.scoped(1, &me).is_none());
        drop(held);
        assert!(cache.scoped(1, &me).is_some());
    }
}
