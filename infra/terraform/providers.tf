provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# The Helm provider talks to the cluster this configuration creates, with a short-lived token
# from `aws eks get-token` (no static kubeconfig, no long-lived credentials).
provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 3)

  tags = merge(var.tags, {
    "app.kubernetes.io/part-of" = "aiops"
    "managed-by"                = "terraform"
  })
}
