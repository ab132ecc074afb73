import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  artifactsDir,
  assertAccessible,
  createAnalyst,
  ensureConsoleBuilt,
  launchChromium,
  repoRoot,
  signIn,
  totpCode,
} from './helpers/browser.ts';
import { startTestService, type TestService } from './helpers/service.ts';

/** The origin incident, moved so its last event happened a minute before the test clock's now. */
function originIncident(nowMs: number): Record<string, unknown>[] {
  const events = readFileSync(join(repoRoot, 'examples', 'origin-incident.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const last = Math.max(...events.map((e) => Date.parse(String(e.at))));
  const shift = nowMs - 60_000 - last;
  return events.map((e) => ({ ...e, at: new Date(Date.parse(String(e.at)) + shift).toISOString() }));
}

interface ActivityEntry {
  kind: string;
  orderId: string;
  status: string;
}

async function activity(t: TestService, accountId: string): Promise<ActivityEntry[]> {
  const answer = await t.request('GET', `/v1/accounts/${accountId}/activity`);
  return (answer.body as { entries: ActivityEntry[] }).entries;
}

/** Polls a condition the sandbox reaches on its own (its store follows the log every second). */
async function waitFor(condition: () => Promise<boolean>, what = 'the sandbox to catch up'): Promise<void> {
  for (let i = 0; i < 150; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('console rules, model and account activity in Chromium', () => {
  let t: TestService;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  let secret = '';
  const password = 'correct horse battery';

  before(async () => {
    ensureConsoleBuilt();
    t = await startTestService('pglite');
    baseUrl = await t.service.listen();
    secret = (await createAnalyst(t, 'aiko', 'admin', password)) ?? '';
    assert.ok(secret.length > 0);
    // The store has its orders before Bulwark hears of them: the first batch ends with the first
    // gift-card order, and the sandbox store (which follows the log) takes it before the archive
    // that opens containment arrives, so the case's sweep finds it at the store.
    const events = originIncident(t.clock.now());
    const split = events.findIndex((e) => e.id === 'evt-archive-gc-1');
    assert.ok(split > 0);
    assert.equal((await t.request('POST', '/v1/events', { events: events.slice(0, split) })).status, 200);
    await waitFor(async () => (await activity(t, 'shopper-1')).some((e) => e.orderId === 'order-gc-01'));
    assert.equal((await t.request('POST', '/v1/events', { events: events.slice(split) })).status, 200);
    await waitFor(
      async () => ((await t.request('GET', '/v1/labels')).body as { labels: unknown[] }).labels.length > 0,
    );
    browser = await launchChromium();
    page = await browser.newPage({ locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
    await signIn(page, baseUrl, { name: 'aiko', password, totp: totpCode(secret, t.clock.now()) });
  });
  after(async () => {
    await browser.close();
    await t.close();
  });

  test('rules: an inline compile error with its position, save, shadow and a backtest chart', async () => {
    await page.getByTestId('nav-/rules').click();
    await page.getByTestId('rules-active').waitFor();
    assert.match((await page.getByTestId('rules-active').textContent()) ?? '', /default-pack/);
    const expression = page.getByTestId('rule-0-expression');
    await expression.waitFor();
    const original = await expression.inputValue();
    assert.ok(original.length > 0, 'the editor opens with the active set');

    // A broken condition is reported under its rule, with line and column, as one types.
    await expression.fill('order.amount > ');
    const problems = page.getByTestId('rule-0-problems');
    await problems.waitFor();
    assert.match((await problems.textContent()) ?? '', /line 1, column \d+/);
    assert.equal(await expression.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('rules-save').isDisabled(), true);

    // A well-typed one is accepted; a type error (string > int) is not.
    await expression.fill('order.amount > "a"');
    await page.getByTestId('rule-0-problems').waitFor();
    await expression.fill(`(${original}) || order.amount >= 500000`);
    await page.getByTestId('rules-check').filter({ hasText: 'The rule set compiles.' }).waitFor();
    assert.equal(await page.getByTestId('rule-0-problems').count(), 0);
    await assertAccessible(page, 'rules page');

    await page.getByTestId('rules-save').click();
    await page.getByTestId('rules-notice').filter({ hasText: 'Saved as a new version.' }).waitFor();
    await page.getByTestId('shadow-1').waitFor();
    await page.getByTestId('shadow-1').click();
    await page.getByTestId('rules-shadow').filter({ hasText: 'rules-1' }).waitFor();
    const status = await t.request('GET', '/v1/rules');
    assert.equal((status.body as { shadow?: { version: string } }).shadow?.version, 'rules-1');
    const saved = await t.request('GET', '/v1/rules/1');
    const savedRules = (saved.body as { definition: { rules: { expression: string }[] } }).definition.rules;
    assert.match(savedRules[0]?.expression ?? '', /order\.amount >= 500000/);

    await page.getByTestId('rules-backtest').click();
    await page.getByTestId('backtest-report').waitFor({ timeout: 30_000 });
    const summary = (await page.getByTestId('backtest-summary').textContent()) ?? '';
    assert.match(summary, /default-pack/);
    assert.match(summary, /candidate/);
    // The chart draws a bar per rule of both sets; the origin incident's orders are labelled fraud.
    const bars = await page.locator('[data-testid=backtest-chart] svg rect').count();
    assert.ok(bars > 0, 'the backtest chart has bars');
    const currentRules = (await page.getByTestId('backtest-rules-current').textContent()) ?? '';
    assert.match(currentRules, /new_device_gift_card_burst/);
    await assertAccessible(page, 'rules page with a backtest');
    await page.screenshot({ path: join(artifactsDir, 'console-rules-backtest.png'), fullPage: true });
  });

  test('model metrics: score distribution and precision/recall at thresholds', async () => {
    await page.getByTestId('nav-/model').click();
    await page.getByTestId('model-version').waitFor();
    const metrics = await t.request('GET', '/v1/model/metrics');
    assert.equal(metrics.status, 200);
    const body = metrics.body as { orders: number; fraudOrders: number; thresholds: unknown[] };
    assert.ok(body.fraudOrders > 0, 'the case labels the attacker’s orders fraud');
    assert.equal(await page.getByTestId('model-orders').textContent(), String(body.orders));
    assert.ok((await page.locator('[data-testid=model-distribution] svg rect').count()) > 0);
    assert.equal(await page.locator('[data-testid=model-thresholds] svg polyline').count(), 2);
    assert.equal(
      await page.locator('[data-testid=model-threshold-table] tbody tr').count(),
      body.thresholds.length,
    );
    await assertAccessible(page, 'model page');
  });

  test('account timeline: payments and shipments on the same time axis', async () => {
    const found = await t.request('GET', '/v1/accounts/shopper-1/activity');
    assert.equal((found.body as { connected: boolean }).connected, true);
    assert.ok(
      (await activity(t, 'shopper-1')).some((e) => e.kind === 'payment'),
      'the provider reports payments',
    );

    await page.goto(`${baseUrl}/console/accounts/shopper-1`);
    await page.locator('tr.activity-row[data-kind=payment]').first().waitFor({ timeout: 15_000 });
    const row = (await page.locator('tr.activity-row[data-kind=payment]').first().textContent()) ?? '';
    assert.match(row, /[¥￥][\d,]+(?!\.)/);
    // Payments have their own lane on the axis, drawn as squares beside the event circles.
    assert.ok((await page.locator('figure.axis svg rect').count()) > 0);
    await assertAccessible(page, 'account page');
    await page.screenshot({ path: join(artifactsDir, 'console-account-activity.png'), fullPage: true });
  });

  /**
   * A card seen on several fresh accounts within a day is held (`card_many_accounts`): orders
   * with one card until one is decided `review`. Answers its order id.
   */
  const heldOrder = async (label: string): Promise<string> => {
    for (let i = 0; i < 6; i += 1) {
      const accountId = `acct-${label}-${String(i)}`;
      const at = new Date(t.clock.now() - 1000).toISOString();
      const orderId = `order-${accountId}`;
      const answer = await t.request('POST', '/v1/events', {
        events: [
          {
            id: `${accountId}-created`,
            type: 'account.created',
            at,
            accountId,
            email: `${accountId}@example.jp`,
          },
          {
            id: `${orderId}-placed`,
            type: 'order.placed',
            at,
            accountId,
            context: {
              ip: `203.0.113.${String(10 + i)}`,
              userAgent: 'Mozilla/5.0 (Macintosh)',
              deviceId: `dev-${accountId}`,
            },
            orderId,
            amount: { value: 12000, currency: 'JPY' },
            items: [{ category: 'physical', quantity: 1, unitPrice: { value: 12000, currency: 'JPY' } }],
            payment: { method: 'card', cardFingerprint: `card-shared-${label}`, cardCountry: 'JP' },
          },
        ],
      });
      const decisions = (answer.body as { decisions: { decision: string }[] }).decisions;
      if (decisions[1]?.decision === 'review') {
        // The store hands the order to the warehouse, which holds it, a moment later.
        await waitFor(async () =>
          (await activity(t, accountId)).some((e) => e.kind === 'shipment' && e.status === 'held'),
        );
        return orderId;
      }
    }
    throw new Error('no order was held for review');
  };

  /** Moves the queue's selection to an order with the keyboard: k to the top, then j down. */
  const selectWithKeys = async (orderId: string): Promise<void> => {
    const row = page.locator(`tr[data-order-id="${orderId}"]`);
    await row.waitFor();
    const rows = page.locator('tr[data-order-id]');
    const ids: (string | null)[] = [];
    for (let i = 0; i < (await rows.count()); i += 1)
      ids.push(await rows.nth(i).getAttribute('data-order-id'));
    for (let i = 0; i < ids.length; i += 1) await page.keyboard.press('k');
    for (let i = 0; i < ids.indexOf(orderId); i += 1) await page.keyboard.press('j');
    assert.equal(await row.getAttribute('aria-selected'), 'true');
  };

  test('review queue: j/k select, a approves, d declines and opens containment', async () => {
    const approveId = await heldOrder('approve');
    const declineId = await heldOrder('decline');
    await page.getByTestId('nav-/queue').click();
    await page.getByTestId('review-table').waitFor();
    await assertAccessible(page, 'review queue');

    await page.locator('h1').click();
    await selectWithKeys(approveId);
    await page.keyboard.press('a');
    await page
      .getByTestId('queue-notice')
      .filter({ hasText: `Approved ${approveId}` })
      .waitFor();
    await page.locator(`tr[data-order-id="${approveId}"]`).waitFor({ state: 'detached' });

    await page.getByTestId('queue-note-input').fill('card shared by six new accounts');
    await page.locator('h1').click();
    await selectWithKeys(declineId);
    await page.keyboard.press('d');
    await page
      .getByTestId('queue-notice')
      .filter({ hasText: `Declined ${declineId}` })
      .waitFor();

    const approved = await t.request('GET', `/v1/reviews/${approveId}`);
    assert.equal((approved.body as { status: string }).status, 'approved');
    assert.match((approved.body as { resolvedBy: string }).resolvedBy, /^analyst:/);
    const declined = (await t.request('GET', `/v1/reviews/${declineId}`)).body as {
      status: string;
      note?: string;
      caseId?: string;
    };
    assert.equal(declined.status, 'declined');
    assert.equal(declined.note, 'card shared by six new accounts');
    assert.equal(typeof declined.caseId, 'string');

    // The decline's case is one click away, and the declined tab lists the order with it.
    await page.getByTestId('queue-case-link').click();
    await page
      .getByTestId('case-id')
      .filter({ hasText: declined.caseId ?? '' })
      .waitFor();
    await page.getByTestId('nav-/queue').click();
    await page.getByTestId('queue-status-declined').click();
    await page.locator(`tr[data-order-id="${declineId}"]`).waitFor();
    await assertAccessible(page, 'review queue, declined');
  });

  test('reconciliation: a pass run from the page is listed with its divergences', async () => {
    await page.getByTestId('nav-/reconciliation').click();
    await page.getByTestId('recon-run').click();
    await page.locator('[data-testid=recon-runs] tbody tr').first().waitFor();
    const runs = (await t.request('GET', '/v1/reconciliation/runs')).body as { runs: unknown[] };
    assert.equal(await page.locator('[data-testid=recon-runs] tbody tr').count(), runs.runs.length);
    await assertAccessible(page, 'reconciliation page');
  });

  test('passkeys: an admin adds one (Chromium virtual authenticator) and signs in with it alone', async () => {
    // WebAuthn needs a host name (not an IP address) for the relying party: localhost.
    const localUrl = baseUrl.replace('127.0.0.1', 'localhost');
    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
    try {
      const admin = await context.newPage();
      const cdp = await context.newCDPSession(admin);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport: 'internal',
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
      // A fresh TOTP step: the one before() used signs in once only.
      t.clock.advance(30_000);
      await signIn(admin, localUrl, { name: 'aiko', password, totp: totpCode(secret, t.clock.now()) });
      await admin.getByTestId('nav-/passkeys').click();
      await admin.getByTestId('passkey-name').fill('laptop');
      await admin.getByTestId('passkey-add').click();
      await admin.getByTestId('passkey-notice').filter({ hasText: 'Passkey added' }).waitFor();
      assert.match((await admin.getByTestId('passkey-list').textContent()) ?? '', /laptop/);
      await assertAccessible(admin, 'passkeys page');

      await admin.getByRole('button', { name: 'Sign out' }).click();
      await admin.getByTestId('passkey-sign-in').waitFor();
      await admin.getByTestId('passkey-sign-in').click();
      await admin.getByTestId('signed-in-as').filter({ hasText: 'aiko (admin)' }).waitFor();
      const audit = await t.service.storage.console.readAudit({ limit: 20 });
      const passkeySignIn = audit.find((e) => e.action === 'sign_in' && e.outcome === 'ok');
      assert.equal(passkeySignIn?.detail.method, 'passkey');
      // The authenticator holds one discoverable credential for this site, and only that.
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1);
      const [credential] = credentials;
      assert.equal(credential?.rpId, 'localhost');
      assert.equal(credential.isResidentCredential, true);
    } finally {
      await context.close();
    }
  });

  test('passkeys: a forged answer signs nobody in', async () => {
    const bogus = await fetch(`${baseUrl}/console/api/sign-in/passkey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response: { id: 'nope', response: { clientDataJSON: 'e30' } } }),
    });
    assert.equal(bogus.status, 401);
    assert.equal(bogus.headers.get('set-cookie'), null);
  });
});
