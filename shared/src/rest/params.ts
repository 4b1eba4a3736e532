import Type from 'typebox';
import { ProjectName } from '../run.js';

/** A run by its client-chosen id (the `run.id` of hello). */
export const RunParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
/** A row by its numeric id: digits only, so "1.0", "+1" or "0x1" never name the same row as "1". */
export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
export const ProjectParams = Type.Object({ project: ProjectName });
export const ProjectIdParams = Type.Object({ project: ProjectName, id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

/** A comma-separated list of these words (query strings cannot carry arrays in every client). */
export const csvOf = (words: readonly string[], description: string) => {
  const one = `(${words.join('|')})`;
  return Type.String({ pattern: `^${one}(,${one})*$`, description: `${description}, comma-separated: ${words.join(', ')}` });
};
