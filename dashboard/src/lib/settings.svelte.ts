import type { XAxis } from '@gradwatch/shared';

const KEY = 'gradwatch.settings';

interface Saved {
  xAxis?: XAxis;
}

function load(): Saved {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '{}') as Saved;
  } catch {
    return {};
  }
}

/** Page-wide choices, kept across visits; the OS decides light or dark. */
class Settings {
  xAxis = $state<XAxis>(load().xAxis ?? 'step');
  dark = $state(false);

  constructor() {
    const mq = matchMedia('(prefers-color-scheme: dark)');
    this.dark = mq.matches;
    mq.addEventListener('change', (e) => (this.dark = e.matches));
  }

  setXAxis(x: XAxis): void {
    this.xAxis = x;
    try {
      localStorage.setItem(KEY, JSON.stringify({ xAxis: x }));
    } catch {
      // No storage: the choice lasts for this page.
    }
  }

  /** Chart text and grid colours from the stylesheet's variables. */
  chartTheme(): { text: string; grid: string } {
    // Read `dark` so callers re-run when the OS theme flips.
    void this.dark;
    const cs = getComputedStyle(document.documentElement);
    return { text: cs.getPropertyValue('--muted').trim() || '#666', grid: cs.getPropertyValue('--grid').trim() || '#ddd' };
  }
}

export const settings = new Settings();
