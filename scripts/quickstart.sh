#!/usr/bin/env bash
# Installs what is missing, builds rdzvbench, and runs the default sweep on this host:
# 2 local ranks over the tcp transport with an embedded store. Prints the tables and writes
# the JSON report to results/quickstart.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --target rdzvbench
mkdir -p results
build/src/cli/rdzvbench run --config configs/quick.json --np 2 --output results/quickstart.json "$@"
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
  /usr/bin/python3 - results/quickstart.json <<'PY'
import json, sys, jsonschema
schema = json.load(open("results-schema/report.schema.json"))
jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[1])))
print(f"{sys.argv[1]} validates against results-schema/report.schema.json")
PY
fi
