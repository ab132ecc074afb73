import type { ErrorCode, ReviewStatus, ReviewView } from '@bulwark/contracts';
import type { FulfilmentPort } from '../connectors/domain/fulfilment.ts';
import type { Clock } from '../core/clock.ts';
import { toIso } from '../core/time.ts';
import type { IngestService } from '../ingest/service.ts';
import type { HeldOrder, ResolvedStatus, ReviewRecord, ReviewResolution, ReviewStore } from './ports.ts';

export type ReviewResult =
  { ok: true; view: ReviewView } | { ok: false; code: ErrorCode; message: string; field?: string };

export interface ReviewServiceDeps {
  readonly store: ReviewStore;
  readonly ingest: IngestService;
  readonly clock: Clock;
  /** The carrier, when Bulwark has one (sandbox connectors): an approval releases the hold. */
  readonly fulfilment: FulfilmentPort | undefined;
  /** How long after the decision a held order waits for a person before it is cancelled. */
  readonly deadlineMs: number;
}

const cancelEventIdOf = (orderId: string, status: 'declined' | 'timed_out'): string =>
  `bulwark:review:${status}:${orderId}`;

/**
 * The review queue. A held order (decided `review`: no capture, no shipping) is approved — the
 * hold released — or declined, which cancels it for fraud through the pipeline (an
 * `order.cancelled` event, so the log says why) and opens the `order-fraud` playbook that voids
 * the authorization and stops everything. Nobody deciding before the deadline (the authorization
 * would lapse) cancels it the same way under the `review-timeout` playbook, without putting the
 * account in containment. Each order is resolved once: the resolution is claimed first.
 */
export class ReviewService {
  readonly #deps: ReviewServiceDeps;

  constructor(deps: ReviewServiceDeps) {
    this.#deps = deps;
  }

  #view(record: ReviewRecord): ReviewView {
    const { held, resolution } = record;
    const view: ReviewView = {
      orderId: held.orderId,
      accountId: held.accountId,
      eventId: held.eventId,
      decidedAt: toIso(held.decidedAtMs),
      amount: held.amount,
      reasons: [...held.reasons],
      score: held.score,
      status: resolution?.status ?? 'pending',
      deadlineAt: toIso(held.decidedAtMs + this.#deps.deadlineMs),
    };
    if (resolution !== undefined) {
      view.resolvedAt = toIso(resolution.resolvedAtMs);
      view.resolvedBy = resolution.resolvedBy;
      if (resolution.note !== undefined) view.note = resolution.note;
      if (resolution.caseId !== undefined) view.caseId = resolution.caseId;
    }
    return view;
  }

