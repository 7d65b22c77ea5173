//! oxrun: an OCI runtime with runc's command line.
//!
//! Data flows one way: `cli` → `spec` → `container` → `process` (parent
//! side) → init side: `namespaces` → `rootfs` → `caps`/`rlimits`/`sched` →
//! `seccomp` → exec.

pub mod caps;
pub mod cgroups;
pub mod cli;
pub mod container;
pub mod features;
pub mod hooks;
pub mod log;
pub mod lsm;
pub mod namespaces;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod sched;
pub mod sealed;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod sys;
