import {
  incidentReportQuerySchema,
  mismatchesQuerySchema,
  reconciliationRunRequestSchema,
  reconciliationRunsQuerySchema,
  type MismatchView,
  type PaymentLedgerView,
  type ReconciliationRunView,
} from '@bulwark/contracts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../core/time.ts';
import type { IncidentReports } from '../../reconcile/incident-reports.ts';
import type { MismatchRecord, ReconcileRunRecord, ReconcileStore } from '../../reconcile/ports.ts';
import { renderReportHtml, renderReportPdf } from '../../reconcile/report-render.ts';
import type { Reconciler } from '../../reconcile/service.ts';
import { sendError } from '../app.ts';

export interface ReconcileRouteDeps {
  readonly reconciler: Reconciler;
  readonly store: ReconcileStore;
  readonly reports: IncidentReports;
}

const paymentParams = z.object({ paymentId: z.string().min(1).max(255) });
const accountParams = z.object({ accountId: z.string().min(1).max(1024) });

function invalid(reply: FastifyReply, error: z.ZodError): FastifyReply {
  const issue = error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
  return sendError(
    reply,
    'INVALID_PARAMETER',
    `${field ?? 'request'}: ${issue?.message ?? 'is invalid'}`,
    field,
  );
}

export const runView = (r: ReconcileRunRecord): ReconciliationRunView => ({
  id: r.runId,
  mode: r.mode,
  startedAt: toIso(r.startedAtMs),
  finishedAt: toIso(r.finishedAtMs),
  scanned: { ...r.scanned },
  mismatches: r.mismatches,
  repaired: r.repaired,
  escalated: r.escalated,
});

const optional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;

export const mismatchView = (m: MismatchRecord): MismatchView => ({
  id: m.mismatchId,
  class: m.class,
  status: m.status,
  detectedAt: toIso(m.detectedAtMs),
  ...optional('resolvedAt', m.resolvedAtMs === undefined ? undefined : toIso(m.resolvedAtMs)),
  ...optional('caseId', m.caseId),
  ...optional('accountId', m.accountId),
  ...optional('orderId', m.orderId),
  ...optional('paymentId', m.paymentId),
  ...optional('shipmentId', m.shipmentId),
  expected: m.expected,
  actual: m.actual,
  action: m.action,
  detail: { ...m.detail },
});

/** Reconciliation, the payment ledger and the shopper's incident report (docs/reconciliation.md). */
export function registerReconcileRoutes(app: FastifyInstance, deps: ReconcileRouteDeps): void {
  app.post('/v1/reconciliation/runs', async (request, reply) => {
    const body = reconciliationRunRequestSchema.safeParse(request.body ?? {});
    if (!body.success) return invalid(reply, body.error);
    const run = await deps.reconciler.run(body.data.full === true ? 'full' : 'incremental');
    return runView(run);
  });

  app.get('/v1/reconciliation/runs', async (request, reply) => {
    const query = reconciliationRunsQuerySchema.safeParse(request.query);
    if (!query.success) return invalid(reply, query.error);
    return { runs: (await deps.store.listRuns(query.data.limit)).map(runView) };
  });

  app.get('/v1/reconciliation/mismatches', async (request, reply) => {
    const query = mismatchesQuerySchema.safeParse(request.query);
    if (!query.success) return invalid(reply, query.error);
    const mismatches = await deps.store.listMismatches({
      status: query.data.status,
      class: query.data.class,
      limit: query.data.limit,
    });
    return { mismatches: mismatches.map(mismatchView) };
  });

  app.get('/v1/payments/:paymentId/ledger', async (request, reply) => {
    const params = paymentParams.safeParse(request.params);
    if (!params.success) return invalid(reply, params.error);
    const found = await deps.store.ledger(params.data.paymentId);
    if (found === undefined)
      return sendError(
        reply,
        'NOT_FOUND',
        `no ledger for payment "${params.data.paymentId}": reconciliation has not seen money move on it`,
        'paymentId',
      );
    const view: PaymentLedgerView = {
      paymentId: found.ledger.paymentId,
      currency: found.ledger.currency,
      authorized: found.ledger.authorizedMinor,
      captured: found.ledger.capturedMinor,
      refunded: found.ledger.refundedMinor,
      disputed: found.ledger.disputedMinor,
      entries: found.entries.map((e) => ({
        at: toIso(e.atMs),
        kind: e.kind,
        amount: e.amountMinor,
        reference: e.reference,
      })),
    };
    return view;
  });

  app.get('/v1/accounts/:accountId/incident-report', async (request, reply) => {
    const params = accountParams.safeParse(request.params);
    if (!params.success) return invalid(reply, params.error);
    const query = incidentReportQuerySchema.safeParse(request.query);
    if (!query.success) return invalid(reply, query.error);
    const report = await deps.reports.build(params.data.accountId);
    if (report === undefined)
      return sendError(
        reply,
        'NOT_FOUND',
        `account "${params.data.accountId}" has no containment case: there is no incident to report`,
        'accountId',
      );
    const { lang, format } = query.data;
    reply.header('cache-control', 'no-store');
    if (format === 'pdf') {
      const pdf = await renderReportPdf(report, lang);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="incident-report-${lang}.pdf"`)
        .send(pdf);
    }
    return reply.type('text/html; charset=utf-8').send(renderReportHtml(report, lang));
  });
}
