import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { KyselyReconcileStore } from '../../src/adapters/db/reconcile-store.ts';
import { sandboxOrderFeed } from '../../src/adapters/sandbox/store/order-feed.ts';
import { derivedIds } from '../../src/core/ids.ts';
import { loadRiskPolicy } from '../../src/main.ts';
import type { IncidentReport, ReportOrder } from '../../src/reconcile/domain/incident-report.ts';
import { IncidentReports } from '../../src/reconcile/incident-reports.ts';
import { renderReportHtml, renderReportPdf } from '../../src/reconcile/report-render.ts';
import { Reconciler } from '../../src/reconcile/service.ts';
import type { SandboxPayment } from '../../src/adapters/sandbox/payments/sandbox-payments.ts';
import { replayWithStore } from '../../src/sim/store-replay.ts';

const originFile = new URL('../../../../examples/origin-incident.jsonl', import.meta.url);

interface Books {
  readonly payments: Partial<Record<string, SandboxPayment>>;
  readonly ledger: Partial<
    Record<string, { kind: string; amountMinor: number; reference: string; atMs: number }[]>
  >;
  readonly orders: Partial<
    Record<string, { amount: number; placedAtMs: number; paymentId: string | undefined }>
  >;
  readonly shipments: Partial<Record<string, { status: string; kind: string; trackingNumber: string }[]>>;
}

const kindOf: Record<string, string> = {
  charge: 'capture',
  refund: 'refund',
  refund_failure: 'refund_failure',
  dispute: 'dispute',
  dispute_reversal: 'dispute_reversal',
};

async function pdfText(pdf: Buffer): Promise<string> {
  const doc = await getDocument({ data: new Uint8Array(pdf) }).promise;
  let text = '';
  for (let n = 1; n <= doc.numPages; n += 1) {
    const page = await doc.getPage(n);
    const content = await page.getTextContent();
    text += content.items.map((item) => ('str' in item ? item.str : '')).join('');
  }
  return text;
}

/** One line of the report against the provider's books. */
function checkLine(line: ReportOrder, books: Books): void {
  const order: Books['orders'][string] = books.orders[line.orderId];
  assert.ok(order, line.orderId);
  assert.equal(line.amountMinor, order.amount, `${line.orderId} amount`);
  assert.equal(line.placedAtMs, order.placedAtMs, `${line.orderId} date`);
  assert.equal(line.paymentId, order.paymentId);
  const p: SandboxPayment | undefined = books.payments[line.paymentId ?? ''];
  assert.ok(p, `${line.orderId} payment at the provider`);
  assert.equal(line.authorizedMinor, p.authorizedMinor);
  assert.equal(line.capturedMinor, p.capturedMinor);
  const succeeded = p.refunds.filter((r) => r.status === 'succeeded');
  assert.equal(
    line.refundedMinor,
    succeeded.reduce((s, r) => s + r.amountMinor, 0),
  );
  assert.deepEqual(
    line.refunds.map((r) => [r.refundId, r.amountMinor, r.status]),
    p.refunds.map((r) => [r.refundId, r.amountMinor, r.status]),
    `${line.orderId} refunds`,
  );
  const expectedOutcome =
    p.status === 'voided'
      ? 'voided'
      : p.status === 'captured' && line.refundedMinor === p.capturedMinor
        ? 'refunded'
        : p.status;
  assert.equal(line.payment, expectedOutcome, `${line.orderId} outcome`);
  assert.equal(line.remainingMinor, p.capturedMinor - line.refundedMinor);
  const txns: NonNullable<Books['ledger'][string]> = books.ledger[p.paymentId] ?? [];
  assert.deepEqual(
    line.transactions.map((t) => [t.kind, t.amountMinor, t.reference, t.atMs]),
    txns.map((t) => [t.kind, t.amountMinor, t.reference, t.atMs]),
    `${line.orderId} transactions`,
  );
  const carrier: NonNullable<Books['shipments'][string]> = books.shipments[line.orderId] ?? [];
  assert.deepEqual(
    line.trackingNumbers,
    carrier.filter((s) => s.kind === 'physical').map((s) => s.trackingNumber),
  );
  if (carrier.some((s) => s.kind === 'physical'))
    assert.ok(['held', 'cancelled', 'intercepted'].includes(line.shipment), line.shipment);
}

/**
 * The origin incident replayed (detectors off, so the attacker's orders go through and some are
 * captured), then the shopper's report generated and checked line by line against the sandbox
 * provider's own books: amounts, references, states.
 */
