import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { caseViewSchema, decisionSchema, errorBodySchema } from '@bulwark/contracts';
import { openDatabase } from '../src/adapters/db/database.ts';
import { backends, createPostgresDatabase } from './helpers/backends.ts';
import { startTestService, type TestService } from './helpers/service.ts';

const context = { ip: '203.0.113.7', userAgent: 'Mozilla/5.0', deviceId: 'dev-1' };
const order = (id: string, orderId: string, at: string) => ({
  id,
  type: 'order.placed',
  at,
  accountId: 'victim',
  context,
  orderId,
  amount: { value: 5000, currency: 'JPY' },
  items: [{ category: 'gift_card', quantity: 1, unitPrice: { value: 5000, currency: 'JPY' } }],
  payment: { method: 'card', cardFingerprint: 'fp-1' },
});

for (const backend of backends()) {
  describe(`containment cases on ${backend}`, () => {
    let t: TestService;
    before(async () => {
      t = await startTestService(backend);
      for (const [i, at] of [
        '2026-11-25T07:00:00Z',
        '2026-11-25T08:00:00Z',
        '2026-11-25T08:30:00Z',
      ].entries()) {
        const response = await t.request('POST', '/v1/events', order(`o-${i}`, `order-${i}`, at));
        assert.equal(response.status, 200);
      }
      // Archived half an hour after it was placed: an order hidden within minutes would itself
      // open containment (order risk), and this suite is about the owner's report opening it.
      await t.request('POST', '/v1/events', {
        id: 'arch-1',
        type: 'order.archived',
        at: '2026-11-25T09:00:30Z',
        accountId: 'victim',
        context,
        orderId: 'order-2',
      });
    });
    after(async () => {
      await t.close();
    });

    test('"this wasn\'t me" opens a case listing every order since the given time, archived ones included', async () => {
      const response = await t.request(
        'POST',
        '/v1/accounts/victim/compromised',
        { reportedBy: 'owner', since: '2026-11-25T07:30:00Z' },
        { 'idempotency-key': 'report-1' },
      );
      assert.equal(response.status, 200);
      const view = caseViewSchema.parse(response.body);
      assert.equal(view.accountId, 'victim');
      assert.equal(view.status, 'open');
      assert.equal(view.reportedBy, 'owner');
      assert.deepEqual(
        view.orders.map((o) => o.orderId),
        ['order-1', 'order-2'],
      );
      const fetched = caseViewSchema.parse((await t.request('GET', `/v1/cases/${view.caseId}`)).body);
      assert.deepEqual(fetched, view);
    });

    test('a retried report with the same Idempotency-Key answers the same case, later in time too', async () => {
      const first = caseViewSchema.parse(
        (
          await t.request(
            'POST',
            '/v1/accounts/victim/compromised',
            { reportedBy: 'owner' },
            { 'idempotency-key': 'report-1' },
          )
        ).body,
      );
      t.clock.advance(60_000);
      const again = await t.request(
        'POST',
        '/v1/accounts/victim/compromised',
        { reportedBy: 'owner' },
        { 'idempotency-key': 'report-1' },
      );
      assert.equal(again.status, 200);
      assert.equal(caseViewSchema.parse(again.body).caseId, first.caseId);
    });

    test('a second report joins the open case; the same key on another account is another report', async () => {
      const open = caseViewSchema.parse(
        (await t.request('POST', '/v1/accounts/victim/compromised', { reportedBy: 'analyst' })).body,
      );
      const joined = caseViewSchema.parse(
        (await t.request('POST', '/v1/accounts/victim/compromised', { reportedBy: 'issuer' })).body,
      );
      assert.equal(joined.caseId, open.caseId);
      const other = caseViewSchema.parse(
        (
          await t.request(
            'POST',
            '/v1/accounts/someone-else/compromised',
            {},
            { 'idempotency-key': 'report-1' },
          )
        ).body,
      );
      assert.notEqual(other.caseId, open.caseId);
      assert.equal(other.accountId, 'someone-else');
      assert.equal(other.reportedBy, 'analyst', 'the default reporter is an analyst');
    });

    test('while the case is open, sign-ins and orders on the account are denied', async () => {
      const login = await t.request('POST', '/v1/events', {
        id: 'after-case-login',
        type: 'login.succeeded',
        at: '2026-11-25T08:50:00Z',
        accountId: 'victim',
        context,
        method: 'password',
      });
      const decision = decisionSchema.parse(login.body);
      assert.equal(decision.decision, 'deny');
      assert.equal(decision.reasons[0]?.code, 'account_in_containment');
      const placed = decisionSchema.parse(
        (await t.request('POST', '/v1/events', order('after-case-order', 'order-9', '2026-11-25T08:51:00Z')))
          .body,
      );
      assert.equal(placed.decision, 'deny');
    });

    test('answers unknown cases and bad reports clearly', async () => {
      const missing = await t.request('GET', '/v1/cases/case_nope');
      assert.equal(missing.status, 404);
      assert.equal(errorBodySchema.parse(missing.body).error.code, 'NOT_FOUND');
      const bad = await t.request('POST', '/v1/accounts/victim/compromised', { reportedBy: 'neighbour' });
      assert.equal(bad.status, 400);
      assert.equal(errorBodySchema.parse(bad.body).error.field, 'reportedBy');
      const badKey = await t.request(
        'POST',
        '/v1/accounts/victim/compromised',
        {},
        { 'idempotency-key': 'has spaces' },
      );
      assert.equal(errorBodySchema.parse(badKey.body).error.field, 'Idempotency-Key');
    });
  });
}

if (backends().includes('postgres')) {
  describe('one decision writer per PostgreSQL database', () => {
    test('a second writer is refused while the first holds the database, and admitted after it closes', async () => {
      const { url, drop } = await createPostgresDatabase();
      try {
        const first = await openDatabase({ databaseUrl: url, dataDir: 'unused' });
        const second = await openDatabase({ databaseUrl: url, dataDir: 'unused' });
        await first.lockWriter?.();
        await assert.rejects(
          async () => second.lockWriter?.(),
          /already deciding on this PostgreSQL database/,
        );
        await first.close();
        await second.lockWriter?.();
        await second.close();
      } finally {
        await drop();
      }
    });
  });
}
