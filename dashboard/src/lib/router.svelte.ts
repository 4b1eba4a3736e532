import { matchRoute, type Route } from './routes';

/** History routing: the current path and query as state; links are intercepted in App. */
class Router {
  path = $state(location.pathname);
  search = $state(location.search);
  route: Route = $derived(matchRoute(this.path));
  query: URLSearchParams = $derived(new URLSearchParams(this.search));

  constructor() {
    addEventListener('popstate', () => this.sync());
  }

  private sync(): void {
    this.path = location.pathname;
    this.search = location.search;
  }

  go(href: string, replace = false): void {
    if (replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
    this.sync();
    if (!replace) scrollTo(0, 0);
  }

  /** Changes one query parameter in place (filters, selections), without a history entry. */
  setParam(key: string, value: string | null): void {
    // A scratch copy to build the next URL; the state is `search`.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity
    const q = new URLSearchParams(location.search);
    if (value === null || value === '') q.delete(key);
    else q.set(key, value);
    const s = q.toString();
    this.go(`${location.pathname}${s ? `?${s}` : ''}`, true);
  }
}

export const router = new Router();
