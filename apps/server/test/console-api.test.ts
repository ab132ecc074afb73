import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  auditListSchema,
  caseViewSchema,
  consoleSessionSchema,
  decisionListSchema,
  errorBodySchema,
  securityCenterViewSchema,
} from '@bulwark/contracts';
import { Secret, TOTP } from 'otpauth';
import { analystsCommand } from '../src/cli/analysts.ts';
import { loadConfig } from '../src/config/config.ts';
import { AnalystService } from '../src/console/analysts.ts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const context = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Macintosh)', deviceId: 'dev-1' };

interface Answer {
  status: number;
  body: unknown;
  setCookie: string[];
}

/** Sends a request as a browser would: cookies and headers, no API key. */
async function browser(
  t: TestService,
  method: 'GET' | 'POST',
  url: string,
  options: { cookie?: string; csrf?: string; body?: unknown } = {},
): Promise<Answer> {
  const response = await t.service.app.inject({
    method,
    url,
    headers: {
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
      ...(options.csrf === undefined ? {} : { 'x-csrf-token': options.csrf }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
  });
  const raw = response.headers['set-cookie'];
  const setCookie = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  let body: unknown = response.body;
  try {
    body = JSON.parse(response.body);
  } catch {
    // not JSON
  }
  return { status: response.statusCode, body, setCookie };
}

function codeOf(body: unknown): string {
  return errorBodySchema.parse(body).error.code;
}

async function signIn(
  t: TestService,
  name: string,
  password: string,
  totpCode?: string,
): Promise<{ cookie: string; csrf: string; answer: Answer }> {
  const answer = await browser(t, 'POST', '/console/api/sign-in', {
    body: { name, password, ...(totpCode === undefined ? {} : { totpCode }) },
  });
  const session = answer.status === 200 ? consoleSessionSchema.parse(answer.body) : undefined;
  const cookie = answer.setCookie[0]?.split(';')[0] ?? '';
  return { cookie, csrf: session?.csrfToken ?? '', answer };
}

for (const backend of backends()) {
  describe(`console API on ${backend}`, () => {
    let t: TestService;
    let analysts: AnalystService;
    let adminTotpSecret = '';
    const passwords = {
      viewer: 'viewer-password-1',
      analyst: 'analyst-password-1',
      admin: 'admin-password-12',
    };

    before(async () => {
      t = await startTestService(backend);
      analysts = new AnalystService({ store: t.service.storage.console, clock: t.clock });
      for (const role of ['viewer', 'analyst', 'admin'] as const) {
        const created = await analysts.create({ name: `${role}-1`, role, password: passwords[role] });
        assert.equal(created.ok, true);
        if (role === 'admin') adminTotpSecret = created.totp?.secret ?? '';
      }
      const events = [
        {
          id: 'l-1',
          type: 'login.succeeded',
          at: '2026-11-25T08:00:00Z',
          accountId: 'acct-1',
          context: { ...context, sessionId: 's-1' },
          method: 'password',
        },
        {
          id: 'o-1',
          type: 'order.placed',
          at: '2026-11-25T08:10:00Z',
          accountId: 'acct-1',
          context,
          orderId: 'order-1',
          amount: { value: 5000, currency: 'JPY' },
          items: [{ category: 'gift_card', quantity: 2, unitPrice: { value: 2500, currency: 'JPY' } }],
          payment: { method: 'card', cardFingerprint: 'fp-1' },
        },
        {
          id: 'a-1',
          type: 'order.archived',
          at: '2026-11-25T08:11:00Z',
          accountId: 'acct-1',
          context,
          orderId: 'order-1',
        },
        {
          id: 'l-2',
          type: 'login.succeeded',
          at: '2026-11-25T08:20:00Z',
          accountId: 'acct-2',
          context: { ...context, deviceId: 'dev-2' },
          method: 'password',
        },
      ];
      const response = await t.request('POST', '/v1/events', { events });
      assert.equal(response.status, 200);
    });
    after(async () => {
      await t.close();
    });

    test('passwords are stored as argon2id hashes, never in the clear', async () => {
      const stored = await t.service.storage.console.findAnalystByName('viewer-1');
      assert.ok(stored !== undefined);
      assert.ok(stored.passwordHash.startsWith('$argon2id$v=19$'));
      assert.ok(!stored.passwordHash.includes(passwords.viewer));
      const generated = await analysts.create({ name: 'generated-1', role: 'viewer' });
      assert.ok(generated.ok && generated.generatedPassword !== undefined);
      assert.ok(generated.generatedPassword.length >= 20);
      const again = await analysts.create({ name: 'generated-1', role: 'viewer' });
      assert.deepEqual(again.ok ? 'created' : again.reason, 'name_taken');
    });

    test('a wrong password and an unknown name answer alike, and neither signs in', async () => {
      const wrong = await signIn(t, 'viewer-1', 'not-the-password');
      const unknown = await signIn(t, 'nobody-at-all', 'not-the-password');
      assert.equal(wrong.answer.status, 401);
      assert.equal(unknown.answer.status, 401);
      assert.deepEqual(wrong.answer.body, unknown.answer.body);
      assert.deepEqual(wrong.answer.setCookie, []);
    });

    test('sign-in sets an HttpOnly, SameSite=Strict session cookie; the session reads /v1 without a key', async () => {
      const { cookie, csrf, answer } = await signIn(t, 'viewer-1', passwords.viewer);
      assert.equal(answer.status, 200);
      const setCookie = answer.setCookie[0] ?? '';
      assert.match(
        setCookie,
        /^bulwark_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
      );
      assert.ok(csrf.length > 20);
      const decisions = await browser(t, 'GET', '/v1/decisions', { cookie });
      assert.equal(decisions.status, 200);
      assert.equal(decisionListSchema.parse(decisions.body).decisions.length, 4);
      const account = await browser(t, 'GET', '/v1/accounts/acct-1', { cookie });
      assert.equal(account.status, 200);
      const session = await browser(t, 'GET', '/console/api/session', { cookie });
      assert.equal(consoleSessionSchema.parse(session.body).analyst.role, 'viewer');
    });

    test('a forged or ended session is refused; bearer keys work as before', async () => {
      const forged = await browser(t, 'GET', '/v1/decisions', {
        cookie: `bulwark_console=${'A'.repeat(43)}`,
      });
      assert.equal(forged.status, 401);
      assert.equal(codeOf(forged.body), 'UNAUTHORIZED');
      const { cookie, csrf } = await signIn(t, 'viewer-1', passwords.viewer);
      const out = await browser(t, 'POST', '/console/api/sign-out', { cookie, csrf });
      assert.equal(out.status, 200);
      assert.equal((await browser(t, 'GET', '/v1/decisions', { cookie })).status, 401);
      assert.equal((await t.request('GET', '/v1/decisions')).status, 200);
    });

    test('roles: a viewer may not report a compromise; an analyst may, with the CSRF header only', async () => {
      const viewer = await signIn(t, 'viewer-1', passwords.viewer);
      const refused = await browser(t, 'POST', '/v1/accounts/acct-2/compromised', {
        cookie: viewer.cookie,
        csrf: viewer.csrf,
        body: { reportedBy: 'analyst' },
      });
      assert.equal(refused.status, 403);
      assert.equal(codeOf(refused.body), 'FORBIDDEN');
      const analyst = await signIn(t, 'analyst-1', passwords.analyst);
      const noCsrf = await browser(t, 'POST', '/v1/accounts/acct-2/compromised', {
        cookie: analyst.cookie,
        body: { reportedBy: 'analyst' },
      });
      assert.equal(noCsrf.status, 403);
      const otherCsrf = await browser(t, 'POST', '/v1/accounts/acct-2/compromised', {
        cookie: analyst.cookie,
        csrf: viewer.csrf,
        body: { reportedBy: 'analyst' },
      });
      assert.equal(otherCsrf.status, 403);
      const ok = await browser(t, 'POST', '/v1/accounts/acct-2/compromised', {
        cookie: analyst.cookie,
        csrf: analyst.csrf,
        body: { reportedBy: 'analyst' },
      });
      assert.equal(ok.status, 200);
      assert.equal(caseViewSchema.parse(ok.body).accountId, 'acct-2');
      // Sending events stays with API keys: a session may not, whatever its role.
      const events = await browser(t, 'POST', '/v1/events', {
        cookie: analyst.cookie,
        csrf: analyst.csrf,
        body: { id: 'x', type: 'account.created', at: '2026-11-25T08:00:00Z', accountId: 'x' },
      });
      assert.equal(events.status, 403);
    });

    test('admins need a TOTP code, and one code signs in once', async () => {
      const noCode = await signIn(t, 'admin-1', passwords.admin);
      assert.equal(noCode.answer.status, 401);
      const code = new TOTP({ secret: Secret.fromBase32(adminTotpSecret) }).generate({
        timestamp: t.clock.now(),
      });
      const admin = await signIn(t, 'admin-1', passwords.admin, code);
      assert.equal(admin.answer.status, 200);
      const replayed = await signIn(t, 'admin-1', passwords.admin, code);
      assert.equal(replayed.answer.status, 401);
      const auditPage = await browser(t, 'GET', '/console/api/audit?limit=500', { cookie: admin.cookie });
      assert.equal(auditPage.status, 200);
      const entries = auditListSchema.parse(auditPage.body).entries;
      const actions = entries.map((e) => `${e.action} ${e.outcome}`);
      assert.ok(actions.includes('sign_in refused'));
      assert.ok(actions.includes('sign_in ok'));
      assert.ok(actions.includes('GET /v1/decisions ok'));
      assert.ok(actions.includes('POST /v1/accounts/:accountId/compromised refused'));
      assert.ok(actions.includes('POST /v1/accounts/:accountId/compromised ok'));
      const viewer = await signIn(t, 'viewer-1', passwords.viewer);
      assert.equal((await browser(t, 'GET', '/console/api/audit', { cookie: viewer.cookie })).status, 403);
    });

    test('failed sign-ins are limited per name, for known and unknown names alike', async () => {
      for (const name of ['analyst-1', 'no-such-analyst']) {
        for (let i = 0; i < 5; i += 1)
          assert.equal((await signIn(t, name, 'wrong-password-x')).answer.status, 401);
        const limited = await signIn(t, name, name === 'analyst-1' ? passwords.analyst : 'x');
        assert.equal(limited.answer.status, 429);
      }
      t.clock.advance(15 * 60_000);
      assert.equal((await signIn(t, 'analyst-1', passwords.analyst)).answer.status, 200);
    });

    test('decisions filter by outcome, reason and account, newest first, and page with before', async () => {
      const all = decisionListSchema.parse((await t.request('GET', '/v1/decisions?limit=2')).body);
      assert.equal(all.decisions.length, 2);
      assert.ok(all.nextBefore !== undefined);
      const seqs = all.decisions.map((d) => d.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => b - a),
      );
      const older = decisionListSchema.parse(
        (await t.request('GET', `/v1/decisions?limit=50&before=${all.nextBefore}`)).body,
      );
      assert.ok(older.decisions.every((d) => d.seq < (all.nextBefore ?? 0)));
      const forAccount = decisionListSchema.parse(
        (await t.request('GET', '/v1/decisions?accountId=acct-1')).body,
      );
      assert.deepEqual(
        forAccount.decisions.map((d) => d.eventId),
        ['a-1', 'o-1', 'l-1'],
      );
      const first = forAccount.decisions.at(-1);
      const reason = first?.reasons[0]?.code;
      if (reason !== undefined) {
        const byReason = decisionListSchema.parse(
          (await t.request('GET', `/v1/decisions?reason=${reason}`)).body,
        );
        assert.ok(byReason.decisions.length > 0);
        assert.ok(byReason.decisions.every((d) => d.reasons.some((r) => r.code === reason)));
      }
      const allows = decisionListSchema.parse((await t.request('GET', '/v1/decisions?decision=allow')).body);
      assert.ok(allows.decisions.every((d) => d.decision === 'allow'));
      const bad = await t.request('GET', '/v1/decisions?decision=maybe');
      assert.equal(bad.status, 400);
      assert.equal(codeOf(bad.body), 'INVALID_PARAMETER');
    });

    test('security center: a store-signed link is exchanged once for a cookie; "this wasn\'t me" opens a case', async () => {
      const link = await t.request('POST', '/v1/security-center/links', { accountId: 'acct-1' });
      assert.equal(link.status, 200);
      const { token, path } = link.body as { token: string; path: string };
      assert.ok(path.startsWith('/security-center#token='));
      const exchanged = await browser(t, 'POST', '/security-center/api/session', { body: { token } });
      assert.equal(exchanged.status, 200);
      assert.match(
        exchanged.setCookie[0] ?? '',
        /^bulwark_shopper=.*; Path=\/security-center; .*HttpOnly; SameSite=Strict/,
      );
      const again = await browser(t, 'POST', '/security-center/api/session', { body: { token } });
      assert.equal(again.status, 401);
      const tampered = await browser(t, 'POST', '/security-center/api/session', {
        body: { token: token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) },
      });
      assert.equal(tampered.status, 401);
      const cookie = exchanged.setCookie[0]?.split(';')[0] ?? '';
      const { csrfToken } = exchanged.body as { csrfToken: string };
      const overview = securityCenterViewSchema.parse(
        (await browser(t, 'GET', '/security-center/api/overview', { cookie })).body,
      );
      assert.deepEqual(overview.orders, [
        {
          orderId: 'order-1',
          at: '2026-11-25T08:10:00.000Z',
          amount: { value: 5000, currency: 'JPY' },
          itemCount: 2,
          archived: true,
          archivedAt: '2026-11-25T08:11:00.000Z',
        },
      ]);
      assert.equal(overview.signIns.length, 1);
      // The shopper cookie is no console session.
      assert.equal((await browser(t, 'GET', '/v1/decisions', { cookie })).status, 401);
      const noCsrf = await browser(t, 'POST', '/security-center/api/this-wasnt-me', { cookie, body: {} });
      assert.equal(noCsrf.status, 403);
      const reported = await browser(t, 'POST', '/security-center/api/this-wasnt-me', {
        cookie,
        csrf: csrfToken,
        body: {},
      });
      assert.equal(reported.status, 200, t.logs.filter((l) => l.includes('"level":50')).join('\n'));
      const view = caseViewSchema.parse(reported.body);
      assert.equal(view.accountId, 'acct-1');
      // The owner's report went through the event log (the case may have been opened earlier).
      const logged = decisionListSchema.parse(
        (await t.request('GET', '/v1/decisions?accountId=acct-1')).body,
      );
      const latest = logged.decisions[0];
      assert.ok(latest !== undefined);
      assert.equal(latest.type, 'account.compromised');
      assert.equal(latest.caseId, view.caseId);
      const twice = caseViewSchema.parse(
        (
          await browser(t, 'POST', '/security-center/api/this-wasnt-me', {
            cookie,
            csrf: csrfToken,
            body: {},
          })
        ).body,
      );
      assert.equal(twice.caseId, view.caseId);
      const readBack = await browser(t, 'GET', `/security-center/api/cases/${view.caseId}`, { cookie });
      assert.equal(caseViewSchema.parse(readBack.body).caseId, view.caseId);
      const expired = await t.request('POST', '/v1/security-center/links', { accountId: 'acct-2' });
      t.clock.advance(11 * 60_000);
      const late = await browser(t, 'POST', '/security-center/api/session', {
        body: { token: (expired.body as { token: string }).token },
      });
      assert.equal(late.status, 401);
    });
  });
}

