import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import type { Database } from './schema.ts';
import * as init from './migrations/0001_init.ts';
import * as sandboxPayments from './migrations/0002_sandbox_payments.ts';
import * as sandboxFulfilmentStore from './migrations/0003_sandbox_fulfilment_store.ts';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A `postgres://` URL; when absent the embedded PGlite database is used. */
  readonly databaseUrl?: string | undefined;
  /** PGlite data folder, created when missing; `memory://` keeps it in memory. */
  readonly dataDir: string;
  readonly poolSize?: number;
}

/** Every migration, in order. One set for PGlite and PostgreSQL alike. */
const migrations: Record<string, Migration> = {
  '0001_init': init,
  '0002_sandbox_payments': sandboxPayments,
  '0003_sandbox_fulfilment_store': sandboxFulfilmentStore,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 8 });
    // A broken idle connection must not crash the process; the next query reports the outage.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const inMemory = options.dataDir.startsWith('memory://');
  const unlock = inMemory ? () => undefined : lockDataDir(options.dataDir);
  try {
    const database = await PGlite.create(options.dataDir);
    const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
    return {
      db,
      kind: 'pglite',
      close: async () => {
        await db.destroy();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

/** Applies every pending migration; answers the names applied now. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'bulwark_migrations',
    migrationLockTableName: 'bulwark_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw new Error('database migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
