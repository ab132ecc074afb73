import type { AccountView, SecurityCenterView } from '@bulwark/contracts';
import { securityCenterLinkRequestSchema } from '@bulwark/contracts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { reportCompromised } from '../../accounts/report-compromised.ts';
import { toIso } from '../../core/time.ts';
import { sessionLifetimes } from '../../console/sessions.ts';
import { passkeyNameCharsMax } from '../../console/passkeys.ts';
import type { AnalystRecord, AuditEntry } from '../../storage/console-ports.ts';
import type { AppDeps } from '../app.ts';
import { sendError } from '../app.ts';
import type { ConsoleDeps } from './deps.ts';
import { consoleCookie, roleAtLeast, shopperCookie, type Principal, type Refusal } from './gate.ts';
import { registerConsoleStatic } from './static.ts';

const signInBody = z.object({
  name: z.string().max(256),
  password: z.string().max(1024),
  totpCode: z.string().max(16).optional(),
});
const exchangeBody = z.object({ token: z.string().min(1).max(2048) });
const auditQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const caseParams = z.object({ caseId: z.string().min(1).max(128) });
/** Events read for a shopper's overview, newest first: enough for every order of a real account. */
const overviewEventsMax = 2000;

function isRefusal(value: Principal | Refusal): value is Refusal {
  return !('kind' in value);
}

function cookie(
  name: string,
  value: string,
  options: { path: string; maxAgeSeconds: number; secure: boolean },
): string {
  const secure = options.secure ? '; Secure' : '';
  return `${name}=${value}; Path=${options.path}; Max-Age=${options.maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`;
}

function targetOf(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  const target = params?.accountId ?? params?.caseId ?? params?.orderId;
  return typeof target === 'string' ? target : undefined;
}

/**
 * The console's own API (`/console/api/…`: sign-in, session, sign-out, audit log), the security
 * center's (`/security-center/api/…` and `POST /v1/security-center/links`), the static pages, and
 * the audit of every request a browser session makes.
 */
