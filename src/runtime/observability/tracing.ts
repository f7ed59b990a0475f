import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Envelope } from '../envelope.js';

/**
 * Trace context from the publisher's transaction to the subscriber's apply, through the
 * OpenTelemetry API only: the application registers an SDK (its tracer provider, context
 * manager and propagator) or none. With none registered, every call here is the API's no-op:
 * nothing is injected, and the apply span is a non-recording one.
 */

/** The tracer's name, as exporters show it. */
export const tracerName = 'promiscuous';

/**
 * The active context as the registered propagator writes it (W3C: `traceparent`, and
 * `tracestate` when set), for an envelope's `trace`; nothing when no span is active.
 */
export function traceCarrier(): { trace?: Record<string, string> } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? { trace: carrier } : {};
}

/**
 * Runs the apply of a message in a span `promiscuous apply <app>`, the child of the
 * publisher's span that the envelope carries (or of the active context when it carries none).
 */
export function withApplySpan<T>(app: string, envelope: Envelope, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = envelope.trace ? propagation.extract(ROOT_CONTEXT, envelope.trace) : context.active();
  return trace.getTracer(tracerName).startActiveSpan(`promiscuous apply ${app}`, consumer, parent, async (span) => {
    // Attributes only for a span that records: without an SDK, the apply allocates nothing more.
    if (span.isRecording()) {
      span.setAttributes({
        'messaging.system': 'promiscuous',
        'messaging.operation.type': 'process',
        'messaging.message.id': envelope.id,
        'promiscuous.publisher': envelope.app,
        'promiscuous.operations': envelope.operations.length,
      });
    }
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error as Error);
      throw error;
    } finally {
      span.end();
    }
  });
}

const consumer = { kind: SpanKind.CONSUMER };

/** What a sink span says of its send. */
export interface SinkSpanAttributes {
  readonly endpoint: string;
  readonly operation: string;
  readonly version: number;
}

/**
 * Runs a sink's send in a span `promiscuous sink <name>`, the child of the apply span of the
 * message (the active context is another message's when several share a transaction).
 */
export function withSinkSpan<T>(
  sink: string,
  apply: Span | undefined,
  attributes: SinkSpanAttributes,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = apply ? trace.setSpan(context.active(), apply) : context.active();
  return trace.getTracer(tracerName).startActiveSpan(`promiscuous sink ${sink}`, client, parent, async (span) => {
    if (span.isRecording()) {
      span.setAttributes({
        'promiscuous.sink': sink,
        'promiscuous.endpoint': attributes.endpoint,
        'promiscuous.operation': attributes.operation,
        'promiscuous.version': attributes.version,
      });
    }
    try {
      return await fn();
    } catch (error) {
      markFailed(span, error as Error);
      throw error;
    } finally {
      span.end();
    }
  });
}

const client = { kind: SpanKind.CLIENT };

/** Marks a span as failed with the error. */
export function markFailed(span: Span, error: Error): void {
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}
