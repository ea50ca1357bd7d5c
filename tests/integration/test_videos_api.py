"""`GET /api/v2/videos` through the real API: what a frontend's first screen lists."""

import httpx

from services.api.auth.roles import Role
from tests.client import approved_script, new_video_id, start_render, wait_terminal

SCRIPT = {"title": "목록", "scenes": [{"narration": "목록에 보이는 영상입니다.", "slide": {"title": "목록"}}]}


def test_a_video_is_listed_from_its_first_script_to_its_published_render(stack):
    video_id = new_video_id("listed")
    with stack.client(role=Role.APPROVER, timeout=30) as http, stack.client(role=Role.VIEWER, timeout=30) as viewer:
        assert http.put(f"/api/v2/videos/{video_id}/scripts/draft", json=SCRIPT).status_code == 201
        newest = viewer.get("/api/v2/videos", params={"limit": 1}).json()
        assert newest["limit"] == 1 and newest["offset"] == 0 and newest["total"] >= 1
        assert newest["videos"] == [
            {
                "video_id": video_id,
                "script_count": 1,
                "approved_script_count": 0,
                "updated_at": newest["videos"][0]["updated_at"],
                "latest_job": None,
                "published": False,
            }
        ]

        script_id = approved_script(http, video_id, SCRIPT)
        job_id = start_render(http, video_id, script_id)["job_id"]
        assert wait_terminal(http, video_id, job_id)["status"] == "SUCCEEDED"
        listed = viewer.get("/api/v2/videos", params={"limit": 1}).json()["videos"][0]
        assert (listed["video_id"], listed["script_count"], listed["approved_script_count"]) == (video_id, 2, 1)
        assert listed["latest_job"]["job_id"] == job_id and listed["latest_job"]["status"] == "SUCCEEDED"
        assert listed["latest_job"]["progress"] == 100 and listed["published"] is True


def test_listing_videos_needs_a_token_and_a_valid_page(stack):
    assert httpx.get(f"{stack.base_url}/api/v2/videos", timeout=30).json()["error_code"] == "UNAUTHORIZED"
    with stack.client(role=Role.VIEWER, timeout=30) as viewer:
        refused = viewer.get("/api/v2/videos", params={"limit": 0})
    assert refused.status_code == 422 and refused.json()["error_code"] == "VALIDATION_ERROR"
    assert "limit" in refused.json()["message"]
