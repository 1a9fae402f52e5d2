// Password sign-in in a real browser, then forward auth with the browser's cookies,
// then sign-out. Runs on the embedded store, and again on Redis when
// GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { cookieHeader, randomToken, startGateway } from './lib/gateway.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

const COOKIE = process.env.GATEHOUSE_COOKIE_NAME || 'gatehouse_session';

async function verify(gw, cookies, extraHeaders = {}) {
  return fetch(`${gw.base}/auth/verify`, {
    redirect: 'manual',
    headers: { accept: 'application/json', cookie: cookieHeader(cookies), ...extraHeaders },
  });
}

/** The password form (the one posting to /login/password) and its submit button. */
function passwordForm(page) {
  const form = page.locator('form[action$="/login/password"]');
  return { form, submit: form.locator('button[type="submit"], input[type="submit"], button:not([type])').first() };
}

for (const store of stores) {
  describe(`password login in Chromium (${store.name} store)`, { concurrency: false }, () => {
    let gw;
    let browser;
    let page;
    let tenant;
    let user;
    const email = 'alice@acme.test';
    const password = `Pw-${randomToken(8)}-ok!`;
    const shot = (name) => screenshot(page, `${store.name}-${name}`);

    before(async () => {
      gw = await startGateway({ redisUrl: store.redisUrl });
      tenant = await gw.createTenant();
      assert.ok(tenant.id, `tenant has an id: ${JSON.stringify(tenant)}`);
      user = await gw.createUser(tenant.id, { email, password, display_name: 'Alice', groups: ['eng'] });
      assert.ok(user.id, `user has an id: ${JSON.stringify(user)}`);
      browser = await launchBrowser();
      page = await browser.context.newPage();
    });

    after(async (t) => {
      if (browser) await browser.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
    });

    it('GET / without a session sends the browser to the login page', async () => {
      await page.goto(`${gw.base}/`);
      assert.equal(new URL(page.url()).pathname, '/login', `landed on ${page.url()}`);
    });

    it('the login page has a heading, labelled fields and the other-provider section', async () => {
      await page.goto(`${gw.base}/login`);
      await shot('login');
      const heading = page.getByRole('heading').first();
      assert.ok(await heading.isVisible(), 'a visible heading');
      assert.notEqual((await heading.innerText()).trim(), '', 'the heading has text');

      const emailField = page.getByLabel(/e-?mail/i).first();
      const passwordField = page.getByLabel(/password/i).first();
      assert.ok(await emailField.isVisible(), 'an email field with a label');
      assert.ok(await passwordField.isVisible(), 'a password field with a label');
      assert.equal(await passwordField.getAttribute('type'), 'password');
      assert.equal(await emailField.getAttribute('name'), 'email');
      assert.equal(await passwordField.getAttribute('name'), 'password');

      assert.ok(
        await page.getByText(/log in with another provider/i).first().isVisible(),
        '"Log in with another provider" section',
      );
      const csrf = page.locator('form[action$="/login/password"] input[name="csrf_token"]');
      assert.equal(await csrf.count(), 1, 'the password form carries a csrf_token');
    });

    it('a wrong password shows an error and creates no session', async () => {
      await page.goto(`${gw.base}/login`);
      const { submit } = passwordForm(page);
      await page.getByLabel(/e-?mail/i).first().fill(email);
      await page.getByLabel(/password/i).first().fill(`${password}-wrong`);
      await submit.click();
      await page.waitForLoadState('load');
      await shot('login-wrong-password');
      const alert = page.getByRole('alert').first();
      assert.ok(await alert.isVisible(), 'an error shown with role="alert"');
      const message = await alert.innerText();
      assert.match(message, /invalid|incorrect|wrong|not match|doesn.t match|failed|not recognized/i, message);
      assert.notEqual(new URL(page.url()).pathname, '/', 'still not signed in');

      const cookies = await browser.context.cookies(gw.base);
      assert.equal(
        cookies.filter((c) => c.name === COOKIE).length,
        0,
        `no session cookie: ${cookies.map((c) => c.name).join(', ')}`,
      );
      const res = await verify(gw, cookies);
      assert.equal(res.status, 401);
    });

    let signedInCookies;

    it('the right password lands on / showing the email', async () => {
      await page.goto(`${gw.base}/login`);
      const { submit } = passwordForm(page);
      await page.getByLabel(/e-?mail/i).first().fill(email);
      await page.getByLabel(/password/i).first().fill(password);
      await Promise.all([page.waitForURL(`${gw.base}/`), submit.click()]);
      await shot('signed-in');
      assert.match(await page.locator('body').innerText(), new RegExp(email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'));

      signedInCookies = await browser.context.cookies(gw.base);
      const session = signedInCookies.find((c) => c.name === COOKIE);
      assert.ok(session, `session cookie ${COOKIE} set`);
      assert.equal(session.httpOnly, true, 'session cookie is HttpOnly');
      assert.equal(session.sameSite, 'Lax', 'session cookie is SameSite=Lax');
    });

    it('/auth/verify accepts the browser cookies and names the user', async () => {
      const res = await verify(gw, signedInCookies);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-gatehouse-user'), String(user.id));
      assert.equal(res.headers.get('x-gatehouse-email'), email);
      assert.equal(res.headers.get('x-gatehouse-tenant'), String(tenant.id));
      const groups = (res.headers.get('x-gatehouse-groups') || '').split(',').map((g) => g.trim());
      assert.ok(groups.includes('eng'), `groups: ${groups}`);
    });

    it('signing out ends the session everywhere', async () => {
      await page.goto(`${gw.base}/`);
      const signOut = page
        .getByRole('button', { name: /sign out|log out|logout/i })
        .or(page.getByRole('link', { name: /sign out|log out|logout/i }))
        .first();
      await signOut.click();
      await page.waitForLoadState('load');
      // A confirmation page (as GET /logout may show) still offers a sign-out button: press it.
      const confirm = page.getByRole('button', { name: /sign out|log out|logout|confirm|yes/i });
      if ((await confirm.count()) > 0) {
        await shot('logout-confirm');
        await confirm.first().click();
        await page.waitForLoadState('load');
      }
      await shot('signed-out');
      assert.match(await page.locator('body').innerText(), /signed out|logged out/i);

      // The cookie the browser held before is no longer honoured (the session record is gone) ...
      const old = await verify(gw, signedInCookies);
      assert.equal(old.status, 401);
      // ... and the browser's current cookies do not sign anyone in either.
      const now = await verify(gw, await browser.context.cookies(gw.base));
      assert.equal(now.status, 401);
      await page.goto(`${gw.base}/`);
      assert.equal(new URL(page.url()).pathname, '/login');
    });
  });
}
