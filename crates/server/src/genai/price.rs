//! What a GenAI call cost, in USD, from its provider, its model and its token counts.
//!
//! # The table
//!
//! `prices.json` beside this file, embedded at compile time ([`PriceTable::builtin`]),
//! holds one price list per provider (`openai`, `anthropic`, `gcp.gemini`); a list names
//! the `hosts` that sell its models at the same price (Azure OpenAI's global deployments
//! for OpenAI's; Amazon Bedrock and Vertex AI for Anthropic's). An entry gives USD per 1M
//! tokens of each kind (`input`, `output`, `cache_read`, `cache_write`, `reasoning`), the
//! vendor's pricing page it comes from (`source`) and the date its price was confirmed
//! there (`as_of`). It may have a `long_context` tier: the rates of every token of a call
//! whose prompt is over `above_input_tokens` (Gemini 2.5 Pro over 200K, Claude Sonnet 4
//! over 200K with its 1M window); and `vendor_only` when the hosts charge otherwise (a
//! host's call of that model is then unpriced). The server config's `[[genai.prices]]`
//! tables ([`PriceOverride`]) replace or add entries ([`PriceTable::with_overrides`]).
//!
//! # Token semantics
//!
//! As in the OpenTelemetry GenAI conventions:
//!
//! - `input` counts every prompt token, the cached ones included: `cache_read` (read from
//!   the provider's prompt cache) and `cache_write` (written to it: Anthropic's cache
//!   creation). The uncached part, `input - cache_read - cache_write`, is priced at the
//!   `input` rate and each cached part at its own: no token is counted twice. An `input`
//!   smaller than the cached counts cannot include them (Anthropic's API reports them
//!   apart): it is then taken as the uncached part.
//! - `reasoning` tokens are part of `output` (OpenAI's reasoning models): they are priced
//!   at the `reasoning` rate when the entry has one, else at `output`, and the rest of
//!   `output` at `output`; never added again. A `reasoning` count larger than `output`
//!   cannot be part of it (Gemini counts thinking tokens apart): both are then priced in
//!   full.
//! - A missing rate: `cache_read` and `cache_write` are priced at the `input` rate (OpenAI
//!   charges nothing more to write its cache), `reasoning` at `output`. A kind with tokens
//!   and no rate at all (output tokens of an embedding model) leaves the call unpriced.
//! - An unknown model, or no token count at all, has no cost ([`None`]), never zero.
//!
//! Only text tokens at the standard tier are priced: batch, flex and priority processing,
//! audio and image token rates, cache storage and one-hour cache writes are not.
//!
//! # Matching
//!
//! Provider names are normalised ([`normalize_provider`]): lower case, and the names
//! instrumentations use mapped onto one (`az.ai.openai` and `azure` are
//! `azure.ai.openai`, `bedrock` is `aws.bedrock`, `vertex_ai` is `gcp.vertex_ai`, `gemini`
//! is `gcp.gemini`, `google` is `gcp.gen_ai`, ...). Model names are normalised
//! ([`normalize_model`]): lower case; what precedes the last `/` dropped
//! (`openai/gpt-4o`, `models/gemini-1.5-pro`, an ARN); what follows a `:` or `@` dropped
//! (`...-v2:0`, `claude-3-5-sonnet-v2@20241022`; `ft:gpt-4o-mini:...` becomes `ft`, so a
//! fine-tuned model, priced apart, is unknown); a Bedrock region and vendor prefix
//! dropped (`us.anthropic.`). A provider named before the `/` of a model
//! (`anthropic/claude-3.5-sonnet`, as OpenRouter and LiteLLM name models) is the
//! provider of the call.
//!
//! The model is looked up by its normalised name, then again each time one snapshot
//! suffix is removed from its end: a date (`-2024-08-06`, `-20241022`), a four- or
//! three-digit version (`-0125`, `-002`), `-latest` or `-v2`, at most
//! [`MAX_SNAPSHOT_SUFFIXES`] times. So `gpt-4o-2024-08-06` is `gpt-4o` and
//! `claude-3-5-sonnet-20241022` is `claude-3-5-sonnet`, while `gpt-4o-mini`,
//! `gpt-4o-realtime-preview` and `o3-pro` are other models, priced by their own entry or
//! not at all: a suffix that names another model is never removed. An entry for a
//! snapshot (`gpt-4o-2024-05-13`, priced apart) wins over its base name, as the longer
//! name is looked up first. Entry names and aliases match exactly, case aside.
//!
//! With a provider some list serves (its own or as a host), only those lists are searched,
//! the provider's own list first at each name. A provider no list serves, or none, matches
//! by model alone: when every list holding the model agrees on its price.

use serde::Deserialize;
use std::collections::HashMap;

/// The built-in price table, `prices.json` beside this file.
pub const BUILTIN_PRICES_JSON: &str = include_str!("prices.json");

/// The highest rate a table or an override may give, in USD per 1M tokens (the dearest
/// model priced here costs 75).
pub const MAX_RATE_USD_PER_MTOK: f64 = 100_000.0;

/// How many snapshot suffixes are removed from a model name at most.
pub const MAX_SNAPSHOT_SUFFIXES: usize = 4;

/// The longest model or provider name looked up, in bytes: a longer model is unknown, a
/// longer provider is taken as none.
pub const MAX_NAME_BYTES: usize = 256;

/// Bedrock's cross-region inference profiles put a region before the model id.
const BEDROCK_REGIONS: &[&str] = &["us", "eu", "apac", "au", "ca", "jp", "us-gov", "global"];

/// Bedrock's model ids start with the vendor (`anthropic.claude-...`).
const BEDROCK_VENDORS: &[&str] = &[
    "anthropic",
    "openai",
    "google",
    "meta",
    "mistral",
    "cohere",
    "amazon",
    "deepseek",
];

