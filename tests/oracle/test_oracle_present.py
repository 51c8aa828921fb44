"""The verdict-labelled corpus is here, or the run says so: on CI its absence fails."""

from tests.conftest import ORACLE, require_oracle


def test_the_oracle_corpus_is_beside_the_repo() -> None:
    require_oracle()
    assert (ORACLE / "MANIFEST.json").is_file() and (ORACLE / "elle").is_dir()
