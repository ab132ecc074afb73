import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema, type Decision } from '@bulwark/contracts';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';
import {
  startSmsGateway,
  smtpServiceEnv,
  startSmtpServer,
  type TestSmsGateway,
  type TestSmtpServer,
} from './connectors/notify-test-servers.ts';

/**
 * Step-up verification end to end: a `challenge` decision from POST /v1/events, the code or link
 * delivered through a real SMTP server or HTTP SMS gateway, the answer checked, and the result
 * back in the account's timeline as `challenge.completed`.
 */

const chrome =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';

const context = (device: string, ip: string, userAgent = chrome) => ({
  ip,
  userAgent,
  deviceId: device,
  sessionId: `s-${device}-${ip}`,
});

let eventCounter = 0;
const nextId = (prefix: string): string => `${prefix}-${String((eventCounter += 1))}`;

/** A new account with a known home device, then a sign-in from a new device that is challenged. */
async function challengedSignIn(
  t: TestService,
  accountId: string,
  channels: { email?: string; phone?: string },
): Promise<Decision> {
  const created = await t.request('POST', '/v1/events', {
    events: [
      {
        id: nextId('created'),
        type: 'account.created',
        at: '2026-11-20T09:00:00Z',
        accountId,
        ...channels,
      },
      {
        id: nextId('home'),
        type: 'login.succeeded',
        at: '2026-11-20T09:01:00Z',
        accountId,
        context: context('home', '203.0.113.7'),
        method: 'password',
        secondFactor: 'none',
      },
      {
        id: nextId('new'),
        type: 'login.succeeded',
        at: '2026-11-25T08:59:00Z',
        accountId,
        context: context('laptop', '198.51.100.9', firefox),
        method: 'password',
        secondFactor: 'none',
      },
    ],
  });
  assert.equal(created.status, 200);
  const decisions = (created.body as { decisions: unknown[] }).decisions.map((d) => decisionSchema.parse(d));
  const last = decisions.at(-1);
  assert.ok(last !== undefined);
  assert.equal(last.decision, 'challenge', JSON.stringify(last));
  assert.ok(last.challenge !== undefined);
  return last;
}

const errorCode = (body: unknown): string => errorBodySchema.parse(body).error.code;
const codeIn = (text: string): string => {
  const match = /\b(\d{6})\b/.exec(text);
  assert.ok(match?.[1] !== undefined, `a 6-digit code in: ${text}`);
  return match[1];
};
const linkIn = (text: string, path: string): string => {
  const match = new RegExp(`http://localhost:\\d+(${path}[A-Za-z0-9._-]+)`).exec(text);
  assert.ok(match?.[1] !== undefined, `a ${path} link in: ${text}`);
  return match[1];
};

async function timelineTypes(t: TestService, accountId: string): Promise<unknown[]> {
  const view = await t.request('GET', `/v1/accounts/${accountId}`);
  return (view.body as { timeline: { entries: { type: string; event: unknown }[] } }).timeline.entries
    .filter((entry) => entry.type === 'challenge.completed')
    .map((entry) => entry.event);
}

async function devicesOf(
  t: TestService,
  accountId: string,
): Promise<{ deviceId?: string; trusted: boolean }[]> {
  const view = await t.request('GET', `/v1/accounts/${accountId}`);
  return (view.body as { devices: { deviceId?: string; trusted: boolean }[] }).devices;
}

