import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../../core/clock.ts';
import { fingerprintOf } from '../../../connectors/domain/idempotent-command.ts';
import {
  providerError,
  providerOk,
  type ProviderResult,
} from '../../../connectors/domain/provider-result.ts';
import {
  codeLast4,
  deactivateGiftCard,
  redeemGiftCard,
  type AccountCommand,
  type GiftCardDeactivation,
  type GiftCardRefusal,
  type GiftCardStatus,
  type GiftCardView,
  type Money,
  type RevokedSessions,
  type StoreAccountView,
  type StoreOrderCommand,
  type StoreOrderItem,
  type StoreOrderStatus,
  type StoreOrderView,
  type StorePort,
} from '../../../connectors/domain/store.ts';
import type { Result } from '../../../core/result.ts';
import { err, ok } from '../../../core/result.ts';
import type { Database } from '../../db/schema.ts';
import { CommandLedger } from '../command-ledger.ts';
import {
  faultInjector,
  noFaults,
  type Delay,
  type FaultConfigInput,
  type FaultInjector,
  type FaultRecord,
} from '../faults.ts';
import {
  WebhookOutbox,
  type DeliveryReport,
  type WebhookEvent,
  type WebhookSubscription,
} from '../signed-webhooks.ts';

/** int8 comes back as a string from `pg` and as a number from PGlite. */
type Int8 = string | number;

// Type aliases, not interfaces: Kysely's `withTables` needs index-compatible records.
type StoreTables = {
  sandbox_store_accounts: {
    account_id: string;
    email: string | null;
    phone: string | null;
    locked: boolean;
    password_reset_required: boolean;
    created_at: Date;
    updated_at: Date;
  };
  sandbox_store_sessions: {
    session_id: string;
    account_id: string;
    issued_at: Date;
    revoked_at: Date | null;
  };
  sandbox_store_orders: {
    order_id: string;
    account_id: string;
    placed_at: Date;
    status: string;
    archived: boolean;
    amount_value: Int8;
    currency: string;
    items: unknown;
    cancelled_at: Date | null;
    updated_at: Date;
    payment_id: string | null;
  };
  sandbox_store_gift_cards: {
    code: string;
    order_id: string;
    value: Int8;
    currency: string;
    status: string;
    issued_at: Date;
    changed_at: Date;
  };
};

type StoreDb = Kysely<Database & StoreTables>;
type StoreTrx = Transaction<Database & StoreTables>;
type OrderRow = StoreTables['sandbox_store_orders'];
type CardRow = StoreTables['sandbox_store_gift_cards'];

export interface StoreSandboxOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly faults?: FaultConfigInput;
  readonly delay?: Delay;
  readonly onFault?: (record: FaultRecord) => void;
  readonly webhooks?: WebhookSubscription;
  /** Makes gift-card codes; the default derives them from the order id so runs repeat. */
  readonly codeFor?: (orderId: string, index: number) => string;
}

export interface NewStoreOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly items: readonly StoreOrderItem[];
  /** The payment provider's reference, when the checkout authorized a card. */
  readonly paymentId?: string | undefined;
}

export type SignInRefusal = 'account_locked' | 'password_reset_required' | 'unknown_account';

/** Orders `listOrders` answers at most; an account with more is an outage-sized anomaly. */
const listedOrdersMax = 1000;

/**
 * A shop with the semantics containment depends on: accounts that can be locked and forced to
 * reset their password, sessions that can be revoked, orders that can be archived (hidden from
 * the shopper, not gone) and cancelled, and gift-card codes that can be deactivated until
 * someone redeems them. Persisted in its own tables; every change is a signed webhook.
 */
export class StoreSandbox {
  readonly port: StorePort;
  readonly faults: FaultInjector;
  readonly #db: StoreDb;
  readonly #clock: Clock;
  readonly #ledger: CommandLedger<Database & StoreTables>;
  readonly #outbox: WebhookOutbox;
  readonly #codeFor: (orderId: string, index: number) => string;