/// The token counts of one call, by kind, with the OpenTelemetry GenAI conventions'
/// meaning (see the module doc): `input` includes `cache_read` and `cache_write`, `output`
/// includes `reasoning`. A count not reported is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens, cached ones included (`gen_ai.usage.input_tokens`).
    pub input: Option<u64>,
    /// Completion tokens, reasoning ones included (`gen_ai.usage.output_tokens`).
    pub output: Option<u64>,
    /// Prompt tokens read from the provider's cache.
    pub cache_read: Option<u64>,
    /// Prompt tokens written to the provider's cache (Anthropic's cache creation).
    pub cache_write: Option<u64>,
    /// Output tokens spent reasoning (OpenAI's reasoning tokens, Gemini's thoughts).
    pub reasoning: Option<u64>,
}

impl Usage {
    /// Whether no count at all is reported.
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.output.is_none()
            && self.cache_read.is_none()
            && self.cache_write.is_none()
            && self.reasoning.is_none()
    }
}

/// What one call cost, in USD, by kind of token; `total_usd` is their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// The sum of the parts below.
    pub total_usd: f64,
    /// Uncached input tokens.
    pub input_usd: f64,
    /// Output tokens other than reasoning ones.
    pub output_usd: f64,
    /// Input tokens read from the cache.
    pub cache_read_usd: f64,
    /// Input tokens written to the cache.
    pub cache_write_usd: f64,
    /// Reasoning tokens.
    pub reasoning_usd: f64,
}

/// Rates in USD per 1M tokens; a rate not given falls back as the module doc says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens; none for a model without output (embeddings).
    pub output: Option<f64>,
    /// Input tokens read from the cache [default: `input`].
    pub cache_read: Option<f64>,
    /// Input tokens written to the cache [default: `input`].
    pub cache_write: Option<f64>,
    /// Reasoning tokens [default: `output`].
    pub reasoning: Option<f64>,
}

impl Rates {
    /// The rates, each checked to be a number from 0 to [`MAX_RATE_USD_PER_MTOK`].
    fn checked(self, provider: &str, model: &str) -> Result<Self, PriceError> {
        let check = |kind: &'static str, value: Option<f64>| match value {
            Some(v) if !(v.is_finite() && (0.0..=MAX_RATE_USD_PER_MTOK).contains(&v)) => {
                Err(PriceError::Rate {
                    provider: provider.to_string(),
                    model: model.to_string(),
                    kind,
                    value: v,
                })
            }
            _ => Ok(()),
        };
        check("input", Some(self.input))?;
        check("output", self.output)?;
        check("cache_read", self.cache_read)?;
        check("cache_write", self.cache_write)?;
        check("reasoning", self.reasoning)?;
        Ok(self)
    }
}

/// The rates of every token of a call whose prompt is long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    /// The tier applies when the prompt (input tokens, cached ones included) is over this.
    pub above_input_tokens: u64,
    /// Its rates.
    pub rates: Rates,
}

/// The price of one model in one list.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    /// The entry's name (its aliases match too).
    pub model: String,
    /// The rates.
    pub rates: Rates,
    /// The long-prompt tier, if the model has one.
    pub long_context: Option<LongContext>,
    /// The list's hosts do not sell the model at this price: their calls stay unpriced.
    pub vendor_only: bool,
    /// Where the price comes from: the vendor's pricing page, or `config` for an override.
    pub source: String,
    /// When the price was confirmed at its source (`YYYY-MM-DD`); none for an override.
    pub as_of: Option<String>,
}

impl ModelPrice {
    /// What a call with these token counts cost; [`None`] when no count is reported or a
    /// kind with tokens has no rate (see the module doc for the semantics).
    pub fn cost(&self, usage: &Usage) -> Option<Cost> {
        if usage.is_empty() {
            return None;
        }
        let input = usage.input.unwrap_or(0);
        let cache_read = usage.cache_read.unwrap_or(0);
        let cache_write = usage.cache_write.unwrap_or(0);
        let cached = cache_read.saturating_add(cache_write);
        // `input` includes the cached tokens, unless it is too small to.
        let (uncached, prompt) = if input >= cached {
            (input - cached, input)
        } else {
            (input, input.saturating_add(cached))
        };
        let output = usage.output.unwrap_or(0);
        let reasoning = usage.reasoning.unwrap_or(0);
        // `output` includes the reasoning tokens, unless it is too small to.
        let plain_output = if output >= reasoning {
            output - reasoning
        } else {
            output
        };
        let rates = match &self.long_context {
            Some(tier) if prompt > tier.above_input_tokens => &tier.rates,
            _ => &self.rates,
        };
        let input_usd = usd(uncached, Some(rates.input))?;
        let cache_read_usd = usd(cache_read, rates.cache_read.or(Some(rates.input)))?;
        let cache_write_usd = usd(cache_write, rates.cache_write.or(Some(rates.input)))?;
        let output_usd = usd(plain_output, rates.output)?;
        let reasoning_usd = usd(reasoning, rates.reasoning.or(rates.output))?;
        let total_usd = input_usd + cache_read_usd + cache_write_usd + output_usd + reasoning_usd;
        total_usd.is_finite().then_some(Cost {
            total_usd,
            input_usd,
            output_usd,
            cache_read_usd,
            cache_write_usd,
            reasoning_usd,
        })
    }

    /// Whether both give the same rates (names and sources aside).
    fn same_price(&self, other: &ModelPrice) -> bool {
        self.rates == other.rates && self.long_context == other.long_context
    }
}

/// `tokens` at `rate` USD per 1M; no tokens cost nothing, tokens without a rate are
/// unpriced.
fn usd(tokens: u64, rate: Option<f64>) -> Option<f64> {
    if tokens == 0 {
        return Some(0.0);
    }
    rate.map(|r| tokens as f64 * r / 1_000_000.0)
}

