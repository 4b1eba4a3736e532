import type { Diagnosis } from '@gradwatch/shared';
import { api } from '../api';
import { splitDiagnoses } from '../diagnosis';
import type { Live } from './run-series.svelte';

type Fetch = (runId: string) => Promise<Diagnosis[]>;

/**
 * One run's ranked verdict: read over REST once the live subscription is in place, then replaced
 * by every live `diagnosis` message (the server sends the whole list each time it changes).
 */
export class RunDiagnosisStore {
  diagnoses = $state.raw<Diagnosis[]>([]);
  /** True once a list (fetched or live) has arrived. */
  loaded = $state(false);
  error = $state<string | null>(null);
  readonly verdict: Diagnosis[] = $derived(splitDiagnoses(this.diagnoses).verdict);
  readonly hints: Diagnosis[] = $derived(splitDiagnoses(this.diagnoses).hints);
  private runId: string | null = null;
  /** Bumped by every live list: a fetch that started before one must not overwrite it. */
  private version = 0;

  constructor(private readonly live: Live, private readonly fetch: Fetch = api.diagnosis) {}

  /** Follows this run's verdict; returns the stop. */
  open(runId: string): () => void {
    this.runId = runId;
    this.diagnoses = [];
    this.loaded = false;
    this.error = null;
    const offs = [
      this.live.subscribe([runId], []),
      this.live.on('diagnosis', (m) => {
        if (m.runId !== this.runId) return;
        this.version++;
        this.diagnoses = m.diagnoses;
        this.loaded = true;
      }),
      this.live.on('open', ({ reconnect }) => {
        // A verdict may have changed while the socket was down.
        if (reconnect) void this.load();
      }),
    ];
    void this.live.whenSynced().then(() => this.load());
    return () => {
      offs.forEach((off) => off());
      this.runId = null;
    };
  }

  async load(): Promise<void> {
    const id = this.runId;
    if (id === null) return;
    const v = this.version;
    try {
      const ds = await this.fetch(id);
      if (id !== this.runId || v !== this.version) return;
      this.diagnoses = ds;
      this.loaded = true;
      this.error = null;
    } catch (e) {
      if (id === this.runId) this.error = (e as Error).message;
    }
  }
}
