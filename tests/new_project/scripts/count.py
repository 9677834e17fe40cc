"""Counts the lines of the data files, times TIMES; writes a report and returns the counts."""

from constructs_sm import runtime

times = runtime.env("TIMES")
assert isinstance(times, int)
lines = sum(
    len(path.read_text().splitlines())
    for path in sorted(runtime.input_dir("data").rglob("*"))
    if path.is_file()
)
(runtime.output_dir("report") / "report.txt").write_text(f"{lines} lines\n")
runtime.emit(lines=lines, total=lines * times, note=runtime.env("NOTE"))
