import { describe, expect, it } from 'vitest';
import { matchRoute, paths } from './routes';

describe('routes', () => {
  it('round-trips every path', () => {
    expect(matchRoute(paths.runs())).toEqual({ name: 'runs' });
    expect(matchRoute(paths.run('r:1.a'))).toEqual({ name: 'run', id: 'r:1.a', tab: 'overview' });
    expect(matchRoute(paths.run('r1', 'layers'))).toEqual({ name: 'run', id: 'r1', tab: 'layers' });
    expect(matchRoute(paths.alert('r1', 42))).toEqual({ name: 'alert', runId: 'r1', alertId: 42 });
    expect(matchRoute('/alerts')).toEqual({ name: 'alerts' });
    expect(matchRoute('/compare')).toEqual({ name: 'compare' });
    expect(matchRoute('/runs/r1/nope')).toEqual({ name: 'notFound' });
  });

  it('builds compare links with runs and series', () => {
    expect(paths.compare(['a', 'b'], ['loss'])).toBe('/compare?runs=a%2Cb&series=loss');
  });
});
