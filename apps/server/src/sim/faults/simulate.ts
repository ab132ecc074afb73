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
  /** Told of progress after each incident. */
  readonly onIncident?: (done: number, stats: FaultSimulationStats) => void;
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
  // Most cards refund at once; some refunds pend for a day; a few pend and then fail (a closed
  // card), which no retry can mend: those runs must end escalated to a person, not stuck.
  const scenarios: CardScenario[] = [
    ...Array<CardScenario>(16).fill('ok'),
    ...Array<CardScenario>(3).fill('refunds_settle_later'),
    'refunds_fail_later',
  ];
  const scenarioOf = new Map<string, CardScenario>();
  const world = new SandboxWorld({
    db,
    clock,
    logger: pino({ level: 'silent' }),
    webhookSecret: 'whsec_fault_simulation',
    ids: derivedIds(),
    delay: clockDelay(clock),
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
    );

  for (let incident = 0; incident < options.incidents; incident += 1) {
    const accountId = `sim-${String(options.seed)}-${String(incident)}`;
    await world.store.createAccount({ accountId, email: `${accountId}@example.jp` });
    await world.store.signIn({ accountId, sessionId: `${accountId}-attacker` });
    // The attacker's orders, a minute or so apart: gift cards, digital goods and parcels.
    for (let i = 0; i < options.ordersPerIncident; i += 1) {
      const orderId = `${accountId}-o${String(i)}`;
      scenarioOf.set(orderId, scenarios[Math.floor(random() * scenarios.length)] ?? 'ok');
      const roll = random();
      const category = roll < 0.6 ? 'gift_card' : roll < 0.75 ? 'digital' : 'physical';
      const value = category === 'physical' ? 8000 + Math.floor(random() * 20) * 500 : 5000;
      const event = {
        id: `${orderId}-placed`,
        type: 'order.placed',
        at: toIso(clock.now()),
        accountId,
        context: { ip: '198.51.100.9', userAgent: 'sim' },
        orderId,
        amount: { value, currency: 'JPY' },
        items: [{ category, quantity: 1, unitPrice: { value, currency: 'JPY' } }],
        payment: { method: 'card', cardFingerprint: `${accountId}-card` },
      } as BulwarkEvent;
      await world.onDecided(event, {
        eventId: event.id,
        accountId,
        decision: 'allow',
        score: 0,
        reasons: [],
      });
      if (random() < 0.7) await world.store.archiveOrder(orderId);
      await passTime(clock.now() + Math.floor(random() * 2 * minuteMs));
      stats.orders += 1;
    }
    // Time passes before anyone notices: some codes deliver and are captured, parcels may ship.
    await passTime(clock.now() + Math.floor(random() * 8 * hourMs));
    const caseId = `case-${accountId}`;
    const now = clock.now();
    decidedAt.set(caseId, now);
    const eventId = `${accountId}-report`;
    await storage.events.append(
      [
        {
          eventId,
          accountId,
          type: 'account.compromised',
          atMs: now,
          receivedAtMs: now,
          decidedAtMs: now,
          contentHash: eventId,
          event: {
            id: eventId,
            type: 'account.compromised',
            at: toIso(now),
            accountId,
            reportedBy: 'owner',
          },
          decision: {
            eventId,
            accountId,
            decision: 'allow',
            score: 100,
            reasons: [{ code: 'containment_opened' }],
            caseId,
          },
          policyVersion: 'fault-simulation',
        },
      ],
      [
        {
          caseId,
          accountId,
          status: 'open',
          reportedBy: 'owner',
          openedAtMs: now,
          sinceMs: now - dayMs,
          openedByEventId: eventId,
          run: { playbook: 'ato-lockdown' },
        },
      ],
    );
    // Run until the case is terminal (L1): a week at most.
    const deadline = now + 7 * dayMs;
    const run = await storage.containment.runForCase(caseId);
    if (run === undefined) violated(`no run for ${caseId}`);
    for (;;) {
      await passTime(clock.now());
      const current = await storage.containment.runForCase(caseId);
      if (current?.status !== 'running') break;
      if (clock.now() >= deadline) violated(`L1 broken: ${caseId} still running after 7 days`);
      const next = await storage.containment.nextDueAtMs();
      await passTime(Math.min(deadline, Math.max(next ?? deadline, clock.now() + 1)));
    }
    await checkCase(storage, world, caseId, now, sink, stats, violated);
    stats.incidents += 1;
    options.onIncident?.(stats.incidents, stats);
  }
  return stats;
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
  const orders = (await world.store.allOrders()).filter((o) => o.accountId === run.accountId);
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
        violated(`S2 broken: ${order.orderId} ${late.type} at ${toIso(late.atMs)} after the decision`);
    }
  }
  const messages = sink.messages().filter((m) => m.to === `${run.accountId}@example.jp`);
  const notified = steps.find((s) => s.name === 'notify-owner');
  if (notified?.state === 'done' && messages.length !== 1) {
    violated(`S5 broken: ${String(messages.length)} messages for ${caseId}`);
  }
}
