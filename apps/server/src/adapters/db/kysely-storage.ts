import { inKeys } from './keys.ts';
import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { CompiledQuery, sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { AccountState } from '../../risk/domain/state.ts';
import { TailedEventLog } from '../../ingest/log-tail.ts';
import type { SeriesSnapshot } from '../../risk/domain/velocity.ts';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  BatchReader,
  BatchReadRequest,
  BatchReadResult,
  CaseRecord,
  CaseStatus,
  CaseStore,
  DecidedAppend,
  DecisionFilter,
  EventLog,
  EventRecord,
  PriorOutcome,
  SeriesRecord,
  StateStore,
  Storage,
  StoredEvent,
  VersionedAccountState,
} from '../../storage/ports.ts';
import { KyselyConsoleStore } from './console-store.ts';
import { KyselyRunStore, startRuns } from './containment-store.ts';
import type { DatabaseHandle } from './database.ts';
import type { CasesTable, Database } from './schema.ts';
import { kyselyVerificationStore } from './verification-store.ts';
import { KyselyRuleSetStore } from './rule-set-store.ts';

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface EventRow {
  seq: string | number;
  event_id: string;
  account_id: string | null;
  type: string;
  at: Date;
  received_at: Date;
  decided_at: Date;
  content_hash: string;
  payload: unknown;
  decision: unknown;
  policy_version: string;
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: Number(row.seq),
    eventId: row.event_id,
    accountId: row.account_id ?? undefined,
    type: row.type as BulwarkEvent['type'],
    atMs: row.at.getTime(),
    receivedAtMs: row.received_at.getTime(),
    decidedAtMs: row.decided_at.getTime(),
    contentHash: row.content_hash,
    event: row.payload as BulwarkEvent,
    decision: row.decision as Decision,
    policyVersion: row.policy_version,
  };
}

function toCase(row: Selectable<CasesTable>): CaseRecord {
  return {
    caseId: row.case_id,
    accountId: row.account_id,
    status: row.status as CaseStatus,
    reportedBy: row.reported_by,
    openedAtMs: row.opened_at.getTime(),
    sinceMs: row.since === null ? undefined : row.since.getTime(),
    openedByEventId: row.opened_by_event_id,
  };
}

/** The `cases` row of a case as it opens. */
function caseRow(c: CaseRecord) {
  return {
    case_id: c.caseId,
    account_id: c.accountId,
    status: c.status,
    reported_by: c.reportedBy,
    opened_at: new Date(c.openedAtMs),
    since: c.sinceMs === undefined ? null : new Date(c.sinceMs),
    opened_by_event_id: c.openedByEventId,
    updated_at: new Date(c.openedAtMs),
  };
}

async function insertCases(trx: Transaction<Database>, cases: readonly CaseRecord[]): Promise<void> {
  if (cases.length === 0) return;
  await trx.insertInto('cases').values(cases.map(caseRow)).execute();
}

/** The `events` rows of `records` for jsonb_to_recordset, each with its position in `records`. */
function eventRows(records: readonly EventRecord[]): object[] {
  return records.map((r, position) => ({
    position,
    event_id: r.eventId,
    account_id: r.accountId ?? null,
    type: r.type,
    at: new Date(r.atMs).toISOString(),
    received_at: new Date(r.receivedAtMs).toISOString(),
    decided_at: new Date(r.decidedAtMs).toISOString(),
    content_hash: r.contentHash,
    payload: r.event,
    decision: r.decision,
    outcome: r.decision.decision,
    score: r.decision.score,
    policy_version: r.policyVersion,
  }));
}

/** Inserts the rows of a jsonb_to_recordset parameter in their order (no conflict clause). */
const insertEventRows = sql`
    insert into events (event_id, account_id, type, at, received_at, decided_at, content_hash, payload,
                        decision, outcome, score, policy_version)
    select e.event_id, e.account_id, e.type, e.at::timestamptz, e.received_at::timestamptz,
           e.decided_at::timestamptz, e.content_hash, e.payload, e.decision, e.outcome, e.score, e.policy_version`;

