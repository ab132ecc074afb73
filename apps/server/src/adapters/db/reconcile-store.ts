import { inKeys } from './keys.ts';
import { sql, type ColumnType, type Kysely, type Selectable } from 'kysely';
import type { MismatchClass } from '../../reconcile/domain/classify.ts';
import {
  applyEntry,
  emptyLedger,
  type LedgerEntry,
  type LedgerEntryKind,
  type LedgerViolation,
  type PaymentLedger,
} from '../../reconcile/domain/ledger.ts';
import type {
  CaseUnderCheck,
  DisputeRecord,
  LedgerWrite,
  MirroredOrder,
  MismatchRecord,
  MismatchStatus,
  ReconcileRunRecord,
  ReconcileStore,
  WarningRecord,
} from '../../reconcile/ports.ts';
import { KyselyRunStore } from './containment-store.ts';
import type { Database } from './schema.ts';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null, Date | null>;
/** int8 comes back as a string from `pg` and as a number from PGlite. */
type Int8 = ColumnType<string | number, number, number>;
type Json<T> = ColumnType<T, string, string>;

/** Tables of migration 0008_reconciliation, kept beside their only user. */
type ReconcileTables = {
  reconcile_cursors: { name: string; cursor: string; updated_at: Timestamp };
  reconcile_runs: {
    run_id: string;
    mode: string;
    started_at: Timestamp;
    finished_at: Timestamp;
    scanned: Json<ReconcileRunRecord['scanned']>;
    mismatches: number;
    repaired: number;
    escalated: number;
  };
  reconcile_mismatches: {
    mismatch_id: string;
    mismatch_key: string;
    class: string;
    status: string;
    detected_at: Timestamp;
    resolved_at: NullableTimestamp;
    last_seen_at: Timestamp;
    case_id: string | null;
    account_id: string | null;
    order_id: string | null;
    payment_id: string | null;
    shipment_id: string | null;
    expected: string;
    actual: string;
    action: string;
    detail: Json<Record<string, unknown>>;
    repairs: number;
    run_id: string;
  };
  reconcile_ledger_entries: {
    reference_id: string;
    payment_id: string;
    kind: string;
    amount_minor: Int8;
    reference: string;
    at: Timestamp;
  };
  reconcile_ledgers: {
    payment_id: string;
    currency: string;
    authorized_minor: Int8;
    captured_minor: Int8;
    refunded_minor: Int8;
    disputed_minor: Int8;
    updated_at: Timestamp;
  };
  reconcile_orders: {
    order_id: string;
    account_id: string;
    payment_id: string | null;
    amount_minor: Int8;
    currency: string;
    placed_at: Timestamp;
    status: string;
  };
  reconcile_disputes: {
    dispute_id: string;
    payment_id: string | null;
    order_id: string | null;
    case_id: string | null;
    account_id: string | null;
    reason: string;
    status: string;
    action: string;
    evidence: Json<Record<string, unknown> | null>;
    updated_at: Timestamp;
  };
  reconcile_warnings: {
    warning_id: string;
    payment_id: string | null;
    order_id: string | null;
    case_id: string | null;
    decision: string;
    reason: string;
    reference: string | null;
    warned_at: Timestamp;
    decided_at: Timestamp;
  };
};

type Db = Kysely<Database & ReconcileTables>;

/** Rows per multi-row statement: well under PostgreSQL's 65,535 bind parameters. */
const rowsPerStatementMax = 1000;
/**
 * Keys per `in (…)` lookup. Past a few thousand keys PostgreSQL's planner trades the primary-key
 * index for a (parallel) scan of the whole table: 0.3 s a lookup at a million rows, against
 * milliseconds for the same keys asked a thousand at a time.
 */
const keysPerLookupMax = 1000;

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const undef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toOrder(row: Selectable<ReconcileTables['reconcile_orders']>): MirroredOrder {
  return {
    orderId: row.order_id,
    accountId: row.account_id,
    paymentId: undef(row.payment_id),
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    placedAtMs: row.placed_at.getTime(),
    status: row.status === 'cancelled' ? 'cancelled' : 'placed',
  };
}

