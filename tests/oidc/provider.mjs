// A real OpenID Connect provider for Quire's single sign-on browser tests (tests/browser/test_sso.py), built on
// node-oidc-provider: one static client, accounts kept in memory, and a minimal log-in page a browser can fill in.
// It never serves anything but tests: the signing keys are the library's development keys.
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI (the live server's allauth callback).
// It listens on a free port of 127.0.0.1 and prints one line, "ready <issuer>", once it answers.

import http from 'node:http';

import Provider from 'oidc-provider';

const PASSWORD = 'test-id-password';

// One account per journey the tests take: a new user, an invited address, and an address the provider has not verified.
const ACCOUNTS = {
  sam: { email: 'sam@sso.example', email_verified: true, name: 'Sam Sso', preferred_username: 'sam' },
  ivy: { email: 'ivy@sso.example', email_verified: true, name: 'Ivy Invited', preferred_username: 'ivy' },
  uma: { email: 'uma@sso.example', email_verified: false, name: 'Uma Unverified', preferred_username: 'uma' },
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function loginPage(res, uid, error) {
  res.statusCode = error ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test ID: sign in</title></head><body>
<h1>Test ID</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label>Account <input name="login" autocomplete="off"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in to Test ID</button>
</form></body></html>`);
}

// The provider's side of a sign-in: log-in on this page, then consent, which a provider with pre-approved
// applications gives without asking (what the client asked for, nothing more).
async function interaction(provider, req, res) {
  const { uid, prompt, params, session, grantId } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    if (req.method !== 'POST') return loginPage(res, uid);
    const form = await readBody(req);
    const login = form.get('login') || '';
    if (!Object.hasOwn(ACCOUNTS, login) || form.get('password') !== PASSWORD) {
      return loginPage(res, uid, 'Unknown account or wrong password.');
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  const grant = grantId ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
    { mergeWithLastSubmission: true });
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    async findAccount(ctx, id) {
      const claims = ACCOUNTS[id];
      return claims && { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
    interactions: { url: (ctx, found) => `/interaction/${found.uid}` },
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['quire-tests-only'] },
  });
  const oidc = provider.callback();
  server.on('request', (req, res) => {
    if (/^\/interaction\/[\w-]+$/.test(req.url)) {
      interaction(provider, req, res).catch((error) => {
        console.error(error);
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    oidc(req, res);
  });
  console.log(`ready ${issuer}`);
});
