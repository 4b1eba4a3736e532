export * from './numbers.js';
export * from './run.js';
export * from './alert.js';
export * from './series.js';
export * from './rest.js';
export * from './protocol/ingest.js';
export * from './protocol/live.js';
export * from './tokens.js';
