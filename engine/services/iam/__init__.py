"""IAM: roles, policies and AWS's policy evaluation logic."""