/** The record type of `eventRows` for jsonb_to_recordset. */
const eventRowType = sql`e(position integer, event_id text, account_id text, type text, at text, received_at text,
              decided_at text, content_hash text, payload jsonb, decision jsonb, outcome text, score smallint,
              policy_version text)`;

/**
 * Inserts records in their order and answers the sequence number given to each, by event id.
 * All rows travel as one JSON parameter that the server expands (jsonb_to_recordset): one
 * statement, one bind value, however many events, and far less client work than bind lists. With
 * `skipStored` an id already stored (or repeated in `records`) is skipped instead of failing.
 */
async function insertEvents(
  db: Kysely<Database>,
  records: readonly EventRecord[],
  options: { skipStored: boolean },
): Promise<Map<string, number>> {
  if (records.length === 0) return new Map();
  const onConflict = options.skipStored ? sql`on conflict (event_id) do nothing` : sql``;
  const result = await sql<{ event_id: string; seq: string | number }>`
    ${insertEventRows}
    from jsonb_to_recordset(${JSON.stringify(eventRows(records))}::jsonb) as ${eventRowType}
    order by e.position
    ${onConflict}
    returning event_id, seq`.execute(db);
  return new Map(result.rows.map((row) => [row.event_id, Number(row.seq)]));
}

/**
 * Inserts the cases not stored yet and answers their ids. A case already stored (a redelivery)
 * or one for an account that already has another case open is skipped rather than failing the
 * write: the event that opened it is in the log either way, and one open case per account holds.
 */
async function insertNewCases(
  trx: Transaction<Database>,
  cases: readonly CaseRecord[],
): Promise<Set<string>> {
  if (cases.length === 0) return new Set();
  const rows = await trx
    .insertInto('cases')
    .values(cases.map(caseRow))
    .onConflict((oc) => oc.doNothing())
    .returning('case_id')
    .execute();
  return new Set(rows.map((row) => row.case_id));
}

/**
 * The newest state of each account in `accounts`, as `accounts` rows for jsonb_to_recordset. Only
 * the newest of several states of one account is kept: one statement may not change a row twice.
 */
function accountRows(accounts: readonly VersionedAccountState[]): object[] {
  const newest = new Map<string, VersionedAccountState>();
  for (const account of accounts) {
    const held = newest.get(account.state.accountId);
    if (held === undefined || held.version < account.version) newest.set(account.state.accountId, account);
  }
  return [...newest.values()].map(({ state, version }) => ({
    account_id: state.accountId,
    // Kept as the JSON text the server wrote (0010_compact_checkpoints): a string inside the parameter.
    state: JSON.stringify(state),
    first_seen_at: new Date(state.firstSeenAt).toISOString(),
    last_seen_at: new Date(state.lastSeenAt).toISOString(),
    risk: state.risk,
    open_case_id: state.openCaseId ?? null,
    version,
  }));
}

/**
 * Writes the rows of a jsonb_to_recordset parameter (`accountRows`) unless the stored row holds
 * the same or a newer version; the statement answers the accounts written.
 */
const upsertNewerAccountRows = (rows: readonly object[]) => sql`
    insert into accounts (account_id, state, first_seen_at, last_seen_at, risk, open_case_id, updated_at, version)
    select a.account_id, a.state, a.first_seen_at::timestamptz, a.last_seen_at::timestamptz, a.risk,
           a.open_case_id, now(), a.version
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
         as a(account_id text, state text, first_seen_at text, last_seen_at text, risk smallint,
              open_case_id text, version bigint)
    on conflict (account_id) do update set
      state = excluded.state, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
      risk = excluded.risk, open_case_id = excluded.open_case_id, updated_at = excluded.updated_at,
      version = excluded.version
    where accounts.version is null or accounts.version < excluded.version
    returning account_id`;

/**
 * Held by every `appendDecided` transaction from before its sequence numbers are drawn until it
 * commits, so appends commit in sequence order. Readers follow the log by sequence (the alert
 * outbox, the sandbox store, backfills); if a later number could commit first, a reader would move
 * past an earlier one that became visible only afterwards, and never see it. Workers append
 * batches of many partitions at once, so this order has to be made; the single-process writer
 * has it by construction.
 */
