//! The Tollgate egress proxy: the front door (CONNECT and absolute-form requests, proxy
//! authentication), TLS interception, the per-request pipeline, the resolver with its SSRF
//! guard, inspection, budgets and credential injection. Decisions come from
//! `tollgate_shared::decision`. Built in the proxy issue; empty until then.
#![forbid(unsafe_code)]
