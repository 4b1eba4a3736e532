/**
 * The TypeBox-free entry of the shared package: what the dashboard and the clients import at
 * run time (number markers, series names, error codes). Types come from the schema entry as
 * type-only exports, so no schema library reaches a browser bundle.
 */
export * from './numbers.js';
export * from './series.js';
export * from './errors.js';
export * from './verdict.js';
export * from './columns.js';
