import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on each SIGHUP (`systemctl reload crisp`), as a service of the daemon's group.
///
/// The signal sequence is created by the daemon before it reports ready, so a SIGHUP that arrives early is
/// queued for this service rather than killing the process (SIGHUP's default action).
struct ConfigReloadService: Service {
  let signals: UnixSignalsSequence
  let reloader: ConfigReloader

  func run() async {
    await cancelWhenGracefulShutdown {
      for await _ in signals {
        await reloader.reload()
      }
    }
  }
}
