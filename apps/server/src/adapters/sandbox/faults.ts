import { z } from 'zod';
import {
  providerError,
  type ProviderErrorKind,
  type ProviderResult,
} from '../../connectors/domain/provider-result.ts';
import { seededRandom } from '../../core/random.ts';

/**
 * Fault injection for sandbox connectors, by configuration and seed: the same seed and the same
 * sequence of calls give the same faults, so a failing run can be replayed exactly.
 *
 * Command faults model what a caller of a remote provider sees:
 * - latency (driven by an injected `delay`, so tests advance a manual clock instead of sleeping);
 * - a timeout BEFORE the effect (the request never arrived) or AFTER it (the provider did the
 *   work, the answer was lost) — the hard case, which only an idempotency key makes safe;
 * - `unavailable` (a 5xx) and `rate_limited` (a 429), both before the effect.
 * Webhook faults: deliveries dropped, duplicated and reordered.
 */

const rate = z.number().min(0).max(1);

export const faultConfigSchema = z
  .object({
    seed: z.number().int(),
    /** Command names the faults apply to; every command when absent. */
    commands: z.array(z.string()).optional(),
    latencyMinMs: z.number().int().nonnegative().default(0),
    latencyMaxMs: z.number().int().nonnegative().default(0),
    /**
     * The caller's own timeout: a latency above it turns into a timeout after the effect, as a
     * slow provider that finishes the work after the client gave up.
     */
    clientTimeoutMs: z.number().int().positive().optional(),
    timeoutBeforeEffectRate: rate.default(0),
    timeoutAfterEffectRate: rate.default(0),
    unavailableRate: rate.default(0),
    rateLimitedRate: rate.default(0),
    rateLimitRetryAfterMs: z.number().int().nonnegative().default(1000),
    webhookDropRate: rate.default(0),
    webhookDuplicateRate: rate.default(0),
    /** Probability that a batch of deliveries goes out shuffled. */
    webhookReorderRate: rate.default(0),
  })
  .refine(
    (c) => c.timeoutBeforeEffectRate + c.timeoutAfterEffectRate + c.unavailableRate + c.rateLimitedRate <= 1,
    { message: 'command fault rates must add up to at most 1' },
  )
  .refine((c) => c.latencyMinMs <= c.latencyMaxMs, {
    message: 'latencyMinMs must not exceed latencyMaxMs',
  });

export type FaultConfig = z.output<typeof faultConfigSchema>;
export type FaultConfigInput = z.input<typeof faultConfigSchema>;

/** No faults at all: the default for demos and for tests that are not about faults. */
export const noFaults: FaultConfigInput = { seed: 0 };

export type CommandFault =
  | { readonly kind: 'timeout'; readonly when: 'before_effect' | 'after_effect' }
  | { readonly kind: 'unavailable' }
  | { readonly kind: 'rate_limited'; readonly retryAfterMs?: number };

export interface FaultRecord {
  readonly command: string;
  readonly fault: CommandFault | { readonly kind: 'latency'; readonly latencyMs: number };
}

/** Waits `ms` of the injected clock. Tests pass one that advances a ManualClock. */
export type Delay = (ms: number) => Promise<void>;

export const realDelay: Delay = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** A delay that moves a manual clock instead of waiting: latency without sleeping. */
export const clockDelay =
  (clock: { advance(byMs: number): void }): Delay =>
  (ms) => {
    clock.advance(ms);
    return Promise.resolve();
  };

export interface FaultInjector {
  /**
   * Runs one provider command through the faults. `effect` performs the command and answers the
   * provider's result; with a timeout after the effect it runs and its answer is discarded.
   */
  run<T>(command: string, effect: () => Promise<ProviderResult<T>>): Promise<ProviderResult<T>>;
  /** Queues a fault for the next call of `command` (any command when absent), before any roll. */
  script(fault: CommandFault, command?: string): void;
  /** Applies webhook faults to a batch of deliveries, in the order they would go out. */
  webhookBatch<T>(items: readonly T[]): { readonly deliver: T[]; readonly dropped: T[] };
}

