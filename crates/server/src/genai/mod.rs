//! GenAI calls as the server reads them from any instrumentation (the OpenTelemetry GenAI
//! conventions, OpenInference, Langfuse): what a call cost ([`price`], from the price
//! table kept in this repository) and how prompts and completions are kept within a size
//! cap ([`content`]). Both are pure logic over decoded OTLP values; no I/O.

pub mod content;
pub mod price;
pub mod runs;
