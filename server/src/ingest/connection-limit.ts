import type { WebSocket } from 'ws';

/** Refuses a socket over the connection limit, with an error that names the setting. */
export function connectionLimit(kind: string, max: number, env: string): (socket: WebSocket) => boolean {
  let open = 0;
  return (socket) => {
    if (open >= max) {
      socket.send(JSON.stringify({ type: 'error', code: 'limit', message: `the server already has ${open} ${kind} connections (${env}=${max}); try again later` }));
      socket.close(1013, 'too many connections');
      return false;
    }
    open++;
    socket.on('close', () => open--);
    return true;
  };
}
