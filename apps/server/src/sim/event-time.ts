import type { SandboxWorld } from '../adapters/sandbox/world.ts';
import type { RunStore } from '../containment/ports.ts';
import type { ManualClock } from '../core/clock.ts';

/**
 * Lets event time pass up to `untilMs` in the sandbox world: at the current time and at every
 * due time on the way (a shipment moving, a refund settling, a containment step falling due) the
 * world acts and containment drains, so nothing happens later than it would on a wall clock.
 * Used by replay with the store, the fault simulation and the containment tests alike.
 *
 * `quantumMs` coarsens time for large simulations: the clock moves to the next multiple of it at
 * or after the next due time, so work falling due within one quantum is done together, at most
 * that late. 0 (the default) keeps every due time exact.
 */
export async function passEventTime(
  world: SandboxWorld,
  clock: ManualClock,
  runs: RunStore,
  drain: () => Promise<unknown>,
  untilMs: number,
  quantumMs = 0,
): Promise<void> {
  for (;;) {
    await world.advance();
    await drain();
    const dues = [await runs.nextDueAtMs(), await world.nextDueAtMs()].filter(
      (d): d is number => d !== undefined && d > clock.now(),
    );
    const due = Math.min(...dues);
    const next = Math.min(untilMs, quantumMs > 0 ? Math.ceil(due / quantumMs) * quantumMs : due);
    if (next <= clock.now()) return;
    clock.set(next);
  }
}
