/**
 * `npm run demo`: shows what Bulwark is for, on the server `npm start` runs. Through the public
 * API (an API key), it sends a day of ordinary shoppers and then the origin incident
 * (examples/origin-incident.jsonl) as it happens — a stolen session, gift cards bought and hidden
 * from the order history — and waits for containment to finish. The console then shows the
 * takeover challenged, the gift-card burst held and refused, the case step by step and the
 * receipt.
 *
 * Every run names its accounts afresh (`demo-<run>-…`), so it can be run again on the same data.
 * The key comes from `--key`, `BULWARK_API_KEY`, or is asked for (paste what `npm start` printed).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../core/random.ts';

type Json = Record<string, unknown>;

const incidentPath = fileURLToPath(new URL('../../../../examples/origin-incident.jsonl', import.meta.url));
/** The sandbox store follows the event log about once a second; the demo gives it time to. */
const storeFollowMs = 2500;
const caseWaitMs = 60_000;
const minuteMs = 60_000;

class DemoError extends Error {}

async function readKey(given: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  if (given !== undefined && given.trim().length > 0) return given.trim();
  const fromEnv = env.BULWARK_API_KEY;
  if (fromEnv !== undefined && fromEnv.trim().length > 0) return fromEnv.trim();
  // Asked for only at a terminal: piped input without a key is a usage error, not a hang.
  if (!process.stdin.isTTY) return '';
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  try {
    const line = await rl.question('API key (the one `npm start` printed, or run with --key): ');
    return line.trim();
  } finally {
    rl.close();
  }
}

export class DemoClient {
  readonly #url: string;
  readonly #key: string;
  constructor(url: string, key: string) {
    this.#url = url.replace(/\/+$/, '');
    this.#key = key;
  }

  get url(): string {
    return this.#url;
  }

  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Json> {
    let response: Response;
    try {
      response = await fetch(`${this.#url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new DemoError(
        `cannot reach Bulwark at ${this.#url} (${error instanceof Error ? error.message : String(error)}); start it with \`npm start\` first, or pass --url`,
      );
    }
    const text = await response.text();
    const parsed = (text.length === 0 ? {} : JSON.parse(text)) as Json;
    if (response.status === 401) {
      throw new DemoError(
        'the API key was refused: pass the key `npm start` printed (--key or BULWARK_API_KEY)',
      );
    }
    if (!response.ok) {
      const error = parsed.error as { code?: string; message?: string } | undefined;
      throw new DemoError(
        `${method} ${path} answered ${response.status}: ${error?.code ?? ''} ${error?.message ?? text.slice(0, 200)}`,
      );
    }
    return parsed;
  }

  async send(events: Json[]): Promise<Json[]> {
    const answer = await this.call('POST', '/v1/events', { events });
    const decisions = answer.decisions as Json[];
    const refused = decisions.filter((d) => 'error' in d);
    if (refused.length > 0) throw new DemoError(`events were refused: ${JSON.stringify(refused[0])}`);
    return decisions;
  }
}

const devices = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
];

