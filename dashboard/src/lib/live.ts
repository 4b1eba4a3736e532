import { auth } from './auth.svelte';
import { LiveSocket } from './socket';

/** The page's live socket, on the same origin as the page. */
export const live = new LiveSocket({
  url: () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/live`,
  token: () => auth.token,
  onUnauthorized: () => auth.reject(),
});
