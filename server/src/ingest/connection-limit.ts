import type { WebSocket } from 'ws';
import type { ErrorMsg } from '@gradwatch/shared';

/** Refuses a socket over the connection limit, with an error that names the setting. */
export function connectionLimit(kind: string, max: number, env: string): (socket: WebSocket) => boolean {
  let open = 0;
  return (socket) => {
    if (open >= max) {
      const msg: ErrorMsg = { type: 'error', code: 'busy', message: `the server already has ${open} ${kind} connections (${env}=${max}); try again later` };
      socket.send(JSON.stringify(msg));
      socket.close(1013, 'too many connections');
      return false;
    }
    open++;
    socket.on('close', () => open--);
    return true;
  };
}
