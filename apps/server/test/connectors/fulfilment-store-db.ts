import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { migrateToLatest, openDatabase } from '../../src/adapters/db/database.ts';
import { PGliteDialect } from '../../src/adapters/db/pglite-dialect.ts';
import type { Database } from '../../src/adapters/db/schema.ts';
import { createPostgresDatabase, freshDatabase, type Backend } from '../helpers/backends.ts';

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

/**
 * The migrated PGlite data folder that `freshDatabase` caches in the temporary folder (same file
 * name: a digest of the migrations); opening one in-memory database first makes sure it exists.
 */
async function migratedTemplate(): Promise<Blob> {
  await (await freshDatabase('pglite')).close();
  const migrationsDir = new URL('../../src/adapters/db/migrations/', import.meta.url);
  const digest = createHash('sha256');
  for (const name of readdirSync(migrationsDir).sort())
    digest.update(name).update(readFileSync(new URL(name, migrationsDir)));
  return new Blob([
    readFileSync(join(tmpdir(), `bulwark-pglite-template-${digest.digest('hex').slice(0, 12)}.tar`)),
  ]);
}

const truncateAll = async (db: Kysely<Database>): Promise<void> => {
  await sql`truncate ${sql.join(sandboxTables.map((t) => sql.table(t)))}`.execute(db);
};

/**
 * PGlite in memory (from the cached migrated template) unless `onDisk`, which makes a data folder
 * so that `reopen` is a real restart: a new PGlite reading the same files.
 */
export async function sandboxDatabase(
  backend: Backend,
  options: { readonly onDisk?: boolean } = {},
): Promise<SandboxDatabase> {
  if (backend === 'pglite' && options.onDisk !== true) {
    const fresh = await freshDatabase('pglite');
    const memory: SandboxDatabase = {
      db: fresh.db,
      reopen: () => Promise.resolve(memory),
      truncate: () => truncateAll(fresh.db),
      close: () => fresh.close(),
    };
    return memory;
  }
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-sandbox-fs-'));
    // Seeded from the migrated template the in-memory databases use: an initdb takes seconds.
    const template = await migratedTemplate();
    const open = async (first: boolean): Promise<SandboxDatabase> => {
      const database = await PGlite.create(dir, first ? { loadDataDir: template } : {});
      const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
      await migrateToLatest(db);
      return {
        db,
        reopen: async () => {
          await db.destroy();
          return open(false);
        },
        truncate: () => truncateAll(db),
        close: async () => {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    };
    return open(true);
  }
  const { url, drop } = await createPostgresDatabase();
  const open = async (): Promise<SandboxDatabase> => {
    const handle = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 4 });
    await migrateToLatest(handle.db);
    return {
      db: handle.db,
      reopen: async () => {
        await handle.close();
        return open();
      },
      truncate: () => truncateAll(handle.db),
      close: async () => {
        await handle.close();
        await drop();
      },
    };
  };
  return open();
}
