import type { BulwarkEvent } from '@bulwark/contracts';
import type { Kysely } from 'kysely';
import pino from 'pino';
import type { Database } from '../../adapters/db/schema.ts';
import { DevelopmentNotifySink } from '../../adapters/notify/development-sink.ts';
import { clockDelay, type FaultConfigInput, type FaultRecord } from '../../adapters/sandbox/faults.ts';
import type { CardScenario } from '../../adapters/sandbox/payments/sandbox-payments.ts';
import { SandboxWorld } from '../../adapters/sandbox/world.ts';
import { ContainmentEngine, type SettledStep } from '../../containment/engine.ts';
import { stepPolicies, type StepRecord } from '../../containment/domain/model.ts';
import { ManualClock } from '../../core/clock.ts';
import { derivedIds } from '../../core/ids.ts';
import { seededRandom } from '../../core/random.ts';
import { dayMs, hourMs, minuteMs, toIso } from '../../core/time.ts';
import type { Storage } from '../../storage/ports.ts';
import { passEventTime } from '../event-time.ts';
import { appendOwnerReport } from '../owner-report.ts';

/**
 * Deterministic fault simulation, in the spirit of TigerBeetle's simulator: many incidents run
 * against the sandboxes with faults at every step boundary — the process crashing between a
 * provider call and its commit, timeouts after the provider acted, 5xx, rate limits, latency,
 * refunds that pend and then fail, webhooks dropped, duplicated and reordered — and the
 * invariants are checked after every step. Everything derives from one seed: a failure prints
 * it, and the same seed replays the same run.
 */
export interface FaultSimulationOptions {
  readonly seed: number;
  readonly incidents: number;
  /** Orders the attacker places per incident. */
  readonly ordersPerIncident: number;
  /** Probability that the process dies between a step's invocation and its commit. */
  readonly crashRate?: number;
  /** Incidents in flight at once, interleaved on event time (1: one after another). */
  readonly concurrency?: number;
  /** Event-time granularity for large runs (see `passEventTime`); 0 keeps due times exact. */
  readonly quantumMs?: number;
  /** Told of progress after each incident. */
  readonly onIncident?: (done: number, stats: FaultSimulationStats) => void;
  /**
   * Database upkeep between waves (`VACUUM ANALYZE` of the busy tables): what autovacuum does on a
   * production server. Without fresh statistics the planner cannot see that open steps are a
   * sliver of a table holding every finished case, and each claim reads the whole table.
   */
  readonly maintain?: () => Promise<void>;
}

export interface FaultSimulationStats {
  seed: number;
  incidents: number;
  orders: number;
  steps: number;
  crashes: number;
  faults: Record<string, number>;
  runsCompleted: number;
  runsEscalated: number;
  escalatedSteps: Record<string, number>;
  /** Why steps escalated, by step and error. */
  escalationReasons: Record<string, number>;
  violations: string[];
  /** Provider side effects counted per (case, payment, action): the largest count seen (S4 allows 1). */
  maxEffectsPerAction: number;
}

export class InvariantViolation extends Error {}

const commandFaults = (seed: number): FaultConfigInput => ({
  seed,
  timeoutBeforeEffectRate: 0.05,
  timeoutAfterEffectRate: 0.08,
  unavailableRate: 0.05,
  rateLimitedRate: 0.03,
  rateLimitRetryAfterMs: 2000,
  latencyMaxMs: 800,
  webhookDropRate: 0.1,
  webhookDuplicateRate: 0.2,
  webhookReorderRate: 0.3,
});

class SimulatedCrash extends Error {}

