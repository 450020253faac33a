// Header names carried on bus requests and replies. Errors use the NATS
// service framework's own headers, with a gRPC status code as the code.

export { ServiceErrorCodeHeader as ERROR_CODE_HEADER, ServiceErrorHeader as ERROR_MESSAGE_HEADER } from 'nats';

/** Absolute deadline of the caller, Unix epoch milliseconds. */
export const DEADLINE_HEADER = 'Crius-Deadline';
/** The gateway's request id, so one call can be followed across processes. */
export const REQUEST_ID_HEADER = 'Crius-Request-Id';
/**
 * On each reply of a streamed call: "more" (an item; ask STREAM_NEXT_HEADER for the next),
 * "last" (the final item) or "none" (the stream had no item).
 */
export const STREAM_STATE_HEADER = 'Crius-Stream';
/** With "more": the subject to request the next item on (the serving instance's own). */
export const STREAM_NEXT_HEADER = 'Crius-Stream-Next';
/** With "more", and on every request for the next item: which stream. */
export const STREAM_ID_HEADER = 'Crius-Stream-Id';

/**
 * An error message as a header value: NATS refuses CR and LF there (the reply then never goes
 * out and the caller waits for its deadline), and a runc stderr has several lines.
 */
export function headerText(message: string): string {
  return message.trim().replace(/\s*[\r\n]+\s*/g, ' | ');
}