export function registerConsoleRoutes(app: FastifyInstance, deps: AppDeps, console: ConsoleDeps): void {
  const { gate, analysts, links, store, passkeys } = console;
  const secure = (request: FastifyRequest): boolean => console.secureCookies || request.protocol === 'https';
  const audit = async (entry: Omit<AuditEntry, 'atMs'>): Promise<void> => {
    try {
      await store.appendAudit([{ ...entry, atMs: deps.clock.now() }]);
    } catch (error) {
      deps.logger.error({ err: error, action: entry.action }, 'the console audit log could not be written');
    }
  };
  /** A refusal before anyone is known (a failed sign-in, a bad link), with why. */
  const auditRefused = (
    action: string,
    request: FastifyRequest,
    detail: Record<string, unknown>,
  ): Promise<void> =>
    audit({
      actorKind: 'anonymous',
      actorId: undefined,
      action,
      target: undefined,
      outcome: 'refused',
      ip: request.ip,
      detail,
    });

  // Every request made by a signed-in analyst or shopper is audited once it has been answered.
  app.addHook('onResponse', async (request, reply) => {
    const principal = gate.principalOf(request);
    if (principal === undefined) return;
    const status = reply.statusCode;
    await audit({
      actorKind: principal.kind,
      actorId: principal.kind === 'analyst' ? principal.analyst.analystId : principal.accountId,
      action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0] ?? ''}`,
      target: targetOf(request),
      outcome: status < 400 ? 'ok' : status < 500 ? 'refused' : 'failed',
      ip: request.ip,
      detail: { status, ...(request.method === 'GET' ? { query: request.query } : {}) },
    });
  });

  const requireAnalyst = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<Extract<Principal, { kind: 'analyst' }> | undefined> => {
    const found = await gate.analyst(request);
    if (isRefusal(found)) {
      void sendError(reply, found.code, found.message);
      return undefined;
    }
    const csrf = found.kind === 'analyst' ? gate.checkCsrf(request, found) : undefined;
    if (csrf !== undefined) {
      void sendError(reply, csrf.code, csrf.message);
      return undefined;
    }
    return found.kind === 'analyst' ? found : undefined;
  };

  /** A new analyst session: the cookie, the audit row, and the session's answer. */
  const startAnalystSession = async (
    request: FastifyRequest,
    reply: FastifyReply,
    analyst: AnalystRecord,
    method: 'password' | 'passkey',
  ) => {
    const session = await gate.sessions.start('analyst', analyst.analystId);
    await audit({
      actorKind: 'analyst',
      actorId: analyst.analystId,
      action: 'sign_in',
      target: undefined,
      outcome: 'ok',
      ip: request.ip,
      detail: { name: analyst.name, role: analyst.role, method },
    });
    void reply.header(
      'set-cookie',
      cookie(consoleCookie, session.token, {
        path: '/',
        maxAgeSeconds: Math.floor(sessionLifetimes.analyst.absoluteMs / 1000),
        secure: secure(request),
      }),
    );
    return {
      analyst: { name: analyst.name, role: analyst.role },
      csrfToken: session.csrfToken,
      expiresAt: toIso(session.expiresAtMs),
    };
  };

  app.post('/console/api/sign-in', async (request, reply) => {
    const body = signInBody.safeParse(request.body ?? {});
    if (!body.success) return sendError(reply, 'INVALID_PARAMETER', 'send {"name", "password", "totpCode"?}');
    const result = await analysts.signIn({
      name: body.data.name,
      password: body.data.password,
      ...(body.data.totpCode === undefined ? {} : { totpCode: body.data.totpCode }),
      ip: request.ip,
    });
    if (!result.ok) {
      await auditRefused('sign_in', request, { name: body.data.name.slice(0, 64), reason: result.reason });
      return result.reason === 'rate_limited'
        ? sendError(reply, 'RATE_LIMITED', 'too many failed sign-ins; wait 15 minutes')
        : sendError(reply, 'UNAUTHORIZED', 'the name, password or authenticator code is wrong');
    }
    return startAnalystSession(request, reply, result.analyst, 'password');
  });

  // ---- Passkeys ----

  const passkeyBody = z.object({ response: z.record(z.string(), z.unknown()) });
  const originOf = (request: FastifyRequest): string | undefined =>
    typeof request.headers.origin === 'string' ? request.headers.origin : undefined;

  // Signing in with a passkey alone: possession (the key) and the person (its PIN or biometric).
  app.post('/console/api/sign-in/passkey/options', () => passkeys.signInOptions());

  app.post('/console/api/sign-in/passkey', async (request, reply) => {
    const body = passkeyBody.safeParse(request.body ?? {});
    if (!body.success)
      return sendError(reply, 'INVALID_PARAMETER', 'send {"response"} from the authenticator');
    const result = await passkeys.signIn(body.data.response, request.ip, originOf(request));
    if (!result.ok) {
      await auditRefused('sign_in', request, { method: 'passkey', reason: result.reason });
      return result.reason === 'rate_limited'
        ? sendError(reply, 'RATE_LIMITED', 'too many failed sign-ins; wait 15 minutes')
        : sendError(reply, 'UNAUTHORIZED', 'the passkey was not accepted');
    }
    return startAnalystSession(request, reply, result.value, 'passkey');
  });

  app.get('/console/api/passkeys', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    const list = await passkeys.list(principal.analyst.analystId);
    return {
      passkeys: list.map((p) => ({
        credentialId: p.credentialId,
        name: p.name,
        createdAt: toIso(p.createdAtMs),
        ...(p.lastUsedAtMs === undefined ? {} : { lastUsedAt: toIso(p.lastUsedAtMs) }),
      })),
    };
  });

  app.post('/console/api/passkeys/options', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    return passkeys.registrationOptions(principal.analyst);
  });

  app.post('/console/api/passkeys', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    const body = passkeyBody
      .extend({ name: z.string().max(passkeyNameCharsMax).default('passkey') })
      .safeParse(request.body ?? {});
    if (!body.success) {
      return sendError(reply, 'INVALID_PARAMETER', 'send {"response", "name"?} (name: up to 64 characters)');
    }
    const added = await passkeys.register(
      principal.analyst,
      body.data.response,
      body.data.name,
      originOf(request),
    );
    if (!added.ok) return sendError(reply, 'INVALID_PARAMETER', added.reason, 'response');
    return reply.code(201).send({
      credentialId: added.value.credentialId,
      name: added.value.name,
      createdAt: toIso(added.value.createdAtMs),
    });
  });

  app.get('/console/api/session', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    return {
      analyst: { name: principal.analyst.name, role: principal.analyst.role },
      csrfToken: gate.sessions.csrfTokenFor(principal.tokenHash),
      expiresAt: toIso(deps.clock.now() + sessionLifetimes.analyst.idleMs),
    };
  });

  app.post('/console/api/sign-out', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    await gate.sessions.end(principal.tokenHash);
    void reply.header(
      'set-cookie',
      cookie(consoleCookie, '', { path: '/', maxAgeSeconds: 0, secure: secure(request) }),
    );
    return { signedOut: true };
  });

  app.get('/console/api/audit', async (request, reply) => {
    const principal = await requireAnalyst(request, reply);
    if (principal === undefined) return reply;
    if (!roleAtLeast(principal.analyst.role, 'admin')) {
      return sendError(reply, 'FORBIDDEN', 'the audit log is for admins');
    }
    const query = auditQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 'INVALID_PARAMETER', 'before and limit must be integers');
    const rows = await store.readAudit({
      limit: query.data.limit + 1,
      ...(query.data.before === undefined ? {} : { beforeSeq: query.data.before }),
    });
    const shown = rows.slice(0, query.data.limit);
    const last = shown.at(-1);
    return {
      entries: shown.map((e) => ({
        seq: e.seq,
        at: toIso(e.atMs),
        actorKind: e.actorKind,
        ...(e.actorId === undefined ? {} : { actorId: e.actorId }),
        action: e.action,
        ...(e.target === undefined ? {} : { target: e.target }),
        outcome: e.outcome,
        ip: e.ip,
        detail: e.detail,
      })),
      ...(rows.length > query.data.limit && last !== undefined ? { nextBefore: last.seq } : {}),
    };
  });

  // ---- Security center ----

  // A store's back end (API key only) asks for a link and sends its signed-in shopper to it.
  app.post('/v1/security-center/links', async (request, reply) => {
    const body = securityCenterLinkRequestSchema.safeParse(request.body ?? {});
    if (!body.success) {
      return sendError(reply, 'INVALID_PARAMETER', 'send {"accountId", "lifetimeMs"?}', 'accountId');
    }
    const issued = links.issue(body.data.accountId, body.data.lifetimeMs);
    return {
      path: `/security-center#token=${issued.token}`,
      token: issued.token,
      expiresAt: toIso(issued.expiresAtMs),
    };
  });

  app.post('/security-center/api/session', async (request, reply) => {
    const body = exchangeBody.safeParse(request.body ?? {});
    if (!body.success) return sendError(reply, 'INVALID_PARAMETER', 'send {"token"}', 'token');
    const checked = await links.redeem(body.data.token);
    if (!checked.ok) {
      await auditRefused('security_center_link', request, { reason: checked.reason });
      const why = { invalid: 'is not valid', expired: 'has expired', used: 'was used already' }[
        checked.reason
      ];
      return sendError(
        reply,
        'UNAUTHORIZED',
        `this security-center link ${why}; open it from the store again`,
      );
    }
    const session = await gate.sessions.start('shopper', checked.accountId);
    await audit({
      actorKind: 'shopper',
      actorId: checked.accountId,
      action: 'security_center_link',
      target: checked.accountId,
      outcome: 'ok',
      ip: request.ip,
      detail: {},
    });
    void reply.header(
      'set-cookie',
      cookie(shopperCookie, session.token, {
        path: '/security-center',
        maxAgeSeconds: Math.floor(sessionLifetimes.shopper.absoluteMs / 1000),
        secure: secure(request),
      }),
    );
    return { csrfToken: session.csrfToken, accountId: checked.accountId };
  });

  const requireShopper = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<Extract<Principal, { kind: 'shopper' }> | undefined> => {
    const found = await gate.shopper(request);
    if (isRefusal(found)) {
      void sendError(reply, found.code, found.message);
      return undefined;
    }
    const csrf = gate.checkCsrf(request, found);
    if (csrf !== undefined) {
      void sendError(reply, csrf.code, csrf.message);
      return undefined;
    }
    return found.kind === 'shopper' ? found : undefined;
  };

  // After a reload the page has its cookie but not its CSRF token: this answers it again.
  app.get('/security-center/api/session', async (request, reply) => {
    const shopper = await requireShopper(request, reply);
    if (shopper === undefined) return reply;
    return { csrfToken: gate.sessions.csrfTokenFor(shopper.tokenHash), accountId: shopper.accountId };
  });

  app.get('/security-center/api/overview', async (request, reply) => {
    const shopper = await requireShopper(request, reply);
    if (shopper === undefined) return reply;
    return securityCenterView(shopper.accountId, await readWholeAccount(deps, shopper.accountId));
  });

  app.post('/security-center/api/this-wasnt-me', async (request, reply) => {
    const shopper = await requireShopper(request, reply);
    if (shopper === undefined) return reply;
    // One report per security-center session: pressing twice answers the same case.
    const reported = await reportCompromised(deps, {
      accountId: shopper.accountId,
      reportedBy: 'owner',
      idempotencyKey: `security-center.${shopper.tokenHash.slice(0, 40)}`,
      basis: request.id,
    });
    if (!reported.ok)
      return sendError(reply, reported.error.code, reported.error.message, reported.error.field);
    return reported.view;
  });

  app.get('/security-center/api/cases/:caseId', async (request, reply) => {
    const shopper = await requireShopper(request, reply);
    if (shopper === undefined) return reply;
    const params = caseParams.safeParse(request.params);
    const view = params.success ? await deps.cases.view(params.data.caseId) : undefined;
    // Another account's case is answered as unknown: a shopper learns nothing about others.
    if (view?.accountId !== shopper.accountId) return sendError(reply, 'NOT_FOUND', 'no such case');
    return view;
  });

  registerConsoleStatic(app, console.distDir);
}

