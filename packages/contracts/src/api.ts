import { z } from 'zod';
import { decisionSchema, reasonSchema } from './decisions.ts';
import { moneySchema } from './money.ts';
import { eventErrorSchema } from './errors.ts';

export const batchResponseSchema = z.object({
  decisions: z.array(z.union([decisionSchema, eventErrorSchema])),
});

export const deviceSchema = z.object({
  key: z.string(),
  deviceId: z.string().optional(),
  userAgent: z.string(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  seenCount: z.number().int(),
  trusted: z.boolean(),
});

export const sessionSchema = z.object({
  sessionId: z.string(),
  issuedAt: z.string(),
  lastSeenAt: z.string(),
  ip: z.string(),
  deviceKey: z.string(),
});

export const timelineEntrySchema = z.object({
  seq: z.number().int(),
  eventId: z.string(),
  type: z.string(),
  at: z.string(),
  receivedAt: z.string(),
  decision: z.string(),
  score: z.number().int(),
  reasons: z.array(reasonSchema),
  event: z.record(z.string(), z.unknown()),
});

export const accountViewSchema = z.object({
  accountId: z.string(),
  createdAt: z.string().optional(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  risk: z.number().int(),
  eventCount: z.number().int(),
  devices: z.array(deviceSchema),
  sessions: z.array(sessionSchema),
  openCaseId: z.string().optional(),
  timeline: z.object({
    entries: z.array(timelineEntrySchema),
    /** Pass as `?before=` to read the next (older) page; absent on the last page. */
    nextBefore: z.number().int().optional(),
  }),
});
export type AccountView = z.infer<typeof accountViewSchema>;

export const caseStatuses = ['open', 'contained', 'reconciled', 'escalated', 'closed'] as const;
export const caseViewSchema = z.object({
  caseId: z.string(),
  accountId: z.string(),
  status: z.enum(caseStatuses),
  reportedBy: z.string(),
  openedAt: z.string(),
  since: z.string().optional(),
  /** The containment run: its playbook and where it stands (absent when no playbook applied). */
  run: z
    .object({
      playbook: z.string(),
      status: z.enum(['running', 'completed', 'escalated']),
      decidedAt: z.string(),
      finishedAt: z.string().optional(),
    })
    .optional(),
  steps: z.array(
    z.object({
      step: z.string(),
      target: z.string().optional(),
      state: z.string(),
      attempts: z.number().int(),
      updatedAt: z.string(),
      doneAt: z.string().optional(),
      /** Why the step is retrying or escalated. */
      lastError: z.string().optional(),
      /** What the provider answered (references, amounts, states). */
      outcome: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  orders: z.array(
    z.object({
      orderId: z.string(),
      /** The provider-confirmed payment outcome: voided, refunded, nothing_captured, disputed, unconfirmed, … */
      payment: z.string(),
      /** The carrier-confirmed shipment outcome: held, cancelled, returned, delivered_not_stopped, … */
      shipment: z.string(),
      archived: z.boolean().optional(),
      amount: moneySchema.optional(),
      paymentId: z.string().optional(),
      refundIds: z.array(z.string()).optional(),
      /** Minor units the provider confirmed voided or refunded. */
      confirmedMinor: z.number().int().optional(),
      giftCards: z.object({ deactivated: z.number().int(), redeemed: z.number().int() }).optional(),
    }),
  ),
  /** True when every order's outcome is provider-confirmed. */
  receiptComplete: z.boolean().optional(),
  notification: z.object({ channel: z.string(), messageId: z.string(), sentAt: z.string() }).optional(),
});
export type CaseView = z.infer<typeof caseViewSchema>;

export const compromisedRequestSchema = z.object({
  reportedBy: z.enum(['owner', 'analyst', 'issuer']).default('analyst'),
  since: z.iso.datetime({ offset: true }).optional(),
  note: z.string().max(2000).optional(),
});

// ---- reconciliation (apps/server/src/reconcile; docs/reconciliation.md) ----

export const mismatchClasses = [
  'cancelled_but_capturable',
  'captured_after_decision',
  'refund_not_at_provider',
  'provider_refund_unknown',
  'amounts_differ',
  'shipped_after_decision',
  'intercept_failed',
  'dispute_on_refunded_order',
  'money_unmatched',
] as const;
export const mismatchStatuses = ['open', 'repaired', 'escalated'] as const;

/** `POST /v1/reconciliation/runs`: an incremental pass from the stored cursors, or a full one. */
export const reconciliationRunRequestSchema = z.object({ full: z.boolean().optional() }).strict();

export const reconciliationRunViewSchema = z.object({
  id: z.string(),
  mode: z.enum(['incremental', 'full']),
  startedAt: z.string(),
  finishedAt: z.string(),
  scanned: z.object({
    payments: z.number().int(),
    balanceTransactions: z.number().int(),
    refunds: z.number().int(),
    disputes: z.number().int(),
    earlyFraudWarnings: z.number().int(),
    shipments: z.number().int(),
  }),
  /** Divergences found in this pass (new or still there). */
  mismatches: z.number().int(),
  repaired: z.number().int(),
  escalated: z.number().int(),
});
export type ReconciliationRunView = z.infer<typeof reconciliationRunViewSchema>;

export const reconciliationRunsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export const reconciliationRunListSchema = z.object({ runs: z.array(reconciliationRunViewSchema) });

export const mismatchViewSchema = z.object({
  id: z.string(),
  class: z.enum(mismatchClasses),
  status: z.enum(mismatchStatuses),
  detectedAt: z.string(),
  /** When a later pass no longer found it (or it was recorded); absent while it stands. */
  resolvedAt: z.string().optional(),
  caseId: z.string().optional(),
  accountId: z.string().optional(),
  orderId: z.string().optional(),
  paymentId: z.string().optional(),
  shipmentId: z.string().optional(),
  /** What Bulwark's records (or the invariants) say should be true. */
  expected: z.string(),
  /** What the provider's books say. */
  actual: z.string(),
  /** What was done: the step re-run under which key, or why a person must look. */
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type MismatchView = z.infer<typeof mismatchViewSchema>;

export const mismatchesQuerySchema = z.object({
  status: z.enum(mismatchStatuses).optional(),
  class: z.enum(mismatchClasses).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const mismatchListSchema = z.object({ mismatches: z.array(mismatchViewSchema) });

/** `GET /v1/payments/{paymentId}/ledger`: the provider's money on one payment; refunded ≤ captured ≤ authorized. */
export const paymentLedgerSchema = z.object({
  paymentId: z.string(),
  currency: z.string(),
  authorized: z.number().int(),
  captured: z.number().int(),
  refunded: z.number().int(),
  disputed: z.number().int(),
  entries: z.array(
    z.object({
      at: z.string(),
      kind: z.enum(['authorization', 'capture', 'refund', 'refund_failure', 'dispute', 'dispute_reversal']),
      amount: z.number().int(),
      reference: z.string(),
    }),
  ),
});
export type PaymentLedgerView = z.infer<typeof paymentLedgerSchema>;

/** `GET /v1/accounts/{accountId}/incident-report`: the shopper's report, HTML or PDF. */
export const incidentReportQuerySchema = z.object({
  lang: z.enum(['en', 'ja']).default('en'),
  format: z.enum(['html', 'pdf']).default('html'),
});

/**
 * `GET /v1/accounts/{id}/activity`: the account's payments and shipments as the connectors report
 * them (the store's orders, the payment provider, the carrier), for the console's time axis.
 */
export const accountActivitySchema = z.object({
  accountId: z.string(),
  /** False when no connectors are configured (`BULWARK_CONNECTORS=none`): nothing to read. */
  connected: z.boolean(),
  entries: z.array(
    z.object({
      at: z.string(),
      kind: z.enum(['payment', 'refund', 'shipment']),
      orderId: z.string(),
      /** `authorized`, `captured`, `voided`, a refund's status, or a shipment event (`picked_up`). */
      status: z.string(),
      /** The provider's reference: a payment, refund or shipment id. */
      reference: z.string(),
      amount: moneySchema.optional(),
      detail: z.string().optional(),
    }),
  ),
  /** Reads a provider refused or failed (the rest is still shown). */
  problems: z.array(z.string()),
});
export type AccountActivity = z.infer<typeof accountActivitySchema>;
