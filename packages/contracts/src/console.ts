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

// ---- Rules, backtests and model metrics, as the console reads them ----

const ruleOutcomeSchema = z.enum(['allow', 'challenge', 'review', 'deny']);

export const ruleDefinitionSchema = z.object({
  id: z.string(),
  description: z.string(),
  expression: z.string(),
  outcome: ruleOutcomeSchema,
  priority: z.number(),
  reasonCode: z.string(),
  enabled: z.boolean().optional(),
});
export type RuleDefinitionView = z.infer<typeof ruleDefinitionSchema>;
export const ruleSetDefinitionSchema = z.object({ rules: z.array(ruleDefinitionSchema) });

/** `GET /v1/rules`: what decides now, and every saved version (newest first). */
export const ruleStatusSchema = z.object({
  active: z.object({ version: z.string(), saved: z.number().int().optional(), rules: z.number().int() }),
  shadow: z.object({ version: z.string(), saved: z.number().int(), rules: z.number().int() }).optional(),
  model: z.object({ version: z.string() }),
  policyVersion: z.string(),
  saved: z.array(
    z.object({
      version: z.number().int(),
      versionName: z.string(),
      note: z.string().nullable(),
      createdAt: z.string(),
      rules: z.number().int(),
    }),
  ),
});
export type RuleStatusView = z.infer<typeof ruleStatusSchema>;

/** `GET /v1/rules/active` and the definition of `GET /v1/rules/{version}`. */
export const activeRulesSchema = z.object({ version: z.string(), definition: ruleSetDefinitionSchema });

/** One compile problem of a rule set (`RULES_INVALID` answers carry them all as `problems`). */
export const ruleProblemSchema = z.object({
  field: z.string(),
  ruleId: z.string().optional(),
  message: z.string(),
  offset: z.number().int().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
});
export type RuleProblemView = z.infer<typeof ruleProblemSchema>;

const ratioSchema = z.number().nullable();
const setStatsSchema = z.object({
  version: z.string(),
  byOutcome: z.record(z.string(), z.number()),
  held: z.number(),
  fraudHeld: z.number(),
  precision: ratioSchema,
  recall: ratioSchema,
  moneyBlocked: z.number(),
  moneySaved: z.number(),
  legitimateMoneyBlocked: z.number(),
  evaluationErrors: z.number(),
  rules: z.array(
    z.object({
      ruleId: z.string(),
      outcome: ruleOutcomeSchema,
      hits: z.number(),
      fraudHits: z.number(),
      precision: ratioSchema,
      recall: ratioSchema,
      amountHit: z.number(),
      fraudAmountHit: z.number(),
    }),
  ),
});
/** `POST /v1/rules/backtest`: the candidate and the current set over the same orders. */
export const backtestReportSchema = z.object({
  events: z.number(),
  orders: z.number(),
  fraudOrders: z.number(),
  fraudAmount: z.number(),
  labelsMatched: z.number(),
  currencies: z.array(z.string()),
  candidate: setStatsSchema,
  current: setStatsSchema,
});
export type BacktestReportView = z.infer<typeof backtestReportSchema>;

/** `GET /v1/labels`: what the server knows to be fraud (orders of containment cases). */
export const fraudLabelsSchema = z.object({
  labels: z.array(z.object({ orderId: z.string(), fraud: z.boolean(), caseId: z.string().optional() })),
});
export type FraudLabels = z.infer<typeof fraudLabelsSchema>;

/** `GET /v1/model/metrics`: the active model's scores over the stored orders. */
export const modelMetricsSchema = z.object({
  model: z.string(),
  /** The score from which the model alone holds an order for review. */
  reviewScoreMin: z.number().int(),
  orders: z.number().int(),
  fraudOrders: z.number().int(),
  /** Where the labels came from (`containment cases`, or the request's). */
  labelSource: z.string(),
  rocAuc: z.number().nullable(),
  prAuc: z.number().nullable(),
  /** Score buckets of 10 points (0–9, …, 90–100): orders per bucket, fraud and legitimate. */
  distribution: z.array(
    z.object({
      from: z.number().int(),
      to: z.number().int(),
      fraud: z.number().int(),
      legitimate: z.number().int(),
    }),
  ),
  /** Holding every order scoring at least `threshold`. */
  thresholds: z.array(
    z.object({
      threshold: z.number().int(),
      held: z.number().int(),
      precision: z.number().nullable(),
      recall: z.number().nullable(),
    }),
  ),
});
export type ModelMetrics = z.infer<typeof modelMetricsSchema>;
