import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { bulwarkBin, runToEnd } from './children.ts';
import { LoginTraffic, eventJson, seededRandom } from './events.ts';

/** Lines joined before one write: large writes keep generation I/O cheap. */
const linesPerWrite = 5000;

async function writeChunk(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/**
 * Writes the same login traffic as a recorded file: `at` moves forward by a random gap (mean
 * 0.5 s, so a million lines span about six days and the velocity windows slide), and the first
 * `startupLines` lines also go to a second file for timing process start.
 */
export async function writeReplayFiles(options: {
  path: string;
  startupPath: string;
  lines: number;
  startupLines: number;
  accountsCount: number;
  seed: number;
}): Promise<{ bytes: number; generateMs: number }> {
  const startedMs = performance.now();
  const traffic = new LoginTraffic({ accountsCount: options.accountsCount, seed: options.seed });
  const gaps = seededRandom(options.seed + 1);
  const main = createWriteStream(options.path);
  const startup = createWriteStream(options.startupPath);
  let atMs = Date.UTC(2026, 10, 1);
  let chunk: string[] = [];
  const startupText: string[] = [];
  for (let i = 0; i < options.lines; i += 1) {
    atMs += Math.floor(-Math.log(1 - gaps()) * 500);
    const line = eventJson(JSON.stringify(traffic.next()).slice(1), `r_${i}`, new Date(atMs).toISOString());
    chunk.push(line);
    if (i < options.startupLines) startupText.push(line);
    if (chunk.length === linesPerWrite) {
      await writeChunk(main, `${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  startup.end(startupText.length === 0 ? '' : `${startupText.join('\n')}\n`);
  main.end(chunk.length === 0 ? '' : `${chunk.join('\n')}\n`);
  await Promise.all([once(main, 'finish'), once(startup, 'finish')]);
  return { bytes: statSync(options.path).size, generateMs: performance.now() - startedMs };
}

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path)) {
    const buffer = chunk as Buffer;
    for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines += 1;
  }
  return lines;
}

export interface ReplayRun {
  lines: number;
  wallMs: number;
  /** CPU seconds the replay process used (sampled every 100 ms, so up to that much short). */
  cpuS: number;
  exitCode: number;
  /** The CLI's own closing line, e.g. "replayed 1000000 lines: 1000000 decisions, 0 errors". */
  summary: string;
  decided: number;
  errors: number;
  outputLines: number;
}

/** Times `bulwark replay IN --out OUT` end to end, then checks one decision line per input line. */
export async function timeReplay(
  inputPath: string,
  lines: number,
  workDir: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: readonly string[],
): Promise<ReplayRun> {
  const outputPath = join(workDir, `decisions-${lines}.jsonl`);
  const run = await runToEnd(
    process.execPath,
    [...nodeArgs, bulwarkBin, 'replay', inputPath, '--out', outputPath],
    env,
  );
  const summary = /replayed (\d+) lines: (\d+) decisions, (\d+) errors/.exec(run.stderr);
  return {
    lines,
    wallMs: run.wallMs,
    cpuS: run.cpuS,
    exitCode: run.code,
    summary: summary?.[0] ?? run.stderr.trim().split('\n').slice(-3).join(' | '),
    decided: Number(summary?.[2] ?? -1),
    errors: Number(summary?.[3] ?? -1),
    outputLines: run.code === 0 ? await countLines(outputPath) : 0,
  };
}
