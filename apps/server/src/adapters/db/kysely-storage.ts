import type { BulwarkEvent, Decision } from '@bulwark/contracts';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { AccountState } from '../../risk/domain/state.ts';
import type { SeriesSnapshot } from '../../risk/domain/velocity.ts';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  CaseRecord,
  CaseStatus,
  CaseStore,
  EventLog,
  EventRecord,
  PriorOutcome,
  SeriesRecord,
  StateStore,
  Storage,
  StoredEvent,
} from '../../storage/ports.ts';
import type { DatabaseHandle } from './database.ts';
import type { CasesTable, Database } from './schema.ts';

/** Rows per INSERT statement, well under PostgreSQL's 65,535 bind parameters. */
const rowsPerStatementMax = 500;

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

async function insertCases(trx: Transaction<Database>, cases: readonly CaseRecord[]): Promise<void> {
  if (cases.length === 0) return;
  await trx
    .insertInto('cases')
    .values(
      cases.map((c) => ({
        case_id: c.caseId,
        account_id: c.accountId,
        status: c.status,
        reported_by: c.reportedBy,
        opened_at: new Date(c.openedAtMs),
        since: c.sinceMs === undefined ? null : new Date(c.sinceMs),
        opened_by_event_id: c.openedByEventId,
        updated_at: new Date(c.openedAtMs),
      })),
    )
    .execute();
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
        .where('event_id', '=', sql<string>`any(${sql.val(part)}::text[])`)
        .execute();
      for (const row of rows)
        found.set(row.event_id, { contentHash: row.content_hash, decision: row.decision as Decision });
    }
    return found;
  }

  async append(records: readonly EventRecord[], openedCases: readonly CaseRecord[]): Promise<number[]> {
    if (records.length === 0 && openedCases.length === 0) return [];
    const write = async (db: Kysely<Database>): Promise<number[]> => {
      const seqById = new Map<string, number>();
      for (const part of chunks(records, rowsPerStatementMax)) {
        const rows = await db
          .insertInto('events')
          .values(
            part.map((r) => ({
              event_id: r.eventId,
              account_id: r.accountId ?? null,
              type: r.type,
              at: new Date(r.atMs),
              received_at: new Date(r.receivedAtMs),
              decided_at: new Date(r.decidedAtMs),
              content_hash: r.contentHash,
              payload: JSON.stringify(r.event),
              decision: JSON.stringify(r.decision),
              outcome: r.decision.decision,
              score: r.decision.score,
              policy_version: r.policyVersion,
            })),
          )
          .returning(['event_id', 'seq'])
          .execute();
        for (const row of rows) seqById.set(row.event_id, Number(row.seq));
      }
      return records.map((r) => seqById.get(r.eventId) ?? 0);
    };
    // One statement is atomic by itself; more than one needs a transaction.
    if (openedCases.length === 0 && records.length <= rowsPerStatementMax) return write(this.#db);
    return this.#db.transaction().execute(async (trx) => {
      const seqs = await write(trx);
      await insertCases(trx, openedCases);
      return seqs;
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
        .where('account_id', '=', sql<string>`any(${sql.val(part)}::text[])`)
        .execute();
      for (const row of rows) out.push(row.state as AccountState);
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
        .where('key', '=', sql<string>`any(${sql.val(part)}::text[])`)
        .execute();
      for (const row of rows) out.push({ key: row.key, snapshot: row.snapshot as SeriesSnapshot });
    }
    return out;
  }

  async writeCheckpoint(checkpoint: {
    seq: number;
    accounts: readonly AccountState[];
    series: readonly SeriesRecord[];
  }): Promise<void> {
    const now = new Date();
    await this.#db.transaction().execute(async (trx) => {
      for (const part of chunks(checkpoint.accounts, rowsPerStatementMax)) {
        await trx
          .insertInto('accounts')
          .values(
            part.map((a) => ({
              account_id: a.accountId,
              state: JSON.stringify(a),
              first_seen_at: new Date(a.firstSeenAt),
              last_seen_at: new Date(a.lastSeenAt),
              risk: a.risk,
              open_case_id: a.openCaseId ?? null,
              updated_at: now,
            })),
          )
          .onConflict((oc) =>
            oc.column('account_id').doUpdateSet((eb) => ({
              state: eb.ref('excluded.state'),
              first_seen_at: eb.ref('excluded.first_seen_at'),
              last_seen_at: eb.ref('excluded.last_seen_at'),
              risk: eb.ref('excluded.risk'),
              open_case_id: eb.ref('excluded.open_case_id'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
        // Devices and sessions are projections of the state, rewritten with it.
        const ids = part.map((a) => a.accountId);
        await trx
          .deleteFrom('devices')
          .where('account_id', '=', sql<string>`any(${sql.val(ids)}::text[])`)
          .execute();
        await trx
          .deleteFrom('sessions')
          .where('account_id', '=', sql<string>`any(${sql.val(ids)}::text[])`)
          .execute();
        const devices = part.flatMap((a) =>
          a.devices.map((d) => ({
            account_id: a.accountId,
            device_key: d.key,
            device_id: d.deviceId ?? null,
            user_agent: d.userAgent,
            first_seen_at: new Date(d.firstSeenAt),
            last_seen_at: new Date(d.lastSeenAt),
            seen_count: d.seenCount,
            trusted: d.trusted,
          })),
        );
        for (const rows of chunks(devices, rowsPerStatementMax))
          await trx.insertInto('devices').values(rows).execute();
        const sessions = part.flatMap((a) =>
          a.sessions.map((s) => ({
            account_id: a.accountId,
            session_id: s.sessionId,
            issued_at: new Date(s.issuedAt),
            last_seen_at: new Date(s.lastSeenAt),
            ip: s.ip,
            device_key: s.deviceKey,
          })),
        );
        for (const rows of chunks(sessions, rowsPerStatementMax))
          await trx.insertInto('sessions').values(rows).execute();
      }
      for (const part of chunks(checkpoint.series, rowsPerStatementMax)) {
        await trx
          .insertInto('velocity_series')
          .values(part.map((s) => ({ key: s.key, snapshot: JSON.stringify(s.snapshot), updated_at: now })))
          .onConflict((oc) =>
            oc.column('key').doUpdateSet((eb) => ({
              snapshot: eb.ref('excluded.snapshot'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      await trx
        .insertInto('state_checkpoint')
        .values({ id: 1, seq: checkpoint.seq, updated_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet({ seq: checkpoint.seq, updated_at: now }))
        .execute();
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

/** The storage ports over Kysely: the same code for PGlite and PostgreSQL. */
export function kyselyStorage(handle: DatabaseHandle): Storage {
  const { db } = handle;
  return {
    kind: handle.kind,
    events: new KyselyEventLog(db),
    state: new KyselyStateStore(db),
    cases: new KyselyCaseStore(db),
    apiKeys: new KyselyApiKeyStore(db),
    lockWriter: () => handle.lockWriter?.() ?? Promise.resolve(),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => handle.close(),
  };
}
