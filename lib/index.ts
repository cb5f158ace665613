/*
 * The public API of vcs-agent. Everything importable is named here; nothing else is public.
 */

// Agent side
export { TunnelClient, AGENT_VERSION } from './agent/tunnel-client.js';
export type { TunnelClientOptions, TunnelClientEvents, TunnelClientState, TunnelConnectionInfo, ConnectionSlotState } from './agent/tunnel-client.js';
export { MAX_GATEWAY_CONNECTIONS } from './agent/tunnel-client-options.js';
export type { TunnelProtocol, SpaceliftProtocolOptions } from './agent/tunnel-client-options.js';
export type { AgentRequestRecord, ExchangeDebugEvent } from './agent/agent-stream.js';
export type { BackoffOptions } from './agent/backoff.js';
export { AgentMetrics } from './agent/agent-metrics.js';
export type { AgentMetricsOptions, MetricsSource } from './agent/agent-metrics.js';
export { HealthServer } from './agent/health-server.js';
export type { HealthServerOptions, HealthSource } from './agent/health-server.js';
export { createDebugPrinter, isDebugSecretHeader, redactBodyText } from './agent/debug-printer.js';
export type { DebugPrinterOptions } from './agent/debug-printer.js';

// Proxies (HTTPS_PROXY / NO_PROXY semantics, CONNECT tunnels) and GODEBUG tracing
export {
  connectGatewaySocket,
  createUpstreamAgent,
  createUpstreamDispatcher,
  displayProxy,
  isLoopbackTarget,
  isNoProxyMatch,
  parseProxyUrl,
  proxyEnvironmentFrom,
  resolveProxy,
  ProxyAuthenticationError,
  ProxyError,
} from './proxy/index.js';
export type {
  ConnectGatewaySocketOptions,
  CreateUpstreamAgentOptions,
  CreateUpstreamDispatcherOptions,
  ProxyEnvironment,
  ProxyTlsOptions,
  ProxyVariable,
  UpstreamAgent,
  UpstreamDispatcher,
} from './proxy/index.js';
export { traceHttp2Socket, parseGodebug, goLogTimestamp } from './trace/index.js';
export type { Http2TraceOptions, GodebugSettings } from './trace/index.js';

// Gateway side
export { Gateway } from './gateway/gateway.js';
export type { GatewayOptions, GatewayRequestInit, GatewayEvents, AccessLogRecord, ExchangeControl, DisconnectReason, SpaceliftGatewayOptions } from './gateway/gateway.js';
export type { GatewayResponse } from './gateway/gateway-response.js';
export type { AgentListenerTls } from './gateway/agent-server.js';
export type { AgentConnectionInfo, AgentProtocol } from './gateway/agent-connection.js';
export type { ExchangeHandler, ExchangeRequest } from './gateway/exchange.js';
export { FrontDoor } from './gateway/front-door.js';
export type { FrontDoorOptions } from './gateway/front-door.js';
export { parsePrivateUrl } from './gateway/private-url.js';
export type { PoolTarget } from './gateway/private-url.js';
export { AdminServer } from './gateway/admin/admin-server.js';
export type { AdminServerOptions, AdminPool } from './gateway/admin/admin-server.js';
export { AdminClient, AdminApiError } from './gateway/admin/admin-client.js';
export type { AdminClientOptions } from './gateway/admin/admin-client.js';
export {
  AdminUnauthorizedError,
  AdminRouteNotFoundError,
  AdminMethodNotAllowedError,
  AdminBodyError,
  AdminRateLimitedError,
} from './gateway/admin/admin-errors.js';
export { AccessLog } from './gateway/access-log.js';
export type { AccessLogEntry, AccessLogFilter, AccessLogOptions, AccessLogSink, AccessDecision, AccessOutcome } from './gateway/access-log.js';
export { GatewayMetrics } from './gateway/gateway-metrics.js';
export type { GatewayMetricsOptions } from './gateway/gateway-metrics.js';

