import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

/** Every setting the server reads, validated once at boot. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** ':memory:' is not offered: an acked value must be on disk. */
  dbFile: string;
  /** GRADWATCH_DATABASE_URL: PostgreSQL shared by several servers; null: the SQLite file. */
  databaseUrl: string | null;
  /** This process among the servers on one database: the owner named in run leases. */
  serverId: string;
  adminToken: string | null;
  staleAfterS: number;
  /** A run whose job went away, and that has not ended, is dropped from memory after this. */
  idleReleaseS: number;
  synchronous: 'FULL' | 'NORMAL';
  logLevel: string;
  /** Runs inactive for longer are deleted (hourly and at start); null: kept forever. */
  retentionDays: number | null;
  limits: {
    maxFrameBytes: number;
    maxLayers: number;
    maxSeriesPerRun: number;
    maxItemsPerMessage: number;
    maxMessagesPerSecond: number;
    maxStringLength: number;
    maxConnections: number;
    maxLiveConnections: number;
    liveMaxBufferedBytes: number;
    /** Bytes an ingest socket may have queued unread before it is closed as slow_consumer. */
    maxBufferedBytes: number;
    /** A socket must say hello (live: authenticate) within this, or it is closed with hello_timeout. */
    helloTimeoutMs: number;
    /** Errors a socket may earn before hello / auth; one more closes it with abuse. */
    preAuthMaxErrors: number;
    /** Errors a minute (burst of as many) a socket may earn after hello; past it, abuse. */
    maxErrorsPerMinute: number;
    /** hello messages a minute on one ingest connection (a burst of up to 10). */
    maxHellosPerMinute: number;
  };
  dashboardDir: string | null;
  /** First webhook retry delay; doubles per attempt. */
  webhookRetryMs: number;
  /** Webhook hosts (lower case) allowed although they are or resolve to private addresses. */
  webhookAllowHosts: string[];
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * A relative GRADWATCH_DATA_DIR is relative to where the user ran the command: npm runs scripts
 * inside the workspace folder but records the caller's folder in INIT_CWD.
 */
export function loadConfig(env: Env = process.env, cwd = process.env.INIT_CWD ?? process.cwd()): Config {
  const host = env.GRADWATCH_HOST || '127.0.0.1';
  const port = int(env, 'GRADWATCH_PORT', 8080, 0, 65535);
  const dataDirRaw = env.GRADWATCH_DATA_DIR || './data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);
  const adminToken = env.GRADWATCH_ADMIN_TOKEN || null;
  if (adminToken !== null && adminToken.length < 16) {
    throw new ConfigError('GRADWATCH_ADMIN_TOKEN must be at least 16 characters long');
  }
  if (!LOOPBACK.has(host) && adminToken === null) {
    throw new ConfigError(
      `GRADWATCH_HOST=${host} exposes the server beyond this machine: set GRADWATCH_ADMIN_TOKEN to turn authentication on`,
    );
  }
  const sync = (env.GRADWATCH_SYNCHRONOUS || 'FULL').toUpperCase();
  if (sync !== 'FULL' && sync !== 'NORMAL') {
    throw new ConfigError(`GRADWATCH_SYNCHRONOUS must be FULL or NORMAL, got "${env.GRADWATCH_SYNCHRONOUS}"`);
  }
  const databaseUrl = env.GRADWATCH_DATABASE_URL || null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\/[^/]/.test(databaseUrl)) {
    throw new ConfigError('GRADWATCH_DATABASE_URL must be a postgres:// URL (postgres://user:password@host:5432/db); leave it unset for the SQLite file');
  }
  const logLevel = env.GRADWATCH_LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`GRADWATCH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  return {
    host,
    port,
    dataDir,
    dbFile: resolve(dataDir, 'gradwatch.db'),
    databaseUrl,
    serverId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    adminToken,
    staleAfterS: int(env, 'GRADWATCH_STALE_AFTER_S', 300, 1, 86400 * 365),
    idleReleaseS: int(env, 'GRADWATCH_IDLE_RELEASE_S', 3600, 1, 86400 * 365),
    synchronous: sync,
    logLevel,
    retentionDays: env.GRADWATCH_RETENTION_DAYS ? int(env, 'GRADWATCH_RETENTION_DAYS', 0, 1, 36_500) : null,
    limits: {
      maxFrameBytes: int(env, 'GRADWATCH_MAX_FRAME_BYTES', 4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
      maxLayers: int(env, 'GRADWATCH_MAX_LAYERS', 1000, 1, 100_000),
      maxSeriesPerRun: int(env, 'GRADWATCH_MAX_SERIES_PER_RUN', 50_000, 10, 1_000_000),
      maxItemsPerMessage: int(env, 'GRADWATCH_MAX_ITEMS_PER_MESSAGE', 1000, 1, 100_000),
      maxMessagesPerSecond: int(env, 'GRADWATCH_MAX_MESSAGES_PER_SECOND', 1000, 1, 1_000_000),
      maxStringLength: 200,
      maxConnections: int(env, 'GRADWATCH_MAX_CONNECTIONS', 1000, 1, 100_000),
      maxLiveConnections: int(env, 'GRADWATCH_MAX_LIVE_CONNECTIONS', 200, 1, 100_000),
      liveMaxBufferedBytes: int(env, 'GRADWATCH_LIVE_MAX_BUFFERED_BYTES', 8 * 1024 * 1024, 65536, 1 << 30),
      maxBufferedBytes: int(env, 'GRADWATCH_MAX_BUFFERED_BYTES', 1024 * 1024, 16384, 1 << 30),
      helloTimeoutMs: int(env, 'GRADWATCH_HELLO_TIMEOUT_MS', 10_000, 100, 600_000),
      preAuthMaxErrors: int(env, 'GRADWATCH_PREAUTH_MAX_ERRORS', 5, 1, 1_000_000),
      maxErrorsPerMinute: int(env, 'GRADWATCH_MAX_ERRORS_PER_MINUTE', 1000, 10, 100_000_000),
      maxHellosPerMinute: int(env, 'GRADWATCH_MAX_HELLOS_PER_MINUTE', 60, 1, 100_000_000),
    },
    dashboardDir: env.GRADWATCH_DASHBOARD_DIR ?? null,
    webhookRetryMs: int(env, 'GRADWATCH_WEBHOOK_RETRY_MS', 1000, 10, 3_600_000),
    webhookAllowHosts: (env.GRADWATCH_WEBHOOK_ALLOW_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')).filter(Boolean),
  };
}
