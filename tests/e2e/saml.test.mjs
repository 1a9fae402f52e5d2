// SAML single sign-on in a real browser against an independent IdP (samlify from npm,
// lib/saml_idp.mjs): SP-initiated from the login page's "Log in with another provider"
// form, IdP-initiated with just-in-time provisioning, and IdP-initiated refused when the
// tenant does not allow it. Runs on the embedded store, and again on Redis when
// GATEHOUSE_TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { cookieHeader, startGateway } from './lib/gateway.mjs';
import { startSamlIdp } from './lib/saml_idp.mjs';

const stores = [{ name: 'embedded' }];
if (process.env.GATEHOUSE_TEST_REDIS_URL) {
  stores.push({ name: 'redis', redisUrl: process.env.GATEHOUSE_TEST_REDIS_URL });
}

const COOKIE = process.env.GATEHOUSE_COOKIE_NAME || 'gatehouse_session';
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function verify(gw, cookies) {
  return fetch(`${gw.base}/auth/verify`, {
    redirect: 'manual',
    headers: { accept: 'application/json', cookie: cookieHeader(cookies) },
  });
}

/** The log line the gateway wrote for an error page's reference (needs GATEHOUSE_LOG=info). */
function logLineFor(gw, reference) {
  return gw
    .output()
    .split('\n')
    .find((l) => l.includes(reference));
}

/** Any "page refused"/"page error" lines (for failure messages). */
function refusals(gw) {
  return gw
    .output()
    .split('\n')
    .filter((l) => /page refused|page error/.test(l))
    .join('\n');
}

