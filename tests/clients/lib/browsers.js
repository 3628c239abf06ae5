// One thin driver per browser engine, all with the same small interface, so that the browser
// checks (lib/browser-checks.js) are written once:
//
//   const browser = await launch('chromium' | 'firefox' | 'webkit');
//   const page = await browser.open(url);        // a fresh page, once `url` has loaded
//   await page.evaluate('expression');           // its value (a promise is awaited), as JSON
//   await page.waitFor('expression', 10_000);    // polls until the expression is truthy
//   await page.close(); await browser.close();
//
// Chromium also takes options: launch('chromium', { ignoreHTTPSErrors, recordResponses }), the
// latter for `page.responses()` (see launchChromium).
//
// Chromium: Debian's, through playwright-core (CDP). Firefox: Debian's firefox-esr, through
// puppeteer-core over WebDriver BiDi (Playwright only drives its own patched Firefox builds).
// WebKit: Debian's WebKitGTK, through lib/webkit_driver.py (python3-gi) under xvfb-run.
// Only JSON crosses: expressions are strings, so a page runs self-contained code only.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromiumPath, firefoxPath, webkitPython, xvfbRunPath } from './servers.js';

const launchTimeoutMs = 60_000; // a cold browser start on a loaded 2-core machine

/** `(${fn})(args...)` as an expression: calls the self-contained function `fn` in the page. */
export const call = (fn, ...args) => `(${fn})(${args.map((a) => JSON.stringify(a)).join(', ')})`;

// The `waitFor` every driver shares: polls `evaluate` (no engine-specific wait API needed).
function withWaitFor(page) {
  page.waitFor = async (expression, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await page.evaluate(`!!(${expression})`)) return;
      if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${expression}`);
      await delay(50);
    }
  };
  return page;
}

// Chromium's options (the other engines take none): `ignoreHTTPSErrors` accepts any certificate
// (a throwaway one); `recordResponses` gives each page `responses()`, every response as Chromium's
// network stack saw it ({url, protocol, connectionId}, from CDP `Network.responseReceived`),
// event streams included: resource timing lists a resource only once its body has ended, and an
// event stream's never does.
async function launchChromium({ ignoreHTTPSErrors = false, recordResponses = false } = {}) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: launchTimeoutMs,
  });
  return {
    version: browser.version(),
    async open(url) {
      const page = await browser.newPage({ ignoreHTTPSErrors });
      const responses = [];
      if (recordResponses) {
        const cdp = await page.context().newCDPSession(page);
        cdp.on('Network.responseReceived', ({ response: r }) =>
          responses.push({ url: r.url, protocol: r.protocol, connectionId: r.connectionId }));
        await cdp.send('Network.enable');
      }
      await page.goto(url);
      return withWaitFor({ evaluate: (expression) => page.evaluate(expression), close: () => page.close(),
        responses: () => [...responses] });
    },
    close: () => browser.close(),
  };
}

async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath(),
    headless: true,
    protocolTimeout: 60_000,
    timeout: launchTimeoutMs,
    // Puppeteer's own prefs already switch off updates, telemetry and first-run pages.
    extraPrefsFirefox: { 'network.http.http3.enable': false },
  });
  return {
    version: await browser.version(),
    async open(url) {
      const page = await browser.newPage();
      await page.goto(url);
      return withWaitFor({ evaluate: (expression) => page.evaluate(expression), close: () => page.close() });
    },
    close: () => browser.close(),
  };
}

async function launchWebkit() {
  const script = fileURLToPath(new URL('./webkit_driver.py', import.meta.url));
  // Its own process group: a driver that does not end on request is killed with its Xvfb.
  const child = spawn(xvfbRunPath(), ['-a', webkitPython(), script], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const exited = once(child, 'exit').catch(() => {}); // a failed spawn: 'error', see fail()
  const pending = new Map();
  let next = 0;
  let failure = null;
  const fail = (error) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(failure);
    pending.clear();
  };
  child.once('exit', (code, signal) => fail(new Error(`the WebKit driver exited (${code ?? signal})`)));
  child.once('error', fail);
  child.stdin.on('error', fail);
  createInterface({ input: child.stdout }).on('line', (line) => {
    const answer = JSON.parse(line);
    const waiting = pending.get(answer.id);
    if (!waiting) return;
    pending.delete(answer.id);
    if (answer.error !== undefined) waiting.reject(new Error(`WebKit: ${answer.error}`));
    else waiting.resolve(answer);
  });
  const request = (command) => {
    if (failure) return Promise.reject(failure);
    const id = ++next;
    const answered = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    child.stdin.write(`${JSON.stringify({ id, ...command })}\n`);
    return answered;
  };
  const close = async () => {
    child.stdin.end();
    const ended = await Promise.race([exited.then(() => true), delay(5_000, false, { ref: false })]);
    if (!ended && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
  };
  let version;
  try {
    version = await Promise.race([
      request({ op: 'version' }).then((a) => a.value),
      delay(launchTimeoutMs, undefined, { ref: false }).then(() => { throw new Error(`the WebKit driver did not start within ${launchTimeoutMs} ms`); }),
    ]);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    version,
    async open(url) {
      const { page } = await request({ op: 'open', url });
      return withWaitFor({
        evaluate: async (expression) => (await request({ op: 'eval', page, expression })).value,
        close: () => request({ op: 'close', page }),
      });
    },
    close,
  };
}

const drivers = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebkit };

/**
 * Starts the browser `engine` ('chromium', 'firefox' or 'webkit'): {version, open(url), close()};
 * `options` are Chromium's (see launchChromium).
 */
export async function launch(engine, options = {}) {
  const driver = drivers[engine];
  if (!driver) throw new Error(`no driver for the browser engine ${engine}`);
  if (engine !== 'chromium' && Object.keys(options).length > 0) throw new Error(`${engine} takes no launch options`);
  return driver(options);
}
