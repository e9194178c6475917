#!/bin/bash
# Ready lines for an allocation (salloc -N2): not meant to run as one script.
set -euo pipefail
# Bandwidth/latency between two nodes over libfabric, provider chosen by libfabric (cxi first):
srun -N2 -n2 rdzvbench run -t ofi --store file://$PWD/.rdzv-store -o ofi.json
# The same with the MPI library's numbers beside it:
srun --mpi=pmix -N2 -n2 rdzvbench run --bootstrap mpi -t ofi,mpi -o ofi-vs-mpi.json
# alt_read must be run in a step that has the NIC's rendezvous Get disabled:
FI_CXI_RDZV_PROTO=alt_read srun --network=disable_rdzv_get -N2 -n2 \
  rdzvbench run -t ofi --provider cxi --store file://$PWD/.rdzv-store -o alt-read.json
# A whole FI_CXI_* sweep, one step per combination:
rdzvbench sweep --config configs/slingshot-rdzv.json --launcher "srun --mpi=pmix -N2 -n2" -o cxi.json
