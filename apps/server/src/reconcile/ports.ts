import type { FeedPage } from '../connectors/domain/payments.ts';
import type { StepRecord, RunRecord } from '../containment/domain/model.ts';
import type { MismatchClass } from './domain/classify.ts';
import type { LedgerEntry, LedgerViolation, PaymentLedger } from './domain/ledger.ts';

/** A store order as Bulwark mirrors it: enough to tie provider money to an order and an account. */
export interface MirroredOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly paymentId: string | undefined;
  readonly amountMinor: number;
  readonly currency: string;
  readonly placedAtMs: number;
  readonly status: 'placed' | 'cancelled';
}

/** The store's orders read forward by change, from a cursor (the store's REST feed; the sandbox reads its table). */
export interface OrderFeed {
  /**
   * `changed` keeps to orders changed in [fromMs, beforeMs): a full pass splits the feed into
   * change-time slices and reads them side by side; a cursor continues within the same bounds.
   */
  listOrdersAfter(
    cursor: string | undefined,
    limit: number,
    changed?: { readonly fromMs?: number | undefined; readonly beforeMs?: number | undefined },
  ): Promise<FeedPage<MirroredOrder>>;
}

export type MismatchStatus = 'open' | 'repaired' | 'escalated';

export interface MismatchRecord {
  readonly mismatchId: string;
  readonly key: string;
  readonly class: MismatchClass;
  readonly status: MismatchStatus;
  readonly detectedAtMs: number;
  readonly resolvedAtMs: number | undefined;
  readonly lastSeenAtMs: number;
  readonly caseId: string | undefined;
  readonly accountId: string | undefined;
  readonly orderId: string | undefined;
  readonly paymentId: string | undefined;
  readonly shipmentId: string | undefined;
  readonly expected: string;
  readonly actual: string;
  readonly action: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly repairs: number;
  readonly runId: string;
}

export interface ReconcileRunRecord {
  readonly runId: string;
  readonly mode: 'incremental' | 'full';
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly scanned: {
    readonly payments: number;
    readonly balanceTransactions: number;
    readonly refunds: number;
    readonly disputes: number;
    readonly earlyFraudWarnings: number;
    readonly shipments: number;
  };
  readonly mismatches: number;
  readonly repaired: number;
  readonly escalated: number;
}

/** A case's run with its steps, as reconciliation reads them. */
export interface CaseUnderCheck {
  readonly run: RunRecord;
  readonly caseStatus: string;
  readonly steps: readonly StepRecord[];
}

export interface LedgerWrite {
  readonly paymentId: string;
  readonly currency: string;
  /** Unique per movement: the balance transaction id, or `auth:<payment>` for the authorization. */
  readonly referenceId: string;
  readonly entry: LedgerEntry;
  /** For a payment with no ledger yet: its authorized amount, applied to the totals without an entry row. */
  readonly authorizedMinorHint?: number;
}

export interface DisputeRecord {
  readonly disputeId: string;
  readonly paymentId: string | undefined;
  readonly orderId: string | undefined;
  readonly caseId: string | undefined;
  readonly accountId: string | undefined;
  readonly reason: string;
  readonly status: string;
  readonly action: string;
  readonly evidence: Readonly<Record<string, unknown>> | undefined;
}

export interface WarningRecord {
  readonly warningId: string;
  readonly paymentId: string | undefined;
  readonly orderId: string | undefined;
  readonly caseId: string | undefined;
  readonly decision: string;
  readonly reason: string;
  readonly reference: string | undefined;
  readonly warnedAtMs: number;
  readonly decidedAtMs: number;
}

/** Where reconciliation keeps what it learned. */
export interface ReconcileStore {
  cursor(name: string): Promise<string | undefined>;
  setCursor(name: string, cursor: string, nowMs: number): Promise<void>;
  upsertOrders(orders: readonly MirroredOrder[]): Promise<void>;
  /** After the mirror changed in bulk (a full pass): fresh planner statistics for the lookups by key. */
  refreshStatistics(): Promise<void>;
  ordersByPayment(paymentIds: readonly string[]): Promise<Map<string, MirroredOrder>>;
  ordersOfAccount(accountId: string, sinceMs: number): Promise<MirroredOrder[]>;
  order(orderId: string): Promise<MirroredOrder | undefined>;
  /**
   * Writes ledger entries not written before (by `referenceId`) and the totals they move, checking
   * S1 for every entry; an entry that would break it is not written and is answered back.
   */
  writeLedger(writes: readonly LedgerWrite[], nowMs: number): Promise<LedgerViolation[]>;
  ledger(paymentId: string): Promise<{ ledger: PaymentLedger; entries: LedgerEntry[] } | undefined>;
  /** Containment runs to check: every run (full) or those changed at or after `sinceMs`, plus `alsoCaseIds`. */
  casesToCheck(query: {
    sinceMs: number | undefined;
    alsoCaseIds: readonly string[];
  }): Promise<CaseUnderCheck[]>;
  caseForAccount(accountId: string): Promise<CaseUnderCheck | undefined>;
  /** Accounts with a containment run (any status): the accounts "in containment". */
  accountsInContainment(accountIds: readonly string[]): Promise<Map<string, string>>;
  mismatchesByKey(keys: readonly string[]): Promise<Map<string, MismatchRecord>>;
  saveMismatch(record: MismatchRecord): Promise<void>;
  listMismatches(query: {
    status?: MismatchStatus | undefined;
    class?: MismatchClass | undefined;
    limit: number;
  }): Promise<MismatchRecord[]>;
  /** Cases with a mismatch still open (re-checked on an incremental pass). */
  casesWithOpenMismatches(): Promise<string[]>;
  saveRun(run: ReconcileRunRecord): Promise<void>;
  listRuns(limit: number): Promise<ReconcileRunRecord[]>;
  dispute(disputeId: string): Promise<DisputeRecord | undefined>;
  saveDispute(record: DisputeRecord, nowMs: number): Promise<void>;
  warning(warningId: string): Promise<WarningRecord | undefined>;
  saveWarning(record: WarningRecord): Promise<void>;
  /** Refund ids Bulwark made outside containment (warning refunds) for these payments. */
  warningRefunds(paymentIds: readonly string[]): Promise<string[]>;
}
