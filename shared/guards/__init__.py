"""Request guards: GCRA rate limits (several policies in one atomic script, weighted costs,
token reserve/settle) and per-user concurrent-session limits. No web, no Celery here."""
