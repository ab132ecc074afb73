import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../core/clock.ts';
import { FailureLimiter } from '../http/failure-limiter.ts';
import type { AnalystPasskey, AnalystRecord, ConsoleStore } from '../storage/console-ports.ts';

/** A WebAuthn prompt is answered within this long. */
export const passkeyPromptTtlMs = 5 * 60_000;
/** Open prompts kept at most (in memory); the oldest are dropped first. */
const openPromptsMax = 10_000;
export const passkeyNameCharsMax = 64;

export interface PasskeyOptions {
  /** The relying party: the console's host name (BULWARK_WEBAUTHN_RP_ID, or the public URL's). */
  readonly rpId: string;
  /** Origins the browser may answer from besides the request's own (BULWARK_WEBAUTHN_ORIGINS). */
  readonly origins: readonly string[];
  readonly rpName?: string;
}

type Prompt =
  | { purpose: 'register'; analystId: string; expiresAtMs: number }
  | { purpose: 'sign-in'; expiresAtMs: number };

export type PasskeyResult<T> = { ok: true; value: T } | { ok: false; reason: string };

function webauthnReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 160 ? `${message.slice(0, 159)}…` : message;
}

/**
 * Passkeys for analysts. A signed-in analyst registers one (user verification required); an
 * admin (or anyone with one) then signs in with it alone: the passkey proves possession and the
 * authenticator's PIN or biometric the person, which is what password and TOTP prove together.
 * Prompts (challenges) are single use and kept in memory for five minutes, per process.
 */
export class AnalystPasskeys {
  readonly #store: ConsoleStore;
  readonly #clock: Clock;
  readonly #options: PasskeyOptions;
  readonly #prompts = new Map<string, Prompt>();
  readonly #failures: FailureLimiter;

