import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { VerificationStore } from './ports.ts';

/**
 * Password checks after NIST SP 800-63B §5.1.1.2: at least 8 characters (Unicode code points,
 * after NFKC), no composition rules, refused when the password is known from breaches or
 * common-password lists. The blocklist is the shipped common-password list (in memory) plus the
 * Pwned Passwords hashes imported into the database.
 */
export const passwordPolicy = {
  lengthMin: 8,
  /** NIST asks to allow at least 64; longer than this is refused as unreasonable input. */
  lengthMax: 256,
  /** Padding rows answered to `Add-Padding: true`, as the Pwned Passwords API pads. */
  paddedRowsMin: 800,
} as const;

export type PasswordProblem =
  | { code: 'too_short'; lengthMin: number }
  | { code: 'too_long'; lengthMax: number }
  | { code: 'breached'; count: number }
  | { code: 'contains_context'; detail: string };

export interface PasswordCheck {
  acceptable: boolean;
  problems: PasswordProblem[];
}

export const sha1Hex = (text: string): string =>
  createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase();

/** The shipped list: `<password> <count>` lines. */
export function loadCommonPasswords(path: URL): Map<string, number> {
  const byHash = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const count = Number(line.slice(space + 1));
    byHash.set(sha1Hex(line.slice(0, space)), Number.isFinite(count) ? count : 1);
  }
  return byHash;
}

export const defaultCommonPasswordsPath = new URL(
  '../../data/passwords/common-passwords.txt',
  import.meta.url,
);

/** `SHA1:COUNT` lines of the Pwned Passwords dump (count optional); answers undefined for others. */
export function parseDumpLine(line: string): { sha1: string; count: number } | undefined {
  const match = /^([0-9A-Fa-f]{40})(?::(\d{1,10}))?\s*$/.exec(line);
  if (match === null) return undefined;
  return { sha1: (match[1] ?? '').toUpperCase(), count: Number(match[2] ?? '1') };
}

export class PasswordService {
  readonly #store: VerificationStore;
  readonly #common: Map<string, number>;
  readonly #commonByPrefix = new Map<string, [string, number][]>();

  constructor(deps: { store: VerificationStore; common: Map<string, number> }) {
    this.#store = deps.store;
    this.#common = deps.common;
    for (const [hash, count] of deps.common) {
      const prefix = hash.slice(0, 5);
      let rows = this.#commonByPrefix.get(prefix);
      if (rows === undefined) {
        rows = [];
        this.#commonByPrefix.set(prefix, rows);
      }
      rows.push([hash.slice(5), count]);
    }
  }

  async check(password: string, context: readonly string[] = []): Promise<PasswordCheck> {
    const normalised = password.normalize('NFKC');
    // NIST counts Unicode code points, which is what the string iterator yields.
    const length = Array.from(normalised).length;
    const problems: PasswordProblem[] = [];
    if (length < passwordPolicy.lengthMin)
      problems.push({ code: 'too_short', lengthMin: passwordPolicy.lengthMin });
    if (length > passwordPolicy.lengthMax)
      problems.push({ code: 'too_long', lengthMax: passwordPolicy.lengthMax });
    if (length <= passwordPolicy.lengthMax) {
      // Both the typed and the normalised form: the dump hashes what people typed.
      const counts = await Promise.all(
        [...new Set([password, normalised])].map((p) => this.#count(sha1Hex(p))),
      );
      const count = Math.max(0, ...counts.map((c) => c ?? 0));
      if (counts.some((c) => c !== undefined)) problems.push({ code: 'breached', count });
      const lower = normalised.toLowerCase();
      for (const word of context) {
        const w = word.normalize('NFKC').toLowerCase().trim();
        if (w.length >= 4 && lower.includes(w))
          problems.push({ code: 'contains_context', detail: 'contains your name, e-mail or the store name' });
      }
    }
    return { acceptable: problems.length === 0, problems };
  }

  async #count(sha1: string): Promise<number | undefined> {
    const stored = await this.#store.passwordCount(sha1);
    const common = this.#common.get(sha1);
    if (stored === undefined && common === undefined) return undefined;
    return Math.max(stored ?? 0, common ?? 0);
  }

  /** The Pwned Passwords range answer for a 5-hex-digit prefix: `SUFFIX:COUNT` lines, CRLF. */
  async range(prefix: string, options: { padding: boolean }): Promise<string> {
    const upper = prefix.toUpperCase();
    const merged = new Map<string, number>();
    for (const [suffix, count] of this.#commonByPrefix.get(upper) ?? []) merged.set(suffix, count);
    for (const row of await this.#store.passwordRange(upper))
      merged.set(row.suffix, Math.max(row.count, merged.get(row.suffix) ?? 0));
    const rows = [...merged]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([s, c]) => `${s}:${String(c)}`);
    if (options.padding) {
      // Padding rows have count 0 (clients ignore them); derived from the prefix so answers are stable.
      for (let i = 0; rows.length < passwordPolicy.paddedRowsMin; i += 1)
        rows.push(`${sha1Hex(`pad:${upper}:${String(i)}`).slice(5)}:0`);
    }
    return rows.join('\r\n');
  }

  /** Imports `SHA1:COUNT` lines in batches; answers lines imported and lines skipped. */
  async importDump(
    lines: AsyncIterable<string> | Iterable<string>,
    batchSize = 5000,
  ): Promise<{ imported: number; skipped: number }> {
    let batch: { sha1: string; count: number }[] = [];
    let imported = 0;
    let skipped = 0;
    for await (const line of lines) {
      if (line.trim().length === 0) continue;
      const row = parseDumpLine(line);
      if (row === undefined) {
        skipped += 1;
        continue;
      }
      batch.push(row);
      if (batch.length >= batchSize) {
        await this.#store.upsertPasswordHashes(batch);
        imported += batch.length;
        batch = [];
      }
    }
    await this.#store.upsertPasswordHashes(batch);
    imported += batch.length;
    return { imported, skipped };
  }
}
