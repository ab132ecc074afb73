import { sql, type Kysely } from 'kysely';

/**
 * Order rule sets and models, versioned: every saved set and trained model is a new immutable
 * row; `risk_policy_slots` names which set is active, which runs in shadow and which model
 * scores. Shadow verdicts are recorded per event, beside the decision the active set gave.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rule_sets')
    .addColumn('version', 'integer', (col) => col.primaryKey())
    .addColumn('definition', 'jsonb', (col) => col.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('order_models')
    .addColumn('version', 'text', (col) => col.primaryKey())
    .addColumn('definition', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('risk_policy_slots')
    .addColumn('slot', 'text', (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('rule_shadow_results')
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('shadow_version', 'text', (col) => col.notNull())
    .addColumn('shadow_outcome', 'text', (col) => col.notNull())
    .addColumn('rule_ids', 'jsonb', (col) => col.notNull())
    .addColumn('active_outcome', 'text', (col) => col.notNull())
    .addColumn('decided_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('rule_shadow_results_pk', ['event_id', 'shadow_version'])
    .execute();
  await sql`create index rule_shadow_results_version on rule_shadow_results (shadow_version, decided_at)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rule_shadow_results').execute();
  await db.schema.dropTable('risk_policy_slots').execute();
  await db.schema.dropTable('order_models').execute();
  await db.schema.dropTable('rule_sets').execute();
}
