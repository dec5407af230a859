//! Hub tests, each run against SQLite and against the PostgreSQL server on
//! 127.0.0.1:5432 (database `test`, a fresh schema per test): the whole
//! 户口变更 chain across station clients with the live channel, offline
//! convergence, the decision race, durability under SIGKILL, bad input,
//! sessions, the administration console, attachments, the seal registry,
//! the public status page and the result SMS, updates of the desktop app,
//! and the real binaries over TLS on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod admin;
mod attachments;
mod bad_input;
mod browser;
mod calendar;
mod case_numbers;
mod chain;
mod clock;
mod disk;
mod durability;
#[cfg(unix)]
mod files;
mod incidents;
mod logins;
mod loopback;
mod offline;
mod race;
mod registry;
mod seals;
mod sessions;
mod stats;
mod stats_client;
mod status;
mod supervise;
mod updates;
mod wire;
