import { z } from 'zod';

/**
 * The only place that reads the environment. Configuration is parsed once, frozen and passed to
 * whoever needs it. Zero configuration runs the embedded default (PGlite in ./data).
 */
export const developmentSecret = 'bulwark-development-secret-not-for-production';

const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const configSchema = z
  .object({
    nodeEnv: z.enum(['development', 'production', 'test']).default('development'),
    host: z.string().min(1).default('127.0.0.1'),
    port: integer(8080, 0, 65535),
    dataDir: z.string().min(1).default('./data'),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
      .optional(),
    secret: z.string().default(developmentSecret),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    bodyLimitBytes: integer(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    /** Events whose `at` is further ahead of the server clock than this are refused. */
    clockSkewMaxMs: integer(5 * 60_000, 0, 24 * 3_600_000),
    checkpointIntervalMs: integer(1000, 10, 600_000),
    cycleEventsMax: integer(2000, 1, 100_000),
    accountsCachedMax: integer(200_000, 100, 50_000_000),
    seriesCachedMax: integer(400_000, 100, 50_000_000),
    priorOutcomesMax: integer(200_000, 100, 50_000_000),
    databasePoolSize: integer(8, 1, 100),
    /** Operator allow/deny lists of networks and devices for login risk (JSON; docs/login-risk.md). */
    loginListsFile: z.string().min(1).optional(),
    // ---- step-up verification, owner alerts (verify/) ----
    /** Where shoppers reach this server: links in e-mails and the WebAuthn origin derive from it. */
    publicUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:8080'),
    /** The store's name in every message and page, so the owner recognises the sender. */
    storeName: z.string().min(1).max(80).default('Your store'),
    /** WebAuthn relying-party id; the public URL's host name when not set. */
    webauthnRpId: z.string().min(1).optional(),
    /** Extra origins (comma-separated) allowed to run passkey ceremonies, e.g. the store's own site. */
    webauthnOrigins: z.string().default(''),
    /** New-device and sensitive-change alerts to the owner: on by default. */
    /**
     * What containment acts on: `sandbox` runs the embedded store, payment provider and carrier
     * (demo and drills; the server plays the store from the events it decides), `none` opens
     * cases and plans runs without acting (until a real store connector is configured).
     */
    connectors: z.enum(['sandbox', 'none']).default('sandbox'),
    /** The language of owner messages sent by containment. */
    ownerLocale: z.enum(['en', 'ja']).default('en'),
    /** `observe`: detectors score and explain but never challenge, hold, deny or open a case. */
    enforcement: z.enum(['enforce', 'observe']).default('enforce'),
    alertsEnabled: z.stringbool().default(true),
    /** How often the alert worker follows the event log (the promise is "within 60 s"). */
    alertPollIntervalMs: integer(1000, 50, 3_600_000),
    /** How long a held order waits for a reviewer before it is cancelled (card authorizations last about 7 days). */
    reviewDeadlineHours: integer(144, 1, 24 * 30),
    /** How often held orders past their deadline are looked for. */
    reviewSweepIntervalMs: integer(60_000, 50, 3_600_000),
    /** How often the reconciler reads the providers' books (an incremental pass); under an hour so early fraud warnings are decided in time. */
    reconcileIntervalMs: integer(300_000, 1000, 3_000_000),
    smtpHost: z.string().min(1).optional(),
    smtpPort: integer(587, 1, 65535),
    smtpSecure: z.stringbool().default(false),
    smtpRequireTls: z.stringbool().default(false),
    smtpUser: z.string().min(1).optional(),
    smtpPassword: z.string().min(1).optional(),
    smtpFrom: z.string().min(3).default('Bulwark <security@localhost>'),
    smsGatewayUrl: z.url({ protocol: /^https?$/ }).optional(),
    smsGatewayKey: z.string().min(1).optional(),
    smsSenderId: z.string().min(1).max(20).default('Bulwark'),
    // ---- scale-out (docs/scaling.md) ----
    /** Redis shared by several nodes for rate limits; absent, limits are kept in process. */
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' })
      .optional(),
    /** Prefix of every Redis key, so deployments (or test runs) can share one server. */
    redisKeyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,64}$/, { error: 'letters, digits, : _ - (at most 64)' })
      .default('bulwark'),
    /** A Redis command not answered in this time fails and the limiter decides in its degraded mode. */
    redisCommandTimeoutMs: integer(250, 10, 10_000),
    /** Verification limits (per address, per account, messages) while Redis is unreachable. */
    verifyLimitDegraded: z.enum(['open', 'closed']).default('open'),
    /** The failed-API-key limit per address while Redis is unreachable. */
    authLimitDegraded: z.enum(['open', 'closed']).default('open'),
    /** NATS with JetStream for the event stream (adapters/nats); checked at start, not used by the processor yet. */
    natsUrl: z
      .string()
      .regex(/^(nats|tls|ws|wss):\/\//, { error: 'must be a nats://, tls://, ws:// or wss:// URL' })
      .optional(),
    /**
     * What this node runs (docs/scaling.md): `all` (default) is the single process; `api` decides
     * from the state shared in Redis and publishes to NATS; `worker` does that too and persists the
     * stream to PostgreSQL and runs containment, reconciliation, alerts and review deadlines.
     */
    role: z.enum(['api', 'worker', 'all']).default('all'),
    /** The JetStream stream of decided events (cluster roles). */
    streamName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'letters, digits, _ - (at most 64)' })
      .default('BULWARK_EVENTS'),
    /** Subjects are `<prefix>.events.<partition>`. */
    streamSubjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'letters, digits, _ - (at most 64)' })
      .default('bulwark'),
    /** Partitions of the stream; fixed once the stream exists (changing it re-hashes accounts). */
    streamPartitions: integer(16, 1, 1024),
    /** Events a worker persists together per partition. */
    persistBatchMax: integer(64, 1, 1000),
    /** Sign-ins and sensitive actions while the shared state is unreachable: `open` allows, `closed` challenges. */
    clusterLoginDegraded: z.enum(['open', 'closed']).default('closed'),
    /** Orders while the shared state is unreachable: `open` allows, `closed` holds for review. */
    clusterOrderDegraded: z.enum(['open', 'closed']).default('open'),
    /** Days an account's shared state outlives its last change (the login profile keeps six months). */
    clusterAccountTtlDays: integer(200, 1, 3650),
    /** Days the shared store remembers an event id's decision; older repeats are answered from PostgreSQL. */
    clusterOutcomeTtlDays: integer(7, 1, 365),
  })
  .superRefine((config, ctx) => {
    if (config.role !== 'all') {
      const missing = [
        config.databaseUrl === undefined ? 'DATABASE_URL' : undefined,
        config.redisUrl === undefined ? 'REDIS_URL' : undefined,
        config.natsUrl === undefined ? 'NATS_URL' : undefined,
      ].filter((name) => name !== undefined);
      if (missing.length > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['role'],
          message: `--role ${config.role} shares state through PostgreSQL, Redis and NATS JetStream: set ${missing.join(', ')} (docs/scaling.md)`,
        });
    }
    if (config.nodeEnv !== 'production') return;
    if (config.secret === developmentSecret || config.secret.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message:
          'BULWARK_SECRET must be set to your own value when NODE_ENV=production (the development default is refused)',
      });
    } else if (config.secret.length < 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'BULWARK_SECRET must be at least 32 characters in production',
      });
    }
  });

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Environment variable for each setting: the configuration table in the README lists them. */
export const environmentNames = {
  nodeEnv: 'NODE_ENV',
  host: 'BULWARK_HOST',
  port: 'BULWARK_PORT',
  dataDir: 'BULWARK_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  secret: 'BULWARK_SECRET',
  logLevel: 'BULWARK_LOG_LEVEL',
  bodyLimitBytes: 'BULWARK_BODY_LIMIT_BYTES',
  clockSkewMaxMs: 'BULWARK_CLOCK_SKEW_MAX_MS',
  checkpointIntervalMs: 'BULWARK_CHECKPOINT_INTERVAL_MS',
  cycleEventsMax: 'BULWARK_CYCLE_EVENTS_MAX',
  accountsCachedMax: 'BULWARK_ACCOUNTS_CACHED_MAX',
  seriesCachedMax: 'BULWARK_SERIES_CACHED_MAX',
  priorOutcomesMax: 'BULWARK_PRIOR_OUTCOMES_MAX',
  databasePoolSize: 'BULWARK_DATABASE_POOL_SIZE',
  loginListsFile: 'BULWARK_LOGIN_LISTS_FILE',
  publicUrl: 'BULWARK_PUBLIC_URL',
  storeName: 'BULWARK_STORE_NAME',
  webauthnRpId: 'BULWARK_WEBAUTHN_RP_ID',
  webauthnOrigins: 'BULWARK_WEBAUTHN_ORIGINS',
  connectors: 'BULWARK_CONNECTORS',
  ownerLocale: 'BULWARK_OWNER_LOCALE',
  enforcement: 'BULWARK_ENFORCEMENT',
  alertsEnabled: 'BULWARK_ALERTS_ENABLED',
  alertPollIntervalMs: 'BULWARK_ALERT_POLL_INTERVAL_MS',
  reviewDeadlineHours: 'BULWARK_REVIEW_DEADLINE_HOURS',
  reviewSweepIntervalMs: 'BULWARK_REVIEW_SWEEP_INTERVAL_MS',
  reconcileIntervalMs: 'BULWARK_RECONCILE_INTERVAL_MS',
  smtpHost: 'BULWARK_SMTP_HOST',
  smtpPort: 'BULWARK_SMTP_PORT',
  smtpSecure: 'BULWARK_SMTP_SECURE',
  smtpRequireTls: 'BULWARK_SMTP_REQUIRE_TLS',
  smtpUser: 'BULWARK_SMTP_USER',
  smtpPassword: 'BULWARK_SMTP_PASSWORD',
  smtpFrom: 'BULWARK_SMTP_FROM',
  smsGatewayUrl: 'BULWARK_SMS_GATEWAY_URL',
  smsGatewayKey: 'BULWARK_SMS_GATEWAY_KEY',
  smsSenderId: 'BULWARK_SMS_SENDER_ID',
  redisUrl: 'BULWARK_REDIS_URL',
  redisKeyPrefix: 'BULWARK_REDIS_KEY_PREFIX',
  redisCommandTimeoutMs: 'BULWARK_REDIS_COMMAND_TIMEOUT_MS',
  verifyLimitDegraded: 'BULWARK_VERIFY_LIMIT_DEGRADED',
  authLimitDegraded: 'BULWARK_AUTH_LIMIT_DEGRADED',
  natsUrl: 'BULWARK_NATS_URL',
  streamName: 'BULWARK_STREAM_NAME',
  streamSubjectPrefix: 'BULWARK_STREAM_SUBJECT_PREFIX',
  streamPartitions: 'BULWARK_STREAM_PARTITIONS',
  persistBatchMax: 'BULWARK_PERSIST_BATCH_MAX',
  clusterLoginDegraded: 'BULWARK_CLUSTER_LOGIN_DEGRADED',
  clusterOrderDegraded: 'BULWARK_CLUSTER_ORDER_DEGRADED',
  clusterAccountTtlDays: 'BULWARK_CLUSTER_ACCOUNT_TTL_DAYS',
  clusterOutcomeTtlDays: 'BULWARK_CLUSTER_OUTCOME_TTL_DAYS',
  role: 'BULWARK_ROLE',
} as const satisfies Record<keyof z.infer<typeof configSchema>, string>;

