import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  activityEvent,
  agents,
  dayMs,
  hourMs,
  loginEvent,
  minuteMs,
  testPolicy,
  type Ctx,
} from './helpers/login.ts';
import { codes, LoginDriver } from './helpers/login-driver.ts';

const home: Ctx = { ip: '20.1.1.1', userAgent: agents.macChrome, deviceId: 'dev-home' };
const phoneHome: Ctx = { ip: '20.1.1.1', userAgent: agents.iphone, deviceId: 'dev-phone' };

/** History (home laptop, phone on home Wi-Fi and on its carrier), then a session `s-main` from home. */
function signedIn(driver: LoginDriver, sessionContext: Ctx = home): void {
  driver.send(loginEvent('h1', -3 * dayMs, 'acct-1', home));
  driver.send(loginEvent('h2', -2 * dayMs, 'acct-1', phoneHome));
  driver.send(loginEvent('h3', -1 * dayMs, 'acct-1', { ...phoneHome, ip: '50.1.1.1' }));
  const login = driver.send(loginEvent('main', 0, 'acct-1', { ...sessionContext, sessionId: 's-main' }));
  assert.equal(login.decision, 'allow');
}

interface SessionCase {
  name: string;
  context: Ctx & { sessionId: string };
  action?: string;
  decision: 'allow' | 'challenge' | 'deny';
  reason?: { code: string; detail?: string };
  revoked: boolean;
  sessionContext?: Ctx;
}

const s = (ctx: Ctx) => ({ ...ctx, sessionId: 's-main' });

const cases: SessionCase[] = [
  { name: 'the same context: allowed', context: s(home), decision: 'allow', revoked: false },
  {
    name: 'another device id: denied as a stolen session',
    context: s({ ...home, deviceId: 'dev-thief' }),
    decision: 'deny',
    reason: { code: 'session_context_changed', detail: 'device' },
    revoked: true,
  },
  {
    name: 'no device id and another browser: denied',
    context: s({ ip: home.ip, userAgent: agents.firefox }),
    decision: 'deny',
    reason: { code: 'session_context_changed', detail: 'device' },
    revoked: true,
    sessionContext: { ip: home.ip, userAgent: agents.macChrome },
  },
  {
    name: 'the cookie jar copied, used from another country: denied',
    context: s({ ...home, ip: '60.1.1.1' }),
    decision: 'deny',
    reason: { code: 'session_context_changed', detail: 'country JP→VN' },
    revoked: true,
  },
  {
    name: 'the cookie jar copied, used from a datacenter in the same country: challenged',
    context: s({ ...home, ip: '30.1.1.1' }),
    decision: 'challenge',
    reason: { code: 'session_context_changed', detail: 'AS64500→AS64501' },
    revoked: true,
  },
  {
    name: "the owner's phone leaves Wi-Fi for its carrier (an AS the account knows): allowed",
    context: s({ ...phoneHome, ip: '50.9.9.9' }),
    sessionContext: phoneHome,
    decision: 'allow',
    revoked: false,
  },
];

describe('session binding (table)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const driver = new LoginDriver(testPolicy());
      signedIn(driver, c.sessionContext);
      const decision = driver.send(
        activityEvent('a1', 10 * minuteMs, 'acct-1', c.context, c.action ?? 'product.view'),
      );
      assert.equal(decision.decision, c.decision, JSON.stringify(decision.reasons));
      if (c.reason !== undefined) assert.deepEqual(decision.reasons[0], c.reason);
      const binding = driver.account('acct-1')?.login?.bindings.find((b) => b.sessionId === 's-main');
      assert.equal(binding?.revokedAtMs !== undefined, c.revoked);
      if (c.revoked) {
        // Once revoked, the session is refused even from its own context.
        const after = driver.send(
          activityEvent('a2', 11 * minuteMs, 'acct-1', s(c.sessionContext ?? home), 'product.view'),
        );
        assert.equal(after.decision, 'deny');
        assert.equal(after.reasons[0]?.code, 'session_revoked');
      }
    });
  }

  test('the same cookie jar from another address of the same ISP is not evidence (no false positive)', () => {
    const driver = new LoginDriver(testPolicy());
    signedIn(driver);
    const decision = driver.send(
      activityEvent('a1', 5 * minuteMs, 'acct-1', s({ ...home, ip: '20.200.1.1' }), 'giftcard.redeem'),
    );
    assert.equal(decision.decision, 'allow');
  });
});

