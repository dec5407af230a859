//! The station core without a window: the local store plus the hub client.
//! The headless `jingwu-station` binary and the desktop app both use it.

pub mod client;
pub mod hotfolder;
pub mod incidents;
pub mod pin;
pub mod registry;
pub mod sane;
pub mod scan;
pub mod seals;
pub mod session;
pub mod slips;
pub mod station;

/// Files only their owner may read (re-exported for the desktop app).
pub use jingwu_store::private_fs;
