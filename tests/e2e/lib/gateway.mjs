// Start and stop a real Gatehouse process for end-to-end tests.
//
// The binary comes from $GATEHOUSE_BIN (scripts/test.sh points it at target/debug/gatehouse).
// Each gateway gets a free loopback port, a fresh temporary data directory and a random
// admin token; with `redisUrl` it uses Redis under a unique key prefix instead.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

export function gatewayBinary() {
  const bin = process.env.GATEHOUSE_BIN || path.join(repoRoot, 'target', 'debug', 'gatehouse');
  if (!existsSync(bin)) {
    throw new Error(`gateway binary not found at ${bin}: run \`cargo build\` or set GATEHOUSE_BIN`);
  }
  return bin;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function randomToken(bytes = 24) {
  return randomBytes(bytes).toString('hex');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `url` until it answers 200, the process dies, or `timeoutMs` passes. */
async function waitHealthy(url, proc, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`gateway exited early (code ${proc.exitCode}, signal ${proc.signalCode})`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await sleep(50);
  }
  throw new Error(`gateway not healthy after ${timeoutMs} ms (${last})`);
}

export class Gateway {
  constructor({ proc, port, dataDir, adminToken, redisUrl, keyPrefix, logs }) {
    this.proc = proc;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.dataDir = dataDir;
    this.adminToken = adminToken;
    this.redisUrl = redisUrl;
    this.keyPrefix = keyPrefix;
    this.logs = logs;
  }

  /** Everything the gateway printed so far (for failure messages). */
  output() {
    return this.logs.join('');
  }

  /** Call the admin API; returns { status, body, headers }. Throws unless `expect` matches. */
  async api(method, apiPath, body, { expect } = {}) {
    const res = await fetch(`${this.base}/api/v1${apiPath}`, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    if (expect !== undefined && res.status !== expect) {
      throw new Error(`${method} /api/v1${apiPath}: expected ${expect}, got ${res.status}: ${text}`);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  async createTenant(fields = {}) {
    const { body } = await this.api(
      'POST',
      '/tenants',
      { name: 'Acme', primary_domain: 'acme.test', secondary_domains: [], sso_only: false, ...fields },
      { expect: 201 },
    );
    return body;
  }

  async createUser(tenantId, fields) {
    const { body } = await this.api('POST', `/tenants/${tenantId}/users`, fields, { expect: 201 });
    return body;
  }

  async mintSession(tenantId, userId) {
    const { body } = await this.api('POST', `/tenants/${tenantId}/users/${userId}/sessions`, {}, { expect: 201 });
    return body;
  }

  async stop() {
    const { proc } = this;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dataDir, { recursive: true, force: true });
    if (this.redisUrl && this.keyPrefix) await deleteRedisPrefix(this.redisUrl, this.keyPrefix);
  }
}

/** Best effort: drop the keys a test gateway left in Redis (needs redis-cli). */
function deleteRedisPrefix(redisUrl, prefix) {
  return new Promise((resolve) => {
    execFile('redis-cli', ['-u', redisUrl, '--scan', '--pattern', `${prefix}*`], (err, stdout) => {
      const keys = err ? [] : stdout.split('\n').filter(Boolean);
      if (keys.length === 0) return resolve();
      const batches = [];
      for (let i = 0; i < keys.length; i += 500) batches.push(keys.slice(i, i + 500));
      let pending = batches.length;
      for (const batch of batches) {
        execFile('redis-cli', ['-u', redisUrl, 'unlink', ...batch], () => {
          pending -= 1;
          if (pending === 0) resolve();
        });
      }
    });
  });
}

/**
 * Start a gateway. Options:
 *   redisUrl: use Redis as the store (a unique key prefix is chosen)
 *   env:      extra environment variables
 *   timeoutMs: how long to wait for /healthz
 */
export async function startGateway({ redisUrl, env = {}, timeoutMs = 30000 } = {}) {
  const bin = gatewayBinary();
  let lastErr;
  // The free port can be taken between probing and binding: try a few times.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-e2e-'));
    const adminToken = randomToken();
    const keyPrefix = redisUrl ? `gh-e2e-${randomToken(6)}` : undefined;
    // The gateway reads every GATEHOUSE_* variable as configuration (and rejects unknown
    // ones), so pass none of ours (GATEHOUSE_BIN, GATEHOUSE_TEST_REDIS_URL, ...) through.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') || k === 'GATEHOUSE_COOKIE_NAME'),
    );
    const childEnv = {
      ...inherited,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_BASE_URL: `http://127.0.0.1:${port}`,
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_ADMIN_TOKEN: adminToken,
      GATEHOUSE_TRUSTED_PROXIES: '["127.0.0.1/32"]',
      ...env,
    };
    if (redisUrl) {
      childEnv.GATEHOUSE_REDIS_URL = redisUrl;
      childEnv.GATEHOUSE_REDIS_KEY_PREFIX = keyPrefix;
    }
    const logs = [];
    const proc = spawn(bin, ['serve'], { env: childEnv, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => logs.push(d.toString()));
    proc.stderr.on('data', (d) => logs.push(d.toString()));
    const gw = new Gateway({ proc, port, dataDir, adminToken, redisUrl, keyPrefix, logs });
    try {
      await waitHealthy(`${gw.base}/healthz`, proc, timeoutMs);
      return gw;
    } catch (err) {
      await gw.stop();
      lastErr = new Error(`${err.message}\n--- gateway output ---\n${gw.output()}`);
      if (!/address|in use/i.test(gw.output())) break;
    }
  }
  throw lastErr;
}

/** "a=1; b=2" from Playwright cookies (those the browser would send to `url`). */
export function cookieHeader(cookies) {
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}
