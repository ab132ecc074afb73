import { createHash, randomBytes as cryptoRandomBytes, randomInt as cryptoRandomInt } from 'node:crypto';
import type { BulwarkEvent, ChallengeMethod, ErrorCode } from '@bulwark/contracts';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import { renderNotification, type NotifyPort } from '../connectors/domain/notify.ts';
import type { Clock } from '../core/clock.ts';
import { minuteMs, toIso } from '../core/time.ts';
import { reportCompromised } from '../accounts/report-compromised.ts';
import type { CaseService } from '../cases/service.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { IngestService } from '../ingest/service.ts';
import type { EventLog, StoredEvent } from '../storage/ports.ts';
import { checkCode, codeDigest, codePolicy, digestsEqual, generateCode, readCode } from './domain/codes.ts';
import { coarseNetwork, describeDevice, maskDestination } from './domain/device.ts';
import { renderMessage, type Locale, type VerifyMessage } from './domain/messages.ts';
import { availableMethods, type CodeMethod, type SendMethod } from './domain/methods.ts';
import { verifyRateLimits } from './domain/rate-limit.ts';
import { memoryRateLimiters, type RateLimiter, type RateLimiterFactory } from '../ratelimit/port.ts';
import { deriveKey, signToken, verifyToken, type TokenPayload, type TokenPurpose } from './domain/tokens.ts';
import { checkTotp, secretFromBytes, totpFor } from './domain/totp.ts';
import type {
  AlertRecord,
  AlertSentMark,
  ChallengeRecord,
  ChannelsRecord,
  VerificationStore,
} from './ports.ts';
import { seal, unseal } from './seal.ts';

/** An expected refusal, answered to the caller with its code (never thrown). */
export interface VerifyFailure {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
}
export type VerifyResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: VerifyFailure };

const okOf = <T>(value: T): VerifyResult<T> => ({ ok: true, value });
const fail = (code: ErrorCode, message: string, field?: string): { ok: false; error: VerifyFailure } => ({
  ok: false,
  error: field === undefined ? { code, message } : { code, message, field },
});

export interface VerifyOptions {
  /** Base of every link sent and the WebAuthn origin, e.g. https://verify.example.com. */
  readonly publicUrl: string;
  readonly storeName: string;
  readonly rpId: string;
  /** Origins allowed in WebAuthn client data (the public URL's origin is always one). */
  readonly origins: readonly string[];
  readonly alertsEnabled: boolean;
  /** Approximate place of an IP address for messages (a country); a coarse network when unknown. */
  readonly placeOf?: (ip: string, locale: Locale) => string | undefined;
}

export interface VerifyDeps {
  readonly store: VerificationStore;
  readonly events: EventLog;
  readonly ingest: IngestService;
  /** For the owner's "this wasn't me" (the shared compromised use case). */
  readonly cases: CaseService;
  readonly ids: IdGenerator;
  readonly notify: NotifyPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** BULWARK_SECRET: every key here is derived from it per purpose. */
  readonly secret: string;
  readonly options: VerifyOptions;
  /** Randomness (crypto by default; tests may pin it). */
  readonly randomBytes?: (size: number) => Buffer;
  readonly randomInt?: (maxExclusive: number) => number;
  /** Where the verification limits are kept: in process by default, Redis when several nodes share them. */
  readonly rateLimiters?: RateLimiterFactory;
}

export interface ChallengeView {
  challengeId: string;
  status: 'pending' | 'passed' | 'failed' | 'expired';
  /** Methods listed by the decision. */
  methods: ChallengeMethod[];
  /** Methods this account can use now to satisfy it. */
  available: ChallengeMethod[];
  expiresAt: string;
  attemptsLeft: number;
  /** The hosted challenge page for this challenge (a signed link). */
  pageUrl: string;
}

export interface SendReceipt {
  method: SendMethod;
  channel: 'email' | 'sms';
  /** The destination, masked (j•••@example.com). */
  sentTo: string;
  expiresAt: string;
}

export interface TotpEnrolment {
  /** Base32 secret, shown once for manual entry. */
  secret: string;
  /** otpauth:// URI for authenticator apps. */
  uri: string;
  /** The same URI as a QR code, an SVG document. */
  qrSvg: string;
}

/** Tokens for links in messages live this long; the challenge page as long as its challenge. */
const linkTtlMs = codePolicy.codeTtlMs;
const alertLinkTtlMs = 7 * 24 * 60 * minuteMs;
/** Enrolment page links. */
const enrolLinkTtlMs = 30 * minuteMs;
const registrationTtlMs = 5 * minuteMs;
/** Events read from the log per outbox step. */
const outboxPageSize = 500;

/**
 * Step-up verification and owner alerts. Challenges come from `challenge` decisions in the event
 * log; answers are recorded as `challenge.completed` events through the normal ingest path, so
 * the risk profile learns from them exactly as it learns from a store's own report.
 */
export class VerificationService {
  readonly #deps: VerifyDeps;
  readonly #keys = new Map<string, Buffer>();
  readonly #perIp: RateLimiter;
  readonly #perAccount: RateLimiter;
  readonly #sendsPerAccount: RateLimiter;
  readonly #randomBytes: (size: number) => Buffer;
  readonly #randomInt: (maxExclusive: number) => number;
  /** One outbox step at a time (the timer and a catch-up may ask together). */
  #outboxRun: Promise<number> = Promise.resolve(0);

  constructor(deps: VerifyDeps) {
    this.#deps = deps;
    const limiters = deps.rateLimiters ?? memoryRateLimiters;
    this.#perIp = limiters('verify-ip', verifyRateLimits.perIp);
    this.#perAccount = limiters('verify-account', verifyRateLimits.perAccount);
    this.#sendsPerAccount = limiters('verify-sends', verifyRateLimits.sendsPerAccount);
    this.#randomBytes = deps.randomBytes ?? cryptoRandomBytes;
    this.#randomInt = deps.randomInt ?? ((max) => cryptoRandomInt(max));
  }

