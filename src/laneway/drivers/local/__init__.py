"""The local driver: replicas as supervised processes on this machine.

A Local InferenceCluster needs no Kubernetes: each engine copy and member of a replica runs as
a child process of laneway, probed for readiness, restarted with backoff when it crashes, and
stopped with laneway (the kernel kills children when their parent dies, so nothing outlives a
`kill -9` of laneway either). What it does not do: isolate processes (no containers, no cgroup
limits) or pin them to devices (no CUDA_VISIBLE_DEVICES is set for claimed GPUs; a container's
own `env` can set it).
"""
