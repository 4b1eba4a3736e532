import Type, { type Static } from 'typebox';
import { Project } from '../rest.js';

export const ProjectList = Type.Object({ projects: Type.Array(Project) });
export type ProjectList = Static<typeof ProjectList>;
