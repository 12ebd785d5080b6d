"""The contributor's quick commands (tests/dev.py): make check, make chapter, make shot."""

from __future__ import annotations

import dev
import pytest
from conftest import REPO, chromium_path, missing_tool

CHAPTER = """---
kernelspec:
  name: python3
  display_name: Python 3
---
# A chapter

```{code-cell} ipython3
x = 1 + 1
```

```{code-cell} ipython3
import warnings
warnings.warn("this step is deprecated")
```
"""


def test_make_chapter_fails_on_a_warning_that_a_cell_prints(tmp_path):
    path = tmp_path / "chapter.md"
    path.write_text(CHAPTER)
    seconds, problems = dev.run_chapter(path)
    assert 0 < seconds < 60
    assert len(problems) == 1 and "code cell 2" in problems[0] and "deprecated" in problems[0]
    path.write_text(CHAPTER.replace('warnings.warn("this step is deprecated")', "y = x"))
    assert dev.run_chapter(path)[1] == []


def test_make_chapter_stops_at_a_failing_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    path = tmp_path / "chapter.md"
    path.write_text(CHAPTER.replace("x = 1 + 1", "x = 1 / 0"))
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        dev.run_chapter(path)


def test_make_check_runs_the_tests_of_what_changed():
    assert dev.tests_of(["code/gradland/ebm.py", "code/gradland/contrastive.py"]) == [
        "code/gradland/contrastive.py",
        "code/gradland/ebm.py",
        "tests/test_contrastive.py",
        "tests/test_ebm.py",
    ]
    assert dev.tests_of(["code/gradland/_device.py"]) == ["code/gradland/_device.py", "tests/test_device.py"]
    assert dev.tests_of(["book/attention.md", "README.md"]) == []
    assert set(dev.changed_files()) <= {str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()}


@pytest.mark.site
def test_make_shot_pictures_a_section_and_reports_mathjax_errors(book, capsys):
    if chromium_path() is None:
        missing_tool("Chromium")
    assert dev.shot("attention", "hard-attention-and-soft-attention", site=book.html) == 0
    out = capsys.readouterr().out
    picture = book.html.parent / "shots" / "attention-hard-attention-and-soft-attention.png"
    assert str(picture) in out and '"mathjax_errors": []' in out
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert dev.shot("attention", "no-such-section", site=book.html) == 2
    assert "its sections are:" in capsys.readouterr().out
