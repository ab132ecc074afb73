import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { EventError } from '@bulwark/contracts';
import pino from 'pino';
import type { Kysely } from 'kysely';
import type { Database } from '../adapters/db/schema.ts';
import { migrateToLatest, openDatabase } from '../adapters/db/database.ts';
import { kyselyStorage } from '../adapters/db/kysely-storage.ts';
import type { DevelopmentNotifySink } from '../adapters/notify/development-sink.ts';
import { SandboxWorld } from '../adapters/sandbox/world.ts';
import { ContainmentEngine } from '../containment/engine.ts';
import type { StepRecord } from '../containment/domain/model.ts';
import { receiptOf } from '../containment/domain/receipt.ts';
import { ManualClock } from '../core/clock.ts';
import { derivedIds } from '../core/ids.ts';
import { dayMs, toIso } from '../core/time.ts';
import { handleEvent } from '../ingest/handle.ts';
import { HotStateCache } from '../ingest/hot-state.ts';
import { validateEvent } from '../ingest/validate.ts';
import type { RiskPolicy } from '../risk/domain/policy.ts';
import type { PriorOutcome, Storage } from '../storage/ports.ts';
import type { ReplaySummary } from './replay.ts';
import { firstSuspiciousSignInMs } from '../containment/suspicion.ts';
import { passEventTime } from './event-time.ts';

/** After the last event the clock runs on this long, or until every run is terminal. */
export const runOnMs = 7 * dayMs;
/** Cases the report lists at most. */
const casesReportedMax = 100_000;

export interface StoreReplayOptions {
  readonly policy: RiskPolicy;
  readonly storeName?: string;
  /** The sandbox's seed (intercept outcomes); the same input and seed give the same report. */
  readonly seed?: number;
  /** Looks at the world after the run, before the private database closes (tests, reports). */
  readonly inspect?: (world: {
    readonly world: SandboxWorld;
    readonly storage: Storage;
    readonly db: Kysely<Database>;
    readonly clock: ManualClock;
  }) => Promise<void>;
}

/** What `--report` writes: documented in docs/replay-report.md. */
export interface StoreReport {
  readonly version: 1;
  readonly events: number;
  readonly endedAt: string;
  readonly orders: readonly ReportOrder[];
  readonly cases: readonly ReportCase[];
  readonly notifications: readonly {
    readonly to: string;
    readonly subject: string;
    readonly at: string;
    readonly messageId: string;
  }[];
}

export interface ReportOrder {
  readonly orderId: string;
  readonly accountId: string;
  readonly placedAt: string;
  readonly archived: boolean;
  readonly amount: { readonly value: number; readonly currency: string };
  readonly payment:
    | {
        readonly paymentId: string;
        readonly status: string;
        readonly authorizedMinor: number;
        readonly capturedMinor: number;
        readonly refundedMinor: number;
        readonly capturable: boolean;
      }
    | undefined;
  readonly shipments: readonly {
    readonly shipmentId: string;
    readonly kind: string;
    readonly status: string;
    readonly shippedAfterDecision: boolean;
  }[];
  readonly giftCards: readonly { readonly codeLast4: string; readonly status: string }[];
}

export interface ReportCase {
  readonly caseId: string;
  readonly accountId: string;
  readonly playbook: string | undefined;
  readonly status: string;
  readonly decidedAt: string | undefined;
  readonly finishedAt: string | undefined;
  readonly steps: readonly {
    readonly step: string;
    readonly target: string | undefined;
    readonly state: string;
    readonly attempts: number;
    readonly startedAt: string;
    readonly doneAt: string | undefined;
    /** From the fraud decision to this step's end, in event-time milliseconds. */
    readonly msAfterDecision: number | undefined;
  }[];
  readonly receiptComplete: boolean | undefined;
}

/**
 * Replay with the sandbox store (`--store sandbox`): the same decisions as plain replay, and the
 * store acts on them — orders authorized and handed to the warehouse, reviewed ones held, denied
 * ones never created, codes delivered and parcels shipped on schedule, payment captured as goods
 * go. Containment runs on event time; after the last event the clock runs on until every run is
 * terminal (at most `runOnMs`). Everything lives in a private in-memory database.
 */
