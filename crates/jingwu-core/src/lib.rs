//! Jingwu core: the pure domain of the platform.
//!
//! No I/O lives here: no files, sockets, clocks or databases. Time and
//! randomness are parameters. Both the station desktop and the county hub
//! link this crate, so every rule is decided the same way on both sides.

pub mod attest;
pub mod bundle;
pub mod case;
pub mod caseno;
pub mod crypto;
pub mod demo;
pub mod dict;
pub mod event;
pub mod form;
pub mod idnum;
pub mod import;
pub mod money;
pub mod org;
pub mod public;
pub mod published;
pub mod receipt;
pub mod registry;
pub mod reminders;
pub mod stats;
pub mod view;
pub mod workdays;
pub mod workflow;

/// China Standard Time (Asia/Shanghai has had no daylight saving since
/// 1991): the offset in which dates, time limits and statistics are read.
pub const SHANGHAI: time::UtcOffset = time::macros::offset!(+8);

#[cfg(test)]
mod tests;