describe("the shopper's incident report for the origin incident", () => {
  test('every line matches the provider books; HTML and PDF in English and Japanese', async () => {
    const policy = { ...loadRiskPolicy(), enforcement: 'observe' as const };
    // Filled inside the replay's inspection (before its database closes).
    const seen: { report?: IncidentReport; books?: Books } = {};
    const rendered: { html: Record<string, string>; pdf: Record<string, Buffer> } = { html: {}, pdf: {} };
    await replayWithStore(createReadStream(originFile), new PassThrough().resume(), () => undefined, {
      policy,
      inspect: async ({ world, storage, db, clock }) => {
        const store = new KyselyReconcileStore(db);
        const reconciler = new Reconciler({
          store,
          runs: storage.containment,
          payments: world.payments,
          fulfilment: world.fulfilment.port,
          orders: sandboxOrderFeed(db),
          clock,
          ids: derivedIds(),
        });
        const pass = await reconciler.run('full');
        assert.equal(pass.mismatches, 0, 'the contained incident reconciles clean');
        const reports = new IncidentReports({
          store,
          payments: world.payments,
          fulfilment: world.fulfilment.port,
          clock,
          storeName: 'Example Store',
        });
        const built = await reports.build('shopper-1');
        assert.ok(built);
        seen.report = built;
        for (const lang of ['en', 'ja'] as const) {
          rendered.html[lang] = renderReportHtml(built, lang);
          rendered.pdf[lang] = await renderReportPdf(built, lang);
        }
        const payments: Books['payments'] = {};
        const ledger: Record<
          string,
          { kind: string; amountMinor: number; reference: string; atMs: number }[]
        > = {};
        const orders: Books['orders'] = {};
        const shipments: Books['shipments'] = {};
        for (const order of await world.store.allOrders()) {
          orders[order.orderId] = {
            amount: order.amount.value,
            placedAtMs: order.placedAtMs,
            paymentId: order.paymentId,
          };
          const f = await world.fulfilment.inspect(order.orderId);
          shipments[order.orderId] = (f?.shipments ?? []).map((s) => ({
            status: s.status,
            kind: s.kind,
            trackingNumber: s.trackingNumber,
          }));
          if (order.paymentId === undefined) continue;
          const p = await world.payments.inspect(order.paymentId);
          if (p !== undefined) payments[order.paymentId] = p;
          const { rows } = await sql<{
            entry: { reportingCategory: string; amountMinor: number; sourceId: string; createdAtMs: number };
          }>`
            select entry from sandbox_payment_ledger where payment_id = ${order.paymentId} order by seq`.execute(
            db,
          );
          ledger[order.paymentId] = rows.map(({ entry: e }) => ({
            kind: kindOf[e.reportingCategory] ?? e.reportingCategory,
            amountMinor: Math.abs(e.amountMinor),
            reference: e.sourceId,
            atMs: e.createdAtMs,
          }));
        }
        seen.books = { payments, ledger, orders, shipments };
      },
    });
    const report: IncidentReport | undefined = seen.report;
    const books: Books | undefined = seen.books;
    assert.ok(report);
    assert.ok(books);
    assert.equal(report.orders.length, 18, 'sixteen gift cards and two parcels');
    for (const line of report.orders) checkLine(line, books);
    const refundedSeen = report.orders.filter((o) => o.payment === 'refunded').length;
    assert.ok(refundedSeen > 0, 'some were captured, then refunded');
    assert.equal(report.totals.remainingMinor, 0);
    assert.equal(report.disputeAdvised, false);
    assert.equal(
      report.totals.orderedMinor,
      [...report.orders].reduce((s, o) => s + o.amountMinor, 0),
    );

    for (const lang of ['en', 'ja'] as const) {
      const html = rendered.html[lang] ?? '';
      const text = await pdfText(rendered.pdf[lang] ?? Buffer.alloc(0));
      assert.ok(text.length > 0, `${lang} PDF has text`);
      assert.match(html, new RegExp(`<html lang="${lang}">`));
      for (const line of report.orders) {
        assert.ok(html.includes(line.orderId), `${lang} html lists ${line.orderId}`);
        assert.ok(text.includes(line.orderId), `${lang} pdf lists ${line.orderId}`);
        for (const r of line.refunds) {
          assert.ok(html.includes(r.refundId), `${lang} html names ${r.refundId}`);
          assert.ok(text.includes(r.refundId), `${lang} pdf names ${r.refundId}`);
        }
      }
      assert.ok(
        text.includes(lang === 'ja' ? 'インシデント報告書' : 'Incident report'),
        `${lang} title in the PDF`,
      );
      assert.ok(text.includes(report.caseId));
    }
  });
});