export async function runFaultSimulation(
  storage: Storage,
  db: Kysely<Database>,
  options: FaultSimulationOptions,
): Promise<FaultSimulationStats> {
  const random = seededRandom(options.seed);
  const clock = new ManualClock(Date.parse('2026-01-05T09:00:00Z'));
  const stats: FaultSimulationStats = {
    seed: options.seed,
    incidents: 0,
    orders: 0,
    steps: 0,
    crashes: 0,
    faults: {},
    runsCompleted: 0,
    runsEscalated: 0,
    escalatedSteps: {},
    escalationReasons: {},
    violations: [],
    maxEffectsPerAction: 0,
  };
  const scenarioOf = new Map<string, CardScenario>();
  const world = new SandboxWorld({
    db,
    clock,
    logger: pino({ level: 'silent' }),
    webhookSecret: 'whsec_fault_simulation',
    ids: derivedIds(),
    // One incident at a time, provider latency moves event time as a wall clock would. With
    // incidents interleaved the calls would overlap in a real system, while here they run one
    // after another: summed on the shared clock they would age every step's SLA by the others'
    // latencies. Then latency is counted (a fault) but does not move time.
    delay: (options.concurrency ?? 1) > 1 ? () => Promise.resolve() : clockDelay(clock),
    seed: options.seed,
    faults: {
      payments: commandFaults(options.seed + 1),
      fulfilment: commandFaults(options.seed + 2),
      store: commandFaults(options.seed + 3),
      notify: { ...commandFaults(options.seed + 4), timeoutAfterEffectRate: 0.1 },
    },
    onFault: (record: FaultRecord) => {
      const key = record.fault.kind === 'timeout' ? `timeout_${record.fault.when}` : record.fault.kind;
      stats.faults[key] = (stats.faults[key] ?? 0) + 1;
    },
    cardScenarioOf: (orderId) => scenarioOf.get(orderId) ?? 'ok',
  });
  const sink = world.notify;
  if (!(sink instanceof DevelopmentNotifySink))
    throw new Error('the simulation counts messages in the development sink');
  const crashRate = options.crashRate ?? 0.03;
  const violated = (message: string): never => {
    stats.violations.push(message);
    throw new InvariantViolation(`${message} (replay with seed ${String(options.seed)})`);
  };

  const decidedAt = new Map<string, number>();
  const checkStep = async (change: SettledStep): Promise<void> => {
    stats.steps += 1;
    const { claimed, settled } = change;
    if (!change.written) return;
    const paymentId = typeof settled.params.paymentId === 'string' ? settled.params.paymentId : undefined;
    if (paymentId !== undefined) {
      const p = await world.payments.inspect(paymentId);
      if (p === undefined) return;
      const refunded = p.refunds
        .filter((r) => r.status === 'succeeded')
        .reduce((s, r) => s + r.amountMinor, 0);
      // S1 at every step.
      if (!(refunded <= p.capturedMinor && p.capturedMinor <= p.authorizedMinor)) {
        violated(
          `S1 broken on ${paymentId}: refunded ${String(refunded)} captured ${String(p.capturedMinor)} authorized ${String(p.authorizedMinor)}`,
        );
      }
      // S2: nothing captured after the fraud decision.
      const decision = decidedAt.get(claimed.run.caseId) ?? claimed.run.decidedAtMs;
      if (p.capturedAtMs !== undefined && p.capturedAtMs > decision) {
        violated(
          `S2 broken: ${paymentId} captured at ${toIso(p.capturedAtMs)} after the decision at ${toIso(decision)}`,
        );
      }
      // S3: a payment step is done only when the provider's own state says so.
      if (
        settled.state === 'done' &&
        (settled.name === 'confirm-payment-outcome' || settled.name === 'void-authorization')
      ) {
        const confirmed =
          p.status === 'voided' ||
          p.status === 'expired' ||
          p.status === 'incomplete' ||
          (p.status === 'captured' &&
            refunded >= p.capturedMinor &&
            !p.refunds.some((r) => r.status === 'pending'));
        if (!confirmed) violated(`S3 broken: ${settled.stepKey} done while the provider says ${p.status}`);
      }
      // S4: at most one refund that moves money, at most one void, per (case, payment).
      const moving = p.refunds.filter((r) => r.status !== 'failed').length;
      stats.maxEffectsPerAction = Math.max(stats.maxEffectsPerAction, moving);
      if (moving > 1) violated(`S4 broken: ${String(moving)} refunds moving money on ${paymentId}`);
    }
    // S5: the owner is told only after every confirmation is in.
    if (settled.name === 'notify-owner' && settled.state === 'done') {
      const steps = await storage.containment.steps(claimed.run.runId);
      const open = steps.filter(
        (s) => s.name.startsWith('confirm-') && s.state !== 'done' && s.state !== 'escalated',
      );
      if (open.length > 0)
        violated(`S5 broken: ${claimed.run.caseId} told before ${open.map((s) => s.stepKey).join(', ')}`);
    }
    if (settled.state === 'escalated') {
      stats.escalatedSteps[settled.name] = (stats.escalatedSteps[settled.name] ?? 0) + 1;
      const why = `${settled.name}: ${(settled.lastError ?? '').replace(/[0-9a-z_]*_[0-9a-z]{8,}/g, '…').slice(0, 90)}`;
      stats.escalationReasons[why] = (stats.escalationReasons[why] ?? 0) + 1;
    }
  };

  let engine: ContainmentEngine;
  const pending: Promise<void>[] = [];
  const newEngine = (): ContainmentEngine =>
    new ContainmentEngine({
      runs: storage.containment,
      ports: world.ports,
      clock,
      storeName: 'Fault Simulation Store',
      contactOf: (accountId) => Promise.resolve({ email: `${accountId}@example.jp`, locale: 'ja' as const }),
      firstSuspiciousSignInMs: () => Promise.resolve(undefined),
      claimBatchMax: 64,
      onSettled: (change) => {
        pending.push(checkStep(change));
      },
      afterInvoke: () => {
        if (random() < crashRate) {
          stats.crashes += 1;
          throw new SimulatedCrash('simulated crash between a provider call and its commit');
        }
      },
    });
  engine = newEngine();

  /** Drains the engine, standing a crashed process back up (its leases lapse first). */
  const drain = async (): Promise<void> => {
    for (;;) {
      try {
        await engine.drain();
        await Promise.all(pending.splice(0));
        return;
      } catch (error) {
        await Promise.all(pending.splice(0));
        if (!(error instanceof SimulatedCrash)) throw error;
        engine = newEngine();
        clock.advance(Math.max(...Object.values(stepPolicies).map((p) => p.leaseMs)));
      }
    }
  };
  const passTime = (untilMs: number): Promise<void> =>
    passEventTime(
      world,
      clock,
      storage.containment,
      async () => {
        await world.payments.deliverWebhooks(() => Promise.resolve({ status: 200 }));
        await drain();
      },
      untilMs,
      options.quantumMs ?? 0,
    );

  const concurrency = Math.max(1, options.concurrency ?? 1);
  for (let first = 0; first < options.incidents; first += concurrency) {
    const count = Math.min(concurrency, options.incidents - first);
    // The wave's incidents, drawn one after another from the seed, then played interleaved on
    // event time: their orders, reports and runs overlap as they would in a busy store.
    const plans: IncidentPlan[] = [];
    const waveStart = clock.now();
    for (let k = 0; k < count; k += 1) {
      plans.push(planIncident(random, options, first + k, waveStart, concurrency > 1));
    }
    const actions: WaveAction[] = plans.flatMap((plan) => [
      { atMs: plan.startMs, plan, order: undefined },
      ...plan.orders.map((order) => ({ atMs: order.atMs, plan, order })),
      { atMs: plan.reportAtMs, plan, order: null },
    ]);
    actions.sort((a, b) => a.atMs - b.atMs);
    for (const action of actions) {
      // PGlite answers without a macrotask turn: let signals (a stop asked for) be handled.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await passTime(Math.max(clock.now(), action.atMs));
      const { plan, order } = action;
      if (order === undefined) {
        await world.store.createAccount({ accountId: plan.accountId, email: `${plan.accountId}@example.jp` });
        await world.store.signIn({ accountId: plan.accountId, sessionId: `${plan.accountId}-attacker` });
      } else if (order === null) {
        await report(plan);
      } else {
        await placeOrder(plan, order);
        stats.orders += 1;
      }
    }
    // Run until every case of the wave is terminal (L1): a week at most after its report.
    const deadline = Math.max(...plans.map((p) => p.reportAtMs)) + 7 * dayMs;
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await passTime(clock.now());
      if ((await storage.containment.unfinishedCount()) === 0) break;
      if (clock.now() >= deadline) {
        const running: string[] = [];
        for (const plan of plans) {
          const run = await storage.containment.runForCase(plan.caseId);
          if (run?.status === 'running') running.push(plan.caseId);
        }
        violated(`L1 broken: ${running.join(', ')} still running 7 days after the report`);
      }
      const next = await storage.containment.nextDueAtMs();
      await passTime(Math.min(deadline, Math.max(next ?? deadline, clock.now() + 1)));
    }
    for (const plan of plans) {
      // The decision is when the report was handled: event time may have run past its plan.
      const decided = decidedAt.get(plan.caseId) ?? plan.reportAtMs;
      await checkCase(storage, world, plan.caseId, decided, sink, stats, violated);
      stats.incidents += 1;
      options.onIncident?.(stats.incidents, stats);
    }
    await options.maintain?.();
  }
  return stats;

  async function placeOrder(plan: IncidentPlan, order: PlannedOrder): Promise<void> {
    scenarioOf.set(order.orderId, order.scenario);
    const event = {
      id: `${order.orderId}-placed`,
      type: 'order.placed',
      at: toIso(clock.now()),
      accountId: plan.accountId,
      context: { ip: '198.51.100.9', userAgent: 'sim' },
      orderId: order.orderId,
      amount: { value: order.value, currency: 'JPY' },
      items: [{ category: order.category, quantity: 1, unitPrice: { value: order.value, currency: 'JPY' } }],
      payment: { method: 'card', cardFingerprint: `${plan.accountId}-card` },
    } as BulwarkEvent;
    await world.onDecided(event, {
      eventId: event.id,
      accountId: plan.accountId,
      decision: 'allow',
      score: 0,
      reasons: [],
    });
    if (order.archive) await world.store.archiveOrder(order.orderId);
  }

  /** The owner reports the takeover: the deciding event, the case and its run, in one commit. */
  async function report(plan: IncidentPlan): Promise<void> {
    const { accountId, caseId } = plan;
    const now = clock.now();
    decidedAt.set(caseId, now);
    await appendOwnerReport(storage, {
      accountId,
      caseId,
      eventId: `${accountId}-report`,
      atMs: now,
      sinceMs: now - dayMs,
      policyVersion: 'fault-simulation',
    });
    if ((await storage.containment.runForCase(caseId)) === undefined) violated(`no run for ${caseId}`);
  }
}

