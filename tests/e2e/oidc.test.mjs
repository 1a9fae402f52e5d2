// OpenID Connect sign-in in a real browser against an independent provider (oidc-provider
// from npm, lib/oidc_op.mjs) with its own login and consent pages:
// - a tenant's own connection: type the work email at /login → the provider's login and
//   consent → back signed in, /auth/verify 200, the person created just in time;
// - "Continue with Google" pointed at the same provider through the gateway's configuration
//   (google.issuer), for a person who already exists and whose Workspace domain (hd) matches.
// Runs on the embedded store, and again on Redis when GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { cookieHeader, startGateway } from './lib/gateway.mjs';
import { startOidcProvider } from './lib/oidc_op.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

const COOKIE = process.env.GATEHOUSE_COOKIE_NAME || 'gatehouse_session';

async function verify(gw, cookies) {
  return fetch(`${gw.base}/auth/verify`, {
    redirect: 'manual',
    headers: { accept: 'application/json', cookie: cookieHeader(cookies) },
  });
}

function refusals(gw) {
  return gw
    .output()
    .split('\n')
    .filter((l) => /page refused|page error|login refused/.test(l))
    .join('\n');
}

for (const store of stores) {
  describe(`OpenID Connect with oidc-provider in Chromium (${store.name} store)`, { concurrency: false }, () => {
    let gw;
    let op;
    let browser;
    let initech;
    let hooli;
    let bob;
    const tenantSecret = randomBytes(16).toString('hex');
    const googleSecret = randomBytes(16).toString('hex');
    const ninaEmail = `nina-${store.name}@initech.test`;
    const bobEmail = 'bob@hooli.test';

    before(async () => {
      op = await startOidcProvider();
      gw = await startGateway({
        redisUrl: store.redisUrl,
        env: {
          GATEHOUSE_LOG: 'info',
          GATEHOUSE_DANGER_OIDC_ALLOW_HTTP_LOOPBACK: 'true',
          GATEHOUSE_GOOGLE__CLIENT_ID: 'google-client',
          GATEHOUSE_GOOGLE__CLIENT_SECRET: googleSecret,
          GATEHOUSE_GOOGLE__ISSUER: op.issuer,
        },
      });
      const redirectUri = `${gw.base}/oidc/callback`;
      op.setClients([
        { client_id: 'tenant-client', client_secret: tenantSecret, redirect_uris: [redirectUri] },
        { client_id: 'google-client', client_secret: googleSecret, redirect_uris: [redirectUri] },
      ]);
      op.addUser(ninaEmail, {
        email: ninaEmail,
        email_verified: true,
        given_name: 'Nina',
        family_name: 'Initech',
        groups: ['eng', 'ops'],
      });
      op.addUser(bobEmail, { email: bobEmail, email_verified: true, given_name: 'Bob', hd: 'hooli.test' });

      initech = await gw.createTenant({ name: 'Initech', primary_domain: 'initech.test' });
      const { body } = await gw.api(
        'PUT',
        `/tenants/${initech.id}/oidc`,
        {
          provider: 'custom',
          issuer: op.issuer,
          client_id: 'tenant-client',
          client_secret: tenantSecret,
          scopes: ['openid', 'email', 'profile', 'groups'],
          jit_provisioning: true,
        },
        { expect: 200 },
      );
      assert.equal(body.redirect_uri, redirectUri, 'the redirect URI to register');
      assert.equal(body.connection.client_secret_set, true);
      assert.ok(!JSON.stringify(body).includes(tenantSecret), 'the secret is never returned');

      hooli = await gw.createTenant({ name: 'Hooli', primary_domain: 'hooli.test' });
      bob = await gw.createUser(hooli.id, { email: bobEmail, groups: ['sales'] });
      browser = await launchBrowser();
    });

    after(async (t) => {
      if (browser) await browser.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
      if (op) await op.close();
    });

    /** The provider's login and consent pages, then back to `landing`. Returns ms spent. */
    async function atProvider(page, shot, login, landing) {
      await page.waitForURL((u) => u.href.startsWith(op.issuer)).catch(async (err) => {
        await shot('stuck-before-provider');
        throw new Error(`not at the provider (${err.message.split('\n')[0]}): ${page.url()}\n${refusals(gw)}`);
      });
      const loginField = page.locator('input[name="login"]');
      await loginField.waitFor();
      if (login === ninaEmail) {
        assert.equal(await loginField.inputValue(), ninaEmail, 'the typed email went along as login_hint');
      }
      await loginField.fill(login);
      await page.locator('input[name="password"]').fill('any password');
      await shot('provider-login');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).waitFor();
      await shot('provider-consent');
      const started = performance.now();
      await Promise.all([
        page.waitForURL(landing, { timeout: 20000 }).catch(async (err) => {
          await shot('unexpected');
          throw new Error(`${err.message}\nlanded on ${page.url()}\ngateway refusals:\n${refusals(gw)}`);
        }),
        page.getByRole('button', { name: 'Continue' }).click(),
      ]);
      return performance.now() - started;
    }

    it('tenant connection: work email at /login → provider login and consent → signed in, created just in time', async () => {
      const page = await browser.context.newPage();
      const shot = (name) => screenshot(page, `oidc-${store.name}-tenant-${name}`);
      try {
        await page.goto(`${gw.base}/login`);
        await page.getByLabel('Company domain or work email').fill(ninaEmail);
        await shot('login');
        await page.getByRole('button', { name: 'Next' }).click();
        const ms = await atProvider(page, shot, ninaEmail, `${gw.base}/`);
        await shot('signed-in');
        const body = await page.locator('body').innerText();
        assert.match(body, /You are signed in/);
        assert.match(body, new RegExp(ninaEmail.replace('.', '\\.'), 'i'));

        const cookies = await browser.context.cookies(gw.base);
        const session = cookies.find((c) => c.name === COOKIE);
        assert.ok(session?.httpOnly, `session cookie ${COOKIE} set, HttpOnly`);
        const res = await verify(gw, cookies);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-gatehouse-email'), ninaEmail);
        assert.equal(res.headers.get('x-gatehouse-tenant'), String(initech.id));
        assert.equal(res.headers.get('x-gatehouse-groups'), 'eng,ops', 'groups from the provider');

        const events = await gw.api('GET', `/tenants/${initech.id}/login-events`, undefined, { expect: 200 });
        const last = events.body.items[0];
        assert.equal(last.outcome, 'succeeded');
        assert.equal(last.method, 'oidc');
        assert.equal(last.provider, 'custom');
        console.log(`# oidc e2e (${store.name}): consent click → signed-in page in ${ms.toFixed(0)} ms (token exchange + ID token checks + session, debug build)`);
      } finally {
        await page.close();
        await browser.context.clearCookies();
      }
    });

    it('"Continue with Google" (a local stand-in set in the configuration) → signed in as an existing person', async () => {
      const page = await browser.context.newPage();
      const shot = (name) => screenshot(page, `oidc-${store.name}-google-${name}`);
      try {
        await page.goto(`${gw.base}/login`);
        const button = page.getByRole('link', { name: 'Continue with Google' });
        assert.ok(await button.isVisible(), 'the Google button is shown');
        assert.equal(await page.getByRole('link', { name: 'Continue with Microsoft' }).count(), 0, 'Microsoft is not configured');
        await shot('login');
        await button.click();
        await atProvider(page, shot, bobEmail, `${gw.base}/`);
        await shot('signed-in');
        const cookies = await browser.context.cookies(gw.base);
        const res = await verify(gw, cookies);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-gatehouse-email'), bobEmail);
        assert.equal(res.headers.get('x-gatehouse-user'), String(bob.id), 'linked to the existing person');
        const events = await gw.api('GET', `/tenants/${hooli.id}/login-events`, undefined, { expect: 200 });
        assert.equal(events.body.items[0].provider, 'google');
      } finally {
        await page.close();
        await browser.context.clearCookies();
      }
    });
  });
}
