//! Control bytes in a tunnelled HTTP/1 request-target. pingora does not refuse a request line
//! with raw control bytes, spaces or quotes in its target: it percent-encodes them and parses
//! again, so `GET /a<NUL>b` reaches the pipeline as `/a%00b`, indistinguishable in the parsed
//! request from a client that sent `%00`. The front door refuses such a line on plain HTTP
//! (httparse is strict there); inside a tunnel the decrypted bytes the client sent are kept
//! here, briefly, so the pipeline can tell whether the line it got is the line that was sent.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Bytes kept: more than the largest head the pipeline accepts in practice plus the read
/// that brought it; a longer head with `%` in its target is refused rather than let through
/// unchecked.
const KEEP: usize = 64 << 10;

/// The most recent decrypted bytes of one client connection.
#[derive(Debug, Default)]
pub struct RecentBytes {
    bytes: Mutex<VecDeque<u8>>,
}

impl RecentBytes {
    pub fn record(&self, read: &[u8]) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        let read = &read[read.len().saturating_sub(KEEP)..];
        let overflow = (bytes.len() + read.len()).saturating_sub(KEEP);
        bytes.drain(..overflow);
        bytes.extend(read);
    }

    /// Whether the client sent this request line as it is (rather than pingora rebuilding it
    /// from one with bytes no request-target may hold).
    pub fn sent_as_is(&self, method: &str, target: &[u8]) -> bool {
        if !target.contains(&b'%') {
            // pingora's rewrite always leaves a `%`; without one the line is as sent.
            return true;
        }
        let mut line = Vec::with_capacity(method.len() + target.len() + 7);
        line.extend_from_slice(method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(target);
        line.extend_from_slice(b" HTTP/");
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        memchr::memmem::find(bytes.make_contiguous(), &line).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_line_is_told_from_one_sent_encoded() {
        let recent = RecentBytes::default();
        recent.record(b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(recent.sent_as_is("GET", b"/a%00b"));
        let recent = RecentBytes::default();
        recent.record(b"GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!recent.sent_as_is("GET", b"/a%00b"));
        assert!(recent.sent_as_is("GET", b"/plain"));
    }

    #[test]
    fn only_the_most_recent_bytes_are_kept() {
        let recent = RecentBytes::default();
        recent.record(b"GET /old%41 HTTP/1.1\r\n");
        recent.record(&vec![b'x'; KEEP]);
        assert!(!recent.sent_as_is("GET", b"/old%41"));
        assert_eq!(recent.bytes.lock().expect("lock").len(), KEEP);
    }
}