  get options(): VerifyOptions {
    return this.#deps.options;
  }

  #key(purpose: string): Buffer {
    let key = this.#keys.get(purpose);
    if (key === undefined) {
      key = deriveKey(this.#deps.secret, purpose);
      this.#keys.set(purpose, key);
    }
    return key;
  }

  readonly #tokenKey = (purpose: TokenPurpose): Buffer => this.#key(`token:${purpose}`);

  #now(): number {
    return this.#deps.clock.now();
  }

  #newId(): string {
    return this.#randomBytes(16).toString('base64url');
  }

  /** Makes a signed link token. */
  token(purpose: TokenPurpose, subject: string, ttlMs: number): string {
    return signToken(this.#tokenKey, {
      p: purpose,
      sub: subject,
      jti: this.#newId(),
      exp: this.#now() + ttlMs,
    });
  }

  /** Checks a link token; `single` spends it (a second use is TOKEN_USED). */
  async readToken(
    purpose: TokenPurpose,
    token: unknown,
    single: boolean,
  ): Promise<VerifyResult<TokenPayload>> {
    const checked = verifyToken(this.#tokenKey, purpose, token, this.#now());
    if (!checked.ok) {
      if (checked.problem === 'expired')
        return fail('TOKEN_EXPIRED', 'this link has expired; ask for a new one', 'token');
      return fail('TOKEN_INVALID', 'this link is not valid (it may be incomplete or altered)', 'token');
    }
    if (single && !(await this.#deps.store.useToken(checked.payload.jti, this.#now(), checked.payload.exp)))
      return fail('TOKEN_USED', 'this link was already used', 'token');
    return okOf(checked.payload);
  }

  /** Counts a request from `ip` against the per-address limit of verification endpoints. */
  async allowIp(ip: string): Promise<VerifyResult<true>> {
    const decision = await this.#perIp.take(ip, this.#now());
    if (decision.allowed) return okOf(true);
    return fail(
      'RATE_LIMITED',
      `too many verification requests from this address; wait ${String(Math.ceil(decision.retryAfterMs / 1000))} s`,
    );
  }

  // ---------- challenges ----------

  /** A challenge by id; follows the event log once when it is not yet known (just decided). */
  async #challenge(challengeId: string): Promise<VerifyResult<ChallengeRecord>> {
    let record = await this.#deps.store.getChallenge(challengeId);
    if (record === undefined) {
      await this.drainOutbox();
      record = await this.#deps.store.getChallenge(challengeId);
    }
    // Unknown and foreign ids answer alike: nothing tells whether an account or challenge exists.
    if (record === undefined) return fail('NOT_FOUND', 'no such challenge', 'challengeId');
    return okOf(record);
  }

  #statusOf(record: ChallengeRecord): ChallengeView['status'] {
    if (record.status !== 'pending') return record.status;
    return this.#now() >= record.expiresAtMs ? 'expired' : 'pending';
  }

  /** The challenge if it can still be answered. */
  async #openChallenge(challengeId: string): Promise<VerifyResult<ChallengeRecord>> {
    const found = await this.#challenge(challengeId);
    if (!found.ok) return found;
    const status = this.#statusOf(found.value);
    if (status !== 'pending')
      return fail(
        'CHALLENGE_CLOSED',
        `this challenge is ${status === 'expired' ? 'expired' : `already ${status}`}; start a new sign-in`,
      );
    return found;
  }

  async #available(record: ChallengeRecord): Promise<ChallengeMethod[]> {
    const [channels, totp, passkeys] = await Promise.all([
      this.#deps.store.getChannels(record.accountId),
      this.#deps.store.getTotp(record.accountId),
      this.#deps.store.listPasskeys(record.accountId),
    ]);
    return availableMethods(record.methods, {
      hasEmail: channels?.email !== undefined,
      hasPhone: channels?.phone !== undefined,
      hasPasskey: passkeys.length > 0,
      hasTotp: totp?.confirmedAtMs !== undefined,
    });
  }

  async view(challengeId: string): Promise<VerifyResult<ChallengeView>> {
    const found = await this.#challenge(challengeId);
    if (!found.ok) return found;
    const record = found.value;
    return okOf({
      challengeId: record.challengeId,
      status: this.#statusOf(record),
      methods: record.methods,
      available: await this.#available(record),
      expiresAt: toIso(record.expiresAtMs),
      attemptsLeft: Math.max(0, codePolicy.attemptsPerChallengeMax - record.attempts),
      pageUrl: this.pageUrl(record),
    });
  }

  /** A link to the hosted enrolment page for an account the store has just authenticated. */
  enrolmentLink(accountId: string): { url: string; expiresAt: string } {
    const token = this.token('enrol', accountId, enrolLinkTtlMs);
    return {
      url: `${this.#deps.options.publicUrl}/pages/enrol/${token}`,
      expiresAt: toIso(this.#now() + enrolLinkTtlMs),
    };
  }

  pageUrl(record: ChallengeRecord): string {
    const ttlMs = Math.max(1, record.expiresAtMs - this.#now());
    return `${this.#deps.options.publicUrl}/pages/challenge/${this.token('page', record.challengeId, ttlMs)}`;
  }

  async #requireMethod(record: ChallengeRecord, method: ChallengeMethod): Promise<VerifyResult<true>> {
    if ((await this.#available(record)).includes(method)) return okOf(true);
    return fail('METHOD_NOT_AVAILABLE', `${method} cannot answer this challenge for this account`, 'method');
  }

  async #locale(accountId: string, asked: Locale | undefined): Promise<Locale> {
    return asked ?? (await this.#deps.store.getChannels(accountId))?.locale ?? 'en';
  }

  /** Where an address is, roughly, for a person: a country and a coarse network. */
  describePlace(ip: string, locale: Locale): string {
    return this.#place(ip, locale);
  }

  #place(ip: string, locale: Locale): string {
    const network = coarseNetwork(ip);
    const place = this.#deps.options.placeOf?.(ip, locale);
    return place === undefined ? network : `${place} (${network})`;
  }

  /** Sends a code, a link or a "was this you?" confirmation for a challenge. */
  async send(
    challengeId: string,
    method: SendMethod,
    asked: { locale?: Locale } = {},
  ): Promise<VerifyResult<SendReceipt>> {
    const open = await this.#openChallenge(challengeId);
    if (!open.ok) return open;
    const record = open.value;
    const usable = await this.#requireMethod(record, method);
    if (!usable.ok) return usable;
    if (record.codeSends >= codePolicy.sendsPerChallengeMax)
      return fail(
        'ATTEMPTS_EXCEEDED',
        `at most ${String(codePolicy.sendsPerChallengeMax)} messages per challenge; use the last one sent`,
      );
    const limit = await this.#sendsPerAccount.take(record.accountId, this.#now());
    if (!limit.allowed)
      return fail('RATE_LIMITED', 'too many messages to this account recently; wait a few minutes');
    const channels = await this.#deps.store.getChannels(record.accountId);
    const locale = await this.#locale(record.accountId, asked.locale);
    const useSms =
      method === 'sms_otp' || (method === 'device_confirmation' && channels?.email === undefined);
    const to = useSms ? channels?.phone : channels?.email;
    if (to === undefined) return fail('METHOD_NOT_AVAILABLE', `${method} has no verified channel`, 'method');
    const store = this.#deps.options.storeName;
    const sendNumber = record.codeSends + 1;
    const expiresAtMs = this.#now() + codePolicy.codeTtlMs;
    const changes: Partial<ChallengeRecord> = { codeSends: sendNumber };
    let rendered: { subject: string; text: string; sms: string };
    if (method === 'email_otp' || method === 'sms_otp') {
      const code = generateCode(this.#randomInt);
      Object.assign(changes, {
        codeDigest: codeDigest(this.#key('code'), record.challengeId, code),
        codeMethod: method,
        codeExpiresAtMs: expiresAtMs,
      });
      rendered = renderNotification(
        { kind: 'one_time_code', storeName: store, code, validMinutes: codePolicy.codeTtlMs / minuteMs },
        locale,
      );
    } else {
      const message: VerifyMessage =
        method === 'email_link'
          ? {
              kind: 'email_link',
              url: `${this.#deps.options.publicUrl}/pages/link/${this.token('email_link', record.challengeId, linkTtlMs)}`,
              validMinutes: linkTtlMs / minuteMs,
            }
          : {
              kind: 'confirm_sign_in',
              device: record.device,
              place: this.#place(record.ip, locale),
              atIso: toIso(record.createdAtMs),
              url: `${this.#deps.options.publicUrl}/pages/confirm/${this.token('confirm', record.challengeId, linkTtlMs)}`,
              validMinutes: linkTtlMs / minuteMs,
            };
      rendered = renderMessage(message, store, locale);
    }
    // The code is stored before it is sent: a code that arrives is always one we can check.
    if (!(await this.#deps.store.updatePendingChallenge(record.challengeId, changes)))
      return fail('CHALLENGE_CLOSED', 'this challenge was completed meanwhile');
    const idempotencyKey = `challenge:${record.challengeId}:${method}:${String(sendNumber)}`;
    const result = useSms
      ? await this.#deps.notify.sendSms({ message: { to, text: rendered.sms }, idempotencyKey })
      : await this.#deps.notify.sendEmail({
          message: { to, subject: rendered.subject, text: rendered.text },
          idempotencyKey,
        });
    if (!result.ok) {
      this.#deps.logger.warn(
        {
          challengeId: record.challengeId,
          method,
          kind: result.error.kind,
          providerCode: result.error.providerCode,
        },
        'verification message not delivered',
      );
      return fail(
        'DELIVERY_FAILED',
        `the ${useSms ? 'SMS' : 'e-mail'} could not be sent (${result.error.kind}); try again or use another method`,
      );
    }
    return okOf({
      method,
      channel: useSms ? 'sms' : 'email',
      sentTo: maskDestination(to),
      expiresAt: toIso(expiresAtMs),
    });
  }

  /** Counts one answer against the account and the challenge; fails the challenge at the limit. */
  async #countAttempt(record: ChallengeRecord, method: ChallengeMethod): Promise<VerifyResult<number>> {
    const limit = await this.#perAccount.take(record.accountId, this.#now());
    if (!limit.allowed)
      return fail('RATE_LIMITED', 'too many verification attempts for this account; wait a few minutes');
    const attempts = await this.#deps.store.addAttempt(record.challengeId);
    if (attempts === undefined) return fail('CHALLENGE_CLOSED', 'this challenge was completed meanwhile');
    if (attempts > codePolicy.attemptsPerChallengeMax) {
      await this.#complete(record, method, 'failed');
      return fail(
        'ATTEMPTS_EXCEEDED',
        'too many wrong answers: this challenge is closed; start a new sign-in',
      );
    }
    return okOf(codePolicy.attemptsPerChallengeMax - attempts);
  }

  /** Checks a typed code (e-mail, SMS or authenticator app). */
  async verifyCode(
    challengeId: string,
    method: CodeMethod,
    input: unknown,
  ): Promise<VerifyResult<{ result: 'passed' }>> {
    const read = readCode(input);
    if (!read.ok)
      return read.problem === 'too_long'
        ? fail('INVALID_PARAMETER', `code: longer than ${String(codePolicy.digits)} digits`, 'code')
        : fail('INVALID_PARAMETER', `code: must be ${String(codePolicy.digits)} digits`, 'code');
    const found = await this.#challenge(challengeId);
    if (!found.ok) return found;
    const record = found.value;
    // A code typed again after it passed is a replay, named as such.
    if (record.status === 'passed' && method !== 'totp' && record.codeDigest !== undefined) {
      const again = digestsEqual(
        codeDigest(this.#key('code'), record.challengeId, read.code),
        record.codeDigest,
      );
      if (again) return fail('CODE_REUSED', 'this code was already used', 'code');
    }
    const open = await this.#openChallenge(challengeId);
    if (!open.ok) return open;
    const usable = await this.#requireMethod(record, method);
    if (!usable.ok) return usable;
    const counted = await this.#countAttempt(record, method);
    if (!counted.ok) return counted;
    if (method === 'totp') return this.#verifyTotp(record, read.code, counted.value);
    if (record.codeMethod !== method)
      return fail(
        'METHOD_NOT_AVAILABLE',
        `no ${method} code was sent for this challenge; send one first`,
        'method',
      );
    const check = checkCode(
      { digest: record.codeDigest, expiresAtMs: record.codeExpiresAtMs },
      this.#key('code'),
      record.challengeId,
      read.code,
      this.#now(),
    );
    switch (check) {
      case 'passed':
        await this.#complete(record, method, 'passed');
        return okOf({ result: 'passed' });
      case 'expired':
        return fail('CODE_EXPIRED', 'this code has expired; ask for a new one', 'code');
      case 'no_code':
        return fail('METHOD_NOT_AVAILABLE', 'no code was sent for this challenge; send one first', 'method');
      case 'wrong':
        return fail(
          'CODE_INVALID',
          `the code is not right; ${String(counted.value)} attempt(s) left`,
          'code',
        );
    }
  }

  async #verifyTotp(
    record: ChallengeRecord,
    code: string,
    attemptsLeft: number,
  ): Promise<VerifyResult<{ result: 'passed' }>> {
    const totp = await this.#totpOf(record.accountId);
    if (totp === undefined) return fail('METHOD_NOT_AVAILABLE', 'no authenticator app is enrolled', 'method');
    const checked = checkTotp(totp, code, this.#now(), () => false);
    if (!checked.ok)
      return fail('CODE_INVALID', `the code is not right; ${String(attemptsLeft)} attempt(s) left`, 'code');
    // The database decides single use: two requests with one code cannot both pass.
    if (!(await this.#deps.store.useTotpStep(record.accountId, checked.step, this.#now()))) {
      await this.#alert(
        {
          alertId: `replay:${record.challengeId}:${String(checked.step)}`,
          accountId: record.accountId,
          kind: 'code_replayed',
          detail: { at: toIso(this.#now()) },
        },
        await this.#deps.store.getChannels(record.accountId),
      );
      return fail('CODE_REUSED', 'this code was already used; wait for the next one', 'code');
    }
    await this.#complete(record, 'totp', 'passed');
    return okOf({ result: 'passed' });
  }

  async #totpOf(
    accountId: string,
    includeUnconfirmed = false,
  ): Promise<ReturnType<typeof totpFor> | undefined> {
    const enrolment = await this.#deps.store.getTotp(accountId);
    if (enrolment === undefined || (enrolment.confirmedAtMs === undefined && !includeUnconfirmed))
      return undefined;
    const secret = unseal(this.#key('totp-secret'), enrolment.sealedSecret, accountId);
    return totpFor(secret, accountId, this.#deps.options.storeName);
  }

  /** Records the outcome once and feeds it to the risk profile as `challenge.completed`. */
  async #complete(
    record: ChallengeRecord,
    method: ChallengeMethod,
    result: 'passed' | 'failed',
  ): Promise<boolean> {
    const nowMs = this.#now();
    const changed = await this.#deps.store.updatePendingChallenge(record.challengeId, {
      status: result,
      completedAtMs: nowMs,
      completedMethod: method,
      webauthnChallenge: undefined,
    });
    if (!changed) return false;
    const event = {
      id: `bulwark:challenge:${record.challengeId}`,
      type: 'challenge.completed',
      at: toIso(nowMs),
      accountId: record.accountId,
      challengeId: record.challengeId,
      method,
      result,
    };
    const [answer] = await this.#deps.ingest.ingest([event]);
    if (answer !== undefined && !answer.ok && answer.error.error.code !== 'EVENT_ID_CONFLICT')
      this.#deps.logger.error(
        { challengeId: record.challengeId, error: answer.error.error },
        'challenge.completed was refused',
      );
    return true;
  }

  // ---------- passkeys ----------

  #origins(): string[] {
    return [new URL(this.#deps.options.publicUrl).origin, ...this.#deps.options.origins];
  }

  async passkeyRegistrationOptions(accountId: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#deps.store.listPasskeys(accountId);
    const channels = await this.#deps.store.getChannels(accountId);
    const options = await generateRegistrationOptions({
      rpName: this.#deps.options.storeName,
      rpID: this.#deps.options.rpId,
      userName: channels?.email ?? accountId,
      // A stable opaque handle: the authenticator never sees the store's account id.
      userID: createHash('sha256').update(this.#key('user-handle')).update(accountId).digest(),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: registrationTtlMs,
    });
    await this.#deps.store.putRegistrationChallenge(
      accountId,
      options.challenge,
      this.#now() + registrationTtlMs,
    );
    return options;
  }

  async passkeyRegister(
    accountId: string,
    response: unknown,
  ): Promise<VerifyResult<{ credentialId: string }>> {
    const pending = await this.#deps.store.takeRegistrationChallenge(accountId);
    if (pending === undefined || this.#now() >= pending.expiresAtMs)
      return fail(
        'WEBAUTHN_FAILED',
        'no passkey registration is in progress (or it expired); ask for options again',
      );
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: pending.challenge,
        expectedOrigin: this.#origins(),
        expectedRPID: this.#deps.options.rpId,
        requireUserVerification: true,
      });
    } catch (error) {
      return fail('WEBAUTHN_FAILED', `the passkey was not accepted: ${webauthnReason(error)}`);
    }
    if (!verified.verified) return fail('WEBAUTHN_FAILED', 'the passkey was not accepted');
    const { credential } = verified.registrationInfo;
    if ((await this.#deps.store.getPasskey(credential.id)) !== undefined)
      return fail('WEBAUTHN_FAILED', 'this passkey is already registered');
    await this.#deps.store.insertPasskey({
      credentialId: credential.id,
      accountId,
      publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: credential.transports ?? [],
      createdAtMs: this.#now(),
      lastUsedAtMs: undefined,
    });
    return okOf({ credentialId: credential.id });
  }

  async passkeyOptions(challengeId: string): Promise<VerifyResult<PublicKeyCredentialRequestOptionsJSON>> {
    const open = await this.#openChallenge(challengeId);
    if (!open.ok) return open;
    const record = open.value;
    const usable = await this.#requireMethod(record, 'passkey');
    if (!usable.ok) return usable;
    const passkeys = await this.#deps.store.listPasskeys(record.accountId);
    const options = await generateAuthenticationOptions({
      rpID: this.#deps.options.rpId,
      allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports })),
      userVerification: 'required',
      timeout: codePolicy.codeTtlMs,
    });
    if (
      !(await this.#deps.store.updatePendingChallenge(record.challengeId, {
        webauthnChallenge: options.challenge,
      }))
    )
      return fail('CHALLENGE_CLOSED', 'this challenge was completed meanwhile');
    return okOf(options);
  }

  async passkeyVerify(challengeId: string, response: unknown): Promise<VerifyResult<{ result: 'passed' }>> {
    const open = await this.#openChallenge(challengeId);
    if (!open.ok) return open;
    const record = open.value;
    const expected = record.webauthnChallenge;
    if (expected === undefined)
      return fail('WEBAUTHN_FAILED', 'no passkey prompt is open for this challenge; ask for options first');
    const counted = await this.#countAttempt(record, 'passkey');
    if (!counted.ok) return counted;
    // The WebAuthn challenge is single use: spent before the answer is even looked at.
    await this.#deps.store.updatePendingChallenge(record.challengeId, { webauthnChallenge: undefined });
    const credentialId = (response as { id?: unknown } | null)?.id;
    const passkey =
      typeof credentialId === 'string' ? await this.#deps.store.getPasskey(credentialId) : undefined;
    if (passkey?.accountId !== record.accountId)
      return fail('WEBAUTHN_FAILED', 'this passkey is not registered for the account');
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: expected,
        expectedOrigin: this.#origins(),
        expectedRPID: this.#deps.options.rpId,
        credential: {
          id: passkey.credentialId,
          publicKey: Buffer.from(passkey.publicKey, 'base64url'),
          counter: passkey.counter,
          transports: passkey.transports,
        },
        requireUserVerification: true,
      });
    } catch (error) {
      return fail('WEBAUTHN_FAILED', `the passkey answer was not accepted: ${webauthnReason(error)}`);
    }
    if (!verified.verified) return fail('WEBAUTHN_FAILED', 'the passkey answer was not accepted');
    const { newCounter } = verified.authenticationInfo;
    if (
      !(await this.#deps.store.advancePasskeyCounter(
        passkey.credentialId,
        passkey.counter,
        newCounter,
        this.#now(),
      ))
    )
      return fail('WEBAUTHN_FAILED', 'the passkey answer was already used');
    await this.#complete(record, 'passkey', 'passed');
    return okOf({ result: 'passed' });
  }

  // ---------- TOTP enrolment ----------

  async totpEnrol(accountId: string): Promise<VerifyResult<TotpEnrolment>> {
    const existing = await this.#deps.store.getTotp(accountId);
    // Re-enrolling over a confirmed app would let a session thief swap the owner's authenticator.
    if (existing?.confirmedAtMs !== undefined)
      return fail(
        'METHOD_NOT_AVAILABLE',
        'an authenticator app is already confirmed for this account',
        'method',
      );
    // An unconfirmed enrolment is shown again (a reload or a mistyped first code must not change
    // the secret the owner already scanned) until the enrolment link's lifetime is over.
    const reusable = existing !== undefined && this.#now() - existing.createdAtMs < enrolLinkTtlMs;
    const secret = reusable
      ? unseal(this.#key('totp-secret'), existing.sealedSecret, accountId)
      : secretFromBytes(this.#randomBytes(20));
    if (!reusable) {
      await this.#deps.store.putTotp({
        accountId,
        sealedSecret: seal(this.#key('totp-secret'), secret, accountId),
        createdAtMs: this.#now(),
        confirmedAtMs: undefined,
      });
    }
    const uri = totpFor(secret, accountId, this.#deps.options.storeName).toString();
    const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return okOf({ secret, uri, qrSvg });
  }

  async hasConfirmedTotp(accountId: string): Promise<boolean> {
    return (await this.#deps.store.getTotp(accountId))?.confirmedAtMs !== undefined;
  }

  async totpConfirm(accountId: string, input: unknown): Promise<VerifyResult<{ confirmed: true }>> {
    const read = readCode(input);
    if (!read.ok)
      return fail('INVALID_PARAMETER', `code: must be ${String(codePolicy.digits)} digits`, 'code');
    const limit = await this.#perAccount.take(accountId, this.#now());
    if (!limit.allowed) return fail('RATE_LIMITED', 'too many attempts for this account; wait a few minutes');
    const enrolment = await this.#deps.store.getTotp(accountId);
    if (enrolment === undefined) return fail('METHOD_NOT_AVAILABLE', 'start the enrolment first', 'method');
    if (enrolment.confirmedAtMs !== undefined)
      return fail('CHALLENGE_CLOSED', 'the authenticator app is already confirmed');
    const totp = await this.#totpOf(accountId, true);
    if (totp === undefined) return fail('METHOD_NOT_AVAILABLE', 'start the enrolment first', 'method');
    const checked = checkTotp(totp, read.code, this.#now(), () => false);
    if (!checked.ok)
      return fail('CODE_INVALID', 'the code is not right; check the app shows this account', 'code');
    if (!(await this.#deps.store.useTotpStep(accountId, checked.step, this.#now())))
      return fail('CODE_REUSED', 'this code was already used; wait for the next one', 'code');
    await this.#deps.store.confirmTotp(accountId, this.#now());
    return okOf({ confirmed: true });
  }

  // ---------- channels, confirmations, alerts ----------

  async setChannels(
    accountId: string,
    channels: { email?: string | null; phone?: string | null; locale?: Locale },
  ): Promise<ChannelsRecord> {
    const current = await this.#deps.store.getChannels(accountId);
    const pick = (given: string | null | undefined, kept: string | undefined): string | undefined =>
      given === undefined ? kept : (given ?? undefined);
    const record: ChannelsRecord = {
      accountId,
      email: pick(channels.email, current?.email),
      phone: pick(channels.phone, current?.phone),
      locale: channels.locale ?? current?.locale ?? 'en',
      updatedAtMs: this.#now(),
    };
    await this.#deps.store.putChannels(record);
    return record;
  }

  /** What a "was this you?" or e-mail link page shows, without spending the token. */
  async describeChallengeToken(
    purpose: 'confirm' | 'email_link' | 'page',
    token: unknown,
  ): Promise<VerifyResult<{ record: ChallengeRecord; view: ChallengeView }>> {
    const payload = await this.readToken(purpose, token, false);
    if (!payload.ok) return payload;
    const found = await this.#challenge(payload.value.sub);
    if (!found.ok) return found;
    const view = await this.view(found.value.challengeId);
    if (!view.ok) return view;
    return okOf({ record: found.value, view: view.value });
  }

  /** The owner's answer to "was this you?": approve passes the challenge; "not me" fails it and opens containment. */
  async answerConfirmation(
    token: unknown,
    answer: 'approve' | 'not_me',
  ): Promise<VerifyResult<{ result: 'passed' | 'failed'; caseId?: string }>> {
    const payload = await this.readToken('confirm', token, true);
    if (!payload.ok) return payload;
    const open = await this.#openChallenge(payload.value.sub);
    if (!open.ok) return open;
    if (answer === 'approve') {
      await this.#complete(open.value, 'device_confirmation', 'passed');
      return okOf({ result: 'passed' });
    }
    await this.#complete(open.value, 'device_confirmation', 'failed');
    const caseId = await this.reportCompromised(open.value.accountId, `confirm:${open.value.challengeId}`);
    return okOf(caseId === undefined ? { result: 'failed' } : { result: 'failed', caseId });
  }

  /** The e-mail link's "Confirm" button. */
  async useEmailLink(token: unknown): Promise<VerifyResult<{ result: 'passed' }>> {
    const payload = await this.readToken('email_link', token, true);
    if (!payload.ok) return payload;
    const open = await this.#openChallenge(payload.value.sub);
    if (!open.ok) return open;
    await this.#complete(open.value, 'email_link', 'passed');
    return okOf({ result: 'passed' });
  }

  async describeAlert(token: unknown): Promise<VerifyResult<AlertRecord>> {
    const payload = await this.readToken('alert', token, false);
    if (!payload.ok) return payload;
    const alert = await this.#deps.store.getAlert(payload.value.sub);
    if (alert === undefined) return fail('TOKEN_INVALID', 'this link is not valid', 'token');
    return okOf(alert);
  }

  /** The alert landing page's answer; "not me" opens containment for the account. */
  async answerAlert(
    token: unknown,
    answer: 'this_was_me' | 'not_me',
  ): Promise<VerifyResult<{ answer: string; caseId?: string }>> {
    const payload = await this.readToken('alert', token, true);
    if (!payload.ok) return payload;
    const alert = await this.#deps.store.getAlert(payload.value.sub);
    if (alert === undefined) return fail('TOKEN_INVALID', 'this link is not valid', 'token');
    await this.#deps.store.answerAlert(alert.alertId, answer);
    if (answer === 'this_was_me') return okOf({ answer });
    const caseId = await this.reportCompromised(alert.accountId, `alert:${alert.alertId}`);
    return okOf(caseId === undefined ? { answer } : { answer, caseId });
  }

  /**
   * The owner's "this wasn't me": the shared compromised use case (the one behind
   * `POST /v1/accounts/{id}/compromised`), keyed by what was answered so a second press joins
   * the same case. Answers the case id.
   */
  async reportCompromised(accountId: string, basis: string): Promise<string | undefined> {
    const reported = await reportCompromised(
      { ingest: this.#deps.ingest, cases: this.#deps.cases, clock: this.#deps.clock, ids: this.#deps.ids },
      { accountId, reportedBy: 'owner', idempotencyKey: basis, basis },
    );
    if (reported.ok) return reported.view.caseId;
    this.#deps.logger.error({ accountId, error: reported.error }, "the owner's report was refused");
    return undefined;
  }

  /**
   * Creates and sends one alert once per id, to the account's `channels` (read by the caller): a
   * later call finds the stored alert and, once it is marked sent, sends nothing again. For an
   * alert raised by a request (a replayed code); the outbox inserts and marks a page's alerts
   * together (`#drainPage`) and shares only `#sendAlert`.
   */
  async #alert(input: AlertInput, channels: ChannelsRecord | undefined): Promise<void> {
    const stored = await this.#deps.store.insertAlert(this.#alertRecord(input, channels));
    if (stored.sentAtMs !== undefined) return;
    const sent = await this.#sendAlert(stored, channels);
    await this.#deps.store.markAlertSent(stored.alertId, sent, this.#now());
  }

  /** The row an alert is stored as before it is sent: the place is named in the owner's language. */
  #alertRecord(input: AlertInput, channels: ChannelsRecord | undefined): AlertRecord {
    const ip = input.detail.ip;
    return {
      ...input,
      detail:
        ip === undefined
          ? input.detail
          : { ...input.detail, place: this.#place(ip, channels?.locale ?? 'en') },
      createdAtMs: this.#now(),
      sentAtMs: undefined,
      channels: [],
      answer: undefined,
    };
  }

  /**
   * Renders a stored alert and sends it to each of `channels` it has, under the idempotency key
   * `alert:<id>:<channel>`; answers the channels it went to (none when the account has none or a
   * provider refused it for good). A temporary failure is thrown, so the alert stays unsent and is
   * tried again on the next step. Neither reads nor writes the alert row: the caller marks it.
   */
  async #sendAlert(stored: AlertRecord, channels: ChannelsRecord | undefined): Promise<string[]> {
    const locale = channels?.locale ?? 'en';
    const reportUrl = `${this.#deps.options.publicUrl}/pages/alert/${this.token('alert', stored.alertId, alertLinkTtlMs)}`;
    const detail = stored.detail;
    const at = detail.at ?? toIso(stored.createdAtMs);
    const message: VerifyMessage =
      stored.kind === 'code_replayed'
        ? { kind: 'code_replayed', atIso: at, reportUrl }
        : stored.kind === 'new_device'
          ? {
              kind: 'new_device',
              device: detail.device ?? '',
              place: detail.place ?? '',
              atIso: at,
              reportUrl,
            }
          : {
              kind: 'sensitive_change',
              field: detail.field ?? '',
              device: detail.device ?? '',
              place: detail.place ?? '',
              atIso: at,
              reportUrl,
            };
    const rendered = renderMessage(message, this.#deps.options.storeName, locale);
    const sent: string[] = [];
    if (channels?.email !== undefined) {
      const result = await this.#deps.notify.sendEmail({
        message: { to: channels.email, subject: rendered.subject, text: rendered.text },
        idempotencyKey: `alert:${stored.alertId}:email`,
      });
      if (result.ok) sent.push('email');
      else if (result.error.retryable)
        throw new Error(`alert e-mail not sent (${result.error.kind}); retried on the next step`);
    }
    if (channels?.phone !== undefined) {
      const result = await this.#deps.notify.sendSms({
        message: { to: channels.phone, text: rendered.sms },
        idempotencyKey: `alert:${stored.alertId}:sms`,
      });
      if (result.ok) sent.push('sms');
      else if (result.error.retryable)
        throw new Error(`alert SMS not sent (${result.error.kind}); retried on the next step`);
    }
    return sent;
  }

  // ---------- the outbox: following the event log ----------

  /**
   * Handles every event logged since the stored cursor: records challenges from decisions, owner
   * channels from `account.created`, and sends new-device and sensitive-change alerts. A page of
   * the log costs a few statements, not a few per event or per alert (see `#drainPage`); only the
   * messages go out one by one. The cursor moves only past events fully handled, so a crash
   * re-handles them; every step is idempotent per event id. Answers the events handled.
   */
  drainOutbox(): Promise<number> {
    const run = this.#outboxRun.then(
      () => this.#drain(),
      () => this.#drain(),
    );
    this.#outboxRun = run.catch(() => 0);
    return run;
  }

  async #drain(): Promise<number> {
    let handled = 0;
    // Read once per step: a page handled whole leaves the cursor at its last event (a page that
    // fails throws, after saving how far it got), so the next page starts there.
    let cursor = await this.#deps.store.readCursor();
    for (;;) {
      const page = await this.#deps.events.readAfter(cursor, outboxPageSize);
      if (page.length === 0) return handled;
      handled += await this.#drainPage(cursor, page);
      cursor = page.at(-1)?.seq ?? cursor;
    }
  }

  /**
   * One page of the log in a fixed number of statements, however many events and alerts it
   * holds: the channels of every account alerted (one read), the channels learnt, the challenges,
   * the page's alerts (one insert, plus one read of those stored before), then the messages in log
   * order (the only round trips per alert), then the marks of the alerts sent and the cursor.
   *
   * The marks and the cursor are saved once, after the page, or when a step fails: the marks of
   * every alert sent before the failure, then the cursor at the last event fully handled before
   * it. Handling events again after a crash is safe because each effect is keyed by the event: a
   * challenge row by the decision's challenge id (a repeat is ignored, never resetting an answered
   * one), learnt channels only fill what is missing (the same values again), an alert row by
   * `event:<id>` (a stored alert that has `sentAtMs` is not sent again), and each message by the
   * idempotency key `alert:<id>:<channel>`. Only an alert sent but not yet marked when the process
   * died can go out twice, with the same idempotency key; as a page's marks are written together,
   * that is any alert the page had sent so far. A failed send is not such a case: what was sent
   * before it is marked.
   *
   * Order is kept where a person could see it: alerts go out in log order; an alert sees the
   * channels as they were at its place in the log (those stored when the page was read, plus
   * what earlier `account.created` events of the page gave); channels are written before the
   * challenges, so a challenge that can be read already has the channels its account was created
   * with. Answers the events handled.
   */
  async #drainPage(cursor: number, page: readonly StoredEvent[]): Promise<number> {
    const steps = page.map((stored) => this.#stepOf(stored));
    let done = cursor;
    let handled = 0;
    const marks: AlertSentMark[] = [];
    try {
      // Read before the page's learnt channels are written: each alert must see them as of its
      // own place in the log, which `channelsAtAlerts` replays in memory.
      const alerted = new Set(
        steps.flatMap((step) => (step.alert === undefined ? [] : [step.alert.accountId])),
      );
      const channelsAt = channelsAtAlerts(steps, await this.#deps.store.getChannelsOf([...alerted]));
      await this.#deps.store.fillChannels(mergeLearnt(steps));
      await this.#deps.store.insertChallenges(
        steps.flatMap((step) => (step.challenge === undefined ? [] : [step.challenge])),
      );
      const stored = await this.#deps.store.insertAlerts(
        steps.flatMap((step) =>
          step.alert === undefined ? [] : [this.#alertRecord(step.alert, channelsAt.get(step.seq))],
        ),
      );
      for (const step of steps) {
        if (step.alert !== undefined) {
          const { alertId } = step.alert;
          const record = stored.get(alertId);
          if (record === undefined) throw new Error(`alert ${alertId} was not stored`);
          if (record.sentAtMs === undefined) {
            const channels = await this.#sendAlert(record, channelsAt.get(step.seq));
            marks.push({ alertId, channels, atMs: this.#now() });
          }
        }
        done = step.seq;
        handled += 1;
      }
    } finally {
      // Marks first: the cursor never moves past an alert sent but not marked.
      if (marks.length > 0) await this.#deps.store.markAlertsSent(marks);
      if (done !== cursor) await this.#deps.store.writeCursor(done);
    }
    return handled;
  }

  /** What one logged event asks of the outbox (computed without I/O). */
  #stepOf(stored: StoredEvent): OutboxStep {
    const { event, decision } = stored;
    let challenge: ChallengeRecord | undefined;
    if (decision.challenge !== undefined && event.accountId !== undefined) {
      const context = 'context' in event ? event.context : undefined;
      challenge = {
        challengeId: decision.challenge.id,
        accountId: event.accountId,
        eventId: event.id,
        methods: decision.challenge.methods,
        device: context === undefined ? 'an unknown device' : describeDevice(context.userAgent),
        ip: context?.ip ?? '',
        createdAtMs: stored.decidedAtMs,
        expiresAtMs: stored.decidedAtMs + codePolicy.challengeTtlMs,
        status: 'pending',
        attempts: 0,
        codeDigest: undefined,
        codeMethod: undefined,
        codeExpiresAtMs: undefined,
        codeSends: 0,
        webauthnChallenge: undefined,
        completedAtMs: undefined,
        completedMethod: undefined,
      };
    }
    return {
      seq: stored.seq,
      challenge,
      learnt: learntChannels(event, stored.decidedAtMs),
      alert: this.#alertOf(stored),
    };
  }

  /** The new-device or sensitive-change alert a logged event asks for, if any. */
  #alertOf(stored: StoredEvent): AlertInput | undefined {
    const { event, decision } = stored;
    if (!this.#deps.options.alertsEnabled || event.accountId === undefined) return undefined;
    if (decision.decision === 'deny') return undefined;
    const isNewDevice =
      event.type === 'login.succeeded' && decision.reasons.some((r) => r.code === 'new_device');
    if (isNewDevice)
      return {
        alertId: `event:${event.id}`,
        accountId: event.accountId,
        kind: 'new_device',
        detail: { device: describeDevice(event.context.userAgent), ip: event.context.ip, at: event.at },
      };
    if (event.type === 'account.updated')
      return {
        alertId: `event:${event.id}`,
        accountId: event.accountId,
        kind: 'sensitive_change',
        detail: {
          field: event.field,
          device: describeDevice(event.context.userAgent),
          ip: event.context.ip,
          at: event.at,
        },
      };
    return undefined;
  }
}

