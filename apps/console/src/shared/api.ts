import {
  accountViewSchema,
  auditListSchema,
  caseViewSchema,
  consoleSessionSchema,
  decisionListSchema,
  errorBodySchema,
  securityCenterSessionSchema,
  securityCenterViewSchema,
  type AccountView,
  type AuditList,
  type CaseView,
  type ConsoleSession,
  type DecisionList,
  type DecisionOutcome,
  type SecurityCenterView,
} from '@bulwark/contracts';
import type { z } from 'zod';

/** An answer in the contract's error shape (`{"error":{"code","message"}}`). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** A case as the server sent it, checked against the contract, with every field it holds. */
export interface CaseWithRaw {
  view: CaseView;
  raw: Record<string, unknown>;
}

/**
 * Calls the server from the page: same origin, the session cookie rides along, and every
 * state-changing call carries the session's CSRF token. Answers are checked against the zod
 * schemas of `@bulwark/contracts`, so the pages get typed data or an ApiError.
 */
export class Client {
  #csrfToken: string | undefined;

  setCsrfToken(token: string | undefined): void {
    this.#csrfToken = token;
  }

  async #raw(method: 'GET' | 'POST', url: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.#csrfToken !== undefined) headers['x-csrf-token'] = this.#csrfToken;
    const response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = errorBodySchema.safeParse(parsed);
      throw error.success
        ? new ApiError(response.status, error.data.error.code, error.data.error.message)
        : new ApiError(response.status, 'HTTP_' + String(response.status), text.slice(0, 200));
    }
    return parsed;
  }

  async #call<T>(schema: z.ZodType<T>, method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
    return schema.parse(await this.#raw(method, url, body));
  }

  // ---- Console ----
  async session(): Promise<ConsoleSession> {
    const session = await this.#call(consoleSessionSchema, 'GET', '/console/api/session');
    this.#csrfToken = session.csrfToken;
    return session;
  }

  async signIn(name: string, password: string, totpCode: string): Promise<ConsoleSession> {
    const session = await this.#call(consoleSessionSchema, 'POST', '/console/api/sign-in', {
      name,
      password,
      ...(totpCode.length === 0 ? {} : { totpCode }),
    });
    this.#csrfToken = session.csrfToken;
    return session;
  }

  async signOut(): Promise<void> {
    await this.#raw('POST', '/console/api/sign-out', {});
    this.#csrfToken = undefined;
  }

  decisions(filter: {
    decision?: DecisionOutcome | undefined;
    reason?: string | undefined;
    accountId?: string | undefined;
    before?: number | undefined;
    limit?: number;
  }): Promise<DecisionList> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) {
      if (value !== undefined && value !== '') query.set(key, String(value));
    }
    return this.#call(decisionListSchema, 'GET', `/v1/decisions?${query.toString()}`);
  }

  account(accountId: string, before?: number): Promise<AccountView> {
    const query = new URLSearchParams({ limit: '200' });
    if (before !== undefined) query.set('before', String(before));
    return this.#call(
      accountViewSchema,
      'GET',
      `/v1/accounts/${encodeURIComponent(accountId)}?${query.toString()}`,
    );
  }

  async caseView(caseId: string): Promise<CaseWithRaw> {
    const raw = await this.#raw('GET', `/v1/cases/${encodeURIComponent(caseId)}`);
    return { view: caseViewSchema.parse(raw), raw: raw as Record<string, unknown> };
  }

  reportCompromised(accountId: string): Promise<CaseView> {
    return this.#call(caseViewSchema, 'POST', `/v1/accounts/${encodeURIComponent(accountId)}/compromised`, {
      reportedBy: 'analyst',
    });
  }

  audit(before?: number): Promise<AuditList> {
    const query = before === undefined ? '' : `?before=${String(before)}`;
    return this.#call(auditListSchema, 'GET', `/console/api/audit${query}`);
  }

  // ---- Security center ----
  async exchangeLink(token: string): Promise<void> {
    const session = await this.#call(securityCenterSessionSchema, 'POST', '/security-center/api/session', {
      token,
    });
    this.#csrfToken = session.csrfToken;
  }

  async shopperSession(): Promise<void> {
    const session = await this.#call(securityCenterSessionSchema, 'GET', '/security-center/api/session');
    this.#csrfToken = session.csrfToken;
  }

  overview(): Promise<SecurityCenterView> {
    return this.#call(securityCenterViewSchema, 'GET', '/security-center/api/overview');
  }

  thisWasntMe(): Promise<CaseView> {
    return this.#call(caseViewSchema, 'POST', '/security-center/api/this-wasnt-me', {});
  }

  async shopperCase(caseId: string): Promise<CaseWithRaw> {
    const raw = await this.#raw('GET', `/security-center/api/cases/${encodeURIComponent(caseId)}`);
    return { view: caseViewSchema.parse(raw), raw: raw as Record<string, unknown> };
  }
}
