//! Tenant policies as code: the file syntax, the validated model, the loader with its
//! located diagnostics and lints, inline tests and the access diff used in reviews.

pub mod diag;
pub mod diff;
pub mod host;
pub mod inline_test;
mod lint;
pub mod load;
pub mod model;
pub mod path;
pub mod pointer;
pub mod schema;
pub mod source;
pub mod syntax;
mod validate;

pub use diag::{Diagnostic, Lint, Severity};
pub use load::{Loaded, load_dir, load_sources, newest_change};
pub use model::PolicySet;
pub use source::SourceFile;
