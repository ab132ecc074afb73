import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ErrorCode } from '@bulwark/contracts';
import type { Locale } from '../../verify/domain/messages.ts';
import { codeMethods, sendMethods, type SendMethod } from '../../verify/domain/methods.ts';
import { tokenLengthMax } from '../../verify/domain/tokens.ts';
import {
  alertHeading,
  answerButtons,
  codeForm,
  contentSecurityPolicy,
  details,
  errorBox,
  escapeHtml,
  notice,
  page,
  pageText,
  passkeyScript,
  sendForm,
} from '../../verify/html.ts';
import type { ChallengeView, VerificationService, VerifyFailure } from '../../verify/service.ts';
import { sendError } from '../app.ts';
import { statusOf } from '../errors.ts';
import { answer, parseOr } from './challenges.ts';

const tokenParams = z.object({ token: z.string().min(1).max(tokenLengthMax) });
const sendForm_ = z.object({ method: z.enum(sendMethods) });
const codeForm_ = z.object({ method: z.enum(codeMethods), code: z.string().max(200) });
const alertForm = z.object({ answer: z.enum(['this_was_me', 'not_me']) });
const confirmForm = z.object({ answer: z.enum(['approve', 'not_me']) });
const responseBody = z.object({ response: z.record(z.string(), z.unknown()) });

/** Public paths: reached by the shopper through signed links, never with the store's API key. */
export const publicPagePrefix = '/pages/';

