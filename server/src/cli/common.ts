import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { loadConfig } from '../config.js';

/** Where the user ran npm from (npm sets INIT_CWD), for paths given on the command line. */
export const userCwd = (): string => process.env.INIT_CWD ?? process.cwd();

/** The database file the server uses: --data-dir, else GRADWATCH_DATA_DIR, else ./data where npm was run. */
export function dbFileOf(dataDirArg: string | undefined): string {
  const dir = dataDirArg !== undefined ? (isAbsolute(dataDirArg) ? dataDirArg : resolve(userCwd(), dataDirArg)) : undefined;
  return loadConfig({ GRADWATCH_DATA_DIR: dir ?? process.env.GRADWATCH_DATA_DIR }, userCwd()).dbFile;
}

export function fail(message: string, code = 2): never {
  console.error(`gradwatch: ${message}`);
  process.exit(code);
}

export function mustExist(file: string): void {
  if (!existsSync(file)) fail(`no database at ${file}: set GRADWATCH_DATA_DIR or pass --data-dir`);
}
