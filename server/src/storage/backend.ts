import type { AlertsRepo } from '../alerts/alerts.repo.js';
import type { PointStore } from '../points/point-store.js';
import type { ProjectsRepo } from '../projects/projects.repo.js';
import type { RunsRepo } from '../runs/runs.repo.js';
import type { TokensRepo } from '../tokens/tokens.repo.js';
import type { WebhooksRepo } from '../webhooks/webhooks.repo.js';

/** The store cannot be opened (unreachable, refused, not migratable): said to the user as is, without a stack. */
export class StoreUnavailable extends Error {}

/** Every repository of the server, on one store. */
export interface Repos {
  projects: ProjectsRepo;
  runs: RunsRepo;
  alerts: AlertsRepo;
  webhooks: WebhooksRepo;
  tokens: TokensRepo;
  points: PointStore;
}

/** Runs `fn` in one write transaction (a savepoint when nested): all of it commits, or none of it. */
export type Transact = <T>(fn: () => Promise<T>) => Promise<T>;

/** Small notices between the servers of one store (PostgreSQL LISTEN/NOTIFY); data stays in the tables. */
export interface Notices {
  /** Sends each payload to every server listening, this one included (each listener filters). */
  publish(payloads: readonly string[]): Promise<void>;
  /** Hears every payload published from now on; resolves once listening, to a function that stops. */
  listen(onNotice: (payload: string) => void): Promise<() => Promise<void>>;
}

/**
 * The storage boundary: the embedded SQLite file (one server) or a PostgreSQL database shared
 * by several servers. Services see only this; the two implementations are in sqlite-backend.ts
 * and pg-backend.ts.
 */
export interface Backend {
  readonly kind: 'sqlite' | 'postgres';
  /** Several servers may write this store: runs are leased, live notices cross servers. */
  readonly shared: boolean;
  readonly repos: Repos;
  readonly transact: Transact;
  /**
   * One write transaction taken as a whole, for many independent writes at once (an ingest
   * batch): transact() inside it takes no savepoint, and PostgreSQL pipelines its writes
   * (PgDb.later) instead of waiting for each. Faster, but any failure fails all of it: the
   * caller writes it again with transact() to learn which part failed.
   */
  readonly transactBatch: Transact;
  /** false once the database has rolled the whole transaction back by itself (disk full, lost connection). */
  inTransaction(): boolean;
  /** A data error worth a retry (busy, full, unreachable): nothing was stored and it may be sent again. */
  isTransient(e: unknown): boolean;
  /** Present when several servers share the store: how live data and changes cross between them. */
  readonly notices: Notices | null;
  /**
   * Runs `fn` unless another server is running the job of this name now (periodic jobs run on
   * one server at a time); undefined when skipped.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
