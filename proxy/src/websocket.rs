//! WebSocket after a `101`: the client's frames are egress like any body. Each frame is
//! parsed (RFC 6455 5.2), unmasked, fragments are joined into their message, a
//! `permessage-deflate` message is inflated (RFC 7692, with the context kept across messages
//! unless the server agreed otherwise), and the message is judged by the same engine as a
//! body before any byte of it is forwarded. A message is judged with the tail of the ones
//! before it, so a secret split over messages is stopped when its last piece arrives.
//! Upgrades are allowed only where a rule says `websocket = true`, and only to WebSocket.

use bytes::{Bytes, BytesMut};
use flate2::{Decompress, FlushDecompress};
use tollgate_shared::detect::{Engine, Location, Outcome, Unjudged};
use tollgate_shared::outcome::Reason;
use tracing::{debug, warn};

use crate::gate::Allowed;
use crate::identity::Identity;
use crate::inspect::{Inspection, verdict};
use crate::rescue::Denial;

/// What a request asks to upgrade to, when it asks at all (h1 only; h2 has no `Upgrade`).
pub fn upgrade_of(headers: &http::HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(http::header::UPGRADE)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The frame gate for an upgrade `identity` asked for, or `403 upgrade_not_allowed`: only
/// WebSocket, only on a rule that allows it, and only where frames can be inspected.
pub fn admit(
    protocol: &str,
    allowed: &Allowed,
    inspection: Option<&Inspection>,
    identity: &Identity,
    engine: &'static Engine,
) -> Result<FrameGate, Denial> {
    let websocket = protocol.trim().eq_ignore_ascii_case("websocket");
    let refuse = |why: String| {
        warn!(tenant = %identity.tenant, tool = %identity.tool, upgrade = protocol, rule = allowed.rule.as_deref().unwrap_or("-"), "upgrade refused");
        Err(Denial::new(Reason::UpgradeNotAllowed, why).for_identity(identity))
    };
    let Some(inspection) = inspection else {
        return refuse("an upgraded connection cannot be inspected here".to_owned());
    };
    if !websocket {
        return refuse(format!(
            "upgrades to {protocol:?} are never allowed: only WebSocket frames can be inspected"
        ));
    }
    if !allowed.websocket {
        if inspection.enforce {
            return refuse(format!(
                "rule {} does not allow WebSocket; set `websocket = true` on it",
                allowed.rule.as_deref().unwrap_or("-")
            ));
        }
        warn!(tenant = %identity.tenant, tool = %identity.tool, "would refuse a WebSocket upgrade (report mode)");
    }
    Ok(FrameGate::new(engine, inspection.clone()))
}

/// Why the frame stream cannot be forwarded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("a frame uses reserved bits no negotiated extension defines")]
    ReservedBits,
    #[error("opcode {0:#x} is not defined")]
    UnknownOpcode(u8),
    #[error("a continuation frame arrived with no message to continue")]
    StrayContinuation,
    #[error("a new message started before the previous one ended")]
    Interleaved,
    #[error("a control frame is fragmented or longer than 125 bytes")]
    BadControl,
    #[error("a compressed message could not be inflated")]
    Inflate,
}

/// One fragmented or whole data message being collected.
#[derive(Debug)]
struct Message {
    compressed: bool,
    payload: Vec<u8>,
}

/// Bytes either side of a junction between two messages judged together: longer than any
/// secret a rule matches, short enough that small messages stay cheap.
const JUNCTION: usize = 1024;

/// Client-to-server frames: held until the message they belong to is judged clean.
pub struct FrameGate {
    engine: &'static Engine,
    inspection: Inspection,
    /// `Some` once the server accepted `permessage-deflate`.
    inflater: Option<Inflater>,
    held: BytesMut,
    /// Bytes of `held` parsed into frames so far.
    parsed: usize,
    /// Bytes of `held` that may be forwarded.
    releasable: usize,
    message: Option<Message>,
    /// The end of the message payloads judged so far (for a finding's location).
    payload_offset: u64,
    /// The last bytes of earlier payloads, judged again in front of the next message.
    carry: Vec<u8>,
    /// Report mode logged a finding: the rest passes unjudged.
    passthrough: bool,
}

