import type { Alert, Diagnosis, ErrorCode, SeqMsg } from '@gradwatch/shared';
import type { PackedStepsMsg } from './packed-step.js';
import type { Peer, RunSession } from './run-session.js';

/** A message refused for its content: answered with this code, nothing of it stored. */
export class Rejection extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

/** A sequenced message as the socket handed it on: steps may come packed (steps-frame.ts). */
export type InMsg = SeqMsg | PackedStepsMsg;

/** Points a commit makes visible to live subscribers. */
export interface LiveBatch {
  step: number;
  names: readonly string[];
  values: readonly number[];
}

/** One queued message and what its commit will announce. */
export interface Pending {
  peer: Peer;
  session: RunSession;
  /** resend: a seq accepted but not yet committed, acked once it is; rejected: consumed only. */
  msg: InMsg | { type: 'resend' | 'rejected'; seq: number };
  error?: Rejection;
  live?: LiveBatch[];
  alerts?: Alert[];
  /** The run's new verdict, when this message changed it. */
  diagnoses?: Diagnosis[];
  stop?: string;
}

/** Who hears about committed data: the live hub. Ingest never waits for it. */
export interface IngestListener {
  wants(runUid: string): boolean;
  points(runUid: string, batch: readonly LiveBatch[]): void;
  alert(alert: Alert): void;
  diagnosis(runUid: string, diagnoses: readonly Diagnosis[]): void;
  runChanged(runUid: string): void;
}
