"""The Kubernetes driver: replicas on Existing InferenceClusters, through the official client.

`render` (pure) turns a ModelReplica into the Kubernetes objects that serve it; `validation`
checks them against the official schemas before anything is sent; `KubernetesDriver` applies
them with server-side apply, observes readiness and failures, and deletes what a replica owns;
`checks` answers whether a cluster is fit to run replicas. See docs/kubernetes.md.
"""
