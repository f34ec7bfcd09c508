"""The merchant's app: its pages at ``/app/`` (built from ``frontend/`` into ``static/``), served by
ingest at the app URL, and the development login for local use (routes.py, devlogin.py)."""
