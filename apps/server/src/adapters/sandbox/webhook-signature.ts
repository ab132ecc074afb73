import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures in Stripe's scheme, so a sandbox delivers webhooks the way a real provider
 * does and a receiver verifies them the same way for both:
 * header `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The secret is used as
 * given (UTF-8, not decoded); several `v1` items may be present (secret roll), any match passes;
 * items of other schemes are ignored.
 */

export const signatureHeaderName = 'stripe-signature';
/** Stripe's default tolerance for the age of a delivery. */
export const signatureToleranceS = 300;

export type SignatureRejection =
  'missing_signature' | 'malformed_signature' | 'bad_signature' | 'timestamp_outside_tolerance';

export type SignatureCheck =
  | { readonly ok: true; readonly timestampS: number }
  | { readonly ok: false; readonly rejection: SignatureRejection; readonly message: string };

const hmacHex = (secret: string, timestampS: number, rawBody: string): string =>
  createHmac('sha256', secret)
    .update(`${String(timestampS)}.${rawBody}`, 'utf8')
    .digest('hex');

export function signWebhook(secret: string, rawBody: string, timestampS: number): string {
  return `t=${String(timestampS)},v1=${hmacHex(secret, timestampS, rawBody)}`;
}

function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function verifySignature(
  rawBody: string,
  header: string | undefined,
  secret: string,
  options: { readonly receivedAtMs: number; readonly toleranceS?: number },
): SignatureCheck {
  if (header === undefined || header.length === 0)
    return { ok: false, rejection: 'missing_signature', message: 'no signature header' };
  let timestampS: number | undefined;
  const signatures: string[] = [];
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at < 0) continue;
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (key === 't' && /^\d+$/.test(value)) timestampS = Number(value);
    if (key === 'v1') signatures.push(value);
  }
  if (timestampS === undefined)
    return { ok: false, rejection: 'malformed_signature', message: 'no timestamp in the signature header' };
  if (signatures.length === 0)
    return { ok: false, rejection: 'malformed_signature', message: 'no v1 signature in the header' };
  const expected = hmacHex(secret, timestampS, rawBody);
  if (!signatures.some((s) => sameHex(s, expected)))
    return { ok: false, rejection: 'bad_signature', message: 'no signature matches the payload' };
  // Checked after the signature, as Stripe does: a forged header learns nothing about the clock.
  const toleranceS = options.toleranceS ?? signatureToleranceS;
  const ageS = Math.floor(options.receivedAtMs / 1000) - timestampS;
  if (toleranceS > 0 && ageS > toleranceS)
    return {
      ok: false,
      rejection: 'timestamp_outside_tolerance',
      message: `delivery signed ${String(ageS)} s ago, over the ${String(toleranceS)} s tolerance`,
    };
  return { ok: true, timestampS };
}