export async function replayWithStore(
  input: Readable,
  output: Writable,
  report: (line: string) => void,
  options: StoreReplayOptions,
): Promise<{ summary: ReplaySummary; report: StoreReport }> {
  const handle = await openDatabase({ dataDir: 'memory://' });
  await migrateToLatest(handle.db);
  const storage = kyselyStorage(handle);
  try {
    return await run(storage, handle.db, input, output, report, options);
  } finally {
    await storage.close();
  }
}

async function run(
  storage: Storage,
  db: Kysely<Database>,
  input: Readable,
  output: Writable,
  report: (line: string) => void,
  options: StoreReplayOptions,
): Promise<{ summary: ReplaySummary; report: StoreReport }> {
  const clock = new ManualClock(0);
  const hot = new HotStateCache({ accountsMax: Number.MAX_SAFE_INTEGER, seriesMax: Number.MAX_SAFE_INTEGER });
  const prior = new Map<string, PriorOutcome>();
  const ids = derivedIds();
  const world = new SandboxWorld({
    db,
    clock,
    logger: pino({ level: 'silent' }),
    webhookSecret: 'whsec_replay',
    ids: derivedIds(),
    seed: options.seed ?? 0,
  });
  const engine = new ContainmentEngine({
    runs: storage.containment,
    ports: world.ports,
    clock,
    storeName: options.storeName ?? 'Bulwark Demo Store',
    contactOf: (accountId) => {
      const account = hot.account(accountId);
      return Promise.resolve(
        account?.email === undefined && account?.phone === undefined
          ? undefined
          : { email: account.email, phone: account.phone, locale: 'en' as const },
      );
    },
    firstSuspiciousSignInMs: (accountId, beforeMs) =>
      firstSuspiciousSignInMs(storage.events, accountId, beforeMs),
  });
  const summary: ReplaySummary = { lines: 0, decided: 0, errors: 0 };
  let started = false;

  const passTime = (untilMs: number): Promise<void> =>
    passEventTime(world, clock, storage.containment, () => engine.drain(), untilMs);

  const write = async (line: string): Promise<void> => {
    if (!output.write(`${line}\n`)) await new Promise<void>((resolve) => output.once('drain', resolve));
  };
  const fail = async (lineNumber: number, error: EventError): Promise<void> => {
    summary.errors += 1;
    report(`line ${lineNumber}: ${error.error.code} ${error.error.message}`);
    await write(JSON.stringify(error));
  };

  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    summary.lines += 1;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      const detail = error instanceof SyntaxError ? error.message : 'unreadable';
      await fail(summary.lines, { error: { code: 'INVALID_JSON', message: `not valid JSON (${detail})` } });
      continue;
    }
    const valid = validateEvent(raw);
    if (!valid.ok) {
      const { eventId, ...error } = valid.error;
      await fail(summary.lines, eventId === undefined ? { error } : { eventId, error });
      continue;
    }
    const atMs = valid.value.atMs;
    if (!started) {
      clock.set(atMs);
      started = true;
    }
    // Out-of-order events are decided at their own time, but the world never runs backwards.
    if (atMs > clock.now()) await passTime(atMs);
    const outcome = handleEvent(valid.value, hot, prior, ids, options.policy, {
      receivedAtMs: atMs,
      decidedAtMs: atMs,
    });
    if (outcome.kind === 'conflict') {
      await fail(summary.lines, {
        eventId: outcome.eventId,
        error: {
          code: 'EVENT_ID_CONFLICT',
          message: `event id "${outcome.eventId}" appeared earlier with different content`,
        },
      });
      continue;
    }
    summary.decided += 1;
    await write(JSON.stringify(outcome.decision));
    if (outcome.kind !== 'decided') continue;
    await storage.events.append(
      [outcome.record],
      outcome.openedCase === undefined ? [] : [outcome.openedCase],
    );
    await world.onDecided(valid.value.event, outcome.decision);
    await engine.drain();
  }

  // Run on until every run is terminal, a week at most.
  const endMs = clock.now() + runOnMs;
  while (clock.now() < endMs && (await storage.containment.unfinishedCount()) > 0) {
    const next = await storage.containment.nextDueAtMs();
    await passTime(Math.min(endMs, Math.max(next ?? endMs, clock.now() + 1)));
  }
  const built = await buildReport(storage, world, summary.decided, clock.now());
  await options.inspect?.({ world, storage, db, clock });
  return { summary, report: built };
}

