import Config
import CrispCore
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Installs the OpenTelemetry tracer when `tracing.endpoint` is set, and nothing otherwise.
///
/// Why nothing: with no tracer bootstrapped swift-distributed-tracing's no-op tracer stays in place, the gRPC
/// server gets no ``CallTracer`` (calls keep no headers, start no span) and ``CrispCore/withChildSpan`` finds
/// no context, so an untraced node pays nothing. When on, spans go through swift-otel's batch processor
/// (sent every few seconds, and flushed when the daemon stops) to an OTLP exporter over gRPC or
/// HTTP/protobuf. The standard `OTEL_*` environment variables (e.g. `OTEL_BSP_SCHEDULE_DELAY`) still apply
/// on top of the file, as for any OpenTelemetry SDK. Only traces: crisp's logs and metrics keep their own
/// outputs.
enum TracingSetup {
  /// Bootstraps the tracer; the returned service exports spans and must run for the daemon's life. Nil when
  /// tracing is off. Called once per process (swift-distributed-tracing allows one bootstrap).
  static func bootstrap(_ config: CrispConfig.Tracing, logger: Logger) throws(CrispError) -> (any Service)? {
    guard config.enabled else { return nil }
    var otel = OTel.Configuration.default
    otel.serviceName = config.serviceName
    otel.diagnosticLogger = .custom(logger)
    otel.diagnosticLogLevel = .warning
    otel.propagators = [.traceContext]
    otel.logs.enabled = false
    otel.metrics.enabled = false
    otel.traces.enabled = true
    otel.traces.exporter = .otlp
    otel.traces.otlpExporter.endpoint = config.exportURL
    otel.traces.otlpExporter.protocol = config.exportProtocol == .grpc ? .grpc : .httpProtobuf
    // The loader has checked the range; a caller's sampling decision (kubelet's traceparent flags) wins.
    guard let sampler = OTel.Configuration.TracesConfiguration.SamplerConfiguration.parentBasedTraceIDRatio(ratio: config.samplingRatio)
    else { throw CrispError.invalidArgument("tracing.sampling_ratio: must be between 0.0 and 1.0, found \(config.samplingRatio)") }
    otel.traces.sampler = sampler
    do {
      // In this order: AsyncHTTPClient takes the global tracer when a client is made, so the exporter's own
      // client (made here) keeps the no-op one and its exports are not traced (and exported, and traced …),
      // while the registry client, made later, traces each registry request under its pull.
      let backend = try OTel.makeTracingBackend(configuration: otel)
      InstrumentationSystem.bootstrap(backend.factory)
      logger.info(
        "tracing on",
        metadata: [
          "endpoint": "\(config.exportURL)", "protocol": "\(config.exportProtocol.rawValue)", "sampling_ratio": "\(config.samplingRatio)",
        ])
      return backend.service
    } catch {
      throw CrispError(.failedPrecondition, "tracing: cannot set up the OTLP exporter for \(config.exportURL): \(error)")
    }
  }
}
