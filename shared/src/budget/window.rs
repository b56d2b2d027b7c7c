//! The `requests_per_minute` window in constant memory: admissions are counted in one-second
//! sub-buckets instead of one timestamp each, so a scope's window costs the same at 1 or at
//! 100,000 requests a minute.
//!
//! The rule, shared by both stores (the Redis scripts take the bucket numbers computed here):
//! an admission at `t` (milliseconds since the Unix epoch) falls in bucket `ceil(t / 1000)`
//! and counts until 60 s after that bucket's end, `bucket × 1000 + 60_000`. It therefore
//! counts for at least 60 s and at most 61 s. Consequences:
//! - at most N admissions in *any* rolling 60 s, as with an exact log (each counts ≥ 60 s);
//! - the boundary error is one-sided: a refused client may wait up to 1 s longer than an exact
//!   log would make it wait; it is never admitted early;
//! - `Retry-After` is exact for this rule: the moment the bucket holding the admission that
//!   must leave reaches its end, computed to the millisecond;
//! - at most [`RATE_SLOTS`] buckets are live at once.

use std::time::Duration;

use super::model::RATE_WINDOW_MS;

/// Width of one sub-bucket of the rate window.
pub const RATE_BUCKET_MS: u64 = 1_000;

/// Buckets that can count at one moment: those ending in the last 60 s plus the current one.
pub(crate) const RATE_SLOTS: usize = (RATE_WINDOW_MS / RATE_BUCKET_MS) as usize + 1;

/// The bucket an admission at `now_ms` falls in.
pub(crate) fn bucket_at(now_ms: u64) -> u64 {
    now_ms.div_ceil(RATE_BUCKET_MS)
}

/// The oldest bucket that still counts at `now_ms`: the smallest `k` whose end plus the window
/// lies after `now_ms`.
pub(crate) fn first_live_bucket(now_ms: u64) -> u64 {
    match now_ms.checked_sub(RATE_WINDOW_MS) {
        Some(past) => past / RATE_BUCKET_MS + 1,
        None => 0,
    }
}

/// When the admissions of bucket `k` stop counting.
pub(crate) fn bucket_leaves_ms(k: u64) -> u64 {
    k.saturating_mul(RATE_BUCKET_MS).saturating_add(RATE_WINDOW_MS)
}

/// One scope's window: a ring of per-bucket counts and their sum.
#[derive(Debug, Clone)]
pub(crate) struct RateWindow {
    counts: [u32; RATE_SLOTS],
    /// The oldest bucket the ring holds; every count belongs to `first..first + RATE_SLOTS`.
    first: u64,
    total: u64,
}

impl RateWindow {
    pub(crate) fn new(now_ms: u64) -> RateWindow {
        RateWindow {
            counts: [0; RATE_SLOTS],
            first: first_live_bucket(now_ms),
            total: 0,
        }
    }

    /// Drops the buckets that stopped counting by `now_ms`: at most [`RATE_SLOTS`] steps, and
    /// each bucket is dropped once. A clock that went back leaves the ring as it is.
    pub(crate) fn advance(&mut self, now_ms: u64) {
        let first = first_live_bucket(now_ms);
        if first <= self.first {
            return;
        }
        if first - self.first >= RATE_SLOTS as u64 {
            self.counts = [0; RATE_SLOTS];
            self.total = 0;
        } else {
            for k in self.first..first {
                let slot = &mut self.counts[slot_of(k)];
                self.total -= u64::from(*slot);
                *slot = 0;
            }
        }
        self.first = first;
    }

    /// Admissions that count now; call [`RateWindow::advance`] first.
    pub(crate) fn admitted(&self) -> u64 {
        self.total
    }

    /// Admissions that count at `now_ms`, without dropping anything (a read).
    pub(crate) fn admitted_at(&self, now_ms: u64) -> u64 {
        let first = first_live_bucket(now_ms);
        if first <= self.first {
            return self.total;
        }
        let end = self.first + RATE_SLOTS as u64;
        (first.min(end)..end)
            .map(|k| u64::from(self.counts[slot_of(k)]))
            .sum()
    }

    /// Counts one admission at `now_ms`; call [`RateWindow::advance`] first. An admission
    /// stamped before the oldest bucket held (a clock that went back) is counted in that
    /// bucket: later, so it counts no shorter.
    pub(crate) fn record(&mut self, now_ms: u64) {
        let newest = self.first + RATE_SLOTS as u64 - 1;
        let k = bucket_at(now_ms).clamp(self.first, newest);
        let slot = &mut self.counts[slot_of(k)];
        *slot = slot.saturating_add(1);
        self.total += 1;
    }

