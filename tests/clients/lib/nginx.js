// nginx (Debian's: SSE_NGINX) as the load balancer of examples/run-cluster.sh, configured from
// the same template (SSE_CLUSTER_NGINX_CONF: examples/cluster-nginx.conf.in), in the foreground
// with everything of its own (pid, logs, temporary files) in a temporary directory.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './redis.js';
import { clusterNginxConf, nginxPath } from './servers.js';

/** The template filled in: nginx on `listenPort` in front of the nodes on `ports`, files in `dir`. */
export async function nginxConfig({ listenPort, ports: [a, b], dir }) {
  const text = (await readFile(clusterNginxConf(), 'utf8'))
    .replaceAll('@LISTEN_PORT@', String(listenPort))
    .replaceAll('@NODE_A_PORT@', String(a))
    .replaceAll('@NODE_B_PORT@', String(b))
    .replaceAll('@TMP@', dir)
    .replaceAll('@USER@', userInfo().username);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`${clusterNginxConf()}: placeholder ${left[0]} not filled in`);
  return text;
}

// Whether something accepts connections on 127.0.0.1:`port` now.
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// One attempt: the process once it accepts connections, or null if it exited first because its
// port was taken meanwhile. nginx prints nothing when ready: a bounded connect loop (10 s).
async function attempt(dir, listenPort, ports) {
  await writeFile(join(dir, 'nginx.conf'), await nginxConfig({ listenPort, ports, dir }));
  const errorLog = join(dir, 'error.log');
  await rm(errorLog, { force: true });
  const child = spawn(nginxPath(), ['-p', `${dir}/`, '-e', errorLog, '-c', join(dir, 'nginx.conf')],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  let failed = null;
  const exited = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (e) => {
      failed = e;
      resolve();
    });
  });
  const log = () => readFile(errorLog, 'utf8').catch(() => '');
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if (failed) throw new Error(`nginx (${nginxPath()}) did not start: ${failed.message}`);
    if (await accepts(listenPort)) {
      // nginx, not whoever took the port meanwhile: its own Server header on a proxied answer
      const server = await fetch(`http://127.0.0.1:${listenPort}/node`, { signal: AbortSignal.timeout(5000) })
        .then(async (r) => (await r.text(), r.headers.get('server') ?? ''), () => '');
      if (server.startsWith('nginx')) return child;
      child.kill('SIGKILL');
      await exited;
      return null;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = await log();
      if (/Address already in use/.test(text)) return null;
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}):\n${text}`);
    }
    await delay(20);
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(`nginx did not accept connections on ${listenPort} within 10 s:\n${await log()}`);
}

/**
 * Starts nginx balancing over the nodes on `ports` (two); resolves with `{port, url, pid,
 * stop()}` once it accepts connections. `stop()` ends it (SIGTERM: a fast shutdown), waits for
 * it (its master waits for its worker) and removes its directory.
 */
export async function startNginx(ports) {
  const dir = await mkdtemp(join(tmpdir(), 'sse-nginx-'));
  try {
    for (let tries = 0; tries < 5; ++tries) {
      const port = await freePort();
      const child = await attempt(dir, port, ports);
      if (!child) continue;
      return {
        port,
        url: `http://127.0.0.1:${port}`,
        pid: child.pid,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = once(child, 'exit');
            child.kill('SIGTERM');
            await exited;
          }
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    throw new Error('nginx: no free port in 5 tries');
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
