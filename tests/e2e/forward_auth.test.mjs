// Forward auth through a real nginx using deploy/nginx/gatehouse-locations.conf, plus the
// Traefik/Caddy style answers of /auth/verify. The upstream "app" is a second nginx server
// that echoes the identity headers it received.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, repoRoot, startGateway } from './lib/gateway.mjs';

const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const locationsFile = path.join(repoRoot, 'deploy', 'nginx', 'gatehouse-locations.conf');
const COOKIE = process.env.GATEHOUSE_COOKIE_NAME || 'gatehouse_session';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startNginx(gatewayPort) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-nginx-'));
  const proxyPort = await freePort();
  const appPort = await freePort();
  const echo = [
    'user=$http_x_gatehouse_user',
    'email=$http_x_gatehouse_email',
    'tenant=$http_x_gatehouse_tenant',
    'groups=$http_x_gatehouse_groups',
    'remote_user=$http_remote_user',
    'x_auth_request_user=$http_x_auth_request_user',
    'x_forwarded_user=$http_x_forwarded_user',
    'uri=$request_uri',
    '',
  ].join('\\n');
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gatehouse_upstream { server 127.0.0.1:${gatewayPort}; keepalive 8; }
  upstream app_upstream { server 127.0.0.1:${appPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${proxyPort};
    include ${locationsFile};
  }
  server {
    listen 127.0.0.1:${appPort};
    location / { default_type text/plain; return 200 "${echo}"; }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const args = ['-e', 'stderr', '-p', dir, '-c', path.join(dir, 'nginx.conf')];
  const check = spawnSync(nginxBin, ['-t', ...args], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t failed:\n${check.stderr}`);
  const proc = spawn(nginxBin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const base = `http://127.0.0.1:${proxyPort}`;
  const deadline = Date.now() + 10000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      await fetch(`http://127.0.0.1:${appPort}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
      await sleep(50);
    }
  }
  return {
    base,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGQUIT');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function parseEcho(text) {
  return Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('forward auth', { concurrency: false }, () => {
  let gw;
  let nginx;
  let tenant;
  let user;
  let session;
  const email = 'bob@acme.test';

  before(async () => {
    gw = await startGateway({ redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
    tenant = await gw.createTenant();
    user = await gw.createUser(tenant.id, {
      email,
      password: 'Bob-long-enough-passphrase-1',
      display_name: 'Bob',
      groups: ['eng', 'ops'],
    });
    session = await gw.mintSession(tenant.id, user.id);
    assert.ok(session.token && session.session_id, `minted session: ${JSON.stringify(session)}`);
  });

  after(async () => {
    if (nginx) await nginx.stop();
    if (gw) await gw.stop();
  });

  describe('/auth/verify answers', () => {
    it('a page request without a session gets 302 to the login page (Traefik, Caddy)', async () => {
      const res = await fetch(`${gw.base}/auth/verify`, {
        redirect: 'manual',
        headers: {
          accept: 'text/html,application/xhtml+xml',
          'x-forwarded-proto': 'http',
          'x-forwarded-host': '127.0.0.1:9999',
          'x-forwarded-uri': '/docs?page=2',
        },
      });
      assert.equal(res.status, 302);
      const loc = new URL(res.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${gw.base}/login`);
      assert.equal(loc.searchParams.get('return_to'), 'http://127.0.0.1:9999/docs?page=2');
    });

    it('an XHR without a session gets 401', async () => {
      const res = await fetch(`${gw.base}/auth/verify`, {
        redirect: 'manual',
        headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' },
      });
      assert.equal(res.status, 401);
    });

    it('mode=nginx gets 401 with the login URL in Location', async () => {
      const res = await fetch(`${gw.base}/auth/verify?mode=nginx`, {
        redirect: 'manual',
        headers: {
          accept: 'text/html',
          'x-forwarded-proto': 'http',
          'x-forwarded-host': '127.0.0.1:9999',
          'x-forwarded-uri': '/a?b=c',
        },
      });
      assert.equal(res.status, 401);
      const loc = new URL(res.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${gw.base}/login`);
      assert.equal(loc.searchParams.get('return_to'), 'http://127.0.0.1:9999/a?b=c');
    });

    it('a bearer JWT is accepted', async () => {
      const res = await fetch(`${gw.base}/auth/verify`, {
        headers: { authorization: `Bearer ${session.token}` },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-gatehouse-user'), String(user.id));
      assert.equal(res.headers.get('x-gatehouse-tenant'), String(tenant.id));
    });

    it('a tampered JWT is refused', async () => {
      const t = session.token;
      const bad = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const res = await fetch(`${gw.base}/auth/verify`, {
        redirect: 'manual',
        headers: { authorization: `Bearer ${bad}`, accept: 'application/json' },
      });
      assert.equal(res.status, 401);
    });
  });

  describe('through nginx auth_request', { skip: nginxBin ? false : 'nginx not installed' }, () => {
    before(async () => {
      nginx = await startNginx(gw.port);
    });

    it('without a session: 302 to the login page, returning to the original URL', async () => {
      const res = await fetch(`${nginx.base}/reports/q3?year=2026`, {
        redirect: 'manual',
        headers: { accept: 'text/html' },
      });
      assert.equal(res.status, 302);
      const loc = new URL(res.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${gw.base}/login`);
      assert.equal(loc.searchParams.get('return_to'), `${nginx.base}/reports/q3?year=2026`);
    });

    it('without a session, client-sent identity headers do not get through', async () => {
      const res = await fetch(`${nginx.base}/`, {
        redirect: 'manual',
        headers: { 'x-gatehouse-user': 'admin', 'remote-user': 'admin' },
      });
      assert.equal(res.status, 302);
    });

    it('with the session cookie: the app sees the identity and nothing the client forged', async () => {
      const res = await fetch(`${nginx.base}/hello?x=1`, {
        redirect: 'manual',
        headers: {
          cookie: `${COOKIE}=${session.token}`,
          'x-gatehouse-user': 'forged',
          'x-gatehouse-email': 'forged@evil.test',
          'x-gatehouse-groups': 'admins',
          'remote-user': 'forged',
          'x-auth-request-user': 'forged',
          'x-forwarded-user': 'forged',
        },
      });
      assert.equal(res.status, 200);
      const seen = parseEcho(await res.text());
      assert.equal(seen.user, String(user.id));
      assert.equal(seen.email, email);
      assert.equal(seen.tenant, String(tenant.id));
      assert.deepEqual(seen.groups.split(',').map((g) => g.trim()).sort(), ['eng', 'ops']);
      assert.equal(seen.remote_user, '');
      assert.equal(seen.x_auth_request_user, '');
      assert.equal(seen.x_forwarded_user, '');
      assert.equal(seen.uri, '/hello?x=1');
    });

    it('a revoked session stops working at once', async () => {
      const fresh = await gw.mintSession(tenant.id, user.id);
      const get = () =>
        fetch(`${nginx.base}/`, { redirect: 'manual', headers: { cookie: `${COOKIE}=${fresh.token}` } });
      assert.equal((await get()).status, 200);
      await gw.api('DELETE', `/sessions/${fresh.session_id}`, undefined, { expect: 204 });
      // The design promises every instance stops honouring it within 100 ms; allow a little slack.
      const deadline = Date.now() + 500;
      let status;
      do {
        status = (await get()).status;
        if (status === 302) break;
        await sleep(20);
      } while (Date.now() < deadline);
      assert.equal(status, 302, 'revoked session still accepted after 500 ms');
    });
  });
});
