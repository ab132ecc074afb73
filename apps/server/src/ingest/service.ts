import type { Decision, EventError } from '@bulwark/contracts';
import type { Clock } from '../core/clock.ts';
import type { EventProcessor } from './processor.ts';
import { validateEvent, type ValidEvent } from './validate.ts';

export type IngestAnswer = { ok: true; decision: Decision } | { ok: false; error: EventError };

export interface IngestObserver {
  onDecision(type: string, decision: Decision): void;
  onRefused(code: string): void;
}

/**
 * Ingest use case: validate each event, refuse what the contract forbids, let the processor decide
 * the rest in order. Invalid events are answered in place; valid ones are never lost because a
 * neighbour was invalid.
 */
export class IngestService {
  readonly #processor: EventProcessor;
  readonly #clock: Clock;
  readonly #clockSkewMaxMs: number;
  readonly #observer: IngestObserver | undefined;

  constructor(deps: {
    processor: EventProcessor;
    clock: Clock;
    clockSkewMaxMs: number;
    observer?: IngestObserver;
  }) {
    this.#processor = deps.processor;
    this.#clock = deps.clock;
    this.#clockSkewMaxMs = deps.clockSkewMaxMs;
    this.#observer = deps.observer;
  }

  /** The decision already given to an event id, if any. */
  storedDecision(eventId: string): Promise<Decision | undefined> {
    return this.#processor.storedDecision(eventId);
  }

  async ingest(rawEvents: readonly unknown[]): Promise<IngestAnswer[]> {
    const receivedAtMs = this.#clock.now();
    const answers: (IngestAnswer | undefined)[] = new Array<IngestAnswer | undefined>(rawEvents.length);
    const valid: ValidEvent[] = [];
    const positions: number[] = [];
    rawEvents.forEach((raw, index) => {
      const result = validateEvent(raw);
      if (!result.ok) {
        const { eventId, ...error } = result.error;
        answers[index] = { ok: false, error: eventId === undefined ? { error } : { eventId, error } };
        return;
      }
      if (result.value.atMs > receivedAtMs + this.#clockSkewMaxMs) {
        answers[index] = {
          ok: false,
          error: {
            eventId: result.value.event.id,
            error: {
              code: 'INVALID_EVENT',
              message: `at: is more than ${Math.round(this.#clockSkewMaxMs / 1000)} s ahead of the server clock`,
              field: 'at',
            },
          },
        };
        return;
      }
      valid.push(result.value);
      positions.push(index);
    });
    if (valid.length > 0) {
      const outcomes = await this.#processor.submit(valid, receivedAtMs);
      outcomes.forEach((outcome, i) => {
        const position = positions[i] ?? 0;
        if (outcome.ok) {
          answers[position] = { ok: true, decision: outcome.decision };
          if (!outcome.duplicate)
            this.#observer?.onDecision(valid[i]?.event.type ?? 'unknown', outcome.decision);
        } else {
          answers[position] = {
            ok: false,
            error: { eventId: outcome.eventId, error: { code: outcome.code, message: outcome.message } },
          };
        }
      });
    }
    return answers.map((answer) => {
      if (answer === undefined) throw new Error('every event gets an answer');
      if (!answer.ok) this.#observer?.onRefused(answer.error.error.code);
      return answer;
    });
  }
}
