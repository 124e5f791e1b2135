import CShim

/// The shim's whole life after detaching: create the container, then serve its stdio and control socket
/// until it exits.
final class Shim {
  let options: Options
  private var log: LogWriter
  private var containerPID: pid_t = 0
  private var exitCode: Int32 = 0
  private var exitSignal: Int32 = 0
  private var oomKilled = false
  private var finishedAt: Int64 = 0
  private var exited = false
  /// Read ends of the container's stdout and stderr (or the terminal, in tty mode as stdout).
  private var outputs: [Int32] = [-1, -1]
  private var stdinWriter: Int32 = -1
  private var terminal: Int32 = -1
  /// Input for the container not yet accepted by its stdin pipe or terminal (both non-blocking).
  private var inputPending: [UInt8] = []
  private var closeStdinWhenFlushed = false
  /// Most bytes held for one slow reader before it is dropped.
  private let pendingLimit = 4 << 20
  private var signalFD: Int32 = -1
  private var listener: Int32 = -1
  private var clients: [Client] = []

  /// A connection on the control socket.
  final class Client {
    let fd: Int32
    var input: [UInt8] = []
    var waiting = false
    var attached = false
    var streams: [Bool] = [false, false, false]
    /// Output not yet written to a slow client (the socket is non-blocking).
    var pending: [UInt8] = []

    init(fd: Int32) { self.fd = fd }
  }

  init(_ options: Options) {
    self.options = options
    log = LogWriter(path: options.logPath, maxLine: options.maxLine)
  }

  private func path(_ name: String) -> [UInt8] { options.stateDirectory + Bytes.of("/" + name) }

  /// Tells crisp how creation went; the pipe closes with it.
  static func report(_ fd: Int32, _ message: [UInt8]) {
    guard fd >= 0 else { return }
    Bytes.writeAll(fd, message + [10])
    close(fd)
  }

