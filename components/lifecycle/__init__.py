"""Model lifecycle: versions, promote, rollback, A/B readout, publishing."""
