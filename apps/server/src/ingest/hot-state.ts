import type { BulwarkEvent } from '@bulwark/contracts';
import type { HotState } from '../risk/domain/decider.ts';
import { seriesKeysOf, seriesLimitsOf } from '../risk/domain/engine.ts';
import { defaultRiskPolicy, type RiskPolicy } from '../risk/domain/policy.ts';
import { copyLoginState } from '../risk/domain/login/state.ts';
import type { AccountState } from '../risk/domain/state.ts';
import { WindowSeries } from '../risk/domain/velocity.ts';
import type { SeriesRecord, StateStore } from '../storage/ports.ts';

export interface HotStateLimits {
  /** Accounts kept in memory; clean ones beyond this are forgotten, least recently used first. */
  readonly accountsMax: number;
  /** Velocity series kept in memory, likewise. */
  readonly seriesMax: number;
}

/** What a batch needs that memory does not hold (see `HotStateCache.missing`). */
export interface MissingState {
  readonly accountIds: readonly string[];
  readonly seriesKeys: readonly string[];
}

export interface DirtySnapshot {
  accounts: AccountState[];
  series: SeriesRecord[];
}

/** A series as the hot state holds it, marked when used (for eviction). */
class CachedSeries extends WindowSeries {
  usedInRound = 0;
}

/**
 * The in-memory hot state: accounts and velocity series, loaded from the state store on a miss,
 * changed in memory by the decider and written behind by checkpoints. Entries changed since the
 * last checkpoint (dirty) or being written (flushing) are never evicted, so memory never holds
 * something newer than the database without keeping it.
 */
export class HotStateCache implements HotState {
  readonly #limits: HotStateLimits;
  readonly #store: StateStore | undefined;
  /** `null` marks an account known to have no stored state. */
  readonly #accounts = new Map<string, AccountState | null>();
  readonly #series = new Map<string, CachedSeries>();
  /** Moves on at every eviction: a series used in the current round gets a second chance. */
  #round = 1;
  #dirtyAccounts = new Set<string>();
  #dirtySeries = new Set<string>();
  #flushingAccounts = new Set<string>();
  #flushingSeries = new Set<string>();
  /** Changes whenever entries leave memory (eviction, reset), so a caller knows loads may be stale. */
  #generation = 0;

  /** Which series an event needs depends on the policy (login keys use IP and user-agent data). */
  readonly #policy: RiskPolicy;

  constructor(limits: HotStateLimits, store?: StateStore, policy: RiskPolicy = defaultRiskPolicy()) {
    this.#limits = limits;
    this.#store = store;
    this.#policy = policy;
  }

  get accountCount(): number {
    return this.#accounts.size;
  }
  get seriesCount(): number {
    return this.#series.size;
  }
  /** Moves on whenever something held in memory is forgotten (`evict`, `reset`). */
  get generation(): number {
    return this.#generation;
  }
  get dirtyCount(): number {
    return this.#dirtyAccounts.size + this.#dirtySeries.size;
  }

