// The console's Logs in a real browser: a tenant admin looks at the three views — sign-ins
// (a refused and a successful password sign-in), provisioning (SCIM writes through an API
// key the admin made in the console, one of them JumpCloud's refused test user) and
// configuration changes (the SAML connection imported through the admin API from a metadata
// URL, with its certificate's fingerprint; the API key made in the console; the IdP's
// certificate rollover picked up with "Refresh from the metadata URL now") — filters each,
// and sees the reference ids the admin API reports. An operator's organisations list warns
// about the tenant whose IdP certificate expires within 30 days. Every view is screenshotted
// (artifacts/console-logs-*.png) and checked with axe-core: no serious or critical violation.
// Runs on the embedded store, and again on Redis when GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertAccessible, runAxe, writeAxeSummary } from './lib/axe.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { randomToken, startGateway } from './lib/gateway.mjs';
import { makeKeyAndCertificate } from './lib/saml_idp.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

/** IdP metadata with one signing KeyDescriptor per PEM certificate. */
function metadataXml(pems) {
  const keys = pems
    .map((pem) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''))
    .map((b64) => `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
    .join('');
  return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://www.okta.com/exkAcme"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.example/app/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
}

/** The IdP's metadata URL on loopback, serving `host.document`. */
async function startMetadataHost() {
  const host = { document: '', close: () => {} };
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    res.end(host.document);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.url = `http://127.0.0.1:${server.address().port}/app/exkAcme/sso/saml/metadata`;
  host.close = () => new Promise((resolve) => server.close(resolve));
  return host;
}

