/**
 * The runtime's public API. Generated code imports only from here (`promiscuous/runtime`).
 */
export { routingKey, topicMatches } from '../common/topic.js';
export { AmqpTransport } from '../transport/amqp/amqp-transport.js';
export type { AmqpOptions } from '../transport/amqp/options.js';
export { MemoryTransport, NullTransport } from '../transport/memory/memory-transport.js';
export { RedisCoordinator, type WaitingMessage } from '../transport/redis/coordinator.js';
export type {
  Consumer,
  Delivery,
  Listener,
  OutgoingMessage,
  ParkedMessage,
  QueueStats,
  Transport,
} from '../transport/transport.js';
export { databaseFromUrl, type RuntimeSettings, runtimeSettings } from '../common/settings.js';
export { type SignatureConfig, type SignatureSettings, signatureSettings } from '../common/signature-settings.js';
export * from './contract.js';
export * from './envelope.js';
export * from '../common/errors.js';
export { type LogFields, type LogFn, type Logger, type LogLevel, silentLogger } from '../common/logger.js';
export * from './factories.js';
export { listeningPort, type ReadinessChecks, serveMetrics } from './observability/http.js';
export { defaultMetrics, Metrics } from './observability/metrics.js';
export {
  type PublisherStatus,
  publisherStatus,
  type SubscriberStatus,
  subscriberStatus,
} from './observability/status.js';
export { traceCarrier, tracerName, withApplySpan } from './observability/tracing.js';
export { type Context, Publisher, type PublisherOptions, type VirtualFunctions } from './publisher/publisher.js';
export { AcknowledgementTimeout, type TransactionOptions } from './publisher/acks.js';
export {
  checkShard,
  type InitialSyncOptions,
  type InitialSyncResult,
  initialSync,
  jobName,
  syncProgressTable,
} from './publisher/initial-sync.js';
export { outboxTable, sinksTable, versionsTable } from './db/tables.js';
export { outboxBacklog } from './publisher/outbox.js';
export { Relay, type RelayOptions, toOutgoing } from './publisher/relay.js';
export { type LiveFilter } from './live/connection.js';
export { type LiveChangesHandler, type LiveChangesOptions, liveChanges } from './live/changes.js';
export type { LiveChange } from '../transport/redis/live-feed.js';
export {
  generateKeyPair,
  keyId,
  type PrivateKeyInput,
  type PublicKeyInput,
  privateKey,
  publicKey,
  publicKeyText,
} from './signatures/keys.js';
export { Signer, signingTransport } from './signatures/signer.js';
export { type SignatureFailure, type SignatureOptions } from './signatures/verifier.js';
export { Subscriber, type SubscriberMode, type SubscriberOptions } from './subscriber/subscriber.js';
export { type ResyncRequest, resyncQueueApp, resyncRequestKey, syncReplyKey } from './resync.js';
export { lazyValidators, validateEnvelope } from './validators.js';
