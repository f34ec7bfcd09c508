"""The pre-flight check of a shop's Fortnox: does the company have what the shop's orders,
settings and rules need (VAT rates, accounts, modes and terms of payment, currencies, scopes),
and which SKUs change on their way to Fortnox.

- ``services/mapper/needs.py`` (the mapper's, read-only): what the shop needs.
- ``fortnox_setup.py``: what its Fortnox has, read through the writer's rate-limited client.
- ``findings.py`` (pure): the comparison, in plain English, with the fix.
- ``store.py``, ``check.py``: one run per shop at a time, stored; the sweep (connect, daily).
- ``routes.py``: GET/POST ``preflight.json``, the one-click fix. ``fortbridge preflight``.
"""
