import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AccountService } from './accounts/service.ts';
import { migrateToLatest, openDatabase } from './adapters/db/database.ts';
import { kyselyStorage } from './adapters/db/kysely-storage.ts';
import { ApiKeys } from './auth/api-keys.ts';
import { CaseService } from './cases/service.ts';
import type { Config } from './config/config.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { randomIds, type IdGenerator } from './core/ids.ts';
import { buildApp } from './http/app.ts';
import { Metrics } from './http/metrics.ts';
import { IngestProcessor } from './ingest/processor.ts';
import { IngestService } from './ingest/service.ts';
import { createLogger } from './logger.ts';
import { defaultRiskPolicy, type RiskPolicy } from './risk/domain/policy.ts';
import type { Storage } from './storage/ports.ts';
import { version } from './version.ts';

export interface Service {
  readonly app: FastifyInstance;
  readonly storage: Storage;
  readonly apiKeys: ApiKeys;
  readonly processor: IngestProcessor;
  readonly logger: Logger;
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
  const storage = overrides.storage ?? (await openStorage(config));
  const metrics = new Metrics({ processMetrics: overrides.processMetrics ?? true });
  const policy = overrides.policy ?? defaultRiskPolicy();
  const processor = new IngestProcessor({
    storage,
    clock,
    ids,
    policy,
    metrics,
    onStorageError: (error, during) => {
      logger.error({ err: error, during }, 'storage failed; events in flight were refused with UNAVAILABLE');
    },
    options: {
      accountsMax: config.accountsCachedMax,
      seriesMax: config.seriesCachedMax,
      cycleEventsMax: config.cycleEventsMax,
      priorOutcomesMax: config.priorOutcomesMax,
      checkpointIntervalMs: config.checkpointIntervalMs,
      restorePageSize: 2000,
    },
  });
  try {
    await storage.lockWriter();
    await processor.start();
  } catch (error) {
    await storage.close();
    throw error;
  }
  const ingest = new IngestService({
    processor,
    clock,
    clockSkewMaxMs: config.clockSkewMaxMs,
    observer: {
      onDecision: (type, decision) => metrics.decisions.inc({ type, decision: decision.decision }),
      onRefused: (code) => metrics.eventErrors.inc({ code }),
    },
  });
  const apiKeys = new ApiKeys(storage.apiKeys, clock);
  let ready = false;
  let draining = false;
  const app = await buildApp({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    clock,
    ids,
    ingest,
    accounts: new AccountService({ storage, hot: processor.hot }),
    cases: new CaseService({ storage }),
    apiKeys,
    metrics,
    version,
    isReady: () => ready,
    isDraining: () => draining,
    checkStorage: () => storage.ping(),
  });
  let stopping: Promise<void> | undefined;
  return {
    app,
    storage,
    apiKeys,
    processor,
    logger,
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
        await app.close();
        await processor.stop();
        await storage.close();
      })();
      return stopping;
    },
  };
}
