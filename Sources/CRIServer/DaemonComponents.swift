import Images
import Runtime
import Streaming

/// The daemon's long-lived parts once started, handed from start-up to the service group.
struct DaemonComponents {
  let node: NodeContext
  let images: ImageManager
  let runtime: RuntimeManager
  let streaming: StreamServer
  /// Nil when `metrics.address` is empty (the default).
  let metrics: MetricsServer?
}
