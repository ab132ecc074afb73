import type { ChallengeMethod } from '@bulwark/contracts';

/** Persistence of verification: challenges, enrolments, used codes and tokens, alerts, passwords. */

export type ChallengeStatus = 'pending' | 'passed' | 'failed';

export interface ChallengeRecord {
  challengeId: string;
  accountId: string;
  /** The event whose decision asked for the challenge. */
  eventId: string;
  methods: ChallengeMethod[];
  /** What the challenged request came from, shown to the owner ("was this you?"). */
  device: string;
  ip: string;
  createdAtMs: number;
  expiresAtMs: number;
  status: ChallengeStatus;
  attempts: number;
  /** The code sent last (digest only), its method and expiry. */
  codeDigest: string | undefined;
  codeMethod: ChallengeMethod | undefined;
  codeExpiresAtMs: number | undefined;
  codeSends: number;
  /** The WebAuthn challenge handed out for this challenge, until an assertion uses it. */
  webauthnChallenge: string | undefined;
  completedAtMs: number | undefined;
  completedMethod: string | undefined;
}

export interface ChannelsRecord {
  accountId: string;
  email: string | undefined;
  phone: string | undefined;
  locale: 'en' | 'ja';
  updatedAtMs: number;
}

export interface TotpRecord {
  accountId: string;
  /** AES-256-GCM sealed base32 secret: `iv.tag.ciphertext`, base64url. */
  sealedSecret: string;
  createdAtMs: number;
  confirmedAtMs: number | undefined;
}

export interface PasskeyRecord {
  credentialId: string;
  accountId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  createdAtMs: number;
  lastUsedAtMs: number | undefined;
}

export type AlertKind = 'new_device' | 'sensitive_change' | 'code_replayed';

export interface AlertRecord {
  alertId: string;
  accountId: string;
  kind: AlertKind;
  /** What the owner is told: device, place, time, field changed. */
  detail: Record<string, string>;
  createdAtMs: number;
  sentAtMs: number | undefined;
  /** Channels the alert went to, e.g. ["email"]; empty when the account has none. */
  channels: string[];
  /** The owner's answer from the landing page. */
  answer: 'this_was_me' | 'not_me' | undefined;
}

/** An alert sent: where it went (possibly nowhere) and when. */
export interface AlertSentMark {
  alertId: string;
  channels: string[];
  atMs: number;
}

/** A message the development sink "sent" (kept in the database and logged). */
export interface DevMessage {
  idempotencyKey: string;
  channel: 'email' | 'sms';
  to: string;
  subject: string | undefined;
  text: string;
  sentAtMs: number;
}

export interface VerificationStore {
  /**
   * Inserts challenges in one statement. A challenge whose id is already stored is left as it is
   * (a repeat never resets one that was answered), so handling a logged event again is harmless.
   */
  insertChallenges(records: readonly ChallengeRecord[]): Promise<void>;
  getChallenge(challengeId: string): Promise<ChallengeRecord | undefined>;
  /** Writes the changed fields if the challenge is still `pending`; answers whether it was. */
  updatePendingChallenge(challengeId: string, changes: Partial<ChallengeRecord>): Promise<boolean>;
  /** Adds one attempt atomically; answers the new count, or undefined if no longer pending. */
  addAttempt(challengeId: string): Promise<number | undefined>;

  getChannels(accountId: string): Promise<ChannelsRecord | undefined>;
  /** The channels of each of these accounts that has any, in one query. */
  getChannelsOf(accountIds: readonly string[]): Promise<Map<string, ChannelsRecord>>;
  /** Upserts, replacing every field (an undefined e-mail or phone is removed). */
  putChannels(record: ChannelsRecord): Promise<void>;
  /**
   * Upserts channels learnt from events, at most one record per account, in one statement: an
   * e-mail or phone already stored is kept and only a missing one is filled, a stored locale is
   * kept (the record's is used for a new row); `updatedAtMs` is always written. Doing the merge in
   * the database means an owner's setting made meanwhile is never overwritten.
   */
  fillChannels(records: readonly ChannelsRecord[]): Promise<void>;

  getTotp(accountId: string): Promise<TotpRecord | undefined>;
  putTotp(record: TotpRecord): Promise<void>;
  confirmTotp(accountId: string, atMs: number): Promise<void>;
  /** Records a TOTP step as used; answers false when it already was (a replay). */
  useTotpStep(accountId: string, step: number, atMs: number): Promise<boolean>;

  listPasskeys(accountId: string): Promise<PasskeyRecord[]>;
  getPasskey(credentialId: string): Promise<PasskeyRecord | undefined>;
  insertPasskey(record: PasskeyRecord): Promise<void>;
  /** Moves the counter forward only if it still is `fromCounter` (no concurrent use). */
  advancePasskeyCounter(
    credentialId: string,
    fromCounter: number,
    toCounter: number,
    atMs: number,
  ): Promise<boolean>;
  putRegistrationChallenge(accountId: string, challenge: string, expiresAtMs: number): Promise<void>;
  /** Answers the pending registration challenge and deletes it (single use). */
  takeRegistrationChallenge(
    accountId: string,
  ): Promise<{ challenge: string; expiresAtMs: number } | undefined>;

  /** Records a single-use token id; answers false when it was already used. */
  useToken(tokenId: string, atMs: number, expiresAtMs: number): Promise<boolean>;

  /** Inserts an alert unless one with that id exists; answers the stored one. */
  insertAlert(record: AlertRecord): Promise<AlertRecord>;
  /**
   * Inserts each alert unless one with its id exists — the new ones in one statement, then one
   * read of those that existed — and answers every id asked for → the stored record: the new
   * row, or the existing one as stored (with its `sentAtMs`, so a handled alert is not sent
   * again). An id given twice keeps its first record. Nothing given, no statement.
   */
  insertAlerts(records: readonly AlertRecord[]): Promise<Map<string, AlertRecord>>;
  getAlert(alertId: string): Promise<AlertRecord | undefined>;
  markAlertSent(alertId: string, channels: string[], atMs: number): Promise<void>;
  /**
   * Marks alerts sent, each with its own channels and time, in one statement (an id given twice
   * takes its last mark). Nothing given, no statement.
   */
  markAlertsSent(marks: readonly AlertSentMark[]): Promise<void>;
  answerAlert(alertId: string, answer: 'this_was_me' | 'not_me'): Promise<void>;

  /** The event-log sequence number the outbox worker has handled up to. */
  readCursor(): Promise<number>;
  writeCursor(seq: number): Promise<void>;

  /** Development sink: records a message once per idempotency key. */
  recordDevMessage(message: DevMessage): Promise<void>;
  /** Development sink: the newest messages first. */
  listDevMessages(limit: number): Promise<DevMessage[]>;

  /** Breached-password hashes: upsert SHA-1 (upper-case hex) with counts. */
  upsertPasswordHashes(rows: readonly { sha1: string; count: number }[]): Promise<void>;
  /** Every stored hash with this 5-hex-digit prefix (upper-case): suffix → count. */
  passwordRange(prefix: string): Promise<{ suffix: string; count: number }[]>;
  passwordCount(sha1: string): Promise<number | undefined>;
}
