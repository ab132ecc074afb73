import { sql, type Kysely } from 'kysely';

/**
 * The review queue. Held orders are the `order.placed` events decided `review` (found through the
 * log's outcome index); this table keeps only how each was resolved — approved, declined or
 * timed out — once, by whom, and the case a decline or a timeout opened.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('review_resolutions')
    .addColumn('order_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('resolved_at', 'timestamptz', (col) => col.notNull())
    .addColumn('resolved_by', 'text', (col) => col.notNull())
    .addColumn('note', 'text')
    .addColumn('cancel_event_id', 'text')
    .addColumn('case_id', 'text')
    .execute();
  // A held order is found by its id without scanning every held event.
  await sql`create index events_held_order on events ((payload->>'orderId')) where outcome = 'review'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('events_held_order').execute();
  await db.schema.dropTable('review_resolutions').execute();
}