  constructor(options: StoreSandboxOptions) {
    this.#db = options.db.withTables<StoreTables>();
    this.#clock = options.clock;
    this.#ledger = new CommandLedger(this.#db, 'store', options.clock);
    this.faults = faultInjector(options.faults ?? noFaults, {
      ...(options.delay === undefined ? {} : { delay: options.delay }),
      ...(options.onFault === undefined ? {} : { onFault: options.onFault }),
    });
    this.#outbox = new WebhookOutbox({
      source: 'store',
      clock: options.clock,
      faults: this.faults,
      subscription: options.webhooks,
    });
    this.#codeFor = options.codeFor ?? derivedCode;
    const faults = this.faults;
    this.port = {
      lockAccount: (command) => faults.run('lockAccount', () => this.lockAccount(command)),
      revokeSessions: (command) => faults.run('revokeSessions', () => this.revokeSessions(command)),
      forcePasswordReset: (command) =>
        faults.run('forcePasswordReset', () => this.forcePasswordReset(command)),
      cancelOrder: (command) => faults.run('cancelOrder', () => this.cancelOrder(command)),
      listOrders: (query) => faults.run('listOrders', () => this.listOrders(query)),
      deactivateGiftCards: (command) =>
        faults.run('deactivateGiftCards', () => this.deactivateGiftCards(command)),
    };
  }

  // ---- what shoppers (and attackers) do at the store ----

  async createAccount(input: { accountId: string; email?: string; phone?: string }): Promise<void> {
    const now = this.#now();
    await this.#db
      .insertInto('sandbox_store_accounts')
      .values({
        account_id: input.accountId,
        email: input.email ?? null,
        phone: input.phone ?? null,
        locked: false,
        password_reset_required: false,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('account_id').doNothing())
      .execute();
  }

  /** A sign-in: refused while the account is locked or must reset its password. */
  async signIn(input: { accountId: string; sessionId: string }): Promise<Result<string, SignInRefusal>> {
    const account = await this.#db
      .selectFrom('sandbox_store_accounts')
      .selectAll()
      .where('account_id', '=', input.accountId)
      .executeTakeFirst();
    if (account === undefined) return err('unknown_account');
    if (account.locked) return err('account_locked');
    if (account.password_reset_required) return err('password_reset_required');
    await this.#db
      .insertInto('sandbox_store_sessions')
      .values({
        session_id: input.sessionId,
        account_id: input.accountId,
        issued_at: this.#now(),
        revoked_at: null,
      })
      .onConflict((oc) => oc.column('session_id').doNothing())
      .execute();
    return ok(input.sessionId);
  }

  /**
   * Sign-ins after Bulwark let them through, in order: the same as `createAccount` then `signIn`
   * for each, in three statements however many there are (the store follower's hot path). A
   * session of a locked account, or one that must reset its password, is not opened.
   */
  async signInAll(inputs: readonly { accountId: string; sessionId: string }[]): Promise<void> {
    if (inputs.length === 0) return;
    const now = this.#now();
    const accountIds = [...new Set(inputs.map((input) => input.accountId))];
    await this.#db
      .insertInto('sandbox_store_accounts')
      .values(
        accountIds.map((accountId) => ({
          account_id: accountId,
          email: null,
          phone: null,
          locked: false,
          password_reset_required: false,
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.column('account_id').doNothing())
      .execute();
    const refused = await this.#db
      .selectFrom('sandbox_store_accounts')
      .select('account_id')
      .where('account_id', 'in', accountIds)
      .where((eb) => eb.or([eb('locked', '=', true), eb('password_reset_required', '=', true)]))
      .execute();
    const closed = new Set(refused.map((row) => row.account_id));
    const opened = inputs.filter((input) => !closed.has(input.accountId));
    if (opened.length === 0) return;
    // The first of two sign-ins with one session id wins, as it does one at a time.
    await this.#db
      .insertInto('sandbox_store_sessions')
      .values(
        opened.map((input) => ({
          session_id: input.sessionId,
          account_id: input.accountId,
          issued_at: now,
          revoked_at: null,
        })),
      )
      .onConflict((oc) => oc.column('session_id').doNothing())
      .execute();
  }

  async isSessionActive(sessionId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('sandbox_store_sessions')
      .select('revoked_at')
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row !== undefined && row.revoked_at === null;
  }

  /** The owner completes the forced reset (and is no longer locked out by it). */
  async completePasswordReset(accountId: string): Promise<void> {
    await this.#db
      .updateTable('sandbox_store_accounts')
      .set({ password_reset_required: false, updated_at: this.#now() })
      .where('account_id', '=', accountId)
      .execute();
  }

  /** Places an order; gift-card items get one code per unit. The same order id again is a no-op. */
  async placeOrder(input: NewStoreOrder): Promise<StoreOrderView> {
    const now = this.#now();
    const amount = totalOf(input.items);
    await this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('sandbox_store_orders')
        .values({
          order_id: input.orderId,
          account_id: input.accountId,
          placed_at: now,
          status: 'placed',
          archived: false,
          amount_value: amount.value,
          currency: amount.currency,
          items: JSON.stringify(input.items),
          cancelled_at: null,
          updated_at: now,
          payment_id: input.paymentId ?? null,
        })
        .onConflict((oc) => oc.column('order_id').doNothing())
        .returning('order_id')
        .executeTakeFirst();
      if (inserted === undefined) return;
      let index = 0;
      for (const item of input.items) {
        if (item.category !== 'gift_card') continue;
        for (let unit = 0; unit < item.quantity; unit += 1) {
          await trx
            .insertInto('sandbox_store_gift_cards')
            .values({
              code: this.#codeFor(input.orderId, index),
              order_id: input.orderId,
              value: item.unitPrice.value,
              currency: item.unitPrice.currency,
              status: 'active',
              issued_at: now,
              changed_at: now,
            })
            .execute();
          index += 1;
        }
      }
      await this.#outbox.record(trx, [
        orderEvent('order.placed', `evt_order.placed_${input.orderId}`, input.orderId, input.accountId, now),
      ]);
    });
    const order = await this.#orderRow(this.#db, input.orderId);
    if (order === undefined) throw new Error(`order ${input.orderId} vanished after insert`);
    return orderView(order);
  }

  /** The shopper's "archive order": hidden from their own list, not cancelled. */
  async archiveOrder(orderId: string): Promise<boolean> {
    const now = this.#now();
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('sandbox_store_orders')
        .set({ archived: true, updated_at: now })
        .where('order_id', '=', orderId)
        .where('archived', '=', false)
        .returning(['order_id', 'account_id'])
        .executeTakeFirst();
      if (row === undefined) return false;
      await this.#outbox.record(trx, [
        orderEvent('order.archived', `evt_order.archived_${orderId}`, orderId, row.account_id, now),
      ]);
      return true;
    });
  }

  /** The orders the shopper sees in their own list: archived ones are not there. */
  async visibleOrders(accountId: string): Promise<StoreOrderView[]> {
    const rows = await this.#db
      .selectFrom('sandbox_store_orders')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('archived', '=', false)
      .orderBy('placed_at')
      .orderBy('order_id')
      .execute();
    return rows.map(orderView);
  }

  /** The codes the buyer received (the store e-mails them); only the sandbox hands them out. */
  async giftCardCodes(orderId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('sandbox_store_gift_cards')
      .select('code')
      .where('order_id', '=', orderId)
      .orderBy('code')
      .execute();
    return rows.map((r) => r.code);
  }

  /**
   * Every order of the store — or of one account — archived ones included (the simulation's
   * report and checks read them).
   */
  async allOrders(accountId?: string): Promise<StoreOrderView[]> {
    let query = this.#db.selectFrom('sandbox_store_orders').selectAll();
    if (accountId !== undefined) query = query.where('account_id', '=', accountId);
    const rows = await query.orderBy('placed_at').orderBy('order_id').execute();
    return rows.map(orderView);
  }

  /** The order's gift cards as they stand (no codes). */
  async giftCards(orderId: string): Promise<GiftCardView[]> {
    const rows = await this.#db
      .selectFrom('sandbox_store_gift_cards')
      .selectAll()
      .where('order_id', '=', orderId)
      .orderBy('code')
      .execute();
    return rows.map((row) => cardView({ ...row, status: row.status as GiftCardStatus }));
  }

  /** Someone spends a code: works once, and never after deactivation. */
  async redeemGiftCard(code: string): Promise<Result<GiftCardView, GiftCardRefusal | { kind: 'not_found' }>> {
    const now = this.#now();
    return this.#db.transaction().execute(async (trx) => {
      const card = await trx
        .selectFrom('sandbox_store_gift_cards')
        .selectAll()
        .where('code', '=', code)
        .forUpdate()
        .executeTakeFirst();
      if (card === undefined) return err({ kind: 'not_found' as const });
      const next = redeemGiftCard(card.status as GiftCardStatus);
      if (!next.ok) return next;
      await trx
        .updateTable('sandbox_store_gift_cards')
        .set({ status: next.value, changed_at: now })
        .where('code', '=', code)
        .execute();
      const view = cardView({ ...card, status: next.value });
      await this.#outbox.record(trx, [cardEvent('gift_card.redeemed', view, now)]);
      return ok(view);
    });
  }

  deliverWebhooks(): Promise<DeliveryReport> {
    return this.#outbox.deliver(this.#db);
  }

  webhookLog(): ReturnType<WebhookOutbox['list']> {
    return this.#outbox.list(this.#db);
  }

  // ---- the port's operations, without faults ----

  lockAccount(command: AccountCommand): Promise<ProviderResult<StoreAccountView>> {
    return this.#accountCommand('lockAccount', command, async (trx, now) => {
      const row = await trx
        .updateTable('sandbox_store_accounts')
        .set({ locked: true, updated_at: now })
        .where('account_id', '=', command.accountId)
        .where('locked', '=', false)
        .returning('account_id')
        .executeTakeFirst();
      return row === undefined
        ? []
        : [accountEvent('account.locked', `evt_account.locked_${command.accountId}`, command.accountId, now)];
    });
  }

  forcePasswordReset(command: AccountCommand): Promise<ProviderResult<StoreAccountView>> {
    return this.#accountCommand('forcePasswordReset', command, async (trx, now) => {
      const row = await trx
        .updateTable('sandbox_store_accounts')
        .set({ password_reset_required: true, updated_at: now })
        .where('account_id', '=', command.accountId)
        .where('password_reset_required', '=', false)
        .returning('account_id')
        .executeTakeFirst();
      return row === undefined
        ? []
        : [
            accountEvent(
              'account.password_reset_required',
              `evt_account.password_reset_required_${command.idempotencyKey}`,
              command.accountId,
              now,
            ),
          ];
    });
  }

  revokeSessions(command: AccountCommand): Promise<ProviderResult<RevokedSessions>> {
    const { idempotencyKey, ...args } = command;
    let exists = false;
    return this.#ledger.run<RevokedSessions>(
      idempotencyKey,
      fingerprintOf('revokeSessions', args),
      async (trx) => {
        if (!exists) return accountNotFound(command.accountId);
        const now = this.#now();
        const revoked = await trx
          .updateTable('sandbox_store_sessions')
          .set({ revoked_at: now })
          .where('account_id', '=', command.accountId)
          .where('revoked_at', 'is', null)
          .returning('session_id')
          .execute();
        const revokedSessionIds = revoked.map((r) => r.session_id).sort();
        if (revokedSessionIds.length > 0)
          await this.#outbox.record(trx, [
            {
              ...accountEvent(
                'sessions.revoked',
                `evt_sessions.revoked_${idempotencyKey}`,
                command.accountId,
                now,
              ),
              data: { accountId: command.accountId, sessionIds: revokedSessionIds },
            },
          ]);
        return providerOk({ accountId: command.accountId, revokedSessionIds, activeSessionCount: 0 });
      },
      async (trx) => {
        exists = (await this.#lockAccountRow(trx, command.accountId)) !== undefined;
      },
    );
  }

  cancelOrder(command: StoreOrderCommand): Promise<ProviderResult<StoreOrderView>> {
    const { idempotencyKey, ...args } = command;
    let order: OrderRow | undefined;
    return this.#ledger.run<StoreOrderView>(
      idempotencyKey,
      fingerprintOf('cancelOrder', args),
      async (trx) => {
        if (order === undefined) return orderNotFound(command.orderId);
        if ((order.status as StoreOrderStatus) === 'cancelled') return providerOk(orderView(order));
        const now = this.#now();
        const updated = await trx
          .updateTable('sandbox_store_orders')
          .set({ status: 'cancelled', cancelled_at: now, updated_at: now })
          .where('order_id', '=', command.orderId)
          .returningAll()
          .executeTakeFirstOrThrow();
        await this.#outbox.record(trx, [
          orderEvent(
            'order.cancelled',
            `evt_order.cancelled_${command.orderId}`,
            command.orderId,
            order.account_id,
            now,
          ),
        ]);
        return providerOk(orderView(updated));
      },
      async (trx) => {
        order = await this.#orderRow(trx, command.orderId, true);
      },
    );
  }

  async listOrders(query: { accountId: string; sinceMs: number }): Promise<ProviderResult<StoreOrderView[]>> {
    const rows = await this.#db
      .selectFrom('sandbox_store_orders')
      .selectAll()
      .where('account_id', '=', query.accountId)
      .where('placed_at', '>=', new Date(query.sinceMs))
      .orderBy('placed_at')
      .orderBy('order_id')
      .limit(listedOrdersMax)
      .execute();
    return providerOk(rows.map(orderView));
  }

  deactivateGiftCards(command: StoreOrderCommand): Promise<ProviderResult<GiftCardDeactivation>> {
    const { idempotencyKey, ...args } = command;
    let order: OrderRow | undefined;
    return this.#ledger.run<GiftCardDeactivation>(
      idempotencyKey,
      fingerprintOf('deactivateGiftCards', args),
      async (trx) => {
        if (order === undefined) return orderNotFound(command.orderId);
        const now = this.#now();
        const cards = await trx
          .selectFrom('sandbox_store_gift_cards')
          .selectAll()
          .where('order_id', '=', command.orderId)
          .orderBy('code')
          .forUpdate()
          .execute();
        const after: GiftCardView[] = [];
        const events: WebhookEvent[] = [];
        for (const card of cards) {
          const before = card.status as GiftCardStatus;
          const status = deactivateGiftCard(before);
          const view = cardView({ ...card, status });
          after.push(view);
          if (status === before) continue;
          await trx
            .updateTable('sandbox_store_gift_cards')
            .set({ status, changed_at: now })
            .where('code', '=', card.code)
            .execute();
          events.push(cardEvent('gift_card.deactivated', view, now));
        }
        await this.#outbox.record(trx, events);
        return providerOk({ orderId: command.orderId, cards: after });
      },
      async (trx) => {
        order = await this.#orderRow(trx, command.orderId, true);
      },
    );
  }

  // ---- internals ----

  #now(): Date {
    return new Date(this.#clock.now());
  }

  #accountCommand(
    name: string,
    command: AccountCommand,
    change: (trx: StoreTrx, now: Date) => Promise<WebhookEvent[]>,
  ): Promise<ProviderResult<StoreAccountView>> {
    const { idempotencyKey, ...args } = command;
    let exists = false;
    return this.#ledger.run<StoreAccountView>(
      idempotencyKey,
      fingerprintOf(name, args),
      async (trx) => {
        if (!exists) return accountNotFound(command.accountId);
        const events = await change(trx, this.#now());
        await this.#outbox.record(trx, events);
        return providerOk(await this.#accountView(trx, command.accountId));
      },
      async (trx) => {
        exists = (await this.#lockAccountRow(trx, command.accountId)) !== undefined;
      },
    );
  }

  async #lockAccountRow(trx: StoreTrx, accountId: string): Promise<string | undefined> {
    const row = await trx
      .selectFrom('sandbox_store_accounts')
      .select('account_id')
      .where('account_id', '=', accountId)
      .forUpdate()
      .executeTakeFirst();
    return row?.account_id;
  }

  async #accountView(db: StoreDb, accountId: string): Promise<StoreAccountView> {
    const account = await db
      .selectFrom('sandbox_store_accounts')
      .selectAll()
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    const sessions = await db
      .selectFrom('sandbox_store_sessions')
      .select((eb) => eb.fn.countAll<Int8>().as('count'))
      .where('account_id', '=', accountId)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return {
      accountId,
      locked: account.locked,
      passwordResetRequired: account.password_reset_required,
      activeSessionCount: Number(sessions.count),
    };
  }

  async #orderRow(db: StoreDb, orderId: string, forUpdate = false): Promise<OrderRow | undefined> {
    let query = db.selectFrom('sandbox_store_orders').selectAll().where('order_id', '=', orderId);
    if (forUpdate) query = query.forUpdate();
    return query.executeTakeFirst();
  }
}

