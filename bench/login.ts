// Login risk micro-benchmark: IP lookup cost and the in-process sign-in decision latency.
//
//   npm run bench:login            # prints figures and writes bench/results/login.md
//
// Not part of `npm run bench` (the foundation benchmark): this measures the pure decision path
// (decide + apply on an in-memory hot state, as replay runs it) on generated traffic.
import { writeFileSync } from 'node:fs';
import { loadIpLookup } from '../apps/server/src/adapters/ip/load.ts';
import { derivedIds } from '../apps/server/src/core/ids.ts';
import { seededRandom } from '../apps/server/src/core/random.ts';
import { HotStateCache } from '../apps/server/src/ingest/hot-state.ts';
import { validateEvent } from '../apps/server/src/ingest/validate.ts';
import { loadRiskPolicy } from '../apps/server/src/main.ts';
import { apply, decide } from '../apps/server/src/risk/domain/decider.ts';
import { defaultSimulationOptions, simulateLogins } from '../apps/server/src/sim/logins/generate.ts';
import { buildNetworkPools, dotted } from '../apps/server/src/sim/logins/networks.ts';

const loadStarted = performance.now();
const lookup = loadIpLookup();
const loadMs = performance.now() - loadStarted;

// (1) IP lookup: a fixed mix of public IPv4 (80 %) and IPv6 (20 %) addresses.
const random = seededRandom(1);
const addresses = Array.from({ length: 100_000 }, (_, i) =>
  i % 5 === 0
    ? `2${Math.floor(random() * 0xfff).toString(16)}:${Math.floor(random() * 0xffff).toString(16)}::${(i % 0xffff).toString(16)}`
    : dotted(Math.floor(random() * 0xdfffffff) + 0x01000000),
);
let known = 0;
for (const address of addresses) if (lookup.lookup(address).country !== undefined) known += 1; // warm-up
const rounds = 20;
const lookupStarted = process.hrtime.bigint();
for (let r = 0; r < rounds; r += 1) for (const address of addresses) known += lookup.lookup(address).asn ?? 0;
const lookupNs = Number(process.hrtime.bigint() - lookupStarted) / (rounds * addresses.length);

// (2) Sign-in decisions on generated traffic, decide timed per event.
const policy = loadRiskPolicy();
const pools = buildNetworkPools(lookup, seededRandom(2));
const simulation = simulateLogins(pools, { ...defaultSimulationOptions, users: 600, attacksPerKind: 100 });
const hot = new HotStateCache(
  { accountsMax: Number.MAX_SAFE_INTEGER, seriesMax: Number.MAX_SAFE_INTEGER },
  undefined,
  policy,
);
const ids = derivedIds();
const loginMicros: number[] = [];
const allMicros: number[] = [];
// The first events warm the JIT and the user-agent cache, as a running server's first minutes do.
const warmUpEvents = 10_000;
let seen = 0;
const started = performance.now();
for (const raw of simulation.events) {
  seen += 1;
  const valid = validateEvent(raw);
  if (!valid.ok) throw new Error(valid.error.message);
  const { event, atMs } = valid.value;
  const t0 = process.hrtime.bigint();
  const { decision } = decide(event, atMs, hot, ids, policy);
  const micros = Number(process.hrtime.bigint() - t0) / 1000;
  apply(event, decision, atMs, hot, policy);
  if (seen <= warmUpEvents) continue;
  allMicros.push(micros);
  if (event.type === 'login.succeeded') loginMicros.push(micros);
}
const totalMs = performance.now() - started;
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};

const lines = [
  '# Login risk micro-benchmark',
  '',
  `Run: \`npm run bench:login\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${String(
    (await import('node:os')).cpus().length,
  )} CPUs (shared with other work).`,
  '',
  `- IP tables loaded in ${loadMs.toFixed(0)} ms.`,
  `- IP lookup (country + AS + kind, parse included): **${(lookupNs / 1000).toFixed(2)} µs** per address (mean of ${String(
    rounds * addresses.length,
  )}; 80 % IPv4, 20 % IPv6). Target ≤ 2 µs.`,
  `- Sign-in decision (\`decide\`, in process, on ${String(loginMicros.length)} generated sign-ins after ${String(warmUpEvents)} warm-up events): p50 ${quantile(
    loginMicros,
    0.5,
  ).toFixed(
    0,
  )} µs, **p99 ${quantile(loginMicros, 0.99).toFixed(0)} µs**, max ${quantile(loginMicros, 1).toFixed(0)} µs. Target p99 ≤ 1 ms.`,
  `- All ${String(seen)} events, decide + apply: ${((totalMs * 1000) / seen).toFixed(0)} µs per event on average; decide p99 ${quantile(
    allMicros,
    0.99,
  ).toFixed(0)} µs.`,
  `- Load average during the run: ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')} (1/5/15 min); on a busy machine the tail includes time the process was not scheduled.`,
  '',
];
const text = lines.join('\n');
process.stdout.write(text);
writeFileSync(new URL('results/login.md', import.meta.url), text);
if (known < 0) process.exitCode = 1; // keeps the lookups from being optimised away
