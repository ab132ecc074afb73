import type { ColumnType, Kysely } from 'kysely';
import type {
  AnalystPasskey,
  AnalystRecord,
  AnalystRole,
  AuditActorKind,
  AuditEntry,
  AuditOutcome,
  ConsoleSessionKind,
  ConsoleSessionRecord,
  ConsoleStore,
  StoredAuditEntry,
} from '../../storage/console-ports.ts';
import type { Database } from './schema.ts';

type Timestamp = ColumnType<Date, Date, Date>;

/** The console's tables (migration 0007_console), added to the schema where they are used. */
type ConsoleTables = {
  analysts: {
    analyst_id: string;
    name: string;
    role: string;
    password_hash: string;
    totp_secret: string | null;
    totp_last_step: ColumnType<string | number | null, number | null, number>;
    created_at: Timestamp;
    disabled_at: Timestamp | null;
  };
  console_sessions: {
    token_hash: string;
    kind: string;
    subject_id: string;
    created_at: Timestamp;
    last_seen_at: Timestamp;
    expires_at: Timestamp;
    ended_at: Timestamp | null;
  };
  security_center_links_used: { nonce: string; account_id: string; used_at: Timestamp };
  /** Migration 0009_console_more. */
  analyst_passkeys: {
    credential_id: string;
    analyst_id: string;
    name: string;
    public_key: string;
    counter: ColumnType<string | number, number, number>;
    transports: ColumnType<unknown, string, string>;
    created_at: Timestamp;
    last_used_at: Timestamp | null;
  };
  console_audit: {
    seq: ColumnType<string | number, never, never>;
    at: Timestamp;
    actor_kind: string;
    actor_id: string | null;
    action: string;
    target: string | null;
    outcome: string;
    ip: string;
    detail: ColumnType<unknown, string, string>;
  };
};

function toAnalyst(row: {
  analyst_id: string;
  name: string;
  role: string;
  password_hash: string;
  totp_secret: string | null;
  created_at: Date;
  disabled_at: Date | null;
}): AnalystRecord {
  return {
    analystId: row.analyst_id,
    name: row.name,
    role: row.role as AnalystRole,
    passwordHash: row.password_hash,
    totpSecret: row.totp_secret ?? undefined,
    createdAtMs: row.created_at.getTime(),
    disabledAtMs: row.disabled_at === null ? undefined : row.disabled_at.getTime(),
  };
}

const analystColumns = [
  'analyst_id',
  'name',
  'role',
  'password_hash',
  'totp_secret',
  'created_at',
  'disabled_at',
] as const;

export class KyselyConsoleStore implements ConsoleStore {
  readonly #db: Kysely<ConsoleTables>;
  constructor(db: Kysely<Database>) {
    this.#db = db.withTables<ConsoleTables>() as unknown as Kysely<ConsoleTables>;
  }

