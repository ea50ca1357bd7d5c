"""The local folder store's own rules: staging beside the assets, publish by one rename."""

import pytest

from libs.storage.base import STAGING_FOLDER
from libs.storage.local import LocalFolderStore


def stage(storage: LocalFolderStore, key: str, content: str):
    staging = storage.staging(key)
    (staging / "video.mp4").write_text(content)
    (staging / "subtitles.srt").write_text(content)
    return staging


def test_publish_moves_the_whole_folder_under_its_key(tmp_path):
    storage = LocalFolderStore(tmp_path)
    staging = stage(storage, "video-1/job-1", "first")
    assert staging.parent == tmp_path / STAGING_FOLDER
    storage.publish(staging, "video-1/job-1")
    published = tmp_path / "video-1" / "job-1"
    assert sorted(path.name for path in published.iterdir()) == ["subtitles.srt", "video.mp4"]
    assert not staging.exists()


def test_staging_folders_are_fresh_for_each_attempt(tmp_path):
    storage = LocalFolderStore(tmp_path)
    first, second = storage.staging("video-1/job-1"), storage.staging("video-1/job-1")
    assert first != second and not any(first.iterdir())


def test_publishing_a_key_twice_keeps_the_first_complete_set(tmp_path):
    storage = LocalFolderStore(tmp_path)
    storage.publish(stage(storage, "video-1/job-1", "first"), "video-1/job-1")
    storage.publish(stage(storage, "video-1/job-1", "second"), "video-1/job-1")
    assert (tmp_path / "video-1" / "job-1" / "video.mp4").read_text() == "first"
    assert not any((tmp_path / STAGING_FOLDER).iterdir())


def test_an_empty_leftover_target_folder_is_replaced(tmp_path):
    storage = LocalFolderStore(tmp_path)
    (tmp_path / "video-1" / "job-1").mkdir(parents=True)
    storage.publish(stage(storage, "video-1/job-1", "new"), "video-1/job-1")
    assert (tmp_path / "video-1" / "job-1" / "video.mp4").read_text() == "new"


def test_discard_removes_the_staging_folder_and_tolerates_a_missing_one(tmp_path):
    storage = LocalFolderStore(tmp_path)
    staging = stage(storage, "video-1/job-1", "x")
    storage.discard(staging)
    storage.discard(staging)
    assert not staging.exists()


@pytest.mark.parametrize("key", ["../escape", "/absolute/key", "video/../../x", "", ".", f"{STAGING_FOLDER}/x", "a\0b"])
def test_keys_that_could_leave_the_asset_folder_are_refused(tmp_path, key):
    with pytest.raises(ValueError):
        LocalFolderStore(tmp_path).staging(key)
