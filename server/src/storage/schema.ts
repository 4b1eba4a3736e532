import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The summary of a set of points: count, finite min/max, the last value (its kind beside it,
 * since SQLite cannot hold a NaN REAL) and the non-finite counts. Chunks and rollups share it.
 */
const envelopeColumns = () => ({
  count: integer('count').notNull(),
  min: real('min'),
  max: real('max'),
  last: real('last'),
  lastKind: integer('last_kind').notNull(),
  nan: integer('nan').notNull(),
  posInf: integer('pos_inf').notNull(),
  negInf: integer('neg_inf').notNull(),
});

export const projects = sqliteTable('projects', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  ruleSettings: text('rule_settings').notNull().default('{}'),
  createdAt: text('created_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

export const runs = sqliteTable(
  'runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
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
    lastSeq: integer('last_seq').notNull().default(0),
    lastStep: integer('last_step'),
    createdAt: text('created_at').notNull(),
    lastSeenAt: text('last_seen_at').notNull(),
    endedAt: text('ended_at'),
  },
  (t) => [index('runs_project_idx').on(t.projectId, t.lastSeenAt)],
);

/** One named series of a run; slot is its position in the run's packed step rows. */
export const series = sqliteTable(
  'series',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    slot: integer('slot').notNull(),
    firstNonFiniteStep: integer('first_nonfinite_step'),
  },
  (t) => [uniqueIndex('series_run_name_idx').on(t.runId, t.name)],
);

/**
 * A run's step index (each step's wall-clock time, epoch and examples: the x axes other than
 * step) in blocks of the steps sealed together, compressed (step-block-codec.ts). The steps since
 * the last seal are indexed by their step_tail rows. Blocks never overlap, and every block comes
 * before the tail's unindexed steps.
 */
export const stepBlocks = sqliteTable(
  'step_blocks',
  {
    runId: integer('run_id').notNull(),
    startStep: integer('start_step').notNull(),
    endStep: integer('end_step').notNull(),
    count: integer('count').notNull(),
    timeLo: real('time_lo'),
    timeHi: real('time_hi'),
    epochLo: real('epoch_lo'),
    epochHi: real('epoch_hi'),
    data: blob('data', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.startStep] })],
);

/**
 * The newest steps of a run, one row per step holding every series value packed as
 * float64 by slot, and the step's index entry until a seal moves it into a block. Packed rows are what makes a million values a second possible; they are
 * sealed into per-series chunks every few hundred steps so range scans stay cheap.
 */
export const stepTail = sqliteTable(
  'step_tail',
  {
    runId: integer('run_id').notNull(),
    step: integer('step').notNull(),
    vals: blob('vals', { mode: 'buffer' }).notNull(),
    time: real('time'),
    epoch: real('epoch'),
    examples: integer('examples'),
    /** Whether a step block holds this step already (a sparse series' row kept at a seal). */
    indexed: integer('indexed').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.runId, t.step] })],
);

/**
 * Sealed points of one series: a small summary row per chunk (so whole-chunk buckets never touch
 * the points) pointing at its packed points in chunk_data. Large blobs stay out of the
 * WITHOUT ROWID summary table, whose rows must stay small for range scans to be fast.
 */
export const chunks = sqliteTable(
  'chunks',
  {
    seriesId: integer('series_id').notNull(),
    startStep: integer('start_step').notNull(),
    endStep: integer('end_step').notNull(),
    ...envelopeColumns(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.startStep] })],
);

/**
 * The packed steps and values of one chunk (float64, platform byte order), clustered by series
 * so reading a series' chunks in order reads neighbouring pages.
 */
export const chunkData = sqliteTable(
  'chunk_data',
  {
    seriesId: integer('series_id').notNull(),
    startStep: integer('start_step').notNull(),
    steps: blob('steps', { mode: 'buffer' }).notNull(),
    vals: blob('vals', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.startStep] })],
);

/** Eval metrics arrive at any step and in any order: a narrow table; value NULL means NaN. */
export const evalPoints = sqliteTable(
  'eval_points',
  {
    seriesId: integer('series_id').notNull(),
    step: integer('step').notNull(),
    value: real('value'),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.step] })],
);

export const histograms = sqliteTable(
  'histograms',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    step: integer('step').notNull(),
    layer: text('layer').notNull(),
    of: text('of').notNull(),
    edges: text('edges').notNull(),
    counts: text('counts').notNull(),
  },
  (t) => [uniqueIndex('histograms_key_idx').on(t.runId, t.layer, t.of, t.step)],
);

export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    projectId: integer('project_id').notNull(),
    rule: text('rule').notNull(),
    section: text('section').notNull(),
    severity: text('severity').notNull(),
    status: text('status').notNull(),
    acknowledged: integer('acknowledged', { mode: 'boolean' }).notNull().default(false),
    muted: integer('muted', { mode: 'boolean' }).notNull().default(false),
    layer: text('layer'),
    /** JSON array: every layer this alert's episode fired on, forward order (per-layer rules). */
    layers: text('layers'),
    firstStep: integer('first_step').notNull(),
    lastStep: integer('last_step').notNull(),
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

export const runEvents = sqliteTable('run_events', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
  kind: text('kind').notNull(),
  step: integer('step'),
  detail: text('detail').notNull().default('{}'),
  at: text('at').notNull(),
});

/**
 * API tokens: only the sha256 of the secret is stored. scope is 'ingest', 'read' or 'admin';
 * project, when set, limits the token to that project's runs.
 */
export const tokens = sqliteTable('tokens', {
  id: integer('id').primaryKey({ autoIncrement: true }),
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
export const webhooks = sqliteTable('webhooks', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  projectId: integer('project_id').notNull().references(() => projects.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  createdAt: text('created_at').notNull(),
  /** HMAC-SHA256 key of the X-Gradwatch-Signature header; shown once, at creation. */
  secret: text('secret').notNull().default(''),
  /** Whether symptom alerts are sent besides diagnosis changes (which always are). */
  alerts: integer('alerts', { mode: 'boolean' }).notNull().default(true),
});

/** Outbox of webhook calls: written with the alert, delivered in the background with retries. */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    webhookId: integer('webhook_id').notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
    /** The alert an alert event is about; null for a diagnosis event. */
    alertId: integer('alert_id'),
    payload: text('payload').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    createdAt: text('created_at').notNull(),
    deliveredAt: text('delivered_at'),
  },
  (t) => [index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt), index('webhook_deliveries_hook_idx').on(t.webhookId, t.id)],
);

/**
 * Envelopes of a series' chunks per aligned window of steps, at three widths (level 3: 1,024 steps,
 * level 1: 4,096, level 2: 131,072), so a query over millions of points reads a few thousand small rows.
 */
export const rollups = sqliteTable(
  'rollups',
  {
    seriesId: integer('series_id').notNull(),
    level: integer('level').notNull(),
    window: integer('window').notNull(),
    fromStep: integer('from_step').notNull(),
    toStep: integer('to_step').notNull(),
    ...envelopeColumns(),
  },
  (t) => [primaryKey({ columns: [t.seriesId, t.level, t.window] })],
);
