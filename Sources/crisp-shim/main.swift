import CShim

// crisp-shim: one per container (the pod's pause container too). crisp starts it; it detaches, becomes the
// subreaper for the container, runs `runc create`, reports the container's pid, and then owns the
// container's stdio (the CRI log file, attach), records its exit, and leaves once the container is gone.
// No Foundation: a pod's memory cost is mostly its shims.

func main() -> Int32 {
  guard let options = Options.parse((0..<Int(shim_argc())).map { String(cString: shim_argv(Int32($0))) }) else {
    complain(
      "usage: crisp-shim --id ID --bundle DIR --state-dir DIR --runtime PATH --runtime-root DIR [--log-path FILE] [--max-line N] [--tty] [--stdin] [--stdin-once] [--systemd-cgroup] [--cgroup-dir DIR] [--oom-score N] --sync-fd FD"
    )
    return 2
  }
  // Detach: a new session, then a child that is not its leader and is not crisp's child. crisp reaps
  // this first process right away; the container lives on with the second.
  _ = setsid()
  let child = fork()
  if child < 0 {
    Shim.report(options.syncFD, Bytes.of("error fork failed: errno \(shim_errno())"))
    return 1
  }
  if child > 0 { return 0 }
  let shim = Shim(options)
  return shim.run()
}

exit(main())
