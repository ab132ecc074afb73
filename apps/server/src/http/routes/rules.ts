import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { validateEvent } from '../../ingest/validate.ts';
import { compileRuleSet, type RuleProblem } from '../../risk/domain/orders/rules.ts';
import type { BulwarkEvent } from '@bulwark/contracts';
import type { RuleSetService } from '../../rules/service.ts';
import type { StoredRuleSet } from '../../rules/ports.ts';
import { parseLabels } from '../../rules/backtest.ts';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';
import { errorBody, statusOf } from '../errors.ts';

/** Events a backtest reads from the log at most, and accepts in a request at most. */
export const backtestEventsMax = 200_000;
const rulesListMax = 100;

const versionParams = z.object({ version: z.coerce.number().int().positive() });
const slotBody = z.object({ version: z.number().int().positive().nullable() });
const saveBody = z.object({ rules: z.unknown(), note: z.string().max(1000).optional() });
const backtestBody = z.object({
  /** A rule-set definition to test, or a saved version. */
  rules: z.unknown().optional(),
  version: z.number().int().positive().optional(),
  /** Events to replay; when absent, the stored event log (oldest first). */
  events: z.array(z.unknown()).max(backtestEventsMax).optional(),
  labels: z.array(
    z.object({ orderId: z.string().optional(), eventId: z.string().optional(), fraud: z.boolean() }),
  ),
});

/** A rule set's compile problems: the first in the error body, all of them beside it. */
function sendProblems(reply: FastifyReply, problems: RuleProblem[]): FastifyReply {
  const [first] = problems;
  const where = first?.line === undefined ? '' : ` (line ${first.line}, column ${first.column ?? 0})`;
  const message = `${first?.field ?? 'rules'}: ${first?.message ?? 'invalid'}${where}`;
  return reply
    .code(statusOf.RULES_INVALID)
    .send({ ...errorBody('RULES_INVALID', message, first?.field), problems });
}

const summaryOf = (stored: StoredRuleSet) => ({
  version: stored.version,
  versionName: `rules-${stored.version}`,
  note: stored.note ?? null,
  createdAt: new Date(stored.createdAtMs).toISOString(),
  rules: stored.definition.rules.length,
});

function firstIssue(error: z.ZodError): { field: string | undefined; message: string } {
  const issue = error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
  return { field, message: `${field ?? 'request'}: ${issue?.message ?? 'is invalid'}` };
}

export interface RuleRouteDeps {
  readonly service: RuleSetService;
  /** Reads the stored event log, oldest first, for backtests without given events. */
  readonly readLog: (limit: number) => Promise<{ event: BulwarkEvent; atMs: number }[]>;
}

/** Rule sets (versioned, shadow), models and backtests: the console's rules page. */
export function registerRuleRoutes(app: FastifyInstance, deps: AppDeps): void {
  const rules = deps.rules;
  if (rules === undefined) return;
  const service = rules.service;

  app.get('/v1/rules', async () => ({
    ...service.status(),
    saved: (await service.list(rulesListMax)).map(summaryOf),
  }));

  app.get('/v1/rules/active', () => service.activeDefinition());

  app.post('/v1/rules/validate', (request, reply) => {
    const body = saveBody.safeParse(request.body ?? {});
    if (!body.success) return sendError(reply, 'INVALID_PARAMETER', firstIssue(body.error).message);
    const result = service.validate({ rules: body.data.rules });
    return result.ok ? { valid: true, rules: result.value.rules } : sendProblems(reply, result.error);
  });

  app.post('/v1/rules', async (request, reply) => {
    const body = saveBody.safeParse(request.body ?? {});
    if (!body.success) return sendError(reply, 'INVALID_PARAMETER', firstIssue(body.error).message);
    const saved = await service.save({ rules: body.data.rules }, body.data.note);
    if (!saved.ok) return sendProblems(reply, saved.error);
    return reply.code(201).send(summaryOf(saved.value));
  });

  app.get('/v1/rules/shadow', async () => ({ shadow: (await service.shadowSummary()) ?? null }));

  app.get('/v1/rules/:version', async (request, reply) => {
    const params = versionParams.safeParse(request.params);
    if (!params.success)
      return sendError(reply, 'INVALID_PARAMETER', 'version must be a positive integer', 'version');
    const stored = await service.get(params.data.version);
    if (stored === undefined)
      return sendError(reply, 'NOT_FOUND', `no rule set version ${params.data.version}`);
    return { ...summaryOf(stored), definition: stored.definition };
  });

  for (const slot of ['active', 'shadow'] as const) {
    app.post(`/v1/rules/${slot}`, async (request, reply) => {
      const body = slotBody.safeParse(request.body ?? {});
      if (!body.success) {
        return sendError(reply, 'INVALID_PARAMETER', 'send {"version": N} or {"version": null}', 'version');
      }
      const version = body.data.version ?? undefined;
      const result = slot === 'active' ? await service.activate(version) : await service.shadow(version);
      if (!result.ok)
        return sendError(reply, 'NOT_FOUND', `no rule set version ${String(version)}`, 'version');
      return result.value;
    });
  }

  app.post('/v1/rules/backtest', async (request, reply) => {
    const body = backtestBody.safeParse(request.body ?? {});
    if (!body.success) {
      const { field, message } = firstIssue(body.error);
      return sendError(reply, 'INVALID_PARAMETER', message, field);
    }
    let definition: unknown = body.data.rules;
    let versionName = 'candidate';
    if (body.data.version !== undefined) {
      const stored = await service.get(body.data.version);
      if (stored === undefined)
        return sendError(reply, 'NOT_FOUND', `no rule set version ${body.data.version}`);
      definition = stored.definition;
      versionName = `rules-${stored.version}`;
    }
    if (definition === undefined) {
      return sendError(
        reply,
        'INVALID_PARAMETER',
        'send "rules" (a rule set) or "version" (a saved one)',
        'rules',
      );
    }
    const candidate = compileRuleSet(definition, versionName);
    if (!candidate.ok) return sendProblems(reply, candidate.error);
    let events: { event: BulwarkEvent; atMs: number }[];
    if (body.data.events === undefined) events = await rules.readLog(backtestEventsMax);
    else {
      events = [];
      for (const [i, raw] of body.data.events.entries()) {
        const valid = validateEvent(raw);
        if (!valid.ok) {
          return sendError(
            reply,
            'INVALID_PARAMETER',
            `events[${i}]: ${valid.error.message}`,
            `events[${i}]`,
          );
        }
        events.push({ event: valid.value.event, atMs: valid.value.atMs });
      }
    }
    const { labels } = parseLabels(body.data.labels.map((label) => JSON.stringify(label)).join('\n'));
    return service.backtest({ candidate: candidate.value, events, labels });
  });

  app.post('/v1/models', async (request, reply) => {
    const result = await service.installModel(request.body);
    if (!result.ok) return sendError(reply, 'MODEL_INVALID', result.error);
    return result.value;
  });
}