impl std::fmt::Debug for FrameGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameGate")
            .field("held", &self.held.len())
            .field("deflate", &self.inflater.is_some())
            .field("passthrough", &self.passthrough)
            .finish_non_exhaustive()
    }
}

impl FrameGate {
    pub fn new(engine: &'static Engine, inspection: Inspection) -> Self {
        Self {
            engine,
            inspection,
            inflater: None,
            held: BytesMut::new(),
            parsed: 0,
            releasable: 0,
            message: None,
            payload_offset: 0,
            carry: Vec::new(),
            passthrough: false,
        }
    }

    /// The server's `101`: `permessage-deflate`, if it accepted it, applies to the client's
    /// frames from now on.
    pub fn accept(&mut self, response: &http::HeaderMap) {
        let extensions: Vec<String> = response
            .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|e| e.trim().to_ascii_lowercase())
            .collect();
        let deflate = extensions
            .iter()
            .find(|e| e.split(';').next().map(str::trim) == Some("permessage-deflate"));
        self.inflater = deflate.map(|e| Inflater::new(e.contains("client_no_context_takeover")));
        debug!(deflate = self.inflater.is_some(), "websocket upgrade accepted");
    }

    /// Takes the next bytes from the client and returns what may be forwarded now.
    pub fn pass(&mut self, chunk: Option<Bytes>, identity: &Identity) -> Result<Option<Bytes>, Denial> {
        if self.passthrough {
            return Ok(chunk);
        }
        let Some(chunk) = chunk else {
            // The client is done: what is still held belongs to an unfinished frame or message,
            // which never gets judged and so never leaves.
            return Ok(None);
        };
        self.held.extend_from_slice(&chunk);
        self.frames(identity)?;
        if self.passthrough {
            return Ok(Some(self.held.split().freeze()));
        }
        let released = self.held.split_to(self.releasable).freeze();
        self.parsed -= self.releasable;
        self.releasable = 0;
        Ok(Some(released))
    }

    fn frames(&mut self, identity: &Identity) -> Result<(), Denial> {
        let max = self.engine.limits().max_held;
        loop {
            let frame = match Frame::parse(&self.held[self.parsed..]) {
                Parsed::Frame(frame) => frame,
                Parsed::Partial { needs } => {
                    let pending = self.message.as_ref().map_or(0, |m| m.payload.len());
                    if needs.saturating_add(pending as u64) > max as u64 {
                        return self.unjudged(Unjudged::TooLarge { limit: max }, identity);
                    }
                    return Ok(());
                }
            };
            let start = self.parsed;
            self.parsed += frame.len;
            let payload = frame.payload(&self.held[start..self.parsed]);
            self.frame(&frame, payload, identity)?;
            if self.passthrough {
                return Ok(());
            }
        }
    }

    fn frame(&mut self, frame: &Frame, payload: Vec<u8>, identity: &Identity) -> Result<(), Denial> {
        let refuse = |error: FrameError| {
            warn!(tenant = %identity.tenant, tool = %identity.tool, %error, "websocket frame refused");
            Err(Denial::new(Reason::WebsocketFrameRefused, error.to_string()).for_identity(identity))
        };
        let rsv1 = frame.rsv & 0b100 != 0;
        if frame.rsv & 0b011 != 0
            || (rsv1 && (self.inflater.is_none() || frame.opcode != 1 && frame.opcode != 2))
        {
            return refuse(FrameError::ReservedBits);
        }
        match frame.opcode {
            0x8..=0xA => {
                if !frame.fin || payload.len() > 125 {
                    return refuse(FrameError::BadControl);
                }
                self.judge(&payload, false, identity)?;
                if self.message.is_none() {
                    self.releasable = self.parsed;
                }
                Ok(())
            }
            0x1 | 0x2 if self.message.is_some() => refuse(FrameError::Interleaved),
            0x1 | 0x2 => {
                self.message = Some(Message {
                    compressed: rsv1,
                    payload,
                });
                self.end_of_fragment(frame.fin, identity)
            }
            0x0 => match self.message.as_mut() {
                None => refuse(FrameError::StrayContinuation),
                Some(message) => {
                    message.payload.extend_from_slice(&payload);
                    self.end_of_fragment(frame.fin, identity)
                }
            },
            other => refuse(FrameError::UnknownOpcode(other)),
        }
    }

    /// After a data frame: a finished message is judged (inflated first when compressed).
    fn end_of_fragment(&mut self, fin: bool, identity: &Identity) -> Result<(), Denial> {
        let max = self.engine.limits().max_held;
        let size = self.message.as_ref().map_or(0, |m| m.payload.len());
        if size > max {
            return self.unjudged(Unjudged::TooLarge { limit: max }, identity);
        }
        if !fin {
            return Ok(());
        }
        let Some(message) = self.message.take() else {
            return Ok(());
        };
        let payload = if message.compressed {
            let limit = self.engine.limits().max_inflated;
            match self.inflater.as_mut().map(|i| i.message(&message.payload, limit)) {
                Some(Ok(inflated)) => inflated,
                Some(Err(Inflated::TooLarge)) => {
                    return self.unjudged(Unjudged::DecompressionBomb { limit }, identity);
                }
                _ => {
                    return Err(
                        Denial::new(Reason::WebsocketFrameRefused, FrameError::Inflate.to_string())
                            .for_identity(identity),
                    );
                }
            }
        } else {
            message.payload
        };
        self.judge(&payload, true, identity)?;
        self.releasable = self.parsed;
        Ok(())
    }

    /// Judges one payload on its own (so a compressed message is sniffed and decoded like a
    /// body), and a data message also across its junction with the earlier ones: the tail of
    /// what went before joined to its head, so a secret split over messages is caught when
    /// its last piece arrives. Control frames are no part of the message stream.
    fn judge(&mut self, payload: &[u8], data: bool, identity: &Identity) -> Result<(), Denial> {
        let mut outcome = self.scan(payload, self.payload_offset);
        let span = self.engine.limits().hold_back.min(JUNCTION);
        if data && !self.carry.is_empty() {
            let mut junction = self.carry.clone();
            junction.extend_from_slice(&payload[..payload.len().min(span)]);
            let base = self.payload_offset.saturating_sub(self.carry.len() as u64);
            outcome.merge(self.scan(&junction, base));
        }
        if data {
            self.payload_offset += payload.len() as u64;
            self.carry.extend_from_slice(payload);
            if self.carry.len() > span {
                self.carry.drain(..self.carry.len() - span);
            }
        }
        if outcome.is_clean() {
            return Ok(());
        }
        verdict(outcome, &self.inspection, identity)?;
        // Report mode: logged once; the rest passes.
        self.passthrough = true;
        Ok(())
    }

    /// One whole scan of `bytes`, its findings located in the message stream from `base`.
    fn scan(&self, bytes: &[u8], base: u64) -> Outcome {
        let mut scanner = self.inspection.body_scanner(self.engine, None, None);
        let mut step = scanner.push(bytes);
        let last = scanner.finish();
        step.findings.extend(last.findings);
        for finding in &mut step.findings {
            if let Location::Body { offset } = finding.location {
                finding.location = Location::WebSocket {
                    offset: base + offset,
                };
            }
        }
        Outcome {
            findings: step.findings,
            unjudged: step.unjudged.or(last.unjudged),
        }
    }

    /// A message past the bounds: refused, or in report mode logged and let through.
    fn unjudged(&mut self, why: Unjudged, identity: &Identity) -> Result<(), Denial> {
        let outcome = Outcome {
            findings: Vec::new(),
            unjudged: Some(why),
        };
        verdict(outcome, &self.inspection, identity)?;
        self.passthrough = true;
        Ok(())
    }
}