function toMismatch(row: Selectable<ReconcileTables['reconcile_mismatches']>): MismatchRecord {
  return {
    mismatchId: row.mismatch_id,
    key: row.mismatch_key,
    class: row.class as MismatchClass,
    status: row.status as MismatchStatus,
    detectedAtMs: row.detected_at.getTime(),
    resolvedAtMs: row.resolved_at?.getTime(),
    lastSeenAtMs: row.last_seen_at.getTime(),
    caseId: undef(row.case_id),
    accountId: undef(row.account_id),
    orderId: undef(row.order_id),
    paymentId: undef(row.payment_id),
    shipmentId: undef(row.shipment_id),
    expected: row.expected,
    actual: row.actual,
    action: row.action,
    detail: row.detail,
    repairs: row.repairs,
    runId: row.run_id,
  };
}

function toLedger(row: Selectable<ReconcileTables['reconcile_ledgers']>): PaymentLedger {
  return {
    paymentId: row.payment_id,
    currency: row.currency,
    authorizedMinor: Number(row.authorized_minor),
    capturedMinor: Number(row.captured_minor),
    refundedMinor: Number(row.refunded_minor),
    disputedMinor: Number(row.disputed_minor),
  };
}

export class KyselyReconcileStore implements ReconcileStore {
  readonly #db: Db;
  readonly #runs: KyselyRunStore;

  constructor(db: Kysely<Database>) {
    this.#db = db.withTables<ReconcileTables>();
    this.#runs = new KyselyRunStore(db);
  }

  async cursor(name: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('reconcile_cursors')
      .select('cursor')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.cursor;
  }

  async setCursor(name: string, cursor: string, nowMs: number): Promise<void> {
    await this.#db
      .insertInto('reconcile_cursors')
      .values({ name, cursor, updated_at: new Date(nowMs) })
      .onConflict((oc) => oc.column('name').doUpdateSet({ cursor, updated_at: new Date(nowMs) }))
      .execute();
  }

  async upsertOrders(orders: readonly MirroredOrder[]): Promise<void> {
    for (const chunk of chunks(orders, rowsPerStatementMax * 5)) {
      // The last write of an order in a chunk wins (a feed page can hold one order once only).
      const candidates = [...new Map(chunk.map((o) => [o.orderId, o])).values()];
      // A full pass re-reads every order: only those that differ from the mirror are written.
      const mirrored = (
        await Promise.all(
          chunks(
            candidates.map((o) => o.orderId),
            keysPerLookupMax,
          ).map((keys) =>
            this.#db
              .selectFrom('reconcile_orders')
              .selectAll()
              .where('order_id', 'in', inKeys(keys))
              .execute(),
          ),
        )
      ).flat();
      const known = new Map(mirrored.map((r) => [r.order_id, toOrder(r)]));
      const unique = candidates.filter((o) => {
        const m = known.get(o.orderId);
        return (
          m === undefined ||
          m.status !== o.status ||
          m.paymentId !== o.paymentId ||
          m.amountMinor !== o.amountMinor ||
          m.currency !== o.currency
        );
      });
      if (unique.length === 0) continue;
      // One array per column (`unnest`): seven parameters for the chunk, not seven per row.
      await sql`insert into reconcile_orders
          (order_id, account_id, payment_id, amount_minor, currency, placed_at, status)
        select o, a, nullif(p, ''), m, c, t, s from unnest(
          ${sql.val(unique.map((o) => o.orderId))}::text[],
          ${sql.val(unique.map((o) => o.accountId))}::text[],
          ${sql.val(unique.map((o) => o.paymentId ?? ''))}::text[],
          ${sql.val(unique.map((o) => String(o.amountMinor)))}::bigint[],
          ${sql.val(unique.map((o) => o.currency))}::text[],
          ${sql.val(unique.map((o) => new Date(o.placedAtMs).toISOString()))}::timestamptz[],
          ${sql.val(unique.map((o) => o.status))}::text[]) as u(o, a, p, m, c, t, s)
        on conflict (order_id) do update set payment_id = excluded.payment_id,
          amount_minor = excluded.amount_minor, currency = excluded.currency, status = excluded.status`.execute(
        this.#db,
      );
    }
  }

