// An independent SAML 2.0 identity provider for end-to-end tests: samlify (npm) in the IdP
// role, served by a small node:http server on 127.0.0.1.
//
// - Its RSA key is generated at start (node:crypto) and its self-signed X.509 certificate is
//   made by `openssl req -x509`; nothing is shared with the gateway's own test fixtures.
// - Every message is checked against the SAML XSDs with @authenio/samlify-node-xmllint
//   (libxml2 compiled to JS/wasm): the AuthnRequest the gateway sends is parsed and
//   schema-validated by samlify, and so is every Response this IdP produces before it is sent.
// - Each registered service provider is an "app" with its own SSO URL (as Okta and others do):
//     GET  /apps/{n}/sso?SAMLRequest=&RelayState=   HTTP-Redirect binding, SP-initiated
//     GET  /apps/{n}/start                          IdP-initiated (unsolicited response)
//     POST /login                                   the sign-in form's target
//   The sign-in page asks for an email only; on submit the IdP answers with a page whose
//   form auto-posts SAMLResponse and RelayState to the SP's ACS (HTTP-POST binding).
// - Responses: the Assertion is signed (RSA-SHA256, exclusive c14n; samlify does that because
//   the SP metadata says WantAssertionsSigned), the Response too unless `signResponse: false`.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';

const execFileP = promisify(execFile);

samlify.setSchemaValidator({ validate: (xml) => xmllint.validate(xml) });

const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const BASIC_ATTR = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
const SIG_RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

export function xmlEscape(s) {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const htmlEscape = xmlEscape;

/** A fresh RSA key (PKCS#8 PEM) and a self-signed certificate for it (PEM), via openssl. */
export async function makeKeyAndCertificate(commonName = 'e2e-samlify-idp') {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-idp-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await writeFile(keyFile, privateKey, { mode: 0o600 });
    await execFileP('openssl', [
      'req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', '2',
      '-subj', `/CN=${commonName}`, '-out', certFile,
    ]);
    const certificate = await readFile(certFile, 'utf8');
    return { privateKey, certificate };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(title)}</title>
<style>body{font-family:sans-serif;background:#fff7e6;margin:3em}main{max-width:28em;margin:auto;border:2px solid #c80;padding:1.5em;border-radius:8px}</style>
</head><body><main><p><strong>Test IdP (samlify)</strong></p>${body}</main></body></html>`;
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The whole Response (before signing): Assertion with Subject, Conditions, AuthnStatement, attributes. */
function responseXml({ responseId, assertionId, issuer, destination, audience, inResponseTo, email, user, now }) {
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const t = now.getTime();
  const issueInstant = iso(t);
  const notBefore = iso(t - 60_000);
  const notOnOrAfter = iso(t + 5 * 60_000);
  const irt = inResponseTo ? ` InResponseTo="${xmlEscape(inResponseTo)}"` : '';
  const attr = (name, values) =>
    `<saml:Attribute Name="${xmlEscape(name)}" NameFormat="${BASIC_ATTR}">${values
      .map((v) => `<saml:AttributeValue xsi:type="xs:string">${xmlEscape(v)}</saml:AttributeValue>`)
      .join('')}</saml:Attribute>`;
  const attributes = [
    user.firstName !== undefined ? attr('firstName', [user.firstName]) : '',
    user.lastName !== undefined ? attr('lastName', [user.lastName]) : '',
    user.groups && user.groups.length ? attr('groups', user.groups) : '',
  ].join('');
  return (
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${issueInstant}" Destination="${xmlEscape(destination)}"${irt}>` +
    `<saml:Issuer>${xmlEscape(issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="${assertionId}" Version="2.0" IssueInstant="${issueInstant}">` +
    `<saml:Issuer>${xmlEscape(issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="${EMAIL_FORMAT}">${xmlEscape(email)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${xmlEscape(destination)}"${irt}/>` +
    `</saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${xmlEscape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${issueInstant}" SessionIndex="_s${randomBytes(8).toString('hex')}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion></samlp:Response>`
  );
}

