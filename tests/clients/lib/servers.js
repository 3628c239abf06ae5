// Starts the programs the client tests talk to, each on 127.0.0.1 with a port it picks, and
// stops them. Paths come from the environment CTest sets (see CMakeLists.txt).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through ctest or tests/clients/run.sh`);
  return value;
}

export const chromiumPath = () => required('SSE_CHROMIUM');
export const firefoxPath = () => required('SSE_FIREFOX');
/** The python3 with python3-gi and WebKitGTK's typelib (Debian's, not a pyenv or venv one). */
export const webkitPython = () => required('SSE_WEBKIT_PYTHON');
export const xvfbRunPath = () => required('SSE_XVFB_RUN');
export const curlPath = () => required('SSE_CURL');

// Spawns `argv` and resolves with the process and its first `lines` lines of stdout (within 10 s).
async function start(argv, lines) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const seen = [];
  const reader = createInterface({ input: child.stdout });
  const ready = new Promise((resolve, reject) => {
    reader.on('line', (line) => {
      seen.push(line);
      if (seen.length === lines) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${argv[0]} exited (${code}) before it was ready`)));
    setTimeout(() => reject(new Error(`${argv[0]} not ready within 10 s`)), 10_000).unref();
  });
  try {
    await ready;
  } catch (e) {
    child.kill();
    throw e;
  }
  const end = async (signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  return {
    lines: seen,
    pid: child.pid,
    /** Ends the program (SIGTERM: a graceful stop) and waits for it. */
    stop: () => end('SIGTERM'),
    /** Kills the program (SIGKILL: no goodbye to anyone) and waits for it. */
    kill9: () => end('SIGKILL'),
  };
}

/** The test server (client_server.cpp): `url` is its main origin, `otherOrigin` the second. */
export async function startClientServer(args = []) {
  const cases = fileURLToPath(new URL('../cases.json', import.meta.url));
  const p = await start([required('SSE_CLIENT_SERVER'), '--cases', cases, ...args], 2);
  return {
    url: `http://127.0.0.1:${p.lines[0]}`,
    otherOrigin: `http://127.0.0.1:${p.lines[1]}`,
    stop: p.stop,
    /** The URL of case `c` of the table. */
    tricky: (c) => `http://127.0.0.1:${p.lines[0]}/tricky?case=${encodeURIComponent(c.name)}`,
    /** The server's record of the requests it saw (see client_server.cpp). */
    async log() {
      return (await fetch(`http://127.0.0.1:${p.lines[0]}/log`)).json();
    },
  };
}

/** The real demo (examples/demo.cpp), sending an event every `intervalMs`. */
export async function startDemo(intervalMs) {
  const p = await start([required('SSE_DEMO'), '--port', '0', '--interval-ms', String(intervalMs)], 1);
  const port = /localhost:(\d+)\//.exec(p.lines[0])?.[1];
  if (!port) {
    await p.stop();
    throw new Error(`unexpected first line from sse-demo: ${p.lines[0]}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop: p.stop };
}

export const opensslPath = () => required('SSE_OPENSSL');

/**
 * The secure dashboard (examples/secure_dashboard.cpp) over HTTPS with `cert`/`key`, publishing
 * its metrics every `intervalMs`: `url` is https://localhost:PORT (the name the certificate has).
 */
export async function startSecureDashboard({ cert, key, token, intervalMs }) {
  const p = await start([required('SSE_SECURE_DASHBOARD'), '--cert', cert, '--key', key, '--token', token,
    '--port', '0', '--address', '127.0.0.1', '--interval-ms', String(intervalMs)], 1);
  const port = /https:\/\/localhost:(\d+)\//.exec(p.lines[0])?.[1];
  if (!port) {
    await p.stop();
    throw new Error(`unexpected first line from sse-secure-dashboard: ${p.lines[0]}`);
  }
  return { url: `https://localhost:${port}`, stop: p.stop };
}

export const nghttpPath = () => required('SSE_NGHTTP');

/**
 * The HTTP/2 dashboard (examples/http2_dashboard.cpp) on 127.0.0.1, ticking every `intervalMs`:
 * over HTTPS with `cert`/`key` (h2 by ALPN, else HTTP/1.1), without them cleartext (h2c with
 * prior knowledge, else HTTP/1.1); `http1` turns HTTP/2 off. `{url, port, pid, stop(), kill9()}`,
 * `url` the origin (https://127.0.0.1:PORT or http://...); the certificate also names localhost.
 */
export async function startHttp2Dashboard({ cert, key, http1 = false, intervalMs }) {
  if ((cert === undefined) !== (key === undefined)) throw new Error('startHttp2Dashboard: cert and key go together');
  const args = ['--port', '0', '--address', '127.0.0.1'];
  if (cert !== undefined) args.push('--cert', cert, '--key', key);
  if (intervalMs !== undefined) args.push('--interval-ms', String(intervalMs));
  if (http1) args.push('--http1');
  const p = await start([required('SSE_HTTP2_DASHBOARD'), ...args], 1);
  // The scheme it prints must be the one asked for: a cleartext start on a certificate is a failure.
  const [, scheme, port] = /^sse-http2-dashboard: (https?):\/\/127\.0\.0\.1:(\d+)\/\?n=50 /.exec(p.lines[0]) ?? [];
  if (!port || scheme !== (cert !== undefined ? 'https' : 'http')) {
    await p.stop();
    throw new Error(`unexpected first line from sse-http2-dashboard: ${p.lines[0]}`);
  }
  return { url: `${scheme}://127.0.0.1:${port}`, port: Number(port), pid: p.pid, stop: p.stop, kill9: p.kill9 };
}

/**
 * A chat node (examples/cluster.cpp) on 127.0.0.1 against the Redis on `redisPort`, once it
 * listens and reached Redis: `{url, port, pid, stop(), kill9()}`.
 */
export async function startClusterNode({ redisPort, port = 0, heartbeatMs }) {
  const args = ['--port', String(port), '--redis-host', '127.0.0.1', '--redis-port', String(redisPort)];
  if (heartbeatMs !== undefined) args.push('--heartbeat-ms', String(heartbeatMs));
  const p = await start([required('SSE_CLUSTER'), ...args], 2);
  const listening = /^sse-cluster: open http:\/\/localhost:(\d+)\/$/.exec(p.lines[0])?.[1];
  if (!listening || p.lines[1] !== 'redis up') {
    await p.stop();
    throw new Error(`unexpected first lines from sse-cluster: ${JSON.stringify(p.lines)}`);
  }
  return { url: `http://127.0.0.1:${listening}`, port: Number(listening), pid: p.pid, stop: p.stop, kill9: p.kill9 };
}

export const nginxPath = () => required('SSE_NGINX');
export const clusterNginxConf = () => required('SSE_CLUSTER_NGINX_CONF');

/**
 * The OpenAI-compatible example (examples/llm_stream.cpp) with its flags `args` (e.g.
 * `['--api-key', 'sk-x', '--token-ms', '20']`): `{url, stop()}`; its API is at `${url}/v1`.
 */
export async function startLlmStream(args = []) {
  const p = await start([required('SSE_LLM_STREAM'), '--port', '0', ...args], 1);
  const port = /localhost:(\d+)\//.exec(p.lines[0])?.[1];
  if (!port) {
    await p.stop();
    throw new Error(`unexpected first line from sse-llm-stream: ${p.lines[0]}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop: p.stop };
}

/**
 * The MCP server (examples/mcp_server.cpp) with its flags `args` (e.g. `['--interval-ms', '20',
 * '--drop-after', '3']`): `{url, stop()}`; its endpoint is `${url}/mcp`.
 */
export async function startMcpServer(args = []) {
  const p = await start([required('SSE_MCP_SERVER'), '--port', '0', ...args], 1);
  const port = /localhost:(\d+)\/mcp/.exec(p.lines[0])?.[1];
  if (!port) {
    await p.stop();
    throw new Error(`unexpected first line from sse-mcp-server: ${p.lines[0]}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop: p.stop };
}