  async refreshStatistics(): Promise<void> {
    // A mirror filled since the last ANALYZE has no statistics: the planner would then read the
    // whole table for each lookup by payment instead of the index.
    await sql`analyze reconcile_orders`.execute(this.#db);
  }

  async ordersByPayment(paymentIds: readonly string[]): Promise<Map<string, MirroredOrder>> {
    const found = new Map<string, MirroredOrder>();
    // The chunks are asked side by side (the pool has connections to spare during a pass).
    const answers = await Promise.all(
      chunks([...new Set(paymentIds)], keysPerLookupMax).map((chunk) =>
        this.#db
          .selectFrom('reconcile_orders')
          .selectAll()
          .where('payment_id', 'in', inKeys(chunk))
          .execute(),
      ),
    );
    for (const rows of answers)
      for (const row of rows) if (row.payment_id !== null) found.set(row.payment_id, toOrder(row));
    return found;
  }

  async ordersOfAccount(accountId: string, sinceMs: number): Promise<MirroredOrder[]> {
    const rows = await this.#db
      .selectFrom('reconcile_orders')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('placed_at', '>=', new Date(sinceMs))
      .orderBy('placed_at')
      .orderBy('order_id')
      .execute();
    return rows.map(toOrder);
  }

  async order(orderId: string): Promise<MirroredOrder | undefined> {
    const row = await this.#db
      .selectFrom('reconcile_orders')
      .selectAll()
      .where('order_id', '=', orderId)
      .executeTakeFirst();
    return row === undefined ? undefined : toOrder(row);
  }

  async writeLedger(writes: readonly LedgerWrite[], nowMs: number): Promise<LedgerViolation[]> {
    const violations: LedgerViolation[] = [];
    for (const chunk of chunks(writes, rowsPerStatementMax * 4)) {
      await this.#db.transaction().execute(async (trx) => {
        const unique = [...new Map(chunk.map((w) => [w.referenceId, w])).values()];
        const seen = [];
        for (const keys of chunks(
          unique.map((w) => w.referenceId),
          keysPerLookupMax,
        ))
          seen.push(
            ...(await trx
              .selectFrom('reconcile_ledger_entries')
              .select('reference_id')
              .where('reference_id', 'in', inKeys(keys))
              .execute()),
          );
        const already = new Set(seen.map((r) => r.reference_id));
        const fresh = unique.filter((w) => !already.has(w.referenceId));
        if (fresh.length === 0) return;
        const paymentIds = [...new Set(fresh.map((w) => w.paymentId))];
        const rows = [];
        for (const keys of chunks(paymentIds, keysPerLookupMax))
          rows.push(
            ...(await trx
              .selectFrom('reconcile_ledgers')
              .selectAll()
              .where('payment_id', 'in', inKeys(keys))
              .forUpdate()
              .execute()),
          );
        const ledgers = new Map(rows.map((r) => [r.payment_id, toLedger(r)]));
        const isNew = new Set(paymentIds.filter((id) => !ledgers.has(id)));
        const written: LedgerWrite[] = [];
        // Authorizations first: a page may carry a capture before the read that saw the authorization.
        const ordered = [...fresh].sort(
          (a, b) => Number(b.entry.kind === 'authorization') - Number(a.entry.kind === 'authorization'),
        );
        for (const w of ordered) {
          let before = ledgers.get(w.paymentId);
          if (before === undefined) {
            before = emptyLedger(w.paymentId, w.currency);
            if (w.authorizedMinorHint !== undefined && w.authorizedMinorHint > 0)
              before = { ...before, authorizedMinor: w.authorizedMinorHint };
          }
          const applied = applyEntry(before, w.entry, w.currency);
          if (!applied.ok) {
            violations.push(applied.error);
            continue;
          }
          ledgers.set(w.paymentId, applied.value);
          written.push(w);
        }
        if (written.length === 0) return;
        await sql`insert into reconcile_ledger_entries (reference_id, payment_id, kind, amount_minor, reference, at)
          select * from unnest(
            ${sql.val(written.map((w) => w.referenceId))}::text[],
            ${sql.val(written.map((w) => w.paymentId))}::text[],
            ${sql.val(written.map((w) => w.entry.kind))}::text[],
            ${sql.val(written.map((w) => String(w.entry.amountMinor)))}::bigint[],
            ${sql.val(written.map((w) => w.entry.reference))}::text[],
            ${sql.val(written.map((w) => new Date(w.entry.atMs).toISOString()))}::timestamptz[])`.execute(
          trx,
        );
        const touched = [...new Set(written.map((w) => w.paymentId))]
          .map((id) => ledgers.get(id))
          .filter((l) => l !== undefined);
        const now = new Date(nowMs).toISOString();
        // New ledgers are plain inserts (a conflict would be a bug, not a case to merge); known
        // ones, read under FOR UPDATE above, are replaced by their new totals.
        const write = async (ledgers: readonly PaymentLedger[], upsert: boolean): Promise<void> => {
          if (ledgers.length === 0) return;
          const rows = sql`select * from unnest(
              ${sql.val(ledgers.map((l) => l.paymentId))}::text[],
              ${sql.val(ledgers.map((l) => l.currency))}::text[],
              ${sql.val(ledgers.map((l) => String(l.authorizedMinor)))}::bigint[],
              ${sql.val(ledgers.map((l) => String(l.capturedMinor)))}::bigint[],
              ${sql.val(ledgers.map((l) => String(l.refundedMinor)))}::bigint[],
              ${sql.val(ledgers.map((l) => String(l.disputedMinor)))}::bigint[],
              ${sql.val(ledgers.map(() => now))}::timestamptz[])`;
          await (
            upsert
              ? sql`insert into reconcile_ledgers (payment_id, currency, authorized_minor, captured_minor,
                  refunded_minor, disputed_minor, updated_at) ${rows}
                on conflict (payment_id) do update set authorized_minor = excluded.authorized_minor,
                  captured_minor = excluded.captured_minor, refunded_minor = excluded.refunded_minor,
                  disputed_minor = excluded.disputed_minor, updated_at = excluded.updated_at`
              : sql`insert into reconcile_ledgers (payment_id, currency, authorized_minor, captured_minor,
                  refunded_minor, disputed_minor, updated_at) ${rows}`
          ).execute(trx);
        };
        await write(
          touched.filter((l) => isNew.has(l.paymentId)),
          false,
        );
        await write(
          touched.filter((l) => !isNew.has(l.paymentId)),
          true,
        );
      });
    }
    return violations;
  }

  async ledger(paymentId: string): Promise<{ ledger: PaymentLedger; entries: LedgerEntry[] } | undefined> {
    const row = await this.#db
      .selectFrom('reconcile_ledgers')
      .selectAll()
      .where('payment_id', '=', paymentId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const entries = await this.#db
      .selectFrom('reconcile_ledger_entries')
      .selectAll()
      .where('payment_id', '=', paymentId)
      .orderBy('at')
      .orderBy('reference_id')
      .execute();
    return {
      ledger: toLedger(row),
      entries: entries.map((e) => ({
        atMs: e.at.getTime(),
        kind: e.kind as LedgerEntryKind,
        amountMinor: Number(e.amount_minor),
        reference: e.reference,
      })),
    };
  }

  async #cases(caseIds: readonly string[]): Promise<CaseUnderCheck[]> {
    const out: CaseUnderCheck[] = [];
    for (const caseId of caseIds) {
      const run = await this.#runs.runForCase(caseId);
      if (run === undefined) continue;
      const kase = await this.#db
        .selectFrom('cases')
        .select('status')
        .where('case_id', '=', caseId)
        .executeTakeFirst();
      out.push({ run, caseStatus: kase?.status ?? 'open', steps: await this.#runs.steps(run.runId) });
    }
    return out;
  }

  async casesToCheck(query: {
    sinceMs: number | undefined;
    alsoCaseIds: readonly string[];
  }): Promise<CaseUnderCheck[]> {
    let select = this.#db
      .selectFrom('containment_runs')
      .select('case_id')
      .orderBy('created_at')
      .orderBy('case_id');
    if (query.sinceMs !== undefined) {
      const since = new Date(query.sinceMs);
      select = select.where((eb) => eb.or([eb('updated_at', '>=', since), eb('status', '=', 'running')]));
    }
    const rows = await select.execute();
    const ids = [...new Set([...rows.map((r) => r.case_id), ...query.alsoCaseIds])];
    return this.#cases(ids);
  }

  async caseForAccount(accountId: string): Promise<CaseUnderCheck | undefined> {
    const row = await this.#db
      .selectFrom('containment_runs')
      .select('case_id')
      .where('account_id', '=', accountId)
      .where('order_id', 'is', null)
      .orderBy('decided_at', 'desc')
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return (await this.#cases([row.case_id]))[0];
  }

  async accountsInContainment(accountIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const ids of chunks([...new Set(accountIds)], keysPerLookupMax)) {
      if (ids.length === 0) continue;
      const rows = await this.#db
        .selectFrom('containment_runs')
        .select(['account_id', 'case_id'])
        .where('account_id', 'in', inKeys(ids))
        .where('order_id', 'is', null)
        .execute();
      for (const row of rows) found.set(row.account_id, row.case_id);
    }
    return found;
  }

  async mismatchesByKey(keys: readonly string[]): Promise<Map<string, MismatchRecord>> {
    const found = new Map<string, MismatchRecord>();
    for (const chunk of chunks([...new Set(keys)], rowsPerStatementMax)) {
      if (chunk.length === 0) continue;
      const rows = await this.#db
        .selectFrom('reconcile_mismatches')
        .selectAll()
        .where('mismatch_key', 'in', inKeys(chunk))
        .execute();
      for (const row of rows) found.set(row.mismatch_key, toMismatch(row));
    }
    return found;
  }

  async saveMismatch(m: MismatchRecord): Promise<void> {
    const values = {
      mismatch_id: m.mismatchId,
      mismatch_key: m.key,
      class: m.class,
      status: m.status,
      detected_at: new Date(m.detectedAtMs),
      resolved_at: m.resolvedAtMs === undefined ? null : new Date(m.resolvedAtMs),
      last_seen_at: new Date(m.lastSeenAtMs),
      case_id: m.caseId ?? null,
      account_id: m.accountId ?? null,
      order_id: m.orderId ?? null,
      payment_id: m.paymentId ?? null,
      shipment_id: m.shipmentId ?? null,
      expected: m.expected,
      actual: m.actual,
      action: m.action,
      detail: JSON.stringify(m.detail),
      repairs: m.repairs,
      run_id: m.runId,
    };
    // Everything but the identity and the first detection changes on a later pass.
    const changes = Object.fromEntries(
      Object.entries(values).filter(
        ([k]) => k !== 'mismatch_id' && k !== 'mismatch_key' && k !== 'detected_at',
      ),
    ) as Omit<typeof values, 'mismatch_id' | 'mismatch_key' | 'detected_at'>;
    await this.#db
      .insertInto('reconcile_mismatches')
      .values(values)
      .onConflict((oc) => oc.column('mismatch_key').doUpdateSet(changes))
      .execute();
  }

  async listMismatches(query: {
    status?: MismatchStatus | undefined;
    class?: MismatchClass | undefined;
    limit: number;
  }): Promise<MismatchRecord[]> {
    let select = this.#db.selectFrom('reconcile_mismatches').selectAll();
    if (query.status !== undefined) select = select.where('status', '=', query.status);
    if (query.class !== undefined) select = select.where('class', '=', query.class);
    const rows = await select
      .orderBy('detected_at', 'desc')
      .orderBy('mismatch_id')
      .limit(query.limit)
      .execute();
    return rows.map(toMismatch);
  }

  async casesWithOpenMismatches(): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('reconcile_mismatches')
      .select('case_id')
      .distinct()
      .where('status', 'in', ['open', 'repaired'])
      .where('resolved_at', 'is', null)
      .where('case_id', 'is not', null)
      .execute();
    return rows.map((r) => r.case_id).filter((id): id is string => id !== null);
  }

  async saveRun(run: ReconcileRunRecord): Promise<void> {
    await this.#db
      .insertInto('reconcile_runs')
      .values({
        run_id: run.runId,
        mode: run.mode,
        started_at: new Date(run.startedAtMs),
        finished_at: new Date(run.finishedAtMs),
        scanned: JSON.stringify(run.scanned),
        mismatches: run.mismatches,
        repaired: run.repaired,
        escalated: run.escalated,
      })
      .execute();
  }

  async listRuns(limit: number): Promise<ReconcileRunRecord[]> {
    const rows = await this.#db
      .selectFrom('reconcile_runs')
      .selectAll()
      .orderBy('started_at', 'desc')
      .orderBy('run_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      runId: r.run_id,
      mode: r.mode === 'full' ? 'full' : 'incremental',
      startedAtMs: r.started_at.getTime(),
      finishedAtMs: r.finished_at.getTime(),
      scanned: r.scanned,
      mismatches: r.mismatches,
      repaired: r.repaired,
      escalated: r.escalated,
    }));
  }

  async dispute(disputeId: string): Promise<DisputeRecord | undefined> {
    const r = await this.#db
      .selectFrom('reconcile_disputes')
      .selectAll()
      .where('dispute_id', '=', disputeId)
      .executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      disputeId: r.dispute_id,
      paymentId: undef(r.payment_id),
      orderId: undef(r.order_id),
      caseId: undef(r.case_id),
      accountId: undef(r.account_id),
      reason: r.reason,
      status: r.status,
      action: r.action,
      evidence: r.evidence ?? undefined,
    };
  }

  async saveDispute(d: DisputeRecord, nowMs: number): Promise<void> {
    const values = {
      dispute_id: d.disputeId,
      payment_id: d.paymentId ?? null,
      order_id: d.orderId ?? null,
      case_id: d.caseId ?? null,
      account_id: d.accountId ?? null,
      reason: d.reason,
      status: d.status,
      action: d.action,
      evidence: JSON.stringify(d.evidence ?? null),
      updated_at: new Date(nowMs),
    };
    const changes = Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'dispute_id')) as Omit<
      typeof values,
      'dispute_id'
    >;
    await this.#db
      .insertInto('reconcile_disputes')
      .values(values)
      .onConflict((oc) => oc.column('dispute_id').doUpdateSet(changes))
      .execute();
  }

  async warning(warningId: string): Promise<WarningRecord | undefined> {
    const r = await this.#db
      .selectFrom('reconcile_warnings')
      .selectAll()
      .where('warning_id', '=', warningId)
      .executeTakeFirst();
    if (r === undefined) return undefined;
    return {
      warningId: r.warning_id,
      paymentId: undef(r.payment_id),
      orderId: undef(r.order_id),
      caseId: undef(r.case_id),
      decision: r.decision,
      reason: r.reason,
      reference: undef(r.reference),
      warnedAtMs: r.warned_at.getTime(),
      decidedAtMs: r.decided_at.getTime(),
    };
  }

  async saveWarning(w: WarningRecord): Promise<void> {
    await this.#db
      .insertInto('reconcile_warnings')
      .values({
        warning_id: w.warningId,
        payment_id: w.paymentId ?? null,
        order_id: w.orderId ?? null,
        case_id: w.caseId ?? null,
        decision: w.decision,
        reason: w.reason,
        reference: w.reference ?? null,
        warned_at: new Date(w.warnedAtMs),
        decided_at: new Date(w.decidedAtMs),
      })
      .onConflict((oc) => oc.column('warning_id').doNothing())
      .execute();
  }

  async warningRefunds(paymentIds: readonly string[]): Promise<string[]> {
    if (paymentIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom('reconcile_warnings')
      .select('reference')
      .where('payment_id', 'in', [...new Set(paymentIds)])
      .where('decision', '=', 'refund')
      .execute();
    return rows.map((r) => r.reference).filter((x): x is string => x !== null);
  }
}

/** Ledger totals and entries for the benchmark's baseline and checks. */
export async function countMirroredOrders(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ n: string | number }>`select count(*) as n from reconcile_orders`.execute(db);
  return Number(rows[0]?.n ?? 0);
}
