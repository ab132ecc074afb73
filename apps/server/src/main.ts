import type { BulwarkEvent } from '@bulwark/contracts';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AccountService } from './accounts/service.ts';
import { migrateToLatest, openDatabase } from './adapters/db/database.ts';
import { databaseOf, kyselyStorage } from './adapters/db/kysely-storage.ts';
import { KyselyReviewStore } from './adapters/db/review-store.ts';
import { ReviewService } from './reviews/service.ts';
import { SandboxStoreFollower } from './adapters/sandbox/store-follower.ts';
import { SandboxWorld } from './adapters/sandbox/world.ts';
import { ContainmentEngine } from './containment/engine.ts';
import type { OwnerContact } from './containment/steps.ts';
import { firstSuspiciousSignInMs } from './containment/suspicion.ts';
import { HotStateCache } from './ingest/hot-state.ts';
import { startClusterNode, type ClusterNode } from './cluster/node.ts';
import type { EventProcessor } from './ingest/processor.ts';
import { ApiKeys } from './auth/api-keys.ts';
import { CaseService } from './cases/service.ts';
import type { Config } from './config/config.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { randomIds, type IdGenerator } from './core/ids.ts';
import { buildApp } from './http/app.ts';
import { createConsoleDeps } from './http/console/deps.ts';
import { Metrics } from './http/metrics.ts';
import { IngestProcessor } from './ingest/processor.ts';
import { IngestService } from './ingest/service.ts';
import { createLogger } from './logger.ts';
import { withLoginPolicy, type RiskPolicy } from './risk/domain/policy.ts';
import { loadIpLookup } from './adapters/ip/load.ts';
import { readOperatorLists } from './adapters/login/operator-lists.ts';
import { defaultLoginPolicy, defaultOperatorLists, type OperatorLists } from './risk/domain/login/policy.ts';
import type { Storage } from './storage/ports.ts';
import { version } from './version.ts';
import { KyselyReconcileStore } from './adapters/db/reconcile-store.ts';
import { sandboxOrderFeed } from './adapters/sandbox/store/order-feed.ts';
import { IncidentReports } from './reconcile/incident-reports.ts';
import { ReconcileScheduler } from './reconcile/scheduler.ts';
import { Reconciler } from './reconcile/service.ts';
import type { ReconcileRouteDeps } from './http/routes/reconcile.ts';
import { DevelopmentNotifySink } from './adapters/notify/development-sink.ts';
import { HttpSmsGateway } from './adapters/notify/sms-gateway.ts';
import { SmtpEmailSender } from './adapters/notify/smtp.ts';
import type { NotifyPort } from './connectors/domain/notify.ts';
import { countryName } from './verify/domain/device.ts';
import { defaultCommonPasswordsPath, loadCommonPasswords, PasswordService } from './verify/passwords.ts';
import { VerificationService } from './verify/service.ts';
import { recordingSink } from './verify/recording-sink.ts';
import type { VerificationStore } from './verify/ports.ts';
import { bundledRiskPolicy } from './rules/bundled.ts';
import { RuleSetService } from './rules/service.ts';
import { connectSharedEngines, type SharedEngines } from './shared-engines.ts';
import { failedAuthPolicy, PeekCachingLimiter } from './ratelimit/port.ts';

export interface Service {
  readonly app: FastifyInstance;
  readonly storage: Storage;
  readonly apiKeys: ApiKeys;
  /** The single-process writer (`--role all`); undefined on a cluster node. */
  readonly processor: IngestProcessor | undefined;
  /** The cluster parts of an `api` or `worker` node (docs/scaling.md). */
  readonly cluster: ClusterNode | undefined;
  readonly logger: Logger;
  /** Step-up challenges and owner alerts; `drainOutbox()` handles logged events now. */
  readonly verification: VerificationService;
  /** Where verification messages and alerts go (SMTP/SMS gateway when configured, else the dev sink). */
  readonly notify: NotifyPort;
  /** The review queue; `sweepTimeouts()` cancels held orders past their deadline now. */
  readonly reviews: ReviewService | undefined;
  /** The embedded sandbox store, provider and carrier (connectors `sandbox`), for drills and tests. */
  readonly sandbox: SandboxWorld | undefined;
  /** Listens on the configured host and port; answers the base URL. */
  listen(): Promise<string>;
  /** Stops taking requests, answers those in flight, writes pending state, closes storage. */
  stop(): Promise<void>;
}