// Replicated gateway (Redis)
export { GatewayCluster } from './gateway/cluster/gateway-cluster.js';
export type { GatewayClusterOptions, ClusterTarget } from './gateway/cluster/gateway-cluster.js';
export { LiveRegistry } from './gateway/cluster/live-registry.js';
export type { LiveRegistryOptions, RegistrySource, ReplicaEntry, ReplicaPoolLoad, ReplicaConnectionInfo, PeerCandidate } from './gateway/cluster/live-registry.js';
export { ClusterView } from './gateway/cluster/cluster-view.js';
export type { LocalView } from './gateway/cluster/cluster-view.js';
export { checkPeerToken, parsePeerUrl } from './gateway/cluster/peer-options.js';
export type { PeerOptions, PeerTlsOptions } from './gateway/cluster/peer-options.js';
export { ClusterHealth, watchRedis } from './gateway/cluster/cluster-health.js';
export type { HealthReporter, ComponentHealth } from './gateway/cluster/cluster-health.js';
export { PoolChangeFeed } from './gateway/cluster/pool-change-feed.js';
export type { PoolChangeFeedOptions, PoolChangeTarget } from './gateway/cluster/pool-change-feed.js';
export { SharedAccessLog } from './gateway/cluster/shared-access-log.js';
export type { SharedAccessLogOptions } from './gateway/cluster/shared-access-log.js';

// Pools and tokens
export type { PoolStore, PoolRecord } from './pools/pool-store.js';
export { FilePoolStore } from './pools/file-pool-store.js';
export { MemoryPoolStore } from './pools/memory-pool-store.js';
export { RedisPoolStore, DEFAULT_REDIS_KEY_PREFIX, poolChangeChannel } from './pools/redis-pool-store.js';
export type { RedisPoolStoreOptions, PoolChange } from './pools/redis-pool-store.js';
export { createPool, validatePoolName, rotatePoolKey, updatePoolDescription, poolSummary } from './pools/pool-service.js';
export type { CreatePoolOptions, CreatedPool, RotatePoolKeyOptions, RotatedPool, PoolSummary } from './pools/pool-service.js';
export { matchPoolKey } from './pools/pool-key-check.js';
export { generatePoolKey, hashPoolKey, verifyPoolKey } from './pools/pool-key.js';
export { encodePoolToken, decodePoolToken } from './protocol/token.js';
export type { PoolToken } from './protocol/token.js';
export { PROTOCOL_VERSION } from './protocol/constants.js';

// Request policy and vendors
export type { RequestPolicy, PolicyRequest, PolicyDecision, PolicyAllow, PolicyDeny, RedirectPolicy, RedirectStep } from './policy/request-policy.js';
export { buildOutboundHeaders } from './policy/outbound-headers.js';
export { checkCanonicalTarget } from './policy/canonical-path.js';
export { escapeLogValue, redactPathForLog } from './policy/log-sanitize.js';
export {
  createVendorPolicy,
  defineVendor,
  isVendorName,
  ruleKey,
  InvalidVendorError,
  VENDOR_NAMES,
  VENDORS,
  RULE_METHODS,
  MAX_REDIRECT_HOPS,
  DEFAULT_ALLOWED_COLLECTIONS,
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
  GraphqlOperation,
  BodyInspection,
  BodyVerdict,
} from './vendors/index.js';

// Read-only git smart HTTP for a vendor (docs/git.md)
export { withGitSmartHttp, gitSmartHttpRules, GIT_PUSH_DENIED } from './vendors/git-smart-http.js';
export type { GitSmartHttpShape } from './vendors/git-smart-http.js';

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
  PoolStoreUnavailableError,
  ClosedError,
  HeadersTimeoutError,
  BodyIdleTimeoutError,
  RequestTimeoutError,
  ResponseTooLargeError,
  BodyTooLargeError,
  HeaderNotRepresentableError,
  PeerFailedError,
  PeerUnauthorizedError,
  ForwardLoopError,
} from './errors.js';
