"""`slidereel <command>`; see `slidereel --help`."""

import argparse
import sys

from services.cli import demo, token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slidereel", description="Narrated slide videos from approved scripts.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(commands)
    token.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
