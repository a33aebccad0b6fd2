// An agent run from Node.js shows in the runs API of a real `serve`: its status and
// score, its actions of each type, its LLM call's tokens, its prompt redacted, its tool
// calls as child spans of the run's span.

import assert from 'node:assert/strict';
import test from 'node:test';
import { AutomagikTelemetry } from '@automagik/telemetry';
import { clientOptions, getJson, startServer, waitFor, waitForTrace } from './helpers.mjs';

async function run(base, id) {
  return waitFor(
    async () => {
      const res = await fetch(`${base}/api/v1/agents/runs/${id}`);
      return res.status === 200 ? res.json() : undefined;
    },
    { what: `the run ${id}` },
  );
}

test('an agent run, its tool calls, decision, error, success and LLM call reach the runs API', async (t) => {
  const { base } = await startServer(t);
  const telemetry = new AutomagikTelemetry(clientOptions(t, base, { projectName: 'node-agents' }));
  t.after(() => telemetry.shutdown(5000));

  const agentRun = telemetry.agentRun('researcher', 'find the cheapest flight for jane@example.com');
  assert.match(agentRun.correlationId, /^[0-9a-f-]{36}$/, 'a new correlation id (a UUID)');
  assert.equal(agentRun.isOpen, true);
  agentRun.progress('planning', 10);
  agentRun.toolCall('search_flights', 'LIS->NYC').ok('3 results');
  agentRun.toolCall('book', { flight: 2 }).err(new Error('card declined'));
  agentRun.decision('flight 2', ['flight 1', 'flight 2', 'flight 3'], 0.8, 'cheapest direct');
  agentRun.error('payment provider timeout', 'timeout');
  agentRun.success('booked on the second attempt');
  agentRun
    .llmCall('openai', 'gpt-4o')
    .responseModel('gpt-4o-2024-08-06')
    .usage(1000, 200)
    .cache(400, 0)
    .reasoning(50)
    .inputMessages([{ role: 'user', parts: [{ type: 'text', content: 'draft it' }] }])
    .outputMessages([{ role: 'assistant', parts: [{ type: 'text', content: 'Dear ...' }] }])
    .ok('stop');
  const inner = agentRun.startSpan('rank results');
  inner.end();
  agentRun.complete(0.9);
  assert.equal(agentRun.isOpen, false, 'complete() ends the run');
  agentRun.fail('too late');

  const failedRun = telemetry.agentRun('researcher', 'nothing', {
    correlationId: 'given-correlation-id',
  });
  assert.equal(failedRun.correlationId, 'given-correlation-id');
  failedRun.fail(new Error('no results'));

  assert.equal(await telemetry.flush(10000), true);

  const body = await run(base, agentRun.correlationId);
  assert.equal(body.status, 'completed', 'a later fail() does not change a completed run');
  assert.equal(body.quality_score, 0.9);
  assert.equal(body.agent_name, 'researcher');
  assert.equal(body.service_name, 'node-agents');
  assert.equal(
    body.attributes['agent.prompt'],
    'find the cheapest flight for [REDACTED:email]',
    'the prompt passes the redactor',
  );
  const types = body.actions.map((a) => a.action_type).sort();
  assert.deepEqual(types, ['decision', 'error', 'success', 'tool_call', 'tool_call']);
  const book = body.actions.find((a) => a.name === 'book');
  assert.equal(book.is_error, true, 'the failed tool call is an error');
  const decision = body.actions.find((a) => a.action_type === 'decision');
  assert.equal(decision.name, 'flight 2');
  assert.equal(decision.attributes['agent.alternatives'][2], 'flight 3');
  assert.equal(body.totals.llm_calls, 1);
  assert.equal(body.totals.input_tokens, 1000);
  assert.equal(body.totals.cache_read_tokens, 400);
  assert.equal(body.totals.reasoning_tokens, 50);
  assert.equal(body.llm_calls[0].response_model, 'gpt-4o-2024-08-06');
  assert.equal(body.llm_calls[0].messages.output[0].parts[0].content, 'Dear ...');

  // The run's span, its two tool calls, its LLM call and the span started from the run.
  const spans = await waitForTrace(base, body.trace_id, 5);
  const root = spans.find((s) => s.name === 'invoke_agent researcher');
  assert.equal(root.parent_span_id, null);
  for (const name of ['execute_tool search_flights', 'execute_tool book', 'chat gpt-4o', 'rank results']) {
    const span = spans.find((s) => s.name === name);
    assert.ok(span, `the span ${name}`);
    assert.equal(span.parent_span_id, root.span_id, `${name} is a child of the run's span`);
  }

  const runs = await getJson(`${base}/api/v1/agents/runs?agent=researcher&status=failed`);
  assert.equal(runs.items.length, 1, 'one failed run');
  assert.equal(runs.items[0].correlation_id, 'given-correlation-id');
  assert.equal(runs.items[0].error, 'no results');
});

test('a disabled client gives runs that record nothing and never throw', async (t) => {
  const telemetry = new AutomagikTelemetry({ env: {}, homeDir: '/nonexistent', flushOnExit: false });
  const agentRun = telemetry.agentRun('planner', 'plan');
  assert.equal(agentRun.correlationId, '', 'no correlation id when disabled');
  assert.equal(agentRun.traceparent, undefined);
  agentRun.progress('planning', 10);
  agentRun.toolCall('search', 'x').ok('y');
  agentRun.llmCall('openai', 'gpt-4o').usage(1, 2).ok();
  agentRun.score('helpfulness', 0.5, 'ok');
  agentRun.complete(0.5);
  assert.equal(telemetry.stats().queued, 0);
});
