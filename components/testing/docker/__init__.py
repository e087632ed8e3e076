"""A test mirror of the docker provider: the local plan run on a real Docker engine."""
