#!/usr/bin/env bash
# A one-node Slurm cluster on this host, for trying rdzvbench under srun and sbatch and for the
# Slurm tests. Needs root, Debian's slurm-wlm and munge (scripts/install-deps.sh installs them).
#
#   scripts/slurm-local.sh start    # munged, slurmctld and slurmd; waits until the node is idle
#   scripts/slurm-local.sh stop     # stops what start started
#   scripts/slurm-local.sh status   # exit 0 when the node accepts jobs
#
# start is idempotent: with the cluster already up it only checks the node is idle. It writes
# /etc/slurm/slurm.conf, and refuses to replace one it did not write. State and logs live in
# $RDZV_SLURM_DIR (default /var/tmp/rdzv-slurm).
#
# Settings that work on a machine without cgroups (a container or a small VM):
#   ProctrackType=proctrack/linuxproc, TaskPlugin=task/none  no cgroup plugin needed
#   SlurmUser=root                                           no slurm account needed
#   select/cons_tres + CR_CPU, OverSubscribe=FORCE:4          jobs share the cores
#   CPUs = 4 x cores, SlurmdParameters=config_overrides       `srun -n 4` fits on 2 cores
#   libpmix2 installed before slurmd starts                   else srun --mpi=pmix cannot load it
set -euo pipefail

DIR=${RDZV_SLURM_DIR:-/var/tmp/rdzv-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by rdzvbench scripts/slurm-local.sh"
NODE=$(hostname -s)
DEADLINE=${RDZV_SLURM_START_TIMEOUT:-60}

die() {
  echo "slurm-local: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (it starts munged, slurmctld and slurmd); run it with sudo"
  for c in munged slurmctld slurmd sinfo scontrol; do
    command -v "$c" >/dev/null || die "$c is missing; run scripts/install-deps.sh (slurm-wlm, munge)"
  done
  dpkg-query -W -f='${Status}' libpmix2 2>/dev/null | grep -q "install ok installed" ||
    die "libpmix2 is missing; install it before slurmd starts (scripts/install-deps.sh)"
}

node_state() {
  sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1 | tr -d '*~#!%$@^-'
}

running() {
  local pidfile=$1
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; this host has a Slurm of its own"
  fi
  mkdir -p "$DIR/state" "$DIR/spool" /etc/slurm
  # The node claims 4 CPUs per core so that `srun -n 4` fits on 2 cores without -O, as it
  # would on a real node; config_overrides makes slurmd accept the claim.
  local cpus
  cpus=$(($(nproc) * 4))
  cat >"$CONF.tmp" <<EOF
$MARK
ClusterName=rdzvlocal
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
# A cancelled step gets SIGTERM, then SIGKILL this many seconds later.
KillWait=10
InactiveLimit=0
MinJobAge=60
NodeName=$NODE CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  [ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing; reinstall munge"
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null || true
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
  else
    /usr/sbin/munged --force
  fi
  touch "$DIR/started-munged"
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "munged did not answer; see /var/log/munge/munged.log"
}

wait_idle() {
  local end=$((SECONDS + DEADLINE)) state=""
  while [ $SECONDS -lt $end ]; do
    state=$(node_state || true)
    case "$state" in
      idle | mixed | allocated | completing) return 0 ;;
      down | drained | draining | fail | failing | unknown | "") ;;
    esac
    # A node left down or completing by a failed launch comes back this way.
    if [ "$state" = down ] || [ "$state" = drained ]; then
      scontrol update nodename="$NODE" state=idle >/dev/null 2>&1 || true
    fi
    sleep 0.5
  done
  die "node $NODE is '${state:-not known}' after ${DEADLINE}s; see $DIR/slurmctld.log and $DIR/slurmd.log"
}

cmd_start() {
  need_root
  write_conf
  start_munge
  running "$DIR/slurmctld.pid" || slurmctld -f "$CONF"
  running "$DIR/slurmd.pid" || slurmd -f "$CONF"
  wait_idle
  echo "slurm-local: node $NODE is $(node_state) (partition debug, $(($(nproc) * 4)) task slots on $(nproc) cores)"
}

stop_pidfile() {
  local name=$1 pidfile=$2
  running "$pidfile" || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "slurm-local: $name ($pid) did not stop in 10s; killing it" >&2
  kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
  need_root
  stop_pidfile slurmd "$DIR/slurmd.pid"
  stop_pidfile slurmctld "$DIR/slurmctld.pid"
  if [ -f "$DIR/started-munged" ]; then
    pkill -x munged 2>/dev/null || true
    rm -f "$DIR/started-munged"
  fi
  echo "slurm-local: stopped"
}

cmd_status() {
  local state
  state=$(node_state || true)
  case "$state" in
    idle | mixed | allocated | completing)
      echo "slurm-local: node $NODE is $state"
      return 0
      ;;
  esac
  echo "slurm-local: node $NODE is '${state:-not known}' (not running? try: $0 start)"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
