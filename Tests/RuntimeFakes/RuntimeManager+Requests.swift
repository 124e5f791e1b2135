public import CrispCore
public import Runtime

/// Requests as the unit tests make them: the stored config is the spec in ``JSONRecordCodec``'s form, which
/// the FakeNode's manager decodes.
extension RuntimeManager {
  public func runPodSandbox(_ config: PodSandboxSpec, handler: String) async throws(CrispError) -> String {
    try await runPodSandbox(config, storedConfig: try JSONRecordCodec().encode(value: config), handler: handler)
  }

  public func createContainer(sandboxID: String, config: ContainerSpec) async throws(CrispError) -> String {
    try await createContainer(sandboxID: sandboxID, config: config, storedConfig: try JSONRecordCodec().encode(value: config))
  }
}
