/** OpenAPI entries of the order-rule routes (routes/rules.ts); docs/order-risk.md has the detail. */
export function ruleOpenApiPaths(
  errorResponse: (description: string) => Record<string, unknown>,
): Record<string, unknown> {
  const object = { 'application/json': { schema: { type: 'object' } } };
  const ok = (description: string) => ({ description, content: object });
  const invalid = errorResponse(
    'RULES_INVALID: every problem with its rule, field, line and column in `problems`.',
  );
  const versionParameter = [{ name: 'version', in: 'path', required: true, schema: { type: 'integer' } }];
  const slot = (what: string) => ({
    post: {
      summary: `Set the ${what} rule set: {"version": N}, or {"version": null} to clear it. Takes effect at the next cycle.`,
      requestBody: { content: object },
      responses: {
        '200': ok('Rule status and the new policy version.'),
        '404': errorResponse('No such version.'),
      },
    },
  });
  return {
    '/v1/rules': {
      get: {
        summary: 'Active and shadow rule sets, model, policy version; saved versions.',
        responses: { '200': ok('Status.') },
      },
      post: {
        summary: 'Save a rule set as the next version (validated and type-checked; not yet active).',
        requestBody: { content: object },
        responses: { '201': ok('The saved version.'), '422': invalid },
      },
    },
    '/v1/rules/validate': {
      post: {
        summary: 'Validate a rule set without saving.',
        requestBody: { content: object },
        responses: { '200': ok('Valid.'), '422': invalid },
      },
    },
    '/v1/rules/active': {
      get: { summary: 'The active rule-set definition.', responses: { '200': ok('The definition.') } },
      ...slot('active'),
    },
    '/v1/rules/shadow': {
      get: {
        summary: 'Shadow verdicts so far: orders, disagreements, hits per rule.',
        responses: { '200': ok('Summary.') },
      },
      ...slot('shadow'),
    },
    '/v1/rules/{version}': {
      get: {
        summary: 'A saved rule set.',
        parameters: versionParameter,
        responses: { '200': ok('The version.'), '404': errorResponse('No such version.') },
      },
    },
    '/v1/rules/backtest': {
      post: {
        summary:
          'Backtest a rule set (or a saved version) against the active one over given or stored events and labels.',
        requestBody: { content: object },
        responses: {
          '200': ok('Per rule and per set: hits, precision, recall, money saved and blocked.'),
          '422': invalid,
        },
      },
    },
    '/v1/models': {
      post: {
        summary: 'Store and activate an order model (`bulwark model train --out`).',
        requestBody: { content: object },
        responses: {
          '200': ok('Rule status and the new policy version.'),
          '422': errorResponse('MODEL_INVALID.'),
        },
      },
    },
  };
}
