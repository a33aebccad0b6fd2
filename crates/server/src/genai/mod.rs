//! GenAI calls as the server reads them from any instrumentation (the OpenTelemetry GenAI
//! conventions, OpenInference, Langfuse): what a call cost ([`price`], from the price
//! table kept in this repository) and how prompts and completions are kept within a size
//! cap ([`content`]). Both are pure logic over decoded OTLP values; no I/O.

pub mod content;
pub mod price;
pub mod read;
pub mod runs;

use crate::rows::LlmCallRow;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use price::PriceTable;

/// Bytes kept of each prompt or completion attribute by default (beyond it the value is
/// truncated with [`content::TRUNCATION_MARKER`]; the span is kept).
pub const DEFAULT_MAX_CONTENT_BYTES: usize = 128 * 1024;

/// What ingest applies to GenAI data: the price table and the content size cap.
#[derive(Debug)]
pub struct GenAiIngest {
    /// Prices of the models (the built-in table with the config's overrides).
    pub prices: PriceTable,
    /// Bytes kept of each prompt or completion.
    pub max_content_bytes: usize,
}

impl Default for GenAiIngest {
    fn default() -> Self {
        GenAiIngest {
            prices: PriceTable::builtin(),
            max_content_bytes: DEFAULT_MAX_CONTENT_BYTES,
        }
    }
}

/// The `[genai]` table of the config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenAiConfig {
    /// Bytes kept of each prompt or completion attribute [default: 131072].
    pub max_content_bytes: Option<usize>,
    /// Prices replacing or adding to the built-in table (`[[genai.prices]]`).
    #[serde(default)]
    pub prices: Vec<price::PriceOverride>,
}

impl GenAiIngest {
    /// From the config file's `[genai]` table.
    pub fn from_config(c: &GenAiConfig) -> Result<Self, price::PriceError> {
        Ok(GenAiIngest {
            prices: PriceTable::builtin().with_overrides(&c.prices)?,
            max_content_bytes: c
                .max_content_bytes
                .unwrap_or(DEFAULT_MAX_CONTENT_BYTES)
                .max(1024),
        })
    }

    /// Truncates the prompts and completions of a traces request to the cap (span
    /// attributes and span event attributes); returns how many values were cut.
    pub fn truncate_traces(&self, req: &mut ExportTraceServiceRequest) -> usize {
        let cap = self.max_content_bytes;
        let mut n = 0;
        for span in req
            .resource_spans
            .iter_mut()
            .flat_map(|r| &mut r.scope_spans)
            .flat_map(|s| &mut s.spans)
        {
            n += content::truncate_attributes(&mut span.attributes, content::CONTENT_KEYS, cap);
            for e in &mut span.events {
                n += content::truncate_attributes(&mut e.attributes, content::CONTENT_KEYS, cap);
            }
        }
        n
    }

    /// Truncates the prompts and completions of a logs request: the bodies of GenAI
    /// events (`gen_ai.*`, where instrumentations such as openai-v2 put the messages)
    /// and content attributes.
    pub fn truncate_logs(&self, req: &mut ExportLogsServiceRequest) -> usize {
        let cap = self.max_content_bytes;
        let mut n = 0;
        for log in req
            .resource_logs
            .iter_mut()
            .flat_map(|r| &mut r.scope_logs)
            .flat_map(|s| &mut s.log_records)
        {
            n += content::truncate_attributes(&mut log.attributes, content::CONTENT_KEYS, cap);
            if log.event_name.starts_with("gen_ai.")
                && let Some(body) = log.body.as_mut()
            {
                n += content::truncate_value(body, cap);
            }
        }
        n
    }

    /// Prices the calls that carry no cost of their own from the table (unknown models
    /// stay unpriced).
    pub fn price(&self, calls: &mut [LlmCallRow]) {
        for c in calls.iter_mut().filter(|c| c.cost_usd.is_none()) {
            let model = if c.response_model.is_empty() {
                &c.request_model
            } else {
                &c.response_model
            };
            if model.is_empty() {
                continue;
            }
            let usage = price::Usage {
                input: c.input_tokens,
                output: c.output_tokens,
                cache_read: c.cache_read_tokens,
                cache_write: c.cache_write_tokens,
                reasoning: c.reasoning_tokens,
            };
            let provider = (!c.provider.is_empty()).then_some(c.provider.as_str());
            c.cost_usd = self
                .prices
                .cost(provider, model, &usage)
                .map(|cost| cost.total_usd);
        }
    }
}