    /// With the window full (`admitted() >= limit`), how long until it holds fewer than
    /// `limit`: until the bucket of the `admitted() - limit + 1`-th oldest admission leaves.
    /// `None` when it never will (a limit of zero).
    pub(crate) fn retry_after(&self, limit: u64, now_ms: u64) -> Option<Duration> {
        if limit == 0 {
            return None;
        }
        let must_leave = self.total.checked_sub(limit)? + 1;
        let mut left = 0;
        for k in self.first..self.first + RATE_SLOTS as u64 {
            left += u64::from(self.counts[slot_of(k)]);
            if left >= must_leave {
                return Some(Duration::from_millis(bucket_leaves_ms(k).saturating_sub(now_ms)));
            }
        }
        None
    }

    /// Buckets with admissions in them: for the store's footprint.
    pub(crate) fn buckets_in_use(&self) -> usize {
        self.counts.iter().filter(|c| **c > 0).count()
    }
}

fn slot_of(k: u64) -> usize {
    // RATE_SLOTS is small, so the remainder fits any usize.
    (k % RATE_SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_750_000_000_000;

    fn window_with(admissions: &[u64]) -> RateWindow {
        let mut w = RateWindow::new(admissions[0]);
        for &t in admissions {
            w.advance(t);
            w.record(t);
        }
        w
    }

    #[test]
    fn an_admission_counts_from_its_time_until_sixty_seconds_after_its_bucket_ends() {
        let at = T0 + 200; // bucket ends at T0 + 1000
        let mut w = window_with(&[at]);
        for (now, counted) in [(at + 59_999, 1), (T0 + 60_999, 1), (T0 + 61_000, 0)] {
            assert_eq!(w.admitted_at(now), counted, "at {now}");
        }
        w.advance(T0 + 61_000);
        assert_eq!(w.admitted(), 0);
    }

    #[test]
    fn an_admission_on_a_bucket_boundary_counts_exactly_sixty_seconds() {
        let mut w = window_with(&[T0]);
        assert_eq!(w.retry_after(1, T0 + 30_000), Some(Duration::from_secs(30)));
        w.advance(T0 + 59_999);
        assert_eq!(w.admitted(), 1);
        w.advance(T0 + 60_000);
        assert_eq!(w.admitted(), 0);
    }

    #[test]
    fn retry_after_waits_for_the_admission_that_must_leave() {
        // Three admissions 10 s apart. Limit 3: the oldest must leave (at T0 + 60 s).
        let w = window_with(&[T0, T0 + 10_000, T0 + 20_000]);
        assert_eq!(w.retry_after(3, T0 + 20_000), Some(Duration::from_secs(40)));
        // Limit 2: two must leave; the second leaves at T0 + 70 s.
        assert_eq!(w.retry_after(2, T0 + 20_000), Some(Duration::from_secs(50)));
        assert_eq!(w.retry_after(1, T0 + 20_000), Some(Duration::from_secs(60)));
        assert_eq!(w.retry_after(0, T0 + 20_000), None);
        assert_eq!(w.retry_after(4, T0 + 20_000), None, "not full");
    }

    #[test]
    fn memory_stays_within_the_ring_however_many_admissions() {
        let mut w = RateWindow::new(T0);
        for i in 0..200_000u64 {
            let now = T0 + i; // one a millisecond: 200 s of history
            w.advance(now);
            w.record(now);
        }
        assert!(w.buckets_in_use() <= RATE_SLOTS);
        // The last 60 s, give or take the bucket rounding: between 60,000 and 61,000.
        let counted = w.admitted();
        assert!((60_000..=61_000).contains(&counted), "{counted}");
    }

    #[test]
    fn never_more_than_the_limit_in_any_rolling_minute() {
        // Greedy admissions at every 137 ms under a limit of 50, checked against every
        // rolling 60 s of what was admitted.
        let limit = 50;
        let mut w = RateWindow::new(T0);
        let mut admitted = Vec::new();
        for i in 0..5_000u64 {
            let now = T0 + i * 137;
            w.advance(now);
            if w.admitted() < limit {
                w.record(now);
                admitted.push(now);
            }
        }
        for (i, &t) in admitted.iter().enumerate() {
            let in_minute = admitted[i..]
                .iter()
                .take_while(|&&u| u < t + RATE_WINDOW_MS)
                .count();
            assert!(in_minute <= limit as usize, "{in_minute} in the minute from {t}");
        }
        assert!(admitted.len() > 5_000 * 137 / 61_000 * limit as usize / 2);
    }

    #[test]
    fn a_long_idle_gap_empties_the_window_and_a_clock_going_back_is_counted_later() {
        let mut w = window_with(&[T0, T0 + 1]);
        w.advance(T0 + 3_600_000);
        assert_eq!(w.admitted(), 0);
        w.record(T0 + 3_600_000);
        // A replica clock two minutes behind: counted in the oldest bucket still held.
        w.advance(T0 + 3_480_000);
        w.record(T0 + 3_480_000);
        assert_eq!(w.admitted(), 2);
        // It leaves with that bucket, at T0 + 3,601 s; the other counts on.
        assert_eq!(w.admitted_at(T0 + 3_600_999), 2);
        assert_eq!(w.admitted_at(T0 + 3_601_000), 1);
    }
}
