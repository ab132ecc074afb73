import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { processCpuS } from './cpu.ts';

export const repoRoot = new URL('..', import.meta.url).pathname;
/** The checkout whose server is benchmarked: this one, or another (`--server-root`, `bench/compare.ts`). */
export let serverRoot = repoRoot;
export let bulwarkBin = join(repoRoot, 'apps/server/bin/bulwark.mjs');

/** Benchmarks the server of the checkout at `root` (its own `node_modules` must be installed or linked). */
export function useServerRoot(root: string): void {
  serverRoot = resolve(root);
  bulwarkBin = join(serverRoot, 'apps/server/bin/bulwark.mjs');
}

/** Lines of stderr kept to explain a child that failed. */
const stderrLinesMax = 40;

/** A child process whose stdout is read line by line, so the benchmark can wait for a line. */
export class Child {
  readonly process: ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrTail: string[] = [];
  readonly exited: Promise<number>;
  #waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
  #exitCode: number | undefined;

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    this.process = spawn(command, args, { cwd: serverRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = this.process.stdout;
    const stderr = this.process.stderr;
    if (stdout === null || stderr === null) throw new Error('child has no pipes');
    createInterface({ input: stdout }).on('line', (line) => {
      this.stdoutLines.push(line);
      this.#waiters = this.#waiters.filter((waiter) => {
        const match = waiter.pattern.exec(line);
        if (match === null) return true;
        waiter.resolve(match);
        return false;
      });
    });
    createInterface({ input: stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > stderrLinesMax) this.stderrTail.shift();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal === null ? 1 : 128);
        resolve(this.#exitCode);
      });
    });
  }

  /** Answers the first stdout line (already read or still to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    for (const line of this.stdoutLines) {
      const match = pattern.exec(line);
      if (match !== null) return Promise.resolve(match);
    }
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`${what}: no line matching ${String(pattern)} within ${timeoutMs} ms${this.#explain()}`),
        );
      }, timeoutMs);
      this.#waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${what}: the child exited with ${code} before printing it${this.#explain()}`));
      });
    });
  }

  /** Sends SIGTERM (the server drains and flushes), then SIGKILL after `graceMs`. Answers the exit code. */
  async stop(graceMs: number): Promise<number> {
    if (this.#exitCode !== undefined) return this.#exitCode;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  #explain(): string {
    return this.stderrTail.length === 0 ? '' : `\n  stderr:\n    ${this.stderrTail.join('\n    ')}`;
  }
}

/** Runs a child to its end; answers its exit code, wall time and output. */
export async function runToEnd(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; wallMs: number; cpuS: number; stdout: string; stderr: string }> {
  const startedMs = performance.now();
  const child = spawn(command, args, { cwd: serverRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // The child's CPU time, read while it runs: /proc forgets it once the child has exited.
  let cpuS = 0;
  const sampler = setInterval(() => {
    if (child.pid !== undefined) cpuS = Math.max(cpuS, processCpuS(child.pid));
  }, 100);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    // A replay of a broken file reports every bad line: keep the start and the end only.
    stderr = stderr.length > 64_000 ? `${stderr.slice(0, 16_000)}\n…\n${chunk}` : stderr + chunk;
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearInterval(sampler);
  return {
    code: code ?? (signal === null ? 1 : 128),
    wallMs: performance.now() - startedMs,
    cpuS,
    stdout,
    stderr,
  };
}

/** The commit benchmarked (the server's checkout), marked when it has uncommitted changes. */
export function gitCommit(root: string = serverRoot): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const changes = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
    });
    return changes.trim() === '' ? commit : `${commit} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}
