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
