import CLinux
import CrispCore
import Dispatch
import Foundation
import Runtime

/// Runs one command session (exec or attach) between a client and a container, whatever the transport.
protocol CommandBackend: Sendable {
  /// Runs until the command ends (or, for attach, the container exits or the client leaves).
  func run(options: StreamOptions, output: any SessionOutput, input: AsyncStream<ClientInput>) async -> CommandOutcome
}

/// Copies a descriptor's bytes to the client on a thread of its own (a blocking read, then a write that
/// waits for the client), so a slow client slows the producer instead of filling memory.
enum OutputPump {
  static func start(_ fd: Int32, to stream: CommandStream, output: any SessionOutput, onClientGone: @escaping @Sendable () -> Void) -> DispatchGroup {
    start(fd, closing: true, deliver: { output.writeWaiting(stream, $0) }, onEnd: {}, onRefused: onClientGone)
  }

  /// Reads `fd` until end of file, handing each chunk to `deliver` (which blocks until the client took it,
  /// and returns false once the client is gone: then `onRefused` runs and reading stops). `onEnd` runs last;
  /// with `closing` the descriptor is closed too (a socket still written by others is left open).
  @discardableResult
  static func start(
    _ fd: Int32, closing: Bool, deliver: @escaping @Sendable ([UInt8]) -> Bool, onEnd: @escaping @Sendable () -> Void,
    onRefused: @escaping @Sendable () -> Void = {}
  ) -> DispatchGroup {
    let group = DispatchGroup()
    group.enter()
    let thread = Thread {
      var buffer = [UInt8](repeating: 0, count: 256 * 1024)
      while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        // EOF, or EIO from a pty whose last writer is gone.
        if n <= 0 { break }
        if !deliver(Array(buffer[0..<n])) {
          onRefused()
          break
        }
      }
      if closing { close(fd) }
      onEnd()
      group.leave()
    }
    thread.start()
    return group
  }
}

/// `runc exec` of a command with the client's streams: pipes, or a terminal runc relays to a pty of
/// crisp's. The exec'd process joins the container's namespaces and cgroup (runc does that); when the client
/// goes away it is killed.
struct ExecBackend: CommandBackend {
  let target: ExecTarget
  let command: [String]

  func run(options: StreamOptions, output: any SessionOutput, input: AsyncStream<ClientInput>) async -> CommandOutcome {
    let name = "exec-" + UUID().uuidString.prefix(8).lowercased()
    let pidFile = ExecPIDFile(path: target.directory + "/\(name).pid")
    defer { pidFile.remove() }
    let arguments = target.runtime.globalArguments + ["exec", "--pid-file", pidFile.path]
    // runc's pid, known once it is spawned; until runc is reaped its pid cannot be reused.
    let runcPID = LockedBox<Int32>(0)
    let killCommand: @Sendable () -> Void = { pidFile.killCommand(parent: runcPID.get()) }
    let spawned: Result<Spawned, ExecFailure> =
      options.tty
      ? spawnWithTerminal(arguments, options: options, output: output, killCommand: killCommand)
      : spawnWithPipes(arguments, options: options, output: output, killCommand: killCommand)
    let exec: Spawned
    switch spawned {
    case .success(let value): exec = value
    case .failure(let failure): return .failed(failure.message)
    }
    runcPID.set(exec.pid)
    // Resizes signal runc through a pidfd: never a process that took over its pid after it was reaped.
    let runcHandle = exec.terminalFD >= 0 ? crisp_pidfd_open(exec.pid) : -1
    let inputTask = Self.forwardInput(
      input, stdinFD: exec.inputFD, terminalFD: exec.terminalFD, runcHandle: runcHandle, output: output, killCommand: killCommand)
    let pid = exec.pid
    let status = await onDedicatedThread { Subprocess.wait(pid) }
    for pump in exec.pumps { await onDedicatedThread { pump.wait() } }
    inputTask.cancel()
    await inputTask.value
    // No resize can come any more: the terminal and the pidfd are free to close.
    if exec.terminalFD >= 0 { close(exec.terminalFD) }
    if runcHandle >= 0 { close(runcHandle) }
    return .exited(status)
  }

  /// A running `runc exec`: its pid, where client input goes, the terminal (or -1) and the output pumps.
  private struct Spawned {
    var pid: Int32
    var inputFD: Int32
    var terminalFD: Int32
    var pumps: [DispatchGroup]
  }

  private struct ExecFailure: Error {
    var message: String
  }

