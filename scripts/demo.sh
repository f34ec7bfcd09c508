#!/usr/bin/env bash
# The main job: set up, then run the whole stack with both simulators and show signed Shopify
# orders become Fortnox invoices, with their totals, Shopify status and trace ids.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/fortbridge demo "$@"
