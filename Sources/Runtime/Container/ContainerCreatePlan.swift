import CDI
import CrispCore
import Images
import Store
import OCI

/// What CreateContainer will make, checked before anything exists: the sandbox it joins, the mounts,
/// devices, security and log path. A request that fails here leaves nothing behind.
struct ContainerCreatePlan: Sendable {
  var id: String
  var config: ContainerSpec
  /// The config as kubelet sent it, stored in the record (and returned verbatim by ContainerStatus).
  var serialized: [UInt8]
  var sandbox: RuntimeManager.SandboxView
  var sandboxExtra: SandboxExtra?
  var runtime: any ContainerRuntime
  /// `log_directory/log_path`; nil without a log.
  var logPath: String?
  var mounts: [SpecBuilder.ResolvedMount]
  /// The mounts that are image volumes (their entries in `mounts` get a host path once the views are up).
  var imageVolumes: [ImageVolumePlan]
  var seccomp: OCISpec.Seccomp?
  var appArmor: AppArmorChoice
  var devices: [(node: OCISpec.Device, rule: OCISpec.DeviceRule)]
  /// Every host device, for a privileged container.
  var hostDevices: [OCISpec.Device]
  /// The CDI devices asked for (`CDI_devices`, `cdi.k8s.io/*` annotations), resolved; nil when none.
  var cdi: CDIEdits?
  /// PID mode TARGET: the target's namespace, held open until the runtime has joined it.
  var targetNamespace: TargetPIDNamespace?
  /// `name_pod_namespace_uid_attempt`, unique among containers.
  var reservedName: String

  var sandboxID: String { sandbox.record.id }
  var userNamespace: SpecBuilder.PodUserNamespace? { sandboxExtra?.userNamespace }
}

extension RuntimeManager {
  /// Checks a CreateContainer request (its required fields were checked by CRIServer) against its sandbox
  /// and decides what to make.
  func planContainer(sandboxID rawSandboxID: String, config: ContainerSpec, storedConfig: [UInt8]) throws(CrispError) -> ContainerCreatePlan {
    guard let sandboxID = try resolveID(rawSandboxID, table: "sandboxes"), let sandbox = try sandbox(sandboxID) else {
      throw CrispError.notFound("pod_sandbox_id \"\(rawSandboxID)\": no such sandbox")
    }
    guard sandbox.record.state == .ready else {
      throw CrispError.failedPrecondition("pod_sandbox_id \"\(sandboxID)\": the sandbox is not ready (\(sandbox.record.state.rawValue))")
    }
    let handler = sandbox.record.runtimeHandler
    guard let runtime = runtimes[handler] else {
      throw CrispError.failedPrecondition("sandbox \(sandboxID): runtime handler \"\(handler)\" is gone")
    }
    let logPath = try self.logPath(directory: sandbox.config.logDirectory, relative: config.logPath)
    let sandboxExtra = extra(of: sandbox.record)
    let imageVolumes = try planImageVolumes(config.mounts, userNamespace: sandboxExtra?.userNamespace)
    let mounts = try resolveMounts(config.mounts, recursiveReadOnly: supportsRecursiveReadOnly(handler), userNamespace: sandboxExtra?.userNamespace)
    try SecurityChecks.checkContainer(config, sandbox: sandbox.config)
    let security = config.linux.securityContext
    let seccomp = try SeccompPolicy.filter(
      profile: security.seccomp, legacyPath: security.seccompProfilePath, privileged: security.privileged,
      capabilities: try SpecBuilder.capabilities(security.capabilities).effective ?? [], field: "config.linux.security_context")
    let appArmor = try self.appArmor.choose(
      security.apparmor, legacyName: security.apparmorProfile, privileged: security.privileged, field: "config.linux.security_context")
    var devices: [(node: OCISpec.Device, rule: OCISpec.DeviceRule)] = []
    for (index, device) in config.devices.enumerated() {
      let resolved = try DeviceNodes.resolve(device, index: index)
      devices.append((resolved.0, resolved.1))
    }
    // Resolved here, before anything exists: a device that cannot be given fails the call with nothing to undo.
    let cdi = try self.cdi.resolve(cdiDevices: config.cdiDevices, annotations: config.annotations)
    let pod = sandbox.config.metadata
    return ContainerCreatePlan(
      id: Self.newID(), config: config, serialized: storedConfig, sandbox: sandbox, sandboxExtra: sandboxExtra, runtime: runtime,
      logPath: logPath, mounts: mounts, imageVolumes: imageVolumes, seccomp: seccomp, appArmor: appArmor, devices: devices,
      hostDevices: security.privileged ? DeviceNodes.host() : [], cdi: cdi,
      targetNamespace: try targetPIDNamespace(config, sandboxID: sandboxID),
      reservedName: "\(config.metadata.name)_\(pod.name)_\(pod.namespace)_\(pod.uid)_\(config.metadata.attempt)")
  }

  /// PID mode TARGET: the process namespace of another running container of the same pod, opened.
  private func targetPIDNamespace(_ config: ContainerSpec, sandboxID: String) throws(CrispError) -> TargetPIDNamespace? {
    let options = config.linux.securityContext.namespaceOptions
    guard options.pid == .target else { return nil }
    let field = "config.linux.security_context.namespace_options.target_id"
    guard !options.targetID.isEmpty else { throw CrispError.invalidArgument("\(field) is required with pid mode TARGET") }
    guard let target = try container(options.targetID), target.record.sandboxID == sandboxID else {
      throw CrispError.notFound("\(field) \"\(options.targetID)\": no such container in pod sandbox \(sandboxID)")
    }
    guard target.record.state == .running, target.record.pid > 0 else {
      throw CrispError.failedPrecondition("\(field) \"\(options.targetID)\": the target container is \(target.record.state.rawValue), not running")
    }
    return try TargetPIDNamespace.open(pid: Int32(truncatingIfNeeded: target.record.pid), containerID: target.record.id, field: field)
  }
}
