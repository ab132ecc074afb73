import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { EventLog } from '../../storage/ports.ts';
import type { Database } from '../db/schema.ts';
import type { SandboxWorld } from './world.ts';

/** Events read from the log per pass. */
const pageSize = 500;
const passIntervalMs = 1000;

/**
 * Plays the store in a demo or drill: follows Bulwark's event log and does what a store does
 * with each decided event (orders authorized and handed to the warehouse or held, archived,
 * sessions opened), then lets the warehouse and provider act on the clock. Its cursor is kept
 * in the database and every action is idempotent, so a restart neither skips nor repeats.
 */
export class SandboxStoreFollower {
  readonly #events: EventLog;
  readonly #world: SandboxWorld;
  readonly #db: Kysely<Database>;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = true;
  #chain: Promise<number> = Promise.resolve(0);

  constructor(deps: { events: EventLog; world: SandboxWorld; db: Kysely<Database>; logger: Logger }) {
    this.#events = deps.events;
    this.#world = deps.world;
    this.#db = deps.db;
    this.#logger = deps.logger;
  }

  /**
   * One pass: every new event, then time. Answers how many events it handled. Passes never
   * overlap (the timer and the containment engine both ask): a second waits for the first.
   */
  runOnce(): Promise<number> {
    const pass = this.#chain.then(
      () => this.#catchUp(),
      () => this.#catchUp(),
    );
    this.#chain = pass.catch(() => 0);
    return pass;
  }

  async #catchUp(): Promise<number> {
    const { rows } = await sql<{
      seq: string | number;
    }>`select seq from sandbox_store_cursor where name = 'store'`.execute(this.#db);
    let cursor = Number(rows[0]?.seq ?? 0);
    let handled = 0;
    for (;;) {
      const page = await this.#events.readAfter(cursor, pageSize);
      await this.#world.onDecidedAll(page);
      handled += page.length;
      if (page.length > 0) {
        cursor = page.at(-1)?.seq ?? cursor;
        await sql`insert into sandbox_store_cursor (name, seq) values ('store', ${cursor})
          on conflict (name) do update set seq = excluded.seq`.execute(this.#db);
      }
      if (page.length < pageSize) break;
    }
    await this.#world.advance();
    return handled;
  }

  start(): void {
    this.#stopped = false;
    const tick = (): void => {
      this.#pass = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.#logger.warn({ err: error }, 'sandbox store pass failed; retrying');
        })
        .finally(() => {
          if (!this.#stopped) {
            this.#timer = setTimeout(tick, passIntervalMs);
            this.#timer.unref();
          }
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#pass;
  }
}
