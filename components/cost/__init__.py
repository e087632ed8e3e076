"""Monthly cost estimates of what a stack declares, from a dated price table."""
