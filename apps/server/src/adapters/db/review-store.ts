import type { Money, Reason } from '@bulwark/contracts';
import { sql, type ColumnType, type Kysely } from 'kysely';
import type {
  HeldOrder,
  ResolvedStatus,
  ReviewRecord,
  ReviewResolution,
  ReviewStore,
} from '../../reviews/ports.ts';
import type { Database } from './schema.ts';

type Timestamp = ColumnType<Date, Date, Date>;

/** The table of migration 0011_reviews, kept beside its only user. */
interface ReviewTables {
  review_resolutions: {
    order_id: string;
    account_id: string;
    event_id: string;
    status: string;
    resolved_at: Timestamp;
    resolved_by: string;
    note: string | null;
    cancel_event_id: string | null;
    case_id: string | null;
  };
}

interface HeldRow {
  order_id: string;
  account_id: string;
  event_id: string;
  decided_at: Date;
  amount: Money;
  reasons: Reason[];
  score: number;
}

const heldOf = (row: HeldRow): HeldOrder => ({
  orderId: row.order_id,
  accountId: row.account_id,
  eventId: row.event_id,
  decidedAtMs: new Date(row.decided_at).getTime(),
  amount: row.amount,
  reasons: row.reasons,
  score: row.score,
});

interface ResolutionRow {
  order_id: string;
  account_id: string;
  event_id: string;
  status: string;
  resolved_at: Date;
  resolved_by: string;
  note: string | null;
  cancel_event_id: string | null;
  case_id: string | null;
}

const resolutionOf = (row: ResolutionRow): ReviewResolution => ({
  orderId: row.order_id,
  accountId: row.account_id,
  eventId: row.event_id,
  status: row.status as ResolvedStatus,
  resolvedAtMs: new Date(row.resolved_at).getTime(),
  resolvedBy: row.resolved_by,
  note: row.note ?? undefined,
  cancelEventId: row.cancel_event_id ?? undefined,
  caseId: row.case_id ?? undefined,
});

/**
 * Held orders are read from the event log through its outcome index (`events_outcome_seq`):
 * the `order.placed` events decided `review`. Resolutions live in their own table.
 */
export class KyselyReviewStore implements ReviewStore {
  readonly #db: Kysely<Database & ReviewTables>;

  constructor(db: Kysely<Database>) {
    this.#db = db as unknown as Kysely<Database & ReviewTables>;
  }

  #held() {
    return this.#db
      .selectFrom('events as e')
      .select([
        sql<string>`e.payload->>'orderId'`.as('order_id'),
        sql<string>`e.account_id`.as('account_id'),
        'e.event_id',
        'e.decided_at',
        sql<Money>`e.payload->'amount'`.as('amount'),
        sql<Reason[]>`e.decision->'reasons'`.as('reasons'),
        'e.score',
      ])
      .where('e.outcome', '=', 'review')
      .where('e.type', '=', 'order.placed');
  }

  async get(orderId: string): Promise<ReviewRecord | undefined> {
    const row = await this.#held()
      .where(sql<string>`e.payload->>'orderId'`, '=', orderId)
      .orderBy('e.seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const resolution = await this.#db
      .selectFrom('review_resolutions')
      .selectAll()
      .where('order_id', '=', orderId)
      .executeTakeFirst();
    return {
      held: heldOf(row),
      resolution: resolution === undefined ? undefined : resolutionOf(resolution),
    };
  }

  async pending(limit: number, decidedBeforeMs?: number): Promise<HeldOrder[]> {
    let query = this.#held().where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('review_resolutions as r')
            .select('r.order_id')
            .where('r.order_id', '=', sql<string>`e.payload->>'orderId'`),
        ),
      ),
    );
    if (decidedBeforeMs !== undefined) query = query.where('e.decided_at', '<=', new Date(decidedBeforeMs));
    const rows = await query.orderBy('e.seq').limit(limit).execute();
    return rows.map((row) => heldOf(row));
  }

  async resolved(status: ResolvedStatus, limit: number): Promise<ReviewRecord[]> {
    const resolutions = await this.#db
      .selectFrom('review_resolutions')
      .selectAll()
      .where('status', '=', status)
      .orderBy('resolved_at', 'desc')
      .orderBy('order_id')
      .limit(limit)
      .execute();
    if (resolutions.length === 0) return [];
    const rows = await this.#held()
      .where(
        'e.event_id',
        'in',
        resolutions.map((r) => r.event_id),
      )
      .execute();
    const held = new Map(rows.map((row) => [row.event_id, heldOf(row)]));
    return resolutions.flatMap((r) => {
      const h = held.get(r.event_id);
      return h === undefined ? [] : [{ held: h, resolution: resolutionOf(r) }];
    });
  }

  async claim(resolution: ReviewResolution): Promise<boolean> {
    const inserted = await this.#db
      .insertInto('review_resolutions')
      .values({
        order_id: resolution.orderId,
        account_id: resolution.accountId,
        event_id: resolution.eventId,
        status: resolution.status,
        resolved_at: new Date(resolution.resolvedAtMs),
        resolved_by: resolution.resolvedBy,
        note: resolution.note ?? null,
        cancel_event_id: resolution.cancelEventId ?? null,
        case_id: resolution.caseId ?? null,
      })
      .onConflict((oc) => oc.column('order_id').doNothing())
      .returning('order_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async setCase(orderId: string, cancelEventId: string, caseId: string | undefined): Promise<void> {
    await this.#db
      .updateTable('review_resolutions')
      .set({ cancel_event_id: cancelEventId, case_id: caseId ?? null })
      .where('order_id', '=', orderId)
      .execute();
  }

  async release(orderId: string, status: ResolvedStatus): Promise<void> {
    await this.#db
      .deleteFrom('review_resolutions')
      .where('order_id', '=', orderId)
      .where('status', '=', status)
      .where('case_id', 'is', null)
      .execute();
  }
}