interface PlannedOrder {
  readonly orderId: string;
  readonly atMs: number;
  readonly scenario: CardScenario;
  readonly category: 'gift_card' | 'digital' | 'physical';
  readonly value: number;
  readonly archive: boolean;
}

interface IncidentPlan {
  readonly accountId: string;
  readonly caseId: string;
  readonly startMs: number;
  readonly orders: readonly PlannedOrder[];
  readonly reportAtMs: number;
}

/** `order` undefined: the attacker signs in; null: the owner reports; else the order is placed. */
interface WaveAction {
  readonly atMs: number;
  readonly plan: IncidentPlan;
  readonly order: PlannedOrder | undefined | null;
}

// Most cards refund at once; some refunds pend for a day; a few pend and then fail (a closed card),
// which no retry can mend: those runs must end escalated to a person, not stuck.
const scenarios: readonly CardScenario[] = [
  ...Array<CardScenario>(16).fill('ok'),
  ...Array<CardScenario>(3).fill('refunds_settle_later'),
  'refunds_fail_later',
];

/**
 * One incident drawn from the seed: the attacker signs in, places orders a minute or so apart
 * (gift cards, digital goods and parcels, most of them archived), and some hours pass before the
 * owner notices — long enough for codes to deliver and parcels to ship.
 */