/// A `[[genai.prices]]` table of the server config: the price of one model, replacing the
/// built-in entry of that provider and model (with its aliases; a long-context tier is
/// dropped) or adding one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// The provider, as calls name it and normalised as theirs: `openai` (which Azure
    /// OpenAI calls also use), `anthropic` (also Bedrock's and Vertex AI's), `gcp.gemini`,
    /// or the host's own name (`aws.bedrock`) to price only its calls, or any other
    /// provider (`ollama`).
    pub provider: String,
    /// The model, as calls name it; its dated snapshots match it too.
    pub model: String,
    /// USD per 1M uncached input tokens.
    pub input: f64,
    /// USD per 1M output tokens [default: none, so calls with output tokens stay
    /// unpriced].
    pub output: Option<f64>,
    /// USD per 1M input tokens read from the cache [default: the input rate].
    pub cache_read: Option<f64>,
    /// USD per 1M input tokens written to the cache [default: the input rate].
    pub cache_write: Option<f64>,
    /// USD per 1M reasoning tokens [default: the output rate].
    pub reasoning: Option<f64>,
}

/// Why a price table or an override cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// The table is not JSON of the expected shape (an unknown key, a wrong type).
    #[error("the price table is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A provider or model name is empty or given twice; the text names it.
    #[error("{0}")]
    Name(String),
    /// A rate is not a number from 0 to [`MAX_RATE_USD_PER_MTOK`].
    #[error(
        "price of {provider} {model}: {kind} = {value} is not a price in USD per 1M tokens (0 to {max})",
        max = MAX_RATE_USD_PER_MTOK
    )]
    Rate {
        /// The provider.
        provider: String,
        /// The model.
        model: String,
        /// Which rate.
        kind: &'static str,
        /// Its value.
        value: f64,
    },
}

/// Prices by provider and model (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    lists: Vec<PriceList>,
}

/// One provider's prices.
#[derive(Debug, Clone)]
struct PriceList {
    /// Normalised provider name.
    provider: String,
    /// Normalised names of the providers that sell these models at these prices.
    hosts: Vec<String>,
    entries: Vec<ModelPrice>,
    /// Normalised entry name or alias -> index in `entries`.
    names: HashMap<String, usize>,
}

impl PriceList {
    fn new(provider: String, hosts: Vec<String>) -> Self {
        PriceList {
            provider,
            hosts,
            entries: Vec::new(),
            names: HashMap::new(),
        }
    }

    fn get(&self, name: &str) -> Option<&ModelPrice> {
        self.names.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Whether this list prices `provider`'s calls: its own, or as a host.
    fn serves(&self, provider: &str) -> bool {
        self.provider == provider || self.hosts.iter().any(|h| h == provider)
    }
}

/// The JSON file: `{"about": "...", "lists": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    /// What the file is (for its readers).
    #[serde(default, rename = "about")]
    _about: Option<String>,
    lists: Vec<ListFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    provider: String,
    #[serde(default)]
    hosts: Vec<String>,
    models: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    model: String,
    #[serde(default)]
    aliases: Vec<String>,
    input: f64,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    reasoning: Option<f64>,
    long_context: Option<LongContextFile>,
    #[serde(default)]
    vendor_only: bool,
    source: String,
    as_of: String,
    /// A remark for the file's readers.
    #[serde(default, rename = "note")]
    _note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongContextFile {
    above_input_tokens: u64,
    input: f64,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    reasoning: Option<f64>,
}

impl PriceTable {
    /// The table of `prices.json`. It is checked by a test; were it ever unreadable, the
    /// error is logged and the table is empty (every call unpriced).
    pub fn builtin() -> Self {
        match Self::parse(BUILTIN_PRICES_JSON) {
            Ok(table) => table,
            Err(e) => {
                tracing::error!(error = %e, "the built-in GenAI price table does not load; calls stay unpriced");
                Self::default()
            }
        }
    }

    /// A table from JSON of `prices.json`'s shape: every rate checked, every name
    /// normalised and given once in its list.
    pub fn parse(json: &str) -> Result<Self, PriceError> {
        let file: TableFile = serde_json::from_str(json)?;
        let mut table = PriceTable::default();
        for list in file.lists {
            let provider = normalize_provider(&list.provider);
            if provider.is_empty() || table.lists.iter().any(|l| l.provider == provider) {
                return Err(PriceError::Name(format!(
                    "price list {:?}: the provider is empty or has two lists",
                    list.provider
                )));
            }
            let hosts = list.hosts.iter().map(|h| normalize_provider(h)).collect();
            let mut out = PriceList::new(provider, hosts);
            for entry in list.models {
                let model = normalize_model(&entry.model);
                let rates = Rates {
                    input: entry.input,
                    output: entry.output,
                    cache_read: entry.cache_read,
                    cache_write: entry.cache_write,
                    reasoning: entry.reasoning,
                }
                .checked(&out.provider, &model)?;
                let long_context = match entry.long_context {
                    None => None,
                    Some(tier) => Some(LongContext {
                        above_input_tokens: tier.above_input_tokens,
                        rates: Rates {
                            input: tier.input,
                            output: tier.output,
                            cache_read: tier.cache_read,
                            cache_write: tier.cache_write,
                            reasoning: tier.reasoning,
                        }
                        .checked(&out.provider, &model)?,
                    }),
                };
                let index = out.entries.len();
                for name in std::iter::once(&entry.model).chain(&entry.aliases) {
                    let name = normalize_model(name);
                    if name.is_empty() || out.names.insert(name.clone(), index).is_some() {
                        return Err(PriceError::Name(format!(
                            "price list {}: the model name {name:?} is empty or given twice",
                            out.provider
                        )));
                    }
                }
                out.entries.push(ModelPrice {
                    model,
                    rates,
                    long_context,
                    vendor_only: entry.vendor_only,
                    source: entry.source,
                    as_of: Some(entry.as_of),
                });
            }
            table.lists.push(out);
        }
        Ok(table)
    }

