import NIOCore
import NIOPosix

/// Where the gRPC server's own tasks run: on the single event loop thread that also owns the CRI socket.
///
/// A call handled in Swift's concurrency pool crosses threads several times (the loop reads the request and
/// wakes a pool thread, the handler's writes wake the loop again); on a small node each wake-up costs more
/// than answering `ListContainers` itself. With the server's tasks preferring this executor, a quick call
/// is read, answered and written on one thread. Calls that do real work leave it at once
/// (``CRIMethods`` marks which stay; the rest run in the global pool), so the loop never waits on a mount, a pull or runc.
final class EventLoopTaskExecutor: TaskExecutor {
  /// One thread: the socket's connections and the quick calls share it.
  let group: MultiThreadedEventLoopGroup
  private let loop: any EventLoop

  init() {
    group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    loop = group.next()
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
  }
}
