//! The redactor (`core::redact`) as users meet it: a labelled corpus of log lines in
//! many formats, with recall and the share of innocent text kept per category, and
//! property tests (no panic, idempotence, no secret left, `explain` agreeing with
//! `redact_str`).

mod corpus;
mod properties;
