import { z } from 'zod';
import { decisionOutcomes, decisionSchema, reasonSchema } from './decisions.ts';
import { moneySchema } from './money.ts';

/** One decided event in `GET /v1/decisions` (newest first). */
export const decisionListEntrySchema = z.object({
  seq: z.number().int(),
  eventId: z.string(),
  accountId: z.string().optional(),
  type: z.string(),
  at: z.string(),
  decidedAt: z.string(),
  decision: z.enum(decisionOutcomes),
  score: z.number().int(),
  reasons: z.array(reasonSchema),
  challenge: decisionSchema.shape.challenge,
  caseId: z.string().optional(),
  policyVersion: z.string(),
});
export type DecisionListEntry = z.infer<typeof decisionListEntrySchema>;

export const decisionListSchema = z.object({
  decisions: z.array(decisionListEntrySchema),
  /** Pass as `?before=` for the next (older) page; absent on the last page. */
  nextBefore: z.number().int().optional(),
});
export type DecisionList = z.infer<typeof decisionListSchema>;

export const analystRoleSchema = z.enum(['viewer', 'analyst', 'admin']);
export type AnalystRoleName = z.infer<typeof analystRoleSchema>;

/** `GET /console/api/session` and a successful sign-in. */
export const consoleSessionSchema = z.object({
  analyst: z.object({ name: z.string(), role: analystRoleSchema }),
  /** Send as `X-CSRF-Token` with every state-changing call. */
  csrfToken: z.string(),
  expiresAt: z.string(),
});
export type ConsoleSession = z.infer<typeof consoleSessionSchema>;

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actorKind: z.string(),
  actorId: z.string().optional(),
  action: z.string(),
  target: z.string().optional(),
  outcome: z.string(),
  ip: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export const auditListSchema = z.object({
  entries: z.array(auditEntrySchema),
  nextBefore: z.number().int().optional(),
});
export type AuditList = z.infer<typeof auditListSchema>;

/** `POST /v1/security-center/links`: a link a store sends its shopper to. */
export const securityCenterLinkRequestSchema = z.object({
  accountId: z.string().min(1).max(1024),
  lifetimeMs: z.number().int().min(10_000).max(3_600_000).optional(),
});
export const securityCenterLinkSchema = z.object({
  /** Relative to the server: `/security-center#token=…` (a fragment never reaches a server log). */
  path: z.string(),
  token: z.string(),
  expiresAt: z.string(),
});

/** What the security center shows a shopper about their own account. */
export const securityCenterViewSchema = z.object({
  accountId: z.string(),
  devices: z.array(
    z.object({
      key: z.string(),
      userAgent: z.string(),
      firstSeenAt: z.string(),
      lastSeenAt: z.string(),
      trusted: z.boolean(),
    }),
  ),
  sessions: z.array(
    z.object({
      sessionId: z.string(),
      issuedAt: z.string(),
      lastSeenAt: z.string(),
      ip: z.string(),
      deviceKey: z.string(),
    }),
  ),
  signIns: z.array(
    z.object({
      at: z.string(),
      succeeded: z.boolean(),
      ip: z.string(),
      userAgent: z.string(),
      /** Where, when known (a country or network the decision named). */
      place: z.string().optional(),
      method: z.string().optional(),
    }),
  ),
  orders: z.array(
    z.object({
      orderId: z.string(),
      at: z.string(),
      amount: moneySchema,
      itemCount: z.number().int(),
      /** Hidden from the shopper's order history (archived), by whoever was signed in. */
      archived: z.boolean(),
      archivedAt: z.string().optional(),
    }),
  ),
  openCaseId: z.string().optional(),
});
export type SecurityCenterView = z.infer<typeof securityCenterViewSchema>;

export const securityCenterSessionSchema = z.object({ csrfToken: z.string(), accountId: z.string() });
