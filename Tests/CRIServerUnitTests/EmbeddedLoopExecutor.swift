import NIOCore
import NIOEmbedded

/// Runs tasks as jobs on an `EmbeddedEventLoop`: the connection's handlers then run when the test runs the
/// loop, on the test's thread, one step at a time, and what they write can be read frame by frame.
final class EmbeddedLoopExecutor: TaskExecutor {
  let loop: EmbeddedEventLoop

  init(_ loop: EmbeddedEventLoop) {
    self.loop = loop
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
  }
}