function planIncident(
  random: () => number,
  options: FaultSimulationOptions,
  incident: number,
  waveStartMs: number,
  staggered: boolean,
): IncidentPlan {
  const accountId = `sim-${String(options.seed)}-${String(incident)}`;
  const startMs = waveStartMs + (staggered ? Math.floor(random() * hourMs) : 0);
  const orders: PlannedOrder[] = [];
  let atMs = startMs;
  for (let i = 0; i < options.ordersPerIncident; i += 1) {
    const scenario = scenarios[Math.floor(random() * scenarios.length)] ?? 'ok';
    const roll = random();
    const category = roll < 0.6 ? 'gift_card' : roll < 0.75 ? 'digital' : 'physical';
    const value = category === 'physical' ? 8000 + Math.floor(random() * 20) * 500 : 5000;
    const archive = random() < 0.7;
    orders.push({ orderId: `${accountId}-o${String(i)}`, atMs, scenario, category, value, archive });
    atMs += Math.floor(random() * 2 * minuteMs);
  }
  const reportAtMs = atMs + Math.floor(random() * 8 * hourMs);
  return { accountId, caseId: `case-${accountId}`, startMs, orders, reportAtMs };
}

/** After a run ends: L2 from the providers' books for a completed run, one message (S5), no late shipment (S2). */
async function checkCase(
  storage: Storage,
  world: SandboxWorld,
  caseId: string,
  decidedAtMs: number,
  sink: DevelopmentNotifySink,
  stats: FaultSimulationStats,
  violated: (message: string) => never,
): Promise<void> {
  const run = await storage.containment.runForCase(caseId);
  if (run === undefined) return violated(`no run for ${caseId}`);
  const steps: StepRecord[] = await storage.containment.steps(run.runId);
  if (run.status === 'completed') stats.runsCompleted += 1;
  else stats.runsEscalated += 1;
  const orders = await world.store.allOrders(run.accountId);
  for (const order of orders) {
    if (order.paymentId !== undefined) {
      const p = await world.payments.inspect(order.paymentId);
      if (p !== undefined && run.status === 'completed') {
        const refunded = p.refunds
          .filter((r) => r.status === 'succeeded')
          .reduce((s, r) => s + r.amountMinor, 0);
        const capturable = p.status === 'authorized';
        if (capturable || p.capturedMinor - refunded !== 0) {
          violated(
            `L2 broken: ${order.orderId} capturable=${String(capturable)} kept ${String(p.capturedMinor - refunded)}`,
          );
        }
      }
    }
    const f = await world.fulfilment.inspect(order.orderId);
    for (const shipment of f?.shipments ?? []) {
      const late = shipment.history.find(
        (e) => (e.type === 'picked_up' || e.type === 'digital_delivered') && e.atMs > decidedAtMs,
      );
      if (late !== undefined)
        violated(
          `S2 broken: ${order.orderId} ${late.type} at ${toIso(late.atMs)} after the decision at ${toIso(decidedAtMs)}`,
        );
    }
  }
  const messages = sink.messages().filter((m) => m.to === `${run.accountId}@example.jp`);
  const notified = steps.find((s) => s.name === 'notify-owner');
  if (notified?.state === 'done' && messages.length !== 1) {
    violated(`S5 broken: ${String(messages.length)} messages for ${caseId}`);
  }
}
