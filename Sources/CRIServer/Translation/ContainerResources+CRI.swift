import CRIAPI
import Runtime

/// A container's resources between the CRI's LinuxContainerResources and Runtime's own type, field for field.
extension ContainerResources {
  init(_ cri: Runtime_V1_LinuxContainerResources) {
    self.init()
    cpuPeriod = cri.cpuPeriod
    cpuQuota = cri.cpuQuota
    cpuShares = cri.cpuShares
    memoryLimitInBytes = cri.memoryLimitInBytes
    oomScoreAdj = cri.oomScoreAdj
    cpusetCpus = cri.cpusetCpus
    cpusetMems = cri.cpusetMems
    hugepageLimits = cri.hugepageLimits.map { HugepageLimit(pageSize: $0.pageSize, limit: $0.limit) }
    unified = cri.unified
    memorySwapLimitInBytes = cri.memorySwapLimitInBytes
  }

  var cri: Runtime_V1_LinuxContainerResources {
    var cri = Runtime_V1_LinuxContainerResources()
    cri.cpuPeriod = cpuPeriod
    cri.cpuQuota = cpuQuota
    cri.cpuShares = cpuShares
    cri.memoryLimitInBytes = memoryLimitInBytes
    cri.oomScoreAdj = oomScoreAdj
    cri.cpusetCpus = cpusetCpus
    cri.cpusetMems = cpusetMems
    cri.hugepageLimits = hugepageLimits.map { limit in
      .with {
        $0.pageSize = limit.pageSize; $0.limit = limit.limit
      }
    }
    cri.unified = unified
    cri.memorySwapLimitInBytes = memorySwapLimitInBytes
    return cri
  }
}