    /// This table with the server config's prices: each replaces the entry its provider's
    /// list has for its model (the entry an alias names, with all its names), or is added
    /// to that list (created for a provider without one). Refused: an empty name, the same
    /// provider and model twice, a rate that is not a number from 0 to
    /// [`MAX_RATE_USD_PER_MTOK`].
    pub fn with_overrides(mut self, overrides: &[PriceOverride]) -> Result<Self, PriceError> {
        let mut seen: Vec<(String, String)> = Vec::with_capacity(overrides.len());
        for o in overrides {
            let provider = normalize_provider(&o.provider);
            let model = normalize_model(&o.model);
            if provider.is_empty() || model.is_empty() {
                return Err(PriceError::Name(format!(
                    "genai.prices: provider {:?} and model {:?} must both be named",
                    o.provider, o.model
                )));
            }
            if seen.iter().any(|(p, m)| *p == provider && *m == model) {
                return Err(PriceError::Name(format!(
                    "genai.prices: {provider} {model} is priced twice"
                )));
            }
            let rates = Rates {
                input: o.input,
                output: o.output,
                cache_read: o.cache_read,
                cache_write: o.cache_write,
                reasoning: o.reasoning,
            }
            .checked(&provider, &model)?;
            let list = self.list_mut(&provider);
            let price = ModelPrice {
                model: model.clone(),
                rates,
                long_context: None,
                vendor_only: false,
                source: "config".to_string(),
                as_of: None,
            };
            match list.names.get(&model).copied() {
                Some(i) => {
                    if let Some(slot) = list.entries.get_mut(i) {
                        let name = std::mem::take(&mut slot.model);
                        *slot = ModelPrice {
                            model: name,
                            ..price
                        };
                    }
                }
                None => {
                    list.names.insert(model.clone(), list.entries.len());
                    list.entries.push(price);
                }
            }
            seen.push((provider, model));
        }
        Ok(self)
    }

    /// The list of `provider` (normalised), created empty if it has none.
    fn list_mut(&mut self, provider: &str) -> &mut PriceList {
        let index = match self.lists.iter().position(|l| l.provider == provider) {
            Some(i) => i,
            None => {
                self.lists
                    .push(PriceList::new(provider.to_string(), Vec::new()));
                self.lists.len() - 1
            }
        };
        &mut self.lists[index]
    }

    /// Whether some list prices `provider`'s (normalised) calls.
    fn serves(&self, provider: &str) -> bool {
        self.lists.iter().any(|l| l.serves(provider))
    }

    /// The price of `model` called through `provider`, matched as the module doc says;
    /// [`None`] for an unknown model.
    pub fn lookup(&self, provider: Option<&str>, model: &str) -> Option<&ModelPrice> {
        if model.len() > MAX_NAME_BYTES {
            return None;
        }
        let candidates = model_candidates(model);
        let named_in_model = model
            .trim()
            .split_once('/')
            .map(|(head, _)| normalize_provider(head))
            .filter(|p| self.serves(p));
        let provider = named_in_model.or_else(|| {
            provider
                .filter(|p| p.len() <= MAX_NAME_BYTES)
                .map(normalize_provider)
                .filter(|p| !p.is_empty())
        });
        match provider {
            Some(p) if self.serves(&p) => self.by_provider(&p, &candidates),
            _ => self.by_model(&candidates),
        }
    }

    /// The first name a list serving `provider` has: its own list first, then the lists
    /// hosting it, at each name. A host's match of a `vendor_only` entry is unpriced.
    fn by_provider(&self, provider: &str, candidates: &[String]) -> Option<&ModelPrice> {
        let own = self.lists.iter().filter(|l| l.provider == provider);
        let hosting = self
            .lists
            .iter()
            .filter(|l| l.provider != provider && l.serves(provider));
        for name in candidates {
            for list in own.clone() {
                if let Some(price) = list.get(name) {
                    return Some(price);
                }
            }
            for list in hosting.clone() {
                if let Some(price) = list.get(name) {
                    return (!price.vendor_only).then_some(price);
                }
            }
        }
        None
    }

