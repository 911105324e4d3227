"""The chat response cache: keys and envelope (`entry`), stored form (`codec`), writes and
counters (`store`), the request path (`serve`), warmup (`warmup`, `popularity`) and
invalidation (`invalidate`, `sweep`). No Celery here: tasks/cache.py wraps these functions.
"""
