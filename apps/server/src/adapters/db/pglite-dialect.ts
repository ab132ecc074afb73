import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';

/**
 * A Kysely dialect over PGlite (PostgreSQL compiled to WebAssembly, in process). Kysely 0.28's own
 * PGlite dialect needs Kysely 0.29 and Node 22, so this small driver reuses Kysely's PostgreSQL
 * adapter, compiler and introspector. PGlite has one connection: a queue hands it to one user at a
 * time, so a transaction never interleaves with another caller's statements.
 */
export class PGliteDialect implements Dialect {
  readonly #database: PGlite;
  constructor(database: PGlite) {
    this.#database = database;
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#database);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #database: PGlite;
  constructor(database: PGlite) {
    this.#database = database;
  }
  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#database.query<R>(compiledQuery.sql, [...compiledQuery.parameters]);
    const affected = result.affectedRows;
    return affected === undefined || result.fields.length > 0
      ? { rows: result.rows }
      : { rows: result.rows, numAffectedRows: BigInt(affected) };
  }
  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not support streaming queries');
  }
}

class PGliteDriver implements Driver {
  readonly #database: PGlite;
  readonly #connection: PGliteConnection;
  /** Callers waiting for the single connection, in arrival order. */
  readonly #waiting: (() => void)[] = [];
  #busy = false;

  constructor(database: PGlite) {
    this.#database = database;
    this.#connection = new PGliteConnection(database);
  }
  async init(): Promise<void> {
    await this.#database.waitReady;
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#busy = true;
    return this.#connection;
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }
  releaseConnection(): Promise<void> {
    const next = this.#waiting.shift();
    if (next === undefined) this.#busy = false;
    else next();
    return Promise.resolve();
  }
  async destroy(): Promise<void> {
    if (!this.#database.closed) await this.#database.close();
  }
}
