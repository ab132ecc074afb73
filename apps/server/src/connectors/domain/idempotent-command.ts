import type { ProviderResult } from './provider-result.ts';
import { providerError } from './provider-result.ts';

/**
 * How a provider honours idempotency keys, as a pure decision: the first command under a key
 * takes effect and its final answer is kept; the same command again gets the kept answer and no
 * second effect; a different command under a used key is refused (Stripe's
 * `idempotency_key_in_use` rule). Sandboxes and the pure models share it, so the property tests
 * check the code the sandboxes run.
 */
export interface KeptAnswer {
  readonly fingerprint: string;
  readonly answer: ProviderResult<unknown>;
}

export type KeyDecision =
  | { readonly action: 'execute' }
  | { readonly action: 'replay'; readonly answer: ProviderResult<unknown> }
  | { readonly action: 'refuse'; readonly answer: ProviderResult<never> };

export function decideForKey(kept: KeptAnswer | undefined, fingerprint: string): KeyDecision {
  if (kept === undefined) return { action: 'execute' };
  if (kept.fingerprint === fingerprint) return { action: 'replay', answer: kept.answer };
  return {
    action: 'refuse',
    answer: providerError('conflict', 'the idempotency key was already used for a different request', {
      providerCode: 'idempotency_key_reused',
    }),
  };
}

/**
 * Only answers about an effect are kept. A retryable error (timeout, rate limit, outage) means the
 * command did not take effect, so the same key must be free to try again; nor is `not_found`
 * kept, because the thing may appear later (an order the store has not handed over yet) and the
 * retry under the same key must then act on it.
 */
export const isKeptAnswer = (answer: ProviderResult<unknown>): boolean =>
  answer.ok || (!answer.error.retryable && answer.error.kind !== 'not_found');

/** A stable text for "the same request": the command's name and its arguments, keys sorted. */
export function fingerprintOf(command: string, args: Readonly<Record<string, unknown>>): string {
  return JSON.stringify([command, canonical(args)]);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}
