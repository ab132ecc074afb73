import { sql, type Kysely } from 'kysely';

/**
 * Step-up verification, owner alerts and password checks (apps/server/src/verify). Codes are
 * stored only as keyed digests, TOTP secrets only sealed (AES-GCM with a key derived from
 * BULWARK_SECRET), passkeys only as public keys.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('verify_challenges')
    .addColumn('challenge_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('methods', 'jsonb', (col) => col.notNull())
    .addColumn('device', 'text', (col) => col.notNull())
    .addColumn('ip', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('code_digest', 'text')
    .addColumn('code_method', 'text')
    .addColumn('code_expires_at', 'timestamptz')
    .addColumn('code_sends', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('webauthn_challenge', 'text')
    .addColumn('completed_at', 'timestamptz')
    .addColumn('completed_method', 'text')
    .execute();
  await sql`create index verify_challenges_account on verify_challenges (account_id, created_at)`.execute(db);

  await db.schema
    .createTable('verify_channels')
    .addColumn('account_id', 'text', (col) => col.primaryKey())
    .addColumn('email', 'text')
    .addColumn('phone', 'text')
    .addColumn('locale', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('verify_totp')
    .addColumn('account_id', 'text', (col) => col.primaryKey())
    .addColumn('sealed_secret', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('confirmed_at', 'timestamptz')
    .execute();

  // One row per accepted TOTP step: the primary key is what makes a code single-use.
  await db.schema
    .createTable('verify_totp_steps')
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('step', 'bigint', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('verify_totp_steps_pk', ['account_id', 'step'])
    .execute();

  await db.schema
    .createTable('verify_passkeys')
    .addColumn('credential_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('public_key', 'text', (col) => col.notNull())
    .addColumn('counter', 'bigint', (col) => col.notNull())
    .addColumn('transports', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await sql`create index verify_passkeys_account on verify_passkeys (account_id)`.execute(db);

  await db.schema
    .createTable('verify_passkey_registrations')
    .addColumn('account_id', 'text', (col) => col.primaryKey())
    .addColumn('challenge', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('verify_used_tokens')
    .addColumn('token_id', 'text', (col) => col.primaryKey())
    .addColumn('used_at', 'timestamptz', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('verify_alerts')
    .addColumn('alert_id', 'text', (col) => col.primaryKey())
    .addColumn('account_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('detail', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addColumn('channels', 'jsonb', (col) => col.notNull())
    .addColumn('answer', 'text')
    .execute();

  // The outbox cursor: the last event-log sequence number the alert worker handled.
  await db.schema
    .createTable('verify_outbox_cursor')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('seq', 'bigint', (col) => col.notNull())
    .execute();
  // Starts at the end of the log: upgrading a database with history must not alert owners about
  // sign-ins from before the feature existed.
  await sql`insert into verify_outbox_cursor (id, seq) select 1, coalesce(max(seq), 0) from events`.execute(
    db,
  );

  // What the development sink "sent" (no SMTP or SMS gateway configured): readable after a
  // restart, so a demo can show exactly what the owner would have received.
  await db.schema
    .createTable('notify_dev_messages')
    // Arrival order: the test clock may give several messages the same time.
    .addColumn('seq', 'bigserial', (col) => col.notNull())
    .addColumn('idempotency_key', 'text', (col) => col.primaryKey())
    .addColumn('channel', 'text', (col) => col.notNull())
    .addColumn('recipient', 'text', (col) => col.notNull())
    .addColumn('subject', 'text')
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('sent_at', 'timestamptz', (col) => col.notNull())
    .execute();

  // Imported Pwned Passwords hashes, split so a range query is an index lookup.
  await db.schema
    .createTable('password_hashes')
    .addColumn('prefix', 'text', (col) => col.notNull())
    .addColumn('suffix', 'text', (col) => col.notNull())
    .addColumn('count', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('password_hashes_pk', ['prefix', 'suffix'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'password_hashes',
    'notify_dev_messages',
    'verify_outbox_cursor',
    'verify_alerts',
    'verify_used_tokens',
    'verify_passkey_registrations',
    'verify_passkeys',
    'verify_totp_steps',
    'verify_totp',
    'verify_channels',
    'verify_challenges',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