/// A frame's header, and how many bytes the whole frame takes.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    header: usize,
    len: usize,
}

enum Parsed {
    Frame(Frame),
    /// More bytes are needed; `needs` is the frame's whole length when the header says it.
    Partial {
        needs: u64,
    },
}

impl Frame {
    fn parse(data: &[u8]) -> Parsed {
        let partial = |needs: u64| Parsed::Partial { needs };
        let [b0, b1, rest @ ..] = data else {
            return partial(2);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut header) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
                _ => return partial(4),
            },
            127 => match rest.get(..8) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    (u64::from_be_bytes(be), 10)
                }
                None => return partial(10),
            },
            short => (u64::from(short), 2),
        };
        let mask = if masked {
            let Some(key) = data.get(header..header + 4) else {
                return partial(header as u64 + 4);
            };
            header += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        let total = header as u64 + payload_len;
        match usize::try_from(total) {
            Ok(len) if len <= data.len() => Parsed::Frame(Frame {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0b111,
                opcode: b0 & 0x0f,
                mask,
                header,
                len,
            }),
            _ => partial(total),
        }
    }

    /// The frame's payload, unmasked.
    fn payload(&self, frame: &[u8]) -> Vec<u8> {
        let mut payload = frame[self.header..self.len].to_vec();
        if let Some(key) = self.mask {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        payload
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Inflated {
    TooLarge,
    Corrupt,
}

/// `permessage-deflate` for one direction: raw deflate whose window carries over from one
/// message to the next unless `no_context_takeover` was agreed.
struct Inflater {
    state: Decompress,
    no_context_takeover: bool,
}

impl Inflater {
    fn new(no_context_takeover: bool) -> Self {
        Self {
            state: Decompress::new(false),
            no_context_takeover,
        }
    }

    fn message(&mut self, compressed: &[u8], limit: usize) -> Result<Vec<u8>, Inflated> {
        if self.no_context_takeover {
            self.state.reset(false);
        }
        // RFC 7692 7.2.2: the sender removed this empty block's tail; put it back.
        let mut input = compressed.to_vec();
        input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
        let mut out = Vec::with_capacity(input.len() * 4);
        let start = self.state.total_in();
        loop {
            let consumed = usize::try_from(self.state.total_in() - start).unwrap_or(usize::MAX);
            if out.len() > limit {
                return Err(Inflated::TooLarge);
            }
            if out.capacity() - out.len() < 4096 {
                out.reserve(out.capacity().max(4096));
            }
            let produced = out.len();
            self.state
                .decompress_vec(
                    &input[consumed.min(input.len())..],
                    &mut out,
                    FlushDecompress::Sync,
                )
                .map_err(|_| Inflated::Corrupt)?;
            let now = usize::try_from(self.state.total_in() - start).unwrap_or(usize::MAX);
            let done = now >= input.len() && out.len() < out.capacity();
            if done {
                break;
            }
            if now == consumed && out.len() == produced {
                return Err(Inflated::Corrupt);
            }
        }
        if out.len() > limit {
            return Err(Inflated::TooLarge);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let bit = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(bit | n as u8),
            n if n < 65536 => {
                out.push(bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mut body = payload.to_vec();
        if let Some(key) = mask {
            out.extend_from_slice(&key);
            for (i, b) in body.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        out.extend(body);
        out
    }

    #[test]
    fn frames_parse_whole_and_partial() {
        let bytes = frame(true, false, 1, &[b'x'; 300], Some([1, 2, 3, 4]));
        let Parsed::Frame(f) = Frame::parse(&bytes) else {
            panic!("whole frame");
        };
        assert_eq!((f.fin, f.opcode, f.len), (true, 1, bytes.len()));
        assert_eq!(f.payload(&bytes), vec![b'x'; 300]);
        assert!(matches!(Frame::parse(&bytes[..3]), Parsed::Partial { needs: 4 }));
        assert!(matches!(
            Frame::parse(&bytes[..10]),
            Parsed::Partial { needs } if needs == bytes.len() as u64
        ));
    }

    #[test]
    fn deflate_keeps_its_window_across_messages() {
        let mut compress = flate2::Compress::new(flate2::Compression::default(), false);
        let mut messages = Vec::new();
        for text in [
            &b"the same words, again and again"[..],
            b"the same words, again and again",
        ] {
            let mut out = Vec::with_capacity(256);
            compress
                .compress_vec(text, &mut out, flate2::FlushCompress::Sync)
                .expect("in memory");
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            out.truncate(out.len() - 4);
            messages.push(out);
        }
        // The second message refers back into the first one's window.
        assert!(messages[1].len() < messages[0].len());
        let mut inflater = Inflater::new(false);
        for message in &messages {
            assert_eq!(
                inflater.message(message, 1 << 20).as_deref(),
                Ok(&b"the same words, again and again"[..])
            );
        }
        let mut writer = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        writer.write_all(&vec![b'a'; 1 << 20]).expect("in memory");
        let bomb = writer.finish().expect("in memory");
        assert_eq!(Inflater::new(true).message(&bomb, 1000), Err(Inflated::TooLarge));
    }
}
