"""The `lambdashare` command-line client: the same commands against the local emulator and a deployed AppSync API.

Not responsible for serving anything (that is `lambdashare.emulator`). `commands` wires the commands; `config`,
`auth`, `api`, `transfer` and `output` each do one job for them.
"""