/** A day of ordinary shoppers: each signs in from their own device and buys something modest. */
export function ordinaryDay(run: string, nowMs: number, shoppers: number, seed = 7): Json[] {
  const random = seededRandom(seed);
  const events: Json[] = [];
  for (let i = 1; i <= shoppers; i += 1) {
    const accountId = `demo-${run}-shopper-${String(i).padStart(3, '0')}`;
    const device = devices[i % devices.length] ?? devices[0];
    const context = {
      ip: `203.0.113.${String(10 + (i % 200))}`,
      userAgent: device,
      deviceId: `dev-${run}-${String(i)}`,
      sessionId: `sess-${run}-${String(i)}`,
    };
    // Spread over the last day, the latest a quarter of an hour ago.
    const signInMs = nowMs - 24 * 60 * minuteMs + Math.floor(random() * (23.5 * 60 * minuteMs));
    const created = signInMs - (30 + Math.floor(random() * 300)) * 24 * 60 * minuteMs;
    events.push({
      id: `${accountId}-created`,
      type: 'account.created',
      at: new Date(created).toISOString(),
      accountId,
      email: `shopper${String(i)}@example.jp`,
    });
    // A regular: they signed in from this device before (a first-ever device is news).
    events.push({
      id: `${accountId}-login-earlier`,
      type: 'login.succeeded',
      at: new Date(signInMs - (3 + Math.floor(random() * 20)) * 24 * 60 * minuteMs).toISOString(),
      accountId,
      context,
      method: 'password',
    });
    events.push({
      id: `${accountId}-login`,
      type: 'login.succeeded',
      at: new Date(signInMs).toISOString(),
      accountId,
      context,
      method: 'password',
    });
    const physical = random() < 0.7;
    const unit = physical ? 1500 + Math.floor(random() * 12) * 500 : 800 + Math.floor(random() * 6) * 200;
    const quantity = 1 + Math.floor(random() * 2);
    events.push({
      id: `${accountId}-order`,
      type: 'order.placed',
      at: new Date(signInMs + (2 + Math.floor(random() * 10)) * minuteMs).toISOString(),
      accountId,
      context,
      orderId: `${accountId}-o1`,
      amount: { value: unit * quantity, currency: 'JPY' },
      items: [
        {
          category: physical ? 'physical' : 'digital',
          quantity,
          unitPrice: { value: unit, currency: 'JPY' },
        },
      ],
      // Each ships home: one address shared by many accounts is what a reshipping ring looks like.
      ...(physical
        ? { shipping: { country: 'JP', postalCode: `${String(100 + i)}-${String(1000 + i).slice(-4)}` } }
        : {}),
      payment: { method: 'card', cardFingerprint: `fp-${run}-${String(i)}`, cardCountry: 'JP' },
    });
  }
  return events.sort((a, b) => Date.parse(String(a.at)) - Date.parse(String(b.at)));
}

/**
 * The origin incident with fresh names: the owner's history moved so it ends a day ago, the
 * attacker's part timed by the caller as it is sent.
 */
