public import CrispCore
public import OCI
public import Registry
public import Store

/// Where a pull gets manifests and blobs: the registry client, or in unit tests a fake that serves an image
/// from memory and fails at any fetch, so the pull's failure paths are tested without a registry.
public protocol ImageSource: Sendable {
  /// The manifest or index `reference` (a tag or digest) of `image`, from the first endpoint that has it.
  func fetchManifest(
    image: ImageReference, reference: String, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?
  ) async throws(CrispError) -> FetchedManifest
  /// Streams blob `descriptor` into the content store, which verifies it; `progress` gets the running count.
  func fetchBlob(
    image: ImageReference, descriptor: Descriptor, endpoints: [RegistryEndpoint], credentials: RegistryCredentials?,
    into store: ContentStore, progress: @escaping @Sendable (Int64) -> Void
  ) async throws(CrispError)
}

extension RegistryClient: ImageSource {}
