// The OpenAI-compatible example (examples/llm_stream.cpp) through the official `openai` SDK and
// `@microsoft/fetch-event-source`: a POST answered by a stream of chat.completion.chunk events
// that arrive one by one and end with [DONE]; a client that aborts stops its generator; wrong
// keys and bad bodies get OpenAI's error JSON. The fake model echoes the last user message, one
// word per token, one token every `tokenMs`.
import { fetchEventSource } from '@microsoft/fetch-event-source';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { AuthenticationError, BadRequestError } from 'openai';
import { startLlmStream } from './lib/servers.js';

const apiKey = 'sk-llm-test';
const tokenMs = 20;
let server;
let client;
before(async () => {
  server = await startLlmStream(['--api-key', apiKey, '--token-ms', String(tokenMs)]);
  client = new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
});
after(() => server?.stop());

const words = (n) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
const ask = (text) => ({ model: 'echo', messages: [{ role: 'system', content: 'Echo.' }, { role: 'user', content: text }] });

async function stats(url = server.url) {
  const r = await fetch(`${url}/stats`);
  assert.equal(r.status, 200);
  return r.json();
}

// The server's record of generator `id` once `done(run)` holds (polled for at most 5 s).
async function runOnce(id, done) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const run = (await stats()).runs.find((r) => r.id === id);
    if (run && done(run)) return run;
    if (Date.now() > deadline) assert.fail(`generator ${id} never got there: ${JSON.stringify(run)}`);
    await sleep(20);
  }
}
const ended = (run) => run.state !== 'running';

test('openai: a stream arrives chunk by chunk, in OpenAI\'s shape, and ends', { timeout: 20_000 }, async () => {
  const n = 30;
  const stream = await client.chat.completions.create({ ...ask(words(n)), stream: true });
  const got = [];
  let whileReading;
  for await (const chunk of stream) {
    got.push({ chunk, at: performance.now() });
    if (got.length === 2) whileReading = (await stats()).runs.find((r) => r.id === chunk.id);
  }

  const chunks = got.map((g) => g.chunk);
  assert.equal(chunks.length, n + 2); // the role, one per word, the finish
  const { id, created } = chunks[0];
  assert.match(id, /^chatcmpl-/);
  for (const c of chunks) {
    assert.deepEqual({ id: c.id, object: c.object, created: c.created, model: c.model, choices: c.choices.length },
      { id, object: 'chat.completion.chunk', created, model: 'echo', choices: 1 });
    assert.equal(c.choices[0].index, 0);
  }
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  assert.deepEqual(chunks.at(-1).choices[0], { index: 0, delta: {}, finish_reason: 'stop' });
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), words(n));

  // One by one: once the first word was in, the generator was still at work, short of its end,
  // and the words kept coming over (most of) the n × tokenMs it takes to make them.
  assert.equal(whileReading?.state, 'running', JSON.stringify(whileReading));
  assert.ok(whileReading.tokens < n, JSON.stringify(whileReading));
  const spread = got.at(-1).at - got[1].at;
  assert.ok(spread >= (n - 1) * tokenMs * 0.5, `all words within ${spread} ms`);

  assert.deepEqual(await runOnce(id, ended), { id, tokens: n, of: n, state: 'finished' });
});

test('openai: stream: false answers one chat.completion with the whole content', async () => {
  const answer = await client.chat.completions.create({ ...ask('Hello there, streaming world'), stream: false });
  assert.equal(answer.object, 'chat.completion');
  assert.equal(answer.model, 'echo');
  assert.match(answer.id, /^chatcmpl-/);
  assert.equal(answer.choices.length, 1);
  assert.deepEqual(answer.choices[0], {
    index: 0,
    message: { role: 'assistant', content: 'Hello there, streaming world' },
    finish_reason: 'stop',
  });
});

