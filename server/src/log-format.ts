import type { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v']);

/**
 * One pino JSON line as a person reads it on a terminal: "12:00:01 INFO  message key=value".
 * Machines (files, pipes, containers) keep the JSON lines.
 */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '';
  const extra = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => (k === 'err' && typeof v === 'object' && v !== null && 'stack' in v ? `\n${String((v as { stack: unknown }).stack)}` : ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`))
    .join('');
  return `${time} ${LEVELS[o.level as number] ?? String(o.level)} ${String(o.msg ?? '')}${extra}\n`;
}

/** A destination for pino that writes pretty lines to `out`. */
export function prettyStream(out: Writable): { write(line: string): void } {
  return { write: (line: string) => void out.write(prettyLine(line.trimEnd())) };
}
