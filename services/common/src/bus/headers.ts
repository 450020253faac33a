// Header names carried on bus requests and replies. Errors use the NATS
// service framework's own headers, with a gRPC status code as the code.

export { ServiceErrorCodeHeader as ERROR_CODE_HEADER, ServiceErrorHeader as ERROR_MESSAGE_HEADER } from 'nats';

/** Absolute deadline of the caller, Unix epoch milliseconds. */
export const DEADLINE_HEADER = 'Crius-Deadline';
/** The gateway's request id, so one call can be followed across processes. */
export const REQUEST_ID_HEADER = 'Crius-Request-Id';
/** Marks the last message of a streamed reply. */
export const STREAM_END_HEADER = 'Crius-Stream-End';
