// The cluster chat (examples/cluster.cpp: sse::redis_channel) on real processes: a Debian
// redis-server, sse-cluster nodes sharing it, Debian's nginx balancing over them (configured
// from examples/cluster-nginx.conf.in, as examples/run-cluster.sh does), and real clients: npm
// `eventsource`, a node:http + eventsource-parser reader that picks its own node and
// Last-Event-ID, and headless Chromium. A message POSTed to any node reaches the clients of
// every node in the log's order; a client that resumes on another node (by choice, after a
// kill -9, through nginx) gets every event after its Last-Event-ID exactly once.
import { EventSource } from 'eventsource';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startNginx } from './lib/nginx.js';
import { startRedis } from './lib/redis.js';
import { chromiumPath, nginxPath, startClusterNode } from './lib/servers.js';
import { EventLog, openStream } from './lib/stream.js';

// ---- helpers

// An event id is a position in the Redis log: EPOCH (16 lowercase hex digits):MS-SEQ.
function parseId(id) {
  const m = /^([0-9a-f]{16}):(\d+)-(\d+)$/.exec(id);
  assert.ok(m, `event id ${JSON.stringify(id)} is not EPOCH:MS-SEQ`);
  return { epoch: m[1], ms: BigInt(m[2]), seq: BigInt(m[3]) };
}