  /// runc allocates the container's terminal and, not detached, relays it to its own stdio; its stdio is a
  /// pty of crisp's (so runc puts it in raw mode and reads its size). A resize sets that pty's size and tells
  /// runc with SIGWINCH, which copies the size to the container's terminal.
  private func spawnWithTerminal(
    _ arguments: [String], options: StreamOptions, output: any SessionOutput, killCommand: @escaping @Sendable () -> Void
  ) -> Result<Spawned, ExecFailure> {
    var master: Int32 = -1, slave: Int32 = -1
    guard crisp_openpty(&master, &slave) == 0 else { return .failure(ExecFailure(message: "exec: openpty: \(String(cString: strerror(errno)))")) }
    // Raw from the start, as runc sets it once it runs: input that arrives earlier must not meet a line
    // discipline of crisp's own, which echoes it back to the client and stores the end-of-input character
    // (crisp's stdin close) as a NUL marker that reaches the container as a NUL byte once the terminal turns
    // raw, so the command never sees its end of input.
    var mode = termios()
    guard tcgetattr(slave, &mode) == 0 else { return Self.failed("tcgetattr", closing: master, slave) }
    cfmakeraw(&mode)
    guard tcsetattr(slave, TCSANOW, &mode) == 0 else { return Self.failed("tcsetattr", closing: master, slave) }
    let pid: Int32
    do {
      pid = try Subprocess.spawn(arguments + ["--tty", target.containerID] + command, stdin: slave, stdout: slave, stderr: slave)
    } catch {
      close(master)
      close(slave)
      return .failure(ExecFailure(message: "exec: \(error.message)"))
    }
    close(slave)
    return .success(
      Spawned(
        pid: pid, inputFD: options.stdin ? dup(master) : -1, terminalFD: dup(master),
        pumps: [OutputPump.start(master, to: .stdout, output: output, onClientGone: killCommand)]))
  }

  /// Closes the terminal pair and reports the call that failed.
  private static func failed(_ call: String, closing master: Int32, _ slave: Int32) -> Result<Spawned, ExecFailure> {
    let reason = String(cString: strerror(errno))
    close(master)
    close(slave)
    return .failure(ExecFailure(message: "exec: \(call) on the terminal: \(reason)"))
  }

  /// stdout and stderr on pipes of their own (1 MiB: bulk output such as `kubectl cp` arrives in large
  /// reads), stdin on a pipe when the client sends input.
  private func spawnWithPipes(
    _ arguments: [String], options: StreamOptions, output: any SessionOutput, killCommand: @escaping @Sendable () -> Void
  ) -> Result<Spawned, ExecFailure> {
    var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
    guard crisp_pipe_cloexec(&outPipe) == 0, crisp_pipe_cloexec(&errPipe) == 0, !options.stdin || crisp_pipe_cloexec(&inPipe) == 0 else {
      for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) }
      return .failure(ExecFailure(message: "exec: pipe: \(String(cString: strerror(errno)))"))
    }
    let pid: Int32
    do {
      pid = try Subprocess.spawn(arguments + [target.containerID] + command, stdin: inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
    } catch {
      for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) }
      return .failure(ExecFailure(message: "exec: \(error.message)"))
    }
    close(outPipe[1])
    close(errPipe[1])
    _ = crisp_set_pipe_size(outPipe[0], 1 << 20)
    _ = crisp_set_pipe_size(errPipe[0], 1 << 20)
    if inPipe[0] >= 0 { close(inPipe[0]) }
    return .success(
      Spawned(
        pid: pid, inputFD: inPipe[1], terminalFD: -1,
        pumps: [
          OutputPump.start(outPipe[0], to: .stdout, output: output, onClientGone: killCommand),
          OutputPump.start(errPipe[0], to: .stderr, output: output, onClientGone: killCommand),
        ]))
  }

  /// Client input: written in order on a queue of its own, since a full pipe blocks. The queue owns the stdin
  /// descriptor and closes it after the writes before it.
  private static func forwardInput(
    _ input: AsyncStream<ClientInput>, stdinFD: Int32, terminalFD: Int32, runcHandle: Int32, output: any SessionOutput,
    killCommand: @escaping @Sendable () -> Void
  ) -> Task<Void, Never> {
    let queue = DispatchQueue(label: "crisp.exec.stdin")
    return Task.detached {
      var stdinOpen = stdinFD >= 0
      for await event in input {
        switch event {
        case .stdin(let bytes):
          guard stdinOpen else {
            output.inputConsumed(bytes.count)
            continue
          }
          queue.async {
            _ = writeFully(stdinFD, bytes)
            output.inputConsumed(bytes.count)
          }
        case .stdinClosed:
          guard stdinOpen else { continue }
          stdinOpen = false
          // A terminal's end of input is the EOF character, not a closed descriptor.
          if terminalFD >= 0 {
            queue.async { _ = writeFully(stdinFD, [4]) }
          } else {
            queue.async { close(stdinFD) }
          }
        case .resize(let width, let height):
          if terminalFD >= 0, runcHandle >= 0, crisp_set_window_size(terminalFD, width, height) == 0 {
            _ = crisp_pidfd_signal(runcHandle, SIGWINCH)
          }
          output.inputConsumed(0)
        case .disconnected:
          killCommand()
        }
      }
      if stdinFD >= 0 && (stdinOpen || terminalFD >= 0) { queue.async { close(stdinFD) } }
    }
  }
}

