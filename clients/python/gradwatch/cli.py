"""The `gradwatch` command (also `python -m gradwatch`).

    gradwatch import tensorboard LOGDIR --url http://127.0.0.1:8080 --project mnist
"""

from __future__ import annotations

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradwatch", description="gradwatch client tools")
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import existing training logs")
    src = imp.add_subparsers(dest="source", required=True)
    tb = src.add_parser(
        "tensorboard", help="import a TensorBoard log directory (one run per run folder)",
        description="Imports every run folder of a TensorBoard log directory: scalars, "
                    "histograms (with per-layer stats) and hyper-parameters. Importing the "
                    "same folder again sends only what is new. Prints each run's alerts.")
    tb.add_argument("logdir", help="the TensorBoard log directory")
    tb.add_argument("--url", default=os.environ.get("GRADWATCH_URL", "http://127.0.0.1:8080"),
                    help="the gradwatch server (default: $GRADWATCH_URL or "
                         "http://127.0.0.1:8080)")
    tb.add_argument("--project", default=os.environ.get("GRADWATCH_PROJECT", "default"),
                    help="the project the runs go to (default: $GRADWATCH_PROJECT or default)")
    tb.add_argument("--token", default=os.environ.get("GRADWATCH_TOKEN"),
                    help="the API token (default: $GRADWATCH_TOKEN)")
    tb.add_argument("--hist-every", type=int, default=1, metavar="N",
                    help="send the histograms of every Nth histogram step only (their "
                         "per-layer stats are always sent); default 1, all of them")
    tb.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "import" and args.source == "tensorboard":
        try:
            import tensorboard  # noqa: F401

            from .importers.tensorboard import import_logdir
        except ImportError as e:
            print(f"gradwatch: the TensorBoard import needs the tensorboard package "
                  f"(pip install 'gradwatch[tensorboard]'): {e}", file=sys.stderr)
            return 2
        from .importers.rest import ServerError

        if args.hist_every < 1:
            print("gradwatch: --hist-every must be at least 1", file=sys.stderr)
            return 2
        try:
            results = import_logdir(args.logdir, args.url, args.project, args.token,
                                    quiet=args.quiet, hist_every=args.hist_every)
        except (FileNotFoundError, ValueError, ServerError) as e:
            print(f"gradwatch: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ngradwatch: interrupted; importing the same folder again continues where "
                  "this import stopped", file=sys.stderr)
            return 130
        if not results:
            print(f"gradwatch: no TensorBoard event files under {args.logdir}", file=sys.stderr)
            return 1
        return 1 if any(r.outcome == "failed" for r in results) else 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
