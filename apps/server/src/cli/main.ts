import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { migrateToLatest, openDatabase } from '../adapters/db/database.ts';
import { ApiKeys } from '../auth/api-keys.ts';
import { systemClock } from '../core/clock.ts';
import { createService, loadRiskPolicy, openStorage } from '../main.ts';
import { replay, type ReplaySummary } from '../sim/replay.ts';
import { replayWithStore } from '../sim/store-replay.ts';
import { evalCommand, simulateCommand, UsageError } from './login-commands.ts';
import { readOperatorLists } from '../adapters/login/operator-lists.ts';
import { AnalystService } from '../console/analysts.ts';
import { analystsCommand } from './analysts.ts';
import { modelCommand, rulesCommand, rulesUsage } from '../rules/cli.ts';
import { version } from '../version.ts';
import { passwordsCommand, passwordsUsage } from '../verify/cli.ts';
import { reconcileCommand, reconcileUsage } from './reconcile.ts';

const usage = `bulwark ${version}

Usage:
  bulwark start [--host 127.0.0.1] [--port 8080] [--data ./data] [--role all]   api|worker: docs/scaling.md
  bulwark migrate [--data DIR]
  bulwark keys create --name NAME [--data DIR]     prints the new key alone on stdout
  bulwark analysts create --name NAME --role viewer|analyst|admin [--password-stdin] [--data DIR]
  bulwark replay EVENTS.jsonl --out DECISIONS.jsonl [--login-lists FILE] [--enforcement observe]
                 [--threads 1|2]   2: lines are read and checked on a second thread (default for files over 16 MiB)
                 [--store sandbox --report REPORT.json]   the store acts too; containment runs on event time
  bulwark simulate logins --out EVENTS.jsonl --labels LABELS.jsonl [--seed N] [--users N] [--days N] [--attacks N]
  bulwark eval logins [--seed N] [--users N] [--days N] [--attacks N] [--out REPORT.md]
  bulwark eval rba FILE.csv                        the public RBA data set's CSV format
${reconcileUsage}
${rulesUsage}
${passwordsUsage}

DATABASE_URL (postgres://…) uses PostgreSQL instead of the embedded database in --data.
Every setting is also read from the environment: see the README's configuration table.
`;

type Io = { out: (text: string) => void; err: (text: string) => void };

const serverOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function configFrom(env: NodeJS.ProcessEnv, values: { host?: string; port?: string; data?: string }): Config {
  return loadConfig(env, { host: values.host, port: values.port, dataDir: values.data });
}

async function start(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...serverOptions, role: { type: 'string' } },
    strict: true,
  });
  const config = loadConfig(env, {
    host: values.host,
    port: values.port,
    dataDir: values.data,
    role: values.role,
  });
  const service = await createService(config);
  let firstKey: string | undefined;
  if (config.nodeEnv !== 'production' && (await service.apiKeys.countActive()) === 0) {
    firstKey = (await service.apiKeys.create('first-start')).key;
  }
  // A first admin too, so the console can be opened at once (stdout only, like the first key).
  let firstAdmin: Awaited<ReturnType<AnalystService['create']>> | undefined;
  if (config.nodeEnv !== 'production' && (await service.storage.console.countAnalysts()) === 0) {
    firstAdmin = await new AnalystService({ store: service.storage.console, clock: systemClock }).create({
      name: 'admin',
      role: 'admin',
    });
  }
  const url = await service.listen();
  const where =
    config.databaseUrl === undefined ? `embedded PGlite in ${config.dataDir}` : 'PostgreSQL (DATABASE_URL)';
  const role =
    config.role === 'all'
      ? ''
      : `, role ${config.role}, shared state in Redis, events through NATS JetStream stream ${config.streamName}`;
  io.out(`Bulwark ${version} is ready (${where}${role})\n`);
  io.out(`  API:      ${url}/v1/events\n`);
  io.out(`  OpenAPI:  ${url}/v1/openapi.json\n`);
  const signInHint =
    (await service.storage.console.countAnalysts()) > 0
      ? ''
      : '   (no analyst yet: stop, run `bulwark analysts create --name NAME --role admin`, start again)';
  io.out(`  Console:  ${url}/console/${signInHint}\n`);
  if (firstAdmin?.ok === true && firstAdmin.totp !== undefined) {
    io.out(
      `  First admin (shown once, keep it): sign in at ${url}/console/ as "admin" with password ${firstAdmin.generatedPassword ?? ''}\n` +
        `    and a code from an authenticator app holding the TOTP secret ${firstAdmin.totp.secret}\n` +
        `    (${firstAdmin.totp.uri}). More analysts: \`bulwark analysts create\`.\n`,
    );
  }
  io.out(`  Health:   ${url}/readyz   Metrics: ${url}/metrics\n`);
  if (firstKey !== undefined) {
    io.out(`  API key (shown once, keep it): ${firstKey}\n`);
  } else if ((await service.apiKeys.countActive()) === 0) {
    io.out('  No API key exists: create one with `bulwark keys create --name NAME`.\n');
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      service.logger.info({ signal }, 'draining');
      void service.stop().then(resolve, (error: unknown) => {
        service.logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  return 0;
}

async function migrate(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' } }, strict: true });
  const config = configFrom(env, values);
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await migrateToLatest(handle.db);
    io.out(applied.length === 0 ? 'the database is up to date\n' : `applied: ${applied.join(', ')}\n`);
  } finally {
    await handle.close();
  }
  return 0;
}

async function keys(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'create') {
    io.err('usage: bulwark keys create --name NAME [--data DIR]\n');
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, data: { type: 'string' } },
    strict: true,
  });
  if (values.name === undefined || values.name.trim().length === 0) {
    io.err('keys create needs --name NAME (what the key is for)\n');
    return 2;
  }
  const storage = await openStorage(configFrom(env, values));
  try {
    const created = await new ApiKeys(storage.apiKeys, systemClock).create(values.name.trim());
    io.out(`${created.key}\n`);
  } finally {
    await storage.close();
  }
  return 0;
}

