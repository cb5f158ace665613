/*
 * The Spacelift protocol's constants, apart from its schema: this module loads nothing, so
 * option checks can use them without loading gRPC (privatevcs-schema.ts imports
 * @grpc/grpc-js and @grpc/proto-loader, ~18 MiB of RSS a process of ours that does not speak
 * the protocol must not carry; spec/cli/startup-modules.spec.ts holds the line).
 */

/** gRPC method path of the one RPC (`/privatevcs.Gateway/Connect`). */
export const SPACELIFT_CONNECT_PATH = '/privatevcs.Gateway/Connect';

/** gRPC metadata keys the agent authenticates with (privatevcs/privatevcs.go). */
export const SPACELIFT_METADATA_POOL_ULID = 'vcs-agent-pool-ulid';
export const SPACELIFT_METADATA_KEY = 'vcs-agent-key';
export const SPACELIFT_METADATA_TAGS = 'vcs-agent-metadata';

/** gRPC's default maximum message size (4 MiB), which caps a whole body on this protocol. */
export const SPACELIFT_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
