/* eslint-disable svelte/prefer-svelte-reactivity -- the bookkeeping sets and maps are never
   rendered; only `runs` (a SvelteMap) is. */
import type { Diagnosis } from '@gradwatch/shared';
import { SvelteMap } from 'svelte/reactivity';
import { api } from '../api';
import { throttle } from '../throttle';
import type { Live } from './run-series.svelte';

export interface RunVerdict {
  name: string | null;
  diagnoses: Diagnosis[];
}

interface Fetchers {
  name: (runId: string) => Promise<string>;
  diagnoses: (runId: string) => Promise<Diagnosis[]>;
}

const FETCH: Fetchers = { name: (id) => api.run(id).then((r) => r.name), diagnoses: api.diagnosis };

/**
 * Names and ranked diagnoses of the runs an alert list shows, for grouping it. Fetched once per
 * run; diagnoses are then replaced by live `diagnosis` messages, and refetched (at most once a
 * second) after a run's new alert, since an info hint can change without a message.
 */
export class RunVerdicts {
  readonly runs = new SvelteMap<string, RunVerdict>();
  private asked = new Set<string>();
  private stale = new Set<string>();
  /** Per run, bumped by each live list: an older fetch does not overwrite it. */
  private versions = new Map<string, number>();
  private readonly refetch = throttle(() => {
    const ids = [...this.stale];
    this.stale.clear();
    for (const id of ids) void this.loadDiagnoses(id);
  }, 1000);

  constructor(private readonly live: Pick<Live, 'on'>, private readonly fetch: Fetchers = FETCH) {}

  /** Listens for live verdicts and alerts (the alert list's subscription brings them); returns the stop. */
  follow(): () => void {
    const offs = [
      this.live.on('diagnosis', (m) => {
        const cur = this.runs.get(m.runId);
        if (!cur) return;
        this.versions.set(m.runId, (this.versions.get(m.runId) ?? 0) + 1);
        this.runs.set(m.runId, { ...cur, diagnoses: m.diagnoses });
      }),
      this.live.on('alert', (a) => {
        if (!this.asked.has(a.runId)) return;
        this.stale.add(a.runId);
        this.refetch();
      }),
    ];
    return () => {
      offs.forEach((off) => off());
      this.refetch.cancel();
    };
  }

  /** Fetches what is not known yet of these runs. */
  want(runIds: Iterable<string>): void {
    for (const id of new Set(runIds)) {
      if (this.asked.has(id)) continue;
      this.asked.add(id);
      if (!this.runs.has(id)) this.runs.set(id, { name: null, diagnoses: [] });
      this.fetch.name(id).then(
        (name) => {
          const cur = this.runs.get(id);
          if (cur) this.runs.set(id, { ...cur, name });
        },
        // The group shows the run's id instead.
        () => undefined,
      );
      void this.loadDiagnoses(id);
    }
  }

  private async loadDiagnoses(id: string): Promise<void> {
    const v = this.versions.get(id) ?? 0;
    try {
      const diagnoses = await this.fetch.diagnoses(id);
      const cur = this.runs.get(id);
      if (cur && v === (this.versions.get(id) ?? 0)) this.runs.set(id, { ...cur, diagnoses });
    } catch {
      // Ungrouped until the next try: the alerts themselves still show.
      this.asked.delete(id);
    }
  }
}
