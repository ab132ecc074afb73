import type { Clock } from '../core/clock.ts';

/**
 * Counts failed verifications per client address in fixed windows and blocks an address that
 * exceeds the limit until its window ends. Bounded: past `addressesMax` it starts afresh.
 */
export class FailureLimiter {
  readonly #windows = new Map<string, { startedMs: number; failures: number }>();
  readonly #failuresPerWindowMax: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #addressesMax: number;

  constructor(options: {
    failuresPerWindowMax: number;
    windowMs: number;
    clock: Clock;
    addressesMax?: number;
  }) {
    this.#failuresPerWindowMax = options.failuresPerWindowMax;
    this.#windowMs = options.windowMs;
    this.#clock = options.clock;
    this.#addressesMax = options.addressesMax ?? 100_000;
  }

  isBlocked(address: string): boolean {
    const window = this.#windows.get(address);
    if (window === undefined) return false;
    if (this.#clock.now() - window.startedMs >= this.#windowMs) {
      this.#windows.delete(address);
      return false;
    }
    return window.failures >= this.#failuresPerWindowMax;
  }

  recordFailure(address: string): void {
    const now = this.#clock.now();
    const window = this.#windows.get(address);
    if (window === undefined || now - window.startedMs >= this.#windowMs) {
      if (this.#windows.size >= this.#addressesMax) this.#windows.clear();
      this.#windows.set(address, { startedMs: now, failures: 1 });
    } else {
      window.failures += 1;
    }
  }
}
