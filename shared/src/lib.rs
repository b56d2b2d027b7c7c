//! What the Tollgate proxy, broker and CLI share: the policy model with its loader and
//! lints, the decision function, the catalogue of secret detectors that policies may name,
//! and the budget model with its stores. Nothing here does network I/O of its own except the
//! Redis budget store, which the proxy opts into for several replicas.
#![forbid(unsafe_code)]

pub mod budget;
pub mod decision;
pub mod detect;
pub mod invocation;
pub mod outcome;
pub mod output;
pub mod policy;
pub mod provenance;
