import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../config/config.ts';
import { compileOperatorLists, OperatorListError } from '../../risk/domain/login/lists.ts';
import { defaultOperatorLists, type OperatorLists } from '../../risk/domain/login/policy.ts';

const entries = z.array(z.string().min(1).max(200)).max(100_000).default([]);
const listsSchema = z.strictObject({
  networksDenied: entries,
  networksAllowed: entries,
  devicesDenied: entries,
  devicesAllowed: entries,
});

/**
 * Reads the operator's allow/deny lists (BULWARK_LOGIN_LISTS_FILE, or `--login-lists` for
 * replay): `{ "networksDenied": ["198.51.100.0/24"], "networksAllowed": [], "devicesDenied": [],
 * "devicesAllowed": [] }`. A missing or malformed file refuses to start, naming the problem.
 */
export function readOperatorLists(path: string | undefined): OperatorLists {
  if (path === undefined) return defaultOperatorLists;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(
      `login lists file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = listsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `login lists file ${path}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`,
    );
  }
  try {
    compileOperatorLists(parsed.data);
  } catch (error) {
    if (error instanceof OperatorListError)
      throw new ConfigError(`login lists file ${path}: ${error.message}`);
    throw error;
  }
  return parsed.data;
}
