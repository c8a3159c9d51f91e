"""The README's Python examples run as written (they assert their own results)."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102  (our own documentation)


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1).splitlines()
    assert first_block[0] == "pip install -e . && chainrule demo"
    assert first_block[1] == 'pip install -e ".[test]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert first_block[1] in ci


def test_docs_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write pictures write them here
    for page in [README.parent / "docs" / name for name in ("explain.md", "performance.md")]:
        namespace = {}
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102  (our own documentation)
