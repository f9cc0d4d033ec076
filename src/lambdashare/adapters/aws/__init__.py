"""AWS adapters (boto3/botocore): they run unchanged against AWS and against the local emulator."""