    /// The first name some list has, when every list that has it agrees on its price.
    fn by_model(&self, candidates: &[String]) -> Option<&ModelPrice> {
        for name in candidates {
            let mut found: Option<&ModelPrice> = None;
            for price in self.lists.iter().filter_map(|l| l.get(name)) {
                match found {
                    None => found = Some(price),
                    Some(first) if first.same_price(price) => {}
                    Some(_) => return None,
                }
            }
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// What a call of `model` through `provider` with these token counts cost; [`None`]
    /// when the model is unknown or the call cannot be priced (see the module doc).
    pub fn cost(&self, provider: Option<&str>, model: &str, usage: &Usage) -> Option<Cost> {
        self.lookup(provider, model)?.cost(usage)
    }
}

/// A provider's name as the table keys it: trimmed, lower case, and the names
/// instrumentations use (OpenTelemetry's current and deprecated ones, OpenInference's,
/// LiteLLM's) mapped onto OpenTelemetry's `gen_ai.provider.name` values.
pub fn normalize_provider(provider: &str) -> String {
    let name = provider.trim().to_ascii_lowercase();
    let canonical = match name.as_str() {
        "az.ai.openai" | "azure" | "azure_openai" | "azure-openai" | "azureopenai" => {
            "azure.ai.openai"
        }
        "az.ai.inference" | "azure_ai" => "azure.ai.inference",
        "bedrock" | "aws_bedrock" | "bedrock_converse" | "amazon_bedrock" | "aws" => "aws.bedrock",
        "vertex_ai" | "vertexai" | "vertex" | "google_vertex_ai" | "vertex_ai_beta" => {
            "gcp.vertex_ai"
        }
        "gemini" | "google_ai_studio" | "google_gemini" => "gcp.gemini",
        "google" | "google_genai" | "google-genai" => "gcp.gen_ai",
        "mistral" | "mistralai" => "mistral_ai",
        "xai" | "x.ai" => "x_ai",
        _ => return name,
    };
    canonical.to_string()
}

/// A model's name as the table keys it (see the module doc): lower case, without what
/// precedes its last `/`, what follows a `:` or `@`, nor a Bedrock region and vendor prefix.
/// Snapshot suffixes are kept (lookups remove them one by one).
pub fn normalize_model(model: &str) -> String {
    let name = model.trim();
    let name = name.rsplit('/').next().unwrap_or(name);
    let name = name.split([':', '@']).next().unwrap_or(name);
    let name = name.trim().to_ascii_lowercase();
    strip_bedrock_prefix(&name).to_string()
}

/// `us.anthropic.claude-...` -> `claude-...`.
fn strip_bedrock_prefix(name: &str) -> &str {
    let mut name = name;
    if let Some((head, rest)) = name.split_once('.')
        && BEDROCK_REGIONS.contains(&head)
    {
        name = rest;
    }
    if let Some((head, rest)) = name.split_once('.')
        && BEDROCK_VENDORS.contains(&head)
    {
        name = rest;
    }
    name
}

/// The names `model` is looked up by, most specific first: its normalised name, then that
/// name without one, two, ... snapshot suffixes.
fn model_candidates(model: &str) -> Vec<String> {
    let mut candidates = Vec::new();
    let mut name = normalize_model(model);
    if name.is_empty() {
        return candidates;
    }
    loop {
        let shorter = strip_snapshot_suffix(&name)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        candidates.push(name);
        match shorter {
            Some(s) if candidates.len() <= MAX_SNAPSHOT_SUFFIXES => name = s,
            _ => break,
        }
    }
    candidates
}

/// `name` without its last snapshot suffix: `-YYYY-MM-DD`, `-YYYYMMDD`, four or three
/// digits (`-0125`, `-002`), `-latest` or `-v<digits>`; [`None`] when it ends otherwise.
fn strip_snapshot_suffix(name: &str) -> Option<&str> {
    fn digits(s: &str, len: usize) -> bool {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
    }
    let (rest, last) = name.rsplit_once('-')?;
    if last == "latest" || digits(last, 8) || digits(last, 4) || digits(last, 3) {
        return Some(rest);
    }
    if let Some(version) = last.strip_prefix('v')
        && !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(rest);
    }
    if digits(last, 2) {
        let (rest, month) = rest.rsplit_once('-')?;
        let (rest, year) = rest.rsplit_once('-')?;
        if digits(month, 2) && digits(year, 4) {
            return Some(rest);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal to the last cent's billionth: the sums below are exact in decimal.
    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "{actual} is not {expected}"
        );
    }

    fn usage(input: u64, cache_read: u64, cache_write: u64, output: u64) -> Usage {
        Usage {
            input: Some(input),
            output: Some(output),
            cache_read: Some(cache_read),
            cache_write: Some(cache_write),
            reasoning: None,
        }
    }

    fn table() -> PriceTable {
        PriceTable::parse(BUILTIN_PRICES_JSON).expect("the built-in table loads")
    }

    #[test]
    fn builtin_table_loads_and_every_entry_names_its_source_and_date() {
        let table = table();
        assert_eq!(table.lists.len(), 3);
        let mut entries = 0;
        for list in &table.lists {
            for price in &list.entries {
                entries += 1;
                assert!(price.source.starts_with("https://"), "{}", price.model);
                let as_of = price.as_of.as_deref().expect("as_of");
                let b = as_of.as_bytes();
                assert!(
                    b.len() == 10
                        && b[4] == b'-'
                        && b[7] == b'-'
                        && as_of.bytes().filter(u8::is_ascii_digit).count() == 8,
                    "{} as_of {as_of}",
                    price.model
                );
                // Each name finds its own entry back.
                assert_eq!(
                    table.lookup(Some(list.provider.as_str()), &price.model),
                    Some(price)
                );
            }
        }
        assert!(entries >= 35, "{entries} entries");
        assert!(!PriceTable::builtin().lists.is_empty());
    }

    #[test]
    fn gpt_4o_with_cached_input() {
        // 1,000 input tokens of which 400 cached, 500 output tokens, at 2.50 / 1.25 / 10:
        // uncached 600 * 2.50 / 1M = 0.0015, cached 400 * 1.25 / 1M = 0.0005,
        // output 500 * 10 / 1M = 0.005; total 0.007.
        let cost = table()
            .cost(Some("openai"), "gpt-4o", &usage(1_000, 400, 0, 500))
            .expect("priced");
        close(cost.input_usd, 0.0015);
        close(cost.cache_read_usd, 0.0005);
        close(cost.cache_write_usd, 0.0);
        close(cost.output_usd, 0.005);
        close(cost.reasoning_usd, 0.0);
        close(cost.total_usd, 0.007);
    }

    #[test]
    fn anthropic_cache_reads_and_writes_are_part_of_input() {
        // claude-3-5-sonnet: 3 input, 0.30 cache read, 3.75 cache write, 15 output.
        // 10,000 input = 5,000 uncached + 2,000 read + 3,000 written; 1,000 output:
        // 0.015 + 0.0006 + 0.01125 + 0.015 = 0.04185.
        let cost = table()
            .cost(
                Some("anthropic"),
                "claude-3-5-sonnet-20241022",
                &usage(10_000, 2_000, 3_000, 1_000),
            )
            .expect("priced");
        close(cost.input_usd, 0.015);
        close(cost.cache_read_usd, 0.0006);
        close(cost.cache_write_usd, 0.01125);
        close(cost.output_usd, 0.015);
        close(cost.total_usd, 0.04185);
    }

    #[test]
    fn an_input_smaller_than_the_cached_counts_is_the_uncached_part() {
        // Anthropic's API reports 100 uncached input tokens apart from 1,000 cache reads:
        // 100 * 3 / 1M + 1,000 * 0.30 / 1M = 0.0003 + 0.0003.
        let cost = table()
            .cost(
                Some("anthropic"),
                "claude-3-7-sonnet-latest",
                &usage(100, 1_000, 0, 0),
            )
            .expect("priced");
        close(cost.input_usd, 0.0003);
        close(cost.cache_read_usd, 0.0003);
        close(cost.total_usd, 0.0006);
    }

    #[test]
    fn reasoning_tokens_are_part_of_output_and_not_counted_twice() {
        // o3 at 2 / 8: 1,000 output tokens of which 800 reasoning, 0 input:
        // 200 * 8 / 1M = 0.0016 and 800 * 8 / 1M = 0.0064; total 0.008, not 0.0144.
        let u = Usage {
            input: Some(0),
            output: Some(1_000),
            reasoning: Some(800),
            ..Usage::default()
        };
        let cost = table()
            .cost(Some("openai"), "o3-2025-04-16", &u)
            .expect("priced");
        close(cost.output_usd, 0.0016);
        close(cost.reasoning_usd, 0.0064);
        close(cost.total_usd, 0.008);
        // Gemini counts thinking apart: 300 reasoning beside 100 output at 2.50 both.
        let u = Usage {
            output: Some(100),
            reasoning: Some(300),
            ..Usage::default()
        };
        let cost = table()
            .cost(Some("gcp.gemini"), "gemini-2.5-flash", &u)
            .expect("priced");
        close(cost.output_usd, 0.00025);
        close(cost.reasoning_usd, 0.00075);
        close(cost.total_usd, 0.001);
    }

    #[test]
    fn a_missing_cache_read_rate_is_the_input_rate() {
        // gpt-4o-2024-05-13 (5 / 15) has no cached-input rate: 1,000 input of which 600
        // cached = 400 * 5 / 1M + 600 * 5 / 1M = 0.005.
        let cost = table()
            .cost(
                Some("openai"),
                "gpt-4o-2024-05-13",
                &usage(1_000, 600, 0, 0),
            )
            .expect("priced");
        close(cost.input_usd, 0.002);
        close(cost.cache_read_usd, 0.003);
        close(cost.total_usd, 0.005);
    }

    #[test]
    fn long_prompts_use_the_long_context_tier() {
        // gemini-2.5-pro: 1.25 / 10 up to 200K prompt tokens, 2.50 / 15 over.
        let table = table();
        let at = table
            .cost(
                Some("gcp.gemini"),
                "gemini-2.5-pro",
                &usage(200_000, 0, 0, 1_000),
            )
            .expect("priced");
        close(at.total_usd, 0.25 + 0.01);
        let over = table
            .cost(
                Some("gcp.gemini"),
                "gemini-2.5-pro",
                &usage(300_000, 0, 0, 1_000),
            )
            .expect("priced");
        close(over.input_usd, 0.75);
        close(over.output_usd, 0.015);
        close(over.total_usd, 0.765);
        // Cached tokens count toward the prompt: 150K uncached + 100K read (Sonnet 4 at
        // 6 / 0.60 over 200K): 0.9 + 0.06.
        let sonnet = table
            .cost(
                Some("anthropic"),
                "claude-sonnet-4-20250514",
                &usage(250_000, 100_000, 0, 0),
            )
            .expect("priced");
        close(sonnet.input_usd, 0.9);
        close(sonnet.cache_read_usd, 0.06);
    }

    #[test]
    fn dated_snapshots_and_host_names_match_their_model() {
        let table = table();
        let name = |provider: Option<&str>, model: &str| {
            table.lookup(provider, model).map(|p| p.model.clone())
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(name(Some("openai"), "gpt-4o-2024-08-06"), some("gpt-4o"));
        assert_eq!(
            name(Some("openai"), "GPT-4o-Mini-2024-07-18"),
            some("gpt-4o-mini")
        );
        assert_eq!(
            name(Some("openai"), "gpt-4o-2024-05-13"),
            some("gpt-4o-2024-05-13")
        );
        assert_eq!(name(Some("openai"), "gpt-4.1-2025-04-14"), some("gpt-4.1"));
        assert_eq!(name(Some("openai"), "o3-mini-2025-01-31"), some("o3-mini"));
        assert_eq!(
            name(Some("openai"), "gpt-3.5-turbo-0125"),
            some("gpt-3.5-turbo")
        );
        assert_eq!(
            name(Some("openai"), "gpt-3.5-turbo-1106"),
            some("gpt-3.5-turbo-1106")
        );
        assert_eq!(name(Some("openai"), "gpt-5-chat-latest"), some("gpt-5"));
        assert_eq!(
            name(Some("anthropic"), "claude-3-5-sonnet-20241022"),
            some("claude-3-5-sonnet")
        );
        assert_eq!(
            name(Some("anthropic"), "claude-sonnet-4-0"),
            some("claude-sonnet-4")
        );
        assert_eq!(
            name(Some("anthropic"), "claude-opus-4-1-20250805"),
            some("claude-opus-4-1")
        );
        assert_eq!(
            name(
                Some("aws.bedrock"),
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
            ),
            some("claude-3-7-sonnet")
        );
        assert_eq!(
            name(
                Some("aws.bedrock"),
                "anthropic.claude-3-5-sonnet-20241022-v2:0"
            ),
            some("claude-3-5-sonnet")
        );
        assert_eq!(
            name(Some("vertex_ai"), "claude-3-5-sonnet-v2@20241022"),
            some("claude-3-5-sonnet")
        );
        assert_eq!(
            name(Some("gemini"), "models/gemini-1.5-pro-002"),
            some("gemini-1.5-pro")
        );
        assert_eq!(
            name(Some("gcp.gemini"), "gemini-2.0-flash-lite-001"),
            some("gemini-2.0-flash-lite")
        );
        assert_eq!(
            name(Some("Azure.AI.OpenAI"), "gpt-4.1-mini"),
            some("gpt-4.1-mini")
        );
        assert_eq!(name(Some("az.ai.openai"), "gpt-4o"), some("gpt-4o"));
        // OpenRouter and LiteLLM name the vendor before the model.
        assert_eq!(
            name(Some("openai"), "anthropic/claude-3.5-sonnet"),
            some("claude-3-5-sonnet")
        );
        assert_eq!(
            name(None, "anthropic/claude-3.7-sonnet:thinking"),
            some("claude-3-7-sonnet")
        );
    }

    #[test]
    fn other_models_are_not_taken_for_a_shorter_name() {
        let table = table();
        for (provider, model) in [
            ("openai", "gpt-4o-realtime-preview-2024-12-17"),
            ("openai", "gpt-4o-audio-preview"),
            ("openai", "o3-pro"),
            ("openai", "o1-mini"),
            ("openai", "gpt-4"),
            ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123"),
            ("gcp.gemini", "gemini-2.5-flash-preview-05-20"),
            ("gcp.gemini", "gemini-2.0-flash-exp"),
            ("anthropic", "claude-opus-4-6"),
            ("anthropic", "claude-3-5-sonnet-20241022-extra"),
        ] {
            assert_eq!(table.lookup(Some(provider), model), None, "{model}");
        }
        // Opus 4.5 has its own (lower) price, not Opus 4's.
        let opus = table
            .lookup(Some("anthropic"), "claude-opus-4-5-20251101")
            .expect("opus 4.5");
        assert_eq!(opus.rates.input, 5.0);
    }

    #[test]
    fn unknown_models_and_empty_usage_are_unpriced_never_zero() {
        let table = table();
        let u = usage(1_000, 0, 0, 100);
        assert_eq!(table.cost(Some("openai"), "gpt-9-ultra", &u), None);
        assert_eq!(table.cost(None, "", &u), None);
        assert_eq!(table.cost(None, "   ", &u), None);
        assert_eq!(table.cost(None, &"a".repeat(MAX_NAME_BYTES + 1), &u), None);
        assert_eq!(
            table.cost(Some("openai"), "gpt-4o", &Usage::default()),
            None
        );
        // All counts zero is a known zero.
        let zero = table
            .cost(Some("openai"), "gpt-4o", &usage(0, 0, 0, 0))
            .expect("priced");
        assert_eq!(zero.total_usd, 0.0);
        // An embedding has no output rate: output tokens leave it unpriced.
        let embedding = |output| Usage {
            input: Some(1_000_000),
            output: Some(output),
            ..Usage::default()
        };
        let cost = table
            .cost(Some("openai"), "text-embedding-3-small", &embedding(0))
            .expect("priced");
        close(cost.total_usd, 0.02);
        assert_eq!(
            table.cost(Some("openai"), "text-embedding-3-small", &embedding(5)),
            None
        );
    }

    #[test]
    fn hosts_and_model_alone() {
        let table = table();
        let u = usage(100_000, 0, 0, 0);
        // Bedrock sells Sonnet 4 at Anthropic's price (100K * 3 / 1M), not the 4.5 models.
        close(
            table
                .cost(
                    Some("aws.bedrock"),
                    "anthropic.claude-sonnet-4-20250514-v1:0",
                    &u,
                )
                .expect("priced")
                .total_usd,
            0.3,
        );
        assert_eq!(
            table.cost(
                Some("aws.bedrock"),
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                &u
            ),
            None
        );
        assert!(
            table
                .cost(Some("anthropic"), "claude-sonnet-4-5-20250929", &u)
                .is_some()
        );
        assert!(table.cost(None, "claude-sonnet-4-5-20250929", &u).is_some());
        // Vertex AI's Gemini prices are not the Gemini API's: unpriced.
        assert_eq!(
            table.cost(Some("gcp.vertex_ai"), "gemini-2.0-flash", &u),
            None
        );
        // A provider no list serves matches by model alone.
        close(
            table
                .cost(Some("openrouter"), "gpt-4.1-nano", &u)
                .expect("priced")
                .total_usd,
            0.01,
        );
        close(
            table
                .cost(None, "gemini-2.0-flash-001", &u)
                .expect("priced")
                .total_usd,
            0.01,
        );
        // A known provider without the model does not fall back.
        assert_eq!(table.cost(Some("openai"), "claude-3-5-sonnet", &u), None);
    }

    #[test]
    fn an_override_replaces_a_builtin_price_and_its_snapshots() {
        let overrides = [PriceOverride {
            provider: "OpenAI".into(),
            model: "gpt-4o".into(),
            input: 1.0,
            output: Some(2.0),
            cache_read: None,
            cache_write: None,
            reasoning: None,
        }];
        let table = table().with_overrides(&overrides).expect("valid");
        // 1M input of which 500K cached (now at the input rate) + 1M output: 1 + 2.
        let u = usage(1_000_000, 500_000, 0, 1_000_000);
        let cost = table
            .cost(Some("openai"), "gpt-4o-2024-08-06", &u)
            .expect("priced");
        close(cost.input_usd, 0.5);
        close(cost.cache_read_usd, 0.5);
        close(cost.total_usd, 3.0);
        let price = table.lookup(Some("azure"), "gpt-4o").expect("priced");
        assert_eq!(price.source, "config");
        assert_eq!(price.as_of, None);
        // The first snapshot keeps its own entry.
        close(
            table
                .cost(Some("openai"), "gpt-4o-2024-05-13", &u)
                .expect("priced")
                .total_usd,
            5.0 + 15.0,
        );
    }

    #[test]
    fn an_override_of_an_alias_replaces_the_entry_and_a_new_provider_is_added() {
        let o = |provider: &str, model: &str, input: f64| PriceOverride {
            provider: provider.into(),
            model: model.into(),
            input,
            output: Some(0.0),
            cache_read: None,
            cache_write: None,
            reasoning: None,
        };
        let table = table()
            .with_overrides(&[
                o("anthropic", "claude-3.5-haiku", 0.5),
                o("ollama", "llama3.1", 0.0),
                o("aws.bedrock", "claude-3-5-sonnet", 4.0),
            ])
            .expect("valid");
        let u = usage(1_000_000, 0, 0, 0);
        let total = |p: Option<&str>, m: &str| table.cost(p, m, &u).map(|c| c.total_usd);
        assert_eq!(
            total(Some("anthropic"), "claude-3-5-haiku-20241022"),
            Some(0.5)
        );
        assert_eq!(total(Some("ollama"), "llama3.1:8b"), Some(0.0));
        assert_eq!(
            total(
                Some("aws.bedrock"),
                "anthropic.claude-3-5-sonnet-20240620-v1:0"
            ),
            Some(4.0)
        );
        assert_eq!(total(Some("anthropic"), "claude-3-5-sonnet"), Some(3.0));
        // Two prices for one model and no provider to choose: unpriced.
        assert_eq!(total(None, "claude-3-5-sonnet"), None);
    }

    #[test]
    fn invalid_overrides_are_refused() {
        let o = |input: f64, cache_read: Option<f64>| PriceOverride {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input,
            output: Some(1.0),
            cache_read,
            cache_write: None,
            reasoning: None,
        };
        for bad in [
            o(-1.0, None),
            o(f64::NAN, None),
            o(f64::INFINITY, None),
            o(1.0, Some(1e9)),
        ] {
            assert!(matches!(
                table().with_overrides(&[bad]),
                Err(PriceError::Rate { .. })
            ));
        }
        let mut empty = o(1.0, None);
        empty.model = " ".into();
        assert!(matches!(
            table().with_overrides(&[empty]),
            Err(PriceError::Name(_))
        ));
        let twice = [o(1.0, None), o(2.0, None)];
        assert!(matches!(
            table().with_overrides(&twice),
            Err(PriceError::Name(_))
        ));
    }

    #[test]
    fn overrides_read_from_toml() {
        #[derive(Deserialize)]
        struct Genai {
            prices: Vec<PriceOverride>,
        }
        #[derive(Deserialize)]
        struct File {
            genai: Genai,
        }
        let file: File = toml::from_str(
            r#"
            [[genai.prices]]
            provider = "openai"
            model = "gpt-4o"
            input = 2
            output = 8.5
            cache_read = 0.25
            "#,
        )
        .expect("toml");
        assert_eq!(file.genai.prices.len(), 1);
        assert_eq!(file.genai.prices[0].input, 2.0);
        assert_eq!(file.genai.prices[0].output, Some(8.5));
        assert_eq!(file.genai.prices[0].reasoning, None);
        let unknown = "[[genai.prices]]\nprovider = \"a\"\nmodel = \"b\"\ninput = 1\nprice = 2\n";
        assert!(toml::from_str::<File>(unknown).is_err());
    }

    #[test]
    fn a_table_with_a_typo_or_a_duplicate_is_refused() {
        let typo = r#"{"lists": [{"provider": "x", "models": [
            {"model": "m", "input": 1, "ouput": 2, "source": "https://x", "as_of": "2025-01-01"}]}]}"#;
        assert!(matches!(PriceTable::parse(typo), Err(PriceError::Json(_))));
        let twice = r#"{"lists": [{"provider": "x", "models": [
            {"model": "m", "input": 1, "source": "https://x", "as_of": "2025-01-01"},
            {"model": "M", "input": 2, "source": "https://x", "as_of": "2025-01-01"}]}]}"#;
        assert!(matches!(PriceTable::parse(twice), Err(PriceError::Name(_))));
        let negative = r#"{"lists": [{"provider": "x", "models": [
            {"model": "m", "input": -1, "source": "https://x", "as_of": "2025-01-01"}]}]}"#;
        assert!(matches!(
            PriceTable::parse(negative),
            Err(PriceError::Rate { .. })
        ));
    }

    #[test]
    fn huge_counts_stay_finite() {
        let max = Usage {
            input: Some(u64::MAX),
            output: Some(u64::MAX),
            cache_read: Some(u64::MAX),
            cache_write: Some(u64::MAX),
            reasoning: Some(u64::MAX),
        };
        let cost = table()
            .cost(Some("anthropic"), "claude-opus-4", &max)
            .expect("priced");
        assert!(cost.total_usd.is_finite() && cost.total_usd > 1e15);
    }

    #[test]
    fn snapshot_suffixes() {
        assert_eq!(strip_snapshot_suffix("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(
            strip_snapshot_suffix("claude-3-5-sonnet-20241022"),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(
            strip_snapshot_suffix("gpt-3.5-turbo-0125"),
            Some("gpt-3.5-turbo")
        );
        assert_eq!(
            strip_snapshot_suffix("gemini-1.5-pro-002"),
            Some("gemini-1.5-pro")
        );
        assert_eq!(
            strip_snapshot_suffix("claude-3-5-sonnet-v2"),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(
            strip_snapshot_suffix("claude-3-5-haiku-latest"),
            Some("claude-3-5-haiku")
        );
        assert_eq!(strip_snapshot_suffix("gpt-4o-mini"), None);
        assert_eq!(strip_snapshot_suffix("claude-opus-4-5"), None);
        assert_eq!(
            strip_snapshot_suffix("gemini-2.5-flash-preview-05-20"),
            None
        );
        assert_eq!(strip_snapshot_suffix("o3"), None);
        assert_eq!(
            model_candidates("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            [
                "claude-sonnet-4-20250514-v1",
                "claude-sonnet-4-20250514",
                "claude-sonnet-4"
            ]
        );
        assert_eq!(normalize_provider(" Bedrock "), "aws.bedrock");
        assert_eq!(normalize_provider("ollama"), "ollama");
    }
}
