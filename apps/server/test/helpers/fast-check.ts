/**
 * Parameters for `fc.assert` that make a failure reproducible: the seed comes from FC_SEED when
 * set, otherwise it is drawn once per process and printed with any failure (fast-check reports
 * `seed` and `path` in its message; run again with FC_SEED=<seed> to get the same cases).
 */
export function propertyParams(numRuns: number): { numRuns: number; seed: number } {
  return { numRuns, seed: propertySeed };
}

function seedFromEnv(): number {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw.trim() === '') return (Math.random() * 2 ** 31) | 0;
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
  return seed;
}

export const propertySeed = seedFromEnv();
