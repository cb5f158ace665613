import type { Settings } from 'node:http2';

/*
 * HTTP/2 tuning shared by the agent and the gateway (docs/protocol.md § Settings).
 *
 * - Stream window 1 MiB: Node's default 64 KiB (RFC 9113 §6.9.2) caps one stream near
 *   500 MiB/s on loopback and a few MiB/s at 10 ms RTT; 1 MiB reached ~1 GiB/s on loopback.
 * - Connection window 4 MiB: set with setLocalWindowSize() once the session has connected
 *   (it throws before that, nodejs/node#38427). Larger windows bought nothing on loopback and
 *   deadlocked full-duplex bulk transfers at 32/64 MiB, because Node stops reading a socket
 *   while a write is pending; spec/end-to-end/full-duplex.spec.ts proves 4 MiB does not.
 *   These are the base windows; flow-window.ts grows them with the measured BDP.
 * - maxSessionMemory 64 (MB): the default 10 resets streams with ENHANCE_YOUR_CALM when
 *   many streams write 1 MiB chunks at once.
 * - Frame size 128 KiB: a socket read from the VCS is up to 64 KiB and goes out as one
 *   5-byte frame header plus the chunk; with a 64 KiB limit every chunk became two DATA
 *   frames (64 KiB + 5 bytes) and the gateway two writes to its caller. 128 KiB carries it
 *   in one (RFC 9113 §4.2 allows 16 KiB to 16 MiB) without letting one stream's frame hold
 *   the connection long enough to delay other streams' small responses.
 * - maxConcurrentStreams 1024 on the gateway: must exceed the largest parallelism an agent
 *   may ask for (256) plus its control stream, or stream opens would queue.
 * - Header lists up to 256 KiB: VCS responses (Link, Set-Cookie, CSP) can be large, and a
 *   head frame rides in DATA, but the agent's connect headers carry its metadata tags.
 */
export const STREAM_WINDOW_SIZE = 1024 * 1024;
export const CONNECTION_WINDOW_SIZE = 4 * 1024 * 1024;
/*
 * The largest window the BDP estimator grants (flow-window.ts), per stream and for the
 * connection: 32 MiB. nghttp2 may withhold up to half a window of credit (bdp-estimator.ts),
 * so a window carries between half and all of itself per round trip: at 40 ms RTT 32 MiB is
 * 400–800 MiB/s on one stream. gRPC's 16 MiB held the tunnel to 8 MiB per round trip
 * (200 MiB/s) through a 40 ms link; 64 MiB measured no faster than 32 there (the two
 * processes' CPU was the limit, docs/performance.md § Run 12). Granted only to one-way bulk
 * on links with a real round trip, never while data flows both ways; it is also what one
 * connection's receiver may have to buffer for a caller that stopped reading.
 */
export const MAX_WINDOW_SIZE = 32 * 1024 * 1024;
export const MAX_SESSION_MEMORY_MB = 64;
/*
 * How much a relay lets queue on the side it writes to before it stops reading its source:
 * the agent writing a VCS response onto a tunnel stream or a request body to the VCS, the
 * gateway writing a response to its caller or a peer. Streams say "full" at their 16 KiB
 * highWaterMark, less than one 64 KiB read: pausing there paused on every chunk, and a paused
 * HTTP/2 stream stops returning window to its sender, so transfers went stop-and-go, and over
 * a WAN link each stop cost a round trip. 1 MiB, the base stream window, bounds memory per
 * stream. The gateway writing a caller's upload onto a tunnel stream kept the 16 KiB mark
 * until run 17: chunks held up to 1 MiB outlived its small young generation, and only full
 * GCs freed them (70 mark-compacts per 1.25 GiB uploaded against 1). Since the CLI's GC pacer
 * scavenges every 4 MiB of body (cli/gc-pacer.ts), a chunk queued for less than that dies
 * young: at 1 MiB, 1 mark-compact per 4.3 GiB uploaded, and the gateway's CPU per uploaded
 * MiB fell from 1 266-1 414 to 1 019-1 079 µs, pausing and resuming the caller's socket no
 * longer once per chunk (docs/performance.md § Run 17). An embedder without a pacer has V8's own
 * young-generation pace, as for the other directions.
 */
export const RELAY_BUFFER_BYTES = 1024 * 1024;
export const MAX_FRAME_SIZE = 128 * 1024;
export const MAX_CONCURRENT_STREAMS = 1024;
export const MAX_HEADER_LIST_SIZE = 256 * 1024;
export const MAX_PARALLELISM = 256;

export const localSettings: Settings = Object.freeze({
  initialWindowSize: STREAM_WINDOW_SIZE,
  maxFrameSize: MAX_FRAME_SIZE,
  maxHeaderListSize: MAX_HEADER_LIST_SIZE,
  enablePush: false,
});

export const gatewaySettings: Settings = Object.freeze({
  ...localSettings,
  maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
});