export interface FaultInjectorOptions {
  readonly delay?: Delay;
  /** Told about every injected fault (tests, logs). */
  readonly onFault?: (record: FaultRecord) => void;
}

const message: Record<CommandFault['kind'], string> = {
  timeout: 'the provider did not answer in time (sandbox fault)',
  unavailable: 'the provider answered 503 (sandbox fault)',
  rate_limited: 'the provider answered 429 (sandbox fault)',
};

function asError(
  fault: CommandFault,
  config: FaultConfig,
): { readonly ok: false; readonly error: ReturnType<typeof providerError>['error'] } {
  const kind: ProviderErrorKind = fault.kind;
  if (fault.kind === 'rate_limited')
    return providerError(kind, message[kind], {
      providerCode: 'rate_limit',
      retryAfterMs: fault.retryAfterMs ?? config.rateLimitRetryAfterMs,
    });
  return providerError(kind, message[kind], {
    providerCode: fault.kind === 'timeout' ? `timeout_${fault.when}` : 'service_unavailable',
  });
}

export function faultInjector(input: FaultConfigInput, options: FaultInjectorOptions = {}): FaultInjector {
  const config = faultConfigSchema.parse(input);
  const random = seededRandom(config.seed);
  const delay = options.delay ?? realDelay;
  const scripted: { fault: CommandFault; command: string | undefined }[] = [];
  const applies = (command: string) => config.commands === undefined || config.commands.includes(command);
  const tell = (record: FaultRecord) => options.onFault?.(record);

  function roll(): CommandFault | undefined {
    // One draw per call keeps the sequence of faults a function of the seed and call order.
    const r = random();
    let edge = config.timeoutBeforeEffectRate;
    if (r < edge) return { kind: 'timeout', when: 'before_effect' };
    edge += config.timeoutAfterEffectRate;
    if (r < edge) return { kind: 'timeout', when: 'after_effect' };
    edge += config.unavailableRate;
    if (r < edge) return { kind: 'unavailable' };
    edge += config.rateLimitedRate;
    if (r < edge) return { kind: 'rate_limited' };
    return undefined;
  }

  function takeScripted(command: string): CommandFault | undefined {
    const index = scripted.findIndex((s) => s.command === undefined || s.command === command);
    if (index < 0) return undefined;
    const [entry] = scripted.splice(index, 1);
    return entry?.fault;
  }

  return {
    async run(command, effect) {
      let fault = takeScripted(command);
      if (fault === undefined && applies(command)) {
        fault = roll();
        const span = config.latencyMaxMs - config.latencyMinMs;
        const latencyMs = config.latencyMinMs + Math.floor(random() * (span + 1));
        if (latencyMs > 0) {
          const timeoutMs = config.clientTimeoutMs;
          if (fault === undefined && timeoutMs !== undefined && latencyMs > timeoutMs) {
            // The provider is slower than the caller's patience: the work is done, the answer lost.
            fault = { kind: 'timeout', when: 'after_effect' };
            await delay(timeoutMs);
          } else {
            await delay(latencyMs);
          }
          tell({ command, fault: { kind: 'latency', latencyMs } });
        }
      }
      if (fault === undefined) return effect();
      tell({ command, fault });
      if (fault.kind === 'timeout' && fault.when === 'after_effect') await effect();
      return asError(fault, config);
    },
    script(fault, command) {
      scripted.push({ fault, command });
    },
    webhookBatch(items) {
      const deliver: (typeof items)[number][] = [];
      const dropped: (typeof items)[number][] = [];
      for (const item of items) {
        if (random() < config.webhookDropRate) {
          dropped.push(item);
          continue;
        }
        deliver.push(item);
        if (random() < config.webhookDuplicateRate) deliver.push(item);
      }
      if (deliver.length > 1 && random() < config.webhookReorderRate) {
        // Fisher–Yates with the seeded source, so the order is reproducible too.
        for (let i = deliver.length - 1; i > 0; i -= 1) {
          const j = Math.floor(random() * (i + 1));
          const a = deliver[i] as (typeof items)[number];
          deliver[i] = deliver[j] as (typeof items)[number];
          deliver[j] = a;
        }
      }
      return { deliver, dropped };
    },
  };
}
