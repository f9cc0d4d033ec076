"""S3 ObjectCreated -> md5/sha1/sha256/sha512 -> table -> publishFileHashed."""
