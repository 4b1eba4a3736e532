import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, doublePrecision, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/** Binary columns as Node Buffers (packed steps and values). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
/** Steps, ids of the point tables and times in ms: int8, read as a JS number (all far below 2^53). */
const int8 = (name: string) => bigint(name, { mode: 'number' });
const id = () => integer('id').primaryKey().generatedByDefaultAsIdentity();

/*
 * The PostgreSQL schema: the SQLite tables (schema.ts) column for column, so both backends return
 * the same rows, plus the lease of a run being written. Migrations: migrations-pg/ (drizzle-kit,
 * drizzle.pg.config.ts).
 */

/**
 * The summary of a set of points: count, finite min/max, the last value (its kind beside it,
 * kept as in SQLite) and the non-finite counts. Chunks and rollups share it.
 */
const envelopeColumns = () => ({
  count: int8('count').notNull(),
  min: doublePrecision('min'),
  max: doublePrecision('max'),
  last: doublePrecision('last'),
  lastKind: integer('last_kind').notNull(),
  nan: integer('nan').notNull(),
  posInf: integer('pos_inf').notNull(),
  negInf: integer('neg_inf').notNull(),
});

export const projects = pgTable('projects', {
  id: id(),
  name: text('name').notNull().unique(),
  ruleSettings: text('rule_settings').notNull().default('{}'),
  createdAt: text('created_at').notNull().default(sql`to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`),
});

export const runs = pgTable(
  'runs',
  {
    id: id(),
    uid: text('uid').notNull().unique(),
    projectId: integer('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tags: text('tags').notNull().default('[]'),
    config: text('config').notNull().default('{}'),
    framework: text('framework'),
    host: text('host'),
    worldSize: integer('world_size'),
    model: text('model'),
    /** JSON array: the run's ranked diagnoses as last computed (docs/diagnosis.md). */
    diagnoses: text('diagnoses').notNull().default('[]'),
    /** 'live' until an end message; live vs stale is derived from last_seen_at. */
    status: text('status').notNull().default('live'),
    lastSeq: int8('last_seq').notNull().default(0),
    lastStep: int8('last_step'),
    createdAt: text('created_at').notNull(),
    lastSeenAt: text('last_seen_at').notNull(),
    endedAt: text('ended_at'),
    /** The server writing this run now, and its lease: a takeover bumps the epoch (fencing). */
    owner: text('owner'),
    leaseEpoch: integer('lease_epoch').notNull().default(0),
  },
  (t) => [index('runs_project_idx').on(t.projectId, t.lastSeenAt)],
);

/** One named series of a run; slot is its position in the run's packed step rows. */
export const series = pgTable(
  'series',
  {
    id: id(),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    slot: integer('slot').notNull(),
    firstNonFiniteStep: int8('first_nonfinite_step'),
  },
  (t) => [uniqueIndex('series_run_name_idx').on(t.runId, t.name)],
);

/**
 * A run's step index (each step's wall-clock time, epoch and examples: the x axes other than
 * step) in blocks of the steps sealed together, compressed (step-block-codec.ts). The steps since
 * the last seal are indexed by their step_tail rows. Blocks never overlap, and every block comes
 * before the tail's unindexed steps.
 */
export const stepBlocks = pgTable(
  'step_blocks',
  {
    runId: integer('run_id').notNull(),
    startStep: int8('start_step').notNull(),
    endStep: int8('end_step').notNull(),
    count: integer('count').notNull(),
    timeLo: doublePrecision('time_lo'),
    timeHi: doublePrecision('time_hi'),
    epochLo: doublePrecision('epoch_lo'),
    epochHi: doublePrecision('epoch_hi'),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.startStep] })],
);

/**
 * The newest steps of a run, one row per step holding every series value packed as
 * float64 by slot, and the step's index entry until a seal moves it into a block. Packed rows are what makes a million values a second possible; they are
 * sealed into per-series chunks every few hundred steps so range scans stay cheap.
 */
export const stepTail = pgTable(
  'step_tail',
  {
    runId: integer('run_id').notNull(),
    step: int8('step').notNull(),
    vals: bytea('vals').notNull(),
    time: doublePrecision('time'),
    epoch: doublePrecision('epoch'),
    examples: int8('examples'),
    /** Whether a step block holds this step already (a sparse series' row kept at a seal). */
    indexed: integer('indexed').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);

/**
 * Sealed points of one series: a small summary row per chunk (so whole-chunk buckets never touch
 * the points) pointing at its packed points in chunk_data. Large blobs stay out of the
 * summary table, whose rows must stay small for range scans to be fast.
 */
export const chunks = pgTable(
  'chunks',
  {
    seriesId: integer('series_id').notNull(),
    startStep: int8('start_step').notNull(),
    endStep: int8('end_step').notNull(),
    ...envelopeColumns(),
  },
  (t) => [
    primaryKey({ columns: [t.seriesId, t.startStep] }),
    // Every column: summary scans are index-only. A seal writes one chunk per series, so a series'
    // chunks are one per heap page; in this index they are side by side (3x faster range scans).
    index('chunks_summary_idx').on(t.seriesId, t.startStep, t.endStep, t.count, t.min, t.max, t.last, t.lastKind, t.nan, t.posInf, t.negInf),
  ],
);

/**
 * The packed steps and values of one chunk (float64, platform byte order), clustered by series
 * so reading a series' chunks in order reads neighbouring pages.
 */
export const chunkData = pgTable(
  'chunk_data',
  {
    seriesId: integer('series_id').notNull(),
    startStep: int8('start_step').notNull(),
    steps: bytea('steps').notNull(),
    vals: bytea('vals').notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.startStep] })],
);

