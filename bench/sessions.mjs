// Bulk helpers for bench/forward_auth.sh (Node built-ins only).
//
//   node bench/sessions.mjs mint   BASE ADMIN_TOKEN TENANT_ID USER_ID COUNT OUT_FILE [CONCURRENCY]
//       mints COUNT sessions through the admin API and writes one JWT per line to OUT_FILE
//   node bench/sessions.mjs verify BASE COOKIE_NAME TOKENS_FILE [CONCURRENCY]
//       calls GET /auth/verify once with each token as the session cookie
//
// Both print one machine-readable line: `RESULT count=... ok=... failed=... seconds=... rate=...`.
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';

function request(agent, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Run `job(i)` for i in [0, count) with at most `concurrency` in flight. */
async function pool(count, concurrency, job) {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next;
      next += 1;
      await job(i);
    }
  });
  await Promise.all(runners);
}

function report(count, ok, failed, started, firstError) {
  const seconds = (performance.now() - started) / 1000;
  if (firstError) console.error(`first failure: ${firstError}`);
  console.log(
    `RESULT count=${count} ok=${ok} failed=${failed} seconds=${seconds.toFixed(1)} rate=${(ok / seconds).toFixed(0)}`,
  );
  return failed === 0 ? 0 : 1;
}

async function mint([base, adminToken, tenantId, userId, countArg, outFile, concArg = '16']) {
  const count = Number(countArg);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concArg) });
  const out = createWriteStream(outFile);
  const url = `${base}/api/v1/tenants/${encodeURIComponent(tenantId)}/users/${encodeURIComponent(userId)}/sessions`;
  const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', accept: 'application/json' };
  let ok = 0;
  let failed = 0;
  let firstError;
  const started = performance.now();
  await pool(count, Number(concArg), async () => {
    try {
      const res = await request(agent, url, { method: 'POST', headers, body: '{}' });
      const token = res.status === 201 ? JSON.parse(res.body).token : undefined;
      if (typeof token === 'string' && token) {
        out.write(`${token}\n`);
        ok += 1;
      } else {
        failed += 1;
        firstError ??= `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
      }
    } catch (err) {
      failed += 1;
      firstError ??= err.message;
    }
  });
  await new Promise((r) => out.end(r));
  agent.destroy();
  return report(count, ok, failed, started, firstError);
}

async function verify([base, cookieName, tokensFile, concArg = '32']) {
  const tokens = readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concArg) });
  const url = `${base}/auth/verify`;
  let ok = 0;
  let failed = 0;
  let firstError;
  const started = performance.now();
  await pool(tokens.length, Number(concArg), async (i) => {
    try {
      const res = await request(agent, url, {
        headers: { cookie: `${cookieName}=${tokens[i]}`, accept: 'application/json' },
      });
      if (res.status === 200) ok += 1;
      else {
        failed += 1;
        firstError ??= `HTTP ${res.status}: ${res.body.slice(0, 300)}`;
      }
    } catch (err) {
      failed += 1;
      firstError ??= err.message;
    }
  });
  agent.destroy();
  return report(tokens.length, ok, failed, started, firstError);
}

const [mode, ...rest] = process.argv.slice(2);
const modes = { mint, verify };
if (!modes[mode]) {
  console.error('usage: sessions.mjs mint|verify ...');
  process.exit(2);
}
process.exitCode = await modes[mode](rest);
