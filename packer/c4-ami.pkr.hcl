# c4 job AMI: the ECS-optimized Amazon Linux AMI plus an ext4 scratch volume mounted at
# /docker_scratch (AWS Batch hands it to the job container as /scratch).
#
# Build (current Packer):   packer init packer/ && packer build packer/
# CI (Debian Packer 1.6.6): packer validate packer/c4-ami.pkr.hcl
# The `packer { required_plugins }` block lives in plugins.pkr.hcl because Packer 1.6.6 rejects it;
# for the same reason this file has no `required_version` and no `metadata_options`.
# IMDSv2 (hop limit 1) is enforced where it matters, on the Batch instances, by the launch
# template that `c4 submit` creates; the build instance lives for a few minutes and runs only our
# scripts. The AMI itself drops container traffic to IMDS (scripts/block-container-imds.sh).
# Variables, defaults and the manifest are documented in docs/image-and-ami.md.

variable "region" {
  type        = string
  description = "AWS region to build the AMI in (the AMI is only usable there). us-west-2 holds the SCEDC archive."
  default     = "us-west-2"
  validation {
    condition     = regex_replace(var.region, "^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", "") == ""
    error_message = "The region must look like us-west-2."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of the AMI: x86_64 (Intel/AMD) or arm64 (Graviton)."
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "ami_family" {
  type        = string
  description = "Base image: al2023 (ECS-optimized Amazon Linux 2023, the default) or al2 (Amazon Linux 2, end of life 2026-06-30)."
  default     = "al2023"
  validation {
    condition     = contains(["al2023", "al2"], var.ami_family)
    error_message = "The ami_family must be al2023 or al2."
  }
}

variable "instance_type" {
  type        = string
  description = "Instance type of the short-lived build instance; empty picks a Nitro type of the chosen architecture (m6i.large or m7g.large)."
  default     = ""
  validation {
    condition     = var.instance_type == "" || regex_replace(var.instance_type, "^[a-z][a-z0-9-]*\\.[a-z0-9-]+$", "") == ""
    error_message = "The instance_type must be empty or an EC2 instance type such as m6i.large."
  }
}

variable "scratch_size_gb" {
  type        = number
  description = "Size of the scratch volume in GiB (holds the day files and daily correlations of one shard)."
  default     = 500
  validation {
    condition     = var.scratch_size_gb >= 1 && var.scratch_size_gb <= 16384 && floor(var.scratch_size_gb) == var.scratch_size_gb
    error_message = "The scratch_size_gb must be a whole number from 1 to 16384."
  }
}

variable "scratch_volume_type" {
  type        = string
  description = "EBS volume type of the scratch volume: gp3 (default), gp2, io1, io2 or st1."
  default     = "gp3"
  validation {
    condition     = contains(["gp3", "gp2", "io1", "io2", "st1"], var.scratch_volume_type)
    error_message = "The scratch_volume_type must be one of gp3, gp2, io1, io2, st1."
  }
}

variable "scratch_throughput" {
  type        = number
  description = "Throughput of a gp3 scratch volume in MiB/s (125-1000); ignored for other volume types."
  default     = 250
  validation {
    condition     = var.scratch_throughput >= 125 && var.scratch_throughput <= 1000
    error_message = "The scratch_throughput must be from 125 to 1000 MiB/s."
  }
}

variable "scratch_iops" {
  type        = number
  description = "Provisioned IOPS of a gp3 (3000-16000), io1 or io2 scratch volume; ignored for gp2 and st1."
  default     = 3000
  validation {
    condition     = var.scratch_iops >= 100 && var.scratch_iops <= 256000
    error_message = "The scratch_iops must be from 100 to 256000 (gp3 accepts 3000 to 16000)."
  }
}

variable "encrypted" {
  type        = bool
  description = "Encrypt the scratch volume (and its snapshot in the AMI)."
  default     = true
}

variable "kms_key_id" {
  type        = string
  description = "Customer-managed KMS key (ARN, key id or alias) for the scratch volume; empty uses the account's default EBS key. Needs encrypted = true. Set on the build instance's volume only (CreateImage takes no key); the AMI's snapshot keeps it. Its key policy must allow the Spot and Auto Scaling service-linked roles (docs/image-and-ami.md)."
  default     = ""
  validation {
    condition     = var.kms_key_id == "" || regex_replace(var.kms_key_id, "^(arn:aws[a-z-]*:kms:.+|[0-9a-f-]{36}|alias/.+)$", "") == ""
    error_message = "The kms_key_id must be empty, a key ARN, a key id or an alias."
  }
}

variable "ami_name_prefix" {
  type        = string
  description = "Start of the AMI name; the family, architecture and a UTC timestamp are appended."
  default     = "c4-ecs"
  validation {
    condition     = regex_replace(var.ami_name_prefix, "^[A-Za-z0-9()./_-]{3,90}$", "") == ""
    error_message = "The ami_name_prefix must be 3 to 90 characters of letters, digits and ().-/_ ."
  }
}

locals {
  # ECS-optimized AMI names per family; the architecture sits at a different place in each.
  source_ami_name = {
    al2023 = "al2023-ami-ecs-hvm-*-kernel-6.*-${var.architecture}"
    al2    = "amzn2-ami-ecs-hvm-*-${var.architecture}-ebs"
  }
  default_instance_type = {
    x86_64 = "m6i.large"
    arm64  = "m7g.large"
  }
  instance_type = var.instance_type != "" ? var.instance_type : local.default_instance_type[var.architecture]
  timestamp     = regex_replace(timestamp(), "[- TZ:]", "")
  ami_name      = "${var.ami_name_prefix}-${var.ami_family}-${var.architecture}-${local.timestamp}"

  # The scratch volume (see the mappings in the source).
  # Packer 1.6.6 needs throughput and iops for gp3; AWS rejects them for types that lack them.
  scratch_throughput = var.scratch_volume_type == "gp3" ? var.scratch_throughput : null
  scratch_iops       = contains(["gp3", "io1", "io2"], var.scratch_volume_type) ? var.scratch_iops : null
  scratch_kms_key_id = var.kms_key_id != "" ? var.kms_key_id : null

  scratch_label      = "c4-scratch"
  scratch_mountpoint = "/docker_scratch"
}

source "amazon-ebs" "c4" {
  region          = var.region
  instance_type   = local.instance_type
  ssh_username    = "ec2-user"
  ami_name        = local.ami_name
  ami_description = "c4 job AMI: ECS-optimized ${var.ami_family} ${var.architecture} with a ${var.scratch_size_gb} GiB scratch volume at ${local.scratch_mountpoint}"

  source_ami_filter {
    owners      = ["amazon"]
    most_recent = true
    filters = {
      name                = local.source_ami_name[var.ami_family]
      architecture        = var.architecture
      virtualization-type = "hvm"
      root-device-type    = "ebs"
      state               = "available"
    }
  }

  # The scratch volume, /dev/xvdb: the build instance gets it at launch and the setup script
  # formats it. CreateImage snapshots every EBS volume of the instance into the AMI with the
  # instance's mapping (size, type, encryption and key, delete-on-termination), so every
  # instance started from the AMI gets its own copy. There is deliberately no
  # ami_block_device_mappings block: CreateImage rejects KmsKeyId in its mappings
  # (EbsBlockDevice, EC2 API reference: "only supported on BlockDeviceMapping objects called by
  # CreateFleet, RequestSpotInstances, and RunInstances") and cannot change the size or the
  # encryption of a volume it snapshots. The key therefore goes here, on the launch mapping,
  # and the snapshot inherits it. Nitro instances call the volume /dev/nvme1n1; the script
  # finds it under either name and fstab mounts it by label.
  launch_block_device_mappings {
    device_name           = "/dev/xvdb"
    volume_size           = var.scratch_size_gb
    volume_type           = var.scratch_volume_type
    throughput            = local.scratch_throughput
    iops                  = local.scratch_iops
    encrypted             = var.encrypted
    kms_key_id            = local.scratch_kms_key_id
    delete_on_termination = true
  }

  tags = {
    Name            = local.ami_name
    "c4:ami-family" = var.ami_family
    "c4:arch"       = var.architecture
    "c4:scratch"    = "${local.scratch_mountpoint} LABEL=${local.scratch_label}"
  }
  run_tags = {
    Name = "packer-${local.ami_name}"
  }
}

build {
  sources = ["source.amazon-ebs.c4"]

  # 1. Format the scratch volume once, add the fstab line by label, mount it.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "C4_SCRATCH_DEVICE_NAME=/dev/xvdb",
      "C4_SCRATCH_LABEL=${local.scratch_label}",
      "C4_SCRATCH_MOUNTPOINT=${local.scratch_mountpoint}",
    ]
    script = "${path.root}/scripts/setup-scratch-volume.sh"
  }

  # 2. Containers cannot reach the instance metadata service (the instance profile's keys).
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    script          = "${path.root}/scripts/block-container-imds.sh"
  }

  # 3. Last: stop the ECS agent and clear its state so instances register afresh.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    script          = "${path.root}/scripts/prepare-ecs-image.sh"
  }

  # `c4 submit` reads the AMI id from here: builds[-1].artifact_id = "<region>:ami-...".
  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
    custom_data = {
      ami_family    = var.ami_family
      architecture  = var.architecture
      region        = var.region
      scratch_label = local.scratch_label
    }
  }
}
