import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, type Decision } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

/**
 * With no SMTP server or SMS gateway configured, messages go to the development sink: written
 * to the log and to the database (`notify_dev_messages`), so a demo shows what the owner gets.
 */

const chrome =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';

async function challenged(t: TestService, accountId: string): Promise<Decision> {
  const answer = await t.request('POST', '/v1/events', {
    events: [
      {
        id: `${accountId}-c`,
        type: 'account.created',
        at: '2026-11-20T09:00:00Z',
        accountId,
        phone: '+819012345678',
      },
      {
        id: `${accountId}-home`,
        type: 'login.succeeded',
        at: '2026-11-20T09:01:00Z',
        accountId,
        context: { ip: '203.0.113.7', userAgent: chrome, deviceId: 'home', sessionId: 's-home' },
        method: 'password',
        secondFactor: 'none',
      },
      {
        id: `${accountId}-new`,
        type: 'login.succeeded',
        at: '2026-11-25T08:59:00Z',
        accountId,
        context: { ip: '198.51.100.9', userAgent: firefox, deviceId: 'laptop', sessionId: 's-laptop' },
        method: 'password',
        secondFactor: 'none',
      },
    ],
  });
  const decision = decisionSchema.parse((answer.body as { decisions: unknown[] }).decisions.at(-1));
  assert.equal(decision.decision, 'challenge', JSON.stringify(decision));
  return decision;
}

for (const backend of backends()) {
  describe(`development sink on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend, { BULWARK_ALERT_POLL_INTERVAL_MS: '3600000' });
    });
    after(async () => {
      await t.close();
    });

    test('an SMS code goes to the log and the database, and passes the challenge', async () => {
      const decision = await challenged(t, 'acct-sink');
      const challengeId = decision.challenge?.id ?? '';
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'sms_otp' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const stored = (await t.service.storage.verification.listDevMessages(20)).find((m) =>
        m.idempotencyKey.startsWith(`challenge:${challengeId}:`),
      );
      assert.equal(stored?.channel, 'sms');
      assert.equal(stored.to, '+819012345678');
      const code = /(\d{6})/.exec(stored.text)?.[1] ?? '';
      assert.match(code, /^\d{6}$/);
      assert.ok(
        t.logs.some((line) => line.includes('notification (sms) to +819012345678')),
        'the development sink logs the message',
      );
      const passed = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'sms_otp',
        code,
      });
      assert.deepEqual(passed.body, { result: 'passed' });
    });

    test('"was this you?" by SMS: "yes, it\'s me" passes the challenge, and the link is single use', async () => {
      const decision = await challenged(t, 'acct-approve');
      const challengeId = decision.challenge?.id ?? '';
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, {
        method: 'device_confirmation',
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal((sent.body as { channel: string }).channel, 'sms');
      const [stored] = await t.service.storage.verification.listDevMessages(1);
      assert.equal(stored?.idempotencyKey, `challenge:${challengeId}:device_confirmation:1`);
      const path = /http:\/\/localhost:8080(\/pages\/confirm\/[A-Za-z0-9._-]+)/.exec(stored.text)?.[1] ?? '';
      assert.ok(path.length > 0, stored.text);
      const page = await t.service.app.inject({ method: 'GET', url: path });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Firefox on Windows/);
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const approved = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=approve',
        headers: form,
      });
      assert.equal(approved.statusCode, 200, approved.body);
      const view = await t.request('GET', `/v1/challenges/${challengeId}`);
      assert.equal((view.body as { status: string }).status, 'passed');
      const again = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=not_me',
        headers: form,
      });
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /TOKEN_USED/);
      const account = await t.request('GET', '/v1/accounts/acct-approve');
      assert.equal(
        (account.body as { openCaseId?: string }).openCaseId,
        undefined,
        'no containment on approval',
      );
    });
  });
}
