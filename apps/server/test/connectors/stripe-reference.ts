import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where Stripe's public reference data lives (shared/datasets/stripe-openapi beside the checkout,
 * MIT): read at test time, never copied into the repository. STRIPE_OPENAPI_DIR points elsewhere.
 */
export const stripeReferenceDir =
  process.env.STRIPE_OPENAPI_DIR ??
  fileURLToPath(new URL('../../../../../shared/datasets/stripe-openapi/', import.meta.url));

export const stripeReferenceAvailable =
  existsSync(`${stripeReferenceDir}/fixtures3.json`) && existsSync(`${stripeReferenceDir}/spec3.subset.json`);
