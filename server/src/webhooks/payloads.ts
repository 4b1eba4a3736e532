import type { Alert, Diagnosis } from '@gradwatch/shared';

/** The JSON body of an alert event; `text` makes it a valid Slack incoming-webhook message. */
export function alertPayload(alert: Alert): { event: string; alert: Alert; text: string } {
  const event = alert.status === 'resolved' ? 'alert.resolved' : 'alert.opened';
  const where = `run ${alert.runId} (${alert.project})${alert.layer ? `, layer ${alert.layer}` : ''}`;
  const head = alert.status === 'resolved' ? `Resolved: ${alert.rule}` : `[${alert.severity.toUpperCase()}] ${alert.rule}`;
  return { event, alert, text: `${head} on ${where} at step ${alert.lastStep}. ${alert.advice}` };
}

/** The JSON body of a diagnosis event: the run's top verdict changed (null: nothing is wrong any more). */
export function diagnosisPayload(runId: string, project: string, diagnosis: Diagnosis | null): { event: string; runId: string; project: string; diagnosis: Diagnosis | null; text: string } {
  const where = `run ${runId} (${project})`;
  const text = diagnosis
    ? `[${diagnosis.severity.toUpperCase()}] ${diagnosis.title} on ${where} since step ${diagnosis.firstStep} (confidence ${Math.round(diagnosis.confidence * 100)}%). ${diagnosis.advice}`
    : `No diagnosis any more on ${where}.`;
  return { event: 'diagnosis.changed', runId, project, diagnosis, text };
}

/** The event a stored payload carries. */
export function eventOf(payload: string): string {
  try {
    const e = (JSON.parse(payload) as { event?: unknown }).event;
    return typeof e === 'string' ? e : 'alert.opened';
  } catch {
    return 'alert.opened';
  }
}
