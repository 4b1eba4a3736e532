import { getTableColumns, type Table } from 'drizzle-orm';
import type postgres from 'postgres';
import type { PgDb } from './pg.js';

/*
 * Small pieces the PostgreSQL repositories share to build their queries with postgres.js tagged
 * templates. Rows must come back in the SQLite row shape, so column lists are taken from the
 * SQLite tables (schema.ts): a PostgreSQL-only column (runs.owner, runs.lease_epoch) never
 * leaks into a row, and a column added to both schemas is selected without another edit.
 */

/** The connection a query runs on: the current transaction's, or the pool (PgDb.q()). */
export type Q = ReturnType<PgDb['q']>;
/** A piece of SQL with its parameters, nested into a query by interpolation. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * The camelCase keys of a SQLite table's rows, prefixed by a table alias when given. Passed as
 * `q(keys)`, postgres.js writes them as snake_case identifiers (postgres.camel), and the row
 * comes back with the same camelCase keys.
 */
export function rowKeys(table: Table, alias?: string): string[] {
  const keys = Object.keys(getTableColumns(table));
  return alias ? keys.map((k) => `${alias}.${k}`) : keys;
}

/**
 * The keys whose value is not undefined: drizzle's insert/update skip undefined values (the
 * column keeps its default or its value), and postgres.js would refuse them.
 */
export function definedKeys<T extends object>(values: T): Array<keyof T & string> {
  return (Object.keys(values) as Array<keyof T & string>).filter((k) => values[k] !== undefined);
}

/** The conditions joined by AND; TRUE when there are none. */
export function and(q: Q, conds: Fragment[]): Fragment {
  return conds.reduce((acc, c) => q`${acc} AND (${c})`, q`TRUE`);
}

/** The conditions joined by OR; FALSE when there are none. */
export function or(q: Q, conds: Fragment[]): Fragment {
  return conds.reduce((acc, c) => q`${acc} OR (${c})`, q`FALSE`);
}

/**
 * ASCII-only lower case, as SQLite's lower(): PostgreSQL's lower() follows the database locale
 * and would also fold É to é, matching searches the SQLite store does not.
 */
export const asciiLower = (q: Q, col: Fragment): Fragment => q`translate(${col}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;

/**
 * A bytea[] parameter as its array literal (hex elements), cast in the statement. postgres.js
 * sends parameters as text too, but scans each element's hex twice for characters to escape,
 * of which hex has none (about 5% of the server's CPU at full ingest).
 */
export function byteaArray(bufs: readonly Buffer[]): string {
  let out = '{';
  for (let i = 0; i < bufs.length; i++) out += `${i === 0 ? '' : ','}"\\\\x${(bufs[i] as Buffer).toString('hex')}"`;
  return `${out}}`;
}
