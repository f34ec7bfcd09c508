"""In-project simulator of the EU's VIES VAT number check (its REST API's check-vat-number).

See simulator.py (Python API and state), app.py (HTTP behaviour and the /_sim control endpoints).
"""

from .simulator import ViesSimulator

__all__ = ["ViesSimulator"]