/**
 * Files from this size on are read and checked on a second thread: below it, starting the thread
 * (some 0.3 s) costs more than it saves (about 35 ms per MiB on the 2-core dev machine).
 */
const replayTwoThreadsFromBytes = 16 * 1024 * 1024;

async function defaultReplayThreads(inputPath: string): Promise<1 | 2> {
  if (availableParallelism() < 2) return 1;
  const input = await stat(inputPath);
  return input.isFile() && input.size >= replayTwoThreadsFromBytes ? 2 : 1;
}

async function replayCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      store: { type: 'string' },
      report: { type: 'string' },
      'login-lists': { type: 'string' },
      enforcement: { type: 'string' },
      threads: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [inputPath] = positionals;
  const withStore = values.store !== undefined || values.report !== undefined;
  if (
    inputPath === undefined ||
    values.out === undefined ||
    positionals.length !== 1 ||
    (withStore && (values.store !== 'sandbox' || values.report === undefined)) ||
    (values.enforcement !== undefined &&
      values.enforcement !== 'enforce' &&
      values.enforcement !== 'observe') ||
    (values.threads !== undefined && values.threads !== '1' && values.threads !== '2') ||
    (withStore && values.threads === '2')
  ) {
    io.err(
      'usage: bulwark replay EVENTS.jsonl --out DECISIONS.jsonl [--login-lists FILE] [--threads 1|2] [--store sandbox --report REPORT.json] [--enforcement enforce|observe]\n' +
        '  (--threads 2 is for plain replay, not with --store)\n',
    );
    return 2;
  }
  const input = createReadStream(inputPath);
  // The output is created only once the input is known to open: a typo leaves no empty file.
  await Promise.race([
    once(input, 'open'),
    once(input, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  const output = createWriteStream(values.out);
  // The same operator lists as the server (BULWARK_LOGIN_LISTS_FILE) give the server's decisions.
  const loaded = loadRiskPolicy(readOperatorLists(values['login-lists']));
  const policy = values.enforcement === 'observe' ? { ...loaded, enforcement: 'observe' as const } : loaded;
  let summary: ReplaySummary;
  if (withStore && values.report !== undefined) {
    const result = await replayWithStore(input, output, (line) => io.err(`${line}\n`), { policy });
    summary = result.summary;
    await writeFile(values.report, `${JSON.stringify(result.report, null, 2)}\n`);
  } else {
    const threads =
      values.threads === undefined ? await defaultReplayThreads(inputPath) : values.threads === '2' ? 2 : 1;
    summary = await replay(input, output, (line) => io.err(`${line}\n`), policy, { threads });
  }
  output.end();
  await once(output, 'finish');
  io.err(`replayed ${summary.lines} lines: ${summary.decided} decisions, ${summary.errors} errors\n`);
  return 0;
}

/** Runs one CLI command; answers the exit status. Never lets a known failure become a stack trace. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(args, env, io);
      case 'migrate':
        return await migrate(args, env, io);
      case 'keys':
        return await keys(args, env, io);
      case 'analysts':
        return await analystsCommand(
          args,
          (values) => configFrom(env, values),
          async () => {
            const chunks: Buffer[] = [];
            for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
            return Buffer.concat(chunks).toString('utf8');
          },
          io,
        );
      case 'replay':
        return await replayCommand(args, io);
      case 'passwords':
        return await passwordsCommand(args, (values) => configFrom(env, values), openStorage, io);
      case 'reconcile':
        return await reconcileCommand(args, (values) => configFrom(env, values), openStorage, io);
      case 'rules':
        return rulesCommand(args, loadRiskPolicy, io);
      case 'model':
        return await modelCommand(args, loadRiskPolicy, (values) => configFrom(env, values), openStorage, io);
      case 'simulate':
        return await simulateCommand(args, io);
      case 'eval':
        return await evalCommand(args, io);
      case '--version':
        io.out(`${version}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(usage);
        return command === undefined ? 2 : 0;
      default:
        io.err(`unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`bulwark ${command ?? ''}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 78;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code?.startsWith('ERR_PARSE_ARGS_') === true) {
      io.err(`bulwark ${command ?? ''}: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const message = (error instanceof Error ? error.message : String(error)) + cause;
    io.err(`bulwark ${command ?? ''}: ${message}${code === undefined ? '' : ` (${code})`}\n`);
    return 1;
  }
}
