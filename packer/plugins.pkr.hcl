# Plugins for current Packer (`packer init packer/`). Kept out of c4-ami.pkr.hcl because the
# Packer 1.6.6 that CI installs rejects this block; CI validates c4-ami.pkr.hcl on its own.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}
