import { z } from 'zod';

export const decisionOutcomes = ['allow', 'challenge', 'review', 'deny'] as const;
export type DecisionOutcome = (typeof decisionOutcomes)[number];

/** Methods that can satisfy a challenge. */
export const challengeMethods = [
  'passkey',
  'totp',
  'sms_otp',
  'email_otp',
  'email_link',
  'device_confirmation',
] as const;
export type ChallengeMethod = (typeof challengeMethods)[number];

export const reasonSchema = z.object({
  code: z.string().regex(/^[a-z][a-z0-9_]*$/),
  detail: z.string().optional(),
});
export type Reason = z.infer<typeof reasonSchema>;

export const decisionSchema = z.object({
  eventId: z.string(),
  accountId: z.string().optional(),
  decision: z.enum(decisionOutcomes),
  score: z.number().int().min(0).max(100),
  reasons: z.array(reasonSchema),
  challenge: z.object({ id: z.string(), methods: z.array(z.enum(challengeMethods)).min(1) }).optional(),
  caseId: z.string().optional(),
});
export type Decision = z.infer<typeof decisionSchema>;
