//! The consumer's PostgreSQL side: the agent tables (numbered migrations), one
//! transaction per batch with `unnest` statements, event ids recorded so a redelivered
//! message changes nothing, and a savepoint per message when a row is refused.

use super::{ConsumeError, Incoming};
use crate::rows::{AgentActionRow, AgentRunRow, Batch};
use automagik_telemetry_core::agent_event::{Envelope, EventType};
use automagik_telemetry_core::time::rfc3339;
use postgres::{Client, NoTls, Transaction};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Migrations, applied in order and recorded in `automagik_agent_migrations`.
pub(super) const MIGRATIONS: &[&str] = &[include_str!("../../migrations/agents/0001_init.sql")];

/// The server-store rows of a committed batch: its actions, and the current state of
/// the runs they touch (read back from PostgreSQL, where the run's events meet).
pub(super) fn store_rows(
    db: &mut Client,
    envelopes: &[&Envelope],
) -> Result<Batch, postgres::Error> {
    let mut runs: Vec<uuid::Uuid> = envelopes
        .iter()
        .map(|e| parse_uuid(&e.correlation_id))
        .collect();
    runs.sort();
    runs.dedup();
    let agent_runs = db
        .query(
            "SELECT correlation_id::text, agent_name, status, user_prompt, quality_score, error,
                (extract(epoch FROM coalesce(started_at, updated_at)) * 1e9)::int8,
                (extract(epoch FROM coalesce(ended_at, started_at, updated_at)) * 1e9)::int8,
                stage, progress_percent
             FROM agent_execution_logs WHERE correlation_id = ANY($1)",
            &[&runs],
        )?
        .iter()
        .map(|r| AgentRunRow {
            correlation_id: r.get(0),
            agent_name: r.get(1),
            status: r.get(2),
            service_name: "kafka".into(),
            trace_id: String::new(),
            span_id: String::new(),
            parent_span_id: String::new(),
            session_id: String::new(),
            user_id: String::new(),
            start_time_unix_nano: r.get::<_, i64>(6).max(0) as u64,
            end_time_unix_nano: r.get::<_, i64>(7).max(0) as u64,
            quality_score: r.get(4),
            error: r.get(5),
            attributes: json!({
                "agent.prompt": r.get::<_, Option<String>>(3),
                "agent.stage": r.get::<_, Option<String>>(8),
                "agent.percent": r.get::<_, Option<f64>>(9),
            })
            .to_string(),
        })
        .collect();
    let agent_actions = envelopes
        .iter()
        .filter(|e| e.event_type.is_action())
        .map(|e| {
            let r = ActionRow::of(e);
            AgentActionRow {
                action_id: r.action_id.to_string(),
                correlation_id: r.run.to_string(),
                agent_name: r.agent.to_string(),
                action_type: r.action_type.to_string(),
                name: r.name,
                is_error: r.is_error,
                time_unix_nano: e.timestamp_unix_nano,
                duration_ns: r.duration_ms.map_or(0, |ms| (ms.max(0.0) * 1e6) as u64),
                attributes: r.payload,
            }
        })
        .collect();
    Ok(Batch {
        agent_runs,
        agent_actions,
        ..Default::default()
    })
}

/// Whether a database error is about this row (bad data, a broken constraint) rather
/// than the database being unavailable.
pub(super) fn is_row_error(e: &postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"))
}

/// Records that an envelope is applied; `false` when it already was.
pub(super) const RECORD_EVENTS: &str = "INSERT INTO agent_consumed_events
        (event_id, event_type, topic, kafka_partition, kafka_offset)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int8[])
    ON CONFLICT (event_id) DO NOTHING RETURNING event_id";
/// Every event names its run: its row exists before anything joins to it, whatever
/// order the topics deliver in.
pub(super) const ENSURE_RUNS: &str = "INSERT INTO agent_execution_logs (correlation_id, agent_name)
    SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT (correlation_id) DO NOTHING";
