import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A server process of the test's own (Debian's redis-server, nats-server), so a test can stop
 * and start it without touching the shared one. Ready once `probe` succeeds; the wait is bounded
 * (about 10 s) so a missing binary fails the test clearly.
 */
export class OwnServerProcess {
  #child: ChildProcess | undefined;
  readonly #command: string;
  readonly #args: readonly string[];
  readonly #probe: () => Promise<void>;

  constructor(command: string, args: readonly string[], probe: () => Promise<void>) {
    this.#command = command;
    this.#args = args;
    this.#probe = probe;
  }

  async start(): Promise<void> {
    const child = spawn(this.#command, this.#args, { stdio: 'ignore' });
    this.#child = child;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (child.exitCode !== null) throw new Error(`${this.#command} exited with ${String(child.exitCode)}`);
      try {
        await this.#probe();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error(`${this.#command} ${this.#args.join(' ')} did not start`);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}
