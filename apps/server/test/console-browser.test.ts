import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  artifactsDir,
  assertAccessible,
  createAnalyst,
  ensureConsoleBuilt,
  launchChromium,
  signIn,
  totpCode,
} from './helpers/browser.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const context = {
  ip: '198.51.100.23',
  userAgent: 'Mozilla/5.0 (Windows NT 10.0) Chrome/130.0',
  deviceId: 'dev-x',
};

describe('console and security center in Chromium', () => {
  let t: TestService;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  const password = 'correct horse battery';
  let totpSecret = '';

  before(async () => {
    ensureConsoleBuilt();
    t = await startTestService('pglite');
    baseUrl = await t.service.listen();
    totpSecret = (await createAnalyst(t, 'aiko', 'admin', password)) ?? '';
    assert.ok(totpSecret.length > 0);
    browser = await launchChromium();
    page = await browser.newPage({ locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
  });
  after(async () => {
    await browser.close();
    await t.close();
  });

  test('an admin signs in with TOTP, sees a new decision, switches to Japanese, sees a hidden order', async () => {
    await page.goto(`${baseUrl}/console/`);
    await page.locator('input[name=name]').waitFor();
    await assertAccessible(page, 'sign-in page');
    await signIn(page, baseUrl, { name: 'aiko', password, totp: totpCode(totpSecret, t.clock.now()) });
    assert.equal(await page.getByTestId('signed-in-as').textContent(), 'aiko (admin)');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'bulwark_console');
    assert.equal(session?.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');

    const events = [
      {
        id: 'e2e-login-1',
        type: 'login.succeeded',
        at: '2026-11-25T08:50:00Z',
        accountId: 'shopper-7',
        context: { ...context, sessionId: 'sess-7' },
        method: 'password',
      },
      {
        id: 'e2e-order-1',
        type: 'order.placed',
        at: '2026-11-25T08:52:00Z',
        accountId: 'shopper-7',
        context,
        orderId: 'ord-7781',
        amount: { value: 50000, currency: 'JPY' },
        items: [{ category: 'gift_card', quantity: 5, unitPrice: { value: 10000, currency: 'JPY' } }],
        payment: { method: 'card', cardFingerprint: 'fp-7' },
      },
      {
        id: 'e2e-archive-1',
        type: 'order.archived',
        at: '2026-11-25T08:53:00Z',
        accountId: 'shopper-7',
        context,
        orderId: 'ord-7781',
      },
    ];
    const sent = await t.request('POST', '/v1/events', { events });
    assert.equal(sent.status, 200);
    // The live list refreshes by itself: the decision appears without a reload.
    await page.locator('tr[data-event-id="e2e-archive-1"]').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(artifactsDir, 'console-decisions.png'), fullPage: true });
    await assertAccessible(page, 'live decisions');

    await page.getByTestId('language-switch').click();
    await page.getByRole('heading', { name: 'ライブ判定' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'ja');

    await page.locator('tr[data-event-id="e2e-archive-1"] a', { hasText: 'shopper-7' }).click();
    await page.getByTestId('account-id').waitFor();
    const hidden = page.getByTestId('hidden-order');
    await hidden.waitFor();
    const hiddenText = (await hidden.textContent()) ?? '';
    assert.match(hiddenText, /非表示（アーカイブ済み）/);
    // Archived 08:53Z, shown in the viewer's zone (Tokyo, +9 h).
    assert.match(hiddenText, /17:53/);
    const timeline = (await page.getByTestId('timeline').textContent()) ?? '';
    assert.match(timeline, /ord-7781/);
    assert.match(timeline, /[¥￥]50,000(?!\.)/);
    await page.screenshot({ path: join(artifactsDir, 'console-account-ja.png'), fullPage: true });
    await assertAccessible(page, 'account page in Japanese');
    for (const [path, what] of [
      ['/console/queue', 'review queue'],
      ['/console/audit', 'audit log'],
    ] as const) {
      await page.goto(`${baseUrl}${path}`);
      await page.locator('h1').waitFor();
      await assertAccessible(page, what);
    }
  });

  test('a shopper opens the security center from a store link and presses "this wasn\'t me"', async () => {
    const link = await t.request('POST', '/v1/security-center/links', { accountId: 'shopper-7' });
    assert.equal(link.status, 200);
    const shopper = await browser.newPage({ locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
    try {
      await shopper.goto(`${baseUrl}${(link.body as { path: string }).path}`);
      await shopper.getByTestId('sc-orders').waitFor();
      await assertAccessible(shopper, 'security center');
      // The token left the address at once.
      assert.equal(shopper.url(), `${baseUrl}/security-center`);
      const orders = (await shopper.getByTestId('sc-orders').textContent()) ?? '';
      assert.match(orders, /ord-7781/);
      assert.match(orders, /Hidden from your order history/);
      // Money per currency: yen without decimals.
      assert.match(orders, /¥50,000(?!\.)/);
      await shopper.getByTestId('sc-not-me').click();
      await shopper.getByTestId('sc-confirm').click();
      // The button gives way to the case once the report is taken.
      await shopper.getByTestId('sc-not-me').waitFor({ state: 'detached' });
      await shopper.getByTestId('case-status').waitFor();
      const status = (await shopper.getByTestId('case-status').textContent()) ?? '';
      assert.ok(['open', 'contained', 'reconciled', 'escalated', 'closed'].includes(status), status);
      const caseText = (await shopper.getByTestId('sc-case').textContent()) ?? '';
      assert.match(caseText, /shopper-7/);
      await shopper.screenshot({ path: join(artifactsDir, 'security-center-case.png'), fullPage: true });
      await assertAccessible(shopper, 'security center with the case');
      // The case is on the account now, opened by the owner's report.
      const account = await t.request('GET', '/v1/accounts/shopper-7');
      assert.equal(typeof (account.body as { openCaseId?: string }).openCaseId, 'string');
    } finally {
      await shopper.close();
    }
  });
});