  async insertAnalyst(record: AnalystRecord): Promise<'created' | 'name_taken'> {
    const rows = await this.#db
      .insertInto('analysts')
      .values({
        analyst_id: record.analystId,
        name: record.name,
        role: record.role,
        password_hash: record.passwordHash,
        totp_secret: record.totpSecret ?? null,
        totp_last_step: null,
        created_at: new Date(record.createdAtMs),
        disabled_at: record.disabledAtMs === undefined ? null : new Date(record.disabledAtMs),
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .returning('analyst_id')
      .execute();
    return rows.length === 1 ? 'created' : 'name_taken';
  }

  async findAnalystByName(name: string): Promise<AnalystRecord | undefined> {
    const row = await this.#db
      .selectFrom('analysts')
      .select(analystColumns)
      .where('name', '=', name)
      .executeTakeFirst();
    return row === undefined ? undefined : toAnalyst(row);
  }

  async findAnalyst(analystId: string): Promise<AnalystRecord | undefined> {
    const row = await this.#db
      .selectFrom('analysts')
      .select(analystColumns)
      .where('analyst_id', '=', analystId)
      .executeTakeFirst();
    return row === undefined ? undefined : toAnalyst(row);
  }

  async countAnalysts(): Promise<number> {
    const row = await this.#db
      .selectFrom('analysts')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('disabled_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async useTotpStep(analystId: string, step: number): Promise<boolean> {
    const rows = await this.#db
      .updateTable('analysts')
      .set({ totp_last_step: step })
      .where('analyst_id', '=', analystId)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .returning('analyst_id')
      .execute();
    return rows.length === 1;
  }

  async insertSession(record: ConsoleSessionRecord): Promise<void> {
    await this.#db
      .insertInto('console_sessions')
      .values({
        token_hash: record.tokenHash,
        kind: record.kind,
        subject_id: record.subjectId,
        created_at: new Date(record.createdAtMs),
        last_seen_at: new Date(record.lastSeenAtMs),
        expires_at: new Date(record.expiresAtMs),
        ended_at: record.endedAtMs === undefined ? null : new Date(record.endedAtMs),
      })
      .execute();
  }

  async findSession(tokenHash: string): Promise<ConsoleSessionRecord | undefined> {
    const row = await this.#db
      .selectFrom('console_sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      tokenHash: row.token_hash,
      kind: row.kind as ConsoleSessionKind,
      subjectId: row.subject_id,
      createdAtMs: row.created_at.getTime(),
      lastSeenAtMs: row.last_seen_at.getTime(),
      expiresAtMs: row.expires_at.getTime(),
      endedAtMs: row.ended_at === null ? undefined : row.ended_at.getTime(),
    };
  }

  async touchSession(tokenHash: string, lastSeenAtMs: number): Promise<void> {
    await this.#db
      .updateTable('console_sessions')
      .set({ last_seen_at: new Date(lastSeenAtMs) })
      .where('token_hash', '=', tokenHash)
      .execute();
  }

  async endSession(tokenHash: string, endedAtMs: number): Promise<void> {
    await this.#db
      .updateTable('console_sessions')
      .set({ ended_at: new Date(endedAtMs) })
      .where('token_hash', '=', tokenHash)
      .where('ended_at', 'is', null)
      .execute();
  }

  async useLinkNonce(nonce: string, accountId: string, usedAtMs: number): Promise<boolean> {
    const rows = await this.#db
      .insertInto('security_center_links_used')
      .values({ nonce, account_id: accountId, used_at: new Date(usedAtMs) })
      .onConflict((oc) => oc.column('nonce').doNothing())
      .returning('nonce')
      .execute();
    return rows.length === 1;
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#db
      .insertInto('console_audit')
      .values(
        entries.map((e) => ({
          at: new Date(e.atMs),
          actor_kind: e.actorKind,
          actor_id: e.actorId ?? null,
          action: e.action,
          target: e.target ?? null,
          outcome: e.outcome,
          ip: e.ip,
          detail: JSON.stringify(e.detail),
        })),
      )
      .execute();
  }

  async readAudit(page: { beforeSeq?: number; limit: number }): Promise<StoredAuditEntry[]> {
    let query = this.#db.selectFrom('console_audit').selectAll();
    if (page.beforeSeq !== undefined) query = query.where('seq', '<', page.beforeSeq as never);
    const rows = await query.orderBy('seq', 'desc').limit(page.limit).execute();
    return rows.map((row) => ({
      seq: Number(row.seq),
      atMs: row.at.getTime(),
      actorKind: row.actor_kind as AuditActorKind,
      actorId: row.actor_id ?? undefined,
      action: row.action,
      target: row.target ?? undefined,
      outcome: row.outcome as AuditOutcome,
      ip: row.ip,
      detail: row.detail as Record<string, unknown>,
    }));
  }

  async insertPasskey(passkey: AnalystPasskey): Promise<'created' | 'exists'> {
    const rows = await this.#db
      .insertInto('analyst_passkeys')
      .values({
        credential_id: passkey.credentialId,
        analyst_id: passkey.analystId,
        name: passkey.name,
        public_key: passkey.publicKey,
        counter: passkey.counter,
        transports: JSON.stringify(passkey.transports),
        created_at: new Date(passkey.createdAtMs),
        last_used_at: passkey.lastUsedAtMs === undefined ? null : new Date(passkey.lastUsedAtMs),
      })
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .returning('credential_id')
      .execute();
    return rows.length === 1 ? 'created' : 'exists';
  }

  async findPasskey(credentialId: string): Promise<AnalystPasskey | undefined> {
    const row = await this.#db
      .selectFrom('analyst_passkeys')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return row === undefined ? undefined : toPasskey(row);
  }

  async passkeysOf(analystId: string): Promise<AnalystPasskey[]> {
    const rows = await this.#db
      .selectFrom('analyst_passkeys')
      .selectAll()
      .where('analyst_id', '=', analystId)
      .orderBy('created_at')
      .execute();
    return rows.map(toPasskey);
  }

  async usePasskey(
    credentialId: string,
    fromCounter: number,
    toCounter: number,
    atMs: number,
  ): Promise<boolean> {
    const rows = await this.#db
      .updateTable('analyst_passkeys')
      .set({ counter: toCounter, last_used_at: new Date(atMs) })
      .where('credential_id', '=', credentialId)
      .where('counter', '=', fromCounter)
      .returning('credential_id')
      .execute();
    return rows.length === 1;
  }
}

function toPasskey(row: {
  credential_id: string;
  analyst_id: string;
  name: string;
  public_key: string;
  counter: string | number;
  transports: unknown;
  created_at: Date;
  last_used_at: Date | null;
}): AnalystPasskey {
  const transports =
    typeof row.transports === 'string' ? (JSON.parse(row.transports) as unknown) : row.transports;
  return {
    credentialId: row.credential_id,
    analystId: row.analyst_id,
    name: row.name,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: Array.isArray(transports) ? transports.filter((t): t is string => typeof t === 'string') : [],
    createdAtMs: row.created_at.getTime(),
    lastUsedAtMs: row.last_used_at === null ? undefined : row.last_used_at.getTime(),
  };
}
