/**
 * What a series lookup in the hot state costs once its map is more than half full (a server
 * that has run for a while: every distinct address, user agent and device adds series).
 *
 *   node --import tsx bench/hot-state.ts [--series 300000] [--lookups 3000000]
 *
 * Prints nanoseconds per lookup for `series` and `peek` over keys in random order, beside a bare
 * `Map.get` of the same keys measured in the same run.
 */
import { parseArgs } from 'node:util';
import { HotStateCache } from '../apps/server/src/ingest/hot-state.ts';
import type { StateStore } from '../apps/server/src/storage/ports.ts';

const { values } = parseArgs({ options: { series: { type: 'string' }, lookups: { type: 'string' } } });
const seriesCount = Number(values.series ?? 300_000);
const lookups = Number(values.lookups ?? 3_000_000);

// Never called while looking up: a store only makes the cache track what it may forget.
const unused = (): never => {
  throw new Error('not used in this benchmark');
};
const store: StateStore = {
  loadAccounts: unused,
  loadSeries: unused,
  writeCheckpoint: unused,
  readCheckpointSeq: unused,
};
const hot = new HotStateCache({ accountsMax: 1_000, seriesMax: Math.ceil(seriesCount * 1.3) }, store);
const keys = Array.from(
  { length: seriesCount },
  (_u, i) => `rba:ip:10.${String(i >> 16)}.${String((i >> 8) & 255)}.${String(i & 255)}`,
);
for (const key of keys) hot.series(key).record(1_000, 1);
const order = Array.from({ length: lookups }, (_u, i) => keys[(i * 2_654_435_761) % seriesCount] ?? '');
const bare = new Map(keys.map((key) => [key, key.length]));

function time(what: string, run: () => number): number {
  run(); // warm
  const started = process.hrtime.bigint();
  const sink = run();
  const ns = Number(process.hrtime.bigint() - started) / lookups;
  process.stdout.write(
    `${what.padEnd(28)} ${ns.toFixed(0).padStart(6)} ns per lookup  (${String(sink % 10)})\n`,
  );
  return ns;
}
process.stdout.write(
  `${String(seriesCount)} series held (the bound is ${String(Math.ceil(seriesCount * 1.3))}), ${String(lookups)} lookups\n`,
);
const baseline = time('bare Map.get', () => {
  let n = 0;
  for (const key of order) n += bare.get(key) ?? 0;
  return n;
});
const series = time('hot.series(key)', () => {
  let n = 0;
  for (const key of order) n += hot.series(key).size;
  return n;
});
const peek = time('hot.peek(key)', () => {
  let n = 0;
  for (const key of order) n += hot.peek(key)?.size ?? 0;
  return n;
});
process.stdout.write(
  `series ${(series / baseline).toFixed(2)}× and peek ${(peek / baseline).toFixed(2)}× a bare Map.get\n`,
);
