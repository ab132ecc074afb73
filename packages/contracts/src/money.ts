import { z } from 'zod';

/**
 * Money is integer minor units of an ISO 4217 currency. JPY has no minor unit, so ¥5,000 is
 * `{ value: 5000, currency: "JPY" }`; USD 12.34 is `{ value: 1234, currency: "USD" }`.
 */
export const moneySchema = z.object({
  value: z
    .number({ error: 'value must be a number of minor units' })
    .int({ error: 'value must be an integer number of minor units (no decimals)' })
    .nonnegative({ error: 'value must not be negative' })
    .max(Number.MAX_SAFE_INTEGER, { error: 'value is too large' }),
  currency: z.string().regex(/^[A-Z]{3}$/, { error: 'currency must be an ISO 4217 code such as JPY' }),
});
export type Money = z.infer<typeof moneySchema>;
