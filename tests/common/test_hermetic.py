"""The tests never see the caller's settings (tests/conftest.py clears them)."""
import os


def test_no_caller_setting_reaches_a_test(tmp_path):
    seen = {k for k in os.environ if k.startswith("LLAMA_") or k == "DAGSTER_HOME"}
    assert seen - {"LLAMA_REQUIRE_CHROMIUM", "LLAMA_UI_SCREENSHOTS", "LLAMA_FUZZ_EXAMPLES"} == \
        {"LLAMA_PROFILE", "LLAMA_DATA_DIR"}
    assert os.environ["LLAMA_PROFILE"] == "tiny"
    data = os.environ["LLAMA_DATA_DIR"]
    assert os.path.isabs(data) and os.listdir(data) == [] and os.path.realpath(data) != os.path.realpath("data")
