// The admin console in a real browser: a tenant admin signs in, configures SAML by copying
// the SP values into an independent IdP (samlify, lib/saml_idp.mjs) and pasting the IdP's
// values back, runs the test sign-in (all checks pass; a wrong certificate and a wrong
// audience each get their diagnostic), switches SSO-only on only after a passed test, and an
// end user's password login for the domain is then refused with the company SSO offered.
// Every console page is screenshotted (artifacts/console-*.png) and checked with axe-core:
// no violation of impact "serious" or "critical" (summary in artifacts/axe-console.json).
// Runs on the embedded store, and again on Redis when GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { blockingViolations, runAxe, writeAxeSummary } from './lib/axe.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { cookieHeader, randomToken, startGateway } from './lib/gateway.mjs';
import { makeKeyAndCertificate, startSamlIdp } from './lib/saml_idp.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

const COOKIE = process.env.GATEHOUSE_COOKIE_NAME || 'gatehouse_session';

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fingerprint = (pem) => new X509Certificate(pem).fingerprint256;

for (const store of stores) {
  describe(`admin console in Chromium (${store.name} store)`, { concurrency: false }, () => {
    const prefix = store.name === 'embedded' ? 'console' : `console-${store.name}`;
    let gw;
    let idp;
    let browser;
    let page;
    let tenant;
    let app; // the IdP's app registered from our metadata
    let sp; // { acs, entity, metadata } as the SAML page shows them
    const domain = 'acme.test';
    const adminEmail = `it@${domain}`;
    const adminPassword = `Adm-${randomToken(8)}-ok!`;
    const staffEmail = `staff@${domain}`;
    const staffPassword = `Stf-${randomToken(8)}-ok!`;
    const testPerson = `pat@${domain}`;
    /** page name -> axe summary */
    const axe = {};

    const shot = (name) => screenshot(page, `${prefix}-${name}`);

    /**
     * Screenshot and accessibility check of the page the browser is on. The axe verdict is
     * asserted by the last test, over every page, so one page's finding does not hide the
     * others' (nor stop the flow the later pages depend on).
     */
    async function capture(name) {
      await page.waitForLoadState('load');
      await shot(name);
      axe[name] = await runAxe(page);
    }

    /** Everything the gateway refused, for failure messages. */
    const refusals = () =>
      gw
        .output()
        .split('\n')
        .filter((l) => /refused|page error/i.test(l))
        .slice(-20)
        .join('\n');

    async function verify() {
      return fetch(`${gw.base}/auth/verify`, {
        redirect: 'manual',
        headers: { accept: 'application/json', cookie: cookieHeader(await browser.context.cookies(gw.base)) },
      });
    }

    async function gotoSaml() {
      await page.goto(`${gw.base}/admin/tenants/${tenant.id}/saml`);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Authentication › SAML');
    }

    /** Fill and save the SAML form; returns after the "Saved." notice. */
    async function saveSaml(fields) {
      await gotoSaml();
      if (fields.provider) await page.getByLabel('Provider', { exact: true }).selectOption({ label: fields.provider });
      if (fields.entityId !== undefined) await page.getByLabel('IdP Entity ID (Issuer)', { exact: true }).fill(fields.entityId);
      if (fields.ssoUrl !== undefined) await page.getByLabel('IdP SSO URL', { exact: true }).fill(fields.ssoUrl);
      if (fields.certificate !== undefined) await page.getByLabel('Certificate', { exact: true }).fill(fields.certificate);
      if (fields.jit) await page.getByLabel(/just-in-time/).check();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.waitForURL(/\?notice=saved$/).catch(async (err) => {
        await shot('saml-not-saved');
        throw new Error(`${err.message.split('\n')[0]}: ${await page.locator('main').innerText()}`);
      });
      assert.equal(await page.getByRole('status').innerText(), 'Saved.');
    }

    /** From the SAML page: "Test sign-in" → IdP sign-in as `email` → the report. */
    async function testSignIn(email) {
      await gotoSaml();
      await page.getByRole('button', { name: 'Test sign-in' }).click();
      await page.waitForURL((u) => u.href.startsWith(idp.base), { timeout: 20000 });
      assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible(), `the IdP's form, on ${page.url()}`);
      await page.getByLabel('Email').fill(email);
      await Promise.all([
        page.waitForURL(`${gw.base}/admin/tests/**`, { timeout: 20000 }).catch(async (err) => {
          await shot('test-unexpected');
          throw new Error(`${err.message.split('\n')[0]}\nlanded on ${page.url()}\ngateway refusals:\n${refusals()}`);
        }),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      await page.waitForLoadState('load');
    }

    /** The report's table: [{ label, result, observed, fix }]. */
    async function checks() {
      return page.locator('table.checks tbody tr').evaluateAll((rows) =>
        rows.map((r) => ({
          label: r.querySelector('th').innerText.trim(),
          result: r.querySelector('td:nth-of-type(1)').innerText.trim(),
          observed: r.querySelector('td:nth-of-type(2)').innerText.trim(),
          fix: r.querySelector('td:nth-of-type(3)').innerText.trim(),
        })),
      );
    }

    async function tenantPage(query = '') {
      await page.goto(`${gw.base}/admin/tenants/${tenant.id}${query}`);
      return page.locator('main').innerText();
    }

    async function switchSsoOnlyOn() {
      await tenantPage();
      await Promise.all([page.waitForURL(/\?(error|notice)=/), page.getByRole('button', { name: 'Switch SSO-only on' }).click()]);
      return page.locator('main').innerText();
    }

    before(async () => {
      idp = await startSamlIdp();
      gw = await startGateway({ redisUrl: store.redisUrl, env: { GATEHOUSE_LOG: 'info' } });
      tenant = await gw.createTenant({ name: 'Acme', primary_domain: domain });
      await gw.createUser(tenant.id, { email: adminEmail, password: adminPassword, role: 'tenant_admin' });
      await gw.createUser(tenant.id, { email: staffEmail, password: staffPassword, display_name: 'Sam Staff', groups: ['sales'] });
      idp.addUser(testPerson, { firstName: 'Pat', lastName: 'Tester', groups: ['eng', 'ops'] });
      idp.addUser(staffEmail, { firstName: 'Sam', lastName: 'Staff', groups: ['sales'] });
      idp.addUser(adminEmail, { firstName: 'Ida', lastName: 'Admin', groups: ['it'] });
      browser = await launchBrowser();
      page = await browser.context.newPage();
    });

    after(async (t) => {
      if (Object.keys(axe).length) await writeAxeSummary(prefix, axe, gw.base);
      if (browser) await browser.close();
      if (idp) await idp.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
    });

    it('the first-start setup link creates the operator, who lands on the organisations list', async () => {
      let link;
      for (let i = 0; i < 50 && !link; i += 1) {
        link = gw.output().match(/http:\/\/127\.0\.0\.1:\d+\/setup\/[A-Za-z0-9_-]+/)?.[0];
        if (!link) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(link, `the gateway printed a setup link:\n${gw.output()}`);
      await page.goto(link);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Create the operator account');
      await capture('setup');

      await page.getByLabel("Your organisation's name").fill('Gatehouse Ops');
      await page.getByLabel('Your work email').fill('root@ops.test');
      await page.getByLabel(/^Password/).fill(`Root-${randomToken(8)}-ok!`);
      await Promise.all([
        page.waitForURL(`${gw.base}/admin`),
        page.getByRole('button', { name: 'Create the operator account' }).click(),
      ]);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Organisations');
      const row = page.getByRole('row', { name: /Acme/ });
      assert.match(await row.innerText(), /acme\.test\s+off/);
      await capture('home');

      // The link worked once.
      await browser.context.clearCookies();
      const again = await page.goto(link);
      assert.equal(again.status(), 404);
    });

    it('a tenant admin signs in at /login and lands on their organisation in the console', async () => {
      await page.goto(`${gw.base}/admin`);
      assert.equal(new URL(page.url()).pathname, '/login', `sent to sign in: ${page.url()}`);
      assert.equal(new URL(page.url()).searchParams.get('return_to'), '/admin');
      await capture('login');

      const form = page.locator('form[action="/login/password"]');
      await form.getByLabel('Work email').fill(adminEmail);
      await form.getByLabel('Password').fill(adminPassword);
      await Promise.all([
        page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}`),
        form.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Acme');
      const nav = page.getByRole('navigation', { name: 'Console' });
      assert.match(await nav.innerText(), new RegExp(`Signed in as ${escapeRe(adminEmail)}`));
      assert.equal(await nav.getByRole('link', { name: 'All organisations' }).count(), 0, 'a tenant admin is no operator');
      assert.match(await page.locator('main').innerText(), /SAML\s+not set up/);
      await capture('tenant');
    });

    it('Authentication › SAML: the SP values have copy buttons; the IdP values are pasted and saved', async () => {
      await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.base });
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Authentication › SAML' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/saml`);
      sp = {
        acs: await page.locator('#sp-acs').innerText(),
        entity: await page.locator('#sp-entity').innerText(),
        metadata: await page.locator('#sp-metadata').innerText(),
      };
      assert.deepEqual(sp, {
        acs: `${gw.base}/saml/acs/${domain}`,
        entity: `${gw.base}/saml/metadata/${domain}`,
        metadata: `${gw.base}/saml/metadata/${domain}`,
      });

      // Each copy button puts its value on the clipboard (the script is same-origin, so the
      // CSP lets it run); the value stays selectable text for those without JavaScript.
      for (const [button, value] of [
        ['Copy the ACS URL', sp.acs],
        ['Copy the SP Entity ID', sp.entity],
        ['Copy the metadata URL', sp.metadata],
      ]) {
        await page.evaluate(() => navigator.clipboard.writeText('-'));
        const b = page.getByRole('button', { name: button });
        await b.click();
        await page.waitForFunction((v) => navigator.clipboard.readText().then((t) => t === v), value, { timeout: 5000 });
        assert.equal(await b.innerText(), 'Copied', 'the button says it copied');
      }
      const selected = await page.locator('#sp-acs').evaluate((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        return { text: sel.toString(), userSelect: getComputedStyle(el).userSelect };
      });
      assert.equal(selected.text, sp.acs);
      assert.notEqual(selected.userSelect, 'none');

      // The IdP admin registers the SP from the metadata URL just copied.
      const res = await fetch(await page.evaluate(() => navigator.clipboard.readText()));
      assert.equal(res.status, 200, 'the metadata URL serves the metadata');
      app = idp.addApp(await res.text());
      assert.equal(app.spEntityId, sp.entity, "the metadata's entityID is the SP Entity ID shown");
      assert.equal(app.acsUrl, sp.acs, "the metadata's ACS is the ACS URL shown");

      // ... and pastes the IdP's values back into the console.
      await saveSaml({ provider: 'Custom', entityId: idp.entityId, ssoUrl: app.ssoUrl, certificate: idp.certificate, jit: true });
      assert.equal(await page.getByLabel('IdP Entity ID (Issuer)', { exact: true }).inputValue(), idp.entityId);
      assert.equal(await page.getByLabel('IdP SSO URL', { exact: true }).inputValue(), app.ssoUrl);
      const certs = await page.locator('ul.certs').innerText();
      assert.match(certs, /e2e-samlify-idp/, 'the certificate is listed by subject');
      assert.ok(certs.includes(fingerprint(idp.certificate)), `the fingerprint is shown: ${certs}`);
      assert.ok(await page.getByRole('button', { name: 'Test sign-in' }).isVisible());
      await capture('saml');

      const { body } = await gw.api('GET', `/tenants/${tenant.id}/saml`, undefined, { expect: 200 });
      assert.equal(body.connection.idp_entity_id, idp.entityId, JSON.stringify(body));
      assert.equal(body.connection.idp_sso_url, app.ssoUrl);
    });

    it('SSO-only is refused before a test sign-in has passed, and the page says why', async () => {
      const text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?error=untested$/);
      assert.match(text, /SSO-only cannot be switched on yet: run a successful test sign-in/);
      assert.match(text, /Currently: off/);
      assert.match(text, /Last passed test sign-in\s+none for the current settings/);
      await capture('tenant-sso-only-refused');
      const { body } = await gw.api('GET', `/tenants/${tenant.id}`, undefined, { expect: 200 });
      assert.equal(body.sso_only, false);
    });

    it('Test sign-in: through the IdP and back to a report where every check passes', async () => {
      await testSignIn(testPerson);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in passed');
      const rows = await checks();
      assert.ok(rows.length >= 10, `every check is listed: ${JSON.stringify(rows)}`);
      for (const label of [
        'Signature and certificate',
        'Signature algorithm',
        'Issuer (IdP Entity ID)',
        'Audience (SP Entity ID)',
        'Destination (ACS URL)',
        'Recipient (ACS URL)',
        'InResponseTo (this test\'s request)',
        'Validity window and clocks',
        'Status',
        'Email and domain',
      ]) {
        assert.ok(rows.some((r) => r.label === label), `a row for ${label}`);
      }
      for (const r of rows) assert.equal(r.result, 'pass', `${r.label}: ${JSON.stringify(r)}`);
      const status = await page.getByRole('status').innerText();
      assert.match(status, /Every check passed/);
      assert.match(status, new RegExp(`would sign in as ${escapeRe(testPerson)}, groups: eng, ops; created just in time: yes`));
      const main = await page.locator('main').innerText();
      assert.ok(main.includes(fingerprint(idp.certificate)), 'the certificate used is named by fingerprint');
      assert.match(main, /Email\s+pat@acme\.test/);
      // The request the IdP answered was ours, and the test signed nobody in as Pat.
      assert.equal(idp.lastRequest.issuer, sp.entity);
      assert.equal(idp.lastResponse.inResponseTo, idp.lastRequest.id);
      const v = await verify();
      assert.equal(v.status, 200);
      assert.equal(v.headers.get('x-gatehouse-email'), adminEmail, 'still signed in as the admin');
      await capture('test-pass');
    });

    it('a wrong certificate: the Signature check fails, naming the certificate the IdP used', async () => {
      const other = await makeKeyAndCertificate('some-other-idp');
      await saveSaml({ certificate: other.certificate });
      assert.ok((await page.locator('ul.certs').innerText()).includes(fingerprint(other.certificate)));

      await testSignIn(testPerson);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in failed');
      const rows = await checks();
      const signature = rows.find((r) => r.label === 'Signature and certificate');
      assert.equal(signature.result, 'fail', JSON.stringify(signature));
      const used = fingerprint(idp.certificate);
      assert.equal(
        signature.fix,
        `The IdP signs with certificate ${used}, which is not configured here: paste the IdP's current signing certificate (or its metadata) into these settings.`,
      );
      assert.ok(signature.observed.includes(used), JSON.stringify(signature));
      for (const ok of ['Issuer (IdP Entity ID)', 'Audience (SP Entity ID)', 'Destination (ACS URL)']) {
        assert.equal(rows.find((r) => r.label === ok).result, 'pass', ok);
      }
      const main = await page.locator('main').innerText();
      assert.match(main, /Configured certificates\s+[0-9A-F:]+/);
      assert.ok(main.includes(fingerprint(other.certificate)), 'the configured certificate is listed too');
      await capture('test-fail-certificate');

      await saveSaml({ certificate: idp.certificate });
    });

    it('a wrong audience: the Audience check fails and says what to set in the IdP', async () => {
      // A second app at the IdP, whose "Audience URI (SP Entity ID)" was typed wrong.
      const metadata = await (await fetch(sp.metadata)).text();
      const wrong = 'https://wrong-audience.example/sp';
      const badApp = idp.addApp(metadata, { audience: wrong });
      await saveSaml({ ssoUrl: badApp.ssoUrl });

      await testSignIn(testPerson);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in failed');
      const rows = await checks();
      const audience = rows.find((r) => r.label === 'Audience (SP Entity ID)');
      assert.equal(audience.result, 'fail', JSON.stringify(audience));
      assert.ok(audience.observed.includes(wrong), JSON.stringify(audience));
      assert.ok(
        audience.fix.includes(`set the SP Entity ID (Audience URI) in your IdP to ${sp.entity}`),
        JSON.stringify(audience),
      );
      assert.equal(rows.find((r) => r.label === 'Signature and certificate').result, 'pass');
      assert.equal(rows.find((r) => r.label === 'Issuer (IdP Entity ID)').result, 'pass');
      await capture('test-fail-audience');

      await saveSaml({ ssoUrl: app.ssoUrl });
    });

    it('SSO-only: still refused for settings never tested, accepted after a passed test', async () => {
      // The settings changed since the first pass: failed tests do not count.
      let text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?error=untested$/);
      assert.match(text, /Currently: off/);

      await testSignIn(testPerson);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in passed');
      text = await tenantPage();
      assert.match(text, /Last passed test sign-in\s+\d{4}-\d\d-\d\dT/);

      text = await switchSsoOnlyOn();
      assert.match(page.url(), /\?notice=sso_only_on$/);
      assert.match(text, /SSO-only is on/);
      assert.match(text, /Currently: on/);
      assert.ok(await page.getByRole('button', { name: 'Switch SSO-only off' }).isVisible());
      await capture('tenant-sso-only-on');
      const { body } = await gw.api('GET', `/tenants/${tenant.id}`, undefined, { expect: 200 });
      assert.equal(body.sso_only, true);
    });

    it('users page: the people of the organisation, searchable', async () => {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/users`);
      let table = await page.locator('table').innerText();
      assert.ok(table.includes(adminEmail) && table.includes(staffEmail), table);
      assert.ok(!table.includes(testPerson), 'the test sign-in created nobody');
      await capture('users');
      await page.getByLabel('Search by email, name or group').fill('sales');
      await Promise.all([page.waitForURL(/\?q=sales$/), page.getByRole('button', { name: 'Search' }).click()]);
      table = await page.locator('table').innerText();
      assert.ok(table.includes(staffEmail) && !table.includes(adminEmail), table);
    });

    it('an end user\'s password login for the domain is refused, with the company SSO offered', async () => {
      await browser.context.clearCookies();
      await page.goto(`${gw.base}/login`);
      const form = page.locator('form[action="/login/password"]');
      await form.getByLabel('Work email').fill(staffEmail);
      await form.getByLabel('Password').fill(staffPassword);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${gw.base}/login/password`),
        form.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      assert.equal(response.status(), 403);
      await page.waitForLoadState('load');
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Use your company sign-in');
      assert.match(await page.locator('main').innerText(), /Acme requires everyone at acme\.test to sign in with the company's identity provider/);
      const offer = page.getByRole('link', { name: 'Continue with Acme single sign-on' });
      assert.equal(new URL(await offer.getAttribute('href'), gw.base).searchParams.get('domain'), domain);
      assert.equal((await browser.context.cookies(gw.base)).filter((c) => c.name === COOKIE).length, 0, 'no session');
      await capture('login-sso-only');

      // The offer works: it leads to the IdP, and back signed in.
      await offer.click();
      await page.waitForURL((u) => u.href.startsWith(app.ssoUrl));
      await page.getByLabel('Email').fill(staffEmail);
      await Promise.all([page.waitForURL(`${gw.base}/`, { timeout: 20000 }), page.getByRole('button', { name: 'Sign in' }).click()]);
      const v = await verify();
      assert.equal(v.status, 200);
      assert.equal(v.headers.get('x-gatehouse-email'), staffEmail);
      await browser.context.clearCookies();
    });

    it('the admin comes back through SSO; the logs show the tests and the refused password login', async () => {
      await page.goto(`${gw.base}/login/sso?domain=${domain}&return_to=${encodeURIComponent(`/admin/tenants/${tenant.id}/logs`)}`);
      await page.waitForURL((u) => u.href.startsWith(app.ssoUrl));
      await page.getByLabel('Email').fill(adminEmail);
      await Promise.all([
        page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/logs`, { timeout: 20000 }),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Login events');
      const table = await page.locator('table').innerText();
      assert.match(table, /saml · .*test/, 'test sign-ins are marked as tests');
      assert.ok(table.includes(`Audience was ${'https://wrong-audience.example/sp'}`), table);
      await capture('logs');

      await page.getByLabel('Person (email contains)').fill('staff');
      await page.getByLabel('Result').selectOption('refused');
      await Promise.all([page.waitForURL(/outcome=refused/), page.getByRole('button', { name: 'Filter' }).click()]);
      const rows = await page.locator('table tbody tr').allInnerTexts();
      assert.ok(rows.length >= 1, 'the refused password login is listed');
      for (const r of rows) {
        assert.ok(r.includes(staffEmail) && r.includes('refused'), r);
      }
      assert.ok(rows.some((r) => /password/.test(r)), rows.join('\n'));
    });

    it('a setup link lets the IT admin, without an account, finish SSO and provisioning only', async () => {
      const nav = page.getByRole('navigation', { name: 'Console' });
      await nav.getByRole('link', { name: 'Setup links' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/it-setup`);
      await page.getByLabel('Who it is for').fill('Jane, Acme IT');
      await page.getByLabel('Valid for').selectOption({ label: '1 day' });
      await page.getByRole('button', { name: 'Create link' }).click();
      await page.waitForLoadState('load');
      const link = await page.locator('#new-link-url').innerText();
      assert.match(link, new RegExp(`^${escapeRe(gw.base)}/it-setup/ghs_[A-Za-z0-9_-]{43}$`));
      await capture('it-setup');

      // Jane's own browser: no account, no session.
      const jane = await launchBrowser();
      const adminPage = page;
      try {
        page = await jane.context.newPage();
        await page.goto(link);
        assert.equal(page.url(), `${gw.base}/admin/tenants/${tenant.id}/saml`, 'the secret leaves the address bar');
        const janeNav = page.getByRole('navigation', { name: 'Console' });
        assert.deepEqual(
          await janeNav.getByRole('link').allInnerTexts(),
          ['Authentication › SAML', 'Provisioning (API keys)'],
          'only the pages the link opens',
        );
        assert.match(await janeNav.innerText(), /Jane, Acme IT/);
        await capture('guest-saml');

        await testSignIn(testPerson);
        assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Test sign-in passed');
        await capture('guest-test-pass');

        const users = await page.goto(`${gw.base}/admin/tenants/${tenant.id}/users`);
        assert.equal(users.status(), 403);
        assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Not part of this setup link');

        // Revoked by the admin: Jane's next click leads nowhere.
        const janePage = page;
        page = adminPage;
        // A fresh GET: reloading the page that showed the link would post the form again.
        await page.goto(`${gw.base}/admin/tenants/${tenant.id}/it-setup`);
        await Promise.all([
          page.waitForURL(/notice=revoked$/),
          page.getByRole('button', { name: 'Revoke the link for Jane, Acme IT' }).click(),
        ]);
        const after = await janePage.goto(`${gw.base}/admin/tenants/${tenant.id}/saml`);
        assert.equal(new URL(janePage.url()).pathname, '/login', `sent to sign in (${after.status()})`);
      } finally {
        page = adminPage;
        await jane.close();
      }
    });

    it('axe-core: no serious or critical violation on any console page', () => {
      const expected = [
        'setup', 'home', 'login', 'tenant', 'saml', 'tenant-sso-only-refused', 'test-pass',
        'test-fail-certificate', 'test-fail-audience', 'tenant-sso-only-on', 'users', 'login-sso-only', 'logs',
        'it-setup', 'guest-saml', 'guest-test-pass',
      ];
      assert.deepEqual(Object.keys(axe).sort(), [...expected].sort(), 'every page was checked');
      const blocking = blockingViolations(axe);
      assert.deepEqual(blocking, [], `serious or critical violations:\n${JSON.stringify(blocking, null, 2)}`);
      for (const [name, s] of Object.entries(axe)) assert.ok(s.passes > 10, `axe ran its rules on ${name}`);
    });
  });
}
