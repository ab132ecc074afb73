import type { SandboxWorld } from '../adapters/sandbox/world.ts';
import type { RunStore } from '../containment/ports.ts';
import type { ManualClock } from '../core/clock.ts';

/**
 * Lets event time pass up to `untilMs` in the sandbox world: at the current time and at every
 * due time on the way (a shipment moving, a refund settling, a containment step falling due) the
 * world acts and containment drains, so nothing happens later than it would on a wall clock.
 * Used by replay with the store, the fault simulation and the containment tests alike.
 */
export async function passEventTime(
  world: SandboxWorld,
  clock: ManualClock,
  runs: RunStore,
  drain: () => Promise<unknown>,
  untilMs: number,
): Promise<void> {
  for (;;) {
    await world.advance();
    await drain();
    const dues = [await runs.nextDueAtMs(), await world.nextDueAtMs()].filter(
      (d): d is number => d !== undefined && d > clock.now(),
    );
    const next = Math.min(untilMs, ...dues);
    if (next <= clock.now()) return;
    clock.set(next);
  }
}
