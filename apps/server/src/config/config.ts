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
  })
  .superRefine((config, ctx) => {
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
} as const satisfies Record<keyof z.infer<typeof configSchema>, string>;

/** Settings that also have a command-line flag are reported under both names. */
const flagNames: Partial<Record<keyof typeof environmentNames, string>> = {
  host: 'BULWARK_HOST (--host)',
  port: 'BULWARK_PORT (--port)',
  dataDir: 'BULWARK_DATA_DIR (--data)',
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
    const value = env[name];
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
