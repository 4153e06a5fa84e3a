import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The issuer's Prometheus metrics. A registry per issuer (not prom-client's global one) so
 * several issuers can live in one process, as they do in tests.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly tokensMinted = new Counter({
    name: 'wfid_tokens_minted_total',
    help: 'Identity tokens minted',
    labelNames: ['backend', 'alg'] as const,
    registers: [this.registry],
  });
  readonly signSeconds = new Histogram({
    name: 'wfid_sign_duration_seconds',
    help: 'Time the key backend took to sign one token',
    labelNames: ['backend', 'alg'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly introspections = new Counter({
    name: 'wfid_introspections_total',
    help: 'Introspection requests by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly httpErrors = new Counter({
    name: 'wfid_http_errors_total',
    help: 'HTTP error answers by OAuth error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly executionsStarted = new Counter({
    name: 'wfid_executions_started_total',
    help: 'Executions registered by the engine',
    registers: [this.registry],
  });
  readonly executionsEnded = new Counter({
    name: 'wfid_executions_ended_total',
    help: 'Executions ended by the engine, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly auditWritten = new Counter({
    name: 'wfid_audit_events_written_total',
    help: 'Audit events written to the store',
    registers: [this.registry],
  });
  readonly auditDropped = new Counter({
    name: 'wfid_audit_events_dropped_total',
    help: 'Audit events dropped: queue full, or store unreachable for longer than the queue holds',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'wfid_audit_write_failures_total',
    help: 'Audit batches the store refused or could not take (retried)',
    registers: [this.registry],
  });
  readonly auditQueued = new Gauge({
    name: 'wfid_audit_queue_length',
    help: 'Audit events waiting to be written',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
