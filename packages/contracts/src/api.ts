import { z } from 'zod';
import { decisionSchema, reasonSchema } from './decisions.ts';
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
  steps: z.array(
    z.object({
      step: z.string(),
      target: z.string().optional(),
      state: z.string(),
      attempts: z.number().int(),
      updatedAt: z.string(),
    }),
  ),
  orders: z.array(
    z.object({
      orderId: z.string(),
      payment: z.string(),
      shipment: z.string(),
    }),
  ),
});
export type CaseView = z.infer<typeof caseViewSchema>;

export const compromisedRequestSchema = z.object({
  reportedBy: z.enum(['owner', 'analyst', 'issuer']).default('analyst'),
  since: z.iso.datetime({ offset: true }).optional(),
  note: z.string().max(2000).optional(),
});
