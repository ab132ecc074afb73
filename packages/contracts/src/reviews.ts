import { z } from 'zod';
import { reasonSchema } from './decisions.ts';
import { moneySchema } from './money.ts';

/**
 * The review queue: orders decided `review` (held — no capture, no shipping) until a person
 * approves or declines them, or their deadline passes (the authorization would lapse) and the
 * `review-timeout` playbook cancels them.
 */
export const reviewStatuses = ['pending', 'approved', 'declined', 'timed_out'] as const;
export type ReviewStatus = (typeof reviewStatuses)[number];

export const reviewViewSchema = z.object({
  orderId: z.string(),
  accountId: z.string(),
  /** The `order.placed` event that was held. */
  eventId: z.string(),
  decidedAt: z.string(),
  amount: moneySchema,
  reasons: z.array(reasonSchema),
  score: z.number().int(),
  status: z.enum(reviewStatuses),
  /** When the order is cancelled if nobody has decided (before the authorization lapses). */
  deadlineAt: z.string(),
  resolvedAt: z.string().optional(),
  /** `analyst:<id>`, `api` or `timeout`. */
  resolvedBy: z.string().optional(),
  note: z.string().optional(),
  /** The containment case a decline or a timeout opened (or joined). */
  caseId: z.string().optional(),
});
export type ReviewView = z.infer<typeof reviewViewSchema>;

export const reviewListQuerySchema = z
  .object({
    status: z.enum(reviewStatuses).default('pending'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export const reviewListSchema = z.object({ reviews: z.array(reviewViewSchema) });
export type ReviewList = z.infer<typeof reviewListSchema>;

export const reviewActionRequestSchema = z.object({ note: z.string().max(2000).optional() }).strict();
export type ReviewActionRequest = z.infer<typeof reviewActionRequestSchema>;
