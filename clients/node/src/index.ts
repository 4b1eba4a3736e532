export { IngestClient, type IngestClientOptions } from './ingest-client.js';
export { GradwatchError, type EndReport, type Log, type Rejected } from './report.js';