interface AlertInput {
  alertId: string;
  accountId: string;
  kind: AlertRecord['kind'];
  detail: Record<string, string>;
}

/** What the outbox does for one logged event. */
interface OutboxStep {
  readonly seq: number;
  readonly challenge: ChallengeRecord | undefined;
  readonly learnt: ChannelsRecord | undefined;
  readonly alert: AlertInput | undefined;
}

/**
 * `account.created` with e-mail or phone gives the owner's channels unless the store set them
 * (the store fills only what is missing).
 */
function learntChannels(event: BulwarkEvent, atMs: number): ChannelsRecord | undefined {
  if (event.type !== 'account.created') return undefined;
  if (event.email === undefined && event.phone === undefined) return undefined;
  return {
    accountId: event.accountId,
    email: event.email,
    phone: event.phone,
    locale: 'en',
    updatedAtMs: atMs,
  };
}

/** Channels after learning `learnt` over `current`: what is already there wins, the time is the newest. */
function fillFrom(current: ChannelsRecord | undefined, learnt: ChannelsRecord): ChannelsRecord {
  return {
    accountId: learnt.accountId,
    email: current?.email ?? learnt.email,
    phone: current?.phone ?? learnt.phone,
    locale: current?.locale ?? learnt.locale,
    updatedAtMs: learnt.updatedAtMs,
  };
}