export function originIncident(run: string, nowMs: number): { history: Json[]; attack: Json[] } {
  const rename = (value: string): string => `demo-${run}-${value}`;
  const events = readFileSync(incidentPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Json);
  const attackAt = events.findIndex((e) => e.id === 'evt-attacker-login');
  if (attackAt < 0) throw new DemoError(`${incidentPath} has no evt-attacker-login`);
  const lastHistory = Date.parse(String(events[attackAt - 1]?.at));
  const shift = nowMs - 24 * 60 * minuteMs - lastHistory;
  const renamed = events.map((e) => {
    const next: Json = { ...e, id: rename(String(e.id)), accountId: rename(String(e.accountId)) };
    if (typeof e.orderId === 'string') next.orderId = rename(e.orderId);
    const context = e.context as Json | undefined;
    if (context !== undefined && typeof context.sessionId === 'string')
      next.context = { ...context, sessionId: rename(context.sessionId) };
    return next;
  });
  return {
    history: renamed
      .slice(0, attackAt)
      .map((e) => ({ ...e, at: new Date(Date.parse(String(e.at)) + shift).toISOString() })),
    attack: renamed.slice(attackAt),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runDemo(options: {
  client: DemoClient;
  shoppers: number;
  paceMs: number;
  out: (line: string) => void;
}): Promise<{ accountId: string; caseId: string; status: string }> {
  const { client, out } = options;
  await client.call('GET', '/v1/decisions?limit=1');
  const run = Date.now().toString(36).slice(-6);
  const day = ordinaryDay(run, Date.now(), options.shoppers);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < day.length; i += 100) {
    for (const decision of await client.send(day.slice(i, i + 100))) {
      const outcome = String(decision.decision);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }
  const tally = [...outcomes].map(([outcome, count]) => `${count} ${outcome}`).join(', ');
  out(
    `sent a day of ordinary shoppers: ${options.shoppers} accounts, ${day.length} events (${tally || 'none'})\n`,
  );

  const { history, attack } = originIncident(run, Date.now());
  await client.send(history);
  const accountId = String(history[0]?.accountId);
  out(`sent the owner's history of ${accountId} (sign-ins from one Mac, one order)\n`);
  await sleep(storeFollowMs);

  let caseId: string | undefined;
  for (const event of attack) {
    const timed = { ...event, at: new Date().toISOString() };
    const [decision] = await client.send([timed]);
    const reasons = ((decision?.reasons as { code: string }[] | undefined) ?? []).map((r) => r.code);
    if (typeof decision?.caseId === 'string') caseId ??= decision.caseId;
    const what = `${String(event.type)}${typeof event.orderId === 'string' ? ` ${event.orderId}` : ''}`;
    out(`  ${what.padEnd(44)} → ${String(decision?.decision)} (${reasons.slice(0, 2).join(', ')})\n`);
    // The store takes the first gift-card order before the shopper's view of it is hidden.
    await sleep(event.type === 'order.placed' && caseId === undefined ? storeFollowMs : options.paceMs);
  }
  if (caseId === undefined) throw new DemoError('no containment case was opened; is this a Bulwark server?');

  const deadline = Date.now() + caseWaitMs;
  let view: Json = {};
  for (;;) {
    view = await client.call('GET', `/v1/cases/${encodeURIComponent(caseId)}`);
    const done = (view.run as Json | undefined)?.status;
    if (done === 'completed' || done === 'escalated' || Date.now() > deadline) break;
    await sleep(500);
  }
  const link = await client.call('POST', '/v1/security-center/links', { accountId, lifetimeMs: 3_600_000 });
  const status = String(view.status);
  const runStatus = (view.run as { status?: string } | undefined)?.status ?? 'not started';
  out(`\ncontainment case ${caseId}: ${status} (run ${runStatus})\n`);
  for (const order of (view.orders as Json[] | undefined) ?? []) {
    out(`  ${String(order.orderId)}: payment ${String(order.payment)}, shipment ${String(order.shipment)}\n`);
  }
  out(`\nOpen the console (sign in with the admin \`npm start\` printed):\n`);
  out(`  live decisions   ${client.url}/console/\n`);
  out(`  the account      ${client.url}/console/accounts/${encodeURIComponent(accountId)}\n`);
  out(`  the case         ${client.url}/console/cases/${encodeURIComponent(caseId)}\n`);
  out(`  the receipt      ${client.url}/v1/cases/${encodeURIComponent(caseId)}/receipt\n`);
  out(`  the shopper's security center (one use, an hour): ${client.url}${String(link.path)}\n`);
  return { accountId, caseId, status };
}

/** The command: `apps/server/bin/demo.mjs` passes the arguments and the environment. */
export async function runDemoCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: env.BULWARK_URL ?? 'http://127.0.0.1:8080' },
      key: { type: 'string' },
      shoppers: { type: 'string', default: '60' },
      'pace-ms': { type: 'string', default: '300' },
    },
    strict: true,
  });
  const shoppers = Number(values.shoppers);
  const paceMs = Number(values['pace-ms']);
  if (
    !Number.isInteger(shoppers) ||
    shoppers < 0 ||
    shoppers > 5000 ||
    !Number.isInteger(paceMs) ||
    paceMs < 0
  ) {
    process.stderr.write(
      'usage: npm run demo -- [--url URL] [--key KEY] [--shoppers 0..5000] [--pace-ms N]\n',
    );
    return 2;
  }
  try {
    const key = await readKey(values.key, env);
    if (key.length === 0) throw new DemoError('no API key: pass --key or set BULWARK_API_KEY');
    await runDemo({
      client: new DemoClient(values.url, key),
      shoppers,
      paceMs,
      out: (line) => process.stdout.write(line),
    });
    return 0;
  } catch (error) {
    if (error instanceof DemoError) {
      process.stderr.write(`demo: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
