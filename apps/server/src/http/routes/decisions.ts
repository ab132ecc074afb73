import { decisionOutcomes, type DecisionList } from '@bulwark/contracts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toIso } from '../../core/time.ts';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';

export const decisionPageSizeMax = 200;

const decisionsQuery = z.object({
  decision: z.enum(decisionOutcomes).optional(),
  reason: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'must be a reason code such as new_device' })
    .optional(),
  accountId: z.string().min(1).max(1024).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(decisionPageSizeMax).default(50),
});

/** `GET /v1/decisions`: the decision log of every account, newest first, filtered and paged. */
export function registerDecisionRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/v1/decisions', async (request, reply) => {
    const query = decisionsQuery.safeParse(request.query);
    if (!query.success) {
      const issue = query.error.issues[0];
      const field = issue?.path.map(String).join('.') ?? 'query';
      return sendError(reply, 'INVALID_PARAMETER', `${field}: ${issue?.message ?? 'is invalid'}`, field);
    }
    const { decision, reason, accountId, before, limit } = query.data;
    const rows = await deps.decisionLog.readDecisions({
      limit: limit + 1,
      ...(decision === undefined ? {} : { decision }),
      ...(reason === undefined ? {} : { reasonCode: reason }),
      ...(accountId === undefined ? {} : { accountId }),
      ...(before === undefined ? {} : { beforeSeq: before }),
    });
    const shown = rows.slice(0, limit);
    const last = shown.at(-1);
    const list: DecisionList = {
      decisions: shown.map((stored) => ({
        seq: stored.seq,
        eventId: stored.eventId,
        ...(stored.accountId === undefined ? {} : { accountId: stored.accountId }),
        type: stored.type,
        at: toIso(stored.atMs),
        decidedAt: toIso(stored.decidedAtMs),
        decision: stored.decision.decision,
        score: stored.decision.score,
        reasons: stored.decision.reasons,
        ...(stored.decision.challenge === undefined ? {} : { challenge: stored.decision.challenge }),
        ...(stored.decision.caseId === undefined ? {} : { caseId: stored.decision.caseId }),
        policyVersion: stored.policyVersion,
      })),
    };
    if (rows.length > limit && last !== undefined) list.nextBefore = last.seq;
    return list;
  });
}
