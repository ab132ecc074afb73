import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../../core/clock.ts';
import { decideForKey, isKeptAnswer, type KeptAnswer } from '../../connectors/domain/idempotent-command.ts';
import type { ProviderResult } from '../../connectors/domain/provider-result.ts';

/** Thrown inside a transaction when a concurrent caller kept an answer under the same key first. */
class KeyTakenConcurrently extends Error {}

/** Attempts at a command whose key a concurrent caller took; the second attempt replays its answer. */
const keyRaceAttemptsMax = 3;

/**
 * A sandbox's idempotency ledger in `sandbox_<source>_commands`: one kept answer per key, written
 * in the same transaction as the command's effect, so an effect without its kept answer (or the
 * reverse) cannot exist — which is what makes a retry after a lost answer safe.
 */
export class CommandLedger<DB> {
  readonly #db: Kysely<DB>;
  readonly #table: string;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, source: 'fulfilment' | 'store', clock: Clock) {
    this.#db = db;
    this.#table = `sandbox_${source}_commands`;
    this.#clock = clock;
  }

  /**
   * Runs `execute` once per key: `lock` first takes the row locks the command needs (so two
   * callers with the same key queue up), then the kept answer, if any, is replayed.
   */
  async run<T>(
    idempotencyKey: string,
    fingerprint: string,
    execute: (trx: Transaction<DB>) => Promise<ProviderResult<T>>,
    lock: (trx: Transaction<DB>) => Promise<void> = () => Promise.resolve(),
  ): Promise<ProviderResult<T>> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#db.transaction().execute(async (trx) => {
          await lock(trx);
          const decision = decideForKey(await this.#find(trx, idempotencyKey), fingerprint);
          // A kept answer is the one `execute` gave for this very request: its type is T.
          if (decision.action === 'replay') return decision.answer as ProviderResult<T>;
          if (decision.action === 'refuse') return decision.answer;
          const answer = await execute(trx);
          if (isKeptAnswer(answer)) await this.#keep(trx, idempotencyKey, fingerprint, answer);
          return answer;
        });
      } catch (error) {
        if (!(error instanceof KeyTakenConcurrently) || attempt >= keyRaceAttemptsMax) throw error;
      }
    }
  }

  async #find(trx: Transaction<DB>, key: string): Promise<KeptAnswer | undefined> {
    const { rows } = await sql<{ fingerprint: string; answer: unknown }>`
      select fingerprint, answer from ${sql.table(this.#table)} where idempotency_key = ${key}`.execute(trx);
    const row = rows[0];
    if (row === undefined) return undefined;
    const answer = (
      typeof row.answer === 'string' ? JSON.parse(row.answer) : row.answer
    ) as KeptAnswer['answer'];
    return { fingerprint: row.fingerprint, answer };
  }

  async #keep(
    trx: Transaction<DB>,
    key: string,
    fingerprint: string,
    answer: ProviderResult<unknown>,
  ): Promise<void> {
    const { rows } = await sql<{ idempotency_key: string }>`
      insert into ${sql.table(this.#table)} (idempotency_key, fingerprint, answer, created_at)
      values (${key}, ${fingerprint}, ${JSON.stringify(answer)}::jsonb, ${new Date(this.#clock.now())})
      on conflict (idempotency_key) do nothing
      returning idempotency_key`.execute(trx);
    if (rows.length === 0) throw new KeyTakenConcurrently(key);
  }
}
