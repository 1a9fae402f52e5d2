// The Domains page in a real browser, against a real DNS server (dnsmasq on loopback, see
// lib/dns.mjs): a tenant admin adds a domain, copies the TXT record from the instructions,
// the first check fails with the precise reason (NXDOMAIN), the record is published, the
// check passes and the domain shows as verified by DNS TXT. Screenshots in
// artifacts/console-domains-*.png; axe-core in each state (artifacts/axe-console-domains*.json).
// Runs on the embedded store, and again on Redis when GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertAccessible, runAxe, writeAxeSummary } from './lib/axe.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { startDns } from './lib/dns.mjs';
import { randomToken, startGateway } from './lib/gateway.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

for (const store of stores) {
  describe(`console Domains page in Chromium (${store.name} store)`, { concurrency: false }, () => {
    const prefix = store.name === 'embedded' ? 'console-domains' : `console-domains-${store.name}`;
    let dns;
    let gw;
    let browser;
    let page;
    let tenant;
    const axe = {};
    const primary = `acme-${randomToken(4)}.test`;
    const added = `eu-${primary}`;
    const adminEmail = `it@${primary}`;
    const adminPassword = `Adm-${randomToken(8)}-ok!`;

    async function capture(name) {
      await page.waitForLoadState('load');
      await screenshot(page, `${prefix}-${name}`);
      axe[name] = await runAxe(page);
    }

    const pending = () => page.locator('section.pending', { hasText: added });

    before(async () => {
      dns = await startDns();
      gw = await startGateway({
        redisUrl: store.redisUrl,
        env: {
          GATEHOUSE_DNS__NAMESERVERS: `["${dns.address}"]`,
          GATEHOUSE_DNS__TIMEOUT_SECS: '2',
        },
      });
      tenant = await gw.createTenant({ name: 'Acme', primary_domain: primary });
      await gw.createUser(tenant.id, { email: adminEmail, password: adminPassword, role: 'tenant_admin' });
      browser = await launchBrowser();
      await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.base });
      page = await browser.context.newPage();
    });

    after(async (t) => {
      if (gw) await writeAxeSummary(prefix, axe, gw.base);
      if (browser) await browser.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
      if (dns) await dns.stop();
    });

    it('a tenant admin opens Domains from the console menu', async () => {
      await page.goto(`${gw.base}/admin`);
      const form = page.locator('form[action="/login/password"]');
      await form.getByLabel('Work email').fill(adminEmail);
      await form.getByLabel('Password').fill(adminPassword);
      await Promise.all([
        page.waitForURL(/\/admin\/tenants\/tn_[^/]+$/),
        form.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Domains' }).click();
      await page.waitForURL(/\/domains$/);
      assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Domains of Acme');
      const row = page.getByRole('row', { name: new RegExp(primary.replace(/\./g, '\\.')) });
      assert.match(await row.innerText(), /primary/);
      assert.match(await row.innerText(), /added by an operator/);
      assert.equal(
        await page.getByRole('radio').count(),
        0,
        'a tenant admin is offered no way to skip the proof',
      );
      await capture('start');
    });

    it('adds a domain and gets the TXT record to publish, with copy buttons', async () => {
      await page.getByLabel('Domain (e.g. example.com)').fill(added.toUpperCase());
      await Promise.all([
        page.waitForURL(/notice=added$/),
        page.getByRole('button', { name: 'Add domain' }).click(),
      ]);
      assert.match(await page.getByRole('status').innerText(), /Publish the TXT record/);
      const card = pending();
      assert.match(await card.getByRole('heading').innerText(), /waiting for its DNS proof/);
      assert.equal(await card.locator('code[id^="txt-name"]').innerText(), `_gatehouse-challenge.${added}`);
      const value = await card.locator('code[id^="txt-value"]').innerText();
      assert.match(value, /^gatehouse-domain-verification=[0-9a-f]{40}$/);
      const copyValue = card.getByRole('button', { name: `Copy the record value for ${added}` });
      await copyValue.click();
      await page.waitForFunction(
        (b) => b.textContent === 'Copied',
        await copyValue.elementHandle(),
      );
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
      assert.equal(await card.getByRole('button', { name: `Copy the record name for ${added}` }).count(), 1);
      assert.match(await card.innerText(), /Not checked yet/);
      // The button reads "Copy" again after a moment.
      await page.waitForFunction((b) => b.textContent === 'Copy', await copyValue.elementHandle());
      await capture('pending');
    });

    it('the check fails with the precise reason while the record is missing', async () => {
      await Promise.all([
        page.waitForURL(/error=check_failed$/),
        pending().getByRole('button', { name: `Check now: ${added}` }).click(),
      ]);
      assert.match(await page.getByRole('alert').first().innerText(), /Not verified yet/);
      const result = await pending().locator('.last-check').innerText();
      assert.match(result, new RegExp(`the name _gatehouse-challenge\\.${added.replace(/\./g, '\\.')} does not exist in DNS \\(NXDOMAIN\\)`));
      await capture('check-failed');
    });

    it('once the record is published, the check passes and the domain is verified', async () => {
      const value = await pending().locator('code[id^="txt-value"]').innerText();
      await dns.publish({ txt: [[`_gatehouse-challenge.${added}`, value]] });
      await Promise.all([
        page.waitForURL(/notice=verified$/),
        pending().getByRole('button', { name: `Check now: ${added}` }).click(),
      ]);
      assert.match(await page.getByRole('status').innerText(), /Domain verified/);
      assert.equal(await pending().count(), 0, 'no longer pending');
      const row = page.getByRole('row', { name: new RegExp(added.replace(/\./g, '\\.')) });
      assert.match(await row.innerText(), /secondary/);
      assert.match(await row.innerText(), new RegExp(`verified by DNS TXT on \\d{4}-\\d{2}-\\d{2} \\(${adminEmail.replace(/\./g, '\\.')}\\)`));
      await capture('verified');
      // The overview lists it among the verified domains.
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Acme' }).click();
      await page.waitForURL(/\/admin\/tenants\/tn_[^/]+$/);
      assert.match(await page.locator('main').innerText(), new RegExp(`Secondary domains \\(verified\\)\\s+${added.replace(/\./g, '\\.')}`));
      // And it routes to the tenant now (no SSO connection yet: the page names the organisation).
      const r = await fetch(`${gw.base}/login/sso?domain=${added}`, { redirect: 'manual' });
      assert.equal(r.status, 409);
      assert.match(await r.text(), /Acme has not finished connecting its identity provider/);
    });

    it('axe-core: no serious or critical violation in any state', () => {
      assertAccessible(axe, ['start', 'pending', 'check-failed', 'verified']);
    });
  });
}
