import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/adapters/db/schema.ts';
import { restartableDatabase, type Backend, type RestartableDatabase } from '../helpers/backends.ts';

/** A migrated database for the fulfilment and store sandboxes; `reopen` is a restart. */
export interface SandboxDatabase {
  readonly db: Kysely<Database>;
  /** Closes the connection and opens the same database again. */
  reopen(): Promise<SandboxDatabase>;
  /** Empties the sandbox tables, so each test starts from nothing. */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

const sandboxTables = [
  'sandbox_fulfilment_orders',
  'sandbox_fulfilment_commands',
  'sandbox_fulfilment_webhooks',
  'sandbox_store_accounts',
  'sandbox_store_sessions',
  'sandbox_store_orders',
  'sandbox_store_gift_cards',
  'sandbox_store_commands',
  'sandbox_store_webhooks',
];

const truncateAll = async (db: Kysely<Database>): Promise<void> => {
  await sql`truncate ${sql.join(sandboxTables.map((t) => sql.table(t)))}`.execute(db);
};

function withTruncate(database: RestartableDatabase): SandboxDatabase {
  return {
    db: database.db,
    reopen: async () => withTruncate(await database.reopen()),
    truncate: () => truncateAll(database.db),
    close: () => database.close(),
  };
}

/**
 * PGlite in memory (from the cached migrated template) unless `onDisk`, which makes a data folder
 * so that `reopen` is a real restart: a new PGlite reading the same files.
 */
export async function sandboxDatabase(
  backend: Backend,
  options: { readonly onDisk?: boolean } = {},
): Promise<SandboxDatabase> {
  return withTruncate(await restartableDatabase(backend, options));
}
