#!/usr/bin/env bash
# Last step before the AMI is taken: stop the ECS agent and clear its state, so every instance
# started from the AMI registers with its own Batch cluster as a new container instance instead
# of reusing the build instance's identity.
#
# Settings (environment variables, all optional):
#   C4_ECS_SERVICE   systemd unit of the ECS agent   (ecs)
#   C4_ECS_DATA_DIR  the agent's state directory     (/var/lib/ecs/data)
set -euo pipefail

service=${C4_ECS_SERVICE:-ecs}
data_dir=${C4_ECS_DATA_DIR-/var/lib/ecs/data}

log() { printf 'prepare-ecs-image: %s\n' "$*"; }
die() { printf 'prepare-ecs-image: ERROR: %s\n' "$*" >&2; exit 1; }

# Guard the delete below: an absolute path, and never the root directory.
case $data_dir in
  / | //*) die "C4_ECS_DATA_DIR '$data_dir' must not be the root directory" ;;
  /?*) ;;
  *) die "C4_ECS_DATA_DIR '$data_dir' must be an absolute path" ;;
esac

log "stopping $service"
systemctl stop "$service"

if [ -d "$data_dir" ]; then
  find "$data_dir" -mindepth 1 -delete
  log "cleared $data_dir"
else
  log "$data_dir does not exist; nothing to clear"
fi
