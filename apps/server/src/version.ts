/** The service version, reported by the OpenAPI document and `bulwark --version`. */
export const version = '0.1.0';