pub(super) const INSERT_ACTIONS: &str = "INSERT INTO agent_actions (action_id, event_id, correlation_id,
        agent_name, action_type, name, is_error, payload, duration_ms, occurred_at)
    SELECT a, b, c, d, e, f, g, h::jsonb, i, j::timestamptz
    FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                $7::bool[], $8::text[], $9::float8[], $10::text[]) AS t(a, b, c, d, e, f, g, h, i, j)";

/// Applies `messages` (records their event ids, creates their runs, inserts their
/// actions with one statement each, then applies the other events in order); how many
/// were new by event type, and how many were already stored.
pub(super) fn apply_all(
    tx: &mut Transaction<'_>,
    messages: &[(&Incoming, &Envelope)],
) -> Result<(HashMap<&'static str, u64>, u64), postgres::Error> {
    let ids: Vec<uuid::Uuid> = messages
        .iter()
        .map(|(_, e)| parse_uuid(&e.event_id))
        .collect();
    let types: Vec<&str> = messages
        .iter()
        .map(|(_, e)| e.event_type.as_str())
        .collect();
    let topics: Vec<&str> = messages.iter().map(|(m, _)| m.topic.as_str()).collect();
    let partitions: Vec<i32> = messages.iter().map(|(m, _)| m.partition).collect();
    let offsets: Vec<i64> = messages.iter().map(|(m, _)| m.offset).collect();
    let mut fresh: std::collections::HashSet<uuid::Uuid> = tx
        .query(
            RECORD_EVENTS,
            &[&ids, &types, &topics, &partitions, &offsets],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // A message delivered twice in one batch is applied once.
    let new: Vec<&Envelope> = messages
        .iter()
        .zip(&ids)
        .filter(|(_, id)| fresh.remove(id))
        .map(|((_, e), _)| *e)
        .collect();
    let duplicates = (messages.len() - new.len()) as u64;
    let runs: Vec<uuid::Uuid> = new.iter().map(|e| parse_uuid(&e.correlation_id)).collect();
    let agents: Vec<&str> = new.iter().map(|e| e.agent_name.as_str()).collect();
    tx.execute(ENSURE_RUNS, &[&runs, &agents])?;
    let actions: Vec<&Envelope> = new
        .iter()
        .copied()
        .filter(|e| e.event_type.is_action())
        .collect();
    if !actions.is_empty() {
        let rows: Vec<ActionRow<'_>> = actions.iter().copied().map(ActionRow::of).collect();
        tx.execute(
            INSERT_ACTIONS,
            &[
                &rows.iter().map(|r| r.action_id).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.event_id).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.run).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.agent).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.action_type).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.is_error).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.payload.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.duration_ms).collect::<Vec<_>>(),
                &rows.iter().map(|r| r.at.as_str()).collect::<Vec<_>>(),
            ],
        )?;
    }
    let mut stored: HashMap<&'static str, u64> = HashMap::new();
    for e in new {
        apply_effect(tx, e)?;
        *stored.entry(e.event_type.as_str()).or_default() += 1;
    }
    Ok((stored, duplicates))
}

/// The `agent_actions` row of an action envelope.
pub(super) struct ActionRow<'a> {
    pub(super) action_id: uuid::Uuid,
    pub(super) event_id: uuid::Uuid,
    pub(super) run: uuid::Uuid,
    pub(super) agent: &'a str,
    pub(super) action_type: &'static str,
    pub(super) name: String,
    pub(super) is_error: bool,
    pub(super) payload: String,
    pub(super) duration_ms: Option<f64>,
    pub(super) at: String,
}

