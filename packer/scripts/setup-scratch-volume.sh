#!/usr/bin/env bash
# Prepare the c4 scratch volume on the AMI build instance: find the EBS volume, format it once
# (ext4, by filesystem label), add one fstab line by label with `nofail` and a device timeout,
# mount it and open it to the job container's non-root user. Safe to run again: a volume that
# already carries the label is not formatted twice and the fstab line is not duplicated.
#
# Settings (environment variables, all optional):
#   C4_SCRATCH_DEVICE_NAME    device name in the EBS block-device mapping   (/dev/xvdb)
#   C4_SCRATCH_DEVICE         use this block device and skip the lookup     (unset)
#   C4_SCRATCH_LABEL          ext4 label, at most 16 characters             (c4-scratch)
#   C4_SCRATCH_MOUNTPOINT     where the volume is mounted                   (/docker_scratch)
#   C4_SCRATCH_FSTAB          fstab file to edit                            (/etc/fstab)
#   C4_SCRATCH_DEVICE_TIMEOUT how long boot waits for a missing volume      (30s)
#   C4_SCRATCH_MODE           mode of the volume's root directory           (1777)
#   C4_SCRATCH_WAIT_SECONDS   how long to wait for the device to appear     (60)
#   C4_DEV_DIR                directory holding the device nodes            (/dev)
# Tests point C4_DEV_DIR, C4_SCRATCH_FSTAB and C4_SCRATCH_MOUNTPOINT at temporary paths.
set -euo pipefail

device_name=${C4_SCRATCH_DEVICE_NAME:-/dev/xvdb}
label=${C4_SCRATCH_LABEL:-c4-scratch}
mountpoint=${C4_SCRATCH_MOUNTPOINT:-/docker_scratch}
fstab=${C4_SCRATCH_FSTAB:-/etc/fstab}
device_timeout=${C4_SCRATCH_DEVICE_TIMEOUT:-30s}
mode=${C4_SCRATCH_MODE:-1777}
wait_seconds=${C4_SCRATCH_WAIT_SECONDS:-60}
dev_dir=${C4_DEV_DIR:-/dev}

log() { printf 'setup-scratch-volume: %s\n' "$*"; }
die() { printf 'setup-scratch-volume: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${#label}" -lt 1 ] || [ "${#label}" -gt 16 ]; then
  die "C4_SCRATCH_LABEL '$label' must be 1 to 16 characters (ext4 limit)"
fi
case $mountpoint in /?*) ;; *) die "C4_SCRATCH_MOUNTPOINT '$mountpoint' must be an absolute path" ;; esac
[[ $wait_seconds =~ ^[0-9]+$ ]] || die "C4_SCRATCH_WAIT_SECONDS '$wait_seconds' must be a whole number of seconds"

# Amazon Linux ships e2fsprogs; install it should a base image lack it.
if ! command -v mkfs.ext4 >/dev/null 2>&1; then
  log "mkfs.ext4 not found; installing e2fsprogs"
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q e2fsprogs
  elif command -v yum >/dev/null 2>&1; then yum install -y -q e2fsprogs
  else die "mkfs.ext4 not found and no dnf or yum to install e2fsprogs"
  fi
fi

