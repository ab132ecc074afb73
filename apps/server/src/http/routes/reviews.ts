import {
  reviewActionRequestSchema,
  reviewListQuerySchema,
  type ReviewList,
  type ReviewView,
} from '@bulwark/contracts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReviewResult, ReviewService } from '../../reviews/service.ts';
import type { ConsoleGate } from '../console/gate.ts';
import { sendError } from '../app.ts';

export interface ReviewRouteDeps {
  readonly service: ReviewService;
  /** Names the analyst behind a console session (`analyst:<id>`); API keys act as `api`. */
  readonly gate: ConsoleGate | undefined;
}

const orderParams = z.object({ orderId: z.string().min(1).max(256) });

function invalid(reply: FastifyReply, error: z.ZodError, where: string): FastifyReply {
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || where;
  return sendError(reply, 'INVALID_PARAMETER', `${field}: ${issue?.message ?? 'is invalid'}`, field);
}

/**
 * The review queue: `GET /v1/reviews`, `GET /v1/reviews/{orderId}`,
 * `POST /v1/reviews/{orderId}/approve` and `/decline` (body `{ note? }`).
 */
export function registerReviewRoutes(app: FastifyInstance, deps: ReviewRouteDeps): void {
  const actor = (request: FastifyRequest): string => {
    const principal = deps.gate?.principalOf(request);
    return principal?.kind === 'analyst' ? `analyst:${principal.analyst.analystId}` : 'api';
  };
  const answer = (reply: FastifyReply, result: ReviewResult): ReviewView | FastifyReply =>
    result.ok ? result.view : sendError(reply, result.code, result.message, result.field);

  app.get('/v1/reviews', async (request, reply) => {
    const query = reviewListQuerySchema.safeParse(request.query);
    if (!query.success) return invalid(reply, query.error, 'query');
    const list: ReviewList = { reviews: await deps.service.list(query.data.status, query.data.limit) };
    return list;
  });

  app.get('/v1/reviews/:orderId', async (request, reply) => {
    const params = orderParams.safeParse(request.params);
    if (!params.success) return invalid(reply, params.error, 'orderId');
    const view = await deps.service.get(params.data.orderId);
    if (view === undefined)
      return sendError(reply, 'NOT_FOUND', `no order ${params.data.orderId} is held for review`, 'orderId');
    return view;
  });

  for (const action of ['approve', 'decline'] as const) {
    app.post(`/v1/reviews/:orderId/${action}`, async (request, reply) => {
      const params = orderParams.safeParse(request.params);
      if (!params.success) return invalid(reply, params.error, 'orderId');
      const body = reviewActionRequestSchema.safeParse(request.body ?? {});
      if (!body.success) return invalid(reply, body.error, 'body');
      const { orderId } = params.data;
      const result =
        action === 'approve'
          ? await deps.service.approve(orderId, actor(request), body.data.note)
          : await deps.service.decline(orderId, actor(request), body.data.note);
      return answer(reply, result);
    });
  }
}
