"""The local driver: replicas as supervised, confined processes on this machine.

A Local InferenceCluster needs no Kubernetes: each engine copy and member of a replica runs as
a child process of laneway, probed for readiness, restarted with backoff when it crashes, and
stopped with laneway (the kernel kills children when their parent dies, so nothing outlives a
`kill -9` of laneway either). Only the engines the cluster allows run (`spec.cluster.local.engines`),
each confined (`sandbox.py`: scrubbed environment, own working directory, an unprivileged user,
bubblewrap namespaces where present). What it does not do: limit resources (no cgroups), filter
the network, or pin engines to devices (no CUDA_VISIBLE_DEVICES is set for claimed GPUs; a
container's own `env` can set it).
"""
