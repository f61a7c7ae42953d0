"""The protocol layer: botocore clients whose requests are answered in-process."""
