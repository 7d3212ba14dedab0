"""The execution engine: a scheduler that runs a pipeline's steps on Ray, step runners,
caching, retries, and the event log in the metadata DB."""
