import type { FulfilmentPort } from '../connectors/domain/fulfilment.ts';
import type {
  BalanceTransaction,
  Dispute,
  EarlyFraudWarning,
  FeedPage,
  PaymentsPort,
} from '../connectors/domain/payments.ts';
import type { ProviderResult } from '../connectors/domain/provider-result.ts';
import type { NewStep, StepName, StepRecord } from '../containment/domain/model.ts';
import { terminalStepStates } from '../containment/domain/model.ts';
import type { RunStore } from '../containment/ports.ts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import { dayMs } from '../core/time.ts';
import {
  classifyMovement,
  classifyOrder,
  resolveRemedy,
  type Finding,
  type ProviderOrder,
  type ProviderShipment,
  type RecordedOrder,
} from './domain/classify.ts';
import { entryOfBalanceTransaction } from './domain/ledger.ts';
import { decideDispute, decideWarning, isOpenDispute } from './domain/policy.ts';
import type {
  CaseUnderCheck,
  LedgerWrite,
  MirroredOrder,
  MismatchRecord,
  OrderFeed,
  ReconcileRunRecord,
  ReconcileStore,
} from './ports.ts';

export interface ReconcilerDeps {
  readonly store: ReconcileStore;
  readonly runs: RunStore;
  readonly payments: PaymentsPort;
  readonly fulfilment: FulfilmentPort;
  readonly orders: OrderFeed;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** Told after repairs reopened containment steps (main wakes the engine). */
  readonly onRepair?: () => void;
  /** Told how long each phase of a pass took, in wall milliseconds (the benchmark's breakdown). */
  readonly onPhase?: (phase: ReconcilePhase, ms: number) => void;
}

export type ReconcilePhase = 'mirror' | 'movements' | 'disputes' | 'warnings' | 'cases' | 'mismatches';

/** Provider list calls answer at most this many items (Stripe's bound). */
const providerPageMax = 100;
const orderPageMax = 5000;
/** Balance transactions handled per batch (one mirror lookup, one ledger write). */
const movementBatchMax = 5000;
/** Pages read per feed in one pass at most: a pass ends, and the next goes on from the cursor. */
const feedPagesMax = 1_000_000;
/** Orders a case covers when the run recorded no window. */
const caseLookbackMs = 30 * dayMs;

/** A full pass reads each feed in this many time slices… */
const fullPassSlices = 64;
/** …at most this many at once (each its own cursor, one page after another). */
const fullPassReadsAhead = 8;

/**
 * `count` creation-time slices covering everything: the first is open below, the last open
 * above, so items outside [fromMs, untilMs] fall in one of them too. Inner bounds are whole
 * seconds (a provider that filters by the second, as Stripe does, splits at the same points).
 */
export function timeSlices(
  fromMs: number,
  untilMs: number,
  count: number,
): { fromMs?: number; beforeMs?: number }[] {
  const lo = Math.floor(fromMs / 1000);
  const hi = Math.max(lo + 1, Math.ceil(untilMs / 1000));
  const n = Math.max(1, Math.min(count, hi - lo));
  const bounds: number[] = [];
  for (let i = 1; i < n; i += 1) bounds.push((lo + Math.floor(((hi - lo) * i) / n)) * 1000);
  return Array.from({ length: n }, (_, i) => {
    const from = i === 0 ? undefined : bounds[i - 1];
    const before = i === n - 1 ? undefined : bounds[i];
    return {
      ...(from === undefined ? {} : { fromMs: from }),
      ...(before === undefined ? {} : { beforeMs: before }),
    };
  });
}

/** Ledger writes of one batch go in this many lanes at once (disjoint payments). */
const ledgerLanes = 4;

/** The lane of a payment: a stable hash of its id. */
function laneOf(paymentId: string): number {
  let h = 0;
  for (let i = 0; i < paymentId.length; i += 1) h = (h * 31 + paymentId.charCodeAt(i)) | 0;
  return Math.abs(h) % ledgerLanes;
}

interface SliceRead<T> {
  readonly items: T[];
  readonly ok: boolean;
}

/** One time slice read to its end, page after page, with its own cursor. */
async function readSlice<T>(
  list: (cursor: string | undefined) => Promise<ProviderResult<FeedPage<T>>>,
): Promise<SliceRead<T>> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < feedPagesMax; page += 1) {
    const read = await list(cursor);
    if (!read.ok) return { items, ok: false };
    items.push(...read.value.items);
    cursor = read.value.nextCursor;
    if (!read.value.hasMore) break;
  }
  return { items, ok: true };
}

