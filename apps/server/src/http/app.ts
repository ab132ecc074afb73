import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { ErrorCode } from '@bulwark/contracts';
import type { AccountService } from '../accounts/service.ts';
import type { ApiKeys } from '../auth/api-keys.ts';
import type { CaseService } from '../cases/service.ts';
import type { Clock } from '../core/clock.ts';
import { AppError, isAppError } from '../core/errors.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { IngestService } from '../ingest/service.ts';
import type { EventLog } from '../storage/ports.ts';
import type { ConsoleDeps } from './console/deps.ts';
import { registerConsoleRoutes } from './console/routes.ts';
import { errorBody, statusOf } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { failedAuthPolicy, MemoryRateLimiter, type RateLimiter } from '../ratelimit/port.ts';
import { registerAccountRoutes } from './routes/accounts.ts';
import { registerRuleRoutes, type RuleRouteDeps } from './routes/rules.ts';
import { registerReconcileRoutes, type ReconcileRouteDeps } from './routes/reconcile.ts';
import { registerInsightRoutes, type InsightDeps } from './routes/insights.ts';
import { registerDecisionRoutes } from './routes/decisions.ts';
import { registerReviewRoutes } from './routes/reviews.ts';
import type { ReviewService } from '../reviews/service.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { registerChallengeRoutes } from './routes/challenges.ts';
import { registerPageRoutes } from './routes/pages.ts';
import { registerPasswordRoutes } from './routes/passwords.ts';
import type { VerificationService } from '../verify/service.ts';
import type { PasswordService } from '../verify/passwords.ts';

export interface AppDeps {
  readonly logger: FastifyBaseLogger;
  readonly bodyLimitBytes: number;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly ingest: IngestService;
  readonly accounts: AccountService;
  readonly cases: CaseService;
  readonly apiKeys: ApiKeys;
  /** The decision log across accounts (`GET /v1/decisions`). */
  readonly decisionLog: Pick<EventLog, 'readDecisions'>;
  /** The console and security center; absent, `/v1` takes API keys only and no pages are served. */
  readonly console?: ConsoleDeps;
  /** Step-up verification, owner alerts and hosted pages (verify/); absent, those routes are not served. */
  readonly verification?: {
    readonly service: VerificationService;
    readonly passwords: PasswordService;
    readonly storeName: string;
  };
  readonly metrics: Metrics;
  readonly version: string;
  /** Readiness: true once the service answers and until it starts draining. */
  readonly isReady: () => boolean;
  /** True from the moment shutdown begins: new requests are refused, connections closed. */
  readonly isDraining: () => boolean;
  readonly checkStorage: () => Promise<void>;
  /** The failed-API-key limit per address; in process when absent (Redis: docs/scaling.md). */
  readonly failedAuthLimiter?: RateLimiter;
  /** Order rule sets, models and backtests; absent, `/v1/rules` is not served. */
  readonly rules?: RuleRouteDeps;
  /** Reconciliation, ledgers and incident reports; absent without connectors. */
  readonly reconciliation?: ReconcileRouteDeps;
  /** The review queue (`/v1/reviews`); absent, not served. */
  readonly reviews?: ReviewService;
  /** The console's read-only views (activity, labels, model metrics); absent, not served. */
  readonly insights?: InsightDeps;
}

/**
 * Paths a shopper reaches without the store's API key: hosted verification pages (each addressed
 * by a signed token) and the Pwned Passwords range API. Both keep their own per-address limits.
 */
export const publicPathPrefixes = ['/pages/', '/range/'] as const;

