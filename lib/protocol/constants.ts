/** Version of the agent↔gateway protocol in docs/protocol.md; sent by the agent, checked by the gateway. */
export const PROTOCOL_VERSION = '1';

/** HTTP/2 paths the agent opens on the gateway. */
export const CONNECT_PATH = '/v1/agent/connect';
export const STREAM_PATH = '/v1/agent/stream';

/** Request headers of the agent's connect stream. */
export const HEADER_PROTOCOL = 'vcs-agent-protocol';
export const HEADER_POOL = 'vcs-agent-pool';
export const HEADER_AGENT_ID = 'vcs-agent-id';
export const HEADER_AGENT_VERSION = 'vcs-agent-version';
export const HEADER_VENDOR = 'vcs-agent-vendor';
export const HEADER_PARALLELISM = 'vcs-agent-parallelism';
export const HEADER_METADATA = 'vcs-agent-metadata';
/** Response header of the connect stream: the id the gateway gave this connection. */
export const HEADER_CONNECTION_ID = 'vcs-agent-connection-id';

/** Bounds on metadata tags sent by the agent (a header, so they must stay small). */
export const MAX_METADATA_TAGS = 32;
export const MAX_METADATA_KEY_LENGTH = 64;
export const MAX_METADATA_VALUE_LENGTH = 256;
