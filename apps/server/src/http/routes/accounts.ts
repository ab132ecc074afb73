import { compromisedRequestSchema } from '@bulwark/contracts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { reportCompromised } from '../../accounts/report-compromised.ts';
import { timelinePageSizeMax } from '../../accounts/service.ts';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';

const accountParams = z.object({ accountId: z.string().min(1).max(1024) });
const timelineQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(timelinePageSizeMax).default(50),
});
const caseParams = z.object({ caseId: z.string().min(1).max(128) });
const idempotencyKeyPattern = /^[A-Za-z0-9._:-]{1,100}$/;

function firstIssue(error: z.ZodError): { field: string | undefined; message: string } {
  const issue = error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
  return { field, message: `${field ?? 'request'}: ${issue?.message ?? 'is invalid'}` };
}

export function registerAccountRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/v1/accounts/:accountId', async (request, reply) => {
    const params = accountParams.safeParse(request.params);
    const query = timelineQuery.safeParse(request.query);
    if (!params.success) {
      const { field, message } = firstIssue(params.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    if (!query.success) {
      const { field, message } = firstIssue(query.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const view = await deps.accounts.view(params.data.accountId, {
      limit: query.data.limit,
      ...(query.data.before === undefined ? {} : { before: query.data.before }),
    });
    if (view === undefined)
      return sendError(reply, 'NOT_FOUND', `no account "${params.data.accountId}" is known`);
    return view;
  });

  app.post('/v1/accounts/:accountId/compromised', async (request, reply) => {
    const params = accountParams.safeParse(request.params);
    if (!params.success) {
      const { field, message } = firstIssue(params.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const body = compromisedRequestSchema.safeParse(request.body ?? {});
    if (!body.success) {
      const { field, message } = firstIssue(body.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const idempotencyKey = request.headers['idempotency-key'];
    if (
      idempotencyKey !== undefined &&
      (typeof idempotencyKey !== 'string' || !idempotencyKeyPattern.test(idempotencyKey))
    ) {
      return sendError(
        reply,
        'INVALID_PARAMETER',
        'Idempotency-Key must be 1 to 100 letters, digits or . _ : -',
        'Idempotency-Key',
      );
    }
    // The same pipeline as every event (so the log records it); with an Idempotency-Key a retry
    // answers the first report's case.
    const reported = await reportCompromised(deps, {
      accountId: params.data.accountId,
      reportedBy: body.data.reportedBy,
      ...(body.data.since === undefined ? {} : { since: body.data.since }),
      ...(typeof idempotencyKey === 'string' ? { idempotencyKey } : {}),
      basis: request.id,
    });
    if (!reported.ok)
      return sendError(reply, reported.error.code, reported.error.message, reported.error.field);
    const view = reported.view;
    return view;
  });

  app.get('/v1/cases/:caseId', async (request, reply) => {
    const params = caseParams.safeParse(request.params);
    if (!params.success) {
      const { field, message } = firstIssue(params.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const view = await deps.cases.view(params.data.caseId);
    if (view === undefined) return sendError(reply, 'NOT_FOUND', `no case "${params.data.caseId}"`);
    return view;
  });

  // The cancellation receipt as a page, English or Japanese (`?lang=ja`).
  app.get('/v1/cases/:caseId/receipt', async (request, reply) => {
    const params = caseParams.safeParse(request.params);
    if (!params.success) {
      const { field, message } = firstIssue(params.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const query = receiptQuery.safeParse(request.query);
    if (!query.success) {
      const { field, message } = firstIssue(query.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    const page = await deps.cases.receiptPage(params.data.caseId, query.data.lang);
    if (page === undefined)
      return sendError(reply, 'NOT_FOUND', `no containment run for case "${params.data.caseId}"`);
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(page);
  });
}

const receiptQuery = z.object({ lang: z.enum(['en', 'ja']).default('en') });
