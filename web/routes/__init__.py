"""One router per domain; `web.app` includes every router listed in `ROUTERS`."""