/// Attaches the client to a running container's stdio through its shim's control socket: output frames
/// (1 stdout, 2 stderr, 4 exited) come back, stdin frames (0 data, 3 close) go in. Several clients may attach
/// at once; each gets all output. Leaving does not stop the container.
struct AttachBackend: CommandBackend {
  let target: ExecTarget

  func run(options: StreamOptions, output: any SessionOutput, input: AsyncStream<ClientInput>) async -> CommandOutcome {
    let wantsStdin = options.stdin && target.stdin
    let socket: Int32
    switch await openAttach(wantsStdin: wantsStdin, options: options) {
    case .success(let fd): socket = fd
    case .failure(let failure): return .failed(failure.message)
    }
    // The queue owns the socket's writing side and closes the socket after the writes before it.
    let queue = DispatchQueue(label: "crisp.attach.stdin")
    let inputTask = forwardInput(input, socket: socket, wantsStdin: wantsStdin, queue: queue, output: output)
    await onDedicatedThread { Self.relayOutput(socket, to: output) }
    inputTask.cancel()
    await inputTask.value
    queue.async { close(socket) }
    return .exited(0)
  }

  private struct AttachFailure: Error {
    var message: String
  }

  /// Connects to the shim and asks it to attach the streams the client wants; the connected socket once the
  /// shim said `ok`.
  private func openAttach(wantsStdin: Bool, options: StreamOptions) async -> Result<Int32, AttachFailure> {
    let socket: Int32
    do {
      socket = try UnixSocket.connect(to: target.directory + "/shim.sock")
    } catch {
      return .failure(AttachFailure(message: "attach: the container's shim is not reachable: \(error)"))
    }
    let request = "attach \(wantsStdin ? 1 : 0) \(options.stdout ? 1 : 0) \(options.stderr || options.tty ? 1 : 0)\n"
    guard writeFully(socket, Array(request.utf8)) else {
      close(socket)
      return .failure(AttachFailure(message: "attach: the shim closed the connection"))
    }
    let answer: String = await onDedicatedThread {
      var line: [UInt8] = []
      var byte: UInt8 = 0
      while read(socket, &byte, 1) == 1 && byte != 10 { line.append(byte) }
      return String(decoding: line, as: UTF8.self)
    }
    guard answer == "ok" else {
      close(socket)
      return .failure(
        AttachFailure(
          message: "attach to container \(target.containerID): \(answer.isEmpty ? "the shim closed the connection" : answer)"))
    }
    return .success(socket)
  }

  /// Client input to the shim as frames (0 data, 3 close), resizes through the shim's control socket.
  private func forwardInput(
    _ input: AsyncStream<ClientInput>, socket: Int32, wantsStdin: Bool, queue: DispatchQueue, output: any SessionOutput
  ) -> Task<Void, Never> {
    let directory = target.directory
    // Closing the container's stdin for good is only right for stdin_once containers; for the others the
    // end of this client's input is just the end of this attach.
    let closesStdin = target.stdinOnce
    return Task.detached {
      for await event in input {
        switch event {
        case .stdin(let bytes):
          guard wantsStdin else {
            output.inputConsumed(bytes.count)
            continue
          }
          queue.async {
            _ = writeFully(socket, Self.frame(0, bytes))
            output.inputConsumed(bytes.count)
          }
        case .stdinClosed:
          if wantsStdin && closesStdin { queue.async { _ = writeFully(socket, Self.frame(3, [])) } }
        case .resize(let width, let height):
          _ = try? await ShimLauncher.request(directory: directory, "resize \(width) \(height)")
          output.inputConsumed(0)
        case .disconnected:
          shutdown(socket, Int32(SHUT_RDWR))
        }
      }
    }
  }

  /// Frames from the shim (1 stdout, 2 stderr, 4 exited) to the client, until the shim closes (the container
  /// exited) or the client leaves. Blocking: runs on a thread of its own.
  private static func relayOutput(_ socket: Int32, to output: any SessionOutput) {
    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(socket, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      pending += buffer[0..<n]
      while pending.count >= 5 {
        let length = Int(pending[1]) << 24 | Int(pending[2]) << 16 | Int(pending[3]) << 8 | Int(pending[4])
        guard pending.count >= 5 + length else { break }
        let type = pending[0]
        let data = Array(pending[5..<(5 + length)])
        pending.removeFirst(5 + length)
        switch type {
        case 1, 2:
          if !output.writeWaiting(type == 1 ? .stdout : .stderr, data) { return }
        case 4:
          return
        default:
          break
        }
      }
    }
  }

  static func frame(_ type: UInt8, _ data: [UInt8]) -> [UInt8] {
    [
      type, UInt8(truncatingIfNeeded: data.count >> 24), UInt8(truncatingIfNeeded: data.count >> 16),
      UInt8(truncatingIfNeeded: data.count >> 8), UInt8(truncatingIfNeeded: data.count),
    ] + data
  }
}
