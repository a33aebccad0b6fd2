//! Runs put together at read time: which run each LLM call and nested run belongs to,
//! and a run's totals.
//!
//! Spans reach the server in the order their SDK ends and exports them: an agent's LLM
//! calls and sub-agents end, and are often exported, before the agent span itself. So at
//! ingest an LLM call knows its run only when the run's span is in the same request (or
//! the call carries a `correlation_id`). Here the rest is resolved from the trace: the
//! run of a span is the nearest agent span above it ([`owners`]).

use crate::rows::{AgentActionRow, AgentRunRow, LlmCallRow};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// For each span of a trace (`(span_id, parent_span_id)` pairs), the nearest span above
/// it that is in `runs` (itself excluded); spans with none are left out. A parent chain
/// that loops or leaves the trace ends the walk.
pub fn owners<'a>(
    links: &'a [(String, String)],
    runs: &HashSet<&str>,
) -> HashMap<&'a str, &'a str> {
    let parent: HashMap<&str, &str> = links
        .iter()
        .map(|(s, p)| (s.as_str(), p.as_str()))
        .collect();
    let mut out = HashMap::new();
    for (span, _) in links {
        let mut at = parent.get(span.as_str()).copied().unwrap_or("");
        // At most one step per span of the trace: a loop cannot run forever.
        for _ in 0..links.len() {
            if at.is_empty() {
                break;
            }
            if runs.contains(at) {
                out.insert(span.as_str(), at);
                break;
            }
            at = parent.get(at).copied().unwrap_or("");
        }
    }
    out
}

/// What a run adds up to: its own LLM calls and tool calls, and those of its nested runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// LLM calls.
    pub llm_calls: u64,
    /// Tool calls.
    pub tool_calls: u64,
    /// Failed LLM calls, tool calls, errors reported and failed nested runs.
    pub errors: u64,
    /// Input tokens (cached ones included).
    pub input_tokens: u64,
    /// Output tokens (reasoning ones included).
    pub output_tokens: u64,
    /// Input tokens read from a cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to a cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// Cost of the priced calls, USD.
    pub cost_usd: f64,
    /// Calls of a model the price table does not know (their cost is not in `cost_usd`).
    pub unpriced_calls: u64,
    /// The models that answered (or were asked, when the answer names none).
    pub models: BTreeSet<String>,
}

impl Totals {
    /// Adds one LLM call.
    pub fn add_call(&mut self, c: &LlmCallRow) {
        self.llm_calls += 1;
        self.errors += u64::from(c.is_error);
        let add = |t: &mut u64, v: Option<u64>| *t = t.saturating_add(v.unwrap_or(0));
        add(&mut self.input_tokens, c.input_tokens);
        add(&mut self.output_tokens, c.output_tokens);
        add(&mut self.cache_read_tokens, c.cache_read_tokens);
        add(&mut self.cache_write_tokens, c.cache_write_tokens);
        add(&mut self.reasoning_tokens, c.reasoning_tokens);
        match c.cost_usd {
            Some(cost) if cost.is_finite() => self.cost_usd += cost,
            _ => self.unpriced_calls += 1,
        }
        let model = if c.response_model.is_empty() {
            &c.request_model
        } else {
            &c.response_model
        };
        if !model.is_empty() && self.models.len() < 32 {
            self.models.insert(model.clone());
        }
    }

    /// Adds one action (tool calls and errors count).
    pub fn add_action(&mut self, a: &AgentActionRow) {
        self.tool_calls += u64::from(a.action_type == "tool_call");
        self.errors += u64::from(a.is_error);
    }

    /// Adds a nested run's totals, and the nested run itself when it failed.
    pub fn add_nested(&mut self, other: &Totals, failed: bool) {
        self.llm_calls += other.llm_calls;
        self.tool_calls += other.tool_calls;
        self.errors += other.errors + u64::from(failed);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
        self.cost_usd += other.cost_usd;
        self.unpriced_calls += other.unpriced_calls;
        for m in &other.models {
            if self.models.len() < 32 {
                self.models.insert(m.clone());
            }
        }
    }
}

