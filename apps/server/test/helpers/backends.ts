import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../../src/adapters/db/database.ts';
import { kyselyStorage } from '../../src/adapters/db/kysely-storage.ts';
import { PGliteDialect } from '../../src/adapters/db/pglite-dialect.ts';
import type { Database } from '../../src/adapters/db/schema.ts';
import type { Storage } from '../../src/storage/ports.ts';

export type Backend = 'pglite' | 'postgres';

/**
 * The storage backends a suite runs against. PGlite always; PostgreSQL when TEST_DATABASE_URL
 * points at a server (CI sets it). BACKENDS=pglite,postgres narrows or widens the list; naming
 * postgres without TEST_DATABASE_URL is an error, never a silent skip.
 */
export function backends(): Backend[] {
  const url = process.env.TEST_DATABASE_URL;
  const named = process.env.BACKENDS?.split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  const list = (named ?? (url === undefined ? ['pglite'] : ['pglite', 'postgres'])) as Backend[];
  for (const backend of list as string[]) {
    if (backend !== 'pglite' && backend !== 'postgres') throw new Error(`unknown backend ${backend}`);
    if (backend === 'postgres' && url === undefined)
      throw new Error('BACKENDS names postgres: set TEST_DATABASE_URL');
  }
  return list;
}

export function postgresAdminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (url === undefined) throw new Error('TEST_DATABASE_URL is not set');
  return url;
}

/** A fresh, empty PostgreSQL database on the test server; answers its URL and a dropper. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = postgresAdminUrl();
  const name = `bulwark_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Migrated PGlite data folder, made once per machine and schema, loaded in well under a second. */
export async function pgliteTemplate(): Promise<Blob> {
  // Any change to any migration makes a new template.
  const migrationsDir = new URL('../../src/adapters/db/migrations/', import.meta.url);
  const digest = createHash('sha256');
  for (const name of readdirSync(migrationsDir).sort())
    digest.update(name).update(readFileSync(new URL(name, migrationsDir)));
  // Which of them run is registered in database.ts: a file not yet registered must not be baked in.
  digest.update(readFileSync(new URL('../database.ts', migrationsDir)));
  const schemaDigest = digest.digest('hex').slice(0, 12);
  const path = join(tmpdir(), `bulwark-pglite-template-${schemaDigest}.tar`);
  if (existsSync(path)) return new Blob([readFileSync(path)]);
  const database = await PGlite.create();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
  await migrateToLatest(db);
  const dump = await database.dumpDataDir('none');
  await db.destroy();
  const temporary = `${path}.${String(process.pid)}`;
  writeFileSync(temporary, Buffer.from(await dump.arrayBuffer()));
  renameSync(temporary, path);
  return dump;
}

/** A migrated, empty storage together with the Kysely instance under it. */
export interface StorageWithDatabase {
  storage: Storage;
  /** The database the storage writes to, to check tables and constraints directly. */
  db: Kysely<Database>;
  /** Closes the storage and removes the database. */
  close(): Promise<void>;
}

/** A migrated, empty database on the backend, as storage and as Kysely; `close` removes it. */
export async function freshDatabase(backend: Backend): Promise<StorageWithDatabase> {
  if (backend === 'pglite') {
    const database = await PGlite.create({ loadDataDir: await pgliteTemplate() });
    const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
    await migrateToLatest(db);
    const storage = kyselyStorage({ db, kind: 'pglite', close: () => db.destroy() });
    return { storage, db, close: () => storage.close() };
  }
  const { url, drop } = await createPostgresDatabase();
  const handle = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 4 });
  await migrateToLatest(handle.db);
  // Closing the storage also drops its database. Made by kyselyStorage itself (not a copy), so
  // the service finds the database under it (databaseOf) as it does in production.
  const storage = kyselyStorage({
    ...handle,
    close: async () => {
      await handle.close();
      await drop();
    },
  });
  return { storage, db: handle.db, close: () => storage.close() };
}

/** A migrated, empty storage on the backend; `close` also removes it. */
export async function freshStorage(backend: Backend): Promise<Storage> {
  return (await freshDatabase(backend)).storage;
}

/** A migrated database whose `reopen` is a restart: the connection closed, the same data opened again. */
export interface RestartableDatabase {
  readonly db: Kysely<Database>;
  reopen(): Promise<RestartableDatabase>;
  close(): Promise<void>;
}

/**
 * PGlite in memory (then `reopen` keeps the same instance) unless `onDisk`, which seeds a data
 * folder from the migrated template so that `reopen` is a new PGlite reading the same files; on
 * PostgreSQL a fresh database that `reopen` connects to again.
 */
export async function restartableDatabase(
  backend: Backend,
  options: { readonly onDisk?: boolean } = {},
): Promise<RestartableDatabase> {
  if (backend === 'pglite' && options.onDisk !== true) {
    const fresh = await freshDatabase('pglite');
    const memory: RestartableDatabase = {
      db: fresh.db,
      reopen: () => Promise.resolve(memory),
      close: () => fresh.close(),
    };
    return memory;
  }
  if (backend === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-restartable-'));
    const template = await pgliteTemplate();
    const open = async (first: boolean): Promise<RestartableDatabase> => {
      const database = await PGlite.create(dir, first ? { loadDataDir: template } : {});
      const db = new Kysely<Database>({ dialect: new PGliteDialect(database) });
      await migrateToLatest(db);
      return {
        db,
        reopen: async () => {
          await db.destroy();
          return open(false);
        },
        close: async () => {
          await db.destroy();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    };
    return open(true);
  }
  const { url, drop } = await createPostgresDatabase();
  const open = async (): Promise<RestartableDatabase> => {
    const handle = await openDatabase({ databaseUrl: url, dataDir: 'unused', poolSize: 4 });
    await migrateToLatest(handle.db);
    return {
      db: handle.db,
      reopen: async () => {
        await handle.close();
        return open();
      },
      close: async () => {
        await handle.close();
        await drop();
      },
    };
  };
  return open();
}
