import { sql, type Kysely } from 'kysely';

/**
 * Tables of the sandbox warehouse/carrier and the sandbox store. They stand in for other
 * companies' systems, so they share nothing with Bulwark's own tables: a demo survives a restart
 * and Bulwark can only learn their state through the ports, as it would from real providers.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sandbox_fulfilment_orders')
    .addColumn('order_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('placed_at', 'timestamptz', (col) => col.notNull())
    // The whole order with its shipments, as the pure state machine sees it.
    .addColumn('state', 'jsonb', (col) => col.notNull())
    // When a shipment next moves by itself; null when nothing will (held, delivered, …).
    .addColumn('next_due_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await sql`create index sandbox_fulfilment_orders_due on sandbox_fulfilment_orders (next_due_at)
    where next_due_at is not null`.execute(db);

  await db.schema
    .createTable('sandbox_store_accounts')
    .addColumn('account_id', 'text', (col) => col.primaryKey())
    .addColumn('email', 'text')
    .addColumn('phone', 'text')
    .addColumn('locked', 'boolean', (col) => col.notNull())
    .addColumn('password_reset_required', 'boolean', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('sandbox_store_sessions')
    .addColumn('session_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('issued_at', 'timestamptz', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('sandbox_store_sessions_account')
    .on('sandbox_store_sessions')
    .column('account_id')
    .execute();

  await db.schema
    .createTable('sandbox_store_orders')
    .addColumn('order_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('placed_at', 'timestamptz', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('archived', 'boolean', (col) => col.notNull())
    .addColumn('amount_value', 'bigint', (col) => col.notNull())
    .addColumn('currency', 'text', (col) => col.notNull())
    .addColumn('items', 'jsonb', (col) => col.notNull())
    .addColumn('cancelled_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('sandbox_store_orders_account_placed')
    .on('sandbox_store_orders')
    .columns(['account_id', 'placed_at'])
    .execute();

  await db.schema
    .createTable('sandbox_store_gift_cards')
    .addColumn('code', 'text', (col) => col.primaryKey())
    .addColumn('order_id', 'text', (col) => col.notNull())
    .addColumn('value', 'bigint', (col) => col.notNull())
    .addColumn('currency', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('issued_at', 'timestamptz', (col) => col.notNull())
    .addColumn('changed_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('sandbox_store_gift_cards_order')
    .on('sandbox_store_gift_cards')
    .column('order_id')
    .execute();

  // Each sandbox keeps the answers it gave per idempotency key, and its own webhook outbox.
  for (const source of ['fulfilment', 'store']) {
    await db.schema
      .createTable(`sandbox_${source}_commands`)
      .addColumn('idempotency_key', 'text', (col) => col.primaryKey())
      .addColumn('fingerprint', 'text', (col) => col.notNull())
      .addColumn('answer', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .execute();
    await db.schema
      .createTable(`sandbox_${source}_webhooks`)
      .addColumn('seq', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('event_id', 'text', (col) => col.notNull().unique())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('payload', 'jsonb', (col) => col.notNull())
      .addColumn('created_at', 'timestamptz', (col) => col.notNull())
      .addColumn('attempt_count', 'integer', (col) => col.notNull())
      .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull())
      .addColumn('delivered_at', 'timestamptz')
      // Lost on the way (fault injection): the sandbox believes it delivered and never retries.
      .addColumn('dropped', 'boolean', (col) => col.notNull())
      .execute();
    await sql`create index ${sql.raw(`sandbox_${source}_webhooks_pending`)}
      on ${sql.table(`sandbox_${source}_webhooks`)} (next_attempt_at, seq) where delivered_at is null`.execute(
      db,
    );
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'sandbox_store_webhooks',
    'sandbox_store_commands',
    'sandbox_fulfilment_webhooks',
    'sandbox_fulfilment_commands',
    'sandbox_store_gift_cards',
    'sandbox_store_orders',
    'sandbox_store_sessions',
    'sandbox_store_accounts',
    'sandbox_fulfilment_orders',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
