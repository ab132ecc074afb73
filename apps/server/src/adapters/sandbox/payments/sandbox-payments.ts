import { createHash } from 'node:crypto';
import type { Money } from '@bulwark/contracts';
import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  BalanceTransaction,
  Dispute,
  EarlyFraudWarning,
  FeedPage,
  FeedQuery,
  PaymentEvent,
  PaymentsPort,
  PaymentState,
  RefundState,
  WebhookResult,
} from '../../../connectors/domain/payments.ts';
import {
  providerError,
  providerOk,
  type ProviderError,
  type ProviderResult,
} from '../../../connectors/domain/provider-result.ts';
import type { Clock } from '../../../core/clock.ts';
import { randomIds, type IdGenerator } from '../../../core/ids.ts';
import { hourMs, minuteMs } from '../../../core/time.ts';
import {
  faultInjector,
  type Delay,
  type FaultConfigInput,
  type FaultInjector,
  type FaultRecord,
} from '../faults.ts';
import { signatureHeaderName, signWebhook, verifySignature } from '../webhook-signature.ts';
import * as machine from './machine.ts';
import type { SandboxPaymentsTables } from './schema.ts';

export type { CardScenario, SandboxPayment, SandboxPaymentSettings } from './machine.ts';

/** Stripe's page size bound for list calls. */
export const listLimitMax = 100;
/** Webhook deliveries are retried with growing pauses for up to three days, as Stripe does. */
const webhookRetryWindowMs = 72 * hourMs;
const webhookBackoffMaxMs = hourMs;

export interface SandboxPaymentsOptions {
  readonly db: Kysely<SandboxPaymentsTables>;
  readonly clock: Clock;
  /** Signs outgoing webhooks and verifies incoming ones (`whsec_…`). */
  readonly webhookSecret: string;
  readonly faults?: FaultConfigInput;
  /** How injected latency waits; tests pass `clockDelay(manualClock)` and never sleep. */
  readonly delay?: Delay;
  readonly onFault?: (record: FaultRecord) => void;
  readonly ids?: IdGenerator;
  readonly settings?: Partial<machine.SandboxPaymentSettings>;
  /**
   * The merchant's fraud fence, consulted inside the capture's own transaction: answering true
   * refuses the capture (`conflict`, `fraud_fence`). It stands for the store's capture path
   * reading the fraud case under the same lock the fraud decision is written with (S2).
   */
  readonly captureFence?: (
    trx: Transaction<never>,
    payment: { paymentId: string; reference: string | undefined },
  ) => Promise<boolean>;
}

export interface AuthorizeRequest {
  readonly amount: Money;
  readonly initiator?: 'customer' | 'merchant';
  readonly card?: { readonly fingerprint?: string; readonly scenario?: machine.CardScenario };
  /** The store's order id, kept as the provider keeps metadata. */
  readonly reference?: string;
  /** The checkout's key: a retried checkout gets the same payment, and ids derive from it. */
  readonly idempotencyKey: string;
}