  constructor(deps: { store: ConsoleStore; clock: Clock; options: PasskeyOptions }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#options = deps.options;
    this.#failures = new FailureLimiter({
      failuresPerWindowMax: 20,
      windowMs: 15 * 60_000,
      clock: deps.clock,
    });
  }

  /**
   * The origins a browser may answer from: the configured ones, and the request's own when its
   * host is the relying party (or below it) — the RP ID hash in the answer is checked as well,
   * so a look-alike site cannot pass.
   */
  #origins(requestOrigin: string | undefined): string[] {
    const origins = [...this.#options.origins];
    if (requestOrigin !== undefined) {
      try {
        const host = new URL(requestOrigin).hostname;
        if (host === this.#options.rpId || host.endsWith(`.${this.#options.rpId}`))
          origins.push(requestOrigin);
      } catch {
        // Not a URL: not an origin.
      }
    }
    return origins;
  }

  #open(challenge: string, prompt: Prompt): void {
    if (this.#prompts.size >= openPromptsMax) {
      const oldest = this.#prompts.keys().next().value;
      if (oldest !== undefined) this.#prompts.delete(oldest);
    }
    this.#prompts.set(challenge, prompt);
  }

  /** Takes (and so spends) the prompt the answer's challenge names, if open and unexpired. */
  #take(response: unknown): (Prompt & { challenge: string }) | undefined {
    const clientData = (response as { response?: { clientDataJSON?: unknown } } | null)?.response
      ?.clientDataJSON;
    if (typeof clientData !== 'string') return undefined;
    let challenge: unknown;
    try {
      challenge = (
        JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8')) as { challenge?: unknown }
      ).challenge;
    } catch {
      return undefined;
    }
    if (typeof challenge !== 'string') return undefined;
    const prompt = this.#prompts.get(challenge);
    this.#prompts.delete(challenge);
    return prompt === undefined || this.#clock.now() >= prompt.expiresAtMs
      ? undefined
      : { ...prompt, challenge };
  }

  list(analystId: string): Promise<AnalystPasskey[]> {
    return this.#store.passkeysOf(analystId);
  }

  async registrationOptions(analyst: AnalystRecord): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#store.passkeysOf(analyst.analystId);
    const options = await generateRegistrationOptions({
      rpName: this.#options.rpName ?? 'Bulwark console',
      rpID: this.#options.rpId,
      userName: analyst.name,
      // An opaque, stable handle: the authenticator never learns the analyst id.
      userID: createHash('sha256').update('bulwark-analyst:').update(analyst.analystId).digest(),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({
        id: p.credentialId,
        transports: p.transports as AuthenticatorTransport[],
      })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      timeout: passkeyPromptTtlMs,
    });
    this.#open(options.challenge, {
      purpose: 'register',
      analystId: analyst.analystId,
      expiresAtMs: this.#clock.now() + passkeyPromptTtlMs,
    });
    return options;
  }

  async register(
    analyst: AnalystRecord,
    response: unknown,
    name: string,
    requestOrigin: string | undefined,
  ): Promise<PasskeyResult<AnalystPasskey>> {
    const prompt = this.#take(response);
    if (prompt?.purpose !== 'register' || prompt.analystId !== analyst.analystId)
      return { ok: false, reason: 'no passkey registration is open (or it expired); start again' };
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: (challenge: string) => challenge === prompt.challenge,
        expectedOrigin: this.#origins(requestOrigin),
        expectedRPID: this.#options.rpId,
        requireUserVerification: true,
      });
    } catch (error) {
      return { ok: false, reason: `the passkey was not accepted: ${webauthnReason(error)}` };
    }
    if (!verified.verified) return { ok: false, reason: 'the passkey was not accepted' };
    const { credential } = verified.registrationInfo;
    const passkey: AnalystPasskey = {
      credentialId: credential.id,
      analystId: analyst.analystId,
      name: name.trim().slice(0, passkeyNameCharsMax) || 'passkey',
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: credential.transports ?? [],
      createdAtMs: this.#clock.now(),
      lastUsedAtMs: undefined,
    };
    if ((await this.#store.insertPasskey(passkey)) === 'exists')
      return { ok: false, reason: 'this passkey is registered already' };
    return { ok: true, value: passkey };
  }

  /** Options for signing in: any passkey of this site (the authenticator offers its own). */
  async signInOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await generateAuthenticationOptions({
      rpID: this.#options.rpId,
      userVerification: 'required',
      timeout: passkeyPromptTtlMs,
    });
    this.#open(options.challenge, {
      purpose: 'sign-in',
      expiresAtMs: this.#clock.now() + passkeyPromptTtlMs,
    });
    return options;
  }

  /** The analyst a passkey answer signs in, or why not (one reason for every failure kind). */
  async signIn(
    response: unknown,
    ip: string,
    requestOrigin: string | undefined,
  ): Promise<PasskeyResult<AnalystRecord>> {
    if (this.#failures.isBlocked(ip)) return { ok: false, reason: 'rate_limited' };
    const fail = (): PasskeyResult<AnalystRecord> => {
      this.#failures.recordFailure(ip);
      return { ok: false, reason: 'bad_passkey' };
    };
    const prompt = this.#take(response);
    if (prompt?.purpose !== 'sign-in') return fail();
    const credentialId = (response as { id?: unknown } | null)?.id;
    const passkey =
      typeof credentialId === 'string' ? await this.#store.findPasskey(credentialId) : undefined;
    if (passkey === undefined) return fail();
    const analyst = await this.#store.findAnalyst(passkey.analystId);
    if (analyst === undefined || analyst.disabledAtMs !== undefined) return fail();
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: (challenge: string) => challenge === prompt.challenge,
        expectedOrigin: this.#origins(requestOrigin),
        expectedRPID: this.#options.rpId,
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: passkey.counter,
          transports: passkey.transports,
        },
        requireUserVerification: true,
      });
    } catch {
      return fail();
    }
    if (!verified.verified) return fail();
    const moved = await this.#store.usePasskey(
      passkey.credentialId,
      passkey.counter,
      verified.authenticationInfo.newCounter,
      this.#clock.now(),
    );
    if (!moved) return fail();
    return { ok: true, value: analyst };
  }
}
