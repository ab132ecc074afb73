/** Ports of the console: analysts, browser sessions, used security-center links, the audit log. */

export const analystRoles = ['viewer', 'analyst', 'admin'] as const;
export type AnalystRole = (typeof analystRoles)[number];

export interface AnalystRecord {
  analystId: string;
  name: string;
  role: AnalystRole;
  /** An argon2id PHC string; the password itself is never stored. */
  passwordHash: string;
  /** Base32 TOTP secret; required for admins, absent for others unless enrolled. */
  totpSecret: string | undefined;
  createdAtMs: number;
  disabledAtMs: number | undefined;
}

/** A browser session: an analyst's in the console, or a shopper's in the security center. */
export type ConsoleSessionKind = 'analyst' | 'shopper';

export interface ConsoleSessionRecord {
  /** SHA-256 (hex) of the cookie's token. */
  tokenHash: string;
  kind: ConsoleSessionKind;
  /** The analyst id, or the shopper's account id. */
  subjectId: string;
  createdAtMs: number;
  lastSeenAtMs: number;
  expiresAtMs: number;
  endedAtMs: number | undefined;
}

export type AuditActorKind = 'analyst' | 'shopper' | 'anonymous' | 'cli';
export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  atMs: number;
  actorKind: AuditActorKind;
  actorId: string | undefined;
  /** What was done: `sign_in`, `sign_out`, `GET /v1/accounts/:accountId`, … */
  action: string;
  /** What it was done to (an account, case or analyst id), when one thing. */
  target: string | undefined;
  outcome: AuditOutcome;
  ip: string;
  detail: Record<string, unknown>;
}

export interface StoredAuditEntry extends AuditEntry {
  seq: number;
}

/** An analyst's passkey (WebAuthn credential). */
export interface AnalystPasskey {
  credentialId: string;
  analystId: string;
  /** What the analyst called it ("YubiKey", "laptop"). */
  name: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  createdAtMs: number;
  lastUsedAtMs: number | undefined;
}

export interface ConsoleStore {
  /** Answers `name_taken` when an analyst of that name exists. */
  insertAnalyst(record: AnalystRecord): Promise<'created' | 'name_taken'>;
  findAnalystByName(name: string): Promise<AnalystRecord | undefined>;
  findAnalyst(analystId: string): Promise<AnalystRecord | undefined>;
  countAnalysts(): Promise<number>;
  /**
   * Marks a TOTP time step as used by the analyst; answers false when that step or a later one was
   * already used, so one code can never sign in twice.
   */
  useTotpStep(analystId: string, step: number): Promise<boolean>;
  insertSession(record: ConsoleSessionRecord): Promise<void>;
  findSession(tokenHash: string): Promise<ConsoleSessionRecord | undefined>;
  touchSession(tokenHash: string, lastSeenAtMs: number): Promise<void>;
  endSession(tokenHash: string, endedAtMs: number): Promise<void>;
  /** Records a security-center link's nonce as used; answers false when it already was. */
  useLinkNonce(nonce: string, accountId: string, usedAtMs: number): Promise<boolean>;
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** The audit log, newest first, strictly older than `beforeSeq` when given. */
  readAudit(page: { beforeSeq?: number; limit: number }): Promise<StoredAuditEntry[]>;
  insertPasskey(passkey: AnalystPasskey): Promise<'created' | 'exists'>;
  findPasskey(credentialId: string): Promise<AnalystPasskey | undefined>;
  passkeysOf(analystId: string): Promise<AnalystPasskey[]>;
  /**
   * Records a sign-in with the passkey: the counter moves from `fromCounter` to `toCounter`.
   * Answers false when the stored counter is no longer `fromCounter` (used meanwhile).
   */
  usePasskey(credentialId: string, fromCounter: number, toCounter: number, atMs: number): Promise<boolean>;
}
