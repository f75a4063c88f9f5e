#!/usr/bin/env python3
"""Formats JSON documents with the aws CLI's own formatter (v1, as installed here).

stdin: a JSON list of {"format": "text"|"table", "title": str, "doc": any}
stdout: a JSON list of the texts the aws CLI prints for them.
Exit 77 when the aws CLI's Python package cannot be imported.
"""
import argparse
import io
import json
import sys

try:
    from awscli import text
    from awscli.formatter import TableFormatter
except ImportError:
    sys.exit(77)

outputs = []
for case in json.load(sys.stdin):
    stream = io.StringIO()
    if case["format"] == "table":
        # color off: the aws CLI's plain styler, as when stdout is not a terminal (width 80).
        # _format_response is what the formatter runs on the response once --query applied.
        formatter = TableFormatter(argparse.Namespace(color="off", query=None))
        formatter._format_response(case["title"], case["doc"], stream)
    else:
        text.format_text(case["doc"], stream)
    outputs.append(stream.getvalue())
json.dump(outputs, sys.stdout)