function totalOf(items: readonly StoreOrderItem[]): Money {
  const currency = items[0]?.unitPrice.currency ?? 'JPY';
  if (items.some((i) => i.unitPrice.currency !== currency))
    throw new Error('a sandbox order is in one currency');
  return { value: items.reduce((sum, i) => sum + i.quantity * i.unitPrice.value, 0), currency };
}

function orderView(row: OrderRow): StoreOrderView {
  const items = (typeof row.items === 'string' ? JSON.parse(row.items) : row.items) as StoreOrderItem[];
  return {
    orderId: row.order_id,
    accountId: row.account_id,
    placedAtMs: row.placed_at.getTime(),
    status: row.status as StoreOrderStatus,
    archived: row.archived,
    amount: { value: Number(row.amount_value), currency: row.currency },
    items,
    ...(row.payment_id === null ? {} : { paymentId: row.payment_id }),
  };
}

function cardView(row: CardRow & { status: GiftCardStatus }): GiftCardView {
  return {
    giftCardId: giftCardIdOf(row.code),
    orderId: row.order_id,
    codeLast4: codeLast4(row.code),
    value: { value: Number(row.value), currency: row.currency },
    status: row.status,
  };
}

/** A stable public id for a code, so the code itself never leaves the store. */
function giftCardIdOf(code: string): string {
  return `gc_${createHash('sha256').update(code).digest('hex').slice(0, 16)}`;
}