const appendOrderLockId = 0x42756c78;

/**
 * Appends the records not stored yet, in their order, and writes each account's newest state
 * unless a newer one is stored: both in one statement (data-modifying CTEs, after the log order
 * lock), so a batch without cases costs one round trip and no transaction, and is still written
 * all or nothing.
 */
async function appendEventsAndAccounts(
  db: Kysely<Database>,
  records: readonly EventRecord[],
  accounts: readonly VersionedAccountState[],
): Promise<{ appended: Map<string, number>; updatedAccounts: string[] }> {
  const result = await sql<{
    event_id: string | null;
    seq: string | number | null;
    account_id: string | null;
  }>`
    with log_order as materialized (select pg_advisory_xact_lock(${appendOrderLockId}) as held),
    appended as (
      ${insertEventRows}
      from jsonb_to_recordset(${JSON.stringify(eventRows(records))}::jsonb) as ${eventRowType}
      cross join log_order
      order by e.position
      on conflict (event_id) do nothing
      returning event_id, seq
    ), updated as (${upsertNewerAccountRows(accountRows(accounts))})
    select event_id, seq, null::text as account_id from appended
    union all
    select null, null, account_id from updated`.execute(db);
  const appended = new Map<string, number>();
  const updatedAccounts: string[] = [];
  for (const row of result.rows) {
    if (row.event_id !== null) appended.set(row.event_id, Number(row.seq));
    else if (row.account_id !== null) updatedAccounts.push(row.account_id);
  }
  return { appended, updatedAccounts };
}

class KyselyEventLog implements EventLog {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async findByIds(eventIds: readonly string[]): Promise<Map<string, PriorOutcome>> {
    const found = new Map<string, PriorOutcome>();
    for (const part of chunks(eventIds, 5000)) {
      if (part.length === 0) continue;
      const rows = await this.#db
        .selectFrom('events')
        .select(['event_id', 'content_hash', 'decision'])
        .where('event_id', 'in', inKeys(part))
        .execute();
      for (const row of rows)
        found.set(row.event_id, { contentHash: row.content_hash, decision: row.decision as Decision });
    }
    return found;
  }

  async append(records: readonly EventRecord[], openedCases: readonly CaseRecord[]): Promise<number[]> {
    if (records.length === 0 && openedCases.length === 0) return [];
    const write = async (db: Kysely<Database>): Promise<number[]> => {
      const seqById = await insertEvents(db, records, { skipStored: false });
      return records.map((r) => seqById.get(r.eventId) ?? 0);
    };
    // One statement is atomic by itself; more than one needs a transaction.
    if (openedCases.length === 0) return write(this.#db);
    return this.#db.transaction().execute(async (trx) => {
      const seqs = await write(trx);
      await insertCases(trx, openedCases);
      await startRuns(trx, openedCases);
      return seqs;
    });
  }

  async appendDecided(
    records: readonly EventRecord[],
    openedCases: readonly CaseRecord[],
    accounts: readonly VersionedAccountState[],
  ): Promise<DecidedAppend> {
    if (records.length === 0 && openedCases.length === 0 && accounts.length === 0)
      return { appended: new Map(), openedCases: [], updatedAccounts: [] };
    // Without cases one statement does it all, atomic by itself.
    if (openedCases.length === 0) {
      const written = await appendEventsAndAccounts(this.#db, records, accounts);
      return { ...written, openedCases: [] };
    }
    return this.#db.transaction().execute(async (trx) => {
      const written = await appendEventsAndAccounts(trx, records, accounts);
      const inserted = await insertNewCases(trx, openedCases);
      // Only the cases inserted now start a run: a redelivered case already has its own.
      await startRuns(
        trx,
        openedCases.filter((c) => inserted.has(c.caseId)),
      );
      return { ...written, openedCases: [...inserted] };
    });
  }

  async readAccount(accountId: string, page: { beforeSeq?: number; limit: number }): Promise<StoredEvent[]> {
    let query = this.#db.selectFrom('events').selectAll().where('account_id', '=', accountId);
    if (page.beforeSeq !== undefined) query = query.where('seq', '<', page.beforeSeq as never);
    const rows = await query.orderBy('seq', 'desc').limit(page.limit).execute();
    return rows.map(toStoredEvent);
  }

  async readAfter(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const rows = await this.#db
      .selectFrom('events')
      .selectAll()
      .where('seq', '>', afterSeq as never)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toStoredEvent);
  }

  async countAfter(afterSeq: number, upToSeq?: number): Promise<number> {
    let query = this.#db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('seq', '>', afterSeq as never);
    if (upToSeq !== undefined) query = query.where('seq', '<=', upToSeq as never);
    const row = await query.executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  async readDecisions(filter: DecisionFilter): Promise<StoredEvent[]> {
    let query = this.#db.selectFrom('events').selectAll();
    if (filter.decision !== undefined) query = query.where('outcome', '=', filter.decision);
    if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
    if (filter.reasonCode !== undefined) {
      const wanted = JSON.stringify([{ code: filter.reasonCode }]);
      query = query.where(sql<boolean>`decision -> 'reasons' @> ${wanted}::jsonb`);
    }
    if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq as never);
    const rows = await query.orderBy('seq', 'desc').limit(filter.limit).execute();
    return rows.map(toStoredEvent);
  }
}

