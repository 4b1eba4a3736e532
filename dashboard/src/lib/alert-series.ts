import type { Alert } from '@gradwatch/shared';

/** What picking a series needs of an alert: a diagnosis's symptom gives these too. */
export type AlertLike = Pick<Alert, 'rule' | 'evidence'> & { layer?: string | undefined };

const L = (layer: string, rest: string) => `layer/${layer}/${rest}`;

/**
 * The layer an alert is about: its own field, else the layer its evidence names. The NaN rule
 * raises one alert per run (not one per layer) and puts the first layer it hit in the evidence.
 */
export function alertLayer(a: AlertLike): string | null {
  if (a.layer) return a.layer;
  const ev = a.evidence.layer;
  return typeof ev === 'string' && ev !== '' ? ev : null;
}

/**
 * The series an alert is about, most telling first, so selecting it opens the right chart.
 * Rules name their layer and, for NaN, the quantity and series where it first showed up.
 */
export function alertSeries(a: AlertLike, available: readonly string[]): string[] {
  const has = new Set(available);
  const ev = a.evidence;
  const layer = alertLayer(a);
  const layers = [...new Set(available.filter((n) => n.endsWith('/update_ratio')).map((n) => n.slice(6, -'/update_ratio'.length)))];
  const c: string[] = [];
  const family = a.rule.split('.')[0] ?? '';
  if (a.rule === 'nan.detected') {
    if (typeof ev.name === 'string') c.push(ev.name);
    c.push('loss');
    const q = typeof ev.quantity === 'string' ? ev.quantity : '';
    if (layer && ['param', 'grad', 'update', 'act', 'bias'].includes(q)) c.push(L(layer, `${q}/nonFinite`), L(layer, `${q}/meanAbs`));
    if (q === 'inputs') c.push('inputs/nonFinite', 'inputs/mean');
  } else if (a.rule.startsWith('lr.update_ratio') || a.rule === 'weights.unchanged') {
    if (layer) c.push(L(layer, 'update_ratio'));
    else c.push(...layers.map((l) => L(l, 'update_ratio')));
  } else if (family === 'act') {
    const field = a.rule === 'act.dead_units' ? 'fracDeadUnits' : a.rule === 'act.saturated' ? 'fracSaturated' : 'std';
    if (layer) c.push(L(layer, `act/${field}`));
    else c.push(...layers.map((l) => L(l, `act/${field}`)));
  } else if (a.rule === 'grad.exploding' || a.rule === 'grad.norm_ratio_high' || a.rule === 'grad.vanishing') {
    c.push('derived/grad_norm_ratio');
    if (layer) c.push(L(layer, 'grad/norm'));
    else c.push(...layers.map((l) => L(l, 'grad/norm')));
  } else if (a.rule === 'grad.vanishing_layer') {
    if (layer) c.push(L(layer, 'grad/meanAbs'));
  } else if (family === 'init') {
    if (layer) c.push(L(layer, 'param/std'));
  } else if (a.rule === 'reg.weights_collapsing') {
    c.push(...(layer ? [layer] : layers).map((l) => L(l, 'param/meanAbs')), 'loss');
  } else if (family === 'data') {
    c.push('inputs/mean', 'inputs/std', 'eval/val/inputs/mean', 'eval/val/inputs/std');
  } else if (family === 'epochs') {
    c.push('loss', 'eval/val/loss', 'acc', 'eval/val/acc');
  } else if (a.rule === 'lr.config_out_of_range' || family === 'schedule') {
    c.push('lr', 'loss');
  }
  // Loss-trend, oscillation, optimizer and static rules: the loss tells the story.
  c.push('loss', 'eval/val/loss');
  return [...new Set(c)].filter((n) => has.has(n));
}

/** The steps to show around an alert: its range with as much context on each side. */
export function alertWindow(a: Alert, lastStep: number | null): [number, number] {
  const w = Math.max(a.lastStep - a.firstStep, 0);
  const pad = Math.max(25, w * 2);
  const hi = Math.max(a.lastStep + pad, a.lastStep);
  return [Math.max(0, a.firstStep - pad), lastStep === null ? hi : Math.min(hi, Math.max(lastStep, a.lastStep))];
}
