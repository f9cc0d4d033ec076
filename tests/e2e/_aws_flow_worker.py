"""One Lambda invocation in a process of its own: `python -m tests.e2e._aws_flow_worker resolver|hasher|analytics`.

Reads the event (JSON) on stdin, runs the handler once through the emulator's `run_handler` (JSON in,
JSON out, a `LambdaContext`), and prints one JSON line on stdout: `{"result": ...}`, or
`{"errorType": ..., "errorMessage": ...}` with exit status 1 when the handler raised.

A process per invocation because the handlers read their configuration from the environment once
(`backends.ports_from_env` is cached), as a Lambda cold start does: each function gets exactly the
environment the test gives it, and nothing from the test process.
"""

from __future__ import annotations

import json
import logging
import sys

from lambdashare.emulator.lambda_runtime import LambdaError, run_handler

#: name -> (function name as in template.yaml, handler as in template.yaml)
FUNCTIONS = {
    "resolver": ("ResolverFunction", "resolvers.app.handler"),
    "hasher": ("HasherFunction", "functions.hasher.app.handler"),
    "analytics": ("AnalyticsFunction", "functions.analytics.app.handler"),
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in FUNCTIONS:
        print(f"usage: python -m tests.e2e._aws_flow_worker {'|'.join(FUNCTIONS)}", file=sys.stderr)
        return 2
    function_name, handler_path = FUNCTIONS[argv[0]]
    event = json.load(sys.stdin)
    # run_handler logs a failing handler's traceback at DEBUG: let it reach stderr, for the test's message
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("lambdashare.emulator.lambda_runtime").setLevel(logging.DEBUG)
    # Powertools logs and metrics write to stdout; keep it for the answer alone.
    answer_to, sys.stdout = sys.stdout, sys.stderr
    try:
        answer: dict[str, object] = {"result": run_handler(function_name, handler_path, event, timeout_s=120)}
        status = 0
    except LambdaError as exc:
        answer, status = {"errorType": exc.error_type, "errorMessage": exc.message}, 1
    answer_to.write(json.dumps(answer) + "\n")
    answer_to.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
