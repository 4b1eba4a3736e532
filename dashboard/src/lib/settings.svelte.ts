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

/** The stylesheet's colours for charts; `dark` picks the fallbacks and says when to read again. */
function themeOf(dark: boolean): { text: string; grid: string } {
  const cs = getComputedStyle(document.documentElement);
  return {
    text: cs.getPropertyValue('--muted').trim() || (dark ? '#9aa4b2' : '#666'),
    grid: cs.getPropertyValue('--grid').trim() || (dark ? '#333' : '#ddd'),
  };
}

/** Page-wide choices, kept across visits; the OS decides light or dark. */
class Settings {
  xAxis = $state<XAxis>(load().xAxis ?? 'step');
  dark = $state(false);
  /** Chart text and grid colours from the stylesheet's variables, for the current scheme. */
  chartTheme = $derived(themeOf(this.dark));

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
}

export const settings = new Settings();
