"""The `lambdashare` command-line client: the same commands against the local emulator and a deployed AppSync API.

Not responsible for serving anything (that is `lambdashare.emulator`). `arguments` puts the commands on the command
line, `commands` runs them; `config`, `auth`, `api`, `transfer`, `ledger` and `output` each do one job for them.
"""
