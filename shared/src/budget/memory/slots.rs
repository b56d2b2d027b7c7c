//! Where the in-process store keeps each scope's counters: one slab of slots, and in each
//! [`Plan`](crate::budget::Plan) a memo of its three slots, so that a request finds its
//! counters without hashing its ids (four times per request: admission, two charges,
//! settling). A slot given out gets a generation no slot of any store ever had before; a
//! freed slot loses it. A memo whose generations no longer match is stale (the scope was
//! swept, or the memo is another store's) and is resolved again by id.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Generations handed out, by every store in the process: unique, so a memo written by one
/// store never matches a slot of another. 0 marks a free slot.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// A slot as given out: its index and the generation it was given with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SlotRef {
    index: usize,
    generation: u64,
}

/// A plan's three slots in the store that last resolved them. Read and written only under
/// that store's lock, which orders the accesses; the atomics only make the plan shareable.
#[derive(Default)]
pub(crate) struct SlotMemo {
    slots: [(AtomicU64, AtomicU64); 3],
}

impl SlotMemo {
    pub(super) fn recall(&self) -> [SlotRef; 3] {
        self.slots.each_ref().map(|(index, generation)| SlotRef {
            index: usize::try_from(index.load(Ordering::Relaxed)).unwrap_or(usize::MAX),
            generation: generation.load(Ordering::Relaxed),
        })
    }

    pub(super) fn remember(&self, refs: [SlotRef; 3]) {
        for ((index, generation), r) in self.slots.iter().zip(refs) {
            index.store(r.index as u64, Ordering::Relaxed);
            generation.store(r.generation, Ordering::Relaxed);
        }
    }
}

/// A cache, not part of what the plan says: clones start empty, and any two are equal.
impl Clone for SlotMemo {
    fn clone(&self) -> SlotMemo {
        SlotMemo::default()
    }
}

impl PartialEq for SlotMemo {
    fn eq(&self, _other: &SlotMemo) -> bool {
        true
    }
}

impl Eq for SlotMemo {}

impl fmt::Debug for SlotMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotMemo")
    }
}

#[derive(Debug, Default)]
struct Slot<T> {
    generation: u64,
    value: T,
}

/// Values in slots that are reused once freed: its memory follows the most scopes held at
/// once, not the traffic.
#[derive(Debug)]
pub(super) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Default> Slab<T> {
    /// A slot holding `T::default()`.
    pub(super) fn alloc(&mut self) -> SlotRef {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        self.slots[index].generation = generation;
        SlotRef { index, generation }
    }

    /// Frees the slot and drops its value; `r` and every memo of it go stale.
    pub(super) fn release(&mut self, r: SlotRef) {
        if let Some(slot) = self
            .slots
            .get_mut(r.index)
            .filter(|s| s.generation == r.generation)
        {
            *slot = Slot::default();
            self.free.push(r.index);
        }
    }

    /// Whether `r` still names the slot it was given out as.
    pub(super) fn holds(&self, r: SlotRef) -> bool {
        r.generation != 0
            && self
                .slots
                .get(r.index)
                .is_some_and(|s| s.generation == r.generation)
    }

    pub(super) fn get(&self, r: SlotRef) -> Option<&T> {
        self.slots
            .get(r.index)
            .filter(|s| s.generation == r.generation && r.generation != 0)
            .map(|s| &s.value)
    }

    pub(super) fn get_mut(&mut self, r: SlotRef) -> Option<&mut T> {
        self.slots
            .get_mut(r.index)
            .filter(|s| s.generation == r.generation && r.generation != 0)
            .map(|s| &mut s.value)
    }

    /// Three distinct held slots at once; `None` if one is not held or two are the same.
    pub(super) fn three_mut(&mut self, refs: [SlotRef; 3]) -> Option<[&mut T; 3]> {
        if !refs.iter().all(|r| self.holds(*r)) {
            return None;
        }
        let at = refs.map(|r| r.index);
        if at[0] == at[1] || at[1] == at[2] || at[0] == at[2] {
            return None;
        }
        // Split the slab at the three in index order (`get_disjoint_mut` is newer than the
        // MSRV), then hand them back in the order asked.
        let mut order = [0, 1, 2];
        order.sort_unstable_by_key(|&i| at[i]);
        let (low, rest) = self.slots.split_at_mut(at[order[1]]);
        let (middle, high) = rest.split_at_mut(at[order[2]] - at[order[1]]);
        let mut out: [Option<&mut T>; 3] = [None, None, None];
        out[order[0]] = Some(&mut low[at[order[0]]].value);
        out[order[1]] = Some(&mut middle[0].value);
        out[order[2]] = Some(&mut high[0].value);
        let [a, b, c] = out;
        Some([a?, b?, c?])
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter(|s| s.generation != 0).map(|s| &s.value)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<T>>()
            + self.free.capacity() * std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_and_its_old_refs_and_memos_go_stale() {
        let mut slab: Slab<u64> = Slab::default();
        let refs = [slab.alloc(), slab.alloc(), slab.alloc()];
        let memo = SlotMemo::default();
        assert!(
            slab.three_mut(memo.recall()).is_none(),
            "an empty memo holds nothing"
        );
        memo.remember(refs);
        *slab.three_mut(memo.recall()).expect("held")[1] = 7;
        let [c, a, b] = slab.three_mut([refs[2], refs[0], refs[1]]).expect("any order");
        assert_eq!((*c, *a, *b), (0, 0, 7), "handed back in the order asked");
        assert_eq!(slab.get(refs[1]), Some(&7));
        slab.release(refs[1]);
        assert!(slab.three_mut(memo.recall()).is_none(), "stale after the release");
        let again = slab.alloc();
        assert_eq!(slab.get(again), Some(&0), "reused, emptied");
        assert!(slab.get(refs[1]).is_none());
        assert!(
            slab.three_mut([refs[0], refs[0], refs[2]]).is_none(),
            "not distinct"
        );
        let mut other: Slab<u64> = Slab::default();
        let theirs = [other.alloc(), other.alloc(), other.alloc()];
        assert!(
            slab.three_mut(theirs).is_none(),
            "another slab's refs never match"
        );
    }
}