function localeOf(request: FastifyRequest): Locale {
  const asked = (request.query as { lang?: unknown } | undefined)?.lang;
  if (asked === 'ja' || asked === 'en') return asked;
  const header = request.headers['accept-language'];
  return typeof header === 'string' && header.trim().toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

/**
 * The hosted pages (challenge, enrolment, alert landing, "was this you?", e-mail link). Each is
 * addressed by a signed token; GET only shows, POST acts, so a mail scanner opening a link
 * changes nothing. Every request counts against the per-address limit.
 */
export function registerPageRoutes(
  app: FastifyInstance,
  deps: { verification: VerificationService; storeName: string },
): void {
  const { verification, storeName } = deps;

  app.register((scope, _options, done) => {
    // HTML forms post url-encoded bodies; only these routes accept them.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_request, body, parsed) => {
        const textBody = typeof body === 'string' ? body : body.toString('utf8');
        parsed(null, Object.fromEntries(new URLSearchParams(textBody)));
      },
    );
    scope.addHook('preHandler', async (request, reply) => {
      const allowed = await verification.allowIp(request.ip);
      if (!allowed.ok) return sendError(reply, allowed.error.code, allowed.error.message);
      return undefined;
    });

    const render = (
      request: FastifyRequest,
      reply: FastifyReply,
      build: (
        t: ReturnType<typeof pageText>,
        locale: Locale,
      ) => { title: string; body: string; script?: string },
      status = 200,
    ): FastifyReply => {
      const locale = localeOf(request);
      const nonce = randomBytes(16).toString('base64');
      const built = build(pageText(locale), locale);
      const path = request.url.split('?')[0] ?? '';
      const html = page({
        locale,
        storeName,
        nonce,
        title: built.title,
        body: built.body,
        otherLanguageHref: `${path}?lang=${locale === 'ja' ? 'en' : 'ja'}`,
        ...(built.script === undefined ? {} : { script: built.script }),
      });
      return reply
        .code(status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', contentSecurityPolicy(nonce))
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .send(html);
    };

    const failure = (request: FastifyRequest, reply: FastifyReply, error: VerifyFailure): FastifyReply =>
      render(
        request,
        reply,
        (t) => ({
          title: t.errorTitle,
          body: `${errorBox(error.message)}<p><small>${error.code}</small></p>`,
        }),
        statusOf[error.code],
      );

    const invalid = (
      request: FastifyRequest,
      reply: FastifyReply,
      code: ErrorCode = 'TOKEN_INVALID',
    ): FastifyReply =>
      failure(request, reply, { code, message: 'this link is not valid (it may be incomplete or altered)' });

    const withLang = (request: FastifyRequest, path: string): string => `${path}?lang=${localeOf(request)}`;

    // ---- challenge page ----
    const challengePage = (
      request: FastifyRequest,
      reply: FastifyReply,
      token: string,
      view: ChallengeView,
      extra: { message?: string; error?: string; codeFor?: SendMethod },
    ): FastifyReply =>
      render(request, reply, (t) => {
        const base = `/pages/challenge/${token}`;
        if (view.status !== 'pending') {
          const message =
            view.status === 'passed' ? t.passed : view.status === 'failed' ? t.failed : t.closed;
          return {
            title: t.challengeTitle,
            body: extra.message === undefined ? notice(message) : notice(extra.message),
          };
        }
        const parts: string[] = [`<p>${escapeHtml(t.challengeIntro)}</p>`];
        if (extra.error !== undefined) parts.push(errorBox(extra.error));
        if (extra.message !== undefined) parts.push(notice(extra.message));
        let script: string | undefined;
        for (const method of view.available) {
          const section: string[] = [];
          switch (method) {
            case 'passkey':
              section.push(
                `<button type="button" id="passkey">${escapeHtml(t.passkey)}</button><p id="passkey-status" role="status" aria-live="polite"></p>`,
              );
              script = passkeyScript(`${base}/passkey/options`, `${base}/passkey/verify`, 'get', t);
              break;
            case 'totp':
              section.push(codeForm(withLang(request, `${base}/verify`), 'totp', t.totp, t));
              break;
            case 'email_otp':
            case 'sms_otp':
              section.push(sendForm(withLang(request, `${base}/send`), method, t[method]));
              if (extra.codeFor === method)
                section.push(codeForm(withLang(request, `${base}/verify`), method, t[method], t));
              break;
            case 'email_link':
            case 'device_confirmation':
              section.push(sendForm(withLang(request, `${base}/send`), method, t[method]));
              break;
          }
          parts.push(
            `<section class="method" aria-label="${escapeHtml(method)}">${section.join('\n')}</section>`,
          );
        }
        if (view.available.length === 0) parts.push(notice(t.noMethods));
        return {
          title: t.challengeTitle,
          body: parts.join('\n'),
          ...(script === undefined ? {} : { script }),
        };
      });

    const challengeOfToken = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return { reply: invalid(request, reply) };
      const described = await verification.describeChallengeToken('page', params.data.token);
      if (!described.ok) return { reply: failure(request, reply, described.error) };
      return { token: params.data.token, ...described.value };
    };

    scope.get('/pages/challenge/:token', async (request, reply) => {
      const found = await challengeOfToken(request, reply);
      if ('reply' in found) return found.reply;
      return challengePage(request, reply, found.token, found.view, {});
    });

    scope.post('/pages/challenge/:token/send', async (request, reply) => {
      const found = await challengeOfToken(request, reply);
      if ('reply' in found) return found.reply;
      const form = sendForm_.safeParse(request.body ?? {});
      if (!form.success)
        return failure(request, reply, { code: 'INVALID_PARAMETER', message: 'choose a method' });
      const sent = await verification.send(found.record.challengeId, form.data.method, {
        locale: localeOf(request),
      });
      const t = pageText(localeOf(request));
      if (!sent.ok)
        return challengePage(request, reply, found.token, found.view, { error: sent.error.message });
      const codeSent = form.data.method === 'email_otp' || form.data.method === 'sms_otp';
      return challengePage(request, reply, found.token, found.view, {
        message: codeSent ? t.sentCode(sent.value.sentTo) : t.sentLink(sent.value.sentTo),
        ...(codeSent ? { codeFor: form.data.method } : {}),
      });
    });

    scope.post('/pages/challenge/:token/verify', async (request, reply) => {
      const found = await challengeOfToken(request, reply);
      if ('reply' in found) return found.reply;
      const form = codeForm_.safeParse(request.body ?? {});
      if (!form.success)
        return failure(request, reply, { code: 'INVALID_PARAMETER', message: 'enter the code' });
      const checked = await verification.verifyCode(
        found.record.challengeId,
        form.data.method,
        form.data.code,
      );
      const after = await verification.view(found.record.challengeId);
      const view = after.ok ? after.value : found.view;
      if (!checked.ok) {
        const codeFor = form.data.method === 'totp' ? undefined : form.data.method;
        return challengePage(request, reply, found.token, view, {
          error: `${checked.error.message} (${checked.error.code})`,
          ...(codeFor === undefined ? {} : { codeFor }),
        });
      }
      return challengePage(request, reply, found.token, view, {});
    });

    scope.post('/pages/challenge/:token/passkey/options', async (request, reply) => {
      const params = parseOr(tokenParams, request.params, reply);
      if (params === undefined) return reply;
      const described = await verification.describeChallengeToken('page', params.token);
      if (!described.ok) return answer(reply, described);
      return answer(reply, await verification.passkeyOptions(described.value.record.challengeId));
    });

    scope.post('/pages/challenge/:token/passkey/verify', async (request, reply) => {
      const params = parseOr(tokenParams, request.params, reply);
      const body = params && parseOr(responseBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      const described = await verification.describeChallengeToken('page', params.token);
      if (!described.ok) return answer(reply, described);
      return answer(
        reply,
        await verification.passkeyVerify(described.value.record.challengeId, body.response),
      );
    });

    // ---- enrolment page ----
    const enrolAccount = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return { reply: invalid(request, reply) };
      const read = await verification.readToken('enrol', params.data.token, false);
      if (!read.ok) return { reply: failure(request, reply, read.error) };
      return { token: params.data.token, accountId: read.value.sub };
    };

    const enrolPage = async (
      request: FastifyRequest,
      reply: FastifyReply,
      token: string,
      accountId: string,
      extra: { error?: string },
    ): Promise<FastifyReply> => {
      const base = `/pages/enrol/${token}`;
      const t = pageText(localeOf(request));
      let totpSection: string;
      if (await verification.hasConfirmedTotp(accountId)) {
        totpSection = notice(t.totpDone);
      } else {
        const enrolment = await verification.totpEnrol(accountId);
        totpSection = enrolment.ok
          ? `<p>${escapeHtml(t.totpIntro)}</p>
<img alt="${escapeHtml(t.totpQrAlt)}" width="200" height="200" src="data:image/svg+xml;base64,${Buffer.from(enrolment.value.qrSvg).toString('base64')}">
<p>${escapeHtml(t.totpKey)}: <code id="totp-secret">${escapeHtml(enrolment.value.secret)}</code></p>
${extra.error === undefined ? '' : errorBox(extra.error)}
${codeForm(withLang(request, `${base}/totp`), 'totp', t.totp, t)}`
          : errorBox(enrolment.error.message);
      }
      return render(request, reply, (tt) => ({
        title: tt.enrolTitle,
        body: `<section aria-labelledby="totp-h"><h2 id="totp-h">${escapeHtml(tt.totpHeading)}</h2>${totpSection}</section>
<section aria-labelledby="passkey-h"><h2 id="passkey-h">${escapeHtml(tt.passkeyHeading)}</h2><p>${escapeHtml(tt.passkeyIntro)}</p>
<button type="button" id="passkey">${escapeHtml(tt.passkeyCreate)}</button><p id="passkey-status" role="status" aria-live="polite"></p></section>`,
        script: passkeyScript(`${base}/passkey/options`, `${base}/passkey/register`, 'create', tt),
      }));
    };

    scope.get('/pages/enrol/:token', async (request, reply) => {
      const found = await enrolAccount(request, reply);
      if ('reply' in found) return found.reply;
      return enrolPage(request, reply, found.token, found.accountId, {});
    });

    scope.post('/pages/enrol/:token/totp', async (request, reply) => {
      const found = await enrolAccount(request, reply);
      if ('reply' in found) return found.reply;
      const form = codeForm_.safeParse(request.body ?? {});
      const code = form.success ? form.data.code : undefined;
      const confirmed = await verification.totpConfirm(found.accountId, code);
      return enrolPage(
        request,
        reply,
        found.token,
        found.accountId,
        confirmed.ok ? {} : { error: confirmed.error.message },
      );
    });

    scope.post('/pages/enrol/:token/passkey/options', async (request, reply) => {
      const params = parseOr(tokenParams, request.params, reply);
      if (params === undefined) return reply;
      const read = await verification.readToken('enrol', params.token, false);
      if (!read.ok) return answer(reply, read);
      return verification.passkeyRegistrationOptions(read.value.sub);
    });

    scope.post('/pages/enrol/:token/passkey/register', async (request, reply) => {
      const params = parseOr(tokenParams, request.params, reply);
      const body = params && parseOr(responseBody, request.body ?? {}, reply);
      if (params === undefined || body === undefined) return reply;
      const read = await verification.readToken('enrol', params.token, false);
      if (!read.ok) return answer(reply, read);
      return answer(reply, await verification.passkeyRegister(read.value.sub, body.response));
    });

    // ---- alert landing page ----
    scope.get('/pages/alert/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const alert = await verification.describeAlert(params.data.token);
      if (!alert.ok) return failure(request, reply, alert.error);
      const locale = localeOf(request);
      return render(request, reply, (t) => {
        const a = alert.value;
        const rows: [string, string][] = [[t.time, a.detail.at ?? '']];
        if (a.detail.device !== undefined) rows.push([t.device, a.detail.device]);
        if (a.detail.place !== undefined) rows.push([t.place, a.detail.place]);
        const answered = a.answer === undefined ? '' : notice(a.answer === 'not_me' ? t.secured : t.thanks);
        return {
          title: t.alertTitle,
          body: `<h2>${escapeHtml(alertHeading(a.kind, a.detail.field, locale))}</h2>${details(rows)}${answered}${
            a.answer === undefined
              ? answerButtons(withLang(request, `/pages/alert/${params.data.token}`), [
                  { value: 'not_me', label: t.notMe, kind: 'danger' },
                  { value: 'this_was_me', label: t.wasMe, kind: 'secondary' },
                ])
              : ''
          }`,
        };
      });
    });

    scope.post('/pages/alert/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const form = alertForm.safeParse(request.body ?? {});
      if (!form.success)
        return failure(request, reply, { code: 'INVALID_PARAMETER', message: 'choose an answer' });
      const answered = await verification.answerAlert(params.data.token, form.data.answer);
      if (!answered.ok) return failure(request, reply, answered.error);
      return render(request, reply, (t) => ({
        title: t.alertTitle,
        body: notice(form.data.answer === 'not_me' ? t.secured : t.thanks),
      }));
    });

    // ---- "was this you?" ----
    scope.get('/pages/confirm/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const described = await verification.describeChallengeToken('confirm', params.data.token);
      if (!described.ok) return failure(request, reply, described.error);
      const { record, view } = described.value;
      return render(request, reply, (t, locale) => ({
        title: t.confirmTitle,
        body:
          view.status !== 'pending'
            ? notice(t.closed)
            : `${details([
                [t.device, record.device],
                [t.place, verification.describePlace(record.ip, locale)],
                [t.time, new Date(record.createdAtMs).toISOString()],
              ])}${answerButtons(withLang(request, `/pages/confirm/${params.data.token}`), [
                { value: 'approve', label: t.wasMe, kind: '' },
                { value: 'not_me', label: t.notMe, kind: 'danger' },
              ])}`,
      }));
    });

    scope.post('/pages/confirm/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const form = confirmForm.safeParse(request.body ?? {});
      if (!form.success)
        return failure(request, reply, { code: 'INVALID_PARAMETER', message: 'choose an answer' });
      const answered = await verification.answerConfirmation(params.data.token, form.data.answer);
      if (!answered.ok) return failure(request, reply, answered.error);
      return render(request, reply, (t) => ({
        title: t.confirmTitle,
        body: notice(answered.value.result === 'passed' ? t.passed : t.secured),
      }));
    });

    // ---- e-mail link ----
    scope.get('/pages/link/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const described = await verification.describeChallengeToken('email_link', params.data.token);
      if (!described.ok) return failure(request, reply, described.error);
      return render(request, reply, (t) => ({
        title: t.linkTitle,
        body:
          described.value.view.status !== 'pending'
            ? notice(t.closed)
            : `<p>${escapeHtml(t.linkIntro)}</p>${answerButtons(
                withLang(request, `/pages/link/${params.data.token}`),
                [{ value: 'confirm', label: t.confirm, kind: '' }],
              )}`,
      }));
    });

    scope.post('/pages/link/:token', async (request, reply) => {
      const params = tokenParams.safeParse(request.params);
      if (!params.success) return invalid(request, reply);
      const used = await verification.useEmailLink(params.data.token);
      if (!used.ok) return failure(request, reply, used.error);
      return render(request, reply, (t) => ({ title: t.linkTitle, body: notice(t.passed) }));
    });

    done();
  });
}
