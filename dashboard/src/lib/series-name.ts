export interface ParsedName {
  kind: 'scalar' | 'layer' | 'inputs' | 'eval' | 'derived';
  layer?: string;
  of?: string;
  stat?: string;
}

/**
 * Splits a series name (docs/protocol.md "Series names"). Mirrors the shared package's
 * parseSeries, kept here so the browser bundle does not import its runtime schemas.
 * Layer names may hold "/": the last one or two segments are the stat.
 */
export function parseSeriesName(name: string): ParsedName {
  if (name.startsWith('layer/')) {
    const rest = name.slice(6);
    if (rest.endsWith('/update_ratio')) return { kind: 'layer', layer: rest.slice(0, -13), stat: 'update_ratio' };
    const parts = rest.split('/');
    const stat = parts.pop();
    const of = parts.pop();
    return { kind: 'layer', layer: parts.join('/'), ...(of !== undefined ? { of } : {}), ...(stat !== undefined ? { stat } : {}) };
  }
  if (name.startsWith('inputs/')) return { kind: 'inputs', stat: name.slice(7) };
  if (name.startsWith('eval/')) return { kind: 'eval', stat: name.slice(5) };
  if (name.startsWith('derived/')) return { kind: 'derived', stat: name.slice(8) };
  return { kind: 'scalar', stat: name };
}
