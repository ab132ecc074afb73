import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import type { Storage } from '../storage/ports.ts';
import { PasswordService } from './passwords.ts';

export const passwordsUsage =
  '  bulwark passwords import FILE [--data DIR]      a Pwned Passwords dump: SHA1:COUNT lines';

type Io = { out: (text: string) => void; err: (text: string) => void };

/** `bulwark passwords import FILE`: adds breached-password hashes to the blocklist and range API. */
export async function passwordsCommand(
  args: string[],
  configOf: (values: { data?: string }) => Config,
  openStorage: (config: Config) => Promise<Storage>,
  io: Io,
): Promise<number> {
  const [verb, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { data: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [path] = positionals;
  if (verb !== 'import' || path === undefined || positionals.length !== 1) {
    io.err(`usage:\n${passwordsUsage}\n`);
    return 2;
  }
  const input = createReadStream(path);
  // Fail on a missing file before touching the database.
  await Promise.race([
    once(input, 'open'),
    once(input, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  const storage = await openStorage(configOf(values));
  try {
    const service = new PasswordService({ store: storage.verification, common: new Map() });
    const lines = createInterface({ input, crlfDelay: Infinity });
    const { imported, skipped } = await service.importDump(lines);
    io.out(
      `imported ${String(imported)} password hashes${skipped === 0 ? '' : `, skipped ${String(skipped)} lines that are not SHA1:COUNT`}\n`,
    );
  } finally {
    await storage.close();
  }
  return 0;
}