impl<'a> ActionRow<'a> {
    fn of(e: &'a Envelope) -> Self {
        let p = &e.payload;
        let text = |k: &str| p.get(k).and_then(Json::as_str);
        ActionRow {
            action_id: parse_uuid(text("action_id").unwrap_or_default()),
            event_id: parse_uuid(&e.event_id),
            run: parse_uuid(&e.correlation_id),
            agent: &e.agent_name,
            action_type: e.event_type.as_str(),
            // The tool, the choice or the message.
            name: ["tool_name", "choice", "message"]
                .iter()
                .find_map(|k| text(k))
                .unwrap_or_default()
                .to_string(),
            is_error: e.event_type == EventType::Error
                || p.get("error").is_some_and(|v| !v.is_null()),
            payload: Json::Object(p.clone()).to_string(),
            duration_ms: p.get("duration_ms").and_then(Json::as_f64),
            at: rfc3339(e.timestamp_unix_nano),
        }
    }
}

/// Applies one event whose id is recorded and whose run row exists (actions excepted).
pub(super) fn apply_effect(tx: &mut Transaction<'_>, e: &Envelope) -> Result<(), postgres::Error> {
    let run = parse_uuid(&e.correlation_id);
    let event_id = parse_uuid(&e.event_id);
    let at = rfc3339(e.timestamp_unix_nano);
    let p = &e.payload;
    let text = |k: &str| p.get(k).and_then(Json::as_str).map(str::to_string);
    let num = |k: &str| p.get(k).and_then(Json::as_f64);
    let extra = Json::Object(e.extra.clone()).to_string();
    match e.event_type {
        EventType::ExecutionStarted => {
            let parent = text("parent_correlation_id").map(|s| parse_uuid(&s));
            tx.execute(
                "UPDATE agent_execution_logs SET agent_name = $2, user_prompt = $3,
                    parent_correlation_id = $4, started_at = $5::text::timestamptz,
                    extra = extra || $6::text::jsonb, updated_at = now()
                 WHERE correlation_id = $1",
                &[
                    &run,
                    &e.agent_name,
                    &text("user_prompt"),
                    &parent,
                    &at,
                    &extra,
                ],
            )?;
        }
        EventType::ExecutionProgress => {
            // Topics deliver in their own order: only the newest progress counts, and
            // an ended run keeps its final percentage.
            tx.execute(
                "UPDATE agent_execution_logs SET
                    stage = CASE WHEN progress_at IS NULL OR progress_at <= $4::text::timestamptz
                                 THEN $2 ELSE stage END,
                    progress_percent = CASE WHEN status = 'running'
                                 AND (progress_at IS NULL OR progress_at <= $4::text::timestamptz)
                                 THEN $3 ELSE progress_percent END,
                    progress_at = GREATEST(progress_at, $4::text::timestamptz),
                    updated_at = now()
                 WHERE correlation_id = $1",
                &[&run, &text("stage"), &num("percent"), &at],
            )?;
        }
        EventType::ExecutionCompleted | EventType::ExecutionFailed => {
            let completed = e.event_type == EventType::ExecutionCompleted;
            tx.execute(
                "UPDATE agent_execution_logs SET status = $2, quality_score = $3, error = $4,
                    duration_ms = $5, ended_at = $6::text::timestamptz,
                    progress_percent = CASE WHEN $2 = 'completed' THEN 100 ELSE progress_percent END,
                    updated_at = now()
                 WHERE correlation_id = $1",
                &[
                    &run,
                    &if completed { "completed" } else { "failed" },
                    &num("quality_score"),
                    &text("error"),
                    &num("duration_ms"),
                    &at,
                ],
            )?;
        }
        // Inserted together, one statement per batch, by `apply_all`.
        EventType::ToolCall | EventType::Decision | EventType::Error | EventType::Success => {}
        EventType::RoutingDecision => {
            tx.execute(
                "INSERT INTO agent_routing_decisions (event_id, correlation_id, agent_name,
                    selected_agent, candidates, confidence, reason, payload, occurred_at)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::jsonb, $9::text::timestamptz)",
                &[
                    &event_id,
                    &run,
                    &e.agent_name,
                    &text("selected_agent"),
                    &p.get("candidates").cloned().unwrap_or(json!([])).to_string(),
                    &num("confidence"),
                    &text("reason"),
                    &Json::Object(p.clone()).to_string(),
                    &at,
                ],
            )?;
        }
        EventType::ManifestInjection => {
            tx.execute(
                "INSERT INTO agent_manifest_injections (event_id, correlation_id, agent_name,
                    manifest_id, sections, size_bytes, payload, occurred_at)
                 VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7::text::jsonb, $8::text::timestamptz)",
                &[
                    &event_id,
                    &run,
                    &e.agent_name,
                    &text("manifest_id"),
                    &p.get("sections").cloned().unwrap_or(json!([])).to_string(),
                    &p.get("size_bytes")
                        .and_then(Json::as_i64)
                        .unwrap_or_default(),
                    &Json::Object(p.clone()).to_string(),
                    &at,
                ],
            )?;
        }
    }
    Ok(())
}

