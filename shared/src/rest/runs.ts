import Type, { type Static } from 'typebox';
import { RUN_STATUSES } from '../run.js';
import { csvOf } from './params.js';

export const RunListQuery = Type.Object({
  project: Type.Optional(Type.String({ maxLength: 100 })),
  status: Type.Optional(csvOf(RUN_STATUSES, 'Run statuses')),
  search: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of the run name, id or a tag' })),
  cursor: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
export type RunListQuery = Static<typeof RunListQuery>;