# The mapping says /dev/xvdb; the kernel may call it xvdb (Xen), sdb, or nvmeXn1 (Nitro).
short=${device_name#/dev/}
letter=${short#xvd}
letter=${letter#sd}
names=("$short")
for name in "xvd$letter" "sd$letter"; do
  [ "$name" = "$short" ] || names+=("$name")
done

# The device name an EBS NVMe namespace was attached as, read from the controller's
# vendor-specific data (ebsnvme-id from amazon-ec2-utils, or nvme-cli as a fallback).
ebs_name_of() {
  local ns=$1 out=""
  if command -v ebsnvme-id >/dev/null 2>&1; then
    out=$(ebsnvme-id -u "$ns" 2>/dev/null || true)
  elif command -v nvme >/dev/null 2>&1; then
    out=$(nvme id-ctrl --raw-binary "$ns" 2>/dev/null | dd bs=1 skip=3072 count=32 2>/dev/null | tr -d ' \000' || true)
  fi
  out=${out##* }
  printf '%s\n' "${out#/dev/}"
}

find_device() {
  local name ns want
  for name in "${names[@]}"; do
    if [ -b "$dev_dir/$name" ]; then
      readlink -f "$dev_dir/$name"
      return 0
    fi
  done
  for ns in "$dev_dir"/nvme*n1; do
    [ -b "$ns" ] || continue
    name=$(ebs_name_of "$ns")
    for want in "${names[@]}"; do
      if [ "$name" = "$want" ]; then
        readlink -f "$ns"
        return 0
      fi
    done
  done
  return 1
}

if [ -n "${C4_SCRATCH_DEVICE:-}" ]; then
  [ -b "$C4_SCRATCH_DEVICE" ] || die "C4_SCRATCH_DEVICE '$C4_SCRATCH_DEVICE' is not a block device"
  device=$(readlink -f "$C4_SCRATCH_DEVICE")
else
  waited=0
  until device=$(find_device); do
    if [ "$waited" -ge "$wait_seconds" ]; then
      die "no scratch volume found after ${waited}s: none of ${names[*]} exists in $dev_dir and no NVMe namespace there was attached under those names; is $device_name in the instance's block-device mappings?"
    fi
    sleep 2
    waited=$((waited + 2))
  done
fi
log "scratch volume $device_name is $device"

# Format once: a volume that already carries our label keeps its filesystem and its data.
current_label=$(blkid -p -s LABEL -o value "$device" 2>/dev/null || true)
current_type=$(blkid -p -s TYPE -o value "$device" 2>/dev/null || true)
if [ "$current_label" = "$label" ]; then
  [ "$current_type" = ext4 ] || die "$device is labelled '$label' but holds '$current_type', not ext4"
  log "$device already holds ext4 labelled '$label'; not formatting"
elif [ -n "$current_type" ]; then
  die "$device already holds a $current_type filesystem labelled '$current_label', not '$label'; refusing to overwrite it"
else
  log "formatting $device as ext4 labelled '$label'"
  # -m 0: scratch space needs no blocks reserved for root.
  mkfs.ext4 -q -m 0 -L "$label" "$device"
fi

# One fstab line, by label. nofail: an instance whose volume is missing still boots (and fails
# its jobs loudly) instead of hanging in emergency mode; the device timeout bounds the wait.
# x-systemd.before orders the mount before Docker so containers never bind an unmounted path;
# x-systemd.growfs grows the filesystem when a launch template asks for a larger volume than the
# AMI's (systemd 236+, so AL2023; AL2's systemd ignores both, as mount(8) ignores all x-* options).
options="defaults,nofail,x-systemd.device-timeout=$device_timeout,x-systemd.before=docker.service,x-systemd.growfs"
line="LABEL=$label $mountpoint ext4 $options 0 2"
[ -e "$fstab" ] || : >"$fstab"
current=$(awk -v mp="$mountpoint" '$1 !~ /^#/ && $2 == mp { $1 = $1; print }' "$fstab")
if [ "$current" = "$line" ]; then
  log "$fstab already mounts LABEL=$label at $mountpoint"
else
  tmp=$(mktemp)
  awk -v mp="$mountpoint" '!($1 !~ /^#/ && $2 == mp)' "$fstab" >"$tmp"
  printf '%s\n' "$line" >>"$tmp"
  cat "$tmp" >"$fstab"
  rm -f "$tmp"
  log "wrote to $fstab: $line"
fi

mkdir -p "$mountpoint"
if mountpoint -q "$mountpoint"; then
  source_device=$(readlink -f "$(findmnt -n -o SOURCE --mountpoint "$mountpoint")")
  [ "$source_device" = "$device" ] || die "$mountpoint is already a mount of $source_device, not of $device"
  log "$mountpoint is already mounted"
else
  if [ "$fstab" = /etc/fstab ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
  fi
  # Mount through the fstab line itself, so a bad line fails the build, not a later boot.
  mount --fstab "$fstab" "$mountpoint"
fi
mountpoint -q "$mountpoint" || die "$mountpoint is not mounted after mount"
chmod "$mode" "$mountpoint"
log "mounted: $(findmnt -n -o SOURCE,TARGET,FSTYPE,SIZE --mountpoint "$mountpoint" 2>/dev/null || findmnt -n -o SOURCE,TARGET,FSTYPE --mountpoint "$mountpoint")"