/** Settings that also have a command-line flag are reported under both names. */
const flagNames: Partial<Record<keyof typeof environmentNames, string>> = {
  host: 'BULWARK_HOST (--host)',
  port: 'BULWARK_PORT (--port)',
  dataDir: 'BULWARK_DATA_DIR (--data)',
  redisUrl: 'BULWARK_REDIS_URL (or REDIS_URL)',
  natsUrl: 'BULWARK_NATS_URL (or NATS_URL)',
  role: 'BULWARK_ROLE (--role)',
};

/** Conventional names read when the Bulwark one is not set (platforms often provide these). */
const fallbackEnvironmentNames: Partial<Record<keyof typeof environmentNames, string>> = {
  redisUrl: 'REDIS_URL',
  natsUrl: 'NATS_URL',
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the configuration from the environment and command-line overrides (which win).
 * Throws a ConfigError naming every setting that is wrong.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Partial<Record<keyof typeof environmentNames, string | number | undefined>> = {},
): Config {
  const input: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(environmentNames)) {
    const fallback = fallbackEnvironmentNames[key as keyof typeof environmentNames];
    const own = env[name];
    const value =
      own === undefined || own === '' ? (fallback === undefined ? undefined : env[fallback]) : own;
    if (value !== undefined && value !== '') input[key] = value;
  }
  for (const key of Object.keys(overrides) as (keyof typeof environmentNames)[]) {
    const value = overrides[key];
    if (value !== undefined) input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof typeof environmentNames | undefined;
      const name = key === undefined ? 'configuration' : (flagNames[key] ?? environmentNames[key]);
      return `  ${name}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
