import { sql, type Kysely } from 'kysely';

/**
 * The sandbox payment provider's own tables, beside Bulwark's but never joined with them: the
 * sandbox plays a remote provider, so its state survives a restart like a real one would.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per payment: the whole aggregate (refunds, disputes, warnings) as one JSON value,
  // changed under a row lock; `due_at` finds the payments that something will happen to.
  await db.schema
    .createTable('sandbox_payments')
    .addColumn('payment_id', 'text', (col) => col.primaryKey())
    .addColumn('state', 'jsonb', (col) => col.notNull())
    .addColumn('due_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`create index sandbox_payments_due on sandbox_payments (due_at) where due_at is not null`.execute(
    db,
  );

  // The provider's balance-transaction ledger, append-only, read forward by `seq`.
  await db.schema
    .createTable('sandbox_payment_ledger')
    .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('transaction_id', 'text', (col) => col.notNull().unique())
    .addColumn('payment_id', 'text', (col) => col.notNull())
    .addColumn('entry', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();

  // Creation order of disputes and early fraud warnings, for their feeds; the current state
  // lives in the payment's aggregate.
  for (const table of ['sandbox_payment_disputes', 'sandbox_payment_warnings'] as const) {
    await db.schema
      .createTable(table)
      .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('object_id', 'text', (col) => col.notNull().unique())
      .addColumn('payment_id', 'text', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .execute();
    await db.schema.createIndex(`${table}_payment`).on(table).columns(['payment_id', 'seq']).execute();
  }

  // Idempotency keys: the first answer to a key, replayed for 24 h.
  await db.schema
    .createTable('sandbox_payment_idempotency')
    .addColumn('idempotency_key', 'text', (col) => col.primaryKey())
    .addColumn('command', 'text', (col) => col.notNull())
    .addColumn('request_hash', 'text', (col) => col.notNull())
    .addColumn('response', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();

  // Outgoing webhooks, written in the same transaction as the change they announce.
  await db.schema
    .createTable('sandbox_payment_webhooks')
    .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('event_id', 'text', (col) => col.notNull().unique())
    .addColumn('provider_type', 'text', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull())
    .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`create index sandbox_payment_webhooks_due on sandbox_payment_webhooks (next_attempt_at, seq) where status = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'sandbox_payment_webhooks',
    'sandbox_payment_idempotency',
    'sandbox_payment_warnings',
    'sandbox_payment_disputes',
    'sandbox_payment_ledger',
    'sandbox_payments',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
