// The browser checks, the same for every engine (lib/browsers.js drives it): the demo page, the
// cases table, reconnection with Last-Event-ID after the server ends a stream, 204 as "stop",
// and cross-origin EventSource allowed and refused by CORS. Each <engine>.test.js calls
// browserChecks() once, naming the engine's known quirks explicitly: a quirk changes what a case
// must dispatch, it never skips the case.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { call, launch } from './browsers.js';
import { cases, dispatched, typesOf } from './cases.js';
import { receive } from './receive.js';
import { startClientServer, startDemo } from './servers.js';

const retryMs = 300; // the channel's `retry:` (see --retry-ms)

/**
 * Registers the checks for `engine` ('chromium', 'firefox', 'webkit').
 * `quirks.cases`: {caseName: (spec) => expected}, what this engine dispatches instead of the
 * WHATWG result `spec` for that case (it must differ from `spec`, so a fixed quirk shows up).
 */
export function browserChecks(engine, { quirks = {} } = {}) {
  const caseQuirks = quirks.cases ?? {};
  for (const name of Object.keys(caseQuirks))
    if (!cases.some((c) => c.name === name)) throw new Error(`${engine}: quirk for an unknown case ${name}`);

  let browser, server;
  before(async () => {
    [browser, server] = await Promise.all([launch(engine), startClientServer(['--retry-ms', String(retryMs)])]);
    console.log(`browser: ${engine} ${browser.version}`);
  });
  after(async () => {
    await server?.stop();
    await browser?.close();
  });

  // Runs `fn(page)` in a fresh page opened at `url`.
  async function withPage(url, fn) {
    const page = await browser.open(url);
    try {
      return await fn(page);
    } finally {
      await page.close();
    }
  }

  test(`${engine}: the demo page shows the Welcome message and the myCustomEvent events`, { timeout: 30_000 }, async () => {
    const demo = await startDemo(100);
    try {
      const shown = await withPage(`${demo.url}/`, async (page) => {
        await page.waitFor("document.querySelectorAll('#events li.custom').length >= 3", 10_000);
        return page.evaluate(call(() => ({
          state: document.getElementById('state').textContent,
          items: [...document.querySelectorAll('#events li')].reverse().slice(0, 4).map((li) => `${li.className} ${li.textContent}`),
        })));
      });
      assert.deepEqual(shown, {
        state: 'open',
        items: [
          'message message: Welcome',
          'custom myCustomEvent #1: This is message number 1',
          'custom myCustomEvent #2: This is message number 2',
          'custom myCustomEvent #3: This is message number 3',
        ],
      });
    } finally {
      await demo.stop();
    }
  });

  describe(`${engine}: the cases table`, () => {
    let page; // one same-origin page runs every case, one EventSource at a time
    before(async () => {
      page = await browser.open(`${server.url}/blank`);
    });
    after(() => page?.close());
    for (const c of cases) {
      const quirk = caseQuirks[c.name];
      test(`${engine}: ${c.name}${quirk ? ' (a known quirk)' : ''}`, { timeout: 20_000 }, async () => {
        const got = await page.evaluate(`(${receive})(EventSource, ${JSON.stringify(server.tricky(c))}, ${JSON.stringify(typesOf(c))})`);
        const spec = dispatched(c);
        if (!quirk) return assert.deepEqual(got, spec);
        const expected = quirk(spec);
        assert.notDeepEqual(expected, spec, 'a quirk must change the expectation');
        assert.deepEqual(got, expected, `${engine}'s known quirk for ${c.name}`);
      });
    }
  });

  test(`${engine}: after the server ends a stream, the browser comes back after \`retry\` with Last-Event-ID and misses nothing`,
    { timeout: 30_000 }, async () => {
      const { ids, errors } = await withPage(`${server.url}/blank`, async (page) => {
        await page.evaluate(call(() => {
          window.ids = [];
          window.errors = [];
          window.source = new EventSource('/channel');
          window.source.onmessage = (e) => window.ids.push(Number(e.lastEventId));
          window.source.onerror = () => window.errors.push({ seen: window.ids.length, state: window.source.readyState });
        }));
        await page.waitFor('window.ids.length >= 5', 10_000);
        assert.equal(await (await fetch(`${server.url}/kill`)).text(), '1\n');
        // Well past the reconnect: 20 more events (20 ms apart) after the error.
        await page.waitFor('window.errors.length > 0 && window.ids.length >= window.errors[0].seen + 20', 10_000);
        return page.evaluate(call(() => {
          window.source.close();
          return { ids: window.ids, errors: window.errors };
        }));
      });
      const log = await server.log();
      assert.equal(errors.length, 1);
      assert.equal(errors[0].state, 0, 'the browser is reconnecting (CONNECTING), not closed');
      assert.equal(log.channel.length, 2, 'one stream, then one reconnect');
      assert.equal(log.channel[0].last_event_id, '');
      assert.equal(log.channel[1].last_event_id, String(ids[errors[0].seen - 1]), 'Last-Event-ID is the last id received');
      const waited = log.channel[1].at_ms - log.kills[0];
      assert.ok(waited >= retryMs * 0.9 && waited < retryMs + 2000, `reconnected ${waited} ms after the kill, retry is ${retryMs} ms`);
      assert.ok(ids.every((id, i) => i === 0 || id === ids[i - 1] + 1), `ids not contiguous: ${ids.join(',')}`);
    });

  test(`${engine}: 204 stops the browser from reconnecting`, { timeout: 20_000 }, async () => {
    const seen = await withPage(`${server.url}/blank`, (page) =>
      page.evaluate(call((key) => new Promise((resolve) => {
        // The first answer is a stream with `retry: 100` that the server ends; the reconnect gets 204.
        const source = new EventSource(`/stop?key=${key}`);
        const result = { messages: [], states: [] };
        source.onmessage = (e) => result.messages.push(e.data);
        source.onerror = () => {
          result.states.push(source.readyState);
          if (source.readyState === EventSource.CLOSED) resolve(result);
        };
      }), engine)));
    assert.deepEqual(seen, { messages: ['once'], states: [0, 2] });
    // No event can announce a reconnect that must not happen: give it ten times the retry delay.
    await delay(1000);
    assert.equal((await server.log()).stop[engine], 2);
  });

  test(`${engine}: a page from another origin gets events when CORS allows it, and an error when not`, { timeout: 20_000 }, async () => {
    const first = (page, url) =>
      page.evaluate(call((u) => new Promise((resolve) => {
        const source = new EventSource(u);
        source.onmessage = (e) => {
          source.close();
          resolve({ data: e.data, origin: e.origin, lastEventId: e.lastEventId });
        };
        source.onerror = () => {
          resolve({ error: true, state: source.readyState });
          source.close();
        };
      }), url));
    const [allowed, refused] = await withPage(`${server.otherOrigin}/`, async (page) => [
      await first(page, `${server.url}/cors-allowed`),
      await first(page, `${server.url}/cors-refused`),
    ]);
    assert.deepEqual(allowed, { data: 'granted', origin: server.url, lastEventId: '1' });
    assert.deepEqual(refused, { error: true, state: 2 });
    assert.equal((await server.log()).cors_refused, 1, 'the refused request reached the server: the browser refused the answer');
  });
}
