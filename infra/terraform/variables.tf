variable "region" {
  description = "AWS region of the cluster (needs at least three availability zones)."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster; also prefixes the VPC and IAM roles."
  type        = string
  default     = "aiops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.cluster_name))
    error_message = "The cluster_name must be 2-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.31"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into three public and three private subnets."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "The vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, for dev) instead of one per AZ (highly available)."
  type        = bool
  default     = false
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_min_size" {
  description = "Minimum number of nodes (the cluster autoscaler never goes below it)."
  type        = number
  default     = 1
}

variable "node_max_size" {
  description = "Maximum number of nodes (the cluster autoscaler never goes above it)."
  type        = number
  default     = 5

  validation {
    condition     = var.node_max_size >= 1
    error_message = "The node_max_size must be at least 1."
  }
}

variable "node_desired_size" {
  description = "Initial number of nodes; afterwards the cluster autoscaler owns it."
  type        = number
  default     = 2
}

variable "grafana_admin_secret_name" {
  description = "Existing Secret in the monitoring namespace holding Grafana's admin-user and admin-password keys (never a literal password here)."
  type        = string
  default     = "grafana-admin"
}

variable "tags" {
  description = "Extra tags on every AWS resource."
  type        = map(string)
  default     = {}
}
