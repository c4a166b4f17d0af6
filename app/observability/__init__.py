"""Running it in production: metrics, request ids and JSON logs, readiness.

Nothing here imports the schema, the pages or the store's repositories: the services and
the composition root call in, so any layer may record a figure without a cycle.
"""
