import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PasswordService } from '../../verify/passwords.ts';
import { FixedWindowLimiter } from '../../verify/domain/rate-limit.ts';
import type { Clock } from '../../core/clock.ts';
import { sendError } from '../app.ts';
import { parseOr } from './challenges.ts';

const checkBody = z.object({
  // Longer than any acceptable password, so the use case can name "too long" itself.
  password: z.string().max(4096),
  /** Words the password must not contain: the user's name, e-mail, the store's name. */
  context: z.array(z.string().max(320)).max(20).optional(),
});
const rangeParams = z.object({
  prefix: z.string().regex(/^[0-9A-Fa-f]{5}$/, { error: 'must be 5 hexadecimal digits' }),
});

/** Range queries from one address per minute: generous (a store checks every sign-up). */
const rangeLimit = { limit: 600, windowMs: 60_000, keysMax: 100_000 };

export function registerPasswordRoutes(
  app: FastifyInstance,
  deps: { passwords: PasswordService; clock: Clock },
): void {
  app.post('/v1/passwords/check', async (request, reply) => {
    const body = parseOr(checkBody, request.body ?? {}, reply);
    if (body === undefined) return reply;
    return deps.passwords.check(body.password, body.context ?? []);
  });

  // The Pwned Passwords range API (k-anonymity), public like the original, so existing clients
  // work pointed at this server: `GET /range/21BD1` → `SUFFIX:COUNT` lines.
  const limiter = new FixedWindowLimiter(rangeLimit);
  app.get('/range/:prefix', async (request, reply) => {
    const allowed = limiter.take(request.ip, deps.clock.now());
    if (!allowed.allowed)
      return sendError(reply, 'RATE_LIMITED', 'too many range requests from this address; wait a minute');
    const params = parseOr(rangeParams, request.params, reply);
    if (params === undefined) return reply;
    const mode = (request.query as { mode?: unknown } | undefined)?.mode;
    if (mode !== undefined && mode !== 'sha1')
      return sendError(reply, 'INVALID_PARAMETER', 'mode: only sha1 is served', 'mode');
    const padding = request.headers['add-padding'] === 'true';
    const text = await deps.passwords.range(params.prefix, { padding });
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(text);
  });
}
