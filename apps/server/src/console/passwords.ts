import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/** argon2id with the library's defaults (m=19 MiB, t=2, p=1: OWASP's recommended minimum). */
export const passwordLengthMin = 12;
export const passwordLengthMax = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** A hash of a random password nobody knows, checked when the name is unknown (see below). */
export function decoyPasswordHash(): Promise<string> {
  return hash(randomBytes(32).toString('base64url'));
}

/**
 * Checks a password against a stored argon2id hash. With no hash (unknown analyst) it checks the
 * decoy instead, so a wrong name takes as long as a wrong password and answers the same.
 */
export async function verifyPassword(
  passwordHash: string | undefined,
  password: string,
  decoyHash: string,
): Promise<boolean> {
  const stored = passwordHash?.startsWith('$argon2id$') === true ? passwordHash : undefined;
  try {
    const matches = await verify(stored ?? decoyHash, password);
    return stored !== undefined && matches;
  } catch {
    return false;
  }
}

/** A generated one-time password: 24 characters from 18 random bytes (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
