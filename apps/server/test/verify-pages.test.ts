import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decisionSchema, errorBodySchema, type Decision } from '@bulwark/contracts';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { backends } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';
import { startSmtpServer, type TestSmtpServer } from './connectors/notify-test-servers.ts';

/**
 * The hosted pages in Debian's Chromium: enrolment (passkey with Chromium's virtual
 * authenticator, TOTP with oathtool), the challenge page answered with the passkey and with an
 * e-mailed code, and what a relayed or replayed assertion gets.
 */

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

const chrome =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';
let counter = 0;

/** A sign-in from a device the account has not used: answered with a challenge. */
async function signInFromNewDevice(t: TestService, accountId: string): Promise<Decision> {
  counter += 1;
  // Hours apart, so no sign-in looks concurrent with the one before.
  t.clock.advance(6 * 3_600_000);
  const at = new Date(t.clock.now()).toISOString();
  const device = `device-${String(counter)}`;
  const answer = await t.request('POST', '/v1/events', {
    id: `page-login-${String(counter)}`,
    type: 'login.succeeded',
    at,
    accountId,
    context: {
      ip: `198.51.100.${String(counter)}`,
      userAgent: firefox,
      deviceId: device,
      sessionId: `s-${device}`,
    },
    method: 'password',
    secondFactor: 'none',
  });
  const decision = decisionSchema.parse(answer.body);
  assert.equal(decision.decision, 'challenge', JSON.stringify(decision));
  return decision;
}

async function pageUrlOf(t: TestService, challengeId: string): Promise<string> {
  const view = await t.request('GET', `/v1/challenges/${challengeId}`);
  assert.equal(view.status, 200, JSON.stringify(view.body));
  return (view.body as { pageUrl: string }).pageUrl;
}

async function statusOf(t: TestService, challengeId: string): Promise<string> {
  return ((await t.request('GET', `/v1/challenges/${challengeId}`)).body as { status: string }).status;
}

const [backend] = backends();

