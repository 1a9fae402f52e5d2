// An independent OpenID provider for end-to-end tests: the `oidc-provider` package (npm),
// served by node:http on 127.0.0.1 with its development login and consent pages.
//
// - Its RS256 signing key is generated at start (node:crypto); nothing is shared with the
//   gateway or the Rust tests.
// - PKCE is required for every client, so a gateway that did not send a verifier would fail.
// - ID tokens carry the scopes' claims (conformIdTokenClaims off), since the gateway reads
//   the person from the ID token only: email/email_verified/hd (scope email),
//   given_name/family_name (profile), groups (groups).
// - The provider object needs the clients, whose redirect URI names the gateway's port, so
//   the server starts first (its issuer goes into the gateway's configuration) and
//   `setClients` builds the provider once the gateway is up.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

export async function startOidcProvider() {
  let callback = null;
  const server = http.createServer((req, res) => {
    if (!callback) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('provider not configured yet');
      return;
    }
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const accounts = new Map();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(6).toString('hex'), alg: 'RS256', use: 'sig' };

  return {
    issuer,
    /** Registers a person who may sign in with `login` (any password). */
    addUser(login, claims) {
      accounts.set(login, { sub: login, ...claims });
    },
    /** Builds the provider with these clients ({ client_id, client_secret, redirect_uris }). */
    setClients(clients) {
      const provider = new Provider(issuer, {
        clients: clients.map((c) => ({
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
          ...c,
        })),
        jwks: { keys: [signingKey] },
        cookies: { keys: [randomBytes(24).toString('hex')] },
        pkce: { required: () => true },
        conformIdTokenClaims: false,
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified', 'hd'],
          profile: ['given_name', 'family_name'],
          groups: ['groups'],
        },
        features: { devInteractions: { enabled: true } },
        async findAccount(ctx, id) {
          const person = accounts.get(id);
          if (!person) return undefined;
          return { accountId: id, claims: async () => ({ ...person }) };
        },
      });
      provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
      callback = provider.callback();
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      });
    },
  };
}
