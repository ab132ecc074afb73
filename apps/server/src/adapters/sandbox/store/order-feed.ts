import { sql, type Kysely } from 'kysely';
import type { FeedPage } from '../../../connectors/domain/payments.ts';
import type { MirroredOrder, OrderFeed } from '../../../reconcile/ports.ts';
import type { Database } from '../../db/schema.ts';

/** Orders one page reads at most. */
const pageSizeMax = 5000;

/**
 * The sandbox store's orders as a feed by change time, for reconciliation's mirror: what a real
 * store's REST contract answers to "orders changed since". The cursor is `<updatedAtMs>|<orderId>`.
 */
export function sandboxOrderFeed(db: Kysely<Database>): OrderFeed {
  return {
    async listOrdersAfter(cursor, limit, changed): Promise<FeedPage<MirroredOrder>> {
      const size = Math.min(Math.max(1, limit), pageSizeMax);
      let after = sql`true`;
      // Time bounds and the cursor all ride the (updated_at, order_id) index.
      const from = changed?.fromMs === undefined ? sql`true` : sql`updated_at >= ${new Date(changed.fromMs)}`;
      const before =
        changed?.beforeMs === undefined ? sql`true` : sql`updated_at < ${new Date(changed.beforeMs)}`;
      if (cursor !== undefined) {
        const bar = cursor.indexOf('|');
        const atMs = Number(cursor.slice(0, bar));
        const orderId = cursor.slice(bar + 1);
        if (bar > 0 && Number.isFinite(atMs))
          after = sql`(updated_at, order_id) > (${new Date(atMs)}, ${orderId})`;
      }
      const { rows } = await sql<{
        order_id: string;
        account_id: string;
        payment_id: string | null;
        amount_value: string | number;
        currency: string;
        placed_at: Date;
        status: string;
        updated_at: Date;
      }>`select order_id, account_id, payment_id, amount_value, currency, placed_at, status, updated_at
         from sandbox_store_orders where ${after} and ${from} and ${before}
         order by updated_at, order_id limit ${size + 1}`.execute(db);
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        items: page.map((r) => ({
          orderId: r.order_id,
          accountId: r.account_id,
          paymentId: r.payment_id ?? undefined,
          amountMinor: Number(r.amount_value),
          currency: r.currency,
          placedAtMs: new Date(r.placed_at).getTime(),
          status: r.status === 'cancelled' ? 'cancelled' : 'placed',
        })),
        nextCursor:
          last === undefined ? cursor : `${String(new Date(last.updated_at).getTime())}|${last.order_id}`,
        hasMore: rows.length > size,
      };
    },
  };
}
