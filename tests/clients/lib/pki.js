// A throwaway PKI made with the openssl CLI, as tests/test_tls.cpp makes it: a CA (ca.crt) and
// the server certificate it signs (server.crt, server.key; EC P-256, for localhost and
// 127.0.0.1), in a fresh temporary directory that `cleanup()` removes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opensslPath } from './servers.js';

function openssl(...args) {
  const r = spawnSync(opensslPath(), args, { timeout: 30_000, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
}

/** Makes the directory and the files: `{dir, ca, cert, key, cleanup()}` (the paths of ca.crt, server.crt, server.key). */
export function makePki(prefix = 'asio-sse-pki-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
    openssl('req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2',
      '-subj', '/CN=asio-sse client test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    openssl('req', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=localhost');
    openssl('x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
      '-set_serial', '101', '-days', '2', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'server.crt'));
  } catch (e) {
    cleanup(); // a half-made PKI is no use to anyone
    throw e;
  }
  return { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), cleanup };
}
