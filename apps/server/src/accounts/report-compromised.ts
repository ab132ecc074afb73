import { hash } from 'node:crypto';
import type { CaseView, EventError } from '@bulwark/contracts';
import type { CaseService } from '../cases/service.ts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { IngestService } from '../ingest/service.ts';

export type ReportCompromisedResult =
  { ok: true; view: CaseView } | { ok: false; error: EventError['error'] };

/**
 * "This wasn't me": an `account.compromised` event through the same pipeline as every event (so
 * the log records it), then the case it opened or joined. With an idempotency key the event id
 * is derived from the account and the key, so a retry answers the first report's case. The same
 * steps as `POST /v1/accounts/{id}/compromised`, for the security center's own route.
 */
export async function reportCompromised(
  deps: { ingest: IngestService; cases: CaseService; clock: Clock; ids: IdGenerator },
  input: {
    accountId: string;
    reportedBy: 'owner' | 'analyst' | 'issuer';
    since?: string;
    idempotencyKey?: string;
    /** Basis of the event id when there is no idempotency key (a request id). */
    basis: string;
  },
): Promise<ReportCompromisedResult> {
  const { accountId, idempotencyKey } = input;
  const eventId =
    idempotencyKey === undefined
      ? deps.ids.next('bulwark_compromised', `${accountId}\u0000${input.basis}`)
      : `bulwark:compromised:${hash('sha256', `${accountId}\u0000${idempotencyKey}`, 'base64url')}`;
  const event = {
    id: eventId,
    type: 'account.compromised',
    at: new Date(deps.clock.now()).toISOString(),
    accountId,
    reportedBy: input.reportedBy,
    ...(input.since === undefined ? {} : { since: input.since }),
  };
  const [answer] = await deps.ingest.ingest([event]);
  if (answer === undefined) throw new Error('every event gets an answer');
  let decision = answer.ok ? answer.decision : undefined;
  if (!answer.ok && answer.error.error.code === 'EVENT_ID_CONFLICT' && idempotencyKey !== undefined) {
    decision = await deps.ingest.storedDecision(eventId);
  }
  if (decision === undefined) {
    return {
      ok: false,
      error: answer.ok ? { code: 'INTERNAL_ERROR', message: 'no decision' } : answer.error.error,
    };
  }
  const view = decision.caseId === undefined ? undefined : await deps.cases.view(decision.caseId);
  if (view === undefined) throw new Error('a compromised report always opens or joins a case');
  return { ok: true, view };
}
