//! The Tollgate secrets broker: the socket API tools call, the invocation lifecycle, the
//! OpenBao client, credential grants and delivery, and revocation. Built in the broker issue;
//! empty until then.
#![forbid(unsafe_code)]
