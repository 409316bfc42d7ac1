"""Provisioners for cloud InferenceClusters (see `laneway.drivers.provisioning` for the seam)."""