function derivedCode(orderId: string, index: number): string {
  const digest = createHash('sha256')
    .update(`${orderId}:${String(index)}`)
    .digest('hex')
    .toUpperCase();
  return `${digest.slice(0, 4)}-${digest.slice(4, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}`;
}

function orderEvent(
  type: string,
  eventId: string,
  orderId: string,
  accountId: string,
  now: Date,
): WebhookEvent {
  return { eventId, type, atMs: now.getTime(), data: { orderId, accountId } };
}

function accountEvent(type: string, eventId: string, accountId: string, now: Date): WebhookEvent {
  return { eventId, type, atMs: now.getTime(), data: { accountId } };
}

function cardEvent(type: string, card: GiftCardView, now: Date): WebhookEvent {
  return {
    eventId: `evt_${type}_${card.giftCardId}`,
    type,
    atMs: now.getTime(),
    data: { giftCardId: card.giftCardId, orderId: card.orderId, status: card.status },
  };
}

function accountNotFound(accountId: string): {
  readonly ok: false;
  readonly error: ReturnType<typeof providerError>['error'];
} {
  return providerError('not_found', `no account ${accountId} at the store`, {
    providerCode: 'account_not_found',
  });
}

function orderNotFound(orderId: string): {
  readonly ok: false;
  readonly error: ReturnType<typeof providerError>['error'];
} {
  return providerError('not_found', `no order ${orderId} at the store`, { providerCode: 'order_not_found' });
}
