/** The table a publisher writes its messages to in the transaction of their change. */
export const outboxTable = 'promiscuous_outbox';

/** The table a subscriber records each object's applied version in, in the transaction that applies it. */
export const versionsTable = 'promiscuous_versions';

/** The table a subscriber records the payload each sink last sent in, in the transaction that applies it. */
export const sinksTable = 'promiscuous_sinks';
