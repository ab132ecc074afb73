import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  errorBodySchema,
  mismatchListSchema,
  paymentLedgerSchema,
  reconciliationRunListSchema,
  reconciliationRunViewSchema,
  type BulwarkEvent,
} from '@bulwark/contracts';
import pino from 'pino';
import { migrateToLatest, openDatabase } from '../../src/adapters/db/database.ts';
import { databaseOf, kyselyStorage } from '../../src/adapters/db/kysely-storage.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { createService, type Service } from '../../src/main.ts';
import { SandboxWorld } from '../../src/adapters/sandbox/world.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { backends, createPostgresDatabase, freshDatabase, type Backend } from '../helpers/backends.ts';

interface TestService {
  readonly service: Service;
  readonly clock: ManualClock;
  readonly key: string;
  request(
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/**
 * The whole service with the sandbox connectors on, over a database of its own (the storage must
 * be the one `kyselyStorage` made, so the service finds the database under it).
 */
async function startService(backend: Backend): Promise<TestService> {
  const clock = new ManualClock(Date.parse('2026-11-25T09:00:00Z'));
  let storage;
  let drop = (): Promise<void> => Promise.resolve();
  if (backend === 'pglite') storage = (await freshDatabase('pglite')).storage;
  else {
    const created = await createPostgresDatabase();
    const handle = await openDatabase({ databaseUrl: created.url, dataDir: 'unused', poolSize: 4 });
    await migrateToLatest(handle.db);
    storage = kyselyStorage(handle);
    drop = created.drop;
  }
  const config = loadConfig(
    { BULWARK_LOG_LEVEL: 'silent', BULWARK_STORE_NAME: 'Example Store' },
    { port: 0 },
  );
  const service = await createService(config, { clock, ids: derivedIds(), processMetrics: false, storage });
  const { key } = await service.apiKeys.create('test');
  return {
    service,
    clock,
    key,
    async request(method, url, body) {
      const response = await service.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      let parsed: unknown = response.body;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        // HTML or PDF: keep the text.
      }
      return { status: response.statusCode, body: parsed, headers: response.headers };
    },
    async close() {
      await service.stop();
      await drop();
    },
  };
}

/** The reconciliation API through the whole service: shapes, auth, bad input, ledger, report. */
for (const backend of backends()) {
  describe(`reconciliation API (${backend})`, () => {
    let t: TestService;
    let world: SandboxWorld;
    before(async () => {
      t = await startService(backend);
      const db = databaseOf(t.service.storage);
      assert.ok(db);
      // The store's side of the sandbox over the service's own database.
      world = new SandboxWorld({
        db,
        clock: t.clock,
        logger: pino({ level: 'silent' }),
        webhookSecret: 'whsec_http',
        ids: derivedIds(),
      });
    });
    after(async () => {
      await t.close();
    });

    const placeOrder = async (accountId: string, orderId: string, value: number) => {
      const event = {
        id: `evt-${orderId}`,
        type: 'order.placed',
        at: new Date(t.clock.now()).toISOString(),
        accountId,
        context: { ip: '198.51.100.7', userAgent: 'test' },
        orderId,
        amount: { value, currency: 'JPY' },
        items: [{ category: 'physical', quantity: 1, unitPrice: { value, currency: 'JPY' } }],
        payment: { method: 'card', cardFingerprint: 'card-1' },
      } as BulwarkEvent;
      await world.onDecided(event, {
        eventId: event.id,
        accountId,
        decision: 'allow',
        score: 0,
        reasons: [],
      });
      const order = (await world.store.allOrders()).find((o) => o.orderId === orderId);
      assert.ok(order?.paymentId);
      return order.paymentId;
    };

    test('a pass answers the run view; runs are listed newest first', async () => {
      const first = await t.request('POST', '/v1/reconciliation/runs', {});
      assert.equal(first.status, 200);
      const run = reconciliationRunViewSchema.parse(first.body);
      assert.equal(run.mode, 'incremental');
      const full = reconciliationRunViewSchema.parse(
        (await t.request('POST', '/v1/reconciliation/runs', { full: true })).body,
      );
      assert.equal(full.mode, 'full');
      const listed = reconciliationRunListSchema.parse(
        (await t.request('GET', '/v1/reconciliation/runs?limit=5')).body,
      );
      assert.deepEqual(
        listed.runs
          .map((r) => r.id)
          .slice(0, 2)
          .sort(),
        [run.id, full.id].sort(),
      );
    });

    test('bad input answers INVALID_PARAMETER with the field; unknown things NOT_FOUND; no key UNAUTHORIZED', async () => {
      const cases: [string, string, unknown, string][] = [
        ['POST', '/v1/reconciliation/runs', { full: 'yes' }, 'full'],
        ['POST', '/v1/reconciliation/runs', { extra: 1 }, ''],
        ['GET', '/v1/reconciliation/runs?limit=0', undefined, 'limit'],
        ['GET', '/v1/reconciliation/mismatches?status=closed', undefined, 'status'],
        ['GET', '/v1/reconciliation/mismatches?class=nonsense', undefined, 'class'],
        ['GET', '/v1/accounts/someone/incident-report?lang=fr', undefined, 'lang'],
        ['GET', '/v1/accounts/someone/incident-report?format=docx', undefined, 'format'],
      ];
      for (const [method, url, body, field] of cases) {
        const answer = await t.request(method as 'GET' | 'POST', url, body);
        assert.equal(answer.status, 400, url);
        const error = errorBodySchema.parse(answer.body).error;
        assert.equal(error.code, 'INVALID_PARAMETER', url);
        if (field !== '') assert.equal(error.field, field, url);
      }
      const missing = await t.request('GET', '/v1/payments/pi_nothing/ledger');
      assert.equal(missing.status, 404);
      assert.equal(errorBodySchema.parse(missing.body).error.code, 'NOT_FOUND');
      const noCase = await t.request('GET', '/v1/accounts/nobody/incident-report');
      assert.equal(noCase.status, 404);
      const anonymous = await t.service.app.inject({ method: 'GET', url: '/v1/reconciliation/runs' });
      assert.equal(anonymous.statusCode, 401);
    });

    test('the ledger of a captured payment, and a stray charge found as money unmatched', async () => {
      const paymentId = await placeOrder('http-acct-1', 'http-o-1', 4000);
      const captured = await world.payments.capture({ paymentId, idempotencyKey: 'http-capture-1' });
      assert.ok(captured.ok);
      const stray = await world.payments.authorize({
        amount: { value: 999, currency: 'JPY' },
        idempotencyKey: 'http-stray',
      });
      assert.ok(stray.ok);
      await world.payments.capture({
        paymentId: stray.value.paymentId,
        idempotencyKey: 'http-stray-capture',
      });
      const run = reconciliationRunViewSchema.parse(
        (await t.request('POST', '/v1/reconciliation/runs', {})).body,
      );
      assert.equal(run.scanned.balanceTransactions, 2);
      assert.equal(run.escalated, 1);
      const ledger = paymentLedgerSchema.parse(
        (await t.request('GET', `/v1/payments/${paymentId}/ledger`)).body,
      );
      assert.equal(ledger.authorized, 4000);
      assert.equal(ledger.captured, 4000);
      assert.equal(ledger.refunded, 0);
      assert.deepEqual(
        ledger.entries.map((e) => e.kind),
        ['capture'],
      );
      const mismatches = mismatchListSchema.parse(
        (await t.request('GET', '/v1/reconciliation/mismatches?status=escalated&class=money_unmatched')).body,
      );
      assert.equal(mismatches.mismatches.length, 1);
      assert.equal(mismatches.mismatches[0]?.paymentId, stray.value.paymentId);
      const open = mismatchListSchema.parse(
        (await t.request('GET', '/v1/reconciliation/mismatches?status=open')).body,
      );
      assert.equal(open.mismatches.length, 0);
    });

    test('the incident report of a contained account, as HTML and as PDF', async () => {
      const paymentId = await placeOrder('http-victim', 'http-o-2', 5000);
      const opened = await t.request('POST', '/v1/accounts/http-victim/compromised', {
        reportedBy: 'owner',
        since: '2026-11-25T00:00:00Z',
      });
      assert.equal(opened.status, 200);
      // The service's containment engine runs on its own loop: wait (bounded) until the void is confirmed.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const read = await world.payments.getPayment(paymentId);
        if (read.ok && read.value.status === 'voided') break;
        assert.ok(Date.now() < deadline, 'containment voided the payment');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const html = await t.request('GET', '/v1/accounts/http-victim/incident-report?lang=ja');
      assert.equal(html.status, 200);
      assert.match(String(html.headers['content-type']), /text\/html/);
      assert.match(String(html.body), /http-o-2/);
      assert.match(String(html.body), /インシデント報告書/);
      assert.match(String(html.body), /Example Store/);
      const pdf = await t.service.app.inject({
        method: 'GET',
        url: '/v1/accounts/http-victim/incident-report?format=pdf',
        headers: { authorization: `Bearer ${t.key}` },
      });
      assert.equal(pdf.statusCode, 200);
      assert.equal(pdf.headers['content-type'], 'application/pdf');
      assert.equal(pdf.rawPayload.subarray(0, 5).toString('latin1'), '%PDF-');
    });
  });
}
