"""The controller manager and the controllers it runs.

`base` says what a controller is; `queue` is the de-duplicating, backing-off work queue;
`manager` elects a leader through a lease in the store, lists and watches, and runs the
reconcile workers; `status` writes conditions only when they change; `gc` is the garbage
collector; `registry.build_controllers` lists every controller of this build.
"""
