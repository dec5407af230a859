//! The county hub: the authority that orders every case. It checks every
//! pushed event (signature against the author's enrolled key, the rules of
//! the case at its current step, the chain head), stores it durably, and
//! pushes it live to the desktops allowed to see it.

pub mod admin;
pub mod clock;
pub mod db;
pub mod disk;
pub mod error;
pub mod evidence;
pub mod group;
pub mod hosted;
pub mod http;
pub mod hub;
pub mod incidents;
pub mod logins;
pub mod publish;
pub mod seals;
pub mod server;
pub mod sms;
pub mod stats;
pub mod stats_http;
pub mod status;
pub mod tls;
pub mod updates;
pub mod webui;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// RFC 3339 text of a time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Now, as RFC 3339 text (UTC).
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}