/** Request ids from the caller are kept when they look sane; otherwise a new one is made. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  field?: string,
): FastifyReply {
  return reply.code(statusOf[code]).send(errorBody(code, message, field));
}

/** Builds the HTTP application. Nothing global: tests build as many as they like. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes,
    // Per-request log lines would cost the hot path; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Draining is answered below in the contract's error shape, not Fastify's own.
    return503OnClosing: false,
    requestIdHeader: false,
    // Signed link tokens travel as a path parameter (/pages/alert/<token>); Fastify's default is 100.
    routerOptions: { maxParamLength: 1100 },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
    },
  });

  // JSON bodies are parsed here so a malformed one gets the contract's error shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim().length === 0) {
      done(new AppError('INVALID_JSON', 'the request body is empty; send a JSON object'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      const detail = error instanceof SyntaxError ? error.message : 'unreadable';
      done(new AppError('INVALID_JSON', `the request body is not valid JSON (${detail})`), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (deps.isDraining()) {
      void reply.header('connection', 'close');
      return sendError(
        reply,
        'UNAVAILABLE',
        'the server is shutting down; send again to another node or shortly',
      );
    }
    return undefined;
  });
  // While draining, every answer closes its connection so keep-alive clients do not hold the
  // shutdown open until their idle timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (deps.isDraining()) void reply.header('connection', 'close');
    return payload;
  });

  // Failed API keys per address (30 a minute): in process, or shared through Redis (docs/scaling.md).
  const failures = deps.failedAuthLimiter ?? new MemoryRateLimiter(failedAuthPolicy);
  app.addHook('onRequest', async (request, reply) => {
    if (publicPathPrefixes.some((prefix) => request.url.startsWith(prefix))) return;
    if (!request.url.startsWith('/v1/') || request.url.startsWith('/v1/openapi.json')) return;
    if (!(await failures.peek(request.ip, deps.clock.now())).allowed) {
      return sendError(
        reply,
        'RATE_LIMITED',
        'too many requests with an invalid API key from this address; wait a minute',
      );
    }
    const header = request.headers.authorization;
    // Without an Authorization header, a console session cookie (and, for state-changing calls,
    // its X-CSRF-Token header) may stand in for the key: docs/console.md.
    if (header === undefined && deps.console?.gate.hasSessionCookie(request) === true) {
      const refusal = await deps.console.gate.authorizeApi(request);
      if (refusal === undefined) return undefined;
      if (refusal.code === 'UNAUTHORIZED') await failures.take(request.ip, deps.clock.now());
      return sendError(reply, refusal.code, refusal.message);
    }
    const presented =
      header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined;
    const key = presented === undefined ? undefined : await deps.apiKeys.verify(presented);
    if (key === undefined) {
      await failures.take(request.ip, deps.clock.now());
      return sendError(
        reply,
        'UNAUTHORIZED',
        presented === undefined
          ? 'send an API key as "Authorization: Bearer <key>"'
          : 'the API key is not valid',
      );
    }
    return undefined;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`),
  );

  app.setErrorHandler((error, request, reply) => {
    if (isAppError(error)) return sendError(reply, error.code, error.message, error.field);
    const known = error as { code?: string; statusCode?: number; message?: string };
    switch (known.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(
          reply,
          'PAYLOAD_TOO_LARGE',
          `the body is larger than ${deps.bodyLimitBytes} bytes; send smaller batches`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON with "Content-Type: application/json"');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 'INVALID_JSON', 'the request body is empty; send a JSON object');
      default:
        break;
    }
    if (known.statusCode !== undefined && known.statusCode >= 400 && known.statusCode < 500) {
      return sendError(reply, 'INVALID_PARAMETER', 'the request is malformed');
    }
    request.log.error({ err: error }, 'unexpected error');
    return sendError(reply, 'INTERNAL_ERROR', `an unexpected error occurred (request id ${request.id})`);
  });

  registerSystemRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerAccountRoutes(app, deps);
  if (deps.verification !== undefined) {
    registerChallengeRoutes(app, deps.verification.service);
    registerPasswordRoutes(app, { passwords: deps.verification.passwords, clock: deps.clock });
    registerPageRoutes(app, {
      verification: deps.verification.service,
      storeName: deps.verification.storeName,
    });
  }
  registerRuleRoutes(app, deps);
  if (deps.reconciliation !== undefined) registerReconcileRoutes(app, deps.reconciliation);
  registerInsightRoutes(app, deps);
  registerDecisionRoutes(app, deps);
  if (deps.reviews !== undefined)
    registerReviewRoutes(app, { service: deps.reviews, gate: deps.console?.gate });
  if (deps.console !== undefined) registerConsoleRoutes(app, deps, deps.console);
  await app.ready();
  return app;
}
