import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { ApiKeyRecord, ApiKeyStore } from '../storage/ports.ts';

/**
 * API keys look like `bwk_<keyId>_<secret>`. Only the SHA-256 of the secret is stored (a 256-bit
 * random secret needs no slow hash); the key id finds the record and the hashes are compared in
 * constant time.
 */
const keyPattern = /^bwk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface CreatedKey {
  keyId: string;
  /** The whole key: shown once, never stored. */
  key: string;
}

export class ApiKeys {
  readonly #store: ApiKeyStore;
  readonly #clock: Clock;
  /** Found records by key id, kept briefly so a request does not wait on the database. */
  readonly #cache = new Map<string, { record: ApiKeyRecord; fetchedAtMs: number }>();
  readonly #cacheTtlMs: number;
  readonly #cacheEntriesMax = 10_000;

  constructor(store: ApiKeyStore, clock: Clock, options: { cacheTtlMs?: number } = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#cacheTtlMs = options.cacheTtlMs ?? 30_000;
  }

  async create(name: string): Promise<CreatedKey> {
    const keyId = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.#store.insert({
      keyId,
      name,
      secretHash: hashSecret(secret),
      createdAtMs: this.#clock.now(),
      revokedAtMs: undefined,
    });
    return { keyId, key: `bwk_${keyId}_${secret}` };
  }

  countActive(): Promise<number> {
    return this.#store.countActive();
  }

  /** Answers the key's record when `presented` is a valid, unrevoked key. */
  async verify(presented: string): Promise<ApiKeyRecord | undefined> {
    const match = keyPattern.exec(presented);
    if (match === null) return undefined;
    const [, keyId = '', secret = ''] = match;
    const record = await this.#find(keyId);
    if (record === undefined || record.revokedAtMs !== undefined) return undefined;
    const expected = Buffer.from(record.secretHash, 'hex');
    const actual = Buffer.from(hashSecret(secret), 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual) ? record : undefined;
  }

  async #find(keyId: string): Promise<ApiKeyRecord | undefined> {
    const now = this.#clock.now();
    const cached = this.#cache.get(keyId);
    if (cached !== undefined && now - cached.fetchedAtMs < this.#cacheTtlMs) return cached.record;
    const record = await this.#store.find(keyId);
    // Only keys that exist are cached: a key created a moment ago works at once.
    if (record !== undefined) {
      if (this.#cache.size >= this.#cacheEntriesMax) this.#cache.clear();
      this.#cache.set(keyId, { record, fetchedAtMs: now });
    }
    return record;
  }
}
