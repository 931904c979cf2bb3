// A real OpenID provider for tests/itsm/test_oidc.py: panva's oidc-provider with its built-in
// development login form (any login name is accepted, no password is checked).
//
// Environment: PORT (listens on 127.0.0.1:PORT, the issuer is http://127.0.0.1:PORT),
// CLIENT_ID, CLIENT_SECRET, PORTAL (the portal's base URL: the client's redirect URI is
// PORTAL/oidc/callback/, its post-logout redirect URI PORTAL/login/) and ACCOUNTS: a JSON file
// {"<login>": {"groups": [...], "email": "...", "given_name": "...", "family_name": "..."}},
// read again at every sign-in so that a test can change someone's groups between two logins.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, PORTAL, ACCOUNTS } = process.env;

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };
}

function account(login) {
  const known = JSON.parse(readFileSync(ACCOUNTS, 'utf8'))[login] ?? {};
  return {
    sub: login,
    preferred_username: known.preferred_username ?? login,
    email: known.email ?? `${login}@example.org`,
    email_verified: true,
    given_name: known.given_name ?? '',
    family_name: known.family_name ?? '',
    groups: known.groups ?? [],
  };
}

const provider = new Provider(`http://127.0.0.1:${PORT}`, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${PORTAL}/oidc/callback/`],
      post_logout_redirect_uris: [`${PORTAL}/login/`],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  findAccount: (_ctx, login) => ({ accountId: login, claims: () => account(login) }),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});

provider.listen(Number(PORT), '127.0.0.1', () => console.log(`listening on ${PORT}`));