export interface WebhookDelivery {
  readonly eventId: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface DeliveryReport {
  /** Event ids in the order they went out; a duplicated delivery appears twice. */
  readonly sent: readonly string[];
  readonly dropped: readonly string[];
  /** Deliveries the receiver refused for good (retry window over). */
  readonly failed: readonly string[];
}

/**
 * The sandbox card payment provider: a PaymentsPort plus the controls that stand for the rest
 * of the world (a checkout authorizes, an issuer disputes, a network warns). Faults apply to the
 * port, never to the controls: the world is reliable, the connection to it is not.
 */
export interface SandboxPayments extends PaymentsPort {
  authorize(request: AuthorizeRequest): Promise<ProviderResult<PaymentState>>;
  openDispute(request: {
    readonly paymentId: string;
    readonly reason?: string;
    readonly networkReasonCode?: string;
    readonly stage?: 'inquiry' | 'chargeback';
    /** The cardholder disputes although the charge was refunded (they had not seen the credit). */
    readonly despiteRefund?: boolean;
  }): Promise<ProviderResult<Dispute>>;
  resolveDispute(disputeId: string, outcome: 'won' | 'lost'): Promise<ProviderResult<Dispute>>;
  raiseEarlyFraudWarning(request: {
    readonly paymentId: string;
    readonly fraudType?: string;
  }): Promise<ProviderResult<EarlyFraudWarning>>;
  /** Applies what fell due by the clock (expiries, settlements, escalations); answers how many payments changed. */
  runDue(): Promise<number>;
  /** The raw aggregate, for tests and the demo's inspector. */
  inspect(paymentId: string): Promise<machine.SandboxPayment | undefined>;
  /** Sends due webhooks through `send`, with the configured webhook faults. */
  deliverWebhooks(
    send: (delivery: WebhookDelivery) => Promise<{ readonly status: number }>,
    options?: { readonly limit?: number },
  ): Promise<DeliveryReport>;
  readonly faults: FaultInjector;
}

type Trx = Transaction<SandboxPaymentsTables>;
type Db = Kysely<SandboxPaymentsTables> | Trx;

/** JSON has no `undefined`: every answer goes through JSON so a replayed answer equals the first. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Refusals after the command started are kept under the key; validation failures are not. */
const keptRefusal = (error: ProviderError): boolean =>
  error.kind !== 'not_found' && !(error.providerCode ?? '').startsWith('parameter_');

const fromRefusal = (r: machine.Refusal) => providerError(r.kind, r.message, { providerCode: r.code });
const notFound = (what: string) =>
  providerError('not_found', `no such ${what}`, { providerCode: 'resource_missing' });

export function sandboxPayments(options: SandboxPaymentsOptions): SandboxPayments {
  const { db, clock } = options;
  const settings: machine.SandboxPaymentSettings = {
    ...machine.defaultSandboxPaymentSettings,
    ...options.settings,
  };
  const ids = options.ids ?? randomIds(clock);
  const faults = faultInjector(options.faults ?? { seed: 0 }, {
    ...(options.delay === undefined ? {} : { delay: options.delay }),
    ...(options.onFault === undefined ? {} : { onFault: options.onFault }),
  });
  const context = (): machine.MachineContext => ({
    nowMs: clock.now(),
    settings,
    newId: (prefix, basis) => ids.next(prefix, basis),
  });

  async function load(
    trx: Db,
    paymentId: string,
    lock: boolean,
  ): Promise<machine.SandboxPayment | undefined> {
    let query = trx.selectFrom('sandbox_payments').select('state').where('payment_id', '=', paymentId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row === undefined ? undefined : (row.state as machine.SandboxPayment);
  }

  async function save(
    trx: Trx,
    before: machine.SandboxPayment | undefined,
    after: machine.SandboxPayment,
    effects: machine.Effects,
  ): Promise<void> {
    const now = new Date(clock.now());
    const due = machine.nextDueAtMs(after);
    const dueAt = due === undefined ? null : new Date(due);
    if (before === undefined)
      await trx
        .insertInto('sandbox_payments')
        .values({
          payment_id: after.paymentId,
          state: JSON.stringify(after),
          due_at: dueAt,
          created_at: now,
          updated_at: now,
        })
        .execute();
    else
      await trx
        .updateTable('sandbox_payments')
        .set({ state: JSON.stringify(after), due_at: dueAt, updated_at: now })
        .where('payment_id', '=', after.paymentId)
        .execute();
    if (effects.ledger.length > 0)
      await trx
        .insertInto('sandbox_payment_ledger')
        .values(
          effects.ledger.map((e) => ({
            transaction_id: e.transactionId,
            payment_id: e.paymentId,
            entry: JSON.stringify(e),
            created_at: new Date(e.createdAtMs),
          })),
        )
        .execute();
    const newDisputes = after.disputes.filter(
      (d) => !before?.disputes.some((o) => o.disputeId === d.disputeId),
    );
    if (newDisputes.length > 0)
      await trx
        .insertInto('sandbox_payment_disputes')
        .values(
          newDisputes.map((d) => ({
            object_id: d.disputeId,
            payment_id: after.paymentId,
            created_at: new Date(d.createdAtMs),
          })),
        )
        .execute();
    const newWarnings = after.warnings.filter(
      (w) => !before?.warnings.some((o) => o.warningId === w.warningId),
    );
    if (newWarnings.length > 0)
      await trx
        .insertInto('sandbox_payment_warnings')
        .values(
          newWarnings.map((w) => ({
            object_id: w.warningId,
            payment_id: after.paymentId,
            created_at: new Date(w.createdAtMs),
          })),
        )
        .execute();
    if (effects.events.length > 0)
      await trx
        .insertInto('sandbox_payment_webhooks')
        .values(
          effects.events.map((e) => ({
            event_id: e.eventId,
            provider_type: e.providerType,
            body: renderEvent(e),
            created_at: new Date(e.atMs),
            status: 'pending' as const,
            attempts: 0,
            next_attempt_at: new Date(e.atMs),
          })),
        )
        .execute();
  }

  /** Loads a payment under a row lock with everything due up to now applied. */
  async function loadCurrent(trx: Trx, paymentId: string): Promise<machine.SandboxPayment | undefined> {
    const stored = await load(trx, paymentId, true);
    if (stored === undefined) return undefined;
    const { payment, effects } = machine.runDue(stored, context());
    if (payment !== stored) await save(trx, stored, payment, effects);
    return payment;
  }

  async function runDue(): Promise<number> {
    const rows = await db
      .selectFrom('sandbox_payments')
      .select('payment_id')
      .where('due_at', '<=', new Date(clock.now()))
      .orderBy('due_at')
      .execute();
    for (const row of rows) await db.transaction().execute((trx) => loadCurrent(trx, row.payment_id));
    return rows.length;
  }

  /**
   * Runs a command once per idempotency key: the key is claimed in the same transaction as the
   * effect, so a crash leaves neither; a second request with the key answers the stored first
   * answer — a refusal of the payment's state (`conflict`) too, as Stripe does. Like Stripe, a
   * request that never started (unknown payment, invalid parameters) keeps nothing. Keys older
   * than the TTL are forgotten. The same key with other parameters is a conflict.
   */
  async function once<T>(
    command: string,
    idempotencyKey: string,
    params: unknown,
    effect: (trx: Trx) => Promise<ProviderResult<T>>,
  ): Promise<ProviderResult<T>> {
    const requestHash = createHash('sha256').update(stableStringify({ command, params })).digest('hex');
    const result = await db.transaction().execute(async (trx) => {
      const now = clock.now();
      await trx
        .deleteFrom('sandbox_payment_idempotency')
        .where('idempotency_key', '=', idempotencyKey)
        .where('created_at', '<=', new Date(now - settings.idempotencyKeyTtlMs))
        .execute();
      const claimed = await trx
        .insertInto('sandbox_payment_idempotency')
        .values({
          idempotency_key: idempotencyKey,
          command,
          request_hash: requestHash,
          response: 'null',
          created_at: new Date(now),
        })
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .returning('idempotency_key')
        .executeTakeFirst();
      if (claimed === undefined) {
        const stored = await trx
          .selectFrom('sandbox_payment_idempotency')
          .select(['command', 'request_hash', 'response'])
          .where('idempotency_key', '=', idempotencyKey)
          .executeTakeFirstOrThrow();
        if (stored.request_hash !== requestHash)
          return providerError(
            'conflict',
            `idempotency key ${idempotencyKey} was first used with other parameters (${stored.command})`,
            { providerCode: 'idempotency_error' },
          );
        return stored.response as ProviderResult<T>;
      }
      const answer = plain(await effect(trx));
      if (!answer.ok && !keptRefusal(answer.error)) {
        // Nothing was attempted: the key stays free for a corrected request, as on Stripe.
        await trx
          .deleteFrom('sandbox_payment_idempotency')
          .where('idempotency_key', '=', idempotencyKey)
          .execute();
        return answer;
      }
      await trx
        .updateTable('sandbox_payment_idempotency')
        .set({ response: JSON.stringify(answer) })
        .where('idempotency_key', '=', idempotencyKey)
        .execute();
      return answer;
    });
    return result;
  }

  /** Applies one machine transition to a stored payment and persists it with its effects. */
  async function transition<T>(
    trx: Trx,
    paymentId: string,
    step: (p: machine.SandboxPayment, ctx: machine.MachineContext) => machine.Transition<T>,
  ): Promise<ProviderResult<T>> {
    const current = await loadCurrent(trx, paymentId);
    if (current === undefined) return notFound(`payment ${paymentId}`);
    const outcome = step(current, context());
    if (!outcome.ok) return fromRefusal(outcome.refusal);
    await save(trx, current, outcome.payment, outcome.effects);
    return providerOk(plain(outcome.value));
  }

  async function paymentIdOf(
    table: 'sandbox_payment_disputes' | 'sandbox_payment_warnings',
    objectId: string,
  ) {
    const row = await db
      .selectFrom(table)
      .select('payment_id')
      .where('object_id', '=', objectId)
      .executeTakeFirst();
    return row?.payment_id;
  }

  async function feed<T>(
    table: 'sandbox_payment_disputes' | 'sandbox_payment_warnings',
    query: FeedQuery & { readonly paymentId?: string | undefined },
    view: (p: machine.SandboxPayment, objectId: string) => T | undefined,
  ): Promise<ProviderResult<FeedPage<T>>> {
    await runDue();
    const limit = Math.min(Math.max(1, query.limit), listLimitMax);
    let afterSeq = 0;
    if (query.cursor !== undefined) {
      const row = await db
        .selectFrom(table)
        .select('seq')
        .where('object_id', '=', query.cursor)
        .executeTakeFirst();
      if (row === undefined) return notFound(`cursor ${query.cursor}`);
      afterSeq = Number(row.seq);
    }
    let select = db
      .selectFrom(table)
      .select(['object_id', 'payment_id'])
      .where('seq', '>', afterSeq as never)
      .orderBy('seq', 'asc')
      .limit(limit + 1);
    if (query.paymentId !== undefined) select = select.where('payment_id', '=', query.paymentId);
    // Time bounds filter these small feeds; their order stays creation order (`seq`).
    if (query.createdFromMs !== undefined)
      select = select.where('created_at', '>=', new Date(query.createdFromMs));
    if (query.createdBeforeMs !== undefined)
      select = select.where('created_at', '<', new Date(query.createdBeforeMs));
    const rows = await select.execute();
    const page = rows.slice(0, limit);
    const payments = new Map<string, machine.SandboxPayment>();
    const items: T[] = [];
    for (const row of page) {
      let p = payments.get(row.payment_id);
      if (p === undefined) {
        p = await load(db, row.payment_id, false);
        if (p === undefined) continue;
        payments.set(row.payment_id, p);
      }
      const item = view(p, row.object_id);
      if (item !== undefined) items.push(item);
    }
    return providerOk(
      plain({ items, nextCursor: page.at(-1)?.object_id ?? query.cursor, hasMore: rows.length > limit }),
    );
  }

  function renderEvent(e: machine.SandboxEvent): string {
    const object = e.object;
    const data =
      object.kind === 'payment'
        ? { object: 'payment', ...object.payment }
        : object.kind === 'refund'
          ? { object: 'refund', ...object.refund }
          : object.kind === 'dispute'
            ? { object: 'dispute', ...object.dispute }
            : { object: 'early_fraud_warning', ...object.warning };
    return JSON.stringify({
      id: e.eventId,
      object: 'event',
      type: e.providerType,
      created: Math.floor(e.atMs / 1000),
      createdAtMs: e.atMs,
      livemode: false,
      data: { object: data },
    });
  }

  const port: SandboxPayments = {
    provider: 'sandbox',
    faults,

    getPayment(paymentId) {
      return faults.run('getPayment', () =>
        db.transaction().execute(async (trx) => {
          const p = await loadCurrent(trx, paymentId);
          return p === undefined
            ? notFound(`payment ${paymentId}`)
            : providerOk(plain(machine.viewPayment(p)));
        }),
      );
    },

    voidAuthorization(command) {
      const { paymentId, reason, idempotencyKey } = command;
      return faults.run('voidAuthorization', () =>
        once('voidAuthorization', idempotencyKey, { paymentId, reason }, (trx) =>
          transition(trx, paymentId, (p, ctx) => machine.voidAuthorization(p, reason, idempotencyKey, ctx)),
        ),
      );
    },

    capture(command) {
      const { paymentId, amount, idempotencyKey } = command;
      return faults.run('capture', () =>
        once('capture', idempotencyKey, { paymentId, amount }, async (trx) => {
          if (options.captureFence !== undefined) {
            const current = await loadCurrent(trx, paymentId);
            if (
              current !== undefined &&
              (await options.captureFence(trx as unknown as Transaction<never>, {
                paymentId,
                reference: current.reference,
              }))
            ) {
              return providerError('conflict', 'the order is fenced by a fraud decision: no capture', {
                providerCode: 'fraud_fence',
              });
            }
          }
          return transition(trx, paymentId, (p, ctx) => machine.capture(p, amount, idempotencyKey, ctx));
        }),
      );
    },

    refund(command) {
      const { paymentId, amount, reason, idempotencyKey } = command;
      return faults.run('refund', () =>
        once('refund', idempotencyKey, { paymentId, amount, reason }, (trx) =>
          transition(trx, paymentId, (p, ctx) =>
            machine.refund(
              p,
              amount,
              reason,
              idempotencyKey,
              ctx.newId('re', `${idempotencyKey}:${String(ctx.nowMs)}`),
              ctx,
            ),
          ),
        ),
      );
    },

    listRefunds(paymentId) {
      return faults.run('listRefunds', () =>
        db.transaction().execute(async (trx): Promise<ProviderResult<readonly RefundState[]>> => {
          const p = await loadCurrent(trx, paymentId);
          if (p === undefined) return notFound(`payment ${paymentId}`);
          return providerOk(plain(p.refunds.map((r) => machine.viewRefund(p, r))));
        }),
      );
    },

    listBalanceTransactions(query) {
      return faults.run(
        'listBalanceTransactions',
        async (): Promise<ProviderResult<FeedPage<BalanceTransaction>>> => {
          await runDue();
          const limit = Math.min(Math.max(1, query.limit), listLimitMax);
          let after: { seq: number; createdAt: Date } | undefined;
          if (query.cursor !== undefined) {
            const row = await db
              .selectFrom('sandbox_payment_ledger')
              .select(['seq', 'created_at'])
              .where('transaction_id', '=', query.cursor)
              .executeTakeFirst();
            if (row === undefined) return notFound(`cursor ${query.cursor}`);
            after = { seq: Number(row.seq), createdAt: row.created_at };
          }
          let select = db
            .selectFrom('sandbox_payment_ledger')
            .select(['transaction_id', 'entry'])
            .limit(limit + 1);
          if (query.createdFromMs === undefined && query.createdBeforeMs === undefined) {
            // The feed in append order: what an incremental reader follows.
            select = select.where('seq', '>', (after?.seq ?? 0) as never).orderBy('seq', 'asc');
          } else {
            // A time slice, in creation order (index sandbox_payment_ledger_created).
            const { createdFromMs, createdBeforeMs } = query;
            if (createdFromMs !== undefined)
              select = select.where('created_at', '>=', new Date(createdFromMs));
            if (createdBeforeMs !== undefined)
              select = select.where('created_at', '<', new Date(createdBeforeMs));
            if (after !== undefined)
              select = select.where(sql<boolean>`(created_at, seq) > (${after.createdAt}, ${after.seq})`);
            select = select.orderBy('created_at', 'asc').orderBy('seq', 'asc');
          }
          const rows = await select.execute();
          const now = clock.now();
          const items = rows.slice(0, limit).map((row): BalanceTransaction => {
            const e = row.entry as machine.LedgerEntry;
            return {
              transactionId: e.transactionId,
              reportingCategory: e.reportingCategory,
              type: e.type,
              amountMinor: e.amountMinor,
              feeMinor: e.feeMinor,
              netMinor: e.amountMinor - e.feeMinor,
              currency: e.currency,
              sourceId: e.sourceId,
              paymentId: e.paymentId,
              // Funds become available on their date, as the provider's balance does.
              status: e.availableOnMs <= now ? 'available' : 'pending',
              createdAtMs: e.createdAtMs,
              availableOnMs: e.availableOnMs,
            };
          });
          return providerOk(
            plain({
              items,
              nextCursor: items.at(-1)?.transactionId ?? query.cursor,
              hasMore: rows.length > limit,
            }),
          );
        },
      );
    },

    listDisputes(query) {
      return faults.run('listDisputes', () =>
        feed('sandbox_payment_disputes', query, (p, id) => {
          const d = p.disputes.find((x) => x.disputeId === id);
          return d === undefined ? undefined : machine.viewDispute(p, d);
        }),
      );
    },

    acceptDispute(command) {
      const { disputeId, idempotencyKey } = command;
      return faults.run('acceptDispute', async () => {
        const paymentId = await paymentIdOf('sandbox_payment_disputes', disputeId);
        if (paymentId === undefined) return notFound(`dispute ${disputeId}`);
        return once('acceptDispute', idempotencyKey, { disputeId }, (trx) =>
          transition(trx, paymentId, (p, ctx) => machine.acceptDispute(p, disputeId, ctx)),
        );
      });
    },

    listEarlyFraudWarnings(query) {
      return faults.run('listEarlyFraudWarnings', () =>
        feed('sandbox_payment_warnings', query, (p, id) => {
          const w = p.warnings.find((x) => x.warningId === id);
          return w === undefined ? undefined : machine.viewWarning(p, w);
        }),
      );
    },

    verifyWebhook(rawBody, signatureHeader, receivedAtMs): WebhookResult {
      const check = verifySignature(rawBody, signatureHeader, options.webhookSecret, { receivedAtMs });
      if (!check.ok) return check;
      return parseSandboxEvent(rawBody);
    },

    authorize(request) {
      const { idempotencyKey, ...params } = request;
      return once('authorize', idempotencyKey, params, async (trx) => {
        const basis = `${idempotencyKey}:${String(clock.now())}`;
        const outcome = machine.authorize(
          {
            paymentId: ids.next('pi', basis),
            chargeId: ids.next('ch', basis),
            amount: request.amount,
            initiator: request.initiator,
            card: request.card,
            reference: request.reference,
          },
          context(),
        );
        if (!outcome.ok) return fromRefusal(outcome.refusal);
        await save(trx, undefined, outcome.payment, outcome.effects);
        if (outcome.payment.status === 'incomplete')
          return providerError('declined', 'the card was declined', {
            providerCode: outcome.payment.declineCode,
          });
        return providerOk(outcome.value);
      });
    },

    openDispute(request) {
      return db.transaction().execute((trx) =>
        transition(trx, request.paymentId, (p, ctx) =>
          machine.openDispute(
            p,
            {
              disputeId: ctx.newId('dp', `${p.paymentId}:${String(p.disputes.length)}`),
              reason: request.reason,
              networkReasonCode: request.networkReasonCode,
              stage: request.stage,
              despiteRefund: request.despiteRefund,
            },
            ctx,
          ),
        ),
      );
    },

    async resolveDispute(disputeId, outcome) {
      const paymentId = await paymentIdOf('sandbox_payment_disputes', disputeId);
      if (paymentId === undefined) return notFound(`dispute ${disputeId}`);
      return db
        .transaction()
        .execute((trx) =>
          transition(trx, paymentId, (p, ctx) => machine.resolveDispute(p, disputeId, outcome, ctx)),
        );
    },

    raiseEarlyFraudWarning(request) {
      return db.transaction().execute((trx) =>
        transition(trx, request.paymentId, (p, ctx) =>
          machine.raiseWarning(
            p,
            {
              warningId: ctx.newId('issfr', `${p.paymentId}:${String(p.warnings.length)}`),
              fraudType: request.fraudType,
            },
            ctx,
          ),
        ),
      );
    },

    runDue,

    async inspect(paymentId) {
      const p = await load(db, paymentId, false);
      return p === undefined ? undefined : plain(p);
    },

    async deliverWebhooks(send, deliveryOptions = {}) {
      const now = clock.now();
      const limit = deliveryOptions.limit ?? listLimitMax;
      const rows = await db
        .selectFrom('sandbox_payment_webhooks')
        .select(['seq', 'event_id', 'body', 'attempts', 'created_at'])
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', new Date(now))
        .orderBy('seq', 'asc')
        .limit(limit)
        .execute();
      const { deliver, dropped } = faults.webhookBatch(rows);
      const sent: string[] = [];
      const failed: string[] = [];
      const outcome = new Map<string, boolean>();
      for (const row of deliver) {
        const headers = {
          'content-type': 'application/json',
          [signatureHeaderName]: signWebhook(options.webhookSecret, row.body, Math.floor(clock.now() / 1000)),
        };
        let accepted = false;
        try {
          const answer = await send({ eventId: row.event_id, body: row.body, headers });
          accepted = answer.status >= 200 && answer.status < 300;
        } catch {
          // An unreachable endpoint is a failed attempt like any other; it is retried.
          accepted = false;
        }
        sent.push(row.event_id);
        outcome.set(row.event_id, (outcome.get(row.event_id) ?? false) || accepted);
      }
      for (const row of rows) {
        if (dropped.includes(row)) {
          // Lost on the way: the provider believes it delivered; the receiver never hears of it.
          await db
            .updateTable('sandbox_payment_webhooks')
            .set({ status: 'dropped' })
            .where('seq', '=', row.seq as never)
            .execute();
          continue;
        }
        if (outcome.get(row.event_id) === true) {
          await db
            .updateTable('sandbox_payment_webhooks')
            .set({ status: 'delivered', attempts: row.attempts + 1 })
            .where('seq', '=', row.seq as never)
            .execute();
          continue;
        }
        const attempts = row.attempts + 1;
        const giveUp = now - row.created_at.getTime() >= webhookRetryWindowMs;
        if (giveUp) failed.push(row.event_id);
        await db
          .updateTable('sandbox_payment_webhooks')
          .set({
            status: giveUp ? 'failed' : 'pending',
            attempts,
            next_attempt_at: new Date(now + Math.min(webhookBackoffMaxMs, minuteMs * 2 ** (attempts - 1))),
          })
          .where('seq', '=', row.seq as never)
          .execute();
      }
      return { sent, dropped: dropped.map((r) => r.event_id), failed };
    },
  };
  return port;
}

/** Reads a sandbox event body (already verified) into the port's normalised event. */
export function parseSandboxEvent(rawBody: string): WebhookResult {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { ok: false, rejection: 'malformed_payload', message: 'the body is not JSON' };
  }
  if (body === null || typeof body !== 'object')
    return { ok: false, rejection: 'malformed_payload', message: 'the body is not an event' };
  const b = body as { id?: unknown; type?: unknown; createdAtMs?: unknown; data?: { object?: unknown } };
  const object = b.data?.object as ({ object?: unknown } & Record<string, unknown>) | undefined;
  if (
    typeof b.id !== 'string' ||
    typeof b.type !== 'string' ||
    typeof b.createdAtMs !== 'number' ||
    object === undefined
  )
    return {
      ok: false,
      rejection: 'malformed_payload',
      message: 'the event lacks id, type, createdAtMs or data.object',
    };
  const base = { eventId: b.id, providerType: b.type, createdAtMs: b.createdAtMs };
  const { object: kind, ...fields } = object;
  let event: PaymentEvent;
  switch (kind) {
    case 'payment':
      if (typeof fields.paymentId !== 'string')
        return { ok: false, rejection: 'malformed_payload', message: 'a payment event lacks paymentId' };
      event = { ...base, type: 'payment.updated', paymentId: fields.paymentId };
      break;
    case 'refund':
      event = { ...base, type: 'refund.updated', refund: fields as unknown as RefundState };
      break;
    case 'dispute':
      event = { ...base, type: 'dispute.updated', dispute: fields as unknown as Dispute };
      break;
    case 'early_fraud_warning':
      event = {
        ...base,
        type: 'early_fraud_warning.updated',
        warning: fields as unknown as EarlyFraudWarning,
      };
      break;
    default:
      event = { ...base, type: 'other' };
  }
  return { ok: true, event };
}

/**
 * The sandbox tables live in Bulwark's database but are not part of its schema type: this views
 * the same connection through the sandbox's own table types (types only; no runtime change).
 */
export const sandboxPaymentsDb = <DB>(db: Kysely<DB>): Kysely<SandboxPaymentsTables> =>
  db as unknown as Kysely<SandboxPaymentsTables>;
