import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../src/log-format.js';

describe('terminal log lines', () => {
  it('shows time, level, message and fields; passes non-JSON through', () => {
    const line = prettyLine(JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 0, 1), pid: 1, hostname: 'h', msg: 'disk low', free: 3 }));
    expect(line).toBe('12:00:01 WARN  disk low free=3\n');
    expect(prettyLine('not json')).toBe('not json');
  });
});
