//! Registry client (being written; see issue 6). The entry point `pull`
//! keeps this signature.

use oci_spec::image::Descriptor;

use crate::store::{PlatformSpec, Store, StoreError};

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Platform to pick from an index (default: this machine).
    pub platform: Option<PlatformSpec>,
    /// Keep the whole index and every platform's image.
    pub all_platforms: bool,
    /// No progress output.
    pub quiet: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("not implemented yet")]
    Todo,
}

/// Pull `reference` into `store`; returns the descriptor the ref now names.
pub fn pull(
    _reference: &str,
    _store: &Store,
    _opts: &PullOptions,
) -> Result<Descriptor, RegistryError> {
    Err(RegistryError::Todo)
}