/**
 * The channels each alert of the page sees, by the alerting event's seq: `stored` (read when the
 * page was, for the accounts alerted) plus what earlier `account.created` events of the page gave,
 * as if the page were handled one event at a time.
 */
function channelsAtAlerts(
  steps: readonly OutboxStep[],
  stored: ReadonlyMap<string, ChannelsRecord>,
): Map<number, ChannelsRecord | undefined> {
  const current = new Map(stored);
  const seen = new Map<number, ChannelsRecord | undefined>();
  for (const { seq, learnt, alert } of steps) {
    if (learnt !== undefined) current.set(learnt.accountId, fillFrom(current.get(learnt.accountId), learnt));
    if (alert !== undefined) seen.set(seq, current.get(alert.accountId));
  }
  return seen;
}

/** The page's learnt channels, one record per account, as if each had been filled in log order. */
function mergeLearnt(steps: readonly OutboxStep[]): ChannelsRecord[] {
  const byAccount = new Map<string, ChannelsRecord>();
  for (const { learnt } of steps) {
    if (learnt !== undefined)
      byAccount.set(learnt.accountId, fillFrom(byAccount.get(learnt.accountId), learnt));
  }
  return [...byAccount.values()];
}

function webauthnReason(error: unknown): string {
  const message = error instanceof Error ? error.message : 'unreadable answer';
  // simplewebauthn's messages name what failed (origin, RP ID, signature, counter); keep them short.
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
