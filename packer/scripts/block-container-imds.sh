#!/usr/bin/env bash
# Keep job containers away from the instance metadata service (IMDS). Batch runs c4 in Docker's
# bridge network; from there 169.254.169.254 would hand out the *instance profile's*
# credentials (ECS agent, image pulls, logs), which the job must not have: it gets its own job
# role through the ECS agent at 169.254.170.2, which stays reachable. This is the rule AWS
# recommends for ECS container instances ("Amazon ECS container instance IAM role"): drop
# traffic from docker* interfaces to IMDS in Docker's DOCKER-USER chain, and restore it at boot
# with the iptables service, which starts before Docker. The launch template's IMDSv2 hop
# limit of 1 blocks the same path a second way. The host itself (ECS agent) is unaffected.
#
# Settings (environment variables, all optional):
#   C4_IMDS_ADDRESS     address to block                      (169.254.169.254)
#   C4_IPTABLES_RULES   rules file the iptables service loads (/etc/sysconfig/iptables)
set -euo pipefail

imds=${C4_IMDS_ADDRESS:-169.254.169.254}
rules_file=${C4_IPTABLES_RULES:-/etc/sysconfig/iptables}

log() { printf 'block-container-imds: %s\n' "$*"; }
die() { printf 'block-container-imds: ERROR: %s\n' "$*" >&2; exit 1; }

case $rules_file in /?*) ;; *) die "C4_IPTABLES_RULES '$rules_file' must be an absolute path" ;; esac

# iptables-services provides iptables.service and /etc/sysconfig/iptables (AL2 and AL2023).
if ! rpm -q iptables-services >/dev/null 2>&1; then
  log "installing iptables-services"
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q iptables-services
  elif command -v yum >/dev/null 2>&1; then yum install -y -q iptables-services
  else die "no dnf or yum to install iptables-services"
  fi
fi

# Docker creates DOCKER-USER when it starts; create it if it is not there yet (Docker then
# keeps it and jumps to it from FORWARD).
iptables -n -L DOCKER-USER >/dev/null 2>&1 || iptables -N DOCKER-USER
rule=(--in-interface 'docker+' --destination "$imds/32" --jump DROP)
if iptables -C DOCKER-USER "${rule[@]}" 2>/dev/null; then
  log "DOCKER-USER already drops docker+ -> $imds"
else
  iptables -I DOCKER-USER 1 "${rule[@]}"
  log "DOCKER-USER now drops docker+ -> $imds"
fi

# Save the filter table only: Docker and the ECS agent write their own nat rules at every start.
mkdir -p "$(dirname "$rules_file")"
iptables-save -t filter >"$rules_file"
grep -q -- "-A DOCKER-USER -d $imds/32 -i docker+ -j DROP" "$rules_file" ||
  die "the saved rules in $rules_file lack the DOCKER-USER drop rule"
systemctl enable iptables
log "saved to $rules_file; iptables.service restores it at boot"
