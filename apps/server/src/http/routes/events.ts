import { batchEventsCountMax } from '@bulwark/contracts';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `POST /v1/events`: one event, or `{"events":[…]}` with up to 1,000 in order. */
export function registerEventRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/events', async (request, reply) => {
    const body = request.body;
    if (!isRecord(body)) {
      return sendError(reply, 'INVALID_BATCH', 'send one event as a JSON object, or {"events":[…]}');
    }
    if (!('type' in body) && 'events' in body) {
      const events = body.events;
      if (!Array.isArray(events))
        return sendError(reply, 'INVALID_BATCH', 'events must be an array of events', 'events');
      if (events.length === 0)
        return sendError(reply, 'INVALID_BATCH', 'events must hold at least one event', 'events');
      if (events.length > batchEventsCountMax) {
        return sendError(
          reply,
          'INVALID_BATCH',
          `events holds ${events.length} events; at most ${batchEventsCountMax} per batch`,
          'events',
        );
      }
      const answers = await deps.ingest.ingest(events);
      if (answers.every((a) => !a.ok && a.error.error.code === 'UNAVAILABLE')) {
        return sendError(
          reply,
          'UNAVAILABLE',
          'storage is unavailable; nothing was accepted, send the batch again',
        );
      }
      return { decisions: answers.map((a) => (a.ok ? a.decision : a.error)) };
    }
    const [answer] = await deps.ingest.ingest([body]);
    if (answer === undefined) throw new Error('every event gets an answer');
    if (answer.ok) return answer.decision;
    const { code, message, field } = answer.error.error;
    return sendError(reply, code, message, field);
  });
}
