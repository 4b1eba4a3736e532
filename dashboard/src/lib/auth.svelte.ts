const KEY = 'gradwatch.token';

function readToken(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/**
 * The bearer token, when the server has auth on. A 401 from REST (or an unauthorized live
 * socket) sets `needed`, and the app asks for a token; `version` bumps when it changes so views
 * fetch again.
 */
class Auth {
  token = $state<string | null>(readToken());
  needed = $state(false);
  version = $state(0);

  set(token: string | null): void {
    this.token = token;
    try {
      if (token) localStorage.setItem(KEY, token);
      else localStorage.removeItem(KEY);
    } catch {
      // Private mode without storage: the token lasts for this page only.
    }
    this.needed = false;
    this.version++;
  }

  reject(): void {
    this.needed = true;
  }
}

export const auth = new Auth();
