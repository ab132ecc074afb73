/**
 * The sliding-window primitive every velocity feature uses: one series of timestamped entries per
 * key (an account, an IP, a card…). Queries are exact over `(nowMs - windowMs, nowMs]` as long as
 * the series has not dropped entries that fall inside the window; memory is bounded by
 * `entriesMax` per series and by `retentionMs` of event time.
 *
 * Entries may arrive out of order (event time is the store's clock): they are kept sorted.
 */
export interface SeriesLimits {
  /** Entries older than the newest entry minus this are forgotten. */
  readonly retentionMs: number;
  /** At most this many entries per series; the oldest go first. */
  readonly entriesMax: number;
}

export interface WindowStats {
  count: number;
  sum: number;
  /** False when entries inside the window were dropped by `entriesMax`: count and sum are then lower bounds. */
  exact: boolean;
}

/** Serialized form: parallel arrays keep it compact in JSON. */
export interface SeriesSnapshot {
  t: number[];
  v: number[];
  /** Optional labels (for distinct counts), same length as `t` when present. */
  k?: (string | null)[];
  /** Newest timestamp among dropped entries, when any were dropped for lack of room. */
  droppedUpToMs?: number;
}

/** What reading a series may ask: deciding an event reads series it must not create or change. */
export type ReadableSeries = Pick<
  WindowSeries,
  'size' | 'stats' | 'sum' | 'count' | 'distinct' | 'hasLabel' | 'distinctIncluding' | 'newestMs'
>;

export class WindowSeries {
  readonly #limits: SeriesLimits;
  #times: number[] = [];
  #values: number[] = [];
  #labels: (string | null)[] | undefined;
  #droppedUpToMs: number | undefined;
  /**
   * Entries before this index are dropped but not yet cut out of the arrays: a full series drops
   * its oldest entry on every record, and cutting it out each time moved the whole array. They
   * are cut out once they are half of it (amortized constant work per drop).
   */
  #start = 0;
  /**
   * Moves on whenever entries or labels change (not when a bucket's value is added to): the
   * last distinct count is reused while it and the window's bounds are the same. A busy source
   * (an AS under stuffing) is asked for its distinct accounts on every sign-in from it, and its
   * series changes only on failures.
   */
  #version = 0;
  /** The last two distinct counts (detectors ask two windows of one series: stuffing, spraying). */
  #distinctMemo: { version: number; from: number; to: number; count: number }[] | undefined;

  constructor(limits: SeriesLimits, snapshot?: SeriesSnapshot) {
    if (!(limits.retentionMs > 0) || !Number.isInteger(limits.entriesMax) || limits.entriesMax < 1) {
      throw new RangeError('retentionMs must be positive and entriesMax a positive integer');
    }
    this.#limits = limits;
    if (snapshot !== undefined) {
      this.#times = [...snapshot.t];
      this.#values = [...snapshot.v];
      // Snapshots written before labels were sized right carry one trailing null too many.
      this.#labels = snapshot.k === undefined ? undefined : snapshot.k.slice(0, snapshot.t.length);
      this.#droppedUpToMs = snapshot.droppedUpToMs;
    }
  }

  get size(): number {
    return this.#times.length - this.#start;
  }

  /** First index (not before the dropped ones) whose time is greater than `value`. */
  #upper(value: number): number {
    return upperBound(this.#times, value, this.#start);
  }