/// A UUID validated by [`Envelope::parse`] (a malformed one becomes the nil UUID, which
/// the action's primary key then refuses once).
pub(super) fn parse_uuid(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).unwrap_or_default()
}

/// What a batch write did.
#[derive(Default)]
pub(super) struct Written {
    pub(super) stored: HashMap<&'static str, u64>,
    pub(super) duplicates: u64,
    /// Messages (by index) whose rows the database refused, with the reason.
    pub(super) refused: Vec<(usize, String)>,
}

/// Writes the valid messages of a batch in one transaction; a row error makes it
/// write them again with a savepoint per message, refusing only the bad ones.
pub(super) fn write_batch(
    client: &mut Client,
    batch: &[(usize, &Incoming, Envelope)],
) -> Result<Written, postgres::Error> {
    let messages: Vec<(&Incoming, &Envelope)> = batch.iter().map(|(_, m, e)| (*m, e)).collect();
    let fast = client.transaction().and_then(|mut tx| {
        let result = apply_all(&mut tx, &messages)?;
        tx.commit()?;
        Ok(result)
    });
    match fast {
        Ok((stored, duplicates)) => {
            return Ok(Written {
                stored,
                duplicates,
                refused: Vec::new(),
            });
        }
        Err(e) if !is_row_error(&e) => return Err(e),
        Err(_) => {}
    }
    let mut written = Written::default();
    let mut tx = client.transaction()?;
    for (i, m, e) in batch {
        let mut sp = tx.savepoint("message")?;
        match apply_all(&mut sp, &[(*m, e)]) {
            Ok((stored, duplicates)) => {
                sp.commit()?;
                for (t, n) in stored {
                    *written.stored.entry(t).or_default() += n;
                }
                written.duplicates += duplicates;
            }
            Err(err) if is_row_error(&err) => {
                let reason = err
                    .as_db_error()
                    .map(|d| format!("refused by PostgreSQL: {}", d.message()))
                    .unwrap_or_else(|| "refused by PostgreSQL".into());
                sp.rollback()?;
                written.refused.push((*i, reason));
            }
            Err(err) => return Err(err),
        }
    }
    tx.commit()?;
    Ok(written)
}

pub(super) fn connect_with_retry(url: &str, stop: &AtomicBool) -> super::Outcome<Client> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match Client::connect(url, NoTls) {
            Ok(c) => return Ok(c),
            Err(e) if e.as_db_error().is_some() => {
                return Err(ConsumeError::msg(format!(
                    "PostgreSQL refused the connection: {}",
                    crate::probe::postgres_reason(&e)
                )));
            }
            Err(e) => {
                eprintln!(
                    "PostgreSQL unavailable ({}); retrying",
                    crate::probe::postgres_reason(&e)
                );
                std::thread::sleep(backoff);
                if stop.load(Ordering::SeqCst) {
                    return Err(ConsumeError::msg("stopped before PostgreSQL was reachable"));
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The connection, opened again first if it was lost.
pub(super) fn reconnected<'a>(
    db: &'a mut Client,
    url: &str,
) -> Result<&'a mut Client, postgres::Error> {
    if db.is_closed() {
        *db = Client::connect(url, NoTls)?;
    }
    Ok(db)
}