export interface ServiceOverrides {
  clock?: Clock;
  ids?: IdGenerator;
  logger?: Logger;
  /** Collect Node process metrics (off in tests that build many services). */
  processMetrics?: boolean;
  /** Storage already opened and migrated (tests share one template database); else from config. */
  storage?: Storage;
  /** The risk policy to decide with (tests pin one); else the default for the configuration. */
  policy?: RiskPolicy;
  /** Where messages go; else chosen by configuration (SMTP / SMS gateway / development sink). */
  notify?: NotifyPort;
}

/**
 * The risk policy the server and replay decide with: the embedded defaults plus the shipped IP
 * tables (read once here) and the operator's allow/deny lists. Replay uses the same, so a
 * replayed file gets the server's decisions.
 */
export function loadRiskPolicy(lists: OperatorLists = defaultOperatorLists): RiskPolicy {
  return withLoginPolicy(bundledRiskPolicy(), defaultLoginPolicy(lists), loadIpLookup());
}

/** The stored event log, oldest first, up to `limit` events (backtests over what happened). */
async function readLog(storage: Storage, limit: number): Promise<{ event: BulwarkEvent; atMs: number }[]> {
  const out: { event: BulwarkEvent; atMs: number }[] = [];
  let after = 0;
  while (out.length < limit) {
    const page = await storage.events.readAfter(after, Math.min(2000, limit - out.length));
    if (page.length === 0) break;
    for (const stored of page) out.push({ event: stored.event, atMs: stored.atMs });
    after = page.at(-1)?.seq ?? after;
  }
  return out;
}

/**
 * Messages to shoppers: e-mail over SMTP when BULWARK_SMTP_HOST is set, SMS through the HTTP
 * gateway when BULWARK_SMS_GATEWAY_URL is set; whatever is not configured goes to the development
 * sink (logged, nothing leaves the machine).
 */
export function createNotifier(
  config: Config,
  clock: Clock,
  logger: Logger,
  devMessages?: VerificationStore,
): NotifyPort & { close(): void } {
  const logged = new DevelopmentNotifySink({ logger, clock });
  const sink = devMessages === undefined ? logged : recordingSink(logged, devMessages, clock);
  const smtp =
    config.smtpHost === undefined
      ? undefined
      : new SmtpEmailSender({
          host: config.smtpHost,
          port: config.smtpPort,
          secure: config.smtpSecure,
          requireTls: config.smtpRequireTls,
          auth:
            config.smtpUser === undefined
              ? undefined
              : { user: config.smtpUser, pass: config.smtpPassword ?? '' },
          from: config.smtpFrom,
          messageIdDomain: new URL(config.publicUrl).hostname,
          timeoutMs: 10_000,
          clock,
        });
  const sms =
    config.smsGatewayUrl === undefined
      ? undefined
      : new HttpSmsGateway({
          baseUrl: config.smsGatewayUrl,
          apiKey: config.smsGatewayKey ?? '',
          senderId: config.smsSenderId,
          timeoutMs: 10_000,
        });
  return {
    sendEmail: (command) => (smtp ?? sink).sendEmail(command),
    sendSms: (command) => (sms ?? sink).sendSms(command),
    close: () => smtp?.close(),
  };
}

/**
 * Containment: the engine that runs playbooks, on the connectors the configuration names. With
 * `sandbox` the embedded store, payment provider and carrier share Bulwark's database, and a
 * follower of the event log plays the store's part (orders placed, archived, sessions opened)
 * so a demo or drill shows the whole story; the warehouse and provider move on the real clock.
 */