describe('sensitive actions on a risky session need a recent step-up', () => {
  /** A session whose sign-in scored in the risky band (a new device at a known address). */
  function riskySession(driver: LoginDriver): void {
    driver.send(loginEvent('h1', -3 * dayMs, 'acct-1', home));
    const login = driver.send(
      loginEvent('risky', 0, 'acct-1', {
        ip: home.ip,
        userAgent: agents.winChrome,
        deviceId: 'dev-new',
        sessionId: 's-r',
      }),
    );
    assert.equal(login.decision, 'allow');
    assert.ok(login.score >= 30, `score ${String(login.score)}`);
  }
  const ctx = { ip: home.ip, userAgent: agents.winChrome, deviceId: 'dev-new', sessionId: 's-r' };

  for (const action of ['giftcard.redeem', 'order.archive', 'payment_method.add']) {
    test(`${action} is challenged with step_up_required; an ordinary action is not`, () => {
      const driver = new LoginDriver(testPolicy());
      riskySession(driver);
      assert.equal(
        driver.send(activityEvent('a0', minuteMs, 'acct-1', ctx, 'product.view')).decision,
        'allow',
      );
      const decision = driver.send(activityEvent('a1', 2 * minuteMs, 'acct-1', ctx, action));
      assert.equal(decision.decision, 'challenge');
      assert.deepEqual(decision.reasons, [{ code: 'step_up_required', detail: action }]);
    });
  }

  test('account.updated of e-mail is a sensitive action too', () => {
    const driver = new LoginDriver(testPolicy());
    riskySession(driver);
    const decision = driver.send({
      id: 'u1',
      type: 'account.updated',
      at: new Date(Date.parse('2026-11-25T09:00:00Z') + minuteMs).toISOString(),
      accountId: 'acct-1',
      context: ctx,
      field: 'email',
      change: 'changed',
    });
    assert.deepEqual(codes(decision), ['step_up_required']);
  });

  test('a passed step-up is fresh for 15 minutes, then needed again', () => {
    const driver = new LoginDriver(testPolicy());
    riskySession(driver);
    assert.equal(
      driver.send(activityEvent('a1', minuteMs, 'acct-1', ctx, 'giftcard.redeem')).decision,
      'challenge',
    );
    driver.send({
      id: 'c1',
      type: 'challenge.completed',
      at: new Date(Date.parse('2026-11-25T09:00:00Z') + 2 * minuteMs).toISOString(),
      accountId: 'acct-1',
      method: 'passkey',
      result: 'passed',
    });
    assert.equal(
      driver.send(activityEvent('a2', 3 * minuteMs, 'acct-1', ctx, 'giftcard.redeem')).decision,
      'allow',
    );
    assert.equal(
      driver.send(activityEvent('a3', 20 * minuteMs, 'acct-1', ctx, 'giftcard.redeem')).decision,
      'challenge',
    );
  });

  test('a failed step-up revokes the session', () => {
    const driver = new LoginDriver(testPolicy());
    riskySession(driver);
    driver.send(activityEvent('a1', minuteMs, 'acct-1', ctx, 'giftcard.redeem'));
    driver.send({
      id: 'c1',
      type: 'challenge.completed',
      at: new Date(Date.parse('2026-11-25T09:00:00Z') + 2 * minuteMs).toISOString(),
      accountId: 'acct-1',
      method: 'passkey',
      result: 'failed',
    });
    const after = driver.send(activityEvent('a2', 3 * minuteMs, 'acct-1', ctx, 'product.view'));
    assert.deepEqual(codes(after), ['session_revoked']);
  });

  test('an unrisky session does not need a step-up', () => {
    const driver = new LoginDriver(testPolicy());
    signedIn(driver);
    assert.equal(
      driver.send(activityEvent('a1', hourMs, 'acct-1', s(home), 'giftcard.redeem')).decision,
      'allow',
    );
  });
});