/// One run of a trace with what belongs to it.
#[derive(Clone, Debug, Default)]
pub struct Assembled {
    /// The run's parent run (its correlation id), when it is nested.
    pub parent: Option<String>,
    /// Its nested runs (correlation ids), oldest first.
    pub children: Vec<String>,
    /// Its own LLM calls (indexes into the calls given), oldest first.
    pub calls: Vec<usize>,
    /// Its own totals plus its nested runs'.
    pub totals: Totals,
}

/// The runs of one trace put together: each LLM call goes to the run its
/// `correlation_id` names when that run is among `runs`, else to the run of the nearest
/// agent span above it (through `links`, the trace's `(span_id, parent_span_id)`);
/// nested runs to the run above them. `actions` are by correlation id. Calls belonging
/// to no run are left out.
pub fn assemble(
    runs: &[AgentRunRow],
    links: &[(String, String)],
    calls: &[LlmCallRow],
    actions: &HashMap<String, Vec<AgentActionRow>>,
) -> HashMap<String, Assembled> {
    let by_span: HashMap<&str, &AgentRunRow> = runs
        .iter()
        .filter(|r| !r.span_id.is_empty())
        .map(|r| (r.span_id.as_str(), r))
        .collect();
    let run_spans: HashSet<&str> = by_span.keys().copied().collect();
    // The calls' and runs' own links, in case the trace listing misses a span.
    let mut all_links: Vec<(String, String)> = links.to_vec();
    let known: HashSet<&str> = links.iter().map(|(s, _)| s.as_str()).collect();
    let extra: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.span_id.clone(), c.parent_span_id.clone()))
        .chain(
            runs.iter()
                .map(|r| (r.span_id.clone(), r.parent_span_id.clone())),
        )
        .filter(|(s, _)| !s.is_empty() && !known.contains(s.as_str()))
        .collect();
    all_links.extend(extra);
    let owner = owners(&all_links, &run_spans);
    let ids: HashSet<&str> = runs.iter().map(|r| r.correlation_id.as_str()).collect();

    let mut out: HashMap<String, Assembled> = runs
        .iter()
        .map(|r| (r.correlation_id.clone(), Assembled::default()))
        .collect();
    for r in runs {
        if let Some(parent) = owner
            .get(r.span_id.as_str())
            .and_then(|s| by_span.get(s))
            .filter(|p| p.correlation_id != r.correlation_id)
        {
            let parent_id = parent.correlation_id.clone();
            if let Some(a) = out.get_mut(&r.correlation_id) {
                a.parent = Some(parent_id.clone());
            }
            if let Some(a) = out.get_mut(&parent_id) {
                a.children.push(r.correlation_id.clone());
            }
        }
    }
    for (i, c) in calls.iter().enumerate() {
        let run = if ids.contains(c.correlation_id.as_str()) {
            Some(c.correlation_id.clone())
        } else {
            owner
                .get(c.span_id.as_str())
                .and_then(|s| by_span.get(s))
                .map(|r| r.correlation_id.clone())
        };
        if let Some(a) = run.and_then(|id| out.get_mut(&id)) {
            a.calls.push(i);
            a.totals.add_call(c);
        }
    }
    for (id, a) in out.iter_mut() {
        for action in actions.get(id).into_iter().flatten() {
            a.totals.add_action(action);
        }
    }
    // Nested runs' totals, deepest first: a run's depth is its chain of parents.
    let depth = |id: &str| {
        let mut d = 0;
        let mut at = out.get(id).and_then(|a| a.parent.clone());
        while let Some(p) = at {
            d += 1;
            if d > runs.len() {
                break;
            }
            at = out.get(&p).and_then(|a| a.parent.clone());
        }
        d
    };
    let mut order: Vec<(usize, String)> = out.keys().map(|id| (depth(id), id.clone())).collect();
    order.sort_by_key(|o| std::cmp::Reverse(o.0));
    let failed: HashSet<&str> = runs
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| r.correlation_id.as_str())
        .collect();
    for (_, id) in order {
        let Some((parent, totals)) = out
            .get(&id)
            .and_then(|a| Some((a.parent.clone()?, a.totals.clone())))
        else {
            continue;
        };
        if let Some(p) = out.get_mut(&parent) {
            p.totals.add_nested(&totals, failed.contains(id.as_str()));
        }
    }
    let start: HashMap<&str, u64> = runs
        .iter()
        .map(|r| (r.correlation_id.as_str(), r.start_time_unix_nano))
        .collect();
    for a in out.values_mut() {
        a.children
            .sort_by_key(|c| start.get(c.as_str()).copied().unwrap_or(0));
        a.calls.sort_by_key(|i| calls[*i].start_time_unix_nano);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, span: &str, parent: &str, status: &str) -> AgentRunRow {
        AgentRunRow {
            correlation_id: id.into(),
            agent_name: id.into(),
            status: status.into(),
            service_name: "svc".into(),
            trace_id: "t".into(),
            span_id: span.into(),
            parent_span_id: parent.into(),
            session_id: String::new(),
            user_id: String::new(),
            start_time_unix_nano: span.len() as u64,
            end_time_unix_nano: 100,
            quality_score: None,
            error: None,
            attributes: "{}".into(),
        }
    }

    fn call(span: &str, parent: &str, input: u64, cost: Option<f64>) -> LlmCallRow {
        LlmCallRow {
            trace_id: "t".into(),
            span_id: span.into(),
            parent_span_id: parent.into(),
            request_model: "gpt-4o".into(),
            input_tokens: Some(input),
            output_tokens: Some(1),
            cost_usd: cost,
            ..Default::default()
        }
    }

    #[test]
    fn calls_and_nested_runs_find_their_run_through_the_trace() {
        // root (supervisor) -> step -> llm a; root -> researcher (failed) -> llm b, c;
        // an llm call outside any run.
        let links: Vec<(String, String)> = [
            ("root", ""),
            ("step", "root"),
            ("a", "step"),
            ("res", "root"),
            ("b", "res"),
            ("x", ""),
        ]
        .iter()
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .collect();
        let runs = [
            run("sup", "root", "", "completed"),
            run("researcher", "res", "root", "failed"),
        ];
        // "c" is not in the trace listing (not stored yet): its own parent link counts.
        let calls = [
            call("a", "step", 10, Some(0.5)),
            call("b", "res", 20, None),
            call("c", "res", 30, Some(0.25)),
            call("x", "", 40, Some(1.0)),
        ];
        let out = assemble(&runs, &links, &calls, &HashMap::new());
        let sup = &out["sup"];
        let res = &out["researcher"];
        assert_eq!(res.parent.as_deref(), Some("sup"));
        assert_eq!(sup.children, ["researcher"]);
        assert_eq!(sup.calls, [0]);
        assert_eq!(res.calls, [1, 2]);
        assert_eq!(res.totals.input_tokens, 50);
        assert_eq!((res.totals.cost_usd, res.totals.unpriced_calls), (0.25, 1));
        // The supervisor adds its nested run and counts its failure.
        assert_eq!(sup.totals.llm_calls, 3);
        assert_eq!(sup.totals.input_tokens, 60);
        assert_eq!(sup.totals.cost_usd, 0.75);
        assert_eq!(sup.totals.errors, 1);
    }

    #[test]
    fn a_correlation_id_wins_and_loops_end() {
        let links: Vec<(String, String)> = [("a", "b"), ("b", "a")]
            .iter()
            .map(|(s, p)| (s.to_string(), p.to_string()))
            .collect();
        assert!(owners(&links, &HashSet::from(["z"])).is_empty());
        let runs = [
            run("r1", "s1", "", "completed"),
            run("r2", "s2", "", "completed"),
        ];
        let mut c = call("q", "s1", 5, Some(0.1));
        c.correlation_id = "r2".into();
        let out = assemble(&runs, &[], &[c], &HashMap::new());
        assert_eq!(out["r2"].calls, [0]);
        assert!(out["r1"].calls.is_empty());
    }
}