/** Runs `work` on every item, at most `limit` at once; the first failure is thrown once all settled. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let nextIndex = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const i = nextIndex;
      nextIndex += 1;
      try {
        await work(items[i] as T, i);
      } catch (e) {
        errors.push(e);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

const cursorNames = {
  orders: 'orders',
  balance: 'balance_transactions',
  disputes: 'disputes',
  warnings: 'early_fraud_warnings',
} as const;

type Scanned = { -readonly [K in keyof ReconcileRunRecord['scanned']]: number };

const paymentSteps: ReadonlySet<StepName> = new Set(['void-authorization', 'refund-capture']);
const shipmentSteps: ReadonlySet<StepName> = new Set([
  'hold-shipment',
  'cancel-shipment',
  'request-intercept',
]);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): readonly Record<string, unknown>[] =>
  Array.isArray(v) ? (v as Record<string, unknown>[]) : [];

/** The orders a case covers, as its sweep recorded them. */
export function sweptOrders(steps: readonly StepRecord[]): {
  orderId: string;
  paymentId?: string;
  placedAtMs?: number;
  amount?: { value: number; currency: string };
}[] {
  const sweep = steps.find((s) => s.name === 'sweep-orders');
  return arr(sweep?.outcome?.orders).map((o) => ({
    orderId: str(o.orderId) ?? '',
    ...(str(o.paymentId) === undefined ? {} : { paymentId: str(o.paymentId) }),
    ...(num(o.placedAtMs) === undefined ? {} : { placedAtMs: num(o.placedAtMs) }),
    ...(o.amount === undefined ? {} : { amount: o.amount as { value: number; currency: string } }),
  }));
}

/** The window of orders a case covers: from its sweep's `since` to the fraud decision. */
export function caseWindow(c: CaseUnderCheck): { sinceMs: number; untilMs: number } {
  const sweep = c.steps.find((s) => s.name === 'sweep-orders');
  const sinceMs = num(sweep?.outcome?.sinceMs) ?? c.run.sinceMs ?? c.run.decidedAtMs - caseLookbackMs;
  return { sinceMs, untilMs: c.run.decidedAtMs };
}

/** The orders of a case: those its sweep recorded, and any mirrored order of the window it missed. */
export async function ordersOfCase(store: ReconcileStore, c: CaseUnderCheck): Promise<MirroredOrder[]> {
  const swept = sweptOrders(c.steps);
  const byId = new Map<string, MirroredOrder>();
  if (c.run.orderId === undefined) {
    const { sinceMs, untilMs } = caseWindow(c);
    for (const o of await store.ordersOfAccount(c.run.accountId, sinceMs))
      if (o.placedAtMs <= untilMs) byId.set(o.orderId, o);
  }
  for (const s of swept) {
    if (byId.has(s.orderId)) continue;
    const mirrored = await store.order(s.orderId);
    byId.set(
      s.orderId,
      mirrored ?? {
        orderId: s.orderId,
        accountId: c.run.accountId,
        paymentId: s.paymentId,
        amountMinor: s.amount?.value ?? 0,
        currency: s.amount?.currency ?? 'JPY',
        placedAtMs: s.placedAtMs ?? c.run.decidedAtMs,
        status: 'placed',
      },
    );
  }
  return [...byId.values()].sort((a, b) => a.placedAtMs - b.placedAtMs || (a.orderId < b.orderId ? -1 : 1));
}

/** What our steps recorded about one order. */
export function recordedOrder(
  c: CaseUnderCheck,
  order: MirroredOrder,
  otherKnownRefundIds: readonly string[],
): RecordedOrder {
  const of = (name: StepName) => c.steps.find((s) => s.name === name && s.target === order.orderId);
  const paymentStep = c.steps.find((s) => paymentSteps.has(s.name) && s.target === order.orderId);
  const shipmentStep = c.steps.find((s) => shipmentSteps.has(s.name) && s.target === order.orderId);
  const confirm = of('confirm-payment-outcome');
  const refundIds = new Set<string>();
  const stepRefund = str(paymentStep?.outcome?.refundId);
  if (stepRefund !== undefined) refundIds.add(stepRefund);
  for (const id of (confirm?.outcome?.refundIds as unknown[] | undefined) ?? [])
    if (typeof id === 'string') refundIds.add(id);
  const action = str(paymentStep?.outcome?.action);
  const confirmed = confirm?.state === 'done' ? str(confirm.outcome?.confirmed) : undefined;
  return {
    caseId: c.run.caseId,
    accountId: c.run.accountId,
    decidedAtMs: c.run.decidedAtMs,
    orderId: order.orderId,
    placedAtMs: order.placedAtMs,
    amountMinor: order.amountMinor,
    currency: order.currency,
    paymentId: order.paymentId,
    paymentStep: paymentStep?.name,
    shipmentStep: shipmentStep?.name,
    recordedRefundIds: [...refundIds],
    recordedRefund: action === 'refunded' || action === 'refund_requested' || confirmed === 'refunded',
    confirmedMinor: confirmed === undefined ? undefined : num(confirm?.outcome?.confirmedMinor),
    confirmedOutcome: confirmed,
    otherKnownRefundIds,
  };
}

