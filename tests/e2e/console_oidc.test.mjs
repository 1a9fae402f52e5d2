// Authentication › OIDC in the admin console, in a real browser against the independent
// oidc-provider (npm, lib/oidc_op.mjs): a tenant admin copies the redirect URI (clipboard
// checked), a wrong issuer is refused at its field, the settings are saved, SSO-only is
// refused before a passed test, the test sign-in runs in a new tab through the provider's
// login and consent and ends on a report where every check passes, a wrong client id gets
// its diagnostic, and SSO-only is accepted after a passed test of the current settings.
// axe-core: no serious or critical violation on the OIDC page and the OIDC report page
// (summary in artifacts/axe-console-oidc.json); screenshots artifacts/console-oidc-*.png.
// Runs on the embedded store, and again on Redis when GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { assertAccessible, runAxe, writeAxeSummary } from './lib/axe.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { cookieHeader, randomToken, startGateway } from './lib/gateway.mjs';
import { startOidcProvider } from './lib/oidc_op.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

const CHECKS = [
  "Provider's answer",
  'State and browser binding',
  'Token exchange (code for ID token)',
  'Signature, algorithm and key',
  'Issuer (iss)',
  'Audience (aud, the Client ID)',
  'Authorized party (azp)',
  "Nonce (this test's request)",
  'Expiry, issue time and clocks',
  'Email claim',
  'Email domain',
  'Groups claim (informational)',
];

