/** Milliseconds since the Unix epoch. Every component reads time through a Clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: tests and replay use it. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }
  now(): number {
    return this.#nowMs;
  }
  set(nowMs: number): void {
    this.#nowMs = nowMs;
  }
  advance(byMs: number): void {
    this.#nowMs += byMs;
  }
}
