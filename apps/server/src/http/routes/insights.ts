import type { FraudLabels } from '@bulwark/contracts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { accountActivity, modelMetrics, type ConnectorReads } from '../../console/insights.ts';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';
import { backtestEventsMax } from './rules.ts';

/** Cases read for labels at most (the oldest first, as the case store lists them). */
export const labelCasesMax = 1000;

/** What the console's read-only views need beyond the rest of the API. */
export interface InsightDeps {
  /** The connectors' read side; absent when none are configured. */
  readonly connectors: ConnectorReads | undefined;
  /** Ids of containment cases, oldest first, at most `limit`. */
  readonly caseIds: (limit: number) => Promise<string[]>;
}

const accountParams = z.object({ accountId: z.string().min(1).max(1024) });

/** Events of a case's account read for orders placed after it opened (newest first). */
const caseAccountEventsMax = 200;

/**
 * Orders of containment cases are fraud: the store's own confirmed takeovers. That is the orders
 * the case lists (its receipt, once the sweep ran) and every order Bulwark refused because the
 * account was in that case's containment (the attacker's further attempts).
 */
async function fraudLabels(deps: AppDeps, insights: InsightDeps): Promise<FraudLabels> {
  const labels: FraudLabels['labels'] = [];
  const seen = new Set<string>();
  const add = (orderId: string, caseId: string) => {
    if (seen.has(orderId)) return;
    seen.add(orderId);
    labels.push({ orderId, fraud: true, caseId });
  };
  for (const caseId of await insights.caseIds(labelCasesMax)) {
    const view = await deps.cases.view(caseId);
    if (view === undefined) continue;
    for (const order of view.orders) add(order.orderId, caseId);
    // Orders refused because the account was in this case's containment.
    const account = await deps.accounts.view(view.accountId, { limit: caseAccountEventsMax });
    for (const entry of account?.timeline.entries ?? []) {
      const orderId = entry.event.orderId;
      const contained = entry.reasons.some((r) => r.code === 'account_in_containment' && r.detail === caseId);
      if (entry.type === 'order.placed' && typeof orderId === 'string' && contained) add(orderId, caseId);
    }
  }
  return { labels };
}

/**
 * Read-only views for the console: an account's payments and shipments through the connectors,
 * the labels the server knows (for backtests), and the active model's metrics.
 */
export function registerInsightRoutes(app: FastifyInstance, deps: AppDeps): void {
  const insights = deps.insights;
  if (insights === undefined) return;

  app.get('/v1/accounts/:accountId/activity', async (request, reply) => {
    const params = accountParams.safeParse(request.params);
    if (!params.success) {
      return sendError(reply, 'INVALID_PARAMETER', 'accountId must be 1 to 1024 characters', 'accountId');
    }
    return accountActivity(insights.connectors, params.data.accountId);
  });

  app.get('/v1/labels', () => fraudLabels(deps, insights));

  app.get('/v1/model/metrics', async (_request, reply) => {
    const rules = deps.rules;
    if (rules === undefined) return sendError(reply, 'NOT_FOUND', 'this server has no order model');
    const { labels } = await fraudLabels(deps, insights);
    return modelMetrics({
      events: await rules.readLog(backtestEventsMax),
      labels: new Map(labels.map((label) => [label.orderId, label.fraud])),
      labelSource: 'containment cases',
      policy: rules.service.policy,
    });
  });
}
