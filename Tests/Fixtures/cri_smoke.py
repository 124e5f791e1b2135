#!/usr/bin/python3
"""A CRI client that is not crisp's code: Python grpcio with stubs generated from proto/ at test time, driving
a pod through its lifecycle the way kubelet does.

Usage: cri_smoke.py SOCKET IMAGE LOG_DIRECTORY STUB_DIRECTORY
Prints one JSON object with what it observed; exits non-zero on any RPC failure.
"""
import json
import sys
import time
import uuid

socket, image, log_directory, stubs = sys.argv[1:5]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from runtime.v1 import api_pb2 as api, api_pb2_grpc as rpc  # noqa: E402

channel = grpc.insecure_channel("unix://" + socket)
runtime = rpc.RuntimeServiceStub(channel)
images = rpc.ImageServiceStub(channel)
seen = {}

version = runtime.Version(api.VersionRequest(version="0.1.0"))
seen["version"] = [version.runtime_name, version.runtime_version, version.runtime_api_version]
seen["image"] = images.ImageStatus(api.ImageStatusRequest(image=api.ImageSpec(image=image))).image.id

uid = str(uuid.uuid4())
sandbox_config = api.PodSandboxConfig(
    metadata=api.PodSandboxMetadata(name="python-pod", namespace="default", uid=uid, attempt=1),
    hostname="python-pod", log_directory=log_directory + "/" + uid,
    dns_config=api.DNSConfig(servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"]),
    labels={"client": "python"})
pod = runtime.RunPodSandbox(api.RunPodSandboxRequest(config=sandbox_config)).pod_sandbox_id
seen["podState"] = api.PodSandboxState.Name(runtime.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod)).status.state)

container_config = api.ContainerConfig(
    metadata=api.ContainerMetadata(name="python-container"), image=api.ImageSpec(image=image),
    command=["/bin/sh", "-c", "echo from-python; exec sleep 1000"], log_path="python.log")
container = runtime.CreateContainer(api.CreateContainerRequest(
    pod_sandbox_id=pod, config=container_config, sandbox_config=sandbox_config)).container_id
runtime.StartContainer(api.StartContainerRequest(container_id=container))
status = runtime.ContainerStatus(api.ContainerStatusRequest(container_id=container)).status
seen["containerState"] = api.ContainerState.Name(status.state)
exec_result = runtime.ExecSync(api.ExecSyncRequest(container_id=container, cmd=["/bin/cat", "/etc/resolv.conf"], timeout=10))
seen["resolvConf"] = exec_result.stdout.decode()
seen["execExit"] = exec_result.exit_code
seen["listed"] = [c.id for c in runtime.ListContainers(api.ListContainersRequest(
    filter=api.ContainerFilter(pod_sandbox_id=pod))).containers] == [container]
time.sleep(0.3)
with open(status.log_path) as log:
    seen["log"] = log.read().strip().split(" ", 3)[1:]

runtime.StopContainer(api.StopContainerRequest(container_id=container, timeout=2))
seen["stopped"] = api.ContainerState.Name(runtime.ContainerStatus(api.ContainerStatusRequest(container_id=container)).status.state)
runtime.RemoveContainer(api.RemoveContainerRequest(container_id=container))
runtime.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod))
runtime.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod))
try:
    runtime.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod))
    seen["removed"] = False
except grpc.RpcError as error:
    seen["removed"] = error.code() == grpc.StatusCode.NOT_FOUND
print(json.dumps(seen))
