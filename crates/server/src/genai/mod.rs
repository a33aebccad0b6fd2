//! GenAI calls as the server reads them from any instrumentation (the OpenTelemetry GenAI
//! conventions, OpenInference, Langfuse): what a call cost ([`price`], from the price
//! table kept in this repository). Pure logic over decoded values; no I/O.

pub mod price;
