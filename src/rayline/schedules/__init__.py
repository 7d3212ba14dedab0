"""Cron schedules: a pipeline started with fixed parameters at each due time, by the server."""