  async list(status: ReviewStatus, limit: number): Promise<ReviewView[]> {
    if (status === 'pending') {
      const held = await this.#deps.store.pending(limit);
      return held.map((h) => this.#view({ held: h, resolution: undefined }));
    }
    return (await this.#deps.store.resolved(status, limit)).map((r) => this.#view(r));
  }

  async get(orderId: string): Promise<ReviewView | undefined> {
    const record = await this.#deps.store.get(orderId);
    return record === undefined ? undefined : this.#view(record);
  }

  /** Releases the hold: the store may capture and ship. */
  async approve(orderId: string, by: string, note: string | undefined): Promise<ReviewResult> {
    const record = await this.#deps.store.get(orderId);
    if (record === undefined) return notHeld(orderId);
    if (record.resolution !== undefined) return resolvedAlready(record.resolution);
    const resolution = this.#resolution(record.held, 'approved', by, note);
    if (!(await this.#deps.store.claim(resolution))) return this.#lostRace(orderId);
    const fulfilment = this.#deps.fulfilment;
    if (fulfilment !== undefined) {
      const released = await fulfilment.release({
        orderId,
        idempotencyKey: `bulwark:review:release:${orderId}`,
      });
      if (!released.ok) {
        // The approval did not reach the warehouse: undone, so it can be tried again.
        await this.#deps.store.release(orderId, 'approved');
        return {
          ok: false,
          code: 'UNAVAILABLE',
          message: `the carrier did not release the hold (${released.error.kind}); nothing was approved — try again`,
        };
      }
    }
    return { ok: true, view: this.#view({ held: record.held, resolution }) };
  }

  /** Cancels the order for fraud and opens containment for it. */
  async decline(orderId: string, by: string, note: string | undefined): Promise<ReviewResult> {
    const record = await this.#deps.store.get(orderId);
    if (record === undefined) return notHeld(orderId);
    return this.#cancel(record, 'declined', by, note);
  }

  /**
   * Cancels every held order whose deadline has passed (`review-timeout`). Answers how many.
   * Run on a timer; each cancellation is idempotent, so a crash mid-way repeats nothing.
   */
  async sweepTimeouts(batch = 100): Promise<number> {
    const before = this.#deps.clock.now() - this.#deps.deadlineMs;
    let cancelled = 0;
    for (;;) {
      const due = await this.#deps.store.pending(batch, before);
      for (const held of due) {
        const done = await this.#cancel({ held, resolution: undefined }, 'timed_out', 'timeout', undefined);
        if (done.ok) cancelled += 1;
      }
      if (due.length < batch) return cancelled;
    }
  }

  async #cancel(
    record: ReviewRecord,
    status: 'declined' | 'timed_out',
    by: string,
    note: string | undefined,
  ): Promise<ReviewResult> {
    const { held } = record;
    let resolution = record.resolution;
    // A resolution of this kind without its case is one whose cancellation was cut short (a
    // crash, an outage): finishing it is what the caller asked for.
    const unfinished = resolution?.status === status && resolution.caseId === undefined;
    if (resolution !== undefined && !unfinished) return resolvedAlready(resolution);
    if (resolution === undefined) {
      resolution = this.#resolution(held, status, by, note);
      if (!(await this.#deps.store.claim(resolution))) return this.#lostRace(held.orderId);
    }
    const eventId = cancelEventIdOf(held.orderId, status);
    const event = {
      id: eventId,
      type: 'order.cancelled',
      at: toIso(resolution.resolvedAtMs),
      accountId: held.accountId,
      orderId: held.orderId,
      by: status === 'declined' ? 'fraud' : 'store',
      reason: status === 'declined' ? 'review_declined' : 'review_timeout',
    };
    const [answer] = await this.#deps.ingest.ingest([event]);
    let decision = answer?.ok === true ? answer.decision : undefined;
    if (answer?.ok === false && answer.error.error.code === 'EVENT_ID_CONFLICT')
      decision = await this.#deps.ingest.storedDecision(eventId);
    if (decision === undefined) {
      const message = answer?.ok === false ? answer.error.error.message : 'the cancellation was not decided';
      return {
        ok: false,
        code: 'UNAVAILABLE',
        message: `${message}; the review stays ${status} — try again`,
      };
    }
    await this.#deps.store.setCase(held.orderId, eventId, decision.caseId);
    return {
      ok: true,
      view: this.#view({
        held,
        resolution: { ...resolution, cancelEventId: eventId, caseId: decision.caseId },
      }),
    };
  }

  #resolution(
    held: HeldOrder,
    status: ResolvedStatus,
    by: string,
    note: string | undefined,
  ): ReviewResolution {
    return {
      orderId: held.orderId,
      accountId: held.accountId,
      eventId: held.eventId,
      status,
      resolvedAtMs: this.#deps.clock.now(),
      resolvedBy: by,
      note,
      cancelEventId: undefined,
      caseId: undefined,
    };
  }

  async #lostRace(orderId: string): Promise<ReviewResult> {
    const now = await this.#deps.store.get(orderId);
    if (now?.resolution !== undefined) return resolvedAlready(now.resolution);
    return notHeld(orderId);
  }
}

function notHeld(orderId: string): ReviewResult {
  return {
    ok: false,
    code: 'NOT_FOUND',
    message: `no order ${orderId} is held for review`,
    field: 'orderId',
  };
}

function resolvedAlready(resolution: ReviewResolution): ReviewResult {
  const how =
    resolution.status === 'timed_out' ? 'cancelled when its review deadline passed' : resolution.status;
  return {
    ok: false,
    code: 'REVIEW_RESOLVED',
    message: `order ${resolution.orderId} was already ${how} (by ${resolution.resolvedBy} at ${toIso(resolution.resolvedAtMs)})`,
    field: 'orderId',
  };
}