/** An order is checked once the steps that act on it are finished: no finding races a running step. */
function settledFor(c: CaseUnderCheck, orderId: string): boolean {
  const sweep = c.steps.find((s) => s.name === 'sweep-orders');
  if (sweep === undefined || !terminalStepStates.has(sweep.state)) return false;
  return c.steps.filter((s) => s.target === orderId).every((s) => terminalStepStates.has(s.state));
}

/** What a pass found, by finding key, with the case and run it concerns. */
type Findings = Map<
  string,
  {
    finding: Finding;
    caseId: string | undefined;
    accountId: string | undefined;
    runId: string | undefined;
    params?: Record<string, string>;
  }
>;

/**
 * The reconciler: reads the provider's books forward from stored cursors (or from the start on a
 * full pass), matches them against Bulwark's cases, containment steps and mirrored orders, and
 * for every divergence re-runs the containment step under its own key or escalates it.
 */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  #inFlight: Promise<ReconcileRunRecord> | undefined;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  /** One pass. Passes never overlap: a second call while one runs waits for it, then runs. */
  async run(mode: 'incremental' | 'full' = 'incremental'): Promise<ReconcileRunRecord> {
    while (this.#inFlight !== undefined) await this.#inFlight.catch(() => undefined);
    const pass = this.#pass(mode);
    this.#inFlight = pass;
    try {
      return await pass;
    } finally {
      this.#inFlight = undefined;
    }
  }

  async #pass(mode: 'incremental' | 'full'): Promise<ReconcileRunRecord> {
    const { store, clock } = this.#d;
    const startedAtMs = clock.now();
    const previous = (await store.listRuns(1))[0];
    // Chained on the previous pass: two passes in the same millisecond still get two ids.
    const runId = this.#d.ids.next('recon', `${mode}:${String(startedAtMs)}:${previous?.runId ?? ''}`);
    const full = mode === 'full';
    const scanned: Scanned = {
      payments: 0,
      balanceTransactions: 0,
      refunds: 0,
      disputes: 0,
      earlyFraudWarnings: 0,
      shipments: 0,
    };
    const findings: Findings = new Map();
    const lastRun = full ? undefined : previous;

    let phaseStarted = performance.now();
    const phase = (name: ReconcilePhase): void => {
      const now = performance.now();
      this.#d.onPhase?.(name, now - phaseStarted);
      phaseStarted = now;
    };
    await this.#mirrorOrders(full);
    if (full) await store.refreshStatistics();
    phase('mirror');
    const touchedPayments = await this.#movements(full, scanned, findings);
    phase('movements');
    await this.#disputes(full, scanned, findings);
    phase('disputes');
    await this.#warnings(full, scanned);
    phase('warnings');

    // Cases to check: all (full), else those changed since the last pass, with open mismatches, or whose money moved.
    // (A full pass checks every case: no need to find which ones the money touched.)
    const alsoCaseIds: string[] = [];
    if (!full) {
      const touchedOrders = await store.ordersByPayment([...touchedPayments]);
      const touchedAccounts = await store.accountsInContainment(
        [...touchedOrders.values()].map((o) => o.accountId),
      );
      alsoCaseIds.push(...(await store.casesWithOpenMismatches()), ...touchedAccounts.values());
    }
    const cases = await store.casesToCheck({ sinceMs: full ? undefined : lastRun?.startedAtMs, alsoCaseIds });
    const checkedCases = new Set<string>();
    for (const c of cases) {
      checkedCases.add(c.run.caseId);
      await this.#checkCase(c, scanned, findings);
    }

    phase('cases');
    let repaired = 0;
    let escalated = 0;
    const existing = await store.mismatchesByKey([...findings.keys()]);
    const repairsByRun = new Map<string, NewStep[]>();
    for (const [key, f] of findings) {
      const before = existing.get(key);
      const remedy = resolveRemedy(f.finding, before?.repairs ?? 0);
      // Already with a person, or already recorded: seen again, nothing new to do.
      const handled =
        before !== undefined &&
        ((before.status === 'escalated' && before.resolvedAtMs === undefined) ||
          (before.status === 'repaired' && remedy.kind === 'record'));
      if (handled) {
        await store.saveMismatch({ ...before, lastSeenAtMs: startedAtMs });
        continue;
      }
      let status: MismatchRecord['status'];
      let action: string;
      let repairs = before?.repairs ?? 0;
      if (remedy.kind === 'repair' && f.runId !== undefined) {
        const steps = remedy.steps.map((s) => ({
          name: s.name,
          target: s.target,
          ...(f.params === undefined ? {} : { params: f.params }),
        }));
        repairsByRun.set(f.runId, [...(repairsByRun.get(f.runId) ?? []), ...steps]);
        status = 'repaired';
        repairs += 1;
        action = `re-ran ${remedy.steps.map((s) => `${s.name}:${s.target} under bulwark:${f.caseId ?? ''}:${s.name}:${s.target}`).join(', ')}`;
        repaired += 1;
      } else if (remedy.kind === 'record') {
        status = 'repaired';
        action = 'recorded the provider refund in the ledger and linked it to the case';
        repaired += 1;
      } else {
        status = 'escalated';
        action =
          remedy.kind === 'escalate'
            ? `escalated: ${remedy.reason}`
            : 'escalated: no containment run to repair with';
        escalated += 1;
      }
      await store.saveMismatch({
        mismatchId: before?.mismatchId ?? this.#d.ids.next('mm', key),
        key,
        class: f.finding.class,
        status,
        detectedAtMs: before?.detectedAtMs ?? startedAtMs,
        resolvedAtMs: remedy.kind === 'record' ? startedAtMs : undefined,
        lastSeenAtMs: startedAtMs,
        caseId: f.caseId,
        accountId: f.accountId,
        orderId: f.finding.orderId,
        paymentId: f.finding.paymentId,
        shipmentId: f.finding.shipmentId,
        expected: f.finding.expected,
        actual: f.finding.actual,
        action,
        detail: f.finding.detail,
        repairs,
        runId,
      });
    }
    for (const [containmentRunId, steps] of repairsByRun)
      await this.#d.runs.reopenForRepair({ runId: containmentRunId, steps, nowMs: clock.now() });
    if (repairsByRun.size > 0) this.#d.onRepair?.();

    // What an earlier pass found in a case checked now, and not found again, is resolved; money
    // once unmatched is resolved when the order it belongs to reaches the mirror (a store feed lag).
    const standing = (await store.listMismatches({ limit: 10_000 })).filter(
      (m) => m.resolvedAtMs === undefined && !findings.has(m.key),
    );
    const unmatched = standing.filter((m) => m.class === 'money_unmatched' && m.paymentId !== undefined);
    const nowMatched = await store.ordersByPayment(unmatched.map((m) => m.paymentId ?? ''));
    for (const m of standing) {
      const resolved =
        m.class === 'money_unmatched'
          ? m.paymentId !== undefined && nowMatched.has(m.paymentId)
          : m.caseId !== undefined && checkedCases.has(m.caseId);
      if (resolved) await store.saveMismatch({ ...m, resolvedAtMs: startedAtMs });
    }

    phase('mismatches');
    const record: ReconcileRunRecord = {
      runId,
      mode,
      startedAtMs,
      finishedAtMs: clock.now(),
      scanned,
      mismatches: findings.size,
      repaired,
      escalated,
    };
    await store.saveRun(record);
    return record;
  }

  async #mirrorOrders(full: boolean): Promise<void> {
    const { store, orders, clock } = this.#d;
    /** Follows the feed from `from` to its end; the cursor reached. */
    const follow = async (
      from: string | undefined,
      changed?: { fromMs?: number; beforeMs?: number },
    ): Promise<string | undefined> => {
      let cursor = from;
      // The next page is read while this one is written: the store and our database work at once.
      let next = orders.listOrdersAfter(cursor, orderPageMax, changed);
      for (let page = 0; page < feedPagesMax; page += 1) {
        const read = await next;
        if (read.hasMore) next = orders.listOrdersAfter(read.nextCursor, orderPageMax, changed);
        if (read.items.length > 0) await store.upsertOrders(read.items);
        cursor = read.nextCursor;
        if (!read.hasMore) break;
      }
      return cursor;
    };
    if (!full) {
      const cursor = await follow(await store.cursor(cursorNames.orders));
      if (cursor !== undefined) await store.setCursor(cursorNames.orders, cursor, clock.now());
      return;
    }
    // A full pass reads change-time slices side by side: the mirror is order-free (one row per
    // order, written only when it differs), so the slices need no sequence. Then it follows the
    // feed from the end of the newest slice, and keeps that cursor for the incremental passes.
    const probe = await orders.listOrdersAfter(undefined, 1);
    const first = probe.items[0];
    if (first === undefined) return;
    const slices = timeSlices(first.placedAtMs, clock.now(), fullPassSlices);
    const ends: (string | undefined)[] = Array.from({ length: slices.length }, () => undefined);
    await eachLimited(slices, fullPassReadsAhead, async (slice, i) => {
      const end = await follow(undefined, slice);
      ends[i] = end;
    });
    let newest: string | undefined;
    for (const end of ends) if (end !== undefined) newest = end;
    const cursor = await follow(newest);
    if (cursor !== undefined) await store.setCursor(cursorNames.orders, cursor, clock.now());
  }

  async #movements(full: boolean, scanned: Scanned, findings: Findings): Promise<Set<string>> {
    const { store, payments, clock } = this.#d;
    const touched = new Set<string>();
    const flush = async (batch: readonly BalanceTransaction[]): Promise<void> => {
      if (batch.length === 0) return;
      const orders = await store.ordersByPayment(
        batch.map((t) => t.paymentId).filter((id): id is string => id !== undefined),
      );
      const writes: LedgerWrite[] = [];
      for (const txn of batch) {
        const order = txn.paymentId === undefined ? undefined : orders.get(txn.paymentId);
        // A full pass checks every case: it need not know which payments moved.
        if (!full && txn.paymentId !== undefined) touched.add(txn.paymentId);
        const entry = entryOfBalanceTransaction(txn);
        if (entry === undefined) continue;
        const finding = classifyMovement(txn, order);
        if (finding !== undefined)
          findings.set(finding.key, {
            finding,
            caseId: undefined,
            accountId: order?.accountId,
            runId: undefined,
          });
        if (txn.paymentId === undefined || order === undefined) continue;
        writes.push({
          paymentId: txn.paymentId,
          currency: txn.currency,
          referenceId: txn.transactionId,
          entry,
          // A payment first seen here starts from the order's authorization (the provider
          // authorized the checkout's amount); its own read replaces it when the case reads it.
          authorizedMinorHint: order.amountMinor,
        });
      }
      // Written in lanes side by side: all the movements of one payment fall in one lane, in
      // feed order, so each payment's ledger still sees them one after another (S1 holds).
      const lanes: LedgerWrite[][] = Array.from({ length: ledgerLanes }, () => []);
      for (const w of writes) lanes[laneOf(w.paymentId)]?.push(w);
      const now = clock.now();
      const violations = (
        await Promise.all(lanes.filter((l) => l.length > 0).map((l) => store.writeLedger(l, now)))
      ).flat();
      for (const v of violations) {
        const key = `amounts_differ:ledger:${v.entry.reference}`;
        findings.set(key, {
          finding: {
            class: 'amounts_differ',
            key,
            paymentId: v.before.paymentId,
            expected: 'refunded ≤ captured ≤ authorized (S1)',
            actual: v.message,
            detail: { rule: v.rule, entry: v.entry, before: v.before },
            remedy: {
              kind: 'escalate',
              reason: 'the provider ledger breaks S1 against the order: a person must look',
            },
          },
          caseId: undefined,
          accountId: undefined,
          runId: undefined,
        });
      }
    };
    /** Reads the feed in append order from `from` to its end, writing batch by batch; the cursor reached, or undefined on a failed read. */
    const follow = async (from: string | undefined): Promise<{ cursor: string | undefined; ok: boolean }> => {
      let cursor = from;
      let batch: BalanceTransaction[] = [];
      let ok = true;
      // The next page is read while a batch is written (the provider and our database work at once).
      let next = payments.listBalanceTransactions({ cursor, limit: providerPageMax });
      for (let page = 0; page < feedPagesMax; page += 1) {
        const read = await next;
        if (!read.ok) {
          ok = false;
          break;
        }
        if (read.value.hasMore)
          next = payments.listBalanceTransactions({ cursor: read.value.nextCursor, limit: providerPageMax });
        scanned.balanceTransactions += read.value.items.length;
        batch.push(...read.value.items);
        if (batch.length >= movementBatchMax) {
          await flush(batch);
          batch = [];
        }
        cursor = read.value.nextCursor;
        if (!read.value.hasMore) break;
      }
      await flush(batch);
      return { cursor, ok };
    };

    if (!full) {
      const { cursor } = await follow(await store.cursor(cursorNames.balance));
      if (cursor !== undefined) await store.setCursor(cursorNames.balance, cursor, clock.now());
      return touched;
    }

    // A full pass reads the feed in creation-time slices, several side by side (each with its own
    // cursor, at the provider's page size), and writes them in time order: a refund is never
    // applied before the capture it returns. Then it follows the feed in append order from the
    // newest movement seen, and keeps that as the cursor the incremental passes go on from.
    const probe = await payments.listBalanceTransactions({ limit: 1 });
    if (!probe.ok) return touched;
    const first = probe.value.items[0];
    if (first === undefined) return touched;
    const slices = timeSlices(first.createdAtMs, clock.now(), fullPassSlices);
    const reads: Promise<SliceRead<BalanceTransaction>>[] = [];
    const start = (i: number): void => {
      const slice = slices[i];
      if (slice === undefined) return;
      const read = readSlice((cursor) =>
        payments.listBalanceTransactions({
          cursor,
          limit: providerPageMax,
          createdFromMs: slice.fromMs,
          createdBeforeMs: slice.beforeMs,
        }),
      );
      read.catch(() => undefined); // awaited in order below; this only marks it handled meanwhile
      reads[i] = read;
    };
    for (let i = 0; i < fullPassReadsAhead; i += 1) start(i);
    let newest: string | undefined;
    let complete = true;
    for (let i = 0; i < slices.length; i += 1) {
      const read = await (reads[i] as Promise<SliceRead<BalanceTransaction>>);
      start(i + fullPassReadsAhead);
      if (!read.ok) complete = false;
      scanned.balanceTransactions += read.items.length;
      for (let at = 0; at < read.items.length; at += movementBatchMax)
        await flush(read.items.slice(at, at + movementBatchMax));
      if (read.items.length > 0) newest = read.items.at(-1)?.transactionId;
    }
    // A slice that could not be read leaves the cursor where it was: the next pass reads again.
    if (!complete || newest === undefined) return touched;
    const tail = await follow(newest);
    if (tail.ok && tail.cursor !== undefined)
      await store.setCursor(cursorNames.balance, tail.cursor, clock.now());
    return touched;
  }

  async #disputes(full: boolean, scanned: Scanned, findings: Findings): Promise<void> {
    const { store, payments, clock } = this.#d;
    let cursor = full ? undefined : await store.cursor(cursorNames.disputes);
    for (let page = 0; page < feedPagesMax; page += 1) {
      const read = await payments.listDisputes({ cursor, limit: providerPageMax });
      if (!read.ok) break;
      scanned.disputes += read.value.items.length;
      for (const dispute of read.value.items) {
        const f = await this.#handleDispute(dispute);
        if (f !== undefined) findings.set(f.finding.key, f);
      }
      cursor = read.value.nextCursor;
      if (!read.value.hasMore) break;
    }
    if (cursor !== undefined) await store.setCursor(cursorNames.disputes, cursor, clock.now());
  }

  /** Links a dispute to its case and answers it: accept, or assemble the evidence. */
  async #handleDispute(dispute: Dispute): Promise<
    | {
        finding: Finding;
        caseId: string | undefined;
        accountId: string | undefined;
        runId: string | undefined;
      }
    | undefined
  > {
    const { store, payments, clock } = this.#d;
    const known = await store.dispute(dispute.disputeId);
    const order =
      dispute.paymentId === undefined
        ? undefined
        : (await store.ordersByPayment([dispute.paymentId])).get(dispute.paymentId);
    const caseId =
      order === undefined
        ? undefined
        : (await store.accountsInContainment([order.accountId])).get(order.accountId);
    const kase = order === undefined ? undefined : await store.caseForAccount(order.accountId);
    const payment =
      dispute.paymentId === undefined ? undefined : await payments.getPayment(dispute.paymentId);
    const refundedMinor =
      payment?.ok === true ? payment.value.refundedMinor + payment.value.refundPendingMinor : 0;
    const decision = decideDispute({ dispute, accountInContainment: caseId !== undefined, refundedMinor });
    if (known !== undefined && known.action !== 'link') {
      return decision.action === 'evidence'
        ? this.#refundedDisputeFinding(dispute, order, caseId, known.evidence)
        : undefined;
    }
    let action: string = decision.action;
    let evidence: Record<string, unknown> | undefined;
    if (decision.action === 'accept' && caseId !== undefined && isOpenDispute(dispute)) {
      const accepted =
        dispute.stage === 'chargeback'
          ? await payments.acceptDispute({
              disputeId: dispute.disputeId,
              idempotencyKey: `bulwark:${caseId}:accept-dispute:${dispute.disputeId}`,
            })
          : undefined;
      action =
        accepted === undefined
          ? 'accept_by_refund'
          : accepted.ok
            ? 'accepted'
            : `accept_failed: ${accepted.error.message}`;
    }
    if (decision.action === 'evidence') {
      evidence = await this.#evidence(dispute, order, kase);
    }
    await store.saveDispute(
      {
        disputeId: dispute.disputeId,
        paymentId: dispute.paymentId,
        orderId: order?.orderId,
        caseId,
        accountId: order?.accountId,
        reason: dispute.reason,
        status: dispute.status,
        action,
        evidence,
      },
      clock.now(),
    );
    return decision.action === 'evidence'
      ? this.#refundedDisputeFinding(dispute, order, caseId, evidence)
      : undefined;
  }

  #refundedDisputeFinding(
    dispute: Dispute,
    order: MirroredOrder | undefined,
    caseId: string | undefined,
    evidence: Readonly<Record<string, unknown>> | undefined,
  ) {
    const key = `dispute_on_refunded_order:${dispute.disputeId}`;
    return {
      finding: {
        class: 'dispute_on_refunded_order' as const,
        key,
        orderId: order?.orderId,
        paymentId: dispute.paymentId,
        expected: 'no dispute on an order Bulwark refunded',
        actual: `dispute ${dispute.disputeId} (${dispute.reason}) of ${String(dispute.amountMinor)} ${dispute.currency} on a refunded order`,
        detail: { disputeId: dispute.disputeId, evidence: evidence ?? {} },
        remedy: {
          kind: 'escalate' as const,
          reason: `submit evidence package for ${dispute.disputeId} (refund reference, timeline, notifications) before ${dispute.evidenceDueByMs === undefined ? 'the deadline' : new Date(dispute.evidenceDueByMs).toISOString()}`,
        },
      },
      caseId,
      accountId: order?.accountId,
      runId: undefined,
    };
  }

  /** The evidence package: the refund reference, the timeline and the notifications sent. */
  async #evidence(
    dispute: Dispute,
    order: MirroredOrder | undefined,
    kase: CaseUnderCheck | undefined,
  ): Promise<Record<string, unknown>> {
    const { payments, store, clock } = this.#d;
    const refunds =
      dispute.paymentId === undefined ? undefined : await payments.listRefunds(dispute.paymentId);
    const ledger = dispute.paymentId === undefined ? undefined : await store.ledger(dispute.paymentId);
    const steps = kase?.steps.filter((s) => s.target === undefined || s.target === order?.orderId) ?? [];
    const notify = kase?.steps.find((s) => s.name === 'notify-owner' && s.state === 'done');
    const timeline = [
      ...(order === undefined ? [] : [{ atMs: order.placedAtMs, what: `order ${order.orderId} placed` }]),
      ...(kase === undefined
        ? []
        : [{ atMs: kase.run.decidedAtMs, what: `fraud decision, case ${kase.run.caseId}` }]),
      ...steps
        .filter((s) => s.doneAtMs !== undefined)
        .map((s) => ({ atMs: s.doneAtMs ?? 0, what: `${s.stepKey}: ${s.state}` })),
      ...(ledger?.entries ?? []).map((e) => ({
        atMs: e.atMs,
        what: `${e.kind} ${String(e.amountMinor)} (${e.reference})`,
      })),
      { atMs: dispute.createdAtMs, what: `dispute ${dispute.disputeId} opened (${dispute.reason})` },
    ].sort((a, b) => a.atMs - b.atMs);
    return {
      disputeId: dispute.disputeId,
      paymentId: dispute.paymentId,
      orderId: order?.orderId,
      caseId: kase?.run.caseId,
      refunds:
        refunds?.ok === true
          ? refunds.value.map((r) => ({
              refundId: r.refundId,
              amountMinor: r.amountMinor,
              currency: r.currency,
              status: r.status,
              createdAtMs: r.createdAtMs,
            }))
          : [],
      timeline,
      notifications:
        notify === undefined
          ? []
          : [
              {
                channel: str(notify.outcome?.channel),
                messageId: str(notify.outcome?.messageId),
                sentAtMs: num(notify.outcome?.sentAtMs),
              },
            ],
      assembledAtMs: clock.now(),
    };
  }

  async #warnings(full: boolean, scanned: Scanned): Promise<void> {
    const { store, payments, clock } = this.#d;
    let cursor = full ? undefined : await store.cursor(cursorNames.warnings);
    for (let page = 0; page < feedPagesMax; page += 1) {
      const read = await payments.listEarlyFraudWarnings({ cursor, limit: providerPageMax });
      if (!read.ok) break;
      scanned.earlyFraudWarnings += read.value.items.length;
      for (const warning of read.value.items) await this.#handleWarning(warning);
      cursor = read.value.nextCursor;
      if (!read.value.hasMore) break;
    }
    if (cursor !== undefined) await store.setCursor(cursorNames.warnings, cursor, clock.now());
  }

  /** Refund-or-keep for one early fraud warning, once; the decision and its reference are kept. */
  async #handleWarning(warning: EarlyFraudWarning): Promise<void> {
    const { store, payments, fulfilment, clock } = this.#d;
    if ((await store.warning(warning.warningId)) !== undefined || warning.paymentId === undefined) return;
    const read = await payments.getPayment(warning.paymentId);
    if (!read.ok) return; // read again on the next pass: the cursor is only a start point for new ones
    const order = (await store.ordersByPayment([warning.paymentId])).get(warning.paymentId);
    const caseId =
      order === undefined
        ? undefined
        : (await store.accountsInContainment([order.accountId])).get(order.accountId);
    let unshipped = true;
    if (order !== undefined) {
      const shipments = await fulfilment.getOrder(order.orderId);
      if (shipments.ok)
        unshipped = shipments.value.shipments.every((s) =>
          ['pending', 'held', 'labelled', 'cancelled', 'returned'].includes(s.status),
        );
    }
    const decision = decideWarning({
      warning,
      payment: read.value,
      orderCancelled: order?.status === 'cancelled',
      unshipped,
      accountInContainment: caseId !== undefined,
    });
    let reference: string | undefined;
    let outcome: string = decision.action;
    if (decision.action === 'refund') {
      const p = read.value;
      const refund = await payments.refund({
        paymentId: p.paymentId,
        amount: { value: p.capturedMinor - p.refundedMinor - p.refundPendingMinor, currency: p.currency },
        reason: 'fraudulent',
        idempotencyKey: `bulwark:efw:${warning.warningId}:refund`,
      });
      if (!refund.ok) {
        if (refund.error.retryable) return; // decided again on the next pass, well within the hour
        outcome = 'refund_refused';
      } else reference = refund.value.refundId;
    } else if (decision.action === 'void') {
      const voided = await payments.voidAuthorization({
        paymentId: read.value.paymentId,
        reason: 'fraudulent',
        idempotencyKey: `bulwark:efw:${warning.warningId}:void`,
      });
      if (!voided.ok) {
        if (voided.error.retryable) return;
        outcome = 'void_refused';
      } else reference = voided.value.paymentId;
    }
    await store.saveWarning({
      warningId: warning.warningId,
      paymentId: warning.paymentId,
      orderId: order?.orderId,
      caseId,
      decision: outcome,
      reason: decision.reason,
      reference,
      warnedAtMs: warning.createdAtMs,
      decidedAtMs: clock.now(),
    });
  }

  /** Every order of one case: the provider's books against our steps. */
  async #checkCase(c: CaseUnderCheck, scanned: Scanned, findings: Findings): Promise<void> {
    const { store, payments, fulfilment, clock } = this.#d;
    const orders = await ordersOfCase(store, c);
    const otherRefunds = await store.warningRefunds(
      orders.map((o) => o.paymentId).filter((id): id is string => id !== undefined),
    );
    for (const order of orders) {
      if (!settledFor(c, order.orderId)) continue;
      const recorded = recordedOrder(c, order, otherRefunds);
      const provider: { -readonly [K in keyof ProviderOrder]: ProviderOrder[K] } = {
        payment: undefined,
        refunds: [],
        disputes: [],
        capturedAtMs: undefined,
        shipments: undefined,
      };
      if (order.paymentId !== undefined) {
        const p = await payments.getPayment(order.paymentId);
        if (!p.ok) continue; // unreadable now: checked on the next pass
        scanned.payments += 1;
        provider.payment = p.value;
        const refunds = await payments.listRefunds(order.paymentId);
        if (refunds.ok) provider.refunds = refunds.value;
        scanned.refunds += provider.refunds.length;
        const disputes = await payments.listDisputes({ paymentId: order.paymentId, limit: providerPageMax });
        if (disputes.ok) provider.disputes = disputes.value.items;
        if (p.value.authorizedMinor > 0)
          await store.writeLedger(
            [
              {
                paymentId: order.paymentId,
                currency: p.value.currency,
                referenceId: `auth:${order.paymentId}`,
                entry: {
                  atMs: p.value.createdAtMs,
                  kind: 'authorization',
                  amountMinor: p.value.authorizedMinor,
                  reference: order.paymentId,
                },
              },
            ],
            clock.now(),
          );
        const ledger = await store.ledger(order.paymentId);
        provider.capturedAtMs = ledger?.entries.find((e) => e.kind === 'capture')?.atMs;
      }
      const view = await fulfilment.getOrder(order.orderId);
      if (view.ok) {
        const shipments: ProviderShipment[] = [];
        for (const s of view.value.shipments) {
          const tracking = await fulfilment.getTracking(order.orderId, s.shipmentId);
          shipments.push({
            shipmentId: s.shipmentId,
            kind: s.kind,
            status: s.status,
            intercept: s.intercept,
            events: tracking.ok ? tracking.value.events : [],
          });
        }
        scanned.shipments += shipments.length;
        provider.shipments = shipments;
      }
      for (const finding of classifyOrder(recorded, provider)) {
        findings.set(finding.key, {
          finding,
          caseId: c.run.caseId,
          accountId: c.run.accountId,
          runId: c.run.runId,
          ...(order.paymentId === undefined
            ? {}
            : { params: { paymentId: order.paymentId, orderId: order.orderId } }),
        });
      }
    }
  }
}
