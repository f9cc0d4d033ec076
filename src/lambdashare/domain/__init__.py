"""Business rules shared by the resolver, the hasher and the emulator: no I/O here."""
