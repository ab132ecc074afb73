import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest, type Agent } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The real `bulwark` command, run as users run it. */
export const bulwarkBin = fileURLToPath(new URL('../../bin/bulwark.mjs', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Settings the test process may carry that must not leak into a child unless a test says so. */
function isInheritedSetting(name: string): boolean {
  return (
    name.startsWith('BULWARK_') ||
    name === 'DATABASE_URL' ||
    name === 'REDIS_URL' ||
    name === 'NATS_URL' ||
    name === 'NODE_ENV' ||
    // Set by Node's test runner in its workers; a child that inherits it reports as a test file.
    name === 'NODE_TEST_CONTEXT'
  );
}

/** Our environment without Bulwark settings, plus `env` (an `undefined` value removes a name). */
export function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const merged = new Map(Object.entries(process.env).filter(([name]) => !isInheritedSetting(name)));
  for (const [name, value] of Object.entries(env)) merged.set(name, value);
  return Object.fromEntries([...merged].filter(([, value]) => value !== undefined));
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Stream = 'stdout' | 'stderr';

/** Every child started by these helpers and not yet gone, so `after` hooks can end them. */
const running = new Set<BulwarkProcess>();

/** One `bulwark` child process, with its output collected and bounded waits on it. */
export class BulwarkProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly #text: Record<Stream, string> = { stdout: '', stderr: '' };
  readonly #listeners = new Set<() => void>();
  #exit: Exit | undefined;

  constructor(args: readonly string[], env: Record<string, string | undefined> = {}) {
    this.child = spawn(process.execPath, [bulwarkBin, ...args], {
      cwd: repoRoot,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]?.setEncoding('utf8');
      this.child[stream]?.on('data', (chunk: string) => {
        this.#text[stream] += chunk;
        for (const listener of this.#listeners) listener();
      });
    }
    // 'close' comes after the output streams ended, so the text is complete by then.
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        running.delete(this);
        for (const listener of this.#listeners) listener();
        resolve(this.#exit);
      });
      this.child.once('error', () => {
        this.#exit = { code: null, signal: null };
        running.delete(this);
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the child process did not start');
    return this.child.pid;
  }

  get stdout(): string {
    return this.#text.stdout;
  }

  get stderr(): string {
    return this.#text.stderr;
  }

  /** What the child wrote so far, for failure messages. */
  describe(): string {
    const exit = this.#exit === undefined ? 'still running' : `exited ${JSON.stringify(this.#exit)}`;
    return `bulwark ${this.child.spawnargs.slice(2).join(' ')} (${exit})\n--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }

  /** Waits until `pattern` matches what the child wrote on `stream`; fails clearly on timeout or exit. */
  waitFor(
    pattern: RegExp,
    what: string,
    timeoutMs: number,
    stream: Stream = 'stdout',
  ): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.#text[stream]);
        if (match !== null) {
          done();
          resolve(match);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`the child exited before ${what}\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits for the child to end; fails clearly (and kills it) when it does not in time. */
  async waitForExit(what: string, timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } catch (error) {
      await this.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` if the child still runs; answers once it is gone (for SIGKILL) or at once. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.#exit !== undefined) return;
    this.child.kill(signal);
    if (signal === 'SIGKILL') await this.exited;
  }
}

/** Ends every child these helpers started that is still running. For `after` hooks. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill('SIGKILL')));
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one `bulwark` command to its end. */
export async function runBulwark(
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = new BulwarkProcess(args, options.env);
  const exit = await child.waitForExit(`bulwark ${args.join(' ')} to finish`, options.timeoutMs ?? 60_000);
  return { status: exit.code, stdout: child.stdout, stderr: child.stderr };
}

export interface RunningServer {
  process: BulwarkProcess;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
}

/**
 * Starts `bulwark start --port 0` and waits until it prints where it listens. A first start of a
 * PGlite data folder creates and migrates it, which takes seconds on a busy machine.
 */
export async function startBulwark(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 120_000,
): Promise<RunningServer> {
  const child = new BulwarkProcess(['start', '--port', '0', ...args], { BULWARK_LOG_LEVEL: 'warn', ...env });
  const match = await child.waitFor(/API:\s+(http:\/\/\S+)\/v1\/events\n/, 'the API: line', timeoutMs);
  const url = match[1];
  if (url === undefined) throw new Error(`no URL in the API: line\n${child.describe()}`);
  return { process: child, url };
}

/** Waits for the first-start API key line of a server. */
export async function firstStartKey(server: RunningServer, timeoutMs = 10_000): Promise<string> {
  const match = await server.process.waitFor(
    /API key \(shown once, keep it\): (\S+)\n/,
    'the first-start API key',
    timeoutMs,
  );
  const key = match[1];
  if (key === undefined) throw new Error(`no key in the API key line\n${server.process.describe()}`);
  return key;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/**
 * One JSON request to a running server, bounded by a timeout; network failures reject. Without
 * an `agent` each request has its own connection; pass a keep-alive agent to reuse connections as
 * a store's backend would, and destroy it when done.
 */
export function httpJson(
  url: string,
  init: { method?: 'GET' | 'POST'; key?: string; body?: unknown; timeoutMs?: number; agent?: Agent } = {},
): Promise<HttpAnswer> {
  const payload = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
  const headers: Record<string, string> = {};
  if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`;
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: init.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers,
        agent: init.agent ?? false,
        signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // Not JSON (metrics): keep the text.
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}
