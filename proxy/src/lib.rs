//! The Tollgate egress proxy: the front door (CONNECT and absolute-form requests, proxy
//! authentication), TLS interception with minted certificates, the per-request pipeline on
//! pingora, the resolver with its SSRF guard, metrics and policy reload. Decisions come from
//! `tollgate_shared::decision`.
#![forbid(unsafe_code)]

pub mod budget;
pub mod ca;
pub mod clean;
pub mod config;
pub mod front;
pub mod gate;
pub mod guard;
pub mod head;
pub mod identity;
pub mod information;
pub mod inject;
pub mod inspect;
pub mod intercepted;
pub mod known;
pub mod metrics;
pub mod mint;
pub mod output;
pub mod pipeline;
pub mod policies;
pub mod rawtarget;
pub mod record;
pub mod rescue;
pub mod resolve;
pub mod server;
pub mod splice;
pub mod websocket;