/** Eval metrics arrive at any step and in any order: a narrow table; value NULL means NaN. */
export const evalPoints = pgTable(
  'eval_points',
  {
    seriesId: integer('series_id').notNull(),
    step: int8('step').notNull(),
    value: doublePrecision('value'),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.step] })],
);

export const histograms = pgTable(
  'histograms',
  {
    id: id(),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    step: int8('step').notNull(),
    layer: text('layer').notNull(),
    of: text('of').notNull(),
    edges: text('edges').notNull(),
    counts: text('counts').notNull(),
  },
  (t) => [uniqueIndex('histograms_key_idx').on(t.runId, t.layer, t.of, t.step)],
);

export const alerts = pgTable(
  'alerts',
  {
    id: id(),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    projectId: integer('project_id').notNull(),
    rule: text('rule').notNull(),
    section: text('section').notNull(),
    severity: text('severity').notNull(),
    status: text('status').notNull(),
    acknowledged: boolean('acknowledged').notNull().default(false),
    muted: boolean('muted').notNull().default(false),
    layer: text('layer'),
    /** JSON array: every layer this alert's episode fired on, forward order (per-layer rules). */
    layers: text('layers'),
    firstStep: int8('first_step').notNull(),
    lastStep: int8('last_step').notNull(),
    evidence: text('evidence').notNull(),
    advice: text('advice').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    resolvedAt: text('resolved_at'),
    /** Why it resolved when not by the condition clearing, e.g. "ended with the run". */
    resolvedReason: text('resolved_reason'),
  },
  (t) => [
    index('alerts_run_idx').on(t.runId, t.rule, t.layer),
    index('alerts_project_idx').on(t.projectId, t.id),
  ],
);

export const runEvents = pgTable('run_events', {
  id: id(),
  runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  kind: text('kind').notNull(),
  step: int8('step'),
  detail: text('detail').notNull().default('{}'),
  at: text('at').notNull(),
});

/**
 * API tokens: only the sha256 of the secret is stored. scope is 'ingest', 'read' or 'admin';
 * project, when set, limits the token to that project's runs.
 */
export const tokens = pgTable('tokens', {
  id: id(),
  name: text('name').notNull(),
  scope: text('scope').notNull(),
  project: text('project'),
  hash: text('hash').notNull().unique(),
  /** The first characters of the secret, to tell tokens apart in listings. */
  hint: text('hint').notNull(),
  createdAt: text('created_at').notNull(),
  /** ISO time after which the token is refused and its open sockets closed; null: never. */
  expiresAt: text('expires_at'),
});

/** Per-project URLs that receive alert events. */
export const webhooks = pgTable('webhooks', {
  id: id(),
  projectId: integer('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  createdAt: text('created_at').notNull(),
  /** HMAC-SHA256 key of the X-Gradwatch-Signature header; shown once, at creation. */
  secret: text('secret').notNull().default(''),
  /** Whether symptom alerts are sent besides diagnosis changes (which always are). */
  alerts: boolean('alerts').notNull().default(true),
});

/** Outbox of webhook calls: written with the alert, delivered in the background with retries. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    webhookId: integer('webhook_id').notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
    /** The alert an alert event is about; null for a diagnosis event. */
    alertId: integer('alert_id'),
    payload: text('payload').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    nextAttemptAt: int8('next_attempt_at').notNull(),
    createdAt: text('created_at').notNull(),
    deliveredAt: text('delivered_at'),
  },
  (t) => [index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt), index('webhook_deliveries_hook_idx').on(t.webhookId, t.id)],
);

/**
 * Envelopes of a series' chunks per aligned window of steps, at three widths (level 3: 1,024 steps,
 * level 1: 4,096, level 2: 131,072), so a query over millions of points reads a few thousand small rows.
 */
export const rollups = pgTable(
  'rollups',
  {
    seriesId: integer('series_id').notNull(),
    level: integer('level').notNull(),
    window: int8('window').notNull(),
    fromStep: int8('from_step').notNull(),
    toStep: int8('to_step').notNull(),
    ...envelopeColumns(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.level, t.window] })],
);