  func run() -> Int32 {
    // The report pipe must not leak into runc and the container: only this process writes to it.
    if options.syncFD >= 0 { _ = shim_set_cloexec(options.syncFD, 1) }
    // Work inside the state directory: the control and console sockets are bound by relative name, which
    // keeps them within the 108-byte socket path limit however deep the directory is.
    redirectOwnOutput()
    if Bytes.withCString(options.stateDirectory, { chdir($0) }) != 0 {
      Self.report(options.syncFD, Bytes.of("error cannot enter the state directory: errno \(shim_errno())"))
      return 1
    }
    if let score = options.oomScore {
      let fd = shim_open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC, 0)
      if fd >= 0 {
        Bytes.writeAll(fd, Bytes.decimal(score))
        close(fd)
      }
    }
    // Our process group (the shim, runc while it creates, nothing else): a daemon recovering from a crash
    // while this container was being created kills the whole group.
    _ = Bytes.writeFileAtomically(path("shim.pid"), Bytes.decimal(Int(getpgrp())) + [10])
    if shim_set_subreaper() != 0 { complain("cannot become a subreaper: errno \(shim_errno())") }
    signalFD = shim_sigchld_fd()
    guard signalFD >= 0 else {
      Self.report(options.syncFD, Bytes.of("error signalfd failed: errno \(shim_errno())"))
      return 1
    }
    if let failure = create() {
      Self.report(options.syncFD, Bytes.of("error ") + failure)
      return 1
    }
    listener = shim_listen_unix("shim.sock")
    if listener < 0 { complain("cannot listen on the control socket: errno \(shim_errno())") }
    Self.report(options.syncFD, Bytes.of("ok ") + Bytes.decimal(Int(containerPID)))
    loop()
    guard exited else {
      // The loop ended without the container's exit (poll failed): recording an exit now would be a lie;
      // leave no exit file, so crisp sees a lost shim rather than a finished container.
      complain("event loop failed while the container runs; exiting without an exit record")
      return 1
    }
    finish()
    return 0
  }

  /// stdout/stderr of the shim itself go to `shim.log` in the state directory, for post-mortems.
  private func redirectOwnOutput() {
    // /dev/null first, so crisp's pipes are let go even if the log file cannot be opened.
    let null = shim_open("/dev/null", O_RDWR | O_CLOEXEC, 0)
    if null >= 0 {
      dup2(null, 0)
      dup2(null, 1)
      dup2(null, 2)
      close(null)
    }
    let file = Bytes.withCString(path("shim.log")) { shim_open($0, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600) }
    if file >= 0 {
      dup2(file, 1)
      dup2(file, 2)
      close(file)
    }
  }

  // MARK: Creation

  /// Runs `runc create`; returns the failure message, or nil with `containerPID` set.
  private func create() -> [UInt8]? {
    var childStdin: Int32 = -1, childStdout: Int32 = -1, childStderr: Int32 = -1
    var consoleSocket: Int32 = -1
    var pipes: [Int32] = [-1, -1]
    if options.tty {
      consoleSocket = shim_listen_unix("console.sock")
      guard consoleSocket >= 0 else { return Bytes.of("cannot create the console socket: errno \(shim_errno())") }
    } else {
      guard shim_pipe(&pipes) == 0 else { return Bytes.of("pipe failed") }
      outputs[0] = pipes[0]
      childStdout = pipes[1]
      guard shim_pipe(&pipes) == 0 else { return Bytes.of("pipe failed") }
      outputs[1] = pipes[0]
      childStderr = pipes[1]
      if options.stdin {
        guard shim_pipe(&pipes) == 0 else { return Bytes.of("pipe failed") }
        childStdin = pipes[0]
        stdinWriter = pipes[1]
      }
    }
    var arguments: [[UInt8]] = [
      options.runtime, Bytes.of("--root"), options.runtimeRoot, Bytes.of("--log"), path("runc.log"), Bytes.of("--log-format"), Bytes.of("json"),
    ]
    if options.systemdCgroup { arguments.append(Bytes.of("--systemd-cgroup")) }
    arguments += [Bytes.of("create"), Bytes.of("--bundle"), options.bundle, Bytes.of("--pid-file"), path("pid")]
    // Relative: runc runs in this directory too.
    if options.tty { arguments += [Bytes.of("--console-socket"), Bytes.of("console.sock")] }
    arguments.append(options.id)

    let runc = spawn(arguments, stdin: childStdin, stdout: childStdout, stderr: childStderr)
    for fd in [childStdin, childStdout, childStderr] where fd >= 0 { close(fd) }
    guard runc > 0 else { return Bytes.of("cannot run \(String(decoding: options.runtime, as: UTF8.self)): errno \(shim_errno())") }
    var status: Int32 = 0
    while waitpid(runc, &status, 0) < 0 && shim_errno() == EINTR {}
    if shim_exit_code(status) != 0 {
      var message = runcError() ?? Bytes.of("runc create exited with status \(shim_exit_code(status))")
      message = message.map { $0 == 10 ? 32 : $0 }
      return message
    }
    guard let pidText = Bytes.readFile(path("pid")), let number = Bytes.parseInt(pidText[...].filter { $0 >= 48 && $0 <= 57 }[...]), number > 0,
      let pid = pid_t(exactly: number)
    else {
      return Bytes.of("runc create left no pid file")
    }
    containerPID = pid
    if options.tty {
      let connection = shim_accept(consoleSocket)
      if connection >= 0 {
        terminal = shim_receive_fd(connection)
        close(connection)
      }
      close(consoleSocket)
      _ = unlink("console.sock")
      guard terminal >= 0 else { return Bytes.of("runc sent no terminal: errno \(shim_errno())") }
      _ = shim_set_nonblocking(terminal)
      outputs[0] = terminal
    }
    for fd in outputs where fd >= 0 { _ = shim_set_nonblocking(fd) }
    if stdinWriter >= 0 { _ = shim_set_nonblocking(stdinWriter) }
    return nil
  }

  private func spawn(_ arguments: [[UInt8]], stdin: Int32, stdout: Int32, stderr: Int32) -> pid_t {
    var storage = arguments.map { $0 + [0] }
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    for index in storage.indices {
      pointers.append(
        storage[index].withUnsafeMutableBufferPointer { buffer in
          // Each argument holds at least its appended NUL, so the buffer has a base address.
          // swift-format-ignore: NeverForceUnwrap
          UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
        })
    }
    pointers.append(nil)
    let pid = pointers.withUnsafeBufferPointer { shim_spawn($0.baseAddress, stdin, stdout, stderr) }
    withExtendedLifetime(storage) {}
    storage.removeAll()
    return pid
  }

  /// The last error message runc logged (its log is JSON lines with a "msg" field).
  private func runcError() -> [UInt8]? {
    guard let content = Bytes.readFile(path("runc.log"), limit: 1 << 20) else { return nil }
    let key = Bytes.of("\"msg\":\"")
    var found: [UInt8]?
    var index = 0
    while index + key.count <= content.count {
      if content[index..<(index + key.count)].elementsEqual(key) {
        var value: [UInt8] = []
        var cursor = index + key.count
        while cursor < content.count && content[cursor] != 34 {
          if content[cursor] == 92 && cursor + 1 < content.count {
            cursor += 1
            value.append(content[cursor] == 110 ? 32 : content[cursor])
          } else {
            value.append(content[cursor])
          }
          cursor += 1
        }
        found = value
        index = cursor
      }
      index += 1
    }
    return found
  }

  // MARK: The loop

  private func loop() {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while !(exited && outputs.allSatisfy({ $0 < 0 })) {
      var fds: [pollfd] = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
      if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
      for fd in outputs where fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
      for client in clients {
        fds.append(pollfd(fd: client.fd, events: Int16(POLLIN) | (client.pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0))
      }
      let inputTarget = terminal >= 0 ? terminal : stdinWriter
      if !inputPending.isEmpty && inputTarget >= 0 && !outputs.contains(inputTarget) {
        fds.append(pollfd(fd: inputTarget, events: Int16(POLLOUT), revents: 0))
      }
      // Once the container is gone, whatever is still buffered in the pipes is read without waiting.
      let timeout: Int32 = exited ? 0 : -1
      let ready = poll(&fds, nfds_t(fds.count), timeout)
      if ready < 0 {
        if shim_errno() == EINTR { continue }
        complain("poll failed: errno \(shim_errno())")
        break
      }
      if ready == 0 && exited { break }
      for entry in fds where entry.revents != 0 {
        if entry.fd == signalFD {
          _ = shim_read_signal(signalFD)
          reap()
        } else if entry.fd == listener {
          let fd = shim_accept(listener)
          if fd >= 0 { clients.append(Client(fd: fd)) }
        } else if let stream = outputs.firstIndex(of: entry.fd) {
          if entry.revents & Int16(POLLOUT) != 0 { flushInput() }
          if entry.revents & ~Int16(POLLOUT) != 0 { readOutput(stream, &buffer) }
        } else if entry.fd == stdinWriter {
          flushInput()
        } else if let client = clients.first(where: { $0.fd == entry.fd }) {
          if entry.revents & Int16(POLLOUT) != 0 { flushClient(client) }
          if entry.revents & ~Int16(POLLOUT) != 0 && clients.contains(where: { $0 === client }) { readControl(client, &buffer) }
        }
      }
    }
  }

  private func reap() {
    var status: Int32 = 0
    while true {
      let pid = waitpid(-1, &status, WNOHANG)
      if pid <= 0 { break }
      if pid == containerPID {
        exitCode = shim_exit_code(status)
        exitSignal = shim_signal_of(status)
        var now: Int64 = 0
        var scratch = [CChar](repeating: 0, count: 48)
        _ = shim_timestamp(&scratch, Int32(scratch.count), &now)
        finishedAt = now
        oomKilled = detectOOM()
        exited = true
      }
    }
  }

  /// Whether the container's cgroup saw an OOM kill: `oom_kill` in memory.events (v2) or
  /// memory.oom_control (v1).
  private func detectOOM() -> Bool {
    guard !options.cgroupDirectory.isEmpty else { return false }
    if let events = Bytes.readFile(options.cgroupDirectory + Bytes.of("/memory.events")), let count = Bytes.field(events, Bytes.of("oom_kill")) {
      return count > 0
    }
    if let control = Bytes.readFile(options.cgroupDirectory + Bytes.of("/memory.oom_control")), let count = Bytes.field(control, Bytes.of("oom_kill"))
    {
      return count > 0
    }
    return false
  }

  private func readOutput(_ stream: Int, _ buffer: inout [UInt8]) {
    let fd = outputs[stream]
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n > 0 {
      let data = buffer[0..<n]
      log.append(stream, data)
      broadcast(stream + 1, data)
      return
    }
    if n < 0 && (shim_errno() == EAGAIN || shim_errno() == EINTR) { return }
    // EOF (or EIO from a terminal whose process exited): this stream is done.
    close(fd)
    outputs[stream] = -1
    if fd == terminal { terminal = -1 }
  }

  // MARK: Control socket

  private func readControl(_ client: Client, _ buffer: inout [UInt8]) {
    let n = buffer.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
    if n <= 0 {
      if n < 0 && (shim_errno() == EAGAIN || shim_errno() == EINTR) { return }
      drop(client)
      return
    }
    client.input.append(contentsOf: buffer[0..<n])
    if client.attached {
      handleFrames(client)
      return
    }
    while let newline = client.input.firstIndex(of: 10) {
      let line = Array(client.input[..<newline])
      client.input.removeFirst(newline + 1)
      command(client, line)
      if client.attached {
        handleFrames(client)
        return
      }
    }
  }

  private func command(_ client: Client, _ line: [UInt8]) {
    let words = line.split(separator: 32).map { Array($0) }
    guard let verb = words.first else { return }
    switch String(decoding: verb, as: UTF8.self) {
    case "wait":
      if exited { sendExit(client) } else { client.waiting = true }
    case "state":
      if exited {
        sendExit(client)
      } else {
        send(client, Bytes.of("running ") + Bytes.decimal(Int(containerPID)) + [10])
      }
    case "kill":
      // kill SIGNAL: the container's init, which this shim has not reaped (so its pid cannot be reused).
      guard words.count == 2, let signal = Bytes.parseInt(words[1][...]), signal > 0, signal < 65 else {
        send(client, Bytes.of("error usage: kill SIGNAL\n"))
        return
      }
      if exited || containerPID <= 0 {
        send(client, Bytes.of("exited\n"))
      } else {
        send(client, kill(containerPID, Int32(signal)) == 0 ? Bytes.of("ok\n") : Bytes.of("error kill: errno \(shim_errno())\n"))
      }
    case "reopen":
      send(client, log.reopen() ? Bytes.of("ok\n") : Bytes.of("error cannot open the log file: errno \(shim_errno())\n"))
    case "resize":
      guard words.count == 3, let columns = Bytes.parseInt(words[1][...]), let rows = Bytes.parseInt(words[2][...]) else {
        send(client, Bytes.of("error usage: resize COLUMNS ROWS\n"))
        return
      }
      guard terminal >= 0 else {
        send(client, Bytes.of("error the container has no terminal\n"))
        return
      }
      let ok = shim_set_window_size(terminal, UInt16(truncatingIfNeeded: columns), UInt16(truncatingIfNeeded: rows)) == 0
      send(client, ok ? Bytes.of("ok\n") : Bytes.of("error resize failed: errno \(shim_errno())\n"))
    case "attach":
      // attach STDIN STDOUT STDERR (each 0 or 1); then binary frames both ways.
      guard words.count == 4 else {
        send(client, Bytes.of("error usage: attach STDIN STDOUT STDERR\n"))
        return
      }
      client.streams = [words[1] == [49], words[2] == [49], words[3] == [49]]
      if client.streams[0] && stdinWriter < 0 && terminal < 0 {
        send(client, Bytes.of("error the container was not created with stdin\n"))
        return
      }
      client.attached = true
      send(client, Bytes.of("ok\n"))
    default:
      send(client, Bytes.of("error unknown command\n"))
    }
  }

  /// Frames from an attached client: type (0 stdin data, 3 close stdin), 4-byte big-endian length, data.
  private func handleFrames(_ client: Client) {
    while client.input.count >= 5 {
      let length = Int(client.input[1]) << 24 | Int(client.input[2]) << 16 | Int(client.input[3]) << 8 | Int(client.input[4])
      guard client.input.count >= 5 + length else { return }
      let type = client.input[0]
      let data = Array(client.input[5..<(5 + length)])
      client.input.removeFirst(5 + length)
      guard client.streams[0] else { continue }
      if type == 0 {
        queueInput(data)
      } else if type == 3 {
        closeStdinWhenFlushed = true
        flushInput()
      }
    }
  }

  /// Queues input for the container and writes what the pipe or terminal accepts now.
  private func queueInput(_ data: [UInt8]) {
    guard terminal >= 0 || stdinWriter >= 0 else { return }
    if inputPending.count + data.count > pendingLimit {
      complain("container input buffer full; dropping \(data.count) bytes")
      return
    }
    inputPending.append(contentsOf: data)
    flushInput()
  }

  private func flushInput() {
    let target = terminal >= 0 ? terminal : stdinWriter
    if target >= 0 && !inputPending.isEmpty {
      let written = Self.writeSome(target, inputPending)
      if written < 0 {
        inputPending.removeAll()
      } else if written > 0 {
        inputPending.removeFirst(written)
      }
    }
    if inputPending.isEmpty && closeStdinWhenFlushed && stdinWriter >= 0 {
      close(stdinWriter)
      stdinWriter = -1
      closeStdinWhenFlushed = false
    }
  }

  /// Writes what a non-blocking fd accepts now: the count written, or -1 when the fd is broken.
  private static func writeSome(_ fd: Int32, _ bytes: [UInt8]) -> Int {
    bytes.withUnsafeBytes { raw -> Int in
      guard let base = raw.baseAddress else { return 0 }
      var offset = 0
      while offset < raw.count {
        let n = write(fd, base + offset, raw.count - offset)
        if n < 0 {
          let err = shim_errno()
          if err == EINTR { continue }
          if err == EAGAIN { return offset }
          return -1
        }
        offset += n
      }
      return offset
    }
  }

  private func flushClient(_ client: Client) {
    guard !client.pending.isEmpty else { return }
    let written = Self.writeSome(client.fd, client.pending)
    if written < 0 {
      drop(client)
    } else if written > 0 {
      client.pending.removeFirst(written)
    }
  }

  /// Sends bytes to a client without ever blocking the loop: what the socket does not take now waits.
  private func send(_ client: Client, _ bytes: [UInt8]) {
    if client.pending.count + bytes.count > pendingLimit {
      complain("an attached client reads too slowly; dropping it")
      drop(client)
      return
    }
    client.pending.append(contentsOf: bytes)
    flushClient(client)
  }

  /// Copies output to attached clients as frames (type 1 stdout, 2 stderr).
  private func broadcast(_ type: Int, _ data: ArraySlice<UInt8>) {
    for client in clients where client.attached && client.streams[type] && clients.contains(where: { $0 === client }) {
      var frame: [UInt8] = [
        UInt8(type), UInt8(truncatingIfNeeded: data.count >> 24), UInt8(truncatingIfNeeded: data.count >> 16),
        UInt8(truncatingIfNeeded: data.count >> 8), UInt8(truncatingIfNeeded: data.count),
      ]
      frame.append(contentsOf: data)
      send(client, frame)
    }
  }

  private func sendExit(_ client: Client) {
    let line =
      Bytes.of("exited ") + Bytes.decimal(Int(exitCode)) + [32] + Bytes.decimal(Int(exitSignal)) + [32]
      + Bytes.of(oomKilled ? "1" : "0") + [32] + Bytes.decimal(Int(finishedAt)) + [10]
    Bytes.writeAll(client.fd, line)
  }

  private func drop(_ client: Client) {
    close(client.fd)
    clients.removeAll { $0 === client }
    // stdin_once: the container's stdin closes when the first attached session that used it ends.
    if options.stdinOnce && client.attached && client.streams[0] {
      closeStdinWhenFlushed = true
      flushInput()
    }
  }

  // MARK: Exit

  /// Records the exit (atomically), tells waiters, and closes everything.
  private func finish() {
    log.flush()
    let record =
      Bytes.of("exit_code=") + Bytes.decimal(Int(exitCode)) + Bytes.of("\nsignal=") + Bytes.decimal(Int(exitSignal))
      + Bytes.of("\noom_killed=") + Bytes.of(oomKilled ? "1" : "0") + Bytes.of("\nfinished_at=") + Bytes.decimal(Int(finishedAt)) + [10]
    if !Bytes.writeFileAtomically(path("exit"), record) { complain("cannot write the exit file: errno \(shim_errno())") }
    for client in clients {
      if client.waiting || client.attached {
        if client.attached {
          // Frame type 4: the container exited; the exit line follows as data.
          var data = Bytes.decimal(Int(exitCode))
          data.insert(contentsOf: [4, 0, 0, 0, UInt8(data.count)], at: 0)
          Bytes.writeAll(client.fd, data)
        } else {
          sendExit(client)
        }
      }
      close(client.fd)
    }
    clients.removeAll()
    if listener >= 0 {
      close(listener)
      _ = unlink("shim.sock")
    }
  }
}
