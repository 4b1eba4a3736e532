export * from './params.js';
export * from './alerts.js';
export * from './runs.js';
export * from './series.js';
export * from './webhooks.js';
export * from './rules.js';
export * from './projects.js';