function assertIncreasing(ids, who) {
  for (let i = 1; i < ids.length; ++i) {
    const a = parseId(ids[i - 1]);
    const b = parseId(ids[i]);
    assert.equal(b.epoch, a.epoch, `${who}: the epoch changed at ${i}: ${ids[i - 1]} then ${ids[i]}`);
    assert.ok(b.ms > a.ms || (b.ms === a.ms && b.seq > a.seq), `${who}: ids not increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
  }
  if (ids.length === 1) parseId(ids[0]);
}

// The sequence number of message text `m<i>`.
function seqOf(text) {
  const m = /^m(\d+)$/.exec(text);
  assert.ok(m, `unexpected message ${JSON.stringify(text)}`);
  return Number(m[1]);
}

// Every number 0..n-1 exactly once (in whatever order).
function assertEachOnce(seqs, n, who) {
  const counts = new Map();
  for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
  const missing = [];
  for (let i = 0; i < n; ++i) if (!counts.has(i)) missing.push(i);
  const twice = [...counts].filter(([, c]) => c > 1).map(([s]) => s);
  assert.deepEqual({ missing, twice, count: seqs.length }, { missing: [], twice: [], count: n }, `${who}: not every message exactly once`);
}

async function post(node, text) {
  const r = await fetch(`${node.url}/send`, { method: 'POST', body: text, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  assert.equal(r.status, 204, `POST /send to ${node.url}`);
}

// Messages m<from>..m<to-1> at `perSecond`, the i-th to `target(i)`: paced by the clock, not
// by the answers (which are awaited at the end). Resolves with the milliseconds it took.
async function publishPaced(from, to, perSecond, target) {
  const start = performance.now();
  const answers = [];
  for (let i = from; i < to; ++i) {
    const wait = start + ((i - from) * 1000) / perSecond - performance.now();
    if (wait > 0) await delay(wait);
    answers.push(post(target(i), `m${i}`));
  }
  await Promise.all(answers);
  return performance.now() - start;
}

// `promise`, or a failure saying `what` after `ms`.
async function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function stats(node) {
  return (await fetch(`${node.url}/stats`, { signal: AbortSignal.timeout(5000) })).json();
}

// Redis and `n` nodes on it for `fn(nodes, redis)`; whatever `fn` registers with `defer` runs
// first (streams, browsers), then the nodes and Redis are stopped, also when `fn` fails.
async function withCluster(n, fn) {
  const cleanups = [];
  const defer = (f) => cleanups.push(f);
  const redis = await startRedis();
  const nodes = [];
  try {
    for (let i = 0; i < n; ++i) nodes.push(await startClusterNode({ redisPort: redis.port }));
    return await fn(nodes, defer, redis);
  } finally {
    for (const f of cleanups.reverse()) await f();
    for (const node of nodes) await node.stop();
    await redis.stop();
  }
}

// A reader of `url`'s /events (see lib/stream.js) recording its chat events into `log`.
async function reader(node, log, { lastEventId = '', onEvent = () => {} } = {}) {
  return openStream(`${node.url}/events`, {
    lastEventId,
    onEvent: (e) => {
      log.push({ ...e, node: node.port });
      onEvent(e);
    },
  });
}

// Whether `events` has 50 events after the one with `id`.
function fiftyAfter(events, id) {
  const i = events.findLastIndex((e) => e.id === id);
  return i >= 0 && events.length - 1 - i >= 50;
}

const chats = (log) => log.events.filter((e) => e.type === 'chat');
const others = (log) => log.events.filter((e) => e.type !== 'chat');

// ---- the tests

test('cluster: 50 messages POSTed alternately to two nodes reach an EventSource on each, all of them, in the same order',
  { timeout: 60_000 }, async () => {
    await withCluster(2, async ([a, b], defer) => {
      const clients = [a, b].map((node) => {
        const log = new EventLog();
        const source = new EventSource(`${node.url}/events`);
        defer(() => source.close());
        source.addEventListener('chat', (e) => log.push({ data: e.data, id: e.lastEventId }));
        source.addEventListener('missed', (e) => log.push({ missed: e.data }));
        const opened = new Promise((resolve, reject) => {
          source.onopen = resolve;
          source.onerror = (e) => reject(new Error(`EventSource on ${node.url}: ${e.message ?? e.type}`));
        });
        return { log, opened };
      });
      await Promise.all(clients.map((c) => c.opened));

      const n = 50;
      for (let i = 0; i < n; ++i) await post(i % 2 ? b : a, `m${i}`);
      await Promise.all(clients.map((c, i) => c.log.until((ev) => ev.length >= n, 10_000, `client ${i} gets ${n} messages`)));
      // Then one more, which the log holds after all of them: anything extra would come before it.
      await post(a, 'end');
      await Promise.all(clients.map((c, i) => c.log.until((ev) => ev.some((e) => e.data === 'end'), 10_000, `client ${i} gets "end"`)));

      const [onA, onB] = clients.map((c) => c.log.events);
      assert.equal(onA.at(-1).data, 'end');
      assert.deepEqual(onA.map((e) => e.data), onB.map((e) => e.data), 'both clients: the same messages in the same order');
      assert.deepEqual(onA.map((e) => e.id), onB.map((e) => e.id), 'both clients: the same ids');
      const messages = onA.slice(0, -1);
      assertEachOnce(messages.map((e) => seqOf(e.data)), n, 'the clients');
      assertIncreasing(onA.map((e) => e.id), 'the clients');
      const [sa, sb] = await Promise.all([stats(a), stats(b)]);
      assert.deepEqual([sa.published, sb.published, sa.delivered, sb.delivered], [n / 2 + 1, n / 2, n + 1, n + 1]);
      assert.equal(sa.publish_failed + sb.publish_failed + sa.lost + sb.lost, 0);
    });
  });

test('cluster: a client that leaves node A and resumes on node B with Last-Event-ID, under 500 messages/s, misses nothing and repeats nothing',
  { timeout: 60_000 }, async (t) => {
    await withCluster(2, async ([a, b], defer) => {
      const n = 1200;
      const perSecond = 500;
      const reference = new EventLog(); // on B from the start
      const resumed = new EventLog(); // on A for 200 messages, then (50 later) on B from the last id it had
      const ref = await reader(b, reference);
      defer(() => ref.close());
      let left = null; // the id after which it left A
      let onA = null;
      let onB = null;
      let switched;
      const resumedOnB = new Promise((resolve, reject) => (switched = { resolve, reject }));
      onA = await reader(a, resumed, {
        onEvent: () => {
          if (left !== null || resumed.events.length < 200) return;
          left = resumed.events.at(-1).id;
          onA.close(); // nothing after `left` is dispatched from A
          // Away while 50 more messages go into the log (the reference sees them), then on B.
          reference.until((ev) => fiftyAfter(ev, left), 10_000, 'the reference gets 50 more')
            .then(() => reader(b, resumed, { lastEventId: left }))
            .then((s) => {
              onB = s;
              switched.resolve();
            }, switched.reject);
        },
      });
      defer(() => onA.close());
      defer(() => onB?.close());
      const took = await publishPaced(0, n, perSecond, (i) => (i % 2 ? b : a));
      t.diagnostic(`published ${n} messages in ${Math.round(took)} ms (${Math.round((n * 1000) / took)}/s)`);
      await within(resumedOnB, 10_000, 'the client resumes on B');
      await reference.until((ev) => ev.length >= n, 15_000, `the reference gets ${n} messages`);
      const last = reference.events.at(-1).id;
      await resumed.until((ev) => ev.length && ev.at(-1).id === last, 15_000, 'the resumed client reaches the last message');

      assert.deepEqual(others(reference), [], 'the reference got only chat events');
      assert.deepEqual(others(resumed), [], 'the resumed client got only chat events (no `missed`)');
      assertEachOnce(reference.events.map((e) => seqOf(e.data)), n, 'the reference');
      assertIncreasing(reference.events.map((e) => e.id), 'the reference');
      const partA = resumed.events.filter((e) => e.node === a.port);
      const partB = resumed.events.filter((e) => e.node === b.port);
      assert.equal(partA.length, 200, 'exactly the 200 messages before it left A');
      assert.equal(partA.at(-1).id, left);
      assert.ok(partB.length > 0, 'it got messages on B');
      assert.deepEqual(resumed.events.map((e) => e.node), [...partA, ...partB].map((e) => e.node), 'A first, then B');
      const seqs = resumed.events.map((e) => seqOf(e.data));
      assertEachOnce(seqs, n, 'the resumed client (A part + B part)');
      assert.deepEqual(seqs, reference.events.map((e) => seqOf(e.data)), 'the resumed client saw what the reference saw, in its order');
      assert.deepEqual(resumed.events.map((e) => e.id), reference.events.map((e) => e.id));
    });
  });

test('cluster: after kill -9 of its node, a client reconnects to the other node with its last id and misses nothing while publishing goes on',
  { timeout: 60_000 }, async (t) => {
    await withCluster(2, async ([a, b], defer) => {
      const before = 100; // alternately to A and B, before the kill
      const n = 800; // the rest to B, at 500/s; A is killed after 100 of them
      const reference = new EventLog();
      const ref = await reader(b, reference);
      defer(() => ref.close());

      // A reconnecting reader: on A; when its stream ends, on B with the last id it got.
      const follower = new EventLog();
      const connections = [];
      let current = null;
      let killed = null;
      let stopped = false;
      defer(() => {
        stopped = true;
        current?.close();
      });
      const connect = async (node, lastEventId) => {
        connections.push({ node: node.port, lastEventId });
        current = await reader(node, follower, {
          lastEventId,
          onEvent: () => {
            if (!killed && chats(follower).length === before + 100) killed = a.kill9();
          },
        });
        return current.ended;
      };
      const following = (async () => {
        const why = await connect(a, '');
        if (stopped) return;
        assert.equal(why, 'ended');
        // Back once 50 more messages went into the log (as a client waits its `retry`).
        const lastId = follower.events.at(-1)?.id ?? '';
        await reference.until((ev) => fiftyAfter(ev, lastId), 10_000, 'the reference gets 50 more');
        await connect(b, lastId);
      })();
      let followFailed = null;
      following.catch((e) => (followFailed = e));

      for (let i = 0; i < before; ++i) await post(i % 2 ? b : a, `m${i}`);
      // Every one of them is in the log (the reference has it) before A can be killed.
      await reference.until((ev) => ev.length >= before, 10_000, `the reference gets the first ${before}`);
      const took = await publishPaced(before, n, 500, () => b);
      t.diagnostic(`published ${n - before} messages to B in ${Math.round(took)} ms`);
      assert.ok(killed, 'A was killed while the messages went on');
      await killed;
      await reference.until((ev) => ev.length >= n, 15_000, `the reference gets ${n} messages`);
      const last = reference.events.at(-1).id;
      await follower.until((ev) => ev.length && ev.at(-1).id === last, 15_000, 'the follower reaches the last message')
        .catch((e) => {
          throw followFailed ?? e;
        });

      assert.equal(connections.length, 2, 'one reconnect');
      const onA = follower.events.filter((e) => e.node === a.port);
      assert.deepEqual(connections, [{ node: a.port, lastEventId: '' }, { node: b.port, lastEventId: onA.at(-1).id }]);
      assert.ok(onA.length >= before + 100, `${onA.length} messages on A before the kill`);
      assert.ok(onA.length < n, 'the kill came while publishing went on');
      assert.deepEqual(others(follower), [], 'no `missed` event');
      const seqs = follower.events.map((e) => seqOf(e.data));
      assertEachOnce(seqs, n, 'the follower');
      assertEachOnce(reference.events.map((e) => seqOf(e.data)), n, 'the reference');
      assert.deepEqual(follower.events.map((e) => e.id), reference.events.map((e) => e.id), 'the follower saw the log as the reference did');
      assertIncreasing(follower.events.map((e) => e.id), 'the follower');
      const sb = await stats(b);
      assert.equal(sb.lost + sb.publish_failed, 0);
    });
  });

test('cluster: Chromium through nginx shows every message POSTed to either node, in order, also after its node is killed',
  { timeout: 90_000 }, async () => {
    await withCluster(2, async (nodes, defer) => {
      const nginx = await startNginx(nodes.map((node) => node.port));
      defer(() => nginx.stop());
      const browser = await chromium.launch({
        executablePath: chromiumPath(),
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
        timeout: 30_000,
      });
      defer(() => browser.close());
      const page = await browser.newPage();
      await page.goto(`${nginx.url}/`);
      await page.waitForFunction(() => document.getElementById('state').textContent === 'connected', null, { timeout: 10_000 });
      await page.evaluate(() => {
        window.errors = 0;
        window.missed = [];
        source.addEventListener('error', () => ++window.errors);
        source.addEventListener('missed', (e) => window.missed.push(e.data));
      });
      // The node nginx gave the page's EventSource to: the one with a subscriber.
      const counts = await Promise.all(nodes.map(async (node) => (await stats(node)).subscribers));
      assert.deepEqual([...counts].sort(), [0, 1], `subscribers per node: ${counts}`);
      const victim = nodes[counts.indexOf(1)];
      const survivor = nodes[counts.indexOf(0)];

      const shown = (count) => page.waitForFunction((c) => document.querySelectorAll('#log p').length >= c, count, { timeout: 20_000 });
      const first = 20;
      for (let i = 0; i < first; ++i) await post(nodes[i % 2], `m${i}`);
      await shown(first);
      // Kill its node; the browser comes back (after `retry`, 1 s) through nginx, which fails
      // over to the live node, with Last-Event-ID: meanwhile the messages go on, to that node.
      await victim.kill9();
      const n = 80;
      await publishPaced(first, n, 40, () => survivor);
      await shown(n);
      await post(survivor, 'end');
      await page.waitForFunction(() => [...document.querySelectorAll('#log p')].some((p) => p.textContent === 'end'), null,
        { timeout: 10_000 });
      const got = await page.evaluate(() => ({
        log: [...document.querySelectorAll('#log p')].map((p) => ({ data: p.textContent, id: p.dataset.id })),
        errors: window.errors,
        missed: window.missed,
        state: document.getElementById('state').textContent,
      }));
      assert.equal(got.log.at(-1).data, 'end');
      assertEachOnce(got.log.slice(0, -1).map((e) => seqOf(e.data)), n, 'the page');
      assertIncreasing(got.log.map((e) => e.id), 'the page');
      assert.deepEqual(got.missed, []);
      assert.ok(got.errors >= 1, 'the page lost its stream');
      assert.equal(got.state, 'connected');
      assert.equal((await stats(survivor)).subscribers, 1, 'the page is back, on the live node');
    });
  });

// Ports nothing listens on now, all different.
async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; ++i) {
    const s = createServer().listen(0, '127.0.0.1');
    await once(s, 'listening');
    servers.push(s);
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

test('cluster: examples/run-cluster.sh --check starts Redis, two nodes and nginx, checks them, and stops them all',
  { timeout: 60_000 }, async () => {
    const script = fileURLToPath(new URL('../../examples/run-cluster.sh', import.meta.url));
    const [balancer, nodeA, nodeB] = await freePorts(3);
    const child = spawn('bash', [script, '--check'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SSE_NGINX: nginxPath(),
        BALANCER_PORT: String(balancer),
        NODE_A_PORT: String(nodeA),
        NODE_B_PORT: String(nodeB),
      },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000); // its trap stops what it started
    try {
      const [code] = await exited;
      assert.equal(code, 0, out);
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    }
    assert.match(out, /run-cluster: check passed/);
    assert.match(out, new RegExp(`http://localhost:${balancer}/ .*nginx`));
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 4, `redis, nginx and two nodes: ${out}`);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} is gone`);
    const dir = /logs in (\S+)/.exec(out)?.[1];
    assert.ok(dir && !existsSync(dir), `its directory ${dir} is removed`);
  });
