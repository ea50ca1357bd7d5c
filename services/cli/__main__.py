"""`slidereel <command>`; see `slidereel --help`."""

import argparse
import sys

from services.cli import assets, demo, jobs, submit, token, voices
from services.cli.errors import EXIT_CODES_HELP, CliError
from services.cli.options import common_options, wants_json
from services.cli.output import Output


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="slidereel",
        description="Narrated slide videos from approved scripts: a client of the slidereel API.",
        parents=[common],
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    submit.add_parser(commands, common)
    jobs.add_parser(commands, common)
    assets.add_parser(commands, common)
    token.add_parser(commands)
    demo.add_parser(commands, common)
    voices.add_parser(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        Output(wants_json(args)).error(error)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
