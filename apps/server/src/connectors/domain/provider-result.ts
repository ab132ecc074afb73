/**
 * What every connector command answers: the provider's state, or a typed provider error that
 * tells the caller whether trying again (with the same idempotency key) can help.
 * Shared by every port (payments, fulfilment, carrier, store, notify); keep it small and stable.
 */

export type ProviderErrorKind =
  'timeout' | 'rate_limited' | 'declined' | 'not_found' | 'conflict' | 'unavailable';

export const providerErrorKinds: readonly ProviderErrorKind[] = [
  'timeout',
  'rate_limited',
  'declined',
  'not_found',
  'conflict',
  'unavailable',
];

export interface ProviderError {
  readonly kind: ProviderErrorKind;
  /**
   * True when the same command, sent again with the same idempotency key, may succeed
   * (timeout, rate_limited, unavailable). False when the provider gave a final answer
   * (declined, not_found, conflict): retrying changes nothing, so give up or escalate.
   */
  readonly retryable: boolean;
  readonly message: string;
  /** The provider's own error code (e.g. Stripe's `charge_already_refunded`), when it gave one. */
  readonly providerCode?: string | undefined;
  /** How long the provider asked us to wait before retrying (rate limits), when it said. */
  readonly retryAfterMs?: number | undefined;
}

export type ProviderResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProviderError };

const retryableKinds: ReadonlySet<ProviderErrorKind> = new Set(['timeout', 'rate_limited', 'unavailable']);

export const isRetryableKind = (kind: ProviderErrorKind): boolean => retryableKinds.has(kind);

export const providerOk = <T>(value: T): ProviderResult<T> => ({ ok: true, value });

export function providerError(
  kind: ProviderErrorKind,
  message: string,
  details: { providerCode?: string | undefined; retryAfterMs?: number | undefined } = {},
): { readonly ok: false; readonly error: ProviderError } {
  const error: ProviderError = {
    kind,
    retryable: isRetryableKind(kind),
    message,
    ...(details.providerCode === undefined ? {} : { providerCode: details.providerCode }),
    ...(details.retryAfterMs === undefined ? {} : { retryAfterMs: details.retryAfterMs }),
  };
  return { ok: false, error };
}