  /** Adds one entry at `atMs` with `value` (an amount, or 1) and an optional label. */
  record(atMs: number, value = 1, label?: string): void {
    this.#version += 1;
    if (this.#times.length === 0) {
      // The first entry: arrays of one. Pushing onto an empty array reserves room for seventeen,
      // and most series (an address, a device, a week's count) never get a second entry.
      this.#times = [atMs];
      this.#values = [value];
      if (label !== undefined || this.#labels !== undefined) this.#labels = [label ?? null];
      this.#trim();
      return;
    }
    const index = this.#upper(atMs);
    // Entries nearly always arrive in order: appending is much cheaper than splicing.
    if (index === this.#times.length) {
      this.#times.push(atMs);
      this.#values.push(value);
    } else {
      this.#times.splice(index, 0, atMs);
      this.#values.splice(index, 0, value);
    }
    // The first label: every earlier entry (all but the one just inserted) is unlabelled.
    if (label !== undefined && this.#labels === undefined)
      this.#labels = new Array<string | null>(this.#times.length - 1).fill(null);
    const labels = this.#labels;
    if (labels !== undefined) {
      if (index === labels.length) labels.push(label ?? null);
      else labels.splice(index, 0, label ?? null);
    }
    this.#trim();
  }

  /**
   * Adds `value` to the one unlabelled entry at exactly `atMs` (a counting bucket), or records a
   * new entry with `value` when there is none. The same as taking the bucket's entry back and
   * recording it again with the new sum, without moving the arrays.
   */
  addToBucket(atMs: number, value = 1): void {
    const from = this.#upper(atMs - 1);
    const to = this.#upper(atMs);
    if (to - from === 1 && this.#times[from] === atMs && (this.#labels?.[from] ?? null) === null) {
      this.#values[from] = (this.#values[from] ?? 0) + value;
      this.#trim();
      return;
    }
    const current = this.stats(atMs, 1);
    if (current.count > 0) this.remove(atMs, current.sum);
    this.record(atMs, current.sum + value);
  }

  /** Removes one entry equal to (atMs, value, label), if present: used to take back a provisional record. */
  remove(atMs: number, value = 1, label?: string): boolean {
    for (let i = this.#upper(atMs) - 1; i >= this.#start && this.#times[i] === atMs; i -= 1) {
      if (this.#values[i] === value && (this.#labels?.[i] ?? undefined) === label) {
        this.#version += 1;
        this.#times.splice(i, 1);
        this.#values.splice(i, 1);
        this.#labels?.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /** Count and sum of entries with `nowMs - windowMs < t <= nowMs`. */
  stats(nowMs: number, windowMs: number): WindowStats {
    const from = this.#upper(nowMs - windowMs);
    const to = this.#upper(nowMs);
    let sum = 0;
    for (let i = from; i < to; i += 1) sum += this.#values[i] ?? 0;
    return { count: to - from, sum, exact: this.#isExactFrom(nowMs - windowMs) };
  }

  /** Sum of entries with `nowMs - windowMs < t <= nowMs` (`stats(…).sum` without allocating). */
  sum(nowMs: number, windowMs: number): number {
    const from = this.#upper(nowMs - windowMs);
    const to = this.#upper(nowMs);
    let sum = 0;
    for (let i = from; i < to; i += 1) sum += this.#values[i] ?? 0;
    return sum;
  }

  /** Number of entries with `nowMs - windowMs < t <= nowMs` (`stats(…).count` without the sum). */
  count(nowMs: number, windowMs: number): number {
    return this.#upper(nowMs) - this.#upper(nowMs - windowMs);
  }

  /** Number of distinct labels among entries in the window (unlabelled entries are not counted). */
  distinct(nowMs: number, windowMs: number): { count: number; exact: boolean } {
    const from = this.#upper(nowMs - windowMs);
    const to = this.#upper(nowMs);
    const exact = this.#isExactFrom(nowMs - windowMs);
    for (const memo of this.#distinctMemo ?? []) {
      if (memo.version === this.#version && memo.from === from && memo.to === to)
        return { count: memo.count, exact };
    }
    const seen = new Set<string>();
    for (let i = from; i < to; i += 1) {
      const label = this.#labels?.[i];
      if (label !== undefined && label !== null) seen.add(label);
    }
    // Made on first use: most series (one value's weekly counts) are never asked for labels.
    const memos = (this.#distinctMemo ??= []);
    if (memos.length >= 2) memos.shift();
    memos.push({ version: this.#version, from, to, count: seen.size });
    return { count: seen.size, exact };
  }

  /** Whether an entry labelled `label` lies in the window (for "distinct, this one included"). */
  hasLabel(nowMs: number, windowMs: number, label: string): boolean {
    if (this.#labels === undefined) return false;
    const from = this.#upper(nowMs - windowMs);
    const to = this.#upper(nowMs);
    for (let i = from; i < to; i += 1) if (this.#labels[i] === label) return true;
    return false;
  }

  /** Distinct labels in the window, counting `label` too whether or not it is there ("this one included"). */
  distinctIncluding(nowMs: number, windowMs: number, label: string): number {
    const from = this.#upper(nowMs - windowMs);
    const to = this.#upper(nowMs);
    const seen = new Set<string>([label]);
    for (let i = from; i < to; i += 1) {
      const other = this.#labels?.[i];
      if (other !== undefined && other !== null) seen.add(other);
    }
    return seen.size;
  }

  /** Newest entry time, or undefined when empty. */
  newestMs(): number | undefined {
    return this.size === 0 ? undefined : this.#times.at(-1);
  }

  snapshot(): SeriesSnapshot {
    const start = this.#start;
    const out: SeriesSnapshot = { t: this.#times.slice(start), v: this.#values.slice(start) };
    if (this.#labels !== undefined) out.k = this.#labels.slice(start);
    if (this.#droppedUpToMs !== undefined) out.droppedUpToMs = this.#droppedUpToMs;
    return out;
  }

  #isExactFrom(windowStartMs: number): boolean {
    return this.#droppedUpToMs === undefined || this.#droppedUpToMs <= windowStartMs;
  }

  #trim(): void {
    const newest = this.newestMs();
    if (newest === undefined) return;
    // Forget what fell out of retention (measured from the newest entry, so the result does not
    // depend on when queries happen).
    const expired = this.#upper(newest - this.#limits.retentionMs) - this.#start;
    if (expired > 0) this.#drop(expired, false);
    const excess = this.size - this.#limits.entriesMax;
    if (excess > 0) this.#drop(excess, true);
  }

  /** Drops the `count` oldest entries. */
  #drop(count: number, forLackOfRoom: boolean): void {
    this.#version += 1;
    if (forLackOfRoom) {
      const newestDropped = this.#times[this.#start + count - 1];
      if (newestDropped !== undefined) {
        this.#droppedUpToMs = Math.max(this.#droppedUpToMs ?? newestDropped, newestDropped);
      }
    }
    this.#start += count;
    if (this.#start * 2 >= this.#times.length) {
      const cut = this.#start;
      this.#times.splice(0, cut);
      this.#values.splice(0, cut);
      this.#labels?.splice(0, cut);
      this.#start = 0;
    }
  }
}

/** First index from `low` on whose value is greater than `value` in an ascending array. */
function upperBound(sorted: readonly number[], value: number, from = 0): number {
  let low = from;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] ?? 0) <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
