import { hourMs, minuteMs } from '../../../core/time.ts';
import type { ReadableSeries, SeriesLimits, WindowSeries } from '../velocity.ts';

/**
 * Successful sign-ins per AS over the last hour, in one-minute buckets: what an AS's failures are
 * weighed against before it is called a credential-stuffing source (`stuffing.asnFailureShareMin`).
 * A busy access network's everyday failures are many in number and few in share; a network that
 * stuffing comes from fails nearly every time.
 */
export const asnSignInBucketMs = minuteMs;

/** An hour of buckets (the stuffing window must fit in it) and the bucket being filled. */
export const asnSignInLimits: SeriesLimits = { retentionMs: hourMs, entriesMax: 61 };

export const asnSignInKey = (asn: number): string => `ok:asn:${String(asn)}`;

export const isAsnSignInKey = (key: string): boolean => key.startsWith('ok:asn:');

/** Counts one successful sign-in at `atMs` into its minute's bucket. */
export function countSignIn(series: WindowSeries, atMs: number): void {
  series.addToBucket(atMs - (((atMs % asnSignInBucketMs) + asnSignInBucketMs) % asnSignInBucketMs), 1);
}

/**
 * Successful sign-ins in the minutes that overlap `(atMs - windowMs, atMs]`: the bucket holding
 * `atMs` and those starting after `atMs - windowMs` (a bucket is counted whole, so the window is
 * up to a minute longer at its old end, never shorter).
 */
export function signInsWithin(series: ReadableSeries, atMs: number, windowMs: number): number {
  return series.sum(atMs, windowMs + asnSignInBucketMs);
}
