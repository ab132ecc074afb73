import type { Kysely } from 'kysely';

/**
 * Passkeys of console analysts (WebAuthn): an admin signs in with a passkey instead of a password
 * and an authenticator code. Only the public key is stored; the counter catches cloned keys.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('analyst_passkeys')
    .addColumn('credential_id', 'text', (col) => col.primaryKey())
    .addColumn('analyst_id', 'text', (col) => col.notNull().references('analysts.analyst_id'))
    .addColumn('name', 'text', (col) => col.notNull())
    // COSE public key, base64url.
    .addColumn('public_key', 'text', (col) => col.notNull())
    .addColumn('counter', 'bigint', (col) => col.notNull())
    .addColumn('transports', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('analyst_passkeys_by_analyst')
    .on('analyst_passkeys')
    .column('analyst_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('analyst_passkeys').execute();
}
