import type {
  CaseRecord,
  DecidedAppend,
  DecisionFilter,
  EventLog,
  EventRecord,
  PriorOutcome,
  StoredEvent,
  VersionedAccountState,
} from '../storage/ports.ts';

/** Events kept in memory by default: a few seconds of a busy store's traffic. */
export const defaultTailEntriesMax = 8_192;

export interface LogTailStats {
  /** Pages answered from memory. */
  served: number;
  /** Pages read from the database (the reader was behind the tail, or the tail was incomplete). */
  fellBack: number;
}

/**
 * The event log with its newest events kept in memory, as this process appended them. Readers
 * that follow the log (the alert outbox, the sandbox store, backtests) read each event a moment
 * after it was written; without the tail each of them reads every row back from the database and
 * parses its JSON again, which costs about as much as writing it.
 *
 * Memory is never trusted blindly: before a page is answered from memory, the database counts
 * the events in the page's range, and only when it holds exactly as many as memory does (the log
 * is append-only and memory holds only committed events, so then exactly the same ones) is the
 * page served from memory. Anything else — a reader behind the
 * tail, an append still in flight, events written by another process (a cluster worker beside
 * this one, a tool), an append whose outcome was lost with its connection — falls back to the
 * database read. The count touches the primary key's index only, and returns one number.
 *
 * Readers get the objects the writer made: they must not change them (none does).
 */
export class TailedEventLog implements EventLog {
  readonly #inner: EventLog;
  readonly #entriesMax: number;
  /** Ascending by `seq`. */
  #entries: StoredEvent[] = [];
  readonly #stats: LogTailStats = { served: 0, fellBack: 0 };

  constructor(inner: EventLog, entriesMax = defaultTailEntriesMax) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1)
      throw new RangeError('entriesMax must be a positive integer');
    this.#inner = inner;
    this.#entriesMax = entriesMax;
  }

  get size(): number {
    return this.#entries.length;
  }

  stats(): LogTailStats {
    return { ...this.#stats };
  }

  findByIds(eventIds: readonly string[]): Promise<Map<string, PriorOutcome>> {
    return this.#inner.findByIds(eventIds);
  }

  async append(records: readonly EventRecord[], openedCases: readonly CaseRecord[]): Promise<number[]> {
    const seqs = await this.#inner.append(records, openedCases);
    const stored: StoredEvent[] = [];
    records.forEach((record, index) => {
      const seq = seqs[index];
      if (seq !== undefined && seq > 0) stored.push({ ...record, seq });
    });
    this.#remember(stored);
    return seqs;
  }

  async appendDecided(
    records: readonly EventRecord[],
    openedCases: readonly CaseRecord[],
    accounts: readonly VersionedAccountState[],
  ): Promise<DecidedAppend> {
    const written = await this.#inner.appendDecided(records, openedCases, accounts);
    const stored: StoredEvent[] = [];
    for (const record of records) {
      const seq = written.appended.get(record.eventId);
      if (seq !== undefined) stored.push({ ...record, seq });
    }
    this.#remember(stored);
    return written;
  }

  readAccount(accountId: string, page: { beforeSeq?: number; limit: number }): Promise<StoredEvent[]> {
    return this.#inner.readAccount(accountId, page);
  }

  readDecisions(filter: DecisionFilter): Promise<StoredEvent[]> {
    return this.#inner.readDecisions(filter);
  }

  countAfter(afterSeq: number, upToSeq?: number): Promise<number> {
    return this.#inner.countAfter(afterSeq, upToSeq);
  }

  async readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const entries = this.#entries;
    const from = firstAfter(entries, afterSeq);
    // A reader from before the tail's first event is behind it: read the database without
    // counting first (counting from far back would cost as much as the read it is meant to save).
    const within = afterSeq >= (entries[0]?.seq ?? Number.POSITIVE_INFINITY) - 1;
    if (limit >= 1 && within && from < entries.length) {
      const page = entries.slice(from, from + limit);
      // A full page is checked up to its last event; a page that ends with the tail is checked
      // to the end of the log, so that nothing the tail lacks is left out after it either.
      const full = page.length === limit;
      const last = page.at(-1)?.seq;
      const counted = await this.#inner.countAfter(afterSeq, full ? last : undefined);
      if (counted === page.length) {
        this.#stats.served += 1;
        return page;
      }
    }
    this.#stats.fellBack += 1;
    return this.#inner.readAfter(afterSeq, limit);
  }

  /** Adds appended events in sequence order, forgetting the oldest beyond the bound. */
  #remember(stored: StoredEvent[]): void {
    if (stored.length === 0) return;
    stored.sort((a, b) => a.seq - b.seq);
    const entries = this.#entries;
    const newest = entries.at(-1)?.seq ?? 0;
    const first = stored[0]?.seq ?? 0;
    if (first > newest) {
      for (const event of stored) entries.push(event);
    } else {
      // Appends that resolved out of order (concurrent writers): merge, keeping one per seq.
      const merged = new Map<number, StoredEvent>();
      for (const event of entries) merged.set(event.seq, event);
      for (const event of stored) merged.set(event.seq, event);
      this.#entries = [...merged.values()].sort((a, b) => a.seq - b.seq);
    }
    const excess = this.#entries.length - this.#entriesMax;
    // Trimmed in steps of a quarter, so the array is not shifted on every append.
    if (excess > 0) this.#entries.splice(0, excess + Math.floor(this.#entriesMax / 4));
  }
}

/** Index of the first entry with `seq > afterSeq`. */
function firstAfter(entries: readonly StoredEvent[], afterSeq: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((entries[mid]?.seq ?? 0) <= afterSeq) low = mid + 1;
    else high = mid;
  }
  return low;
}
