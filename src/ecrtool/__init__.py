"""ecrtool: one command for each Amazon ECR chore."""

__version__ = "0.1.0"
