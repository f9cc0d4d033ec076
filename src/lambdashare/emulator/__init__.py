"""The local AppSync emulator: AWS's wire formats on one machine, around our unchanged handlers."""
