import pg from 'pg';
import type { PartitionLeases } from '../../cluster/persister.ts';

/**
 * Which worker persists which partition of the event stream: a session-level advisory lock per
 * (stream, partition) on a connection of its own. A partition's events must be written by one
 * worker at a time, or two workers pulling from one durable consumer would write its events out
 * of order. The lock goes with the connection: a worker that dies (or loses PostgreSQL) frees its
 * partitions, and another worker takes them at its next try.
 */
export class PostgresPartitionLeases implements PartitionLeases {
  readonly #url: string;
  readonly #classId: number;
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  readonly #held = new Set<number>();
  #onLost: (() => void) | undefined;

  constructor(databaseUrl: string, streamName: string) {
    this.#url = databaseUrl;
    this.#classId = lockClassOf(streamName);
  }

  onLost(listener: () => void): void {
    this.#onLost = listener;
  }

  async tryTake(partition: number): Promise<boolean> {
    if (this.#held.has(partition)) return true;
    const client = await this.#connection();
    const result = await client.query<{ taken: boolean }>('select pg_try_advisory_lock($1, $2) as taken', [
      this.#classId,
      partition,
    ]);
    const taken = result.rows[0]?.taken === true;
    if (taken) this.#held.add(partition);
    return taken;
  }

  async release(partition: number): Promise<void> {
    if (!this.#held.delete(partition)) return;
    await this.#client
      ?.query('select pg_advisory_unlock($1, $2)', [this.#classId, partition])
      .catch(() => false);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#held.clear();
    await client?.end().catch(() => undefined);
  }

  #connection(): Promise<pg.Client> {
    if (this.#client !== undefined) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url });
      const lost = (): void => {
        if (this.#client !== client) return;
        // The session is gone, and every lock with it: the partitions are free for others.
        this.#client = undefined;
        this.#held.clear();
        this.#onLost?.();
      };
      client.on('error', lost);
      client.on('end', lost);
      try {
        await client.connect();
      } catch (error) {
        client.removeAllListeners();
        throw error;
      }
      this.#client = client;
      return client;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }
}

/** A stable 31-bit number per stream name (FNV-1a), so two streams on one database never share locks. */
function lockClassOf(streamName: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(`bulwark-stream:${streamName}`)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}