for (const store of stores) {
  describe(`SAML single sign-on with a samlify IdP in Chromium (${store.name} store)`, { concurrency: false }, () => {
    let gw;
    let idp;
    let browser;
    // acme.test: SP-initiated only, no JIT; the IdP signs Response and Assertion.
    // globex.test: IdP-initiated allowed, JIT on; the IdP signs only the Assertion.
    let acme;
    let globex;
    let acmeSaml;
    let globexSaml;
    let acmeApp;
    let globexApp;
    let alice;
    const aliceEmail = 'alice@acme.test';
    const newbieEmail = `newbie-${store.name}@globex.test`;

    async function connect(tenant, { allowIdpInitiated, jit, signResponse }) {
      const { body } = await gw.api(
        'PUT',
        `/tenants/${tenant.id}/saml`,
        {
          provider: 'custom',
          idp_entity_id: idp.entityId,
          // Placeholder until the app exists at the IdP (its SSO URL names the app): set below.
          idp_sso_url: `${idp.base}/sso`,
          certificate: idp.certificate,
          allow_idp_initiated: allowIdpInitiated,
          jit_provisioning: jit,
          attributes: { email: null, first_name: 'firstName', last_name: 'lastName', groups: 'groups' },
        },
        { expect: 200 },
      );
      assert.equal(body.sp_entity_id, `${gw.base}/saml/metadata/${tenant.primary_domain}`);
      assert.equal(body.sp_acs_url, `${gw.base}/saml/acs/${tenant.primary_domain}`);
      // The IdP admin registers the SP from the metadata the gateway publishes.
      const res = await fetch(body.sp_metadata_url || body.sp_entity_id);
      assert.equal(res.status, 200, 'SP metadata is served');
      const app = idp.addApp(await res.text(), { signResponse });
      assert.equal(app.spEntityId, body.sp_entity_id, 'metadata entityID is the SP Entity ID');
      assert.equal(app.acsUrl, body.sp_acs_url, 'metadata ACS is the ACS URL');
      // ... and the gateway admin copies the app's SSO URL back.
      await gw.api(
        'PUT',
        `/tenants/${tenant.id}/saml`,
        {
          provider: 'custom',
          idp_entity_id: idp.entityId,
          idp_sso_url: app.ssoUrl,
          certificate: idp.certificate,
          allow_idp_initiated: allowIdpInitiated,
          jit_provisioning: jit,
          attributes: { email: null, first_name: 'firstName', last_name: 'lastName', groups: 'groups' },
        },
        { expect: 200 },
      );
      return { saml: body, app };
    }

    before(async () => {
      idp = await startSamlIdp();
      gw = await startGateway({ redisUrl: store.redisUrl, env: { GATEHOUSE_LOG: 'info' } });
      acme = await gw.createTenant({ name: 'Acme', primary_domain: 'acme.test' });
      globex = await gw.createTenant({ name: 'Globex', primary_domain: 'globex.test' });
      ({ saml: acmeSaml, app: acmeApp } = await connect(acme, { allowIdpInitiated: false, jit: false, signResponse: true }));
      ({ saml: globexSaml, app: globexApp } = await connect(globex, { allowIdpInitiated: true, jit: true, signResponse: false }));
      alice = await gw.createUser(acme.id, { email: aliceEmail, groups: ['eng'] });
      assert.ok(alice.id, `user has an id: ${JSON.stringify(alice)}`);
      idp.addUser(aliceEmail, { firstName: 'Alice', lastName: 'Liddell', groups: ['eng', 'ops'] });
      idp.addUser(newbieEmail, { firstName: 'Nora', lastName: 'Newbie', groups: ['sales'] });
      browser = await launchBrowser();
    });

    after(async (t) => {
      if (browser) await browser.close();
      if (idp) await idp.close();
      if (gw) {
        await gw.stop();
        if (process.env.GATEHOUSE_E2E_LOGS) t.diagnostic(gw.output());
      }
    });

    /**
     * The SP-initiated exchange from wherever `begin(page)` leaves the browser (it must end on
     * the IdP's sign-in form), through the IdP, back to `landing` signed in as Alice.
     */
    async function spInitiated(prefix, begin, landing) {
      const page = await browser.context.newPage();
      const shot = (name) => screenshot(page, `saml-${store.name}-${prefix}-${name}`);
      try {
        await begin(page, shot);
        await shot('idp-form');
        assert.ok(
          page.url().startsWith(acmeApp.ssoUrl),
          `on the IdP's SSO URL, not ${page.url()}\ngateway refusals:\n${refusals(gw)}`,
        );
        assert.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible(), 'the IdP sign-in form');

        // The AuthnRequest samlify parsed (and schema-validated) names our SP.
        const request = idp.lastRequest;
        assert.equal(request.app, acmeApp.n);
        assert.equal(request.issuer, acmeSaml.sp_entity_id);
        assert.ok(request.id, 'the AuthnRequest has an ID');
        assert.ok(request.relayState, 'a RelayState was sent');
        assert.doesNotMatch(request.relayState, /acme|\//, 'the RelayState is opaque');

        await page.getByLabel('Email').fill(aliceEmail);
        await Promise.all([
          page.waitForURL(landing, { timeout: 20000 }).catch(async (err) => {
            await shot('unexpected');
            throw new Error(`${err.message}\nlanded on ${page.url()}\ngateway refusals:\n${refusals(gw)}`);
          }),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ]);
        await shot('signed-in');
        const body = await page.locator('body').innerText();
        assert.match(body, /You are signed in/);
        assert.match(body, new RegExp(escapeRe(aliceEmail), 'i'));

        const response = idp.lastResponse;
        assert.equal(response.inResponseTo, request.id, 'the Response answered the AuthnRequest');
        assert.equal(response.relayState, request.relayState, 'the RelayState went back unchanged');
        assert.match(response.xml, new RegExp(`InResponseTo="${escapeRe(request.id)}"`));
        assert.match(response.xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
        assert.match(response.xml, /Algorithm="http:\/\/www\.w3\.org\/2001\/10\/xml-exc-c14n#"/);
        assert.equal((response.xml.match(/<ds:Signature\b/g) || []).length, 2, 'Assertion and Response signed');

        const cookies = await browser.context.cookies(gw.base);
        const session = cookies.find((c) => c.name === COOKIE);
        assert.ok(session, `session cookie ${COOKIE} set`);
        assert.equal(session.httpOnly, true);
        const res = await verify(gw, cookies);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-gatehouse-email'), aliceEmail);
        assert.equal(res.headers.get('x-gatehouse-user'), String(alice.id));
        assert.equal(res.headers.get('x-gatehouse-tenant'), String(acme.id));
        const groups = (res.headers.get('x-gatehouse-groups') || '').split(',').map((g) => g.trim());
        // An existing person keeps the groups the gateway has for them (the assertion's are
        // used when a person is created just in time).
        assert.ok(groups.includes('eng'), `groups: ${groups}`);
      } finally {
        await page.close();
        await browser.context.clearCookies();
      }
    }

    it('SP-initiated: login page → "Log in with another provider" → IdP sign-in → signed in on /', async () => {
      await spInitiated(
        'sp-form',
        async (page, shot) => {
          const consoleErrors = [];
          page.on('console', (m) => {
            if (m.type() === 'error') consoleErrors.push(m.text());
          });
          await page.goto(`${gw.base}/login`);
          await page.getByLabel('Company domain or work email').fill('acme.test');
          await shot('login');
          await page.getByRole('button', { name: 'Next' }).click();
          await page.waitForURL((u) => u.href.startsWith(acmeApp.ssoUrl)).catch(async (err) => {
            await shot('stuck');
            throw new Error(
              `the "Next" button did not take the browser to the IdP (${err.message.split('\n')[0]}); ` +
                `still on ${page.url()}; browser console errors:\n${consoleErrors.join('\n')}`,
            );
          });
        },
        `${gw.base}/`,
      );
    });

    it('SP-initiated from a /login/sso?domain= link, with a return_to carried through the IdP', async () => {
      const target = `${gw.base}/?via=sso-link`;
      await spInitiated(
        'sp-link',
        async (page) => {
          await page.goto(`${gw.base}/login/sso?domain=acme.test&return_to=${encodeURIComponent(target)}`);
        },
        target,
      );
    });

    it('IdP-initiated with JIT: a new user is created and signed in', async () => {
      const before = await gw.api('GET', `/tenants/${globex.id}/users`, undefined, { expect: 200 });
      assert.ok(!JSON.stringify(before.body).includes(newbieEmail), 'the user does not exist yet');

      const page = await browser.context.newPage();
      const shot = (name) => screenshot(page, `saml-${store.name}-${name}`);
      try {
        await page.goto(globexApp.startUrl);
        await shot('idp-init-idp-form');
        await page.getByLabel('Email').fill(newbieEmail);
        await Promise.all([
          page.waitForURL(`${gw.base}/`, { timeout: 20000 }).catch(async (err) => {
            await shot('idp-init-unexpected');
            throw new Error(`${err.message}\nlanded on ${page.url()}\ngateway refusals:\n${refusals(gw)}`);
          }),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ]);
        await shot('idp-init-signed-in');
        const body = await page.locator('body').innerText();
        assert.match(body, /You are signed in/);
        assert.match(body, new RegExp(escapeRe(newbieEmail), 'i'));

        const response = idp.lastResponse;
        assert.equal(response.inResponseTo, null, 'unsolicited');
        assert.doesNotMatch(response.xml, /InResponseTo=/, 'no InResponseTo anywhere');
        assert.equal(response.relayState, '');
        assert.equal((response.xml.match(/<ds:Signature\b/g) || []).length, 1, 'only the Assertion signed');
        assert.match(response.xml, /<saml:Assertion\b[^>]*>.*<ds:Signature\b/s, 'the signature is inside the Assertion');

        const res = await verify(gw, await browser.context.cookies(gw.base));
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-gatehouse-email'), newbieEmail);
        assert.equal(res.headers.get('x-gatehouse-tenant'), String(globex.id));

        const { body: listing } = await gw.api('GET', `/tenants/${globex.id}/users`, undefined, { expect: 200 });
        const created = listing.items.find((u) => u.email === newbieEmail);
        assert.ok(created, `JIT user listed: ${JSON.stringify(listing)}`);
        assert.equal(String(created.id), res.headers.get('x-gatehouse-user'));
        assert.deepEqual([...(created.groups || [])].sort(), ['sales'], `groups from the assertion: ${JSON.stringify(created)}`);
        assert.equal(created.display_name, 'Nora Newbie', `name from firstName/lastName: ${JSON.stringify(created)}`);
      } finally {
        await page.close();
        await browser.context.clearCookies();
      }
    });

    it('IdP-initiated when the tenant does not allow it: error page, no session', async () => {
      const page = await browser.context.newPage();
      const shot = (name) => screenshot(page, `saml-${store.name}-${name}`);
      try {
        await page.goto(acmeApp.startUrl);
        await page.getByLabel('Email').fill(aliceEmail);
        await Promise.all([
          page.waitForURL(acmeSaml.sp_acs_url),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ]);
        await page.waitForLoadState('load');
        await shot('idp-init-refused');
        const body = await page.locator('body').innerText();
        assert.match(body, /Single sign-on did not complete/);
        const ref = body.match(/Reference\W*([A-Za-z0-9_-]{6,})/);
        assert.ok(ref, `a reference on the page: ${body}`);
        assert.doesNotMatch(body, /You are signed in/);

        // The refusal is the IdP-initiated policy, not some other check (e.g. the signature).
        const line = logLineFor(gw, ref[1]);
        assert.ok(line, `the log has the reference ${ref[1]}:\n${gw.output().slice(-4000)}`);
        assert.match(line, /unsolicited|IdP-initiated/i, line);

        const cookies = await browser.context.cookies(gw.base);
        assert.equal(cookies.filter((c) => c.name === COOKIE).length, 0, 'no session cookie');
        assert.equal((await verify(gw, cookies)).status, 401);
      } finally {
        await page.close();
        await browser.context.clearCookies();
      }
    });
  });
}