describe(`hosted pages in Chromium (${backend ?? 'pglite'})`, () => {
  let t: TestService;
  let smtp: TestSmtpServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  const requested: string[] = [];

  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${String(port)}`;
    smtp = await startSmtpServer({ refusedRecipient: 'refused@example.com' });
    t = await startTestService(backend ?? 'pglite', {
      BULWARK_PUBLIC_URL: origin,
      BULWARK_STORE_NAME: 'Example Store',
      BULWARK_SMTP_HOST: '127.0.0.1',
      BULWARK_SMTP_PORT: String(smtp.port),
      BULWARK_ALERT_POLL_INTERVAL_MS: '3600000',
    });
    await t.service.app.listen({ host: 'localhost', port });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
    context = await browser.newContext();
    page = await context.newPage();
    page.on('request', (request) => requested.push(request.url()));
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await t.request('POST', '/v1/events', {
      events: [
        {
          id: 'web-created',
          type: 'account.created',
          at: '2026-11-20T09:00:00Z',
          accountId: 'acct-web',
          email: 'web@example.com',
        },
        {
          id: 'web-home',
          type: 'login.succeeded',
          at: '2026-11-20T09:01:00Z',
          accountId: 'acct-web',
          context: { ip: '203.0.113.7', userAgent: chrome, deviceId: 'home', sessionId: 's-home' },
          method: 'password',
          secondFactor: 'none',
        },
      ],
    });
  });

  after(async () => {
    await browser.close();
    await t.close();
    await smtp.close();
  });

  test('enrolment page: a passkey made by the virtual authenticator, TOTP confirmed with oathtool', async () => {
    const link = await t.request('POST', '/v1/accounts/acct-web/enrolment-link');
    assert.equal(link.status, 200);
    const { url } = link.body as { url: string };
    assert.ok(url.startsWith(`${origin}/pages/enrol/`));
    await page.goto(url);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.locator('h1').textContent(), 'Set up sign-in protection');
    assert.match((await page.getAttribute('img', 'src')) ?? '', /^data:image\/svg\+xml;base64,/);

    await page.click('#passkey');
    await page.waitForSelector('body[data-passkey]');
    assert.equal(
      await page.getAttribute('body', 'data-passkey'),
      'done',
      (await page.locator('#passkey-status').textContent()) ?? '',
    );

    const secret = (await page.locator('#totp-secret').textContent()) ?? '';
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const code = execFileSync(
      'oathtool',
      ['--totp', '--base32', secret, '--now', new Date(t.clock.now()).toISOString()],
      {
        encoding: 'utf8',
      },
    ).trim();
    await page.fill('input[name=code]', code);
    await page.click('form[action*="/totp"] button[type=submit]');
    await page.waitForLoadState();
    assert.match((await page.locator('main').textContent()) ?? '', /Your authenticator app is set up/);
  });

  test('challenge page: the passkey answers the challenge; replayed and relayed assertions are refused', async () => {
    const decision = await signInFromNewDevice(t, 'acct-web');
    const challengeId = decision.challenge?.id ?? '';
    await page.goto(await pageUrlOf(t, challengeId));
    assert.equal(await page.locator('h1').textContent(), "Confirm it's you");
    // Every visible input has a label; the passkey status is announced.
    const unlabelled = await page.$$eval(
      'input:not([type=hidden])',
      (inputs) =>
        inputs.filter(
          (input) => (input as unknown as { labels: { length: number } | null }).labels?.length === 0,
        ).length,
    );
    assert.equal(unlabelled, 0);
    assert.equal(await page.getAttribute('#passkey-status', 'aria-live'), 'polite');

    const verifyRequest = page.waitForRequest((request) => request.url().endsWith('/passkey/verify'));
    await page.click('#passkey');
    const captured = JSON.parse((await verifyRequest).postData() ?? '{}') as {
      response: { response: { clientDataJSON: string } };
    };
    await page.waitForSelector('body[data-passkey]');
    assert.equal(
      await page.getAttribute('body', 'data-passkey'),
      'done',
      (await page.locator('#passkey-status').textContent()) ?? '',
    );
    assert.equal(await statusOf(t, challengeId), 'passed');
    const view = await t.request('GET', '/v1/accounts/acct-web');
    const completed = (
      view.body as { timeline: { entries: { type: string; event: { method?: string } }[] } }
    ).timeline.entries.find((e) => e.type === 'challenge.completed');
    assert.equal(completed?.event.method, 'passkey');

    // The same assertion against a new challenge: its WebAuthn challenge does not match.
    const next = await signInFromNewDevice(t, 'acct-web');
    const nextId = next.challenge?.id ?? '';
    const options = await t.request('POST', `/v1/challenges/${nextId}/passkey/options`);
    assert.equal(options.status, 200, JSON.stringify(options.body));
    const replayed = await t.request('POST', `/v1/challenges/${nextId}/passkey/verify`, captured);
    assert.equal(replayed.status, 422);
    assert.equal(errorBodySchema.parse(replayed.body).error.code, 'WEBAUTHN_FAILED');
    // The prompt is single use: even a good answer now needs new options.
    const again = await t.request('POST', `/v1/challenges/${nextId}/passkey/verify`, captured);
    assert.match(errorBodySchema.parse(again.body).error.message, /ask for options first/);

    // A relay on another origin: the client data names that origin, and it is refused for it.
    const fresh = await t.request('POST', `/v1/challenges/${nextId}/passkey/options`);
    const clientData = JSON.parse(
      Buffer.from(captured.response.response.clientDataJSON, 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    const relayed = structuredClone(captured);
    relayed.response.response.clientDataJSON = Buffer.from(
      JSON.stringify({
        ...clientData,
        challenge: (fresh.body as { challenge: string }).challenge,
        origin: 'https://examp1e-store.example',
      }),
    ).toString('base64url');
    const wrongOrigin = await t.request('POST', `/v1/challenges/${nextId}/passkey/verify`, relayed);
    const error = errorBodySchema.parse(wrongOrigin.body).error;
    assert.equal(error.code, 'WEBAUTHN_FAILED');
    assert.match(error.message, /origin/i);
    assert.equal(await statusOf(t, nextId), 'pending', 'refused answers do not pass the challenge');
  });

  test('challenge page: an e-mailed code typed into the form, in Japanese', async () => {
    const decision = await signInFromNewDevice(t, 'acct-web');
    const challengeId = decision.challenge?.id ?? '';
    await page.goto(`${await pageUrlOf(t, challengeId)}?lang=ja`);
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    assert.equal(await page.locator('h1').textContent(), 'ご本人確認');
    await page.click('button:has-text("メールでコードを送る")');
    await page.waitForSelector('p.notice');
    const message = smtp.messages.at(-1);
    assert.ok(message !== undefined);
    assert.equal(message.to, 'web@example.com');
    assert.equal(message.subject, 'Example Store: 確認コード');
    const code = /(\d{6})/.exec(message.text)?.[1] ?? '';
    await page.fill('#code-email_otp', '000000' === code ? '111111' : '000000');
    await page.click('form:has(#code-email_otp) button[type=submit]');
    await page.waitForSelector('p.error');
    assert.match((await page.locator('p.error').textContent()) ?? '', /CODE_INVALID/);
    await page.fill('#code-email_otp', code);
    await page.click('form:has(#code-email_otp) button[type=submit]');
    await page.waitForLoadState();
    assert.match((await page.locator('main').textContent()) ?? '', /確認できました/);
    assert.equal(await statusOf(t, challengeId), 'passed');
  });

  test('pages load nothing from elsewhere and a tampered link gets a clear page', async () => {
    const response = await page.goto(`${origin}/pages/challenge/v1.AAAA.${'B'.repeat(43)}`);
    assert.equal(response?.status(), 400);
    assert.match((await page.locator('main').textContent()) ?? '', /TOKEN_INVALID/);
    const foreign = requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'));
    assert.deepEqual(foreign, []);
  });

  test('alert landing page: the owner presses "This wasn\'t me" and containment opens', async () => {
    await t.service.verification.drainOutbox();
    const alert = smtp.messages.find((m) => m.subject === 'Example Store: new sign-in to your account');
    assert.ok(alert !== undefined, 'the new-device sign-ins were alerted');
    assert.equal(alert.to, 'web@example.com');
    const link = /(http:\/\/localhost:\d+\/pages\/alert\/[A-Za-z0-9._-]+)/.exec(alert.text)?.[1] ?? '';
    assert.ok(link.startsWith(origin));
    await page.goto(link);
    assert.equal(await page.locator('h1').textContent(), 'Activity on your account');
    assert.match((await page.locator('main').textContent()) ?? '', /Firefox on Windows/);
    const before = await t.request('GET', '/v1/accounts/acct-web');
    assert.equal((before.body as { openCaseId?: string }).openCaseId, undefined);
    await page.click('button[value=not_me]');
    await page.waitForLoadState();
    assert.match((await page.locator('main').textContent()) ?? '', /securing your account/);
    const after = await t.request('GET', '/v1/accounts/acct-web');
    assert.ok((after.body as { openCaseId?: string }).openCaseId !== undefined);
  });
});
