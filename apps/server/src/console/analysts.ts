import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { Clock } from '../core/clock.ts';
import { FailureLimiter } from '../http/failure-limiter.ts';
import {
  analystRoles,
  type AnalystRecord,
  type AnalystRole,
  type ConsoleStore,
} from '../storage/console-ports.ts';
import {
  decoyPasswordHash,
  generatePassword,
  hashPassword,
  passwordLengthMax,
  passwordLengthMin,
  verifyPassword,
} from './passwords.ts';

export const analystNamePattern = /^[A-Za-z0-9._@-]{2,64}$/;
const totpPeriodSeconds = 30;
/** Codes of the previous and next 30 s step are accepted too (clock drift). */
const totpWindowSteps = 1;
const totpCodePattern = /^\d{6}$/;

export type CreateAnalystResult =
  | {
      ok: true;
      analystId: string;
      /** The generated password, shown once; absent when the caller gave one. */
      generatedPassword: string | undefined;
      /** For admins: the TOTP enrolment URI (`otpauth://…`) and its base32 secret, shown once. */
      totp: { uri: string; secret: string } | undefined;
    }
  | { ok: false; reason: 'invalid_name' | 'invalid_role' | 'weak_password' | 'name_taken'; message: string };

export type SignInResult =
  | { ok: true; analyst: AnalystRecord }
  /** One answer for a wrong name, password or code: it never tells which. */
  | { ok: false; reason: 'bad_credentials' | 'rate_limited' };

function invalidInput(input: {
  name: string;
  role: string;
  password?: string | undefined;
}): { reason: 'invalid_name' | 'invalid_role' | 'weak_password'; message: string } | undefined {
  if (!analystNamePattern.test(input.name.trim())) {
    return { reason: 'invalid_name', message: 'the name must be 2 to 64 letters, digits or . _ @ -' };
  }
  if (!(analystRoles as readonly string[]).includes(input.role)) {
    return { reason: 'invalid_role', message: `the role must be one of ${analystRoles.join(', ')}` };
  }
  if (
    input.password !== undefined &&
    (input.password.length < passwordLengthMin || input.password.length > passwordLengthMax)
  ) {
    return {
      reason: 'weak_password',
      message: `the password must be ${passwordLengthMin} to ${passwordLengthMax} characters`,
    };
  }
  return undefined;
}

/** What is wrong with a new analyst's name, role or password, if anything (for the CLI). */
export function checkAnalystInput(input: {
  name: string;
  role: string;
  password?: string | undefined;
}): string | undefined {
  return invalidInput(input)?.message;
}

function totpOf(secret: string, name: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label: name,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: totpPeriodSeconds,
  });
}

/**
 * Analyst accounts: creation (CLI) and sign-in. Admins must give a TOTP code as well; a code's
 * time step is stored when used, so a code cannot be replayed. Failed sign-ins are limited per
 * address and per name (in memory, per process).
 */
export class AnalystService {
  readonly #store: ConsoleStore;
  readonly #clock: Clock;
  readonly #issuer: string;
  readonly #failuresByAddress: FailureLimiter;
  readonly #failuresByName: FailureLimiter;
  #decoy: Promise<string> | undefined;

  constructor(deps: { store: ConsoleStore; clock: Clock; issuer?: string }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#issuer = deps.issuer ?? 'Bulwark';
    const windowMs = 15 * 60_000;
    this.#failuresByAddress = new FailureLimiter({ failuresPerWindowMax: 20, windowMs, clock: deps.clock });
    this.#failuresByName = new FailureLimiter({ failuresPerWindowMax: 5, windowMs, clock: deps.clock });
  }

  async create(input: {
    name: string;
    role: string;
    password?: string | undefined;
  }): Promise<CreateAnalystResult> {
    const name = input.name.trim();
    const invalid = invalidInput(input);
    if (invalid !== undefined) return { ok: false, ...invalid };
    const role = input.role as AnalystRole;
    const generatedPassword = input.password === undefined ? generatePassword() : undefined;
    const password = input.password ?? generatedPassword ?? '';
    const totpSecret = role === 'admin' ? new Secret({ size: 20 }).base32 : undefined;
    const analystId = `an_${randomBytes(10).toString('hex')}`;
    const outcome = await this.#store.insertAnalyst({
      analystId,
      name,
      role,
      passwordHash: await hashPassword(password),
      totpSecret,
      createdAtMs: this.#clock.now(),
      disabledAtMs: undefined,
    });
    if (outcome === 'name_taken') {
      return { ok: false, reason: 'name_taken', message: `an analyst named "${name}" exists already` };
    }
    return {
      ok: true,
      analystId,
      generatedPassword,
      totp:
        totpSecret === undefined
          ? undefined
          : { uri: totpOf(totpSecret, name, this.#issuer).toString(), secret: totpSecret },
    };
  }

  countActive(): Promise<number> {
    return this.#store.countAnalysts();
  }

  find(analystId: string): Promise<AnalystRecord | undefined> {
    return this.#store.findAnalyst(analystId);
  }

  async signIn(input: {
    name: string;
    password: string;
    totpCode?: string;
    ip: string;
  }): Promise<SignInResult> {
    const nameKey = input.name.trim().toLowerCase();
    if (this.#failuresByAddress.isBlocked(input.ip) || this.#failuresByName.isBlocked(nameKey)) {
      return { ok: false, reason: 'rate_limited' };
    }
    const fail = (): SignInResult => {
      this.#failuresByAddress.recordFailure(input.ip);
      this.#failuresByName.recordFailure(nameKey);
      return { ok: false, reason: 'bad_credentials' };
    };
    const found =
      analystNamePattern.test(input.name.trim()) && input.password.length <= passwordLengthMax
        ? await this.#store.findAnalystByName(input.name.trim())
        : undefined;
    const analyst = found?.disabledAtMs === undefined ? found : undefined;
    this.#decoy ??= decoyPasswordHash();
    const passwordMatches = await verifyPassword(analyst?.passwordHash, input.password, await this.#decoy);
    if (analyst === undefined || !passwordMatches) return fail();
    const needsTotp = analyst.role === 'admin' || analyst.totpSecret !== undefined;
    if (needsTotp) {
      if (analyst.totpSecret === undefined) return fail();
      const code = input.totpCode?.trim() ?? '';
      if (!totpCodePattern.test(code)) return fail();
      const nowMs = this.#clock.now();
      const delta = totpOf(analyst.totpSecret, analyst.name, this.#issuer).validate({
        token: code,
        timestamp: nowMs,
        window: totpWindowSteps,
      });
      if (delta === null) return fail();
      const step = Math.floor(nowMs / 1000 / totpPeriodSeconds) + delta;
      if (!(await this.#store.useTotpStep(analyst.analystId, step))) return fail();
    }
    return { ok: true, analyst };
  }
}
