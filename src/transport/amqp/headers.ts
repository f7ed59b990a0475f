/**
 * The headers a copy of a message carries when it is retried, deferred or parked, named once
 * for the code that writes them (delivery.ts, publish.ts) and the code that reads them back
 * (there, and parked.ts).
 */

/** How many times the message was retried before this copy. */
export const attemptHeader = 'x-promiscuous-attempt';
/** Why the message was parked. */
export const reasonHeader = 'x-promiscuous-reason';
/** When the message was parked (ms since the epoch). */
export const parkedAtHeader = 'x-promiscuous-parked-at';
/** When the subscriber first deferred the message to wait for a dependency (ms since the epoch). */
export const waitingHeader = 'x-promiscuous-waiting-since';
/** Tells a copy the broker returned (its queue is gone) from the others in flight on its channel; never shown to a handler. */
export const returnTagHeader = 'x-promiscuous-return-tag';
/**
 * The signature of the message (a string), or of each message of a frame (a list in the order of
 * the frame's ids, `''` for one sent unsigned). A copy carries its own message's alone.
 */
export const signatureHeader = 'x-promiscuous-signature';
