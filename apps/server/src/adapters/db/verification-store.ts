import type { ChallengeMethod } from '@bulwark/contracts';
import { sql, type ColumnType, type Kysely, type Selectable } from 'kysely';
import type {
  AlertRecord,
  AlertSentMark,
  DevMessage,
  ChallengeRecord,
  ChannelsRecord,
  PasskeyRecord,
  TotpRecord,
  VerificationStore,
} from '../../verify/ports.ts';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null, Date | null>;
type Int8 = ColumnType<string | number, number, number>;
type Json<T> = ColumnType<T, string, string>;

/** Tables of migration 0006_verification, kept beside their only user. */
interface VerificationTables {
  verify_challenges: {
    challenge_id: string;
    account_id: string;
    event_id: string;
    methods: Json<ChallengeMethod[]>;
    device: string;
    ip: string;
    created_at: Timestamp;
    expires_at: Timestamp;
    status: string;
    attempts: number;
    code_digest: string | null;
    code_method: string | null;
    code_expires_at: NullableTimestamp;
    code_sends: number;
    webauthn_challenge: string | null;
    completed_at: NullableTimestamp;
    completed_method: string | null;
  };
  verify_channels: {
    account_id: string;
    email: string | null;
    phone: string | null;
    locale: string;
    updated_at: Timestamp;
  };
  verify_totp: {
    account_id: string;
    sealed_secret: string;
    created_at: Timestamp;
    confirmed_at: NullableTimestamp;
  };
  verify_totp_steps: { account_id: string; step: Int8; used_at: Timestamp };
  verify_passkeys: {
    credential_id: string;
    account_id: string;
    public_key: string;
    counter: Int8;
    transports: Json<string[]>;
    created_at: Timestamp;
    last_used_at: NullableTimestamp;
  };
  verify_passkey_registrations: { account_id: string; challenge: string; expires_at: Timestamp };
  verify_used_tokens: { token_id: string; used_at: Timestamp; expires_at: Timestamp };
  verify_alerts: {
    alert_id: string;
    account_id: string;
    kind: string;
    detail: Json<Record<string, string>>;
    created_at: Timestamp;
    sent_at: NullableTimestamp;
    channels: Json<string[]>;
    answer: string | null;
  };
  verify_outbox_cursor: { id: number; seq: Int8 };
  password_hashes: { prefix: string; suffix: string; count: number };
  notify_dev_messages: {
    seq: ColumnType<string | number, never, never>;
    idempotency_key: string;
    channel: string;
    recipient: string;
    subject: string | null;
    body: string;
    sent_at: Timestamp;
  };
}

const date = (ms: number): Date => new Date(ms);
const msOrUndefined = (value: Date | null): number | undefined =>
  value === null ? undefined : value.getTime();
/** jsonb arrives parsed from both drivers; a string is parsed for safety. */
const json = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;

type ChallengeRow = VerificationTables['verify_challenges'];

function challengeOf(row: Selectable<ChallengeRow>): ChallengeRecord {
  return {
    challengeId: row.challenge_id,
    accountId: row.account_id,
    eventId: row.event_id,
    methods: json(row.methods) as ChallengeMethod[],
    device: row.device,
    ip: row.ip,
    createdAtMs: row.created_at.getTime(),
    expiresAtMs: row.expires_at.getTime(),
    status: row.status as ChallengeRecord['status'],
    attempts: row.attempts,
    codeDigest: row.code_digest ?? undefined,
    codeMethod: (row.code_method ?? undefined) as ChallengeMethod | undefined,
    codeExpiresAtMs: msOrUndefined(row.code_expires_at),
    codeSends: row.code_sends,
    webauthnChallenge: row.webauthn_challenge ?? undefined,
    completedAtMs: msOrUndefined(row.completed_at),
    completedMethod: row.completed_method ?? undefined,
  };
}

function channelsOf(row: Selectable<VerificationTables['verify_channels']>): ChannelsRecord {
  return {
    accountId: row.account_id,
    email: row.email ?? undefined,
    phone: row.phone ?? undefined,
    locale: row.locale === 'ja' ? 'ja' : 'en',
    updatedAtMs: row.updated_at.getTime(),
  };
}

