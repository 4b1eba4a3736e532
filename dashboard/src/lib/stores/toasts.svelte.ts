import type { Alert } from '@gradwatch/shared';
import type { LiveSocket } from '../socket';

export interface Toast {
  key: number;
  alert: Alert;
}

/** New alerts as toasts: one per alert opening or getting worse; a few at a time, each fading. */
export class Toasts {
  items = $state<Toast[]>([]);
  // Bookkeeping, never rendered: plain maps.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private seen = new Map<number, Alert['severity']>();
  private key = 0;
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private timers = new Map<number, ReturnType<typeof setTimeout>>();

  constructor(readonly max = 3, readonly ttlMs = 10_000) {}

  onAlert(a: Alert): void {
    const prev = this.seen.get(a.id);
    this.seen.set(a.id, a.severity);
    if (a.status !== 'open' || a.muted || prev === a.severity) return;
    const key = ++this.key;
    this.items = [{ key, alert: a }, ...this.items.filter((t) => t.alert.id !== a.id)].slice(0, this.max);
    this.timers.set(key, setTimeout(() => this.dismiss(key), this.ttlMs));
  }

  dismiss(key: number): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.items = this.items.filter((t) => t.key !== key);
  }

  follow(live: LiveSocket): () => void {
    const offs = [live.subscribe(['*']), live.on('alert', (a) => this.onAlert(a))];
    return () => offs.forEach((off) => off());
  }
}
