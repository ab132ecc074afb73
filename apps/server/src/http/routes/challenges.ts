import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { codeMethods, sendMethods } from '../../verify/domain/methods.ts';
import type { VerificationService, VerifyResult } from '../../verify/service.ts';
import { sendError } from '../app.ts';

const challengeParams = z.object({ challengeId: z.string().min(1).max(128) });
const accountParams = z.object({ accountId: z.string().min(1).max(1024) });
const locale = z.enum(['en', 'ja']);
const sendBody = z.object({ method: z.enum(sendMethods), locale: locale.optional() });
// The code itself is read by the use case, which names malformed and over-long codes apart.
const verifyBody = z.object({ method: z.enum(codeMethods), code: z.unknown() });
const responseBody = z.object({ response: z.record(z.string(), z.unknown()) });
const codeBody = z.object({ code: z.unknown() });
const channelsBody = z.object({
  email: z.email().max(320).nullable().optional(),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, { error: 'must be E.164, e.g. +819012345678' })
    .nullable()
    .optional(),
  locale: locale.optional(),
});

function firstIssue(error: z.ZodError): { field: string | undefined; message: string } {
  const issue = error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
  return { field, message: `${field ?? 'request'}: ${issue?.message ?? 'is invalid'}` };
}

/** Parses or answers the error; undefined means the error was sent. */
export function parseOr<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const { field, message } = firstIssue(parsed.error);
  void sendError(reply, 'INVALID_PARAMETER', message, field);
  return undefined;
}

export function answer<T>(reply: FastifyReply, result: VerifyResult<T>): T | FastifyReply {
  if (result.ok) return result.value;
  return sendError(reply, result.error.code, result.error.message, result.error.field);
}

/**
 * The store-facing verification API (API key required): challenges from decisions, owner
 * channels, TOTP and passkey enrolment. Every route counts against the per-address limit.
 */
export function registerChallengeRoutes(app: FastifyInstance, verification: VerificationService): void {
  app.register((scope, _options, done) => {
    scope.addHook('preHandler', async (request, reply) => {
      const allowed = await verification.allowIp(request.ip);
      if (!allowed.ok) return sendError(reply, allowed.error.code, allowed.error.message);
      return undefined;
    });

    scope.get('/v1/challenges/:challengeId', async (request, reply) => {
      const params = parseOr(challengeParams, request.params, reply);
      if (params === undefined) return reply;
      return answer(reply, await verification.view(params.challengeId));
    });

    scope.post('/v1/challenges/:challengeId/send', async (request, reply) => {
      const params = parseOr(challengeParams, request.params, reply);
      const body = params && parseOr(sendBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      return answer(
        reply,
        await verification.send(
          params.challengeId,
          body.method,
          body.locale === undefined ? {} : { locale: body.locale },
        ),
      );
    });

    scope.post('/v1/challenges/:challengeId/verify', async (request, reply) => {
      const params = parseOr(challengeParams, request.params, reply);
      const body = params && parseOr(verifyBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      return answer(reply, await verification.verifyCode(params.challengeId, body.method, body.code));
    });

    scope.post('/v1/challenges/:challengeId/passkey/options', async (request, reply) => {
      const params = parseOr(challengeParams, request.params, reply);
      if (params === undefined) return reply;
      return answer(reply, await verification.passkeyOptions(params.challengeId));
    });

    scope.post('/v1/challenges/:challengeId/passkey/verify', async (request, reply) => {
      const params = parseOr(challengeParams, request.params, reply);
      const body = params && parseOr(responseBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      return answer(reply, await verification.passkeyVerify(params.challengeId, body.response));
    });

    scope.put('/v1/accounts/:accountId/channels', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      const body = params && parseOr(channelsBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      const saved = await verification.setChannels(params.accountId, body);
      return {
        accountId: saved.accountId,
        email: saved.email ?? null,
        phone: saved.phone ?? null,
        locale: saved.locale,
      };
    });

    scope.post('/v1/accounts/:accountId/totp', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      if (params === undefined) return reply;
      return answer(reply, await verification.totpEnrol(params.accountId));
    });

    scope.post('/v1/accounts/:accountId/totp/confirm', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      const body = params && parseOr(codeBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      return answer(reply, await verification.totpConfirm(params.accountId, body.code));
    });

    scope.post('/v1/accounts/:accountId/passkeys/options', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      if (params === undefined) return reply;
      return verification.passkeyRegistrationOptions(params.accountId);
    });

    scope.post('/v1/accounts/:accountId/passkeys', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      const body = params && parseOr(responseBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      return answer(reply, await verification.passkeyRegister(params.accountId, body.response));
    });

    scope.post('/v1/accounts/:accountId/enrolment-link', async (request, reply) => {
      const params = parseOr(accountParams, request.params, reply);
      if (params === undefined) return reply;
      return verification.enrolmentLink(params.accountId);
    });
    done();
  });
}
