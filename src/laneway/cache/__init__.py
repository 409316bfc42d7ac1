"""Model weight caches: staged once per cluster, shared by every replica there.

What it promises: a cache directory (or volume) is marked whole only after every file is
downloaded and checked against what the source promised (sizes always; SHA-256 for HTTP and
Hugging Face LFS files; MD5 for single-part S3 objects); an interrupted download resumes
from the bytes on disk; one hydration per destination at a time.

What it does not do: deduplicate identical weights across caches, garbage-collect caches
no deployment uses, or check files a source gives no size or checksum for beyond their
arrival. Kubernetes clusters get rendered objects from their driver
(`laneway.drivers.kubernetes.cache_render`); this package imports no driver.

Modules: `sources` (HuggingFace, S3, HTTP, Local), `hydrate` (resumable, verified, atomic
staging), `layout` (paths and the manifest), `gate` (placement and start rules for
deployments that reference a cache), `state` (a cache's state on one cluster, as drivers
report it).
"""
