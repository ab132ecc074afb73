import { sql, type QueryExecutorProvider } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import { hourMs, secondMs } from '../../core/time.ts';
import type { FaultInjector } from './faults.ts';
import { signWebhook } from './webhook-signature.ts';

/**
 * Webhooks as real providers send them: a JSON body POSTed to the subscriber, signed with
 * HMAC-SHA256 in Stripe's scheme (`webhook-signature.ts`, shared with the payment sandbox) and
 * retried with back-off until a 2xx. Each sandbox keeps them in its own outbox table, so a
 * restart loses none; fault injection drops, duplicates and reorders them.
 */

/** The header carrying the signature; the scheme is Stripe's, the name is the sandboxes' own. */
export const signatureHeader = 'sandbox-signature';

export interface WebhookRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends one request and answers the HTTP status; throws when nothing answered. */
export type WebhookTransport = (request: WebhookRequest) => Promise<number>;

/** The real thing: an HTTP POST, given up after `timeoutMs`. */
export function fetchTransport(timeoutMs = 10 * secondMs): WebhookTransport {
  return async (request) => {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  };
}

export interface WebhookSubscription {
  readonly url: string;
  readonly secret: string;
  readonly transport: WebhookTransport;
}

export interface WebhookEvent {
  /** Unique per event: re-recording the same event is a no-op. */
  readonly eventId: string;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly atMs: number;
}

export interface DeliveryReport {
  readonly delivered: number;
  readonly duplicated: number;
  readonly dropped: number;
  readonly failed: number;
}

/** How many outbox rows one delivery pass takes; the rest wait for the next pass. */
const deliveryBatchMax = 100;
const retryDelayMaxMs = hourMs;

/** A sandbox's webhook outbox in `sandbox_<source>_webhooks`. */
export class WebhookOutbox {
  readonly #table: string;
  readonly #clock: Clock;
  readonly #faults: FaultInjector;
  readonly #subscription: WebhookSubscription | undefined;

  constructor(options: {
    source: 'fulfilment' | 'store';
    clock: Clock;
    faults: FaultInjector;
    subscription: WebhookSubscription | undefined;
  }) {
    this.#table = `sandbox_${options.source}_webhooks`;
    this.#clock = options.clock;
    this.#faults = options.faults;
    this.#subscription = options.subscription;
  }

  /** Records events inside the caller's transaction, so they exist exactly when the change does. */
  async record(trx: QueryExecutorProvider, events: readonly WebhookEvent[]): Promise<void> {
    const now = new Date(this.#clock.now());
    for (const event of events) {
      const payload = JSON.stringify({
        id: event.eventId,
        type: event.type,
        created: Math.floor(event.atMs / secondMs),
        data: event.data,
      });
      await sql`insert into ${sql.table(this.#table)}
          (event_id, type, payload, created_at, attempt_count, next_attempt_at, dropped)
        values (${event.eventId}, ${event.type}, ${payload}::jsonb, ${now}, 0, ${now}, false)
        on conflict (event_id) do nothing`.execute(trx);
    }
  }

  /** Every event recorded so far, oldest first (what the provider's dashboard would list). */
  async list(
    db: QueryExecutorProvider,
  ): Promise<{ eventId: string; type: string; delivered: boolean; dropped: boolean }[]> {
    const { rows } = await sql<{
      event_id: string;
      type: string;
      delivered_at: Date | null;
      dropped: boolean;
    }>`
      select event_id, type, delivered_at, dropped from ${sql.table(this.#table)} order by seq`.execute(db);
    return rows.map((r) => ({
      eventId: r.event_id,
      type: r.type,
      delivered: r.delivered_at !== null,
      dropped: r.dropped,
    }));
  }

  /**
   * One delivery pass: sends what is due, oldest first (unless the faults reorder them). A 2xx
   * marks a row delivered; anything else is retried with exponential back-off on the clock.
   */
  async deliver(db: QueryExecutorProvider): Promise<DeliveryReport> {
    const subscription = this.#subscription;
    if (subscription === undefined) return { delivered: 0, duplicated: 0, dropped: 0, failed: 0 };
    const nowMs = this.#clock.now();
    const now = new Date(nowMs);
    const { rows } = await sql<{ seq: string | number; payload: unknown; attempt_count: number }>`
      select seq, payload, attempt_count from ${sql.table(this.#table)}
      where delivered_at is null and next_attempt_at <= ${now}
      order by seq limit ${deliveryBatchMax}`.execute(db);
    const { deliver, dropped } = this.#faults.webhookBatch(rows);
    for (const row of dropped) {
      await sql`update ${sql.table(this.#table)} set delivered_at = ${now}, dropped = true
        where seq = ${Number(row.seq)}`.execute(db);
    }
    const outcome = new Map<number, boolean>();
    let sent = 0;
    for (const row of deliver) {
      const body = typeof row.payload === 'string' ? row.payload : JSON.stringify(row.payload);
      let status: number;
      try {
        status = await subscription.transport({
          url: subscription.url,
          headers: {
            'content-type': 'application/json',
            [signatureHeader]: signWebhook(subscription.secret, body, Math.floor(nowMs / secondMs)),
          },
          body,
        });
      } catch {
        status = 0;
      }
      sent += 1;
      const seq = Number(row.seq);
      outcome.set(seq, (outcome.get(seq) ?? false) || (status >= 200 && status < 300));
    }
    let failed = 0;
    for (const row of rows) {
      const seq = Number(row.seq);
      const success = outcome.get(seq);
      if (success === undefined) continue;
      if (success) {
        await sql`update ${sql.table(this.#table)} set delivered_at = ${now}, attempt_count = attempt_count + 1
          where seq = ${seq}`.execute(db);
      } else {
        failed += 1;
        const waitMs = Math.min(retryDelayMaxMs, 30 * secondMs * 2 ** row.attempt_count);
        await sql`update ${sql.table(this.#table)} set attempt_count = attempt_count + 1,
          next_attempt_at = ${new Date(nowMs + waitMs)} where seq = ${seq}`.execute(db);
      }
    }
    return {
      delivered: outcome.size - failed,
      duplicated: sent - outcome.size,
      dropped: dropped.length,
      failed,
    };
  }
}
