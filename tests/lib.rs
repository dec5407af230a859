//! Cross-component tests live in `system.rs`: they check our signatures
//! and hashes against OpenSSL 3, a third party.
//! This library is intentionally empty.
