//! What the Tollgate proxy, broker and CLI share and that does no network I/O of its own:
//! the policy model with its loader and lints, the decision function, and the catalogue of
//! secret detectors that policies may name.
#![forbid(unsafe_code)]

pub mod decision;
pub mod detect;
pub mod policy;
