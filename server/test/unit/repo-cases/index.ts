import { ALERT_CASES } from './alerts.js';
import { PROJECT_CASES, RUN_CASES } from './projects-runs.js';
import { RUN_LIST_CASES } from './runs-list.js';
import type { RepoCase } from './store.js';
import { TOKEN_CASES, WEBHOOK_CASES } from './webhooks-tokens.js';

export type { RepoCase, Store } from './store.js';

/** Every repository expectation: each store (SQLite, PostgreSQL) must meet all of them. */
export const REPO_CASES: RepoCase[] = [...PROJECT_CASES, ...RUN_CASES, ...RUN_LIST_CASES, ...ALERT_CASES, ...WEBHOOK_CASES, ...TOKEN_CASES];
