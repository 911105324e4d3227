"""Code shared by the web app and the Celery workers; imports no celery/workers/tasks/web."""
