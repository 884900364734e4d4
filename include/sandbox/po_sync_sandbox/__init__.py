"""Local stand-ins for po-sync's external systems (S3/SQS, SFTP, SMTP, ...), started with one command."""
