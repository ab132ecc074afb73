import { Agent, request as httpRequest } from 'node:http';
import autocannon, { type Client } from 'autocannon';
import { eventJson } from './events.ts';

/**
 * Unique event ids over pre-built bodies: every request gets `<prefix><seq>` and the current time,
 * and each answer is checked to be the decision for an id this stream sent and not answered yet.
 */
export class EventStream {
  readonly #tails: readonly string[];
  readonly #prefix: string;
  #sent = 0;
  #answered = new Uint8Array(1 << 16);
  #atMs = -1;
  #atText = '';

  constructor(tails: readonly string[], prefix: string) {
    this.#tails = tails;
    this.#prefix = prefix;
  }

  get sentCount(): number {
    return this.#sent;
  }

  next(): string {
    const seq = this.#sent;
    this.#sent += 1;
    // Formatting a date per request would show up in the load generator's profile.
    const nowMs = Date.now();
    if (nowMs !== this.#atMs) {
      this.#atMs = nowMs;
      this.#atText = new Date(nowMs).toISOString();
    }
    return eventJson(this.#tails[seq % this.#tails.length] ?? '', `${this.#prefix}${seq}`, this.#atText);
  }

  /** Ids of every event answered 2xx so far. */
  answeredIds(): string[] {
    const ids: string[] = [];
    for (let seq = 0; seq < Math.min(this.#sent, this.#answered.length); seq += 1) {
      if (this.#answered[seq] === 1) ids.push(`${this.#prefix}${seq}`);
    }
    return ids;
  }

  /** True when `eventId` is one this stream sent and had not been answered before. */
  claim(eventId: string): boolean {
    if (!eventId.startsWith(this.#prefix)) return false;
    const seq = Number(eventId.slice(this.#prefix.length));
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.#sent) return false;
    if (seq >= this.#answered.length) {
      const grown = new Uint8Array(Math.max(this.#answered.length * 2, seq + 1));
      grown.set(this.#answered);
      this.#answered = grown;
    }
    if (this.#answered[seq] === 1) return false;
    this.#answered[seq] = 1;
    return true;
  }
}

export interface Target {
  readonly url: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Check each 2xx body is the decision for an event we sent (the baseline's fixed body is not). */
  readonly verifyDecisions: boolean;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  mode: 'saturated' | 'paced';
  durationS: number;
  completed: number;
  ok2xx: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts: requests that got no HTTP answer. */
  errors: number;
  timeouts: number;
  /** 2xx answers per second: events accepted and decided. */
  eventsPerS: number;
  latencyMs: LatencySummary;
  /** 2xx bodies that were not the decision for a fresh event id of ours. */
  verifyFailures: number;
  decisions: Record<string, number>;
  /** Paced only: requests the generator could not start because too many were in flight. */
  notSent?: number;
  /** Paced only: the rate asked for. */
  targetRatePerS?: number;
}

export function summarise(latencies: readonly number[]): LatencySummary {
  if (latencies.length === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sum / sorted.length,
  };
}

/** Reads decisions out of answers without parsing JSON: cheap enough to do on every response. */
class AnswerChecker {
  readonly decisions: Record<string, number> = {};
  failures = 0;
  readonly #stream: EventStream;
  readonly #verify: boolean;

  constructor(stream: EventStream, verify: boolean) {
    this.#stream = stream;
    this.#verify = verify;
  }

  check(status: number, body: string): void {
    if (!this.#verify || status < 200 || status >= 300) return;
    const id = /"eventId":"([^"]*)"/.exec(body)?.[1];
    const decision = /"decision":"([a-z_]+)"/.exec(body)?.[1];
    if (id === undefined || decision === undefined || !this.#stream.claim(id)) {
      this.failures += 1;
      return;
    }
    this.decisions[decision] = (this.decisions[decision] ?? 0) + 1;
  }
}

/** Closed loop: every connection sends its next request as soon as the answer arrives. */
export async function runSaturated(
  target: Target,
  stream: EventStream,
  shape: { connections: number; pipelining: number; durationS: number },
  /** Also receives every latency, so loads run side by side can be merged (bench/cluster.ts). */
  latencySink?: number[],
): Promise<LoadResult> {
  const latencies: number[] = [];
  const checker = new AnswerChecker(stream, target.verifyDecisions);
  const result = await autocannon({
    url: target.url,
    connections: shape.connections,
    pipelining: shape.pipelining,
    duration: shape.durationS,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: target.path,
        headers: { ...target.headers, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: stream.next() }),
        onResponse: (status, body) => checker.check(status, body),
      },
    ],
    // autocannon's own histogram keeps whole milliseconds; the per-response times are exact.
    setupClient: (client: Client) => {
      client.on('response', (_status: number, _bytes: number, responseTimeMs: number) => {
        latencies.push(responseTimeMs);
        latencySink?.push(responseTimeMs);
      });
    },
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats)) statusCodes[code] = stats.count;
  const ok2xx = result['2xx'];
  return {
    mode: 'saturated',
    durationS: result.duration,
    completed: ok2xx + result.non2xx,
    ok2xx,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    eventsPerS: ok2xx / result.duration,
    latencyMs: summarise(latencies),
    verifyFailures: checker.failures,
    decisions: checker.decisions,
  };
}

/**
 * Open loop at a fixed rate, for latency at a given load rather than at saturation: requests are
 * started on a schedule whether or not earlier ones were answered, and each latency is counted
 * from when its request was due (so a stalled server cannot hide its stall: no coordinated
 * omission). autocannon's own rate limit sends each second's quota in one burst, hence this.
 */
export async function runPaced(
  target: Target,
  stream: EventStream,
  shape: { ratePerS: number; durationS: number; connections: number },
): Promise<LoadResult> {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: shape.connections });
  const checker = new AnswerChecker(stream, target.verifyDecisions);
  const total = Math.round(shape.ratePerS * shape.durationS);
  // More than two seconds of requests waiting means the server is far behind: stop adding.
  const inFlightMax = Math.max(100, shape.ratePerS * 2);
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let started = 0;
  let notSent = 0;
  let inFlight = 0;
  let errors = 0;
  let ok2xx = 0;
  let non2xx = 0;
  let lastAnswerMs = 0;
  const startMs = performance.now();
  const intervalMs = 1000 / shape.ratePerS;

  await new Promise<void>((resolve) => {
    const finishIfDone = (): void => {
      if (started + notSent === total && inFlight === 0) {
        clearInterval(ticker);
        resolve();
      }
    };
    const send = (dueMs: number): void => {
      const body = stream.next();
      inFlight += 1;
      let settled = false;
      // A request ends once: answered, or failed (refused, reset, timed out) but never both.
      const settle = (status: number | undefined, text: string): void => {
        if (settled) return;
        settled = true;
        inFlight -= 1;
        if (status === undefined) errors += 1;
        else {
          lastAnswerMs = performance.now();
          latencies.push(lastAnswerMs - dueMs);
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status >= 200 && status < 300) ok2xx += 1;
          else non2xx += 1;
          checker.check(status, text);
        }
        finishIfDone();
      };
      const req = httpRequest(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: target.path,
          method: 'POST',
          headers: {
            ...target.headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => settle(res.statusCode ?? 0, text));
          res.on('error', () => settle(undefined, ''));
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => settle(undefined, ''));
      req.end(body);
    };
    const ticker = setInterval(() => {
      const due = Math.min(total, Math.floor((performance.now() - startMs) / intervalMs) + 1);
      while (started + notSent < due) {
        const dueMs = startMs + (started + notSent) * intervalMs;
        if (inFlight >= inFlightMax) notSent += 1;
        else {
          started += 1;
          send(dueMs);
        }
      }
      finishIfDone();
    }, 1);
  });
  agent.destroy();
  const durationS = (Math.max(lastAnswerMs, startMs + 1) - startMs) / 1000;
  return {
    mode: 'paced',
    durationS,
    completed: ok2xx + non2xx,
    ok2xx,
    non2xx,
    statusCodes,
    errors,
    timeouts: 0,
    eventsPerS: ok2xx / durationS,
    latencyMs: summarise(latencies),
    verifyFailures: checker.failures,
    decisions: checker.decisions,
    notSent,
    targetRatePerS: shape.ratePerS,
  };
}
