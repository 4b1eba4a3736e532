/**
 * Every error code the server sends on a socket, and what a client must do on receiving it.
 * Both clients (TS and Python) act on this table; docs/protocol.md lists it too, and a test
 * keeps the three in step.
 *
 * - `rejected`: the message was refused for its content; its seq is consumed, nothing of it is
 *   stored, re-sending it changes nothing. The client reports it and moves on.
 * - `retry`: nothing was stored and the seq is NOT consumed; send the same message again after a
 *   back-off (the server was busy, full, or failed transiently).
 * - `resend`: the server expected another seq (`expected`); re-send from there.
 * - `reconnect`: the connection is (or will be) closed without anything being lost; connect
 *   again, say hello, and re-send what was not acked.
 * - `fatal`: retrying cannot help (credentials, protocol version, a deleted run, another job
 *   took over the run); stop, and surface the error to the user.
 */
export type ErrorAction = 'rejected' | 'retry' | 'resend' | 'reconnect' | 'fatal';

export const ERROR_ACTIONS = {
  bad_json: 'rejected',
  bad_message: 'rejected',
  unknown_type: 'rejected',
  step_order: 'rejected',
  limit: 'rejected',
  gap: 'resend',
  retry: 'retry',
  internal: 'retry',
  rate_limited: 'retry',
  no_hello: 'reconnect',
  frame_too_large: 'reconnect',
  shutdown: 'reconnect',
  slow_consumer: 'reconnect',
  hello_timeout: 'reconnect',
  busy: 'reconnect',
  abuse: 'fatal',
  bad_frame: 'fatal',
  protocol: 'fatal',
  unauthorized: 'fatal',
  forbidden: 'fatal',
  not_found: 'fatal',
  replaced: 'fatal',
} as const satisfies Record<string, ErrorAction>;

export type ErrorCode = keyof typeof ERROR_ACTIONS;
export const ERROR_CODES = Object.keys(ERROR_ACTIONS) as ErrorCode[];

/** What a client does on this code; an unknown code (a newer server) is treated as fatal. */
export function errorAction(code: string): ErrorAction {
  return (ERROR_ACTIONS as Record<string, ErrorAction>)[code] ?? 'fatal';
}

export const isFatal = (code: string): boolean => errorAction(code) === 'fatal';
