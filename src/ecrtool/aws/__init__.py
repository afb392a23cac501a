"""The AWS side: the botocore session, the ECR gateway, the signed client for the hot-path calls and its
SigV4 signer, and the one translation of AWS failures into the project's errors.

May import model only. botocore loads only when a call needs it.
"""
