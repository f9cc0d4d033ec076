"""lambdashare: upload a file, get its md5/sha1/sha256/sha512 pushed over a GraphQL subscription."""