for (const store of stores) {
  describe(`console OIDC setup and test sign-in in Chromium (${store.name} store)`, { concurrency: false }, () => {
    const prefix = store.name === 'embedded' ? 'console-oidc' : `console-oidc-${store.name}`;
    let gw;
    let op;
    let browser;
    let page;
    let tenant;
    const domain = 'initrode.test';
    const adminEmail = `it@${domain}`;
    const adminPassword = `Adm-${randomToken(8)}-ok!`;
    const person = `pat@${domain}`;
    const secret = randomBytes(16).toString('hex');
    const otherSecret = randomBytes(16).toString('hex');
    const axe = {};
    let redirectUri;

    const shot = (p, name) => screenshot(p, `${prefix}-${name}`);
    async function capture(p, name) {
      await p.waitForLoadState('load');
      await shot(p, name);
      axe[name] = await runAxe(p);
    }
    const refusals = () =>
      gw
        .output()
        .split('\n')
        .filter((l) => /refused|page error/i.test(l))
        .slice(-20)
        .join('\n');

    async function gotoOidc() {
      await page.goto(`${gw.base}/admin/tenants/${tenant.id}/oidc`);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Authentication › OIDC');
    }

    /** Fills the form with `fields` and saves; returns the response's status. */
    async function save(fields) {
      await gotoOidc();
      if (fields.provider) await page.getByLabel('Provider', { exact: true }).selectOption({ label: fields.provider });
      for (const [label, value] of [
        ['Issuer', fields.issuer],
        ['Client ID', fields.clientId],
        ['Client secret', fields.secret],
        ['Scopes', fields.scopes],
      ]) {
        if (value !== undefined) await page.getByLabel(label, { exact: true }).fill(value);
      }
      if (fields.jit) await page.getByLabel(/just-in-time/).check();
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${gw.base}/admin/tenants/${tenant.id}/oidc` && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Save' }).click(),
      ]);
      await page.waitForLoadState('load');
      return response.status();
    }

    /** "Test sign-in" → a new tab → the provider's pages → the report in that tab. */
    async function testSignIn() {
      await gotoOidc();
      const [tab] = await Promise.all([
        browser.context.waitForEvent('page'),
        page.getByRole('button', { name: 'Test sign-in' }).click(),
      ]);
      const report = `${gw.base}/admin/tests/`;
      for (let step = 0; step < 6 && !tab.url().startsWith(report); step += 1) {
        await tab.waitForLoadState('load');
        if (tab.url().startsWith(report)) break;
        if (!tab.url().startsWith(op.issuer)) {
          await tab.waitForURL((u) => u.href.startsWith(op.issuer) || u.href.startsWith(report), { timeout: 20000 }).catch(async (err) => {
            await shot(tab, 'test-unexpected');
            throw new Error(`${err.message.split('\n')[0]}\non ${tab.url()}\n${refusals()}`);
          });
          continue;
        }
        const login = tab.locator('input[name="login"]');
        const proceed = tab.getByRole('button', { name: 'Continue' });
        await Promise.race([login.waitFor().catch(() => {}), proceed.waitFor().catch(() => {}), tab.waitForURL((u) => u.href.startsWith(report)).catch(() => {})]);
        if (tab.url().startsWith(report)) break;
        if (await login.isVisible()) {
          await login.fill(person);
          await tab.locator('input[name="password"]').fill('any password');
          await Promise.all([tab.waitForLoadState('load'), tab.getByRole('button', { name: 'Sign-in' }).click()]);
        } else if (await proceed.isVisible()) {
          await Promise.all([
            tab.waitForURL((u) => !u.href.includes('/interaction/'), { timeout: 20000 }),
            proceed.click(),
          ]);
        }
      }
      await tab.waitForURL(`${report}**`, { timeout: 20000 }).catch(async (err) => {
        await shot(tab, 'test-unexpected');
        throw new Error(`${err.message.split('\n')[0]}\nlanded on ${tab.url()}\n${refusals()}`);
      });
      await tab.waitForLoadState('load');
      return tab;
    }

    async function checks(tab) {
      return tab.locator('table.checks tbody tr').evaluateAll((rows) =>
        rows.map((r) => ({
          label: r.querySelector('th').innerText.trim(),
          result: r.querySelector('td:nth-of-type(1)').innerText.trim(),
          observed: r.querySelector('td:nth-of-type(2)').innerText.trim(),
          fix: r.querySelector('td:nth-of-type(3)').innerText.trim(),
        })),
      );
    }

    async function switchSsoOnlyOn() {
      await page.goto(`${gw.base}/admin/tenants/${tenant.id}`);
      await Promise.all([page.waitForURL(/\?(error|notice)=/), page.getByRole('button', { name: 'Switch SSO-only on' }).click()]);
      return page.locator('main').innerText();
    }

    before(async () => {
      op = await startOidcProvider();
      gw = await startGateway({
        redisUrl: store.redisUrl,
        env: { GATEHOUSE_LOG: 'info', GATEHOUSE_DANGER_OIDC_ALLOW_HTTP_LOOPBACK: 'true' },
      });
      redirectUri = `${gw.base}/oidc/callback`;
      op.setClients([
        { client_id: 'initrode-gatehouse', client_secret: secret, redirect_uris: [redirectUri] },
        { client_id: 'initrode-other-app', client_secret: otherSecret, redirect_uris: [redirectUri] },
      ]);
      op.addUser(person, { email: person, email_verified: true, given_name: 'Pat', family_name: 'Tester', groups: ['eng', 'ops'] });
      tenant = await gw.createTenant({ name: 'Initrode', primary_domain: domain });
      await gw.createUser(tenant.id, { email: adminEmail, password: adminPassword, role: 'tenant_admin' });
      browser = await launchBrowser();
      page = await browser.context.newPage();
    });

    after(async (t) => {
      if (gw) await writeAxeSummary(prefix, axe, gw.base);
      if (browser) await browser.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
      if (op) await op.close();
    });

    it('the admin signs in and opens Authentication › OIDC; the redirect URI has a copy button', async () => {
      await page.goto(`${gw.base}/login?return_to=${encodeURIComponent('/admin')}`);
      const form = page.locator('form[action="/login/password"]');
      await form.getByLabel('Work email').fill(adminEmail);
      await form.getByLabel('Password').fill(adminPassword);
      await Promise.all([page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}`), form.getByRole('button', { name: 'Sign in' }).click()]);
      assert.match(await page.locator('main').innerText(), /OpenID Connect\s+not set up/);
      const nav = page.getByRole('navigation', { name: 'Console' });
      const links = await nav.getByRole('link').allInnerTexts();
      assert.equal(links[links.indexOf('Authentication › SAML') + 1], 'Authentication › OIDC', 'right after the SAML link');
      await nav.getByRole('link', { name: 'Authentication › OIDC' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/oidc`);
      assert.equal(await page.locator('#oidc-redirect').innerText(), redirectUri);

      await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.base });
      await page.evaluate(() => navigator.clipboard.writeText('-'));
      const copy = page.getByRole('button', { name: 'Copy the redirect URI' });
      await copy.click();
      await page.waitForFunction((v) => navigator.clipboard.readText().then((t) => t === v), redirectUri, { timeout: 5000 });
      assert.equal(await copy.innerText(), 'Copied');
      // The label goes back after a moment; the page is checked as people normally see it.
      await page.waitForFunction(() => document.querySelector('button.copy').textContent === 'Copy');
      await capture(page, 'page');
    });

    it('a wrong issuer is refused at its field; the typed values stay, the secret is not echoed', async () => {
      const status = await save({ provider: 'Custom (any OpenID provider)', issuer: `${op.issuer}/wrong`, clientId: 'initrode-gatehouse', secret, jit: true });
      assert.equal(status, 400);
      const error = await page.locator('#issuer-error').innerText();
      assert.match(error, /discovery document at/);
      assert.equal(await page.getByLabel('Issuer', { exact: true }).getAttribute('aria-invalid'), 'true');
      assert.equal(await page.getByLabel('Client ID', { exact: true }).inputValue(), 'initrode-gatehouse');
      assert.equal(await page.getByLabel('Client secret', { exact: true }).inputValue(), '');
      assert.ok(!(await page.content()).includes(secret), 'the secret is not in the page');
      await capture(page, 'refused-issuer');
    });

    it('the settings are saved; the page says a secret is stored', async () => {
      const status = await save({
        provider: 'Custom (any OpenID provider)',
        issuer: op.issuer,
        clientId: 'initrode-gatehouse',
        secret,
        scopes: 'openid email profile groups',
        jit: true,
      });
      assert.equal(status, 303);
      assert.match(page.url(), /\?notice=saved$/);
      assert.equal(await page.getByRole('status').first().innerText(), 'Saved.');
      assert.match(await page.locator('#client_secret-help').innerText(), /A client secret is stored/);
      assert.ok(!(await page.content()).includes(secret));
      await capture(page, 'saved');
    });

    it('SSO-only is refused before a test sign-in has passed', async () => {
      const text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?error=untested$/);
      assert.match(text, /run a successful test sign-in of the current SSO connection/);
      assert.match(text, /Currently: off/);
    });

    it('Test sign-in in a new tab: through the provider and back to a report where every check passes', async () => {
      const tab = await testSignIn();
      try {
        assert.equal(await tab.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in passed');
        const rows = await checks(tab);
        assert.deepEqual(rows.map((r) => r.label), CHECKS);
        for (const r of rows) assert.equal(r.result, 'pass', JSON.stringify(r));
        const status = await tab.getByRole('status').innerText();
        assert.match(status, new RegExp(`would sign in as ${person.replace('.', '\\.')}, groups: eng, ops; created just in time: yes`));
        const main = await tab.locator('main').innerText();
        assert.match(main, /Signature algorithm\s+RS256/);
        assert.match(main, /"nonce": "\(redacted\)"/);
        assert.ok(!main.includes(secret));
        await capture(tab, 'test-pass');
      } finally {
        await tab.close();
      }
      // Nobody was created, and the admin is still the one signed in.
      const users = await gw.api('GET', `/tenants/${tenant.id}/users`, undefined, { expect: 200 });
      assert.ok(!users.body.items.some((u) => u.email === person), 'the test created nobody');
      const v = await fetch(`${gw.base}/auth/verify`, {
        redirect: 'manual',
        headers: { accept: 'application/json', cookie: cookieHeader(await browser.context.cookies(gw.base)) },
      });
      assert.equal(v.headers.get('x-gatehouse-email'), adminEmail);
    });

    it('a wrong client id: the token exchange fails with invalid_client and says what to change', async () => {
      // The provider knows the client id (another app), but not with this secret.
      assert.equal(await save({ clientId: 'initrode-other-app', secret }), 303);
      const tab = await testSignIn();
      try {
        assert.equal(await tab.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in failed');
        const rows = await checks(tab);
        const exchange = rows.find((r) => r.label === 'Token exchange (code for ID token)');
        assert.equal(exchange.result, 'fail', JSON.stringify(exchange));
        assert.match(exchange.observed, /invalid_client/);
        assert.match(exchange.fix, /^The provider does not accept the client credentials \(invalid_client\): copy the app's client secret from the provider into Client secret on this page, and check Client ID\.$/);
        assert.equal(rows.find((r) => r.label === "Provider's answer").result, 'pass');
        assert.equal(rows.find((r) => r.label === 'Signature, algorithm and key').result, 'not checked');
        await capture(tab, 'test-fail-client');
      } finally {
        await tab.close();
      }
    });

    it('SSO-only: refused for settings never tested, accepted after a passed test', async () => {
      assert.equal(await save({ clientId: 'initrode-gatehouse', secret }), 303);
      let text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?error=untested$/, 'the failed test does not count');
      const tab = await testSignIn();
      assert.equal(await tab.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in passed');
      await tab.close();
      text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?notice=sso_only_on$/);
      assert.match(text, /Currently: on/);
      assert.match(text, /Last passed test sign-in\s+\d{4}-\d\d-\d\dT\S+ \(OpenID Connect\)/);
      await capture(page, 'tenant-sso-only-on');
      const { body } = await gw.api('GET', `/tenants/${tenant.id}`, undefined, { expect: 200 });
      assert.equal(body.sso_only, true);
    });

    it('axe-core: no serious or critical violation on the OIDC page and the OIDC report page', () => {
      assertAccessible(axe, ['page', 'refused-issuer', 'saved', 'test-pass', 'test-fail-client', 'tenant-sso-only-on']);
    });
  });
}
