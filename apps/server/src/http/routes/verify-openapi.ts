/** OpenAPI entries of the verification routes (routes/challenges.ts, passwords.ts); docs/verification.md has the detail. */
export function verifyOpenApiPaths(
  errorResponse: (description: string) => Record<string, unknown>,
): Record<string, unknown> {
  const object = { 'application/json': { schema: { type: 'object' } } };
  const ok = (description: string) => ({ description, content: object });
  const challengeParameter = [
    { name: 'challengeId', in: 'path', required: true, schema: { type: 'string' } },
  ];
  const accountParameter = [{ name: 'accountId', in: 'path', required: true, schema: { type: 'string' } }];
  const post = (summary: string, parameters: unknown[], answer: string, errors: string) => ({
    post: {
      summary,
      parameters,
      requestBody: { content: object },
      responses: { '200': ok(answer), '4XX': errorResponse(errors) },
    },
  });
  return {
    '/v1/challenges/{challengeId}': {
      get: {
        summary:
          'A challenge from a `challenge` decision: status, methods, methods available, hosted page URL.',
        parameters: challengeParameter,
        responses: { '200': ok('The challenge.'), '404': errorResponse('Unknown challenge.') },
      },
    },
    '/v1/challenges/{challengeId}/send': post(
      'Send a code, link or "was this you?": {"method":"email_otp"|"sms_otp"|"email_link"|"device_confirmation"}.',
      challengeParameter,
      'Where it went (masked) and when it expires.',
      'METHOD_NOT_AVAILABLE, CHALLENGE_CLOSED, ATTEMPTS_EXCEEDED, RATE_LIMITED, DELIVERY_FAILED.',
    ),
    '/v1/challenges/{challengeId}/verify': post(
      'Check a code: {"method":"email_otp"|"sms_otp"|"totp","code":"123456"}. Passing records challenge.completed.',
      challengeParameter,
      '{"result":"passed"}',
      'CODE_INVALID, CODE_EXPIRED, CODE_REUSED, ATTEMPTS_EXCEEDED, CHALLENGE_CLOSED, INVALID_PARAMETER.',
    ),
    '/v1/challenges/{challengeId}/passkey/options': post(
      'WebAuthn authentication options for this challenge (each answers once).',
      challengeParameter,
      'PublicKeyCredentialRequestOptionsJSON.',
      'METHOD_NOT_AVAILABLE, CHALLENGE_CLOSED.',
    ),
    '/v1/challenges/{challengeId}/passkey/verify': post(
      'The WebAuthn assertion: {"response": AuthenticationResponseJSON}.',
      challengeParameter,
      '{"result":"passed"}',
      'WEBAUTHN_FAILED (replay, wrong origin or RP ID, bad signature, counter), CHALLENGE_CLOSED.',
    ),
    '/v1/accounts/{accountId}/channels': {
      put: {
        summary:
          'The owner\'s verified channels: {"email","phone" (E.164),"locale":"en"|"ja"}; null removes one.',
        parameters: accountParameter,
        requestBody: { content: object },
        responses: { '200': ok('The channels.'), '400': errorResponse('Invalid e-mail or phone.') },
      },
    },
    '/v1/accounts/{accountId}/totp': post(
      'Start TOTP enrolment: secret, otpauth:// URI, QR code (SVG).',
      accountParameter,
      'The enrolment.',
      'METHOD_NOT_AVAILABLE when an app is already confirmed.',
    ),
    '/v1/accounts/{accountId}/totp/confirm': post(
      'Confirm TOTP enrolment with a first code: {"code"}.',
      accountParameter,
      '{"confirmed":true}',
      'CODE_INVALID, CODE_REUSED.',
    ),
    '/v1/accounts/{accountId}/passkeys/options': post(
      'WebAuthn registration options.',
      accountParameter,
      'PublicKeyCredentialCreationOptionsJSON.',
      'INVALID_PARAMETER.',
    ),
    '/v1/accounts/{accountId}/passkeys': post(
      'Register a passkey: {"response": RegistrationResponseJSON}.',
      accountParameter,
      '{"credentialId"}',
      'WEBAUTHN_FAILED.',
    ),
    '/v1/accounts/{accountId}/enrolment-link': post(
      'A 30-minute signed link to the hosted enrolment page.',
      accountParameter,
      '{"url","expiresAt"}',
      'INVALID_PARAMETER.',
    ),
    '/v1/passwords/check': post(
      'NIST SP 800-63B check: {"password","context"?: [words]} → {"acceptable","problems"}.',
      [],
      'The verdict.',
      'INVALID_PARAMETER.',
    ),
    '/range/{prefix}': {
      get: {
        summary:
          'Pwned Passwords range API (k-anonymity): SUFFIX:COUNT lines for a 5-hex-digit SHA-1 prefix.',
        security: [],
        parameters: [
          {
            name: 'prefix',
            in: 'path',
            required: true,
            schema: { type: 'string', pattern: '^[0-9A-Fa-f]{5}$' },
          },
        ],
        responses: {
          '200': {
            description: 'text/plain lines.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '400': errorResponse('Not 5 hexadecimal digits.'),
        },
      },
    },
  };
}
