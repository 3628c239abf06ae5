// A throwaway redis-server (Debian's: SSE_REDIS_SERVER, default /usr/bin/redis-server) on a
// free loopback port, persisting nothing, in a temporary directory of its own.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A port nothing listens on now (the kernel's pick for port 0), on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// One attempt on `port`: resolves with the process once it is ready, or with null if it
// exited first (the port was taken meanwhile); rejects if it is not ready within 10 s.
async function attempt(path, port, dir) {
  const child = spawn(path, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const lines = createInterface({ input: child.stdout });
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  let timer;
  const ready = await new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      output.push(line);
      if (/Ready to accept connections/.test(line)) resolve(true);
    });
    child.once('error', reject);
    child.once('exit', () => resolve(false));
    timer = setTimeout(() => reject(new Error(`redis-server not ready within 10 s:\n${output.join('\n')}`)), 10_000);
  }).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  }).finally(() => clearTimeout(timer));
  if (!ready) {
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    return { child: null, output };
  }
  lines.on('line', () => {}); // keep reading its log: a full pipe would block it
  return { child, output };
}

/**
 * Starts redis-server; resolves with `{port, pid, stop(), kill9()}` once it accepts connections.
 * `stop()` ends it with SIGTERM and waits for it; `kill9()` with SIGKILL. Both remove its directory.
 */
export async function startRedis() {
  const path = process.env.SSE_REDIS_SERVER || '/usr/bin/redis-server';
  const dir = await mkdtemp(join(tmpdir(), 'sse-redis-'));
  try {
    for (let tries = 0; tries < 5; ++tries) {
      const port = await freePort();
      const { child, output } = await attempt(path, port, dir);
      if (!child) {
        if (!output.some((l) => /Address already in use|Could not create server TCP listening socket/.test(l)))
          throw new Error(`redis-server exited:\n${output.join('\n')}`);
        continue; // taken between freePort() and the bind: another port
      }
      const end = async (signal) => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill(signal);
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      };
      return { port, pid: child.pid, stop: () => end('SIGTERM'), kill9: () => end('SIGKILL') };
    }
    throw new Error('redis-server: no free port in 5 tries');
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
