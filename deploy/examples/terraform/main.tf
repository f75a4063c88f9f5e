# A key pair, a placement group and an instance with user data on minicloud, through Terraform's
# AWS provider pointed at the controller's EC2 Query API (README, "Terraform").
#
#   eval "$(sudo deploy/cloud up)"          # or: the endpoint and keys of your cloud
#   terraform init && terraform apply \
#     -var endpoint=$AWS_ENDPOINT_URL_EC2 -var image_id=ami-... \
#     -var public_key="$(cat ~/.ssh/id_ed25519.pub)"
#
# Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or a profile,
# as for AWS. tests/conformance/terraform_test.sh applies exactly this file.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "endpoint" {
  description = "the EC2 Query API (deploy/cloud up prints it as AWS_ENDPOINT_URL_EC2)"
  type        = string
}

variable "image_id" {
  description = "an AMI registered in the cloud (minicloud describe-images)"
  type        = string
}

variable "public_key" {
  description = "an OpenSSH public key for the key pair"
  type        = string
}

variable "name" {
  description = "prefix of the resources' names"
  type        = string
  default     = "tf-example"
}

provider "aws" {
  region = "home-1"
  endpoints {
    ec2 = var.endpoint
  }
  # minicloud serves EC2 only: no STS, IAM or instance metadata for the provider to consult,
  # and its region is not one the provider knows.
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

resource "aws_key_pair" "admin" {
  key_name   = "${var.name}-key"
  public_key = var.public_key
}

resource "aws_placement_group" "spread" {
  name     = "${var.name}-spread"
  strategy = "spread"
}

resource "aws_instance" "web" {
  ami             = var.image_id
  instance_type   = "t3.micro"
  key_name        = aws_key_pair.admin.key_name
  placement_group = aws_placement_group.spread.name
  user_data       = <<-EOT
    #!/bin/sh
    echo "hello from terraform on minicloud" > /var/tmp/hello
  EOT
}

output "instance_id" {
  value = aws_instance.web.id
}

output "private_ip" {
  value = aws_instance.web.private_ip
}
