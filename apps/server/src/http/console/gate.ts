import type { ErrorCode } from '@bulwark/contracts';
import type { FastifyRequest } from 'fastify';
import type { AnalystService } from '../../console/analysts.ts';
import type { ConsoleSessions } from '../../console/sessions.ts';
import type { AnalystRecord, AnalystRole } from '../../storage/console-ports.ts';

export const consoleCookie = 'bulwark_console';
export const shopperCookie = 'bulwark_shopper';
export const csrfHeader = 'x-csrf-token';

const roleRank: Record<AnalystRole, number> = { viewer: 0, analyst: 1, admin: 2 };

/**
 * Which `/v1` routes a console session may call, and the least role for each. Anything not
 * listed is for API keys only (deny by default): a new route is opened to the console by adding
 * it here. Viewers read; analysts also act on accounts.
 */
export const sessionRoutePermissions: Readonly<Record<string, AnalystRole>> = {
  'GET /v1/decisions': 'viewer',
  'GET /v1/accounts/:accountId': 'viewer',
  'GET /v1/cases/:caseId': 'viewer',
  'GET /v1/cases/:caseId/receipt': 'viewer',
  'POST /v1/accounts/:accountId/compromised': 'analyst',
  'GET /v1/accounts/:accountId/activity': 'viewer',
  // Rules: viewers read; analysts check, save, backtest and shadow; admins change what decides.
  'GET /v1/rules': 'viewer',
  'GET /v1/rules/active': 'viewer',
  'GET /v1/rules/shadow': 'viewer',
  'GET /v1/rules/:version': 'viewer',
  'POST /v1/rules/validate': 'analyst',
  'POST /v1/rules': 'analyst',
  'POST /v1/rules/backtest': 'analyst',
  'POST /v1/rules/shadow': 'analyst',
  'POST /v1/rules/active': 'admin',
  'GET /v1/labels': 'viewer',
  'GET /v1/model/metrics': 'viewer',
  // Reconciliation: viewers read passes and divergences; analysts start a pass.
  'GET /v1/reconciliation/runs': 'viewer',
  'GET /v1/reconciliation/mismatches': 'viewer',
  'GET /v1/payments/:paymentId/ledger': 'viewer',
  'POST /v1/reconciliation/runs': 'analyst',
  // The review queue: viewers see it; analysts approve and decline.
  'GET /v1/reviews': 'viewer',
  'GET /v1/reviews/:orderId': 'viewer',
  'POST /v1/reviews/:orderId/approve': 'analyst',
  'POST /v1/reviews/:orderId/decline': 'analyst',
};

export type Principal =
  | { kind: 'analyst'; analyst: AnalystRecord; tokenHash: string }
  | { kind: 'shopper'; accountId: string; tokenHash: string };

export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** Reads one cookie from a Cookie header (no library: the console needs two names). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const separator = part.indexOf('=');
    if (separator === -1) continue;
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

export function roleAtLeast(role: AnalystRole, needed: AnalystRole): boolean {
  return roleRank[role] >= roleRank[needed];
}

function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/**
 * Authenticates browser sessions. The principal found for a request is kept here (not on the
 * request object) for the audit hook and the console's routes.
 */
export class ConsoleGate {
  readonly #sessions: ConsoleSessions;
  readonly #analysts: AnalystService;
  readonly #principals = new WeakMap<FastifyRequest, Principal>();

  constructor(deps: { sessions: ConsoleSessions; analysts: AnalystService }) {
    this.#sessions = deps.sessions;
    this.#analysts = deps.analysts;
  }

  get sessions(): ConsoleSessions {
    return this.#sessions;
  }

  /** True when the request carries a console session cookie (and so no API key is expected). */
  hasSessionCookie(request: FastifyRequest): boolean {
    return cookieValue(request.headers.cookie, consoleCookie) !== undefined;
  }

  principalOf(request: FastifyRequest): Principal | undefined {
    return this.#principals.get(request);
  }

  /** The signed-in analyst of the request, or a refusal. Records the principal for the audit. */
  async analyst(request: FastifyRequest): Promise<Principal | Refusal> {
    const token = cookieValue(request.headers.cookie, consoleCookie) ?? '';
    const session = await this.#sessions.resolve(token, 'analyst');
    const analyst = session === undefined ? undefined : await this.#analysts.find(session.subjectId);
    if (session === undefined || analyst === undefined || analyst.disabledAtMs !== undefined) {
      return {
        code: 'UNAUTHORIZED',
        message: 'the console session has ended or is not valid; sign in again',
      };
    }
    const principal: Principal = { kind: 'analyst', analyst, tokenHash: session.tokenHash };
    this.#principals.set(request, principal);
    return principal;
  }

  /** The shopper of a security-center session, or a refusal. */
  async shopper(request: FastifyRequest): Promise<Principal | Refusal> {
    const token = cookieValue(request.headers.cookie, shopperCookie) ?? '';
    const session = await this.#sessions.resolve(token, 'shopper');
    if (session === undefined) {
      return {
        code: 'UNAUTHORIZED',
        message: 'the security-center session has ended; open the link from the store again',
      };
    }
    const principal: Principal = {
      kind: 'shopper',
      accountId: session.subjectId,
      tokenHash: session.tokenHash,
    };
    this.#principals.set(request, principal);
    return principal;
  }

  /** Refuses a state-changing request whose X-CSRF-Token is not its session's. */
  checkCsrf(request: FastifyRequest, principal: Principal): Refusal | undefined {
    if (!isStateChanging(request.method)) return undefined;
    const presented = request.headers[csrfHeader];
    if (
      this.#sessions.csrfMatches(principal.tokenHash, typeof presented === 'string' ? presented : undefined)
    ) {
      return undefined;
    }
    return { code: 'FORBIDDEN', message: `send the session's CSRF token as the ${csrfHeader} header` };
  }

  /**
   * Authorises a `/v1` call made with a console session instead of an API key: a live session,
   * a role the route allows (see `sessionRoutePermissions`) and, for state-changing calls, the
   * CSRF header. Answers undefined when allowed.
   */
  async authorizeApi(request: FastifyRequest): Promise<Refusal | undefined> {
    const found = await this.analyst(request);
    if (!('kind' in found)) return found;
    if (found.kind !== 'analyst') return { code: 'UNAUTHORIZED', message: 'not an analyst session' };
    const needed = sessionRoutePermissions[`${request.method} ${request.routeOptions.url ?? ''}`];
    if (needed === undefined) {
      return { code: 'FORBIDDEN', message: 'this call is for API keys only, not console sessions' };
    }
    if (!roleAtLeast(found.analyst.role, needed)) {
      return {
        code: 'FORBIDDEN',
        message: `this call needs the ${needed} role (yours is ${found.analyst.role})`,
      };
    }
    return this.checkCsrf(request, found);
  }
}