describe('bulwark analysts create', () => {
  const run = async (args: string[], stdin = ''): Promise<{ status: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const status = await analystsCommand(
      args,
      (values) => loadConfig({}, { dataDir: values.data ?? 'memory://' }),
      () => Promise.resolve(stdin),
      { out: (text) => (out += text), err: (text) => (err += text) },
    );
    return { status, out, err };
  };

  test('prints a one-time password, and for admins a TOTP secret and URI', async () => {
    const admin = await run(['create', '--name', 'aiko', '--role', 'admin']);
    assert.equal(admin.status, 0, admin.err);
    assert.match(admin.out, /^password \(shown once, keep it\): [A-Za-z0-9_-]{24}$/m);
    assert.match(admin.out, /^TOTP URI: otpauth:\/\/totp\/Bulwark:aiko\?.*secret=[A-Z2-7]+/m);
    const viewer = await run(
      ['create', '--name', 'ken', '--role', 'viewer', '--password-stdin'],
      'a long passphrase\n',
    );
    assert.equal(viewer.status, 0, viewer.err);
    assert.doesNotMatch(viewer.out, /password \(shown once/);
    assert.doesNotMatch(viewer.out, /TOTP/);
  });

  test('refuses a bad role, a short password and a missing name with usage errors', async () => {
    assert.equal((await run(['create', '--name', 'x1', '--role', 'boss'])).status, 2);
    assert.equal(
      (await run(['create', '--name', 'x1', '--role', 'viewer', '--password-stdin'], 'short\n')).status,
      2,
    );
    const missing = await run(['create', '--role', 'viewer']);
    assert.equal(missing.status, 2);
    assert.match(missing.err, /usage: bulwark analysts create/);
  });
});
