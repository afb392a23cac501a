"""Bridge and helpers behind ``scripts/local-ecr``: a loopback Amazon ECR made of dockerd,
a CNCF distribution registry and moto's ECR/STS API, kept in step by a small HTTP bridge."""
