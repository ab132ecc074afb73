import type { Money, Reason, ReviewStatus } from '@bulwark/contracts';

/** An `order.placed` event decided `review`: the order is held until someone resolves it. */
export interface HeldOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly eventId: string;
  readonly decidedAtMs: number;
  readonly amount: Money;
  readonly reasons: readonly Reason[];
  readonly score: number;
}

export type ResolvedStatus = Exclude<ReviewStatus, 'pending'>;

export interface ReviewResolution {
  readonly orderId: string;
  readonly accountId: string;
  readonly eventId: string;
  readonly status: ResolvedStatus;
  readonly resolvedAtMs: number;
  readonly resolvedBy: string;
  readonly note: string | undefined;
  readonly cancelEventId: string | undefined;
  readonly caseId: string | undefined;
}

export interface ReviewRecord {
  readonly held: HeldOrder;
  readonly resolution: ReviewResolution | undefined;
}

/** Where held orders are found (the event log) and their resolutions kept. */
export interface ReviewStore {
  /** The held order, with its resolution if it has one. */
  get(orderId: string): Promise<ReviewRecord | undefined>;
  /** Held orders not yet resolved, oldest first (the queue's order), up to `limit`. */
  pending(limit: number, decidedBeforeMs?: number): Promise<HeldOrder[]>;
  /** Resolved ones of one status, newest first. */
  resolved(status: ResolvedStatus, limit: number): Promise<ReviewRecord[]>;
  /**
   * Records a resolution unless the order already has one: false then (someone else resolved
   * it first). The claim comes before the action, so two people cannot both act.
   */
  claim(resolution: ReviewResolution): Promise<boolean>;
  /** Completes a claimed resolution with the case its cancellation opened. */
  setCase(orderId: string, cancelEventId: string, caseId: string | undefined): Promise<void>;
  /** Drops a claim whose action failed, so it can be tried again. */
  release(orderId: string, status: ResolvedStatus): Promise<void>;
}
