import { createHmac, timingSafeEqual } from 'node:crypto';
import { sql, type QueryExecutorProvider } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import { hourMs, secondMs } from '../../core/time.ts';
import type { FaultInjector } from './faults.ts';

/**
 * Webhooks as real providers send them: a JSON body POSTed to the subscriber, signed with
 * HMAC-SHA256 in Stripe's scheme — header `t=<unix seconds>,v1=<hex hmac of "t.body">` — and
 * retried with back-off until a 2xx. Each sandbox keeps them in its own outbox table, so a
 * restart loses none; fault injection drops, duplicates and reorders them.
 */

export const signatureHeader = 'sandbox-signature';

export function signPayload(body: string, secret: string, nowMs: number): string {
  const t = Math.floor(nowMs / secondMs);
  const v1 = createHmac('sha256', secret)
    .update(`${String(t)}.${body}`)
    .digest('hex');
  return `t=${String(t)},v1=${v1}`;
}

export type SignatureCheck =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'malformed' | 'mismatch' | 'too_old' };

/**
 * Checks a signature header the way a subscriber must: any `v1` matching (several appear while
 * a secret rolls over), compared in constant time, and a timestamp within `toleranceMs` of now
 * so a captured request cannot be replayed later.
 */
export function verifySignature(
  body: string,
  header: string,
  secret: string,
  nowMs: number,
  toleranceMs = 5 * 60 * secondMs,
): SignatureCheck {
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [name, value] = part.split('=', 2);
    if (name === 't' && value !== undefined && /^\d+$/.test(value)) t = Number(value);
    else if (name === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(
    createHmac('sha256', secret)
      .update(`${String(t)}.${body}`)
      .digest('hex'),
  );
  const matches = candidates.some((c) => timingSafeEqual(Buffer.from(c), expected));
  if (!matches) return { ok: false, reason: 'mismatch' };
  if (Math.abs(nowMs - t * secondMs) > toleranceMs) return { ok: false, reason: 'too_old' };
  return { ok: true };
}

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
    db: Kysely<unknown>,
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
            [signatureHeader]: signPayload(body, subscription.secret, nowMs),
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
