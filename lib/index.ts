/*
 * The public API of vcs-agent. Everything importable is named here; nothing else is public.
 */

// Agent side
export { TunnelClient, AGENT_VERSION } from './agent/tunnel-client.js';
export type { TunnelClientOptions, TunnelClientEvents, TunnelClientState } from './agent/tunnel-client.js';
export type { AgentRequestRecord, ExchangeDebugEvent } from './agent/agent-stream.js';
export type { BackoffOptions } from './agent/backoff.js';

// Gateway side
export { Gateway } from './gateway/gateway.js';
export type { GatewayOptions, GatewayRequestInit, GatewayEvents, AccessLogRecord, ExchangeControl } from './gateway/gateway.js';
export type { GatewayResponse } from './gateway/gateway-response.js';
export type { AgentConnectionInfo } from './gateway/agent-connection.js';
export type { ExchangeHandler, ExchangeRequest } from './gateway/exchange.js';
export { FrontDoor } from './gateway/front-door.js';
export { parsePrivateUrl } from './gateway/private-url.js';
export type { PoolTarget } from './gateway/private-url.js';

// Pools and tokens
export type { PoolStore, PoolRecord } from './pools/pool-store.js';
export { FilePoolStore } from './pools/file-pool-store.js';
export { MemoryPoolStore } from './pools/memory-pool-store.js';
export { createPool, validatePoolName } from './pools/pool-service.js';
export type { CreatePoolOptions, CreatedPool } from './pools/pool-service.js';
export { generatePoolKey, hashPoolKey, verifyPoolKey } from './pools/pool-key.js';
export { encodePoolToken, decodePoolToken } from './protocol/token.js';
export type { PoolToken } from './protocol/token.js';
export { PROTOCOL_VERSION } from './protocol/constants.js';

// Request policy and vendors
export type { RequestPolicy, PolicyRequest, PolicyDecision, PolicyAllow, PolicyDeny } from './policy/request-policy.js';
export { buildOutboundHeaders } from './policy/outbound-headers.js';
export {
  createVendorPolicy,
  defineVendor,
  isVendorName,
  ruleKey,
  InvalidVendorError,
  VENDOR_NAMES,
  VENDORS,
  RULE_METHODS,
  gitlab,
  githubEnterprise,
  azureDevops,
  bitbucketDatacenter,
} from './vendors/index.js';
export type {
  VendorName,
  VendorDefinition,
  VendorDefinitionInput,
  VendorRule,
  VendorPolicyOptions,
  RuleMethod,
  RuleScope,
  RuleParams,
  RuleContext,
  ProjectRef,
} from './vendors/index.js';

// Logging and errors
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export {
  VcsAgentError,
  InvalidOptionError,
  InvalidTokenError,
  AuthenticationError,
  GatewayConnectionError,
  PoolNotFoundError,
  PoolExistsError,
  NoAgentError,
  PoolBusyError,
  InvalidRequestUrlError,
  TunnelStreamError,
  RequestAbortedError,
  ProtocolError,
  UpstreamError,
  PoolStoreError,
  ClosedError,
} from './errors.js';
