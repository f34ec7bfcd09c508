"""``python -m services.ingest``."""

import asyncio

from libs.common.service import run_until_signalled
from libs.common.settings import get_settings
from services.ingest.service import definition

if __name__ == "__main__":
    asyncio.run(run_until_signalled([definition], get_settings()))