/** Items per slice when serialising a checkpoint. */
const checkpointSliceItems = 250;
/** Rows per checkpoint statement (each row is a few bind values; PostgreSQL allows 65,535). */
const checkpointStatementRows = 1000;

/**
 * `toRow(item)` for every item, a slice at a time with a turn for pending I/O between slices: a
 * checkpoint of thousands of accounts must not stall the requests being answered. Items are
 * immutable snapshots (states are replaced, never changed), so yielding is safe.
 */
async function rowsInSlices<T, R>(items: readonly T[], toRow: (item: T) => R): Promise<R[]> {
  const rows: R[] = [];
  for (let start = 0; start < items.length; start += checkpointSliceItems) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const end = Math.min(items.length, start + checkpointSliceItems);
    for (let i = start; i < end; i += 1) rows.push(toRow(items[i] as T));
  }
  return rows;
}

/**
 * `insert … values (…), (…) …` with one bind value per cell, in statements of at most
 * `checkpointStatementRows` rows. Documents travel as plain text parameters into text columns:
 * PostgreSQL stores them as they are, with no JSON parsing on either side of the wire.
 */
async function insertRows(
  db: Kysely<Database> | Transaction<Database>,
  head: string,
  placeholders: readonly string[],
  rows: readonly (readonly unknown[])[],
  tail: string,
): Promise<void> {
  // Each `?` takes the row's next value; other cells (`now()`) are SQL as written. The cells are
  // split at their `?` once: a statement of a thousand rows is then built by appending.
  const cells = placeholders.map((cell) => {
    const at = cell.indexOf('?');
    return at < 0
      ? { before: cell, after: undefined }
      : { before: cell.slice(0, at), after: cell.slice(at + 1) };
  });
  for (let start = 0; start < rows.length; start += checkpointStatementRows) {
    const end = Math.min(rows.length, start + checkpointStatementRows);
    const parameters: unknown[] = [];
    let text = `${head} values `;
    for (let r = start; r < end; r += 1) {
      const row = rows[r] as readonly unknown[];
      text += r === start ? '(' : ', (';
      let next = 0;
      for (let c = 0; c < cells.length; c += 1) {
        const { before, after } = cells[c] as { before: string; after: string | undefined };
        if (c > 0) text += ', ';
        if (after === undefined) {
          text += before;
          continue;
        }
        parameters.push(row[next]);
        next += 1;
        text += `${before}$${String(parameters.length)}${after}`;
      }
      text += ')';
    }
    await db.executeQuery(CompiledQuery.raw(`${text} ${tail}`, parameters));
  }
}