  account(accountId: string): AccountState | undefined {
    const state = this.#accounts.get(accountId);
    if (state === undefined) return undefined;
    if (this.#accounts.size > this.#limits.accountsMax / 2) touch(this.#accounts, accountId, state);
    return state ?? undefined;
  }

  setAccount(state: AccountState): void {
    // Like a read, the move to the recent end is only worth it once eviction may come; below
    // that, `set` replaces the value in place.
    if (this.#accounts.size > this.#limits.accountsMax / 2) this.#accounts.delete(state.accountId);
    this.#accounts.set(state.accountId, state);
    if (this.#store !== undefined) this.#dirtyAccounts.add(state.accountId);
  }

  /** Bound once (an arrow property), so callers can pass it around without a closure per event. */
  readonly series = (key: string): WindowSeries => {
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new CachedSeries(seriesLimitsOf(key));
      this.#series.set(key, series);
    }
    // Marked, not moved: an event reads some fifteen series, and moving each to the map's recent
    // end (delete, then set) cost more than the lookup itself once the map was half full.
    series.usedInRound = this.#round;
    return series;
  };

  /** Bound once, like `series`. Reading does not create: a series only read is not kept. */
  readonly peek = (key: string): WindowSeries | undefined => {
    const series = this.#series.get(key);
    if (series !== undefined) series.usedInRound = this.#round;
    return series;
  };

  /** The series under `key` if held, not counted as a use (it does not keep it from eviction). */
  inspect(key: string): WindowSeries | undefined {
    return this.#series.get(key);
  }

  seriesChanged(keys: readonly string[]): void {
    // Without a store nothing is written behind (replay, backtests): nothing to remember.
    if (this.#store === undefined) return;
    for (const key of keys) this.#dirtySeries.add(key);
  }

  /** Loads from the store whatever these events need and memory does not hold. */
  async ensureLoaded(events: readonly BulwarkEvent[]): Promise<void> {
    if (this.#store === undefined) return;
    const missing = this.missing(events);
    if (missing.accountIds.length === 0 && missing.seriesKeys.length === 0) return;
    const [accounts, series] = await Promise.all([
      this.#store.loadAccounts(missing.accountIds),
      this.#store.loadSeries(missing.seriesKeys),
    ]);
    this.install(missing, accounts, series);
  }

  /**
   * The accounts and series these events need that memory does not hold, to be read and handed
   * to `install` (the ingest cycle reads them together with other things, in one round trip).
   * Without a store nothing is missing: memory is all there is.
   */
  missing(events: readonly BulwarkEvent[]): MissingState {
    if (this.#store === undefined) return { accountIds: [], seriesKeys: [] };
    const accountIds = new Set<string>();
    const keys = new Set<string>();
    for (const event of events) {
      if (event.accountId !== undefined && !this.#accounts.has(event.accountId))
        accountIds.add(event.accountId);
      for (const key of seriesKeysOf(event, this.#policy)) if (!this.#series.has(key)) keys.add(key);
    }
    return { accountIds: [...accountIds], seriesKeys: [...keys] };
  }

  /**
   * Takes in what was read for `missing`. What memory came to hold meanwhile is newer and kept;
   * what was asked for and not stored is known to be empty and kept as such (`null` for an
   * account, an empty series), so the next batch does not ask again.
   */
  install(missing: MissingState, accounts: readonly AccountState[], series: readonly SeriesRecord[]): void {
    for (const state of accounts)
      if (!this.#accounts.has(state.accountId)) this.#accounts.set(state.accountId, state);
    for (const id of missing.accountIds) if (!this.#accounts.has(id)) this.#accounts.set(id, null);
    for (const record of series) {
      if (!this.#series.has(record.key))
        this.#series.set(record.key, new CachedSeries(seriesLimitsOf(record.key), record.snapshot));
    }
    for (const key of missing.seriesKeys)
      if (!this.#series.has(key)) this.#series.set(key, new CachedSeries(seriesLimitsOf(key)));
  }

  /**
   * Forgets clean entries beyond the limits, least recently used first. Without a store nothing
   * is tracked as dirty and nothing could be loaded again, so nothing is forgotten.
   */
  evict(): void {
    if (this.#store === undefined) return;
    if (this.#accounts.size <= this.#limits.accountsMax && this.#series.size <= this.#limits.seriesMax)
      return;
    this.#generation += 1;
    evictClean(
      this.#accounts,
      this.#limits.accountsMax,
      (id) => this.#dirtyAccounts.has(id) || this.#flushingAccounts.has(id),
    );
    evictSecondChance(
      this.#series,
      this.#limits.seriesMax,
      (key) => this.#dirtySeries.has(key) || this.#flushingSeries.has(key),
      this.#round,
    );
    this.#round += 1;
  }

  /** Takes what changed since the last checkpoint, to be written; call `flushed` afterwards. */
  takeDirty(): DirtySnapshot {
    const accounts: AccountState[] = [];
    for (const id of this.#dirtyAccounts) {
      const state = this.#accounts.get(id);
      // Account states are replaced, never changed in place, except their login state (see
      // `evolveLogin`): a copy of that makes the snapshot stable while it is being written.
      if (state !== undefined && state !== null)
        accounts.push(state.login === undefined ? state : { ...state, login: copyLoginState(state.login) });
    }
    const series: SeriesRecord[] = [];
    for (const key of this.#dirtySeries) {
      const value = this.#series.get(key);
      if (value !== undefined) series.push({ key, snapshot: value.snapshot() });
    }
    this.#flushingAccounts = this.#dirtyAccounts;
    this.#flushingSeries = this.#dirtySeries;
    this.#dirtyAccounts = new Set();
    this.#dirtySeries = new Set();
    return { accounts, series };
  }

  /** Ends a write started by `takeDirty`; on failure its entries become dirty again. */
  flushed(succeeded: boolean): void {
    if (!succeeded) {
      for (const id of this.#flushingAccounts) this.#dirtyAccounts.add(id);
      for (const key of this.#flushingSeries) this.#dirtySeries.add(key);
    }
    this.#flushingAccounts = new Set();
    this.#flushingSeries = new Set();
  }

  /** Forgets everything, dirty or not: only for rebuilding from the store and the log. */
  reset(): void {
    this.#generation += 1;
    this.#accounts.clear();
    this.#series.clear();
    this.#dirtyAccounts = new Set();
    this.#dirtySeries = new Set();
    this.#flushingAccounts = new Set();
    this.#flushingSeries = new Set();
  }
}

/**
 * Moves an entry to the most recent end. Only done once a map is half full: below that nothing
 * is evicted, and the reordering would cost every read for nothing.
 */
function touch<V>(entries: Map<string, V>, key: string, value: V): void {
  entries.delete(key);
  entries.set(key, value);
}

/**
 * Forgets clean series beyond `max`, oldest first, except that a series used since the last
 * eviction (`usedInRound === round`) is moved to the recent end instead, once (a second chance):
 * the approximate LRU of the CLOCK algorithm, without moving entries on every read.
 */
function evictSecondChance(
  entries: Map<string, CachedSeries>,
  max: number,
  pinned: (key: string) => boolean,
  round: number,
): void {
  let excess = entries.size - max;
  // Entries moved to the end come round again in this same loop, without their mark.
  for (const [key, series] of entries) {
    if (excess <= 0) break;
    if (pinned(key)) continue;
    entries.delete(key);
    if (series.usedInRound === round) {
      series.usedInRound = 0;
      entries.set(key, series);
      continue;
    }
    excess -= 1;
  }
}

function evictClean<V>(entries: Map<string, V>, max: number, pinned: (key: string) => boolean): void {
  if (entries.size <= max) return;
  let excess = entries.size - max;
  for (const key of entries.keys()) {
    if (excess <= 0) break;
    if (pinned(key)) continue;
    entries.delete(key);
    excess -= 1;
  }
}
