export { IngestClient, type IngestClientOptions, type Rejected } from './ingest-client.js';
