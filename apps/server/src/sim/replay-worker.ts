import { parentPort } from 'node:worker_threads';
import { LineCutter, readReplayLine } from './replay-lines.ts';

/** What the main thread sends: a chunk of the input as read, or the end of the input. */
export type ReplayWorkerInput = { readonly chunk: string | Uint8Array } | { readonly end: true };

/**
 * The lines of one input chunk, read and checked, in input order (parallel arrays: one structured
 * clone per chunk, not one object per line). Every message gets its batch, even an empty one: the
 * main thread counts the chunks in flight by them. `kinds[i]` is 0 for an event, whose `texts[i]` is
 * the event as validated (unknown fields dropped, keys in schema order: the text its content hash
 * is taken of), and 1 for a line answered by an error, whose `texts[i]` is that error line.
 */
export interface ReplayWorkerBatch {
  readonly kinds: Uint8Array<ArrayBuffer>;
  readonly texts: string[];
  readonly atMs: Float64Array<ArrayBuffer>;
  readonly hashes: string[];
}

const port = parentPort;
if (port === null) throw new Error('replay-worker.ts runs as a worker thread of bulwark replay');

let kinds: number[] = [];
let texts: string[] = [];
let atMs: number[] = [];
let hashes: string[] = [];

const cutter = new LineCutter((line) => {
  const read = readReplayLine(line);
  if (read.ok) {
    kinds.push(0);
    texts.push(JSON.stringify(read.valid.event));
    atMs.push(read.valid.atMs);
    hashes.push(read.valid.contentHash);
  } else {
    kinds.push(1);
    texts.push(JSON.stringify(read.error));
    atMs.push(0);
    hashes.push('');
  }
});

function post(): void {
  const batch: ReplayWorkerBatch = {
    kinds: new Uint8Array(kinds),
    texts,
    atMs: new Float64Array(atMs),
    hashes,
  };
  port?.postMessage(batch, [batch.kinds.buffer, batch.atMs.buffer]);
  kinds = [];
  texts = [];
  atMs = [];
  hashes = [];
}

port.on('message', (message: ReplayWorkerInput) => {
  if ('end' in message) {
    cutter.end();
    post();
    port.close();
    return;
  }
  cutter.write(message.chunk);
  post();
});