/** The account's profile and its whole timeline (up to `overviewEventsMax` events). */
async function readWholeAccount(deps: AppDeps, accountId: string): Promise<AccountView | undefined> {
  const pageSize = 200;
  let view = await deps.accounts.view(accountId, { limit: pageSize });
  if (view === undefined) return undefined;
  const entries = [...view.timeline.entries];
  while (view.timeline.nextBefore !== undefined && entries.length < overviewEventsMax) {
    const next: AccountView | undefined = await deps.accounts.view(accountId, {
      limit: pageSize,
      before: view.timeline.nextBefore,
    });
    if (next === undefined) break;
    entries.push(...next.timeline.entries);
    view = next;
  }
  return { ...view, timeline: { entries } };
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}

/** What a shopper sees: their devices, sessions, sign-ins and every order, archived ones marked. */
export function securityCenterView(accountId: string, view: AccountView | undefined): SecurityCenterView {
  if (view === undefined) return { accountId, devices: [], sessions: [], signIns: [], orders: [] };
  const archivedAt = new Map<string, string>();
  for (const entry of view.timeline.entries) {
    const orderId = stringField(entry.event, 'orderId');
    if (entry.type === 'order.archived' && orderId !== undefined && !archivedAt.has(orderId)) {
      archivedAt.set(orderId, entry.at);
    }
  }
  const signIns: SecurityCenterView['signIns'] = [];
  const orders: SecurityCenterView['orders'] = [];
  for (const entry of view.timeline.entries) {
    const context = entry.event.context;
    if (entry.type === 'login.succeeded' || entry.type === 'login.failed') {
      const place = entry.reasons.find((r) => /country|geo|travel|asn/.test(r.code))?.detail;
      const method = stringField(entry.event, 'method');
      signIns.push({
        at: entry.at,
        succeeded: entry.type === 'login.succeeded',
        ip: stringField(context, 'ip') ?? '',
        userAgent: stringField(context, 'userAgent') ?? '',
        ...(place === undefined ? {} : { place }),
        ...(method === undefined ? {} : { method }),
      });
    }
    if (entry.type === 'order.placed') {
      const orderId = stringField(entry.event, 'orderId') ?? '';
      const amount = entry.event.amount as { value: number; currency: string };
      const items = entry.event.items as { quantity: number }[];
      const archived = archivedAt.get(orderId);
      orders.push({
        orderId,
        at: entry.at,
        amount: { value: amount.value, currency: amount.currency },
        itemCount: items.reduce((sum, item) => sum + item.quantity, 0),
        archived: archived !== undefined,
        ...(archived === undefined ? {} : { archivedAt: archived }),
      });
    }
  }
  return {
    accountId,
    devices: view.devices.map((d) => ({
      key: d.key,
      userAgent: d.userAgent,
      firstSeenAt: d.firstSeenAt,
      lastSeenAt: d.lastSeenAt,
      trusted: d.trusted,
    })),
    sessions: view.sessions,
    signIns: signIns.slice(0, 50),
    orders,
    ...(view.openCaseId === undefined ? {} : { openCaseId: view.openCaseId }),
  };
}
