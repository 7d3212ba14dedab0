"""Webhooks: signed POSTs of execution and model package status changes, retried and recorded."""