function startContainment(deps: {
  config: Config;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  notify: NotifyPort;
  hot: HotStateCache;
  /** Runs the engine and the store follower; an API node of a cluster only builds the ports. */
  run: boolean;
}): { world: SandboxWorld | undefined; engine: ContainmentEngine | undefined; stop(): Promise<void> } {
  const { config, storage, clock, logger } = deps;
  const db = databaseOf(storage);
  if (config.connectors === 'none' || db === undefined) {
    return { world: undefined, engine: undefined, stop: () => Promise.resolve() };
  }
  const world = new SandboxWorld({
    db,
    clock,
    logger,
    webhookSecret: config.secret,
    notify: deps.notify,
  });
  const contactOf = async (accountId: string): Promise<OwnerContact | undefined> => {
    const account = deps.hot.account(accountId) ?? (await storage.state.loadAccounts([accountId]))[0];
    if (account?.email === undefined && account?.phone === undefined) return undefined;
    return { email: account.email, phone: account.phone, locale: config.ownerLocale };
  };
  const store = new SandboxStoreFollower({ events: storage.events, world, db, logger });
  const engine = new ContainmentEngine({
    runs: storage.containment,
    // The sandbox store is played from the log: it catches up before each round, so a sweep
    // sees every order decided before the case opened.
    beforeRound: () => store.runOnce(),
    ports: world.ports,
    clock,
    storeName: config.storeName,
    contactOf,
    firstSuspiciousSignInMs: (accountId, beforeMs) =>
      firstSuspiciousSignInMs(storage.events, accountId, beforeMs),
    onError: (error) =>
      logger.error({ err: error }, 'containment step failed unexpectedly; it will be retried'),
    onSettled: ({ claimed, settled }) => {
      if (settled.state === 'escalated') {
        logger.warn(
          { caseId: claimed.run.caseId, step: settled.stepKey, error: settled.lastError },
          'containment step escalated to a person',
        );
      }
    },
  });
  if (deps.run) {
    engine.start();
    store.start();
  }
  return {
    world,
    engine,
    async stop() {
      await store.stop();
      await engine.stop();
    },
  };
}

/**
 * Reconciliation over the same connectors as containment: a reconciler (repairs wake the
 * containment engine), the incident reports, and the scheduler of incremental passes.
 */
function startReconciliation(deps: {
  config: Config;
  storage: Storage;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  world: SandboxWorld | undefined;
  engine: ContainmentEngine | undefined;
  /** Schedules passes; an API node of a cluster serves the routes only. */
  run: boolean;
}): { routes: ReconcileRouteDeps | undefined; stop(): Promise<void> } {
  const db = databaseOf(deps.storage);
  if (deps.world === undefined || db === undefined)
    return { routes: undefined, stop: () => Promise.resolve() };
  const store = new KyselyReconcileStore(db);
  const ports = deps.world.ports;
  const reconciler = new Reconciler({
    store,
    runs: deps.storage.containment,
    payments: ports.payments,
    fulfilment: ports.fulfilment,
    orders: sandboxOrderFeed(db),
    clock: deps.clock,
    ids: deps.ids,
    onRepair: () => deps.engine?.wake(),
  });
  const reports = new IncidentReports({
    store,
    payments: ports.payments,
    fulfilment: ports.fulfilment,
    clock: deps.clock,
    storeName: deps.config.storeName,
  });
  const scheduler = new ReconcileScheduler({
    reconciler,
    intervalMs: deps.config.reconcileIntervalMs,
    logger: deps.logger,
  });
  if (deps.run) scheduler.start();
  return { routes: { reconciler, store, reports }, stop: () => scheduler.stop() };
}