function alertOf(row: Selectable<VerificationTables['verify_alerts']>): AlertRecord {
  return {
    alertId: row.alert_id,
    accountId: row.account_id,
    kind: row.kind as AlertRecord['kind'],
    detail: json(row.detail) as Record<string, string>,
    createdAtMs: row.created_at.getTime(),
    sentAtMs: msOrUndefined(row.sent_at),
    channels: json(row.channels) as string[],
    answer: (row.answer ?? undefined) as AlertRecord['answer'],
  };
}

const columnOf: Partial<Record<keyof ChallengeRecord, keyof ChallengeRow>> = {
  status: 'status',
  attempts: 'attempts',
  codeDigest: 'code_digest',
  codeMethod: 'code_method',
  codeExpiresAtMs: 'code_expires_at',
  codeSends: 'code_sends',
  webauthnChallenge: 'webauthn_challenge',
  completedAtMs: 'completed_at',
  completedMethod: 'completed_method',
};

/**
 * The verification tables are not part of the shared schema type: this views the same connection
 * through their own types (types only; no runtime change).
 */
export const kyselyVerificationStore = <DB>(db: Kysely<DB>): VerificationStore =>
  new KyselyVerificationStore(db as unknown as Kysely<VerificationTables>);

/** The verification port over Kysely: the same code for PGlite and PostgreSQL. */
class KyselyVerificationStore implements VerificationStore {
  readonly #db: Kysely<VerificationTables>;

  constructor(db: Kysely<VerificationTables>) {
    this.#db = db;
  }

  async insertChallenges(records: readonly ChallengeRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db
      .insertInto('verify_challenges')
      .values(
        records.map((r) => ({
          challenge_id: r.challengeId,
          account_id: r.accountId,
          event_id: r.eventId,
          methods: JSON.stringify(r.methods),
          device: r.device,
          ip: r.ip,
          created_at: date(r.createdAtMs),
          expires_at: date(r.expiresAtMs),
          status: r.status,
          attempts: r.attempts,
          code_sends: r.codeSends,
        })),
      )
      // DO NOTHING also takes a repeated id within the one statement (the first row is kept).
      .onConflict((oc) => oc.column('challenge_id').doNothing())
      .execute();
  }

  async getChallenge(challengeId: string): Promise<ChallengeRecord | undefined> {
    const row = await this.#db
      .selectFrom('verify_challenges')
      .selectAll()
      .where('challenge_id', '=', challengeId)
      .executeTakeFirst();
    return row === undefined ? undefined : challengeOf(row);
  }

  async updatePendingChallenge(challengeId: string, changes: Partial<ChallengeRecord>): Promise<boolean> {
    const values: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(changes) as [keyof ChallengeRecord, unknown][]) {
      const column = columnOf[field];
      if (column === undefined) continue;
      values[column] = field.endsWith('AtMs')
        ? value === undefined
          ? null
          : date(value as number)
        : (value ?? null);
    }
    const result = await this.#db
      .updateTable('verify_challenges')
      .set(values)
      .where('challenge_id', '=', challengeId)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async addAttempt(challengeId: string): Promise<number | undefined> {
    const row = await this.#db
      .updateTable('verify_challenges')
      .set({ attempts: sql<number>`attempts + 1` })
      .where('challenge_id', '=', challengeId)
      .where('status', '=', 'pending')
      .returning('attempts')
      .executeTakeFirst();
    return row?.attempts;
  }

  async getChannels(accountId: string): Promise<ChannelsRecord | undefined> {
    const row = await this.#db
      .selectFrom('verify_channels')
      .selectAll()
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return row === undefined ? undefined : channelsOf(row);
  }

  async getChannelsOf(accountIds: readonly string[]): Promise<Map<string, ChannelsRecord>> {
    const found = new Map<string, ChannelsRecord>();
    if (accountIds.length === 0) return found;
    const rows = await this.#db
      .selectFrom('verify_channels')
      .selectAll()
      .where('account_id', 'in', [...new Set(accountIds)])
      .execute();
    for (const row of rows) found.set(row.account_id, channelsOf(row));
    return found;
  }