test('openai: a wrong API key is an AuthenticationError (401, invalid_api_key)', async () => {
  const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${server.url}/v1`, maxRetries: 0 });
  for (const stream of [true, false]) {
    await assert.rejects(wrong.chat.completions.create({ ...ask('hi'), stream }), (e) => {
      assert.ok(e instanceof AuthenticationError, String(e));
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
  }
  // No Authorization header at all: the same 401 JSON.
  const r = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...ask('hi'), stream: true }),
  });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, 'invalid_api_key');
});

test('openai: aborting a stream stops its generator at once', { timeout: 20_000 }, async () => {
  const n = 1000; // 20 s of tokens
  const earlier = await stats();
  const controller = new AbortController();
  const stream = await client.chat.completions.create({ ...ask(words(n)), stream: true }, { signal: controller.signal });
  let id;
  let read = 0;
  for await (const chunk of stream) {
    id = chunk.id;
    if (++read === 4) { // the role and 3 words
      controller.abort();
      break;
    }
  }
  const run = await runOnce(id, ended);
  assert.equal(run.state, 'cancelled', JSON.stringify(run));
  assert.equal(run.of, n);
  assert.ok(run.tokens >= 3 && run.tokens < 100, `stopped after ${run.tokens} of ${n} tokens`);
  const now = await stats();
  assert.equal(now.cancelled, earlier.cancelled + 1);
  assert.equal(now.started, earlier.started + 1);
});

test('fetch-event-source: a POST with Authorization and a JSON body gets the chunks, then [DONE]', { timeout: 20_000 }, async () => {
  // A browser library: it calls window.setTimeout/clearTimeout and document.(add|remove)EventListener.
  const shimmed = globalThis.window === undefined;
  if (shimmed) {
    globalThis.window = globalThis;
    globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };
  }
  const data = [];
  let head;
  try {
    await fetchEventSource(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...ask('one two three'), stream: true }),
      openWhenHidden: true,
      async onopen(response) {
        head = { status: response.status, type: response.headers.get('content-type') };
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      },
      onmessage(m) {
        data.push(m.data);
      },
      onerror(e) {
        throw e; // no retry
      },
    });
  } finally {
    if (shimmed) {
      delete globalThis.window;
      delete globalThis.document;
    }
  }
  assert.deepEqual(head, { status: 200, type: 'text/event-stream; charset=utf-8' });
  assert.equal(data.at(-1), '[DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
  assert.equal(chunks.length, 3 + 2);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'one two three');
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
});

test('a body that is not JSON or lacks messages gets 400 in OpenAI\'s error shape', async () => {
  for (const body of ['not json', '', '{"model": "echo", "stream": true}', '{"messages": "hi"}', '[1, 2]']) {
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body,
    });
    assert.equal(r.status, 400, body);
    assert.equal(r.headers.get('content-type'), 'application/json');
    const { error } = await r.json();
    assert.equal(error.type, 'invalid_request_error', body);
    assert.equal(typeof error.message, 'string');
  }
  // Through the SDK: a BadRequestError.
  await assert.rejects(client.chat.completions.create({ model: 'echo', stream: true }), BadRequestError);
  // Only POST reaches the route.
  const get = await fetch(`${server.url}/v1/chat/completions`, { headers: { Authorization: `Bearer ${apiKey}` } });
  assert.equal(get.status, 405);
  assert.match(get.headers.get('allow') ?? '', /POST/);
});

test('SIGTERM mid-stream: the stream ends, the generator stops and the server exits', { timeout: 20_000 }, async () => {
  const other = await startLlmStream(['--api-key', apiKey, '--token-ms', String(tokenMs)]);
  const otherClient = new OpenAI({ apiKey, baseURL: `${other.url}/v1`, maxRetries: 0 });
  const stream = await otherClient.chat.completions.create({ ...ask(words(1000)), stream: true });
  let read = 0;
  let stopped;
  let took;
  for await (const _ of stream) {
    if (++read === 3) {
      const t0 = performance.now();
      stopped = other.stop().then(() => { took = performance.now() - t0; });
    }
  }
  await stopped;
  assert.ok(read < 100, `read ${read} chunks after SIGTERM`);
  assert.ok(took < 4_000, `exited ${took} ms after SIGTERM`);
});