class KyselyStateStore implements StateStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async loadAccounts(accountIds: readonly string[]): Promise<AccountState[]> {
    if (accountIds.length === 0) return [];
    const out: AccountState[] = [];
    for (const part of chunks(accountIds, 5000)) {
      const rows = await this.#db
        .selectFrom('accounts')
        .select('state')
        .where('account_id', 'in', inKeys(part))
        .execute();
      for (const row of rows) out.push(JSON.parse(row.state) as AccountState);
    }
    return out;
  }

  async loadSeries(keys: readonly string[]): Promise<SeriesRecord[]> {
    if (keys.length === 0) return [];
    const out: SeriesRecord[] = [];
    for (const part of chunks(keys, 5000)) {
      const rows = await this.#db
        .selectFrom('velocity_series')
        .select(['key', 'snapshot'])
        .where('key', 'in', inKeys(part))
        .execute();
      for (const row of rows)
        out.push({ key: row.key, snapshot: JSON.parse(row.snapshot) as SeriesSnapshot });
    }
    return out;
  }

  async writeCheckpoint(checkpoint: {
    seq: number;
    accounts: readonly AccountState[];
    series: readonly SeriesRecord[];
  }): Promise<void> {
    // Only what changed since the last checkpoint comes here (the hot state tracks it), one row
    // per account and per series, each document as JSON text. Devices and sessions are views
    // over the account state, so they need no writes of their own.
    const accounts = await rowsInSlices(checkpoint.accounts, (a) => [
      a.accountId,
      JSON.stringify(a),
      new Date(a.firstSeenAt).toISOString(),
      new Date(a.lastSeenAt).toISOString(),
      a.risk,
      a.openCaseId ?? null,
    ]);
    const series = await rowsInSlices(checkpoint.series, (s) => [s.key, JSON.stringify(s.snapshot)]);
    await this.#db.transaction().execute(async (trx) => {
      await insertRows(
        trx,
        'insert into accounts (account_id, state, first_seen_at, last_seen_at, risk, open_case_id, updated_at)',
        ['?', '?', '?::timestamptz', '?::timestamptz', '?::smallint', '?', 'now()'],
        accounts,
        `on conflict (account_id) do update set
           state = excluded.state, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
           risk = excluded.risk, open_case_id = excluded.open_case_id, updated_at = excluded.updated_at`,
      );
      await insertRows(
        trx,
        'insert into velocity_series (key, snapshot, updated_at)',
        ['?', '?', 'now()'],
        series,
        'on conflict (key) do update set snapshot = excluded.snapshot, updated_at = excluded.updated_at',
      );
      await sql`
        insert into state_checkpoint (id, seq, updated_at) values (1, ${checkpoint.seq}, now())
        on conflict (id) do update set seq = excluded.seq, updated_at = excluded.updated_at`.execute(trx);
    });
  }

  async readCheckpointSeq(): Promise<number> {
    const row = await this.#db
      .selectFrom('state_checkpoint')
      .select('seq')
      .where('id', '=', 1)
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.seq);
  }
}

/** Keys per array parameter in one batch read; a longer request is read in the separate parts. */
const batchReadKeysMax = 5000;

/**
 * The ingest cycle's three reads as one `union all` statement: the outcomes of event ids, the
 * account states and the series snapshots, each probed through its primary key (`inKeys`).
 * Every branch answers `(part, key, doc, extra)` as text, so the decision (jsonb) travels as
 * text and is parsed here, as the state and snapshot documents already are.
 */
class KyselyBatchReader implements BatchReader {
  readonly #db: Kysely<Database>;
  readonly #events: EventLog;
  readonly #state: StateStore;
  constructor(db: Kysely<Database>, events: EventLog, state: StateStore) {
    this.#db = db;
    this.#events = events;
    this.#state = state;
  }

