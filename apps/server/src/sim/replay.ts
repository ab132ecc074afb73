import type { Readable, Writable } from 'node:stream';
import type { BulwarkEvent, EventError } from '@bulwark/contracts';
import { derivedIds } from '../core/ids.ts';
import { startWorker } from '../core/worker.ts';
import { handleEvent } from '../ingest/handle.ts';
import { HotStateCache } from '../ingest/hot-state.ts';
import type { ValidEvent } from '../ingest/validate.ts';
import { defaultRiskPolicy, type RiskPolicy } from '../risk/domain/policy.ts';
import type { PriorOutcome } from '../storage/ports.ts';
import { LineCutter, readReplayLine } from './replay-lines.ts';
import type { ReplayWorkerBatch, ReplayWorkerInput } from './replay-worker.ts';

export interface ReplaySummary {
  lines: number;
  decided: number;
  errors: number;
}

export interface ReplayOptions {
  /**
   * 1: every step on this thread. 2: lines are cut, parsed and checked against the contract on a
   * second thread while this one decides (the output is byte-identical either way).
   */
  threads?: 1 | 2;
}

/** Output is written in chunks of about this size. */
const outputChunkChars = 1 << 16;

/** Input chunks handed to the reading thread and not yet decided: bounds the memory between them. */
const chunksInFlightMax = 8;

/**
 * Scores a recorded event file offline (contract §4): a fresh private state, the clock set to each
 * event's `at`, one output line per input line in the same order. Ids are derived from event ids,
 * so the same input gives byte-identical output. A line that is not a valid event is answered with
 * an error line and reported on `report` with its line number; the run goes on.
 */
export async function replay(
  input: Readable,
  output: Writable,
  report: (line: string) => void,
  policy: RiskPolicy = defaultRiskPolicy(),
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  // Nothing is ever evicted: without a store, forgetting would change later decisions.
  const hot = new HotStateCache(
    { accountsMax: Number.MAX_SAFE_INTEGER, seriesMax: Number.MAX_SAFE_INTEGER },
    undefined,
    policy,
  );
  const prior = new Map<string, PriorOutcome>();
  const ids = derivedIds();
  const summary: ReplaySummary = { lines: 0, decided: 0, errors: 0 };
  let buffered = '';

  const flush = async (): Promise<void> => {
    if (buffered.length === 0) return;
    const chunk = buffered;
    buffered = '';
    if (!output.write(chunk)) await new Promise<void>((resolve) => output.once('drain', resolve));
  };
  /** Answers the current line with an error line. */
  const fail = (error: EventError): void => {
    summary.errors += 1;
    const { code, message } = error.error;
    report(`line ${summary.lines}: ${code} ${message}`);
    buffered += `${JSON.stringify(error)}\n`;
  };
  const decide = (valid: ValidEvent): void => {
    summary.lines += 1;
    const atMs = valid.atMs;
    const outcome = handleEvent(valid, hot, prior, ids, policy, { receivedAtMs: atMs, decidedAtMs: atMs });
    if (outcome.kind === 'conflict') {
      fail({
        eventId: outcome.eventId,
        error: {
          code: 'EVENT_ID_CONFLICT',
          message: `event id "${outcome.eventId}" appeared earlier with different content`,
        },
      });
      return;
    }
    summary.decided += 1;
    buffered += `${JSON.stringify(outcome.decision)}\n`;
  };
  const refuse = (error: EventError): void => {
    summary.lines += 1;
    fail(error);
  };

  if (options.threads === 2) {
    await replayOnTwoThreads(input, decide, refuse, flush, () => buffered.length);
  } else {
    const cutter = new LineCutter((line) => {
      const read = readReplayLine(line);
      if (read.ok) decide(read.valid);
      else refuse(read.error);
    });
    for await (const chunk of input) {
      cutter.write(chunk as string | Buffer);
      if (buffered.length >= outputChunkChars) await flush();
    }
    cutter.end();
  }
  await flush();
  return summary;
}

/**
 * The reading thread's side of a replay: chunks go to it as read, its batches of checked lines
 * come back in the same order and are decided here. At most `chunksInFlightMax` chunks are
 * between the two, so a fast reader cannot fill memory ahead of the decisions.
 */
async function replayOnTwoThreads(
  input: Readable,
  decide: (valid: ValidEvent) => void,
  refuse: (error: EventError) => void,
  flush: () => Promise<void>,
  bufferedChars: () => number,
): Promise<void> {
  const reader = new ReadingThread();
  try {
    let inFlight = 0;
    const decideNext = async (): Promise<void> => {
      const batch = await reader.next();
      inFlight -= 1;
      const { kinds, texts, atMs, hashes } = batch;
      for (let i = 0; i < kinds.length; i += 1) {
        const text = texts[i] as string;
        if (kinds[i] === 0) {
          // The text is the event as validated: parsing it gives the same event back.
          decide({
            event: JSON.parse(text) as BulwarkEvent,
            atMs: atMs[i] as number,
            contentHash: hashes[i] as string,
          });
        } else {
          refuse(JSON.parse(text) as EventError);
        }
      }
      if (bufferedChars() >= outputChunkChars) await flush();
    };
    for await (const chunk of input) {
      reader.send({ chunk: chunk as string | Buffer });
      inFlight += 1;
      while (inFlight >= chunksInFlightMax) await decideNext();
    }
    reader.send({ end: true });
    inFlight += 1;
    while (inFlight > 0) await decideNext();
  } finally {
    await reader.close();
  }
}

/** The worker thread that cuts, parses and checks lines, with its batches as a queue. */
class ReadingThread {
  readonly #worker = startWorker(new URL('./replay-worker.ts', import.meta.url));
  readonly #batches: ReplayWorkerBatch[] = [];
  #waiting: { resolve: (batch: ReplayWorkerBatch) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;
  #ended = false;

  constructor() {
    this.#worker.on('message', (batch: ReplayWorkerBatch) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting === undefined) this.#batches.push(batch);
      else waiting.resolve(batch);
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => {
      if (!this.#ended) this.#fail(new Error(`the replay reading thread stopped early (exit code ${code})`));
    });
  }

  send(message: ReplayWorkerInput): void {
    if ('end' in message) this.#ended = true;
    this.#worker.postMessage(message);
  }

  next(): Promise<ReplayWorkerBatch> {
    const batch = this.#batches.shift();
    if (batch !== undefined) return Promise.resolve(batch);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  async close(): Promise<void> {
    this.#ended = true;
    await this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#failure);
  }
}
