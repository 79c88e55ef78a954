"""Policy-document parser: proposes the task list (measures, units, targets, deadlines)
from a published policy document (.txt in any encoding, .docx, HTML), or from a
task-division table (任务分工表 / 任务清单) in .docx, .xlsx or pasted as text —
both give the same ``Document`` (see ``tables``).
"""

from .annotations import split_unit_list
from .cli_format import format_table
from .model import Deadline, Document, Measure, ParseError, Section, Target
from .parser import parse_bytes, parse_path, parse_text
from .serialize import document_to_dict

__all__ = [
    "Deadline",
    "Document",
    "Measure",
    "ParseError",
    "Section",
    "Target",
    "document_to_dict",
    "format_table",
    "parse_bytes",
    "parse_path",
    "parse_text",
    "split_unit_list",
]