async function buildReport(
  storage: Storage,
  world: SandboxWorld,
  events: number,
  endMs: number,
): Promise<StoreReport> {
  const cases = await storage.cases.list(casesReportedMax);
  const decidedAt = new Map<string, number>();
  const reportCases: ReportCase[] = [];
  for (const record of cases) {
    const run = await storage.containment.runForCase(record.caseId);
    const steps: StepRecord[] = run === undefined ? [] : await storage.containment.steps(run.runId);
    if (run !== undefined)
      decidedAt.set(run.accountId, Math.min(decidedAt.get(run.accountId) ?? Infinity, run.decidedAtMs));
    reportCases.push({
      caseId: record.caseId,
      accountId: record.accountId,
      playbook: run?.playbook,
      status: record.status,
      decidedAt: run === undefined ? undefined : toIso(run.decidedAtMs),
      finishedAt: run?.finishedAtMs === undefined ? undefined : toIso(run.finishedAtMs),
      steps: steps.map((s) => ({
        step: s.name,
        target: s.target,
        state: s.state,
        attempts: s.attempts,
        startedAt: toIso(s.createdAtMs),
        doneAt: s.doneAtMs === undefined ? undefined : toIso(s.doneAtMs),
        msAfterDecision:
          s.doneAtMs === undefined || run === undefined ? undefined : s.doneAtMs - run.decidedAtMs,
      })),
      receiptComplete: run === undefined ? undefined : receiptOf(run, steps).complete,
    });
  }
  const orders: ReportOrder[] = [];
  for (const order of await world.store.allOrders()) {
    const payment = order.paymentId === undefined ? undefined : await world.payments.inspect(order.paymentId);
    const view = payment === undefined ? undefined : await world.payments.getPayment(payment.paymentId);
    const fulfilment = await world.fulfilment.inspect(order.orderId);
    const decision = decidedAt.get(order.accountId);
    orders.push({
      orderId: order.orderId,
      accountId: order.accountId,
      placedAt: toIso(order.placedAtMs),
      archived: order.archived,
      amount: order.amount,
      payment:
        view === undefined || !view.ok
          ? undefined
          : {
              paymentId: view.value.paymentId,
              status: view.value.status,
              authorizedMinor: view.value.authorizedMinor,
              capturedMinor: view.value.capturedMinor,
              refundedMinor: view.value.refundedMinor,
              capturable: view.value.capturableMinor > 0,
            },
      shipments: (fulfilment?.shipments ?? []).map((s) => ({
        shipmentId: s.shipmentId,
        kind: s.kind,
        status: s.status,
        shippedAfterDecision:
          decision !== undefined &&
          s.history.some(
            (h) => (h.type === 'picked_up' || h.type === 'digital_delivered') && h.atMs > decision,
          ),
      })),
      giftCards: (await world.store.giftCards(order.orderId)).map((c) => ({
        codeLast4: c.codeLast4,
        status: c.status,
      })),
    });
  }
  const sink = world.notify as Partial<DevelopmentNotifySink>;
  const notifications = (sink.messages?.() ?? []).map((m) => ({
    to: m.to,
    subject: m.channel === 'email' ? m.subject : m.text,
    at: toIso(m.atMs),
    messageId: m.messageId,
  }));
  return { version: 1, events, endedAt: toIso(endMs), orders, cases: reportCases, notifications };
}
