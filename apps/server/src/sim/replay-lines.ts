import { StringDecoder } from 'node:string_decoder';
import type { EventError } from '@bulwark/contracts';
import { validateEvent, type ValidEvent } from '../ingest/validate.ts';

/**
 * What one input line of a replay is: an event to decide, or the error line that answers it
 * (contract §4). The same on the main thread and in the reading thread of `--threads 2`.
 */
export type ReplayLine =
  { readonly ok: true; readonly valid: ValidEvent } | { readonly ok: false; readonly error: EventError };

/** Reads one line: JSON, then the contract. Never throws, whatever the line holds. */
export function readReplayLine(line: string): ReplayLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : 'unreadable';
    return { ok: false, error: { error: { code: 'INVALID_JSON', message: `not valid JSON (${detail})` } } };
  }
  const valid = validateEvent(raw);
  if (valid.ok) return { ok: true, valid: valid.value };
  const { eventId, ...problem } = valid.error;
  return { ok: false, error: eventId === undefined ? { error: problem } : { eventId, error: problem } };
}

/**
 * Cuts a stream of chunks into lines, by hand rather than by readline: no promise per line. A
 * line ends at LF, a CR before it is dropped, and a last line without a newline is still a line.
 * UTF-8 characters split between chunks are joined.
 */
export class LineCutter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #onLine: (line: string) => void;
  #partial = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  write(chunk: string | Uint8Array): void {
    this.#take(typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
  }

  /** The input has ended: what is left is the last line. */
  end(): void {
    this.#take(this.#decoder.end());
    if (this.#partial.length === 0) return;
    const last = this.#partial.endsWith('\r') ? this.#partial.slice(0, -1) : this.#partial;
    this.#partial = '';
    this.#onLine(last);
  }

  #take(text: string): void {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const line = this.#partial + text.slice(start, end);
      this.#partial = '';
      // The CR of a CRLF may have come at the end of the previous chunk.
      this.#onLine(line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line);
      start = end + 1;
    }
    this.#partial += text.slice(start);
  }
}
