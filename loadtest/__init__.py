"""`make loadtest`: Backcare under a mixed load from 32 clients, with Postgres and Redis restarted.

Everything runs on 127.0.0.1 against services of the load test's own (a private PostgreSQL
cluster and a private Redis, started and removed by it), never the shared ones. See README.md
"Load test".
"""