for (const store of stores) {
  describe(`console logs in Chromium (${store.name} store)`, { concurrency: false }, () => {
    const prefix = store.name === 'embedded' ? 'console-logs' : `console-logs-${store.name}`;
    const domain = 'acme.test';
    const admin = { email: `it@${domain}`, password: `Adm-${randomToken(8)}-ok!` };
    const staff = { email: `staff@${domain}`, password: `Stf-${randomToken(8)}-ok!` };
    const operator = { email: 'root@ops.test', password: `Ops-${randomToken(8)}-ok!` };
    let gw;
    let browser;
    let page;
    let tenant;
    let certificate; // the IdP's, valid for 2 days: within the 30-day warning
    let nextCertificate; // the one it rolls over to
    let metadataHost;
    /** page name -> axe summary */
    const axe = {};

    async function capture(name) {
      await page.waitForLoadState('load');
      await screenshot(page, `${prefix}-${name}`);
      axe[name] = await runAxe(page);
    }

    /** The visible rows of the log table, as text. */
    const tableRows = () => page.locator('table.events tbody tr').allInnerTexts();

    async function signIn({ email, password }, returnTo) {
      await page.goto(`${gw.base}/login?return_to=${encodeURIComponent(returnTo)}`);
      const form = page.locator('form[action="/login/password"]');
      await form.getByLabel('Work email').fill(email);
      await form.getByLabel('Password').fill(password);
      await form.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
    }

    async function openTab(name) {
      const tabs = page.getByRole('navigation', { name: 'Logs' });
      await Promise.all([page.waitForLoadState('load'), tabs.getByRole('link', { name }).click()]);
      assert.equal(await tabs.locator('[aria-current="page"]').innerText(), name);
    }

    async function filter(fields) {
      for (const [label, value] of Object.entries(fields)) {
        const field = page.getByLabel(label, { exact: true });
        if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
        else await field.fill(value);
      }
      const before = page.url();
      await Promise.all([
        page.waitForURL((u) => u.href !== before),
        page.getByRole('button', { name: 'Filter' }).click(),
      ]);
    }

    const apiItems = async (apiPath) => (await gw.api('GET', apiPath, undefined, { expect: 200 })).body.items;

    before(async () => {
      metadataHost = await startMetadataHost();
      // Loopback metadata URLs allowed (the test's IdP); the periodic refresh left to the button.
      gw = await startGateway({
        redisUrl: store.redisUrl,
        env: { GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK: 'true', GATEHOUSE_SAML_METADATA_REFRESH_INTERVAL_SECS: '0' },
      });
      tenant = await gw.createTenant({ name: 'Acme', primary_domain: domain });
      await gw.createUser(tenant.id, { ...admin, role: 'tenant_admin' });
      await gw.createUser(tenant.id, staff);
      const ops = await gw.createTenant({ name: 'Gatehouse Ops', primary_domain: 'ops.test' });
      await gw.createUser(ops.id, { ...operator, role: 'operator' });
      ({ certificate } = await makeKeyAndCertificate('acme-okta-signing'));
      ({ certificate: nextCertificate } = await makeKeyAndCertificate('acme-okta-signing-next'));
      metadataHost.document = metadataXml([certificate]);
      await gw.api('PUT', `/tenants/${tenant.id}/saml`, { provider: 'okta', metadata_url: metadataHost.url }, { expect: 200 });
      browser = await launchBrowser();
      page = await browser.context.newPage();
    });

    after(async () => {
      if (gw) await writeAxeSummary(prefix, axe, gw.base);
      if (browser) await browser.close();
      if (gw) await gw.stop();
      if (metadataHost) await metadataHost.close();
    });

    it('sign-ins: a refused and a successful password sign-in, with their reference ids', async () => {
      await signIn({ email: staff.email, password: 'not the password' }, '/');
      const logs = `/admin/tenants/${tenant.id}/logs`;
      await signIn(admin, logs);
      assert.equal(new URL(page.url()).pathname, logs);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Login events');
      const events = await apiItems(`/tenants/${tenant.id}/login-events`);
      assert.ok(events.length >= 2, JSON.stringify(events));
      const table = (await tableRows()).join('\n');
      for (const e of events) assert.ok(table.includes(e.reference), `reference ${e.reference} is shown:\n${table}`);
      await capture('signins');

      await filter({ 'Person (email contains)': 'staff', Result: 'refused' });
      const rows = await tableRows();
      assert.equal(rows.length, 1, rows.join('\n'));
      assert.match(rows[0], /staff@acme\.test/);
      assert.match(rows[0], /refused/);
      assert.match(rows[0], /wrong password/);
    });

    it('provisioning: SCIM writes through a key made in the console, filtered by person and result', async () => {
      await page.goto(`${gw.base}/admin/tenants/${tenant.id}/api-keys`);
      await page.getByLabel(/^Label/).fill('Okta SCIM');
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Create key' }).click()]);
      const secret = await page.locator('#new-secret').innerText();
      const scim = (userName) =>
        fetch(`${gw.base}/scim/v2/Users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, active: true }),
        });
      assert.equal((await scim(`new.hire@${domain}`)).status, 201);
      assert.equal((await scim('scim.test@jumpcloud.com')).status, 400, "JumpCloud's test user is outside acme.test");

      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Logs', exact: true }).click();
      await openTab('Provisioning');
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Provisioning log');
      const [failed, created] = await apiItems(`/tenants/${tenant.id}/provisioning-log`);
      const rows = await tableRows();
      assert.equal(rows.length, 2, rows.join('\n'));
      assert.ok(rows[0].includes(failed.id) && /scim\.test@jumpcloud\.com/.test(rows[0]), rows[0]);
      assert.match(rows[0], /Okta SCIM\s+create User/);
      assert.match(rows[0], /failed · HTTP 400/);
      assert.match(rows[0], /secondary domain/);
      assert.ok(rows[1].includes(created.id) && rows[1].includes(`new.hire@${domain}`), rows[1]);
      assert.match(rows[1], /succeeded · HTTP 201/);
      await capture('provisioning');

      await filter({ 'Person or group (name contains)': 'JUMPCLOUD', Result: 'failed' });
      const filtered = await tableRows();
      assert.equal(filtered.length, 1, filtered.join('\n'));
      assert.ok(filtered[0].includes(failed.id));
      await filter({ 'Person or group (name contains)': '', Result: 'succeeded' });
      assert.deepEqual((await tableRows()).map((r) => r.includes(created.id)), [true]);

      // A date that is not one: a 400 page that says how to write it.
      await page.getByLabel('From (YYYY-MM-DD)').fill('last week');
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('since=last')),
        page.getByRole('button', { name: 'Filter' }).click(),
      ]);
      assert.equal(response.status(), 400);
      assert.match(await page.locator('main').innerText(), /Use the form YYYY-MM-DD/);
      await capture('bad-date');
      await page.getByRole('link', { name: 'Back to the logs' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/logs/provisioning`);
    });

    it('SAML: the IdP rolls its certificate over; "Refresh from the metadata URL now" picks it up', async () => {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Authentication › SAML' }).click();
      await page.waitForURL(`${gw.base}/admin/tenants/${tenant.id}/saml`);
      const section = page.locator('section', { has: page.getByRole('heading', { name: 'IdP metadata URL' }) });
      assert.match(await section.innerText(), /Not refreshed since the settings were saved/);
      assert.equal(await page.locator('ul.certs li').count(), 1);

      metadataHost.document = metadataXml([certificate, nextCertificate]);
      await Promise.all([
        page.waitForURL(/notice=metadata_changed$/),
        page.getByRole('button', { name: 'Refresh from the metadata URL now' }).click(),
      ]);
      assert.match(await page.getByRole('status').innerText(), /the new values were applied/);
      const certs = await page.locator('ul.certs').innerText();
      for (const pem of [certificate, nextCertificate]) {
        assert.ok(certs.includes(new X509Certificate(pem).fingerprint256), certs);
      }
      assert.match(certs, /expires \d{4}-\d\d-\d\d \(\d days?\) expires soon/);
      assert.match(await section.innerText(), /Last refreshed at \d{4}-/);
      await capture('saml-refresh');
    });

    it('configuration changes: who changed what, with fingerprints, filtered by area', async () => {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Logs', exact: true }).click();
      await openTab('Configuration changes');
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Configuration changes');
      const changes = await apiItems(`/tenants/${tenant.id}/changes`);
      const rows = await tableRows();
      assert.equal(rows.length, changes.length, rows.join('\n'));
      for (const [i, c] of changes.entries()) assert.ok(rows[i].includes(c.id), `${c.id} in row ${i}: ${rows[i]}`);
      const key = rows.find((r) => r.includes('API key "Okta SCIM" created'));
      assert.ok(key?.includes(admin.email), `made by the admin in the console: ${key}`);
      const saml = rows.find((r) => r.includes('SAML connection set up'));
      assert.ok(saml, rows.join('\n'));
      assert.match(saml, /admin API token/);
      const fp = new X509Certificate(certificate).fingerprint256;
      assert.ok(saml.includes(`certificate added: SHA-256 ${fp}`), saml);
      assert.ok(saml.includes(`metadata URL: ${metadataHost.url}`), saml);
      const rollover = rows.find((r) => r.includes("SAML connection updated from the IdP's metadata URL"));
      assert.ok(rollover?.includes('Gatehouse (metadata refresh)'), `the gateway made it: ${rollover}`);
      const next = new X509Certificate(nextCertificate).fingerprint256;
      assert.ok(rollover.includes(`certificate added: SHA-256 ${next}`), rollover);
      await capture('changes');

      await filter({ Area: 'saml' });
      const only = await tableRows();
      assert.equal(only.length, 2, only.join('\n'));
      assert.ok(only.every((r) => /\bSAML\b/.test(r) && !r.includes('API key')), only.join('\n'));
    });

    it("an operator's organisations list warns about the certificate expiring within 30 days", async () => {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForLoadState('load');
      await signIn(operator, '/admin');
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Organisations');
      assert.match(
        await page.getByRole('alert').innerText(),
        /One organisation has an IdP signing certificate that expires within 30 days/,
      );
      assert.match(await page.getByRole('row', { name: /Acme/ }).innerText(), /expires \d{4}-\d\d-\d\d \(\d days?\)/);
      assert.doesNotMatch(await page.getByRole('row', { name: /Gatehouse Ops/ }).innerText(), /expires/);
      await capture('organisations');
    });

    it('axe-core: no serious or critical violation on any logs page', () => {
      assertAccessible(axe, ['bad-date', 'changes', 'organisations', 'provisioning', 'saml-refresh', 'signins']);
    });
  });
}
