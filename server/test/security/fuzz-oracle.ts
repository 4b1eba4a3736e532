/** What the server must hold after fuzzing: every acked value of every run, and nothing of what it rejected. */
import { expect } from 'vitest';
import type { RunModel } from './fuzz-ingest.js';

export async function checkStored(url: string, token: string, models: ReadonlyMap<string, RunModel>): Promise<number> {
  const auth = { headers: { authorization: `Bearer ${token}` } };
  const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`, auth);
    return { status: res.status, body: (res.status === 200 ? await res.json() : null) as T };
  };
  let checked = 0;
  for (const [run, m] of models) {
    const id = encodeURIComponent(run);
    const res = await get<{ steps: Array<[number]> }>(`/api/v1/runs/${id}/steps?limit=100000`);
    if (res.status === 404) {
      expect(m.steps.size, `${run} missing`).toBe(0);
      continue;
    }
    expect(new Set(res.body.steps.map((s) => s[0])), `steps of ${run}`).toEqual(m.steps);
    const series = (await get<{ series: Array<{ name: string; count: number }> }>(`/api/v1/runs/${id}/series`)).body.series;
    for (const s of series) {
      const want = m.scalars.get(s.name) ?? m.evals.get(s.name);
      if (want) expect(s.count, `${run} ${s.name}`).toBe(want.size);
      else {
        const fromLayer = s.name.startsWith('layer/') && [...m.layers].some((l) => s.name.startsWith(`layer/${l}/`));
        const ok = fromLayer || s.name.startsWith('inputs/') || s.name.startsWith('derived/') || (s.name.startsWith('eval/') && s.name.includes('/inputs/')) || s.count === 0;
        expect(ok, `${run}: series ${JSON.stringify(s.name)} stored from a rejected message`).toBe(true);
      }
    }
    for (const [name, steps] of [...m.scalars, ...m.evals]) {
      if (steps.size > 0) expect(series.some((s) => s.name === name), `${run}: acked series ${JSON.stringify(name)} missing`).toBe(true);
    }
    if (m.hists.size < 1000) {
      const hists = (await get<{ histograms: Array<{ step: number; layer: string; of: string }> }>(`/api/v1/runs/${id}/histograms?limit=1000`)).body.histograms;
      expect(new Set(hists.map((h) => `${h.step}|${h.layer}|${h.of}`)), `histograms of ${run}`).toEqual(m.hists);
    }
    checked++;
  }
  return checked;
}
