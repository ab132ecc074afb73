import {
  accountActivitySchema,
  accountViewSchema,
  activeRulesSchema,
  backtestReportSchema,
  fraudLabelsSchema,
  mismatchListSchema,
  modelMetricsSchema,
  reconciliationRunListSchema,
  reconciliationRunViewSchema,
  reviewListSchema,
  reviewViewSchema,
  ruleProblemSchema,
  ruleSetDefinitionSchema,
  ruleStatusSchema,
  auditListSchema,
  caseViewSchema,
  consoleSessionSchema,
  decisionListSchema,
  errorBodySchema,
  securityCenterSessionSchema,
  securityCenterViewSchema,
  type AccountActivity,
  type AccountView,
  type BacktestReportView,
  type FraudLabels,
  type MismatchView,
  type ModelMetrics,
  type ReconciliationRunView,
  type ReviewStatus,
  type ReviewView,
  type RuleProblemView,
  type RuleStatusView,
  type AuditList,
  type CaseView,
  type ConsoleSession,
  type DecisionList,
  type DecisionOutcome,
  type SecurityCenterView,
} from '@bulwark/contracts';
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { z } from 'zod';

const passkeyListSchema = z.object({
  passkeys: z.array(
    z.object({
      credentialId: z.string(),
      name: z.string(),
      createdAt: z.string(),
      lastUsedAt: z.string().optional(),
    }),
  ),
});
export type PasskeyList = z.infer<typeof passkeyListSchema>;

const ruleVersionSchema = z.object({
  version: z.number().int(),
  versionName: z.string(),
  note: z.string().nullable(),
  createdAt: z.string(),
  definition: ruleSetDefinitionSchema,
});
export type RuleVersion = z.infer<typeof ruleVersionSchema>;
export type RuleSetDefinitionView = z.infer<typeof ruleSetDefinitionSchema>;
const problemsBodySchema = z.object({ problems: z.array(ruleProblemSchema) });

/** An answer in the contract's error shape (`{"error":{"code","message"}}`). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  /** Rule compile problems, when the answer carried them (`RULES_INVALID`). */
  readonly problems: RuleProblemView[];
  constructor(status: number, code: string, message: string, problems: RuleProblemView[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
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
      const problems = problemsBodySchema.safeParse(parsed);
      throw error.success
        ? new ApiError(
            response.status,
            error.data.error.code,
            error.data.error.message,
            problems.success ? problems.data.problems : [],
          )
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

  /** Signs in with a passkey: the browser asks the authenticator, the server checks its answer. */
  async signInWithPasskey(): Promise<ConsoleSession> {
    const optionsJSON = (await this.#raw('POST', '/console/api/sign-in/passkey/options', {})) as Parameters<
      typeof startAuthentication
    >[0]['optionsJSON'];
    const response = await startAuthentication({ optionsJSON });
    const session = await this.#call(consoleSessionSchema, 'POST', '/console/api/sign-in/passkey', {
      response,
    });
    this.#csrfToken = session.csrfToken;
    return session;
  }

  passkeys(): Promise<PasskeyList> {
    return this.#call(passkeyListSchema, 'GET', '/console/api/passkeys');
  }

  async addPasskey(name: string): Promise<void> {
    const optionsJSON = (await this.#raw('POST', '/console/api/passkeys/options', {})) as Parameters<
      typeof startRegistration
    >[0]['optionsJSON'];
    const response = await startRegistration({ optionsJSON });
    await this.#raw('POST', '/console/api/passkeys', { response, name });
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

  activity(accountId: string): Promise<AccountActivity> {
    return this.#call(accountActivitySchema, 'GET', `/v1/accounts/${encodeURIComponent(accountId)}/activity`);
  }

  // ---- Reconciliation ----
  async reconciliationRuns(): Promise<ReconciliationRunView[]> {
    return (await this.#call(reconciliationRunListSchema, 'GET', '/v1/reconciliation/runs?limit=20')).runs;
  }

  async mismatches(status: string): Promise<MismatchView[]> {
    const query = status === '' ? '' : `&status=${encodeURIComponent(status)}`;
    return (await this.#call(mismatchListSchema, 'GET', `/v1/reconciliation/mismatches?limit=200${query}`))
      .mismatches;
  }

  runReconciliation(full: boolean): Promise<ReconciliationRunView> {
    return this.#call(reconciliationRunViewSchema, 'POST', '/v1/reconciliation/runs', full ? { full } : {});
  }

  // ---- The review queue ----
  async reviews(status: ReviewStatus): Promise<ReviewView[]> {
    const list = await this.#call(reviewListSchema, 'GET', `/v1/reviews?status=${status}&limit=200`);
    return list.reviews;
  }

  review(orderId: string, action: 'approve' | 'decline', note: string): Promise<ReviewView> {
    return this.#call(
      reviewViewSchema,
      'POST',
      `/v1/reviews/${encodeURIComponent(orderId)}/${action}`,
      note.trim().length === 0 ? {} : { note: note.trim() },
    );
  }

  // ---- Rules and the model ----
  rules(): Promise<RuleStatusView> {
    return this.#call(ruleStatusSchema, 'GET', '/v1/rules');
  }

  activeRules(): Promise<{ version: string; definition: RuleSetDefinitionView }> {
    return this.#call(activeRulesSchema, 'GET', '/v1/rules/active');
  }

  ruleVersion(version: number): Promise<RuleVersion> {
    return this.#call(ruleVersionSchema, 'GET', `/v1/rules/${String(version)}`);
  }

  /** Validate and save take the rules array as `rules`; a backtest takes the whole set. */
  async validateRules(set: RuleSetDefinitionView): Promise<number> {
    const answer = await this.#call(
      z.object({ valid: z.boolean(), rules: z.number() }),
      'POST',
      '/v1/rules/validate',
      { rules: set.rules },
    );
    return answer.rules;
  }

  async saveRules(set: RuleSetDefinitionView, note: string): Promise<number> {
    const saved = await this.#call(z.object({ version: z.number().int() }), 'POST', '/v1/rules', {
      rules: set.rules,
      ...(note.length === 0 ? {} : { note }),
    });
    return saved.version;
  }

  async setRuleSlot(slot: 'active' | 'shadow', version: number | null): Promise<void> {
    await this.#raw('POST', `/v1/rules/${slot}`, { version });
  }

  backtest(input: {
    rules?: RuleSetDefinitionView;
    version?: number;
    labels: FraudLabels['labels'];
  }): Promise<BacktestReportView> {
    return this.#call(backtestReportSchema, 'POST', '/v1/rules/backtest', {
      ...(input.rules === undefined ? {} : { rules: input.rules }),
      ...(input.version === undefined ? {} : { version: input.version }),
      labels: input.labels.map((l) => ({ orderId: l.orderId, fraud: l.fraud })),
    });
  }

  labels(): Promise<FraudLabels> {
    return this.#call(fraudLabelsSchema, 'GET', '/v1/labels');
  }

  modelMetrics(): Promise<ModelMetrics> {
    return this.#call(modelMetricsSchema, 'GET', '/v1/model/metrics');
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
