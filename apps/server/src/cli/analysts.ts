import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { AnalystService, checkAnalystInput } from '../console/analysts.ts';
import { systemClock } from '../core/clock.ts';
import { openStorage } from '../main.ts';

type Io = { out: (text: string) => void; err: (text: string) => void };

export const analystsUsage =
  'usage: bulwark analysts create --name NAME --role viewer|analyst|admin [--password-stdin] [--data DIR]\n';

/**
 * `bulwark analysts create`: prints a generated one-time password (or takes one from standard
 * input with --password-stdin), and for admins the TOTP enrolment URI to scan.
 */
export async function analystsCommand(
  args: string[],
  configFrom: (values: { data?: string }) => Config,
  readStdin: () => Promise<string>,
  io: Io,
): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'create') {
    io.err(analystsUsage);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      data: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.name === undefined || values.role === undefined) {
    io.err(analystsUsage);
    return 2;
  }
  const password = values['password-stdin'] === true ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
  // Checked before the database is opened: a typo answers at once.
  const problem = checkAnalystInput({ name: values.name, role: values.role, password });
  if (problem !== undefined) {
    io.err(`analysts create: ${problem}\n`);
    return 2;
  }
  const storage = await openStorage(configFrom(values));
  try {
    const created = await new AnalystService({ store: storage.console, clock: systemClock }).create({
      name: values.name,
      role: values.role,
      ...(password === undefined ? {} : { password }),
    });
    if (!created.ok) {
      io.err(`analysts create: ${created.message}\n`);
      return created.reason === 'name_taken' ? 1 : 2;
    }
    io.out(`analyst "${values.name.trim()}" (${values.role}) created\n`);
    if (created.generatedPassword !== undefined) {
      io.out(`password (shown once, keep it): ${created.generatedPassword}\n`);
    }
    if (created.totp !== undefined) {
      io.out(`TOTP secret (add it to an authenticator app; shown once): ${created.totp.secret}\n`);
      io.out(`TOTP URI: ${created.totp.uri}\n`);
    }
    io.out('sign in at /console/ on the running server\n');
  } finally {
    await storage.close();
  }
  return 0;
}
