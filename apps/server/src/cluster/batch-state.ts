import type { HotState } from '../risk/domain/decider.ts';
import { seriesLimitsOf } from '../risk/domain/engine.ts';
import type { AccountState } from '../risk/domain/state.ts';
import { WindowSeries } from '../risk/domain/velocity.ts';
import type { DecisionStateLoad, SeriesChange, SeriesOp, VersionedAccount } from './ports.ts';

/**
 * A series that remembers the changes made to it, so the shared store can replay them on its own
 * copy (which other nodes may have changed meanwhile) instead of being overwritten with ours.
 * Only the outermost call is journalled: `addToBucket` may take an entry back and record it
 * again, and the store's `bucket` op does the same.
 */
export class JournaledSeries extends WindowSeries {
  readonly ops: SeriesOp[] = [];
  #depth = 0;

  override record(atMs: number, value = 1, label?: string): void {
    super.record(atMs, value, label);
    if (this.#depth === 0)
      this.ops.push(
        label === undefined
          ? { op: 'record', t: atMs, v: value }
          : { op: 'record', t: atMs, v: value, k: label },
      );
  }

  override addToBucket(atMs: number, value = 1): void {
    this.#depth += 1;
    try {
      super.addToBucket(atMs, value);
    } finally {
      this.#depth -= 1;
    }
    if (this.#depth === 0) this.ops.push({ op: 'bucket', t: atMs, v: value });
  }

  override remove(atMs: number, value = 1, label?: string): boolean {
    const removed = super.remove(atMs, value, label);
    // A remove that found nothing here must not take another node's entry out of the store.
    if (removed && this.#depth === 0)
      this.ops.push(
        label === undefined
          ? { op: 'remove', t: atMs, v: value }
          : { op: 'remove', t: atMs, v: value, k: label },
      );
    return removed;
  }
}

/**
 * The hot state one batch is decided against on an API node: what the shared store held at the
 * load, changed in memory by the decider, and then told to the store as new account states
 * (checked against the versions read) and series ops.
 */
export class BatchState implements HotState {
  readonly #accounts: Map<string, VersionedAccount>;
  readonly #changed = new Map<string, AccountState>();
  readonly #series = new Map<string, JournaledSeries>();

  constructor(load: Pick<DecisionStateLoad, 'accounts' | 'series'>) {
    this.#accounts = load.accounts;
    for (const [key, snapshot] of load.series)
      this.#series.set(key, new JournaledSeries(seriesLimitsOf(key), snapshot));
  }

  account(accountId: string): AccountState | undefined {
    return this.#changed.get(accountId) ?? this.#accounts.get(accountId)?.state;
  }

  setAccount(state: AccountState): void {
    this.#changed.set(state.accountId, state);
  }

  readonly series = (key: string): WindowSeries => {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new JournaledSeries(seriesLimitsOf(key));
      this.#series.set(key, series);
    }
    return series;
  };

  readonly peek = (key: string): WindowSeries | undefined => this.#series.get(key);

  seriesChanged(): void {
    // The journal of each series already says what changed.
  }

  /** The version an account had at the load (0 when the store held nothing). */
  versionOf(accountId: string): number {
    return this.#accounts.get(accountId)?.version ?? 0;
  }

  /** New account states with the versions they replace. */
  changedAccounts(): { state: AccountState; expectedVersion: number }[] {
    return [...this.#changed.values()].map((state) => ({
      state,
      expectedVersion: this.versionOf(state.accountId),
    }));
  }

  /** Series changed by this batch, with their ops in order. */
  seriesChanges(): SeriesChange[] {
    const out: SeriesChange[] = [];
    for (const [key, series] of this.#series)
      if (series.ops.length > 0) out.push({ key, limits: seriesLimitsOf(key), ops: series.ops });
    return out;
  }
}