  async putChannels(r: ChannelsRecord): Promise<void> {
    const values = {
      account_id: r.accountId,
      email: r.email ?? null,
      phone: r.phone ?? null,
      locale: r.locale,
      updated_at: date(r.updatedAtMs),
    };
    await this.#db
      .insertInto('verify_channels')
      .values(values)
      .onConflict((oc) =>
        oc.column('account_id').doUpdateSet({
          email: values.email,
          phone: values.phone,
          locale: values.locale,
          updated_at: values.updated_at,
        }),
      )
      .execute();
  }

  async fillChannels(records: readonly ChannelsRecord[]): Promise<void> {
    if (records.length === 0) return;
    // ON CONFLICT DO UPDATE cannot touch one row twice in a statement: a caller's bug, said plainly.
    if (new Set(records.map((r) => r.accountId)).size !== records.length)
      throw new Error('fillChannels: at most one record per account');
    await this.#db
      .insertInto('verify_channels')
      .values(
        records.map((r) => ({
          account_id: r.accountId,
          email: r.email ?? null,
          phone: r.phone ?? null,
          locale: r.locale,
          updated_at: date(r.updatedAtMs),
        })),
      )
      .onConflict((oc) =>
        oc.column('account_id').doUpdateSet({
          email: sql<string | null>`coalesce(verify_channels.email, excluded.email)`,
          phone: sql<string | null>`coalesce(verify_channels.phone, excluded.phone)`,
          updated_at: sql<Date>`excluded.updated_at`,
        }),
      )
      .execute();
  }

