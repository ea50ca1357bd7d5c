"""`slidereel assets VIDEO`: the video's published files."""

import argparse

from services.cli.api import video_path
from services.cli.errors import CliError, ExitCode
from services.cli.options import add_command, open_api, wants_json
from services.cli.output import Output, asset_lines


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(commands, "assets", "the published video, subtitles and thumbnail of a video", common)
    parser.add_argument("video", metavar="VIDEO")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    with open_api(args) as api:
        published = api.get(video_path(args.video, "assets", "published"))
    out.document(published)
    if not published["published"]:
        # Exit 4 lets a script tell "nothing published yet" from success without parsing.
        out.error(CliError(ExitCode.NOT_FOUND, "NOT_PUBLISHED", f"video {args.video} has no published assets yet"))
        return ExitCode.NOT_FOUND
    out.note(
        f"video {published['video_id']}: job {published['job_id']} of script {published['script_id']}, "
        f"published {published['published_at']}"
    )
    for line in asset_lines(published):
        out.note(line)
    return ExitCode.OK
