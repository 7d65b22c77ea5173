//! oximg: pull OCI/Docker images into an OCI image layout, unpack their layers
//! and generate OCI runtime bundles.
//!
//! Flow: `reference` → `registry` → `store` (verified) → `unpack` → `bundle`.

pub mod bundle;
pub mod cli;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;

/// An error and its causes on one line ("a: b: c"), for messages and tests.
/// A cause whose text the line already holds is not repeated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}