/** Storage chosen by configuration: PostgreSQL when DATABASE_URL is set, else embedded PGlite. */
export async function openStorage(config: Config): Promise<Storage> {
  const handle = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  try {
    await migrateToLatest(handle.db);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return kyselyStorage(handle);
}

/** The composition root: configuration in, a running-ready service out. */
export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const clock = overrides.clock ?? systemClock;
  const ids = overrides.ids ?? randomIds(clock);
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics({ processMetrics: overrides.processMetrics ?? true });
  // Shared engines first: an unreachable Redis or NATS refuses the start before anything is opened.
  const shared: SharedEngines = await connectSharedEngines(config, logger, metrics);
  let storage: Storage;
  try {
    storage = overrides.storage ?? (await openStorage(config));
  } catch (error) {
    await shared.close();
    throw error;
  }
  // The rule set, shadow set and model the database names replace the embedded ones.
  const rules = new RuleSetService({
    store: storage.ruleSets,
    clock,
    basePolicy: overrides.policy ?? loadRiskPolicy(readOperatorLists(config.loginListsFile)),
    onShadowError: (error) => logger.error({ err: error }, 'recording shadow rule verdicts failed'),
  });
  let policy: RiskPolicy;
  try {
    policy = await rules.load();
  } catch (error) {
    await storage.close();
    await shared.close();
    throw error;
  }
  // `all`: one process decides and writes (ADR 0004). `api`/`worker`: decisions from the state
  // shared in Redis, events through NATS JetStream, persisted by workers (docs/scaling.md).
  // Background work (containment, reconciliation, alerts, review deadlines) runs on `all` and
  // `worker` nodes only.
  const runsBackground = config.role !== 'api';
  let processor: IngestProcessor | undefined;
  let cluster: ClusterNode | undefined;
  /** Set once containment runs: a worker that persisted a new case wakes it. */
  let wakeContainment: () => void = () => undefined;
  try {
    if (config.role === 'all') {
      processor = new IngestProcessor({
        storage,
        clock,
        ids,
        policy,
        metrics,
        onStorageError: (error, during) => {
          logger.error(
            { err: error, during },
            'storage failed; events in flight were refused with UNAVAILABLE',
          );
        },
        onShadow: (records) => rules.recordShadow(records),
        options: {
          accountsMax: config.accountsCachedMax,
          seriesMax: config.seriesCachedMax,
          cycleEventsMax: config.cycleEventsMax,
          priorOutcomesMax: config.priorOutcomesMax,
          checkpointIntervalMs: config.checkpointIntervalMs,
          restorePageSize: 2000,
        },
      });
      await storage.lockWriter();
      await processor.start();
    } else {
      if (shared.redis === undefined || shared.nats === undefined)
        throw new Error('cluster roles need Redis and NATS (checked by the configuration)');
      cluster = await startClusterNode({
        config,
        redis: shared.redis,
        nats: shared.nats,
        storage,
        rules,
        clock,
        ids,
        policy,
        logger,
        metrics,
        onCasesOpened: () => wakeContainment(),
      });
    }
  } catch (error) {
    await storage.close();
    await shared.close();
    throw error;
  }
  rules.onPolicy((next) => {
    processor?.setPolicy(next);
    cluster?.setPolicy(next);
  });
  const decider: EventProcessor | undefined = processor ?? cluster?.processor;
  if (decider === undefined) throw new Error('no processor was started');
  // Account pages read hot state first; a cluster node holds none, so they read PostgreSQL.
  const hot = processor?.hot ?? new HotStateCache({ accountsMax: 1, seriesMax: 1 });
  const ingest = new IngestService({
    processor: decider,
    clock,
    clockSkewMaxMs: config.clockSkewMaxMs,
    observer: {
      onDecision: (type, decision) => metrics.decisions.inc({ type, decision: decision.decision }),
      onRefused: (code) => metrics.eventErrors.inc({ code }),
    },
  });
  const notifier = createNotifier(config, clock, logger, storage.verification);
  const notify = overrides.notify ?? notifier;
  const ipIntel = policy.ipIntel;
  const verification = new VerificationService({
    store: storage.verification,
    events: storage.events,
    ingest,
    cases: new CaseService({ storage }),
    ids,
    notify,
    clock,
    logger,
    secret: config.secret,
    rateLimiters: shared.rateLimiters,
    options: {
      publicUrl: config.publicUrl.replace(/\/+$/, ''),
      storeName: config.storeName,
      rpId: config.webauthnRpId ?? new URL(config.publicUrl).hostname,
      origins: config.webauthnOrigins
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
      alertsEnabled: config.alertsEnabled,
      placeOf: (ip, locale) => {
        const country = ipIntel.lookup(ip).country;
        return country === undefined ? undefined : countryName(country, locale);
      },
    },
  });
  const passwords = new PasswordService({
    store: storage.verification,
    common: loadCommonPasswords(defaultCommonPasswordsPath),
  });
  // The alert outbox follows the event log; a failed step is retried on the next tick.
  const outboxTimer = setInterval(() => {
    if (!runsBackground) return;
    verification.drainOutbox().catch((error: unknown) => {
      logger.warn({ err: error }, 'alert outbox step failed; retrying');
    });
  }, config.alertPollIntervalMs);
  outboxTimer.unref();
  const containment = startContainment({
    config,
    storage,
    clock,
    logger,
    notify,
    hot,
    run: runsBackground,
  });
  wakeContainment = () => containment.engine?.wake();
  const reconciliation = startReconciliation({
    config,
    storage,
    clock,
    ids,
    logger,
    world: containment.world,
    engine: containment.engine,
    run: runsBackground,
  });
  const reviewDb = databaseOf(storage);
  const reviews =
    reviewDb === undefined
      ? undefined
      : new ReviewService({
          store: new KyselyReviewStore(reviewDb),
          ingest,
          clock,
          fulfilment: containment.world?.ports.fulfilment,
          deadlineMs: config.reviewDeadlineHours * 3_600_000,
        });
  // Held orders nobody reviewed in time are cancelled before their authorization lapses.
  let reviewSweep: Promise<unknown> = Promise.resolve();
  const reviewTimer = setInterval(() => {
    if (reviews === undefined || !runsBackground) return;
    reviewSweep = reviews.sweepTimeouts().catch((error: unknown) => {
      logger.warn({ err: error }, 'review deadline sweep failed; retrying');
    });
  }, config.reviewSweepIntervalMs);
  reviewTimer.unref();
  const apiKeys = new ApiKeys(storage.apiKeys, clock);
  let ready = false;
  let draining = false;
  const app = await buildApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    clock,
    ids,
    ingest,
    accounts: new AccountService({ storage, hot }),
    cases: new CaseService({ storage }),
    apiKeys,
    decisionLog: storage.events,
    rules: { service: rules, readLog: (limit) => readLog(storage, limit) },
    ...(reconciliation.routes === undefined ? {} : { reconciliation: reconciliation.routes }),
    ...(reviews === undefined ? {} : { reviews }),
    insights: {
      connectors: containment.world?.ports,
      caseIds: async (limit) => (await storage.cases.list(limit)).map((c) => c.caseId),
    },
    console: createConsoleDeps({
      store: storage.console,
      clock,
      secret: config.secret,
      webauthn: {
        rpId: config.webauthnRpId ?? new URL(config.publicUrl).hostname,
        origins: [
          new URL(config.publicUrl).origin,
          ...config.webauthnOrigins
            .split(',')
            .map((origin) => origin.trim())
            .filter((origin) => origin.length > 0),
        ],
        rpName: `${config.storeName} · Bulwark console`,
      },
      secureCookies: config.nodeEnv === 'production',
    }),
    verification: { service: verification, passwords, storeName: config.storeName },
    metrics,
    version,
    isReady: () => ready,
    isDraining: () => draining,
    checkStorage: () => storage.ping(),
    // A peek on every API call: answered from memory while an address is far from its limit.
    failedAuthLimiter: new PeekCachingLimiter(
      shared.rateLimiters('failed-auth', failedAuthPolicy),
      failedAuthPolicy,
    ),
  });
  let stopping: Promise<void> | undefined;
  return {
    app,
    storage,
    apiKeys,
    processor,
    cluster,
    logger,
    verification,
    notify,
    reviews,
    sandbox: containment.world,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      ready = true;
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host}:${port}`;
    },
    stop() {
      stopping ??= (async () => {
        ready = false;
        draining = true;
        clearInterval(outboxTimer);
        clearInterval(reviewTimer);
        await app.close();
        await reviewSweep;
        // The outbox step in flight finishes before storage closes (its cursor is saved).
        if (runsBackground) await verification.drainOutbox().catch(() => 0);
        await reconciliation.stop();
        await containment.stop();
        notifier.close();
        await processor?.stop();
        await cluster?.stop();
        await storage.close();
        await shared.close();
      })();
      return stopping;
    },
  };
}
