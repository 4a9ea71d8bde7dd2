#!/bin/bash
# examples/slurm-workers.sh - a Slurm array job: one ipw worker per array task,
# each on its own GPU node, all working on one study in a shared PostgreSQL
# store (docs/fleet.md). Submit after 'ipw study create':
#
#   sbatch --array=0-15 examples/slurm-workers.sh STUDY CONFIG
#
# The password never appears on a command line or in the job's log: libpq
# reads it from ~/.pgpass (mode 0600) or a service file; the store names only
# the service. TLS options (sslmode, sslrootcert, ...) go in the service file
# or in PGSSLMODE / PGSSLROOTCERT.
#SBATCH --job-name=ipw-worker
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=ipw-worker-%A_%a.log
#SBATCH --requeue
set -euo pipefail
STUDY=${1:?usage: sbatch --array=0-N slurm-workers.sh STUDY [CONFIG]}
CONFIG=${2:-}

# the store: a service in ~/.pg_service.conf, e.g.
#   [ipw]
#   host=db.example.org
#   dbname=ipw
#   user=ipw
#   sslmode=verify-full
#   sslrootcert=/etc/ssl/certs/db-ca.pem
# with the password in ~/.pgpass ("db.example.org:5432:ipw:ipw:SECRET")
export IPW_STORE="postgresql:///?service=${IPW_PG_SERVICE:-ipw}"

# the inference server: the worker starts it (--serve, a child it stops at the end), measures
# the device's idle power before it and the server's idle power after, as ipw profile does
PORT=$((8000 + SLURM_ARRAY_TASK_ID % 1000))
MODEL=${IPW_MODEL:-Qwen/Qwen3-8B}

# a requeued or preempted task simply starts again: its unfinished items went back to the
# queue when it stopped (SIGTERM), or go back when its lease expires (kill -9, a lost node)
args=(--study "$STUDY" --url "http://127.0.0.1:$PORT" --lease 120
	--worker-id "slurm-${SLURM_ARRAY_JOB_ID}-${SLURM_ARRAY_TASK_ID}"
	--serve "vllm serve $MODEL --host 127.0.0.1 --port $PORT" --serve-timeout 900)
[ -n "$CONFIG" ] && args+=(--config "$CONFIG")
exec ipw worker "${args[@]}"
