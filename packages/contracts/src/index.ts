export * from './money.ts';
export * from './events.ts';
export * from './decisions.ts';
export * from './errors.ts';
export * from './api.ts';
export * from './console.ts';
export * from './reviews.ts';