  async read(request: BatchReadRequest): Promise<BatchReadResult> {
    const { eventIds, accountIds, seriesKeys } = request;
    if (
      eventIds.length > batchReadKeysMax ||
      accountIds.length > batchReadKeysMax ||
      seriesKeys.length > batchReadKeysMax
    ) {
      const [outcomes, accounts, series] = await Promise.all([
        this.#events.findByIds(eventIds),
        this.#state.loadAccounts(accountIds),
        this.#state.loadSeries(seriesKeys),
      ]);
      return { outcomes, accounts, series };
    }
    const result: BatchReadResult = { outcomes: new Map(), accounts: [], series: [] };
    if (eventIds.length === 0 && accountIds.length === 0 && seriesKeys.length === 0) return result;
    const { rows } = await sql<{ part: number; key: string; doc: string; extra: string | null }>`
      select 0 as part, event_id as key, content_hash as doc, decision::text as extra
        from events where event_id in ${inKeys(eventIds)}
      union all
      select 1, account_id, state, null from accounts where account_id in ${inKeys(accountIds)}
      union all
      select 2, key, snapshot, null from velocity_series where key in ${inKeys(seriesKeys)}`.execute(
      this.#db,
    );
    for (const row of rows) {
      switch (row.part) {
        case 0:
          result.outcomes.set(row.key, {
            contentHash: row.doc,
            decision: JSON.parse(row.extra ?? 'null') as Decision,
          });
          break;
        case 1:
          result.accounts.push(JSON.parse(row.doc) as AccountState);
          break;
        default:
          result.series.push({ key: row.key, snapshot: JSON.parse(row.doc) as SeriesSnapshot });
      }
    }
    return result;
  }
}

class KyselyCaseStore implements CaseStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }
  async get(caseId: string): Promise<CaseRecord | undefined> {
    const row = await this.#db
      .selectFrom('cases')
      .selectAll()
      .where('case_id', '=', caseId)
      .executeTakeFirst();
    return row === undefined ? undefined : toCase(row);
  }
  async openForAccount(accountId: string): Promise<CaseRecord | undefined> {
    const row = await this.#db
      .selectFrom('cases')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return row === undefined ? undefined : toCase(row);
  }
  async list(limit: number): Promise<CaseRecord[]> {
    const rows = await this.#db
      .selectFrom('cases')
      .selectAll()
      .orderBy('opened_at')
      .orderBy('case_id')
      .limit(limit)
      .execute();
    return rows.map(toCase);
  }
}

class KyselyApiKeyStore implements ApiKeyStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }
  async insert(record: ApiKeyRecord): Promise<void> {
    await this.#db
      .insertInto('api_keys')
      .values({
        key_id: record.keyId,
        name: record.name,
        secret_hash: record.secretHash,
        created_at: new Date(record.createdAtMs),
        revoked_at: record.revokedAtMs === undefined ? null : new Date(record.revokedAtMs),
      })
      .execute();
  }
  async find(keyId: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      keyId: row.key_id,
      name: row.name,
      secretHash: row.secret_hash,
      createdAtMs: row.created_at.getTime(),
      revokedAtMs: row.revoked_at === null ? undefined : row.revoked_at.getTime(),
    };
  }
  async countActive(): Promise<number> {
    const row = await this.#db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

/** The Kysely instance under storage made here: the sandbox world shares its database. */
const databases = new WeakMap<Storage, Kysely<Database>>();

export function databaseOf(storage: Storage): Kysely<Database> | undefined {
  return databases.get(storage);
}

/** The storage ports over Kysely: the same code for PGlite and PostgreSQL. */
export function kyselyStorage(handle: DatabaseHandle): Storage {
  const { db } = handle;
  // Followers of the log (alert outbox, sandbox store) read what was just appended from memory.
  const events = new TailedEventLog(new KyselyEventLog(db));
  const state = new KyselyStateStore(db);
  const storage: Storage = {
    kind: handle.kind,
    events,
    state,
    batchReads: new KyselyBatchReader(db, events, state),
    cases: new KyselyCaseStore(db),
    apiKeys: new KyselyApiKeyStore(db),
    containment: new KyselyRunStore(db),
    console: new KyselyConsoleStore(db),
    verification: kyselyVerificationStore(db),
    ruleSets: new KyselyRuleSetStore(db),
    lockWriter: () => handle.lockWriter?.() ?? Promise.resolve(),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => handle.close(),
  };
  databases.set(storage, db);
  return storage;
}
