// Setting an organisation up through the console alone, in a real browser: the first
// operator (from the start-up setup link) adds an organisation, then its first tenant admin
// on its Users page; that admin signs in, adds a colleague and changes a role. A tenant admin
// is offered no "operator" role and no way to add organisations. Screenshots in
// artifacts/console-people-*.png; axe-core on every page (artifacts/axe-console-people.json).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertAccessible, runAxe, writeAxeSummary } from './lib/axe.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { randomToken, startGateway } from './lib/gateway.mjs';

describe('setting an organisation up through the console (Chromium)', { concurrency: false }, () => {
  const prefix = 'console-people';
  let gw;
  let browser;
  let page;
  const axe = {};
  const domain = 'globex.test';
  const adminEmail = `it@${domain}`;
  const adminPassword = `Adm-${randomToken(8)}-ok!`;

  async function capture(name) {
    await page.waitForLoadState('load');
    await screenshot(page, `${prefix}-${name}`);
    axe[name] = await runAxe(page);
  }

  const heading = () => page.getByRole('heading', { level: 1 }).innerText();

  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState('load');
    await browser.context.clearCookies();
  }

  before(async () => {
    gw = await startGateway({ env: { GATEHOUSE_LOG: 'info' } });
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
  });

  it('the operator adds an organisation; a bad domain is explained and what was typed is kept', async () => {
    let link;
    for (let i = 0; i < 50 && !link; i += 1) {
      link = gw.output().match(/http:\/\/127\.0\.0\.1:\d+\/setup\/[A-Za-z0-9_-]+/)?.[0];
      if (!link) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(link, 'the gateway printed a setup link');
    await page.goto(link);
    await page.getByLabel("Your organisation's name").fill('Gatehouse Ops');
    await page.getByLabel('Your work email').fill('root@ops.test');
    await page.getByLabel(/^Password/).fill(`Root-${randomToken(8)}-ok!`);
    await Promise.all([
      page.waitForURL(`${gw.base}/admin`),
      page.getByRole('button', { name: 'Create the operator account' }).click(),
    ]);
    assert.equal(await heading(), 'Organisations');

    await page.getByRole('link', { name: 'Add an organisation' }).click();
    await page.waitForURL(`${gw.base}/admin/organisations/new`);
    await capture('organisation-new');
    await page.getByLabel('Name').fill('Globex');
    await page.getByLabel('Primary domain').fill('globex test');
    await page.getByRole('button', { name: 'Add organisation' }).click();
    await page.waitForLoadState('load');
    const alert = await page.getByRole('alert').innerText();
    assert.match(alert, /Not added — primary_domain/);
    assert.equal(await page.getByLabel('Name').inputValue(), 'Globex', 'typed values are kept');
    await capture('organisation-new-refused');

    await page.getByLabel('Primary domain').fill(domain.toUpperCase());
    await page.getByLabel('Secondary domains (optional)').fill('globex-corp.test');
    await Promise.all([
      page.waitForURL(/\/admin\/tenants\/tn_[^/?]+\?notice=organisation_added$/),
      page.getByRole('button', { name: 'Add organisation' }).click(),
    ]);
    assert.equal(await heading(), 'Globex');
    assert.match(await page.getByRole('status').innerText(), /organisation was added/);
    assert.match(await page.locator('main').innerText(), /globex\.test/);
    await capture('organisation-added');
  });

  it('the operator adds the first tenant admin on the Users page, then signs out', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(/\/users$/);
    const roles = await page.getByLabel('Role', { exact: true }).locator('option').allInnerTexts();
    assert.deepEqual(roles, ['member', 'tenant admin', 'operator'], 'operators may give every role');
    await page.getByLabel('Email address').fill(adminEmail);
    await page.getByLabel('Display name (optional)').fill('Ida Admin');
    await page.getByLabel('Role', { exact: true }).selectOption({ label: 'tenant admin' });
    await page.getByLabel('Password (optional)').fill(adminPassword);
    await Promise.all([
      page.waitForURL(/notice=person_added$/),
      page.getByRole('button', { name: 'Add person' }).click(),
    ]);
    const row = page.getByRole('row', { name: new RegExp(adminEmail) });
    assert.equal(await row.getByRole('combobox').inputValue(), 'tenant_admin');
    await capture('users-operator');
    await signOut();
  });

  it('the new tenant admin signs in, adds a colleague, and cannot hand out the operator role', async () => {
    await page.goto(`${gw.base}/admin`);
    const form = page.locator('form[action="/login/password"]');
    await form.getByLabel('Work email').fill(adminEmail);
    await form.getByLabel('Password').fill(adminPassword);
    await Promise.all([
      page.waitForURL(/\/admin\/tenants\/tn_[^/]+$/),
      form.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    assert.equal(await heading(), 'Globex');
    assert.equal(
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'All organisations' }).count(),
      0,
    );
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(/\/users$/);
    const roles = await page.getByLabel('Role', { exact: true }).locator('option').allInnerTexts();
    assert.deepEqual(roles, ['member', 'tenant admin'], 'no operator role for tenant admins');
    const me = page.getByRole('row', { name: new RegExp(adminEmail) });
    assert.match(await me.innerText(), /you/);
    assert.equal(await me.getByRole('button').count(), 0, 'no actions on oneself');

    await page.getByLabel('Email address').fill(`pat@${domain}`);
    await Promise.all([
      page.waitForURL(/notice=person_added$/),
      page.getByRole('button', { name: 'Add person' }).click(),
    ]);
    const pat = page.getByRole('row', { name: /pat@globex\.test/ });
    assert.equal(await pat.getByRole('combobox').inputValue(), 'member');
    await pat.getByRole('combobox').selectOption({ label: 'tenant admin' });
    await Promise.all([
      page.waitForURL(/notice=role$/),
      pat.getByRole('button', { name: /Change the role/ }).click(),
    ]);
    assert.equal(
      await page.getByRole('row', { name: /pat@globex\.test/ }).getByRole('combobox').inputValue(),
      'tenant_admin',
    );
    await capture('users-tenant-admin');

    const refused = await page.goto(`${gw.base}/admin/organisations/new`);
    assert.equal(refused.status(), 403);
    assert.equal(await heading(), 'Only operators add organisations');
    await capture('organisation-new-forbidden');
  });

  it('axe-core: no serious or critical violation on any page', () => {
    assertAccessible(axe, [
      'organisation-new', 'organisation-new-refused', 'organisation-added', 'users-operator',
      'users-tenant-admin', 'organisation-new-forbidden',
    ]);
  });
});
