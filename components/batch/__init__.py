"""Batch scoring jobs on a stack's cloud: the same bundle, run as the target's batch job."""
