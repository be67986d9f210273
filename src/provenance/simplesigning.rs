//! Simple-signing payloads.