  async getTotp(accountId: string): Promise<TotpRecord | undefined> {
    const row = await this.#db
      .selectFrom('verify_totp')
      .selectAll()
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      accountId: row.account_id,
      sealedSecret: row.sealed_secret,
      createdAtMs: row.created_at.getTime(),
      confirmedAtMs: msOrUndefined(row.confirmed_at),
    };
  }

  async putTotp(r: TotpRecord): Promise<void> {
    const values = {
      account_id: r.accountId,
      sealed_secret: r.sealedSecret,
      created_at: date(r.createdAtMs),
      confirmed_at: r.confirmedAtMs === undefined ? null : date(r.confirmedAtMs),
    };
    await this.#db
      .insertInto('verify_totp')
      .values(values)
      .onConflict((oc) =>
        oc.column('account_id').doUpdateSet({
          sealed_secret: values.sealed_secret,
          created_at: values.created_at,
          confirmed_at: values.confirmed_at,
        }),
      )
      .execute();
  }

  async confirmTotp(accountId: string, atMs: number): Promise<void> {
    await this.#db
      .updateTable('verify_totp')
      .set({ confirmed_at: date(atMs) })
      .where('account_id', '=', accountId)
      .execute();
  }

  async useTotpStep(accountId: string, step: number, atMs: number): Promise<boolean> {
    const rows = await this.#db
      .insertInto('verify_totp_steps')
      .values({ account_id: accountId, step, used_at: date(atMs) })
      .onConflict((oc) => oc.columns(['account_id', 'step']).doNothing())
      .returning('step')
      .execute();
    return rows.length === 1;
  }

  async listPasskeys(accountId: string): Promise<PasskeyRecord[]> {
    const rows = await this.#db
      .selectFrom('verify_passkeys')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .execute();
    return rows.map(passkeyOf);
  }

  async getPasskey(credentialId: string): Promise<PasskeyRecord | undefined> {
    const row = await this.#db
      .selectFrom('verify_passkeys')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .executeTakeFirst();
    return row === undefined ? undefined : passkeyOf(row);
  }

  async insertPasskey(r: PasskeyRecord): Promise<void> {
    await this.#db
      .insertInto('verify_passkeys')
      .values({
        credential_id: r.credentialId,
        account_id: r.accountId,
        public_key: r.publicKey,
        counter: r.counter,
        transports: JSON.stringify(r.transports),
        created_at: date(r.createdAtMs),
        last_used_at: null,
      })
      .execute();
  }

  async advancePasskeyCounter(
    credentialId: string,
    fromCounter: number,
    toCounter: number,
    atMs: number,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('verify_passkeys')
      .set({ counter: toCounter, last_used_at: date(atMs) })
      .where('credential_id', '=', credentialId)
      .where('counter', '=', fromCounter)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async putRegistrationChallenge(accountId: string, challenge: string, expiresAtMs: number): Promise<void> {
    await this.#db
      .insertInto('verify_passkey_registrations')
      .values({ account_id: accountId, challenge, expires_at: date(expiresAtMs) })
      .onConflict((oc) => oc.column('account_id').doUpdateSet({ challenge, expires_at: date(expiresAtMs) }))
      .execute();
  }

  async takeRegistrationChallenge(
    accountId: string,
  ): Promise<{ challenge: string; expiresAtMs: number } | undefined> {
    const row = await this.#db
      .deleteFrom('verify_passkey_registrations')
      .where('account_id', '=', accountId)
      .returning(['challenge', 'expires_at'])
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : { challenge: row.challenge, expiresAtMs: row.expires_at.getTime() };
  }

  async useToken(tokenId: string, atMs: number, expiresAtMs: number): Promise<boolean> {
    const rows = await this.#db
      .insertInto('verify_used_tokens')
      .values({ token_id: tokenId, used_at: date(atMs), expires_at: date(expiresAtMs) })
      .onConflict((oc) => oc.column('token_id').doNothing())
      .returning('token_id')
      .execute();
    return rows.length === 1;
  }

  async insertAlert(r: AlertRecord): Promise<AlertRecord> {
    const stored = (await this.insertAlerts([r])).get(r.alertId);
    if (stored === undefined) throw new Error(`alert ${r.alertId} vanished after insert`);
    return stored;
  }

  async insertAlerts(records: readonly AlertRecord[]): Promise<Map<string, AlertRecord>> {
    const stored = new Map<string, AlertRecord>();
    if (records.length === 0) return stored;
    // RETURNING answers only the rows this statement inserted: a page of new alerts costs one
    // round trip; those that existed (handled before) are read as stored, with their `sent_at`, in
    // one more. DO NOTHING also takes an id repeated within the statement (the first row is kept).
    const inserted = await this.#db
      .insertInto('verify_alerts')
      .values(
        records.map((r) => ({
          alert_id: r.alertId,
          account_id: r.accountId,
          kind: r.kind,
          detail: JSON.stringify(r.detail),
          created_at: date(r.createdAtMs),
          sent_at: null,
          channels: JSON.stringify(r.channels),
          answer: null,
        })),
      )
      .onConflict((oc) => oc.column('alert_id').doNothing())
      .returningAll()
      .execute();
    for (const row of inserted) stored.set(row.alert_id, alertOf(row));
    const existing = [...new Set(records.map((r) => r.alertId))].filter((id) => !stored.has(id));
    if (existing.length === 0) return stored;
    const rows = await this.#db
      .selectFrom('verify_alerts')
      .selectAll()
      .where('alert_id', 'in', existing)
      .execute();
    for (const row of rows) stored.set(row.alert_id, alertOf(row));
    const vanished = existing.filter((id) => !stored.has(id));
    if (vanished.length > 0) throw new Error(`alerts ${vanished.join(', ')} vanished after insert`);
    return stored;
  }

  async getAlert(alertId: string): Promise<AlertRecord | undefined> {
    const row = await this.#db
      .selectFrom('verify_alerts')
      .selectAll()
      .where('alert_id', '=', alertId)
      .executeTakeFirst();
    return row === undefined ? undefined : alertOf(row);
  }

  async markAlertSent(alertId: string, channels: string[], atMs: number): Promise<void> {
    await this.#db
      .updateTable('verify_alerts')
      .set({ sent_at: date(atMs), channels: JSON.stringify(channels) })
      .where('alert_id', '=', alertId)
      .execute();
  }

  async markAlertsSent(marks: readonly AlertSentMark[]): Promise<void> {
    if (marks.length === 0) return;
    // An UPDATE … FROM joining one target row to two source rows applies an arbitrary one: an
    // id's last mark is the one meant, so each id goes into the statement once.
    const byId = new Map(marks.map((m) => [m.alertId, m]));
    // Every value is cast where it stands, so both PostgreSQL and PGlite type the parameters alike
    // (text, timestamptz and jsonb, the columns' types in 0006_verification).
    const rows = [...byId.values()].map(
      (m) => sql`(${m.alertId}::text, ${date(m.atMs)}::timestamptz, ${JSON.stringify(m.channels)}::jsonb)`,
    );
    await sql`update verify_alerts
      set sent_at = v.sent_at, channels = v.channels
      from (values ${sql.join(rows)}) as v (alert_id, sent_at, channels)
      where verify_alerts.alert_id = v.alert_id`.execute(this.#db);
  }

  async answerAlert(alertId: string, answer: 'this_was_me' | 'not_me'): Promise<void> {
    await this.#db.updateTable('verify_alerts').set({ answer }).where('alert_id', '=', alertId).execute();
  }

  async readCursor(): Promise<number> {
    const row = await this.#db
      .selectFrom('verify_outbox_cursor')
      .select('seq')
      .where('id', '=', 1)
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.seq);
  }

  async writeCursor(seq: number): Promise<void> {
    await this.#db.updateTable('verify_outbox_cursor').set({ seq }).where('id', '=', 1).execute();
  }

  async recordDevMessage(m: DevMessage): Promise<void> {
    await this.#db
      .insertInto('notify_dev_messages')
      .values({
        idempotency_key: m.idempotencyKey,
        channel: m.channel,
        recipient: m.to,
        subject: m.subject ?? null,
        body: m.text,
        sent_at: date(m.sentAtMs),
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .execute();
  }

  async listDevMessages(limit: number): Promise<DevMessage[]> {
    const rows = await this.#db
      .selectFrom('notify_dev_messages')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      idempotencyKey: row.idempotency_key,
      channel: row.channel === 'sms' ? 'sms' : 'email',
      to: row.recipient,
      subject: row.subject ?? undefined,
      text: row.body,
      sentAtMs: row.sent_at.getTime(),
    }));
  }

  async upsertPasswordHashes(rows: readonly { sha1: string; count: number }[]): Promise<void> {
    if (rows.length === 0) return;
    // The dump lists each hash once; the highest count wins if an import is repeated or merged.
    const byHash = new Map<string, number>();
    for (const row of rows) byHash.set(row.sha1, Math.max(byHash.get(row.sha1) ?? 0, row.count));
    await this.#db
      .insertInto('password_hashes')
      .values(
        [...byHash].map(([sha1, count]) => ({ prefix: sha1.slice(0, 5), suffix: sha1.slice(5), count })),
      )
      .onConflict((oc) =>
        oc.columns(['prefix', 'suffix']).doUpdateSet({
          count: sql<number>`greatest(password_hashes.count, excluded.count)`,
        }),
      )
      .execute();
  }

  async passwordRange(prefix: string): Promise<{ suffix: string; count: number }[]> {
    return this.#db
      .selectFrom('password_hashes')
      .select(['suffix', 'count'])
      .where('prefix', '=', prefix)
      .orderBy('suffix')
      .execute();
  }

  async passwordCount(sha1: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('password_hashes')
      .select('count')
      .where('prefix', '=', sha1.slice(0, 5))
      .where('suffix', '=', sha1.slice(5))
      .executeTakeFirst();
    return row?.count;
  }
}

function passkeyOf(row: {
  credential_id: string;
  account_id: string;
  public_key: string;
  counter: string | number;
  transports: unknown;
  created_at: Date;
  last_used_at: Date | null;
}): PasskeyRecord {
  return {
    credentialId: row.credential_id,
    accountId: row.account_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: json(row.transports) as string[],
    createdAtMs: row.created_at.getTime(),
    lastUsedAtMs: msOrUndefined(row.last_used_at),
  };
}
