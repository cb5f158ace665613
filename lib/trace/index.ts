// Public surface of the HTTP/2 tracer (GODEBUG=http2debug=1|2).
export { traceHttp2Socket, type Http2TraceOptions } from './http2-trace.js';
export { parseGodebug, type GodebugSettings } from './godebug.js';
export { goLogTimestamp } from './go-log.js';
