"""An executed lesson made into a book page: what a reader of a static page should see of it.

* One parameter cell: papermill's injected cell (tag ``injected-parameters``) is folded into the
  lesson's own ``parameters`` cell, which then shows the values the lesson ran with beside its comments.
* No machine paths: the folders of this machine (the repository, the build's outputs, the data, the
  cache, the home folder) are written relative, as a reader's own checkout would have them, and
  papermill's metadata (the folders it ran in) is dropped from the downloadable notebook.
* No progress bars: widgets are dropped (a static page has no kernel to draw them, and their text
  form is only the widget's repr), and so are tqdm's text lines.
* A lesson that stopped on an error is refused.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INJECTED = "injected-parameters"
# A tqdm text line ends with its bracket of elapsed<remaining and rate: "[00:01<00:02, 3.1it/s]".
TEXT_BAR = re.compile(r"^[^\n]*\[\d+:\d+(?::\d+)?(?:<[\d:?]+)?(?:, *[^\]\n]*)?\][^\n]*(?:\n|$)", re.M)
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?P<eq>\s*=\s*)(?P<value>.+?)(?P<comment>\s+#.*)?$")


def publish_lesson(executed: Path, target: Path, roots: dict[str, str]) -> None:
    """Copy an executed lesson into the book as described in the module docstring; ``roots`` maps
    each absolute folder to the relative name shown for it (``""``: paths below it shown bare)."""
    notebook = nbformat.read(executed, as_version=4)
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise ValueError(f"{executed}: cell {number} ended with {output.get('ename')}: "
                                 f"{output.get('evalue')}; fix the lesson or run it again")
    fold_injected_parameters(notebook)
    notebook.metadata.pop("widgets", None)
    notebook.metadata.pop("papermill", None)   # the input, output and working folders of the machine that ran it
    CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [_relative_output(o, roots) for o in cell.outputs
                            if WIDGET_VIEW not in o.get("data", {}) and not _only_bars(o)]
    nbformat.write(notebook, target)


def fold_injected_parameters(notebook) -> None:
    """Put the values of papermill's injected cell into the lesson's parameters cell (its comments
    kept; a value the lesson does not declare is appended) and remove the injected cell."""
    injected = [cell for cell in notebook.cells if INJECTED in cell.metadata.get("tags", [])]
    if not injected:
        return
    values = {}
    for line in injected[0].source.splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            values[match["name"]] = match["value"]
    declared = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    if not declared:
        raise ValueError("the lesson has an injected parameters cell but no cell tagged `parameters`")
    lines = []
    for line in declared[0].source.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match["name"] in values:
            value = values.pop(match["name"])
            line = f"{match['name']}{match['eq']}{value.ljust(len(match['value']))}{match['comment'] or ''}".rstrip()
        lines.append(line)
    declared[0].source = "\n".join(lines + [f"{name} = {value}" for name, value in values.items()])
    notebook.cells.remove(injected[0])


def _only_bars(output) -> bool:
    """A stream output that holds nothing but text progress bars."""
    return output.get("output_type") == "stream" and not TEXT_BAR.sub("", output.text).strip()


def relative_paths(text: str, roots: dict[str, str]) -> str:
    """``text`` with every absolute folder of ``roots`` replaced by its shown name, deepest first."""
    for root, shown in sorted(roots.items(), key=lambda item: -len(item[0])):
        text = re.sub(re.escape(root.rstrip("/")) + r"(?:/|(?![\w.-]))", lambda m: _shown(shown, m[0]), text)
    return text


def _shown(name: str, matched: str) -> str:
    if matched.endswith("/"):
        return f"{name}/" if name else ""
    return name or "."


def _relative_output(output, roots: dict[str, str]):
    if output.get("output_type") == "stream":
        output.text = relative_paths(TEXT_BAR.sub("", output.text), roots)
    for kind, value in output.get("data", {}).items():
        if kind.startswith("text/") or kind == "application/javascript":
            output.data[kind] = relative_paths(value if isinstance(value, str) else "".join(value), roots)
    return output
