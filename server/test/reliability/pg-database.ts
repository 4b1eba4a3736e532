import postgres from 'postgres';

export interface FreshDatabase {
  /** The URL of the new database (the admin URL with its path replaced). */
  url: string;
  /** Drops it, cutting off whatever is still connected (a SIGKILLed server's sessions included). */
  drop(): Promise<void>;
}

/**
 * A new, empty database on the server `adminUrl` names (a role that may CREATE DATABASE), for
 * one test file or one benchmark case: the servers under test migrate it themselves.
 */
export async function freshDatabase(adminUrl: string, prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  return {
    url,
    drop: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => undefined });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
