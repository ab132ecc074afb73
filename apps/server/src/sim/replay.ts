import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import type { EventError } from '@bulwark/contracts';
import { derivedIds } from '../core/ids.ts';
import { handleEvent } from '../ingest/handle.ts';
import { HotStateCache } from '../ingest/hot-state.ts';
import { validateEvent } from '../ingest/validate.ts';
import { defaultRiskPolicy, type RiskPolicy } from '../risk/domain/policy.ts';
import type { PriorOutcome } from '../storage/ports.ts';

export interface ReplaySummary {
  lines: number;
  decided: number;
  errors: number;
}

/** Output is written in chunks of about this size. */
const outputChunkChars = 1 << 16;

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
  const fail = (lineNumber: number, error: EventError): void => {
    summary.errors += 1;
    const { code, message } = error.error;
    report(`line ${lineNumber}: ${code} ${message}`);
    buffered += `${JSON.stringify(error)}\n`;
  };

  const decide = (line: string): void => {
    summary.lines += 1;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (error) {
      const detail = error instanceof SyntaxError ? error.message : 'unreadable';
      fail(summary.lines, { error: { code: 'INVALID_JSON', message: `not valid JSON (${detail})` } });
      return;
    }
    const valid = validateEvent(raw);
    if (!valid.ok) {
      const { eventId, ...error } = valid.error;
      fail(summary.lines, eventId === undefined ? { error } : { eventId, error });
      return;
    }
    const atMs = valid.value.atMs;
    const outcome = handleEvent(valid.value, hot, prior, ids, policy, {
      receivedAtMs: atMs,
      decidedAtMs: atMs,
    });
    if (outcome.kind === 'conflict') {
      fail(summary.lines, {
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

  // Lines are cut from raw chunks here rather than by readline: one promise per chunk, not per line.
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const takeLines = (text: string): void => {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const line = partial + text.slice(start, text.charCodeAt(end - 1) === 13 ? end - 1 : end);
      partial = '';
      decide(line);
      start = end + 1;
    }
    partial += text.slice(start);
  };
  for await (const chunk of input) {
    takeLines(typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
    if (buffered.length >= outputChunkChars) await flush();
  }
  takeLines(decoder.end());
  // A last line without a newline is still a line.
  if (partial.length > 0) {
    const last = partial.endsWith('\r') ? partial.slice(0, -1) : partial;
    partial = '';
    decide(last);
  }
  await flush();
  return summary;
}
