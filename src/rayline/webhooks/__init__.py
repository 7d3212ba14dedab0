"""Webhooks: signed HTTP POSTs to subscribed URLs when an execution's status or a model
package's approval status changes (``execution.status_changed``,
``model_package.status_changed``), retried with backoff, every delivery and attempt recorded.

The server's webhooks service (``rayline.webhooks.service``) tails the engine's event log and the
registry's status history from stored cursors (``dispatcher``); ``api`` is what the routes call.
Each POST is signed by the Standard Webhooks scheme (``signing``).
"""