export class SamlIdp {
  constructor({ server, base, privateKey, certificate }) {
    this.server = server;
    this.base = base;
    this.entityId = `${base}/metadata`;
    this.privateKey = privateKey;
    this.certificate = certificate;
    this.idp = samlify.IdentityProvider({
      entityID: this.entityId,
      privateKey,
      signingCert: certificate,
      requestSignatureAlgorithm: SIG_RSA_SHA256,
      nameIDFormat: [EMAIL_FORMAT],
      wantAuthnRequestsSigned: false,
      isAssertionEncrypted: false,
      singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: `${base}/sso` }],
      // Not served (no single logout in these tests); declared so samlify does not warn.
      singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: `${base}/slo` }],
    });
    /** email -> { firstName, lastName, groups } */
    this.users = new Map();
    this.apps = [];
    /** pending sign-ins: token -> { app, requestId, relayState } */
    this.pending = new Map();
    /** Every AuthnRequest received: { app, id, issuer, destination, acsUrl, relayState, xml }. */
    this.requests = [];
    /** Every Response sent: { app, email, inResponseTo, relayState, xml }. */
    this.responses = [];
    this.errors = [];
  }

  addUser(email, { firstName, lastName, groups = [] } = {}) {
    this.users.set(email.toLowerCase(), { email, firstName, lastName, groups });
  }

  /**
   * Register a service provider from its metadata XML. Returns the app's URLs.
   * signResponse: also sign the Response element (the Assertion is always signed).
   * audience: the "Audience URI (SP Entity ID)" typed into the app's settings, when it is not
   *   the metadata's entityID (a common setup mistake); it goes into the Assertion's Audience.
   */
  addApp(spMetadataXml, { signResponse = true, audience } = {}) {
    const n = this.apps.length + 1;
    const sp = samlify.ServiceProvider({ metadata: spMetadataXml, wantMessageSigned: signResponse });
    const app = {
      n,
      sp,
      spEntityId: sp.entityMeta.getEntityID(),
      acsUrl: sp.entityMeta.getAssertionConsumerService('post'),
      ssoUrl: `${this.base}/apps/${n}/sso`,
      startUrl: `${this.base}/apps/${n}/start`,
      signResponse,
    };
    app.audience = audience ?? app.spEntityId;
    if (!sp.entityMeta.isWantAssertionsSigned()) {
      throw new Error('SP metadata does not ask for signed assertions (WantAssertionsSigned)');
    }
    this.apps.push(app);
    return app;
  }

  get lastRequest() {
    return this.requests[this.requests.length - 1];
  }

  get lastResponse() {
    return this.responses[this.responses.length - 1];
  }

  async close() {
    await new Promise((r) => this.server.close(r));
  }

  // --- HTTP -------------------------------------------------------------------------------

  async handle(req, res) {
    const url = new URL(req.url, this.base);
    try {
      let m;
      if (req.method === 'GET' && url.pathname === '/metadata') {
        return send(res, 200, this.idp.getMetadata(), 'application/samlmetadata+xml');
      }
      if (req.method === 'GET' && (m = url.pathname.match(/^\/apps\/(\d+)\/sso$/))) {
        return await this.spInitiated(res, this.app(m[1]), url.searchParams);
      }
      if (req.method === 'GET' && (m = url.pathname.match(/^\/apps\/(\d+)\/start$/))) {
        return this.signInForm(res, this.remember({ app: this.app(m[1]), requestId: null, relayState: '' }));
      }
      if (req.method === 'POST' && url.pathname === '/login') {
        return await this.login(res, new URLSearchParams(await readBody(req)));
      }
      return send(res, 404, page('Not found', '<p>Not found.</p>'));
    } catch (err) {
      this.errors.push(err);
      return send(res, err.status || 500, page('IdP error', `<h1>IdP error</h1><p id="idp-error">${htmlEscape(err.message)}</p>`));
    }
  }

  app(n) {
    const app = this.apps[Number(n) - 1];
    if (!app) throw Object.assign(new Error(`no app ${n}`), { status: 404 });
    return app;
  }

  remember(flow) {
    const token = randomBytes(16).toString('hex');
    this.pending.set(token, flow);
    return token;
  }

  /** HTTP-Redirect binding: samlify inflates, schema-validates and reads the AuthnRequest. */
  async spInitiated(res, app, params) {
    const query = Object.fromEntries(params);
    if (!query.SAMLRequest) throw Object.assign(new Error('missing SAMLRequest'), { status: 400 });
    let parsed;
    try {
      parsed = await this.idp.parseLoginRequest(app.sp, 'redirect', { query });
    } catch (err) {
      throw Object.assign(new Error(`AuthnRequest refused by samlify: ${err.message || err}`), { status: 400 });
    }
    const { request = {}, issuer } = parsed.extract;
    const record = {
      app: app.n,
      id: request.id,
      issuer,
      destination: request.destination,
      acsUrl: request.assertionConsumerServiceUrl,
      relayState: query.RelayState,
      xml: parsed.samlContent,
    };
    this.requests.push(record);
    const bad = (why) => Object.assign(new Error(`AuthnRequest refused: ${why}`), { status: 400 });
    if (!request.id) throw bad('no ID');
    if (issuer !== app.spEntityId) throw bad(`Issuer ${issuer} is not ${app.spEntityId}`);
    if (request.destination && request.destination !== app.ssoUrl) {
      throw bad(`Destination ${request.destination} is not ${app.ssoUrl}`);
    }
    if (request.assertionConsumerServiceUrl && request.assertionConsumerServiceUrl !== app.acsUrl) {
      throw bad(`AssertionConsumerServiceURL ${request.assertionConsumerServiceUrl} is not the ACS in the metadata (${app.acsUrl})`);
    }
    const token = this.remember({ app, requestId: request.id, relayState: query.RelayState || '' });
    return this.signInForm(res, token);
  }

  signInForm(res, token, error) {
    return send(
      res,
      error ? 401 : 200,
      page(
        'Sign in to the test IdP',
        `<h1>Sign in to the test IdP</h1>
${error ? `<p role="alert">${htmlEscape(error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="flow" value="${htmlEscape(token)}">
  <label for="idp-email">Email</label>
  <input id="idp-email" name="email" type="email" autocomplete="username" required>
  <button type="submit">Sign in</button>
</form>`,
      ),
    );
  }

  async login(res, form) {
    const token = form.get('flow') || '';
    const flow = this.pending.get(token);
    if (!flow) throw Object.assign(new Error('unknown or used sign-in flow'), { status: 400 });
    const email = (form.get('email') || '').trim();
    const user = this.users.get(email.toLowerCase());
    if (!user) return this.signInForm(res, token, `No account ${email} at this IdP`);
    this.pending.delete(token);

    const { app, requestId, relayState } = flow;
    const { context: samlResponse } = await this.idp.createLoginResponse(
      app.sp,
      requestId ? { extract: { request: { id: requestId } } } : {},
      'post',
      { email: user.email },
      {
        relayState,
        customTagReplacement: () => {
          const id = `_${randomUUID()}`;
          return {
            id,
            context: responseXml({
              responseId: id,
              assertionId: `_${randomUUID()}`,
              issuer: this.entityId,
              destination: app.acsUrl,
              audience: app.audience,
              inResponseTo: requestId,
              email: user.email,
              user,
              now: new Date(),
            }),
          };
        },
      },
    );
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    // Our own output must be schema-valid SAML too.
    try {
      await xmllint.validate(xml);
    } catch (err) {
      throw new Error(`the IdP produced a schema-invalid Response: ${err}`);
    }
    this.responses.push({ app: app.n, email: user.email, inResponseTo: requestId, relayState, xml });
    return send(
      res,
      200,
      page(
        'Signing you in',
        `<h1>Signing you in…</h1>
<form id="saml-post" method="post" action="${htmlEscape(app.acsUrl)}">
  <input type="hidden" name="SAMLResponse" value="${htmlEscape(samlResponse)}">
  <input type="hidden" name="RelayState" value="${htmlEscape(relayState)}">
  <noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.getElementById('saml-post').submit();</script>`,
      ),
    );
  }
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Start the IdP on a free 127.0.0.1 port. */
export async function startSamlIdp() {
  const { privateKey, certificate } = await makeKeyAndCertificate();
  let idp;
  const server = http.createServer((req, res) => {
    idp.handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, String(err));
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  idp = new SamlIdp({ server, base: `http://127.0.0.1:${port}`, privateKey, certificate });
  return idp;
}
