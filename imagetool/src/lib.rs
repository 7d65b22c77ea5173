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