for (const backend of backends()) {
  describe(`step-up verification on ${backend}`, () => {
    let t: TestService;
    let smtp: TestSmtpServer;
    let sms: TestSmsGateway;

    before(async () => {
      smtp = await startSmtpServer({ refusedRecipient: 'refused@example.com' });
      sms = await startSmsGateway({ refusedRecipient: '+15550000000' });
      t = await startTestService(backend, {
        BULWARK_PUBLIC_URL: 'http://localhost:8080',
        BULWARK_STORE_NAME: 'Example Store',
        ...smtpServiceEnv(smtp),
        BULWARK_SMS_GATEWAY_URL: sms.baseUrl,
        BULWARK_SMS_GATEWAY_KEY: sms.apiKey,
        // The test drives the outbox itself.
        BULWARK_ALERT_POLL_INTERVAL_MS: '3600000',
        // No containment engine: its messages to owners would go through the same SMTP server
        // and take the one-shot fault the outage test sets (the cases themselves still open).
        BULWARK_CONNECTORS: 'none',
      });
    });
    after(async () => {
      await t.close();
      await smtp.close();
      await sms.close();
    });

    test('an e-mailed code passes the challenge; the profile learns the device', async () => {
      const decision = await challengedSignIn(t, 'acct-email', { email: 'owner@example.com' });
      const challengeId = decision.challenge?.id ?? '';
      const view = await t.request('GET', `/v1/challenges/${challengeId}`);
      assert.equal(view.status, 200);
      const body = view.body as { status: string; available: string[]; pageUrl: string; methods: string[] };
      assert.equal(body.status, 'pending');
      assert.deepEqual(body.methods, decision.challenge?.methods);
      assert.ok(body.available.includes('email_otp'));
      assert.ok(!body.available.includes('sms_otp'), 'no phone, no SMS');
      assert.match(body.pageUrl, /^http:\/\/localhost:8080\/pages\/challenge\/v1\./);

      const before = smtp.messages.length;
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'email_otp' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal((sent.body as { sentTo: string }).sentTo, 'o•••@example.com');
      const message = smtp.messages[before];
      assert.ok(message !== undefined);
      assert.equal(message.to, 'owner@example.com');
      assert.match(message.subject ?? '', /Example Store/);
      assert.match(message.text, /never ask you for it/);
      const code = codeIn(message.text);
      // The code is never logged (the SMTP adapter is configured, so nothing goes to the dev sink).
      assert.ok(!t.logs.some((line) => line.includes(code)), 'the code does not appear in the logs');

      const wrong = code === '000000' ? '111111' : '000000';
      const refused = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'email_otp',
        code: wrong,
      });
      assert.equal(refused.status, 422);
      assert.equal(errorCode(refused.body), 'CODE_INVALID');

      const passed = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'email_otp',
        code,
      });
      assert.equal(passed.status, 200, JSON.stringify(passed.body));
      assert.deepEqual(passed.body, { result: 'passed' });

      const reused = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'email_otp',
        code,
      });
      assert.equal(errorCode(reused.body), 'CODE_REUSED');

      const completed = await timelineTypes(t, 'acct-email');
      assert.equal(completed.length, 1);
      assert.deepEqual(
        { ...(completed[0] as Record<string, unknown>), at: undefined },
        {
          id: `bulwark:challenge:${challengeId}`,
          type: 'challenge.completed',
          at: undefined,
          accountId: 'acct-email',
          challengeId,
          method: 'email_otp',
          result: 'passed',
        },
      );
      const laptop = (await devicesOf(t, 'acct-email')).find((d) => d.deviceId === 'laptop');
      assert.equal(laptop?.trusted, true, 'a passed challenge teaches the profile the new device');
    });

    test('bad input: malformed, over-long, expired codes, unknown ids, closed challenges', async () => {
      const decision = await challengedSignIn(t, 'acct-bad', { email: 'bad@example.com' });
      const challengeId = decision.challenge?.id ?? '';
      const verify = (code: unknown) =>
        t.request('POST', `/v1/challenges/${challengeId}/verify`, { method: 'email_otp', code });

      const noCodeYet = await verify('123456');
      assert.equal(errorCode(noCodeYet.body), 'METHOD_NOT_AVAILABLE');
      for (const [code, message] of [
        ['12345', /must be 6 digits/],
        ['abcdef', /must be 6 digits/],
        [123456, /must be 6 digits/],
        ['1234567', /longer than 6 digits/],
        ['9'.repeat(5000), /longer than 6 digits/],
      ] as const) {
        const answer = await verify(code);
        assert.equal(answer.status, 400);
        const parsed = errorBodySchema.parse(answer.body).error;
        assert.equal(parsed.code, 'INVALID_PARAMETER');
        assert.equal(parsed.field, 'code');
        assert.match(parsed.message, message);
      }
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'email_otp' });
      assert.equal(sent.status, 200);
      const code = codeIn(smtp.messages.at(-1)?.text ?? '');
      t.clock.advance(5 * 60_000);
      const expired = await verify(code);
      assert.equal(expired.status, 410);
      assert.equal(errorCode(expired.body), 'CODE_EXPIRED');

      const unknown = await t.request('GET', '/v1/challenges/ch_doesnotexist');
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown.body), 'NOT_FOUND');
      const unknownVerify = await t.request('POST', '/v1/challenges/ch_doesnotexist/verify', {
        method: 'email_otp',
        code: '123456',
      });
      // The same answer as for an unknown id whatever the account: nothing tells accounts apart.
      assert.deepEqual(unknownVerify.body, unknown.body);
      const badMethod = await t.request('POST', `/v1/challenges/${challengeId}/send`, {
        method: 'carrier_pigeon',
      });
      assert.equal(errorCode(badMethod.body), 'INVALID_PARAMETER');

      t.clock.advance(15 * 60_000);
      const closed = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'email_otp' });
      assert.equal(errorCode(closed.body), 'CHALLENGE_CLOSED');
    });

    test('wrong answers close the challenge as failed and take back what the sign-in taught', async () => {
      const decision = await challengedSignIn(t, 'acct-guess', { phone: '+819012345678' });
      const challengeId = decision.challenge?.id ?? '';
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'sms_otp' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const delivered = sms.messages.at(-1);
      assert.equal(delivered?.to, '+819012345678');
      const code = codeIn(delivered.text);
      const wrong = code === '000000' ? '111111' : '000000';
      const codes: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const answer = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
          method: 'sms_otp',
          code: wrong,
        });
        codes.push(errorCode(answer.body));
      }
      assert.deepEqual(codes, [
        'CODE_INVALID',
        'CODE_INVALID',
        'CODE_INVALID',
        'CODE_INVALID',
        'CODE_INVALID',
        'ATTEMPTS_EXCEEDED',
      ]);
      const late = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'sms_otp',
        code,
      });
      assert.equal(errorCode(late.body), 'CHALLENGE_CLOSED', 'the right code after the limit does not pass');
      const completed = await timelineTypes(t, 'acct-guess');
      assert.equal((completed[0] as { result: string }).result, 'failed');
      const devices = await devicesOf(t, 'acct-guess');
      assert.ok(!devices.some((d) => d.deviceId === 'laptop'), 'the failed sign-in device is forgotten');
    });

    test('TOTP: enrol with a QR code, answer with oathtool codes, a replayed code is refused and the owner told', async () => {
      const accountId = 'acct-totp';
      const enrol = await t.request('POST', `/v1/accounts/${accountId}/totp`);
      assert.equal(enrol.status, 200);
      const enrolment = enrol.body as { secret: string; uri: string; qrSvg: string };
      assert.match(enrolment.uri, /^otpauth:\/\/totp\/Example%20Store:acct-totp\?.*secret=[A-Z2-7]+/);
      assert.match(enrolment.qrSvg, /^<svg[\s\S]*<\/svg>\s*$/);
      assert.ok(!t.logs.some((line) => line.includes(enrolment.secret)), 'the secret is never logged');
      const oathtool = (offsetS = 0): string =>
        execFileSync(
          'oathtool',
          [
            '--totp',
            '--base32',
            enrolment.secret,
            '--now',
            new Date(t.clock.now() + offsetS * 1000).toISOString(),
          ],
          { encoding: 'utf8' },
        ).trim();
      const confirmed = await t.request('POST', `/v1/accounts/${accountId}/totp/confirm`, {
        code: oathtool(),
      });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      const again = await t.request('POST', `/v1/accounts/${accountId}/totp`);
      assert.equal(errorCode(again.body), 'METHOD_NOT_AVAILABLE', 'a confirmed app is not silently replaced');

      t.clock.advance(60_000);
      const decision = await challengedSignIn(t, accountId, { email: 'totp-owner@example.com' });
      const challengeId = decision.challenge?.id ?? '';
      const view = await t.request('GET', `/v1/challenges/${challengeId}`);
      assert.ok((view.body as { available: string[] }).available.includes('totp'));
      const previousStep = oathtool(-30);
      const passed = await t.request('POST', `/v1/challenges/${challengeId}/verify`, {
        method: 'totp',
        code: previousStep,
      });
      assert.equal(passed.status, 200, `a code one step old passes: ${JSON.stringify(passed.body)}`);

      // The same code for the next challenge is a replay: refused, and the owner hears of it.
      await t.service.verification.drainOutbox();
      const mailsBefore = smtp.messages.length;
      const second = await t.request('POST', '/v1/events', {
        id: nextId('again'),
        type: 'login.succeeded',
        at: new Date(t.clock.now() - 10_000).toISOString(),
        accountId,
        context: context('tablet', '192.0.2.55'),
        method: 'password',
        secondFactor: 'none',
      });
      const secondDecision = decisionSchema.parse(second.body);
      assert.equal(secondDecision.decision, 'challenge', JSON.stringify(secondDecision));
      const replay = await t.request('POST', `/v1/challenges/${secondDecision.challenge?.id ?? ''}/verify`, {
        method: 'totp',
        code: previousStep,
      });
      assert.equal(replay.status, 409);
      assert.equal(errorCode(replay.body), 'CODE_REUSED');
      const told = smtp.messages
        .slice(mailsBefore)
        .find((m) => /used verification code/.test(m.subject ?? ''));
      assert.ok(told !== undefined, 'the owner is told a used code was tried again');
      assert.equal(told.to, 'totp-owner@example.com');
      assert.match(told.text, /\/pages\/alert\/v1\./);
    });

    test('an e-mailed link passes once; tampered and reused links get clear errors', async () => {
      const decision = await challengedSignIn(t, 'acct-link', { email: 'link@example.com' });
      const challengeId = decision.challenge?.id ?? '';
      // An e-mailed link stands in for the e-mailed code the decision lists.
      assert.ok(decision.challenge?.methods.includes('email_otp'));
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, { method: 'email_link' });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const path = linkIn(smtp.messages.at(-1)?.text ?? '', '/pages/link/');
      const page = await t.service.app.inject({ method: 'GET', url: path });
      assert.equal(page.statusCode, 200);
      const tampered = path.slice(0, -2) + (path.endsWith('AA') ? 'BB' : 'AA');
      const bad = await t.service.app.inject({
        method: 'POST',
        url: tampered,
        payload: 'answer=confirm',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /TOKEN_INVALID/);
      const used = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=confirm',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(used.statusCode, 200);
      const twice = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=confirm',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(twice.statusCode, 409);
      assert.match(twice.body, /TOKEN_USED/);
    });

    test('"was this you?" — "this wasn\'t me" fails the challenge and opens containment', async () => {
      const decision = await challengedSignIn(t, 'acct-confirm', { email: 'confirm@example.com' });
      const challengeId = decision.challenge?.id ?? '';
      const sent = await t.request('POST', `/v1/challenges/${challengeId}/send`, {
        method: 'device_confirmation',
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const message = smtp.messages.at(-1);
      assert.equal(message?.subject, 'Example Store: is this you signing in?');
      assert.match(message.text, /Firefox on Windows/);
      const path = linkIn(smtp.messages.at(-1)?.text ?? '', '/pages/confirm/');
      const answered = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=not_me',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(answered.statusCode, 200, answered.body);
      const account = await t.request('GET', '/v1/accounts/acct-confirm');
      assert.ok((account.body as { openCaseId?: string }).openCaseId !== undefined, 'containment opened');
      const completed = await timelineTypes(t, 'acct-confirm');
      assert.deepEqual(
        completed.map((e) => [(e as { method: string }).method, (e as { result: string }).result]),
        [['device_confirmation', 'failed']],
      );
    });

    test('new-device sign-ins and sensitive changes alert the owner once, in their language, with a one-click report', async () => {
      const accountId = 'acct-alerts';
      const channels = await t.service.app.inject({
        method: 'PUT',
        url: `/v1/accounts/${accountId}/channels`,
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'alerts@example.com', phone: '+819011112222', locale: 'ja' }),
      });
      assert.equal(channels.statusCode, 200, channels.body);
      await t.service.verification.drainOutbox();
      const mailsBefore = smtp.messages.length;
      const smsBefore = sms.messages.length;
      await challengedSignIn(t, accountId, {});
      const updated = await t.request('POST', '/v1/events', {
        id: nextId('update'),
        type: 'account.updated',
        at: new Date(t.clock.now() - 5_000).toISOString(),
        accountId,
        context: context('laptop', '198.51.100.9', firefox),
        field: 'email',
        change: 'changed',
      });
      assert.equal(updated.status, 200);
      const handled = await t.service.verification.drainOutbox();
      assert.ok(handled >= 2);
      assert.equal(await t.service.verification.drainOutbox(), 0, 'nothing left: each event once');
      const mails = smtp.messages.slice(mailsBefore).filter((m) => m.to === 'alerts@example.com');
      const subjects = mails.map((m) => m.subject ?? '');
      assert.ok(
        subjects.some((s) => s === 'Example Store: 新しい端末からのログイン'),
        subjects.join(' | '),
      );
      assert.ok(
        subjects.some((s) => s === 'Example Store: アカウントのメールアドレスが変更されました'),
        subjects.join(' | '),
      );
      const newDevice = mails.find((m) => /新しい端末/.test(m.subject ?? ''));
      assert.ok(newDevice !== undefined);
      assert.match(newDevice.text, /Firefox on Windows/);
      assert.match(newDevice.text, /198\.51\.100\.0\/24/);
      assert.match(newDevice.text, /決して/, 'the anti-phishing line');
      assert.equal(
        sms.messages.slice(smsBefore).filter((m) => m.to === '+819011112222').length,
        mails.length,
      );

      // The landing page shows what happened; GET changes nothing, the button reports.
      const path = linkIn(newDevice.text, '/pages/alert/');
      const landing = await t.service.app.inject({ method: 'GET', url: `${path}?lang=ja` });
      assert.equal(landing.statusCode, 200);
      assert.match(landing.body, /<html lang="ja">/);
      assert.match(landing.body, /これは私ではない/);
      const before = await t.request('GET', `/v1/accounts/${accountId}`);
      assert.equal(
        (before.body as { openCaseId?: string }).openCaseId,
        undefined,
        'opening the page reports nothing',
      );
      const report = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=not_me',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(report.statusCode, 200, report.body);
      const account = await t.request('GET', `/v1/accounts/${accountId}`);
      assert.ok((account.body as { openCaseId?: string }).openCaseId !== undefined, 'containment opened');
      const again = await t.service.app.inject({
        method: 'POST',
        url: path,
        payload: 'answer=not_me',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(again.statusCode, 409, 'a report link is single use');
    });

    test('an alert the mail server refused is retried on the next outbox step, and sent once', async () => {
      const accountId = 'acct-outage';
      await t.request('POST', '/v1/events', {
        id: nextId('created'),
        type: 'account.created',
        at: '2026-11-20T09:00:00Z',
        accountId,
        email: 'outage@example.com',
      });
      await t.service.verification.drainOutbox();
      await t.request('POST', '/v1/events', {
        id: nextId('update'),
        type: 'account.updated',
        at: new Date(t.clock.now() - 1_000).toISOString(),
        accountId,
        context: context('home', '203.0.113.7'),
        field: 'password',
        change: 'changed',
      });
      smtp.fault('unavailable');
      await assert.rejects(t.service.verification.drainOutbox(), /retried on the next step/);
      const sentTo = () => smtp.messages.filter((m) => m.to === 'outage@example.com');
      assert.equal(sentTo().length, 0, 'the temporary refusal sent nothing');
      assert.equal(await t.service.verification.drainOutbox(), 1, 'the same event is handled again');
      assert.equal(await t.service.verification.drainOutbox(), 0);
      assert.deepEqual(
        sentTo().map((m) => m.subject),
        ['Example Store: your password was changed'],
      );
    });

    test('a flood from one address is rate limited with a clear code', async () => {
      const codes = new Set<number>();
      for (let i = 0; i < 70; i += 1) {
        const answer = await t.service.app.inject({
          method: 'GET',
          url: '/v1/challenges/ch_flood',
          headers: { authorization: `Bearer ${t.key}` },
          remoteAddress: '192.0.2.200',
        });
        codes.add(answer.statusCode);
        if (answer.statusCode === 429) {
          assert.equal(errorCode(JSON.parse(answer.body)), 'RATE_LIMITED');
          break;
        }
      }
      assert.ok(codes.has(404) && codes.has(429), [...codes].join(','));
      // Another address is not affected.
      const other = await t.service.app.inject({
        method: 'GET',
        url: '/v1/challenges/ch_flood',
        headers: { authorization: `Bearer ${t.key}` },
        remoteAddress: '192.0.2.201',
      });
      assert.equal(other.statusCode, 404);
    });
  });
}
