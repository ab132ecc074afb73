import { createHash } from 'node:crypto';

/**
 * The e-mail Message-ID for an idempotency key: the same key always gives the same id, so a
 * message re-sent after a lost answer is recognisably the same message (mail clients collapse
 * duplicates by Message-ID). The key is hashed: it names internal ids that recipients need not see.
 */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  const digest = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32);
  return `<${digest}@${domain}>`;
}
