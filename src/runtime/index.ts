/**
 * The runtime's public API. Generated code imports only from here (`promiscuous/runtime`).
 */
export * from './contract.js';
export * from './envelope.js';
export * from './factories.js';
export { routingKey, topicMatches } from '../shared/topic.js';
