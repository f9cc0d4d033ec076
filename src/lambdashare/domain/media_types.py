"""The content types analytics counts by name: a fixed list, so both homes (whatever their Python's
`mimetypes` knows) name an upload alike, and a client can never make up a counter's name.
Any other type counts as `<top-level type>/other`."""

from __future__ import annotations

#: IANA's registered top-level media types.
TOP_LEVEL_TYPES = frozenset(
    {"application", "audio", "font", "haptics", "image", "message", "model", "multipart", "text", "video"}
)

KNOWN_TYPES = frozenset(
    {
        # documents and data
        "application/json", "application/pdf", "application/xml", "application/msword",
        "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text", "application/epub+zip", "application/rtf",
        "application/javascript", "application/wasm", "application/octet-stream", "application/x-sh",
        "application/sql", "application/yaml", "application/x-ndjson",
        # archives
        "application/zip", "application/gzip", "application/x-tar", "application/zstd",
        "application/x-7z-compressed", "application/vnd.rar", "application/x-bzip2", "application/x-xz",
        "application/vnd.debian.binary-package", "application/x-iso9660-image",
        # text
        "text/plain", "text/csv", "text/html", "text/css", "text/markdown", "text/xml",
        "text/tab-separated-values", "text/calendar", "text/vtt", "text/javascript", "text/x-python",
        # images
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/svg+xml", "image/bmp",
        "image/tiff", "image/heic", "image/heif", "image/vnd.microsoft.icon",
        # audio and video
        "audio/mpeg", "audio/aac", "audio/ogg", "audio/opus", "audio/wav", "audio/flac", "audio/webm",
        "video/mp4", "video/webm", "video/ogg", "video/quicktime", "video/mpeg", "video/x-msvideo",
        "video/x-matroska",
        # fonts, models, messages
        "font/woff", "font/woff2", "font/ttf", "font/otf", "model/gltf-binary", "model/stl",
        "message/rfc822",
    }
)  # fmt: skip
